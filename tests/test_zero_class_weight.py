"""A class ``weight`` of 0 (``loss.weight=[0,1,1]``) with ``cross_entropy`` or ``nll``.

torch divides these losses' mean by the counted targets' class weights, so a training batch
whose every target is of a class weighted 0 has loss 0 / 0 (NaN). It is skipped, as a batch of
unlabelled pixels is (``tests/test_unlabelled_batches.py``), instead of ending the run as a
divergence; a vectorized sweep trains such a run alone.
"""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lossbench.losses import encode_targets, n_outputs
from lossbench.module import ClassifierModule
from lossbench.training import train
from lossbench.vectorized import why_alone
from lossbench.vectorized.grouping import zero_class_weight

ADAM = {
    "name": "adam",
    "lr": 0.1,
    "weight_decay": 0.01,
    "betas": [0.9, 0.999],
    "eps": 1e-8,
    "implementation": "auto",
}
MLP = {"name": "linear"}
CASES = [
    pytest.param({"name": "cross_entropy", "weight": [0.0, 1.0, 2.0]}, "logits", id="ce"),
    pytest.param({"name": "nll", "weight": [0.0, 1.0, 2.0]}, "log_softmax", id="nll"),
    pytest.param(
        {"name": "cross_entropy", "weight": [0.0, 1.0, 2.0], "label_smoothing": 0.1},
        "logits",
        id="ce-smoothing",
    ),
]


def _module(loss: dict, head: str) -> ClassifierModule:
    torch.manual_seed(0)
    return ClassifierModule(
        task="multiclass",
        n_features=4,
        n_outputs=n_outputs("multiclass", 3, loss["name"]),
        n_targets=3,
        model=MLP,
        head=head,
        loss=loss,
        optimizer=ADAM,
    )


def _batch(labels: list[int], loss: str, seed: int) -> tuple[torch.Tensor, ...]:
    x = torch.randn(len(labels), 4, generator=torch.Generator().manual_seed(seed))
    y = torch.tensor(labels)
    return x, y, encode_targets(y, "multiclass", loss, 3)


@pytest.mark.parametrize(("loss", "head"), CASES)
def test_a_batch_of_zero_weight_classes_only_is_skipped_not_a_divergence(loss, head):
    module = _module(loss, head)
    zero = _batch([0, 0, 0], loss["name"], seed=1)
    mixed = _batch([0, 1, 2], loss["name"], seed=2)
    assert math.isnan(float(module.objective(module(zero[0]), zero[2]).detach()))  # torch's 0/0
    assert module.counts_no_target(zero[2])
    assert not module.counts_no_target(mixed[2])
    assert module.training_step(zero, 0) is None  # Lightning skips the backward
    module.on_train_batch_start(mixed, 1)
    assert isinstance(module.training_step(mixed, 1), torch.Tensor)


def _fit(module: ClassifierModule, batches: list[tuple[torch.Tensor, ...]]) -> dict:
    data = TensorDataset(*(torch.cat(parts) for parts in zip(*batches, strict=True)))
    trainer = L.Trainer(
        max_epochs=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1,
    )  # fmt: skip
    trainer.fit(module, DataLoader(data, batch_size=len(batches[0][0]), shuffle=False))
    return {
        "steps": trainer.global_step,
        "weights": [p.detach().clone() for p in module.model.parameters()],
        "optimizer": trainer.optimizers[0].state_dict()["state"],
    }


def test_a_skipped_batch_changes_neither_the_weights_nor_adams_state():
    loss = {"name": "cross_entropy", "weight": [0.0, 1.0, 2.0]}
    mixed = _batch([0, 1, 2], "cross_entropy", seed=2)
    zero = _batch([0, 0, 0], "cross_entropy", seed=1)
    without = _fit(_module(loss, "logits"), [mixed])
    skipped = _fit(_module(loss, "logits"), [mixed, zero])
    assert (without["steps"], skipped["steps"]) == (1, 2)
    for a, b in zip(without["weights"], skipped["weights"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for key, state in without["optimizer"].items():
        for name, value in state.items():
            torch.testing.assert_close(skipped["optimizer"][key][name], value)


def test_a_run_whose_batches_hold_only_zero_weight_classes_completes(make_cfg, tmp_path):
    """iris in batches of 2 with class 0 weighted 0: some batches hold class 0 only. The run
    used to end at the first as diverged (non-finite training loss, nan); both runners skip
    those batches alike."""
    overrides = (
        "data=iris", "setup=logits_cross_entropy", "loss.weight=[0,1,1]", "data.batch_size=2",
        "trainer.max_epochs=3", "checkpoint.write=never",
    )  # fmt: skip
    records = {
        runner: train(make_cfg(*overrides, f"runner={runner}"), tmp_path / runner)
        for runner in ("lightning", "epoch")
    }
    for record in records.values():
        assert record["status"] == "completed", record["error"]
        assert math.isfinite(record["test/nll"])
    assert records["lightning"]["test/nll"] == pytest.approx(records["epoch"]["test/nll"], rel=1e-5)


def test_a_zero_class_weight_makes_a_vectorized_job_train_alone(make_cfg):
    cfg = make_cfg("data=iris", "setup=logits_cross_entropy", "loss.weight=[0,1,1]")
    assert "a class weight of 0 in loss.weight" in (why_alone(cfg) or "")
    assert (
        why_alone(make_cfg("data=iris", "setup=logits_cross_entropy", "loss.weight=[1,2,1]"))
        is None
    )
    assert not zero_class_weight({"name": "cross_entropy", "weight": None})
    assert not zero_class_weight({"name": "bce_with_logits", "weight": [0, 1]})
    assert zero_class_weight({"name": "nll", "weight": [1, 0.0, 1]})
