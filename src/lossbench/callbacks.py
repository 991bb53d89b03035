"""Lightning callbacks of lossbench runs.

>>> callback = BestAndLastCheckpoint(
...     dirpath="outputs/runs/<run>/checkpoints", filename="best-epoch{epoch:03d}",
...     monitor="val/nll", mode="min", auto_insert_metric_name=False)
>>> callback.save_last, callback.save_top_k
(True, 1)
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import proxy

import torch
from lightning.pytorch.callbacks import (
    Checkpoint,
    EarlyStopping,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.utilities import rank_zero_only

from lossbench.checkpoint_io import copy_checkpoint, snapshot
from lossbench.lightning_internals import CheckpointWriter, dump_checkpoint

__all__ = [
    "BestAndLastCheckpoint",
    "BestWeightsInMemory",
    "EpochProgressBar",
    "EpochRichProgressBar",
    "drop_overridden_stop",
    "run_checkpoint",
    "run_early_stopping",
    "snapshot",
    "stopped_early",
]


class BestAndLastCheckpoint(CheckpointWriter):
    """``ModelCheckpoint(save_top_k=1)`` that also writes ``last.ckpt`` at the end of *every*
    training epoch, for an exact resume (``ckpt_path=last``).

    Lightning's own ``save_last=True`` rewrites ``last.ckpt`` only in epochs where it also saved
    a top-k checkpoint (``save_last="link"`` links it to the newest top-k file, possibly epochs
    old), so a killed run could resume from many epochs back. Here ``last.ckpt`` always holds the
    end of the newest epoch. In epochs where the best checkpoint was just written, ``last.ckpt``
    is a byte copy of it instead of a second serialisation of the same state (the copy's
    record of this callback's ``last_model_path`` is then that of the epoch before, which a
    resume does not use). ``save_last=False`` keeps the best checkpoint only.

    ``write_at_end=True`` (``checkpoint.write=at_end``, what the studies use) keeps the best
    epoch's checkpoint in memory and writes it, and ``last.ckpt``, once when training ends: one
    file write per run instead of one per improving epoch, for short runs where a killed job is
    simply run again. The best checkpoint is the file ``every_epoch`` writes; ``last.ckpt``
    holds the same final state, saved after the epoch loop as Lightning's own end-of-training
    save is (its epoch counter is the next epoch's). A run that stops with an exception, Ctrl-C
    or SIGTERM included, writes its best checkpoint so far and no ``last.ckpt`` (the state it
    stopped in is mid-epoch): ``ckpt_path=last`` cannot resume it, ``ckpt_path=<its
    best-epochNNN.ckpt>`` continues from the best epoch. A run killed outright leaves none.
    Resuming from the last epoch after an interruption needs ``write_at_end=False``.

    Its ``state_key`` is ``ModelCheckpoint``'s, so checkpoints written with a plain
    ``ModelCheckpoint`` of the same monitor resume with their best-checkpoint bookkeeping.
    """

    def __init__(
        self, *args: Any, save_last: bool = True, write_at_end: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("save_top_k", 1)
        super().__init__(*args, save_last=bool(save_last), **kwargs)
        self.write_at_end = write_at_end
        self._last_written_step: int | None = None
        #: Whether ``last.ckpt`` (``_last_written_step``) and the newest best file
        #: (``saved_step``) were written at a training epoch's end: a validation that
        #: Lightning saves at before the epoch ends (``check_val_every_n_epoch`` above 1, or
        #: within the epoch) holds the epoch without its training metrics.
        self._last_at_epoch_end = False
        self._saved_at_epoch_end = False
        self._in_epoch_end = False
        #: write_at_end: (path, checkpoint) of the best epoch, not written yet.
        self._pending: tuple[str, dict[str, Any]] | None = None
        self._ended = False

    @property
    def state_key(self) -> str:
        key = super().state_key
        return "ModelCheckpoint" + key.removeprefix(type(self).__qualname__)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Lightning restores the best score only from a checkpoint written into this
        ``dirpath``: a run resumed into a new directory (``ckpt_path=<another run's
        last.ckpt>``, training on from a finished run) forgot it, took its first epoch for the
        best and could end with another best epoch than the uninterrupted run. Here the best
        checkpoint's bookkeeping is restored as well, and its file is copied into this run's
        ``checkpoints/`` (a later, better epoch replaces the copy, never the other run's file).
        Where that file is gone, Lightning's rule stands (with its warning)."""
        earlier = state_dict.get("dirpath", self.dirpath)
        best = state_dict.get("best_model_path") or ""
        if earlier == self.dirpath or not best or not os.path.isfile(best):
            super().load_state_dict(state_dict)
            return
        with warnings.catch_warnings():  # "... won't be reloaded": it is, below
            warnings.filterwarnings("ignore", message=".*dirpath has changed")
            super().load_state_dict(state_dict)
        copy = os.path.join(self.dirpath, os.path.basename(best))
        if rank_zero_only.rank == 0 and os.path.abspath(copy) != os.path.abspath(best):
            os.makedirs(self.dirpath, exist_ok=True)
            shutil.copyfile(best, copy)
        score = state_dict.get("best_model_score")
        self.best_model_path = self.kth_best_model_path = copy
        self.best_model_score = score
        self.kth_value = state_dict.get("kth_value", score)
        self.best_k_models = {copy: score} if score is not None else {}

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._in_epoch_end = True
        try:
            super().on_train_epoch_end(trainer, pl_module)  # the best checkpoint (and last)
            if self.write_at_end:
                return  # last.ckpt once, in on_train_end
            fit = trainer.state.fn == "fit" and not trainer.sanity_checking
            if fit and not trainer.fast_dev_run:
                self.write_last_checkpoint(trainer, {})  # last.ckpt: a fixed name, no metrics
        finally:
            self._in_epoch_end = False

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._write_pending(trainer)
        if self.write_at_end and not trainer.fast_dev_run:
            self._ended = True
            self.write_last_checkpoint(trainer, {})

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._write_pending(trainer)  # the best epoch before the failure
        super().on_exception(trainer, pl_module, exception)

    def write_checkpoint(self, trainer: Any, filepath: str) -> None:
        last = os.path.join(self.dirpath, self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
        checkpoint = None
        if self.write_at_end and filepath != last:
            checkpoint = dump_checkpoint(trainer, self.save_weights_only)
        if filepath != last:
            self._saved_at_epoch_end = self._in_epoch_end
        if checkpoint is None:
            super().write_checkpoint(trainer, filepath)
            return
        # The best so far: the checkpoint Lightning would write now, held (cloned) in memory.
        self._pending = (filepath, snapshot(checkpoint))
        self.mark_saved(trainer, filepath)

    def _write_pending(self, trainer: Any) -> None:
        if self._pending is None:
            return
        filepath, checkpoint = self._pending
        self._pending = None
        trainer.strategy.save_checkpoint(checkpoint, filepath)
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))

    def write_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        if not (self._in_epoch_end or self._ended):
            # a validation before the epoch's end (Lightning asks there too): a run resumed
            # from within an epoch could not continue it exactly, so last.ckpt is always an
            # epoch's end (checkpoint.check_resume refuses the others)
            return
        # once per step; again at the epoch's end when a validation before it wrote it
        written = self._last_written_step == trainer.global_step
        if not self.save_last or (written and (self._last_at_epoch_end or not self._in_epoch_end)):
            return
        if self.write_at_end and not self._ended:
            return  # Lightning asks after each new best; at_end writes last.ckpt once
        filepath = os.path.join(self.dirpath, self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
        self.last_model_path = filepath
        best = self.best_model_path
        same = self.saved_step == trainer.global_step and self.saved_path == best
        if best and same and (self._saved_at_epoch_end or not self._in_epoch_end):
            if trainer.is_global_zero:  # the state of this very step is already saved
                copy_checkpoint(trainer.strategy.checkpoint_io, best, filepath)
            trainer.strategy.barrier()
        else:
            self.write_checkpoint(trainer, filepath)
        self._last_written_step = trainer.global_step
        self._last_at_epoch_end = self._in_epoch_end


class BestWeightsInMemory(Checkpoint):
    """``checkpoint.write=never``: no checkpoint files; the weights of the best epoch are kept
    in memory (what a hand-written loop does) for the run's final evaluation.

        >>> callback = BestWeightsInMemory(monitor="val/nll", mode="min")
        >>> callback.best_model_path, callback.best_epoch
        ('', None)

    The best epoch is chosen as ``ModelCheckpoint(save_top_k=1)`` chooses it: the first epoch,
    then each epoch strictly better than the best so far (a NaN value never is; a NaN first
    epoch counts as the worst value). It acts where ``ModelCheckpoint`` saves: at the training
    epoch's end, after the module has logged its metrics, where validation runs once at every
    epoch's end (or never); else at each validation's end (``trainer.val_check_interval``
    below 1, ``check_val_every_n_epoch`` above 1), keeping the weights that validation scored,
    not those of the epoch's end. Without files there is
    nothing to resume from or to evaluate later: ``lossbench-eval`` and ``lossbench-predict``
    need a run that wrote its checkpoints.
    """

    def __init__(self, monitor: str, mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} must be 'min' or 'max'.")
        self.monitor, self.mode = monitor, mode
        #: No file: what ``trainer.checkpoint_callback.best_model_path`` reads as "none".
        self.best_model_path = ""
        self.best_model_score: torch.Tensor | None = None
        self.best_epoch: int | None = None
        #: The module's ``state_dict`` where the best epoch was validated (tensors cloned).
        self.best_state_dict: dict[str, torch.Tensor] | None = None
        self._better = torch.lt if mode == "min" else torch.gt

    @staticmethod
    def acts_at_epoch_end(trainer: Any) -> bool:
        """Whether ``ModelCheckpoint`` (``save_on_train_epoch_end`` unset) saves at the training
        epoch's end on ``trainer``: validation once an epoch at its end, or none at all;
        otherwise it saves at each validation's end."""
        if trainer.check_val_every_n_epoch != 1:
            return False
        batches = trainer.num_val_batches
        if (sum(batches) if isinstance(batches, list) else batches) == 0:
            return True
        return trainer.val_check_interval == 1.0

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.acts_at_epoch_end(trainer):
            self._keep_if_best(trainer, pl_module)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.acts_at_epoch_end(trainer):
            self._keep_if_best(trainer, pl_module)

    def _keep_if_best(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or trainer.state.fn != "fit":
            return
        current = trainer.callback_metrics.get(self.monitor)
        if current is None:
            raise KeyError(
                f"checkpoint monitor {self.monitor!r} was not logged this epoch; logged: "
                f"{sorted(trainer.callback_metrics)}."
            )
        current = current.detach()
        if self.best_model_score is not None and not self._better(current, self.best_model_score):
            return
        if torch.isnan(current):  # first epoch only: the worst value, as ModelCheckpoint
            current = torch.tensor(
                float("inf" if self.mode == "min" else "-inf"), device=current.device
            )
        self.best_model_score = current.clone()
        self.best_epoch = trainer.current_epoch
        self.best_state_dict = {
            key: value.detach().clone() for key, value in pl_module.state_dict().items()
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "best_model_score": self.best_model_score,
            "best_epoch": self.best_epoch,
        }


# --- factories named by configs/callbacks/default.yaml (checkpoint.* and early_stopping.*) ---


def run_checkpoint(
    *,
    dirpath: str,
    monitor: str | None,
    mode: str | None,
    save_last: bool,
    write: str,
    optimized_metric: str,
) -> Checkpoint:
    """lossbench's checkpointing as ``checkpoint.*`` sets it: ``best-epochNNN.ckpt`` and
    ``last.ckpt`` in ``dirpath`` (``write=every_epoch`` or ``at_end``), or the best epoch's
    weights in memory (``write=never``). ``monitor`` / ``mode`` null: the optimized metric and
    its direction."""
    from lossbench.validation import metric_mode

    monitor = monitor or optimized_metric
    mode = mode or metric_mode(monitor)
    if write == "never":
        return BestWeightsInMemory(monitor=monitor, mode=mode)  # no files
    return BestAndLastCheckpoint(
        dirpath=dirpath,
        filename="best-epoch{epoch:03d}",
        monitor=monitor,
        mode=mode,
        save_last=save_last,
        write_at_end=write == "at_end",
        auto_insert_metric_name=False,
    )


def run_early_stopping(
    *,
    enabled: bool,
    monitor: str | None,
    mode: str | None,
    patience: int,
    min_delta: float,
    optimized_metric: str,
) -> EarlyStopping | None:
    """``EarlyStopping`` as ``early_stopping.*`` sets it, or None (left out) unless enabled."""
    from lossbench.validation import metric_mode

    if not enabled:
        return None
    monitor = monitor or optimized_metric
    return EarlyStopping(
        monitor=monitor, mode=mode or metric_mode(monitor), patience=patience, min_delta=min_delta
    )


def stopped_early(callback: EarlyStopping) -> bool:
    """Whether ``callback`` stopped the fit (a run alone's, or a vectorized member's).

        >>> stopped_early(EarlyStopping(monitor="val/nll"))
        False

    Its ``stopped_epoch`` is the epoch it stopped in, and 0 when it did not, so a stop in the
    first epoch (``trainer.val_check_interval`` within the epoch: several validations in it; a
    non-finite value with ``check_finite``) reads as none; ``stopping_reason`` says so either
    way (checked: Lightning 2.6.6; a Lightning without it falls back to ``stopped_epoch``).

    A stop that ``trainer.min_epochs`` or ``trainer.min_steps`` overrode (the fit trained on)
    does not count: :func:`drop_overridden_stop` clears it as the fit goes on, so at the fit's
    end this says whether early stopping ended it."""
    reason = getattr(callback, "stopping_reason", None)
    if reason is not None:
        return reason.name != "NOT_STOPPED"
    return callback.stopped_epoch > 0


def drop_overridden_stop(trainer: Any) -> bool:
    """Clear a stop that early stopping asked for and the fit did not make: a training batch
    or epoch starts while ``trainer.should_stop`` is set, which Lightning allows only until
    ``trainer.min_epochs`` and ``trainer.min_steps`` are met. Call it as each training batch
    and epoch starts; whether there was such a stop.

    Lightning keeps ``should_stop`` set once early stopping has asked, and ends the fit as soon
    as the minimum is met, however the monitored metric went since. Here the stop is dropped
    (``should_stop`` and the callbacks' ``stopping_reason`` and ``stopped_epoch``; their wait
    count stays): the run trains on until early stopping asks again once the minimum is met,
    which a monitor that has not improved since does at its next validation. So a run that the
    minimum carried to its budget records ``stopped_by=budget`` and trains on from its
    ``last.ckpt`` with a higher budget, as the uninterrupted run with that budget does.

        >>> from types import SimpleNamespace
        >>> trainer = SimpleNamespace(should_stop=False, callbacks=[EarlyStopping("val/nll")])
        >>> drop_overridden_stop(trainer)
        False
    """
    if not trainer.should_stop:
        return False
    stopped = [c for c in trainer.callbacks if isinstance(c, EarlyStopping) and stopped_early(c)]
    for callback in stopped:
        if hasattr(callback, "stopping_reason"):
            callback.stopping_reason = type(callback.stopping_reason).NOT_STOPPED
        callback.stopped_epoch = 0
        callback.stopping_reason_message = None
    if stopped:  # a Timer that asked too asks again at its next check (every training batch)
        trainer.should_stop = False
    return bool(stopped)


def stop_if_stopped_before(trainer: Any) -> bool:
    """Stop a fit resumed from a checkpoint that an ``EarlyStopping`` callback had already
    stopped (its state restored, :func:`stopped_early`): the run alone ended there, so the
    resumed one trains no further epoch and ends as it did (a process killed after writing
    the stopping epoch's checkpoint, or a run ended by early stopping trained on with a
    higher ``trainer.max_epochs``). Sets ``trainer.should_stop``; whether it did.

    A checkpoint saved where the stop came before ``trainer.min_epochs`` or
    ``trainer.min_steps`` was met (the run went on) is not stopped: the fit trains on and
    drops that stop (:func:`drop_overridden_stop`), as the uninterrupted run did.

        >>> from types import SimpleNamespace
        >>> trainer = SimpleNamespace(callbacks=[EarlyStopping(monitor="val/nll")])
        >>> stop_if_stopped_before(trainer), hasattr(trainer, "should_stop")
        (False, False)
    """
    from lossbench.lightning_internals import can_stop_early

    stopped = [c for c in trainer.callbacks if isinstance(c, EarlyStopping) and stopped_early(c)]
    if not stopped:
        return False
    trainer.should_stop = True
    return can_stop_early(trainer)


class _CountsMinibatches:
    """A progress bar's training count in minibatches (optimizer steps), not Lightning's steps:
    with the ``epoch`` runner one Lightning step is an epoch of them
    (:func:`minibatches_per_step`)."""

    trainer: Any

    @property
    def total_train_batches(self) -> int | float:
        """The epoch's minibatches (Lightning's steps times :func:`minibatches_per_step`)."""
        total = super().total_train_batches  # type: ignore[misc]
        per_step = minibatches_per_step(self.trainer.lightning_module)
        return total * per_step if per_step > 1 and total != float("inf") else total


class EpochRichProgressBar(_CountsMinibatches, RichProgressBar):
    """Lightning's ``RichProgressBar`` that counts minibatches, as :class:`EpochProgressBar`
    does (``callbacks=rich_progress``)."""

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        batch_idx = (batch_idx + 1) * minibatches_per_step(pl_module) - 1  # the step's last
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class EpochProgressBar(_CountsMinibatches, TQDMProgressBar):
    """Lightning's ``TQDMProgressBar`` that counts minibatches, and draws the training bar once
    per epoch where Lightning's would draw it four or five times in a row.

    With the ``epoch`` runner one Lightning step is an epoch of minibatches: Lightning's bar
    showed ``1/1`` for each epoch whatever ``data.batch_size``; this one counts the optimizer
    steps (``3/3`` for 341 rows in batches of 128), as it does under the ``lightning`` runner.

    Lightning's bar redraws when an epoch starts (reset, then the description), after the
    epoch's last batch (the count, then the metrics) and at the epoch's end (the metrics
    again): with the ``epoch`` runner, whose epoch is one Lightning step, all of that happens
    within a millisecond, at about 0.4 ms a redraw. This bar sets the new epoch's description
    and the last batch's count without drawing and draws once, at the epoch's end, with the
    epoch's metrics (the validation metrics included). Batches before the last, and the
    validation bar, are drawn as Lightning draws them (``refresh_rate``).
    """

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        with self._held():
            super().on_train_epoch_start(trainer, *args)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        batch_idx = (batch_idx + 1) * minibatches_per_step(pl_module) - 1  # the step's last
        bar = self.train_progress_bar
        if bar is None or batch_idx + 1 != bar.total:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            return
        with self._held():  # the epoch's end draws it, with the epoch's metrics
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Close the bars a stopped fit leaves open (Ctrl-C, SIGTERM, an error), so that the
        line the command prints next starts on a line of its own, not at the end of the bar
        (Lightning closes them only where the fit ends normally)."""
        for name in ("val_progress_bar", "train_progress_bar"):
            try:
                bar = getattr(self, name)
            except TypeError:  # never opened in this fit
                continue
            if not bar.disable:
                bar.close()

    @contextmanager
    def _held(self) -> Iterator[None]:
        """The training bar's ``refresh`` (every redraw) does nothing for a while."""
        bar = self.train_progress_bar
        if bar is None:
            yield
            return
        bar.refresh = _no_redraw  # an instance attribute shadows tqdm's method
        try:
            yield
        finally:
            del bar.refresh


def _no_redraw(*args: Any, **kwargs: Any) -> None:
    return None


def minibatches_per_step(module: Any) -> int:
    """The optimizer steps in one of the module's Lightning steps: an epoch's minibatches for
    the ``epoch`` runner's module (its ``minibatches_per_step()``), else 1.

        >>> minibatches_per_step(object())
        1
    """
    count = getattr(module, "minibatches_per_step", None)
    return count() if callable(count) else 1
