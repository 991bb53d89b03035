"""The yardstick: scikit-learn's ``LogisticRegression`` on the study's own splits.

For each data set and split of a study, a logistic regression is fitted on the same
standardised training rows the networks saw, its ``C`` chosen on the validation split (lowest
log-loss over :data:`C_GRID`, widened where the chosen ``C`` is at an end: :func:`choose_c`),
and it is scored on the test split with lossbench's own metrics
(:class:`lossbench.metrics.ClassificationMetrics`, the same code that scored the runs). Multi-label
data get one binary model per label (one-vs-rest, ``MultiOutputClassifier``); multi-class data
one multinomial model; dense data sets (a label per pixel) have none. The report shows it as a
reference row, so a reader sees at once whether
the networks learned anything a linear model does not.

    >>> from lossbench.report.yardstick import fit_yardstick
    >>> data = {"name": "wine", "batch_size": 64, "split_seed": 0, "val_fraction": 0.2,
    ...         "test_fraction": 0.2}
    >>> result = fit_yardstick(data)
    >>> result["C"], result["C_grid"], result["C_at_bound"], result["test/accuracy"] > 0.9
    (1000.0, '0.01 0.1 1 10 100 1000 10000', False, True)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lossbench.report.stats import trained_runs

#: The inverse regularisation strengths tried first; the one with the lowest validation
#: log-loss wins, and the grid is widened where it is the smallest or largest (:func:`choose_c`),
#: as a study's learning-rate grid is (``hydra.sweeper.widen``).
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
#: How far the grid is widened, by factors of 10 beyond its ends. scikit-learn minimises
#: ``C`` times the summed training log-loss plus half the squared weights, on standardised
#: features: at 1e-4 the penalty dominates so far that every prediction is about the training
#: split's class shares (wine's validation log-loss 1.07 there, its three classes' entropy
#: 1.09), so a smaller ``C`` has nothing left to change; at 1e6 the penalty weighs a millionth
#: of the summed log-loss, as good as no regularisation, and a larger ``C`` only lets the
#: weights of separable data grow further. A ``C`` still chosen at a bound is recorded
#: (``C_at_bound``) and named in the report.
C_BOUNDS = (1e-4, 1e6)
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


def _beyond(c: float, factor: float) -> float:
    """``c`` times ``factor``, to 12 digits (0.1 * 0.1 is 0.01, not 0.010000000000000002)."""
    return float(f"{c * factor:.12g}")


def choose_c(val_nll: Callable[[float], float]) -> tuple[float, list[float]]:
    """The ``C`` with the lowest ``val_nll(C)`` and every ``C`` tried, smallest first.

    First :data:`C_GRID`; while the chosen ``C`` is the smallest or largest tried, the next
    ``C`` beyond that end (a factor of 10) is tried too, up to :data:`C_BOUNDS`. Log-losses
    within float32 rounding of the lowest (1e-6 relative) are equal, as the learning rate's
    are (:func:`lossbench.tuning_grid.best_rate`), and of equal log-losses the smallest ``C``
    is chosen (the strongest regularisation): a log-loss that creeps down in its seventh digit
    as ``C`` grows (the solver's tolerance, not a better fit) neither widens the grid further
    nor ends at a bound, and the choice does not depend on the order of the fits. A ``C``
    chosen at a bound is the grid's end: the caller tells it by ``C in C_BOUNDS``.

        >>> curve = {0.01: 0.5, 0.1: 0.3, 1.0: 0.2, 10.0: 0.1, 100.0: 0.05, 1000.0: 0.04,
        ...          10000.0: 0.045}
        >>> choose_c(curve.__getitem__)
        (1000.0, [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0])
        >>> choose_c(lambda c: max(1 / c, 0.1))  # equal from 10 on: the smallest of them
        (10.0, [0.01, 0.1, 1.0, 10.0, 100.0])
        >>> choose_c((curve | {1000.0: 0.04999999}).__getitem__)  # 2e-7 lower: equal
        (100.0, [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0])
        >>> choose_c(lambda c: 1 / c)[0]  # the log-loss keeps falling: stopped at the bound
        1000000.0
    """
    from lossbench.tuning_grid import best_rate, rate_key

    nll = {c: val_nll(c) for c in C_GRID}
    while True:
        tried = sorted(nll)
        best = best_rate({c: rate_key([value], "min") for c, value in nll.items()})
        if best == tried[0] and best > C_BOUNDS[0]:
            nxt = _beyond(best, 0.1)
        elif best == tried[-1] and best < C_BOUNDS[1]:
            nxt = _beyond(best, 10.0)
        else:
            return best, tried
        nll[nxt] = val_nll(nxt)


def fit_yardstick(data_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Fit the yardstick on the split that ``data_cfg`` describes; return ``C`` (chosen on
    validation), ``C_grid`` (the values tried, smallest first), ``C_at_bound`` (the chosen
    ``C`` is a bound of :data:`C_BOUNDS` the grid was widened to: a larger or smaller one
    might fit better), ``train_seconds`` (all fits) and every ``val/`` and ``test/`` metric."""
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
    models = {}

    def val_nll(c: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at large C on separable data
            models[c] = _model(task, c).fit(split["train"][0], split["train"][1].numpy())
        x, labels = split["val"]  # C is chosen on the validation NLL alone
        scores = _scores(models[c], task, x)
        return _evaluate(task, n_targets, scores, labels, "val", only=("nll",))["val/nll"]

    c, tried = choose_c(val_nll)
    model = models[c]
    result: dict[str, Any] = {
        "C": c,
        "C_grid": " ".join(f"{t:g}" for t in tried),
        "C_at_bound": c in C_BOUNDS,  # the grid's end: it is widened until C is inside
    }
    for stage in ("val", "test"):
        x, labels = split[stage]
        result |= _evaluate(task, n_targets, _scores(model, task, x), labels, stage)
    result["train_seconds"] = time.perf_counter() - start
    return result


def _shared_splits(selected: pd.DataFrame) -> pd.DataFrame:
    """The completed runs of ``selected`` on the splits that more than half of their data
    set's setups were trained on (completed or failed), as the verdicts compare the setups: a
    split only one of two setups was trained with again (an extra seed) is no split of the
    comparison, and the yardstick's mean leaves it out too.

        >>> runs = pd.DataFrame({"data": "a", "status": "completed", "refused": False,
        ...                      "setup": list("xxxyyyy"), "seed": [0, 1, 2, 0, 1, 2, 3],
        ...                      "split_seed": [0, 1, 2, 0, 1, 2, 3]})
        >>> sorted(_shared_splits(runs)["split_seed"].unique().tolist())
        [0, 1, 2]
    """

    def split(runs: pd.DataFrame) -> pd.Series:  # one fixed split (no split_seed) counts too
        return runs["split_seed"].astype(object).where(runs["split_seed"].notna(), "fixed")

    ran = trained_runs(selected)
    setups = ran.groupby("data")["setup"].nunique()
    per_split = ran.groupby([ran["data"], split(ran)])["setup"].nunique()
    shared = {key for key, n in per_split.items() if 2 * n > setups[key[0]]}
    done = selected[selected["status"] == "completed"]
    keys = zip(done["data"], split(done), strict=True)
    return done[[key in shared for key in keys]]


def yardstick_runs(
    selected: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, list[tuple[Any, str]]]]:
    """One row per data set and split of the study's completed runs: the yardstick fitted
    once on that split (read from a run's ``config.yaml``), with ``data``, ``task``,
    ``split_seed`` and the ``seeds`` of the runs trained on it. The fair protocol draws a
    split per seed (``data.split_seed=${seed}``): one fit per seed; a study on one fixed split
    has one fit, however many seeds. A dense data set (a label per pixel: no table of feature
    rows to fit) has none. Also returned: ``{data: [(split_seed, why)]}``, the splits that could
    not be fitted (a config that cannot be read, a CSV file no longer where the run read it),
    which the report names rather than leave the reference row out without a word.

    A CSV's relative ``data.path`` is read from the folder lossbench-train ran in (Hydra
    records it, ``.hydra/hydra.yaml``), as lossbench-eval reads it: never from the folder the
    report runs in, where a file of the same name may hold other rows."""
    from lossbench.tasks import is_dense

    done = _shared_splits(selected)
    splits = [
        (
            data,
            split_seed,
            " ".join(str(s) for s in sorted(group["seed"].dropna().unique())),
            group["task"].iloc[0],
            Path(group.sort_values("seed")["run_dir"].iloc[0]),
        )
        for (data, split_seed), group in done.groupby(
            ["data", "split_seed"], sort=True, dropna=False
        )
        if not is_dense(str(group["task"].iloc[0]))
    ]
    if not splits:
        return pd.DataFrame(), {}
    import torch
    from threadpoolctl import threadpool_limits

    # Here, one thread each for torch and the BLAS: ~20 fits of 0.1-0.4 s took 4.5 s in all,
    # 9 s with two threads on two cores, 18 s in two forked workers and more in two fresh
    # worker processes, which first import torch, torchmetrics and scikit-learn.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            fitted = [_fit_split(run_dir) for *_, run_dir in splits]
    finally:
        torch.set_num_threads(threads)
    rows, not_fitted = [], {}
    for (data, split_seed, seeds, task, _), row in zip(splits, fitted, strict=True):
        if isinstance(row, str):
            not_fitted.setdefault(data, []).append((split_seed, row))
        else:
            rows.append(
                {"data": data, "task": task, "split_seed": split_seed, "seeds": seeds, **row}
            )
    return pd.DataFrame(rows), not_fitted


def _fit_split(run_dir: Path) -> dict[str, Any] | str:
    """The yardstick of the split in the ``config.yaml`` of the run in ``run_dir``, or why it
    cannot be fitted."""
    config = run_dir / "config.yaml"
    try:
        data_cfg = yaml.safe_load(config.read_text())["data"]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        return f"{config} cannot be read ({type(error).__name__}: {error})"
    if isinstance(data_cfg, dict) and data_cfg.get("name") == "csv":
        found = _run_data_file(str(data_cfg.get("path")), run_dir)
        if isinstance(found, str):
            return found
        data_cfg = {**data_cfg, "path": str(found)}
    try:
        return fit_yardstick(data_cfg)
    except (OSError, KeyError, TypeError, ValueError) as error:
        return str(error)


def _run_data_file(path: str, run_dir: Path) -> Path | str:
    """Where the run in ``run_dir`` read its CSV file ``path`` (a relative one from the folder
    lossbench-train ran in), or why it cannot be told or is no longer there."""
    from lossbench.record import training_cwd

    given = Path(path).expanduser()
    if not given.is_absolute():
        cwd = training_cwd(run_dir)
        if cwd is None:
            return (
                f"its data file data.path={path!r} is relative, and the folder lossbench-train "
                f"ran in is not recorded (in Hydra's hydra.yaml, {run_dir / '.hydra'}, or "
                "the folder hydra.output_subdir named)"
            )
        given = cwd / given
    if not given.is_file():
        return f"its data file data.path={path!r} is no longer at {given}"
    return given


def yardstick_summary(runs: pd.DataFrame, metrics: list[str]) -> pd.DataFrame | None:
    """The yardstick's rows for the report's summary tables: per data set, the mean and 95 %
    interval of every metric over its distinct splits, ``n_splits`` of them (one fixed split:
    one value, no interval; the columns of :func:`summarize`), the ``C`` chosen on each split
    and, in ``C_at_bound``, those of them at a bound of :data:`C_BOUNDS` ("" where none is)."""
    from lossbench.metric_names import metric_range
    from lossbench.report.stats import estimate

    if runs.empty:
        return None
    rows = []
    for data, group in runs.groupby("data", sort=True):
        row: dict[str, Any] = {"data": data, "setup": NAME, "n_splits": len(group)}
        row["C"] = " ".join(f"{c:g}" for c in group["C"])
        at_bound = group["C"][group["C_at_bound"].astype(bool)] if "C_at_bound" in group else []
        row["C_at_bound"] = " ".join(f"{c:g}" for c in at_bound)
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
