"""A primary config of one's own (``-cp``, ``-cn``) that lacks groups a run needs, refused.

lossbench-train composes ``configs/train.yaml`` unless ``-cn`` names another primary config
(in a folder given with ``-cp``, or added with ``-cd``). One that chooses no ``data``,
``model``, ... composes, and the run then stops in a traceback ("Key 'data' is not in
struct") after Hydra wrote its run folder: lossbench's checks before a run are in
``train.yaml`` (its Hydra callbacks), which such a config leaves out. The groups the primary
config chooses are read from the config Hydra's compose API composes from it (with the
command line's overrides) before Hydra starts the run, and a run whose config would lack one is
refused (exit status 2, one line, nothing written):

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "solo.yaml").write_text("seed: 1\\n")
    >>> print(missing_groups_refusal(["-cp", str(folder), "-cn", "solo"], Path("configs"),
    ...                              "lossbench-train"))  # doctest: +ELLIPSIS
    -cp ... -cn solo: the primary config solo.yaml chooses no data, model, head, ...

A config that does not compose (a config it cannot find, a loop) is left to Hydra, which says
why.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lossbench.command_keys import NEEDED_GROUPS
from lossbench.hydra_internals import hydra_arguments
from lossbench.override_types import parsed_override

__all__ = ["chosen_groups", "missing_groups_refusal", "refuse_missing_groups"]


def chosen_groups(primary: Path, dirs: Sequence[Path], overrides: Sequence[str]) -> set[str] | None:
    """The top-level keys (groups among them) with a value in the config Hydra composes from
    ``primary`` (a YAML file), its configs looked for in its folder and ``dirs`` (the others
    added to the search path, as ``-cd`` adds a folder; Hydra's compose API finds a primary
    config in the primary folder only) with the command line's ``overrides``; a sweep's
    override (``+data=iris,wine``) is not composed, and counts for its key. None where the
    config does not compose (Hydra then says why) or a Hydra app is already running (a test's
    compose).

        >>> from lossbench.config import register_configs
        >>> from lossbench.train import config_dir
        >>> register_configs()  # the schemas train.yaml names
        >>> {"data", "model", "seed"} <= chosen_groups(config_dir() / "train.yaml",
        ...                                            [config_dir()], ["seed=0,1"])
        True
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    # a check of the command line before Hydra starts (no config composed yet): it steps aside
    # where another app is initialised, which initialize_config_dir cannot run inside
    if GlobalHydra.instance().is_initialized():
        return None
    swept = {o for o in overrides if _sweep_key(o) is not None}
    folder = primary.parent.resolve()
    others = [Path(d).resolve() for d in dirs if Path(d).resolve() != folder]
    searchpath = [f"file://{other}" for other in others]
    extra = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    try:
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            kept = [o for o in overrides if o not in swept]
            cfg = compose(primary.stem, overrides=[*kept, *extra])
    except Exception:  # Hydra's own refusal, when the run starts
        return None
    given = {str(key) for key in cfg if not OmegaConf.is_missing(cfg, key)}
    return given | {key for o in swept if (key := _sweep_key(o))}


def _sweep_key(override: str) -> str | None:
    """The top-level key or group of a sweep's override (``+data=iris,wine`` gives ``data``),
    None for another override.

        >>> _sweep_key("+data=iris,wine"), _sweep_key("seed=range(3)"), _sweep_key("seed=1")
        ('data', 'seed', None)
    """
    parsed = parsed_override(override)
    if parsed is None or not parsed.is_sweep_override():
        return None
    return parsed.key_or_group.split(".", 1)[0].split("/", 1)[0]


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
