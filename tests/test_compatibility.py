"""The task x head x loss table: what it refuses is refused by validation, what it accepts
trains, the reasons it gives, and the traps quantified. The cells come from the registries
(tests/cells.py); no copy of the table is kept here."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from cells import ACCEPTED, REFUSED, TINY_DATA, cell_id, one_per_task_and_head
from lossbench.compatibility import (
    IncompatibleSetupError,
    check,
    compatibility_table,
    require_compatible,
    valid_heads,
    valid_losses,
)
from lossbench.heads import HEADS, OUTPUT_KIND_TEXT, build_head
from lossbench.losses import LOSSES, build_loss, encode_targets, n_outputs
from lossbench.metric_names import LOGGED_METRICS
from lossbench.tasks import TASKS, is_dense, position_task
from lossbench.training import train
from lossbench.validation import ConfigError, validate


def refusal_through_validation(make_cfg, task: str, head: str, loss: str) -> str:
    """Compose the cell's config on a tiny data set of ``task`` and return validation's error."""
    cfg = make_cfg(*TINY_DATA[task], f"head={head}", f"loss={loss}")
    with pytest.raises(ConfigError) as raised:
        validate(cfg)
    return str(raised.value)


@pytest.mark.parametrize(("task", "head", "loss"), one_per_task_and_head(REFUSED))
def test_refused_cell_is_refused_by_validation(make_cfg, task, head, loss):
    """The composed config of the cell is refused before training with the table's message."""
    message = refusal_through_validation(make_cfg, task, head, loss)
    with pytest.raises(IncompatibleSetupError, match=re.escape(message)):
        require_compatible(task, head, loss)


@pytest.mark.parametrize("cell", REFUSED, ids=[cell_id(c) for c in REFUSED])
def test_refusal_names_the_cell_and_valid_alternatives(cell):
    task, head, loss = cell
    with pytest.raises(IncompatibleSetupError) as raised:
        require_compatible(task, head, loss)
    message = str(raised.value)
    assert f"head '{head}'" in message
    assert f"loss '{loss}'" in message
    assert f"{task} task" in message
    assert "Valid alternatives: " in message

    # Every head and loss the message suggests must itself be valid, without a warning.
    alternatives = message.split("Valid alternatives: ", 1)[1]
    suggested = []
    for part in alternatives.rstrip(".").split("; "):
        if part.startswith(f"with loss={loss}, use "):
            suggested += [(h, loss) for h in re.findall(r"head=(\w+)", part)]
        elif part.startswith(f"with head={head}, use "):
            suggested += [(head, n) for n in re.findall(r"loss=(\w+)", part.split(" use ")[1])]
        elif part.startswith(f"for a {task} task use "):
            suggested += re.findall(r"head=(\w+) \+ loss=(\w+)", part)
    assert suggested
    for h, n in suggested:
        verdict = check(task, h, n)
        assert verdict.ok and verdict.warning is None, (h, n)
    assert [h for h, n in suggested if n == loss] == valid_heads(task, loss)


@pytest.mark.parametrize("cell", ACCEPTED, ids=[cell_id(c) for c in ACCEPTED])
def test_accepted_cell_trains_through_lightning(make_cfg, tmp_path, cell):
    """Two epochs on a tiny data set of the task: finite metrics, and the training loss falls."""
    task, head, loss = cell
    cfg = make_cfg(
        *TINY_DATA[task],
        f"head={head}",
        f"loss={loss}",
        "data.batch_size=16",
        "optimizer.lr=0.01",
        "checkpoint.write=never",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert validate(cfg) == task
        record = train(cfg, tmp_path, multirun=True)
    warned = [str(w.message) for w in caught if f"head '{head}'" in str(w.message)]
    assert bool(warned) is (check(task, head, loss).warning is not None)
    assert record["status"] == "completed", record["error"]
    assert record["task"] == task and record["epochs"] == 2
    for stage in ("val", "test"):
        for metric in LOGGED_METRICS[task]:
            assert np.isfinite(record[f"{stage}/{metric}"]), f"{stage}/{metric}"
    first, last = record["history"]["train/loss"]
    assert last < first, (first, last)


N_TARGETS = {
    "binary": 1,
    "multilabel": 3,
    "multiclass": 3,
    "dense_binary": 1,
    "dense_multiclass": 3,
}
N_SAMPLES, N_FEATURES = 48, 4
MAP = (4, 4)  # dense tasks: 3 maps of 4 x 4 positions, 48 labelled positions in all


def make_batch(task: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, learnable batch: labels come from a linear rule of the features (of each
    position's features, for a dense task: maps ``(N, F, H, W)`` with labels ``(N, H, W)``)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_SAMPLES, N_FEATURES, generator=g)
    w = torch.randn(N_FEATURES, 3, generator=g)
    scores = x @ w
    if position_task(task) == "binary":
        labels = (scores[:, 0] > 0).long()
    elif task == "multilabel":
        labels = (scores > 0).long()
    else:
        labels = scores.argmax(1)
    if is_dense(task):  # the same rows as positions of maps
        x = x.reshape(-1, *MAP, N_FEATURES).movedim(-1, 1)
        labels = labels.reshape(-1, *MAP)
    return x, labels


@pytest.mark.parametrize("cell", ACCEPTED, ids=[cell_id(c) for c in ACCEPTED])
def test_accepted_cell_fits_a_learnable_batch(cell):
    """Twenty full-batch steps on a linear rule: the loss stays finite and falls by 20 %."""
    task, head_name, loss_name = cell
    x, labels = make_batch(task)
    units = n_outputs(task, N_TARGETS[task], loss_name)
    target = encode_targets(labels, task, loss_name, n_classes=max(N_TARGETS[task], 2))
    head = build_head(head_name, dense=is_dense(task))
    loss = build_loss(loss_name, {}, task=task, n_outputs=units)
    squeeze = task == "binary" and units == 1  # one unit takes targets of shape (N,)

    torch.manual_seed(2)
    # a linear model of each position's features on a dense task
    model = nn.Conv2d(N_FEATURES, units, 1) if is_dense(task) else nn.Linear(N_FEATURES, units)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    history = []
    for _ in range(20):
        optimizer.zero_grad()
        scores = model(x)
        value = loss(head(scores.squeeze(-1) if squeeze else scores), target)
        value.backward()
        optimizer.step()
        history.append(value.item())
    assert all(math.isfinite(v) for v in history)
    assert history[-1] < 0.8 * history[0], history


# ------------------------------------------------------------------------- specific reasons

REASONS = {
    "softmax+cross_entropy": ("multiclass", "softmax", "cross_entropy", "double softmax"),
    "sigmoid+bce_with_logits": ("binary", "sigmoid", "bce_with_logits", "double sigmoid"),
    "sigmoid+focal": ("multilabel", "sigmoid", "focal", "double sigmoid"),
    "logits+bce": ("binary", "logits", "bce", "raw scores into nn.BCELoss"),
    "logits+nll": ("multiclass", "logits", "nll", "raw scores into nn.NLLLoss"),
    "softmax+nll": ("multiclass", "softmax", "nll", "-p[target] instead of -log p[target]"),
    "cross_entropy-on-multilabel": ("multilabel", "logits", "cross_entropy", "multi-hot"),
    "nll-on-multilabel": ("multilabel", "log_softmax", "nll", "multi-hot"),
    "softmax-on-one-binary-unit": ("binary", "softmax", "bce", "softmax of one unit is always 1"),
    "softmax-on-multilabel": ("multilabel", "softmax", "bce", "compete for one unit"),
    "asl-on-multiclass": ("multiclass", "logits", "asl", "exactly one class on"),
    "sigmoid+asl": ("multilabel", "sigmoid", "asl", "double sigmoid"),
    "sigmoid+poly-on-binary": ("binary", "sigmoid", "poly", "double sigmoid"),
    "sigmoid+poly-on-multiclass": ("multiclass", "sigmoid", "poly", "sigmoid followed by softmax"),
    "softmax+poly-on-multiclass": ("multiclass", "softmax", "poly", "double softmax"),
    "log_softmax+bce_with_logits-on-multiclass": (
        "multiclass",
        "log_softmax",
        "bce_with_logits",
        "sigmoid of them is at most 0.5",
    ),
}


@pytest.mark.parametrize(
    ("task", "head", "loss", "reason"), list(REASONS.values()), ids=list(REASONS)
)
def test_refusal_gives_the_specific_reason(task, head, loss, reason):
    with pytest.raises(IncompatibleSetupError, match=re.escape(reason)):
        require_compatible(task, head, loss)


def test_logits_into_bce_says_it_crashes_only_out_of_range():
    assert "until it crashes" in check("binary", "logits", "bce").error


@pytest.mark.parametrize("loss", ["mse", "manual_bce"])
def test_logits_into_unchecked_losses_does_not_promise_a_crash(loss):
    """Only nn.BCELoss checks its range: MSELoss and the hand-written BCE never raise."""
    message = check("binary", "logits", loss).error
    assert "never checks its input range" in message
    assert "crash" not in message
    scores = torch.tensor([-3.0, 2.0])
    assert torch.isfinite(
        build_loss("mse", {}, task="binary", n_outputs=1)(scores, torch.tensor([0.0, 1.0]))
    )


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_log_softmax_into_cross_entropy_is_valid_with_a_warning(task):
    verdict = require_compatible(task, "log_softmax", "cross_entropy")
    assert verdict.ok
    assert "redundant" in verdict.warning
    assert "log_softmax" not in valid_heads(task, "cross_entropy")  # not suggested
    assert "cross_entropy" not in valid_losses(task, "log_softmax")
    # ... and harmless: log-softmax of log-probabilities changes nothing.
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 3, generator=g) * 4
    target = torch.randint(0, 3, (6,), generator=g)
    loss = build_loss("cross_entropy", {}, task="multiclass", n_outputs=3)
    torch.testing.assert_close(
        loss(build_head("log_softmax")(logits), target), loss(logits, target)
    )


def test_log_softmax_into_poly_is_valid_with_a_warning_on_multiclass_only():
    verdict = require_compatible("multiclass", "log_softmax", "poly")
    assert "redundant" in verdict.warning
    assert not check("binary", "log_softmax", "poly").ok  # one sigmoid unit there
    assert not check("multilabel", "log_softmax", "poly").ok
    # ... and harmless: softmax of log-probabilities gives the same probabilities.
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 3, generator=g) * 4
    target = torch.randint(0, 3, (6,), generator=g)
    loss = build_loss("poly", {}, task="multiclass", n_outputs=3)
    torch.testing.assert_close(
        loss(build_head("log_softmax")(logits), target), loss(logits, target)
    )


def test_log_softmax_into_a_new_softmax_loss_is_redundant_not_refused(monkeypatch):
    """A loss added to the registry that applies softmax to scores, with no ``tolerates`` of its
    own, takes log-probabilities with the truth: the same probabilities, a redundant head."""
    new = dataclasses.replace(LOSSES["cross_entropy"], name="gce", tolerates={})
    monkeypatch.setitem(LOSSES, "gce", new)
    verdict = require_compatible("multiclass", "log_softmax", "gce")
    assert "redundant but harmless" in verdict.warning and "0.5" not in verdict.warning
    assert "log_softmax" not in valid_heads("multiclass", "gce")  # not suggested
    sigmoid = dataclasses.replace(LOSSES["bce_with_logits"], name="sig", tolerates={})
    monkeypatch.setitem(LOSSES, "sig", sigmoid)
    assert "sigmoid of them is at most 0.5" in check("multiclass", "log_softmax", "sig").error


def test_a_new_sigmoid_head_is_refused_by_softmax_losses_whatever_its_output(monkeypatch):
    """A head added to the registry as log-sigmoid outputs log-probabilities, what NLLLoss
    expects, but per unit: NLLLoss would read the target's unit only. It is refused, and is
    not taken for a redundant log-softmax before a softmax loss on scores either."""
    from lossbench.heads import HeadSpec

    spec = HeadSpec("log_sigmoid", "log_probabilities", "sigmoid", False, nn.LogSigmoid, "")
    monkeypatch.setitem(HEADS, "log_sigmoid", spec)
    assert "sum to 1 across units" in check("multiclass", "log_sigmoid", "nll").error
    error = check("multiclass", "log_sigmoid", "cross_entropy").error
    assert "sigmoid(s) normalised across units, not softmax(s)" in error and "0.5" not in error
    assert "log_sigmoid" not in valid_heads("multiclass", "nll")


# ------------------------------------------------------------------ the traps, quantified
EXTREMES = [-100.0, 0.0, 100.0]


def test_double_softmax_traps_cross_entropy_for_three_classes():
    """CE(softmax(x)) for C = 3 lies in [log(1 + 2/e), log(2 + e)] = [0.551, 1.551] whatever x.

    LOSSES.md gives [0.551, 1.458]; 1.458 = log(1 + 2 sqrt(e)) is the worst case only when the
    wrong probability splits evenly over the other two classes. With it all on one wrong class
    (x = [-100, 100, -100], target 0) the loss reaches log(2 + e) = 1.551.
    """
    head = build_head("softmax")
    loss = build_loss("cross_entropy", {"reduction": "none"}, task="multiclass", n_outputs=3)
    x = torch.tensor(list(itertools.product(EXTREMES, repeat=3))).repeat_interleave(3, 0)
    target = torch.arange(3).repeat(len(EXTREMES) ** 3)
    x = torch.cat([x, torch.randn(300, 3, generator=torch.Generator().manual_seed(4)) * 50])
    target = torch.cat([target, torch.randint(0, 3, (300,))])
    values = loss(head(x), target)
    low, high = math.log(1 + 2 / math.e), math.log(2 + math.e)
    assert (low, high) == (pytest.approx(0.5514, abs=1e-4), pytest.approx(1.5514, abs=1e-4))
    assert values.min().item() == pytest.approx(low, abs=1e-5)
    assert values.max().item() == pytest.approx(high, abs=1e-5)
    split = loss(head(torch.tensor([[-100.0, 100.0, 100.0]])), torch.tensor([0]))
    assert split.item() == pytest.approx(math.log(1 + 2 * math.sqrt(math.e)), abs=1e-5)
    assert split.item() == pytest.approx(1.458, abs=1e-3)
    # ... and the gradient is gone although the loss is at its worst.
    worst = torch.tensor([[-100.0, 100.0, -100.0]], requires_grad=True)
    loss(head(worst), torch.tensor([0])).sum().backward()
    assert worst.grad.abs().max().item() < 1e-30


def test_double_sigmoid_traps_bce_with_logits():
    """BCEWithLogits(sigmoid(x)): in [log(1 + 1/e), log 2] = [0.313, 0.693] for positives,
    [log 2, log(1 + e)] = [0.693, 1.313] for negatives (LOSSES.md quotes the positive half)."""
    head = build_head("sigmoid")
    loss = build_loss("bce_with_logits", {"reduction": "none"}, task="binary", n_outputs=1)
    x = torch.cat(
        [torch.tensor(EXTREMES), torch.randn(200, generator=torch.Generator().manual_seed(5)) * 50]
    )
    positives = loss(head(x), torch.ones_like(x))
    negatives = loss(head(x), torch.zeros_like(x))
    low, mid, high = math.log(1 + 1 / math.e), math.log(2), math.log(1 + math.e)
    assert (low, high) == (pytest.approx(0.3133, abs=1e-4), pytest.approx(1.3133, abs=1e-4))
    for values, lo, hi in ((positives, low, mid), (negatives, mid, high)):
        assert values.min().item() >= lo - 1e-6
        assert values.max().item() <= hi + 1e-6
    assert positives.min().item() == pytest.approx(low, abs=1e-5)  # x = 100: stuck at 0.313
    assert positives.max().item() == pytest.approx(mid, abs=1e-5)  # x = -100: stuck at ln 2
    assert negatives.max().item() == pytest.approx(high, abs=1e-5)
    confident = torch.tensor([100.0, -100.0], requires_grad=True)
    loss(head(confident), torch.tensor([0.0, 1.0])).sum().backward()  # confidently wrong
    assert confident.grad.abs().max().item() == 0.0


# ----------------------------------------------------------------------------------- table


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return header, rows


def test_compatibility_table_has_one_row_per_task_and_loss_consistent_with_check():
    header, rows = parse_table(compatibility_table())
    assert header == ["task", "loss", "expects", *(f"head={h}" for h in HEADS)]
    assert [(r[0], r[1]) for r in rows] == list(itertools.product(TASKS, LOSSES))
    for task, loss, expects, *cells in rows:
        assert expects == OUTPUT_KIND_TEXT[LOSSES[loss].expects]
        for head, cell in zip(HEADS, cells, strict=True):
            verdict = check(task, head, loss)
            expected = "-" if not verdict.ok else "warn" if verdict.warning else "ok"
            assert cell == expected, (task, head, loss)


# --------------------------------------------------------------------------- unknown names

UNKNOWN = {
    "head": (
        ("multiclass", "relu", "cross_entropy"),
        "Unknown head 'relu'",
        ", ".join(HEADS),  # the registry's, a head added to it included
    ),
    "loss": (
        ("multiclass", "logits", "no_such_loss"),
        "Unknown loss 'no_such_loss'",
        "bce, bce_with_logits, cross_entropy, nll, manual_bce, mse, focal",
    ),
    "task": (
        ("regression", "logits", "mse"),
        "Unknown task 'regression'",
        "binary, multilabel, multiclass",
    ),
}


@pytest.mark.parametrize(("args", "unknown", "valid"), list(UNKNOWN.values()), ids=list(UNKNOWN))
@pytest.mark.parametrize(
    "function", [check, require_compatible], ids=["check", "require_compatible"]
)
def test_unknown_names_list_the_valid_ones(function, args, unknown, valid):
    with pytest.raises(ValueError, match=re.escape(unknown)) as raised:
        function(*args)
    assert valid in str(raised.value)
    assert not isinstance(raised.value, IncompatibleSetupError)  # a typo, not a bad pairing


def test_unknown_names_in_builders_list_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape(f"Valid heads: {', '.join(HEADS)}.")):
        build_head("relu")
    with pytest.raises(ValueError, match="Valid losses: bce, bce_with_logits, cross_entropy"):
        build_loss("no_such_loss", {}, task="binary", n_outputs=1)
