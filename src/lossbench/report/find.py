"""Find the run records (``metrics.json``) under any set of paths.

    >>> find_records(["outputs/multiruns/2026-01-01_12-00-00-000000"])  # doctest: +SKIP
    [PosixPath('.../0_wine_logits_cross_entropy/metrics.json'), ...]

The job folders that hold no record yet (a job still running, or killed before it wrote one)
are found too, so that a report of an unfinished study says so:

    >>> unfinished_jobs(["outputs/multiruns/2026-01-01_12-00-00-000000"])  # doctest: +SKIP
    [PosixPath('.../7_wine_logits_nll')]

Kept free of heavy imports, so the command line refuses a wrong path at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from lossbench.record import (
    EARLIER_CHECKPOINTS,
    EARLIER_SUFFIX,
    HYDRA_SUBDIR,
    LOGGER_FOLDERS,
    is_hydra_folder,
)
from lossbench.report.errors import ReportError
from lossbench.run_identity import CAPPED_SUFFIX, kept_names

RECORD_NAME = "metrics.json"
#: What lossbench-train writes into a job's folder as the job starts (its ``config.yaml``,
#: Hydra's ``.hydra/``, or the folder ``hydra.output_subdir`` names: one that holds Hydra's
#: ``hydra.yaml``) and while it trains (``checkpoints/``), before the record it writes when
#: the job ends. The folders are a job's own, not jobs.
JOB_FILES = ("config.yaml",)
JOB_FOLDERS = (HYDRA_SUBDIR, "checkpoints")


def _written_names() -> re.Pattern[str]:
    """The names of the folders a job writes inside its own folder besides :data:`JOB_FOLDERS`:
    its loggers' (:data:`~lossbench.record.LOGGER_FOLDERS`, which hold Lightning's
    ``ModelCheckpoint``'s ``checkpoints/`` where it has no ``dirpath``), those an earlier
    attempt left, set aside (``logs-earlier``, ``checkpoints-earlier``, then ``-v1``, ...:
    :func:`~lossbench.record.set_aside_earlier_attempt`), and those of a run set aside for a
    raised cap (``logs-max_epochs300``, ``checkpoints-max_epochs300``, then ``-v1``, ...:
    :func:`~lossbench.run_identity.kept_names`)."""
    earlier = [name + EARLIER_SUFFIX for name in LOGGER_FOLDERS] + [EARLIER_CHECKPOINTS]
    capped = [
        re.escape(name + CAPPED_SUFFIX) + r"\d+" for name in kept_names(0) if not Path(name).suffix
    ]
    aside = "|".join([*map(re.escape, earlier), *capped])
    logged = "|".join(map(re.escape, LOGGER_FOLDERS))
    return re.compile(rf"(?:{logged})|(?:{aside})(?:-v\d+)?")


#: See :func:`_written_names`.
WRITTEN_FOLDERS = _written_names()


def _walk(root: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` of ``root`` through symlinked directories too (which ``Path.rglob`` does
    not follow); a directory reached again, through a link to it or to a folder above it, is
    not read again, so a link loop ends. Pruning the yielded subfolders prunes the walk."""
    seen: set[tuple[int, int]] = set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        try:
            stat = os.stat(folder)
        except OSError:
            subfolders[:] = []
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in seen:
            subfolders[:] = []  # read already: do not walk it again
            continue
        seen.add(key)
        yield folder, subfolders, files


def _records_under(root: Path) -> set[Path]:
    """Every ``metrics.json`` below ``root`` (see :func:`_walk`)."""
    found: set[Path] = set()
    for folder, _, files in _walk(root):
        record = Path(folder, RECORD_NAME)
        if RECORD_NAME in files and record.is_file():
            found.add(record.resolve())
    return found


def _own_folders(folder: str, subfolders: Sequence[str]) -> list[str]:
    """The names of ``subfolders`` (of ``folder``) that are a job's own (:data:`JOB_FOLDERS`,
    or Hydra's folder under another name), not jobs."""
    return [
        name
        for name in subfolders
        if name in JOB_FOLDERS or is_hydra_folder(os.path.join(folder, name))
    ]


def _written_folders(subfolders: Sequence[str]) -> list[str]:
    """The names of ``subfolders`` of a job's folder that the job wrote
    (:data:`WRITTEN_FOLDERS`: its loggers' folders and what was set aside), not jobs."""
    return [name for name in subfolders if WRITTEN_FOLDERS.fullmatch(name)]


def _holds_job(folder: str, subfolders: Sequence[str], files: Sequence[str]) -> bool:
    """Whether ``folder`` is a job's: it holds its record, or what lossbench-train writes
    before it (:func:`_is_job_folder`)."""
    return RECORD_NAME in files or _is_job_folder(folder, subfolders, files)


def _written_by_job(path: Path) -> bool:
    """Whether the folder ``path`` is one a job wrote in its own folder (:func:`_written_folders`
    of a folder that :func:`_holds_job`): ``<run>/logs`` given itself is no job."""
    if not WRITTEN_FOLDERS.fullmatch(path.name):
        return False
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return False
    subfolders = [entry.name for entry in entries if entry.is_dir()]
    files = [entry.name for entry in entries if not entry.is_dir()]
    return _holds_job(str(path.parent), subfolders, files)


def _only_checkpoints(folder: str, subfolders: Sequence[str], files: Sequence[str]) -> bool:
    """Whether ``folder``, where :func:`_is_job_folder`, is one by its
    ``checkpoints/`` alone: inside a job's folder, that is a logger's folder for one version
    (W&B's ``<run>/<project>/<version>/checkpoints/``, where a ``ModelCheckpoint`` without
    ``dirpath`` writes), not a job, which lossbench-train starts by writing its ``config.yaml``
    and Hydra its folder (a run's folder never lies in another's)."""
    written = any(name in files for name in JOB_FILES)
    return not written and set(_own_folders(folder, subfolders)) == {"checkpoints"}


def _is_job_folder(folder: str, subfolders: Sequence[str], files: Sequence[str]) -> bool:
    """Whether ``folder`` holds what lossbench-train writes into a job's folder."""
    if Path(folder).name in JOB_FOLDERS or is_hydra_folder(folder):
        return False
    return any(name in files for name in JOB_FILES) or bool(_own_folders(folder, subfolders))


def unfinished_jobs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The job folders under ``paths`` without a ``metrics.json``, resolved and sorted: each
    holds a ``config.yaml``, Hydra's ``.hydra/`` (under any name) or ``checkpoints/`` (what
    lossbench-train writes before the record, which it writes as the job ends), so its job is
    still running or was stopped before it ended (killed, out of memory). Folders that hold
    none of them are not jobs' and are not counted; nor is any folder a job writes in its own
    (its loggers' ``logs/``, which hold a ``ModelCheckpoint``'s ``checkpoints/`` where it has
    no ``dirpath``, and the copies set aside, ``logs-earlier-v1/``, ``logs-max_epochs300/``:
    :data:`WRITTEN_FOLDERS`), whose folders are not walked, nor a folder inside a job's that
    holds ``checkpoints/`` alone (:func:`_only_checkpoints`: W&B's ``<project>/<version>/``); a
    ``metrics.json`` given itself, or a missing path, adds none.

        >>> import tempfile
        >>> study = Path(tempfile.mkdtemp())
        >>> for job in ("0_iris", "1_iris", "notes"):
        ...     (study / job).mkdir()
        >>> _ = (study / "0_iris" / "config.yaml").write_text("seed: 0")
        >>> _ = (study / "0_iris" / "metrics.json").write_text("{}")
        >>> (study / "1_iris" / ".hydra").mkdir()
        >>> [path.name for path in unfinished_jobs([study])]
        ['1_iris']
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir() or _written_by_job(path):
            continue
        inside: set[str] = set()  # the folders walked that lie inside a job's
        for folder, subfolders, files in _walk(path):
            nested, holds = folder in inside, _holds_job(folder, subfolders, files)
            started = _is_job_folder(folder, subfolders, files) and not (
                nested and _only_checkpoints(folder, subfolders, files)
            )
            if started and RECORD_NAME not in files:
                found.add(Path(folder).resolve())
            own = _own_folders(folder, subfolders) + (_written_folders(subfolders) if holds else [])
            subfolders[:] = [name for name in subfolders if name not in own]
            if nested or holds:
                inside.update(os.path.join(folder, name) for name in subfolders)
    return sorted(found)


def find_records(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Every ``metrics.json`` under ``paths`` (a run directory, a multirun or study folder, a
    parent of several, or a ``metrics.json`` itself), resolved, sorted, without duplicates.
    Symlinked directories are followed (a directory reached twice is read once).

    Raises:
        ReportError: A path does not exist, or no path holds any ``metrics.json``.
    """
    if not paths:
        raise ReportError("no paths given: pass run directories, e.g. outputs/multiruns/<time>.")
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise ReportError(
                f"{str(raw)!r} does not exist ({path.resolve()}). Pass a run directory, a "
                "multirun folder (outputs/multiruns/<time>) or a study folder "
                "(outputs/studies/<name>)."
            )
        if path.is_file():
            if path.name != RECORD_NAME:
                raise ReportError(
                    f"{str(raw)!r} is a file but not a {RECORD_NAME}; pass the run directory "
                    "that holds it, or the folder above."
                )
            found.add(path.resolve())
        else:
            found |= _records_under(path)
    if not found:
        listed = ", ".join(repr(str(p)) for p in paths)
        raise ReportError(
            f"no {RECORD_NAME} found under {listed}. Each run writes one into its directory; "
            "check the path (lossbench-train prints it), or train first."
        )
    return sorted(found)
