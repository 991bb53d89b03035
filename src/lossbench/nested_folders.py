"""Run folders and sweep folders inside one another, refused before anything trains.

A run's folder (``hydra.run.dir``: ``config.yaml``, ``metrics.json``, ``checkpoints/``,
``logs/``, Hydra's ``.hydra/`` or the folder ``hydra.output_subdir`` names) and a sweep's
(``hydra.sweep.dir`` of ``lossbench-train -m``: a folder per job, each a run's, and Hydra's
``multirun.yaml``) or an Optuna search's (``hparams_search=...``: a folder per trial, and no
``multirun.yaml``: known by its ``optimization_results.yaml``, lossbench's ``.progress/``
markers of its trials, or its first trial's folder ``0/``, a multirun's job) are each one
study's: ``lossbench-report <folder>`` reads every ``metrics.json`` below the folders it is
given. A run trained inside a sweep's
folder, a sweep inside a run's folder (or inside another sweep's), or a run in a folder that
holds other runs would mix their results into one report, and put one run's files among
another's. :func:`check_run_folder` (a single run, from :func:`lossbench.train.preflight`) and
:func:`check_sweep_folder` (a multirun, as it starts) refuse them, before anything is written.

A sweep's own jobs are not single runs (Hydra puts each in the sweep's folder), and a single run
in a folder of a sweep that already holds a run (a job's: ``hydra.run.dir=<sweep>/<job>
ckpt_path=last`` resumes it) is that run's, so both train as before. A sweep or a search run
again in its own folder skips its completed jobs, as before; a multirun of the other kind there
(a plain sweep in a search's folder, a search in a sweep's) is refused.

A run stopped before it wrote its ``config.yaml`` is known by the run config in its Hydra
folder: the one the checked run's own ``hydra.output_subdir`` names, ``.hydra``, or any child
folder holding Hydra's three files (a run written with another ``hydra.output_subdir``). With
``hydra.output_subdir=null`` Hydra writes no such folder, so until its ``config.yaml`` such a
run's folder holds nothing to know it by.

The walk is cheap: up from the folder, a few files looked at per level (and a first trial's
``hydra.yaml`` where a ``0/`` is there); down, only where the
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
import re
from collections import deque
from pathlib import Path

from lossbench.errors import UserInputError
from lossbench.progress import MARKER_DIR
from lossbench.record import HYDRA_FILES, HYDRA_SUBDIR

__all__ = ["NestedFolderError", "check_run_folder", "check_sweep_folder"]

#: The file Hydra writes into a sweep's folder as the sweep starts (its basic sweeper; an Optuna
#: search's sweeper writes none).
MULTIRUN_FILE = "multirun.yaml"
#: The file an Optuna search writes into its folder as it ends with a best trial.
SEARCH_RESULTS = "optimization_results.yaml"
#: The folder of lossbench's markers of a study's jobs, written into every sweep's and search's
#: folder as its first job ends.
MARKERS = MARKER_DIR
#: The folder of a search's first trial (lossbench's search configs: ``hydra.sweep.subdir:
#: ${hydra.job.num}``), which Hydra makes as the trial starts: a search still at its first
#: trial is known by it.
FIRST_TRIAL = "0"
#: The files in a run's folder that say a run of lossbench's is there.
CONFIG_NAME = "config.yaml"
RECORD_NAME = "metrics.json"
#: How deep below a folder that exists the runs it would hold are looked for: a study's parent
#: folder holds ``multiruns/<time>/<job>/config.yaml`` three folders down.
LEVELS_DOWN = 4
#: How many folders below it are looked at, at most (a large folder is not read through).
FOLDERS_DOWN = 2000

_RUN_FIX = (
    "Give the run a folder of its own, outside every sweep's, search's and run's folder "
    "(hydra.run.dir=<new folder>), or leave hydra.run.dir out: each run gets a new folder "
    "under paths.output_dir."
)
_SWEEP_FIX = (
    "Give the sweep a folder of its own, outside every run's and other sweep's or search's folder "
    "(hydra.sweep.dir=<new folder>), or leave hydra.sweep.dir out: each sweep gets a new "
    "folder under paths.output_dir."
)
_NOTHING = "Nothing was trained or written."


class NestedFolderError(UserInputError):
    """A run's or a sweep's folder that is, lies inside or holds another run's or sweep's."""


def _is_hydra_folder(folder: Path) -> bool:
    """Whether ``folder`` holds what Hydra writes into its folder of a job (``.hydra``, or the
    one ``hydra.output_subdir`` names): all three of :data:`~lossbench.record.HYDRA_FILES`."""
    return all((folder / name).is_file() for name in HYDRA_FILES)


def _hydra_folders(folder: Path, subdir: str | None) -> list[Path]:
    """Hydra's folders of a job in ``folder``: the one ``subdir`` (the checked job's
    ``hydra.output_subdir``) names, ``.hydra``, and any other child folder holding Hydra's
    files (a run written with another ``hydra.output_subdir``); none where it has none
    (``hydra.output_subdir=null``)."""
    named = [folder / name for name in dict.fromkeys((subdir, HYDRA_SUBDIR)) if name]
    found = [path for path in named if path.is_dir()]
    try:
        with os.scandir(folder) as entries:
            others = sorted(
                Path(e.path)
                for e in entries
                if e.is_dir(follow_symlinks=False) and Path(e.path) not in found
            )
    except OSError:
        return found
    return found + [path for path in others if _is_hydra_folder(path)]


def _multirun_job(folder: Path) -> bool:
    """Whether ``folder`` is a job's of a multirun (a sweep's or a search's): Hydra's
    ``hydra.yaml`` in its Hydra folder records ``mode: MULTIRUN``."""
    for hydra in _hydra_folders(folder, None):
        try:
            text = (hydra / "hydra.yaml").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if re.search(r"^\s+mode: MULTIRUN\s*$", text, re.MULTILINE):
            return True
    return False


def _sweep_mark(folder: Path) -> tuple[str, str] | None:
    """``(what, why)`` where ``folder`` is the folder of a sweep (``"sweep"``) or of an Optuna
    search (``"search"``), with what shows it; None where it is neither. A sweep's holds
    :data:`MULTIRUN_FILE`; a search's writes none, and is known by its
    :data:`SEARCH_RESULTS` (once ended), lossbench's job markers (:data:`MARKERS`, once a
    trial ended) or its first trial's folder (:data:`FIRST_TRIAL`, a multirun's job, from the
    moment the trial starts)."""
    if (folder / MULTIRUN_FILE).is_file():
        return "sweep", f"it holds {MULTIRUN_FILE}"
    if (folder / SEARCH_RESULTS).is_file():
        return "search", f"it holds {SEARCH_RESULTS}"
    if (folder / MARKERS).is_dir():
        return "search", f"it holds {MARKERS}/, the markers of its trials"
    first = folder / FIRST_TRIAL
    if first.is_dir() and _multirun_job(first):
        return "search", f"it holds {first.name}/, a trial of a multirun"
    return None


def _run_config(folder: Path) -> Path | None:
    """The run ``config.yaml`` in ``folder`` (lossbench-train's, not another tool's), or None."""
    from lossbench.run_config_file import is_run_config

    path = folder / CONFIG_NAME
    return path if path.is_file() and is_run_config(path) else None


def _holds_run(folder: Path, subdir: str | None = HYDRA_SUBDIR) -> Path | None:
    """The file that shows ``folder`` holds a run of lossbench's: its ``config.yaml``, its
    ``metrics.json``, or the run config Hydra wrote into its Hydra folder (a run, or a sweep's
    job, stopped before it wrote its own: :func:`_hydra_folders`, ``subdir`` the checked job's
    ``hydra.output_subdir``); None where it holds none."""
    found = _run_config(folder)
    if found is not None:
        return found
    if (folder / RECORD_NAME).is_file():
        return folder / RECORD_NAME
    for hydra in _hydra_folders(folder, subdir):
        found = _run_config(hydra)
        if found is not None:
            return found
    return None


def _found_below(folder: Path, subdir: str | None = HYDRA_SUBDIR) -> tuple[str, Path] | None:
    """``(what, where)`` of the nearest other run, sweep or search below ``folder`` (not in
    it): ``"a sweep"`` or ``"a search"`` and its folder (:func:`_sweep_mark`), or ``"a run"``
    and the folder that holds it (:func:`_holds_run`). Hydra's folders (``.hydra``,
    ``subdir``, any holding Hydra's files) and other hidden ones are not looked into, nor
    links."""
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
                    if not e.name.startswith(".")
                    and e.name != subdir
                    and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            continue
        for child in children:
            seen += 1
            if seen > FOLDERS_DOWN:
                return None
            if _is_hydra_folder(child):
                continue  # Hydra's folder of the run in ``current``: no run of its own
            mark = _sweep_mark(child)
            if mark is not None:
                return f"a {mark[0]}", child
            if _holds_run(child, subdir) is not None:
                return "a run", child
            queue.append((child, depth + 1))
    return None


def _as_made(path: Path) -> Path:
    from lossbench.output_files import as_made

    return as_made(path)


def _study(kind: str) -> tuple[str, str]:
    """``(noun, its jobs)`` of a study's folder of ``kind`` (:func:`_sweep_mark`)."""
    return (kind, "jobs") if kind == "sweep" else ("search", "trials")


def check_run_folder(run_dir: str | os.PathLike, output_subdir: str | None = HYDRA_SUBDIR) -> None:
    """Refuse a single run whose folder ``run_dir`` (``hydra.run.dir``) is a sweep's or a
    search's folder, lies inside one without being one of its runs' (a job's, which it resumes
    or trains again), lies inside another run's folder, or holds other runs, sweeps or
    searches below it. ``output_subdir`` is the run's own ``hydra.output_subdir`` (None: it
    writes no Hydra folder); runs written with another are known by their Hydra files too.

    Raises:
        NestedFolderError: what was given, which folder is in the way, why and the fix.
    """
    given = Path(run_dir)
    folder = _as_made(given)
    mark = _sweep_mark(folder)
    if mark is not None:
        noun, jobs = _study(mark[0])
        raise NestedFolderError(
            f"hydra.run.dir={given} is the folder of a {noun} ({mark[1]}): a single run there "
            f"would put its files among the {noun}'s {jobs}, and lossbench-report of the "
            f"{noun} would mix it into the {noun}'s results. To resume one of the {noun}'s "
            f"{jobs}, give that {jobs[:-1]}'s folder (hydra.run.dir=<{noun}>/<{jobs[:-1]}> "
            f"ckpt_path=last). {_RUN_FIX} {_NOTHING}"
        )
    own_run = folder.is_dir() and _holds_run(folder, output_subdir) is not None
    for above in folder.parents:
        mark = None if own_run else _sweep_mark(above)
        if mark is not None:
            noun, jobs = _study(mark[0])
            raise NestedFolderError(
                f"hydra.run.dir={given} lies inside the folder of a {noun}, {above} "
                f"({mark[1]}), and is none of its {jobs}' folders: the run's files would sit "
                f"among the {noun}'s {jobs}, and lossbench-report of the {noun} would mix the "
                f"run into the {noun}'s results. To resume one of the {noun}'s {jobs}, give "
                f"that {jobs[:-1]}'s own folder (hydra.run.dir=<{noun}>/<{jobs[:-1]}> "
                f"ckpt_path=last). {_RUN_FIX} {_NOTHING}"
            )
        config = _run_config(above)
        if config is not None:
            raise NestedFolderError(
                f"hydra.run.dir={given} lies inside the folder of another run, {above} (its "
                f"{config.name}): the run's files would sit among that run's, and "
                f"lossbench-report of {above} would mix the two. {_RUN_FIX} {_NOTHING}"
            )
    if folder.is_dir():
        found = _found_below(folder, output_subdir)
        if found is not None:
            what, where = found
            raise NestedFolderError(
                f"hydra.run.dir={given} holds other runs ({what} in {where}): the run's "
                "files would sit among theirs, and lossbench-report of the folder would mix "
                f"them into one result. {_RUN_FIX} {_NOTHING}"
            )


def check_sweep_folder(sweep_dir: str | os.PathLike, *, search: bool = False) -> None:
    """Refuse a sweep whose folder ``sweep_dir`` (``hydra.sweep.dir``) is a run's folder, lies
    inside a run's folder (a single run's, or a job's of another sweep or search) or inside
    another sweep's or search's folder, or is the folder of a study of the other kind (a
    sweep's, for an Optuna search: ``search``; a search's, for a sweep). Its own folder
    holding its jobs (a sweep or a search run again there skips the jobs that ended) is not
    refused.

    Raises:
        NestedFolderError: what was given, which folder is in the way, why and the fix.
    """
    given = Path(sweep_dir)
    folder = _as_made(given)
    this, own = _study("search" if search else "sweep")
    for above in (folder, *folder.parents):
        config = _run_config(above)
        if config is not None:
            where = "is" if above == folder else f"lies inside {above},"
            raise NestedFolderError(
                f"hydra.sweep.dir={given} {where} the folder of a run (its {config.name}): the "
                f"{this}'s {own} would sit among that run's files, and lossbench-report of the "
                f"run's folder would mix them. {_SWEEP_FIX} {_NOTHING}"
            )
        mark = _sweep_mark(above)
        if mark is None or (above == folder and mark[0] == this):
            continue  # a study's own folder: run again there, it skips the jobs that ended
        noun, jobs = _study(mark[0])
        if above == folder:
            raise NestedFolderError(
                f"hydra.sweep.dir={given} is the folder of a {noun} ({mark[1]}), and this "
                f"multirun is a {this}, not that {noun} run again: the {this}'s {own} would "
                f"sit among the {noun}'s {jobs}, and lossbench-report of {given} would mix the "
                f"two studies. To continue the {noun}, run its own command again with "
                f"hydra.sweep.dir={given}. {_SWEEP_FIX} {_NOTHING}"
            )
        raise NestedFolderError(
            f"hydra.sweep.dir={given} lies inside the folder of another {noun}, {above} "
            f"({mark[1]}): the {this}'s {own} would sit among that {noun}'s {jobs}, and "
            f"lossbench-report of {above} would mix the two studies. {_SWEEP_FIX} {_NOTHING}"
        )
