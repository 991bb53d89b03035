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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lossbench.report.errors import ReportError
from lossbench.report.labels import format_value
from lossbench.report.stats import (
    ALPHA,
    BETTER,
    SAME,
    WORSE,
    Paired,
    holm,
    identical,
    paired_test,
    per_seed,
)

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
    valid = {*tasks, *(t for t in tasks.values() if isinstance(t, str))}
    valid |= {_base_name(d) for d in tasks}
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
    Holm-adjusted over the setups compared in that data set and metric; ``verdict`` follows
    ``p_holm``.
    """
    rows = []
    for data, group in runs.groupby("data"):
        baseline = baselines.get(data)
        if baseline is None:
            continue
        reference = group[group["setup"] == baseline]
        for metric in metrics:
            ref = per_seed(reference, metric)
            family = []
            for setup, candidate in group.groupby("setup"):
                if setup == baseline:
                    continue
                values = per_seed(candidate, metric)
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
            for row, adjusted in zip(family, holm([r["p_value"] for r in family]), strict=True):
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
    #: (setup, why) for converged setups that may not be named best either: results on fewer
    #: seeds than another converged setup has (the others failed or were not run), so their
    #: mean is over other, fewer splits.
    fewer_seeds: list[tuple[str, str]] = field(default_factory=list)


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
    comparison), with its p-value Holm-adjusted (``p_holm``) over the comparisons with the
    best; where it cannot (fewer than 2 shared seeds, zero variance), overlapping 95 %
    intervals count as a tie, and so does having too few seeds for an interval.
    """
    if paired.verdict == SAME:
        return paired.note or f"paired p = {paired.p_value:.2g}"
    if paired.verdict in (BETTER, WORSE):
        if p_holm is not None and p_holm >= ALPHA:
            return f"paired p = {paired.p_value:.2g}, Holm-adjusted {p_holm:.2g}"
        return None
    overlap = _overlap(best, other, metric)
    if overlap is None:
        return "too few seeds to separate"
    return "95 % intervals overlap" if overlap else None


def unconverged(row: pd.Series) -> str | None:
    """Why the setup of a summary row may not be named best, or None: most of its selected
    runs (``n_improving`` of ``n_completed``) hit the epoch cap while still improving."""
    improving, done = row.get("n_improving", 0), row.get("n_completed", 0)
    if pd.isna(improving) or not done or 2 * int(improving) <= int(done):
        return None
    return f"{int(improving)} of {int(done)} runs hit the epoch cap still improving"


def without_early_stopping(runs: pd.DataFrame, setups: list[str]) -> list[str]:
    """The ``setups`` with a run in ``runs`` that reached the cap still improving and was
    trained without early stopping (``_early_stopping`` False)."""
    if "_early_stopping" not in runs or "still_improving" not in runs:
        return []
    improving = runs["still_improving"].fillna(False).astype(bool)
    off = improving & runs["_early_stopping"].map(lambda on: on is False)
    return [s for s in setups if (off & (runs["setup"] == s)).any()]


def verdicts(runs: pd.DataFrame, summary: pd.DataFrame, metric: str, mode: str) -> list[Verdict]:
    """The best setup by ``metric`` per data set (rank 1 of ``summary``), and its ties.

    ``summary`` is :func:`lossbench.report.stats.summarize`'s table with a boolean ``baseline``
    column; among equal means the baseline is named best (it is the one to beat). A setup
    whose runs mostly hit the epoch cap (:func:`unconverged`) is never named best, nor is one
    with results on fewer seeds than another converged setup (a mean over one lucky split is
    not a mean over three); setups with results identical to the best's on every seed form one
    group with it; the other eligible setups' paired tests against the best are Holm-adjusted
    together.
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
        verdict.without_early_stopping = without_early_stopping(
            group, [s for s, _ in verdict.unconverged]
        )
        # a boolean array, not a list: an empty list would select no columns, not no rows
        converged = [reasons[setup] is None for setup in ranked["setup"]]
        ranked = ranked[np.array(converged, dtype=bool)]
        seeds = ranked[f"{metric}_n"].astype(int)
        most = int(seeds.max()) if len(seeds) else 0
        verdict.fewer_seeds = [
            (setup, f"results on {n} of {most} seeds")
            for setup, n in zip(ranked["setup"], seeds, strict=True)
            if n < most
        ]
        ranked = ranked[(seeds == most).to_numpy()]
        if not ranked.empty:
            best = ranked.iloc[0]
            verdict.best = best["setup"]
            verdict.mean, verdict.n = best[f"{metric}_mean"], int(best[f"{metric}_n"])
            verdict.ci_low, verdict.ci_high = best[f"{metric}_ci_low"], best[f"{metric}_ci_high"]
            reference = per_seed(group[group["setup"] == best["setup"]], metric)
            others = []
            for _, other in ranked.iloc[1:].iterrows():
                candidate = per_seed(group[group["setup"] == other["setup"]], metric)
                if identical(candidate, reference):
                    verdict.identical.append(other["setup"])
                else:
                    others.append((other, paired_test(candidate, reference, mode)))
            adjusted = holm([paired.p_value for _, paired in others])
            for (other, paired), p_holm in zip(others, adjusted, strict=True):
                reason = tie_reason(paired, best, other, metric, p_holm)
                if reason is not None:
                    verdict.tied.append((other["setup"], reason))
                else:
                    verdict.separated.append(other["setup"])
        out.append(verdict)
    return out
