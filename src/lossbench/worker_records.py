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
folder, which the task would have refused): only a folder without a record, or with a refused
attempt's, gets one. So does a folder whose record ended no job, which is first set aside, so
that nothing written is lost: the record of an earlier attempt that failed
(:func:`lossbench.record.failed_attempt`), which the task had not yet set aside, goes with that
attempt's checkpoints and logs to their ``-earlier`` names, as the task sets them aside
(:func:`lossbench.record.set_aside_earlier_attempt`: ``metrics-earlier.json``,
``checkpoints-earlier/``, ...); a debug run's record (``debug_run``), which the task was
training over (:func:`lossbench.record.protected`), and a record written since the task began
that cannot be read (damaged at the death: the job did not end) go under their own names
(:data:`SET_ASIDE_NAMES`; an earlier one there moves on to ``-v1``, ``-v2``, ...:
:func:`lossbench.aside_names.move_on_together`). A completed run of the job's config but for a
lower ``trainer.max_epochs``, which the task sets aside to train the job again from scratch at
the raised cap (:func:`lossbench.run_identity.capped_run`), ended no job either: it is set aside
as the task sets it aside, with its config, checkpoints and loggers' folders, and the same line
(:func:`lossbench.run_identity.set_aside_for_raised_cap`: ``metrics-max_epochs300.json``, ...).

    >>> print(stopped_error(12345, -9, 12345, group=True))  # doctest: +NORMALIZE_WHITESPACE
    worker process 12345 was killed by signal SIGKILL (out of memory?) while training this
     group, and the study stopped
    >>> print(stopped_error(12345, -9, 678, group=False))  # doctest: +NORMALIZE_WHITESPACE
    stopped: another worker process (12345) was killed by signal SIGKILL (out of memory?), and
     the study stopped
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from omegaconf import OmegaConf

from lossbench.aside_names import move_on_together
from lossbench.record import (
    RECORD_NAME,
    DamagedRunError,
    ended,
    environment,
    failed_attempt,
    read_record,
    set_aside_earlier_attempt,
    write_record,
)
from lossbench.run_identity import capped_run, set_aside_for_raised_cap
from lossbench.starting_record import base_record
from lossbench.worker_deaths import ended_how

__all__ = [
    "SET_ASIDE_NAMES",
    "keeps_its_record",
    "record_identity",
    "record_stopped_tasks",
    "set_aside_record",
    "stopped_error",
    "stopped_over",
]

log = logging.getLogger(__name__)

#: What a stopped job's folder holds, to the record of its stop (:func:`stopped_over`).
Found = Literal["kept", "replaced", "earlier", "debug", "damaged", "capped"]
#: What :func:`_found` tells apart, before a record that ended is told from a lower cap's run.
_Read = Literal["kept", "replaced", "earlier", "debug", "damaged", "ended"]

#: Where a record that ended no job is kept as a stopped job's record replaces it
#: (:func:`set_aside_record`), by what it is (:func:`stopped_over`): the newest of each there.
SET_ASIDE_NAMES: dict[str, str] = {"debug": "metrics-debug.json", "damaged": "metrics-damaged.json"}
#: How the log line names each of them.
_WHAT = {"debug": "a debug run's record", "damaged": "damaged at the death (cannot be read)"}


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


def stopped_over(
    output_dir: Path, found: Sequence[int] | None, config: Mapping[str, Any] | None = None
) -> Found:
    """What ``output_dir``'s record is to the record of its job's stop (``found``: the identity
    of the record the task found, :func:`record_identity`; ``config``: the job's resolved
    config, None: not known):

    - ``kept``: it stays as it is: one written since the task began (a group's member that had
      ended), one that ended (:func:`lossbench.record.ended`) but a lower cap's below, or one
      that the task found and cannot be read (which the task refuses, and a study leaves as it
      is);
    - ``replaced``: none there, or a refused attempt's record, which the task trains over;
    - ``earlier``: the record of an earlier attempt that failed
      (:func:`lossbench.record.failed_attempt`) that the task found and had not yet set aside
      with that attempt's files (:func:`lossbench.record.set_aside_earlier_attempt`);
    - ``debug``: a debug run's record that the task found (``debug_run``; any status), which
      ended no job: the task was training over it (:func:`lossbench.record.protected`);
    - ``damaged``: one written since the task began that cannot be read (damaged at the death):
      the job did not end;
    - ``capped``: a run of ``config`` but for a lower ``trainer.max_epochs`` that the task
      found, and sets aside to train the job again at the raised cap, as it does without
      ``ckpt_path`` (:func:`lossbench.run_identity.capped_run`): it ended no job at this cap.

    The last four are set aside before the stop's record is written
    (:func:`record_stopped_tasks`).
    """
    what = _found(output_dir, found)
    if what != "ended":
        return what
    return "capped" if _for_raised_cap(output_dir, config, capped_run) else "kept"


def _found(output_dir: Path, found: Sequence[int] | None) -> _Read:
    """:func:`stopped_over`, with ``ended`` for a record that ended that the task found (kept,
    unless a lower cap's run that the task sets aside), read once."""
    now = record_identity(output_dir)
    if now is None:
        return "replaced"
    written = found is None or list(now) != list(found)
    try:
        record = read_record(output_dir)
    except DamagedRunError:
        return "damaged" if written else "kept"
    if written or record is None:  # None: a metrics.json that is no file, left as it is
        return "kept"
    if record.get("debug_run"):
        return "debug"
    if not ended(record):
        return "earlier" if failed_attempt(record) else "replaced"
    return "ended"


def _for_raised_cap(
    output_dir: Path,
    config: Mapping[str, Any] | None,
    act: Callable[[Path, Mapping[str, Any]], int | None],
) -> bool:
    """Whether the task of ``config`` sets ``output_dir``'s run aside to train it again at a
    raised cap, by ``act``: :func:`lossbench.run_identity.capped_run` tells, and
    :func:`lossbench.run_identity.set_aside_for_raised_cap` sets it aside as the task does,
    with its line. A job of a sweep that does not resume (``ckpt_path``) does
    (:func:`lossbench.training.train`, :func:`lossbench.vectorized.run.train_group`); a config
    or record that cannot be read is left as it is, as the task leaves it."""
    if config is None or config.get("ckpt_path") is not None:
        return False
    try:
        return act(output_dir, config) is not None
    except DamagedRunError:
        return False


def keeps_its_record(
    output_dir: Path, found: Sequence[int] | None, config: Mapping[str, Any] | None = None
) -> bool:
    """Whether ``output_dir``'s record stays as it is (:func:`stopped_over`); False where the
    stop's record is written there: none there, a refused attempt's, or one set aside first (an
    earlier attempt's that failed, a debug run's, one damaged at the death, a lower cap's run
    that ``config``'s job trains again)."""
    return stopped_over(output_dir, found, config) == "kept"


def set_aside_record(output_dir: Path, what: str) -> Path:
    """Move ``output_dir``'s ``metrics.json``, a record that ended no job (``what``: ``debug``
    or ``damaged``, :func:`stopped_over`), to its name in :data:`SET_ASIDE_NAMES`, where one set
    aside before moves on first (``metrics-debug-v1.json``, ...); return where it went."""
    target = output_dir / SET_ASIDE_NAMES[what]
    move_on_together([target])
    return (output_dir / RECORD_NAME).replace(target)


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
    (:func:`keeps_its_record`) and the jobs without a config are passed over. What ended no job
    is set aside first (:func:`stopped_over`): an earlier attempt that failed, with its files
    (:func:`lossbench.record.set_aside_earlier_attempt`), a debug run's record, or one damaged
    at the death (:func:`set_aside_record`), and a lower cap's run that the job trains again,
    with its files, as the task sets it aside
    (:func:`lossbench.run_identity.set_aside_for_raised_cap`); each says where it went."""
    written: list[Path] = []
    for worker, label in marks.items():
        dirs = [str(d) for d in label.get("dirs", [])]
        known = "records" in label  # what the task found; else any record there is kept
        found = label["records"] if known else [None] * len(dirs)
        error = stopped_error(died, exit_code, worker, group=len(dirs) > 1)
        for output_dir, before in zip(dirs, found, strict=False):
            if output_dir not in configs:
                continue
            if not _make_way_for_stop(Path(output_dir), before, configs[output_dir], known=known):
                continue
            record = base_record(OmegaConf.create(dict(configs[output_dir])), None)
            record.update(environment=environment(), error=error, refused=False)
            if len(dirs) > 1:
                record["group_size"] = len(dirs)
            written.append(write_record(output_dir, record))
    return written


def _make_way_for_stop(
    output_dir: Path, found: Sequence[int] | None, config: Mapping[str, Any], *, known: bool
) -> bool:
    """Set aside what ``output_dir`` holds that ended no job (:func:`stopped_over`; ``found``:
    the identity of the record the task found, where ``known``), and say where it went;
    whether the stop's record is written there (False: the folder keeps its record)."""
    if not known:  # whose record is there, if any, is not known: it is kept
        return record_identity(output_dir) is None
    what = _found(output_dir, found)
    if what == "ended":
        return _for_raised_cap(output_dir, config, set_aside_for_raised_cap)
    if what == "earlier":  # as a group's member does before it trains again
        if (said := set_aside_earlier_attempt(output_dir)) is not None:
            log.info(said)
    elif what in SET_ASIDE_NAMES:
        kept = set_aside_record(output_dir, what)
        log.info("%s, %s, was kept as %s", kept.with_name(RECORD_NAME), _WHAT[what], kept)
    return what != "kept"
