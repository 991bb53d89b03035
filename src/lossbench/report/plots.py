"""PNG figures per data set: headline metrics with intervals, learning curves, reliability
diagrams and a stability panel. Figures are drawn on ``matplotlib.figure.Figure`` objects with
the Agg renderer, so no display and no pyplot state are involved.

    >>> paths = make_plots(runs, summary, ["test/nll", "test/accuracy"], "plots/")  # doctest: +SKIP
    >>> paths["wine"]  # doctest: +SKIP
    [('Headline metrics', PosixPath('plots/wine_metrics.png')), ...]
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import re
import signal
import textwrap
import threading
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lossbench.cpus import cores
from lossbench.metric_names import metric_mode, metric_range
from lossbench.report.compare import Verdict
from lossbench.report.document import ARROW
from lossbench.report.selection import epochs_of

DPI = 110
_MISSING_COLOR = "0.55"
FAILED_COLOR = "0.2"  # dark grey: no setup's color (those are tab10/tab20 hues)


def slug(name: str) -> str:
    """A file-name-safe version of a data-set name (``csv:my data.csv`` -> ``csv_my_data.csv``);
    two names can give the same one: :func:`file_names` tells them apart."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "data"


def file_names(names: Sequence[str]) -> dict[str, str]:
    """The stem of each data set's figure files, unique within the report: its :func:`slug`,
    and where two names give the same slug (ignoring case, as some file systems do) a short
    hash of the name after it, so that one data set's figures never replace another's.

        >>> file_names(["csv:my data.csv", "csv:my_data.csv", "wine"])  # doctest: +ELLIPSIS
        {'csv:my data.csv': 'csv_my_data.csv-...', 'csv:my_data.csv': 'csv_my_data.csv-...', \
'wine': 'wine'}
        >>> len(set(file_names(["csv:my data.csv", "csv:my_data.csv"]).values()))
        2
    """
    slugs = {name: slug(name) for name in names}
    counts = Counter(s.casefold() for s in slugs.values())
    return {
        name: s
        if counts[s.casefold()] == 1
        else f"{s}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
        for name, s in slugs.items()
    }


def colors(setups: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """One color per setup, in the order given: :func:`make_plots` gives every setup of the
    study, sorted, so that a setup has the same color in every figure of the report, whatever
    its rank on each data set: ``tab10`` up to 10 setups, then ``tab20``, ``tab20b`` and
    ``tab20c`` (60 colors; beyond 60 setups the colors repeat). None is the failure bars'
    color (:data:`FAILED_COLOR`).

        >>> palette = colors(["a", "b", "c"])
        >>> palette["b"] == colors(["b", "c", "a"])["b"], palette["a"] == palette["b"]
        (False, False)
        >>> many = colors([f"setup{i}" for i in range(60)])
        >>> len(set(many.values()))
        60
    """
    names = ["tab10"] if len(setups) <= 10 else ["tab20", "tab20b", "tab20c"]
    choices = [color for name in names for color in matplotlib.colormaps[name].colors]
    return {s: (*choices[i % len(choices)], 1.0) for i, s in enumerate(setups)}


#: Inches per line of text at the labels' 8 points (line spacing included), with a margin.
LINE_HEIGHT = 0.15
#: The least height of a row of a figure with one row per setup, in inches.
ROW_HEIGHT = 0.42


def _wrap(label: str, width: int = 34) -> str:
    """``label`` broken into lines of at most ``width`` characters where it has spaces (a
    word longer than that stays whole, on a line of its own)."""
    return textwrap.fill(label, width, break_long_words=False, break_on_hyphens=False)


def _lines(text: str) -> int:
    """How many lines ``text`` takes.

    >>> _lines("a"), _lines("a\\nb (1 seed)")
    (1, 2)
    """
    return text.count("\n") + 1


def _rows_height(labels: Sequence[str], line: float = LINE_HEIGHT) -> float:
    """Inches for rows with these tick labels, one a row: each row gets :data:`ROW_HEIGHT` or
    what its label's lines take, whichever is more, so that no label reaches its neighbours.
    The rows are spaced evenly, so every row gets the tallest label's height."""
    tallest = max((_lines(label) for label in labels), default=1)
    return len(labels) * max(ROW_HEIGHT, line * tallest + 0.1)


def _longest_line(texts: Sequence[str]) -> int:
    """The characters of the longest line of any of ``texts`` (0 for none).

    >>> _longest_line(["ab\\nabcd", "abc"])
    4
    """
    return max((len(line) for text in texts for line in text.splitlines()), default=0)


def _fill_title(text: str, width_in: float, points: float = 10) -> str:
    """``text`` with each of its lines wrapped to fit a figure ``width_in`` inches wide at
    ``points`` (a long setup name in the verdict's best would run off the figure)."""
    width = max(40, int(width_in * 72 / (0.6 * points)))  # a character: about 0.6 em
    return "\n".join(_wrap(line, width) for line in text.splitlines())


def _save(fig: Figure, path: Path) -> Path:
    """Draw ``fig`` into the PNG file ``path``. A warning matplotlib gives while drawing (a
    layout it could not apply, say) is given again with the file's name in front, so that
    whoever reads it knows which figure to look at."""
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # the Agg renderer, whatever backend pyplot may be using
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(path, dpi=DPI, format="png")
    for warning in caught:
        warnings.warn(f"{path.name}: {warning.message}", warning.category, stacklevel=2)
    return path


def _why_missing(row: pd.Series) -> str:
    if row["n_completed"] == 0:
        return "refused" if row["n_refused"] == row["n_runs"] else "no completed run"
    return "n/a"


def not_eligible(verdict: Verdict | None, summary: pd.DataFrame) -> dict[str, str]:
    """``{setup: why}`` for the setups the verdict does not consider for best: those of its
    ``unconverged``, "not converged" (most runs hit the epoch cap still improving,
    ``n_improving`` of ``n_completed`` in ``summary``) and/or "rate choice unsettled"
    (``lr_unsettled``), and those of its ``fewer_seeds``, "fewer seeds".

        >>> summary = pd.DataFrame({"setup": ["b", "c"], "n_improving": [2, 0],
        ...                         "n_completed": [3, 3], "lr_unsettled": ["", "lr 0.003 ..."]})
        >>> v = Verdict("wine", "multiclass", "test/nll", "a",
        ...             unconverged=[("b", "2 of 3 runs ..."), ("c", "lr 0.003 ...")],
        ...             fewer_seeds=[("d", "results on 2 of 3 seeds")])
        >>> not_eligible(v, summary)
        {'b': 'not converged', 'c': 'rate choice unsettled', 'd': 'fewer seeds'}
    """
    if verdict is None:
        return {}
    rows = summary.set_index("setup")
    out = {}
    for setup, _ in verdict.unconverged:
        row = rows.loc[setup] if setup in rows.index else pd.Series(dtype=object)
        improving, done = row.get("n_improving", 0), row.get("n_completed", 0)
        reasons = []
        if not pd.isna(improving) and done and 2 * int(improving) > int(done):
            reasons.append("not converged")  # as lossbench.report.compare.unconverged
        unsettled = row.get("lr_unsettled")
        if isinstance(unsettled, str) and unsettled:
            reasons.append("rate choice unsettled")
        out[setup] = ", ".join(reasons) or "not converged"
    out |= {setup: "fewer seeds" for setup, _ in verdict.fewer_seeds}
    return out


def _tick_label(row: pd.Series, metric: str, why: str | None) -> str:
    """A setup's tick label: its name, then "1 seed" where its mean is of one seed (no
    interval) and why the verdict does not consider it, if it does not."""
    notes = []
    if row.get(f"{metric}_n") == 1:
        notes.append("1 seed")
    if why is not None:
        notes.append(f"not eligible: {why}")
    label = _wrap(row["setup"])
    return f"{label}\n({'; '.join(notes)})" if notes else label


def _ranking_title(metric: str, verdict: Verdict | None) -> str:
    """What the metrics figure's order and marks mean, as the verdict has it."""
    text = f"Mean over seeds with 95 % t-interval (ticks: single seeds); ranked by {metric} mean"
    if verdict is None:
        return text
    if verdict.best is None:
        text += ", no best named (see the verdict)"
    else:
        text += f"; the verdict's best: {' = '.join([verdict.best, *verdict.identical])}"
    if verdict.unconverged or verdict.fewer_seeds:
        text += "\nhollow: not eligible for best"
    return text


def plot_metrics(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    metrics: Sequence[str],
    path: Path,
    verdict: Verdict | None = None,
    palette: Mapping[str, Any] | None = None,
) -> Path:
    """Mean and 95 % interval of each metric per setup (horizontal error bars; dots: seeds).

    ``summary`` holds one data set's rows in rank order (by the first of ``metrics``, the
    ranking metric); setups without a value say why. Each panel says which way its metric is
    better. A setup the data set's ``verdict`` does not consider for best (not converged, rate
    choice unsettled, fewer seeds: :func:`not_eligible`) is drawn hollow and says why in its
    tick label, a mean of one seed (no interval) says "1 seed"; the title names the verdict's
    best, or that it names none.
    """
    setups = list(summary["setup"])
    palette = colors(setups) if palette is None else palette
    excluded = not_eligible(verdict, summary)
    rank_by = metrics[0]
    labels = [
        _tick_label(row, rank_by, excluded.get(row["setup"])) for _, row in summary.iterrows()
    ]
    # the tick labels' column: 34 characters wide (:func:`_wrap`), wider for a longer word
    width = max(2.0, 0.3 + 0.062 * _longest_line(labels)) + 2.9 * len(metrics)
    title = _fill_title(_ranking_title(rank_by, verdict), width)
    height = 1.0 + 0.18 * _lines(title) + _rows_height(labels)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    y = np.arange(len(setups))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, (_, row) in enumerate(summary.iterrows()):
            mean = row.get(f"{metric}_mean", math.nan)
            if pd.isna(mean):
                ax.text(
                    0.02,
                    i,
                    _why_missing(row),
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    fontsize=8,
                    color=_MISSING_COLOR,
                    style="italic",
                )
                continue
            low, high = row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]
            xerr = None if pd.isna(low) else [[mean - low], [high - mean]]
            color = palette[row["setup"]]
            face = "white" if row["setup"] in excluded else color
            ax.errorbar(mean, i, xerr=xerr, fmt="o", color=color, mfc=face, capsize=4, markersize=6)
            seeds = runs[(runs["setup"] == row["setup"]) & (runs["status"] == "completed")]
            if metric in seeds:
                ax.plot(seeds[metric], np.full(len(seeds), i + 0.22), "|", color=color, alpha=0.7)
        if metric_range(metric) == (0.0, 1.0):  # the axis ends just outside the range
            low, high = ax.get_xlim()
            ax.set_xlim(max(low, -0.02), min(high, 1.02))
        mode = metric_mode(metric)
        better = "lower" if mode == "min" else "higher"
        ax.set_title(f"{metric} {ARROW[mode]}\n({better} is better)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].set_ylim(len(setups) - 0.5, -0.5)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _curves(runs: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Histories of ``key``: the epochs any run has a value at (:func:`epochs_of`), and the
    values as a (runs, epochs) array padded with NaN; None if no run has a history of ``key``."""
    histories = [h for h in runs["_history"] if isinstance(h, dict) and h.get(key)]
    if not histories:
        return None
    # rounded: the same epoch from runs whose float sums differ in the last bit is one column
    when = [np.round(epochs_of(h, key), 9) for h in histories]
    epochs = np.unique(np.concatenate(when))
    out = np.full((len(histories), len(epochs)), math.nan)
    for i, (h, at) in enumerate(zip(histories, when, strict=True)):
        out[i, np.searchsorted(epochs, at)] = np.asarray(h[key], dtype=float)
    return epochs, out


def _varies(runs: pd.DataFrame, key: str) -> bool:
    """Whether any run's history of ``key`` holds more than one value (a constant learning
    rate, even one that differs between runs, is not worth a figure)."""
    found = _curves(runs, key)
    if found is None:
        return False
    # within a run: runs at different constant rates (the tuned grid) are no schedule to show
    return any(len(np.unique(row[np.isfinite(row)])) > 1 for row in found[1])


def common_epochs(curves: np.ndarray) -> np.ndarray:
    """The columns of ``curves`` (runs x epochs, NaN where a run has no value) where every run
    has a finite value: where a mean over the seeds is a mean over all of them.

        >>> nan = math.nan
        >>> common_epochs(np.array([[1.0, 2, 3, 4], [1, 2, 3, nan], [1, nan, 3, nan]])).tolist()
        [True, False, True, False]
    """
    return np.isfinite(curves).all(axis=0)


def plot_learning_curves(
    runs: pd.DataFrame,
    setups: Sequence[str],
    path: Path,
    key: str = "val/nll",
    palette: Mapping[str, Any] | None = None,
) -> Path | None:
    """``key`` per epoch per setup: the mean over its runs (thick line) and their min-max band,
    drawn only at the epochs where every one of its runs with a history of ``key`` has a value
    (:func:`common_epochs`), so that no point of the mean is a mean of whichever seeds still
    run; past the first run's last epoch each run goes on as a thin line of its own. Every run
    ends in a dot where it stopped (early stopping, the epoch cap) or a cross where it failed
    in training (failed runs contribute the epochs before they failed). None if no run has a
    history of ``key``."""
    palette = colors(setups) if palette is None else palette
    # the legend beside the axes, one entry a setup at 7 points: as tall and wide as it needs
    entries = [_wrap(setup, 40) for setup in setups]
    legend = 0.5 + sum(0.13 * _lines(entry) + 0.06 for entry in entries)
    width = 9.0 + max(0.0, 0.055 * (_longest_line(entries) - 40))
    fig = Figure(figsize=(width, max(4.6, 1.2 + legend)), layout="constrained")
    ax = fig.subplots()
    values: list[np.ndarray] = []
    first, last = 1.0, 1.0
    for setup in setups:
        group = runs[runs["setup"] == setup]
        found = _curves(group, key)
        if found is None or not np.isfinite(found[1]).any():
            continue
        epochs, curves = found
        curves[~np.isfinite(curves)] = np.nan
        failed = np.array(
            [
                status != "completed"
                for h, status in zip(group["_history"], group["status"], strict=True)
                if isinstance(h, dict) and h.get(key)
            ],
            dtype=bool,
        )
        drawn = np.isfinite(curves).any(axis=1)  # a run without one finite value has no curve
        curves, failed = curves[drawn], failed[drawn]
        color = palette[setup]
        label = _wrap(setup, 40)
        every = common_epochs(curves)
        if every.any():
            at, seen = epochs[every], curves[:, every]
            marker = "o" if len(at) <= 30 else None  # a one-epoch curve is a single point
            ax.plot(at, seen.mean(0), color=color, label=label, lw=1.6, marker=marker, ms=3)
            ax.fill_between(at, seen.min(0), seen.max(0), color=color, alpha=0.15, lw=0)
            label = None
        end = epochs[every][-1] if every.any() else -math.inf
        for row, crashed in zip(curves, failed, strict=True):
            own = np.isfinite(row) & (epochs >= end)  # from the mean's last epoch on
            if own.sum() > 1:
                ax.plot(epochs[own], row[own], color=color, lw=0.8, alpha=0.6, label=label)
                label = None
            stop = np.flatnonzero(np.isfinite(row))[-1]  # its last value: where it ended
            ax.plot(
                epochs[stop],
                row[stop],
                "x" if crashed else "o",
                color=color,
                ms=5 if crashed else 3,
                alpha=0.8,
                label=label,
            )
            label = None
        values.append(curves[np.isfinite(curves)])
        first, last = min(first, epochs[0]), max(last, epochs[-1])
    if not values:
        return None
    every = np.concatenate(values)
    if every.min() > 0 and every.max() / every.min() > 30:  # a diverging setup: log scale
        ax.set_yscale("log")
    if last <= 20:
        ax.set_xticks(range(1, math.ceil(last) + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(min(0.5, first / 2), last + 0.5)  # validations within the first epoch show
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(
        f"{key} per epoch. Thick line: mean over seeds, band: min to max, both while every "
        "seed runs;\nthin lines: each seed on its own after that; dot: where a seed stopped, "
        "cross: where it failed in training",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _save(fig, path)


def pool_reliability(bins: Sequence[Mapping[str, Sequence]]) -> dict[str, np.ndarray]:
    """Pool reliability bins of several runs, weighting each run's bin by its count.

    Returns arrays ``confidence`` and ``accuracy`` (NaN for empty bins) and ``count``.

        >>> pooled = pool_reliability([
        ...     {"confidence": [0.2, None], "accuracy": [0.0, None], "count": [2, 0]},
        ...     {"confidence": [0.3, 0.9], "accuracy": [1.0, 1.0], "count": [2, 1]}])
        >>> pooled["confidence"].round(2).tolist(), pooled["count"].tolist()
        ([0.25, 0.9], [4, 1])
    """
    n = max(len(b["count"]) for b in bins)
    count = np.zeros(n)
    conf = np.zeros(n)
    acc = np.zeros(n)
    for b in bins:
        for i, (c, a, k) in enumerate(zip(b["confidence"], b["accuracy"], b["count"], strict=True)):
            if k and c is not None and a is not None:
                count[i] += k
                conf[i] += c * k
                acc[i] += a * k
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "confidence": np.where(count > 0, conf / count, np.nan),
            "accuracy": np.where(count > 0, acc / count, np.nan),
            "count": count.astype(int),
        }


def _table_ece(summary: pd.DataFrame | None, setup: str, key: str = "test/ece") -> str:
    """The tables' ECE of ``setup``: the mean of its seeds' own ``key``, from ``summary``.

    >>> rows = pd.DataFrame({"setup": ["a"], "test/ece_mean": [0.0291], "test/ece_n": [3]})
    >>> _table_ece(rows, "a"), _table_ece(rows, "b")
    ('test/ece 0.029 (mean of 3 seeds)', 'test/ece n/a')
    """
    if summary is None or f"{key}_mean" not in summary:
        return f"{key} n/a"
    row = summary[summary["setup"] == setup]
    if row.empty or pd.isna(row[f"{key}_mean"].iloc[0]):
        return f"{key} n/a"
    n = int(row[f"{key}_n"].iloc[0]) if f"{key}_n" in row else 0
    seeds = f" (mean of {n} seeds)" if n > 1 else " (1 seed)" if n == 1 else ""
    return f"{key} {row[f'{key}_mean'].iloc[0]:.3f}{seeds}"


def plot_reliability(
    runs: pd.DataFrame,
    setups: Sequence[str],
    path: Path,
    summary: pd.DataFrame | None = None,
    palette: Mapping[str, Any] | None = None,
) -> Path | None:
    """One reliability diagram per setup, bins pooled over seeds. None if no run has bins.

    Each panel names the setup's ``test/ece`` as the tables give it, the mean of its seeds'
    own ECE (from ``summary``), and, apart from it, the ECE of the pooled bins drawn (all
    seeds' predictions in one set of bins), which differs from that mean and is mostly lower:
    within a bin, one seed's overconfidence and another's underconfidence cancel when pooled.
    """
    pooled = {}
    for setup in setups:
        bins = [
            b
            for b in runs.loc[runs["setup"] == setup, "_reliability"]
            if isinstance(b, dict) and b.get("count")
        ]
        if bins:
            pooled[setup] = pool_reliability(bins)
    if not pooled:
        return None
    palette = colors(setups) if palette is None else palette
    ncols = min(4, len(pooled))
    nrows = math.ceil(len(pooled) / ncols)
    names = [_wrap(setup, 32) for setup in pooled]
    # each panel's title: the setup's name, then two lines of ECE (at 8 points)
    row = 2.75 + LINE_HEIGHT * (2 + max(_lines(name) for name in names))
    column = max(3.1, 0.5 + 0.062 * _longest_line(names))
    fig = Figure(figsize=(column * ncols, row * nrows + 0.7), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
    for ax in axes.flat[len(pooled) :]:
        ax.set_visible(False)
    for ax, name, (setup, p) in zip(axes.flat, names, pooled.items(), strict=False):
        total = p["count"].sum()
        edges = np.linspace(0, 1, len(p["count"]) + 1)
        ax.bar(
            edges[:-1],
            p["count"] / total,
            width=np.diff(edges),
            align="edge",
            color="0.85",
            label="share of predictions",
        )
        ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="perfect calibration")
        ok = p["count"] > 0
        ax.plot(
            p["confidence"][ok],
            p["accuracy"][ok],
            "o-",
            color=palette[setup],
            ms=4,
            lw=1.4,
            label="observed",
        )
        gap = np.nansum(np.abs(p["accuracy"] - p["confidence"]) * p["count"]) / total
        ax.set_title(
            f"{name}\n{_table_ece(summary, setup)}\npooled bins drawn: ECE {gap:.3f}, n={total}",
            fontsize=8,
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.suptitle(
        "Reliability on the test split, bins pooled over seeds. test/ece: the mean of the "
        "seeds' own ECE, as in the tables;\npooled bins drawn: the ECE of the bins shown (all "
        "seeds' predictions together), which can differ from that mean",
        fontsize=9,
    )
    for ax in axes[-1]:
        ax.set_xlabel("confidence (mean probability in bin)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("observed frequency", fontsize=8)
    return _save(fig, path)


def run_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set and setup, over every run of it at every learning rate of its grid (the
    study's runs table, not only the chosen rate's runs): ``n_runs``, ``n_failed`` (not
    completed: failed in training or refused) and ``n_refused`` (refused before training).

        >>> runs = pd.DataFrame({"data": ["d"] * 4, "setup": ["a", "a", "a", "b"],
        ...                      "status": ["completed", "failed", "failed", "failed"],
        ...                      "refused": [False, False, False, True]})
        >>> run_counts(runs).to_dict("records")[0]
        {'data': 'd', 'setup': 'a', 'n_runs': 3, 'n_failed': 2, 'n_refused': 0}
    """
    failed = runs["status"] != "completed"
    refused = runs["refused"].fillna(False).astype(bool) if "refused" in runs else False
    table = pd.DataFrame(
        {
            "data": runs["data"],
            "setup": runs["setup"],
            "n_runs": 1,
            "n_failed": failed.astype(int),
            "n_refused": (failed & refused).astype(int),
        }
    )
    return table.groupby(["data", "setup"], as_index=False, sort=True).sum()


def plot_stability(
    summary: pd.DataFrame,
    counts: pd.DataFrame,
    path: Path,
    key: str = "test/saturated",
    palette: Mapping[str, Any] | None = None,
) -> Path:
    """Mean saturated fraction per setup at its chosen learning rate (``summary``), and its
    runs that failed in training or were refused out of all its runs at every learning rate
    of its grid (``counts``: :func:`run_counts`), as the Failed-runs table lists them."""
    setups = list(summary["setup"])
    palette = colors(setups) if palette is None else palette
    y = np.arange(len(setups))
    labels = [_wrap(s) for s in setups]
    width = 10.0 + max(0.0, 0.062 * (_longest_line(labels) - 34))
    fig = Figure(figsize=(width, 1.9 + _rows_height(labels)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    means = summary[f"{key}_mean"] if f"{key}_mean" in summary else pd.Series(math.nan, y)
    left.barh(y, means.fillna(0).to_numpy(), color=[palette[s] for s in setups])
    for i, (value, (_, row)) in enumerate(zip(means, summary.iterrows(), strict=True)):
        text = _why_missing(row) if pd.isna(value) else f"{value:.3g}"
        left.text(0, i, f" {text}", va="center", fontsize=8)
    left.set_xlabel(f"mean {key} at the chosen rate (probabilities exactly 0 or 1)", fontsize=9)
    left.set_xlim(0, max(0.05, float(np.nanmax(means.to_numpy(dtype=float), initial=0)) * 1.3))
    columns = ["n_runs", "n_failed", "n_refused"]
    every = counts.set_index("setup")[columns].reindex(setups).fillna(0).astype(int)
    refused = every["n_refused"].to_numpy()
    crashed = every["n_failed"].to_numpy() - refused
    right.barh(y, crashed, color=FAILED_COLOR, label="failed in training")
    right.barh(y, refused, left=crashed, color="0.7", label="refused (not applicable)")
    for i, (failed, n) in enumerate(zip(every["n_failed"], every["n_runs"], strict=True)):
        right.text(failed, i, f" {failed}/{n}", va="center", fontsize=8)
    right.set_xlim(0, max(1, int(every["n_runs"].to_numpy().max(initial=0))) * 1.25)
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_xlabel("runs failed in training or refused, of all runs at every rate", fontsize=9)
    fig.legend(
        *right.get_legend_handles_labels(),
        loc="outside lower right",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    left.set_yticks(y, labels, fontsize=8)
    left.set_ylim(len(setups) - 0.5, -0.5)
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        "Stability: saturated probabilities (chosen rate) and failed runs (all rates)",
        fontsize=10,
    )
    return _save(fig, path)


def _plots_of(
    data: str,
    name: str,
    rows: pd.DataFrame,
    group: pd.DataFrame,
    metrics: Sequence[str],
    out_dir: Path,
    counts: pd.DataFrame,
    verdict: Verdict | None = None,
    palette: Mapping[str, Any] | None = None,
) -> list[tuple[str, Path]]:
    """The figures of one data set: ``[(title, png path), ...]``, named ``name`` + what each
    shows (:func:`file_names`); ``group``: its runs at the chosen learning rates, ``counts``:
    its runs at every rate counted (:func:`run_counts`); ``verdict``: its verdict; ``palette``:
    every setup's color in the report (:func:`colors`)."""
    setups = list(rows["setup"])
    drawn: list[tuple[str, Path | None]] = []
    if rows["n_completed"].sum() > 0:
        path = out_dir / f"{name}_metrics.png"
        drawn.append(
            ("Headline metrics", plot_metrics(rows, group, metrics, path, verdict, palette))
        )
    path = out_dir / f"{name}_learning_curves.png"
    drawn.append(("Learning curves", plot_learning_curves(group, setups, path, palette=palette)))
    if _varies(group, "train/lr"):  # a learning-rate scheduler: the rate of each epoch
        path = out_dir / f"{name}_learning_rate.png"
        drawn.append(
            ("Learning rate", plot_learning_curves(group, setups, path, "train/lr", palette))
        )
    path = out_dir / f"{name}_reliability.png"
    drawn.append(("Reliability diagrams", plot_reliability(group, setups, path, rows, palette)))
    path = out_dir / f"{name}_stability.png"
    drawn.append(("Stability", plot_stability(rows, counts, path, palette=palette)))
    return [(title, p) for title, p in drawn if p is not None]


def _plot_workers(n_data: int) -> int:
    """Processes to draw with: one per data set up to the cores, where fork exists and this
    process has no other threads (a forked copy of a threaded process can deadlock)."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    return max(1, min(n_data, cores()))


def _drawing_worker() -> None:
    """Start a drawing process: Ctrl-C is left to the report's process, and SIGTERM (which
    ``Pool.terminate`` sends) ends it at once, without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def make_plots(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    metrics: Sequence[str],
    out_dir: Path,
    every_rate: pd.DataFrame | None = None,
    verdicts: Sequence[Verdict] = (),
) -> dict[str, list[tuple[str, Path]]]:
    """All figures for every data set, as ``{data: [(title, png path), ...]}``.

    ``runs`` are the runs of each setup's chosen learning rate, which the figures show;
    ``every_rate`` the study's runs at every rate (default: ``runs``), of which the stability
    figure counts the failed and refused ones; ``verdicts`` the study's verdicts, which the
    metrics figure marks the setups they do not consider in. A setup has one color in every
    figure (:func:`colors` of the study's setups, sorted by name).

    Drawing is most of a report's time (about 0.3 s a figure); the data sets are drawn in
    parallel processes, one per core. A stop (Ctrl-C, SIGTERM) is this process's: the workers
    ignore Ctrl-C (a terminal sends it to them too), and a stop here ends them at once, so
    that none draws on after the report has stopped.
    """
    out_dir = Path(out_dir)
    counts = run_counts(runs if every_rate is None else every_rate)
    by_data = {str(v.data): v for v in verdicts}
    palette = colors(sorted({str(setup) for setup in summary["setup"]}))  # one per setup
    names = file_names([str(data) for data in summary["data"].unique()])
    jobs = [
        (
            str(data),
            names[str(data)],
            rows,
            runs[runs["data"] == data],
            list(metrics),
            out_dir,
            counts[counts["data"] == data],
            by_data.get(str(data)),
            palette,
        )
        for data, rows in summary.groupby("data", sort=True)
    ]
    workers = _plot_workers(len(jobs))
    if workers == 1:
        drawn = [_plots_of(*job) for job in jobs]
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_drawing_worker) as pool:  # ends: terminate
            drawn = pool.starmap(_plots_of, jobs)
    return {job[0]: figures for job, figures in zip(jobs, drawn, strict=True)}
