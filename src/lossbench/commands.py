"""The console commands (``[project.scripts]`` in ``pyproject.toml``).

Each command's module loads what its command line needs (Hydra and OmegaConf; the report's
none), a fraction of a second: torch, Lightning, torchmetrics, pandas and SciPy come where its
work starts, so that ``--help`` and a refused command line answer at once. The entry points
here import it inside the same Ctrl-C handling as the command itself, so that a Ctrl-C (or
SIGTERM) at any moment ends it the same way: one line, exit status 130 (143), no traceback
(:mod:`lossbench.interrupts`); and with garbage collection paused (:mod:`lossbench.importing`).
A reader that closes the pipe early (``lossbench-train --help | head -1``) ends the command
quietly, exit status 0 (:mod:`lossbench.closed_output`); lossbench-train, -eval and -predict
go on without their standard output instead (``lossbench-train data=iris | head -1`` trains
on: the run completes and its exit status is its own), and print nothing about it.
Each runs as a console command (:func:`lossbench.importing.console_command`): its imports are
frozen rather than collected (0.38 s), and it ends with its objects frozen, so that Python's
exit does not walk them all again (1.3-1.9 s).

    lossbench-train   -> lossbench.commands:train   -> lossbench.train.main
    lossbench-report  -> lossbench.commands:report  -> lossbench.report.cli.main
    lossbench-eval    -> lossbench.commands:evaluate -> lossbench.evaluate.main
    lossbench-predict -> lossbench.commands:predict -> lossbench.predict.main

    >>> COMMANDS["lossbench-eval"]
    'lossbench.evaluate'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lossbench.closed_output import output_closed_ends_quietly, output_dropped_when_closed
from lossbench.importing import collection_paused, console_command
from lossbench.interrupts import (
    STARTING_KEPT,
    command_stops,
    stopped,
    terminated_as_interrupt,
)

#: Each console command and the module whose ``main`` it runs.
COMMANDS = {
    "lossbench-train": "lossbench.train",
    "lossbench-report": "lossbench.report.cli",
    "lossbench-eval": "lossbench.evaluate",
    "lossbench-predict": "lossbench.predict",
}


def _main(command: str) -> Callable[[], Any]:
    """The ``main`` of ``command``'s module, imported; a Ctrl-C or SIGTERM meanwhile ends the
    command (nothing has started yet)."""
    try:
        with terminated_as_interrupt(), collection_paused():
            return importlib.import_module(COMMANDS[command]).main
    except KeyboardInterrupt as interrupt:
        stopped(interrupt, STARTING_KEPT)


def train() -> None:
    """``lossbench-train``: SIGTERM stops it as Ctrl-C does at any moment, its checks of the
    command line and its exit included (:func:`lossbench.interrupts.command_stops`)."""
    with (
        console_command(),
        output_closed_ends_quietly(),
        output_dropped_when_closed(),
        command_stops(),
    ):
        _main("lossbench-train")()


def report() -> int:
    """``lossbench-report`` (its exit status)."""
    with console_command(), output_closed_ends_quietly():
        return _main("lossbench-report")()


def evaluate() -> None:
    """``lossbench-eval``."""
    with console_command(), output_closed_ends_quietly(), output_dropped_when_closed():
        _main("lossbench-eval")()


def predict() -> None:
    """``lossbench-predict``."""
    with console_command(), output_closed_ends_quietly(), output_dropped_when_closed():
        _main("lossbench-predict")()
