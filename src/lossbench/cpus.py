"""How many CPU cores lossbench may use, and how many study jobs run at once.

    >>> cores() >= 1
    True
    >>> 1 <= default_parallel_jobs() <= MAX_PARALLEL_JOBS
    True

No torch import here: the configs resolve ``${parallel_jobs:}`` before anything heavy loads.
"""

from __future__ import annotations

import os

#: The most worker processes a study starts by default: each holds torch, Lightning and a
#: data set (about 0.5 GiB), and lossbench's small jobs gain little from more.
MAX_PARALLEL_JOBS = 8


def cores() -> int:
    """CPU cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_parallel_jobs() -> int:
    """Worker processes of a study (``${parallel_jobs:}`` in configs/experiment): one per core,
    at most :data:`MAX_PARALLEL_JOBS`. Each then gets one torch thread (``fit_threads``)."""
    return max(1, min(cores(), MAX_PARALLEL_JOBS))
