"""The command line: parse the flags, run the cells and the study, print and save the report."""

from __future__ import annotations

import argparse
import json
import logging
import os
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

import bench
from bench.alternate import bench_alternate, print_alternate
from bench.cells import bench_cell
from bench.environment import environment
from bench.fresh import bench_fresh, print_fresh
from bench.fresh_parts import bench_fresh_parts, print_fresh_parts
from bench.memory import process_peak_rss_mib
from bench.profiling import profile_lossbench
from bench.settings import TASKS, Settings
from bench.study import bench_study
from bench.tables import print_study, print_tables
from lossbench.config import register_configs
from lossbench.train import quiet_lightning


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=bench.__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 000 samples, 2 epochs, 1 repeat")
    parser.add_argument("--repeats", type=int, help="timed runs per side (default 5; quick: 1)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch.set_num_threads for both sides (default 1: these layers are too small to "
        "gain from intra-op threads, and on a shared 2-core machine a busy core stalls them)",
    )
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[128, 1024], help="default: 128 1024"
    )
    parser.add_argument(
        "--study",
        choices=("sweep", "standard", "none"),
        default="standard",
        help="standard: the `make compare` study (default; with --quick: study=quick), run in "
        "parallel and in turn; sweep: a 6-job multirun, both ways; none: skip",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="one extra untimed run per side under tracemalloc: peak of Python allocations "
        "(slow; at these sizes the data set generation dominates it on both sides)",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a lossbench config override for every cell, e.g. optimizer.lr=1e-2 "
        "(repeatable; the hand-written loop follows data, optimizer and epoch settings; the "
        "at_end and never sides set checkpoint.write after it, the first lossbench side keeps "
        "what it says)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="a single run as a user starts it: a fresh lossbench-train process with its "
        "defaults against a fresh process running the hand-written loop (binary, 3 repeats "
        "unless --repeats), then stop",
    )
    parser.add_argument(
        "--fresh-also",
        action="append",
        default=[],
        metavar="OVERRIDES",
        help="with --fresh or --alternate: one more lossbench side with these overrides "
        "added (space-separated), e.g. checkpoint.write=never to see what the default "
        "checkpoints cost; repeatable",
    )
    parser.add_argument(
        "--alternate",
        action="store_true",
        help="--fresh's comparison in this one process: the hand-written loop and lossbench's "
        "train() as lossbench-train calls it take turns (10 unless --repeats), which resolves "
        "differences of a few percent that fresh processes' spread hides; imports and start-up "
        "are left out; then stop",
    )
    parser.add_argument(
        "--hand-checkpoints",
        action="store_true",
        help="with --alternate: one more side, the hand-written loop writing a resumable "
        "checkpoint (weights and optimizer state, torch.save, renamed into place) every epoch "
        "and a copy of the best, as lossbench's default checkpoint.write=every_epoch does",
    )
    parser.add_argument(
        "--fresh-parts",
        action="store_true",
        help="where a fresh default lossbench-train run's fit goes: its training steps, "
        "validation, epoch end and checkpoints, timed per epoch in each of --repeats fresh "
        "processes (6 unless --repeats), then stop",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="PATH", help="cProfile one lossbench run, then stop"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    default_repeats = 1 if args.quick else (3 if args.fresh else 6 if args.fresh_parts else 5)
    if args.alternate and not args.quick:
        default_repeats = 10
    repeats = args.repeats if args.repeats is not None else default_repeats
    if args.fresh and args.alternate:
        raise SystemExit(
            "--fresh and --alternate are two ways of timing the same runs (fresh processes, or "
            "turns in one process): give one of them."
        )
    if args.fresh_also and not (args.fresh or args.alternate):
        raise SystemExit(
            f"--fresh-also {args.fresh_also[0]!r} adds a side to --fresh or --alternate, neither "
            "of which was given: add one of them (or drop --fresh-also)."
        )
    if args.hand_checkpoints and not args.alternate:
        raise SystemExit(
            "--hand-checkpoints adds a side to --alternate, which was not given: add it (or "
            "drop --hand-checkpoints)."
        )
    if repeats < 1:
        raise SystemExit(f"--repeats must be >= 1, got {repeats}.")
    settings = Settings(
        n_samples=2_000 if args.quick else 20_000,
        epochs=2 if args.quick else 10,
        repeats=repeats,
        batch_sizes=tuple(args.batch_sizes),
        threads=args.threads,
        quick=args.quick,
        tracemalloc=args.tracemalloc,
        study=args.study,
        overrides=tuple(args.override),
    )
    torch.set_num_threads(settings.threads)
    register_configs()
    quiet_lightning()
    for name in ("lightning.pytorch", "lightning.fabric", "lossbench"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*Checkpoint directory.*exists and is not empty.*")

    env = environment(settings)
    print(
        f"lossbench benchmark: torch {env['torch']}, lightning {env['lightning']}, "
        f"torchmetrics {env['torchmetrics']}, python {env['python']}\n"
        f"cpus: {env['cpu_count']} (usable {env['cpus_usable']}), torch threads: "
        f"{env['torch_num_threads']} (interop {env['torch_num_interop_threads']}), "
        f"load average {env['load_average_at_start']:.2f}; lossbench at {env['git_commit']}"
        f"{' (with uncommitted changes)' if env['git_dirty'] else ''}\n"
        f"{settings.n_samples} samples x 20 features, {settings.epochs} epochs, "
        f"{settings.repeats} repeat(s), batch sizes {list(settings.batch_sizes)}"
        f"{'; lossbench overrides: ' + ' '.join(settings.overrides) if settings.overrides else ''}",
        flush=True,
    )
    if args.profile:
        profile_lossbench(args.profile, settings)
        return 0
    if args.fresh_parts:
        parts = bench_fresh_parts(settings)
        print_fresh_parts(parts, settings)
        if args.json:
            report = {"settings": asdict(settings), "environment": env, "fresh_parts": parts}
            _write_json(args.json, report)
        return 0
    if args.alternate or args.fresh:  # the same single runs: in one process, or fresh ones
        key = "alternate" if args.alternate else "fresh"
        bench_sides, print_sides = {
            "alternate": (bench_alternate, print_alternate),
            "fresh": (bench_fresh, print_fresh),
        }[key]
        if args.alternate:
            single = bench_alternate(settings, tuple(args.fresh_also), args.hand_checkpoints)
        else:
            single = bench_sides(settings, tuple(args.fresh_also))
        print_sides(single, settings)
        env["load_average_at_end"] = os.getloadavg()[0]
        print(f"\nload average at end {env['load_average_at_end']:.2f}")
        if args.json:
            _write_json(args.json, {"settings": asdict(settings), "environment": env, key: single})
        return 0

    cells = [bench_cell(t, b, settings) for t in TASKS for b in settings.batch_sizes]
    if torch.get_num_threads() != settings.threads:
        print(f"warning: torch threads changed to {torch.get_num_threads()} during the runs")
    print_tables(cells, settings)
    study = None
    if settings.study != "none":
        study = bench_study(settings)
        print_study(study)
    env["load_average_at_end"] = os.getloadavg()[0]
    peak = process_peak_rss_mib()
    print(
        f"\nprocess peak RSS (getrusage): {peak:.0f} MiB; load average at end "
        f"{env['load_average_at_end']:.2f}"
    )
    if args.json:
        report = {
            "settings": asdict(settings),
            "environment": env,
            "cells": cells,
            "study": study,
            "process_peak_rss_mib": peak,
        }
        _write_json(args.json, report)
    return 0


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"JSON: {path}")
