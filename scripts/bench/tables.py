"""The printed report: the timing, ratio and memory tables, and the study's timings."""

from __future__ import annotations

from typing import Any

from bench.settings import Settings


def _fmt_spread(s: dict[str, float], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def print_tables(cells: list[dict[str, Any]], settings: Settings) -> None:
    print(
        f"\nTraining (fit), {settings.epochs} epochs, medians over {settings.repeats} repeat(s): "
        "µs per optimizer step in wall-clock and process-CPU\ntime (validation every epoch "
        "included), samples per second (wall). CPU time leaves out the turns other processes\n"
        "take on a shared machine: compare it with wall to see how busy the machine was."
    )
    header = (
        f"{'task':<10} {'batch':>5} {'steps':>5} | {'hand µs/step':>12} {'cpu':>6} "
        f"{'samples/s':>9} | {'lb µs/step':>10} {'cpu':>6} {'samples/s':>9}"
    )
    print(header)
    print("-" * len(header))

    def cpu_us(side: dict[str, Any]) -> str:
        return (
            "-" if side["cpu_us_per_step"] is None else f"{side['cpu_us_per_step']['median']:.0f}"
        )

    for c in cells:
        ref, lb = c["reference"], c["lossbench"]
        print(
            f"{c['task']:<10} {c['batch_size']:>5} {ref['steps']:>5} | "
            f"{ref['us_per_step']['median']:>12.0f} {cpu_us(ref):>6} "
            f"{ref['samples_per_second']['median']:>9,.0f} | "
            f"{lb['us_per_step']['median']:>10.0f} {cpu_us(lb):>6} "
            f"{lb['samples_per_second']['median']:>9,.0f}"
        )
    print(
        "\nRatio lossbench / hand-written, median [min-max] of the paired repeats: fit = wall "
        "clock of training\n(lossbench: train_seconds), fit cpu = the same in CPU time; whole "
        "call = data, fit, final evaluation, record;\nvs fused = fit against the hand-written "
        "loop with lossbench's kernels (fused Adam, index_select)."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'fit':>17} | {'fit cpu':>17} | {'whole call':>17} | "
        f"{'whole call cpu':>17} | {'vs fused':>17}"
    )
    print(header)
    print("-" * len(header))

    def ratio(value: dict[str, Any] | None) -> str:
        return "-" if value is None else _fmt_spread(value)

    for c in cells:
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | {ratio(c['ratio']):>17} | "
            f"{ratio(c['fit_cpu_ratio']):>17} | {ratio(c['wall_ratio']):>17} | "
            f"{ratio(c['cpu_ratio']):>17} | {ratio(c['fused_ratio']):>17}"
        )
    print(
        "\nRatio to hand-written by lossbench's checkpoint setting (fit wall clock [fit cpu "
        "median]):\nevery_epoch = the default (best and last checkpoint written every epoch, "
        "exact resume); at_end = what\nthe studies use (both written once, at the end); never = "
        "no files, the best weights kept in memory,\nthe hand-written loop's work exactly; "
        "never vs fused: against the hand-written loop with lossbench's kernels."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'every_epoch':>24} | {'at_end':>24} | {'never':>24} | "
        f"{'never vs fused':>17}"
    )
    print(header)
    print("-" * len(header))

    def with_cpu(value: dict[str, Any] | None, cpu: dict[str, Any] | None) -> str:
        return f"{ratio(value)} [{'-' if cpu is None else format(cpu['median'], '.2f')}]"

    for c in cells:
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | "
            f"{with_cpu(c['ratio'], c['fit_cpu_ratio']):>24} | "
            f"{with_cpu(c['at_end_ratio'], c['at_end_fit_cpu_ratio']):>24} | "
            f"{with_cpu(c['no_files_ratio'], c['no_files_fit_cpu_ratio']):>24} | "
            f"{ratio(c['no_files_fused_ratio']):>17}"
        )
    print(
        "\nMemory (MiB): peak RSS while a side ran (max over repeats) and its growth over the RSS "
        "at its start;\nheap = with --tracemalloc, the peak of Python allocations during one "
        "extra run (tensor storage is\nnot traced; torch keeps no CPU allocator statistics).\n"
        "|Δ val/nll| = largest per-epoch difference between the sides (same work -> ~0)."
    )
    header = (
        f"{'task':<10} {'batch':>5} | {'hand RSS':>8} {'growth':>6} {'heap':>6} | "
        f"{'lb RSS':>8} {'growth':>6} {'heap':>6} | {'|Δ val/nll|':>11}"
    )
    print(header)
    print("-" * len(header))

    def mib(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    for c in cells:
        ref, lb = c["reference"], c["lossbench"]
        print(
            f"{c['task']:<10} {c['batch_size']:>5} | "
            f"{ref['peak_rss_mib']:>8.1f} {mib(ref['rss_growth_mib']):>6} "
            f"{mib(ref['python_heap_peak_mib']):>6} | "
            f"{lb['peak_rss_mib']:>8.1f} {mib(lb['rss_growth_mib']):>6} "
            f"{mib(lb['python_heap_peak_mib']):>6} | {c['max_abs_diff_val_nll']:>11.2e}"
        )


def print_study(study: dict[str, Any]) -> None:
    print(f"\nStartup (subprocesses, OMP_NUM_THREADS={study['omp_num_threads']}):")
    for name, timing in study["startup"].items():
        print(f"  {name:<22} {timing['median_seconds']:7.2f} s   ({timing['command']})")
    studies = study.get("studies") or {}
    for s in studies.values():
        print(
            f"\n{s['kind']}: {s['seconds']:.1f} s for {s['jobs']} jobs "
            f"({s['completed']} trained), {s['seconds_per_job']:.2f} s per job "
            f"(of which fit {s['train_seconds_per_job']:.2f} s)"
        )
        if s.get("peak_total_rss_mib") is not None:
            print(
                f"  peak memory: {s['peak_total_rss_mib']:.0f} MiB RSS for all its processes "
                f"together, {s['peak_process_rss_mib']:.0f} MiB the largest one"
            )
        if s.get("report_seconds") is not None:
            print(f"  then lossbench-report on its runs: {s['report_seconds']:.1f} s")
        print(f"  {s['command']}")
    if {"parallel", "sequential"} <= studies.keys():
        par, seq = studies["parallel"]["seconds"], studies["sequential"]["seconds"]
        print(f"\nparallel / sequential: {par / seq:.2f} ({par:.1f} s vs {seq:.1f} s)")
