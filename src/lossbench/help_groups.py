"""The config groups a user chooses from, for ``lossbench-train --help``; and a quick
``--help`` for the commands that list none (``lossbench-eval``, ``lossbench-predict``).

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

Hydra lists every group for any help template, used or not (:func:`config_groups`); the
templates of ``configs/eval.yaml`` and ``configs/predict.yaml`` start with
``${keep_config_files:}``, which writes nothing and makes Hydra's loader keep its parsed files
first (:func:`keep_config_files`).
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


def keep_config_files() -> str:
    """``${keep_config_files:}``: nothing, in a help template that lists no groups (those of
    ``lossbench-eval`` and ``lossbench-predict``). Hydra lists every group after resolving the
    template, used or not; resolving this first makes its loader keep its parsed files, as
    :func:`config_groups` does: ``lossbench-eval --help`` and ``lossbench-predict --help`` take
    0.6-0.9 s instead of 3.6-4.1 s. Outside a Hydra command, it does nothing."""
    _loader_keeping_files()
    return ""


def _loader_keeping_files() -> Any:
    """Hydra's config loader, made to keep the config files it parses
    (:func:`lossbench.config_cache.cache_config_files`); None outside a Hydra command."""
    from hydra.core.global_hydra import GlobalHydra

    if not GlobalHydra.instance().is_initialized():
        return None
    from lossbench.config_cache import cache_config_files

    loader = GlobalHydra.instance().config_loader()
    cache_config_files(loader)
    return loader
