"""Shared fixtures: compose real configs with Hydra's compose API."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator

import pytest
from omegaconf import DictConfig

from job_configs import job_config
from lossbench.config import register_configs
from lossbench.train import quiet_lightning


@pytest.fixture(scope="session", autouse=True)
def _registered() -> None:
    register_configs()
    quiet_lightning()


@pytest.fixture(autouse=True)
def _stop_handlers_restored() -> Iterator[None]:
    """Each test leaves the Ctrl-C and SIGTERM handlers as it found them, whatever it ran:
    Lightning ignores Ctrl-C from a fit it stopped on (and never restores it), and a command
    run in-process sets its end-of-process handlers; a later test's signal in the same worker
    process would then do something else (a Ctrl-C ignored: the doctest of
    ``lossbench.interrupts.stops_held`` failed so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        if handler is not None:
            signal.signal(signum, handler)


@pytest.fixture(autouse=True)
def _root_level_restored() -> Iterator[None]:
    """Each test leaves the root logger's level as it found it: a sweep run in-process sets
    Hydra's job logging (root at INFO), and a later test in the same worker process would then
    capture INFO lines from outside its own ``caplog.at_level`` block."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.fixture
def make_cfg() -> Callable[..., DictConfig]:
    """``make_cfg("data=iris", ...)`` composes ``configs/train.yaml`` with overrides, after
    ``job_configs.FAST`` unless ``fast=False`` (:func:`job_configs.job_config`)."""

    def make(*overrides: str, fast: bool = True) -> DictConfig:
        return job_config(*overrides, fast=fast)

    return make
