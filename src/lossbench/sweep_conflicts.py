"""One key set under two key elements in a sweep, where the later value replaces a swept one.

Hydra's sweepers key an override by its key element (``get_key_element()``): ``key``, ``+key``
and ``++key`` are three keys to them, and none replaces another. Each job (or trial) is given
one override per key element, and Hydra applies them in that order, so where a key is swept
under one element and set again after it under another, the later value wins in every job,
while the job's overrides (multirun.yaml, the launch log, the report's grouping) name the swept one.
:func:`overriding_pairs` finds those pairs in the order a job is given its overrides, for Hydra's
Optuna sweeper (:mod:`lossbench.search_conflicts` words its refusals for a search and its
trials) and for a grid (:func:`overridden_sweep`: Hydra's basic sweeper and lossbench's).

    >>> print(overridden_sweep({}, ["optimizer.lr=0.1,0.01", "++optimizer.lr=0.5"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    ++optimizer.lr=0.5 sets optimizer.lr, but optimizer.lr=0.1,0.01 sweeps it, and the sweeper
    keys an override by its key element (++optimizer.lr and optimizer.lr are two keys to it), so
    each job is given both, the swept value first (optimizer.lr=<swept>, then
    ++optimizer.lr=0.5): every job would train at optimizer.lr=0.5 while its overrides
    (multirun.yaml, the launch log, the report's grouping by swept keys) name the swept value.
    Give optimizer.lr=0.5 in place of optimizer.lr=0.1,0.01 and ++optimizer.lr=0.5 (one key
    element: it takes the sweep's place) to train every job at 0.5, or leave ++optimizer.lr=0.5
    out to sweep optimizer.lr as optimizer.lr=0.1,0.01 does. Valid: each key once per sweep,
    under one key element.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lossbench.search_params import without_key

__all__ = ["given_on_the_command_line", "grid_order", "overridden_sweep", "overriding_pairs"]

#: Where a job's overrides are read back as what it trained with.
_NAMED_BY = "multirun.yaml, the launch log, the report's grouping by swept keys"


def grid_order(params: Mapping[str, Any], arguments: Sequence[str]) -> list[Any]:
    """The overrides each job of a grid is given, parsed, in their order, as Hydra's basic
    sweeper (``split_arguments``) and lossbench's give them: ``params``
    (``hydra.sweeper.params``) first, then the command line's ``arguments``, one per key element,
    the last override of an element in the place where the element first comes.

        >>> [o.input_line for o in grid_order({"seed": "0,1"}, ["++seed=2", "seed=3"])]
        ['seed=3', '++seed=2']
    """
    from lossbench.override_grammar import override_parser

    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    kept: dict[str, Any] = {}
    for override in override_parser().parse_overrides(lines):
        kept[override.get_key_element()] = override
    return list(kept.values())


def overriding_pairs(ordered: Iterable[Any]) -> list[tuple[Any, Any]]:
    """Each ``(swept, later)`` pair of ``ordered`` (the parsed overrides a job is given, in
    their order) where ``later`` sets the key that ``swept``, a sweep under another key element
    that comes before it, sweeps: each job trains at ``later``'s value. ``swept`` is the key's
    first sweep; the pairs come in the order of ``later``. A removal (``~key``) sets none.

        >>> from lossbench.override_grammar import override_parser
        >>> job = override_parser().parse_overrides(["seed=0,1", "++seed=2", "++lr=1", "lr=3,4"])
        >>> [(a.input_line, b.input_line) for a, b in overriding_pairs(job)]
        [('seed=0,1', '++seed=2')]
    """
    first: dict[str, Any] = {}
    pairs: list[tuple[Any, Any]] = []
    for override in ordered:
        if override.is_delete():
            continue
        key = override.key_or_group
        if key in first and first[key].get_key_element() != override.get_key_element():
            pairs.append((first[key], override))
        if override.is_sweep_override():
            first.setdefault(key, override)
    return pairs


def given_on_the_command_line(override: Any, arguments: Sequence[str]) -> bool:
    """Whether ``override`` (one a job or trial is given: :func:`grid_order`,
    :func:`lossbench.search_params.sweeper_overrides`) is the command line's (``arguments``), not
    ``hydra.sweeper.params``': the command line's comes last for the same key element, so it is
    the one kept.

        >>> from lossbench.override_grammar import override_parser
        >>> given = override_parser().parse_overrides(["++seed=2"])[0]
        >>> given_on_the_command_line(given, ["++seed=2"]), given_on_the_command_line(given, [])
        (True, False)
    """
    from lossbench.override_grammar import override_parser

    parsed = override_parser().parse_overrides(list(arguments))
    return any(o.get_key_element() == override.get_key_element() for o in parsed)


def _named(override: Any, params: Mapping[str, Any], arguments: Sequence[str]) -> str:
    """``override`` as a refusal names it: the command line's quoted for the shell, else
    ``hydra.sweeper.params`` with its entry."""
    if given_on_the_command_line(override, arguments):
        return shlex.quote(override.input_line)
    element = override.get_key_element()
    return f"hydra.sweeper.params ({element}: {params[element]})"


def overridden_sweep(params: Mapping[str, Any], arguments: Sequence[str]) -> str | None:
    """The refusal of a grid sweep (``params``: ``hydra.sweeper.params``, ``arguments``: the
    command line's overrides) in which a key swept under one key element is set again after it
    under another (``'optimizer.lr=0.1,0.01' ++optimizer.lr=0.5``, or a second sweep
    ``'++optimizer.lr=0.5,0.2'``): every job would train at the later value while its overrides
    name the swept one. None where there is none. A later ``+key=...`` is Hydra's to refuse
    ("Could not append"); a fixed value that comes before the sweep is replaced by it.

        >>> overridden_sweep({"optimizer.lr": "0.001,0.003"}, ["optimizer.lr=0.5"])
        >>> overridden_sweep({}, ["++optimizer.lr=0.5", "optimizer.lr=0.1,0.01"])
    """
    pairs = [
        (s, later) for s, later in overriding_pairs(grid_order(params, arguments))
        if not later.is_add()
    ]  # fmt: skip
    if not pairs:
        return None
    swept, later = pairs[0]
    key, element = swept.key_or_group, swept.get_key_element()
    later_element = later.get_key_element()
    what, source = _named(later, params, arguments), _named(swept, params, arguments)
    value = later.input_line.split("=", 1)[1]
    if later.is_sweep_override():
        said = (
            f"{what} sweeps {key}, but {source} sweeps it as well, and the sweeper keys an "
            f"override by its key element ({later_element} and {element} are two keys to it), so "
            f"it runs each pair of their values and gives each job both ({element}=<swept>, then "
            f"{later_element}=<swept>): every job would train at the {later_element} value while "
            f"its overrides ({_NAMED_BY}) name the {element} value too, which it did not train "
            "with."
        )
        aim = f"to sweep {key} over {value}"
    else:
        said = (
            f"{what} sets {key}, but {source} sweeps it, and the sweeper keys an override by its "
            f"key element ({later_element} and {element} are two keys to it), so each job is given "
            f"both, the swept value first ({element}=<swept>, then {later.input_line}): every job "
            f"would train at {key}={value} while its overrides ({_NAMED_BY}) name the swept "
            "value."
        )
        aim = f"to train every job at {value}"
    return f"{said} {_fixes(swept, later, aim, params, arguments)}"


def _fixes(
    swept: Any, later: Any, aim: str, params: Mapping[str, Any], arguments: Sequence[str]
) -> str:
    """For :func:`overridden_sweep`: how to give ``swept``'s key once, at ``later``'s value(s)
    (``aim`` says what for), or to sweep it as ``swept`` does; sentences, the last one's end a
    line to copy where one is advised."""
    key, element = swept.key_or_group, swept.get_key_element()
    valid = "Valid: each key once per sweep, under one key element."
    if not given_on_the_command_line(later, arguments):  # params': the command line cannot remove
        lines = " ".join(without_key(later.get_key_element(), params, arguments))
        return (
            f"{valid} Sweep without {later.get_key_element()} of hydra.sweeper.params (the "
            f"command line cannot remove it); to keep the other keys, add: {lines}"
        )
    line = shlex.quote(later.input_line)
    same = shlex.quote(f"{element}={later.input_line.split('=', 1)[1]}")
    if given_on_the_command_line(swept, arguments):
        place, where = f"{shlex.quote(swept.input_line)} and {line}", shlex.quote(swept.input_line)
    else:
        place, where = line, "hydra.sweeper.params"
    return (
        f"Give {same} in place of {place} (one key element: it takes the sweep's place) {aim}, "
        f"or leave {line} out to sweep {key} as {where} does. {valid}"
    )
