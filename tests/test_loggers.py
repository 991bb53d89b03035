"""Loggers write the run's metrics where users look for them: TensorBoard events, MLflow."""

from __future__ import annotations

import pytest

from lossbench.training import train


def test_tensorboard_writes_every_epoch_of_the_metrics(make_cfg, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg("data=iris", "head=logits", "loss=cross_entropy", "logger=tensorboard")
    record = train(cfg, tmp_path)
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    accumulator = EventAccumulator(str(tmp_path / "tensorboard"))  # reads every event file
    accumulator.Reload()
    scalars = accumulator.Tags()["scalars"]
    assert {"train/loss", "val/nll", "val/accuracy", "test/nll"} <= set(scalars)
    assert len(accumulator.Scalars("train/loss")) == record["epochs"] == 2
    assert accumulator.Scalars("test/nll")[-1].value == pytest.approx(record["test/nll"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside mlflow
def test_mlflow_records_the_run_in_a_local_sqlite_store(make_cfg, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # the default store is outputs/mlflow.db, relative to the cwd
    cfg = make_cfg("data=iris", "head=logits", "loss=cross_entropy", "logger=mlflow", "seed=3")
    assert cfg.logger.mlflow.tracking_uri == "sqlite:///outputs/mlflow.db"
    record = train(cfg, tmp_path / "run")

    assert (tmp_path / "outputs" / "mlflow.db").is_file()
    assert not (tmp_path / "mlruns").exists()
    client = MlflowClient(tracking_uri="sqlite:///outputs/mlflow.db")
    experiment = client.get_experiment_by_name("lossbench")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "iris_logits_cross_entropy"
    assert run.data.tags["run_dir"] == str(tmp_path / "run") and run.data.tags["seed"] == "3"
    assert run.data.params["head"] == "logits"
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.value for m in history] == pytest.approx(record["history"]["train/loss"])
    assert run.data.metrics["test/nll"] == pytest.approx(record["test/nll"])
