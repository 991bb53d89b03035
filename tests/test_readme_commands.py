"""The README's example commands, run as a user would (slow: each is a real training run)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification

from cli_process import run_module

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
QUICK_START = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
COMMANDS = [
    line.split("#")[0].strip()
    for line in QUICK_START.splitlines()
    if line.startswith("lossbench-train ") and "--cfg" not in line
]


CONVENTIONS = README.split("## Callbacks, loggers, schedulers and debug runs", 1)[1].split(
    "\n## ", 1
)[0]
CONVENTION_COMMANDS = [
    line.split("  #")[0].strip()
    for line in CONVENTIONS.split("```bash", 1)[1].split("```", 1)[0].splitlines()
    if line.startswith("lossbench-train ")
]


def test_readme_lists_the_example_commands() -> None:
    assert len(COMMANDS) >= 5
    assert any(c.startswith("lossbench-train -m ") for c in COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: re.sub(r"\W+", "-", c[16:])[:60])
def test_readme_command_runs(tmp_path: Path, command: str) -> None:
    x, y = make_classification(n_samples=300, n_features=5, random_state=0)
    rows = np.column_stack([x, y])
    np.savetxt(tmp_path / "my.csv", rows, delimiter=",", header="a,b,c,d,e,y", comments="")
    species = np.array(["setosa", "virginica", "versicolor"])[np.arange(300) % 3]
    with (tmp_path / "my.csv").open() as f:
        lines = f.read().splitlines()
    if "species" in command:
        lines = [lines[0] + ",species"] + [
            f"{r},{s}" for r, s in zip(lines[1:], species, strict=True)
        ]
        (tmp_path / "my.csv").write_text("\n".join(lines) + "\n")
    tags = np.random.default_rng(0).integers(0, 2, size=(300, 3))
    header = "a,b,c,d,e,sports,politics,tech"
    np.savetxt(
        tmp_path / "tags.csv",
        np.column_stack([x, tags]),
        delimiter=",",
        header=header,
        comments="",
        fmt=["%.6f"] * 5 + ["%d"] * 3,
    )
    args = shlex.split(command)[1:]
    result = run_module("lossbench.train", *args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("metrics.json")]
    assert records and all(r["status"] == "completed" for r in records)
    if "-m" in args:
        assert len(records) == 6  # label_smoothing 0, 0.1 x seeds 0, 1, 2


@pytest.mark.slow
def test_default_setup_learns_breast_cancer(tmp_path: Path) -> None:
    result = run_module("lossbench.train", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "outputs").rglob("metrics.json")
    record = json.loads(path.read_text())
    assert record["test/accuracy"] > 0.93 and record["test/auroc"] > 0.97
    assert record["test/nll"] < 0.2


def test_readme_shows_the_conventions_commands() -> None:
    assert {c.split()[1].split("=")[0] for c in CONVENTION_COMMANDS} == {
        "debug",
        "scheduler",
        "callbacks",
        "logger",
        "+callbacks.timer._target_",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", CONVENTION_COMMANDS, ids=lambda c: re.sub(r"\W+", "-", c[16:])[:60]
)
def test_readme_conventions_command_runs(tmp_path: Path, command: str) -> None:
    if "logger=wandb" in command:
        pytest.importorskip("wandb")
    if "logger=many" in command:
        pytest.importorskip("tensorboard")
    args = shlex.split(command)[1:]
    result = run_module("lossbench.train", *args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "outputs").rglob("metrics.json")
    record = json.loads(path.read_text())
    assert record["status"] == "completed"
    if "scheduler=cosine" in command:
        rates = record["history"]["train/lr"]
        assert len(rates) == 5 and rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    if "debug=profiler" in command:
        assert (path.parent / "fit-profile.txt").is_file()
