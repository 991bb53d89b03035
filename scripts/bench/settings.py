"""What is benchmarked: the tasks, the sides, the settings, and each cell's lossbench config."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from lossbench.train import config_dir

#: task -> (data set, head, loss): the default head and loss for each task.
TASKS: dict[str, tuple[str, str, str]] = {
    "binary": ("synthetic_binary", "logits", "bce_with_logits"),
    "multilabel": ("synthetic_multilabel", "logits", "bce_with_logits"),
    "multiclass": ("synthetic_multiclass", "logits", "cross_entropy"),
}
#: The small multirun timed by `--study sweep`: 6 valid jobs with the default settings.
SWEEP_JOBS = (
    "data=breast_cancer",
    "head=logits",
    "loss=bce_with_logits,cross_entropy,focal",
    "seed=0,1",
)
#: lossbench's sides: config overrides after --override. "lossbench" is the default config
#: (best and last checkpoint written every epoch, exact resume); "lossbench_at_end" what the
#: studies use (both written once, at the end); "lossbench_no_files" no checkpoint files, the
#: best weights kept in memory: the hand-written loop's work exactly.
LOSSBENCH_SIDES: dict[str, tuple[str, ...]] = {
    "lossbench": (),
    "lossbench_at_end": ("checkpoint.write=at_end",),
    "lossbench_no_files": ("checkpoint.write=never",),
}
#: hand-written with torch's default Adam (the 1.0 of the ratios), hand-written with fused Adam
#: and index_select (lossbench's kernels on a CPU: the ratio against it shows what is left once
#: both use the same kernels), and lossbench with its checkpoint settings.
SIDES = ("reference", "reference_fused", *LOSSBENCH_SIDES)


@dataclass(frozen=True)
class Settings:
    n_samples: int  # synthetic data set size (60 % train, 20 % validation, 20 % test)
    epochs: int
    repeats: int  # timed runs per side and configuration
    batch_sizes: tuple[int, ...]
    threads: int  # torch.set_num_threads, for both sides (and OMP_NUM_THREADS in subprocesses)
    quick: bool
    tracemalloc: bool  # one extra untimed run per side under tracemalloc (Python heap peak)
    study: str  # sweep | standard | none
    overrides: tuple[str, ...] = ()  # extra lossbench config overrides (--override)


def compose_cfg(
    task: str,
    batch_size: int,
    settings: Settings,
    epochs: int | None = None,
    extra: tuple[str, ...] = (),
) -> DictConfig:
    """The lossbench config of one benchmark cell, composed from ``configs/`` like the CLI."""
    data, head, loss = TASKS[task]
    overrides = [
        f"data={data}",
        f"data.n_samples={settings.n_samples}",
        f"data.batch_size={batch_size}",
        "model=mlp",
        "model.hidden_sizes=[64,64]",
        f"head={head}",
        f"loss={loss}",
        "optimizer=adam",
        "optimizer.lr=1e-3",
        "logger=none",
        f"trainer.max_epochs={epochs or settings.epochs}",
        "trainer.accelerator=cpu",  # the hand-written loop runs on the CPU too
        "trainer.devices=1",
        *settings.overrides,
        *extra,
    ]
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return compose("train", overrides=overrides)
