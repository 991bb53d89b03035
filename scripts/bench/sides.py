"""lossbench's side (``train()``, as every sweep job runs it) and the runner of each side."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning
from omegaconf import DictConfig

from bench.reference import run_reference
from bench.settings import LOSSBENCH_SIDES
from lossbench.training import train


@contextmanager
def fit_cpu_clock(out: dict[str, float]) -> Iterator[None]:
    """Add the process CPU seconds spent in ``lightning.Trainer.fit`` to ``out["fit_cpu_seconds"]``.

    ``train_seconds`` is the wall clock of that same call; its CPU time does not count the turns
    other processes take on a shared machine. The wrapper only reads the clock around the call.
    If lossbench stops calling ``Trainer.fit``, nothing is added (the key stays absent).
    """
    original = lightning.pytorch.Trainer.fit

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            out["fit_cpu_seconds"] = out.get("fit_cpu_seconds", 0.0) + time.process_time() - start

    lightning.pytorch.Trainer.fit = fit
    try:
        yield
    finally:
        lightning.pytorch.Trainer.fit = original


def run_lossbench(cfg: DictConfig) -> dict[str, Any]:
    """lossbench's own path: ``train(cfg, tmpdir, multirun=True)``, as each sweep job runs it."""
    clock: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lossbench-bench-") as tmp, fit_cpu_clock(clock):
        wall_start = time.perf_counter()
        record = train(cfg, Path(tmp) / "run", multirun=True)
        wall_seconds = time.perf_counter() - wall_start
    if record["status"] != "completed":
        raise RuntimeError(f"lossbench run failed: {record['error']}")
    return {
        "fit_seconds": float(record["train_seconds"]),
        "fit_cpu_seconds": clock.get("fit_cpu_seconds"),
        "wall_seconds": wall_seconds,
        "steps": int(record["steps"]),
        "n_train": int(record["sizes"]["train"]),
        "val_nll_history": list(record["history"]["val/nll"]),
        "test/nll": float(record["test/nll"]),
    }


RUNNERS: dict[str, Callable[[DictConfig], dict[str, Any]]] = {
    "reference": run_reference,
    "reference_fused": lambda cfg: run_reference(cfg, fused=True),
    **dict.fromkeys(LOSSBENCH_SIDES, run_lossbench),
}
