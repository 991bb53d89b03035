"""Resuming across the options that change where or when a run validates, checkpoints, steps or
stops: each case trains a run uninterrupted for 6 epochs, trains the same run for 3 epochs in
another directory, resumes it there with ``ckpt_path=last`` (and, where the case says so, from
its best checkpoint into a third directory) and compares the records, their per-epoch
``history`` and, where the case logs with ``logger=csv`` (the fixture composes ``logger=none``),
``logs/metrics.csv``.

The data are small (wine: 106 training rows, 4 steps an epoch at batch 32) and the model tiny,
so a case takes 1-3 s; the table is ``slow`` except for a few cases that run by default.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from cli_process import run_module
from lossbench.training import train
from lossbench.validation import ConfigError
from lossbench.vectorized.run import train_group

#: 106 training rows at batch 32: 4 optimizer steps an epoch.
BASE = (
    "data=wine",
    "model.hidden_sizes=[16]",
    "data.batch_size=32",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
)
EPOCHS, FIRST = 6, 3
#: lr=0.3 overshoots after a few epochs: early stopping (patience 1) stops before epoch 6, and
#: the best epoch is not the last one.
STOPS_EARLY = ("early_stopping.enabled=true", "early_stopping.patience=1", "optimizer.lr=0.3")
PLATEAU = ("scheduler=plateau", "scheduler.patience=0")
#: At the default lr=0.001 val/nll improves in each of the 6 epochs and PLATEAU never lowers the
#: rate, so a resume that lost a plateau step ended as the uninterrupted run. lr=0.3 overshoots
#: after epoch 2: the rate halves for epochs 4 and 5 (with val/nll), for epochs 3 and 5 (with
#: scheduler.monitor=train/loss), each time from a step at the end of the epoch before.
PLATEAU_LOWERS = (*PLATEAU, "optimizer.lr=0.3")
#: Resumed after 4 epochs: the step at the end of epoch 3, the last before the resume, halves
#: the rate (0.3 -> 0.15 for epoch 4).
AFTER_4 = {"first": ("trainer.max_epochs=4",)}
#: The record's fields a resumed run must end with, besides every val/ and test/ metric.
FIELDS = ("best_epoch", "epochs", "steps", "stopped_by")
#: README, Resuming: the documented refusal of training a cosine schedule on to more epochs.
COSINE_REFUSED = (
    "README (Resuming): 'with scheduler=cosine or warmup_cosine a changed trainer.max_epochs "
    "... is refused, since the restored schedule is the one built for the first run'"
)


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN (or null, as JSON writes NaN) equal to NaN, floats within 1e-6."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a_nan = a is None or (isinstance(a, float) and math.isnan(a))
    b_nan = b is None or (isinstance(b, float) and math.isnan(b))
    if a_nan or b_nan:
        return a_nan and b_nan
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-6
    return a == b


def _differences(whole: dict, resumed: dict) -> list[str]:
    """What a resumed record has that the uninterrupted one has not: final fields, history."""
    keys = sorted(k for k in {*whole, *resumed} if k.startswith(("val/", "test/")))
    assert keys
    found = [
        f"{key}: {whole.get(key)!r} uninterrupted, {resumed.get(key)!r} resumed"
        for key in (*keys, *FIELDS)
        if not _same(whole.get(key), resumed.get(key))
    ]
    for key in sorted({*whole["history"], *resumed["history"]}):
        a, b = whole["history"].get(key), resumed["history"].get(key)
        if not _same(a, b):
            found.append(f"history[{key}]: {a} uninterrupted, {b} resumed")
    return found


def _csv_rows(run_dir: Path) -> list[dict[str, str]] | None:
    path = run_dir / "logs" / "metrics.csv"
    if not path.exists():
        return None
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _csv_differences(whole_dir: Path, resumed_dir: Path) -> list[str]:
    whole, resumed = _csv_rows(whole_dir), _csv_rows(resumed_dir)
    if whole is None or resumed is None:
        return [] if whole is resumed else [f"metrics.csv: {whole_dir} vs {resumed_dir}"]
    if [list(r) for r in whole] != [list(r) for r in resumed]:
        return [f"metrics.csv: {len(whole)} rows uninterrupted, {len(resumed)} resumed"]
    found = []
    for index, (a, b) in enumerate(zip(whole, resumed, strict=True)):
        for key, value in a.items():
            same = (value == "") == (b[key] == "")
            if same and value != "":
                same = abs(float(value) - float(b[key])) <= 1e-6
            if not same:
                found.append(f"metrics.csv row {index} {key}: {value!r} vs {b[key]!r}")
    return found


def check_resume(
    make_cfg: Any,
    tmp_path: Path,
    overrides: tuple[str, ...],
    *,
    first: tuple[str, ...] = (f"trainer.max_epochs={FIRST}",),
    then: tuple[str, ...] = (),
    from_best: bool = False,
) -> None:
    """Train ``overrides`` for 6 epochs; train it with ``first`` (3 epochs) in another directory,
    remove its record (what a killed run leaves) and resume it with ``ckpt_path=last`` and
    ``then``; with ``from_best``, resume from the first run's best checkpoint as well, into a
    new directory. Each resumed run must end as the uninterrupted one."""

    def cfg(*more: str) -> Any:
        return make_cfg(*BASE, *overrides, f"trainer.max_epochs={EPOCHS}", *more)

    whole = train(cfg(), tmp_path / "whole")
    assert whole["status"] == "completed"
    start = train(cfg(*first), tmp_path / "resumed")
    assert start["epochs"] < whole["epochs"] or start["steps"] < whole["steps"]
    found = []
    if from_best:  # first: the resume below replaces the best file with a later one
        best = start["best_checkpoint"]
        again = train(cfg(*then, f"ckpt_path={best}"), tmp_path / "best")
        found += [f"from {Path(best).name}: {d}" for d in _differences(whole, again)]
    (tmp_path / "resumed" / "metrics.json").unlink()
    resumed = train(cfg(*then, "ckpt_path=last"), tmp_path / "resumed")
    assert resumed["resumed_from"] == str(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    found += _differences(whole, resumed)
    found += _csv_differences(tmp_path / "whole", tmp_path / "resumed")
    assert not found, "\n".join(found)


def _case(case_id: str, *overrides: str, marks: Any = (), **options: Any) -> Any:
    return pytest.param(overrides, options, id=case_id, marks=marks)


#: Cheap cases that run by default (about 5 s together on 2 cores).
DEFAULT = [
    _case("auto-dropout-csv-best", "model.dropout=0.3", "logger=csv", from_best=True),
    # trainer.max_steps makes Lightning restart an epoch-end checkpoint as if the epoch had
    # not ended: it ran the epoch's end again (a NaN epoch in history, a lost epoch, early
    # stopping failing on its monitor).
    _case("lightning-max_steps-unreached", "trainer.max_steps=1000"),
    _case("lightning-val_check_interval", "runner=lightning", "trainer.val_check_interval=0.5"),
    # Lightning steps a plateau scheduler after the epoch-end checkpoint is saved: the
    # checkpoint lacked the epoch's step, and the resumed run lowered the rate an epoch late
    # (train/lr 0.3 at epoch 4, 0.15 uninterrupted).
    _case("lightning-plateau-lowers-at-resume", "runner=lightning", *PLATEAU_LOWERS, **AFTER_4),
]

SLOW = [
    _case("auto", from_best=True),
    _case("lightning", "runner=lightning", from_best=True),
    _case("epoch", "runner=epoch"),
    _case("epoch-full-batch", "runner=epoch", "data.batch_size=null"),
    _case("lightning-full-batch", "runner=lightning", "data.batch_size=null"),
    _case("lightning-dropout", "runner=lightning", "model.dropout=0.3", from_best=True),
    _case("auto-check_val_every_2", "trainer.check_val_every_n_epoch=2"),
    _case("lightning-check_val_every_2", "runner=lightning", "trainer.check_val_every_n_epoch=2"),
    _case("lightning-max_steps-mid-epoch", "trainer.max_steps=22"),
    _case("lightning-max_steps-early_stopping", "trainer.max_steps=1000", *STOPS_EARLY),
    _case("lightning-max_steps-plateau", "trainer.max_steps=1000", *PLATEAU),
    _case("lightning-max_steps-at_end", "trainer.max_steps=1000", "checkpoint.write=at_end"),
    _case(
        "lightning-max_steps-check_val_every_2",
        "trainer.max_steps=1000",
        "trainer.check_val_every_n_epoch=2",
    ),
    # the first run stopped by max_steps at an epoch's end, resumed without it
    _case(
        "auto-stopped_by_max_steps",
        first=("trainer.max_steps=12",),
        then=("trainer.max_steps=-1",),
    ),
    # README (Resuming): the runner may change; the step count goes on, and so do the steps
    # logged (logs/metrics.csv compared: test_resumed_run_logs_at_the_uninterrupted_steps)
    _case("runner-epoch-then-lightning", "runner=epoch", "logger=csv", then=("runner=lightning",)),
    _case("runner-lightning-then-epoch", "runner=lightning", "logger=csv", then=("runner=epoch",)),
    _case("accumulate_grad_batches", "trainer.accumulate_grad_batches=2"),
    _case("accumulate_grad_batches-3", "trainer.accumulate_grad_batches=3"),
    _case("gradient_clip_val", "trainer.gradient_clip_val=0.5"),
    _case("limit_train_batches", "trainer.limit_train_batches=2"),
    _case("limit_train_batches-fraction", "trainer.limit_train_batches=0.5"),
    _case("auto-early_stopping", *STOPS_EARLY, from_best=True),
    _case("lightning-early_stopping", "runner=lightning", *STOPS_EARLY, from_best=True),
    _case(
        "auto-check_val_every_2-early_stopping", "trainer.check_val_every_n_epoch=2", *STOPS_EARLY
    ),
    _case(
        "lightning-val_check_interval-early_stopping",
        "runner=lightning",
        "trainer.val_check_interval=0.5",
        "early_stopping.enabled=true",
        "early_stopping.patience=1",
        "optimizer.lr=0.05",
    ),
    _case("auto-plateau", *PLATEAU),
    _case("lightning-plateau", "runner=lightning", *PLATEAU),
    _case(
        "lightning-val_check_interval-plateau",
        "runner=lightning",
        "trainer.val_check_interval=0.5",
        *PLATEAU,
    ),
    _case("auto-plateau-lowers-at-resume", *PLATEAU_LOWERS, from_best=True, **AFTER_4),
    _case(
        "lightning-plateau-lowers-at-resume-from-best",
        "runner=lightning",
        *PLATEAU_LOWERS,
        from_best=True,
        **AFTER_4,
    ),
    # runner=auto fits with Lightning's loop for gradient clipping
    _case(
        "gradient_clip_val-plateau-lowers",
        "trainer.gradient_clip_val=0.5",
        *PLATEAU_LOWERS,
        **AFTER_4,
    ),
    _case(
        "lightning-plateau-lowers-at_end",
        "runner=lightning",
        "checkpoint.write=at_end",
        *PLATEAU_LOWERS,
        from_best=True,
        **AFTER_4,
    ),
    _case(
        "lightning-plateau-monitor-train_loss",
        "runner=lightning",
        "scheduler.monitor=train/loss",
        *PLATEAU_LOWERS,
        from_best=True,
    ),
    _case(
        "runner-lightning-then-epoch-plateau",
        "runner=lightning",
        *PLATEAU_LOWERS,
        then=("runner=epoch",),
        **AFTER_4,
    ),
    _case("auto-sgd-momentum", "optimizer=sgd", "optimizer.momentum=0.9", from_best=True),
    _case("lightning-sgd-momentum-plateau", "runner=lightning", "optimizer=sgd", *PLATEAU),
    # cosine spans trainer.max_epochs: stopped by max_steps at an epoch's end, resumed
    # without it, the schedule is the uninterrupted run's
    _case(
        "auto-cosine",
        "scheduler=cosine",
        first=("trainer.max_steps=12",),
        then=("trainer.max_steps=-1",),
    ),
    _case(
        "auto-cosine-more-epochs",
        "scheduler=cosine",
        marks=pytest.mark.xfail(strict=True, raises=ConfigError, reason=COSINE_REFUSED),
    ),
    _case("auto-at_end", "checkpoint.write=at_end"),
    _case("lightning-at_end", "runner=lightning", "checkpoint.write=at_end"),
    _case(
        "auto-at_end-check_val_every_2",
        "checkpoint.write=at_end",
        "trainer.check_val_every_n_epoch=2",
    ),
    _case("auto-monitored", "epoch_metrics=monitored"),
    _case("lightning-monitored", "runner=lightning", "epoch_metrics=monitored"),
    _case(
        "auto-monitored-check_val_every_2",
        "epoch_metrics=monitored",
        "trainer.check_val_every_n_epoch=2",
    ),
    _case("auto-logger-none", "logger=none", from_best=True),
    _case("lightning-logger-none", "runner=lightning", "logger=none"),
]


@pytest.mark.parametrize(("overrides", "options"), DEFAULT)
def test_resumed_run_ends_as_the_uninterrupted_run(make_cfg, tmp_path, overrides, options):
    check_resume(make_cfg, tmp_path, overrides, **options)


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "options"), SLOW)
def test_resumed_run_ends_as_the_uninterrupted_run_across_options(
    make_cfg, tmp_path, overrides, options
):
    check_resume(make_cfg, tmp_path, overrides, **options)


def _logged_steps(run_dir: Path) -> list[tuple[str, str]]:
    """The ``(epoch, step)`` of each ``metrics.csv`` row of a training epoch."""
    rows = _csv_rows(run_dir)
    assert rows is not None, run_dir
    return [(row["epoch"], row["step"]) for row in rows if row.get("train/loss")]


#: An epoch of BASE's rows, each at the index of its epoch's last optimizer step.
LOGGED_STEPS = [(str(epoch), str(4 * epoch + 3)) for epoch in range(EPOCHS)]


@pytest.mark.parametrize(
    ("first", "then"),
    [("epoch", "lightning"), ("lightning", "epoch"), ("vectorized", "lightning")],
    ids=lambda runner: runner,
)
def test_resumed_run_logs_at_the_uninterrupted_steps(make_cfg, tmp_path, first, then):
    """A run resumed under another runner (from a vectorized member's ``last.ckpt`` too) logs
    its epochs in ``logs/metrics.csv`` at the uninterrupted run's steps, and ends as that run.
    The checkpoint's runner used to save one step per epoch for Lightning's loggers: resumed
    under Lightning's loop, the epochs after it were logged at steps the first run had
    logged at (3/15 logged as 3/6)."""

    def cfg(*more: str) -> Any:
        return make_cfg(*BASE, "logger=csv", *more)

    resumed_dir = tmp_path / "resumed"
    if first == "vectorized":
        whole = train(cfg("seed=42", f"trainer.max_epochs={EPOCHS}"), tmp_path / "whole")
        cfgs = [cfg(f"trainer.max_epochs={FIRST}", f"seed={seed}") for seed in (0, 42)]
        started = train_group(cfgs, [tmp_path / "other", resumed_dir])
        assert [r["training_loop"] for r in started] == ["vectorized"] * 2
        (resumed_dir / "metrics.json").unlink()
        overrides = (f"runner={then}", f"trainer.max_epochs={EPOCHS}", "ckpt_path=last")
        resumed = train(cfg("seed=42", *overrides), resumed_dir)
        found = _differences(whole, resumed) + _csv_differences(tmp_path / "whole", resumed_dir)
        assert not found, "\n".join(found)
    else:
        check_resume(
            make_cfg, tmp_path, (f"runner={first}", "logger=csv"), then=(f"runner={then}",)
        )
    assert _logged_steps(tmp_path / "whole") == LOGGED_STEPS
    assert _logged_steps(resumed_dir) == LOGGED_STEPS
    # and its last.ckpt holds the steps for Lightning's loggers, as an uninterrupted run's
    for run_dir in (tmp_path / "whole", resumed_dir):
        checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
        logging_step = checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"]
        assert logging_step["_batches_that_stepped"] == checkpoint["global_step"] == 4 * EPOCHS


def test_onecycle_run_ended_by_max_steps_resumes_with_more_epochs(make_cfg, tmp_path):
    """trainer.max_steps ends both runs, so another trainer.max_epochs keeps the one-cycle
    schedule's optimizer steps: resuming from an earlier epoch (the best checkpoint) is
    accepted, and ends as the uninterrupted run."""
    # 5 epochs; SGD at lr=2 overshoots past the cycle's peak: the best epoch is the second
    steps = ("scheduler=onecycle", "trainer.max_steps=20", "optimizer=sgd", "optimizer.lr=2.0")

    def cfg(*more: str) -> Any:
        return make_cfg(*BASE, *steps, *more)

    whole = train(cfg(f"trainer.max_epochs={EPOCHS}"), tmp_path / "whole")
    assert whole["steps"] == 20 and whole["epochs"] == 5
    start = train(cfg("trainer.max_epochs=10"), tmp_path / "first")
    assert start["best_epoch"] < start["epochs"] - 1, start["best_epoch"]
    best = start["best_checkpoint"]
    again = train(cfg(f"trainer.max_epochs={EPOCHS}", f"ckpt_path={best}"), tmp_path / "best")
    assert not _differences(whole, again), _differences(whole, again)


@pytest.mark.slow
def test_a_run_with_max_steps_resumed_from_the_command_line(tmp_path):
    """The user's path: ``lossbench-train ... ckpt_path=last`` in the run's own directory."""
    args = (*BASE, "logger=csv", "trainer.max_steps=1000")

    def run(run_dir: Path, *more: str) -> None:
        result = run_module(
            "lossbench.train", *args, *more, f"hydra.run.dir={run_dir}", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr

    run(tmp_path / "whole", f"trainer.max_epochs={EPOCHS}")
    run(tmp_path / "resumed", f"trainer.max_epochs={FIRST}")
    (tmp_path / "resumed" / "metrics.json").unlink()
    run(tmp_path / "resumed", f"trainer.max_epochs={EPOCHS}", "ckpt_path=last")

    whole, resumed = (
        json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("whole", "resumed")
    )
    found = _differences(whole, resumed) + _csv_differences(
        tmp_path / "whole", tmp_path / "resumed"
    )
    assert not found, "\n".join(found)
