"""The ``epoch`` runner: small models trained without Lightning's per-step overhead.

    lossbench-train runner=epoch          # (runner=auto picks it where it applies)

A small model's step takes a fraction of a millisecond; Lightning's loop around each step
(hooks, fetcher, result collection, optimizer and backward wrappers) costs several times that.
The epoch runner fits :class:`EpochModule`, the run's :class:`~lossbench.module.ClassifierModule`
with four changes that leave every result as it is (``tests/test_fast_path.py`` and
``tests/test_train.py`` compare them with the ``lightning`` runner):

- **One Lightning step per epoch.** The data module hands over the whole shuffled epoch and the
  step cuts it into the same minibatches, in the same order (manual optimization; schedulers
  stepped where Lightning would step them). The step Lightning's loggers log at, saved in
  checkpoints, still counts optimizer steps
  (:func:`~lossbench.lightning_internals.advance_logging_step`), so what a callback logs
  through Lightning, and a fit resumed under Lightning's loop, log at the steps of that loop.
- **Direct optimizer steps** (:func:`direct_steps`): ``loss.backward()`` and the raw
  optimizer's ``step()`` instead of Lightning's wrappers, when no callback and not the module
  use the hooks those wrappers call, the precision plugin has no gradient scaler and no
  profiler is set.
- **Inline validation** (:func:`validates_inline`): the whole validation split in one forward
  at the end of the epoch step, with Lightning's validation loop switched off, when nothing
  needs that loop's hooks or its sanity check (about 1.5 ms an epoch, as much as a small
  model's validation).
- **Direct logging**: only the metrics that callbacks read (their ``monitor``, a plateau
  scheduler's metric) reach ``trainer.callback_metrics``, set there as ``self.log`` would
  leave them (:func:`~lossbench.lightning_internals.set_callback_metrics`: ``self.log``'s
  result collection costs about 2.5 ms an epoch for one key); the loggers get every metric
  directly, at the epoch's last global step.

The private Lightning names this needs are in :mod:`lossbench.lightning_internals`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    ProgressBar,
)
from lightning.pytorch.plugins.precision import (
    DoublePrecision,
    HalfPrecision,
    MixedPrecision,
    Precision,
)
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig

from lossbench.callbacks import BestWeightsInMemory
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.lightning_internals import (
    acts_at_validation_end,
    advance_logging_step,
    manual_step_progress,
    set_callback_metrics,
    validation_time_interval,
)
from lossbench.module import ClassifierModule, monitored_metrics
from lossbench.precision import at_least_float32

#: What Lightning's optimizer and backward wrappers add to a manual optimization step: hooks.
_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
#: The hooks of Lightning's validation loop; none of them runs when the epoch step validates.
_VALIDATION_HOOKS = (
    "on_validation_start",
    "on_validation_epoch_start",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_validation_epoch_end",
    "on_validation_end",
    "on_validation_model_eval",
    "on_validation_model_train",
)
#: Precision plugins whose backward and optimizer step are plain ``backward()`` and ``step()``
#: when they hold no gradient scaler (16-mixed has one).
_PLAIN_PRECISION = (Precision, DoublePrecision, HalfPrecision, MixedPrecision)


class EpochModule(ClassifierModule):
    """:class:`~lossbench.module.ClassifierModule` trained one epoch per Lightning step.

    Same arguments, hyper-parameters, weights and checkpoints as ``ClassifierModule``; what
    differs is how a fit runs (see the module's docstring). :class:`EpochRunner` sets
    :attr:`inline_validation` for its fit; only :attr:`callback_metrics` reach the trainer's
    ``callback_metrics`` while fitting (None: every metric, through ``self.log``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        #: Validate the whole ``val`` split of the trainer's datamodule at the end of each
        #: epoch step (in ``on_train_batch_end``, where Lightning would start its validation
        #: loop), with Lightning's loop turned off; set where :func:`validates_inline` says
        #: the result is the same.
        self.inline_validation = False
        #: The validation split ``(x, labels, targets)`` on the device, while fitting inline.
        self._val_split: tuple[torch.Tensor, ...] | None = None
        #: Whether the epoch steps the optimizer itself (see :func:`direct_steps`); per fit.
        self._direct = False

    # ------------------------------------------------------------------ the epoch step
    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        """One epoch of minibatch steps over the shuffled epoch ``batch = (x, labels, targets)``."""
        optimizer = self.optimizers()
        raw = optimizer.optimizer if self._direct else None
        progress = manual_step_progress(self.trainer) if raw is not None else None
        schedulers = bool(self.trainer.lr_scheduler_configs)
        x, labels, targets = batch
        size = self.minibatch_size or len(x)
        for index, start in enumerate(range(0, len(x), size)):
            xb, yb, tb = (t[start : start + size] for t in (x, labels, targets))
            scores = at_least_float32(self(xb))
            loss = self.objective(scores, tb)
            # no target counts (every one ignored, or of a class weighted 0): no backward, so
            # the step has no gradient and changes nothing, but counts, as under the lightning
            # runner
            skipped = self.check_finite(loss, index, tb)
            optimizer.zero_grad(set_to_none=True)
            if progress is None:
                if not skipped:
                    self.manual_backward(loss)
                optimizer.step()
            else:  # what the two calls above do here, without their per-call overhead
                if not skipped:
                    loss.backward()
                progress.increment_ready()
                raw.step()
                progress.increment_completed()
            if schedulers:
                self._step_schedulers("step", plateau=False, index=index)
            self.update_metrics("train", scores, yb, loss, tb)
        # Lightning's loop counts this step once for its loggers; it made one per minibatch
        advance_logging_step(self.trainer, math.ceil(len(x) / size) - 1)
        if schedulers:
            self._step_schedulers("epoch", plateau=False)

    def on_train_start(self) -> None:
        super().on_train_start()
        self._direct = direct_steps(self)
        if not self.inline_validation:
            return
        trainer = self.trainer
        if trainer.limit_val_batches != 0:
            raise RuntimeError(
                "inline_validation=True validates once per epoch in the epoch step: it needs a "
                "Trainer with limit_val_batches=0 (Lightning's own loop off); got "
                f"limit_val_batches={trainer.limit_val_batches}. Leave inline_validation=False "
                "for Lightning's validation loop."
            )
        tensors = getattr(trainer.datamodule, "tensors", None)
        if not isinstance(tensors, Mapping) or "val" not in tensors:
            raise RuntimeError(
                "inline_validation=True validates the datamodule's in-memory split "
                "`tensors['val']` (lossbench's ClassificationDataModule); this fit has "
                f"{type(trainer.datamodule).__name__}. Leave inline_validation=False "
                "for Lightning's validation loop over its val_dataloader()."
            )
        split = tensors["val"]  # on the device since the datamodule's setup()
        self._val_split = trainer.precision_plugin.convert_input(split)

    def on_train_end(self) -> None:
        self._val_split = None

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._val_split is not None:
            self._validate_inline(self._val_split)

    def _validate_inline(self, split: tuple[torch.Tensor, ...]) -> None:
        """What Lightning's validation loop does with the one-batch ``split`` during fit: the
        computing submodules in eval mode, no gradients, the precision plugin's validation
        context, ``validation_step``, then the epoch end."""
        computing = (self.model, self.head, self.loss_fn)  # what a mode can change
        modes = [(m, m.training) for part in computing for m in part.modules()]
        for part in computing:
            part.eval()
        try:
            with torch.no_grad(), self.trainer.precision_plugin.val_step_context():
                self.validation_step(split, 0)
        finally:
            for module, training in modes:
                module.training = training
        self.end_epoch("val")

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self._step_schedulers("epoch", plateau=True)

    # ------------------------------------------------------------------ logging
    def log_epoch(self, values: Mapping[str, torch.Tensor]) -> None:
        trainer = self.trainer
        if trainer.state.fn != "fit" or self.callback_metrics is None:
            super().log_epoch(values)
            return
        monitored = {k: v for k, v in values.items() if k in self.callback_metrics}
        if not set_callback_metrics(trainer, monitored):
            # batch_size=1: one epoch value each (from on_train_batch_end, Lightning would
            # weight it by the training batch's size, which can round it).
            self.log_dict(monitored, logger=False, batch_size=1)  # loggers get every metric
        if not trainer.sanity_checking:
            # The training metrics come last in a fit's epoch (after the validation's): the
            # loggers write the epoch's rows then, once (Lightning's teardown saves the rest).
            self._log_to_loggers(values, save=any(key.startswith("train/") for key in values))

    def _log_to_loggers(self, values: Mapping[str, torch.Tensor], *, save: bool = True) -> None:
        """What Lightning's logger connector does with epoch-level metrics, minus its
        per-key bookkeeping: every logger gets the floats and the epoch, at the step Lightning's
        loop gives them (the index of the epoch's last optimizer step, counted from 0: one less
        than the steps taken), and ``save``s them (Lightning saves after every call: a CSV
        logger's save rewrites or appends to ``metrics.csv``, about 0.3 ms)."""
        if not self.loggers:
            return
        metrics = {key: float(value) for key, value in values.items()}
        metrics["epoch"] = self.current_epoch
        step = max(self.global_step - 1, 0)
        for logger in self.loggers:
            logger.log_metrics(metrics, step=step)
            if save:
                logger.save()

    # ------------------------------------------------------------------ schedulers
    def configure_optimizers(self) -> Any:
        configured = super().configure_optimizers()
        scheduler = configured.get("lr_scheduler") if isinstance(configured, dict) else None
        if scheduler is not None:  # manual optimization: Lightning would ignore these (with
            scheduler.pop("monitor", None)  # a warning); _step_schedulers reads
            scheduler.pop("strict", None)  # self.scheduler_monitor itself
        return configured

    def total_optimizer_steps(self) -> int:
        # Lightning counts one step per epoch here; the optimizer steps once per minibatch.
        return self.minibatches_per_step() * self.trainer.max_epochs

    def minibatches_per_step(self) -> int:
        """The optimizer steps of one epoch step: the training split's minibatches (what the
        progress bar counts, :class:`~lossbench.callbacks.EpochProgressBar`)."""
        n_train = len(self.trainer.datamodule.tensors["train"][0])
        return math.ceil(n_train / (self.minibatch_size or n_train))

    def _step_schedulers(self, interval: str, *, plateau: bool, index: int = 0) -> None:
        """Step the schedulers of ``interval`` where Lightning would (under manual
        optimization Lightning steps none): ``step`` ones after each optimizer step
        (``index``: the minibatch in the epoch), ``epoch`` ones after the epoch's last step
        (``plateau=False``) or, for plateau schedulers, after the epoch's validation and its
        ``on_train_epoch_end`` (``plateau=True``)."""
        for config in self.trainer.lr_scheduler_configs:
            on_plateau = isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
            if config.interval != interval or on_plateau != plateau:
                continue
            position = (index if interval == "step" else self.current_epoch) + 1
            if position % config.frequency:
                continue
            value = None
            if on_plateau:
                value = self.trainer.callback_metrics.get(self.scheduler_monitor)
                if value is None:
                    raise RuntimeError(
                        f"the plateau scheduler monitors {self.scheduler_monitor!r}, which was "
                        f"not logged this epoch; logged: {sorted(self.trainer.callback_metrics)}."
                    )
            self.lr_scheduler_step(config.scheduler, value)


# ---------------------------------------------------------------------- what may be skipped


def _needs_validation_hooks(callback: Callback) -> bool:
    """Whether ``callback`` does something in Lightning's validation loop during fit.

    A progress bar (``TQDMProgressBar``, ``RichProgressBar``) does not: without Lightning's loop
    it shows the training epochs and no validation bar, and the results are the same.

    ``ModelCheckpoint`` and ``EarlyStopping`` act at validation end only where they are told to
    (``save_on_train_epoch_end=False`` / ``check_on_train_epoch_end=False``); by default, with
    validation once per epoch, both act at the training epoch's end, after the validation, and
    so does :class:`~lossbench.callbacks.BestWeightsInMemory`.
    """
    if acts_at_validation_end(callback):
        return True
    if isinstance(callback, BestWeightsInMemory):  # acts at validation end only where
        return False  # validation is not once an epoch at its end: never inline anyway
    if isinstance(callback, ProgressBar):  # its validation hooks only draw the validation bar,
        return False  # which inline validation (one forward pass per epoch) does not need
    lightning_own = (ModelCheckpoint, EarlyStopping)
    base = next((kind for kind in lightning_own if isinstance(callback, kind)), Callback)
    return any(is_overridden(hook, callback, base) for hook in _VALIDATION_HOOKS)


def validates_inline(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Whether ``module``'s epoch step may validate itself instead of Lightning's validation
    loop, with the same result: no callback and no module override needs the loop's hooks,
    validation runs once per epoch on the whole split, no sanity check is asked for
    (``trainer.num_sanity_val_steps``: Lightning's loop runs it before training), and no
    profiler or ``fast_dev_run`` is set. :class:`EpochRunner` then turns the loop off for the
    fit (``limit_val_batches=0``, which would also skip the sanity check).

    Lightning's loop costs ~1.5 ms per epoch around one forward pass here (mode switches over
    every submodule, fetcher, hooks, result collection): as much as the whole validation of a
    small model.
    """
    return (
        isinstance(module, EpochModule)
        and trainer.world_size == 1
        and not trainer.fast_dev_run
        and trainer.check_val_every_n_epoch == 1
        and trainer.val_check_interval == 1.0
        and trainer.limit_val_batches == 1.0
        and not trainer.num_sanity_val_steps
        and validation_time_interval(trainer) is None
        and isinstance(trainer.profiler, PassThroughProfiler)
        and not any(is_overridden(h, module, ClassifierModule) for h in _VALIDATION_HOOKS)
        and not is_overridden("validation_step", module, ClassifierModule)
        and not any(_needs_validation_hooks(callback) for callback in trainer.callbacks)
    )


def direct_steps(module: EpochModule) -> bool:
    """Whether the epoch step may call ``loss.backward()`` and ``optimizer.step()`` itself.

    Lightning's ``manual_backward`` and ``LightningOptimizer.step`` cost about 0.15 ms per
    step; what they add here is the hooks in ``_STEP_HOOKS``, gradient scaling (16-mixed)
    and the profiler. So: yes when no callback and not the module override those hooks,
    the precision plugin is a plain one without a scaler and no profiler is set; the step
    counter (``trainer.global_step``) is then advanced as Lightning's wrapper does.
    """
    trainer = module.trainer
    plugin = trainer.precision_plugin
    return (
        type(plugin) in _PLAIN_PRECISION
        and getattr(plugin, "scaler", None) is None
        and isinstance(trainer.profiler, PassThroughProfiler)
        and manual_step_progress(trainer) is not None
        and not is_overridden("backward", module, L.LightningModule)
        and not any(is_overridden(hook, module, L.LightningModule) for hook in _STEP_HOOKS)
        and not any(
            is_overridden(hook, callback, Callback)
            for callback in trainer.callbacks
            for hook in _STEP_HOOKS
        )
    )


@contextmanager
def validation_loop_off(trainer: Any, off: bool) -> Iterator[None]:
    """Lightning's validation loop turned off (``limit_val_batches=0``) while the module
    validates in its epoch step; restored afterwards."""
    previous = trainer.limit_val_batches
    if off:
        trainer.limit_val_batches = 0
    try:
        yield
    finally:
        trainer.limit_val_batches = previous


class EpochRunner:
    """Fits an :class:`EpochModule` with ``trainer`` (see the module's docstring).

    >>> runner = EpochRunner(trainer)  # doctest: +SKIP
    >>> module = runner.build(cfg, datamodule, loss)  # doctest: +SKIP
    >>> runner.fit(trainer, module, datamodule)  # doctest: +SKIP
    """

    name = "epoch"

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def build(
        self, cfg: DictConfig, datamodule: ClassificationDataModule, loss: Mapping[str, Any]
    ) -> EpochModule:
        monitored = monitored_metrics(cfg, self.trainer.callbacks, datamodule.task)
        module = EpochModule.from_config(cfg, datamodule, loss=loss, callback_metrics=monitored)
        module.inline_validation = validates_inline(self.trainer, module)
        return module  # type: ignore[return-value]

    def loops(self, trainer: Any, module: ClassifierModule) -> dict[str, str]:
        inline = isinstance(module, EpochModule) and module.inline_validation
        return {"training_loop": "epoch", "validation_loop": "inline" if inline else "lightning"}

    def fit(
        self,
        trainer: Any,
        module: ClassifierModule,
        datamodule: ClassificationDataModule,
        *,
        ckpt_path: Any = None,
    ) -> None:
        if not isinstance(module, EpochModule):
            raise TypeError(
                f"the epoch runner fits an EpochModule (EpochRunner.build), got "
                f"{type(module).__name__}; fit a ClassifierModule with the lightning runner."
            )
        datamodule.epoch_batches = True  # the whole shuffled epoch as one batch
        with validation_loop_off(trainer, module.inline_validation):
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
