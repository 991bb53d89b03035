"""Every training batch counts once in the ``train/*`` metrics, whatever
``trainer.accumulate_grad_batches`` (``global_step`` does not move within an accumulation
window) and under L-BFGS (whose closure evaluates its batch several times in one step).

The epoch runner refuses accumulation (``runner=auto`` takes Lightning's loop for it),
the vectorized launcher trains such a run alone, and L-BFGS on mini-batches with accumulation
is refused: Lightning would step it on a gradient of no batch.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import GradientAccumulationScheduler
from torch.utils.data import DataLoader, TensorDataset

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.errors import ConfigError
from lossbench.module import ClassifierModule
from lossbench.runners import select_runner
from lossbench.training import check_trainer_settings, train
from lossbench.vectorized.grouping import why_alone

SGD = {"name": "sgd", "lr": 0.5, "weight_decay": 0.0, "momentum": 0.9, "nesterov": False}
LBFGS = {
    "name": "lbfgs",
    "lr": 0.5,
    "weight_decay": 0.0,
    "max_iter": 4,
    "history_size": 10,
    "line_search_fn": None,
    "tolerance_grad": 1e-7,
    "tolerance_change": 1e-9,
}
N_ROWS, BATCH = 26, 4  # 7 batches, the last of 2 rows: windows of 2 (2+2+2+1) and 4 (4+3)


@pytest.mark.parametrize("runner", ["auto", "lightning"])
@pytest.mark.parametrize("accumulate", [2, 4])
def test_frozen_training_metrics_with_accumulation_are_the_whole_training_splits(
    make_cfg, tmp_path, accumulate, runner
):
    """The weights stay as initialised: each epoch's train/loss and train/accuracy are the
    training split's, as with accumulate_grad_batches=1 (they counted the first batch of each
    window only: 181 of 341 rows of breast_cancer in batches of 32, accumulated 2 at a time)."""
    cfg = make_cfg(
        "data=breast_cancer",
        "data.batch_size=32",  # 11 batches: a last window of 1 (2 at a time) or 3 (4)
        "model=linear",
        "head=logits",
        "loss=cross_entropy",
        "optimizer=sgd",
        "optimizer.lr=1e-30",  # the weights stay as initialised
        "trainer.max_epochs=2",
        f"trainer.accumulate_grad_batches={accumulate}",
        f"runner={runner}",
    )
    record = train(cfg, tmp_path)
    assert record["status"] == "completed", record.get("error")
    assert record["training_loop"] == "batch"  # the epoch runner does not accumulate
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    datamodule.setup("fit")
    x, labels, targets = datamodule.tensors["train"]
    assert len(x) == 341
    with torch.no_grad():
        scores = module(x)
    loss = float(F.cross_entropy(scores, targets))
    accuracy = float((scores.argmax(1) == labels).double().mean())
    history = record["history"]
    assert history["train/loss"] == pytest.approx([loss] * 2, rel=1e-6)
    assert history["train/accuracy"] == pytest.approx([accuracy] * 2, rel=1e-6)


def _data() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_ROWS, 4, generator=g)
    labels = (x[:, 0] + 0.5 * torch.randn(N_ROWS, generator=g) > 0).long() + (x[:, 1] > 1).long()
    return x, labels, labels


class _Recomputed(L.Callback):
    """Each training batch's loss and correct predictions, recomputed outside the module's
    metrics with the weights its step sees (before its optimizer step), per epoch."""

    def __init__(self) -> None:
        self.epochs: list[list[tuple[int, float, int]]] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.epochs.append([])

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        x, labels, targets = batch
        with torch.no_grad():
            scores = module(x)
        loss = float(F.cross_entropy(scores, targets))
        self.epochs[-1].append((len(x), loss, int((scores.argmax(1) == labels).sum())))

    def values(self) -> tuple[list[float], list[float]]:
        """Per epoch: the loss over its batches (weighted by rows) and the accuracy."""
        losses = [sum(n * v for n, v, _ in e) / sum(n for n, _, _ in e) for e in self.epochs]
        accuracies = [sum(c for _, _, c in e) / sum(n for n, _, _ in e) for e in self.epochs]
        return losses, accuracies


def _fit(optimizer: dict, accumulate: int) -> tuple[ClassifierModule, _Recomputed, int]:
    """Fit a linear 3-class model 2 epochs on 7 shuffled batches; its module, the recomputed
    batches and how often ``training_step`` ran."""
    torch.manual_seed(0)
    module = ClassifierModule(
        task="multiclass",
        n_features=4,
        n_outputs=3,
        n_targets=3,
        model={"name": "linear"},
        head="logits",
        loss={"name": "cross_entropy"},
        optimizer=optimizer,
        minibatch_size=BATCH,
    )
    calls = 0
    step = module.training_step

    def counted(*args, **kwargs):
        nonlocal calls
        calls += 1
        return step(*args, **kwargs)

    module.training_step = counted  # type: ignore[method-assign]
    recomputed = _Recomputed()
    trainer = L.Trainer(
        max_epochs=2,
        accumulate_grad_batches=accumulate,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        callbacks=[recomputed],
    )
    loader = DataLoader(TensorDataset(*_data()), batch_size=BATCH, shuffle=True)
    trainer.fit(module, loader)
    return module, recomputed, calls


@pytest.mark.parametrize(
    ("optimizer", "accumulate"),
    [(SGD, 1), (SGD, 2), (SGD, 4), (LBFGS, 1)],
    ids=["sgd", "sgd-accumulate-2", "sgd-accumulate-4", "lbfgs"],
)
def test_training_metrics_count_every_batch_once(optimizer, accumulate):
    """Training that moves the weights: each epoch's train/loss and train/accuracy are those of
    its 7 batches recomputed apart, every batch once (L-BFGS: its first evaluation)."""
    module, recomputed, calls = _fit(optimizer, accumulate)
    assert [len(epoch) for epoch in recomputed.epochs] == [7, 7]
    if optimizer["name"] == "lbfgs":
        assert calls > 14  # the closure evaluated batches again within their steps
    else:
        assert calls == 14
    losses, accuracies = recomputed.values()
    assert losses[0] != pytest.approx(losses[1])  # the weights moved
    assert module.history["train/loss"] == pytest.approx(losses, rel=1e-6)
    assert module.history["train/accuracy"] == pytest.approx(accuracies, rel=1e-6)


def test_lbfgs_on_minibatches_refuses_accumulation(make_cfg):
    run = ("data=iris", "optimizer=lbfgs", "trainer.accumulate_grad_batches=2")
    cfg = make_cfg(*run, "data.batch_size=16")
    with pytest.raises(ConfigError, match=r"optimizer=lbfgs with data\.batch_size=16 cannot accum"):
        select_runner(cfg, check_trainer_settings(cfg))
    cfg = make_cfg("data=iris", "optimizer=lbfgs", "data.batch_size=16")
    scheduled = L.Trainer(callbacks=[GradientAccumulationScheduler({0: 2})], logger=False)
    with pytest.raises(ConfigError, match="GradientAccumulationScheduler callback"):
        select_runner(cfg, scheduled)  # the run's Trainer, with its callbacks
    full = make_cfg(*run, "data.batch_size=null")  # one batch an epoch: nothing to accumulate
    assert select_runner(full, check_trainer_settings(full)).name == "lightning"


def test_the_vectorized_launcher_trains_an_accumulating_run_alone(make_cfg):
    cfg = make_cfg("data=iris", "trainer.accumulate_grad_batches=2")
    assert "trainer.accumulate_grad_batches" in (why_alone(cfg) or "")
    assert why_alone(make_cfg("data=iris")) is None
