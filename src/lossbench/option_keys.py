"""A key of a config group that the option chosen does not have (``loss.gamma=2`` with the
default ``loss=bce_with_logits``), refused with the options that have it.

Hydra refuses such a key when it composes the config, with exit status 1 and advice that is
rarely what was meant ("To append to your config use +loss.gamma=2": nothing would read it).
:mod:`lossbench.command_keys` refuses a key that no option of the group has; this module
refuses one that the option chosen lacks, with what was chosen, where from, the options that
have the key and the chosen option's own settings (exit status 2, nothing written):

    >>> from lossbench.train import config_dir
    >>> print(option_key_refusal(["loss.gamma=2"], config_dir()))
    loss.gamma=2: the loss chosen, loss=bce_with_logits (train.yaml's default), has no \
setting 'gamma'. gamma is a setting of loss=focal: choose it (e.g. loss=focal loss.gamma=2), \
or set one of bce_with_logits's settings: size_average, reduce, reduction, weight, \
pos_weight, pos_weight_scale.
    >>> option_key_refusal(["setup=logits_focal", "loss.gamma=2"], config_dir()) is None
    True

Two layers, because the option chosen is known in two places:

1. Before Hydra starts (:func:`option_key_refusal`), from the command line and the shipped
   YAML files, the way Hydra chooses: the last ``group=option`` of the command line wins; else
   an ``override /group: option`` in the defaults list of a config chosen (a ``setup=``, an
   ``hparams_search=`` choosing a setup that chooses the loss, ...); else ``train.yaml``'s
   default. Every job of a sweep is checked, so ``-m loss=focal,cross_entropy loss.gamma=2``
   is refused before the focal job trains, naming cross_entropy; and in a multirun, also the
   config Hydra composes first without the swept options, where a value given outside the
   sweep is set too (``-m scheduler=cosine,warmup_cosine scheduler.eta_min=0.01`` fails there,
   on the default ``scheduler=none``; a sweep of one value, ``choice(0.01)``, is set in the
   jobs only).
   This is where the refusal can say where the option came from and how to fix a sweep, and
   where it costs nothing (a few YAML files read, no composition).
2. Where the command line and the files do not decide (a config directory added with ``-cd``,
   a sweeper's ``params`` or ``linked`` choosing options, ``+group=``, a list of options), the
   check gives up and Hydra composes: its error (a ``ConfigCompositionException`` caused by
   OmegaConf's missing-key error, which carries the key and the node composed) is translated
   into the same refusal by :func:`composition_refusal`, through the one hook Hydra's
   ``run_and_report`` leaves (:func:`lossbench.hydra_internals.translating_errors`). It names
   the option Hydra composed but not who chose it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lossbench.config import SCHEMAS
from lossbench.key_owners import (
    NeededKeys,
    needed_keys,
    option_settings,
    options_with,
    schema_fields,
    unmet,
)
from lossbench.removals import absent_key_refusal, keep_null, removed_key, schema_key_refusal
from lossbench.search_params import without_key
from lossbench.setup_names import SETUP_GROUPS, choose_owner

__all__ = [
    "Option",
    "added_group_refusal",
    "chosen_option",
    "chosen_options",
    "composition_refusal",
    "missing_option_refusal",
    "option_key_refusal",
    "refuse_option_keys",
    "removed_key_refusal",
    "removed_null_refusal",
]

#: An option of a config group: its name, a list of options (``logger=[csv,mlflow]``, a tuple),
#: or None (``setup: null``: no option).
Option = str | tuple[str, ...] | None

#: Groups whose keys are checked elsewhere (:mod:`lossbench.trainer_args`) or have one option.
_SKIPPED = ("trainer", "paths")

#: The most sweep jobs whose options are worked out one by one; a larger sweep is left to Hydra.
_MOST_JOBS = 10_000

_DEFAULT = "train.yaml's default"
#: A group that a config's sweeper sweeps (:func:`_walk`).
_SWEPT = object()
_GIVEN = "on the command line"


class _Unknown(Exception):
    """The options cannot be known before Hydra composes."""


@dataclass(frozen=True)
class _Choice:
    """An option chosen for a group, and who chose it (for the message)."""

    option: Option
    source: str


def _option(value: Any) -> Option:
    """``value`` of a defaults list or a command line as an :data:`Option`; raises
    :class:`_Unknown` where it names no option (a mapping, a number).

    >>> _option(["csv", "mlflow"]), _option("csv"), _option(None)
    (('csv', 'mlflow'), 'csv', None)
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _Unknown


def _names(option: Option) -> tuple[str, ...]:
    """The option names of ``option``: one, several for a list, none for None."""
    if option is None:
        return ()
    return (option,) if isinstance(option, str) else option


def _typed(option: Option) -> str:
    """``option`` as it is typed after ``group=``: ``csv``, ``[csv,mlflow]``, ``null``."""
    if option is None:
        return "null"
    return option if isinstance(option, str) else f"[{','.join(option)}]"


@functools.cache
def _read(path: Path) -> dict[str, Any]:
    """The YAML file ``path``; raises :class:`_Unknown` where it cannot be read (Hydra says
    why, when it composes)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where installed
    try:
        node = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise _Unknown from None
    return node if isinstance(node, dict) else {}


@functools.cache
def _primary_defaults(configs: Path) -> dict[str, Option]:
    """``{group: option}`` of ``train.yaml``'s defaults list (None: no option, ``setup: null``)."""
    chosen: dict[str, Option] = {}
    for entry in _read(configs / "train.yaml").get("defaults") or []:
        if isinstance(entry, dict):
            for group, option in entry.items():
                chosen[str(group)] = _option(option)
    return chosen


def _entry(group: str, entry: Any) -> tuple[bool, str, Any] | None:
    """A defaults-list ``entry`` of a config of ``group``: ``(override?, group, option)``
    (the group absolute, without a package); None for ``_self_``."""
    if isinstance(entry, str):  # _self_, default (this group), /schema/data/csv@_here_
        if entry == "_self_":
            return None
        name = entry.split("@", 1)[0]
        folder, _, option = name.lstrip("/").rpartition("/")
        if name.startswith("/"):
            return False, folder, option
        return False, f"{group}/{folder}" if folder else group, option
    if not isinstance(entry, dict) or len(entry) != 1:
        raise _Unknown
    ((key, option),) = entry.items()
    words = str(key).split()
    override = "override" in words[:-1]
    name = words[-1]
    if "@" in name:
        if override:
            raise _Unknown  # an option of a group placed elsewhere
        name = name.split("@", 1)[0]
    target = name[1:] if name.startswith("/") else f"{group}/{name}"
    return override, target, option


@functools.cache
def _walk(configs: Path, group: str, option: str) -> tuple[tuple[str, Any], ...]:
    """The ``override /group: option`` entries of ``<group>/<option>.yaml`` and of the configs
    its defaults list includes, in order, and each config group its sweeper sweeps or links
    (``hydra.sweeper.params``, ``.linked``) as ``(group, _SWEPT)``. Raises :class:`_Unknown`
    where a config cannot be read here."""
    path = configs / group / f"{option}.yaml"
    if not path.is_file():
        raise _Unknown
    node = _read(path)
    found: list[tuple[str, Any]] = []
    sweeper = (node.get("hydra") or {}).get("sweeper") or {}
    if isinstance(sweeper, dict):
        for name in ("params", "linked"):
            found.extend((str(k), _SWEPT) for k in sweeper.get(name) or {} if "." not in str(k))
    for entry in node.get("defaults") or []:
        parsed = _entry(group, entry)
        if parsed is None:
            continue
        override, target, chosen = parsed
        if target.split("/", 1)[0] in ("hydra", "schema"):
            continue  # Hydra's own groups; the schemas in Hydra's ConfigStore
        if override:
            found.append((target, chosen))
        else:
            for name in _names(_option(chosen)):
                found.extend(_walk(configs, target, name))
    return tuple(found)


@functools.cache
def _choosers(configs: Path) -> dict[str, frozenset[str]]:
    """``{group: groups its options override}`` over every option file of ``configs``."""
    found: dict[str, set[str]] = {}
    for folder in sorted(p for p in configs.iterdir() if p.is_dir() and p.name != "hydra"):
        for path in folder.glob("*.yaml"):
            try:
                walked = _walk(configs, folder.name, path.stem)
                targets = {target for target, option in walked if option is not _SWEPT}
            except _Unknown:
                targets = {"*"}  # may choose anything
            found.setdefault(folder.name, set()).update(targets)
    return {group: frozenset(targets) for group, targets in found.items()}


def _deciding(group: str, configs: Path) -> set[str]:
    """``group`` and every group whose options choose it, or choose one that does."""
    choosers = _choosers(configs)
    deciding = {group}
    while True:
        more = {g for g, targets in choosers.items() if targets & deciding or "*" in targets}
        if more <= deciding:
            return deciding
        deciding |= more


def _resolve(
    external: Mapping[str, _Choice], configs: Path, multirun: bool, deciding: set[str]
) -> dict[str, _Choice]:
    """The option of every group for the command line's choices ``external``: those first, then
    the overrides of the configs chosen, then ``train.yaml``'s defaults. Raises
    :class:`_Unknown` where (``multirun``) a chosen config's sweeper sweeps one of the
    ``deciding`` groups (:func:`_deciding`)."""
    defaults = {g: _Choice(o, _DEFAULT) for g, o in _primary_defaults(configs).items()}
    chosen = {**defaults, **external}
    for _ in range(10):
        overrides: dict[str, _Choice] = {}
        for group, choice in chosen.items():
            by = f"chosen by {group}={_typed(choice.option)}"
            if choice.source not in (_DEFAULT, _GIVEN):
                by += f", {choice.source}"
            for name in _names(choice.option):
                for target, option in _walk(configs, group, name):
                    if option is _SWEPT:
                        if multirun and target in deciding:  # each job of its sweep chooses
                            raise _Unknown
                        continue
                    option = _option(option)
                    if target in overrides and overrides[target].option != option:
                        raise _Unknown  # two configs choose differently
                    overrides.setdefault(target, _Choice(option, by))
        resolved = {**defaults, **overrides, **external}
        if resolved == chosen:
            return chosen
        chosen = resolved
    raise _Unknown


@dataclass(frozen=True)
class _CommandLine:
    """The choices of a command line: fixed ones, swept ones (each value, and the sweep as
    typed), and groups chosen in a way this check does not follow."""

    fixed: dict[str, _Choice]
    swept: dict[str, tuple[list[str | None], str]]
    opaque: set[str]

    def jobs(self, group: str, configs: Path, multirun: bool) -> list[_Choice]:
        """The option of ``group`` in each job (one where nothing is swept), in the order of
        the sweep; raises :class:`_Unknown` where they are not known before Hydra composes."""
        return [job[group] for job in self.resolved_jobs(group, configs, multirun)]

    def resolved_jobs(self, group: str, configs: Path, multirun: bool) -> list[dict[str, _Choice]]:
        """Each job's option of every group (:meth:`jobs`), those deciding ``group`` known."""
        deciding = _deciding(group, configs)
        if "*" in self.opaque or self.opaque & deciding:
            raise _Unknown
        if self.swept and not multirun:
            raise _Unknown  # Hydra refuses a sweep without -m itself
        swept = {g: self.swept[g] for g in sorted(deciding & set(self.swept))}
        combinations = list(
            itertools.islice(itertools.product(*(v for v, _ in swept.values())), _MOST_JOBS + 1)
        )
        if len(combinations) > _MOST_JOBS:
            raise _Unknown
        jobs: list[dict[str, _Choice]] = []
        for values in combinations:
            external = dict(self.fixed)
            for (g, (_, typed)), value in zip(swept.items(), values, strict=True):
                external[g] = _Choice(value, f"one job of the sweep {typed}")
            jobs.append(_resolve(external, configs, multirun, deciding))
        return jobs

    def first(self, group: str, configs: Path, multirun: bool) -> _Choice:
        """The option of ``group`` in the config a multirun composes first, without the swept
        options (that of the single run, without ``-m``)."""
        return _resolve(self.fixed, configs, multirun, _deciding(group, configs))[group]


def _swept_options(override: Any, configs: Path) -> list[str]:
    """The options a discrete sweep of a config group gives its jobs: its values, or for
    ``glob(...)`` the option files of ``configs/<group>/`` it matches, in Hydra's order (Hydra
    lists them through its config loader, which a check before Hydra starts does not have).

        >>> from lossbench.override_types import parsed_override
        >>> from lossbench.train import config_dir
        >>> _swept_options(parsed_override("data=glob([ir*,w*])"), config_dir())
        ['iris', 'wine']
    """
    from hydra.core.override_parser.types import Glob

    value = override.value()
    if not isinstance(value, Glob):
        return list(override.sweep_string_iterator())
    folder = configs / override.key_or_group
    return value.filter(sorted(path.stem for path in folder.glob("*.yaml")))


def _choices(parsed: Sequence[Any], configs: Path, multirun: bool) -> _CommandLine:
    groups = set(_primary_defaults(configs)) | {p.name for p in configs.iterdir() if p.is_dir()}
    fixed: dict[str, _Choice] = {}
    swept: dict[str, tuple[list[str | None], str]] = {}
    opaque: set[str] = set()
    for override in parsed:
        key = override.key_or_group
        if key.startswith(("hydra.sweeper.params", "hydra.sweeper.linked")):
            opaque.add("*")
        if key not in groups:
            continue
        fixed.pop(key, None)
        swept.pop(key, None)
        opaque.discard(key)
        if override.package is not None or not _is_change(override):
            opaque.add(key)  # +group=, ~group, group@package=
        elif override.is_sweep_override():
            if multirun and override.is_discrete_sweep():
                values = [None if v == "null" else v for v in _swept_options(override, configs)]
                swept[key] = (values, override.input_line)
            else:
                opaque.add(key)
        else:
            try:
                fixed[key] = _Choice(_option(override.value()), _GIVEN)  # one, a list, null
            except _Unknown:
                opaque.add(key)
    return _CommandLine(fixed, swept, opaque)


def _is_change(override: Any) -> bool:
    """Whether ``override`` sets a value (``key=``), rather than adding or removing one (``+key=``,
    ``++key=``, ``~key``)."""
    return not (override.is_add() or override.is_force_add() or override.is_delete())


def _is_multirun(parsed: Sequence[Any], multirun: bool) -> bool:
    return multirun or any(
        o.key_or_group == "hydra.mode" and str(o.value()).upper() == "MULTIRUN" for o in parsed
    )


def _one_value_sweep(path: str, value: str) -> str:
    """``path=choice(value)``, quoted for the shell where it needs it."""
    override = f"{path}=choice({value})"
    return override if re.fullmatch(r"[\w.=()\-+,]+", override) else shlex.quote(override)


#: A job's search: the ``hparams_search`` option that chose it (None where that is not known:
#: a config of a ``-cd`` folder) and its ``hydra.sweeper.params``.
_Search = tuple[str | None, dict[str, str]]


@dataclass(frozen=True)
class _SetupAdvice:
    """The setup a refused job chooses (None: none), the command line's overrides of the setup,
    head and loss, and the config folders whose setups are read: what an option's advice must
    keep to pass the setup check (:func:`lossbench.setup_names.choose_owner`); ``swept``: the
    setups of the command line's sweep of ``setup``, if any; ``needs``: the other keys of the
    group the advised option must have, and which of them the search tunes
    (:func:`_needed_keys`); ``search``: the job's search and its ``hydra.sweeper.params``, where
    it has any; ``arguments``: the command line's overrides; ``multirun``: ``-m`` was given."""

    setup: str | None
    given: list[str]
    folders: list[Path]
    swept: list[str] = dataclasses.field(default_factory=list)
    needs: NeededKeys = dataclasses.field(default_factory=NeededKeys)
    search: _Search | None = None
    arguments: list[str] = dataclasses.field(default_factory=list)
    multirun: bool = True


def _search_params(job: Mapping[str, _Choice], configs: Path) -> _Search | None:
    """The search config a job chooses (``hparams_search=optuna_pos_weight``) and its
    ``hydra.sweeper.params`` as its file gives them; None where it chooses none or has none.

        >>> from lossbench.train import config_dir
        >>> name, params = _search_params({"hparams_search": _Choice("optuna_focal", "")},
        ...                               config_dir())
        >>> name, params["loss.gamma"]
        ('optuna_focal', 'interval(0.0, 5.0)')
    """
    choice = job.get("hparams_search")
    if choice is None or not isinstance(choice.option, str):
        return None
    path = configs / "hparams_search" / f"{choice.option}.yaml"
    if not path.is_file():
        return None
    sweeper = (_read(path).get("hydra") or {}).get("sweeper") or {}
    params = sweeper.get("params") if isinstance(sweeper, dict) else None
    if not isinstance(params, dict) or not params:
        return None
    return choice.option, {str(k): str(v) for k, v in params.items()}


def _needed_keys(path: str, parsed: Sequence[Any], search: _Search | None) -> NeededKeys:
    """The keys of ``path``'s group, other than its own, that an option advised for ``path``
    must have too (:func:`lossbench.key_owners.needed_keys`): those the command line's other
    overrides set (``loss.gamma_neg=1``; not those that add or remove a key), and those its
    search tunes."""
    group, key = path.split(".")[:2]
    return needed_keys(group, key, [o for o in parsed if _is_change(o)], search)


def _lacks(
    argument: str,
    path: str,
    choice: _Choice,
    sweep: Sequence[str | None],
    primary_has: bool,
    advice: _SetupAdvice | None = None,
) -> str:
    """The refusal of ``argument`` (``path=value``) where the option of ``choice`` lacks its key;
    ``sweep``: the options of the command line's sweep of the group, where the option is one of
    them (else empty); ``primary_has``: whether the multirun's first config has the key;
    ``advice``: the job's setup, for a fix that its setup check lets through."""
    group, key = path.split(".")[:2]
    option = str(choice.option)
    needs = advice.needs.keys if advice is not None else {}
    owners = options_with(group, [key, *needs])
    value = argument.split("=", 1)[1]
    message = (
        f"{argument}: the {group} chosen, {group}={option} ({choice.source}), has no setting "
        f"{key!r}."
    )
    own = _or_its_own(option, option_settings(group, option) or [])
    holders = options_with(group, [key])
    if not holders:
        return f"{message} No option of {group} has it: remove it{own}"
    unmet_needs = unmet(group, key, needs)
    if unmet_needs is not None and advice is not None:
        listed = ", ".join(f"{group}={o}" for o in holders)
        fix = f"{unmet_needs}: leave {argument} out{_without_searched(argument, advice)}"
        return f"{message} {key} is a setting of {listed}, but {fix}{own}"
    listed = ", ".join(f"{group}={o}" for o in owners)
    if sweep:
        swept = [o for o in sweep if o in owners]
        if len(swept) > 1:
            keyed = argument if primary_has else _one_value_sweep(path, value)
            example = f"-m {group}={','.join(swept)} {keyed}"
        else:
            example = f"{group}={(swept or owners)[0]} {argument}"
        fix = f"sweep only options that have it (e.g. {example})"
    elif advice is not None:
        fix = choose_owner(
            group,
            owners,
            advice.setup,
            advice.folders,
            given=advice.given,
            argument=argument,
            swept=advice.swept,
            swept_argument=argument if primary_has else _one_value_sweep(path, value),
        )
    else:
        fix = choose_owner(group, owners, None, [], argument=argument)
    return f"{message} {key} is a setting of {listed}: {fix}{own}"


def _without_searched(argument: str, advice: _SetupAdvice) -> str:
    """The end of the advice for ``argument`` (``loss.gamma=2``) where no option has its key and
    every key its search tunes (``loss.pos_weight_scale``): the search without those keys, with
    an option (or a setup's) that has the command line's keys (:func:`without_key`); empty
    where no such key is a search's. A command line without ``-m`` is advised commands with it:
    without it, Hydra runs no search."""
    if advice.search is None:
        return ""
    _, params = advice.search
    path = argument.split("=", 1)[0]
    group, key = path.split(".")[:2]
    searched = advice.needs.searched
    kept = {
        k: v
        for k, v in params.items()
        if k.split(".", 1)[-1] not in searched or not k.startswith(f"{group}.")
    }
    own = [k for k in advice.needs.keys if k not in searched]
    owners = options_with(group, [key, *own])
    if not searched or not owners:
        return ""
    lines = " ".join(without_key("", kept, advice.arguments))
    fix = choose_owner(
        group,
        owners,
        advice.setup,
        advice.folders,
        given=advice.given,
        argument=f"{argument} {lines}",
        flags="" if advice.multirun else "-m ",
    )
    dropped = ", ".join(f"{group}.{k}" for k in sorted(searched))
    run = "" if advice.multirun else " with -m (without it, Hydra runs no search)"
    return f", or search without {dropped}{run}: {fix}"


def _or_its_own(option: str, settings: Sequence[str]) -> str:
    """The end of a refusal: the option's own settings to set instead, if it has any.

    >>> _or_its_own("none", []), _or_its_own("mlp", ["dropout"])
    ('; none has no settings of its own.', ", or set one of mlp's settings: dropout.")
    """
    if not settings:
        return f"; {option} has no settings of its own."
    return f", or set one of {option}'s settings: {', '.join(settings)}."


def _lacked_by_first_config(argument: str, path: str, choice: _Choice, jobs: list[str]) -> str:
    """The refusal of ``argument`` where every job's option has its key, but not the option of
    the config Hydra composes first in a multirun, without the swept options."""
    group, key = path.split(".")[:2]
    value = argument.split("=", 1)[1]
    return (
        f"{argument}: in a multirun, Hydra first composes one config without the swept options, "
        f"with {group}={choice.option} ({choice.source}), and sets {path} there too, but "
        f"{choice.option} has no setting {key!r} (the jobs' {group}={','.join(jobs)} have it). "
        "Give the value as a sweep of one value, which Hydra sets in each job only: "
        f"{_one_value_sweep(path, value)}."
    )


def _key_refusal(override: Any, parsed: Sequence[Any], configs: Path, multirun: bool) -> str | None:
    """The refusal of ``override`` (``group.key=value``), or None where every option that
    would compose it has the key, or where that is not known before Hydra composes."""
    path = override.key_or_group
    group, key = path.split(".")[:2]
    line = _choices(parsed, configs, multirun)
    argument = override.input_line
    jobs: list[str] = []
    for job in line.resolved_jobs(group, configs, multirun):
        choice = job[group]
        if not isinstance(choice.option, str) or choice.option not in SCHEMAS[group]:
            raise _Unknown
        if key not in schema_fields(SCHEMAS[group][choice.option]):
            first = line.first(group, configs, multirun)
            primary_has = first.option in SCHEMAS[group] and key in schema_fields(
                SCHEMAS[group][first.option]
            )
            sweep = line.swept[group][0] if group in line.swept else []
            setup = job.get("setup", _Choice(None, _DEFAULT)).option
            given = [
                o.input_line
                for o in parsed
                if o.key_or_group in ("setup", *SETUP_GROUPS) and _is_change(o)
            ]
            search = _search_params(job, configs)
            advice = _SetupAdvice(
                setup if isinstance(setup, str) else None,
                given,
                [configs],
                swept=[v for v in line.swept["setup"][0] if v] if "setup" in line.swept else [],
                needs=_needed_keys(path, parsed, search),
                search=search,
                arguments=[o.input_line for o in parsed],
                multirun=multirun,
            )
            return _lacks(argument, path, choice, sweep, primary_has, advice)
        jobs.append(choice.option)
    swept = _deciding(group, configs) & set(line.swept)
    if multirun and swept and not override.is_sweep_override():
        first = line.first(group, configs, multirun)
        if not isinstance(first.option, str) or first.option not in SCHEMAS[group]:
            raise _Unknown
        if key not in schema_fields(SCHEMAS[group][first.option]):
            return _lacked_by_first_config(argument, path, first, list(dict.fromkeys(jobs)))
    return None


def _parsed(overrides: Sequence[str]) -> list[Any] | None:
    from lossbench.override_grammar import override_parser

    try:
        return override_parser().parse_overrides(list(overrides))
    except Exception:
        return None  # refused by the grammar check (lossbench.override_grammar), or Hydra's


def chosen_options(overrides: Sequence[str], configs: Path) -> dict[str, Option] | None:
    """``{group: option}`` of a single run of ``overrides``, as Hydra will choose them from the
    command line and the config files of ``configs`` (a list of options as a tuple); None where
    that is not known before Hydra composes (a sweep, ``+group=``, a file that cannot be read).

        >>> from lossbench.train import config_dir
        >>> chosen = chosen_options(["hparams_search=optuna_focal"], config_dir())
        >>> chosen["setup"], chosen["loss"], chosen["data"]
        ('logits_focal', 'focal', 'synthetic_binary_imbalanced')
    """
    parsed = _parsed(overrides)
    if parsed is None:
        return None
    try:
        line = _choices(parsed, configs, False)
        if line.swept or line.opaque:
            return None
        return {g: c.option for g, c in _resolve(line.fixed, configs, False, set()).items()}
    except _Unknown:
        return None


def chosen_option(
    group: str, overrides: Sequence[str], configs: Path, *, multirun: bool = False
) -> tuple[str, ...] | None:
    """The options of ``group`` that every job of ``overrides`` chooses, worked out the way
    :func:`chosen_options` does (one; several for a list, ``logger=[csv,mlflow]``; none for
    null), and in a multirun also the config Hydra composes first; None where they differ or
    are not known before Hydra composes.

        >>> from lossbench.train import config_dir
        >>> chosen_option("logger", ["logger=[csv,mlflow]"], config_dir())
        ('csv', 'mlflow')
        >>> chosen_option("logger", ["seed=0,1"], config_dir(), multirun=True)
        ('csv',)
        >>> chosen_option("logger", ["logger=csv,none"], config_dir(), multirun=True) is None
        True
    """
    parsed = _parsed(overrides)
    if parsed is None:
        return None
    multirun = _is_multirun(parsed, multirun)
    try:
        line = _choices(parsed, configs, multirun)
        options = {c.option for c in line.jobs(group, configs, multirun)}
        if multirun and line.swept:
            options.add(line.first(group, configs, multirun).option)
    except _Unknown:
        return None
    return _names(options.pop()) if len(options) == 1 else None


def option_key_refusal(
    overrides: Sequence[str], configs: Path, *, multirun: bool = False
) -> str | None:
    """The refusal of the first ``group.key=value`` of ``overrides`` (a command line's
    overrides, Hydra's flags left out) whose key an option chosen for ``group`` lacks, in any
    job of a sweep; None where every option chosen has its key, or where the options are not
    known before Hydra composes (left to :func:`composition_refusal`). ``configs``: the config
    directory, with nothing added (``-cd``); ``multirun``: ``-m`` was given.

        >>> from lossbench.train import config_dir
        >>> sweep = ["loss=focal,cross_entropy", "loss.gamma=2"]
        >>> print(option_key_refusal(sweep, config_dir(), multirun=True)[:49])
        loss.gamma=2: the loss chosen, loss=cross_entropy
    """
    parsed = _parsed(overrides)
    if parsed is None:
        return None
    multirun = _is_multirun(parsed, multirun)
    for override in parsed:
        path = override.key_or_group
        group = path.split(".", 1)[0]
        if (
            "." not in path
            or group not in SCHEMAS
            or group in _SKIPPED
            or override.package is not None
            or not _is_change(override)
        ):
            continue  # +key=, ++key= and ~key add or remove a key on purpose
        try:
            refusal = _key_refusal(override, parsed, configs, multirun)
        except _Unknown:
            continue
        if refusal is not None:
            return refusal
    return None


def refuse_option_keys(overrides: Sequence[str], configs: Path, *, multirun: bool = False) -> None:
    """Print :func:`option_key_refusal`'s refusal, if any, and exit with status 2."""
    refusal = option_key_refusal(overrides, configs, multirun=multirun)
    if refusal is not None:
        print(f"lossbench: refused: {refusal}", file=sys.stderr)
        sys.exit(2)


def _missing_key(error: BaseException) -> tuple[str, str, Any] | None:
    """``(path, key, node)`` of Hydra's "Could not override 'path'" where the config node it
    composed for the path's group lacks ``key``; else None."""
    from hydra.errors import ConfigCompositionException
    from omegaconf import DictConfig
    from omegaconf.errors import OmegaConfBaseException

    cause = error.__cause__
    if not isinstance(error, ConfigCompositionException) or not isinstance(
        cause, OmegaConfBaseException
    ):
        return None
    found = re.match(r"Could not override '([^']+)'", str(error))
    node = cause.parent_node
    if found is None or not isinstance(node, DictConfig):
        return None
    path = found.group(1)
    group = path.split(".", 1)[0]
    full_key = f"{group}.{cause.key}"
    if cause.full_key != full_key or not (path == full_key or path.startswith(f"{full_key}.")):
        return None
    return path, str(cause.key), node


_NOT_FOUND = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^'/]+)'")
_AVAILABLE = re.compile(r"Available options in '(?P<group>[^']+)':\n(?P<options>(?:\t[^\n]+\n?)+)")


def missing_option_refusal(
    error: BaseException, overrides: Sequence[str], command: str = "lossbench-train"
) -> str | None:
    r"""The refusal of Hydra's "Could not find 'GROUP/OPTION'" where an override of
    ``overrides`` chose that option (``hydra/launcher=nosuch``: the groups Hydra and its plugins
    bring, which lossbench's own check of options does not list), with the group's options
    from Hydra's message; else None (Hydra reports it).

        >>> from hydra.errors import MissingConfigException
        >>> error = MissingConfigException(
        ...     "In 'hydra/config': Could not find 'hydra/launcher/vectorised'\n\n"
        ...     "Available options in 'hydra/launcher':\n\tbasic\n\tvectorized\n")
        >>> print(missing_option_refusal(error, ["-m", "hydra/launcher=vectorised"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        hydra/launcher=vectorised: hydra/launcher has no option 'vectorised'. Did you mean
        hydra/launcher=vectorized? Options of hydra/launcher: basic, vectorized.
    """
    import difflib

    found = _NOT_FOUND.search(str(error))
    if found is None:
        return None
    group, option = found["group"], found["option"]
    given = [a for a in overrides if a.lstrip("+~").split("=", 1) == [group, option]]
    if not given:
        return None  # chosen in a config file (a defaults list), not on the command line
    available = _AVAILABLE.search(str(error))
    options = [] if available is None else available["options"].split()
    message = f"{given[-1]}: {group} has no option {option!r}."
    close = difflib.get_close_matches(option, options, n=1)
    if close:
        message += f" Did you mean {group}={close[0]}?"
    if options:
        message += f" Options of {group}: {', '.join(options)}."
    else:
        message += f" `{command} --info defaults` shows the groups and options Hydra found."
    return message


def _chosen_option(group: str, overrides: Sequence[str]) -> str | None:
    """The option of ``group`` the command line chooses last (``data=mine``, ``+data=mine``),
    or None.

        >>> _chosen_option("data", ["seed=1", "data=iris", "data.batch_size=8"])
        'iris'
    """
    chosen = [a.split("=", 1)[1] for a in overrides if a.lstrip("+").split("=", 1)[0] == group]
    return chosen[-1] if chosen and chosen[-1].replace("_", "").isalnum() else None


def _root(node: Any) -> Any:
    """The config that holds ``node``: the one Hydra was composing."""
    while node._get_parent() is not None:
        node = node._get_parent()
    return node


def _composed_search(node: Any, overrides: Sequence[str]) -> _Search | None:
    """The search of the config Hydra was composing when it refused a key of ``node``: the
    ``hparams_search=`` the command line chose (None where a config chose it) and the params
    of its Optuna sweeper as its config gives them; None where it runs no such search, or where
    the command line sets ``hydra.sweeper.params`` (Hydra may not have set it yet)."""
    from omegaconf import DictConfig, OmegaConf

    root = _root(node)
    try:
        sweeper = OmegaConf.select(root, "hydra.sweeper", default=None)
        if (
            not isinstance(sweeper, DictConfig)
            or "optuna" not in str(sweeper.get("_target_", "")).lower()
        ):
            return None
        params = sweeper.get("params")
    except Exception:  # an interpolation the partial config cannot resolve
        return None
    if any(a.lstrip("+~").split("=", 1)[0] == "hydra.sweeper.params" for a in overrides):
        return None
    if not isinstance(params, DictConfig) or not params:
        return None
    values = OmegaConf.to_container(params, resolve=False)
    if not isinstance(values, dict):
        return None
    return _chosen_option("hparams_search", overrides), {str(k): str(v) for k, v in values.items()}


def _composed_setup(node: Any) -> tuple[str | None, list[Path], list[str]]:
    """The setup of the config Hydra was composing when it refused a key of ``node`` (its root's
    ``setup``), the config folders whose setups it reads, and the setups its sweeper sweeps
    (``hydra.sweeper.params.setup``: a study's); None and empty where there are none."""
    from omegaconf import OmegaConf

    from lossbench.setup_names import setup_folders

    root = _root(node)
    try:
        setup = OmegaConf.select(root, "setup", default=None)
        folders = setup_folders(root)
        swept = OmegaConf.select(root, "hydra.sweeper.params.setup", default=None)
    except Exception:  # an interpolation the partial config cannot resolve
        return None, [], []
    setups = [s.strip() for s in swept.split(",")] if isinstance(swept, str) else []
    if not all(re.fullmatch(r"\w+", s) for s in setups):
        setups = []  # choice(...), an interpolation: not a plain list of setups
    return (setup if isinstance(setup, str) else None), folders, setups


def composition_refusal(
    error: BaseException, overrides: Sequence[str], *, multirun: bool = False
) -> str | None:
    """The refusal of Hydra's composition ``error`` where an override of ``overrides`` sets a
    key the option Hydra composed for its group lacks; else None (Hydra reports it).

        >>> from hydra.errors import ConfigCompositionException
        >>> from omegaconf import OmegaConf
        >>> from lossbench.config import SCHEMAS
        >>> cfg = OmegaConf.create({"loss": OmegaConf.structured(SCHEMAS["loss"]["nll"])})
        >>> cfg.loss.name = "nll"
        >>> try:
        ...     try:
        ...         cfg.loss.gamma = 2
        ...     except Exception as missing:
        ...         message = "Could not override 'loss.gamma'."
        ...         raise ConfigCompositionException(message) from missing
        ... except ConfigCompositionException as error:
        ...     print(composition_refusal(error, ["loss.gamma=2"])[:47])
        loss.gamma=2: the loss Hydra composed, loss=nll
    """
    from omegaconf import OmegaConf

    missing = _missing_key(error)
    if missing is None:
        return None
    path, key, node = missing
    given = [a for a in overrides if a.split("=", 1)[0] == path and "=" in a]
    if not given:
        return None  # set in a config file, not on the command line
    argument = given[-1]
    group = path.split(".", 1)[0]
    option = OmegaConf.select(node, "name", default=None, throw_on_missing=False)
    composed = f"{group}={option}" if isinstance(option, str) else f"the {group} config"
    where = (
        "chosen on the command line, by an experiment, setup or search config, or train.yaml's "
        "default"
    )
    chosen = _chosen_option(group, overrides)
    if isinstance(option, str) and chosen not in (None, option):  # a -cd file extending csv
        composed, where = (
            f"{group}={chosen}",
            f"chosen on the command line; its {group}.name is {option}",
        )
    settings = [str(k) for k in node if k != "name"]
    owners = options_with(group, [key])
    message = (
        f"{argument}: the {group} Hydra composed, {composed} ({where}), has no setting {key!r}."
    )
    if owners:
        listed = ", ".join(f"{group}={o}" for o in owners)
        setup, folders, swept = _composed_setup(node)
        given = [
            a for a in overrides if a.split("=", 1)[0] in ("setup", *SETUP_GROUPS) and "=" in a
        ]
        if any(a.split("=", 1)[0] == "setup" for a in given):
            swept = []  # the command line's setup replaces the sweeper's
        search = _composed_search(node, overrides)
        needs = _needed_keys(path, _parsed(overrides) or [], search)
        unmet_needs = unmet(group, key, needs.keys)
        if unmet_needs is not None:
            advice = _SetupAdvice(
                setup,
                given,
                folders,
                needs=needs,
                search=search,
                arguments=list(overrides),
                multirun=multirun,
            )
            without = _without_searched(argument, advice)
            message += (
                f" {key} is a setting of {listed}, but {unmet_needs}: leave {argument} out{without}"
            )
        else:
            fix = choose_owner(
                group,
                options_with(group, [key, *needs.keys]),
                setup,
                folders,
                given=given,
                argument=argument,
                swept=swept,
            )
            message += f" {key} is a setting of {listed}: {fix}"
    else:
        message += " No option of lossbench's has it: remove it"
    message += _or_its_own(option if isinstance(option, str) else group, settings)
    value = argument.split("=", 1)[1]
    if multirun:
        message += (
            " (In a multirun, Hydra also sets a value given outside the sweep in the config it "
            "composes first, without the swept options; as a sweep of one value, "
            f"{_one_value_sweep(path, value)}, it is set in each job only.)"
        )
    return message


#: Hydra's composition errors for ``+group=option`` where the defaults list has the group
#: already: one of lossbench's groups, one of Hydra's own (``+hydra/launcher=basic``).
_MULTIPLE_VALUES = re.compile(
    r"Multiple values for (?P<group>[\w/.-]+)\. To override a value use 'override (?P=group): "
    r"|^(?P<hydra_group>hydra/[\w/.-]+) appears more than once in the final defaults list"
)


def added_group_refusal(
    error: BaseException,
    overrides: Sequence[str],
    options: Mapping[str, Sequence[str]] | None = None,
    primary: str = "train.yaml",
) -> str | None:
    """The refusal of ``+group=option`` on the command line for a group the defaults list of
    the ``primary`` config already has (a default option, or ``null``): Hydra's "Multiple
    values for group"; else None. ``options``: each group's options, to list.

        >>> from hydra.errors import ConfigCompositionException
        >>> error = ConfigCompositionException(
        ...     "Multiple values for setup. To override a value use 'override setup: sigmoid_bce'"
        ... )
        >>> added_group_refusal(error, ["+setup=sigmoid_bce"])[:60]
        '+setup=sigmoid_bce adds the group setup, which train.yaml al'
        >>> added_group_refusal(error, ["setup=sigmoid_bce"]) is None
        True
        >>> error = ConfigCompositionException(
        ...     "hydra/launcher appears more than once in the final defaults list"
        ... )
        >>> added_group_refusal(error, ["+hydra/launcher=basic"])[-26:]
        "'+': hydra/launcher=basic."
    """
    found = _MULTIPLE_VALUES.search(str(error))
    if found is None:
        return None
    group = found["group"] or found["hydra_group"]
    given = [
        a
        for a in overrides
        if a.startswith("+")
        and not a.startswith("++")
        and a[1:].split("=", 1)[0].split("@", 1)[0] == group
    ]
    if not given:
        return None  # a defaults list of a config file names the group twice: Hydra's to say
    argument = given[-1]
    listed = (options or {}).get(group)
    owner = "Hydra's own config" if found["hydra_group"] else primary
    return (
        f"{argument} adds the group {group}, which {owner} already has (with a default "
        "option, or null): '+' adds only a group or key the config lacks. Choose the option "
        f"without '+': {argument[1:]}."
        + (f" The options of {group}: {', '.join(listed)}." if listed else "")
    )


#: Hydra's composition error for an override it could not apply: ``~optimizer.lr`` and others.
_MERGING = re.compile(r"Error merging override (?P<override>~.+)")


def removed_key_refusal(
    error: BaseException,
    options: Mapping[str, Sequence[str]],
    command: str = "lossbench-train",
) -> str | None:
    """The refusal of ``~group.key`` (``~optimizer.lr``) where ``key`` is part of the schema of
    the node that holds it: OmegaConf cannot remove it ("AdamConfig (DictConfig) does not support
    deletion"), and Hydra would stop with that, exit status 1. Else None (Hydra reports it).
    ``options``: each config group's options; those whose schema lacks the key are offered.

        >>> from hydra.errors import ConfigCompositionException
        >>> from omegaconf import OmegaConf
        >>> adam = OmegaConf.structured(SCHEMAS["optimizer"]["adam"])
        >>> adam.name = "adam"
        >>> cfg = OmegaConf.create({"optimizer": adam})
        >>> try:
        ...     try:
        ...         del cfg.optimizer["lr"]  # as Hydra removes it
        ...     except Exception as cause:
        ...         message = "Error merging override ~optimizer.lr"
        ...         raise ConfigCompositionException(message) from cause
        ... except ConfigCompositionException as error:
        ...     print(removed_key_refusal(error, {"optimizer": ["adam", "sgd"]}))
        ~optimizer.lr removes optimizer.lr, but lr is part of the schema of optimizer=adam \
(AdamConfig), whose keys cannot be removed: set it instead (optimizer.lr=<value>; \
`lossbench-train --cfg job` shows its value).
    """
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import ConfigTypeError

    cause = error.__cause__
    found = _MERGING.fullmatch(str(error).strip())
    if found is None or not isinstance(cause, ConfigTypeError):
        return None
    if "does not support deletion" not in str(cause) or not cause.full_key:
        return None
    path = str(cause.full_key)
    group, key = path.split(".", 1)[0], path.rpartition(".")[2]
    node = cause.parent_node
    option = None
    if isinstance(node, DictConfig) and "name" in node:
        option = OmegaConf.select(node, "name", default=None, throw_on_resolution_failure=False)
    owner = f"{group}={option}" if isinstance(option, str) and group in options else group
    schema = getattr(cause.object_type, "__name__", None)
    schemas = SCHEMAS.get(group, {})
    without = [
        o for o in options.get(group, ()) if o in schemas and key not in schema_fields(schemas[o])
    ]
    alternative = (
        f", or choose an option of {group} without it ({', '.join(without)})" if without else ""
    )
    return schema_key_refusal(
        found["override"], path, owner, schema, command, alternative=alternative
    )


#: Hydra's composition error for ``~key`` where the config holds no value at ``key``: the key
#: is absent, or its value is null.
_NOTHING_AT = re.compile(r"Could not delete from config\. '(?P<path>[^']+)' does not exist\.")


def _removed_null_owner(
    top: str, key: str, overrides: Sequence[str], configs: Path | None, multirun: bool
) -> tuple[str, type | None, list[str]] | None:
    """Where ``top.key`` is looked for: ``(owner as named in a message, the schema of the
    option composed or None where it is not known, the options of ``top`` that have ``key``)``;
    None where ``top`` holds no schema or no option of it has ``key``."""
    import typing

    from lossbench.config import TrainConfig

    if top in SCHEMAS and top not in _SKIPPED:
        owners = options_with(top, [key])
        if not owners:
            return None
        chosen = (
            None if configs is None else chosen_option(top, overrides, configs, multirun=multirun)
        )
        if chosen is None or len(chosen) != 1 or chosen[0] not in SCHEMAS[top]:
            return top, None, owners
        return f"{top}={chosen[0]}", SCHEMAS[top][chosen[0]], owners
    if top in SCHEMAS:  # trainer, paths: one schema, whichever option
        schema: Any = SCHEMAS[top]["default"]
    else:  # checkpoint, early_stopping: a dataclass of the run's own schema
        schema = typing.get_type_hints(TrainConfig).get(top)
        if not dataclasses.is_dataclass(schema):
            return None
    return (top, schema, [top]) if key in schema_fields(schema) else None


def removed_null_refusal(
    error: BaseException,
    overrides: Sequence[str],
    configs: Path | None = None,
    *,
    multirun: bool = False,
    command: str = "lossbench-train",
) -> str | None:
    """The refusal of ``~key`` where ``key`` is a setting of lossbench-train's schema whose
    value is null: a top-level one (``~study_name``), or a key of the schema of a config
    group's option (``~loss.pos_weight``), of ``trainer`` (``~trainer.max_time``),
    ``checkpoint`` or ``early_stopping`` (``~early_stopping.monitor``). Hydra removes only a
    key with a value and stops with "Could not delete from config. 'loss.pos_weight' does not
    exist." (exit status 1), though the key is there; a key with a value is refused as
    :func:`removed_key_refusal` says. Else None (Hydra reports it). ``configs``: the config
    directory, where the option chosen is worked out from the command line (None: ``-cd``
    adds options the check does not follow); ``multirun``: ``-m`` was given.

        >>> from hydra.errors import ConfigCompositionException
        >>> from lossbench.train import config_dir
        >>> error = ConfigCompositionException(
        ...     "Could not delete from config. 'loss.pos_weight' does not exist.")
        >>> print(removed_null_refusal(error, ["~loss.pos_weight"], config_dir()))
        ~loss.pos_weight removes loss.pos_weight, but pos_weight is part of the schema of \
loss=bce_with_logits (BceWithLogitsLossConfig), whose keys cannot be removed, and its value is \
null (Hydra removes only a key with a value): leave ~loss.pos_weight out (loss.pos_weight=null \
is its value here), or set it instead (loss.pos_weight=<value>; `lossbench-train --cfg job` \
shows its value).
    """
    from hydra.errors import ConfigCompositionException

    from lossbench.config import TrainConfig

    found = _NOTHING_AT.fullmatch(str(error).strip())
    if not isinstance(error, ConfigCompositionException) or found is None:
        return None
    path = found["path"]
    given = [a for a in overrides if removed_key(a) == path]
    if not given:
        return None
    argument = given[-1]
    top, _, key = path.partition(".")
    keep = keep_null(argument, path, command)
    if not key:
        if top in SCHEMAS or top not in schema_fields(TrainConfig):
            return None  # a config group (its defaults entry), or a key Hydra names
        return (
            f"{argument} removes {top}, a setting of {command}, whose settings cannot be "
            f"removed, and its value is null (Hydra removes only a key with a value): {keep}"
        )
    if "." in key:
        return None  # deeper: a key inside a setting of the schema
    where = _removed_null_owner(top, key, overrides, configs, multirun)
    if where is None:
        return None
    owner, schema, owners = where
    if schema is None:  # the option composed is not known before Hydra composes
        listed = ", ".join(f"{top}={o}" for o in owners)
        return (
            f"{argument} removes {path}, which the {top} Hydra composed does not have, or has "
            f"with the value null (Hydra removes only a key with a value; {key} is part of the "
            f"schema of {listed}, whose keys cannot be removed): {keep}"
        )
    if key not in schema_fields(schema):
        return absent_key_refusal(argument, path, owner, schema.__name__)
    return schema_key_refusal(argument, path, owner, schema.__name__, command, null=True)
