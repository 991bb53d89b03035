"""A vectorized group's one unreduced call of the loss gives each member the gradient of its
run alone bit for bit (where no vectorized kernel's remainder is involved), for every loss of
the registry with every head it fits."""

from __future__ import annotations

import pytest
import torch

from lossbench.compatibility import valid_losses
from lossbench.heads import HEADS, build_head
from lossbench.losses import build_loss, encode_targets, n_outputs
from lossbench.vectorized.member_losses import DIVIDES_LAST, UnreducedLoss, unreduced

#: Rows per member: with 64 rows every member's element count is a multiple of the widest
#: vector loop (32 floats on AVX-512), so no element falls into a kernel's scalar remainder
#: (which may round the last bit apart), in the group's tensor or the member's own.
ROWS = 64
MEMBERS = 3

CASES = [
    (task, head, loss)
    for task in ("binary", "multilabel", "multiclass")
    for head in HEADS
    for loss in valid_losses(task, head)
]


def _group(task: str, head: str, name: str, rows: int = ROWS):
    """Scores ``(K, rows, units)`` (a leaf), the head's outputs as the module feeds the loss,
    the targets, each member's loss alone and the loss."""
    torch.manual_seed(0)
    units = n_outputs(task, 3, name)
    n_classes = 3 if task == "binary" and units == 1 else units
    high = n_classes if task == "multiclass" else 2
    labels = torch.randint(0, high, (MEMBERS, rows, units))
    labels = labels[..., 0] if task != "multilabel" else labels
    targets = torch.stack([encode_targets(lab, task, name, n_classes) for lab in labels])
    scores = (torch.randn(MEMBERS, rows, units) * 3).requires_grad_()
    out = build_head(head)(scores)
    out = out.squeeze(-1) if task == "binary" and units == 1 else out
    loss = build_loss(name, {}, task=task, n_outputs=units)
    return scores, out, targets, loss


@pytest.mark.parametrize(("task", "head", "name"), CASES)
def test_each_members_gradient_is_its_run_alones_bit_for_bit(task, head, name):
    scores, out, targets, loss = _group(task, head, name)
    flat = unreduced(loss)
    if flat is None:
        pytest.skip(f"{type(loss).__name__} runs per member under vmap")
    alone = torch.stack([loss(out[k], targets[k]) for k in range(MEMBERS)])
    (alone_grad,) = torch.autograd.grad(alone.sum(), scores, retain_graph=True)
    group = flat(out, targets)
    (group_grad,) = torch.autograd.grad(group.sum(), scores)
    assert torch.equal(group_grad, alone_grad)
    if flat.per_sample:  # torch's nll_loss sums the rows in another order than mean()
        torch.testing.assert_close(group, alone, rtol=1e-6, atol=0)
    else:
        assert torch.equal(group, alone)


@pytest.mark.parametrize(("task", "head", "name"), CASES)
def test_divides_last_names_exactly_the_losses_that_need_it(task, head, name):
    """The other way of dividing by the count rounds some gradients apart: ``DIVIDES_LAST``
    is what torch does, not a choice that happens to agree (rows: 96, not a power of 2)."""
    scores, out, targets, loss = _group(task, head, name, rows=96)
    flat = unreduced(loss)
    if flat is None or flat.reduction != "mean" or flat.per_sample:
        pytest.skip("per sample, a sum or vmap: no division by the element count to place")
    assert flat.divides_last == (type(loss).__name__ in DIVIDES_LAST)
    alone = torch.stack([loss(out[k], targets[k]) for k in range(MEMBERS)])
    (alone_grad,) = torch.autograd.grad(alone.sum(), scores, retain_graph=True)
    other = UnreducedLoss(flat.loss_fn, False, "mean", not flat.divides_last)
    (other_grad,) = torch.autograd.grad(other(out, targets).sum(), scores, retain_graph=True)
    (grad,) = torch.autograd.grad(flat(out, targets).sum(), scores)
    assert torch.equal(grad, alone_grad)
    assert not torch.equal(other_grad, alone_grad)


def test_a_loss_with_sum_reduction_is_each_members_sum():
    scores, out, targets, _ = _group("multilabel", "logits", "bce_with_logits")
    loss = torch.nn.BCEWithLogitsLoss(reduction="sum")
    flat = unreduced(loss)
    alone = torch.stack([loss(out[k], targets[k]) for k in range(MEMBERS)])
    (alone_grad,) = torch.autograd.grad(alone.sum(), scores, retain_graph=True)
    (grad,) = torch.autograd.grad(flat(out, targets).sum(), scores)
    assert torch.equal(grad, alone_grad)
