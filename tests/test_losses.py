"""Losses built by lossbench: torch's equalities, the articles' worked numbers, config checks.

Every loss here comes from ``build_loss`` and every activation from ``build_head``, so these
tests prove what lossbench hands to training, not what torch does on its own.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from lossbench.heads import build_head
from lossbench.losses import (
    LOSSES,
    build_loss,
    encode_targets,
    n_outputs,
    validate_loss_params,
)
from lossbench.losses.building import check_ignore_index
from lossbench.tasks import is_dense, position_task


def make(
    name: str, params: dict | None = None, *, task: str = "binary", units: int = 1, **kwargs
) -> nn.Module:
    """Build loss ``name`` the way training does."""
    return build_loss(name, params or {}, task=task, n_outputs=units, **kwargs)


def loss_and_grad(
    loss: nn.Module, head: str, logits: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss value and its gradient with respect to the raw scores, through ``head``."""
    x = logits.detach().clone().requires_grad_(True)
    value = loss(build_head(head)(x), target)
    value.backward()
    return value.detach(), x.grad


# ------------------------------------------------------------------------------- equalities

SHAPES = {"binary": (16,), "multilabel": (16, 3)}


@pytest.mark.parametrize("task", list(SHAPES))
def test_bce_on_sigmoid_equals_bce_with_logits(task):
    g = torch.Generator().manual_seed(1)
    logits = (torch.randn(SHAPES[task], generator=g) * 4).clamp(-8, 8)  # sigmoid not saturated
    target = torch.randint(0, 2, SHAPES[task], generator=g).float()
    units = 1 if task == "binary" else 3
    bce, bce_grad = loss_and_grad(make("bce", task=task, units=units), "sigmoid", logits, target)
    bcel, bcel_grad = loss_and_grad(
        make("bce_with_logits", task=task, units=units), "logits", logits, target
    )
    assert_close(bce, bcel)
    assert_close(bce_grad, bcel_grad)


@pytest.mark.parametrize(
    ("z", "y", "bce_with_logits_loss", "bce_with_logits_grad"),
    [
        (17.5, 0.0, 17.5, 1.0),
        (20.0, 0.0, 20.0, 1.0),
        (100.0, 0.0, 100.0, 1.0),
        (-100.0, 1.0, 100.0, -1.0),
    ],
    ids=["z=17.5,y=0", "z=20,y=0", "z=100,y=0", "z=-100,y=1"],
)
def test_bce_on_saturated_sigmoid_loses_the_gradient(
    z, y, bce_with_logits_loss, bce_with_logits_grad
):
    """LOSSES.md's table: once sigmoid rounds to 0 or 1, sigmoid + BCELoss gives loss 100
    (the clamped log) and gradient 0; BCEWithLogits keeps loss |z| and gradient +-1."""
    logits, target = torch.tensor([z]), torch.tensor([y])
    bce, bce_grad = loss_and_grad(make("bce"), "sigmoid", logits, target)
    bcel, bcel_grad = loss_and_grad(make("bce_with_logits"), "logits", logits, target)
    assert bce.item() == 100.0
    assert bce_grad.item() == 0.0
    assert bcel.item() == pytest.approx(bce_with_logits_loss)
    assert bcel_grad.item() == pytest.approx(bce_with_logits_grad)


def test_sigmoid_saturation_is_asymmetric_in_fp32():
    """sigmoid(-18) is still a representable 1.5e-8, so BCE and BCEWithLogits agree there,
    while sigmoid(17.5) is already exactly 1.0."""
    assert torch.sigmoid(torch.tensor(17.5)).item() == 1.0
    logits, target = torch.tensor([-18.0]), torch.tensor([1.0])
    bce, bce_grad = loss_and_grad(make("bce"), "sigmoid", logits, target)
    bcel, bcel_grad = loss_and_grad(make("bce_with_logits"), "logits", logits, target)
    assert_close(bce, bcel)
    assert_close(bce_grad, bcel_grad)
    assert bce_grad.item() == pytest.approx(-1.0)


def test_nll_on_log_softmax_equals_cross_entropy():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(12, 5, generator=g) * 3
    target = torch.randint(0, 5, (12,), generator=g)
    ce, ce_grad = loss_and_grad(
        make("cross_entropy", task="multiclass", units=5), "logits", logits, target
    )
    nll, nll_grad = loss_and_grad(
        make("nll", task="multiclass", units=5), "log_softmax", logits, target
    )
    assert_close(ce, nll)
    assert_close(ce_grad, nll_grad)


def test_log_softmax_head_is_stable_where_log_of_softmax_is_not():
    """Logits [-100, 0, 0], target 0: CE and LogSoftmax + NLL give 100.69 with gradient -1;
    log(softmax(x)) + NLL gives a wrong loss and a NaN gradient."""
    logits, target = torch.tensor([[-100.0, 0.0, 0.0]]), torch.tensor([0])
    expected = 100.0 + math.log(2.0)
    ce, ce_grad = loss_and_grad(
        make("cross_entropy", task="multiclass", units=3), "logits", logits, target
    )
    nll, nll_grad = loss_and_grad(
        make("nll", task="multiclass", units=3), "log_softmax", logits, target
    )
    for value, grad in ((ce, ce_grad), (nll, nll_grad)):
        assert value.item() == pytest.approx(expected, rel=1e-6)
        assert_close(grad, torch.tensor([[-1.0, 0.5, 0.5]]))
    x = logits.clone().requires_grad_(True)
    make("nll", task="multiclass", units=3)(torch.log(build_head("softmax")(x)), target).backward()
    assert torch.isnan(x.grad[0, 0])


@pytest.mark.parametrize("task", list(SHAPES))
def test_focal_with_gamma_0_and_no_alpha_equals_bce_with_logits(task):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(SHAPES[task], generator=g) * 5
    target = torch.randint(0, 2, SHAPES[task], generator=g).float()
    units = 1 if task == "binary" else 3
    focal, focal_grad = loss_and_grad(
        make("focal", {"gamma": 0.0, "alpha": None}, task=task, units=units),
        "logits",
        logits,
        target,
    )
    bcel, bcel_grad = loss_and_grad(
        make("bce_with_logits", task=task, units=units), "logits", logits, target
    )
    assert_close(focal, bcel)
    assert_close(focal_grad, bcel_grad)


@pytest.mark.parametrize("epsilon", [0.05, 0.1, 0.3])
def test_label_smoothing_equals_cross_entropy_on_soft_targets(epsilon):
    g = torch.Generator().manual_seed(4)
    n_classes = 4
    logits = torch.randn(10, n_classes, generator=g) * 2
    labels = torch.randint(0, n_classes, (10,), generator=g)
    soft = (1 - epsilon) * F.one_hot(labels, n_classes).float() + epsilon / n_classes
    smoothed = make(
        "cross_entropy", {"label_smoothing": epsilon}, task="multiclass", units=n_classes
    )
    plain = make("cross_entropy", task="multiclass", units=n_classes)
    assert_close(smoothed(logits, labels), plain(logits, soft))
    assert not torch.isclose(smoothed(logits, labels), plain(logits, labels))


def reference_sigmoid_focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    """torchvision's sigmoid_focal_loss written per case, in float64 (reduction 'none').

    y = 1: -alpha * (1 - p)^gamma * log(p);  y = 0: -(1 - alpha) * p^gamma * log(1 - p).
    """
    x, y = logits.double(), target.double()
    p = torch.sigmoid(x)
    positive = -alpha * (1 - p) ** gamma * F.logsigmoid(x)
    negative = -(1 - alpha) * p**gamma * F.logsigmoid(-x)
    return torch.where(y == 1, positive, negative)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_focal_matches_torchvision_formula(reduction):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(20, 3, generator=g) * 4
    target = torch.randint(0, 2, (20, 3), generator=g).float()
    loss = make(
        "focal", {"alpha": 0.25, "gamma": 2.0, "reduction": reduction}, task="multilabel", units=3
    )
    expected = reference_sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0)
    expected = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[reduction]
    assert_close(loss(logits, target), expected.float())


def test_focal_alpha_null_means_no_weighting_and_omitted_means_torchvision_default():
    assert make("focal", {}).alpha == 0.25
    assert make("focal", {"alpha": None}).alpha is None
    assert make("focal", {"alpha": 0.5, "gamma": 1.0}).gamma == 1.0


def test_focal_hand_value_at_zero_logit():
    """x = 0, y = 1: p_t = 0.5, so the loss is 0.25 * 0.5^2 * ln 2."""
    loss = make("focal", {"alpha": 0.25, "gamma": 2.0})
    assert loss(torch.tensor([0.0]), torch.tensor([1.0])).item() == pytest.approx(
        0.25 * 0.25 * math.log(2)
    )


def test_manual_bce_blows_up_where_torch_losses_do_not():
    """sigmoid(20) rounds to 1.0 in fp32; with target 0 the hand-written BCE takes log(0)."""
    logits, target = torch.tensor([20.0]), torch.tensor([0.0])
    manual, manual_grad = loss_and_grad(make("manual_bce"), "sigmoid", logits, target)
    bce, bce_grad = loss_and_grad(make("bce"), "sigmoid", logits, target)
    bcel, bcel_grad = loss_and_grad(make("bce_with_logits"), "logits", logits, target)
    assert math.isinf(manual.item())
    assert torch.isnan(manual_grad).all()
    assert (bce.item(), bce_grad.item()) == (100.0, 0.0)
    assert bcel.item() == pytest.approx(20.0)
    assert bcel_grad.item() == pytest.approx(1.0)


def test_manual_bce_equals_bce_away_from_saturation():
    g = torch.Generator().manual_seed(6)
    probs = torch.rand(8, 2, generator=g) * 0.9 + 0.05
    target = torch.randint(0, 2, (8, 2), generator=g).float()
    assert_close(
        make("manual_bce", task="multilabel", units=2)(probs, target),
        make("bce", task="multilabel", units=2)(probs, target),
    )


# ---------------------------------------------------------------- the articles' worked examples
# Seeds file 004 seeds once per function, then draws y_true before y_pred.

ARTICLE_BCE_TRUE_1 = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("name", "head", "n_labels", "printed"),
    [
        ("bce", "sigmoid", 1, 0.87),
        ("bce", "sigmoid", 2, 0.81),
        ("bce_with_logits", "logits", 1, 0.87),
        ("bce_with_logits", "logits", 2, 0.81),
    ],
    ids=[
        "bce-single_label",
        "bce-two_labels",
        "bce_with_logits-single_label",
        "bce_with_logits-two_labels",
    ],
)
def test_article_bce_examples(name, head, n_labels, printed):
    torch.manual_seed(0)
    y_true = torch.randint(0, 2, size=[10, n_labels]).float()
    y_pred = build_head(head)(torch.randn(10, n_labels))
    task = "binary" if n_labels == 1 else "multilabel"
    loss = make(name, task=task, units=n_labels)(y_pred, y_true)
    assert round(loss.item(), 2) == printed
    if n_labels == 1:  # the article's printed draws, to prove the seed is reproduced
        assert y_true.flatten().tolist() == ARTICLE_BCE_TRUE_1
        expected_first = 0.5400 if head == "sigmoid" else 0.1604
        assert y_pred[0, 0].item() == pytest.approx(expected_first, abs=5e-5)


def test_article_cross_entropy_example():
    torch.manual_seed(0)
    y_true = torch.randint(0, 4, size=[10])
    y_pred = torch.randn(10, 4)
    loss = make("cross_entropy", task="multiclass", units=4)(y_pred, y_true)
    assert y_true.tolist() == [0, 3, 1, 0, 3, 3, 3, 3, 1, 3]
    assert round(loss.item(), 2) == 1.45


def test_article_k_dimensional_cross_entropy_example():
    torch.manual_seed(0)
    y_true = torch.randint(0, 4, size=[5, 2])
    y_pred = torch.randn(5, 4, 2)
    loss = make("cross_entropy", task="multiclass", units=4)(y_pred, y_true)
    assert round(loss.item(), 2) == 2.14


def test_article_mse_example():
    torch.manual_seed(0)
    inputs = torch.randint(0, 10, size=[10, 1]).float()
    target = torch.randint(0, 10, size=[10, 1]).float()
    loss = make("mse")(inputs, target)
    assert inputs.flatten().tolist() == [4, 9, 3, 0, 3, 9, 7, 3, 7, 3]
    assert round(loss.item(), 2) == 17.70


def test_article_cross_entropy_equals_log_softmax_plus_nll_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]] * 3)
    labels = torch.tensor([1, 0, 4])
    log_sum_exp = math.log(sum(math.exp(k) for k in range(1, 6)))
    by_hand = sum(log_sum_exp - logits[i, c].item() for i, c in enumerate(labels.tolist())) / 3
    ce = make("cross_entropy", task="multiclass", units=5)(logits, labels)
    nll = make("nll", task="multiclass", units=5)(build_head("log_softmax")(logits), labels)
    assert ce.item() == pytest.approx(by_hand, rel=1e-6)
    assert nll.item() == pytest.approx(by_hand, rel=1e-6)
    assert by_hand == pytest.approx(2.7852, abs=1e-4)


def test_article_bce_with_logits_example_by_hand():
    predicted = torch.tensor([2.0, -1.0, 0.0, 5.0], requires_grad=True)
    target = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss = make("bce_with_logits")(predicted, target)
    loss.backward()

    def sigmoid(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    per_sample = [
        -(y * math.log(sigmoid(z)) + (1 - y) * math.log(1 - sigmoid(z)))
        for z, y in zip([2.0, -1.0, 0.0, 5.0], target.tolist(), strict=True)
    ]
    assert loss.item() == pytest.approx(sum(per_sample) / 4, rel=1e-6)
    assert loss.item() == pytest.approx(1.5350, abs=1e-4)
    grads = [
        (sigmoid(z) - y) / 4 for z, y in zip([2.0, -1.0, 0.0, 5.0], target.tolist(), strict=True)
    ]
    assert_close(predicted.grad, torch.tensor(grads))


# ------------------------------------------------------------- legacy size_average / reduce
# The first article's table: reduce=False gives the per-element loss whatever size_average says;
# otherwise size_average picks mean (True, the default) or sum (False).
LEGACY_TABLE = {
    (None, None): "mean",
    (None, True): "mean",
    (None, False): "none",
    (True, None): "mean",
    (True, True): "mean",
    (True, False): "none",
    (False, None): "sum",
    (False, True): "sum",
    (False, False): "none",
}


@pytest.mark.parametrize(
    ("size_average", "reduce"),
    list(LEGACY_TABLE),
    ids=[f"size_average={sa}-reduce={r}" for sa, r in LEGACY_TABLE],
)
def test_legacy_pair_maps_like_torch(size_average, reduce):
    g = torch.Generator().manual_seed(7)
    probs = torch.rand(3, 4, generator=g) * 0.98 + 0.01
    target = torch.randint(0, 2, (3, 4), generator=g).float()
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter("always")
        reference = nn.BCELoss(size_average=size_average, reduce=reduce)
    params = {"size_average": size_average, "reduce": reduce}
    if size_average is None and reduce is None:
        assert not torch_warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing legacy was asked for: stay silent
            loss = make("bce", params, task="multilabel", units=4)
    else:
        assert any(
            "size_average and reduce args will be deprecated" in str(w.message)
            for w in torch_warnings
        )
        expected = LEGACY_TABLE[size_average, reduce]
        with pytest.warns(FutureWarning, match=f"reduction='{expected}'"):
            loss = make("bce", params, task="multilabel", units=4)
    assert loss.reduction == reference.reduction == LEGACY_TABLE[size_average, reduce]
    assert_close(loss(probs, target), reference(probs, target))


@pytest.mark.parametrize(
    ("reduction", "legacy", "expected"),
    [
        ("none", {"size_average": False}, "sum"),
        ("sum", {"reduce": False}, "none"),
        ("sum", {"size_average": True, "reduce": True}, "mean"),
    ],
    ids=["none+size_average=False", "sum+reduce=False", "sum+both_True"],
)
def test_legacy_pair_overrides_reduction_like_torch(reduction, legacy, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = nn.BCELoss(reduction=reduction, **legacy)
    with pytest.warns(FutureWarning, match="override"):
        loss = make("bce", {"reduction": reduction, **legacy})
    assert loss.reduction == reference.reduction == expected


@pytest.mark.parametrize("name", ["focal", "manual_bce"])
def test_legacy_pair_is_refused_for_losses_torch_never_had_it(name):
    assert not LOSSES[name].legacy_reduction
    with pytest.raises(ValueError, match=rf"loss '{name}' does not take size_average=False"):
        make(name, {"size_average": False})


# ------------------------------------------------------------------------------- pos_weight


def test_pos_weight_number_is_repeated_per_unit():
    loss = make("bce_with_logits", {"pos_weight": 3}, task="multilabel", units=3)
    assert_close(loss.pos_weight, torch.tensor([3.0, 3.0, 3.0]))


def test_pos_weight_list_weighs_positives_per_label():
    loss = make("bce_with_logits", {"pos_weight": [1, 2, 0.5]}, task="multilabel", units=3)
    assert_close(loss.pos_weight, torch.tensor([1.0, 2.0, 0.5]))
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(6, 3, generator=g)
    target = torch.randint(0, 2, (6, 3), generator=g).float()
    w = torch.tensor([1.0, 2.0, 0.5])
    by_hand = -(w * target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits))
    assert_close(loss(logits, target), by_hand.mean())


def test_pos_weight_auto_is_negatives_over_positives_per_label():
    targets = torch.tensor([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 0]], dtype=torch.int64)
    encoded = encode_targets(targets, "multilabel", "bce_with_logits", n_classes=3)
    loss = make(
        "bce_with_logits", {"pos_weight": "auto"}, task="multilabel", units=3, train_targets=encoded
    )
    assert_close(loss.pos_weight, torch.tensor([3.0, 3.0, 1 / 3]))


def test_pos_weight_auto_puts_the_intercept_only_optimum_at_zero():
    """With pos_weight = negatives / positives, b = log(w p / (1 - p)) = 0 is the optimum of an
    intercept-only model: the gradient at b = 0 vanishes, and without pos_weight it does not."""
    target = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0])  # p = 1/4, w = 3
    weighted = make("bce_with_logits", {"pos_weight": "auto"}, train_targets=target)
    plain = make("bce_with_logits")
    for loss, expect_zero in ((weighted, True), (plain, False)):
        b = torch.zeros(1, requires_grad=True)
        loss(b.expand(8), target).backward()
        assert (abs(b.grad.item()) < 1e-7) is expect_zero
    b = torch.full((1,), math.log(0.25 / 0.75), requires_grad=True)  # plain optimum: logit(p)
    plain(b.expand(8), target).backward()
    assert abs(b.grad.item()) < 1e-7


@pytest.mark.parametrize(
    ("name", "key", "task", "units", "value"),
    [
        ("bce_with_logits", "pos_weight", "multilabel", 3, [1.0, 2.0]),
        ("bce_with_logits", "weight", "multilabel", 3, [1.0, 2.0, 3.0, 4.0]),
        ("bce", "weight", "multiclass", 3, [1.0, 2.0]),
        ("cross_entropy", "weight", "binary", 2, [1.0, 2.0, 3.0]),
        ("nll", "weight", "multiclass", 4, [1.0]),
    ],
    ids=[
        "bce_with_logits-pos_weight-2_for_3",
        "bce_with_logits-weight-4_for_3",
        "bce-weight-2_for_3",
        "cross_entropy-weight-3_for_2",
        "nll-weight-1_for_4",
    ],
)
def test_per_unit_list_of_wrong_length_is_refused(name, key, task, units, value):
    pattern = (
        rf"loss\.{key}=\[.*\] is invalid for loss '{name}': it has {len(value)} entries, "
        rf"but a {task} task with this loss has {units} output unit"
    )
    with pytest.raises(ValueError, match=pattern):
        make(name, {key: value}, task=task, units=units)


def test_pos_weight_auto_refuses_a_label_without_positives():
    targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match=r"pos_weight=auto.*unit\(s\) \[1\] have no positive"):
        make(
            "bce_with_logits",
            {"pos_weight": "auto"},
            task="multilabel",
            units=2,
            train_targets=targets,
        )


def test_pos_weight_auto_needs_the_training_targets():
    with pytest.raises(ValueError, match="pos_weight=auto needs the training targets"):
        make("bce_with_logits", {"pos_weight": "auto"})


def test_pos_weight_auto_refuses_class_indices():
    """Un-encoded multi-class labels would otherwise give a negative pos_weight silently."""
    with pytest.raises(ValueError, match=r"pos_weight=auto needs 0/1 targets.*\[0, 2\]"):
        make(
            "bce_with_logits",
            {"pos_weight": "auto"},
            task="multiclass",
            units=3,
            train_targets=torch.tensor([0, 1, 2, 2]),
        )


def test_pos_weight_auto_refuses_targets_with_the_wrong_number_of_columns():
    with pytest.raises(ValueError, match=r"loss\.pos_weight='auto'.*2 column\(s\).*3 output"):
        make(
            "bce_with_logits",
            {"pos_weight": "auto"},
            task="multilabel",
            units=3,
            train_targets=torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        )


# ----------------------------------------------------------------------- validate_loss_params

INVALID_PARAMS = {
    "label_smoothing=-0.1": (
        "cross_entropy",
        {"label_smoothing": -0.1},
        r"loss\.label_smoothing=-0\.1 .*\[0, 1\)",
    ),
    "label_smoothing=1.0": (
        "cross_entropy",
        {"label_smoothing": 1.0},
        r"loss\.label_smoothing=1\.0 .*\[0, 1\)",
    ),
    "gamma=-1": ("focal", {"gamma": -1.0}, r"loss\.gamma=-1\.0 .*>= 0"),
    "gamma=inf": ("focal", {"gamma": math.inf}, r"loss\.gamma=inf"),
    "alpha=1.5": ("focal", {"alpha": 1.5}, r"loss\.alpha=1\.5 .*\[0, 1\]"),
    "reduction=avg": ("bce", {"reduction": "avg"}, r"loss\.reduction='avg' .*none, mean, sum"),
    "weight=negative": ("bce", {"weight": [1.0, -1.0]}, r"loss\.weight=\[1\.0, -1\.0\]"),
    "weight=all-zero": (
        "cross_entropy",
        {"weight": [0, 0, 0]},
        r"loss\.weight=\[0, 0, 0\] .*not 0 for every unit.*would leave nothing to train",
    ),
    "weight=zero": ("bce_with_logits", {"weight": 0}, r"loss\.weight=0 .*not 0 for every unit"),
    "pos_weight=all-zero": (
        "bce_with_logits",
        {"pos_weight": [0.0, 0.0]},
        r"loss\.pos_weight=\[0\.0, 0\.0\] .*not 0 for every unit.*positives out of the loss",
    ),
    "pos_weight=balanced": (
        "bce_with_logits",
        {"pos_weight": "balanced"},
        r"loss\.pos_weight='balanced' .*'auto'",
    ),
    "unknown_key": (
        "bce",
        {"gamma": 2.0},
        r"loss 'bce' does not take gamma=2\.0; it takes "
        r"reduction, weight",
    ),
    "weight_for_mse": ("mse", {"weight": [1.0]}, r"loss 'mse' does not take weight=\[1\.0\]"),
}


@pytest.mark.parametrize(
    ("name", "params", "pattern"), list(INVALID_PARAMS.values()), ids=list(INVALID_PARAMS)
)
def test_invalid_params_name_the_key_and_the_value(name, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        validate_loss_params(name, params)
    with pytest.raises(ValueError, match=pattern):  # build_loss runs the same validation
        make(name, params, task="multilabel", units=2)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("cross_entropy", {"label_smoothing": 0.0}),
        ("cross_entropy", {"label_smoothing": 0.99}),
        ("focal", {"alpha": None, "gamma": 0}),
        ("focal", {"alpha": 0.0, "gamma": 5.0}),
        ("bce_with_logits", {"pos_weight": "auto", "weight": 2.0}),
        ("nll", {"weight": [0.0, 1.0, 0.0]}),
        ("bce", {"size_average": None, "reduce": None, "reduction": "sum"}),
    ],
    ids=[
        "label_smoothing=0",
        "label_smoothing=0.99",
        "focal-gamma=0",
        "focal-alpha=0",
        "pos_weight=auto",
        "weight=some-zero",
        "legacy_unset",
    ],
)
def test_valid_params_pass(name, params):
    assert validate_loss_params(name, params) is None


@pytest.mark.parametrize("name", list(LOSSES))
def test_build_loss_gives_the_registered_class(name):
    loss = make(name, task="multilabel", units=2)
    assert type(loss).__name__ == LOSSES[name].torch_name.split(".")[-1].split()[-1]
    assert loss.reduction == "mean"


# ------------------------------------------------------------------ targets and output units

LABELS = {
    "binary": torch.tensor([0, 1, 1, 0]),
    "multilabel": torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]]),
    "multiclass": torch.tensor([2, 0, 1, 2]),
}
TARGET_CELLS = [(task, name) for name, spec in LOSSES.items() for task in spec.tasks]
DENSE_TARGET_CELLS = [(task, name) for task, name in TARGET_CELLS if is_dense(task)]
TARGET_CELLS = [(task, name) for task, name in TARGET_CELLS if not is_dense(task)]


@pytest.mark.parametrize(
    ("task", "name"),
    DENSE_TARGET_CELLS,
    ids=[f"{task}-{name}" for task, name in DENSE_TARGET_CELLS],
)
def test_dense_targets_are_the_per_position_targets_in_map_form(task, name):
    """A map of labels (N, H, W) encodes as its positions would, with units along dim 1."""
    kind = position_task(task)
    flat = LABELS[kind]  # four positions
    maps = flat.reshape(1, 2, 2)
    target = encode_targets(maps, task, name, n_classes=3)
    per_position = encode_targets(flat, kind, name, n_classes=3)
    assert n_outputs(task, 1 if kind == "binary" else 3, name) == n_outputs(
        kind, 1 if kind == "binary" else 3, name
    )
    if LOSSES[name].target_for(task) == "index":
        assert target.dtype == torch.int64 and target.shape == (1, 2, 2)
        assert_close(target.flatten(), per_position)
    else:
        units = 1 if per_position.ndim == 1 else per_position.shape[1]
        assert target.shape == (1, units, 2, 2) and target.dtype == torch.float32
        assert_close(target.movedim(1, -1).reshape(4, units).squeeze(-1), per_position)


@pytest.mark.parametrize(
    ("task", "name"), TARGET_CELLS, ids=[f"{task}-{name}" for task, name in TARGET_CELLS]
)
def test_encode_targets_and_n_outputs(task, name):
    labels = LABELS[task]
    units = n_outputs(task, 1 if task == "binary" else 3, name)
    target = encode_targets(labels, task, name, n_classes=3)
    # what the registry declares; a loss added to it is checked here without editing this file
    is_index = LOSSES[name].target_for(task) == "index"
    if task == "binary":
        assert units == (2 if is_index else 1)
        assert target.dtype == (torch.int64 if is_index else torch.float32)
        assert target.tolist() == [0, 1, 1, 0]
    elif task == "multilabel":
        assert units == 3
        assert target.dtype == torch.float32
        assert_close(target, labels.float())
    elif is_index:
        assert units == 3
        assert target.dtype == torch.int64
        assert target.tolist() == [2, 0, 1, 2]
    else:
        assert units == 3
        assert target.dtype == torch.float32
        assert target.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]


# ------------------------------------------------------------------------ check_ignore_index


@pytest.mark.parametrize(
    ("name", "task", "units", "index"),
    [
        ("cross_entropy", "binary", 2, 1),
        ("cross_entropy", "binary", 2, 0),
        ("nll", "multiclass", 3, 2),
    ],
)
def test_an_ignore_index_naming_a_class_of_table_data_is_refused(name, task, units, index):
    """Table targets never hold an unlabelled index: an ignore_index among the classes would
    leave that class out of training while the metrics still score it."""
    with pytest.raises(ValueError, match=rf"ignore_index={index} .*names class {index} of this"):
        check_ignore_index(name, {"ignore_index": index}, task=task, n_outputs=units)


@pytest.mark.parametrize(
    ("task", "units", "index"),
    [("multiclass", 3, -100), ("multiclass", 3, 3), ("dense_multiclass", 3, 1)],
    ids=["default", "beyond-the-classes", "dense"],
)
def test_an_ignore_index_outside_the_classes_or_on_dense_data_is_taken(task, units, index):
    check_ignore_index("cross_entropy", {"ignore_index": index}, task=task, n_outputs=units)
