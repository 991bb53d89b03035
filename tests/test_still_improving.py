"""A single run that ended at its cap while still improving says so; one that converged, was
stopped early, or is a job of a sweep does not."""

from __future__ import annotations

import warnings

import pytest
from omegaconf import OmegaConf

from lossbench.still_improving import StillImprovingWarning, still_improving_message
from lossbench.training import train


def _improving(recorded: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in recorded if w.category is StillImprovingWarning]


def test_a_run_at_its_epoch_cap_while_improving_warns_with_the_fix(make_cfg, tmp_path) -> None:
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        record = train(make_cfg("data=wine"), tmp_path / "run")
    assert record["stopped_by"] == "budget" and record["epochs"] == 2
    nll = record["history"]["val/nll"]
    assert nll[1] < nll[0]  # improving at the cap: what the warning says
    assert _improving(recorded) == [
        "the run reached trainer.max_epochs=2 while val/nll was still improving (best at "
        "epoch 1, its last): a longer run may end elsewhere. Train longer (e.g. "
        "trainer.max_epochs=4), or with early_stopping.enabled=true, which ends the run once "
        "val/nll has not improved for early_stopping.patience=5 validations."
    ]


def test_the_best_epoch_is_named_only_where_the_checkpoint_monitors_that_metric(
    make_cfg, tmp_path
) -> None:
    """best_epoch is the checkpoint's; with checkpoint.monitor=val/saturated it is not where
    val/nll, the metric the warning is about, was best."""
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        record = train(make_cfg("data=wine", "checkpoint.monitor=val/saturated"), tmp_path / "r")
    assert record["stopped_by"] == "budget" and record["epochs"] == 2
    (message,) = _improving(recorded)
    assert message.startswith(
        "the run reached trainer.max_epochs=2 while val/nll was still improving: a longer run"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        # early stopping on: no gain counts (min_delta), so patience 1 stops it at epoch 1
        ("early_stopping.enabled=true", "early_stopping.patience=1", "early_stopping.min_delta=9"),
        # off: the same rule, replayed on the history, says the run had converged
        ("early_stopping.patience=1", "early_stopping.min_delta=9", "trainer.max_epochs=3"),
    ],
    ids=["stopped-early", "converged-without-early-stopping"],
)
def test_a_run_that_stopped_improving_does_not_warn(make_cfg, tmp_path, overrides) -> None:
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        record = train(make_cfg("data=wine", *overrides), tmp_path / "run")
    assert record["status"] == "completed"
    assert _improving(recorded) == []


def test_a_job_of_a_sweep_does_not_warn(make_cfg, tmp_path) -> None:
    """Its report counts the runs still improving at the cap, per setup."""
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        record = train(make_cfg("data=wine"), tmp_path / "run", multirun=True)
    assert record["stopped_by"] == "budget"
    assert _improving(recorded) == []


def _cfg(**trainer: object):
    return OmegaConf.create(
        {
            "optimized_metric": "val/accuracy",
            "trainer": {"max_epochs": 10, "max_steps": -1, "max_time": None, **trainer},
            "early_stopping": {"enabled": True, "patience": 3, "min_delta": 0.0},
        }
    )


RECORD = {"stopped_by": "budget", "epochs": 4, "steps": 40, "best_epoch": 2}


@pytest.mark.parametrize(
    ("trainer", "cap", "longer"),
    [
        ({"max_epochs": 4}, "trainer.max_epochs=4 ", "trainer.max_epochs=8)"),
        ({"max_steps": 40}, "trainer.max_steps=40 ", "trainer.max_steps=80)"),
        ({"max_time": "00:00:01:00"}, "trainer.max_time=00:00:01:00 ", "a longer trainer.max_"),
    ],
)
def test_the_warning_names_the_cap_that_ended_the_run(trainer, cap, longer) -> None:
    """With early stopping on, reaching a cap means its patience had not run out."""
    message = still_improving_message(_cfg(**trainer), RECORD)
    assert message is not None
    assert message.startswith(f"the run reached {cap}while val/accuracy was still improving")
    assert "(best at epoch 2 of 0-3)" in message and longer in message
    assert "early_stopping.enabled=true" not in message  # it was on


@pytest.mark.parametrize("max_time", [None, "00:01:00:00"])
@pytest.mark.parametrize(
    ("epochs", "steps", "best"),
    [(3, 716, "(best at epoch 2, its last)"), (6, 2024, "(best at epoch 2 of 0-5)")],
    ids=["third-epoch", "last-epoch"],
)
def test_a_timer_callback_that_ended_the_run_is_named_with_its_fix(
    max_time, epochs, steps, best
) -> None:
    """A Timer callback's duration ended the run (Lightning takes it instead of
    trainer.max_time) in its third of six epochs, or within its last, which Lightning counts
    as the sixth: 2024 steps of 6 x 341. The warning names the duration and the fix, a longer
    one, not "the trainer's cap" or trainer.max_epochs."""
    cfg = _cfg(max_epochs=6, max_time=max_time)
    cfg.data = {"batch_size": 1}
    cfg.callbacks = {
        "timer": {"_target_": "lightning.pytorch.callbacks.Timer", "duration": "00:00:00:01"}
    }
    record = {**RECORD, "epochs": epochs, "steps": steps, "sizes": {"train": 341}}
    message = still_improving_message(cfg, record)
    assert message is not None
    assert message.startswith(
        "the run reached callbacks.timer.duration=00:00:00:01 while val/accuracy was still "
        f"improving {best}"
    )
    assert "Train longer (e.g. a longer callbacks.timer.duration): early stopping" in message
    assert "trainer's cap" not in message and "trainer.max_" not in message


def test_a_debug_run_does_not_warn() -> None:
    debug = {**RECORD, "debug_run": "trainer.fast_dev_run=true"}
    assert still_improving_message(_cfg(max_epochs=4), debug) is None


def test_a_run_still_improving_on_a_perfectly_classified_validation_split_says_so(
    make_cfg, tmp_path
) -> None:
    """wine at lr 0.01 classifies its whole validation split correctly by epoch 30 and its NLL
    still falls: a longer run only lowers it further, so the warning adds weight decay."""
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        record = train(
            make_cfg("data=wine", "optimizer.lr=0.01", "trainer.max_epochs=30"), tmp_path / "run"
        )
    assert record["stopped_by"] == "budget" and record["val/accuracy"] == 1.0
    (message,) = _improving(recorded)
    assert "Train longer" not in message  # a longer run would not settle it
    assert message.endswith(
        "a longer run may end elsewhere. It classifies every validation example correctly: "
        "there the NLL falls toward 0 for as long as the weights grow, and a longer run lowers "
        "it without settling it; weight decay (optimizer.weight_decay, e.g. 0.001) gives it a "
        "minimum."
    )


def test_a_run_with_weight_decay_on_a_perfectly_classified_split_is_told_to_train_longer(
    make_cfg, tmp_path
) -> None:
    """With weight decay its NLL has a minimum: more epochs reach it, so the usual fix."""
    with warnings.catch_warnings(record=True) as recorded:
        warnings.simplefilter("always")
        cfg = make_cfg(
            "data=wine",
            "optimizer.lr=0.01",
            "trainer.max_epochs=30",
            "optimizer.weight_decay=0.001",
        )
        record = train(cfg, tmp_path / "run")
    assert record["stopped_by"] == "budget" and record["val/accuracy"] == 1.0
    (message,) = _improving(recorded)
    assert "Train longer (e.g. trainer.max_epochs=60)" in message
    assert "classifies every validation example" not in message
