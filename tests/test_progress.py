"""Study progress: jobs ended / total, failures and the time left on one line (stderr)."""

from __future__ import annotations

import io
import time

import pytest

from cli_process import run_module
from lossbench.hydra_callbacks import sweep_jobs
from lossbench.progress import (
    MarkerCounter,
    StudyProgress,
    add_jobs,
    count_markers,
    format_duration,
    mark_job,
    no_trial_completed_message,
    watch_study,
)
from lossbench.train import config_dir
from multirun_configs import multirun_config


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_counts_failures_and_estimates_the_time_left():
    clock, out = _Clock(), io.StringIO()
    progress = StudyProgress(10, stream=out, tty=False, min_interval_s=0, clock=clock)
    clock.now = 30.0
    progress.update(done=3, failed=1)
    assert out.getvalue() == "study: 3/10 jobs ended, 1 failed\n"  # no rate from one moment
    clock.now = 44.0  # 2 more in the 14 s since: 5 left at 1 every 7 s
    progress.update(done=5, failed=1)
    assert out.getvalue().splitlines()[-1] == "study: 5/10 jobs ended, 1 failed, about 35 s left"
    clock.now = 100.0
    progress.update(done=10, failed=1)
    assert out.getvalue().splitlines()[-1] == "study: 10/10 jobs ended, 1 failed, in 1 min 40 s"


def test_skipped_jobs_take_no_time_in_the_estimate():
    """A resumed study: 90 jobs skipped at once, then 1 trained a minute: the 8 jobs left
    after the second take about 8 min, not the 10 s that 92 jobs in 120 s would promise."""
    clock, out = _Clock(), io.StringIO()
    progress = StudyProgress(100, stream=out, tty=False, min_interval_s=0, clock=clock)
    clock.now = 1.0
    progress.update(done=90, failed=0, skipped=90)
    assert out.getvalue() == "study: 90/100 jobs ended, 0 failed\n"  # no estimate yet
    clock.now = 60.0
    progress.update(done=91, failed=0, skipped=90)
    assert out.getvalue().splitlines()[-1] == "study: 91/100 jobs ended, 0 failed"
    clock.now = 120.0
    progress.update(done=92, failed=0, skipped=90)
    line = out.getvalue().splitlines()[-1]
    assert line == "study: 92/100 jobs ended, 0 failed, about 8 min 00 s left"


def test_the_start_up_before_the_first_jobs_end_is_not_in_the_estimate():
    """A study as the vectorized launcher runs it: 9 s of workers importing and the first
    groups training, then groups of 12 ending every 3 s; the estimate is the steady rate's
    (4 jobs a second), where counting the start-up in promised far more."""
    clock, out = _Clock(), io.StringIO()
    progress = StudyProgress(240, stream=out, tty=False, min_interval_s=0, clock=clock)
    for group in range(1, 4):
        clock.now = 9.0 + 3.0 * (group - 1)
        progress.update(done=12 * group, failed=0)
    lines = out.getvalue().splitlines()
    assert lines[0] == "study: 12/240 jobs ended, 0 failed"
    # 24 jobs in the 6 s since the first ended: 204 left at 4 a second (counting the start-up
    # in: 36 jobs in 15 s, 1 min 25 s)
    assert lines[-1] == "study: 36/240 jobs ended, 0 failed, about 51 s left"


def test_terminal_redraws_one_line_and_logs_get_plain_lines_at_intervals():
    clock, tty = _Clock(), io.StringIO()
    progress = StudyProgress(4, stream=tty, tty=True, clock=clock)
    for done in range(1, 5):
        clock.now = 10.0 * done
        progress.update(done=done, failed=0)
    progress.finish("report: lossbench-report outputs/studies/x")
    text = tty.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 2  # one line, redrawn; then the final
    assert text.endswith("\nreport: lossbench-report outputs/studies/x\n")
    clock, log = _Clock(), io.StringIO()
    plain = StudyProgress(100, stream=log, tty=False, min_interval_s=10, clock=clock)
    for done in range(1, 101):
        clock.now = float(done)  # a job a second: a line every 10 s, and the last one
        plain.update(done=done, failed=0)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 11
    assert lines[-1] == "study: 100/100 jobs ended, 0 failed, in 1 min 40 s"
    clock.now = 101.0  # the watcher's final forced update: the same numbers, not a second line
    plain.update(done=100, failed=0, force=True)
    assert log.getvalue().splitlines() == lines


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0 s"), (59, "59 s"), (200, "3 min 20 s"), (3900, "1 h 05 min")]
)
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text


def test_markers_count_each_job_once_with_its_last_outcome(tmp_path):
    mark_job(tmp_path, 0, "completed")
    mark_job(tmp_path, 1, "failed")
    mark_job(tmp_path, 1, "completed")  # run again: replaces its failure
    mark_job(tmp_path, 2, "refused")
    assert count_markers(tmp_path) == {
        "completed": 2,
        "skipped": 0,
        "refused": 1,
        "failed": 0,
        "failed_before": 0,
        "exists": 0,
    }
    assert count_markers(tmp_path, since=time.time() + 60) == dict.fromkeys(
        ("completed", "skipped", "refused", "failed", "failed_before", "exists"), 0
    )  # markers of an earlier sweep are left out
    with pytest.raises(ValueError, match="Valid: completed, skipped, refused, failed"):
        mark_job(tmp_path, 3, "done")


def test_the_watchers_counter_counts_as_count_markers_does(tmp_path):
    """The progress thread's incremental count equals a fresh count after every change: new
    markers, a job's marker replaced by another outcome, markers of an earlier sweep (left out
    until the job marks them anew)."""
    import os

    mark_job(tmp_path, 0, "completed")
    old = mark_job(tmp_path, 5, "skipped")
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # an earlier sweep's marker
    since = time.time() - 60
    counter = MarkerCounter(tmp_path, since)
    steps = [
        lambda: None,
        lambda: mark_job(tmp_path, 1, "failed"),
        lambda: mark_job(tmp_path, 1, "completed"),  # its failure is replaced
        lambda: mark_job(tmp_path, 2, "refused"),
        lambda: mark_job(tmp_path, 5, "skipped"),  # the earlier sweep's marker, marked anew
        lambda: mark_job(tmp_path, 3, "failed_before"),
    ]
    seen = []
    for step in steps:
        step()
        seen.append(counter.counts())
        assert seen[-1] == count_markers(tmp_path, since)
    assert seen[0]["skipped"] == 0 and seen[-2]["skipped"] == 1
    assert seen[-1] == {
        "completed": 2,
        "skipped": 1,
        "refused": 1,
        "failed": 0,
        "failed_before": 1,
        "exists": 0,
    }
    assert MarkerCounter(tmp_path / "none").counts() == dict.fromkeys(seen[0], 0)


def test_a_sweep_started_again_at_once_counts_only_its_own_jobs(tmp_path):
    """The markers and added jobs an earlier sweep into the same directory left a moment ago
    (times within the same second) are not this sweep's, until one of its jobs writes them
    anew."""
    for job, outcome in enumerate(["completed", "completed", "refused", "refused"]):
        mark_job(tmp_path, job, outcome)
    add_jobs(tmp_path, "widen1", 2)
    out = io.StringIO()
    with watch_study(tmp_path, 2, stream=out, poll_s=0.01, min_interval_s=0) as progress:
        time.sleep(0.05)
        assert progress.total == 2 and out.getvalue() == ""  # nothing of the last sweep
        mark_job(tmp_path, 0, "skipped")
        mark_job(tmp_path, 1, "completed")  # the same outcome as before, written anew
        add_jobs(tmp_path, "widen1", 1)  # written anew by this sweep
    assert out.getvalue().splitlines()[-1] == (
        "study: 2/3 jobs ended (1 completed, 1 skipped, 0 refused, 0 failed); "
        "1 reported no end here"
    )


def test_watch_reports_jobs_as_their_markers_appear(tmp_path):
    out = io.StringIO()
    with watch_study(tmp_path, 2, stream=out, poll_s=0.01, min_interval_s=0):
        mark_job(tmp_path, 0, "completed")
        time.sleep(0.2)
        assert out.getvalue() == "study: 1/2 jobs ended, 0 failed\n"  # no rate from one job yet
        mark_job(tmp_path, 1, "failed")
    last = out.getvalue().splitlines()[-1]
    assert last == "study: 2/2 jobs ended (1 completed, 0 skipped, 0 refused, 1 failed)"


def test_refused_jobs_are_counted_on_the_line_as_they_end(tmp_path):
    """A refused job is no failure, but it is not a result either: the line says so while the
    sweep runs, not only in its final line."""
    out = io.StringIO()
    with watch_study(tmp_path, 3, stream=out, poll_s=0.01, min_interval_s=0):
        mark_job(tmp_path, 0, "refused")
        time.sleep(0.2)
        assert out.getvalue() == "study: 1/3 jobs ended, 0 failed, 1 refused\n"
        mark_job(tmp_path, 1, "completed")
        mark_job(tmp_path, 2, "refused")
    lines = out.getvalue().splitlines()
    assert lines[-2].startswith("study: 3/3 jobs ended, 0 failed, 2 refused, in ")
    assert lines[-1] == "study: 3/3 jobs ended (1 completed, 0 skipped, 2 refused, 0 failed)"


def test_jobs_not_run_are_counted_on_the_line_in_the_final_line_s_words(tmp_path):
    """A job whose directory holds a run of other settings trains nothing: the line says "not
    run", as the final line does, rather than counting it among jobs done."""
    out = io.StringIO()
    with watch_study(tmp_path, 3, stream=out, poll_s=0.01, min_interval_s=0):
        mark_job(tmp_path, 0, "exists")
        time.sleep(0.2)
        assert out.getvalue() == "study: 1/3 jobs ended, 0 failed, 1 not run\n"
        mark_job(tmp_path, 1, "exists")
        mark_job(tmp_path, 2, "exists")
    lines = out.getvalue().splitlines()
    assert lines[-2].startswith("study: 3/3 jobs ended, 0 failed, 3 not run, in ")
    assert lines[-1].startswith("study: 3/3 jobs ended (0 completed, 0 skipped, 0 refused, 0 ")
    assert lines[-1].endswith(
        "3 not run: a completed or kept run of other settings in its directory)"
    )


def test_runs_kept_from_an_earlier_run_count_as_failed_but_not_in_the_time_left(tmp_path):
    out = io.StringIO()
    with watch_study(tmp_path, 4, stream=out, poll_s=0.01, min_interval_s=0):
        mark_job(tmp_path, 0, "failed_before")  # kept: it took no time here
        mark_job(tmp_path, 1, "skipped")
        time.sleep(0.2)
        assert out.getvalue().splitlines()[-1] == "study: 2/4 jobs ended, 1 failed"  # no rate yet
        mark_job(tmp_path, 2, "completed")
        time.sleep(0.2)
        line = out.getvalue().splitlines()[-1]
        assert line == "study: 3/4 jobs ended, 1 failed"  # one timed job: no rate yet
        mark_job(tmp_path, 3, "failed")
    assert out.getvalue().splitlines()[-1] == (
        "study: 4/4 jobs ended (1 completed, 1 skipped, 0 refused, 1 failed, "
        "1 failed in an earlier run (kept))"
    )


@pytest.mark.parametrize(
    ("overrides", "jobs"),
    [
        (["seed=0,1,2"], 3),
        (["seed=0,1", "data=iris,wine", "loss=cross_entropy"], 4),
        (["experiment=compare_binary"], None),  # filled in below from its sweeper params
    ],
)
def test_sweep_size_comes_from_the_command_line_and_sweeper_params(overrides, jobs):
    swept = [o for o in overrides if "," in o]
    cfg = multirun_config([o for o in overrides if o not in swept], swept)
    if jobs is None:
        params = cfg.hydra.sweeper.params
        jobs = 1
        for value in params.values():
            jobs *= len(str(value).split(","))
    assert sweep_jobs(cfg) == jobs


def test_sweep_size_counts_a_glob_over_a_groups_options():
    """``data=glob(ir*)`` needs the group's options listed, from the multirun's own config
    folders (without them the progress line was left out)."""
    cfg = multirun_config(swept=["data=glob(*_binary*)", "seed=0,1"])
    binary = sorted(p.stem for p in (config_dir() / "data").glob("*_binary*.yaml"))
    assert len(binary) >= 2
    assert sweep_jobs(cfg) == 2 * len(binary)


@pytest.mark.slow  # two real multiruns: about 45 s here
def test_multirun_prints_progress_and_where_to_make_the_report(tmp_path):
    result = run_module(
        "lossbench.train",
        "-m",
        "data=iris",
        "head=logits",
        "loss=cross_entropy,bce",  # bce after raw logits: refused, not a failure
        "seed=0,1",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=study",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("study: ")]
    assert lines[-2].startswith("study: 4/4 jobs ended, 0 failed, 2 refused, in ")
    assert lines[-1] == (
        "study: 4/4 jobs ended (2 completed, 0 skipped, 2 refused, 0 failed). "
        "Make its report: lossbench-report study"
    )
    rerun = run_module(  # the same sweep again: every completed job is skipped
        "lossbench.train", "-m", "data=iris", "head=logits", "loss=cross_entropy",
        "seed=0,1", "trainer.max_epochs=1", "logger=none", "hydra.sweep.dir=study",
        cwd=tmp_path,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "(0 completed, 2 skipped, 0 refused, 0 failed)" in rerun.stderr


def test_the_final_line_quotes_a_sweep_folder_for_the_shell():
    """``Make its report: lossbench-report <folder>`` pastes as one argument: a folder with a
    space in its name is quoted."""
    import io

    from lossbench.hydra_callbacks import _final_line
    from lossbench.progress import OUTCOMES, StudyProgress

    counts = dict.fromkeys(OUTCOMES, 0) | {"completed": 2}
    progress = StudyProgress(total=2, stream=io.StringIO())
    line = _final_line("out/my study", None, progress, counts)
    assert line.endswith("Make its report: lossbench-report 'out/my study'")
    plain = _final_line("out/study", None, progress, counts)
    assert plain.endswith("Make its report: lossbench-report out/study")


def test_the_final_line_names_debug_runs_only_where_the_jobs_recorded_them(tmp_path):
    """A number of training batches set for the whole sweep (``trainer.limit_train_batches=5``)
    leaves none out where a job's epoch has no more: that job records an ordinary run, and the
    final line says to make the report, not that the runs are debug runs."""
    import json

    from lossbench.hydra_callbacks import _final_line
    from lossbench.progress import OUTCOMES, StudyProgress

    counts = dict.fromkeys(OUTCOMES, 0) | {"completed": 1}
    progress = StudyProgress(total=1, stream=io.StringIO())
    debug = "trainer.limit_train_batches=5"
    record = tmp_path / "study" / "0_iris" / "metrics.json"
    record.parent.mkdir(parents=True)
    since = time.time() - 1
    for recorded, says in ((debug, "Its runs are debug runs (trainer."), (None, "Make its report")):
        record.write_text(json.dumps({"status": "completed", "debug_run": recorded}))
        line = _final_line(str(tmp_path / "study"), debug, progress, counts, since=since)
        assert says in line, line
    # a record from before the sweep started is not one of its jobs'
    line = _final_line(str(tmp_path / "study"), debug, progress, counts, since=time.time() + 60)
    assert "Its runs are debug runs" in line, line


def test_a_search_whose_trials_completed_without_a_finite_value_says_so(tmp_path):
    """A trial completes with a NaN optimized metric where that metric is undefined on its
    validation split; a non-finite loss fails the trial instead (the catalogue's
    ``search-every-trial-without-a-value`` row)."""
    message = no_trial_completed_message(tmp_path, {"completed": 2}, 0.0)
    assert message.startswith(
        "none of the 2 trials of the Optuna search has a finite value of the optimized metric "
        "(2 completed with a non-finite value; each trial's metrics.json says why)"
    )


@pytest.mark.parametrize(
    ("counts", "fails"),
    [
        ({"completed": 0, "failed": 2}, True),
        ({"completed": 0, "failed": 1, "refused": 1}, True),
        ({"failed_before": 2}, True),
        ({"completed": 1, "failed": 1}, False),  # a study where some runs diverge: exit 0
        ({"skipped": 1, "failed": 1}, False),  # completed in an earlier run of the sweep
        ({"refused": 2}, False),  # refused instead (exit 2)
        ({"completed": 0, "failed": 0}, False),  # nothing ended
    ],
)
def test_a_sweep_fails_when_none_of_its_jobs_completed(counts, fails):
    """``lossbench-train -m`` exits 1 after a sweep with no completed job (there is nothing to
    report), 0 where one job completed, now or before."""
    from lossbench.progress import none_completed

    assert none_completed(counts) is fails


def test_a_stopped_study_s_progress_line_ends_before_the_command_s_last_line(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C (or SIGTERM) during a study: its progress line shows the last counts and ends
    before the ``lossbench: interrupted`` line, and nothing is written after that line (the
    line's thread went on polling and wrote the counts of the jobs that ended as the study
    stopped after it)."""
    import threading

    import lossbench.train as train

    def run_job(cfg, output_dir):
        if cfg.seed == 1:
            raise KeyboardInterrupt
        return None, "completed"

    monkeypatch.setattr(train, "_run_job", run_job)
    monkeypatch.chdir(tmp_path)
    argv = ["lossbench-train", "-m", "data=iris", "seed=0,1", "logger=none", "hydra.sweep.dir=s"]
    monkeypatch.setattr("sys.argv", argv)
    try:
        with pytest.raises(SystemExit) as stop:
            train.main()
        assert stop.value.code == 130
        polling = [t for t in threading.enumerate() if t.name == "lossbench-progress"]
        assert not polling, "the progress line goes on after the command's last line"
        lines = capsys.readouterr().err.splitlines()
        assert lines[-1].startswith("lossbench: interrupted (Ctrl-C).")
        # the interrupted job has not ended: neither counted as ended nor as failed
        assert lines[-2] == "study: 1/2 jobs ended, 0 failed"
        assert sorted(p.name for p in (tmp_path / "s" / ".progress").iterdir()) == ["0.completed"]
    finally:
        from lossbench.progress import end_cut_short_sweeps

        end_cut_short_sweeps()  # a line left running
