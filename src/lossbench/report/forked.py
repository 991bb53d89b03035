"""The report's parallel work in forked copies of its process: no worker imports anything.

    >>> forked_map(pow, [(2, 3), (3, 2)])
    [8, 9]

A worker made by ``fork`` starts with the report's modules already imported (torch,
torchmetrics, scikit-learn, matplotlib: several seconds per process when a worker imports
them itself). Where ``fork`` does not exist, or this process runs other threads (a forked copy
of a threaded process can deadlock), the jobs run here, one after another.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from lossbench.cpus import cores


def fork_workers(n_jobs: int) -> int:
    """Processes to run ``n_jobs`` jobs with: one per job up to the cores, where a fork is safe;
    else 1 (in this process)."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    return max(1, min(n_jobs, cores()))


def forked_map(function: Callable[..., Any], jobs: Sequence[tuple]) -> list[Any]:
    """``[function(*job) for job in jobs]``, in forked workers (:func:`fork_workers`)."""
    workers = fork_workers(len(jobs))
    if workers == 1:
        return [function(*job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(function, *zip(*jobs, strict=True)))
