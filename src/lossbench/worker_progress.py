"""The study's progress line after a worker process's death: each job it stopped counted as ended.

A worker reports its task's jobs to the study's progress line (:func:`lossbench.progress.
mark_job`) as the task ends; the tasks that a worker's death stopped
(:mod:`lossbench.worker_deaths`) end without that report. Once the launching process has
recorded their jobs (:func:`lossbench.worker_records.record_stopped_tasks`), it marks each of
them (:func:`mark_stopped_tasks`), so that the study's last line counts them:

- a job recorded as failed there: ``failed``, as its record says (a debug run's record that
  the task was training over, one damaged at the death, or a run of a lower
  ``trainer.max_epochs`` that the task was to train again at a raised cap, set aside first: it
  ended no job);
- a job whose record the task wrote before the death (a group's member that had ended, a lone
  job whose end the worker had not reported yet): the outcome its record says
  (:func:`lossbench.progress.record_outcome`);
- a job whose directory held, as the task began, a run that lossbench never overwrites
  (another config's completed run, or one that failed on a non-finite loss): ``exists``, as
  the task's refusal would have marked it.

A job is marked again where the worker had reported it before it was killed (between its
reports and the removal of its busy mark): the same outcome, and the marker is the job's one.
A marker that an earlier run of the sweep left is replaced: the progress line counts only the
markers written during its own sweep (:class:`lossbench.progress.MarkerCounter`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from lossbench.progress import mark_job, record_outcome
from lossbench.record import DamagedRunError, protected, read_record
from lossbench.worker_records import record_identity

__all__ = ["mark_stopped_tasks", "stopped_outcome"]


def stopped_outcome(
    output_dir: str | Path, found: Sequence[int] | None, written: Collection[Path]
) -> str | None:
    """How the job in ``output_dir``, which a worker's death stopped, ended: ``failed`` where
    its record is among those ``written`` after the death
    (:func:`lossbench.worker_records.record_stopped_tasks`); else what the record kept there
    says: the outcome of one written since the task began (its identity is not ``found``, the
    one the task found: :func:`lossbench.worker_records.record_identity`), ``exists`` for a run
    the task would have refused to train over (:func:`lossbench.record.protected`). None where
    it did not end: no record, or one that the task found and cannot be read (one damaged at the
    death, a debug run's that the task trained over, and a lower cap's run that it trains again,
    are recorded as failed after it: :func:`lossbench.worker_records.stopped_over`)."""
    path = Path(output_dir)
    if path / "metrics.json" in written:
        return "failed"
    now = record_identity(path)
    if now is None:
        return None
    try:
        record = read_record(path)
    except DamagedRunError:
        return None
    if not isinstance(record, dict):
        return None
    if found is None or list(now) != list(found):  # written by the task
        return record_outcome(record)
    return "exists" if protected(record, kept_failures=True) else None


def mark_stopped_tasks(
    marks: Mapping[int, Mapping[str, Any]],
    jobs: Mapping[str, tuple[str, int]],
    written: Collection[Path],
) -> dict[str, str]:
    """Report to the study's progress line the end of each job of the tasks that a worker's
    death stopped: ``marks``, the busy marks the workers left
    (:func:`lossbench.worker_deaths.busy_marks`); ``jobs``: the sweep directory and job number
    of each job handed over, by output directory (as the mark names it); ``written``: the
    records written for them after the death. Return the outcome marked, by output directory;
    a job that did not end (:func:`stopped_outcome`), or that is not in ``jobs``, is not
    marked, nor is a kept record whose mark does not say what its task found."""
    written = {Path(path) for path in written}
    marked: dict[str, str] = {}
    for label in marks.values():
        dirs = [str(d) for d in label.get("dirs", [])]
        known = "records" in label  # what the task found; else a record kept is not known
        found = label["records"] if known else [None] * len(dirs)
        for output_dir, before in zip(dirs, found, strict=False):
            if output_dir not in jobs:
                continue
            if known:
                outcome = stopped_outcome(output_dir, before, written)
            else:  # whose record is kept there, if any, is not known: only those written
                outcome = "failed" if Path(output_dir, "metrics.json") in written else None
            if outcome is None:
                continue
            sweep_dir, job = jobs[output_dir]
            mark_job(sweep_dir, job, outcome)
            marked[output_dir] = outcome
    return marked
