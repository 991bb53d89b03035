"""Checkpoint files written by a background thread, in order: :class:`BackgroundCheckpointIO`.

    >>> import lightning as L
    >>> trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    >>> write_in_background(trainer)
    True
    >>> type(trainer.strategy.checkpoint_io).__name__
    'BackgroundCheckpointIO'

With ``checkpoint.write=every_epoch`` a run writes ``best-epochNNN.ckpt`` when the monitored
metric improves, removes the previous best, and replaces ``last.ckpt`` every epoch. For a small
model the file system's part of that takes longer than the serialisation: on ext4, replacing an
existing file by a rename (how ``last.ckpt`` is replaced atomically) makes the kernel allocate
and start writing the new file's blocks at once, a few milliseconds on a busy disk, and the
removal of the previous best as much again; at batch 1024 that was ~0.8 ms per optimizer step.

:class:`BackgroundCheckpointIO` is Lightning's ``TorchCheckpointIO`` (the same file format, read
by the same ``torch.load``) with the serialisation and the file operations moved to one worker
thread:

- in the caller's thread the checkpoint is only copied (:func:`snapshot`: tensors cloned,
  containers rebuilt, about 0.3 ms for a small model's checkpoint), so the file holds the state
  of the moment Lightning asked for it, whatever training changes next (in-place optimizer
  steps included);
- serialising that copy (``torch.save``, about 1.5 ms: pickling the checkpoint's few hundred
  objects), writing the bytes (to ``<file>.partial``, then renamed into place), removing a file
  and copying one (:func:`copy_checkpoint`, ``last.ckpt`` as a byte copy of the best file) run
  on the worker, one after another, in the order asked. Each file operation is atomic, so a run
  killed at any moment leaves complete files: at worst ``last.ckpt`` of the epoch before, which
  resumes as exactly as any epoch end does;
- reading a checkpoint, and the Trainer's teardown (the end of every ``fit``, also after an
  exception), first wait for the pending writes; an error of the worker is raised there, or
  at the next request;
- a Ctrl-C (or SIGTERM) may stop the training thread at any moment, in a request too, and
  Lightning's graceful shutdown then waits for the worker: the training thread never holds
  a lock the worker needs. It hands requests over on a ``queue.SimpleQueue`` (whose ``put``
  is one call in C), waits on a plain lock that the worker releases, and starts the worker
  with the stop signals held (:func:`lossbench.interrupts.stops_held`). A
  ``ThreadPoolExecutor`` took the lock of a ``threading.Condition`` in the training thread
  with each request (its idle-worker semaphore's): a Ctrl-C raised as that call returned,
  before the ``with`` block that releases it began, left it taken for good, the worker
  waited for it after its next operation and the teardown for the worker, and a study
  stopped by Ctrl-C did not end; raised as the lock was released for a wait, it was released
  again, a ``RuntimeError`` in place of the Ctrl-C.

Lightning's own ``AsyncCheckpointIO`` also saves in a thread, but copies the tensors with
``apply_to_collection`` (about four times :func:`snapshot`'s time) and leaves the other
mutable values shared with training, and removes files synchronously, out of order with its
pending saves. Paths that are not local files (``s3://...``) are written synchronously by
``TorchCheckpointIO``.
"""

from __future__ import annotations

import copy
import io
import os
import queue
import shutil
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io import CheckpointIO, TorchCheckpointIO

from lossbench.interrupts import stops_held

__all__ = ["BackgroundCheckpointIO", "copy_checkpoint", "snapshot", "write_in_background"]

PARTIAL = ".partial"
#: The interpreter's thread switch interval (seconds) while the worker writes: how long the
#: training thread waits at most for the GIL the worker holds (Python's default is 0.005).
WORKER_SWITCH_INTERVAL = 0.0002

#: Leaves a snapshot shares with the original: immutable.
_IMMUTABLE = (str, int, float, bool, type(None), bytes)


def snapshot(obj: Any) -> Any:
    """A copy of a checkpoint dictionary that later training cannot change: tensors cloned,
    dicts, lists and tuples rebuilt, immutable leaves shared, anything else deep-copied.

        >>> state = {"w": torch.zeros(2), "epoch": 3}
        >>> copied = snapshot(state)
        >>> _ = state["w"].add_(1)
        >>> copied["w"].tolist(), copied["epoch"]
        ([0.0, 0.0], 3)

    What ``apply_to_collection(checkpoint, Tensor, clone)`` does for the tensors, in a quarter of
    the time (it tests every node for dataclasses and named tuples; Lightning's checkpoints
    have ~300 nodes), and the mutable non-tensor leaves are copied too.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    kind = type(obj)
    if kind is dict or kind is OrderedDict:
        return kind((key, snapshot(value)) for key, value in obj.items())
    if kind is list:
        return [snapshot(value) for value in obj]
    if kind is tuple:
        return tuple(snapshot(value) for value in obj)
    if kind in _IMMUTABLE:
        return obj
    return copy.deepcopy(obj)


_switch_lock = threading.Lock()
_switch_users = 0
_switch_before = 0.0


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """The interpreter's thread switch interval at :data:`WORKER_SWITCH_INTERVAL` while any
    worker writes, as it was before once none does.

    ``torch.save`` holds the GIL for about 1 ms of Python (its ``persistent_id`` for each of a
    checkpoint's ~1000 objects): with Python's 5 ms switch interval the training thread,
    wanting the GIL back after an op, waited out most of that every epoch. A short interval
    interleaves the two. Counted, so that workers of several trainers at once restore the
    interval of before the first, not each other's.
    """
    global _switch_users, _switch_before
    with _switch_lock:
        if _switch_users == 0:
            _switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_before, WORKER_SWITCH_INTERVAL))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_before)


def _replace_with_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a ``.partial`` file renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL)
    with partial.open("wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def _serialize_and_replace(path: Path, checkpoint: dict[str, Any]) -> None:
    """``torch.save`` ``checkpoint`` (a :func:`snapshot`) and write it to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    _replace_with_bytes(path, buffer.getvalue())


def _replace_with_copy(source: Path, target: Path) -> None:
    """Make ``target`` a byte copy of ``source`` atomically."""
    partial = target.with_name(target.name + PARTIAL)
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _local(path: Any) -> bool:
    """Whether ``path`` is a plain local path (a URL such as ``s3://...`` or ``file://...`` is
    left to fsspec, through ``TorchCheckpointIO``)."""
    return "://" not in str(path)


#: A plain lock's type: a request that :meth:`BackgroundCheckpointIO.wait` hands the worker, which
#: releases it once every earlier request is done.
_LOCK = type(threading.Lock())


def _work(requests: queue.SimpleQueue[Any], errors: list[BaseException], lock: Any) -> None:
    """The worker thread: run each request (``(operation, args)``) in order, keeping the first
    error in ``errors`` (under ``lock``); release a lock handed over (a wait); end at None."""
    while True:
        request = requests.get()
        if request is None:
            return
        if isinstance(request, _LOCK):
            request.release()
            continue
        operation, args = request
        try:
            with _short_switch_interval():
                operation(*args)
        except BaseException as error:  # raised in the training thread, at the next call
            with lock:
                if not errors:
                    errors.append(error)


class BackgroundCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose file writes, copies and removals run on one worker thread,
    in order (see the module's docstring). Install it with :func:`write_in_background`."""

    def __init__(self) -> None:
        super().__init__()
        self._requests: queue.SimpleQueue[Any] | None = None
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the worker
    def _submit(self, operation: Callable[..., None], *args: Any) -> None:
        self._raise_error()
        requests = self._requests if self._requests is not None else self._start()
        requests.put((operation, args))

    def _start(self) -> queue.SimpleQueue[Any]:
        """Start the worker (a daemon thread: Lightning's teardown waits for it, the process's
        exit does not), and end it once this object is collected without a teardown."""
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        thread = threading.Thread(
            target=_work,
            args=(requests, self._errors, self._lock),
            name="lossbench-ckpt",
            daemon=True,
        )
        # Thread.start waits for the thread on a threading.Event: a Ctrl-C raised there could
        # leave its lock taken, and the thread would wait for it before its first request
        with stops_held():
            thread.start()
            self._requests, self._thread = requests, thread
            weakref.finalize(self, requests.put, None)
        return requests

    def _raise_error(self) -> None:
        with self._lock:
            error = self._errors[0] if self._errors else None
            self._errors.clear()
        if error is not None:
            raise error

    def wait(self) -> None:
        """Return once every requested write, copy and removal is done (raising its error)."""
        if self._requests is not None:
            done = threading.Lock()
            done.acquire()
            self._requests.put(done)
            done.acquire()  # the worker releases it after the requests before it
        self._raise_error()

    # ------------------------------------------------------------------ CheckpointIO
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _local(path):
            self.wait()
            super().save_checkpoint(checkpoint, path, storage_options=storage_options)
            return
        # The state of now, before training moves on: a snapshot (tensors cloned, ~0.3 ms for
        # a small model) that the worker serialises (torch.save, ~1.5 ms) and writes.
        self._submit(_serialize_and_replace, Path(path), snapshot(checkpoint))

    def remove_checkpoint(self, path: Any) -> None:
        if not _local(path):
            self.wait()
            super().remove_checkpoint(path)
            return
        self._submit(_remove, Path(path))

    def copy_checkpoint(self, source: Any, target: Any) -> None:
        """Make ``target`` a byte copy of ``source`` once ``source`` is written."""
        self._submit(_replace_with_copy, Path(source), Path(target))

    def load_checkpoint(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.wait()
        return super().load_checkpoint(*args, **kwargs)

    def teardown(self) -> None:
        """Wait for the pending operations and stop the worker (Lightning calls this at the
        end of every fit, validate and test, and after an exception)."""
        requests, thread = self._requests, self._thread
        if requests is not None and thread is not None:
            requests.put(None)  # after the pending requests: the worker ends once they are done
            self._requests, self._thread = None, None
            thread.join()
        self._raise_error()


def write_in_background(trainer: Any) -> bool:
    """Give ``trainer`` a :class:`BackgroundCheckpointIO` where it would write with Lightning's
    plain ``TorchCheckpointIO`` in a single process; return whether it did. A checkpoint IO of
    the user's (``trainer.plugins``) or a strategy's own, and runs of several processes (whose
    other ranks may read the files rank 0 writes), are left as they are."""
    strategy = trainer.strategy
    if trainer.world_size != 1 or type(strategy.checkpoint_io) is not TorchCheckpointIO:
        return False
    strategy.checkpoint_io = BackgroundCheckpointIO()
    return True


def copy_checkpoint(checkpoint_io: CheckpointIO, source: str, target: str) -> None:
    """Make ``target`` a byte copy of the checkpoint file ``source``, atomically: on
    ``checkpoint_io``'s worker after ``source`` is written when it is a
    :class:`BackgroundCheckpointIO`, else at once."""
    if isinstance(checkpoint_io, BackgroundCheckpointIO):
        checkpoint_io.copy_checkpoint(source, target)
    else:
        _replace_with_copy(Path(source), Path(target))
