"""A class that a split lacks is not scored as AUROC 0: the split gives every class a row in each
split, and where a split still cannot score a class (multi-label splits are random) the macro
AUROC and mAP average over the others, warn, and ``metrics.json`` names it; every training path
and lossbench-eval give the same numbers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from cli_process import SWEEP_LAUNCHERS, run_module
from lossbench.checkpoint import load_checkpoint
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.splits import split_indices
from lossbench.evaluate import evaluate
from lossbench.metrics import to_probabilities
from lossbench.module import ClassifierModule
from lossbench.scored_classes import UnscoredClassWarning
from lossbench.training import train
from lossbench.vectorized.run import train_group


def _write(path: Path, features: np.ndarray, labels: np.ndarray, label_names: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"x{k}" for k in range(features.shape[1])] + label_names)
        for x, y in zip(features, labels.reshape(len(labels), -1), strict=True):
            writer.writerow([f"{v:.6f}" for v in x] + [int(v) for v in y])
    return path


def _record(cwd: Path) -> dict:
    (path,) = (cwd / "outputs" / "runs").glob("*/metrics.json")
    return json.loads(path.read_text())


# ------------------------------------------------------------------ the reported examples


def _seven_classes(folder: Path) -> tuple[str, ...]:
    """Five classes of 3 rows: stratifying alone left two of them out of val and test, and a
    perfect model got test/auroc 5/7 = 0.714 with test/accuracy 1.0."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), [40, 40, 3, 3, 3, 3, 3])
    features = 5.0 * np.eye(7)[labels] + rng.normal(0, 0.1, (len(labels), 7))
    path = _write(folder / "seven.csv", features, labels, ["y"])
    return (
        "data=csv",
        f"data.path={path}",
        "data.label_columns=[y]",
        "data.task=multiclass",
        "model=linear",
        "optimizer.lr=0.3",
        "trainer.max_epochs=30",
        "checkpoint.write=at_end",
    )


def _three_positives(folder: Path) -> tuple[str, ...]:
    """3 positives in 1000 rows with data.test_fraction=0.1: the test split had no positive,
    and test/auroc was recorded as 0.0 beside test/accuracy 1.0."""
    rng = np.random.default_rng(0)
    labels = (np.arange(1000) < 3).astype(int)
    features = 5.0 * labels[:, None] + rng.normal(0, 0.1, (1000, 1))
    path = _write(folder / "rare.csv", features, labels, ["y"])
    return (
        "data=csv",
        f"data.path={path}",
        "data.label_columns=[y]",
        "data.task=binary",
        "data.test_fraction=0.1",
        "trainer.max_epochs=30",
        "checkpoint.write=at_end",
    )


EXAMPLES = {"seven-classes": _seven_classes, "binary-three-positives": _three_positives}


def _check_example(record: dict) -> None:
    # before: seven-classes test/auroc 0.7142857142857143, binary-three-positives 0.0
    assert record["test/accuracy"] == record["val/accuracy"] == 1.0
    assert record["test/auroc"] == record["val/auroc"] == 1.0
    assert record["unscored_classes"] == {"val": [], "test": []}


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_reported_example_scores_every_class(make_cfg, tmp_path: Path, example: str) -> None:
    record = train(make_cfg(*EXAMPLES[example](tmp_path)), tmp_path / "run")
    _check_example(record)


@pytest.mark.slow
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_cli_reported_example_scores_every_class(tmp_path: Path, example: str) -> None:
    overrides = EXAMPLES[example](tmp_path)
    result = run_module(
        "lossbench.train",
        *overrides,
        "trainer.enable_progress_bar=false",
        "logger=none",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    _check_example(_record(tmp_path))
    assert "cannot score" not in result.stderr


# --------------------------------------------- a multi-label split that lacks a label


@pytest.fixture(scope="module")
def multilabel_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Labels u and v, noisy but learnable; label w's 3 positives all in the training split
    (multi-label splits are random), so val and test cannot score w."""
    rng = np.random.default_rng(1)
    n = 200
    labels = (rng.random((n, 3)) < 0.5).astype(int)
    train_rows, _, _ = split_indices(
        labels, "multilabel", val_fraction=0.2, test_fraction=0.2, split_seed=0
    )
    labels[:, 2] = 0
    labels[train_rows[:3], 2] = 1
    features = 2.0 * labels + rng.normal(0, 1.0, (n, 3))
    return _write(tmp_path_factory.mktemp("data") / "tags.csv", features, labels, ["u", "v", "w"])


def _overrides(path: Path, *more: str) -> tuple[str, ...]:
    return (
        "data=csv",
        f"data.path={path}",
        "data.label_columns=[u,v,w]",
        "data.task=multilabel",
        "model=linear",
        *more,
    )


def _sklearn_on_checkpoint(record: dict, cfg) -> dict[str, float]:
    """test/auroc and test/map from scikit-learn on the best checkpoint's test predictions,
    over the labels the test split scores (u and v)."""
    ckpt = record["best_checkpoint"]
    module = ClassifierModule.from_checkpoint(load_checkpoint(ckpt), ckpt)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    x, labels, _ = datamodule.tensors["test"]
    with torch.no_grad():
        probs = to_probabilities(module(x), module.link, "multilabel").numpy()
    y = labels.numpy()
    assert y[:, 2].sum() == 0 and 0 < y[:, 0].sum() < len(y) and 0 < y[:, 1].sum() < len(y)
    return {
        "test/auroc": float(np.mean([roc_auc_score(y[:, k], probs[:, k]) for k in (0, 1)])),
        "test/map": float(np.mean([average_precision_score(y[:, k], probs[:, k]) for k in (0, 1)])),
    }


@pytest.mark.parametrize("runner", ["epoch", "lightning"])
def test_a_label_the_split_lacks_is_left_out_named_and_warned(
    make_cfg, tmp_path, multilabel_csv, runner
) -> None:
    cfg = make_cfg(*_overrides(multilabel_csv, f"runner={runner}", "trainer.max_epochs=3"))
    with pytest.warns(UnscoredClassWarning, match=r"split cannot score label 'w'") as caught:
        record = train(cfg, tmp_path / "run")
    for split in ("val", "test"):
        assert any(f"{split} split cannot score label 'w'" in str(w.message) for w in caught)
    assert not any("No positive samples" in str(w.message) for w in caught)  # torchmetrics'
    assert record["unscored_classes"] == {"val": ["w"], "test": ["w"]}
    expected = _sklearn_on_checkpoint(record, cfg)
    for key, value in expected.items():  # torchmetrics' macro counted w as 0: 2/3 of these
        assert record[key] == pytest.approx(value, rel=1e-6), key
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["unscored_classes"] == {"val": ["w"], "test": ["w"]}
    # lossbench-eval: the same numbers and the same unscored label
    with pytest.warns(UnscoredClassWarning, match=r"test split cannot score label 'w'"):
        result = evaluate(record["best_checkpoint"], split="test")
    assert {k: v for k, v in result.items() if k.startswith("test/")} == {
        k: v for k, v in record.items() if k.startswith("test/")
    }
    assert result["unscored_classes"] == {"test": ["w"]}


@pytest.mark.slow
def test_a_ddp_run_warns_once_not_once_per_process(tmp_path, multilabel_csv) -> None:
    """Every DDP process finds the label its splits cannot score; global rank 0 alone says so."""
    result = run_module(
        "lossbench.train",
        *_overrides(multilabel_csv, "trainer.max_epochs=1"),
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "logger=none",
        cwd=tmp_path,
        unset=("OMP_NUM_THREADS",),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _record(tmp_path)["unscored_classes"] == {"val": ["w"], "test": ["w"]}
    for split in ("val", "test"):
        assert result.stderr.count(f"{split} split cannot score label 'w'") == 1, result.stderr


def test_vectorized_members_score_the_same_labels_as_runs_alone(
    make_cfg, tmp_path, multilabel_csv
) -> None:
    cfgs = [
        make_cfg(*_overrides(multilabel_csv, f"optimizer.lr={lr}", "trainer.max_epochs=3"))
        for lr in (0.01, 0.05)
    ]
    with pytest.warns(UnscoredClassWarning):
        alone = [train(cfg, tmp_path / f"alone{i}", multirun=True) for i, cfg in enumerate(cfgs)]
        grouped = train_group(cfgs, [tmp_path / f"member{i}" for i in range(len(cfgs))])
    for single, member in zip(alone, grouped, strict=True):
        assert member["status"] == single["status"] == "completed"
        assert (
            member["unscored_classes"]
            == single["unscored_classes"]
            == {
                "val": ["w"],
                "test": ["w"],
            }
        )
        for key in ("val/auroc", "val/map", "test/auroc", "test/map"):
            assert not math.isnan(single[key])
            assert member[key] == pytest.approx(single[key], abs=1e-5), key


@pytest.mark.slow  # four jobs under each launcher
@pytest.mark.parametrize(
    "launcher",
    list(SWEEP_LAUNCHERS.values()),
    ids=list(SWEEP_LAUNCHERS),
)
def test_a_sweep_warns_of_an_unscored_label_once(tmp_path, multilabel_csv, launcher) -> None:
    """Every job of a sweep over the same data finds the label its splits cannot score; the
    terminal says so once for each split, whatever runs the jobs."""
    result = run_module(
        "lossbench.train", "-m", *_overrides(multilabel_csv, "trainer.max_epochs=1"),
        "logger=none", "seed=0,1", "optimizer.lr=0.01,0.02", *launcher, "hydra.sweep.dir=study",
        cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    for split in ("val", "test"):
        assert result.stderr.count(f"{split} split cannot score label 'w'") == 1, result.stderr
    assert len(list((tmp_path / "study").glob("*/metrics.json"))) == 4  # every job ran


def test_a_sweep_warns_of_the_unscored_labels_of_each_data_set_once(
    tmp_path, multilabel_csv, recwarn
) -> None:
    """Within a sweep, the first data module of a data set warns; the next ones (other jobs,
    other processes) do not, other data (another split seed) does. A run alone always warns."""
    from lossbench.sweep_warnings import warnings_of_sweep

    def warned(split_seed: int) -> list[str]:
        recwarn.clear()
        data = {"name": "csv", "path": str(multilabel_csv), "label_columns": ["u", "v", "w"]}
        data.update(task="multilabel", batch_size=None, val_fraction=0.2, test_fraction=0.2)
        module = ClassificationDataModule({**data, "split_seed": split_seed}, "bce_with_logits")
        module.warn_unscored({"val": ["w"], "test": []})
        return [str(w.message) for w in recwarn if w.category is UnscoredClassWarning]

    with warnings_of_sweep(tmp_path / "study"):
        assert len(warned(0)) == 1
        assert warned(0) == []
        assert len(warned(1)) == 1
    assert len(warned(0)) == 1
