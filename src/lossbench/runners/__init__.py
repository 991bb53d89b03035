"""Runners: how a run's :class:`~lossbench.module.ClassifierModule` is fitted, chosen by
``runner=`` in the config.

    lossbench-train                        # runner=auto: the epoch runner where it applies
    lossbench-train runner=lightning       # Lightning's own loops, one step per minibatch
    lossbench-train runner=epoch           # the epoch runner, or a refusal saying why not

Every runner fits the same module (model body, head, loss, metrics, precision policy,
checkpoint hooks) with the same ``lightning.Trainer`` (its callbacks, loggers, checkpoints and
resume), and gives the same results; they differ only in how much of Lightning's per-step
machinery runs around each small step:

- ``lightning`` (:class:`~lossbench.runners.lightning.LightningRunner`): ``Trainer.fit`` on the
  plain LightningModule. Works with every callback, profiler, precision and strategy (DDP).
  ``metrics.json`` records ``training_loop: batch``, ``validation_loop: lightning``.
- ``epoch`` (:class:`~lossbench.runners.epoch.EpochRunner`): one Lightning step runs a whole
  epoch of minibatches (manual optimization), validates in place of Lightning's validation
  loop when nothing needs that loop's hooks, steps the optimizer directly when nothing needs
  Lightning's step wrappers, and hands the loggers every metric without Lightning's per-key
  bookkeeping. About 3-5x faster on the small models of the studies. It cannot honour what
  :func:`epoch_obstacles` lists (L-BFGS, DDP, gradient clipping, gradient accumulation and
  its scheduler callback, what counts Lightning steps, and a callback that overrides one of
  Lightning's per-step hooks, :data:`~lossbench.runners.base.STEP_HOOKS`, as
  ``EMAWeightAveraging`` and ``LearningRateMonitor`` do, but for the ones known to act per
  epoch: :func:`~lossbench.runners.base.step_hook_overrides`); ``runner=epoch`` with one of
  those is refused. Records
  ``training_loop: epoch`` and ``validation_loop: inline`` (or ``lightning``).
- ``auto`` (the default): ``epoch`` where :func:`epoch_obstacles` finds nothing, else
  ``lightning``.

A runner is small (:class:`Runner`): ``build`` the module from the config and data,
``loops`` for the record, ``fit`` with the Trainer. The private Lightning names the epoch
runner needs live in :mod:`lossbench.lightning_internals`.

**Vectorized training** (``hydra/launcher=vectorized``, :mod:`lossbench.vectorized`) is the
third way of fitting, one level up: it fits a *group* of runs at once, so it is a launcher
rather than a :class:`Runner` of one run. It follows the epoch runner's design (one
Lightning step per epoch, validation without Lightning's loop), builds each member's module
with :meth:`ClassifierModule.from_config <lossbench.module.ClassifierModule.from_config>`,
and reuses that module's head, loss, metrics (``evaluate_split``) and checkpoint hooks; each
member's record says ``training_loop: vectorized``. Which runs may group is
:func:`lossbench.vectorized.why_alone` (``runner=lightning`` never does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lossbench.errors import ConfigError
from lossbench.runners.base import (
    RUNNERS,
    Runner,
    epoch_obstacles,
    lbfgs_accumulation_refusal,
    refuse_epoch_message,
    trainer_settings,
)

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "RUNNERS",
    "Runner",
    "epoch_obstacles",
    "lbfgs_accumulation_refusal",
    "refuse_epoch_message",
    "select_runner",
    "trainer_settings",
]


def select_runner(cfg: DictConfig, trainer: Any) -> Runner:
    """The runner ``cfg.runner`` names for a fit with ``trainer``.

    Raises:
        lossbench.errors.ConfigError: ``runner=epoch`` with a setting it cannot honour, or
            L-BFGS on mini-batches with gradient accumulation (no runner can:
            :func:`lbfgs_accumulation_refusal`).
    """
    name = cfg.get("runner", "auto")
    settings = trainer_settings(cfg, trainer)
    refusal = lbfgs_accumulation_refusal(settings, cfg.data.get("batch_size"))
    if refusal is not None:
        raise ConfigError(refusal)
    reasons = epoch_obstacles(settings) if name != "lightning" else []
    if name == "epoch" and reasons:
        raise ConfigError(refuse_epoch_message(reasons))
    if name == "lightning" or reasons:
        from lossbench.runners.lightning import LightningRunner

        return LightningRunner(trainer)
    from lossbench.runners.epoch import EpochRunner

    return EpochRunner(trainer)
