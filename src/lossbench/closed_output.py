"""A command whose reader leaves early: ``lossbench-train --help | head -1``,
``lossbench-train -sc install=bash | head -1``, ``lossbench-report DIR | head``.

Once the reader closes the pipe, the next write to standard output raises
``BrokenPipeError``: the command has nothing left to say to anyone, so it ends there, quietly
and with exit status 0, as it does when the reader takes everything (``head`` took what it
asked for). Standard output is pointed at ``os.devnull`` first, so that the interpreter's own
flush at exit does not fail on the closed pipe again ("Exception ignored ... BrokenPipeError",
exit status 120).

    >>> with output_closed_ends_quietly():
    ...     print("written")
    written
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


def reader_left() -> NoReturn:
    """End the command after a write to standard output found its pipe closed (exit status 0,
    nothing printed)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (a test's capture)
        pass
    sys.exit(0)


@contextmanager
def output_closed_ends_quietly() -> Iterator[None]:
    """Within this block, a write to standard output that finds the pipe closed ends the command
    with :func:`reader_left`; so does the flush of what is still buffered when the block ends."""
    try:
        try:
            yield
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        reader_left()
