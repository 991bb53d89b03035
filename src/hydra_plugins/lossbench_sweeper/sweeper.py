"""Hydra's basic sweeper, with a cheaper check of the sweep before any job starts.

The studies (``configs/experiment/``) select it (``override /hydra/sweeper: lossbench``); any
other sweep can with ``hydra/sweeper=lossbench``:

    lossbench-train -m experiment=compare_all                       # checks 17 configs, not 180
    lossbench-train -m experiment=compare_all hydra.sweeper.check=all   # Hydra's own check
    lossbench-train -m hydra/sweeper=lossbench data=wine,digits loss=cross_entropy,nll seed=0,1,2

Hydra finds plugins only in its ``hydra_plugins`` namespace, so the class lives in
``hydra_plugins.lossbench_sweeper`` (shipped with lossbench).

Before launching, Hydra's ``BasicSweeper`` composes the config of every job once to catch
errors (a misspelt option, a value of the wrong type), and the launcher then composes each
again: about 0.12 s per job here, a fifth of a whole small run. With ``check: values`` (the
default) the sweeper composes one job per value of each swept parameter instead: every option
and value on the command line is still checked before anything runs, in 1 + sum(k_i - 1)
compositions instead of prod(k_i). A combination that composes only on its own would then fail
when its job starts; ``check: all`` restores Hydra's check of every job. Everything else, the
cartesian product, batches and job numbering, is Hydra's.

``linked`` adds overrides to the jobs of one swept value: a study that sweeps data sets which
need another model than the rest (the dense data sets train ``model=conv``) says so once,

    hydra:
      sweeper:
        linked:
          data:
            mnist_segmentation: [model=conv]   # every job with data=mnist_segmentation

and those jobs get ``model=conv`` (replacing a ``model=`` override of their own, if any).

No ``from __future__ import annotations`` here: Hydra loads plugin modules without registering
them in ``sys.modules``, where dataclasses look string annotations up.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore

log = logging.getLogger(__name__)

#: ``hydra.sweeper.check``: which jobs are composed before the sweep starts.
CHECKS = ("values", "all")


@dataclass
class LossbenchSweeperConf:
    _target_: str = "hydra_plugins.lossbench_sweeper.sweeper.LossbenchSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None
    check: str = "values"  # values | all
    # {parameter: {value: [overrides]}}: overrides added to every job with parameter=value
    linked: dict[str, dict[str, list[str]]] | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="lossbench", node=LossbenchSweeperConf, provider="lossbench"
)


def jobs_covering_each_value(batch: Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """The jobs of ``batch`` that together contain every override of it at least once.

        >>> batch = [[f"a={a}", f"b={b}"] for a in (1, 2, 3) for b in (1, 2)]
        >>> jobs_covering_each_value(batch)
        [['a=1', 'b=1'], ['a=1', 'b=2'], ['a=2', 'b=1'], ['a=3', 'b=1']]

    For a cartesian product of parameters with k_i values each, that is 1 + sum(k_i - 1) jobs.
    """
    seen: set[str] = set()
    chosen = []
    for job in batch:
        if not seen.issuperset(job):
            chosen.append(job)
            seen.update(job)
    return chosen


def add_linked(job: Sequence[str], linked: Mapping[str, Mapping[str, Sequence[str]]]) -> list[str]:
    """``job``'s overrides with those ``linked`` to its values (replacing ones of the same key).

    >>> add_linked(["data=mnist_ink", "seed=0"], {"data": {"mnist_ink": ["model=conv"]}})
    ['data=mnist_ink', 'seed=0', 'model=conv']
    >>> add_linked(["data=iris", "model=mlp"], {"data": {"mnist_ink": ["model=conv"]}})
    ['data=iris', 'model=mlp']
    """
    extra: list[str] = []
    for override in job:
        key, _, value = override.partition("=")
        extra += list((linked.get(key.lstrip("+~")) or {}).get(value) or ())
    if not extra:
        return list(job)
    keys = {e.partition("=")[0].lstrip("+~") for e in extra}
    kept = [o for o in job if o.partition("=")[0].lstrip("+~") not in keys]
    return kept + extra


class LossbenchSweeper(BasicSweeper):
    """``BasicSweeper`` whose pre-launch check composes one job per swept value (``check``)."""

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        check: str = "values",
        linked: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        if check not in CHECKS:
            raise ValueError(
                f"hydra.sweeper.check={check!r} is not known. Valid: {', '.join(CHECKS)} "
                "(values: compose one job per value of each swept parameter before starting; "
                "all: compose every job, Hydra's own check)."
            )
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.check = check
        self.linked = {k: dict(v or {}) for k, v in (linked or {}).items()}

    def get_job_batch(self) -> list[list[str]]:
        batch = super().get_job_batch()
        if not self.linked:
            return batch
        return [add_linked(job, self.linked) for job in batch]

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        jobs = batch if self.check == "all" else jobs_covering_each_value(batch)
        start = time.perf_counter()
        super().validate_batch_is_legal(jobs)
        log.debug(
            "checked %d of %d job configs in %.2f s",
            len(jobs),
            len(batch),
            time.perf_counter() - start,
        )
