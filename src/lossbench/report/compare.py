"""Which setup is the baseline, how every setup compares with it, and which setup wins.

Comparisons pair runs by seed (same split, same initialisation seed) and use a two-sided
paired t-test; the p-values of one data set and metric are Holm-adjusted together (the family
of comparisons made there), and the verdict is "better" / "worse" in the metric's own direction
(lower nll is better, higher accuracy is better) where the adjusted p is below ``ALPHA`` = 0.05,
else "no detectable difference".

    >>> DEFAULT_BASELINES["multiclass"]
    ('logits', 'cross_entropy')
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lossbench.metric_names import metric_range
from lossbench.report.errors import ReportError
from lossbench.report.labels import format_value
from lossbench.report.separated import separated_runs
from lossbench.report.stats import (
    ALPHA,
    BETTER,
    SAME,
    WORSE,
    Paired,
    estimate,
    holm_all_pairs,
    holm_once,
    identical_groups,
    paired_test,
    per_seed,
    trained_runs,
)
from lossbench.tuning_grid import tie_tolerance

#: The baseline per task, as (head, loss): the numerically stable standard choices.
DEFAULT_BASELINES: dict[str, tuple[str, str]] = {
    "binary": ("logits", "bce_with_logits"),
    "multilabel": ("logits", "bce_with_logits"),
    "multiclass": ("logits", "cross_entropy"),
    "dense_binary": ("logits", "bce_with_logits"),
    "dense_multiclass": ("logits", "cross_entropy"),
}


def _squash(label: str) -> str:
    return "".join(label.split())


def _loss_defaults(loss: str) -> dict[str, str]:
    """``loss.<key>`` -> default value (formatted) from the loss's config schema."""
    from lossbench.config import SCHEMAS

    schema = SCHEMAS["loss"].get(loss)
    if schema is None:
        return {}
    defaults = {}
    for f in dataclasses.fields(schema):
        if f.name == "name":
            continue
        if f.default is not dataclasses.MISSING:
            defaults[f"loss.{f.name}"] = format_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f"loss.{f.name}"] = format_value(f.default_factory())
    return defaults


def _non_defaults(group: pd.DataFrame, loss: str) -> int:
    """How many loss parameters differ from the schema defaults in a setup's configs."""
    defaults = _loss_defaults(loss)
    configs = [c for c in group["_config"] if c is not None]
    if not configs:
        return len(defaults)  # unknown: prefer a setup whose config is known
    config = configs[0]
    return sum(format_value(config[k]) != v for k, v in defaults.items() if k in config)


def _default_baseline(runs: pd.DataFrame, task: str | None) -> str | None:
    """The setup with the task's default head and loss and the fewest non-default loss
    parameters (so ``label_smoothing=0`` and not 0.1, ``pos_weight`` unset and not auto)."""
    if task not in DEFAULT_BASELINES:
        return None
    head, loss = DEFAULT_BASELINES[task]
    matching = runs[(runs["head"] == head) & (runs["loss"] == loss)]
    ranked = sorted(
        (_non_defaults(group, loss), -int((group["status"] == "completed").sum()), len(s), s)
        for s, group in matching.groupby("setup")
    )
    return ranked[0][-1] if ranked else None


def _check_has_results(runs: pd.DataFrame, key: str, setup: str) -> None:
    """Refuse a baseline none of whose runs in ``runs`` (the data sets ``key`` names)
    completed: every comparison with it would be undetermined.

    Raises:
        ReportError: What was given, why (refused as not applicable, or failed in training,
            with the first run's error), and the setups that have results there.
    """
    of_setup = runs[runs["setup"].map(_squash) == _squash(setup)]
    if (of_setup["status"] == "completed").any():
        return
    label = of_setup["setup"].iloc[0]
    where = ", ".join(sorted(of_setup["data"].unique()))
    error = next((e for e in of_setup["error"] if isinstance(e, str) and e), "no reason given")
    if of_setup["refused"].all():
        why = f"every run of {label} in {where} was refused before training ({error})"
    else:
        why = f"no run of {label} in {where} completed ({len(of_setup)} failed: {error})"
    usable = sorted(set(runs.loc[runs["status"] == "completed", "setup"]))
    raise ReportError(
        f"--baseline {key}={setup}: {why}, so nothing could be compared with it. "
        f"Setups with results there: {'; '.join(usable) or 'none'}."
    )


def choose_baselines(
    runs: pd.DataFrame, overrides: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The baseline setup of each data set (None when the study has no suitable setup).

    Args:
        runs: The results table.
        overrides: ``{task or data set: setup label}``; a data-set key wins over a task key.
            Labels match ignoring spaces (``logits+cross_entropy``).

    Raises:
        ReportError: A key that is neither a task nor a data set of the study, a setup that
            none of the data sets it applies to has, or one none of whose runs there completed
            (refused as not applicable, or failed in training).
    """
    overrides = dict(overrides or {})
    tasks = runs.groupby("data")["task"].first().to_dict()
    valid = _baseline_keys(tasks)
    for key, setup in overrides.items():
        applies = [d for d, t in tasks.items() if key in (d, t, _base_name(d))]
        if not applies:
            raise ReportError(
                f"--baseline {key}={setup}: {key!r} is neither a task nor a data set of this "
                f"study. Valid keys: {', '.join(sorted(valid))}."
            )
        there = runs[runs["data"].isin(applies)]
        labels = set(there["setup"])
        if _squash(setup) not in {_squash(label) for label in labels}:
            raise ReportError(
                f"--baseline {key}={setup}: no such setup in {', '.join(applies)}. "
                f"Setups there: {'; '.join(sorted(labels))}."
            )
        _check_has_results(there, key, setup)
    chosen: dict[str, str | None] = {}
    for data, group in runs.groupby("data"):
        # the most specific key: the data set, the name it was split from, its task
        key = next((k for k in (data, _base_name(data), tasks[data]) if k in overrides), None)
        wanted = None if key is None else _squash(overrides[key])
        named = next((s for s in group["setup"] if _squash(s) == wanted), None)
        chosen[data] = named or _default_baseline(group, tasks[data])
        if key is not None and named is None:
            warnings.warn(
                f"--baseline {key}={overrides[key]}: {data} has no such setup (setups there: "
                f"{'; '.join(sorted(set(group['setup'])))}); its baseline stays "
                f"{chosen[data] or 'none'}.",
                BaselineWarning,
                stacklevel=2,
            )
    return chosen


def _baseline_keys(tasks: Mapping[str, str | None]) -> set[str]:
    """The keys a ``--baseline`` may name for the data sets ``tasks`` (``{data: task}``): the
    data sets, their tasks, and the names the data sets were split from."""
    return {*tasks, *(t for t in tasks.values() if isinstance(t, str))} | {
        _base_name(d) for d in tasks
    }


def applicable_baselines(
    runs: pd.DataFrame, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The keys of ``overrides`` that name a task or data set of ``runs`` (the others, which
    :func:`choose_baselines` refuses, left out): the report's ``--baseline`` choices for
    another study, such as the longer study of the budget check.

        >>> runs = pd.DataFrame({"data": ["wine"], "task": ["multiclass"]})
        >>> applicable_baselines(runs, {"wine": "a", "iris": "b", "binary": "c"})
        {'wine': 'a'}
    """
    valid = _baseline_keys(runs.groupby("data")["task"].first().to_dict())
    return {key: setup for key, setup in (overrides or {}).items() if key in valid}


class BaselineWarning(UserWarning):
    """A ``--baseline`` that some of the data sets it applies to cannot take."""


def _base_name(data: str) -> str:
    """The data set's name without the data settings that split it from others of its name
    (:func:`lossbench.report.labels.data_labels`): ``synthetic_binary (label_noise=0.4)`` ->
    ``synthetic_binary``.

        >>> _base_name("synthetic_binary (label_noise=0.4)"), _base_name("wine")
        ('synthetic_binary', 'wine')
    """
    return data.split(" (", 1)[0]


def _positions(values: Mapping[str, pd.Series]) -> list[list[int]]:
    """The groups of :func:`~lossbench.report.stats.identical_groups` as positions in
    ``values``' order, as :func:`~lossbench.report.stats.holm_once` takes them.

        >>> s = pd.Series([0.1, 0.2])
        >>> _positions({"a": s, "b": s + 0.1, "c": s + 1e-9})
        [[0, 2], [1]]
    """
    position = {name: i for i, name in enumerate(values)}
    return [[position[name] for name in g] for g in identical_groups(dict(values))]


def compare_with_baselines(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    modes: Mapping[str, str],
    baselines: Mapping[str, str | None],
) -> pd.DataFrame:
    """One row per data set, metric and setup other than the baseline: the paired comparison
    (``mean_diff`` = setup minus baseline, its 95 % interval, ``p_value``, ``verdict``, ``note``),
    the effect size in % of the baseline's mean over the same seeds (``diff_pct``) and
    ``p_holm``, the p-value
    Holm-adjusted over the setups compared in that data set and metric, each group of setups
    whose values of the metric are identical on every seed counted once
    (:func:`~lossbench.report.stats.holm_once`); ``verdict`` follows ``p_holm``.
    """
    rows = []
    for data, group in runs.groupby("data"):
        baseline = baselines.get(data)
        if baseline is None:
            continue
        reference = group[group["setup"] == baseline]
        for metric in metrics:
            ref = per_seed(reference, metric)
            family, tested = [], {}
            for setup, candidate in group.groupby("setup"):
                if setup == baseline:
                    continue
                values = per_seed(candidate, metric)
                tested[setup] = values
                result = paired_test(values, ref, modes[metric])
                if candidate["refused"].all():
                    result = dataclasses.replace(result, note="not applicable: every run refused")
                # the baseline's mean over the seeds the difference is taken on
                paired = ref[ref.index.isin(values.index) & np.isfinite(ref)]
                paired = paired[np.isfinite(values.reindex(paired.index))]
                base = float(paired.mean()) if len(paired) else float("nan")
                family.append(
                    {
                        "data": data,
                        "task": candidate["task"].iloc[0],
                        "metric": metric,
                        "setup": setup,
                        "baseline": baseline,
                        **dataclasses.asdict(result),
                        "diff_pct": 100 * result.mean_diff / abs(base) if base else float("nan"),
                    }
                )
            p_holm = holm_once([r["p_value"] for r in family], _positions(tested))
            for row, adjusted in zip(family, p_holm, strict=True):
                row["p_holm"] = adjusted
                if row["verdict"] in (BETTER, WORSE) and adjusted >= ALPHA:
                    row["verdict"] = SAME
                    row["note"] = f"p = {row['p_value']:.2g}, not below {ALPHA} after Holm"
            rows += family
    columns = ["data", "task", "metric", "setup", "baseline"]
    columns += [f.name for f in dataclasses.fields(Paired)]
    columns += ["p_holm", "diff_pct"]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class Verdict:
    """The headline of one data set: the best setup and the setups it cannot be told from."""

    data: str
    task: str | None
    metric: str
    best: str | None
    mean: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    n: int = 0
    #: (setup, why it is tied with the best)
    tied: list[tuple[str, str]] = field(default_factory=list)
    #: Setups with results that the data separate from the best (worse, by the same rule).
    separated: list[str] = field(default_factory=list)
    #: Setup of ``tied`` or ``separated`` -> the p-value of its paired test against the best,
    #: Holm-adjusted over every pair of eligible setups (NaN where no paired test gives one).
    p_holm: dict[str, float] = field(default_factory=dict)
    #: Setups every run of which was refused before training (head + loss cannot do the task).
    not_applicable: list[str] = field(default_factory=list)
    #: Setups without a completed run that has the metric, for other reasons.
    no_result: list[str] = field(default_factory=list)
    n_failed: int = 0
    #: Setups whose results equal the best's on every seed: one group with it.
    identical: list[str] = field(default_factory=list)
    #: (setup, why) for setups that may not be named best: most of their selected runs hit the
    #: epoch cap while still improving, so a longer budget could change their result.
    unconverged: list[tuple[str, str]] = field(default_factory=list)
    #: The setups of ``unconverged`` with runs trained without early stopping (each such run
    #: trains until the cap, converged or not).
    without_early_stopping: list[str] = field(default_factory=list)
    #: (setup, why) for converged setups that may not be named best either: no results on a
    #: seed that more than half of the converged setups have (it failed or was not run), so
    #: their mean is over other, fewer splits.
    fewer_seeds: list[tuple[str, str]] = field(default_factory=list)
    #: Seeds of the best's results that ``mean`` and the comparisons leave out: half of the
    #: converged setups or fewer have them (:func:`_eligible_seeds`).
    left_out_seeds: list = field(default_factory=list)
    #: Where ``best`` is None because setups of ``unconverged`` already beat the best
    #: converged setup: that setup (with the setups identical to it, ``a = b``) and its mean.
    best_converged: str | None = None
    best_converged_mean: float = float("nan")
    #: (setup, its mean) of the setups of ``unconverged`` whose mean beats
    #: ``best_converged_mean``: a longer budget could overturn a verdict that named it.
    beaten_by: list[tuple[str, float]] = field(default_factory=list)
    #: (runs that classify their validation split perfectly, runs still improving at the cap)
    #: among the runs of ``unconverged`` at every rate trained without weight decay: a higher
    #: cap does not settle the first (:mod:`lossbench.report.separated`).
    perfect_runs: tuple[int, int] = (0, 0)


def _overlap(a: pd.Series, b: pd.Series, metric: str) -> bool | None:
    lo, hi = f"{metric}_ci_low", f"{metric}_ci_high"
    if pd.isna(a[lo]) or pd.isna(b[lo]):
        return None
    return bool(a[lo] <= b[hi] and b[lo] <= a[hi])


def tie_reason(
    paired: Paired, best: pd.Series, other: pd.Series, metric: str, p_holm: float | None = None
) -> str | None:
    """Why ``other`` is tied with ``best``, or None when the data separate them.

    The paired test decides where it can (seeds are paired, which is the more sensitive
    comparison), with its p-value Holm-adjusted (``p_holm``) over every pair of eligible
    setups (:func:`verdicts`); where it cannot (fewer than 2 shared seeds, zero variance),
    overlapping 95 % intervals count as a tie, and so does having too few seeds for an
    interval.
    """
    if paired.verdict == SAME:
        return paired.note or f"paired p = {paired.p_value:.2g}"
    if paired.verdict in (BETTER, WORSE):
        if p_holm is not None and p_holm >= ALPHA:
            return f"paired p = {paired.p_value:.2g}, Holm-adjusted over all pairs {p_holm:.2g}"
        return None
    overlap = _overlap(best, other, metric)
    if overlap is None:
        return "too few seeds to separate"
    return "95 % intervals overlap" if overlap else None


def unconverged(row: Mapping | pd.Series) -> str | None:
    """Why the setup of a summary row may not be named best, or None: most of its selected
    runs (``n_improving`` of ``n_completed``) hit the epoch cap while still improving, or its
    learning-rate choice is unsettled (``lr_unsettled``: another rate of its grid mostly hit
    the cap still improving, :func:`lossbench.report.selection.unsettled_rates`).

        >>> unconverged({"n_improving": 2, "n_completed": 3})
        '2 of 3 runs hit the epoch cap still improving'
        >>> unconverged({"n_improving": 0, "n_completed": 3,
        ...              "lr_unsettled": "rate choice unsettled: lr 0.003 still improving at "
        ...                              "the cap in 3 of 3 runs"})
        'rate choice unsettled: lr 0.003 still improving at the cap in 3 of 3 runs'
        >>> unconverged({"n_improving": 1, "n_completed": 3}) is None
        True
    """
    reasons = []
    improving, done = row.get("n_improving", 0), row.get("n_completed", 0)
    if not pd.isna(improving) and done and 2 * int(improving) > int(done):
        reasons.append(f"{int(improving)} of {int(done)} runs hit the epoch cap still improving")
    unsettled = row.get("lr_unsettled")
    if isinstance(unsettled, str) and unsettled:
        reasons.append(unsettled)
    return "; ".join(reasons) or None


def without_early_stopping(runs: pd.DataFrame, setups: list[str]) -> list[str]:
    """The ``setups`` with a run in ``runs`` that reached the cap still improving and was
    trained without early stopping (``_early_stopping`` False)."""
    if "_early_stopping" not in runs or "still_improving" not in runs:
        return []
    improving = runs["still_improving"].fillna(False).astype(bool)
    off = improving & runs["_early_stopping"].map(lambda on: on is False)
    return [s for s in setups if (off & (runs["setup"] == s)).any()]


def _eligible_seeds(trained: Mapping[str, set]) -> list:
    """The seeds a converged setup needs results on to be named best: those that more than
    half of the converged setups were trained with (``trained``: each one's seeds with a
    completed or failed run). A seed that half of them or fewer were trained with (one of two
    setups trained again with an extra seed) raises no bar for the others; a seed most were
    trained with and one lacks (it failed, or was not run) does.

        >>> _eligible_seeds({"a": {0, 1, 2, 3}, "b": {0, 1, 2}, "c": {0, 1, 2}})
        [0, 1, 2]
        >>> _eligible_seeds({"a": {0, 1, 2}, "b": {0, 1, 2}, "c": {0}})
        [0, 1, 2]
        >>> _eligible_seeds({"a": {0, 1, 2, 3}, "b": {0, 1, 2}})  # a's extra seed
        [0, 1, 2]
    """
    counts = Counter(seed for seeds in trained.values() for seed in seeds)
    return sorted(seed for seed, n in counts.items() if 2 * n > len(trained))


def _trained_seeds(runs: pd.DataFrame) -> set:
    """The seeds of ``runs`` (one setup's selected runs) that completed or failed in training
    (not refused)."""
    return set(trained_runs(runs)["seed"])


def _fewer_seeds(values: pd.Series, trained: set, required: Sequence) -> str | None:
    """Why a converged setup may not be named best for its seeds, or None: it lacks results
    on a seed most converged setups were trained with, or on one of its own (its run there
    failed).

        >>> _fewer_seeds(pd.Series([0.1], index=[0]), {0, 1, 2}, [0])
        'results on 1 of 3 seeds'
        >>> _fewer_seeds(pd.Series([0.1, 0.2], index=[0, 1]), {0, 1}, [0, 1]) is None
        True
    """
    wanted = set(required) | trained
    have = wanted & set(values.index)
    return None if have == wanted else f"results on {len(have)} of {len(wanted)} seeds"


def _hold_back(verdict: Verdict, rows: pd.DataFrame, metric: str, mode: str) -> None:
    """Name no best in ``verdict`` where a setup of its ``unconverged`` (still improving at
    the cap, or its rate choice unsettled) already has a better mean than the best converged
    setup: a longer budget could overturn a verdict that named the converged one. The best
    converged setup and the setups that beat it are kept in ``best_converged``,
    ``best_converged_mean`` and ``beaten_by``."""
    means = rows.set_index("setup")[f"{metric}_mean"]
    top = float(verdict.mean)
    beaten_by = []
    for setup, _ in verdict.unconverged:
        mean = float(means.get(setup, float("nan")))
        if not np.isfinite(mean) or abs(mean - top) <= tie_tolerance(mean, top):
            continue
        if (mean < top) if mode == "min" else (mean > top):
            beaten_by.append((setup, mean))
    if not beaten_by:
        return
    verdict.best_converged = " = ".join([str(verdict.best), *verdict.identical])
    verdict.best_converged_mean = top
    verdict.beaten_by = sorted(beaten_by, key=lambda item: item[1], reverse=mode != "min")
    verdict.best = None
    verdict.mean = verdict.ci_low = verdict.ci_high = float("nan")
    verdict.n = 0
    verdict.tied, verdict.separated, verdict.identical = [], [], []
    verdict.p_holm = {}
    verdict.left_out_seeds = []


def verdicts(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    metric: str,
    mode: str,
    every_rate: pd.DataFrame | None = None,
) -> list[Verdict]:
    """The best setup by ``metric`` per data set, and its ties (``runs``: those of the chosen
    rates; ``every_rate``: the runs at every rate, where the advice on early stopping looks
    for runs trained without it, as a setup's unsettled rate choice comes from another rate).

    ``summary`` is :func:`lossbench.report.stats.summarize`'s table with a boolean ``baseline``
    column. A setup whose runs mostly hit the epoch cap (:func:`unconverged`) is never named
    best, nor is one without results on a seed that more than half of the converged setups
    were trained with, or on one of its own (:func:`_eligible_seeds`, :func:`_fewer_seeds`:
    its run there failed or was not run, and a mean over one lucky split is not a mean over
    three). The best is the eligible setup with the best mean
    over those seeds, the ones every eligible setup has (a seed only a few setups have is left
    out of the comparison, so every mean is over the same splits); means equal to float32
    rounding are ties, and among ties the baseline is named best (it is the one to beat), then
    the setup ranked first. Setups with results identical to the best's on every one of those
    seeds form one group with it; the other eligible setups' paired tests against the best,
    over those seeds, are read from Holm's correction over every pair of eligible setups,
    each group of setups identical to one another counted once
    (:func:`~lossbench.report.stats.holm_all_pairs`): the best is chosen on the same data,
    so a family of only its k - 1 comparisons would separate equal setups from it more often
    than 5 % of the time (about 10 % with 12 equal setups and 3 seeds); Holm over all pairs
    holds for whichever pairs are read. Where a setup held
    back as unconverged (or whose rate choice is unsettled) has a better mean than that best,
    no best is named (:func:`_hold_back`): a longer budget could overturn the verdict.
    """
    out = []
    for data, rows in summary.groupby("data", sort=True):
        group = runs[runs["data"] == data]
        ranked = rows.dropna(subset=[f"{metric}_mean"]).sort_values(
            ["rank", "baseline", "setup"], ascending=[True, False, True]
        )
        refused = list(rows.loc[rows["n_refused"] == rows["n_runs"], "setup"])
        verdict = Verdict(
            data=data,
            task=rows["task"].iloc[0],
            metric=metric,
            best=None,
            not_applicable=refused,
            no_result=[s for s in rows["setup"] if s not in {*ranked["setup"], *refused}],
            n_failed=int(rows["n_failed"].sum() - rows["n_refused"].sum()),
        )
        reasons = {r["setup"]: unconverged(r) for r in ranked.to_dict("records")}
        verdict.unconverged = [(s, why) for s, why in reasons.items() if why is not None]
        everywhere = group if every_rate is None else every_rate[every_rate["data"] == data]
        verdict.without_early_stopping = without_early_stopping(
            everywhere, [s for s, _ in verdict.unconverged]
        )
        verdict.perfect_runs = separated_runs(everywhere, [s for s, _ in verdict.unconverged])
        # a boolean array, not a list: an empty list would select no columns, not no rows
        converged = [reasons[setup] is None for setup in ranked["setup"]]
        ranked = ranked[np.array(converged, dtype=bool)]
        values, trained = {}, {}
        for setup in ranked["setup"]:
            own = group[group["setup"] == setup]
            v = per_seed(own, metric)
            values[setup], trained[setup] = v[np.isfinite(v)], _trained_seeds(own)
        seeds = _eligible_seeds(trained)
        short = {s: _fewer_seeds(values[s], trained[s], seeds) for s in ranked["setup"]}
        eligible = [s for s in ranked["setup"] if short[s] is None]
        verdict.fewer_seeds = [(s, why) for s, why in short.items() if why is not None]
        if seeds:  # the comparison is over the seeds every eligible setup has
            values = {s: values[s].loc[seeds] for s in eligible}
        ranked = ranked[ranked["setup"].isin(eligible).to_numpy()]
        if not ranked.empty:
            means = {
                s: float(values[s].mean()) if seeds else float(r[f"{metric}_mean"])
                for s, r in zip(ranked["setup"], ranked.to_dict("records"), strict=True)
            }
            top = (min if mode == "min" else max)(means.values())
            equal = [s for s, m in means.items() if abs(m - top) <= tie_tolerance(m, top)]
            baseline = set(ranked.loc[ranked["baseline"].astype(bool), "setup"])
            name = next((s for s in equal if s in baseline), equal[0])
            best = ranked[ranked["setup"] == name].iloc[0]
            verdict.best = name
            if seeds and len(values[name]) < int(best[f"{metric}_n"]):
                own = per_seed(group[group["setup"] == name], metric)
                verdict.left_out_seeds = sorted(set(own.index) - set(seeds))
                e = estimate(values[name], bounds=metric_range(metric))
                verdict.mean, verdict.n = e.mean, e.n
                verdict.ci_low, verdict.ci_high = e.low, e.high
                best = best.copy()  # its interval where no paired test decides, too
                best[f"{metric}_ci_low"], best[f"{metric}_ci_high"] = e.low, e.high
            else:
                verdict.mean, verdict.n = best[f"{metric}_mean"], int(best[f"{metric}_n"])
                verdict.ci_low = best[f"{metric}_ci_low"]
                verdict.ci_high = best[f"{metric}_ci_high"]
            reference = values[name]
            # the best first: its group is the setups identical to it
            order = [name, *(s for s in ranked["setup"] if s != name)]
            groups = identical_groups({s: values[s] for s in order})
            adjusted = holm_all_pairs(values, groups)
            for _, other in ranked[ranked["setup"] != name].iterrows():
                setup = other["setup"]
                if setup in groups[0]:
                    verdict.identical.append(setup)
                    continue
                paired = paired_test(values[setup], reference, mode)
                verdict.p_holm[setup] = float(adjusted.at[name, setup])
                reason = tie_reason(paired, best, other, metric, verdict.p_holm[setup])
                if reason is not None:
                    verdict.tied.append((setup, reason))
                else:
                    verdict.separated.append(setup)
            _hold_back(verdict, rows, metric, mode)
        out.append(verdict)
    return out
