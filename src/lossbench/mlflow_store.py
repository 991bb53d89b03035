"""MLflow's local store, made ready once before the runs that log to it start.

    lossbench-train -m hydra/launcher=parallel logger=mlflow seed=0,1   # a new outputs/mlflow.db

An MLflow client creates the tables of a new SQLite store, and the experiment, the first time it
opens them: the jobs of a parallel sweep starting together on a new store would each create them
at once, and all but one fail (alembic's "Online migration expected to match one row", "table
... already exists", a second experiment of the same name). :func:`prepare_stores` creates them
in the launching process, before any job starts; mlflow is imported only when a logger of the
config is MLflow's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

#: The target of lossbench's MLflow logger (configs/logger/mlflow.yaml).
MLFLOW_TARGET = "lossbench.loggers.mlflow_logger"


def artifact_location(tracking_uri: str) -> str | None:
    """The folder beside a local SQLite store where its runs keep their artifacts (as a URI),
    instead of ``./mlruns`` in the cwd; None for another store.

        >>> artifact_location("sqlite:////data/mlflow.db")
        'file:///data/mlartifacts'
        >>> artifact_location("http://host:5000") is None
        True
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return (sqlite_folder(tracking_uri) / "mlartifacts").resolve().as_uri()


def sqlite_folder(tracking_uri: str) -> Path:
    """The folder of the SQLite file of ``sqlite:///<file>`` (SQLite creates the file, not its
    folder).

        >>> sqlite_folder("sqlite:///outputs/mlflow.db")
        PosixPath('outputs')
    """
    return Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]).expanduser().parent


def local_store(tracking_uri: str) -> bool:
    """Whether ``tracking_uri`` is a store on this machine that the first client to open it
    creates: a ``sqlite:///`` file (not in memory) or a ``file:`` folder.

        >>> [local_store(u) for u in ("sqlite:///o/m.db", "file:///o/mlruns", "http://h:5000")]
        [True, True, False]
    """
    if tracking_uri.startswith("sqlite:///"):
        return tracking_uri.removeprefix("sqlite:///").split("?", 1)[0] not in ("", ":memory:")
    return tracking_uri.startswith("file:")


def prepare_store(tracking_uri: str, experiment_name: str) -> None:
    """Create the store of ``tracking_uri`` (its folder, a SQLite file's tables) and the
    experiment ``experiment_name`` in it, where missing; call it before several processes
    open the store at once.

        prepare_store("sqlite:///outputs/mlflow.db", "lossbench")  # outputs/mlflow.db, ready
    """
    from mlflow.tracking import MlflowClient

    from lossbench.messages import quiet_mlflow

    quiet_mlflow()  # no INFO lines about the new store's tables
    if tracking_uri.startswith("sqlite:///"):
        sqlite_folder(tracking_uri).mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=tracking_uri)  # a new SQLite store: its tables
    if client.get_experiment_by_name(experiment_name) is None:
        client.create_experiment(experiment_name, artifact_location=artifact_location(tracking_uri))


def prepare_stores(cfg: DictConfig) -> list[str]:
    """:func:`prepare_store` for each MLflow logger of ``cfg`` (:data:`MLFLOW_TARGET`) whose
    store is local (:func:`local_store`); return their URIs. A config without one imports
    nothing. A value that cannot be resolved is left out (validation refuses it).

        >>> from omegaconf import OmegaConf
        >>> prepare_stores(OmegaConf.create({"logger": {"csv": {"_target_": "x.CSVLogger"}}}))
        []
    """
    from lossbench.instantiators import entries

    prepared = []
    for _, node in entries(cfg.get("logger")):
        store = _store_of(node)
        if store is not None and store[0] not in prepared:
            prepare_store(*store)
            prepared.append(store[0])
    return prepared


def _store_of(node: Any) -> tuple[str, str] | None:
    """``(tracking_uri, experiment_name)`` of an MLflow logger entry with a local store."""
    if not isinstance(node, DictConfig) or node.get("_target_") != MLFLOW_TARGET:
        return None
    try:
        uri, name = str(node.get("tracking_uri")), str(node.get("experiment_name"))
    except Exception:  # an interpolation that cannot be resolved: validate's refusal
        return None
    return (uri, name) if local_store(uri) else None
