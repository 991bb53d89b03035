"""The keys a command accepts on its command line (top-level, and inside config groups), and
the refusal of any other.

Hydra refuses a misspelt key too, but names only the key and the schema it is missing from,
and suggests adding it with ``+``, which is rarely what was meant. Each command checks the
first name of every ``key=value`` override against its own keys before Hydra composes
anything (nothing is read or written yet), and refuses an unknown one with the closest names
and every valid one (exit status 2, one line, no traceback).

    >>> valid = ("data", "optimizer", "seed", "trainer")
    >>> unknown_key("optimzer.lr=0.01", valid, "lossbench-train")[:87]
    "lossbench-train has no setting 'optimzer' (in optimzer.lr=0.01). Did you mean optimizer"
    >>> unknown_key("+my_key=1", valid, "lossbench-train") is None  # added on purpose
    True

A key inside a config group (``optimizer.lrr``) is refused here where no option of the group
has it (:func:`group_keys`), with the group's settings; one that some other option has
(``loss.gamma`` with ``loss=cross_entropy``) depends on the option chosen, which a setup or an
experiment may choose: :mod:`lossbench.option_keys` refuses it with the options that have it.
``trainer.<key>`` has its own check (:mod:`lossbench.trainer_args`).

    >>> keys = {"optimizer": ("betas", "eps", "lr", "weight_decay")}
    >>> unknown_key("optimizer.lrr=0.1", valid, "lossbench-train", keys)[71:97]
    'Did you mean optimizer.lr?'
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lossbench.removals import absent_key_refusal, removed_key, schema_key_refusal

__all__ = [
    "ONE_CHOICE_GROUPS",
    "added_config_dirs",
    "close_options",
    "command_keys",
    "group_keys",
    "group_options",
    "groups_of_shipped_options",
    "null_option",
    "overrides_of",
    "refuse_option_choices",
    "refuse_removed_command_settings",
    "refuse_removed_settings",
    "refuse_unknown_keys",
    "refuse_unknown_options",
    "removed_command_setting",
    "removed_setting",
    "second_option",
    "shorthand_of",
    "unknown_key",
    "unknown_option",
    "unknown_removed_key",
    "unmatched_glob",
]

#: The first name of an override: up to the first ``.``, ``/`` (a config group's path, such as
#: ``hydra/launcher``), ``@`` (a package) or ``=``.
_FIRST_NAME = re.compile(r"[^./@=]+")


def command_keys(schema: type, groups: Iterable[str] = ()) -> tuple[str, ...]:
    """The top-level keys of a command whose config is the dataclass ``schema``: its fields,
    the config ``groups`` it composes from, and ``hydra``; sorted."""
    names = {field.name for field in dataclasses.fields(schema)}
    return tuple(sorted(names | set(groups) | {"hydra"}))


def group_keys(
    schemas: Mapping[str, Mapping[str, type]], schema: type | None = None, skip: Iterable[str] = ()
) -> dict[str, tuple[str, ...]]:
    """The keys inside each config group of ``schemas`` (group -> option -> dataclass): the
    union of its options' fields; and inside each field of the dataclass ``schema`` that is a
    dataclass itself (``checkpoint``, ``early_stopping``): its fields. Sorted; ``skip``: names
    left out.

        >>> from lossbench.config import SCHEMAS, TrainConfig
        >>> keys = group_keys(SCHEMAS, TrainConfig)
        >>> keys["optimizer"][:3], keys["early_stopping"]
        (('betas', 'eps', 'history_size'), ('enabled', 'min_delta', 'mode', 'monitor', 'patience'))
    """
    found = {
        group: {f.name for option in options.values() for f in dataclasses.fields(option)}
        for group, options in schemas.items()
    }
    if schema is not None:
        hints = typing.get_type_hints(schema)
        for field in dataclasses.fields(schema):
            kind = hints[field.name]
            if field.name not in found and dataclasses.is_dataclass(kind):
                found[field.name] = {f.name for f in dataclasses.fields(kind)}
    skipped = set(skip)
    return {name: tuple(sorted(keys)) for name, keys in found.items() if name not in skipped}


#: Hydra's command-line flags that take a value of their own (``-sc install=bash``): the value
#: is not an override.
_FLAGS_WITH_VALUE = ("--shell-completion", "-sc", "--experimental-rerun")

#: Hydra's flags that choose another primary config or config directory than lossbench's.
_CONFIG_PATH_FLAGS = ("--config-path", "-cp", "--config-name", "-cn")


def overrides_of(arguments: Sequence[str]) -> list[str]:
    """``arguments`` without the values of Hydra's flags that take one (``-sc install=bash``,
    ``--shell-completion=query=bash``): what the checks below read as overrides.

        >>> overrides_of(["-sc", "install=bash"])
        []
        >>> overrides_of(["seed=1", "--shell-completion", "query=bash", "-m"])
        ['seed=1', '-m']
    """
    kept: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
            continue
        if argument in _FLAGS_WITH_VALUE:
            skip = True
        kept.append(argument)
    return [a for a in kept if a not in _FLAGS_WITH_VALUE]


def added_config_dirs(arguments: Sequence[str]) -> list[Path] | None:
    """The config directories ``arguments`` add (``--config-dir DIR``, ``-cd DIR``,
    ``--config-dir=DIR``, ``-cd=DIR``), whose groups are settings too; None where configs come
    from places this check cannot see (the check is then left to Hydra): ``hydra.searchpath``
    on the command line or in a YAML file of an added directory, or another primary config
    (``--config-path`` / ``-cp``, ``--config-name`` / ``-cn``).

        >>> added_config_dirs(["-cd", "mine", "data=wine"])
        [PosixPath('mine')]
        >>> added_config_dirs(["-cd=mine"])
        [PosixPath('mine')]
        >>> added_config_dirs(["hydra.searchpath=[file://mine]"]) is None
        True
        >>> added_config_dirs(["-cn", "my_train"]) is None
        True
    """
    dirs: list[Path] = []
    for index, argument in enumerate(arguments):
        if argument.startswith(("hydra.searchpath", "+hydra.searchpath", "++hydra.searchpath")):
            return None
        if argument.split("=", 1)[0] in _CONFIG_PATH_FLAGS or (
            argument[:3] in ("-cp", "-cn") and not argument.startswith("--")
        ):
            return None
        if argument in ("--config-dir", "-cd") and index + 1 < len(arguments):
            dirs.append(Path(arguments[index + 1]))
        elif argument.startswith(("--config-dir=", "-cd=")):
            dirs.append(Path(argument.split("=", 1)[1]))
    if any(_sets_searchpath(folder) for folder in dirs):
        return None
    return dirs


def _sets_searchpath(folder: Path) -> bool:
    """Whether a YAML file in ``folder`` (or below it) names ``searchpath``: a config that
    may add config directories once Hydra composes it."""
    if not folder.is_dir():
        return False
    for path in folder.rglob("*.yaml"):
        try:
            if "searchpath" in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def unknown_key(
    argument: str,
    valid: Sequence[str],
    command: str,
    nested: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """The refusal of ``argument`` when it overrides a top-level key that ``command`` does not
    have, or a key inside a group of ``nested`` (group -> every key some option of it has)
    that no option has; else None. Flags (``-m``, ``--cfg``), arguments without ``=`` and
    overrides that add or delete a key on purpose (``+key=``, ``++key=``, ``~key``) are not
    checked (a ``~key`` of no key: :func:`unknown_removed_key`)."""
    if argument.startswith(("-", "+", "~")) or "=" not in argument:
        return None
    return _unknown(argument, argument, valid, command, nested)


def unknown_removed_key(
    argument: str,
    valid: Sequence[str],
    command: str,
    nested: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """The refusal of ``~key`` (or ``~key=value``) where ``key`` is no setting of ``command``,
    top-level or inside a group of ``nested``, as :func:`unknown_key` refuses ``key=value``
    (Hydra would stop with "Could not delete from config. 'key' does not exist."); else None.

        >>> unknown_removed_key("~splt", ("ckpt_path", "split"), "lossbench-eval")[:58]
        "lossbench-eval has no setting 'splt' (in ~splt). Did you m"
        >>> keys = {"data": ("batch_size", "path")}
        >>> unknown_removed_key("~data.nosuch", ("data",), "lossbench-predict", keys)[:50]
        "lossbench-predict has no setting 'data.nosuch' (in"
        >>> unknown_removed_key("~data.path", ("data",), "lossbench-predict", keys) is None
        True
    """
    key = removed_key(argument)
    return None if key is None else _unknown(argument, key, valid, command, nested)


def _unknown(
    argument: str,
    key: str,
    valid: Sequence[str],
    command: str,
    nested: Mapping[str, Sequence[str]] | None,
) -> str | None:
    """The refusal of ``argument``, whose key (and what follows it) is ``key``, where that key
    is unknown (:func:`unknown_key`)."""
    found = _FIRST_NAME.match(key)
    name = found.group(0) if found else ""
    if not name:
        return None
    if name in valid:
        return _unknown_group_key(argument, name, nested or {}, command, key)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return (
        f"{command} has no setting {name!r} (in {argument}).{hint} Valid settings and config "
        f"groups: {', '.join(valid)}. `{command} --help` lists them with their options."
    )


#: Top-level settings a run cannot do without, and what to give instead of removing one
#: (``~key``): the callbacks, the run record and the study layout read them. The others
#: (``callbacks``, ``logger``, ``setup``, the study's names) may be removed.
NEEDED_SETTINGS: dict[str, str] = {
    "early_stopping": "early stopping is off unless early_stopping.enabled=true; to drop its "
    "callback: ~callbacks.early_stopping",
    "checkpoint": "to write no checkpoint files: checkpoint.write=never; to drop checkpointing: "
    "~callbacks.model_checkpoint",
    "optimized_metric": "choose another metric, e.g. optimized_metric=val/accuracy",
    "seed": "give another, e.g. seed=1",
    "runner": "choose one, e.g. runner=lightning",
    "epoch_metrics": "choose one, e.g. epoch_metrics=monitored",
    "ckpt_path": "leave it out: it is null unless given, and null starts a new run",
    "study_variant": "choose one, e.g. study=quick",
}
#: The config groups a run is composed of (the schema's fields without a default): removing one
#: leaves the run without its data, model, ...; the optional groups (``experiment``, ``debug``,
#: ...) may be removed.
NEEDED_GROUPS = ("data", "model", "head", "loss", "optimizer", "trainer", "scheduler", "paths")


def removed_setting(
    argument: str, options: Mapping[str, Sequence[str]], command: str
) -> str | None:
    """The refusal of ``~key`` (or ``~key=value``) when ``key`` is a top-level setting or config
    group a run needs (:data:`NEEDED_SETTINGS`, :data:`NEEDED_GROUPS`); else None. Removing a
    key inside one (``~callbacks.early_stopping``) is not checked.

        >>> removed_setting("~early_stopping", {}, "lossbench-train")[:54]
        '~early_stopping removes early_stopping from the config'
        >>> removed_setting("~callbacks.early_stopping", {}, "lossbench-train") is None
        True
    """
    key = removed_key(argument)
    if key is None:
        return None
    if key in NEEDED_SETTINGS:
        instead = NEEDED_SETTINGS[key]
    elif key in NEEDED_GROUPS:
        listed = f" (one of: {', '.join(options[key])})" if options.get(key) else ""
        instead = f"choose one of its options instead, {key}=<option>{listed}"
    else:
        return None
    return (
        f"{argument} removes {key} from the config, but {command} needs it (its callbacks, "
        f"record and checks read it): {instead}."
    )


def refuse_removed_settings(
    arguments: Sequence[str], options: Mapping[str, Sequence[str]], command: str
) -> None:
    """Print the refusal of the first ``~key`` that removes a needed setting and exit with
    status 2; return when there is none."""
    for argument in arguments:
        refusal = removed_setting(argument, options, command)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)


def _default_text(field: dataclasses.Field) -> str | None:  # type: ignore[type-arg]
    """The default of a schema's ``field`` as a command line writes it (``test``, ``null``);
    None where it has none (``???``)."""
    if field.default is dataclasses.MISSING or field.default == "???":
        return None
    return "null" if field.default is None else str(field.default)


def removed_command_setting(
    argument: str,
    schema: type,
    command: str,
    groups: Mapping[str, tuple[str, Mapping[str, type]]] | None = None,
    arguments: Sequence[str] = (),
) -> str | None:
    """The refusal of ``~key`` (or ``~key=value``) where ``key`` is a setting of the dataclass
    ``schema``, a command's whole config (lossbench-eval's, lossbench-predict's), or a key of
    the schema of the option chosen for one of its config ``groups`` (``{group: (default
    option, {option: schema})}``; the option chosen is the last ``group=option`` of the command
    line's ``arguments``, else the default). Hydra would stop on it with OmegaConf's words (a
    key set to null: "does not exist"), or remove it and leave the command to fail on the
    missing key. Else None.

        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Eval:
        ...     split: str = "test"
        >>> print(removed_command_setting("~split", Eval, "lossbench-eval"))
        ~split removes split, a setting of lossbench-eval, whose settings cannot be removed: \
leave ~split out to keep its default (split=test), or set it (split=<value>; \
`lossbench-eval --help` says what each setting does).
        >>> removed_command_setting("~splt", Eval, "lossbench-eval") is None
        True
    """
    key = removed_key(argument)
    if key is None:
        return None
    top, _, rest = key.partition(".")
    fields = {field.name: field for field in dataclasses.fields(schema)}
    if top not in fields:
        return None
    group = (groups or {}).get(top)
    if group is None and not rest:
        default = _default_text(fields[top])
        keep = (
            f"leave {argument} out to keep its default ({top}={default}), or set it"
            if default is not None
            else "give it instead, as it has no default"
        )
        return (
            f"{argument} removes {top}, a setting of {command}, whose settings cannot be "
            f"removed: {keep} ({top}=<value>; `{command} --help` says what each setting does)."
        )
    if group is None:
        return None  # inside a setting that is no config group: Hydra says
    default_option, schemas = group
    if not rest:
        return (
            f"{argument} removes {top} from the config, but {command} needs it: choose one of "
            f"its options instead, {top}=<option> (one of: {', '.join(schemas)})."
        )
    chosen = [a.split("=", 1)[1].strip() for a in arguments if a.split("=", 1)[0] == top]
    option = chosen[-1] if chosen else default_option
    option_schema = schemas.get(option)
    if option_schema is None or "." in rest:
        return None  # another option (refused as such), or deeper: Hydra says
    if rest not in [field.name for field in dataclasses.fields(option_schema)]:
        if not any(rest in [f.name for f in dataclasses.fields(s)] for s in schemas.values()):
            return None  # no option has it: Hydra says
        return absent_key_refusal(argument, key, f"{top}={option}", option_schema.__name__)
    return schema_key_refusal(argument, key, f"{top}={option}", option_schema.__name__, command)


def refuse_removed_command_settings(
    arguments: Sequence[str],
    schema: type,
    command: str,
    groups: Mapping[str, tuple[str, Mapping[str, type]]] | None = None,
) -> None:
    """Print the refusal of the first ``~key`` of ``arguments`` that removes a setting of
    ``schema`` (:func:`removed_command_setting`) and exit with status 2; return when there is
    none."""
    for argument in arguments:
        refusal = removed_command_setting(argument, schema, command, groups, arguments)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)


def _unknown_group_key(
    argument: str, group: str, nested: Mapping[str, Sequence[str]], command: str, text: str
) -> str | None:
    """The refusal of ``argument`` (``group.key=...``, ``~group.key``; ``text``: from the key
    on) when ``key`` is not among ``group``'s keys (for a config group: not a key of any of
    its options)."""
    keys = nested.get(group)
    rest = text[len(group) :]
    if keys is None or not rest.startswith("."):
        return None
    found = _FIRST_NAME.match(rest[1:])
    key = found.group(0) if found else ""
    if not key or key in keys:
        return None
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(f'{group}.{c}' for c in close)}?" if close else ""
    return (
        f"{command} has no setting {group + '.' + key!r} (in {argument}).{hint} Settings "
        f"under {group} (of a config group: of all its options): {', '.join(keys)}. "
        f"`{command} --cfg job` shows the config with the options chosen."
    )


def group_options(
    folders: Iterable[Path], skip: Iterable[str] = ("hydra",)
) -> dict[str, list[str]]:
    """The options of each config group in the config ``folders``: ``{group: [option, ...]}``
    from ``<folder>/<group>/<option>.yaml`` (groups in ``skip`` left out)."""
    options: dict[str, set[str]] = {}
    for folder in folders:
        for group in (p for p in Path(folder).iterdir() if p.is_dir() and p.name not in skip):
            options.setdefault(group.name, set()).update(f.stem for f in group.glob("*.yaml"))
    return {group: sorted(names) for group, names in options.items()}


def unknown_option(argument: str, options: Mapping[str, Sequence[str]], command: str) -> str | None:
    """The refusal of ``group=option`` (or a sweep ``group=a,b`` or ``group=choice(a,b)``, or a
    list of options ``group=[a,b]``; each name as Hydra's override parser reads it, quoted or
    not) where an option is not one of ``options[group]``; else None (not a group, or options
    known only when Hydra sweeps: ``glob()``, a range).

        >>> options = {"data": ["iris", "wine"]}
        >>> unknown_option("data=wine2", options, "lossbench-train")[:67]
        "lossbench-train has no option data='wine2' (in data=wine2). Did you"
        >>> unknown_option("data=iris,wine", options, "lossbench-train") is None
        True
        >>> unknown_option("data=[iris,win]", options, "lossbench-train")[:48]
        "lossbench-train has no option data='win' (in dat"
        >>> unknown_option("data='wine2'", options, "lossbench-train")[:39]
        "lossbench-train has no option data='win"
        >>> unknown_option("data=choice(iris,wine2)", options, "lossbench-train")[:46]
        "lossbench-train has no option data='wine2' (in"
        >>> unknown_option("data=iris,'wine2'", options, "lossbench-train")[:46]
        "lossbench-train has no option data='wine2' (in"
    """
    if argument.startswith(("-", "+", "~")) or "=" not in argument:
        return None
    override = _group_override(argument, options)
    given = None if override is None else _given_options(override)
    if given is None:
        return None
    group = override.key_or_group
    valid = options[group]
    for option in (_option_name(value) for value in given):
        if option is None or option in valid:
            continue
        close = close_options(option, valid)
        hint = f" Did you mean {' or '.join(f'{group}={c}' for c in close)}?" if close else ""
        return (
            f"{command} has no option {group}={option!r} (in {argument}).{hint} Options of "
            f"{group}: {', '.join(valid)}."
        )
    return None


def close_options(name: str, valid: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` options of ``valid`` that ``name`` most likely meant: those it is a
    shorthand of (:func:`shorthand_of`: ``ce`` for ``cross_entropy``, ``focal`` for
    ``logits_focal``), or else the closest spellings (:func:`difflib.get_close_matches`).

        >>> setups = ["logits_asl", "logits_cross_entropy", "logits_focal", "sigmoid_bce"]
        >>> close_options("logits_ce", setups), close_options("bce", setups)
        (['logits_cross_entropy'], ['sigmoid_bce'])
        >>> close_options("logits_focl", setups)
        ['logits_focal', 'logits_asl']
    """
    short = [option for option in valid if shorthand_of(name, option)]
    return short[:n] or difflib.get_close_matches(name, valid, n=n, cutoff=0.6)


def shorthand_of(name: str, option: str) -> bool:
    """Whether ``name`` is a shorthand of ``option``: the option's ``_``-separated words, or
    its last words (``focal`` of ``logits_focal``, a setup named by its loss), with at most
    one run of two or more of them written as their initials (``ce`` for ``cross_entropy``),
    case aside; never the option itself.

        >>> shorthand_of("ce", "cross_entropy"), shorthand_of("logits_ce", "logits_cross_entropy")
        (True, True)
        >>> shorthand_of("ce", "logits_cross_entropy"), shorthand_of("focal", "logits_focal")
        (True, True)
        >>> shorthand_of("c", "cross_entropy"), shorthand_of("logits", "logits_focal")
        (False, False)
        >>> shorthand_of("cross_entropy", "cross_entropy")
        False
    """
    words = option.lower().split("_")
    wanted = name.lower()
    for first in range(len(words)):
        tail = words[first:]
        if first and "_".join(tail) == wanted:
            return True
        for start in range(len(tail)):
            for end in range(start + 2, len(tail) + 1):
                initials = "".join(word[:1] for word in tail[start:end])
                if "_".join([*tail[:start], initials, *tail[end:]]) == wanted:
                    return True
    return False


def _option_name(value: Any) -> str | None:
    """The option a value Hydra parsed names (``wine2``, ``1`` for a number, ``true``); None
    for null (refused by :func:`null_option`), and for what Hydra reads further: an
    interpolation, a path (``sub/option``), a mapping or a nested list.

        >>> _option_name("iris"), _option_name(1), _option_name(True), _option_name(None)
        ('iris', '1', 'true', None)
        >>> _option_name("${oc.env:DATA}"), _option_name("sub/iris")
        (None, None)
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return None if "${" in value or "/" in value else value
    if isinstance(value, int | float):
        return str(value)
    return None


#: The config groups that take one option: several (a list, ``data=[iris,wine]``, or one added
#: with ``+``, ``data=iris +data=wine``) are merged into one config, which keeps the last one's
#: values or fails where their schemas differ. ``logger``, ``callbacks`` and ``debug`` combine
#: the entries or settings of several.
ONE_CHOICE_GROUPS = (*NEEDED_GROUPS, "setup", "study", "experiment", "hparams_search")


def _group_override(argument: str, options: Mapping[str, Sequence[str]]) -> Any | None:
    """``argument`` as Hydra parses it where it chooses an option of a group of ``options``
    (``group=``, ``+group=``; not ``~group`` or ``group@package=``), else None."""
    from lossbench.override_types import parsed_override

    if argument.startswith(("-", "~")) or argument.lstrip("+").split("=", 1)[0] not in options:
        return None  # a setting, a removal, a flag or group@package: no parse needed
    override = parsed_override(argument)
    if override is None or override.package is not None or override.is_delete():
        return None
    return override if override.key_or_group in options else None


def _given_options(override: Any) -> list[Any] | None:
    """The options ``override`` gives its group, one by one (each value of a sweep, each item
    of a list; None for null); None where they are not known before Hydra sweeps (``glob()``,
    a range)."""
    from hydra.core.override_parser.types import Glob, QuotedString

    if override.is_sweep_override():
        if not override.is_discrete_sweep() or isinstance(override.value(), Glob):
            return None
        values = [  # a sweep's quoted value ('wine2') is the option it names
            v.text if isinstance(v, QuotedString) else v for v in override.sweep_iterator()
        ]
    else:
        values = [override.value()]
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def groups_of_shipped_options(
    arguments: Sequence[str],
    shipped: Mapping[str, Sequence[str]],
    added: Mapping[str, Sequence[str]],
) -> list[str]:
    """The config groups of ``shipped`` (lossbench's options) whose option is certainly one
    lossbench ships where config folders (``-cd``) add the options ``added``: a group they add
    no option to, and one whose every option chosen on the command line (``arguments``) is
    shipped and not replaced by a folder's file of the same name. Only a folder's option may
    declare keys of its own, so a value given to a key of one of these groups is checked
    against the shipped options' schemas.

        >>> shipped = {"data": ["iris", "wine"], "loss": ["focal"], "model": ["mlp"]}
        >>> added = {"data": ["mine"], "model": ["mlp"]}
        >>> groups_of_shipped_options(["data=iris"], shipped, added)
        ['data', 'loss']
        >>> groups_of_shipped_options(["data=iris,mine", "model=mlp"], shipped, added)
        ['loss']
    """
    chosen: dict[str, list[Any] | None] = {}
    for argument in arguments:
        override = _group_override(argument, shipped)
        if override is None:
            continue
        given = _given_options(override)
        group = override.key_or_group
        known = chosen.get(group, [])
        chosen[group] = None if given is None or known is None else [*known, *given]

    def shipped_only(group: str) -> bool:
        if group not in added:
            return True
        options = chosen.get(group)
        return bool(options) and all(
            isinstance(o, str) and o in shipped[group] and o not in added[group]
            for o in options or ()
        )

    return [group for group in shipped if shipped_only(group)]


def null_option(
    argument: str,
    options: Mapping[str, Sequence[str]],
    command: str,
    *,
    defaults: Mapping[str, str | None] | None = None,
    needed: Sequence[str] = NEEDED_GROUPS,
    primary: str = "train.yaml",
) -> str | None:
    """The refusal of ``group=null`` (or a sweep or list of options with null in it) for a
    config group of ``options``: Hydra stops on it with a traceback ("Config group override
    must be a string or a list"). The fix offered: the group's own ``none`` option where it has
    one; one of its options where ``command`` needs the group (``needed``); else ``~group``.
    ``defaults``: each group's option in the ``primary`` config's defaults list.

        >>> options = {"debug": ["fdr", "limit"], "logger": ["csv", "none"]}
        >>> print(null_option("debug=null", options, "lossbench-train", defaults={"debug": None}))
        ... # doctest: +NORMALIZE_WHITESPACE
        debug=null: debug is a config group, chosen by an option's name, and null names none
        (Hydra would stop on it). To run without a debug config, leave debug= out (train.yaml
        chooses none) or remove the choice: ~debug. Options of debug: fdr, limit.
        >>> null_option("logger=null", options, "lossbench-train")[-76:]
        'Its option none runs without one: logger=none. Options of logger: csv, none.'
        >>> null_option("debug=fdr", options, "lossbench-train") is None
        True
    """
    override = _group_override(argument, options)
    given = None if override is None else _given_options(override)
    if given is None or None not in given:
        return None
    group = override.key_or_group
    valid = list(options[group])
    default = (defaults or {}).get(group)
    if "none" in valid:
        fix = f"Its option none runs without one: {group}=none."
    elif group in needed:
        example = default if default in valid else (valid or ["<option>"])[0]
        kept = f" ({primary}'s default)" if default in valid else ""
        fix = f"{command} needs a {group} option: choose one, e.g. {group}={example}{kept}."
    elif defaults is not None and group in defaults and default is None:
        fix = (
            f"To run without a {group} config, leave {group}= out ({primary} chooses none) or "
            f"remove the choice: ~{group}."
        )
    else:
        fix = f"To run without a {group} config, remove the choice: ~{group}."
    if override.is_sweep_override():
        fix += " In a sweep, each job needs an option: leave null out of the values."
    return (
        f"{argument}: {group} is a config group, chosen by an option's name, and null names "
        f"none (Hydra would stop on it). {fix} Options of {group}: {', '.join(valid)}."
    )


def second_option(
    argument: str,
    arguments: Sequence[str],
    options: Mapping[str, Sequence[str]],
    one_choice: Sequence[str] = ONE_CHOICE_GROUPS,
) -> str | None:
    """The refusal of ``argument`` where it gives a group of ``one_choice`` a second option: a
    list of options (``data=[iris,wine]``), or ``+group=`` where another override of
    ``arguments`` chooses the group too (``data=iris +data=wine``; for any group of
    ``options``: Hydra keeps one of them, or stops). Else None.

        >>> options = {"data": ["iris", "wine"], "logger": ["csv", "mlflow"]}
        >>> print(second_option("data=[iris,wine]", ["data=[iris,wine]"], options))
        ... # doctest: +NORMALIZE_WHITESPACE
        data=[iris,wine] gives data 2 options, but data takes one: Hydra would silently keep
        one of them, or stop where their schemas differ. Choose one, data=wine, or run each in a
        multirun: -m data=iris,wine.
        >>> second_option("logger=[csv,mlflow]", ["logger=[csv,mlflow]"], options) is None
        True
        >>> second_option("+data=wine", ["data=iris", "+data=wine"], options)[:57]
        'data=iris and +data=wine give data 2 options, but data ta'
    """
    override = _group_override(argument, options)
    if override is None:
        return None
    group = override.key_or_group
    if not override.is_add():
        given = _given_options(override)
        if group not in one_choice or override.is_sweep_override() or given is None:
            return None
        if len(given) < 2 or not all(isinstance(v, str) for v in given):
            return None
        names = [str(v) for v in given]
        listed = argument
    else:
        others = [
            a
            for a in arguments
            if a != argument and (o := _group_override(a, options)) and o.key_or_group == group
        ]
        if not others:
            return None  # +group= alone: Hydra's "Multiple values" (added_group_refusal)
        other = _group_override(others[0], options)
        names = [str(v) for v in (_given_options(other) or []) + (_given_options(override) or [])]
        listed = f"{others[0]} and {argument}"
        if group not in one_choice:
            together = ",".join(dict.fromkeys(names))
            return (
                f"{listed} give {group} two options the way Hydra cannot compose ('+' adds only "
                f"a group the config lacks): give them as one list, {group}=[{together}]."
            )
    unique = list(dict.fromkeys(names))
    return (
        f"{listed} give{'s' if listed == argument else ''} {group} {len(names)} options, but "
        f"{group} takes one: Hydra would silently keep one of them, or stop where their "
        f"schemas differ. Choose one, {group}={names[-1]}, or run each in a multirun: "
        f"-m {group}={','.join(unique)}."
    )


def unmatched_glob(argument: str, options: Mapping[str, Sequence[str]]) -> str | None:
    """The refusal of ``group=glob(...)`` where the glob matches no option of the group:
    Hydra's multirun would launch no job and end with exit status 0. Else None.

        >>> options = {"data": ["iris", "wine"]}
        >>> print(unmatched_glob("data=glob(zz*)", options))
        ... # doctest: +NORMALIZE_WHITESPACE
        data=glob(zz*) matches no option of data, so the multirun would launch no job. Options
        of data: iris, wine.
        >>> unmatched_glob("data=glob(ir*)", options) is None
        True
    """
    from hydra.core.override_parser.types import Glob

    override = _group_override(argument, options)
    if override is None or not isinstance(override.value(), Glob):
        return None
    group = override.key_or_group
    if override.value().filter(sorted(options[group])):
        return None
    return (
        f"{argument} matches no option of {group}, so the multirun would launch no job. "
        f"Options of {group}: {', '.join(options[group])}."
    )


def refuse_option_choices(
    arguments: Sequence[str],
    options: Mapping[str, Sequence[str]],
    command: str,
    *,
    defaults: Mapping[str, str | None] | None = None,
    needed: Sequence[str] = NEEDED_GROUPS,
    one_choice: Sequence[str] = ONE_CHOICE_GROUPS,
    primary: str = "train.yaml",
) -> None:
    """Print the refusal of the first config group choice of ``arguments`` that is null
    (:func:`null_option`), gives a group that takes one option a second one
    (:func:`second_option`) or globs no option (:func:`unmatched_glob`), and exit with status
    2; return when there is none."""
    for argument in arguments:
        refusal = null_option(
            argument, options, command, defaults=defaults, needed=needed, primary=primary
        ) or second_option(argument, arguments, options, one_choice)
        refusal = refusal or unmatched_glob(argument, options)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)


def missing_config_dir(dirs: Sequence[Path], command: str) -> str | None:
    """The refusal of the first of ``dirs`` (:func:`added_config_dirs`) that is not a
    directory, or None: Hydra would stop on it only after the options it holds were looked for
    (and missed) among lossbench's own.

        >>> print(missing_config_dir([Path("no/such/dir")], "lossbench-train"))
        ... # doctest: +ELLIPSIS
        -cd no/such/dir: no such directory (relative to ...). -cd adds a directory of config ...
    """
    for folder in dirs:
        if not folder.is_dir():
            what = "a file, not a directory" if folder.exists() else "no such directory"
            where = "" if folder.is_absolute() else f" (relative to {Path.cwd()})"
            return (
                f"-cd {folder}: {what}{where}. -cd adds a directory of "
                f"config groups of your own to lossbench's, e.g. {command} -cd my_configs "
                "data=mine with my_configs/data/mine.yaml; give a directory that exists."
            )
    return None


def refuse_missing_config_dirs(dirs: Sequence[Path], command: str) -> None:
    """Print :func:`missing_config_dir`'s refusal and exit with status 2; return when every
    directory of ``dirs`` exists."""
    refusal = missing_config_dir(dirs, command)
    if refusal is not None:
        print(f"lossbench: refused: {refusal}", file=sys.stderr)
        sys.exit(2)


def refuse_unknown_options(
    arguments: Sequence[str], options: Mapping[str, Sequence[str]], command: str
) -> None:
    """Print the refusal of the first unknown config group option in ``arguments`` and exit
    with status 2; return when every option is known."""
    for argument in arguments:
        refusal = unknown_option(argument, options, command)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)


def refuse_unknown_keys(
    arguments: Sequence[str],
    valid: Sequence[str],
    command: str,
    nested: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Print the refusal of the first unknown key in ``arguments`` (top-level, or inside a
    group of ``nested``), set or removed (``~key``), and exit with status 2; return when every
    key is known."""
    for argument in arguments:
        refusal = unknown_key(argument, valid, command, nested) or unknown_removed_key(
            argument, valid, command, nested
        )
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)
