"""A run whose Hydra files go to another folder (``hydra.output_subdir=meta``) is read as one
with ``.hydra/``: lossbench-report counts no job in that folder, and lossbench-eval and the
report's yardstick read a relative ``data.path`` from the folder the run was started from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_process import run_console

TINY = ("trainer.max_epochs=1", "trainer.enable_progress_bar=false", "logger=none")
ENV = {"OMP_NUM_THREADS": "1"}


def _csv(path: Path) -> None:
    """60 rows of 2 features and a binary label ``y``."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 2)).round(3)
    rows = [f"{a},{b},{int(a > 0)}" for a, b in features]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")


@pytest.mark.slow  # about 20 s: a run, its report and its evaluation, each a process
def test_a_run_with_its_hydra_files_in_another_folder_is_reported_and_evaluated(tmp_path):
    started, elsewhere, run = tmp_path / "started", tmp_path / "elsewhere", tmp_path / "run"
    started.mkdir()
    elsewhere.mkdir()
    _csv(started / "rel.csv")
    trained = run_console(
        "train", "data=csv", "data.path=rel.csv", "data.label_columns=[y]",
        "data.task=binary", *TINY, "hydra.output_subdir=meta", f"hydra.run.dir={run}",
        cwd=started, extra_env=ENV,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (run / "meta" / "hydra.yaml").is_file() and not (run / ".hydra").exists()

    report = run_console("report", str(run), "--out", str(tmp_path / "report"), cwd=elsewhere)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "hold no metrics.json" not in report.stderr, report.stderr
    assert "holds no metrics.json" not in report.stderr, report.stderr
    assert "No yardstick" not in (tmp_path / "report" / "report.md").read_text()

    evaluated = run_console(
        "eval", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", cwd=elsewhere, extra_env=ENV
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((run / "eval.json").read_text())["split"] == "test"
