"""The loss registry: every loss lossbench knows, described as data.

Each :class:`LossSpec` says which head output the loss expects, which tasks it supports, how
targets are encoded for it, and declares its parameters once (:class:`lossbench.params.Param`).
The Hydra schema of ``configs/loss/<name>.yaml`` (:mod:`lossbench.config`), the parameter checks
and their messages (:func:`lossbench.losses.validate_loss_params`), the README's tables and the
compatibility table (:mod:`lossbench.compatibility`) are all generated from these specs.

    >>> spec = get_loss("asl")
    >>> spec.tasks, spec.target_for("multilabel"), [p.name for p in spec.params]
    (('binary', 'multilabel', 'dense_binary'), 'float', ['gamma_neg', 'gamma_pos', 'clip'])
    >>> get_loss("poly").link_for("multiclass"), get_loss("poly").link_for("multilabel")
    ('softmax', 'sigmoid')

Adding a loss: write its module in this package (e.g. ``asl.py``), add a :class:`LossSpec` to
``LOSSES`` below and a YAML file ``configs/loss/<name>.yaml`` holding its name. See the README,
"Extending lossbench".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lossbench.heads import LazyClass, OutputKind
from lossbench.losses.reduction import REDUCTIONS, MeanOver
from lossbench.params import Integral, Interval, Options, Param, PerUnit, Real
from lossbench.tasks import Task

if TYPE_CHECKING:
    from torch import nn

Link = Literal["sigmoid", "softmax"]
TargetEncoding = Literal["float", "index"]

ALL_TASKS: tuple[Task, ...] = (
    "binary",
    "multilabel",
    "multiclass",
    "dense_binary",
    "dense_multiclass",
)
#: Tasks whose classes exclude each other (per sample, or per position of a dense map).
EXCLUSIVE_TASKS: tuple[Task, ...] = ("binary", "multiclass", "dense_binary", "dense_multiclass")

# ------------------------------------------------------------------ shared parameter declarations

REDUCTION = Param(
    name="reduction",
    type=str,
    default="mean",
    constraints=(Options(REDUCTIONS),),
    doc="how per-element losses are combined; training needs mean or sum (none is not a scalar)",
    example="mean",
)
#: torch's deprecated pair, mapped onto ``reduction`` exactly as torch does, with a warning.
LEGACY_REDUCTION = tuple(
    Param(
        name=key,
        type=bool | None,
        default=None,
        constraints=(Options((True, False)), None),
        doc="deprecated in torch: mapped onto reduction as torch does, with a warning",
        example="null",
    )
    for key in ("size_average", "reduce")
)
_NON_NEGATIVE = Interval(Real, 0, None, closed="left")


def _weight(per: str) -> Param:
    return Param(
        name="weight",
        type=Any,  # a number or a list of numbers: a union OmegaConf's schemas cannot declare
        default=None,
        constraints=(PerUnit(_NON_NEGATIVE, not_all_zero=True), None),
        doc=f"rescales the loss of each {per}; null: all 1; 0 for every one would leave "
        "nothing to train",
        example="[1.0,2.0]",
    )


_IGNORE_INDEX = Param(
    name="ignore_index",
    type=int,
    default=-100,
    constraints=(Interval(Integral, None, None),),
    doc="a target index that adds nothing to the loss or its gradient (a dense task's "
    "unlabelled pixels, -100); on table data never one of the classes, which would drop that "
    "class from training",
    example="-100",
)

_MULTI_HOT_REFUSAL = (
    "{loss} treats classes as mutually exclusive and takes one class index per sample, "
    "but multi-label targets are multi-hot (several labels can be on at once): cross-entropy on "
    "multi-hot targets would force the labels to compete for one unit of probability"
)


@dataclass(frozen=True)
class MemberParam:
    """A numeric parameter of a loss whose value may differ between the members of a
    vectorized group (:mod:`lossbench.vectorized`): the loss's forward takes it as a tensor,
    one value per member broadcast over the member's elements, and computes with it exactly
    what it computes with the number.

    ``apart``: values the loss branches on (focal's ``alpha=null``: no weighting at all;
    asl's ``clip=0``: no margin); a member with one of them groups only with members of the
    same value.
    """

    name: str
    apart: tuple[Any, ...] = ()


@dataclass(frozen=True)
class BufferParam:
    """A parameter of a loss that the built loss holds only in one of its buffers
    (``buffer``: class ``weight``, ``pos_weight``). A vectorized group stacks each member's
    buffers, so members may differ in its value as long as they all have the same buffers.

    ``absent``: the values with which the parameter adds no buffer (``weight=null``;
    ``pos_weight_scale=1``, which leaves ``pos_weight`` as it is).
    """

    name: str
    buffer: str
    absent: tuple[Any, ...] = (None,)


#: ``weight`` of torch's weighted losses: a buffer when given.
_WEIGHT_BUFFER = BufferParam("weight", "weight")


@dataclass(frozen=True, kw_only=True)
class LossSpec:
    """What a loss expects, supports and takes. ``build`` receives resolved keyword arguments."""

    name: str
    #: The torch class (or lossbench's own) this loss is.
    torch_name: str
    #: One line for the README and the study report.
    summary: str
    #: The head output the loss expects.
    expects: OutputKind
    #: How the loss models probabilities: sigmoid per unit or softmax across units; a mapping
    #: task -> link for a loss that changes form with the task.
    link: Link | Mapping[Task, Link]
    #: Target encoding: "float" (same shape as the output; one-hot for multi-class) or "index",
    #: or a mapping task -> encoding.
    target: TargetEncoding | Mapping[Task, TargetEncoding]
    tasks: tuple[Task, ...]
    #: Builds the module from keyword arguments (imports torch on call, not before).
    build: Callable[..., nn.Module]
    #: The loss's own parameters besides ``reduction``, declared once.
    params: tuple[Param, ...] = ()
    #: Whether torch's deprecated ``size_average`` / ``reduce`` pair applies.
    legacy_reduction: bool = False
    #: Heads that work although they are not what the loss expects: head name -> warning.
    #: log_softmax before a loss that applies softmax to scores needs no entry (softmax of
    #: log-probabilities is the same probabilities): it is allowed with a warning anyway.
    tolerates: Mapping[str, str] = field(default_factory=dict)
    #: Why a task outside ``tasks`` is refused: task -> reason.
    refusals: Mapping[str, str] = field(default_factory=dict)
    #: Parameters in which the members of a vectorized group may differ.
    member_params: tuple[MemberParam, ...] = ()
    #: Parameters held in the built loss's buffers, in which members may differ too.
    buffer_params: tuple[BufferParam, ...] = ()
    #: For a loss whose class takes a member parameter only as a number (torch's
    #: CrossEntropyLoss and ``label_smoothing``): builds, from the built loss, a module that
    #: computes the same loss with the parameter a tensor. None: the loss's class takes it.
    tensor_form: Callable[[nn.Module], nn.Module] | None = None
    #: What the loss's ``reduction="mean"`` divides its summed loss by: ``"elements"``, the
    #: number of elements of the element-wise loss (the targets' elements, a constant per
    #: sample); ``"target_weights"``, the summed class ``weight`` of the targets that are not
    #: ``ignore_index`` (1 each without class weights), as torch's CrossEntropyLoss and NLLLoss
    #: divide. The ``loss`` metric weights each batch's mean by it
    #: (:func:`lossbench.losses.reduction.mean_denominators`).
    mean_over: MeanOver = "elements"

    @property
    def parameters(self) -> tuple[Param, ...]:
        """Every key the loss's config takes besides ``name``: reduction, its own, legacy."""
        legacy = LEGACY_REDUCTION if self.legacy_reduction else ()
        return (REDUCTION, *self.params, *legacy)

    def link_for(self, task: Task) -> Link:
        """The link on ``task``: how scores become the probabilities the loss models."""
        return self.link if isinstance(self.link, str) else self.link[task]

    def target_for(self, task: Task) -> TargetEncoding:
        """The target encoding on ``task``."""
        return self.target if isinstance(self.target, str) else self.target[task]

    def schema_name(self) -> str:
        """The generated schema's class name: ``bce_with_logits`` -> ``BceWithLogitsLossConfig``."""
        return "".join(part.capitalize() for part in self.name.split("_")) + "LossConfig"


def _own(module: str, name: str) -> LazyClass:
    """A class of lossbench.losses, imported (with torch) on first call."""
    return LazyClass(f"lossbench.losses.{module}", name)


def _label_smoothing_like(loss: nn.Module) -> nn.Module:
    """torch's CrossEntropyLoss ``loss`` as lossbench's, which takes a tensor label_smoothing."""
    return _own("label_smoothing", "LabelSmoothingCrossEntropy").resolve().like(loss)


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec(
            name="bce",
            torch_name="nn.BCELoss",
            summary="binary cross-entropy on probabilities (log clamped at -100)",
            expects="probabilities",
            link="sigmoid",
            target="float",
            tasks=ALL_TASKS,
            params=(_weight("output unit (label or class)"),),
            legacy_reduction=True,
            build=LazyClass("torch.nn", "BCELoss"),
            buffer_params=(_WEIGHT_BUFFER,),
        ),
        LossSpec(
            name="bce_with_logits",
            torch_name="nn.BCEWithLogitsLoss",
            summary="sigmoid + binary cross-entropy in one numerically stable step",
            expects="scores",
            link="sigmoid",
            target="float",
            tasks=ALL_TASKS,
            params=(
                _weight("output unit (label or class)"),
                Param(
                    name="pos_weight",
                    type=Any,
                    default=None,
                    constraints=(
                        PerUnit(_NON_NEGATIVE, not_all_zero=True),
                        Options(("auto",)),
                        None,
                    ),
                    doc="weight of the positives per unit: a number, a list (one per unit) or "
                    "'auto' = negatives / positives in the training split; 0 for every unit "
                    "would leave the positives out of the loss, teaching every label off",
                    example="auto",
                ),
                Param(
                    name="pos_weight_scale",
                    type=float,
                    default=1.0,
                    constraints=(Interval(Real, 0, None, closed="neither"),),
                    doc="multiplies pos_weight (to search over its strength)",
                    example="0.5",
                ),
            ),
            legacy_reduction=True,
            build=LazyClass("torch.nn", "BCEWithLogitsLoss"),
            buffer_params=(
                _WEIGHT_BUFFER,
                BufferParam("pos_weight", "pos_weight"),
                BufferParam("pos_weight_scale", "pos_weight", absent=(1.0,)),
            ),
        ),
        LossSpec(
            name="cross_entropy",
            torch_name="nn.CrossEntropyLoss",
            summary="softmax + negative log-likelihood in one stable step",
            expects="scores",
            link="softmax",
            target="index",
            tasks=EXCLUSIVE_TASKS,
            params=(
                _weight("class"),
                _IGNORE_INDEX,
                Param(
                    name="label_smoothing",
                    type=float,
                    default=0.0,
                    constraints=(Interval(Real, 0, 1, closed="left"),),
                    doc="share of each target spread uniformly over the classes",
                    example="0.1",
                ),
            ),
            legacy_reduction=True,
            build=LazyClass("torch.nn", "CrossEntropyLoss"),
            tolerates={
                "log_softmax": (
                    "head 'log_softmax' before loss 'cross_entropy' is redundant but harmless: "
                    "CrossEntropyLoss applies log-softmax itself, and log-softmax of "
                    "log-probabilities changes nothing. Use head=logits with loss=cross_entropy, "
                    "or head=log_softmax with loss=nll."
                )
            },
            refusals={"multilabel": _MULTI_HOT_REFUSAL.format(loss="CrossEntropyLoss")},
            member_params=(MemberParam("label_smoothing"),),
            buffer_params=(_WEIGHT_BUFFER,),
            tensor_form=_label_smoothing_like,
            mean_over="target_weights",
        ),
        LossSpec(
            name="nll",
            torch_name="nn.NLLLoss",
            summary="negative log-likelihood of log-probabilities",
            expects="log_probabilities",
            link="softmax",
            target="index",
            tasks=EXCLUSIVE_TASKS,
            params=(_weight("class"), _IGNORE_INDEX),
            legacy_reduction=True,
            build=LazyClass("torch.nn", "NLLLoss"),
            buffer_params=(_WEIGHT_BUFFER,),
            mean_over="target_weights",
            refusals={"multilabel": _MULTI_HOT_REFUSAL.format(loss="NLLLoss")},
        ),
        LossSpec(
            name="manual_bce",
            torch_name="lossbench ManualBCELoss",
            summary="hand-written -(y log p + (1-y) log(1-p)), unclamped: inf/NaN when p saturates",
            expects="probabilities",
            link="sigmoid",
            target="float",
            tasks=ALL_TASKS,
            build=_own("manual_bce", "ManualBCELoss"),
        ),
        LossSpec(
            name="mse",
            torch_name="nn.MSELoss",
            summary="squared error between probabilities and 0/1 targets (the Brier score; "
            "multi-class: the brier metric divided by the number of classes)",
            expects="probabilities",
            link="sigmoid",
            target="float",
            tasks=ALL_TASKS,
            legacy_reduction=True,
            build=LazyClass("torch.nn", "MSELoss"),
        ),
        LossSpec(
            name="focal",
            torch_name="lossbench SigmoidFocalLoss",
            summary="sigmoid focal loss: down-weights easy examples by (1 - p_t)^gamma",
            expects="scores",
            link="sigmoid",
            target="float",
            tasks=ALL_TASKS,
            params=(
                Param(
                    name="alpha",
                    type=float | None,
                    default=0.25,
                    constraints=(Interval(Real, 0, 1, closed="both"), None),
                    doc="weight of the positives (negatives get 1 - alpha); null: no weighting",
                    example="0.25",
                ),
                Param(
                    name="gamma",
                    type=float,
                    default=2.0,
                    constraints=(_NON_NEGATIVE,),
                    doc="focusing parameter: the loss is scaled by (1 - p_t)^gamma; "
                    "0 with alpha=null gives bce_with_logits",
                    example="2",
                ),
            ),
            build=_own("focal", "SigmoidFocalLoss"),
            member_params=(MemberParam("alpha", apart=(None,)), MemberParam("gamma")),
        ),
        LossSpec(
            name="asl",
            torch_name="lossbench AsymmetricLoss",
            summary="asymmetric loss (Ridnik et al. 2021): focuses positives and negatives "
            "apart and discards easy negatives below a probability margin",
            expects="scores",
            link="sigmoid",
            target="float",
            tasks=("binary", "multilabel", "dense_binary"),
            params=(
                Param(
                    name="gamma_neg",
                    type=float,
                    default=4.0,
                    constraints=(_NON_NEGATIVE,),
                    doc="focusing exponent of the negatives: their loss is scaled by p_m^gamma_neg",
                    example="4",
                ),
                Param(
                    name="gamma_pos",
                    type=float,
                    default=1.0,
                    constraints=(_NON_NEGATIVE,),
                    doc="focusing exponent of the positives: their loss is scaled by "
                    "(1 - p)^gamma_pos",
                    example="1",
                ),
                Param(
                    name="clip",
                    type=float,
                    default=0.05,
                    constraints=(Interval(Real, 0, 1, closed="left"),),
                    doc="probability margin m: negatives count with p_m = max(p - m, 0), so "
                    "those with p <= m add no loss; 0 switches it off",
                    example="0.05",
                ),
            ),
            build=_own("asl", "AsymmetricLoss"),
            member_params=(
                MemberParam("gamma_neg"),
                MemberParam("gamma_pos"),
                MemberParam("clip", apart=(0.0,)),
            ),
            refusals={
                task: (
                    "AsymmetricLoss is made for multi-hot targets, where each label's few "
                    "positives and many negatives are focused apart; a multi-class sample has "
                    "exactly one class on, and its classes should compete through a softmax"
                )
                for task in ("multiclass", "dense_multiclass")
            },
        ),
        LossSpec(
            name="poly",
            torch_name="lossbench PolyLoss",
            summary="poly-1 (Leng et al. 2022): cross-entropy + epsilon * (1 - p_t); "
            "softmax cross-entropy on multi-class, sigmoid BCE on binary and multi-label",
            expects="scores",
            link={
                "binary": "sigmoid",
                "multilabel": "sigmoid",
                "multiclass": "softmax",
                "dense_binary": "sigmoid",
                "dense_multiclass": "softmax",
            },
            target={
                "binary": "float",
                "multilabel": "float",
                "multiclass": "index",
                "dense_binary": "float",
                "dense_multiclass": "index",
            },
            tasks=ALL_TASKS,
            params=(
                Param(
                    name="epsilon",
                    type=float,
                    default=1.0,
                    constraints=(Interval(Real, -1, None, closed="left"),),
                    doc="coefficient of the poly-1 term epsilon * (1 - p_t); 0 gives "
                    "cross_entropy (multi-class) or bce_with_logits; >= -1 keeps the loss "
                    "decreasing in p_t",
                    example="1",
                ),
            ),
            build=_own("poly", "PolyLoss"),
            member_params=(MemberParam("epsilon"),),
            tolerates={
                "log_softmax": (
                    "head 'log_softmax' before loss 'poly' is redundant but harmless: on a "
                    "multi-class task PolyLoss applies softmax itself, and softmax of "
                    "log-probabilities gives the same probabilities. Use head=logits with "
                    "loss=poly."
                )
            },
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


def own_loss_classes() -> dict[str, LazyClass]:
    """lossbench's own loss classes by class name (``SigmoidFocalLoss``), from the registry."""
    return {
        spec.build.name: spec.build
        for spec in LOSSES.values()
        if isinstance(spec.build, LazyClass) and spec.build.module.startswith(__package__ + ".")
    }
