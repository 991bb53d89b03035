"""lossbench-train's config of a multirun as Hydra composes it before the sweep, Hydra's node
included (:func:`multirun_config`): for tests of the checks that run as a multirun starts, and
of what a multirun's ``hydra`` node holds (its sweeper and swept values, launcher, callbacks,
sweep folder)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, read_write

from lossbench.train import config_dir

#: A short Optuna search's settings on the command line: tiny data, one epoch, no logger, two
#: trials, its folder ``search/`` in the current directory.
QUICK_SEARCH = (
    "data=synthetic_binary",
    "data.n_samples=200",
    "trainer.max_epochs=1",
    "logger=none",
    "hydra.sweeper.n_trials=2",
    "hydra.sweep.dir=search",
)


def multirun_config(fixed: Sequence[str] = (), swept: Sequence[str] = ()) -> DictConfig:
    """The config of a multirun of ``fixed`` and ``swept`` overrides: composed with ``fixed``
    (and Hydra's node), the swept ones recorded in ``hydra.overrides.task`` as Hydra records
    the command line, not composed; the compose API's app is closed again when it returns."""
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        cfg = compose("train", overrides=list(fixed), return_hydra_config=True)
    with read_write(cfg.hydra):
        cfg.hydra.overrides.task.extend(swept)
    return cfg
