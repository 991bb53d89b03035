"""A study's learning-rate grid, widened where its chosen rate lies at an edge.

A fair study tunes every setup over the same grid of learning rates and chooses, per data set
and setup (a *cell*), the rate whose runs have the best mean validation value over seeds
(:func:`rate_key`; ``lossbench-report`` chooses with the same rule). A rate chosen at either end
of the grid says that the best rate may lie beyond it: the setup would then be judged at a rate
that is not its best. lossbench's sweeper (``hydra.sweeper.widen``) therefore trains, after the
grid, the next rate beyond that end for every seed of such a cell, and repeats, at most
``steps`` rates beyond each end:

    >>> jobs = [
    ...     (["data=wine", "optimizer.lr=0.001", "seed=0"], 0.20),
    ...     (["data=wine", "optimizer.lr=0.001", "seed=1"], 0.22),
    ...     (["data=wine", "optimizer.lr=0.003", "seed=0"], 0.30),
    ...     (["data=wine", "optimizer.lr=0.003", "seed=1"], 0.31),
    ... ]
    >>> extension_jobs(jobs, key="optimizer.lr", replicates=("seed",), mode="min")
    [['data=wine', 'optimizer.lr=0.0003', 'seed=0'], ['data=wine', 'optimizer.lr=0.0003', 'seed=1']]

The next rate continues the grid's spacing at that end and is rounded to a round number
(1, 2, 3 or 5 times a power of ten) when one lies within a fifth of that step:
:func:`next_rate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

#: Round numbers per decade that a rate beyond the grid is rounded to.
ROUND = (1.0, 2.0, 3.0, 5.0)
#: How far (a fraction of the grid's step, in log10) rounding may move a rate.
ROUNDING_TOLERANCE = 0.2
#: Mean validation values closer than this (relative to their magnitude) are equal: metrics
#: are computed in float32 (about 7 digits), so a mean accuracy that differs in the last bits
#: is the same accuracy. ``lossbench.report.stats.ZERO_SPREAD`` is this value.
FLOAT32_TIE = 1e-6


def tie_tolerance(*values: float) -> float:
    """How far apart values of one comparison may lie and still be equal: :data:`FLOAT32_TIE`
    relative to the largest finite magnitude among ``values`` (0 where none is finite).

    Relative to the values themselves, not to at least 1: an NLL near zero (a split fitted
    almost perfectly) is computed in float64, and 2.8e-07 is not 5.6e-07.

        >>> tie_tolerance(0.5, -0.25)
        5e-07
        >>> tie_tolerance(2.8e-07, 5.6e-07) < 5.6e-07 - 2.8e-07
        True
        >>> tie_tolerance(float("inf"), 2.0)
        2e-06
    """
    finite = [abs(v) for v in values if math.isfinite(v)]
    return FLOAT32_TIE * max(finite) if finite else 0.0


def rate_key(values: Iterable[float | None], mode: str) -> tuple[int, float]:
    """Sort key of one learning rate from its runs' validation values (None or NaN: a run that
    failed or has no value): (runs without a value, mean of the others in the better-first
    direction). The rate with the smallest key is chosen; a rate with failures only when every
    rate has them.

        >>> rate_key([0.2, 0.4], "min"), rate_key([0.2, None], "min"), rate_key([0.9], "max")
        ((0, 0.30000000000000004), (1, 0.2), (0, -0.9))
        >>> rate_key([None], "min")
        (1, inf)
    """
    values = list(values)
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    missing = len(values) - len(finite)
    if not finite:
        return missing, math.inf
    mean = sum(finite) / len(finite)
    return missing, mean if mode == "min" else -mean


def choose_rate(values_by_rate: dict[float, Sequence[float | None]], mode: str) -> float:
    """The chosen rate: the smallest :func:`rate_key`, then the smallest rate.

    >>> choose_rate({0.001: [0.2, 0.3], 0.01: [0.1, None]}, "min")
    0.001
    """
    return best_rate({lr: rate_key(v, mode) for lr, v in values_by_rate.items()})


def best_rate(keys: dict[float, tuple[int, float]]) -> float:
    """The rate with the smallest :func:`rate_key` (``keys``), ties to the smallest rate.

    Among the rates with the fewest runs without a value, means within :data:`FLOAT32_TIE`
    of the best are ties (float32 rounding, not a better rate):

        >>> best_rate({0.001: (0, -0.98830407), 0.03: (0, -0.98830409), 0.01: (1, -0.99)})
        0.001
        >>> best_rate({0.001: (0, 0.2), 0.01: (0, 0.1)})
        0.01
    """
    fewest = min(missing for missing, _ in keys.values())
    candidates = {lr: value for lr, (missing, value) in keys.items() if missing == fewest}
    best = min(candidates.values())
    if math.isinf(best):
        return min(candidates)
    tolerance = tie_tolerance(best)
    return min(lr for lr, value in candidates.items() if value - best <= tolerance)


def next_rate(rates: Sequence[float], side: str) -> float:
    """The rate one grid step beyond the ``side`` ("low" or "high") end of ``rates``.

    The step is the log-spacing of the two rates at that end; the result is rounded to a round
    number (:data:`ROUND`) within :data:`ROUNDING_TOLERANCE` of a step, else kept as computed
    (to 3 significant digits).

        >>> next_rate([0.0003, 0.001, 0.003], "low"), next_rate([0.01, 0.03], "high")
        (0.0001, 0.1)
        >>> next_rate([0.001, 0.002], "high"), next_rate([0.25, 0.5], "low")
        (0.004, 0.125)
    """
    ordered = sorted(rates)
    if len(ordered) < 2 or ordered[0] <= 0:
        raise ValueError(f"a grid of at least two positive rates is needed, got {list(rates)}")
    if side == "low":
        step = math.log10(ordered[1] / ordered[0])
        target = math.log10(ordered[0]) - step
    elif side == "high":
        step = math.log10(ordered[-1] / ordered[-2])
        target = math.log10(ordered[-1]) + step
    else:
        raise ValueError(f"side must be 'low' or 'high', got {side!r}")
    decade = math.floor(target)
    candidates = [m * 10.0**e for e in (decade - 1, decade, decade + 1) for m in ROUND]
    best = min(candidates, key=lambda c: abs(math.log10(c) - target))
    if abs(math.log10(best) - target) <= ROUNDING_TOLERANCE * step:
        return float(f"{best:.1g}")
    return float(f"{10.0**target:.3g}")


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def cell_of(overrides: Sequence[str], *, key: str, replicates: Sequence[str]) -> tuple[str, ...]:
    """A job's cell: its overrides other than ``key`` and the ``replicates``, sorted.

    >>> cell_of(["seed=1", "setup=a", "optimizer.lr=0.1"], key="optimizer.lr", replicates=["seed"])
    ('setup=a',)
    """
    return tuple(sorted(o for o in overrides if _split(o)[0] not in (key, *replicates)))


def extension_jobs(
    jobs: Sequence[tuple[Sequence[str], float | None]],
    *,
    key: str,
    replicates: Sequence[str],
    mode: str,
) -> list[list[str]]:
    """The jobs that widen the grid of ``key`` by one rate where a cell's chosen rate is at an
    edge.

    Args:
        jobs: every job of the sweep so far: its overrides and its value (the optimized
            validation metric; None for a failed or refused job).
        key: the tuned override (``optimizer.lr``).
        replicates: overrides that repeat a cell's measurement (``seed``): a cell is a
            combination of every other override.
        mode: "min" or "max", the direction of the values.

    Returns:
        New jobs: for each cell of at least two rates whose chosen rate is the smallest
        (largest), the chosen rate's jobs (one per replicate) with ``key`` set to
        :func:`next_rate` beyond that end; where every run of the cell failed, the smallest
        rate's jobs with the next smaller rate. In the order of the cells' first jobs. Leave
        refused jobs (a setup the task cannot train) out of ``jobs``: they say nothing about
        rates.
    """
    cells: dict[tuple[str, ...], dict[float, list[tuple[Sequence[str], float | None]]]] = {}
    for overrides, value in jobs:
        rate = next((float(_split(o)[1]) for o in overrides if _split(o)[0] == key), None)
        if rate is None:
            continue
        cell = cell_of(overrides, key=key, replicates=replicates)
        cells.setdefault(cell, {}).setdefault(rate, []).append((overrides, value))
    new: list[list[str]] = []
    for by_rate in cells.values():
        rates = sorted(by_rate)
        if len(rates) < 2:
            continue
        values = {lr: [v for _, v in runs] for lr, runs in by_rate.items()}
        chosen = choose_rate(values, mode)
        if math.isinf(rate_key(values[chosen], mode)[1]):
            side = "low"  # every run failed (a non-finite loss): only smaller steps may help
            chosen = rates[0]
        else:
            side = "low" if chosen == rates[0] else "high" if chosen == rates[-1] else None
        if side is None:
            continue
        rate = next_rate(rates, side)
        for overrides, _ in by_rate[chosen]:
            new.append([f"{key}={rate!r}" if _split(o)[0] == key else o for o in overrides])
    return new


class GridWidening:
    """The jobs that widen a sweep's grid, decided cell by cell: a cell is decided once none of
    its jobs is still training, and widened at most ``steps`` times. Called again and again
    as jobs end (lossbench's sweeper does, through the vectorized launcher, so a cell widens as
    soon as its own runs are done), it gives each cell the jobs that :func:`extension_jobs`
    gives it round after round.

        >>> widening = GridWidening(key="optimizer.lr", replicates=("seed",), mode="min", steps=1)
        >>> jobs = [(["optimizer.lr=0.01", "seed=0"], 0.2), (["optimizer.lr=0.03", "seed=0"], 0.3)]
        >>> widening.next_jobs(jobs, waiting=[["optimizer.lr=0.01", "seed=1"]])  # not yet
        []
        >>> widening.next_jobs(jobs)
        [['optimizer.lr=0.003', 'seed=0']]
        >>> widening.next_jobs(jobs + [(["optimizer.lr=0.003", "seed=0"], 0.1)])  # steps=1
        []
    """

    def __init__(self, *, key: str, replicates: Sequence[str], mode: str, steps: int) -> None:
        self.key, self.replicates, self.mode, self.steps = key, tuple(replicates), mode, steps
        #: How many times each cell has been widened.
        self.rounds: dict[tuple[str, ...], int] = {}

    def _cell(self, overrides: Sequence[str]) -> tuple[str, ...]:
        return cell_of(overrides, key=self.key, replicates=self.replicates)

    def next_jobs(
        self,
        jobs: Sequence[tuple[Sequence[str], float | None]],
        waiting: Iterable[Sequence[str]] = (),
    ) -> list[list[str]]:
        """The new jobs of the cells that are decided now: ``jobs`` are the jobs ended so far
        (overrides, value; leave out refused jobs, as for :func:`extension_jobs`), ``waiting``
        the overrides of jobs not ended yet (their cells wait)."""
        busy = {self._cell(o) for o in waiting}
        open_cells = [
            (o, v)
            for o, v in jobs
            if (cell := self._cell(o)) not in busy and self.rounds.get(cell, 0) < self.steps
        ]
        new = extension_jobs(open_cells, key=self.key, replicates=self.replicates, mode=self.mode)
        for cell in dict.fromkeys(self._cell(o) for o in new):
            self.rounds[cell] = self.rounds.get(cell, 0) + 1
        return new
