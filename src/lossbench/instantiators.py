"""Callbacks and loggers from config: each entry of ``callbacks`` and ``logger`` is a node with a
``_target_``, built with ``hydra.utils.instantiate`` (as the Lightning + Hydra template does).

    lossbench-train callbacks=rich_progress logger=[csv,tensorboard]
    lossbench-train +callbacks.timer._target_=lightning.pytorch.callbacks.Timer \\
        +callbacks.timer.duration=00:00:10:00

Checking a config (:func:`check_entries`) resolves the targets that lossbench's own config
files name without importing them (``tests/test_instantiators.py`` builds each one), so
validating a shipped config stays free of torch and Lightning; any other target is imported
then. A misspelt one is refused with the names its module has of the entry's kind (a Lightning
``Callback``, ``Logger`` or ``Profiler``, or a Hydra ``Callback``: :data:`KINDS`), and a class of
another kind that lossbench takes elsewhere with the override that gives it there.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from lossbench.entry_arguments import (
    SHIPPED_ARGUMENTS,
    SHIPPED_REQUIRED,
    default_argument,
    keyword_arguments,
    missing_argument,
    required_arguments,
    unknown_argument,
)
from lossbench.trainer_args import no_time_refusal

#: Targets in lossbench's config files, with the package each needs beyond lossbench's own.
SHIPPED_TARGETS: dict[str, str | None] = {
    "lossbench.callbacks.run_checkpoint": None,
    "lossbench.callbacks.run_early_stopping": None,
    "lightning.pytorch.callbacks.TQDMProgressBar": None,
    "lossbench.callbacks.EpochProgressBar": None,
    "lossbench.callbacks.EpochRichProgressBar": "rich",
    "lightning.pytorch.callbacks.RichProgressBar": "rich",
    "lightning.pytorch.callbacks.ModelSummary": None,
    "lightning.pytorch.callbacks.RichModelSummary": "rich",
    "lightning.pytorch.callbacks.LearningRateMonitor": None,
    "lightning.pytorch.loggers.CSVLogger": None,
    "lossbench.loggers.CSVLogger": None,
    "lightning.pytorch.loggers.TensorBoardLogger": "tensorboard",
    "lossbench.loggers.mlflow_logger": "mlflow",
    "lightning.pytorch.loggers.WandbLogger": "wandb",
    "lossbench.loggers.wandb_logger": "wandb",
    "lightning.pytorch.profilers.SimpleProfiler": None,  # debug=profiler's trainer.profiler
}
#: The optional extra that installs each package (pip install 'lossbench[<extra>]').
EXTRAS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb", "rich": "rich"}
#: Lightning's callbacks that fail without a logger (by class name; a subclass counts too).
NEEDS_LOGGER = ("LearningRateMonitor", "DeviceStatsMonitor")


def _device_stats_use_psutil(entry: Mapping[str, Any], trainer: Mapping[str, Any]) -> str | None:
    """What a ``DeviceStatsMonitor`` entry reads through psutil, or None where it reads
    nothing through it. Lightning's ``DeviceStatsMonitor`` (checked: Lightning 2.6.6) reads
    the CPU's stats with psutil where ``cpu_stats=true`` (on any device), and where
    ``cpu_stats`` is null (its default) and the run trains on the CPU; on a GPU it logs the
    GPU's stats through torch, and ``cpu_stats=false`` logs no CPU stats.

        >>> _device_stats_use_psutil({"cpu_stats": False}, {"accelerator": "cpu"}) is None
        True
        >>> _device_stats_use_psutil({}, {"accelerator": "cpu"})[:38]
        "it logs the CPU's stats (cpu_stats=nul"
    """
    from lossbench.hardware import device_type

    cpu_stats = entry.get("cpu_stats")
    if cpu_stats is False:
        return None
    if cpu_stats:
        return (
            "cpu_stats=true logs the CPU's stats (memory and load), which Lightning reads with it"
        )
    if device_type(trainer.get("accelerator")) != "cpu":
        return None  # the GPU's stats, through torch
    return (
        "it logs the CPU's stats (cpu_stats=null, its default, on a run that trains on the CPU), "
        "which Lightning reads with it"
    )


#: Lightning's callbacks that need a package lossbench does not install (by class name; a
#: subclass counts too): the package, and what they read with it for an entry and the run's
#: ``trainer`` settings (None where those settings need none of it), with other settings that
#: do without it. Refused before the run starts where the package is missing: Lightning
#: raises ``ModuleNotFoundError`` once the fit has begun.
NEEDS_PACKAGE: dict[str, tuple[str, Any, str]] = {
    "DeviceStatsMonitor": (
        "psutil",
        _device_stats_use_psutil,
        "+callbacks.{name}.cpu_stats=false (no CPU stats: on a GPU it logs the GPU's, on the "
        "CPU nothing)",
    ),
    "RichProgressBar": ("rich", lambda entry, trainer: "it draws the progress bar with it", ""),
    "RichModelSummary": ("rich", lambda entry, trainer: "it prints the model summary with it", ""),
}


def entries(group: Any) -> list[tuple[str, DictConfig]]:
    """The ``(name, node)`` entries of ``callbacks`` or ``logger``; null entries are off."""
    if group is None:
        return []
    return [(str(name), node) for name, node in group.items() if node is not None]


def _public_names(module: Any, *, submodules: bool) -> list[str]:
    """What ``module`` offers: its ``__all__`` (or public names), and its submodules."""
    names = set(getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"])
    if submodules and hasattr(module, "__path__"):
        names |= {m.name for m in pkgutil.iter_modules(module.__path__) if m.name[0] != "_"}
    return sorted(str(n) for n in names)


def locate(
    target: str, key: str, group: str, *, example: str | None = None
) -> tuple[Any, str | None]:
    """``(object, None)`` for an importable ``target``, else ``(None, why and how to fix)``;
    the fix names ``example`` (by default, one of ``group``'s: :data:`BASES`)."""
    parts = target.split(".")
    module, found = None, 0
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            module, found = importlib.import_module(name), i
            break
        except ModuleNotFoundError as error:
            if error.name is not None and not name.startswith(error.name):
                return None, (
                    f"{key}={target!r} cannot be imported: {name} needs the missing package "
                    f"{error.name!r} (pip install {error.name})."
                )
        except Exception as error:  # the module exists but fails to import
            return None, f"{key}={target!r} cannot be imported: {type(error).__name__}: {error}"
    example = example or BASES[group][1]
    if module is None:  # a module of the current directory: the path is not the fix
        fix = _outside_path(parts[0]) or f" Give its full import path, e.g. {example}."
        return None, (
            f"{key}={target!r} is not an importable class or function: no module named "
            f"{parts[0]!r}.{fix}"
        )
    if found == len(parts):
        return None, (
            f"{key}={target!r} is a module, not a class or function. Name the class in it, "
            f"e.g. {example}."
        )
    obj: Any = module
    for depth, attr in enumerate(parts[found:], start=found):
        if not hasattr(obj, attr):
            where = ".".join(parts[:depth])
            last = depth == len(parts) - 1
            names = _public_names(obj, submodules=not last)
            if last and group in KINDS:  # the class itself: names of the entry's kind
                hint, listing = _kind_hints(obj, where, attr, names, group, key)
            else:
                close = difflib.get_close_matches(attr, names, n=3, cutoff=0.6)
                hint = (
                    f" Did you mean {' or '.join(f'{where}.{c}' for c in close)}?" if close else ""
                )
                listing = f"Names in {where}: {', '.join(names)}."
            return None, (
                f"{key}={target!r} cannot be imported: {where} has no {attr!r}.{hint} {listing}"
            )
        obj = getattr(obj, attr)
    return obj, None


def _member(obj: Any, name: str) -> Any:
    """``obj``'s attribute ``name``, or None where reading it fails."""
    try:
        return getattr(obj, name, None)
    except Exception:  # a lazy attribute whose import fails
        return None


def _kind_hints(
    obj: Any, where: str, attr: str, names: list[str], group: str, key: str
) -> tuple[str, str]:
    """The hint and the listing of the refusal of ``attr``, which ``obj`` (``where``) lacks, as
    the class of entry ``key`` of ``group``: the close names that fit the group
    (:func:`fits`); else, where a close name is a class (or a factory) of another kind an
    entry takes, what it is and how it is given; else none. The listing names the group's
    classes in ``obj`` (and its functions that may build one), or every name where it has no
    such class.

        >>> import lightning.pytorch.loggers as loggers
        >>> hint, listing = _kind_hints(loggers, "lightning.pytorch.loggers", "CSVLoger",
        ...     ["CSVLogger", "Logger"], "callbacks", "callbacks.x._target_")
        >>> print(hint)
         lightning.pytorch.loggers.CSVLogger is close, but it is a Lightning Logger, which goes in \
logger: give it as +logger.x._target_=lightning.pytorch.loggers.CSVLogger.
        >>> print(listing)
        lightning.pytorch.loggers has no Lightning Callback class; names in it: CSVLogger, Logger.
    """
    kind = KINDS[group][0]
    fitting = [n for n in names if fits(_member(obj, n), group)]
    close = difflib.get_close_matches(attr, fitting, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(f'{where}.{c}' for c in close)}?" if close else ""
    for other in [] if close else difflib.get_close_matches(attr, names, n=3, cutoff=0.6):
        elsewhere = other_kind(group, key, f"{where}.{other}", _member(obj, other))
        if elsewhere:  # what another group's entries take: say which, and how
            hint = f" {where}.{other} is close, but{elsewhere}"
            break
    classes = [n for n in fitting if isinstance(_member(obj, n), type)]
    functions = [n for n in fitting if n not in classes]
    if not classes:
        return hint, f"{where} has no {kind} class; names in it: {', '.join(names)}."
    listing = f"{kind} classes in {where}: {', '.join(classes)}"
    return hint, listing + (f"; functions: {', '.join(functions)}." if functions else ".")


def _outside_path(first: str) -> str:
    """A hint where the module ``first`` is a file or package of the current directory, which
    Python does not import from in a console command (``lossbench-train``: its path starts at
    the script's folder, where ``python -m`` starts at the current directory); else nothing.
    """
    import sys

    here = Path.cwd().resolve()
    if any(Path(entry or ".").resolve() == here for entry in sys.path):
        return ""
    if not ((here / f"{first}.py").is_file() or (here / first / "__init__.py").is_file()):
        return ""
    return (
        f" {first} is in the current directory, which the command does not import from: "
        f"add it to Python's path (PYTHONPATH=. before the command), or install the module."
    )


def check_entries(cfg: DictConfig, group: str) -> str | None:
    """Why the ``callbacks`` or ``logger`` entries of ``cfg`` cannot be built, or None.

    Each entry needs a ``_target_`` that exists, the package it needs installed, and the
    arguments the target takes and needs (:mod:`lossbench.entry_arguments`); a class must be
    a Lightning ``Callback`` / ``Logger``, and not one of the tuner callbacks
    (:data:`TUNER_CALLBACKS`). Shipped targets are not imported (the test of this module
    builds them).
    """
    for name, node in entries(cfg.get(group)):
        if not isinstance(node, Mapping) or "_target_" not in node:
            return (
                f"{group}.{name} has no _target_: each {group} entry is a node naming the class "
                f"to build, e.g. +{group}.{name}._target_=<module.Class>. Remove an entry with "
                f"~{group}.{name}."
            )
        error = check_entry(group, name, node)
        if error is not None:
            return error
    return None


#: The Lightning class an entry of each group must build, and an example of one.
BASES: dict[str, tuple[str, str]] = {
    "callbacks": ("Callback", "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer"),
    "logger": (
        "Logger",
        "logger=csv, or +logger.NAME._target_=lightning.pytorch.loggers.CSVLogger",
    ),
    "trainer": (
        "Profiler",
        "trainer.profiler=simple, or debug=profiler trainer.profiler._target_="
        "lightning.pytorch.profilers.AdvancedProfiler",
    ),
}

#: Each kind of class an entry names, by the group whose entries build it (``trainer``: its
#: ``profiler``): the kind, where its entries go, and how one is given (as the README writes
#: it; ``{name}``: the entry's name, ``{target}``: the class's import path).
KINDS: dict[str, tuple[str, str, str]] = {
    "callbacks": ("Lightning Callback", "callbacks", "+callbacks.{name}._target_={target}"),
    "logger": ("Lightning Logger", "logger", "+logger.{name}._target_={target}"),
    "trainer": (
        "Lightning Profiler",
        "trainer.profiler",
        "debug=profiler trainer.profiler._target_={target}",
    ),
    "hydra.callbacks": (
        "Hydra Callback",
        "hydra.callbacks",
        "+hydra.callbacks.{name}._target_={target}",
    ),
}
#: The groups whose entries may name a function that builds the entry (a factory), as
#: ``callbacks.model_checkpoint`` does; ``hydra.callbacks`` names a class.
FACTORY_GROUPS = ("callbacks", "logger", "trainer")
#: The group of each module of :data:`SHIPPED_TARGETS`, which tells their kind unimported.
SHIPPED_MODULES = {
    "lightning.pytorch.callbacks": "callbacks",
    "lossbench.callbacks": "callbacks",
    "lightning.pytorch.loggers": "logger",
    "lossbench.loggers": "logger",
    "lightning.pytorch.profilers": "trainer",
}


def shipped_kind(target: str) -> str:
    """The group whose entries a target of :data:`SHIPPED_TARGETS` builds, from its module.

    >>> shipped_kind("lossbench.loggers.mlflow_logger")
    'logger'
    """
    return SHIPPED_MODULES[target.rsplit(".", 1)[0]]


def kind_of(obj: Any) -> str | None:
    """The group of :data:`KINDS` whose entries ``obj`` may be, or None: a class by its class
    hierarchy; a function by what it builds (a shipped one's group, else the class its return
    annotation names); None for anything else, or a function that says nothing of it.

        >>> from hydra.experimental.callbacks import LogJobReturnCallback
        >>> from lossbench.callbacks import run_checkpoint
        >>> kind_of(LogJobReturnCallback), kind_of(run_checkpoint), kind_of(dict), kind_of(len)
        ('hydra.callbacks', 'callbacks', None, None)
    """
    if not isinstance(obj, type):
        if not callable(obj):
            return None
        if _import_path(obj) in SHIPPED_TARGETS:
            return shipped_kind(_import_path(obj))
        kinds = (kind_of(returned) for returned in _returned_classes(obj) or ())
        return next((kind for kind in kinds if kind is not None), None)
    lightning = _lightning_bases(obj)
    for group, (base, _) in BASES.items():
        if base in lightning:
            return group
    hydra = any(
        b.__name__ == "Callback" and b.__module__ == "hydra.experimental.callback"
        for b in obj.__mro__
    )
    return "hydra.callbacks" if hydra else None


def _import_path(obj: Any) -> str:
    """``module.name`` of function ``obj``, as a ``_target_`` names it."""
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"


def _returned_classes(function: Any) -> tuple[type, ...] | None:
    """The classes ``function`` is annotated to return, or None where its annotation says
    nothing of it (none, ``Any``, or one that cannot be read)."""
    try:
        returned = typing.get_type_hints(function).get("return", Any)
    except Exception:  # a name the annotation cannot resolve, or not a function
        return None
    if returned is Any:
        return None
    union = typing.get_origin(returned) in (typing.Union, types.UnionType)
    return tuple(
        r for r in (typing.get_args(returned) if union else (returned,)) if isinstance(r, type)
    )


def fits(obj: Any, group: str) -> bool:
    """Whether an entry of ``group`` may name ``obj``: a class of the group's kind
    (:func:`kind_of`), or, where the group takes a factory (:data:`FACTORY_GROUPS`), a function
    that builds one or says nothing of what it returns (not annotated, or ``Any``).

        >>> from lossbench.callbacks import run_checkpoint, stopped_early
        >>> fits(run_checkpoint, "callbacks"), fits(stopped_early, "callbacks")
        (True, False)
    """
    if isinstance(obj, type):
        return kind_of(obj) == group
    if group not in FACTORY_GROUPS or not callable(obj):
        return False
    if _import_path(obj) in SHIPPED_TARGETS:
        return shipped_kind(_import_path(obj)) == group
    returned = _returned_classes(obj)
    return returned is None or any(kind_of(r) == group for r in returned)


def _entry_name(key: str, group: str, target: str) -> str:
    """The name entry ``key`` (``callbacks.timer._target_``) keeps in another group: its own,
    or for ``trainer.profiler`` the class's, in lower case."""
    if group == "trainer":
        return target.rsplit(".", 1)[-1].lower()
    return key.split(".")[-2]


def given_as(kind: str, name: str, target: str) -> str:
    """How ``target``, of ``kind`` (a group of :data:`KINDS`), is given as entry ``name``.

    >>> given_as("logger", "csv", "lightning.pytorch.loggers.CSVLogger")
    '+logger.csv._target_=lightning.pytorch.loggers.CSVLogger'
    """
    return KINDS[kind][2].format(name=name, target=target)


def goes_elsewhere(group: str, key: str, target: str, kind: str | None, is_class: bool) -> str:
    """Where ``target`` (named by entry ``key`` of ``group``; a class, or a function that builds
    one) is of ``kind``, another kind an entry takes: what it is and how it is given (`` it is
    a Lightning Logger, which goes in logger: give it as +logger...``); else nothing.

        >>> print(goes_elsewhere("logger", "logger.t._target_", "my.Timer", "callbacks", True))
         it is a Lightning Callback, which goes in callbacks: give it as \
+callbacks.t._target_=my.Timer.
    """
    if kind is None or kind == group:
        return ""
    noun, place, _ = KINDS[kind]
    what = f"a {noun}" if is_class else f"a function that builds a {noun}"
    fix = given_as(kind, _entry_name(key, group, target), target)
    return f" it is {what}, which goes in {place}: give it as {fix}."


def other_kind(group: str, key: str, target: str, obj: Any) -> str:
    """:func:`goes_elsewhere` for ``obj``, imported from ``target``: nothing where it fits
    ``group`` (:func:`fits`) or is of no kind an entry takes."""
    if fits(obj, group):
        return ""
    return goes_elsewhere(group, key, target, kind_of(obj), isinstance(obj, type))


#: Lightning's tuner callbacks, which set the learning rate or batch size that lossbench's
#: config owns: why each is refused.
TUNER_CALLBACKS = {
    "LearningRateFinder": "it overwrites the learning rate, which optimizer.lr sets (and a study "
    "sweeps: lossbench-train -m optimizer.lr=1e-3,3e-3,1e-2, or a search over optimizer.lr)",
    "BatchSizeFinder": "it changes the batch size, which data.batch_size sets (e.g. "
    "data.batch_size=64; null for the whole training set in one batch)",
}


#: Lightning callbacks that need what lossbench's modules do not have: why each is refused.
UNFIT_CALLBACKS = {
    "BackboneFinetuning": "it freezes and thaws the module's `backbone` attribute, and "
    "lossbench's modules have none (the network is their `model` attribute)",
}


#: Lightning callbacks that change or keep other weights than those of the best validated epoch,
#: which is what a run evaluates, records and checkpoints: why each is refused, and what to do.
WEIGHTS_CALLBACKS = {
    "StochasticWeightAveraging": "its averaged weights are formed only as training ends and "
    "never validated, while a run's result is the weights of the epoch that scored best on "
    "validation (checkpoint.monitor): the average would be neither evaluated nor recorded. For "
    "averaged weights that are validated every epoch and are the ones the checkpoints hold, use "
    "+{group}.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging runner=lightning",
    "ModelPruning": "it prunes the weights after each epoch's validation (at the training "
    "epoch's end, or at the validation's end with prune_on_train_epoch_end=false) and before "
    "the checkpoint is saved, so the best epoch would be chosen on weights that no checkpoint "
    "holds, and evaluated on others. lossbench offers no pruning during training",
    "OnExceptionCheckpoint": "lossbench's own checkpoint callback already keeps the best "
    "epoch's checkpoint when a run stops with an exception (checkpoint.write=every_epoch or "
    "at_end; ckpt_path=<run>/checkpoints/best-epochNNN.ckpt continues from it), and a checkpoint "
    "of the state at the exception itself is not offered: it is saved within an epoch, and a "
    "run cannot be resumed exactly from within an epoch",
}


def _lightning_bases(obj: Any) -> set[str]:
    """The names of the Lightning classes among ``obj``'s bases (empty for a function): read
    from its class hierarchy, so nothing more is imported than the target's module."""
    bases = getattr(obj, "__mro__", ()) if isinstance(obj, type) else ()
    return {b.__name__ for b in bases if b.__module__.startswith("lightning.")}


def timer_entries(callbacks: Any) -> list[tuple[str, Mapping[str, Any], str]]:
    """The entries of ``callbacks`` (the config's ``callbacks`` node) that build a Lightning
    ``Timer`` or a subclass of one: ``(name, entry, state key)``, the state key being the name
    its state has in a checkpoint's ``callbacks`` (the class's qualified name, Lightning's
    ``Callback.state_key``). Entries whose class cannot be imported are left out (refused
    where the entries are checked).

        >>> entry = {"_target_": "lightning.pytorch.callbacks.Timer", "duration": "00:00:01:00"}
        >>> [(name, key) for name, _, key in timer_entries({"timer": entry, "other": None})]
        [('timer', 'Timer')]
    """
    found = []
    for name, entry in (callbacks or {}).items():
        if not isinstance(entry, Mapping | DictConfig) or "_target_" not in entry:
            continue
        obj, error = locate(str(entry["_target_"]), f"callbacks.{name}._target_", "callbacks")
        if error is None and "Timer" in _lightning_bases(obj):
            found.append((str(name), entry, obj.__qualname__))
    return found


def check_entry(group: str, name: str, node: Mapping[str, Any]) -> str | None:
    """Why entry ``group.name`` (a node with a ``_target_``; group ``trainer`` with name
    ``profiler`` for ``trainer.profiler``) cannot be built, or None."""
    key = f"{group}.{name}._target_"
    target = str(node["_target_"])
    if target in SHIPPED_TARGETS:
        package = SHIPPED_TARGETS[target]
        if package is not None and importlib.util.find_spec(package) is None:
            extra = EXTRAS.get(package, package)
            return (
                f"{group}.{name} ({target}) needs the {package} package: pip install "
                f"'lossbench[{extra}]'" + (", or choose logger=csv." if group == "logger" else ".")
            )
        is_class = target.rsplit(".", 1)[-1][:1].isupper()  # a class, or a factory function
        error = _wrong_kind(group, name, target, shipped_kind(target), is_class)
        if error is not None:
            return error
        accepted = SHIPPED_ARGUMENTS[target]
        required = SHIPPED_REQUIRED.get(target, ())
    else:
        obj, error = locate(target, key, group)
        if error is not None:
            return error
        error = _wrong_class(group, name, target, obj)
        if error is not None:
            return error
        accepted, required = keyword_arguments(obj), required_arguments(obj)
        if "Timer" in _lightning_bases(obj):
            error = no_time_refusal(
                f"{group}.{name}.duration", node.get("duration"), f"~{group}.{name}"
            )
            if error is not None:
                return error
    return unknown_argument(group, name, node, target, accepted) or missing_argument(
        group, name, node, target, required, accepted
    )


def _wrong_kind(group: str, name: str, target: str, kind: str | None, is_class: bool) -> str | None:
    """Why ``target`` (a class, or a function that builds one) of ``kind`` (a group of
    :data:`KINDS`, None for none) cannot be entry ``group.name``, or None where it fits."""
    base, example = BASES[group]
    key = f"{group}.{name}._target_"
    elsewhere = goes_elsewhere(group, key, target, kind, is_class)
    path = f"lightning.pytorch.{base.lower()}s.{base}"
    if elsewhere and not is_class:
        lead = f"{key}={target!r} does not build a Lightning {base} ({path}):"
    elif is_class and kind != group:
        lead = f"{key}={target!r} is not a Lightning {base} ({path}) nor a subclass of one:"
    else:
        return None
    why = elsewhere or " the run could not use it."
    return f"{lead}{why} {'Here, name' if elsewhere else 'Name'} a {base} class, e.g. {example}."


def _wrong_class(group: str, name: str, target: str, obj: Any) -> str | None:
    """Why class ``obj`` cannot be entry ``group.name``: not the group's Lightning base class
    (where it is another kind an entry takes, the override that gives it there), or a tuner
    callback; None for a function, unless it is annotated to build another kind (what it
    returns is checked when it is built)."""
    if not isinstance(obj, type):
        if fits(obj, group):
            return None
        return _wrong_kind(group, name, target, kind_of(obj), is_class=False)
    error = _wrong_kind(group, name, target, kind_of(obj), is_class=True)
    if error is not None:
        return error
    bases = _lightning_bases(obj)
    for unfit, why in UNFIT_CALLBACKS.items():
        if unfit in bases:
            return (
                f"{group}.{name}._target_={target!r} is Lightning's {unfit}, which cannot run "
                f"here: {why}. Drop it with ~{group}.{name}."
            )
    for refused, why in WEIGHTS_CALLBACKS.items():
        if refused in bases:
            return (
                f"{group}.{name}._target_={target!r} is Lightning's {refused}, which lossbench "
                f"refuses: {why.format(group=group)}. Drop it with ~{group}.{name}."
            )
    for tuner, why in TUNER_CALLBACKS.items():
        if tuner in bases:
            return (
                f"{group}.{name}._target_={target!r} is Lightning's {tuner}, which lossbench "
                f"does not run: {why}. Drop it with ~{group}.{name} (or leave it out); the "
                f"tuner callbacks {', '.join(TUNER_CALLBACKS)} are refused."
            )
    return None


def check_profiler(profiler: Any) -> str | None:
    """Why ``trainer.profiler`` cannot be built, or None: a name Lightning knows
    (:data:`PROFILERS`), or a node whose target is a Lightning ``Profiler`` given only arguments
    it takes and every one it needs.

        >>> print(check_profiler("simpel")[:60])
        trainer.profiler='simpel' is not a profiler. Did you mean tr
    """
    if profiler is None:
        return None
    if isinstance(profiler, str):
        if profiler.lower() in PROFILERS:
            return None
        close = difflib.get_close_matches(profiler.lower(), PROFILERS, n=1, cutoff=0.6)
        hint = f" Did you mean trainer.profiler={close[0]}?" if close else ""
        return (
            f"trainer.profiler={profiler!r} is not a profiler.{hint} Valid: "
            f"{', '.join(PROFILERS)} (simple, advanced and pytorch write their report to "
            "<run dir>/fit-profile.txt), or "
            "debug=profiler, whose trainer.profiler._target_ names any Lightning Profiler "
            "class; null for none."
        )
    if not isinstance(profiler, Mapping) or "_target_" not in profiler:
        return (
            f"trainer.profiler={profiler!r} is not a profiler: give a name ("
            f"{', '.join(PROFILERS)}) or a node naming the class, e.g. debug=profiler "
            "trainer.profiler._target_=lightning.pytorch.profilers.AdvancedProfiler."
        )
    return check_entry("trainer", "profiler", profiler)


#: The names ``trainer.profiler`` takes (Lightning's ``_init_profiler``).
PROFILERS = ("simple", "advanced", "pytorch", "xla")


#: Shipped targets that build a ``lightning.pytorch.callbacks.Checkpoint``.
CHECKPOINT_TARGETS = ("lossbench.callbacks.run_checkpoint",)


def checkpoint_entries(cfg: DictConfig) -> list[str]:
    """The ``callbacks`` entries that build a Lightning ``Checkpoint``: lossbench's own
    (:data:`CHECKPOINT_TARGETS`) and any class whose bases include Lightning's ``Checkpoint``
    (read from its class hierarchy, so nothing more is imported than the target's module).

        >>> from omegaconf import OmegaConf
        >>> checkpoint_entries(OmegaConf.create({"callbacks": {
        ...     "model_checkpoint": {"_target_": "lossbench.callbacks.run_checkpoint"}}}))
        ['model_checkpoint']
    """
    found = []
    for name, node in entries(cfg.get("callbacks")):
        target = str(node.get("_target_")) if isinstance(node, Mapping) else ""
        if target in SHIPPED_TARGETS:
            if target in CHECKPOINT_TARGETS:
                found.append(name)
            continue
        obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
        bases = getattr(obj, "__mro__", ()) if error is None else ()
        if any(b.__name__ == "Checkpoint" and b.__module__.startswith("lightning") for b in bases):
            found.append(name)
    return found


def callback_classes(cfg: DictConfig) -> dict[str, set[str]]:
    """The names of the Lightning classes each ``callbacks`` entry builds or derives from, by
    entry name (empty for a function, a target that cannot be imported, or a shipped target of
    lossbench's own). A shipped Lightning target is read from its name, without importing it.

        >>> from omegaconf import OmegaConf
        >>> callback_classes(OmegaConf.create({"callbacks": {"lr": {
        ...     "_target_": "lightning.pytorch.callbacks.LearningRateMonitor"}}}))
        {'lr': {'LearningRateMonitor'}}
    """
    found: dict[str, set[str]] = {}
    for name, node in entries(cfg.get("callbacks")):
        target = str(node.get("_target_")) if isinstance(node, Mapping) else ""
        if target in SHIPPED_TARGETS:
            lightning = target.startswith("lightning.")
            found[name] = {target.rsplit(".", 1)[-1]} if lightning else set()
            continue
        obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
        found[name] = _lightning_bases(obj) if error is None else set()
    return found


def check_needs_logger(cfg: DictConfig) -> str | None:
    """A callback that needs a logger (:data:`NEEDS_LOGGER`) when ``logger`` is empty
    (``logger=none``), or None."""
    if entries(cfg.get("logger")):
        return None
    for name, bases in callback_classes(cfg).items():
        needs = [base for base in NEEDS_LOGGER if base in bases]
        if needs:
            target = cfg.callbacks[name]["_target_"]
            return (
                f"callbacks.{name} ({target}) records to the loggers, but logger=none "
                f"sets none. Choose a logger (logger=csv) or drop it with ~callbacks.{name}. "
                f"Lightning's callbacks that need a logger: {', '.join(NEEDS_LOGGER)}."
            )
    return None


def check_needs_package(cfg: DictConfig) -> str | None:
    """A callback whose settings need a package that is not installed
    (:data:`NEEDS_PACKAGE`), or None.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"trainer": {"accelerator": "cpu"}, "callbacks": {"dsm": {
        ...     "_target_": "lightning.pytorch.callbacks.DeviceStatsMonitor",
        ...     "cpu_stats": False}}})
        >>> check_needs_package(cfg) is None
        True
    """
    trainer = cfg.get("trainer") or {}
    for name, bases in callback_classes(cfg).items():
        for base, (package, reads, other) in NEEDS_PACKAGE.items():
            if base not in bases or importlib.util.find_spec(package) is not None:
                continue
            entry = cfg.callbacks[name]
            why = reads(entry, trainer)
            if why is None:
                continue
            extra = EXTRAS.get(package)
            pip = f"pip install 'lossbench[{extra}]'" if extra else f"pip install {package}"
            instead = f", or give {other.format(name=name)}" if other else ""
            known = ", ".join(f"{b} ({p})" for b, (p, _, _) in NEEDS_PACKAGE.items())
            return (
                f"callbacks.{name} ({entry['_target_']}) needs the {package} package, which is "
                f"not installed: {why}. Install it ({pip}){instead}, or drop it with "
                f"~callbacks.{name}. Lightning's callbacks that need a package lossbench does "
                f"not install with its default dependencies: {known}."
            )
    return None


def logger_folders(cfg: DictConfig) -> list[tuple[str, Path]]:
    """``(key, folder)`` of each local folder a logger of ``cfg`` writes in: its ``save_dir``
    (CSV, TensorBoard, W&B; not a remote one, ``s3://...``), and MLflow's local store
    (``tracking_uri``: the folder of a ``sqlite:///<file>``, a ``file:<folder>``; a server's URI
    has none). A value that cannot be resolved is left out (:func:`lossbench.validation.validate`
    refuses it).

        >>> cfg = OmegaConf.create({"paths": {"log_dir": "out"}, "logger": {"mlflow": {
        ...     "tracking_uri": "sqlite:///${paths.log_dir}/mlflow.db"}}})
        >>> logger_folders(cfg)
        [('logger.mlflow.tracking_uri', PosixPath('out'))]
    """
    found = []
    for name, node in entries(cfg.get("logger")):
        if not isinstance(node, DictConfig):
            continue
        for key, folder_of in (("save_dir", _folder), ("tracking_uri", _local_store)):
            try:
                value = node.get(key)
            except Exception:  # an interpolation that cannot be resolved: validate's refusal
                continue
            folder = folder_of(str(value)) if value not in (None, "") else None
            if folder is not None:
                found.append((f"logger.{name}.{key}", folder))
    return found


def _folder(value: str) -> Path | None:
    """The local folder ``value`` names; None for a remote one (``s3://bucket/logs``)."""
    return None if "://" in value else Path(value).expanduser()


def _local_store(uri: str) -> Path | None:
    """The folder of MLflow's local store ``uri`` names, or None (a server, in memory).

    >>> _local_store("sqlite:////data/mlflow.db"), _local_store("file:///data/mlruns")
    (PosixPath('/data'), PosixPath('/data/mlruns'))
    >>> _local_store("http://host:5000") is None
    True
    """
    from urllib.parse import urlparse

    if uri.startswith("sqlite:///"):
        database = uri.removeprefix("sqlite:///").split("?", 1)[0]
        return None if database in ("", ":memory:") else Path(database).expanduser().parent
    if uri.startswith("file:"):
        return Path(urlparse(uri).path or ".").expanduser()
    return None


#: The targets of the CSV loggers: lossbench's and Lightning's, each of which deletes the
#: ``metrics.csv`` it finds in its folder as it starts, and writes its ``hparams.yaml`` anew.
CSV_LOGGERS = (
    "lossbench.loggers.CSVLogger",
    "lightning.pytorch.loggers.CSVLogger",
    "lightning.pytorch.loggers.csv_logs.CSVLogger",
)


def csv_log_folders(cfg: DictConfig, run_dir: str | Path) -> list[tuple[str, Path]]:
    """``(logger name, folder)`` of each CSV logger of ``cfg`` (:data:`CSV_LOGGERS`) that
    writes in a folder of its own choosing for a run in ``run_dir`` (``paths.run_dir``): its
    ``save_dir`` / ``name`` / ``version``, as Lightning joins them. A logger without a
    ``version`` (a new ``version_<n>`` folder each run), with a remote ``save_dir`` or a value
    that cannot be resolved is left out.

        >>> cfg = OmegaConf.create({"paths": {"run_dir": None}, "logger": {"csv": {
        ...     "_target_": "lossbench.loggers.CSVLogger", "save_dir": "${paths.run_dir}",
        ...     "name": "logs", "version": ""}}})
        >>> csv_log_folders(cfg, "runs/r")
        [('csv', PosixPath('runs/r/logs'))]
    """
    cfg = cfg.copy()
    if "paths" in cfg:
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
    found = []
    for name, node in entries(cfg.get("logger")):
        if not isinstance(node, DictConfig) or str(node.get("_target_")) not in CSV_LOGGERS:
            continue
        try:
            save_dir, folder_name = node.get("save_dir"), node.get("name", "lightning_logs")
            version = node.get("version")
        except Exception:  # an interpolation that cannot be resolved: validate's refusal
            continue
        folder = _folder(str(save_dir)) if save_dir not in (None, "") else None
        if folder is None or version is None:
            continue
        if folder_name:
            folder = folder / str(folder_name)
        leaf = version if isinstance(version, str) else f"version_{version}"
        found.append((name, folder / leaf))
    return found


def check_logger_folders(cfg: DictConfig, run_dir: str | Path) -> None:
    """Refuse a folder a logger of ``cfg`` would write in (:func:`logger_folders`) that is a
    file, lies below one, or cannot be written, for a run in ``run_dir`` (``paths.run_dir``):
    the logger would stop the run with a traceback as it starts, or write elsewhere (W&B).

    Raises:
        ConfigError: which logger, which folder, why, and the setting to change.
    """
    from lossbench.errors import ConfigError
    from lossbench.output_files import unusable_folder

    cfg = cfg.copy()
    if "paths" in cfg:
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
    for key, folder in logger_folders(cfg):
        why = unusable_folder(folder)
        if why is not None:
            raise ConfigError(_folder_refusal(cfg, key, folder, why))


def _folder_refusal(cfg: DictConfig, key: str, folder: Path, why: str) -> str:
    """The refusal of the folder of ``key``, named through the ``paths.*`` setting its value
    reads (``paths.log_dir=...``, the default MLflow store's), else through ``key`` itself."""
    import re

    node, _, leaf = key.rpartition(".")
    given = str(OmegaConf.to_container(OmegaConf.select(cfg, node))[leaf])
    name = node.split(".")[1]
    read = re.search(r"\$\{paths\.(\w+)}", given)
    if read is None:
        example = "sqlite:///outputs/mlflow.db" if leaf == "tracking_uri" else "outputs"
        lead, setting, example = f"{key}={given!r}", key, f"{key}={example}"
    elif read.group(1) == "run_dir":  # set by lossbench-train: the run's directory
        lead, setting = f"{key}={given}", "paths.output_dir"
        example = f"{setting}=outputs"
    else:
        setting = f"paths.{read.group(1)}"
        value = OmegaConf.select(cfg, setting, default=None, throw_on_resolution_failure=False)
        lead, example = f"{setting}={str(value)!r} (in {key}={given})", f"{setting}=outputs"
    return (
        f"{lead}: logger.{name} writes in {str(folder)!r}, which cannot be made or written: "
        f"{why}. Give {setting} a folder you can write (created where missing), e.g. {example}; "
        f"or leave the logger out (~logger.{name}, or logger=none for no logger)."
    )


def check_one_checkpoint(cfg: DictConfig) -> str | None:
    """A second checkpoint callback beside the first (:func:`checkpoint_entries`), or None.

    Lightning keeps one state per callback type and settings in a checkpoint, and lossbench's
    best epoch, resume and ``checkpoints/`` folder belong to one checkpoint callback, so a run
    takes one; lossbench's own is configured through ``checkpoint.*``.

        >>> from omegaconf import OmegaConf
        >>> print(check_one_checkpoint(OmegaConf.create({"callbacks": {
        ...     "model_checkpoint": {"_target_": "lossbench.callbacks.run_checkpoint"}}})))
        None
    """
    found = checkpoint_entries(cfg)
    if len(found) < 2:
        return None
    first, second = found[0], found[1]
    return (
        f"callbacks.{second} ({cfg.callbacks[second]['_target_']}) is a second checkpoint "
        f"callback beside callbacks.{first}: a run takes one (its best epoch, resume and "
        "checkpoints/ folder are that callback's, and Lightning keeps one state per checkpoint "
        "callback's settings). lossbench's own is configured through checkpoint.* (monitor, "
        "mode, save_last, write), e.g. checkpoint.monitor=val/accuracy. Drop the second with "
        f"~callbacks.{second}."
    )


def check_checkpoint_monitor(cfg: DictConfig) -> str | None:
    """A ``ModelCheckpoint`` of Lightning's (or a subclass) without a ``monitor``, given or by
    default, as the run's checkpoint callback (:func:`checkpoint_entries`), or None: it keeps the
    last epoch's checkpoint, which lossbench would evaluate and record as the best epoch's.

        >>> from omegaconf import OmegaConf
        >>> print(check_checkpoint_monitor(OmegaConf.create({"callbacks": {"mc": {
        ...     "_target_": "lightning.pytorch.callbacks.ModelCheckpoint"}}}))[:73])
        callbacks.mc (lightning.pytorch.callbacks.ModelCheckpoint) has no monitor
    """
    for name in checkpoint_entries(cfg)[:1]:
        node = cfg.callbacks[name]
        target = str(node["_target_"])
        if target in SHIPPED_TARGETS:
            continue
        obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
        if error is not None or "ModelCheckpoint" not in _lightning_bases(obj):
            continue
        given = "monitor" in node
        monitor = node.get("monitor") if given else default_argument(obj, "monitor")
        if monitor is not None:
            continue
        metric = cfg.get("optimized_metric") or "val/nll"
        return (
            f"callbacks.{name} ({target}) has no monitor"
            f"{'' if given else ' (not given; its default is None)'}, and it is the run's "
            "checkpoint callback: without a monitor it keeps the last epoch's checkpoint, not "
            "the best epoch's, and lossbench would evaluate and record that one as the run's "
            f"best. Give it the metric to choose the best epoch by, e.g. "
            f"+callbacks.{name}.monitor={metric} (the run's optimized_metric), or use lossbench's "
            "own checkpoint callback (callbacks.model_checkpoint, in callbacks=default; set by "
            f"checkpoint.*: monitor, mode, save_last, write) and drop this one with "
            f"~callbacks.{name}."
        )
    return None


def run_relative_dirpath(node: Any, run_dir: str | Path) -> str | None:
    """The ``dirpath`` a checkpoint entry ``node`` writes to in the run's folder ``run_dir``:
    a relative one given as plain text (``+callbacks.mc.dirpath=ckpts``) is read from the run's
    folder, as Hydra reads a job's relative output paths, so each run of a sweep keeps its own
    files (``<run_dir>/ckpts``). None where it stays as given: no ``dirpath`` (Lightning's
    default, its logger's folder), an absolute path, a home path (``~/ckpts``), a URL
    (``s3://...``), or an interpolation (``${paths.run_dir}/ckpts``, ``${oc.env:CKPTS}``).

        >>> run_relative_dirpath(OmegaConf.create({"dirpath": "ckpts"}), "runs/r")
        'runs/r/ckpts'
        >>> cfg = OmegaConf.create({"dirpath": "${x}/ckpts", "x": "y"})
        >>> [run_relative_dirpath(n, "runs/r") for n in (cfg, {"dirpath": "/c"}, {})]
        [None, None, None]
    """
    if not isinstance(node, Mapping) or node.get("dirpath") is None:
        return None
    if isinstance(node, DictConfig) and OmegaConf.is_interpolation(node, "dirpath"):
        return None
    dirpath = str(node["dirpath"])
    if "://" in dirpath or Path(dirpath).expanduser().is_absolute():
        return None
    return str(Path(run_dir) / dirpath)


def _is_model_checkpoint(obj: Any) -> bool:
    """Whether ``obj`` is Lightning's ``ModelCheckpoint`` (or a subclass), or one of them."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    if isinstance(obj, type):
        return issubclass(obj, ModelCheckpoint)
    return isinstance(obj, ModelCheckpoint)


def _run_dir(cfg: DictConfig) -> str | None:
    """``paths.run_dir`` of ``cfg`` (the run's folder, set by ``lossbench.training.train``), or
    None where it has none or it cannot be resolved."""
    run_dir = OmegaConf.select(
        cfg, "paths.run_dir", default=None, throw_on_resolution_failure=False
    )
    return None if run_dir in (None, "") else str(run_dir)


#: The targets of TensorBoard's logger, which writes in ``save_dir`` / ``name`` / ``version``
#: as a CSV logger does (:data:`CSV_LOGGERS`).
TENSORBOARD_LOGGERS = (
    "lightning.pytorch.loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger",
)


def logger_checkpoint_folder(cfg: DictConfig, run_dir: str | Path) -> Path | None:
    """The folder a ``ModelCheckpoint`` without ``dirpath`` writes to in a run in ``run_dir``,
    as Lightning chooses it: ``checkpoints/`` in the folder of the run's first logger
    (``save_dir`` / ``name`` / ``version``: ``<run>/logs/checkpoints`` for ``logger=csv``,
    ``<run>/tensorboard/checkpoints`` for ``logger=tensorboard``), or, with no logger, in the
    trainer's ``default_root_dir``, which lossbench sets to the run's folder
    (``<run>/checkpoints``). Read from the config, without building a logger. None where the
    first logger's folder is known only once it starts: MLflow's and W&B's (named after their
    run), or any other logger than a CSV or TensorBoard one; one without a ``version`` (a new
    ``version_<n>`` each run); a remote ``save_dir``; a value that cannot be resolved.

        >>> cfg = OmegaConf.create({"paths": {"run_dir": None}, "logger": {"csv": {
        ...     "_target_": "lossbench.loggers.CSVLogger", "save_dir": "${paths.run_dir}",
        ...     "name": "logs", "version": ""}}})
        >>> logger_checkpoint_folder(cfg, "runs/r")
        PosixPath('runs/r/logs/checkpoints')
        >>> logger_checkpoint_folder(OmegaConf.create({"logger": None}), "runs/r")
        PosixPath('runs/r/checkpoints')
    """
    cfg = cfg.copy()
    if "paths" in cfg:
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
    loggers = entries(cfg.get("logger"))
    if not loggers:
        return Path(run_dir) / "checkpoints"
    _, node = loggers[0]  # Lightning's trainer.loggers[0]
    if not isinstance(node, DictConfig):
        return None
    if str(node.get("_target_")) not in (*CSV_LOGGERS, *TENSORBOARD_LOGGERS):
        return None
    try:
        save_dir, name = node.get("save_dir"), node.get("name", "lightning_logs")
        version = node.get("version")
    except Exception:  # an interpolation that cannot be resolved: validate's refusal
        return None
    folder = Path(run_dir) if save_dir is None else _folder(str(save_dir))
    if folder is None or version is None:
        return None
    leaf = version if isinstance(version, str) else f"version_{version}"
    return folder / ("" if name is None else str(name)) / leaf / "checkpoints"


def checkpoint_dirpaths(cfg: DictConfig, run_dir: str | Path) -> dict[str, Path]:
    """The folders the checkpoint entries of ``cfg.callbacks`` write to, by entry name, for a
    run in ``run_dir``: each entry whose ``_target_`` is Lightning's ``ModelCheckpoint`` (or a
    subclass), or lossbench's own (``lossbench.callbacks.run_checkpoint``), in its ``dirpath``
    (a relative one in the run's folder: :func:`run_relative_dirpath`), or, a
    ``ModelCheckpoint`` without ``dirpath``, in its first logger's folder
    (:func:`logger_checkpoint_folder`). ``ckpt_path=last`` looks for their ``last.ckpt``
    (:func:`lossbench.checkpoint.resume_path`), and a run trained again from scratch sets aside
    an earlier attempt's files there (:func:`lossbench.record.set_aside_earlier_attempt`). An
    entry whose folder is known only once its logger starts (MLflow's, W&B's), or whose target
    cannot be imported, is left out.

        >>> checkpoint_dirpaths(OmegaConf.create({"callbacks": {"mc": {"_target_":
        ...     "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": "ckpts"}}}), "runs/r")
        {'mc': PosixPath('runs/r/ckpts')}
        >>> checkpoint_dirpaths(OmegaConf.create({"logger": None, "callbacks": {"mc": {
        ...     "_target_": "lightning.pytorch.callbacks.ModelCheckpoint"}}}), "runs/r")
        {'mc': PosixPath('runs/r/checkpoints')}
    """
    cfg = cfg.copy()
    if "paths" in cfg:  # interpolations of ${paths.run_dir} read the run's folder
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
    found = {}
    for name, node in entries(cfg.get("callbacks")):
        if not isinstance(node, Mapping):
            continue
        target = str(node.get("_target_"))
        given = node.get("dirpath") is not None
        if target == "lossbench.callbacks.run_checkpoint":
            if not given:
                continue
        else:
            obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
            if error is not None or not isinstance(obj, type) or not _is_model_checkpoint(obj):
                continue
        if not given:  # Lightning's default: in the first logger's folder
            folder = logger_checkpoint_folder(cfg, run_dir)
            if folder is not None:
                found[name] = folder
            continue
        try:
            dirpath = run_relative_dirpath(node, run_dir) or str(node["dirpath"])
        except Exception:  # an interpolation that cannot be resolved: the run refuses it
            continue
        if "://" not in dirpath:
            found[name] = Path(dirpath).expanduser()
    return found


def _build(
    group: str, name: str, node: DictConfig, base: type, *, run_dir: str | None = None
) -> Any:
    """Build entry ``name`` of ``group``, once; a checkpoint callback's relative ``dirpath`` is
    read from ``run_dir``, the run's folder (:func:`run_relative_dirpath`), where one is given:
    that of a ``ModelCheckpoint`` class, or of a function that may build one
    (:func:`_may_build_model_checkpoint`)."""
    from hydra.utils import instantiate

    from lossbench.errors import ConfigError

    spec = OmegaConf.to_container(node, resolve=True)
    dirpath = None if run_dir is None else run_relative_dirpath(node, run_dir)
    if dirpath is not None:  # Lightning makes a relative dirpath absolute from the cwd
        target, _ = locate(str(node["_target_"]), f"{group}.{name}._target_", group)
        if _may_build_model_checkpoint(target):
            spec["dirpath"] = dirpath  # type: ignore[index]
    obj = instantiate(spec, _convert_="all")
    if obj is not None and not isinstance(obj, base):
        raise ConfigError(
            f"{group}.{name}._target_={node['_target_']!r} built a {type(obj).__name__}, not a "
            f"{base.__module__}.{base.__qualname__}; name a {base.__qualname__} class."
        )
    return obj


def _may_build_model_checkpoint(target: Any) -> bool:
    """Whether ``target`` (what an entry's ``_target_`` names) builds a ``ModelCheckpoint``:
    a subclass of it, or a function (a factory, such as lossbench's own
    ``lossbench.callbacks.run_checkpoint``) annotated to return one (or a subclass), or a class
    it derives from (``Checkpoint``, ``Callback``), or not annotated. Such an entry's relative
    ``dirpath`` is given in the run's folder before it is built, so that it is built once
    (building it a second time would repeat whatever else it does).

        >>> from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
        >>> def factory(dirpath): ...
        >>> def stopping(dirpath) -> EarlyStopping: ...
        >>> [_may_build_model_checkpoint(t) for t in (ModelCheckpoint, factory, stopping)]
        [True, True, False]
    """
    from lightning.pytorch.callbacks import ModelCheckpoint

    if isinstance(target, type):
        return _is_model_checkpoint(target)
    if not callable(target):
        return False
    returned = _returned_classes(target)
    return returned is None or any(
        issubclass(r, ModelCheckpoint) or issubclass(ModelCheckpoint, r) for r in returned
    )


def build_callbacks(cfg: DictConfig, *, progress_bar: bool, model_summary: bool) -> list[Any]:
    """The callbacks of ``cfg.callbacks``, in their order; an entry that builds None (early
    stopping while ``early_stopping.enabled=false``) is left out, and so are progress bars and
    model summaries when ``progress_bar`` / ``model_summary`` are off (a multirun's jobs). A
    checkpoint callback's relative ``dirpath`` is in the run's folder, ``paths.run_dir``
    (:func:`run_relative_dirpath`)."""
    from lightning.pytorch.callbacks import Callback, ModelSummary, ProgressBar

    built = []
    run_dir = _run_dir(cfg)
    for name, node in entries(cfg.get("callbacks")):
        callback = _build("callbacks", name, node, Callback, run_dir=run_dir)
        if callback is None:
            continue
        if isinstance(callback, ProgressBar) and not progress_bar:
            continue
        if isinstance(callback, ModelSummary) and not model_summary:
            continue
        check_callback_state(name, str(node["_target_"]), callback)
        built.append(callback)
    return built


#: The packages whose callbacks' ``state_dict()`` is trusted to hold only what checkpoints
#: load (tensors, numbers, strings, lists and dicts): Lightning's and lossbench's own.
_OWN_STATE_PACKAGES = ("lightning.", "pytorch_lightning.", "lossbench.")

#: What a callback's ``state_dict()`` may return, and why nothing else: the message of the
#: refusals of :func:`check_callback_state` and of a best checkpoint that cannot be read.
STATE_RULE = (
    "lossbench reads every checkpoint with torch.load(weights_only=True), which loads only "
    "tensors, numbers, strings and lists/dicts of them, since unpickling arbitrary Python "
    "objects can execute code"
)


def _own_state_dict(cls: type) -> bool:
    """Whether ``cls`` (a callback's class) takes its ``state_dict`` from a class outside
    Lightning and lossbench: one of one's own, or a subclass that overrides it. Lightning's
    callbacks (checkpoint, early stopping, progress bars, summaries) and lossbench's are
    trusted, and cost nothing to check.

        >>> from lightning.pytorch.callbacks import Callback, ModelCheckpoint
        >>> _own_state_dict(ModelCheckpoint)
        False
        >>> class Counts(Callback):
        ...     __module__ = "my_callbacks"  # one's own (a doctest's classes are lossbench's)
        ...     def state_dict(self):
        ...         return {"n": 1}
        >>> _own_state_dict(Counts), _own_state_dict(type("Plain", (Callback,), {}))
        (True, False)
    """
    owner = next((c for c in cls.__mro__ if "state_dict" in vars(c)), object)
    return owner is not object and not owner.__module__.startswith(_OWN_STATE_PACKAGES)


def unloadable_state(callback: Any) -> str | None:
    """What in ``callback.state_dict()`` a checkpoint could hold but not load back with
    ``torch.load(weights_only=True)``: the import path of the object torch refuses
    (``'my_callbacks.Thing'``), or ``"an object"`` where torch names none. None where the state
    saves and loads back, where its class takes ``state_dict`` from Lightning or lossbench
    (:func:`_own_state_dict`), and where the state cannot be taken or saved yet (a callback
    whose state needs the Trainer it is attached to): the run itself finds that out.

        >>> from lightning.pytorch.callbacks import Callback
        >>> class Holds(Callback):
        ...     __module__ = "my_callbacks"  # one's own (a doctest's classes are lossbench's)
        ...     def __init__(self, value):
        ...         self.value = value
        ...     def state_dict(self):
        ...         return {"value": self.value}
        >>> unloadable_state(Holds([1, 2.5, "a"])) is None
        True
        >>> unloadable_state(Holds(OmegaConf))
        'omegaconf.omegaconf.OmegaConf'
    """
    if not _own_state_dict(type(callback)):
        return None
    import io
    import pickle

    import torch

    from lossbench.checkpoint_format import unsupported_global

    buffer = io.BytesIO()
    try:
        torch.save(callback.state_dict(), buffer)
    except Exception:  # not taken or saved before training: the run says why
        return None
    buffer.seek(0)
    try:
        torch.load(buffer, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        return unsupported_global(str(error)) or "an object"
    return None


def check_callback_state(name: str, target: str, callback: Any) -> None:
    """Refuse the callback of entry ``callbacks.<name>`` (built from ``target``) whose
    ``state_dict()`` holds an object that its run's checkpoints could save but not load back
    (:func:`unloadable_state`): the run would train to its end and then fail to read its best
    checkpoint, as would lossbench-eval, lossbench-predict and a resume.

    Raises:
        ConfigError: the entry, its class, the object it holds, why and the fix.
    """
    from lossbench.errors import ConfigError

    held = unloadable_state(callback)
    if held is None:
        return
    cls = type(callback)
    built = f"{cls.__module__}.{cls.__qualname__}"
    what = f"{target}" if built == target else f"{target}, a {built}"
    holds = f"a {held!r} object" if held != "an object" else "an object that is not plain data"
    raise ConfigError(
        f"callbacks.{name} ({what}): its state_dict() holds {holds}, which the run's "
        f"checkpoints would save but could not load back: {STATE_RULE}. The run would train "
        "to its end and then fail to read its best checkpoint. Return tensors, numbers, "
        "strings and lists/dicts of them from state_dict() (e.g. the object's fields, rebuilt "
        f"in load_state_dict()), or drop the callback with ~callbacks.{name}."
    )


def check_callback_states(cfg: DictConfig, run_dir: str | Path) -> None:
    """Before a run starts: build each ``callbacks`` entry whose class takes its
    ``state_dict`` from one's own code (not a shipped target, nor Lightning's or lossbench's
    class: :func:`_own_state_dict`; a function of one's own is built to see what it returns)
    and refuse one whose state its checkpoints could not load back
    (:func:`check_callback_state`), for a run in ``run_dir`` (``paths.run_dir``). An entry that
    cannot be built here is left to the run, which builds it again and says why.

        >>> check_callback_states(OmegaConf.create({"callbacks": {"model_checkpoint": {
        ...     "_target_": "lossbench.callbacks.run_checkpoint"}}}), "runs/r")

    Raises:
        ConfigError: as :func:`check_callback_state`.
    """
    from lightning.pytorch.callbacks import Callback

    cfg = cfg.copy()
    if "paths" in cfg:
        with open_dict(cfg):
            cfg.paths.run_dir = str(run_dir)
    for name, node in entries(cfg.get("callbacks")):
        target = str(node.get("_target_")) if isinstance(node, Mapping) else ""
        if not target or target in SHIPPED_TARGETS:
            continue
        obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
        module = str(getattr(obj, "__module__", ""))
        if error is not None or module.startswith(_OWN_STATE_PACKAGES):
            continue
        if isinstance(obj, type) and not _own_state_dict(obj):
            continue
        try:
            callback = _build("callbacks", name, node, Callback)
        except Exception:  # the run builds it again, and refuses or fails as it always has
            continue
        if callback is not None:
            check_callback_state(name, target, callback)


def build_loggers(cfg: DictConfig) -> list[Any]:
    """The loggers of ``cfg.logger``, in their order."""
    from lightning.pytorch.loggers import Logger

    return [_build("logger", name, node, Logger) for name, node in entries(cfg.get("logger"))]
