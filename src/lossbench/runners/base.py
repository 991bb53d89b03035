"""The runner interface and the epoch runner's limits; no torch or Lightning import (config
validation reads it). See :mod:`lossbench.runners`.

    >>> RUNNERS
    ('auto', 'lightning', 'epoch')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from lossbench.data.datamodule import ClassificationDataModule
    from lossbench.module import ClassifierModule

#: The values of ``runner=``.
RUNNERS = ("auto", "lightning", "epoch")

#: Lightning's callbacks that work under automatic optimization only (the epoch runner steps
#: the optimizer itself, under manual optimization), by class name, and why.
AUTOMATIC_OPTIMIZATION_CALLBACKS = {
    "GradientAccumulationScheduler": "it schedules Lightning's gradient accumulation, which "
    "counts Lightning steps under automatic optimization",
}

#: Lightning's per-step training hooks, and what the epoch runner, whose one Lightning step is
#: a whole epoch of minibatches (manual optimization), makes of a callback's override of each:
#: a callback that overrides one acts, or logs, every step under Lightning's loop, so a run
#: with it takes that loop (:func:`step_hook_overrides` lists the callbacks known to be safe).
STEP_HOOKS = {
    "on_train_batch_start": "runs {hooks} once per epoch",
    "on_train_batch_end": "runs {hooks} once per epoch",
    "on_before_zero_grad": "never runs {hooks} (Lightning calls it under automatic "
    "optimization only)",
    "on_before_backward": "runs {hooks} every minibatch but logs what they log per step once "
    "per epoch",
    "on_after_backward": "runs {hooks} every minibatch but logs what they log per step once "
    "per epoch",
    "on_before_optimizer_step": "runs {hooks} every minibatch but logs what they log per step "
    "once per epoch",
}


def step_hook_overrides(callback: Any) -> list[str]:
    """The :data:`STEP_HOOKS` that ``callback`` overrides (against Lightning's ``Callback``),
    but for the callbacks known to act once per epoch as well as per step:

    - a progress bar (``ProgressBar``): its batch hooks only draw (lossbench's bars count
      minibatches, :class:`~lossbench.callbacks.EpochProgressBar`);
    - a ``Timer``: its ``on_train_batch_end`` checks the time only with ``interval="step"``,
      which :func:`epoch_obstacles` lists itself (``step_timer``);
    - a ``ModelCheckpoint`` (lossbench's checkpoint callbacks derive from it) that saves at
      epoch ends only, not ``every_n_train_steps`` or every ``train_time_interval``.

    A subclass of those is checked for the hooks it overrides itself. Lightning's
    ``LearningRateMonitor`` is not among them: whatever its ``logging_interval``, it logs from
    its per-step hooks (once per epoch under the epoch runner), and ``EMAWeightAveraging``
    updates its average every step.
    """
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar, Timer
    from lightning.pytorch.utilities.model_helpers import is_overridden

    from lossbench.lightning_internals import saves_within_epoch

    if isinstance(callback, ProgressBar):
        return []
    if saves_within_epoch(callback):
        return ["on_train_batch_end"]
    base = next((kind for kind in (Timer, ModelCheckpoint) if isinstance(callback, kind)), Callback)
    return [hook for hook in STEP_HOOKS if is_overridden(hook, callback, base)]


def _step_hooks_reason(name: str, hooks: list[str]) -> str:
    """Why the epoch runner cannot fit a run with callback ``name`` overriding ``hooks``."""
    grouped: dict[str, list[str]] = {}
    for hook in hooks:
        grouped.setdefault(STEP_HOOKS.get(hook, STEP_HOOKS["on_train_batch_end"]), []).append(hook)
    clauses = ", and ".join(why.format(hooks=", ".join(group)) for why, group in grouped.items())
    return (
        f"the {name} callback's {', '.join(hooks)} (Lightning's loop calls "
        f"{'it' if len(hooks) == 1 else 'them'} every step; the epoch runner, whose step is a "
        f"whole epoch, {clauses})"
    )


class Runner(Protocol):
    """How a run is fitted: build its module, say which loops run, fit it."""

    #: The value of ``runner=`` that selects this runner.
    name: str

    def build(
        self, cfg: DictConfig, datamodule: ClassificationDataModule, loss: Mapping[str, Any]
    ) -> ClassifierModule:
        """The module that ``cfg`` trains (``loss``: the resolved loss parameters)."""
        ...

    def loops(self, trainer: Any, module: ClassifierModule) -> dict[str, str]:
        """What ``metrics.json`` records: ``training_loop`` and ``validation_loop``."""
        ...

    def fit(
        self,
        trainer: Any,
        module: ClassifierModule,
        datamodule: ClassificationDataModule,
        *,
        ckpt_path: Any = None,
    ) -> None:
        """Fit ``module`` on ``datamodule`` with ``trainer`` (resuming from ``ckpt_path``)."""
        ...


def epoch_obstacles(settings: Mapping[str, Any]) -> list[str]:
    """Why the epoch runner cannot fit a run with ``settings``, one reason each (none: it can).

    ``settings``: ``optimizer`` (its name) and the ``trainer.*`` values ``gradient_clip_val``,
    ``limit_train_batches``, ``accumulate_grad_batches``, ``overfit_batches``, ``fast_dev_run``,
    ``max_steps``, ``max_time``, ``val_check_interval``, ``check_val_every_n_epoch`` and
    ``world_size`` (processes), ``step_timer``: whether a ``Timer`` callback checks its time
    after every step (``interval="step"``, its default), and ``callbacks``: the names of the
    Lightning classes the run's callbacks are or derive from
    (:data:`AUTOMATIC_OPTIMIZATION_CALLBACKS`), and ``step_callbacks``: for each callback
    class name, the per-step hooks it overrides (:func:`step_hook_overrides`); a missing value
    is Lightning's default, and so is None for every key but ``check_val_every_n_epoch`` (None
    there: validate every ``val_check_interval`` batches, counted across epochs).

    A time limit (``trainer.max_time``, a step ``Timer``) is checked by Lightning after every
    step, which here is a whole epoch: the epoch runner would stop only at an epoch's end,
    where Lightning's loop stops within the epoch (and writes its ``last.ckpt`` there), so
    such a run takes Lightning's loop, as ``trainer.max_steps`` does.

        >>> epoch_obstacles({"optimizer": "adam"})
        []
        >>> epoch_obstacles({"optimizer": "lbfgs", "world_size": 2})[1]
        'world_size=2 (DDP runs one backward per forward of the wrapped model)'
        >>> epoch_obstacles({"max_steps": 4, "val_check_interval": 1.0})
        ['trainer.max_steps=4 (the epoch runner stops only at the end of an epoch)']
        >>> epoch_obstacles({"max_time": "00:00:10:00", "step_timer": True})[0][:40]
        'trainer.max_time=00:00:10:00 (Lightning '
        >>> epoch_obstacles({"callbacks": {"GradientAccumulationScheduler", "Callback"}})[0][:50]
        "Lightning's GradientAccumulationScheduler callback"
        >>> ema = {"EMAWeightAveraging": ["on_train_batch_end"]}
        >>> print(epoch_obstacles({"step_callbacks": ema})[0])  # doctest: +NORMALIZE_WHITESPACE
        the EMAWeightAveraging callback's on_train_batch_end (Lightning's loop calls it every
        step; the epoch runner, whose step is a whole epoch, runs on_train_batch_end once per
        epoch)
    """
    max_steps = settings.get("max_steps")
    max_time = settings.get("max_time")
    timed = (
        "Lightning checks the time after every step, and the epoch runner's step is a "
        "whole epoch: it would stop only at an epoch's end"
    )
    interval = settings.get("val_check_interval")
    checks = [
        (
            settings.get("optimizer") == "lbfgs",
            "optimizer=lbfgs (it needs Lightning's closure, which re-evaluates the step)",
        ),
        (
            (settings.get("world_size") or 1) > 1,
            f"world_size={settings.get('world_size')} "
            "(DDP runs one backward per forward of the wrapped model)",
        ),
        (
            settings.get("gradient_clip_val") is not None,
            "trainer.gradient_clip_val (Lightning clips under automatic optimization only)",
        ),
        (
            (settings.get("accumulate_grad_batches") or 1) != 1,
            "trainer.accumulate_grad_batches (it counts Lightning steps, one per epoch here)",
        ),
        (
            settings.get("limit_train_batches") is not None,
            "trainer.limit_train_batches (it counts Lightning steps, one per epoch here)",
        ),
        (
            bool(settings.get("overfit_batches")),
            "trainer.overfit_batches (it counts Lightning steps, one per epoch here)",
        ),
        (
            bool(settings.get("fast_dev_run")),
            "trainer.fast_dev_run (it counts Lightning steps, one per epoch here)",
        ),
        (
            max_steps not in (None, -1),
            f"trainer.max_steps={max_steps} (the epoch runner stops only at the end of an epoch)",
        ),
        (
            max_time is not None,
            f"trainer.max_time={max_time} ({timed})",
        ),
        (
            max_time is None and bool(settings.get("step_timer")),
            f"a Timer callback with interval=step ({timed})",
        ),
        (
            # Lightning's default; an int counts batches (1: validate after every batch)
            interval is not None and not (type(interval) is float and interval == 1.0),
            f"trainer.val_check_interval={interval} (it validates within an epoch, which the "
            "epoch runner presents to Lightning as one batch)",
        ),
        (
            "check_val_every_n_epoch" in settings and settings["check_val_every_n_epoch"] is None,
            "trainer.check_val_every_n_epoch=null (it counts batches across epochs, one per "
            "epoch here)",
        ),
    ]
    callbacks = settings.get("callbacks") or ()
    checks += [
        (name in callbacks, f"Lightning's {name} callback ({why})")
        for name, why in AUTOMATIC_OPTIMIZATION_CALLBACKS.items()
    ]
    checks += [
        (bool(hooks), _step_hooks_reason(name, list(hooks)))
        for name, hooks in sorted((settings.get("step_callbacks") or {}).items())
    ]
    return [reason for failed, reason in checks if failed]


def lbfgs_accumulation_refusal(settings: Mapping[str, Any], batch_size: int | None) -> str | None:
    """Why a run with ``settings`` (:func:`trainer_settings`) and ``data.batch_size`` cannot
    train, under any runner: L-BFGS on mini-batches with gradient accumulation
    (``trainer.accumulate_grad_batches`` above 1, or Lightning's ``GradientAccumulationScheduler``
    callback); None where it can. Lightning evaluates L-BFGS's closure on the last batch of
    each window only, and zeroes the gradients at the window's first batch only: the line
    search's re-evaluations add their gradients to the earlier ones, so the step follows no
    batch's gradient. Full batch (``data.batch_size=null``) has one batch an epoch, which
    steps alone: nothing is accumulated.

        >>> settings = {"optimizer": "lbfgs", "accumulate_grad_batches": 2}
        >>> lbfgs_accumulation_refusal(settings, 32)[:40]
        'optimizer=lbfgs with data.batch_size=32 '
        >>> lbfgs_accumulation_refusal(settings, None)  # full batch
    """
    if settings.get("optimizer") != "lbfgs" or batch_size is None:
        return None
    accumulate = settings.get("accumulate_grad_batches") or 1
    scheduled = "GradientAccumulationScheduler" in (settings.get("callbacks") or ())
    if accumulate == 1 and not scheduled:
        return None
    what = (
        f"trainer.accumulate_grad_batches={accumulate}"
        if accumulate != 1
        else "Lightning's GradientAccumulationScheduler callback"
    )
    return (
        f"optimizer=lbfgs with data.batch_size={batch_size} cannot accumulate gradients "
        f"({what}): Lightning runs L-BFGS's closure on the last batch of each window only, "
        "without zeroing the gradients between its evaluations, so the step would follow the "
        "earlier batches' gradients plus every re-evaluation's. Use "
        "trainer.accumulate_grad_batches=1 (no accumulation callback), or full batch "
        "(data.batch_size=null: one batch an epoch, nothing to accumulate)."
    )


def refuse_epoch_message(reasons: list[str]) -> str:
    """The refusal of ``runner=epoch`` for ``reasons`` (:func:`epoch_obstacles`)."""
    return (
        f"runner=epoch cannot honour {'; '.join(reasons)}: it runs a whole epoch of "
        "minibatches in one Lightning step with its own optimizer steps. Use runner=auto (the "
        "epoch runner where it applies, else Lightning's loop) or runner=lightning; valid "
        f"runners: {', '.join(RUNNERS)}."
    )


def trainer_settings(cfg: DictConfig, trainer: Any) -> dict[str, Any]:
    """The settings :func:`epoch_obstacles` reads, as ``trainer`` resolved them."""
    from lossbench.lightning_internals import (  # Lightning is loaded
        checks_time_every_step,
        validation_time_interval,
    )

    # A time (val_check_interval="00:00:01:00") is kept apart, without val_check_interval.
    interval = validation_time_interval(trainer) or getattr(trainer, "val_check_interval", None)
    return {
        "optimizer": cfg.optimizer.name,
        "gradient_clip_val": cfg.trainer.get("gradient_clip_val"),
        "limit_train_batches": cfg.trainer.get("limit_train_batches"),
        "accumulate_grad_batches": trainer.accumulate_grad_batches,
        "overfit_batches": trainer.overfit_batches,
        "fast_dev_run": trainer.fast_dev_run,
        "max_steps": trainer.max_steps,
        "max_time": cfg.trainer.get("max_time"),
        "step_timer": any(checks_time_every_step(callback) for callback in trainer.callbacks),
        "val_check_interval": interval,
        "check_val_every_n_epoch": trainer.check_val_every_n_epoch,
        "world_size": trainer.world_size,
        "callbacks": {
            base.__name__
            for callback in trainer.callbacks
            for base in type(callback).__mro__
            if base.__module__.startswith("lightning.")
        },
        "step_callbacks": {
            type(callback).__name__: hooks
            for callback in trainer.callbacks
            if (hooks := step_hook_overrides(callback))
        },
    }
