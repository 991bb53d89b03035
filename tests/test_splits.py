"""The split checks refuse splits that cannot train, naming the split and the fix; the
stratified split gives every class a row in each split and is otherwise scikit-learn's."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.model_selection import train_test_split

from lossbench.config import SCHEMAS
from lossbench.data.datasets import DATASETS, load_table
from lossbench.data.splits import (
    check_split_classes,
    check_split_sizes,
    split_indices,
    split_table,
)
from lossbench.data.table import DataError, LoadedTable


@pytest.mark.parametrize(
    ("labels", "task", "names"),
    [
        pytest.param(np.array([0, 1, 1]), "binary", ["y"], id="binary"),
        pytest.param(np.array([2, 0, 1]), "multiclass", ["a", "b", "c"], id="multiclass"),
        pytest.param(np.array([[0, 1], [1, 1], [1, 0]]), "multilabel", ["u", "v"], id="multilabel"),
    ],
)
def test_check_split_classes_accepts_learnable_splits(
    labels: np.ndarray, task: str, names: list[str]
) -> None:
    check_split_classes(labels, task, names)


SPLIT_CLASS_ERRORS = {
    "binary-one-class": (
        np.array([1, 1, 1]),
        "binary",
        ["y"],
        r"training split \(3 rows\) holds only class 1 of label column 'y'",
    ),
    "multiclass-one-class": (
        np.array([2, 2]),
        "multiclass",
        ["cat", "dog", "eel"],
        r"training split \(2 rows\) holds only class 'eel'",
    ),
    "empty-split": (np.array([], dtype=np.int64), "binary", ["y"], r"holds no rows at all"),
    "multilabel-no-positive": (
        np.array([[0, 0], [1, 0]]),
        "multilabel",
        ["u", "v"],
        r"no positive \(1\) row for label 'v'",
    ),
    "multilabel-no-negative": (
        np.array([[1, 0], [1, 1]]),
        "multilabel",
        ["u", "v"],
        r"no negative \(0\) row for label 'u'",
    ),
    "unknown-task": (np.array([0, 1]), "ordinal", ["y"], r"Unknown task 'ordinal'"),
}


@pytest.mark.parametrize(
    ("labels", "task", "names", "message"),
    list(SPLIT_CLASS_ERRORS.values()),
    ids=list(SPLIT_CLASS_ERRORS),
)
def test_check_split_classes_refuses_unlearnable_splits(
    labels: np.ndarray, task: str, names: list[str], message: str
) -> None:
    with pytest.raises(DataError, match=message) as info:
        check_split_classes(labels, task, names)
    if task in ("binary", "multiclass", "multilabel") and len(labels):
        assert "data.split_seed" in str(info.value) and "data.val_fraction" in str(info.value)


@pytest.mark.parametrize(
    ("n_rows", "val", "test", "n_classes"),
    [
        pytest.param(100, 0.2, 0.2, 3, id="defaults"),
        pytest.param(6, 0.3, 0.3, 2, id="smallest-binary"),
        pytest.param(3, 0.3, 0.3, 1, id="smallest-multilabel"),
    ],
)
def test_check_split_sizes_accepts_feasible_splits(
    n_rows: int, val: float, test: float, n_classes: int
) -> None:
    check_split_sizes(n_rows, val, test, n_classes)


SPLIT_SIZE_ERRORS = {
    "val-fraction-zero": (
        100,
        0.0,
        0.2,
        2,
        r"data\.val_fraction=0\.0 must be a number strictly "
        r"between 0 and 1",
    ),
    "test-fraction-one": (100, 0.2, 1.0, 2, r"data\.test_fraction=1\.0 must be a number strictly"),
    "fraction-negative": (100, -0.1, 0.2, 2, r"data\.val_fraction=-0\.1 must be"),
    "fraction-not-a-number": (100, "0.2", 0.2, 2, r"data\.val_fraction='0\.2' must be a number"),
    "fractions-sum-to-one": (
        100,
        0.5,
        0.5,
        2,
        r"data\.val_fraction=0\.5 \+ "
        r"data\.test_fraction=0\.5 = 1 leaves no rows",
    ),
    "too-few-rows-overall": (
        5,
        0.2,
        0.2,
        2,
        r"5 rows are too few for data\.val_fraction=0\.2 "
        r"and data\.test_fraction=0\.2.*at least 6 rows",
    ),
    "val-too-small-stratified": (
        40,
        0.02,
        0.3,
        3,
        r"40 rows .*the validation split would get 1 row, but a "
        r"stratified split needs at least 3 rows per split.*"
        r"raise data\.val_fraction to at least 0\.08",
    ),
    "test-too-small-stratified": (
        40,
        0.3,
        0.05,
        4,
        r"the test split would get 2 rows.*raise data\.test_fraction "
        r"to at least 0\.1\b",
    ),
    "train-too-small": (
        10,
        0.45,
        0.45,
        2,
        r"the train split would get 0 rows.*lower data\.val_fraction \+ "
        r"data\.test_fraction",
    ),
    "train-empty-unstratified": (
        3,
        0.5,
        0.4,
        1,
        r"the train split would get 0 rows, but every split needs at "
        r"least 1 row",
    ),
}


@pytest.mark.parametrize(
    ("n_rows", "val", "test", "n_classes", "message"),
    list(SPLIT_SIZE_ERRORS.values()),
    ids=list(SPLIT_SIZE_ERRORS),
)
def test_check_split_sizes_refuses_infeasible_splits(
    n_rows: int, val: float, test: float, n_classes: int, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        check_split_sizes(n_rows, val, test, n_classes)


def test_check_split_sizes_suggestions_are_feasible() -> None:
    """Applying the suggested fraction makes the complaint about that split go away."""
    for n_rows in range(12, 80, 7):
        for val in (0.02, 0.05, 0.1):
            for n_classes in (1, 2, 3, 5):
                try:
                    check_split_sizes(n_rows, val, 0.25, n_classes)
                except DataError as err:
                    found = re.search(r"raise data\.val_fraction to at least ([\d.]+)", str(err))
                    if found:
                        try:
                            check_split_sizes(n_rows, float(found.group(1)), 0.25, n_classes)
                        except DataError as still:
                            assert "validation split" not in str(still)


def test_check_split_sizes_agrees_with_the_splitter() -> None:
    """Accepted sizes split without error as splits.py splits (test first, then val)."""
    from sklearn.model_selection import train_test_split

    for n_rows in range(3, 40, 4):
        for val, test in ((0.1, 0.1), (0.2, 0.2), (0.05, 0.3), (0.4, 0.4)):
            for n_classes in (1, 2, 3):
                labels = np.arange(n_rows) % n_classes
                stratify = labels if n_classes > 1 else None
                try:
                    check_split_sizes(n_rows, val, test, n_classes)
                    accepted = True
                except DataError:
                    accepted = False
                try:
                    rest, _ = train_test_split(
                        labels, test_size=test, random_state=0, stratify=stratify
                    )
                    train, _ = train_test_split(
                        rest,
                        test_size=val / (1 - test),
                        random_state=0,
                        stratify=None if stratify is None else rest,
                    )
                    works = len(train) > 0
                except ValueError:
                    works = False
                assert accepted == works, (n_rows, val, test, n_classes)


# ------------------------------------------------------------------- every class in every split


def _sklearn_split(
    labels: np.ndarray, val: float, test: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plain stratified split: two ``train_test_split`` calls, test drawn first."""
    index = np.arange(len(labels))
    rest, test_rows = train_test_split(index, test_size=test, random_state=seed, stratify=labels)
    train, val_rows = train_test_split(
        rest, test_size=val / (1 - test), random_state=seed, stratify=labels[rest]
    )
    return train, val_rows, test_rows


SMALL_CLASSES = {
    # five classes of 3 rows beside two large ones: stratifying alone leaves two out of test
    "seven-classes": ([40, 40, 3, 3, 3, 3, 3], 0.2, 0.2),
    "binary-3-positives-of-1000": ([997, 3], 0.2, 0.1),
    "many-small-classes": ([60, 3, 4, 5, 3, 6, 3, 4, 3], 0.15, 0.15),
    "small-splits": ([30, 3, 3, 3], 0.1, 0.1),
}


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize(
    ("counts", "val", "test"), list(SMALL_CLASSES.values()), ids=list(SMALL_CLASSES)
)
def test_every_class_of_three_rows_has_a_row_in_each_split(
    counts: list[int], val: float, test: float, seed: int
) -> None:
    labels = np.repeat(np.arange(len(counts)), counts)
    names = [f"c{k}" for k in range(len(counts))]
    task = "binary" if len(counts) == 2 else "multiclass"
    table = LoadedTable(
        np.arange(len(labels), dtype=np.float32)[:, None],
        labels,
        ["x"],
        ["y"] if task == "binary" else names,
        [0, 1] if task == "binary" else names,
    )
    splits = split_table(table, task, val_fraction=val, test_fraction=test, split_seed=seed)
    for stage, split in splits.items():
        held = np.bincount(split.labels, minlength=len(counts))
        assert (held > 0).all(), (stage, held.tolist())
    # the sizes are the plain split's, every row is in exactly one split, and the rows keep
    # their labels
    plain = _sklearn_split(labels, val, test, seed)
    assert [len(s.labels) for s in splits.values()] == [len(p) for p in plain]
    rows = np.sort(np.concatenate([s.features[:, 0] for s in splits.values()]))
    assert len(np.unique(rows)) == len(labels)
    parts = split_indices(labels, task, val_fraction=val, test_fraction=test, split_seed=seed)
    for part, split in zip(parts, splits.values(), strict=True):
        np.testing.assert_array_equal(labels[np.sort(part)], split.labels)
    again = split_indices(labels, task, val_fraction=val, test_fraction=test, split_seed=seed)
    for part, same in zip(parts, again, strict=True):  # deterministic in split_seed
        np.testing.assert_array_equal(part, same)


def test_small_classes_move_only_where_a_split_lacks_them() -> None:
    """The split differs from scikit-learn's by one exchanged pair of rows per missing class."""
    labels = np.repeat(np.arange(7), [40, 40, 3, 3, 3, 3, 3])
    plain = _sklearn_split(labels, 0.2, 0.2, 0)
    parts = split_indices(labels, "multiclass", val_fraction=0.2, test_fraction=0.2, split_seed=0)
    missing = sum(
        int(not np.any(labels[part] == c)) for part in plain for c in range(7)
    )  # class, split pairs the plain split leaves empty
    assert missing > 0
    moved = sum(len(set(a.tolist()) - set(b.tolist())) for a, b in zip(plain, parts, strict=True))
    assert moved == 2 * missing


def _stratified_data_sets() -> list[str]:
    return [
        name
        for name, spec in DATASETS.items()
        if spec.task in ("binary", "multiclass")
        and (spec.package is None or importlib.util.find_spec(spec.package) is not None)
    ]


@pytest.mark.parametrize("name", _stratified_data_sets())
def test_shipped_data_sets_split_as_scikit_learn_splits_them(name: str) -> None:
    """Every class of the shipped data sets already lands in every split: their splits are
    scikit-learn's plain stratified ones, row for row and in the same order."""
    data = {**OmegaConf.to_container(OmegaConf.structured(SCHEMAS["data"][name])), "name": name}
    labels = load_table(data).labels
    for seed, val, test in ((0, 0.2, 0.2), (3, 0.1, 0.3)):
        parts = split_indices(
            labels, DATASETS[name].task, val_fraction=val, test_fraction=test, split_seed=seed
        )
        for part, plain in zip(parts, _sklearn_split(labels, val, test, seed), strict=True):
            np.testing.assert_array_equal(part, plain)


def test_classes_under_three_rows_are_refused_all_named() -> None:
    labels = np.repeat(np.arange(4), [30, 2, 30, 1])
    with pytest.raises(DataError, match=r"class 'b' has only 2 row\(s\) \(and 1 more: 'd'\)"):
        split_indices(
            labels,
            "multiclass",
            val_fraction=0.2,
            test_fraction=0.2,
            split_seed=0,
            classes=["a", "b", "c", "d"],
        )
