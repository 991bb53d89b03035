"""Jobs of a sweep whose checkpoint callback writes the same files, warned of as the sweep starts.

A ``ModelCheckpoint`` of the user's with an absolute ``dirpath``
(``+callbacks.mc.dirpath=/scratch/ckpts``) writes every job's files into one folder, and with
one ``filename`` pattern for all (Lightning's ``{epoch}-{step}`` unless given) under the same
names: jobs running at once (``hydra/launcher=parallel``, Slurm, Ray) overwrite each other's
top-k files and ``last.ckpt``, since Lightning's version counter (``-v1``) is read and written
without a lock, and jobs one after another get ``last-v1.ckpt``, ``epoch=1-step=10-v1.ckpt``, a
name that does not say whose. :func:`shared_checkpoint_files` works each job's folder and
filename out before any job starts, from the job's own config: the first :data:`MAX_JOBS`
jobs of a grid, in Hydra's order and with a study's ``hydra.sweeper.linked`` overrides. A job
that differs from an earlier one only in plain swept values (``seed=0,1``,
``optimizer.lr=1e-3,1e-2``) has them set on that one's config, as
:mod:`lossbench.sweep_directories` works directories out; one that chooses other options of a
config group (``data=iris,wine``, ``callbacks=``, ``experiment=a,b``, ``+group=x,y``) or has
other linked overrides is composed by Hydra's config loader, built from the multirun's own
search path (:func:`lossbench.hydra_internals.sweep_config_loader`), once for each such
choice (at most :data:`MAX_COMPOSED`). So a study whose options leave the callbacks alone is
read, and one whose options name the files each their own way is not warned of. Jobs are
worked out only where one could write outside its own folder (:func:`_may_share`: the
multirun's config has such an entry, or a swept or linked override may set the callbacks),
since composing costs time before the first job (about 3 s for ``experiment=compare_binary``'s
22 configs, 0.2 s for two) where the check is otherwise about 15 ms.
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

import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = [
    "SharedCheckpointFolderWarning",
    "groups_leaving_callbacks",
    "shared_checkpoint_files",
    "shared_files_warning",
    "warn_shared_checkpoint_files",
]

#: Lightning's ``ModelCheckpoint`` filename where none is given.
DEFAULT_FILENAME = "{epoch}-{step}"
#: The jobs worked out at most (a shared folder shows in the first two).
MAX_JOBS = 256
#: The distinct configs composed at most (the jobs of a sweep that differ in more than plain
#: values: :func:`_job_configs`); the jobs after the one that would need another are not read.
MAX_COMPOSED = 32
#: Searched keys whose options may set the callbacks themselves: a search of one is not read.
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
    or number (``${hydra:runtime.output_dir}``, ``${hydra:job.num}``), differs by job. The
    first :data:`MAX_JOBS` jobs of a grid (Hydra's basic sweeper, lossbench's) are read, each
    with its own config (:func:`_job_configs`): a sweep of a config group (``data=``,
    ``callbacks=``, ``experiment=``) and a study's ``linked`` overrides are composed by Hydra's
    config loader, where a job could write outside its folder at all (:func:`_may_share`);
    elsewhere nothing is composed and nothing found. A search (Optuna), whose jobs are known
    only as it runs, is read from the multirun's config: a ``dirpath`` or ``filename`` that
    reads a searched key is taken to differ by job, and a search of a group that may set the
    callbacks themselves (:data:`CALLBACK_SETTERS`) is not read.
    """
    if jobs is not None and jobs < 2:
        return []
    from lossbench.sweep_directories import GRID_SWEEPERS

    if str(OmegaConf.select(config, "hydra.sweeper._target_", default="")) in GRID_SWEEPERS:
        if not _may_share(config, overrides):
            return []
        job_configs = _job_configs(config, overrides)
        unknown: list[str] = []
    else:
        job_configs, unknown = _search_configs(config, overrides)
    seen: dict[tuple[str, Path, str], tuple[str, ...]] = {}
    shared: dict[tuple[str, Path, str], None] = {}
    try:
        for number, (identity, job) in enumerate(job_configs):
            for found in _checkpoint_files(job, number, unknown):
                first = seen.setdefault(found, identity)
                if unknown or first != identity:  # a job of another config: one more job
                    shared[found] = None
    except Exception:  # a job Hydra or its own checks refuse, with their message
        return []
    return list(shared)


def _may_share(config: DictConfig, overrides: Sequence[Any]) -> bool:
    """Whether a job of the grid could write checkpoints into a folder outside its own, which
    only then is read job by job (:func:`_job_configs`, which composes): the multirun's own
    config has such an entry (:func:`_checkpoint_files`), or a swept override or a study's
    linked override may set the callbacks (:func:`_may_set_callbacks`). Neither: nothing a job
    writes lies outside its folder, and nothing is composed."""
    try:
        if _checkpoint_files(_slim(config), 0, []):
            return True
    except Exception:  # an entry read only as each job starts: each job's config says
        return True
    lines: list[Any] = [o for o in overrides if o.is_sweep_override()]
    linked = OmegaConf.select(config, "hydra.sweeper.linked", default=None)
    if linked:
        from lossbench.override_grammar import override_parser

        links = OmegaConf.to_container(linked, resolve=False)
        texts = [
            str(line)
            for by_value in links.values()  # type: ignore[union-attr]
            for added in (by_value or {}).values()
            for line in (added if isinstance(added, list) else [added])
        ]
        try:
            lines += override_parser().parse_overrides(texts)
        except Exception:  # a linked override Hydra refuses as the sweep starts
            return True
    return any(_may_set_callbacks(o) for o in lines if not o.is_hydra_override())


def _may_set_callbacks(override: Any) -> bool:
    """Whether ``override`` (Hydra's parsed override) may set ``callbacks``: a key under one of
    :data:`CALLBACK_SETTERS` (``callbacks.mc.dirpath=``, ``experiment=a,b``), or a top-level key
    that is neither a plain value (``seed``) nor one of lossbench's option groups that leave the
    callbacks alone (:func:`groups_leaving_callbacks`): a group of the user's (``+naming=a,b``),
    ``logger=`` (a ModelCheckpoint without ``dirpath`` writes into the logger's folder),
    ``debug=``, ``study=``.

        >>> from lossbench.override_grammar import override_parser
        >>> [_may_set_callbacks(o) for o in override_parser().parse_overrides(
        ...     ["data=iris,wine", "seed=0,1", "experiment=a,b", "+naming=x,y", "+x.y=1,2"])]
        [False, False, True, True, False]
    """
    from lossbench.sweep_values import plain_top_level_keys

    key = override.key_or_group.split("@")[0]
    root = key.split(".")[0]
    if root in CALLBACK_SETTERS:
        return True
    if "." in key:  # a value within a group's option or a key of the user's
        return False
    return root not in groups_leaving_callbacks() and root not in plain_top_level_keys()


def groups_leaving_callbacks() -> frozenset[str]:
    """lossbench's config groups whose options leave ``callbacks`` (and the loggers a
    checkpoint folder may be in) alone: the groups of :data:`lossbench.config.SCHEMAS`, and
    ``setup`` (a head and a loss).

        >>> sorted(groups_leaving_callbacks())[:4]
        ['data', 'head', 'loss', 'model']
    """
    from lossbench.config import SCHEMAS

    return frozenset(SCHEMAS) | {"setup"}


def _job_configs(
    config: DictConfig, overrides: Sequence[Any]
) -> Iterator[tuple[tuple[str, ...], DictConfig]]:
    """Each of the first :data:`MAX_JOBS` jobs of the grid of ``overrides`` (Hydra's order,
    with a study's ``hydra.sweeper.linked`` overrides): ``(its overrides, its config)``.

    Hydra composes each job from its overrides; here a job's plain swept values
    (``seed=0,1``, ``optimizer.lr=1e-3,1e-2``: :func:`lossbench.sweep_values.swept_plain_values`)
    are set on a copy of a config composed once for every job that differs from it only in
    them, as Hydra's overrides of plain values are set after the config groups are composed:
    the multirun's config where nothing else is swept, else one composed by Hydra's config
    loader (:func:`lossbench.hydra_internals.sweep_config_loader`) for each distinct choice of
    the other swept keys (config groups, added keys, values each job resolves) and linked
    overrides. Raises what Hydra raises for a job it cannot compose.
    """
    from lossbench.config_cache import cache_config_files
    from lossbench.hydra_internals import BasicSweeper, sweep_config_loader
    from lossbench.override_grammar import override_parser
    from lossbench.sweep_values import swept_plain_values

    batch = BasicSweeper.split_arguments(list(overrides), None)[0][:MAX_JOBS]
    final = {o.get_key_element(): o for o in overrides}  # the last override of a key wins
    plain = {key for key, o in final.items() if swept_plain_values(o) is not None}
    fixed = {line for line in batch[0] if not final[_key(line)].is_sweep_override()}
    linked = OmegaConf.select(config, "hydra.sweeper.linked", default=None)
    if linked:
        from hydra_plugins.lossbench_sweeper.sweeper import add_linked

        links = OmegaConf.to_container(linked, resolve=True)
        batch = [add_linked(job, links) for job in batch]  # type: ignore[arg-type]
        plain -= {_key(line) for job in batch for line in job if line not in fixed}
    values: dict[str, Any] = {}  # each plain override's value, as Hydra parses it
    parser = override_parser()
    loader = None
    composed: dict[tuple[str, ...], DictConfig] = {}
    for number, job in enumerate(batch):
        own = tuple(line for line in job if _key(line) not in plain and line not in fixed)
        base = composed.get(own)
        if base is None:
            if len(composed) >= MAX_COMPOSED:
                return
            if own:
                if loader is None:
                    loader = sweep_config_loader(config)
                    if loader is None:
                        raise ValueError("the multirun's config names no config sources")
                    cache_config_files(loader)  # each file parsed once for all the jobs
                with warnings.catch_warnings():  # the job's own, as it starts
                    warnings.simplefilter("ignore")
                    base = loader.load_sweep_config(config, list(job))
            else:  # the multirun's config: nothing but plain values swept
                base = config
            base = _slim(base)
            composed[own] = base
        for line in job:  # every job of ``own`` sets each of them: set in place
            if _key(line) in plain:
                if line not in values:
                    values[line] = parser.parse_overrides([line])[0].value()
                OmegaConf.update(base, _key(line), values[line], merge=True)
        base.hydra.job.num = number
        yield tuple(job), base


#: The parts of Hydra's node a checkpoint folder may read (``${hydra.job.num}``,
#: ``${hydra.sweep.dir}``); the rest (help, logging, launcher, sweeper) is left out of the copy
#: each job's folders are worked out on.
HYDRA_KEPT = ("job", "run", "sweep", "runtime")


def _slim(config: DictConfig) -> DictConfig:
    """A copy of ``config``, unresolved and not in struct mode, whose ``hydra`` node keeps
    :data:`HYDRA_KEPT` alone."""
    raw = OmegaConf.to_container(config, resolve=False)
    hydra = raw.get("hydra")  # type: ignore[union-attr]
    if isinstance(hydra, dict):
        raw["hydra"] = {k: v for k, v in hydra.items() if k in HYDRA_KEPT}  # type: ignore[index]
    copy = OmegaConf.create(raw)
    OmegaConf.set_struct(copy, False)
    return copy


def _key(line: str) -> str:
    """The key of a job's override as Hydra's sweeper writes it (``key=value``), with its
    ``+``, ``~`` or ``@package``."""
    return line.partition("=")[0]


def _search_configs(
    config: DictConfig, overrides: Sequence[Any]
) -> tuple[list[tuple[tuple[str, ...], DictConfig]], list[str]]:
    """A search's config (Optuna's trials are known only as it runs), and its searched keys:
    ``([((), config)], keys)``; none where it searches a group that may set the callbacks
    (:data:`CALLBACK_SETTERS`), or sweeps nothing."""
    keys: list[str] = []
    for override in overrides:
        if override.is_sweep_override() and not override.is_hydra_override():
            key = override.key_or_group
            if key.split(".")[0].split("@")[0] in CALLBACK_SETTERS:
                return [], []
            keys.append(key)
    if not keys:
        return [], []
    copy = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    OmegaConf.set_struct(copy, False)
    return [((), copy)], keys


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
