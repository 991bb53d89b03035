"""A study run again with a higher epoch cap: the runs that early stopping ended are kept, the
others train again, and the result is the study trained at the higher cap from scratch."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from cli_process import SWEEP_LAUNCHERS, run_module
from lossbench.aside_names import move_on_together
from lossbench.output_files import run_dir_of
from lossbench.report.build import analyse
from lossbench.report.document import build_document
from lossbench.report.find import find_records, unfinished_jobs
from lossbench.report.render import to_markdown
from lossbench.run_identity import (
    kept_names,
    raised_cap,
    set_aside_capped_run,
    set_aside_for_raised_cap,
)
from lossbench.train import ended_with_same_config
from lossbench.training import train

#: wine at lr 0.03 converges within a few epochs (patience 5); at 0.001 it is still improving
#: after 15 epochs.
PROTOCOL = (
    "+protocol=fair",
    "data=wine",
    "setup=logits_cross_entropy",
    "early_stopping.patience=5",
)


def _record(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _results(record: dict) -> dict:
    """What a run trained: its stop, epochs and every final metric."""
    keys = ("stopped_by", "epochs", "best_epoch", "steps")
    return {k: v for k, v in record.items() if k in keys or k.startswith(("val/", "test/"))}


def _kept(run: Path, cap: int, version: str = "") -> dict:
    """The record a raised cap set aside as ``metrics-max_epochs<cap><version>.json``, with its
    best checkpoint's path as it was written: the file is kept in
    ``checkpoints-max_epochs<cap><version>/`` (checked here), where the kept record names it."""
    record = json.loads((run / f"metrics-max_epochs{cap}{version}.json").read_text())
    best = Path(record["best_checkpoint"])
    assert best.parent == run / f"checkpoints-max_epochs{cap}{version}" and best.is_file()
    return {**record, "best_checkpoint": str(run / "checkpoints" / best.name)}


@pytest.mark.slow
def test_a_raised_cap_keeps_a_run_early_stopping_ended_and_trains_one_that_hit_the_cap(
    make_cfg, tmp_path: Path
) -> None:
    def cfg(lr: float, cap: int):
        return make_cfg(*PROTOCOL, f"optimizer.lr={lr}", f"trainer.max_epochs={cap}")

    converged, capped = tmp_path / "lr0.03", tmp_path / "lr0.001"
    assert train(cfg(0.03, 15), converged, multirun=True)["stopped_by"] == "early_stopping"
    first = train(cfg(0.001, 15), capped, multirun=True)
    assert (first["stopped_by"], first["epochs"]) == ("budget", 15)
    kept = (converged / "metrics.json").read_bytes()

    # The job of the converged run is skipped: the same run under the higher cap.
    assert ended_with_same_config(cfg(0.03, 40), converged) == json.loads(kept)
    # The run that hit the cap is trained again, its earlier files kept beside the new ones.
    assert ended_with_same_config(cfg(0.001, 40), capped) is None
    again = train(cfg(0.001, 40), capped, multirun=True)
    fresh = train(cfg(0.001, 40), tmp_path / "fresh", multirun=True)
    assert again["epochs"] > 15
    assert _results(again) == _results(fresh)
    assert _kept(capped, 15) == first
    assert "max_epochs: 15" in (capped / "config-max_epochs15.yaml").read_text()
    # raised again: each earlier run keeps its checkpoints (a second raise deleted the first's)
    third = train(cfg(0.001, 60), capped, multirun=True)
    assert _kept(capped, 15) == first and _kept(capped, 40) == again
    assert third["best_checkpoint"].startswith(str(capped / "checkpoints" / "best-epoch"))
    assert (converged / "metrics.json").read_bytes() == kept
    assert not list(converged.glob("*-max_epochs*"))
    # ... and the converged run is what a fresh run at the higher cap records
    assert _results(json.loads(kept)) == _results(train(cfg(0.03, 40), tmp_path / "f2"))


@pytest.mark.slow
def test_a_run_set_aside_again_from_the_same_cap_moves_the_earlier_one_on(
    make_cfg, tmp_path: Path, caplog
) -> None:
    """A raise from 2 to 3 epochs stopped before its run ended (no record), then the run at 2
    again and the raise again: the run set aside the second time takes the
    ``-max_epochs2`` names, and the one set aside the first time moves on to ``-max_epochs2-v1``
    (its record naming its best checkpoint there), where both were replaced before; the log
    line says where each file went, and the report reads only the run's own record."""

    def cfg(cap: int):
        return make_cfg(*PROTOCOL, "optimizer.lr=0.001", f"trainer.max_epochs={cap}", "logger=csv")

    def folders() -> dict[str, int]:  # which run's checkpoints/ and logs/ they are
        return {name: (run / name).stat().st_ino for name in ("checkpoints", "logs")}

    run = tmp_path / "run"
    first = train(cfg(2), run, multirun=True)
    assert (first["stopped_by"], first["epochs"]) == ("budget", 2)
    first_folders = folders()
    train(cfg(3), run, multirun=True)
    (run / "metrics.json").unlink()  # as a raise stopped before its run ended leaves it
    again = train(cfg(2), run, multirun=True)  # its files set aside as an earlier attempt's
    again_folders = folders()
    caplog.clear()  # only the raise's lines, whatever the level before
    with caplog.at_level(logging.INFO, logger="lossbench"):
        raised = train(cfg(3), run, multirun=True)
    assert raised["epochs"] == 3

    assert _kept(run, 2, "-v1") == first and _kept(run, 2) == again
    for version, kept in (("-v1", first_folders), ("", again_folders)):
        assert "max_epochs: 2" in (run / f"config-max_epochs2{version}.yaml").read_text()
        for name, inode in kept.items():
            assert (run / f"{name}-max_epochs2{version}").stat().st_ino == inode, name
    assert (run / "logs-max_epochs2-v1" / "metrics.csv").is_file()
    assert not list(run.glob("*-v2*"))
    (said,) = [r.getMessage() for r in caplog.records if "training it again" in r.getMessage()]
    for name in ("metrics-max_epochs2.json", "config-max_epochs2.yaml"):
        stem, suffix = name.split(".")
        assert f"{name} to {stem}-v1.{suffix}" in said, said
    for name in ("checkpoints-max_epochs2", "logs-max_epochs2"):
        assert f"{name}/ to {name}-v1/" in said, said
    assert "metrics.json as metrics-max_epochs2.json" in said
    assert "checkpoints/ as checkpoints-max_epochs2/" in said
    # the kept records are no run's records, and their folders no unfinished job's; a kept
    # checkpoint's run folder is its own folder, whose result does not replace the run's
    best = Path(json.loads((run / "metrics-max_epochs2-v1.json").read_text())["best_checkpoint"])
    assert run_dir_of(best) == (run / "checkpoints-max_epochs2-v1").resolve()
    assert find_records([tmp_path]) == [(run / "metrics.json").resolve()]
    assert unfinished_jobs([tmp_path]) == []


def test_the_files_of_a_run_set_aside_move_on_after_their_whole_names(tmp_path: Path) -> None:
    """The names a run set aside from a cap of 10 keeps its files under, and where those of an
    earlier one set aside from the same cap move on to: a file before its suffix, a folder
    after its whole name, all under the first number none of them has taken (a
    ``metrics-max_epochs10-v1.json`` alone takes ``-v1`` from all of them)."""
    names = kept_names(10)
    assert names == {
        "config.yaml": "config-max_epochs10.yaml",
        "checkpoints": "checkpoints-max_epochs10",
        "metrics.json": "metrics-max_epochs10.json",
        "logs": "logs-max_epochs10",
        "tensorboard": "tensorboard-max_epochs10",
    }
    for name in ("config-max_epochs10.yaml", "metrics-max_epochs10.json"):
        (tmp_path / name).write_text("first")
    for name in ("checkpoints-max_epochs10", "logs-max_epochs10", "tensorboard-max_epochs10"):
        (tmp_path / name).mkdir()
    (tmp_path / "metrics-max_epochs10-v1.json").write_text("older")
    paths = [tmp_path / name for name in names.values()]
    moved = {m.source.name: m.target.name for m in move_on_together(paths)}
    assert moved == {
        "config-max_epochs10.yaml": "config-max_epochs10-v2.yaml",
        "checkpoints-max_epochs10": "checkpoints-max_epochs10-v2",
        "metrics-max_epochs10.json": "metrics-max_epochs10-v2.json",
        "logs-max_epochs10": "logs-max_epochs10-v2",
        "tensorboard-max_epochs10": "tensorboard-max_epochs10-v2",
    }
    assert (tmp_path / "metrics-max_epochs10-v1.json").read_text() == "older"
    assert (tmp_path / "metrics-max_epochs10-v2.json").read_text() == "first"
    assert not list(tmp_path.glob("*-v1")) and not list(tmp_path.glob("*-v1.yaml"))
    assert move_on_together(paths) == []


def test_each_run_set_aside_from_the_same_cap_keeps_one_number(
    make_cfg, tmp_path: Path, caplog
) -> None:
    """Three runs at a cap of 2 in one folder, each set aside for a raise to 3 that then stopped
    before its run ended; before the third set-aside the user removed the first run's
    ``logs-max_epochs2-v1/``. Each run's files keep one number: the first run's ``-v1``, the
    second's ``-v2`` (its logs too, not the ``-v1`` the user freed), the third's none; each
    kept record names its best checkpoint in its own run's folder, and the log line says where
    each file went."""

    def cfg(cap: int):
        return make_cfg(*PROTOCOL, "optimizer.lr=0.001", f"trainer.max_epochs={cap}", "logger=csv")

    def inodes() -> dict[str, int]:  # which run's config, checkpoints/ and logs/ they are
        return {name: (run / name).stat().st_ino for name in ("config.yaml", "checkpoints", "logs")}

    run = tmp_path / "run"
    records, files = [], []
    for attempt in range(3):
        records.append(train(cfg(2), run, multirun=True))
        assert (records[-1]["stopped_by"], records[-1]["epochs"]) == ("budget", 2)
        files.append(inodes())
        if attempt == 2:
            shutil.rmtree(run / "logs-max_epochs2-v1")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="lossbench"):
            assert set_aside_for_raised_cap(run, cfg(3)) == 2

    for record, kept, version in zip(records, files, ("-v1", "-v2", ""), strict=True):
        assert _kept(run, 2, version) == record
        for name, inode in kept.items():
            stem, suffix = Path(name).stem, Path(name).suffix
            if (name, version) != ("logs", "-v1"):  # removed by the user
                path = run / f"{stem}-max_epochs2{version}{suffix}"
                assert path.stat().st_ino == inode, path
    assert not (run / "logs-max_epochs2-v1").exists()
    assert not list(run.glob("*-v3*"))
    (said,) = [r.getMessage() for r in caplog.records if "training it again" in r.getMessage()]
    for name in ("metrics-max_epochs2.json", "config-max_epochs2.yaml"):
        stem, suffix = name.split(".")
        assert f"{name} to {stem}-v2.{suffix}" in said, said
    for name in ("checkpoints-max_epochs2", "logs-max_epochs2"):
        assert f"{name}/ to {name}-v2/" in said, said
    assert not (run / "metrics.json").exists() and not (run / "checkpoints").exists()


def _epochs_logged(folder: Path) -> list[int]:
    """The epochs of ``folder``'s TensorBoard events: each step's ``epoch`` scalar, as TensorBoard
    shows the folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return sorted({int(event.value) for event in accumulator.Scalars("epoch")})


@pytest.mark.slow  # three runs of a few seconds each
def test_a_raised_cap_keeps_each_loggers_folder_under_the_capped_runs_name(
    make_cfg, tmp_path: Path, caplog
) -> None:
    """Every logger's folder (``logger=many``: ``logs/`` and TensorBoard's ``tensorboard/``) of a
    run set aside for a raised cap is kept as ``<folder>-max_epochs<old>/`` with its record, not
    as an earlier attempt's ``tensorboard-earlier/``, which the next raise renamed again; the
    new run's ``tensorboard/`` holds its own events only, and each kept one its run's."""
    pytest.importorskip("tensorboard")

    def cfg(cap: int):
        return make_cfg(*PROTOCOL, "optimizer.lr=0.001", f"trainer.max_epochs={cap}", "logger=many")

    run = tmp_path / "run"
    folders = {}  # which run's logger folders they are, by each run's cap
    for cap in (2, 3, 4):
        with caplog.at_level(logging.INFO, logger="lossbench"):
            assert train(cfg(cap), run, multirun=True)["epochs"] == cap
        folders[cap] = {name: (run / name).stat().st_ino for name in ("logs", "tensorboard")}
    for cap in (2, 3):
        for name, inode in folders[cap].items():
            assert (run / f"{name}-max_epochs{cap}").stat().st_ino == inode, (name, cap)
        assert _epochs_logged(run / f"tensorboard-max_epochs{cap}") == list(range(cap))
    assert _epochs_logged(run / "tensorboard") == [0, 1, 2, 3]
    assert not list(run.glob("*-earlier*")) and not list(run.glob("*-v1"))
    said = [r.getMessage() for r in caplog.records]
    assert not [line for line in said if "earlier attempt" in line], said
    (raised,) = [line for line in said if "trainer.max_epochs=3, which" in line]
    assert "tensorboard/ as tensorboard-max_epochs3/" in raised, raised
    assert "logs/ as logs-max_epochs3/" in raised, raised
    assert find_records([tmp_path]) == [(run / "metrics.json").resolve()]
    assert unfinished_jobs([tmp_path]) == []


def test_a_run_on_a_schedule_spread_over_the_cap_trains_again(make_cfg, tmp_path: Path) -> None:
    """Cosine annealing over trainer.max_epochs: the same epochs are other epochs of another
    schedule under a higher cap, so even a run early stopping ended trains again."""
    common = (*PROTOCOL, "optimizer.lr=0.03", "scheduler=cosine")
    run = tmp_path / "run"
    record = train(make_cfg(*common, "trainer.max_epochs=15"), run, multirun=True)
    assert record["stopped_by"] == "early_stopping"
    higher = make_cfg(*common, "trainer.max_epochs=40")
    assert ended_with_same_config(higher, run) is None
    from omegaconf import OmegaConf

    aside = set_aside_capped_run(run, OmegaConf.to_container(higher, resolve=True))
    assert aside is not None and aside.old == 15 and aside.moved_on == []
    assert (run / "metrics-max_epochs15.json").is_file() and not (run / "metrics.json").exists()


def test_only_a_raised_cap_counts() -> None:
    """Any other difference, or a lower cap, is another run's config (never overwritten)."""
    base = {"seed": 0, "trainer": {"max_epochs": 300, "max_steps": -1}}
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 600, "max_steps": -1}})
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 200, "max_steps": -1}}) is None
    other_seed = {"seed": 1, "trainer": {"max_epochs": 600, "max_steps": -1}}
    assert raised_cap(base, other_seed) is None
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 600, "max_steps": 9}}) is None


@pytest.mark.slow  # three sweeps of four jobs under each launcher: about a minute in all
@pytest.mark.parametrize(
    "launcher",
    [SWEEP_LAUNCHERS["basic"], SWEEP_LAUNCHERS["vectorized-workers"]],
    ids=["basic", "vectorized-workers"],
)
def test_a_study_run_again_with_a_higher_cap_is_the_study_at_that_cap(tmp_path, launcher) -> None:
    """lr 0.001 and 0.03 x seeds 0, 1 at a cap of 15 epochs (the 0.001 runs hit it), then the
    same sweep into the same folder at 40: two jobs skipped, two trained again, every record
    that of a fresh sweep at 40, and one setup in the report, not two told apart by their
    caps."""

    def sweep(folder: str, cap: int):
        result = run_module(
            "lossbench.train", "-m", *PROTOCOL, "optimizer.lr=0.001,0.03", "seed=0,1",
            f"trainer.max_epochs={cap}", "logger=none", *launcher, f"hydra.sweep.dir={folder}",
            cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout + result.stderr

    sweep("study", 15)
    capped = analyse([tmp_path / "study"], tmp_path / "capped-report")
    text = to_markdown(build_document(capped), tmp_path / "capped-report")
    assert "**Raising the cap.** Run the study's command again with a higher" in text
    runs = sorted((tmp_path / "study").glob("*/metrics.json"))
    runs = [record.parent for record in runs]
    before = {run.name: _record(run) for run in runs}
    assert sorted(r["stopped_by"] for r in before.values()) == [
        "budget", "budget", "early_stopping", "early_stopping"
    ]  # fmt: skip
    again_output = sweep("study", 40)
    assert "4/4 jobs ended (2 completed, 2 skipped, 0 refused, 0 failed)" in again_output
    if "hydra/launcher=vectorized" in launcher:  # the launcher's line counts them, no line each
        assert "2 already ended (skipped)" in again_output and "skipped: " not in again_output
    sweep("fresh", 40)
    for run in runs:
        now, fresh = _record(run), _record(tmp_path / "fresh" / run.name)
        if before[run.name]["stopped_by"] == "early_stopping":
            assert now == before[run.name]  # kept as it was
        else:
            assert _kept(run, 15) == before[run.name]
        assert now["stopped_by"] == fresh["stopped_by"], run.name
        numbers = {k: v for k, v in _results(now).items() if k != "stopped_by"}
        expected = {k: v for k, v in _results(fresh).items() if k != "stopped_by"}
        assert numbers == pytest.approx(expected, rel=1e-5), run.name
    again = analyse([tmp_path / "study"], tmp_path / "report")
    assert set(again.summary["setup"]) == {"logits_cross_entropy"}
    fresh_report = analyse([tmp_path / "fresh"], tmp_path / "fresh-report")
    columns = ["test/nll_mean", "test/accuracy_mean", "lr", "n_budget"]
    assert again.summary[columns].iloc[0].tolist() == pytest.approx(
        fresh_report.summary[columns].iloc[0].tolist(), rel=1e-5
    )


class _Killed(BaseException):
    """The process killed between two of a set-aside's file operations."""


#: The file operations a set-aside makes (a rename, a replacement, a removal): a kill between
#: any two of them is tried.
_OPERATIONS = ((Path, "rename"), (Path, "replace"), (Path, "unlink"), (os, "replace"))


@pytest.mark.parametrize("done", range(7))
def test_a_set_aside_stopped_between_its_file_operations_leaves_a_run_the_job_trains(
    make_cfg, tmp_path: Path, monkeypatch, done: int
) -> None:
    """A raised cap's set-aside stopped after ``done`` of its file operations (the process
    killed) leaves a folder that the same job trains at the raised cap, with the lower cap's
    record, config and best checkpoint kept, the record naming the checkpoint where it went.
    Before, a stop after ``config.yaml`` was renamed left the lower cap's completed
    ``metrics.json`` without its config, and every later run of the job was refused as a
    completed run of other settings; a stop after the checkpoints moved left the record naming
    a checkpoint that was no longer there."""
    from omegaconf import OmegaConf

    def cfg(cap: int):
        return make_cfg("data=iris", f"trainer.max_epochs={cap}")

    run = tmp_path / "run"
    lower = train(cfg(1), run, multirun=True)
    record = json.loads((run / "metrics.json").read_text())
    config = (run / "config.yaml").read_bytes()
    best = Path(lower["best_checkpoint"]).read_bytes()
    made = []

    def stopping(owner, name):
        operation = getattr(owner, name)

        def counted(*args, **kwargs):
            if len(made) == done:
                raise _Killed
            made.append(name)
            return operation(*args, **kwargs)

        return counted

    with monkeypatch.context() as patched:
        for owner, name in _OPERATIONS:
            patched.setattr(owner, name, stopping(owner, name))
        with contextlib.suppress(_Killed):
            set_aside_capped_run(run, OmegaConf.to_container(cfg(2), resolve=True))

    again = train(cfg(2), run, multirun=True)  # the same job, as the same command runs it

    assert (again["status"], again["epochs"]) == ("completed", 2), again
    kept = [json.loads(path.read_text()) for path in run.glob("metrics-max_epochs1*.json")]
    assert [{**k, "best_checkpoint": None} for k in kept] == [{**record, "best_checkpoint": None}]
    assert Path(kept[0]["best_checkpoint"]).read_bytes() == best
    assert config in [path.read_bytes() for path in run.glob("config-max_epochs1*.yaml")]
