"""Tabular preprocessing: fitted on training rows only, stored as plain data, applied by predict."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_process import SWEEP_LAUNCHERS, run_module
from lossbench.data.csv_loader import load_csv
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.preprocess import Preprocessor, constant_columns, fit_preprocessor
from lossbench.data.splits import split_and_standardize
from lossbench.data.table import DataError, LoadedTable
from lossbench.metrics import to_probabilities
from lossbench.module import ClassifierModule
from lossbench.predict import predict
from lossbench.training import train

SPLIT = {"split_seed": 0, "val_fraction": 0.25, "test_fraction": 0.25}
COLOURS = ["blue", "green", "red"]


def _table(n: int = 80) -> LoadedTable:
    """size (numeric, 3 missing), colour (categorical, 2 missing); label: size > 5 or blue."""
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 10, n).astype(np.float32)
    colour = (np.arange(n) % 3).astype(np.float32)
    labels = ((size > 5) | (colour == 0)).astype(np.int64)
    size[[3, 17, 40]] = np.nan
    colour[[5, 60]] = np.nan
    features = np.stack([size, colour], axis=1)
    return LoadedTable(features, labels, ["size", "colour"], ["y"], [0, 1], {"colour": COLOURS})


def test_preprocessing_is_fitted_on_the_training_rows_only() -> None:
    """Held-out rows get extreme sizes and a colour of their own: a fit that saw them would
    move the mean, the scale, the median and the categories."""
    table = _table()
    splits, fitted = split_and_standardize(table, "binary", impute="median", **SPLIT)
    train_rows = len(splits["train"].labels)
    # Recover which rows are training rows by fitting once more on the same split.
    from sklearn.model_selection import train_test_split

    index = np.arange(len(table.labels))
    rest, _ = train_test_split(index, test_size=0.25, random_state=0, stratify=table.labels)
    train_idx, _ = train_test_split(
        rest, test_size=0.25 / 0.75, random_state=0, stratify=table.labels[rest]
    )
    assert len(train_idx) == train_rows
    held_out = np.setdiff1d(index, train_idx)
    poisoned = table.features.copy()
    poisoned[held_out, 0] = 1e6
    poisoned[held_out, 1] = 3  # a fourth colour, "purple", seen only outside training
    leaky = LoadedTable(
        poisoned, table.labels, table.feature_names, ["y"], [0, 1], {"colour": [*COLOURS, "purple"]}
    )
    _, fitted_poisoned = split_and_standardize(leaky, "binary", impute="median", **SPLIT)

    train_size = table.features[train_idx, 0]
    train_size = train_size[~np.isnan(train_size)]
    for p in (fitted, fitted_poisoned):
        assert p.fill["size"] == pytest.approx(float(np.median(train_size)))
        assert p.standardizer.mean[0] < 10  # the held-out 1e6 never entered the mean
        assert p.categories == {"colour": COLOURS}  # purple: held-out rows only
    np.testing.assert_array_equal(fitted.standardizer.mean, fitted_poisoned.standardizer.mean)
    np.testing.assert_array_equal(fitted.standardizer.scale, fitted_poisoned.standardizer.scale)
    assert fitted.fill == fitted_poisoned.fill


def test_transform_matches_scikit_learns_column_transformer() -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = _table()
    p = fit_preprocessor(table.features, table.feature_names, table.categories, impute="median")
    frame = pd.DataFrame(
        {
            "size": table.features[:, 0],
            "colour": [np.nan if np.isnan(c) else COLOURS[int(c)] for c in table.features[:, 1]],
        }
    )
    reference = ColumnTransformer(
        [
            ("n", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["size"]),
            (
                "c",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                ["colour"],
            ),
        ]
    ).fit(frame)
    ours = p.transform(table.features, table.categories)
    assert p.output_names == ["size", "colour=blue", "colour=green", "colour=red"]
    np.testing.assert_allclose(ours, reference.transform(frame), rtol=1e-6, atol=1e-6)


def test_preprocessor_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    table = _table()
    p = fit_preprocessor(table.features, table.feature_names, table.categories, impute="median")
    torch.save({"meta": p.to_dict()}, tmp_path / "p.ckpt")
    back = Preprocessor.from_dict(torch.load(tmp_path / "p.ckpt", weights_only=True)["meta"])
    np.testing.assert_array_equal(
        back.transform(table.features, table.categories),
        p.transform(table.features, table.categories),
    )


def test_unseen_category_encodes_as_zeros_and_categories_match_by_name() -> None:
    table = _table()
    p = fit_preprocessor(table.features, table.feature_names, table.categories, impute="median")
    # Another file's codes: 0 = "red", 1 = "violet" (never seen).
    out = p.transform(np.array([[1.0, 0.0], [1.0, 1.0]], np.float32), {"colour": ["red", "violet"]})
    np.testing.assert_array_equal(out[:, 1:], [[0, 0, 1], [0, 0, 0]])


def test_missing_values_are_refused_without_impute_naming_the_columns() -> None:
    with pytest.raises(DataError, match=r"'size' \(3\), 'colour' \(2\).*data\.impute=median"):
        split_and_standardize(_table(), "binary", what="data=mine", **SPLIT)


def test_most_frequent_imputes_numbers_with_their_mode() -> None:
    x = np.array([[1.0], [1.0], [5.0], [np.nan]], dtype=np.float32)
    p = fit_preprocessor(x, ["a"], {}, impute="most_frequent")
    assert p.fill == {"a": 1.0}


# ----------------------------------------------------------------------------------- CSV


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _rows(n: int = 90) -> list[list]:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        size = round(float(rng.uniform(0, 10)), 3)
        colour = COLOURS[i % 3]
        rows.append([size, colour, int(size > 5 or colour == "blue")])
    return rows


def test_csv_text_columns_are_categorical_and_mixed_columns_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", ["size", "colour", "y"], _rows())
    table = load_csv(path, ["y"], "binary")
    assert table.categories == {"colour": COLOURS}
    assert table.features[:3, 1].tolist() == [0.0, 1.0, 2.0]  # blue, green, red
    mixed = _write(tmp_path / "b.csv", ["size", "colour", "y"], [*_rows(), [1.0, 7, 0]])
    with pytest.raises(
        DataError,
        match=r"'colour' mixes numbers and text: '7' at line 92.*categorical_columns=\[colour\]",
    ):
        load_csv(mixed, ["y"], "binary")
    table = load_csv(mixed, ["y"], "binary", categorical_columns=["colour"])
    assert table.categories["colour"] == ["7", *COLOURS]


def test_csv_missing_values_refused_unless_imputing(tmp_path: Path) -> None:
    rows = _rows()
    rows[4][0] = ""
    rows[8][1] = "NA"
    path = _write(tmp_path / "m.csv", ["size", "colour", "y"], rows)
    with pytest.raises(DataError, match=r"'size' has a missing value.*line 6.*data\.impute"):
        load_csv(path, ["y"], "binary")
    table = load_csv(path, ["y"], "binary", allow_missing=True)
    assert np.isnan(table.features[4, 0]) and np.isnan(table.features[8, 1])


def test_predict_applies_the_stored_categories_and_imputation(make_cfg, tmp_path: Path) -> None:
    """Train on a CSV with a categorical column and missing values, then predict on a file
    whose columns come in another order, with a category never seen and a missing cell."""
    rows = _rows()
    rows[10][0] = ""
    training = _write(tmp_path / "train.csv", ["size", "colour", "y"], rows)
    cfg = make_cfg(
        "data=csv",
        f"data.path={training}",
        "data.label_columns=[y]",
        "data.task=binary",
        "data.impute=median",
        "head=logits",
        "loss=bce_with_logits",
        "trainer.max_epochs=3",
    )
    record = train(cfg, tmp_path / "run")
    new_rows = [["a", "blue", 2.0], ["b", "red", ""], ["c", "purple", 7.5], ["d", "green", 9.0]]
    new = _write(tmp_path / "new.csv", ["id", "colour", "size"], new_rows)
    with pytest.warns(UserWarning, match=r"'colour': 1 of 4 rows .* never saw \('purple'\)"):
        got = predict(record["best_checkpoint"], new)  # and encodes purple as all zeros

    datamodule = ClassificationDataModule(cfg.data, "bce_with_logits")
    p = datamodule.preprocessor
    assert p.categories == {"colour": COLOURS} and set(p.fill) == {"size", "colour"}
    expected_x = np.array(
        [
            [(2.0 - p.standardizer.mean[0]) / p.standardizer.scale[0], 1, 0, 0],
            [(p.fill["size"] - p.standardizer.mean[0]) / p.standardizer.scale[0], 0, 0, 1],
            [(7.5 - p.standardizer.mean[0]) / p.standardizer.scale[0], 0, 0, 0],
            [(9.0 - p.standardizer.mean[0]) / p.standardizer.scale[0], 0, 1, 0],
        ],
        dtype=np.float32,
    )
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    with torch.no_grad():
        probs = to_probabilities(module.eval()(torch.from_numpy(expected_x)), module.link, "binary")
    torch.testing.assert_close(
        torch.tensor(got["p_y"], dtype=torch.float64), probs.reshape(-1), rtol=0, atol=1e-6
    )
    assert datamodule.n_features == 4  # size, then one column per colour

    # Without imputation stored, a missing cell is refused by name.
    plain = make_cfg(
        "data=csv",
        f"data.path={_write(tmp_path / 'full.csv', ['size', 'colour', 'y'], _rows())}",
        "data.label_columns=[y]",
        "data.task=binary",
        "trainer.max_epochs=1",
    )
    ckpt = train(plain, tmp_path / "run2")["best_checkpoint"]
    with pytest.raises(DataError, match=r"'size' has a missing value"):
        predict(ckpt, new)


@pytest.mark.slow
def test_a_constant_csv_column_is_named_in_a_warning(tmp_path: Path) -> None:
    """A column of one value has standard deviation 0: the scaler keeps scale 1, so training
    went on silently with a column that carries nothing."""
    rows = [f"{i * 0.1:.1f},{(i * 7) % 11},5,{i % 2}" for i in range(40)]
    (tmp_path / "data.csv").write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    result = run_module(
        "lossbench.train",
        "data=csv",
        "data.path=data.csv",
        "data.label_columns=[y]",
        "data.task=binary",
        "trainer.max_epochs=1",
        "logger=none",
        cwd=tmp_path,
        extra_env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    warned = [line for line in result.stderr.splitlines() if "holds one value" in line]
    assert warned == [
        "lossbench: warning: data=csv (data.csv): feature column 'c' holds one value in all 24 "
        "training rows (5): it carries no information, and with a standard deviation of 0 it "
        "is not scaled but only centred (0 in every training row). Leave it out with "
        "data.feature_columns=[a,b], or check the file."
    ]


@pytest.mark.slow  # a sweep under each launcher: about 40 s
@pytest.mark.parametrize("launcher", ["basic", "vectorized", "parallel"])
def test_a_sweeps_warnings_are_lossbench_lines_under_each_launcher(tmp_path, launcher) -> None:
    """Warnings of a multirun's jobs, in the launching process or the workers of the
    vectorized and parallel launchers, read as a run alone's: ``lossbench: warning: ...``, no
    Python warning format."""
    rows = [f"{i * 0.1:.1f},{(i * 7) % 11},5,{i % 2}" for i in range(40)]
    (tmp_path / "data.csv").write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    result = run_module(
        "lossbench.train", "-m", "data=csv", "data.path=data.csv", "data.label_columns=[y]",
        "data.task=binary", "trainer.max_epochs=1", "logger=none", "seed=0,1",
        f"hydra/launcher={launcher}", "hydra.sweep.dir=study", cwd=tmp_path,
        extra_env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    warned = [line for line in result.stderr.splitlines() if "holds one value" in line]
    assert warned and all(line.startswith("lossbench: warning: data=csv (") for line in warned)
    assert "ConstantColumnWarning" not in result.stderr


@pytest.mark.slow  # four jobs under each launcher: about a minute in all
@pytest.mark.parametrize(
    "launcher",
    list(SWEEP_LAUNCHERS.values()),
    ids=list(SWEEP_LAUNCHERS),
)
def test_a_sweep_warns_of_a_constant_column_once(tmp_path, launcher) -> None:
    """Every job of a sweep builds its data module and finds the constant column; the user's
    terminal shows the warning once, for each file, whatever runs the jobs."""
    rows = [f"{i * 0.1:.1f},{(i * 7) % 11},5,{i % 2}" for i in range(40)]
    for name in ("one", "two"):
        (tmp_path / f"{name}.csv").write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    result = run_module(
        "lossbench.train", "-m", "data=csv", "data.path=one.csv,two.csv",
        "data.label_columns=[y]", "data.task=binary", "trainer.max_epochs=1", "logger=none",
        "seed=0,1", *launcher, "hydra.sweep.dir=study", cwd=tmp_path,
        extra_env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    warned = [line for line in result.stderr.splitlines() if "holds one value" in line]
    assert len(warned) == 2, result.stderr  # one per file, not one per job or data module
    assert sorted(line.split(": feature column 'c'")[0] for line in warned) == [
        "lossbench: warning: data=csv (one.csv)",
        "lossbench: warning: data=csv (two.csv)",
    ]  # each names its file
    assert len(list((tmp_path / "study").glob("*/metrics.json"))) == 4  # every job ran


def test_a_sweep_names_each_constant_column_of_a_file_once(tmp_path, recwarn) -> None:
    """Within a sweep, the first data module of a file warns for its constant columns; the
    next ones (other jobs, other processes) do not, another file does, and a sweep started
    again into the same directory warns again. A run alone always warns."""
    from lossbench.data.preprocess import ConstantColumnWarning
    from lossbench.sweep_warnings import forget_warnings, warnings_of_sweep

    def warned(name: str) -> list[str]:
        recwarn.clear()
        data = {"name": "csv", "path": str(tmp_path / name), "label_columns": ["y"]}
        data.update(task="binary", batch_size=None, **SPLIT)
        ClassificationDataModule(data, "bce_with_logits").warn_columns()
        return [str(w.message) for w in recwarn if w.category is ConstantColumnWarning]

    rows = [f"{i * 0.1:.1f},{(i * 7) % 11},5,{i % 2}" for i in range(40)]
    for name in ("one.csv", "two.csv"):
        (tmp_path / name).write_text("\n".join(["a,b,c,y", *rows]) + "\n")
    sweep = tmp_path / "study"
    with warnings_of_sweep(sweep):
        assert len(warned("one.csv")) == 1
        assert warned("one.csv") == []
        assert len(warned("two.csv")) == 1
    forget_warnings(sweep)
    with warnings_of_sweep(sweep):
        assert len(warned("one.csv")) == 1
    assert len(warned("one.csv")) == 1


def test_constant_columns_of_the_training_rows() -> None:
    x = np.array([[1, 5, 0, np.nan], [2, 5, 0, np.nan], [3, 5, 1, np.nan]], dtype=np.float32)
    names = ["a", "b", "colour", "empty"]
    assert constant_columns(x, names, {"colour": ["red", "blue"]}) == {
        "b": "5",
        "empty": "missing",
    }
    assert constant_columns(x[:2], names, {"colour": ["red", "blue"]}) == {
        "b": "5",
        "colour": "'red'",
        "empty": "missing",
    }


def test_built_in_data_sets_do_not_warn_of_their_blank_pixels(recwarn) -> None:
    """digits has pixel columns that are 0 in every row: nothing a user can fix."""
    from lossbench.data.preprocess import ConstantColumnWarning

    dm = ClassificationDataModule({"name": "digits", "batch_size": None, **SPLIT}, "cross_entropy")
    assert dm.preprocessor.constant  # there are such columns
    dm.warn_columns()
    assert not [w for w in recwarn if issubclass(w.category, ConstantColumnWarning)]
