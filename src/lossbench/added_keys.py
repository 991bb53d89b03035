"""``+key=value`` on the command line for a key the composed config has already, refused in
lossbench's words: :func:`added_key_refusal`.

Hydra adds a key with ``+`` only where the config lacks it, and otherwise stops with "Could
not append to config" (exit status 1), advising ``key=value`` or ``++key=value``. In an Optuna
search that samples ``key`` (``hparams_search=optuna_focal +loss.gamma=2``), ``++key=value``
runs every trial at that value while the search still samples and records another: so the
refusal advises ``key=value``, which takes the key out of the search (Hydra's sweepers key an
override by its key element, ``+key`` apart from ``key``:
:func:`lossbench.search_params.sweeper_overrides`).

    >>> from hydra.errors import ConfigCompositionException
    >>> error = ConfigCompositionException(
    ...     "Could not append to config. An item is already at 'loss.gamma'.")
    >>> print(added_key_refusal(error, ["setup=logits_focal", "+loss.gamma=2"]))
    +loss.gamma=2 adds loss.gamma, but the config has loss.gamma already (a + adds only a key \
the config lacks): set it without the +, loss.gamma=2.
    >>> added_key_refusal(error, ["loss.gamma=2"]) is None
    True
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

__all__ = ["NOT_APPENDED", "added_key_refusal"]

#: Hydra's composition error where ``+key`` adds a key the config (or a search's trial) has.
NOT_APPENDED = re.compile(r"Could not append to config\. An item is already at '(?P<key>[^']+)'")
#: The overrides that choose an Optuna search: a search config, or Optuna's sweeper.
_SEARCH = re.compile(r"^\+{0,2}(hparams_search=|hydra/sweeper=optuna)")


def added_key_refusal(error: BaseException, overrides: Sequence[str]) -> str | None:
    """The refusal of Hydra's composition ``error`` where an override of ``overrides`` (the
    command line's) adds with ``+`` a key the config has; else None (Hydra reports it). In an
    Optuna search, it says what ``key=value`` does to the search's own range of the key."""
    from hydra.errors import ConfigCompositionException

    from lossbench.override_types import parsed_override

    if not isinstance(error, ConfigCompositionException):
        return None
    found = NOT_APPENDED.search(str(error))
    if found is None:
        return None
    key = found["key"]
    given = [
        a
        for a in overrides
        if (o := parsed_override(a)) is not None and o.is_add() and o.key_or_group == key
    ]
    if not given:
        return None  # a config file's own: Hydra's to say
    argument = given[-1]
    plain = shlex.quote(argument[1:])
    refusal = (
        f"{argument} adds {key}, but the config has {key} already (a + adds only a key the "
        f"config lacks): set it without the +, {plain}."
    )
    if any(_SEARCH.match(o) for o in overrides):
        refusal += (
            f" In an Optuna search that samples {key} (hydra.sweeper.params), {plain} takes "
            f"the place of its range: one value fixes {key} in every trial, an interval(...) or "
            f"a choice(...) is searched instead; leave {shlex.quote(argument)} out to search "
            f"{key} as the search's config does."
        )
    return refusal
