"""A refusal echoes a number the command line gave as it was typed (lossbench.typed_values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_process import run_console
from lossbench.typed_values import as_typed


def _refusal(cwd: Path, *arguments: str) -> str:
    """The one refusal line of ``lossbench-train ARGUMENTS`` (exit 2, no traceback)."""
    result = run_console("train", *arguments, "hydra.run.dir=run", cwd=cwd)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
    assert not (cwd / "run").exists()  # nothing written
    return lines[0]


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        pytest.param("optimizer.lr=-1.0", "optimizer.lr=-1.0 must be a positive number", id="-1.0"),
        pytest.param("optimizer.lr=-1", "optimizer.lr=-1 must be a positive number", id="-1"),
        pytest.param("optimizer.lr=-1e0", "optimizer.lr=-1e0 must be a positive number", id="-1e0"),
    ],
)
def test_a_refused_number_is_echoed_as_typed(tmp_path: Path, given: str, echoed: str) -> None:
    """``optimizer.lr=-1.0`` was refused as ``optimizer.lr=-1``: the float the config holds,
    written again, not what the command line says."""
    line = _refusal(tmp_path, given)
    assert f"lossbench: refused: {echoed}" in line, line


def test_the_numbers_of_a_message_are_the_overrides_text_only_where_they_are_its_value() -> None:
    message = "optimizer.lr=-1 must be a positive number, e.g. optimizer.lr=1e-3."
    assert as_typed(message, ["optimizer.lr=-1.0"]).startswith("optimizer.lr=-1.0 must")
    assert as_typed(message, ["optimizer.lr=-1"]) == message
    assert as_typed(message, ["optimizer.lr=-10.0"]) == message  # another value: left alone
    assert as_typed(message, ["-m", "optimizer.lr=-1.0,2"]) == message  # a sweep: no one text
    assert as_typed(message, ["myoptimizer.lr=-1.0"]) == message  # another key
    # the last override of a key is the one composed
    assert as_typed(message, ["optimizer.lr=-1.0", "optimizer.lr=-1"]) == message
    assert as_typed("seed=1.0", ["seed=true"]) == "seed=1.0"  # a boolean is no number
