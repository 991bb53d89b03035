"""A command-line override that meets a search's own override of the same key in each trial:
:func:`removal_conflict` (before any trial is composed) and :func:`conflict_fix` (what to
change where a trial cannot be composed).

Hydra's sweepers key an override by its key element: ``~key``, ``+key`` and ``++key`` are
each a key of their own, and none replaces a searched ``key``
(:func:`lossbench.search_params.sweeper_overrides`). Each trial is given both, the searched
value first. Two such pairs fail:

* ``+key=...`` beside a searched ``key``: the trial has set ``key``, and ``+`` adds only a key
  that is not there (Hydra's "Could not append to config"), whatever value is sampled;
* ``~key=value`` beside a searched ``key``: the removal finds the sampled value, and removes
  only ``value`` (Hydra's "Could not delete from config. The value of ... is ... and not
  ..."), in each trial that samples another value.

A third pair composes, and is worse: a fixed ``key=value`` or ``++key=value`` beside a search
of the same key under another key element (a searched ``key`` beside ``++key=0.01``, a searched
``++key`` beside ``key=2``). Each trial sets the sampled value, then the fixed one: every trial
trains at the fixed value while Optuna records the sampled one, and reports one as the best
(:func:`overridden_search`).
So does a second search of one key under another key element (``'++key=interval(1,2)'``
beside a searched ``key``): the sweeper samples both, and each trial trains at the later value
while Optuna records the other too (:func:`searched_twice`). Both pairs are found as a grid
sweep's are (:func:`lossbench.sweep_conflicts.overriding_pairs`), in a trial's order.

    >>> reason = "Could not append to config. An item is already at 'loss.gamma'."
    >>> trial = ["loss.gamma=2.5", "+loss.gamma=2"]
    >>> print(conflict_fix(reason, {"loss.gamma": "interval(0.0, 5.0)"}, ["+loss.gamma=2"], trial))
    ... # doctest: +NORMALIZE_WHITESPACE
    +loss.gamma=2 adds loss.gamma, but hydra.sweeper.params searches it (loss.gamma:
    interval(0.0, 5.0)), and the sweeper gives each trial both, the search's value first
    (loss.gamma=2.5, then +loss.gamma=2): a key the trial has set already cannot be added.
    Give loss.gamma=2 (without the +), which fixes loss.gamma to that value in every trial, or
    leave +loss.gamma=2 out to search loss.gamma as hydra.sweeper.params does.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from lossbench.added_keys import NOT_APPENDED
from lossbench.search_params import sweeper_overrides, without_key
from lossbench.sweep_conflicts import given_on_the_command_line, overriding_pairs

__all__ = ["conflict_fix", "overridden_search", "removal_conflict", "searched_twice"]


def _search_of(key: str, params: Mapping[str, str], arguments: Sequence[str]) -> Any | None:
    """The search's override that sets ``key`` (``key=...`` or ``++key=...``, not ``+key``
    nor ``~key``) as the sweeper keeps it (:func:`sweeper_overrides`), searched or fixed."""
    searched, fixed = sweeper_overrides(params, arguments)
    found = None
    for override in [*searched.values(), *fixed.values()]:
        if override.key_or_group == key and not (override.is_add() or override.is_delete()):
            found = override
    return found


def _source(search: Any, params: Mapping[str, str], arguments: Sequence[str]) -> str:
    """Where ``search`` (an override, as :func:`sweeper_overrides` keeps it) comes from, as a
    refusal says it: the command line's (``arguments``) quoted, else ``hydra.sweeper.params``
    with its entry."""
    verb = "searches" if search.is_sweep_override() else "sets"
    if given_on_the_command_line(search, arguments):
        return f"{shlex.quote(search.input_line)} {verb} it"
    element = search.get_key_element()
    return f"hydra.sweeper.params {verb} it ({element}: {params[element]})"


def _in_trial(element: str, trial: Sequence[str]) -> str:
    """The override of ``trial`` whose key element is ``element`` (``key=2.5``), else
    ``element=...``."""
    return next((o for o in trial if o.split("=", 1)[0] == element), f"{element}=...")


def removal_conflict(params: Mapping[str, str], arguments: Sequence[str]) -> str | None:
    """The refusal of a command-line ``~key=value`` (``arguments``) beside a searched ``key``
    (of ``params``, ``hydra.sweeper.params``, or of the command line): each trial sets the
    sampled value, then removes ``key`` only where it holds ``value``, so each trial that
    samples another value cannot be composed; None where there is none.

        >>> print(removal_conflict({"callbacks.model_summary.max_depth": "choice(2, 3)"},
        ...                        ["~callbacks.model_summary.max_depth=1"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        ~callbacks.model_summary.max_depth=1 removes callbacks.model_summary.max_depth only
        where its value is 1, but hydra.sweeper.params searches it
        (callbacks.model_summary.max_depth: choice(2, 3)), and the sweeper gives each trial
        both, the search's value first (callbacks.model_summary.max_depth=<sampled>, then
        ~callbacks.model_summary.max_depth=1): a trial that samples another value cannot be
        composed (Hydra: "Could not delete from config"). Leave
        '~callbacks.model_summary.max_depth=1' out to search callbacks.model_summary.max_depth;
        or, to remove it, search without callbacks.model_summary.max_depth; to keep the other
        keys, add: hydra.sweeper.params=null
    """
    searched, fixed = sweeper_overrides(params, arguments)
    for override in fixed.values():
        if not override.is_delete() or override.value() is None:
            continue  # ~key removes it whatever the value: the trial composes
        key = override.key_or_group
        search = searched.get(key)
        if search is None:
            continue
        if key in params and params[key] == search.input_line.split("=", 1)[1]:
            lines = " ".join(without_key(key, params, arguments))
            remove = f"search without {key}; to keep the other keys, add: {lines}"
        else:
            remove = f"leave {shlex.quote(search.input_line)} out."
        value = override.get_value_element_as_str()
        return (
            f"{override.input_line} removes {key} only where its value is {value}, but "
            f"{_source(search, params, arguments)}, and the sweeper gives each trial both, the "
            f"search's value first ({key}=<sampled>, then {override.input_line}): a trial that "
            'samples another value cannot be composed (Hydra: "Could not delete from config"). '
            "Leave "
            f"{shlex.quote(override.input_line)} out to search {key}; or, to remove it, "
            f"{remove}"  # no full stop after a line to copy
        )
    return None


def _overridden_fixes(
    search: Any, given: Any, params: Mapping[str, str], arguments: Sequence[str]
) -> tuple[str, str, str]:
    """For :func:`overridden_search`: the fixed override ``given`` as the refusal names it, how
    to fix its key at its value, and how to search the key instead (a sentence's end: a full
    stop, none after a line to copy), where ``search`` is the searched override of the same key
    (each of the command line, ``arguments``, or of ``params``)."""
    value = given.input_line.split("=", 1)[1]
    same = shlex.quote(f"{search.get_key_element()}={value}")
    left_out = (
        f"the same key element: the sweeper then leaves {given.key_or_group} out of its search"
    )
    if given_on_the_command_line(given, arguments):
        what = shlex.quote(given.input_line)
        return what, f"give {same} in place of {what} ({left_out})", f"leave {what} out."
    # a value of hydra.sweeper.params, which the command line cannot remove
    what = f"hydra.sweeper.params ({given.get_key_element()}: {value})"
    lines = " ".join(without_key(given.get_key_element(), params, arguments))
    search_it = f"search without {given.get_key_element()}; to keep the other keys, add: {lines}"
    if given_on_the_command_line(search, arguments):
        return what, f"leave {shlex.quote(search.input_line)} out", search_it
    return what, f"give {same} ({left_out})", search_it


def overridden_search(params: Mapping[str, str], arguments: Sequence[str]) -> str | None:
    """The refusal of a fixed value that takes the place of a searched one in every trial: a
    ``key=value`` or ``++key=value`` (of the command line, ``arguments``, or a value of
    ``params``, ``hydra.sweeper.params``, that is no range) beside a search of the same key
    under another key element (``key``, ``+key`` or ``++key``); None where there is none.

    The sweeper keys an override by its key element (:func:`sweeper_overrides`), so it leaves
    only a key fixed under the searched one's own element out of its search space; here each
    trial is given the sampled value, then the fixed one, which wins: every trial trains at the
    fixed value while Optuna records the sampled one, and reports one as the best. A fixed
    ``+key=...`` (Hydra's "Could not append": :func:`conflict_fix`) and a removal, ``~key``
    (:func:`removal_conflict`), are not this refusal's.

        >>> print(overridden_search({"optimizer.lr": "tag(log, interval(1e-4, 3e-2))"},
        ...                         ["++optimizer.lr=0.01"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        ++optimizer.lr=0.01 sets optimizer.lr, but hydra.sweeper.params searches it
        (optimizer.lr: tag(log, interval(1e-4, 3e-2))), and the sweeper keys an override by its
        key element (++optimizer.lr and optimizer.lr are two keys to it), so each trial is given
        both, the searched value first (optimizer.lr=<sampled>, then ++optimizer.lr=0.01):
        every trial would train at optimizer.lr=0.01 while the search records the sampled
        value, and reports one as the best. To fix optimizer.lr, give optimizer.lr=0.01 in
        place of ++optimizer.lr=0.01 (the same key element: the sweeper then leaves
        optimizer.lr out of its search); to search it, leave ++optimizer.lr=0.01 out.
        >>> overridden_search({"optimizer.lr": "interval(1e-4, 3e-2)"}, ["optimizer.lr=0.01"])
        >>> overridden_search({"loss.gamma": "interval(0, 5)"}, ["+loss.gamma=2"])
    """
    searched, fixed = sweeper_overrides(params, arguments)
    for search, given in overriding_pairs([*searched.values(), *fixed.values()]):
        if given.is_sweep_override() or given.is_add():
            continue  # searched_twice's; +key: "Could not append" (conflict_fix)
        key = given.key_or_group
        value = given.input_line.split("=", 1)[1]
        element, fixed_element = search.get_key_element(), given.get_key_element()
        if given_on_the_command_line(search, arguments):
            source = f"{shlex.quote(search.input_line)} searches it"
        else:
            source = f"hydra.sweeper.params searches it ({element}: {params[element]})"
        what, fix, search_it = _overridden_fixes(search, given, params, arguments)
        return (
            f"{what} sets {key}, but {source}, and the sweeper keys an override by its key "
            f"element ({fixed_element} and {element} are two keys to it), so each trial is "
            f"given both, the searched value first ({element}=<sampled>, then "
            f"{given.input_line}): every trial would train at {key}={value} while the search "
            f"records the sampled value, and reports one as the best. To fix {key}, {fix}; to "
            f"search it, {search_it}"  # no full stop after a line to copy
        )
    return None


def searched_twice(params: Mapping[str, str], arguments: Sequence[str]) -> str | None:
    """The refusal of one key searched twice, under two key elements (``key``, ``+key`` or
    ``++key``: of the command line, ``arguments``, or of ``params``, ``hydra.sweeper.params``);
    None where there is none.

    The sweeper keys an override by its key element (:func:`sweeper_overrides`), so it samples
    both, and gives each trial both values, one after the other: every trial trains at the
    later one while Optuna records the earlier one too, a search dimension no trial uses, and
    may report its value as the best. Where a trial cannot be composed (``+key=...`` after a
    searched ``key``: Hydra's "Could not append"), :func:`conflict_fix` says why instead.

        >>> print(searched_twice({"loss.gamma": "interval(0.0, 5.0)"},
        ...                      ["++loss.gamma=interval(1,2)"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        '++loss.gamma=interval(1,2)' searches loss.gamma, but hydra.sweeper.params searches it
        (loss.gamma: interval(0.0, 5.0)) as well, and the sweeper keys an override by its key
        element (++loss.gamma and loss.gamma are two keys to it), so it samples both and gives
        each trial both values (loss.gamma=<sampled>, then ++loss.gamma=<sampled>): every
        trial would train at the ++loss.gamma value while the search records its loss.gamma
        values too, which no trial trained with, and may report one as the best. To search
        loss.gamma once, give 'loss.gamma=interval(1,2)' in place of '++loss.gamma=interval(1,2)'
        (the searched key's own element: it takes the place of hydra.sweeper.params' search), or
        leave '++loss.gamma=interval(1,2)' out to search loss.gamma as hydra.sweeper.params
        does.
        >>> searched_twice({"loss.gamma": "interval(0.0, 5.0)"}, ["loss.gamma=interval(1,2)"])
    """
    searched, _ = sweeper_overrides(params, arguments)
    # in the order each trial is given them; ~key: removal_conflict's, or removed in each trial
    found = overriding_pairs(searched.values())
    if not found:
        return None
    earlier, later = found[0]
    key = later.key_or_group
    element, later_element = earlier.get_key_element(), later.get_key_element()
    what = shlex.quote(later.input_line)
    if not given_on_the_command_line(later, arguments):
        what = f"hydra.sweeper.params ({later_element}: {params[later_element]})"
    said = (
        f"{what} searches {key}, but {_source(earlier, params, arguments)} as well, and the "
        f"sweeper keys an override by its key element ({later_element} and {element} are two "
        f"keys to it), so it samples both and gives each trial both values ({element}=<sampled>, "
        f"then {later_element}=<sampled>): every trial would train at the {later_element} value "
        f"while the search records its {element} values too, which no trial trained with, and "
        f"may report one as the best. To search {key} once, "
    )
    return said + _twice_fixes(earlier, later, params, arguments)


def _twice_fixes(
    earlier: Any, later: Any, params: Mapping[str, str], arguments: Sequence[str]
) -> str:
    """For :func:`searched_twice`: how to search the key of ``earlier`` and ``later`` (two
    searches of it, in a trial's order) once; a sentence's end (a full stop, none after a line
    to copy)."""
    element, later_element = earlier.get_key_element(), later.get_key_element()
    if not given_on_the_command_line(later, arguments):  # params' own: the command line
        lines = " ".join(without_key(later_element, params, arguments))  # cannot remove it
        return (
            f"search without {later_element} of hydra.sweeper.params (the command line cannot "
            f"remove it); to keep the other keys, add: {lines}"
        )
    line, earlier_line = shlex.quote(later.input_line), shlex.quote(earlier.input_line)
    same = shlex.quote(f"{element}={later.input_line.split('=', 1)[1]}")
    if given_on_the_command_line(earlier, arguments):  # the later range in place of both
        place, where = f"{earlier_line} and {line}", earlier_line
        takes = "one search, in that range"
    else:
        place, where = line, "hydra.sweeper.params"
        takes = "the searched key's own element: it takes the place of hydra.sweeper.params' search"
    return (
        f"give {same} in place of {place} ({takes}), or leave {line} out to search "
        f"{earlier.key_or_group} as {where} does."
    )


def conflict_fix(
    reason: str, params: Mapping[str, str], arguments: Sequence[str], trial: Sequence[str]
) -> str | None:
    """What to change where a trial of a search cannot be composed (Hydra's ``reason``)
    because a command-line ``+key=...`` (``arguments``) is given beside the search's own
    ``key`` (of ``params``, ``hydra.sweeper.params``, or of the command line); None for
    another reason. ``trial``: the trial's overrides, to quote."""
    from lossbench.override_grammar import override_parser

    found = NOT_APPENDED.search(reason)
    if found is None:
        return None
    key = found["key"]
    added = [
        o
        for o in override_parser().parse_overrides(list(arguments))
        if o.is_add() and o.key_or_group == key
    ]
    search = _search_of(key, params, arguments)
    if not added or search is None:
        return None
    given = added[-1]
    line = given.input_line
    first, then = sorted((search, given), key=lambda o: _position(o.get_key_element(), trial))
    quoted = [_in_trial(o.get_key_element(), trial) for o in (first, then)]
    if first is search:  # the trial has set the key when the + comes
        order = "the search's value first"
        why = "a key the trial has set already cannot be added"
    else:  # the +key comes first, and the config has the key already
        searched_first = given.is_sweep_override() and not search.is_sweep_override()
        order = "the searched value first" if searched_first else "in the order given"
        why = (
            f"a + adds only a key the config lacks, and the config has {key} already (were it "
            f"added, {quoted[1]} would set it again in every trial)"
        )
    said = (
        f"{line} adds {key}, but {_source(search, params, arguments)}, and the sweeper gives "
        f"each trial both, {order} ({quoted[0]}, then {quoted[1]}): {why}."
    )
    return f"{said} {_added_fixes(search, given, params, arguments)}"


def _position(element: str, trial: Sequence[str]) -> int:
    """Where the override of ``trial`` whose key element is ``element`` comes, else after
    every one."""
    found = [i for i, o in enumerate(trial) if o.split("=", 1)[0] == element]
    return found[0] if found else len(trial)


def _added_fixes(
    search: Any, given: Any, params: Mapping[str, str], arguments: Sequence[str]
) -> str:
    """For :func:`conflict_fix`: what to give in place of the command line's ``+key=...``
    (``given``) beside ``search``, the override that sets its key (each of the command line,
    ``arguments``, or of ``params``), searched or fixed; sentences, the last one's end a line to
    copy where one is advised."""
    key, line = search.key_or_group, given.input_line
    plain = shlex.quote(line[1:])
    on_the_command_line = given_on_the_command_line(search, arguments)
    where = shlex.quote(search.input_line) if on_the_command_line else "hydra.sweeper.params"
    if search.is_sweep_override():
        keep = f"to search {key} as {where} does"
    else:
        keep = f"to fix {key} to {search.input_line.split('=', 1)[1]} as {where} does"
    leave = f"leave {shlex.quote(line)} out {keep}"
    if given.is_sweep_override():
        fixes = f"which searches {key} in that range"
        fixes += " in place of the search's" if search.is_sweep_override() else ""
    else:
        fixes = f"which fixes {key} to that value in every trial"
    if search.is_sweep_override():  # the last override of a key element is the one searched
        return f"Give {plain} (without the +), {fixes}, or {leave}."
    if on_the_command_line:  # a fixed value beside the range would take the key out of it
        both = f"{shlex.quote(search.input_line)} and {shlex.quote(line)}"
        return f"Give {plain} in place of {both}, {fixes}, or {leave}."
    # a fixed value of hydra.sweeper.params, which the command line cannot remove
    element = search.get_key_element()
    lines = " ".join(without_key(element, params, arguments, line[1:]))
    to = f"search {key} in that range" if given.is_sweep_override() else f"fix {key} there"
    return (
        f"{leave[0].upper()}{leave[1:]}; or, to {to}, leave it out too and search without "
        f"{element} of hydra.sweeper.params (the command line cannot remove it), with {plain} "
        f"in its place; to keep the other keys, add: {lines}"
    )
