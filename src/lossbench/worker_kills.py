"""Killing a study's worker processes at once, without ``psutil`` and without starting a process.

A stopped study (Ctrl-C, SIGTERM) ends its worker processes with SIGKILL: the vectorized
launcher's (:meth:`lossbench.vectorized.sweep.TaskPool.kill`, with :func:`kill_workers`, once
they have kept what a stopped task keeps, :mod:`lossbench.worker_stops`) and the
joblib workers of ``hydra/launcher=parallel`` (joblib aborts its loky executor, whose thread
kills them). Without ``psutil``, loky looks for a worker's own child processes with
``pgrep -P``, a process it starts in the command's process group: a second Ctrl-C (pressed
twice, or GNU ``timeout -s INT``, which signals the command, then its group) killed ``pgrep``,
loky's fallback failed with a traceback, and its thread ended without killing the workers,
which trained on and wrote their records. Here the child processes are read from ``/proc``
(Linux); elsewhere ``pgrep`` runs in a session of its own, out of reach of the terminal's
signals. :func:`use_own_kills` makes loky kill its workers this way.

A stopped executor's threads are waited for (:func:`end_executor`; joblib's, with
:func:`use_own_terminate`): otherwise loky's resource tracker could warn of a leaked
semaphore after the command's last line.

    >>> import subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    >>> kill_tree(child.pid)
    >>> child.wait()
    -9
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from lossbench.loky_internals import call_queue, worker_processes
from lossbench.queue_internals import feeder_thread, reading_end

__all__ = [
    "children",
    "end_executor",
    "kill_process_tree",
    "kill_tree",
    "kill_workers",
    "killed_here",
    "use_own_kills",
    "use_own_terminate",
]

#: Whether each process's parent can be read from ``/proc`` (Linux).
_PROC = sys.platform.startswith("linux") and Path("/proc/self/stat").is_file()

#: The processes that :func:`kill_tree` killed (sent SIGKILL), by id.
_KILLED: set[int] = set()


def killed_here(pid: int) -> bool:
    """Whether this process killed process ``pid`` (:func:`kill_tree`): a worker that loky or a
    stopped study killed, not one that died on its own (:mod:`lossbench.worker_deaths`)."""
    return pid in _KILLED


def children(pid: int) -> list[int]:
    """The child processes of process ``pid`` (none where it has ended or cannot be read)."""
    if _PROC:
        return [child for child, parent in _parents() if parent == pid]
    if os.name != "posix":
        return []
    try:  # its own session: a Ctrl-C to the terminal's process group does not reach it
        listed = subprocess.run(
            ["pgrep", "-P", str(pid)],
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(line) for line in listed.stdout.split() if line.isdigit()]


def _parents() -> list[tuple[int, int]]:
    """Each process's id and its parent's, from ``/proc/<pid>/stat`` (Linux)."""
    found: list[tuple[int, int]] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:  # "pid (name) state ppid ...": the name may hold spaces and parentheses
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            found.append((int(entry.name), int(fields[1])))
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return found


def _descendants(pid: int) -> list[int]:
    """The descendants of process ``pid``, each before its own children."""
    table = _parents() if _PROC else None
    found: list[int] = []
    waiting = [pid]
    while waiting:
        parent = waiting.pop()
        kids = children(parent) if table is None else [c for c, p in table if p == parent]
        found += kids
        waiting += kids
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL process ``pid``, then its descendants (found before, the deepest first); those
    that have ended already are passed over. The process goes first, so that it cannot act on
    its children's end (a worker writing a record of a failed job, a shell's ``wait``
    returning)."""
    kill = getattr(signal, "SIGKILL", signal.SIGTERM)
    for target in [pid, *reversed(_descendants(pid))]:
        _KILLED.add(target)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, kill)


def kill_process_tree(process: Any, use_psutil: bool = True) -> None:
    """loky's ``kill_process_tree`` (its executor's thread kills each worker with it): kill the
    worker ``process`` and its descendants (:func:`kill_tree`), then wait for its end.
    ``use_psutil`` is loky's argument, unused. A worker that has ended already (one that
    died, which broke the executor) is not killed: :func:`killed_here` tells it from those
    killed here."""
    if process.exitcode is None:
        kill_tree(process.pid)
    process.join()


def kill_workers(executor: Any) -> None:
    """SIGKILL the worker processes of the loky ``executor`` and their descendants, at once,
    from this thread: they write nothing more once this returns. The executor's thread
    notices their end and winds the executor up (its futures fail)."""
    for process in worker_processes(executor).values():
        if process.pid is not None and process.exitcode is None:
            kill_tree(process.pid)


def end_executor(executor: Any, *, kill: bool) -> None:
    """Shut the loky ``executor`` down (``kill``: its workers were killed, :func:`kill_workers`)
    and wait for its threads: its manager thread, and the thread that feeds its call queue,
    which loky leaves to end on its own (a queue's ``join_thread`` waits for nothing in the
    process that made it). That thread holds two of the queue's semaphores: ending as this
    process exits, it could unlink one and be stopped before it told loky's resource tracker,
    which then warned, after the command's last line, of a leaked semaphore that it could not
    unlink (``FileNotFoundError``). Once this returns, the semaphores are released by this
    thread, or at the process's exit, as loky's other ones are. Its workers having ended, the
    queue's reading end is closed first: a write the killed workers left waiting on a full
    pipe fails, and the thread ends."""
    queue = call_queue(executor)
    executor.shutdown(wait=True, kill_workers=kill)
    _end_feeder(queue)


def _end_feeder(queue: Any) -> None:
    """Wait for the thread that feeds loky's call ``queue`` (:func:`end_executor`), once the
    executor that made it was shut down and waited for. Neither loky nor ``multiprocessing``
    has a public way to it or to the queue's reading end (:mod:`lossbench.queue_internals`)."""
    feeder = feeder_thread(queue)
    if feeder is None:
        return
    reader = reading_end(queue)
    if reader is not None:
        with contextlib.suppress(Exception):
            reader.close()
    feeder.join(timeout=10)


def use_own_kills() -> None:
    """Make loky's executors (a :class:`~lossbench.vectorized.sweep.TaskPool`'s, joblib's)
    kill their workers with :func:`kill_process_tree`, in this process."""
    from joblib.externals.loky import process_executor

    process_executor.kill_process_tree = kill_process_tree  # type: ignore[assignment]


def use_own_terminate() -> None:
    """Make joblib's loky executor (``hydra/launcher=parallel``) wait for its call queue's
    feeder thread when joblib ends it, as :func:`end_executor` does: a stopped ``Parallel``
    call (Ctrl-C, SIGTERM) kills the workers and shuts the executor down with
    ``MemmappingExecutor.terminate``, which waits for the executor's manager thread but not
    for that one, left to release the queue's semaphores as the command exits (and to leave
    loky's resource tracker a warning after the command's last line). joblib has no public
    hook there: this wraps its executor's ``terminate``
    (:func:`lossbench.loky_internals.call_queue`), once."""
    from joblib.executor import MemmappingExecutor

    terminate = MemmappingExecutor.terminate
    if getattr(terminate, "_lossbench_own", False):
        return

    def own_terminate(self: Any, kill_workers: bool = False) -> None:
        queue = call_queue(self)
        terminate(self, kill_workers=kill_workers)
        _end_feeder(queue)

    own_terminate._lossbench_own = True  # type: ignore[attr-defined]
    MemmappingExecutor.terminate = own_terminate  # type: ignore[method-assign]
