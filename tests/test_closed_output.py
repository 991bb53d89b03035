"""A reader that closes the pipe before the command writes (``lossbench-train --help | head -1``,
``lossbench-train -sc install=bash | head -1``): the command ends quietly, exit status 0, rather
than with a ``BrokenPipeError`` traceback and exit status 1 (:mod:`lossbench.closed_output`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_process import CONSOLE_FUNCTIONS, SRC


def run_into_closed_pipe(
    command: str, *args: str, module: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``lossbench-COMMAND ARGS`` as its console script runs it (or ``python -m MODULE ARGS``),
    its standard output a pipe whose reading end is closed before the command starts: its
    first write finds no reader, however short the output (a reader such as ``head -1`` may
    leave before the rest arrives)."""
    function = CONSOLE_FUNCTIONS[command]
    code = (
        f"import sys; from lossbench.commands import {function}; "
        f"sys.argv[0] = 'lossbench-{command}'; sys.exit({function}())"
    )
    entry = ["-m", module] if module else ["-c", code]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, *entry, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(SRC)},
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command",
    [
        ("train", "--help"),
        ("train", "-sc", "install=bash"),
        ("train", "-sc", "install=fish"),
        ("eval", "-sc", "install=bash"),
        ("predict", "-sc", "install=fish"),
        ("report", "--help"),
    ],
    ids=lambda command: " ".join(command),
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(command: tuple[str, ...]) -> None:
    result = run_into_closed_pipe(*command)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("command", "module"),
    [
        ("train", "lossbench.train"),
        ("eval", "lossbench.evaluate"),
        ("predict", "lossbench.predict"),
        ("report", "lossbench.report.cli"),
    ],
    ids=["train", "eval", "predict", "report"],
)
def test_python_m_runs_the_console_command(command: str, module: str) -> None:
    """``python -m lossbench.train`` (``lossbench.evaluate``, ...) is the same command as its
    console script, what it does on a closed pipe included (``--help`` ended with a
    ``BrokenPipeError`` traceback, exit status 1)."""
    result = run_into_closed_pipe(command, "--help", module=module)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
