"""lossbench-train's config of one run as Hydra composes it, without Hydra's node
(:func:`job_config`): for the ``make_cfg`` fixture and for module-scoped fixtures and cached
functions, which cannot use a function-scoped fixture. ``FAST`` holds the overrides that keep a
test's run short and quiet."""

from __future__ import annotations

import warnings

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from lossbench.train import config_dir

#: Two epochs, no progress bar, model summary or logger: ``job_config(..., fast=True)``.
FAST = (
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "logger=none",
)


def job_config(*overrides: str, fast: bool) -> DictConfig:
    """The config of a run of ``overrides`` (after :data:`FAST` where ``fast``, so an override
    of the same key wins): ``configs/train.yaml`` composed without Hydra's node, its warnings
    silenced; the compose API's app is closed again when it returns."""
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return compose("train", overrides=[*(FAST if fast else ()), *overrides])
