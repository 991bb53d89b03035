"""A run resumed from an earlier epoch of its own: the files its checkpoint callbacks wrote of
the epochs it trains again are set aside, as ``checkpoints/``'s best files are
(:func:`lossbench.record.set_aside_later_checkpoints`).

    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> set_aside_later_callback_checkpoints(run, [run / "ckpts", "/elsewhere"], 3, run / "x")
    []
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lossbench.checkpoint import CheckpointError, load_checkpoint
from lossbench.record import EARLIER_SUFFIX

__all__ = ["set_aside_later_callback_checkpoints"]


def set_aside_later_callback_checkpoints(
    run_dir: str | os.PathLike, folders: Iterable[str | os.PathLike], epoch: int, resumed: Path
) -> list[Path]:
    """Move the checkpoints of epochs after ``epoch`` from each of ``folders`` (those of the
    run's checkpoint callbacks: :func:`lossbench.instantiators.checkpoint_dirpaths`) that lies
    inside ``run_dir`` to ``<folder>-earlier/`` beside it, before the run resumes from
    ``resumed``, its checkpoint of ``epoch``; return where they went.

    As :func:`~lossbench.record.set_aside_later_checkpoints` does for ``checkpoints/``: a
    ``ModelCheckpoint``'s folder of a run resumed from an earlier epoch
    (``ckpt_path=<epoch-3 file>`` of a run that reached epoch 8) would keep the files of the
    epochs it trains again: its ``last.ckpt``, which ``ckpt_path=last`` would resume over the
    new epochs, and its top-k files, beside which it would write ``epoch=5-step=60-v1.ckpt``.
    A file's epoch is the one it stores (any ``filename``); one that cannot be read stays.
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
            try:
                stored = load_checkpoint(path).get("epoch")
            except CheckpointError:
                continue
            if not isinstance(stored, int) or stored <= epoch:
                continue
            aside = given.with_name(given.name + EARLIER_SUFFIX)
            aside.mkdir(exist_ok=True)
            moved.append(path.replace(aside / path.name))
    return moved
