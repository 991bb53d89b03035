"""Timing one task x batch size: every side, alternating over the repeats, and the ratios."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from bench.memory import python_heap_peak_mib, rss_window
from bench.settings import LOSSBENCH_SIDES, SIDES, TASKS, Settings, compose_cfg
from bench.sides import RUNNERS


def _extra(side: str) -> tuple[str, ...]:
    """The config overrides of one of lossbench's sides (none for the hand-written ones)."""
    return LOSSBENCH_SIDES.get(side, ())


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_cell(task: str, batch_size: int, settings: Settings) -> dict[str, Any]:
    """Time the sides on one task x batch size, alternating their order over the repeats."""
    cfgs = {side: compose_cfg(task, batch_size, settings, extra=_extra(side)) for side in SIDES}
    for side in SIDES:
        RUNNERS[side](compose_cfg(task, batch_size, settings, epochs=1, extra=_extra(side)))

    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for repeat in range(settings.repeats):
        order = SIDES if repeat % 2 == 0 else SIDES[::-1]
        for side in order:
            memory: dict[str, float | None] = {}
            with rss_window(memory):
                cpu_start = time.process_time()
                result = RUNNERS[side](cfgs[side])
                cpu_seconds = time.process_time() - cpu_start
            runs[side].append(
                result | memory | {"cpu_seconds": cpu_seconds, "load": os.getloadavg()[0]}
            )
        ref, fused, lb, at_end, no_files = (runs[side][-1]["fit_seconds"] for side in SIDES)
        print(
            f"  {task:<10} batch {batch_size:>5}  repeat {repeat + 1}/{settings.repeats}: "
            f"hand-written {ref:.3f} s (fused Adam {fused:.3f} s), lossbench {lb:.3f} s "
            f"(x{lb / ref:.2f}; x{lb / fused:.2f} of fused; at_end x{at_end / ref:.2f}, "
            f"no files x{no_files / ref:.2f}), load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    cell: dict[str, Any] = {
        "task": task,
        "data": TASKS[task][0],
        "head": TASKS[task][1],
        "loss": TASKS[task][2],
        "batch_size": batch_size,
        "n_train": runs["reference"][0]["n_train"],
        "epochs": settings.epochs,
    }
    for side in SIDES:
        fit = [r["fit_seconds"] for r in runs[side]]
        fit_cpu = [r["fit_cpu_seconds"] for r in runs[side]]
        steps = runs[side][0]["steps"]
        samples = runs[side][0]["n_train"] * settings.epochs
        cell[side] = {
            "steps": steps,
            "fit_seconds": fit,
            "fit_cpu_seconds": fit_cpu,
            "wall_seconds": [r["wall_seconds"] for r in runs[side]],
            "cpu_seconds": [r["cpu_seconds"] for r in runs[side]],
            "load_average": [r["load"] for r in runs[side]],
            "us_per_step": spread([s / steps * 1e6 for s in fit]),
            "cpu_us_per_step": (
                None if None in fit_cpu else spread([s / steps * 1e6 for s in fit_cpu])
            ),
            "samples_per_second": spread([samples / s for s in fit]),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs[side]),
            "rss_growth_mib": max(
                (r["rss_growth_mib"] for r in runs[side] if r["rss_growth_mib"] is not None),
                default=None,
            ),
            "python_heap_peak_mib": (
                python_heap_peak_mib(lambda side=side: RUNNERS[side](cfgs[side]))
                if settings.tracemalloc
                else None
            ),
        }
    if len({cell[side]["steps"] for side in SIDES}) != 1:
        raise RuntimeError(
            f"{task} batch {batch_size}: the sides took different numbers of optimizer steps "
            f"({', '.join(side + ' ' + str(cell[side]['steps']) for side in SIDES)}); "
            "the comparison would not be of the same work."
        )
    # ratio: fit wall clock (the headline); fit_cpu_ratio: the same span in process CPU time;
    # wall_ratio / cpu_ratio: the whole call (data, fit, final evaluation, record);
    # fused_ratio: fit wall clock against the hand-written loop with fused Adam;
    # at_end_* / no_files_*: the other checkpoint settings, fit wall clock and CPU time.
    measures = {
        "ratio": ("lossbench", "fit_seconds", "reference"),
        "fit_cpu_ratio": ("lossbench", "fit_cpu_seconds", "reference"),
        "wall_ratio": ("lossbench", "wall_seconds", "reference"),
        "cpu_ratio": ("lossbench", "cpu_seconds", "reference"),
        "fused_ratio": ("lossbench", "fit_seconds", "reference_fused"),
        "at_end_ratio": ("lossbench_at_end", "fit_seconds", "reference"),
        "at_end_fit_cpu_ratio": ("lossbench_at_end", "fit_cpu_seconds", "reference"),
        "no_files_ratio": ("lossbench_no_files", "fit_seconds", "reference"),
        "no_files_fit_cpu_ratio": ("lossbench_no_files", "fit_cpu_seconds", "reference"),
        "no_files_fused_ratio": ("lossbench_no_files", "fit_seconds", "reference_fused"),
    }
    for key, (side, measure, base) in measures.items():
        values = [
            lb[measure] / ref[measure]
            for lb, ref in zip(runs[side], runs[base], strict=True)
            if lb[measure] is not None
        ]
        cell[key] = spread(values) | {"per_repeat": values} if values else None
    ref_nll = runs["reference"][0]["val_nll_history"]
    cell["max_abs_diff_val_nll"] = max(
        abs(a - b)
        for side in LOSSBENCH_SIDES
        for a, b in zip(ref_nll, runs[side][0]["val_nll_history"], strict=True)
    )
    return cell
