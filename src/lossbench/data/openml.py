"""OpenML data sets: ``data=openml data.openml_id=31`` or ``data.openml_name=credit-g``.

    lossbench-train data=openml data.openml_id=31 head=logits loss=bce_with_logits
    lossbench-train data=openml data.openml_name=credit-g data.cache_dir=/data/openml

Downloads go through :func:`sklearn.datasets.fetch_openml`, which keeps every response under
``<data.cache_dir>/openml/openml.org/...``; a data set read once trains offline afterwards (a
cache that cannot be written serves the data sets it holds; one it lacks is refused). Text
(nominal) columns become categorical features, missing cells NaN (``data.impute`` decides). The
task is inferred from the target unless ``data.task`` gives it:

- one target column with two values: ``binary``; the positive class is ``data.positive_class``;
  else, when the two values are a positive / negative pair (:func:`positive_value`: ``1`` and
  ``0``, ``true`` and ``false``, ``yes`` and ``no``, ...), its positive one; else the less
  frequent value (ties: the later one in sorted order);
- one target column with more values (text, or integers): ``multiclass``;
- several target columns (``data.target=[a,b,c]``) of two values each: ``multilabel``, each
  column's positive value chosen as for binary (without ``data.positive_class``).

A numeric target with fractional values is regression and is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from lossbench.data.table import DataError, LoadedTable
from lossbench.output_files import cannot_write_below
from lossbench.tasks import TABLE_TASKS

#: Values that mark the positive and the negative side of a two-valued target column (compared
#: ignoring case and surrounding spaces); a value of each makes a pair.
POSITIVE = ("1", "1.0", "true", "yes", "y", "t", "positive", "pos")
NEGATIVE = ("0", "0.0", "-1", "-1.0", "false", "no", "n", "f", "negative", "neg")


def _describe(cfg: Mapping[str, Any]) -> str:
    if cfg.get("openml_id") is not None:
        return f"data.openml_id={cfg['openml_id']}"
    return f"data.openml_name={cfg.get('openml_name')!r}"


def check_openml_config(cfg: Mapping[str, Any]) -> None:
    """Refuse an OpenML config that names no data set or two, or an unknown task."""
    has_id, has_name = cfg.get("openml_id") is not None, cfg.get("openml_name") is not None
    if has_id == has_name:
        given = "both are" if has_id else "neither is"
        raise DataError(
            f"data=openml needs exactly one of data.openml_id and data.openml_name, but "
            f"{given} set. Give e.g. data.openml_id=31 or data.openml_name=credit-g "
            "(see https://www.openml.org/search?type=data)."
        )
    if has_id and cfg.get("openml_version") is not None:
        raise DataError(
            f"data.openml_version={cfg['openml_version']} applies to data.openml_name only: an "
            "id names one version already. Drop data.openml_version, or use data.openml_name."
        )
    cache = cache_dir(cfg)
    for path in (cache, *cache.parents):
        if path.exists():
            if not path.is_dir():
                where = "is a file" if path == cache else f"lies below the file {str(path)!r}"
                raise DataError(
                    f"data.cache_dir={str(cfg.get('cache_dir'))!r} {where}, but OpenML's "
                    "downloads are cached in a directory there. Give a directory (created "
                    "where missing), e.g. data.cache_dir=outputs/data (the default)."
                )
            break
    task = cfg.get("task")
    if task is not None and task not in TABLE_TASKS:
        raise DataError(
            f"data.task={task!r} is not a task. Valid tasks: {', '.join(TABLE_TASKS)}, or null to "
            "infer it from the target."
        )


def cache_dir(cfg: Mapping[str, Any]) -> Path:
    """``data.cache_dir`` (default ``outputs/data``, relative to where the command runs)."""
    return Path(str(cfg.get("cache_dir") or "outputs/data")).expanduser()


@contextmanager
def _no_empty_directories_left(cache: Path) -> Iterator[None]:
    """On an error inside, remove the directories it created under (and including) ``cache``
    that are still empty: ``fetch_openml`` makes the cache's directories before it downloads,
    and a refused command writes nothing. Directories that existed before stay."""
    existed = {str(d) for d, _, _ in os.walk(cache)} if cache.is_dir() else set()
    new_parents = [p for p in (cache, *cache.parents) if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        if cache.is_dir():
            for directory, _, _ in os.walk(cache, topdown=False):
                if directory not in existed:
                    _remove_if_empty(Path(directory))
        for path in new_parents:
            _remove_if_empty(path)
        raise


def _remove_if_empty(directory: Path) -> None:
    with suppress(OSError):  # not empty (a file was cached), or already gone
        directory.rmdir()


def fetch(cfg: Mapping[str, Any]):
    """The OpenML data set of ``cfg`` as a data frame and its target column names."""
    from urllib.error import URLError

    from sklearn.datasets import fetch_openml

    check_openml_config(cfg)
    cache = cache_dir(cfg)
    target = cfg.get("target")
    kwargs: dict[str, Any] = {
        "data_home": str(cache),
        "as_frame": True,
        "parser": "auto",
        "n_retries": 1,
        "delay": 0.5,
        "target_column": "default-target" if target is None else list(target),
    }
    if cfg.get("openml_id") is not None:
        kwargs["data_id"] = int(cfg["openml_id"])
    else:
        kwargs["name"] = str(cfg["openml_name"])
        kwargs["version"] = (
            "active" if cfg.get("openml_version") is None else int(cfg["openml_version"])
        )
    try:
        with _no_empty_directories_left(cache):
            bunch = fetch_openml(**kwargs)
    except (URLError, TimeoutError, ConnectionError) as error:
        raise DataError(
            f"data=openml {_describe(cfg)}: cannot download it from openml.org ({error}), and "
            f"nothing is cached for it under data.cache_dir={str(cache)!r} "
            f"({cache.resolve()}). Connect to the internet once (the download is cached there "
            "and later runs work offline), or point data.cache_dir at a directory that holds "
            "the cache."
        ) from None
    except ValueError as error:  # unknown name or id, unknown target column (sklearn's words)
        raise DataError(f"data=openml {_describe(cfg)}: {error}") from None
    except OSError:  # the cache cannot be written (the data set is not in it yet)
        unwritable = cannot_write_below(cache)
        if unwritable is None:
            raise
        raise DataError(
            f"data.cache_dir={str(cfg.get('cache_dir'))!r}: data=openml {_describe(cfg)} is not "
            f"cached there yet, and its download cannot be: {unwritable}. Give a folder you can "
            "write (created where missing) with paths.data_dir (data.cache_dir follows it), e.g. "
            "paths.data_dir=outputs/data, or point data.cache_dir at a folder that already holds "
            "the data set's cache."
        ) from None
    frame = bunch.frame
    targets = list(bunch.target_names) if bunch.target_names else []
    if not targets:
        raise DataError(
            f"data=openml {_describe(cfg)}: the data set has no default target column. Name "
            f"it with data.target=[<column>]; columns: {', '.join(map(str, frame.columns))}."
        )
    return frame, targets


def positive_value(values: list[str], counts: list[int]) -> str:
    """The positive one of a target's two ``values`` (sorted, with their ``counts``): the
    positive side of a pair of :data:`POSITIVE` and :data:`NEGATIVE` values (``1`` / ``0``,
    ``yes`` / ``no``, ``TRUE`` / ``FALSE``), however frequent; else the less frequent value,
    on a tie the later one in sorted order. A lone ``1`` is no marker: classes coded ``1`` and
    ``2`` (common on OpenML) name two classes, not a positive and a negative one.

        >>> positive_value(["no", "yes"], [10, 90]), positive_value(["1", "2"], [570, 178])
        ('yes', '2')
        >>> positive_value(["bad", "good"], [300, 700]), positive_value(["a", "b"], [5, 5])
        ('bad', 'b')
    """
    if len(values) == 2:
        first, second = (v.strip().lower() for v in values)
        if first in POSITIVE and second in NEGATIVE:
            return values[0]
        if second in POSITIVE and first in NEGATIVE:
            return values[1]
    return values[min(range(len(values)), key=lambda i: (counts[i], -i))]


def _positive(values: list[str], counts: list[int], given: str | None, column: str) -> str:
    if given is not None:
        if given not in values:
            raise DataError(
                f"data.positive_class={given!r} is not a value of target column {column!r}; "
                f"its values: {', '.join(map(repr, values))}."
            )
        return given
    return positive_value(values, counts)


def _target_values(frame, column: str) -> tuple[list[str], list[int]]:
    series = frame[column]
    if series.isna().any():
        raise DataError(
            f"target column {column!r} has {int(series.isna().sum())} missing value(s); labels "
            "are never imputed. Choose another target with data.target=[...]."
        )
    if series.dtype.kind == "f" and not np.all(np.round(series) == series):
        raise DataError(
            f"target column {column!r} holds fractional numbers ({series.iloc[0]!r}, ...): it "
            "is a regression target, which lossbench does not do. Choose a class column with "
            "data.target=[...]."
        )
    text = series.astype(str) if series.dtype.kind != "f" else series.astype(int).astype(str)
    values, counts = np.unique(text.to_numpy(), return_counts=True)
    return [str(v) for v in values], [int(c) for c in counts]


def infer_task(frame, targets: list[str]) -> str:
    """``binary``, ``multiclass`` or ``multilabel`` from the target column(s) (module doc)."""
    if len(targets) > 1:
        return "multilabel"
    values, _ = _target_values(frame, targets[0])
    return "binary" if len(values) == 2 else "multiclass"


def load_openml(cfg: Mapping[str, Any]) -> LoadedTable:
    """Fetch (or read from the cache) and convert the OpenML data set of ``cfg``."""
    from lossbench.data.packaged import frame_table

    frame, targets = fetch(cfg)
    inferred = infer_task(frame, targets)
    task = cfg.get("task") or inferred
    if task != inferred and not (task == "multiclass" and inferred == "binary"):
        raise DataError(
            f"data.task={task} does not fit data=openml {_describe(cfg)}: its target "
            f"{targets} is {inferred}. Set data.task={inferred} or null (inferred)."
        )
    frame = frame.copy()
    given = cfg.get("positive_class")
    if task == "multiclass":
        values, _ = _target_values(frame, targets[0])
        if len(values) < 2:
            raise DataError(f"target column {targets[0]!r} holds one value only: {values}.")
        column = frame[targets[0]]
        frame[targets[0]] = (
            column.astype(int).astype(str) if column.dtype.kind == "f" else column.astype(str)
        )
        return frame_table(frame, targets, "multiclass")
    positives = []
    for column in targets:
        values, counts = _target_values(frame, column)
        if len(values) != 2:
            raise DataError(
                f"target column {column!r} holds {len(values)} values ({', '.join(values[:5])}"
                f"{', ...' if len(values) > 5 else ''}); a {task} target takes two per column."
            )
        positive = _positive(values, counts, given if task == "binary" else None, column)
        positives.append(positive)
        series = frame[column]
        text = series.astype(str) if series.dtype.kind != "f" else series.astype(int).astype(str)
        frame[column] = (text == positive).astype(np.int64)
    if task == "binary":
        table = frame_table(frame, targets, "binary")
        return LoadedTable(
            table.features,
            table.labels,
            table.feature_names,
            [f"{targets[0]}={positives[0]}"],
            [0, 1],
            table.categories,
        )
    return frame_table(frame, targets, "multilabel")
