"""scripts/benchmark.py (the ``bench`` package in scripts/bench/): its documented flags parse,
its cells are valid lossbench configs, and (slow) it runs end to end and writes a complete JSON
report.

Speed is never asserted here: only that every cell was measured and every timing is positive.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from job_configs import job_config
from lossbench.allocator import _glibc
from lossbench.validation import validate

REPO = Path(__file__).resolve().parents[1]
ENTRY = REPO / "scripts" / "benchmark.py"
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


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """The ``bench`` package, imported as ``scripts/benchmark.py`` imports it."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import bench.cli
        import bench.settings

        yield bench
    finally:
        sys.path.remove(str(REPO / "scripts"))


def test_the_documented_commands_parse(bench: ModuleType) -> None:
    usage = [
        shlex.split(line.split("#")[0])[2:]
        for line in ENTRY.read_text().split('"""')[1].splitlines()
        if "scripts/benchmark.py" in line
    ]
    assert len(usage) == 10
    parsed = [bench.cli.parse_args(argv) for argv in usage]
    assert parsed[0].study == "standard" and parsed[0].repeats is None
    assert parsed[1].repeats == 9 and parsed[1].json == Path("bench.json")
    assert parsed[2].quick and parsed[3].study == "sweep"
    assert parsed[4].profile == Path("a.prof") and parsed[5].override == ["optimizer.lr=1e-2"]
    assert parsed[6].fresh and not parsed[0].fresh
    assert parsed[7].fresh and parsed[7].fresh_also == ["checkpoint.write=never"]
    assert parsed[8].fresh_parts and not parsed[6].fresh_parts and not parsed[6].fresh_also
    assert parsed[9].alternate and parsed[9].fresh_also == ["checkpoint.write=never"]
    assert not parsed[9].fresh and not parsed[6].alternate


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--fresh-also", "checkpoint.write=never"], "neither of which was given"),
        (["--fresh", "--alternate"], "give one of them"),
        (["--fresh", "--hand-checkpoints"], "adds a side to --alternate"),
    ],
)
def test_a_side_without_its_comparison_is_refused_before_any_run(
    bench: ModuleType, argv: list[str], words: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        bench.cli.main(argv)
    assert words in str(stop.value)


def test_alternate_times_the_sides_in_turns_in_one_process(bench: ModuleType) -> None:
    """--alternate: each side's fit in turns (hand-written, lossbench's single run with its
    defaults, and a --fresh-also side), the same optimizer steps and nearly the same test loss
    on every side; ratios to the hand-written fit of the same turn."""
    import bench.alternate

    settings = bench.settings.Settings(
        n_samples=300, epochs=2, repeats=2, batch_sizes=(64,), threads=1, quick=True,
        tracemalloc=False, study="none",
    )  # fmt: skip
    cfg = bench.alternate.side_config("lossbench checkpoint.write=never", 64, settings)
    assert cfg.checkpoint.write == "never" and cfg.data.batch_size == 64
    assert bench.alternate.side_config("lossbench", 64, settings).checkpoint.write == "every_epoch"
    cell = bench.alternate.bench_alternate_cell(64, settings, ("checkpoint.write=never",))
    assert cell["steps"] == 2 * -(-180 // 64)  # 2 epochs of 180 training rows (60 % of 300)
    assert cell["max_abs_diff_test_nll"] < 1e-3
    for side in ("hand", "lossbench", "lossbench checkpoint.write=never"):
        per_step, ratio = cell[side]["fit_us_per_step"], cell[side]["fit_ratio"]
        assert 0 < per_step["min"] <= per_step["median"] <= per_step["max"], side
        assert len(ratio["per_turn"]) == 2 and ratio["median"] > 0, side
    assert cell["hand"]["fit_ratio"]["per_turn"] == [1.0, 1.0]


def test_the_hand_written_loop_with_checkpoints_writes_what_resuming_needs(
    bench: ModuleType, tmp_path
) -> None:
    """--hand-checkpoints: the loop writes last.pt every epoch (weights, optimizer state,
    epoch) and best.pt when the validation loss improved, and trains exactly as without."""
    import torch

    import bench.alternate
    import bench.reference

    settings = bench.settings.Settings(
        n_samples=300, epochs=3, repeats=1, batch_sizes=(64,), threads=1, quick=True,
        tracemalloc=False, study="none",
    )  # fmt: skip
    cfg = bench.alternate.side_config(bench.alternate.HAND_CHECKPOINTS, 64, settings)
    plain = bench.reference.run_reference(cfg)
    saved = bench.reference.run_reference(cfg, checkpoint_dir=tmp_path)
    assert saved["test/nll"] == plain["test/nll"] and saved["steps"] == plain["steps"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    last = torch.load(tmp_path / "last.pt", weights_only=False)
    assert last["epoch"] == 2 and last["history"]["val/nll"] == saved["val_nll_history"]
    assert len(last["optimizer"]["state"]) == len(last["model"])  # Adam's moments, each tensor
    best = torch.load(tmp_path / "best.pt", weights_only=False)
    assert best["best_nll"] == min(saved["val_nll_history"])
    assert best["epoch"] == saved["val_nll_history"].index(best["best_nll"])
    sides = bench.alternate.alternate_sides(("checkpoint.write=never",), hand_checkpoints=True)
    assert sides[:3] == ("hand", "hand checkpoints", "lossbench")


@pytest.mark.slow
def test_fresh_parts_times_each_part_of_a_default_run(bench: ModuleType, tmp_path) -> None:
    """--fresh-parts: a fresh process times the parts of a default run's fit; the epoch runner
    passes nothing through ``self.log`` and its loggers save once per epoch (and at the end)."""
    import bench.fresh_parts

    settings = bench.settings.Settings(
        n_samples=400, epochs=3, repeats=1, batch_sizes=(64,), threads=1, quick=True,
        tracemalloc=False, study="none",
    )  # fmt: skip
    (runs,) = bench.fresh_parts.bench_fresh_parts(settings).values()
    (parts,) = runs
    assert parts["epochs"] == 3 and parts["fit / steps"] > 1
    assert all(parts[f"{label} / epoch"] > 0 for label in bench.fresh_parts.EPOCH_PARTS)
    assert parts["self.log / fit"] == 0 and parts["checkpoint dumps / fit"] > 0


def test_fresh_runs_compose_the_defaults_a_user_gets(bench: ModuleType) -> None:
    """--fresh: lossbench-train's command line sets only data, model, epochs and batch size, so
    the run keeps its defaults; the hand-written process composes the same config."""
    import bench.fresh

    settings = bench.settings.Settings(
        n_samples=300, epochs=2, repeats=1, batch_sizes=(64,), threads=1, quick=True,
        tracemalloc=False, study="none",
    )  # fmt: skip
    args = bench.fresh.overrides(64, settings)
    command = bench.fresh.lossbench_command(args, Path("/tmp/run"))
    assert Path(command[0]).name == "lossbench-train" or command[1:3] == ["-m", "lossbench.train"]
    assert command[-1] == "hydra.run.dir=/tmp/run"
    kept = ("checkpoint.", "logger", "trainer.enable", "callbacks", "runner")
    assert not any(a.startswith(kept) for a in args)
    cfg = job_config(*args, fast=False)
    assert validate(cfg) == "binary"
    assert (cfg.data.name, cfg.data.n_samples, cfg.data.batch_size) == ("synthetic_binary", 300, 64)
    assert list(cfg.model.hidden_sizes) == [64, 64] and cfg.trainer.max_epochs == 2
    assert cfg.checkpoint.write == "every_epoch" and cfg.runner == "auto"
    assert "csv" in cfg.logger and cfg.trainer.get("enable_progress_bar") is None


def test_every_cell_is_a_valid_config_with_the_cell_settings(bench: ModuleType) -> None:
    settings = bench.settings.Settings(
        n_samples=300, epochs=2, repeats=1, batch_sizes=(64,), threads=1, quick=True,
        tracemalloc=False, study="none", overrides=("optimizer.lr=1e-2",),
    )  # fmt: skip
    tasks, sides = bench.settings.TASKS, bench.settings.LOSSBENCH_SIDES
    assert len(tasks) == len(sides) == 3
    # each task with one of lossbench's sides: every task and every side composed once
    written = {
        "lossbench": "every_epoch",
        "lossbench_at_end": "at_end",
        "lossbench_no_files": "never",
    }
    for (task, (data, head, loss)), (side, extra) in zip(tasks.items(), sides.items(), strict=True):
        cfg = bench.settings.compose_cfg(task, 64, settings, extra=extra)
        assert validate(cfg) == task, (task, side)
        assert (cfg.data.name, cfg.head.name, cfg.loss.name) == (data, head, loss)
        assert (cfg.data.n_samples, cfg.data.batch_size) == (300, 64)
        assert cfg.trainer.max_epochs == 2 and cfg.optimizer.lr == 1e-2
        assert cfg.checkpoint.write == written[side]


@pytest.mark.slow  # about 3 minutes on 2 idle cores (a benchmark, not a unit test)
def test_quick_benchmark_writes_a_ratio_per_task_and_batch_size(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ENTRY),
            "--quick",
            "--study",
            "sweep",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,  # a busy machine can triple it
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


@pytest.mark.slow  # about 2 minutes on 2 idle cores: 12 fresh processes
def test_fresh_benchmark_times_a_user_started_run_against_the_hand_written_process(tmp_path):
    out = tmp_path / "fresh.json"
    proc = subprocess.run(
        [
            *(sys.executable, str(ENTRY), "--fresh", "--quick", "--json", str(out)),
            *("--fresh-also", "checkpoint.write=never"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] or proc.stdout[-3000:]
    assert "fresh `lossbench-train` process with its defaults" in proc.stdout
    report = json.loads(out.read_text())
    cells = {c["batch_size"]: c for c in report["fresh"]}
    assert set(cells) == set(BATCH_SIZES)
    for batch_size, cell in cells.items():
        # 2 epochs of 1 200 training rows (60 % of 2 000)
        assert cell["steps"] == 2 * -(-1200 // batch_size), batch_size
        assert cell["training_loop"] == "epoch" and cell["validation_loop"] == "inline"
        for side in ("hand", "lossbench"):
            for key in ("fit_us_per_step", "fit_cpu_us_per_step", "process_seconds"):
                spread = cell[side][key]
                assert 0 < spread["min"] <= spread["median"] <= spread["max"], (side, key)
            assert cell[side]["process_cpu_seconds"]["median"] > 0, side
        for key in ("fit_ratio", "fit_cpu_ratio", "process_ratio", "process_cpu_ratio"):
            assert cell[key]["median"] > 0 and len(cell[key]["per_repeat"]) == 1, key
        # --fresh-also: a third side, the same run without checkpoint files, with its ratios
        also = cell["lossbench checkpoint.write=never"]
        assert len(also["runs"]) == 1 and also["fit_ratio"]["median"] > 0
        assert also["runs"][0]["steps"] == cell["steps"]
        # The same data, model, optimizer settings and seed: nearly the same test loss.
        assert cell["max_abs_diff_test_nll"] < 1e-3, batch_size


VECTORIZED = REPO / "scripts" / "benchmark_vectorized.py"


@pytest.mark.slow  # a fresh benchmark process of about 7 s
def test_vectorized_benchmark_prints_a_row_per_batch_size_and_k(tmp_path) -> None:
    """``make bench-vectorized`` with short settings: one row per (batch, K), the group's
    steps those of one run, and its ratios positive, the median within the repeats' minimum
    and maximum (nothing about speed is asserted)."""
    proc = subprocess.run(
        [
            *(sys.executable, str(VECTORIZED), "--ks", "1", "3", "--batch-sizes", "256"),
            *("--epochs", "1", "--n-samples", "2000", "--repeats", "2"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if _glibc():  # the runs keep freed memory, as lossbench-train's do
        assert "freed memory kept;" in proc.stdout.splitlines()[0]
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("  256")]
    assert [row[1] for row in rows] == ["1", "3"]
    assert {row[2] for row in rows} == {"5"}  # 1200 training rows in batches of 256
    assert all(float(value) > 0 for row in rows for value in row[3:])
    assert "vect./one   min   max CPU v./o" in proc.stdout.splitlines()[1]
    for row in rows:  # the median ratio of the repeats lies within their minimum and maximum
        assert float(row[7]) <= float(row[6]) <= float(row[8]), row


def test_the_sweep_summary_gives_medians_and_each_pairs_ratio() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import benchmark_vectorized
    finally:
        sys.path.remove(str(REPO / "scripts"))
    runs = [
        {"basic": 10.0, "basic_cpu": 9.0, "vectorized": 6.0, "vectorized_cpu": 4.5},
        {"basic": 12.0, "basic_cpu": 11.0, "vectorized": 6.0, "vectorized_cpu": 5.5},
        {"basic": 8.0, "basic_cpu": 8.0, "vectorized": 6.0, "vectorized_cpu": 6.0},
    ]
    line = benchmark_vectorized.sweep_line(runs, "lossbench")
    assert "sweeper: lossbench, median of 3" in line
    assert "basic 10.0 s wall, 9.0 s CPU; vectorized 6.0 s wall, 5.5 s CPU" in line
    assert "vectorized / basic 0.60x [0.50-0.75] wall, 0.50x [0.50-0.75] CPU" in line
