"""A primary config of one's own (``-cp``, ``-cn``) that lacks groups a run needs, refused.

lossbench-train composes ``configs/train.yaml`` unless ``-cn`` names another primary config
(in a folder given with ``-cp``, or added with ``-cd``). One that chooses no ``data``,
``model``, ... composes, and the run then stops in a traceback ("Key 'data' is not in
struct") after Hydra wrote its run folder: lossbench's checks before a run are in
``train.yaml`` (its Hydra callbacks), which such a config leaves out. The groups the primary
config chooses are read from its ``defaults:`` list (and the configs it names, and the
command line) before Hydra starts, and a run whose config would lack one is refused
(exit status 2, one line, nothing written):

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "solo.yaml").write_text("seed: 1\\n")
    >>> print(missing_groups_refusal(["-cp", str(folder), "-cn", "solo"], Path("configs"),
    ...                              "lossbench-train"))  # doctest: +ELLIPSIS
    -cp ... -cn solo: the primary config solo.yaml chooses no data, model, head, ...

What the check cannot read (a config it cannot find, a package, ``hydra.searchpath``) is left
to Hydra.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lossbench.command_keys import NEEDED_GROUPS
from lossbench.hydra_internals import hydra_arguments

__all__ = ["chosen_groups", "missing_groups_refusal", "refuse_missing_groups"]


class _Unreadable(Exception):
    """A config the check cannot follow: Hydra decides."""


def _yaml(path: Path) -> tuple[dict[str, Any], bool]:
    """The mapping of the YAML file ``path``, and whether it is in Hydra's global package
    (``# @package _global_``); :class:`_Unreadable` for anything else."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        content = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise _Unreadable(str(path)) from None
    if content is None:
        content = {}
    if not isinstance(content, dict) or "searchpath" in text:
        raise _Unreadable(str(path))
    return content, "@package _global_" in text


def _find(name: str, dirs: Sequence[Path]) -> Path:
    """The file of config ``name`` (``train``, ``data/iris``) in the first of ``dirs`` that has
    it; :class:`_Unreadable` where none does."""
    for folder in dirs:
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    raise _Unreadable(name)


def _schema(name: str) -> bool:
    """Whether ``name`` is a schema registered in Hydra's ConfigStore (``train_schema``): its
    keys are typed there, and a group's value is ``???`` until a config chooses an option."""
    from hydra.core.config_store import ConfigStore

    try:
        ConfigStore.instance().load(f"{name}.yaml")
    except Exception:
        return False
    return True


def _entry(entry: Any) -> tuple[str, Any, bool]:
    """A ``defaults:`` entry as ``(name, option, absolute)``: a config's name and ``...`` for a
    config (``train``, ``_self_``), a group and its option for a choice (``data: iris``,
    ``override /head: logits``, ``setup: null``); :class:`_Unreadable` for a package
    (``data@x: iris``) or another form.

        >>> _entry("train"), _entry({"override /head": "logits"})
        (('train', Ellipsis, False), ('head', 'logits', True))
        >>> from lossbench.config import register_configs
        >>> register_configs()
        >>> _entry("/schema/data/iris@_here_")
        ('schema/data/iris', Ellipsis, True)
    """
    if isinstance(entry, str):
        name, _, package = entry.partition("@")
        if package and not _schema(name.removeprefix("/")):
            raise _Unreadable(entry)  # a config put under another key
        return name.removeprefix("/"), ..., entry.startswith("/")
    if not isinstance(entry, dict) or len(entry) != 1:
        raise _Unreadable(str(entry))
    ((key, option),) = entry.items()
    words = str(key).split()
    if not words or len(words) > 2 or "@" in words[-1]:
        raise _Unreadable(str(key))
    group = words[-1]
    return group.removeprefix("/"), option, group.startswith("/")


def _chosen(path: Path, dirs: Sequence[Path], top: bool, seen: set[Path]) -> set[str]:
    """The groups and top-level keys the config file ``path`` gives the composed config: its
    keys (where it is ``top``, at the top level, or in the global package), its choices and
    those of the configs it names, recursively."""
    if path in seen:
        raise _Unreadable(str(path))  # a loop: Hydra's own refusal
    content, global_package = _yaml(path)
    given = (
        {str(k) for k in content if k not in ("defaults", "hydra")}
        if top or global_package
        else set()
    )
    for entry in content.get("defaults") or []:
        name, option, absolute = _entry(entry)
        if name == "_self_":
            continue
        if option is ...:  # a config: a top-level one, or one of the same group
            if (top or absolute) and not _schema(name):  # a schema's groups are ??? (MISSING)
                given |= _chosen(_find(name, dirs), dirs, True, {*seen, path})
            continue
        if not (top or absolute):
            continue  # a group inside this config's own group
        if isinstance(option, str):
            given.add(name)
            if "/" not in name:
                given |= _chosen(_find(f"{name}/{option}", dirs), dirs, False, {*seen, path})
        elif option:  # a list of options (logger: [csv, mlflow])
            given.add(name)
    return given


def chosen_groups(primary: Path, dirs: Sequence[Path], overrides: Sequence[str]) -> set[str] | None:
    """The groups and top-level keys the config composed from ``primary`` (a YAML file) holds,
    its configs looked for in ``dirs`` as Hydra's search path has them, and what the command
    line's ``overrides`` add (``+data=iris``, ``++seed=1``: Hydra sets no key or group the
    config lacks without ``+``); None where the check cannot tell.

        >>> from lossbench.train import config_dir
        >>> {"data", "model", "seed"} <= chosen_groups(config_dir() / "train.yaml",
        ...                                            [config_dir()], [])
        True
    """
    if any("searchpath" in o for o in overrides):
        return None
    try:
        given = _chosen(primary, dirs, True, set())
    except _Unreadable:
        return None
    for override in overrides:  # +key=, ++key=, +group=option: what Hydra adds
        if override.startswith("+") and "=" in override:
            key = override.lstrip("+").split("=", 1)[0]
            given.add(key.split(".", 1)[0].split("@", 1)[0])
    return given


def _primary(arguments: Sequence[str], configs: Path, name: str) -> tuple[Path, list[Path]] | None:
    """The primary config file of the command line ``arguments`` and the folders its configs
    are looked for in; None where it is the command's own, or not a file the check reads."""
    parsed = hydra_arguments(arguments)
    if parsed is None or (parsed.config_path is None and parsed.config_name is None):
        return None
    config = str(parsed.config_name or name).removesuffix(".yaml")
    if parsed.config_path is not None:
        folder = Path(parsed.config_path)
        if not folder.is_absolute() or not folder.is_dir():
            return None  # a package, or a folder Hydra refuses (hydra_error_refusal)
        dirs = [folder]
    else:
        if config == name:
            return None
        dirs = [configs, *(Path(d).resolve() for d in [parsed.config_dir] if d is not None)]
    path = next((d / f"{config}.yaml" for d in dirs if (d / f"{config}.yaml").is_file()), None)
    return None if path is None else (path, dirs)


def _runs(arguments: Sequence[str]) -> bool:
    """Whether the command line runs the job (not --cfg, --info, -h, --hydra-help, -sc)."""
    parsed = hydra_arguments(arguments)
    return parsed is not None and not (
        parsed.cfg or parsed.info or parsed.help or parsed.hydra_help or parsed.shell_completion
    )


def missing_groups_refusal(
    arguments: Sequence[str], configs: Path, command: str, needed: Sequence[str] = NEEDED_GROUPS
) -> str | None:
    """The refusal of the command line ``arguments`` where it runs a primary config of one's
    own (``-cp``, ``-cn``) that chooses none of some of the ``needed`` groups; else None.
    ``configs``: the command's config folder, where ``-cn`` alone looks first."""
    found = _primary(arguments, configs, "train")
    if found is None or not _runs(arguments):
        return None
    path, dirs = found
    parsed = hydra_arguments(arguments)
    assert parsed is not None
    given = chosen_groups(path, dirs, parsed.overrides)
    missing = [group for group in needed if given is not None and group not in given]
    if not missing:
        return None
    flags = " ".join(
        f"{flag} {value}"
        for flag, value in (("-cp", parsed.config_path), ("-cd", parsed.config_dir))
        if value is not None
    )
    flags += f" -cn {parsed.config_name}" if parsed.config_name else ""
    folder = parsed.config_path or parsed.config_dir or str(path.parent)
    where = f"-cd {folder} -cn {path.stem}"
    how = (
        f", and give its folder with -cd, which adds it to lossbench's configs where -cp "
        f"replaces them: {command} {where}"
        if parsed.config_path is not None
        else ""
    )
    return (
        f"{flags.strip()}: the primary config {path.name} chooses no {', '.join(missing)}, "
        f"which every run of {command} needs (the run would stop without them). Start it with "
        f"`defaults: [train, _self_]` (lossbench's train.yaml chooses each; the file's own keys "
        f"then change what it sets){how}; or choose each group in its `defaults:` list "
        f"(e.g. `- data: iris`)."
    )


def refuse_missing_groups(arguments: Sequence[str], configs: Path, command: str) -> None:
    """Print :func:`missing_groups_refusal`'s refusal and exit with status 2; return where
    there is none."""
    refusal = missing_groups_refusal(arguments, configs, command)
    if refusal is not None:
        print(f"lossbench: refused: {refusal}", file=sys.stderr)
        sys.exit(2)
