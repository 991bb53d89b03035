"""One member of a vectorized group: a run's config, its data, its model, and its bookkeeping.

A member is built exactly as :func:`lossbench.training.train` builds a run alone, in the same
order (``seed_everything(seed)``, the data module with its own ``data.split_seed``, the loss,
then the ``ClassifierModule``), so its initial weights are those of the run alone. During the
fit it keeps the rules of the callbacks a run alone has: the best epoch as
``ModelCheckpoint(save_top_k=1)`` chooses it and, if enabled, the run alone's own Lightning
``EarlyStopping`` (built by the same factory, so its state goes into the member's checkpoints
as it is).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import EarlyStopping
from omegaconf import DictConfig

from lossbench.callbacks import run_early_stopping, stopped_early
from lossbench.lightning_internals import early_stopping_check
from lossbench.metric_names import VALIDATION_EPOCH, VALIDATION_STEP, metric_mode


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
    #: Whether :attr:`score` stands for a NaN value.
    was_nan: bool = False

    def update(self, value: float, epoch: int) -> bool:
        if self.score is not None:
            better = value < self.score if self.mode == "min" else value > self.score
            if not better:  # NaN compares False
                return False
        self.was_nan = math.isnan(value)
        if self.was_nan:
            value = math.inf if self.mode == "min" else -math.inf
        self.score, self.epoch = value, epoch
        return True

    def score_tensor(self) -> torch.Tensor:
        """The best score as ``ModelCheckpoint`` keeps it: the logged value (float64), or
        ``torch.tensor(inf)`` (float32, -inf for ``max``) in place of a NaN."""
        dtype = torch.float32 if self.was_nan else torch.float64
        return torch.tensor(self.score, dtype=dtype)


@dataclass
class Member:
    """A run trained inside a group: its config, run directory, record and state."""

    cfg: DictConfig
    output_dir: Path
    record: dict[str, Any]
    module: Any = None  # its own ClassifierModule: final evaluation, checkpoints
    datamodule: Any = None
    best: BestEpoch | None = None
    #: The ``EarlyStopping`` callback of the run alone (``early_stopping.*``), or None.
    early_stop: EarlyStopping | None = None
    #: Monitored by the best-epoch rule and by early stopping.
    checkpoint_monitor: str = ""
    stop_monitor: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    #: The member's weights (its module's ``state_dict``) at the end of its best epoch.
    best_state: dict[str, torch.Tensor] | None = None
    #: Its weights when it stopped (last.ckpt).
    last_state: dict[str, torch.Tensor] | None = None
    #: During the fit, those weights as a copy of the member's ``(P,)`` row of the stack:
    #: one copy per improvement; made into ``best_state`` / ``last_state`` once, after the fit
    #: (:meth:`lossbench.vectorized.module.VectorizedModule.member_states`).
    best_row: torch.Tensor | None = None
    last_row: torch.Tensor | None = None
    #: What resuming needs beside the weights (optimizer, loops, callbacks) at those points.
    best_training: TrainingState | None = None
    last_training: TrainingState | None = None
    epochs: int = 0
    steps: int = 0
    error: str | None = None
    #: Whether its training has ended: it left the stack (early stopping, a non-finite loss or
    #: weights) or trained to ``trainer.max_epochs``. A fit stopped later records it as the
    #: fit's end would (:func:`lossbench.vectorized.run.keep_stopped`).
    ended: bool = False
    #: ``checkpoint.write`` and ``optimizer.lr``, read once (not from the config every epoch).
    write: str = "at_end"
    lr: float = 0.0
    #: What the member held at the end of its last completed epoch (:meth:`epoch_ended`), for
    #: a fit stopped within the next one (:meth:`back_to_epoch_end`).
    ended_epoch: EpochEnd | None = None
    #: Its failure in training, ``(error, steps, epochs)``, as :meth:`fail` took it.
    failure: tuple[str, int, int] | None = None

    @classmethod
    def of(cls, cfg: DictConfig, output_dir: Path, record: dict[str, Any]) -> Member:
        monitor = cfg.checkpoint.monitor or cfg.optimized_metric
        member = cls(cfg, Path(output_dir), record, checkpoint_monitor=monitor)
        member.write, member.lr = cfg.checkpoint.write, float(cfg.optimizer.lr)
        member.best = BestEpoch(cfg.checkpoint.mode or metric_mode(monitor))
        if cfg.early_stopping.enabled:
            member.stop_monitor = cfg.early_stopping.monitor or cfg.optimized_metric
            member.early_stop = run_early_stopping(
                enabled=True,
                monitor=member.stop_monitor,
                mode=cfg.early_stopping.mode,
                patience=cfg.early_stopping.patience,
                min_delta=cfg.early_stopping.min_delta,
                optimized_metric=cfg.optimized_metric,
            )
        return member

    def end_epoch(self, values: dict[str, float], epoch: int, steps: int) -> tuple[bool, bool]:
        """Record an epoch's metrics; return (best so far, stop now)."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(value)
        if any(key.startswith("val/") for key in values):  # validated at this epoch's end
            self.history.setdefault(VALIDATION_EPOCH, []).append(float(epoch + 1))
            self.history.setdefault(VALIDATION_STEP, []).append(steps)
        # A run alone records its learning rate per epoch; a member's is constant (no scheduler).
        self.history.setdefault("train/lr", []).append(self.lr)
        self.epochs, self.steps = epoch + 1, steps
        improved = self.best.update(_monitored(values, self.checkpoint_monitor), epoch)
        stop = False
        if self.early_stop is not None:  # the value as the run alone logs it: a float64 tensor
            value = torch.tensor(_monitored(values, self.stop_monitor), dtype=torch.float64)
            stop = early_stopping_check(self.early_stop, value, epoch)
        return improved, stop

    def fail(self, error: str, steps: int, epochs: int) -> None:
        """Its training failed (a non-finite loss or weights; ``steps`` and ``epochs``: those
        it had completed): it has ended, as soon as the failure is found. A fit stopped before
        that epoch's end (:meth:`back_to_epoch_end`) keeps it: the member is recorded as
        failed, as the fit's end records it, where its run alone would have failed too (it
        raises at the step that failed)."""
        self.failure = (error, steps, epochs)
        self.error, self.steps, self.epochs, self.ended = error, steps, epochs, True

    def epoch_ended(self) -> None:
        """Keep what the member holds now, at an epoch's end (its training states have their
        loops' progress): where the fit is stopped (Ctrl-C, SIGTERM) within a later epoch,
        its checkpoints and logs are those of this one (:meth:`back_to_epoch_end`)."""
        self.ended_epoch = EpochEnd(
            best=replace(self.best),
            best_row=self.best_row,
            best_training=self.best_training,
            last_row=self.last_row,
            last_training=self.last_training,
            lengths={key: len(values) for key, values in self.history.items()},
            epochs=self.epochs,
            steps=self.steps,
            error=self.error,
            ended=self.ended,
        )

    def back_to_epoch_end(self) -> None:
        """Go back to what the member held at the end of its last completed epoch
        (:meth:`epoch_ended`; before the first one: nothing trained): a fit stopped within an
        epoch may have taken some of it (its history, a new best row whose training state has
        no loops' progress yet, which would not resume). A failure found since
        (:meth:`fail`) is kept: its training had ended, failed, with what it held then (a
        member that fails takes nothing of its failing epoch: no history, no weights)."""
        kept = self.ended_epoch or EpochEnd(best=replace(self.best, score=None, epoch=None))
        self.best = kept.best
        self.best_row, self.best_training = kept.best_row, kept.best_training
        self.last_row, self.last_training = kept.last_row, kept.last_training
        self.history = {
            key: values[: kept.lengths[key]]
            for key, values in self.history.items()
            if kept.lengths.get(key)
        }
        self.epochs, self.steps, self.error = kept.epochs, kept.steps, kept.error
        self.ended = kept.ended
        if self.failure is not None:
            self.error, self.steps, self.epochs = self.failure
            self.ended = True

    @property
    def stopped_by(self) -> str:
        """The record's ``stopped_by``, as :func:`lossbench.training.stopped_by` says it for a run
        alone: ``early_stopping`` when its ``EarlyStopping`` stopped it (in any epoch, the
        first included), else ``budget``."""
        stopped = self.early_stop is not None and stopped_early(self.early_stop)
        return "early_stopping" if stopped else "budget"


@dataclass
class TrainingState:
    """What a member's checkpoint holds beside its weights, at the point a run alone saves it:
    the member's slice of the optimizer state, its callbacks' state and the loops' progress.

    ``epoch``: the epoch it was taken at. ``optimizer``: the optimizer state under torch's
    names (``exp_avg``, ``exp_avg_sq`` / ``momentum_buffer``), each a ``(P,)`` row in the
    stack's flat layout, which ``parameters`` (``StackedModel.unflatten``) splits into the
    member's parameters; ``optimizer_steps``: the steps made. ``best``: the best epoch and
    score so far (:meth:`BestEpoch.score_tensor`). ``early_stopping``: the
    ``EarlyStopping.state_dict()`` then. ``loops``: Lightning's ``loops`` entry
    (:func:`lossbench.lightning_internals.loop_states`), set at the epoch's end.
    """

    epoch: int
    optimizer: dict[str, torch.Tensor]
    parameters: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    optimizer_steps: int
    best: tuple[int, torch.Tensor]
    early_stopping: dict[str, Any] | None
    loops: dict[str, Any] | None = None


@dataclass
class EpochEnd:
    """What a :class:`Member` holds at the end of an epoch (:meth:`Member.epoch_ended`)."""

    best: BestEpoch
    best_row: torch.Tensor | None = None
    best_training: TrainingState | None = None
    last_row: torch.Tensor | None = None
    last_training: TrainingState | None = None
    lengths: dict[str, int] = field(default_factory=dict)
    epochs: int = 0
    steps: int = 0
    error: str | None = None
    ended: bool = False


def _monitored(values: dict[str, float], key: str) -> float:
    try:
        return values[key]
    except KeyError:
        raise KeyError(
            f"monitor {key!r} was not computed this epoch; computed: {sorted(values)}."
        ) from None
