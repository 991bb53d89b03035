"""Stopping a study's worker processes gracefully, within a bound, before they are killed.

A stopped study (Ctrl-C, SIGTERM) asks the vectorized launcher's worker processes to stop
(:func:`ask_workers_to_stop`: SIGTERM to each), and waits a few seconds for the tasks they were
training to end, before they are killed (:mod:`lossbench.worker_kills`). In a worker
(:func:`take_stop_requests`, from ``prepare_worker``), SIGTERM raises
:class:`~lossbench.interrupts.Terminated` in the task it trains (:func:`task_stops`): the
interrupt that Ctrl-C raises in the launching process, so that a task in a worker keeps what it
keeps there (a run alone its checkpoints, a vectorized group's members what
:func:`lossbench.vectorized.run.keep_stopped` keeps, records of the members that had ended
included), and ends with that exception, which its future holds. A task that a worker takes
after the stop (handed over, not cancelled) ends at once, before it trains.

A SIGTERM sent to one worker from outside (``kill``, a job scheduler) is taken the same way: the
task it trains stops and keeps what it keeps, its future ends with ``Terminated``, and the
launching process stops the study as its own SIGTERM stops it (the other workers asked to stop,
the runs that completed kept, exit status 143 and the one-line message). A worker that trains no
task then ends the next one handed to it at once, which stops the study the same way; one that
SIGTERM ends as it starts, before it takes stop requests, is that stop too
(``lossbench.vectorized.sweep``: loky's ``TerminatedWorkerError`` of SIGTERM).

The wait is only for workers that train a task: each marks itself busy while it does (a file
named by its process id in the pool's folder of marks, :func:`task_stops`), so that a stop while
the workers still start (their imports take the first seconds of a study) does not wait out the
grace for tasks handed over but not begun. That folder (:func:`busy_folder`) is in the temporary
folder, named by the launching process's id; the next pool removes those whose process has ended
(a launching process killed outright, SIGKILL, removes nothing).

    >>> with task_stops():
    ...     pass
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lossbench.loky_internals import worker_processes

__all__ = [
    "BUSY_PREFIX",
    "STOP_GRACE_SECONDS",
    "ask_workers_to_stop",
    "busy_folder",
    "remove_stale_busy_folders",
    "take_stop_requests",
    "task_stops",
]

#: How a pool's folder of busy marks (:func:`busy_folder`) is named: this, the id of the
#: process that made the pool, ``-`` and ``tempfile``'s random part.
BUSY_PREFIX = "lossbench-workers-"

#: How long a stopped study waits for its workers' tasks to end (:func:`ask_workers_to_stop`)
#: before it kills them. What they do then is short: a vectorized group goes back to its last
#: completed epoch, writes two checkpoints per member and its ``logs/``, and evaluates and
#: records the members that had ended (tens of milliseconds a member); a run alone goes
#: through Lightning's shutdown. The bound is for a worker stuck in a long step (the signal
#: is taken between Python's bytecodes, after a running torch operation returns), so that
#: the command still ends within seconds.
STOP_GRACE_SECONDS = 5.0

#: A repeat of the first signal this soon after the wait began is the same stop, not a
#: second one: GNU ``timeout`` signals the command, then its process group, the command again.
_SAME_STOP_SECONDS = 0.25

#: In a worker: the stop asked for (SIGTERM), once one has been.
_STOP_ASKED: list[int] = []
#: In a worker: whether it trains a task now (:func:`task_stops`).
_IN_TASK: list[bool] = []
#: In a worker: the pool's folder where it marks itself busy while it trains a task.
_BUSY_FOLDER: list[Path] = []


def busy_folder(root: str | os.PathLike | None = None) -> Path:
    """Make the folder where a pool's workers mark themselves busy (:func:`task_stops`): in
    the temporary folder (``root``: in that one), named by this process's id
    (:data:`BUSY_PREFIX`); first remove the folders there that processes which have ended left
    (:func:`remove_stale_busy_folders`). The pool removes its own as it ends.

    Why there: the folder must exist before the workers start, for any pool (one made
    without a study's folder too), and be local to the machine, so that a process id in its
    name tells whether its pool can still be using it (a study's folder may be shared
    between machines, and a folder left in it would show among the study's files). What a
    launching process killed outright (SIGKILL, the out-of-memory killer) leaves is an empty
    folder, or one with a few small files (what each worker trained), which the next study on
    the machine removes.

        >>> folder = busy_folder()
        >>> folder.name.startswith(f"{BUSY_PREFIX}{os.getpid()}-")
        True
        >>> folder.rmdir()
    """
    where = Path(root) if root is not None else Path(tempfile.gettempdir())
    remove_stale_busy_folders(where)
    return Path(tempfile.mkdtemp(prefix=f"{BUSY_PREFIX}{os.getpid()}-", dir=where))


def remove_stale_busy_folders(root: str | os.PathLike) -> list[Path]:
    """Remove the folders of busy marks in ``root`` (:func:`busy_folder`) whose process has
    ended, and return them. A folder whose process still runs, or may (another user's, or a
    process id taken again since), is kept, and so is one whose name carries no process id
    (``lossbench-workers-<random>``, made by an earlier version of lossbench): nothing tells
    whether its pool still runs (its marks, named by worker, exist only while a worker
    trains, and an empty folder's age does not tell an ended pool from a study suspended,
    Ctrl-Z, for as long), and that version's workers failed every task they began once the
    folder was gone (they marked themselves busy without checking). Such folders are empty
    or hold empty files; the system's cleaning of the temporary folder removes them."""
    pattern = re.compile(rf"{re.escape(BUSY_PREFIX)}(\d+)-[^-]+")
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        found = pattern.fullmatch(name)
        if found is None or _process_runs(int(found[1])):
            continue
        path = Path(root) / name
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` runs (or may: another user's answers no signal of ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _stop_task(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: raise :class:`~lossbench.interrupts.Terminated` in the task it
    trains (once: the stop under way takes no second one); idle, remember it, and its next
    task does not start."""
    from lossbench.interrupts import Terminated

    if _STOP_ASKED:
        return
    _STOP_ASKED.append(signum)
    if _IN_TASK:
        raise Terminated()


def take_stop_requests(busy: str | os.PathLike | None = None) -> None:
    """In a worker process (main thread): take SIGTERM as a request to stop its task
    (:func:`task_stops`). Ctrl-C stays ignored: it is the launching process's. ``busy``: the
    pool's folder where the worker marks itself busy while it trains a task, which
    :func:`ask_workers_to_stop` waits for."""
    if busy is not None:
        _BUSY_FOLDER[:] = [Path(busy)]
    signal.signal(signal.SIGTERM, _stop_task)


@contextlib.contextmanager
def task_stops(label: str = "") -> Iterator[None]:
    """Around a task in a worker that :func:`take_stop_requests` set up: a stop asked for
    before it raises :class:`~lossbench.interrupts.Terminated` at once (the task does not
    start), one asked for while it runs raises it there. In the launching process, where
    SIGTERM has the command's own handler, the block just runs. ``label``: what the task
    trains, written in the worker's busy mark (a worker killed outright leaves it behind:
    :mod:`lossbench.worker_deaths` reads it, and :mod:`lossbench.worker_records` records the
    jobs it names as failed)."""
    from lossbench.interrupts import Terminated

    if _STOP_ASKED:
        raise Terminated()
    mark = _BUSY_FOLDER[0] / str(os.getpid()) if _BUSY_FOLDER else None
    if mark is not None:
        try:
            mark.write_text(label)
        except OSError:  # the folder is gone: the task trains, a stop then just won't wait
            mark = None
    _IN_TASK.append(True)
    try:
        if _STOP_ASKED:  # asked between the check above and now: not taken as in a task
            raise Terminated()
        yield
    finally:
        _IN_TASK.pop()
        if mark is not None:
            mark.unlink(missing_ok=True)


def ask_workers_to_stop(
    executor: Any,
    futures: Sequence[Any],
    grace: float = STOP_GRACE_SECONDS,
    busy: Path | None = None,
) -> None:
    """Ask the worker processes of the loky ``executor`` to stop their tasks (SIGTERM, which
    they take: :func:`take_stop_requests`) and wait for ``futures`` (the tasks handed over)
    to end, at most ``grace`` seconds. With ``busy`` (the
    folder where the workers mark themselves busy, :func:`task_stops`), only while a worker
    is marked: a task handed over to a worker that has not begun it (still importing as it
    starts) has nothing to keep. A second Ctrl-C or SIGTERM meanwhile ends the wait at once
    (a repeat of the same signal within its first 0.25 s, GNU ``timeout``'s to the process
    group, is the same stop). The workers are left running: the caller kills them
    (:func:`lossbench.worker_kills.kill_workers`)."""
    from concurrent.futures import FIRST_COMPLETED
    from concurrent.futures import wait as wait_for

    # not cancelled: loky then fails them as it shuts down, and its thread raised on a
    # cancelled one (InvalidStateError, a traceback, and the executor's end waited ~10 s); a
    # task a worker takes after the stop ends at once (task_stops)
    running = [future for future in futures if not future.done()]
    for process in worker_processes(executor).values():
        if process.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGTERM)
    if not running:
        return
    start = time.monotonic()
    arrived: list[float] = []  # when a Ctrl-C or SIGTERM came during the wait

    def second(signum: int, frame: Any) -> None:
        arrived.append(time.monotonic() - start)

    def cut_short() -> bool:  # a second stop, not the first one's repeat
        return len(arrived) > 1 or any(t > _SAME_STOP_SECONDS for t in arrived)

    def training() -> bool:  # a worker trains a task (without marks: the futures say)
        try:
            return busy is None or any(busy.iterdir())
        except OSError:
            return False

    with _stops_taken(second):
        while not cut_short() and training():
            left = start + grace - time.monotonic()
            if left <= 0:
                return
            _, pending = wait_for(running, timeout=min(left, 0.05), return_when=FIRST_COMPLETED)
            if not pending:
                return
            running = list(pending)


@contextlib.contextmanager
def _stops_taken(handler: Any) -> Iterator[None]:
    """While the block runs, Ctrl-C and SIGTERM call ``handler`` (main thread only; elsewhere
    the block runs as it is); the handlers of before are set again after it."""
    from lossbench.interrupts import STOP_SIGNALS

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield
        return
    for signum in STOP_SIGNALS:
        if previous[signum] is not signal.SIG_IGN:  # an ignored signal (nohup) stays ignored
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)
