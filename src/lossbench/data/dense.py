"""Dense data sets: images with a label for every pixel, built from the real ``mnist_5k``.

    >>> table = load_mnist_maps({"name": "mnist_segmentation", "ink_threshold": 0.5,
    ...                          "n_images": 20})  # doctest: +SKIP
    >>> table.features.shape, table.labels.shape, table.classes[:3]  # doctest: +SKIP
    ((20, 1, 28, 28), (20, 28, 28), ['background', '0', '1'])

| data set             | task               | label of a pixel                                    |
|----------------------|--------------------|-----------------------------------------------------|
| `mnist_segmentation` | `dense_multiclass` | 0 = background, 1 + d = ink of digit d (11 classes) |
| `mnist_ink`          | `dense_binary`     | 1 = ink, 0 = background                             |

A pixel is ink when its grey value is at least ``data.ink_threshold`` (default 0.5) of the full
scale (255): MNIST's strokes are anti-aliased, and half of full scale puts their soft edges
(31 % of the pixels that are not 0) in the background. About 13 % of all pixels are ink at
0.5 (each digit's ink 0.8-1.8 %), so the background class dominates: a class ``weight``
(``loss.weight``) or ``pos_weight`` counters that. ``data.faint_pixels=unlabelled`` labels the
edge pixels (grey, below the threshold) -100 instead of background: unlabelled, they add
nothing to a loss with ``ignore_index=-100`` (cross_entropy, nll) and are left out of the
metrics. ``data.n_images`` keeps a fixed subset of the 5000 images (for quick runs), and
``data.downsample=2`` averages each 2 x 2 block of pixels into one (14 x 14 maps, a quarter of the
pixels; the ink threshold then applies to the averaged grey values). The images are kept as
``(N, 1, H, W)`` grey values; :func:`split_dense` splits them at random and
scales them to [0, 1] (the preprocessing stored in checkpoints: mean 0, scale 255).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lossbench.checkpoint_format import INPUT_SHAPE_KEY
from lossbench.data.splits import STAGES, Split, check_split_sizes
from lossbench.data.table import DataError, LoadedTable

#: Grey values are 0..255; the threshold and the preprocessing are fractions of this.
FULL_SCALE = 255.0
#: Seed of the fixed order from which ``data.n_images`` takes its subset.
SUBSET_SEED = 0
#: ``data.faint_pixels``: what the pixels between 0 and the ink threshold are labelled.
FAINT_PIXELS = ("background", "unlabelled")
#: The label of an unlabelled pixel: torch's default ``ignore_index``.
UNLABELLED = -100
#: MNIST's images are this many pixels high and wide.
SIDE = 28
#: ``data.downsample``: factors that divide the side (1 keeps the images as they are).
DOWNSAMPLE = tuple(f for f in range(1, SIDE // 2 + 1) if SIDE % f == 0)


def _check_options(cfg: Mapping[str, Any], total: int) -> tuple[float, int, int]:
    threshold = float(cfg.get("ink_threshold", 0.5))
    if not 0.0 < threshold <= 1.0:
        raise DataError(
            f"data.ink_threshold={threshold} must lie in (0, 1]: the fraction of full grey scale "
            "from which a pixel counts as ink, e.g. data.ink_threshold=0.5"
        )
    n_images = cfg.get("n_images")
    n = total if n_images is None else int(n_images)
    if not 10 <= n <= total:
        raise DataError(
            f"data.n_images={n_images} must be between 10 and {total} (the images "
            f"{cfg['name']} has), or null for all of them, e.g. data.n_images=500"
        )
    faint = cfg.get("faint_pixels", "background")
    if faint not in FAINT_PIXELS:
        raise DataError(
            f"data.faint_pixels={faint!r} is not an option. Valid: {', '.join(FAINT_PIXELS)} "
            "(unlabelled: the anti-aliased edge pixels, grey but below data.ink_threshold, get "
            f"the label {UNLABELLED} and are left out of the loss and the metrics)"
        )
    factor = cfg.get("downsample", 1)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor not in DOWNSAMPLE:
        raise DataError(
            f"data.downsample={factor!r} is not an option: it averages each block of "
            f"downsample x downsample pixels into one, so it must divide the images' side "
            f"({SIDE}). Valid: {', '.join(map(str, DOWNSAMPLE))} (1 keeps them as they are; "
            f"2 gives {SIDE // 2} x {SIDE // 2} maps)"
        )
    return threshold, n, factor


def load_mnist_maps(cfg: Mapping[str, Any]) -> LoadedTable:
    """``mnist_segmentation`` or ``mnist_ink`` (``cfg["name"]``) from the packaged ``mnist_5k``:
    grey images ``(N, 1, S, S)`` float32 in 0..255 and label maps ``(N, S, S)`` int64, where
    S = 28 / ``cfg["downsample"]`` (28 by default)."""
    from lossbench.data.packaged import load_packaged

    digits = load_packaged("mnist_5k")  # columns pixel0..783, classes "0".."9" in order
    threshold, n, factor = _check_options(cfg, len(digits.labels))
    rows = np.sort(np.random.default_rng(SUBSET_SEED).permutation(len(digits.labels))[:n])
    images = np.asarray(digits.features[rows], dtype=np.float32).reshape(n, 1, SIDE, SIDE)
    if factor > 1:  # the mean of each factor x factor block
        side = SIDE // factor
        images = images.reshape(n, 1, side, factor, side, factor).mean(axis=(3, 5))
    ink = images[:, 0] >= threshold * FULL_SCALE
    if cfg["name"] == "mnist_ink":
        labels = ink.astype(np.int64)
        names, classes = ["ink"], [0, 1]
    else:
        digit = np.asarray(digits.labels[rows], dtype=np.int64)
        labels = np.where(ink, digit[:, None, None] + 1, 0).astype(np.int64)
        names = classes = ["background", *(str(c) for c in digits.classes)]
    if cfg.get("faint_pixels", "background") == "unlabelled":
        labels[(images[:, 0] > 0) & ~ink] = UNLABELLED
    return LoadedTable(images, labels, ["channel0"], names, classes)


def _no_foreground(images: np.ndarray, what: str, settings: Mapping[str, Any]) -> str:
    """The refusal of a training split (grey ``images``, 0..255) whose every pixel is
    background: no pixel reaches ``data.ink_threshold``. It names the brightest pixel, the
    threshold that would label it ink, and the other fixes with their valid values.

        >>> print(_no_foreground(np.full((3, 1, 2, 2), 102.0), "data=mnist_ink",
        ...                      {"ink_threshold": 0.5, "downsample": 14}))  # doctest: +ELLIPSIS
        data=mnist_ink: the training split has no labelled foreground pixel: ... 0.4 of full ...
    """
    threshold = float(settings.get("ink_threshold", 0.5))
    factor = int(settings.get("downsample", 1))
    brightest = float(images.max()) / FULL_SCALE
    lowered = np.floor(brightest * 100) / 100 if brightest >= 0.01 else brightest
    share = float((images >= lowered * FULL_SCALE).mean())
    smaller = [f for f in DOWNSAMPLE if f < factor]
    fixes = [
        f"lower data.ink_threshold to at most {lowered:g} (valid: (0, 1], default 0.5; at "
        f"{lowered:g}, {share:.2%} of its pixels are ink)"
    ]
    if smaller:
        fixes.append(
            f"average smaller blocks: data.downsample={factor} makes each pixel the mean of a "
            f"{factor} x {factor} block, which dilutes the thin strokes; valid: "
            f"{', '.join(map(str, DOWNSAMPLE))} (1 keeps the {SIDE} x {SIDE} images, whose "
            "strokes reach full scale)"
        )
    if settings.get("n_images") is not None:
        fixes.append(
            f"keep more images: data.n_images={settings['n_images']} (up to the data set's "
            "size, or null for all of them)"
        )
    return (
        f"{what}: the training split has no labelled foreground pixel: its brightest pixel is "
        f"{brightest:.3g} of full grey scale ({FULL_SCALE:g}), below "
        f"data.ink_threshold={threshold:g}, from which a pixel is ink, so every pixel is "
        f"background and a model would learn one class. To fix it, {'; or '.join(fixes)}."
    )


def _nothing_labelled(
    labels: np.ndarray, stage: str, what: str, settings: Mapping[str, Any]
) -> str:
    """The refusal of a validation or test split whose every pixel is unlabelled
    (``data.faint_pixels=unlabelled``): no metric can be measured on it.

        >>> print(_nothing_labelled(np.full((2, 2, 2), -100), "val", "data=mnist_ink",
        ...                         {"ink_threshold": 0.3, "downsample": 14}))  # doctest: +ELLIPSIS
        data=mnist_ink: the validation split has no labelled pixel: all 8 pixels of its 2 ...
    """
    threshold = float(settings.get("ink_threshold", 0.5))
    name = {"val": "validation", "test": "test"}[stage]
    fixes = [
        f"lower data.ink_threshold (now {threshold:g}, valid: (0, 1]) so that more pixels are ink",
        "label the faint pixels background: data.faint_pixels=background",
        f"split the images differently: another data.split_seed, or a larger data.{stage}_fraction",
    ]
    if int(settings.get("downsample", 1)) > 1:
        fixes.append(
            f"average smaller blocks (data.downsample={settings['downsample']}): smaller blocks "
            "keep the background pixels at 0 (labelled)"
        )
    if settings.get("n_images") is not None:
        fixes.append(f"keep more images than data.n_images={settings['n_images']}")
    return (
        f"{what}: the {name} split has no labelled pixel: all {labels.size} pixels of its "
        f"{len(labels)} images are faint (grey, below data.ink_threshold={threshold:g}), which "
        f"data.faint_pixels=unlabelled labels {UNLABELLED} (unlabelled), so no metric could be "
        f"measured on it (each would be NaN). To fix it, {'; or '.join(fixes)}."
    )


def split_dense(
    table: LoadedTable,
    *,
    val_fraction: float,
    test_fraction: float,
    split_seed: int,
    what: str = "the data set",
    settings: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Split], dict[str, list]]:
    """Split the images of a dense ``table`` at random into train / val / test and scale their
    grey values to [0, 1]; return the splits and the preprocessing (as checkpoints store it:
    ``feature_mean`` 0 and ``feature_scale`` 255 per input channel, and ``input_shape``: the
    images' ``[channels, height, width]``, which lossbench-predict checks new images against).

    A training split without a foreground pixel is refused with the settings that give it
    one, and so is a validation or test split without a labelled pixel (every pixel unlabelled:
    its metrics would all be NaN); ``settings``: the data config (``ink_threshold``,
    ``downsample``, ``n_images``)."""
    from sklearn.model_selection import train_test_split

    n = len(table.labels)
    check_split_sizes(n, val_fraction, test_fraction, 1)
    rest, test = train_test_split(np.arange(n), test_size=test_fraction, random_state=split_seed)
    train, val = train_test_split(
        rest, test_size=val_fraction / (1.0 - test_fraction), random_state=split_seed
    )
    if not (table.labels[train] > 0).any():
        raise DataError(_no_foreground(table.features[train], what, settings or {}))
    channels = table.features.shape[1]
    splits = {
        stage: Split(
            (table.features[np.sort(rows)] / np.float32(FULL_SCALE)).astype(np.float32),
            table.labels[np.sort(rows)],
        )
        for stage, rows in zip(STAGES, (train, val, test), strict=True)
    }
    for stage in STAGES[1:]:
        if len(splits[stage].labels) and not (splits[stage].labels >= 0).any():
            raise DataError(_nothing_labelled(splits[stage].labels, stage, what, settings or {}))
    preprocessing = {
        "feature_names": list(table.feature_names),
        "feature_mean": [0.0] * channels,
        "feature_scale": [FULL_SCALE] * channels,
        INPUT_SHAPE_KEY: list(table.features.shape[1:]),
    }
    return splits, preprocessing
