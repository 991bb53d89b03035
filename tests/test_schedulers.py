"""Learning-rate schedulers (``scheduler/``): the epoch loop (manual optimization, where
Lightning steps no scheduler) steps them exactly where Lightning's loop does, the rate of each
epoch is in the history (``train/lr``), and the report plots it."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from lossbench.report.build import build_report
from lossbench.schedulers import (
    SCHEDULERS,
    build_scheduler,
    check_scheduler_optimizer,
    fit_steps,
    resume_schedule_change,
    resume_schedule_error,
    schedule_change_error,
)
from lossbench.training import train

# iris: 90 training rows in minibatches of 32: 3 optimizer steps per epoch.
RUN = ("data=iris", "head=logits", "loss=cross_entropy", "data.batch_size=32", "optimizer.lr=0.05")
EPOCHS = 6


#: The record's ``training_loop`` of each runner.
LOOPS = {"epoch": "epoch", "lightning": "batch"}


def _run(make_cfg, path, scheduler: str, runner: str, *extra: str) -> dict:
    cfg = make_cfg(
        *RUN,
        f"scheduler={scheduler}",
        f"runner={runner}",
        f"trainer.max_epochs={EPOCHS}",
        *extra,
    )
    record = train(cfg, path)
    assert record["status"] == "completed", record["error"]
    assert record["training_loop"] == LOOPS[runner]
    return record


@pytest.mark.parametrize(
    ("scheduler", "extra"),
    [
        ("cosine", ()),
        ("warmup_cosine", ("scheduler.warmup_epochs=2",)),
        ("onecycle", ()),
        ("plateau", ("scheduler.patience=0", "scheduler.factor=0.5", "scheduler.threshold=0.05")),
    ],
)
def test_epoch_runner_steps_schedulers_as_lightning_does(make_cfg, tmp_path, scheduler, extra):
    fast = _run(make_cfg, tmp_path / "epoch", scheduler, "epoch", *extra)
    lightning = _run(make_cfg, tmp_path / "batch", scheduler, "lightning", *extra)
    assert len(fast["history"]["train/lr"]) == EPOCHS
    assert fast["history"]["train/lr"] == pytest.approx(lightning["history"]["train/lr"])
    assert fast["history"]["val/nll"] == pytest.approx(lightning["history"]["val/nll"], rel=1e-5)
    assert fast["steps"] == lightning["steps"] == 3 * EPOCHS
    rates = fast["history"]["train/lr"]
    if scheduler == "plateau":
        assert rates[0] == 0.05 and rates == sorted(rates, reverse=True)
        assert rates[-1] < 0.05  # lowered at least once: val/nll stopped improving by 5 %
    else:
        assert len(set(rates)) == EPOCHS  # a new rate every epoch


def test_cosine_rates_are_torchs_closed_form(make_cfg, tmp_path):
    rates = _run(make_cfg, tmp_path, "cosine", "epoch")["history"]["train/lr"]
    expected = [0.05 * (1 + math.cos(math.pi * e / EPOCHS)) / 2 for e in range(EPOCHS)]
    assert rates == pytest.approx(expected)


def test_onecycle_spans_exactly_the_runs_optimizer_steps():
    """OneCycleLR refuses a step past ``total_steps``: the epoch loop's count must be exact."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    config = build_scheduler(
        {"name": "onecycle", "max_lr": None, "pct_start": 0.3, "div_factor": 25.0,
         "final_div_factor": 1e4, "anneal_strategy": "cos"},
        optimizer, max_epochs=2, total_steps=6, monitor=None,
    )  # fmt: skip
    assert config["interval"] == "step"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 25)
    for _ in range(6):
        optimizer.step()
        config["scheduler"].step()
    with pytest.raises(ValueError, match="total steps"):
        config["scheduler"].step()


@pytest.mark.parametrize(
    ("before", "now", "refused"),
    [
        pytest.param({"max_epochs": 100, "max_steps": 9}, {"max_epochs": 200, "max_steps": 9},
                     False, id="more-epochs-max_steps-ends-both"),
        pytest.param({"max_epochs": 2, "max_steps": 9}, {"max_epochs": 4, "max_steps": 9},
                     True, id="more-epochs-more-steps"),
        pytest.param({"max_epochs": 100, "max_steps": 9}, {"max_epochs": 100, "max_steps": 12},
                     True, id="more-max_steps"),
        pytest.param({"max_epochs": 3, "accumulate_grad_batches": 1},
                     {"max_epochs": 3, "accumulate_grad_batches": 3}, True, id="fewer-steps"),
    ],
)  # fmt: skip
def test_onecycle_resume_is_refused_only_when_its_optimizer_steps_change(before, now, refused):
    """README (Resuming): one-cycle refuses a setting that changes the number of optimizer
    steps; more epochs of a run that trainer.max_steps ends keep them (3 batches an epoch)."""
    reason = resume_schedule_error({"name": "onecycle"}, before, now, train_batches=3)
    assert (reason is not None) == refused, reason
    if refused:
        assert "optimizer steps then" in reason and "keep its" in reason


#: The same trainer settings before and after: Lightning resolves trainer.devices=auto to every
#: device of the machine, so only the processes differ (5 batches an epoch on each of 2, 10 on 1).
AUTO = {"max_epochs": 4, "max_steps": -1, "accelerator": "auto", "devices": "auto", "num_nodes": 1}


@pytest.mark.parametrize(
    ("trainer", "batches", "processes", "steps"),
    [
        pytest.param(AUTO, 5, (1, 2), (40, 20), id="laptop-1-then-2-now"),
        pytest.param(AUTO, 20, (2, 1), (40, 80), id="2-then-1-now"),
        pytest.param(AUTO, 5, (None, 2), (40, 20), id="older-checkpoint-other-steps"),
        pytest.param(AUTO, 10, (1, 1), None, id="the-same-processes"),
        pytest.param(AUTO, 10, (None, 1), None, id="older-checkpoint-same-steps"),
        pytest.param({**AUTO, "max_epochs": 100, "max_steps": 40}, 5, (1, 2), None,
                     id="max_steps-ends-both"),
    ],
)  # fmt: skip
def test_onecycle_resume_with_other_processes_for_the_same_settings(
    trainer, batches, processes, steps
):
    """README (Resuming): no trainer.* setting changed, but the resumed run has other processes
    than the run that wrote the checkpoint (trainer.devices=auto on other hardware), each with
    its share of an epoch's batches: refused where the optimizer steps of the one-cycle
    schedule it was built over (40: 10 batches an epoch on 1 process) and those the resumed
    run takes differ, with both counts and both process counts."""
    change = resume_schedule_change(
        {"name": "onecycle"}, trainer, dict(trainer), batches, steps_then=40, processes=processes
    )
    if steps is None:
        assert change is None
        return
    assert change is not None and change.settings == () and change.steps == steps
    message = schedule_change_error(change)
    then, now = processes
    assert "trainer.accelerator=auto trainer.devices=auto trainer.num_nodes=1" in message
    assert f"this run has {now} process{'es' if now > 1 else ''} here" in message
    assert "trainer.devices=auto takes every device of the machine it runs on" in message
    assert (
        f"would take {steps[1]} optimizer steps where the checkpoint's schedule was built "
        "over 40" in message
    )
    if then is None:
        assert "does not record the processes of the run that wrote it" in message
    else:
        assert f"the run that wrote the checkpoint had {then} process" in message
        assert f"pin its processes with trainer.devices={then})" in message
    harm = "with the learning rate still high" if steps[1] < 40 else "stops with an error past"
    assert harm in message
    assert "scheduler=none or scheduler=plateau" in message
    # a schedule over the epochs is not spread over the processes' batches
    cosine = resume_schedule_change(
        {"name": "cosine"}, trainer, dict(trainer), batches, steps_then=40, processes=processes
    )
    assert cosine is None


def test_constant_rate_is_recorded_too(make_cfg, tmp_path):
    record = _run(make_cfg, tmp_path, "none", "epoch")
    assert record["history"]["train/lr"] == [0.05] * EPOCHS
    assert set(SCHEDULERS) == {"none", "cosine", "warmup_cosine", "onecycle", "plateau"}


def test_report_plots_the_learning_rate_of_scheduled_runs(make_cfg, tmp_path):
    for seed in (0, 1):
        _run(make_cfg, tmp_path / "study" / f"cosine{seed}", "cosine", "epoch", f"seed={seed}")
    report = build_report([tmp_path / "study"], tmp_path / "report")
    png = report.parent / "plots" / "iris_learning_rate.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<figcaption>iris: learning rate</figcaption>" in report.read_text()


class _Batches(L.LightningModule):
    """A model with ``n`` training batches an epoch that notes the optimizer steps Lightning
    builds a schedule over (``Trainer.estimated_stepping_batches``)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.layer = torch.nn.Linear(1, 1)
        self.stepping_batches: int | None = None

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.ones(self.n, 1), batch_size=1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch).sum()

    def configure_optimizers(self):
        self.stepping_batches = self.trainer.estimated_stepping_batches
        return torch.optim.SGD(self.parameters(), lr=0.0)


@pytest.mark.parametrize(
    "settings",
    [
        {"max_epochs": 4},
        {"max_epochs": 4, "max_steps": 9},
        {"max_epochs": 3, "limit_train_batches": 0.5},
        {"max_epochs": 3, "limit_train_batches": 2},
        {"max_epochs": 3, "accumulate_grad_batches": 2},
        {"max_epochs": 3, "overfit_batches": 2},
        {"max_epochs": 3, "overfit_batches": 0.4, "limit_train_batches": 4},
        {"max_epochs": 3, "fast_dev_run": True},
        {"max_epochs": 3, "fast_dev_run": 3},
        {"max_epochs": 3, "fast_dev_run": 2, "overfit_batches": 4},
    ],
    ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()),
)
def test_fit_steps_counts_as_lightning(settings: dict) -> None:
    """The steps a one-cycle resume is checked against are those Lightning builds the schedule
    over, for each setting that changes them (a real fit of a 7-batch epoch)."""
    trainer = L.Trainer(
        **settings,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    module = _Batches(7)
    trainer.fit(module)
    assert module.stepping_batches is not None
    assert fit_steps(settings, train_batches=7) == module.stepping_batches


@pytest.mark.parametrize(
    ("optimizer", "words"),
    [
        ({"name": "lbfgs"}, "optimizer=lbfgs has neither a momentum nor betas"),
        ({"name": "sgd", "momentum": 0.0}, "optimizer.momentum=0 asks for plain SGD"),
    ],
    ids=["lbfgs", "plain-sgd"],
)
def test_onecycle_needs_a_momentum_to_cycle(optimizer: dict, words: str) -> None:
    """torch's OneCycleLR cycles the momentum: it refuses L-BFGS (which has none) once training
    starts, and gives plain SGD a momentum of 0.85 to 0.95."""
    error = check_scheduler_optimizer({"name": "onecycle"}, optimizer)
    assert error is not None and words in error and "scheduler=cosine" in error
    if optimizer["name"] == "lbfgs":
        with pytest.raises(ValueError, match="momentum or beta1"):  # what torch says
            build_scheduler(
                {"name": "onecycle", "pct_start": 0.3, "div_factor": 25.0,
                 "final_div_factor": 1e4, "anneal_strategy": "cos"},
                torch.optim.LBFGS([torch.nn.Parameter(torch.zeros(1))]),
                max_epochs=1, total_steps=4, monitor=None,
            )  # fmt: skip


@pytest.mark.parametrize(
    ("scheduler", "optimizer"),
    [
        ("onecycle", {"name": "sgd", "momentum": 0.9}),
        ("onecycle", {"name": "adam"}),
        ("onecycle", {"name": "adamw"}),
        *[(name, {"name": "lbfgs"}) for name in SCHEDULERS if name != "onecycle"],
    ],
)
def test_schedulers_and_optimizers_that_go_together(scheduler: str, optimizer: dict) -> None:
    assert check_scheduler_optimizer({"name": scheduler}, optimizer) is None
