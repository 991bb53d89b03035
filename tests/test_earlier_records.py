"""A run that failed (on an exception) and trains again from scratch in its folder keeps the
failed attempt's record beside that attempt's checkpoints and logs: ``metrics.json`` to
``metrics-earlier.json`` with ``checkpoints-earlier/`` and ``logs-earlier/``, those of an
attempt before it moved on to ``metrics-earlier-v1.json`` with ``checkpoints-earlier-v1/``, one
attempt's files under one number; the log line names where the record went. A refused
attempt's record is replaced. The report, the skipping of ended jobs and the progress line read
``metrics.json`` alone. A worker's death that stops a job whose folder still holds a failed
attempt sets that attempt aside the same way before it records the stop.

The failures come from a callback of the user's (``+callbacks.fail``), in a module written to
the test's folder and imported from there, as a user's own callback is."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lossbench.checkpoint import load_checkpoint
from lossbench.progress import outcome_of
from lossbench.record import read_record
from lossbench.report.collect import load_runs
from lossbench.report.find import find_records, unfinished_jobs
from lossbench.training import train
from lossbench.vectorized.sweep import plan_sweep
from lossbench.worker_records import record_identity
from test_vectorized import _records
from test_vectorized_edges import _sweep
from test_worker_records_set_aside import _assert_recorded_as_stopped, _die

#: The user's callback: with ``LOSSBENCH_TEST_FAIL=<message>`` set, the run raises
#: ``RuntimeError(<message>)`` as its epoch ``LOSSBENCH_TEST_FAIL_EPOCH`` (default 1) starts.
CALLBACK = textwrap.dedent(
    '''
    """A callback whose run fails on an exception (a test's)."""

    import os

    from lightning.pytorch.callbacks import Callback


    class Fail(Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            message = os.environ.get("LOSSBENCH_TEST_FAIL")
            epoch = int(os.environ.get("LOSSBENCH_TEST_FAIL_EPOCH", "1"))
            if message and trainer.current_epoch == epoch:
                raise RuntimeError(message)
    '''
)
#: A run of iris with the failing callback, its CSV logs and two epochs.
RUN = (
    "data=iris",
    "logger=csv",
    "trainer.max_epochs=2",
    "+callbacks.fail._target_=failing_callback.Fail",
)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A sweep in this process configures logging as Hydra's job does (the root logger at INFO,
    with its own handlers): put the root logger's level back and drop the handlers it added,
    so that the tests after these log as they would alone."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in [handler for handler in root.handlers if handler not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def failing(tmp_path, monkeypatch) -> pytest.MonkeyPatch:
    """The failing callback importable as ``failing_callback``; set ``LOSSBENCH_TEST_FAIL``
    on the returned monkeypatch to make a run fail."""
    (tmp_path / "failing_callback.py").write_text(CALLBACK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _attempt(make_cfg, run: Path, failing: pytest.MonkeyPatch, message: str | None) -> dict:
    """One attempt at ``run`` as a sweep's job, failing with ``message`` (None: it completes);
    its record as written."""
    if message is None:
        failing.delenv("LOSSBENCH_TEST_FAIL", raising=False)
    else:
        failing.setenv("LOSSBENCH_TEST_FAIL", message)
    returned = train(make_cfg(*RUN), run, multirun=True)
    assert returned["status"] == ("completed" if message is None else "failed"), returned
    return json.loads((run / "metrics.json").read_text())


def _files(folder: Path) -> dict[str, bytes]:
    """The files in ``folder`` and below it, by path within it."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_job_that_failed_on_an_exception_keeps_each_attempts_record_with_its_files(
    make_cfg, tmp_path, failing, caplog
):
    """Two attempts of a sweep's job that failed in their second epoch (after the first
    epoch's checkpoints and logs), then one that completes: the second attempt's record, error
    and all, is metrics-earlier.json beside its checkpoints-earlier/ and logs-earlier/, the
    first's metrics-earlier-v1.json beside checkpoints-earlier-v1/ and logs-earlier-v1/; the
    log line says where each went; and the report, the sweep's skipping and the search for
    unfinished jobs read the completed attempt's metrics.json alone."""
    run = tmp_path / "sweep" / "0"
    first = _attempt(make_cfg, run, failing, "first attempt")
    assert (first["error"], first["refused"]) == ("RuntimeError: first attempt", False)
    first_files = {name: _files(run / name) for name in ("checkpoints", "logs")}
    assert all(first_files.values()), first_files
    second = _attempt(make_cfg, run, failing, "second attempt")
    assert second["error"] == "RuntimeError: second attempt"
    second_files = {name: _files(run / name) for name in ("checkpoints", "logs")}
    caplog.clear()  # the lines of the attempts before, where another test left INFO on

    with caplog.at_level(logging.INFO, logger="lossbench"):
        third = _attempt(make_cfg, run, failing, None)

    assert third["status"] == "completed" and third["resumed_from"] is None
    assert json.loads((run / "metrics-earlier.json").read_text()) == second
    assert json.loads((run / "metrics-earlier-v1.json").read_text()) == first
    for name in ("checkpoints", "logs"):
        assert _files(run / f"{name}-earlier") == second_files[name]
        assert _files(run / f"{name}-earlier-v1") == first_files[name]
    assert load_checkpoint(run / "checkpoints-earlier-v1" / "last.ckpt")["epoch"] == 0
    said = [r.getMessage() for r in caplog.records if "was set aside" in r.getMessage()]
    assert len(said) == 1, caplog.text
    assert f"its record to {run / 'metrics-earlier.json'}" in said[0], said[0]
    moved_on = f"{run / 'metrics-earlier.json'} to {run / 'metrics-earlier-v1.json'}"
    assert moved_on in said[0], said[0]
    # only metrics.json is a run: one row in the report, no unfinished job, the job ended
    assert find_records([run.parent]) == [(run / "metrics.json").resolve()]
    runs = load_runs([run.parent])
    assert len(runs) == 1 and list(runs["status"]) == ["completed"]
    assert unfinished_jobs([run.parent]) == []
    tasks, skipped = plan_sweep([make_cfg(*RUN)], [run])
    assert (tasks, skipped[0][1]) == ([], "skipped")


def test_a_single_run_that_failed_on_an_exception_keeps_its_record(make_cfg, tmp_path, failing):
    """A single run that failed in its first epoch, before any checkpoint, trained again in
    its folder: the failed attempt's record is kept in metrics-earlier.json, beside its logs in
    logs-earlier/."""
    run = tmp_path / "run"
    failing.setenv("LOSSBENCH_TEST_FAIL", "no checkpoint yet")
    failing.setenv("LOSSBENCH_TEST_FAIL_EPOCH", "0")
    with pytest.raises(RuntimeError, match="no checkpoint yet"):
        train(make_cfg(*RUN), run)
    failed = (run / "metrics.json").read_bytes()
    assert read_record(run)["error"] == "RuntimeError: no checkpoint yet"
    assert not list(run.rglob("*.ckpt"))
    failing.delenv("LOSSBENCH_TEST_FAIL")

    assert train(make_cfg(*RUN), run)["status"] == "completed"

    assert (run / "metrics-earlier.json").read_bytes() == failed
    assert (run / "logs-earlier").is_dir()
    assert read_record(run)["status"] == "completed"


def test_a_refused_attempts_record_is_replaced_not_set_aside(make_cfg, tmp_path):
    """A refusal trained nothing: the run trained in its folder then replaces its record."""
    run = tmp_path / "sweep" / "0"
    refused = train(make_cfg("data=breast_cancer", "head=logits", "loss=bce"), run, multirun=True)
    assert refused["status"] == "failed", refused
    assert read_record(run)["refused"] is True, read_record(run)

    assert train(make_cfg("data=breast_cancer"), run, multirun=True)["status"] == "completed"

    assert sorted(p.name for p in run.glob("metrics*")) == ["metrics.json"]


def test_a_workers_death_sets_aside_the_failed_attempt_its_task_had_not_yet_set_aside(
    make_cfg, tmp_path, failing, caplog
):
    """A group's task that found, in a job's folder, an attempt that failed on an exception,
    and died before it set that aside: the launching process sets the attempt aside as the task
    would have (metrics-earlier.json beside checkpoints-earlier/ and logs-earlier/), records
    the stop in metrics.json and counts the job as failed; trained again, the stop's record (an
    attempt without files) is metrics-earlier.json and the failed attempt's files all moved on
    to -v1 together."""
    sweep = tmp_path / "sweep"
    dirs = [sweep / "0", sweep / "1"]
    cfgs = [make_cfg(*RUN, f"seed={seed}") for seed in range(2)]
    failed = _attempt(make_cfg, dirs[1], failing, "first attempt")
    files = {name: _files(dirs[1] / name) for name in ("checkpoints", "logs")}
    assert all(files.values()), files
    dirs[0].mkdir()
    found = [record_identity(run) for run in dirs]
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="lossbench"):
        written, line = _die(sweep, dirs, cfgs, found)

    assert sorted(written) == [run / "metrics.json" for run in dirs]
    for run in dirs:
        _assert_recorded_as_stopped(run)
    assert json.loads((dirs[1] / "metrics-earlier.json").read_text()) == failed
    for name in ("checkpoints", "logs"):
        assert _files(dirs[1] / f"{name}-earlier") == files[name]
    assert f"its record to {dirs[1] / 'metrics-earlier.json'}" in caplog.text
    assert [outcome_of(sweep, job) for job in range(2)] == ["failed", "failed"]
    assert line.startswith("study: 2/2 jobs ended (0 completed, 0 skipped, 0 refused, 2 failed")
    stopped = json.loads((dirs[1] / "metrics.json").read_text())

    assert _attempt(make_cfg, dirs[1], failing, None)["status"] == "completed"

    assert json.loads((dirs[1] / "metrics-earlier.json").read_text()) == stopped
    assert json.loads((dirs[1] / "metrics-earlier-v1.json").read_text()) == failed
    for name in ("checkpoints", "logs"):
        assert _files(dirs[1] / f"{name}-earlier-v1") == files[name]
        assert not (dirs[1] / f"{name}-earlier").exists()  # the stopped attempt wrote none


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "vectorized"])
def test_a_sweep_run_again_keeps_the_records_of_its_jobs_that_failed(
    monkeypatch, tmp_path, capfd, launcher
):
    """A sweep of three jobs, two of which failed on an exception (their records say so, as a
    crash leaves them), run again under either launcher (the vectorized one trains the two as
    members of one group): each failed job trains again and completes, its earlier record kept
    in metrics-earlier.json beside its checkpoints-earlier/ and logs-earlier/; the completed job
    is skipped as it was; and the report reads the three metrics.json alone."""
    sweep = tmp_path / "sweep"
    args = (f"hydra.sweep.dir={sweep}", "data=iris", "seed=0,1,2", "logger=csv")
    args += ("trainer.max_epochs=2",)
    _sweep(monkeypatch, tmp_path, capfd, *args, launcher=launcher)
    crashed, checkpoints = {}, {}
    for job in "01":
        error = f"RuntimeError: out of memory in job {job}"
        crashed[job] = {**_records(sweep)[job], "status": "failed", "error": error}
        (sweep / job / "metrics.json").write_text(json.dumps(crashed[job]))
        checkpoints[job] = _files(sweep / job / "checkpoints")
    ended = (sweep / "2" / "metrics.json").read_bytes()

    log = _sweep(monkeypatch, tmp_path, capfd, *args, launcher=launcher)

    if launcher == "vectorized":
        assert "2 in 1 vectorized groups, 0 alone" in log, log
    for job in "01":
        folder = sweep / job
        assert _records(sweep)[job]["status"] == "completed"
        assert json.loads((folder / "metrics-earlier.json").read_text()) == crashed[job]
        assert _files(folder / "checkpoints-earlier") == checkpoints[job]
        assert (folder / "logs-earlier" / "metrics.csv").is_file()
        assert f"its record to {folder / 'metrics-earlier.json'}" in log, log
    assert (sweep / "2" / "metrics.json").read_bytes() == ended
    assert not list((sweep / "2").glob("*-earlier*"))
    assert find_records([sweep]) == [(sweep / job / "metrics.json").resolve() for job in "012"]
    assert list(load_runs([sweep])["status"]) == ["completed"] * 3
