"""Records of the jobs that a worker process's death stopped: each failed, saying what stopped it.

When a worker process of the vectorized launcher dies (the kernel's out-of-memory killer's
SIGKILL most often: :mod:`lossbench.worker_deaths`), loky kills the other workers, and the tasks
that they all trained end without a word in their jobs' folders. Once the pool is stopped
(:meth:`lossbench.vectorized.sweep.TaskPool.kill`), the launching process records each job of
those tasks, read from the busy marks that the killed workers left
(:func:`lossbench.worker_deaths.busy_marks`), as a job that failed with an exception is recorded
(:func:`lossbench.starting_record.base_record`: ``status: failed``, ``refused: false`` and a
one-line ``error``, :func:`stopped_error`):

- the dead worker's task: "worker process 12345 was killed by signal SIGKILL (out of memory?)
  while training this group, and the study stopped";
- the other workers' tasks: "stopped: another worker process (12345) was killed by signal
  SIGKILL (out of memory?), and the study stopped".

``lossbench-report`` then lists them as failed runs, not as unfinished jobs, and the study's
progress line counts them (:mod:`lossbench.worker_progress`). Such a record does not end its
job (:func:`lossbench.record.ended`): the same command trains it again. A record that the task
wrote before the death (a group's member that completed, or failed, before it) is kept, and so
is a record that ended, whenever written (a completed run of another config in the job's
folder, which the task would have refused): only a folder without a record, or with the record
of an earlier attempt that failed on an exception, gets one.

    >>> print(stopped_error(12345, -9, 12345, group=True))  # doctest: +NORMALIZE_WHITESPACE
    worker process 12345 was killed by signal SIGKILL (out of memory?) while training this
     group, and the study stopped
    >>> print(stopped_error(12345, -9, 678, group=False))  # doctest: +NORMALIZE_WHITESPACE
    stopped: another worker process (12345) was killed by signal SIGKILL (out of memory?), and
     the study stopped
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lossbench.record import DamagedRunError, ended, environment, read_record, write_record
from lossbench.starting_record import base_record
from lossbench.worker_deaths import ended_how

__all__ = ["keeps_its_record", "record_identity", "record_stopped_tasks", "stopped_error"]


def record_identity(output_dir: str | os.PathLike) -> tuple[int, int] | None:
    """The ``metrics.json`` in ``output_dir`` as ``(inode, mtime in ns)``; None: none there.
    A record is written anew (a new file moved in place), so another identity is another
    record."""
    try:
        stat = (Path(output_dir) / "metrics.json").stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def stopped_error(died: int | None, exit_code: int | None, worker: int, *, group: bool) -> str:
    """The ``error`` of a job that the death of worker ``died`` (None: not known), which
    ended with ``exit_code`` (None: not known), stopped in worker ``worker``; ``group``: the
    job trained in a vectorized group (else alone)."""
    how = "died" if exit_code is None else ended_how(exit_code)
    cause = " (out of memory?)" if exit_code == -9 else ""
    if died is not None and worker == died:
        what = "this group" if group else "this job"
        return f"worker process {died} {how}{cause} while training {what}, and the study stopped"
    which = "another worker process" + ("" if died is None else f" ({died})")
    return f"stopped: {which} {how}{cause}, and the study stopped"


def keeps_its_record(output_dir: Path, found: Sequence[int] | None) -> bool:
    """Whether ``output_dir``'s record stays as it is: one written since the task began (its
    identity is not ``found``, the one the task found, :func:`record_identity`; a group's
    member that had ended), one that ended (:func:`lossbench.record.ended`), or one that
    cannot be read (left as it is, as a study leaves it). False where there is none, or where
    it is the record of an earlier attempt that failed on an exception."""
    now = record_identity(output_dir)
    if now is None:
        return False
    if found is None or list(now) != list(found):
        return True
    try:
        record = read_record(output_dir)
    except DamagedRunError:
        return True
    return record is None or ended(record)


def record_stopped_tasks(
    marks: Mapping[int, Mapping[str, Any]],
    configs: Mapping[str, Mapping[str, Any]],
    died: int | None,
    exit_code: int | None,
) -> list[Path]:
    """Record as failed each job of the tasks that the death of worker ``died`` (with
    ``exit_code``) stopped: ``marks``, the busy marks the workers left
    (:func:`lossbench.worker_deaths.busy_marks`: ``{pid: {"jobs", "dirs", "records"}}``);
    ``configs``: the resolved config of each job handed over, by output directory (as the
    mark names it). Return the records written; the folders that keep theirs
    (:func:`keeps_its_record`) and the jobs without a config are passed over."""
    written: list[Path] = []
    for worker, label in marks.items():
        dirs = [str(d) for d in label.get("dirs", [])]
        known = "records" in label  # what the task found; else any record there is kept
        found = label["records"] if known else [None] * len(dirs)
        error = stopped_error(died, exit_code, worker, group=len(dirs) > 1)
        for output_dir, before in zip(dirs, found, strict=False):
            if output_dir not in configs:
                continue
            if keeps_its_record(Path(output_dir), before) if known else record_identity(output_dir):
                continue
            record = base_record(OmegaConf.create(dict(configs[output_dir])), None)
            record.update(environment=environment(), error=error, refused=False)
            if len(dirs) > 1:
                record["group_size"] = len(dirs)
            written.append(write_record(output_dir, record))
    return written
