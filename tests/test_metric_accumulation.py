"""Every metric of a stage is the metric of the whole split, whatever its batches and processes.

:class:`~lossbench.metrics.ClassificationMetrics` accumulates states per step: counts (accuracy,
F1, exact match, IoU), every probability (AUROC, average precision, ECE) or float64 sums (NLL,
Brier, saturation). Updated with uneven batches, or under DDP with each process's share of a
split, it must compute what one update with the whole split computes. The ``loss`` metric has
its own tests (``test_loss_metric.py``); the whole-split values of the table tasks are compared
with scikit-learn in ``test_metrics.py``, those of the dense tasks here.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf

from cli_process import run_module
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.metric_names import METRIC_NAMES
from lossbench.metrics import (
    ClassificationMetrics,
    flatten_positions,
    saturated_mask,
    to_probabilities,
)
from lossbench.module import ClassifierModule
from lossbench.record import RECORD_NAME
from lossbench.tasks import is_dense, position_task
from test_metrics import Case, _sklearn

N_TARGETS = {
    "binary": 1,
    "multilabel": 3,
    "multiclass": 4,
    "dense_binary": 1,
    "dense_multiclass": 3,
}
LINKS = {
    "binary": "sigmoid",
    "multilabel": "sigmoid",
    "multiclass": "softmax",
    "dense_binary": "sigmoid",
    "dense_multiclass": "softmax",
}
N_SAMPLES = 40  # table rows; dense: 9 maps of 5 x 6 positions
N_MAPS = 9
# uneven batches; the first holds one class only (a class absent from it, the others from
# nothing), and in the dense data the map of index 2 has no labelled position: (2, 1, ...)
# makes it a batch of its own
CUTS = {"two": (2, None), "three": (2, 1, None)}


def _split(task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded fp32 raw scores and int64 labels of a split: labels that follow the scores (the
    metrics are neither 0 nor 1), the first two samples of one class, and fp32-saturated
    scores; dense maps have unlabelled positions (-100), and one map has only those."""
    g = torch.Generator().manual_seed(0)
    units = N_TARGETS[task]
    if is_dense(task):
        scores = 3 * torch.randn(N_MAPS, units, 5, 6, generator=g)
        noisy = scores + 3 * torch.randn(scores.shape, generator=g)
        labels = (noisy[:, 0] > 0).long() if units == 1 else noisy.argmax(1)
        labels[torch.rand(labels.shape, generator=g) < 0.3] = -100
        labels[2] = -100  # no labelled position
        scores[3, 0, 0, :] = 40.0  # sigmoid and softmax saturate in fp32
    else:
        scores = 3 * torch.randn(N_SAMPLES, units, generator=g)
        noisy = scores + 3 * torch.randn(scores.shape, generator=g)
        if task == "binary":
            labels = (noisy[:, 0] > 0).long()
        elif task == "multilabel":
            labels = (noisy > 0).long()
        else:
            labels = noisy.argmax(1)
        scores[3, 0] = 40.0
    labels[:2] = labels[:2].clamp(max=0)  # the first batch: class 0 only (labels off)
    return scores, labels


def _sizes(cuts: tuple[int | None, ...], n: int) -> list[int]:
    return [*cuts[:-1], n - sum(cuts[:-1])]


def _metrics(task: str, *batches: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
    metrics = ClassificationMetrics(task, N_TARGETS[task])
    for scores, labels in batches:
        metrics.update_from_scores(scores, labels, link=LINKS[task])
    values = {key: float(value) for key, value in metrics.compute().items()}
    assert list(values) == list(METRIC_NAMES[task])
    return values


def _assert_equal(got: dict[str, float], expected: dict[str, float], rel: float, abs: float):
    """Every value of ``got`` is that of ``expected`` (NaN where it is NaN); the assertion
    names all that differ, as ``{key: (got, expected)}``."""
    assert got.keys() == expected.keys()
    differ = {
        key: (got[key], value)
        for key, value in expected.items()
        if not (
            (math.isnan(got[key]) and math.isnan(value))
            or got[key] == pytest.approx(value, rel=rel, abs=abs)
        )
    }
    assert not differ


@pytest.mark.parametrize("cuts", list(CUTS.values()), ids=list(CUTS))
@pytest.mark.parametrize("task", list(N_TARGETS))
def test_the_metrics_of_uneven_batches_are_those_of_the_whole_split(task, cuts):
    """Exact up to float64 summation order: the states are counts, all probabilities, and float64
    sums; a count-based value is a float32 ratio of the same counts."""
    scores, labels = _split(task)
    sizes = _sizes(cuts, len(scores))
    batches = list(zip(scores.split(sizes), labels.split(sizes), strict=True))
    if is_dense(task) and len(batches) == 3:
        assert not bool((batches[1][1] >= 0).any())  # a batch of no labelled position
    classes = set(labels[:2].unique().tolist()) - {-100}
    assert classes == {0}  # the first batch lacks the other classes (labels)
    whole = _metrics(task, (scores, labels))
    assert 0 < whole["saturated"] < 1
    assert 0 < whole["accuracy"] < 1
    _assert_equal(_metrics(task, *batches), whole, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("task", ["dense_binary", "dense_multiclass"])
def test_the_metrics_of_maps_are_those_of_their_labelled_positions(task):
    """The binary or multi-class metrics of scikit-learn (ECE by hand) over the labelled
    positions of all maps, accumulated over three batches (one of no labelled position), with
    the tolerances of ``test_metrics_match_sklearn_over_several_steps``. Mean IoU: see
    ``test_dense.py``."""
    scores, labels = _split(task)
    sizes = _sizes(CUTS["three"], len(scores))
    got = _metrics(task, *zip(scores.split(sizes), labels.split(sizes), strict=True))
    rows, flat = flatten_positions(scores, labels)
    kind, link, n = position_task(task), LINKS[task], N_TARGETS[task]
    probs = to_probabilities(rows, link, kind).numpy()
    expected = _sklearn(Case(kind, link, n, rows.shape[1]), probs, flat.numpy())
    del expected["auroc"]  # maps have none (lossbench.metrics)
    expected["saturated"] = saturated_mask(rows, link, kind).double().mean().item()
    for name, value in expected.items():
        exact = name in ("nll", "brier", "saturated")  # float64 states
        assert got[name] == pytest.approx(
            value, rel=1e-12 if exact else 1e-6, abs=1e-12 if exact else 1e-6
        ), name


# ------------------------------------------------------------------ DDP


def ddp_run(tmp_path, *overrides: str) -> tuple[dict, ClassifierModule, ClassificationDataModule]:
    run = tmp_path / "run"
    result = run_module(
        "lossbench.train",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.max_epochs=2",
        "head=logits",
        "logger=none",
        *overrides,
        f"hydra.run.dir={run}",
        cwd=tmp_path,
        unset=("OMP_NUM_THREADS",),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((run / RECORD_NAME).read_text())
    assert record["status"] == "completed", record["error"]
    cfg = OmegaConf.load(run / "config.yaml")
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    datamodule.setup("fit")
    return record, module, datamodule


DDP_CASES = {
    # 171 val and 171 test rows: one process evaluates 86 of each, the other 85
    "binary": ("data=breast_cancer", "data.val_fraction=0.3", "data.test_fraction=0.3"),
    # 81 val and 81 test rows of 5 labels
    "multilabel": ("data=synthetic_multilabel", "data.n_samples=405"),
}


@pytest.mark.slow  # two processes (gloo): about 10 s a run on 2 cores
@pytest.mark.parametrize("task", list(DDP_CASES))
def test_ddp_validation_and_test_metrics_are_the_metrics_of_the_splits(tmp_path, task):
    """Every val/ and test/ value a 2-process run records (each process evaluates its share of
    the split) is the value of the whole split in one process and one batch, from the best
    checkpoint. The splits are odd: a sampler padding each share to the same size by repeating
    a sample would count that sample twice."""
    record, module, datamodule = ddp_run(tmp_path, *DDP_CASES[task])
    assert module.task == task
    for stage in ("val", "test"):
        assert record["sizes"][stage] % 2 == 1, record["sizes"]
        expected = module.eval().evaluate_split(datamodule.tensors[stage], stage)
        assert set(expected) == {f"{stage}/{name}" for name in ("loss", *METRIC_NAMES[task])}
        got = {key: record[key] for key in expected}
        # Each process computes the float32 scores and mean loss of its own rows, which round
        # otherwise than those of the whole split in one batch: measured, the loss up to 5e-8
        # apart, the float64 metrics up to 4e-11, torchmetrics' float32 values equal.
        _assert_equal(got, expected, rel=1e-6, abs=1e-7)
