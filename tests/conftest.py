"""Shared fixtures: compose real configs with Hydra's compose API."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from lossbench.config import register_configs
from lossbench.train import config_dir, quiet_lightning

FAST = (
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "logger=none",
)


@pytest.fixture(scope="session", autouse=True)
def _registered() -> None:
    register_configs()
    quiet_lightning()


@pytest.fixture
def make_cfg() -> Callable[..., DictConfig]:
    """``make_cfg("data=iris", ...)`` composes ``configs/train.yaml`` with overrides."""

    def make(*overrides: str, fast: bool = True) -> DictConfig:
        with (
            initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            return compose("train", overrides=[*(FAST if fast else ()), *overrides])

    return make
