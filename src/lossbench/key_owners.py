"""The options of a config group that have every key a command needs, for advice that the
other checks accept.

A refusal of a key (``loss.gamma=2`` with ``loss=asl``) advises an option, or a setup whose
option, has it. That option must have every other key of the group the command sets
(``loss.gamma_neg=1`` beside it), and every key a search tunes (``hparams_search=
optuna_pos_weight`` tunes ``loss.pos_weight_scale``): else the advised command is refused in
turn, by the key check or the search check. The key check
(:mod:`lossbench.option_keys`) and the search check (:mod:`lossbench.search_check`) both
choose their owners here.

    >>> options_with("loss", ["gamma"])
    ['focal']
    >>> options_with("loss", ["gamma", "pos_weight_scale"])
    []
    >>> print(unmet("loss", "gamma", {"pos_weight_scale": "hparams_search=optuna_pos_weight "
    ...                                "searches"}))
    no loss has both gamma and pos_weight_scale (loss=focal lacks pos_weight_scale, which \
hparams_search=optuna_pos_weight searches)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from lossbench.config import SCHEMAS

__all__ = ["options_with", "unmet"]


def options_with(group: str, keys: Iterable[str]) -> list[str]:
    """The options of ``group`` (:data:`lossbench.config.SCHEMAS`) that have every key of
    ``keys``, sorted."""
    wanted = set(keys)
    return sorted(
        option
        for option, schema in SCHEMAS.get(group, {}).items()
        if wanted <= {field.name for field in dataclasses.fields(schema)}
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
