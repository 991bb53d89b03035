"""Find the run records (``metrics.json``) under any set of paths.

    >>> find_records(["outputs/multiruns/2026-01-01_12-00-00"])  # doctest: +SKIP
    [PosixPath('.../0_wine_logits_cross_entropy/metrics.json'), ...]

Kept free of heavy imports, so the command line refuses a wrong path at once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from lossbench.report.errors import ReportError

RECORD_NAME = "metrics.json"


def _records_under(root: Path) -> set[Path]:
    """Every ``metrics.json`` below ``root``, through symlinked directories too (which
    ``Path.rglob`` does not follow); a directory reached again, through a link to it or to a
    folder above it, is not read again, so a link loop ends."""
    found: set[Path] = set()
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
        record = Path(folder, RECORD_NAME)
        if RECORD_NAME in files and record.is_file():
            found.add(record.resolve())
    return found


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
