"""Numbers over seeds: mean, standard deviation, 95 % t-interval, and the paired t-test.

>>> e = estimate([0.30, 0.32, 0.34])
>>> round(e.mean, 2), round(e.std, 2), e.n
(0.32, 0.02, 3)
>>> estimate([0.97, 1.0, 1.0], bounds=(0.0, 1.0)).high  # an accuracy's interval stops at 1
1.0
>>> import pandas as pd
>>> base = pd.Series([0.50, 0.52, 0.49], index=[0, 1, 2])
>>> paired_test(base - 0.1 + pd.Series([0.001, -0.002, 0.0]), base, "min").verdict
'better'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from lossbench.metric_names import metric_range
from lossbench.tuning_grid import FLOAT32_TIE, tie_tolerance

#: Significance level of the paired tests; intervals are (1 - ALPHA) = 95 %.
ALPHA = 0.05
BETTER, WORSE, SAME, UNDETERMINED = "better", "worse", "no detectable difference", "undetermined"
#: The statistics kept per metric in summary.csv, as ``<metric>_<stat>`` columns.
STATS = ("mean", "std", "ci_low", "ci_high", "n")


@dataclass(frozen=True)
class Estimate:
    """Mean, sample standard deviation (ddof 1) and t-interval of ``n`` values; NaN where
    undefined (no values; std and interval need two)."""

    n: int
    mean: float
    std: float
    low: float
    high: float


def estimate(
    values: Iterable[float],
    alpha: float = ALPHA,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> Estimate:
    """Mean and ``1 - alpha`` confidence interval from Student's t with ``n - 1`` degrees of
    freedom; NaN and infinite values are left out.

    ``bounds``: the values the quantity can take (:func:`lossbench.metric_names.metric_range`).
    The interval is clipped to them: with 3 seeds a t-interval is wide, and an accuracy's
    would otherwise reach above 1 or an NLL's below 0. The true mean lies within the bounds,
    so clipping keeps the interval's coverage."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return Estimate(0, math.nan, math.nan, math.nan, math.nan)
    if np.ptp(v) == 0:  # the same value on every seed: exactly it, spread 0 (not 1e-17)
        mean, std = float(v[0]), 0.0
    else:
        mean, std = float(v.mean()), float(v.std(ddof=1))
    if n < 2:
        return Estimate(1, mean, math.nan, math.nan, math.nan)
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * std / math.sqrt(n)
    low, high = bounds
    return Estimate(n, mean, std, max(mean - half, low), min(mean + half, high))


@dataclass(frozen=True)
class Paired:
    """A paired comparison of a candidate with a reference over shared seeds.

    ``mean_diff`` is candidate minus reference; ``verdict`` is :data:`BETTER`, :data:`WORSE`,
    :data:`SAME` or :data:`UNDETERMINED` (with ``note`` saying why).
    """

    n_pairs: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    note: str


#: Differences that spread less than this (relative to the values' magnitude) count as
#: constant. Metrics are computed in float32 (about 7 digits): an accuracy that differs by one
#: test sample on every seed differs in the last bits only, which would give t in the
#: millions and p = 1e-12 for what is one sample.
ZERO_SPREAD = FLOAT32_TIE


def _zero_variance(diffs: np.ndarray, scale: float) -> bool:
    return float(np.ptp(diffs)) <= ZERO_SPREAD * scale


def same_on_every_seed(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether aligned finite values are equal seed by seed to float32 rounding, each pair
    relative to its own size (:data:`~lossbench.tuning_grid.FLOAT32_TIE`): two NLLs near zero
    that differ twofold are not the same, whatever the other seeds' values.

    >>> same_on_every_seed(np.array([0.5, 2.8e-07]), np.array([0.5, 5.6e-07]))
    False
    >>> same_on_every_seed(np.array([0.5, 0.2]), np.array([0.5 + 1e-9, 0.2]))
    True
    """
    size = np.maximum(np.abs(a), np.abs(b))
    return bool(np.all(np.abs(a - b) <= FLOAT32_TIE * size))


def _no_t_test(c: np.ndarray, r: np.ndarray, diffs: np.ndarray) -> str | None:
    """Why two aligned arrays of finite values get no t-test: ``"same"`` (equal on every seed,
    :func:`same_on_every_seed`), ``"constant"`` (one difference on every seed, to the float32
    rounding of the largest value: the t statistic would divide by rounding noise), or None.
    A spread below that rounding whose seeds are not the same (a seed whose values are
    themselves tiny, and differ) is left to the t-test."""
    scale = tie_tolerance(*c, *r) / ZERO_SPREAD
    if not _zero_variance(diffs, scale):
        return None
    if same_on_every_seed(c, r):
        return "same"
    if abs(float(diffs.mean())) > ZERO_SPREAD * scale or float(np.ptp(diffs)) == 0.0:
        return "constant"
    return None


def _t_p_value(diffs: np.ndarray) -> float:
    """Two-sided p-value of Student's t-test of the mean of ``diffs`` against 0: the paired
    t-test's (``scipy.stats.ttest_rel`` of the pairs whose differences they are, to float
    rounding; ``scipy.special.stdtr`` is the t distribution's function it evaluates, without
    the overhead of a call per pair). ``diffs`` holds at least 2 values that are not all equal.

    >>> c, r = np.array([0.31, 0.35, 0.30]), np.array([0.30, 0.32, 0.30])
    >>> round(_t_p_value(c - r), 12) == round(float(stats.ttest_rel(c, r).pvalue), 12)
    True
    """
    n = diffs.size
    t = float(diffs.mean()) / (float(diffs.std(ddof=1)) / math.sqrt(n))
    return float(2 * special.stdtr(n - 1, -abs(t)))


def _pair_p_value(candidate: np.ndarray, reference: np.ndarray) -> float:
    """The p-value :func:`paired_test` gives two aligned arrays of finite values, or NaN
    where it gives none (fewer than 2 pairs, or the same difference on every pair)."""
    diffs = candidate - reference
    if diffs.size < 2:
        return math.nan
    if _no_t_test(candidate, reference, diffs) is not None:
        return math.nan
    return _t_p_value(diffs)


def pairwise_p_values(values: Sequence[pd.Series]) -> np.ndarray:
    """The raw p-value of :func:`paired_test` for every pair of ``values`` (metric values
    indexed by seed), paired over the seeds where both are finite: a symmetric k x k array,
    NaN on the diagonal and where the test gives no p-value (fewer than 2 shared seeds, or
    the same difference on every seed).

    >>> a = pd.Series([0.30, 0.32, 0.31])
    >>> p = pairwise_p_values([a, a + [0.02, 0.03, 0.01], a + 0.1])
    >>> round(float(p[0, 1]), 4), round(float(stats.ttest_rel(a + [0.02, 0.03, 0.01], a).pvalue), 4)
    (0.0742, 0.0742)
    >>> bool(np.isnan(p[0, 2])), bool(np.isnan(p[1, 1])), bool(p[1, 0] == p[0, 1])
    (True, True, True)
    """
    k = len(values)
    out = np.full((k, k), math.nan)
    if k < 2:
        return out
    table = pd.concat(dict(enumerate(values)), axis=1).to_numpy(dtype=float)
    finite = np.isfinite(table)
    for i in range(k):
        for j in range(i + 1, k):
            both = finite[:, i] & finite[:, j]
            out[i, j] = out[j, i] = _pair_p_value(table[both, i], table[both, j])
    return out


def holm_all_pairs(
    values: Mapping[str, pd.Series], groups: Sequence[Sequence[str]]
) -> pd.DataFrame:
    """:func:`holm` over every pair of ``groups`` (setups whose ``values`` are
    :func:`identical` on every seed, as :func:`identical_groups` gives them, each setup in
    one group): a group is one test on the same numbers, so each pair of groups is one test,
    with the paired t-test of their first members (:func:`pairwise_p_values`), and the family
    is all k(k-1)/2 of them. Holm over all pairs keeps the family-wise error at the level the
    adjusted values are compared with for whichever pairs are then read, so the best setup
    may be chosen on the same data before its comparisons are read out.

    Returns:
        The adjusted p of every pair of setups, by setup (rows and columns in the order of
        ``groups``): each pair of setups gets its groups' pair's value; NaN within a group
        and where the test gives no p-value.

    >>> s = pd.Series([0.30, 0.32, 0.31])
    >>> values = {"a": s, "b": s + 1e-9, "c": s + [0.02, 0.03, 0.01], "d": s + [0.1, 0.3, 0.2]}
    >>> adjusted = holm_all_pairs(values, [["a", "b"], ["c"], ["d"]])  # 3 pairs, not 6
    >>> raw = pairwise_p_values([s, values["c"], values["d"]])
    >>> bool(adjusted.at["b", "d"] == adjusted.at["a", "d"] == holm(raw[[0, 0, 1], [1, 2, 2]])[1])
    True
    >>> bool(np.isnan(adjusted.at["a", "b"]))
    True
    """
    raw = pairwise_p_values([values[g[0]] for g in groups])
    upper = np.triu_indices(len(groups), 1)
    adjusted = np.full(raw.shape, math.nan)
    adjusted[upper] = holm(raw[upper])
    adjusted.T[upper] = adjusted[upper]
    member = [i for i, g in enumerate(groups) for _ in g]
    names = [s for g in groups for s in g]
    return pd.DataFrame(adjusted[np.ix_(member, member)], index=names, columns=names)


def paired_test(
    candidate: pd.Series, reference: pd.Series, mode: str, alpha: float = ALPHA
) -> Paired:
    """Pair ``candidate`` and ``reference`` by index (the seed) and test their difference.

    Args:
        candidate: Metric values indexed by seed (one per seed).
        reference: The same for the setup compared against (the baseline, or the best).
        mode: "min" if lower is better (nll, ece), "max" if higher is (accuracy).
        alpha: Significance level of the two-sided paired t-test (scipy.stats.ttest_rel's
            p-value, :func:`_t_p_value`).

    Returns:
        The comparison. Fewer than two pairs, or differences that are the same on every seed
        (zero variance, where the t-test is undefined), give :data:`UNDETERMINED` with a note;
        identical values on every seed give :data:`SAME`.
    """
    if candidate.index.equals(reference.index):  # the usual case, without aligning
        seeds = candidate.index
        c, r = candidate.to_numpy(dtype=float), reference.to_numpy(dtype=float)
    else:
        both = pd.concat({"c": candidate, "r": reference}, axis=1, join="inner")
        seeds, c, r = both.index, both["c"].to_numpy(dtype=float), both["r"].to_numpy(dtype=float)
    keep = np.isfinite(c) & np.isfinite(r)
    seeds, c, r = seeds[keep], c[keep], r[keep]
    diffs = c - r
    n = len(diffs)
    nan = math.nan
    if n == 0:
        return Paired(0, nan, nan, nan, nan, UNDETERMINED, "no seed completed in both setups")
    mean = float(diffs.mean())
    if n < 2:
        note = f"only 1 paired seed (seed {seeds[0]}): a paired test needs at least 2"
        return Paired(1, mean, nan, nan, nan, UNDETERMINED, note)
    no_test = _no_t_test(c, r, diffs)
    if no_test == "same":
        return Paired(n, 0.0, 0.0, 0.0, nan, SAME, f"identical on all {n} seeds")
    if no_test == "constant":
        note = f"difference {mean:+.4g} on every one of {n} seeds (zero variance): t-test undefined"
        return Paired(n, mean, mean, mean, nan, UNDETERMINED, note)
    interval = estimate(diffs, alpha)
    p = _t_p_value(diffs)
    improved = (mean < 0) == (mode == "min")  # lower nll is better, higher accuracy is
    verdict = SAME if p >= alpha else (BETTER if improved else WORSE)
    return Paired(n, mean, interval.low, interval.high, p, verdict, "")


def trained_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of ``runs`` that were trained, completed or failed in training: not refused
    before it (a setup that cannot do the task), and with a seed. The seeds (and splits) a
    comparison asks of its setups are those more than half of them were trained with.

        >>> runs = pd.DataFrame({"seed": [0, 1, 2, None], "status": "failed",
        ...                      "refused": [False, True, False, False]})
        >>> trained_runs(runs)["seed"].tolist()
        [0.0, 2.0]
    """
    keep = runs["seed"].notna() & runs["status"].isin(["completed", "failed"])
    if "refused" in runs:
        keep &= ~runs["refused"].fillna(False).astype(bool)
    return runs[keep]


def per_seed(runs: pd.DataFrame, metric: str) -> pd.Series:
    """Completed runs' ``metric`` by seed (the mean where a seed appears twice, e.g. when two
    studies are reported together)."""
    done = runs[(runs["status"] == "completed") & runs["seed"].notna()]
    if metric not in done:
        return pd.Series(dtype=float)
    return done.groupby("seed")[metric].mean().dropna()


def seed_values(runs: pd.DataFrame, metric: str) -> pd.Series:
    """The values a summary counts: one per seed (the mean of a seed's runs, as
    :func:`per_seed` pairs them), and each run without a seed on its own.

    >>> runs = pd.DataFrame({"seed": [0, 0, 1], "test/nll": [0.2, 0.2, 0.4]})
    >>> seed_values(runs, "test/nll").tolist()
    [0.2, 0.4]
    """
    values = pd.to_numeric(runs[metric], errors="coerce")
    seeded = runs["seed"].notna()
    by_seed = values[seeded].groupby(runs.loc[seeded, "seed"]).mean()
    return pd.concat([by_seed, values[~seeded]], ignore_index=True).dropna()


def summarize(runs: pd.DataFrame, metrics: Sequence[str], rank_by: str, mode: str) -> pd.DataFrame:
    """One row per data set and setup: run counts, statistics of every metric, and the rank.

    Args:
        runs: The results table (:func:`lossbench.report.collect.load_runs`).
        metrics: Metric columns to summarise; each gives ``<metric>_mean``, ``_std``,
            ``_ci_low``, ``_ci_high`` and ``_n`` over seeds (:func:`seed_values`: a seed
            recorded more than once, e.g. one study reported twice, counts once, with the
            mean of its runs, as in the paired tests); ``_n`` is the number of seeds with a
            completed run that has the metric. ``n_runs``, ``n_completed`` count runs.
        rank_by: The metric that ranks setups within each data set (1 = best mean; setups
            with identical results on every seed share a rank, :func:`rank_with_ties`).
        mode: "min" or "max": the direction of ``rank_by``.
    """
    rows = []
    for (data, setup), group in runs.groupby(["data", "setup"], sort=True):
        failed = group["status"] != "completed"
        done = group[~failed]
        row = {
            "data": data,
            "task": group["task"].dropna().iloc[0] if group["task"].notna().any() else None,
            "setup": setup,
            "head": group["head"].iloc[0],
            "loss": group["loss"].iloc[0],
            "variant": group["variant"].iloc[0],
            "n_runs": len(group),
            "n_completed": int((~failed).sum()),
            "n_failed": int(failed.sum()),
            "n_refused": int(group["refused"].sum()),
        }
        for metric in metrics:
            e = (
                estimate(seed_values(done, metric), bounds=metric_range(metric))
                if metric in done
                else estimate([])
            )
            row.update(
                {
                    f"{metric}_mean": e.mean,
                    f"{metric}_std": e.std,
                    f"{metric}_ci_low": e.low,
                    f"{metric}_ci_high": e.high,
                    f"{metric}_n": e.n,
                }
            )
        rows.append(row)
    summary = rank_with_ties(pd.DataFrame(rows), runs, rank_by, mode)
    return summary.sort_values(["data", "rank", "setup"], na_position="last").reset_index(drop=True)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (family-wise error rate at the level the
    adjusted values are compared with); NaN stays NaN and is not counted.

    >>> [round(p, 3) for p in holm([0.01, 0.04, float("nan"), 0.03])]
    [0.03, 0.06, nan, 0.06]

    The i-th smallest of m p-values is multiplied by m - i (i from 0), then a running maximum
    keeps the order, capped at 1: ``statsmodels.stats.multitest.multipletests(p,
    method="holm")``'s values, which the tests check against. Written out because
    multipletests runs a full garbage collection on every call (seconds in all for a report
    of a few dozen families, with pandas and matplotlib in memory).
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size:
        order = finite[np.argsort(p[finite], kind="stable")]
        factors = np.arange(order.size, 0, -1)
        out[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    return [float(x) for x in out]


def holm_once(p_values: Sequence[float], groups: Sequence[Sequence[int]]) -> list[float]:
    """:func:`holm` over ``groups`` of positions in ``p_values`` (each position in one group):
    the tests of a group, setups whose results are :func:`identical` on every seed, are one
    test on the same numbers, so the group counts once in the family, with its first member's
    p-value, and every member gets the group's adjusted p.

    >>> [round(p, 3) for p in holm_once([0.01, 0.02, 0.02, 0.04], [[0], [1, 2], [3]])]
    [0.03, 0.04, 0.04, 0.04]
    >>> [round(p, 3) for p in holm([0.01, 0.02, 0.02, 0.04])]  # counted three times
    [0.04, 0.06, 0.06, 0.06]
    """
    adjusted = holm([p_values[g[0]] for g in groups])
    out = [math.nan] * len(p_values)
    for g, p in zip(groups, adjusted, strict=True):
        for i in g:
            out[i] = p
    return out


def identical(a: pd.Series, b: pd.Series) -> bool:
    """Whether two setups' per-seed values are the same on every seed (to float32 rounding,
    :func:`~lossbench.tuning_grid.tie_tolerance`): the same seeds, and no seed that differs;
    a value that is not finite equals only the same value.

    >>> identical(pd.Series([0.1, 0.2]), pd.Series([0.1, 0.2 + 1e-9]))
    True
    >>> identical(pd.Series([2.8e-07, 3e-07]), pd.Series([5.6e-07, 3e-07]))
    False
    >>> identical(pd.Series([0.5, 2.8e-07]), pd.Series([0.5, 5.6e-07]))  # each seed's own size
    False
    >>> identical(pd.Series([0.1, float("inf")]), pd.Series([0.1, 0.2]))
    False
    """
    if len(a) == 0:
        return False
    if a.index.equals(b.index):  # the usual case, without aligning
        both = np.column_stack([a.to_numpy(dtype=float), b.to_numpy(dtype=float)])
    elif set(a.index) != set(b.index):
        return False
    else:
        both = pd.concat({"a": a, "b": b}, axis=1).to_numpy(dtype=float)
    finite = np.isfinite(both).all(axis=1)
    if not np.array_equal(both[~finite, 0], both[~finite, 1], equal_nan=True):
        return False
    return same_on_every_seed(both[finite, 0], both[finite, 1])


def identical_groups(values: dict[str, pd.Series]) -> list[list[str]]:
    """Setups whose per-seed values are :func:`identical`, as groups (each setup in one group,
    singletons included), in the order of ``values``.

    >>> s = pd.Series([0.1, 0.2])
    >>> identical_groups({"a": s, "b": s + 1e-9, "c": s + 0.1})
    [['a', 'b'], ['c']]
    """
    groups: list[list[str]] = []
    for name, series in values.items():
        for group in groups:
            if identical(values[group[0]], series):
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def rank_with_ties(
    summary: pd.DataFrame, runs: pd.DataFrame, metric: str, mode: str
) -> pd.DataFrame:
    """``summary`` with ``rank`` (1 = best mean of ``metric`` in its data set) and
    ``identical_to`` (the others of a setup's group of results identical on every seed).

    Setups share a rank when their results are identical on every seed, and when their means
    are equal to float32 rounding (within :data:`~lossbench.tuning_grid.FLOAT32_TIE` of the
    best of them, relative, as :func:`~lossbench.tuning_grid.tie_tolerance` measures): a mean
    that differs in the last bits of a float32 is no better. The rank after a tie skips the
    tied places (1, 1, 3).

        >>> runs = pd.DataFrame({"data": "d", "setup": list("aabbcc"), "seed": [0, 1] * 3,
        ...                      "status": "completed", "m": [0.2, 0.4, 0.3, 0.3 + 4e-8, 0.1, 0.1]})
        >>> rows = pd.DataFrame({"data": "d", "setup": list("abc"), "m_mean": [0.3, 0.3, 0.1]})
        >>> rows.loc[1, "m_mean"] += 2e-8  # b's mean: float32 noise above a's
        >>> rank_with_ties(rows, runs, "m", "min")[["rank", "identical_to"]].values.tolist()
        [[2, ''], [2, ''], [1, '']]
    """
    summary = summary.copy()
    summary["identical_to"] = ""
    ranks = pd.Series(pd.NA, index=summary.index, dtype="Int64")
    for data, rows in summary.groupby("data", sort=False):
        group = runs[runs["data"] == data]
        values = {
            s: per_seed(group[group["setup"] == s], metric)
            for s in rows["setup"]
            if not pd.isna(rows.loc[rows["setup"] == s, f"{metric}_mean"].iloc[0])
        }
        groups = identical_groups(values)
        means = {
            tuple(g): float(rows.loc[rows["setup"].isin(g), f"{metric}_mean"].mean())
            for g in groups
        }
        order = sorted(means, key=lambda g: means[g] if mode == "min" else -means[g])
        position, rank, first = 1, 1, math.nan
        for g in order:
            # a mean equal to the first of the tied block's to float32 rounding shares its rank
            if not abs(means[g] - first) <= tie_tolerance(means[g], first):
                rank, first = position, means[g]
            for setup in g:
                index = rows.index[rows["setup"] == setup][0]
                ranks[index] = rank
                summary.loc[index, "identical_to"] = "; ".join(s for s in g if s != setup)
            position += len(g)
    summary["rank"] = ranks
    return summary
