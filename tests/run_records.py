"""Run directories written by hand, as lossbench-train leaves them: ``metrics.json`` and
``config.yaml``, for report tests that need no training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def reliability(seed: int) -> dict[str, list]:
    count = [0] * 15
    count[10 + seed] = 4
    confidence = [None if c == 0 else 0.70 + 0.067 * seed for c in count]
    accuracy = [None if c == 0 else 0.75 for c in count]
    return {"confidence": confidence, "accuracy": accuracy, "count": count}


def write_run(
    directory: Path,
    *,
    data: str,
    task: str | None,
    head: str,
    loss: str,
    seed: int,
    metrics: dict[str, float] | None = None,
    error: str | None = None,
    setup: str | None = None,
    loss_params: dict[str, Any] | None = None,
    config: bool = True,
    lr: float = 0.001,
    stopped_by: str = "early_stopping",
    history: dict[str, list[float]] | None = None,
    early_stopping: dict[str, Any] | None = None,
    max_epochs: int = 3,
) -> Path:
    """A run directory as lossbench-train leaves it (failed when ``error`` is given);
    ``early_stopping``: the config's ``early_stopping`` settings (none written without it);
    ``max_epochs``: the config's ``trainer.max_epochs``."""
    directory.mkdir(parents=True)
    record: dict[str, Any] = {
        "status": "failed" if error else "completed",
        "error": error,
        "task": task,
        "data": data,
        "model": "mlp",
        "head": head,
        "loss": loss,
        "setup": setup,
        "seed": seed,
        "epochs": 0 if error else 3,
        "steps": 0 if error else 9,
        "train_seconds": 0.0 if error else 1.5,
        "stopped_by": "failed" if error else stopped_by,
    }
    if metrics is not None:
        record.update(metrics)
        nll = metrics.get("val/nll", metrics.get("test/nll", 0.5))
        record["history"] = history or {"val/nll": [nll + 0.2, nll + 0.1, nll]}
        record["test_reliability"] = reliability(seed)
    (directory / "metrics.json").write_text(json.dumps(record))
    if config:
        cfg = {
            "data": {"name": data, "batch_size": 128},
            "model": {"name": "mlp", "hidden_sizes": [64, 64]},
            "optimizer": {"name": "adam", "lr": lr},
            "head": {"name": head},
            "loss": {"name": loss, "reduction": "mean", **(loss_params or {})},
            "trainer": {"max_epochs": max_epochs, "enable_progress_bar": None},
            "logger": {"name": "csv"},
            "setup": setup,
            "seed": seed,
            "ckpt_path": None,
        }
        if early_stopping is not None:
            cfg["early_stopping"] = early_stopping
            cfg["optimized_metric"] = "val/nll"
        (directory / "config.yaml").write_text(yaml.safe_dump(cfg))
    return directory
