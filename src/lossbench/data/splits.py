"""Train / validation / test splits, the checks that they can train a model, and their
preprocessing, fitted on the training split only.

:func:`check_split_sizes` refuses fractions that leave a split too small and
:func:`check_split_classes` a training split that lacks a class; :func:`split_table` runs both.

>>> import numpy as np
>>> from lossbench.data.table import LoadedTable
>>> t = LoadedTable(np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20) % 2,
...                 ["x0", "x1"], ["y"], [0, 1])
>>> s = split_table(t, "binary", val_fraction=0.2, test_fraction=0.2, split_seed=0)
>>> [len(s[k].labels) for k in ("train", "val", "test")]
[12, 4, 4]
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from lossbench.data.preprocess import (
    Preprocessor,
    Standardizer,
    check_missing,
    fit_preprocessor,
)
from lossbench.data.table import DataError, LoadedTable
from lossbench.tasks import TABLE_TASKS, Task

__all__ = [
    "STAGES",
    "Preprocessor",
    "Split",
    "Standardizer",
    "check_split_classes",
    "check_split_sizes",
    "split_and_standardize",
    "split_table",
]

STAGES = ("train", "val", "test")

_SPLIT_FIX = (
    "use more rows, a different data.split_seed, or smaller data.val_fraction / data.test_fraction"
)


@dataclass(frozen=True)
class Split:
    features: np.ndarray  # float32 (n, F'), preprocessed with training statistics
    labels: np.ndarray  # int64 (n,) or (n, L)


def split_table(
    table: LoadedTable,
    task: Task,
    *,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
    impute: str | None = None,
) -> dict[str, Split]:
    """Split ``table`` into train / val / test, stratified for binary and multi-class tasks.

    Multi-label splits are random (scikit-learn has no multi-label stratification). Features
    are preprocessed (:mod:`lossbench.data.preprocess`: numbers standardised, categories one-hot
    encoded, missing values imputed when ``impute`` is given) with statistics of the training
    rows only.
    """
    return split_and_standardize(
        table,
        task,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        split_seed=split_seed,
        impute=impute,
    )[0]


def split_and_standardize(
    table: LoadedTable,
    task: Task,
    *,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
    impute: str | None = None,
    what: str = "the data set",
) -> tuple[dict[str, Split], Preprocessor]:
    """:func:`split_table`, also returning the training split's :class:`Preprocessor`."""
    check_missing(table.features, table.feature_names, impute, what)
    n = len(table.labels)
    n_classes = len(table.classes) if task == "multiclass" else 2
    check_split_sizes(n, val_fraction, test_fraction, n_classes if task != "multilabel" else 1)
    stratify = table.labels if task != "multilabel" else None
    if stratify is not None:
        counts = np.bincount(stratify)
        rare = [(table.classes[i], int(c)) for i, c in enumerate(counts) if 0 < c < 3]
        if rare:
            raise DataError(
                f"class {rare[0][0]!r} has only {rare[0][1]} row(s); a stratified split puts at "
                "least one row of every class into train, val and test, so each class needs 3 "
                "or more rows. Add rows, or merge or drop the rare class."
            )
    index = np.arange(n)
    rest, test = train_test_split(
        index, test_size=test_fraction, random_state=split_seed, stratify=stratify
    )
    stratify_rest = None if stratify is None else stratify[rest]
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1.0 - test_fraction),
        random_state=split_seed,
        stratify=stratify_rest,
    )
    check_split_classes(table.labels[train], task, table.label_names)
    preprocessor = fit_preprocessor(
        table.features[train],
        table.feature_names,
        table.categories,
        impute=impute,
        what=what,
    )
    splits = {
        stage: Split(
            preprocessor.transform(table.features[rows], table.categories), table.labels[rows]
        )
        for stage, rows in zip(STAGES, (np.sort(train), np.sort(val), np.sort(test)), strict=True)
    }
    return splits, preprocessor


# ------------------------------------------------------------------- split checks


def check_split_classes(labels_train: np.ndarray, task: str, label_names: list[str]) -> None:
    """Refuse a training split that cannot teach every class (or every label).

    Binary and multi-class: the training split must hold at least two classes. Multi-label:
    every label needs at least one positive and one negative training row.

    Args:
        labels_train: the training labels, ``(N,)`` or ``(N, L)`` as in :class:`LoadedTable`.
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``.
        label_names: :attr:`LoadedTable.label_names`, to name the class or label in messages.

    Raises:
        DataError: naming the class or label, with the fix (more rows, another
            ``data.split_seed``, smaller ``data.val_fraction`` / ``data.test_fraction``).

    Example:
        >>> import numpy as np
        >>> check_split_classes(np.array([[1, 0], [0, 1]]), "multilabel", ["cat", "dog"])
        >>> check_split_classes(np.array([1, 1]), "binary", ["y"])
        ... # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        DataError: The training split (2 rows) holds only class 1 of label column 'y': ...
    """
    if task not in TABLE_TASKS:
        raise DataError(f"Unknown task {task!r}. Valid tasks: {', '.join(TABLE_TASKS)}.")
    labels_train = np.asarray(labels_train)
    n = len(labels_train)
    if task == "multilabel":
        if labels_train.ndim != 2 or labels_train.shape[1] != len(label_names):
            raise ValueError(
                f"Expected multi-label training labels of shape (N, "
                f"{len(label_names)}) for labels {label_names}, got shape "
                f"{labels_train.shape}."
            )
        positives = labels_train.sum(axis=0)
        for name, count in zip(label_names, positives.tolist(), strict=True):
            if count == 0 or count == n:
                lacking = "positive (1)" if count == 0 else "negative (0)"
                raise DataError(
                    f"The training split ({n} rows) has no {lacking} row for label {name!r}, so "
                    f"the model cannot learn it. To fix it, {_SPLIT_FIX}."
                )
        return
    present = np.unique(labels_train)
    if len(present) < 2:
        if len(present) == 0:
            only = "no rows at all"
        elif task == "multiclass" and 0 <= int(present[0]) < len(label_names):
            only = f"only class {label_names[int(present[0])]!r}"
        else:
            only = f"only class {int(present[0])} of label column {label_names[0]!r}"
        raise DataError(
            f"The training split ({n} rows) holds {only}: a {task} classifier needs at least two "
            f"classes to learn from. To fix it, {_SPLIT_FIX}."
        )


def _split_sizes(n_rows: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    """Split sizes as two scikit-learn ``train_test_split`` calls make them: test first."""
    n_test = math.ceil(test_fraction * n_rows)
    rest = n_rows - n_test
    n_val = math.ceil(val_fraction / (1.0 - test_fraction) * rest)
    return {"train": rest - n_val, "validation": n_val, "test": n_test}


def check_split_sizes(
    n_rows: int, val_fraction: float, test_fraction: float, n_classes_or_1: int
) -> None:
    """Refuse split fractions that are out of range or leave a split too small.

    The rule: ``data.val_fraction`` and ``data.test_fraction`` each lie strictly between 0 and
    1, and their sum is below 1. Sizes are computed as the splitter does (scikit-learn's
    ``train_test_split``, test drawn first with ``ceil(test_fraction * n_rows)`` rows, then
    validation from the rest). Every split needs at least 1 row; a stratified split
    (``n_classes_or_1 >= 2``) needs at least ``max(2, n_classes)`` rows in each of train,
    validation and test, one per class at least, as stratified splitting requires.

    Args:
        n_rows: rows in the whole table.
        val_fraction: ``data.val_fraction``.
        test_fraction: ``data.test_fraction``.
        n_classes_or_1: the number of classes for stratified splits (binary: 2), or 1 for
            unstratified ones (multi-label).

    Raises:
        DataError: naming the row count, the fractions, the split that is too small, and the
            fix.

    Example:
        >>> check_split_sizes(100, 0.2, 0.2, 3)
        >>> check_split_sizes(10, 0.1, 0.2, 3)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        DataError: 10 rows are too few for data.val_fraction=0.1 and data.test_fraction=0.2: ...
    """
    fractions = {"data.val_fraction": val_fraction, "data.test_fraction": test_fraction}
    for key, value in fractions.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
            raise DataError(
                f"{key}={value!r} must be a number strictly between 0 and 1 (the "
                f"fraction of rows held out), e.g. {key}=0.2."
            )
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"data.val_fraction={val_fraction} + data.test_fraction={test_fraction} = "
            f"{val_fraction + test_fraction:g} leaves no rows for training; the sum must be "
            "below 1, e.g. data.val_fraction=0.2 data.test_fraction=0.2."
        )
    stratified = n_classes_or_1 >= 2
    need = max(2, n_classes_or_1) if stratified else 1
    why = (
        f"a stratified split needs at least {need} rows per split (one per class, "
        f"{n_classes_or_1} classes)"
        if stratified
        else "every split needs at least 1 row"
    )
    given = (
        f"{n_rows} rows are too few for data.val_fraction={val_fraction} and "
        f"data.test_fraction={test_fraction}"
    )
    if n_rows < 3 * need:
        raise DataError(
            f"{given}: {why}, so at least {3 * need} rows in all. Use a larger data set."
        )
    sizes = _split_sizes(n_rows, val_fraction, test_fraction)
    for split, size in sizes.items():
        if size >= need:
            continue
        if split == "train":
            fix = (
                "lower data.val_fraction + data.test_fraction (training gets about the rest) "
                f"to about {math.floor((n_rows - need) / n_rows * 100) / 100:g} or less"
            )
        else:
            key = "data.val_fraction" if split == "validation" else "data.test_fraction"
            fix = f"raise {key} to at least {math.ceil(need / n_rows * 100) / 100:g}"
        raise DataError(
            f"{given}: the {split} split would get {size} row{'s' * (size != 1)}, "
            f"but {why}. To fix it, {fix}, or use more rows."
        )
