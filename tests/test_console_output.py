"""What ``lossbench-train`` prints, as a user's shell sees it: Lightning's model summary in a
single run (not in a sweep's jobs), none of Lightning's start-up messages, and no library
warning that does not hold for the run."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from omegaconf import OmegaConf

from cli_process import run_module
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.training import train

TINY = ("data=wine", "trainer.max_epochs=1", "logger=none", "trainer.enable_progress_bar=false")
SUMMARY = "Trainable params"


def _train(*args: str, cwd: Path):
    result = run_module("lossbench.train", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_single_run_shows_the_model_summary_and_no_start_up_messages(tmp_path, make_cfg):
    run_dir = tmp_path / "run"
    result = _train(*TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert output.count(SUMMARY) == 1, output
    assert "Total params" in output and "loss_fn" in output  # the table, once
    # the model's work on one example: 2 x in x out per linear layer of the default MLP, from
    # wine's 13 features to its 3 classes (10.2 K), and the sizes in and out of the model
    widths = [13, *make_cfg(*TINY, fast=False).model.hidden_sizes, 3]
    flops = sum(2 * a * b for a, b in pairwise(widths))
    assert f"{get_human_readable_count(flops):<10}Total Flops" in output, output
    assert "In sizes" in output and "[1, 13]" in output, output
    assert SUMMARY in (run_dir / "train.log").read_text()  # with lossbench's own lines
    for start_up in ("GPU available", "TPU available", "`Trainer.fit` stopped", "Tip:"):
        assert start_up not in output
    # one epoch without early stopping: still improving, said once, after the record's line
    warned = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(warned) == 1, result.stderr
    assert warned[0].startswith(
        "lossbench: warning: the run reached trainer.max_epochs=1 while val/nll was still "
        "improving (best at epoch 0, its last)"
    )


@pytest.mark.slow
def test_a_mixed_precision_run_shows_the_summary_without_lightning_s_precision_warning(tmp_path):
    """The model summary cannot size weights in bf16-mixed (Lightning warns and assumes 32 bits):
    the table is shown, the warning is not."""
    result = _train(
        *TINY, "trainer.precision=bf16-mixed", f"hydra.run.dir={tmp_path}", cwd=tmp_path
    )
    output = result.stdout + result.stderr
    assert output.count(SUMMARY) == 1, output
    assert "not supported by the model summary" not in output, output
    assert "model_summary.py" not in output, output


@pytest.mark.slow
def test_a_historical_precision_name_trains_without_lightning_s_warning(tmp_path):
    """Lightning still takes ``bf16``, ``16``, ``32`` and ``64`` but warns, with its own
    file's path, that they are discouraged: lossbench hands Lightning the modern name, which
    trains the same, and the run's config keeps the name the user gave (so a finished run of
    it is the same run as before)."""
    result = _train(*TINY, "trainer.precision=bf16", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "supported for historical reasons" not in output, output
    assert "connector.py" not in output, output
    assert output.count(SUMMARY) == 1 and "completed: " in output, output
    config = OmegaConf.load(tmp_path / ".hydra" / "config.yaml")
    assert config.trainer.precision == "bf16"


@pytest.mark.parametrize(
    ("short", "full"), [("bf16", "bf16-mixed"), (64, "64-true"), ("32", "32-true")]
)
def test_the_trainer_of_a_historical_precision_name_has_the_modern_one(short, full):
    """What Lightning gets: the modern name, without its warning about the short one (which
    Lightning gives for ``bf16`` and ``16``; ``32`` and ``64`` it maps without one)."""
    import warnings

    from lossbench.training import build_trainer

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer = build_trainer(
            accelerator="cpu", devices=1, precision=short, logger=False,
            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
    assert trainer.precision == full


@pytest.mark.slow  # mlflow's import and a new SQLite store, about 6 s
def test_a_new_mlflow_store_is_created_without_info_lines(tmp_path):
    """The first run into a new store creates its tables and experiment without MLflow's
    INFO lines ("Creating initial MLflow database tables...") or Lightning's "Experiment with
    name ... not found. Creating it."; MLflow's own warnings still show."""
    pytest.importorskip("mlflow")
    result = _train(
        *TINY, "logger=mlflow", f"paths.log_dir={tmp_path / 'store'}",
        f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    for noise in ("database tables", "not found. Creating it", "INFO mlflow", "INFO alembic"):
        assert noise not in output, output
    assert "completed: " in output, output
    assert (tmp_path / "store" / "mlflow.db").is_file()
    import logging

    from lossbench.messages import MLFLOW_STORE_LOGGER, quiet_mlflow

    quiet_mlflow()
    assert logging.getLogger(MLFLOW_STORE_LOGGER).isEnabledFor(logging.WARNING)


@pytest.mark.slow  # wandb's import and its service process, about 8 s
def test_an_offline_wandb_run_shows_no_warning_about_the_anonymous_setting(tmp_path):
    """Lightning's ``WandbLogger`` passes ``anonymous=None``, which W&B warns has no effect:
    lossbench leaves it out; W&B's own lines about the offline run are still shown."""
    pytest.importorskip("wandb")
    result = run_module(
        "lossbench.train", *TINY, "logger=wandb", f"hydra.run.dir={tmp_path}", cwd=tmp_path,
        extra_env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "anonymous setting" not in output, output
    assert "wandb: " in output and "offline-run-" in output, output
    assert "completed: " in output, output


@pytest.mark.slow  # two DDP processes on the CPU, about 12 s on 2 cores
def test_ddp_s_final_evaluation_shows_no_progress_bars(tmp_path):
    """Under DDP the best checkpoint is evaluated by ``trainer.validate`` / ``trainer.test``:
    they show no progress bar of their own, as a single run's final evaluation shows none;
    the training bar is still shown."""
    result = run_module(
        "lossbench.train", "data=iris", "trainer.max_epochs=2", "trainer=ddp",
        "trainer.accelerator=cpu", "trainer.devices=2", "logger=none",
        "trainer.enable_progress_bar=true", f"hydra.run.dir={tmp_path}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bars = result.stdout  # Lightning's bars write to stdout
    assert "Epoch 1: 100%" in bars, bars  # the training bar
    after_training = bars[bars.rindex("Epoch 1: 100%") :]
    for bar in ("Validation", "Testing"):
        assert bar not in after_training, after_training
    assert "completed: " in result.stdout + result.stderr


@pytest.mark.slow  # a vectorized and a basic multirun in fresh processes, about 12 s
def test_a_vectorized_member_s_non_finite_loss_says_where_as_a_run_alone_does(tmp_path):
    """A member that fails on a non-finite loss says its epoch, step and batch, as the same
    job under the basic launcher says them (and its metrics.json holds)."""
    said = {}
    for launcher in ("vectorized", "basic"):
        sweep = tmp_path / launcher
        result = _train(
            "-m", f"hydra/launcher={launcher}", "data=iris", "optimizer=sgd",
            "optimizer.lr=1e-2,1e30", "trainer.max_epochs=3", "logger=none",
            "trainer.enable_progress_bar=false", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
        )  # fmt: skip
        lines = (result.stdout + result.stderr).splitlines()
        failed = [line for line in lines if "run failed: " in line]
        assert len(failed) == 1, lines
        assert sum("completed: " in line for line in lines) == 1, lines
        error = json.loads(next(sweep.glob("1_*/metrics.json")).read_text())["error"]
        assert error.startswith("non-finite training loss (nan) at epoch "), error
        assert f"run failed: {error} (" in failed[0], failed
        said[launcher] = failed[0].split("run failed: ", 1)[1].split(" (/", 1)[0]
    assert said["vectorized"] == said["basic"], said


@pytest.mark.slow  # a multirun in a fresh process; the single run above is in the default suite
def test_sweep_jobs_show_no_model_summary(tmp_path):
    result = _train("-m", *TINY, "seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert "2 completed" in result.stdout + result.stderr
    assert SUMMARY not in result.stdout + result.stderr


#: A Hydra callback of one's own whose module imports Lightning: joblib's workers unpickle it,
#: importing Lightning before logging is configured, so Lightning adds its own console handler.
HYDRA_CALLBACK_IMPORTING_LIGHTNING = """import lightning  # noqa: F401
from hydra.experimental.callback import Callback


class Quiet(Callback):
    pass
"""


@pytest.mark.slow  # a parallel multirun in a fresh process, about 20 s on 2 cores
def test_parallel_jobs_show_no_start_up_messages_with_an_own_hydra_callback(tmp_path):
    (tmp_path / "own_hydra.py").write_text(HYDRA_CALLBACK_IMPORTING_LIGHTNING)
    result = _train(
        "-m", *TINY, "seed=0,1", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
        "+hydra.callbacks.own._target_=own_hydra.Quiet",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "2/2 jobs ended (2 completed" in output, output
    for start_up in ("GPU available", "TPU available", "`Trainer.fit` stopped", "Tip:"):
        assert start_up not in output, output


@pytest.mark.slow  # a vectorized multirun in a fresh process, about 15 s on 2 cores
def test_a_vectorized_sweep_says_a_group_s_refusal_once_and_lists_no_jobs_after_training(
    tmp_path,
):
    """A setup that cannot train the task refuses each rate x seed of its group with one
    message: said once, with the count (each job's metrics.json still holds it); and the jobs
    are not listed one per line once they have all ended (``hydra.verbose`` shows the list).
    The groups train in worker processes, which log as the command does: each completed
    member's line, in the console's format."""
    sweep = tmp_path / "sweep"
    result = _train(
        "-m", "data=iris", "head=logits", "loss=cross_entropy,asl", "optimizer.lr=0.01,0.02",
        "seed=0,1", "trainer.max_epochs=1", "logger=none", "hydra/launcher=vectorized",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    lines = (result.stdout + result.stderr).splitlines()
    refused = [line for line in lines if "refused" in line and "cannot train" in line]
    assert len(refused) == 1, lines
    assert "][HYDRA] refused (4 jobs): head 'logits' + loss 'asl' cannot train" in refused[0]
    assert refused[0].endswith(f"metrics.json and 3 more under {sweep})")
    assert not [line for line in lines if " : data=iris" in line], lines
    assert "8/8 jobs ended (4 completed, 0 skipped, 4 refused, 0 failed)" in lines[-1]
    completed = [line for line in lines if "][HYDRA] completed: " in line]
    assert len(completed) == 4, lines  # one per member that trained
    # Launching, the refusal, the progress line(s), the final line
    assert len(lines) - len(completed) <= 6, lines
    records = [json.loads(path.read_text()) for path in sweep.rglob("metrics.json")]
    assert sum("cannot train a multiclass task" in (r.get("error") or "") for r in records) == 4


@pytest.mark.slow
def test_resume_in_the_runs_own_directory_warns_nothing(tmp_path):
    """Resuming into the run's own checkpoints folder is what ``ckpt_path=last`` is for:
    Lightning's "Checkpoint directory ... exists and is not empty" says nothing there."""
    run = (*TINY[:-1], f"hydra.run.dir={tmp_path / 'run'}")
    _train(*run, cwd=tmp_path)
    (tmp_path / "run" / "metrics.json").unlink()  # what a killed run leaves: no record
    resumed = _train(*run, "trainer.max_epochs=2", "ckpt_path=last", cwd=tmp_path)
    assert "exists and is not empty" not in resumed.stderr
    assert "Checkpoint directory" not in resumed.stdout + resumed.stderr


def test_a_checkpoint_directory_of_other_files_is_still_warned_about(make_cfg, tmp_path):
    """Only a resume from the directory itself is silenced: a ``dirpath`` that already holds
    other files still gets Lightning's warning."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("not this run's\n")
    cfg = make_cfg("data=wine", f"callbacks.model_checkpoint.dirpath={elsewhere}")
    with pytest.warns(UserWarning, match="exists and is not empty"):
        train(cfg, tmp_path / "run")


@pytest.mark.slow
def test_debug_overfit_warns_nothing(tmp_path):
    """Lightning warns that it turns the shuffling off where a loader is no
    ``SequentialSampler``; lossbench's loaders do not shuffle while overfitting."""
    result = _train(*TINY, "debug=overfit", "trainer.max_epochs=2", cwd=tmp_path)
    assert "requested to overfit" not in result.stderr


class _Batches(L.LightningModule):
    """Records the features of each training batch."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(n_features, 1)
        self.seen: list[list[float]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append(batch[0].flatten().tolist())
        return self.layer(batch[0]).sum()

    def validation_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.filterwarnings("ignore:You requested to overfit")  # a bare Trainer.fit
def test_overfit_batches_trains_the_same_batch_every_epoch():
    """``trainer.overfit_batches=1`` (``debug=overfit``): the same first batch every epoch, as
    Lightning's sequential sampler gives it; without overfitting each epoch is reshuffled."""
    data = {
        "name": "wine",
        "batch_size": 8,
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
    }
    seen = {}
    for overfit in (1, 0):
        datamodule = ClassificationDataModule(data, "cross_entropy", seed=0)
        module = _Batches(datamodule.n_features)
        trainer = L.Trainer(
            max_epochs=3,
            overfit_batches=overfit,
            limit_train_batches=1,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, datamodule=datamodule)
        seen[overfit] = module.seen
    assert len(seen[1]) == 3 and seen[1][0] == seen[1][1] == seen[1][2]
    assert seen[1][0] == datamodule.tensors["train"][0][:8].flatten().tolist()  # the first rows
    assert len(seen[0]) == 3 and seen[0][0] != seen[0][1]
