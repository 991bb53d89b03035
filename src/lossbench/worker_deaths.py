"""A worker process of the vectorized launcher that ended on its own: how, and what it trained.

loky ends the whole executor once one of its workers dies (killed by a signal, the kernel's
out-of-memory killer's SIGKILL most often, or a crash): every task handed over fails with its
``TerminatedWorkerError``, and loky kills the other workers at once (SIGKILL, with
:func:`lossbench.worker_kills.kill_process_tree`). The study cannot go on in that executor, and
a group that ran out of memory would most likely run out again beside the same others: the
launcher stops the study (``TaskPool.kill``) and the command ends with one line
(:class:`WorkerDied`, ``lossbench: failed: ...``) and exit status 1, as a failed command does.
Runs that completed, and records written before (jobs that failed, a group's members that had
ended), are kept. Each job of the groups in progress, in the worker that died and in those
killed after it, is recorded as failed, as a job that failed with an exception is, its
``error`` saying what stopped it (:mod:`lossbench.worker_records`): such a job trains again
when the same command runs again, which skips the jobs that ended.

Which worker died, and how, is read from the worker processes' exit codes
(:func:`died_on_their_own`: those that this process did not kill itself,
:func:`lossbench.worker_kills.killed_here`); loky's message, which names the exit codes it
found, is read only where none is known (:func:`exit_codes_in_message`). What each worker
trained is in its busy mark (:func:`lossbench.worker_stops.task_stops`, :func:`busy_marks`),
which a killed worker leaves behind.

    >>> exit_codes_in_message("The exit codes of the workers are {SIGKILL(-9)}")
    [-9]
    >>> print(ended_how(-9))
    was killed by signal SIGKILL
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "DIED_RUNS_KEPT",
    "WORKER_DIED_EXIT",
    "Death",
    "WorkerDied",
    "busy_marks",
    "died_cause",
    "died_fix",
    "died_message",
    "died_on_their_own",
    "ended_how",
    "exit_codes_in_message",
    "task_label",
    "worker_died",
]

#: The exit status of a study stopped because a worker process died: a failed command's.
WORKER_DIED_EXIT = 1

#: What became of a study's runs when a worker died (:func:`lossbench.interrupts.training_kept`).
DIED_RUNS_KEPT = (
    "Runs that completed are kept with their files; each job in progress was recorded as "
    "failed, its metrics.json saying what stopped it, and trains again."
)

#: A worker's exit code as loky's message writes it: ``SIGKILL(-9)``, ``EXIT(1)``.
_EXIT_CODE = re.compile(r"\b[A-Z_]+\((-?\d+)\)")

#: The signals that a process crashing raises on itself (native code most often): an invalid
#: memory access, a bus error, an illegal instruction, an arithmetic fault, an abort.
_CRASHES = frozenset(
    int(getattr(signal, name))
    for name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT")
    if hasattr(signal, name)
)

#: How long to wait for a worker that has ended to have its exit code (loky waits 0.25 s).
_EXIT_CODE_WAIT_SECONDS = 0.25


class WorkerDied(BaseException):
    """A worker process of the vectorized launcher died while the study ran (killed by a
    signal, SIGKILL from the out-of-memory killer most often): the study stops, and the
    command ends with this message, ``lossbench: failed: <message>``, exit status
    :data:`WORKER_DIED_EXIT`. A ``BaseException``, as ``KeyboardInterrupt`` is: it passes Hydra's
    own report of a failed sweep (a traceback), to the command's end."""

    def __init__(
        self,
        message: str,
        signum: int | None = None,
        pid: int | None = None,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.signum = signum
        self.pid = pid  #: the worker that died, where known
        self.exit_code = exit_code  #: its exit code, where known


class Death(NamedTuple):
    """What :func:`worker_died` found: the exit code of the worker that died, what it trained
    ("jobs 4, 5 (sweep/4, sweep/5)"), and its process id (each None where not known)."""

    exit_code: int | None
    training: str | None
    pid: int | None


def task_label(
    jobs: Sequence[int],
    output_dirs: Sequence[str],
    records: Sequence[Sequence[int] | None] | None = None,
) -> str:
    """What a worker's busy mark holds while it trains a task: the jobs' numbers and output
    directories, and ``records``: each directory's ``metrics.json`` as the task began
    (``(inode, mtime in ns)``, None where none), which tells the records that the task
    wrote from those it found (JSON), read back by :func:`busy_marks` if the worker dies.

        >>> task_label([4, 5], ["sweep/4", "sweep/5"], [None, (12, 34)])
        '{"jobs": [4, 5], "dirs": ["sweep/4", "sweep/5"], "records": [null, [12, 34]]}'
    """
    found = [None if r is None else list(r) for r in records] if records is not None else None
    label: dict[str, Any] = {"jobs": list(jobs), "dirs": list(output_dirs)}
    if found is not None:
        label["records"] = found
    return json.dumps(label)


def busy_marks(busy: Path | None) -> dict[int, dict[str, Any]]:
    """The busy marks in the pool's folder ``busy`` (:func:`lossbench.worker_stops.task_stops`):
    ``{worker's pid: its task's label}`` (:func:`task_label`). Once the workers have ended, a
    mark is what a worker trained when it was killed or died (one whose task ended removed its
    own); a mark that cannot be read (written as the worker was killed) is passed over."""
    found: dict[int, dict[str, Any]] = {}
    if busy is None:
        return found
    try:
        marks = [mark for mark in busy.iterdir() if mark.name.isdigit()]
    except OSError:
        return found
    for mark in marks:
        try:
            label = json.loads(mark.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(label, dict) and label.get("jobs") and label.get("dirs"):
            found[int(mark.name)] = label
    return found


def ended_how(exit_code: int) -> str:
    """How a worker process with ``exit_code`` ended, in words (negative: killed by a signal).

    >>> ended_how(-15), ended_how(3)
    ('was killed by signal SIGTERM', 'ended with exit status 3')
    """
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"number {-exit_code}"
        return f"was killed by signal {name}"
    return f"ended with exit status {exit_code}"


def exit_codes_in_message(message: str) -> list[int]:
    """The exit codes that loky's ``TerminatedWorkerError`` message names ("The exit codes of
    the workers are {SIGKILL(-9)}"): the fallback where the processes' own are not known."""
    return [int(code) for code in _EXIT_CODE.findall(message)]


def died_on_their_own(processes: Iterable[Any]) -> dict[int, int]:
    """The worker ``processes`` (loky's, :func:`lossbench.loky_internals.worker_processes`,
    each with ``pid`` and ``exitcode``) that have ended without this process killing them
    (:func:`lossbench.worker_kills.killed_here`): ``{pid: exit code}``. Waits up to 0.25 s
    for one to show, as loky does for its message."""
    from lossbench.worker_kills import killed_here

    processes = list(processes)
    deadline = time.monotonic() + _EXIT_CODE_WAIT_SECONDS
    while True:
        found = {
            p.pid: p.exitcode
            for p in processes
            if p.pid is not None and p.exitcode is not None and not killed_here(p.pid)
        }
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.02)


def worker_died(error: BaseException, processes: Mapping[int, Any], busy: Path | None) -> Death:
    """For loky's ``TerminatedWorkerError`` ``error``: the :class:`Death` of the worker that
    died: its exit code (from ``processes``, every worker process the pool has had by pid,
    else from the message; None where neither tells), what it was training where its busy
    mark in the folder ``busy`` says ("jobs 4, 5 (sweep/4, sweep/5)"; the mark is left for
    :mod:`lossbench.worker_records`), and its pid where its exit code was read."""
    died = died_on_their_own(processes.values())
    codes = list(died.values()) or exit_codes_in_message(str(error))
    marks = busy_marks(busy)
    training = None
    for pid in died:
        label = marks.get(pid)
        if label is not None:
            jobs = ", ".join(str(j) for j in label["jobs"])
            noun = "job" if len(label["jobs"]) == 1 else "jobs"
            training = f"{noun} {jobs} ({', '.join(label['dirs'])})"
    pid = next(iter(died), None)
    return Death(codes[0] if codes else None, training, pid)


def died_cause(exit_code: int | None) -> str:
    """What most often ends a worker process with ``exit_code`` (None: not known), in words
    after :func:`ended_how` (with its leading space; empty where nothing is more likely).

    >>> for code in (-9, -11, 3, None):
    ...     print(repr(died_cause(code)))
    " (most often the kernel's out-of-memory killer)"
    ' (a crash, in native code most often)'
    ' (the code it ran ended the process: os._exit() or a library that exits)'
    ''
    """
    if exit_code == -signal.SIGKILL.value:
        return " (most often the kernel's out-of-memory killer)"
    if exit_code is not None and exit_code < 0 and -exit_code in _CRASHES:
        return " (a crash, in native code most often)"
    if exit_code is not None and exit_code >= 0:
        return " (the code it ran ended the process: os._exit() or a library that exits)"
    return ""


def died_fix(exit_code: int | None) -> str:
    """How to go on after a worker process died with ``exit_code`` (None: not known): train
    fewer or smaller groups where memory may have run out (SIGKILL, or not known); else read
    the worker's own output, and leave out of the sweep a job that dies each time (the same
    command trains the jobs in progress again)."""
    if exit_code is None or exit_code == -signal.SIGKILL.value:
        return (
            "If memory ran out, train fewer groups at a time (hydra.launcher.n_jobs=1) or "
            "smaller ones (hydra.launcher.max_group_size=4)."
        )
    return (
        "The worker's output above may say why (a crash's stack, a library's message); a job "
        "that dies each time stops the study each time: leave it out of the sweep until its "
        "cause is fixed."
    )


def died_message(exit_code: int | None, training: str | None, kept: str) -> str:
    """The command's line (after ``lossbench: failed: ``) for a worker that died with
    ``exit_code`` while it trained ``training``; ``kept``: what the study keeps and how to go
    on (:func:`lossbench.interrupts.training_kept`); how to go on from what killed it
    (:func:`died_cause`, :func:`died_fix`)."""
    how = "died" if exit_code is None else ended_how(exit_code)
    what = f" while it trained {training}" if training else ""
    return (
        f"a worker process of the vectorized launcher {how}{died_cause(exit_code)}{what}; the "
        f"study stopped and its other worker processes were killed. {kept} {died_fix(exit_code)}"
    )
