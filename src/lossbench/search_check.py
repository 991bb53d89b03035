"""An Optuna search checked before its first trial: :func:`check_search`.

A search (``hparams_search=...``, Hydra's Optuna sweeper) composes each trial's config only
when it launches it. Two mistakes then cost a whole search: a searched key that the chosen
config lacks (``hparams_search=optuna_focal loss=asl``: ``loss.gamma`` is focal's parameter)
ends the first trial with Hydra's composition error, and a setting refused whatever the searched
values are (``head=sigmoid loss=focal``, a double sigmoid) is recorded as a refused trial
``n_trials`` times, after which Optuna fails with "No trials are completed yet".

:func:`check_search` composes a few trials up front, with each searched value inside its range
(an interval's middle, on a log scale where it is tagged ``log``; each option of a choice), and
validates each config as a run does (:func:`lossbench.validation.validate`). It refuses the
search when a trial cannot be composed, or when every one of these trials is refused: then the
refusal does not depend on the searched values. A trial refused only at some values (a choice
of losses of which one does not fit the task) is left to the search, which records it and goes
on.

A searched key the chosen config lacks is refused with what can be typed instead. The keys of
``hydra.sweeper.params`` hold dots (``loss.gamma``), so no override names one of them
(:mod:`lossbench.hydra_settings` refuses ``~hydra.sweeper.params.loss.gamma``); but the
sweeper reads the command line's overrides as it reads its params, the command line's winning
for the same key. So a key is searched with ``'loss.gamma_neg=interval(0.0,5.0)'``, fixed to one
value with ``loss.gamma=2``, and left out by emptying the params, ``hydra.sweeper.params=null``,
and giving each key still to search as an override of its own (:func:`without_key`).

    >>> trial_overrides({"optimizer.lr": "tag(log, interval(1e-4, 1e-2))"}, ["data=iris"])
    [['optimizer.lr=0.001', 'data=iris']]
    >>> trial_overrides({"loss": "choice(focal, asl)"}, [])
    [['loss=focal'], ['loss=asl']]
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from omegaconf import DictConfig

from lossbench.errors import ConfigError
from lossbench.search_params import is_search, sweeper_overrides, without_key

__all__ = ["check_ranges", "check_search", "is_search", "trial_overrides", "without_key"]

#: Hydra's composition error where a trial sets a key its config lacks.
_NOT_OVERRIDDEN = re.compile(r"Could not override '(?P<key>[^']+)'")
#: Hydra's advice after it: to add the key with ``+``, which no part of the trial would read.
_HYDRA_APPEND = re.compile(r" To append to your config use \+\S+?(?=\.? |\.?$)")
#: Hydra's advice where ``+key`` adds a key already there: ``++key``, which would set the key a
#: search samples to one value in every trial (:mod:`lossbench.search_conflicts` advises).
_HYDRA_PREFIXES = re.compile(r"\.? Either remove \+ prefix: .*$")


def _middle(sweep: Any) -> str:
    """A value inside an ``interval(a, b)``: its middle, geometric where tagged ``log``,
    computed without overflow however large the ends (a product or sum of two would be inf).

        >>> from hydra.core.override_parser.types import IntervalSweep
        >>> _middle(IntervalSweep(start=1e200, end=1e300, tags={"log"}))
        '1e+250'
        >>> _middle(IntervalSweep(start=1e308, end=1.7e308))
        '1.35e+308'
        >>> _middle(IntervalSweep(start=1, end=10**400, tags={"log"})) == str(10**200)
        True
    """
    start, end = sweep.start, sweep.end
    integers = isinstance(start, int) and isinstance(end, int)  # Optuna samples integers there
    if "log" in sweep.tags and start > 0 and end > 0:
        if integers and max(start, end) > sys.float_info.max:  # beyond a float: exact
            return str(math.isqrt(start * end))
        value = math.sqrt(start) * math.sqrt(end)
    elif integers:  # exact, rounded half to even as round() rounds a float
        return str(round(Fraction(start + end, 2)))
    else:
        value = start / 2 + end / 2
    if integers:
        return str(round(value))
    return repr(float(f"{value:.6g}"))


def trial_overrides(params: Mapping[str, str], arguments: Sequence[str]) -> list[list[str]]:
    """The overrides of the trials :func:`check_search` composes, as Hydra's Optuna sweeper
    gives them to a trial (:func:`sweeper_overrides`): the searched keys' values, then the
    fixed ones. A ``~key`` of the command line beside a searched ``key`` is a key of its own:
    each trial sets the sampled value, then removes it, as the sweeper's trials do.

    ``params`` is ``hydra.sweeper.params``, ``arguments`` the command line's overrides. The
    first trial takes every interval's middle and every choice's or range's first value; each
    further trial changes one choice or range to another of its values.

        >>> trial_overrides({"loss.gamma": "interval(0, 5)"}, ["~loss.gamma", "data=iris"])
        [['loss.gamma=2.5', '~loss.gamma', 'data=iris']]
    """
    from hydra.core.override_parser.types import IntervalSweep

    searched, fixed = sweeper_overrides(params, arguments)
    first: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for element, override in searched.items():
        if isinstance(override.value(), IntervalSweep):
            first[element] = f"{element}={_middle(override.value())}"
            continue
        values = list(override.sweep_string_iterator())
        first[element] = f"{element}={values[0]}"
        others += [(element, f"{element}={value}") for value in values[1:]]
    first |= {element: override.input_line for element, override in fixed.items()}
    trials = [list(first.values())]
    for element, line in others:
        trials.append([line if k == element else v for k, v in first.items()])
    return trials


def _settings(lines: Sequence[str]) -> list[Any]:
    """The overrides of ``lines`` that set a value, parsed: ``key=value``, and ``+key=value``,
    which sets ``key`` by adding it (Optuna samples ``+key=interval(...)`` as it samples
    ``key=interval(...)``); not ``~key`` (nor ``~key=value``), which removes a key and sets
    none, as the key check (:mod:`lossbench.option_keys`) does not count it either.

    >>> [o.key_or_group for o in _settings(["loss.gamma=2", "+loss.alpha=0.5", "~loss.clip"])]
    ['loss.gamma', 'loss.alpha']
    """
    from lossbench.override_grammar import override_parser

    return [o for o in override_parser().parse_overrides(list(lines)) if not o.is_delete()]


def _keys_searched(params: Mapping[str, str], arguments: Sequence[str]) -> list[str]:
    """The keys a search samples (:func:`sweeper_overrides`): those of ``params`` and of the
    command line (``arguments``) given an interval, a choice or a range and no fixed value;
    not a swept ``~key``, which removes a key and sets none; each named by its key
    (``loss.alpha`` for ``+loss.alpha=interval(0.1, 0.9)``), once.

    >>> _keys_searched({"optimizer.lr": "interval(0.1, 1)", "loss.gamma": "interval(0.0, 5.0)"},
    ...                ["loss.gamma=2", "loss.alpha=choice(0.25, 0.5)"])
    ['optimizer.lr', 'loss.alpha']
    >>> _keys_searched({}, ["+loss.alpha=interval(0.1, 0.9)", "~loss.clip=choice(0.05, 0.1)"])
    ['loss.alpha']
    """
    searched, _ = sweeper_overrides(params, arguments)
    keys = [o.key_or_group for o in searched.values() if not o.is_delete()]
    return list(dict.fromkeys(keys))


def _option(group: str, trial: Sequence[str], config: DictConfig) -> str | None:
    """The option of ``group`` a trial of ``trial``'s overrides composes: the last one the
    overrides choose, else the one the search's config chose."""
    from lossbench.override_grammar import override_parser

    chosen = config.hydra.runtime.choices.get(group)
    for override in override_parser().parse_overrides(list(trial)):
        if override.key_or_group == group and not override.is_sweep_override():
            chosen = override.value()
    return chosen if isinstance(chosen, str) else None


def _lacked_key_fix(
    reason: str,
    params: Mapping[str, str],
    arguments: Sequence[str],
    trial: Sequence[str],
    config: DictConfig,
) -> str:
    """What to change where a trial cannot be composed (Hydra's ``reason``): for a searched key
    the trial's config lacks, the options that have it, and the overrides that search without
    it; else what works in general."""
    found = _NOT_OVERRIDDEN.search(reason)
    key = found["key"] if found else ""
    settings_given = _settings(arguments)  # ~key removes a key: it sets none
    if "." not in key or key not in set(params) | {o.key_or_group for o in settings_given}:
        return (
            "Choose settings under which every searched key exists (loss.gamma exists with "
            "loss=focal but not with loss=asl), or search other keys: an override of a key's "
            "own, 'loss.gamma_neg=interval(0.0, 5.0)', is searched as hydra.sweeper.params "
            "are, and hydra.sweeper.params=null leaves those out (README: Tuning with Optuna)."
        )
    group, _, name = key.partition(".")
    option = _option(group, trial, config)
    from lossbench.key_owners import needed_keys, option_settings, options_with, unmet

    settings = option_settings(group, option)
    needs = needed_keys(group, name, settings_given, (None, params)).keys
    owners = [o for o in options_with(group, [name, *needs]) if o != option]
    unmet_needs = unmet(group, name, needs)
    lacks = f"{key} is not a setting of {group}={option}" if option else f"{key} is not there"
    if settings:
        lacks += f" (its settings: {', '.join(settings)})"
    choose = _choose_owner(group, owners, trial, config)
    if unmet_needs is not None:
        lacks += f"; {unmet_needs}"
    chosen_among = _searched_options(group, params, arguments)
    if chosen_among is not None:  # the search chooses the option too: some trials lack the key
        having = [o for o in chosen_among if o in options_with(group, [name, *needs])]
        return f"{lacks}. " + _searched_option_fix(group, key, chosen_among, having, arguments)
    if key not in params:  # the command line's own
        given = [a for a in arguments if a.lstrip("+").split("=", 1)[0] == key]
        leave = f"leave {shlex.quote(given[-1])} out" if given else f"leave {key} out"
        return f"{lacks}: {leave}{', or ' + choose if owners else ''}."
    close = _closest(name, settings or [])
    instead = f"{group}.{close}={params[key]}" if close else None
    line = " ".join(without_key(key, params, arguments, instead))
    searched = f" and search {group}.{close} in its place" if close else ""
    without = f"{choose}, or search without it" if owners else "search without it"
    added = [a for a in arguments if a.startswith("+") and not a.startswith("++")]
    added = [a for a in added if a[1:].split("=", 1)[0] == key]
    leave = (  # +key beside the search's key: a key of its own to the sweeper, kept beside it
        f"Leave {shlex.quote(added[-1])} out too: it adds {key} beside the search's own "
        "and does not replace it (the sweeper gives each trial both, the search's first). "
        if added
        else ""
    )
    return (
        f"{lacks}, but hydra.sweeper.params searches it, and a key of hydra.sweeper.params "
        "cannot be removed or set on its own from the command line (its name holds a dot: "
        f"~hydra.sweeper.params.{key} names no entry). {without[0].upper()}{without[1:]}: "
        "hydra.sweeper.params=null leaves out the search's params, and each key to search is "
        "then given as an override of its own (an interval(), a choice() or one fixed value), "
        "which the sweeper reads as it reads its params; a search you run again can be kept in "
        f"an hparams_search config of your own, a copy without {key} in a folder given with "
        f"-cd (README: Tuning with Optuna). {leave}Here, to keep the other keys"
        f"{searched}, add: {line}"
    )


def _searched_options(
    group: str, params: Mapping[str, str], arguments: Sequence[str]
) -> list[str] | None:
    """The options of ``group`` that the search chooses among (``loss=choice(focal, asl)``,
    in ``params`` or on the command line, the sweeper's way: a fixed choice wins), else None.

    >>> _searched_options("loss", {"loss": "choice(focal, asl)"}, [])
    ['focal', 'asl']
    >>> _searched_options("loss", {"loss": "choice(focal, asl)"}, ["loss=focal"]) is None
    True
    """
    override = sweeper_overrides(params, arguments)[0].get(group)
    if override is None:
        return None
    return [str(value) for value in override.sweep_string_iterator()]


def _searched_option_fix(
    group: str,
    key: str,
    options: Sequence[str],
    having: Sequence[str],
    arguments: Sequence[str],
) -> str:
    """What to change where the search chooses ``group`` among ``options`` (the command line's
    ``arguments`` or the search's params) and searches ``key``, which only the options
    ``having`` have: search only those, or not ``key``."""
    given = [a for a in arguments if a.split("=", 1)[0] == group]
    where = "the command line" if given else "hydra.sweeper.params"
    lacking = [o for o in options if o not in having]
    setting = [o.input_line for o in _settings(arguments) if o.key_or_group == key]
    searched = not setting or any(
        o.is_sweep_override() for o in _settings(setting[-1:])
    )  # else one value of the command line's, which the sweeper gives every trial
    said = (
        f"The search chooses {group} among {', '.join(options)} ({where}), and a trial of "
        f"{', '.join(f'{group}={o}' for o in lacking)} cannot set {key}, which "
        f"{'it searches' if searched else shlex.quote(setting[-1]) + ' sets'}: "
    )
    without = f"search without {key}" if searched else f"leave {shlex.quote(setting[-1])} out"
    if not having:
        return (
            said
            + f"no option it chooses among has {key}: {without}"
            + (
                " (hydra.sweeper.params=null, then each key to search as an override of its own; "
                "README: Tuning with Optuna)."
                if searched
                else "."
            )
        )
    only = f"{group}={having[0]}" if len(having) == 1 else f"'{group}=choice({','.join(having)})'"
    if given:
        only += f" in place of {shlex.quote(given[-1])}"
    else:
        only += " (given on the command line, it takes the place of the search's own)"
    return said + f"search only the options that have it, {only}, or {without}."


def _choose_owner(
    group: str, owners: Sequence[str], trial: Sequence[str], config: DictConfig
) -> str:
    """How to choose an option of ``group`` among ``owners`` (those that have a searched key)
    that the trial's setup check lets through (:mod:`lossbench.setup_names`): for a head or
    loss beside a setup (``setup=logits_asl``), the setups with that option (those keeping the
    setup's other choices where any do: ``setup=logits_focal``), or the option without a
    setup; else the option itself (``loss=focal``)."""
    from lossbench.setup_names import choose_owner, setup_folders

    setup = _option("setup", trial, config)
    given = [f"setup={setup}"] if f"setup={setup}" in trial else []
    return choose_owner(group, owners, setup, setup_folders(config), given=given)


def _closest(name: str, settings: Sequence[str]) -> str | None:
    """The setting of ``settings`` whose name is closest to ``name`` (the first of equally
    close ones), or None where none is close.

    >>> _closest("gamma", ["reduction", "gamma_neg", "gamma_pos", "clip"])
    'gamma_neg'
    """
    scores = [(difflib.SequenceMatcher(None, name, s).ratio(), -i) for i, s in enumerate(settings)]
    if not scores or max(scores)[0] < 0.6:
        return None
    return settings[-max(scores)[1]]


def _number(value: float) -> str:
    """A bound as an override writes it: ``0``, ``0.0001``, ``1e-05``."""
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _interval(start: float, end: float, log: bool) -> str:
    text = f"interval({_number(start)}, {_number(end)})"
    return f"tag(log, {text})" if log else text


def check_ranges(params: Mapping[str, str], arguments: Sequence[str]) -> None:
    """Refuse a searched ``interval(low, high)`` that Optuna cannot sample (its ValueError
    traceback, before): the low end above the high end, a ``log`` one whose low end is 0 or
    less.

        >>> check_ranges({}, ["optimizer.lr=interval(1e-2, 1e-4)"])
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: optimizer.lr=interval(0.01, 0.0001): ...
        >>> check_ranges({"optimizer.lr": "tag(log, interval(1e-4, 3e-2))"}, [])
    """
    for override, sweep in _intervals(params, arguments):
        key, low, high, log = (
            override.get_key_element(),
            sweep.start,
            sweep.end,
            "log" in sweep.tags,
        )
        given = f"{key}={_interval(low, high, log)}"
        if low > high:
            raise ConfigError(
                f"{given}: an interval's low end comes first, and {_number(low)} is above "
                f"{_number(high)}. Optuna samples between them: give "
                f"'{key}={_interval(high, low, log)}'."
            )
        if log and low <= 0:
            fix = f"'{key}={_interval(high / 1000, high, True)}' or " if high > 0 else ""
            raise ConfigError(
                f"{given}: a log-scaled interval needs a low end above 0 (the log of "
                f"{_number(low)} is not a number): give a positive low end, e.g. {fix}drop the "
                f"log tag: '{key}={_interval(low, high, False)}'."
            )


def _intervals(params: Mapping[str, str], arguments: Sequence[str]) -> list[tuple[Any, Any]]:
    """The searched keys sampled from an ``interval(a, b)`` with both ends, as ``(override,
    IntervalSweep)``: those the sweeper searches (:func:`sweeper_overrides`)."""
    from hydra.core.override_parser.types import IntervalSweep

    searched, _ = sweeper_overrides(params, arguments)
    return [
        (o, o.value())
        for o in searched.values()
        if isinstance(o.value(), IntervalSweep)
        and o.value().start is not None
        and o.value().end is not None
    ]


def _interval_of_whole_numbers(
    overrides: Sequence[str],
    params: Mapping[str, str],
    arguments: Sequence[str],
    config: DictConfig,
) -> str | None:
    """Why a trial's composition failed where the search samples an ``interval(...)`` for a
    key that takes a whole number (``seed=interval(0,3)``: Optuna samples floats, ``seed=1.5``,
    which the key refuses): the refusal, with ``range(...)`` and ``choice(...)`` to give
    instead; None where no such key is searched. ``overrides``: the trial's."""
    from omegaconf import OmegaConf

    for override, sweep in _intervals(params, arguments):
        key, low, high = override.get_key_element(), float(sweep.start), float(sweep.end)
        try:
            current = OmegaConf.select(config, key, default=None)
        except Exception:  # an interpolation the multirun's config cannot resolve
            continue
        if not isinstance(current, int) or isinstance(current, bool):
            continue
        given = f"{key}={_interval(low, high, 'log' in sweep.tags)}"
        sampled = next((o for o in overrides if o.startswith(f"{key}=")), f"{key}=...")
        if low.is_integer() and high.is_integer():
            first, last_value = int(low), int(high)
            fix = f"'{key}=range({first},{last_value + 1})' ({first} to {last_value})"
            if last_value - first < 10:
                values = ",".join(str(v) for v in range(first, last_value + 1))
                fix += f" or '{key}=choice({values})'"
        else:
            fix = f"'{key}=range(<first>,<last + 1>)' or '{key}=choice(<values>)'"
        return (
            f"{given}: {key} takes a whole number ({key}={current} in this config), and Optuna "
            f"samples an interval's numbers as floats ({sampled}), which {key} does not take. "
            f"Search whole numbers with {fix}."
        )
    return None


def check_objective(metric: Any, direction: Any) -> None:
    """Refuse a search's objective that cannot choose as it should: a metric outside the
    validation split (a trial's record holds only its ``val/`` and ``test/`` values, and the
    test split never chooses), or a ``direction`` against the metric's own (the search would
    return its worst trial).

        >>> check_objective("val/auroc", "maximize")
        >>> check_objective("val/auroc", "minimize")
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweeper.direction=minimize searches for the lowest...
    """
    from lossbench.errors import ConfigError
    from lossbench.metric_names import metric_mode

    if not isinstance(metric, str):
        return
    if not metric.startswith("val/"):
        raise ConfigError(
            f"optimized_metric={metric} cannot be a search's objective: a search chooses each "
            "trial by its best epoch's value on the validation split (the training split's "
            "values flatter a model that overfits, and the test split never chooses). Give "
            f"optimized_metric=val/{metric.partition('/')[2]}, e.g. optimized_metric=val/nll."
        )
    given = direction if isinstance(direction, list | tuple) else [direction]
    if len(given) != 1 or given[0] is None:
        return
    name = str(getattr(given[0], "name", given[0])).lower()
    wanted = "minimize" if metric_mode(metric) == "min" else "maximize"
    if name in ("minimize", "maximize") and name != wanted:
        word = "lowest" if name == "minimize" else "highest"
        better = "lower" if wanted == "minimize" else "higher"
        raise ConfigError(
            f"hydra.sweeper.direction={name} searches for the {word} {metric}, but {better} "
            f"{metric} is better: the search would report its worst trial as the best. Leave "
            f"hydra.sweeper.direction out (it follows optimized_metric) or give "
            f"hydra.sweeper.direction={wanted}."
        )


def check_search(config: DictConfig, *, max_trials: int = 12) -> None:
    """Refuse an Optuna search whose trials cannot be composed, or whose every trial would be
    refused (see the module's docstring); at most ``max_trials`` trial configs are composed.

    Raises:
        ConfigError: with Hydra's or lossbench's reason and what to change.
    """
    from omegaconf import OmegaConf

    from lossbench.hydra_internals import sweep_config_loader
    from lossbench.search_conflicts import (
        conflict_fix,
        overridden_search,
        removal_conflict,
        searched_twice,
    )
    from lossbench.validation import validate

    try:
        direction = config.hydra.sweeper.get("direction")
    except Exception:  # an interpolation that cannot be resolved: Hydra says which
        direction = None
    check_objective(config.get("optimized_metric"), direction)
    # Hydra hands its config loader to a sweeper or launcher (HydraContext), not to a callback:
    # on_multirun_start, which calls this before the search's sweeper (Optuna's plugin) is
    # made, gets the config alone; so a loader is built from the multirun's own search path
    # (not the process's Hydra app, which an earlier app may have left set)
    loader = sweep_config_loader(config)
    if loader is None:  # a config Hydra did not compose: no search path to compose trials from
        return
    node = config.hydra.sweeper.get("params")  # null: the command line's keys alone
    params: dict[str, str] = (
        {} if node is None else OmegaConf.to_container(node, resolve=False)  # type: ignore[assignment]
    )
    arguments = list(config.hydra.overrides.task)
    check_ranges(params, arguments)
    # ~key=value beside a searched key: refused after a searched key the config lacks, whose
    # advice leaves the removed key's search out
    removal = removal_conflict(params, arguments)
    # key=value or ++key=value beside a search of the key under another key element, or two
    # searches of one key under two: refused where a trial composes (where none does, Hydra's
    # reason comes first: a key the config lacks, or +key=... added where the config has the key)
    overridden = overridden_search(params, arguments) or searched_twice(params, arguments)
    trials = trial_overrides(params, arguments)[:max_trials]
    searched = ", ".join(_keys_searched(params, arguments)) or "none"
    refusals: list[str] = []
    valid = False  # a trial that lossbench would train
    for overrides in trials:
        try:
            trial = loader.load_sweep_config(config, list(overrides))
        except Exception as error:  # Hydra's and OmegaConf's composition errors
            reason = " ".join(str(error).split())
            reason = _HYDRA_APPEND.sub("", reason).rstrip(".")  # +key: nothing would read it
            if removal is not None and not _NOT_OVERRIDDEN.search(reason):
                raise ConfigError(removal) from None
            conflict = conflict_fix(reason, params, arguments, overrides)
            if conflict is not None:  # +key beside the search's own key
                raise ConfigError(
                    f"a trial of this search cannot be composed ({' '.join(overrides)}): "
                    f"{_HYDRA_PREFIXES.sub('', reason).rstrip('.')}. {conflict}"
                ) from None
            # a key the trial's config lacks is no sampled value it refuses (a +key of the
            # command line may have given the multirun's config a whole number there)
            if not _NOT_OVERRIDDEN.search(reason):
                whole = _interval_of_whole_numbers(overrides, params, arguments, config)
                if whole is not None:
                    raise ConfigError(whole) from None
            fix = _lacked_key_fix(reason, params, arguments, overrides, config)
            raise ConfigError(
                f"a trial of this search cannot be composed ({' '.join(overrides)}): {reason}. "
                f"The search sets {searched} (hydra.sweeper.params and the command line's "
                "interval()/choice() values); each must be a key of the config the other "
                f"settings choose. {fix}"
            ) from None
        if removal is not None:  # this trial composed: those of other values would not
            raise ConfigError(removal)
        if overridden is not None:  # every trial would train at the fixed or later value
            raise ConfigError(overridden)
        if valid:
            continue  # every trial is composed: one of another choice may lack a searched key
        try:
            validate(trial)
        except ConfigError as error:
            refusals.append(str(error))
        else:
            valid = True
    if valid:
        return
    raise ConfigError(
        f"every trial of this search would be refused, whatever the searched values "
        f"({searched}; {len(trials)} trial config(s) checked, with values inside each range): "
        f"{refusals[0]}"
    )
