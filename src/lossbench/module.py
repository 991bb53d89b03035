"""The LightningModule: model body -> head -> loss, with metrics accumulated per epoch.

    >>> module = ClassifierModule(
    ...     task="multiclass", n_features=4, n_outputs=3, n_targets=3,
    ...     model={"name": "linear"}, head="log_softmax", loss={"name": "nll"},
    ...     optimizer={"name": "sgd", "lr": 0.1, "weight_decay": 0.0, "momentum": 0.0,
    ...                "nesterov": False})
    >>> module.link
    'softmax'

The objective is computed on the head's output, as the loss expects it; the metrics are fed
float64 probabilities that lossbench computes itself from the raw scores
(:meth:`lossbench.metrics.ClassificationMetrics.update_from_scores`), never a library's guess
of logits versus probabilities. A non-finite loss raises :class:`NonFiniteLossError` naming
epoch and step.

Precision policy (:mod:`lossbench.precision`): under ``trainer.precision=bf16-mixed`` or
``16-mixed`` the model body runs under autocast, but the head's activation and the loss always
run outside autocast on float32 scores (float64 under ``64-true``), for every loss: BCELoss on a
bf16 sigmoid gets loss 100 and gradient 0 from logit 6.25 on, and on CUDA it refuses autocast.
The metrics see the same float32 scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.precision import (
    DoublePrecision,
    HalfPrecision,
    MixedPrecision,
    Precision,
)
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.model_helpers import is_overridden
from torchmetrics import MeanMetric

from lossbench.data.splits import STAGES
from lossbench.heads import build_head, get_head
from lossbench.losses import build_loss, get_loss
from lossbench.metrics import ClassificationMetrics
from lossbench.models import build_model
from lossbench.optim import build_optimizer, l2_penalty
from lossbench.precision import at_least_float32, autocast_on, full_precision
from lossbench.tasks import Task, is_dense

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


class _OnFirstUse(dict):
    """A dict whose missing keys are built by ``factory(key)`` when first read.

    >>> built = _OnFirstUse(str.upper)
    >>> built["val"], list(built)
    ('VAL', ['val'])
    """

    def __init__(self, factory: Any) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._factory(key)
        return value


def _device(metrics: ClassificationMetrics) -> torch.device:
    return next(iter(metrics.metrics.values())).device


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def _needs_validation_hooks(callback: Callback) -> bool:
    """Whether ``callback`` does something in Lightning's validation loop during fit.

    ``ModelCheckpoint`` and ``EarlyStopping`` act at validation end only where they are told to
    (``save_on_train_epoch_end=False`` / ``check_on_train_epoch_end=False``); by default, with
    validation once per epoch, both act at the training epoch's end, after the validation.
    """
    if isinstance(callback, ModelCheckpoint):
        base: type[Callback] = ModelCheckpoint
        at_validation_end = getattr(callback, "_save_on_train_epoch_end", None) is False
    elif isinstance(callback, EarlyStopping):
        base = EarlyStopping
        at_validation_end = getattr(callback, "_check_on_train_epoch_end", None) is False
    else:
        base, at_validation_end = Callback, False
    return at_validation_end or any(is_overridden(h, callback, base) for h in _VALIDATION_HOOKS)


def validates_inline(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """Whether ``module``'s epoch step may validate itself instead of Lightning's validation
    loop, with the same result: no callback and no module override needs the loop's hooks,
    validation runs once per epoch on the whole split, and no profiler or ``fast_dev_run`` is
    set. ``lossbench.train`` then turns the loop off for the fit (``limit_val_batches=0``).

    Lightning's loop costs ~1.5 ms per epoch around one forward pass here (mode switches over
    every submodule, fetcher, hooks, result collection): as much as the whole validation of a
    small model.
    """
    return (
        isinstance(module, ClassifierModule)
        and module.epoch_loop
        and trainer.world_size == 1
        and not trainer.fast_dev_run
        and trainer.check_val_every_n_epoch == 1
        and trainer.val_check_interval == 1.0
        and trainer.limit_val_batches == 1.0
        and getattr(trainer, "_val_check_time_interval", None) is None
        and isinstance(trainer.profiler, PassThroughProfiler)
        and not any(is_overridden(h, module, ClassifierModule) for h in _VALIDATION_HOOKS)
        and not is_overridden("validation_step", module, ClassifierModule)
        and not any(_needs_validation_hooks(callback) for callback in trainer.callbacks)
    )


class ClassifierModule(L.LightningModule):
    """Trains ``model`` + ``head`` with ``loss``; every argument is a plain config mapping."""

    def __init__(
        self,
        *,
        task: Task,
        n_features: int,
        n_outputs: int,
        n_targets: int,
        model: Mapping[str, Any],
        head: str,
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        minibatch_size: int | None = None,
        epoch_loop: bool = False,
        inline_validation: bool = False,
        callback_metrics: Iterable[str] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        scheduler_monitor: str | None = None,
        epoch_metrics: str = "all",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            ignore=[
                "epoch_loop",
                "inline_validation",
                "callback_metrics",
                "scheduler_monitor",
                "epoch_metrics",
            ]
        )
        #: One Lightning step per epoch: the step runs the epoch's minibatches itself (manual
        #: optimization) instead of paying Lightning's per-step loop for each. The data module
        #: then hands over the whole shuffled epoch; ``minibatch_size`` slices it, in the same
        #: order as the per-minibatch loop, so both loops train identically.
        self.epoch_loop = epoch_loop
        self.automatic_optimization = not epoch_loop
        self.minibatch_size = minibatch_size
        #: With ``epoch_loop``: validate the whole ``val`` split of the trainer's datamodule at
        #: the end of each epoch step (in ``on_train_batch_end``, where Lightning would start
        #: its validation loop), with Lightning's loop turned off. ``lossbench.train`` sets it
        #: where :func:`validates_inline` says the result is the same.
        self.inline_validation = inline_validation
        #: The validation split ``(x, labels, targets)`` on the device, while fitting inline.
        self._val_split: tuple[torch.Tensor, ...] | None = None
        #: The metrics that callbacks read from ``trainer.callback_metrics`` during fit
        #: (ModelCheckpoint's and EarlyStopping's monitors). Only these go through
        #: ``self.log`` while fitting, which costs about 0.25 ms per key in Lightning; every
        #: metric goes to the loggers directly. None: log every metric through ``self.log``.
        self.callback_metrics = None if callback_metrics is None else frozenset(callback_metrics)
        self.task = task
        self.model = build_model(model, n_features=n_features, n_outputs=n_outputs)
        self.head = build_head(head, dense=is_dense(task))
        self.loss_fn = build_loss(loss["name"], loss, task=task, n_outputs=n_outputs)
        self.optimizer_cfg = dict(optimizer)
        #: The learning-rate scheduler (lossbench.schedulers), None for a constant rate, and
        #: the metric a plateau scheduler steps on.
        self.scheduler_cfg = None if scheduler is None else dict(scheduler)
        self.scheduler_monitor = scheduler_monitor
        #: The learning rate at the start of the epoch: ``train/lr`` in the history.
        self._epoch_lr: float | None = None
        self.link = get_head(head).link or get_loss(loss["name"]).link_for(task)
        self.squeeze = task == "binary" and n_outputs == 1
        # Plain dicts, not submodules: their states are not part of the checkpoint (none is
        # persistent), and out of the module tree ``.to()``, ``.train()``/``.eval()`` and
        # ``state_dict()`` walk ~10 modules instead of ~40 (about 2 ms per fit). They follow
        # the scores' device themselves (_metrics).
        # Built on first use (a stage's suite is ~15 torchmetrics objects, ~15 ms to build; a
        # vectorized member or a run without a test split never uses some of them).
        self.stage_metrics: dict[str, ClassificationMetrics] = _OnFirstUse(
            lambda stage: ClassificationMetrics(
                task, n_targets, prefix=f"{stage}/", validate_args=False
            )
        )
        self.stage_loss: dict[str, MeanMetric] = {
            stage: MeanMetric(nan_strategy="disable") for stage in STAGES
        }
        #: ``epoch_metrics="monitored"``: while fitting, the train and val metrics computed each
        #: epoch are only those ``callback_metrics`` names (and the losses); the final
        #: evaluation (:meth:`evaluate_split`) and testing compute every metric. Each epoch's
        #: full metric suite costs several times the step of a small model.
        self.epoch_metrics = epoch_metrics
        monitored = self.callback_metrics
        self.fit_metrics: dict[str, ClassificationMetrics] = _OnFirstUse(
            lambda stage: ClassificationMetrics(
                task,
                n_targets,
                prefix=f"{stage}/",
                validate_args=False,
                only=[
                    key.split("/", 1)[1]
                    for key in monitored or ()
                    if key.startswith(f"{stage}/") and key != f"{stage}/loss"
                ],
            )
        )
        #: Whether :attr:`fit_metrics` replace :attr:`stage_metrics` for train and val while
        #: fitting (``epoch_metrics="monitored"`` with known monitors).
        self._lean = epoch_metrics == "monitored" and monitored is not None
        #: Whether the metrics of :attr:`fit_metrics` are in use (while fitting).
        self._fitting = False
        self.history: dict[str, list[float]] = {}
        #: Reliability-diagram bins of the last test epoch (see ClassificationMetrics.reliability).
        self.reliability: dict[str, list] | None = None
        self._metrics_step = -1
        #: The training epoch's detached (scores, labels, per-sample loss): the metrics are
        #: updated once per epoch from them, not once per step (same values, a fraction of
        #: the cost: torchmetrics' per-update overhead is as large as a small model's step).
        self._train_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        #: Whether the epoch loop steps the optimizer itself (see _direct_steps); per fit.
        self._direct = False
        # --- checkpoint metadata (lossbench.checkpoint, predict) ---
        #: The data's preprocessing (``ClassificationDataModule.preprocessing``: feature names,
        #: the training split's standardisation, label names, classes), stored in checkpoints
        #: so that prediction works without the training data; set by lossbench-train.
        self.preprocessing: dict[str, Any] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(N, units)``: the model body without the head."""
        return self.model(x)

    def objective(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The loss of the head's output against the loss-encoded targets.

        Head and loss run outside autocast on at least float32 (the precision policy above).
        """
        scores, targets = at_least_float32(scores), at_least_float32(targets)
        if autocast_on(scores.device):  # under bf16-mixed / 16-mixed
            with full_precision(scores.device):
                loss = self._head_and_loss(scores, targets)
        else:  # the step's hot path: no context manager to enter
            loss = self._head_and_loss(scores, targets)
        if loss.ndim != 0:
            raise ValueError(
                "the loss returned one value per element (reduction 'none', "
                "possibly through loss.reduce=false); training needs a scalar: set "
                "loss.reduction=mean or sum and leave loss.reduce unset."
            )
        return loss

    def _head_and_loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        out = self.head(scores)
        return self.loss_fn(out.squeeze(-1) if self.squeeze else out, targets)

    def _update(
        self, stage: str, scores: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor
    ) -> None:
        # One value per sample: MeanMetric(nan_strategy="disable") ignores `weight` (torchmetrics
        # 1.9), which made the epoch loss a mean of batch means (and of rank means under DDP).
        losses = loss.detach().expand(len(labels))
        if stage == "train":  # once per epoch, in _flush_train_outputs
            self._train_outputs.append((scores.detach(), labels, losses))
            return
        metrics, mean_loss = self._metrics(stage, scores.device)
        if metrics.metrics:
            metrics.update_from_scores(scores.detach(), labels, self.link)
        mean_loss.update(losses)

    def _stage_metrics(self, stage: str) -> ClassificationMetrics:
        """The metrics ``stage`` accumulates now (see :attr:`fit_metrics`)."""
        if self._fitting and self._lean and stage in ("train", "val"):
            return self.fit_metrics[stage]
        return self.stage_metrics[stage]

    def _metrics(
        self, stage: str, device: torch.device
    ) -> tuple[ClassificationMetrics, MeanMetric]:
        """The metrics of ``stage``, moved to ``device`` if they are elsewhere (once per fit,
        evaluation or device change: they are not submodules, so ``module.to()`` leaves them)."""
        metrics, mean_loss = self._stage_metrics(stage), self.stage_loss[stage]
        if mean_loss.device != device or (metrics.metrics and _device(metrics) != device):
            metrics.to(device)
            mean_loss.to(device)
        return metrics, mean_loss

    def _flush_train_outputs(self) -> None:
        """Update the training metrics with the epoch's steps, all at once."""
        if not self._train_outputs:
            return
        scores, labels, losses = (
            torch.cat(parts) for parts in zip(*self._train_outputs, strict=True)
        )
        self._train_outputs.clear()
        metrics, mean_loss = self._metrics("train", scores.device)
        if metrics.metrics:
            metrics.update_from_scores(scores, labels, self.link)
        mean_loss.update(losses)

    def _check_finite(self, loss: torch.Tensor, batch_idx: int) -> None:
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.item()}) at epoch {self.current_epoch}, "
                f"step {self.global_step} (batch {batch_idx})"
            )

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor | None:
        if self.epoch_loop:
            return self._train_epoch(batch)
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        loss = self.objective(scores, targets)
        self._check_finite(loss, batch_idx)
        if self._metrics_step != self.global_step:  # L-BFGS evaluates a step several times
            self._metrics_step = self.global_step
            self._update("train", scores, labels, loss)
        if self.optimizer_cfg["name"] == "lbfgs":
            loss = loss + l2_penalty(self.model, self.optimizer_cfg["weight_decay"])
        return loss

    def _direct_steps(self) -> bool:
        """Whether the epoch loop may call ``loss.backward()`` and ``optimizer.step()`` itself.

        Lightning's ``manual_backward`` and ``LightningOptimizer.step`` cost about 0.15 ms per
        step; what they add here is the hooks in ``_STEP_HOOKS``, gradient scaling (16-mixed)
        and the profiler. So: yes when no callback and not this module overrides those hooks,
        the precision plugin is a plain one without a scaler and no profiler is set; the step
        counter (``trainer.global_step``) is then advanced as Lightning's wrapper does.
        """
        trainer = self.trainer
        plugin = trainer.precision_plugin
        progress = getattr(
            getattr(trainer.fit_loop.epoch_loop, "manual_optimization", None),
            "optim_step_progress",
            None,
        )
        return (
            type(plugin) in _PLAIN_PRECISION
            and getattr(plugin, "scaler", None) is None
            and isinstance(trainer.profiler, PassThroughProfiler)
            and hasattr(progress, "increment_ready")
            and hasattr(progress, "increment_completed")
            and not is_overridden("backward", self, L.LightningModule)
            and not any(is_overridden(hook, self, L.LightningModule) for hook in _STEP_HOOKS)
            and not any(
                is_overridden(hook, callback, Callback)
                for callback in trainer.callbacks
                for hook in _STEP_HOOKS
            )
        )

    def on_fit_start(self) -> None:
        self._fitting = True

    def on_fit_end(self) -> None:
        self._fitting = False

    def on_train_start(self) -> None:
        self._direct = self.epoch_loop and self._direct_steps()
        if self.inline_validation:
            if not self.epoch_loop or self.trainer.limit_val_batches != 0:
                raise RuntimeError(
                    "inline_validation=True validates once per epoch in the epoch step: it "
                    "needs epoch_loop=True and a Trainer with limit_val_batches=0 (Lightning's "
                    f"own loop off); got epoch_loop={self.epoch_loop}, limit_val_batches="
                    f"{self.trainer.limit_val_batches}. Leave inline_validation=False for "
                    "Lightning's validation loop."
                )
            tensors = getattr(self.trainer.datamodule, "tensors", None)
            if not isinstance(tensors, Mapping) or "val" not in tensors:
                raise RuntimeError(
                    "inline_validation=True validates the datamodule's in-memory split "
                    "`tensors['val']` (lossbench's ClassificationDataModule); this fit has "
                    f"{type(self.trainer.datamodule).__name__}. Leave inline_validation=False "
                    "for Lightning's validation loop over its val_dataloader()."
                )
            split = tensors["val"]  # on the device since the datamodule's setup()
            self._val_split = self.trainer.precision_plugin.convert_input(split)

    def on_train_end(self) -> None:
        self._val_split = None

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._val_split is not None:
            self._validate_inline(self._val_split)

    def _validate_inline(self, split: tuple[torch.Tensor, ...]) -> None:
        """What Lightning's validation loop does with the one-batch ``split`` during fit: the
        computing submodules in eval mode, no gradients, the precision plugin's validation
        context, ``validation_step``, then the epoch end."""
        modes = [(m, m.training) for part in self._computing for m in part.modules()]
        for part in self._computing:
            part.eval()
        try:
            with torch.no_grad(), self.trainer.precision_plugin.val_step_context():
                self.validation_step(split, 0)
        finally:
            for module, training in modes:
                module.training = training
        self._epoch_end("val")

    @property
    def _computing(self) -> tuple[torch.nn.Module, ...]:
        """The submodules whose mode can change a result."""
        return (self.model, self.head, self.loss_fn)

    def _train_epoch(self, epoch: tuple[torch.Tensor, ...]) -> None:
        """One epoch of minibatch steps over the shuffled epoch ``(x, labels, targets)``."""
        optimizer = self.optimizers()
        raw = optimizer.optimizer if self._direct else None
        progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
        schedulers = bool(self.trainer.lr_scheduler_configs)
        x, labels, targets = epoch
        size = self.minibatch_size or len(x)
        for batch_idx, start in enumerate(range(0, len(x), size)):
            xb, yb, tb = (t[start : start + size] for t in (x, labels, targets))
            scores = at_least_float32(self(xb))
            loss = self.objective(scores, tb)
            self._check_finite(loss, batch_idx)
            optimizer.zero_grad(set_to_none=True)
            if raw is None:
                self.manual_backward(loss)
                optimizer.step()
            else:  # what the two calls above do here, without their per-call overhead
                loss.backward()
                progress.increment_ready()
                raw.step()
                progress.increment_completed()
            if schedulers:
                self._step_schedulers("step", plateau=False, index=batch_idx)
            self._update("train", scores, yb, loss)
        if schedulers:
            self._step_schedulers("epoch", plateau=False)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        self._update("val", scores, labels, self.objective(scores, targets))

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        self._update("test", scores, labels, self.objective(scores, targets))

    def _stage_values(self, stage: str) -> dict[str, torch.Tensor]:
        """Compute and reset the metrics accumulated for ``stage`` (and keep the reliability
        bins of ``test``)."""
        if stage == "train":
            self._flush_train_outputs()
        metrics, mean_loss = self._stage_metrics(stage), self.stage_loss[stage]
        if stage == "test":
            self.reliability = metrics.reliability()
        values = metrics.compute()
        values[f"{stage}/loss"] = mean_loss.compute()
        metrics.reset()
        mean_loss.reset()
        return values

    @torch.inference_mode()
    def evaluate_split(self, split: tuple[torch.Tensor, ...], stage: str) -> dict[str, float]:
        """The ``<stage>/*`` metrics of one whole split ``(x, labels, targets)``, outside a
        Trainer loop: what ``validation_step`` / ``test_step`` and the epoch end compute.

        The caller puts the module in eval mode, on the split's device, and in the precision
        plugin's forward context (see ``lossbench.train``'s final evaluation).
        """
        x, labels, targets = split
        fitting, self._fitting = self._fitting, False  # every metric
        try:
            scores = at_least_float32(self(x))  # the precision policy: >= fp32 from the head on
            self._update(stage, scores, labels, self.objective(scores, targets))
            return {key: float(value) for key, value in self._stage_values(stage).items()}
        finally:
            self._fitting = fitting

    def _epoch_end(self, stage: str) -> None:
        values = self._stage_values(stage)
        if stage == "train" and self._epoch_lr is not None:
            values["train/lr"] = torch.tensor(self._epoch_lr, dtype=torch.float64)
        fitting = self.trainer.state.fn == "fit"
        if fitting and self.callback_metrics is not None:
            monitored = {k: v for k, v in values.items() if k in self.callback_metrics}
            # batch_size=1: one epoch value each (from on_train_batch_end, Lightning would weight
            # it by the training batch's size, which can round it).
            self.log_dict(monitored, logger=False, batch_size=1)  # loggers get every metric
            if not self.trainer.sanity_checking:
                self._log_to_loggers(values)
        else:
            self.log_dict(values, prog_bar=False, batch_size=1)
        if fitting and not self.trainer.sanity_checking:
            for key, value in values.items():
                self.history.setdefault(key, []).append(float(value))

    def _log_to_loggers(self, values: Mapping[str, torch.Tensor]) -> None:
        """What Lightning's logger connector does with epoch-level metrics, minus its
        per-key bookkeeping: every logger gets the floats and the epoch, at the global step."""
        if not self.loggers:
            return
        metrics = {key: float(value) for key, value in values.items()}
        metrics["epoch"] = self.current_epoch
        for logger in self.loggers:
            logger.log_metrics(metrics, step=self.global_step)
            logger.save()

    def on_train_epoch_start(self) -> None:
        optimizers = self.trainer.optimizers
        self._epoch_lr = float(optimizers[0].param_groups[0]["lr"]) if optimizers else None

    def on_train_epoch_end(self) -> None:
        self._epoch_end("train")
        if self.epoch_loop:
            self._step_schedulers("epoch", plateau=True)

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optimizer_cfg, self.model)
        if self.scheduler_cfg is None:
            return optimizer
        from lossbench.schedulers import build_scheduler

        trainer = self.trainer
        if self.epoch_loop:  # Lightning counts one step per epoch here; the optimizer steps
            n_train = len(trainer.datamodule.tensors["train"][0])  # once per minibatch
            per_epoch = math.ceil(n_train / (self.minibatch_size or n_train))
            total_steps = per_epoch * trainer.max_epochs
        else:
            total_steps = trainer.estimated_stepping_batches
        scheduler = build_scheduler(
            self.scheduler_cfg,
            optimizer,
            max_epochs=trainer.max_epochs,
            total_steps=int(total_steps),
            monitor=self.scheduler_monitor,
        )
        if self.epoch_loop and scheduler is not None:  # manual optimization: Lightning would
            scheduler.pop("monitor", None)  # ignore these (with a warning); _step_schedulers
            scheduler.pop("strict", None)  # reads self.scheduler_monitor itself
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _step_schedulers(self, interval: str, *, plateau: bool, index: int = 0) -> None:
        """Step the schedulers of ``interval`` where Lightning would (manual optimization,
        the epoch loop, where Lightning steps none): ``step`` ones after each optimizer step
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

    # --- checkpoint hooks: plain lists, numbers and tensors only (weights_only=True loads) ---
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from lossbench.checkpoint import HISTORY_KEY, METADATA_KEY, RNG_KEY, rng_states

        # JSON text: pickling a string is one object, the floats of a long history thousands.
        checkpoint[HISTORY_KEY] = json.dumps(self.history)
        checkpoint[METADATA_KEY] = {
            **(self.preprocessing or {}),
            "task": self.task,
            "head": self.hparams["head"],
            "loss": self.hparams["loss"]["name"],
            "link": self.link,
        }
        # A resumed run continues with the generator states of the epoch end it resumes from
        # (dropout masks), as the uninterrupted run does.
        checkpoint[RNG_KEY] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from lossbench.checkpoint import (
            DATA_KEYS,
            METADATA_KEY,
            OPTIONAL_DATA_KEYS,
            RNG_KEY,
            history,
            restore_rng_states,
        )

        self.history = history(checkpoint)
        meta = checkpoint.get(METADATA_KEY) or {}
        if all(meta.get(key) is not None for key in DATA_KEYS):
            self.preprocessing = {key: meta[key] for key in ("task", *DATA_KEYS)}
            self.preprocessing.update(
                {key: meta[key] for key in OPTIONAL_DATA_KEYS if meta.get(key) is not None}
            )
        resuming = self._trainer is not None and self._trainer.state.fn == "fit"
        if resuming and RNG_KEY in checkpoint:
            restore_rng_states(checkpoint[RNG_KEY])
