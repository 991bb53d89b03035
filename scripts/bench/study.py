"""Start-up times and a whole study (or a 6-job multirun) timed from the command line."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.memory import run_sampling_memory
from bench.settings import SWEEP_JOBS, Settings


def _timed_command(
    cmd: list[str], env: dict[str, str], repeats: int, *, memory: bool = False, exit_code: int = 0
) -> dict[str, Any]:
    """Seconds of ``cmd`` per repeat; it must exit with ``exit_code`` (2: a refused config).
    With ``memory``, also the peak RSS of its processes (:func:`run_sampling_memory`)."""
    seconds, peaks = [], {}
    for _ in range(repeats):
        start = time.perf_counter()
        if memory:
            proc, peaks = run_sampling_memory(cmd, env)
        else:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        if proc.returncode != exit_code:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}, expected {exit_code}: "
                f"{' | '.join(tail)}"
            )
    return {
        "command": " ".join(cmd),
        "seconds": seconds,
        "median_seconds": statistics.median(seconds),
        **peaks,
    }


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("lossbench-train")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lossbench.train"]


def _records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("metrics.json"))]


def _time_sweep(
    extra: list[str], env: dict[str, str], label: str, *, report: bool = False
) -> dict[str, Any]:
    """Run one ``lossbench-train -m`` in a fresh sweep directory: seconds in all and per job,
    peak memory of all its processes. With ``report``, also time ``lossbench-report`` on it (as
    ``make compare`` runs it)."""
    report_cli = Path(sys.executable).with_name("lossbench-report")
    report_seconds = None
    with tempfile.TemporaryDirectory(prefix="lossbench-bench-sweep-") as tmp:
        cmd = [*_cli(), "-m", *extra, f"hydra.sweep.dir={tmp}"]
        timing = _timed_command(cmd, env, repeats=1, memory=True)
        records = _records(Path(tmp))
        if report and report_cli.exists():
            report_cmd = [str(report_cli), tmp, "--out", str(Path(tmp) / "report")]
            report_seconds = _timed_command(report_cmd, env, repeats=1)["seconds"][0]
    seconds = timing["seconds"][0]
    jobs = len(records)
    fit = sum(float(r.get("train_seconds") or 0.0) for r in records)
    return {
        "kind": label,
        "command": timing["command"],
        "seconds": seconds,
        "report_seconds": report_seconds,
        "jobs": jobs,
        "completed": sum(r.get("status") == "completed" for r in records),
        "seconds_per_job": seconds / jobs if jobs else None,
        "train_seconds_per_job": fit / jobs if jobs else None,
        "peak_total_rss_mib": timing.get("peak_total_rss_mib"),
        "peak_process_rss_mib": timing.get("peak_process_rss_mib"),
    }


#: How the studies are timed: lossbench's default (worker processes, one per core) and the
#: same jobs one after another in one process.
LAUNCHERS = {"parallel": "hydra/launcher=parallel", "sequential": "hydra/launcher=basic"}


def bench_study(settings: Settings) -> dict[str, Any]:
    """Startup costs; then the standard study (`make compare`) or a 6-job multirun, each run in
    parallel worker processes and one job after another: seconds, seconds per job, memory."""
    env = os.environ | {"OMP_NUM_THREADS": str(settings.threads)}
    repeats = 1 if settings.quick else 3
    refused = ["data=wine", "head=sigmoid", "loss=cross_entropy"]  # exits 2 before training
    out: dict[str, Any] = {
        "omp_num_threads": settings.threads,
        "startup": {
            "import_torch": _timed_command([sys.executable, "-c", "import torch"], env, repeats),
            "import_lightning": _timed_command(
                [sys.executable, "-c", "import lightning"], env, repeats
            ),
            "import_lossbench_train": _timed_command(
                [sys.executable, "-c", "import lossbench.train"], env, repeats
            ),
            "lossbench_train_help": _timed_command([*_cli(), "--help"], env, repeats),
            "refused_config": _timed_command([*_cli(), *refused], env, repeats, exit_code=2),
        },
        "studies": {},
    }
    if settings.study == "standard":
        variant = "quick" if settings.quick else "full"
        extra = ["experiment=compare_all", f"study={variant}"]
        label = f"standard study: experiment=compare_all study={variant}"
    else:
        extra = [*SWEEP_JOBS, *(["trainer.max_epochs=2"] if settings.quick else [])]
        label = "6-job multirun"
    # Studies size their torch threads themselves (1 per worker when parallel).
    study_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    for name, launcher in LAUNCHERS.items():
        print(f"  timing the {label}, {name} ...", flush=True)
        out["studies"][name] = _time_sweep(
            [*extra, launcher], study_env, f"{label} ({name})", report=settings.study == "standard"
        )
    return out
