"""The private names of Python's ``multiprocessing`` queue that lossbench reads
(:mod:`lossbench.queue_internals`) are still there, on a real queue and on a real loky
executor's call queue: a Python that renamed or dropped one fails here, naming it, rather than
leaving a study's end to warn of a leaked semaphore (each function falls back quietly where its
name is gone)."""

from __future__ import annotations

import multiprocessing
import os
import platform
import threading

import pytest

from lossbench.loky_internals import call_queue
from lossbench.queue_internals import CHECKED_PYTHON_VERSION, feeder_thread, reading_end
from lossbench.worker_kills import end_executor


def _gone(name: str, what: str) -> str:
    return (
        f"Python {platform.python_version()}'s multiprocessing.queues.Queue has no usable "
        f"{name} ({what}); lossbench/queue_internals.py was checked against Python "
        f"{CHECKED_PYTHON_VERSION}. Find where this Python keeps it "
        "(Lib/multiprocessing/queues.py), change the function in lossbench/queue_internals.py, "
        "and update CHECKED_PYTHON_VERSION there."
    )


def _assert_names_read(queue) -> None:
    assert isinstance(getattr(queue, "_thread", None), threading.Thread), _gone(
        "_thread", "the thread that feeds it, started by its first put"
    )
    assert feeder_thread(queue) is queue._thread
    assert callable(getattr(getattr(queue, "_reader", None), "close", None)), _gone(
        "_reader", "the reading end of its pipe, with close()"
    )
    assert reading_end(queue) is queue._reader


def test_a_queue_s_feeder_thread_and_reading_end_are_read():
    queue = multiprocessing.get_context("spawn").Queue()
    assert feeder_thread(queue) is None  # nothing put yet: no thread
    queue.put(1)
    try:
        _assert_names_read(queue)
        assert queue.get(timeout=10) == 1
    finally:
        queue.close()
        queue.join_thread()


def test_a_loky_executor_s_call_queue_has_them_too():
    from joblib.externals.loky import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=1)
    try:
        pool.submit(os.getpid).result(timeout=120)  # a task handed over: the thread started
        _assert_names_read(call_queue(pool))
    finally:
        end_executor(pool, kill=True)


@pytest.mark.parametrize("value", [None, object()], ids=["none", "other"])
def test_where_the_names_are_gone_nothing_is_read(value):
    """What lossbench falls back to: no thread waited for, no reading end closed."""

    class Bare:
        _thread = value
        _reader = value

    assert feeder_thread(Bare()) is None
    assert reading_end(Bare()) is None
    assert feeder_thread(object()) is None and reading_end(object()) is None
