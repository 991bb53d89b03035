"""Jobs of a sweep whose checkpoint callback writes the same files, warned of as the sweep starts.

A ``ModelCheckpoint`` of the user's with an absolute ``dirpath``
(``+callbacks.mc.dirpath=/scratch/ckpts``) writes every job's files into one folder, and with
one ``filename`` pattern for all (Lightning's ``{epoch}-{step}`` unless given) under the same
names: jobs running at once (``hydra/launcher=parallel``, Slurm, Ray) overwrite each other's
top-k files and ``last.ckpt``, since Lightning's version counter (``-v1``) is read and written
without a lock, and jobs one after another get ``last-v1.ckpt``, ``epoch=1-step=10-v1.ckpt``, a
name that does not say whose. :func:`shared_checkpoint_files` works each job's folder and
filename out before any job starts, as :mod:`lossbench.sweep_directories` works their
directories out (the swept plain values set on the multirun's config one job after another);
:func:`warn_shared_checkpoint_files` warns in the process that launches the sweep, once for
the sweep whatever its launcher. A folder shared on purpose is never refused, and one whose
filename differs by job (``filename='s${seed}-{epoch}'``) is not warned of.

    >>> from omegaconf import OmegaConf
    >>> from lossbench.override_grammar import override_parser
    >>> config = OmegaConf.create({"seed": 0, "logger": None, "callbacks": {"mc": {
    ...     "_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "dirpath": "/ckpts"}},
    ...     "hydra": {"sweep": {"dir": "study"}, "job": {"num": 0},
    ...     "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}}})
    >>> shared_checkpoint_files(config, override_parser().parse_overrides(["seed=0,1"]), 2)
    [('mc', PosixPath('/ckpts'), '{epoch}-{step}')]
    >>> config.callbacks.mc.filename = "s${seed}-{epoch}"
    >>> shared_checkpoint_files(config, override_parser().parse_overrides(["seed=0,1"]), 2)
    []
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = [
    "SharedCheckpointFolderWarning",
    "shared_checkpoint_files",
    "shared_files_warning",
    "warn_shared_checkpoint_files",
]

#: Lightning's ``ModelCheckpoint`` filename where none is given.
DEFAULT_FILENAME = "{epoch}-{step}"
#: The jobs worked out at most (a shared folder shows in the first two).
MAX_JOBS = 256
#: Swept keys whose options may set the callbacks themselves: a sweep of one is left unread.
CALLBACK_SETTERS = ("callbacks", "experiment", "hparams_search")


class SharedCheckpointFolderWarning(UserWarning):
    """The jobs of a sweep would write their checkpoints under the same names in one folder."""


def shared_checkpoint_files(
    config: DictConfig, overrides: Sequence[Any], jobs: int | None
) -> list[tuple[str, Path, str]]:
    """The checkpoint entries of ``config.callbacks`` whose folder and ``filename`` pattern are
    the same for two jobs of different configs of the multirun: ``(entry, folder, filename)``.
    ``config``: the multirun's config; ``overrides``: its parsed overrides
    (:func:`lossbench.hydra_callbacks.swept_overrides`); ``jobs``: how many jobs it runs (None:
    not known, several).

    A job's folder is what :func:`lossbench.instantiators.checkpoint_dirpaths` gives for it,
    each job in a folder of its own: a relative ``dirpath``, or one that reads the job's folder
    or number (``${hydra:runtime.output_dir}``, ``${hydra:job.num}``), differs by job. A
    ``dirpath`` or ``filename`` that reads a key swept as a config group, a range or a search's
    parameter (known only as each job is composed) is taken to differ by job; a sweep that may
    change the callbacks themselves (``callbacks``, ``experiment``) is not read.
    """
    if jobs is not None and jobs < 2:
        return []
    if OmegaConf.select(config, "hydra.sweeper.linked", default=None):
        return []
    from lossbench.sweep_directories import GRID_SWEEPERS
    from lossbench.sweep_values import swept_plain_values

    grid = str(OmegaConf.select(config, "hydra.sweeper._target_", default="")) in GRID_SWEEPERS
    last: dict[str, Any] = {}
    for override in overrides:
        if override.is_sweep_override() and not override.is_hydra_override():
            last[override.get_key_element()] = override
    plain: list[tuple[str, list[Any]]] = []
    unknown: list[str] = []
    for override in last.values():
        key = override.key_or_group
        values = swept_plain_values(override) if grid else None
        if values is not None:
            plain.append((key, values))
        elif key.split(".")[0].split("@")[0] in CALLBACK_SETTERS:
            return []
        else:
            unknown.append(key)
    if not plain and not unknown:
        return []
    copy = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    OmegaConf.set_struct(copy, False)
    seen: dict[tuple[str, Path, str], tuple[Any, ...]] = {}
    shared: dict[tuple[str, Path, str], None] = {}
    combos = itertools.islice(itertools.product(*(v for _, v in plain)), MAX_JOBS)
    for number, values in enumerate(combos):
        try:
            for (key, _), value in zip(plain, values, strict=True):
                OmegaConf.update(copy, key, value, merge=True)
            copy.hydra.job.num = number
        except Exception:  # a job Hydra or its own checks refuse, with their message
            return []
        for found in _checkpoint_files(copy, number, unknown):
            first = seen.setdefault(found, values)
            if unknown or first != values:  # a job of another config: one more job
                shared[found] = None
    return list(shared)


def _checkpoint_files(config: DictConfig, number: int, unknown: list[str]) -> list[Any]:
    """``(entry, folder, filename)`` of each checkpoint entry of job ``number`` of ``config``
    whose folder lies outside the job's own and whose ``dirpath`` and ``filename`` read none
    of the keys ``unknown`` (swept, known only to each job)."""
    from lossbench.instantiators import checkpoint_dirpaths

    own = Path(os.path.abspath(f".lossbench-job-{number}"))  # a folder no other job has
    found = []
    for name, folder in checkpoint_dirpaths(config, own).items():
        node = config.callbacks[name]
        raw = OmegaConf.to_container(node, resolve=False)
        texts = [str(raw.get(k) or "") for k in ("dirpath", "filename")]  # type: ignore[union-attr]
        if any(_reads(text, key) for text in texts for key in unknown):
            continue
        folder = Path(os.path.abspath(folder))
        if folder.is_relative_to(own):
            continue
        try:
            filename = node.get("filename")
        except Exception:  # ${hydra:job.num}: the job's own, resolved as it starts
            continue
        found.append((name, folder, DEFAULT_FILENAME if filename is None else str(filename)))
    return found


def _reads(text: str, key: str) -> bool:
    """Whether an interpolation of ``text`` reads ``key``, a part of it, or a key within it.

    >>> _reads("/c/${data.name}", "data"), _reads("/c/${seed}", "data"), _reads("/c", "seed")
    (True, False, False)
    """
    for found in re.findall(r"\$\{([^}:]+)}", text):
        ref = found.strip()
        if ref == key or ref.startswith(f"{key}.") or key.startswith(f"{ref}."):
            return True
    return False


def shared_files_warning(entry: str, folder: Path, filename: str, jobs: int | None) -> str:
    """The warning of the jobs that would all write ``entry``'s checkpoints into ``folder``
    under ``filename``.

        >>> print(shared_files_warning("mc", Path("/ckpts"), "{epoch}-{step}", 2)[:71])
        the sweep's 2 jobs would all write callbacks.mc's checkpoints to /ckpts
    """
    count = f"{jobs} jobs" if jobs is not None else "jobs"
    return (
        f"the sweep's {count} would all write callbacks.{entry}'s checkpoints to {folder} "
        f"under one filename pattern ({filename!r}): jobs running at once overwrite each "
        "other's files there, and Lightning's version counter, which processes do not share, "
        "names a later job's files -v1, -v2, ... (its last.ckpt last-v1.ckpt), a name that "
        "does not say whose they are. Put the job in the folder or the name "
        f"(+callbacks.{entry}.dirpath='{folder}/${{hydra:job.num}}', or "
        f"+callbacks.{entry}.filename='s${{seed}}-{{epoch}}'), or leave the dirpath unset or "
        f"relative (+callbacks.{entry}.dirpath=ckpts) so that each run writes in its own "
        "folder. A folder shared on purpose, with a filename that differs by job, is not "
        "warned of."
    )


def warn_shared_checkpoint_files(
    config: DictConfig, overrides: Sequence[Any], jobs: int | None
) -> None:
    """Warn of each checkpoint folder and filename the jobs of the multirun would share
    (:func:`shared_checkpoint_files`), before any job starts."""
    for entry, folder, filename in shared_checkpoint_files(config, overrides, jobs):
        message = shared_files_warning(entry, folder, filename, jobs)
        warnings.warn(message, SharedCheckpointFolderWarning, stacklevel=2)
