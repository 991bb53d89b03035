"""Stopping a study with Ctrl-C or SIGTERM: at once, one line, its workers gone, and the same
command resumes it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_process import SRC, SWEEP_LAUNCHERS, run_script, start_script
from lossbench.interrupts import (
    INTERRUPTED_EXIT,
    TERMINATED_EXIT,
    Terminated,
    fit_interrupts,
    stops_held,
    terminated_as_interrupt,
)
from stop_signals import SIGNALS, WAIT, fit_stopped_by_ctrl_c, group_gone, posix

#: A quick setup (2 epochs) and one that would train for minutes (100 000 epochs), each as
#: a vectorized group of 2 seeds, in 2 worker processes.
STUDY = (
    "-m",
    "hydra/sweeper=lossbench",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=2",
    "data=iris",
    "setup=logits_cross_entropy,log_softmax_nll",
    "seed=0,1",
    "logger=none",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=${setup}-seed${seed}",
)
LONG = "+hydra.sweeper.linked.setup={logits_cross_entropy: ['trainer.max_epochs=2'], log_softmax_nll: ['trainer.max_epochs=100000']}"  # noqa: E501


def _start(
    tmp_path: Path, *args: str, console: bool = False, path: Path | None = None
) -> subprocess.Popen[str]:
    """``python -m lossbench.train ARGS`` (with ``console``: ``lossbench-train ARGS``, as its
    console script runs it) as a shell starts it: its own process group, Ctrl-C enabled;
    ``path``: a folder after lossbench's on its Python path."""
    python_path = os.pathsep.join([str(SRC), *([str(path)] if path else [])])
    env = dict(os.environ, PYTHONPATH=python_path, OMP_NUM_THREADS="1")
    entry = ["-c", CONSOLE_TRAIN] if console else ["-m", "lossbench.train"]
    return subprocess.Popen(
        [sys.executable, *entry, *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


#: ``lossbench-train`` as its console script runs it (:func:`lossbench.commands.train`).
CONSOLE_TRAIN = (
    "import sys; from lossbench.commands import train; "
    "sys.argv[0] = 'lossbench-train'; sys.exit(train())"
)


def _wait_for_completed(sweep: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 180
    while len(list((sweep / ".progress").glob("*.completed"))) < count:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {count} completed jobs: {process.communicate()[1][-2000:]}")
        time.sleep(0.2)


def _wait_for_training(sweep: Path, process: subprocess.Popen[str], launcher: str) -> None:
    """Wait until the quick setup's 2 jobs have completed and the long setup's first job
    trains: under Hydra's launchers, its first epoch's checkpoint is written; a vectorized
    group writes its members' at its end, but it trains already in the other worker."""
    _wait_for_completed(sweep, 2, process)
    if launcher.startswith("vectorized"):
        return
    deadline = time.monotonic() + 120
    while not list(sweep.glob("log_softmax_nll-seed0/checkpoints/*.ckpt")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the long job does not train: {process.communicate()[1][-2000:]}")
        time.sleep(0.1)


def _check_stopped(study: subprocess.Popen[str], status: int, words: str, tmp_path: Path) -> str:
    """Check that the stopped ``study`` ended at once (within 30 s) with exit status
    ``status``, its last line ``words``..., after the progress line at the quick setup's 2
    jobs, no traceback, no process of it left, and nothing of the long setup recorded or
    counted as ended (its runs train again when the study is run again); its stderr."""
    try:
        _, stderr = study.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(study.pid, signal.SIGKILL)
        raise AssertionError(f"it did not end: {study.communicate()[1][-2000:]}") from None
    assert study.returncode == status, stderr[-2000:]
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith(words), stderr[-2000:]
    assert "command again to train the rest" in lines[-1]
    progress = [line for line in lines if line.startswith("study: ")]
    assert re.fullmatch(r"study: 2/4 jobs ended, 0 failed(, about .* left)?", progress[-1]), lines
    assert group_gone(study.pid, within_s=5.0), "a worker process of the stopped study runs on"
    markers = sorted(p.name for p in (tmp_path / "sweep" / ".progress").glob("*.*"))
    assert markers == ["0.completed", "1.completed"]
    recorded = sorted(p.parent.name for p in tmp_path.glob("sweep/*/metrics.json"))
    assert recorded == ["logits_cross_entropy-seed0", "logits_cross_entropy-seed1"]
    return stderr


def _study_under(launcher: str) -> tuple[str, ...]:
    """STUDY with LONG under ``launcher`` (:data:`cli_process.SWEEP_LAUNCHERS`)."""
    own = [a for a in STUDY if not a.startswith(("hydra/launcher=", "hydra.launcher."))]
    return (*own, *SWEEP_LAUNCHERS[launcher], LONG)


@posix
@pytest.mark.slow  # about 25 s each: the study's process and its 2 workers start and train
@pytest.mark.parametrize(
    ("sig", "to_group", "status", "words"),
    [
        (signal.SIGINT, True, INTERRUPTED_EXIT, "lossbench: interrupted (Ctrl-C)."),
        (signal.SIGTERM, False, TERMINATED_EXIT, "lossbench: terminated (SIGTERM)."),
    ],
    ids=["ctrl-c-to-the-terminal-group", "sigterm-to-the-study-alone"],
)
def test_a_stopped_study_ends_at_once_with_its_workers(tmp_path, sig, to_group, status, words):
    study = _start(tmp_path, *STUDY, LONG)
    _wait_for_completed(tmp_path / "sweep", 2, study)  # the quick group has ended
    start = time.monotonic()
    if to_group:
        os.killpg(study.pid, sig)
    else:
        study.send_signal(sig)
    _, stderr = study.communicate(timeout=60)
    assert time.monotonic() - start < 15, "it trained on instead of stopping"
    assert study.returncode == status, stderr[-2000:]
    assert words in stderr and "command again to train the rest" in stderr
    assert "Traceback" not in stderr
    assert group_gone(study.pid), "a worker process of the stopped study is still running"
    # the quick group's runs are kept; the stopped group's have no record
    records = {
        p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("sweep/*/metrics.json")
    }
    assert sorted(records) == ["logits_cross_entropy-seed0", "logits_cross_entropy-seed1"]
    assert all(r["status"] == "completed" for r in records.values())


@posix
@pytest.mark.slow
def test_the_same_command_resumes_an_interrupted_study(tmp_path):
    study = _start(tmp_path, *STUDY, LONG)
    _wait_for_completed(tmp_path / "sweep", 2, study)
    os.killpg(study.pid, signal.SIGINT)
    study.communicate(timeout=60)
    assert study.returncode == INTERRUPTED_EXIT
    # the same sweep, with the long setup made short: the completed jobs are skipped, the
    # interrupted ones (a directory without a record) train
    short = LONG.replace("100000", "2")
    again = _start(tmp_path, *STUDY, short)
    _, stderr = again.communicate(timeout=180)
    assert again.returncode == 0, stderr[-2000:]
    assert "4/4 jobs ended (2 completed, 2 skipped, 0 refused, 0 failed)" in stderr


@posix
@pytest.mark.slow  # about 30 s: a study trains a group, then the same command runs again
def test_a_killed_study_s_workers_end_with_it_and_the_same_command_resumes_it(tmp_path):
    """SIGKILL (or the out-of-memory killer) stops nothing itself: the study's workers end with
    its process, within a second, the group they trained without a record, and the same
    command trains that group again (workers left training would write the records while it
    does, and it would refuse their jobs as runs of other settings)."""
    study = _start(tmp_path, *STUDY, LONG)
    try:
        _wait_for_completed(tmp_path / "sweep", 2, study)  # the long group trains on
        study.kill()
        study.wait(timeout=60)  # its output pipes stay open while a worker lives
        assert group_gone(study.pid, within_s=3.0), "a worker of the killed study trains on"
    finally:
        with contextlib.suppress(ProcessLookupError):  # what the study left running
            os.killpg(study.pid, signal.SIGKILL)
        study.communicate(timeout=60)
    kept = sorted(p.parent.name for p in tmp_path.glob("sweep/*/metrics.json"))
    assert kept == ["logits_cross_entropy-seed0", "logits_cross_entropy-seed1"]
    again = _start(tmp_path, *STUDY, LONG.replace("100000", "2"))
    _, stderr = again.communicate(timeout=180)
    assert again.returncode == 0, stderr[-2000:]
    assert "4/4 jobs ended (2 completed, 2 skipped, 0 refused, 0 failed)" in stderr


@posix
@pytest.mark.slow  # about 20 s each: the study trains its quick jobs, then one that goes on
@pytest.mark.parametrize(
    ("launcher", "sig", "to_group", "status", "words"),
    [
        ("basic", signal.SIGINT, True, INTERRUPTED_EXIT, "lossbench: interrupted (Ctrl-C)."),
        ("basic", signal.SIGTERM, False, TERMINATED_EXIT, "lossbench: terminated (SIGTERM)."),
        ("parallel", signal.SIGINT, True, INTERRUPTED_EXIT, "lossbench: interrupted (Ctrl-C)."),
    ],
    ids=["basic-ctrl-c", "basic-sigterm", "parallel-ctrl-c"],
)
def test_a_job_stopped_under_hydra_s_launchers_is_not_counted_as_ended(
    tmp_path, launcher, sig, to_group, status, words
):
    """Under Hydra's basic launcher (the job trains in the command's process) and the parallel
    one (a joblib worker, which a Ctrl-C reaches too), a job stopped while it trains has not
    ended: the progress line stops at the counts it had reached (no job failed) and leaves no
    marker, as the vectorized launcher's groups do; it was counted as failed and as ended."""
    study = _start(tmp_path, *_study_under(launcher), console=True)
    _wait_for_training(tmp_path / "sweep", study, launcher)
    if to_group:
        os.killpg(study.pid, sig)
    else:
        study.send_signal(sig)
    _check_stopped(study, status, words, tmp_path)


@posix
@pytest.mark.slow  # about 20 s each: the study trains its quick jobs, then one that goes on
@pytest.mark.parametrize("launcher", ["vectorized-workers", "parallel"])
def test_ctrl_c_again_and_again_stops_a_study_and_its_workers_in_one_line(tmp_path, launcher):
    """More Ctrl-C while the first stops the study (pressed again and again, or GNU ``timeout
    -s INT``, which signals the command, then its process group) change nothing: the worker
    processes are killed all the same, without loky's ``pgrep`` (which a second one killed),
    and the command ends with the first one's line (a second one cut the stop short: a
    traceback, or workers that trained on while the command waited for them, until killed)."""
    arguments = _study_under(launcher)
    if launcher == "vectorized-workers":  # the two setups in two groups, one per worker
        arguments = tuple(a for a in arguments if not a.startswith("hydra.launcher.max_group"))
    study = _start(tmp_path, *arguments, console=True)
    _wait_for_training(tmp_path / "sweep", study, launcher)
    os.kill(study.pid, signal.SIGINT)  # as timeout -s INT sends it, then to the group
    deadline = time.monotonic() + 2
    while study.poll() is None and time.monotonic() < deadline:  # and again, every 10 ms
        with contextlib.suppress(ProcessLookupError):
            os.killpg(study.pid, signal.SIGINT)
        time.sleep(0.01)
    _check_stopped(study, INTERRUPTED_EXIT, "lossbench: interrupted (Ctrl-C).", tmp_path)


@posix
@pytest.mark.slow  # about 20 s: the study trains its quick jobs, then one that goes on
def test_python_m_lossbench_train_stops_as_lossbench_train_does(tmp_path):
    """``python -m lossbench.train`` is the same command as ``lossbench-train``: SIGTERM stops
    a study of the parallel launcher, worker processes included, with the line and exit
    status 143 (it was killed by the signal, without a line, and loky warned of leaked
    semaphores)."""
    study = _start(tmp_path, *_study_under("parallel"))
    _wait_for_training(tmp_path / "sweep", study, "parallel")
    study.send_signal(signal.SIGTERM)
    stderr = _check_stopped(study, TERMINATED_EXIT, "lossbench: terminated (SIGTERM).", tmp_path)
    assert "leaked" not in stderr


#: A ``sitecustomize`` that writes, as each process exits, its id and the threads it still
#: runs to ``threads`` beside it; the thread that feeds loky's call queue ends a little late.
THREADS_AT_EXIT = """
import atexit, os, threading, time
from multiprocessing import connection

_close = connection.Connection.close
def close(self):
    if threading.current_thread().name == "QueueFeederThread":
        time.sleep(0.2)
    _close(self)
connection.Connection.close = close

def threads():
    names = sorted(t.name for t in threading.enumerate())
    with open(os.path.join(os.path.dirname(__file__), "threads"), "a") as f:
        f.write(f"{os.getpid()} {' '.join(names)}\\n")
atexit.register(threads)
"""


@posix
@pytest.mark.slow  # about 20 s: the study trains its quick jobs, then one that goes on
def test_a_stopped_parallel_study_leaves_no_thread_of_loky_s_to_end_as_it_exits(tmp_path):
    """A study of the parallel launcher stopped by Ctrl-C has ended loky's threads when it
    says it stopped: joblib shut its executor down without waiting for the thread that feeds
    the call queue, which ran on as the command exited, holding the queue's semaphores; ending
    then, it could unlink one and be stopped before telling loky's resource tracker, which
    warned of a leaked semaphore after the command's line."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(THREADS_AT_EXIT)
    study = _start(tmp_path, *_study_under("parallel"), console=True, path=inject)
    _wait_for_training(tmp_path / "sweep", study, "parallel")
    os.killpg(study.pid, signal.SIGINT)
    stderr = _check_stopped(study, INTERRUPTED_EXIT, "lossbench: interrupted (Ctrl-C).", tmp_path)
    assert "resource_tracker" not in stderr, stderr[-2000:]
    exits = dict(line.split(" ", 1) for line in (inject / "threads").read_text().splitlines())
    assert exits[str(study.pid)] == "MainThread"


def test_a_stopped_joblib_call_leaves_no_thread_to_release_its_semaphores_at_exit():
    """joblib's loky executor, stopped by Ctrl-C under ``hydra/launcher=parallel`` (the hooks
    ``on_multirun_start`` sets), has ended its threads when the ``KeyboardInterrupt`` comes
    out of ``joblib.Parallel``: none is left to release the call queue's semaphores as the
    process exits, and loky's resource tracker has nothing to warn of."""
    script = (
        "import signal, threading, time\n"
        # as a terminal's Python has it: a test process may have left SIGINT ignored, which
        # the child inherits
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from joblib import Parallel, delayed\n"
        "from lossbench.worker_kills import use_own_kills, use_own_terminate\n"
        "use_own_kills()\n"
        "use_own_terminate()\n"
        "feeding = lambda: any(t.name == 'QueueFeederThread' for t in threading.enumerate())\n"
        "def interrupt():\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not feeding() and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    time.sleep(0.5)\n"
        "    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # a Ctrl-C\n"
        "threading.Thread(target=interrupt, daemon=True).start()\n"
        "try:\n"
        "    Parallel(n_jobs=2)(delayed(time.sleep)(60) for _ in range(4))\n"
        "except KeyboardInterrupt:\n"
        "    print([t.name for t in threading.enumerate() if t is not threading.main_thread()])\n"
    )
    done = run_script(script, timeout=120, extra_env={"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
    assert "resource_tracker" not in done.stderr, done.stderr[-2000:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_and_its_children_are_killed_without_starting_a_process(monkeypatch):
    """A stopped study's worker is killed with its own child processes, found in /proc: no
    process is started to find them (loky's pgrep, in the command's process group, died of
    a second Ctrl-C), so nothing a second signal could cut short."""
    from lossbench.worker_kills import kill_tree

    worker = subprocess.Popen(["bash", "-c", "sleep 60 & sleep 60 & wait"])
    deadline = time.monotonic() + 10
    while len(_children(worker.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    children = _children(worker.pid)
    assert len(children) == 2

    def no_process(*args, **kwargs):
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    kill_tree(worker.pid)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while any(_running(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_running(child) for child in children)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid``, from /proc/<pid>/stat."""
    found = []
    for name in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError):
            if name.isdigit() and _stat(int(name))[1] == str(pid):
                found.append(int(name))
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the process's name: state, parent, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (has not ended: a zombie has)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def test_a_fit_lightning_stopped_on_ctrl_c_raises_it_again():
    """Lightning ends a fit stopped by Ctrl-C with sys.exit(1) after its graceful shutdown:
    fit_interrupts raises KeyboardInterrupt again, so that the command says what happened."""
    trainer = fit_stopped_by_ctrl_c(enable_progress_bar=False)
    assert trainer.interrupted and trainer.current_epoch == 1
    with pytest.raises(SystemExit) as other, fit_interrupts(object()):  # any other exit passes
        sys.exit(1)
    assert other.value.code == 1


@posix
def test_a_stop_held_over_a_block_takes_effect_as_it_ends():
    """stops_held: a SIGTERM (here raised as Terminated) or Ctrl-C that arrives while the block
    runs waits for its end, then acts as the handler there was before would; a block stopped
    by neither leaves the handlers as they were."""
    steps = []
    with pytest.raises(Terminated), terminated_as_interrupt():
        handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        try:
            with stops_held():
                # delivered to this thread and handled before raise_signal returns (os.kill
                # may deliver to another thread, handled here later: after the block, at times)
                signal.raise_signal(signal.SIGTERM)
                steps.append("the block went on")
        finally:
            steps.append("ended")
            assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert steps == ["the block went on", "ended"]
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stops_held():
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def _loading_torch(pid: int) -> bool:
    """Whether process ``pid`` has begun to load torch's library (its import takes seconds)."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


@posix
@pytest.mark.slow  # about 5 s each: a process that imports torch
@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/<pid>/maps")
@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("evaluate", ["ckpt_path=run.ckpt"]),
        ("predict", ["ckpt_path=run.ckpt", "data.path=new.csv"]),
    ],
    ids=["evaluate", "predict"],
)
@SIGNALS
def test_ctrl_c_while_a_command_loads_torch_ends_it_in_one_line(
    tmp_path, command, arguments, signum, status, what
):
    """lossbench-eval and lossbench-predict load torch where their work starts, after the
    checks that need no checkpoint (:func:`lossbench.train.start_checkpoint_work`), inside
    Ctrl-C handling: a Ctrl-C or SIGTERM while torch loads shows no traceback. (The
    console entry points, :mod:`lossbench.commands`, import each command's module inside the
    same handling; lossbench-train and lossbench-report load torch later, in their own.)"""
    code = f"import sys; from lossbench.commands import {command}; sys.exit({command}())"
    process = start_script(code, *arguments, cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not _loading_torch(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.005)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"lossbench: {what}. It stopped while starting: nothing was written."
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


# ----------------------------------------- lossbench-eval and lossbench-predict, during their work


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory) -> tuple[Path, Path]:
    """The best checkpoint of a short wine run (2 epochs), and a CSV file of wine rows."""
    from sklearn.datasets import load_wine

    from job_configs import job_config
    from lossbench.training import train

    root = tmp_path_factory.mktemp("wine")
    record = train(job_config("data=wine", fast=True), root / "run")
    rows = root / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(rows, index=False)
    return Path(record["best_checkpoint"]), rows


#: The step of the command's work that waits for the signal (``wait()``, :data:`stop_signals.
#: WAIT`, whose GO file these tests never make: after 30 s it goes on). ``test_step``: eval's
#: Trainer.test; ``forward``: predict's computation; ``writing``: predict's writing of its
#: file, after 10 rows.
_STEPS = {
    "test_step": """
from lossbench.module import ClassifierModule
step = ClassifierModule.test_step
def test_step(self, *args):
    wait()
    return step(self, *args)
ClassifierModule.test_step = test_step
""",
    "forward": """
from lossbench.module import ClassifierModule
forward = ClassifierModule.forward
def slow_forward(self, x):
    wait()
    return forward(self, x)
ClassifierModule.forward = slow_forward
""",
    "writing": """
import csv
writer = csv.writer
class SlowWriter:
    def __init__(self, handle, *args, **kwargs):
        self.handle, self.writer = handle, writer(handle, *args, **kwargs)
    def writerow(self, row):
        return self.writer.writerow(row)
    def writerows(self, rows):
        for i, row in enumerate(rows):
            self.writer.writerow(row)
            if i == 10:
                self.handle.flush()
                wait()
csv.writer = SlowWriter
""",
}


def _earlier_output(out: Path, command: str, ckpt: str | Path) -> bytes:
    """An earlier output of the command at ``out`` (one it may replace: of checkpoint
    ``ckpt``), as bytes."""
    if command == "evaluate":
        earlier = {"checkpoint": str(ckpt), "split": "test", "epoch": 0, "test/nll": 1.0}
        text = json.dumps(earlier) + "\n"
    else:  # a predictions file of the wine checkpoint: the same columns, and its record
        text = "p_class_0,p_class_1,p_class_2,predicted\n0.5,0.25,0.25,class_0\n"
    out.write_text(text)
    if command != "evaluate":
        from lossbench.output_files import write_predictions_record

        write_predictions_record(out, ckpt)
    return out.read_bytes()


@posix
@pytest.mark.slow  # about 6 s each: a process that imports torch and runs a checkpoint
@pytest.mark.parametrize(
    ("command", "step", "earlier"),
    [("evaluate", "test_step", True), ("predict", "forward", False), ("predict", "writing", True)],
    ids=["eval-testing", "predict-computing", "predict-writing"],
)
@SIGNALS
def test_a_command_stopped_in_its_work_ends_in_one_line_and_leaves_its_output_as_it_was(
    tmp_path, wine_run, command, step, earlier, signum, status, what
):
    """lossbench-eval (during Trainer.test) and lossbench-predict (computing, writing its file)
    end on Ctrl-C or SIGTERM in one line that says the output was not written, exit status
    130 (143), no traceback; the output file is written whole or not at all, so nothing
    half-written is left and an earlier output is untouched."""
    ckpt, rows = wine_run
    folder = tmp_path / "out"
    folder.mkdir()
    if command == "evaluate":
        out = folder / "eval.json"
        arguments, output = [f"ckpt_path={ckpt}", f"out={out}"], "Its result was"
    else:
        out = folder / "predictions.csv"
        arguments = [f"ckpt_path={ckpt}", f"data.path={rows}", f"out={out}"]
        output = "Its predictions were"
    before = _earlier_output(out, command, ckpt) if earlier else None
    mark = tmp_path / "working"
    code = f"MARK, GO = {str(mark)!r}, {str(tmp_path / 'go')!r}\n{WAIT}{_STEPS[step]}\n"
    code += f"from lossbench.commands import {command}\nsys.exit({command}())\n"
    process = start_script(code, *arguments, cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not mark.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signum)
    out_text, err = process.communicate(timeout=60)
    assert process.returncode == status, err[-2000:]
    assert "Traceback" not in err
    untouched = "; the earlier file there is untouched" if earlier else ""
    assert err.strip().splitlines()[-1] == (
        f"lossbench: {what}. {output} not written to {out}{untouched}. Run the same command again."
    )
    assert "written to" not in out_text
    # nothing half-written: the earlier output as it was, or no file at all
    kept = sorted(p.name for p in folder.iterdir())  # an earlier predictions file: its record
    record = [] if command == "evaluate" else [f"{out.name}.lossbench.json"]
    assert kept == ([out.name, *record] if earlier else [])
    if earlier:
        assert out.read_bytes() == before
