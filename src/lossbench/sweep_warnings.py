"""Warnings about the data that a sweep shows once, whichever of its processes warns first.

A multirun's jobs build their own data modules: one after another in one process
(``hydra/launcher=basic``), one per group in worker processes (``vectorized``), one per job in
worker processes (``parallel``), on other machines (``slurm``). Each would warn for the same
file (``lossbench: warning: data=csv (data.csv): feature column 'c' holds one value ...``), a
dozen times in a sweep. Within a sweep, a job asks :func:`first_in_sweep` before warning,
and only the first to ask for a key gets True:

    >>> import tempfile
    >>> sweep_dir = tempfile.mkdtemp()
    >>> with warnings_of_sweep(sweep_dir):
    ...     first_in_sweep("constant", "data.csv", "c"), first_in_sweep("constant", "data.csv", "c")
    (True, False)
    >>> first_in_sweep("constant", "data.csv", "c")  # a run alone always warns
    True

The claim is an empty file ``<sweep_dir>/.warned/<hash of the key>``, created with ``O_EXCL``
so that exactly one process of the sweep creates it, as the study's progress markers
(:mod:`lossbench.progress`) let jobs report without talking to each other. Simpler-looking
mechanisms fall short: Python's warning registry is per process (a sweep's workers would
each warn once) and is emptied whenever the warning filters change, which Lightning and
lossbench do around every run (one process would warn again for each job); and the launching
process checking the data once would have to load and split every data set of the sweep
before the first job, as each job does again (a column is checked in the training rows of
the job's own split, and ``data`` can be swept). The launching process forgets an earlier
sweep's claims when a sweep into the same directory starts (:func:`forget_warnings`).

Only the terminal's copy is affected: nothing of these warnings is written into a run's
record or log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["first_in_sweep", "forget_warnings", "warnings_of_sweep"]

#: Where a sweep's claims are, under its directory.
MARKER_DIR = ".warned"

#: The sweep directory of the jobs this process runs now (None: a run alone).
_sweep_dir: str | None = None


@contextmanager
def warnings_of_sweep(sweep_dir: str | Path | None) -> Iterator[None]:
    """Within, :func:`first_in_sweep` claims its keys in the sweep of ``sweep_dir`` (None: no
    sweep, every key is first)."""
    global _sweep_dir
    before, _sweep_dir = _sweep_dir, None if sweep_dir is None else str(sweep_dir)
    try:
        yield
    finally:
        _sweep_dir = before


def first_in_sweep(*key: str) -> bool:
    """Whether no process of this sweep has claimed ``key`` yet (it is claimed now); True
    outside a sweep, and where the claim cannot be written (a warning too many is better than
    none)."""
    if _sweep_dir is None:
        return True
    folder = Path(_sweep_dir) / MARKER_DIR
    name = hashlib.sha256("\0".join(key).encode()).hexdigest()[:24]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def forget_warnings(sweep_dir: str | Path) -> None:
    """Remove the claims of an earlier sweep into ``sweep_dir``: a sweep started again warns
    again (called by the launching process, before any job starts)."""
    shutil.rmtree(Path(sweep_dir) / MARKER_DIR, ignore_errors=True)
