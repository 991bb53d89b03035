"""Every private name of Python's ``multiprocessing`` queue that lossbench uses, each behind a
small function with its reason.

loky hands its worker processes their tasks through a call queue, a ``multiprocessing``
``Queue`` (loky's subclass of ``multiprocessing.queues.Queue``), which a thread of the
process that made it feeds. lossbench waits for that thread once a study's executor has ended
(:func:`lossbench.worker_kills.end_executor`), closing the queue's reading end first so that a
write left waiting on a full pipe fails and the thread ends: the queue has no public way to
either.

Each function reads defensively (``getattr`` with a default) and says what lossbench falls back
to when the name is gone; nowhere else in ``src/`` names them (``tests/test_architecture.py``
checks). Each was checked against CPython :data:`CHECKED_PYTHON_VERSION`, the version installed
when they were gathered here (the same names in ``Lib/multiprocessing/queues.py`` from 3.10,
the oldest Python lossbench supports, on): check them again when a new Python comes out.
``tests/test_queue_internals.py`` fails, naming the attribute, where a real queue lacks one;
then read that Python's ``Lib/multiprocessing/queues.py`` for where the attribute went, change
the function here, and run ``tests/test_worker_stops.py`` and ``tests/test_vectorized_stop.py``,
which exercise them.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CHECKED_PYTHON_VERSION", "feeder_thread", "reading_end"]

#: The Python version (``platform.python_version()``) the names here were checked against.
CHECKED_PYTHON_VERSION = "3.11.7"


def feeder_thread(queue: Any) -> threading.Thread | None:
    """The thread that feeds ``queue`` (a ``multiprocessing`` queue) from this process, or
    None: it has none (nothing was put in it here), or the name is gone.

    ``Queue._thread`` (checked: Python 3.11.7): None until the first ``put`` starts the thread.
    Gone, lossbench does not wait for it, which leaves loky's resource tracker to warn of a
    leaked semaphore as the command exits.
    """
    thread = getattr(queue, "_thread", None)
    return thread if isinstance(thread, threading.Thread) else None


def reading_end(queue: Any) -> Any | None:
    """The reading end of ``queue``'s pipe (a ``multiprocessing`` ``Connection``, with
    ``close``), or None where the name is gone.

    ``Queue._reader`` (checked: Python 3.11.7). Gone, the reading end is not closed before the
    feeder thread is waited for: a write left waiting on a full pipe then holds the wait to its
    bound (:func:`lossbench.worker_kills.end_executor`, 10 s).
    """
    reader = getattr(queue, "_reader", None)
    return reader if callable(getattr(reader, "close", None)) else None
