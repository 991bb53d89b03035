"""What the report says, in order: the verdict per data set first, then the setups, the
tables, the plots and the failed runs. The blocks are written out by :mod:`.render`.

    >>> fmt(0.071234), fmt(float("nan"))
    ('0.07123', '–')
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from lossbench.report.collect import (
    UNFINISHED_FIX,
    UNFINISHED_WHY,
    left_out_debug_runs,
    without_record,
)
from lossbench.report.compare import Verdict
from lossbench.report.overview import MIN_BLOCKS, Family
from lossbench.report.render import Block, Bullets, Heading, Image, Table, Text
from lossbench.report.selection import missing_seeds, selection_metric
from lossbench.report.separated import mostly_separated, separated_advice
from lossbench.report.stats import ALPHA, seed_values
from lossbench.report.study import Study
from lossbench.report.study_command import study_arguments
from lossbench.report.yardstick import C_BOUNDS, C_GRID, NAME

TITLE = "lossbench study report"
ARROW = {"min": "↓", "max": "↑"}
DIRECTION = {"min": "lower is better", "max": "higher is better"}


def fmt(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` significant digits; "–" for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    return f"{value:.{digits}g}"


#: The summary table's heading: what its cells show.
SUMMARY_HEADING = (
    "Summary (mean ± 95 % CI half-width over seeds; mean [low, high] where the interval is "
    "clipped to the metric's range)"
)


def mean_ci(row: pd.Series, metric: str, unit: str = "seed") -> str:
    """``mean ± half-width`` of the 95 % interval, ``mean [low, high]`` where the interval is
    clipped to the metric's range (an accuracy near 1), or the mean and why there is none
    (one value: one ``unit``, a seed or, for the yardstick, a split).

    >>> mean_ci(pd.Series({"a_mean": 0.5, "a_ci_low": 0.4, "a_ci_high": 0.6}), "a")
    '0.5 ± 0.1'
    >>> mean_ci(pd.Series({"a_mean": 0.99, "a_ci_low": 0.95, "a_ci_high": 1.0}), "a")
    '0.99 [0.95, 1]'

    The bounds get as many digits as it takes for the printed interval to hold the printed
    mean (two significant digits would print 0.998087 as 1):

    >>> mean_ci(pd.Series({"a_mean": 0.9996, "a_ci_low": 0.998087, "a_ci_high": 1.0}), "a")
    '0.9996 [0.998, 1]'
    """
    mean = row.get(f"{metric}_mean", math.nan)
    if pd.isna(mean):
        return "–"
    low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
    if pd.isna(low):
        return f"{fmt(mean)} (1 {unit})"
    below, above = mean - low, high - mean
    if math.isclose(below, above, rel_tol=1e-6, abs_tol=1e-12):
        return f"{fmt(mean)} ± {fmt((high - low) / 2, 2)}"
    return f"{fmt(mean)} [{_bounds(low, high, fmt(mean))}]"


def _bounds(low: float, high: float, mean: str) -> str:
    """``low, high`` with two significant digits, or more where fewer would print an interval
    that leaves out the printed ``mean``."""
    for digits in range(2, 9):
        shown = fmt(low, digits), fmt(high, digits)
        if float(shown[0]) <= float(mean) <= float(shown[1]):
            break
    return ", ".join(shown)


def describe_setup(head: str, loss: str) -> str:
    """One line from the registries: what the head outputs and what the loss does with it."""
    from lossbench.heads import HEADS
    from lossbench.losses import LOSSES

    head_text = HEADS[head].summary if head in HEADS else "unknown head"
    loss_text = LOSSES[loss].summary if loss in LOSSES else "unknown loss"
    return f"head `{head}` ({head_text}) into loss `{loss}` ({loss_text})"


def failed_in_training(n_chosen: int, n_all: int | None = None) -> str:
    """The verdict's count of runs that failed in training: at the setups' chosen learning
    rates (``n_chosen``, the runs every figure is of) and at all rates (``n_all``, the runs
    of the Failed-runs table); empty where none failed.

    >>> failed_in_training(3, 9)
    " Runs that failed in training: 3 at the setups' chosen learning rates, 9 at all rates (see Failed runs)."
    >>> failed_in_training(2, 2)
    " Runs that failed in training: 2, all at the setups' chosen learning rates (see Failed runs)."
    """  # noqa: E501
    if n_all is None:
        if not n_chosen:
            return ""
        return (
            f" Runs that failed in training at the setups' chosen learning rates: {n_chosen} "
            "(see Failed runs)."
        )
    if not n_all and not n_chosen:
        return ""
    if n_all <= n_chosen:
        count = f"{n_chosen}, all at the setups' chosen learning rates"
    else:
        chosen = n_chosen or "none"
        count = f"{chosen} at the setups' chosen learning rates, {n_all} at all rates"
    return f" Runs that failed in training: {count} (see Failed runs)."


def no_result(metric: str) -> str:
    """Why a data set has no best setup where none is held back for not converging: the words
    of both its verdict in the report and its row of the verdict table.

        >>> no_result("test/miou")
        'no completed run records test/miou'
    """
    return f"no completed run records {metric}"


def verdict_text(v: Verdict, mode: str, n_failed_all: int | None = None) -> str:
    """One data set's verdict as a sentence; ``n_failed_all``: the data set's runs that failed
    in training at any learning rate (``v.n_failed`` counts the chosen rates' only)."""
    task = v.task if isinstance(v.task, str) else "task unknown"
    head = f"**{v.data}** ({task}, {v.metric}, {DIRECTION[mode]}): "
    if v.best is None and v.beaten_by:
        text = head + held_back(v)
    elif v.best is None and v.fewer_seeds:
        text = head + (
            "no setup may be named best: every converged setup lacks results on a seed that "
            "most of them have (listed below: a run there failed, or was not run), so there "
            "is no verdict; train the missing seeds, or report without the seeds only some "
            "setups have."
        )
    elif v.best is None and v.unconverged:
        text = head + (
            "no setup converged within the epoch cap (every setup with results had most of "
            "its selected runs, or of its runs at another learning rate of its grid, hit it "
            "while still improving), so there is no verdict"
            + ("." if mostly_separated(v.perfect_runs) else "; raise trainer.max_epochs.")
        )
    elif v.best is None:
        text = head + f"{no_result(v.metric)}, so there is no verdict."
    else:
        interval = (
            f"95 % CI {fmt(v.ci_low)} to {fmt(v.ci_high)}, {v.n} seeds"
            if not math.isnan(v.ci_low)
            else f"{v.n} seed, no interval"
        )
        best = " = ".join([v.best, *v.identical])
        text = head + f"best **{best}** ({fmt(v.mean)}; {interval}). "
        if v.left_out_seeds:
            left = ", ".join(str(_seed(x)) for x in v.left_out_seeds)
            one = len(v.left_out_seeds) == 1
            text += (
                f"Its seed{'' if one else 's'} {left} {'is' if one else 'are'} left out: half "
                "of the converged setups or fewer have results there, and the setups are "
                "compared on the seeds they share. "
            )
        if v.identical:
            text += "Those setups give identical results on every seed. "
        if v.tied:
            tied = "; ".join(f"**{s}** ({why})" for s, why in v.tied)
            text += f"Tied with it: {tied}."
        elif v.separated:
            text += "No other setup is tied with it."
        elif v.fewer_seeds:
            text += f"It is the only converged setup with results on all {v.n} seeds."
        elif v.unconverged:
            text += "It is the only converged setup with results."
        else:
            text += "It is the only setup with results."
        if v.separated:
            text += f" Separated from it (worse): {', '.join(v.separated)}."
    if v.unconverged:
        listed = "; ".join(f"**{s}** ({why})" for s, why in v.unconverged)
        text += f" Not eligible for best, not converged: {listed}."
        text += early_stopping_advice(v) + separated_advice(v.perfect_runs)
    if v.fewer_seeds:
        listed = "; ".join(f"**{s}** ({why})" for s, why in v.fewer_seeds)
        text += f" Not eligible for best, fewer seeds (failed or not run): {listed}."
    if v.not_applicable:
        text += f" Not applicable (refused before training): {', '.join(v.not_applicable)}."
    if v.no_result:
        text += f" No completed run with {v.metric}: {', '.join(v.no_result)}."
    return text + failed_in_training(v.n_failed, n_failed_all)


def held_back(v: Verdict) -> str:
    """Why no best is named where setups that did not converge (or whose rate choice is
    unsettled) already beat the best converged setup, and the advice: more epochs.

        >>> v = Verdict("wine", "multiclass", "test/nll", None, best_converged="a",
        ...             best_converged_mean=0.1, beaten_by=[("b", 0.08)])
        >>> print(held_back(v))
        no best is named: **b** (0.08) did not converge within the epoch cap (or its learning-rate choice is unsettled) and already beats the best converged setup, **a** (0.1), so a longer budget could overturn a verdict that named it; raise trainer.max_epochs.
    """  # noqa: E501
    listed = ", ".join(f"**{s}** ({fmt(m)})" for s, m in v.beaten_by)
    one = len(v.beaten_by) == 1
    return (
        f"no best is named: {listed} did not converge within the epoch cap (or "
        f"{'its' if one else 'their'} learning-rate choice is unsettled) and already "
        f"beat{'s' if one else ''} the best converged setup, **{v.best_converged}** "
        f"({fmt(v.best_converged_mean)}), so a longer budget could overturn a verdict that "
        "named it" + ("." if mostly_separated(v.perfect_runs) else "; raise trainer.max_epochs.")
    )


def _seed(seed: Any) -> Any:
    """A seed as a whole number where it is one (seeds read from a column with gaps are
    floats).

        >>> _seed(3.0), _seed(3), _seed("a")
        (3, 3, 'a')
    """
    return int(seed) if isinstance(seed, float) and seed.is_integer() else seed


def _failed_at_all_rates(study: Study, data: str) -> int:
    """The runs of ``data`` that failed in training (not refused), at every learning rate: the
    failed rows of the Failed-runs table."""
    runs = study.runs[study.runs["data"] == data]
    return int(((runs["status"] != "completed") & ~runs["refused"].astype(bool)).sum())


def early_stopping_advice(v: Verdict) -> str:
    """The sentence that follows the setups that did not converge where some of their runs
    were trained without early stopping; else "".

        >>> v = Verdict("iris", "multiclass", "test/nll", None, without_early_stopping=["a"])
        >>> early_stopping_advice(v)[:50]
        ' Early stopping was off in runs of a: with early_s'
    """
    if not v.without_early_stopping:
        return ""
    return (
        f" Early stopping was off in runs of {', '.join(v.without_early_stopping)}: with "
        "early_stopping.enabled=true each run trains until it has converged and stops there, "
        "the epoch cap a safety net."
    )


def no_best(verdict: Verdict) -> str:
    """What the verdict table says where no setup may be named best (the budget check's
    short form of the reason too)."""
    if verdict.beaten_by:
        names = ", ".join(s for s, _ in verdict.beaten_by)
        fix = "raise trainer.max_epochs"
        if verdict.without_early_stopping:
            fix += ", with early_stopping.enabled=true"
        if mostly_separated(verdict.perfect_runs):
            fix = "validation split classified perfectly: add optimizer.weight_decay"
        beat = "beats" if len(verdict.beaten_by) == 1 else "beat"
        return f"none: unconverged {names} {beat} the best converged ({fix})"
    if verdict.fewer_seeds:
        return "none: every converged setup lacks results on a seed most have"
    if verdict.unconverged and verdict.without_early_stopping:
        return (
            "none converged within the epoch cap (raise trainer.max_epochs, with "
            "early_stopping.enabled=true)"
        )
    if verdict.unconverged and mostly_separated(verdict.perfect_runs):
        return (
            "none converged within the epoch cap (validation split classified perfectly: "
            "add optimizer.weight_decay)"
        )
    if verdict.unconverged:
        return "none converged within the epoch cap (raise trainer.max_epochs)"
    return no_result(verdict.metric)


def verdict_table(study: Study) -> Table:
    """The short verdict table (also printed by the command line)."""
    rows = []
    for v in study.verdicts:
        tied = ", ".join(s for s, _ in v.tied) or "none"
        value = "–" if v.best is None else f"{fmt(v.mean)} [{fmt(v.ci_low)}, {fmt(v.ci_high)}]"
        best = " = ".join([v.best, *v.identical]) if v.best else no_best(v)
        rows.append([v.data, best, value, tied])
    header = ["data", f"best by {study.metric}", "mean [95 % CI]", "tied with best"]
    return Table(header, rows)


def _setup_lines(study: Study) -> list[str]:
    lines = []
    for setup, group in study.runs.groupby("setup", sort=True):
        row = group.iloc[0]
        derived = setup.startswith(f"{row['head']} + {row['loss']}")
        variants = sorted({v for v in group["variant"] if v and not setup.endswith(f"({v})")})
        extra = "" if derived or not variants else f"; {' / '.join(variants)}"
        lines.append(f"**{setup}**: {describe_setup(row['head'], row['loss'])}{extra}")
    return lines


def hit_cap(row: Mapping[str, Any] | pd.Series) -> str:
    """The summary table's "hit cap" cell: the selected runs that reached the epoch cap, and
    how many of them were still improving there where that is fewer.

        >>> hit_cap({"n_budget": 3, "n_improving": 3}), hit_cap({"n_budget": 3, "n_improving": 1})
        ('3', '3 (1 still improving)')
    """
    budget, improving = int(row.get("n_budget", 0)), int(row.get("n_improving", 0))
    return str(budget) if improving == budget else f"{budget} ({improving} still improving)"


def _summary_table(study: Study, data: str) -> Table:
    rows = study.summary[study.summary["data"] == data]
    baseline = study.baselines.get(data)
    header = ["rank", "setup", "runs: ok / failed / refused", "lr", "hit cap"]
    header += [f"{m} {ARROW[study.modes[m]]}" for m in study.headline]
    header += ["steps to 1 %", "fit s"]
    body = []
    for _, row in rows.iterrows():
        mark = " (baseline)" if row["setup"] == baseline else ""
        if row.get("identical_to"):
            mark += f" (= {row['identical_to']})"
        cells = [fmt(row["rank"]), f"{row['setup']}{mark}"]
        crashed = row["n_failed"] - row["n_refused"]
        cells.append(f"{row['n_completed']} / {crashed} / {row['n_refused']}")
        edge = " (grid edge)" if row.get("lr_at_edge") is True else ""
        cells.append(f"{fmt(row.get('lr', math.nan), 2)}{edge}")
        cells.append(hit_cap(row))
        cells += [mean_ci(row, m) for m in study.headline]
        cells += [fmt(row.get("steps_to_1pct_mean"), 3), fmt(row.get("train_seconds_mean"), 2)]
        body.append(cells)
    yardstick = study.yardstick
    if yardstick is not None:
        for _, row in yardstick[yardstick["data"] == data].iterrows():
            n = int(row["n_splits"])
            cells = ["–", f"{row['setup']} (reference)", f"{n} split{'s' if n > 1 else ''}"]
            cells += ["–", "–"]
            cells += [mean_ci(row, m, "split") for m in study.headline]
            cells += ["–", fmt(row.get("train_seconds_mean"), 2)]
            body.append(cells)
    return Table(header, body)


def _learning_rate_table(study: Study, data: str) -> Table | None:
    """Every learning rate of the grid, not only the chosen one: mean ranking metric over
    seeds, the share of saturated probabilities where recorded, and failed runs; the chosen
    rate is marked. None for a study with one rate per setup."""
    runs = study.runs[(study.runs["data"] == data) & study.runs["lr"].notna()]
    rates = sorted(runs["lr"].unique())
    if len(rates) < 2:
        return None
    saturated = study.metric.rpartition("/")[0] + "/saturated"
    body = []
    for setup, group in runs.groupby("setup", sort=True):
        if group["refused"].all():
            continue
        cells = [setup]
        missing = missing_seeds(group, selection_metric(study.metric))
        for lr in rates:
            at = group[group["lr"] == lr]
            done = at[at["status"] == "completed"]
            lacking = missing.get(lr, [])
            if at.empty and not lacking:
                cells.append("–")
                continue
            text = fmt(seed_values(done, study.metric).mean(), 3) if len(done) else "–"
            if saturated in done and len(done):
                text += f", sat. {fmt(seed_values(done, saturated).mean(), 2)}"
            if len(done) < len(at):
                text += f", {len(at) - len(done)} failed"
            if lacking:
                seeds = ", ".join(str(s) for s in lacking)
                text += f", {len(lacking)} missing (seed{'s' if len(lacking) > 1 else ''} {seeds})"
            if at["selected"].any():
                text = f"**{text}**"
            cells.append(text)
        body.append(cells)
    header = ["setup", *(f"lr {lr:g}" for lr in rates)]
    return Table(header, body)


def _comparison_table(study: Study, data: str) -> Table | None:
    c = study.comparisons
    rows = c[(c["data"] == data) & (c["metric"] == study.metric)]
    if rows.empty:
        return None
    header = ["setup", "pairs", f"Δ {study.metric} (setup − baseline)", "Δ %", "95 % CI"]
    header += ["p", "p (Holm)", "verdict"]
    body = []
    for _, r in rows.iterrows():
        interval = "–"
        if not pd.isna(r["ci_low"]):
            interval = f"{fmt(r['ci_low'], 3)} to {fmt(r['ci_high'], 3)}"
        verdict = r["verdict"] + (f" ({r['note']})" if r["note"] else "")
        body.append(
            [
                r["setup"],
                str(r["n_pairs"]),
                fmt(r["mean_diff"], 3),
                fmt(r["diff_pct"], 3),
                interval,
                fmt(r["p_value"], 2),
                fmt(r["p_holm"], 2),
                verdict,
            ]
        )
    return Table(header, body)


def _other_metrics_table(study: Study, data: str) -> Table | None:
    c = study.comparisons
    others = [m for m in study.headline if m != study.metric]
    rows = c[(c["data"] == data) & c["metric"].isin(others) & (c["n_pairs"] > 0)]
    if rows.empty:
        return None
    body = []
    for setup, group in rows.groupby("setup", sort=False):
        cells = [setup]
        for metric in others:
            hit = group[group["metric"] == metric]
            if hit.empty:
                cells.append("–")
                continue
            r = hit.iloc[0]
            cells.append(
                f"{r['verdict']} (Δ {fmt(r['mean_diff'], 2)}, Holm p {fmt(r['p_holm'], 2)})"
            )
        body.append(cells)
    return Table(["setup", *others], body)


def _failed_table(study: Study) -> Table | None:
    failed = study.runs[study.runs["status"] != "completed"]
    if failed.empty:
        return None
    body = []
    keys = ["data", "setup", "lr", "refused", "error"]
    for (data, setup, lr, refused, error), group in failed.fillna({"error": ""}).groupby(
        keys, sort=True, dropna=False
    ):
        seeds = ", ".join(str(s) for s in group["seed"] if not pd.isna(s)) or "?"
        dirs = ", ".join(_relative(d, study) for d in group["run_dir"])
        kind = "refused" if refused else "failed"
        body.append([data, setup, fmt(lr, 2), seeds, kind, error or "(no message)", dirs])
    return Table(["data", "setup", "lr", "seeds", "kind", "error", "run directories"], body)


def _duplicates(study: Study) -> Text | None:
    """A note on seeds recorded twice for one setup (e.g. two studies reported together)."""
    done = study.selected[study.selected["status"] == "completed"]
    counts = done.groupby(["data", "setup", "seed"]).size()
    twice = counts[counts > 1]
    if twice.empty:
        return None
    listed = "; ".join(f"{d} / {s} / seed {seed} ({n} runs)" for (d, s, seed), n in twice.items())
    return Text(
        f"Seeds recorded more than once: {listed}. Each seed counts once, with the mean of its "
        "runs, in the summary, the intervals and the paired tests."
    )


def _debug_runs(study: Study) -> Text | None:
    """A note on the debug runs left out of the report, naming a few (None: there were none)."""
    if not study.debug_runs:
        return None
    listed = left_out_debug_runs(study.debug_runs, lambda path: f"`{_relative(path, study)}`")
    return Text(
        f"{listed}. A run trained with Lightning's debug settings checks that it works, and is "
        "no result: no table, figure or verdict here counts one. Train without "
        "`trainer.fast_dev_run` / `trainer.overfit_batches` to report such runs."
    )


def _grouped_fit_times(study: Study) -> Text | None:
    """A note that the "fit s" of runs trained as members of a vectorized group is the
    group's (None: every run trained alone)."""
    if "_group_size" not in study.runs:
        return None
    sizes = pd.to_numeric(study.runs["_group_size"], errors="coerce")
    grouped = int((sizes > 1).sum())
    if not grouped:
        return None
    return Text(
        f"**Fit seconds of vectorized runs.** {grouped} of the {len(study.runs)} runs trained "
        f"as members of vectorized groups (up to {int(sizes.max())} members, "
        "`hydra/launcher=vectorized`): their `train_seconds`, the tables' *fit s*, is the "
        "group's fit wall time, the same for every member, not the member's own. Compare fit "
        "times only between setups trained alike (`hydra/launcher=basic` times each run "
        "alone)."
    )


def _unfinished_jobs(study: Study) -> Text | None:
    """A note on the job folders without a record, naming a few (None: there were none)."""
    if not study.unfinished:
        return None
    listed = without_record(study.unfinished, lambda path: f"`{_relative(path, study)}`")
    return Text(
        f"**Unfinished study?** {listed}: {UNFINISHED_WHY}. This report counts the runs that "
        f"have one: {UNFINISHED_FIX}."
    )


def needs_higher_cap(verdict: Verdict) -> bool:
    """Whether a higher ``trainer.max_epochs`` could settle ``verdict``: setups of it were
    still improving at the cap, and not mostly on a perfectly classified validation split
    (:func:`lossbench.report.separated.mostly_separated`, which no cap settles).

        >>> needs_higher_cap(Verdict("wine", "multiclass", "test/nll", None,
        ...                          unconverged=[("b", "2 of 3 runs at the cap")]))
        True
        >>> needs_higher_cap(Verdict("wine", "multiclass", "test/nll", "a"))
        False
    """
    return bool(verdict.unconverged) and not mostly_separated(verdict.perfect_runs)


def _raising_the_cap(study: Study) -> Text | None:
    """How to give the setups that did not converge within the epoch cap more epochs without
    training the study again from scratch (None: no verdict :func:`needs_higher_cap`)."""
    unsettled = [v.data for v in study.verdicts if needs_higher_cap(v)]
    if not unsettled:
        return None
    arguments = study_arguments(study.sources, study.runs)
    example = raise_cap_example(study.runs, _longer_cap(study, unsettled), arguments)
    return Text(
        "**Raising the cap.** Run the study's command again with a higher "
        f"`trainer.max_epochs`, into the same folder ({example}): a run that "
        "early stopping ended, or that failed on a non-finite loss, is kept, as it would end "
        "the same way under any higher cap (with "
        "`scheduler=none` or `plateau`, whose schedule does not depend on the cap); the others "
        "train again with the new cap, their earlier records kept beside them "
        "(`metrics-max_epochs<cap>.json`). Then report again."
    )


def _longer_cap(study: Study, data_sets: list[str]) -> int | float | None:
    """The longer study's cap where its runs of one of ``data_sets`` were still improving at
    it too (the largest such cap; None: no budget check, or the longer study settled them)."""
    if study.budget_check is None:
        return None
    caps = [
        row.longer_max_epochs
        for row in study.budget_check.outcomes
        if row.data in data_sets and row.longer_unconverged and row.longer_max_epochs
    ]
    return max(caps, default=None)


def raise_cap_example(
    runs: pd.DataFrame,
    longer_cap: int | float | None = None,
    arguments: Sequence[str] | None = (),
) -> str:
    """The command that doubles the epoch cap of the study of ``runs``: ``make compare`` with
    the study's experiment, variant and output folder where its runs record them (a
    ``compare_*`` study) and its other overrides (``arguments``, kept in ``ARGS``; None: not
    known, so the study's own command line is named), else the study's own command line with
    the setting. Where the longer study's cap (``longer_cap``, under which runs were still
    improving too) is at least that, the cap is twice the longer study's instead.

        >>> import pandas as pd
        >>> runs = pd.DataFrame({"_config": [{"trainer.max_epochs": 100, "study_name":
        ...     "compare_binary", "study_variant": "quick"}]})
        >>> raise_cap_example(runs)
        'e.g. `make compare EXPERIMENT=compare_binary STUDY=quick ARGS="trainer.max_epochs=200"`, twice its cap'
        >>> print(raise_cap_example(runs, arguments=["optimizer.weight_decay=0.0001"]))
        e.g. `make compare EXPERIMENT=compare_binary STUDY=quick ARGS="optimizer.weight_decay=0.0001 trainer.max_epochs=200"`, twice its cap
        >>> print(raise_cap_example(runs, longer_cap=250))
        e.g. `make compare EXPERIMENT=compare_binary STUDY=quick ARGS=\"trainer.max_epochs=500\"`, twice the longer study's cap (250), under which runs were still improving too
    """  # noqa: E501
    configs = [c for c in runs.get("_config", []) if isinstance(c, dict)]
    caps = {c.get("trainer.max_epochs") for c in configs} - {None}
    names = {c.get("study_name") for c in configs}
    variants = {c.get("study_variant") for c in configs}
    outputs = {c.get("paths.output_dir") for c in configs}
    if not caps or not all(isinstance(cap, int) for cap in caps):
        return "e.g. the study's command line with `trainer.max_epochs` doubled"
    cap, why = 2 * max(caps), "twice its cap"
    if longer_cap is not None and longer_cap >= cap:
        cap = 2 * int(longer_cap)
        why = (
            f"twice the longer study's cap ({longer_cap:g}), under which runs were still "
            "improving too"
        )
    setting = f"trainer.max_epochs={cap}"
    if len(names) != 1 or len(variants) != 1 or None in names or arguments is None:
        return f"the study's command line with `{setting}`, {why}"
    (name,), (variant,) = names, variants
    make = "make compare"
    make += "" if name == "compare_all" else f" EXPERIMENT={name}"
    make += "" if variant in (None, "full") else f" STUDY={variant}"
    if len(outputs) == 1 and None not in outputs and outputs != {"outputs"}:
        make += f" OUTPUTS={next(iter(outputs))}"
    args = " ".join([*arguments, setting])
    return f'e.g. `{make} ARGS="{args}"`, {why}'


def _untuned_data(study: Study) -> Text | None:
    """A note on the data sets left out, and the setups not tuned, because no rate of theirs
    can be chosen on the ranking metric's validation value (None: there were none)."""
    if study.untuned is None:
        return None
    column = selection_metric(study.metric)
    text = study.untuned.text(lambda name: f"`{name}`")
    return Text(f"**Not tuned on `{column}`.** {text}")


def _yardstick_at_bound(study: Study, data: str) -> Text | None:
    """A note on the yardstick of ``data`` where its ``C``, chosen on validation, is still at a
    bound of the widened grid on some split (None: it is inside the grid on every split)."""
    if study.yardstick is None or "C_at_bound" not in study.yardstick:
        return None
    rows = study.yardstick[study.yardstick["data"] == data]
    if rows.empty or not rows["C_at_bound"].iloc[0]:
        return None
    row = rows.iloc[0]
    at = [float(c) for c in str(row["C_at_bound"]).split()]
    n = int(row["n_splits"])
    sides = []
    for bound, word, beyond in (
        (C_BOUNDS[0], "smallest", "smaller"),
        (C_BOUNDS[1], "largest", "larger"),
    ):
        count = sum(c == bound for c in at)
        if count:
            sides.append(
                f"{bound:g}, the {word} `C` its grid is widened to, on {count} of {n} "
                f"split{'s' if n > 1 else ''} (a {beyond} `C` might fit better)"
            )
    return Text(
        f"**Yardstick at its `C` bound.** The `C` of {NAME} chosen on validation is "
        f"{'; and '.join(sides)}: the reference row is tuned only up to that bound "
        "(`C_at_bound` in `yardstick.csv`)."
    )


def _yardstick_not_fitted(study: Study, data: str) -> Text | None:
    """A note on the splits of ``data`` the yardstick could not be fitted on, and why (None:
    there were none)."""
    missing = study.yardstick_not_fitted.get(data)
    if not missing:
        return None
    splits = ", ".join(str(split_seed) for split_seed, _ in missing)
    reasons = "; ".join(dict.fromkeys(why for _, why in missing))
    runs = study.yardstick_runs
    fitted = runs is not None and not runs.empty and bool((runs["data"] == data).any())
    fix = (
        " Put the file back where the run read it, then report again."
        if "data file" in reasons
        else ""
    )
    return Text(
        f"**No yardstick on split{'s' if len(missing) > 1 else ''} {splits}.** {NAME} could not "
        f"be fitted there ({'its row is over the other splits' if fitted else 'no row'}): "
        f"{reasons}.{fix}"
    )


def _relative(path: str, study: Study) -> str:
    try:
        return os.path.relpath(path, study.out_dir)
    except ValueError:  # another drive on Windows
        return path


def _sources(paths: Iterable[os.PathLike]) -> str:
    return ", ".join(f"`{p}`" for p in paths)


def unconverged_in(verdicts: Iterable[Verdict], data: Iterable[str], setups: Iterable[str]) -> str:
    """The overview's note on the ranked ``setups`` that did not converge (or whose rate
    choice is unsettled) in some of the family's ``data`` sets, from their ``verdicts``;
    "" where every one converged everywhere.

        >>> vs = [Verdict("a", "binary", "test/nll", "x", unconverged=[("y", "why")]),
        ...       Verdict("b", "binary", "test/nll", "x", unconverged=[("y", "w"), ("z", "w")])]
        >>> unconverged_in(vs, ["a", "b"], ["x", "y"])[:45]
        'Not converged in some data set: **y** (a, b).'
    """
    data, setups = set(data), list(setups)
    where: dict[str, list[str]] = {}
    for v in verdicts:
        if v.data in data:
            for setup, _ in v.unconverged:
                where.setdefault(setup, []).append(v.data)
    listed = [f"**{s}** ({', '.join(sorted(where[s]))})" for s in setups if s in where]
    if not listed:
        return ""
    return (
        f"Not converged in some data set: {'; '.join(listed)}. Their ranking includes "
        "results that were still improving at the epoch cap (or chosen at a rate whose rival "
        "was), so it is no converged result: see each data set's verdict."
    )


def _unconverged_in_family(study: Study, data: list[str], setups: list[str]) -> Text | None:
    """:func:`unconverged_in` as a block of the overview, or None."""
    text = unconverged_in(study.verdicts, data, setups)
    return Text(text) if text else None


def _family_test(family: Family) -> str:
    """The sentence on ``family``'s Friedman test: its p-value and critical difference, what
    they mean where the test found no difference, or why there is no test.

        >>> import pandas as pd
        >>> ranks = pd.Series({"x": 1.5, "y": 1.5})
        >>> _family_test(Family("binary", ["a"], 1, ranks, note="no Friedman test: why"))
        'No Friedman test: why.'
        >>> _family_test(Family("binary", list("abcde"), 5, ranks, p_value=0.4, cd=1.5))[:80]
        'Friedman p = 0.4, CD = 1.5: the Friedman test finds no difference between the se'
    """
    if not family.tested:
        return family.note[:1].upper() + family.note[1:] + "."
    text = f"Friedman p = {fmt(family.p_value, 2)}, CD = {fmt(family.cd, 3)}"
    if family.significant:
        return text + "."
    return (
        f"{text}: the Friedman test finds no difference between the setups at α = {ALPHA}, "
        "so the mean ranks differ by chance as far as it can tell, and the bars of the "
        "diagram are no separations."
    )


def _overview(study: Study) -> list[Block]:
    """Mean rank per setup and task family over its data sets, the Friedman test, the
    critical-difference diagram."""
    if not study.overview:
        return []
    blocks: list[Block] = [
        Heading("Overview across data sets"),
        Text(
            f"Mean rank by `{study.metric}` (1 = best) over the data sets of each task family, "
            "a setup's value on a data set being its mean over the seeds (each seed on its own "
            "split). The data sets are the blocks: the seeds of one data set share it, and "
            "whatever favours a setup on it, so they are no independent blocks. Where a family "
            f"has at least {MIN_BLOCKS} data sets and 3 setups, a Friedman test over the "
            "setups, then Nemenyi's critical difference (CD): setups joined by a bar in the "
            f"diagram are not told apart at α = {ALPHA}. With fewer data sets the mean ranks "
            "describe the data sets compared, without a test."
        ),
    ]
    for family in study.overview:
        if family.mean_ranks.empty:
            blocks.append(Heading(f"{family.task}: {', '.join(family.data)}", 3))
            blocks.append(Text(family.note[:1].upper() + family.note[1:] + "."))
            continue
        n = family.n_blocks
        size = f"{n} data set{'s' if n != 1 else ''}, {family.seeds_text()}"
        blocks.append(Heading(f"{family.task}: {', '.join(family.data)} ({size})", 3))
        text = _family_test(family)
        if family.unranked:
            text += (
                f" Not ranked on {', '.join(family.unranked)}: no seed that more than half of "
                "the setups were trained with."
            )
        if family.left_out:
            text += f" Left out (no value on every data set): {', '.join(family.left_out)}."
        blocks.append(Text(text))
        rows = [[s, fmt(r, 3)] for s, r in family.mean_ranks.items()]
        header = "mean rank" if n > 1 else "rank"
        if not family.tested:
            header += " (descriptive, no test)"
        blocks.append(Table(["setup", header], rows))
        note = _unconverged_in_family(study, family.data, list(family.mean_ranks.index))
        if note is not None:
            blocks.append(note)
        figure = study.overview_figures.get(family.task)
        if figure is not None:
            caption = f"{family.task}: critical-difference diagram"
            if not family.significant:
                caption += " (the Friedman test finds no difference: no separations)"
            blocks.append(Image(figure, caption))
    return blocks


def build_document(study: Study) -> list[Block]:
    """The report, verdict first."""
    mode = study.modes[study.metric]
    select_on = selection_metric(study.metric)
    runs = study.runs
    n_done = int((runs["status"] == "completed").sum())
    blocks: list[Block] = [Heading(f"{TITLE}: verdict", 1), *_overview(study)]
    blocks += [
        Heading("Per data set"),
        Bullets(
            [verdict_text(v, mode, _failed_at_all_rates(study, v.data)) for v in study.verdicts]
        ),
        Text(
            f"Ranked by `{study.metric}` ({DIRECTION[mode]}), mean over seeds, at each setup's "
            f"learning rate chosen on the validation split (best mean `{select_on}`; "
            + (
                "**the ranking metric is on that same split, so every setup's figure is "
                "optimistic: rank on the test split for a verdict the choice has not seen**; "
                if study.metric.startswith("val/")
                else "the test split is never used to choose; "
            )
            + "a rate marked *grid edge* is the smallest or "
            "largest the setup was trained at, and a better one may lie beyond it: the fair "
            "studies widen their grid there, `hydra.sweeper.widen`). A setup is **tied** with "
            "the best when a paired "
            "t-test over shared seeds finds no difference at "
            f"α = {ALPHA} after Holm's correction over every pair of eligible setups (the best "
            "is chosen on the same data, and Holm over all pairs holds whichever pairs are "
            "read; over the comparisons with the best alone it would not); where "
            "no paired test is possible (fewer than 2 shared seeds, or the same difference on "
            "every seed), when the 95 % intervals overlap. Setups with identical results on "
            "every seed share a rank, are named together (a = b) and count once in Holm's "
            "corrections; means equal to float32 rounding share a rank too. The best is named "
            "among the setups with results on every seed that more than half of the converged "
            "setups were trained with and on each of their own, by the mean over the seeds "
            "they share. A setup whose selected runs "
            "mostly stopped at the epoch cap while still improving is not named best (a run "
            "trained without early stopping was still improving there when its early-stopping "
            "metric improved within the last early_stopping.patience validations), nor one "
            "whose rate choice is unsettled (another rate of its grid mostly stopped at the "
            "cap still improving); where such a setup already beats the best converged one, "
            "no best is named."
        ),
        Text(
            f"{len(runs)} runs ({n_done} completed, {len(runs) - n_done} failed or refused) "
            f"from {_sources(study.sources)}. Files: `results.csv` (one row per run, "
            "`selected` marks the chosen learning rate's), `summary.csv` (per data set and "
            "setup), `comparisons.csv` (paired, vs baseline; `p_holm` Holm-adjusted over the "
            "setups compared with the baseline in that data set and metric), `yardstick.csv` "
            f"({NAME}, C chosen on validation over {C_GRID[0]:g}-{C_GRID[-1]:g}, widened by "
            f"factors of 10 where it is at an end, as far as {C_BOUNDS[0]:g} and "
            f"{C_BOUNDS[1]:g}, on the same splits)."
        ),
    ]
    for note in (
        _raising_the_cap(study),
        _untuned_data(study),
        _grouped_fit_times(study),
        _unfinished_jobs(study),
        _debug_runs(study),
    ):
        if note is not None:
            blocks.append(note)
    duplicates = _duplicates(study)
    if duplicates is not None:
        blocks.append(duplicates)
    if study.budget_check is not None:  # the verdicts against a longer budget (--longer)
        blocks += study.budget_check.blocks()
    blocks += [Heading("Setups"), Bullets(_setup_lines(study))]
    for data in sorted(study.summary["data"].unique()):
        blocks.append(Heading(f"{data}"))
        blocks.append(Heading(SUMMARY_HEADING, 3))
        blocks.append(_summary_table(study, data))
        for note in (_yardstick_at_bound(study, data), _yardstick_not_fitted(study, data)):
            if note is not None:
                blocks.append(note)
        by_rate = _learning_rate_table(study, data)
        if by_rate is not None:
            blocks.append(Heading("Every learning rate of the grid", 3))
            blocks.append(
                Text(
                    f"Mean `{study.metric}` over seeds at each rate (sat.: share of saturated "
                    "probabilities; failed runs counted; *missing*: seeds that completed at "
                    "another rate but have no run at this one, which count like failed runs "
                    "when the rate is chosen); the rate chosen on validation in bold."
                )
            )
            blocks.append(by_rate)
        baseline = study.baselines.get(data)
        blocks.append(Heading("Paired comparison with the baseline", 3))
        table = _comparison_table(study, data)
        if baseline is None:
            blocks.append(
                Text(
                    "No baseline setup in this study for this data set; choose one "
                    "with `--baseline TASK=SETUP`."
                )
            )
        elif table is None:
            blocks.append(Text(f"Baseline **{baseline}** is the only setup."))
        else:
            blocks.append(
                Text(
                    f"Baseline: **{baseline}**. Runs paired by seed; two-sided "
                    f"paired t-test, α = {ALPHA}; verdicts in the metric's direction; "
                    "p (Holm): Holm-adjusted over the setups compared with the baseline here "
                    "(the verdict's comparisons with the best are adjusted over every pair)."
                )
            )
            blocks.append(table)
            other = _other_metrics_table(study, data)
            if other is not None:
                blocks.append(
                    Text(
                        "The other headline metrics against the same baseline (setups with "
                        "paired runs; p corrected by Holm's method within each metric, on "
                        "which the verdict rests):"
                    )
                )
                blocks.append(other)
        for title, path in study.figures.get(data, []):
            blocks.append(Heading(title, 3))
            blocks.append(Image(path, f"{data}: {title.lower()}"))
    blocks.append(Heading("Failed runs"))
    failed = _failed_table(study)
    blocks.append(failed if failed is not None else Text("None: every run completed."))
    return blocks
