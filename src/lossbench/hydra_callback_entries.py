"""The entries of ``hydra.callbacks``, checked before Hydra builds them.

Hydra builds each entry of ``hydra.callbacks`` from its ``_target_`` as a run or a multirun
starts, then calls each callback at every event (``on_run_start``, ``on_job_end``, ...) and
turns an error there into a warning. So an entry without a ``_target_`` (a misspelt
``+hydra.callbacks.x._targt_=foo``, a bare value ``+hydra.callbacks.x=1``, null) or with one
that is not a Hydra ``Callback`` (``builtins.dict``) trained the whole run with a warning at
each event, and a ``_target_`` that cannot be imported stopped in Hydra's words (exit status
1). Each command checks the config it composed first (:func:`check_hydra_callbacks`, through
:func:`lossbench.hydra_internals.callbacks_checked`): the first bad entry is refused before
anything is written, naming the entry, what it holds and the fix.

    >>> from omegaconf import OmegaConf
    >>> overrides = {"hydra": ["+hydra.callbacks.x._targt_=foo"]}
    >>> config = OmegaConf.create(
    ...     {"hydra": {"callbacks": {"x": {"_targt_": "foo"}}, "overrides": overrides}}
    ... )
    >>> check_hydra_callbacks(config)
    Traceback (most recent call last):
    ...
    lossbench.errors.ConfigError: +hydra.callbacks.x._targt_=foo: hydra.callbacks.x has no \
_target_ (its keys: _targt_), ...
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError

__all__ = ["CALLBACK_BASE", "check_hydra_callbacks", "hydra_callback_refusal"]

#: The class every entry of ``hydra.callbacks`` must build (or a subclass of it).
CALLBACK_BASE = "hydra.experimental.callback.Callback"
#: The module of the callbacks Hydra ships.
_SHIPPED_MODULE = "hydra.experimental.callbacks"
#: The class of lossbench-train's check before each run (configs/train.yaml).
_OWN_CHECK = "lossbench.hydra_callbacks.ValidateBeforeRun"
#: The events Hydra calls each callback at, as the refusals name them.
_EVENTS = "on_run_start, on_job_start, on_job_end, ..."


def _shipped() -> list[str]:
    """The callback classes Hydra ships (``hydra.experimental.callbacks``), by import path."""
    import importlib

    from hydra.experimental.callback import Callback

    module = importlib.import_module(_SHIPPED_MODULE)
    return sorted(
        f"{_SHIPPED_MODULE}.{name}"
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, Callback)
        and obj is not Callback
        and obj.__module__ == _SHIPPED_MODULE
    )


def _valid() -> str:
    """The classes an entry's ``_target_`` may name."""
    shipped = ", ".join(_shipped()) or "none"
    return (
        f"a subclass of Hydra's Callback ({CALLBACK_BASE}): one of your own (its module "
        f"installed, or in a folder on PYTHONPATH), or one Hydra ships: {shipped}"
    )


def _fix(name: str, given: list[str]) -> str:
    """What to give instead: the class to name (the valid options), or the entry left out."""
    from lossbench.hydra_settings import CHECK_CALLBACK

    if f"hydra.callbacks.{name}" == CHECK_CALLBACK:  # lossbench's check cannot go
        return (
            f"This entry is lossbench's check of every run before it starts: leave it as "
            f"configs/train.yaml sets it (_target_: {_OWN_CHECK}). A callback of your own goes "
            f"beside it: +hydra.callbacks.<name>._target_=<module.Class>, {_valid()}."
        )
    fix = f"Name the callback's class: +hydra.callbacks.{name}._target_=<module.Class>, {_valid()}"
    if any(argument.startswith("+") for argument in given):
        return f"{fix}; or leave the entry out."
    return f"{fix}; or remove the entry: ~hydra.callbacks.{name}."


def _given(config: DictConfig, name: str) -> list[str]:
    """The command line's overrides of entry ``name`` of ``hydra.callbacks`` (Hydra keeps
    those of ``hydra.*`` in ``hydra.overrides.hydra``), as written."""
    key = f"hydra.callbacks.{name}"
    try:  # as written: an override's ${...} is not resolved (hydra.run.dir=${nosuch}/run)
        node = OmegaConf.select(config, "hydra.overrides.hydra", default=None)
        overrides = OmegaConf.to_container(node, resolve=False) if node is not None else []
    except Exception:  # an interpolation Hydra itself reports
        return []
    found = []
    for override in overrides:
        text = str(override)
        setting = text.split("=", 1)[0].lstrip("+~")
        if setting == key or setting.startswith(f"{key}."):
            found.append(text)
    return found


def _no_target(name: str, node: Any, shown: str, given: list[str]) -> str:
    """The refusal of entry ``name`` whose value ``node`` (as written) names no class."""
    key = f"hydra.callbacks.{name}"
    if node is None:
        return (
            f"{shown}: {key} is null, which does not turn a Hydra callback off: Hydra would "
            f"take None for the callback and call it at every event ({_EVENTS}), with a "
            f"warning each time, while the run goes on. {_fix(name, given)}"
        )
    if not isinstance(node, Mapping):
        return (
            f"{shown}: {key} is {node!r}, not a callback's settings (a node with a _target_), "
            f"so Hydra cannot build a callback from it. {_fix(name, given)}"
        )
    keys = [str(k) for k in node]
    has = f"its keys: {', '.join(keys)}" if keys else "it has no keys"
    if "_target_" not in node:
        what = f"has no _target_ ({has})"
    else:
        what = "has _target_=null" if node["_target_"] is None else "has an empty _target_"
    close = difflib.get_close_matches("_target_", [k for k in keys if k != "_target_"], n=1)
    hint = f" Did you mean {key}._target_ (not {close[0]})?" if close else ""
    return (
        f"{shown}: {key} {what}, so Hydra cannot build a callback from it: it would take the "
        f"entry's settings themselves for the callback, and call them at every event "
        f"({_EVENTS}), with a warning each time, while the run goes on without it.{hint} "
        f"{_fix(name, given)}"
    )


def _not_a_callback(name: str, target: str, obj: Any, given: list[str]) -> str | None:
    """The refusal of ``hydra.callbacks.<name>._target_=target`` (imported: ``obj``) where it
    is not a Hydra ``Callback`` class; None where it is. A Lightning callback, logger or
    profiler (or a factory of one) is told the override of its own group
    (:func:`lossbench.instantiators.other_kind`)."""
    from hydra.experimental.callback import Callback

    from lossbench.instantiators import other_kind

    if isinstance(obj, type) and issubclass(obj, Callback):
        return None
    key = f"hydra.callbacks.{name}._target_={target!r}"
    other = other_kind("hydra.callbacks", f"hydra.callbacks.{name}._target_", target, obj)
    if other:  # a Lightning callback, logger or profiler (or its factory): the run's config
        lead = (
            f"{key} is not Hydra's Callback ({CALLBACK_BASE}) nor a subclass of it:"
            if isinstance(obj, type)
            else f"{key} is a function, not a class:"
        )
        return f"{lead}{other} {_fix(name, given)}"
    if isinstance(obj, type):
        return (
            f"{key} is a class that is not Hydra's Callback ({CALLBACK_BASE}) nor a subclass "
            f"of it: Hydra would build it and call it at every event ({_EVENTS}), with a "
            f"warning each time, while the run goes on without a callback. {_fix(name, given)}"
        )
    what = "a function" if callable(obj) else f"a {type(obj).__name__} value"
    return (
        f"{key} is {what}, not a class: each entry of hydra.callbacks names the class Hydra "
        f"builds its callback from. {_fix(name, given)}"
    )


def hydra_callback_refusal(config: DictConfig) -> str | None:
    """The refusal of the first entry of ``config``'s ``hydra.callbacks`` that Hydra cannot
    build into a callback: no ``_target_`` (or a bare value, null), a ``_target_`` that cannot
    be imported or is no Hydra ``Callback`` class, or settings its class does not take or
    needs (:mod:`lossbench.entry_arguments`); None where every entry can be built.

        >>> from omegaconf import OmegaConf
        >>> own = {"_target_": "lossbench.hydra_callbacks.ValidateBeforeRun"}
        >>> hydra_callback_refusal(OmegaConf.create({"hydra": {"callbacks": {"check": own}}}))
        >>> bare = OmegaConf.create({"hydra": {"callbacks": {"x": 1}}})
        >>> print(hydra_callback_refusal(bare)[:66])
        hydra.callbacks.x (in the config): hydra.callbacks.x is 1, not a c
    """
    from lossbench.entry_arguments import (
        keyword_arguments,
        missing_argument,
        required_arguments,
        unknown_argument,
    )
    from lossbench.instantiators import locate

    try:
        callbacks = OmegaConf.select(config, "hydra.callbacks", default=None)
    except Exception:  # an interpolation Hydra itself reports
        return None
    if not isinstance(callbacks, DictConfig):
        return None
    entries = OmegaConf.to_container(callbacks, resolve=False)
    for name, node in entries.items():
        name = str(name)
        given = _given(config, name)
        shown = " ".join(given) or f"hydra.callbacks.{name} (in the config)"
        if not isinstance(node, Mapping) or node.get("_target_") in (None, ""):
            return _no_target(name, node, shown, given)
        try:
            target = str(callbacks[name]["_target_"])
        except Exception:  # an interpolation Hydra itself reports
            continue
        example = f"+hydra.callbacks.{name}._target_=<module.Class>, {_valid()}"
        key = f"hydra.callbacks.{name}._target_"
        obj, error = locate(target, key, "hydra.callbacks", example=example)
        if error is not None:
            return error
        refusal = _not_a_callback(name, target, obj, given)
        if refusal is not None:
            return refusal
        accepted = keyword_arguments(obj)
        required = required_arguments(obj)
        group = "hydra.callbacks"
        refusal = unknown_argument(group, name, node, target, accepted) or missing_argument(
            group, name, node, target, required, accepted
        )
        if refusal is not None:
            return refusal
    return None


def check_hydra_callbacks(config: DictConfig) -> None:
    """Raise :class:`~lossbench.errors.ConfigError` with :func:`hydra_callback_refusal`'s
    refusal of ``config``'s ``hydra.callbacks``, if any."""
    refusal = hydra_callback_refusal(config)
    if refusal is not None:
        raise ConfigError(refusal)
