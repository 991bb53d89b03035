"""Hydra callbacks: refuse a bad single run before Hydra creates its output directory.

``configs/train.yaml`` registers :class:`ValidateBeforeRun` under ``hydra.callbacks``. In a
multirun each job validates itself instead, so that a refused job is recorded in its own
directory (``metrics.json`` with status ``failed`` and ``refused: true``) and the other jobs
still run.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import format_warning, refusing


class ValidateBeforeRun(Callback):
    """Run :func:`lossbench.train.preflight` in ``on_run_start`` (config, seed, hardware, data
    file and splits); a refusal exits 2 with the message, before anything is written."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench.train import preflight

        warnings.formatwarning = format_warning  # type: ignore[assignment]
        run_dir = Path(str(OmegaConf.select(config, "hydra.run.dir", default="")))
        with refusing(), warnings.catch_warnings():  # the run shows warnings once, when it starts
            warnings.simplefilter("ignore")
            preflight(config, run_dir)
