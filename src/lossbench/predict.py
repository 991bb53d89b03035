"""Predict with a trained checkpoint: new rows of a CSV file, or new images of a dense task.

    lossbench-predict ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt \\
        data=csv data.path=new.csv out=predictions.csv
    lossbench-predict ckpt_path=outputs/runs/<dense run>/checkpoints/best-epoch004.ckpt \\
        data=images data.path=images.npy out=maps.npz

The CSV file needs the feature columns the model was trained on, by name and in any order;
other columns (the label, an id) are ignored. Everything else comes from the checkpoint, not
from the training data: lossbench-train stores the feature names, the training split's
preprocessing (mean and scale per numeric feature, the categories of each categorical feature,
the values imputed for missing ones when trained with ``data.impute``), the task, the label or
class names, the head and the link from raw scores to probabilities (:mod:`lossbench.checkpoint`).
Features are read and preprocessed exactly as in training, so a training row gets the
probability the model gave it. A category that training never saw encodes as all zeros, with a
warning that names the column, the rows and the known categories the values resemble
(:mod:`lossbench.predict_categories`; integer codes written as decimals, ``10115.0`` for
``10115``, are matched).

The output CSV has one row per input row, in the input's order:

- binary: ``p_<label>`` (the probability of 1) and ``pred_<label>`` (1 if ``p > 0.5``, else 0);
- multilabel: ``p_<label>`` for each label, then ``pred_<label>`` for each (threshold 0.5);
- multiclass: ``p_<class>`` for each class, then ``predicted``: the most probable class,
  named as in its ``p_`` column (a CSV's label value as the file writes it, a class name or an
  integer id; a built-in data set's class name, ``setosa`` for iris).

A checkpoint of a dense task (``data=mnist_segmentation``, ``data=mnist_ink``: a label per
pixel) predicts images instead: ``data=images data.path=<file>.npy`` (``(N, H, W)`` or
``(N, C, H, W)`` grey values, preprocessed with the checkpoint's per-channel mean and scale) and
an ``out`` ending ``.npz`` with ``probabilities``, ``predicted``, ``classes`` and
``label_names`` (:mod:`lossbench.predict_maps`). Each kind of checkpoint refuses the other's
input, naming the one it takes. ``out`` defaults to ``predictions.csv`` / ``predictions.npz``
(a ``.csv`` / ``.npz`` name) and never replaces the input file, nor any existing file but
an earlier output of the same checkpoint: a CSV file with exactly the columns it writes, whose
record ``<out>.lossbench.json``, written next to it, names that checkpoint and the file's
SHA-256; an archive whose ``checkpoint`` entry names it. It is
written whole or not at all: a Ctrl-C or SIGTERM ends the command in one line, exit status 130
or 143, with ``out`` as it was (:mod:`lossbench.interrupts`).

Probabilities are float64 from the model's raw scores and its link
(:func:`lossbench.metrics.to_probabilities`), the same numbers the metrics see; thresholds are
those of the metrics (``p > 0.5``).

Importing this module imports no torch, Lightning or torchmetrics: :func:`predict` and
:func:`lossbench.predict_maps.predict_maps` import them, so that ``--help`` and a command line
refused before the checkpoint is read answer at once (as ``lossbench-train``'s,
:mod:`lossbench.train`).
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import hydra
from omegaconf import MISSING, DictConfig, OmegaConf

from lossbench.checkpoint import CheckpointError, load_checkpoint, metadata
from lossbench.data.csv_loader import parse_features, quoted_names, read_rows, resolve_csv_path
from lossbench.data.preprocess import Preprocessor
from lossbench.data.table import DataError
from lossbench.errors import format_warning, refuse, refusing
from lossbench.importing import collection_paused
from lossbench.interrupts import output_kept, stopping
from lossbench.precision import scoring_context, trained_precision
from lossbench.predict_categories import UnseenCategoryWarning, match_categories
from lossbench.tasks import is_dense
from lossbench.train import config_dir, run_checkpoint_app, start_checkpoint_work

if TYPE_CHECKING:
    import numpy as np

#: ``out`` when none is given, by the ``data`` option.
DEFAULT_OUT = {"csv": "predictions.csv", "images": "predictions.npz"}
CSV_SUFFIX = ".csv"


@dataclass
class PredictConfig:
    ckpt_path: str = MISSING  # the checkpoint (.ckpt) to predict with
    data: Any = MISSING  # data=csv data.path=<file>.csv, or data=images data.path=<file>.npy
    out: str | None = None  # the file to write; null: predictions.csv / predictions.npz


def _read_features(
    path: str | os.PathLike, preprocessor: Preprocessor, delimiter: str | None = None
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The model's feature columns of a CSV file, checked as in training: float32 ``(N, F)``
    (categorical columns as codes) and the categories of the categorical columns."""
    feature_names = preprocessor.feature_names
    header, rows, source = read_rows(resolve_csv_path(path), delimiter)
    missing = [name for name in feature_names if name not in header]
    if missing:
        raise source.error(
            "the model was trained on feature column(s) this file lacks: "
            f"{quoted_names(missing)}. It needs all of {quoted_names(feature_names)} (any order; "
            f"other columns are ignored); the file has {quoted_names(header)}. "
            + (
                _delimiter_hint(header, missing, source.delimiter, delimiter)
                or "Add the missing columns, named as in the training data."
            )
        )
    columns = list(zip(*rows, strict=True))
    index = {name: j for j, name in enumerate(header)}
    return parse_features(
        feature_names,
        {name: columns[index[name]] for name in feature_names},
        source,
        categorical=list(preprocessor.categories),
        allow_missing=bool(preprocessor.fill),
        predicting=True,
    )


def _delimiter_hint(
    header: list[str], missing: list[str], used: str, given: str | None
) -> str | None:
    """Where the missing columns are in the header's names joined by another delimiter than
    ``used`` (``data.delimiter`` chose the wrong one, or detection did): the fix.

        >>> print(_delimiter_hint(["a,b,c"], ["a", "b"], ";", ";"))
        The header's names are joined by ',', not by the delimiter ';' (given as data.delimiter): give 'data.delimiter=","' or leave it out (the delimiter is then detected).
    """  # noqa: E501
    from lossbench.data.csv_loader import DELIMITERS

    for other in DELIMITERS:
        names = {part.strip() for cell in header for part in cell.split(other)}
        if other != used and all(name in names for name in missing):
            # as a shell passes it to Hydra (a comma or ';' must be quoted for Hydra)
            shown = "data.delimiter=tab" if other == "\t" else f"'data.delimiter=\"{other}\"'"
            how = "given as data.delimiter" if given is not None else "detected from the file"
            fix = "or leave it out (the delimiter is then detected)" if given is not None else ""
            return (
                f"The header's names are joined by {other!r}, not by the delimiter {used!r} "
                f"({how}): give {shown} {fix}".rstrip()
                + "."
            )
    return None


def prediction_columns(meta: Mapping[str, Any]) -> list[str]:
    """The columns :func:`predict` writes for a checkpoint's ``lossbench_metadata``.

    >>> prediction_columns({"task": "binary", "label_names": ["y"]})
    ['p_y', 'pred_y']
    >>> prediction_columns({"task": "multiclass", "label_names": ["a", "b"]})
    ['p_a', 'p_b', 'predicted']
    """
    names = [str(name) for name in meta["label_names"]]
    probabilities = [f"p_{name}" for name in names]
    if meta["task"] == "multiclass":
        return [*probabilities, "predicted"]
    return [*probabilities, *(f"pred_{name}" for name in names)]


def predict(
    ckpt_path: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    delimiter: str | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, list]:
    """Probabilities and predicted labels of a checkpoint for every row of a CSV file.

    Args:
        ckpt_path: a checkpoint written by lossbench-train.
        data_path: a CSV file with (at least) the model's feature columns.
        delimiter: the file's field separator; None: detected from the file (as in training).
        checkpoint: the checkpoint as :func:`~lossbench.checkpoint.load_checkpoint` read it
            (None: read ``ckpt_path``).

    Returns:
        The output columns by name, in order (see the module docstring).

    Raises:
        CheckpointError: the checkpoint is missing, unsafe, or lacks the preprocessing.
        DataError: the file is unreadable, lacks feature columns, or holds values that are not
            numbers; the message names the column and the line.
    """
    with collection_paused():  # torch, Lightning and torchmetrics
        import torch

        from lossbench.metrics import THRESHOLD, to_probabilities
        from lossbench.module import ClassifierModule

    if checkpoint is None:
        checkpoint = load_checkpoint(ckpt_path)
    meta = metadata(checkpoint, ckpt_path)
    if is_dense(meta["task"]):
        raise CheckpointError(
            f"checkpoint {str(ckpt_path)!r} was trained on a {meta['task']} task (a label for "
            "every pixel of an image), but a CSV file holds a row of features per example. "
            "Predict its label maps from images saved with numpy.save: lossbench-predict "
            "ckpt_path=<file> data=images data.path=<images>.npy out=maps.npz"
        )
    module = ClassifierModule.from_checkpoint(checkpoint, ckpt_path)
    preprocessor = Preprocessor.from_dict(meta)
    raw, given = _read_features(data_path, preprocessor, delimiter)
    categories, notes = match_categories(
        raw, preprocessor.feature_names, given, preprocessor.categories
    )
    for note in notes:
        warnings.warn(note, UnseenCategoryWarning, stacklevel=2)
    dtype = next(module.model.parameters()).dtype
    x = torch.from_numpy(preprocessor.transform(raw, categories)).to(dtype)
    with torch.inference_mode(), scoring_context(trained_precision(checkpoint)):
        scores = module(x)  # bf16 under bf16-mixed: the scores the run's metrics saw
    task = meta["task"]
    probs = to_probabilities(scores, module.link, task)
    columns: dict[str, list] = {}
    if task == "multiclass":
        names = list(meta["label_names"])
        for k, name in enumerate(names):
            columns[f"p_{name}"] = probs[:, k].tolist()
        # the class's name, as in its p_ column (a CSV's label value as written in the file)
        columns["predicted"] = [names[i] for i in probs.argmax(dim=1).tolist()]
        return columns
    probs = probs.reshape(len(probs), -1)  # binary (N,) -> (N, 1)
    names = list(meta["label_names"])
    for k, name in enumerate(names):
        columns[f"p_{name}"] = probs[:, k].tolist()
    for k, name in enumerate(names):
        columns[f"pred_{name}"] = (probs[:, k] > THRESHOLD).long().tolist()
    return columns


def check_predictions_out(
    out: str | os.PathLike,
    columns: Sequence[str],
    ckpt_path: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
) -> Path:
    """``out`` as a path where the predictions (``columns``) of ``ckpt_path`` may go: a
    ``.csv`` file name, not the input file ``data_path``, not a directory, and not an existing
    file other than an earlier predictions file of the same checkpoint, as its record says
    (:func:`lossbench.output_files.is_predictions_csv`,
    :func:`~lossbench.output_files.check_output`).
    """
    from lossbench.output_files import (
        another_name,
        check_output,
        check_suffix,
        is_predictions_csv,
        is_predictions_record,
        predictions_record,
    )

    path = Path(out).expanduser()
    if data_path is not None and path.resolve() == Path(data_path).expanduser().resolve():
        raise DataError(
            f"out={str(out)!r} is the input file data.path; writing there would replace the "
            "data with the predictions. Give another file, e.g. out=predictions.csv."
        )
    record = predictions_record(path)
    checked = check_output(
        out,
        ours=lambda existing: is_predictions_csv(existing, columns, ckpt_path),
        example=another_name(path, ckpt_path, DEFAULT_OUT["csv"]),
        error=DataError,
        replaced=f"a predictions file of this checkpoint ({Path(ckpt_path).expanduser().resolve()}"
        f"), as the record {record.name} next to it says (predictions of a lossbench that kept "
        "no record, or edited since, have no such record)",
    )
    if not path.exists():  # a record left behind by predictions moved away: replaced
        check_output(record, ours=is_predictions_record, example="predictions.csv", error=DataError)
    check_suffix(
        out,
        CSV_SUFFIX,
        what=f"data=csv writes the predictions as comma-separated text ({', '.join(columns)})",
        error=DataError,
    )
    return checked


def write_predictions(
    columns: dict[str, list],
    out: str | os.PathLike,
    ckpt_path: str | os.PathLike,
    *,
    data_path: str | os.PathLike | None = None,
) -> Path:
    """Write ``columns`` as a CSV file (floats with every digit: they read back exactly), whole
    or not at all (:func:`lossbench.output_files.written_whole`), and next to it the record of
    ``ckpt_path``, the checkpoint that predicted them
    (:func:`lossbench.output_files.write_predictions_record`)."""
    from lossbench.output_files import write_predictions_record, written_whole

    path = check_predictions_out(out, list(columns), ckpt_path, data_path)
    with written_whole(path, newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))
    write_predictions_record(path, ckpt_path)
    return path


def unread_data(name: object) -> str:
    """The refusal of ``data=<name>``, an option lossbench-predict's own ``data`` group
    (``csv``, ``images``) lacks, which a config folder of the user's (``-cd``, ``-cp``) brings:
    Hydra refuses any other option itself (:func:`lossbench.option_keys.missing_option_refusal`).

        >>> unread_data("mine")[:50]
        'data=mine: lossbench-predict reads the rows to pre'
    """
    return f"data={name}: {DATA_READ}; no other data option."


#: The ``data.*`` settings lossbench-predict reads, per ``data=`` option; the others (a
#: training command's ``data.impute``, ``data.label_columns``, ...) come from the checkpoint.
DATA_SETTINGS_READ = {"csv": ("name", "path", "delimiter"), "images": ("name", "path")}


class UnusedSettingWarning(UserWarning):
    """A ``data.*`` setting given to lossbench-predict that it does not use."""


def unused_data_settings(overrides: Sequence[str], option: str) -> list[str]:
    """The overrides of ``overrides`` that set a ``data.*`` setting lossbench-predict does not
    read with ``data=<option>`` (:data:`DATA_SETTINGS_READ`).

        >>> unused_data_settings(["data.path=x.csv", "data.impute=median", "+data.seed=1",
        ...                       "out=p.csv"], "csv")
        ['data.impute=median', '+data.seed=1']
    """
    read = DATA_SETTINGS_READ.get(option, ())
    unused = []
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~").strip()
        if key.startswith("data.") and key.split(".")[1] not in read:
            unused.append(override)
    return unused


def unused_data_note(unused: Sequence[str], option: str) -> str:
    """The warning for settings of :func:`unused_data_settings`.

    >>> print(unused_data_note(["data.impute=median"], "csv"))
    data.impute=median is not used: the model's features, their preprocessing (scaling, categories, imputed values) and its classes come from the checkpoint, as its run trained them; lossbench-predict reads only data.path and data.delimiter. To change them, retrain with the setting and predict with the new run's checkpoint.
    """  # noqa: E501
    read = [f"data.{key}" for key in DATA_SETTINGS_READ.get(option, ()) if key != "name"]
    listed = " and ".join(read)
    one = len(unused) == 1
    inputs = (
        "the model's input size and its classes"
        if option == "images"
        else "the model's features, their preprocessing (scaling, categories, imputed "
        "values) and its classes"
    )
    return (
        f"{', '.join(unused)} {'is' if one else 'are'} not used: {inputs} come from the "
        f"checkpoint, as its run trained them; lossbench-predict reads only {listed}. To "
        "change them, retrain with the setting and predict with the new run's checkpoint."
    )


#: What lossbench-predict reads, for the refusals of another ``data=`` option.
DATA_READ = (
    "lossbench-predict reads the rows to predict from a CSV file (data=csv "
    "data.path=<file>.csv) or, for a checkpoint of a dense task, images from a NumPy file "
    "(data=images data.path=<file>.npy)"
)


def data_option(cfg: DictConfig) -> str | None:
    """The ``data=`` option of the command line (``csv`` by default), read from Hydra's
    choices, so without resolving the data config's interpolations (an option of a config
    folder of the user's may interpolate keys lossbench-predict's config lacks); outside a
    Hydra app, ``data.name`` as written."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("data")
        if choice is not None:
            return str(choice)
    name = OmegaConf.to_container(cfg.data, resolve=False).get("name")  # type: ignore[union-attr]
    return None if name is None else str(name)


def _fail(message: str) -> NoReturn:
    refuse(DataError(message))


@hydra.main(config_path=str(config_dir("predict")), config_name="predict", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    from lossbench.errors import ConfigError
    from lossbench.interpolations import check_interpolations
    from lossbench.validation import check_added_top_level_keys

    option = data_option(cfg)
    if option not in DEFAULT_OUT:  # an option of a -cd folder: before it is resolved
        _fail(unread_data(option))
    try:  # data.path=${nosuch}, +ot=x.csv: refused before anything reads them
        check_interpolations(cfg, command="lossbench-predict")
        check_added_top_level_keys(cfg, PredictConfig, "lossbench-predict")
    except ConfigError as error:
        refuse(error)
    if OmegaConf.is_missing(cfg, "ckpt_path") or not str(cfg.ckpt_path).strip():
        empty = "" if OmegaConf.is_missing(cfg, "ckpt_path") else " (ckpt_path= is empty)"
        _fail(
            f"no checkpoint given{empty}. Name one with ckpt_path=<file>, e.g. lossbench-predict "
            "ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt data.path=new.csv"
        )
    name = cfg.data.get("name")
    if name not in DEFAULT_OUT:
        _fail(unread_data(name))
    if OmegaConf.is_missing(cfg.data, "path"):
        _fail(
            "no data given. Name the CSV file of rows to predict with data.path=<file> (it "
            "needs the model's feature columns, by name), or the .npy file of images with "
            "data=images data.path=<file>.npy."
        )
    out = cfg.out or DEFAULT_OUT[name]
    start_checkpoint_work()
    warnings.formatwarning = format_warning  # type: ignore[assignment]
    unused = unused_data_settings(_task_overrides(), str(name))
    if unused:
        warnings.warn(unused_data_note(unused, str(name)), UnusedSettingWarning, stacklevel=1)
    output = "label maps" if name == "images" else "predictions"
    # a Ctrl-C or SIGTERM: nothing written (the output replaces an earlier one once complete)
    with refusing(), stopping(output_kept(output, Path(str(out)).expanduser())):
        work = _predict_images if name == "images" else _predict_rows
        done = work(cfg.ckpt_path, cfg.data, out)
    print(done)


def _task_overrides() -> list[str]:
    """The command line's overrides of the job (none outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [str(override) for override in HydraConfig.get().overrides.task]


def _predict_rows(ckpt_path: str, data: DictConfig, out: str) -> str:
    """Predict the rows of the CSV file ``data.path`` into ``out``; what was written."""
    checkpoint = load_checkpoint(ckpt_path)
    expected = prediction_columns(metadata(checkpoint, ckpt_path))
    check_predictions_out(out, expected, ckpt_path, data.path)
    columns = predict(ckpt_path, data.path, delimiter=data.get("delimiter"), checkpoint=checkpoint)
    path = write_predictions(columns, out, ckpt_path, data_path=data.path)
    n = len(next(iter(columns.values())))
    return f"{n} predictions written to {path} (columns: {', '.join(columns)})"


def _predict_images(ckpt_path: str, data: DictConfig, out: str) -> str:
    """Predict the label maps of the images of ``data.path`` into ``out``; what was written."""
    from lossbench.predict_maps import check_paths, predict_maps, write_maps

    check_paths(data.path, out, ckpt_path)
    maps = predict_maps(ckpt_path, data.path)
    path = write_maps(maps, out, ckpt_path)
    shapes = ", ".join(f"{key} {maps[key].shape}" for key in ("probabilities", "predicted"))
    return f"{len(maps['predicted'])} label maps written to {path} ({shapes})"


def main() -> None:
    """Console entry point of ``lossbench-predict``.

    Its config folder (``command_configs/predict``: :func:`lossbench.train.config_dir`) holds
    ``predict.yaml`` and the ``data`` group, ``csv`` and ``images``, which build on the schemas
    stored here."""
    from hydra.core.config_store import ConfigStore

    from lossbench.config import CsvDataConfig
    from lossbench.predict_maps import ImagesDataConfig

    store = ConfigStore.instance()
    store.store(name="predict_csv_schema", node=CsvDataConfig)
    store.store(name="predict_images_schema", node=ImagesDataConfig)
    run_checkpoint_app(
        "predict_schema",
        PredictConfig,
        _hydra_main,
        "lossbench-predict",
        shared_out=_shared_out,
        groups={"data": ("csv", {"csv": CsvDataConfig, "images": ImagesDataConfig})},
        option_hints={"data": f"{DATA_READ}; lossbench-train's data sets are not among them."},
    )


def _shared_out(overrides: list[str]) -> str | None:
    """Why a multirun's jobs would all write one ``out`` (given, or the default
    ``predictions.csv`` / ``predictions.npz`` every job shares)."""
    from lossbench.sweep_refusals import shared_out_refusal

    images = any(o.replace(" ", "") == "data=images" for o in overrides)
    default = DEFAULT_OUT["images" if images else "csv"]
    return shared_out_refusal(overrides, "lossbench-predict", default=default)


if __name__ == "__main__":  # python -m lossbench.predict: the same command as lossbench-predict
    import sys

    from lossbench.commands import predict

    sys.exit(predict())
