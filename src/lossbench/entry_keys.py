"""The keys of ``logger.*`` and ``callbacks.*`` on the command line, checked before Hydra
composes anything.

The entries of these groups are nodes built from their ``_target_``, so their keys are the
target's arguments (:mod:`lossbench.entry_arguments`) rather than fields of a schema: Hydra
refuses a misspelt one (``logger.csv.flush_logs_every_n_step=5``) only with "Could not
override ... use +", and a key of an entry that the options chosen do not build
(``logger=mlflow logger.tracking_uri=...``, the old name of ``logger.mlflow.tracking_uri``)
with the same. This check works out the options chosen the way :mod:`lossbench.option_keys`
does (the command line's last ``logger=``, a list ``logger=[csv,mlflow]`` included, else an
``override /logger: ...`` of a chosen setup, experiment, search or debug config, else
``train.yaml``'s default), reads their entries from the shipped config files and refuses such a
key with the entries there are, the target's arguments and the closest name (exit status 2,
nothing written).

    >>> from lossbench.train import config_dir
    >>> print(unknown_entry_key("logger.tracking_uri=x", ["logger=mlflow"], config_dir()))
    logger.tracking_uri names no logger entry of logger=mlflow, whose entries are: mlflow. \
tracking_uri is an argument of logger.mlflow: did you mean logger.mlflow.tracking_uri?

``trainer.profiler.<argument>=`` is checked the same way (:func:`unknown_profiler_key`): its node
comes from the ``debug`` option chosen (``debug=profiler``: Lightning's ``SimpleProfiler``), and
an argument its target does not take, one the file does not set (Hydra cannot override it
without ``+``) or any argument where the run has no profiler node is refused.

    >>> print(unknown_profiler_key("trainer.profiler.filname=x", ["debug=profiler",
    ...     "trainer.profiler.filname=x"], config_dir()))  # doctest: +ELLIPSIS
    trainer.profiler.filname is not an argument of lightning.pytorch.profilers.SimpleProfiler ...

Where the options are not known before Hydra composes (a config directory added with ``-cd``,
a sweep whose jobs choose different ones, ``+logger=``, a sweeper's ``params``), the check is
left to Hydra and to the check of the composed config (:mod:`lossbench.instantiators`).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from lossbench.entry_arguments import SHIPPED_ARGUMENTS, unknown_argument
from lossbench.hydra_internals import hydra_arguments
from lossbench.option_keys import chosen_option
from lossbench.override_types import parsed_override

__all__ = [
    "GROUPS",
    "chosen_entries",
    "refuse_unknown_entry_keys",
    "unknown_entry_key",
    "unknown_profiler_key",
]

#: The config groups whose entries are built from a ``_target_``, and what one entry is called.
GROUPS = {"logger": "logger", "callbacks": "callback"}


def _option_entries(folder: Path, option: str, seen: frozenset[str] = frozenset()) -> dict:
    """The entries ``<folder>/<option>.yaml`` builds: its own nodes, after those of the
    options its ``defaults`` list names (``logger=many``: csv and tensorboard)."""
    path = folder / f"{option}.yaml"
    if option in seen or not path.is_file():
        return {}
    node = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: dict[str, Any] = {}
    for default in node.pop("defaults", None) or []:
        if isinstance(default, str) and default != "_self_":
            found.update(_option_entries(folder, default, seen | {option}))
    found.update({k: v for k, v in node.items() if isinstance(v, dict)})
    return found


def _chosen_options(group: str, arguments: Sequence[str], configs: Path) -> tuple[str, ...] | None:
    """The options of ``group`` a run of ``arguments`` (a command line, Hydra's flags included)
    composes (:func:`lossbench.option_keys.chosen_option`); None when that is not known before
    Hydra composes."""
    parsed = hydra_arguments(arguments)
    if parsed is None or parsed.shell_completion:
        return None
    return chosen_option(group, parsed.overrides, configs, multirun=parsed.multirun)


def chosen_entries(group: str, arguments: Sequence[str], configs: Path) -> dict | None:
    """``{entry: node}`` of ``group`` with the options ``arguments`` choose, or None when they
    cannot be known before Hydra composes.

        >>> from lossbench.train import config_dir
        >>> sorted(chosen_entries("logger", ["logger=many"], config_dir()))
        ['csv', 'tensorboard']
    """
    options = _chosen_options(group, arguments, configs)
    if options is None:
        return None
    entries: dict[str, Any] = {}
    for option in options:
        entries.update(_option_entries(configs / group, option))
    return entries


def _added_entries(group: str, arguments: Sequence[str]) -> set[str]:
    """Entries the command line adds itself (``+callbacks.timer._target_=...``)."""
    added = set()
    for argument in arguments:
        key, _, value = argument.partition("=")
        parts = key.lstrip("+").split(".")
        whole = len(parts) == 2 and value.lstrip().startswith("{")  # +logger.mine={...}
        if key.startswith("+") and parts[0] == group and (len(parts) > 2 or whole):
            added.add(parts[1])
    return added


def unknown_entry_key(argument: str, arguments: Sequence[str], configs: Path) -> str | None:
    """The refusal of ``argument`` when it sets a key of a ``logger`` or ``callbacks`` entry
    that the run would not build, or an argument its target does not take; else None (also
    when it cannot be told before Hydra composes)."""
    if argument.startswith(("-", "~")) or "=" not in argument:
        return None
    key, _, value = argument.partition("=")
    plus = len(key) - len(key.lstrip("+"))
    parts = key.lstrip("+").split(".")
    if parts[0] not in GROUPS or len(parts) < 2:
        return None
    group, name = parts[0], parts[1]
    if plus == 1 and (len(parts) > 2 or value.lstrip().startswith("{")):
        return None  # an entry, or one's argument, added on purpose: checked once composed
    entries = chosen_entries(group, arguments, configs)
    if entries is None or name in _added_entries(group, arguments):
        return None
    options = _chosen_options(group, arguments, configs) or ("null",)
    chosen = " ".join(a for a in arguments if a.partition("=")[0] == group) or (
        f"{group}={options[0] if len(options) == 1 else '[' + ','.join(options) + ']'}"
    )
    if name not in entries:
        return _no_such_entry(group, name, parts, entries, chosen, configs)
    node = entries[name]
    target = str(node.get("_target_", ""))
    # the class given on the command line before this argument, where one is: Hydra builds it
    before = list(arguments)[: list(arguments).index(argument)]
    replaced = [
        a.partition("=")[2] for a in before if a.partition("=")[0] == f"{group}.{name}._target_"
    ]
    target = replaced[-1] if replaced else target
    chosen += f" with the command line's {group}.{name}._target_" if replaced else ""
    accepted = SHIPPED_ARGUMENTS.get(target)
    if len(parts) < 3 or accepted is None:
        return None
    argument_name = parts[2]
    if argument_name in node or argument_name.startswith("_"):
        return None  # set in the file, or one of Hydra's own keys (_partial_, ...)
    refusal = unknown_argument(group, name, {argument_name: value}, target, accepted)
    if refusal is not None:
        return (
            f"{refusal} ({group}.{name} is built by {chosen}; an argument configs/{group}/ does "
            f"not set is added with a +: +{group}.{name}.<argument>={value}.)"
        )
    if plus:
        return None
    return (
        f"{group}.{name}.{argument_name} is an argument of {target} ({group}.{name}) that "
        f"configs/{group}/ does not set, so Hydra cannot override it: add it with a +, "
        f"+{group}.{name}.{argument_name}={value}."
    )


def _no_such_entry(
    group: str, name: str, parts: list[str], entries: dict, chosen: str, configs: Path
) -> str:
    """The refusal of ``group.name...`` where ``name`` is no entry of the options chosen."""
    kind = GROUPS[group]
    listed = ", ".join(entries) or "none"
    message = f"{'.'.join(parts)} names no {kind} entry of {chosen}, whose entries are: {listed}."
    # the key may be an argument of an entry (logger.tracking_uri: logger.mlflow.tracking_uri)
    owners = [
        entry
        for entry, node in entries.items()
        if name in (SHIPPED_ARGUMENTS.get(str(node.get("_target_"))) or ())
    ]
    elsewhere = [] if owners else _options_taking(group, name, configs)
    if owners:
        rest = ".".join(parts[1:])
        suggested = " or ".join(f"{group}.{owner}.{rest}" for owner in owners)
        message += f" {name} is an argument of {group}.{owners[0]}: did you mean {suggested}?"
    elif elsewhere:  # logger.tracking_uri with logger=csv: an argument of logger=mlflow's entry
        option, entry = elsewhere[0]
        rest = ".".join(parts[1:])
        message += (
            f" {name} is an argument of {group}.{entry}, which {group}={option} builds: choose "
            f"it, {group}={option} {group}.{entry}.{rest}=..."
        )
        return message
    else:
        close = difflib.get_close_matches(name, list(entries), n=1, cutoff=0.6)
        if close:
            message += f" Did you mean {'.'.join([group, close[0], *parts[2:]])}?"
    others = _options_with(group, name, configs)
    if others and not owners:
        message += (
            f" {group}.{name} is built by {' or '.join(f'{group}={o}' for o in others)}: "
            "choose it, or add it to a list of options"
            + (f" ({group}=[{','.join([*entries, others[0]])}])." if group == "logger" else ".")
        )
    if not owners and not others:
        message += (
            f" An entry the config files do not hold is added with +: "
            f"+{group}.{name}._target_=<module.Class>."
        )
    return message


def _options_taking(group: str, argument: str, configs: Path) -> list[tuple[str, str]]:
    """(option, entry) for each entry of a ``group`` option whose target takes ``argument``
    (``tracking_uri``: ``("mlflow", "mlflow")``), options that build one entry first."""
    found = []
    for path in sorted((configs / group).glob("*.yaml")):
        entries = _option_entries(configs / group, path.stem)
        for entry, node in entries.items():
            if argument in (SHIPPED_ARGUMENTS.get(str(node.get("_target_"))) or ()):
                found.append((len(entries), path.stem, entry))
    return [(option, entry) for _, option, entry in sorted(found)]


def _options_with(group: str, name: str, configs: Path) -> list[str]:
    """The options of ``group`` whose file builds entry ``name``."""
    return sorted(
        path.stem
        for path in (configs / group).glob("*.yaml")
        if name in _option_entries(configs / group, path.stem)
    )


#: The key of the profiler node, and the group whose options set it (``debug=profiler``).
PROFILER = "trainer.profiler"
_PROFILER_GROUP = "debug"
#: Hydra could not tell the node (a sweep of it, a value its parser reads otherwise).
_UNKNOWN = object()


def _file_profiler(folder: Path, option: str, seen: frozenset[str] = frozenset()) -> Any:
    """``trainer.profiler`` as ``<folder>/<option>.yaml`` sets it (after the options its
    ``defaults`` list names), or None where it sets none."""
    path = folder / f"{option}.yaml"
    if option in seen or not path.is_file():
        return None
    node = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = None
    for default in node.get("defaults", None) or []:
        if isinstance(default, str) and default != "_self_":
            found = _file_profiler(folder, default, seen | {option}) or found
    trainer = node.get("trainer")
    if isinstance(trainer, dict) and PROFILER.split(".")[1] in trainer:
        found = trainer[PROFILER.split(".")[1]]
    return found


def _profiler_options(configs: Path) -> list[str]:
    """The ``debug`` options whose file sets a ``trainer.profiler`` node."""
    folder = configs / _PROFILER_GROUP
    return sorted(
        path.stem
        for path in folder.glob("*.yaml")
        if isinstance(_file_profiler(folder, path.stem), dict)
    )


def _replayed(node: Any, before: Sequence[str]) -> Any:
    """``node`` after the command line's changes of ``trainer.profiler`` in ``before`` (the
    arguments ahead of the one checked, as Hydra applies them in order); :data:`_UNKNOWN`
    where one cannot be told."""
    node = dict(node) if isinstance(node, dict) else node
    for argument in before:
        key = argument.partition("=")[0].lstrip("+~")
        if key != PROFILER and not key.startswith(f"{PROFILER}."):
            continue
        override = parsed_override(argument)
        if override is None or override.is_sweep_override():
            return _UNKNOWN
        if override.is_delete():
            node = None if key == PROFILER else node
            if isinstance(node, dict):
                node.pop(key.removeprefix(f"{PROFILER}.").split(".")[0], None)
            continue
        value = override.value()
        if key == PROFILER:
            node = dict(value) if isinstance(value, dict) else value
        elif isinstance(node, dict) or (node is None and override.is_add()):
            node, sub = dict(node or {}), key.split(".")[2]
            node[sub] = value if key.count(".") == 2 else node.get(sub, {})
        else:
            return _UNKNOWN
    return node


def _replaces_node(before: Sequence[str]) -> bool:
    """Whether the command line sets or removes the whole ``trainer.profiler`` in ``before``."""
    return any(a.partition("=")[0].lstrip("+~") == PROFILER for a in before)


def unknown_profiler_key(argument: str, arguments: Sequence[str], configs: Path) -> str | None:
    """The refusal of ``argument`` when it sets ``trainer.profiler.<name>`` without ``+`` where
    Hydra cannot (the run has no profiler node, or the node's file does not set ``name``), or
    names an argument the node's target does not take; else None (also when it cannot be told
    before Hydra composes). ``+trainer.profiler.<name>=`` is checked once composed."""
    if argument.startswith(("-", "~", "+")) or "=" not in argument:
        return None
    key, _, value = argument.partition("=")
    if not key.startswith(f"{PROFILER}.") or key.count(".") < 2:
        return None
    name = key.split(".")[2]
    options = _chosen_options(_PROFILER_GROUP, arguments, configs)
    if options is None:
        return None
    folder = configs / _PROFILER_GROUP
    shipped = None
    for option in options:
        shipped = _file_profiler(folder, option) or shipped
    index = list(arguments).index(argument)
    node = _replayed(shipped, arguments[:index])
    if node is _UNKNOWN or (isinstance(node, dict) and name in node):
        return None  # a sweep of it (Hydra says why), or a key the node has
    given = " ".join(a for a in arguments if a.partition("=")[0] == _PROFILER_GROUP)
    chosen = given or (f"{_PROFILER_GROUP}={options[0]}" if options else "")
    if isinstance(node, str):
        why = f"{PROFILER}={node} names a profiler, which takes no arguments of yours"
        return _no_profiler(argument, name, value, why, configs, named=False)
    if node is None:
        why = f"{PROFILER} is null" + (f" with {chosen}" if chosen else ", as train.yaml leaves it")
        return _no_profiler(argument, name, value, why, configs, named=True)
    if not isinstance(node, dict):
        return None  # not a profiler at all: the check of the composed config says why
    if name.startswith("_") and name != "_target_":
        return None  # one of Hydra's keys (_partial_, ...): Hydra says why
    target = str(node.get("_target_", ""))
    if not target:
        return None  # no class to check against: the check of the composed config says why
    accepted = SHIPPED_ARGUMENTS.get(target)
    option_file = f"configs/{_PROFILER_GROUP}/{options[0]}.yaml" if options else ""
    if _replaces_node(arguments[:index]) or not option_file:
        chosen, option_file = "the command line", f"the command line's {PROFILER}="
    if name == "_target_" or accepted is None:
        return (
            f"{key} is not set by {option_file} (which sets {', '.join(map(str, node))}), so "
            f"Hydra cannot override it: an argument of {target} is added with a +, "
            f"+{key}={value} (checked against {target}'s arguments before the run starts)."
        )
    refusal = unknown_argument("trainer", "profiler", {name: value}, target, accepted)
    if refusal is not None:
        return (
            f"{refusal} ({PROFILER} is built by {chosen}; an argument {option_file} does not "
            f"set is added with a +: +{PROFILER}.<argument>={value}.)"
        )
    return (
        f"{key} is an argument of {target} ({PROFILER}) that {option_file} does not set, so "
        f"Hydra cannot override it: add it with a +, +{key}={value}."
    )


def _no_profiler(
    argument: str, name: str, value: str, why: str, configs: Path, *, named: bool
) -> str:
    """The refusal of ``trainer.profiler.<name>=value`` where the run has no profiler node
    (``why``: what ``trainer.profiler`` is instead); ``named``: offer a profiler's name too."""
    options = _profiler_options(configs)
    if not options:
        return (
            f"{argument}: the run has no profiler node to set {name} in ({why}): name a "
            f"profiler, {PROFILER}=simple."
        )
    folder = configs / _PROFILER_GROUP
    node = _file_profiler(folder, options[0])
    target = str(node.get("_target_", ""))
    accepted = SHIPPED_ARGUMENTS.get(target) or ()
    choose = f"{_PROFILER_GROUP}={options[0]}"
    message = (
        f"{argument}: the run has no profiler node to set {name} in ({why}; {choose} sets "
        f"one, building {target})"
    )
    close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
    best = name
    if not name.startswith("_") and accepted and name not in accepted:
        hint = f" Did you mean {PROFILER}.{close[0]}?" if close else ""
        best = close[0] if close else "<argument>"
        message += (
            f", and {name} is not an argument of {target} either.{hint} Its arguments: "
            f"{', '.join(accepted)}."
        )
    else:
        message += "."
    fix = f"{choose} {PROFILER}.{best}={value}"
    if named:
        fix += (
            f" (or {PROFILER}=simple, advanced or pytorch, whose report goes to "
            "<run dir>/fit-profile.txt)"
        )
    return f"{message} Choose the profiler first, then set it: {fix}."


def refuse_unknown_entry_keys(arguments: Sequence[str], configs: Path) -> None:
    """Print the refusal of the first ``logger.*`` / ``callbacks.*`` key in ``arguments`` that
    the run would not build or its target does not take, or ``trainer.profiler.*`` key Hydra
    could not set or the profiler does not take (:func:`unknown_profiler_key`), and exit with
    status 2."""
    for argument in arguments:
        refusal = unknown_entry_key(argument, arguments, configs) or unknown_profiler_key(
            argument, arguments, configs
        )
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)
