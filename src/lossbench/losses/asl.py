"""Asymmetric loss (Ridnik et al., 2021, "Asymmetric Loss For Multi-Label Classification").

Per unit, with ``p = sigmoid(x)`` and the shifted probability ``p_m = max(p - m, 0)``:

    L+ = -(1 - p) ** gamma_pos * log(p)            for a positive (y = 1)
    L- = -p_m ** gamma_neg * log(1 - p_m)          for a negative (y = 0)

Positives and negatives are focused apart (``gamma_neg > gamma_pos`` lets the many easy
negatives of a multi-label problem fade), and the margin ``m`` (``clip``) discards negatives
whose probability is already below it. With ``gamma_neg = gamma_pos = clip = 0`` it equals
BCEWithLogitsLoss.

    >>> import torch
    >>> loss = AsymmetricLoss(gamma_neg=0.0, gamma_pos=0.0, clip=0.0)
    >>> x, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[1.0, 0.0]])
    >>> bool(torch.isclose(loss(x, y), torch.nn.BCEWithLogitsLoss()(x, y)))
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.losses.reduction import Reduction, reduce


class AsymmetricLoss(nn.Module):
    """ASL on raw logits; targets are float 0/1 of the input's shape (binary or multi-hot)."""

    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.gamma_neg = gamma_neg
        self.gamma_pos = gamma_pos
        self.clip = clip
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits)
        # log p and log(1 - p) from the logits, stable where sigmoid saturates.
        positive = -((1 - p) ** self.gamma_pos) * F.logsigmoid(logits)
        # A tensor clip holds the values of a vectorized group's members, all > 0 (the registry
        # keeps clip=0 apart): the margin applies, with each member's own.
        if isinstance(self.clip, torch.Tensor) or self.clip > 0:
            shifted = (p - self.clip).clamp(min=0)  # p_m
            log_not = torch.log((torch.sigmoid(-logits) + self.clip).clamp(max=1))  # log(1 - p_m)
        else:
            shifted, log_not = p, F.logsigmoid(-logits)
        negative = -(shifted**self.gamma_neg) * log_not
        return reduce(target * positive + (1 - target) * negative, self.reduction)

    def extra_repr(self) -> str:
        return (
            f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}, "
            f"reduction={self.reduction!r}"
        )
