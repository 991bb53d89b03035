"""The epoch runner (the fast path): what it skips must not change what a run computes or
what Lightning's callbacks and loggers see."""

from __future__ import annotations

import csv
import json
from collections import OrderedDict
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from lossbench.callbacks import BestAndLastCheckpoint, BestWeightsInMemory, snapshot
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.lightning_internals import acts_at_validation_end
from lossbench.metric_names import LOGGED_METRICS
from lossbench.module import ClassifierModule
from lossbench.optim import build_optimizer
from lossbench.runners import epoch as epoch_runner
from lossbench.runners.epoch import EpochModule, validates_inline
from lossbench.training import train

EPOCHS = 3


class StepProbe(Callback):
    """Counts the hooks Lightning's backward and optimizer wrappers call."""

    def __init__(self) -> None:
        self.calls = {"on_before_backward": 0, "on_after_backward": 0, "optimizer_step": 0}

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        self.calls["on_before_backward"] += 1

    def on_after_backward(self, trainer, pl_module) -> None:
        self.calls["on_after_backward"] += 1

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.calls["optimizer_step"] += 1


class ValidationProbe(Callback):
    """Reads the validation metrics in Lightning's validation loop."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def on_validation_end(self, trainer, pl_module) -> None:  # after the module's epoch end
        self.seen.append(float(trainer.callback_metrics["val/nll"]))


def _fit(
    make_cfg,
    tmp_path,
    *,
    callbacks=(),
    logger=False,
    monitored=("val/nll",),
    inline=False,
    overrides=(),
):
    """The epoch runner's module on iris, 16 rows per step, fitted by a plain Lightning Trainer
    (``inline``: validating in the epoch step, as ``EpochRunner`` sets it up)."""
    cfg = make_cfg("data=iris", "loss=cross_entropy", "data.batch_size=16", *overrides)
    L.seed_everything(0, verbose=False)
    dm = ClassificationDataModule(cfg.data, cfg.loss.name, seed=0)
    dm.epoch_batches = True
    module = EpochModule.from_config(cfg, dm)
    module.callback_metrics = frozenset(monitored)
    module.inline_validation = inline
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=1,
        logger=logger,
        callbacks=list(callbacks),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
        limit_val_batches=0 if inline else None,
    )
    trainer.fit(module, datamodule=dm)
    return module, trainer


def test_inline_validation_computes_what_lightnings_validation_loop_does(make_cfg, tmp_path):
    """The epoch step validates in place of Lightning's loop (dropout on: eval mode matters)
    with the same weights, history and monitored metrics; a callback with validation hooks
    keeps Lightning's loop and gets its hook every epoch."""
    dropout = ("model=mlp", "model.dropout=0.3")
    inline, inline_trainer = _fit(make_cfg, tmp_path / "inline", inline=True, overrides=dropout)
    probe = ValidationProbe()
    looped, trainer = _fit(make_cfg, tmp_path / "loop", callbacks=[probe], overrides=dropout)
    assert inline_trainer.num_val_batches == []  # Lightning's loop never ran
    assert not validates_inline(trainer, looped)  # the probe needs the loop's hooks
    assert probe.seen == looped.history["val/nll"] and len(probe.seen) == EPOCHS
    assert inline.history == looped.history
    for a, b in zip(inline.parameters(), looped.parameters(), strict=True):
        assert torch.equal(a, b)
    assert inline_trainer.callback_metrics == trainer.callback_metrics
    assert inline.model.training and all(m.training for m in inline.model.modules())


@pytest.mark.parametrize(
    ("trainer_kwargs", "callback"),
    [
        ({}, None),
        ({"check_val_every_n_epoch": 2}, None),
        ({"val_check_interval": 0.5}, None),
        ({"limit_val_batches": 0.5}, None),
        ({"fast_dev_run": True}, None),
        ({"profiler": "simple"}, None),
        ({}, ValidationProbe()),
        ({}, ModelCheckpoint(monitor="val/nll", save_on_train_epoch_end=False)),
        ({}, EarlyStopping(monitor="val/nll", check_on_train_epoch_end=False)),
        ({}, ModelCheckpoint(monitor="val/nll")),
        ({}, EarlyStopping(monitor="val/nll")),
    ],
)
def test_inline_validation_only_where_nothing_needs_lightnings_loop(
    make_cfg, trainer_kwargs, callback
):
    cfg = make_cfg("data=iris", "loss=cross_entropy")
    dm = ClassificationDataModule(cfg.data, cfg.loss.name, seed=0)
    module = EpochModule.from_config(cfg, dm)
    trainer = L.Trainer(
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,  # lossbench's default (a sanity check needs Lightning's loop)
        callbacks=[callback] if callback else [],
        **trainer_kwargs,
    )
    # Lightning's own ModelCheckpoint and EarlyStopping act at the training epoch's end unless
    # told to act at validation end.
    expected = not trainer_kwargs and (
        callback is None or type(callback) in (ModelCheckpoint, EarlyStopping)
    )
    if isinstance(callback, ModelCheckpoint | EarlyStopping):
        expected = expected and not acts_at_validation_end(callback)
    assert validates_inline(trainer, module) is expected
    with_progress_bar = L.Trainer(logger=False, enable_progress_bar=True, num_sanity_val_steps=0)
    # a progress bar's validation hooks only draw the validation bar: inline is the same run
    assert validates_inline(with_progress_bar, module)
    per_step = ClassifierModule.from_config(cfg, dm)  # the lightning runner's module
    assert not validates_inline(trainer, per_step)


@pytest.mark.parametrize(
    ("limit_val_batches", "with_datamodule", "match"),
    [
        (None, True, "limit_val_batches=0"),  # Lightning's loop would validate too
        (0, False, r"tensors\['val'\].*this fit has NoneType"),  # no in-memory split
    ],
)
def test_inline_validation_refuses_what_it_cannot_do(
    make_cfg, tmp_path, limit_val_batches, with_datamodule, match
):
    cfg = make_cfg("data=iris", "loss=cross_entropy")
    dm = ClassificationDataModule(cfg.data, cfg.loss.name, seed=0)
    dm.epoch_batches = True
    module = EpochModule.from_config(cfg, dm)
    module.inline_validation = True
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
        limit_val_batches=limit_val_batches,
    )
    data = {"datamodule": dm} if with_datamodule else {"train_dataloaders": dm.train_dataloader()}
    with pytest.raises(RuntimeError, match=match):
        trainer.fit(module, **data)


def test_direct_steps_train_exactly_like_lightnings_step_wrappers(make_cfg, tmp_path):
    direct, direct_trainer = _fit(make_cfg, tmp_path / "direct")
    probe = StepProbe()
    wrapped, wrapped_trainer = _fit(make_cfg, tmp_path / "wrapped", callbacks=[probe])
    assert direct._direct and not wrapped._direct  # a callback with step hooks: the wrappers
    steps = EPOCHS * 6  # 90 training rows of iris, 16 per step
    assert direct_trainer.global_step == wrapped_trainer.global_step == steps
    assert probe.calls == dict.fromkeys(probe.calls, steps)  # every hook, every step
    for a, b in zip(direct.parameters(), wrapped.parameters(), strict=True):
        assert torch.equal(a, b)
    assert direct.history == wrapped.history


@pytest.mark.parametrize("inline", [True, False], ids=["inline_validation", "lightning_loop"])
def test_loggers_get_every_metric_and_callbacks_the_monitored_ones(make_cfg, tmp_path, inline):
    logger = CSVLogger(tmp_path, name="logs", version="")
    module, trainer = _fit(
        make_cfg, tmp_path, logger=logger, monitored=("val/nll", "val/auroc"), inline=inline
    )
    assert set(trainer.callback_metrics) == {"val/nll", "val/auroc"}
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [f"{stage}/{m}" for stage in ("train", "val") for m in LOGGED_METRICS["multiclass"]]
    names.append("train/lr")  # the learning rate of each epoch
    assert set(names) | {"epoch", "step"} == set(rows[0])
    for name in names:  # one value per epoch, at the index of the epoch's last optimizer step
        logged = [r for r in rows if r[name]]
        assert [int(r["step"]) for r in logged] == list(range(5, 6 * EPOCHS, 6)), name
        assert [int(r["epoch"]) for r in logged] == list(range(EPOCHS)), name
        values = [float(r[name]) for r in logged]
        assert values == pytest.approx(module.history[name], rel=1e-6, nan_ok=True), name


class EpochEndProbe(Callback):
    """What a monitoring callback reads at each training epoch's end: value and dtype."""

    def __init__(self) -> None:
        self.seen: list[dict[str, tuple[float, torch.dtype]]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        self.seen.append({key: (float(v), v.dtype) for key, v in metrics.items()})


@pytest.mark.parametrize("inline", [True, False], ids=["inline_validation", "lightning_loop"])
def test_monitored_metrics_reach_callbacks_as_self_log_leaves_them(
    make_cfg, tmp_path, monkeypatch, inline
):
    """The epoch runner puts the monitored metrics into ``trainer.callback_metrics`` itself
    (no ``self.log``); falling back to ``self.log`` gives the callbacks the same values and
    dtypes each epoch, and early stopping the same decisions."""
    calls = []
    monkeypatch.setattr(EpochModule, "log", lambda self, *a, **k: calls.append(a[0]))

    def fit(name: str):
        probe = EpochEndProbe()
        stop = EarlyStopping(monitor="val/nll", patience=1, min_delta=0.05)
        _fit(
            make_cfg,
            tmp_path / name,
            callbacks=[probe, stop],
            monitored=("val/nll", "val/auroc"),
            inline=inline,
        )
        return probe.seen, (stop.wait_count, stop.stopped_epoch, float(stop.best_score))

    direct = fit("direct")
    assert calls == []  # no self.log while fitting
    monkeypatch.undo()
    monkeypatch.setattr(epoch_runner, "set_callback_metrics", lambda trainer, values: False)
    logged = fit("logged")
    assert direct == logged
    seen = direct[0]
    assert 1 <= len(seen) <= EPOCHS and all(set(s) == {"val/nll", "val/auroc"} for s in seen)


def test_epoch_metrics_from_one_update_equal_per_step_updates(make_cfg, tmp_path):
    """The training metrics are computed once per epoch from the steps' scores; torchmetrics
    fed the same scores step by step gives the same values."""
    module, trainer = _fit(make_cfg, tmp_path)
    stream = module.stage_metrics["train"]
    assert module._train_outputs == []  # emptied at every epoch end
    # Re-run the last epoch's steps on the final weights, both ways.
    x, labels, _ = trainer.datamodule.tensors["train"]
    with torch.no_grad():
        scores = [module(x[i : i + 16]) for i in range(0, len(x), 16)]
    for s, y in zip(scores, [labels[i : i + 16] for i in range(0, len(x), 16)], strict=True):
        stream.update_from_scores(s, y, module.link)
    per_step = {k: float(v) for k, v in stream.compute().items()}
    stream.reset()
    stream.update_from_scores(torch.cat(scores), labels, module.link)
    at_once = {k: float(v) for k, v in stream.compute().items()}
    # Counts and rankings agree exactly; the means (nll, brier) to float32 rounding: MeanMetric
    # sums in float32, in another order.
    assert at_once == pytest.approx(per_step, rel=1e-6, abs=1e-9, nan_ok=True)
    for name in ("accuracy", "f1_macro", "auroc", "ece"):
        assert at_once[f"train/{name}"] == per_step[f"train/{name}"], name


def test_last_checkpoint_is_a_byte_copy_of_the_best_saved_in_the_same_epoch(make_cfg, tmp_path):
    record = train(make_cfg("data=iris", "loss=cross_entropy", "trainer.max_epochs=3"), tmp_path)
    assert record["best_epoch"] == 2  # still improving: the best checkpoint is the newest
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["best-epoch002.ckpt", "last.ckpt"]
    assert (folder / "last.ckpt").read_bytes() == (folder / "best-epoch002.ckpt").read_bytes()


def test_checkpoint_state_key_is_model_checkpoints():
    from lightning.pytorch.callbacks import ModelCheckpoint

    ours = BestAndLastCheckpoint(monitor="val/nll", mode="min")
    assert ours.state_key == ModelCheckpoint(monitor="val/nll", mode="min").state_key


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_fused_kernel_by_default_with_the_same_updates_as_the_loop(name):
    cfg = {
        "name": name,
        "lr": 1e-2,
        "weight_decay": 1e-3,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "momentum": 0.9,
        "nesterov": False,
    }
    x, y = torch.randn(64, 5, generator=torch.Generator().manual_seed(1)), torch.rand(64, 1)
    weights = {}
    for implementation in ("auto", "for_loop", "foreach"):
        model = _mlp()
        opt = build_optimizer({**cfg, "implementation": implementation}, model)
        assert bool(opt.defaults.get("fused")) == (implementation == "auto")  # CPU: fused
        for _ in range(20):
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
            opt.step()
        weights[implementation] = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.equal(weights["for_loop"], weights["foreach"])
    assert torch.allclose(weights["auto"], weights["for_loop"], rtol=0, atol=1e-5)


def _checkpoints(folder):
    return {p.name: torch.load(p, weights_only=True) for p in sorted(folder.iterdir())}


def _differences(a, b, path="") -> list[str]:
    """Where two checkpoint trees differ (tensors compared exactly, dtype included)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = type(a) is type(b) and a.dtype == b.dtype and torch.equal(a, b)
        return [] if same else [path]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(map(str, a.keys() ^ b.keys()))}"]
        return [d for key in a for d in _differences(a[key], b[key], f"{path}/{key}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _differences(x, y, f"{path}/{i}")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _replace_text(tree, old: str, new: str):
    """``tree`` with ``old`` replaced by ``new`` in every string, dictionary keys included."""
    if isinstance(tree, str):
        return tree.replace(old, new)
    if isinstance(tree, dict):
        return {_replace_text(k, old, new): _replace_text(v, old, new) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_replace_text(v, old, new) for v in tree)
    return tree


def test_snapshot_copies_what_later_training_changes():
    weights, moments = torch.zeros(3), torch.ones(2)
    state = {
        "state_dict": OrderedDict(w=weights),
        "optimizer_states": [{"state": {0: {"exp_avg": moments}}, "param_groups": [{"lr": 0.1}]}],
        "callbacks": {"Probe": {"best": (1.5, [2])}},
        "hyper_parameters": {"loss": {"name": "bce"}},
        "other": {1, 2},
    }
    copied = snapshot(state)
    weights.add_(1)
    moments.mul_(3)
    state["optimizer_states"][0]["param_groups"][0]["lr"] = 0.2
    state["callbacks"]["Probe"]["best"][1].append(3)
    state["hyper_parameters"]["loss"]["name"] = "nll"
    state["other"].add(3)
    assert type(copied["state_dict"]) is OrderedDict
    assert copied["state_dict"]["w"].tolist() == [0.0, 0.0, 0.0]
    assert copied["optimizer_states"][0]["state"][0]["exp_avg"].tolist() == [1.0, 1.0]
    assert copied["optimizer_states"][0]["param_groups"][0]["lr"] == 0.1
    assert copied["callbacks"]["Probe"]["best"] == (1.5, [2])
    assert copied["hyper_parameters"]["loss"]["name"] == "bce"
    assert copied["other"] == {1, 2}


def test_writing_checkpoints_at_the_end_gives_the_files_of_every_epoch(make_cfg, tmp_path):
    """checkpoint.write=at_end (the studies) holds the best epoch in memory: the run, its
    record and its checkpoint files are those of checkpoint.write=every_epoch."""
    # lr=0.5 overshoots after the first epochs: the best epoch is not the last one.
    run = ("data=iris", "loss=cross_entropy", "optimizer.lr=0.5", "trainer.max_epochs=4")
    every = train(make_cfg(*run), tmp_path / "every")
    at_end = train(make_cfg(*run, "checkpoint.write=at_end"), tmp_path / "end")
    assert every["best_epoch"] < 3  # two different files
    keys = [k for k in every if k.startswith(("val/", "test/"))] + ["best_epoch", "history"]
    assert {k: at_end[k] for k in keys} == {k: every[k] for k in keys}
    a, b = (
        _checkpoints(tmp_path / "every" / "checkpoints"),
        _checkpoints(tmp_path / "end" / "checkpoints"),
    )
    assert sorted(a) == sorted(b) == [f"best-epoch{every['best_epoch']:03d}.ckpt", "last.ckpt"]
    for name in a:
        assert a[name]["global_step"] == b[name]["global_step"], name
        for key, value in a[name]["state_dict"].items():
            assert torch.equal(value, b[name]["state_dict"][key]), (name, key)
    best = f"best-epoch{every['best_epoch']:03d}.ckpt"
    assert a[best]["epoch"] == b[best]["epoch"] == every["best_epoch"]
    # The whole best checkpoint, as the epoch left it: weights, optimizer moments, loop
    # counters, callback state, history, generator states. Only the paths in it differ.
    # The whole best checkpoint as the epoch left it: weights, optimizer moments, loop
    # counters, callback state, history, generator states; only the run folder differs.
    moved = str(tmp_path / "end"), str(tmp_path / "every")
    # the run's config each holds: the same but for checkpoint.write (and where it is read)
    every_config, end_config = (json.loads(c[best].pop("lossbench_config")) for c in (a, b))
    assert json.dumps(_replace_text(end_config, *moved)).replace(
        '"write": "at_end"', '"write": "every_epoch"'
    ) == json.dumps(every_config)
    assert _differences(a[best], _replace_text(b[best], *moved)) == []
    # at_end writes last.ckpt after the epoch loop, as Lightning's own on_train_end save does:
    # its epoch counter has moved on to the next epoch.
    assert b["last.ckpt"]["epoch"] == a["last.ckpt"]["epoch"] + 1 == 4


@pytest.mark.parametrize(
    "validation, best_epoch",
    [
        ((), 3),
        # validated twice an epoch: the weights a validation scored, not the epoch's end
        (("data.batch_size=16", "trainer.val_check_interval=0.5"), 5),
        # every second epoch: kept at the validation (the epoch's end raised a KeyError)
        (("trainer.check_val_every_n_epoch=2",), 3),
    ],
    ids=["every-epoch", "within-epochs", "every-2-epochs"],
)
def test_writing_no_checkpoints_keeps_the_best_weights_of_the_same_epoch(
    make_cfg, tmp_path, validation, best_epoch
):
    """checkpoint.write=never chooses the best epoch as ModelCheckpoint does and evaluates its
    weights: the record of a run that writes its checkpoints, without the files."""
    run = ("data=iris", "loss=cross_entropy", "optimizer.lr=0.1", "trainer.max_epochs=6",
           *validation)  # fmt: skip
    written = train(make_cfg(*run, "checkpoint.write=at_end"), tmp_path / "written")
    kept = train(make_cfg(*run, "checkpoint.write=never"), tmp_path / "kept")
    assert written["status"] == kept["status"] == "completed", kept.get("error")
    assert written["best_epoch"] == best_epoch
    if not validation:  # keeping the best weights needs no hook of Lightning's validation loop
        assert kept["validation_loop"] == written["validation_loop"] == "inline"
    keys = [k for k in written if k.startswith(("val/", "test/"))] + ["best_epoch", "history"]
    assert {k: kept[k] for k in keys} == {k: written[k] for k in keys}
    assert kept["best_checkpoint"] is None
    assert not (tmp_path / "kept" / "checkpoints").exists()


def test_the_best_epoch_in_memory_follows_model_checkpoints_rules():
    """First epoch always; then strictly better only; a NaN first epoch is the worst value."""
    values = {"min": [float("nan"), 2.0, 2.0, 1.0, float("nan"), 1.5], "max": [1.0, 3.0, 3.0, 2.0]}
    expected = {"min": (3, 1.0), "max": (1, 3.0)}
    for mode, series in values.items():
        callback = BestWeightsInMemory(monitor="val/m", mode=mode)
        module = nn.Linear(1, 1)
        for epoch, value in enumerate(series):
            trainer = SimpleNamespace(
                check_val_every_n_epoch=1,
                num_val_batches=[1],
                val_check_interval=1.0,
                sanity_checking=False,
                fast_dev_run=False,
                state=SimpleNamespace(fn="fit"),
                callback_metrics={"val/m": torch.tensor(value)},
                current_epoch=epoch,
            )
            with torch.no_grad():
                module.bias.fill_(epoch)
            callback.on_train_epoch_end(trainer, module)
        assert (callback.best_epoch, float(callback.best_model_score)) == expected[mode], mode
        assert callback.best_state_dict["bias"].item() == expected[mode][0]  # a copy, not a view
    missing = SimpleNamespace(**{**vars(trainer), "callback_metrics": {"val/other": 1.0}})
    with pytest.raises(
        KeyError, match="'val/m' was not logged this epoch; logged: \\['val/other'\\]"
    ):
        callback.on_train_epoch_end(missing, module)


def test_a_failing_run_writing_at_the_end_still_keeps_its_best_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg(
        "data=digits_multilabel",
        "setup=sigmoid_manual_bce",
        "seed=1",
        "trainer.max_epochs=20",
        "checkpoint.write=at_end",
    )
    record = train(cfg, tmp_path, multirun=True)
    assert record["error"].startswith("non-finite training loss (nan) at epoch 19")
    (best,) = (tmp_path / "checkpoints").glob("best-epoch*.ckpt")  # written when it failed
    state = torch.load(best, weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_without_a_fused_kernel_auto_falls_back_and_fused_says_why(monkeypatch):
    class NoFusedAdam(torch.optim.Adam):  # as torch answers on a device without the kernel
        def __init__(self, params, **kwargs):
            if kwargs.get("fused"):
                raise RuntimeError("`fused=True` requires all the params to be on cuda or cpu")
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", NoFusedAdam)
    cfg = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1e-8}
    opt = build_optimizer({**cfg, "implementation": "auto"}, _mlp())
    assert not opt.defaults.get("fused")
    with pytest.raises(ValueError, match=r"implementation=fused cannot step.*implementation=auto"):
        build_optimizer({**cfg, "implementation": "fused"}, _mlp())


@pytest.mark.parametrize("epoch_metrics", ["all", "monitored"])
def test_a_run_builds_its_fit_metrics_before_the_fit(
    make_cfg, tmp_path, monkeypatch, epoch_metrics
):
    """The train and val metric objects are built with the model, not in the fit's first
    epoch: ``train_seconds`` times training, as a hand-written loop's timer does."""
    import lossbench.module as module_file

    fitting, built_in_fit = [False], []
    real_fit, real_metrics = L.Trainer.fit, module_file.ClassificationMetrics

    def fit(self, *args, **kwargs):
        fitting[0] = True
        try:
            return real_fit(self, *args, **kwargs)
        finally:
            fitting[0] = False

    def metrics(*args, prefix, **kwargs):
        if fitting[0]:
            built_in_fit.append(prefix)
        return real_metrics(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(L.Trainer, "fit", fit)
    monkeypatch.setattr(module_file, "ClassificationMetrics", metrics)
    record = train(
        make_cfg(
            "data=iris",
            "loss=cross_entropy",
            "trainer.max_epochs=2",
            f"epoch_metrics={epoch_metrics}",
        ),
        tmp_path,
    )
    assert record["status"] == "completed" and record["epochs"] == 2
    assert built_in_fit == []
