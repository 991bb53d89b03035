"""Tests of lossbench.metrics against scikit-learn and hand computations."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    roc_auc_score,
)
from torchmetrics import Metric
from torchmetrics.functional.classification import binary_auroc

from lossbench.metric_names import METRIC_NAMES
from lossbench.metrics import (
    ECE_BINS,
    ClassificationMetrics,
    saturated_fraction,
    saturated_mask,
    to_probabilities,
)
from lossbench.scored_classes import UnscoredClassWarning, unscored_classes, warn_unscored

BATCHES = (7, 30, 1, 62)  # uneven step sizes, 100 samples in all


@dataclass(frozen=True)
class Case:
    task: str
    link: str
    n_targets: int
    units: int

    def __str__(self) -> str:
        return f"{self.task}-{self.link}-{self.n_targets}"


CASES = [
    Case("binary", "sigmoid", 1, 1),
    Case("binary", "softmax", 1, 2),
    Case("multilabel", "sigmoid", 4, 4),
    Case("multiclass", "softmax", 4, 4),
    Case("multiclass", "sigmoid", 3, 3),
    Case("multiclass", "softmax", 2, 2),  # Brier halved, like sklearn for two columns
]


def _data(case: Case, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded fp32 raw scores (N, U) and int64 labels that depend on them (N ~ 100)."""
    gen = torch.Generator().manual_seed(seed)
    n = sum(BATCHES)
    scores = 2 * torch.randn(n, case.units, generator=gen)
    noisy = scores + 2 * torch.randn(n, case.units, generator=gen)
    if case.task == "binary":
        labels = (noisy[:, -1] - (noisy[:, 0] if case.units == 2 else 0) > 0).long()
    elif case.task == "multilabel":
        labels = (noisy > 0).long()
    else:
        labels = noisy.argmax(dim=1)
    return scores, labels


def _ece(confidence: np.ndarray, correct: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum over equal-width bins of |accuracy - confidence| * share."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges, confidence, side="right") - 1
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += abs(correct[inside].mean() - confidence[inside].mean()) * inside.mean()
    return float(total)


def _sklearn(case: Case, probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Every metric of ClassificationMetrics, from scikit-learn (ECE from _ece)."""
    if case.task == "binary":
        pred = (probs > 0.5).astype(int)
        return {
            "accuracy": accuracy_score(labels, pred),
            "f1_macro": f1_score(labels, pred, average="macro"),
            "auroc": roc_auc_score(labels, probs),
            "ece": _ece(probs, labels),
            "nll": log_loss(labels, probs),
            "brier": brier_score_loss(labels, probs),
        }
    if case.task == "multilabel":
        pred = (probs > 0.5).astype(int)
        return {
            "accuracy": accuracy_score(labels.ravel(), pred.ravel()),
            "exact_match": accuracy_score(labels, pred),
            "f1_macro": f1_score(labels, pred, average="macro"),
            "f1_micro": f1_score(labels, pred, average="micro"),
            "auroc": roc_auc_score(labels, probs, average="macro"),
            "map": average_precision_score(labels, probs, average="macro"),
            "ece": _ece(probs.ravel(), labels.ravel()),
            "nll": log_loss(labels.ravel(), probs.ravel()),
            "brier": brier_score_loss(labels.ravel(), probs.ravel()),
        }
    classes = list(range(case.n_targets))
    pred = probs.argmax(axis=1)
    auroc = (
        roc_auc_score(labels, probs[:, 1])
        if case.n_targets == 2
        else roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    )
    return {
        "accuracy": accuracy_score(labels, pred),
        "f1_macro": f1_score(labels, pred, average="macro"),
        "auroc": auroc,
        "ece": _ece(probs.max(axis=1), (pred == labels).astype(float)),
        "nll": log_loss(labels, probs, labels=classes),
        "brier": brier_score_loss(labels, probs, labels=classes),
    }


def _accumulate(
    metrics: ClassificationMetrics, case: Case, scores: torch.Tensor, labels: torch.Tensor
) -> None:
    for score, label in zip(scores.split(BATCHES), labels.split(BATCHES), strict=True):
        probs = to_probabilities(score, case.link, case.task)
        metrics.update(probs, label, saturated=saturated_mask(score, case.link, case.task))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_metrics_match_sklearn_over_several_steps(case: Case) -> None:
    scores, labels = _data(case)
    scores[:3, 0] = 120.0  # fp32-saturated outputs (float64 ones below eps: the log-loss clips)
    metrics = ClassificationMetrics(case.task, case.n_targets, prefix="val/")
    _accumulate(metrics, case, scores, labels)
    result = metrics.compute()

    assert list(result) == [f"val/{name}" for name in METRIC_NAMES[case.task]]
    assert list(result) == list(metrics.names)
    probs = to_probabilities(scores, case.link, case.task).numpy()
    expected = _sklearn(case, probs, labels.numpy())
    expected["saturated"] = saturated_mask(scores, case.link, case.task).double().mean().item()
    assert 0 < expected["saturated"] < 1
    for name, value in expected.items():
        exact = name in ("nll", "brier", "saturated")  # float64 states
        assert result[f"val/{name}"].item() == pytest.approx(
            value, rel=1e-12 if exact else 1e-6, abs=1e-12 if exact else 1e-6
        ), name


def test_update_from_scores_equals_update() -> None:
    case = CASES[3]
    scores, labels = _data(case, seed=1)
    by_probs = ClassificationMetrics(case.task, case.n_targets)
    _accumulate(by_probs, case, scores, labels)
    by_scores = ClassificationMetrics(case.task, case.n_targets)
    for score, label in zip(scores.split(BATCHES), labels.split(BATCHES), strict=True):
        by_scores.update_from_scores(score, label, link="softmax")
    torch.testing.assert_close(by_scores.compute(), by_probs.compute())


def test_reset_forgets_earlier_steps() -> None:
    case = CASES[2]
    old_scores, old_labels = _data(case, seed=2)
    scores, labels = _data(case, seed=3)
    metrics = ClassificationMetrics(case.task, case.n_targets)
    _accumulate(metrics, case, old_scores, old_labels)
    metrics.compute()
    metrics.reset()
    _accumulate(metrics, case, scores, labels)
    fresh = ClassificationMetrics(case.task, case.n_targets)
    _accumulate(fresh, case, scores, labels)
    torch.testing.assert_close(metrics.compute(), fresh.compute())


def test_states_are_float64_child_modules() -> None:
    metrics = ClassificationMetrics("multiclass", 3)
    children = dict(metrics.named_children())["metrics"]
    assert all(isinstance(m, Metric) for m in children.values())
    assert {id(m) for m in children.values()} <= {id(m) for m in metrics.modules()}
    metrics.float()  # what a precision plugin may call; must not downcast the sums
    metrics.to("cpu")  # nor a device move (torchmetrics' .to() resets the dtype updates cast to)
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]], dtype=torch.float64)
    metrics.update(probs, torch.tensor([2, 0, 1]))
    result = metrics.compute()
    assert result["nll"].dtype == result["brier"].dtype == torch.float64
    nll = -(math.log(0.5) + math.log(0.6) + math.log(0.8)) / 3
    assert result["nll"].item() == pytest.approx(nll, rel=1e-15)


def test_saturated_is_nan_without_mask_and_weighs_elements() -> None:
    metrics = ClassificationMetrics("binary", 1)
    metrics.update(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
    assert math.isnan(metrics.compute()["saturated"].item())
    metrics.reset()
    metrics.update(torch.tensor([0.2]), torch.tensor([0]), saturated=torch.tensor([True]))
    metrics.update(
        torch.tensor([0.2, 0.3, 0.4]),
        torch.tensor([0, 0, 1]),
        saturated=torch.tensor([False, False, False]),
    )
    assert metrics.compute()["saturated"].item() == pytest.approx(0.25)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_without_validation() -> None:
    case = CASES[2]
    scores, labels = _data(case)
    on_cpu = ClassificationMetrics(case.task, case.n_targets)
    _accumulate(on_cpu, case, scores, labels)
    on_gpu = ClassificationMetrics(case.task, case.n_targets, validate_args=False).to("cuda")
    _accumulate(on_gpu, case, scores.cuda(), labels.cuda())
    result = on_gpu.compute()
    assert all(value.device.type == "cuda" for value in result.values())
    torch.testing.assert_close({k: v.cpu() for k, v in result.items()}, on_cpu.compute())


# --- expected calibration error by hand -------------------------------------------------------


def test_binary_ece_by_hand() -> None:
    # 15 bins of width 1/15: {0.1}, {0.3, 0.32}, {0.82}, {0.9}
    probs = torch.tensor([0.1, 0.3, 0.32, 0.82, 0.9], dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 1, 1])
    metrics = ClassificationMetrics("binary", 1)
    metrics.update(probs[:2], labels[:2])
    metrics.update(probs[2:], labels[2:])
    by_hand = (0.1 * 1 + abs(0.5 - 0.31) * 2 + 0.18 * 1 + 0.1 * 1) / 5  # = 0.152
    assert metrics.compute()["ece"].item() == pytest.approx(by_hand, abs=1e-12)


def test_multiclass_ece_is_top_label_by_hand() -> None:
    probs = torch.tensor(
        [
            [0.70, 0.20, 0.10],  # top 0.70, correct
            [0.72, 0.18, 0.10],  # top 0.72, wrong
            [0.28, 0.62, 0.10],
        ],  # top 0.62, correct
        dtype=torch.float64,
    )
    metrics = ClassificationMetrics("multiclass", 3)
    metrics.update(probs, torch.tensor([0, 2, 1]))
    # bins [0.600, 0.667): {0.62} with accuracy 1; [0.667, 0.733): {0.70, 0.72}, accuracy 0.5
    by_hand = (abs(1 - 0.62) * 1 + abs(0.5 - 0.71) * 2) / 3
    assert metrics.compute()["ece"].item() == pytest.approx(by_hand, abs=1e-6)


# --- to_probabilities ---------------------------------------------------------------------------


def test_binary_probabilities_are_float64_and_do_not_saturate() -> None:
    scores = torch.tensor([[20.0], [40.0]])
    probs = to_probabilities(scores, "sigmoid", "binary")
    assert probs.dtype == torch.float64 and probs.shape == (2,)
    assert probs[0] < probs[1]
    assert torch.sigmoid(scores[:, 0])[0] == torch.sigmoid(scores[:, 0])[1] == 1.0  # fp32 ties


def test_auroc_of_separated_large_logits_is_one() -> None:
    negatives, positives = torch.linspace(18, 24, 20), torch.linspace(26, 33, 20)
    scores = torch.cat([negatives, positives])[:, None]
    labels = torch.cat([torch.zeros(20), torch.ones(20)]).long()
    assert binary_auroc(torch.sigmoid(scores[:, 0]), labels).item() == 0.5  # the fp32 pitfall
    metrics = ClassificationMetrics("binary", 1)
    metrics.update_from_scores(scores, labels, link="sigmoid")
    result = metrics.compute()
    assert result["auroc"].item() == 1.0
    assert result["saturated"].item() == 1.0  # and what the fp32 head sees is all 1.0


def test_binary_softmax_link_takes_column_one() -> None:
    scores = torch.tensor([[0.0, 2.0], [2.0, 0.0], [1.0, 1.0]])
    probs = to_probabilities(scores, "softmax", "binary")
    expected = torch.sigmoid(torch.tensor([2.0, -2.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(probs, expected)


def test_multiclass_sigmoid_link_normalises_rows() -> None:
    scores = torch.tensor([[0.0, 1.0, -2.0], [-1000.0, -1000.0, -1000.0], [50.0, 0.0, -50.0]])
    probs = to_probabilities(scores, "sigmoid", "multiclass")
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3, dtype=torch.float64))
    sig = torch.sigmoid(scores[0].double())
    torch.testing.assert_close(probs[0], sig / sig.sum())
    torch.testing.assert_close(probs[1], torch.full((3,), 1 / 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("task", "link"),
    [("multiclass", "softmax"), ("multilabel", "sigmoid")],
    ids=["multiclass-softmax", "multilabel-sigmoid"],
)
def test_other_probabilities_match_torch(task: str, link: str) -> None:
    scores = torch.randn(5, 3, generator=torch.Generator().manual_seed(4))
    probs = to_probabilities(scores, link, task)
    expected = scores.double().softmax(1) if link == "softmax" else scores.double().sigmoid()
    torch.testing.assert_close(probs, expected)


@pytest.mark.parametrize(
    ("shape", "link", "task", "match"),
    [
        ((4, 2), "sigmoid", "binary", r"binary task with link 'sigmoid' must have shape \(N, 1\)"),
        ((4, 1), "softmax", "binary", r"binary task with link 'softmax' must have shape \(N, 2\)"),
        ((4,), "sigmoid", "binary", r"must have shape \(N, U\).*got shape \(4,\)"),
        ((4, 3), "softmax", "multilabel", "link='softmax' is invalid for task 'multilabel'"),
        ((4, 1), "softmax", "multiclass", r"C >= 2 classes, got \(4, 1\)"),
        ((4, 3), "tanh", "multiclass", "Unknown link 'tanh'. Valid links: sigmoid, softmax"),
        ((4, 3), "softmax", "regression", "Unknown task 'regression'. Valid tasks"),
    ],
    ids=[
        "binary-sigmoid-2-units",
        "binary-softmax-1-unit",
        "1d-scores",
        "multilabel-softmax",
        "multiclass-1-unit",
        "unknown-link",
        "unknown-task",
    ],
)
def test_to_probabilities_rejects(shape: tuple[int, ...], link: str, task: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        to_probabilities(torch.zeros(shape), link, task)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        saturated_mask(torch.zeros(shape), link, task)  # type: ignore[arg-type]


def test_to_probabilities_rejects_integer_scores() -> None:
    with pytest.raises(ValueError, match=r"floating-point tensor of raw scores, got torch\.int64"):
        to_probabilities(torch.zeros(3, 1, dtype=torch.long), "sigmoid", "binary")


# --- saturation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logit", "saturated"),
    [(17.0, True), (5.0, False), (-17.0, False), (-120.0, True)],
    ids=["fp32-17", "fp32-5", "fp32-minus-17", "fp32-minus-120"],
)
def test_sigmoid_saturation_in_fp32(logit: float, saturated: bool) -> None:
    scores = torch.tensor([[logit]])
    assert saturated_mask(scores, "sigmoid", "binary").item() is saturated
    assert saturated_fraction(scores, "sigmoid", "binary").item() == float(saturated)


def test_saturation_uses_the_scores_own_dtype() -> None:
    scores = torch.tensor([[17.0], [5.0], [30.0], [-2.0]])
    fraction = saturated_fraction(scores, "sigmoid", "binary")
    assert fraction.dtype == torch.float64 and fraction.item() == 0.5
    assert saturated_fraction(scores.double(), "sigmoid", "binary").item() == 0.0
    assert saturated_fraction(scores.half(), "sigmoid", "binary").item() == 0.5


def test_softmax_saturation_counts_every_unit() -> None:
    scores = torch.tensor([[0.0, 200.0, 0.0], [0.0, 30.0, 0.0], [0.0, 1.0, 2.0]])
    mask = saturated_mask(scores, "softmax", "multiclass")
    assert mask.tolist() == [[True, True, True], [False, True, False], [False, False, False]]


# --- ClassificationMetrics arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "n_targets", "match"),
    [
        ("binary", 2, "must be 1 for a binary task"),
        ("multiclass", 1, "must be >= 2"),
        ("multilabel", 0, "must be >= 1"),
        ("ranking", 3, "Unknown task 'ranking'"),
    ],
    ids=["binary-2", "multiclass-1", "multilabel-0", "unknown-task"],
)
def test_constructor_rejects(task: str, n_targets: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ClassificationMetrics(task, n_targets)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("task", "n_targets", "probs", "labels", "match"),
    [
        ("binary", 1, torch.rand(4, 1), torch.zeros(4, dtype=torch.long), r"shape \(N,\)"),
        ("multiclass", 3, torch.rand(4, 2), torch.zeros(4, dtype=torch.long), r"shape \(N, 3\)"),
        (
            "multilabel",
            3,
            torch.rand(4, 3),
            torch.zeros(4, dtype=torch.long),
            r"labels of a multilabel task.*shape \(N, 3\)",
        ),
        ("multiclass", 3, torch.rand(4, 3), torch.zeros(4), "labels must be integer"),
        (
            "binary",
            1,
            torch.tensor([-1.0, 3.0]),
            torch.zeros(2, dtype=torch.long),
            r"probs must lie in \[0, 1\], got values in \[-1.0, 3.0\]",
        ),
    ],
    ids=[
        "binary-2d-probs",
        "multiclass-too-few-columns",
        "multilabel-1d-labels",
        "float-labels",
        "raw-scores-as-probs",
    ],
)
def test_update_rejects(
    task: str, n_targets: int, probs: torch.Tensor, labels: torch.Tensor, match: str
) -> None:
    metrics = ClassificationMetrics(task, n_targets)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        metrics.update(probs, labels)


# ------------------------------------------------------------ classes a split cannot score


def _per_class_sklearn(labels: np.ndarray, probs: np.ndarray, task: str) -> dict[str, float]:
    """Macro AUROC (and mAP) from scikit-learn over the classes with a row with and a row
    without them; NaN when there are none (scikit-learn refuses such a class)."""
    onehot = np.eye(probs.shape[1], dtype=int)[labels] if task == "multiclass" else labels
    scored = [k for k in range(onehot.shape[1]) if 0 < onehot[:, k].sum() < len(onehot)]
    if not scored:
        return {"auroc": math.nan, "map": math.nan}
    return {
        "auroc": float(np.mean([roc_auc_score(onehot[:, k], probs[:, k]) for k in scored])),
        "map": float(np.mean([average_precision_score(onehot[:, k], probs[:, k]) for k in scored])),
    }


def _probs(n: int, units: int, seed: int, task: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, units, generator=gen, dtype=torch.float64)
    link = "sigmoid" if task == "multilabel" else "softmax"
    return to_probabilities(scores, link, task)


UNSCORED = {
    # class 3 has no row: torchmetrics' macro counted it as 0
    "multiclass-one-class-absent": ("multiclass", np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 1]), [3]),
    "multiclass-two-classes-absent": ("multiclass", np.array([0, 1, 0, 1, 1, 0, 0, 1]), [2, 3]),
    "multiclass-one-class-only": ("multiclass", np.array([2, 2, 2, 2]), [0, 1, 2, 3]),
    # label 1 has no positive, label 2 no negative
    "multilabel-no-positive-no-negative": (
        "multilabel",
        np.array([[1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], [1, 0, 1, 1]]),
        [1, 2],
    ),
}


@pytest.mark.parametrize(
    ("task", "labels", "unscored"), list(UNSCORED.values()), ids=list(UNSCORED)
)
def test_macro_auroc_and_map_average_over_the_scored_classes(
    task: str, labels: np.ndarray, unscored: list[int]
) -> None:
    probs = _probs(len(labels), 4, seed=len(labels), task=task)
    metrics = ClassificationMetrics(task, 4, prefix="test/")
    metrics.update(probs[:3], torch.from_numpy(labels[:3]))  # two steps
    metrics.update(probs[3:], torch.from_numpy(labels[3:]))
    result = metrics.compute()
    expected = _per_class_sklearn(labels, probs.numpy(), task)
    assert unscored_classes(torch.from_numpy(labels), task, 4) == unscored
    for name in ("auroc", "map") if task == "multilabel" else ("auroc",):
        value = result[f"test/{name}"].item()
        if math.isnan(expected[name]):
            assert math.isnan(value), name
        else:
            assert value == pytest.approx(expected[name], rel=1e-6), name  # float32 areas


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [1, 1, 1]], ids=["no-positive", "no-negative"])
def test_binary_auroc_of_a_split_with_one_class_is_nan(labels: list[int]) -> None:
    metrics = ClassificationMetrics("binary", 1, prefix="test/")
    probs = torch.linspace(0.1, 0.9, len(labels), dtype=torch.float64)
    metrics.update(probs, torch.tensor(labels))
    result = metrics.compute()
    assert math.isnan(result["test/auroc"].item())  # was 0: torchmetrics' zero tpr or fpr
    assert result["test/accuracy"].item() == pytest.approx(
        np.mean((probs.numpy() > 0.5) == np.array(labels))
    )


def test_scored_classes_leave_ordinary_values_as_torchmetrics_macro() -> None:
    """With every class scored, the value is torchmetrics' own macro average, bit for bit."""
    from torchmetrics.functional.classification import (
        multiclass_auroc,
        multilabel_auroc,
        multilabel_average_precision,
    )

    labels = torch.arange(40) % 4
    probs = _probs(40, 4, seed=5, task="multiclass")
    metrics = ClassificationMetrics("multiclass", 4)
    metrics.update(probs, labels)
    macro = multiclass_auroc(probs, labels, 4, average="macro", thresholds=None)
    assert torch.equal(metrics.compute()["auroc"], macro)
    multi = (torch.arange(40)[:, None] % torch.tensor([2, 3, 5]) == 0).long()
    probs = _probs(40, 3, seed=6, task="multilabel")
    metrics = ClassificationMetrics("multilabel", 3)
    metrics.update(probs, multi)
    result = metrics.compute()
    assert torch.equal(result["auroc"], multilabel_auroc(probs, multi, 3, thresholds=None))
    assert torch.equal(
        result["map"], multilabel_average_precision(probs, multi, 3, thresholds=None)
    )


def test_torchmetrics_no_samples_warning_is_not_repeated() -> None:
    """lossbench says which classes a split cannot score; torchmetrics' generic warning goes."""
    import warnings

    metrics = ClassificationMetrics("multiclass", 3)
    metrics.update(_probs(4, 3, seed=1, task="multiclass"), torch.tensor([0, 1, 0, 1]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics.compute()
    assert not [w for w in caught if "samples" in str(w.message)]


@pytest.mark.parametrize(
    ("task", "unscored", "n_targets", "says"),
    [
        pytest.param(
            "binary",
            ["y"],
            1,
            r"test split has no positive or no negative row of label 'y'.*"
            r"test/auroc is NaN",
            id="binary",
        ),
        pytest.param(
            "multiclass",
            ["d", "e"],
            7,
            r"cannot score classes 'd', 'e': it has no row of them.*"
            r"test/auroc is the mean over the other 5 of 7 classes",
            id="multiclass",
        ),
        pytest.param(
            "multilabel",
            ["u"],
            3,
            r"cannot score label 'u'.*test/auroc and test/map are the "
            r"mean over the other 2 of 3 labels.*unscored_classes.*data\.test_fraction",
            id="multilabel",
        ),
    ],
)
def test_warning_names_the_split_the_classes_and_the_metrics(
    task: str, unscored: list[str], n_targets: int, says: str
) -> None:
    with pytest.warns(UnscoredClassWarning, match=says):
        warn_unscored({"val": [], "test": unscored}, task, n_targets, "data=csv")


def test_multilabel_macro_f1_leaves_out_labels_neither_present_nor_predicted():
    """As the multi-class macro F1 (and sklearn's macro over those labels): a label no row has
    and no row is predicted to have has no F1; one predicted where no row has it scores 0."""
    from sklearn.metrics import f1_score

    generator = torch.Generator().manual_seed(0)
    probs = torch.rand(40, 4, generator=generator, dtype=torch.float64)
    labels = (torch.rand(40, 4, generator=generator) > 0.5).long()
    labels[:, 2] = 0  # never present ...
    probs[:, 2] = 0.1  # ... and never predicted: left out
    labels[:, 3] = 0  # never present, predicted in some rows: counts, with F1 0
    metrics = ClassificationMetrics("multilabel", 4, prefix="test/")
    metrics.update(probs, labels)
    got = float(metrics.compute()["test/f1_macro"])
    predicted = (probs > 0.5).long().numpy()
    expected = f1_score(labels.numpy(), predicted, average="macro", labels=[0, 1, 3])
    assert got == pytest.approx(expected, abs=1e-6)
    assert float(f1_score(labels.numpy(), predicted, average=None, labels=[3])[0]) == 0.0

    perfect = ClassificationMetrics("multilabel", 2, prefix="test/")
    perfect.update(
        torch.tensor([[0.9, 0.1], [0.2, 0.3]], dtype=torch.float64), torch.tensor([[1, 0], [0, 0]])
    )
    assert float(perfect.compute()["test/f1_macro"]) == 1.0  # torchmetrics' macro: 0.5


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("ambient", [torch.bfloat16, torch.float64], ids=["bf16", "float64"])
def test_metrics_do_not_take_the_default_dtype_of_the_moment(task, ambient):
    """Lightning's bf16-true / 64-true precision sets torch's default dtype within its steps and
    the run's final evaluation; torchmetrics' F1 and AUROC took it in part (``2 * tp``, the
    ROC curve's cumulated counts), so 3000 rows gave a bfloat16-rounded AUROC from counts
    that stopped at 256. The metrics of float32 scores are the float32 ones whatever it is."""
    generator = torch.Generator().manual_seed(0)
    n, units = 3000, {"binary": 1, "multiclass": 3, "multilabel": 3}[task]
    scores = torch.randn(n, units, generator=generator)
    if task == "multiclass":
        labels = torch.randint(0, units, (n,), generator=generator)
    else:
        labels = (torch.rand(n, units, generator=generator) < torch.sigmoid(scores)).long()
        labels = labels[:, 0] if task == "binary" else labels
    link, n_targets = ("softmax", 3) if task == "multiclass" else ("sigmoid", units)

    def computed() -> dict[str, torch.Tensor]:
        metrics = ClassificationMetrics(task, n_targets)
        metrics.update_from_scores(scores, labels, link=link)
        return metrics.compute()

    expected = computed()
    before = torch.get_default_dtype()
    torch.set_default_dtype(ambient)
    try:
        got = computed()
    finally:
        torch.set_default_dtype(before)
    assert {k: v.dtype for k, v in got.items()} == {k: v.dtype for k, v in expected.items()}
    assert {k: float(v) for k, v in got.items()} == {k: float(v) for k, v in expected.items()}
    if task == "binary":
        probs = to_probabilities(scores, link, task).numpy()
        assert float(got["auroc"]) == pytest.approx(roc_auc_score(labels.numpy(), probs), abs=1e-6)


def test_metrics_of_float64_scores_are_computed_in_float64():
    """64-true: the scores are float64, and so are the F1 and AUROC computed from them,
    wherever they are computed (the run's final evaluation, lossbench-eval's test loop)."""
    scores = torch.tensor([[0.3], [-1.2], [2.0], [0.1], [-0.4]], dtype=torch.float64)
    labels = torch.tensor([1, 0, 1, 0, 1])
    metrics = ClassificationMetrics("binary", 1)
    metrics.update_from_scores(scores, labels, link="sigmoid")
    values = metrics.compute()
    assert values["auroc"].dtype == values["f1_macro"].dtype == torch.float64
    assert float(values["auroc"]) == roc_auc_score(labels.numpy(), scores[:, 0].numpy())
