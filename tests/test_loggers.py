"""Loggers write the run's metrics where users look for them: TensorBoard events, MLflow."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

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
    assert "hp_metric" not in scalars  # Lightning's placeholder -1 at step 0
    assert len(accumulator.Scalars("train/loss")) == record["epochs"] == 2
    assert accumulator.Scalars("test/nll")[-1].value == pytest.approx(record["test/nll"])


def test_tensorboards_hparams_view_gets_each_runs_settings_and_final_scores(make_cfg, tmp_path):
    """TensorBoard's HParams view lists the run: its head, loss, rate, data set, split seed and
    seed, with its best validation and test metrics (scalars the run logged, read by tag);
    the CSV logger's hparams.yaml and the checkpoint hold the data settings and seed too."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    cfg = make_cfg(
        "data=iris",
        "head=logits",
        "loss=cross_entropy",
        "logger=many",
        "seed=3",
        "data.split_seed=2",
        "optimizer.lr=0.02",
    )
    record = train(cfg, tmp_path)
    accumulator = EventAccumulator(str(tmp_path / "tensorboard"))
    accumulator.Reload()
    sessions = [
        plugin_data_pb2.HParamsPluginData.FromString(content)
        for content in accumulator.PluginTagToContent("hparams").values()
    ]
    (start,) = [s.session_start_info for s in sessions if s.HasField("session_start_info")]
    (experiment,) = [s.experiment for s in sessions if s.HasField("experiment")]
    hparams = start.hparams
    assert (hparams["data/name"].string_value, hparams["head"].string_value) == ("iris", "logits")
    assert hparams["loss/name"].string_value == "cross_entropy"
    assert (hparams["seed"].number_value, hparams["data/split_seed"].number_value) == (3, 2)
    assert hparams["optimizer/lr"].number_value == pytest.approx(0.02)
    metrics = {info.name.tag for info in experiment.metric_infos}
    assert {"best/val/nll", "test/nll", "test/accuracy"} <= metrics
    assert metrics <= set(accumulator.Tags()["scalars"])  # each metric's value is a logged scalar
    assert len(accumulator.Scalars("test/nll")) == 1  # the session logs no second point
    assert accumulator.Scalars("best/val/nll")[0].value == pytest.approx(record["val/nll"])

    logged = yaml.safe_load((tmp_path / "logs" / "hparams.yaml").read_text())
    assert (logged["data"]["name"], logged["data"]["split_seed"], logged["seed"]) == ("iris", 2, 3)
    checkpoint = torch.load(record["best_checkpoint"], weights_only=True)
    assert checkpoint["datamodule_hyper_parameters"] == {"data": logged["data"], "seed": 3}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy, inside mlflow
@pytest.mark.slow  # MLflow's import and its new store's tables: 6-10 s
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
    assert (run.data.tags["data"], run.data.tags["split_seed"]) == ("iris", "0")
    assert run.data.params["head"] == "logits"
    assert (run.data.params["data/name"], run.data.params["seed"]) == ("iris", "3")
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.value for m in history] == pytest.approx(record["history"]["train/loss"])
    assert run.data.metrics["test/nll"] == pytest.approx(record["test/nll"])


@pytest.mark.slow  # a few seconds of training; the default suite keeps the fast checks
def test_a_resumed_run_logs_on_into_its_mlflow_run(make_cfg, tmp_path):
    """A run killed after 3 of 5 epochs and resumed with ckpt_path=last is one MLflow run with
    every epoch, as its record is (it was a second run with the last 2 epochs only); a run
    trained on in a new directory is a run of its own."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path}/mlflow.db"  # MLflow keeps a store per URI, whatever the cwd
    run = ("data=iris", "head=logits", "loss=cross_entropy", "logger=mlflow",
           f"logger.mlflow.tracking_uri={store}")  # fmt: skip
    train(make_cfg(*run, "trainer.max_epochs=3"), tmp_path / "run")
    (tmp_path / "run" / "metrics.json").unlink()  # what a killed run leaves
    record = train(make_cfg(*run, "trainer.max_epochs=5", "ckpt_path=last"), tmp_path / "run")
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("lossbench")
    (logged,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(logged.info.run_id, "val/nll")
    assert [m.value for m in history] == pytest.approx(record["history"]["val/nll"])
    assert logged.info.status == "FINISHED"
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    train(make_cfg(*run, "trainer.max_epochs=6", f"ckpt_path={last}"), tmp_path / "on")
    assert len(client.search_runs([experiment.experiment_id])) == 2


@pytest.mark.slow  # a few seconds of training; the default suite keeps the fast checks
def test_a_resumed_run_hides_the_tensorboard_points_logged_after_its_checkpoint(make_cfg, tmp_path):
    """A run killed after it logged epochs its checkpoint does not hold (an epoch whose
    checkpoint was still being written, a validation within an epoch) logs them again when
    resumed: TensorBoard shows each epoch once, the resumed run's values (it showed both)."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = ("data=iris", "head=logits", "loss=cross_entropy", "logger=tensorboard",
           "trainer.max_epochs=4")  # fmt: skip
    ckpts = tmp_path / "run" / "checkpoints"
    train(make_cfg(*run, "trainer.max_epochs=2"), tmp_path / "run")
    shutil.copy(ckpts / "last.ckpt", tmp_path / "epoch1.ckpt")
    (tmp_path / "run" / "metrics.json").unlink()
    train(make_cfg(*run, "ckpt_path=last"), tmp_path / "run")  # logs epochs 2 and 3
    # killed after logging epochs 2 and 3 but holding epoch 1's checkpoint only
    shutil.copy(tmp_path / "epoch1.ckpt", ckpts / "last.ckpt")
    (tmp_path / "run" / "metrics.json").unlink()
    record = train(make_cfg(*run, "ckpt_path=last"), tmp_path / "run")
    assert record["epochs"] == 4
    accumulator = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    accumulator.Reload()
    for tag in ("train/loss", "val/nll"):
        points = accumulator.Scalars(tag)
        assert [p.value for p in points] == pytest.approx(record["history"][tag]), tag
        assert len({p.step for p in points}) == len(points) == 4, tag
