"""A whole data set in memory before it is split, and the error bad data raises.

Every loader (:mod:`lossbench.data.csv_loader`, :mod:`lossbench.data.datasets`,
:mod:`lossbench.data.openml`, :mod:`lossbench.data.packaged`) returns a :class:`LoadedTable`;
:mod:`lossbench.data.splits` splits it into train / validation / test.

    >>> import numpy as np
    >>> table = LoadedTable(np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1]),
    ...                     ["x0", "x1"], ["y"], [0, 1])
    >>> table.features.shape, table.has_missing
    ((4, 2), False)
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lossbench.errors import UserInputError

__all__ = ["DataError", "LoadedTable", "not_a_data_file", "special_file", "with_label_noise"]


class DataError(UserInputError):
    """Input data that lossbench cannot train on; the message says why and how to fix it."""


#: What :func:`special_file` calls each kind of file that is neither regular nor a directory.
_SPECIAL_KINDS = {
    stat.S_ISFIFO: "a named pipe",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def special_file(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it exists but is neither a regular file nor a directory (a data
    file given as ``/dev/null``, a named pipe, a socket), else None: such a path holds no
    data set to read, and reading a pipe would wait for a writer.

        >>> special_file("/dev/null")
        'a character device'
        >>> special_file(__file__) is None, special_file("no/such.csv") is None
        (True, True)
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, or unreadable: the callers' other checks say so
        return None
    return next((kind for test, kind in _SPECIAL_KINDS.items() if test(mode)), None)


def not_a_data_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a data file (it is a device, pipe or socket, a directory,
    or missing), worded to follow the path in a message; None for a regular file.

        >>> not_a_data_file("/dev/null"), not_a_data_file(__file__) is None
        ('is not a regular file but a character device', True)
    """
    special = special_file(path)
    if special:
        return f"is not a regular file but {special}"
    if Path(path).is_file():
        return None
    return "is a directory, not a file" if Path(path).is_dir() else "does not exist"


@dataclass(frozen=True)
class LoadedTable:
    """A whole data set in memory, before it is split.

    Attributes:
        features: float32 ``(N, F)``; a categorical column holds the index of its value in
            ``categories[name]``, and NaN marks a missing value (tables loaded for imputation).
        labels: int64 ``(N,)`` for binary (0/1) and multi-class (0 .. C-1), ``(N, L)`` multi-hot
            for multi-label.
        feature_names: the ``F`` feature column names, in column order.
        categories: the categorical feature columns: name -> the text of each code, sorted.
        label_names: the label column (binary), the label columns (multi-label) or the class
            names (multi-class, ``str`` of each entry of ``classes``).
        classes: multi-class: the original label values, sorted, with label ``i`` meaning
            ``classes[i]``; binary and multi-label: ``[0, 1]``.
        delimiter: the field delimiter of the CSV file it was read from (None: not a file).
        noisy_labels: the labels with label noise (``data.label_noise`` of the synthetic data
            sets, :func:`with_label_noise`), shaped as ``labels``, or None. The training and
            validation rows carry them; the test rows keep ``labels``, and the split is drawn
            on ``labels`` (:func:`lossbench.data.splits.split_and_standardize`).
        coarse_columns: the feature columns of a CSV file whose distinct numbers float32 cannot
            keep apart, with the warning to give when a run on the file starts
            (:func:`lossbench.data.csv_loader.float32_merges`).
    """

    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    label_names: list[str]
    classes: list
    categories: dict[str, list[str]] = field(default_factory=dict)
    delimiter: str | None = None
    noisy_labels: np.ndarray | None = None
    coarse_columns: dict[str, str] = field(default_factory=dict)

    @property
    def has_missing(self) -> bool:
        """Whether any feature value is missing (NaN)."""
        return bool(np.isnan(self.features).any())


def with_label_noise(
    labels: np.ndarray, noise: float, n_classes: int, seed: int | list[int]
) -> np.ndarray:
    """``labels`` (class indices ``0 .. n_classes-1``) with each one replaced, with probability
    ``noise``, by one of the *other* classes, drawn uniformly: a fraction ``noise`` of the labels
    changes, in expectation (binary: flipped). Whether a row changes and the class it gets are
    drawn for every row with ``numpy.random.default_rng(seed)``, so the same table and seed give
    the same noisy labels, whatever the split.

        >>> labels = np.arange(10000) % 4
        >>> noisy = with_label_noise(labels, 0.3, 4, seed=0)
        >>> changed = noisy != labels
        >>> float(changed.mean()), bool(np.all(with_label_noise(labels, 0.3, 4, 0) == noisy))
        (0.3008, True)
        >>> np.bincount(noisy[changed & (labels == 0)], minlength=4).tolist()  # never class 0
        [0, 264, 235, 255]
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    changed = rng.random(len(labels)) < noise
    shift = rng.integers(1, max(n_classes, 2), size=len(labels))  # 1 .. K-1: another class
    return np.where(changed, (labels + shift) % n_classes, labels).astype(labels.dtype)
