"""Lightning's ModelCheckpoint as a run's checkpoint callback: a relative ``dirpath`` is in the
run's folder (each job of a sweep keeps its own files), and ``ckpt_path=last`` resumes from its
``last.ckpt`` as from lossbench's own."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_process import run_module
from lossbench.checkpoint import load_checkpoint, resume_path
from lossbench.errors import ConfigError
from lossbench.evaluate import default_out, evaluate
from lossbench.instantiators import build_callbacks, checkpoint_dirpaths
from lossbench.train import check_unfinished_run
from lossbench.training import train

#: Lightning's ModelCheckpoint in place of lossbench's, writing to a relative folder.
MODEL_CHECKPOINT = (
    "data=iris",
    "~callbacks.model_checkpoint",
    "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
    "+callbacks.mc.monitor=val/nll",
    "+callbacks.mc.save_last=true",
    "+callbacks.mc.dirpath=ckpts",
)


def test_a_relative_dirpath_is_in_the_run_folder(make_cfg, tmp_path, monkeypatch):
    """+callbacks.mc.dirpath=ckpts writes <run>/ckpts/, not ckpts/ where the command ran, and
    lossbench-eval finds the run's config.yaml above its files."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "r"
    record = train(make_cfg(*MODEL_CHECKPOINT), run)
    assert not (tmp_path / "ckpts").exists()
    assert (run / "ckpts" / "last.ckpt").is_file()
    best = Path(record["best_checkpoint"])
    assert best.parent == (run / "ckpts").resolve()
    result = evaluate(best)
    assert result["config"] == str((run / "config.yaml").resolve())
    assert default_out(best) == (run / "eval.json").resolve()


def test_only_a_plain_relative_dirpath_moves(make_cfg, tmp_path, monkeypatch):
    """An absolute dirpath and an interpolation stay as given; lossbench's own checkpoint
    callback (a function that builds a ModelCheckpoint) reads a relative dirpath in the run's
    folder too."""
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    cfg = make_cfg(
        "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
        "+callbacks.mc.dirpath=${paths.run_dir}/x",
        "+callbacks.abs._target_=lightning.pytorch.callbacks.ModelCheckpoint",
        f"+callbacks.abs.dirpath={elsewhere}",
        "callbacks.model_checkpoint.dirpath=mine",
        "paths.run_dir=runs/r",  # as a run composed outside Hydra sets it: relative
    )
    built = build_callbacks(cfg, progress_bar=False, model_summary=False)
    dirpaths = sorted(c.dirpath for c in built if hasattr(c, "dirpath"))
    assert dirpaths == sorted(
        [os.path.realpath("runs/r/x"), str(elsewhere), os.path.realpath("runs/r/mine")]
    )
    from lossbench.instantiators import checkpoint_dirpaths  # where ckpt_path=last looks

    assert checkpoint_dirpaths(cfg, "runs/r") == {
        "model_checkpoint": Path("runs/r/mine"),
        "mc": Path("runs/r/x"),
        "abs": elsewhere,
    }


@pytest.mark.slow
def test_a_sweeps_jobs_keep_their_own_files_in_a_relative_dirpath(tmp_path):
    """lossbench-train -m seed=0,1 with +callbacks.mc.dirpath=ckpts: each job's files are in
    its own folder; none where the command ran."""
    sweep = tmp_path / "sweep"
    result = run_module(
        "lossbench.train",
        "-m",
        "seed=0,1",
        *MODEL_CHECKPOINT,
        "trainer.max_epochs=2",
        "logger=none",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "ckpts").exists()
    jobs = sorted(p.parent for p in sweep.glob("*/config.yaml"))
    assert len(jobs) == 2
    for job in jobs:
        files = sorted(p.name for p in (job / "ckpts").iterdir())
        assert "last.ckpt" in files and len(files) == 2, files
    lasts = [load_checkpoint(job / "ckpts" / "last.ckpt")["state_dict"] for job in jobs]
    assert any((lasts[0][k] != lasts[1][k]).any() for k in lasts[0])  # each seed's own weights


def test_ckpt_path_last_resumes_a_model_checkpoints_last(make_cfg, tmp_path, monkeypatch):
    """With lossbench's checkpoints off, ckpt_path=last resumes <run>/ckpts/last.ckpt, which
    +callbacks.mc.save_last=true wrote, and the run trains to its end."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    first = train(make_cfg(*MODEL_CHECKPOINT, "trainer.max_epochs=2"), run)
    assert first["epochs"] == 2
    (run / "metrics.json").unlink()  # what a killed run leaves: no record
    resumed = train(make_cfg(*MODEL_CHECKPOINT, "trainer.max_epochs=3", "ckpt_path=last"), run)
    assert resumed["status"] == "completed"
    assert resumed["resumed_from"] == str(run / "ckpts" / "last.ckpt")
    assert resumed["epochs"] == 3 and len(resumed["history"]["val/nll"]) == 3
    assert load_checkpoint(run / "ckpts" / "last.ckpt")["epoch"] == 2


def test_ckpt_path_last_takes_the_checkpoint_that_trained_furthest(make_cfg, tmp_path, monkeypatch):
    """lossbench's own checkpoints/last.ckpt and a ModelCheckpoint's last.ckpt: the one whose
    epoch is later is resumed, even where the other file is newer."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    train(make_cfg(*MODEL_CHECKPOINT, "+callbacks.mc.save_top_k=-1", "trainer.max_epochs=2"), run)
    earlier = next((run / "ckpts").glob("epoch=0-*.ckpt"))
    (run / "checkpoints").mkdir()
    shutil.copy(earlier, run / "checkpoints" / "last.ckpt")  # epoch 0, the newest file
    mc_last = run / "ckpts" / "last.ckpt"
    assert load_checkpoint(mc_last)["epoch"] == 1
    assert resume_path("last", run, {"mc": run / "ckpts"}) == mc_last
    assert resume_path("last", run) == run / "checkpoints" / "last.ckpt"  # none configured


@pytest.mark.slow
def test_ckpt_path_last_without_any_last_checkpoint_is_refused(tmp_path):
    """No last.ckpt in the run's checkpoints/ nor in the ModelCheckpoint's dirpath: refused
    (exit 2), naming both folders and the fixes."""
    run = tmp_path / "run"
    result = run_module(
        "lossbench.train",
        *MODEL_CHECKPOINT,
        "trainer.max_epochs=2",
        "logger=none",
        "ckpt_path=last",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "ckpt_path=last: there is no" in result.stderr
    assert f"callbacks.mc's dirpath {run / 'ckpts'}" in result.stderr
    assert "save_last=true" in result.stderr and "ckpt_path=<file>" in result.stderr


#: Lightning's ModelCheckpoint without dirpath: it writes in its first logger's folder.
IN_THE_LOGGERS_FOLDER = (*MODEL_CHECKPOINT[:-1], "logger=csv")


def test_ckpt_path_last_resumes_a_model_checkpoint_in_its_loggers_folder(
    make_cfg, tmp_path, monkeypatch
):
    """A ModelCheckpoint without dirpath and logger=csv writes <run>/logs/checkpoints/, as
    Lightning chooses; ckpt_path=last resumes its last.ckpt there, and the run trains to its
    end."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    train(make_cfg(*IN_THE_LOGGERS_FOLDER, "trainer.max_epochs=2"), run)
    last = run / "logs" / "checkpoints" / "last.ckpt"
    assert last.is_file() and not (run / "checkpoints").exists()
    (run / "metrics.json").unlink()  # what a killed run leaves: no record
    cfg = make_cfg(*IN_THE_LOGGERS_FOLDER, "trainer.max_epochs=3", "ckpt_path=last")
    with warnings.catch_warnings():  # the folder holds the run it continues: no warning
        warnings.filterwarnings("error", message="Checkpoint directory .* not empty")
        resumed = train(cfg, run)
    assert resumed["status"] == "completed"
    assert resumed["resumed_from"] == str(last)
    assert resumed["epochs"] == 3 and len(resumed["history"]["val/nll"]) == 3
    assert load_checkpoint(last)["epoch"] == 2


def test_where_a_model_checkpoint_without_dirpath_writes(make_cfg):
    """The folder ckpt_path=last looks in for a ModelCheckpoint without dirpath: its first
    logger's checkpoints/ (CSV, TensorBoard), the run's checkpoints/ with no logger, none for
    a logger whose folder is named only as it starts (MLflow: give ckpt_path=<file>)."""
    mc = MODEL_CHECKPOINT[:-1]
    assert checkpoint_dirpaths(make_cfg(*mc, "logger=csv"), "runs/r") == {
        "mc": Path("runs/r/logs/checkpoints")
    }
    assert checkpoint_dirpaths(make_cfg(*mc, "logger=tensorboard"), "runs/r") == {
        "mc": Path("runs/r/tensorboard/checkpoints")
    }
    assert checkpoint_dirpaths(make_cfg(*mc), "runs/r") == {"mc": Path("runs/r/checkpoints")}
    assert checkpoint_dirpaths(make_cfg(*mc, "logger=mlflow"), "runs/r") == {}
    versioned = make_cfg(*mc, "logger=csv", "logger.csv.version=3", "logger.csv.name=x")
    assert checkpoint_dirpaths(versioned, "runs/r") == {
        "mc": Path("runs/r/x/version_3/checkpoints")
    }


def test_a_run_trained_again_sets_a_model_checkpoints_folder_aside(make_cfg, tmp_path, monkeypatch):
    """A run that stopped before its record, trained again from scratch in its folder (no
    ckpt_path, as a job of a sweep does): the ModelCheckpoint's <run>/ckpts/ of the earlier
    attempt goes to ckpts-earlier/, the new attempt writes its own last.ckpt (not a
    last-v1.ckpt beside the earlier one), and ckpt_path=last later resumes the new attempt's,
    though the earlier attempt's trained further."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    train(make_cfg(*MODEL_CHECKPOINT, "trainer.max_epochs=3"), run)
    (run / "metrics.json").unlink()  # stopped before its record
    earlier = (run / "ckpts" / "last.ckpt").read_bytes()

    again = train(make_cfg(*MODEL_CHECKPOINT, "trainer.max_epochs=2"), run)
    assert again["status"] == "completed" and again["resumed_from"] is None
    assert (run / "ckpts-earlier" / "last.ckpt").read_bytes() == earlier
    assert sorted(p.name for p in (run / "ckpts").glob("last*.ckpt")) == ["last.ckpt"]
    assert load_checkpoint(run / "ckpts" / "last.ckpt")["epoch"] == 1
    assert Path(again["best_checkpoint"]).parent == (run / "ckpts").resolve()

    (run / "metrics.json").unlink()
    resumed = train(make_cfg(*MODEL_CHECKPOINT, "trainer.max_epochs=3", "ckpt_path=last"), run)
    assert resumed["resumed_from"] == str(run / "ckpts" / "last.ckpt")
    assert resumed["epochs"] == 3


def test_a_single_run_over_a_model_checkpoints_files_is_refused(make_cfg, tmp_path):
    """lossbench-train again in the folder of an unfinished run whose ModelCheckpoint wrote
    <run>/ckpts/ (or logs/checkpoints/), without ckpt_path: refused as over its checkpoints/,
    with ckpt_path=last as the fix; a shared folder outside the run's is not its own."""
    run = tmp_path / "run"
    (run / "ckpts").mkdir(parents=True)
    (run / "ckpts" / "last.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"\(ckpts/last.ckpt\).*add ckpt_path=last"):
        check_unfinished_run(make_cfg(*MODEL_CHECKPOINT), run)
    check_unfinished_run(make_cfg(*MODEL_CHECKPOINT, "ckpt_path=last"), run)
    shared = make_cfg(*MODEL_CHECKPOINT[:-1], f"+callbacks.mc.dirpath={run / 'ckpts'}")
    check_unfinished_run(shared, tmp_path / "another")
    shutil.rmtree(run / "ckpts")
    (run / "logs" / "checkpoints").mkdir(parents=True)
    (run / "logs" / "checkpoints" / "epoch=0-step=3.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"add ckpt_path=\S*epoch=0-step=3.ckpt"):
        check_unfinished_run(make_cfg(*IN_THE_LOGGERS_FOLDER), run)


def shared_dirpath(folder: Path) -> tuple[str, ...]:
    """MODEL_CHECKPOINT with an absolute dirpath, ``folder``, that several runs may share."""
    return (*MODEL_CHECKPOINT[:-1], f"+callbacks.mc.dirpath={folder}")


def test_ckpt_path_last_in_a_shared_dirpath_resumes_the_runs_own(make_cfg, tmp_path, monkeypatch):
    """Two runs of the same settings write one absolute dirpath: the first trains 3 epochs
    (last.ckpt), the second 2 (Lightning names its last-v1.ckpt) and is stopped before its
    record. ckpt_path=last of the second resumes its own last-v1.ckpt, not the first run's,
    which has trained further."""
    monkeypatch.chdir(tmp_path)
    shared = tmp_path / "shared"
    first, second = tmp_path / "first", tmp_path / "second"
    train(make_cfg(*shared_dirpath(shared), "trainer.max_epochs=3"), first)
    train(make_cfg(*shared_dirpath(shared), "trainer.max_epochs=2"), second)
    assert load_checkpoint(shared / "last.ckpt")["epoch"] == 2  # the first run's
    own = shared / "last-v1.ckpt"
    assert load_checkpoint(own)["epoch"] == 1
    (second / "metrics.json").unlink()  # what a killed run leaves: no record

    cfg = make_cfg(*shared_dirpath(shared), "trainer.max_epochs=3", "ckpt_path=last")
    assert resume_path("last", second, checkpoint_dirpaths(cfg, second)) == own
    resumed = train(cfg, second)
    assert resumed["status"] == "completed"
    assert resumed["resumed_from"] == str(own)
    assert resumed["epochs"] == 3 and len(resumed["history"]["val/nll"]) == 3


@pytest.mark.slow
def test_ckpt_path_last_over_only_other_runs_checkpoints_is_refused(make_cfg, tmp_path):
    """lossbench-train ckpt_path=last in a new run folder whose ModelCheckpoint's absolute
    dirpath holds only another run's last.ckpt: refused (exit 2, no traceback), naming the
    file and its run, and the fixes; nothing is trained."""
    shared, other, run = tmp_path / "shared", tmp_path / "other", tmp_path / "run"
    train(make_cfg(*shared_dirpath(shared), "trainer.max_epochs=2"), other)
    before = sorted(p.name for p in shared.iterdir())
    result = run_module(
        "lossbench.train",
        *shared_dirpath(shared),
        "trainer.max_epochs=3",
        "logger=none",
        "ckpt_path=last",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "has no last checkpoint of its own" in message
    assert f"callbacks.mc's dirpath {shared.resolve()}" in message
    assert f"last.ckpt (written by the run in {other})" in message
    assert "ckpt_path=<file>" in message and "+callbacks.mc.dirpath=ckpts" in message
    assert "${hydra:runtime.output_dir}" in message
    assert sorted(p.name for p in shared.iterdir()) == before
    assert not (run / "metrics.json").exists()


def test_a_resumed_run_sets_aside_a_model_checkpoints_later_epochs(make_cfg, tmp_path, monkeypatch):
    """A run that reached epoch 3 (every epoch kept, save_top_k=-1), resumed from its epoch-1
    file: its ModelCheckpoint's files of epochs 2 and 3 (last.ckpt included) go to
    <run>/ckpts-earlier/; the resumed run writes its own epoch 2 and last.ckpt (no -v1 files
    beside stale ones), and ckpt_path=last then takes the resumed run's last.ckpt."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    every = (*MODEL_CHECKPOINT, "+callbacks.mc.save_top_k=-1")
    train(make_cfg(*every, "trainer.max_epochs=4"), run)
    (run / "metrics.json").unlink()
    files = {load_checkpoint(p)["epoch"]: p.name for p in (run / "ckpts").glob("epoch=*.ckpt")}
    assert sorted(files) == [0, 1, 2, 3]
    earlier_last = (run / "ckpts" / "last.ckpt").read_bytes()

    resume = run / "ckpts" / files[1]
    resumed = train(make_cfg(*every, "trainer.max_epochs=3", f"ckpt_path='{resume}'"), run)
    assert resumed["status"] == "completed" and resumed["epochs"] == 3
    aside = run / "ckpts-earlier"
    assert sorted(p.name for p in aside.iterdir()) == sorted([files[2], files[3], "last.ckpt"])
    assert (aside / "last.ckpt").read_bytes() == earlier_last
    kept = sorted(p.name for p in (run / "ckpts").iterdir())
    assert kept == sorted([files[0], files[1], files[2], "last.ckpt"]), kept
    assert load_checkpoint(run / "ckpts" / "last.ckpt")["epoch"] == 2
    assert resume_path("last", run, {"mc": run / "ckpts"}) == run / "ckpts" / "last.ckpt"


def _aside_files(run: Path) -> set[str]:
    """The files in the run's -earlier folders, as ``<folder>/<name>``."""
    return {f"{p.parent.name}/{p.name}" for p in run.glob("*-earlier/*.ckpt")}


@pytest.mark.slow
def test_the_files_one_resume_sets_aside_share_one_version(make_cfg, tmp_path, monkeypatch):
    """A run with a ModelCheckpoint (every epoch kept) resumed from its epoch-1 file twice,
    the second time after training on to epoch 4: the first resume's files keep their names in
    ckpts-earlier/; the second's are all -v1, its epoch-4 file too, whose name was not taken
    (not epoch=4-...ckpt beside epoch=2-...-v1.ckpt of the same resume), and the log line of
    each move names its new name."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    every = (*MODEL_CHECKPOINT, "+callbacks.mc.save_top_k=-1")
    train(make_cfg(*every, "trainer.max_epochs=4"), run)
    (run / "metrics.json").unlink()
    resume = next((run / "ckpts").glob("epoch=1-*.ckpt"))
    train(make_cfg(*every, "trainer.max_epochs=3", f"ckpt_path='{resume}'"), run)
    first = _aside_files(run)
    assert "ckpts-earlier/last.ckpt" in first
    assert not any("-v" in name for name in first), first
    (run / "metrics.json").unlink()
    train(make_cfg(*every, "trainer.max_epochs=5", "ckpt_path=last"), run)
    (run / "metrics.json").unlink()
    later = {p.name for p in (run / "ckpts").glob("*.ckpt") if load_checkpoint(p)["epoch"] > 1}

    with _log_records() as said:
        train(make_cfg(*every, "trainer.max_epochs=3", f"ckpt_path='{resume}'"), run)
    second = _aside_files(run) - first
    expected = {f"ckpts-earlier/{Path(n).stem}-v1.ckpt" for n in later}
    assert any(n.startswith("epoch=4-") for n in later), later
    assert second == expected, sorted(second ^ expected)
    moves = [line for line in said if "holds an epoch after the one resumed (1)" in line]
    assert len(moves) == len(expected), moves
    for name in expected:
        assert any(line.endswith(f"moved to {run / name}") for line in moves), (name, moves)


@contextlib.contextmanager
def _log_records() -> Iterator[list[str]]:
    """The lines lossbench logs while the block runs."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lossbench")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


#: The dirpaths :func:`counted_checkpoint` was called with, one per call.
FACTORY_CALLS: list[str] = []


def counted_checkpoint(dirpath: str, monitor: str):
    """A factory of a ModelCheckpoint (unannotated) that records each call."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    FACTORY_CALLS.append(dirpath)
    return ModelCheckpoint(dirpath=dirpath, monitor=monitor)


def test_a_factory_of_a_model_checkpoint_is_built_once(make_cfg, tmp_path, monkeypatch):
    """A function that returns a ModelCheckpoint, given a relative dirpath: called once, with
    the dirpath in the run's folder."""
    monkeypatch.chdir(tmp_path)
    FACTORY_CALLS.clear()
    cfg = make_cfg(
        f"+callbacks.mc._target_={__name__}.counted_checkpoint",
        "+callbacks.mc.dirpath=ckpts",
        "+callbacks.mc.monitor=val/nll",
        "paths.run_dir=runs/r",
    )
    built = build_callbacks(cfg, progress_bar=False, model_summary=False)
    assert FACTORY_CALLS == ["runs/r/ckpts"]
    [mc] = [c for c in built if c.__class__.__name__ == "ModelCheckpoint"]
    assert mc.dirpath == os.path.realpath("runs/r/ckpts")


#: Lightning's ModelCheckpoint in place of lossbench's, its dirpath given below.
OWN_CHECKPOINT = MODEL_CHECKPOINT[:-1]


def _sweep_of_two_seeds(tmp_path: Path, *args: str):
    """lossbench-train -m seed=0,1 with the ModelCheckpoint ``args`` set; its stderr (the
    warnings, and the study's progress lines as its jobs end)."""
    result = run_module(
        "lossbench.train",
        "-m",
        "seed=0,1",
        *OWN_CHECKPOINT,
        *args,
        "trainer.max_epochs=1",
        "logger=none",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.mark.slow
def test_a_sweep_sharing_an_absolute_dirpath_and_filename_is_warned_of_once(tmp_path):
    """Both jobs of -m seed=0,1 write +callbacks.mc.dirpath=<absolute> under Lightning's
    default filename: one warning before the first job starts, naming the folder, why and the
    fixes; the sweep runs (nothing is refused)."""
    shared = tmp_path / "shared"
    output = _sweep_of_two_seeds(tmp_path, f"+callbacks.mc.dirpath={shared}")
    warned = [line for line in output.splitlines() if "would all write callbacks.mc's" in line]
    assert len(warned) == 1, output[-3000:]
    line = warned[0]
    assert line.startswith("lossbench: warning: the sweep's 2 jobs would all write")
    assert f"checkpoints to {shared} under one filename pattern ('{{epoch}}-{{step}}')" in line
    assert "overwrite each other's files" in line and "-v1" in line
    assert f"+callbacks.mc.dirpath='{shared}/${{hydra:job.num}}'" in line
    assert "+callbacks.mc.filename='s${seed}-{epoch}'" in line
    assert "+callbacks.mc.dirpath=ckpts" in line
    # as the sweep starts: before the first progress line (which jobs that end within one
    # poll of the watcher may skip to "2/2", so no count is named here)
    assert output.index(line) < output.index("study: "), output[-3000:]
    assert len(list(shared.glob("*.ckpt"))) >= 2  # both jobs ran


@pytest.mark.slow
@pytest.mark.parametrize(
    "given",
    [
        pytest.param(("+callbacks.mc.filename='s${seed}-{epoch}'",), id="filename-per-seed"),
        pytest.param(("+callbacks.mc.dirpath='{shared}/${hydra:job.num}'",), id="dirpath-per-job"),
        pytest.param(("+callbacks.mc.dirpath=ckpts",), id="relative-dirpath"),
    ],
)
def test_a_sweep_whose_jobs_write_their_own_checkpoint_files_is_not_warned_of(tmp_path, given):
    """A shared folder with a filename per seed, a folder per job, a folder in each run's: no
    warning."""
    shared = tmp_path / "shared"
    args = [a.replace("{shared}", str(shared)) for a in given]
    if not any("dirpath" in a for a in args):
        args.append(f"+callbacks.mc.dirpath={shared}")
    output = _sweep_of_two_seeds(tmp_path, *args)
    assert "would all write" not in output, output[-3000:]
