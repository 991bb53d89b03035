"""Vectorized training: each member of a group equals the same run trained alone."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from sklearn.datasets import load_iris

from cli_process import run_script
from lossbench.checkpoint import load_checkpoint
from lossbench.evaluate import evaluate
from lossbench.predict import predict
from lossbench.progress import outcome_of
from lossbench.record import RECORD_NAME
from lossbench.train import main
from lossbench.training import train
from lossbench.vectorized import group_key, why_alone
from lossbench.vectorized.batched import BatchedOptimizer, StackedModel
from lossbench.vectorized.run import train_group

#: Members that differ in everything a member may: seed, split, learning rate, weight decay.
MEMBERS = (
    ("seed=0",),
    ("seed=1", "data.split_seed=1", "optimizer.lr=3e-2"),
    ("seed=2", "data.split_seed=2", "optimizer.weight_decay=0.05"),
)
CASES = {
    # early stopping with patience 1 stops the fast-learning member early
    "binary-logits-bce_with_logits-pos_weight-adamw-early_stopping": (
        "data=breast_cancer",
        "setup=logits_bce_with_logits_pos_weight",
        "optimizer=adamw",
        "trainer.max_epochs=5",
        "checkpoint.write=at_end",
        "early_stopping.enabled=true",
        "early_stopping.patience=1",
    ),
    "multilabel-logits-focal-sgd": (
        "data=digits_multilabel",
        "setup=logits_focal",
        "optimizer=sgd",
        "trainer.max_epochs=3",
        "checkpoint.write=never",
    ),
    "multiclass-log_softmax-nll-adam": (
        "data=iris",
        "head=log_softmax",
        "loss=nll",
        "trainer.max_epochs=5",
        "checkpoint.write=at_end",
        "data.batch_size=16",
    ),
    # epoch_metrics=monitored: each epoch's values from one batched forward of all members
    "binary-logits-bce_with_logits-early_stopping-monitored": (
        "data=breast_cancer",
        "setup=logits_bce_with_logits",
        "trainer.max_epochs=6",
        "checkpoint.write=at_end",
        "early_stopping.enabled=true",
        "early_stopping.patience=1",
        "epoch_metrics=monitored",
    ),
    "multilabel-logits-bce_with_logits-monitored": (
        "data=digits_multilabel",
        "setup=logits_bce_with_logits",
        "trainer.max_epochs=3",
        "epoch_metrics=monitored",
    ),
    "multiclass-log_softmax-nll-monitored-early-stopping-on-val-loss": (
        "data=iris",
        "head=log_softmax",
        "loss=nll",
        "trainer.max_epochs=5",
        "data.batch_size=16",
        "early_stopping.enabled=true",
        "early_stopping.monitor=val/loss",
        "epoch_metrics=monitored",
    ),
    # a summed loss: the loss metric per sample, in the steps' and the batched values
    "multiclass-logits-cross_entropy-sum-monitored": (
        "data=iris",
        "loss=cross_entropy",
        "loss.reduction=sum",
        "trainer.max_epochs=3",
        "data.batch_size=16",
        "epoch_metrics=monitored",
    ),
    "multiclass-softmax-bce-linear-sgd": (
        "data=wine",
        "setup=softmax_bce",
        "model=linear",
        "optimizer=sgd",
        "trainer.max_epochs=3",
    ),
}


def _alone_and_grouped(make_cfg, tmp_path, base, members=MEMBERS, *, fast=True):
    cfgs = [make_cfg(*base, *member, fast=fast) for member in members]
    alone = [train(cfg, tmp_path / f"alone{i}", multirun=True) for i, cfg in enumerate(cfgs)]
    grouped = train_group(cfgs, [tmp_path / f"member{i}" for i in range(len(cfgs))])
    return alone, grouped


def _metrics(record):
    return {k: v for k, v in record.items() if k.startswith(("val/", "test/"))}


SLOW_CASES = ("multiclass-softmax-bce-linear-sgd",)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in CASES],
)
def test_every_member_equals_its_run_alone(make_cfg, tmp_path, case):
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, CASES[case])
    for single, member in zip(alone, grouped, strict=True):
        assert member["status"] == single["status"] == "completed"
        assert set(member) == set(single) | {"group_size"}
        assert member["group_size"] == len(MEMBERS)
        assert (member["best_epoch"], member["epochs"], member["steps"]) == (
            single["best_epoch"],
            single["epochs"],
            single["steps"],
        )
        metrics = _metrics(single)
        assert metrics.keys() == _metrics(member).keys() and len(metrics) >= 16
        for key, value in metrics.items():
            assert member[key] == pytest.approx(value, abs=1e-5, nan_ok=True), key
        assert member["history"].keys() == single["history"].keys()
        if "monitored" in case:  # only the losses and the monitors each epoch
            assert set(member["history"]) <= {
                "train/loss",
                "val/loss",
                "val/nll",
                "val/epoch",
                "val/step",
                "train/lr",
            }
        for key, values in single["history"].items():
            assert member["history"][key] == pytest.approx(values, abs=1e-5, nan_ok=True), key
        for key in ("sizes", "loss_params", "n_outputs", "seed", "task", "setup", "stopped_by"):
            assert member[key] == single[key], key
        assert member["debug_run"] is single["debug_run"] is None
    assert len({m["train_seconds"] for m in grouped}) == 1  # the group's fit time
    if "early_stopping" in case:
        assert min(m["epochs"] for m in grouped) < 5  # a member stopped early, alone
        assert len({m["epochs"] for m in grouped}) > 1
        assert "early_stopping" in {m["stopped_by"] for m in grouped}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "case",
    ["binary-logits-bce_with_logits-early_stopping-monitored", "multilabel-logits-focal-sgd"],
)
def test_on_cuda_every_member_equals_its_run_alone(make_cfg, tmp_path, case):
    """The same group on a GPU: the stacked members, their data and optimizer state on the
    device, each equal to its run alone there (GPU reductions may sum in another order: 1e-4)."""
    base = (*CASES[case], "trainer.accelerator=gpu", "trainer.devices=1")
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, base)
    for single, member in zip(alone, grouped, strict=True):
        assert member["status"] == single["status"] == "completed", member.get("error")
        assert (member["best_epoch"], member["steps"]) == (single["best_epoch"], single["steps"])
        for key, value in _metrics(single).items():
            assert member[key] == pytest.approx(value, abs=1e-4, nan_ok=True), key


def test_non_finite_member_fails_alone_with_the_usual_error(make_cfg, tmp_path):
    base = (
        "data=breast_cancer",
        "head=sigmoid",
        "loss=manual_bce",
        "model=linear",
        "optimizer=sgd",
        "trainer.max_epochs=3",
    )
    members = (("optimizer.lr=1e4",), ("optimizer.lr=1e-2",), ("seed=3", "optimizer.lr=1e3"))
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, base, members)
    assert [r["status"] for r in grouped] == ["failed", "completed", "failed"]
    for single, member in zip(alone, grouped, strict=True):
        assert member["status"] == single["status"]
        assert member["error"] == single["error"]
        assert member.get("refused") == single.get("refused")
        assert member["stopped_by"] == single["stopped_by"]
        assert (member["epochs"], member["steps"]) == (single["epochs"], single["steps"])
    assert grouped[0]["error"].startswith("non-finite training loss (nan) at epoch 0")
    assert grouped[1]["test/nll"] == pytest.approx(alone[1]["test/nll"], abs=1e-5)


@pytest.mark.parametrize("epoch_metrics", ["all", "monitored"])
def test_member_whose_validation_loss_turns_non_finite_fails_alone_as_its_run_alone(
    make_cfg, tmp_path, epoch_metrics
):
    """One step per epoch: every training loss is finite, and the weight decay of the first
    and third members (the weights times about -1e20 each step) overflows their weights in the
    second epoch's and the first epoch's step; their validation loss is NaN."""
    base = (
        "data=iris",
        "model=linear",
        "data.batch_size=null",
        "optimizer=sgd",
        "optimizer.lr=1",
        "trainer.max_epochs=3",
        f"epoch_metrics={epoch_metrics}",
    )
    members = (
        ("optimizer.weight_decay=1e20",),
        ("optimizer.weight_decay=0", "optimizer.lr=0.01"),
        ("optimizer.weight_decay=1e40", "seed=3"),
    )
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, base, members)
    assert [r["status"] for r in grouped] == ["failed", "completed", "failed"]
    assert grouped[0]["error"] == "non-finite weights (inf) at epoch 1, step 2"
    assert grouped[2]["error"] == "non-finite weights (inf) at epoch 0, step 1"
    for single, member in zip(alone, grouped, strict=True):
        for key in ("status", "error", "refused", "stopped_by", "epochs", "steps", "best_epoch"):
            assert member.get(key) == single.get(key), key
        assert member["history"].keys() == single["history"].keys()
        for key, values in single["history"].items():
            assert member["history"][key] == pytest.approx(values, rel=1e-5, abs=1e-5), key
    files = [
        [sorted(p.name for p in (tmp_path / f"{run}{i}").glob("checkpoints/*")) for i in range(3)]
        for run in ("alone", "member")
    ]
    assert files[0] == files[1]
    assert files[0][0] == ["best-epoch000.ckpt", "last.ckpt"] and files[0][2] == []
    assert len(grouped[0]["history"]["val/loss"]) == 1  # the good epoch is kept
    assert grouped[1]["test/nll"] == pytest.approx(alone[1]["test/nll"], abs=1e-5)


def test_a_group_whose_members_all_stop_early_completes(make_cfg, tmp_path):
    """The last members leaving the stack end the fit; each keeps its own record."""
    stop = ("early_stopping.enabled=true", "early_stopping.patience=1", "trainer.max_epochs=20")
    cfgs = [  # no improvement of 10 nats after the first epoch: both stop after 2
        make_cfg("data=iris", *stop, "early_stopping.min_delta=10", f"seed={seed}")
        for seed in (0, 1)
    ]
    records = train_group(cfgs, [tmp_path / "a", tmp_path / "b"])
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert [(r["stopped_by"], r["epochs"]) for r in records] == [("early_stopping", 2)] * 2


def test_refused_member_is_recorded_and_the_others_train(make_cfg, tmp_path, caplog):
    cfgs = [make_cfg("data=iris", f"optimizer.lr={lr}") for lr in (1e-3, -1)]
    with caplog.at_level("ERROR"):
        records = train_group(cfgs, [tmp_path / "a", tmp_path / "b"])
    # logged as a run alone logs it: refused, not "run failed"
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["refused"]
    assert records[0]["status"] == "completed" and records[0]["group_size"] == 1
    assert records[1]["status"] == "failed" and records[1]["refused"] is True
    assert "optimizer.lr=-1 must be a positive number" in records[1]["error"]
    on_disk = json.loads((tmp_path / "b" / RECORD_NAME).read_text())
    assert on_disk["error"] == records[1]["error"]


def test_members_refused_with_one_message_are_logged_once_with_their_count(
    make_cfg, tmp_path, caplog
):
    cfgs = [make_cfg("data=iris", "optimizer.lr=-1", f"seed={seed}") for seed in (0, 1, 2)]
    with caplog.at_level("ERROR"):
        records = train_group(cfgs, [tmp_path / "g" / f"seed{seed}" for seed in (0, 1, 2)])
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("refused (3 jobs): optimizer.lr=-1 must be a positive number")
    assert line.endswith(
        f"({tmp_path / 'g' / 'seed0' / RECORD_NAME} and 2 more under {tmp_path / 'g'})"
    )
    for seed, record in enumerate(records):  # each job's own record still says why
        on_disk = json.loads((tmp_path / "g" / f"seed{seed}" / RECORD_NAME).read_text())
        assert record["refused"] is True and "must be a positive number" in on_disk["error"]


def test_members_failing_in_training_the_same_way_are_logged_once_with_their_count(
    make_cfg, tmp_path, caplog
):
    """Members that diverge at different epochs share one line (a study's group used to print
    one per member); each record keeps where its own run failed."""
    base = ("data=breast_cancer", "head=sigmoid", "loss=manual_bce", "model=linear")
    lrs = (1e4, 0.3, 1e-2)
    cfgs = [
        make_cfg(*base, "optimizer=sgd", "trainer.max_epochs=6", f"optimizer.lr={lr}") for lr in lrs
    ]
    dirs = [tmp_path / "g" / f"lr{lr}" for lr in lrs]
    with caplog.at_level("ERROR"):
        records = train_group(cfgs, dirs)
    assert [r["status"] for r in records] == ["failed", "failed", "completed"]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        f"run failed (2 jobs): non-finite training loss (nan) ({dirs[0] / RECORD_NAME} "
        f"and 1 more under {tmp_path / 'g'})"
    )
    assert [r["error"] for r in records[:2]] == [  # two messages, one line
        "non-finite training loss (nan) at epoch 0, step 1 (batch 1)",
        "non-finite training loss (nan) at epoch 3, step 9 (batch 0)",
    ]


def test_member_checkpoints_serve_eval_and_predict_like_a_run_alone(make_cfg, tmp_path):
    base = ("data=iris", "setup=softmax_bce", "trainer.max_epochs=3")
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, base, MEMBERS[:2])
    rows = load_iris()
    new = tmp_path / "new.csv"
    with new.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows.feature_names)
        writer.writerows(rows.data[:20].tolist())
    for single, member in zip(alone, grouped, strict=True):
        best = Path(member["best_checkpoint"])
        assert best.name == f"best-epoch{member['best_epoch']:03d}.ckpt"
        result = evaluate(best)
        for key, value in result.items():
            if key.startswith("test/"):
                assert value == pytest.approx(member[key], abs=1e-12), key
        ours, theirs = predict(best, new), predict(single["best_checkpoint"], new)
        assert ours.keys() == theirs.keys() and len(ours["predicted"]) == 20
        for key in ours:
            if key != "predicted":
                assert ours[key] == pytest.approx(theirs[key], abs=1e-5), key
        last = load_checkpoint(best.parent / "last.ckpt")  # checkpoint.write=every_epoch
        theirs = load_checkpoint(Path(single["best_checkpoint"]).parent / "last.ckpt")
        assert (last["epoch"], last["global_step"]) == (theirs["epoch"], theirs["global_step"])
        assert last["epoch"] == member["epochs"] - 1 and last["global_step"] == member["steps"]
        assert json.loads(last["lossbench_history"]) == member["history"]
        fingerprints = last["lossbench_metadata"]["split_sha256"]  # what eval compares
        assert fingerprints == theirs["lossbench_metadata"]["split_sha256"]
        assert set(fingerprints) == {"train", "val", "test"}


def test_stacked_model_computes_each_members_own_layers():
    torch.manual_seed(0)
    models = [
        torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        for _ in range(4)
    ]
    stacked = StackedModel(models)
    x = torch.randn(4, 6, 5)
    for k, model in enumerate(models):
        torch.testing.assert_close(stacked(x)[k], model(x[k]))
    with pytest.raises(ValueError, match="dropout"):
        StackedModel([torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))])


@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "adam", "betas": [0.9, 0.999], "eps": 1e-8},
        {"name": "adamw", "betas": [0.8, 0.99], "eps": 1e-6},
        {"name": "sgd", "momentum": 0.9, "nesterov": False},
        {"name": "sgd", "momentum": 0.9, "nesterov": True},
        {"name": "sgd", "momentum": 0.0, "nesterov": False},
    ],
    ids=lambda c: f"{c['name']}-{c.get('nesterov', '')}{c.get('momentum', '')}",
)
@pytest.mark.parametrize("implementation", ["auto", "for_loop"])
def test_batched_optimizer_follows_torch_per_member(cfg, implementation):
    """Each member's parameters after 5 steps are those of its own ``torch.optim`` optimizer:
    to rounding against a run alone's default (``auto``: torch's fused kernel, which the group
    calls on each member's slices; bit for bit where the slices start on the kernel's vector
    boundaries, but on a CPU with AVX-512 the kernel rounds a slice's unaligned head or tail
    apart) and against the per-parameter loop."""
    from lossbench.optim import build_optimizer

    torch.manual_seed(0)
    lrs, decays = [1e-3, 3e-2, 1e-1], [0.0, 0.1, 0.01]
    models = [torch.nn.Linear(4, 3) for _ in lrs]
    stacked = StackedModel(models)
    batched = BatchedOptimizer(stacked, cfg, lr=lrs, weight_decay=decays)
    alone = [
        build_optimizer({**cfg, "lr": lr, "weight_decay": wd, "implementation": implementation}, m)
        for m, lr, wd in zip(models, lrs, decays, strict=True)
    ]
    for _ in range(5):
        x = torch.randn(3, 7, 4)
        stacked.flat_grad.zero_()
        stacked(x).pow(2).sum().backward()
        batched.step()
        for k, (model, opt) in enumerate(zip(models, alone, strict=True)):
            opt.zero_grad()
            model(x[k]).pow(2).sum().backward()
            opt.step()
    fused = batched._kernel is not None and implementation == "auto"
    assert fused == (implementation == "auto" and _fused_on_cpu(cfg["name"]))
    for k, model in enumerate(models):
        for name, value in stacked.member_state(k).items():  # float32: rtol 1.3e-6, atol 1e-5
            torch.testing.assert_close(value, dict(model.named_parameters())[name], msg=name)


def _fused_on_cpu(name: str) -> bool:
    """Whether this torch has optimizer ``name``'s fused kernel on a CPU (torch >= 2.4)."""
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[name]
    try:
        cls([torch.nn.Parameter(torch.zeros(1))], lr=0.1, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def test_batched_adam_state_is_torchs_after_members_leave():
    """After members leave the stack (early stopping), the fused path steps the members that
    remain with their own moments and step count: equal to their optimizers alone."""
    from lossbench.optim import build_optimizer

    torch.manual_seed(1)
    cfg = {"name": "adam", "betas": [0.9, 0.999], "eps": 1e-8}
    lrs = [1e-2, 3e-2, 1e-1, 3e-2]
    models = [torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
              for _ in lrs]  # fmt: skip
    stacked = StackedModel(models)
    batched = BatchedOptimizer(stacked, cfg, lr=lrs, weight_decay=[0.0, 0.1, 0.0, 0.0])
    assert batched.member_state(0) == {}  # as torch's state before the first step
    alone = [
        build_optimizer({**cfg, "lr": lr, "weight_decay": wd, "implementation": "auto"}, m)
        for m, lr, wd in zip(models, lrs, [0.0, 0.1, 0.0, 0.0], strict=True)
    ]
    members = list(range(4))
    for step in range(6):
        if step == 3:  # members 0 and 2 leave
            members = [1, 3]
            index = torch.tensor(members)
            stacked.keep(index)
            batched.keep(index)
        x = torch.randn(len(members), 6, 4)
        stacked.flat_grad.zero_()
        stacked(x).pow(2).sum().backward()
        batched.step()
        for position, k in enumerate(members):
            alone[k].zero_grad()
            models[k](x[position]).pow(2).sum().backward()
            alone[k].step()
    for position, k in enumerate(members):
        own = dict(models[k].named_parameters())
        for name, value in stacked.member_state(position).items():
            torch.testing.assert_close(value, own[name], rtol=0, atol=1e-7)
        moments = batched.member_state(position)
        first = alone[k].state[own["0.weight"]]["exp_avg"]
        torch.testing.assert_close(
            stacked.unflatten(moments["exp_avg"])["0.weight"], first, rtol=1e-5, atol=1e-8
        )


@pytest.mark.slow
def test_grouping_keys_and_lone_runs(make_cfg):
    a = make_cfg("data=wine", "seed=0")
    assert why_alone(a) is None
    assert group_key(a) == group_key(make_cfg("data=wine", "seed=4", "optimizer.lr=0.3"))
    assert group_key(a) != group_key(make_cfg("data=wine", "optimizer=sgd"))
    assert group_key(a) != group_key(make_cfg("data=iris"))
    assert "optimizer=lbfgs" in why_alone(make_cfg("data=wine", "optimizer=lbfgs"))
    assert "dropout" in why_alone(make_cfg("data=wine", "model.dropout=0.2"))
    assert "runner=lightning" in why_alone(make_cfg("data=wine", "runner=lightning"))
    # a group steps with the fused kernel: a run asking for another one trains alone
    for implementation in ("foreach", "for_loop"):
        cfg = make_cfg("data=wine", f"optimizer.implementation={implementation}")
        assert f"optimizer.implementation={implementation}" in why_alone(cfg)
    assert why_alone(make_cfg("data=wine", "optimizer.implementation=fused")) is None
    # a member's early stopping stops it at once: a minimum that overrides early stopping
    # (trainer.min_epochs, min_steps) is the run alone's rule, so such a run trains alone
    for minimum in ("trainer.min_epochs=2", "trainer.min_steps=5"):
        assert minimum.split("=")[0] in why_alone(make_cfg("data=wine", minimum))


def _records(sweep: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob(f"*/{RECORD_NAME}")}


def _sweep(monkeypatch, tmp_path, capfd, *args: str, launcher: str = "vectorized") -> str:
    """``lossbench-train -m hydra/launcher=<launcher> ARGS`` in this process; its output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["lossbench-train", "-m", f"hydra/launcher={launcher}", *args])
    try:
        main()
    finally:
        GlobalHydra.instance().clear()
    out, err = capfd.readouterr()
    return out + err


@pytest.mark.slow
def test_vectorized_launcher_groups_a_real_sweep_and_skips_completed_members(
    monkeypatch, tmp_path, capfd
):
    sweep = tmp_path / "sweep"
    args = (
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
        "hydra.sweep.subdir=${hydra.job.num}",
        "data=iris",
        "trainer.max_epochs=3",
        "logger=none",
        "seed=0,1",
        "runner=auto,lightning",
    )
    log = _sweep(monkeypatch, tmp_path, capfd, *args)
    assert "4 jobs: 2 in 1 vectorized groups, 2 alone, 0 already ended (skipped)" in log
    records = _records(sweep)
    assert sorted(records) == ["0", "1", "2", "3"]
    # job order: seed=0 auto, seed=0 lightning, seed=1 auto, seed=1 lightning
    assert [records[n].get("group_size") for n in "0123"] == [2, None, 2, None]
    assert [records[n]["seed"] for n in "0123"] == [0, 0, 1, 1]
    for grouped, alone in (("0", "1"), ("2", "3")):  # the batch loop trains identically
        assert records[grouped]["training_loop"] == "vectorized"
        assert records[alone]["training_loop"] == "batch"
        for key, value in _metrics(records[alone]).items():
            assert records[grouped][key] == pytest.approx(value, abs=1e-5, nan_ok=True)
        assert (sweep / grouped / ".hydra" / "overrides.yaml").is_file()
    # a member that failed on a non-finite loss has ended too (lossbench.record.diverged)
    nan = {"status": "failed", "error": "non-finite training loss (nan) at epoch 1, step 9"}
    records["2"].update(nan)
    (sweep / "2" / RECORD_NAME).write_text(json.dumps(records["2"]))
    again = _sweep(monkeypatch, tmp_path, capfd, *args)
    assert "4 jobs: 0 in 0 vectorized groups, 0 alone, 4 already ended (skipped)" in again
    assert "1 failed in an earlier run (kept)" in again  # counted, not logged job by job
    assert outcome_of(sweep, 2) == "failed_before" and outcome_of(sweep, 0) == "skipped"
    assert _records(sweep) == records


@pytest.mark.slow
def test_a_sweep_trains_a_per_step_callback_alone_with_lightnings_loop(
    monkeypatch, tmp_path, capfd
):
    """A run with a callback beyond the defaults trains alone, and its runner is chosen as a
    single run's: ``EMAWeightAveraging`` (per-step hooks) takes Lightning's loop under
    runner=auto, with runner=lightning's metrics."""
    sweep = tmp_path / "sweep"
    log = _sweep(
        monkeypatch,
        tmp_path,
        capfd,
        "hydra.launcher.n_jobs=1",
        f"hydra.sweep.dir={sweep}",
        "hydra.sweep.subdir=${hydra.job.num}",
        "data=breast_cancer",
        "trainer.max_epochs=3",
        "optimizer.lr=0.01",
        "logger=none",
        "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging",
        "runner=auto,lightning",
    )
    assert "2 jobs: 0 in 0 vectorized groups, 2 alone" in log
    auto, lightning = (_records(sweep)[n] for n in "01")
    assert auto["training_loop"] == lightning["training_loop"] == "batch"
    assert _metrics(lightning) and any(key.startswith("test/") for key in _metrics(lightning))
    for key, value in _metrics(lightning).items():
        assert auto[key] == pytest.approx(value, abs=1e-6), key
    for key, values in lightning["history"].items():
        assert auto["history"][key] == pytest.approx(values, abs=1e-6), key


@pytest.mark.slow
def test_fair_protocol_group_equals_its_runs_alone_to_convergence(make_cfg, tmp_path):
    """The study protocol: a split per seed, early stopping, up to 100 epochs."""
    base = (
        "experiment=compare_binary",
        "study=quick",
        "data=breast_cancer",
        "setup=logits_bce_with_logits",
        "logger=none",
    )
    members = [(f"seed={s}", f"optimizer.lr={lr}") for s in (0, 1) for lr in (3e-4, 1e-2)]
    alone, grouped = _alone_and_grouped(make_cfg, tmp_path, base, members, fast=False)
    assert {r["stopped_by"] for r in grouped} >= {"early_stopping"}
    for single, member in zip(alone, grouped, strict=True):
        assert (member["best_epoch"], member["epochs"], member["stopped_by"]) == (
            single["best_epoch"],
            single["epochs"],
            single["stopped_by"],
        )
        for key, value in _metrics(single).items():
            assert member[key] == pytest.approx(value, abs=1e-5, nan_ok=True), key


@pytest.mark.slow
def test_vectorized_launcher_runs_groups_and_lone_jobs_in_worker_processes(
    monkeypatch, tmp_path, capfd
):
    sweep = tmp_path / "sweep"
    log = _sweep(
        monkeypatch,
        tmp_path,
        capfd,
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        "hydra.sweep.subdir=${hydra.job.num}",
        "data=iris,wine",
        "trainer.max_epochs=2",
        "logger=none",
        "seed=0,1",
        "optimizer=adam,lbfgs",
    )
    assert "8 jobs: 4 in 2 vectorized groups, 4 alone, 0 already ended (skipped)" in log
    records = _records(sweep)
    assert sorted(records, key=int) == [str(i) for i in range(8)]
    assert all(r["status"] == "completed" for r in records.values())
    assert [records[str(i)].get("group_size") for i in range(8)] == [2, None] * 4


@pytest.mark.slow
def test_worker_processes_log_each_job_to_the_console_as_the_launching_process_does(
    monkeypatch, tmp_path, capfd
):
    """With two worker processes each member's "completed: ..." line, and the notice that a
    raised cap kept the earlier record, reach the console in Hydra's format, as they do with
    one worker (the launching process trains the groups itself)."""
    sweep = tmp_path / "sweep"
    args = (
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        "data=wine,iris",
        "seed=0,1",
        "logger=none",
    )
    log = _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=1")
    assert "4 jobs: 4 in 2 vectorized groups, 0 alone" in log
    completed = [line for line in log.splitlines() if "completed: test/nll = " in line]
    assert len(completed) == 4, log
    assert all(line.startswith("[") and "][HYDRA] completed: " in line for line in completed)
    assert {line.rsplit("record: ", 1)[1] for line in completed} == {
        str(path) for path in sweep.glob(f"*/{RECORD_NAME}")
    }
    again = _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=2")
    notices = [line for line in again.splitlines() if "training it again with" in line]
    assert len(notices) == 4 and all("][HYDRA] " in line for line in notices), again
    assert all("metrics-max_epochs1.json" in line for line in notices)
    assert sum("][HYDRA] completed: " in line for line in again.splitlines()) == 4


def test_a_worker_takes_the_console_logging_of_the_launching_process():
    """The root logger's level and console handlers (stream, level, format, date format) and
    lossbench's levels, as a fresh worker process sets them up (:func:`prepare_worker`)."""
    script = """
import logging, sys
from lossbench.vectorized.sweep import console_logging, set_console_logging
handler = logging.StreamHandler(sys.stderr)
handler.setLevel(logging.INFO)
handler.setFormatter(logging.Formatter("<%(asctime)s|%(levelname)s> %(message)s", "%H"))
logging.getLogger().addHandler(handler)
logging.getLogger().addHandler(logging.FileHandler("/dev/null"))  # a run's train.log: not copied
logging.getLogger().setLevel(logging.DEBUG)
logging.getLogger("lossbench").setLevel(logging.WARNING)
console = console_logging()
for h in list(logging.getLogger().handlers):
    logging.getLogger().removeHandler(h)
logging.getLogger("lossbench").setLevel(logging.NOTSET)
logging.getLogger().setLevel(logging.WARNING)
set_console_logging(console)
assert len(logging.getLogger().handlers) == 1
logging.getLogger("other").debug("debug of another")
logging.getLogger("lossbench").info("info of lossbench")
logging.getLogger("lossbench").error("error of lossbench")
logging.getLogger("other").info("info of another")
"""
    result = _python(script)
    lines = result.stderr.splitlines()
    assert [line.split("> ", 1)[1] for line in lines] == ["error of lossbench", "info of another"]
    assert lines[0].startswith("<") and "|ERROR> " in lines[0]
    assert result.stdout == ""


def _python(script: str) -> subprocess.CompletedProcess[str]:
    """``python -c script`` in a fresh interpreter with lossbench on its path; it must succeed."""
    done = run_script(script, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_joblib_works_in_a_process_that_ran_a_study_with_workers() -> None:
    """A study's worker pool is its own, not loky's process-wide executor, which joblib (the
    report's yardstick) would take over and break on (AttributeError: '_temp_folder_manager')."""
    script = (
        "from lossbench.vectorized.sweep import TaskPool\n"
        "pool = TaskPool(workers=2)\n"
        "pool.close()\n"
        "from joblib import Parallel, delayed\n"
        "print(Parallel(n_jobs=2, backend='loky')(delayed(abs)(-i) for i in range(3)))\n"
    )
    done = _python(script)
    assert done.stdout.strip() == "[0, 1, 2]"


@pytest.mark.slow
def test_a_study_worker_starts_with_the_libraries_imported_and_their_objects_frozen() -> None:
    """Collections in a worker skip the imported libraries' objects (``gc.freeze``): loky
    collects after every task, ~0.4 s each over an unfrozen heap of torch and Lightning. And
    a worker ignores Ctrl-C, which the launching process handles for the whole study."""
    script = (
        "import gc, sys\n"
        "from lossbench.vectorized.sweep import TaskPool\n"
        "pool = TaskPool(workers=2)\n"
        "import signal\n"
        "state = lambda: (gc.get_freeze_count(), 'lightning' in sys.modules,\n"
        "                 signal.getsignal(signal.SIGINT) is signal.SIG_IGN)\n"
        "print(*pool._executor.submit(state).result())\n"
        "pool.close()\n"
    )
    done = _python(script)
    frozen, imported, ignores_ctrl_c = done.stdout.split()
    assert int(frozen) > 100_000, frozen  # the libraries' objects (~460 000)
    assert imported == "True"
    assert ignores_ctrl_c == "True"  # the launching process stops its workers


def test_a_killed_pool_leaves_no_thread_to_release_its_semaphores_as_the_process_exits() -> None:
    """A stopped study's pool (:meth:`TaskPool.kill`) has ended its threads when it returns: the
    thread that fed loky's call queue ran on, held the queue's semaphores, and could release
    them as the process exited, unlinking one and being stopped before telling loky's
    resource tracker, which then warned of a leaked semaphore after the command's last line.
    Every semaphore is released before the process ends, none by loky's resource tracker."""
    script = (
        "import threading, time\n"
        "from lossbench.vectorized.sweep import TaskPool\n"
        "pool = TaskPool(workers=2)\n"
        "pool._executor.submit(time.sleep, 60)\n"
        "deadline = time.monotonic() + 60\n"
        "feeding = lambda: any(t.name == 'QueueFeederThread' for t in threading.enumerate())\n"
        "while not feeding() and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(feeding())\n"
        "pool.kill()\n"
        "print([t.name for t in threading.enumerate() if t is not threading.main_thread()])\n"
    )
    done = _python(script)
    fed, left = done.stdout.splitlines()
    assert fed == "True"  # the task was handed to the call queue's thread
    assert left == "[]", left
    assert "resource_tracker" not in done.stderr, done.stderr[-2000:]


def _launcher(sweep_dir: str):
    """A vectorized launcher set up as Hydra sets it up for ``experiment=compare_binary``."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext, RunMode

    from hydra_plugins.lossbench_vectorized_launcher.launcher import VectorizedLauncher
    from lossbench.train import config_dir

    setup_globals()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
    master = loader.load_configuration(
        "train", ["experiment=compare_binary", f"hydra.sweep.dir={sweep_dir}"], RunMode.MULTIRUN
    )
    HydraConfig.instance().set_config(master)
    launcher = VectorizedLauncher()
    launcher.setup(
        hydra_context=HydraContext(config_loader=loader, callbacks=None),
        task_function=None,
        config=master,
    )
    return launcher, loader, master


#: Eight jobs of two setups, two learning rates and two seeds on one data set.
SETUP_JOBS = [
    ["data=breast_cancer", f"setup={setup}", f"optimizer.lr={lr}", f"seed={seed}"]
    for setup in ("sigmoid_bce", "logits_focal")
    for lr in (0.0003, 0.01)
    for seed in (0, 2)
]


def _comparable(cfg):
    """A job's composed config, resolved as its run sees it, without what differs between any
    two compositions of the same job (``hydra.run``'s ``${now:...%f}``, the config sources)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/unused"
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    container = OmegaConf.to_container(cfg, resolve=True)
    container["hydra"].pop("run")
    container["hydra"]["runtime"].pop("config_sources")
    return container


def _count_hydra_compositions(launcher):
    """Record each composition the launcher asks of Hydra: (the calls' overrides, Hydra's own
    composition)."""
    calls: list[list[str]] = []
    compose = launcher._compose_sweep_config

    def counting(master_config, sweep_overrides):
        calls.append(list(sweep_overrides))
        return compose(master_config, sweep_overrides)

    launcher._compose_sweep_config = counting
    return calls, compose


def test_launcher_composes_each_base_once_and_equals_hydra_per_job() -> None:
    """The launcher applies seed / optimizer.lr to one composition per setup: the job configs
    equal Hydra's own composition of each job (all but run.dir's microsecond timestamp)."""

    launcher, loader, master = _launcher("/unused")
    jobs = SETUP_JOBS
    for overrides in jobs:
        resolved = [
            _comparable(cfg)
            for cfg in (
                launcher._sweep_config(overrides),
                loader.load_sweep_config(master, overrides),
            )
        ]
        assert resolved[0] == resolved[1]
        assert resolved[0]["seed"] == int(overrides[3].split("=")[1])
    assert len(launcher._bases) == 2  # one composition per setup


@pytest.mark.slow
def test_launcher_light_jobs_equal_hydras_own_job_configs_and_files(tmp_path) -> None:
    """Without a copy of the composed config per job, each job's resolved config, output
    directory and ``.hydra/`` files equal what Hydra's composition and ``run_job`` give."""
    from omegaconf import OmegaConf

    launcher, _, _ = _launcher(str(tmp_path))
    jobs = [
        # as the sweeper hands them over: the swept values, then the command line's overrides
        [
            "data=breast_cancer",
            f"setup={setup}",
            f"optimizer.lr={lr}",
            f"seed={seed}",
            "experiment=compare_binary",
        ]
        for setup in ("sigmoid_bce", "logits_focal")
        for lr in (0.0003, 0.01)
        for seed in (0, 2)
    ]
    for idx, overrides in enumerate(jobs):
        job = launcher._light_job(launcher._parser.parse_overrides(overrides), idx)
        hydra_config, resolved, output_dir = launcher._compose(overrides, idx)
        assert job.output_dir == output_dir
        assert str(output_dir).endswith(f"lr{overrides[2][13:]}/seed{overrides[3][5:]}")
        assert job.plain == OmegaConf.to_container(resolved)
        assert job.plain["paths"]["run_dir"] == str(output_dir)
        assert job.plain["data"]["split_seed"] == job.plain["seed"]
        task = {k: v for k, v in OmegaConf.to_container(hydra_config).items() if k != "hydra"}
        assert job.files["config.yaml"] == task  # unresolved, as Hydra saves it
        expected = OmegaConf.to_container(hydra_config.hydra, enum_to_str=True)
        written = dict(job.files["hydra.yaml"]["hydra"])
        for container in (expected, written):
            container.pop("run")  # ${now:...%f}: differs between any two compositions
        assert written == expected
        job.write_files()
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            saved = OmegaConf.to_container(OmegaConf.load(output_dir / ".hydra" / name))
            assert saved == job.files[name], name
        assert job.returned(0.5).return_value == 0.5
    assert len(launcher._light) == 2  # one composition per setup


def test_a_swept_interpolation_stays_unresolved_in_the_jobs_hydra_config(tmp_path) -> None:
    """``data.split_seed=${seed}`` as a job's value: its ``.hydra/config.yaml`` keeps the
    interpolation, as Hydra's does (it held the resolved number)."""
    from omegaconf import OmegaConf

    launcher, _, _ = _launcher(str(tmp_path))
    for idx, seed in enumerate((0, 1)):
        overrides = [
            "data=iris", f"seed={seed}", "data.split_seed=${seed}",
            "optimizer.weight_decay=${optimizer.lr}",
        ]  # fmt: skip
        job = launcher._light_job(launcher._parser.parse_overrides(overrides), idx)
        hydra_config, resolved, _ = launcher._compose(overrides, idx)
        task = {k: v for k, v in OmegaConf.to_container(hydra_config).items() if k != "hydra"}
        assert job.files["config.yaml"] == task
        assert task["data"]["split_seed"] == "${seed}"
        assert job.plain["data"]["split_seed"] == seed == resolved.data.split_seed


def test_the_sweepers_check_composes_the_bases_the_launch_then_uses(tmp_path) -> None:
    """The check before a sweep (one job per swept value) composes through the launcher, so
    the launch composes no base twice; a value that does not compose fails as in Hydra."""
    from hydra.errors import ConfigCompositionException

    launcher, _, _ = _launcher(str(tmp_path))
    calls, _ = _count_hydra_compositions(launcher)
    jobs = SETUP_JOBS
    assert launcher.check_jobs([jobs[0], jobs[3], jobs[4]])
    assert len(calls) == 2  # one per setup
    unchecked, _, _ = _launcher(str(tmp_path))
    for idx, overrides in enumerate(jobs):
        job = launcher._light_job(launcher._parser.parse_overrides(overrides), idx)
        alone = unchecked._light_job(unchecked._parser.parse_overrides(overrides), idx)
        # the check's jobs leave nothing behind in the bases: the same configs and files
        assert (job.plain, job.output_dir) == (alone.plain, alone.output_dir)
        for name in ("config.yaml", "overrides.yaml"):
            assert job.files[name] == alone.files[name]
        hydra = [dict(j.files["hydra.yaml"]["hydra"]) for j in (job, alone)]
        for h in hydra:
            h.pop("run")  # ${now:...%f}: differs between any two compositions
        assert hydra[0] == hydra[1]
    assert len(calls) == 2  # the launch composed nothing more
    with pytest.raises(ConfigCompositionException, match="Error merging override seed=x"):
        launcher.check_jobs([["data=breast_cancer", "setup=sigmoid_bce", "seed=x"]])


@pytest.mark.slow
def test_hydras_own_check_of_each_job_composes_one_base_per_setup(tmp_path) -> None:
    """Hydra's basic sweeper checks every job before the launch by composing it through the
    config loader (``validate_batch_is_legal``): for this sweep's jobs the loader answers with
    the launcher's composition (one base per setup, equal to Hydra's per job), the launch then
    composes nothing more, and a job that does not compose fails with Hydra's own error."""
    from hydra.errors import ConfigCompositionException

    launcher, loader, master = _launcher(str(tmp_path))
    calls, compose = _count_hydra_compositions(launcher)
    jobs = SETUP_JOBS
    checked = [loader.load_sweep_config(master, job) for job in jobs]  # Hydra's check
    assert len(calls) == 2  # one per setup, not one per job
    for job, cfg in zip(jobs, checked, strict=True):
        assert _comparable(cfg) == _comparable(compose(master, job))
    calls.clear()
    for idx, job in enumerate(jobs):  # the launch: the bases are copies of the checked ones
        launcher._light_job(launcher._parser.parse_overrides(job), idx)
    assert calls == []
    with pytest.raises(ConfigCompositionException, match="Error merging override seed=x"):
        loader.load_sweep_config(master, ["data=breast_cancer", "setup=sigmoid_bce", "seed=x"])
    calls.clear()
    other = copy.deepcopy(master)  # another sweep's config: composed by Hydra, as before
    assert loader.load_sweep_config(other, jobs[0]).seed == 0 and calls == []
    second = type(launcher)()  # a later launcher on the same loader wraps Hydra's, not ours
    second.setup(hydra_context=launcher.hydra_context, task_function=None, config=other)
    assert second._compose_sweep_config is compose


def test_member_configs_equal_configs_created_one_by_one(tmp_path) -> None:
    """A worker makes each member's DictConfig as a copy of the first with its own values:
    equal to ``OmegaConf.create`` of each, and independent of each other."""
    from omegaconf import OmegaConf

    from lossbench.vectorized.sweep import member_configs

    launcher, _, _ = _launcher(str(tmp_path))
    jobs = [
        [
            "data=breast_cancer",
            "setup=logits_bce_with_logits_pos_weight",
            *(f"optimizer.lr={lr}", f"seed={seed}", f"loss.pos_weight_scale={scale}"),
            "experiment=compare_binary",
        ]
        for lr, seed, scale in [(0.01, 0, 1.0), (0.003, 2, 0.5), (0.01, 1, 2.0)]
    ]
    plain = [
        launcher._light_job(launcher._parser.parse_overrides(o), i).plain
        for i, o in enumerate(jobs)
    ]
    plain.append({**plain[0], "extra": {"a": 1}})  # another layout: created on its own
    plain.append({**plain[1], "loss": {**plain[1]["loss"], "weight": [1.0, 2.0]}})
    configs = member_configs(plain)
    for cfg, expected in zip(configs, plain, strict=True):
        assert OmegaConf.to_container(cfg) == OmegaConf.to_container(OmegaConf.create(expected))
    assert configs[1].seed == 2 and configs[1].data.split_seed == 2
    assert list(configs[4].loss.weight) == [1.0, 2.0]
    configs[1].optimizer.lr = 9.0  # a member's config is its own
    assert configs[0].optimizer.lr == 0.01 and configs[2].optimizer.lr == 0.01


def test_launcher_resolves_again_only_what_a_jobs_values_can_change() -> None:
    from hydra_plugins.lossbench_vectorized_launcher.launcher import (
        _dynamic_leaves,
        _interpolations,
    )

    config = {
        "seed": 0,
        "data": {"name": "wine", "split_seed": "${seed}", "tag": "${data.name}"},
        "callbacks": {
            "ckpt": {"dirpath": "${paths.run_dir}/checkpoints", "again": "${callbacks.ckpt}"}
        },
        "paths": {"run_dir": "${run_dir:}", "log_dir": "${paths.output_dir}", "output_dir": "o"},
        "stamp": "${now:%H}",
    }
    leaves = _interpolations(config)
    assert leaves["data.split_seed"] == "${seed}" and "seed" not in leaves
    assert _dynamic_leaves(leaves, {"seed", "paths.run_dir"}) == [
        "callbacks.ckpt.again",  # through a subtree that holds a dynamic leaf
        "callbacks.ckpt.dirpath",
        "data.split_seed",
        "paths.run_dir",  # a resolver: may read anything
        "stamp",
    ]
    assert _dynamic_leaves({"a": "${.b}"}, {"seed"}) is None  # relative: resolve in full


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, and prctl for one way")
@pytest.mark.parametrize("way", ["prctl", "watch thread"])
def test_a_study_worker_ends_as_soon_as_the_process_that_started_it_ends(way) -> None:
    """A worker whose launching process is killed outright (SIGKILL) ends with it: Linux's
    ``PR_SET_PDEATHSIG``, else (other POSIX systems) a thread that watches its parent. Here
    a process starts a worker and exits at once, as a killed launcher would."""
    start = (
        "end_with_parent(parent)"
        if way == "prctl"
        else "threading.Thread(target=_end_when_orphaned, args=(parent,), daemon=True).start()"
    )
    script = (
        "import os, sys, threading, time\n"
        "from lossbench.parent_watch import _end_when_orphaned, end_with_parent\n"
        "read, write = os.pipe()\n"
        "if os.fork() == 0:  # the launcher\n"
        "    parent = os.getpid()  # as TaskPool passes its own: read after the fork, the\n"
        "    worker = os.fork()  # launcher may have ended already (its init's pid then)\n"
        "    if worker == 0:\n"
        f"        {start}\n"
        "        time.sleep(30)\n"
        "        os._exit(0)\n"
        "    os.write(write, str(worker).encode())\n"
        "    os._exit(0)\n"
        "worker = int(os.read(read, 32))\n"
        "def alive():\n"
        "    try:\n"
        "        with open(f'/proc/{worker}/stat') as stat:\n"
        "            return stat.read().rsplit(')', 1)[1].split()[0] not in 'ZX'\n"
        "    except FileNotFoundError:\n"
        "        return False\n"
        "deadline = time.monotonic() + 3\n"
        "while alive() and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)\n"
        "print(alive())\n"
        "if alive():\n"
        "    os.kill(worker, 9)\n"
    )
    done = _python(script)
    assert done.stdout.strip() == "False", "the worker lives on without its launcher"
