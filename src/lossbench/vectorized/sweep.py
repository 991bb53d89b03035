"""A sweep's jobs as tasks: jobs that ended skipped, groups trained vectorized, the rest alone.

    >>> tasks, skipped = plan_sweep(cfgs, output_dirs)            # doctest: +SKIP
    >>> pool = TaskPool(workers=2)                                 # doctest: +SKIP
    >>> for task in tasks:                                         # doctest: +SKIP
    ...     pool.submit(task, [cfgs[i] for i in task], [output_dirs[i] for i in task])
    >>> values = pool.values()                                     # doctest: +SKIP

This is what ``hydra/launcher=vectorized`` (``hydra_plugins.lossbench_vectorized_launcher``)
does between composing the jobs and handing Hydra their results. A task is a list of job
positions: one job trains alone through :func:`lossbench.training.train`, several train as one
group through :func:`lossbench.vectorized.run.train_group`. Tasks run in worker processes
(``n_jobs``), each with ``cores // workers`` torch threads (at least 1).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import signal
import sys
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.errors import UserInputError
from lossbench.loky_internals import worker_processes
from lossbench.parent_watch import end_with_parent
from lossbench.vectorized.grouping import group_key, why_alone

log = logging.getLogger("lossbench")


def plan_sweep(
    cfgs: Sequence[DictConfig | Mapping[str, Any]],
    output_dirs: Sequence[Path],
    *,
    max_group_size: int | None = None,
    bases: Sequence[Hashable | None] | None = None,
    numbers: Sequence[int] | None = None,
) -> tuple[list[list[int]], dict[int, tuple[float | None, str]]]:
    """Split the jobs into tasks; return (tasks, {job: (value, outcome)} of the jobs that
    already ended; the outcome: :func:`~lossbench.train.skipped_outcome`).

    Jobs whose directory holds a damaged ``metrics.json`` or ``config.yaml`` are refused (in
    the dict with the outcome ``refused``; their files are left as they are). Jobs that ended
    with the same config are skipped (their value is read from their record;
    see :func:`~lossbench.train.ended_with_same_config`); the others are grouped by
    :func:`group_key` (groups of at most ``max_group_size``); a job that :func:`why_alone`
    refuses is a task of its own, except a job of several processes (DDP: ``trainer.strategy``
    other than auto), which is in neither (the launcher runs it through Hydra's own job runner,
    which its processes need).

    ``cfgs`` are resolved configs (``DictConfig`` or plain containers). ``bases``: per job, a
    key shared by jobs whose configs differ only in plain values of
    :data:`~lossbench.vectorized.grouping.VECTORIZED_KEYS` (the launcher's composed bases;
    None: unknown); such jobs share one :func:`why_alone` and :func:`group_key`. ``numbers``:
    the jobs' numbers in the sweep, for the log (default: their positions).
    """
    from lossbench.train import ended_with_same_config, how_it_ended, skipped_outcome, sweep_value

    skipped: dict[int, tuple[float | None, str]] = {}
    groups: dict[str, list[int]] = {}
    tasks: list[list[int]] = []
    decided: dict[Hashable, tuple[str | None, str]] = {}
    for position, (cfg, output_dir) in enumerate(zip(cfgs, output_dirs, strict=True)):
        config = _LazyConfig(cfg)
        if (Path(output_dir) / "metrics.json").is_file():
            try:
                done = ended_with_same_config(config.get(), Path(output_dir))
            except UserInputError as error:  # a damaged metrics.json or config.yaml: kept
                log.error("refused: %s", error)
                skipped[position] = (None, "refused")
                continue
            if done is not None:  # counted in the launcher's line (a study run again: hundreds)
                log.debug("skipped: %s already %s with this config", output_dir, how_it_ended(done))
                skipped[position] = (sweep_value(config.get(), done), skipped_outcome(done))
                continue
        base = None if bases is None else bases[position]
        if base is None or base not in decided:
            verdict = (why_alone(config.get()), group_key(config.get()))
            if base is not None:
                decided[base] = verdict
        else:
            verdict = decided[base]
        reason, key = verdict
        strategy = config.plain()["trainer"]["strategy"]
        number = position if numbers is None else numbers[position]
        if strategy != "auto":
            log.info("job %d runs as a Hydra job: trainer.strategy=%s", number, strategy)
        elif reason is not None:
            log.info("job %d runs alone: %s", number, reason)
            tasks.append([position])
        else:
            groups.setdefault(key, []).append(position)
    size = max_group_size or None
    for members in groups.values():
        for start in range(0, len(members), size or len(members)):
            tasks.append(members[start : start + (size or len(members))])
    tasks.sort(key=lambda task: task[0])
    return tasks, skipped


class _LazyConfig:
    """A resolved job config as a ``DictConfig`` and as a plain container, each made once, on
    first use (making a ``DictConfig`` of a study's config costs ~20 ms)."""

    def __init__(self, cfg: DictConfig | Mapping[str, Any]) -> None:
        self._cfg = cfg if isinstance(cfg, DictConfig) else None
        self._plain = None if isinstance(cfg, DictConfig) else cfg

    def get(self) -> DictConfig:
        if self._cfg is None:
            self._cfg = OmegaConf.create(dict(self._plain))
        return self._cfg

    def plain(self) -> Mapping[str, Any]:
        if self._plain is None:
            self._plain = OmegaConf.to_container(self._cfg, resolve=True)
        return self._plain


def run_task(
    cfgs: Sequence[dict[str, Any]],
    output_dirs: Sequence[str],
    threads: int | None = None,
    marks: Sequence[tuple[str, int]] | None = None,
) -> list[float | None]:
    """Train one task (resolved configs as plain dicts) and return the sweep values; with
    ``marks`` (sweep directory, job number per job), report each job's end to the study's
    progress line."""
    from lossbench.importing import collection_paused

    with collection_paused():  # the first task's imports, in the launching process (one worker)
        import torch

        from lossbench.progress import mark_job, record_outcome
        from lossbench.record import DamagedRunError, ReplacedFilesError, RunExistsError
        from lossbench.sweep_warnings import warnings_of_sweep
        from lossbench.train import quiet_lightning, sweep_value
        from lossbench.training import train
        from lossbench.validation import ConfigError
        from lossbench.vectorized.run import train_group
        from lossbench.worker_deaths import task_label
        from lossbench.worker_records import record_identity
        from lossbench.worker_stops import task_stops

    if threads is not None:
        torch.set_num_threads(max(1, min(threads, torch.get_num_threads())))
    quiet_lightning()
    configs = member_configs(cfgs)
    before = [record_identity(d) for d in output_dirs]

    def trained() -> list[dict[str, Any]]:  # each job's record: one alone, or the group's
        if len(configs) > 1:
            return train_group(configs, [Path(d) for d in output_dirs], resolved=list(cfgs))
        try:
            return [train(configs[0], output_dirs[0], multirun=True)]
        except (ConfigError, RunExistsError, DamagedRunError, ReplacedFilesError) as error:
            log.error("refused: %s", error)
            exists = isinstance(error, RunExistsError)
            return [{"status": "failed", "refused": True, "exists": exists}]

    # in a worker, the launching process's stop (SIGTERM) stops it as Ctrl-C does there; its
    # busy mark says what it trains, and which records it found (a worker's death)
    label = task_label([job for _, job in marks or ()], output_dirs, before)
    sweep_dir = marks[0][0] if marks else None
    # each job's end is reported while the busy mark stands: the launching process, stopping,
    # waits for the workers only while one is marked busy, then kills them
    # (lossbench.worker_stops.ask_workers_to_stop), so a report after it could be lost, and the
    # study's progress line miss a job that ended
    with task_stops(label), warnings_of_sweep(sweep_dir):  # the data's warnings: once
        try:
            records = trained()
        except KeyboardInterrupt:  # stopped: the jobs recorded meanwhile (a group's ended ones)
            _mark_recorded(marks or (), output_dirs, before)
            raise
        for (sweep_dir, job), record in zip(marks or (), records, strict=False):
            mark_job(sweep_dir, job, record_outcome(record))
    if len(configs) == 1:
        return [sweep_value(configs[0], records[0])]
    return [sweep_value(cfg, record) for cfg, record in zip(configs, records, strict=True)]


def _mark_recorded(
    marks: Sequence[tuple[str, int]],
    output_dirs: Sequence[str],
    before: Sequence[tuple[int, int] | None],
) -> None:
    """A task was stopped: report to the study's progress line the end of each job whose
    record it wrote (``before``: each ``metrics.json`` as the task started,
    :func:`lossbench.worker_records.record_identity`): a group's members that had ended
    (:func:`lossbench.vectorized.run.keep_stopped`), as its end would have reported them."""
    from lossbench.progress import mark_job, record_outcome
    from lossbench.worker_records import record_identity

    for (sweep_dir, job), output_dir, earlier in zip(marks, output_dirs, before, strict=False):
        path = Path(output_dir)
        if record_identity(path) in (None, earlier):
            continue
        try:
            record = json.loads((path / "metrics.json").read_text())
            mark_job(sweep_dir, job, record_outcome(record))
        except (OSError, ValueError, AttributeError):  # unreadable: reported by the next run
            continue


#: What a worker's tasks import: a lone job's training and a group's.
_TASK_MODULES = ("lossbench.training", "lossbench.vectorized.module", "lossbench.vectorized.run")

#: The loggers whose level a worker takes from the launching process, besides the root: those
#: of lossbench's code (``hydra.verbose=lossbench`` sets them) and of the launcher.
_OWN_LOGGERS = ("lossbench", "hydra_plugins.lossbench_vectorized_launcher")


def _stream_name(stream: Any) -> str | None:
    """``stdout`` or ``stderr`` for a handler's stream that writes to either, else None."""
    for name in ("stdout", "stderr"):
        if stream is getattr(sys, name) or stream is getattr(sys, f"__{name}__"):
            return name
    try:
        number = stream.fileno()
    except Exception:  # a stream without a file descriptor (a StringIO)
        return None
    return {1: "stdout", 2: "stderr"}.get(number)


def console_logging() -> dict[str, Any]:
    """This process's console logging, to set up again in a worker process (:func:`prepare_worker`
    with :func:`set_console_logging`): the root logger's level, its handlers that write to
    stdout or stderr (not a file: a run's ``train.log``) with each one's level, format and date
    format, and the levels set on lossbench's loggers (:data:`_OWN_LOGGERS`). Plain values: it
    travels to the worker pickled.

        >>> sorted(console_logging())
        ['handlers', 'levels', 'root']
    """
    root = logging.getLogger()
    handlers = []
    for handler in root.handlers:
        if isinstance(handler, logging.FileHandler) or not isinstance(
            handler, logging.StreamHandler
        ):
            continue
        stream = _stream_name(handler.stream)
        if stream is None:
            continue
        formatter = handler.formatter or logging.Formatter()
        style = (  # "%" (Hydra's), "{" or "$", as the formatter was made
            "{"
            if isinstance(formatter._style, logging.StrFormatStyle)
            else "$"
            if isinstance(formatter._style, logging.StringTemplateStyle)
            else "%"
        )
        handlers.append(
            {
                "stream": stream,
                "level": handler.level,
                "format": formatter._fmt,
                "datefmt": formatter.datefmt,
                "style": style,
            }
        )
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and logger.level != logging.NOTSET
        and any(name == own or name.startswith(f"{own}.") for own in _OWN_LOGGERS)
    }
    return {"root": root.level, "handlers": handlers, "levels": levels}


def set_console_logging(console: Mapping[str, Any]) -> None:
    """Log to the console as :func:`console_logging` found it in the launching process: the
    root logger's level and stream handlers (replacing any it has), and lossbench's levels."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(console["root"])
    for spec in console["handlers"]:
        handler = logging.StreamHandler(getattr(sys, spec["stream"]))
        handler.setLevel(spec["level"])
        handler.setFormatter(
            logging.Formatter(spec["format"], spec["datefmt"], style=spec["style"])
        )
        root.addHandler(handler)
    for name, level in console["levels"].items():
        logging.getLogger(name).setLevel(level)


def prepare_worker(
    parent: int | None = None,
    console: Mapping[str, Any] | None = None,
    busy: str | None = None,
) -> None:
    """Start a worker process: log to the console as the launching process does (``console``,
    its :func:`console_logging`: each job's "completed: ..." line, the notices and errors, in
    the same format whatever the number of workers; dropped once the command's reader has
    left: :func:`lossbench.closed_output.drop_output_when_closed`), end it with the process
    ``parent`` that started it (:func:`end_with_parent`), ignore Ctrl-C, keep the memory its
    steps free for the next ones (:func:`lossbench.allocator.keep_freed_memory`), import what
    its tasks use, then freeze the heap (``gc.freeze``).

    Ctrl-C in a terminal reaches the whole process group; the launching process stops the
    workers itself (:meth:`TaskPool.kill`: SIGTERM, which stops the task a worker trains as
    Ctrl-C stops it in the launching process, :func:`lossbench.worker_stops.task_stops`, then
    SIGKILL). A ``KeyboardInterrupt`` from Ctrl-C could reach a worker as it ends, or
    land in a finalizer (``__del__``) and print "Exception ignored in ..." with a traceback
    under the command's one-line message. A launching process that is killed
    (SIGKILL, the out-of-memory killer) stops nothing: its workers end with it
    (:func:`end_with_parent`), else they would train on and write the records of runs that
    its next run is training again.

    The imported libraries (torch, Lightning, torchmetrics, scikit-learn) leave ~460 000
    objects that live as long as the process. Every full garbage collection walks them all,
    ~0.4 s each: the worker's executor (loky, without ``psutil``) collects after each task,
    and Python itself now and then while a group trains, for the standard study's 131 tasks about a
    minute of CPU. Frozen objects are skipped by collections and are never freed, which is
    what a module's objects are anyway. The imports run with collections paused and are frozen
    as they end (:func:`lossbench.importing.collection_paused`: this function took 7.8-8.0
    CPU-seconds against 8.9-10.1 with collections on, on a busy 2-core machine; freezing
    instead of one full collection saves 0.38 s more and keeps the ~13 000 objects the imports
    leave unreachable).

        >>> import gc
        >>> prepare_worker()  # doctest: +SKIP
        >>> gc.get_freeze_count() > 100_000  # doctest: +SKIP
        True
    """
    import gc
    import importlib
    import warnings

    from lossbench.allocator import keep_freed_memory
    from lossbench.closed_output import drop_output_when_closed
    from lossbench.errors import format_warning
    from lossbench.importing import collection_paused
    from lossbench.worker_stops import take_stop_requests

    drop_output_when_closed()  # the command's reader may leave (| head -1): the jobs train on
    if console is not None:  # before the imports: Lightning adds no console handler of its own
        set_console_logging(console)
    if parent is not None:
        end_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    take_stop_requests(busy)  # SIGTERM: the launching process asks its task to stop
    warnings.formatwarning = format_warning  # type: ignore[assignment]  # as the command's
    keep_freed_memory()  # a worker's steps reuse the memory of the last ones
    with collection_paused(freeze=True):
        for name in _TASK_MODULES:
            importlib.import_module(name)
    gc.freeze()  # and what the worker made besides


def member_configs(cfgs: Sequence[Mapping[str, Any]]) -> list[DictConfig]:
    """``[OmegaConf.create(cfg) for cfg in cfgs]`` for the configs of a group, which differ in a
    few values: the first is created, each other is a copy of it with its own values set (a
    copy costs less than half of a creation; a study creates a thousand).

        >>> first, other = {"seed": 0, "opt": {"lr": 0.1}}, {"seed": 1, "opt": {"lr": 0.1}}
        >>> a, b = member_configs([first, other])
        >>> b.seed, b.opt.lr, a.seed
        (1, 0.1, 0)
    """
    configs: list[DictConfig] = []
    for plain in cfgs:
        changes = None if not configs else _changes(cfgs[0], plain)
        if changes is None:  # the first, or another layout: created
            configs.append(OmegaConf.create(dict(plain)))
            continue
        cfg = copy.deepcopy(configs[0])
        for path, value in changes:
            node = cfg
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        configs.append(cfg)
    return configs


def _changes(
    first: Mapping[str, Any], other: Mapping[str, Any], path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]] | None:
    """The values of ``other`` that differ from ``first`` as ``(path, value)``; None where the
    two have other keys (the copy would need more than new values)."""
    if list(first) != list(other):
        return None
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, value in other.items():
        old = first[key]
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            inner = _changes(old, value, (*path, key))
            if inner is None:
                return None
            found += inner
        elif type(old) is not type(value) or old != value:
            found.append(((*path, key), value))
    return found


def _result(future: Any, processes: Mapping[int, Any], busy: Path | None) -> Any:
    """A task's result, or the exception it ended on. A worker process that died (loky's
    ``TerminatedWorkerError``; ``processes``: every worker the pool has had, by pid; ``busy``:
    its folder of busy marks) is told by its exit code
    (:func:`lossbench.worker_deaths.worker_died`): one that SIGTERM ended before it took stop
    requests (as it started: :func:`prepare_worker`) is its stop,
    :class:`~lossbench.interrupts.Terminated`, as a SIGTERM a moment later would have been;
    any other end (SIGKILL from the out-of-memory killer, a crash) stops the study with
    :class:`~lossbench.worker_deaths.WorkerDied`, which names it and the jobs it trained (and
    the pool records the jobs in progress as failed: :meth:`TaskPool.kill`)."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    try:
        return future.result()
    except TerminatedWorkerError as error:
        from lossbench.interrupts import Terminated, training_kept
        from lossbench.worker_deaths import DIED_RUNS_KEPT, WorkerDied, died_message, worker_died

        death = worker_died(error, processes, busy)
        exit_code = death.exit_code
        if exit_code == -signal.SIGTERM.value:
            raise Terminated() from None
        message = died_message(exit_code, death.training, training_kept(DIED_RUNS_KEPT))
        signum = -exit_code if exit_code is not None and exit_code < 0 else None
        raise WorkerDied(message, signum, pid=death.pid, exit_code=exit_code) from None


class TaskPool:
    """Runs tasks as they are handed over: in this process (one worker) or in ``workers``
    worker processes, so that a launcher can go on composing the next jobs while the first
    groups train.

        >>> pool = TaskPool(workers=2)                                    # doctest: +SKIP
        >>> pool.submit([0, 1], [cfg0, cfg1], ["out/0", "out/1"])          # doctest: +SKIP
        >>> pool.values()                                                  # doctest: +SKIP
        {0: 0.31, 1: 0.29}

    Each worker trains with ``threads`` torch threads (default: cores // workers, at least 1)
    and logs to the console as this process did when the pool was made (:func:`console_logging`).
    The worker processes are a loky executor of the pool's own, started with the pool and
    ended by :meth:`close` (or :meth:`kill`), and with this process however it ends
    (:func:`end_with_parent`): not loky's process-wide reusable executor,
    which ``joblib.Parallel`` takes over, and breaks on, when it finds one it did not start
    (a report built in the same process after a study).
    """

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        from lossbench.cpus import cores

        self.workers = max(1, workers)
        self.threads = threads if threads is not None else max(1, cores() // self.workers)
        self._done: dict[int, float | None] = {}
        self._reported: set[int] = set()  # positions that wait() has returned
        self._pending: list[tuple[Sequence[int], Any]] = []
        self._executor = None
        self._busy: Path | None = None
        self._processes: dict[int, Any] = {}  # every worker process the pool has had, by pid
        self._configs: dict[str, Mapping[str, Any]] = {}  # of the tasks handed over, by folder
        self._jobs: dict[str, tuple[str, int]] = {}  # their progress marks, by folder
        self._death: Any = None  # the WorkerDied that stopped the study, once one has
        if self.workers > 1:
            from joblib.externals.loky import ProcessPoolExecutor

            from lossbench.worker_kills import use_own_kills
            from lossbench.worker_stops import busy_folder

            use_own_kills()  # its thread kills the workers without starting pgrep
            # where a worker marks itself busy while it trains a task (kill() waits for those):
            # in the temporary folder, removed by close() and kill(), else by the next pool
            self._busy = busy_folder()
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                initializer=prepare_worker,
                initargs=(os.getpid(), console_logging(), str(self._busy)),
            )

    def submit(
        self,
        positions: Sequence[int],
        cfgs: Sequence[DictConfig | Mapping[str, Any]],
        output_dirs: Sequence[str | Path],
        marks: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        """Train the task of the jobs at ``positions`` (their resolved configs, output
        directories and progress marks); in this process it trains now."""
        plain = [_LazyConfig(c).plain() for c in cfgs]
        dirs = [str(d) for d in output_dirs]
        args = (plain, dirs, self.threads, marks)
        if self._executor is None:
            self._done.update(zip(positions, run_task(*args), strict=True))
        else:
            self._configs.update(zip(dirs, plain, strict=True))  # for a worker's death: kill()
            self._jobs.update(zip(dirs, marks or (), strict=False))
            self._pending.append((positions, self._executor.submit(run_task, *args)))
            self._note_workers()

    def _note_workers(self) -> None:
        """Remember the executor's worker processes (started, or started again, as tasks are
        handed over): loky forgets them as it ends a broken executor, and the one that died
        is told by its exit code (:func:`_result`)."""
        self._processes.update(worker_processes(self._executor))

    @property
    def busy(self) -> bool:
        """Whether a task handed over has not been collected yet."""
        return bool(self._pending)

    def wait(self) -> dict[int, float | None]:
        """The jobs' values that came in since the last call; waits for at least one task
        when some are still training (and none came in)."""
        self._collect()
        new = {i: v for i, v in self._done.items() if i not in self._reported}
        self._reported.update(new)
        return new

    def close(self) -> None:
        """End the worker processes once the tasks handed over have ended."""
        executor, self._executor = self._executor, None
        if executor is not None:
            from lossbench.worker_kills import end_executor

            end_executor(executor, kill=False)
        self._remove_marks()

    def _remove_marks(self) -> None:
        """Remove the folder where the workers marked themselves busy, once they have ended."""
        if self._busy is not None:
            import shutil

            shutil.rmtree(self._busy, ignore_errors=True)
            self._busy = None

    def kill(self) -> None:
        """Stop (an interrupted sweep): the worker processes are asked to stop the tasks they
        train and given a few seconds for it
        (:func:`lossbench.worker_stops.ask_workers_to_stop`: what a stopped task keeps, as in
        this process, see :func:`lossbench.vectorized.run.keep_stopped`), then killed with
        their own child processes. Tasks handed over but not begun are not cancelled (loky's
        thread raised on a cancelled one): one that a worker takes after the stop ends there
        at once, before it trains anything (:func:`lossbench.worker_stops.task_stops`), and the
        others fail as the workers are killed and the executor shuts down; their results are
        not collected. Runs that completed keep their files; the runs of the tasks in
        progress are left without a record, and those of tasks not begun as they were: they
        train again when the sweep is run again. Where a worker died
        (:class:`~lossbench.worker_deaths.WorkerDied`), each job of the tasks in progress,
        its own and those of the workers loky killed after it, is recorded as failed, saying
        what stopped it (:func:`lossbench.worker_records.record_stopped_tasks`), and counted
        on the study's progress line (:func:`lossbench.worker_progress.mark_stopped_tasks`);
        it trains again as well. In this process, nothing runs between tasks: nothing to stop."""
        pending, self._pending = self._pending, []
        executor, self._executor = self._executor, None
        if executor is None:
            return
        from lossbench.interrupts import stops_ignored
        from lossbench.worker_kills import end_executor, kill_workers
        from lossbench.worker_stops import ask_workers_to_stop

        # a second Ctrl-C or SIGTERM while they stop ends the wait: they are killed at once
        ask_workers_to_stop(executor, [future for _, future in pending], busy=self._busy)
        # killed here: a second Ctrl-C (timeout -s INT signals this process, then its group)
        # changes nothing while they are (lossbench.worker_kills); its futures fail, and its
        # threads end before the command says it stopped (end_executor)
        with stops_ignored():
            kill_workers(executor)
            end_executor(executor, kill=True)
            if self._death is not None:  # the busy marks the killed workers left tell
                self._record_stopped()
        self._remove_marks()

    def _record_stopped(self) -> None:
        """Record the jobs of the tasks in progress as failed, once a worker died and the
        workers have ended (:func:`lossbench.worker_records.record_stopped_tasks`), and report
        each one's end to the study's progress line, as its task's end would have
        (:func:`lossbench.worker_progress.mark_stopped_tasks`). What fails here (a folder that
        cannot be written) is logged: the study's stop, and the command's one line, go on."""
        from lossbench.worker_deaths import busy_marks
        from lossbench.worker_progress import mark_stopped_tasks
        from lossbench.worker_records import record_stopped_tasks

        death = self._death
        try:
            marks = busy_marks(self._busy)
            written = record_stopped_tasks(marks, self._configs, death.pid, death.exit_code)
            mark_stopped_tasks(marks, self._jobs, written)
        except Exception as error:  # not to hide the death behind a traceback
            log.error(
                "the jobs in progress could not all be recorded as failed: %s: %s",
                type(error).__name__,
                error,
            )

    def values(self) -> dict[int, float | None]:
        """Wait for every task handed over; each job's value, by position. Tasks are taken
        as they end, in any order: a task that a worker stopped (a SIGTERM sent to that
        worker, :func:`lossbench.worker_stops.task_stops`) raises its stop here as it ends,
        and the study stops as on its own SIGTERM, without waiting for the tasks handed over
        before it; a worker that died (SIGKILL from the out-of-memory killer) raises
        :class:`~lossbench.worker_deaths.WorkerDied` here, and the study stops too."""
        while self._pending:
            self._collect()
        return dict(self._done)

    def _collect(self) -> None:
        """Take the values of the tasks that have ended, waiting for one where none has (a
        task that ended on an exception, a worker's stop included, raises it here)."""
        self._note_workers()
        if self._pending and not any(f.done() for _, f in self._pending):
            from concurrent.futures import FIRST_COMPLETED
            from concurrent.futures import wait as wait_for

            wait_for([f for _, f in self._pending], return_when=FIRST_COMPLETED)
        from lossbench.worker_deaths import WorkerDied

        still = []
        for positions, future in self._pending:
            if future.done():
                try:
                    values = _result(future, self._processes, self._busy)
                except WorkerDied as death:  # kill() records the jobs in progress
                    self._death = death
                    raise
                self._done.update(zip(positions, values, strict=True))
            else:
                still.append((positions, future))
        self._pending = still
