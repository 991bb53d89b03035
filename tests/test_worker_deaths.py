"""A worker process that died on its own (SIGKILL from the out-of-memory killer) is told from
those loky killed after it by the processes' exit codes, not by loky's message; the message is
read only where no exit code is known."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lossbench.loky_internals import worker_processes
from lossbench.worker_deaths import (
    busy_marks,
    died_message,
    died_on_their_own,
    task_label,
    worker_died,
)
from lossbench.worker_kills import end_executor, kill_workers, use_own_kills
from stop_signals import posix


def test_loky_s_message_is_read_where_no_exit_code_is_known():
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    error = TerminatedWorkerError("...\nThe exit codes of the workers are {SIGKILL(-9)}\n...")
    assert worker_died(error, {}, None) == (-9, None, None)  # which worker: not known
    assert worker_died(TerminatedWorkerError("no exit codes"), {}, None) == (None, None, None)


MEMORY = "If memory ran out, train fewer groups at a time (hydra.launcher.n_jobs=1)"


@pytest.mark.parametrize(
    ("exit_code", "how"),
    [
        (-9, "was killed by signal SIGKILL (most often the kernel's out-of-memory killer)"),
        (None, "died"),
        (-11, "was killed by signal SIGSEGV (a crash, in native code most often)"),
        (-6, "was killed by signal SIGABRT (a crash, in native code most often)"),
        (3, "ended with exit status 3 (the code it ran ended the process: os._exit() or a"),
    ],
)
def test_the_line_of_a_worker_s_death_gives_the_memory_advice_only_where_memory_may_be_why(
    exit_code, how
):
    """A worker that SIGKILL ended (the out-of-memory killer), or that ended some way not
    known, gets the advice to train fewer or smaller groups; one that crashed, or whose code
    ended it with an exit status, is pointed at its own output and at the job that dies."""
    line = died_message(exit_code, "job 1 (sweep/1)", "Runs that completed are kept.")
    assert line.startswith(f"a worker process of the vectorized launcher {how}"), line
    assert "while it trained job 1 (sweep/1); the study stopped" in line, line
    assert "Runs that completed are kept." in line, line
    may_be_memory = exit_code in (-9, None)
    assert (MEMORY in line) is may_be_memory, line
    assert ("leave it out of the sweep until its cause is fixed" in line) is not may_be_memory


@posix
@pytest.mark.slow  # about 3 s: two worker processes start
def test_the_worker_that_died_is_told_from_the_one_loky_killed_by_its_exit_code(tmp_path):
    from joblib.externals.loky import ProcessPoolExecutor
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    use_own_kills()  # as a TaskPool does: loky kills its workers with lossbench's kill_tree
    executor = ProcessPoolExecutor(max_workers=2)
    try:
        futures = [executor.submit(time.sleep, 60) for _ in range(2)]
        while not all(f.running() for f in futures) or len(worker_processes(executor)) < 2:
            time.sleep(0.01)
        processes = worker_processes(executor)
        victim, other = list(processes)
        (tmp_path / str(victim)).write_text(task_label([4, 5], ["sweep/4", "sweep/5"]))
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(TerminatedWorkerError):
            futures[0].result(timeout=30)
        # loky kills it as the executor breaks (-9 too), from its own thread, which may reap
        # it as this one waits: its exit code is read until it shows, not from one join
        deadline = time.monotonic() + 60
        while processes[other].exitcode is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes[other].exitcode == -signal.SIGKILL
        assert died_on_their_own(processes.values()) == {victim: -signal.SIGKILL}
        # a message that names no exit code: the processes' own tell
        found = worker_died(TerminatedWorkerError("a worker died"), processes, tmp_path)
        assert found == (-signal.SIGKILL, "jobs 4, 5 (sweep/4, sweep/5)", victim)
        # its mark is left for the records of the jobs it trained (lossbench.worker_records)
        assert busy_marks(tmp_path) == {victim: {"jobs": [4, 5], "dirs": ["sweep/4", "sweep/5"]}}
    finally:
        kill_workers(executor)
        end_executor(executor, kill=True)
