"""Time vectorized training: K members as one run against K separate runs and against one run.

    .venv/bin/python scripts/benchmark_vectorized.py           # K = 1, 4, 12, 25; batch 128, 1024
    .venv/bin/python scripts/benchmark_vectorized.py --ks 1 12 --batch-sizes 128 --epochs 2
    .venv/bin/python scripts/benchmark_vectorized.py --ks 1 12 25 --batch-sizes 128 \
        --epochs 10 --repeats 5                                # medians and spreads
    .venv/bin/python scripts/benchmark_vectorized.py --sweep   # and a 12-job CLI sweep, basic
                                                               # against vectorized launcher
    .venv/bin/python scripts/benchmark_vectorized.py --sweep-only --sweep-repeats 5 \
        --sweeper lossbench                                    # both with lossbench's sweeper

Every side trains the same jobs, in this process, with one torch thread (``--threads``) and
glibc's malloc keeping the memory torch frees, as in ``lossbench-train`` (``--glibc-defaults``:
as glibc leaves it):
synthetic binary data (``data=synthetic_binary``, 20 000 x 20: 12 000 training rows), MLP
20-64-64-1, Adam, ``checkpoint.write=at_end``, ``logger=none``, ``epoch_metrics=monitored`` (the
studies' setting; ``--epoch-metrics all`` for every metric each epoch); member ``k`` has
``seed=k`` and learning rate ``LRS[k % 4]``.

- **K separate**: the K members trained one after another through ``lossbench.training.train``;
  the sum of their fit times (the records' ``train_seconds``).
- **one run**: the mean fit time of those K runs.
- **vectorized**: :func:`lossbench.vectorized.run.train_group` of the K members; fit time is the
  group's ``train_seconds`` (one Trainer fit for all K).

The ratios: vectorized / one run (the cost of K members against one; ``--repeats N`` measures
each row N times and shows the median with its minimum and maximum, and the median of the same
ratio in CPU time, ``train_cpu_seconds``), and K separate / vectorized (the speed-up over
running them in turn). Wall times include building each run's data, model and record. Nothing
here asserts a speed; on a shared machine, run it when the machine is quiet (the load average
is printed). A fit of a few hundred steps lasts a fraction of a second, within the noise of a
shared machine: for the K = 12 goal, ``--epochs 10 --repeats 5``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from bench.study import _cli
from lossbench.allocator import keep_freed_memory
from lossbench.config import register_configs
from lossbench.train import config_dir, quiet_lightning
from lossbench.training import train
from lossbench.vectorized.run import train_group

LRS = (1e-3, 3e-3, 1e-2, 3e-2)


def compose_cfg(
    k: int, batch_size: int, epochs: int, n_samples: int, epoch_metrics: str = "monitored"
) -> DictConfig:
    overrides = [
        f"epoch_metrics={epoch_metrics}",
        "data=synthetic_binary",
        f"data.n_samples={n_samples}",
        f"data.batch_size={batch_size}",
        "model=mlp",
        "model.hidden_sizes=[64,64]",
        "optimizer=adam",
        f"optimizer.lr={LRS[k % len(LRS)]}",
        f"seed={k}",
        "logger=none",
        "checkpoint.write=at_end",
        f"trainer.max_epochs={epochs}",
        "trainer.accelerator=cpu",
    ]
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return compose("train", overrides=overrides)


def _fit(records: list[dict], key: str = "train_seconds") -> float:
    failed = [r["error"] for r in records if r["status"] != "completed"]
    if failed:
        raise RuntimeError(f"a benchmark run failed: {failed[0]}")
    return sum(float(r[key]) for r in records)


def bench(
    k: int, batch_size: int, epochs: int, n_samples: int, epoch_metrics: str = "monitored"
) -> dict[str, float]:
    cfgs = [compose_cfg(i, batch_size, epochs, n_samples, epoch_metrics) for i in range(k)]
    with tempfile.TemporaryDirectory(prefix="lossbench-vec-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        separate = [train(cfg, root / f"alone{i}", multirun=True) for i, cfg in enumerate(cfgs)]
        separate_wall = time.perf_counter() - start
        start = time.perf_counter()
        group = train_group(cfgs, [root / f"member{i}" for i in range(k)])
        group_wall = time.perf_counter() - start
    return {
        "one": _fit(separate) / k,
        "one_cpu": _fit(separate, "train_cpu_seconds") / k,
        "separate": _fit(separate),
        "separate_wall": separate_wall,
        "vectorized": float(group[0]["train_seconds"]),
        "vectorized_cpu": float(group[0]["train_cpu_seconds"]),
        "vectorized_wall": group_wall,
        "steps": int(group[0]["steps"]),
    }


def row_line(batch_size: int, k: int, runs: list[dict[str, float]]) -> str:
    """One row of the table from the :func:`bench` results of ``runs`` repeats: medians of the
    times, and each repeat's vectorized / one-run ratio as its median, minimum and maximum
    (fit wall time), and their median in CPU time (user + system of this process, which the
    turns other processes take on a shared machine leave out)."""
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    ratios = [r["vectorized"] / r["one"] for r in runs]
    cpu = statistics.median(r["vectorized_cpu"] / r["one_cpu"] for r in runs)
    speedup = statistics.median(r["separate"] / r["vectorized"] for r in runs)
    speedup_wall = statistics.median(r["separate_wall"] / r["vectorized_wall"] for r in runs)
    return (
        f"{batch_size:>5} {k:>3} {int(median['steps']):>5} {median['one']:>7.3f} "
        f"{median['separate']:>8.3f} {median['vectorized']:>8.3f} "
        f"{statistics.median(ratios):>9.2f} {min(ratios):>5.2f} {max(ratios):>5.2f} "
        f"{cpu:>8.2f} {speedup:>10.2f} {speedup_wall:>15.2f}"
    )


def sweep(
    epochs: int, n_samples: int, epoch_metrics: str = "monitored", sweeper: str | None = None
) -> dict[str, float]:
    """Wall and CPU time of ``lossbench-train -m seed=0,1,2 optimizer.lr=<4 values>`` per
    launcher, each a fresh ``lossbench-train`` process as a user starts it (CPU time: user +
    system of the command's processes, which the turns other processes take on a shared
    machine leave out). ``sweeper``: ``hydra/sweeper=<sweeper>`` on both command lines (None:
    Hydra's default, its basic sweeper, which composes every job once before the launch)."""
    times = {}
    for launcher in ("basic", "vectorized"):
        with tempfile.TemporaryDirectory(prefix="lossbench-sweep-") as tmp:
            cmd = [
                *_cli(),
                "-m",
                f"hydra/launcher={launcher}",
                *([] if launcher == "basic" else ["hydra.launcher.n_jobs=1"]),
                *([] if sweeper is None else [f"hydra/sweeper={sweeper}"]),
                f"hydra.sweep.dir={tmp}/sweep",
                "data=synthetic_binary",
                f"data.n_samples={n_samples}",
                "logger=none",
                "checkpoint.write=at_end",
                f"epoch_metrics={epoch_metrics}",
                f"trainer.max_epochs={epochs}",
                "seed=0,1,2",
                "optimizer.lr=" + ",".join(str(lr) for lr in LRS),
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, cwd=tmp)
            times[launcher] = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times[f"{launcher}_cpu"] = (after.ru_utime - before.ru_utime) + (
                after.ru_stime - before.ru_stime
            )
    return times


def sweep_line(runs: list[dict[str, float]], sweeper: str | None) -> str:
    """The sweep's figures over ``runs`` (one dict of :func:`sweep` each): medians, and the
    median [min-max] of each run's vectorized / basic ratio."""

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"

    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    wall = [r["vectorized"] / r["basic"] for r in runs]
    cpu = [r["vectorized_cpu"] / r["basic_cpu"] for r in runs]
    return (
        f"12-job sweep (seed=0,1,2 x 4 learning rates, sweeper: {sweeper or 'Hydra default'}, "
        f"median of {len(runs)}): basic {median['basic']:.1f} s wall, "
        f"{median['basic_cpu']:.1f} s CPU; vectorized {median['vectorized']:.1f} s wall, "
        f"{median['vectorized_cpu']:.1f} s CPU; vectorized / basic {spread(wall)} wall, "
        f"{spread(cpu)} CPU; load average {os.getloadavg()[0]:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 12, 25])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="times each (batch, K) row is measured, both sides each time (the row shows "
        "medians, and the vectorized / one-run ratio's minimum and maximum)",
    )
    parser.add_argument(
        "--epoch-metrics",
        choices=("monitored", "all"),
        default="monitored",
        help="per-epoch metrics of every run (monitored: the studies' setting)",
    )
    parser.add_argument(
        "--glibc-defaults",
        action="store_true",
        help="leave glibc's malloc thresholds as they are (lossbench's commands and study "
        "workers raise them: lossbench.allocator)",
    )
    parser.add_argument("--sweep", action="store_true", help="also time a 12-job CLI sweep")
    parser.add_argument("--sweep-only", action="store_true", help="only the 12-job sweep")
    parser.add_argument(
        "--sweep-repeats", type=int, default=1, help="times the sweep runs (both launchers each)"
    )
    parser.add_argument(
        "--sweeper",
        choices=("lossbench", "basic"),
        default=None,
        help="hydra/sweeper for both sweep commands (default: none given, Hydra's basic)",
    )
    args = parser.parse_args(argv)
    kept = False if args.glibc_defaults else keep_freed_memory()  # as lossbench-train does
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    register_configs()
    quiet_lightning()
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lossbench").setLevel(logging.WARNING)
    print(
        f"{args.n_samples} x 20 synthetic, MLP 20-64-64-1, Adam, {args.epochs} epochs, "
        f"{args.threads} thread(s), epoch_metrics={args.epoch_metrics}, "
        f"freed memory {'kept' if kept else 'returned (glibc defaults)'}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'batch':>5} {'K':>3} {'steps':>5} {'one s':>7} {'K sep. s':>8} {'vect. s':>8} "
        f"{'vect./one':>9} {'min':>5} {'max':>5} {'CPU v./o':>8} {'sep./vect.':>10} "
        f"{'wall sep./vect.':>15}"
    )
    if not args.sweep_only:
        bench(2, args.batch_sizes[0], 1, 2_000)  # untimed warm-up: imports, first calls
        print(header)
    for batch_size in [] if args.sweep_only else args.batch_sizes:
        for k in args.ks:
            runs = [
                bench(k, batch_size, args.epochs, args.n_samples, args.epoch_metrics)
                for _ in range(max(1, args.repeats))
            ]
            print(row_line(batch_size, k, runs), flush=True)
    if args.sweep or args.sweep_only:
        runs = [
            sweep(args.epochs, args.n_samples, args.epoch_metrics, args.sweeper)
            for _ in range(max(1, args.sweep_repeats))
        ]
        print(sweep_line(runs, args.sweeper))
    return 0


if __name__ == "__main__":
    sys.exit(main())
