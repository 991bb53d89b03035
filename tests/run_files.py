"""What tests read back from the files a run or a command left: every file below a folder, to
check that nothing changed, and the epoch of a run's ``last.ckpt``, which a test polls while
the run writes it."""

from __future__ import annotations

from pathlib import Path

from lossbench.checkpoint import load_checkpoint


def files_below(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included), as bytes, by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def epoch_of(last: Path) -> int:
    """The epoch of last.ckpt, or -1 while it does not exist or is being written (lossbench's
    ``CheckpointError``, a ``ValueError``) or holds no epoch yet."""
    try:
        return int(load_checkpoint(last)["epoch"])
    except (ValueError, KeyError):
        return -1
