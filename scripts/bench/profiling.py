"""``--profile``: cProfile one lossbench run and print where its time goes."""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path

from bench.settings import Settings, compose_cfg
from bench.sides import run_lossbench


def profile_lossbench(path: Path, settings: Settings) -> None:
    """cProfile one lossbench run (binary, the first batch size) after a warm-up."""
    cfg = compose_cfg("binary", settings.batch_sizes[0], settings)
    run_lossbench(compose_cfg("binary", settings.batch_sizes[0], settings, epochs=1))
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_lossbench(cfg)
    profiler.disable()
    profiler.dump_stats(path)
    print(
        f"profiled lossbench, binary batch {settings.batch_sizes[0]}: {result['steps']} steps, "
        f"fit {result['fit_seconds']:.2f} s (slower under the profiler); stats in {path}"
    )
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
