"""A search's ``hydra.sweeper.params`` and the overrides that search without some of them.

The keys of ``hydra.sweeper.params`` hold dots (``loss.gamma``), so no override names one of
them; the sweeper reads the command line's overrides as it reads its params, the command
line's winning for the same key (a removal, ``~key``, sets none: :func:`keys_set`). So a
search leaves keys out by emptying the params, ``hydra.sweeper.params=null``, and giving each
key still to search as an override of its own (:func:`without_key`). The search check
(:mod:`lossbench.search_check`), the key check (:mod:`lossbench.option_keys`) and the setup
check (:mod:`lossbench.setup_names`) advise it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

__all__ = ["is_search", "keys_set", "sweeper_overrides", "without_key"]


def is_search(config: DictConfig) -> bool:
    """Whether the multirun of ``config`` is an Optuna search (its sweeper's target)."""
    return "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower()


def keys_set(lines: Sequence[str]) -> set[str]:
    """The keys ``lines`` (overrides) set a value for: ``key=value``, and ``+key=value`` or
    ``++key=value``, which set ``key`` by adding it; not ``~key`` (nor ``~key=value``), which
    removes a key and sets none. Hydra's sweepers keep a param beside the command line's
    ``~key`` (they tell overrides apart by ``~key``, not by ``key``: each trial takes the
    param's value, then removes the key), so the search still has that param.

        >>> sorted(keys_set(["loss.gamma=2", "+loss.alpha=0.5", "++optimizer.lr=1", "~loss.clip"]))
        ['loss.alpha', 'loss.gamma', 'optimizer.lr']
    """
    from lossbench.override_grammar import override_parser

    parsed = override_parser().parse_overrides(list(lines))
    return {o.key_or_group for o in parsed if not o.is_delete()}


def sweeper_overrides(params: Mapping[str, str], arguments: Sequence[str]) -> tuple[Any, Any]:
    """The overrides a trial of Hydra's Optuna sweeper is given, parsed, as ``(searched,
    fixed)``: two dicts keyed as the sweeper keys them, by an override's key element
    (``get_key_element()``: ``~key``, ``+key`` and ``++key`` are each a key of their own, and
    none replaces ``key``), each key holding its last override, in the order each key first
    comes; ``params`` (``hydra.sweeper.params``) first, then the command line's ``arguments``.
    A key given one fixed value anywhere is not searched, as the sweeper leaves it out of its
    search space. Each trial then runs the searched keys' values, then the fixed ones.

        >>> searched, fixed = sweeper_overrides({"loss.gamma": "interval(0, 5)"},
        ...                                     ["~loss.gamma", "+loss.alpha=0.5"])
        >>> list(searched), list(fixed)
        (['loss.gamma'], ['~loss.gamma', '+loss.alpha'])
    """
    from lossbench.override_grammar import override_parser

    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    searched: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for override in override_parser().parse_overrides(lines):
        chosen = searched if override.is_sweep_override() else fixed
        chosen[override.get_key_element()] = override
    return {k: o for k, o in searched.items() if k not in fixed}, fixed


def without_key(
    key: str, params: Mapping[str, str], arguments: Sequence[str], instead: str | None = None
) -> list[str]:
    """The overrides that search ``params`` (``hydra.sweeper.params``) without ``key``: the
    params emptied, ``hydra.sweeper.params=null``, then each other key of ``params`` as an
    override of its own (left out where the command line, ``arguments``, sets it already:
    :func:`keys_set`, or removes it at one value, ``~key=value``, which each trial would meet
    after the sampled value, and fail; kept beside its ``~key``), and ``instead``, an override
    to search in ``key``'s place; each quoted for the shell.

        >>> params = {"optimizer.lr": "tag(log, interval(1e-4, 3e-2))", "loss.gamma": "0,1"}
        >>> print(" ".join(without_key("loss.gamma", params, [], "loss.gamma_neg=0,1")))
        hydra.sweeper.params=null 'optimizer.lr=tag(log, interval(1e-4, 3e-2))' loss.gamma_neg=0,1
        >>> without_key("loss.gamma", params, ["optimizer.lr=0.01"])
        ['hydra.sweeper.params=null']
        >>> without_key("loss.gamma", params, ["~optimizer.lr"])
        ['hydra.sweeper.params=null', "'optimizer.lr=tag(log, interval(1e-4, 3e-2))'"]
        >>> without_key("loss.gamma", params, ["~optimizer.lr=0.01"])
        ['hydra.sweeper.params=null']
    """
    from lossbench.override_grammar import override_parser

    parsed = override_parser().parse_overrides(list(arguments))
    at_a_value = {o.key_or_group for o in parsed if o.is_delete() and o.value() is not None}
    given = keys_set(arguments) | at_a_value
    kept = [f"{k}={v}" for k, v in params.items() if k != key and k not in given]
    lines = ["hydra.sweeper.params=null", *kept, *([instead] if instead else [])]
    return [shlex.quote(line) for line in lines]
