"""Predict with a trained checkpoint on new rows of a CSV file.

    lossbench-predict ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt \\
        data=csv data.path=new.csv out=predictions.csv

The CSV file needs the feature columns the model was trained on, by name and in any order;
other columns (the label, an id) are ignored. Everything else comes from the checkpoint, not
from the training data: lossbench-train stores the feature names, the training split's
preprocessing (mean and scale per numeric feature, the categories of each categorical feature,
the values imputed for missing ones when trained with ``data.impute``), the task, the label or
class names, the head and the link from raw scores to probabilities (:mod:`lossbench.checkpoint`).
Features are read and preprocessed exactly as in training, so a training row gets the
probability the model gave it. A category that training never saw encodes as all zeros.

The output CSV has one row per input row, in the input's order:

- binary: ``p_<label>`` (the probability of 1) and ``pred_<label>`` (1 if ``p > 0.5``, else 0);
- multilabel: ``p_<label>`` for each label, then ``pred_<label>`` for each (threshold 0.5);
- multiclass: ``p_<class>`` for each class, then ``predicted``: the most probable class,
  written as the original label value (a class name, or an integer class id).

A checkpoint of a dense task (``data=mnist_segmentation``, ``data=mnist_ink``: a label per
pixel) is refused with a message: a CSV row per example cannot hold an image or receive a
label map. Score images with ``lossbench-eval`` on the run's data, or in Python
(:meth:`lossbench.module.ClassifierModule.from_checkpoint`, then ``module(images)``:
``(N, U, H, W)`` scores).

Probabilities are float64 from the model's raw scores and its link
(:func:`lossbench.metrics.to_probabilities`), the same numbers the metrics see; thresholds are
those of the metrics (``p > 0.5``).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import hydra
import numpy as np
import torch
from omegaconf import MISSING, DictConfig, OmegaConf

from lossbench.checkpoint import CheckpointError, load_checkpoint, metadata
from lossbench.data.csv_loader import _features, _names, _read, _resolve
from lossbench.data.preprocess import Preprocessor
from lossbench.data.table import DataError
from lossbench.errors import refuse, refusing
from lossbench.metrics import THRESHOLD, to_probabilities
from lossbench.module import ClassifierModule
from lossbench.tasks import is_dense
from lossbench.train import config_dir, run_checkpoint_app


@dataclass
class PredictConfig:
    ckpt_path: str = MISSING  # the checkpoint (.ckpt) to predict with
    data: Any = MISSING  # data=csv data.path=<file>: the rows to predict
    out: str = "predictions.csv"  # the CSV file to write


def _read_features(
    path: str | os.PathLike, preprocessor: Preprocessor, delimiter: str | None = None
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The model's feature columns of a CSV file, checked as in training: float32 ``(N, F)``
    (categorical columns as codes) and the categories of the categorical columns."""
    feature_names = preprocessor.feature_names
    header, rows, source = _read(_resolve(path), delimiter)
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise source.error(
            f"the model was trained on feature column(s) this file lacks: {_names(missing)}. "
            f"It needs all of {_names(feature_names)} (any order; other columns are ignored); "
            f"the file has {_names(header)}. Add the missing columns, named as in the training "
            "data."
        )
    columns = list(zip(*rows, strict=True))
    index = {name: j for j, name in enumerate(header)}
    return _features(
        feature_names,
        {name: columns[index[name]] for name in feature_names},
        source,
        categorical=list(preprocessor.categories),
        allow_missing=bool(preprocessor.fill),
    )


def predict(
    ckpt_path: str | os.PathLike, data_path: str | os.PathLike, *, delimiter: str | None = None
) -> dict[str, list]:
    """Probabilities and predicted labels of a checkpoint for every row of a CSV file.

    Args:
        ckpt_path: a checkpoint written by lossbench-train.
        data_path: a CSV file with (at least) the model's feature columns.
        delimiter: the file's field separator; None: detected from the file (as in training).

    Returns:
        The output columns by name, in order (see the module docstring).

    Raises:
        CheckpointError: the checkpoint is missing, unsafe, or lacks the preprocessing.
        DataError: the file is unreadable, lacks feature columns, or holds values that are not
            numbers; the message names the column and the line.
    """
    checkpoint = load_checkpoint(ckpt_path)
    meta = metadata(checkpoint, ckpt_path)
    if is_dense(meta["task"]):
        raise CheckpointError(
            f"checkpoint {str(ckpt_path)!r} was trained on a {meta['task']} task (a label for "
            "every pixel of an image), but lossbench-predict reads feature rows from a CSV file "
            "and writes one prediction per row, which cannot hold an image or its label map. "
            "Measure it on its data with lossbench-eval ckpt_path=<file> config=<its run's "
            ".hydra/config.yaml>, or score images in Python: "
            "lossbench.module.ClassifierModule.from_checkpoint(...)(images) gives (N, units, H, W) "
            "scores. "
            "lossbench-predict takes checkpoints of the tasks: binary, multilabel, multiclass."
        )
    module = ClassifierModule.from_checkpoint(checkpoint, ckpt_path)
    preprocessor = Preprocessor.from_dict(meta)
    raw, categories = _read_features(data_path, preprocessor, delimiter)
    dtype = next(module.model.parameters()).dtype
    x = torch.from_numpy(preprocessor.transform(raw, categories)).to(dtype)
    with torch.inference_mode():
        scores = module(x)
    task = meta["task"]
    probs = to_probabilities(scores, module.link, task)
    columns: dict[str, list] = {}
    if task == "multiclass":
        classes = list(meta["classes"])
        for k, name in enumerate(meta["label_names"]):
            columns[f"p_{name}"] = probs[:, k].tolist()
        columns["predicted"] = [classes[i] for i in probs.argmax(dim=1).tolist()]
        return columns
    probs = probs.reshape(len(probs), -1)  # binary (N,) -> (N, 1)
    names = list(meta["label_names"])
    for k, name in enumerate(names):
        columns[f"p_{name}"] = probs[:, k].tolist()
    for k, name in enumerate(names):
        columns[f"pred_{name}"] = (probs[:, k] > THRESHOLD).long().tolist()
    return columns


def write_predictions(
    columns: dict[str, list], out: str | os.PathLike, *, data_path: str | os.PathLike | None = None
) -> Path:
    """Write ``columns`` as a CSV file (floats with every digit: they read back exactly)."""
    path = Path(out).expanduser()
    if data_path is not None and path.resolve() == Path(data_path).expanduser().resolve():
        raise DataError(
            f"out={str(out)!r} is the input file data.path; writing there would replace the "
            "data with the predictions. Give another file, e.g. out=predictions.csv."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))
    return path


def _fail(message: str) -> NoReturn:
    refuse(DataError(message))


@hydra.main(config_path=str(config_dir()), config_name="predict", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        _fail(
            "no checkpoint given. Name one with ckpt_path=<file>, e.g. lossbench-predict "
            "ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt data.path=new.csv"
        )
    if cfg.data.get("name") != "csv":
        _fail(
            f"data={cfg.data.get('name')} is a built-in data set; lossbench-predict reads the "
            "rows to predict from a CSV file: data=csv data.path=<file>."
        )
    if OmegaConf.is_missing(cfg.data, "path"):
        _fail(
            "no data given. Name the CSV file of rows to predict with data.path=<file> (it "
            "needs the model's feature columns, by name)."
        )
    with refusing():  # CheckpointError, DataError
        columns = predict(cfg.ckpt_path, cfg.data.path, delimiter=cfg.data.get("delimiter"))
        path = write_predictions(columns, cfg.out, data_path=cfg.data.path)
    n = len(next(iter(columns.values())))
    print(f"{n} predictions written to {path} (columns: {', '.join(columns)})")


def main() -> None:
    """Console entry point of ``lossbench-predict``."""
    run_checkpoint_app("predict_schema", PredictConfig, _hydra_main)


if __name__ == "__main__":
    main()
