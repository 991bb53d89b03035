"""What the tests that stop a command (Ctrl-C, SIGTERM) share: the two signals with the exit
status and words each ends a command with, the code a command's process runs to wait in one
step for the signal, a check that a stopped command left no process behind, and a fit that
Ctrl-C stops at an epoch's end."""

from __future__ import annotations

import os
import signal
import sys
import time

import lightning as L
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel

from lossbench.interrupts import INTERRUPTED_EXIT, TERMINATED_EXIT, fit_interrupts

posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Each stop: the signal, the command's exit status and the words of its line.
SIGNALS = pytest.mark.parametrize(
    ("signum", "status", "what"),
    [
        (signal.SIGINT, INTERRUPTED_EXIT, "interrupted (Ctrl-C)"),
        (signal.SIGTERM, TERMINATED_EXIT, "terminated (SIGTERM)"),
    ],
    ids=["ctrl-c", "sigterm"],
)

#: Code a command's process runs first (with MARK and GO set to paths): ``wait()`` writes the
#: file MARK and waits there until the file GO exists (or 30 s), so that a test patching one
#: step of the command to call it lands its signal in that step.
WAIT = """
import os, sys, time
def wait():
    open(MARK, "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.02)
"""


def group_gone(pgid: int, within_s: float = 10.0) -> bool:
    """Whether every process of the group ``pgid`` (a command and its workers) has ended: a
    process that has ended and waits for its parent to collect it (a zombie, where the
    workers' new parent, as init in some containers, collects none) counts as ended."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if not group_running(pgid):
            return True
        time.sleep(0.1)
    return False


def group_running(pgid: int) -> list[int]:
    """The processes of group ``pgid`` that run (not zombies), read from ``/proc`` (Linux);
    elsewhere the group's leader, where it runs (a zombie counts)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    running = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp, ...
            running.append(int(name))
    return running


class CtrlCAtEpoch(L.Callback):
    """Ctrl-C arriving during the fit (at the end of epoch ``epoch``)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


def fit_stopped_by_ctrl_c(*callbacks: L.Callback, epoch: int = 1, **settings) -> L.Trainer:
    """Fit Lightning's ``BoringModel`` (2 training batches an epoch, no validation) with
    ``callbacks`` until Ctrl-C stops it at the end of ``epoch``; check that
    :func:`lossbench.interrupts.fit_interrupts` raised the Ctrl-C again, and return the
    Trainer. ``settings``: more Trainer arguments."""
    trainer = L.Trainer(
        max_epochs=5, callbacks=[*callbacks, CtrlCAtEpoch(epoch)], logger=False,
        enable_checkpointing=False, enable_model_summary=False, limit_train_batches=2,
        limit_val_batches=0, **settings,
    )  # fmt: skip
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt), fit_interrupts(trainer):
            trainer.fit(BoringModel())
    finally:  # Lightning ignores further Ctrl-C while it shuts down
        signal.signal(signal.SIGINT, handler)
    return trainer
