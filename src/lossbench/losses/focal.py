"""Sigmoid focal loss (Lin et al., 2017), as torchvision's ``sigmoid_focal_loss`` computes it.

    FL = alpha_t * (1 - p_t) ** gamma * BCEWithLogits(x, y)

where ``p_t`` is the probability given to the true value and ``alpha_t = alpha`` for positives,
``1 - alpha`` for negatives. With ``gamma=0`` and ``alpha=None`` it equals BCEWithLogitsLoss.

    >>> import torch
    >>> loss = SigmoidFocalLoss(alpha=None, gamma=0.0)
    >>> x, y = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])
    >>> bool(torch.isclose(loss(x, y), torch.nn.BCEWithLogitsLoss()(x, y)))
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.losses.reduction import Reduction, reduce


class SigmoidFocalLoss(nn.Module):
    """Focal loss on raw logits; targets are float and of the input's shape."""

    def __init__(
        self, alpha: float | None = 0.25, gamma: float = 2.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p = torch.sigmoid(logits)
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return reduce(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"
