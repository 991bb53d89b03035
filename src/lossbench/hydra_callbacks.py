"""Hydra callbacks: refuse a bad single run before Hydra creates its output directory.

``configs/train.yaml`` registers :class:`ValidateBeforeRun` under ``hydra.callbacks``. In a
multirun each job validates itself instead, so that a refused job is recorded in its own
directory (``metrics.json`` with status ``failed``) and the other jobs still run.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lossbench.validation import ConfigError, validate


def format_warning(message: Any, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"lossbench: warning: {message}\n"


class ValidateBeforeRun(Callback):
    """Validate the composed config in ``on_run_start``; exit 2 with the message if refused."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        warnings.formatwarning = format_warning  # type: ignore[assignment]
        try:
            with warnings.catch_warnings():  # the run itself shows warnings once, when it starts
                warnings.simplefilter("ignore")
                validate(config)
        except ConfigError as error:
            print(f"lossbench: refused: {error}", file=sys.stderr)
            sys.exit(2)
