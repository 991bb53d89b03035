"""``data.label_noise``: a fraction p of the training and validation labels changes to another
class; the split and the test labels are those of the data set without noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from lossbench.checkpoint import load_checkpoint
from lossbench.checkpoint_format import METADATA_KEY, SPLITS_SHA256_KEY
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.datasets import load_table
from lossbench.evaluate import evaluate
from lossbench.report.yardstick import fit_yardstick
from lossbench.training import train

SPLIT = {"split_seed": 0, "val_fraction": 0.2, "test_fraction": 0.2, "batch_size": 128}
BINARY = {
    "name": "synthetic_binary",
    "n_samples": 20000,
    "n_features": 20,
    "n_informative": 8,
    "positive_fraction": 0.5,
    "class_sep": 1.0,
    "random_state": 0,
    **SPLIT,
}
MULTICLASS = {**BINARY, "name": "synthetic_multiclass", "n_classes": 4}
del MULTICLASS["positive_fraction"]


def _modules(cfg: dict, noise: float) -> tuple[ClassificationDataModule, ClassificationDataModule]:
    """The data modules of ``cfg`` with label noise ``noise`` and without."""
    noisy = ClassificationDataModule({**cfg, "label_noise": noise}, "bce_with_logits")
    clean = ClassificationDataModule({**cfg, "label_noise": 0.0}, "bce_with_logits")
    return noisy, clean


def _changed(noisy: ClassificationDataModule, clean: ClassificationDataModule, stage: str):
    """Which labels of ``stage`` the noise changed (the rows are checked to be the same)."""
    assert torch.equal(noisy.tensors[stage][0], clean.tensors[stage][0])
    return (noisy.tensors[stage][1] != clean.tensors[stage][1]).numpy()


@pytest.mark.parametrize(
    ("cfg", "noise", "changed"),
    [
        (BINARY, 0.1, 0.10225),
        (BINARY, 0.4, 0.4003125),
        (MULTICLASS, 0.1, 0.102125),
        (MULTICLASS, 0.4, 0.401125),
    ],
    ids=["binary-0.1", "binary-0.4", "multiclass-0.1", "multiclass-0.4"],
)
def test_label_noise_changes_that_fraction_of_training_and_validation_labels(
    cfg: dict, noise: float, changed: float
) -> None:
    """make_classification's flip_y=p changes p (1 - 1/K) of them (binary 0.1: 4.9 %)."""
    noisy, clean = _modules(cfg, noise)
    rows = np.concatenate([_changed(noisy, clean, stage) for stage in ("train", "val")])
    assert len(rows) == 16000
    assert rows.mean() == pytest.approx(changed, abs=1e-12)
    # p within 4 standard errors of the mean over 16000 rows (0.0095 at p = 0.4)
    assert abs(rows.mean() - noise) < 4 * math.sqrt(noise * (1 - noise) / len(rows))
    for stage in ("train", "val"):  # each split on its own too
        part = _changed(noisy, clean, stage)
        assert abs(part.mean() - noise) < 4 * math.sqrt(noise * (1 - noise) / len(part))


@pytest.mark.parametrize("cfg", [BINARY, MULTICLASS], ids=["binary", "multiclass"])
def test_noisy_data_keep_the_split_and_clean_test_labels(cfg: dict) -> None:
    """The same rows in each split as without noise, and the test split is the noise-free one
    byte for byte: its fingerprint (the checkpoint's split_sha256) is the same."""
    noisy, clean = _modules(cfg, 0.4)
    assert noisy.sizes() == clean.sizes() == {"train": 12000, "val": 4000, "test": 4000}
    for stage in ("train", "val", "test"):  # same rows, same preprocessing
        assert torch.equal(noisy.tensors[stage][0], clean.tensors[stage][0])
    assert torch.equal(noisy.tensors["test"][1], clean.tensors["test"][1])
    assert noisy.fingerprints["test"] == clean.fingerprints["test"]
    assert noisy.fingerprints["train"] != clean.fingerprints["train"]
    assert noisy.preprocessing["feature_mean"] == clean.preprocessing["feature_mean"]


def test_multiclass_noise_moves_a_label_to_another_class_uniformly() -> None:
    """Each changed label goes to one of the 3 other classes, about a third to each."""
    noisy, clean = _modules(MULTICLASS, 0.4)
    for stage in ("train", "val"):
        _changed(noisy, clean, stage)  # the same rows
    before = torch.cat([clean.tensors[s][1] for s in ("train", "val")]).numpy()
    after = torch.cat([noisy.tensors[s][1] for s in ("train", "val")]).numpy()
    changed = before != after
    assert changed.mean() == pytest.approx(0.401125, abs=1e-12)
    for c in range(4):
        moved = after[changed & (before == c)]
        share = np.bincount(moved, minlength=4) / len(moved)
        assert share[c] == 0.0
        others = np.delete(share, c)  # 1/3 each within 4 standard errors (about 1600 rows)
        assert np.all(np.abs(others - 1 / 3) < 4 * math.sqrt(2 / 9 / len(moved))), share


def test_label_noise_is_a_property_of_the_data_set() -> None:
    """The noisy labels depend on data.random_state alone: the same on every load and for every
    split seed (a row keeps its noisy label whichever split it falls in), others for another
    random_state; the features are those of the data set without noise."""
    cfg = {**BINARY, "n_samples": 2000, "label_noise": 0.1}
    table = load_table(cfg)
    again = ClassificationDataModule({**cfg, "split_seed": 1}, "bce_with_logits")
    other_split = load_table({**cfg, "split_seed": 1})
    assert np.array_equal(other_split.noisy_labels, table.noisy_labels)
    assert again.sizes() == {"train": 1200, "val": 400, "test": 400}
    clean = load_table({**cfg, "label_noise": 0.0})
    assert np.array_equal(table.features, clean.features)
    assert np.array_equal(table.labels, clean.labels) and clean.noisy_labels is None
    assert (table.noisy_labels != table.labels).mean() == pytest.approx(0.11, abs=1e-12)
    reseeded = load_table({**cfg, "random_state": 1})
    assert (reseeded.noisy_labels != reseeded.labels).mean() == pytest.approx(0.1015, abs=1e-12)


def test_yardstick_sees_the_data_modules_labels() -> None:
    """The report's yardstick splits through the same function: with 40 % of the labels changed,
    its validation accuracy (noisy labels) is near 0.6, its test accuracy (clean labels) near
    the noise-free one; with noisy test labels it could not exceed about 0.6."""
    cfg = {**BINARY, "n_samples": 2000, "class_sep": 3.0}
    noisy = fit_yardstick({**cfg, "label_noise": 0.4})
    clean = fit_yardstick({**cfg, "label_noise": 0.0})
    assert clean["test/accuracy"] == clean["val/accuracy"] == 1.0
    assert noisy["C"] == 0.001  # below the first grid (0.01-100): widened, as labels are noisy
    assert noisy["val/accuracy"] == pytest.approx(0.605, abs=1e-6)
    assert noisy["test/accuracy"] == pytest.approx(0.995, abs=1e-6)


def test_eval_of_a_noisy_run_gives_its_test_metrics_on_clean_labels(make_cfg, tmp_path) -> None:
    """lossbench-eval rebuilds the same noisy data module: the checkpoint's test fingerprint is
    the noise-free test split's, and eval recomputes the run's test metrics exactly."""
    cfg = make_cfg("data=synthetic_binary", "data.n_samples=300", "data.label_noise=0.4")
    record = train(cfg, tmp_path)
    result = evaluate(record["best_checkpoint"])
    assert {k: v for k, v in result.items() if k.startswith("test/")} == {
        k: v for k, v in record.items() if k.startswith("test/")
    }
    data = {**OmegaConf.to_container(cfg.data, resolve=True), "label_noise": 0.0}
    clean = ClassificationDataModule(data, cfg.loss.name, seed=cfg.seed)
    stored = load_checkpoint(record["best_checkpoint"])[METADATA_KEY][SPLITS_SHA256_KEY]
    assert stored["test"] == clean.fingerprints["test"]
    assert stored["train"] != clean.fingerprints["train"]
