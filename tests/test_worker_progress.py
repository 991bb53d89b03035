"""The study's progress line after a worker's death (:mod:`lossbench.worker_progress`): each job
of the tasks in progress is counted, as its record says it ended, also where an earlier run of
the sweep left its marker. (A real study with a worker killed: ``tests/test_vectorized_stop.py``.)
"""

from __future__ import annotations

import io

from omegaconf import OmegaConf

from lossbench.progress import MarkerCounter, StudyWatch, mark_job, outcome_of
from lossbench.record import write_record
from lossbench.worker_deaths import busy_marks, task_label
from lossbench.worker_progress import mark_stopped_tasks
from lossbench.worker_records import record_identity, record_stopped_tasks

DEAD, OTHER = 4321, 8765


def test_each_job_a_worker_s_death_stopped_is_counted_as_its_record_says(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    dirs = [sweep / str(job) for job in range(6)]
    cfgs = [
        OmegaConf.to_container(make_cfg("data=iris", f"seed={job}"), resolve=True)
        for job in range(6)
    ]
    for run in dirs:
        run.mkdir(parents=True)
    write_record(dirs[3], {"status": "completed", "note": "another config's run"})
    debug = {"status": "completed", "debug_run": "trainer.fast_dev_run=true"}
    write_record(dirs[5], debug)  # no result: its task trains over it, so it is set aside
    found = [record_identity(run) for run in dirs]  # as the tasks began
    mark_job(sweep, 0, "failed")  # an earlier run of the sweep's: not this one's
    watch = StudyWatch(sweep, 6, stream=io.StringIO())  # counts the sweep's own markers
    counter = MarkerCounter(sweep, only_new=True)
    # before the death: the dead worker's group recorded job 1 (a member that had ended) and
    # job 2 (completed), and its worker reported job 2 (then it was killed)
    write_record(dirs[1], {"status": "failed", "error": "non-finite training loss (nan) at 1"})
    write_record(dirs[2], {"status": "completed"})
    mark_job(sweep, 2, "completed")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / str(DEAD)).write_text(task_label([0, 1, 2, 3], [str(d) for d in dirs[:4]], found[:4]))
    (busy / str(OTHER)).write_text(task_label([4, 5], [str(d) for d in dirs[4:]], found[4:]))
    marks = busy_marks(busy)
    configs = {str(run): cfg for run, cfg in zip(dirs, cfgs, strict=True)}
    jobs = {str(run): (str(sweep), job) for job, run in enumerate(dirs)}

    written = record_stopped_tasks(marks, configs, DEAD, -9)
    marked = mark_stopped_tasks(marks, jobs, written)

    assert sorted(written) == [dirs[job] / "metrics.json" for job in (0, 4, 5)]
    expected = {"0": "failed", "1": "failed", "2": "completed", "3": "exists", "4": "failed"}
    expected["5"] = "failed"
    assert {k.rpartition("/")[2]: v for k, v in marked.items()} == expected
    assert [outcome_of(sweep, job) for job in range(6)] == list(expected.values())
    # each counted once, the earlier run's marker of job 0 included (written anew)
    counts = counter.counts()
    assert (counts["failed"], counts["completed"], counts["exists"]) == (4, 1, 1)
    watch.stop()
    assert watch.progress.stream.getvalue().splitlines()[-1] == (
        "study: 6/6 jobs ended (1 completed, 0 skipped, 0 refused, 4 failed, 1 not run: a "
        "completed or kept run of other settings in its directory)"
    )


def test_a_mark_that_does_not_say_what_its_task_found_counts_only_the_records_written(
    make_cfg, tmp_path
):
    cfg = OmegaConf.to_container(make_cfg("data=iris"), resolve=True)
    sweep = tmp_path / "sweep"
    kept, new = sweep / "0", sweep / "1"
    write_record(kept, {"status": "completed"})  # whose record: not known, so not counted
    label = {"jobs": [0, 1], "dirs": [str(kept), str(new)]}  # no "records"
    written = record_stopped_tasks({DEAD: label}, {str(kept): cfg, str(new): cfg}, DEAD, -9)
    jobs = {str(kept): (str(sweep), 0), str(new): (str(sweep), 1)}
    assert mark_stopped_tasks({DEAD: label}, jobs, written) == {str(new): "failed"}
    assert (outcome_of(sweep, 0), outcome_of(sweep, 1)) == (None, "failed")
