"""Predict the label maps of a dense checkpoint (a label per pixel) for images in a NumPy file.

    lossbench-predict ckpt_path=outputs/runs/<run>/checkpoints/best-epoch004.ckpt \\
        data=images data.path=images.npy out=maps.npz

    >>> maps = np.load("maps.npz")  # doctest: +SKIP
    >>> maps["probabilities"].shape, maps["predicted"].shape  # doctest: +SKIP
    ((8, 11, 14, 14), (8, 14, 14))
    >>> maps["classes"][maps["predicted"]][0, 7, :4]  # doctest: +SKIP
    array(['background', '3', '3', 'background'], dtype='<U10')

The ``.npy`` file (``numpy.save``) holds ``(N, H, W)`` grey images or ``(N, C, H, W)`` with the
model's channel count, in the units of the training data (``mnist_segmentation`` and
``mnist_ink``: grey values 0..255). They are preprocessed with the ``feature_mean`` and
``feature_scale`` per channel that the checkpoint stores, exactly as the training images were.
The checkpoint also stores the training images' size (``input_shape``); images of another size
are refused with the pooling that brings them to it. A dense checkpoint without it (written by
a resumed run of an older lossbench) takes any size, with a warning.

The output ``.npz`` (compressed) holds

- ``probabilities``: float32 ``(N, C, H, W)`` class probabilities of a multi-class map, or
  ``(N, H, W)`` the probability of the positive class (1) of a binary map;
- ``predicted``: int64 ``(N, H, W)``: the most probable class index (multi-class), or 1 where
  ``p > 0.5`` else 0 (binary);
- ``classes`` and ``label_names``: what the indices mean (``classes[predicted]`` gives the
  labels; a binary map's one label name is that of class 1);
- ``checkpoint``: the path of the checkpoint that predicted them (a 0-d string array): a later
  ``lossbench-predict`` replaces the archive only for that checkpoint.

Probabilities come from the model's raw scores and its link
(:func:`lossbench.metrics.to_probabilities`, in float64, then stored as float32), and the
predictions from the float64 values with the metrics' threshold, as for tables
(:mod:`lossbench.predict`).

Importing this module imports no torch or Lightning (:func:`predict_maps` does):
``lossbench-predict`` registers :class:`ImagesDataConfig` before it reads any checkpoint.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING

from lossbench.checkpoint import CheckpointError, load_checkpoint, metadata
from lossbench.checkpoint_format import INPUT_SHAPE_KEY
from lossbench.data.table import DataError, not_a_data_file
from lossbench.importing import collection_paused
from lossbench.precision import scoring_context, trained_precision
from lossbench.tasks import is_dense

#: What ``data.path`` and ``out`` of ``data=images`` must end with.
IMAGES_SUFFIX, MAPS_SUFFIX = ".npy", ".npz"
#: The first bytes of every file numpy.save writes.
NPY_MAGIC = np.lib.format.MAGIC_PREFIX
#: Images per forward pass (bounds the memory of the activations, not the result).
CHUNK = 256
EXAMPLE = "lossbench-predict ckpt_path=<dense ckpt> data=images data.path=images.npy out=maps.npz"


@dataclass
class ImagesDataConfig:
    """``data=images`` of lossbench-predict: the images of a dense checkpoint."""

    name: str = "images"
    path: str = MISSING  # a .npy file: (N, H, W) or (N, C, H, W) grey values


def check_paths(
    data_path: str | os.PathLike, out: str | os.PathLike, ckpt_path: str | os.PathLike
) -> None:
    """Refuse an input that is not a ``.npy`` file, an ``out`` that is not a ``.npz`` file
    (so the input is never overwritten) and an existing ``out`` that is not label maps of
    ``ckpt_path`` (:func:`lossbench.output_files.is_label_maps`), before the checkpoint is read."""
    given = str(data_path)
    if Path(given).suffix.lower() != IMAGES_SUFFIX:
        raise DataError(
            f"data.path={given!r} is not a .npy file: data=images reads an array saved with "
            "numpy.save(path, images), (N, H, W) or (N, C, H, W) grey values. Save the images "
            f"so, e.g. {EXAMPLE}; rows of a CSV file are predicted with data=csv."
        )
    path = Path(given).expanduser()
    what = not_a_data_file(path)
    if what is not None:
        raise DataError(f"data.path={given!r} {what} ({path.resolve()}). Give the .npy file.")
    target = Path(str(out)).expanduser()
    if target.suffix.lower() != MAPS_SUFFIX or target.is_dir():
        raise DataError(
            f"out={str(out)!r} is not a .npz file name: label maps are written as a compressed "
            "NumPy archive (probabilities, predicted, classes, label_names), and the input "
            f"{given!r} is never overwritten. Give e.g. out=maps.npz."
        )
    from lossbench.output_files import another_name, check_output, is_label_maps

    check_output(
        out,
        ours=lambda existing: is_label_maps(existing, ckpt_path),
        example=another_name(target, ckpt_path, "maps.npz"),
        error=DataError,
        replaced=f"an archive of label maps of this checkpoint "
        f"({Path(ckpt_path).expanduser().resolve()}), as its checkpoint entry says (an archive "
        "of a lossbench that kept none has no such entry)",
    )


def read_images(path: str | os.PathLike, meta: Mapping[str, Any]) -> np.ndarray:
    """The images of a ``.npy`` file as float32 ``(N, C, H, W)`` in the training data's units,
    checked against the checkpoint's ``meta``: dimensions, channels, size, numbers, finite."""
    given = str(path)
    channels = len(meta["feature_mean"])
    file = Path(given).expanduser()
    try:
        with file.open("rb") as handle:
            head = handle.read(len(NPY_MAGIC))
    except OSError as error:
        raise DataError(
            f"data.path={given!r} cannot be read ({type(error).__name__}: {error.strerror}). "
            "Give the .npy file of images."
        ) from None
    if head != NPY_MAGIC:  # np.load would try to unpickle it, or open a .npz archive
        what = "a .npz archive" if head.startswith(b"PK") else "not a NumPy array file"
        raise DataError(
            f"data.path={given!r} is {what}: it does not start with the header numpy.save "
            "writes. Save the images, one array, with numpy.save(path, images)."
        )
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        objects = "Object arrays cannot be loaded" in str(error)
        why = "holds Python objects, which are never unpickled" if objects else "is unreadable"
        raise DataError(
            f"data.path={given!r} {why} ({type(error).__name__}: {str(error).splitlines()[0]}). "
            "Save a numeric array with numpy.save(path, images)."
        ) from None
    kind = array.dtype.kind
    if kind not in "iuf":
        raise DataError(
            f"data.path={given!r} holds values of dtype {array.dtype} ({_KINDS.get(kind, kind)}), "
            "not grey values: images must be integers or floats (e.g. uint8 0..255)."
        )
    layout = f"(N, H, W) or (N, {channels}, H, W)"
    shape = array.shape  # the file's own, before (N, H, W) gains its channel axis
    if array.ndim and not shape[0]:
        raise DataError(no_images(given, shape, layout))
    if array.ndim == 3 and channels == 1:
        array = array[:, None]
    if array.ndim != 4:
        raise DataError(
            f"data.path={given!r} holds an array of shape {array.shape}: images must be {layout} "
            f"(the model was trained on {channels} channel(s)). One image: images[None]."
        )
    if array.shape[1] != channels:
        last = (
            f" Channels last? numpy.moveaxis(images, -1, 1) gives (N, {channels}, H, W)."
            if array.shape[-1] == channels
            else ""
        )
        raise DataError(
            f"data.path={given!r} holds images with {array.shape[1]} channel(s) (shape "
            f"{array.shape}), but the model was trained on {channels} "
            f"({', '.join(meta['feature_names'])}): give {layout}.{last}"
        )
    if 0 in array.shape:
        raise DataError(
            f"data.path={given!r} holds images without pixels: the file's array has shape "
            f"{shape}. Give images of the size the model was trained on, {layout}."
        )
    _check_size(array.shape, meta, given)
    with np.errstate(over="ignore"):  # values beyond float32's range become inf: refused below
        images = array.astype(np.float32)
    bad = ~np.isfinite(images)
    if bad.any():
        n, c, h, w = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"data.path={given!r} holds {int(bad.sum())} value(s) that are NaN, infinite or "
            f"beyond float32's range (the first: image {n}, channel {c}, row {h}, column {w}). "
            "Fill or drop those images."
        )
    _check_range(images, meta, given)
    return images


def no_images(given: str, shape: tuple[int, ...], layout: str) -> str:
    """The refusal of a file whose array holds no image (its first axis is 0), with the
    file's own shape.

        >>> no_images("new.npy", (0, 14, 14), "(N, H, W) or (N, 1, H, W)")[:68]
        "data.path='new.npy' holds no images: the file's array has shape (0, "
    """
    return (
        f"data.path={given!r} holds no images: the file's array has shape {shape}, 0 images. "
        f"Save at least one image, {layout}, with numpy.save(path, images)."
    )


class GreyScaleWarning(UserWarning):
    """The images' values lie outside the grey scale the model was trained on."""


def _check_range(images: np.ndarray, meta: Mapping[str, Any], given: str) -> None:
    """Warn when the images are not in the training data's units: the training images spanned
    ``feature_mean`` .. ``feature_mean + feature_scale`` per channel (mnist: 0..255).
    Images scaled to 0..1 would look almost blank to the model (their maps: background),
    and values beyond the scale are inputs it never saw; either still gives maps."""
    low = np.asarray(meta["feature_mean"], dtype=np.float64)
    high = low + np.asarray(meta["feature_scale"], dtype=np.float64)
    lo, hi = float(images.min()), float(images.max())
    units = "..".join(f"{v:g}" for v in (low.min(), high.max()))
    if np.all(low == 0) and np.all(high > 1) and 0 < hi <= 1 and lo >= 0:
        warnings.warn(
            f"data.path={given!r} holds values from {lo:g} to {hi:g}, but the model was "
            f"trained on grey values {units}: scaled to 0..1, these images are at most "
            f"{hi / high.max():.1%} of full grey to it, almost blank, and their maps mostly "
            f"background. If the file is scaled to 0..1, multiply it by {high.max():g} "
            f"(numpy.save(path, images * {high.max():g})); if the images are that faint, the "
            "maps are as written.",
            GreyScaleWarning,
            stacklevel=3,
        )
    elif lo < low.min() or hi > high.max():
        warnings.warn(
            f"data.path={given!r} holds values from {lo:g} to {hi:g}, outside the grey values "
            f"{units} the model was trained on: it never saw such inputs, and their maps can "
            f"be wrong. Rescale the images to {units} (e.g. 16-bit images: images / 65535 * "
            f"{high.max():g}).",
            GreyScaleWarning,
            stacklevel=3,
        )


_KINDS = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "O": "objects"}


def _check_size(shape: tuple[int, ...], meta: Mapping[str, Any], given: str) -> None:
    trained = meta.get(INPUT_SHAPE_KEY)
    if trained is None:
        warnings.warn(
            f"the checkpoint does not record the size of its training images; predicting "
            f"at the given {shape[2]} x {shape[3]}, which gives wrong maps if training used "
            "another size (data.downsample)",
            UserWarning,
            stacklevel=3,
        )
        return
    (h, w), (th, tw) = shape[2:], trained[1:]
    if (h, w) == (th, tw):
        return
    factor = h // th
    if h == factor * th and w == factor * tw and factor > 1:
        fix = (
            f"Average-pool each {factor} x {factor} block, as data.downsample={factor} does: "
            f"images.reshape(N, {th}, {factor}, {tw}, {factor}).mean(axis=(2, 4)) for (N, H, W)."
        )
    else:
        fix = f"Resize them to {th} x {tw}."
    raise DataError(
        f"data.path={given!r} holds {h} x {w} images, but the model was trained on {th} x {tw} "
        "(its filters learned features at that scale: a digit of another size gives wrong "
        f"maps). {fix}"
    )


def preprocess(images: np.ndarray, meta: Mapping[str, Any]) -> np.ndarray:
    """``(images - feature_mean) / feature_scale`` per channel, in float32 as in training
    (:func:`lossbench.data.dense.split_dense`): the model's input for float32 ``(N, C, H, W)``
    images in the training data's units."""
    mean = np.asarray(meta["feature_mean"], dtype=np.float32)[None, :, None, None]
    scale = np.asarray(meta["feature_scale"], dtype=np.float32)[None, :, None, None]
    return (images - mean) / scale


def predict_maps(
    ckpt_path: str | os.PathLike, data_path: str | os.PathLike
) -> dict[str, np.ndarray]:
    """The probability and label maps of a dense checkpoint for the images of a ``.npy`` file.

    Returns:
        ``probabilities``, ``predicted``, ``classes``, ``label_names`` (module docstring).

    Raises:
        CheckpointError: the checkpoint is unreadable, or not of a dense task.
        DataError: the images do not fit the model (the message names the fix).
    """
    with collection_paused():  # torch, Lightning and torchmetrics
        import torch

        from lossbench.metrics import THRESHOLD, to_probabilities
        from lossbench.module import ClassifierModule

    checkpoint = load_checkpoint(ckpt_path)
    meta = metadata(checkpoint, ckpt_path)
    task = meta["task"]
    if not is_dense(task):
        raise CheckpointError(
            f"checkpoint {str(ckpt_path)!r} was trained on a {task} task (a row of features "
            "per example), but data=images is for checkpoints of a dense task (a label per "
            "pixel: data=mnist_segmentation, data=mnist_ink). Predict its rows from a CSV file: "
            "data=csv data.path=<file>.csv out=predictions.csv"
        )
    module = ClassifierModule.from_checkpoint(checkpoint, ckpt_path)
    images = read_images(data_path, meta)
    x = torch.from_numpy(preprocess(images, meta))
    dtype = next(module.model.parameters()).dtype
    probabilities = []
    with torch.inference_mode(), scoring_context(trained_precision(checkpoint)):
        for chunk in torch.split(x, CHUNK):
            scores = module(chunk.to(dtype))
            n, _, h, w = scores.shape
            probs = to_probabilities(scores, module.link, task).reshape(n, h, w, -1)
            probabilities.append(probs.movedim(-1, 1))
    probs = torch.cat(probabilities)  # float64 (N, C, H, W); (N, 1, H, W) for a binary map
    binary = task == "dense_binary"
    predicted = (probs[:, 0] > THRESHOLD).long() if binary else probs.argmax(dim=1)
    return {
        "probabilities": (probs[:, 0] if binary else probs).to(torch.float32).numpy(),
        "predicted": predicted.numpy(),
        "classes": np.asarray(meta["classes"]),
        "label_names": np.asarray([str(name) for name in meta["label_names"]]),
    }


def write_maps(
    maps: Mapping[str, np.ndarray], out: str | os.PathLike, ckpt_path: str | os.PathLike
) -> Path:
    """Write ``maps`` as a compressed ``.npz`` file (it loads with ``allow_pickle=False``), whole
    or not at all (:func:`lossbench.output_files.written_whole`), with ``checkpoint``: the path
    of ``ckpt_path``, which predicted them."""
    from lossbench.output_files import written_whole

    path = Path(str(out)).expanduser()
    checkpoint = np.asarray(str(Path(ckpt_path).expanduser().resolve()))
    with written_whole(path, "wb") as handle:
        np.savez_compressed(handle, **maps, checkpoint=checkpoint)
    return path
