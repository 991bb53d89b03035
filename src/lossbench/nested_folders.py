"""Run folders and sweep folders inside one another, refused before anything trains.

A run's folder (``hydra.run.dir``: ``config.yaml``, ``metrics.json``, ``checkpoints/``,
``logs/``) and a sweep's (``hydra.sweep.dir`` of ``lossbench-train -m``: a folder per job,
each a run's, and Hydra's ``multirun.yaml``) are each one study's: ``lossbench-report <folder>``
reads every ``metrics.json`` below the folders it is given. A run trained inside a sweep's
folder, a sweep inside a run's folder (or inside another sweep's), or a run in a folder that
holds other runs would mix their results into one report, and put one run's files among
another's. :func:`check_run_folder` (a single run, from :func:`lossbench.train.preflight`) and
:func:`check_sweep_folder` (a multirun, as it starts) refuse them, before anything is written.

A sweep's own jobs are not single runs (Hydra puts each in the sweep's folder), and a single run
in a folder of a sweep that already holds a run (a job's: ``hydra.run.dir=<sweep>/<job>
ckpt_path=last`` resumes it) is that run's, so both train as before. A sweep run again in its
own folder (it holds ``multirun.yaml``) skips its completed jobs, as before.

The walk is cheap: up from the folder, a few files looked at per level; down, only where the
folder exists, at most :data:`LEVELS_DOWN` levels and :data:`FOLDERS_DOWN` folders.

    >>> import tempfile
    >>> sweep = Path(tempfile.mkdtemp())
    >>> _ = (sweep / MULTIRUN_FILE).write_text("hydra: {}\\n")
    >>> check_run_folder(sweep / "mine")
    Traceback (most recent call last):
    ...
    lossbench.nested_folders.NestedFolderError: hydra.run.dir=.../mine lies inside the folder ...
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from lossbench.errors import UserInputError

__all__ = ["NestedFolderError", "check_run_folder", "check_sweep_folder"]

#: The file Hydra writes into a sweep's folder as the sweep starts.
MULTIRUN_FILE = "multirun.yaml"
#: The files in a run's folder that say a run of lossbench's is there.
CONFIG_NAME = "config.yaml"
RECORD_NAME = "metrics.json"
#: How deep below a folder that exists the runs it would hold are looked for: a study's parent
#: folder holds ``multiruns/<time>/<job>/config.yaml`` three folders down.
LEVELS_DOWN = 4
#: How many folders below it are looked at, at most (a large folder is not read through).
FOLDERS_DOWN = 2000

_RUN_FIX = (
    "Give the run a folder of its own, outside every sweep's and run's folder "
    "(hydra.run.dir=<new folder>), or leave hydra.run.dir out: each run gets a new folder "
    "under paths.output_dir."
)
_SWEEP_FIX = (
    "Give the sweep a folder of its own, outside every run's and other sweep's folder "
    "(hydra.sweep.dir=<new folder>), or leave hydra.sweep.dir out: each sweep gets a new "
    "folder under paths.output_dir."
)
_NOTHING = "Nothing was trained or written."


class NestedFolderError(UserInputError):
    """A run's or a sweep's folder that is, lies inside or holds another run's or sweep's."""


def _is_sweep(folder: Path) -> bool:
    return (folder / MULTIRUN_FILE).is_file()


def _run_config(folder: Path) -> Path | None:
    """The run ``config.yaml`` in ``folder`` (lossbench-train's, not another tool's), or None."""
    from lossbench.run_config_file import is_run_config

    path = folder / CONFIG_NAME
    return path if path.is_file() and is_run_config(path) else None


def _holds_run(folder: Path) -> Path | None:
    """The file that shows ``folder`` holds a run of lossbench's: its ``config.yaml``, its
    ``metrics.json``, or the run config Hydra wrote into ``.hydra/`` (a run, or a sweep's job,
    stopped before it wrote its own); None where it holds none."""
    found = _run_config(folder)
    if found is not None:
        return found
    if (folder / RECORD_NAME).is_file():
        return folder / RECORD_NAME
    hydra = folder / ".hydra"
    return _run_config(hydra) if hydra.is_dir() else None


def _found_below(folder: Path) -> Path | None:
    """The nearest file below ``folder`` (not in it) that shows another run or sweep is there:
    a ``multirun.yaml``, or a run's (:func:`_holds_run`). Hydra's folders (``.hydra``) and
    other hidden ones are not looked into, nor links."""
    queue = deque([(folder, 0)])
    seen = 0
    while queue:
        current, depth = queue.popleft()
        if depth >= LEVELS_DOWN:
            continue
        try:
            with os.scandir(current) as entries:
                children = sorted(
                    Path(e.path)
                    for e in entries
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            continue
        for child in children:
            seen += 1
            if seen > FOLDERS_DOWN:
                return None
            if _is_sweep(child):
                return child / MULTIRUN_FILE
            found = _holds_run(child)
            if found is not None:
                return found
            queue.append((child, depth + 1))
    return None


def _as_made(path: Path) -> Path:
    from lossbench.output_files import as_made

    return as_made(path)


def check_run_folder(run_dir: str | os.PathLike) -> None:
    """Refuse a single run whose folder ``run_dir`` (``hydra.run.dir``) is a sweep's folder, lies
    inside a sweep's folder without being one of its runs' (a job's, which it resumes or
    trains again), lies inside another run's folder, or holds other runs or sweeps below it.

    Raises:
        NestedFolderError: what was given, which folder is in the way, why and the fix.
    """
    given = Path(run_dir)
    folder = _as_made(given)
    if _is_sweep(folder):
        raise NestedFolderError(
            f"hydra.run.dir={given} is the folder of a sweep (it holds {folder / MULTIRUN_FILE}): "
            "a single run there would put its files among the sweep's jobs, and "
            "lossbench-report of the sweep would mix it into the sweep's results. To resume one "
            "of the sweep's jobs, give that job's folder (hydra.run.dir=<sweep>/<job> "
            f"ckpt_path=last). {_RUN_FIX} {_NOTHING}"
        )
    own_run = folder.is_dir() and _holds_run(folder) is not None
    for above in folder.parents:
        if _is_sweep(above) and not own_run:
            raise NestedFolderError(
                f"hydra.run.dir={given} lies inside the folder of a sweep, {above} (it holds "
                f"{MULTIRUN_FILE}), and is none of its jobs' folders: the run's files would sit "
                "among the sweep's jobs, and lossbench-report of the sweep would mix the run "
                "into the sweep's results. To resume one of the sweep's jobs, give that job's "
                f"own folder (hydra.run.dir=<sweep>/<job> ckpt_path=last). {_RUN_FIX} {_NOTHING}"
            )
        config = _run_config(above)
        if config is not None:
            raise NestedFolderError(
                f"hydra.run.dir={given} lies inside the folder of another run, {above} (its "
                f"{config.name}): the run's files would sit among that run's, and "
                f"lossbench-report of {above} would mix the two. {_RUN_FIX} {_NOTHING}"
            )
    if folder.is_dir():
        found = _found_below(folder)
        if found is not None:
            what = "a sweep" if found.name == MULTIRUN_FILE else "a run"
            raise NestedFolderError(
                f"hydra.run.dir={given} holds other runs ({what} in {found.parent}): the run's "
                "files would sit among theirs, and lossbench-report of the folder would mix "
                f"them into one result. {_RUN_FIX} {_NOTHING}"
            )


def check_sweep_folder(sweep_dir: str | os.PathLike) -> None:
    """Refuse a sweep whose folder ``sweep_dir`` (``hydra.sweep.dir``) is a run's folder, lies
    inside a run's folder (a single run's, or a job's of another sweep) or inside another
    sweep's folder. Its own folder holding its jobs (a sweep run again there skips the jobs
    that ended) is not looked into: an Optuna search writes no ``multirun.yaml`` to tell it.

    Raises:
        NestedFolderError: what was given, which folder is in the way, why and the fix.
    """
    given = Path(sweep_dir)
    folder = _as_made(given)
    for above in (folder, *folder.parents):
        config = _run_config(above)
        if config is not None:
            where = "is" if above == folder else f"lies inside {above},"
            raise NestedFolderError(
                f"hydra.sweep.dir={given} {where} the folder of a run (its {config.name}): the "
                "sweep's jobs would sit among that run's files, and lossbench-report of the "
                f"run's folder would mix them. {_SWEEP_FIX} {_NOTHING}"
            )
        if above != folder and _is_sweep(above):
            raise NestedFolderError(
                f"hydra.sweep.dir={given} lies inside the folder of another sweep, {above} (it "
                f"holds {MULTIRUN_FILE}): the sweep's jobs would sit among that sweep's, and "
                f"lossbench-report of {above} would mix the two studies. {_SWEEP_FIX} {_NOTHING}"
            )
