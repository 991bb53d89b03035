"""``--fresh``: a single run as a user starts it, a fresh process on each side.

    .venv/bin/python scripts/benchmark.py --fresh               # 20 000 x 20, 10 epochs, 3 repeats
    .venv/bin/python scripts/benchmark.py --fresh --repeats 5 --json fresh.json
    .venv/bin/python scripts/benchmark.py --fresh --fresh-also checkpoint.write=never

- **lossbench**: ``lossbench-train`` started as a new process with its defaults (progress bar
  on, ``checkpoint.write=every_epoch``, the CSV logger, ``runner=auto``), only the data, the
  model, the epochs and the batch size given (:func:`lossbench_command`). Fit time is the
  record's ``train_seconds`` (``metrics.json``), its CPU time ``train_cpu_seconds``.
- **hand-written**: a new Python process (``python -m bench.fresh_hand``) that composes the same
  config and runs the hand-written loop (:func:`bench.reference.run_reference`: torch's default
  Adam, ``x[order]``, validation every epoch, the best weights kept in memory) on the same data.
  Fit time is its ``fit_seconds``, its CPU time ``fit_cpu_seconds``.
- **lossbench OVERRIDES** (one side per ``--fresh-also``): ``lossbench-train`` as above with
  those overrides added, e.g. ``checkpoint.write=never`` (no checkpoint files, the best weights
  in memory: the hand-written loop's work exactly), to show what a default costs.

Both run with ``OMP_NUM_THREADS`` set to ``--threads`` (default 1). Per batch size, one untimed
warm-up of each side (1 epoch; it fills the file cache with the libraries), then the sides
alternate over the repeats (order reversed every other repeat). Printed per side: fit time per
optimizer step (wall clock and process CPU), and the whole process from start to exit (wall
clock, and its CPU time from ``getrusage(RUSAGE_CHILDREN)``: imports, data, fit, final
evaluation, files); the ratios lossbench / hand-written are per repeat, median [min-max]. CPU
time leaves out the turns other processes take on a shared machine: where wall and CPU ratios
disagree, the machine was busy (the load average is printed). Nothing here asserts a speed.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.settings import Settings
from bench.study import _cli

#: The sides every ``--fresh`` run times; ``--fresh-also`` adds ``"lossbench OVERRIDES"`` sides.
SIDES = ("hand", "lossbench")
#: The scripts directory: ``python -m bench.fresh_hand`` runs from it.
SCRIPTS = Path(__file__).resolve().parents[1]


def overrides(batch_size: int, settings: Settings, epochs: int | None = None) -> list[str]:
    """The command-line overrides a user gives: data, model, epochs and batch size; the rest
    stays at lossbench's defaults."""
    return [
        "data=synthetic_binary",
        f"data.n_samples={settings.n_samples}",
        "model.hidden_sizes=[64,64]",
        f"trainer.max_epochs={epochs or settings.epochs}",
        f"data.batch_size={batch_size}",
    ]


def lossbench_command(args: list[str], run_dir: Path) -> list[str]:
    """``lossbench-train ARGS hydra.run.dir=RUN_DIR``: a single run as a user starts it."""
    return [*_cli(), *args, f"hydra.run.dir={run_dir}"]


def hand_command(args: list[str]) -> list[str]:
    """``python -m bench.fresh_hand ARGS``: the hand-written loop in a new process."""
    return [sys.executable, "-m", "bench.fresh_hand", *args]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(
    cmd: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``cmd`` to its end: (the process, its wall seconds, its CPU seconds)."""
    cpu_start, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {' | '.join(tail)}")
    return proc, wall, cpu


def run_lossbench(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One fresh ``lossbench-train`` process; its record's fit figures and the process's."""
    with tempfile.TemporaryDirectory(prefix="lossbench-bench-fresh-") as tmp:
        run_dir = Path(tmp) / "run"
        _, wall, cpu = _run(lossbench_command(args, run_dir), env)
        record = json.loads((run_dir / "metrics.json").read_text())
    if record["status"] != "completed":
        raise RuntimeError(f"lossbench run failed: {record['error']}")
    return {
        "fit_seconds": float(record["train_seconds"]),
        "fit_cpu_seconds": record.get("train_cpu_seconds"),
        "steps": int(record["steps"]),
        "process_seconds": wall,
        "process_cpu_seconds": cpu,
        "training_loop": record.get("training_loop"),
        "validation_loop": record.get("validation_loop"),
        "test/nll": float(record["test/nll"]),
    }


def run_hand(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One fresh process running the hand-written loop; its fit figures and the process's."""
    proc, wall, cpu = _run(hand_command(args), env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "fit_seconds": result["fit_seconds"],
        "fit_cpu_seconds": result["fit_cpu_seconds"],
        "steps": result["steps"],
        "process_seconds": wall,
        "process_cpu_seconds": cpu,
        "test/nll": result["test/nll"],
    }


def side_names(also: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The sides of a ``--fresh`` run: ``hand``, ``lossbench`` and one ``lossbench OVERRIDES``
    per entry of ``also`` (space-separated overrides).

        >>> side_names(("checkpoint.write=never",))
        ('hand', 'lossbench', 'lossbench checkpoint.write=never')
    """
    return (*SIDES, *(f"lossbench {extra}" for extra in also))


def run_side(side: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One fresh process of ``side`` (see :func:`side_names`) with the cell's ``args``."""
    if side == "hand":
        return run_hand(args, env)
    return run_lossbench([*args, *side.split()[1:]], env)


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _per_step(runs: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    values = [r[key] / r["steps"] * 1e6 for r in runs if r[key] is not None]
    return _spread(values) if values else None


def same_steps(batch_size: int, runs: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Each side's optimizer steps, which must be equal: the sides do the same work."""
    steps = {side: side_runs[0]["steps"] for side, side_runs in runs.items()}
    if len(set(steps.values())) != 1:
        raise RuntimeError(
            f"batch {batch_size}: the sides took different numbers of optimizer steps "
            f"({steps}); the comparison would not be of the same work."
        )
    return steps


def bench_fresh_cell(
    batch_size: int, settings: Settings, env: dict[str, str], also: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Every side at one batch size: a warm-up each, then alternating repeats."""
    sides = side_names(also)
    for side in sides:
        run_side(side, overrides(batch_size, settings, epochs=1), env)
    args = overrides(batch_size, settings)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for repeat in range(settings.repeats):
        for side in sides if repeat % 2 == 0 else sides[::-1]:
            runs[side].append(run_side(side, args, env) | {"load": os.getloadavg()[0]})
        hand = runs["hand"][-1]
        timings = ", ".join(
            f"{side} {r['fit_seconds'] / r['steps'] * 1e6:.0f} µs "
            f"(x{r['fit_seconds'] / hand['fit_seconds']:.2f}, process {r['process_seconds']:.2f} s)"
            for side in sides[1:]
            for r in [runs[side][-1]]
        )
        print(
            f"  batch {batch_size:>5}  repeat {repeat + 1}/{settings.repeats}: fit per step "
            f"hand-written {hand['fit_seconds'] / hand['steps'] * 1e6:.0f} µs (process "
            f"{hand['process_seconds']:.2f} s), {timings}; load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    steps = same_steps(batch_size, runs)
    cell: dict[str, Any] = {
        "batch_size": batch_size,
        "steps": steps["hand"],
        "command": " ".join(lossbench_command(args, Path("<tmp>/run"))),
        "hand_command": " ".join(hand_command(args)),
        "training_loop": runs["lossbench"][0]["training_loop"],
        "validation_loop": runs["lossbench"][0]["validation_loop"],
        "load_average": [r["load"] for side in sides for r in runs[side]],
        "max_abs_diff_test_nll": max(
            abs(a["test/nll"] - b["test/nll"])
            for side in sides[1:]
            for a, b in zip(runs["hand"], runs[side], strict=True)
        ),
        "also": list(also),
    }
    for side in sides:
        cell[side] = {
            "runs": runs[side],
            "fit_us_per_step": _per_step(runs[side], "fit_seconds"),
            "fit_cpu_us_per_step": _per_step(runs[side], "fit_cpu_seconds"),
            "process_seconds": _spread([r["process_seconds"] for r in runs[side]]),
            "process_cpu_seconds": _spread([r["process_cpu_seconds"] for r in runs[side]]),
        }
    for side in sides[1:]:
        # "lossbench": fit_ratio, ...; "lossbench OVERRIDES": the same keys in cell[side]
        target = cell if side == "lossbench" else cell[side]
        for key in ("fit_seconds", "fit_cpu_seconds", "process_seconds", "process_cpu_seconds"):
            values = [
                lb[key] / hand[key]
                for lb, hand in zip(runs[side], runs["hand"], strict=True)
                if lb[key] is not None and hand[key] is not None
            ]
            target[f"{key.removesuffix('_seconds')}_ratio"] = (
                _spread(values) | {"per_repeat": values} if values else None
            )
    return cell


def bench_fresh(settings: Settings, also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The fresh-process comparison at each batch size of ``settings``; ``also``: one more
    lossbench side per entry, with those overrides (see :func:`side_names`)."""
    env = os.environ | {"OMP_NUM_THREADS": str(settings.threads)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SCRIPTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return [bench_fresh_cell(b, settings, env, also) for b in settings.batch_sizes]


def _fmt(s: dict[str, float] | None, digits: int = 2) -> str:
    if s is None:
        return "-"
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def print_fresh(cells: list[dict[str, Any]], settings: Settings) -> None:
    """The fresh-process table: per step, per process, and the ratios."""
    print(
        f"\nA single run as a user starts it: a fresh `lossbench-train` process with its "
        f"defaults against a fresh\nprocess running the hand-written loop, OMP_NUM_THREADS="
        f"{settings.threads}, {settings.epochs} epochs, medians [min-max] over "
        f"{settings.repeats} repeat(s).\nfit = µs per optimizer step of the fit (lossbench: "
        "train_seconds / steps of metrics.json; hand-written:\nfit_seconds / steps), wall clock "
        "and process CPU; process = the whole process from start to exit\n(imports, data, fit, "
        "final evaluation, files), wall seconds and CPU seconds (getrusage of the child)."
    )
    sides = side_names(tuple(cells[0].get("also", ()))) if cells else SIDES
    width = max(12, *(len(side) for side in sides))
    labels = {"hand": "hand-written"}
    header = (
        f"{'batch':>5} {'steps':>5} | {'side':<{width}} | {'fit µs/step':>20} | "
        f"{'fit cpu µs/step':>20} | {'process s':>17} | {'process cpu s':>17}"
    )
    print(header)
    print("-" * len(header))
    for c in cells:
        for side in sides:
            s = c[side]
            print(
                f"{c['batch_size']:>5} {c['steps']:>5} | {labels.get(side, side):<{width}} | "
                f"{_fmt(s['fit_us_per_step'], 0):>20} | {_fmt(s['fit_cpu_us_per_step'], 0):>20} | "
                f"{_fmt(s['process_seconds']):>17} | {_fmt(s['process_cpu_seconds']):>17}"
            )
    print(
        "\nRatio lossbench / hand-written, per repeat, median [min-max]: fit (per optimizer "
        "step: both sides take\nthe same steps), fit cpu, whole process wall, whole process cpu."
    )
    header = (
        f"{'batch':>5} | {'side':<{width}} | {'fit':>17} | {'fit cpu':>17} | {'process':>17} | "
        f"{'process cpu':>17} | lossbench loops"
    )
    print(header)
    print("-" * len(header))
    for c in cells:
        for side in sides[1:]:
            r = c if side == "lossbench" else c[side]
            print(
                f"{c['batch_size']:>5} | {side:<{width}} | {_fmt(r['fit_ratio']):>17} | "
                f"{_fmt(r['fit_cpu_ratio']):>17} | {_fmt(r['process_ratio']):>17} | "
                f"{_fmt(r['process_cpu_ratio']):>17} | "
                f"training {c['training_loop']}, validation {c['validation_loop']}"
            )
    for c in cells:
        print(f"  {c['command']}\n  {c['hand_command']}")
