"""``--fresh-parts``: where a fresh default ``lossbench-train`` run's fit goes, epoch by epoch.

    .venv/bin/python scripts/benchmark.py --fresh-parts --batch-sizes 1024 --repeats 6

Each repeat is a new process (``python -m bench.fresh_parts OVERRIDES``) that starts
``lossbench-train`` as ``--fresh`` does (its defaults: progress bar, checkpoints every epoch,
the CSV logger), with ``time.perf_counter`` timers around the parts of the fit: the epoch's
training steps (``EpochModule.training_step``), its inline validation, the training epoch's
end, the checkpoint callback; and per fit, Lightning's logging bookkeeping, the loggers' saves
and the checkpoint dumps. Printed per batch size: medians [min-max] over the repeats, in
milliseconds.

``fit / steps`` (the fit's wall time over the sum of its epochs' training steps) is the figure
to compare between two versions: the steps are the same arithmetic in both, so it divides out
the speed of the process, which on a shared machine moves by tens of percent from one process
to the next. Run a version with ``PYTHONPATH=<its tree>/src`` to compare it. The timers cost a
few microseconds a call. Nothing here asserts a speed.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fresh import SCRIPTS, overrides
from bench.settings import Settings

#: Per epoch: label -> (module, class, method).
EPOCH_PARTS = {
    "steps": ("lossbench.runners.epoch", "EpochModule", "training_step"),
    "validation": ("lossbench.runners.epoch", "EpochModule", "on_train_batch_end"),
    "train epoch end": ("lossbench.runners.epoch", "EpochModule", "on_train_epoch_end"),
    "checkpoint": ("lossbench.callbacks", "BestAndLastCheckpoint", "on_train_epoch_end"),
}
#: Per fit, summed: label -> (module, class, method).
FIT_PARTS = {
    "self.log": ("lightning.pytorch.core.module", "LightningModule", "log_dict"),
    "results reset": (
        "lightning.pytorch.trainer.connectors.logger_connector.logger_connector",
        "_LoggerConnector",
        "reset_results",
    ),
    "logger saves": ("lightning.pytorch.loggers.csv_logs", "CSVLogger", "save"),
    "checkpoint dumps": (
        "lightning.pytorch.trainer.connectors.checkpoint_connector",
        "_CheckpointConnector",
        "dump_checkpoint",
    ),
}


def _timed(owner: type, name: str, seconds: list[float]) -> None:
    """Wrap ``owner.name`` so that each call appends its wall seconds to ``seconds``."""
    method: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)

    setattr(owner, name, timed)


def _owner(module: str, cls: str) -> type:
    return getattr(importlib.import_module(module), cls)


def measure(argv: list[str]) -> dict[str, Any]:
    """Run ``lossbench-train ARGV`` in this process with the parts timed; their times in ms."""
    import lightning.pytorch as pl

    from lossbench.commands import train

    seconds: dict[str, list[float]] = {label: [] for label in (*EPOCH_PARTS, *FIT_PARTS)}
    for label, (module, cls, name) in {**EPOCH_PARTS, **FIT_PARTS}.items():
        _timed(_owner(module, cls), name, seconds[label])
    fit: list[float] = []
    _timed(pl.Trainer, "fit", fit)
    sys.argv = ["lossbench-train", *argv]
    try:
        train()
    except SystemExit as stop:
        if stop.code:
            raise
    steps = seconds["steps"]
    result: dict[str, Any] = {"fit": fit[0] * 1e3, "epochs": len(steps)}
    result["fit / steps"] = fit[0] / sum(steps)
    for label in EPOCH_PARTS:
        # A part the run never called (the checkpoint callback with checkpoint.write=never): 0.
        result[f"{label} / epoch"] = statistics.median(seconds[label] or [0.0]) * 1e3
    for label in FIT_PARTS:
        result[f"{label} / fit"] = sum(seconds[label]) * 1e3
    return result


def bench_fresh_parts(settings: Settings) -> dict[int, list[dict[str, Any]]]:
    """``settings.repeats`` fresh processes per batch size, each timing its own parts."""
    env = {**os.environ, "OMP_NUM_THREADS": str(settings.threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    results: dict[int, list[dict[str, Any]]] = {}
    for batch_size in settings.batch_sizes:
        results[batch_size] = []
        for _ in range(settings.repeats):
            with tempfile.TemporaryDirectory(prefix="lossbench-parts-") as tmp:
                args = [*overrides(batch_size, settings), f"hydra.run.dir={Path(tmp) / 'run'}"]
                cmd = [sys.executable, "-m", "bench.fresh_parts", *args]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
            results[batch_size].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def print_fresh_parts(results: dict[int, list[dict[str, Any]]], settings: Settings) -> None:
    print(
        f"\nWhere a fresh default lossbench-train run's fit goes ({settings.epochs} epochs, "
        f"OMP_NUM_THREADS={settings.threads}), median [min-max] over {settings.repeats} "
        "process(es), ms (fit / steps: a ratio)."
    )
    for batch_size, runs in results.items():
        print(f"batch {batch_size}:")
        for key in runs[0]:
            values = [run[key] for run in runs]
            print(
                f"  {key:24s} {statistics.median(values):9.3f} "
                f"[{min(values):.3f}-{max(values):.3f}]"
            )


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1:])))
