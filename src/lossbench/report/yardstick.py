"""The yardstick: scikit-learn's ``LogisticRegression`` on the study's own splits.

For each data set and split of a study, a logistic regression is fitted on the same
standardised training rows the networks saw, its ``C`` chosen on the validation split (lowest
log-loss over :data:`C_GRID`), and it is scored on the test split with lossbench's own metrics
(:class:`lossbench.metrics.ClassificationMetrics`, the same code that scored the runs). Multi-label
data get one binary model per label (one-vs-rest, ``MultiOutputClassifier``); multi-class data
one multinomial model; dense data sets (a label per pixel) have none. The report shows it as a
reference row, so a reader sees at once whether
the networks learned anything a linear model does not.

    >>> from lossbench.report.yardstick import fit_yardstick
    >>> data = {"name": "wine", "batch_size": 64, "split_seed": 0, "val_fraction": 0.2,
    ...         "test_fraction": 0.2}
    >>> result = fit_yardstick(data)
    >>> result["C"] in C_GRID, result["test/accuracy"] > 0.9
    (True, True)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: The inverse regularisation strengths tried; the one with the lowest validation log-loss wins.
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
#: The yardstick's name in the report's tables.
NAME = "LogisticRegression"


def _model(task: str, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    model = LogisticRegression(C=c, max_iter=2000)
    return MultiOutputClassifier(model) if task == "multilabel" else model


def _scores(model: Any, task: str, x: np.ndarray) -> np.ndarray:
    """Raw scores ``(N, U)``: the decision function, one column per label for multi-label."""
    if task == "multilabel":
        return np.stack([m.decision_function(x) for m in model.estimators_], axis=1)
    scores = model.decision_function(x)
    return scores[:, None] if scores.ndim == 1 else scores


def _evaluate(
    task: str,
    n_targets: int,
    scores: np.ndarray,
    labels: Any,
    stage: str,
    only: tuple[str, ...] | None = None,
) -> dict:
    import torch

    from lossbench.metrics import ClassificationMetrics

    metrics = ClassificationMetrics(task, n_targets, prefix=f"{stage}/", only=only)
    link = "softmax" if task == "multiclass" else "sigmoid"
    metrics.update_from_scores(torch.from_numpy(scores).to(torch.float64), labels, link)
    return {key: float(value) for key, value in metrics.compute().items()}


def fit_yardstick(data_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Fit the yardstick on the split that ``data_cfg`` describes; return ``C`` (chosen on
    validation), ``train_seconds`` (all fits) and every ``val/`` and ``test/`` metric."""
    import torch

    from lossbench.data.datasets import load_table, task_of
    from lossbench.data.splits import split_and_standardize

    start = time.perf_counter()
    # The split and preprocessing of lossbench's data module (without Lightning, which a
    # worker process would import for nothing: most of its time on a small data set).
    task = task_of(data_cfg)
    table = load_table(data_cfg)
    splits, _ = split_and_standardize(
        table,
        task,
        val_fraction=data_cfg["val_fraction"],
        test_fraction=data_cfg["test_fraction"],
        split_seed=data_cfg["split_seed"],
        impute=data_cfg.get("impute"),
        what=f"data={data_cfg['name']}",
    )
    n_targets = 1 if task == "binary" else len(table.label_names)
    split = {
        s: (part.features.astype(np.float64), torch.from_numpy(part.labels))
        for s, part in splits.items()
    }
    fits = []
    for c in C_GRID:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at large C on separable data
            model = _model(task, c).fit(split["train"][0], split["train"][1].numpy())
        x, labels = split["val"]  # C is chosen on the validation NLL alone
        scores = _scores(model, task, x)
        nll = _evaluate(task, n_targets, scores, labels, "val", only=("nll",))["val/nll"]
        fits.append((nll, c, model))
    _, c, model = min(fits, key=lambda fit: fit[0])  # the first C of equal log-losses
    result: dict[str, Any] = {"C": c}
    for stage in ("val", "test"):
        x, labels = split[stage]
        result |= _evaluate(task, n_targets, _scores(model, task, x), labels, stage)
    result["train_seconds"] = time.perf_counter() - start
    return result


def yardstick_runs(selected: pd.DataFrame) -> pd.DataFrame:
    """One row per data set and split of the study's completed runs: the yardstick fitted
    once on that split (read from a run's ``config.yaml``), with ``data``, ``task``,
    ``split_seed`` and the ``seeds`` of the runs trained on it. The fair protocol draws a
    split per seed (``data.split_seed=${seed}``): one fit per seed; a study on one fixed split
    has one fit, however many seeds. A data set whose config cannot be read or loaded is left
    out, and so is a dense one (a label per pixel: no table of feature rows to fit)."""
    from lossbench.tasks import is_dense

    done = selected[selected["status"] == "completed"]
    splits = [
        (
            data,
            split_seed,
            " ".join(str(s) for s in sorted(group["seed"].dropna().unique())),
            group["task"].iloc[0],
            Path(group.sort_values("seed")["run_dir"].iloc[0]) / "config.yaml",
        )
        for (data, split_seed), group in done.groupby(
            ["data", "split_seed"], sort=True, dropna=False
        )
        if not is_dense(str(group["task"].iloc[0]))
    ]
    if not splits:
        return pd.DataFrame()
    import torch
    from threadpoolctl import threadpool_limits

    # Here, one thread each for torch and the BLAS: ~20 fits of 0.1-0.4 s took 4.5 s in all,
    # 9 s with two threads on two cores, 18 s in two forked workers and more in two fresh
    # worker processes, which first import torch, torchmetrics and scikit-learn.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            fitted = [_fit_split(config) for *_, config in splits]
    finally:
        torch.set_num_threads(threads)
    rows = [
        {"data": data, "task": task, "split_seed": split_seed, "seeds": seeds, **row}
        for (data, split_seed, seeds, task, _), row in zip(splits, fitted, strict=True)
        if row is not None
    ]
    return pd.DataFrame(rows)


def _fit_split(config: Path) -> dict[str, Any] | None:
    """The yardstick of the split in a run's ``config.yaml``; None if it cannot be read."""
    try:
        data_cfg = yaml.safe_load(config.read_text())["data"]
        return fit_yardstick(data_cfg)
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return None


def yardstick_summary(runs: pd.DataFrame, metrics: list[str]) -> pd.DataFrame | None:
    """The yardstick's rows for the report's summary tables: per data set, the mean and 95 %
    interval of every metric over its distinct splits, ``n_splits`` of them (one fixed split:
    one value, no interval; the columns of :func:`summarize`)."""
    from lossbench.metric_names import metric_range
    from lossbench.report.stats import estimate

    if runs.empty:
        return None
    rows = []
    for data, group in runs.groupby("data", sort=True):
        row: dict[str, Any] = {"data": data, "setup": NAME, "n_splits": len(group)}
        row["C"] = " ".join(f"{c:g}" for c in group["C"])
        row["train_seconds_mean"] = float(group["train_seconds"].mean())
        for metric in metrics:
            e = (
                estimate(group[metric], bounds=metric_range(metric))
                if metric in group
                else estimate([])
            )
            row |= {
                f"{metric}_mean": e.mean,
                f"{metric}_ci_low": e.low,
                f"{metric}_ci_high": e.high,
                f"{metric}_n": e.n,
            }
        rows.append(row)
    return pd.DataFrame(rows).replace({math.inf: math.nan})
