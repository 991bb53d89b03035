"""A stopped study's wait for its worker processes (:func:`ask_workers_to_stop`): bounded, and
cut short by a second Ctrl-C or SIGTERM (not by GNU ``timeout``'s repeat of the first)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_process import run_script
from lossbench.worker_kills import end_executor, kill_workers
from lossbench.worker_stops import (
    BUSY_PREFIX,
    ask_workers_to_stop,
    busy_folder,
    remove_stale_busy_folders,
)
from stop_signals import posix


def _deaf() -> None:
    """A worker that does not stop when asked (SIGTERM ignored): one stuck in a long step."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@pytest.fixture
def stuck() -> Iterator[tuple[object, object]]:
    """A loky executor whose one worker trains a task that does not stop when asked; killed
    after the test. SIGTERM to this process does nothing outside the wait."""
    from joblib.externals.loky import ProcessPoolExecutor

    earlier = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    executor = ProcessPoolExecutor(max_workers=1, initializer=_deaf)
    executor.submit(os.getpid).result()  # the worker has started and ignores SIGTERM
    future = executor.submit(time.sleep, 60)
    while not future.running():  # handed to the worker: not cancelled by the stop
        time.sleep(0.01)
    try:
        yield executor, future
    finally:
        kill_workers(executor)
        end_executor(executor, kill=True)
        signal.signal(signal.SIGTERM, earlier)


def _wait(executor: object, future: object, grace: float, signals_at: tuple[float, ...]) -> float:
    """Seconds :func:`ask_workers_to_stop` waits, with SIGTERM sent to this process at
    ``signals_at`` seconds."""
    timers = [threading.Timer(t, os.kill, (os.getpid(), signal.SIGTERM)) for t in signals_at]
    start = time.monotonic()
    for timer in timers:
        timer.start()
    ask_workers_to_stop(executor, [future], grace=grace)
    took = time.monotonic() - start
    for timer in timers:
        timer.join()
    return took


@posix
@pytest.mark.slow  # about 3 s each: a worker process starts
def test_the_wait_for_workers_that_do_not_stop_is_bounded(stuck):
    executor, future = stuck
    took = _wait(executor, future, grace=1.5, signals_at=(0.05,))  # timeout's repeat: the same
    assert 1.5 <= took < 3
    assert not future.done()  # it trains on: the caller kills it


@posix
@pytest.mark.slow
def test_a_second_stop_ends_the_wait_for_the_workers_at_once(stuck):
    executor, future = stuck
    took = _wait(executor, future, grace=30, signals_at=(0.6,))
    assert 0.6 <= took < 3


def _importing(busy: str, started: str) -> None:
    """A worker that takes stop requests as lossbench's do (marking itself busy in ``busy``
    while it trains a task) and is still importing when the study is stopped: its initializer
    runs for 30 s, ``started`` written as it begins."""
    from lossbench.worker_stops import take_stop_requests

    take_stop_requests(busy)
    Path(started).write_text("")
    time.sleep(30)


def _marks_in_task(busy: str) -> list[str]:
    """A task that lists the marks of busy workers while it runs (in :func:`task_stops`)."""
    from lossbench.worker_stops import take_stop_requests, task_stops

    take_stop_requests(busy)
    with task_stops():
        return sorted(os.listdir(busy))


@posix
@pytest.mark.slow  # a worker process starts
def test_a_stop_does_not_wait_for_workers_that_have_not_begun_a_task(tmp_path):
    """Ctrl-C as a study starts: its workers import for seconds before their first task, with
    nothing to keep; the stopped study does not wait that out (nor the grace)."""
    from joblib.externals.loky import ProcessPoolExecutor

    busy, started = tmp_path / "busy", tmp_path / "started"
    busy.mkdir()
    executor = ProcessPoolExecutor(
        max_workers=1, initializer=_importing, initargs=(str(busy), str(started))
    )
    future = executor.submit(os.getpid)
    try:
        deadline = time.monotonic() + 60
        while not (future.running() and started.exists()):  # in its initializer, its task
            assert time.monotonic() < deadline, "the worker did not start"  # handed over
            time.sleep(0.01)
        start = time.monotonic()
        ask_workers_to_stop(executor, [future], grace=20, busy=busy)
        assert time.monotonic() - start < 3
    finally:
        kill_workers(executor)
        end_executor(executor, kill=True)


@posix
@pytest.mark.slow  # a worker process starts
def test_a_worker_is_marked_busy_while_it_trains_a_task(tmp_path):
    from joblib.externals.loky import ProcessPoolExecutor

    busy = tmp_path / "busy"
    busy.mkdir()
    executor = ProcessPoolExecutor(max_workers=1)
    try:
        pid = executor.submit(os.getpid).result()
        assert executor.submit(_marks_in_task, str(busy)).result() == [str(pid)]
        assert list(busy.iterdir()) == []  # unmarked as the task ended
    finally:
        kill_workers(executor)
        end_executor(executor, kill=True)


@posix
@pytest.mark.slow  # a worker process starts
def test_tasks_queued_behind_a_stopped_one_end_without_a_traceback(tmp_path, monkeypatch):
    """The tasks handed over but not begun fail as loky shuts down: none is cancelled first,
    on which loky's thread raised (``InvalidStateError``, a traceback under the command's
    one line, and the end of the executor waited ~10 s)."""
    from joblib.externals.loky import ProcessPoolExecutor

    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    busy = tmp_path / "busy"
    busy.mkdir()
    executor = ProcessPoolExecutor(max_workers=1)
    executor.submit(os.getpid).result()  # started
    futures = [executor.submit(time.sleep, 60) for _ in range(4)]  # one runs, three queued
    while not futures[0].running():
        time.sleep(0.01)
    start = time.monotonic()
    ask_workers_to_stop(executor, futures, grace=20, busy=busy)  # no worker marked busy
    kill_workers(executor)
    end_executor(executor, kill=True)
    assert time.monotonic() - start < 5
    assert all(future.done() for future in futures)
    assert raised == []


def _ended_pid() -> int:
    """The id of a process that has ended (and been collected)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@posix
def test_a_pool_s_folder_of_marks_is_named_by_its_process_and_removed_by_the_next_once_it_ended(
    tmp_path,
):
    ended = tmp_path / f"{BUSY_PREFIX}{_ended_pid()}-k2j3h4g5"
    (ended / "123").mkdir(parents=True)  # a mark left inside: removed with its folder
    running = tmp_path / f"{BUSY_PREFIX}{os.getpid()}-a1b2c3d4"
    older = tmp_path / f"{BUSY_PREFIX}a1b2c3d4"  # no process id in its name: kept
    other = tmp_path / "lossbench-other-1"
    for folder in (running, older, other):
        folder.mkdir()
    made = busy_folder(tmp_path)
    assert made.parent == tmp_path and made.name.startswith(f"{BUSY_PREFIX}{os.getpid()}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (made, running, older, other)
    )
    assert remove_stale_busy_folders(tmp_path) == []  # each left has a running process


#: A study's launching process that makes its pool of two workers, says where the pool marks
#: its busy workers, and is killed outright (SIGKILL) before it can remove anything.
KILLED_WITH_ITS_POOL = (
    "import os, signal\n"
    "from lossbench.vectorized.sweep import TaskPool\n"
    "pool = TaskPool(workers=2)\n"
    "pool._executor.submit(os.getpid).result()\n"
    "print(pool._busy, flush=True)\n"
    "os.kill(os.getpid(), signal.SIGKILL)\n"
)


@posix
@pytest.mark.slow  # about 10 s: two processes start their pools of two workers
def test_the_folder_of_marks_of_a_killed_study_is_removed_by_the_next_pool(tmp_path):
    env = {"TMPDIR": str(tmp_path)}  # the temporary folder of both
    killed = run_script(KILLED_WITH_ITS_POOL, extra_env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = Path(killed.stdout.strip())
    assert left.parent == tmp_path and left.is_dir()  # a SIGKILL removes nothing
    script = (
        "from lossbench.vectorized.sweep import TaskPool\n"
        "pool = TaskPool(workers=2)\n"
        "print(pool._busy)\n"
        "pool.close()\n"
    )
    done = run_script(script, extra_env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not left.exists()
    assert not list(tmp_path.glob(f"{BUSY_PREFIX}*"))  # and its own, as it closed


#: A command whose study stops on a worker's stop (its task's ``Terminated``, as the launcher
#: gets it from the task's future), then takes a Ctrl-C and a SIGTERM while it stops.
STOPPED_BY_A_WORKER = (
    "import os, signal, time\n"
    "from lossbench.interrupts import Terminated, command_stops, stop_taken\n"
    "with command_stops():\n"
    "    try:\n"
    "        raise Terminated()\n"
    "    except KeyboardInterrupt as stop:\n"
    "        stop_taken(stop)\n"
    "        os.kill(os.getpid(), signal.SIGINT)\n"
    "        os.kill(os.getpid(), signal.SIGTERM)\n"
    "        time.sleep(0.2)\n"
    "        raise\n"
)


@posix
def test_a_study_stopped_by_a_worker_s_sigterm_takes_no_second_stop(tmp_path):
    """As after a SIGTERM to the command itself: a Ctrl-C while it stops changes nothing (it
    ended the command with the line of a Ctrl-C instead)."""
    done = run_script(STOPPED_BY_A_WORKER, cwd=tmp_path)
    assert done.returncode == 143, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [done.stderr.strip().splitlines()[-1]]
    assert done.stderr.startswith("lossbench: terminated (SIGTERM)."), done.stderr[-2000:]
