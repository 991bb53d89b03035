"""``hydra/launcher=vectorized``: the jobs of a sweep that differ only in seed, split, learning
rate, weight decay or numeric loss parameters (focal ``gamma``, ``loss.label_smoothing``, ...)
train together as one vectorized run.

    lossbench-train -m hydra/launcher=vectorized seed=0,1,2 optimizer.lr=1e-3,3e-3,1e-2,3e-2
    lossbench-train -m hydra/launcher=vectorized loss=focal loss.gamma=0,1,2,5 seed=0,1,2
    lossbench-train -m experiment=compare_all hydra/launcher=vectorized hydra.launcher.n_jobs=2

The launcher composes the jobs' configs base by base (the jobs that share one composition:
a study's data set x setup), skips the jobs that already ended with the same config, groups
the others (:mod:`lossbench.vectorized.grouping`) and hands each group over to be trained as
one run of K members (:func:`lossbench.vectorized.run.train_group`) before composing the next
base; a job that cannot be grouped trains alone through :func:`lossbench.training.train`.
Groups and lone jobs run in ``n_jobs`` worker processes
(:class:`lossbench.vectorized.sweep.TaskPool`), so the first groups train while the rest are
composed; a DDP job (``trainer.strategy`` other than auto) runs afterwards in the launching
process, as Hydra's basic launcher runs it. Each job then gets Hydra's usual job
directory (``.hydra/``, ``train.log``) and its ``JobReturn``, in the sweep's order, with the
value a run alone returns (the optimized metric, or None for a failed or refused job).

Hydra finds plugins only in its ``hydra_plugins`` namespace, so the class lives here; the work
is done by :mod:`lossbench.vectorized.sweep`. No ``from __future__ import annotations``:
Hydra loads plugin modules without registering them in ``sys.modules``, where dataclasses look
string annotations up.
"""

import contextlib
import copy
import json
import logging
import os
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import InterpolationResolutionError

from lossbench.override_grammar import override_parser

log = logging.getLogger(__name__)

#: ``follow_up(ended, waiting) -> new jobs``: ``ended`` holds (job number, overrides, value)
#: of every job ended so far, ``waiting`` the overrides of the others (see ``launch``).
FollowUp = Callable[[list[tuple[int, list[str], Any]], list[list[str]]], list[list[str]]]


@dataclass
class VectorizedLauncherConf:
    _target_: str = "hydra_plugins.lossbench_vectorized_launcher.launcher.VectorizedLauncher"
    n_jobs: int = 1  # worker processes; 1: every task in the launching process
    max_group_size: int | None = None  # null: a group holds every job it can


ConfigStore.instance().store(
    group="hydra/launcher",
    name="lossbench_vectorized",
    node=VectorizedLauncherConf,
    provider="lossbench",
)


class VectorizedLauncher(Launcher):
    """Groups a sweep's jobs and trains each group as one vectorized run."""

    def __init__(self, n_jobs: int = 1, max_group_size: int | None = None) -> None:
        if not isinstance(n_jobs, int) or n_jobs < 1:
            raise ValueError(
                f"hydra.launcher.n_jobs={n_jobs!r} must be a whole number >= 1 (worker "
                "processes; 1 trains every task in the launching process)."
            )
        if max_group_size is not None and (
            not isinstance(max_group_size, int) or max_group_size < 1
        ):
            raise ValueError(
                f"hydra.launcher.max_group_size={max_group_size!r} must be a whole number >= 1, "
                "or null for groups as large as the sweep allows."
            )
        self.n_jobs, self.max_group_size = n_jobs, max_group_size
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None
        #: Composed configs by the overrides that are not plain vectorizable values.
        self._bases: dict[tuple[str, ...], DictConfig] = {}
        self._light: dict[tuple[tuple[str, ...], tuple[str, ...]], _Base] = {}
        self._parser = override_parser()
        #: Hydra's own composition of a job (the loader's ``load_sweep_config``, set up by
        #: :meth:`setup`).
        self._compose_sweep_config: Callable[[DictConfig, list[str]], Any] | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        self._compose_sweep_config = self._take_sweep_composition(hydra_context.config_loader)
        try:  # built on Hydra's internal config repository: another Hydra may not have it
            from lossbench.config_cache import cache_config_files
        except ImportError:
            return
        # a study composes one config per data set x setup from the same files: read them once
        cache_config_files(hydra_context.config_loader)

    def _take_sweep_composition(self, loader: Any) -> Callable[[DictConfig, list[str]], Any]:
        """Hydra's own ``loader.load_sweep_config``, after routing the loader's calls for this
        sweep's jobs through :meth:`load_sweep_config`.

        A sweeper checks every job before the launch by composing it
        (``Sweeper.validate_batch_is_legal``: Hydra's basic sweeper, Optuna's): ~0.1 s per
        job, 1.2 s of a 12-job sweep that trains in under one. Routed, each job costs a copy
        of its base (~0.01 s), and a job that does not compose that way is composed by Hydra,
        which raises its own error."""
        hydra_compose = getattr(loader.load_sweep_config, "__wrapped__", loader.load_sweep_config)

        def load_sweep_config(master_config: DictConfig, sweep_overrides: list[str]) -> Any:
            if master_config is not self.config:
                return hydra_compose(master_config, sweep_overrides)
            return self.load_sweep_config(sweep_overrides)

        load_sweep_config.__wrapped__ = hydra_compose  # type: ignore[attr-defined]
        with contextlib.suppress(AttributeError, TypeError):  # a loader that keeps its methods
            loader.load_sweep_config = load_sweep_config
        return hydra_compose

    def load_sweep_config(self, overrides: Sequence[str]) -> DictConfig:
        """The composed config of the job with ``overrides``, as Hydra's
        ``load_sweep_config(config, overrides)`` returns it (:meth:`_sweep_config`); a job whose
        values do not apply that way is composed by Hydra, which raises its own error."""
        try:
            return self._sweep_config(overrides)
        except Exception:
            self._compose_sweep_config(self.config, list(overrides))  # raises Hydra's error
            raise

    def check_jobs(self, job_overrides: Sequence[Sequence[str]]) -> bool:
        """Compose ``job_overrides`` as :meth:`launch` will (a sweeper's check before the
        sweep starts), keeping the composed bases for it: the check then costs the launch no
        composition of its own. A job that does not compose this way is composed in full, as
        Hydra's check composes it, so that the error is Hydra's own (``seed=x``: "Error
        merging override seed=x ..."). False (nothing checked) where Hydra composes every
        job itself (a Hydra callback that acts per job): the sweeper then checks them its own
        way."""
        if _job_hooks(self.hydra_context):
            return False
        for overrides in job_overrides:
            try:
                self._light_job(self._parser.parse_overrides(list(overrides)), 0)
            except Exception:
                self._compose_sweep_config(self.config, list(overrides))  # raises Hydra's error
                raise
        return True

    def _sweep_config(self, overrides: Sequence[str]) -> DictConfig:
        """What ``config_loader.load_sweep_config(config, overrides)`` returns, composing once
        per combination of the overrides that are not plain values of
        :data:`~lossbench.vectorized.grouping.VECTORIZED_KEYS`.

        Composing a job re-reads and merges its ~30 config files (~0.1 s); a fair study's 864
        jobs differ from each other's composition only in the seed and learning rate. Hydra
        applies a plain ``key=value`` override after composing, with ``OmegaConf.update(cfg,
        key, value, merge=True)``, and records it in ``hydra.overrides.task`` and
        ``hydra.job.override_dirname``: the same is done here on a copy of the composed base.
        A value for a key the base does not have (``loss.gamma`` with ``loss=cross_entropy``)
        is left to Hydra's composition, which refuses it with its own message.
        """
        parsed = override_parser().parse_overrides(list(overrides))
        values = [o for o in parsed if _plain_value(o)]
        rest = [o.input_line for o in parsed if not _plain_value(o)]
        key = tuple(rest)
        if key not in self._bases:
            self._bases[key] = self._compose_sweep_config(self.config, rest)
        if _absent(self._bases[key], [o.key_or_group for o in values]):
            return self._compose_sweep_config(self.config, list(overrides))
        sweep_config = copy.deepcopy(self._bases[key])
        for override in values:
            OmegaConf.update(sweep_config, override.key_or_group, override.value(), merge=True)
        task = [o for o in parsed if not o.is_hydra_override()]
        dirname = sweep_config.hydra.job.config.override_dirname
        lines = sorted(o.input_line for o in task if o.key_or_group not in dirname.exclude_keys)
        with read_write(sweep_config.hydra), open_dict(sweep_config.hydra):
            sweep_config.hydra.overrides.task = [o.input_line for o in task]
            sweep_config.hydra.job.override_dirname = dirname.item_sep.join(lines).replace(
                "=", dirname.kv_sep
            )
        return sweep_config

    def _compose(self, overrides: Sequence[str], idx: int) -> tuple[DictConfig, DictConfig, Path]:
        """The job's Hydra config, its resolved job config and its output directory, as Hydra's
        launchers compose them (one deep copy per job: for the jobs Hydra itself runs)."""
        sweep_config = self._sweep_config(overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = idx
            sweep_config.hydra.job.num = idx
        HydraConfig.instance().set_config(sweep_config)
        output_dir = Path(
            os.path.abspath(
                os.path.join(
                    str(sweep_config.hydra.sweep.dir), str(sweep_config.hydra.sweep.subdir)
                )
            )
        )
        with read_write(sweep_config.hydra.runtime), open_dict(sweep_config.hydra.runtime):
            sweep_config.hydra.runtime.output_dir = str(output_dir)
        HydraConfig.instance().set_config(sweep_config)
        job: dict[str, Any] = {
            k: v for k, v in OmegaConf.to_container(sweep_config).items() if k != "hydra"
        }
        task_cfg = OmegaConf.create(job)
        return (
            sweep_config,
            OmegaConf.create(OmegaConf.to_container(task_cfg, resolve=True)),
            output_dir,
        )

    def _base(self, rest: tuple[str, ...], keys: tuple[str, ...]) -> "_Base":
        """The base of the jobs with the other overrides ``rest`` that set plain values of
        ``keys``: one per set of keys, as a job's values stay on its base's config (a job
        that sets fewer keys must not see another job's value)."""
        if (rest, keys) not in self._light:
            if rest in self._bases:  # composed for the sweeper's check: a copy is cheaper
                config = copy.deepcopy(self._bases[rest])
            else:
                config = self._compose_sweep_config(self.config, list(rest))
            self._light[rest, keys] = _Base(config)
        return self._light[rest, keys]

    def _light_job(self, parsed: Sequence[Override], idx: int) -> "_Job":
        """The job's resolved config, output directory and ``.hydra/`` files without a copy of
        the whole composed config per job (what :meth:`_compose` and Hydra's ``run_job`` cost:
        ~0.2 s per job, minutes for a study of a thousand jobs): the job's plain values
        (``parsed``: its overrides, parsed) are set on its base's config in place, and only the
        job's part of it is resolved. A value for a key the base does not have (``loss.gamma``
        with ``loss=cross_entropy``) is refused by Hydra's composition, with its own message."""
        from lossbench.interrupts import stops_held

        values = [(o.key_or_group, o.value()) for o in parsed if _plain_value(o)]
        # a Ctrl-C or SIGTERM waits for the job's config to be whole: one that lands inside
        # OmegaConf's assignment of a list leaves its nodes half set, and OmegaConf's cleanup
        # then raises an AttributeError in the interrupt's place (a traceback, not the stop)
        with stops_held():
            base = self._base(_rest(parsed), tuple(sorted({key for key, _ in values})))
            task = [o for o in parsed if not o.is_hydra_override()]
            if _absent(base.config, [key for key, _ in values]):
                lines = [o.input_line for o in parsed]
                self._compose_sweep_config(self.config, lines)
            return base.job(values, [o.input_line for o in task], idx)

    def launch(
        self,
        job_overrides: Sequence[Sequence[str]],
        initial_job_idx: int,
        follow_up: FollowUp | None = None,
    ) -> Sequence[JobReturn]:
        """Compose, plan and hand over the jobs base by base (the jobs that share one
        composition: a study's data set x setup), so that the first groups train while the
        next are composed; then run the jobs Hydra must run itself, and return every job's
        ``JobReturn`` in job-number order.

        ``follow_up`` (lossbench's sweeper passes one to widen a grid): called each time
        tasks end, with ``(job number, overrides, value)`` of every job ended so far and the
        overrides of the jobs not ended; the jobs it returns are launched at once, numbered
        after the others, and returned with them.
        """
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        launch = _Launch(str(self.config.hydra.sweep.dir), initial_job_idx)
        Path(launch.sweep_dir).mkdir(parents=True, exist_ok=True)
        launch.hydra_jobs = _job_hooks(self.hydra_context)  # Hydra's run_job for every job
        from lossbench.interrupts import stop_taken, terminated_as_interrupt

        # Ctrl-C, or SIGTERM to this process: the worker processes are stopped with it (else
        # they would train every task handed over before the sweep ends). So are they where
        # a SIGTERM sent to one worker stopped its task (TaskPool.values): the same stop; and
        # where a worker died (lossbench.worker_deaths.WorkerDied: the out-of-memory killer).
        with terminated_as_interrupt():
            try:
                self._train(launch, job_overrides, follow_up)
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt):
                    stop_taken(error)
                if launch.pool is not None:
                    launch.pool.kill()
                raise
        if launch.pool is not None:
            launch.pool.close()
        runs: list[JobReturn] = []
        for i, overrides in enumerate(launch.overrides):
            # Hydra's basic launcher logs each job as it starts; here every job has ended, and
            # the "Launching ..." lines said how they ran: the list is for hydra.verbose only
            log.debug("\t#%d : %s", initial_job_idx + i, " ".join(filter_overrides(overrides)))
            if i not in launch.composed:
                runs.append(launch.jobs[i].returned(launch.values[i]))
                continue
            if i in launch.taken:  # nothing of it is written: the directory is another job's
                config = launch.composed[i][0]
                value = launch.values.get(i)  # an earlier job's, where it has its config
                runs.append(_returned(overrides, str(config.hydra.job.name), value))
                continue
            # trained above: hand Hydra the value; else a DDP job, run here as the basic launcher
            value = launch.values.get(i)
            task = _returns(value) if i in launch.values else self.task_function
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=task,
                    config=launch.composed[i][0],
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs

    def _train(
        self,
        launch: "_Launch",
        job_overrides: Sequence[Sequence[str]],
        follow_up: FollowUp | None,
    ) -> None:
        """Hand over ``job_overrides`` and the jobs ``follow_up`` adds; wait for every value."""
        initial_job_idx = launch.first_number
        self._add(launch, job_overrides)
        while follow_up is not None and launch.pool is not None:
            launch.values.update(launch.pool.wait())
            _repeat_values(launch)
            ended = [
                (initial_job_idx + i, list(o), launch.values[i])
                for i, o in enumerate(launch.overrides)
                if i in launch.values
            ]
            waiting = [list(o) for i, o in enumerate(launch.overrides) if i not in launch.values]
            new = follow_up(ended, waiting)
            if new:
                self._add(launch, new)
            elif not launch.pool.busy:
                break
        if launch.pool is not None:
            launch.values.update(launch.pool.values())
        _repeat_values(launch)

    def _add(self, launch: "_Launch", job_overrides: Sequence[Sequence[str]]) -> None:
        """Compose, plan and hand over ``job_overrides`` (numbered after ``launch``'s jobs),
        base by base."""
        from lossbench.progress import mark_job
        from lossbench.vectorized.sweep import TaskPool, plan_sweep

        first = len(launch.overrides)
        parsed = [self._parser.parse_overrides(list(o)) for o in job_overrides]
        launch.overrides += [list(o) for o in job_overrides]
        launch.jobs += [None] * len(job_overrides)
        chunks: dict[tuple[str, ...], list[int]] = {}  # one per base, in the sweep's order
        for i, overrides in enumerate(parsed, start=first):
            chunks.setdefault(() if launch.hydra_jobs else _rest(overrides), []).append(i)
        if launch.pool is None and len(chunks) > 1:  # else: known once the base is planned
            workers = min(self.n_jobs, len(chunks))
            launch.pool = TaskPool(workers=workers)
        counts = {"grouped": 0, "groups": 0, "alone": 0, "hydra": 0, "skipped": 0, "damaged": 0}
        taken, repeats = len(launch.taken), len(launch.repeats)
        deferred: list[tuple] = []  # tasks not handed over yet
        for positions in chunks.values():
            for i in positions:
                number = launch.first_number + i
                job = None if launch.hydra_jobs else self._light_job(parsed[i - first], number)
                if job is None or job.plain["trainer"]["strategy"] != "auto":  # Hydra runs it
                    launch.composed[i] = self._compose(launch.overrides[i], number)
                launch.jobs[i] = job
            composed = launch.composed
            jobs = launch.jobs
            positions = _own_directories(launch, positions)
            cfgs = [composed[i][1] if i in composed else jobs[i].plain for i in positions]
            dirs = [composed[i][2] if i in composed else jobs[i].output_dir for i in positions]
            bases = [None if jobs[i] is None else jobs[i].base for i in positions]
            numbers = [launch.first_number + i for i in positions]
            tasks, done = plan_sweep(
                cfgs, dirs, max_group_size=self.max_group_size, bases=bases, numbers=numbers
            )
            for local, (value, outcome) in done.items():  # ended before: not trained again
                launch.values[positions[local]] = value
                mark_job(launch.sweep_dir, launch.first_number + positions[local], outcome)
            damaged = sum(outcome == "refused" for _, outcome in done.values())
            counts["damaged"] += damaged
            ended = {positions[local] for local in done}
            for i in positions:  # a run that ended keeps its files: skipped, or refused later
                if i in composed or i in ended:
                    continue
                if not _ended(jobs[i].output_dir, jobs[i].plain):
                    jobs[i].write_files()
            counts["skipped"] += len(done) - damaged
            counts["grouped"] += sum(len(t) for t in tasks if len(t) > 1)
            counts["groups"] += sum(len(t) > 1 for t in tasks)
            counts["alone"] += sum(len(t) == 1 for t in tasks)
            # in no task and not ended: a job of several processes (DDP), which Hydra runs
            counts["hydra"] += len(positions) - len(done) - sum(len(t) for t in tasks)
            if launch.pool is None:
                workers = max(1, min(self.n_jobs, len(tasks)))
                launch.pool = TaskPool(workers=workers)
            for task in tasks:
                members = [positions[local] for local in task]
                deferred.append(
                    (
                        members,
                        [cfgs[local] for local in task],
                        [dirs[local] for local in task],
                        [(launch.sweep_dir, launch.first_number + i) for i in members],
                    )
                )
            if launch.pool.workers > 1:  # workers train while the next base is composed
                for args in deferred:
                    launch.pool.submit(*args)
                deferred = []
        repeats = len(launch.repeats) - repeats
        not_run = len(launch.taken) - taken - repeats
        log.info(
            "Launching %d jobs: %d in %d vectorized groups, %d alone, %s%d already ended "
            "(skipped)%s%s%s",
            len(job_overrides),
            counts["grouped"],
            counts["groups"],
            counts["alone"],
            f"{counts['hydra']} as Hydra jobs (DDP), " if counts["hydra"] else "",
            counts["skipped"],
            f", {repeats} repeating an earlier job's config (skipped)" if repeats else "",
            f", {not_run} not run (another job's directory)" if not_run else "",
            (
                f", {counts['damaged']} refused (a damaged metrics.json or config.yaml, named "
                "above)"
                if counts["damaged"]
                else ""
            ),
        )
        for args in deferred:  # in this process: trained once every job is planned
            launch.pool.submit(*args)


def _ended(output_dir: Path, config: dict) -> bool:
    """Whether ``output_dir`` records a run that ended (:func:`lossbench.record.ended`: it
    completed, or a failure a sweep keeps), which its job's training (of the resolved
    ``config``) refuses to overwrite (:func:`lossbench.record.refuse_completed`): its
    ``.hydra/`` files stay the record of that run. A debug run's record protects nothing
    (:func:`lossbench.record.protected`): its job trains over it. Nor does the run of a lower
    ``trainer.max_epochs`` that the job sets aside to train it again under its raised cap
    (:func:`lossbench.run_identity.capped_run`): the files become the new run's, as under
    Hydra's basic launcher."""
    from lossbench.record import protected, read_record
    from lossbench.run_identity import capped_run

    try:
        record = read_record(output_dir)
    except (OSError, ValueError):  # unreadable: the job's training says so
        return False
    if record is None or not protected(record, kept_failures=True):
        return False
    try:
        return capped_run(output_dir, config) is None
    except (OSError, ValueError):  # a damaged config.yaml (DamagedRunError): the job is refused
        return True


def _own_directories(launch: "_Launch", positions: list[int]) -> list[int]:
    """``positions`` without the jobs whose directory an earlier job of the launch has, none of
    which is trained and nothing of which is written into the directory, so that the first
    job's run stays whole. A job with the first job's config (``seed=0,0``) is skipped (as
    under the basic launcher, where it finds the first job's run of its config there): its
    result is the first job's run. Any other (a ``hydra.sweep.subdir`` that leaves out a swept
    key) is not run (outcome ``exists``, as under the basic launcher, where its training finds
    the first job's completed run there): the command then exits 2
    (:func:`lossbench.progress.not_run_message`)."""
    from lossbench.progress import mark_job
    from lossbench.sweep_directories import shared_directory

    own = []
    for i in positions:
        job = launch.jobs[i]
        output_dir = str(launch.composed[i][2] if i in launch.composed else job.output_dir)
        number = launch.first_number + i
        first = launch.directories.setdefault(output_dir, number)
        if first == number:
            own.append(i)
            continue
        position = first - launch.first_number
        earlier, overrides = launch.overrides[position], launch.overrides[i]
        launch.values[i] = None
        launch.taken.add(i)
        if _job_config(launch, i) == _job_config(launch, position):
            log.info(
                "skipped: job %d (%s) is job %d (%s) again: the same config, in the same "
                "directory %s, so its result is job %d's run (a sweep trains each config once, "
                "as it skips a job whose run ended with this config).",
                number,
                " ".join(overrides),
                first,
                " ".join(earlier),
                output_dir,
                first,
            )
            launch.repeats[i] = position
            mark_job(launch.sweep_dir, number, "skipped")
            continue
        refusal = shared_directory(
            number, output_dir, first, _subdir(launch, i), earlier, overrides
        )
        log.error("refused: %s", refusal)
        mark_job(launch.sweep_dir, number, "exists")
    return own


def _job_config(launch: "_Launch", i: int) -> dict:
    """The resolved job config (without ``hydra``) of job ``i``, as a plain container."""
    if i in launch.composed:
        return OmegaConf.to_container(launch.composed[i][1])
    return launch.jobs[i].plain


def _repeat_values(launch: "_Launch") -> None:
    """Give each job skipped as an earlier job's config again that job's value, once it has
    one."""
    for i, earlier in launch.repeats.items():
        launch.values[i] = launch.values.get(earlier)


def _subdir(launch: "_Launch", i: int) -> str:
    """The unresolved ``hydra.sweep.subdir`` of job ``i``, for a message."""
    if i in launch.composed:
        return str(OmegaConf.to_container(launch.composed[i][0].hydra.sweep)["subdir"])
    return str(launch.jobs[i].files["hydra.yaml"]["hydra"]["sweep"]["subdir"])


@dataclass
class _Launch:
    """The jobs of one ``launch`` call, by position (job number - ``first_number``)."""

    sweep_dir: str
    first_number: int
    hydra_jobs: bool = False
    overrides: list = field(default_factory=list)
    jobs: list = field(default_factory=list)  # _Job, or None where Hydra composes the job
    composed: dict = field(default_factory=dict)  # position -> (hydra config, job config, dir)
    values: dict = field(default_factory=dict)  # position -> value, for the jobs ended
    pool: Any = None  # the TaskPool, made with the first tasks
    directories: dict = field(default_factory=dict)  # output dir -> the job number training there
    taken: set = field(default_factory=set)  # positions not run: an earlier job's directory
    repeats: dict = field(default_factory=dict)  # position -> the earlier one of the same config


class _Base:
    """A composed sweep config that the jobs differing only in plain vectorizable values share.

    Each job sets its values on :attr:`config` (and on :attr:`task`, the part without
    ``hydra``) in place, reads its output directory from ``hydra.sweep`` and resolves
    :attr:`task` alone. A job config that reads the Hydra config (``${hydra:...}``) gets
    Hydra's runtime config set per job, as Hydra does.
    """

    def __init__(self, config: DictConfig) -> None:
        self.config = config
        self.task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
        #: The unresolved job config and its Hydra config, for ``.hydra/`` (plain containers).
        self.task_plain = OmegaConf.to_container(self.task, enum_to_str=True)
        self.hydra_plain = OmegaConf.to_container(config.hydra, enum_to_str=True)
        text = json.dumps(self.task_plain, default=str)
        #: ``paths.run_dir: ${run_dir:}`` (Hydra's output directory) is set per job; any other
        #: interpolation of the Hydra config resolves with Hydra's config set per job.
        own = _raw(self.task, "paths.run_dir") == "${run_dir:}"
        self.run_dir_key = "paths.run_dir" if own else None
        self.reads_hydra = "${hydra:" in text or text.count("${run_dir:") > own
        #: The interpolations a job's values can change (``data.split_seed: ${seed}``, the
        #: run directory's): resolved per job; every other value is resolved once, with the
        #: first job (:attr:`resolved`).
        from lossbench.vectorized.grouping import VECTORIZED_KEYS

        changing = {*VECTORIZED_KEYS, "paths.run_dir"}
        leaves = _interpolations(self.task_plain)
        self.dynamic = _dynamic_leaves(leaves, changing)
        self.resolved: dict | None = None
        #: Whether the jobs' values reach only vectorizable keys, so that the jobs can share
        #: one grouping verdict (:func:`~lossbench.vectorized.sweep.plan_sweep`'s ``bases``).
        #: ``trainer.max_epochs: ${seed}`` makes each job's verdict its own; the run
        #: directory, set per job, never tells groups apart.
        leaves.pop("paths.run_dir", None)
        reached = _dynamic_leaves(leaves, set(VECTORIZED_KEYS))
        self.shares_verdict = reached is not None and all(
            any(_related(path, key) for key in VECTORIZED_KEYS) for path in reached
        )

    def job(self, values: list[tuple[str, Any]], task_lines: list[str], idx: int) -> "_Job":
        """The job of ``values`` (its plain vectorizable overrides), ``task_lines`` (its
        overrides of the job config, as given) and number ``idx``."""
        config = self.config
        for key, value in values:
            OmegaConf.update(config, key, value, merge=True)
            OmegaConf.update(self.task, key, value, merge=True)
        dirname = config.hydra.job.config.override_dirname
        kept = sorted(
            line
            for line in task_lines
            if line.split("=", 1)[0].lstrip("+~") not in dirname.exclude_keys
        )
        override_dirname = dirname.item_sep.join(kept).replace("=", dirname.kv_sep)
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.task = list(task_lines)
            config.hydra.job.override_dirname = override_dirname
            config.hydra.job.id = idx
            config.hydra.job.num = idx
        sweep = config.hydra.sweep
        output_dir = Path(os.path.abspath(os.path.join(str(sweep.dir), str(sweep.subdir))))
        with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
            config.hydra.runtime.output_dir = str(output_dir)
        if self.reads_hydra:
            HydraConfig.instance().set_config(config)
        if self.run_dir_key is not None:
            OmegaConf.update(self.task, self.run_dir_key, str(output_dir), merge=True)
        try:
            plain = self._resolve([key for key, _ in values])
        except InterpolationResolutionError as error:  # seed=${nosuch}: refused, before any job
            from lossbench.interpolations import unresolved_error

            raise unresolved_error(error, self.task, task_lines) from None
        finally:
            if self.run_dir_key is not None:
                OmegaConf.update(self.task, self.run_dir_key, "${run_dir:}", merge=True)
        task_plain = copy.deepcopy(self.task_plain)
        for key, given in values:  # as the config's schema converted it
            if isinstance(given, str) and "${" in given:  # as Hydra keeps it: unresolved
                _set(task_plain, key, given)
                continue
            value = OmegaConf.select(self.task, key)
            if isinstance(value, DictConfig | ListConfig):  # loss.weight=[1,2,3]
                value = OmegaConf.to_container(value, enum_to_str=True)
            _set(task_plain, key, value)
        hydra_plain = copy.deepcopy(self.hydra_plain)
        hydra_plain["overrides"]["task"] = list(task_lines)
        job = config.hydra.job  # id and num as Hydra's schema typed them
        hydra_plain["job"].update(override_dirname=override_dirname, id=job.id, num=job.num)
        hydra_plain["runtime"]["output_dir"] = str(output_dir)
        from lossbench.vectorized.grouping import kept_apart

        return _Job(
            # jobs of one base share their grouping, unless a loss value keeps them apart
            base=(id(self), kept_apart(plain)) if self.shares_verdict else None,
            plain=plain,
            output_dir=output_dir,
            overrides=list(task_lines),
            files={
                "config.yaml": task_plain,
                "hydra.yaml": {"hydra": hydra_plain},
                "overrides.yaml": list(task_lines),
            },
            subdir=config.hydra.output_subdir,
            task_name=str(config.hydra.job.name),
        )

    def _resolve(self, keys: list[str]) -> dict:
        """The job config resolved: in full for the first job (or where the Hydra config is
        read), else the first job's values with ``keys`` and :attr:`dynamic` resolved anew."""
        if self.resolved is None or self.reads_hydra or self.dynamic is None:
            plain = OmegaConf.to_container(self.task, resolve=True)
            self.resolved = copy.deepcopy(plain)
            return plain
        plain = copy.deepcopy(self.resolved)
        for key in (*keys, *self.dynamic):
            value = OmegaConf.select(self.task, key)
            if isinstance(value, DictConfig | ListConfig):
                value = OmegaConf.to_container(value, resolve=True)
            _set(plain, key, value)
        return plain


def _interpolations(container: Any, prefix: str = "") -> dict[str, str]:
    """The leaves of an unresolved container that hold an interpolation: ``{path: text}``."""
    found: dict[str, str] = {}
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, dict | list):
            found |= _interpolations(value, f"{path}.")
        elif isinstance(value, str) and "${" in value:
            found[path] = value
    return found


def _dynamic_leaves(leaves: dict[str, str], changing: set[str]) -> list[str] | None:
    """The interpolated leaves whose value can depend on the ``changing`` keys, directly or
    through other interpolations; None where that cannot be read off the text (a relative
    reference, a list element: the job is then resolved in full). A resolver call counts as
    depending on everything (it may read anything)."""
    if any("${." in text for text in leaves.values()) or any(
        part.isdigit() for path in leaves for part in path.split(".")
    ):
        return None
    references = {path: _REFERENCE.findall(text) for path, text in leaves.items()}
    dynamic = {path for path, text in leaves.items() if _RESOLVER.search(text)}
    changed = True
    while changed:
        changed = False
        for path, refs in references.items():
            if path in dynamic:
                continue
            targets = changing | dynamic
            if any(_related(ref, target) for ref in refs for target in targets):
                dynamic.add(path)
                changed = True
    return sorted(dynamic)


def _related(a: str, b: str) -> bool:
    """Whether config paths ``a`` and ``b`` are one, or one holds the other."""
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


#: A node reference inside an interpolation: ``${data.name}``.
_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w.\-]*)\s*\}")
#: A resolver call: ``${now:%H}``, ``${run_dir:}``.
_RESOLVER = re.compile(r"\$\{\s*[A-Za-z_][\w.\-]*\s*:")


@dataclass
class _Job:
    """One job of the light path: its resolved config and what Hydra would have written."""

    base: Hashable
    plain: dict
    output_dir: Path
    overrides: list
    files: dict
    subdir: Any
    task_name: str
    _cfg: Any = None

    @property
    def cfg(self) -> DictConfig:
        if self._cfg is None:
            self._cfg = OmegaConf.create(self.plain)
        return self._cfg

    def write_files(self) -> None:
        """``.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml`` (what Hydra's
        ``run_job`` writes) and the job's empty ``train.log``."""
        import yaml

        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "train.log").touch()
        if self.subdir is None:
            return
        folder = self.output_dir / str(self.subdir)
        folder.mkdir(exist_ok=True)
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        for name, content in self.files.items():
            text = yaml.dump(
                content,
                Dumper=dumper,
                sort_keys=False,
                default_flow_style=False,
                allow_unicode=True,
            )
            (folder / name).write_text(text, encoding="utf-8")

    def returned(self, value: Any) -> JobReturn:
        """The job's ``JobReturn``, as Hydra's ``run_job`` hands it to the sweeper."""
        return _returned(self.overrides, self.task_name, value)


def _returned(overrides: list, task_name: str, value: Any) -> JobReturn:
    """A job's ``JobReturn`` with ``value``, as Hydra's ``run_job`` hands it to the sweeper."""
    ret = JobReturn(overrides=overrides, working_dir=os.getcwd(), task_name=task_name)
    ret.return_value = value
    ret.status = JobStatus.COMPLETED
    return ret


def _raw(cfg: DictConfig, dotted: str) -> Any:
    """The unresolved value at ``dotted`` (None where there is none)."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return None
        node = node._get_node(part)
    return node._value() if hasattr(node, "_value") else None


def _set(container: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        container = container.setdefault(part, {})
    container[leaf] = value


def _job_hooks(hydra_context: HydraContext) -> bool:
    """Whether a Hydra callback acts per job (``on_job_start`` / ``on_job_end``): it then gets
    every job's full config through Hydra's own ``run_job``."""
    from hydra.experimental.callback import Callback

    callbacks = getattr(hydra_context.callbacks, "callbacks", [])
    return any(
        type(cb).on_job_start is not Callback.on_job_start
        or type(cb).on_job_end is not Callback.on_job_end
        for cb in callbacks
    )


def _rest(parsed: Sequence[Override]) -> tuple[str, ...]:
    """The overrides that are not plain vectorizable values: jobs with the same rest share
    one composition (their base)."""
    return tuple(o.input_line for o in parsed if not _plain_value(o))


def _absent(config: DictConfig, keys: Sequence[str]) -> bool:
    """Whether ``config`` lacks one of the dotted ``keys``."""
    return any(OmegaConf.select(config, key, default=_ABSENT) is _ABSENT for key in keys)


_ABSENT = object()


def _plain_value(override: Override) -> bool:
    """A ``key=value`` override of a vectorizable key (no group, package, +, ++ or ~) whose
    value calls no resolver. One that calls a resolver (``seed=${hydra:job.num}``: each job's
    Hydra config) is composed into its base, as its other overrides are, so that the base
    sets each job's Hydra config before resolving it (:attr:`_Base.reads_hydra`)."""
    from lossbench.vectorized.grouping import VECTORIZED_KEYS

    return (
        override.key_or_group in VECTORIZED_KEYS
        and override.package is None
        and not (override.is_delete() or override.is_add() or override.is_force_add())
        and not override.is_sweep_override()
        and not _RESOLVER.search(str(override.value()))
    )


def _returns(value: Any) -> TaskFunction:
    """A task function that returns ``value``: the result of a job trained already."""

    def task(_cfg: DictConfig) -> Any:
        return value

    return task
