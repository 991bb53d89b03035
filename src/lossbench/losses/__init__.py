"""The loss registry: every loss lossbench knows, described as data.

Each :class:`LossSpec` says which head output the loss expects, which tasks it supports and how
targets are encoded for it. Validation, error messages, the README's compatibility table and the
tests all read these specs (see :mod:`lossbench.compatibility`).

    >>> import torch
    >>> loss = build_loss("bce_with_logits", {"pos_weight": "auto"}, task="binary",
    ...                   n_outputs=1, train_targets=torch.tensor([1.0, 0.0, 0.0, 0.0]))
    >>> loss.pos_weight
    tensor([3.])

Adding a loss: write the module (a file in this package if torch has none), add a ``LossSpec``
to ``LOSSES`` below, add its config schema in :mod:`lossbench.config` and a YAML file under
``configs/loss/``. The tests and the README table pick it up from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

from lossbench.heads import LazyClass, OutputKind
from lossbench.losses.reduction import REDUCTIONS, legacy_reduction
from lossbench.tasks import Task

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lossbench.losses.focal import SigmoidFocalLoss as SigmoidFocalLoss
    from lossbench.losses.manual_bce import ManualBCELoss as ManualBCELoss

#: lossbench's own loss modules, imported (with torch) on first access: ``lossbench.losses.X``.
_LAZY_CLASSES = {
    "SigmoidFocalLoss": LazyClass("lossbench.losses.focal", "SigmoidFocalLoss"),
    "ManualBCELoss": LazyClass("lossbench.losses.manual_bce", "ManualBCELoss"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_CLASSES:
        return _LAZY_CLASSES[name].resolve()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Link = Literal["sigmoid", "softmax"]
TargetEncoding = Literal["float", "index"]

_ALL_TASKS: tuple[Task, ...] = ("binary", "multilabel", "multiclass")
_EXCLUSIVE_TASKS: tuple[Task, ...] = ("binary", "multiclass")
#: Keys whose explicit null switches the option off instead of keeping the class default
#: (focal's alpha defaults to 0.25 as in torchvision; alpha=null means no weighting).
_NULL_MEANS_OFF = frozenset({"alpha"})
_MULTI_HOT_REFUSAL = (
    "{loss} treats classes as mutually exclusive and takes one class index per sample, "
    "but multi-label targets are multi-hot (several labels can be on at once): cross-entropy on "
    "multi-hot targets would force the labels to compete for one unit of probability"
)


@dataclass(frozen=True)
class LossSpec:
    """What a loss expects and supports. ``build`` receives resolved keyword arguments."""

    name: str
    #: The torch class (or lossbench's own) this loss is.
    torch_name: str
    #: The head output the loss expects.
    expects: OutputKind
    #: How the loss models probabilities: sigmoid per unit, or softmax across units.
    link: Link
    #: Target encoding: "float" (same shape as the output; one-hot for multi-class) or "index".
    target: TargetEncoding
    tasks: tuple[Task, ...]
    #: Config keys the loss takes besides ``name`` and ``reduction``.
    params: tuple[str, ...]
    #: Whether torch's deprecated ``size_average`` / ``reduce`` pair applies.
    legacy_reduction: bool
    #: Builds the module from keyword arguments (imports torch on call, not before).
    build: Callable[..., nn.Module]
    summary: str
    #: Heads that work although they are not what the loss expects: head name -> warning.
    tolerates: Mapping[str, str] = field(default_factory=dict)
    #: Why a task outside ``tasks`` is refused: task -> reason.
    refusals: Mapping[str, str] = field(default_factory=dict)


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec(
            "bce",
            "nn.BCELoss",
            "probabilities",
            "sigmoid",
            "float",
            _ALL_TASKS,
            ("weight",),
            True,
            LazyClass("torch.nn", "BCELoss"),
            "binary cross-entropy on probabilities (log clamped at -100)",
        ),
        LossSpec(
            "bce_with_logits",
            "nn.BCEWithLogitsLoss",
            "scores",
            "sigmoid",
            "float",
            _ALL_TASKS,
            ("weight", "pos_weight", "pos_weight_scale"),
            True,
            LazyClass("torch.nn", "BCEWithLogitsLoss"),
            "sigmoid + binary cross-entropy in one numerically stable step",
        ),
        LossSpec(
            "cross_entropy",
            "nn.CrossEntropyLoss",
            "scores",
            "softmax",
            "index",
            _EXCLUSIVE_TASKS,
            ("weight", "ignore_index", "label_smoothing"),
            True,
            LazyClass("torch.nn", "CrossEntropyLoss"),
            "softmax + negative log-likelihood in one stable step",
            tolerates={
                "log_softmax": (
                    "head 'log_softmax' before loss 'cross_entropy' is redundant but harmless: "
                    "CrossEntropyLoss applies log-softmax itself, and log-softmax of "
                    "log-probabilities changes nothing. Use head=logits with loss=cross_entropy, "
                    "or head=log_softmax with loss=nll."
                )
            },
            refusals={"multilabel": _MULTI_HOT_REFUSAL.format(loss="CrossEntropyLoss")},
        ),
        LossSpec(
            "nll",
            "nn.NLLLoss",
            "log_probabilities",
            "softmax",
            "index",
            _EXCLUSIVE_TASKS,
            ("weight", "ignore_index"),
            True,
            LazyClass("torch.nn", "NLLLoss"),
            "negative log-likelihood of log-probabilities",
            refusals={"multilabel": _MULTI_HOT_REFUSAL.format(loss="NLLLoss")},
        ),
        LossSpec(
            "manual_bce",
            "lossbench ManualBCELoss",
            "probabilities",
            "sigmoid",
            "float",
            _ALL_TASKS,
            (),
            False,
            _LAZY_CLASSES["ManualBCELoss"],
            "hand-written -(y log p + (1-y) log(1-p)), unclamped: inf/NaN when p saturates",
        ),
        LossSpec(
            "mse",
            "nn.MSELoss",
            "probabilities",
            "sigmoid",
            "float",
            _ALL_TASKS,
            (),
            True,
            LazyClass("torch.nn", "MSELoss"),
            "squared error between probabilities and 0/1 targets (Brier score)",
        ),
        LossSpec(
            "focal",
            "lossbench SigmoidFocalLoss",
            "scores",
            "sigmoid",
            "float",
            _ALL_TASKS,
            ("alpha", "gamma"),
            False,
            _LAZY_CLASSES["SigmoidFocalLoss"],
            "sigmoid focal loss: down-weights easy examples by (1 - p_t)^gamma",
        ),
    )
}


def get_loss(name: str) -> LossSpec:
    """Return the spec of loss ``name``; unknown names raise a ValueError listing valid ones."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown loss {name!r}. Valid losses: {', '.join(LOSSES)}. "
            "Choose one with loss=<name>."
        ) from None


def n_outputs(task: Task, n_targets: int, loss: str) -> int:
    """Number of output units for ``task`` with ``n_targets`` classes or labels under ``loss``.

    Binary tasks use one unit, except with index targets (cross_entropy, nll): two classes.

        >>> n_outputs("binary", 1, "bce"), n_outputs("binary", 1, "cross_entropy")
        (1, 2)
    """
    if task == "binary":
        return 2 if get_loss(loss).target == "index" else 1
    return n_targets


def encode_targets(labels: torch.Tensor, task: Task, loss: str, n_classes: int) -> torch.Tensor:
    """Turn the data module's int64 labels into what ``loss`` takes as target.

    binary: float ``(N,)`` or int64 indices; multi-label: float multi-hot ``(N, L)``;
    multi-class: int64 indices, or float one-hot ``(N, C)`` for the float-target losses.
    """
    spec = get_loss(loss)
    if spec.target == "index":
        return labels.long()
    if task == "multiclass":
        from torch import nn

        return nn.functional.one_hot(labels.long(), n_classes).float()
    return labels.float()


def _error(loss: str, key: str, value: Any, why: str) -> ValueError:
    return ValueError(f"loss.{key}={value!r} is invalid for loss {loss!r}: {why}")


def validate_loss_params(name: str, params: Mapping[str, Any]) -> None:
    """Check the data-independent parameters of loss ``name`` (ranges, reduction, types).

    Lengths of ``weight`` / ``pos_weight`` are checked by :func:`build_loss`, once the number
    of outputs is known.
    """
    spec = get_loss(name)
    reduction = params.get("reduction", "mean")
    if reduction not in REDUCTIONS:
        raise _error(name, "reduction", reduction, f"valid reductions are {', '.join(REDUCTIONS)}")
    if "label_smoothing" in params:
        value = params["label_smoothing"]
        if not isinstance(value, Real) or not 0.0 <= value < 1.0:
            raise _error(
                name,
                "label_smoothing",
                value,
                "it must be a number in [0, 1), e.g. loss.label_smoothing=0.1",
            )
    if "gamma" in params:
        value = params["gamma"]
        if not isinstance(value, Real) or value < 0 or not math.isfinite(value):
            raise _error(
                name,
                "gamma",
                value,
                "the focusing parameter must be >= 0 "
                "(0 gives plain BCE-with-logits), e.g. loss.gamma=2",
            )
    if params.get("alpha") is not None:
        value = params["alpha"]
        if not isinstance(value, Real) or not 0.0 <= value <= 1.0:
            raise _error(
                name,
                "alpha",
                value,
                "alpha weighs positives and must lie in [0, 1], "
                "or be null for no weighting, e.g. loss.alpha=0.25 or loss.alpha=null",
            )
    if "pos_weight_scale" in params:
        value = params["pos_weight_scale"]
        if not isinstance(value, Real) or not value > 0 or not math.isfinite(value):
            raise _error(
                name,
                "pos_weight_scale",
                value,
                "it multiplies pos_weight and must be a positive number, e.g. 0.5 or 2",
            )
    for key in ("weight", "pos_weight"):
        value = params.get(key)
        if value is None or (key == "pos_weight" and value == "auto"):
            continue
        values = list(value) if isinstance(value, list | tuple) else [value]
        if not values or not all(
            isinstance(v, Real) and math.isfinite(v) and v >= 0 for v in values
        ):
            hint = " or 'auto'" if key == "pos_weight" else ""
            raise _error(
                name,
                key,
                value,
                f"expected a non-negative number or a list of them{hint}, one per output unit",
            )
    legacy = ("size_average", "reduce") if spec.legacy_reduction else ()
    unknown = set(params) - {"name", "reduction", *legacy, *spec.params}
    if unknown:
        given = ", ".join(f"{key}={params[key]!r}" for key in sorted(unknown))
        raise ValueError(
            f"loss {name!r} does not take {given}; it takes "
            f"{', '.join(('reduction', *spec.params, *legacy))}."
        )


def _per_unit(loss: str, key: str, value: Any, units: int, task: Task) -> torch.Tensor:
    import torch

    values = [float(v) for v in value] if isinstance(value, list | tuple) else None
    if values is None:
        return torch.full((units,), float(value))
    if len(values) != units:
        per = "label" if task == "multilabel" else "class" if units > 1 else "output"
        raise _error(
            loss,
            key,
            list(value),
            f"it has {len(values)} entries, but a {task} task with this loss has {units} output "
            f"unit(s); give {units} value(s), one per {per}",
        )
    return torch.tensor(values)


def auto_pos_weight(train_targets: torch.Tensor) -> torch.Tensor:
    """negatives / positives per unit on float 0/1 targets ``(N,)`` or ``(N, U)``."""
    targets = train_targets.reshape(train_targets.shape[0], -1).double()
    if targets.numel() and (targets.min() < 0 or targets.max() > 1):
        raise ValueError(
            "loss.pos_weight=auto needs 0/1 targets (as encode_targets gives for this loss), but "
            f"the training targets range over [{targets.min().item():g}, "
            f"{targets.max().item():g}]; class indices must be one-hot encoded first."
        )
    positives = targets.sum(0)
    negatives = targets.shape[0] - positives
    if (positives == 0).any():
        empty = (positives == 0).nonzero().flatten().tolist()
        raise ValueError(
            f"loss.pos_weight=auto cannot be computed: output unit(s) {empty} have no positive "
            "example in the training split. Give pos_weight as numbers instead."
        )
    return (negatives / positives).float()


def build_loss(
    name: str,
    params: Mapping[str, Any],
    *,
    task: Task,
    n_outputs: int,
    train_targets: torch.Tensor | None = None,
) -> nn.Module:
    """Build loss ``name`` from its config ``params`` for a model with ``n_outputs`` units.

    ``train_targets`` (the encoded training targets) is needed only for ``pos_weight=auto``.
    """
    import torch

    spec = get_loss(name)
    validate_loss_params(name, params)
    kwargs: dict[str, Any] = {"reduction": params.get("reduction", "mean")}
    if params.get("size_average") is not None or params.get("reduce") is not None:
        kwargs["reduction"] = legacy_reduction(params.get("size_average"), params.get("reduce"))
    for key in spec.params:
        value = params.get(key)
        if key == "pos_weight_scale":
            continue  # applied below, once pos_weight is known
        if key == "pos_weight" and value == "auto":
            if train_targets is None:
                raise ValueError("loss.pos_weight=auto needs the training targets")
            value = auto_pos_weight(train_targets)
            if value.numel() != n_outputs:
                raise _error(
                    name,
                    key,
                    "auto",
                    f"the training targets have {value.numel()} "
                    f"column(s), but the model has {n_outputs} output unit(s); pass the "
                    "targets encoded by encode_targets",
                )
        elif key in ("weight", "pos_weight") and value is not None:
            value = _per_unit(name, key, value, n_outputs, task)
        if value is not None or (key in _NULL_MEANS_OFF and key in params):
            kwargs[key] = value
    scale = params.get("pos_weight_scale", 1.0)
    if scale != 1.0:  # tunes the strength of pos_weight (e.g. auto x 0.5) in a search
        kwargs["pos_weight"] = kwargs.get("pos_weight", torch.ones(n_outputs)) * float(scale)
    return spec.build(**kwargs)


__all__ = [
    "LOSSES",
    "LossSpec",
    "build_loss",
    "encode_targets",
    "get_loss",
    "n_outputs",
    "validate_loss_params",
]
