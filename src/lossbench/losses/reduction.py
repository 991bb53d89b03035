"""Reductions, and the deprecated ``size_average`` / ``reduce`` pair mapped exactly as torch does.

>>> import warnings
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     legacy_reduction(size_average=False, reduce=True)
'sum'
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    import torch

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def reduce(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Apply ``reduction`` to an element-wise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


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
