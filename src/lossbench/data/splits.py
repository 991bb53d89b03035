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
    "cover_every_class",
    "split_and_standardize",
    "split_indices",
    "split_sizes",
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
    """Split ``table`` into train / val / test, stratified for binary and multi-class tasks,
    with at least one row of every class in each split (:func:`split_indices`).

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
    """:func:`split_table`, also returning the training split's :class:`Preprocessor`.

    The one place where every path to a split (the data module, the report's yardstick,
    ``lossbench-eval``) puts a table's label noise (:attr:`LoadedTable.noisy_labels`): the
    split is drawn on the clean labels, the same rows as without noise; the training and
    validation rows carry the noisy labels, as the data a user trains and selects on; the
    test rows keep the clean ones, so that test metrics measure how well the model predicts
    the true labels.

        >>> from lossbench.data.table import with_label_noise
        >>> labels = np.arange(200) % 2
        >>> t = LoadedTable(np.arange(400, dtype=np.float32).reshape(200, 2), labels,
        ...                 ["x0", "x1"], ["y"], [0, 1],
        ...                 noisy_labels=with_label_noise(labels, 0.5, 2, seed=0))
        >>> clean = LoadedTable(t.features, labels, ["x0", "x1"], ["y"], [0, 1])
        >>> kw = dict(val_fraction=0.2, test_fraction=0.2, split_seed=0)
        >>> s, c = split_table(t, "binary", **kw), split_table(clean, "binary", **kw)
        >>> [int((s[k].labels != c[k].labels).sum()) for k in STAGES]  # of 120, 40, 40 rows
        [51, 19, 0]
        >>> all(np.array_equal(s[k].features, c[k].features) for k in STAGES)  # the same rows
        True
    """
    check_missing(table.features, table.feature_names, impute, what)
    n = len(table.labels)
    n_classes = len(table.classes) if task == "multiclass" else 2
    check_split_sizes(n, val_fraction, test_fraction, n_classes if task != "multilabel" else 1)
    train, val, test = split_indices(
        table.labels,
        task,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        split_seed=split_seed,
        classes=table.classes,
    )
    # The labels the model learns from and is selected on; test keeps the clean ones.
    noisy = table.labels if table.noisy_labels is None else table.noisy_labels
    check_split_classes(noisy[train], task, table.label_names)
    preprocessor = fit_preprocessor(
        table.features[train],
        table.feature_names,
        table.categories,
        impute=impute,
        what=what,
    )
    splits = {
        stage: Split(
            preprocessor.transform(table.features[rows], table.categories),
            (table.labels if stage == "test" else noisy)[rows],
        )
        for stage, rows in zip(STAGES, (np.sort(train), np.sort(val), np.sort(test)), strict=True)
    }
    return splits, preprocessor


def split_indices(
    labels: np.ndarray,
    task: Task,
    *,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
    classes: list | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The row indices of train, val and test, in the order the splitter draws them.

    Test is drawn first, then val from the rest, each with scikit-learn's ``train_test_split``
    (stratified on the labels for binary and multi-class tasks, random for multi-label),
    seeded with ``split_seed``. Stratification alone can leave a class of a few rows out of
    val or test (a class of 3 rows with ``test_fraction=0.2`` expects 0.6 test rows), where
    that split could not measure it; :func:`cover_every_class` then moves one of its rows
    into that split. Splits in which every class already has a row in every split are
    scikit-learn's, unchanged.

    Args:
        labels: ``(N,)`` class indices, or ``(N, L)`` multi-hot labels (multi-label).
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``.
        val_fraction, test_fraction: ``data.val_fraction``, ``data.test_fraction``, checked by
            :func:`check_split_sizes` before.
        split_seed: ``data.split_seed``.
        classes: the class of each index, to name a rare class in the refusal.

    Raises:
        DataError: a class with only 1 or 2 rows (binary and multi-class): it cannot have a row
            in each of the three splits.

    Example:
        >>> labels = np.array([0] * 40 + [1] * 3)
        >>> parts = split_indices(labels, "binary", val_fraction=0.2, test_fraction=0.2,
        ...                       split_seed=0)
        >>> [int(labels[part].sum()) for part in parts]  # each split has a positive row
        [1, 1, 1]
    """
    labels = np.asarray(labels)
    stratify = labels if task != "multilabel" else None
    if stratify is not None:
        _refuse_rare_classes(stratify, classes)
    index = np.arange(len(labels))
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
    if stratify is None:
        return train, val, test
    return cover_every_class((train, val, test), stratify, split_seed)


def _refuse_rare_classes(labels: np.ndarray, classes: list | None) -> None:
    counts = np.bincount(labels)
    rare = [(i, int(c)) for i, c in enumerate(counts) if 0 < c < 3]
    if not rare:
        return
    name = [classes[i] if classes is not None else i for i, _ in rare]
    others = (
        f" (and {len(rare) - 1} more: {', '.join(map(repr, name[1:]))})" if len(rare) > 1 else ""
    )
    raise DataError(
        f"class {name[0]!r} has only {rare[0][1]} row(s){others}; lossbench's split puts at "
        "least one row of every class into each of train, val and test, so that each split "
        "can measure it, and so each class needs 3 or more rows. Add rows, or merge or drop "
        "the rare class."
    )


def cover_every_class(
    parts: tuple[np.ndarray, ...], labels: np.ndarray, seed: int
) -> tuple[np.ndarray, ...]:
    """Give every class of 3 or more rows a row in each part, swapping rows between parts.

    For each part that lacks such a class, one of the class's rows moves into it from the part
    that holds the most of them (at least 2, so that part keeps one), and in exchange a row of
    the part's most frequent class (at least 2 there) moves out, into that other part: the
    sizes of the parts stay what they were, and no part loses the last row of a class. Which
    rows move is drawn with ``seed``. Parts that already hold every such class are returned
    as they are (the same arrays).

    The exchanged row always exists when each part has at least as many rows as there are
    classes (:func:`check_split_sizes` refuses smaller splits).

    Args:
        parts: row indices of each part (train, val, test), into ``labels``.
        labels: ``(N,)`` class indices.
        seed: ``data.split_seed``.

    Example:
        >>> labels = np.array([0, 0, 0, 0, 0, 1, 1, 1])
        >>> parts = (np.array([0, 5, 6, 7]), np.array([1, 2]), np.array([3, 4]))
        >>> [labels[p].tolist() for p in cover_every_class(parts, labels, seed=0)]
        [[0, 1, 0, 0], [0, 1], [1, 0]]
    """
    counts = np.bincount(labels)
    lacking = [
        (k, int(c))
        for k, part in enumerate(parts)
        for c in np.flatnonzero(counts >= 3)
        if not np.any(labels[part] == c)
    ]
    if not lacking:
        return parts
    rng = np.random.default_rng(seed)
    parts = tuple(part.copy() for part in parts)
    for k, c in lacking:
        held = np.stack([np.bincount(labels[part], minlength=len(counts)) for part in parts])
        if held[k, c]:  # an earlier exchange brought it
            continue
        donor = int(np.argmax(held[:, c]))  # >= 2 rows of c: the class has >= 3, part k none
        frequent = int(np.argmax(held[k]))  # >= 2 rows: part k has >= len(counts) rows
        given = rng.choice(np.flatnonzero(labels[parts[donor]] == c))
        taken = rng.choice(np.flatnonzero(labels[parts[k]] == frequent))
        parts[donor][given], parts[k][taken] = parts[k][taken], parts[donor][given]
    return parts


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


def split_sizes(n_rows: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    """Split sizes as two scikit-learn ``train_test_split`` calls make them: test first.

    >>> split_sizes(150, 0.2, 0.2)
    {'train': 90, 'validation': 30, 'test': 30}
    """
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
    sizes = split_sizes(n_rows, val_fraction, test_fraction)
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
