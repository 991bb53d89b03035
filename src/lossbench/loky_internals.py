"""Every private loky name lossbench uses, each behind a small function with its reason.

The vectorized launcher's worker processes are a loky executor
(:class:`lossbench.vectorized.sweep.TaskPool`), and ``hydra/launcher=parallel``'s are joblib's
(a subclass of loky's). loky has no public way to an executor's worker processes or to its
call queue, which lossbench needs to stop a study's workers (:mod:`lossbench.worker_stops`,
:mod:`lossbench.worker_kills`) and to tell a worker that died from those killed after it
(:mod:`lossbench.worker_deaths`). lossbench imports loky as joblib ships it
(``joblib.externals.loky``), never a standalone ``loky``.

Each function reads defensively (``getattr`` with a default) and says what lossbench falls
back to when the name is gone; nowhere else in ``src/`` names them
(``tests/test_architecture.py`` checks). Each was checked against loky
:data:`CHECKED_LOKY_VERSION` (joblib 1.5.3), the version installed when they were gathered
here: check them again when joblib (or the loky it ships) moves. ``tests/test_loky_internals.py``
fails, naming the attribute, where a real executor lacks one; then read loky's
``process_executor.py`` for where the attribute went, change the function here, and run
``tests/test_worker_deaths.py``, ``tests/test_worker_stops.py`` and
``tests/test_vectorized_stop.py``, which exercise them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHECKED_LOKY_VERSION", "call_queue", "worker_processes"]

#: The loky version (``joblib.externals.loky.__version__``) the names here were checked against.
CHECKED_LOKY_VERSION = "3.5.6"


def worker_processes(executor: Any) -> dict[int, Any]:
    """The worker processes the loky ``executor`` runs now, by pid (each a
    ``multiprocessing`` process, with ``pid`` and ``exitcode``): a copy, safe to iterate while
    loky's thread adds or drops workers.

    ``ProcessPoolExecutor._processes`` (checked: loky 3.5.6): loky fills it as it starts
    workers and empties it as it ends a broken executor (hence
    ``TaskPool``'s own record of every worker it has had). An executor shut down (``None``
    there) or a loky without the attribute gives ``{}``: no worker is signalled or killed
    from here, and a worker that died is told from loky's message alone.
    """
    return dict(getattr(executor, "_processes", None) or {})


def call_queue(executor: Any) -> Any | None:
    """The queue through which the loky ``executor`` hands tasks to its workers, or None.

    ``ProcessPoolExecutor._call_queue`` (checked: loky 3.5.6), also on joblib's
    ``MemmappingExecutor``, a subclass; loky sets it to None as the executor shuts down, so read
    it before. lossbench waits for the thread that feeds it
    (:func:`lossbench.worker_kills.end_executor`); None (gone) skips that wait, which leaves
    loky's resource tracker to warn of a leaked semaphore as the command exits.
    """
    return getattr(executor, "_call_queue", None)
