"""The record a run starts with: what it is, and ``status: failed`` until it ends.

A run alone (:func:`lossbench.training.train`) and a group's member
(:mod:`lossbench.vectorized.run`) fill it in as they train; the launching process of the
vectorized launcher writes it, with the ``error`` that stopped them, for the jobs that a
worker's death left without a record (:mod:`lossbench.worker_records`). It imports no torch or
Lightning: a launching process that writes those records has none imported.

    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({"data": {"name": "iris"}, "seed": 0, "trainer": {}})
    >>> record = base_record(cfg, "multiclass")
    >>> record["status"], record["data"], record["model"], record["debug_run"]
    ('failed', 'iris', None, None)
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from lossbench.record import debug_settings

__all__ = ["base_record"]


def base_record(cfg: DictConfig, task: str | None) -> dict[str, Any]:
    """The record of a run before it trains: what it is, and ``status: failed`` until it ends.
    ``debug_run``: the Lightning debug settings it trains with (:func:`~lossbench.record.
    debug_settings`), null for an ordinary run."""

    def value(key: str) -> Any:  # a value that cannot be resolved is refused later: None here
        return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)

    try:
        debug = debug_settings(cfg.get("trainer"))
    except InterpolationResolutionError:
        debug = None
    return {
        "status": "failed",
        "error": None,
        "debug_run": debug,
        "task": task,
        "data": value("data.name"),
        "model": value("model.name"),
        "head": value("head.name"),
        "loss": value("loss.name"),
        "setup": value("setup"),
        "seed": value("seed"),
        "epochs": 0,
        "steps": 0,
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "stopped_by": "failed",
    }
