"""A run resumed from an earlier epoch of its own: the files of the epochs it trains again are
set aside (:func:`set_aside_later_epochs`), from ``checkpoints/`` (its best files:
:func:`lossbench.record.later_best_checkpoints`, and its ``last.ckpt``:
:func:`later_last_checkpoint`) and from the folders of its checkpoint callbacks
(:func:`later_callback_checkpoints`), each to ``<folder>-earlier/`` beside its folder. Nothing
is overwritten, and the files of one resume share a number: where any of their names is taken
in its ``<folder>-earlier/``, every one of them gets ``-vN``, one ``N`` above every ``-vN``
already in those folders (:func:`lossbench.aside_names.move_aside_together`), so a higher
number is always a later set-aside. The set-aside returns where each file was and where it
went. A file's epoch is read without its tensors (:func:`stored_epoch`).

    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> later_callback_checkpoints(run, [run / "ckpts", "/elsewhere"], 3, run / "x")
    []
    >>> later_last_checkpoint(run, 3, run / "x") is None
    True
    >>> set_aside_later_epochs(run, [run / "ckpts"], 3, run / "x")
    []
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lossbench.aside_names import Moved, move_aside_together
from lossbench.checkpoint import CheckpointError, load_checkpoint
from lossbench.record import earlier_name, later_best_checkpoints

__all__ = [
    "later_callback_checkpoints",
    "later_last_checkpoint",
    "set_aside_later_epochs",
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


def later_last_checkpoint(run_dir: str | os.PathLike, epoch: int, resumed: Path) -> Path | None:
    """``<run_dir>/checkpoints/last.ckpt`` where it stores an epoch after ``epoch`` and the run
    resumes from ``resumed`` (another of its checkpoints, of ``epoch``): it is set aside to
    ``checkpoints-earlier/`` (:func:`set_aside_later_epochs`); None: it stays.

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
    return None if stored is None or stored <= epoch else last


def later_callback_checkpoints(
    run_dir: str | os.PathLike, folders: Iterable[str | os.PathLike], epoch: int, resumed: Path
) -> list[Path]:
    """The checkpoints of epochs after ``epoch`` in each of ``folders`` (those of the run's
    checkpoint callbacks: :func:`lossbench.instantiators.checkpoint_dirpaths`) that lies inside
    ``run_dir``, but ``resumed``, the run's checkpoint of ``epoch`` it resumes from: they are
    set aside to ``<folder>-earlier/`` beside it (:func:`set_aside_later_epochs`).

    As for ``checkpoints/``'s best files (:func:`~lossbench.record.later_best_checkpoints`): a
    ``ModelCheckpoint``'s folder of a run resumed from an earlier epoch
    (``ckpt_path=<epoch-3 file>`` of a run that reached epoch 8) would keep the files of the
    epochs it trains again: its ``last.ckpt``, which ``ckpt_path=last`` would resume over the
    new epochs, and its top-k files, beside which it would write ``epoch=5-step=60-v1.ckpt``.
    A file's epoch is the one it stores (any ``filename``: :func:`stored_epoch`); one that
    cannot be read stays.
    Left where they are: a folder outside ``run_dir`` (other runs' files may be there), the
    run's folder itself, and its ``checkpoints/`` (:func:`later_last_checkpoint`,
    :func:`~lossbench.record.later_best_checkpoints`).
    """
    inside = Path(run_dir).resolve()
    later = []
    for given in dict.fromkeys(Path(folder).resolve() for folder in folders):
        if not given.is_relative_to(inside) or given in (inside, inside / "checkpoints"):
            continue
        for path in sorted(given.glob("*.ckpt")):
            if not path.is_file() or path.resolve() == resumed.resolve():
                continue
            stored = stored_epoch(path)
            if stored is not None and stored > epoch:
                later.append(path)
    return later


def set_aside_later_epochs(
    run_dir: str | os.PathLike, folders: Iterable[str | os.PathLike], epoch: int, resumed: Path
) -> list[Moved]:
    """Move the checkpoints of epochs after ``epoch``, before the run in ``run_dir`` resumes
    from ``resumed``, its checkpoint of ``epoch``: ``checkpoints/``'s best files
    (:func:`~lossbench.record.later_best_checkpoints`) and ``last.ckpt``
    (:func:`later_last_checkpoint`) to ``checkpoints-earlier/``, and those of its checkpoint
    callbacks' ``folders`` inside ``run_dir`` (:func:`later_callback_checkpoints`) to
    ``<folder>-earlier/`` beside each; return where each was and where it went.

    They are one set-aside (:func:`~lossbench.aside_names.move_aside_together`): each keeps its
    name where none of their names is taken in its ``-earlier/`` folder; else every one of them,
    in every folder, gets the same ``-vN``, above every ``-vN`` already in those folders. Resumed
    from epoch 1 twice, each time after training on to epoch 2, the second resume's files are
    ``checkpoints-earlier/last-v1.ckpt``, ``checkpoints-earlier/best-epoch002-v1.ckpt`` and
    ``ckpts-earlier/last-v1.ckpt``; resumed once more after reaching epoch 3, all of its files,
    ``best-epoch003-v2.ckpt`` too, get ``-v2``.
    """
    later = later_best_checkpoints(run_dir, epoch)
    last = later_last_checkpoint(run_dir, epoch, resumed)
    later += [last] if last is not None else []
    later += later_callback_checkpoints(run_dir, folders, epoch, resumed)
    return move_aside_together(later, lambda path: earlier_name(path.parent))
