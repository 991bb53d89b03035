"""The tuning step of a fair study: one learning rate per data set and setup, chosen on the
validation split, and how fast each run converged.

Every setup of a study is trained at each learning rate of a grid over the same seeds. For each
data set and setup, the rate whose runs have the best mean *validation* value of the ranking
metric over seeds (``test/nll`` ranks, so ``val/nll`` selects; a seed recorded twice counts
once) is chosen; the test split is never looked at. A rate at which a run failed, or that lacks
a seed which completed at another rate (a study interrupted before it trained every rate), is
chosen only when every rate has failed or missing seeds; means within float32 rounding
(:data:`lossbench.tuning_grid.FLOAT32_TIE`) are ties, which go to the smallest rate. The
report's tables, tests and verdicts use the runs of the chosen rate only (``selected``). A run
trained at an unknown rate (its config.yaml missing or unreadable) is left out of the choice
and the report, with a :class:`UnknownRateWarning` that names it, where the setup's other runs
have a known rate: it is never averaged with the runs of one of them.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({
    ...     "data": "wine", "setup": "ce", "status": "completed", "seed": [0, 1, 0, 1],
    ...     "lr": [0.001, 0.001, 0.01, 0.01], "val/nll": [0.30, 0.32, 0.10, 0.12],
    ...     "test/nll": [0.05, 0.06, 0.20, 0.21]})
    >>> selected, chosen = select_learning_rates(runs, "test/nll", "min")
    >>> chosen[["data", "setup", "lr", "lr_at_edge", "n_lr"]].to_dict("records")
    [{'data': 'wine', 'setup': 'ce', 'lr': 0.01, 'lr_at_edge': True, 'n_lr': 2}]
    >>> list(selected["selected"])
    [False, False, True, True]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lossbench.metric_names import VALIDATION_EPOCH, VALIDATION_STEP
from lossbench.report.converged import early_stopping_on, still_improving
from lossbench.report.errors import ReportError
from lossbench.tuning_grid import best_rate, rate_key

#: A run has converged "within 1 %" at the first epoch whose validation value is within this
#: fraction of its best value.
WITHIN = 0.01


class UnknownRateWarning(UserWarning):
    """A run's learning rate is unknown (no readable config.yaml): left out, or reported with
    a setup none of whose runs has a known rate."""


def _unknown_rate_runs(group: pd.DataFrame) -> list[str]:
    """``<run_dir> (<why>)`` of each run of ``group`` that was trained (not refused) at an
    unknown learning rate."""
    trained = group["lr"].isna()
    if "refused" in group:
        trained &= ~group["refused"].fillna(False).astype(bool)
    why = group.get("_config_problem", pd.Series(None, index=group.index))
    where = group.get("run_dir", pd.Series(group.index.astype(str), index=group.index))
    return [
        f"{where[i]} ({why[i] if isinstance(why[i], str) else 'no optimizer.lr in config.yaml'})"
        for i in group.index[trained]
    ]


def selection_metric(metric: str) -> str:
    """The validation counterpart of the ranking metric: ``test/nll`` -> ``val/nll``."""
    return f"val/{metric.partition('/')[2]}"


class UntunedDataWarning(UserWarning):
    """Data sets (or setups) none of whose completed runs records the selection metric on the
    validation split: no learning rate can be chosen on it there. Such data sets are left
    out of the report; such setups are named."""


@dataclass(frozen=True)
class UntunedData:
    """What cannot be tuned on the ranking ``metric``'s validation counterpart
    (:func:`untuned_data`): ``data``, the data sets left out of the report; ``recorded_by``,
    the data sets whose runs record it; ``setups``, ``data / setup`` of the setups of those
    data sets none of whose own completed runs record it (reported at their smallest rate,
    as a setup that failed at every rate is)."""

    metric: str
    data: tuple[str, ...]
    recorded_by: tuple[str, ...]
    setups: tuple[str, ...] = ()

    def text(self, code: Callable[[str], str] = str) -> str:
        """What the report says of them (each name of a metric or option as ``code`` writes
        it).

            >>> print(UntunedData("test/map", ("breast_cancer", "wine"), ("multi",)).text())
            breast_cancer and wine left out of the report: none of their completed runs records val/map, the validation value that chooses each setup's learning rate for --metric test/map (recorded by multi only), so their setups' learning rates cannot be chosen on it, and a rate chosen on nothing makes no fair verdict. Report them with another --metric, e.g. --metric test/nll.
            >>> print(UntunedData("test/map", (), ("multi",), ("multi / mse",)).text())
            multi / mse: none of its completed runs records val/map, the validation value that chooses each setup's learning rate for --metric test/map, so its learning rate is not chosen on it: it is reported at the smallest rate of its grid, and its figures are no fair verdict. Report with another --metric, e.g. --metric test/nll, to see it tuned.
        """  # noqa: E501
        column = selection_metric(self.metric)
        chooses = (
            f"{code(column)}, the validation value that chooses each setup's learning rate for "
            f"{code('--metric ' + self.metric)}"
        )
        parts = []
        if self.data:
            their, them = ("their", "them") if len(self.data) > 1 else ("its", "it")
            recorded = (
                f"recorded by {_and(list(self.recorded_by))} only"
                if self.recorded_by
                else "no data set's runs record it"
            )
            parts.append(
                f"{_and(list(self.data))} left out of the report: none of {their} completed "
                f"runs records {chooses} ({recorded}), so {their} setups' learning rates cannot "
                "be chosen on it, and a rate chosen on nothing makes no fair verdict. Report "
                f"{them} with another --metric, e.g. {code('--metric test/nll')}."
            )
        if self.setups:
            their, them = ("their", "them") if len(self.setups) > 1 else ("its", "it")
            rate = "their learning rates are" if len(self.setups) > 1 else "its learning rate is"
            parts.append(
                f"{_and(list(self.setups))}: none of {their} completed runs records {chooses}, "
                f"so {rate} not chosen on it: {'they are' if len(self.setups) > 1 else 'it is'} "
                f"reported at the smallest rate of {their} grid, and {their} figures are no fair "
                f"verdict. Report with another --metric, e.g. {code('--metric test/nll')}, to "
                f"see {them} tuned."
            )
        return " ".join(parts)


def _and(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def untuned_data(runs: pd.DataFrame, metric: str) -> UntunedData | None:
    """The data sets where a learning rate is to be chosen (a setup trained at two rates or
    more) but none of whose completed runs has a finite validation value of ``metric``
    (:func:`selection_metric`), so that it cannot be chosen on it, and the setups of the
    other data sets of which that holds; None where there are none. A data set (setup)
    without completed runs has no result on any metric, and one trained at one rate has no
    rate to choose: neither is one of them.

        >>> runs = pd.DataFrame({"data": [*"aabbc"], "setup": "s", "status": "completed",
        ...     "lr": [0.1, 0.2, 0.1, 0.2, 0.1], "val/map": [0.8, 0.7, *[float("nan")] * 3]})
        >>> untuned_data(runs, "test/map")
        UntunedData(metric='test/map', data=('b',), recorded_by=('a',), setups=())

    Raises:
        ReportError: Every data set with completed runs is one of them: nothing to report.
    """
    column = selection_metric(metric)
    done = runs[runs["status"] == "completed"]
    values = done[column] if column in done else pd.Series(math.nan, index=done.index)
    finite = pd.Series(np.isfinite(pd.to_numeric(values, errors="coerce")), index=done.index)
    recorded = finite.groupby(done["data"]).any()
    per_setup = runs.groupby(["data", "setup"])["lr"].nunique()
    rates = per_setup.groupby(level="data").max()
    untuned = tuple(sorted(str(d) for d in recorded.index[~recorded] if rates.get(d, 0) > 1))
    tuned = tuple(sorted(str(d) for d in recorded.index[recorded]))
    by_setup = finite.groupby([done["data"], done["setup"]]).any()
    setups = tuple(
        f"{data} / {setup}"
        for (data, setup), has in by_setup.items()
        if not has and data in tuned and per_setup.get((data, setup), 0) > 1
    )
    if not untuned and not setups:
        return None
    if len(untuned) == len(recorded):
        raise ReportError(
            f"--metric {metric}: no completed run records {column}, the validation value that "
            "chooses each setup's learning rate (the test split never chooses), so no data "
            f"set's rates can be chosen on it ({_and(list(untuned))}). Report with another "
            "--metric, e.g. --metric test/nll."
        )
    return UntunedData(metric, untuned, tuned, setups)


def _seed_values(group: pd.DataFrame, column: str) -> list[float | None]:
    """One validation value per seed of one rate's runs (the mean where a seed was recorded
    more than once), None for a seed none of whose runs completed with a value; runs without
    a seed count one by one."""
    values = group[column] if column in group else pd.Series(math.nan, index=group.index)
    ok = (group["status"] == "completed") & values.notna()
    value = values.where(ok).astype(float)
    seeded = group["seed"].notna()
    per_seed = value[seeded].groupby(group.loc[seeded, "seed"]).mean()
    out = [None if pd.isna(v) else float(v) for v in per_seed]
    return out + [None if pd.isna(v) else float(v) for v in value[~seeded]]


def missing_seeds(group: pd.DataFrame, column: str) -> dict[float, list[int]]:
    """Per learning rate of one data set and setup, the seeds it has no run of although another
    rate has a completed run with a ``column`` value at that seed (an interrupted study):
    :func:`select_learning_rates` counts each like a failed run."""
    values = group[column] if column in group else pd.Series(math.nan, index=group.index)
    done = (group["status"] == "completed") & values.notna() & group["seed"].notna()
    seeds = set(group.loc[done, "seed"])
    return {
        lr: sorted(int(s) for s in seeds - set(group.loc[group["lr"] == lr, "seed"].dropna()))
        for lr in sorted(group["lr"].dropna().unique())
    }


def _candidate_key(
    group: pd.DataFrame, column: str, mode: str, n_missing: int = 0
) -> tuple[int, float]:
    """Sort key of one learning rate (:func:`lossbench.tuning_grid.rate_key`, the rule the
    sweeper widens the grid by): (seeds without a value, mean over seeds in the better-first
    direction); a seed whose runs did not complete has no value, and neither has each of the
    ``n_missing`` seeds the rate lacks (:func:`missing_seeds`)."""
    return rate_key([*_seed_values(group, column), *[None] * n_missing], mode)


def unsettled_rates(group: pd.DataFrame, chosen: float) -> str:
    """Why the learning rate ``chosen`` for one data set and setup (``group``, its runs at
    every rate) is unsettled, or "": another rate of its grid has most of its completed runs
    still improving at the epoch cap (``still_improving``), so a longer budget could make that
    rate the better one and change the choice. A rate with a run that failed in training is
    no such rate where the chosen one has none: it is chosen only when every rate has a failed
    or missing seed (:func:`select_learning_rates`), and more epochs leave a failed run failed.

        >>> runs = pd.DataFrame({"lr": [0.003] * 3 + [0.01] * 3, "status": "completed",
        ...                      "still_improving": [True, True, False, False, False, False]})
        >>> unsettled_rates(runs, 0.01)
        'rate choice unsettled: lr 0.003 still improving at the cap in 2 of 3 runs'
        >>> unsettled_rates(runs, 0.003)
        ''
        >>> runs.loc[2, "status"] = "failed"  # 0.003's third run diverged
        >>> unsettled_rates(runs, 0.01)
        ''
    """
    if "still_improving" not in group:
        return ""
    failed = group["status"] == "failed"
    if "refused" in group:
        failed &= ~group["refused"].fillna(False).astype(bool)
    failed_rates = set(group.loc[failed, "lr"].dropna())
    done = group[(group["status"] == "completed") & group["lr"].notna()]
    improving = done["still_improving"].fillna(False).astype(bool)
    parts = []
    for lr, at in improving.groupby(done["lr"], sort=True):
        if lr in failed_rates and chosen not in failed_rates:
            continue  # it cannot be chosen over the chosen rate, however long it trains
        if lr != chosen and 2 * int(at.sum()) > len(at):
            parts.append(
                f"lr {lr:g} still improving at the cap in {int(at.sum())} of {len(at)} runs"
            )
    return f"rate choice unsettled: {'; '.join(parts)}" if parts else ""


def select_learning_rates(
    runs: pd.DataFrame, metric: str, mode: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mark the runs of the learning rate chosen on validation for each data set and setup.

    Args:
        runs: The results table (:func:`lossbench.report.collect.load_runs`), with ``lr``.
        metric: The ranking metric (``test/nll``); selection uses its ``val/`` counterpart.
        mode: "min" or "max", the metric's direction.

    Returns:
        ``runs`` with a boolean ``selected`` column, and one row per data set and setup:
        ``lr`` (chosen; NaN when the runs record none), ``lr_grid`` (the rates tried),
        ``n_lr``, ``lr_at_edge`` (the chosen rate is the smallest or largest of a grid of at
        least two: widen the grid), ``val_selection`` (the chosen rate's mean validation value)
        and ``lr_unsettled`` (why the choice is unsettled, :func:`unsettled_rates`, or "").
    """
    column = selection_metric(metric)
    runs = runs.copy()
    runs["selected"] = False
    rows: list[dict[str, Any]] = []
    for (data, setup), group in runs.groupby(["data", "setup"], sort=True):
        rates = sorted(group["lr"].dropna().unique())
        row: dict[str, Any] = {"data": data, "setup": setup, "n_lr": len(rates)}
        unknown = _unknown_rate_runs(group)
        if not rates:  # no learning rate recorded (refused before its config was written)
            runs.loc[group.index, "selected"] = True
            rows.append(
                row | {"lr": math.nan, "lr_grid": "", "lr_at_edge": False, "lr_unsettled": ""}
            )
            if unknown:
                warnings.warn(
                    f"{data} / {setup}: no run has a known learning rate; its {len(unknown)} "
                    "trained runs are reported together, as if of one rate: " + "; ".join(unknown),
                    UnknownRateWarning,
                    stacklevel=2,
                )
            continue
        if unknown:
            warnings.warn(
                f"{data} / {setup}: left out of the learning-rate choice and the report, as "
                f"trained at an unknown rate: {'; '.join(unknown)}",
                UnknownRateWarning,
                stacklevel=2,
            )
        missing = missing_seeds(group, column)
        keys = {
            lr: _candidate_key(group[group["lr"] == lr], column, mode, len(missing[lr]))
            for lr in rates
        }
        chosen = best_rate(keys)
        runs.loc[group.index[group["lr"] == chosen], "selected"] = True
        # refused before training (no config): counted as refused, with no numbers to pool
        refused = group["refused"].fillna(False).astype(bool) if "refused" in group else False
        runs.loc[group.index[group["lr"].isna() & refused], "selected"] = True
        value = keys[chosen][1]
        rows.append(
            row
            | {
                "lr": float(chosen),
                "lr_unsettled": unsettled_rates(group, chosen),
                "lr_grid": " ".join(f"{r:g}" for r in rates),
                # only a rate chosen on results: a setup every run of which failed has none
                "lr_at_edge": len(rates) > 1
                and chosen in (rates[0], rates[-1])
                and not math.isinf(value),
                "val_selection": math.nan
                if math.isinf(value)
                else (value if mode == "min" else -value),
            }
        )
    return runs, pd.DataFrame(rows)


def epochs_of(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray:
    """The epoch of each entry of ``history[key]``: ``history["val/epoch"]`` for a ``val/``
    key where the run recorded it (validation every other epoch, or within an epoch:
    :data:`lossbench.metric_names.VALIDATION_EPOCH`), else 1, 2, 3, ... (one per epoch, as the
    ``train/`` entries are and as a record written before ``val/epoch`` existed reads).

        >>> epochs_of({"val/nll": [0.5, 0.4], "val/epoch": [2.0, 4.0]}, "val/nll")
        array([2., 4.])
        >>> epochs_of({"val/nll": [0.5, 0.4]}, "val/nll")
        array([1., 2.])
    """
    n = len(history[key])
    when = history.get(VALIDATION_EPOCH)
    if key.startswith("val/") and when is not None and len(when) == n:
        at = np.asarray(when, dtype=float)
        if np.isfinite(at).all():
            return at
    return np.arange(1, n + 1, dtype=float)


def steps_to_converge(history: Any, column: str, mode: str, steps: Any, epochs: Any) -> float:
    """Optimizer steps until the run's validation ``column`` first came within 1 % of its best
    value (``WITHIN``): convergence speed, reported apart from final quality.

        >>> steps_to_converge({"val/nll": [1.0, 0.5, 0.202, 0.2]}, "val/nll", "min", 40, 4)
        30.0

    Where the history records the optimizer steps of each validation, ``history["val/step"]``,
    that is the answer (exact also for a run that stopped within an epoch); else the
    validation's epoch, ``history["val/epoch"]``, times the steps per epoch (validated every
    second epoch of 5 here, 10 steps each); a history with neither has one validation per
    epoch:

        >>> steps_to_converge({"val/nll": [1.0, 0.2], "val/step": [3, 17]}, "val/nll", "min", 17, 3)
        17.0
        >>> history = {"val/nll": [1.0, 0.2], "val/epoch": [2.0, 4.0]}
        >>> steps_to_converge(history, "val/nll", "min", 50, 5)
        40.0
    """
    if not isinstance(history, dict) or column not in history:
        return math.nan
    if pd.isna(steps) or pd.isna(epochs) or not epochs:
        return math.nan
    values = np.asarray(history[column], dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return math.nan
    best = values[finite].min() if mode == "min" else values[finite].max()
    margin = WITHIN * abs(best)
    close = values <= best + margin if mode == "min" else values >= best - margin
    first = int(np.argmax(close & finite))
    if column.startswith("val/"):
        at = history.get(VALIDATION_STEP)
        if at is not None and len(at) == len(values) and at[first] is not None:
            return float(at[first])
        if VALIDATION_EPOCH in history:
            return float(epochs_of(history, column)[first] * int(steps) / float(epochs))
    return float((first + 1) * int(steps) / len(values))


#: The validation metric every run's history holds (the studies record only the monitored
#: metrics per epoch): convergence speed falls back to it.
CONVERGENCE_FALLBACK = "val/nll"


def convergence_column(history: Any, column: str, mode: str) -> tuple[str, str]:
    """The history column (and its mode) whose convergence a run's speed is measured on: the
    selection metric's where the history holds it, else :data:`CONVERGENCE_FALLBACK`
    (``--metric test/accuracy`` on a study that recorded only ``val/nll`` per epoch).

        >>> convergence_column({"val/nll": [0.5]}, "val/accuracy", "max")
        ('val/nll', 'min')
        >>> convergence_column({"val/accuracy": [0.5]}, "val/accuracy", "max")
        ('val/accuracy', 'max')
    """
    if isinstance(history, dict) and column not in history and CONVERGENCE_FALLBACK in history:
        return CONVERGENCE_FALLBACK, "min"
    return column, mode


def add_convergence(runs: pd.DataFrame, metric: str, mode: str) -> pd.DataFrame:
    """``runs`` with ``steps_to_1pct``: :func:`steps_to_converge` of each run's history of the
    selection metric (or of ``val/nll``: :func:`convergence_column`); ``still_improving``:
    whether the run reached the epoch cap still improving
    (:func:`lossbench.report.converged.still_improving`); and the private
    ``_early_stopping``: whether it was trained with early stopping (None: unknown)."""
    column = selection_metric(metric)
    runs = runs.copy()
    runs["steps_to_1pct"] = [
        steps_to_converge(h, *convergence_column(h, column, mode), s, e)
        for h, s, e in zip(runs["_history"], runs["steps"], runs["epochs"], strict=True)
    ]
    configs = runs["_config"] if "_config" in runs else pd.Series(None, index=runs.index)
    runs["still_improving"] = [
        still_improving(s, h, c)
        for s, h, c in zip(runs["stopped_by"], runs["_history"], configs, strict=True)
    ]
    runs["_early_stopping"] = [early_stopping_on(c) for c in configs]
    return runs


def add_protocol_columns(
    summary: pd.DataFrame, tuning: pd.DataFrame, selected: pd.DataFrame
) -> pd.DataFrame:
    """``summary`` with the chosen learning rate (``lr``, ``lr_grid``, ``n_lr``, ``lr_at_edge``,
    ``val_selection``), ``n_budget`` (selected runs that reached the epoch cap),
    ``n_improving`` (those of them still improving there),
    and the cost columns ``steps_to_1pct_mean`` and ``train_seconds_mean`` (fit seconds), kept
    apart from the quality metrics."""
    done = selected[selected["status"] == "completed"]
    per_setup = done.groupby(["data", "setup"])
    extra = pd.DataFrame(
        {
            "n_budget": per_setup["stopped_by"].apply(lambda s: int((s == "budget").sum())),
            "n_improving": per_setup["still_improving"].apply(lambda s: int(s.sum())),
            "steps_to_1pct_mean": per_setup["steps_to_1pct"].mean(),
            "train_seconds_mean": per_setup["train_seconds"].apply(
                lambda s: pd.to_numeric(s, errors="coerce").mean()
            ),
        }
    ).reset_index()
    out = summary.merge(tuning, on=["data", "setup"], how="left")
    out = out.merge(extra, on=["data", "setup"], how="left")
    for column in ("n_budget", "n_improving"):
        out[column] = out[column].fillna(0).astype(int)
    return out
