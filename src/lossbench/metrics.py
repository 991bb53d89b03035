"""Evaluation metrics: probabilities from raw scores, and per-epoch classification metrics.

The model's raw scores (the output before the head) are turned into float64 probabilities by
:func:`to_probabilities`; :class:`ClassificationMetrics` accumulates them per step and computes
every metric once per epoch. Probabilities are computed here, never by torchmetrics: torchmetrics
guesses per call whether its input holds logits, and fp32 sigmoids saturate (sigmoid(17) is
exactly 1.0), which ties ranking metrics. float64 keeps scores apart up to a logit (or softmax
logit gap) of about 36.7; beyond that, float64 ties too. :func:`saturated_mask` measures the
saturation in the scores' own dtype, as a sigmoid or softmax head hands them to the loss.

    >>> import torch
    >>> scores = torch.tensor([[20.0], [30.0], [-3.0]])
    >>> probs = to_probabilities(scores, "sigmoid", "binary")
    >>> bool(probs[0] < probs[1] < 1.0)
    True
    >>> saturated_fraction(scores, "sigmoid", "binary")  # fp32 sigmoid(20) and sigmoid(30) are 1.0
    tensor(0.6667, dtype=torch.float64)
    >>> metrics = ClassificationMetrics("binary", 1, prefix="val/")
    >>> metrics.update_from_scores(scores, torch.tensor([1, 1, 0]), link="sigmoid")
    >>> values = metrics.compute()
    >>> values["val/auroc"], values["val/saturated"]
    (tensor(1.), tensor(0.6667, dtype=torch.float64))

Metric definitions (``p``: predicted probabilities, ``y``: labels, ``clip``: clipping to
``[eps, 1 - eps]`` with ``eps`` the float64 machine epsilon, as in scikit-learn's ``log_loss``):

| key | binary | multilabel | multiclass |
|-----|--------|------------|------------|
| accuracy | threshold 0.5 | micro: fraction of correct label decisions | micro (top-1) |
| exact_match | - | all labels of a sample right | - |
| f1_macro | mean F1 of both classes | mean F1 over labels present or predicted | ditto classes |
| f1_micro | - | F1 of all label decisions pooled | - |
| auroc | ROC AUC (NaN if undefined) | macro over scored labels | one-vs-rest, macro over scored |
| map | - | macro average precision over scored labels | - |
| ece | 15 bins on p (not top-label), L1 | as binary, all labels flattened | top-label, 15 bins |
| nll | mean -log clip(p_y) | binary nll over all elements | mean -log clip(p[y]) |
| brier | mean (p - y)^2 | mean (p - y)^2 over all elements | see below |
| saturated | fraction of head outputs exactly 0.0 or 1.0 (see :func:`saturated_mask`) | | |

A class (label) is *scored* in a split when the split holds a row with it and a row without it
(:mod:`lossbench.scored_classes`): AUROC and average precision are undefined otherwise, and
torchmetrics' macro averages would count such a class as 0.

Dense tasks (``dense_binary``, ``dense_multiclass``: ``(N, U, H, W)`` scores, ``(N, H, W)``
labels) are measured per position: every labelled position is one binary or multi-class
sample (:func:`flatten_positions`), so accuracy, F1, ECE, NLL and Brier are the binary or
multi-class ones over all positions of all maps; positions labelled with a negative value
(unlabelled, e.g. torch's ``ignore_index=-100``) are left out. ``miou`` is the mean over classes
(background included; both classes of a binary map) of the intersection over union of the
predicted and true positions of the class, pooled over all maps (torchmetrics'
``MulticlassJaccardIndex(average="macro")``). AUROC is left out: it keeps every position's
probability for the epoch (millions for a few thousand 28 x 28 maps).

A batch whose every position is unlabelled adds nothing to any metric (as it adds nothing to
the ``loss`` metric): the metrics of a split are those of its labelled positions, whatever its
batches. Where no position of a split was labelled at all, every metric is NaN (there is
nothing to measure; torchmetrics' empty states would give an accuracy of 0, a mean IoU of 0 or
an error instead). ``lossbench-train`` refuses such a validation or test split before training
(:func:`lossbench.data.dense.split_dense`), so a run's record never holds those NaNs.

    >>> dense = ClassificationMetrics("dense_binary", 1, prefix="val/")
    >>> maps = torch.tensor([[[[4.0, -4.0], [4.0, 4.0]]]])  # (N, U, H, W) = (1, 1, 2, 2)
    >>> dense.update_from_scores(maps, torch.tensor([[[1, 0], [0, 1]]]), link="sigmoid")
    >>> dense.update_from_scores(maps, torch.full((1, 2, 2), -100), link="sigmoid")  # none
    >>> round(float(dense.compute()["val/accuracy"]), 2)
    0.75

Multi-class Brier score, as scikit-learn's ``brier_score_loss`` defines it: the mean over samples
of ``sum_k (p_k - onehot(y)_k)^2``, in [0, 2]; halved when there are only two classes, where it
then equals the binary Brier score.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryCalibrationError,
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassJaccardIndex,
    MultilabelAccuracy,
    MultilabelExactMatch,
    MultilabelF1Score,
)
from torchmetrics.utilities.data import dim_zero_cat

from lossbench.metric_names import METRIC_NAMES
from lossbench.scored_classes import (
    BinaryScoredAUROC,
    MulticlassScoredAUROC,
    MultilabelScoredAUROC,
    MultilabelScoredAveragePrecision,
)
from lossbench.tasks import Task, check_task, is_dense, position_task

Link = Literal["sigmoid", "softmax"]
LINKS: tuple[str, ...] = get_args(Link)

#: Decision threshold on probabilities for binary and multi-label predictions.
THRESHOLD = 0.5
#: Equal-width bins of the expected calibration error.
ECE_BINS = 15
#: Probabilities are clipped to [EPS, 1 - EPS] for the log-loss, as scikit-learn does for float64.
EPS = torch.finfo(torch.float64).eps


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """torch's default dtype set to ``dtype`` within the block, and restored after it.

    torchmetrics computes parts of its metrics in the default dtype (``2 * tp`` of an F1 score,
    the cumulated counts of a ROC curve: integer counts times a Python float). Lightning's
    ``bf16-true`` precision sets the default dtype to bfloat16 within each step and within the
    run's final evaluation, and ``64-true`` to float64: an F1 or AUROC computed there came back
    rounded to bfloat16 (counts above 256 rounded too), or in float64 where the same checkpoint's
    ``lossbench-eval`` computed float32. Computing them within this block makes them the same
    wherever they are computed.

        >>> with default_dtype(torch.float64):
        ...     (torch.tensor([3]) * 2.0).dtype
        torch.float64
        >>> torch.get_default_dtype()
        torch.float32
    """
    before = torch.get_default_dtype()
    if before == dtype:
        yield
        return
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def flatten_positions(scores: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Dense ``(N, U, d1, ..., dK)`` scores as ``(P, U)`` rows, one per position, and labels
    ``(N, d1, ..., dK)`` as ``(P,)``; positions with a negative label (unlabelled) are dropped.

        >>> rows, labels = flatten_positions(torch.zeros(2, 3, 4, 5), torch.zeros(2, 4, 5).long())
        >>> rows.shape, labels.shape
        (torch.Size([40, 3]), torch.Size([40]))
    """
    if scores.ndim < 3:
        raise ValueError(
            f"scores of a dense task must have shape (N, U, H, W) (samples x output units x "
            f"positions), got shape {tuple(scores.shape)}."
        )
    rows = scores.movedim(1, -1).reshape(-1, scores.shape[1])
    if labels is None:
        return rows, None
    if tuple(labels.shape) != (scores.shape[0], *scores.shape[2:]):
        raise ValueError(
            f"labels of a dense task must have shape (N, H, W) = "
            f"{(scores.shape[0], *scores.shape[2:])} to match scores {tuple(scores.shape)}, got "
            f"{tuple(labels.shape)}."
        )
    flat = labels.reshape(-1)
    labelled = flat >= 0
    if bool(labelled.all()):
        return rows, flat
    return rows[labelled], flat[labelled]


def _check_scores(scores: Tensor, link: str, task: str) -> None:
    """Raise a ValueError unless ``scores`` is a floating ``(N, U)`` tensor that fits link/task."""
    check_task(task)
    if link not in LINKS:
        raise ValueError(f"Unknown link {link!r}. Valid links: {', '.join(LINKS)}.")
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        kind = scores.dtype if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a floating-point tensor of raw scores, got {kind}.")
    if scores.ndim != 2:
        raise ValueError(
            f"scores must have shape (N, U) (samples x output units), got shape "
            f"{tuple(scores.shape)}; a binary model with one unit gives (N, 1)."
        )
    units = scores.shape[1]
    if task == "multilabel" and link == "softmax":
        raise ValueError(
            "link='softmax' is invalid for task 'multilabel': softmax makes the labels compete "
            "for one unit of probability, but several labels can be on at once. Use link='sigmoid'."
        )
    if task == "binary" and link == "sigmoid" and units != 1:
        raise ValueError(
            f"scores of a binary task with link 'sigmoid' must have shape (N, 1), got "
            f"{tuple(scores.shape)}."
        )
    if task == "binary" and link == "softmax" and units != 2:
        raise ValueError(
            f"scores of a binary task with link 'softmax' must have shape (N, 2), got "
            f"{tuple(scores.shape)}."
        )
    if task == "multiclass" and units < 2:
        raise ValueError(
            f"scores of a multiclass task must have shape (N, C) with C >= 2 classes, got "
            f"{tuple(scores.shape)}."
        )
    if task == "multilabel" and units < 1:
        raise ValueError(
            f"scores of a multilabel task must have shape (N, L), L >= 1, got "
            f"{tuple(scores.shape)}."
        )


def to_probabilities(scores: Tensor, link: Link, task: Task) -> Tensor:
    """Turn raw scores ``(N, U)`` into float64 probabilities in the format the metrics take.

    Args:
        scores: The model's raw scores (before the head), shape ``(N, U)``.
        link: "sigmoid" or "softmax": how the loss models probabilities.
        task: "binary", "multilabel" or "multiclass".

    Returns:
        float64 probabilities: binary ``(N,)`` probability of the positive class (sigmoid of the
        single unit, or softmax column 1 of two units); multilabel ``(N, L)`` sigmoids;
        multiclass ``(N, C)`` softmax, or for link "sigmoid" the independent sigmoids normalised
        to sum to 1 per row.

    Raises:
        ValueError: unknown task or link, a shape that does not fit them, or link "softmax" on a
            multilabel task.

        >>> to_probabilities(torch.tensor([[0.0, 0.0]]), "softmax", "binary")
        tensor([0.5000], dtype=torch.float64)

    Dense tasks: the probabilities of every position, ``(P,)`` or ``(P, C)`` in the order of
    :func:`flatten_positions`.
    """
    if is_dense(task):
        return to_probabilities(flatten_positions(scores)[0], link, position_task(task))
    _check_scores(scores, link, task)
    z = scores.detach().to(torch.float64)
    if task == "binary":
        return torch.sigmoid(z[:, 0]) if link == "sigmoid" else torch.softmax(z, dim=1)[:, 1]
    if link == "softmax":
        return torch.softmax(z, dim=1)
    if task == "multiclass":
        # sigmoid(z_k) / sum_j sigmoid(z_j), computed from log-sigmoids so it never divides 0 by 0.
        return torch.softmax(nn.functional.logsigmoid(z), dim=1)
    return torch.sigmoid(z)


def saturated_mask(scores: Tensor, link: Link, task: Task) -> Tensor:
    """Which head outputs are exactly 0.0 or 1.0 in the scores' own dtype, as a bool ``(N, U)``.

    This is what a sigmoid (link "sigmoid") or softmax (link "softmax") head hands to the loss:
    a probability rounded to 0 or 1 gives ``nn.BCELoss`` its clamped log and zero gradient
    (fp32 sigmoid is exactly 1.0 from logit 16.75 on). Every output unit counts, so for a binary
    softmax head both columns do. Feed the mask to :meth:`ClassificationMetrics.update`, which
    averages it over all elements of the epoch without a host sync.

    Args:
        scores: Raw scores ``(N, U)``, in the dtype the head sees (fp32 usually).
        link: "sigmoid" or "softmax".
        task: "binary", "multilabel" or "multiclass" (checked against the shape as in
            :func:`to_probabilities`).

        >>> saturated_mask(torch.tensor([[17.0], [5.0]]), "sigmoid", "binary")
        tensor([[ True],
                [False]])
    """
    if is_dense(task):
        return saturated_mask(flatten_positions(scores)[0], link, position_task(task))
    _check_scores(scores, link, task)
    z = scores.detach()
    probs = torch.sigmoid(z) if link == "sigmoid" else torch.softmax(z, dim=1)
    return (probs == 0) | (probs == 1)


def saturated_fraction(scores: Tensor, link: Link, task: Task) -> Tensor:
    """Fraction of the head outputs that are exactly 0.0 or 1.0, as a float64 0-dim tensor.

    The mean of :func:`saturated_mask` (NaN for no scores). To accumulate over an epoch, pass the
    mask to :meth:`ClassificationMetrics.update` instead: batches of different sizes then weigh
    by their number of elements.

        >>> saturated_fraction(torch.tensor([[17.0], [5.0]]), "sigmoid", "binary")
        tensor(0.5000, dtype=torch.float64)
    """
    return saturated_mask(scores, link, task).to(torch.float64).mean()


class Float64Mean(MeanMetric):
    """A mean in float64: states *and* updates, on every device; no NaN check (it syncs).

        >>> mean = Float64Mean().to("cpu")
        >>> mean.update(torch.tensor([1.0, 1e-9], dtype=torch.float64))
        >>> mean.compute().item() == (1.0 + 1e-9) / 2
        True

    ``MeanMetric.set_dtype(torch.float64)`` alone is undone in part by any later ``.to(device)``
    (torchmetrics 1.x): the states stay float64, but the dtype that ``update`` casts its values
    to falls back to float32, so per-sample values were rounded to float32 before summing.
    States are summed across processes.
    """

    def __init__(self) -> None:
        super().__init__(nan_strategy="disable")
        self.set_dtype(torch.float64)

    def _apply(self, fn: Any, exclude_state: Any = "") -> Any:
        this = super()._apply(fn, exclude_state)
        this._dtype = this.mean_value.dtype  # what update casts to: the states' dtype
        return this


class WeightedMean(Float64Mean):
    """``sum(value * weight) / sum(weight)`` in float64, summed across processes; no NaN check.

        >>> mean = WeightedMean()
        >>> mean.update(torch.tensor([2.0, 5.0]), torch.tensor([3.0, 1.0]))
        >>> mean.compute().item()
        2.75

    ``MeanMetric(nan_strategy="disable")`` replaces ``weight`` by ones (torchmetrics 1.9), and
    the other strategies check for NaN, dropping or replacing it; here a NaN value makes the mean
    NaN, except where its weight is 0: a value with no weight adds nothing (the NaN mean of a
    batch whose every target is ignored). The states are MeanMetric's (weighted sum, weights).
    """

    def update(self, value: float | Tensor, weight: float | Tensor = 1.0) -> None:
        value = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        weight = torch.as_tensor(weight, dtype=self.dtype, device=self.device)
        weight = torch.broadcast_to(weight, value.shape)
        self.mean_value += torch.where(weight != 0, value * weight, 0.0).sum()
        self.weight += weight.sum()


def binary_nll(probs: Tensor, labels: Tensor) -> Tensor:
    """Per-element binary log-loss ``-log clip(p)`` if the label is 1, else ``-log clip(1 - p)``."""
    p = probs.to(torch.float64)
    log_p = torch.log(p.clamp(EPS, 1 - EPS))
    log_q = torch.log((1 - p).clamp(EPS, 1 - EPS))
    return -torch.where(labels.bool(), log_p, log_q)


def nll_per_element(probs: Tensor, labels: Tensor, task: Task) -> Tensor:
    """The log-loss of each sample (multi-class) or each (sample, label) element (binary,
    multi-label) of float64 probabilities: the terms whose mean is the ``nll`` metric.

        >>> probs = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]], dtype=torch.float64)
        >>> nll_per_element(probs, torch.tensor([0, 2]), "multiclass").round(decimals=4)
        tensor([0.3567, 1.3863], dtype=torch.float64)
    """
    if task == "multiclass":
        return -torch.log(probs.gather(-1, labels.unsqueeze(-1)).clamp(EPS, 1 - EPS)).squeeze(-1)
    return binary_nll(probs, labels)


def brier_per_element(probs: Tensor, labels: Tensor, task: Task, n_targets: int) -> Tensor:
    """The terms whose mean is the ``brier`` metric (see the table above)."""
    if task != "multiclass":
        return (probs - labels.to(torch.float64)) ** 2
    onehot = nn.functional.one_hot(labels, n_targets).to(torch.float64)
    brier = ((probs - onehot) ** 2).sum(dim=-1)
    return brier / 2 if n_targets == 2 else brier  # scikit-learn's scale_by_half="auto"


def reliability_bins(
    confidences: Tensor, outcomes: Tensor, n_bins: int = ECE_BINS
) -> dict[str, list[float | None] | list[int]]:
    """Mean confidence, observed frequency and count per equal-width bin on [0, 1].

    >>> bins = reliability_bins(torch.tensor([0.05, 0.1, 0.9]), torch.tensor([0, 1, 1]),
    ...                         n_bins=2)
    >>> bins["count"], bins["accuracy"]
    ([2, 1], [0.5, 1.0])
    """
    confidences = confidences.detach().double().flatten().cpu()
    outcomes = outcomes.detach().double().flatten().cpu()
    index = (confidences * n_bins).long().clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, confidences)
    hit_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, outcomes)

    def mean(total: Tensor) -> list[float | None]:
        return [float(t / c) if c else None for t, c in zip(total, count, strict=True)]

    return {"confidence": mean(conf_sum), "accuracy": mean(hit_sum), "count": count.tolist()}


class MeasuredCount(Metric):
    """How many samples (a dense task's labelled positions) the metrics measured, summed
    across processes: none, and :meth:`ClassificationMetrics.compute` gives NaN.

        >>> count = MeasuredCount()
        >>> count.update(3); count.update(0)
        >>> int(count.compute())
        3
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, n: int) -> None:
        self.count += n

    def compute(self) -> Tensor:
        return self.count


class MultilabelMacroF1(MultilabelF1Score):
    """Multi-label macro F1 over the labels that a row has or is predicted to have.

    A label with no positive row and no positive prediction (``tp + fp + fn = 0``) has no F1
    (0 / 0). torchmetrics' multi-label macro counts it as 0, so a perfect model on a split
    where one of two labels never occurs scored 0.5; its multi-class macro F1 leaves such a
    class out, as this does. A label predicted where no row has it (``fp > 0``) scores 0 and
    counts. NaN where no label counts.

        >>> f1 = MultilabelMacroF1(2, threshold=0.5)
        >>> f1.update(torch.tensor([[0.9, 0.1], [0.2, 0.3]]), torch.tensor([[1, 0], [0, 0]]))
        >>> f1.compute()  # label 1: never present, never predicted
        tensor(1.)
    """

    def __init__(self, num_labels: int, **kwargs: Any) -> None:
        super().__init__(num_labels, average="none", **kwargs)

    def compute(self) -> Tensor:
        tp, fp, _, fn = self._final_state()
        counted = (tp + fp + fn) > 0
        if not bool(counted.any()):
            return torch.tensor(float("nan"))
        return (2 * tp[counted] / (2 * tp[counted] + fp[counted] + fn[counted])).float().mean()


#: The metrics computed from torchmetrics' stat scores (true and false positive and negative
#: counts), whose update takes no empty batch.
_COUNTED = frozenset({"accuracy", "exact_match", "f1_macro", "f1_micro"})


class ClassificationMetrics(nn.Module):
    """All metrics of one split for one task, accumulated per step and computed per epoch.

    Every metric is a torchmetrics ``Metric`` child module, so ``.to(device)`` moves its states
    and ``compute`` syncs them across processes under DDP. Averages are explicit everywhere; see
    the table in :mod:`lossbench.metrics` for the definitions.

    Args:
        task: "binary", "multilabel" or "multiclass".
        n_targets: 1 for binary, the number of labels (multilabel) or classes (multiclass).
        prefix: Put before each key that :meth:`compute` returns, e.g. "val/".
        validate_args: Check inputs in ``update`` (value ranges; torchmetrics' own checks). Those
            checks synchronise with the device; with False, ``update`` never waits for it.
        only: Compute only these metrics (names without the prefix, in :data:`METRIC_NAMES`);
            None: all of the task's. Training with ``epoch_metrics=monitored`` computes only
            what its callbacks monitor each epoch.

            >>> ClassificationMetrics("multiclass", 3, prefix="val/", only=["nll"]).names
            ('val/nll',)

    Usage, per step, then once per epoch::

        metrics = ClassificationMetrics("multiclass", 3, prefix="val/")
        metrics.update_from_scores(scores, labels, link="softmax")  # or update(probs, labels, mask)
        self.log_dict(metrics.compute()); metrics.reset()
    """

    def __init__(
        self,
        task: Task,
        n_targets: int,
        prefix: str = "",
        *,
        validate_args: bool = True,
        only: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.task: Task = check_task(task)
        #: The task of one measured sample: a dense task's per-position task.
        self.kind: Task = position_task(self.task)
        if isinstance(n_targets, bool) or not isinstance(n_targets, int):
            raise ValueError(f"n_targets must be an int, got {n_targets!r}.")
        task = self.kind
        minimum = {"binary": 1, "multilabel": 1, "multiclass": 2}[task]
        if n_targets < minimum or (task == "binary" and n_targets != 1):
            what = {
                "binary": "must be 1 for a binary task",
                "multilabel": "is the number of labels and must be >= 1",
                "multiclass": "is the number of classes and must be >= 2",
            }[task]
            raise ValueError(f"n_targets={n_targets!r} is invalid: n_targets {what}.")
        self.n_targets = n_targets
        self.prefix = prefix
        self.validate_args = validate_args
        kw = {"validate_args": validate_args}
        n = n_targets
        metrics: dict[str, Metric]
        if task == "binary":
            metrics = {
                "accuracy": BinaryAccuracy(threshold=THRESHOLD, **kw),
                # fed 0/1 class decisions: the mean of the F1 of the positive and negative class
                "f1_macro": MulticlassF1Score(num_classes=2, average="macro", **kw),
                "auroc": BinaryScoredAUROC(**kw),  # NaN without a positive or a negative
                "ece": BinaryCalibrationError(n_bins=ECE_BINS, norm="l1", **kw),
            }
        elif task == "multilabel":
            metrics = {
                "accuracy": MultilabelAccuracy(n, threshold=THRESHOLD, average="micro", **kw),
                "exact_match": MultilabelExactMatch(n, threshold=THRESHOLD, **kw),
                # over the labels present or predicted, as the multi-class macro F1
                "f1_macro": MultilabelMacroF1(n, threshold=THRESHOLD, **kw),
                "f1_micro": MultilabelF1Score(n, threshold=THRESHOLD, average="micro", **kw),
                # macro over the labels the split can score (lossbench.scored_classes)
                "auroc": MultilabelScoredAUROC(n, **kw),
                "map": MultilabelScoredAveragePrecision(n, **kw),
                # on all (sample, label) probabilities flattened
                "ece": BinaryCalibrationError(n_bins=ECE_BINS, norm="l1", **kw),
            }
        else:
            metrics = {
                "accuracy": MulticlassAccuracy(n, average="micro", top_k=1, **kw),
                "f1_macro": MulticlassF1Score(n, average="macro", top_k=1, **kw),
                "auroc": MulticlassScoredAUROC(n, **kw),  # macro over the classes it can score
                # top-label: confidence = max probability, correct = argmax equals the label
                "ece": MulticlassCalibrationError(n, n_bins=ECE_BINS, norm="l1", **kw),
            }
        metrics |= {"nll": Float64Mean(), "brier": Float64Mean(), "saturated": Float64Mean()}
        if is_dense(self.task):  # mean IoU over the classes of the positions (binary: both)
            metrics["miou"] = MulticlassJaccardIndex(max(n, 2), average="macro", **kw)
        names = METRIC_NAMES[self.task]
        if only is not None:
            unknown = sorted(set(only) - set(names))
            if unknown:
                raise ValueError(
                    f"only={sorted(only)} names metrics a {self.task} task does not have: "
                    f"{unknown}; its metrics: {list(names)}."
                )
            names = tuple(name for name in names if name in set(only))
        self.metrics = nn.ModuleDict({name: metrics[name] for name in names})
        #: The samples measured since the last reset (none: every metric is NaN).
        self.measured = MeasuredCount()
        #: The float dtype the metrics are updated and computed in (:func:`default_dtype`),
        #: whatever torch's default dtype of the moment: float32, or float64 once fed float64
        #: scores (``trainer.precision=64-true``).
        self.float_dtype = torch.float32

    @property
    def names(self) -> tuple[str, ...]:
        """The keys :meth:`compute` returns, with the prefix."""
        return tuple(f"{self.prefix}{name}" for name in self.metrics)

    def _check_inputs(self, probs: Tensor, labels: Tensor) -> None:
        n = self.n_targets
        expected = {
            "binary": ("(N,)", "(N,)"),
            "multilabel": (f"(N, {n})", f"(N, {n})"),
            "multiclass": (f"(N, {n})", "(N,)"),
        }[self.kind]
        rows = probs.shape[0] if probs.ndim else 0
        probs_shape = (rows,) if self.kind == "binary" else (rows, n)
        labels_shape = (rows, n) if self.kind == "multilabel" else (rows,)
        if probs.ndim == 0 or tuple(probs.shape) != probs_shape:
            per = " (one row per position)" if is_dense(self.task) else ""
            raise ValueError(
                f"probs of a {self.task} task{per} with n_targets={n} must have shape "
                f"{expected[0]}, got {tuple(probs.shape)}. Compute them with "
                "lossbench.metrics.to_probabilities."
            )
        if tuple(labels.shape) != labels_shape:
            raise ValueError(
                f"labels of a {self.task} task with n_targets={n} must have shape {expected[1]} "
                f"matching probs {tuple(probs.shape)}, got {tuple(labels.shape)}."
            )
        if not probs.is_floating_point():
            raise ValueError(f"probs must be floating-point probabilities, got {probs.dtype}.")
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integer (int64) class labels, got {labels.dtype}.")
        if self.validate_args and probs.numel() and not ((probs >= 0) & (probs <= 1)).all():
            raise ValueError(
                f"probs must lie in [0, 1], got values in [{probs.min().item()}, "
                f"{probs.max().item()}]: pass probabilities from to_probabilities, not raw scores."
            )

    def update(self, probs: Tensor, labels: Tensor, saturated: Tensor | None = None) -> None:
        """Accumulate one step.

        Args:
            probs: Probabilities as :func:`to_probabilities` returns them: binary ``(N,)``,
                multilabel ``(N, L)``, multiclass ``(N, C)``.
            labels: int64 labels: binary ``(N,)`` in {0, 1}, multilabel multi-hot ``(N, L)``,
                multiclass ``(N,)`` class indices.
            saturated: Optional bool mask from :func:`saturated_mask`, any shape; its elements
                are averaged into "saturated". Without any, "saturated" is NaN.
        """
        with default_dtype(self.float_dtype):
            self._update(probs, labels, saturated)

    def _update(self, probs: Tensor, labels: Tensor, saturated: Tensor | None) -> None:
        self._check_inputs(probs, labels)
        self.measured.update(probs.shape[0])
        probs = probs.detach().to(torch.float64)
        labels = labels.detach().long()
        m: Mapping[str, Metric] = self.metrics
        if not len(labels):
            # A step of no sample (a map whose every position is unlabelled) adds nothing.
            # torchmetrics' counting metrics refuse one (they reshape it to (0, -1)); their
            # states are sums, which sync across processes without it. The others take it: under
            # DDP, torchmetrics 1.9 syncs a list state that holds nothing as an empty float32
            # tensor, whatever the state's dtype on the other processes.
            m = {name: metric for name, metric in m.items() if name not in _COUNTED}
        if "miou" in m:
            m["miou"].update(
                (probs > THRESHOLD).long() if self.kind == "binary" else probs.argmax(1), labels
            )
        if self.kind == "binary":
            if "accuracy" in m:
                m["accuracy"].update(probs, labels)
            if "f1_macro" in m:
                m["f1_macro"].update((probs > THRESHOLD).long(), labels)
            for name in ("auroc", "ece"):
                if name in m:
                    m[name].update(probs, labels)
        elif self.kind == "multilabel":
            for name in ("accuracy", "exact_match", "f1_macro", "f1_micro", "auroc", "map"):
                if name in m:
                    m[name].update(probs, labels)
            if "ece" in m:
                m["ece"].update(probs.reshape(-1), labels.reshape(-1))
        else:
            for name in ("accuracy", "f1_macro", "auroc", "ece"):
                if name in m:
                    m[name].update(probs, labels)
        if "nll" in m:
            m["nll"].update(nll_per_element(probs, labels, self.kind))
        if "brier" in m:
            m["brier"].update(brier_per_element(probs, labels, self.kind, self.n_targets))
        if "saturated" in m:
            # An empty update keeps "saturated" NaN without torchmetrics' compute-before-update
            # warning and keeps every process calling the same updates under DDP.
            m["saturated"].update(
                saturated.detach().reshape(-1)
                if saturated is not None
                else torch.empty(0, dtype=torch.float64, device=probs.device)
            )

    def update_from_scores(self, scores: Tensor, labels: Tensor, link: Link) -> None:
        """Accumulate one step from raw scores ``(N, U)``: probabilities and saturation both.

        Dense tasks: scores ``(N, U, H, W)`` and labels ``(N, H, W)``, measured per labelled
        position (:func:`flatten_positions`). float64 scores make the metrics computed in
        float64 until the next :meth:`reset` (:attr:`float_dtype`), any other float32."""
        if scores.dtype == torch.float64:
            self.float_dtype = torch.float64
        if is_dense(self.task):
            scores, labels = flatten_positions(scores, labels)
            self.update(
                to_probabilities(scores, link, self.kind),
                labels,
                saturated=saturated_mask(scores, link, self.kind)
                if "saturated" in self.metrics
                else None,
            )
            return
        self.update(
            to_probabilities(scores, link, self.task),
            labels,
            saturated=saturated_mask(scores, link, self.task)
            if "saturated" in self.metrics
            else None,
        )

    def reliability(self) -> dict[str, list[float | None] | list[int]]:
        """Reliability-diagram bins of the accumulated ``ece`` states (call before ``reset``).

        Over ``ECE_BINS`` equal bins of the confidence: binary and multi-label bin the
        probability of the positive class / each label against the observed frequency;
        multi-class bins the top-label probability against top-1 accuracy. Empty bins are None.
        Under DDP the states of every process are gathered first (torchmetrics'
        ``sync_context``; a collective call: every rank calls it), as ``compute`` gathers them.
        """
        ece = self.metrics["ece"]
        with default_dtype(self.float_dtype), ece.sync_context():
            # a list of the steps' tensors in one process, one tensor once gathered (DDP)
            if isinstance(ece.confidences, list) and not ece.confidences:  # nothing measured
                empty = torch.empty(0, dtype=torch.float64)
                return reliability_bins(empty, empty)
            return reliability_bins(dim_zero_cat(ece.confidences), dim_zero_cat(ece.accuracies))

    def compute(self) -> dict[str, Tensor]:
        """Every metric over all steps since the last reset, keyed ``<prefix><name>``; all
        NaN where no sample (no labelled position) was measured.

            >>> metrics = ClassificationMetrics("dense_binary", 1, only=["accuracy", "miou"])
            >>> metrics.update_from_scores(torch.zeros(2, 1, 3, 3), torch.full((2, 3, 3), -100),
            ...                            link="sigmoid")
            >>> metrics.compute()
            {'accuracy': tensor(nan, dtype=torch.float64), 'miou': tensor(nan, dtype=torch.float64)}

        Computed in :attr:`float_dtype` whatever torch's default dtype (:func:`default_dtype`):
        torchmetrics' F1 and AUROC take the default dtype in part, which Lightning's
        ``bf16-true`` precision sets to bfloat16.
        """
        with default_dtype(self.float_dtype):
            return self._compute()

    def _compute(self) -> dict[str, Tensor]:
        if not self.metrics:
            return {}
        if self.measured.update_count and not bool(self.measured.compute()):
            nan = torch.tensor(math.nan, dtype=torch.float64, device=self.measured.device)
            return dict.fromkeys(self.names, nan)
        return {f"{self.prefix}{name}": metric.compute() for name, metric in self.metrics.items()}

    def reset(self) -> None:
        """Clear all accumulated states (call once per epoch, after :meth:`compute`)."""
        for metric in self.metrics.values():
            metric.reset()
        self.measured.reset()
        self.float_dtype = torch.float32


__all__ = [
    "ECE_BINS",
    "EPS",
    "LINKS",
    "THRESHOLD",
    "ClassificationMetrics",
    "Link",
    "MeasuredCount",
    "WeightedMean",
    "binary_nll",
    "brier_per_element",
    "default_dtype",
    "flatten_positions",
    "nll_per_element",
    "saturated_fraction",
    "saturated_mask",
    "to_probabilities",
]
