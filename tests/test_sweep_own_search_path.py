"""The multirun checks compose a sweep's jobs from the multirun's own search path
(``hydra.runtime.config_sources``, :func:`lossbench.hydra_internals.sweep_config_loader`), not
from the Hydra app of the process (``GlobalHydra``): an earlier app in the same process (a test
suite, a notebook, ``hydra.main`` called twice) may have left another app's config folder set,
or none.

Each test composes a real config of lossbench-train with the multirun's command line recorded
as Hydra records it (``hydra.overrides.task``), then runs the check with an unrelated Hydra app
initialised (a folder with its own ``train.yaml`` and ``data/`` options), or with none."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from hydra import initialize_config_dir
from omegaconf import DictConfig

from lossbench.errors import ConfigError
from lossbench.hydra_callbacks import sweep_jobs, swept_overrides
from lossbench.search_check import check_search
from lossbench.train import config_dir
from multirun_configs import multirun_config

#: The Hydra app of the process while the check runs: an unrelated one, or none.
APPS = ["unrelated-app", "no-app"]


@contextmanager
def _process_app(app: str, tmp_path: Path) -> Iterator[None]:
    """Within this block, the process's Hydra app is ``app``: ``unrelated-app`` initialises
    one of a folder of its own (a ``train.yaml`` and two ``data/`` options, neither
    lossbench's), ``no-app`` leaves none."""
    if app == "no-app":
        with nullcontext():
            yield
        return
    folder = tmp_path / "unrelated"
    (folder / "data").mkdir(parents=True)
    (folder / "train.yaml").write_text("defaults:\n  - data: alpha\n  - _self_\nseed: 0\n")
    (folder / "data" / "alpha.yaml").write_text("name: alpha\n")
    (folder / "data" / "beta.yaml").write_text("name: beta\n")
    with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
        yield


def _checked(check: Any, config: DictConfig) -> Any:
    """``check(config)`` as the multirun's callback runs it (Hydra's warnings left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check(config)


@pytest.mark.parametrize("app", APPS)
def test_a_search_whose_trials_compose_passes_whatever_app_the_process_holds(
    app: str, tmp_path: Path
) -> None:
    """An Optuna search of focal's settings on iris: its trials compose from lossbench's
    configs and are accepted (composed from the unrelated app's folder, a trial found no
    lossbench config and the search was refused)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    config = multirun_config(("hparams_search=optuna_focal", "data=iris"))
    with _process_app(app, tmp_path):
        _checked(check_search, config)  # no refusal


@pytest.mark.parametrize("app", APPS)
def test_a_search_whose_trials_lack_its_key_is_refused_whatever_app_the_process_holds(
    app: str, tmp_path: Path
) -> None:
    """An Optuna search of loss.gamma with setup=logits_asl (asl has no gamma) is refused for
    that reason, composed from lossbench's configs: not for a config the unrelated app's
    folder lacks, and not let through where no app is initialised (the check skipped)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    config = multirun_config(("hparams_search=optuna_focal", "data=iris", "setup=logits_asl"))
    with _process_app(app, tmp_path), pytest.raises(ConfigError) as refused:
        _checked(check_search, config)
    message = str(refused.value)
    assert "loss.gamma is not a setting of loss=asl" in message, message
    assert "setup=logits_focal" in message, message


@pytest.mark.parametrize("app", APPS)
def test_a_glob_sweep_counts_the_options_of_its_own_config_folders(
    app: str, tmp_path: Path
) -> None:
    """``data=glob(*)`` sweeps every data option of lossbench's config folder, with
    ``seed=0,1`` too: the multirun's size is read from its own folders (from the unrelated
    app's, its two options; with no app, glob() could not be read)."""
    options = sorted(path.stem for path in (config_dir() / "data").glob("*.yaml"))
    config = multirun_config(("data=iris",), ("data=glob(*)", "seed=0,1"))
    with _process_app(app, tmp_path):
        overrides = _checked(swept_overrides, config)
        data = next(o for o in overrides if o.key_or_group == "data" and o.is_sweep_override())
        assert sorted(data.sweep_string_iterator()) == options
        assert _checked(sweep_jobs, config) == 2 * len(options)
