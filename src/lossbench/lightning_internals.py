"""Every private Lightning name lossbench uses, each behind a small function with its reason.

Lightning's underscore names can change in any minor release. lossbench reaches for a few, for
speed (the epoch runner, :mod:`lossbench.runners.epoch`), for its DDP launcher
(:mod:`lossbench.distributed`), for its checkpoint callback (:mod:`lossbench.callbacks`) and for
the checkpoints of vectorized members (:mod:`lossbench.vectorized.checkpoints`);
nowhere else in ``src/`` names them (``tests/test_architecture.py`` checks). Each function
reads defensively where it can (``getattr`` with a default) and says what lossbench falls back
to when the name is gone. Each was checked against Lightning 2.6.6, the version installed
when they were gathered here (``pyproject.toml`` allows ``lightning>=2.3,<3``): check them
again when Lightning moves.

When upgrading Lightning, run ``tests/test_fast_path.py``, ``tests/test_ddp.py``,
``tests/test_resume.py``, ``tests/test_vectorized_resume.py`` and ``tests/test_logged_steps.py``:
they exercise each name here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

# Lightning's launcher for ``strategy=ddp`` that re-runs ``sys.argv`` in each extra process;
# lossbench's DDP launcher (lossbench.distributed.RunDirLauncher) subclasses it to start the
# children on rank 0's config and run directory instead. Private module since Lightning 2.0.
from lightning.pytorch.strategies.launchers.subprocess_script import (
    _SubprocessScriptLauncher as SubprocessScriptLauncher,
)

__all__ = [
    "CheckpointWriter",
    "SubprocessScriptLauncher",
    "acts_at_validation_end",
    "advance_logging_step",
    "align_logging_step",
    "attached_trainer",
    "batches_within_epoch",
    "can_stop_early",
    "check_can_spawn_children",
    "continue_step_count",
    "drop_unset_wandb_anonymous",
    "dump_checkpoint",
    "early_stopping_check",
    "epoch_batches_done",
    "epochs_processed",
    "loop_states",
    "loops_after_fit",
    "loops_with_logging_step",
    "manual_step_progress",
    "open_wandb_run",
    "resume_after_epoch_end",
    "saves_within_epoch",
    "set_callback_metrics",
    "set_launcher",
    "sigterm_without_collective",
    "subprocess_launcher",
    "validation_time_interval",
    "write_hparams_session",
]


def attached_trainer(module: Any) -> Any | None:
    """The Trainer ``module`` is attached to, or None.

    ``LightningModule.trainer`` raises when the module is not attached (a module rebuilt from a
    checkpoint for prediction); ``_trainer`` is the attribute behind it (checked: Lightning
    2.6.6).
    """
    return getattr(module, "_trainer", None)


def validation_time_interval(trainer: Any) -> Any | None:
    """``Trainer(val_check_interval=<a time>)``'s interval, None when validation is not timed.

    Set by Lightning's trainer setup (``trainer._val_check_time_interval``, checked: Lightning
    2.6.6); a version without timed validation lacks it, hence the default None.
    """
    return getattr(trainer, "_val_check_time_interval", None)


def checks_time_every_step(callback: Any) -> bool:
    """Whether ``callback`` is a ``Timer`` with a duration that checks it after every training
    step (``Timer._interval == "step"``, its default; ``trainer.max_time`` adds one such, checked:
    Lightning 2.6.6); a ``Timer`` of another layout counts as one."""
    from lightning.pytorch.callbacks import Timer

    if not isinstance(callback, Timer) or getattr(callback, "_duration", 0) is None:
        return False
    return getattr(callback, "_interval", "step") == "step"  # a str enum


def acts_at_validation_end(callback: Callback) -> bool:
    """Whether Lightning's own ``ModelCheckpoint`` / ``EarlyStopping`` act at validation end.

    They act at the training epoch's end unless told otherwise
    (``save_on_train_epoch_end=False`` / ``check_on_train_epoch_end=False``); Lightning keeps
    the resolved choice only in ``_save_on_train_epoch_end`` / ``_check_on_train_epoch_end``
    (checked: Lightning 2.6.6). A missing attribute reads as "at the training epoch's end", the
    default.
    """
    if isinstance(callback, ModelCheckpoint):
        return getattr(callback, "_save_on_train_epoch_end", None) is False
    if isinstance(callback, EarlyStopping):
        return getattr(callback, "_check_on_train_epoch_end", None) is False
    return False


def saves_within_epoch(callback: Callback) -> bool:
    """Whether ``callback`` is a ``ModelCheckpoint`` that saves from its per-step hook
    (``on_train_batch_end``): every ``every_n_train_steps`` steps, or every
    ``train_time_interval``. Lightning keeps both only in ``_every_n_train_steps`` /
    ``_train_time_interval`` (checked: Lightning 2.6.6); a missing attribute reads as "saves
    within the epoch", which keeps Lightning's loop for the run.
    """
    if not isinstance(callback, ModelCheckpoint):
        return False
    steps = getattr(callback, "_every_n_train_steps", 1)
    return (steps or 0) >= 1 or getattr(callback, "_train_time_interval", 0) is not None


def manual_step_progress(trainer: Any) -> Any | None:
    """The counter behind ``trainer.global_step`` under manual optimization, or None.

    ``trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress`` (checked:
    Lightning 2.6.6): the epoch runner steps the raw optimizer itself and advances this counter as
    ``LightningOptimizer.step`` does. None (another layout) makes the runner keep Lightning's
    wrappers, with identical results.
    """
    epoch_loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    progress = getattr(
        getattr(epoch_loop, "manual_optimization", None), "optim_step_progress", None
    )
    ready = hasattr(progress, "increment_ready") and hasattr(progress, "increment_completed")
    return progress if ready else None


def continue_step_count(trainer: Any) -> None:
    """Carry the optimizer steps a restored fit has made over to the counter behind
    ``trainer.global_step`` for this fit's optimization. Call it from ``on_train_start``.

    Lightning counts the steps of automatic optimization (the ``lightning`` runner) in
    ``epoch_loop.automatic_optimization.optim_progress.optimizer.step`` and those of manual
    optimization (the ``epoch`` runner) in ``manual_step_progress`` (checked: Lightning 2.6.6);
    a checkpoint restores both, but only the runner that wrote it advanced its own. Resumed
    with the other runner (the runner may change), ``global_step`` started again from 0:
    the record's ``steps`` and the history's ``val/step`` counted only the resumed epochs.
    Both only grow, so the larger one is the fit's count. Without either counter nothing is
    done.
    """
    epoch_loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    progress = getattr(getattr(epoch_loop, "automatic_optimization", None), "optim_progress", None)
    step = getattr(getattr(progress, "optimizer", None), "step", None)
    manual = manual_step_progress(trainer)
    if step is None or manual is None or trainer.lightning_module is None:
        return
    automatic = trainer.lightning_module.automatic_optimization
    count, other = (step.total, manual.total) if automatic else (manual.total, step.total)
    if other.completed > count.completed:
        count.ready = count.completed = other.completed


def _logging_loop(trainer: Any) -> Any | None:
    """The training epoch loop whose ``_batches_that_stepped`` is the step Lightning's loggers
    log at, or None where it has none (checked: Lightning 2.6.6)."""
    epoch_loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    return (
        epoch_loop if isinstance(getattr(epoch_loop, "_batches_that_stepped", None), int) else None
    )


def advance_logging_step(trainer: Any, steps: int) -> None:
    """Count ``steps`` more optimizer steps in the step Lightning logs at.

    ``trainer.fit_loop.epoch_loop._batches_that_stepped`` (checked: Lightning 2.6.6) is the
    step of every metric logged through Lightning (``self.log`` in a hook,
    ``LearningRateMonitor``, ``DeviceStatsMonitor``) and is saved in checkpoints with the
    loops; Lightning's loop adds 1 after each training batch that stepped the optimizer. The
    epoch runner's one batch is a whole epoch of steps: it adds the others (all but the last,
    which Lightning adds), so the counter stays the optimizer steps taken, ``global_step``, as
    under Lightning's loop. Nothing is done where the counter is gone.
    """
    loop = _logging_loop(trainer)
    if loop is not None and steps:
        loop._batches_that_stepped += steps


def align_logging_step(trainer: Any) -> None:
    """Make the step Lightning logs at (:func:`advance_logging_step`) ``trainer.global_step``
    where it is not. Call it at an epoch's start, where Lightning's loop has counted every
    optimizer step in it (one optimizer, one step per batch that stepped).

    Checkpoints of the epoch runner written before it counted its steps there (and those of
    vectorized members) hold the epochs trained instead: a fit resumed from one, under either
    runner, logged its epochs at steps that the checkpoint's run had logged at already.
    """
    loop = _logging_loop(trainer)
    step = getattr(trainer, "global_step", None)
    if loop is not None and isinstance(step, int) and loop._batches_that_stepped != step:
        loop._batches_that_stepped = step


def loops_with_logging_step(loops: dict[str, Any], step: int) -> dict[str, Any]:
    """``loops`` (:func:`loop_states`) with the step Lightning logs at
    (:func:`advance_logging_step`) set to ``step``, as a copy: the ``_batches_that_stepped``
    of the fit loop's ``epoch_loop.state_dict`` (checked: Lightning 2.6.6). A vectorized group
    counts one Lightning batch per epoch; its member's checkpoint holds the member's optimizer
    steps, as its run alone's does. ``loops`` as they are where the entry is missing.
    """
    state = loops.get("fit_loop", {}).get("epoch_loop.state_dict")
    if not isinstance(state, dict) or "_batches_that_stepped" not in state:
        return loops
    counted = copy.copy(loops)
    counted["fit_loop"] = {**loops["fit_loop"], "epoch_loop.state_dict": {**state}}
    counted["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"] = step
    return counted


def batches_done_in_epoch(trainer: Any) -> int | None:
    """The training batches of the current epoch done so far, or None where the loop does not
    say: ``trainer.fit_loop.epoch_loop.batch_idx + 1`` (checked: Lightning 2.6.6)."""
    batch_idx = getattr(
        getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None), "batch_idx", None
    )
    return batch_idx + 1 if isinstance(batch_idx, int) else None


def epoch_batches_done(trainer: Any) -> bool:
    """Whether the training epoch now ending ran all its batches: Lightning's own condition
    for stepping the epoch's schedulers at its end (``_FitLoop.on_advance_end`` asks
    ``trainer.fit_loop.epoch_loop._num_ready_batches_reached()``, checked: Lightning 2.6.6;
    false where ``trainer.max_steps`` ended the epoch early). Without it, the epoch's batches
    done (:func:`batches_done_in_epoch`) against ``trainer.num_training_batches``.
    """
    epoch_loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    reached = getattr(epoch_loop, "_num_ready_batches_reached", None)
    if reached is not None:
        return bool(reached())
    return batches_done_in_epoch(trainer) == trainer.num_training_batches


def set_callback_metrics(trainer: Any, values: Mapping[str, torch.Tensor]) -> bool:
    """Put epoch-level ``values`` into ``trainer.callback_metrics`` as
    ``LightningModule.log(key, value, logger=False, batch_size=1)`` from an epoch-end hook
    leaves them there; return False (nothing done) where Lightning keeps them elsewhere.

    ``self.log`` stores each value in the trainer's result collection: it moves the key's
    ``_ResultMetric`` (a torchmetrics ``Metric``) to the value's device, accumulates the value
    weighted by ``batch_size``, computes it into ``callback_metrics`` and resets it at the
    epoch's end: about 2.5 ms an epoch for one key (measured in a fresh ``lossbench-train``
    process), two optimizer steps of a 20-64-64-1 MLP at batch 1024. For one value per
    epoch with ``batch_size=1`` that computes the value itself, cast to the default dtype where
    it is neither float32 nor float64 (as ``_ResultMetric.update`` casts). The dictionary is
    ``trainer._logger_connector._callback_metrics`` (checked: Lightning 2.6.6), which
    ``trainer.callback_metrics`` returns when the result collection is empty, and which the
    trainer clears where it clears logged values (the start of a fit, around the sanity check).
    """
    callback_metrics = getattr(
        getattr(trainer, "_logger_connector", None), "_callback_metrics", None
    )
    if not isinstance(callback_metrics, dict):
        return False
    for key, value in values.items():
        value = value.detach()
        if value.dtype not in (torch.float32, torch.float64):
            value = value.to(torch.get_default_dtype())
        callback_metrics[key] = value
    return True


def dump_checkpoint(trainer: Any, weights_only: bool) -> dict[str, Any] | None:
    """The checkpoint dictionary Lightning would save now, or None.

    ``trainer._checkpoint_connector.dump_checkpoint`` (checked: Lightning 2.6.6) is what
    ``ModelCheckpoint`` serialises; ``checkpoint.write=at_end`` holds it in memory instead of
    writing it each improving epoch. None makes the callback write the file as usual.
    """
    dump = getattr(getattr(trainer, "_checkpoint_connector", None), "dump_checkpoint", None)
    return None if dump is None else dump(weights_only)


def loop_states(trainer: Any) -> dict[str, Any]:
    """The ``loops`` entry of the checkpoint Lightning would save now: the progress counters of
    the fit, validate, test and predict loops (epochs, batches, optimizer steps).

    ``trainer._checkpoint_connector._get_loops_state_dict()`` (checked: Lightning 2.6.6) is
    what ``dump_checkpoint`` stores; a vectorized group takes it at a member's epoch end, where
    its run alone would save (both fits run one Lightning step per epoch, manual optimization,
    no validation loop). Without it, the four loops' own ``state_dict()``, which it returns.
    """
    get = getattr(getattr(trainer, "_checkpoint_connector", None), "_get_loops_state_dict", None)
    if get is not None:
        return get()
    return {
        name: getattr(trainer, name).state_dict()
        for name in ("fit_loop", "validate_loop", "test_loop", "predict_loop")
    }


def loops_after_fit(loops: dict[str, Any]) -> dict[str, Any]:
    """``loops`` saved at a training epoch's end (:func:`loop_states`), as they stand when the
    fit ends after that epoch: a copy with the epoch counted completed, as
    ``_FitLoop.on_advance_end`` counts it before ``on_train_end`` (where
    ``checkpoint.write=at_end`` saves ``last.ckpt``). Unchanged where it is counted already.

    The fit loop's ``epoch_progress`` is a ``_Progress`` of ``lightning.pytorch.loops.progress``
    (private, checked: Lightning 2.6.6).
    """
    from lightning.pytorch.loops.progress import _Progress

    ended = copy.deepcopy(loops)
    fit = ended["fit_loop"]
    progress = _Progress.from_state_dict(fit["epoch_progress"])
    for tracker in (progress.current, progress.total):
        tracker.completed = tracker.processed
    fit["epoch_progress"] = progress.state_dict()
    return ended


def epochs_processed(checkpoint: Mapping[str, Any]) -> int:
    """The epochs whose training steps all ran before ``checkpoint`` was saved, from the fit
    loop's ``epoch_progress`` (0 where it has none): what a resumed run that trains no further
    epoch has trained. ``trainer.current_epoch`` says one less there, since Lightning counts
    an epoch saved at its end completed only once the resumed fit goes on (checked: Lightning
    2.6.6).

        >>> progress = {"total": {"processed": 89, "completed": 88}}
        >>> epochs_processed({"loops": {"fit_loop": {"epoch_progress": progress}}})
        89
        >>> epochs_processed({})
        0
    """
    try:
        total = checkpoint["loops"]["fit_loop"]["epoch_progress"]["total"]
        return int(total["processed"])
    except (KeyError, TypeError, ValueError):
        return 0


def batches_within_epoch(checkpoint: Mapping[str, Any]) -> int:
    """The training batches of its epoch that ``checkpoint`` was saved after, where it was
    saved within an epoch (at a validation before the epoch's end, or where
    ``trainer.max_steps`` ended the run): 0 for one saved at an epoch's end, and for one
    without the training loop's progress. From Lightning's ``epoch_loop.batch_progress``
    (checked: Lightning 2.6.6).

        >>> progress = {"current": {"completed": 42}, "is_last_batch": False}
        >>> batches_within_epoch({"loops": {"fit_loop": {"epoch_loop.batch_progress": progress}}})
        42
        >>> batches_within_epoch({"loops": {}})
        0
    """
    try:
        progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]
        done = int(progress["current"]["completed"])
        return 0 if progress.get("is_last_batch", True) else done
    except (KeyError, TypeError, ValueError):
        return 0


def resume_after_epoch_end(trainer: Any) -> None:
    """Continue a fit restored from a checkpoint saved after its epoch's last step (at the
    epoch's end: ``last.ckpt``, or a best checkpoint saved there) with the next epoch, also
    under ``trainer.max_steps``. Call it from ``on_train_start``.

    Without ``max_steps`` Lightning does so itself. With it (iteration-based training)
    ``_FitLoop`` restarts every restored fit (its ``restarting`` setter) and takes a
    checkpoint saved in ``on_train_epoch_end`` for one to finish: it ran that epoch's end
    again, without its steps (a second, empty ``on_train_epoch_end``: NaN training metrics in
    the history, early stopping failing on its missing monitor) and counted the epoch twice,
    so the resumed run trained one epoch less than the uninterrupted run (checked: Lightning
    2.6.6). Here, as without ``max_steps``: the epoch is counted completed and the loops do not
    restart (``_restarting``: the setter would keep it). A checkpoint saved within an epoch
    (a validation before its end) is left to Lightning's restart.
    """
    loop = getattr(trainer, "fit_loop", None)
    progress = getattr(loop, "epoch_progress", None)
    if progress is None or trainer.max_steps == -1 or not loop.restarting:
        return
    total = progress.total
    if not total.ready == total.started == total.processed:
        return  # within an epoch
    if total.completed == total.processed - 1:  # saved in on_train_epoch_end
        progress.increment_completed()
    loop.reset_restart_stage()
    loop.epoch_loop.reset_restart_stage()
    loop._restarting = False
    loop.epoch_loop.restarting = False  # and its validation loop


def can_stop_early(trainer: Any) -> bool:
    """Whether the fit may stop now that ``trainer.should_stop`` asks it to: its
    ``trainer.min_epochs`` and ``trainer.min_steps`` are met (``_FitLoop._can_stop_early``,
    checked: Lightning 2.6.6: the epochs processed, the current one included once its last
    batch is done, and the optimizer steps). Without a fit loop: True."""
    loop = getattr(trainer, "fit_loop", None)
    return True if loop is None else bool(loop._can_stop_early)


def early_stopping_check(callback: EarlyStopping, current: torch.Tensor, epoch: int) -> bool:
    """Whether ``callback`` stops the run after epoch ``epoch`` whose monitored value is
    ``current``: what ``EarlyStopping`` does at a training epoch's end, without a Trainer (a
    vectorized member keeps its run alone's ``EarlyStopping``, state included).

    ``EarlyStopping._evaluate_stopping_criteria`` (checked: Lightning 2.6.6) updates the wait
    count, best score and stopping reason; ``_run_early_stopping_check`` reads the value from
    the Trainer and then records the epoch and message, as done here.
    """
    should_stop, reason = callback._evaluate_stopping_criteria(current)
    if should_stop:
        callback.stopped_epoch = epoch
        callback.stopping_reason_message = reason
    return bool(should_stop)


def subprocess_launcher(strategy: Any) -> SubprocessScriptLauncher | None:
    """The strategy's launcher when it is exactly Lightning's subprocess launcher, else None.

    ``strategy._launcher`` (checked: Lightning 2.6.6) has no public accessor; lossbench replaces
    only this launcher (``strategy=ddp`` started from the command line).
    """
    launcher = getattr(strategy, "_launcher", None)
    return launcher if type(launcher) is SubprocessScriptLauncher else None


def check_can_spawn_children(launcher: SubprocessScriptLauncher) -> None:
    """Lightning's own refusal to start processes from a process that is not local rank 0
    (``_SubprocessScriptLauncher._check_can_spawn_children``, checked: Lightning 2.6.6)."""
    launcher._check_can_spawn_children()


def set_launcher(strategy: Any, launcher: Any) -> None:
    """Make ``strategy`` start its processes with ``launcher`` (``strategy._launcher``)."""
    strategy._launcher = launcher


def set_summary_writer_option(logger: Any, name: str, value: Any) -> bool:
    """Pass ``name=value`` to the ``SummaryWriter`` that a ``TensorBoardLogger`` has not yet
    created: its ``_kwargs``, which ``logger.experiment`` passes to the writer, and
    ``_experiment``, None until then (both checked: Lightning 2.6.6). False (nothing set)
    where the writer exists already or the names are gone."""
    kwargs = getattr(logger, "_kwargs", None)
    if not isinstance(kwargs, dict) or getattr(logger, "_experiment", True) is not None:
        return False
    kwargs[name] = value
    return True


def sigterm_without_collective(trainer: Any) -> bool:
    """Have ``trainer`` take SIGTERM as Lightning's ``_SignalConnector._sigterm_notifier_fn``
    does (pass it on to the child processes the launcher started; set ``received_sigterm``),
    without the ``torch.distributed.broadcast`` that Lightning 2.6 makes inside the signal
    handler. A collective in a handler deadlocks: the handler runs between two bytecodes of
    whatever rank 0 was doing, a metric's ``all_gather`` or a barrier say, while the other
    ranks wait in that collective, where their own handlers cannot run, so neither returns.
    The ranks still stop together: Lightning's training loop broadcasts rank 0's
    ``received_sigterm`` before every batch and raises ``SIGTERMException`` on all of them.
    Set as an attribute of the trainer's connector, which ``register_signal_handlers`` reads
    when a fit starts (checked: Lightning 2.6.6). False where the names are gone."""
    connector = getattr(trainer, "_signal_connector", None)
    if connector is None or not hasattr(connector, "_sigterm_notifier_fn"):
        return False

    def notify(signum: Any, frame: Any) -> None:
        if not connector.received_sigterm:
            launcher = trainer.strategy.launcher
            if launcher is not None:
                launcher.kill(signum)
        connector.received_sigterm = True

    connector._sigterm_notifier_fn = notify
    return True


def write_hparams_session(logger: Any, params: Mapping[str, Any], metrics: Any) -> None:
    """Write a TensorBoard HParams session of ``params`` whose metrics are the scalar tags
    ``metrics``, as ``TensorBoardLogger.log_hyperparams(params, metrics)`` writes it, but
    without logging the metrics' values once more at a step of their own: the HParams view
    reads each metric's value from the scalars of its tag, which the run has logged. Uses
    Lightning's ``_flatten_dict`` / ``_convert_params`` and the logger's ``_sanitize_params``,
    and ``SummaryWriter._get_file_writer()`` as that method does (checked: Lightning 2.6.6)."""
    from lightning.fabric.utilities.logger import _convert_params, _flatten_dict

    try:
        from torch.utils.tensorboard.summary import hparams
    except ImportError:  # tensorboardX alone, as Lightning allows
        from tensorboardX.summary import hparams  # type: ignore[no-redef]

    flat = logger._sanitize_params(_flatten_dict(_convert_params(dict(params))))
    summaries = hparams(flat, dict.fromkeys(metrics, 0.0))  # the values are not written
    writer = logger.experiment._get_file_writer()
    for summary in summaries:
        writer.add_summary(summary)


def drop_unset_wandb_anonymous(logger: Any) -> bool:
    """Keep a ``WandbLogger``'s ``anonymous=None`` out of the arguments it passes to
    ``wandb.init``: Lightning always passes ``anonymous`` (None where not asked for), and W&B
    (checked: 0.31) warns "The anonymous setting has no effect" for any value given, None too.
    Leaving it out is what None means. Reads ``logger._wandb_init`` (checked: Lightning
    2.6.6); False (nothing changed) where it is gone, holds no ``anonymous=None`` or the run
    has started already (``_experiment``)."""
    arguments = getattr(logger, "_wandb_init", None)
    if not isinstance(arguments, dict) or getattr(logger, "_experiment", None) is not None:
        return False
    if "anonymous" not in arguments or arguments["anonymous"] is not None:
        return False
    del arguments["anonymous"]
    return True


def open_wandb_run(logger: Any) -> Any | None:
    """The W&B run a ``WandbLogger`` has started, without starting one (``logger.experiment``
    would): ``logger._experiment`` (checked: Lightning 2.6.6)."""
    return getattr(logger, "_experiment", None)


class CheckpointWriter(ModelCheckpoint):
    """``ModelCheckpoint`` with its two private saving steps as overridable public methods.

    Lightning's ``ModelCheckpoint._save_checkpoint(trainer, filepath)`` writes one file and
    records it in ``_last_global_step_saved`` / ``_last_checkpoint_saved``;
    ``_save_last_checkpoint(trainer, monitor_candidates)`` decides on and writes
    ``last.ckpt`` (both checked: Lightning 2.6.6). Subclasses override :meth:`write_checkpoint`
    and :meth:`write_last_checkpoint` and read :attr:`saved_step` / :attr:`saved_path`.
    """

    def _save_checkpoint(self, trainer: Any, filepath: str) -> None:
        self.write_checkpoint(trainer, filepath)

    def _save_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        self.write_last_checkpoint(trainer, monitor_candidates)

    def write_checkpoint(self, trainer: Any, filepath: str) -> None:
        """Write the checkpoint of now to ``filepath`` (Lightning's own way)."""
        super()._save_checkpoint(trainer, filepath)

    def write_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        """Write ``last.ckpt`` where Lightning's ``save_last`` would."""
        super()._save_last_checkpoint(trainer, monitor_candidates)

    def mark_saved(self, trainer: Any, filepath: str) -> None:
        """Record ``filepath`` as saved at this global step, as a written file would be."""
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    @property
    def saved_step(self) -> int:
        """The global step of the last checkpoint saved (or held)."""
        return self._last_global_step_saved

    @property
    def saved_path(self) -> str:
        """The path of the last checkpoint saved (or held)."""
        return self._last_checkpoint_saved
