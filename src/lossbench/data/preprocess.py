"""Tabular preprocessing: impute, standardise numbers, one-hot encode categories.

Fitted with scikit-learn's ``ColumnTransformer`` on the training rows only, then kept as plain
numbers and lists (:class:`Preprocessor`), which a checkpoint stores and
``torch.load(weights_only=True)`` reads back; training and prediction both transform through
:meth:`Preprocessor.transform`, so a checkpoint reproduces the training features bit for bit.

    >>> import numpy as np
    >>> features = np.array([[1.0, 0], [3.0, 1], [np.nan, 1]], dtype=np.float32)
    >>> p = fit_preprocessor(features, ["size", "colour"], {"colour": ["blue", "red"]},
    ...                      impute="median")
    >>> p.output_names, p.fill
    (['size', 'colour=blue', 'colour=red'], {'size': 2.0, 'colour': 'red'})
    >>> np.round(p.transform(features, {"colour": ["blue", "red"]}).astype(float), 3).tolist()
    [[-1.225, 1.0, 0.0], [1.225, 0.0, 1.0], [0.0, 0.0, 1.0]]

Output columns: the numeric columns in input order, standardised (``StandardScaler``: a constant
column has scale 1), then one 0/1 column per category of each categorical column, for the
categories seen in training (``OneHotEncoder(handle_unknown="ignore")``: a category that
training never saw encodes as all zeros). Missing values are refused unless ``impute`` is
``"median"`` (numbers: the training median; categories: the most frequent training value) or
``"most_frequent"`` (both the most frequent).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossbench.data.table import DataError

#: Values of ``data.impute``: None refuses missing values.
IMPUTE_OPTIONS = ("median", "most_frequent")


def check_impute(impute: str | None) -> str | None:
    """Return ``impute`` if valid, else raise :class:`DataError` listing the options."""
    if impute is None or impute in IMPUTE_OPTIONS:
        return impute
    raise DataError(
        f"data.impute={impute!r} is not an imputation. Valid values: "
        f"{', '.join(IMPUTE_OPTIONS)} (numbers: median; categories: most frequent), or null to "
        "refuse missing values."
    )


@dataclass(frozen=True)
class Standardizer:
    """Per-feature ``mean`` and ``scale`` of the training split (``StandardScaler``'s ``mean_``
    and ``scale_``, float64 ``(F,)``; a constant feature has scale 1). Training and prediction
    both standardise through :meth:`transform`, so a checkpoint that stores these numbers
    reproduces the training features bit for bit.

        >>> s = Standardizer(np.array([1.0, 0.0]), np.array([2.0, 1.0]))
        >>> s.transform(np.array([[3.0, 5.0]])).tolist()
        [[1.0, 5.0]]
    """

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        """float32 ``(features - mean) / scale``, computed in float32 as scikit-learn does."""
        x = np.asarray(features, dtype=np.float32)
        return ((x - self.mean.astype(np.float32)) / self.scale.astype(np.float32)).astype(
            np.float32
        )


@dataclass(frozen=True)
class Preprocessor:
    """The fitted preprocessing, as plain data.

    Attributes:
        feature_names: the input columns, in order.
        categories: categorical input column -> the categories seen in training (one output
            column each, in this order).
        fill: input column -> the value a missing entry takes (empty: nothing is imputed).
        standardizer: mean and scale of the numeric columns, in input order.
        constant: input column -> the one value it holds in every training row (its text), for
            the columns that carry no information (:func:`constant_columns`); known where
            fitted, not stored in checkpoints.
    """

    feature_names: list[str]
    categories: dict[str, list[str]]
    standardizer: Standardizer
    fill: dict[str, Any] = field(default_factory=dict)
    constant: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def numeric(self) -> list[str]:
        return [name for name in self.feature_names if name not in self.categories]

    @property
    def output_names(self) -> list[str]:
        """Model input columns: the numeric ones, then ``<column>=<category>``."""
        return self.numeric + [
            f"{name}={value}" for name, values in self.categories.items() for value in values
        ]

    def transform(
        self, features: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> np.ndarray:
        """float32 model input of raw ``features`` (columns as :attr:`feature_names`;
        categorical ones as codes into ``categories[name]``, NaN where missing)."""
        x = np.asarray(features, dtype=np.float32)
        categories = categories or {}
        index = {name: j for j, name in enumerate(self.feature_names)}
        numeric = x[:, [index[name] for name in self.numeric]].copy()
        for k, name in enumerate(self.numeric):
            missing = np.isnan(numeric[:, k])
            if missing.any():
                numeric[missing, k] = self._fill(name, int(missing.sum()), len(x))
        blocks = [self.standardizer.transform(numeric)]
        for name, seen in self.categories.items():
            given = list(categories.get(name, []))
            codes = x[:, index[name]]
            missing = np.isnan(codes)
            # The position in `seen` of each of the input's categories (-1: never seen).
            lookup = {value: i for i, value in enumerate(seen)}
            position = np.array([lookup.get(str(v), -1) for v in given] + [-1], dtype=np.int64)
            at = position[np.where(missing, len(given), codes).astype(np.int64)]
            if missing.any():
                at[missing] = lookup.get(str(self._fill(name, int(missing.sum()), len(x))), -1)
            block = np.zeros((len(x), len(seen)), dtype=np.float32)
            rows = np.flatnonzero(at >= 0)
            block[rows, at[rows]] = 1.0
            blocks.append(block)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def _fill(self, name: str, n_missing: int, n: int) -> Any:
        if name not in self.fill:
            raise DataError(
                f"feature column {name!r} has {n_missing} missing value(s) in {n} rows, and "
                "the preprocessing does not impute (trained without data.impute). Fill in or "
                "drop those rows, or retrain with data.impute=median or data.impute=most_frequent "
                "and predict with the new run's checkpoint."
            )
        return self.fill[name]

    # --- plain data for checkpoints (weights_only=True loads) ------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "feature_mean": self.standardizer.mean.tolist(),
            "feature_scale": self.standardizer.scale.tolist(),
            "categories": {name: list(values) for name, values in self.categories.items()},
            "fill": dict(self.fill),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessor:
        """Rebuild from :meth:`to_dict` (checkpoints without ``categories`` are all numeric)."""
        return cls(
            list(data["feature_names"]),
            {str(k): [str(v) for v in vs] for k, vs in (data.get("categories") or {}).items()},
            Standardizer(
                np.asarray(data["feature_mean"], dtype=np.float64),
                np.asarray(data["feature_scale"], dtype=np.float64),
            ),
            dict(data.get("fill") or {}),
        )


class ConstantColumnWarning(UserWarning):
    """A feature column holds one value in every training row: it carries no information."""


def constant_columns(
    features: np.ndarray, feature_names: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """The columns of ``features`` (training rows; categorical ones as codes, NaN missing) that
    hold one value in every row, or none, with that value's text (``'missing'`` for none).

        >>> x = np.array([[1.0, 5.0, 0], [2.0, 5.0, 0]], dtype=np.float32)
        >>> constant_columns(x, ["a", "b", "colour"], {"colour": ["red"]})
        {'b': '5', 'colour': "'red'"}
    """
    found: dict[str, str] = {}
    for j, name in enumerate(feature_names):
        column = features[:, j]
        present = column[~np.isnan(column)]
        if present.size and present.min() != present.max():
            continue
        if not present.size:
            found[name] = "missing"
        elif name in categories:
            found[name] = repr(str(categories[name][int(present[0])]))
        else:
            found[name] = f"{float(present[0]):g}"
    return found


def warn_constant_columns(
    preprocessor: Preprocessor, n_rows: int, what: str, only: Collection[str] | None = None
) -> None:
    """Warn (:class:`ConstantColumnWarning`) once for the :attr:`Preprocessor.constant`
    columns of ``what`` (e.g. ``data=csv``), fitted on ``n_rows`` training rows; ``only``:
    those of them to name (a sweep names each column once, :mod:`lossbench.sweep_warnings`).

        >>> p = Preprocessor(["a", "b"], {}, Standardizer(np.zeros(2), np.ones(2)),
        ...                  constant={"b": "5"})
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_constant_columns(p, 24, "data=csv")
        >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
        data=csv: feature column 'b' holds one value in all 24 training rows (5): it carries no
        information, and with a standard deviation of 0 it is not scaled but only centred (0 in
        every training row). Leave it out with data.feature_columns=[a], or check the file.
    """
    constant = {
        name: value for name, value in preprocessor.constant.items() if only is None or name in only
    }
    if not constant:
        return
    one = len(constant) == 1
    listed = ", ".join(f"{name!r} ({value})" for name, value in constant.items())
    if one:
        ((name, value),) = constant.items()
        found = f"feature column {name!r} holds one value in all {n_rows} training rows ({value})"
    else:
        found = f"feature columns {listed} hold one value each in all {n_rows} training rows"
    others = [name for name in preprocessor.feature_names if name not in preprocessor.constant]
    plain = all(n.isidentifier() and n.lower() not in ("true", "false", "null") for n in others)
    if not others:
        fix = "Check the file: no feature column varies"
    elif len(others) > 20:
        fix = (
            "Leave them out with data.feature_columns=[...] (the other columns), or check the file"
        )
    else:
        names = ",".join(others) if plain else ",".join(f'"{n}"' for n in others)
        override = (
            f"data.feature_columns=[{names}]" if plain else f"'data.feature_columns=[{names}]'"
        )
        fix = f"Leave {'it' if one else 'them'} out with {override}, or check the file"
    warnings.warn(
        f"{what}: {found}: {'it carries' if one else 'they carry'} no information, and with a "
        f"standard deviation of 0 {'it is' if one else 'they are'} not scaled but only centred "
        f"(0 in every training row). {fix}.",
        ConstantColumnWarning,
        stacklevel=2,
    )


def check_missing(
    features: np.ndarray, feature_names: list[str], impute: str | None, what: str
) -> None:
    """Refuse missing (NaN) feature values unless ``impute`` is set, naming the columns."""
    if check_impute(impute) is not None or not np.isnan(features).any():
        return
    counts = np.isnan(features).sum(axis=0)
    listed = ", ".join(
        f"{name!r} ({int(c)})" for name, c in zip(feature_names, counts, strict=True) if c
    )
    raise DataError(
        f"{what} has missing values in feature column(s) {listed} (rows missing per column). "
        "lossbench does not impute unless asked: set data.impute=median (numbers: training "
        "median, categories: most frequent) or data.impute=most_frequent, or drop those rows."
    )


def fit_preprocessor(
    features: np.ndarray,
    feature_names: list[str],
    categories: Mapping[str, Sequence[str]],
    *,
    impute: str | None = None,
    what: str = "the data set",
) -> Preprocessor:
    """Fit the preprocessing on ``features`` (the training rows only).

    Args:
        features: float32 ``(N, F)`` training rows; categorical columns as codes, NaN missing.
        feature_names: the ``F`` column names.
        categories: categorical column -> the text of each code.
        impute: None (refuse missing values), ``"median"`` or ``"most_frequent"``.
        what: names the data in the refusal of missing values (e.g. ``"data=penguins"``).
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x = np.asarray(features, dtype=np.float32)
    feature_names = [str(name) for name in feature_names]  # not numpy.str_: checkpoints
    categories = {str(name): [str(v) for v in values] for name, values in categories.items()}
    check_missing(x, feature_names, impute, what)
    constant = constant_columns(x, feature_names, categories)
    numeric = [j for j, name in enumerate(feature_names) if name not in categories]
    categorical = [j for j, name in enumerate(feature_names) if name in categories]
    if not categorical and impute is None:
        # All numbers, nothing to impute: the ColumnTransformer would run this StandardScaler
        # alone, at ten times the cost (tens of ms per run in a study of small runs).
        scaler = StandardScaler().fit(x)
        standardizer = Standardizer(
            np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64)
        )
        return Preprocessor(feature_names, {}, standardizer, constant=constant)
    # A data frame: numbers as float32 (as the scaler saw them before categories existed),
    # categories as their text (NaN where missing).
    columns: dict[int, Any] = {j: x[:, j] for j in numeric}
    for j in categorical:
        texts = np.asarray(categories[feature_names[j]], dtype=object)
        present = ~np.isnan(x[:, j])
        column = np.full(len(x), np.nan, dtype=object)
        column[present] = texts[x[present, j].astype(np.int64)]
        columns[j] = column
    frame = pd.DataFrame(columns)[list(range(x.shape[1]))]
    imputer = [SimpleImputer(strategy=impute, keep_empty_features=True)] if impute else []
    transformers = [("numeric", make_pipeline(*imputer, StandardScaler()), numeric)]
    if categorical:
        cat_imputer = (
            [SimpleImputer(strategy="most_frequent", keep_empty_features=True)] if impute else []
        )
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("categorical", make_pipeline(*cat_imputer, encoder), categorical))
    fitted = ColumnTransformer(transformers).fit(frame)
    steps = fitted.named_transformers_
    scaler = steps["numeric"][-1]
    fill: dict[str, Any] = {}
    if impute and numeric:
        for j, value in zip(numeric, steps["numeric"][0].statistics_, strict=True):
            fill[feature_names[j]] = float(value)
    seen: dict[str, list[str]] = {}
    if categorical:
        encoder = steps["categorical"][-1]
        for j, values in zip(categorical, encoder.categories_, strict=True):
            seen[feature_names[j]] = [str(v) for v in values]
        if impute:
            for j, value in zip(categorical, steps["categorical"][0].statistics_, strict=True):
                fill[feature_names[j]] = str(value)
    mean = np.asarray(getattr(scaler, "mean_", np.zeros(0)), dtype=np.float64)
    scale = np.asarray(getattr(scaler, "scale_", np.ones(0)), dtype=np.float64)
    return Preprocessor(
        list(feature_names),
        {name: seen[name] for name in feature_names if name in seen},
        Standardizer(mean, scale),
        {name: fill[name] for name in feature_names if name in fill},
        constant,
    )
