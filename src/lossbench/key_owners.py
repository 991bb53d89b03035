"""The options of a config group that have every key a command needs, for advice that the
other checks accept.

A refusal of a key (``loss.gamma=2`` with ``loss=asl``) advises an option, or a setup whose
option, has it. That option must have every other key of the group the command sets
(``loss.gamma_neg=1`` beside it), and every key a search tunes (``hparams_search=
optuna_pos_weight`` tunes ``loss.pos_weight_scale``): else the advised command is refused in
turn, by the key check or the search check. The key check
(:mod:`lossbench.option_keys`) and the search check (:mod:`lossbench.search_check`) both
gather those other keys (:func:`needed_keys`) and choose their owners here.

    >>> options_with("loss", ["gamma"])
    ['focal']
    >>> options_with("loss", ["gamma", "pos_weight_scale"])
    []
    >>> from lossbench.override_grammar import override_parser
    >>> overrides = override_parser().parse_overrides(["loss.gamma=2", "loss.clip=0.1"])
    >>> search = ("optuna_asl", {"loss.clip": "0,1", "loss.gamma_neg": "0,1"})
    >>> needs = needed_keys("loss", "gamma", overrides, search)
    >>> needs.keys["clip"], needs.keys["gamma_neg"], sorted(needs.searched)
    ('loss.clip=0.1 sets', 'hparams_search=optuna_asl searches', ['gamma_neg'])
    >>> print(unmet("loss", "gamma", {"pos_weight_scale": "hparams_search=optuna_pos_weight "
    ...                                "searches"}))
    no loss has both gamma and pos_weight_scale (loss=focal lacks pos_weight_scale, which \
hparams_search=optuna_pos_weight searches)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lossbench.config import SCHEMAS

__all__ = [
    "NeededKeys",
    "needed_keys",
    "option_settings",
    "options_with",
    "schema_fields",
    "unmet",
]


@dataclass(frozen=True)
class NeededKeys:
    """The keys of a group, other than the refused one, that an option advised for it must
    have, each with who sets it (``{"gamma_neg": "loss.gamma_neg=1 sets"}``); ``searched``: those
    of them that only the search tunes (no override sets them), which a search without them can
    leave out."""

    keys: dict[str, str] = dataclasses.field(default_factory=dict)
    searched: frozenset[str] = frozenset()


def needed_keys(
    group: str,
    key: str,
    overrides: Iterable[Any],
    search: tuple[str | None, Mapping[str, str]] | None,
) -> NeededKeys:
    """The keys of ``group``, other than ``key``, that an option advised for ``group.key`` must
    have too, each with who sets it: the ``overrides`` (Hydra's parsed overrides, those the
    caller counts) of the group's keys (``loss.gamma_neg=1 sets``), then the keys ``search``
    tunes (its ``hparams_search`` option, or None where that is not known, and its
    ``hydra.sweeper.params``: ``hparams_search=optuna_pos_weight searches``,
    ``hydra.sweeper.params searches``), the latter also as ``searched`` where no override
    sets them."""
    needs: dict[str, str] = {}
    for override in overrides:
        parts = override.key_or_group.split(".")
        if parts[0] == group and len(parts) > 1 and parts[1] != key:
            needs.setdefault(parts[1], f"{override.input_line} sets")
    searched: set[str] = set()
    if search is not None:
        name, params = search
        who = "hydra.sweeper.params" if name is None else f"hparams_search={name}"
        for tuned in params:
            parts = tuned.split(".")
            if parts[0] == group and len(parts) > 1 and parts[1] != key and parts[1] not in needs:
                needs[parts[1]] = f"{who} searches"
                searched.add(parts[1])
    return NeededKeys(needs, frozenset(searched))


def schema_fields(schema: type) -> list[str]:
    """The keys of ``schema`` (a dataclass: an option's schema of
    :data:`lossbench.config.SCHEMAS`, or the run's own, ``TrainConfig``), in its order; the one
    place that reads a schema's fields for the key checks.

        >>> schema_fields(SCHEMAS["loss"]["focal"])
        ['name', 'reduction', 'alpha', 'gamma']
    """
    return [field.name for field in dataclasses.fields(schema)]


def option_settings(group: str, option: str | None) -> list[str] | None:
    """The settings of ``group=option`` (:data:`lossbench.config.SCHEMAS`) in the schema's
    order, ``name`` left out; None where the option is unknown.

        >>> option_settings("loss", "focal")
        ['reduction', 'alpha', 'gamma']
        >>> option_settings("loss", "no_such") is None
        True
    """
    schema = SCHEMAS.get(group, {}).get(option or "")
    if schema is None:
        return None
    return [name for name in schema_fields(schema) if name != "name"]


def options_with(group: str, keys: Iterable[str]) -> list[str]:
    """The options of ``group`` (:data:`lossbench.config.SCHEMAS`) that have every key of
    ``keys``, sorted."""
    wanted = set(keys)
    return sorted(
        option
        for option, schema in SCHEMAS.get(group, {}).items()
        if wanted <= set(schema_fields(schema))
    )


def unmet(group: str, key: str, others: Mapping[str, str]) -> str | None:
    """Why no option of ``group`` serves ``key`` with the keys ``others`` (``{key: who needs
    it}``) as well: the options that have ``key`` and what each lacks; None where one has them
    all (or none has ``key``)."""
    owners = options_with(group, [key])
    if not owners or options_with(group, [key, *others]):
        return None
    lacks = []
    for owner in owners:
        missing = [k for k in others if owner not in options_with(group, [k])]
        lacks += [f"{group}={owner} lacks {k}, which {others[k]}" for k in missing]
    both = "both" if len(others) == 1 else "all of"
    keys = " and ".join([key, *others])
    return f"no {group} has {both} {keys} ({'; '.join(lacks)})"
