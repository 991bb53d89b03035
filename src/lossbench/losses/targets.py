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
from lossbench.tasks import Task

if TYPE_CHECKING:
    import torch


def n_outputs(task: Task, n_targets: int, loss: str) -> int:
    """Number of output units for ``task`` with ``n_targets`` classes or labels under ``loss``.

    Binary tasks use one unit, except with index targets (cross_entropy, nll): two classes.
    """
    if task == "binary":
        return 2 if get_loss(loss).target_for(task) == "index" else 1
    return n_targets


def encode_targets(labels: torch.Tensor, task: Task, loss: str, n_classes: int) -> torch.Tensor:
    """Turn the data module's int64 labels into what ``loss`` takes as target.

    binary: float ``(N,)`` or int64 indices; multi-label: float multi-hot ``(N, L)``;
    multi-class: int64 indices, or float one-hot ``(N, C)`` for the float-target losses.
    """
    if get_loss(loss).target_for(task) == "index":
        return labels.long()
    if task == "multiclass":
        from torch import nn

        return nn.functional.one_hot(labels.long(), n_classes).float()
    return labels.float()
