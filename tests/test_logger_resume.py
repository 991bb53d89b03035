"""Every logger holds the whole training of a run that was killed and resumed, as the run's
record does: TensorBoard, MLflow and W&B, not only ``metrics.csv``; and a parallel sweep on a
new MLflow store completes every job."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from cli_process import run_module, run_patched_train

#: A short run of Lightning's loop: breast_cancer in batches of 128 is 3 steps an epoch.
RUN = (
    "data=breast_cancer",
    "data.batch_size=128",
    "runner=lightning",
    "trainer.max_epochs=4",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)
#: Run first in the child: SIGKILL this process at the end of epoch SIGNAL_EPOCH, right after
#: its last.ckpt is on disk (before Lightning logs the epoch's training metrics), or with
#: KILL_BEFORE=1 right before it is written (after the epoch was logged).
KILL_AT_EPOCH_END = """
import os, signal
from lossbench.callbacks import BestAndLastCheckpoint
_end = BestAndLastCheckpoint.on_train_epoch_end
def _killing_end(self, trainer, module):
    at = trainer.current_epoch == int(os.environ['SIGNAL_EPOCH'])
    if not (at and os.environ.get('KILL_BEFORE')):
        _end(self, trainer, module)
    if at:
        getattr(trainer.strategy.checkpoint_io, 'wait', lambda: None)()  # last.ckpt on disk
        os.kill(os.getpid(), signal.SIGKILL)
BestAndLastCheckpoint.on_train_epoch_end = _killing_end
"""


def _train(*args: str, patch: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """``lossbench-train ARGS`` in a fresh process after ``patch``, W&B offline, with ``env``
    set."""
    wandb = {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    return run_patched_train(*args, patch=patch, extra_env={**wandb, **env})


def _killed_then_resumed(run_dir: Path, *args: str, **env: str) -> dict:
    """Train ``args`` in ``run_dir`` killed as ``env`` says (:data:`KILL_AT_EPOCH_END`), then
    resume it with ``ckpt_path=last``; the resumed run's record."""
    killed = _train(*RUN, *args, f"hydra.run.dir={run_dir}", patch=KILL_AT_EPOCH_END, **env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _train(*RUN, *args, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    return json.loads((run_dir / "metrics.json").read_text())


def _tensorboard(folder: Path, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` of each point of ``tag`` TensorBoard shows for ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def _mlflow(store: str, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` of each point of ``tag`` in the one MLflow run of ``store``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("lossbench")
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, tag)
    return sorted((metric.step, metric.value) for metric in history)


@pytest.mark.slow  # two runs of a few seconds each
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside mlflow
@pytest.mark.parametrize("loggers", ["[csv,tensorboard,mlflow]", "[tensorboard,mlflow]"])
def test_a_run_killed_after_its_checkpoint_logs_the_epochs_training_row_to_every_logger(
    tmp_path, loggers
):
    """Lightning writes last.ckpt, then logs the epoch's train/* metrics: a run killed in
    between and resumed logs that epoch's training row to TensorBoard and MLflow too, at the
    step the uninterrupted run logs it (they lacked it: steps 2, 5, 11, no 8), whether a CSV
    file tells that it is missing or the loggers' own stores do."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    run_dir = tmp_path / "run"
    args = (f"logger={loggers}", f"logger.mlflow.tracking_uri={store}")
    record = _killed_then_resumed(run_dir, *args, SIGNAL_EPOCH="2")
    losses = record["history"]["train/loss"]
    for points in (
        _tensorboard(run_dir / "tensorboard", "train/loss"),
        _mlflow(store, "train/loss"),
    ):
        assert [step for step, _ in points] == [2, 5, 8, 11]
        assert [value for _, value in points] == pytest.approx(losses)


@pytest.mark.slow  # two runs of a few seconds each
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside mlflow
def test_a_run_killed_before_its_checkpoint_logs_each_epoch_once_to_mlflow(tmp_path):
    """A run killed after logging an epoch and before its last.ckpt trains that epoch again
    when resumed: MLflow holds each epoch's point once (it held epoch 2's twice, at step 8),
    as TensorBoard and metrics.csv do."""
    pytest.importorskip("mlflow")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    args = ("logger=mlflow", f"logger.mlflow.tracking_uri={store}")
    record = _killed_then_resumed(tmp_path / "run", *args, SIGNAL_EPOCH="2", KILL_BEFORE="1")
    for tag in ("val/nll", "train/loss"):
        points = _mlflow(store, tag)
        assert [step for step, _ in points] == [2, 5, 8, 11], tag
        assert [value for _, value in points] == pytest.approx(record["history"][tag]), tag


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside wandb
def test_a_resumed_run_logs_on_into_its_wandb_run(make_cfg, tmp_path, monkeypatch):
    """A run resumed with ckpt_path=last logs into the W&B run its run directory holds (the
    same run id), as logger=mlflow does; another run directory is another W&B run."""
    pytest.importorskip("wandb")
    from lossbench.training import train

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = ("data=iris", "head=logits", "loss=cross_entropy", "logger=wandb")
    train(make_cfg(*run, "trainer.max_epochs=1"), tmp_path / "run")
    (tmp_path / "run" / "metrics.json").unlink()  # what a killed run leaves
    train(make_cfg(*run, "trainer.max_epochs=2", "ckpt_path=last"), tmp_path / "run")
    train(make_cfg(*run, "trainer.max_epochs=1"), tmp_path / "other")

    def ids(run_dir: Path) -> list[str]:  # each W&B run's file: run-<id>.wandb
        files = sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
        return [path.stem.removeprefix("run-") for path in files]

    (first, resumed) = ids(tmp_path / "run")
    assert first == resumed
    assert ids(tmp_path / "other") != [first]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside mlflow
@pytest.mark.slow
def test_the_launching_process_creates_the_mlflow_store_and_experiment(make_cfg, tmp_path):
    """A sweep's launching process creates a new MLflow store (its tables) and experiment
    before its jobs start, which each created them at once and failed; other loggers need
    none."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from lossbench.mlflow_store import prepare_stores

    store = f"sqlite:///{tmp_path}/new/mlflow.db"
    cfg = make_cfg("logger=[csv,mlflow]", f"logger.mlflow.tracking_uri={store}")
    assert prepare_stores(cfg) == [store]
    experiment = MlflowClient(tracking_uri=store).get_experiment_by_name("lossbench")
    assert experiment.artifact_location == (tmp_path / "new" / "mlartifacts").as_uri()
    assert prepare_stores(cfg) == [store]  # again: the same store, kept
    assert prepare_stores(make_cfg("logger=many")) == []


@pytest.mark.slow  # a sweep of two parallel jobs
def test_a_parallel_sweep_on_a_new_mlflow_store_completes_every_job(tmp_path):
    """Two joblib workers starting together on a new MLflow store each completed (one failed
    creating the store's tables: alembic's "Online migration expected to match one row")."""
    pytest.importorskip("mlflow")
    sweep = tmp_path / "sweep"
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=parallel",
        "hydra.launcher.n_jobs=2",
        "logger=mlflow",
        "seed=0,1",
        *RUN[:2],
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={sweep}",
        f"paths.output_dir={tmp_path / 'out'}",
        extra_env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")]
    assert [r["status"] for r in records] == ["completed", "completed"], result.stderr
