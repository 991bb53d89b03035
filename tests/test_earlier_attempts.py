"""A run trained again from scratch after more than one earlier attempt (a job of a sweep killed
twice) keeps every attempt's checkpoints and logs: the attempt just before in
``checkpoints-earlier/``, ``logs-earlier/``, ... (the names the docs and refusals give), the
ones before it moved on to ``checkpoints-earlier-v1/``, ``logs-earlier-v1/``, ..., each
attempt's folders under one number; and the log line says where each folder went."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from cli_process import run_console
from lossbench.checkpoint import load_checkpoint
from lossbench.record import set_aside_earlier_attempt
from lossbench.report.find import find_records, unfinished_jobs
from lossbench.training import train

#: The folders each attempt at a run writes in its folder, by its checkpoint callback:
#: lossbench's own ``checkpoints/``, or a ModelCheckpoint's ``ckpts/`` in its place; with
#: ``logger=many``, the CSV logger's ``logs/`` and TensorBoard's ``tensorboard/``.
CALLBACKS = {
    "own": (("data=iris", "logger=many"), ("checkpoints", "logs", "tensorboard")),
    "model_checkpoint": (
        (
            "data=iris",
            "logger=many",
            "~callbacks.model_checkpoint",
            "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            "+callbacks.mc.monitor=val/nll",
            "+callbacks.mc.save_last=true",
            "+callbacks.mc.dirpath=ckpts",
        ),
        ("ckpts", "logs", "tensorboard"),
    ),
}


def _files(folder: Path) -> dict[str, bytes]:
    """The files in ``folder`` and below it, by path within it."""
    assert folder.is_dir(), (
        f"{folder} is missing: {sorted(p.name for p in folder.parent.iterdir())}"
    )
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("callback", CALLBACKS)
def test_a_run_trained_a_third_time_keeps_both_earlier_attempts(
    make_cfg, tmp_path, monkeypatch, caplog, callback
):
    """Three attempts at one run, the first two stopped before their record (as a sweep's job
    killed twice), each trained again from scratch in the same folder by the real training
    function: the third attempt's files are in its checkpoint folder, logs/ and tensorboard/,
    the second's in their -earlier folders, the first's in -earlier-v1, byte for byte; the
    log line names where every folder went."""
    overrides, folders = CALLBACKS[callback]
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    attempts = []
    for epochs in (3, 2):  # each attempt stores its own last epoch: no two are alike
        train(make_cfg(*overrides, f"trainer.max_epochs={epochs}"), run)
        (run / "metrics.json").unlink()  # stopped before its record
        attempts.append({folder: _files(run / folder) for folder in folders})
    assert all(attempts[0].values()), attempts[0]

    caplog.clear()  # only the third attempt's lines, whatever the level before
    with caplog.at_level(logging.INFO, logger="lossbench"):
        third = train(make_cfg(*overrides, "trainer.max_epochs=1"), run)
    assert third["status"] == "completed" and third["resumed_from"] is None
    checkpoints = folders[0]
    assert load_checkpoint(run / checkpoints / "last.ckpt")["epoch"] == 0
    for folder in folders:
        assert _files(run / f"{folder}-earlier") == attempts[1][folder]
        assert _files(run / f"{folder}-earlier-v1") == attempts[0][folder]
    assert load_checkpoint(run / f"{checkpoints}-earlier" / "last.ckpt")["epoch"] == 1
    assert load_checkpoint(run / f"{checkpoints}-earlier-v1" / "last.ckpt")["epoch"] == 2
    said = [r.getMessage() for r in caplog.records if "was set aside" in r.getMessage()]
    assert len(said) == 1, caplog.text
    for folder in folders:
        assert f" to {run / folder}-earlier" in said[0], said[0]
        assert f"{run / folder}-earlier to {run / folder}-earlier-v1" in said[0], said[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher", [("hydra/launcher=basic",), ("hydra/launcher=vectorized",)], ids=lambda a: a[0]
)
def test_a_sweep_job_run_a_third_time_keeps_both_earlier_attempts(tmp_path, launcher):
    """``lossbench-train -m`` whose job was stopped before its record twice (its folder holds
    the second attempt's checkpoints/ and logs/, the first's in checkpoints-earlier/ and
    logs-earlier/), run again: the job trains from scratch and completes, the second attempt's
    files are now in checkpoints-earlier/ and logs-earlier/ (where
    ckpt_path=<run dir>/checkpoints-earlier/last.ckpt continues it), the first's in
    checkpoints-earlier-v1/ and logs-earlier-v1/, and the command's log says so."""
    sweep = tmp_path / "sweep"
    args = (
        "-m", "data=iris", "seed=0", "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false", "trainer.accelerator=cpu",
        f"hydra.sweep.dir={sweep}", *launcher,
    )  # fmt: skip
    attempts = []
    for epochs in (3, 2):
        done = run_console("train", *args, f"trainer.max_epochs={epochs}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        (job,) = sweep.glob("*_iris_*")
        (job / "metrics.json").unlink()  # stopped before its record
        attempts.append({name: _files(job / name) for name in ("checkpoints", "logs")})
    assert all(attempts[0].values()), attempts[0]

    again = run_console("train", *args, "trainer.max_epochs=1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert '"status": "completed"' in (job / "metrics.json").read_text()
    assert load_checkpoint(job / "checkpoints" / "last.ckpt")["epoch"] == 0
    for name in ("checkpoints", "logs"):
        assert _files(job / f"{name}-earlier") == attempts[1][name]
        assert _files(job / f"{name}-earlier-v1") == attempts[0][name]
        moved_on = f"{job / name}-earlier to {job / name}-earlier-v1"
        assert moved_on in again.stdout + again.stderr, again.stdout + again.stderr
    assert load_checkpoint(job / "checkpoints-earlier" / "last.ckpt")["epoch"] == 1
    assert load_checkpoint(job / "checkpoints-earlier-v1" / "last.ckpt")["epoch"] == 2
    # the report reads the job's record alone, and counts no folder set aside as a job of its own
    assert find_records([sweep]) == [(job / "metrics.json").resolve()]
    assert unfinished_jobs([sweep]) == []


def test_what_every_earlier_attempt_left_is_kept(tmp_path):
    """A folder of a run that holds its latest attempt's folders, the attempt before's
    -earlier ones (a logs-earlier that is a file, a ckpts-earlier that is a link) and an older
    one's checkpoints-earlier-v1: all move on to -v2, the first number none of them has taken,
    nothing is removed, and the line names every move."""
    run = tmp_path / "run"
    files = {
        "checkpoints/last.ckpt": "third",
        "checkpoints-earlier/last.ckpt": "second",
        "checkpoints-earlier-v1/last.ckpt": "first",
        "ckpts/last.ckpt": "third",
        "elsewhere/last.ckpt": "second",
        "logs/metrics.csv": "third",
        "logs-earlier": "second",
        "tensorboard/events": "third",
    }
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    (run / "ckpts-earlier").symlink_to(run / "elsewhere")

    said = set_aside_earlier_attempt(run, [run / "ckpts"])

    assert {
        str(path.relative_to(run)): path.read_text()
        for path in run.rglob("*")
        if path.is_file() and "elsewhere" not in path.parts
    } == {
        "checkpoints-earlier/last.ckpt": "third",
        "checkpoints-earlier-v2/last.ckpt": "second",
        "checkpoints-earlier-v1/last.ckpt": "first",
        "ckpts-earlier/last.ckpt": "third",
        "logs-earlier/metrics.csv": "third",
        "logs-earlier-v2": "second",
        "tensorboard-earlier/events": "third",
    }
    assert (run / "ckpts-earlier-v2").is_symlink()  # the link, moved on as it is
    assert (run / "ckpts-earlier-v2" / "last.ckpt").read_text() == "second"
    assert (run / "elsewhere" / "last.ckpt").read_text() == "second"
    assert said == (
        f"an earlier attempt at this run was set aside: its checkpoints to "
        f"{run}/checkpoints-earlier, {run}/ckpts-earlier, its logs to {run}/logs-earlier, "
        f"{run}/tensorboard-earlier (what an attempt before it left there moved on: "
        f"{run}/checkpoints-earlier to {run}/checkpoints-earlier-v2, {run}/ckpts-earlier to "
        f"{run}/ckpts-earlier-v2, {run}/logs-earlier to {run}/logs-earlier-v2); training again"
    )


def test_one_attempts_folders_share_a_number_where_the_user_removed_one_v1(tmp_path):
    """The attempt before's -earlier folders move on while the oldest attempt's are in
    -earlier-v1, except its logs-earlier-v1, which the user removed: all of them move on to
    -v2, not its logs alone to the -v1 left free, so -v1 is still the oldest attempt's and -v2
    the next one's in every folder."""
    run = tmp_path / "run"
    files = {}
    for folder, name in (
        ("checkpoints", "last.ckpt"),
        ("logs", "metrics.csv"),
        ("tensorboard", "events"),
    ):
        for suffix, attempt in (("", "third"), ("-earlier", "second"), ("-earlier-v1", "first")):
            files[f"{folder}{suffix}/{name}"] = attempt
    del files["logs-earlier-v1/metrics.csv"]  # removed by the user
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)

    said = set_aside_earlier_attempt(run)

    assert {
        str(path.relative_to(run)): path.read_text() for path in run.rglob("*") if path.is_file()
    } == {
        "checkpoints-earlier/last.ckpt": "third",
        "checkpoints-earlier-v2/last.ckpt": "second",
        "checkpoints-earlier-v1/last.ckpt": "first",
        "logs-earlier/metrics.csv": "third",
        "logs-earlier-v2/metrics.csv": "second",
        "tensorboard-earlier/events": "third",
        "tensorboard-earlier-v2/events": "second",
        "tensorboard-earlier-v1/events": "first",
    }
    assert not (run / "logs-earlier-v1").exists()
    for folder in ("checkpoints", "logs", "tensorboard"):
        assert f"{run / folder}-earlier to {run / folder}-earlier-v2" in said, said


def test_each_attempts_folders_keep_one_number_across_attempts(
    make_cfg, tmp_path, monkeypatch, caplog
):
    """Four attempts at one run, each stopped before its record and trained again from scratch
    in the same folder by the real training function; the second wrote no checkpoint
    (``checkpoint.write=never``), and before the fourth the user removed the first's
    logs-earlier-v1/. After each, all the folders of one attempt carry the same number:
    checkpoints-earlier/ is the attempt just before's (missing where it wrote none, not an older
    attempt's), and the second attempt moves on to -v2 in all its folders."""
    monkeypatch.chdir(tmp_path)
    overrides = ("data=iris", "logger=many")
    folders = ("checkpoints", "logs", "tensorboard")
    run = tmp_path / "run"
    attempts = []

    def attempt(*more: str) -> None:
        train(make_cfg(*overrides, *more), run)
        (run / "metrics.json").unlink()  # stopped before its record
        attempts.append(
            {folder: _files(run / folder) for folder in folders if (run / folder).exists()}
        )

    def where(version: str) -> dict[str, dict[str, bytes]]:  # the folders named -earlier<version>
        named = {folder: run / f"{folder}-earlier{version}" for folder in folders}
        return {folder: _files(path) for folder, path in named.items() if path.exists()}

    attempt("trainer.max_epochs=3")
    attempt("trainer.max_epochs=2", "checkpoint.write=never")
    assert set(attempts[1]) == {"logs", "tensorboard"}  # no checkpoint written
    assert where("") == attempts[0]
    attempt("trainer.max_epochs=1")
    assert where("") == attempts[1] and where("-v1") == attempts[0]
    assert not (run / "checkpoints-earlier").exists()  # the attempt just before wrote none

    shutil.rmtree(run / "logs-earlier-v1")
    caplog.clear()  # only the fourth attempt's lines, whatever the level before
    with caplog.at_level(logging.INFO, logger="lossbench"):
        fourth = train(make_cfg(*overrides, "trainer.max_epochs=2"), run)
    assert fourth["status"] == "completed"
    assert where("") == attempts[2] and where("-v2") == attempts[1]
    assert where("-v1") == {k: v for k, v in attempts[0].items() if k != "logs"}
    assert load_checkpoint(run / "checkpoints-earlier" / "last.ckpt")["epoch"] == 0
    assert load_checkpoint(run / "checkpoints-earlier-v1" / "last.ckpt")["epoch"] == 2
    (said,) = [r.getMessage() for r in caplog.records if "was set aside" in r.getMessage()]
    for folder in ("logs", "tensorboard"):
        assert f"{run / folder}-earlier to {run / folder}-earlier-v2" in said, said
    assert f" to {run}/checkpoints-earlier," in said, said
