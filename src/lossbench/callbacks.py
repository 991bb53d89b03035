"""Lightning callbacks of lossbench runs.

>>> callback = BestAndLastCheckpoint(
...     dirpath="outputs/runs/<run>/checkpoints", filename="best-epoch{epoch:03d}",
...     monitor="val/nll", mode="min", auto_insert_metric_name=False)
>>> callback.save_last, callback.save_top_k
(True, 1)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint


class BestAndLastCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint(save_top_k=1)`` that also writes ``last.ckpt`` at the end of *every*
    training epoch, for an exact resume (``ckpt_path=last``).

    Lightning's own ``save_last=True`` rewrites ``last.ckpt`` only in epochs where it also saved
    a top-k checkpoint (``save_last="link"`` links it to the newest top-k file, possibly epochs
    old), so a killed run could resume from many epochs back. Here ``last.ckpt`` always holds the
    end of the newest epoch. In epochs where the best checkpoint was just written, ``last.ckpt``
    is a byte copy of it instead of a second serialisation of the same state (the copy's
    record of this callback's ``last_model_path`` is then that of the epoch before, which a
    resume does not use). ``save_last=False`` keeps the best checkpoint only.

    Its ``state_key`` is ``ModelCheckpoint``'s, so checkpoints written with a plain
    ``ModelCheckpoint`` of the same monitor resume with their best-checkpoint bookkeeping.
    """

    def __init__(self, *args: Any, save_last: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("save_top_k", 1)
        super().__init__(*args, save_last=bool(save_last), **kwargs)
        self._last_written_step: int | None = None

    @property
    def state_key(self) -> str:
        key = super().state_key
        return "ModelCheckpoint" + key.removeprefix(type(self).__qualname__)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_epoch_end(trainer, pl_module)  # the best checkpoint (and last if saved)
        if trainer.state.fn == "fit" and not trainer.sanity_checking and not trainer.fast_dev_run:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _save_last_checkpoint(self, trainer: Any, monitor_candidates: dict[str, Any]) -> None:
        if not self.save_last or self._last_written_step == trainer.global_step:
            return
        filepath = os.path.join(self.dirpath, self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION)
        self.last_model_path = filepath
        best = self.best_model_path
        if (
            best
            and self._last_global_step_saved == trainer.global_step
            and self._last_checkpoint_saved == best
        ):
            if trainer.is_global_zero:  # the state of this very step is already on disk
                partial = Path(filepath).with_suffix(".ckpt.partial")
                shutil.copyfile(best, partial)
                os.replace(partial, filepath)
            trainer.strategy.barrier()
        else:
            self._save_checkpoint(trainer, filepath)
        self._last_written_step = trainer.global_step
