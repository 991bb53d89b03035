"""PolyLoss, poly-1 form (Leng et al., 2022, "PolyLoss: A Polynomial Expansion Perspective of
Classification Loss Functions"):

    L = CE + epsilon * (1 - p_t)

where ``p_t`` is the probability the model gives the true target. The form follows the target:

- class indices ``(N,)`` for scores ``(N, C)``: softmax cross-entropy, ``p_t = softmax(x)[y]``
  (multi-class, or binary with two units);
- float 0/1 targets of the scores' shape: sigmoid BCE per unit,
  ``p_t = y * p + (1 - y) * (1 - p)`` (binary with one unit, multi-label).

With ``epsilon = 0`` it equals CrossEntropyLoss or BCEWithLogitsLoss.

    >>> import torch
    >>> x, y = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    >>> bool(torch.isclose(PolyLoss(epsilon=0.0)(x, y), torch.nn.CrossEntropyLoss()(x, y)))
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.losses.reduction import Reduction, reduce


class PolyLoss(nn.Module):
    """Poly-1 on raw logits: cross-entropy for index targets, BCE for float targets."""

    def __init__(self, epsilon: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.epsilon = epsilon
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.is_floating_point():
            ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            p = torch.sigmoid(logits)
            p_t = target * p + (1 - target) * (1 - p)
        else:
            ce = F.cross_entropy(logits, target, reduction="none")
            p_t = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
        return reduce(ce + self.epsilon * (1 - p_t), self.reduction)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon}, reduction={self.reduction!r}"
