"""The mixed-precision policy: under autocast the head and the loss still run in float32.

Real Lightning Trainers with ``precision="bf16-mixed"`` on the CPU, every valid cell; the
dtypes that reach the loss are recorded by a forward pre-hook on the loss module.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from cells import TABLE_ACCEPTED as ACCEPTED
from cells import TASK_DATA, cell_id
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.losses import LOSSES
from lossbench.module import ClassifierModule
from lossbench.precision import at_least_float32, check_precision, resolves_to_cpu
from lossbench.training import train
from lossbench.validation import ConfigError, validate

ADAM = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1e-8}
PROBABILITY_CELLS = [c for c in ACCEPTED if LOSSES[c[2]].expects == "probabilities"]
NO_GPU = resolves_to_cpu("auto")


def _module(task: str, head: str, loss: str, dm: ClassificationDataModule) -> ClassifierModule:
    return ClassifierModule(
        task=task,
        n_features=dm.n_features,
        n_outputs=dm.n_outputs,
        n_targets=dm.n_targets,
        model={"name": "mlp", "hidden_sizes": [16], "activation": "relu", "dropout": 0.0},
        head=head,
        loss={"name": loss},
        optimizer=ADAM,
    )


@pytest.mark.parametrize(("task", "head", "loss"), ACCEPTED, ids=[cell_id(c) for c in ACCEPTED])
def test_head_and_loss_run_in_float32_under_bf16_autocast(task, head, loss):
    data = {"name": TASK_DATA[task], "batch_size": 64, "split_seed": 0}
    dm = ClassificationDataModule({**data, "val_fraction": 0.2, "test_fraction": 0.2}, loss, seed=0)
    module = _module(task, head, loss, dm)
    loss_inputs: set[tuple[torch.dtype, ...]] = set()
    body_outputs: set[torch.dtype] = set()
    module.loss_fn.register_forward_pre_hook(
        lambda _m, args: loss_inputs.add(tuple(a.dtype for a in args))
    )
    module.model.register_forward_hook(lambda _m, _i, out: body_outputs.add(out.dtype))
    trainer = L.Trainer(
        precision="bf16-mixed",
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=dm)
    results = trainer.test(module, datamodule=dm, verbose=False)[0]

    assert body_outputs == {torch.bfloat16}, "autocast must be on for the model body"
    target_dtype = torch.int64 if LOSSES[loss].target_for(task) == "index" else torch.float32
    assert loss_inputs == {(torch.float32, target_dtype)}
    assert all(np.isfinite(v) for v in results.values()), results


def test_bf16_sigmoid_trap_that_the_policy_avoids():
    """BCELoss on a bf16 sigmoid: logit 7, target 0 gives loss 100 and gradient 0; the policy
    (sigmoid and BCELoss in float32 outside autocast) gives the float32 loss and gradient."""
    target = torch.zeros(1)
    z = torch.tensor([7.0], dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trapped = F.binary_cross_entropy(torch.sigmoid(z).float(), target)
    trapped.backward()
    assert trapped.item() == 100.0 and z.grad.item() == 0.0

    reference_z = torch.tensor([7.0], requires_grad=True)
    reference = F.binary_cross_entropy(torch.sigmoid(reference_z), target)
    reference.backward()

    dm = ClassificationDataModule(
        {
            "name": "breast_cancer",
            "batch_size": 64,
            "split_seed": 0,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
        },
        "bce",
    )
    module = _module("binary", "sigmoid", "bce", dm)
    scores = torch.tensor([[7.0]], dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = module.objective(at_least_float32(scores), target)
    loss.backward()
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(scores.grad.float().ravel(), reference_z.grad, rtol=1e-2, atol=0)
    assert reference.item() == pytest.approx(7.0009, abs=1e-3)


def test_policy_keeps_float64_under_64_true():
    assert at_least_float32(torch.ones(1, dtype=torch.float64)).dtype == torch.float64
    assert at_least_float32(torch.ones(1, dtype=torch.float16)).dtype == torch.float32
    assert at_least_float32(torch.ones(1, dtype=torch.int64)).dtype == torch.int64


def test_bf16_mixed_run_completes_with_finite_metrics(make_cfg, tmp_path):
    cfg = make_cfg(
        "data=breast_cancer",
        "head=sigmoid",
        "loss=bce",
        "trainer.precision=bf16-mixed",
        "trainer.accelerator=cpu",
    )
    record = train(cfg, tmp_path)
    assert record["status"] == "completed"
    assert all(np.isfinite(record[f"test/{m}"]) for m in ("loss", "nll", "auroc", "saturated"))


@pytest.mark.parametrize(
    ("dtype", "kept"),
    [
        (torch.bfloat16, torch.float32),
        (torch.float16, torch.float32),
        (torch.float64, torch.float64),
    ],
)
def test_loss_tensors_stay_at_least_float32_when_the_module_is_converted(dtype, kept):
    """bf16-true converts the whole module; the loss's class weights stay float32 (float64
    stays float64), as the loss runs in float32 on float32 scores."""
    module = ClassifierModule(
        task="multiclass",
        n_features=4,
        n_outputs=3,
        n_targets=3,
        model={"name": "linear"},
        head="logits",
        loss={"name": "cross_entropy", "weight": [1.0, 2.0, 0.59346]},
        optimizer=ADAM,
    ).to(dtype)
    assert next(module.model.parameters()).dtype == dtype
    assert module.loss_fn.weight.dtype == kept
    assert module.loss_fn.weight.tolist()[2] == float(torch.tensor(0.59346))  # not rounded
    scores = at_least_float32(module(torch.randn(5, 4, dtype=dtype)))
    assert module.objective(scores, torch.tensor([0, 1, 2, 1, 0])).dtype == kept


def test_class_weighted_cross_entropy_trains_under_bf16_true(make_cfg, tmp_path):
    """Its loss refused bfloat16 class weights beside float32 scores ("expected scalar type
    Float but found BFloat16")."""
    cfg = make_cfg(
        "data=wine",
        "head=logits",
        "loss=cross_entropy",
        "loss.weight=[1,2,1]",
        "trainer.precision=bf16-true",
        "trainer.accelerator=cpu",
    )
    record = train(cfg, tmp_path)
    assert record["status"] == "completed"
    assert np.isfinite(record["test/loss"])


@pytest.mark.parametrize(
    ("precision", "accelerator"),
    [("16-mixed", "cpu"), ("16", "cpu"), pytest.param("16-mixed", "auto", id="16-mixed-auto")],
)
def test_float16_autocast_on_cpu_is_refused(make_cfg, precision, accelerator):
    if accelerator == "auto" and not NO_GPU:
        pytest.skip("accelerator=auto resolves to a GPU here")
    cfg = make_cfg(f"trainer.precision={precision}", f"trainer.accelerator={accelerator}")
    with pytest.raises(ConfigError, match=r"silently switches to bf16-mixed.*bf16-mixed on a CPU"):
        validate(cfg)


def test_float16_weights_are_refused(make_cfg):
    with pytest.raises(ConfigError, match="16-true keeps the weights themselves in float16"):
        validate(make_cfg("trainer.precision=16-true"))


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed", "bf16-true", "64-true", "32"])
def test_cpu_precisions_are_accepted(precision):
    assert check_precision(precision, "cpu") is None


def test_float16_autocast_on_gpu_is_accepted():
    assert check_precision("16-mixed", "gpu") is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(
    ("task", "head", "loss"), PROBABILITY_CELLS, ids=[cell_id(c) for c in PROBABILITY_CELLS]
)
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_bce_family_trains_under_cuda_autocast(task, head, loss, precision):
    """On CUDA, BCELoss under autocast raises "unsafe to autocast"; the policy avoids it."""
    dm = ClassificationDataModule(
        {
            "name": TASK_DATA[task],
            "batch_size": 64,
            "split_seed": 0,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
        },
        loss,
    )
    module = _module(task, head, loss, dm)
    trainer = L.Trainer(
        precision=precision,
        accelerator="gpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=dm)
    results = trainer.test(module, datamodule=dm, verbose=False)[0]
    assert all(np.isfinite(v) for v in results.values()), results
