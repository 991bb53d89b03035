"""Train / validation / test splits and their preprocessing, fitted on the training split only.

>>> import numpy as np
>>> from lossbench.data.csv_loader import LoadedTable
>>> t = LoadedTable(np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20) % 2,
...                 ["x0", "x1"], ["y"], [0, 1])
>>> s = split_table(t, "binary", val_fraction=0.2, test_fraction=0.2, split_seed=0)
>>> [len(s[k].labels) for k in ("train", "val", "test")]
[12, 4, 4]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from lossbench.data.csv_loader import (
    DataError,
    LoadedTable,
    check_split_classes,
    check_split_sizes,
)
from lossbench.data.preprocess import (
    Preprocessor,
    Standardizer,
    check_missing,
    fit_preprocessor,
)
from lossbench.tasks import Task

__all__ = [
    "STAGES",
    "Preprocessor",
    "Split",
    "Standardizer",
    "split_and_standardize",
    "split_table",
]

STAGES = ("train", "val", "test")


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
