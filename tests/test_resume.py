"""Resuming a run: a killed run, resumed, ends where an uninterrupted run ends, bit for bit."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from cli_process import run_module
from lossbench.checkpoint import CheckpointError, check_resume, history, load_checkpoint
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.errors import UserInputError
from lossbench.module import ClassifierModule, resolved_loss
from lossbench.record import RunExistsError, read_record
from lossbench.train import preflight
from lossbench.training import train
from lossbench.validation import ConfigError
from run_files import epoch_of, files_below

REPO = Path(__file__).resolve().parents[1]
#: dropout > 0: a resumed run must also continue the random number generator.
RUN = (
    "data=digits",
    "model.dropout=0.2",
    "optimizer.lr=3e-4",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)


def _final(record: dict) -> dict:
    keys = [k for k in record if k.startswith(("val/", "test/"))]
    assert keys
    return {k: record[k] for k in [*keys, "epochs", "steps", "best_epoch", "history"]}


def test_resumed_run_ends_with_the_metrics_of_an_uninterrupted_run(make_cfg, tmp_path):
    """The in-process twin of the kill test below: the first attempt stops after 2 of 4 epochs
    without a record (as a killed run does), and ckpt_path=last continues it."""
    whole = train(make_cfg(*RUN, "trainer.max_epochs=4"), tmp_path / "whole")
    first = train(make_cfg(*RUN, "trainer.max_epochs=2"), tmp_path / "resumed")
    assert first["epochs"] == 2
    (tmp_path / "resumed" / "metrics.json").unlink()  # what a killed run leaves: no record
    resumed = train(make_cfg(*RUN, "trainer.max_epochs=4", "ckpt_path=last"), tmp_path / "resumed")
    assert resumed["resumed_from"] == str(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    assert _final(resumed) == _final(whole)
    assert len(resumed["history"]["train/loss"]) == 4  # the full per-epoch history
    # the resumed run's checkpoints keep the splits' fingerprints, which lossbench-eval compares
    last = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")
    assert set(last["lossbench_metadata"]["split_sha256"]) == {"train", "val", "test"}


@pytest.mark.slow  # two short training runs
def test_a_resume_that_trains_no_epoch_records_the_epochs_of_its_checkpoint(make_cfg, tmp_path):
    """A resumed fit that stops before its first epoch ends (here its Timer's time is used up,
    which the command line refuses before the run) counts the checkpoint's epochs, not one
    less."""
    iris = ("data=iris", "logger=none", "trainer.enable_progress_bar=false")
    timed = (*iris, "trainer.max_epochs=4", "trainer.max_time=00:00:01:00")
    first = train(make_cfg(*timed[:-2], "trainer.max_epochs=2", timed[-1]), tmp_path / "first")
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["callbacks"]["Timer"]["time_elapsed"]["train"] = 61.0  # the minute used up
    torch.save(checkpoint, last)
    again = train(make_cfg(*timed, f"ckpt_path={last}"), tmp_path / "again")
    assert again["steps"] == first["steps"]  # nothing trained
    assert (first["epochs"], again["epochs"]) == (2, 2)


def test_a_run_trained_on_in_a_new_directory_keeps_the_best_epoch_it_had(make_cfg, tmp_path):
    """``ckpt_path=<last.ckpt of a finished run>`` into another directory: the best epoch so far
    (epoch 0: lr=0.5 overshoots after it) stays the best, as in the uninterrupted run, and the
    new directory holds its own copy of the best checkpoint; the first run's files stay."""
    iris = ("data=iris", "loss=cross_entropy", "optimizer.lr=0.5", "logger=none")
    whole = train(make_cfg(*iris, "trainer.max_epochs=4"), tmp_path / "whole")
    first = train(make_cfg(*iris, "trainer.max_epochs=2"), tmp_path / "first")
    assert whole["best_epoch"] == first["best_epoch"] < 2
    before = sorted(p.name for p in (tmp_path / "first" / "checkpoints").iterdir())
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    on = train(make_cfg(*iris, "trainer.max_epochs=4", f"ckpt_path={last}"), tmp_path / "on")
    assert _final(on) == _final(whole)
    assert sorted(p.name for p in (tmp_path / "first" / "checkpoints").iterdir()) == before
    best = Path(on["best_checkpoint"])
    assert best.parent == tmp_path / "on" / "checkpoints" and best.is_file()


#: breast_cancer at lr 0.1: val/nll rises at epoch 1 (early stopping with patience 1 asks to
#: stop there), falls at 2, rises at 3, falls at 4 and 5, rises at 6.
OVERRIDDEN = (
    "data=breast_cancer", "data.batch_size=32", "optimizer.lr=0.1",
    "early_stopping.enabled=true", "early_stopping.patience=1",
)  # fmt: skip


@pytest.mark.parametrize("runner", ["auto", "lightning"])
def test_a_stop_that_min_epochs_overrode_is_no_stop(make_cfg, tmp_path, runner, caplog):
    """trainer.min_epochs carried the run to its cap, still improving: it records budget
    (with the still-improving warning), and a higher trainer.max_epochs trains on from its
    last.ckpt to the uninterrupted run with that cap. It used to record early_stopping and
    train nothing more: Lightning keeps early stopping's stop once asked."""
    from lossbench.still_improving import still_improving_message

    run = (*OVERRIDDEN, f"runner={runner}", "trainer.min_epochs=5")
    cfg = make_cfg(*run, "trainer.max_epochs=5")
    capped = train(cfg, tmp_path / "capped")
    assert capped["stopped_by"] == "budget" and capped["epochs"] == 5
    assert capped["best_epoch"] == 4 and still_improving_message(cfg, capped) is not None
    whole = train(make_cfg(*run, "trainer.max_epochs=8"), tmp_path / "whole")
    assert whole["stopped_by"] == "early_stopping" and 5 < whole["epochs"] < 8
    last = tmp_path / "capped" / "checkpoints" / "last.ckpt"
    longer = train(make_cfg(*run, "trainer.max_epochs=8", f"ckpt_path={last}"), tmp_path / "on")
    assert _final(longer) == _final(whole) and longer["stopped_by"] == "early_stopping"
    # a checkpoint saved where early stopping asked before the minimum (epoch 1) trains on
    # to the uninterrupted run, and does not say that no further epoch is trained
    train(make_cfg(*OVERRIDDEN, f"runner={runner}", "trainer.max_epochs=2"), tmp_path / "two")
    last = tmp_path / "two" / "checkpoints" / "last.ckpt"
    minimum = (*OVERRIDDEN, f"runner={runner}", "trainer.min_epochs=4", "trainer.max_epochs=6")
    whole = train(make_cfg(*minimum), tmp_path / "whole4")
    assert whole["stopped_by"] == "early_stopping" and whole["epochs"] == 4
    caplog.clear()
    resumed = train(make_cfg(*minimum, f"ckpt_path={last}"), tmp_path / "resumed4")
    assert _final(resumed) == _final(whole) and resumed["stopped_by"] == "early_stopping"
    assert "no further epoch is trained" not in caplog.text


@pytest.mark.slow  # three runs of the command
def test_a_run_max_steps_ended_within_an_epoch_trains_on_from_the_checkpoint_named(tmp_path):
    """trainer.max_steps ended the run within its second epoch: its last.ckpt holds that point,
    which no resume can continue exactly. The refusal used to send the user to that very file;
    it names the run's newest checkpoint saved at an epoch's end, and resuming from that one
    with a higher trainer.max_steps ends as the uninterrupted run does."""
    run = ("data=breast_cancer", "data.batch_size=32", "trainer.max_epochs=4",
           "trainer.enable_progress_bar=false", "logger=none")  # fmt: skip
    first = run_module(
        "lossbench.train",
        *run,
        "trainer.max_steps=15",
        f"hydra.run.dir={tmp_path / 'first'}",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    best = tmp_path / "first" / "checkpoints" / "best-epoch000.ckpt"
    assert "Train longer (e.g. trainer.max_steps=30)" in first.stderr
    assert f"resume from {str(best)!r} instead" in first.stderr  # the warning says where from
    refused = run_module(
        "lossbench.train",
        *run,
        "trainer.max_steps=44",
        f"ckpt_path={last}",
        f"hydra.run.dir={tmp_path / 'refused'}",
        cwd=tmp_path,
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "saved within epoch 1" in refused.stderr
    assert f"Resume from {str(best)!r} instead" in refused.stderr
    assert "Resume from the run's last.ckpt" not in refused.stderr
    assert not (tmp_path / "refused").exists()
    resumed = run_module(
        "lossbench.train",
        *run,
        "trainer.max_steps=44",
        f"ckpt_path={best}",
        f"hydra.run.dir={tmp_path / 'resumed'}",
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr
    whole = run_module(
        "lossbench.train",
        *run,
        "trainer.max_steps=44",
        f"hydra.run.dir={tmp_path / 'whole'}",
        cwd=tmp_path,
    )
    assert whole.returncode == 0, whole.stderr
    records = [read_record(tmp_path / name) for name in ("resumed", "whole")]
    assert records[0]["steps"] == 44 and _final(records[0]) == _final(records[1])


def test_a_checkpoint_within_the_first_epoch_names_no_file_to_resume(tmp_path):
    """Where the run has no checkpoint saved at an epoch's end (a cap within its first
    epoch), the refusal says to train a new run, not to resume from the file it refuses."""
    progress = {"current": {"completed": 4}, "is_last_batch": False}
    loops = {"fit_loop": {"epoch_loop.batch_progress": progress}}
    checkpoint = {"epoch": 0, "global_step": 4, "loops": loops}
    (tmp_path / "checkpoints").mkdir()
    path = tmp_path / "checkpoints" / "last.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as caught:
        check_resume(checkpoint, path, {}, None)
    assert (
        "None of the checkpoints its run kept was saved at an epoch's end (last.ckpt was saved "
        "within an epoch): train a new run"
    ) in str(caught.value)
    assert "Resume from" not in str(caught.value)


def test_where_every_kept_checkpoint_was_saved_within_an_epoch_the_note_names_them(tmp_path):
    """A time limit ended the run in its third epoch: the epoch-end last.ckpt of its first two
    epochs was overwritten where it stopped, and its best checkpoint came from a validation
    within an epoch. The run did write checkpoints at epochs' ends, so the note does not say
    it wrote none, nor that it stopped within its first epoch: it names the files it kept."""
    from lossbench.checkpoint import within_epoch_note

    progress = {"current": {"completed": 34}, "is_last_batch": False}
    loops = {"fit_loop": {"epoch_loop.batch_progress": progress}}
    state = {"optimizer_states": [], "lr_schedulers": [], "callbacks": {}}
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name, step in (("last.ckpt", 716), ("best-epoch002.ckpt", 700)):
        torch.save({"epoch": 2, "global_step": step, "loops": loops, **state}, folder / name)
    note = within_epoch_note(folder / "last.ckpt")
    assert note == (
        " Its last.ckpt was saved within an epoch, where the cap ended the run, and a resume "
        "cannot continue it: none of the checkpoints its run kept was saved at an epoch's end "
        "(best-epoch002.ckpt and last.ckpt were saved within an epoch): train a new run in "
        "another directory, without ckpt_path."
    )
    assert "wrote no checkpoint" not in note and "first epoch" not in note


@pytest.mark.parametrize("runner", ["auto", "lightning"])
def test_a_run_early_stopping_ended_resumes_to_its_end_not_to_more_epochs(
    make_cfg, tmp_path, runner
):
    """Killed after the stopping epoch's checkpoint, before its record (or trained on with a
    higher cap): the resumed run stops where the run alone stopped, with its best epoch and
    metrics. It used to train on (digits: 5 epochs became 8, the best epoch 3 became 6)."""
    stop = (
        "data=iris", "optimizer.lr=0.05", "logger=none", f"runner={runner}",
        "early_stopping.enabled=true", "early_stopping.patience=2",
        "early_stopping.min_delta=0.05",
    )  # fmt: skip
    whole = train(make_cfg(*stop, "trainer.max_epochs=60"), tmp_path / "whole")
    assert whole["stopped_by"] == "early_stopping" and whole["epochs"] < 60
    killed = train(make_cfg(*stop, "trainer.max_epochs=60"), tmp_path / "killed")
    (tmp_path / "killed" / "metrics.json").unlink()  # what a kill after the checkpoint leaves
    resumed = train(make_cfg(*stop, "trainer.max_epochs=60", "ckpt_path=last"), tmp_path / "killed")
    assert resumed["stopped_by"] == "early_stopping"
    assert _final(resumed) == _final(whole) == _final(killed)
    last = tmp_path / "whole" / "checkpoints" / "last.ckpt"
    longer = train(make_cfg(*stop, "trainer.max_epochs=90", f"ckpt_path={last}"), tmp_path / "on")
    assert _final(longer) == _final(whole) and longer["stopped_by"] == "early_stopping"


@pytest.mark.slow
def test_validating_within_epochs_keeps_last_at_epoch_ends_and_refuses_a_mid_epoch_resume(
    make_cfg, tmp_path
):
    """trainer.val_check_interval=0.5: last.ckpt was also written at the validation halfway,
    so a run killed after it resumed within the epoch and every metric differed (test/nll
    0.148 against 0.140). last.ckpt is now always an epoch's end; a best checkpoint saved
    halfway cannot be continued exactly and is refused, on the command line too."""
    from lossbench.lightning_internals import batches_within_epoch

    run = ("data=breast_cancer", "data.batch_size=8", "trainer.val_check_interval=0.5",
           "logger=none", "optimizer.lr=0.01")  # fmt: skip
    first = train(make_cfg(*run, "trainer.max_epochs=3"), tmp_path / "first")
    last = load_checkpoint(tmp_path / "first" / "checkpoints" / "last.ckpt")
    assert batches_within_epoch(last) == 0 and last["global_step"] == first["steps"]
    best = Path(first["best_checkpoint"])
    assert batches_within_epoch(load_checkpoint(best)) == 42  # of 43: the second validation
    cfg = make_cfg(*run, "trainer.max_epochs=6", f"ckpt_path={best}")
    with pytest.raises(UserInputError, match=r"saved within epoch 2, after 42 of its training"):
        preflight(cfg, tmp_path / "again")
    args = (*run, "trainer.max_epochs=6", f"ckpt_path={best}", f"hydra.run.dir={tmp_path / 'cli'}")
    result = run_module("lossbench.train", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert f"Resume from {str(last)!r} instead" in result.stderr
    assert not (tmp_path / "cli").exists()
    # stopped before its first epoch's end: the best checkpoint halfway, no last.ckpt. Neither
    # ckpt_path=last nor the plain command may send the user to the checkpoint they refuse
    stopped = tmp_path / "stopped"
    (stopped / "checkpoints").mkdir(parents=True)
    shutil.copy(best, stopped / "checkpoints" / "best-epoch000.ckpt")
    for resume in (("ckpt_path=last",), ()):
        args = (*run, "trainer.max_epochs=6", *resume, f"hydra.run.dir={stopped}")
        result = run_module("lossbench.train", *args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, resume
        assert "best-epoch000.ckpt was saved within epoch 2" in result.stderr, resume
        assert "ckpt_path=" not in result.stderr.split("refused:")[1].replace(
            "ckpt_path=last:", ""
        ), resume
        assert "checkpoint.write=at_end writes it only when training ends" in result.stderr
        assert "another" in result.stderr and "directory" in result.stderr


def test_a_refused_resume_in_a_sweep_leaves_the_runs_config_so_it_is_refused_again(
    make_cfg, tmp_path
):
    """A sweep job told to resume with another seed is refused; its config.yaml used to be
    replaced first, so the same command was then accepted and mixed the two seeds."""
    iris = ("data=iris", "logger=none", "trainer.max_epochs=3")
    job = tmp_path / "0_job"
    train(make_cfg(*iris, "trainer.max_epochs=1"), job, multirun=True)
    (job / "metrics.json").unlink()  # interrupted
    before = (job / "config.yaml").read_text()
    for _ in range(2):
        record = train(make_cfg(*iris, "seed=5", "ckpt_path=last"), job, multirun=True)
        assert record["refused"] is True and "seed: checkpoint's run" in record["error"]
        assert (job / "config.yaml").read_text() == before
        (job / "metrics.json").unlink()  # the refusal's record, as an interrupted job has none


@pytest.mark.parametrize("runner", ["auto", "lightning"])
def test_runs_validating_every_third_epoch_resume_from_last_and_from_best(
    make_cfg, tmp_path, runner
):
    """With ``check_val_every_n_epoch=3`` Lightning saves at the validation, before the
    epoch's end: ``last.ckpt`` was left there (the epoch without its training metrics), and a
    resume from it or from the best file crashed on the epoch's empty training metrics.
    ``last.ckpt`` is now rewritten at the epoch's end (the resume equals the whole run); a
    resume from the best file gets NaN training metrics for that one epoch, the rest equal."""
    run = ("data=wine", "trainer.check_val_every_n_epoch=3", f"runner={runner}", "logger=none")
    whole = train(make_cfg(*run, "trainer.max_epochs=9"), tmp_path / "whole")
    first = train(make_cfg(*run, "trainer.max_epochs=6"), tmp_path / "first")
    assert first["history"]["val/epoch"] == [3.0, 6.0]
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert len(history(load_checkpoint(last))["train/loss"]) == 6  # the epoch's end
    on = train(make_cfg(*run, "trainer.max_epochs=9", f"ckpt_path={last}"), tmp_path / "on")
    assert _final(on) == _final(whole)
    best = Path(first["best_checkpoint"])
    assert len(history(load_checkpoint(best))["train/loss"]) == 5  # saved at the validation
    again = train(make_cfg(*run, "trainer.max_epochs=9", f"ckpt_path={best}"), tmp_path / "best")
    assert again["status"] == "completed" and again["epochs"] == 9
    train_loss = again["history"]["train/loss"]
    assert train_loss[5] is None or train_loss[5] != train_loss[5]  # NaN: not known
    assert (
        train_loss[:5] + train_loss[6:]
        == whole["history"]["train/loss"][:5] + whole["history"]["train/loss"][6:]
    )
    assert again["history"]["train/lr"] == whole["history"]["train/lr"]
    for key, values in whole["history"].items():
        if not key.startswith("train/"):
            assert again["history"][key] == values, key
    assert {k: again[k] for k in again if k.startswith(("val/", "test/"))} == {
        k: whole[k] for k in whole if k.startswith(("val/", "test/"))
    }


def _csv_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "logs" / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_resumed_run_keeps_every_epoch_in_metrics_csv(make_cfg, tmp_path):
    """Resuming in the run's own directory continues logs/metrics.csv: the epochs before the
    checkpoint stay, the epochs after it (trained again) are replaced, and the file ends as an
    uninterrupted run's, row for row."""
    run = (*RUN, "logger=csv")
    train(make_cfg(*run, "trainer.max_epochs=4"), tmp_path / "whole")
    resumed = tmp_path / "resumed"
    train(make_cfg(*run, "trainer.max_epochs=2"), resumed)
    epoch1 = tmp_path / "epoch1.ckpt"
    shutil.copy(resumed / "checkpoints" / "last.ckpt", epoch1)
    for overrides in (("trainer.max_epochs=3", "ckpt_path=last"), ("trainer.max_epochs=4",)):
        (resumed / "metrics.json").unlink()  # what an interrupted run leaves: no record
        ckpt = overrides[1] if len(overrides) > 1 else f"ckpt_path={epoch1}"  # epoch 2 again
        train(make_cfg(*run, overrides[0], ckpt), resumed)
    _assert_same_rows(_csv_rows(tmp_path / "whole"), _csv_rows(resumed))


def _assert_same_rows(whole_rows: list[dict[str, str]], resumed_rows: list[dict[str, str]]) -> None:
    assert [r["epoch"] for r in resumed_rows] == ["0", "0", "1", "1", "2", "2", "3", "3", ""]
    assert [list(r) for r in resumed_rows] == [list(r) for r in whole_rows]
    for whole_row, resumed_row in zip(whole_rows, resumed_rows, strict=True):
        for key, value in whole_row.items():
            if value == "":
                assert resumed_row[key] == "", key
            else:
                assert float(resumed_row[key]) == pytest.approx(float(value), abs=1e-6), key


def test_a_run_trained_on_in_a_new_directory_starts_metrics_csv_with_the_earlier_epochs(
    make_cfg, tmp_path
):
    """README (Resuming): logs/metrics.csv of a run trained on in a new directory holds the
    earlier run's epochs up to the checkpoint, then its own, as metrics.json's history does:
    the file of an uninterrupted run."""
    run = (*RUN, "logger=csv")
    train(make_cfg(*run, "trainer.max_epochs=4"), tmp_path / "whole")
    train(make_cfg(*run, "trainer.max_epochs=2"), tmp_path / "first")
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    record = train(make_cfg(*run, "trainer.max_epochs=4", f"ckpt_path={last}"), tmp_path / "on")
    assert len(record["history"]["val/nll"]) == 4
    _assert_same_rows(_csv_rows(tmp_path / "whole"), _csv_rows(tmp_path / "on"))
    assert [r["epoch"] for r in _csv_rows(tmp_path / "first")] == ["0", "0", "1", "1", ""]


def test_a_model_checkpoint_run_trained_on_in_a_new_directory_keeps_its_earlier_epochs(
    make_cfg, tmp_path
):
    """Lightning's ModelCheckpoint writes to <run>/logs/checkpoints/: a run trained on from one
    of its checkpoints in a new directory finds the earlier run's folder above it, and its
    metrics.csv starts with that run's epochs, as with lossbench's own checkpoints."""
    run = (
        *RUN,
        "logger=csv",
        "~callbacks.model_checkpoint",
        "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
        "+callbacks.mc.monitor=val/nll",
        "+callbacks.mc.save_last=true",
    )
    train(make_cfg(*run, "trainer.max_epochs=4"), tmp_path / "whole")
    train(make_cfg(*run, "trainer.max_epochs=2"), tmp_path / "first")
    last = tmp_path / "first" / "logs" / "checkpoints" / "last.ckpt"
    record = train(make_cfg(*run, "trainer.max_epochs=4", f"ckpt_path={last}"), tmp_path / "on")
    assert len(record["history"]["val/nll"]) == 4
    _assert_same_rows(_csv_rows(tmp_path / "whole"), _csv_rows(tmp_path / "on"))


def test_a_sweep_job_trained_again_sets_the_earlier_attempts_checkpoints_aside(make_cfg, tmp_path):
    """A job of a sweep that did not complete trains again from scratch; its checkpoints/ then
    holds only the new attempt's files, and the earlier attempt's are kept beside it."""
    train(make_cfg(*RUN, "trainer.max_epochs=3"), tmp_path, multirun=True)
    earlier = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    (tmp_path / "metrics.json").unlink()  # killed before its record
    record = train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path, multirun=True)
    assert record["status"] == "completed" and record["resumed_from"] is None
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "best-epoch000.ckpt",
        "last.ckpt",
    ]
    assert record["best_checkpoint"] == str(tmp_path / "checkpoints" / "best-epoch000.ckpt")
    assert sorted(p.name for p in (tmp_path / "checkpoints-earlier").iterdir()) == earlier
    assert load_checkpoint(tmp_path / "checkpoints-earlier" / "last.ckpt")["epoch"] == 2


def test_last_checkpoint_is_written_every_epoch_not_only_when_improved(make_cfg, tmp_path):
    # lr=0.5 overshoots after the first epoch: the best (validation) epoch stays 0.
    cfg = make_cfg("data=iris", "loss=cross_entropy", "optimizer.lr=0.5", "trainer.max_epochs=4")
    record = train(cfg, tmp_path)
    assert record["best_epoch"] < 3  # so Lightning's save_last alone would have stopped there
    last = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert last["epoch"] == 3 and last["global_step"] == record["steps"]
    assert len(history(last)["train/loss"]) == 4
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        f"best-epoch{record['best_epoch']:03d}.ckpt",
        "last.ckpt",
    ]


@pytest.mark.parametrize("runner", ["lightning", "epoch"])
@pytest.mark.parametrize("write", ["every_epoch", "at_end"])
def test_checkpoints_hold_the_plateau_step_of_their_epoch(make_cfg, tmp_path, runner, write):
    """A plateau scheduler steps at each epoch's end, on the epoch's validation; a checkpoint
    of that epoch must hold the step, or a run resumed from it makes one step fewer (Lightning
    steps it after the epoch-end checkpoint: a resume lowered the rate an epoch late).
    ``ReduceLROnPlateau.last_epoch`` counts its steps: one per epoch trained."""
    # lr=0.3 overshoots after epoch 2 (wine): the best epoch is 2 of 0-3
    cfg = make_cfg(
        "data=wine",
        "model.hidden_sizes=[16]",
        "data.batch_size=32",
        "optimizer.lr=0.3",
        "scheduler=plateau",
        "scheduler.patience=0",
        "trainer.max_epochs=4",
        "trainer.accelerator=cpu",
        f"runner={runner}",
        f"checkpoint.write={write}",
    )
    record = train(cfg, tmp_path)
    assert record["best_epoch"] == 2
    best = load_checkpoint(record["best_checkpoint"])
    last = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert best["lr_schedulers"][0]["last_epoch"] == 3  # epochs 0-2
    assert last["lr_schedulers"][0]["last_epoch"] == 4


def test_resume_refuses_a_completed_run(make_cfg, tmp_path):
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path)
    with pytest.raises(RunExistsError, match=r"already records a completed run"):
        train(make_cfg(*RUN, "trainer.max_epochs=2", "ckpt_path=last"), tmp_path)


def test_resume_last_without_a_last_checkpoint_is_refused(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"ckpt_path=last: there is no .*last\.ckpt to resume"):
        train(make_cfg(*RUN, "ckpt_path=last"), tmp_path)
    assert read_record(tmp_path)["status"] == "failed"


def test_resume_with_another_model_or_optimizer_is_refused(make_cfg, tmp_path):
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*RUN, "model.hidden_sizes=[32]", "optimizer.lr=0.1", f"ckpt_path={last}")
    with pytest.raises(ConfigError, match=r"cannot resume from") as info:
        train(cfg, tmp_path / "other")
    message = str(info.value)
    assert "model.hidden_sizes: checkpoint [64, 64], config [32]" in message
    assert "optimizer.lr: checkpoint 0.0003, config 0.1" in message
    assert "only how long it trains (trainer.*, unless a learning-rate schedule" in message


def test_resume_with_another_split_names_the_setting_or_the_changed_data(make_cfg, tmp_path):
    """Another data.split_seed standardises with another mean: the refusal names the setting;
    data that changed under the same settings is said to have changed itself."""
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", "data.split_seed=1", f"ckpt_path={last}")
    with pytest.raises(ConfigError, match=r"cannot resume from") as info:
        train(cfg, tmp_path / "other")
    message = str(info.value)
    assert "data.split_seed: checkpoint's run 0, config 1, so feature_mean" in message
    assert "data feature_mean: differs" not in message
    checkpoint = load_checkpoint(last)
    checkpoint["lossbench_metadata"]["feature_mean"][0] += 1.0  # the data file was edited
    edited = tmp_path / "run" / "checkpoints" / "edited.ckpt"
    torch.save(checkpoint, edited)
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", f"ckpt_path={edited}")
    changed = r"data feature_mean: differs .* \(with the same data\.\* settings: the data file"
    with pytest.raises(ConfigError, match=changed):
        train(cfg, tmp_path / "edited")


#: One refusal, whichever check finds each difference: the checkpoint's hyper-parameters and
#: data (optimizer.lr, the standardisation that data.split_seed changes) or only the run's
#: config.yaml (seed, epoch_metrics; trainer.max_epochs under a schedule spanning the run).
EVERY_DIFFERENCE = [
    pytest.param(
        (),
        ("seed=5", "data.split_seed=3"),
        "data.split_seed, seed differ from the run that wrote it",
        [
            "data.split_seed: checkpoint's run 0, config 3, so feature_mean, feature_scale of "
            "the training data differ from the checkpoint's",
            "seed: checkpoint's run 0, config 5",
        ],
        id="split-seed-and-seed",
    ),
    pytest.param(
        (),
        ("seed=5", "optimizer.lr=0.1", "epoch_metrics=monitored", "model.hidden_sizes=[32]"),
        "epoch_metrics, model.hidden_sizes, optimizer.lr, seed differ from the run that wrote it",
        [
            "epoch_metrics: checkpoint's run 'all', config 'monitored'",
            "model.hidden_sizes: checkpoint [64, 64], config [32]",
            "optimizer.lr: checkpoint 0.0003, config 0.1",
            "seed: checkpoint's run 0, config 5",
        ],
        id="model-optimizer-and-settings",
    ),
    pytest.param(
        ("scheduler=cosine",),
        ("seed=5", "trainer.max_epochs=3"),
        "seed, trainer.max_epochs differ from the run that wrote it",
        [
            "seed: checkpoint's run 0, config 5",
            "trainer.max_epochs: checkpoint's run 1, config 3, over which scheduler=cosine "
            "spreads its schedule",
        ],
        id="seed-and-a-schedule-spanning-the-run",
    ),
]


@pytest.mark.parametrize(("base", "changes", "names", "entries"), EVERY_DIFFERENCE)
def test_one_resume_refusal_names_every_difference(
    make_cfg, tmp_path, base, changes, names, entries
):
    """README (Resuming): each differing setting with both values, in the order of their names,
    and one explanation and fix; the same words from the command line's check before anything
    is written (preflight) and from the run itself."""
    train(make_cfg(*RUN, *base, "trainer.max_epochs=1"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*RUN, *base, "trainer.max_epochs=2", *changes, f"ckpt_path={last}")
    with pytest.raises(UserInputError) as before_writing:
        preflight(cfg, tmp_path / "cli")
    with pytest.raises(ConfigError, match=r"cannot resume from") as info:
        train(cfg, tmp_path / "other")
    message = str(info.value)
    assert str(before_writing.value) == message
    assert f": {names}" in message
    at = [message.index(entry) for entry in entries]
    assert at == sorted(at)
    assert message.count("continues that training, so only how long it trains") == 1
    assert message.count("Resume with the run's own overrides") == 1
    assert f"(its config.yaml, {tmp_path / 'run' / 'config.yaml'})" in message
    assert not (tmp_path / "other" / "checkpoints").exists()


def test_a_checkpoint_without_its_runs_config_is_checked_by_what_it_holds(make_cfg, tmp_path):
    """Copied elsewhere, a checkpoint's own hyper-parameters and data still decide (all named
    at once), and so does the config of its run it holds: another seed, batch size or early
    stopping would train on differently from the run that wrote it (it was accepted)."""
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path / "run")
    copied = tmp_path / "copied" / "last.ckpt"
    copied.parent.mkdir()
    shutil.copy(tmp_path / "run" / "checkpoints" / "last.ckpt", copied)
    changes = ("seed=5", "optimizer.lr=0.1", "model.hidden_sizes=[32]", f"ckpt_path={copied}")
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", *changes)
    with pytest.raises(ConfigError, match=r"cannot resume from") as info:
        train(cfg, tmp_path / "other")
    message = str(info.value)
    assert "model.hidden_sizes" in message and "optimizer.lr" in message
    assert "seed: checkpoint's run" in message
    for change, key in (("seed=5", "seed"), ("data.batch_size=32", "data.batch_size")):
        cfg = make_cfg(*RUN, "trainer.max_epochs=2", change, f"ckpt_path={copied}")
        with pytest.raises(UserInputError, match=rf"{key}: checkpoint's run"):
            preflight(cfg, tmp_path / "seed")
    # an older lossbench's checkpoint holds no config: only what it holds is compared
    _without_run_config(copied)
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", "seed=5", f"ckpt_path={copied}")
    assert preflight(cfg, tmp_path / "seed") == "multiclass"  # accepted, as before


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("seed=3", "seed"),
        ("data.batch_size=64", "data.batch_size"),
        ("scheduler=cosine", "scheduler.name"),
        ("early_stopping.enabled=true", "early_stopping.enabled"),
        ("epoch_metrics=monitored", "epoch_metrics"),
    ],
)
def test_resume_with_other_training_settings_is_refused(make_cfg, tmp_path, change, key):
    """The record would describe another training than the one that ran: a resumed run kept
    the first epochs' seed, batches and schedule whatever the config said."""
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", change, f"ckpt_path={last}")
    with pytest.raises(ConfigError, match=r"cannot resume from") as info:
        train(cfg, tmp_path / "other")
    assert f"{key}: checkpoint's run" in str(info.value)
    assert not (tmp_path / "other" / "checkpoints").exists()


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
@pytest.mark.slow
def test_training_on_under_a_schedule_over_the_run_is_refused(make_cfg, tmp_path, scheduler):
    """A cosine or one-cycle schedule is built for the run's trainer.max_epochs and restored as
    built: trained on to more epochs, cosine annealing turned the learning rate back up
    (0.001, 0.00075, 0.00025, 0, 0.00025, 0.00075) and one-cycle failed past its last step."""
    train(make_cfg(*RUN, f"scheduler={scheduler}", "trainer.max_epochs=2"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    args = (*RUN, f"scheduler={scheduler}", "trainer.max_epochs=4", f"ckpt_path={last}")
    with pytest.raises(ConfigError, match=rf"scheduler={scheduler} spreads its schedule over"):
        train(make_cfg(*args), tmp_path / "other")
    assert not (tmp_path / "other" / "checkpoints").exists()
    # where the user meets it
    result = subprocess.run(
        [sys.executable, "-m", "lossbench.train", *args, f"hydra.run.dir={tmp_path / 'cli'}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "trainer.max_epochs: 2 then, 4 now" in result.stderr
    if scheduler == "onecycle":  # the optimizer steps it was built over, and those asked for
        assert "optimizer steps then" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "cli").exists()
    plateau = (*RUN, "scheduler=plateau")
    train(make_cfg(*plateau, "trainer.max_epochs=2"), tmp_path / "plateau")
    last = tmp_path / "plateau" / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*plateau, "trainer.max_epochs=4", f"ckpt_path={last}")
    assert train(cfg, tmp_path / "plateau-longer")["epochs"] == 4  # it can train on


#: One-cycle over 20 optimizer steps (wine: 4 batches an epoch, 2 on each of 2 processes) that
#: trainer.max_steps ends in the 5th of 6 epochs; SGD at lr=2 overshoots past the cycle's peak,
#: so the best checkpoint is an earlier epoch's, from which the run can train on.
ONECYCLE = (
    "data=wine",
    "model.hidden_sizes=[16]",
    "data.batch_size=32",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "scheduler=onecycle",
    "optimizer=sgd",
    "optimizer.lr=2.0",
    "trainer.max_epochs=6",
    "trainer.max_steps=20",
)


@pytest.mark.slow
def test_onecycle_resume_with_other_batches_per_process_is_refused_with_both_counts(
    make_cfg, tmp_path
):
    """Each process trains on its share of an epoch's batches, so another trainer.devices
    changes the optimizer steps of the fit as limit_train_batches and accumulate_grad_batches
    do: the restored schedule would end elsewhere than the run (2 processes: after 16 of its
    20 steps, the rate still high). Settings that keep the steps are accepted."""
    record = train(make_cfg(*ONECYCLE), tmp_path / "run")
    assert (record["steps"], record["best_epoch"]) == (20, 1)
    best = record["best_checkpoint"]
    refused = {
        ("trainer=ddp", "trainer.devices=2"): "trainer.devices: 'auto' then, 2 now",
        ("trainer.limit_train_batches=0.5",): "trainer.limit_train_batches: None then, 0.5 now",
        ("trainer.accumulate_grad_batches=2",): "trainer.accumulate_grad_batches: None then, 2",
    }
    for index, (change, words) in enumerate(refused.items()):
        cfg = make_cfg(*ONECYCLE, *change, f"ckpt_path={best}")
        with pytest.raises(UserInputError, match=r"scheduler=onecycle spreads its sch") as info:
            preflight(cfg, tmp_path / f"refused-{index}")
        assert words in str(info.value)
        assert "20 optimizer steps then, 12 now" in str(info.value)
    cfg = make_cfg(*ONECYCLE, "trainer=ddp", "trainer.devices=2", "seed=3", f"ckpt_path={best}")
    with pytest.raises(UserInputError) as info:  # with another setting: one refusal names both
        preflight(cfg, tmp_path / "seed")
    assert ": seed, trainer.devices differ from the run that wrote it" in str(info.value)
    assert "(20 optimizer steps in the checkpoint's run, 12 with the config)" in str(info.value)
    for change in ("trainer.devices=1", "trainer.limit_train_batches=4"):  # the same 20 steps
        cfg = make_cfg(*ONECYCLE, change, f"ckpt_path={best}")
        assert preflight(cfg, tmp_path / "kept") == "multiclass"


def _check_resume(cfg, checkpoint: dict, path: Path, world_size: int) -> None:
    """``check_resume`` as preflight calls it for ``cfg``, with ``world_size``: the processes
    Lightning resolved ``cfg``'s trainer.* settings to (``Trainer.world_size``)."""
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    module = ClassifierModule.from_config(cfg, datamodule, loss=resolved_loss(cfg, datamodule))
    check_resume(
        checkpoint,
        path,
        module.hparams,
        datamodule.preprocessing,
        config=OmegaConf.to_container(cfg, resolve=True),
        train_rows=datamodule.sizes()["train"],
        world_size=world_size,
    )


def test_onecycle_resume_where_auto_resolves_to_other_processes_is_refused(make_cfg, tmp_path):
    """trainer.devices=auto takes every device of the machine it runs on: a run trained in 1
    process (a laptop's CPU) and resumed with the same config where auto resolves to 2 (a
    2-GPU machine) gives each process half the batches, so 12 of the 20 optimizer steps its
    one-cycle schedule spans (the rate still high at the end), though no setting changed.
    The checkpoint records its processes; preflight and the run pass check_resume those
    Lightning resolved (Trainer.world_size). On this machine auto resolves to 1 CPU process, so
    the 2 that a 2-device machine resolves it to are given; preflight's own Trainer resolves
    them below, for a checkpoint copied without its run's config.yaml."""
    record = train(make_cfg(*ONECYCLE), tmp_path / "run")
    best = Path(record["best_checkpoint"])
    cfg = make_cfg(*ONECYCLE, f"ckpt_path={best}")
    assert cfg.trainer.devices == "auto"
    checkpoint = load_checkpoint(best)
    _check_resume(cfg, checkpoint, best, world_size=1)  # the processes it trained with
    with pytest.raises(CheckpointError, match=r"scheduler=onecycle spreads its sch") as info:
        _check_resume(cfg, checkpoint, best, world_size=2)
    message = str(info.value)
    for words in (
        "with trainer.accelerator=cpu trainer.devices=auto",
        "this run has 2 processes here (trainer.devices=auto takes every device of the machine",
        "the run that wrote the checkpoint had 1 process, so it would take 12 optimizer steps "
        "where the checkpoint's schedule was built over 20",
        "this run would end after 12 of the schedule's 20 steps",
        "(pin its processes with trainer.devices=1)",
    ):
        assert words in message, message
    assert checkpoint["lossbench_processes"] == 1
    # the fix it gives: trainer.devices=1 keeps the schedule's 20 steps on that machine
    _check_resume(make_cfg(*ONECYCLE, "trainer.devices=1", f"ckpt_path={best}"), checkpoint,
                  best, world_size=1)  # fmt: skip
    # with another setting: one refusal names both
    seeded = make_cfg(*ONECYCLE, "seed=3", f"ckpt_path={best}")
    with pytest.raises(CheckpointError) as info:
        _check_resume(seeded, checkpoint, best, world_size=2)
    assert ": seed, trainer.devices differ from the run that wrote it" in str(info.value)
    assert (
        "trainer.devices: 'auto' resolves to 2 processes here (1 in its run), over whose "
        "batches scheduler=onecycle spreads its schedule (20 optimizer steps in the "
        "checkpoint's run, 12 with the config)"
    ) in str(info.value)
    # a checkpoint of an older lossbench, without its processes: the steps decide
    del checkpoint["lossbench_processes"]
    _check_resume(cfg, checkpoint, best, world_size=1)
    with pytest.raises(CheckpointError, match="does not record the processes of the run"):
        _check_resume(cfg, checkpoint, best, world_size=2)
    # copied without its run's config.yaml, resumed where preflight's Trainer has 2 processes:
    # the config the checkpoint holds names the setting that changed ...
    copied = tmp_path / "copied" / "best.ckpt"
    copied.parent.mkdir()
    shutil.copy(best, copied)
    two = make_cfg(*ONECYCLE, "trainer=ddp", "trainer.devices=2", f"ckpt_path={copied}")
    with pytest.raises(UserInputError, match=r"trainer\.devices: 'auto' then, 2 now"):
        preflight(two, tmp_path / "resumed")
    # ... and an older lossbench's, without it, has its processes compared
    _without_run_config(copied)
    with pytest.raises(UserInputError, match="this run has 2 processes here, and the run that"):
        preflight(two, tmp_path / "resumed")
    assert not (tmp_path / "resumed").exists()


def _without_run_config(path: Path) -> None:
    """Make the checkpoint at ``path`` one of an older lossbench, which held no config."""
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["lossbench_config"]
    torch.save(checkpoint, path)


@pytest.mark.slow
def test_onecycle_resume_on_other_processes_is_refused_on_the_command_line(make_cfg, tmp_path):
    """Where the user meets it: a checkpoint of a 1-process one-cycle run of an older lossbench
    (no config in it), copied without its run's config.yaml (no setting to compare), resumed
    by lossbench-train in 2 processes: exit 2 with the refusal, no traceback, nothing written,
    the earlier run's files untouched."""
    record = train(make_cfg(*ONECYCLE, "logger=csv"), tmp_path / "run")
    copied = tmp_path / "copied" / "best.ckpt"
    copied.parent.mkdir()
    shutil.copy(record["best_checkpoint"], copied)
    _without_run_config(copied)
    before = files_below(tmp_path)
    args = (*ONECYCLE, "trainer=ddp", "trainer.devices=2", f"ckpt_path={copied}")
    result = run_module("lossbench.train", *args, f"hydra.run.dir={tmp_path / 'cli'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "lossbench: refused: cannot resume from" in result.stderr
    assert "20 optimizer steps then" not in result.stderr  # no setting changed
    for words in (
        "this run has 2 processes here, and the run that wrote the checkpoint had 1 process",
        "would take 12 optimizer steps where the checkpoint's schedule was built over 20",
        "pin its processes with trainer.devices=1",
    ):
        assert words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "cli").exists()
    assert files_below(tmp_path) == before


def test_resume_may_change_how_long_and_where_it_writes(make_cfg, tmp_path):
    train(make_cfg(*RUN, "trainer.max_epochs=1"), tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    changes = ("logger=none", "checkpoint.write=at_end", "runner=lightning")
    cfg = make_cfg(*RUN, "trainer.max_epochs=2", *changes, f"ckpt_path={last}")
    record = train(cfg, tmp_path / "other")
    assert record["status"] == "completed" and record["epochs"] == 2


def _start(run_dir: Path, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lossbench.train", *RUN, *overrides, f"hydra.run.dir={run_dir}"],
        cwd=run_dir.parent,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_killed_run_resumes_to_the_metrics_of_an_uninterrupted_run(tmp_path):
    epochs = "trainer.max_epochs=30"
    whole = _start(tmp_path / "whole", epochs)
    killed_dir = tmp_path / "killed"
    killed = _start(killed_dir, epochs)
    last = killed_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while epoch_of(last) < 3:
        assert killed.poll() is None, f"the run ended before it was killed: {killed.stderr.read()}"
        assert time.monotonic() < deadline, "no last.ckpt past epoch 3 within 240 s"
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert not (killed_dir / "metrics.json").exists(), "the run completed before the kill"
    checkpoint = load_checkpoint(last)
    # last.ckpt is written at every epoch end, with the history up to that epoch.
    assert 3 <= checkpoint["epoch"] < 29
    assert len(history(checkpoint)["val/nll"]) == checkpoint["epoch"] + 1
    assert isinstance(checkpoint["lossbench_rng"]["torch"], torch.Tensor)

    resumed = _start(killed_dir, epochs, "ckpt_path=last")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((killed_dir / "metrics.json").read_text())
    assert b["status"] == "completed" and b["resumed_from"] == str(last)
    assert b["epochs"] == 30 and len(b["history"]["train/loss"]) == 30
    assert _final(b) == _final(a)


def test_a_relative_ckpt_path_is_recorded_as_the_absolute_file(
    make_cfg, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    """``resumed_from`` names the checkpoint wherever the record is read from later, not
    relative to the directory the command ran in."""
    monkeypatch.chdir(tmp_path)
    fast = ("data=iris", "trainer.enable_progress_bar=false", "trainer.accelerator=cpu")
    train(make_cfg(*fast, "trainer.max_epochs=1"), tmp_path / "first")
    given = Path("first") / "checkpoints" / "last.ckpt"
    resumed = train(
        make_cfg(*fast, "trainer.max_epochs=2", f"ckpt_path={given}"), tmp_path / "second"
    )
    assert resumed["status"] == "completed"
    assert resumed["resumed_from"] == str(tmp_path / given)
