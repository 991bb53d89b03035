"""Recompute a run's test metrics from one of its checkpoints.

    lossbench-eval ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt
    lossbench-eval ckpt_path=<run>/checkpoints/last.ckpt split=val out=last-val.json
    lossbench-eval ckpt_path=model.ckpt    # moved elsewhere: the run's config it holds is read
    lossbench-eval ckpt_path=model.ckpt config=<run>/config.yaml   # or the run's config.yaml
    lossbench-eval ckpt_path=<run>/checkpoints/best-epoch012.ckpt data_path=moved/my.csv

The run's ``config.yaml`` (next to the checkpoint's ``checkpoints/`` folder, or ``config=``;
for a checkpoint moved away from its run, the copy of that config the checkpoint holds) says
which data, split and loss the run used; the data module is rebuilt from it and a
Lightning ``Trainer.test`` (``Trainer.validate`` for ``split=val``) runs the checkpoint's
weights on it. For the best checkpoint this gives exactly the ``test/*`` numbers of the run's
``metrics.json``. The metrics are printed and written as JSON to ``out`` (default
``<run dir>/eval.json``, ``eval-val.json`` for ``split=val``, in the checkpoint's run folder
whatever ``config=`` names; ``eval-<checkpoint's stem>.json`` for a checkpoint copied into
another run's folder, one whose ``config.yaml`` differs from the run config the checkpoint
holds in any setting that a resume may not change, :func:`default_out`; ``metrics.json`` is
never overwritten), whole or not at all: a Ctrl-C or SIGTERM ends the command in one line,
exit status 130 or 143, with ``out`` as it was (:mod:`lossbench.interrupts`). Nothing else is
written: no Hydra output directory, no logs.

A checkpoint is loaded with ``weights_only=True`` (:func:`lossbench.checkpoint.load_checkpoint`),
and data that differ from those the checkpoint was trained on (another CSV file, an edited one)
are refused, since the numbers would not be the run's: the training split's preprocessing must
be the checkpoint's, and the rows of the split evaluated must have the SHA-256 the checkpoint
stores for it (``split_sha256``; checkpoints of older versions do not store it, and only their
training split's preprocessing is compared). New rows are scored with ``lossbench-predict``.
A ``config=`` whose ``model``, ``head`` or ``loss`` is not the checkpoint's, or whose ``data.*``
are not those of the ``config.yaml`` still in the checkpoint's run folder, is another run's and
is refused; its ``seed``, ``optimizer``, ``scheduler`` and ``trainer`` may differ.

Importing this module imports no torch, Lightning or torchmetrics: :func:`evaluate` imports
them, so that ``--help`` and a command line refused before the checkpoint is read answer at
once (as ``lossbench-train``'s, :mod:`lossbench.train`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lossbench.checkpoint import (
    DATA_KEYS,
    METADATA_KEY,
    OPTIONAL_DATA_KEYS,
    RESUME_MAY_CHANGE,
    hyperparameters,
    load_checkpoint,
)
from lossbench.checkpoint_format import INPUT_SHAPE_KEY, RUN_CONFIG_KEY, SPLITS_SHA256_KEY
from lossbench.errors import UserInputError, refusing
from lossbench.importing import collection_paused
from lossbench.interrupts import fit_interrupts, output_kept, stopping
from lossbench.output_files import run_dir_of
from lossbench.record import RECORD_NAME, training_cwd
from lossbench.run_config_file import load_config_file
from lossbench.run_identity import comparable_config
from lossbench.train import config_dir, run_checkpoint_app, start_checkpoint_work

SPLITS = ("test", "val")
EVAL_NAME = "eval.json"
#: The suffix of the file ``out`` names.
JSON_SUFFIX = ".json"


class EvaluationError(UserInputError):
    """An evaluation that cannot reproduce the run's numbers; the message says why and the fix."""


@dataclass
class EvalConfig:
    ckpt_path: str = MISSING  # the checkpoint (.ckpt) to evaluate
    config: str | None = None  # the run's config.yaml; null: <run dir>/config.yaml
    data_path: str | None = None  # data=csv runs: the CSV file, if it moved since training
    split: str = "test"  # test | val
    out: str | None = None  # the JSON file; null: <run dir>/eval.json (split=val: eval-val.json)
    accelerator: str | None = None  # null: the run's trainer.accelerator


_GIVE_RUN_CONFIG = "Give the config.yaml that lossbench-train wrote for the checkpoint's run"


def _run_config(
    ckpt_path: Path, config: str | None, checkpoint: dict[str, Any] | None = None
) -> tuple[DictConfig, Path | None]:
    """The run's config and the file it was read from: ``config``, else the ``config.yaml`` of
    the checkpoint's run folder where it is that run's, else the copy of its run's config the
    ``checkpoint`` holds (:data:`lossbench.checkpoint_format.RUN_CONFIG_KEY`: a checkpoint
    moved away from its run, or copied into another run's folder; no file: None)."""
    path = Path(config).expanduser() if config else run_dir_of(ckpt_path) / "config.yaml"
    stored = None if checkpoint is None else checkpoint.get(RUN_CONFIG_KEY)
    if (
        not config
        and isinstance(stored, str)
        and (not path.is_file() or in_another_runs_folder(ckpt_path, checkpoint or {}))
    ):
        cfg = OmegaConf.create(json.loads(stored))
        _check_run_config(cfg, ckpt_path)
        return cfg, None
    if config and path.is_dir():
        inside = path / "config.yaml"
        hint = f", e.g. config={inside}" if inside.is_file() else ""
        raise EvaluationError(
            f"config={config!r} is a directory ({path.resolve()}), not a config file. "
            f"{_GIVE_RUN_CONFIG} with config=<run dir>/config.yaml{hint}."
        )
    if not path.is_file():
        where = (
            f"config={config!r} does not exist ({path.resolve()})"
            if config
            else f"there is no config.yaml at {path}, where a run directory keeps it next to "
            "checkpoints/, and the checkpoint holds no copy of its run's config (an older "
            "lossbench wrote it)"
        )
        raise EvaluationError(
            f"cannot find the run's config for checkpoint {str(ckpt_path)!r}: {where}. Give the "
            "config.yaml of the run that wrote the checkpoint with config=<path>."
        )
    cfg = _read_yaml(path)
    _check_run_config(cfg, path)
    return cfg, path  # type: ignore[return-value]


def in_another_runs_folder(ckpt_path: str | os.PathLike, checkpoint: dict[str, Any]) -> bool:
    """Whether ``checkpoint`` (read from ``ckpt_path``) was copied into another run's folder:
    it holds a copy of its run's config, and the ``config.yaml`` of the run folder it lies in
    (:func:`run_dir_of`) is another run's (:func:`_same_run`). A checkpoint in a folder without
    a ``config.yaml`` (a plain folder), and one that holds no config (an older lossbench's), are
    not: their folder is theirs.

        >>> in_another_runs_folder("/nowhere/model.ckpt", {})
        False
    """
    stored = checkpoint.get(RUN_CONFIG_KEY)
    folder = run_dir_of(Path(ckpt_path).expanduser()) / "config.yaml"
    if not isinstance(stored, str) or not folder.is_file():
        return False
    return not _same_run(_read_yaml(folder), json.loads(stored))


def _same_run(folder: DictConfig | ListConfig, stored: Any) -> bool:
    """Whether the ``config.yaml`` found beside a checkpoint (``folder``) is the config of the
    run whose copy the checkpoint holds (``stored``): every setting the two have is the same
    (:func:`run_differences`), so that a run that shares data, model, loss and seed with
    another but not, say, ``optimizer.lr`` is another run.

        >>> _same_run(OmegaConf.create({"seed": 0, "data": {"name": "iris"}}),
        ...           {"seed": 0, "data": {"name": "iris"}, "trainer": {"max_epochs": 3}})
        True
        >>> _same_run(OmegaConf.create({"seed": 0, "optimizer": {"lr": 0.01}}),
        ...           {"seed": 0, "optimizer": {"lr": 0.001}})
        False
    """
    if not isinstance(folder, DictConfig) or not isinstance(stored, dict):
        return False
    try:
        plain = OmegaConf.to_container(folder, resolve=True)
    except OmegaConfBaseException:
        return False
    return not run_differences(json.loads(json.dumps(plain, default=str)), stored)


def run_differences(config: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The settings in which ``config`` (a run folder's ``config.yaml``) and ``stored`` (the
    run config a checkpoint holds), plain containers, differ: each setting both have, but for
    those a resume of the run may change (:data:`lossbench.checkpoint.RESUME_MAY_CHANGE`:
    ``trainer.*``, ``ckpt_path``, ``paths``, ``logger``, ``runner``, ...; a run resumed with a
    higher ``trainer.max_epochs`` rewrites its ``config.yaml``, and its earlier checkpoints stay
    its own) and for how it shows its progress (:func:`lossbench.run_identity.comparable_config`).

        >>> run_differences({"seed": 0, "optimizer": {"lr": 0.01}, "trainer": {"max_epochs": 9}},
        ...                 {"seed": 0, "optimizer": {"lr": 0.001}, "trainer": {"max_epochs": 3}})
        ['optimizer.lr']
    """
    ours = _flat(comparable_config(json.loads(json.dumps(config, default=str))), "")
    theirs = _flat(comparable_config(json.loads(json.dumps(stored, default=str))), "")
    return [
        key
        for key in sorted(set(ours) & set(theirs))
        if ours[key] != theirs[key]
        and not any(key == p or key.startswith(f"{p}.") for p in RESUME_MAY_CHANGE)
    ]


def _read_yaml(path: Path) -> DictConfig | ListConfig:
    """``path`` loaded with OmegaConf; a file that is not YAML text is refused, naming the line."""
    cfg, why = load_config_file(path)
    if cfg is not None:
        return cfg
    raise EvaluationError(
        f"the run config {str(path)!r} {why}. {_GIVE_RUN_CONFIG} (<run dir>/config.yaml)."
    )


def _check_run_config(cfg: DictConfig | ListConfig, path: Path) -> None:
    """Refuse a config that lacks what lossbench-train writes and lossbench-eval reads: ``data``
    (complete for its data set: :data:`lossbench.config.SCHEMAS`), ``loss`` and ``seed``."""
    from lossbench.config import SCHEMAS

    def refuse(lacks: str) -> EvaluationError:
        return EvaluationError(
            f"the run config {str(path)!r} is not one of lossbench's: {lacks}, which "
            f"lossbench-train writes. {_GIVE_RUN_CONFIG} (<run dir>/config.yaml)."
        )

    if not isinstance(cfg, DictConfig):
        raise refuse("it holds a list, not the keys data, loss and seed")
    missing = [key for key in ("data", "loss", "seed") if key not in cfg]
    if missing:
        raise refuse(f"it has no {', '.join(missing)}")
    for group in ("data", "loss"):
        node = cfg[group]
        if not isinstance(node, DictConfig) or not isinstance(node.get("name"), str):
            raise refuse(f"its {group} is {node!r}, not a mapping with the {group}'s name")
    if not isinstance(cfg.get("trainer", None), DictConfig | None):
        raise refuse(f"its trainer is {cfg.trainer!r}, not a mapping of settings")
    schema = SCHEMAS["data"].get(cfg.data.name)
    if schema is None:
        raise refuse(
            f"its data.name {cfg.data.name!r} is not a data set of lossbench "
            f"(valid: {', '.join(SCHEMAS['data'])})"
        )
    base = OmegaConf.structured(schema)
    OmegaConf.set_struct(base, False)  # keys of older versions are not the question here
    try:
        absent = sorted(OmegaConf.missing_keys(OmegaConf.merge(base, cfg.data)))
    except OmegaConfBaseException as error:
        raise refuse(
            f"its data does not fit data={cfg.data.name} ({str(error).splitlines()[0]})"
        ) from None
    if absent:
        raise refuse(f"its data has no {', '.join(f'data.{key}' for key in absent)}")


def _data_config(cfg: DictConfig, run_dir: Path | None, data_path: str | None) -> dict[str, Any]:
    """The run's data settings, a CSV run's ``data.path`` found: ``data_path``, else the run's
    path, relative to the folder the run was started from (known from its ``run_dir``'s
    Hydra files; None: a config that the checkpoint holds, read from no run folder), else to
    the current one."""
    data: dict[str, Any] = OmegaConf.to_container(cfg.data, resolve=True)  # type: ignore[assignment]
    if data.get("name") != "csv":
        if data_path is not None:
            raise EvaluationError(
                f"data_path={data_path!r} only applies to runs on a CSV file, but this run "
                f"trained on data={data.get('name')}. Leave data_path out."
            )
        return data
    if data_path is not None:
        data["path"] = str(Path(data_path).expanduser().resolve())
        return data
    given = Path(data["path"]).expanduser()
    candidates = [given] if given.is_absolute() else []
    if not given.is_absolute():
        cwd = training_cwd(run_dir) if run_dir is not None else None
        candidates = ([cwd / given] if cwd else []) + [Path.cwd() / given]
    for candidate in candidates:
        if candidate.is_file():
            data["path"] = str(candidate.resolve())
            return data
    source = (
        "from its config.yaml"
        if run_dir is not None
        else "from the checkpoint's copy of its run's config, which does not say which folder "
        "the run was started from"
    )
    raise EvaluationError(
        f"the run's data file data.path={data['path']!r} ({source}) is not at "
        f"{' nor '.join(dict.fromkeys(str(c) for c in candidates))}. If it moved, give its "
        "new place with data_path=<file>."
    )


#: The ``data.*`` settings that may differ between ``config=`` and the config of the run that
#: wrote the checkpoint: where the file is (``data_path=``), and how many rows go in a batch.
DATA_MAY_DIFFER = ("path", "batch_size")


def _differences(config: Any, stored: Any, prefix: str, of: str = "checkpoint") -> list[str]:
    """``<key>: checkpoint a, config b`` for each setting that both ``stored`` (the
    checkpoint's, or ``of``'s) and ``config`` have and that differs (settings of another
    version that only one has are not compared).

        >>> _differences({"name": "mlp", "dropout": 0.1}, {"name": "mlp", "dropout": 0.0}, "model")
        ['model.dropout: checkpoint 0.0, config 0.1']
    """
    before, now = _flat(stored, prefix), _flat(config, prefix)
    return [
        f"{key}: {of} {before[key]!r}, config {now[key]!r}"
        for key in sorted(set(before) & set(now))
        if before[key] != now[key]
    ]


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    """``value``'s settings by dotted key (lists compared whole).

    >>> _flat({"model": {"name": "mlp", "hidden_sizes": (8, 8)}}, "")
    {'model.name': 'mlp', 'model.hidden_sizes': [8, 8]}
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: list(value) if isinstance(value, tuple) else value}


def _check_same_model(
    cfg: DictConfig, hparams: dict[str, Any], config_path: Path, ckpt: Path
) -> None:
    """Refuse a run config whose ``model``, ``head`` or ``loss`` is not the one the checkpoint
    stores (its hyper-parameters): it is another run's config, and the loss it names would
    score the weights with other metrics. Other settings (``seed``, ``optimizer``,
    ``scheduler``, ``trainer``) do not change the evaluation and may differ."""
    settings = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(settings, dict)
    differ = _differences(settings.get("model") or {}, hparams["model"], "model")
    head = settings.get("head")
    head = head.get("name") if isinstance(head, dict) else head
    if head is not None and head != hparams["head"]:
        differ.append(f"head: checkpoint {hparams['head']!r}, config {head!r}")
    loss = dict(settings["loss"])
    if loss.get("pos_weight") == "auto" and isinstance(hparams["loss"].get("pos_weight"), list):
        # the run worked auto out from its training split (the data settings are checked apart)
        loss["pos_weight"] = hparams["loss"]["pos_weight"]
    differ += _differences(loss, hparams["loss"], "loss")
    if differ:
        raise EvaluationError(
            f"{config_path} is not the config of the run that wrote checkpoint {str(ckpt)!r} "
            f"({'; '.join(differ)}): config= names another run's config. Give the "
            f"config.yaml of the run that wrote the checkpoint (config={run_dir_of(ckpt)}"
            "/config.yaml where it is still there), or leave config= out."
        )


def _check_same_data_settings(cfg: DictConfig, config_path: Path, ckpt: Path) -> None:
    """Where the checkpoint's run folder still holds its ``config.yaml`` and ``config=`` names
    another file: refuse ``data.*`` settings that differ from it (``data.split_seed``,
    ``data.test_fraction``: other rows would be evaluated), but for :data:`DATA_MAY_DIFFER`.
    Checkpoints store the SHA-256 of each split's rows besides, which is compared however the
    config was given (:func:`_check_same_data`)."""
    own = run_dir_of(ckpt) / "config.yaml"
    if not own.is_file() or own.resolve() == config_path.resolve():
        return
    saved, _ = load_config_file(own)
    if not isinstance(saved, DictConfig) or not isinstance(saved.get("data"), DictConfig):
        return  # a damaged config of its own: the checkpoint's metadata decide
    ours = OmegaConf.to_container(saved.data, resolve=False)
    given = OmegaConf.to_container(cfg.data, resolve=False)
    assert isinstance(ours, dict) and isinstance(given, dict)
    for key in DATA_MAY_DIFFER:
        ours.pop(key, None)
        given.pop(key, None)
    differ = _differences(given, ours, "data", of="checkpoint's run")
    if differ:
        raise EvaluationError(
            f"{config_path} is not the config of the run that wrote checkpoint {str(ckpt)!r}: "
            f"its data settings differ from those of {own} ({'; '.join(differ)}), so other rows "
            f"would be evaluated. Leave config= out (the run's own config.yaml is read), or "
            f"give config={own}."
        )


def _changed_because(data: dict[str, Any], config_given: bool, data_path_given: bool) -> str:
    """How the data can differ from the training data, of what this command was given: the
    data file edited since training (``data_path=`` naming another file), ``config=`` naming
    another run's config.

        >>> _changed_because({"name": "csv", "path": "/d/my.csv"}, False, True)
        'the data file /d/my.csv (data_path=) is not the file as it was at training'
        >>> _changed_because({"name": "wine"}, True, False)
        "config= names another run's config, or the data set changed since training"
    """
    causes = []
    if data.get("name") == "csv" and data.get("path"):
        given = " (data_path=)" if data_path_given else ""
        causes.append(f"the data file {data['path']}{given} is not the file as it was at training")
    if config_given:
        causes.append("config= names another run's config")
    if data.get("name") != "csv":
        causes.append("the data set changed since training")
    return ", or ".join(causes)


def _check_same_data(
    checkpoint: dict[str, Any],
    datamodule: Any,
    hparams: dict[str, Any],
    ckpt: str,
    split: str,
    because: str,
) -> None:
    """Refuse data that are not those the checkpoint was trained on, and a ``split`` whose rows
    are not those the run evaluated (checkpoints of older versions: only the training split's
    statistics are compared); ``because``: how that can be (:func:`_changed_because`)."""
    built = {
        "task": datamodule.task,
        "n_features": datamodule.n_features,
        "n_outputs": datamodule.n_outputs,
        "n_targets": datamodule.n_targets,
    }
    differ = [
        f"{key}: checkpoint {hparams[key]!r}, data {value!r}"
        for key, value in built.items()
        if hparams[key] != value
    ]
    meta = checkpoint.get(METADATA_KEY) or {}
    if all(meta.get(key) is not None for key in DATA_KEYS):
        differ += [
            f"{key} differ"
            for key, value in datamodule.preprocessing.items()
            if key in DATA_KEYS and list(meta[key]) != list(value)
        ]
        differ += [
            f"{key} differ"
            for key in OPTIONAL_DATA_KEYS
            if dict(meta.get(key) or {}) != dict(datamodule.preprocessing.get(key) or {})
        ]
    shapes = meta.get(INPUT_SHAPE_KEY), datamodule.preprocessing.get(INPUT_SHAPE_KEY)
    if None not in shapes and list(shapes[0]) != list(shapes[1]):
        differ.append(f"{INPUT_SHAPE_KEY}: checkpoint {shapes[0]!r}, data {shapes[1]!r}")
    if differ:
        raise EvaluationError(
            f"the data of the run's config are not those checkpoint {ckpt!r} was trained on "
            f"({'; '.join(differ)}): {because}. Evaluate with the config.yaml and data of the "
            "run that wrote the checkpoint; to score the model on other rows, predict them with "
            "lossbench-predict."
        )
    stored = (meta.get(SPLITS_SHA256_KEY) or {}).get(split)
    if stored is not None and stored != datamodule.fingerprints[split]:
        raise EvaluationError(
            f"the {split} rows of the run's data differ from those checkpoint {ckpt!r} was "
            f"evaluated on (the SHA-256 of the {split} split, stored in the checkpoint, "
            f"differs): {because}, so the numbers would not be the run's. To score the model "
            "on the new rows, predict them with lossbench-predict ckpt_path=<checkpoint> data=csv "
            "data.path=<file>; to measure a model of the new data, retrain with lossbench-train."
        )


def evaluate(
    ckpt_path: str | os.PathLike,
    *,
    config: str | os.PathLike | None = None,
    data_path: str | os.PathLike | None = None,
    split: str = "test",
    accelerator: str | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a checkpoint on its run's ``split`` with a Lightning Trainer.

    Args:
        ckpt_path: the checkpoint.
        config: the run's ``config.yaml``; None: the one in the checkpoint's run directory,
            else the copy of its run's config that the checkpoint holds (one moved away from
            its run; ``config`` is then null in the result).
        data_path: for CSV runs, where the data file is now (None: the run's ``data.path``,
            relative to the directory the run was started from).
        split: ``"test"`` or ``"val"``.
        accelerator: the Trainer's accelerator; None: the run's ``trainer.accelerator``.
        checkpoint: the checkpoint as already read from ``ckpt_path``
            (:func:`lossbench.checkpoint.load_checkpoint`); None: it is read here.

    Returns:
        ``checkpoint``, ``config``, ``split``, ``epoch``, ``data``, ``head``, ``loss``,
        ``unscored_classes`` (``{split: [...]}``, as in ``metrics.json``) and every
        ``<split>/<metric>``, as ``metrics.json`` names them.

    Raises:
        CheckpointError, EvaluationError, DataError: with what was given, why and the fix.
    """
    with collection_paused():  # torch, Lightning, torchmetrics and scikit-learn
        from lossbench.data.datamodule import ClassificationDataModule
        from lossbench.hardware import check_hardware
        from lossbench.module import ClassifierModule
        from lossbench.scored_classes import warn_unscored
        from lossbench.training import build_trainer

    if split not in SPLITS:
        raise EvaluationError(f"split={split!r} is not a split. Valid: {', '.join(SPLITS)}.")
    ckpt = Path(ckpt_path).expanduser()
    if checkpoint is None:
        checkpoint = load_checkpoint(ckpt)
    hparams = hyperparameters(checkpoint, ckpt)
    cfg, config_path = _run_config(ckpt, None if config is None else str(config), checkpoint)
    _check_same_model(cfg, hparams, config_path or ckpt, ckpt)
    if config is not None and config_path is not None:
        _check_same_data_settings(cfg, config_path, ckpt)
    run_dir = None if config_path is None else config_path.resolve().parent
    data = _data_config(cfg, run_dir, None if data_path is None else str(data_path))
    datamodule = ClassificationDataModule(data, cfg.loss.name, seed=cfg.seed)
    because = _changed_because(data, config is not None, data_path is not None)
    _check_same_data(checkpoint, datamodule, hparams, str(ckpt), split, because)
    # the classes this split cannot score, named as the run's metrics.json names them
    unscored = {k: v for k, v in datamodule.unscored_classes().items() if k == split}
    warn_unscored(unscored, datamodule.task, datamodule.n_targets, f"data={data['name']}")
    module = ClassifierModule.from_checkpoint(checkpoint, ckpt)

    # the run's trainer.limit_val_batches / limit_test_batches are not passed on: the split is
    # one batch, scored whole, as the run's own final evaluation scores it
    run_trainer = cfg.get("trainer") or {}
    hardware = {
        "accelerator": accelerator or run_trainer.get("accelerator") or "auto",
        "devices": 1,
        "precision": run_trainer.get("precision") or "32-true",
    }
    # the setting the user gave here is lossbench-eval's accelerator=, else the run's own
    check_hardware(hardware, "trainer.accelerator" if accelerator is None else "accelerator")
    trainer = build_trainer(
        **hardware,
        deterministic=run_trainer.get("deterministic") or False,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    stage = trainer.test if split == "test" else trainer.validate
    with fit_interrupts(trainer):  # Lightning ends a stopped test with sys.exit(1)
        results = stage(module, datamodule=datamodule, verbose=False)
    return {
        "checkpoint": str(ckpt.resolve()),
        "config": None if config_path is None else str(config_path.resolve()),
        "split": split,
        "epoch": checkpoint.get("epoch"),
        "data": data["name"],
        "head": hparams["head"],
        "loss": hparams["loss"]["name"],
        "unscored_classes": unscored,
        **{key: float(value) for key, value in results[0].items()},
    }


def eval_name(split: str = "test") -> str:
    """The name of a result in its run folder: ``eval.json`` for the test split,
    ``eval-<split>.json`` for another, so that each split's result is kept.

        >>> eval_name("test"), eval_name("val")
        ('eval.json', 'eval-val.json')
    """
    return EVAL_NAME if split == "test" else f"eval-{split}{JSON_SUFFIX}"


def default_out(
    ckpt_path: str | os.PathLike, split: str = "test", checkpoint: dict[str, Any] | None = None
) -> Path:
    """``<run dir>/eval.json`` (``eval-val.json`` for ``split=val``) in the run folder of the
    checkpoint (:func:`run_dir_of`), also where ``config=`` names a config elsewhere. A
    ``checkpoint`` (as read from ``ckpt_path``) copied into another run's folder
    (:func:`in_another_runs_folder`) is not that run's: its result goes beside the run's own,
    under a name of its own, ``eval-<checkpoint's stem>.json`` (``eval-val-<stem>.json``), so
    that the run's ``eval.json`` stays its own checkpoint's.

        >>> default_out("/runs/a/checkpoints/last.ckpt", "val")
        PosixPath('/runs/a/eval-val.json')
    """
    ckpt = Path(ckpt_path).expanduser()
    name = eval_name(split)
    if checkpoint is not None and in_another_runs_folder(ckpt, checkpoint):
        name = f"{Path(name).stem}-{ckpt.stem}{JSON_SUFFIX}"
    return run_dir_of(ckpt) / name


def check_out(out: str | os.PathLike, checkpoint: str | os.PathLike, split: str = "test") -> Path:
    """``out`` as a path where the ``split`` result of ``checkpoint`` may go; a run record
    (``metrics.json``), a directory and an existing file that is not an earlier evaluation of
    the same checkpoint on the same split are refused
    (:func:`lossbench.output_files.check_output`, as lossbench-predict checks its ``out``)."""
    from lossbench.output_files import check_output, is_eval_result

    path = Path(out).expanduser()
    if path.name == RECORD_NAME:
        raise EvaluationError(
            f"out={str(out)!r} would overwrite a run record ({RECORD_NAME}), which lossbench "
            f"never does. Write elsewhere, e.g. out={path.with_name(EVAL_NAME)}."
        )
    ckpt = Path(checkpoint).expanduser()
    checked = check_output(
        out,
        ours=lambda existing: is_eval_result(existing, ckpt, split),
        example=str(path.with_name(f"{path.stem}-{ckpt.stem}{JSON_SUFFIX}"))
        if path.name == eval_name(split)
        else eval_name(split),
        error=EvaluationError,
        replaced=f"an earlier result of this checkpoint ({ckpt.resolve()}) on the {split} split",
    )
    check_out_name(out)
    return checked


def check_out_name(out: str | os.PathLike) -> None:
    """Refuse an ``out`` whose name does not end ``.json``: the result is written as JSON
    (``out=scores.csv`` would hold JSON under a CSV name), as lossbench-predict refuses an
    ``out`` that is not a ``.csv`` (``.npz``) name.

        >>> check_out_name("last-val.json")
    """
    from lossbench.output_files import check_suffix

    check_suffix(
        out,
        JSON_SUFFIX,
        what="lossbench-eval writes its result as JSON (the checkpoint, its epoch, the split and "
        "each metric)",
        error=EvaluationError,
    )


def write_result(result: dict[str, Any], out: str | os.PathLike) -> Path:
    """Write ``result`` as JSON to ``out`` (non-finite numbers as null), whole or not at all
    (:func:`lossbench.output_files.written_whole`)."""
    from lossbench.output_files import written_whole

    path = check_out(out, result["checkpoint"], result["split"])
    safe = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in result.items()
    }
    text = json.dumps(safe, indent=2) + "\n"
    with written_whole(path) as handle:
        handle.write(text)
    return path


@hydra.main(config_path=str(config_dir("eval")), config_name="eval", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    from lossbench.interpolations import check_interpolations
    from lossbench.validation import check_added_top_level_keys

    with refusing():  # CheckpointError, EvaluationError, DataError, ConfigError (hardware)
        check_interpolations(cfg, command="lossbench-eval")  # ckpt_path=${nosuch}
        check_added_top_level_keys(cfg, EvalConfig, "lossbench-eval")  # +splt=val
        if OmegaConf.is_missing(cfg, "ckpt_path") or not str(cfg.ckpt_path).strip():
            empty = "" if OmegaConf.is_missing(cfg, "ckpt_path") else " (ckpt_path= is empty)"
            raise EvaluationError(
                f"no checkpoint given{empty}. Name one with ckpt_path=<file>, e.g. lossbench-eval "
                "ckpt_path=outputs/runs/<run>/checkpoints/best-epoch012.ckpt"
            )
        given_out = check_out(cfg.out, cfg.ckpt_path, cfg.split) if cfg.out else None
        start_checkpoint_work()
        checkpoint = None
        if given_out is None:
            # the default out depends on whose the checkpoint is (one copied into another run)
            checkpoint = load_checkpoint(cfg.ckpt_path)
            own = default_out(cfg.ckpt_path, cfg.split)
            out = check_out(
                default_out(cfg.ckpt_path, cfg.split, checkpoint), cfg.ckpt_path, cfg.split
            )
        else:
            own, out = given_out, given_out
        with stopping(output_kept("result", out)):  # a Ctrl-C or SIGTERM: nothing written
            result = evaluate(
                cfg.ckpt_path,
                config=cfg.config,
                data_path=cfg.data_path,
                split=cfg.split,
                accelerator=cfg.accelerator,
                checkpoint=checkpoint,
            )
            path = write_result(result, out)
    print(f"{result['checkpoint']} (epoch {result['epoch']}), {result['split']} split:")
    width = max(len(k) for k in result if "/" in k)
    for key, value in result.items():
        if "/" in key:
            print(f"  {key:<{width}}  {value:.6g}")
    if out != own:
        print(
            f"written to {path}, not {own}: the checkpoint is another run's (copied into this "
            f"run's folder; its config is not this run's config.yaml), and {own.name} is left "
            "to this run's own checkpoints"
        )
    else:
        print(f"written to {path}")


def main() -> None:
    """Console entry point of ``lossbench-eval``."""
    run_checkpoint_app(
        "eval_schema", EvalConfig, _hydra_main, "lossbench-eval", shared_out=_multirun_refusal
    )


def _multirun_refusal(overrides: list[str]) -> str | None:
    """Why a multirun (``-m``) with ``overrides`` cannot run, found before any job starts: a
    value every job given it would refuse (:func:`_unknown_split`), or jobs that would write
    one file (:func:`_shared_out`); None where its jobs may run."""
    return _unknown_split(overrides) or _shared_out(overrides)


def _unknown_split(overrides: list[str]) -> str | None:
    """Why a multirun's ``split=`` gives a value that is not a split (:data:`SPLITS`): each job
    given it would be refused, after the jobs before it had run and written their results.

        >>> print(_unknown_split(["ckpt_path=a.ckpt", "split=test,vall"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        the multirun split=test,vall gives split='vall', which is not a split: each job given it
        would be refused, after the jobs before it had run. Valid: test, val. Fix the value (e.g.
        split=test,val); nothing was evaluated or written.
        >>> _unknown_split(["ckpt_path=a.ckpt", "split=test,val"]) is None
        True
    """
    from lossbench.override_types import parsed_override

    values = _given_values(overrides, "split")
    unknown = [value for value in values or [] if value not in SPLITS]
    if not unknown:
        return None
    given = next(
        a
        for a in reversed(overrides)
        if (o := parsed_override(a)) is not None and o.key_or_group == "split"
    )
    named = ", ".join(f"split={value!r}" for value in dict.fromkeys(unknown))
    return (
        f"the multirun {given} gives {named}, which {'is' if len(unknown) == 1 else 'are'} not "
        "a split: each job given it would be refused, after the jobs before it had run. Valid: "
        f"{', '.join(SPLITS)}. Fix the value (e.g. split={','.join(SPLITS)}); nothing was "
        "evaluated or written."
    )


def _shared_out(overrides: list[str]) -> str | None:
    """Why a multirun's jobs would all write one ``out=``; the default ``out`` is the
    checkpoint's run folder's, by split (:func:`default_out`), so it is not shared."""
    from lossbench.sweep_refusals import shared_out_refusal

    return shared_out_refusal(
        overrides,
        "lossbench-eval",
        default=None,
        own_folders=f"each job writes to its checkpoint's run folder, {EVAL_NAME} for the test "
        f"split and {eval_name('val')} for the val split",
    ) or _shared_default_out(overrides)


def _given_values(overrides: list[str], key: str) -> list[str] | None:
    """The values the last ``key=`` of ``overrides`` gives each job (several for a sweep of a
    list of values); None where it is not given, or where its values are not known before
    Hydra sweeps (``glob(...)``, an interpolation)."""
    from lossbench.override_types import parsed_override

    parsed = [parsed_override(a) for a in overrides]
    given = [o for o in parsed if o is not None and o.key_or_group == key]
    if not given:
        return None
    override = given[-1]
    try:
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [str(override.value())]
        )
    except Exception:  # a sweep Hydra lists only when it sweeps
        return None
    return None if any("${" in v for v in values) else values


def _by_default_out(
    ckpts: list[str], splits: list[str], *, read: bool
) -> dict[Path, dict[Path, str]]:
    """The checkpoints ``ckpts`` (as given, by resolved path) whose ``splits`` results go to
    each default out (:func:`default_out`); ``read``: each checkpoint in a run folder is read to
    tell whether it is another run's (one that cannot be read is left to its job to refuse)."""
    by_out: dict[Path, dict[Path, str]] = {}
    for ckpt in ckpts:
        checkpoint = None
        if read and (run_dir_of(Path(ckpt).expanduser()) / "config.yaml").is_file():
            try:
                checkpoint = load_checkpoint(ckpt)
                in_another_runs_folder(ckpt, checkpoint)  # the folder's config.yaml unreadable
            except UserInputError:
                checkpoint = None
        for split in splits:
            same = by_out.setdefault(default_out(ckpt, split, checkpoint), {})
            same.setdefault(Path(ckpt).expanduser().resolve(), ckpt)
    return by_out


def _shared_default_out(overrides: list[str]) -> str | None:
    """Why the jobs of a multirun without ``out=`` would write the results of two checkpoints
    of one run to the same default file (``ckpt_path=<run>/checkpoints/last.ckpt,<run>/
    checkpoints/best-epoch012.ckpt``: both to ``<run>/eval.json``, the second refused mid-sweep
    as another checkpoint's); None where each checkpoint's result has a file of its own.

        >>> print(_shared_default_out(["ckpt_path=r/checkpoints/last.ckpt,r/checkpoints/b.ckpt"]))
        ... # doctest: +ELLIPSIS
        the multirun ckpt_path=r/checkpoints/last.ckpt,r/checkpoints/b.ckpt would write the \
results of checkpoints r/checkpoints/last.ckpt and r/checkpoints/b.ckpt, of one run, to the \
same default out=.../r/eval.json...
        >>> print(_shared_default_out(["ckpt_path=copies/a.ckpt,copies/b.ckpt"]))
        ... # doctest: +ELLIPSIS
        the multirun ckpt_path=copies/a.ckpt,copies/b.ckpt would write the results of \
checkpoints copies/a.ckpt and copies/b.ckpt, in one folder, to the same default \
out=.../copies/eval.json (each job writes to its checkpoint's folder), ...
    """
    from lossbench.override_types import parsed_override

    parsed = [(a, parsed_override(a)) for a in overrides]
    if any(o is not None and o.key_or_group == "out" for _, o in parsed):
        return None  # out= given: shared_out_refusal's question
    ckpts = _given_values(overrides, "ckpt_path")
    splits = _given_values(overrides, "split") or ["test"]
    if ckpts is None or len(ckpts) < 2 or any(split not in SPLITS for split in splits):
        return None
    by_out = _by_default_out(ckpts, splits, read=False)
    if all(len(given) < 2 for given in by_out.values()):
        return None
    # a checkpoint copied into another run's folder has a default out of its own: read them
    by_out = _by_default_out(ckpts, splits, read=True)
    for out, given in by_out.items():
        if len(given) < 2:
            continue
        sweep = next(
            a for a, o in reversed(parsed) if o is not None and o.key_or_group == "ckpt_path"
        )
        named = list(given.values())
        listed = f"{', '.join(named[:-1])} and {named[-1]}"
        per_job = f"{out.parent}/{out.stem}-${{hydra:job.num}}{JSON_SUFFIX}"
        in_runs = all(
            Path(c).expanduser().resolve().parent.name == "checkpoints"
            or (run_dir_of(c) / "config.yaml").is_file()
            for c in named
        )
        whose, where = ("of one run", "run folder") if in_runs else ("in one folder", "folder")
        return (
            f"the multirun {sweep} would write the results of checkpoints {listed}, {whose}, "
            f"to the same default out={out} (each job writes to its checkpoint's {where}), "
            "so every job after the first would be refused, as another checkpoint's result "
            f"is there. Give each job its own file with out='{per_job}' (Hydra's job number), "
            f"or run lossbench-eval once per checkpoint, each with its own out=."
        )
    return None


if __name__ == "__main__":  # python -m lossbench.evaluate: the same command as lossbench-eval
    import sys

    from lossbench.commands import evaluate

    sys.exit(evaluate())
