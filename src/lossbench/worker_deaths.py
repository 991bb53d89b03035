"""A worker process of the vectorized launcher that ended on its own: how, and what it trained.

loky ends the whole executor once one of its workers dies (killed by a signal, the kernel's
out-of-memory killer's SIGKILL most often, or a crash): every task handed over fails with its
``TerminatedWorkerError``, and loky kills the other workers at once (SIGKILL, with
:func:`lossbench.worker_kills.kill_process_tree`). The study cannot go on in that executor, and
a group that ran out of memory would most likely run out again beside the same others: the
launcher stops the study (``TaskPool.kill``) and the command ends with one line
(:class:`WorkerDied`, ``lossbench: failed: ...``) and exit status 1, as a failed command does.
Runs that completed, and records written before (jobs that failed, a group's members that had
ended), are kept; the groups in progress have no record and train again when the same command
runs again, which skips the jobs that ended.

Which worker died, and how, is read from the worker processes' exit codes
(:func:`died_on_their_own`: those that this process did not kill itself,
:func:`lossbench.worker_kills.killed_here`); loky's message, which names the exit codes it
found, is read only where none is known (:func:`exit_codes_in_message`). What it trained is in
its busy mark (:func:`lossbench.worker_stops.task_stops`), which a killed worker leaves behind.

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
from typing import Any

__all__ = [
    "WORKER_DIED_EXIT",
    "WorkerDied",
    "died_message",
    "died_on_their_own",
    "ended_how",
    "exit_codes_in_message",
    "task_label",
    "worker_died",
]

#: The exit status of a study stopped because a worker process died: a failed command's.
WORKER_DIED_EXIT = 1

#: A worker's exit code as loky's message writes it: ``SIGKILL(-9)``, ``EXIT(1)``.
_EXIT_CODE = re.compile(r"\b[A-Z_]+\((-?\d+)\)")

#: How long to wait for a worker that has ended to have its exit code (loky waits 0.25 s).
_EXIT_CODE_WAIT_SECONDS = 0.25


class WorkerDied(BaseException):
    """A worker process of the vectorized launcher died while the study ran (killed by a
    signal, SIGKILL from the out-of-memory killer most often): the study stops, and the
    command ends with this message, ``lossbench: failed: <message>``, exit status
    :data:`WORKER_DIED_EXIT`. A ``BaseException``, as ``KeyboardInterrupt`` is: it passes Hydra's
    own report of a failed sweep (a traceback), to the command's end."""

    def __init__(self, message: str, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum


def task_label(jobs: Sequence[int], output_dirs: Sequence[str]) -> str:
    """What a worker's busy mark holds while it trains a task: the jobs' numbers and output
    directories (JSON), read back by :func:`worker_died` if the worker dies.

        >>> task_label([4, 5], ["sweep/4", "sweep/5"])
        '{"jobs": [4, 5], "dirs": ["sweep/4", "sweep/5"]}'
    """
    return json.dumps({"jobs": list(jobs), "dirs": list(output_dirs)})


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


def worker_died(
    error: BaseException, processes: Mapping[int, Any], busy: Path | None
) -> tuple[int | None, str | None]:
    """For loky's ``TerminatedWorkerError`` ``error``: the exit code of the worker that died
    (from ``processes``, every worker process the pool has had by pid, else from the message;
    None where neither tells) and, where its busy mark in the folder ``busy`` says, what it was
    training ("jobs 4, 5 (sweep/4, sweep/5)"; the mark is removed once read)."""
    died = died_on_their_own(processes.values())
    codes = list(died.values()) or exit_codes_in_message(str(error))
    training = None
    for pid in died:
        mark = None if busy is None else busy / str(pid)
        try:
            label = json.loads(mark.read_text()) if mark is not None else None
        except (OSError, ValueError):
            continue
        if mark is not None:
            mark.unlink(missing_ok=True)
        if isinstance(label, dict) and label.get("jobs"):
            jobs = ", ".join(str(j) for j in label["jobs"])
            noun = "job" if len(label["jobs"]) == 1 else "jobs"
            training = f"{noun} {jobs} ({', '.join(label.get('dirs', []))})"
    return (codes[0] if codes else None), training


def died_message(exit_code: int | None, training: str | None, kept: str) -> str:
    """The command's line (after ``lossbench: failed: ``) for a worker that died with
    ``exit_code`` while it trained ``training``; ``kept``: what the study keeps and how to go
    on (:func:`lossbench.interrupts.training_kept`)."""
    how = "died" if exit_code is None else ended_how(exit_code)
    cause = " (most often the kernel's out-of-memory killer)" if exit_code == -9 else ""
    what = f" while it trained {training}" if training else ""
    return (
        f"a worker process of the vectorized launcher {how}{cause}{what}; the study stopped "
        f"and its other worker processes were killed. {kept} If memory ran out, train fewer "
        "groups at a time (hydra.launcher.n_jobs=1) or smaller ones "
        "(hydra.launcher.max_group_size=4)."
    )
