"""Smoke test of scripts/benchmark.py: it runs end to end and writes a complete JSON report.

Speed is never asserted here: only that every cell was measured and every timing is positive.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = ("binary", "multilabel", "multiclass")
#: hand-written (default and fused Adam), lossbench with each checkpoint setting.
SIDES = (
    "reference",
    "reference_fused",
    "lossbench",
    "lossbench_at_end",
    "lossbench_no_files",
)
BATCH_SIZES = (128, 1024)


@pytest.mark.slow  # about 3 minutes: a benchmark, not a unit test
def test_quick_benchmark_writes_a_ratio_per_task_and_batch_size(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "benchmark.py"),
            "--quick",
            "--study",
            "sweep",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] or proc.stdout[-3000:]
    report = json.loads(out.read_text())

    cells = {(c["task"], c["batch_size"]): c for c in report["cells"]}
    assert set(cells) == {(t, b) for t in TASKS for b in BATCH_SIZES}
    for (task, batch_size), cell in cells.items():
        where = f"{task} batch {batch_size}"
        assert cell["ratio"]["median"] > 0, where
        assert cell["ratio"]["min"] <= cell["ratio"]["median"] <= cell["ratio"]["max"], where
        assert cell["wall_ratio"]["median"] > 0, where
        assert cell["fused_ratio"]["median"] > 0, where
        for key in ("at_end_ratio", "no_files_ratio", "no_files_fused_ratio"):
            assert cell[key]["min"] <= cell[key]["median"] <= cell[key]["max"], (where, key)
        for side in SIDES:
            timings = cell[side]
            assert timings["steps"] > 0, f"{where} {side}"
            assert all(s > 0 for s in timings["fit_seconds"]), f"{where} {side}"
            assert all(s > 0 for s in timings["wall_seconds"]), f"{where} {side}"
            assert timings["us_per_step"]["median"] > 0, f"{where} {side}"
            assert timings["peak_rss_mib"] > 0, f"{where} {side}"
        # The same data, weights, batches and optimizer: all sides train the same model.
        assert cell["max_abs_diff_val_nll"] < 1e-4, where

    assert report["environment"]["torch_num_threads"] == report["settings"]["threads"]
    startup = report["study"]["startup"]
    assert all(timing["median_seconds"] > 0 for timing in startup.values())
    studies = report["study"]["studies"]
    assert set(studies) == {"parallel", "sequential"}
    for study in studies.values():
        assert study["jobs"] == study["completed"] == 6 and study["seconds"] > 0
        assert study["peak_total_rss_mib"] >= study["peak_process_rss_mib"] > 0
    # Parallel: the parent and one worker per core (at most 8), each holding its own memory.
    assert studies["parallel"]["peak_total_rss_mib"] > studies["sequential"]["peak_process_rss_mib"]
