"""Jobs of a sweep that ``hydra.sweep.subdir`` gives one directory, refused before any trains.

``lossbench-train -m data=iris seed=0,1 hydra.sweep.subdir=same`` gives both jobs the
directory ``same``: the first job's run would stay there and the second could not train
(lossbench never overwrites a completed run). The vectorized launcher finds such jobs as it
composes them (:func:`shared_directory`, its message); under the other launchers (Hydra's basic
launcher, ``hydra/launcher=parallel``, Slurm, Ray) each job found it only where it started,
after the jobs before it had trained. :func:`check_shared_job_directories` works out every
job's directory before the sweep starts, where the sweep sets only plain values (``seed=0,1``,
``optimizer.lr=1e-3,1e-2``): they are set on the multirun's config one job after another and
``hydra.sweep.subdir`` is resolved with each job's number and overrides, as Hydra does. Two
jobs of one config (``seed=0,0``) may share a directory: the second finds the first's run and
is skipped.

    >>> from omegaconf import OmegaConf
    >>> from lossbench.override_grammar import override_parser
    >>> config = OmegaConf.create({"seed": 0, "hydra": {
    ...     "sweep": {"dir": "study", "subdir": "same"}, "job": {"num": 0},
    ...     "launcher": {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"},
    ...     "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}}})
    >>> check_shared_job_directories(config, override_parser().parse_overrides(["seed=0,1"]))
    Traceback (most recent call last):
    ...
    lossbench.errors.ConfigError: job 1 would train in study/same, job 0's directory: ...
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.errors import ConfigError

__all__ = ["check_shared_job_directories", "differing_keys", "shared_directory"]

#: The sweepers whose jobs are the cartesian product of the swept values (Hydra's basic
#: sweeper, lossbench's), known before the sweep starts.
GRID_SWEEPERS = (
    "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
    "hydra_plugins.lossbench_sweeper.sweeper.LossbenchSweeper",
)


def differing_keys(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """The keys that two jobs' overrides set to different values (or that only one sets), in
    the order they appear.

        >>> differing_keys(["data=iris", "seed=0", "optimizer.lr=0.1"],
        ...                ["data=iris", "seed=1", "optimizer.lr=0.1", "+x=2"])
        ['seed', 'x']
    """

    def values(overrides: Sequence[str]) -> dict[str, str]:
        pairs = (o.partition("=") for o in overrides)
        return {key.lstrip("+~"): value for key, _, value in pairs}

    a, b = values(first), values(second)
    keys = [*a, *(key for key in b if key not in a)]
    return [key for key in keys if a.get(key) != b.get(key)]


def shared_directory(
    number: int,
    directory: Any,
    first: int,
    subdir: str,
    earlier: Sequence[str],
    overrides: Sequence[str],
) -> str:
    """What is wrong where job ``number`` (with ``overrides``) would train in ``directory``,
    job ``first``'s (with ``earlier``), because ``hydra.sweep.subdir`` (``subdir``, unresolved)
    gives both jobs one directory; and the fix.

        >>> print(shared_directory(1, "s/same", 0, "same", ["seed=0"], ["seed=1"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        job 1 would train in s/same, job 0's directory: hydra.sweep.subdir=same gives both jobs
        one directory. Add the keys in which they differ (seed) to hydra.sweep.subdir (job 0:
        seed=0; job 1: seed=1).
    """
    return (
        f"job {number} would train in {directory}, job {first}'s directory: "
        f"hydra.sweep.subdir={subdir} gives both jobs one directory. Add the keys in which they "
        f"differ ({', '.join(differing_keys(earlier, overrides))}) to hydra.sweep.subdir (job "
        f"{first}: {' '.join(earlier)}; job {number}: {' '.join(overrides)})."
    )


def _swept_values(overrides: Sequence[Any]) -> list[tuple[str, list[Any]]] | None:
    """``(key, values)`` of each sweep of ``overrides`` (Hydra's parsed overrides, the later
    winning for one key), in the order of the cartesian product Hydra's basic sweeper makes
    (each key where it first appears); None where a sweep chooses a config group, adds a key
    or sets a value that each job resolves (:func:`lossbench.sweep_values.swept_plain_values`):
    its jobs' directories are known only once each job is composed."""
    from lossbench.sweep_values import swept_plain_values

    last: dict[str, Any] = {}
    for override in overrides:
        last[override.get_key_element()] = override  # the first place, the last override
    swept = []
    for override in last.values():
        if not override.is_sweep_override():
            continue
        values = swept_plain_values(override)
        if values is None:
            return None
        swept.append((override.key_or_group, values))
    return swept


def check_shared_job_directories(config: DictConfig, overrides: Sequence[Any]) -> None:
    """Refuse a sweep two of whose jobs of different configs ``hydra.sweep.subdir`` gives one
    directory (:func:`shared_directory`), before any job starts. ``config``: the multirun's
    config; ``overrides``: its parsed overrides, the sweeper's params then the command line's
    (:func:`lossbench.hydra_callbacks.swept_overrides`).

    Left to the jobs where their directories are not known before they are composed: a
    search (Optuna), a sweep of a config group or of a value each job resolves, and overrides
    that a study's ``hydra.sweeper.linked`` adds (the vectorized launcher finds such jobs as it
    composes them: the first trains, the others are not run). A ``hydra.sweep.subdir`` with the
    job's number or id (the default) differs from job to job.

    Raises:
        ConfigError: the first job that would train in an earlier job's directory.
    """
    hydra = config.hydra
    if str(OmegaConf.select(hydra, "sweeper._target_", default="")) not in GRID_SWEEPERS:
        return
    if OmegaConf.select(hydra, "sweeper.linked", default=None):
        return
    raw = OmegaConf.to_container(hydra.sweep, resolve=False)
    subdir = raw.get("subdir") if isinstance(raw, dict) else None
    if subdir is None or "hydra.job.num" in str(subdir) or "hydra.job.id" in str(subdir):
        return
    swept = _swept_values(overrides)
    if not swept:
        return
    from lossbench.hydra_internals import BasicSweeper, overrides_dirname

    jobs = BasicSweeper.split_arguments(list(overrides), None)[0]  # Hydra's numbering
    copy = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    OmegaConf.set_struct(copy, False)
    dirname = OmegaConf.select(copy, "hydra.job.config.override_dirname", default=None)
    if "override_dirname" not in str(subdir):
        dirname = None
    first_of: dict[str, tuple[int, tuple[Any, ...]]] = {}
    for number, values in enumerate(itertools.product(*(v for _, v in swept))):
        try:
            for (key, _), value in zip(swept, values, strict=True):
                OmegaConf.update(copy, key, value, merge=True)
            copy.hydra.job.num = number
            if dirname is not None:
                copy.hydra.job.override_dirname = overrides_dirname(jobs[number], dirname)
            # each job's own: hydra.sweep.dir may read a swept key too (s${seed})
            sweep_dir = Path(str(OmegaConf.select(copy, "hydra.sweep.dir")))
            directory = str(sweep_dir / str(OmegaConf.select(copy, "hydra.sweep.subdir")))
        except Exception:  # a job Hydra or its own checks refuse, with their message
            return
        first, earlier = first_of.setdefault(directory, (number, values))
        if first == number or earlier == values:  # one config: its second job is skipped
            continue
        refusal = shared_directory(number, directory, first, str(subdir), jobs[first], jobs[number])
        raise ConfigError(f"{refusal} Nothing was trained.")
