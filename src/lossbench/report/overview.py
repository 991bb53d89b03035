"""The overview across data sets: mean rank of each setup per task family, the Friedman test,
and a critical-difference diagram (Demšar 2006), computed by ``autorank``.

The blocks of the test are the family's data sets, one each: a setup's value on a data set is
its mean over the data set's seeds. The seeds of one data set are not independent blocks: they
share the data set, and so whatever favours one setup on it, and counting them as blocks makes
the Friedman test find differences that do not exist. The seeds averaged are those more than half
of the family's setups were trained on (completed or failed), as the verdicts ask; a setup
without a result on one of them has no value on that data set, and a setup without a value on
every data set of the family is left out of the ranking (and named). Values of one data set that
differ by less than float32 rounding (:data:`lossbench.report.stats.ZERO_SPREAD`) are ties and
share the average rank, so setups with identical results on every seed share their mean rank.

The Friedman test and Nemenyi's critical difference need at least :data:`MIN_BLOCKS` data sets
and 3 setups; with fewer the mean ranks are given alone, and describe the data sets compared.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({
    ...     "data": ["a"] * 9 + ["b"] * 9, "task": "binary", "status": "completed",
    ...     "seed": [0, 1, 2] * 6, "setup": (["x"] * 3 + ["y"] * 3 + ["z"] * 3) * 2,
    ...     "test/nll": [0.1, 0.11, 0.12, 0.2, 0.21, 0.22, 0.3, 0.31, 0.33] * 2})
    >>> family = family_overview(runs, "test/nll", "min")[0]
    >>> family.mean_ranks.round(2).to_dict(), family.n_blocks
    ({'x': 1.0, 'y': 2.0, 'z': 3.0}, 2)
    >>> family.p_value  # 2 data sets: no test
    nan
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lossbench.report.stats import ALPHA, trained_runs
from lossbench.tuning_grid import tie_tolerance

#: autorank's minimum number of blocks (performance estimates per setup): here data sets.
MIN_BLOCKS = 5


@dataclass
class Family:
    """One task family's overview: ``mean_ranks`` over its data sets (1 = best; empty where
    fewer than two setups have a value on every data set, and ``note`` says so), the Friedman
    ``p_value`` and the Nemenyi critical difference ``cd`` (NaN where the test did not run,
    and ``note`` says why), the ``left_out`` setups (no value on some data set), the
    ``seeds`` averaged per data set and the data sets ``unranked`` (no seed that more than
    half of the setups were trained with).

        >>> family = Family("binary", ["a", "b"], 2, pd.Series({"x": 1.0, "y": 2.0}),
        ...                 seeds={"a": [0, 1, 2], "b": [0, 1, 2]})
        >>> family.seeds_text(), family.significant
        ('mean over 3 seeds each', False)
    """

    task: str
    data: list[str]
    n_blocks: int
    mean_ranks: pd.Series
    p_value: float = math.nan
    cd: float = math.nan
    left_out: list[str] = field(default_factory=list)
    note: str = ""
    result: Any = None
    seeds: dict[str, list[int]] = field(default_factory=dict)
    unranked: list[str] = field(default_factory=list)

    @property
    def tested(self) -> bool:
        """Whether the Friedman test ran."""
        return not math.isnan(self.p_value)

    @property
    def significant(self) -> bool:
        """Whether the Friedman test found a difference between the setups at :data:`ALPHA`."""
        return self.tested and self.p_value < ALPHA

    def seeds_text(self) -> str:
        """How many seeds each data set's values average, e.g. "mean over 3 seeds each"."""
        counts = sorted({len(s) for d, s in self.seeds.items() if d not in self.unranked})
        if not counts:
            return ""
        if len(counts) == 1:
            n = counts[0]
            return f"mean over {n} seed{'s' if n != 1 else ''}" + (
                " each" if self.n_blocks > 1 else ""
            )
        return f"mean over {counts[0]} to {counts[-1]} seeds"


def _seed_blocks(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """(data set, seed) x setups of ``metric``, the seeds a data set's value averages: a seed
    that half of the setups or fewer were trained on (completed or failed: a seed one of them
    was trained with besides the study's) is left out, as the verdicts leave it out, so that it
    excludes no setup from the ranking. A setup whose run failed on a seed the others have
    keeps its gap there.

        >>> runs = pd.DataFrame({"data": "a", "status": "completed",
        ...                      "seed": [0, 1, 0, 1, 0, 1, 2], "setup": list("xxyyzzz"),
        ...                      "m": [1, 2, 3, 4, 5, 6, 7]})
        >>> _seed_blocks(runs, "m").index.tolist()
        [('a', 0), ('a', 1)]
        >>> runs.loc[1, "status"] = "failed"  # x failed on seed 1: the seed stays, x's gap too
        >>> _seed_blocks(runs, "m").loc[("a", 1)].tolist()
        [nan, 4.0, 6.0]
    """
    table = _every_seed(selected, metric)
    ran = trained_runs(selected)
    trained = ran.groupby(["data", "seed"])["setup"].nunique().reindex(table.index, fill_value=0)
    return table[2 * trained > table.shape[1]]


def _every_seed(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every (data set, seed) x setups of ``metric`` with a completed run, however few setups
    have it."""
    done = selected[(selected["status"] == "completed") & selected["seed"].notna()]
    return done.pivot_table(index=["data", "seed"], columns="setup", values=metric, aggfunc="mean")


def data_means(seeds: pd.DataFrame) -> pd.DataFrame:
    """The blocks, data sets x setups: each setup's mean over the data set's seeds in
    ``seeds`` ((data set, seed) x setups), NaN where it lacks a value on one of them.

        >>> seeds = pd.DataFrame({"x": [1.0, 3.0, 5.0], "y": [2.0, None, 4.0]},
        ...     index=pd.MultiIndex.from_tuples([("a", 0), ("a", 1), ("b", 0)],
        ...                                     names=["data", "seed"]))
        >>> data_means(seeds).to_dict("index")
        {'a': {'x': 2.0, 'y': nan}, 'b': {'x': 5.0, 'y': 4.0}}
    """
    if seeds.empty:
        return pd.DataFrame(columns=seeds.columns, index=pd.Index([], name="data"), dtype=float)
    grouped = seeds.groupby(level="data")
    complete = grouped.count().eq(grouped.size(), axis=0)
    return grouped.mean().where(complete)


def _blocks(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The blocks of the ranking, data sets x setups: :func:`data_means` of the seeds
    :func:`_seed_blocks` keeps.

        >>> runs = pd.DataFrame({"data": ["a"] * 4 + ["b"] * 4, "status": "completed",
        ...                      "seed": [0, 1] * 4, "setup": list("xxyy") * 2,
        ...                      "m": [1, 2, 3, 5, 1, 1, 0, 0]})
        >>> _blocks(runs, "m").to_dict("index")
        {'a': {'x': 1.5, 'y': 4.0}, 'b': {'x': 1.0, 'y': 0.0}}
    """
    return data_means(_seed_blocks(selected, metric))


def float32_ties(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (blocks x setups) with each block's values that lie within float32 rounding
    of a smaller value of the block (:func:`~lossbench.tuning_grid.tie_tolerance` of the two,
    relative to their own size, not the block's largest) set to it, so that ranks treat them
    as ties.

    >>> t = pd.DataFrame({"a": [0.2, 0.5], "b": [0.2 + 5e-8, 0.4], "c": [0.3, 0.5 - 5e-8]})
    >>> float32_ties(t).rank(axis=1).to_dict("list")
    {'a': [1.5, 2.5], 'b': [1.5, 1.0], 'c': [3.0, 2.5]}
    >>> t = pd.DataFrame({"a": [0.001], "b": [0.00104], "diverged": [60.0]})
    >>> float32_ties(t).rank(axis=1).to_dict("list")  # 4 % apart: no tie
    {'a': [1.0], 'b': [2.0], 'diverged': [3.0]}
    """
    out = table.copy()
    for index, row in table.iterrows():
        values = row.dropna().sort_values()
        if values.empty:
            continue
        anchor = None
        for setup, value in values.items():
            if anchor is None or value - anchor > tie_tolerance(value, anchor):
                anchor = value
            out.at[index, setup] = anchor
    return out


def _no_ranking(task: str, runs: pd.DataFrame, table: pd.DataFrame, metric: str) -> Family:
    """The :class:`Family` of a task whose setups cannot be ranked (fewer than two with a
    value on every data set): no ranks, and a ``note`` that says why."""
    data = sorted(runs["data"].unique())
    if table.empty:
        note = f"no overview: no completed run records {metric}"
    else:
        covered = table.notna().sum().sort_values(ascending=False)
        listed = ", ".join(f"{s} ({n} of {len(table)})" for s, n in covered.items())
        note = (
            "no overview: a ranking needs at least 2 setups with a value (the mean over the "
            f"seeds) on every data set, and {int((covered == len(table)).sum())} here have one "
            f"(data sets covered: {listed})"
        )
    return Family(
        task=str(task),
        data=data,
        n_blocks=len(table),
        mean_ranks=pd.Series(dtype=float),
        left_out=sorted(table.columns),
        note=note,
    )


def _no_test(n_setups: int, n_data: int) -> str:
    """The note of a family too small for the Friedman test: why there is none."""
    if n_data < MIN_BLOCKS:
        ranks = (
            "ranks describe this data set"
            if n_data == 1
            else f"mean ranks describe these {n_data} data sets"
        )
        return (
            f"no Friedman test: it needs at least {MIN_BLOCKS} data sets, and this family has "
            f"{n_data}; the seeds of one data set are no independent blocks (they share the "
            "data set and whatever favours a setup on it), so they are averaged, not counted. "
            f"The {ranks} only, without a test"
        )
    return f"no Friedman test: it needs at least 3 setups (here {n_setups})"


def _friedman(complete: pd.DataFrame, ascending: bool) -> Any:
    """autorank's Friedman test and Nemenyi's critical difference over the rows (data sets)
    of ``complete``."""
    from autorank import autorank

    frame = complete.reset_index(drop=True)
    # autorank prints its choice of test even with verbose=False
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return autorank(
            frame,
            alpha=ALPHA,
            verbose=False,
            order="ascending" if ascending else "descending",
            force_mode="nonparametric",
        )


def family_overview(selected: pd.DataFrame, metric: str, mode: str) -> list[Family]:
    """One :class:`Family` per task: the setups' mean ranks over the task's data sets, each
    setup's value on a data set its mean over the seeds; the Friedman test where there are at
    least :data:`MIN_BLOCKS` data sets and 3 setups. One whose setups cannot be ranked (fewer
    than two have a value on every data set) has no ``mean_ranks`` and a ``note`` that says
    why.

        >>> runs = pd.DataFrame({"data": [d for d in "abcde" for _ in range(6)],
        ...     "task": "binary", "status": "completed", "seed": [0, 1] * 15,
        ...     "setup": list("xxyyzz") * 5, "m": [1, 2, 3, 4, 5, 6] * 5})
        >>> (family,) = family_overview(runs, "m", "min")
        >>> family.n_blocks, round(family.p_value, 4)  # 5 data sets, not 10 blocks
        (5, 0.0067)
    """
    out = []
    for task, runs in selected.groupby("task", sort=True):
        seeds = _seed_blocks(runs, metric)
        table = data_means(seeds)
        complete = float32_ties(table.dropna(axis=1, how="any"))
        left_out = sorted(set(table.columns) - set(complete.columns))
        if table.empty or complete.shape[1] < 2:  # the data sets' coverage says why
            shown = data_means(_every_seed(runs, metric)) if table.empty else table
            out.append(_no_ranking(str(task), runs, shown, metric))
            continue
        ascending = mode == "min"
        ranks = complete.rank(axis=1, ascending=ascending, method="average").mean()
        data = sorted(runs["data"].unique())
        family = Family(
            task=str(task),
            data=data,
            n_blocks=len(complete),
            mean_ranks=ranks.sort_values(),
            left_out=left_out,
            seeds={
                str(d): sorted(int(s) for s in group.index.get_level_values("seed"))
                for d, group in seeds.groupby(level="data")
            },
            unranked=[d for d in data if d not in complete.index],
        )
        if complete.shape[1] >= 3 and len(complete) >= MIN_BLOCKS:
            result = _friedman(complete, ascending)
            family.result = result
            family.p_value = float(result.pvalue)
            family.cd = float(result.cd) if result.cd is not None else math.nan
        else:
            family.note = _no_test(complete.shape[1], len(complete))
        out.append(family)
    return out


def cd_diagram(family: Family, path: Path) -> Path | None:
    """Draw ``family``'s critical-difference diagram (autorank's ``plot_stats``) into
    ``path``; None when the test did not run or autorank's result has no Nemenyi critical
    difference. Where the Friedman test found no difference the diagram is drawn all the same
    (the report's text says its bars are no separations then)."""
    if family.result is None or math.isnan(family.cd):
        return None
    if getattr(family.result, "posthoc", None) != "nemenyi":
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from autorank import plot_stats

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # drawn where the test found no difference too: the report's text says so
        ax = plot_stats(family.result, allow_insignificant=True)
    if ax is None:
        return None
    figure = ax.get_figure()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
