"""ASL and PolyLoss against their papers' formulas, on values worked out by hand.

Asymmetric loss (Ridnik et al. 2021), per unit with p = sigmoid(x), p_m = max(p - m, 0):
    y = 1: -(1 - p)^gamma_pos * log(p);   y = 0: -p_m^gamma_neg * log(1 - p_m)
Poly-1 (Leng et al. 2022): CE + epsilon * (1 - p_t), p_t the probability of the true target.

Every loss comes from ``build_loss``, as training builds it.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from lossbench.losses import AsymmetricLoss, PolyLoss, build_loss, validate_loss_params


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def reduced(values: list[float], reduction: str) -> torch.Tensor:
    tensor = torch.tensor(values, dtype=torch.float64)
    return {"none": tensor, "mean": tensor.mean(), "sum": tensor.sum()}[reduction].float()


# ------------------------------------------------------------------------------------ ASL

# One sample, five labels: a positive at 0, a confident wrong negative, an easy negative, a
# hard positive, and a negative below the margin (p = 0.018 < m = 0.05: discarded).
ASL_X = [0.0, 2.0, -1.0, -3.0, -4.0]
ASL_Y = [1.0, 0.0, 0.0, 1.0, 0.0]


def asl_by_hand(x: float, y: float, gamma_neg=4.0, gamma_pos=1.0, clip=0.05) -> float:
    p = sigmoid(x)
    if y == 1:
        return -((1 - p) ** gamma_pos) * math.log(p)
    shifted = max(p - clip, 0.0)
    return -(shifted**gamma_neg) * math.log(1 - shifted)


def test_asl_hand_values_with_the_paper_defaults():
    """gamma_neg 4, gamma_pos 1, clip 0.05, written out per label."""
    expected = [asl_by_hand(x, y) for x, y in zip(ASL_X, ASL_Y, strict=True)]
    # x = 0, y = 1: p = 1/2, so (1 - 1/2) * ln 2
    assert expected[0] == pytest.approx(0.5 * math.log(2))
    # x = 2, y = 0: p_m = 0.8808 - 0.05 = 0.8308; 0.8308^4 * -ln(0.1692) = 0.4764 * 1.7766
    assert expected[1] == pytest.approx(0.84641, abs=1e-5)
    assert expected[2] == pytest.approx(0.00056780, abs=1e-8)  # easy negative: faded
    assert expected[3] == pytest.approx(2.90401, abs=1e-5)  # (1 - 0.0474) * 3.0486
    assert expected[4] == 0.0  # below the margin
    loss = build_loss("asl", {"reduction": "none"}, task="multilabel", n_outputs=5)
    assert_close(loss(torch.tensor([ASL_X]), torch.tensor([ASL_Y])), reduced([expected], "none"))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    ("gamma_neg", "gamma_pos", "clip"),
    [(4.0, 1.0, 0.05), (2.0, 0.0, 0.2), (0.0, 3.0, 0.0)],
    ids=["defaults", "gamma_pos=0-clip=0.2", "no_clip"],
)
def test_asl_matches_the_formula_on_a_batch(reduction, gamma_neg, gamma_pos, clip):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(6, 3, generator=g) * 3).double()
    y = torch.randint(0, 2, (6, 3), generator=g).double()
    params = {"gamma_neg": gamma_neg, "gamma_pos": gamma_pos, "clip": clip}
    expected = [
        [asl_by_hand(xi, yi, **params) for xi, yi in zip(xr, yr, strict=True)]
        for xr, yr in zip(x.tolist(), y.tolist(), strict=True)
    ]
    loss = build_loss("asl", {**params, "reduction": reduction}, task="multilabel", n_outputs=3)
    assert_close(loss(x.float(), y.float()), reduced(expected, reduction))


def test_asl_on_a_binary_task_takes_one_unit_per_sample():
    x, y = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    loss = build_loss("asl", {}, task="binary", n_outputs=1)
    expected = (asl_by_hand(0.0, 1.0) + asl_by_hand(2.0, 0.0)) / 2
    assert loss(x, y).item() == pytest.approx(expected, rel=1e-6)


def test_asl_without_focusing_or_margin_is_bce_with_logits():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 4, generator=g) * 5, torch.randint(0, 2, (8, 4), generator=g).float()
    asl = build_loss(
        "asl", {"gamma_neg": 0.0, "gamma_pos": 0.0, "clip": 0.0}, task="multilabel", n_outputs=4
    )
    assert_close(asl(x, y), F.binary_cross_entropy_with_logits(x, y))


def test_asl_is_stable_where_sigmoid_saturates():
    x = torch.tensor([-120.0, 120.0, 120.0], requires_grad=True)
    loss = build_loss("asl", {"clip": 0.0, "reduction": "sum"}, task="binary", n_outputs=1)
    value = loss(x, torch.tensor([1.0, 0.0, 1.0]))
    value.backward()
    assert value.item() == pytest.approx(240.0)  # |x| for each confidently wrong unit
    assert torch.isfinite(x.grad).all()


# ----------------------------------------------------------------------------------- Poly


def poly_softmax_by_hand(row: list[float], target: int, epsilon: float) -> float:
    p_t = math.exp(row[target]) / sum(math.exp(v) for v in row)
    return -math.log(p_t) + epsilon * (1 - p_t)


def poly_sigmoid_by_hand(x: float, y: float, epsilon: float) -> float:
    p_t = sigmoid(x) if y == 1 else 1 - sigmoid(x)
    return -math.log(p_t) + epsilon * (1 - p_t)


def test_poly_hand_values_on_cross_entropy():
    """Scores [2, 0, -1]: p = [0.8438, 0.1142, 0.0420]; uniform scores: p_t = 1/3."""
    rows = [[2.0, 0.0, -1.0], [2.0, 0.0, -1.0], [0.5, 0.5, 0.5]]
    targets = [0, 2, 1]
    expected = [poly_softmax_by_hand(r, t, 1.0) for r, t in zip(rows, targets, strict=True)]
    assert expected[0] == pytest.approx(-math.log(0.843795) + (1 - 0.843795), abs=1e-5)
    assert expected[1] == pytest.approx(4.12784, abs=1e-5)
    assert expected[2] == pytest.approx(math.log(3) + 2 / 3)
    loss = build_loss("poly", {"reduction": "none"}, task="multiclass", n_outputs=3)
    assert_close(loss(torch.tensor(rows), torch.tensor(targets)), reduced(expected, "none"))


def test_poly_hand_values_on_bce():
    """x = 0, y = 1: ln 2 + 1/2; the ASL labels otherwise, per unit."""
    expected = [poly_sigmoid_by_hand(x, y, 1.0) for x, y in zip(ASL_X, ASL_Y, strict=True)]
    assert expected[0] == pytest.approx(math.log(2) + 0.5)
    assert expected[1] == pytest.approx(3.00773, abs=1e-5)  # 2.1269 + 0.8808
    loss = build_loss("poly", {"reduction": "none"}, task="multilabel", n_outputs=5)
    assert_close(loss(torch.tensor([ASL_X]), torch.tensor([ASL_Y])), reduced([expected], "none"))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("epsilon", [1.0, -1.0, 2.5])
def test_poly_matches_the_formula_in_both_forms(reduction, epsilon):
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(5, 4, generator=g) * 2
    classes = torch.randint(0, 4, (5,), generator=g)
    labels = torch.randint(0, 2, (5, 4), generator=g).float()
    params = {"epsilon": epsilon, "reduction": reduction}
    softmax_form = build_loss("poly", params, task="multiclass", n_outputs=4)
    expected = [
        poly_softmax_by_hand(r, t, epsilon)
        for r, t in zip(scores.tolist(), classes.tolist(), strict=True)
    ]
    assert_close(softmax_form(scores, classes), reduced(expected, reduction))
    sigmoid_form = build_loss("poly", params, task="multilabel", n_outputs=4)
    expected = [
        [poly_sigmoid_by_hand(x, y, epsilon) for x, y in zip(xr, yr, strict=True)]
        for xr, yr in zip(scores.tolist(), labels.tolist(), strict=True)
    ]
    assert_close(sigmoid_form(scores, labels), reduced(expected, reduction))


def test_poly_binary_with_two_units_is_cross_entropy_form():
    """Binary with index targets and two units (as cross_entropy trains it) equals the
    one-unit sigmoid form on the score difference."""
    scores = torch.tensor([[0.0, 1.5], [2.0, -1.0]])
    classes = torch.tensor([1, 1])
    two_units = PolyLoss(epsilon=1.0)(scores, classes)
    one_unit = PolyLoss(epsilon=1.0)(scores[:, 1] - scores[:, 0], classes.float())
    assert_close(two_units, one_unit)


def test_poly_with_epsilon_0_is_cross_entropy_and_bce():
    g = torch.Generator().manual_seed(3)
    scores = torch.randn(6, 3, generator=g) * 3
    classes = torch.randint(0, 3, (6,), generator=g)
    labels = torch.randint(0, 2, (6, 3), generator=g).float()
    poly = build_loss("poly", {"epsilon": 0.0}, task="multiclass", n_outputs=3)
    assert_close(poly(scores, classes), F.cross_entropy(scores, classes))
    assert_close(poly(scores, labels), F.binary_cross_entropy_with_logits(scores, labels))


# ------------------------------------------------------------------- declared parameters


def test_declared_defaults_are_the_class_defaults():
    asl = build_loss("asl", {}, task="multilabel", n_outputs=2)
    assert (asl.gamma_neg, asl.gamma_pos, asl.clip, asl.reduction) == (4.0, 1.0, 0.05, "mean")
    assert isinstance(asl, AsymmetricLoss)
    assert build_loss("poly", {}, task="multiclass", n_outputs=3).epsilon == 1.0


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        (
            "asl",
            {"gamma_neg": -1.0},
            r"loss\.gamma_neg=-1\.0 is invalid for loss 'asl': "
            r"expected a number >= 0 .*loss\.gamma_neg=4",
        ),
        ("asl", {"clip": 1.0}, r"loss\.clip=1\.0 .*\[0, 1\)"),
        ("asl", {"gamma_pos": "high"}, r"loss\.gamma_pos='high'"),
        ("poly", {"epsilon": -2.0}, r"loss\.epsilon=-2\.0 .*>= -1"),
        (
            "poly",
            {"alpha": 0.5},
            r"loss 'poly' does not take alpha=0\.5; it takes "
            r"reduction, epsilon",
        ),
    ],
    ids=["gamma_neg<0", "clip=1", "gamma_pos-not-a-number", "epsilon<-1", "unknown-key"],
)
def test_out_of_range_values_are_refused_with_the_valid_ones(name, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        validate_loss_params(name, params)
