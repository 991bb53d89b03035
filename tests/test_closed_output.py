"""A reader that closes the pipe before the command writes (``lossbench-train --help | head -1``,
``lossbench-train -sc install=bash | head -1``): the command ends quietly, exit status 0, rather
than with a ``BrokenPipeError`` traceback and exit status 1 (:mod:`lossbench.closed_output`).
What is written through logging (``--info``, a run's lines) is dropped as quietly, and a run
trains on to its end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_process import CONSOLE_FUNCTIONS, SRC


def run_into_closed_pipe(
    command: str, *args: str, module: str | None = None, cwd: Path | None = None
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
            cwd=cwd,
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


@pytest.mark.parametrize(
    "command",
    [("train", "--info"), ("train", "--info", "plugins"), ("eval", "--info", "config")],
    ids=lambda command: " ".join(command),
)
def test_what_hydra_logs_to_a_closed_pipe_is_dropped_quietly(command: tuple[str, ...]) -> None:
    """Hydra prints ``--info`` through logging, whose handler reported each line it could not
    write (``--- Logging error --- ... BrokenPipeError``, thousands of lines on stderr)."""
    result = run_into_closed_pipe(*command)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""


@pytest.mark.slow
def test_a_run_whose_reader_left_trains_on_and_completes(tmp_path: Path) -> None:
    """``lossbench-train data=iris | head -1``: the run's lines, its model summary and its
    progress bar go nowhere, and the run completes (its record said failed, BrokenPipeError,
    with tracebacks on stderr, and the command's exit status 0)."""
    run_dir = tmp_path / "run"
    result = run_into_closed_pipe(
        "train",
        "data=iris",
        "trainer.max_epochs=2",
        "logger=none",
        "early_stopping.enabled=true",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed", record.get("error")
    assert record["epochs"] == 2


def run_reader_leaving_after_first_line(
    command: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``lossbench-COMMAND ARGS | head -1``: the reader takes the command's first line, then
    closes the pipe while the command works on (a sweep's worker processes started since hold
    the pipe too)."""
    function = CONSOLE_FUNCTIONS[command]
    code = (
        f"import sys; from lossbench.commands import {function}; "
        f"sys.argv[0] = 'lossbench-{command}'; sys.exit({function}())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, first, stderr)


@pytest.mark.slow  # a sweep of two jobs in two worker processes
def test_a_sweep_whose_reader_left_trains_its_jobs_in_workers_quietly(tmp_path: Path) -> None:
    """``lossbench-train -m ... hydra/launcher=vectorized | head -1``: the worker processes
    log each job's line to the closed pipe too, which printed ``--- Logging error ---`` with a
    traceback for each."""
    sweep_dir = tmp_path / "study"
    result = run_reader_leaving_after_first_line(
        "train",
        "-m",
        "data=iris",
        "seed=0,1",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra/launcher=vectorized",
        "hydra.launcher.n_jobs=2",
        "hydra.launcher.max_group_size=1",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Logging error" not in result.stderr and "BrokenPipe" not in result.stderr
    records = [json.loads(p.read_text()) for p in sweep_dir.glob("*/metrics.json")]
    assert [r["status"] for r in records] == ["completed", "completed"], result.stderr[-2000:]
