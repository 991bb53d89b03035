"""The config groups a user chooses from, for ``lossbench-train --help`` and its tab
completion (:func:`is_completed_group`).

Hydra's app help lists every config group it can find (``$APP_CONFIG_GROUPS``), including the
structured-config schemas :func:`lossbench.config.register_configs` stores under ``schema/``:
the YAML files build on them (``defaults: [/schema/loss/focal@_here_, _self_]``), they are
not choices. ``configs/train.yaml`` sets ``hydra.help.template`` with this module's resolver
in their place::

    hydra:
      help:
        template: |
          ...
          ${config_groups:}

which lists the same groups, options and format as Hydra's, less ``hydra/`` and ``schema/``:

    >>> print(format_groups({"loss": ["focal", "bce"], "schema/loss": ["focal"]}))
    loss: bce, focal
    <BLANKLINE>

``lossbench-eval`` and ``lossbench-predict`` list no groups: each composes from a config folder
of its own (``command_configs/eval``, ``command_configs/predict``), which holds only what it
reads, so that the groups Hydra lists for their help (used or not) are few.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The top-level groups left out of the help: Hydra's own (``--hydra-help`` lists them) and
#: the schemas the YAML files build on.
HIDDEN = ("hydra", "schema")


def is_user_group(group: str) -> bool:
    """Whether ``group`` (a path such as ``loss`` or ``schema/loss``) is one a user chooses.

    >>> [g for g in ["loss", "schema/loss", "hydra/launcher", "hydra"] if is_user_group(g)]
    ['loss']
    """
    return group.split("/", 1)[0] not in HIDDEN


def is_completed_group(group: str) -> bool:
    """Whether tab completion offers ``group`` (``schema/data``): not the schemas, which are no
    choice (:func:`lossbench.hydra_internals.completion_offers_only`); Hydra's own groups, as
    ``hydra/launcher=``, are offered, as Hydra offers them.

        >>> groups = ["loss", "schema", "schema/loss", "hydra/launcher"]
        >>> [group for group in groups if is_completed_group(group)]
        ['loss', 'hydra/launcher']
    """
    return group.split("/", 1)[0] != "schema"


def format_groups(options: Mapping[str, Sequence[str]]) -> str:
    """``group: option, option`` lines of the user's groups, sorted (Hydra's compact format).

    A ``$`` is doubled: Hydra fills the help template in with :class:`string.Template` after
    OmegaConf has resolved it.
    """
    lines = [
        f"{group}: {', '.join(sorted(options[group]))}\n"
        for group in sorted(options)
        if is_user_group(group)
    ]
    return "".join(lines).replace("$", "$$")


def _all_groups(loader: Any, parent: str = "") -> dict[str, list[str]]:
    """Every group (with options) below ``parent`` in Hydra's config search path: its config
    directories, a ``-cd`` directory, ``hydra.searchpath`` and the ConfigStore."""
    from hydra.core.object_type import ObjectType

    found: dict[str, list[str]] = {}
    for name in loader.list_groups(parent):
        group = f"{parent}/{name}" if parent else name
        if not is_user_group(group):
            continue
        options = loader.get_group_options(group, ObjectType.CONFIG)
        if options:
            found[group] = list(options)
        if loader.get_group_options(group, ObjectType.GROUP):
            found |= _all_groups(loader, group)
    return found


def config_groups() -> str:
    """``${config_groups:}``: the user's groups and their options, one line each.

    Hydra resolves the help template while its config loader is set up; outside a Hydra
    command (a config resolved in full elsewhere) there is nothing to list from.

    Hydra's loader deep-copies its whole repository (every schema in the ConfigStore) for each
    group it is asked about, and Hydra asks about every group twice more after this, for the
    template's ``$APP_CONFIG_GROUPS`` and ``$HYDRA_CONFIG_GROUPS``, used or not: the loader
    keeps its parsed files first (:func:`lossbench.config_cache.cache_config_files`, as a
    sweep's launcher does), which takes ``lossbench-train --help`` from 3.5 s to 0.6 s. Hydra
    resolves ``hydra.help`` for ``--help`` only (``--cfg hydra`` leaves it out).
    """
    loader = _loader_keeping_files()
    if loader is None:
        return "(lossbench-train --help lists them)\n"
    return format_groups(_all_groups(loader))


def _loader_keeping_files() -> Any:
    """Hydra's config loader, made to keep the config files it parses
    (:func:`lossbench.config_cache.cache_config_files`); None outside a Hydra command."""
    from hydra.core.global_hydra import GlobalHydra

    # Hydra's own app (not a job's config): Hydra renders --help with no config composed for
    # a job, and the groups listed are those of the app it is running
    if not GlobalHydra.instance().is_initialized():
        return None
    from lossbench.config_cache import cache_config_files

    loader = GlobalHydra.instance().config_loader()
    cache_config_files(loader)
    return loader
