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
of logits versus probabilities. A non-finite training loss raises :class:`NonFiniteLossError`
naming epoch and step, and so do weights that an optimizer step turned non-finite after the
epoch's last training loss was computed (checked once an epoch, before its validation values
reach a callback or logger).

A training batch in which no target counts (a dense task's batch whose every pixel is
unlabelled: the loss's ``ignore_index``, ``data.faint_pixels=unlabelled``; or one whose every
target is of a class with ``loss.weight`` 0) has no loss: its mean is 0 / 0. Such a batch is
not a divergence: it is skipped as a hand-written loop would skip it
(:meth:`ClassifierModule.counts_no_target`). Its optimizer step leaves the weights and the
optimizer's state as they are (no gradient: Adam's moments, momentum and weight decay do not
move), while the step is still counted (``trainer.global_step``, ``max_steps`` and per-step
schedulers), by either runner. Under DDP every process must step together: a process whose
batch counts nothing there adds a zero gradient to the processes' mean (as it does under
L-BFGS, whose closure needs a loss); it adds nothing to the ``loss`` metric or the others.

Precision policy (:mod:`lossbench.precision`): under ``trainer.precision=bf16-mixed`` or
``16-mixed`` the model body runs under autocast, but the head's activation and the loss always
run outside autocast on float32 scores (float64 under ``64-true``), for every loss: BCELoss on a
bf16 sigmoid gets loss 100 and gradient 0 from logit 6.25 on, and on CUDA it refuses autocast.
The metrics see the same float32 scores.

It is a plain LightningModule (automatic optimization, ``training_step`` returning the loss,
``validation_step`` / ``test_step``, epoch-level metrics through ``self.log_dict``), so it runs
under any Lightning callback, profiler, precision or strategy. The fast training of small
models (a whole epoch per Lightning step, validation without Lightning's loop) is a runner
built on it: :mod:`lossbench.runners`. Build one with :meth:`ClassifierModule.from_config` (a
run's config and data) or :meth:`ClassifierModule.from_checkpoint` (a trained model).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, ProgressBar, Timer
from omegaconf import DictConfig, OmegaConf

from lossbench.checkpoint import (
    CheckpointError,
    check_finite_weights,
    hyperparameters,
    restore_rng_states,
    rng_states,
)
from lossbench.checkpoint_format import (
    DATA_KEYS,
    EPOCH_LR_KEY,
    HISTORY_KEY,
    INPUT_SHAPE_KEY,
    METADATA_KEY,
    OPTIONAL_DATA_KEYS,
    PROCESSES_KEY,
    RNG_KEY,
    RUN_CONFIG_KEY,
    SPLITS_SHA256_KEY,
    HistoryText,
    history,
)
from lossbench.data.splits import STAGES
from lossbench.errors import NonFiniteLossError, non_finite_loss, non_finite_weights
from lossbench.heads import build_head, get_head
from lossbench.lightning_internals import (
    align_logging_step,
    attached_trainer,
    batches_done_in_epoch,
    continue_step_count,
    epoch_batches_done,
    resume_after_epoch_end,
)
from lossbench.losses import auto_pos_weight, build_loss, get_loss
from lossbench.losses.building import check_ignore_index
from lossbench.losses.reduction import mean_denominators
from lossbench.metric_names import LOGGED_METRICS, VALIDATION_EPOCH, VALIDATION_STEP
from lossbench.metrics import ClassificationMetrics, WeightedMean
from lossbench.models import build_model
from lossbench.optim import build_optimizer, l2_penalty
from lossbench.precision import at_least_float32, autocast_on, full_precision
from lossbench.schedulers import build_scheduler, scheduler_monitor
from lossbench.tasks import Task, is_dense

if TYPE_CHECKING:
    from lossbench.data.datamodule import ClassificationDataModule

__all__ = ["ClassifierModule", "NonFiniteLossError", "monitored_metrics", "resolved_loss"]

#: Callbacks that read no metric from ``trainer.callback_metrics`` (progress bars show
#: ``prog_bar`` metrics: lossbench logs none).
_READ_NO_METRIC = (ProgressBar, ModelSummary, LearningRateMonitor, Timer)

log = logging.getLogger("lossbench")


def resolved_loss(cfg: DictConfig, datamodule: ClassificationDataModule) -> dict[str, Any]:
    """The loss config with ``pos_weight=auto`` replaced by its numbers from the training split;
    building it once here checks ``weight`` / ``pos_weight`` lengths before training, and an
    ``ignore_index`` that would leave a class of table data out of training is refused
    (:func:`~lossbench.losses.building.check_ignore_index`)."""
    params: dict[str, Any] = OmegaConf.to_container(cfg.loss, resolve=True)  # type: ignore[assignment]
    if params.get("pos_weight") == "auto":
        params["pos_weight"] = auto_pos_weight(datamodule.train_targets).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the legacy warning is shown once, later
        build_loss(params["name"], params, task=datamodule.task, n_outputs=datamodule.n_outputs)
    check_ignore_index(params["name"], params, task=datamodule.task, n_outputs=datamodule.n_outputs)
    return params


def monitored_metrics(cfg: DictConfig, callbacks: Iterable[Any], task: str) -> list[str]:
    """The metrics that the callbacks (and a plateau scheduler) read from
    ``trainer.callback_metrics`` during fit: the module's ``callback_metrics``. A callback
    lossbench does not know might read any: then every train/ and val/ metric."""
    keys = [cfg.optimized_metric]
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str):
            keys.append(monitor)
        elif not isinstance(callback, _READ_NO_METRIC):
            metrics = LOGGED_METRICS[task]
            keys += [f"{stage}/{metric}" for stage in ("train", "val") for metric in metrics]
    monitor = scheduler_monitor(cfg.scheduler, cfg.optimized_metric) if "scheduler" in cfg else None
    if monitor is not None:
        keys.append(monitor)
    return list(dict.fromkeys(keys))


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


def weights_value(tensors: Sequence[torch.Tensor]) -> float | None:
    """None where every value of ``tensors`` (a model's parameters) is finite; else nan where
    one is NaN, or inf.

        >>> weights_value([torch.ones(2)]), weights_value([torch.tensor([1.0, float("inf")])])
        (None, inf)
    """
    if not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
        return None
    return math.nan if any(bool(torch.isnan(t).any()) for t in tensors) else math.inf


def _stacked(weights: Sequence[torch.Tensor | float], device: torch.device) -> torch.Tensor:
    """The steps' loss weights (:meth:`ClassifierModule.loss_share`) as one float64 tensor.

    >>> _stacked([2.0, 3.0], torch.device("cpu"))
    tensor([2., 3.], dtype=torch.float64)
    """
    if all(isinstance(weight, float) for weight in weights):
        return torch.tensor(weights, dtype=torch.float64, device=device)
    return torch.stack([torch.as_tensor(w, dtype=torch.float64, device=device) for w in weights])


def _device(metrics: ClassificationMetrics) -> torch.device:
    return next(iter(metrics.metrics.values())).device


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
        scheduler: Mapping[str, Any] | None = None,
        scheduler_monitor: str | None = None,
        callback_metrics: Iterable[str] | None = None,
        epoch_metrics: str = "all",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["scheduler_monitor", "callback_metrics", "epoch_metrics"])
        self.minibatch_size = minibatch_size
        #: The metrics that callbacks (and a plateau scheduler) read from
        #: ``trainer.callback_metrics`` during fit (:func:`monitored_metrics`); None: not known.
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
        #: ``{id(scheduler): epoch}`` of the plateau schedulers :meth:`on_train_epoch_end`
        #: stepped (automatic optimization): Lightning's own step of that epoch is skipped.
        self._plateau_stepped: dict[int, int] = {}
        self.link = get_head(head).link or get_loss(loss["name"]).link_for(task)
        #: What the loss's mean divides by (:attr:`~lossbench.losses.registry.LossSpec.mean_over`).
        self.mean_over = get_loss(loss["name"]).mean_over
        self.squeeze = task == "binary" and n_outputs == 1
        # Plain dicts, not submodules: their states are not part of the checkpoint (none is
        # persistent), and out of the module tree ``.to()``, ``.train()``/``.eval()`` and
        # ``state_dict()`` walk ~10 modules instead of ~40 (about 2 ms per fit). They follow
        # the scores' device themselves (_metrics).
        # Built on first use (a stage's suite is ~10 torchmetrics objects, 4-6 ms to build; a
        # vectorized member or a run without a test split never uses some of them).
        self.stage_metrics: dict[str, ClassificationMetrics] = _OnFirstUse(
            lambda stage: ClassificationMetrics(
                task, n_targets, prefix=f"{stage}/", validate_args=False
            )
        )
        #: ``<stage>/loss``: each batch's loss weighted by its mean's denominator
        #: (:meth:`loss_share`), so the loss of the whole split whatever its batches.
        self.stage_loss: dict[str, WeightedMean] = {stage: WeightedMean() for stage in STAGES}
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
        #: Writes :attr:`history` as JSON text for each checkpoint, formatting only what is new.
        self._history_text = HistoryText()
        #: Reliability-diagram bins of the last test epoch (see ClassificationMetrics.reliability).
        self.reliability: dict[str, list] | None = None
        #: Whether the training batch of the moment is in the ``train`` metrics already: L-BFGS
        #: evaluates its batch several times in one optimizer step (its closure), and every
        #: batch counts once, also within a window of ``trainer.accumulate_grad_batches``
        #: (where ``global_step`` does not move from batch to batch). Cleared for each batch
        #: (:meth:`on_train_batch_start`).
        self._batch_counted = False
        self._weights_checked = -1  # the global_step at which check_finite_weights last ran
        #: The training epoch's detached (scores, labels, loss, its weight) of each step
        #: (:meth:`loss_share`): the metrics are updated once per epoch from them, not once per
        #: step (same values, a fraction of the cost: torchmetrics' per-update overhead is as
        #: large as a small model's step).
        self._train_outputs: list[tuple[torch.Tensor, ...]] = []
        # --- checkpoint metadata (lossbench.checkpoint, predict) ---
        #: The data's preprocessing (``ClassificationDataModule.preprocessing``: feature names,
        #: the training split's standardisation, label names, classes), stored in checkpoints
        #: so that prediction works without the training data; set by :meth:`from_config`.
        self.preprocessing: dict[str, Any] | None = None
        #: The run's resolved config as JSON text, saved in its checkpoints (RUN_CONFIG_KEY).
        self.run_config_text: str | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_config(
        cls,
        cfg: DictConfig,
        datamodule: ClassificationDataModule,
        *,
        loss: Mapping[str, Any] | None = None,
        callback_metrics: Iterable[str] | None = None,
    ) -> ClassifierModule:
        """The module that ``cfg`` trains on ``datamodule``, with the data's preprocessing
        for its checkpoints; ``loss``: the loss parameters with ``pos_weight=auto`` resolved
        (default: :func:`resolved_loss`); ``callback_metrics``: what the callbacks read
        (:func:`monitored_metrics`; default: the optimized metric and a plateau scheduler's).

            >>> module = ClassifierModule.from_config(cfg, datamodule)  # doctest: +SKIP
        """
        scheduler = (
            OmegaConf.to_container(cfg.scheduler, resolve=True) if "scheduler" in cfg else None
        )
        monitor = scheduler_monitor(scheduler, cfg.optimized_metric) if scheduler else None
        if callback_metrics is None:
            callback_metrics = [cfg.optimized_metric, *([monitor] if monitor else [])]
        module = cls(
            task=datamodule.task,
            n_features=datamodule.n_features,
            n_outputs=datamodule.n_outputs,
            n_targets=datamodule.n_targets,
            model=OmegaConf.to_container(cfg.model, resolve=True),
            head=cfg.head.name,
            loss=resolved_loss(cfg, datamodule) if loss is None else loss,
            optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
            minibatch_size=cfg.data.batch_size,
            scheduler=None if not scheduler or scheduler["name"] == "none" else scheduler,
            scheduler_monitor=monitor,
            callback_metrics=callback_metrics,
            epoch_metrics=cfg.get("epoch_metrics", "all"),
        )
        module.preprocessing = datamodule.preprocessing
        return module

    @classmethod
    def from_checkpoint(
        cls, checkpoint: Mapping[str, Any], path: str | os.PathLike
    ) -> ClassifierModule:
        """Rebuild the trained module of a checkpoint (read by
        :func:`lossbench.checkpoint.load_checkpoint` from ``path``), in eval mode on the CPU;
        one with NaN or infinite weights is refused
        (:func:`lossbench.checkpoint.check_finite_weights`).

        The model body takes the dtype of the stored weights (float64 for
        ``trainer.precision=64``), so its outputs are those of the trained model; the metric
        states keep their own (float64) dtype, and the loss's tensors at least float32
        (:meth:`_apply`).

            >>> module = ClassifierModule.from_checkpoint(load_checkpoint(p), p)  # doctest: +SKIP
        """
        module = cls(**hyperparameters(checkpoint, path))
        check_finite_weights(checkpoint, path)
        state = checkpoint["state_dict"]
        dtypes = {
            t.dtype
            for key, t in state.items()
            if key.startswith("model.") and torch.is_tensor(t) and t.is_floating_point()
        }
        if len(dtypes) == 1:
            module.model.to(dtypes.pop())
        try:
            module.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(
                f"checkpoint {str(path)!r}: its weights do not fit the model its "
                f"hyper-parameters describe ({str(error).splitlines()[0]}). The file was "
                "changed after training; use another checkpoint of the run."
            ) from None
        module.on_load_checkpoint(dict(checkpoint))
        return module.eval()

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> ClassifierModule:
        """torch's conversion of every tensor (``.to()``, ``.half()``, ...), after which the
        loss's own tensors (``pos_weight``, class ``weight``) are at least float32: the loss
        runs in float32 (the precision policy), also under ``trainer.precision=bf16-true``,
        whose plugin converts the whole module to bfloat16 (class-weighted cross_entropy then
        failed: "expected scalar type Float but found BFloat16"; pos_weight was rounded). They
        keep their values: a tensor narrowed to bf16 / fp16 is put back as it was.

            >>> module.to(torch.bfloat16).loss_fn.pos_weight.dtype  # doctest: +SKIP
            torch.float32
        """
        before = [
            (owner, name, tensor)
            for owner in self.loss_fn.modules()
            for name, tensor in owner.named_buffers(recurse=False)
            if tensor.is_floating_point()
        ]
        this = super()._apply(fn, *args, **kwargs)
        for owner, name, tensor in before:
            converted = getattr(owner, name)
            if converted.is_floating_point() and converted.dtype.itemsize < 4:
                # the original values, not their bfloat16 rounding, on the new device
                setattr(owner, name, at_least_float32(tensor.to(converted.device)))
        return this

    # ------------------------------------------------------------------ computing
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(N, units)``: the model body without the head."""
        return self.model(x)

    @property
    def example_input_array(self) -> torch.Tensor | None:  # type: ignore[override]
        """One input example of zeros, ``(1, features)`` or a dense task's ``(1, Ch, H, W)``,
        for Lightning's model summary: it runs :meth:`forward` on it to count the FLOPs (per
        example: the body's; head and loss are not part of ``forward``) and to show the In / Out
        sizes. None where a dense task's image size is not known (a module built without
        :meth:`from_config` or from a checkpoint without ``input_shape``): the summary then
        shows no FLOPs, as before.

        Built when read, from the parameters' dtype and device: the summary runs after the
        precision plugin converted the weights (float64 under ``trainer.precision=64-true``)
        and does not convert its input. Nothing of it is stored: hyper-parameters, state dict
        and checkpoints are those of a module without it.

            >>> module.example_input_array.shape  # doctest: +SKIP
            torch.Size([1, 4])
        """
        if is_dense(self.task):
            shape = (self.preprocessing or {}).get(INPUT_SHAPE_KEY)
            if shape is None:
                return None
        else:
            shape = [self.hparams["n_features"]]
        weight = next(self.model.parameters())
        return torch.zeros(1, *shape, dtype=weight.dtype, device=weight.device)

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

    def check_finite(
        self, loss: torch.Tensor, batch_idx: int, targets: torch.Tensor | None = None
    ) -> bool:
        """Raise :class:`NonFiniteLossError` for a NaN or infinite training loss, unless no
        target of the batch (``targets``) counts in it (:meth:`counts_no_target`); return
        whether none counts: the batch is then skipped (see the module's docstring).

        The targets are looked at only where the loss is not finite or exactly 0 (a loss
        that sums over the batch), so a step costs one host sync, as before.
        """
        value = loss.item()
        if math.isfinite(value) and value != 0.0:
            return False
        if targets is not None and self.counts_no_target(targets):
            return True
        if not math.isfinite(value):
            raise NonFiniteLossError(
                non_finite_loss(value, self.current_epoch, self.global_step, batch_idx)
            )
        return False

    def counts_no_target(self, targets: torch.Tensor) -> bool:
        """Whether no target of a batch counts in the loss: every one is the loss's
        ``ignore_index`` (a dense task's unlabelled pixels, ``data.faint_pixels=unlabelled``)
        or of a class whose ``loss.weight`` is 0 (``loss.weight=[0,1,1]`` and a batch of class 0
        only). Only cross_entropy and nll divide their mean by the counted targets' class
        weights (:attr:`~lossbench.losses.registry.LossSpec.mean_over`); with none counted it is
        NaN (torch's 0 / 0). Without class weights, table data never skips (its targets are
        never ``ignore_index``: :func:`~lossbench.losses.building.check_ignore_index`); the
        vectorized launcher trains a run with a class weight of 0 alone
        (:func:`lossbench.vectorized.why_alone`).

            >>> module.counts_no_target(torch.full((2, 4, 4), -100))  # doctest: +SKIP
            True
        """
        if self.mean_over != "target_weights":
            return False
        return float(self.mean_denominators(targets).sum()) == 0.0

    def skipped_step(self, scores: torch.Tensor) -> torch.Tensor | None:
        """What :meth:`training_step` returns for a batch in which no target counts: None,
        which makes Lightning skip its backward (the optimizer step then has no gradient and
        changes nothing); under DDP or L-BFGS, which need a loss from every step, a zero loss
        with zero gradient."""
        trainer = attached_trainer(self)  # none: a step outside a fit
        processes = 1 if trainer is None else int(trainer.world_size)
        if self.optimizer_cfg["name"] == "lbfgs" or processes > 1:
            return (scores * 0.0).sum()
        return None

    def check_finite_weights(self) -> None:
        """Raise :class:`NonFiniteLossError` where an optimizer step turned the model's weights
        NaN or infinite after the last training loss was computed (every metric and prediction
        from them would be NaN); once per optimizer step count, so the epoch's validation and
        its end check it once.

            >>> module.check_finite_weights()  # doctest: +SKIP
            Traceback (most recent call last):
            NonFiniteLossError: non-finite weights (nan) at epoch 0, step 1
        """
        if self._weights_checked == self.global_step:
            return
        self._weights_checked = self.global_step
        value = weights_value(list(self.model.parameters()))
        if value is not None:
            raise NonFiniteLossError(
                non_finite_weights(value, self.current_epoch, self.global_step)
            )

    # ------------------------------------------------------------------ Lightning's steps
    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor | None:
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        loss = self.objective(scores, targets)
        skipped = self.check_finite(loss, batch_idx, targets)
        if not self._batch_counted:  # L-BFGS evaluates its batch several times
            self._batch_counted = True
            self.update_metrics("train", scores, labels, loss, targets)
        if skipped:  # no target counts: no loss (see the module's docstring)
            return self.skipped_step(scores)
        if self.optimizer_cfg["name"] == "lbfgs":
            loss = loss + l2_penalty(self.model, self.optimizer_cfg["weight_decay"])
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        self.update_metrics("val", scores, labels, self.objective(scores, targets), targets)

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, labels, targets = batch
        scores = at_least_float32(self(x))  # the precision policy: head, loss, metrics >= fp32
        self.update_metrics("test", scores, labels, self.objective(scores, targets), targets)

    def build_fit_metrics(self) -> None:
        """Build the metric objects a fit updates (train and val; otherwise built on first
        use), so that a run builds them with the model, before its fit starts.

        >>> module.build_fit_metrics()  # doctest: +SKIP
        """
        metrics = self.fit_metrics if self._lean else self.stage_metrics
        for stage in ("train", "val"):
            metrics[stage]  # built on first read

    def on_fit_start(self) -> None:
        self._fitting = True

    def on_fit_end(self) -> None:
        self._fitting = False

    def on_train_start(self) -> None:
        from lossbench.callbacks import stop_if_stopped_before

        stopped = stop_if_stopped_before(self.trainer)  # its checkpoint's run had ended there
        if stopped and self.trainer.is_global_zero:  # one line, not one per process
            epoch = self.trainer.current_epoch
            log.info(
                "the checkpoint's run was stopped by early stopping after epoch %d: no "
                "further epoch is trained, its best weights are evaluated",
                epoch - 1,
            )
        # a resume from an epoch's end under trainer.max_steps starts the next epoch
        resume_after_epoch_end(self.trainer)
        # a checkpoint of the other runner: global_step goes on from its steps
        continue_step_count(self.trainer)

    def on_train_epoch_start(self) -> None:
        from lossbench.callbacks import drop_overridden_stop

        drop_overridden_stop(self.trainer)  # trainer.min_epochs/min_steps overrode it
        # the step Lightning logs at is the optimizer steps' count (an older checkpoint of the
        # epoch runner restored the epochs' count)
        align_logging_step(self.trainer)
        optimizers = self.trainer.optimizers
        self._epoch_lr = float(optimizers[0].param_groups[0]["lr"]) if optimizers else None

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._batch_counted = False  # a new batch: its first evaluation counts (training_step)
        trainer = attached_trainer(self)  # none: a step outside a fit
        if trainer is not None and trainer.should_stop:  # a stop within the epoch, overridden
            from lossbench.callbacks import drop_overridden_stop

            drop_overridden_stop(trainer)

    def on_train_epoch_end(self) -> None:
        self.end_epoch("train")
        if self.automatic_optimization:  # the epoch runner's module steps its own
            self._step_plateau_schedulers()

    def _step_plateau_schedulers(self) -> None:
        """Step the plateau schedulers (``ReduceLROnPlateau``) at the epoch's end here, once the
        epoch's metrics are logged, where Lightning would step them a little later.

        Lightning steps them after the epoch-end hooks of the monitoring callbacks, in which
        ``ModelCheckpoint`` (and :class:`~lossbench.callbacks.BestAndLastCheckpoint`) save: each
        checkpoint held the scheduler before its epoch's step, and a run resumed from it never
        made that step (wine, patience 1, resumed after epoch 14 of 30: the rate halved one
        epoch late, test/nll 1.8016e-4 against 1.8653e-4 uninterrupted). Lightning calls the
        module's ``on_train_epoch_end`` before those callbacks, so the checkpoint now holds the
        epoch's step, as the epoch runner's does (:class:`~lossbench.runners.epoch.EpochModule`
        steps there too); Lightning's own call of the epoch is skipped (:meth:`lr_scheduler_step`).
        Stepped where Lightning steps them: ``interval="epoch"``, every ``frequency`` epochs,
        after an epoch that ran all its batches, on the monitored value; where that value was
        not logged, Lightning's own call is left to refuse (``strict``) or skip it.
        """
        trainer = self.trainer
        if not trainer.lr_scheduler_configs or not epoch_batches_done(trainer):
            return
        epoch = trainer.current_epoch
        for config in trainer.lr_scheduler_configs:
            due = config.interval == "epoch" and (epoch + 1) % config.frequency == 0
            if not (config.reduce_on_plateau and due and config.monitor):
                continue
            value = trainer.callback_metrics.get(config.monitor)
            if value is None:
                continue
            self.lr_scheduler_step(config.scheduler, value)
            self._plateau_stepped[id(config.scheduler)] = epoch

    def lr_scheduler_step(self, scheduler: Any, metric: Any | None) -> None:
        """Step ``scheduler`` (Lightning's hook), except a plateau scheduler that
        :meth:`on_train_epoch_end` has already stepped in this epoch."""
        stepped = self._plateau_stepped.get(id(scheduler))
        if stepped is not None and stepped == self.trainer.current_epoch:
            del self._plateau_stepped[id(scheduler)]
            return
        super().lr_scheduler_step(scheduler, metric)

    def on_validation_epoch_end(self) -> None:
        self.end_epoch("val")

    def on_test_epoch_end(self) -> None:
        self.end_epoch("test")

    # ------------------------------------------------------------------ metrics
    def update_metrics(
        self,
        stage: str,
        scores: torch.Tensor,
        labels: torch.Tensor,
        loss: torch.Tensor,
        targets: torch.Tensor,
    ) -> None:
        """Accumulate a step's scores, labels and (scalar) loss of ``targets`` into ``stage``'s
        metrics."""
        value, weight = self.loss_share(loss.detach(), targets)
        if stage == "train":  # once per epoch, in _flush_train_outputs
            self._train_outputs.append((scores.detach(), labels, value, weight))
            return
        metrics, mean_loss = self._metrics(stage, scores.device)
        if metrics.metrics:
            metrics.update_from_scores(scores.detach(), labels, self.link)
        mean_loss.update(value, weight)

    def loss_share(
        self, loss: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | float]:
        """A batch's loss as the ``loss`` metric counts it, ``(value, weight)``: the metric is
        ``sum(value * weight) / sum(weight)`` over the batches (and processes).

        With ``loss.reduction=mean`` the value is the loss and the weight what its mean divides
        by (:func:`~lossbench.losses.reduction.mean_denominators`: the batch's elements, or for
        cross_entropy and nll the summed class weights of its targets that are not
        ``ignore_index``): ``<stage>/loss`` is then the loss of the whole split in one batch,
        whatever its batches and processes (one value per sample, as before, weighted the
        batches by their samples: not the split's loss with class weights or ignored targets).
        With ``sum``, the batch's sum divided by its samples, weighted by them: the mean loss
        per sample, for minibatches of any size and for the whole split in one batch (it was
        the batch-size-weighted mean of the batches' sums for ``train/`` and the split's sum for
        ``val/`` and ``test/``: numbers on unrelated scales).
        """
        n_samples = len(targets)
        if self.loss_sums:
            return loss / n_samples, float(n_samples)
        # a number, no tensor work in the training step, where each target counts 1: losses
        # averaging over elements, and cross_entropy / nll without class weights on one index per
        # row (table data, whose targets are never ignore_index: refused as a class)
        unweighted = targets.ndim == 1 and getattr(self.loss_fn, "weight", None) is None
        if self.mean_over == "elements" or unweighted:
            return loss, float(targets.numel())
        return loss, self.mean_denominators(targets).sum()

    def mean_denominators(self, targets: torch.Tensor) -> torch.Tensor:
        """What each sample of ``targets`` adds to the denominator of the loss's mean (see
        :attr:`~lossbench.losses.registry.LossSpec.mean_over`), float64 ``(N,)``."""
        loss_fn = self.loss_fn
        return mean_denominators(
            self.mean_over,
            targets,
            weight=getattr(loss_fn, "weight", None),
            ignore_index=getattr(loss_fn, "ignore_index", -100),
        )

    @property
    def loss_sums(self) -> bool:
        """Whether the training loss sums over a batch (``loss.reduction=sum``, or torch's
        legacy ``size_average=false``) instead of averaging."""
        return getattr(self.loss_fn, "reduction", "mean") == "sum"

    def _stage_metrics(self, stage: str) -> ClassificationMetrics:
        """The metrics ``stage`` accumulates now (see :attr:`fit_metrics`)."""
        if self._fitting and self._lean and stage in ("train", "val"):
            return self.fit_metrics[stage]
        return self.stage_metrics[stage]

    def _metrics(
        self, stage: str, device: torch.device
    ) -> tuple[ClassificationMetrics, WeightedMean]:
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
        scores, labels, values, weights = zip(*self._train_outputs, strict=True)
        self._train_outputs.clear()
        scores, labels = torch.cat(scores), torch.cat(labels)
        metrics, mean_loss = self._metrics("train", scores.device)
        if metrics.metrics:
            metrics.update_from_scores(scores, labels, self.link)
        mean_loss.update(torch.stack(values), _stacked(weights, values[0].device))

    def _stage_values(self, stage: str) -> dict[str, torch.Tensor]:
        """Compute and reset the metrics accumulated for ``stage`` (and keep the reliability
        bins of ``test``)."""
        if stage == "train":
            self._flush_train_outputs()
        metrics, mean_loss = self._stage_metrics(stage), self.stage_loss[stage]
        if stage == "train" and mean_loss.update_count == 0:
            # An epoch resumed after its steps (from a checkpoint written at its validation,
            # before its end): its training scores were not saved, so its train/ values are
            # not known. NaN, not an error.
            nan = torch.tensor(math.nan, dtype=torch.float64)
            return {key: nan for key in (*metrics.names, f"{stage}/loss")}
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
        plugin's forward context (see :mod:`lossbench.training`'s final evaluation).
        """
        x, labels, targets = split
        fitting, self._fitting = self._fitting, False  # every metric
        try:
            scores = at_least_float32(self(x))  # the precision policy: >= fp32 from the head on
            loss = self.objective(scores, targets)
            self.update_metrics(stage, scores, labels, loss, targets)
            return {key: float(value) for key, value in self._stage_values(stage).items()}
        finally:
            self._fitting = fitting

    def end_epoch(self, stage: str) -> None:
        """Compute ``stage``'s epoch metrics, log them (:meth:`log_epoch`) and, while fitting,
        append them to :attr:`history`; weights that turned non-finite fail the run first
        (:meth:`check_finite_weights`)."""
        values = self._stage_values(stage)
        fitting = self.trainer.state.fn == "fit" and not self.trainer.sanity_checking
        if fitting and stage in ("train", "val"):  # before any callback or logger sees the epoch
            self.check_finite_weights()
        if stage == "train" and self._epoch_lr is not None:
            values["train/lr"] = torch.tensor(self._epoch_lr, dtype=torch.float64)
        self.log_epoch(values)
        if fitting:
            for key, value in values.items():
                self.history.setdefault(key, []).append(float(value))
            if stage == "val":  # when it ran: validation need not follow every epoch
                self.history.setdefault(VALIDATION_EPOCH, []).append(self.epochs_done())
                self.history.setdefault(VALIDATION_STEP, []).append(self.trainer.global_step)

    def epochs_done(self) -> float:
        """The epochs of training done now, in the history's ``val/epoch`` (see
        :data:`lossbench.metric_names.VALIDATION_EPOCH`): the finished epochs plus the part of the
        current one its batches so far make up (``1.5`` halfway through the second epoch)."""
        trainer = self.trainer
        batches = trainer.num_training_batches
        done = batches_done_in_epoch(trainer)
        if done is None or not 0 < done < batches or batches == float("inf"):  # an epoch's end
            return float(trainer.current_epoch + 1)
        return trainer.current_epoch + done / batches

    def log_epoch(self, values: Mapping[str, torch.Tensor]) -> None:
        """Log one epoch's metrics: loggers, callbacks and the progress bar see them all.

        ``batch_size=1``: one epoch value each (Lightning would otherwise weight it by the
        last batch's size, which can round it).
        """
        self.log_dict(dict(values), prog_bar=False, batch_size=1)

    # ------------------------------------------------------------------ optimization
    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optimizer_cfg, self.model)
        if self.scheduler_cfg is None:
            return optimizer
        trainer = self.trainer
        scheduler = build_scheduler(
            self.scheduler_cfg,
            optimizer,
            max_epochs=trainer.max_epochs,
            total_steps=int(self.total_optimizer_steps()),
            monitor=self.scheduler_monitor,
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def total_optimizer_steps(self) -> int | float:
        """How many optimizer steps the fit makes (a one-cycle schedule spans them)."""
        return self.trainer.estimated_stepping_batches

    # --- checkpoint hooks: plain lists, numbers and tensors only (weights_only=True loads) ---
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # JSON text: pickling a string is one object, the floats of a long history thousands.
        checkpoint[HISTORY_KEY] = self._history_text.dumps(self.history)
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
        # The epoch's starting learning rate, for train/lr of an epoch resumed within it.
        checkpoint[EPOCH_LR_KEY] = self._epoch_lr
        # The processes that share each epoch's batches: a one-cycle schedule was built over
        # their steps, which a resume on other hardware (trainer.devices=auto) need not take.
        trainer = attached_trainer(self)  # none: a vectorized member (devices=1)
        checkpoint[PROCESSES_KEY] = 1 if trainer is None else int(trainer.world_size)
        if self.run_config_text is not None:
            checkpoint[RUN_CONFIG_KEY] = self.run_config_text

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = history(checkpoint)
        meta = checkpoint.get(METADATA_KEY) or {}
        if all(meta.get(key) is not None for key in DATA_KEYS):
            # a run resumed from an older checkpoint keeps its data module's fingerprints
            fingerprints = (self.preprocessing or {}).get(SPLITS_SHA256_KEY)
            self.preprocessing = {key: meta[key] for key in ("task", *DATA_KEYS)}
            if fingerprints is not None:
                self.preprocessing[SPLITS_SHA256_KEY] = fingerprints
            self.preprocessing.update(
                {
                    key: meta[key]
                    for key in (*OPTIONAL_DATA_KEYS, INPUT_SHAPE_KEY, SPLITS_SHA256_KEY)
                    if meta.get(key) is not None
                }
            )
        trainer = attached_trainer(self)
        resuming = trainer is not None and trainer.state.fn == "fit"
        if resuming and RNG_KEY in checkpoint:
            restore_rng_states(checkpoint[RNG_KEY])
        if resuming:
            self._epoch_lr = checkpoint.get(EPOCH_LR_KEY)
