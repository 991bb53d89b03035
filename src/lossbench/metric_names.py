"""The metrics each task reports, by name, and which way each is better.

The one list that :class:`lossbench.metrics.ClassificationMetrics` computes, config validation
checks ``optimized_metric`` and monitors against, and runs log. It imports nothing heavy, so
validating a config never loads torch.

    >>> METRIC_NAMES["binary"]
    ('accuracy', 'f1_macro', 'auroc', 'ece', 'nll', 'brier', 'saturated')
    >>> LOGGED_METRICS["multiclass"][:3]
    ('loss', 'accuracy', 'f1_macro')
    >>> metric_mode("val/nll"), metric_mode("test/auroc")
    ('min', 'max')
    >>> metric_range("test/accuracy"), metric_range("val/nll"), metric_range("train/loss")
    ((0.0, 1.0), (0.0, inf), (-inf, inf))
"""

from __future__ import annotations

import math

__all__ = [
    "LOGGED_METRICS",
    "LOWER_IS_BETTER",
    "METRIC_NAMES",
    "METRIC_RANGES",
    "VALIDATION_EPOCH",
    "VALIDATION_STEP",
    "VALIDATION_TIMES",
    "best_logged",
    "metric_mode",
    "metric_range",
]

#: Metric names per task, in the order :meth:`ClassificationMetrics.compute` returns them.
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "f1_macro", "auroc", "ece", "nll", "brier", "saturated"),
    "multilabel": (
        "accuracy",
        "exact_match",
        "f1_macro",
        "f1_micro",
        "auroc",
        "map",
        "ece",
        "nll",
        "brier",
        "saturated",
    ),
    "multiclass": ("accuracy", "f1_macro", "auroc", "ece", "nll", "brier", "saturated"),
    # per pixel (lossbench.metrics.flatten_positions); miou: mean intersection over union
    "dense_binary": ("accuracy", "miou", "f1_macro", "ece", "nll", "brier", "saturated"),
    "dense_multiclass": ("accuracy", "miou", "f1_macro", "ece", "nll", "brier", "saturated"),
}
#: What a run logs per stage (``train/``, ``val/``, ``test/``): the mean loss, then the metrics.
LOGGED_METRICS: dict[str, tuple[str, ...]] = {
    task: ("loss", *names) for task, names in METRIC_NAMES.items()
}
#: The history's record of when each validation ran, one entry per ``val/`` entry: the epochs of
#: training done at that moment. ``2.0`` is the end of the second epoch; with
#: ``trainer.val_check_interval=0.5`` the entries are ``0.5, 1.0, 1.5, ...``, with
#: ``trainer.check_val_every_n_epoch=2`` they are ``2.0, 4.0, ...``. Not a metric: never logged.
VALIDATION_EPOCH = "val/epoch"
#: The optimizer steps done at each validation, one entry per ``val/`` entry
#: (``trainer.global_step`` then): the report's ``steps_to_1pct`` reads it. Not a metric.
VALIDATION_STEP = "val/step"
#: The history's keys that record when each validation ran, not what it measured.
VALIDATION_TIMES = (VALIDATION_EPOCH, VALIDATION_STEP)

#: The prefix under which the loggers get the best checkpoint's validation metrics at the end
#: of a fit (``best/val/nll``): under ``val/`` they would be one more point of the per-epoch
#: curve, at the last step, where the curve seemed to improve at its end.
BEST_PREFIX = "best/"


def best_logged(results: dict[str, float]) -> dict[str, float]:
    """The best checkpoint's ``val/`` and ``test/`` metrics as the loggers get them once a fit
    has ended: ``val/`` under :data:`BEST_PREFIX` (the run's ``metrics.json`` keeps ``val/``);
    ``test/`` as they are (the test split is scored only then).

        >>> best_logged({"val/nll": 0.5, "test/nll": 0.6})
        {'best/val/nll': 0.5, 'test/nll': 0.6}
    """
    return {(BEST_PREFIX + k if k.startswith("val/") else k): v for k, v in results.items()}


#: The losses and error-like metrics: lower values are better.
LOWER_IS_BETTER = ("loss", "nll", "brier", "ece", "saturated")


#: The values each metric can take (``loss``, a loss of the user's choosing, is not bounded):
#: fractions and scores lie in [0, 1]; NLL and Brier (a multi-class Brier score reaches 2) are
#: at least 0. A confidence interval of a metric's mean is clipped to this range
#: (:func:`lossbench.report.stats.estimate`).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(
        ("accuracy", "exact_match", "f1_macro", "f1_micro", "auroc", "map", "miou"), (0.0, 1.0)
    ),
    **dict.fromkeys(("ece", "saturated"), (0.0, 1.0)),
    **dict.fromkeys(("nll", "brier"), (0.0, math.inf)),
}


def metric_mode(name: str) -> str:
    """'min' for losses and error-like metrics (``val/nll``), 'max' for scores (``val/auroc``)."""
    return "min" if name.rsplit("/", 1)[-1] in LOWER_IS_BETTER else "max"


def metric_range(name: str) -> tuple[float, float]:
    """The values a metric can take (``test/auroc``: (0, 1)); unbounded for the loss and for
    names that are not lossbench's metrics."""
    return METRIC_RANGES.get(name.rsplit("/", 1)[-1], (-math.inf, math.inf))
