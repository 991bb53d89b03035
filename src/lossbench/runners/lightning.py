"""The ``lightning`` runner: ``Trainer.fit`` on the plain LightningModule.

    >>> runner = LightningRunner()
    >>> runner.name
    'lightning'

Every Lightning feature applies (callbacks, profilers, precision plugins, strategies, DDP);
the cost is Lightning's per-step loop around each minibatch (see :mod:`lossbench.runners`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.module import ClassifierModule, monitored_metrics


class LightningRunner:
    """Fits :class:`~lossbench.module.ClassifierModule` with ``trainer.fit``."""

    name = "lightning"

    def __init__(self, trainer: Any = None) -> None:
        self.trainer = trainer

    def build(
        self, cfg: DictConfig, datamodule: ClassificationDataModule, loss: Mapping[str, Any]
    ) -> ClassifierModule:
        callbacks = [] if self.trainer is None else self.trainer.callbacks
        monitored = monitored_metrics(cfg, callbacks, datamodule.task)
        return ClassifierModule.from_config(cfg, datamodule, loss=loss, callback_metrics=monitored)

    def loops(self, trainer: Any, module: ClassifierModule) -> dict[str, str]:
        return {"training_loop": "batch", "validation_loop": "lightning"}

    def fit(
        self,
        trainer: Any,
        module: ClassifierModule,
        datamodule: ClassificationDataModule,
        *,
        ckpt_path: Any = None,
    ) -> None:
        datamodule.epoch_batches = False  # one minibatch per Lightning step
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
