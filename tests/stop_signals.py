"""What the tests that stop a command (Ctrl-C, SIGTERM) share: the two signals with the exit
status and words each ends a command with, the code a command's process runs to wait in one
step for the signal, and a check that a stopped command left no process behind."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from lossbench.interrupts import INTERRUPTED_EXIT, TERMINATED_EXIT

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
    """Whether every process of the group ``pgid`` (a command and its workers) has ended."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
