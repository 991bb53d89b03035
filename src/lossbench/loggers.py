"""Logger factories that need more than Lightning's constructor (configs/logger/).

lossbench-train logger=mlflow          # metrics of every run in outputs/mlflow.db
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def mlflow_logger(
    *,
    tracking_uri: str,
    experiment_name: str,
    run_name: str | None = None,
    log_model: bool = False,
    tags: Mapping[str, Any] | None = None,
) -> Any:
    """``MLFlowLogger`` whose local SQLite store gets its directory created, and its artifacts
    (``log_model=true``) a folder beside the store instead of ``./mlruns`` in the cwd."""
    from lightning.pytorch.loggers import MLFlowLogger

    artifacts = None
    if tracking_uri.startswith("sqlite:///"):  # SQLite creates the file, not its directory
        store = Path(tracking_uri.removeprefix("sqlite:///")).parent
        store.mkdir(parents=True, exist_ok=True)
        artifacts = (store / "mlartifacts").resolve().as_uri()
    return MLFlowLogger(
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=tracking_uri,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        log_model=log_model,
        artifact_location=artifacts,
    )
