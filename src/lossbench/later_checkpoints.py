"""A run resumed from an earlier epoch of its own: the files of the epochs it trains again are
set aside, from the folders of its checkpoint callbacks
(:func:`set_aside_later_callback_checkpoints`) and its own ``checkpoints/last.ckpt``
(:func:`set_aside_later_last_checkpoint`), as ``checkpoints/``'s best files are
(:func:`lossbench.record.set_aside_later_checkpoints`). Nothing is overwritten: a file whose
name is taken in ``<folder>-earlier/`` gets Lightning's ``-v1``, ``-v2``, ...
(:func:`lossbench.aside_names.move_aside`); each set-aside returns where each file was and where
it went.
A file's epoch is read without its tensors (:func:`stored_epoch`).

    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> set_aside_later_callback_checkpoints(run, [run / "ckpts", "/elsewhere"], 3, run / "x")
    []
    >>> set_aside_later_last_checkpoint(run, 3, run / "x") is None
    True
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lossbench.aside_names import Moved, move_aside
from lossbench.checkpoint import CheckpointError, load_checkpoint
from lossbench.record import EARLIER_CHECKPOINTS, EARLIER_SUFFIX

__all__ = [
    "set_aside_later_callback_checkpoints",
    "set_aside_later_last_checkpoint",
    "stored_epoch",
]


def stored_epoch(path: str | os.PathLike) -> int | None:
    """The epoch the checkpoint ``path`` stores, or None where it stores none or cannot be read.
    Its tensors are mapped, not read (``load_checkpoint(mmap=True)``): a folder of large top-k
    files is read in milliseconds, whatever the model's size."""
    try:
        stored = load_checkpoint(path, mmap=True).get("epoch")
    except CheckpointError:
        return None
    return stored if isinstance(stored, int) else None


def set_aside_later_last_checkpoint(
    run_dir: str | os.PathLike, epoch: int, resumed: Path
) -> Moved | None:
    """Move ``<run_dir>/checkpoints/last.ckpt`` to ``checkpoints-earlier/`` where it stores an
    epoch after ``epoch``, before the run resumes from ``resumed`` (another of its checkpoints,
    of ``epoch``); return where it was and where it went (None: it stays).

    A run that reached epoch 9 and is resumed from its ``best-epoch003.ckpt`` rewrites
    ``last.ckpt`` only at the end of its first epoch: killed before, it would leave the epoch-9
    file, and ``ckpt_path=last`` would continue the timeline it left instead of the new one.
    With the file set aside, ``ckpt_path=last`` takes the new ``last.ckpt`` once one is written,
    and before that says that there is none (naming the best checkpoint to resume instead).
    """
    last = Path(run_dir) / "checkpoints" / "last.ckpt"
    if not last.is_file() or last.resolve() == resumed.resolve():
        return None
    stored = stored_epoch(last)
    if stored is None or stored <= epoch:
        return None
    return move_aside(last, Path(run_dir) / EARLIER_CHECKPOINTS)


def set_aside_later_callback_checkpoints(
    run_dir: str | os.PathLike, folders: Iterable[str | os.PathLike], epoch: int, resumed: Path
) -> list[Moved]:
    """Move the checkpoints of epochs after ``epoch`` from each of ``folders`` (those of the
    run's checkpoint callbacks: :func:`lossbench.instantiators.checkpoint_dirpaths`) that lies
    inside ``run_dir`` to ``<folder>-earlier/`` beside it, before the run resumes from
    ``resumed``, its checkpoint of ``epoch``; return where each was and where it went.

    As :func:`~lossbench.record.set_aside_later_checkpoints` does for ``checkpoints/``: a
    ``ModelCheckpoint``'s folder of a run resumed from an earlier epoch
    (``ckpt_path=<epoch-3 file>`` of a run that reached epoch 8) would keep the files of the
    epochs it trains again: its ``last.ckpt``, which ``ckpt_path=last`` would resume over the
    new epochs, and its top-k files, beside which it would write ``epoch=5-step=60-v1.ckpt``.
    A file's epoch is the one it stores (any ``filename``: :func:`stored_epoch`); one that
    cannot be read stays.
    Left where they are: a folder outside ``run_dir`` (other runs' files may be there), the
    run's folder itself, and its ``checkpoints/``
    (:func:`~lossbench.record.set_aside_later_checkpoints`).
    """
    inside = Path(run_dir).resolve()
    moved = []
    for given in dict.fromkeys(Path(folder).resolve() for folder in folders):
        if not given.is_relative_to(inside) or given in (inside, inside / "checkpoints"):
            continue
        for path in sorted(given.glob("*.ckpt")):
            if not path.is_file() or path.resolve() == resumed.resolve():
                continue
            stored = stored_epoch(path)
            if stored is None or stored <= epoch:
                continue
            moved.append(move_aside(path, given.with_name(given.name + EARLIER_SUFFIX)))
    return moved
