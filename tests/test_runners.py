"""Runners (``runner=auto|lightning|epoch``): which one a run gets, what ``runner=epoch``
refuses, and that the module under the ``lightning`` runner is a plain LightningModule."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EMAWeightAveraging,
    GradientAccumulationScheduler,
    LearningRateMonitor,
    ModelCheckpoint,
    Timer,
)

from cli_process import run_module
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.errors import ConfigError
from lossbench.module import ClassifierModule
from lossbench.runners import select_runner
from lossbench.runners.epoch import EpochModule, EpochRunner
from lossbench.runners.lightning import LightningRunner
from lossbench.training import train
from lossbench.validation import METRICS, validate

RUN = ("data=iris", "head=logits", "loss=cross_entropy", "data.batch_size=32")


def _trainer(**kwargs) -> L.Trainer:
    kwargs = {"enable_progress_bar": False, "enable_model_summary": False, **kwargs}
    return L.Trainer(logger=False, **kwargs)


class _BackwardProbe(Callback):
    """A callback with a per-step hook the epoch runner calls every minibatch: what it logs
    there would still be logged once per epoch."""

    def on_after_backward(self, trainer, pl_module) -> None:
        pass


@pytest.mark.parametrize(
    ("overrides", "trainer_kwargs", "expected"),
    [
        ((), {}, EpochRunner),
        (("runner=lightning",), {}, LightningRunner),
        (("optimizer=lbfgs",), {}, LightningRunner),
        (("trainer.gradient_clip_val=1.0",), {}, LightningRunner),
        ((), {"accumulate_grad_batches": 2}, LightningRunner),
        ((), {"strategy": "ddp", "accelerator": "cpu", "devices": 2}, LightningRunner),
        ((), {"max_steps": 4}, LightningRunner),
        ((), {"max_steps": -1}, EpochRunner),
        ((), {"val_check_interval": 0.5}, LightningRunner),
        ((), {"val_check_interval": 2}, LightningRunner),
        ((), {"val_check_interval": 1}, LightningRunner),  # an int: after every batch
        ((), {"val_check_interval": 1.0}, EpochRunner),
        ((), {"val_check_interval": "00:00:01:00"}, LightningRunner),
        ((), {"check_val_every_n_epoch": None, "val_check_interval": 4}, LightningRunner),
        ((), {"callbacks": [GradientAccumulationScheduler({0: 2})]}, LightningRunner),
        ((), {"max_time": "00:00:01:00"}, LightningRunner),
        (("trainer.max_time=00:00:01:00",), {"max_time": "00:00:01:00"}, LightningRunner),
        ((), {"callbacks": [Timer("00:00:01:00")]}, LightningRunner),
        ((), {"callbacks": [Timer("00:00:01:00", interval="epoch")]}, EpochRunner),
        ((), {"num_sanity_val_steps": 2}, EpochRunner),  # with Lightning's validation loop
        ((), {"callbacks": [EMAWeightAveraging()]}, LightningRunner),
        ((), {"callbacks": [LearningRateMonitor()]}, LightningRunner),
        ((), {"callbacks": [LearningRateMonitor(logging_interval="epoch")]}, LightningRunner),
        ((), {"callbacks": [_BackwardProbe()]}, LightningRunner),
        ((), {"callbacks": [ModelCheckpoint(every_n_train_steps=2)]}, LightningRunner),
        ((), {"callbacks": [ModelCheckpoint()]}, EpochRunner),
        ((), {"enable_progress_bar": True, "enable_model_summary": True}, EpochRunner),
    ],
    ids=[
        "default",
        "asked",
        "lbfgs",
        "clipping",
        "accumulation",
        "ddp",
        "max_steps",
        "max_steps_default",
        "val_fraction",
        "val_batches",
        "val_every_batch",
        "val_default",
        "val_timed",
        "val_across_epochs",
        "accumulation_scheduler",
        "max_time_trainer",
        "max_time_config",
        "timer_per_step",
        "timer_per_epoch",
        "sanity_check",
        "ema",
        "lr_monitor",
        "lr_monitor_per_epoch",
        "backward_hook",
        "checkpoint_every_n_steps",
        "checkpoint_per_epoch",
        "progress_bar_and_summary",
    ],
)
def test_auto_takes_the_epoch_runner_where_it_applies(
    make_cfg, overrides, trainer_kwargs, expected
):
    runner = select_runner(make_cfg(*RUN, *overrides), _trainer(**trainer_kwargs))
    assert type(runner) is expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (("optimizer=lbfgs",), "optimizer=lbfgs"),
        (("trainer.gradient_clip_val=1.0",), "trainer.gradient_clip_val"),
        (("trainer.accumulate_grad_batches=2",), "trainer.accumulate_grad_batches"),
        (("debug=fdr",), "trainer.fast_dev_run"),
        (("debug=overfit",), "trainer.overfit_batches"),
        (("debug=limit",), "trainer.limit_train_batches"),
        (("trainer.max_steps=4",), r"trainer.max_steps=4 \(the epoch runner stops only"),
        (("trainer.val_check_interval=0.5",), "trainer.val_check_interval=0.5"),
        (("trainer.val_check_interval=2",), "trainer.val_check_interval=2"),
        (
            ("trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=4"),
            "trainer.val_check_interval=4 .*; trainer.check_val_every_n_epoch=null",
        ),
        (
            (
                "+callbacks.gas._target_=lightning.pytorch.callbacks.GradientAccumulationScheduler",
                "+callbacks.gas.scheduling={0:2}",
            ),
            r"Lightning's GradientAccumulationScheduler callback \(it schedules",
        ),
        (
            ("trainer.max_time=00:00:01:00",),
            r"trainer.max_time=00:00:01:00 \(Lightning checks the time after every step",
        ),
        (
            (
                "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
                "+callbacks.timer.duration=00:00:01:00",
            ),
            r"a Timer callback with interval=step \(Lightning checks the time",
        ),
    ],
)
def test_epoch_runner_refuses_what_it_cannot_honour_before_training(make_cfg, overrides, reason):
    cfg = make_cfg(*RUN, "runner=epoch", *overrides)
    with pytest.raises(ConfigError, match=f"runner=epoch cannot honour {reason}") as refused:
        validate(cfg)
    assert "runner=auto" in str(refused.value) and "runner=lightning" in str(refused.value)


def test_epoch_runner_refuses_ddp_once_the_trainer_counts_the_processes(make_cfg):
    cfg = make_cfg(*RUN, "runner=epoch")
    validate(cfg)  # nothing in the config says how many processes the Trainer starts
    ddp = _trainer(strategy="ddp", accelerator="cpu", devices=2)
    with pytest.raises(ConfigError, match=r"world_size=2 \(DDP"):
        select_runner(cfg, ddp)


def test_an_unknown_runner_is_refused_with_the_valid_ones(make_cfg):
    with pytest.raises(ConfigError, match="runner='fast' is not a runner; valid runners: auto, "):
        validate(make_cfg(*RUN, "runner=fast"))


def test_cli_refuses_runner_epoch_with_lbfgs_in_one_line(tmp_path):
    result = run_module("lossbench.train", *RUN, "runner=epoch", "optimizer=lbfgs", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("lossbench: refused: runner=epoch cannot honour optimizer=")
    assert "Traceback" not in result.stderr


EMA = "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging"


@pytest.mark.slow
def test_cli_refuses_runner_epoch_with_a_per_step_callback_in_one_line(tmp_path):
    result = run_module("lossbench.train", *RUN, "runner=epoch", EMA, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "lossbench: refused: runner=epoch cannot honour the EMAWeightAveraging callback's "
        "on_train_batch_end (Lightning's loop calls it every step; the epoch runner"
    )
    assert "Traceback" not in result.stderr


def test_the_default_run_keeps_the_epoch_runner_and_inline_validation(make_cfg, tmp_path):
    """Lossbench's default callbacks (its checkpoint, early stopping, progress bar, model
    summary) act per epoch: none of them takes Lightning's loop."""
    cfg = make_cfg(
        "data=breast_cancer",
        "trainer.enable_progress_bar=true",
        "trainer.enable_model_summary=true",
    )
    record = train(cfg, tmp_path / "run")
    assert (record["training_loop"], record["validation_loop"]) == ("epoch", "inline")


def test_auto_trains_with_a_per_step_callback_as_lightning_does(make_cfg, tmp_path):
    """``EMAWeightAveraging`` updates its average after every step (``on_train_batch_end``):
    runner=auto takes Lightning's loop, with Lightning's metrics (the epoch runner updated the
    average once per epoch, and validated and tested far other weights)."""
    run = ("data=breast_cancer", "trainer.max_epochs=4", "optimizer.lr=0.01", EMA)
    auto = train(make_cfg(*run), tmp_path / "auto")
    lightning = train(make_cfg(*run, "runner=lightning"), tmp_path / "lightning")
    assert auto["status"] == "completed" and auto["training_loop"] == "batch"
    keys = [k for k in lightning if k.startswith(("val/", "test/"))]
    assert keys and any(k.startswith("test/") for k in keys)
    for key in keys:
        assert auto[key] == pytest.approx(lightning[key], abs=1e-6), key
    assert auto["history"].keys() == lightning["history"].keys()
    for key, values in lightning["history"].items():
        assert auto["history"][key] == pytest.approx(values, abs=1e-6), key


def _learning_rates(run_dir) -> list[tuple[str, str]]:
    """``(step, lr-Adam)`` of each row of a run's ``logs/metrics.csv`` with a learning rate."""
    with open(run_dir / "logs" / "metrics.csv", newline="") as f:
        return [(r["step"], r["lr-Adam"]) for r in csv.DictReader(f) if r.get("lr-Adam")]


@pytest.mark.parametrize(
    ("overrides", "steps"),
    [
        ((), ["0", "3", "6"]),  # interval=None: per epoch, the scheduler's interval
        (("callbacks.lr_monitor.logging_interval=epoch",), ["0", "3", "6"]),
        (
            ("callbacks.lr_monitor.logging_interval=step", "trainer.log_every_n_steps=1"),
            [str(step) for step in range(9)],
        ),
    ],
    ids=["default", "epoch", "step"],
)
def test_the_learning_rate_monitor_logs_at_lightnings_steps(make_cfg, tmp_path, overrides, steps):
    """LearningRateMonitor logs at the step of Lightning's loop, which counts one per epoch
    under the epoch runner: runner=auto takes Lightning's loop (the epoch runner logged at
    steps 0, 1, 2, and one row per epoch where it should log every step)."""
    run = (
        "data=breast_cancer",  # 3 optimizer steps per epoch
        "trainer.max_epochs=3",
        "logger=csv",
        "callbacks=lr_monitor",
        "scheduler=cosine",
        *overrides,
    )
    auto = train(make_cfg(*run), tmp_path / "auto")
    lightning = train(make_cfg(*run, "runner=lightning"), tmp_path / "lightning")
    assert auto["training_loop"] == lightning["training_loop"] == "batch"
    logged = _learning_rates(tmp_path / "auto")
    assert logged == _learning_rates(tmp_path / "lightning")
    assert [step for step, _ in logged] == steps


@pytest.mark.parametrize(
    "overrides",
    [
        ("trainer.max_steps=4", "trainer.max_epochs=10"),
        ("trainer.val_check_interval=0.5", "trainer.max_epochs=2"),
        ("trainer.val_check_interval=2", "trainer.max_epochs=2"),
        ("trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=4"),
    ],
    ids=["max_steps", "val_fraction", "val_batches", "val_across_epochs"],
)
def test_auto_trains_what_lightning_does_for_step_counted_settings(make_cfg, tmp_path, overrides):
    """Settings that count Lightning's steps within an epoch take Lightning's loop under auto:
    the same steps, validations and metrics (the epoch runner stopped or validated only at
    epoch ends, or failed on a batch count it presents as one)."""
    run = ("data=breast_cancer", *overrides)  # 3 optimizer steps per epoch
    auto = train(make_cfg(*run), tmp_path / "auto")
    lightning = train(make_cfg(*run, "runner=lightning"), tmp_path / "lightning")
    assert auto["training_loop"] == "batch"
    for key in ("steps", "epochs", "history", "test/nll", "test/accuracy"):
        assert auto[key] == lightning[key], key


def _logged_steps(run_dir) -> list[tuple[str, str, list[str]]]:
    """``(epoch, step, the metrics' names)`` of each row of a run's ``logs/metrics.csv``."""
    with open(run_dir / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        (r["epoch"], r["step"], sorted(k for k, v in r.items() if v and k not in ("epoch", "step")))
        for r in rows
    ]


@pytest.mark.parametrize(
    "overrides", [(), ("trainer.val_check_interval=3",)], ids=["epoch", "batch"]
)
def test_the_csv_log_has_the_steps_of_lightnings_loop_under_every_runner(
    make_cfg, tmp_path, overrides
):
    """Each epoch's metrics reach the loggers at the index of its last optimizer step, as
    Lightning's loop logs them (runner=lightning, or runner=auto where a setting takes
    Lightning's loop): the same rows, steps and epochs whichever loop a run gets (the epoch
    runner logged them one step later)."""
    run = ("data=breast_cancer", "trainer.max_epochs=3", "logger=csv", *overrides)
    auto = train(make_cfg(*run), tmp_path / "auto")
    lightning = train(make_cfg(*run, "runner=lightning"), tmp_path / "lightning")
    assert auto["training_loop"] == ("epoch" if not overrides else "batch")
    assert auto["epochs"] == lightning["epochs"] == 3
    logged = _logged_steps(tmp_path / "auto")
    assert logged == _logged_steps(tmp_path / "lightning")
    assert [(e, s) for e, s, names in logged if "val/nll" in names] == [
        ("0", "2"),
        ("1", "5"),
        ("2", "8"),
    ]


def test_auto_trains_with_an_accumulation_scheduler_as_lightning_does(make_cfg, tmp_path):
    """Lightning's GradientAccumulationScheduler needs automatic optimization: runner=auto takes
    Lightning's loop, which accumulates as it schedules (the epoch runner failed at its start)."""
    gas = "+callbacks.gas._target_=lightning.pytorch.callbacks.GradientAccumulationScheduler"
    run = (
        "data=iris",
        "head=logits",
        "loss=cross_entropy",
        "data.batch_size=16",
        "trainer.max_epochs=2",
        gas,
        "+callbacks.gas.scheduling={0:2}",
    )
    auto = train(make_cfg(*run), tmp_path / "auto")
    assert auto["status"] == "completed" and auto["training_loop"] == "batch"
    assert auto["steps"] == 6  # 6 batches per epoch, accumulated two at a time, for 2 epochs


def test_max_steps_stops_within_an_epoch(make_cfg, tmp_path):
    record = train(make_cfg("data=breast_cancer", "trainer.max_steps=4"), tmp_path / "run")
    assert record["steps"] == 4  # the epoch runner ran 6: two whole epochs of 3 steps


def test_an_epoch_timer_keeps_the_epoch_runner(make_cfg):
    timer = (
        "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
        "+callbacks.timer.duration=00:00:01:00",
        "+callbacks.timer.interval=epoch",
    )
    validate(make_cfg(*RUN, "runner=epoch", *timer))  # checked at epoch ends: honoured


def test_a_timer_without_a_duration_keeps_the_epoch_runner(make_cfg, tmp_path):
    """A Timer with no duration (its default) only measures the time: nothing to stop within
    an epoch, so runner=epoch takes it, as runner=auto does."""
    timer = ("+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",)
    cfg = make_cfg(*RUN, "runner=epoch", "trainer.max_epochs=1", *timer)
    validate(cfg)
    assert train(cfg, tmp_path / "run")["training_loop"] == "epoch"


def test_max_time_stops_within_an_epoch(make_cfg, tmp_path):
    """Lightning checks trainer.max_time after every step: runner=auto takes its loop, which
    stops within the epoch the time runs out in (the epoch runner, checked after each of its
    steps, a whole epoch each, trained on to the epoch's end)."""
    cfg = make_cfg(
        "data=digits",
        "data.batch_size=1",
        "trainer.max_epochs=5",
        "trainer.max_time=00:00:00:01",
        "logger=none",
    )
    record = train(cfg, tmp_path / "run")
    per_epoch = record["sizes"]["train"]  # one optimizer step per row
    assert record["training_loop"] == "batch"
    assert record["stopped_by"] == "budget"
    assert 0 < record["steps"] < 5 * per_epoch
    assert record["steps"] % per_epoch != 0  # within an epoch, not at an epoch's end


def test_the_epoch_runner_runs_the_sanity_check_asked_for(make_cfg, tmp_path, monkeypatch):
    """trainer.num_sanity_val_steps runs Lightning's sanity check under the epoch runner too:
    it validates through Lightning's loop then (the inline validation skipped the check
    without a word), with the lightning runner's results."""
    sanity: list[bool] = []
    validation_step = ClassifierModule.validation_step

    def spied(self, *args, **kwargs):
        sanity.append(self.trainer.sanity_checking)
        return validation_step(self, *args, **kwargs)

    monkeypatch.setattr(ClassifierModule, "validation_step", spied)
    run = (*RUN, "trainer.num_sanity_val_steps=1", "trainer.max_epochs=2", "logger=none")
    auto = train(make_cfg(*run), tmp_path / "auto")
    assert (auto["training_loop"], auto["validation_loop"]) == ("epoch", "lightning")
    assert sanity[0] is True and sanity.count(True) == 1  # one batch: the whole split
    sanity.clear()
    lightning = train(make_cfg(*run, "runner=lightning"), tmp_path / "lightning")
    assert sanity[0] is True and sanity.count(True) == 1
    for key in ("steps", "epochs", "history", "test/nll", "test/accuracy"):
        assert auto[key] == lightning[key], key


def test_val_check_interval_validates_within_an_epoch(make_cfg, tmp_path):
    cfg = make_cfg("data=breast_cancer", "trainer.val_check_interval=0.5", "trainer.max_epochs=2")
    record = train(cfg, tmp_path / "run")
    assert len(record["history"]["val/nll"]) == 6  # after every batch (1.5 of 3 batches), not 2
    # when each ran: the epochs of training done, a third of an epoch apart
    assert record["history"]["val/epoch"] == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert record["history"]["val/step"] == [1, 2, 3, 4, 5, 6]  # the optimizer steps then


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(("trainer.check_val_every_n_epoch=2",), [2.0, 4.0], id="every_2_epochs"),
        pytest.param(("runner=lightning",), [1.0, 2.0, 3.0, 4.0, 5.0], id="lightning"),
        pytest.param((), [1.0, 2.0, 3.0, 4.0, 5.0], id="inline"),
    ],
)
def test_the_history_records_the_epoch_of_each_validation(make_cfg, tmp_path, overrides, expected):
    """``val/epoch`` lines the ``val/`` entries up with the ``train/`` ones (one per epoch)."""
    cfg = make_cfg("data=breast_cancer", "trainer.max_epochs=5", *overrides)
    history = train(cfg, tmp_path / "run")["history"]
    assert history["val/epoch"] == expected
    assert len(history["val/nll"]) == len(expected) and len(history["train/loss"]) == 5


def test_validation_every_n_batches_across_epochs_reaches_lightning(make_cfg, tmp_path):
    """``trainer.check_val_every_n_epoch=null`` is Lightning's setting, not its default (1)."""
    cfg = make_cfg(
        "data=breast_cancer",
        "trainer.check_val_every_n_epoch=null",
        "trainer.val_check_interval=4",
        "trainer.max_epochs=3",
    )
    record = train(cfg, tmp_path / "run")
    assert record["steps"] == 9 and len(record["history"]["val/nll"]) == 2  # steps 4 and 8
    assert record["history"]["val/epoch"] == pytest.approx([4 / 3, 8 / 3])  # of 3 batches each
    assert record["history"]["val/step"] == [4, 8]


class BatchCounter(Callback):
    """Counts the per-minibatch training hooks and reads the logged metrics."""

    def __init__(self) -> None:
        self.batches = 0
        self.logged: set[str] = set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches += 1
        assert torch.is_tensor(outputs["loss"]) and torch.isfinite(
            outputs["loss"]
        )  # the step's loss

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.logged |= set(trainer.callback_metrics)


def test_the_module_is_a_plain_lightning_module_under_a_plain_trainer(make_cfg, tmp_path):
    """Automatic optimization, the loss returned from every step, every epoch metric through
    ``self.log``; the same weights as the lightning runner of lossbench-train."""
    cfg = make_cfg(*RUN, "trainer.max_epochs=2")
    L.seed_everything(0, verbose=False)
    dm = ClassificationDataModule(cfg.data, cfg.loss.name, seed=0)
    module = ClassifierModule.from_config(cfg, dm)
    assert module.automatic_optimization and not isinstance(module, EpochModule)
    counter = BatchCounter()
    trainer = _trainer(
        max_epochs=2, callbacks=[counter], default_root_dir=tmp_path, num_sanity_val_steps=0
    )
    trainer.fit(module, datamodule=dm)
    assert counter.batches == trainer.global_step == 2 * 3  # 90 training rows, 32 per step
    names = {f"{stage}/{m}" for stage in ("train", "val") for m in METRICS["multiclass"]}
    assert names | {"train/lr"} == counter.logged
    assert len(module.history["val/nll"]) == 2

    record = train(make_cfg(*RUN, "trainer.max_epochs=2", "runner=lightning"), tmp_path / "run")
    assert (record["training_loop"], record["validation_loop"]) == ("batch", "lightning")
    assert record["history"]["val/nll"] == module.history["val/nll"]


def test_a_progress_bar_keeps_the_inline_validation_and_the_results(make_cfg, tmp_path):
    """The bar a single run shows by default needs no Lightning validation loop."""
    base = ("data=iris", "trainer.max_epochs=3")
    bar = train(make_cfg(*base, "trainer.enable_progress_bar=true"), tmp_path / "bar")
    plain = train(make_cfg(*base), tmp_path / "plain")
    assert bar["validation_loop"] == plain["validation_loop"] == "inline"
    assert bar["history"] == plain["history"]
    assert bar["test/nll"] == plain["test/nll"]
    rich = train(
        make_cfg(*base, "callbacks=rich_progress", "trainer.enable_progress_bar=true"),
        tmp_path / "rich",
    )
    assert rich["validation_loop"] == "inline" and rich["history"] == plain["history"]
