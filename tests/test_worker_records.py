"""The records of the jobs that a worker's death stopped (:mod:`lossbench.worker_records`): each
job of the tasks in progress is recorded as a job that failed with an exception is, saying what
stopped it, and trains again; a record that its task wrote before the death, or one that
ended, is never replaced. (A real study with a worker killed: ``tests/test_vectorized_stop.py``.)
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from lossbench.record import read_record, write_record
from lossbench.starting_record import base_record
from lossbench.vectorized.sweep import plan_sweep
from lossbench.worker_deaths import busy_marks, task_label
from lossbench.worker_records import record_identity, record_stopped_tasks

DEAD, OTHER = 4321, 8765


def test_the_jobs_in_progress_are_recorded_as_failed_and_what_had_ended_is_kept(make_cfg, tmp_path):
    cfgs = [make_cfg("data=iris", f"seed={seed}") for seed in range(5)]
    plain = [OmegaConf.to_container(cfg, resolve=True) for cfg in cfgs]
    dirs = [tmp_path / "sweep" / str(job) for job in range(5)]
    for run in dirs:
        run.mkdir(parents=True)
    earlier = base_record(cfgs[2], "multiclass") | {"error": "RuntimeError: boom"}
    write_record(dirs[2], earlier)  # an earlier attempt that failed on an exception
    write_record(dirs[3], {"status": "completed", "note": "another config's run"})
    found = [record_identity(run) for run in dirs]  # as the tasks began
    # meanwhile, in the dead worker's group: job 1, a member that had ended, was recorded
    OmegaConf.save(cfgs[1], dirs[1] / "config.yaml", resolve=True)
    write_record(dirs[1], {"status": "failed", "error": "non-finite training loss (nan) at 1"})
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / str(DEAD)).write_text(task_label([0, 1, 2, 3], [str(d) for d in dirs[:4]], found[:4]))
    (busy / str(OTHER)).write_text(task_label([4], [str(dirs[4])], found[4:]))
    configs = {str(run): cfg for run, cfg in zip(dirs, plain, strict=True)}

    written = record_stopped_tasks(busy_marks(busy), configs, DEAD, -9)

    assert sorted(written) == sorted(run / "metrics.json" for run in (dirs[0], dirs[2], dirs[4]))
    dead = (
        f"worker process {DEAD} was killed by signal SIGKILL (out of memory?) while training "
        "this group, and the study stopped"
    )
    other = (
        f"stopped: another worker process ({DEAD}) was killed by signal SIGKILL (out of "
        "memory?), and the study stopped"
    )
    for run, error, size in ((dirs[0], dead, 4), (dirs[2], dead, 4), (dirs[4], other, None)):
        record = read_record(run)
        # a failed run's record (lossbench.starting_record.base_record), as an exception leaves it
        expected = base_record(cfgs[int(run.name)], None)
        expected.update(error=error, refused=False)
        assert {k: record[k] for k in expected} == expected, run.name
        assert record.get("group_size") == size and record["environment"]["lossbench"]
    assert read_record(dirs[1])["error"].startswith("non-finite")  # written by its task: kept
    assert read_record(dirs[3]) == {"status": "completed", "note": "another config's run"}
    # such a record ends no job: the sweep run again trains them (and keeps job 1's failure)
    tasks, skipped = plan_sweep(cfgs[:3] + cfgs[4:], [*dirs[:3], dirs[4]])  # positions 0-3
    assert skipped == {1: (None, "failed_before")}
    assert sorted(job for task in tasks for job in task) == [0, 2, 3]  # jobs 0, 2 and 4


def test_a_mark_that_does_not_say_what_its_task_found_replaces_no_record(make_cfg, tmp_path):
    cfg = OmegaConf.to_container(make_cfg("data=iris"), resolve=True)
    run = tmp_path / "0"
    write_record(run, {"status": "failed", "error": "RuntimeError: boom"})
    label = {"jobs": [0], "dirs": [str(run)]}  # no "records": whose record is it?
    assert record_stopped_tasks({DEAD: label}, {str(run): cfg}, DEAD, -9) == []
    assert read_record(run)["error"] == "RuntimeError: boom"


def test_a_death_whose_worker_is_not_known_names_none(make_cfg, tmp_path):
    cfg = OmegaConf.to_container(make_cfg("data=iris"), resolve=True)
    run = tmp_path / "0"
    label = {"jobs": [0], "dirs": [str(run)], "records": [None]}
    assert record_stopped_tasks({OTHER: label}, {str(run): cfg}, None, None) == [
        Path(run, "metrics.json")
    ]
    error = read_record(run)["error"]
    assert error == "stopped: another worker process died, and the study stopped"
