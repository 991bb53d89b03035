"""Time lossbench's training path against a hand-written PyTorch loop doing the same work.

    .venv/bin/python scripts/benchmark.py                   # 20 000 samples, 10 epochs, 5 repeats,
                                                            # and the standard study, both ways
    .venv/bin/python scripts/benchmark.py --repeats 9 --json bench.json
    .venv/bin/python scripts/benchmark.py --quick           # 2 000 samples, 2 epochs, 1 repeat
    .venv/bin/python scripts/benchmark.py --study sweep     # a 6-job multirun instead of the study
    .venv/bin/python scripts/benchmark.py --profile a.prof  # cProfile one lossbench run, then stop
    .venv/bin/python scripts/benchmark.py --override optimizer.lr=1e-2   # another setting

All sides run in this one process, on the same tensors (lossbench's own
``ClassificationDataModule`` builds them for all), the same model (``build_model``: MLP
20-64-64-out, the same initial weights), the same optimizer (Adam, lr 1e-3, the same defaults),
the same batch order (shuffled index slices, seeded per epoch as lossbench's
``IndexBatchLoader`` does) and the same metrics (``ClassificationMetrics`` fed the training
steps' scores once per epoch, and the whole validation split once per epoch). So they train the
same model: the table shows the largest difference of ``val/nll`` per epoch between lossbench
and the hand-written loop (~1e-6: lossbench's fused Adam kernel rounds differently).

- **hand-written**: a careful plain loop (no ``.item()`` per step, ``zero_grad(set_to_none)``,
  the best weights kept in memory), then validation and test metrics with the best weights;
  ``torch.optim.Adam`` with torch's defaults (a for-loop over the parameters on a CPU), the
  epoch's rows gathered with ``x[order]``. This is the 1.0 of the ratios.
- **hand-written, fused Adam**: the same loop with the kernels lossbench uses:
  ``torch.optim.Adam(fused=True)`` (what ``optimizer.implementation=auto`` picks) and
  ``index_select`` for the epoch's rows (lossbench's loader; ~3x faster than ``x[order]``); the
  ratio against it shows what lossbench costs beyond the loop once both use the same kernels.
- **lossbench**: ``lossbench.train.train(cfg, tmpdir, multirun=True)``, the path every run takes
  (Lightning Trainer, best and last checkpoint written to disk every epoch, ``metrics.json``);
  fit time is the record's ``train_seconds``, wall time is the whole call. Twice more with the
  other checkpoint settings: ``checkpoint.write=at_end`` (the studies: both files written once,
  at the end) and ``checkpoint.write=never`` (no files, the best weights kept in memory: the
  hand-written loop's work exactly).

The sides alternate per repeat (order reversed every other repeat), after one untimed 1-epoch
warm-up of each. The ratio is lossbench / hand-written per repeat: its median, min and max. The
headline ratio is wall clock (``train_seconds``); the same span is also measured in process CPU
time, which leaves out the turns other processes take on a shared machine: where the two
disagree, the machine was busy (the load average is printed with every repeat) and the CPU-time
ratio is the one to trust. ``torch.set_num_threads`` is set for all sides (``--threads``,
default 1). Nothing here asserts
a speed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import platform
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning
import torch
import torchmetrics
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MeanMetric

from lossbench.config import register_configs
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.metrics import ClassificationMetrics
from lossbench.models import build_model
from lossbench.train import config_dir, quiet_lightning, train

#: task -> (data set, head, loss): the default head and loss for each task.
TASKS: dict[str, tuple[str, str, str]] = {
    "binary": ("synthetic_binary", "logits", "bce_with_logits"),
    "multilabel": ("synthetic_multilabel", "logits", "bce_with_logits"),
    "multiclass": ("synthetic_multiclass", "logits", "cross_entropy"),
}
#: The hand-written side's losses: loss name -> (torch class, link from scores to probabilities).
REFERENCE_LOSSES: dict[str, tuple[type[nn.Module], str]] = {
    "bce_with_logits": (nn.BCEWithLogitsLoss, "sigmoid"),
    "cross_entropy": (nn.CrossEntropyLoss, "softmax"),
}
#: The small multirun timed by `--study sweep`: 6 valid jobs with the default settings.
SWEEP_JOBS = (
    "data=breast_cancer",
    "head=logits",
    "loss=bce_with_logits,cross_entropy,focal",
    "seed=0,1",
)
#: hand-written with torch's default Adam (the 1.0 of the ratios), hand-written with fused Adam
#: and index_select (lossbench's kernels on a CPU: the ratio against it shows what is left once
#: both use the same kernels), and lossbench with its checkpoint settings.
#: lossbench's sides: config overrides after --override. "lossbench" is the default config
#: (best and last checkpoint written every epoch, exact resume); "lossbench_at_end" what the
#: studies use (both written once, at the end); "lossbench_no_files" no checkpoint files, the
#: best weights kept in memory: the hand-written loop's work exactly.
LOSSBENCH_SIDES: dict[str, tuple[str, ...]] = {
    "lossbench": (),
    "lossbench_at_end": ("checkpoint.write=at_end",),
    "lossbench_no_files": ("checkpoint.write=never",),
}
SIDES = ("reference", "reference_fused", *LOSSBENCH_SIDES)
REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


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


# ---------------------------------------------------------------------------- config


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


# ---------------------------------------------------------------------------- memory


def _status_kib(field: str) -> int | None:
    """A ``VmRSS`` / ``VmHWM`` line of ``/proc/self/status`` in KiB (None off Linux)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_peak_rss_mib() -> float:
    """Peak RSS of this process since it started (``getrusage``; KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


@contextmanager
def rss_window(out: dict[str, float | None]) -> Iterator[None]:
    """Record the peak RSS inside the block and its growth over the RSS at entry, in MiB.

    Where the peak cannot be reset, the process-wide ``getrusage`` peak is recorded instead (it
    then also covers everything that ran before the block).
    """
    gc.collect()
    resettable = _reset_peak_rss()
    start = _status_kib("VmRSS")
    yield
    peak = _status_kib("VmHWM") if resettable else None
    if peak is None or start is None:
        out.update(peak_rss_mib=process_peak_rss_mib(), rss_growth_mib=None)
    else:
        out.update(peak_rss_mib=peak / 1024, rss_growth_mib=(peak - start) / 1024)


def python_heap_peak_mib(run: Callable[[], Any]) -> float:
    """Peak of Python-allocator memory during ``run()`` (tracemalloc).

    Tensor storage comes from torch's own allocator and is not traced; numpy arrays are. So
    this measures the Python objects a side creates (Lightning's loop state, metric state lists,
    logging dicts) and the numpy arrays of the data set, which dominate at these sizes.
    """
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------- the two sides


def _evaluate(
    model: nn.Module,
    loss_fn: nn.Module,
    tensors: tuple[torch.Tensor, ...],
    metrics: ClassificationMetrics,
    mean_loss: MeanMetric,
    link: str,
    squeeze: bool,
) -> dict[str, float]:
    """Metrics of one whole split in one batch, as lossbench's validation and test loaders do."""
    x, labels, targets = tensors
    model.eval()
    with torch.inference_mode():
        scores = model(x)
        loss = loss_fn(scores.squeeze(-1) if squeeze else scores, targets)
        metrics.update_from_scores(scores, labels, link)
        mean_loss.update(loss.expand(len(labels)))
        values = metrics.compute()
        values[f"{metrics.prefix}loss"] = mean_loss.compute()
    metrics.reset()
    mean_loss.reset()
    model.train()
    return {key: float(value) for key, value in values.items()}


def run_reference(cfg: DictConfig, *, fused: bool = False) -> dict[str, Any]:
    """The hand-written loop: train, validate every epoch, keep the best weights, evaluate them.

    ``fused``: lossbench's kernels: ``torch.optim.Adam(fused=True)`` instead of torch's default
    (a for-loop over the parameters on a CPU), and ``index_select`` instead of ``x[order]``.
    """
    wall_start = time.perf_counter()
    torch.manual_seed(cfg.seed)  # as Lightning's seed_everything: the same initial weights
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    task, n_targets = datamodule.task, datamodule.n_targets
    model = build_model(
        OmegaConf.to_container(cfg.model, resolve=True),
        n_features=datamodule.n_features,
        n_outputs=datamodule.n_outputs,
    )
    loss_class, link = REFERENCE_LOSSES[cfg.loss.name]
    loss_fn = loss_class()
    squeeze = task == "binary" and datamodule.n_outputs == 1
    metrics = {
        stage: ClassificationMetrics(task, n_targets, prefix=f"{stage}/", validate_args=False)
        for stage in ("train", "val", "test")
    }
    mean_loss = {stage: MeanMetric(nan_strategy="disable") for stage in ("train", "val", "test")}
    x_all, labels_all, targets_all = datamodule.tensors["train"]
    n, batch_size = len(labels_all), cfg.data.batch_size or len(labels_all)
    history: dict[str, list[float]] = {}
    best_nll, best_state, steps = float("inf"), None, 0

    fit_start, fit_cpu_start = time.perf_counter(), time.process_time()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=cfg.optimizer.lr,
        betas=tuple(cfg.optimizer.betas),
        eps=cfg.optimizer.eps,
        **({"fused": True} if fused else {}),
    )
    model.train()
    for epoch in range(cfg.trainer.max_epochs):
        # The order lossbench's IndexBatchLoader draws for (seed, epoch): the same batches.
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator)
        if fused:  # lossbench's kernels: also its gather (index_select, ~3x faster than x[order])
            x_epoch, labels_epoch, targets_epoch = (
                t.index_select(0, order) for t in (x_all, labels_all, targets_all)
            )
        else:  # the usual idiom
            x_epoch, labels_epoch, targets_epoch = (
                t[order] for t in (x_all, labels_all, targets_all)
            )
        outputs = []  # the epoch's detached scores and per-sample losses: metrics once per epoch
        for start in range(0, n, batch_size):
            x = x_epoch[start : start + batch_size]
            labels = labels_epoch[start : start + batch_size]
            targets = targets_epoch[start : start + batch_size]
            scores = model(x)
            loss = loss_fn(scores.squeeze(-1) if squeeze else scores, targets)
            if not torch.isfinite(loss):  # lossbench stops on a non-finite loss too
                raise RuntimeError(f"non-finite loss at epoch {epoch}, step {steps}")
            # One loss value per sample, as lossbench's module feeds its loss MeanMetric.
            outputs.append((scores.detach(), labels, loss.detach().expand(len(labels))))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        epoch_scores, epoch_labels, epoch_losses = (
            torch.cat(parts) for parts in zip(*outputs, strict=True)
        )
        metrics["train"].update_from_scores(epoch_scores, epoch_labels, link)
        mean_loss["train"].update(epoch_losses)
        values = {k: float(v) for k, v in metrics["train"].compute().items()}
        values["train/loss"] = float(mean_loss["train"].compute())
        metrics["train"].reset()
        mean_loss["train"].reset()
        values |= _evaluate(
            model,
            loss_fn,
            datamodule.tensors["val"],
            metrics["val"],
            mean_loss["val"],
            link,
            squeeze,
        )
        for key, value in values.items():
            history.setdefault(key, []).append(value)
        if values["val/nll"] < best_nll:  # what lossbench's checkpoint monitors by default
            best_nll = values["val/nll"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    fit_seconds = time.perf_counter() - fit_start
    fit_cpu_seconds = time.process_time() - fit_cpu_start

    if best_state is not None:
        model.load_state_dict(best_state)
    final: dict[str, float] = {}
    for stage in ("val", "test"):
        tensors = datamodule.tensors[stage]
        final |= _evaluate(model, loss_fn, tensors, metrics[stage], mean_loss[stage], link, squeeze)
    return {
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "steps": steps,
        "n_train": n,
        "val_nll_history": history["val/nll"],
        "test/nll": final["test/nll"],
    }


@contextmanager
def fit_cpu_clock(out: dict[str, float]) -> Iterator[None]:
    """Add the process CPU seconds spent in ``lightning.Trainer.fit`` to ``out["fit_cpu_seconds"]``.

    ``train_seconds`` is the wall clock of that same call; its CPU time does not count the turns
    other processes take on a shared machine. The wrapper only reads the clock around the call.
    If lossbench stops calling ``Trainer.fit``, nothing is added (the key stays absent).
    """
    original = lightning.pytorch.Trainer.fit

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            out["fit_cpu_seconds"] = out.get("fit_cpu_seconds", 0.0) + time.process_time() - start

    lightning.pytorch.Trainer.fit = fit
    try:
        yield
    finally:
        lightning.pytorch.Trainer.fit = original


def run_lossbench(cfg: DictConfig) -> dict[str, Any]:
    """lossbench's own path: ``train(cfg, tmpdir, multirun=True)``, as each sweep job runs it."""
    clock: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lossbench-bench-") as tmp, fit_cpu_clock(clock):
        wall_start = time.perf_counter()
        record = train(cfg, Path(tmp) / "run", multirun=True)
        wall_seconds = time.perf_counter() - wall_start
    if record["status"] != "completed":
        raise RuntimeError(f"lossbench run failed: {record['error']}")
    return {
        "fit_seconds": float(record["train_seconds"]),
        "fit_cpu_seconds": clock.get("fit_cpu_seconds"),
        "wall_seconds": wall_seconds,
        "steps": int(record["steps"]),
        "n_train": int(record["sizes"]["train"]),
        "val_nll_history": list(record["history"]["val/nll"]),
        "test/nll": float(record["test/nll"]),
    }


RUNNERS: dict[str, Callable[[DictConfig], dict[str, Any]]] = {
    "reference": run_reference,
    "reference_fused": lambda cfg: run_reference(cfg, fused=True),
    **dict.fromkeys(LOSSBENCH_SIDES, run_lossbench),
}


# ---------------------------------------------------------------------------- measuring


def _extra(side: str) -> tuple[str, ...]:
    """The config overrides of one of lossbench's sides (none for the hand-written ones)."""
    return LOSSBENCH_SIDES.get(side, ())


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_cell(task: str, batch_size: int, settings: Settings) -> dict[str, Any]:
    """Time the sides on one task x batch size, alternating their order over the repeats."""
    cfgs = {side: compose_cfg(task, batch_size, settings, extra=_extra(side)) for side in SIDES}
    for side in SIDES:
        RUNNERS[side](compose_cfg(task, batch_size, settings, epochs=1, extra=_extra(side)))

    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for repeat in range(settings.repeats):
        order = SIDES if repeat % 2 == 0 else SIDES[::-1]
        for side in order:
            memory: dict[str, float | None] = {}
            with rss_window(memory):
                cpu_start = time.process_time()
                result = RUNNERS[side](cfgs[side])
                cpu_seconds = time.process_time() - cpu_start
            runs[side].append(
                result | memory | {"cpu_seconds": cpu_seconds, "load": os.getloadavg()[0]}
            )
        ref, fused, lb, at_end, no_files = (runs[side][-1]["fit_seconds"] for side in SIDES)
        print(
            f"  {task:<10} batch {batch_size:>5}  repeat {repeat + 1}/{settings.repeats}: "
            f"hand-written {ref:.3f} s (fused Adam {fused:.3f} s), lossbench {lb:.3f} s "
            f"(x{lb / ref:.2f}; x{lb / fused:.2f} of fused; at_end x{at_end / ref:.2f}, "
            f"no files x{no_files / ref:.2f}), load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    cell: dict[str, Any] = {
        "task": task,
        "data": TASKS[task][0],
        "head": TASKS[task][1],
        "loss": TASKS[task][2],
        "batch_size": batch_size,
        "n_train": runs["reference"][0]["n_train"],
        "epochs": settings.epochs,
    }
    for side in SIDES:
        fit = [r["fit_seconds"] for r in runs[side]]
        fit_cpu = [r["fit_cpu_seconds"] for r in runs[side]]
        steps = runs[side][0]["steps"]
        samples = runs[side][0]["n_train"] * settings.epochs
        cell[side] = {
            "steps": steps,
            "fit_seconds": fit,
            "fit_cpu_seconds": fit_cpu,
            "wall_seconds": [r["wall_seconds"] for r in runs[side]],
            "cpu_seconds": [r["cpu_seconds"] for r in runs[side]],
            "load_average": [r["load"] for r in runs[side]],
            "us_per_step": spread([s / steps * 1e6 for s in fit]),
            "cpu_us_per_step": (
                None if None in fit_cpu else spread([s / steps * 1e6 for s in fit_cpu])
            ),
            "samples_per_second": spread([samples / s for s in fit]),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs[side]),
            "rss_growth_mib": max(
                (r["rss_growth_mib"] for r in runs[side] if r["rss_growth_mib"] is not None),
                default=None,
            ),
            "python_heap_peak_mib": (
                python_heap_peak_mib(lambda side=side: RUNNERS[side](cfgs[side]))
                if settings.tracemalloc
                else None
            ),
        }
    if len({cell[side]["steps"] for side in SIDES}) != 1:
        raise RuntimeError(
            f"{task} batch {batch_size}: the sides took different numbers of optimizer steps "
            f"({', '.join(side + ' ' + str(cell[side]['steps']) for side in SIDES)}); "
            "the comparison would not be of the same work."
        )
    # ratio: fit wall clock (the headline); fit_cpu_ratio: the same span in process CPU time;
    # wall_ratio / cpu_ratio: the whole call (data, fit, final evaluation, record);
    # fused_ratio: fit wall clock against the hand-written loop with fused Adam;
    # at_end_* / no_files_*: the other checkpoint settings, fit wall clock and CPU time.
    measures = {
        "ratio": ("lossbench", "fit_seconds", "reference"),
        "fit_cpu_ratio": ("lossbench", "fit_cpu_seconds", "reference"),
        "wall_ratio": ("lossbench", "wall_seconds", "reference"),
        "cpu_ratio": ("lossbench", "cpu_seconds", "reference"),
        "fused_ratio": ("lossbench", "fit_seconds", "reference_fused"),
        "at_end_ratio": ("lossbench_at_end", "fit_seconds", "reference"),
        "at_end_fit_cpu_ratio": ("lossbench_at_end", "fit_cpu_seconds", "reference"),
        "no_files_ratio": ("lossbench_no_files", "fit_seconds", "reference"),
        "no_files_fit_cpu_ratio": ("lossbench_no_files", "fit_cpu_seconds", "reference"),
        "no_files_fused_ratio": ("lossbench_no_files", "fit_seconds", "reference_fused"),
    }
    for key, (side, measure, base) in measures.items():
        values = [
            lb[measure] / ref[measure]
            for lb, ref in zip(runs[side], runs[base], strict=True)
            if lb[measure] is not None
        ]
        cell[key] = spread(values) | {"per_repeat": values} if values else None
    ref_nll = runs["reference"][0]["val_nll_history"]
    cell["max_abs_diff_val_nll"] = max(
        abs(a - b)
        for side in LOSSBENCH_SIDES
        for a, b in zip(ref_nll, runs[side][0]["val_nll_history"], strict=True)
    )
    return cell


def _process_tree_rss_kib(root: int) -> tuple[int, int] | None:
    """(sum, largest) RSS in KiB of process ``root`` and all its descendants (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # the process ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        rss[int(entry)] = int(match.group(1)) if match else 0
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    values = [rss.get(pid, 0) for pid in tree]
    return sum(values), max(values)


def _run_sampling_memory(cmd: list[str], env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """Run ``cmd``; sample the RSS of its process tree every 0.2 s. Returns (process, peaks):
    the peak of the tree's summed RSS (all worker processes at once) and of its largest process."""
    peaks: dict[str, Any] = {"peak_total_rss_mib": None, "peak_process_rss_mib": None}
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        import threading

        done = threading.Event()

        def sample() -> None:
            total = largest = 0
            while not done.wait(0.2):
                measured = _process_tree_rss_kib(proc.pid)
                if measured is None:
                    return
                total, largest = max(total, measured[0]), max(largest, measured[1])
                peaks.update(peak_total_rss_mib=total / 1024, peak_process_rss_mib=largest / 1024)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = proc.communicate()
        done.set()
        sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), peaks


def _timed_command(
    cmd: list[str], env: dict[str, str], repeats: int, *, memory: bool = False, exit_code: int = 0
) -> dict[str, Any]:
    """Seconds of ``cmd`` per repeat; it must exit with ``exit_code`` (2: a refused config).
    With ``memory``, also the peak RSS of its processes (:func:`_run_sampling_memory`)."""
    seconds, peaks = [], {}
    for _ in range(repeats):
        start = time.perf_counter()
        if memory:
            proc, peaks = _run_sampling_memory(cmd, env)
        else:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        if proc.returncode != exit_code:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}, expected {exit_code}: "
                f"{' | '.join(tail)}"
            )
    return {
        "command": " ".join(cmd),
        "seconds": seconds,
        "median_seconds": statistics.median(seconds),
        **peaks,
    }


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("lossbench-train")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lossbench.train"]


def _records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("metrics.json"))]


def _time_sweep(
    extra: list[str], env: dict[str, str], label: str, *, report: bool = False
) -> dict[str, Any]:
    """Run one ``lossbench-train -m`` in a fresh sweep directory: seconds in all and per job,
    peak memory of all its processes. With ``report``, also time ``lossbench-report`` on it (as
    ``make compare`` runs it)."""
    report_cli = Path(sys.executable).with_name("lossbench-report")
    report_seconds = None
    with tempfile.TemporaryDirectory(prefix="lossbench-bench-sweep-") as tmp:
        cmd = [*_cli(), "-m", *extra, f"hydra.sweep.dir={tmp}"]
        timing = _timed_command(cmd, env, repeats=1, memory=True)
        records = _records(Path(tmp))
        if report and report_cli.exists():
            report_cmd = [str(report_cli), tmp, "--out", str(Path(tmp) / "report")]
            report_seconds = _timed_command(report_cmd, env, repeats=1)["seconds"][0]
    seconds = timing["seconds"][0]
    jobs = len(records)
    fit = sum(float(r.get("train_seconds") or 0.0) for r in records)
    return {
        "kind": label,
        "command": timing["command"],
        "seconds": seconds,
        "report_seconds": report_seconds,
        "jobs": jobs,
        "completed": sum(r.get("status") == "completed" for r in records),
        "seconds_per_job": seconds / jobs if jobs else None,
        "train_seconds_per_job": fit / jobs if jobs else None,
        "peak_total_rss_mib": timing.get("peak_total_rss_mib"),
        "peak_process_rss_mib": timing.get("peak_process_rss_mib"),
    }


#: How the studies are timed: lossbench's default (worker processes, one per core) and the
#: same jobs one after another in one process.
LAUNCHERS = {"parallel": "hydra/launcher=parallel", "sequential": "hydra/launcher=basic"}


def bench_study(settings: Settings) -> dict[str, Any]:
    """Startup costs; then the standard study (`make compare`) or a 6-job multirun, each run in
    parallel worker processes and one job after another: seconds, seconds per job, memory."""
    env = os.environ | {"OMP_NUM_THREADS": str(settings.threads)}
    repeats = 1 if settings.quick else 3
    refused = ["data=wine", "head=sigmoid", "loss=cross_entropy"]  # exits 2 before training
    out: dict[str, Any] = {
        "omp_num_threads": settings.threads,
        "startup": {
            "import_torch": _timed_command([sys.executable, "-c", "import torch"], env, repeats),
            "import_lightning": _timed_command(
                [sys.executable, "-c", "import lightning"], env, repeats
            ),
            "import_lossbench_train": _timed_command(
                [sys.executable, "-c", "import lossbench.train"], env, repeats
            ),
            "lossbench_train_help": _timed_command([*_cli(), "--help"], env, repeats),
            "refused_config": _timed_command([*_cli(), *refused], env, repeats, exit_code=2),
        },
        "studies": {},
    }
    if settings.study == "standard":
        variant = "quick" if settings.quick else "full"
        extra = ["experiment=compare_all", f"study={variant}"]
        label = f"standard study: experiment=compare_all study={variant}"
    else:
        extra = [*SWEEP_JOBS, *(["trainer.max_epochs=2"] if settings.quick else [])]
        label = "6-job multirun"
    # Studies size their torch threads themselves (1 per worker when parallel).
    study_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    for name, launcher in LAUNCHERS.items():
        print(f"  timing the {label}, {name} ...", flush=True)
        out["studies"][name] = _time_sweep(
            [*extra, launcher], study_env, f"{label} ({name})", report=settings.study == "standard"
        )
    return out


# ---------------------------------------------------------------------------- report


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=False, cwd=REPO
        )
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def environment(settings: Settings) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torchmetrics": torchmetrics.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "load_average_at_start": os.getloadavg()[0],
    }


def _fmt_spread(s: dict[str, float], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def print_tables(cells: list[dict[str, Any]], settings: Settings) -> None:
    print(
        f"\nTraining (fit), {settings.epochs} epochs, medians over {settings.repeats} repeat(s): "
        "µs per optimizer step in wall-clock and process-CPU\ntime (validation every epoch "
        "included), samples per second (wall). CPU time leaves out the turns other processes\n"
        "take on a shared machine: compare it with wall to see how busy the machine was."
    )
    header = (
        f"{'task':<10} {'batch':>5} {'steps':>5} | {'hand µs/step':>12} {'cpu':>6} "
        f"{'samples/s':>9} | {'lb µs/step':>10} {'cpu':>6} {'samples/s':>9}"
    )
    print(header)
    print("-" * len(header))

    def cpu_us(side: dict[str, Any]) -> str:
        return (
            "-" if side["cpu_us_per_step"] is None else f"{side['cpu_us_per_step']['median']:.0f}"
        )

    for c in cells:
        ref, lb = c["reference"], c["lossbench"]
        print(
            f"{c['task']:<10} {c['batch_size']:>5} {ref['steps']:>5} | "
            f"{ref['us_per_step']['median']:>12.0f} {cpu_us(ref):>6} "
            f"{ref['samples_per_second']['median']:>9,.0f} | "
            f"{lb['us_per_step']['median']:>10.0f} {cpu_us(lb):>6} "
            f"{lb['samples_per_second']['median']:>9,.0f}"
        )
    print(
        "\nRatio lossbench / hand-written, median [min-max] of the paired repeats: fit = wall "
        "clock of training\n(lossbench: train_seconds), fit cpu = the same in CPU time; whole "
        "call = data, fit, final evaluation, record;\nvs fused = fit against the hand-written "
        "loop with lossbench's kernels (fused Adam, index_select)."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'fit':>17} | {'fit cpu':>17} | {'whole call':>17} | "
        f"{'whole call cpu':>17} | {'vs fused':>17}"
    )
    print(header)
    print("-" * len(header))

    def ratio(value: dict[str, Any] | None) -> str:
        return "-" if value is None else _fmt_spread(value)

    for c in cells:
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | {ratio(c['ratio']):>17} | "
            f"{ratio(c['fit_cpu_ratio']):>17} | {ratio(c['wall_ratio']):>17} | "
            f"{ratio(c['cpu_ratio']):>17} | {ratio(c['fused_ratio']):>17}"
        )
    print(
        "\nRatio to hand-written by lossbench's checkpoint setting (fit wall clock [fit cpu "
        "median]):\nevery_epoch = the default (best and last checkpoint written every epoch, "
        "exact resume); at_end = what\nthe studies use (both written once, at the end); never = "
        "no files, the best weights kept in memory,\nthe hand-written loop's work exactly; "
        "never vs fused: against the hand-written loop with lossbench's kernels."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'every_epoch':>24} | {'at_end':>24} | {'never':>24} | "
        f"{'never vs fused':>17}"
    )
    print(header)
    print("-" * len(header))

    def with_cpu(value: dict[str, Any] | None, cpu: dict[str, Any] | None) -> str:
        return f"{ratio(value)} [{'-' if cpu is None else format(cpu['median'], '.2f')}]"

    for c in cells:
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | "
            f"{with_cpu(c['ratio'], c['fit_cpu_ratio']):>24} | "
            f"{with_cpu(c['at_end_ratio'], c['at_end_fit_cpu_ratio']):>24} | "
            f"{with_cpu(c['no_files_ratio'], c['no_files_fit_cpu_ratio']):>24} | "
            f"{ratio(c['no_files_fused_ratio']):>17}"
        )
    print(
        "\nMemory (MiB): peak RSS while a side ran (max over repeats) and its growth over the RSS "
        "at its start;\nheap = with --tracemalloc, the peak of Python allocations during one "
        "extra run (tensor storage is\nnot traced; torch keeps no CPU allocator statistics).\n"
        "|Δ val/nll| = largest per-epoch difference between the sides (same work -> ~0)."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'hand RSS':>8} {'growth':>6} {'heap':>6} | "
        f"{'lb RSS':>8} {'growth':>6} {'heap':>6} | {'|Δ val/nll|':>11}"
    )
    print(header)
    print("-" * len(header))

    def mib(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for c in cells:
        ref, lb = c["reference"], c["lossbench"]
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | "
            f"{ref['peak_rss_mib']:>8.1f} {mib(ref['rss_growth_mib']):>6} "
            f"{mib(ref['python_heap_peak_mib']):>6} | "
            f"{lb['peak_rss_mib']:>8.1f} {mib(lb['rss_growth_mib']):>6} "
            f"{mib(lb['python_heap_peak_mib']):>6} | {c['max_abs_diff_val_nll']:>11.2e}"
        )


def print_study(study: dict[str, Any]) -> None:
    print(f"\nStartup (subprocesses, OMP_NUM_THREADS={study['omp_num_threads']}):")
    for name, timing in study["startup"].items():
        print(f"  {name:<22} {timing['median_seconds']:7.2f} s   ({timing['command']})")
    studies = study.get("studies") or {}
    for s in studies.values():
        print(
            f"\n{s['kind']}: {s['seconds']:.1f} s for {s['jobs']} jobs "
            f"({s['completed']} trained), {s['seconds_per_job']:.2f} s per job "
            f"(of which fit {s['train_seconds_per_job']:.2f} s)"
        )
        if s.get("peak_total_rss_mib") is not None:
            print(
                f"  peak memory: {s['peak_total_rss_mib']:.0f} MiB RSS for all its processes "
                f"together, {s['peak_process_rss_mib']:.0f} MiB the largest one"
            )
        if s.get("report_seconds") is not None:
            print(f"  then lossbench-report on its runs: {s['report_seconds']:.1f} s")
        print(f"  {s['command']}")
    if {"parallel", "sequential"} <= studies.keys():
        par, seq = studies["parallel"]["seconds"], studies["sequential"]["seconds"]
        print(f"\nparallel / sequential: {par / seq:.2f} ({par:.1f} s vs {seq:.1f} s)")


# ---------------------------------------------------------------------------- entry point


def profile_lossbench(path: Path, settings: Settings) -> None:
    """cProfile one lossbench run (binary, the first batch size) after a warm-up."""
    cfg = compose_cfg("binary", settings.batch_sizes[0], settings)
    run_lossbench(compose_cfg("binary", settings.batch_sizes[0], settings, epochs=1))
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_lossbench(cfg)
    profiler.disable()
    profiler.dump_stats(path)
    print(
        f"profiled lossbench, binary batch {settings.batch_sizes[0]}: {result['steps']} steps, "
        f"fit {result['fit_seconds']:.2f} s (slower under the profiler); stats in {path}"
    )
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 000 samples, 2 epochs, 1 repeat")
    parser.add_argument("--repeats", type=int, help="timed runs per side (default 5; quick: 1)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads for both sides (default 1: these layers are too small to "
        "gain from intra-op threads, and on a shared 2-core machine a busy core stalls them)",
    )
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[128, 1024], help="default: 128 1024"
    )
    parser.add_argument(
        "--study",
        choices=("sweep", "standard", "none"),
        default="standard",
        help="standard: the `make compare` study (default; with --quick: study=quick), run in "
        "parallel and in turn; sweep: a 6-job multirun, both ways; none: skip",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="one extra untimed run per side under tracemalloc: peak of Python allocations "
        "(slow; at these sizes the data set generation dominates it on both sides)",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a lossbench config override for every cell, e.g. optimizer.lr=1e-2 "
        "(repeatable; the hand-written loop follows data, optimizer and epoch settings; the "
        "at_end and never sides set checkpoint.write after it, the first lossbench side keeps "
        "what it says)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="PATH", help="cProfile one lossbench run, then stop"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if repeats < 1:
        raise SystemExit(f"--repeats must be >= 1, got {repeats}.")
    settings = Settings(
        n_samples=2_000 if args.quick else 20_000,
        epochs=2 if args.quick else 10,
        repeats=repeats,
        batch_sizes=tuple(args.batch_sizes),
        threads=args.threads,
        quick=args.quick,
        tracemalloc=args.tracemalloc,
        study=args.study,
        overrides=tuple(args.override),
    )
    torch.set_num_threads(settings.threads)
    register_configs()
    quiet_lightning()
    for name in ("lightning.pytorch", "lightning.fabric", "lossbench"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*Checkpoint directory.*exists and is not empty.*")

    env = environment(settings)
    print(
        f"lossbench benchmark: torch {env['torch']}, lightning {env['lightning']}, "
        f"torchmetrics {env['torchmetrics']}, python {env['python']}\n"
        f"cpus: {env['cpu_count']} (usable {env['cpus_usable']}), torch threads: "
        f"{env['torch_num_threads']} (interop {env['torch_num_interop_threads']}), "
        f"load average {env['load_average_at_start']:.2f}; lossbench at {env['git_commit']}"
        f"{' (with uncommitted changes)' if env['git_dirty'] else ''}\n"
        f"{settings.n_samples} samples x 20 features, {settings.epochs} epochs, "
        f"{settings.repeats} repeat(s), batch sizes {list(settings.batch_sizes)}"
        f"{'; lossbench overrides: ' + ' '.join(settings.overrides) if settings.overrides else ''}",
        flush=True,
    )
    if args.profile:
        profile_lossbench(args.profile, settings)
        return 0

    cells = [bench_cell(t, b, settings) for t in TASKS for b in settings.batch_sizes]
    if torch.get_num_threads() != settings.threads:
        print(f"warning: torch threads changed to {torch.get_num_threads()} during the runs")
    print_tables(cells, settings)
    study = None
    if settings.study != "none":
        study = bench_study(settings)
        print_study(study)
    env["load_average_at_end"] = os.getloadavg()[0]
    peak = process_peak_rss_mib()
    print(
        f"\nprocess peak RSS (getrusage): {peak:.0f} MiB; load average at end "
        f"{env['load_average_at_end']:.2f}"
    )
    if args.json:
        report = {
            "settings": asdict(settings),
            "environment": env,
            "cells": cells,
            "study": study,
            "process_peak_rss_mib": peak,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
