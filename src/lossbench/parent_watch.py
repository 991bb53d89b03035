"""Worker processes that end with the process that started them.

A study's worker processes (the vectorized launcher's, and the joblib workers of
``hydra/launcher=parallel``) would otherwise train on after ``lossbench-train`` was killed
(SIGKILL, the out-of-memory killer) and write the records of jobs nobody waits for.

    >>> import os
    >>> end_with_parent(os.getppid())  # doctest: +SKIP
"""

from __future__ import annotations

import os

__all__ = ["LAUNCHER_PID_ENV", "end_with_launcher", "end_with_parent"]

#: The environment variable in which a multirun's process names itself (its pid) to the
#: joblib workers it starts (:func:`end_with_launcher`).
LAUNCHER_PID_ENV = "LOSSBENCH_LAUNCHER_PID"

#: Whether this process watches its launcher already.
_WATCHING: list[int] = []


def end_with_launcher() -> None:
    """In a joblib (loky) worker of ``hydra/launcher=parallel``: end this process with the
    multirun's process that started it (:data:`LAUNCHER_PID_ENV`, set in
    ``on_multirun_start``), once per process, and leave Ctrl-C to that process, which kills
    its workers when it stops. Elsewhere (a run alone, Hydra's basic launcher, a DDP process
    a job started) nothing is done."""
    import multiprocessing

    launcher = os.environ.get(LAUNCHER_PID_ENV, "")
    if _WATCHING or not launcher.isdigit() or int(launcher) == os.getpid():
        return
    if not multiprocessing.current_process().name.startswith("LokyProcess"):
        return
    if os.getppid() != int(launcher):  # a worker of another process's (or its parent ended)
        return
    _WATCHING.append(int(launcher))
    end_with_parent(int(launcher))
    import signal
    import threading

    # Ctrl-C is the launcher's, which kills this worker (lossbench.worker_kills), as the
    # vectorized launcher's workers leave it: a Ctrl-C pressed again and again reached a worker
    # as it ended, and its traceback came before the command's line
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


#: ``prctl`` option (Linux, ``<linux/prctl.h>``): the signal this process gets when its parent
#: ends.
_PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """End this process (SIGKILL) as soon as process ``parent``, which started it, has ended,
    however it ended (SIGKILL included), within a fraction of a second.

    A SIGKILL, as :meth:`lossbench.vectorized.sweep.TaskPool.kill` ends a worker (after
    asking it to stop, which a launching process that was killed cannot): a job or group in
    progress writes nothing more and trains again when the study is run again. loky has
    no such watch: a worker notices its executor's end only between tasks, when its queue to
    the executor is closed, and trains on meanwhile.

    On Linux the kernel sends the signal (``prctl(PR_SET_PDEATHSIG)``): at once, without a
    thread of its own, even while the worker is in a long call that holds the GIL. It is
    sent when the *thread* that started the worker ends: loky starts a pool's workers from
    the thread that submits its tasks (the launcher's, which lives as long as the launch) or
    from the pool's manager thread (a worker replaced), which ends with the pool. The setting
    outlives ``exec`` but not ``fork``, so it is made here, in the worker, after which
    ``parent`` is checked once: had it ended before, no signal would come. Elsewhere on
    POSIX (macOS), or where ``prctl`` fails, a daemon thread checks every 0.1 s whether this
    process was handed to another parent (``os.getppid``). On Windows nothing is set up.

        >>> end_with_parent(os.getppid())  # doctest: +SKIP
    """
    import signal
    import sys

    if os.name != "posix":
        return
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it ended before the setting: no signal will come
                os.kill(os.getpid(), signal.SIGKILL)
            return
    import threading

    threading.Thread(
        target=_end_when_orphaned, args=(parent,), name="lossbench-parent-watch", daemon=True
    ).start()


def _end_when_orphaned(parent: int) -> None:
    """SIGKILL this process once its parent is no longer ``parent`` (it ended, and this process
    was handed to init or a subreaper)."""
    import signal
    import time

    while os.getppid() == parent:
        time.sleep(0.1)
    os.kill(os.getpid(), signal.SIGKILL)
