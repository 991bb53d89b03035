"""Cross-entropy with class-index targets and label smoothing, computed as torch computes it,
with ``label_smoothing`` a number or a tensor.

torch's ``CrossEntropyLoss`` takes ``label_smoothing`` only as a Python number. The members of a
vectorized group (:mod:`lossbench.vectorized`) may each have their own, so the group holds
their loss as this module, ``label_smoothing`` holding one value per member, and computes each
member's loss with torch's ``cross_entropy`` and that member's value
(:class:`lossbench.vectorized.member_losses.SmoothedCrossEntropy`). The formula is torch's own
(ATen's ``cross_entropy_loss_label_smoothing``), step by step:

    L = (1 - e) * NLL(log_softmax(x), y) + (e / C) * smooth,   smooth = -sum_c w_c log_softmax(x)_c

each term reduced as ``reduction`` says (``mean``: NLL by the summed weights of the targets,
``smooth`` likewise), the coefficients ``1 - e`` and ``e / C`` computed in float64 and applied
in the scores' dtype, as torch applies its scalars. With a number it equals torch's loss bit
for bit (the tests compare), except that with class weights, ``mean`` and ignored targets the
summed weights of the targets are summed over every target with the ignored ones zeroed (torch's
own way for tensor subclasses, which ``vmap`` needs): the same value to a rounding step.

    >>> import torch
    >>> x, y = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.1, 0.3]]), torch.tensor([0, 2])
    >>> torch.nn.CrossEntropyLoss(label_smoothing=0.1)(x, y) == LabelSmoothingCrossEntropy(
    ...     label_smoothing=torch.tensor(0.1, dtype=torch.float64))(x, y)
    tensor(True)

A tensor ``label_smoothing`` of shape ``(N,)`` (one value per sample, with ``reduction="none"``)
smooths each sample with its own value; a 0-d tensor works under ``torch.func.vmap``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lossbench.losses.reduction import Reduction


class LabelSmoothingCrossEntropy(nn.Module):
    """``nn.CrossEntropyLoss`` on raw scores ``(N, C, ...)`` and index targets ``(N, ...)``,
    with ``label_smoothing`` a number or a tensor (see the module's docstring)."""

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        ignore_index: int = -100,
        label_smoothing: float | torch.Tensor = 0.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.weight: torch.Tensor | None
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    @classmethod
    def like(cls, loss: nn.CrossEntropyLoss) -> LabelSmoothingCrossEntropy:
        """The same loss as torch's ``loss`` (its weight, ignore_index, smoothing, reduction)."""
        return cls(loss.weight, loss.ignore_index, loss.label_smoothing, loss.reduction)

    def forward(self, scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        dim = 0 if scores.ndim == 1 else 1
        logp = F.log_softmax(scores, dim)
        nll = F.nll_loss(
            logp, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )
        ignored = target == self.ignore_index
        if self.weight is not None:
            shape = [1] * logp.ndim
            shape[dim] = -1
            smooth = -(logp * self.weight.view(shape)).sum(dim)
        else:
            smooth = -logp.sum(dim)
        smooth = smooth.masked_fill(ignored, 0.0)
        if self.reduction == "mean":
            if self.weight is not None:  # as torch: divided by the weights of the targets
                weights = self.weight.gather(0, target.masked_fill(ignored, 0).flatten())
                smooth = smooth.sum() / weights.masked_fill(ignored.flatten(), 0.0).sum()
            else:
                smooth = smooth.sum() / (~ignored).sum()
        elif self.reduction == "sum":
            smooth = smooth.sum()
        e = self.label_smoothing
        if isinstance(e, torch.Tensor):
            e = e.double()
        else:
            e = torch.tensor(e, dtype=torch.float64, device=scores.device)
        keep, spread = (1 - e).to(logp.dtype), (e / logp.shape[dim]).to(logp.dtype)
        return keep * nll + smooth * spread

    def extra_repr(self) -> str:
        return (
            f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, "
            f"reduction={self.reduction!r}"
        )
