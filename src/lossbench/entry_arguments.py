"""The arguments of a ``callbacks`` or ``logger`` entry, checked against its target's signature
before the run (:func:`lossbench.instantiators.check_entries`), so that a misspelt or unknown
one is refused with the accepted names instead of failing once the run has started.

    lossbench-train +callbacks.timer._target_=lightning.pytorch.callbacks.Timer \\
        +callbacks.timer.duration=00:00:10:00          # accepted
    lossbench-train +callbacks.model_checkpoint.save_top_k=3
    # lossbench: refused: callbacks.model_checkpoint.save_top_k is not an argument of ...

The targets that lossbench's own config files name are not imported to check them (a shipped
config is validated without torch or Lightning): their arguments are written out in
:data:`SHIPPED_ARGUMENTS`, which ``tests/test_instantiators.py`` compares with
``inspect.signature`` of the installed packages.

    >>> print(unknown_argument("callbacks", "timer", {"duraton": "00:00:01:00"}, "my.Timer",
    ...                        ("interval", "verbose", "duration")).split(". ", 1)[1])
    Did you mean callbacks.timer.duration? Drop it, or give one of the accepted arguments: \
duration, verbose, interval.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

#: The keyword arguments of each shipped target (:data:`lossbench.instantiators.SHIPPED_TARGETS`);
#: None: it takes ``**kwargs``, so any name is passed on.
SHIPPED_ARGUMENTS: dict[str, tuple[str, ...] | None] = {
    "lossbench.callbacks.run_checkpoint": (
        "dirpath",
        "monitor",
        "mode",
        "save_last",
        "write",
        "optimized_metric",
    ),
    "lossbench.callbacks.run_early_stopping": (
        "enabled",
        "monitor",
        "mode",
        "patience",
        "min_delta",
        "optimized_metric",
    ),
    "lightning.pytorch.callbacks.TQDMProgressBar": ("refresh_rate", "process_position", "leave"),
    "lossbench.callbacks.EpochProgressBar": ("refresh_rate", "process_position", "leave"),
    "lossbench.callbacks.EpochRichProgressBar": (
        "refresh_rate",
        "leave",
        "theme",
        "console_kwargs",
    ),
    "lightning.pytorch.callbacks.RichProgressBar": (
        "refresh_rate",
        "leave",
        "theme",
        "console_kwargs",
    ),
    "lightning.pytorch.callbacks.ModelSummary": None,
    "lightning.pytorch.callbacks.RichModelSummary": None,
    "lightning.pytorch.callbacks.LearningRateMonitor": (
        "logging_interval",
        "log_momentum",
        "log_weight_decay",
    ),
    "lightning.pytorch.loggers.CSVLogger": (
        "save_dir",
        "name",
        "version",
        "prefix",
        "flush_logs_every_n_steps",
    ),
    "lossbench.loggers.CSVLogger": (
        "save_dir",
        "name",
        "version",
        "prefix",
        "flush_logs_every_n_steps",
    ),
    "lightning.pytorch.loggers.TensorBoardLogger": None,
    "lossbench.loggers.mlflow_logger": (
        "tracking_uri",
        "experiment_name",
        "run_name",
        "log_model",
        "tags",
        "resume",
    ),
    "lightning.pytorch.loggers.WandbLogger": None,
    "lossbench.loggers.wandb_logger": None,
    "lightning.pytorch.profilers.SimpleProfiler": ("dirpath", "filename", "extended"),
}

#: The arguments of each shipped target that have no default (the config files give them);
#: a target not listed has none.
SHIPPED_REQUIRED: dict[str, tuple[str, ...]] = {
    "lossbench.callbacks.run_checkpoint": SHIPPED_ARGUMENTS["lossbench.callbacks.run_checkpoint"]
    or (),
    "lossbench.callbacks.run_early_stopping": SHIPPED_ARGUMENTS[
        "lossbench.callbacks.run_early_stopping"
    ]
    or (),
    "lightning.pytorch.loggers.CSVLogger": ("save_dir",),
    "lossbench.loggers.CSVLogger": ("save_dir",),
    "lightning.pytorch.loggers.TensorBoardLogger": ("save_dir",),
    "lossbench.loggers.mlflow_logger": ("tracking_uri", "experiment_name"),
}

#: Shipped targets whose arguments the config files fill from top-level settings.
SET_THROUGH = {
    "lossbench.callbacks.run_checkpoint": "checkpoint.* (monitor, mode, save_last, write)",
    "lossbench.callbacks.run_early_stopping": "early_stopping.* (enabled, monitor, patience, ...)",
}


def keyword_arguments(target: Any) -> tuple[str, ...] | None:
    """The names ``target(...)`` takes by keyword, in its signature's order; None when it takes
    ``**kwargs`` or has no signature to read (then nothing is checked).

        >>> def factory(a, /, b, *, c=1): ...
        >>> keyword_arguments(factory)
        ('b', 'c')
    """
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in parameters if p.kind in keyword)


def required_arguments(target: Any) -> tuple[str, ...]:
    """The names ``target(...)`` needs by keyword (no default), in its signature's order; empty
    when it has no signature to read.

        >>> def factory(a, /, b, *, c=1, d, **kwargs): ...
        >>> required_arguments(factory)
        ('b', 'd')
    """
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return ()
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        p.name for p in parameters if p.kind in keyword and p.default is inspect.Parameter.empty
    )


def default_argument(target: Any, name: str) -> Any:
    """The default of ``target``'s keyword argument ``name``; None when it has none (or no
    signature to read).

        >>> def factory(monitor="val/acc", mode="max"): ...
        >>> default_argument(factory, "monitor")
        'val/acc'
    """
    try:
        parameter = inspect.signature(target).parameters.get(name)
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def missing_argument(
    group: str,
    name: str,
    node: Mapping[str, Any],
    target: str,
    required: Sequence[str],
    accepted: Sequence[str] | None = None,
) -> str | None:
    """The refusal of entry ``group.name`` (``node``) when it leaves out arguments ``target``
    needs (``required``: :func:`required_arguments`), naming them and the override that gives
    each; None when all are there. (A partial entry, ``_partial_: true``, is completed later.)

        >>> print(missing_argument("logger", "own", {}, "my.Logger", ("save_dir",)))
        logger.own (my.Logger) needs save_dir, which is not given: building it would fail \
when the run starts. Give it: +logger.own.save_dir=<value>.
    """
    if node.get("_partial_"):
        return None
    missing = [key for key in required if key not in node]
    if not missing:
        return None
    fixes = " ".join(f"+{group}.{name}.{key}=<value>" for key in missing)
    others = [key for key in accepted or () if key not in missing]
    optional = f" Its other arguments: {', '.join(others)}." if others else ""
    return (
        f"{group}.{name} ({target}) needs {', '.join(missing)}, which "
        f"{'is' if len(missing) == 1 else 'are'} not given: building it would fail when the run "
        f"starts. Give {'it' if len(missing) == 1 else 'them'}: {fixes}.{optional}"
    )


def unknown_argument(
    group: str,
    name: str,
    node: Mapping[str, Any],
    target: str,
    accepted: Sequence[str] | None,
) -> str | None:
    """The refusal of the first key of entry ``group.name`` (``node``) that ``target`` does not
    take (``accepted``: :func:`keyword_arguments`), or None. Hydra's own keys (``_target_``,
    ``_partial_``, ...) are not arguments. The accepted names are listed closest first."""
    if accepted is None:
        return None
    for key in node:
        key = str(key)
        if (key.startswith("_") and key.endswith("_")) or key in accepted:
            continue
        close = difflib.get_close_matches(key, accepted, n=max(len(accepted), 1), cutoff=0)
        likely = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
        hint = f" Did you mean {group}.{name}.{likely[0]}?" if likely else ""
        listed = ", ".join(close) if close else "none"
        settings = SET_THROUGH.get(target)
        where = f" ({group}.{name} follows {settings}: set it there)" if settings else ""
        return (
            f"{group}.{name}.{key} is not an argument of {target} ({group}.{name}), which would "
            f"fail when the run builds it.{hint} Drop it, or give one of the accepted arguments: "
            f"{listed}.{where}"
        )
    return None
