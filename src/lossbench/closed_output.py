"""A command whose reader leaves early: ``lossbench-train --help | head -1``,
``lossbench-train -sc install=bash | head -1``, ``lossbench-report DIR | head``.

Once the reader closes the pipe, the next write to standard output raises
``BrokenPipeError``: the command has nothing left to say to anyone, so it ends there, quietly
and with exit status 0, as it does when the reader takes everything (``head`` took what it
asked for). Standard output is pointed at ``os.devnull`` first, so that the interpreter's own
flush at exit does not fail on the closed pipe again ("Exception ignored ... BrokenPipeError",
exit status 120).

A command that works on after what it prints (lossbench-train, -eval, -predict: a run, a
sweep, ``--info``) does not end there: within :func:`output_dropped_when_closed`, standard
output drops what it is given once its reader has left, whoever writes it (``print``, the
logging handlers Hydra configures on ``sys.stdout``, Lightning's progress bar). The run trains
on and its record is completed; the command's exit status is the run's own, and nothing about
the closed pipe is printed on standard error (``--- Logging error --- ... BrokenPipeError``).

    >>> with output_closed_ends_quietly():
    ...     print("written")
    written
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO


def _stdout_to_devnull(stream: TextIO) -> None:
    """Point the file descriptor behind ``stream`` (standard output) at ``os.devnull``: what is
    still buffered, and each later write, goes nowhere without failing (the interpreter's
    flush at exit included), in this process and in those it starts from now on."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (a test's capture)
        pass


def reader_left() -> NoReturn:
    """End the command after a write to standard output found its pipe closed (exit status 0,
    nothing printed)."""
    _stdout_to_devnull(sys.stdout)
    sys.exit(0)


class DroppedWhenClosed:
    """Standard output (``stream``) that drops what it is given once its reader has closed the
    pipe, rather than raising ``BrokenPipeError`` to the writer; anything else is ``stream``'s.

        >>> import io
        >>> out = DroppedWhenClosed(io.StringIO())
        >>> out.write("shown"), out.getvalue()
        (5, 'shown')
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text``; dropped (its length returned, as written) where the reader left."""
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            _stdout_to_devnull(self.stream)
            return len(text)

    def writelines(self, lines: Any) -> None:
        """Write each of ``lines``, as :meth:`write` does."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush ``stream``; what it holds is dropped where the reader left."""
        try:
            self.stream.flush()
        except BrokenPipeError:
            _stdout_to_devnull(self.stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def drop_output_when_closed() -> None:
    """From now on in this process (a worker process of a sweep's launcher, which writes to the
    command's standard output too), ``sys.stdout`` is :class:`DroppedWhenClosed`: its job's
    lines are dropped, not a ``BrokenPipeError``, once the command's reader has left.

        >>> original = sys.stdout
        >>> drop_output_when_closed()
        >>> type(sys.stdout).__name__
        'DroppedWhenClosed'
        >>> sys.stdout = original
    """
    if not isinstance(sys.stdout, DroppedWhenClosed):
        sys.stdout = DroppedWhenClosed(sys.stdout)  # type: ignore[assignment]


@contextmanager
def output_dropped_when_closed() -> Iterator[None]:
    """Within this block, ``sys.stdout`` is :class:`DroppedWhenClosed`: a write that finds the
    pipe closed is dropped and the command goes on (a run trains on, its record is completed);
    the logging handlers configured within the block on ``sys.stdout`` (Hydra's
    ``ext://sys.stdout``) and Lightning's progress bar write through it too.

        >>> with output_dropped_when_closed():
        ...     type(sys.stdout).__name__
        'DroppedWhenClosed'
    """
    original = sys.stdout
    sys.stdout = DroppedWhenClosed(original)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = original


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
