"""Holm's correction of the comparisons with the best: over every pair of eligible setups, so
choosing the best on the same data does not separate setups that are equal in truth more
often than the 5 % the tests are run at."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lossbench.report.compare import verdicts
from lossbench.report.stats import ALPHA

METRIC = "test/nll"


def runs_of(values: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Completed runs with ``values[data][setup][seed]`` as their test NLL."""
    rows = [
        {"data": data, "task": "multiclass", "setup": setup, "seed": seed,
         "status": "completed", "refused": False, METRIC: float(value)}
        for data, setups in values.items()
        for setup, per_seed in setups.items()
        for seed, value in enumerate(per_seed)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def summary_of(runs: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`lossbench.report.stats.summarize`'s table (and the ``baseline``
    column) that :func:`verdicts` reads, computed at once for many data sets: the mean, its
    95 % t-interval, the rank by mean; every run completed and converged, none the baseline."""
    out = runs.groupby(["data", "setup"])[METRIC].agg(["mean", "std", "count"]).reset_index()
    half = stats.t.ppf(0.975, out["count"] - 1) * out["std"] / np.sqrt(out["count"])
    out[f"{METRIC}_ci_low"] = out["mean"] - half
    out[f"{METRIC}_ci_high"] = out["mean"] + half
    out = out.rename(columns={"mean": f"{METRIC}_mean", "count": f"{METRIC}_n"})
    out["task"], out["n_runs"], out["n_failed"], out["n_refused"] = "multiclass", 0, 0, 0
    out["n_runs"] = out[f"{METRIC}_n"]
    out["rank"] = out.groupby("data")[f"{METRIC}_mean"].rank(method="min").astype(int)
    out["baseline"] = False
    return out


BEST = np.array([0.30, 0.32, 0.31, 0.33, 0.29])
SPREAD = np.array([0.01, -0.02, 0.03, 0.0, 0.02])
#: best, one worse setup, three setups identical on every seed (to float32 rounding), another
CRAFTED = {
    "best": BEST,
    "worse": BEST + np.array([0.03, 0.045, 0.02, 0.04, 0.015]),
    "same_a": BEST + SPREAD,
    "same_b": BEST + SPREAD,
    "same_c": BEST + SPREAD + 1e-9,
    "other": BEST + np.array([0.05, -0.01, 0.02, 0.06, 0.0]),
}


def test_the_comparisons_with_the_best_are_holm_adjusted_over_all_pairs() -> None:
    """The adjusted p of each setup against the best is statsmodels' Holm over the paired
    t-tests (scipy) of every pair of setups, the three identical setups counted once (6 pairs
    of 4 groups). "worse" (raw p 0.0062) is separated: counted three times (12 pairs) its
    adjusted p would pass 0.05; over the 3 comparisons with the best alone it would be 0.019."""
    runs = runs_of({"d": CRAFTED})
    (verdict,) = verdicts(runs, summary_of(runs), METRIC, "min")
    assert verdict.best == "best"

    groups = {"best": BEST, "worse": CRAFTED["worse"], "same": CRAFTED["same_a"],
              "other": CRAFTED["other"]}  # fmt: skip
    pairs = list(combinations(groups, 2))
    raw = [stats.ttest_rel(groups[a], groups[b]).pvalue for a, b in pairs]
    adjusted = dict(zip(pairs, multipletests(raw, method="holm")[1], strict=True))
    expected = {
        "worse": adjusted["best", "worse"],
        "same_a": adjusted["best", "same"],
        "same_b": adjusted["best", "same"],
        "same_c": adjusted["best", "same"],
        "other": adjusted["best", "other"],
    }
    assert verdict.p_holm == pytest.approx(expected, rel=1e-9)

    # the family is all pairs, identical setups once: not the comparisons with the best
    # alone, and not the identical setups counted three times
    with_best = multipletests(raw[:3], method="holm")[1]
    thrice = [*raw, *[raw[1]] * 2, *[raw[3]] * 2, *[raw[5]] * 2]
    counted_thrice = multipletests(thrice, method="holm")[1][0]
    assert with_best[0] < verdict.p_holm["worse"] < ALPHA <= counted_thrice
    assert verdict.separated == ["worse"]
    tied = dict(verdict.tied)
    assert set(tied) == {"same_a", "same_b", "same_c", "other"}
    assert tied["other"] == f"paired p = {raw[2]:.2g}"


def test_a_setup_that_the_comparisons_with_the_best_alone_would_separate_is_tied() -> None:
    """Raw p 0.013 against the best: Holm over the 3 comparisons with the best gives 0.040,
    over the 6 pairs 0.079, so the setup is tied, and the reason says which family."""
    values = {**CRAFTED, "worse": BEST + np.array([0.03, 0.05, 0.02, 0.04, 0.01])}
    runs = runs_of({"d": values})
    (verdict,) = verdicts(runs, summary_of(runs), METRIC, "min")
    raw = stats.ttest_rel(values["worse"], BEST).pvalue
    assert verdict.separated == []
    assert dict(verdict.tied)["worse"] == (
        f"paired p = {raw:.2g}, Holm-adjusted over all pairs {verdict.p_holm['worse']:.2g}"
    )


@pytest.mark.slow
def test_setups_equal_in_truth_are_rarely_separated_from_the_best() -> None:
    """Null data: 12 setups equal in truth, 3 seeds (a split effect shared by every setup,
    and noise), 250 draws. Choosing the best on the same test values and Holm-correcting only
    its 11 comparisons separated some setup in about 10 % of draws; Holm over all pairs keeps
    that share at most about the 5 % the tests are run at."""
    draws, setups, seeds = 250, 12, 3
    rng = np.random.default_rng(0)
    split = rng.normal(0, 0.05, (draws, 1, seeds))
    values = 0.3 + split + rng.normal(0, 0.02, (draws, setups, seeds))
    runs = runs_of(
        {f"d{i:03d}": {f"s{j:02d}": values[i, j] for j in range(setups)} for i in range(draws)}
    )
    found = verdicts(runs, summary_of(runs), METRIC, "min")
    assert len(found) == draws and all(v.best is not None for v in found)
    share = np.mean([bool(v.separated) for v in found])
    assert share <= 0.06, f"some setup separated in {share:.1%} of draws where all are equal"
