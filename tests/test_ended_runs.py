"""Whether a resume of a run's own ``last.ckpt`` finishes a run that had ended (and has no
record), decided from what the checkpoint saved: its steps against ``trainer.max_steps``, its
``Timer`` state against the time limit, its ``EarlyStopping`` state, its epochs against
``trainer.max_epochs``. Such a resume is accepted, trains nothing and records the run; any
other resume that the caps leave nothing to train is refused as before.

The real processes killed after such runs' last epoch: ``tests/test_stopped_runs_finish.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lossbench.checkpoint import CheckpointError, check_resume
from lossbench.ended_runs import how_the_run_ended
from lossbench.train import check_left_to_train
from lossbench.validation import ConfigError

TIMER = {"_target_": "lightning.pytorch.callbacks.Timer", "duration": "00:00:00:20"}
EARLY_STOPPING = "EarlyStopping{'monitor': 'val/nll', 'mode': 'min'}"


def _cfg(*, callbacks: dict | None = None, **trainer) -> object:
    return OmegaConf.create(
        {
            "trainer": {"max_epochs": 10, "max_steps": -1, "max_time": None, **trainer},
            "callbacks": callbacks or {},
        }
    )


def _elapsed(seconds: float, key: str = "Timer") -> dict:
    return {key: {"time_elapsed": {"train": seconds, "validate": 1.0}}}


def _stopping(reason: int, wait: int, epoch: int) -> dict:
    state = {"wait_count": wait, "stopped_epoch": epoch, "patience": 2, "stopping_reason": reason}
    return {EARLY_STOPPING: state}


def _processed(epochs: int) -> dict:
    return {"fit_loop": {"epoch_progress": {"total": {"processed": epochs}}}}


#: (config, checkpoint, what ended its run): runs that ended before trainer.max_epochs=10.
ENDED = {
    "max_steps": (_cfg(max_steps=22), {"epoch": 2, "global_step": 22}, "trainer.max_steps=22"),
    "max_time": (
        _cfg(max_time="00:00:00:25"),
        {"epoch": 2, "global_step": 19, "callbacks": _elapsed(29.0)},
        "trainer.max_time=00:00:00:25",
    ),
    "timer_callback": (
        _cfg(callbacks={"timer": TIMER}),
        {"epoch": 5, "global_step": 6, "callbacks": _elapsed(25.0)},
        "callbacks.timer.duration=00:00:00:20",
    ),
    "early_stopping": (
        _cfg(),
        {"epoch": 8, "global_step": 9, "callbacks": _stopping(3, 2, 8)},
        "early stopping",
    ),
    # checkpoint.write=at_end saves it with the next epoch's counter: 9 epochs trained, not 10
    "early_stopping-at_end": (
        _cfg(),
        {"epoch": 9, "global_step": 9, "callbacks": _stopping(3, 2, 8), "loops": _processed(9)},
        "early stopping",
    ),
}


@pytest.mark.parametrize("case", list(ENDED))
def test_what_ended_the_run_is_read_from_its_checkpoint(case):
    cfg, checkpoint, ended = ENDED[case]
    assert how_the_run_ended(cfg, checkpoint) == ended


@pytest.mark.parametrize(
    ("cfg", "checkpoint"),
    [
        (_cfg(max_steps=30), {"epoch": 2, "global_step": 22}),  # steps left
        (_cfg(max_steps=20), {"epoch": 2, "global_step": 22}),  # a cap lowered: not its end
        (_cfg(max_time="00:00:00:30"), {"epoch": 2, "callbacks": _elapsed(29.0)}),
        (_cfg(), {"epoch": 2, "callbacks": _stopping(0, 1, 0)}),  # patience not used up
        (_cfg(max_epochs=12), {"epoch": 10}),
        (_cfg(), {"epoch": 9, "loops": _processed(9)}),  # at_end: 9 epochs, the cap 10
    ],
    ids=["steps-left", "cap-lowered", "time-left", "not-stopped", "epochs-left", "at_end"],
)
def test_a_run_that_had_not_ended_is_not_taken_for_ended(cfg, checkpoint):
    assert how_the_run_ended(cfg, checkpoint) is None


@pytest.mark.parametrize("case", ["max_steps", "max_time", "timer_callback"])
def test_the_own_last_checkpoint_of_an_ended_run_without_its_record_is_finished(tmp_path, case):
    """The run's own last.ckpt, no metrics.json: the resume is accepted (it used to be refused:
    the cap "leaves none to train"); with the record, or another directory's run, it is
    refused as before."""
    cfg, checkpoint, ended = ENDED[case]
    run = tmp_path / "run"
    last = run / "checkpoints" / "last.ckpt"
    check_left_to_train(cfg, checkpoint, last, run)  # accepted: finishes the run

    with pytest.raises(ConfigError, match="leaves none to train"):
        check_left_to_train(cfg, checkpoint, last, tmp_path / "other")  # another run's
    with pytest.raises(ConfigError, match="leaves none to train"):
        check_left_to_train(cfg, checkpoint, run / "checkpoints" / "best-epoch002.ckpt", run)
    run.mkdir(exist_ok=True)
    (run / "metrics.json").write_text(json.dumps({"status": "failed"}))
    with pytest.raises(ConfigError, match=f"{ended.split('=')[0]}.*leaves none to train"):
        check_left_to_train(cfg, checkpoint, last, run)  # its record exists


def test_a_checkpoint_saved_within_an_epoch_is_accepted_only_where_its_run_had_ended():
    """trainer.max_steps (or a time limit) can end a run within an epoch: its last.ckpt holds
    the epoch's first batches only, which a resume cannot continue, but one that finishes the
    ended run continues nothing."""
    progress = {"current": {"completed": 4}, "is_last_batch": False}
    checkpoint = {
        "epoch": 2,
        "global_step": 22,
        "loops": {"fit_loop": {"epoch_loop.batch_progress": progress}},
    }
    path = Path("run/checkpoints/last.ckpt")
    with pytest.raises(CheckpointError, match="saved within epoch 2, after 4 of its"):
        check_resume(checkpoint, path, {}, None)
    with pytest.raises(CheckpointError) as caught:  # checked on: the training it continues
        check_resume(checkpoint, path, {}, None, ended=True)
    assert "within epoch" not in str(caught.value)
    assert "hyper-parameters" in str(caught.value)  # this one has none
