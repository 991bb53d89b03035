"""Hydra's own settings on the command line (``hydra.*``, ``hydra/<group>=``) and the flags that
choose the config (``-cp``, ``-cn``, ``-p``), refused in lossbench's words.

Hydra refuses a mistake in these itself, but with exit status 1, its own words and a line about
``HYDRA_FULL_ERROR`` (with ``--help`` or ``--info``, a traceback), or it takes the mistake and
runs (``+hydra.nosuch=1`` is read by nothing; ``hydra.run.dir=``, empty, writes the run's files
into the current directory). Each command checks its command line first, against Hydra's own
schema (``hydra.conf.HydraConf``), before Hydra starts (:func:`hydra_setting_refusal`,
:func:`config_name_refusal`, :func:`package_refusal`):

    >>> print(hydra_setting_refusal("hydra.job.chdr=false", "lossbench-train"))
    ... # doctest: +ELLIPSIS
    hydra.job.chdr=false: Hydra has no setting hydra.job.chdr. Did you mean hydra.job.chdir? ...
    >>> hydra_setting_refusal("hydra.run.dir=outputs/mine", "lossbench-train") is None
    True

What only Hydra's composition finds (a primary config that is not where ``-cp`` / ``-cn`` point,
a group Hydra lacks, an entry of one of Hydra's mappings that is not there yet) is refused from
Hydra's error, through :func:`lossbench.hydra_internals.translating_errors`
(:func:`hydra_error_refusal`).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import shlex
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lossbench.hydra_internals import hydra_arguments
from lossbench.override_types import parsed_override

__all__ = [
    "CHECK_CALLBACK",
    "COMMAND_CONFIGS",
    "config_name_refusal",
    "hydra_error_refusal",
    "hydra_group_refusal",
    "hydra_setting_refusal",
    "null_package_refusal",
    "null_params_refusal",
    "package_refusal",
    "refuse_hydra_settings",
    "refuse_null_package",
]

#: Each command's primary config (``<name>.yaml``), and the name of its config folder
#: (:func:`lossbench.train.config_dir`: ``configs/``, ``command_configs/<name>/``).
COMMAND_CONFIGS = {
    "lossbench-train": "train",
    "lossbench-eval": "eval",
    "lossbench-predict": "predict",
}

#: Where a run's files go: a value the command line leaves empty writes them into the
#: current directory (``hydra.run.dir``, ``hydra.sweep.dir``), every job of a study into one
#: directory (``hydra.sweep.subdir``), or Hydra's files among lossbench's (``hydra.output_subdir``).
_EMPTY_LOCATIONS = {
    "hydra.run.dir": (
        "Hydra would write the run's files (metrics.json, config.yaml, checkpoints/, .hydra/) "
        "straight into the current directory ({cwd}), among whatever it holds. Name the run's "
        "directory, e.g. hydra.run.dir=outputs/runs/my_run, or leave hydra.run.dir out: each run "
        "then gets a new directory under paths.output_dir (outputs/runs/)"
    ),
    "hydra.sweep.dir": (
        "Hydra would write the study's job directories and its multirun.yaml straight into the "
        "current directory ({cwd}), among whatever it holds. Name the study's directory, e.g. "
        "hydra.sweep.dir=outputs/multiruns/my_study, or leave hydra.sweep.dir out: each study "
        "then gets a new directory under paths.output_dir (outputs/multiruns/)"
    ),
    "hydra.sweep.subdir": (
        "every job of the study would train in the study's directory itself, one over the "
        "other. Leave hydra.sweep.subdir out (each job gets <number>_<data>_<head>_<loss>), "
        "or give a name that differs from job to job, e.g. 'hydra.sweep.subdir=${{hydra.job.num}}'"
    ),
    "hydra.output_subdir": (
        "Hydra would write its config.yaml, hydra.yaml and overrides.yaml into the run's "
        "directory itself, where lossbench writes the run's resolved config.yaml. Leave "
        "hydra.output_subdir out (.hydra), name another folder, or give hydra.output_subdir=null "
        "to write none"
    ),
}
#: The settings of where Hydra writes: lossbench-eval and lossbench-predict write nothing but
#: their ``out`` (their configs set ``hydra.run.dir: .`` and ``hydra.output_subdir: null``).
_OUTPUT_SETTINGS = ("hydra.run", "hydra.sweep", "hydra.output_subdir")
#: What lossbench-eval and lossbench-predict write, and where by default.
_OUTPUTS = {
    "lossbench-eval": "its result (out=..., by default <run dir>/eval.json)",
    "lossbench-predict": (
        "its predictions (out=..., by default predictions.csv, or predictions.npz for images)"
    ),
}


#: lossbench-train's pre-run check (``configs/train.yaml``): a bad setting is refused before
#: Hydra makes the run's directory, and a sweep's bad job is recorded as refused.
CHECK_CALLBACK = "hydra.callbacks.validate_before_run"


def _removed_check(override: Any, key: str, given: str) -> str | None:
    """The refusal of ``given`` where it removes lossbench-train's pre-run check: ``~`` on
    :data:`CHECK_CALLBACK` or on all of ``hydra.callbacks``, or either set to null or ``{}``."""
    if key not in ("hydra.callbacks", CHECK_CALLBACK):
        return None
    emptied = not override.is_sweep_override() and override.value() in (None, {}, "")
    if not (override.is_delete() or (emptied and not override.is_add())):
        return None
    what = "lossbench's check" if key == CHECK_CALLBACK else "lossbench's callbacks, with its check"
    return (
        f"{given} removes {what} of every run before it starts ({CHECK_CALLBACK}): without "
        "it a bad setting of a single run is found only after Hydra made the run's directory, "
        "and a sweep's settings are not checked before its jobs start. Leave it in; a callback "
        "of your own goes beside it: +hydra.callbacks.<name>._target_=<your class>."
    )


#: Where a sweeper's keys are (Hydra's basic sweeper, Optuna's and lossbench's): one mapping
#: from each key, dots and all (``loss.gamma``), to its values as one text.
_SWEEPER_PARAMS = "hydra.sweeper.params."


def _sweeper_param_refusal(override: Any, key: str, given: str, command: str) -> str | None:
    """The refusal of ``given`` where its key names a key of ``hydra.sweeper.params`` that holds
    a dot (``~hydra.sweeper.params.loss.gamma``): Hydra reads it as the entry ``loss`` and
    ``gamma`` inside it, which the params (one text per key) cannot hold, and stops with its
    own error (exit status 1), or, for a sweep, with one about sweeping a ``hydra.*`` setting.
    And ``~hydra.sweeper.params``, which Hydra cannot remove (``=null`` empties it).

        >>> print(_sweeper_param_refusal(_parse("loss.gamma=1"), "loss.gamma", "", "x"))
        None
    """
    if key == _SWEEPER_PARAMS.rstrip(".") and override.is_delete():
        return (
            f"{given}: the sweeper's config cannot do without its params (Hydra's 'does not "
            "support deletion'). hydra.sweeper.params=null leaves them out: then each key to "
            "search is given as an override of its own ('loss.gamma_neg=interval(0.0, 5.0)')."
        )
    entry = key.removeprefix(_SWEEPER_PARAMS)
    if not key.startswith(_SWEEPER_PARAMS) or "." not in entry:
        return None
    first, rest = entry.split(".", 1)
    head = (
        f"{given}: the keys of hydra.sweeper.params are names with dots in them ({entry!r}), "
        f"which no override can name: Hydra reads {key} as the entry {first!r} and {rest!r} "
        "inside it."
    )
    value = None if override.is_delete() else override.value()
    if value is None:  # ~key, key=null: leave the key out of the search
        return (
            f"{head} To stop searching {entry}, fix it to one value ({entry}=<value>: the "
            "command line's value replaces the searched one). Where the config lacks it "
            "(hparams_search=optuna_focal searches loss.gamma, which loss=asl lacks), give "
            "hydra.sweeper.params=null, which leaves out the sweeper's params, and each key to "
            "search as an override of its own (for loss=asl: hydra.sweeper.params=null "
            "'optimizer.lr=tag(log, interval(1e-4, 3e-2))' 'loss.gamma_neg=interval(0.0, 5.0)'; "
            f"`{command} <your settings> --cfg hydra -p hydra.sweeper.params` lists the "
            f"params), or keep a copy of the hparams_search config without {entry} in a folder "
            "given with -cd."
        )
    text = value if isinstance(value, str) and not override.is_sweep_override() else None
    instead = shlex.quote(f"{entry}={text or given.split('=', 1)[1]}")
    return (
        f"{head} Give it as an override of {entry} itself, {instead}: the sweeper reads the "
        "command line's overrides as it reads its params, the command line's winning for the "
        "same key (a sweep, interval(...) or choice(...), is searched; one value is fixed)."
    )


#: Hydra's own config groups that its config cannot do without an option of (Hydra stops
#: with "Missing mandatory value" where one is removed), with Hydra's default option and
#: when it is needed: a multirun's launcher and sweeper (a single run uses neither), the logs'
#: configs always.
_NEEDED_HYDRA_GROUPS = {
    "hydra/launcher": ("basic", "a multirun (-m) needs one to run its jobs"),
    "hydra/sweeper": ("basic", "a multirun (-m) needs one to make its jobs"),
    "hydra/hydra_logging": ("default", "Hydra's config cannot do without one"),
    "hydra/job_logging": ("default", "Hydra's config cannot do without one"),
}
#: The option of a log's group that turns the log off.
_LOG_OFF = "disabled"


def _group_null(override: Any) -> bool:
    """Whether ``override`` gives its group null: alone, in a list or among a sweep's values."""
    from hydra.core.override_parser.types import Glob

    if override.is_delete():
        return False
    if override.is_sweep_override():
        if not override.is_discrete_sweep() or isinstance(override.value(), Glob):
            return False  # glob(...): names no option null
        values = list(override.sweep_iterator())
    else:
        values = [override.value()]
    return any(v is None or (isinstance(v, list) and None in v) for v in values)


def hydra_group_refusal(argument: str, command: str, *, multirun: bool = False) -> str | None:
    """The refusal of ``argument`` where it gives one of Hydra's own config groups
    (``hydra/launcher``, ``hydra/job_logging``, ...) null, which names no option (Hydra stops
    with a traceback), or removes one that Hydra cannot do without
    (:data:`_NEEDED_HYDRA_GROUPS`; the launcher and the sweeper only in a ``multirun``);
    else None.

        >>> print(hydra_group_refusal("hydra/launcher=null", "lossbench-train"))
        ... # doctest: +NORMALIZE_WHITESPACE
        hydra/launcher=null: hydra/launcher is one of Hydra's config groups, chosen by an
        option's name, and null names none (Hydra would stop on it). Leave hydra/launcher= out
        for Hydra's default, hydra/launcher=basic, or choose an option: `lossbench-train
        --hydra-help` lists them.
        >>> hydra_group_refusal("~hydra/launcher", "lossbench-train") is None  # a single run
        True
    """
    override = _parse(argument)
    if override is None or override.package is not None:
        return None
    group = override.key_or_group
    if not group.startswith("hydra/"):
        return None
    default, needed = _NEEDED_HYDRA_GROUPS.get(group, (None, None))
    log = group.endswith("_logging")
    fix = f"Leave {group}= out for " + (
        f"Hydra's default, {group}={default}," if default else "its default"
    )
    fix += f" or choose an option: `{command} --hydra-help` lists them"
    fix += f"; {group}={_LOG_OFF} turns the log off." if log else "."
    if _group_null(override):
        return (
            f"{argument}: {group} is one of Hydra's config groups, chosen by an option's name, "
            f"and null names none (Hydra would stop on it). {fix}"
        )
    if not override.is_delete() or needed is None or (not log and not multirun):
        return None
    what = "log config" if log else group.removeprefix("hydra/")
    return (
        f"{argument} removes Hydra's {what} ({group}), but {needed} (Hydra would stop on "
        f"'Missing mandatory value: {group.replace('/', '.')}'). {fix}"
    )


#: OmegaConf's errors where an override adds to (``+hydra.sweeper.params.seed=...``) or sets
#: a mapping into (``hydra.sweeper.params={...}``) a mapping that is null.
_INTO_NULL = ("Unexpected type for root: NoneType", "'NoneType' object has no attribute")


def _params_entries(override: Any) -> dict[str, Any]:
    """The entries of ``hydra.sweeper.params`` that ``override`` gives: ``{key: value}``."""
    key, value = override.key_or_group, override.value()
    if key == _SWEEPER_PARAMS.rstrip("."):
        return dict(value) if isinstance(value, dict) else {}
    return {key.removeprefix(_SWEEPER_PARAMS): value}


def null_params_refusal(error: BaseException, overrides: Sequence[str]) -> str | None:
    """The refusal of an override of ``overrides`` that adds an entry to the sweeper's params
    (``+hydra.sweeper.params.seed="0,1"``) or gives them as a mapping
    (``hydra.sweeper.params={seed:"0,1"}``) where the sweeper chosen has none (null, as Hydra's
    basic sweeper and lossbench's without a study or search config): Hydra cannot merge into a
    null mapping and stops with ``error`` (an AssertionError or AttributeError and a
    traceback). Else None. The fix: the same sweep as overrides of their own.

        >>> error = AssertionError("Unexpected type for root: NoneType")
        >>> print(null_params_refusal(error, ['+hydra.sweeper.params.seed="0,1"']))
        ... # doctest: +NORMALIZE_WHITESPACE
        +hydra.sweeper.params.seed="0,1": the sweeper's params are null (its config gives none:
        Hydra's basic sweeper, lossbench's without a study, Optuna's without a search config),
        and Hydra cannot add entries to a null mapping. Give each key to sweep as an override of
        its own, seed=0,1: the sweeper sweeps the command line's values as it does its params.
    """
    if not isinstance(error, (AssertionError, AttributeError)):
        return None
    if not any(text in str(error) for text in _INTO_NULL):
        return None
    for argument in reversed(overrides):
        override = _parse(argument)
        if override is None or override.is_delete() or override.is_sweep_override():
            continue
        if not (override.key_or_group + ".").startswith(_SWEEPER_PARAMS):
            continue
        entries = _params_entries(override)
        if not entries or any(v is None for v in entries.values()):
            continue
        instead = " ".join(shlex.quote(f"{k}={v}") for k, v in entries.items())
        return (
            f"{argument}: the sweeper's params are null (its config gives none: Hydra's basic "
            "sweeper, lossbench's without a study, Optuna's without a search config), and "
            "Hydra cannot add entries to a null mapping. Give each key to sweep as an override "
            f"of its own, {instead}: the sweeper sweeps the command line's values as it does "
            "its params."
        )
    return None


def _parse(argument: str) -> Any | None:
    """``argument`` as Hydra's override parser reads it, or None (a flag, or not Hydra's
    grammar: refused before, by :mod:`lossbench.override_grammar`)."""
    if argument.startswith("-") or ("=" not in argument and not argument.startswith("~")):
        return None
    return parsed_override(argument)


def _hydra_schema() -> type:
    from hydra.conf import HydraConf

    return HydraConf


def _unwrapped(kind: Any) -> Any:
    """``Optional[X]`` -> ``X``; any other type as it is."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _settings(schema: type) -> list[str]:
    """The settings of one of Hydra's dataclasses, as ``--cfg hydra`` lists them."""
    return [f.name for f in dataclasses.fields(schema) if f.name != "defaults"]


def _walk(dotted: str) -> tuple[str, Any, str, type | None]:
    """Follow ``dotted`` (``job.chdir``, below ``hydra``) through Hydra's dataclasses:
    ``("found", type, "", None)``, ``("unknown", None, parent path, parent dataclass)`` where
    a name is not a field, or ``("free", None, "", None)`` where the path leaves the
    dataclasses first (a mapping of Hydra's, a launcher's settings: not Hydra's schema)."""
    node: Any = _hydra_schema()
    path = "hydra"
    for part in dotted.split("."):
        node = _unwrapped(node)
        if not (isinstance(node, type) and dataclasses.is_dataclass(node)):
            return "free", None, "", None
        fields = {f.name for f in dataclasses.fields(node)}
        if part not in fields:
            return "unknown", None, path, node
        node = typing.get_type_hints(node)[part]
        path = f"{path}.{part}"
    return "found", _unwrapped(node), "", None


def _unknown_setting(given: str, name: str, parent: str, schema: type, command: str) -> str:
    """The refusal of ``given``, whose ``parent.name`` is not one of Hydra's settings."""
    settings = _settings(schema)
    close = difflib.get_close_matches(name, settings, n=1, cutoff=0.6)
    hint = f" Did you mean {parent}.{close[0]}?" if close else ""
    where = "Hydra's settings" if parent == "hydra" else f"Settings under {parent}"
    added = " (added with +, nothing would read it)" if given.startswith("+") else ""
    return (
        f"{given}: Hydra has no setting {parent}.{name}{added}.{hint} {where}: "
        f"{', '.join(settings)}. `{command} --cfg hydra` shows Hydra's settings with their values."
    )


def _nested_output_subdir(given: str, value: Any) -> str | None:
    """The refusal of ``hydra.output_subdir`` given a path rather than one folder's name
    (``meta/hydra``, ``/tmp/meta``, ``..``): lossbench's commands find Hydra's files of a run
    (where it ran from, its overrides) in a folder directly in the run's directory, by Hydra's
    ``hydra.yaml`` in it (:func:`lossbench.record.hydra_folder`); an absolute path would also
    put every run's files into one folder. None for a name, null or an empty value.

        >>> print(_nested_output_subdir("hydra.output_subdir=meta", "meta"))
        None
        >>> _nested_output_subdir("hydra.output_subdir=a/b", "a/b")[:60]
        'hydra.output_subdir=a/b: Hydra would write its files into a/'
    """
    if not isinstance(value, str) or not value.strip():
        return None
    name = value.strip()
    if "/" not in name and "\\" not in name and name not in (".", ".."):
        return None
    where = (
        "the run's directory itself, where lossbench writes the run's resolved config.yaml"
        if name == "."
        else f"{name}, a path rather than a folder directly in the run's directory, where "
        "lossbench-eval and lossbench-report look for them (the folder the run was started "
        "from, its overrides)"
    )
    every = ", and every run's into that one folder" if name.startswith("/") else ""
    return (
        f"{given}: Hydra would write its files into {where}{every}. Give one folder's name, "
        "e.g. hydra.output_subdir=meta, leave hydra.output_subdir out (.hydra), or give "
        "hydra.output_subdir=null to write none."
    )


def hydra_setting_refusal(argument: str, command: str) -> str | None:
    """The refusal of ``argument`` where it sets, adds or removes one of Hydra's settings in a
    way Hydra refuses (exit status 1) or takes without effect; else None.

    Checked against Hydra's schema: a key it lacks (``hydra.job.nosuch=1``, ``+hydra.nosuch=1``),
    ``+`` on a key it has (``+hydra.run.dir=x``), ``~`` on one (Hydra cannot remove it), a value
    for a node of settings (``hydra.run=x``); for lossbench-train, a run or study directory left
    empty (:data:`_EMPTY_LOCATIONS`); for lossbench-eval and lossbench-predict, which write
    nothing but their ``out``, any setting of where Hydra writes. Keys below one of Hydra's
    mappings or a launcher's or sweeper's settings are not Hydra's schema: not checked here.

        >>> print(hydra_setting_refusal("+hydra.run.dir=mine", "lossbench-train"))
        +hydra.run.dir=mine adds hydra.run.dir, but Hydra has that setting already: set it \
without the +, hydra.run.dir=mine.
        >>> hydra_setting_refusal("+hydra.job.env_set.OMP_NUM_THREADS=1", "lossbench-train")
    """
    override = _parse(argument)
    if override is None:
        return None
    key = override.key_or_group
    if override.package is not None or not key.startswith("hydra."):
        return None
    given = argument
    if param := _sweeper_param_refusal(override, key, given, command):
        return param
    kind, found, parent, schema = _walk(key.removeprefix("hydra."))
    if kind == "unknown":
        assert schema is not None
        name = key.removeprefix(f"{parent}.").split(".", 1)[0]
        return _unknown_setting(given, name, parent, schema, command)
    if command == "lossbench-train" and (removed := _removed_check(override, key, given)):
        return removed
    if command in _OUTPUTS and key.startswith(_OUTPUT_SETTINGS):
        return (
            f"{given}: {command} writes nothing but {_OUTPUTS[command]}: no run directory, no "
            f"Hydra files, so {key} would only leave a folder or Hydra's files behind. Leave it "
            "out; out=<file> chooses where the output goes."
        )
    if kind != "found":
        return None
    if override.is_add():
        value = argument.split("=", 1)[1] if "=" in argument else ""
        return (
            f"{given} adds {key}, but Hydra has that setting already: set it without the +, "
            f"{key}={value}."
        )
    if override.is_delete():
        instead = f"set it instead ({key}=<value>)"
        if isinstance(found, type) and dataclasses.is_dataclass(found):
            instead = f"set its settings instead ({key}.{_settings(found)[0]}=<value>, ...)"
        return (
            f"{given} removes {key}, one of Hydra's settings, which Hydra's config cannot do "
            f"without: {instead}; `{command} --cfg hydra` shows its value."
        )
    if override.is_sweep_override():
        return None  # a sweep of a hydra.* setting: lossbench.sweep_refusals
    value = override.value()
    if isinstance(found, type) and dataclasses.is_dataclass(found):
        if not isinstance(value, dict):
            settings = ", ".join(f"{key}.{name}" for name in _settings(found))
            return (
                f"{given}: {key} is a group of Hydra's settings ({settings}), not one value: "
                f"set them one by one, e.g. {key}.{_settings(found)[0]}=..."
            )
        return None
    nested = _nested_output_subdir(given, value) if key == "hydra.output_subdir" else None
    if command == "lossbench-train" and nested is not None:
        return nested
    empty = isinstance(value, str) and not value.strip()
    if command == "lossbench-train" and key in _EMPTY_LOCATIONS and empty:
        why = _EMPTY_LOCATIONS[key].format(cwd=Path.cwd())
        unset = " (a shell variable that is not set?)" if key != "hydra.output_subdir" else ""
        return f"{given} is empty{unset}: {why}."
    return None


def config_name_refusal(arguments: Sequence[str], command: str) -> str | None:
    """The refusal of ``-cn NAME`` (``--config-name``) naming another command's primary config
    from lossbench's configs (no ``-cp``): it needs that command's schema, which Hydra stops
    on ("Could not load 'eval_schema'"), or composes a config this command cannot read.

        >>> print(config_name_refusal(["-cn", "eval"], "lossbench-train"))  # doctest: +ELLIPSIS
        -cn eval: eval.yaml is lossbench-eval's config, not lossbench-train's. ...
    """
    parsed = hydra_arguments(arguments)
    if parsed is None or parsed.config_name is None or parsed.config_path is not None:
        return None
    name = parsed.config_name.removesuffix(".yaml")
    owners = {config: owner for owner, config in COMMAND_CONFIGS.items()}
    if name not in owners or owners[name] == command:
        return None
    own = COMMAND_CONFIGS[command]
    return (
        f"-cn {parsed.config_name}: {name}.yaml is {owners[name]}'s config, not {command}'s. "
        f"{command} composes {own}.yaml (leave -cn out), or a primary config of your own: "
        f"-cp <its folder> -cn <its name>; to run {owners[name]}, call it: {owners[name]} ..."
    )


def package_refusal(
    arguments: Sequence[str],
    command: str,
    keys: Sequence[str],
    nested: Mapping[str, Sequence[str]] | None = None,
) -> str | None:
    """The refusal of ``--cfg TYPE -p PACKAGE`` where ``PACKAGE`` names no key of what
    ``--cfg TYPE`` shows (Hydra: "package 'nosuch' not found in config", exit status 1):
    ``keys``, the top-level keys of the command's config (for ``--cfg job`` and ``all``),
    ``nested`` the keys inside some of them; ``hydra`` and Hydra's settings (``--cfg hydra``,
    ``all``). Keys added with ``+key=`` count; with another primary config (``-cp``, ``-cn``)
    only Hydra's settings are checked.

        >>> print(package_refusal(["--cfg", "job", "-p", "optimzer"], "lossbench-train",
        ...                       ["data", "optimizer", "seed"]))  # doctest: +ELLIPSIS
        -p optimzer: the config --cfg job shows has no key 'optimzer'. Did you mean ...
    """
    parsed = hydra_arguments(arguments)
    if parsed is None or parsed.cfg is None or parsed.package in (None, "_global_"):
        return None
    package, cfg = str(parsed.package), parsed.cfg
    first, _, rest = package.partition(".")
    if first == "hydra" and cfg != "job":
        return _hydra_package_refusal(package, rest)
    other_config = parsed.config_path is not None or (
        parsed.config_name is not None
        and parsed.config_name.removesuffix(".yaml") != COMMAND_CONFIGS.get(command)
    )
    if cfg != "hydra" and other_config:
        return None  # the keys of another primary config
    added = [
        o.key_or_group
        for o in (_parse(a) for a in parsed.overrides)
        if o is not None and (o.is_add() or o.is_force_add())
    ]
    if cfg != "hydra" and any(_within(package, key) for key in added):
        return None  # a key added on the command line (+key=, ++key=), or one inside it
    shown = sorted({*keys, *(key.split(".", 1)[0] for key in added)}) if cfg != "hydra" else []
    if first in shown:
        inner = (nested or {}).get(first)
        name = rest.split(".", 1)[0]
        if not rest or inner is None or name in inner:
            return None
        close = difflib.get_close_matches(name, inner, n=1, cutoff=0.6)
        hint = f" Did you mean -p {first}.{close[0]}?" if close else ""
        return (
            f"-p {package}: there is no key {name!r} under {first}.{hint} Keys under {first} (of "
            f"a config group: of all its options): {', '.join(inner)}. `{command} --cfg job -p "
            f"{first}` shows the one composed."
        )
    if cfg == "job" and first == "hydra":
        meant: str | None = f"--cfg hydra -p {package}"
    elif cfg == "hydra" and first in _settings(_hydra_schema()):
        meant = f"-p hydra.{package}"
    else:
        candidates = [*shown, *(["hydra"] if cfg != "job" else [])]
        close = difflib.get_close_matches(first, candidates, n=1, cutoff=0.6)
        meant = f"-p {close[0]}" if close else None
    hint = f" Did you mean {meant}?" if meant else ""
    if cfg == "hydra":
        listed = "hydra, or a setting below it, e.g. -p hydra.run"
    else:
        inside = [f"{k}.{v}" for k, values in (nested or {}).items() for v in values]
        example = next((e for e in ("data.batch_size", *inside) if e in inside), "")
        listed = ", ".join(shown) + (" or hydra" if cfg == "all" else "")
        listed += f", or a key inside one, e.g. -p {example}" if example else ""
    return (
        f"-p {package}: the config --cfg {cfg} shows has no key {first!r}.{hint} -p takes one "
        f"of its keys: {listed}. `{command} --cfg {cfg}` shows them all."
    )


def _within(package: str, key: str) -> bool:
    """Whether ``-p package`` shows ``key`` or a part of it: the key, a key inside it, or a
    key that holds it (``-p loss`` where ``+loss.foo=1`` adds ``loss.foo``).

        >>> _within("loss.foo", "loss.foo"), _within("loss", "loss.foo"), _within("lo", "loss")
        (True, True, False)
    """
    return package == key or key.startswith(f"{package}.") or package.startswith(f"{key}.")


def null_package_refusal(
    arguments: Sequence[str], command: str, configs: Path, added: Sequence[Path] | None
) -> str | None:
    """The refusal of ``--cfg job -p KEY`` (or ``--cfg all``) where ``KEY``'s value in the
    config composed is null (``-p setup``, ``-p ckpt_path``): Hydra's ``-p`` shows a key with a
    value only, and stops on a null one with "package 'setup' not found in config" (exit
    status 1), though the key is there. The config is composed as Hydra will compose it, from
    ``configs`` and the config folders ``added`` (``-cd``); None where it cannot be (another
    primary config: ``added`` None), or Hydra stops on it (it reports that itself).

        >>> from lossbench.config import register_configs
        >>> from lossbench.train import config_dir
        >>> register_configs()  # the schemas train.yaml names
        >>> print(null_package_refusal(["--cfg", "job", "-p", "ckpt_path"], "lossbench-train",
        ...                            config_dir(), []))  # doctest: +ELLIPSIS
        -p ckpt_path: ckpt_path is null in the config --cfg job shows, and Hydra's -p shows ...
        >>> null_package_refusal(["--cfg", "job", "-p", "seed"], "lossbench-train",
        ...                      config_dir(), []) is None
        True
    """
    parsed = hydra_arguments(arguments)
    if parsed is None or parsed.cfg not in ("job", "all") or added is None:
        return None
    package = parsed.package
    if package in (None, "_global_") or str(package).split(".", 1)[0] == "hydra":
        return None
    if parsed.config_name not in (None, COMMAND_CONFIGS[command]):
        return None
    if not _is_null(configs, COMMAND_CONFIGS[command], parsed.overrides, added, str(package)):
        return None
    return (
        f"-p {package}: {package} is null in the config --cfg {parsed.cfg} shows, and Hydra's "
        f"-p shows only a key with a value (it would stop: \"package '{package}' not found in "
        f'config"). `{command} --cfg {parsed.cfg}` shows it ({package}: null) with the rest; '
        f"-p takes a key whose value is not null."
    )


def _is_null(
    configs: Path, name: str, overrides: Sequence[str], added: Sequence[Path], key: str
) -> bool:
    """Whether ``key`` is in the config Hydra composes from ``name``.yaml of ``configs`` (and the
    folders ``added``) with ``overrides``, with the value null; False where it is not, or where
    the config cannot be composed."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    # a check of the command line before Hydra starts (no config composed yet): it steps aside
    # where another app is initialised, which initialize_config_dir cannot run inside
    if GlobalHydra.instance().is_initialized():
        return False  # inside a Hydra app (a test's compose): not the command line's check
    searchpath = [f"file://{Path(folder).resolve()}" for folder in added]
    extra = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    missing = object()
    try:
        with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
            cfg = compose(name, overrides=[*overrides, *extra])
        value = OmegaConf.select(cfg, key, default=missing, throw_on_missing=True)
    except Exception:
        return False
    return value is None


def _hydra_package_refusal(package: str, rest: str) -> str | None:
    """The refusal of ``-p hydra.<rest>`` where Hydra has no such setting."""
    if not rest:
        return None
    kind, _, parent, schema = _walk(rest)
    if kind != "unknown":
        return None
    assert schema is not None
    name = f"hydra.{rest}".removeprefix(f"{parent}.").split(".", 1)[0]
    settings = _settings(schema)
    close = difflib.get_close_matches(name, settings, n=1, cutoff=0.6)
    hint = f" Did you mean -p {parent}.{close[0]}?" if close else ""
    where = "Hydra's settings" if parent == "hydra" else f"Settings under {parent}"
    listed = ", ".join(settings)
    return f"-p {package}: Hydra has no setting {parent}.{name}.{hint} {where}: {listed}."


def refuse_hydra_settings(
    arguments: Sequence[str],
    command: str,
    keys: Sequence[str],
    nested: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Print the first refusal of :func:`config_name_refusal`, :func:`package_refusal`,
    :func:`hydra_setting_refusal` and :func:`hydra_group_refusal` (each override) for
    ``arguments`` (the command line, flags first) and exit with status 2; return where there
    is none."""
    parsed = hydra_arguments(arguments)
    overrides = [] if parsed is None or parsed.shell_completion else list(parsed.overrides)
    multirun = (parsed is not None and parsed.multirun) or "hydra.mode=MULTIRUN" in overrides
    refusals = (
        config_name_refusal(arguments, command),
        package_refusal(arguments, command, keys, nested),
        *(hydra_setting_refusal(argument, command) for argument in overrides),
        *(hydra_group_refusal(argument, command, multirun=multirun) for argument in overrides),
    )
    refusal = next((r for r in refusals if r is not None), None)
    if refusal is not None:
        print(f"lossbench: refused: {refusal}", file=sys.stderr)
        sys.exit(2)


def refuse_null_package(
    arguments: Sequence[str], command: str, configs: Path, added: Sequence[Path] | None
) -> None:
    """Print :func:`null_package_refusal`'s refusal and exit with status 2; return where
    there is none. Call it once the command's schemas are registered (Hydra composes)."""
    refusal = null_package_refusal(arguments, command, configs, added)
    if refusal is not None:
        print(f"lossbench: refused: {refusal}", file=sys.stderr)
        sys.exit(2)


# ---- Hydra's errors, translated -----------------------------------------------------------

_NO_PRIMARY_DIR = re.compile(r"Primary config directory not found\.\nCheck that the config "
                             r"directory '(?P<dir>[^']*)' exists")  # fmt: skip
#: A relative ``-cp`` where Hydra reads it as a module of lossbench's package (the commands,
#: ``python -m lossbench.train`` too: Hydra takes ``lossbench.train`` for the app's module, and
#: ``-cp my_configs`` for ``pkg://lossbench/my_configs``); an app run as ``__main__`` reads it
#: as a folder instead (:data:`_NO_PRIMARY_DIR`).
_NO_PRIMARY_MODULE = re.compile(r"Primary config module (?:'(?P<module>[^']*)' not found|is empty)")
_NO_PRIMARY = re.compile(r"Cannot find primary config '(?P<name>[^']*)'")
_NOT_OVERRIDDEN = re.compile(r"Could not override '(?P<key>[^']+)'")
#: Hydra's words where a config file of the defaults list sets a key the config lacks.
_COMPOSING = re.compile(r"In '(?P<config>[^']+)': \w+ raised while composing config")


def _primary_dir(config_path: str | None, configs: Path) -> Path | None:
    """The folder Hydra looks for the primary config in: the command's config folder
    (``configs``), or ``-cp``'s folder (Hydra reads a relative one from the folder of
    lossbench's code); None for a package (``pkg://``)."""
    if config_path is None:
        return configs
    if config_path.startswith("pkg://"):
        return None
    path = Path(config_path)
    return path if path.is_absolute() else Path(os.path.normpath(Path(__file__).parent / path))


def _primary_configs(folder: Path, command: str, configs: Path) -> list[str]:
    """The YAML files at the top of ``folder`` (a primary config's candidates), without the
    other commands' own where ``folder`` is the command's config folder, ``configs``."""
    if not folder.is_dir():
        return []
    others = {c for owner, c in COMMAND_CONFIGS.items() if owner != command}
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    return [n for n in names if not (folder == configs and n in others)]


def _missing_primary_dir(folder: str, given: str, name: str | None = None) -> str:
    """The refusal of ``-cp given`` (``-cn name``, if given) where Hydra finds no directory at
    ``folder`` (a relative ``-cp``: below the folder of lossbench's code)."""
    path = Path(given)
    found = Path(folder)
    with_name = f" -cn {name}" if name else ""
    if found.is_dir():  # below lossbench's code, but not a package Hydra reads as one
        what = "a folder Hydra does not read as one of configs"
    else:
        what = "a file, not a directory" if found.exists() else "no such directory"
    message = f"-cp {given}: {what} ({folder})."
    here = Path.cwd() / path
    if not path.is_absolute() and here.is_dir() and here.resolve() != found.resolve():
        return (
            f"{message} Hydra reads a relative -cp from the folder of lossbench's code, not from "
            f"the current directory: give the folder's absolute path, -cp {here}{with_name}; to "
            f"add config groups of your own to lossbench's instead, use -cd {given}."
        )
    if found.is_dir():
        return (
            f"{message} Hydra reads a relative -cp as a module of lossbench's code: give the "
            f"folder's absolute path, -cp {found}{with_name}."
        )
    if not path.is_absolute():
        message += " (Hydra reads a relative -cp from the folder of lossbench's code.)"
    return (
        message + " -cp names the folder of a primary config of your own (with -cn its name, "
        "e.g. -cp /path/to/my_configs -cn my_train); to add config groups to lossbench's, use "
        "-cd <folder>."
    )


def _missing_package(given: str) -> str:
    """The refusal of ``-cp pkg://...`` naming no importable package."""
    return (
        f"-cp {given}: there is no Python package {given.removeprefix('pkg://')!r} to read a "
        "primary config from (pkg:// names a package that can be imported, with an "
        "__init__.py). Give the folder's path instead, -cp /path/to/my_configs -cn my_train; to "
        "add config groups to lossbench's, use -cd <folder>."
    )


def _missing_primary(name: str, parsed: Any, command: str, configs: Path) -> str:
    folder = _primary_dir(parsed.config_path, configs)
    if parsed.config_path is not None and folder is not None and not folder.is_dir():
        # --info: Hydra looks for the primary config without checking -cp's folder first
        return _missing_primary_dir(str(folder), parsed.config_path, parsed.config_name)
    folders = [folder] if folder is not None else []
    folders += [Path(d).absolute() for d in ([parsed.config_dir] if parsed.config_dir else [])]
    found = sorted({n for f in folders for n in _primary_configs(f, command, configs)})
    where = " or ".join(str(f) for f in folders) or str(parsed.config_path)
    given = " ".join(
        f"{flag} {value}"
        for flag, value in (("-cp", parsed.config_path), ("-cn", parsed.config_name))
        if value is not None
    )
    message = f"{given}: there is no primary config {name!r} ({name}.yaml) in {where}."
    close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
    if close:
        message += f" Did you mean -cn {close[0]}?"
    listed = ", ".join(found) if found else "none"
    own = COMMAND_CONFIGS.get(command, "train")
    return (
        f"{message} Primary configs there: {listed}. Leave -cp and -cn out for {command}'s own "
        f"({own}.yaml), or give the folder and name of one of yours: -cp <folder> -cn <name>."
    )


def _group_refusal(argument: str, key: str, command: str) -> str:
    """The refusal of ``parent/name=...`` where Hydra has no group ``parent/name``."""
    from hydra.core.global_hydra import GlobalHydra

    parent, _, name = key.lstrip("+~").rpartition("/")
    # Hydra could not compose the config (no config with a search path exists): the groups are
    # those of the app that just failed, a hint for the refusal only
    known = GlobalHydra.instance().is_initialized()  # not after --help's composition
    groups = sorted(GlobalHydra.instance().config_loader().list_groups(parent)) if known else []
    close = difflib.get_close_matches(name, groups, n=1, cutoff=0.6)
    hint = f" Did you mean {parent}/{close[0]}?" if close else ""
    if groups:
        listed = f" Groups under {parent}: {', '.join(f'{parent}/{g}' for g in groups)}."
    elif known:
        listed = f" {parent} has no groups inside it: choose one of its options, {parent}=<option>."
    else:
        listed = ""
    return (
        f"{argument}: there is no config group {parent}/{name}.{hint}{listed} "
        f"`{command} --info defaults` shows the groups and the options chosen."
    )


def hydra_error_refusal(
    error: BaseException, arguments: Sequence[str], command: str, configs: Path
) -> str | None:
    """The refusal of Hydra's ``error`` on ``arguments`` (the command line) where it is about
    the config Hydra was pointed at or one of Hydra's own settings; else None (Hydra reports
    it). ``configs``: the command's config folder. What it answers:

    * ``-cp DIR`` naming no directory ("Primary config directory not found"; for a relative
      one, where the console commands read it as a module of lossbench's package, "Primary
      config module 'lossbench.DIR' not found"), or ``-cp pkg://NAME`` no package;
    * no primary config where ``-cp`` / ``-cn`` point ("Cannot find primary config"), with the
      YAML files there;
    * ``hydra/nosuch=x``: a config group Hydra lacks, with the groups it has;
    * ``hydra.job.env_set.X=1``: an entry one of Hydra's mappings lacks, set without ``+``.

        >>> from hydra.errors import MissingConfigException
        >>> from lossbench.train import config_dir
        >>> error = MissingConfigException("Cannot find primary config 'trian'. Check ...")
        >>> print(hydra_error_refusal(error, ["-cn", "trian"], "lossbench-train", config_dir()))
        ... # doctest: +ELLIPSIS
        -cn trian: there is no primary config 'trian' (trian.yaml) in .../configs. Did you \
mean -cn train? Primary configs there: train. ...
    """
    from hydra.errors import ConfigCompositionException, MissingConfigException

    parsed = hydra_arguments(arguments)
    if parsed is None:
        return None
    text = str(error)
    if isinstance(error, MissingConfigException):
        given, name = parsed.config_path, parsed.config_name
        if (found := _NO_PRIMARY_DIR.search(text)) and given is not None:
            return _missing_primary_dir(found["dir"], given, name)
        if _NO_PRIMARY_MODULE.search(text) and given is not None:
            if given.startswith("pkg://"):
                return _missing_package(given)
            folder = _primary_dir(given, configs)
            return _missing_primary_dir(str(folder), given, name)
        if found := _NO_PRIMARY.match(text):
            return _missing_primary(found["name"], parsed, command, configs)
        found = _NOT_FOUND_OPTION.search(text) or _NOT_LOADED.search(text)
        if found and given is not None:
            return _group_outside_primary_dir(found["config"], given, name, configs)
        return None
    if not isinstance(error, ConfigCompositionException):
        return None
    if composing := _COMPOSING.match(text):
        return _sampler_key_refusal(error, composing["config"], parsed.overrides)
    found = _NOT_OVERRIDDEN.match(text)
    if found is None:
        return None
    key = found["key"]
    given = [a for a in parsed.overrides if a.split("=", 1)[0] == key and "=" in a]
    if not given:
        return None  # set in a config file, not on the command line
    if "/" in key and "=" in given[-1]:
        return _group_refusal(given[-1], key, command)
    cause = error.__cause__
    full_key, name = getattr(cause, "full_key", None), getattr(cause, "key", None)
    if key.startswith("hydra.") and "is not in struct" in str(cause) and full_key and name:
        parent = str(full_key).removesuffix(f".{name}")
        return (
            f"{given[-1]}: {parent} has no entry {str(name)!r} yet, and an entry is added to one "
            f"of Hydra's mappings with a +: +{given[-1]}."
        )
    node = getattr(cause, "parent_node", None)
    if key.startswith(("hydra.sweeper.", "hydra.launcher.")) and hasattr(node, "keys"):
        return _plugin_setting_refusal(given[-1], key, [str(k) for k in node])
    return None


#: Hydra composing a primary config whose defaults list names an option it cannot find.
_NOT_FOUND_OPTION = re.compile(r"Could not find '(?P<config>[^']+)'")
#: Hydra composing a primary config whose defaults list names a config it cannot find
#: (``defaults: [train, _self_]``).
_NOT_LOADED = re.compile(r"In '[^']+': Could not load '(?P<config>[^'/]+)'")


def _group_outside_primary_dir(
    config: str, given: str, name: str | None, configs: Path
) -> str | None:
    """The refusal where the primary config of ``-cp given`` names ``config``, lossbench's
    ``train.yaml`` (``train``: a config extending it) or an option of one of lossbench's config
    groups (``study/full``: a copy of ``train.yaml``), which ``-cp`` leaves out of the search
    path; None for a config lossbench does not have (the user's own, misspelt).

        >>> from lossbench.train import config_dir
        >>> print(_group_outside_primary_dir("study/full", "/my", "t", config_dir())[:58])
        -cp /my -cn t: the primary config chooses study/full, an o
        >>> print(_group_outside_primary_dir("train", "/my", "t", config_dir())[:72])
        -cp /my -cn t: the primary config's `defaults:` list names train, lossbe
    """
    group = config.split("/", 1)[0]
    cn = f" -cn {name}" if name else ""
    if "/" in config and (configs / group).is_dir():
        what = f"the primary config chooses {config}, an option of lossbench's config group {group}"
        lost = "its groups are"
    elif "/" not in config and (configs / f"{config}.yaml").is_file():
        what = f"the primary config's `defaults:` list names {config}, lossbench's {config}.yaml"
        lost = f"{config}.yaml is"
    else:
        return None
    return (
        f"-cp {given}{cn}: {what}, "
        f"but -cp replaces lossbench's config folder ({configs}), so {lost} not found. Use "
        f"-cd {given}{cn} instead: the folder's configs join lossbench's (a primary config "
        "there is used in place of train.yaml). With -cp, the primary config and every "
        "config and group it chooses must be in that folder."
    )


def _sampler_key_refusal(error: BaseException, config: str, overrides: Sequence[str]) -> str | None:
    """The refusal where ``config`` (``hparams_search/optuna_focal``) sets a setting of
    ``hydra.sweeper.sampler`` that the sampler chosen lacks (``hydra/sweeper/sampler=grid``
    takes no ``seed``); else None."""
    from hydra.core.config_store import ConfigStore

    cause = error.__cause__ or error.__context__
    full_key, name = str(getattr(cause, "full_key", "")), getattr(cause, "key", None)
    if not full_key.startswith("hydra.sweeper.sampler.") or name is None:
        return None
    chosen = [a.split("=", 1)[1] for a in overrides if a.startswith("hydra/sweeper/sampler=")]
    store = ConfigStore.instance()
    having = []
    for option in sorted(store.list("hydra/sweeper/sampler")):
        node = store.load(f"hydra/sweeper/sampler/{option}").node
        if name in node:
            having.append(option.removesuffix(".yaml"))
    given = f"hydra/sweeper/sampler={chosen[-1]}" if chosen else "the sampler chosen"
    return (
        f"{given}: that sampler has no setting {name!r}, which {config} sets "
        f"({full_key}). Choose a sampler that takes it: "
        f"{', '.join(f'hydra/sweeper/sampler={o}' for o in having) or 'none does'}; or "
        f"give a config of your own without {full_key}."
    )


def _plugin_setting_refusal(given: str, key: str, keys: list[str]) -> str:
    """The refusal of ``given``, which sets ``key``, a setting the sweeper's or launcher's
    node (``hydra.sweeper.sampler``, ...) lacks; ``keys``: the node's keys.

        >>> print(_plugin_setting_refusal("hydra.sweeper.sampler.seeed=1",
        ...       "hydra.sweeper.sampler.seeed", ["_target_", "seed"]))
        hydra.sweeper.sampler.seeed=1: hydra.sweeper.sampler has no setting 'seeed'. Did you \
mean hydra.sweeper.sampler.seed? Its settings: seed.
    """
    parent, _, name = key.rpartition(".")
    settings = [k for k in keys if not k.startswith("_")]
    close = difflib.get_close_matches(name, settings, n=1, cutoff=0.6)
    hint = f" Did you mean {parent}.{close[0]}?" if close else ""
    return (
        f"{given}: {parent} has no setting {name!r}.{hint} Its settings: "
        f"{', '.join(settings) or 'none'}."
    )
