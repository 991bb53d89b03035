"""End to end: real Hydra configs, real Lightning Trainers, real scikit-learn data."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from cells import TASK_DATA
from cli_process import run_module
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.metric_names import LOGGED_METRICS
from lossbench.module import ClassifierModule, NonFiniteLossError
from lossbench.record import RunExistsError, diverged, read_record
from lossbench.training import train
from lossbench.validation import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("task", "head", "loss"),
    [
        ("binary", "logits", "bce"),
        ("multiclass", "softmax", "cross_entropy"),
        ("multilabel", "logits", "cross_entropy"),
    ],
)
def test_refused_cell_is_recorded_as_failed(make_cfg, tmp_path, task, head, loss):
    cfg = make_cfg(f"data={TASK_DATA[task]}", f"head={head}", f"loss={loss}")
    record = train(cfg, tmp_path, multirun=True)
    assert record["status"] == "failed"
    assert f"head '{head}'" in record["error"] and f"loss '{loss}'" in record["error"]
    assert read_record(tmp_path)["status"] == "failed"
    assert not (tmp_path / "checkpoints").exists()
    with pytest.raises(ConfigError, match=f"head '{head}'"):
        train(
            make_cfg(f"data={TASK_DATA[task]}", f"head={head}", f"loss={loss}"), tmp_path / "single"
        )


def test_run_record_is_complete(make_cfg, tmp_path):
    cfg = make_cfg("data=digits_multilabel", "loss.pos_weight=auto", "seed=3")
    record = train(cfg, tmp_path)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["status"] == "completed" and on_disk["error"] is None
    for key in (
        "task",
        "data",
        "model",
        "head",
        "loss",
        "seed",
        "epochs",
        "steps",
        "train_seconds",
        "train_cpu_seconds",
    ):
        assert key in on_disk
    assert on_disk["train_cpu_seconds"] > 0 and on_disk["train_seconds"] > 0
    assert (on_disk["task"], on_disk["seed"], on_disk["epochs"]) == ("multilabel", 3, 2)
    n_train = record["sizes"]["train"]
    assert on_disk["steps"] == 2 * -(-n_train // 128)  # 2 epochs of ceil(n / batch) steps
    assert len(on_disk["loss_params"]["pos_weight"]) == 4  # auto: one number per label
    logged = {f"{s}/{m}" for s in ("val", "test") for m in LOGGED_METRICS["multilabel"]}
    assert logged <= set(on_disk)
    assert len(on_disk["history"]["val/nll"]) == 2
    assert (tmp_path / "config.yaml").is_file()
    assert Path(on_disk["best_checkpoint"]).is_file()
    with pytest.raises(RunExistsError, match="never overwrites"):
        train(cfg, tmp_path)


def test_same_seed_gives_identical_metrics(make_cfg, tmp_path):
    cfg = make_cfg("data=iris", "head=log_softmax", "loss=nll", "seed=7")
    a = train(cfg, tmp_path / "a")
    b = train(cfg, tmp_path / "b")
    metrics = [k for k in a if k.startswith(("val/", "test/"))]
    assert metrics and all(a[k] == b[k] for k in metrics)


def test_non_finite_loss_fails_with_epoch_and_step(make_cfg, tmp_path):
    cfg = make_cfg(
        "data=breast_cancer",
        "head=sigmoid",
        "loss=manual_bce",
        "model=linear",
        "optimizer=sgd",
        "optimizer.lr=1e4",
        "trainer.max_epochs=5",
    )
    record = train(cfg, tmp_path, multirun=True)
    assert record["status"] == "failed"
    assert record["error"].startswith("non-finite training loss")
    assert "epoch" in record["error"] and "step" in record["error"]
    assert "\n" not in record["error"]
    with pytest.raises(NonFiniteLossError):
        train(cfg, tmp_path / "single")


def test_linear_bce_with_logits_lbfgs_matches_sklearn_logistic_regression():
    """Mean BCE-with-logits + (1 / (C n)) / 2 * ||w||^2, full batch, is LogisticRegression(C)."""
    C = 1.0
    data = {
        "name": "breast_cancer",
        "batch_size": None,
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
    }
    dm = ClassificationDataModule(data, "bce_with_logits")
    x, y = (t.numpy() for t in dm.tensors["train"][:2])
    n_train = len(y)
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(x.astype(np.float64), y)
    L.seed_everything(0, verbose=False)
    module = ClassifierModule(
        task="binary",
        n_features=dm.n_features,
        n_outputs=1,
        n_targets=1,
        model={"name": "linear"},
        head="logits",
        loss={"name": "bce_with_logits"},
        optimizer={
            "name": "lbfgs",
            "lr": 1.0,
            "weight_decay": 1.0 / (C * n_train),
            "max_iter": 100,
            "history_size": 100,
            "line_search_fn": "strong_wolfe",
            "tolerance_grad": 1e-12,
            "tolerance_change": 1e-14,
        },
    )
    module.double()
    dm.tensors = {k: (v[0].double(), v[1], v[2].double()) for k, v in dm.tensors.items()}
    trainer = L.Trainer(
        max_epochs=10,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
    )
    trainer.fit(module, datamodule=dm)
    weight = module.model.weight.detach().numpy().ravel()
    bias = module.model.bias.detach().numpy()
    np.testing.assert_allclose(weight, reference.coef_.ravel(), atol=1e-4)
    np.testing.assert_allclose(bias, reference.intercept_, atol=1e-4)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_module("lossbench.train", *args, cwd=cwd)


@pytest.mark.slow
def test_cli_valid_run_writes_complete_record(tmp_path):
    result = _cli(
        "data=iris", "head=logits", "loss=cross_entropy", "trainer.max_epochs=2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    records = list((tmp_path / "outputs" / "runs").glob("*/metrics.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["status"] == "completed" and record["data"] == "iris"
    assert str(records[0].parent.name) in result.stdout  # the run directory is printed


@pytest.mark.slow  # two runs in fresh processes
def test_cli_trains_over_an_interrupted_runs_config_and_not_over_ones_own(tmp_path):
    """A run directory with a config.yaml and no metrics.json: an interrupted run's (its keys;
    here without Hydra's .hydra/, as with hydra.output_subdir=null) is trained over; a file of
    one's own of that name is refused and left as it was."""
    run, own = tmp_path / "run", tmp_path / "own"
    run.mkdir()
    (run / "config.yaml").write_text("data: {name: iris}\nloss: {name: cross_entropy}\nseed: 0\n")
    common = ("data=iris", "loss=cross_entropy", "trainer.max_epochs=1", "logger=none")
    result = _cli(*common, f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "metrics.json").read_text())["status"] == "completed"
    own.mkdir()
    (own / "config.yaml").write_text("learning_rate: 0.1\n")
    result = _cli(*common, f"hydra.run.dir={own}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"refused: {own / 'config.yaml'} is a file lossbench did not write" in result.stderr
    assert sorted(p.name for p in own.iterdir()) == ["config.yaml"]
    assert (own / "config.yaml").read_text() == "learning_rate: 0.1\n"


@pytest.mark.slow  # two commands in fresh processes, one of which trains
def test_cli_refuses_to_replace_logs_of_ones_own_and_trains_over_a_stopped_runs(tmp_path):
    """A run directory that holds no run of lossbench's (no metrics.json, no config.yaml): a
    logs/metrics.csv of one's own there (the CSV logger would delete it) and Hydra's files of
    another app (Hydra would write its own) are refused and left as they were; a run stopped
    after Hydra wrote its .hydra/ and before the run's config.yaml is trained over."""
    own = tmp_path / "own"
    (own / "logs").mkdir(parents=True)
    (own / "logs" / "metrics.csv").write_text("epoch,accuracy\n0,0.91\n")
    (own / ".hydra").mkdir()
    (own / ".hydra" / "config.yaml").write_text("learning_rate: 0.1\n")
    before = {p: p.read_bytes() for p in own.rglob("*") if p.is_file()}
    common = ("data=iris", "loss=cross_entropy", "trainer.max_epochs=1")
    result = _cli(*common, f"hydra.run.dir={own}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"{own / 'logs' / 'metrics.csv'} (logger.csv deletes it" in result.stderr
    assert f"{own / '.hydra' / 'config.yaml'} (Hydra writes the run's own)" in result.stderr
    assert "no run of lossbench's (no metrics.json, no config.yaml)" in result.stderr
    assert "hydra.run.dir=<new folder>" in result.stderr and "move them away" in result.stderr
    assert {p: p.read_bytes() for p in own.rglob("*") if p.is_file()} == before
    stopped = tmp_path / "stopped"
    (stopped / ".hydra").mkdir(parents=True)
    run_config = "data: {name: iris}\nloss: {name: cross_entropy}\nseed: 0\n"
    (stopped / ".hydra" / "config.yaml").write_text(run_config)
    (stopped / "logs").mkdir()
    (stopped / "logs" / "metrics.csv").write_text("epoch,step,val/nll\n")
    result = _cli(*common, f"hydra.run.dir={stopped}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((stopped / "metrics.json").read_text())["status"] == "completed"


def test_cli_refused_combination_exits_nonzero_before_writing(tmp_path):
    result = _cli("data=wine", "head=softmax", "loss=cross_entropy", cwd=tmp_path)
    assert result.returncode == 2
    assert "head 'softmax' + loss 'cross_entropy'" in result.stderr
    assert "double softmax" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow  # a multirun in a fresh process; test_sweeper runs `-m` in the default suite
def test_cli_multirun_records_refused_job_and_runs_the_rest(tmp_path):
    result = _cli(
        "-m",
        "data=iris",
        "head=logits,softmax",
        "loss=cross_entropy",
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    records = sorted((tmp_path / "outputs" / "multiruns").glob("*/*/metrics.json"))
    statuses = {
        json.loads(p.read_text())["head"]: json.loads(p.read_text())["status"] for p in records
    }
    assert statuses == {"logits": "completed", "softmax": "failed"}
    assert "Epoch 0" not in result.stdout + result.stderr  # no progress bar in multiruns


def test_batches_are_index_slices_on_the_device(make_cfg):
    dm = ClassificationDataModule(
        {
            "name": "wine",
            "batch_size": 50,
            "split_seed": 0,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
        },
        "cross_entropy",
        seed=1,
    )
    loader = dm.train_dataloader()
    loader.set_epoch(0)
    first = [b[1].clone() for b in loader]
    loader.set_epoch(1)
    second = [b[1].clone() for b in loader]
    assert [len(b) for b in first] == [50, 50, 6]
    assert torch.equal(torch.cat(first).sort().values, dm.tensors["train"][1].sort().values)
    assert not torch.equal(torch.cat(first), torch.cat(second))  # reshuffled per epoch
    loader.set_epoch(0)
    assert torch.equal(torch.cat([b[1] for b in loader]), torch.cat(first))  # reproducible


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("data.batch_size=0", "data.batch_size=0 must be a positive integer"),
        ("optimizer.lr=-1", "optimizer.lr=-1 must be a positive number"),
        ("loss=cross_entropy", "head 'logits' \\+ loss 'cross_entropy'|loss.label_smoothing"),
        ("data.val_fraction=0.8", "leaves no training rows"),
        ("optimized_metric=val/accuracy_top5", "optimized_metric='val/accuracy_top5' is not a"),
        ("loss.reduction=none", "training needs a scalar"),
        ("loss.reduce=false", "training needs a scalar"),
        ("model.activation=swish", "model.activation='swish' is not known"),
        ("optimizer.implementation=fast", "optimizer.implementation='fast' is not known"),
        ("checkpoint.write=sometimes", "checkpoint.write='sometimes' is not known"),
        ("checkpoint.write=never ckpt_path=last", "cannot resume"),
    ],
    ids=[
        "batch0",
        "lr",
        "label_smoothing",
        "fractions",
        "metric",
        "reduction",
        "legacy",
        "act",
        "kernel",
        "checkpoint",
        "resume_without_files",
    ],
)
def test_bad_values_are_refused_before_training(make_cfg, tmp_path, override, match):
    extra = ("loss.label_smoothing=1.0", "head=logits") if override == "loss=cross_entropy" else ()
    cfg = make_cfg("data=iris" if extra else "data=breast_cancer", *override.split(), *extra)
    with pytest.raises(ConfigError, match=match):
        train(cfg, tmp_path)
    assert not (tmp_path / "checkpoints").exists()


def test_early_stopping_stops_and_best_checkpoint_is_evaluated(make_cfg, tmp_path):
    cfg = make_cfg(
        "data=iris",
        "head=logits",
        "loss=cross_entropy",
        "trainer.max_epochs=200",
        "optimizer.lr=0.05",
        "early_stopping.enabled=true",
        "early_stopping.patience=3",
        "optimized_metric=val/accuracy",
    )
    record = train(cfg, tmp_path)
    assert record["status"] == "completed"
    assert record["epochs"] < 200
    history = record["history"]["val/accuracy"]
    assert record["best_epoch"] == int(np.argmax(history))  # first epoch with the best value
    assert record["val/accuracy"] == pytest.approx(max(history))


def test_early_stopping_within_the_first_epoch_is_recorded_as_such(make_cfg, tmp_path):
    """Validating twice an epoch, early stopping (patience 1) stops in the first epoch, where
    its ``stopped_epoch`` is 0 as when it never stopped: the record said ``budget``."""
    cfg = make_cfg(
        "data=wine",
        "model.hidden_sizes=[16]",
        "data.batch_size=32",
        "optimizer.lr=0.3",
        "trainer.max_epochs=6",
        "trainer.val_check_interval=0.5",
        "early_stopping.enabled=true",
        "early_stopping.patience=1",
    )
    record = train(cfg, tmp_path)
    assert record["epochs"] == 1 and record["history"]["val/epoch"] == [0.5, 1.0]
    assert record["stopped_by"] == "early_stopping"


@pytest.mark.parametrize(
    ("data", "setup"),
    [
        ("breast_cancer", "sigmoid_bce"),
        ("digits_multilabel", "logits_focal"),
        ("wine", "log_softmax_nll"),
    ],
)
def test_epoch_runner_trains_exactly_like_the_lightning_runner(make_cfg, tmp_path, data, setup):
    """One Lightning step per epoch (the epoch runner) sees the same minibatches in the same
    order as Lightning's own loop (the lightning runner)."""
    common = (f"data={data}", f"setup={setup}", "data.batch_size=32", "trainer.max_epochs=3")
    fast = train(make_cfg(*common, "runner=epoch"), tmp_path / "epoch")
    slow = train(make_cfg(*common, "runner=lightning"), tmp_path / "batch")
    assert (fast["training_loop"], slow["training_loop"]) == ("epoch", "batch")
    assert (fast["validation_loop"], slow["validation_loop"]) == ("inline", "lightning")
    assert fast["steps"] == slow["steps"] == 3 * -(-fast["sizes"]["train"] // 32)
    for key in [k for k in slow if k.startswith(("val/", "test/"))]:
        assert fast[key] == pytest.approx(slow[key], rel=1e-5, abs=1e-7), key
    assert fast["history"]["train/loss"] == pytest.approx(slow["history"]["train/loss"], rel=1e-5)


@pytest.mark.parametrize("runner", ["epoch", "lightning"])
def test_loss_metric_is_per_sample_with_a_summed_loss(make_cfg, tmp_path, runner):
    """loss.reduction=sum: <stage>/loss is the loss per sample, as with mean. BCE with logits
    per sample is the NLL of its sigmoid, so the two agree on every split and epoch (train/loss
    from minibatches of 64, val/ and test/ from one batch each); they were the batches' sums
    weighted by batch size and the split's sum."""
    common = ("data=breast_cancer", "setup=logits_bce_with_logits", "data.batch_size=64")
    record = train(
        make_cfg(*common, "loss.reduction=sum", "trainer.max_epochs=2", f"runner={runner}"),
        tmp_path / "run",
    )
    history = record["history"]
    for stage in ("train", "val"):
        assert history[f"{stage}/loss"] == pytest.approx(history[f"{stage}/nll"], rel=1e-5)
    assert record["test/loss"] == pytest.approx(record["test/nll"], rel=1e-5)
    assert record["test/loss"] < 1  # a split's sum would be about 114 * 0.6


def test_lbfgs_and_gradient_clipping_take_the_lightning_runner(make_cfg, tmp_path):
    lbfgs = train(make_cfg("optimizer=lbfgs", "data.batch_size=null"), tmp_path / "lbfgs")
    clipped = train(make_cfg("trainer.gradient_clip_val=1.0"), tmp_path / "clip")
    assert lbfgs["training_loop"] == clipped["training_loop"] == "batch"
    assert lbfgs["validation_loop"] == clipped["validation_loop"] == "lightning"
    assert lbfgs["status"] == clipped["status"] == "completed"


def test_diverging_run_fails_and_keeps_its_last_good_checkpoint(make_cfg, tmp_path):
    """The hand-written BCE turns NaN late in this run (seen in the standard study)."""
    cfg = make_cfg(
        "data=digits_multilabel", "setup=sigmoid_manual_bce", "seed=1", "trainer.max_epochs=20"
    )
    record = train(cfg, tmp_path, multirun=True)
    assert record["status"] == "failed" and not record["refused"]
    assert record["error"].startswith("non-finite training loss (nan) at epoch 19")
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 18
    assert all(
        torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point()
    )
    assert len(record["history"]["val/nll"]) == 19  # the good epochs are kept in the record


#: One step per epoch (the whole training split in one batch) whose update turns the weights
#: NaN: every training loss the run computes is finite, its validation loss is not.
LAST_STEP_NAN = (
    "data=iris",
    "model=linear",
    "data.batch_size=null",
    "optimizer=sgd",
    "optimizer.lr=1e300",
    "trainer.max_epochs=1",
)
#: The same at the second epoch: each step multiplies the weights by about -1e20 (weight
#: decay), so the first epoch's losses are near 1e19, and the second epoch's step overflows.
SECOND_EPOCH_NAN = (
    *LAST_STEP_NAN,
    "optimizer.lr=1",
    "optimizer.weight_decay=1e20",
    "trainer.max_epochs=3",
)


@pytest.mark.parametrize(
    ("runner", "validation_loop"), [("epoch", "inline"), ("lightning", "lightning")]
)
@pytest.mark.parametrize("stopping", [False, True], ids=["", "early_stopping"])
def test_weights_turning_non_finite_in_the_last_step_fail_the_run(
    make_cfg, tmp_path, runner, validation_loop, stopping
):
    """Not a completed run with NaN metrics, nor one early stopping stops as 'finished'."""
    stop = ("early_stopping.enabled=true", "trainer.max_epochs=3") if stopping else ()
    cfg = make_cfg(*LAST_STEP_NAN, *stop, f"runner={runner}")
    record = train(cfg, tmp_path / "run", multirun=True)
    assert record["validation_loop"] == validation_loop
    assert (record["status"], record["stopped_by"]) == ("failed", "failed")
    assert record["error"] == "non-finite weights (inf) at epoch 0, step 1"
    assert not record["refused"] and diverged(record)
    assert (record["epochs"], record["steps"], record["history"]) == (0, 1, {})
    assert read_record(tmp_path / "run")["status"] == "failed"
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt"))  # no NaN weights written
    with pytest.raises(
        NonFiniteLossError, match=r"^non-finite weights \(inf\) at epoch 0, step 1$"
    ):
        train(make_cfg(*LAST_STEP_NAN, *stop, f"runner={runner}"), tmp_path / "single")


@pytest.mark.parametrize(
    "unvalidated",
    [
        ("callbacks=none", "trainer.check_val_every_n_epoch=2", "trainer.max_epochs=2"),
        ("trainer.check_val_every_n_epoch=2", "trainer.max_epochs=3"),
    ],
    ids=["callbacks-none-no-validation", "first-epoch-not-validated"],
)
@pytest.mark.slow
def test_weights_no_validation_saw_fail_the_run_at_their_epochs_end(
    make_cfg, tmp_path, unvalidated
):
    """No validation followed the step that turned the weights non-finite: the check at the
    epoch's end fails the run, and the record holds no NaN metrics."""
    record = train(make_cfg(*LAST_STEP_NAN, *unvalidated), tmp_path / "run", multirun=True)
    assert (record["status"], record["epochs"]) == ("failed", 0)
    assert record["error"] == "non-finite weights (inf) at epoch 0, step 1"
    assert diverged(record) and not any(k.startswith(("val/", "test/")) for k in record)


def test_a_later_non_finite_validation_loss_keeps_the_good_epochs_on_both_runners(
    make_cfg, tmp_path
):
    records = {
        runner: train(
            make_cfg(*SECOND_EPOCH_NAN, f"runner={runner}"), tmp_path / runner, multirun=True
        )
        for runner in ("epoch", "lightning")
    }
    for runner, record in records.items():
        assert record["error"] == "non-finite weights (inf) at epoch 1, step 2"
        assert (record["epochs"], record["steps"]) == (1, 2)
        assert len(record["history"]["val/loss"]) == 1  # the epoch before, not the NaN one
        last = torch.load(tmp_path / runner / "checkpoints" / "last.ckpt", weights_only=True)
        assert last["epoch"] == 0
        assert all(
            torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point()
        )
    fast, slow = records["epoch"]["history"], records["lightning"]["history"]
    assert fast.keys() == slow.keys()
    for key, values in slow.items():
        assert fast[key] == pytest.approx(values, rel=1e-5, nan_ok=True), key


@pytest.mark.slow  # a fresh process
def test_cli_run_whose_weights_turn_non_finite_fails_with_exit_1(tmp_path):
    result = _cli(*LAST_STEP_NAN, "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert lines == ["lossbench: failed: non-finite weights (inf) at epoch 0, step 1"]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == lines[0].split(": ", 2)[2]


def test_a_nan_validation_loss_from_finite_weights_does_not_fail_the_run(make_cfg, tmp_path):
    """The hand-written BCE's ``0 * log(0)`` on a saturated validation row makes ``val/loss``
    NaN while the weights, scores and metrics are finite (this run's training loss turns NaN in
    its next epoch): the run completes, its NaN epoch kept in the history."""
    cfg = make_cfg(
        "experiment=compare_all",
        "study=quick",
        "data=wine",
        "setup=sigmoid_manual_bce",
        "optimizer.lr=0.01",
        "seed=1",
        "trainer.max_epochs=8",
    )
    record = train(cfg, tmp_path / "run", multirun=True)
    assert record["status"] == "completed", record["error"]
    losses = record["history"]["val/loss"]
    assert len(losses) == 8 and math.isnan(losses[-1])
    assert all(math.isfinite(v) for v in losses[:-1])
    assert math.isfinite(record["test/nll"]) and math.isfinite(record["val/nll"])
