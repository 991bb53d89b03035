"""The private loky names that lossbench reads (:mod:`lossbench.loky_internals`) are still
there, on a real executor with a real worker process: a loky that renamed or dropped one fails
here, naming it, rather than leaving a study's workers unstopped and their deaths untold
(each function falls back quietly where its name is gone)."""

from __future__ import annotations

import os

import pytest

from lossbench.loky_internals import CHECKED_LOKY_VERSION, call_queue, worker_processes
from lossbench.worker_kills import end_executor


def _gone(name: str, what: str) -> str:
    from joblib.externals import loky

    return (
        f"loky {loky.__version__} (joblib's copy) has no usable ProcessPoolExecutor.{name} "
        f"({what}); lossbench/loky_internals.py was checked against loky "
        f"{CHECKED_LOKY_VERSION}. Find where that loky keeps it (process_executor.py), change "
        "the function in lossbench/loky_internals.py, and update CHECKED_LOKY_VERSION there."
    )


@pytest.fixture(scope="module")
def executor():
    """A loky executor with one worker process, started (the pid of the worker that ran a
    task, and the executor)."""
    from joblib.externals.loky import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=1)
    try:
        worker = pool.submit(os.getpid).result(timeout=120)
        yield worker, pool
    finally:
        end_executor(pool, kill=True)


def test_the_executor_s_worker_processes_are_read_by_pid(executor):
    worker, pool = executor
    assert isinstance(getattr(pool, "_processes", None), dict), _gone(
        "_processes", "its worker processes by pid"
    )
    processes = worker_processes(pool)
    assert worker in processes, _gone("_processes", f"no entry for worker {worker}")
    process = processes[worker]
    assert process.pid == worker and process.exitcode is None, _gone(
        "_processes", "its values are no longer processes with pid and exitcode"
    )


def test_the_executor_s_call_queue_is_read_while_it_runs(executor):
    _, pool = executor
    queue = call_queue(pool)
    assert queue is not None and hasattr(queue, "put"), _gone(
        "_call_queue", "the queue that hands its workers their tasks"
    )


def test_where_the_names_are_gone_nothing_is_read():
    """What lossbench falls back to: no worker, no queue (no signal sent, no wait)."""

    class Bare:
        pass

    assert worker_processes(Bare()) == {}
    assert worker_processes(None) == {}
    assert call_queue(Bare()) is None
