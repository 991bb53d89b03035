"""Reductions, what a mean divides by, and the deprecated ``size_average`` / ``reduce`` pair
mapped exactly as torch does.

>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     legacy_reduction(size_average=False, reduce=True)
'sum'
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import torch

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)
MeanOver = Literal["elements", "target_weights"]


def reduce(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Apply ``reduction`` to an element-wise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mean_denominators(
    mean_over: MeanOver,
    targets: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    batch_dims: int = 1,
) -> torch.Tensor:
    """What each sample's targets add to the denominator of a loss's ``reduction="mean"``: one
    float64 value per sample (``targets.shape[:batch_dims]``).

    ``mean_over`` is the loss's :attr:`~lossbench.losses.registry.LossSpec.mean_over`:
    ``"elements"``, the sample's elements (those of its targets, which have the loss's
    element-wise shape); ``"target_weights"``, the class ``weight`` of each of its index
    targets that is not ``ignore_index`` (1 without class weights, 0 for an ignored target),
    summed, as torch's CrossEntropyLoss and NLLLoss divide. A batch's mean loss times the sum of
    its samples' denominators is its summed loss, so the batches of a split add up to the loss
    of the whole split. ``batch_dims=2``: targets ``(K, N, ...)`` of K vectorized members, with
    ``weight`` ``(K, C)`` (one row per member) or ``(C,)``.

        >>> import torch
        >>> targets = torch.tensor([[0, 2], [-100, 1]])  # two 1 x 2 maps, one pixel unlabelled
        >>> mean_denominators("target_weights", targets, weight=torch.tensor([1.0, 2.0, 3.0]))
        tensor([4., 2.], dtype=torch.float64)
        >>> mean_denominators("elements", torch.zeros(3, 4))
        tensor([4., 4., 4.], dtype=torch.float64)
    """
    import torch

    samples = targets.shape[:batch_dims]
    if mean_over == "elements":
        per_sample = math.prod(targets.shape[batch_dims:])
        return torch.full(samples, float(per_sample), dtype=torch.float64, device=targets.device)
    ignored = targets == ignore_index
    if weight is None:
        weights = (~ignored).to(torch.float64)
    else:
        index = targets.masked_fill(ignored, 0).long()
        if weight.ndim == 1:
            weights = weight.to(torch.float64)[index]
        else:  # one row of class weights per member
            flat = index.reshape(weight.shape[0], -1)
            weights = weight.to(torch.float64).gather(1, flat).reshape(index.shape)
        weights = weights.masked_fill(ignored, 0.0)
    return weights.flatten(batch_dims).sum(-1) if weights.ndim > batch_dims else weights


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> Reduction:
    """Map torch's deprecated pair onto ``reduction`` with torch's own rule, and warn.

    Either left unset counts as True; ``reduce=False`` gives 'none' whatever ``size_average``
    says; otherwise ``size_average`` picks 'mean' (True) or 'sum' (False). As in torch, the
    legacy pair overrides ``reduction``.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        result: Reduction = "none"
    elif size_average:
        result = "mean"
    else:
        result = "sum"
    warnings.warn(
        f"loss.size_average / loss.reduce are deprecated (as in torch); they were mapped to "
        f"reduction={result!r} and override loss.reduction. Set loss.reduction={result} instead.",
        FutureWarning,
        stacklevel=2,
    )
    return result
