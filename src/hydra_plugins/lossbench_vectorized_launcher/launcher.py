"""``hydra/launcher=vectorized``: the jobs of a sweep that differ only in seed, split, learning
rate or weight decay train together as one vectorized run.

    lossbench-train -m hydra/launcher=vectorized seed=0,1,2 optimizer.lr=1e-3,3e-3,1e-2,3e-2
    lossbench-train -m experiment=compare_all hydra/launcher=vectorized hydra.launcher.n_jobs=2

The launcher composes every job's config, skips the jobs that already completed with the same
config, groups the others (:mod:`lossbench.vectorized.grouping`) and trains each group as one
run of K members (:func:`lossbench.vectorized.run.train_group`); a job that cannot be grouped
trains alone through :func:`lossbench.train.train`. Groups and lone jobs run in ``n_jobs``
worker processes; a DDP job (``trainer.strategy`` other than auto) runs afterwards in the
launching process, as Hydra's basic launcher runs it. Each job then gets Hydra's usual job
directory (``.hydra/``, ``train.log``) and its ``JobReturn``, in the sweep's order, with the
value a run alone returns (the optimized metric, or None for a failed or refused job).

Hydra finds plugins only in its ``hydra_plugins`` namespace, so the class lives here; the work
is done by :mod:`lossbench.vectorized.sweep`. No ``from __future__ import annotations``:
Hydra loads plugin modules without registering them in ``sys.modules``, where dataclasses look
string annotations up.
"""

import copy
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)


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

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def _sweep_config(self, overrides: Sequence[str]) -> DictConfig:
        """What ``config_loader.load_sweep_config(config, overrides)`` returns, composing once
        per combination of the overrides that are not plain values of
        :data:`~lossbench.vectorized.grouping.VECTORIZED_KEYS`.

        Composing a job re-reads and merges its ~30 config files (~0.1 s); a fair study's 864
        jobs differ from each other's composition only in the seed and learning rate. Hydra
        applies a plain ``key=value`` override after composing, with ``OmegaConf.update(cfg,
        key, value, merge=True)``, and records it in ``hydra.overrides.task`` and
        ``hydra.job.override_dirname``: the same is done here on a copy of the composed base.
        """
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        values = [o for o in parsed if _plain_value(o)]
        rest = [o.input_line for o in parsed if not _plain_value(o)]
        key = tuple(rest)
        if key not in self._bases:
            self._bases[key] = self.hydra_context.config_loader.load_sweep_config(self.config, rest)
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
        """The job's Hydra config, its resolved job config and its output directory."""
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

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from lossbench.vectorized.sweep import plan_sweep, run_tasks

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        composed = [
            self._compose(overrides, initial_job_idx + i)
            for i, overrides in enumerate(job_overrides)
        ]
        cfgs = [cfg for _, cfg, _ in composed]
        dirs = [output_dir for _, _, output_dir in composed]
        tasks, values = plan_sweep(cfgs, dirs, max_group_size=self.max_group_size)
        grouped = sum(len(t) for t in tasks if len(t) > 1)
        log.info(
            "Launching %d jobs: %d in %d vectorized groups, %d alone, %d already completed",
            len(job_overrides),
            grouped,
            sum(len(t) > 1 for t in tasks),
            len(job_overrides) - grouped - len(values),
            len(values),
        )
        from lossbench.progress import mark_job

        sweep_dir = str(self.config.hydra.sweep.dir)
        marks = [(sweep_dir, initial_job_idx + i) for i in range(len(job_overrides))]
        for i in values:  # already completed: the progress line counts them as skipped
            mark_job(sweep_dir, initial_job_idx + i, "skipped")
        values.update(run_tasks(tasks, cfgs, dirs, n_jobs=self.n_jobs, marks=marks))
        runs: list[JobReturn] = []
        for i, (overrides, (sweep_config, _, _)) in enumerate(
            zip(job_overrides, composed, strict=True)
        ):
            log.info("\t#%d : %s", initial_job_idx + i, " ".join(filter_overrides(overrides)))
            # trained above: hand Hydra the value; else a DDP job, run here as the basic launcher
            task = _returns(values[i]) if i in values else self.task_function
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=task,
                    config=sweep_config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs


def _plain_value(override: Override) -> bool:
    """A ``key=value`` override of a vectorizable key (no group, package, +, ++ or ~)."""
    from lossbench.vectorized.grouping import VECTORIZED_KEYS

    return (
        override.key_or_group in VECTORIZED_KEYS
        and override.package is None
        and not (override.is_delete() or override.is_add() or override.is_force_add())
        and not override.is_sweep_override()
    )


def _returns(value: Any) -> TaskFunction:
    """A task function that returns ``value``: the result of a job trained already."""

    def task(_cfg: DictConfig) -> Any:
        return value

    return task
