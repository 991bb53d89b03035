"""AUROC and average precision over the classes a split can score.

A class (multi-label: a label; binary: the positive class) is *scored* in a split when the split
holds a row with it and a row without it: a ROC curve needs both positives and negatives, and
average precision ranks positives among negatives. torchmetrics scores a class without
positives (or without negatives) as 0, with only a generic warning ("No positive samples in
targets"), so its macro average counted every class absent from the split as 0: a perfect
model got test/auroc 5/7 on a test split that lacked 2 of 7 classes, and binary AUROC 0 on a
test split without a positive row.

Here torchmetrics computes the per-class values (``average=None``) and the macro average is
taken over the scored classes only; with no scored class it is NaN. Binary AUROC of a split
without a positive or without a negative row is NaN (undefined), not 0.
:func:`unscored_classes` says which classes a split cannot score; runs record them by name
(``unscored_classes`` in ``metrics.json``, :func:`unscored_class_names`) and warn
(:func:`warn_unscored`).

    >>> import torch
    >>> probs = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    >>> labels = torch.tensor([0, 1, 0])  # class 2 has no row
    >>> unscored_classes(labels, "multiclass", 3)
    [2]
    >>> auroc = MulticlassScoredAUROC(3)
    >>> auroc.update(probs, labels)
    >>> auroc.compute()  # classes 0 and 1 ranked perfectly; torchmetrics' macro says 0.6667
    tensor(1.)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics.classification import (
    BinaryAUROC,
    MulticlassAUROC,
    MultilabelAUROC,
    MultilabelAveragePrecision,
)
from torchmetrics.utilities.data import dim_zero_cat

__all__ = [
    "BinaryScoredAUROC",
    "MulticlassScoredAUROC",
    "MultilabelScoredAUROC",
    "MultilabelScoredAveragePrecision",
    "UnscoredClassWarning",
    "scored_mask",
    "unscored_class_names",
    "unscored_classes",
    "warn_unscored",
]

#: torchmetrics' warnings for a class without positives or negatives; lossbench says it better.
_NO_SAMPLES = r"No (positive|negative) samples"


class UnscoredClassWarning(UserWarning):
    """A split cannot score some classes: its AUROC (and mAP) leaves them out, or is NaN."""


def scored_mask(labels: Tensor, task: str, n_targets: int) -> Tensor:
    """Which classes ``labels`` can score, as a bool ``(n_targets,)`` tensor (binary: ``(1,)``).

    Args:
        labels: binary ``(N,)`` 0/1, multi-class ``(N,)`` class indices, multi-label ``(N, L)``
            multi-hot.
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``.
        n_targets: 1 (binary), the number of labels or of classes.

        >>> scored_mask(torch.tensor([[1, 0], [1, 1]]), "multilabel", 2)
        tensor([False,  True])
    """
    n = labels.shape[0]
    if task == "multiclass":
        positives = torch.bincount(labels.reshape(-1).long(), minlength=n_targets)[:n_targets]
    elif task == "multilabel":
        positives = (labels == 1).sum(dim=0)
    elif task == "binary":
        positives = (labels == 1).sum().reshape(1)
    else:
        raise ValueError(f"Unknown task {task!r}. Valid tasks: binary, multilabel, multiclass.")
    return (positives > 0) & (positives < n)


def unscored_classes(labels: Tensor, task: str, n_targets: int) -> list[int]:
    """The indices of the classes (labels) that ``labels`` cannot score: no row with the class,
    or no row without it. Binary: ``[0]`` when the positive class cannot be scored.

        >>> unscored_classes(torch.tensor([0, 0, 0]), "binary", 1)
        [0]
    """
    return torch.nonzero(~scored_mask(labels, task, n_targets)).flatten().tolist()


def unscored_class_names(labels: Tensor, task: str, names: Sequence[str]) -> list[str]:
    """:func:`unscored_classes` by name: ``names`` are the class names (multi-class), the label
    columns (multi-label) or the one label column (binary).

        >>> unscored_class_names(torch.tensor([1, 1]), "binary", ["spam"])
        ['spam']
    """
    n_targets = 1 if task == "binary" else len(names)
    return [str(names[k]) for k in unscored_classes(labels, task, n_targets)]


def warn_unscored(
    unscored: Mapping[str, Sequence[str]], task: str, n_targets: int, what: str = "the data"
) -> None:
    """Warn (:class:`UnscoredClassWarning`) for each split that cannot score some classes:
    ``unscored`` maps a split (``"val"``, ``"test"``) to the names of its unscored classes.

        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_unscored({"val": [], "test": ["eel"]}, "multiclass", 3, "data=fish")
        >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
        data=fish: the test split cannot score class 'eel': it has no row of it, or only rows
        of it. test/auroc is the mean over the other 2 of 3 classes (metrics.json lists it
        under unscored_classes). More rows, a larger data.test_fraction or another
        data.split_seed would include it.
    """
    for split, names in unscored.items():
        if not names:
            continue
        listed = ", ".join(repr(name) for name in names)
        fraction = "data.val_fraction" if split == "val" else "data.test_fraction"
        fix = f"More rows, a larger {fraction} or another data.split_seed would include"
        if task == "binary":
            message = (
                f"{what}: the {split} split has no positive or no negative row of label "
                f"{listed}, so its AUROC is undefined: {split}/auroc is NaN (null in "
                f"metrics.json). {fix} both."
            )
        else:
            one = len(names) == 1
            it = "it" if one else "them"
            if task == "multiclass":
                kind, kinds, metrics = "class", "classes", f"{split}/auroc is"
                lacking = f"it has no row of {it}, or only rows of {it}"
            else:
                kind, kinds, metrics = "label", "labels", f"{split}/auroc and {split}/map are"
                lacking = "it has no positive or no negative row of " + ("it" if one else "each")
            message = (
                f"{what}: the {split} split cannot score {kind if one else kinds} {listed}: "
                f"{lacking}. {metrics} the mean over the other {n_targets - len(names)} of "
                f"{n_targets} {kinds} (metrics.json lists {it} under unscored_classes). "
                f"{fix} {it}."
            )
        warnings.warn(message, UnscoredClassWarning, stacklevel=2)


class _OverScoredClasses:
    """Mixin for a torchmetrics metric built with ``average=None`` (per-class values): compute
    the mean over the classes the accumulated targets can score (NaN if none)."""

    task: str

    def compute(self) -> Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _NO_SAMPLES)
            per_class = super().compute()  # type: ignore[misc]
        target = dim_zero_cat(self.target)  # type: ignore[attr-defined]
        scored = scored_mask(target, self.task, per_class.shape[0])
        if not bool(scored.any()):
            return torch.full_like(per_class[0], float("nan"))
        return per_class[scored].mean()


class BinaryScoredAUROC(BinaryAUROC):
    """``BinaryAUROC(thresholds=None)``, NaN for targets without a positive or a negative.

    >>> auroc = BinaryScoredAUROC()
    >>> auroc.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 0]))
    >>> auroc.compute()
    tensor(nan)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(thresholds=None, **kwargs)

    def compute(self) -> Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _NO_SAMPLES)
            value = super().compute()
        if not bool(scored_mask(dim_zero_cat(self.target), "binary", 1).all()):
            return torch.full_like(value, float("nan"))
        return value


class MulticlassScoredAUROC(_OverScoredClasses, MulticlassAUROC):
    """One-vs-rest AUROC, the macro average over the classes the split can score."""

    task = "multiclass"

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(num_classes, average=None, thresholds=None, **kwargs)


class MultilabelScoredAUROC(_OverScoredClasses, MultilabelAUROC):
    """AUROC per label, the macro average over the labels the split can score."""

    task = "multilabel"

    def __init__(self, num_labels: int, **kwargs: Any) -> None:
        super().__init__(num_labels, average=None, thresholds=None, **kwargs)


class MultilabelScoredAveragePrecision(_OverScoredClasses, MultilabelAveragePrecision):
    """Average precision per label, the macro average (mAP) over the labels the split can
    score (a label with positives in every row, whose AP is 1 whatever the model, included
    in none)."""

    task = "multilabel"

    def __init__(self, num_labels: int, **kwargs: Any) -> None:
        super().__init__(num_labels, average=None, thresholds=None, **kwargs)
