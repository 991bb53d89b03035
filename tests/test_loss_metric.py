"""The ``<stage>/loss`` metric is the loss of the whole split, whatever its batches.

Each batch's loss counts with its mean's denominator (the registry's ``mean_over``): cross-entropy
and NLL with class weights or ignored targets divide by the summed weights of the targets, not
by the samples, so a batch's mean weighted by its samples is not the split's loss.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.losses import LOSSES, encode_targets, n_outputs
from lossbench.module import ClassifierModule
from lossbench.tasks import is_dense
from lossbench.training import train
from test_metric_accumulation import ddp_run

N_SAMPLES, FIRST = 7, 2  # two uneven batches: 2 and 5 samples
N_TARGETS = {
    "binary": 1,
    "multilabel": 3,
    "multiclass": 4,
    "dense_binary": 1,
    "dense_multiclass": 3,
}
HEADS = {"scores": "logits", "probabilities": "sigmoid", "log_probabilities": "log_softmax"}
CONV = {"name": "conv", "channels": [4], "kernel_size": 3, "dilated": False}
SGD = {"name": "sgd", "lr": 0.1, "weight_decay": 0.0, "momentum": 0.0, "nesterov": False}

# every loss of the registry on every task it takes, with its defaults
REGISTRY_CASES = [
    pytest.param(task, {"name": name}, False, id=f"{name}-{task}")
    for name, spec in LOSSES.items()
    for task in spec.tasks
]
# cross-entropy and NLL with class weights, ignored pixels and label smoothing; and sums
WEIGHTED_CASES = [
    pytest.param(task, {"name": name, **params}, unlabelled, id=case)
    for case, task, name, params, unlabelled in [
        ("ce-weight", "multiclass", "cross_entropy", {"weight": [0.2, 1.0, 5.0, 0.5]}, False),
        ("nll-weight", "multiclass", "nll", {"weight": [0.2, 1.0, 5.0, 0.5]}, False),
        ("ce-weight-binary", "binary", "cross_entropy", {"weight": [0.3, 4.0]}, False),
        (
            "ce-weight-smoothing",
            "multiclass",
            "cross_entropy",
            {"weight": [0.2, 1.0, 5.0, 0.5], "label_smoothing": 0.2},
            False,
        ),
        ("ce-ignore", "dense_multiclass", "cross_entropy", {}, True),
        ("nll-ignore", "dense_multiclass", "nll", {}, True),
        ("ce-ignore-binary", "dense_binary", "cross_entropy", {}, True),
        ("ce-smooth-ignore", "dense_multiclass", "cross_entropy", {"label_smoothing": 0.1}, True),
        (
            "ce-weight-ignore",
            "dense_multiclass",
            "cross_entropy",
            {"weight": [0.2, 1.0, 5.0]},
            True,
        ),
        ("nll-weight-ignore", "dense_multiclass", "nll", {"weight": [3.0, 0.1, 1.0]}, True),
        ("ce-weight-sum", "binary", "cross_entropy", {"weight": [1, 5], "reduction": "sum"}, False),
        ("bce-weight", "multilabel", "bce", {"weight": [0.2, 1.0, 5.0]}, False),
        ("bce-pos-weight", "multilabel", "bce_with_logits", {"pos_weight": [4, 1, 0.5]}, False),
        ("focal-sum", "dense_binary", "focal", {"reduction": "sum"}, False),
    ]
]


def _module(task: str, loss: dict) -> ClassifierModule:
    spec = LOSSES[loss["name"]]
    dense = is_dense(task)
    return ClassifierModule(
        task=task,
        n_features=1 if dense else 4,
        n_outputs=n_outputs(task, N_TARGETS[task], loss["name"]),
        n_targets=N_TARGETS[task],
        model={**CONV, "activation": "relu", "dropout": 0.0} if dense else {"name": "linear"},
        head=HEADS[spec.expects],
        loss=loss,
        optimizer=SGD,
    ).eval()


def _split(task: str, loss: str, unlabelled: bool) -> tuple[torch.Tensor, ...]:
    """``(x, labels, targets)`` of ``N_SAMPLES`` samples; the first batch's targets unlike the
    second's (other classes, more unlabelled pixels)."""
    g = torch.Generator().manual_seed(0)
    classes = max(N_TARGETS[task], 2)
    if is_dense(task):
        x = torch.randn(N_SAMPLES, 1, 5, 6, generator=g)
        labels = torch.randint(0, classes, (N_SAMPLES, 5, 6), generator=g)
        labels[:FIRST] = labels[:FIRST].clamp(max=0)  # the first maps: background mostly
        if unlabelled:
            share = torch.full(labels.shape, 0.2)
            share[:FIRST] = 0.7
            labels[torch.rand(labels.shape, generator=g) < share] = -100
    else:
        x = torch.randn(N_SAMPLES, 4, generator=g)
        shape = (N_SAMPLES, classes) if task == "multilabel" else (N_SAMPLES,)
        labels = torch.randint(0, 2 if task == "multilabel" else classes, shape, generator=g)
        labels[:FIRST] = labels[:FIRST].clamp(max=0)
    return x, labels, encode_targets(labels, task, loss, N_TARGETS[task])


@pytest.mark.parametrize(("task", "loss", "unlabelled"), REGISTRY_CASES + WEIGHTED_CASES)
def test_the_loss_metric_of_two_uneven_batches_is_the_loss_of_the_whole_split(
    task, loss, unlabelled
):
    module = _module(task, loss)
    x, labels, targets = _split(task, loss["name"], unlabelled)
    with torch.no_grad():
        whole = module.objective(module(x), targets)
        if loss.get("reduction") == "sum":  # the mean loss per sample
            whole = whole / N_SAMPLES
        for step, part in enumerate((slice(0, FIRST), slice(FIRST, None))):
            module.validation_step((x[part], labels[part], targets[part]), step)
        batches = module._stage_values("val")["val/loss"]
    assert float(batches) == pytest.approx(float(whole), rel=1e-6, abs=1e-6)


def test_a_batch_whose_every_target_is_ignored_adds_nothing():
    module = _module("dense_multiclass", {"name": "cross_entropy"})
    x, labels, targets = _split("dense_multiclass", "cross_entropy", True)
    targets = targets.clone()
    targets[:FIRST] = -100  # its mean: 0 / 0 (its labels stay, for the other metrics)
    with torch.no_grad():
        whole = module.objective(module(x), targets)
        for step, part in enumerate((slice(0, FIRST), slice(FIRST, None))):
            module.validation_step((x[part], labels[part], targets[part]), step)
        batches = module._stage_values("val")["val/loss"]
    assert float(batches) == pytest.approx(float(whole), rel=1e-6)


@pytest.mark.parametrize("runner", ["lightning", "epoch"])
def test_frozen_minibatch_training_loss_is_the_weighted_loss_of_the_training_split(
    make_cfg, tmp_path, runner
):
    weight = [0.1, 1.0, 8.0]
    cfg = make_cfg(
        "data=iris",
        "data.batch_size=16",
        "model=linear",
        "head=logits",
        "loss=cross_entropy",
        f"loss.weight=[{','.join(map(str, weight))}]",
        "optimizer=sgd",
        "optimizer.lr=1e-30",  # the weights stay as initialised
        "trainer.max_epochs=2",
        f"runner={runner}",
    )
    record = train(cfg, tmp_path)
    assert record["status"] == "completed", record.get("error")
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    datamodule.setup("fit")
    split = {}
    with torch.no_grad():
        for stage in ("train", "val", "test"):
            x, _, targets = datamodule.tensors[stage]
            split[stage] = float(F.cross_entropy(module(x), targets, weight=torch.tensor(weight)))
    epochs = record["history"]["train/loss"]
    assert len(epochs) == 2
    for value in epochs:  # each epoch's shuffle of 16-row batches: the same loss
        assert value == pytest.approx(split["train"], rel=1e-6)
    for stage in ("val", "test"):
        assert record[f"{stage}/loss"] == pytest.approx(split[stage], rel=1e-6), stage


@pytest.mark.slow  # two processes (gloo) of about 15 s on 2 cores
def test_ddp_validation_and_test_losses_are_the_weighted_losses_of_the_splits(tmp_path):
    """Each process's share of a split holds other classes: weighting its mean by its samples
    (one value per sample) was not the split's loss."""
    weight = [0.2, 1.0, 6.0]
    record, module, datamodule = ddp_run(
        tmp_path,
        "data=wine",
        "data.test_fraction=0.25",
        "data.batch_size=16",
        "loss=cross_entropy",
        f"loss.weight=[{','.join(map(str, weight))}]",
    )
    with torch.no_grad():
        for stage in ("val", "test"):
            x, _, targets = datamodule.tensors[stage]
            split = F.cross_entropy(module(x), targets, weight=torch.tensor(weight))
            assert record[f"{stage}/loss"] == pytest.approx(float(split), rel=1e-6), stage
