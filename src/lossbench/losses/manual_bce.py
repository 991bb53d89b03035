"""The articles' hand-written binary cross-entropy, kept on purpose so users can watch it fail.

    loss = -(y * log(p) + (1 - y) * log(1 - p))

Unlike ``nn.BCELoss`` it does not clamp the logarithm at -100, so a probability that rounds to
exactly 0 or 1 gives ``inf`` and a NaN gradient (sigmoid rounds to 1.0 from logit 16.75 in
float32). Compare it with ``bce`` and ``bce_with_logits`` in a study to see the difference.

    >>> import torch
    >>> ManualBCELoss()(torch.tensor([1.0]), torch.tensor([0.0]))
    tensor(inf)
"""

from __future__ import annotations

import torch
from torch import nn

from lossbench.losses.reduction import Reduction, reduce


class ManualBCELoss(nn.Module):
    """``-(y log p + (1 - y) log(1 - p))`` on probabilities, with no clamping."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs))
        return reduce(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
