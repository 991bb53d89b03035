"""The overview across data sets: mean rank of each setup per task family, the Friedman test,
and a critical-difference diagram (Demšar 2006), computed by ``autorank``.

The blocks of the test are (data set, seed) pairs: every seed of the fair protocol draws its own
split, and the setups compared on one block share it, so the ranks are paired. Only setups with
a result on every block of the family take part (a setup refused on one data set of the family
is left out, and named); a block that half of the setups or fewer were trained on (a seed only
one setup was trained with) is left out instead. Values of one block that differ by less than
float32 rounding (:data:`lossbench.report.stats.ZERO_SPREAD`) are ties and share the average
rank, so setups with identical results on every seed share their mean rank.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({
    ...     "data": ["a"] * 9 + ["b"] * 9, "task": "binary", "status": "completed",
    ...     "seed": [0, 1, 2] * 6, "setup": (["x"] * 3 + ["y"] * 3 + ["z"] * 3) * 2,
    ...     "test/nll": [0.1, 0.11, 0.12, 0.2, 0.21, 0.22, 0.3, 0.31, 0.33] * 2})
    >>> family = family_overview(runs, "test/nll", "min")[0]
    >>> family.mean_ranks.round(2).to_dict()
    {'x': 1.0, 'y': 2.0, 'z': 3.0}
    >>> family.p_value < 0.05
    True
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

#: autorank's minimum number of blocks (performance estimates per setup).
MIN_BLOCKS = 5


@dataclass
class Family:
    """One task family's overview: ``mean_ranks`` (1 = best; empty where fewer than two setups
    have a result on every block, and ``note`` says so), the Friedman ``p_value``, the
    Nemenyi critical difference ``cd`` (NaN where the test did not run) and ``left_out``
    setups (no result on some block)."""

    task: str
    data: list[str]
    n_blocks: int
    mean_ranks: pd.Series
    p_value: float = math.nan
    cd: float = math.nan
    left_out: list[str] = field(default_factory=list)
    note: str = ""
    result: Any = None


def _blocks(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Blocks (data set, seed) x setups of ``metric``; a block that half of the setups or
    fewer were trained on (completed or failed: a seed one of them was trained with besides
    the study's) is left out, as the verdicts leave it out, so that it excludes no setup from
    the ranking. A setup whose run failed on a block the others have keeps its gap there.

        >>> runs = pd.DataFrame({"data": "a", "status": "completed",
        ...                      "seed": [0, 1, 0, 1, 0, 1, 2], "setup": list("xxyyzzz"),
        ...                      "m": [1, 2, 3, 4, 5, 6, 7]})
        >>> _blocks(runs, "m").index.tolist()
        [('a', 0), ('a', 1)]
        >>> runs.loc[1, "status"] = "failed"  # x failed on seed 1: the block stays, x's gap too
        >>> _blocks(runs, "m").loc[("a", 1)].tolist()
        [nan, 4.0, 6.0]
    """
    table = _every_block(selected, metric)
    ran = trained_runs(selected)
    trained = ran.groupby(["data", "seed"])["setup"].nunique().reindex(table.index, fill_value=0)
    return table[2 * trained > table.shape[1]]


def _every_block(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every block (data set, seed) x setups of ``metric`` with a completed run, however few
    setups have it."""
    done = selected[(selected["status"] == "completed") & selected["seed"].notna()]
    return done.pivot_table(index=["data", "seed"], columns="setup", values=metric, aggfunc="mean")


def float32_ties(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (blocks x setups) with each block's values that lie within
    :data:`ZERO_SPREAD` (relative to the block's magnitude) of a smaller value of
    the block set to it, so that ranks treat them as ties.

    >>> t = pd.DataFrame({"a": [0.2, 0.5], "b": [0.2 + 5e-8, 0.4], "c": [0.3, 0.5 - 5e-8]})
    >>> float32_ties(t).rank(axis=1).to_dict("list")
    {'a': [1.5, 2.5], 'b': [1.5, 1.0], 'c': [3.0, 2.5]}
    """
    out = table.copy()
    for index, row in table.iterrows():
        values = row.dropna().sort_values()
        if values.empty:
            continue
        tolerance = tie_tolerance(*values)
        anchor = None
        for setup, value in values.items():
            if anchor is None or value - anchor > tolerance:
                anchor = value
            out.at[index, setup] = anchor
    return out


def _no_ranking(task: str, runs: pd.DataFrame, table: pd.DataFrame, metric: str) -> Family:
    """The :class:`Family` of a task whose setups cannot be ranked (fewer than two with a
    result on every block): no ranks, and a ``note`` that says why."""
    data = sorted(runs["data"].unique())
    if table.empty:
        note = f"no overview: no completed run records {metric}"
    else:
        covered = table.notna().sum().sort_values(ascending=False)
        listed = ", ".join(f"{s} ({n} of {len(table)})" for s, n in covered.items())
        note = (
            "no overview: a ranking needs at least 2 setups with a result on every block "
            f"(data set, seed), and {int((covered == len(table)).sum())} here have one "
            f"(blocks covered: {listed})"
        )
    return Family(
        task=str(task),
        data=data,
        n_blocks=len(table),
        mean_ranks=pd.Series(dtype=float),
        left_out=sorted(table.columns),
        note=note,
    )


def family_overview(selected: pd.DataFrame, metric: str, mode: str) -> list[Family]:
    """One :class:`Family` per task; one whose setups cannot be ranked (fewer than two have
    results on every block) has no ``mean_ranks`` and a ``note`` that says why."""
    from autorank import autorank

    out = []
    for task, runs in selected.groupby("task", sort=True):
        table = _blocks(runs, metric)
        complete = float32_ties(table.dropna(axis=1, how="any"))
        left_out = sorted(set(table.columns) - set(complete.columns))
        if table.empty or complete.shape[1] < 2:  # the blocks' coverage says why
            shown = _every_block(runs, metric) if table.empty else table
            out.append(_no_ranking(str(task), runs, shown, metric))
            continue
        ascending = mode == "min"
        ranks = complete.rank(axis=1, ascending=ascending, method="average").mean()
        family = Family(
            task=str(task),
            data=sorted(runs["data"].unique()),
            n_blocks=len(complete),
            mean_ranks=ranks.sort_values(),
            left_out=left_out,
        )
        if complete.shape[1] >= 3 and len(complete) >= MIN_BLOCKS:
            frame = complete.reset_index(drop=True)
            # autorank prints its choice of test even with verbose=False
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                result = autorank(
                    frame,
                    alpha=ALPHA,
                    verbose=False,
                    order="ascending" if ascending else "descending",
                    force_mode="nonparametric",
                )
            family.result = result
            family.p_value = float(result.pvalue)
            family.cd = float(result.cd) if result.cd is not None else math.nan
        else:
            family.note = (
                f"no Friedman test: it needs at least 3 setups and {MIN_BLOCKS} blocks "
                f"(here {complete.shape[1]} and {len(complete)})"
            )
        out.append(family)
    return out


def cd_diagram(family: Family, path: Path) -> Path | None:
    """Draw ``family``'s critical-difference diagram (autorank's ``plot_stats``) into
    ``path``; None when the test did not run."""
    if family.result is None or math.isnan(family.cd):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from autorank import plot_stats

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = plot_stats(family.result, allow_insignificant=True)
    figure = ax.get_figure()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
