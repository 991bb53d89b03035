"""The members' own losses in a vectorized group: each member's loss ``(K,)`` and gradient
as its run alone computes them.

A member's run alone calls its loss module on its own outputs and reduces them to one number.
The group either calls the loss with ``reduction="none"`` once on all members' outputs and
reduces each member's values (:func:`unreduced`, :class:`UnreducedLoss`), or runs the loss per
member under ``torch.func.vmap`` (:mod:`lossbench.vectorized.module`). Members whose loss
parameters differ (focal's ``gamma``, a per-member ``pos_weight``) get their own values as
tensors that broadcast over their elements (:func:`member_values`, :func:`tensor_loss`).

The unreduced call reproduces the run alone's arithmetic, not only its formula: torch's fused
``BCELoss`` and ``BCEWithLogitsLoss`` divide their input gradient by the element count last
(``gradient / N``), where ``mean()`` of the unreduced values would multiply by ``1 / N`` first,
a last-bit difference in every element that SGD with momentum grows to 4e-5 in the metrics
within 15 epochs. What is left is the vectorized kernels' remainder: an elementwise kernel
(``exp``, ``log``, ``pow``) computes the last ``n mod 16`` or ``n mod 32`` elements of a
tensor (by the CPU's vector width) with the scalar function, which may round the last bit
apart; a member's elements sit elsewhere in the group's tensor than in its own.

Cross-entropy with label smoothing (:class:`SmoothedCrossEntropy`) is torch's own
``cross_entropy`` per member, on its scores, with its weights and smoothing: torch reduces the
NLL term and the smoothing term each to a mean (or sum) first and combines them after, and
sums the NLL values and target weights in an order of its own, so that any one call for all
members rounds each gradient apart in its last bit (a sum of the combined per-sample values
drifted to 1.1e-3 in ``test/nll`` within 30 epochs of SGD on digits).

    >>> import torch
    >>> x = torch.randn(3, 64, 4, requires_grad=True)   # 3 members' outputs
    >>> t = (torch.rand(3, 64, 4) > 0.5).float()
    >>> flat = unreduced(torch.nn.BCEWithLogitsLoss())
    >>> group = flat(x, t)
    >>> (g,) = torch.autograd.grad(group.sum(), x)
    >>> alone = [torch.nn.BCEWithLogitsLoss()(x[k], t[k]) for k in range(3)]
    >>> alone_grads = torch.autograd.grad(sum(alone), x)[0]
    >>> torch.equal(group, torch.stack(alone)), torch.equal(g, alone_grads)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from lossbench.losses.registry import LossSpec

#: Losses whose mean (or sum) runs over every element of the output.
_ELEMENTWISE = (
    "BCELoss",
    "BCEWithLogitsLoss",
    "MSELoss",
    "SigmoidFocalLoss",
    "ManualBCELoss",
    "AsymmetricLoss",
)
#: Losses whose unweighted mean (or sum) runs over samples.
_PER_SAMPLE = ("CrossEntropyLoss", "NLLLoss", "LabelSmoothingCrossEntropy")
#: Losses whose backward with ``reduction="mean"`` divides the input's gradient by the element
#: count last (torch's fused kernels); the others' ``mean()`` multiplies by ``1 / N`` first.
#: ``tests/test_vectorized_member_losses.py`` checks every loss of the registry against this.
DIVIDES_LAST = ("BCELoss", "BCEWithLogitsLoss")
#: Member values that the loss applies as float64 numbers (torch computes label smoothing's
#: coefficients ``1 - e`` and ``e / C`` in double): their ``(K,)`` tensors are float64.
FLOAT64_VALUES = ("label_smoothing",)


def value_tensor(name: str, column: Sequence[float]) -> torch.Tensor:
    """The members' values ``column`` of the loss parameter ``name`` as a tensor: float64 for
    :data:`FLOAT64_VALUES`, else torch's default dtype (broadcast in the outputs' dtype)."""
    return torch.tensor(column, dtype=torch.float64 if name in FLOAT64_VALUES else None)


class _GradientOverCount(torch.autograd.Function):
    """The identity; its backward divides the gradient by ``count``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, count: int) -> torch.Tensor:
        ctx.count = count
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad / ctx.count, None


class _MeanUndividedBackward(torch.autograd.Function):
    """Each row's mean ``(K,)`` of ``values`` ``(K, n)``; its backward passes each row's
    gradient to its ``n`` values undivided (:class:`_GradientOverCount` divides it later)."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor) -> torch.Tensor:
        ctx.shape = values.shape
        return values.mean(1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad[:, None].expand(ctx.shape)


@dataclass
class UnreducedLoss:
    """Each member's loss ``(K,)`` from one call of ``loss_fn`` (``reduction="none"``) on the
    members' outputs ``(K, rows, ...)``: the mean (or sum) of its values, with the gradient
    arithmetic of its run alone (see the module's docstring). Build it with
    :func:`unreduced`."""

    #: The loss with ``reduction="none"``.
    loss_fn: torch.nn.Module
    #: True for a loss per sample (cross-entropy: ``(N, C)`` scores); else one per element.
    per_sample: bool
    #: The run alone's reduction, "mean" or "sum".
    reduction: str
    #: True where the run alone's backward divides the gradient by the element count last.
    divides_last: bool = field(default=False)

    @property
    def takes_member_buffers(self) -> bool:
        """Whether members may have their own loss buffers (an elementwise loss's)."""
        return not self.per_sample

    def __call__(
        self,
        out: torch.Tensor,
        targets: torch.Tensor,
        values: dict[str, torch.Tensor] | None = None,
        buffers: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The members' losses of their outputs ``out`` (after the head): ``values`` are the
        members' values ``(K,)`` of loss parameters that differ between them, ``buffers``
        their own loss buffers ``(K, *buffer)`` (elementwise losses only); each is set on the
        loss as a tensor that broadcasts over the member's elements (for a loss per sample on
        the members' rows flattened, ``(K * rows,)``)."""
        loss_fn = self.loss_fn
        for name, value in (values or {}).items():
            if self.per_sample:
                value = value[:, None].expand(-1, out.shape[1]).flatten()
            else:
                value = value.view(-1, *[1] * (out.ndim - 1))
            setattr(loss_fn, name, value)
        for name, value in (buffers or {}).items():  # (K, 1, ..., *buffer)
            setattr(
                loss_fn,
                name,
                value.view(len(value), *[1] * (out.ndim - value.ndim), *value.shape[1:]),
            )
        mean = self.reduction == "mean"
        if mean and self.divides_last:
            count = out.shape[1] if self.per_sample else out[0].numel()
            out = _GradientOverCount.apply(out, count)
        if self.per_sample:  # (N, C) scores and (N,) or (N, C) targets
            per_value = loss_fn(out.flatten(0, 1), targets.flatten(0, 1))
        else:
            per_value = loss_fn(out, targets)
        per_value = per_value.reshape(len(out), -1)
        if not mean:
            return per_value.sum(1)
        if self.divides_last:
            return _MeanUndividedBackward.apply(per_value)
        return per_value.mean(1)


@dataclass
class SmoothedCrossEntropy:
    """Each member's cross-entropy with label smoothing ``(K,)`` of its scores
    ``(K, rows, C)`` and class indices ``(K, rows)``: torch's ``cross_entropy`` per member, the
    call of its run alone, with its class weights and smoothing (on the same scores, its loss
    and gradient are the run alone's bit for bit, on any device and torch version). A loop of
    K small calls,
    forward and backward 0.6-0.7 ms for 12 members at batch 8-64 on one CPU thread (a copy of
    torch's summation order in one call for all took 0.14-0.32 ms, but holds only for the torch
    whose order it copies); 2.6 ms at batch 1024 (2.2). Build it with :func:`unreduced`."""

    #: The loss (torch's CrossEntropyLoss or LabelSmoothingCrossEntropy): its ``weight`` (the
    #: members' common one), ``ignore_index`` and ``label_smoothing`` where all members share it.
    loss_fn: torch.nn.Module
    #: The run alone's reduction, "mean" or "sum".
    reduction: str
    #: Members may have their own class weights (``buffers["weight"]``, ``(K, C)``).
    takes_member_buffers: bool = field(default=True, init=False)

    def __call__(
        self,
        out: torch.Tensor,
        targets: torch.Tensor,
        values: dict[str, torch.Tensor] | None = None,
        buffers: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The members' losses: ``values["label_smoothing"]`` the members' own smoothing
        ``(K,)`` where they differ, ``buffers["weight"]`` their own class weights ``(K, C)``."""
        loss_fn = self.loss_fn
        weights = (buffers or {}).get("weight")
        smoothing = (values or {}).get("label_smoothing")
        # the members' own values as Python floats (one transfer), as the run alone holds them
        own = None if smoothing is None else smoothing.tolist()
        return torch.stack(
            [
                F.cross_entropy(
                    out[k],
                    targets[k],
                    weight=loss_fn.weight if weights is None else weights[k],
                    ignore_index=loss_fn.ignore_index,
                    reduction=self.reduction,
                    label_smoothing=float(loss_fn.label_smoothing) if own is None else own[k],
                )
                for k in range(out.shape[0])
            ]
        )


def member_values(losses: Sequence[torch.nn.Module], spec: LossSpec) -> dict[str, list[float]]:
    """The members' values of each parameter of ``spec.member_params`` in which the built
    ``losses`` differ: ``{name: [value of member 0, ...]}``."""
    found: dict[str, list[float]] = {}
    for param in spec.member_params:
        values = [getattr(loss, param.name) for loss in losses]
        if len(set(values)) == 1:
            continue
        apart = [v for v in values if v is None or v in param.apart]
        if apart:  # lossbench.vectorized.grouping.group_key keeps these apart
            given = sorted(set(values), key=str)
            raise ValueError(
                f"loss.{param.name}={apart[0]!r} changes the formula of loss {spec.name!r}: "
                f"members with it cannot group with others (they have {given}); group runs "
                "by lossbench.vectorized.group_key."
            )
        found[param.name] = [float(v) for v in values]
    return found


def tensor_loss(
    loss_fn: torch.nn.Module, spec: LossSpec, values: dict[str, list[float]]
) -> torch.nn.Module:
    """A copy of ``loss_fn`` in which each parameter of ``values`` is a buffer (member 0's
    value), to be replaced by each member's: by ``functional_call`` under ``vmap``, or by
    ``(K, 1, ...)`` values that broadcast (:class:`UnreducedLoss`)."""
    copy = spec.tensor_form(loss_fn) if spec.tensor_form is not None else deepcopy(loss_fn)
    for name, column in values.items():
        delattr(copy, name)
        copy.register_buffer(name, value_tensor(name, column)[0])
    return copy


def _smoothed(loss_fn: torch.nn.Module) -> bool:
    """Whether ``loss_fn`` is cross-entropy with label smoothing (a tensor: the members' own)."""
    if type(loss_fn).__name__ not in ("CrossEntropyLoss", "LabelSmoothingCrossEntropy"):
        return False
    smoothing = getattr(loss_fn, "label_smoothing", 0.0)
    return isinstance(smoothing, torch.Tensor) or smoothing != 0


def unreduced(loss_fn: torch.nn.Module) -> UnreducedLoss | SmoothedCrossEntropy | None:
    """``loss_fn`` as an :class:`UnreducedLoss` where a member's loss is the plain mean or sum
    of its values, as a :class:`SmoothedCrossEntropy` for cross-entropy with label smoothing,
    else None (class-weighted cross-entropy divides by the weights of the batch's targets; an
    unknown loss is not assumed either)."""
    name, reduction = type(loss_fn).__name__, getattr(loss_fn, "reduction", None)
    if reduction not in ("mean", "sum"):
        return None
    if _smoothed(loss_fn):
        return SmoothedCrossEntropy(deepcopy(loss_fn), reduction)
    per_sample = name in _PER_SAMPLE
    if not (name in _ELEMENTWISE or (per_sample and getattr(loss_fn, "weight", None) is None)):
        return None
    copy = deepcopy(loss_fn)
    copy.reduction = "none"
    return UnreducedLoss(copy, per_sample, reduction, name in DIVIDES_LAST)
