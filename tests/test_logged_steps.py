"""The step Lightning logs at (``trainer.fit_loop.epoch_loop._batches_that_stepped``, saved in
checkpoints with the loops) counts optimizer steps under every runner: the epoch runner's one
Lightning step per epoch advances it by the epoch's steps, a vectorized member's checkpoint holds
the member's steps, and a checkpoint that holds the epochs instead (the epoch runner's, before
it counted so) is corrected when the resumed fit starts an epoch. ``tests/test_resume_matrix.py``
compares the resumed runs' ``logs/metrics.csv`` with an uninterrupted run's.

The data are small (wine: 106 training rows, 4 optimizer steps an epoch at batch 32).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch

from lossbench.training import train
from lossbench.vectorized.run import train_group

BASE = (
    "data=wine",
    "model.hidden_sizes=[16]",
    "data.batch_size=32",
    "trainer.accelerator=cpu",
    "logger=csv",
)
#: optimizer steps in an epoch of BASE
STEPS = 4
#: what the loops' state keeps the logging step under
COUNTER = "_batches_that_stepped"


class EpochValueLogger(L.Callback):
    """Logs the epoch through Lightning at each training epoch's end, as a user's callback
    would (``pl_module.log``)."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pl_module.log("custom/epoch", float(trainer.current_epoch))


#: the callback above, added from the command line
LOGS_IN_EPOCH_END = ("+callbacks.epoch_value._target_=test_logged_steps.EpochValueLogger",)


def _checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def _counter(checkpoint: dict[str, Any]) -> int:
    return checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"][COUNTER]


def _steps(run_dir: Path, key: str = "train/loss") -> list[tuple[str, str]]:
    """The ``(epoch, step)`` of each ``metrics.csv`` row that holds ``key``."""
    with (run_dir / "logs" / "metrics.csv").open(newline="") as handle:
        return [(row["epoch"], row["step"]) for row in csv.DictReader(handle) if row.get(key)]


def _per_epoch(epochs: int) -> list[tuple[str, str]]:
    """The rows an uninterrupted run logs: each epoch at its last optimizer step's index."""
    return [(str(epoch), str((epoch + 1) * STEPS - 1)) for epoch in range(epochs)]


@pytest.mark.parametrize("runner", ["epoch", "lightning"])
def test_a_checkpoint_holds_the_optimizer_steps_as_the_logging_step(make_cfg, tmp_path, runner):
    record = train(make_cfg(*BASE, f"runner={runner}", "trainer.max_epochs=3"), tmp_path)
    assert record["steps"] == 3 * STEPS
    for path in (tmp_path / "checkpoints").glob("*.ckpt"):
        checkpoint = _checkpoint(path)
        assert checkpoint["global_step"] > checkpoint["epoch"] + 1  # several steps an epoch
        assert _counter(checkpoint) == checkpoint["global_step"], path.name


def test_a_vectorized_members_checkpoint_holds_its_optimizer_steps(make_cfg, tmp_path):
    cfgs = [make_cfg(*BASE, "trainer.max_epochs=3", f"seed={seed}") for seed in (0, 1)]
    dirs = [tmp_path / f"member{seed}" for seed in (0, 1)]
    records = train_group(cfgs, dirs)
    assert [r["status"] for r in records] == ["completed"] * 2
    for path in (p for d in dirs for p in (d / "checkpoints").glob("*.ckpt")):
        checkpoint = _checkpoint(path)
        assert checkpoint["global_step"] > checkpoint["epoch"] + 1
        assert _counter(checkpoint) == checkpoint["global_step"], path


def test_a_callbacks_epoch_end_log_is_at_the_optimizer_step_under_either_runner(make_cfg, tmp_path):
    """A value a callback logs in ``on_train_epoch_end`` is at the epoch's last optimizer step,
    under the epoch runner as under Lightning's loop."""
    steps = {}
    for runner in ("epoch", "lightning"):
        cfg = make_cfg(*BASE, *LOGS_IN_EPOCH_END, f"runner={runner}", "trainer.max_epochs=3")
        record = train(cfg, tmp_path / runner)
        assert record["training_loop"] == ("epoch" if runner == "epoch" else "batch")
        steps[runner] = _steps(tmp_path / runner, "custom/epoch")
    assert steps["lightning"] == _per_epoch(3)
    assert steps["epoch"] == steps["lightning"]


@pytest.mark.parametrize("runner", ["lightning", "epoch"])
def test_a_checkpoint_that_counts_epochs_resumes_at_the_right_steps(make_cfg, tmp_path, runner):
    """A ``last.ckpt`` whose logging step is the epochs trained (the epoch runner's, before it
    counted optimizer steps) resumes logging at the uninterrupted run's steps, also what a
    callback logs through Lightning."""

    def cfg(*more: str) -> Any:
        return make_cfg(*BASE, *LOGS_IN_EPOCH_END, *more)

    train(cfg("trainer.max_epochs=5"), tmp_path / "whole")
    train(cfg("runner=epoch", "trainer.max_epochs=3"), tmp_path / "resumed")
    last = tmp_path / "resumed" / "checkpoints" / "last.ckpt"
    checkpoint = _checkpoint(last)
    checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"][COUNTER] = 3  # the epochs
    torch.save(checkpoint, last)
    (tmp_path / "resumed" / "metrics.json").unlink()
    train(cfg(f"runner={runner}", "trainer.max_epochs=5", "ckpt_path=last"), tmp_path / "resumed")
    for key in ("train/loss", "custom/epoch"):
        assert _steps(tmp_path / "whole", key) == _per_epoch(5)
        assert _steps(tmp_path / "resumed", key) == _per_epoch(5), key
    assert _counter(_checkpoint(last)) == 5 * STEPS
