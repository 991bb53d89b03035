"""Hydra's basic sweeper, with a cheaper check of the sweep before any job starts.

The studies (``configs/experiment/``) select it (``override /hydra/sweeper: lossbench``); any
other sweep can with ``hydra/sweeper=lossbench``:

    lossbench-train -m experiment=compare_all                       # checks 22 configs, not 864
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
when its job starts; ``check: all`` restores Hydra's check of every job. With the vectorized
launcher the checked jobs are composed by the launcher (its ``check_jobs``), which keeps the
compositions for the launch: the check then costs nothing the launch would not compose anyway.
Everything else, the cartesian product, batches and job numbering, is Hydra's.

``linked`` adds overrides to the jobs of one swept value: a study that sweeps data sets which
need another model than the rest (the dense data sets train ``model=conv``) says so once,

    hydra:
      sweeper:
        linked:
          data:
            mnist_segmentation: [model=conv]   # every job with data=mnist_segmentation

and those jobs get ``model=conv`` (replacing a ``model=`` override of their own, if any).

``widen`` trains more learning rates where a study's grid was too narrow: for each data set x
setup whose best rate on validation (mean over seeds of the optimized metric, the rule
``lossbench-report`` chooses by) is the smallest or largest of the grid, the next rate beyond
that end is trained for every seed, and so on, at most ``steps`` rates beyond each end
(:class:`lossbench.tuning_grid.GridWidening`); a data set x setup whose runs all failed is tried
at smaller rates, one refused at every rate is not, nor one with a job not run because its
directory holds a run of other settings (:func:`evidence`). A launcher whose ``launch`` takes a
``follow_up`` (the vectorized launcher) widens each data set x setup as soon as its own runs
have ended, while the others train; otherwise (or when job directories are named by job
number, which must not depend on the order in which cells end) the widening runs after the
sweep, round by round. Each cell gets the same rates either way:

    hydra:
      sweeper:
        params:
          optimizer.lr: 0.001,0.003,0.01,0.03
        widen:
          key: optimizer.lr   # null: the grid stays as given
          steps: 3            # 0.001 chosen: 0.0003 is trained; chosen again: 0.0001, then 3e-05

No ``from __future__ import annotations`` here: Hydra loads plugin modules without registering
them in ``sys.modules``, where dataclasses look string annotations up.
"""

import itertools
import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus

from lossbench.hydra_internals import BasicSweeper
from lossbench.override_grammar import override_parser

log = logging.getLogger(__name__)

#: ``hydra.sweeper.check``: which jobs are composed before the sweep starts.
CHECKS = ("values", "all")


@dataclass
class WidenConf:
    key: str | None = None  # the tuned parameter (optimizer.lr); null: the grid stays as given
    steps: int = 2  # at most this many values beyond each end of its grid
    replicates: list[str] = field(default_factory=lambda: ["seed"])  # repeats of one cell


@dataclass
class LossbenchSweeperConf:
    _target_: str = "hydra_plugins.lossbench_sweeper.sweeper.LossbenchSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None
    check: str = "values"  # values | all
    # {parameter: {value: [overrides]}}: overrides added to every job with parameter=value
    linked: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    widen: WidenConf = field(default_factory=WidenConf)
    # {variant: data sets}: what a study's params.data reads, ${hydra.sweeper.study_data.<variant>}
    study_data: dict[str, str] | None = None


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
        widen: Mapping[str, Any] | None = None,
        study_data: Mapping[str, str] | None = None,  # read by params through interpolation
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
        widen = dict(widen or {})
        self.widen_key: str | None = widen.get("key")
        self.widen_steps = widen.get("steps", 2)
        self.replicates = tuple(widen.get("replicates") or ("seed",))

    def sweep(self, arguments: list[str]) -> Any:
        """Hydra's sweep; then, with ``widen.key``, the rounds that widen its grid. A
        ``widen`` that cannot work is refused (exit status 2) before any job starts."""
        from lossbench.errors import UserInputError, refusing

        with refusing():
            steps = self.widen_steps
            if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
                raise UserInputError(
                    f"hydra.sweeper.widen.steps={steps!r} must be a whole number >= 0: how many "
                    "values beyond each end of the grid may be added (0: the grid stays as "
                    "given)."
                )
            if self.widen_key and self.widen_steps:
                self._check_widened(arguments)
        widening = self._widening()
        follow_up = self._follow_up(widening) if widening is not None else None
        launcher = self.launcher
        if follow_up is not None:  # the launcher widens each cell as soon as its runs end
            self.launcher = _WithFollowUp(launcher, follow_up)
        try:
            returns = super().sweep(arguments)
        finally:
            self.launcher = launcher
        if widening is None:
            return returns
        from lossbench.progress import add_jobs

        sweep_dir = str(self.config.hydra.sweep.dir)
        done = [(list(r.overrides), _value(r)) for batch in returns for r in batch]
        while True:  # the cells not widened yet (another launcher: every cell, round by round)
            ended = [(n, o, v) for n, (o, v) in enumerate(done)]
            tried = evidence(ended, sweep_dir, self._cell)
            batch = widening.next_jobs(tried)
            if not batch:
                break
            self._log_widening(batch)
            add_jobs(sweep_dir, f"widen{len(done)}", len(batch))
            results = self.launcher.launch(batch, initial_job_idx=len(done))
            done += [(list(r.overrides), _value(r)) for r in results]
            returns.append(results)
        return returns

    def _widening(self) -> Any:
        """The :class:`~lossbench.tuning_grid.GridWidening` of ``widen``, or None."""
        if not (self.widen_key and self.widen_steps):
            return None
        from lossbench.metric_names import metric_mode
        from lossbench.tuning_grid import GridWidening

        mode = metric_mode(str(self.config.get("optimized_metric", "val/nll")))
        return GridWidening(
            key=self.widen_key, replicates=self.replicates, mode=mode, steps=self.widen_steps
        )

    def _follow_up(self, widening: Any) -> Any:
        """What the launcher calls as jobs end, to widen the cells whose runs are all done;
        None where it cannot: a launcher without follow-ups, a sweep in several batches, or
        job directories named by job number (widening jobs are numbered in the order their
        cells end, so a re-run would look for them elsewhere)."""
        import inspect

        from omegaconf import OmegaConf

        if "follow_up" not in inspect.signature(self.launcher.launch).parameters:
            return None
        subdir = str(OmegaConf.to_container(self.config.hydra.sweep, resolve=False)["subdir"])
        if self.max_batch_size is not None or "hydra.job." in subdir:
            return None
        from lossbench.progress import add_jobs

        sweep_dir = str(self.config.hydra.sweep.dir)
        calls = itertools.count(1)

        def follow_up(ended: list, waiting: list) -> list[list[str]]:
            new = widening.next_jobs(evidence(ended, sweep_dir, self._cell), waiting)
            if new:
                self._log_widening(new)
                add_jobs(sweep_dir, f"widen-early{next(calls)}", len(new))
            return new

        return follow_up

    def _cell(self, overrides: Sequence[str]) -> tuple[str, ...]:
        """A job's cell (data set x setup in a study): its overrides but the widened key and
        the replicates."""
        from lossbench.tuning_grid import cell_of

        return cell_of(overrides, key=str(self.widen_key), replicates=self.replicates)

    def _log_widening(self, batch: Sequence[Sequence[str]]) -> None:
        # The new values are numbers the sweeper computed for a key checked to be swept over
        # numbers (_check_widened): the jobs are not composed again to check them.
        log.info(
            "widening the grid of %s: %d jobs, where the chosen value was at an end of the "
            "grid (at most %d values beyond each end)",
            self.widen_key,
            len(batch),
            self.widen_steps,
        )

    def _check_widened(self, arguments: Sequence[str]) -> None:
        """Refuse a ``widen.key`` that is not swept over at least two positive numbers, as the
        sweep runs it: a key of ``params`` set again on the command line takes the command
        line's value (Hydra's rule), so ``optimizer.lr=0.01`` on a study replaces its grid."""
        params = [f"{k}={v}" for k, v in (self.params or {}).items()]
        parser = override_parser()
        parsed = parser.parse_overrides(params + list(arguments))
        final = {o.key_or_group: o for o in parsed}  # the last override of each key wins
        swept = {key: o for key, o in final.items() if o.is_sweep_override()}
        ranges = [(o.input_line, o) for o in swept.values() if not o.is_discrete_sweep()]
        if ranges:  # interval(...): Hydra's basic sweeper, below, cannot run it either
            from lossbench.errors import UserInputError
            from lossbench.sweep_refusals import not_a_grid

            raise UserInputError(not_a_grid(ranges))
        override = swept.get(self.widen_key)
        values: list[str] = []
        if override is not None and override.is_discrete_sweep():
            values = list(override.sweep_string_iterator())
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            numbers = []
        if len(numbers) < 2 or min(numbers) <= 0:
            from lossbench.errors import UserInputError

            given = ",".join(values) if values else "not swept"
            notes = []
            last = final.get(str(self.widen_key))
            if last is not None and not last.is_sweep_override():
                given = last.get_value_element_as_str()
                notes.append("one value, not swept")
            grid = {o.key_or_group: o for o in parsed[: len(params)]}.get(str(self.widen_key))
            if grid is not None and last is not None and grid is not last:
                notes.append(
                    f"{last.input_line} on the command line replaces the grid of "
                    f"hydra.sweeper.params, {grid.input_line}"
                )
            if notes:
                given += f" ({': '.join(notes)})"
            raise UserInputError(
                f"hydra.sweeper.widen.key={self.widen_key!r}: its grid is {given}, but "
                "widening needs a sweep over at least two positive numbers (e.g. "
                f"{self.widen_key}=0.001,0.003,0.01). Sweep it, or set "
                "hydra.sweeper.widen.key=null to keep the grid as given. Swept here: "
                f"{', '.join(swept) or 'nothing'}."
            )

    def get_job_batch(self) -> list[list[str]]:
        batch = super().get_job_batch()
        if not self.linked:
            return batch
        return [add_linked(job, self.linked) for job in batch]

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        jobs = batch if self.check == "all" else jobs_covering_each_value(batch)
        start = time.perf_counter()
        check = getattr(self.launcher, "check_jobs", None)  # the vectorized launcher's
        if check is None or not check(jobs):
            super().validate_batch_is_legal(jobs)
        log.debug(
            "checked %d of %d job configs in %.2f s",
            len(jobs),
            len(batch),
            time.perf_counter() - start,
        )


#: Outcomes (:func:`lossbench.progress.outcome_of`) of jobs without a value that say nothing
#: about their rate: refused (a setup the task cannot train), skipped (a run of the same
#: config that completed earlier without one), exists (not run: its directory holds a
#: completed or kept run of other settings, which lossbench never overwrites).
NO_EVIDENCE = ("refused", "skipped", "exists")


def evidence(
    jobs: Sequence[tuple[int, Sequence[str], float | None]],
    sweep_dir: str,
    cell: Callable[[Sequence[str]], Hashable] | None = None,
) -> list[tuple[Sequence[str], float | None]]:
    """The jobs (job number, overrides, value) whose value says something about their rate, as
    (overrides, value): a job with a value, or one that failed in training. A job without a
    value whose outcome (:func:`lossbench.progress.outcome_of`) is one of :data:`NO_EVIDENCE`
    is left out.

    With ``cell`` (a job's cell from its overrides: :func:`lossbench.tuning_grid.cell_of`),
    every job of a cell that has a job not run for a run of other settings in its directory
    (``exists``) is left out too, so that cell is not widened: its grid's runs there are not
    all of these settings (an earlier study's with other overrides), so its chosen rate says
    nothing, and widening would only train more of these settings among the other ones (the
    command then exits 2, asking for a new output directory).
    """
    from lossbench.progress import outcome_of

    outcomes = {n: outcome_of(sweep_dir, n) for n, _, value in jobs if value is None}
    kept = [(n, o, v) for n, o, v in jobs if v is not None or outcomes[n] not in NO_EVIDENCE]
    if cell is not None:
        closed = {cell(o) for n, o, _ in jobs if outcomes.get(n) == "exists"}
        kept = [(n, o, v) for n, o, v in kept if cell(o) not in closed]
    return [(o, v) for _, o, v in kept]


class _WithFollowUp:
    """A launcher whose ``launch`` passes ``follow_up`` (see the vectorized launcher)."""

    def __init__(self, launcher: Any, follow_up: Any) -> None:
        self.inner, self.then = launcher, follow_up

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        return self.inner.launch(
            job_overrides, initial_job_idx=initial_job_idx, follow_up=self.then
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _value(result: JobReturn) -> float | None:
    """A job's value (its optimized metric), or None for a job that failed or has none."""
    if result.status != JobStatus.COMPLETED:
        return None
    value = result.return_value
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
