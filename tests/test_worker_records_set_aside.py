"""What a worker's death finds in the folders of the jobs it stopped, besides their own records
(:mod:`lossbench.worker_records`, :mod:`lossbench.worker_progress`): a debug run's record, which
the task was training over, a record that cannot be read, damaged at the death, and a run of a
lower ``trainer.max_epochs`` that the task trains again at the raised cap. None ended the job:
each is set aside, kept under its own name (the lower cap's run with its files, as the task sets
it aside), and the job is recorded as failed, counted on the study's progress line, and trained
again. (A real study with a worker killed:
``tests/test_vectorized_stop.py``.)"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lossbench.progress import StudyWatch, outcome_of
from lossbench.record import RunExistsError, read_record, write_record
from lossbench.training import train
from lossbench.vectorized.sweep import plan_sweep
from lossbench.worker_deaths import busy_marks, task_label
from lossbench.worker_progress import mark_stopped_tasks
from lossbench.worker_records import record_identity, record_stopped_tasks

DEAD = 4321
ERROR = (
    f"worker process {DEAD} was killed by signal SIGKILL (out of memory?) while training this "
    "{what}, and the study stopped"
)


def _die(sweep: Path, dirs: list[Path], cfgs: list, found: list) -> tuple[list[Path], str]:
    """The dead worker's task trained ``dirs`` (``found``: their records as it began): record
    and mark its jobs as the launching process does; return the records written and the study's
    last progress line."""
    busy = sweep.parent / "busy"
    busy.mkdir(exist_ok=True)
    (busy / str(DEAD)).write_text(task_label(list(range(len(dirs))), [str(d) for d in dirs], found))
    watch = StudyWatch(sweep, len(dirs), stream=io.StringIO())
    marks = busy_marks(busy)
    plain = [OmegaConf.to_container(cfg, resolve=True) for cfg in cfgs]
    configs = {str(run): cfg for run, cfg in zip(dirs, plain, strict=True)}
    jobs = {str(run): (str(sweep), job) for job, run in enumerate(dirs)}
    written = record_stopped_tasks(marks, configs, DEAD, -9)
    mark_stopped_tasks(marks, jobs, written)
    watch.stop()
    return written, watch.progress.stream.getvalue().splitlines()[-1]


def _assert_recorded_as_stopped(run: Path, what: str = "group") -> None:
    """``run`` holds the record of a job that the death stopped in its ``what`` (group, job)."""
    record = read_record(run)
    error = ERROR.format(what=what)
    assert (record["status"], record["refused"], record["error"]) == ("failed", False, error)
    assert record["debug_run"] is None and record["data"] == "iris"


def test_a_debug_run_s_record_in_a_stopped_job_s_folder_is_set_aside_and_the_job_failed(
    make_cfg, tmp_path
):
    """A debug run's record is no result: the task trains over it. Its worker killed, the job
    kept that record: it was neither recorded as failed nor counted on the progress line."""
    sweep = tmp_path / "sweep"
    dirs = [sweep / "0", sweep / "1"]
    cfgs = [make_cfg("data=iris", f"seed={seed}") for seed in range(2)]
    debug = train(make_cfg("data=iris", "seed=1", "debug=fdr"), dirs[1], multirun=True)
    assert debug["status"] == "completed" and debug["debug_run"] == "trainer.fast_dev_run=true"
    kept = (dirs[1] / "metrics.json").read_bytes()
    tasks, skipped = plan_sweep(cfgs, dirs)
    assert (tasks, skipped) == ([[0, 1]], {})  # its job trains over the debug run
    found = [record_identity(run) for run in dirs]

    written, line = _die(sweep, dirs, cfgs, found)

    assert sorted(written) == [run / "metrics.json" for run in dirs]
    for run in dirs:
        _assert_recorded_as_stopped(run)
    assert (dirs[1] / "metrics-debug.json").read_bytes() == kept  # nothing written is lost
    assert [outcome_of(sweep, job) for job in range(2)] == ["failed", "failed"]
    assert line.startswith("study: 2/2 jobs ended (0 completed, 0 skipped, 0 refused, 2 failed")
    assert plan_sweep(cfgs, dirs) == ([[0, 1]], {})  # the same sweep trains both again


def test_a_debug_run_s_record_set_aside_again_keeps_the_earlier_one(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    run = sweep / "0"
    cfgs = [make_cfg("data=iris")]
    write_record(run, {"status": "completed", "debug_run": "trainer.fast_dev_run=true"})
    (run / "metrics-debug.json").write_text('{"status": "completed", "note": "earlier"}\n')

    written, _ = _die(sweep, [run], cfgs, [record_identity(run)])

    assert written == [run / "metrics.json"]
    _assert_recorded_as_stopped(run, "job")
    assert '"trainer.fast_dev_run=true"' in (run / "metrics-debug.json").read_text()
    assert '"earlier"' in (run / "metrics-debug-v1.json").read_text()


@pytest.mark.parametrize(
    "damaged",
    [b'{"status": "completed", "val/nll": 0.0', b"", b'{"accuracy": 0.9}'],
    ids=["truncated", "emptied", "no-run-record"],
)
def test_a_record_damaged_at_the_death_is_set_aside_and_the_job_failed(make_cfg, tmp_path, damaged):
    """A ``metrics.json`` written in a stopped job's folder since its task began that cannot be
    read: the job did not complete. It was kept as it was, the job neither recorded as failed
    nor counted."""
    sweep = tmp_path / "sweep"
    dirs = [sweep / "0", sweep / "1"]
    cfgs = [make_cfg("data=iris", f"seed={seed}") for seed in range(2)]
    for run in dirs:
        run.mkdir(parents=True)
    found = [record_identity(run) for run in dirs]  # none, as the task began
    (dirs[1] / "metrics.json").write_bytes(damaged)  # at the death

    written, line = _die(sweep, dirs, cfgs, found)

    assert sorted(written) == [run / "metrics.json" for run in dirs]
    for run in dirs:
        _assert_recorded_as_stopped(run)
    assert (dirs[1] / "metrics-damaged.json").read_bytes() == damaged  # kept as it was
    assert [outcome_of(sweep, job) for job in range(2)] == ["failed", "failed"]
    assert line.startswith("study: 2/2 jobs ended (0 completed, 0 skipped, 0 refused, 2 failed")
    assert plan_sweep(cfgs, dirs) == ([[0, 1]], {})  # the same sweep trains both again


def test_a_lower_cap_run_in_a_stopped_job_s_folder_is_set_aside_and_the_job_failed(
    make_cfg, tmp_path, caplog
):
    """A run of the job's config trained with a lower ``trainer.max_epochs`` that reached its
    cap ended no job at the raised cap: the task sets it aside before it trains the job from
    scratch. Its worker killed before that, the job kept the lower cap's record: it was neither
    recorded as failed, nor counted as failed (``exists`` instead), though it trains again.
    The launching process says where the run's files went in the line the task would have
    logged."""
    sweep = tmp_path / "sweep"
    dirs = [sweep / "0", sweep / "1"]
    cfgs = [make_cfg("data=iris", f"seed={seed}") for seed in range(2)]  # trainer.max_epochs=2
    capped = train(make_cfg("data=iris", "seed=1", "trainer.max_epochs=1"), dirs[1], multirun=True)
    assert (capped["status"], capped["stopped_by"], capped["epochs"]) == ("completed", "budget", 1)
    config = (dirs[1] / "config.yaml").read_bytes()
    best = Path(capped["best_checkpoint"])
    assert best.parent == dirs[1] / "checkpoints" and best.is_file()
    checkpoint = best.read_bytes()
    assert plan_sweep(cfgs, dirs) == ([[0, 1]], {})  # its job trains the run again at cap 2
    found = [record_identity(run) for run in dirs]
    caplog.clear()  # the lines of the runs above, where another test left INFO on

    with caplog.at_level(logging.INFO, logger="lossbench"):
        written, line = _die(sweep, dirs, cfgs, found)

    assert sorted(written) == [run / "metrics.json" for run in dirs]
    for run in dirs:
        _assert_recorded_as_stopped(run)
    said = (
        f"{dirs[1]} holds this run trained with trainer.max_epochs=1, which reached its cap or "
        "spread its schedule over it: training it again with trainer.max_epochs=2 (kept in "
        f"{dirs[1]}: config.yaml as config-max_epochs1.yaml, checkpoints/ as "
        "checkpoints-max_epochs1/, metrics.json as metrics-max_epochs1.json)"
    )
    assert [r.getMessage() for r in caplog.records if "holds this run" in r.getMessage()] == [said]
    # kept as the task keeps it (lossbench.run_identity.kept_names), nothing lost: its record
    # names its best checkpoint where that went
    kept = json.loads((dirs[1] / "metrics-max_epochs1.json").read_text())
    moved = dirs[1] / "checkpoints-max_epochs1" / best.name
    assert kept == {**capped, "best_checkpoint": str(moved)}
    assert moved.read_bytes() == checkpoint
    assert (dirs[1] / "config-max_epochs1.yaml").read_bytes() == config
    assert not (dirs[1] / "checkpoints").exists() and not (dirs[1] / "config.yaml").exists()
    assert [outcome_of(sweep, job) for job in range(2)] == ["failed", "failed"]
    assert line.startswith("study: 2/2 jobs ended (0 completed, 0 skipped, 0 refused, 2 failed")
    assert plan_sweep(cfgs, dirs) == ([[0, 1]], {})  # the same sweep trains both again
    again = train(cfgs[1], dirs[1], multirun=True)  # as the same command trains it
    assert (again["status"], again["epochs"]) == ("completed", 2)
    assert json.loads((dirs[1] / "metrics-max_epochs1.json").read_text()) == kept
    assert moved.read_bytes() == checkpoint


def test_a_lower_cap_run_that_a_resumed_job_refuses_is_kept_and_counted_as_not_run(
    make_cfg, tmp_path
):
    """A job that resumes (``ckpt_path``) does not set a lower cap's run aside: it refuses to
    train over the completed run. Its worker killed, the run stays as it is, and the job is
    counted as the task's refusal would have counted it (``exists``)."""
    first = tmp_path / "first"
    train(make_cfg("data=iris", "trainer.max_epochs=1"), first, multirun=True)
    resume = f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}"
    sweep = tmp_path / "sweep"
    run = sweep / "0"
    resumed = train(make_cfg("data=iris", resume), run, multirun=True)  # trainer.max_epochs=2
    assert (resumed["status"], resumed["epochs"]) == ("completed", 2)
    kept = (run / "metrics.json").read_bytes()
    cfgs = [make_cfg("data=iris", resume, "trainer.max_epochs=3")]
    assert plan_sweep(cfgs, [run]) == ([[0]], {})  # handed over: the task refuses it

    written, line = _die(sweep, [run], cfgs, [record_identity(run)])

    assert written == [] and (run / "metrics.json").read_bytes() == kept
    assert (run / "checkpoints").is_dir() and not list(run.glob("*-max_epochs*"))
    assert outcome_of(sweep, 0) == "exists"
    assert "1 not run: a completed or kept run" in line
    with pytest.raises(RunExistsError, match="already records a completed run"):
        train(cfgs[0], run, multirun=True)  # as the same command's job refuses it
