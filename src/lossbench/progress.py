"""Study progress: jobs ended / total, failures so far and the time left, on one line.

Any launcher can report to it. Each job leaves a marker in the sweep directory when it ends
(:func:`mark_job`; ``lossbench-train`` does this itself in a multirun), and the process that
started the sweep watches the markers (:func:`watch_study`, started by the Hydra callback
:class:`lossbench.hydra_callbacks.StudyProgressLine`)::

    from lossbench.progress import mark_job, watch_study

    with watch_study(sweep_dir, total=180):  # the line, on stderr
        ...  # launch the jobs; each calls mark_job(sweep_dir, job_id, "completed")

A launcher that learns of each job's end itself can drive :class:`StudyProgress` directly:

    >>> import io
    >>> out = io.StringIO()
    >>> progress = StudyProgress(total=4, stream=out, clock=iter([0.0, 10.0, 20.0]).__next__)
    >>> progress.update(done=1, failed=0)
    >>> progress.update(done=2, failed=1)
    >>> out.getvalue().splitlines()[-1]
    'study: 2/4 jobs ended, 1 failed, about 20 s left'

On a terminal the line is redrawn in place (``\\r``); elsewhere (CI logs, files) plain lines are
written, at most one every ``min_interval_s`` seconds, and always the last one.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

#: The outcomes of a job, as markers ``<sweep_dir>/.progress/<job_id>.<outcome>``.
#: ``failed_before``: skipped, because an earlier run of the sweep failed on a non-finite loss
#: (:func:`lossbench.train.skipped_outcome`).
OUTCOMES = ("completed", "skipped", "refused", "failed", "failed_before", "exists")
#: Outcomes counted as failures on the progress line (refused: a setup a task cannot train,
#: reported as "not applicable", counts as done).
FAILED = ("failed", "failed_before")
#: Outcomes of jobs that trained nothing here: not part of the rate behind the time left.
UNTIMED = ("skipped", "failed_before", "exists")
#: How the final line names an outcome, where not by its marker's name (shown only when a job
#: had it).
LABELS = {
    "failed_before": "failed in an earlier run (kept)",
    "exists": "not run: a completed or kept run of other settings in its directory",
}
MARKER_DIR = ".progress"


#: Sweep directory -> jobs of this process's multirun that were not run because their
#: directory holds a completed run of other settings, or one that failed on a non-finite loss
#: and is kept as its result (lossbench never overwrites either):
#: ``lossbench-train -m`` then exits 2 with :func:`not_run_message`, so that ``make compare``
#: does not go on to report the earlier study as if it were this one.
NOT_RUN: dict[str, int] = {}


def not_run_message(sweep_dir: str, count: int, *, sweep_dir_given: bool = False) -> str:
    """Why a study's command exits 2 after its jobs ended: ``count`` jobs found another
    config's completed (or kept) run in their directory. ``sweep_dir_given``: the command set
    ``hydra.sweep.dir``, which the hint then names (``paths.output_dir`` would not move it).

        >>> print(not_run_message("outputs/studies/s", 3)[:64])
        3 job(s) of this study were not run: their directories under out
        >>> "hydra.sweep.dir=<new directory>" in not_run_message("s", 1, sweep_dir_given=True)
        True
    """
    if sweep_dir_given:
        where = "hydra.sweep.dir=<new directory>"
    else:
        where = "paths.output_dir=<new directory> (make compare OUTPUTS=<new directory>)"
    return (
        f"{count} job(s) of this study were not run: their directories under {sweep_dir} "
        "hold runs of other settings that completed, or failed on a non-finite loss and are "
        "kept as their result: an earlier study's with other overrides, or another job's of "
        "this sweep where hydra.sweep.subdir gives several jobs one directory (it leaves out "
        "a swept key). lossbench never overwrites them, so its report would show the other "
        f"settings. Give these settings a new output directory: {where}; or put every swept "
        "key into hydra.sweep.subdir. A study run again with the same settings skips its jobs "
        "that ended."
    )


#: Sweep directory -> ``(jobs, start time)`` of this process's multirun, every job of which was
#: refused for bad input (nothing trained, nothing skipped): ``lossbench-train -m`` then exits
#: 2 with :func:`all_refused_message`, as a refused single run does.
ALL_REFUSED: dict[str, tuple[int, float]] = {}


def every_job_refused(counts: Mapping[str, int]) -> bool:
    """True when the jobs that ended (``counts`` per outcome) were all refused.

    >>> every_job_refused({"refused": 2, "completed": 0}), every_job_refused({"refused": 0})
    (True, False)
    """
    return bool(counts.get("refused")) and counts["refused"] == sum(counts.values())


def all_refused_message(sweep_dir: str | Path, count: int, since: float = 0.0) -> str:
    """Why a sweep exits 2 when each of its ``count`` jobs was refused: the first refusal's
    message (from the job's ``metrics.json`` written at or after ``since``, a time stamp: an
    earlier sweep's records in the same directory are not this one's), and where the others are.

        >>> print(all_refused_message("/nonexistent", 2)[:56])
        all 2 job(s) of this sweep were refused, nothing trained
    """
    first = _first_refusal(Path(sweep_dir), since)
    if first is None:  # none recorded: e.g. jobs whose metrics.json or config.yaml is damaged
        return (
            f"all {count} job(s) of this sweep were refused, nothing trained. The log above "
            "says why, job by job; fix what it names and run the sweep again."
        )
    return (
        f"all {count} job(s) of this sweep were refused for bad input, nothing trained; the "
        f"first: {first.rstrip('.')}. Each job's metrics.json under {sweep_dir} says why; fix "
        "the overrides and run the sweep again."
    )


#: Sweep directory -> ``(outcome counts, start time)`` of this process's multirun whose jobs
#: ended without one completing (each failed, or failed and refused): ``lossbench-train -m``
#: then exits 1 with :func:`none_completed_message`, as a failed single run does, so that
#: ``make compare`` does not go on to a report of nothing.
NONE_COMPLETED: dict[str, tuple[dict[str, int], float]] = {}


def none_completed(counts: Mapping[str, int]) -> bool:
    """True when jobs ended (``counts`` per outcome), none completed (now or in an earlier run
    of the sweep: ``skipped``), and not every one was refused (:func:`every_job_refused`).

    >>> none_completed({"failed": 2, "completed": 0}), none_completed({"failed": 1, "skipped": 1})
    (True, False)
    """
    return (
        sum(counts.values()) > 0
        and not counts.get("completed")
        and not counts.get("skipped")
        and not every_job_refused(counts)
    )


def none_completed_message(sweep_dir: str | Path, counts: Mapping[str, int], since: float) -> str:
    """Why a sweep exits 1 when none of its jobs completed: how they ended (``counts`` per
    outcome), the first failure's message (from the job's ``metrics.json`` written at or after
    ``since``) and what to do.

        >>> print(none_completed_message("/nonexistent", {"failed": 2}, 0.0)[:44])
        no job of this sweep completed (2 failed), s
    """
    ended = {outcome: n for outcome, n in counts.items() if n}
    how = ", ".join(f"{n} {LABELS.get(outcome, outcome)}" for outcome, n in ended.items())
    first = _first_refusal(Path(sweep_dir), since, failed=True)
    reason = f"; first: {first.rstrip('.')}" if first else ""
    return (
        f"no job of this sweep completed ({how}{reason}), so there is nothing to report. "
        f"Each job's metrics.json under {sweep_dir} says why; fix the settings (for a "
        "non-finite loss: a lower optimizer.lr, gradient clipping with "
        "trainer.gradient_clip_val) and run the sweep again."
    )


def no_trial_completed_message(
    sweep_dir: str | Path, counts: Mapping[str, int], since: float
) -> str:
    """Why an Optuna search that no trial of which completed ends in failure (exit 1): how its
    trials ended (``counts`` per outcome), the first failure's message (from the trial's
    ``metrics.json`` written at or after ``since``) and what to do. A search every trial of
    which was refused is refused instead (:func:`all_refused_message`).

        >>> print(no_trial_completed_message("/nonexistent", {"failed": 2}, 0.0)[:42])
        all 2 trials of the Optuna search failed (
    """
    ended = {outcome: n for outcome, n in counts.items() if n}
    total = sum(ended.values())
    failed = sum(ended.get(outcome, 0) for outcome in FAILED)
    first = _first_refusal(Path(sweep_dir), since, failed=True) or _first_refusal(
        Path(sweep_dir), since
    )
    reason = f"first: {first.rstrip('.')}" if first else "each trial's metrics.json says why"
    if failed == total:
        what = f"all {total} trials of the Optuna search failed ({reason})"
    else:
        labels = LABELS | {
            "completed": "completed with a non-finite value",
            "skipped": "ended before without a value",
        }
        how = ", ".join(f"{n} {labels.get(outcome, outcome)}" for outcome, n in ended.items())
        what = (
            f"none of the {total} trials of the Optuna search has a finite value of the "
            f"optimized metric ({how}; {reason})"
        )
    return (
        f"{what}, so it has no best trial. Each trial's metrics.json under {sweep_dir} says "
        "why; fix the settings (for a non-finite loss or weights: a lower optimizer.lr interval, "
        "gradient clipping with trainer.gradient_clip_val) and run the search again."
    )


def _first_refusal(sweep_dir: Path, since: float, *, failed: bool = False) -> str | None:
    """The ``error`` of the refused record (with ``failed``: of the failed one, not refused)
    written first under ``sweep_dir`` at or after ``since``, if any."""
    import json

    found: list[tuple[float, str]] = []
    for path in sweep_dir.rglob("metrics.json"):
        try:
            record = json.loads(path.read_text())
            mtime = path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if mtime < since:
            continue
        if not isinstance(record, dict) or not record.get("error"):
            continue
        if (
            (record.get("status") == "failed" and not record.get("refused"))
            if failed
            else record.get("refused")
        ):
            found.append((mtime, str(record["error"])))
    return min(found)[1] if found else None


def record_outcome(record: Mapping[str, Any]) -> str:
    """The outcome of a job whose training returned (or wrote) ``record``, for :func:`mark_job`:
    ``completed``; ``exists`` where it was not run, since its directory holds another config's
    run (lossbench never overwrites one); ``refused``; else ``failed``.

        >>> record_outcome({"status": "completed"}), record_outcome({"status": "failed"})
        ('completed', 'failed')
        >>> record_outcome({"status": "failed", "refused": True, "exists": True})
        'exists'
    """
    if record.get("status") == "completed":
        return "completed"
    if record.get("exists"):  # never overwrites another config's completed run
        return "exists"
    return "refused" if record.get("refused") else "failed"


def mark_job(sweep_dir: str | Path, job_id: str | int, outcome: str) -> Path:
    """Record that job ``job_id`` of the sweep in ``sweep_dir`` ended with ``outcome``.

    A marker is an empty file, so jobs on other processes or machines that share the sweep
    directory report without talking to the watcher.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome={outcome!r} is not known. Valid: {', '.join(OUTCOMES)}.")
    folder = Path(sweep_dir) / MARKER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for other in OUTCOMES:  # a job run again replaces its earlier outcome
        (folder / f"{job_id}.{other}").unlink(missing_ok=True)
    path = folder / f"{job_id}.{outcome}"
    path.touch()
    return path


def count_markers(sweep_dir: str | Path, since: float = 0.0) -> dict[str, int]:
    """How many jobs ended with each outcome, counting markers written at or after ``since``
    (a ``time.time()``); markers of an earlier sweep into the same directory are left out."""
    return MarkerCounter(sweep_dir, since).counts()


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells a file written anew from the one that stood there: inode, modification time
    (ns) and size; None where it is gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _snapshot(folder: Path, suffixes: tuple[str, ...]) -> dict[str, tuple[int, int, int] | None]:
    """The files of ``folder`` ending with one of ``suffixes``, with their identities."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {n: _identity(folder / n) for n in names if n.endswith(suffixes)}


class MarkerCounter:
    """:func:`count_markers` for a watcher that counts again and again: a marker found at or
    after ``since`` is remembered, so each count reads the folder's names and looks only at the
    new ones (a study's progress thread polls a folder of a thousand markers twice a second).

    With ``only_new=True`` the markers already in the folder when the counter is made are left
    out until a job writes them anew, whatever their times say: a sweep started again into the
    same directory within a second of the last one does not count the last one's jobs (a
    file's time cannot tell them apart at that distance).

        >>> counter = MarkerCounter("outputs/studies/quick", only_new=True)  # doctest: +SKIP
        >>> counter.counts()["completed"]                                   # doctest: +SKIP
        923
    """

    def __init__(
        self, sweep_dir: str | Path, since: float = 0.0, *, only_new: bool = False
    ) -> None:
        self.folder = Path(sweep_dir) / MARKER_DIR
        self.since = since
        self._counted: dict[str, str] = {}  # marker name -> outcome, for markers counted
        suffixes = tuple(f".{o}" for o in OUTCOMES)
        self._before = _snapshot(self.folder, suffixes) if only_new else {}

    def counts(self) -> dict[str, int]:
        """How many jobs ended with each outcome (markers written at or after ``since``)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        try:
            names = set(os.listdir(self.folder))
        except (FileNotFoundError, NotADirectoryError):
            names = set()
        self._counted = {n: o for n, o in self._counted.items() if n in names}  # replaced
        for name in names.difference(self._counted):
            outcome = name.rpartition(".")[2] if "." in name else ""
            if outcome not in counts:
                continue
            # markers of an earlier sweep are looked at again: the job may mark them anew
            identity = _identity(self.folder / name)
            if identity is None or (name in self._before and self._before[name] == identity):
                continue
            if identity[1] >= self.since * 1e9:
                self._counted[name] = outcome
        for outcome in self._counted.values():
            counts[outcome] += 1
        return counts


def outcome_of(sweep_dir: str | Path, job_id: str | int) -> str | None:
    """How job ``job_id`` of the sweep in ``sweep_dir`` ended (:func:`mark_job`), or None."""
    folder = Path(sweep_dir) / MARKER_DIR
    return next((o for o in OUTCOMES if (folder / f"{job_id}.{o}").exists()), None)


def add_jobs(sweep_dir: str | Path, name: str, count: int) -> Path:
    """Record that the sweep in ``sweep_dir`` added ``count`` jobs to those it started with
    (a sweeper that widens a grid), under ``name``; a watcher adds them to its total."""
    folder = Path(sweep_dir) / MARKER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.added"
    path.write_text(str(int(count)))
    return path


def added_jobs(
    sweep_dir: str | Path, before: dict[str, tuple[int, int, int] | None] | None = None
) -> int:
    """The jobs added (:func:`add_jobs`), leaving out the files of ``before``
    (:func:`added_snapshot`, taken when the sweep started) that nobody wrote again."""
    folder = Path(sweep_dir) / MARKER_DIR
    if not folder.is_dir():
        return 0
    before = before or {}
    total = 0
    for path in folder.glob("*.added"):
        identity = _identity(path)
        if identity is None or before.get(path.name, ()) == identity:
            continue
        with contextlib.suppress(FileNotFoundError, ValueError):
            total += int(path.read_text())
    return total


def added_snapshot(sweep_dir: str | Path) -> dict[str, tuple[int, int, int] | None]:
    """The files of :func:`add_jobs` in ``sweep_dir`` as they stand, for :func:`added_jobs`."""
    return _snapshot(Path(sweep_dir) / MARKER_DIR, (".added",))


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 20 s``, ``1 h 05 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class StudyProgress:
    """The progress line of a sweep of ``total`` jobs.

    The time left is the jobs left at the rate jobs have ended since the first ones did (jobs
    that run in parallel finish at that combined rate). The time before the first jobs ended is
    left out of the rate: it holds the start-up (a study's workers import torch and Lightning,
    8-10 s here) and, with groups of members, a whole group's training before its jobs end
    together; counted in, the standard study's first line promised 10 minutes for 2 min 30 s.
    Skipped jobs (completed by an earlier run of the sweep) take no time: they are not part of
    the rate, so a resumed study does not promise minutes for hours of training left. Until
    jobs that were not skipped have ended at two moments, no time left is shown.

        >>> import io
        >>> times = iter([0.0, 8.0, 10.0])  # the start, then each update's time
        >>> progress = StudyProgress(total=10, stream=io.StringIO(), clock=times.__next__)
        >>> progress.update(done=2, failed=0)  # 8 s of start-up, then 2 jobs at once
        >>> progress.line(now=9.0)
        'study: 2/10 jobs ended, 0 failed'
        >>> progress.update(done=4, failed=0)  # 2 jobs in the 2 s since: 1 a second
        >>> progress.line(now=10.0)
        'study: 4/10 jobs ended, 0 failed, about 6 s left'
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        min_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.start = clock()
        self.done = self.failed = self.skipped = self.refused = self.not_run = 0
        #: (time, jobs timed) when jobs that were not skipped first had ended: the rate's start.
        self._first: tuple[float, int] | None = None
        self._last_plain: float | None = None
        self._plain_numbers: tuple[int, ...] | None = None  # those of the last plain line
        self._width = 0

    def line(self, now: float | None = None) -> str:
        """``study: 12/180 jobs ended, 1 failed, about 3 min 20 s left`` (``, 2 refused`` after
        the failures where jobs were refused, ``, 3 not run`` where jobs found a run of other
        settings in their directory: the final line's words, :func:`summary`)."""
        text = f"study: {self.done}/{self.total} jobs ended, {self.failed} failed"
        text += f", {self.refused} refused" if self.refused else ""
        text += f", {self.not_run} not run" if self.not_run else ""
        now = self.clock() if now is None else now
        timed = self.done - self.skipped  # the jobs whose time says something
        if self.done >= self.total:
            return text + f", in {format_duration(now - self.start)}"
        if self._first is not None and timed > self._first[1] and now > self._first[0]:
            rate = (timed - self._first[1]) / (now - self._first[0])
            text += f", about {format_duration((self.total - self.done) / rate)} left"
        return text

    def update(
        self,
        done: int,
        failed: int,
        *,
        skipped: int = 0,
        refused: int = 0,
        not_run: int = 0,
        force: bool = False,
    ) -> None:
        """Show ``done`` jobs ended, ``failed`` of them failed, ``skipped`` of them skipped (or
        not run), ``refused`` of them refused and ``not_run`` of them not run (the line only
        changes when a number does)."""
        numbers = (done, failed, skipped, refused, not_run)
        if numbers == (self.done, self.failed, self.skipped, self.refused, self.not_run) and (
            not force
        ):
            return
        self.done, self.failed, self.skipped, self.refused, self.not_run = numbers
        now = self.clock()
        if self._first is None and done - skipped > 0:
            self._first = (now, done - skipped)
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif self._plain_numbers != numbers and (
            force
            or self._last_plain is None
            or done >= self.total
            or now - self._last_plain >= self.min_interval_s
        ):  # a plain line is not repeated: the last one already has these numbers
            self.stream.write(text + "\n")
            self._last_plain = now
            self._plain_numbers = numbers
        self.stream.flush()

    def finish(self, message: str) -> None:
        """End the line and write the final ``message`` on its own line."""
        self.end_line()
        self.stream.write(message + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        """End a line redrawn in place (on a terminal), so that what follows has its own."""
        if self.tty and self._width:
            self.stream.write("\n")
            self._width = 0
        self.stream.flush()


class StudyWatch:
    """Show the progress of the ``total`` jobs of the sweep in ``sweep_dir`` from a thread
    that counts the jobs' markers (:func:`mark_job`) between :meth:`start` and :meth:`stop`;
    :meth:`stop` writes the final line (``final(progress, counts)``, default :func:`summary`).
    """

    def __init__(
        self,
        sweep_dir: str | Path,
        total: int,
        *,
        stream: TextIO | None = None,
        poll_s: float = 0.5,
        final: Callable[[StudyProgress, dict[str, int]], str] | None = None,
        min_interval_s: float = 10.0,
    ) -> None:
        self.sweep_dir, self.poll_s, self.final = sweep_dir, poll_s, final or summary
        self.progress = StudyProgress(total, stream=stream, min_interval_s=min_interval_s)
        self.base_total = total  # the sweep's jobs; a widened grid adds some (add_jobs)
        # what an earlier sweep into the same directory left is not this sweep's
        self._markers = MarkerCounter(sweep_dir, only_new=True)
        self._added_before = added_snapshot(sweep_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="lossbench-progress", daemon=True)

    def _show(self, *, force: bool = False) -> dict[str, int]:
        counts = self._markers.counts()
        added = added_jobs(self.sweep_dir, before=self._added_before)
        self.progress.total = self.base_total + added
        done, failed = sum(counts.values()), sum(counts[o] for o in FAILED)
        skipped = sum(counts[o] for o in UNTIMED)
        refused, not_run = counts["refused"], counts["exists"]
        self.progress.update(
            done, failed, skipped=skipped, refused=refused, not_run=not_run, force=force
        )
        return counts

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._show()

    def start(self) -> StudyWatch:
        self._thread.start()
        return self

    def stop(self) -> dict[str, int]:
        """Stop polling, write the final line and return the jobs' outcomes (their counts)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        counts = self._show(force=True)
        self.progress.finish(self.final(self.progress, counts))
        return counts

    def halt(self) -> None:
        """Stop polling and end the line at the current counts, without a final line: the
        command stops (Ctrl-C, SIGTERM) and says so on its own line, after this one."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._show(force=True)
        self.progress.end_line()


@contextlib.contextmanager
def watch_study(sweep_dir: str | Path, total: int, **kwargs: Any) -> Iterator[StudyProgress]:
    """:class:`StudyWatch` around a block (the keyword arguments are its own)."""
    watch = StudyWatch(sweep_dir, total, **kwargs).start()
    try:
        yield watch.progress
    finally:
        watch.stop()


def summary(progress: StudyProgress, counts: dict[str, int]) -> str:
    """``study: 180/180 jobs ended (150 completed, 0 skipped, 30 refused, 0 failed)``; jobs
    that failed in an earlier run of the sweep are named where there are any."""
    ended = sum(counts.values())
    shown = [o for o in OUTCOMES if counts[o] or o not in LABELS]
    parts = ", ".join(f"{counts[o]} {LABELS.get(o, o)}" for o in shown)
    unseen = progress.total - ended
    tail = f"; {unseen} reported no end here" if unseen > 0 else ""
    return f"study: {ended}/{progress.total} jobs ended ({parts}){tail}"


def sweep_size(lengths: list[int]) -> int:
    """The number of jobs of a cartesian sweep with ``lengths`` values per parameter."""
    return math.prod(lengths) if lengths else 1


#: The progress lines of this process's sweeps that have started and not ended
#: (:class:`lossbench.hydra_callbacks.StudyProgressLine`, each with an ``end()``).
WATCHING: list[Any] = []


def halt_watches() -> None:
    """Stop the progress lines of this process's sweeps, where the command is stopped (Ctrl-C,
    SIGTERM) before it says so: each shows its last counts and ends, so that the command's
    line is the last one (a line left running went on polling, and wrote its next counts after
    that line, until the process ended)."""
    for line in list(WATCHING):
        line.halt()


def end_cut_short_sweeps() -> list[tuple[str, dict[str, int], float]]:
    """End the progress lines of sweeps whose sweeper raised before Hydra ended them (Hydra
    skips ``on_multirun_end`` then): ``(sweep directory, outcome counts, start time)`` of each
    (:meth:`lossbench.hydra_callbacks.StudyProgressLine.end`)."""
    ended = [line.end() for line in list(WATCHING)]
    return [outcome for outcome in ended if outcome is not None]
