"""Refuse a setting whose ``${...}`` cannot be worked out, before the run reads it.

A value may interpolate another key (``optimizer.weight_decay=${optimizer.lr}``) or a resolver
(``${oc.env:LR}``). One that names a key the config lacks, or an environment variable that is
not set, fails only where the run first reads it: without this check, after Hydra made the run's
directory, with OmegaConf's traceback. :func:`check_interpolations` reads every value of the
config (Hydra's own node aside) first:

    $ lossbench-train 'seed=${nosuch}'
    lossbench: refused: seed=${nosuch} interpolates nosuch, which the config does not have, so
    seed cannot be worked out. ...
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import InterpolationResolutionError

from lossbench.errors import ConfigError

_MISSING_KEY = re.compile(r"Interpolation key '(?P<key>[^']+)' not found")
#: What Hydra's sweepers escape in a job's override: ``\\`` before one of ``\\()[]{}:=, ``.
_HYDRA_ESCAPE = re.compile(r"\\([\\()\[\]{}:=, \t])")
_MISSING_ENV = re.compile(r"Environment variable '(?P<name>[^']+)' not found")
_FIX = "Interpolate a key the config has (`{command} --cfg job` shows them), or give a plain value."


def given_overrides(config: DictConfig) -> list[str]:
    """The command line's overrides, as given (their ``${...}`` not resolved): from ``config``'s
    ``hydra.overrides`` where it has Hydra's node, else from the running job's Hydra config;
    none outside Hydra."""
    node = OmegaConf.select(config, "hydra.overrides", default=None)
    if node is None:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return []
        node = HydraConfig.get().overrides
    given: list[str] = []
    for part in ("hydra", "task"):
        overrides = OmegaConf.select(node, part, default=None)
        if overrides is not None:
            given += [str(o) for o in OmegaConf.to_container(overrides)]
    return given


def interpolation_refusal(
    key: str,
    raw: Any,
    reason: str,
    given: Sequence[str],
    what: str | None = None,
    command: str = "lossbench-train",
) -> str:
    """The refusal of ``key`` (its unresolved value ``raw``), which cannot be worked out for
    ``reason`` (OmegaConf's message); ``given``: the command line's overrides, to name the one
    that set it; ``what``: what the value is, in words (default: ``key``); ``command``: the
    command that reads the config.

        >>> print(interpolation_refusal("seed", "${nosuch}",
        ...       "Interpolation key 'nosuch' not found", ["seed=${nosuch}"]))
        seed=${nosuch} interpolates nosuch, which the config does not have, so seed cannot be \
worked out. Interpolate a key the config has (`lossbench-train --cfg job` shows them), or give \
a plain value.
    """
    what = what or key
    fix = _FIX.format(command=command)
    # a sweep's job gets its value back escaped (seed=$\{nosuch\}): shown as the user typed it
    given = [_HYDRA_ESCAPE.sub(r"\1", o) for o in given]
    missing = _MISSING_KEY.search(reason)
    culprits = [o for o in given if missing and "${" + missing["key"] in o]
    setting = [  # the override that set it, where its value is the one that failed
        o for o in given if o.lstrip("+~").partition("=")[::2] == (key, str(raw))
    ]
    shown = (culprits or setting or [None])[-1]
    if shown is None:  # not from the command line: from a config file where it is known
        shown = key if raw is None else f"{key}={raw}"
        shown += " (in the config)" if given else ""
    env = _MISSING_ENV.search(reason)
    if env:
        return (
            f"{shown}: {what} reads the environment variable {env['name']}, which is not set. "
            f"Set it, give a default (${{oc.env:{env['name']},<default>}}), or give a plain value."
        )
    if missing:
        return (
            f"{shown} interpolates {missing['key']}, which the config does not have, so {what} "
            f"cannot be worked out. {fix}"
        )
    return f"{shown}: {what} cannot be worked out: {reason}. {fix}"


def _raw(config: DictConfig, key: str) -> Any:
    """``key``'s value in ``config`` as written (``${...}`` kept); None where it cannot be read."""
    parent, _, leaf = key.rpartition(".")
    index = re.fullmatch(r"(?P<name>.*)\[(?P<i>\d+)\]", leaf)
    try:
        node = config if not parent else OmegaConf.select(config, parent, default=None)
        if index:  # a list's entry: loss.weight[0]
            container = OmegaConf.to_container(node, resolve=False)[index["name"]]
            return container[int(index["i"])]
        return OmegaConf.to_container(node, resolve=False)[leaf]
    except Exception:  # the message only loses the raw value
        return None


def _under(key: str, parent: str) -> bool:
    """Whether ``key`` is ``parent`` or below it (``a.b`` under ``a``)."""
    return key == parent or key.startswith(f"{parent}.")


def check_interpolations(
    config: DictConfig,
    swept: Sequence[str] = (),
    command: str = "lossbench-train",
    under: str | None = None,
) -> None:
    """Raise :class:`ConfigError` where a value of ``config`` (Hydra's node aside) cannot be
    resolved: it interpolates a key the config lacks, or a resolver fails on it; a value that
    reads Hydra's config (``${hydra:job.name}``) is checked where Hydra has set it. ``swept``: the
    keys a multirun sweeps, which its config lacks until each job is composed
    (``-m +x=1,2 seed=${x}``): an interpolation of one of them is left to the jobs;
    ``command``: the command that reads ``config`` (``lossbench-eval``, ...); ``under``: a key
    (``optimizer``), whose values alone are checked.

        >>> from omegaconf import OmegaConf
        >>> check_interpolations(OmegaConf.create({"lr": 0.1, "wd": "${lr}"}))
        >>> check_interpolations(OmegaConf.create({"seed": "${nosuch}"}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: seed=${nosuch}... interpolates nosuch, ...
    """
    own = _without_hydra(config)
    # only the values that interpolate are resolved: the whole config would cost ~3 ms a job
    for path in _interpolated(OmegaConf.to_container(own, resolve=False)):
        if under is not None and not _under(path.split("[", 1)[0], under):
            continue
        try:
            OmegaConf.select(own, path)
        except InterpolationResolutionError as error:
            if not _left_to_jobs(error, swept):
                raise unresolved_error(error, config, given_overrides(config), command) from None


def check_shown_interpolations(
    config: DictConfig,
    *,
    package: str | None,
    resolve: bool,
    command: str = "lossbench-train",
) -> None:
    """Raise :class:`ConfigError` where a value that ``--cfg`` or ``--help`` would show resolved
    cannot be resolved, with the refusal a run gives (:func:`check_interpolations`):

    * ``--resolve`` (``--cfg job --resolve``, ``--cfg all --resolve``, ``--help --resolve``):
      every value of ``config`` (Hydra's node aside), or of ``package`` (``-p optimizer``);
    * ``-p KEY`` alone, where KEY is one value (``-p seed``): Hydra shows it resolved; a
      package that holds keys (``-p optimizer``) is shown as written, and not checked.

    ``package`` ``_global_`` is the whole config, as for Hydra.

        >>> config = OmegaConf.create({"seed": "${nosuch}", "lr": 0.1})
        >>> check_shown_interpolations(config, package=None, resolve=False)
        >>> check_shown_interpolations(config, package="lr", resolve=False)
        >>> check_shown_interpolations(config, package="seed", resolve=False)
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: seed=${nosuch}...interpolates nosuch, ...
    """
    if package in (None, "_global_"):
        if resolve:
            check_interpolations(config, command=command)
        return
    if resolve or not isinstance(_raw(config, package), dict | list):
        check_interpolations(config, command=command, under=package)


def _without_hydra(config: DictConfig) -> DictConfig:
    """``config`` without Hydra's node (as a job's config is: a copy only where it has one).

    The copy keeps the schema's types, so a value that does not fit its key's type (``seed``,
    an int, from ``${oc.env:SEED}`` set to ``1.5``) fails here as it would in the run; Hydra
    removes its node from a job's config the same way:

        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Config:
        ...     seed: int = 0
        >>> config = OmegaConf.structured(Config)
        >>> with open_dict(config):
        ...     config.hydra = {"run": {"dir": "."}}
        >>> own = _without_hydra(config)
        >>> "hydra" in own, OmegaConf.get_type(own).__name__
        (False, 'Config')
    """
    if "hydra" not in config:
        return config
    own = copy.deepcopy(config)
    with open_dict(own):
        del own["hydra"]
    return own


def _interpolated(node: Any, path: str = "") -> Iterator[str]:
    """The paths of the values of ``node`` (a plain container) that interpolate.

    >>> list(_interpolated({"a": 1, "b": "${a}", "c": {"d": [0, "${oc.env:X}"]}}))
    ['b', 'c.d[1]']
    """
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _interpolated(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _interpolated(value, f"{path}[{index}]")
    elif isinstance(node, str) and "${" in node:
        yield path


def _left_to_jobs(error: InterpolationResolutionError, swept: Sequence[str]) -> bool:
    """Whether ``error`` may not happen where the job runs: the value interpolates a key a
    multirun sweeps into each job (``swept``), or reads Hydra's config (``${hydra:job.num}``),
    which Hydra sets only for the job."""
    text = str(error)
    missing = _MISSING_KEY.search(text)
    if missing and any(_under(missing["key"], k.lstrip("+~")) for k in swept):
        return True
    return "HydraConfig was not set" in text


def unresolved_error(
    error: InterpolationResolutionError,
    config: DictConfig,
    given: Sequence[str],
    command: str = "lossbench-train",
) -> ConfigError:
    """The refusal of OmegaConf's ``error``, raised while resolving ``config`` (which holds the
    failing value as written); ``given``: the command line's overrides.

        >>> from omegaconf import OmegaConf
        >>> config = OmegaConf.create({"seed": "${nosuch}"})
        >>> try:
        ...     config.seed
        ... except Exception as error:
        ...     print(unresolved_error(error, config, ["seed=${nosuch}"]))
        seed=${nosuch} interpolates nosuch, which the config does not have, ...
    """
    key = str(getattr(error, "full_key", "") or "")
    reason = str(getattr(error, "msg", "") or error).splitlines()[0]
    raw = _raw(config, key)
    return ConfigError(interpolation_refusal(key, raw, reason, given, command=command))


def check_swept_interpolations(config: DictConfig, overrides: Sequence[Any]) -> None:
    """Raise :class:`ConfigError` where a swept value interpolates (``-m 'seed=${nosuch},1'``)
    and cannot be resolved in the multirun's ``config``; ``overrides``: the multirun's
    overrides, parsed (Hydra's ``Override``). Such a job could only be refused, so the sweep is
    refused before any job starts. A value that interpolates another swept key the config lacks
    until the jobs are composed (``+x=1,2``) is left to the jobs."""
    from hydra.core.override_parser.types import ChoiceSweep

    swept = [o for o in overrides if o.is_sweep_override() and not o.is_hydra_override()]
    own = _without_hydra(config)
    for override in swept:
        choices = override.value()
        if not isinstance(choices, ChoiceSweep):
            continue
        key = override.key_or_group
        others = [o.key_or_group for o in swept if o is not override]
        for value in choices.list:
            if not (isinstance(value, str) and "${" in value):
                continue
            trial = copy.deepcopy(own)
            with open_dict(trial):
                OmegaConf.update(trial, key.lstrip("+"), value, merge=True)
            try:
                check_interpolations(trial, swept=others)
            except ConfigError as error:
                one = f"{key.lstrip('+')}={value}"
                message = str(error).replace(f"{one} (in the config)", one)
                refusal = message.replace(one, f"{one} (in {override.input_line})", 1)
                raise ConfigError(refusal) from None
