"""One member of a vectorized group: a run's config, its data, its model, and its bookkeeping.

A member is built exactly as :func:`lossbench.training.train` builds a run alone, in the same
order (``seed_everything(seed)``, the data module with its own ``data.split_seed``, the loss,
then the ``ClassifierModule``), so its initial weights are those of the run alone. During the
fit it keeps the rules of the callbacks a run alone has: the best epoch as
``ModelCheckpoint(save_top_k=1)`` chooses it and, if enabled, Lightning's ``EarlyStopping``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from lossbench.metric_names import metric_mode


@dataclass
class BestEpoch:
    """``ModelCheckpoint(save_top_k=1)``'s choice: the first epoch, then every epoch strictly
    better than the best so far; a NaN value is never better (a NaN first epoch counts as the
    worst value).

        >>> best = BestEpoch("min")
        >>> [best.update(v, e) for e, v in enumerate([0.5, 0.5, 0.4, float("nan")])]
        [True, False, True, False]
    """

    mode: str
    score: float | None = None
    epoch: int | None = None

    def update(self, value: float, epoch: int) -> bool:
        if self.score is not None:
            better = value < self.score if self.mode == "min" else value > self.score
            if not better:  # NaN compares False
                return False
        if math.isnan(value):
            value = math.inf if self.mode == "min" else -math.inf
        self.score, self.epoch = value, epoch
        return True


@dataclass
class EarlyStop:
    """Lightning ``EarlyStopping``'s rule (``check_finite=True``, no thresholds): stop when the
    monitored value is not finite, or after ``patience`` epochs without an improvement of more
    than ``min_delta``.

        >>> stop = EarlyStop("min", patience=2, min_delta=0.0)
        >>> [stop.update(v) for v in [1.0, 0.9, 0.95, 0.9]]
        [False, False, False, True]
    """

    mode: str
    patience: int
    min_delta: float
    best: float = field(init=False)
    wait: int = 0

    def __post_init__(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        # EarlyStopping: min_delta *= 1 if mode == "max" else -1; improvement: op(v - d, best)
        self.delta = self.min_delta if self.mode == "max" else -self.min_delta

    def update(self, value: float) -> bool:
        """Whether to stop after an epoch whose monitored value is ``value``."""
        if not math.isfinite(value):
            return True
        shifted = value - self.delta
        if shifted < self.best if self.mode == "min" else shifted > self.best:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= self.patience


@dataclass
class Member:
    """A run trained inside a group: its config, run directory, record and state."""

    cfg: DictConfig
    output_dir: Path
    record: dict[str, Any]
    module: Any = None  # its own ClassifierModule: final evaluation, checkpoints
    datamodule: Any = None
    best: BestEpoch | None = None
    early_stop: EarlyStop | None = None
    #: Monitored by the best-epoch rule and by early stopping.
    checkpoint_monitor: str = ""
    stop_monitor: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    #: The member's weights (its module's ``state_dict``) at the end of its best epoch.
    best_state: dict[str, torch.Tensor] | None = None
    #: Its weights when it stopped (last.ckpt).
    last_state: dict[str, torch.Tensor] | None = None
    epochs: int = 0
    steps: int = 0
    error: str | None = None
    #: The epoch early stopping stopped the member at (None: it did not).
    stopped_epoch: int | None = None

    @classmethod
    def of(cls, cfg: DictConfig, output_dir: Path, record: dict[str, Any]) -> Member:
        monitor = cfg.checkpoint.monitor or cfg.optimized_metric
        member = cls(cfg, Path(output_dir), record, checkpoint_monitor=monitor)
        member.best = BestEpoch(cfg.checkpoint.mode or metric_mode(monitor))
        if cfg.early_stopping.enabled:
            member.stop_monitor = cfg.early_stopping.monitor or cfg.optimized_metric
            member.early_stop = EarlyStop(
                cfg.early_stopping.mode or metric_mode(member.stop_monitor),
                patience=cfg.early_stopping.patience,
                min_delta=cfg.early_stopping.min_delta,
            )
        return member

    def end_epoch(self, values: dict[str, float], epoch: int, steps: int) -> tuple[bool, bool]:
        """Record an epoch's metrics; return (best so far, stop now)."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
        # A run alone records its learning rate per epoch; a member's is constant (no scheduler).
        self.history.setdefault("train/lr", []).append(float(self.cfg.optimizer.lr))
        self.epochs, self.steps = epoch + 1, steps
        improved = self.best.update(_monitored(values, self.checkpoint_monitor), epoch)
        stop = self.early_stop is not None and self.early_stop.update(
            _monitored(values, self.stop_monitor)
        )
        if stop:
            self.stopped_epoch = epoch
        return improved, stop

    @property
    def stopped_by(self) -> str:
        """The record's ``stopped_by``, as :func:`lossbench.training.stopped_by` says it for a run
        alone: ``early_stopping`` when Lightning's ``EarlyStopping`` would report it (its
        ``stopped_epoch > 0``), else ``budget``."""
        return "early_stopping" if self.stopped_epoch else "budget"


def _monitored(values: dict[str, float], key: str) -> float:
    try:
        return values[key]
    except KeyError:
        raise KeyError(
            f"monitor {key!r} was not computed this epoch; computed: {sorted(values)}."
        ) from None
