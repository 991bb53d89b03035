"""How the data module's labels become what a loss takes: output units and target encoding.

>>> import torch
>>> n_outputs("binary", 1, "bce"), n_outputs("binary", 1, "cross_entropy")
(1, 2)
>>> encode_targets(torch.tensor([2, 0]), "multiclass", "bce_with_logits", n_classes=3)
tensor([[0., 0., 1.],
        [1., 0., 0.]])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossbench.losses.registry import get_loss
from lossbench.tasks import Task, is_dense, position_task

if TYPE_CHECKING:
    import torch


def n_outputs(task: Task, n_targets: int, loss: str) -> int:
    """Number of output units for ``task`` with ``n_targets`` classes or labels under ``loss``.

    Binary tasks use one unit, except with index targets (cross_entropy, nll): two classes.
    A dense task has as many units (channels of its score map) as its per-position task.
    """
    if position_task(task) == "binary":
        return 2 if get_loss(loss).target_for(task) == "index" else 1
    return n_targets


def encode_targets(labels: torch.Tensor, task: Task, loss: str, n_classes: int) -> torch.Tensor:
    """Turn the data module's int64 labels into what ``loss`` takes as target.

    binary: float ``(N,)`` or int64 indices; multi-label: float multi-hot ``(N, L)``;
    multi-class: int64 indices, or float one-hot ``(N, C)`` for the float-target losses.
    Dense tasks, labels ``(N, H, W)``: int64 indices ``(N, H, W)`` (what torch's
    K-dimensional cross-entropy takes), or float maps of the scores' shape: ``(N, 1, H, W)``
    for a binary map, one-hot ``(N, C, H, W)`` for a multi-class one.

        >>> import torch
        >>> encode_targets(torch.tensor([[[0, 2]]]), "dense_multiclass", "mse", 3).shape
        torch.Size([1, 3, 1, 2])
    """
    if get_loss(loss).target_for(task) == "index":
        return labels.long()
    if position_task(task) == "multiclass":
        from torch import nn

        onehot = nn.functional.one_hot(labels.long(), n_classes).float()
        return onehot.movedim(-1, 1) if is_dense(task) else onehot
    if is_dense(task):
        return labels.float().unsqueeze(1)
    return labels.float()
