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
    ``limit_train_batches``, ``accumulate_grad_batches``, ``overfit_batches``, ``fast_dev_run``
    and ``world_size`` (processes); a missing or None value is Lightning's default.

        >>> epoch_obstacles({"optimizer": "adam"})
        []
        >>> epoch_obstacles({"optimizer": "lbfgs", "world_size": 2})[1]
        'world_size=2 (DDP runs one backward per forward of the wrapped model)'
    """
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
    ]
    return [reason for failed, reason in checks if failed]


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
    return {
        "optimizer": cfg.optimizer.name,
        "gradient_clip_val": cfg.trainer.get("gradient_clip_val"),
        "limit_train_batches": cfg.trainer.get("limit_train_batches"),
        "accumulate_grad_batches": trainer.accumulate_grad_batches,
        "overfit_batches": trainer.overfit_batches,
        "fast_dev_run": trainer.fast_dev_run,
        "world_size": trainer.world_size,
    }
