"""A sweep's values that every job given them would refuse, refused before the sweep starts.

Hydra checks a multirun's swept values against the config's types before any job runs
(``seed=0,1.5``: not an integer), but a value of the right type that lossbench refuses
(``data.batch_size=16,0``, ``trainer.max_epochs=20,0``, ``optimizer.lr=1e-3,-1``,
``loss.gamma=1,-2``) was refused by its job only, after the jobs before it had trained, and the
sweep ended with status 0. :func:`check_swept_values` sets each swept value of a plain key on
the multirun's config and runs the checks no head, loss or data set choice changes
(:func:`lossbench.validation.check_values`), and the loss's own parameter checks where the sweep
chooses no config group (which could change the loss); a value that fails them where the config
without it passes is refused with the sweep it came from. The hardware settings
(``trainer.accelerator``, ``devices``, ``precision``, ``strategy``, ``num_nodes``) are not
checked here: each job checks them where it runs (another node under Slurm or Ray), with the
other hardware settings it is given.

    >>> from omegaconf import OmegaConf
    >>> from lossbench.override_grammar import override_parser
    >>> cfg = OmegaConf.create({"seed": 0, "trainer": {"max_epochs": 20}})
    >>> sweep = override_parser().parse_overrides(["trainer.max_epochs=20,0"])
    >>> check_swept_values(cfg, sweep)
    Traceback (most recent call last):
    ...
    lossbench.errors.ConfigError: the sweep trainer.max_epochs=20,0 gives trainer.max_epochs=0, ...
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError
from lossbench.losses import validate_loss_params
from lossbench.validation import check_values

__all__ = ["check_swept_values", "swept_plain_values"]


def plain_top_level_keys() -> frozenset[str]:
    """The keys at the top of lossbench-train's config that hold a value, not a config group's
    option: the fields of :class:`lossbench.config.TrainConfig` without a folder of options in
    the configs (``seed``, ``runner``, ``epoch_metrics``, ...; ``setup`` is a group too).

        >>> {"seed", "runner", "epoch_metrics"} <= plain_top_level_keys()
        True
        >>> {"data", "setup", "logger"} & plain_top_level_keys()
        set()
    """
    from dataclasses import fields

    from lossbench.config import TrainConfig
    from lossbench.train import config_dir

    folders = {path.name for path in config_dir().iterdir() if path.is_dir()}
    return frozenset(f.name for f in fields(TrainConfig) if f.name not in folders)


def swept_plain_values(override: Any) -> list[Any] | None:
    """The values of a discrete sweep over a plain key (``data.batch_size=16,0``,
    ``runner=auto,lightning``), as Hydra gives them to the jobs; None for a group
    (``data=wine,iris``), a range or a value with an interpolation, which each job composes or
    resolves itself."""
    if not override.is_sweep_override() or not override.is_discrete_sweep():
        return None
    key = override.key_or_group
    if "." not in key and key not in plain_top_level_keys():
        return None  # a config group, or a key Hydra adds (+x=1,2)
    if override.is_add() or override.is_delete() or override.is_force_add():
        return None
    try:
        values = list(override.sweep_iterator())
    except Exception:  # an override Hydra refuses with its own message
        return None
    if any(isinstance(v, str) and "${" in v for v in values):
        return None
    return values


def _check(config: DictConfig, loss: bool) -> None:
    """:func:`~lossbench.validation.check_values`, and with ``loss`` the loss's parameters."""
    check_values(config)
    if loss and "loss" in config and "name" in config.loss:
        params = OmegaConf.to_container(config.loss, resolve=True)
        try:
            validate_loss_params(config.loss.name, params)  # type: ignore[arg-type]
        except ValueError as error:
            raise ConfigError(str(error)) from None


def _chooses_a_group(overrides: Sequence[Any]) -> bool:
    """Whether a sweep override chooses a config group (``setup=a,b``, ``loss=focal,asl``),
    which can change the loss whose parameters a swept value sets."""
    return any(
        o.is_sweep_override() and "." not in o.key_or_group and o.key_or_group != "seed"
        for o in overrides
    )


def check_swept_values(config: DictConfig, overrides: Sequence[Any]) -> None:
    """Refuse a swept value of ``overrides`` (Hydra's parsed overrides of the multirun: the
    sweeper's params, then the command line's, the later winning for one key) that
    :func:`lossbench.validation.check_values` refuses once set on ``config`` (the multirun's
    config), where ``config`` itself passes: every job given it would be refused.

    Raises:
        ConfigError: The sweep, the value, and the check's own message (what is wrong, the
            fix).
    """
    loss = not _chooses_a_group(overrides)
    try:
        _check(config, loss)
    except Exception:  # a config refused as it is: each job reports it
        return
    last = {override.key_or_group: override for override in overrides}  # the later one wins
    for override in last.values():
        values = swept_plain_values(override)
        if values is None:
            continue
        key = override.key_or_group
        for value in values:
            job = copy.deepcopy(config)
            try:
                OmegaConf.update(job, key, value, merge=True)
                _check(job, loss)
            except ConfigError as error:
                raise ConfigError(
                    f"the sweep {override.input_line} gives {key}={value!r}, which each of "
                    f"its jobs would refuse (only once the jobs before it had trained): "
                    f"{error} Nothing was trained: fix that value of the sweep."
                ) from None
            except Exception:  # a value Hydra refuses with its own message
                continue
