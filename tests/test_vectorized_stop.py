"""A vectorized group stopped during its fit (Ctrl-C, SIGTERM): each member still training keeps
what its run alone keeps, as of its last completed epoch (best checkpoint, ``last.ckpt``,
``logs/``), no record, and its ``last.ckpt`` resumes and evaluates; each member that had ended
(early stopping, a non-finite loss) gets the record its group's end would have written, and a
run of the sweep again skips it. So do the groups that train in worker processes
(``hydra.launcher.n_jobs=2``): asked to stop, they keep the same, then the workers are killed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_process import SRC, run_console, run_module
from lossbench.checkpoint import load_checkpoint
from lossbench.interrupts import TERMINATED_EXIT
from lossbench.training import train
from lossbench.vectorized.run import train_group
from lossbench.worker_deaths import WORKER_DIED_EXIT
from lossbench.worker_stops import BUSY_PREFIX
from stop_signals import SIGNALS, posix

#: Two seeds as one vectorized group, trained in the launching process (one task: one worker),
#: for far more epochs than the test waits for.
SWEEP = (
    "-m",
    "hydra/launcher=vectorized",
    "data=iris",
    "seed=0,1",
    "trainer.max_epochs=100000",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=seed${seed}",
)


def _stopped_sweep(
    tmp_path: Path,
    signum: int,
    args: tuple[str, ...] = SWEEP,
    ready: str = "seed1/config.yaml",
    to_worker: bool = False,
    wait: float = 4,
    signalled: list[int] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Start the sweep (``args``) as a shell does (its own process group, Ctrl-C enabled), let
    its groups train ``wait`` seconds once the file ``ready`` (in the sweep's folder) is
    written, then send it ``signum`` (``to_worker``: to the worker process that began a task
    last, after ``ready`` was written, and to it only; its pid is added to ``signalled``)."""
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", TMPDIR=str(tmp_path))
    sweep = subprocess.Popen(
        [sys.executable, "-m", "lossbench.train", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "sweep" / ready).is_file():  # the group is built
        if sweep.poll() is not None or time.monotonic() > deadline:
            sweep.kill()
            raise AssertionError(f"the group does not train: {sweep.communicate()[1][-2000:]}")
        time.sleep(0.1)
    worker = _busy_worker(tmp_path, sweep.pid, tmp_path / "sweep" / ready) if to_worker else 0
    time.sleep(wait)  # some epochs of iris (milliseconds each)
    if to_worker:
        os.kill(worker, signum)
        if signalled is not None:
            signalled.append(worker)
    elif signum == signal.SIGINT:
        os.killpg(sweep.pid, signum)
    else:
        sweep.send_signal(signum)
    try:
        stdout, stderr = sweep.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(sweep.pid, signal.SIGKILL)
        raise AssertionError(f"it did not end: {sweep.communicate()[1][-2000:]}") from None
    return subprocess.CompletedProcess(sweep.args, sweep.returncode, stdout, stderr)


def _busy_worker(tmp_path: Path, launcher: int, after: Path) -> int:
    """The worker process of the ``launcher`` that began a task after the file ``after`` was
    written: marked busy in its pool's folder of marks (in ``tmp_path``, the sweep's
    temporary folder) since then; a child of the launcher."""
    since, deadline = after.stat().st_mtime_ns, time.monotonic() + 60
    while True:
        marks = [(m.stat().st_mtime_ns, m) for m in tmp_path.glob(f"{BUSY_PREFIX}{launcher}-*/*")]
        marks = sorted(m for m in marks if m[0] >= since)
        if marks:
            break
        assert time.monotonic() < deadline, f"no task began after {after}"
        time.sleep(0.05)
    worker = int(marks[-1][1].name)
    with open(f"/proc/{worker}/stat") as stat:  # state, parent, ...
        assert int(stat.read().rpartition(")")[2].split()[1]) == launcher
    return worker


def _last_progress_line(stderr: str) -> str:
    """The study's last progress line in a command's ``stderr`` (not a terminal: plain lines)."""
    lines = [line for line in stderr.splitlines() if line.startswith("study: ")]
    assert lines, stderr[-3000:]
    return lines[-1]


def _logged_epochs(run: Path) -> list[int]:
    with (run / "logs" / "metrics.csv").open() as rows:
        return sorted({int(row["epoch"]) for row in csv.DictReader(rows) if row.get("epoch")})


@posix
@pytest.mark.slow  # about 12 s each: a sweep's process, a resumed run and lossbench-eval
@SIGNALS
def test_a_stopped_group_s_members_keep_their_checkpoints_and_logs_and_resume(
    tmp_path, make_cfg, signum, status, what
):
    stopped = _stopped_sweep(tmp_path, signum)
    assert stopped.returncode == status, stopped.stderr[-2000:]
    assert stopped.stderr.strip().splitlines()[-1].startswith(f"lossbench: {what}.")
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    for seed in (0, 1):
        run = tmp_path / "sweep" / f"seed{seed}"
        assert not (run / "metrics.json").exists()  # no record: the sweep trains it again
        last = load_checkpoint(run / "checkpoints" / "last.ckpt")
        epochs = _logged_epochs(run)
        assert epochs == list(range(last["epoch"] + 1))  # the epochs done, the last one kept
        assert last["epoch"] >= 1
        assert last["loops"] and last["optimizer_states"]  # the training state: it resumes
        best = list((run / "checkpoints").glob("best-epoch*.ckpt"))
        assert len(best) == 1
        assert load_checkpoint(best[0])["epoch"] <= last["epoch"]
    # a run alone resumes a member from its last.ckpt and trains it to completion
    member = tmp_path / "sweep" / "seed1"
    done = load_checkpoint(member / "checkpoints" / "last.ckpt")["epoch"] + 1
    cfg = make_cfg(
        "data=iris",
        "seed=1",
        f"trainer.max_epochs={done + 2}",
        f"ckpt_path={member / 'checkpoints' / 'last.ckpt'}",
    )
    resumed = train(cfg, tmp_path / "resumed", multirun=True)
    assert resumed["status"] == "completed", resumed.get("error")
    assert resumed["epochs"] == done + 2
    assert len(resumed["history"]["val/nll"]) == done + 2
    evaluated = run_console(
        "eval", f"ckpt_path={member / 'checkpoints' / 'last.ckpt'}", cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]


def _record(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _assert_stopped_in_training(run: Path) -> None:
    """What a member stopped while it trained keeps: checkpoints and logs, no record."""
    assert not (run / "metrics.json").exists()
    last = load_checkpoint(run / "checkpoints" / "last.ckpt")
    assert _logged_epochs(run) == list(range(last["epoch"] + 1))
    assert len(list((run / "checkpoints").glob("best-epoch*.ckpt"))) == 1


def _assert_skipped_again(
    tmp_path: Path, args: tuple[str, ...], ended: list[Path]
) -> subprocess.CompletedProcess[str]:
    """The sweep run again over the ``ended`` jobs only skips them: their records stay."""
    written = {run: (run / "metrics.json").stat().st_mtime_ns for run in ended}
    again = run_module("lossbench.train", *args, cwd=tmp_path)
    assert "Traceback" not in again.stderr, again.stderr[-2000:]
    n = len(ended)  # none trained again (completed: 0): each skipped, or failed before
    assert f"study: {n}/{n} jobs ended (0 completed," in again.stderr, again.stderr[-2000:]
    assert {run: (run / "metrics.json").stat().st_mtime_ns for run in ended} == written
    return again


#: One group in the launching process: a member that trains on (lr 1e-4), one that early
#: stopping ends after 21 epochs (lr 1e-12: its weights do not change), one whose validation
#: loss is not finite after its first epoch, which early stopping ends there (lr 1e30).
ENDED = (
    "-m",
    "hydra/launcher=vectorized",
    "data=iris",
    "optimizer.lr=1e-4,1e-12,1e30",
    "trainer.max_epochs=100000",
    "early_stopping.enabled=true",
    "early_stopping.patience=20",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=lr${optimizer.lr}",
)


@posix
@pytest.mark.slow  # about 15 s: a sweep's process, then the sweep again
def test_a_stopped_group_records_its_members_that_had_ended_and_a_rerun_skips_them(tmp_path):
    stopped = _stopped_sweep(tmp_path, signal.SIGINT, ENDED, ready="lr1e+30/config.yaml")
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert stopped.stderr.strip().splitlines()[-1].startswith("lossbench: interrupted")
    _assert_stopped_in_training(tmp_path / "sweep" / "lr0.0001")
    ended = [tmp_path / "sweep" / "lr1e-12", tmp_path / "sweep" / "lr1e+30"]
    for run, epochs in zip(ended, (21, 1), strict=True):
        record = _record(run)  # as the group's end writes it: final metrics, checkpoints, logs
        assert record["status"] == "completed", record.get("error")
        assert (record["stopped_by"], record["epochs"], record["group_size"]) == (
            "early_stopping",
            epochs,
            3,
        )
        assert "test/nll" in record and "val/nll" in record
        assert Path(record["best_checkpoint"]).is_file()
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert _logged_epochs(run) == list(range(epochs))
    assert "study: 2/3 jobs ended" in stopped.stderr  # the progress line counts them
    again = (*(a for a in ENDED if "lr=" not in a), "optimizer.lr=1e-12,1e30")
    assert _assert_skipped_again(tmp_path, again, ended).returncode == 0


#: Two groups in two worker processes (one per seed), each with a member that trains on and one
#: whose training loss turns non-finite in its second epoch.
WORKERS = (
    "-m",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=2",
    "hydra.launcher.max_group_size=2",
    "data=iris",
    "seed=0,1",
    "optimizer.lr=1e-4,1e30",
    "trainer.max_epochs=100000",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=seed${seed}-lr${optimizer.lr}",
)


@posix
@pytest.mark.slow  # about 20 s each: a sweep's process with two workers, then the sweep again
@SIGNALS
def test_groups_in_worker_processes_keep_what_a_stopped_group_keeps(tmp_path, signum, status, what):
    _assert_workers_stopped(tmp_path, signum, status, what)


def _assert_workers_stopped(tmp_path: Path, signum: int, status: int, what: str) -> None:
    """The study of :data:`WORKERS`, stopped with ``signum``, ends with ``status`` and the line
    of ``what``, each group's members having kept what a stopped group keeps; the sweep run
    again keeps the failed ones."""
    started = time.monotonic()
    stopped = _stopped_sweep(tmp_path, signum, WORKERS, "seed1-lr0.0001/config.yaml")
    assert stopped.returncode == status, stopped.stderr[-2000:]
    assert stopped.stderr.strip().splitlines()[-1].startswith(f"lossbench: {what}.")
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert time.monotonic() - started < 120
    failed = []
    for seed in (0, 1):
        _assert_stopped_in_training(tmp_path / "sweep" / f"seed{seed}-lr0.0001")
        run = tmp_path / "sweep" / f"seed{seed}-lr1e+30"
        record = _record(run)  # its failure, as the group's end records it
        assert record["status"] == "failed"
        assert record["error"].startswith("non-finite training loss"), record["error"]
        assert record["group_size"] == 2
        failed.append(run)
    assert "study: 2/4 jobs ended" in stopped.stderr, stopped.stderr[-2000:]
    again = (*(a for a in WORKERS if "lr=" not in a), "optimizer.lr=1e30")
    rerun = _assert_skipped_again(tmp_path, again, failed)  # nothing completed: exit status 1
    assert "2 failed in an earlier run (kept)" in rerun.stderr, rerun.stderr[-2000:]


#: A group of two (one step of SGD per 32 rows): lr 1e4 makes its member's training loss
#: non-finite at epoch 0, step 1 (batch 1); lr 1e-2 trains on.
DIVERGING = ("data=breast_cancer", "head=sigmoid", "loss=manual_bce", "model=linear")
DIVERGING_LRS = (1e4, 1e-2)


def _stop_after_the_failure(monkeypatch, where: str) -> None:
    """Ctrl-C in the group's first epoch, after its diverging member has failed: at the next
    minibatch step (``step``: the loss of batch 2), or once the epoch's steps are done but
    before the epoch's end (``batch_end``: Lightning's hook after the one training step)."""
    from lossbench.vectorized.module import VectorizedModule

    if where == "step":
        losses, calls = VectorizedModule._losses, []

        def stopped(self, *args):
            calls.append(None)
            if len(calls) == 3:  # batch 2 of epoch 0: the failure came at batch 1
                raise KeyboardInterrupt
            return losses(self, *args)

        monkeypatch.setattr(VectorizedModule, "_losses", stopped)
    else:

        def stopped(self, outputs, batch, batch_idx):
            raise KeyboardInterrupt

        monkeypatch.setattr(VectorizedModule, "on_train_batch_end", stopped, raising=False)


@pytest.mark.slow  # about 3 s: the group twice, and its fit once more
@pytest.mark.parametrize("where", ["step", "batch_end"])
def test_a_member_that_failed_in_the_epoch_a_stop_cut_short_is_recorded_as_failed(
    make_cfg, tmp_path, monkeypatch, where
):
    """Its failure is known: the stop records it as the group's end does (not trained again)."""
    from lossbench.vectorized.sweep import plan_sweep

    cfgs = [
        make_cfg(*DIVERGING, "optimizer=sgd", "trainer.max_epochs=6", f"optimizer.lr={lr}")
        for lr in DIVERGING_LRS
    ]
    whole = train_group(cfgs, [tmp_path / "whole" / f"lr{lr}" for lr in DIVERGING_LRS])
    assert [r["status"] for r in whole] == ["failed", "completed"]
    dirs = [tmp_path / "stopped" / f"lr{lr}" for lr in DIVERGING_LRS]
    with monkeypatch.context() as patched:
        _stop_after_the_failure(patched, where)
        with pytest.raises(KeyboardInterrupt):
            train_group(cfgs, dirs)
    failed = _record(dirs[0])
    assert failed["status"] == "failed" and failed["refused"] is False
    assert failed["error"] == "non-finite training loss (nan) at epoch 0, step 1 (batch 1)"
    for key in ("error", "epochs", "steps", "history", "group_size", "best_checkpoint"):
        assert failed.get(key) == whole[0].get(key), key
    assert not (dirs[1] / "metrics.json").exists()  # still training: trained again
    # a sweep run again keeps the failed run, as it keeps any run that diverged
    tasks, skipped = plan_sweep(cfgs, dirs)
    assert (tasks, skipped) == ([[1]], {0: (None, "failed_before")})


#: Three groups of two in two worker processes, in this order (each job's folder its number):
#: the first and the last train on (lr 1e-4, 1e-5) beside a member that fails in its second
#: epoch (lr 1e30, 1e29); both members of the middle one fail at once, so the last begins while
#: the first still trains.
THREE_GROUPS = (
    "-m",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=2",
    "hydra.launcher.max_group_size=2",
    "data=iris",
    "trainer.max_epochs=100000",
    "optimizer.lr=1e-4,1e30,1e31,1e32,1e-5,1e29",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=${hydra.job.num}",
)


@posix
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="a process's parent read in /proc")
@pytest.mark.slow  # about 20 s: a sweep's process with two workers
def test_sigterm_to_one_worker_stops_the_study_as_sigterm_to_the_command(tmp_path):
    """A worker terminated from outside (``kill``, a job scheduler) is its job stopped by the
    system: the study stops as a SIGTERM to ``lossbench-train`` stops it (exit status, line,
    the other worker's group asked to stop and keeping what a stopped group keeps), also where
    the worker trains the last task handed over while the first still trains (the study
    waited for the first one's end)."""
    stopped = _stopped_sweep(
        tmp_path, signal.SIGTERM, THREE_GROUPS, ready="3/metrics.json", to_worker=True
    )
    assert stopped.returncode == TERMINATED_EXIT, stopped.stderr[-2000:]
    assert stopped.stderr.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM).")
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    runs = tmp_path / "sweep"
    assert _record(runs / "2")["status"] == _record(runs / "3")["status"] == "failed"  # before
    for trains_on, fails in (("0", "1"), ("4", "5")):  # the stopped worker's group, the other
        _assert_stopped_in_training(runs / trains_on)
        record = _record(runs / fails)
        assert record["status"] == "failed"
        assert record["error"].startswith("non-finite training loss"), record["error"]
    assert "study: 4/6 jobs ended" in stopped.stderr, stopped.stderr[-2000:]


#: :data:`THREE_GROUPS`, each job's folder named by its rate: the sweep run again over some of
#: them numbers its jobs anew.
BY_RATE = (
    *(a for a in THREE_GROUPS if not a.startswith("hydra.sweep.subdir")),
    "hydra.sweep.subdir=lr${optimizer.lr}",
)


@posix
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="a process's parent read in /proc")
@pytest.mark.slow  # about 25 s: a sweep's process with two workers, then the sweep again
def test_a_worker_killed_by_sigkill_stops_the_study_in_one_line_and_a_rerun_skips_what_ended(
    tmp_path,
):
    """A worker killed outright (SIGKILL: the kernel's out-of-memory killer) ended the command
    with loky's ``TerminatedWorkerError`` traceback: now the study stops (loky kills the other
    worker with it), the line names the signal, the jobs the worker trained and how to go on,
    exit status 1, and the records written before are kept and skipped by the same sweep."""
    stopped = _stopped_sweep(
        tmp_path, signal.SIGKILL, BY_RATE, ready="lr1e+32/metrics.json", to_worker=True
    )
    assert stopped.returncode == WORKER_DIED_EXIT, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    last = stopped.stderr.strip().splitlines()[-1]
    runs = tmp_path / "sweep"
    assert last.startswith(
        "lossbench: failed: a worker process of the vectorized launcher was killed by signal "
        "SIGKILL (most often the kernel's out-of-memory killer) while it trained jobs 4, 5 "
        f"({runs / 'lr1e-05'}, {runs / 'lr1e+29'}); the study stopped"
    ), last
    assert "its jobs that already ended with the same config are skipped" in last, last
    assert "each job in progress was recorded as failed" in last, last
    assert "hydra.launcher.n_jobs=1" in last and "hydra.launcher.max_group_size=4" in last
    ended = [runs / "lr1e+31", runs / "lr1e+32"]  # both failed at once, before the kill
    assert [_record(run)["status"] for run in ended] == ["failed", "failed"]
    assert all(_record(run)["error"].startswith("non-finite") for run in ended)
    for lr in ("0.0001", "1e+30", "1e-05", "1e+29"):  # in progress: failed, trained again
        record = _record(runs / f"lr{lr}")
        assert (record["status"], record["refused"]) == ("failed", False), lr
        assert "the study stopped" in record["error"], record["error"]
    assert "study: 2/6 jobs ended" in stopped.stderr, stopped.stderr[-2000:]
    # the jobs recorded after the death are counted too: its last line, before the command's
    assert _last_progress_line(stopped.stderr).startswith("study: 6/6 jobs ended, 6 failed")
    again = (*(a for a in BY_RATE if "lr=" not in a), "optimizer.lr=1e31,1e32")
    rerun = _assert_skipped_again(tmp_path, again, ended)
    assert "2 failed in an earlier run (kept)" in rerun.stderr, rerun.stderr[-2000:]


#: Three groups of two in two worker processes (each job's folder its number): the middle one
#: trains 2 epochs and completes, so that the last begins while the first still trains; the
#: first and the last train 300 epochs (seconds: the kill comes first, and the sweep run again
#: trains them whole).
DEATH = (
    "-m",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=2",
    "data=iris",
    "trainer.max_epochs=300,2,301",
    "optimizer.lr=1e-4,1e-3",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=${hydra.job.num}",
)


@posix
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="a process's parent read in /proc")
@pytest.mark.slow  # about 45-60 s: a sweep's process with two workers, its report, the sweep again
def test_a_worker_s_death_records_the_jobs_in_progress_as_failed_and_they_train_again(tmp_path):
    """A worker killed outright (SIGKILL: the out-of-memory killer) left its group's jobs, and
    those of the group loky killed after it, without a record: the report counted them as
    unfinished, and nothing in their folders said what happened. Now each is recorded as a job
    that failed with an exception is, saying which worker died and how; the report lists them
    as failed runs; the same command trains them again and skips the jobs that completed."""
    killed: list[int] = []
    stopped = _stopped_sweep(
        tmp_path,
        signal.SIGKILL,
        DEATH,
        "2/metrics.json",
        to_worker=True,
        wait=0.5,
        signalled=killed,
    )
    assert stopped.returncode == WORKER_DIED_EXIT, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    runs = tmp_path / "sweep"
    completed = [runs / "2", runs / "3"]
    assert [_record(run)["status"] for run in completed] == ["completed", "completed"]
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "lossbench: failed: a worker process of the vectorized launcher was killed by signal "
        f"SIGKILL (most often the kernel's out-of-memory killer) while it trained jobs 4, 5 "
        f"({runs / '4'}, {runs / '5'}); the study stopped"
    ), last
    assert "each job in progress was recorded as failed" in last, last
    (worker,) = killed
    expected = {
        "4": f"worker process {worker} was killed by signal SIGKILL (out of memory?) while "
        "training this group, and the study stopped",
        "0": f"stopped: another worker process ({worker}) was killed by signal SIGKILL (out of "
        "memory?), and the study stopped",
    }
    for job, error in (("0", "0"), ("1", "0"), ("4", "4"), ("5", "4")):
        record = _record(runs / job)
        assert record["status"] == "failed" and record["refused"] is False, job
        assert record["error"] == expected[error], (job, record["error"])
        assert (record["data"], record["group_size"], record["stopped_by"]) == ("iris", 2, "failed")
        assert record["environment"]["lossbench"], job  # a failed run's record, whole
    # the study's progress line counts them as failed (it left them out: 2/6 jobs ended)
    assert _last_progress_line(stopped.stderr).startswith("study: 6/6 jobs ended, 4 failed"), (
        stopped.stderr[-3000:]
    )

    report = run_console("report", "sweep", "--out", "report", cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "no metrics.json" not in report.stderr, report.stderr[-3000:]  # none unfinished
    with (tmp_path / "report" / "results.csv").open() as rows:
        statuses = {Path(row["run_dir"]).name: row["status"] for row in csv.DictReader(rows)}
    assert statuses == {job: "failed" for job in "0145"} | {"2": "completed", "3": "completed"}
    text = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert expected["4"] in text and expected["0"] in text

    written = {run: (run / "metrics.json").stat().st_mtime_ns for run in completed}
    again = run_module("lossbench.train", *DEATH, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "study: 6/6 jobs ended (4 completed, 2 skipped, 0 refused, 0 failed)" in again.stderr, (
        again.stderr[-3000:]
    )
    for job in "0145":  # trained again, whole
        record = _record(runs / job)
        assert (record["status"], record["epochs"]) == ("completed", 300 if job in "01" else 301)
    assert {run: (run / "metrics.json").stat().st_mtime_ns for run in completed} == written


@posix
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="a process's parent read in /proc")
@pytest.mark.slow  # about 40 s: a debug run, then a sweep's process with two workers
def test_a_debug_run_s_record_that_a_killed_group_trained_over_is_set_aside_and_the_job_failed(
    tmp_path,
):
    """A debug run's record in the folder of a job that the dead worker's group was training
    (over it: a debug run is no result) stayed there, so the job was neither recorded as failed
    nor counted on the study's progress line. Now it is set aside, whole, and the job failed."""
    debug = run_module(  # job 4's settings, as a debug run
        "lossbench.train",
        "data=iris",
        "trainer.max_epochs=301",
        "optimizer.lr=1e-4",
        "logger=csv",
        "debug=fdr",
        "hydra.run.dir=sweep/4",
        cwd=tmp_path,
    )
    assert debug.returncode == 0, debug.stderr[-3000:]
    runs = tmp_path / "sweep"
    assert _record(runs / "4")["debug_run"] == "trainer.fast_dev_run=true"
    kept = (runs / "4" / "metrics.json").read_bytes()
    killed: list[int] = []
    stopped = _stopped_sweep(
        tmp_path,
        signal.SIGKILL,
        DEATH,
        "2/metrics.json",
        to_worker=True,
        wait=0.5,
        signalled=killed,
    )
    assert stopped.returncode == WORKER_DIED_EXIT, stopped.stderr[-3000:]
    assert "while it trained jobs 4, 5" in stopped.stderr.strip().splitlines()[-1]
    (worker,) = killed
    record = _record(runs / "4")
    assert (record["status"], record["refused"], record["debug_run"]) == ("failed", False, None)
    assert record["error"] == (
        f"worker process {worker} was killed by signal SIGKILL (out of memory?) while training "
        "this group, and the study stopped"
    )
    assert (runs / "4" / "metrics-debug.json").read_bytes() == kept
    assert _last_progress_line(stopped.stderr).startswith("study: 6/6 jobs ended, 4 failed"), (
        stopped.stderr[-3000:]
    )


def _a_starting_worker(launcher: subprocess.Popen[str]) -> int:
    """A worker process of ``launcher`` as soon as it shows (in ``/proc``: Linux), still
    starting: before it takes stop requests (the launcher's SIGTERM would kill it outright)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and launcher.poll() is None:
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{name}/stat") as stat, open(f"/proc/{name}/cmdline") as cmd:
                    parent = int(stat.read().rpartition(")")[2].split()[1])
                    if parent == launcher.pid and "LokyProcess" in cmd.read():
                        return int(name)
            except (OSError, ValueError, IndexError):
                continue
    launcher.kill()
    raise AssertionError(f"no worker started: {launcher.communicate()[1][-2000:]}")


@posix
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="the processes read in /proc")
@pytest.mark.slow  # about 10 s: a sweep's process starts its two workers
def test_sigterm_to_a_worker_as_it_starts_stops_the_study_as_sigterm_to_the_command(tmp_path):
    """A worker that SIGTERM ends before it takes stop requests (loky's ``TerminatedWorkerError``
    ended the command with a traceback, exit status 1) stops the study all the same."""
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", TMPDIR=str(tmp_path))
    args = (
        *(a for a in WORKERS if not a.startswith("trainer.max_epochs")),
        "trainer.max_epochs=50",
    )
    sweep = subprocess.Popen(
        [sys.executable, "-m", "lossbench.train", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    os.kill(_a_starting_worker(sweep), signal.SIGTERM)
    try:
        _, stderr = sweep.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(sweep.pid, signal.SIGKILL)
        raise AssertionError(f"it did not end: {sweep.communicate()[1][-2000:]}") from None
    assert sweep.returncode == TERMINATED_EXIT, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM).")
