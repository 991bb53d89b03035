"""A stopped study's wait for its worker processes (:func:`ask_workers_to_stop`): bounded, and
cut short by a second Ctrl-C or SIGTERM (not by GNU ``timeout``'s repeat of the first)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from lossbench.worker_kills import end_executor, kill_workers
from lossbench.worker_stops import ask_workers_to_stop
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
