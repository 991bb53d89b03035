"""A member's checkpoint, in the format of the checkpoint its run alone writes at that point.

    >>> save_checkpoint(member, "last", path, epoch=3, global_step=24)  # doctest: +SKIP

Beside the weights, hyper-parameters, history and metadata (what ``lossbench-eval`` and
``lossbench-predict`` read), it holds what ``Trainer.fit(ckpt_path=...)`` restores, each built
by the object a run alone builds it with:

- ``optimizer_states``: the member's slice of the stacked optimizer state, put into the
  member's own ``torch.optim`` optimizer (:func:`lossbench.optim.build_optimizer`, as its run
  alone builds it: parameter groups, learning rate, weight decay, ``fused``), whose
  ``state_dict()`` is stored;
- ``lr_schedulers``: none (members have no scheduler);
- ``loops``: the group Trainer's loop progress at the member's epoch end (the group counts
  epochs and optimizer steps as its run alone does), or at the fit's end for ``last.ckpt`` of
  ``checkpoint.write=at_end`` (:func:`lossbench.lightning_internals.loops_after_fit`), with
  the step Lightning logs at set to the member's optimizer steps
  (:func:`lossbench.lightning_internals.loops_with_logging_step`: the group counts one an
  epoch);
- ``callbacks``: the ``state_dict()`` of the run alone's ``ModelCheckpoint``
  (:func:`lossbench.callbacks.run_checkpoint`, given the member's best epoch and score) and of
  the member's own ``EarlyStopping``, keyed by their ``state_key``;
- ``lossbench_rng``: the process's generator states when the files are written (a run alone
  saves those of the epoch's end); members have no dropout, so nothing they train draws from
  them;
- ``lossbench_epoch_lr``: the member's learning rate (the rate at its epochs' start);
- ``lossbench_processes``: 1 (a group trains in one process, trainer.devices=1).

So a member's ``last.ckpt`` (or best checkpoint) resumes as the run alone's does:
``lossbench-train <its overrides> trainer.max_epochs=<more> ckpt_path=<file>``
(``tests/test_vectorized_resume.py`` compares both, key by key and by the resumed results).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from lossbench.callbacks import run_checkpoint
from lossbench.checkpoint_format import (
    CALLBACKS_KEY,
    DATA_HPARAMS_KEY,
    DATA_HPARAMS_NAME_KEY,
    EPOCH_KEY,
    GLOBAL_STEP_KEY,
    HPARAMS_KEY,
    HPARAMS_NAME_KEY,
    LOOPS_KEY,
    LR_SCHEDULERS_KEY,
    OPTIMIZER_STATES_KEY,
    VERSION_KEY,
    WEIGHTS_KEY,
)
from lossbench.data.datamodule import data_hyperparameters
from lossbench.lightning_internals import loops_after_fit, loops_with_logging_step
from lossbench.optim import build_optimizer
from lossbench.vectorized.members import Member, TrainingState


def save_checkpoint(
    member: Member,
    kind: str,
    path: Path,
    *,
    weights: dict[str, torch.Tensor],
    training: TrainingState | None,
    history: dict[str, list[float]],
    epoch: int,
    global_step: int,
) -> None:
    """Write the member's ``kind`` checkpoint (``best`` or ``last``) to ``path``.

    ``training`` None (the fit stopped with an error before the epoch's end): weights,
    hyper-parameters, history and metadata only, which evaluate and predict but do not resume.
    """
    module = member.module
    # The entries in the order Lightning's dump_checkpoint writes them.
    checkpoint: dict[str, Any] = {
        EPOCH_KEY: epoch,
        GLOBAL_STEP_KEY: global_step,
        VERSION_KEY: lightning.__version__,
        WEIGHTS_KEY: {k: v.cpu() for k, v in weights.items()},
    }
    if training is not None and training.loops is not None:
        at_end = kind == "last" and member.cfg.checkpoint.write == "at_end"
        loops = loops_after_fit(training.loops) if at_end else training.loops
        # the group counts one Lightning batch an epoch; Lightning logs at the optimizer steps
        checkpoint[LOOPS_KEY] = loops_with_logging_step(loops, global_step)
        checkpoint[CALLBACKS_KEY] = callback_states(member, kind, training)
        state = optimizer_state(member, training)
        checkpoint[OPTIMIZER_STATES_KEY] = [move_data_to_device(state, torch.device("cpu"))]
        checkpoint[LR_SCHEDULERS_KEY] = []
    checkpoint[HPARAMS_NAME_KEY] = "kwargs"
    checkpoint[HPARAMS_KEY] = dict(module.hparams)
    checkpoint[DATA_HPARAMS_NAME_KEY] = None  # as Lightning writes it for the data module's
    checkpoint[DATA_HPARAMS_KEY] = data_hyperparameters(member.cfg.data, member.cfg.seed)
    saved = module.history
    module.history = history
    module._epoch_lr = member.lr  # a member's rate is constant (no scheduler)
    module.on_save_checkpoint(checkpoint)
    module.history = saved
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".ckpt.partial")
    torch.save(checkpoint, partial)
    partial.replace(path)


def optimizer_state(member: Member, training: TrainingState) -> dict[str, Any]:
    """The ``state_dict()`` of the member's own ``torch.optim`` optimizer holding its slice of
    the stacked state: what its run alone's optimizer holds after the same steps."""
    model = member.module.model
    optimizer = build_optimizer(member.cfg.optimizer, model)
    if not training.optimizer:  # no step yet (or SGD without momentum): no state, as torch
        return optimizer.state_dict()
    names = {id(p): name for name, p in model.named_parameters()}
    split = {key: training.parameters(row) for key, row in training.optimizer.items()}
    counted = member.cfg.optimizer.name in ("adam", "adamw")  # SGD keeps no step count
    # In the parameter groups' order (weights, then biases), as torch's first step fills it.
    for group in optimizer.param_groups:
        for param in group["params"]:
            name = names[id(param)]
            entry: dict[str, Any] = {}
            if counted:  # torch keeps Adam's step as a float32 scalar tensor
                entry["step"] = torch.tensor(float(training.optimizer_steps), dtype=torch.float32)
            optimizer.state[param] = entry | {key: parts[name] for key, parts in split.items()}
    return optimizer.state_dict()


def callback_states(member: Member, kind: str, training: TrainingState) -> dict[str, Any]:
    """The ``callbacks`` entry: the state of the run alone's ``ModelCheckpoint`` and, with
    early stopping, of the member's ``EarlyStopping``, as saved at that point."""
    cfg = member.cfg
    callback = run_checkpoint(
        dirpath=str(member.output_dir / "checkpoints"),
        monitor=cfg.checkpoint.monitor,
        mode=cfg.checkpoint.mode,
        save_last=cfg.checkpoint.save_last,
        write=cfg.checkpoint.write,
        optimized_metric=cfg.optimized_metric,
    )
    best_epoch, value = training.best
    best = callback.format_checkpoint_name({"epoch": best_epoch})
    callback.best_k_models = {best: value}
    callback.kth_best_model_path = callback.best_model_path = best
    callback.kth_value = callback.best_model_score = callback.current_score = value
    # last_model_path as the run alone's callback holds it when it saves this checkpoint:
    # every_epoch sets it at each epoch's end after the best checkpoint is saved (last.ckpt
    # of an improving epoch is a copy of it); at_end only when writing last.ckpt.
    if cfg.checkpoint.save_last:
        name = callback.CHECKPOINT_NAME_LAST + callback.FILE_EXTENSION
        written = training.epoch > 0 if cfg.checkpoint.write == "every_epoch" else kind == "last"
        if written:
            callback.last_model_path = os.path.join(callback.dirpath, name)
    states = {}  # in the run alone's order: Lightning puts checkpoint callbacks last
    if member.early_stop is not None and training.early_stopping is not None:
        states[member.early_stop.state_key] = training.early_stopping
    states[callback.state_key] = callback.state_dict()
    return states
