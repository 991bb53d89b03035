"""``--alternate``: the ``--fresh`` comparison in one warm process, the sides taking turns.

    .venv/bin/python scripts/benchmark.py --alternate                  # 10 turns per side
    .venv/bin/python scripts/benchmark.py --alternate --fresh-also checkpoint.write=never

Fresh processes (``--fresh``) time what a user gets, but on a shared machine one process runs
tens of percent faster or slower than the next, which hides a difference of a few percent.
Here one process composes each side's config once (the same overrides as ``--fresh``), warms
each side up once, then runs the sides in turn (the order reversed every other turn), each fit
right after the other's, so the machine's drift touches every side alike:

- **hand-written**: :func:`bench.reference.run_reference` (torch's default Adam, ``x[order]``,
  validation every epoch, the best weights kept in memory); its ``fit_seconds``.
- **lossbench**: :func:`lossbench.training.train` as ``lossbench-train`` calls it for a single
  run (``multirun=False``: the progress bar on, written to ``/dev/null``; checkpoints every
  epoch; the CSV logger) into a new temporary directory; the record's ``train_seconds``.
- **lossbench OVERRIDES**: the same with those overrides added (``--fresh-also``).
- **hand-written checkpoints** (``--hand-checkpoints``): the hand-written loop writing what
  resuming needs every epoch, as lossbench's default does (:func:`bench.reference.
  run_reference` with ``checkpoint_dir``: ``torch.save`` of the weights and the optimizer's
  state into a temporary directory, renamed into place; the best as a copy), still against the
  plain loop: what a resumable checkpoint every epoch costs without Lightning.

What it leaves out: each process's imports, start-up and exit (the fresh processes show
those). Printed per side: fit per optimizer step, median [min-max] over the turns, and the
ratio to the hand-written fit of the same turn. Nothing here asserts a speed.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from bench.fresh import overrides, same_steps, side_names
from bench.reference import run_reference
from bench.settings import Settings
from lossbench.train import config_dir

#: The hand-written loop that writes resumable checkpoints every epoch (``--hand-checkpoints``).
HAND_CHECKPOINTS = "hand checkpoints"


def side_config(side: str, batch_size: int, settings: Settings) -> DictConfig:
    """The config ``lossbench-train`` composes for ``side`` (``"hand"``, ``"hand checkpoints"``,
    ``"lossbench"`` or ``"lossbench OVERRIDES"``): ``--fresh``'s overrides, plus the side's own."""
    own = side.split()[1:] if side.startswith("lossbench") else []
    args = [*overrides(batch_size, settings), *own]
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return compose("train", overrides=args)


def _hand(cfg: DictConfig) -> dict[str, Any]:
    result = run_reference(cfg)
    return {key: result[key] for key in ("fit_seconds", "steps", "test/nll")}


def _lossbench(cfg: DictConfig) -> dict[str, Any]:
    """One single run as ``lossbench-train`` makes it, its progress bar drawn to /dev/null."""
    from lossbench.training import train

    with (
        tempfile.TemporaryDirectory(prefix="lossbench-alternate-") as tmp,
        open(os.devnull, "w") as sink,
        redirect_stderr(sink),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        record = train(cfg, Path(tmp) / "run", multirun=False)
    if record["status"] != "completed":
        raise RuntimeError(f"lossbench run failed: {record.get('error')}")
    return {
        "fit_seconds": float(record["train_seconds"]),
        "steps": int(record["steps"]),
        "test/nll": float(record["test/nll"]),
    }


def _hand_checkpoints(cfg: DictConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lossbench-alternate-hand-") as tmp:
        result = run_reference(cfg, checkpoint_dir=Path(tmp))
    return {key: result[key] for key in ("fit_seconds", "steps", "test/nll")}


def _runner(side: str) -> Callable[[DictConfig], dict[str, Any]]:
    return {"hand": _hand, HAND_CHECKPOINTS: _hand_checkpoints}.get(side, _lossbench)


def alternate_sides(also: tuple[str, ...] = (), hand_checkpoints: bool = False) -> tuple[str, ...]:
    """The sides of ``--alternate``: :func:`bench.fresh.side_names`, with the hand-written
    loop that writes checkpoints second where ``hand_checkpoints``.

        >>> alternate_sides(("checkpoint.write=never",), hand_checkpoints=True)
        ('hand', 'hand checkpoints', 'lossbench', 'lossbench checkpoint.write=never')
    """
    first, *rest = side_names(also)
    return (first, *([HAND_CHECKPOINTS] if hand_checkpoints else []), *rest)


def bench_alternate_cell(
    batch_size: int,
    settings: Settings,
    also: tuple[str, ...] = (),
    hand_checkpoints: bool = False,
) -> dict[str, Any]:
    """Every side at one batch size: one warm-up each, then ``settings.repeats`` turns."""
    sides = alternate_sides(also, hand_checkpoints)
    cfgs = {side: side_config(side, batch_size, settings) for side in sides}
    for side in sides:
        _runner(side)(cfgs[side])
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for turn in range(settings.repeats):
        for side in sides if turn % 2 == 0 else sides[::-1]:
            runs[side].append(_runner(side)(cfgs[side]))
    steps = same_steps(batch_size, runs)
    cell: dict[str, Any] = {
        "batch_size": batch_size,
        "steps": steps["hand"],
        "also": list(also),
        "hand_checkpoints": hand_checkpoints,
        # The same data, model, optimizer settings and seed: the same test loss, nearly.
        "max_abs_diff_test_nll": max(
            abs(r["test/nll"] - hand["test/nll"])
            for side in sides[1:]
            for r, hand in zip(runs[side], runs["hand"], strict=True)
        ),
    }
    for side in sides:
        per_step = [r["fit_seconds"] / r["steps"] * 1e6 for r in runs[side]]
        ratios = [
            r["fit_seconds"] / hand["fit_seconds"]
            for r, hand in zip(runs[side], runs["hand"], strict=True)
        ]
        cell[side] = {
            "fit_us_per_step": _spread(per_step),
            "fit_ratio": _spread(ratios) | {"per_turn": ratios},
        }
    return cell


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_alternate(
    settings: Settings, also: tuple[str, ...] = (), hand_checkpoints: bool = False
) -> list[dict[str, Any]]:
    """The in-process comparison at each batch size of ``settings``."""
    cells = []
    for batch_size in settings.batch_sizes:
        start = time.perf_counter()
        cells.append(bench_alternate_cell(batch_size, settings, also, hand_checkpoints))
        print(
            f"  batch {batch_size:>5}: {settings.repeats} turns per side in "
            f"{time.perf_counter() - start:.0f} s; load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    return cells


def print_alternate(cells: list[dict[str, Any]], settings: Settings) -> None:
    """Per batch size and side: fit per optimizer step and the ratio to the hand-written loop."""
    print(
        f"\nA single run's fit in one process, the sides taking turns ({settings.repeats} "
        f"turns, {settings.epochs} epochs, torch threads {settings.threads}): lossbench's "
        "train() as lossbench-train\ncalls it (progress bar, checkpoints every epoch, CSV "
        "logger) against the hand-written loop; median [min-max]."
    )
    sides = alternate_sides(tuple(cells[0]["also"]), cells[0]["hand_checkpoints"]) if cells else ()
    width = max(12, *(len(side) for side in sides)) if sides else 12
    header = f"{'batch':>5} {'steps':>5} | {'side':<{width}} | {'fit µs/step':>20} | {'ratio':>17}"
    print(header)
    print("-" * len(header))
    for c in cells:
        for side in sides:
            s = c[side]
            per_step, ratio = s["fit_us_per_step"], s["fit_ratio"]
            label = "hand-written" if side == "hand" else side
            print(
                f"{c['batch_size']:>5} {c['steps']:>5} | {label:<{width}} | "
                f"{per_step['median']:>8.0f} [{per_step['min']:.0f}-{per_step['max']:.0f}] | "
                f"{ratio['median']:>5.3f} [{ratio['min']:.2f}-{ratio['max']:.2f}]"
            )
