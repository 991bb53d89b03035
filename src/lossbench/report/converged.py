"""Whether a run that reached the epoch cap was still improving there.

A run records ``stopped_by=budget`` when it trained until the trainer's cap. With early
stopping on (every fair study), that means its patience had not run out: the run was still
improving, and a longer budget could change its result. Without early stopping every run
reaches the cap, so the cap says nothing; the run's history does. Such a run was still
improving when early stopping, had it been on with the run's own settings
(``early_stopping.monitor``, ``mode``, ``patience``, ``min_delta`` in its config.yaml), would
not have stopped it by the last validation: its monitored metric improved by more than
``min_delta`` within the last ``patience`` validations.

    >>> config = {"early_stopping.enabled": False, "early_stopping.patience": 2,
    ...           "early_stopping.min_delta": 0.0, "optimized_metric": "val/nll"}
    >>> still_improving("budget", {"val/nll": [1.0, 0.5, 0.6, 0.7]}, config)  # best 2 ago
    False
    >>> still_improving("budget", {"val/nll": [1.0, 0.5, 0.6, 0.4]}, config)  # best is last
    True
    >>> still_improving("budget", {"val/nll": [1.0, 0.5]}, {"early_stopping.enabled": True})
    True
    >>> still_improving("early_stopping", {"val/nll": [1.0, 0.5]}, config)
    False

A run whose config is unknown (no readable config.yaml), or whose history lacks the metric
early stopping would have monitored, counts as still improving: nothing recorded says
otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lossbench.metric_names import metric_mode


def early_stopping_on(config: Any) -> bool | None:
    """Whether the run was trained with early stopping (``early_stopping.enabled`` of its
    flattened config.yaml); None where that is unknown.

        >>> early_stopping_on({"early_stopping.enabled": False}), early_stopping_on(None)
        (False, None)
    """
    if not isinstance(config, Mapping):
        return None
    enabled = config.get("early_stopping.enabled")
    return enabled if isinstance(enabled, bool) else None


def patience_ran_out(values: Sequence[float], mode: str, patience: int, min_delta: float) -> bool:
    """Whether Lightning's ``EarlyStopping`` with these settings, watching ``values`` (one a
    validation), would have stopped the run by the last of them: the last improvement by more
    than ``min_delta`` lies ``patience`` or more validations back (at least one), or a value is
    not finite.

        >>> patience_ran_out([1.0, 0.5, 0.6, 0.7], "min", 2, 0.0)
        True
        >>> patience_ran_out([1.0, 0.5, 0.49, 0.48], "min", 2, 0.05)  # too small to count
        True
        >>> patience_ran_out([0.5, 0.6, 0.7], "max", 5, 0.0)
        False
        >>> patience_ran_out([0.869, 0.5, 0.2], "min", 3, 1.0)  # min_delta >= 1: wait is 2
        False
    """
    best, wait = math.nan, 0
    for value in values:
        if not math.isfinite(value):
            return True
        # before a best, any value improves (Lightning starts from an infinite best score)
        gain = math.inf
        if math.isfinite(best):
            gain = best - value if mode == "min" else value - best
        if gain > min_delta:
            best, wait = value, 0
        else:
            wait += 1
    return wait >= max(patience, 1)


def still_improving(stopped_by: Any, history: Any, config: Any) -> bool:
    """Whether a run reached the epoch cap while still improving (see the module's text)."""
    if stopped_by != "budget":
        return False
    if early_stopping_on(config) is not False:
        return True  # on: its patience had not run out; unknown: nothing says otherwise
    monitor = config.get("early_stopping.monitor") or config.get("optimized_metric")
    values = history.get(monitor) if isinstance(history, Mapping) and monitor else None
    if not values:
        return True
    mode = config.get("early_stopping.mode") or metric_mode(monitor)
    patience = int(config.get("early_stopping.patience") or 0)
    min_delta = float(config.get("early_stopping.min_delta") or 0.0)
    return not patience_ran_out([float(v) for v in values], mode, patience, min_delta)
