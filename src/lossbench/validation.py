"""Validate a composed config before any data is loaded or any directory is written.

Hydra's schemas already refuse misspelt keys and wrong types; this module checks what spans
groups or needs a range: head versus loss versus task, parameter ranges, the CSV path, the
metric to optimise. Every message says what was given, why it is wrong and what to do.

    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({"data": {"name": "iris"}, "head": {"name": "softmax"},
    ...                         "loss": {"name": "cross_entropy"}})
    >>> try:
    ...     check_setup(cfg)
    ... except ConfigError as e:
    ...     print(str(e)[:60])
    head 'softmax' + loss 'cross_entropy' cannot train a multicl
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.compatibility import check
from lossbench.config import SCHEMAS, TrainConfig
from lossbench.data.csv_loader import check_delimiter
from lossbench.data.datasets import check_available, get_dataset, task_of
from lossbench.data.preprocess import IMPUTE_OPTIONS
from lossbench.data.table import DataError, special_file
from lossbench.entry_arguments import default_argument
from lossbench.errors import ConfigError
from lossbench.instantiators import (
    SHIPPED_TARGETS,
    callback_classes,
    check_checkpoint_monitor,
    check_entries,
    check_needs_logger,
    check_needs_package,
    check_one_checkpoint,
    check_profiler,
    checkpoint_entries,
    entries,
    locate,
)
from lossbench.interpolations import check_interpolations
from lossbench.losses import LOSSES, validate_loss_params
from lossbench.losses.reduction import legacy_reduction
from lossbench.metric_names import LOGGED_METRICS
from lossbench.metric_names import metric_mode as metric_mode  # read by lossbench.callbacks
from lossbench.models import ACTIVATIONS, DENSE_MODELS, MODELS
from lossbench.optim import IMPLEMENTATIONS, OPTIMIZERS
from lossbench.precision import check_precision
from lossbench.runners.base import RUNNERS, epoch_obstacles, refuse_epoch_message
from lossbench.schedulers import (
    SCHEDULERS,
    check_scheduler,
    check_scheduler_optimizer,
    scheduler_monitor,
)
from lossbench.setup_names import check_setup_name
from lossbench.tasks import Task, is_dense
from lossbench.trainer_args import no_time_refusal, refuse_trainer_switches

#: The options of the ``logger`` group (configs/logger/); ``logger=[csv,mlflow]`` combines them.
LOGGERS = ("csv", "tensorboard", "mlflow", "wandb", "many", "none")
#: Metric names per task, without the stage prefix (read by :mod:`lossbench.train`).
METRICS = LOGGED_METRICS
#: ``checkpoint.write``: when the best checkpoint and last.ckpt are written.
CHECKPOINT_WRITES = ("every_epoch", "at_end", "never")


#: Seeds numpy, torch and scikit-learn all accept: ``seed`` and ``data.split_seed``.
SEED_RANGE = (0, 2**32 - 1)


def _number(value: Any) -> str:
    """A numeric setting as the user typed it: a float key holds ``optimizer.lr=-1`` as -1.0,
    shown as -1 again (other values as ``str`` shows them).

        >>> _number(-1.0), _number(2.0), _number(0.001), _number(1e250), _number(3)
        ('-1', '2', '0.001', '1e+250', '3')
    """
    text = str(value)
    return text[:-2] if isinstance(value, float) and text.endswith(".0") else text


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


#: ``epoch_metrics``: which train/ and val/ metrics a run computes each epoch.
EPOCH_METRICS = ("all", "monitored")


def _check_runner(cfg: DictConfig) -> None:
    """``runner`` is a known one, and ``runner=epoch`` gets no setting it cannot honour (the
    ones the config shows; the Trainer's process count is checked when it is built)."""
    loop = cfg.get("training_loop")
    _require(
        loop is None,
        f"training_loop={loop!r} is no longer a setting: `runner` chooses how a run is fitted. "
        "Use runner=epoch for training_loop=epoch, runner=lightning for training_loop=batch, "
        "or leave it out (runner=auto picks the epoch runner where it applies); valid runners: "
        f"{', '.join(RUNNERS)}.",
    )
    runner = cfg.get("runner", "auto")
    _require(
        runner in RUNNERS,
        f"runner={runner!r} is not a runner; valid runners: {', '.join(RUNNERS)} "
        "(auto: the epoch runner where it applies, else Lightning's loop).",
    )
    if runner == "epoch":
        trainer = cfg.trainer
        settings = {key: trainer[key] for key in _EPOCH_RUNNER_SETTINGS if key in trainer}
        classes = callback_classes(cfg)
        callbacks = set().union(*classes.values())
        step_timer = any(  # a Timer with a duration checks it after every step by default
            "Timer" in bases and _checks_time_every_step(cfg.callbacks.get(name) or {})
            for name, bases in classes.items()
        )
        reasons = epoch_obstacles(
            {
                "optimizer": cfg.optimizer.name,
                "callbacks": callbacks,
                "step_timer": step_timer,
                **settings,
            }
        )
        _require(not reasons, refuse_epoch_message(reasons))


def _checks_time_every_step(timer: Any) -> bool:
    """Whether a ``Timer`` callback's config entry sets a time limit that Lightning checks
    after every training step (``interval="step"``, its default). Without a ``duration`` (its
    default None) a Timer only measures the time: there is nothing to stop.

        >>> _checks_time_every_step({"duration": "00:00:01:00"})
        True
        >>> _checks_time_every_step({"duration": "00:00:01:00", "interval": "epoch"})
        False
        >>> _checks_time_every_step({})
        False
    """
    return timer.get("duration") is not None and timer.get("interval", "step") == "step"


#: The ``trainer.*`` settings that :func:`lossbench.runners.epoch_obstacles` reads from a config.
_EPOCH_RUNNER_SETTINGS = (
    "gradient_clip_val",
    "limit_train_batches",
    "accumulate_grad_batches",
    "overfit_batches",
    "fast_dev_run",
    "max_steps",
    "max_time",
    "val_check_interval",
    "check_val_every_n_epoch",
)


def _check_metric(key: str, name: str, task: Task, whose: str = "") -> None:
    """Refuse ``key=name`` unless ``name`` is a metric the run logs (``whose``: where the
    value comes from, when the config does not give it)."""
    stage, _, metric = name.partition("/")
    valid = [f"val/{m}" for m in LOGGED_METRICS[task]]
    logged = valid + [f"train/{m}" for m in LOGGED_METRICS[task]]
    started = [m for m in logged if m.startswith(name) and name.count("/") == 1]
    close = started[:1] or difflib.get_close_matches(name, logged, n=1, cutoff=0.6)
    hint = f" Did you mean {key}={close[0]}?" if close else ""
    _require(
        stage in ("val", "train") and metric in LOGGED_METRICS[task],
        f"{key}={name!r}{whose} is not a metric of a {task} run.{hint} Valid: {', '.join(valid)} "
        "(train/ works too, but selecting on it rewards overfitting).",
    )


def _check_entry_monitors(cfg: DictConfig, task: Task) -> None:
    """The ``monitor`` given to a ``callbacks`` entry (EarlyStopping, ModelCheckpoint, a
    callback of one's own) is a metric the run logs: Lightning would stop after the first
    epoch with a message about the logged names only."""
    for name, node in entries(cfg.get("callbacks")):
        if not isinstance(node, DictConfig):
            continue
        key, whose = f"callbacks.{name}.monitor", ""
        monitor = node.get("monitor")
        target = node.get("_target_")
        if "monitor" not in node and isinstance(target, str) and target not in SHIPPED_TARGETS:
            # not given: the class's default (its target imports: check_entries has located it)
            obj, error = locate(target, f"callbacks.{name}._target_", "callbacks")
            monitor = None if error is not None else default_argument(obj, "monitor")
            whose = f" (the default of {target}; not given)"
        if isinstance(monitor, str):
            _check_metric(key, monitor, task, whose)


def check_setup(cfg: DictConfig) -> Task:
    """Check data, head and loss together; return the task. Warns for redundant pairs."""
    get_dataset(cfg.data.name)
    try:
        check_available(cfg.data.name)
    except DataError as error:
        raise ConfigError(str(error)) from None
    task = task_of(cfg.data)
    if cfg.get("model") is not None:  # (a partial config, as in the example above, has none)
        _check_model_fits(cfg.model.name, cfg.data.name, task)
    _check_unlabelled(cfg.data, cfg.loss)
    verdict = check(task, cfg.head.name, cfg.loss.name)
    if not verdict.ok:
        raise ConfigError(verdict.error)
    if verdict.warning:
        warnings.warn(verdict.warning, UserWarning, stacklevel=2)
    return task


def _check_model_fits(model: str, data: str, task: Task) -> None:
    """Refuse a model whose input and output shapes do not fit the task's data."""
    if model not in MODELS:
        return  # refused with the valid names by _check_model
    dense_models = [m for m in MODELS if m in DENSE_MODELS]
    table_models = [m for m in MODELS if m not in DENSE_MODELS]
    if is_dense(task) and model not in DENSE_MODELS:
        raise ConfigError(
            f"model={model} cannot train data={data}: it takes feature vectors (N, F) and gives "
            f"one score per output unit for each sample, but {data} is a {task} task: images "
            "(N, channels, H, W) with a label for every pixel, which need a score map "
            f"(N, units, H, W). Use model={dense_models[0]}. Valid models for a {task} task: "
            f"{', '.join(dense_models)}."
        )
    if not is_dense(task) and model in DENSE_MODELS:
        raise ConfigError(
            f"model={model} cannot train data={data}: it is fully convolutional, taking images "
            f"(N, channels, H, W) and giving a score map with a score vector per pixel, but "
            f"{data} is a {task} task of feature vectors (N, F) with one label per sample. Use "
            f"model=mlp or model=linear. Valid models for a {task} task: "
            f"{', '.join(table_models)}."
        )


def _check_unlabelled(data: DictConfig, loss: DictConfig) -> None:
    """Unlabelled pixels (``data.faint_pixels=unlabelled``: label -100) need a loss that
    ignores that target index."""
    if data.get("faint_pixels") != "unlabelled":
        return
    ignoring = [n for n, s in LOSSES.items() if any(p.name == "ignore_index" for p in s.params)]
    if loss.name not in ignoring:
        raise ConfigError(
            f"data.faint_pixels=unlabelled labels the faint edge pixels of data={data.name} "
            f"-100 (unlabelled), but loss={loss.name} has no ignore_index and would need a "
            f"target for them. Use loss={' or loss='.join(ignoring)} (ignore_index=-100 leaves "
            "those pixels out of the loss), or data.faint_pixels=background."
        )
    if loss.get("ignore_index") != -100:
        raise ConfigError(
            f"data.faint_pixels=unlabelled labels the faint edge pixels of data={data.name} "
            f"-100, but loss.ignore_index={loss.get('ignore_index')} ignores another index, so "
            "-100 would be taken for a class and fail. Leave loss.ignore_index at -100."
        )


def _check_seed(key: str, value: Any) -> None:
    low, high = SEED_RANGE
    _require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        f"{key}={value!r} is not a seed: numpy, torch and scikit-learn take an integer from "
        f"{low} to {high}. Use e.g. {key}=0, or {key}=0,1,2 with -m for several seeds.",
    )


def _check_data(data: DictConfig) -> None:
    _check_seed("data.split_seed", data.split_seed)
    bs = data.batch_size
    _require(
        bs is None or bs >= 1,
        f"data.batch_size={bs} must be a positive integer, or null "
        "for the whole training split in one batch.",
    )
    for key in ("val_fraction", "test_fraction"):
        value = data[key]
        _require(
            0.0 < value < 1.0,
            f"data.{key}={_number(value)} must lie strictly between 0 and 1, e.g. data.{key}=0.2.",
        )
    _require(
        data.val_fraction + data.test_fraction < 1.0,
        f"data.val_fraction + data.test_fraction = {data.val_fraction + data.test_fraction}"
        " leaves no training rows; keep their sum below 1, e.g. 0.2 each.",
    )
    impute = data.get("impute")
    _require(
        impute is None or impute in IMPUTE_OPTIONS,
        f"data.impute={impute!r} is not an imputation. Valid values: "
        f"{', '.join(IMPUTE_OPTIONS)} (numbers: median; categories: most frequent), or null to "
        "refuse missing values.",
    )
    if "n_samples" in data:
        _require(
            data.n_samples >= 10,
            f"data.n_samples={data.n_samples} is too small; "
            "use at least 10 (e.g. data.n_samples=2000).",
        )
    if str(data.name).startswith("synthetic_"):
        _check_synthetic(data)
    if data.name == "csv":
        path = Path(data.path).expanduser()
        special = special_file(path)
        what = (
            f"not a regular file but {special}"
            if special
            else "is a directory, not a CSV file"
            if path.is_dir()
            else "no such file"
        )
        _require(
            path.is_file(),
            f"data.path={data.path!r}: {what} ({path.resolve()}). Give the path of a CSV "
            "file; relative paths resolve against the directory you started the command from.",
        )
        check_delimiter(data.get("delimiter"))


def _check_model(model: DictConfig) -> None:
    _require(
        model.name in MODELS, f"Unknown model {model.name!r}. Valid models: {', '.join(MODELS)}."
    )
    # by key, not by model: a model added to the registry with these keys is checked too
    if "activation" in model:
        _require(
            model.activation in ACTIVATIONS,
            f"model.activation={model.activation!r} is "
            f"not known. Valid activations: {', '.join(ACTIVATIONS)}.",
        )
    if "hidden_sizes" in model:
        _require(
            all(h >= 1 for h in model.hidden_sizes),
            f"model.hidden_sizes="
            f"{list(model.hidden_sizes)} must hold positive layer widths, e.g. [64, 64].",
        )
    if "dropout" in model:
        _require(
            0.0 <= model.dropout < 1.0,
            f"model.dropout={_number(model.dropout)} must lie in [0, 1).",
        )
    if model.name == "conv":
        _require(
            len(model.channels) >= 1 and all(c >= 1 for c in model.channels),
            f"model.channels={list(model.channels)} must hold one or more positive channel "
            "counts (one per layer), e.g. [16, 16, 16, 16].",
        )
        _require(
            model.kernel_size >= 1 and model.kernel_size % 2 == 1,
            f"model.kernel_size={model.kernel_size} must be an odd number >= 1 (so that every "
            "layer keeps height and width), e.g. 3.",
        )


def _check_synthetic(data: DictConfig) -> None:
    """The generator settings of the synthetic data sets, in the data config's own names
    (scikit-learn's ``make_classification`` would refuse them later, in its names)."""
    name = data.name
    _check_seed("data.random_state", data.random_state)
    _require(
        data.n_features >= 1,
        f"data.n_features={data.n_features} must be at least 1, e.g. data.n_features=20.",
    )
    if "n_informative" in data:
        _require(
            1 <= data.n_informative <= data.n_features,
            f"data.n_informative={data.n_informative} must lie between 1 and data.n_features="
            f"{data.n_features} (the informative features are among them).",
        )
    if "label_noise" in data:
        _require(
            0.0 <= data.label_noise <= 1.0,
            f"data.label_noise={_number(data.label_noise)} is the fraction of training and "
            "validation labels changed to another class: it must lie in [0, 1], e.g. "
            "data.label_noise=0.01.",
        )
    if "class_sep" in data:
        _require(
            data.class_sep > 0 and math.isfinite(data.class_sep),
            f"data.class_sep={_number(data.class_sep)} must be a positive number (larger: classes "
            "further apart), e.g. data.class_sep=1.0.",
        )
    if name == "synthetic_multiclass":
        most = 2 ** min(data.n_informative, 30)
        _require(
            2 <= data.n_classes <= most,
            f"data.n_classes={data.n_classes} must lie between 2 and 2 ** data.n_informative = "
            f"{most} (each class is a cluster at a corner of the informative features' "
            "hypercube); raise data.n_informative for more classes.",
        )
    if name == "synthetic_multilabel":
        _require(
            data.n_labels >= 1 and 1 <= data.avg_labels <= data.n_labels,
            f"data.n_labels={data.n_labels} and data.avg_labels={_number(data.avg_labels)}: a "
            "multi-label set needs at least 1 label, and the average number of labels per "
            "sample between 1 and data.n_labels, e.g. data.n_labels=5 data.avg_labels=2.",
        )


def _check_optimizer(opt: DictConfig, data: DictConfig) -> None:
    _require(
        opt.name in OPTIMIZERS,
        f"Unknown optimizer {opt.name!r}. Valid optimizers: {', '.join(OPTIMIZERS)}.",
    )
    _require(
        opt.lr > 0 and math.isfinite(opt.lr),
        f"optimizer.lr={_number(opt.lr)} must be a positive number, e.g. optimizer.lr=1e-3.",
    )
    _require(
        opt.weight_decay >= 0 and math.isfinite(opt.weight_decay),
        f"optimizer.weight_decay={_number(opt.weight_decay)} must be a finite number >= 0, e.g. "
        "optimizer.weight_decay=1e-4 (0: none).",
    )
    _check_optimizer_settings(opt)
    implementation = opt.get("implementation", "auto")
    _require(
        implementation in IMPLEMENTATIONS,
        f"optimizer.implementation={implementation!r} is not known. Valid: "
        f"{', '.join(IMPLEMENTATIONS)} (auto: torch's fused kernel where it has one).",
    )
    if opt.name == "lbfgs" and data.batch_size is not None:
        warnings.warn(
            "optimizer=lbfgs with mini-batches: L-BFGS assumes a deterministic "
            "objective; set data.batch_size=null for full-batch training.",
            UserWarning,
            stacklevel=2,
        )


def _check_optimizer_settings(opt: DictConfig) -> None:
    """The settings torch's optimizers would refuse only once training starts (Adam's betas
    and eps, SGD's momentum and Nesterov, L-BFGS's history and line search), refused here
    with the valid values."""
    if opt.name in ("adam", "adamw"):
        betas = list(opt.betas)
        _require(
            len(betas) == 2 and all(0 <= b < 1 for b in betas),
            f"optimizer.betas={betas} must be two numbers in [0, 1): the decay rates of the "
            "gradient's running mean and of its square, e.g. optimizer.betas=[0.9,0.999].",
        )
        _require(
            opt.eps >= 0 and math.isfinite(opt.eps),
            f"optimizer.eps={_number(opt.eps)} must be a finite number >= 0, e.g. "
            "optimizer.eps=1e-8.",
        )
    if opt.name == "sgd":
        _require(
            opt.momentum >= 0 and math.isfinite(opt.momentum),
            f"optimizer.momentum={_number(opt.momentum)} must be a finite number >= 0, e.g. "
            "optimizer.momentum=0.9 (0: plain SGD).",
        )
        _require(
            not opt.nesterov or opt.momentum > 0,
            f"optimizer.nesterov=true needs a momentum above 0 (optimizer.momentum="
            f"{_number(opt.momentum)}). Set optimizer.momentum=0.9, or optimizer.nesterov=false.",
        )
    if opt.name == "lbfgs":
        _require(
            opt.history_size >= 1 and opt.max_iter >= 1,
            f"optimizer.history_size={opt.history_size} and optimizer.max_iter={opt.max_iter} "
            "must each be at least 1, e.g. optimizer.history_size=100 optimizer.max_iter=20.",
        )
        _require(
            opt.line_search_fn in (None, "strong_wolfe"),
            f"optimizer.line_search_fn={opt.line_search_fn!r} is not a line search of "
            "torch's L-BFGS. Valid: strong_wolfe, null (none).",
        )


#: What ``trainer.limit_val_batches`` and ``trainer.limit_test_batches`` take: lossbench evaluates a
#: split as one batch, so each of these is the whole split.
EVALUATION_LIMITS = "null (the default), 1.0 or a whole number >= 1, each the whole split"
#: Why a run needs each split that a ``limit_*_batches`` of 0 would leave out.
_SPLIT_NEEDED = {
    "limit_val_batches": (
        "validation",
        "would never validate, but validation picks the run's best epoch (its checkpoint, "
        "early stopping and the test metrics come from it): the run would have no best "
        "epoch and score its last weights. Leave out trainer.limit_val_batches (the default: "
        "the whole split); for a quicker run, validate less often (e.g. "
        "trainer.check_val_every_n_epoch=5) or train on fewer batches "
        "(trainer.limit_train_batches, a debug run)",
    ),
    "limit_test_batches": (
        "test",
        "would leave out the test split, but the test metrics of the run's best epoch are its "
        "result (metrics.json, lossbench-report). Leave out trainer.limit_test_batches (the "
        "default: the whole split); to score a checkpoint on the validation split alone, use "
        "lossbench-eval split=val",
    ),
}


def evaluation_limit_refusal(key: str, value: Any) -> str | None:
    """The refusal of ``trainer.<key>=value`` for ``limit_val_batches`` or
    ``limit_test_batches``; None where it is taken. lossbench evaluates each split as one batch
    (:class:`~lossbench.data.datamodule.ClassificationDataModule`), so Lightning's fraction of a
    split's batches would keep less than that batch (it stops at the first validation or test
    with a traceback), and 0 would leave the split out.

        >>> evaluation_limit_refusal("limit_val_batches", 2) is None
        True
        >>> print(evaluation_limit_refusal("limit_test_batches", 0.5)[:69])
        trainer.limit_test_batches=0.5 keeps half of the test split's batches
    """
    whole = type(value) is int and value >= 1  # a bool is no number of batches
    if value is None or whole or (type(value) is float and value == 1.0):
        return None
    split, why = _SPLIT_NEEDED[key]
    if type(value) in (int, float) and value == 0:
        return f"trainer.{key}={value} {why}. Valid: {EVALUATION_LIMITS}."
    fraction = type(value) is float and 0.0 < value < 1.0
    if fraction:
        share = "half" if value == 0.5 else f"a fraction ({value})"
        return (
            f"trainer.{key}={value} keeps {share} of the {split} split's batches, but lossbench "
            f"evaluates the whole {split} split as one batch, and less than one batch is "
            f"none (Lightning would stop at the first {split} with an error). Leave out "
            f"trainer.{key} (the default: the whole split); for a quicker run, train on fewer "
            f"batches (trainer.limit_train_batches, a debug run). Valid: {EVALUATION_LIMITS}."
        )
    return (
        f"trainer.{key}={value!r} is not a limit lossbench can take: it evaluates the whole "
        f"{split} split as one batch. Leave out trainer.{key} (the default: the whole split). "
        f"Valid: {EVALUATION_LIMITS}."
    )


def _check_trainer_values(trainer: DictConfig) -> None:
    """``trainer.*`` numbers that Lightning takes and then fails on mid-run, or that would
    train nothing (a division by zero at the first validation, an accumulation of no
    batches, a time limit it cannot parse)."""
    for key in ("check_val_every_n_epoch", "accumulate_grad_batches"):
        value = trainer.get(key)
        _require(
            value is None or (isinstance(value, int) and value >= 1),
            f"trainer.{key}={value!r} must be a whole number >= 1 (default 1).",
        )
    interval = trainer.get("val_check_interval")
    _require(
        not ("check_val_every_n_epoch" in trainer and trainer.check_val_every_n_epoch is None)
        or not isinstance(interval, float),
        f"trainer.check_val_every_n_epoch=null validates every trainer.val_check_interval "
        f"batches counted across epochs, but trainer.val_check_interval={interval} is a "
        "fraction of an epoch. Give a number of batches (e.g. trainer.val_check_interval=100) "
        "or a time (DD:HH:MM:SS), or leave trainer.check_val_every_n_epoch at 1.",
    )
    limit = trainer.get("limit_train_batches")
    _require(
        limit is None
        or (isinstance(limit, int) and limit >= 1)
        or (isinstance(limit, float) and 0.0 < limit <= 1.0),
        f"trainer.limit_train_batches={limit!r} would train on no batches, or is not a limit: "
        "give a number of batches >= 1 or a fraction in (0, 1], e.g. "
        "trainer.limit_train_batches=0.25, or null for every batch.",
    )
    for key in ("limit_val_batches", "limit_test_batches"):
        error = evaluation_limit_refusal(key, trainer.get(key))
        _require(error is None, str(error))
    clip = trainer.get("gradient_clip_val")
    _require(
        clip is None or (clip >= 0 and math.isfinite(clip)),
        f"trainer.gradient_clip_val={_number(clip)} must be a number >= 0 (the largest gradient "
        "norm or value kept), e.g. trainer.gradient_clip_val=1.0, or null for no clipping.",
    )
    max_time = trainer.get("max_time")
    if isinstance(max_time, str):
        parts = max_time.split(":")
        _require(
            len(parts) == 4 and all(part.strip().isdigit() for part in parts),
            f"trainer.max_time={max_time!r} is not a duration: Lightning reads DD:HH:MM:SS, "
            "e.g. trainer.max_time=00:01:30:00 for an hour and a half.",
        )


def _check_max_epochs(trainer: DictConfig) -> None:
    _require(
        trainer.max_epochs >= 1,
        f"trainer.max_epochs={trainer.max_epochs} must be at least 1: the most epochs the "
        "run trains, e.g. trainer.max_epochs=50 (Lightning's -1, no limit, is not taken: give a "
        "cap, and early_stopping.enabled=true to stop sooner).",
    )


def _check_budget(trainer: DictConfig) -> None:
    """``max_steps`` or ``max_time`` that would train nothing, and a minimum above its maximum
    (the run stops at the maximum: the minimum would be ignored without a word)."""
    max_steps = trainer.get("max_steps", -1)
    _require(
        max_steps is None or max_steps == -1 or max_steps >= 1,
        f"trainer.max_steps={max_steps} would train no optimizer step: give a number of steps "
        ">= 1, or null (the default: trainer.max_epochs decides; -1 means the same).",
    )
    error = no_time_refusal(
        "trainer.max_time", trainer.get("max_time"), "trainer.max_time=null (the default)"
    )
    _require(error is None, str(error))
    every = trainer.get("check_val_every_n_epoch", 1)
    _require(
        every is None or every <= trainer.max_epochs,
        f"trainer.check_val_every_n_epoch={every} validates once every {every} epochs, but "
        f"trainer.max_epochs={trainer.max_epochs} ends the run first: no validation would come "
        "within the run, which would complete with no best epoch and score its last weights. "
        f"Give trainer.check_val_every_n_epoch at most {trainer.max_epochs}, or raise "
        f"trainer.max_epochs (e.g. trainer.max_epochs={every}).",
    )
    min_epochs = trainer.get("min_epochs")
    _require(
        min_epochs is None or min_epochs <= trainer.max_epochs,
        f"trainer.min_epochs={min_epochs} is above trainer.max_epochs={trainer.max_epochs}: the "
        "run stops at max_epochs, so the minimum would not hold. Lower trainer.min_epochs or "
        f"raise trainer.max_epochs (e.g. trainer.max_epochs={min_epochs}).",
    )
    min_steps = trainer.get("min_steps")
    _require(
        min_steps is None or max_steps in (None, -1) or min_steps <= max_steps,
        f"trainer.min_steps={min_steps} is above trainer.max_steps={max_steps}: the run stops at "
        "max_steps, so the minimum would not hold. Lower trainer.min_steps or raise "
        "trainer.max_steps.",
    )


def _check_mode(group: str, monitor: str, mode: str | None) -> None:
    """A mode that picks the worst epoch of one of lossbench's metrics (``checkpoint.mode=max``
    on ``val/nll``); a metric of the user's own is taken as given."""
    known = {name for names in LOGGED_METRICS.values() for name in names}
    if mode is None or monitor.rsplit("/", 1)[-1] not in known:
        return
    better = metric_mode(monitor)
    _require(
        mode == better,
        f"{group}.mode={mode} would take the {'highest' if mode == 'max' else 'lowest'} "
        f"{monitor} for the best, but {'lower' if better == 'min' else 'higher'} {monitor} is "
        f"better: give {group}.mode={better}, or leave {group}.mode=null (inferred from the "
        "metric).",
    )


def _check_run(cfg: DictConfig, task: Task) -> None:
    from lossbench.hardware import check_hardware

    _check_seed("seed", cfg.seed)
    check_hardware(cfg.trainer)
    _check_trainer_values(cfg.trainer)
    _check_max_epochs(cfg.trainer)
    _check_budget(cfg.trainer)
    precision_error = check_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    _require(precision_error is None, str(precision_error))
    for group in ("callbacks", "logger"):
        error = check_entries(cfg, group)
        _require(error is None, str(error))
    error = check_needs_logger(cfg)
    _require(error is None, str(error))
    error = check_needs_package(cfg)
    _require(error is None, str(error))
    error = check_profiler(cfg.trainer.get("profiler"))
    _require(error is None, str(error))
    error = refuse_trainer_switches(cfg.trainer, checkpoint_entries(cfg))
    _require(error is None, str(error))
    _check_scheduler(cfg, task)
    _require(
        cfg.get("epoch_metrics", "all") in EPOCH_METRICS,
        f"epoch_metrics={cfg.get('epoch_metrics')!r} must be one of {', '.join(EPOCH_METRICS)}: "
        "all computes every train/ and val/ metric each epoch (history, loggers); monitored only "
        "the losses and what checkpointing, early stopping and the scheduler monitor (the "
        "best epoch's val/ and test/ metrics are complete either way).",
    )
    _check_runner(cfg)
    _check_metric("optimized_metric", cfg.optimized_metric, task)
    for group in ("checkpoint", "early_stopping"):
        if cfg[group].monitor is not None:
            _check_metric(f"{group}.monitor", cfg[group].monitor, task)
        mode = cfg[group].mode
        _require(
            mode in (None, "min", "max"),
            f"{group}.mode={mode!r} must be min, max or null (inferred from the metric).",
        )
        _check_mode(group, cfg[group].monitor or cfg.optimized_metric, mode)
    _check_entry_monitors(cfg, task)
    error = check_one_checkpoint(cfg) or check_checkpoint_monitor(cfg)
    _require(error is None, str(error))
    stopping = cfg.early_stopping
    _require(
        not stopping.enabled or _reads_early_stopping(cfg.get("callbacks")),
        "early_stopping.enabled=true, but no callback reads early_stopping.*: the callbacks "
        "have no early_stopping entry (callbacks=none, or ~callbacks.early_stopping), so the "
        "run would train every epoch and record stopped_by=budget. Keep the entry (the default "
        "callbacks, or +callbacks.early_stopping._target_=lossbench.callbacks.run_early_stopping "
        "with the other settings of configs/callbacks/default.yaml), or drop "
        "early_stopping.enabled=true.",
    )
    _require(
        isinstance(stopping.patience, int) and stopping.patience >= 0,
        f"early_stopping.patience={stopping.patience!r} must be a whole number of epochs >= 0 "
        "(how many epochs without improvement before stopping), e.g. early_stopping.patience=5.",
    )
    _require(
        stopping.min_delta >= 0 and math.isfinite(stopping.min_delta),
        f"early_stopping.min_delta={_number(stopping.min_delta)} must be a number >= 0 (the least "
        "change that counts as an improvement), e.g. early_stopping.min_delta=0.",
    )
    write = cfg.checkpoint.get("write", "every_epoch")
    _require(
        write in CHECKPOINT_WRITES,
        f"checkpoint.write={write!r} is not known. Valid: {', '.join(CHECKPOINT_WRITES)} "
        "(every_epoch: best when it improves and last.ckpt every epoch; at_end: both once, "
        "when training ends; never: no files, the best epoch's weights kept in memory).",
    )
    _require(
        write != "never" or cfg.get("ckpt_path") is None,
        f"ckpt_path={cfg.get('ckpt_path')!r} with checkpoint.write=never: a run that writes no "
        "checkpoints cannot resume one (its best epoch would be chosen without the epochs "
        "before). Use checkpoint.write=every_epoch or at_end to resume, or drop ckpt_path.",
    )
    if cfg.get("ckpt_path") not in (None, "last"):
        path = Path(cfg.ckpt_path).expanduser()
        what = (
            "is a directory, not a checkpoint file (e.g. <run>/checkpoints/last.ckpt)"
            if path.is_dir()
            else "no such file"
        )
        _require(
            path.is_file(),
            f"ckpt_path={cfg.ckpt_path!r}: {what} ({path.resolve()}). ckpt_path takes last (this "
            "run's directory's checkpoints/last.ckpt, to resume it) or the path of a .ckpt file "
            "(e.g. <run>/checkpoints/last.ckpt or its best-epochNNN.ckpt, with hydra.run.dir=<a "
            "new directory> to train a finished run longer).",
        )


def _check_scheduler(cfg: DictConfig, task: Task) -> None:
    scheduler = cfg.get("scheduler") or {"name": "none"}
    error = check_scheduler(scheduler, cfg.trainer.max_epochs)
    _require(error is None, str(error))
    error = check_scheduler_optimizer(scheduler, cfg.optimizer)
    _require(error is None, str(error))
    monitor = scheduler_monitor(scheduler, cfg.optimized_metric)
    if monitor is not None:
        _check_metric("scheduler.monitor", monitor, task)
        every = cfg.trainer.get("check_val_every_n_epoch", 1)
        _require(
            every in (1, None) or not monitor.startswith("val/"),
            f"scheduler={scheduler['name']} steps on {monitor} at every epoch's end, but "
            f"trainer.check_val_every_n_epoch={every} validates only every {every} epochs, so "
            f"most epochs have no {monitor} to step on. Leave trainer.check_val_every_n_epoch "
            "at 1 with this scheduler, or choose one that does not monitor a metric: "
            + ", ".join(f"scheduler={n}" for n, spec in SCHEDULERS.items() if not spec.monitors)
            + ".",
        )


#: The groups whose composed config is one dataclass of lossbench's, read field by field: a
#: key added to one (``+model.width=8``) is read by nothing. (``loss`` has its own check, with
#: the loss's parameters; ``trainer`` takes every ``lightning.Trainer`` argument.)
SCHEMA_GROUPS = (
    "data",
    "model",
    "head",
    "optimizer",
    "scheduler",
    "paths",
    "checkpoint",
    "early_stopping",
)


def _schema_of(group: str, node: DictConfig) -> type | None:
    """The dataclass ``node`` was composed from: its own type where Hydra composed it, else
    (a plain copy, such as a vectorized group's member config) the schema of its option."""
    kind = OmegaConf.get_type(node)
    if kind is not None and dataclasses.is_dataclass(kind):
        return kind
    if group in SCHEMAS:
        return SCHEMAS[group].get(str(node.get("name")))
    fixed = typing.get_type_hints(TrainConfig).get(group)
    return fixed if dataclasses.is_dataclass(fixed) else None


def _check_added_keys(cfg: DictConfig) -> None:
    """Refuse a key added on the command line (``+group.key=...``) to a group that lossbench
    reads by its schema's fields only: the run would go on as if it were not there.

        >>> from omegaconf import open_dict
        >>> from lossbench.config import MLPConfig
        >>> cfg = OmegaConf.create({"model": OmegaConf.structured(MLPConfig)})
        >>> cfg.model.name = "mlp"
        >>> with open_dict(cfg.model):
        ...     cfg.model.width = 8
        >>> try:
        ...     _check_added_keys(cfg)
        ... except ConfigError as e:
        ...     print(str(e)[:67])
        model.width was added to the config (+model.width=8), but model=mlp
    """
    for group in SCHEMA_GROUPS:
        node = cfg.get(group)
        if not isinstance(node, DictConfig):
            continue
        kind = _schema_of(group, node)
        if kind is None:
            continue  # an option of one's own (a config dir added with -cd)
        fields = [f.name for f in dataclasses.fields(kind)]
        for key in node:
            if key in fields:
                continue
            named = "name" in node  # a config group's option, else one fixed schema
            option = f"{group}={node.name}" if named else group
            close = difflib.get_close_matches(str(key), fields, n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(f'{group}.{c}' for c in close)}?" if close else ""
            raise ConfigError(
                f"{group}.{key} was added to the config (+{group}.{key}="
                f"{OmegaConf.to_container(node, resolve=False)[key]}), but {option} has no "
                f"setting {key!r}: nothing would read it, and the run would go on as if it were "
                f"not there.{hint} Settings of {option}: {', '.join(fields)}. Remove it"
                + (f", or choose an option of {group} that has it." if named else ".")
            )


def check_added_top_level_keys(
    cfg: DictConfig, schema: type = TrainConfig, command: str = "lossbench-train"
) -> None:
    """Refuse a top-level key added on the command line (``+early_stoping.enabled=true``,
    ``+foo=1``) that nothing reads: ``command`` reads the settings of its ``schema`` only
    (:class:`lossbench.config.TrainConfig` for lossbench-train), so it would go on as if the key
    were not there. A key that a value interpolates (``-m '+x=1,2' 'seed=${x}'``) is read, and
    stays; so do Hydra's node, and every key where a Hydra callback of one's own, which gets
    the whole config, may read it (``+hydra.callbacks.mine._target_=my_module.MyCallback``).

        >>> from omegaconf import open_dict
        >>> cfg = OmegaConf.structured(TrainConfig)
        >>> with open_dict(cfg):
        ...     cfg.early_stoping = {"enabled": True}
        >>> try:
        ...     check_added_top_level_keys(cfg)
        ... except ConfigError as e:
        ...     print(str(e)[:78])
        early_stoping was added to the config (+early_stoping.enabled=True), but lossb
        >>> with open_dict(cfg):
        ...     del cfg["early_stoping"]
        ...     cfg.x, cfg.seed = 3, "${x}"
        >>> check_added_top_level_keys(cfg)  # read by seed
    """
    fields = sorted(f.name for f in dataclasses.fields(schema))
    added = [str(k) for k in cfg if k not in fields and k != "hydra"]
    if not added or _own_hydra_callbacks(cfg):
        return
    for key in added:
        if _interpolated_elsewhere(cfg, key):
            continue
        raw = OmegaConf.to_container(cfg, resolve=False)[key]
        leaves = _leaf_paths(raw, key)
        given = _added_by(cfg, key) or " ".join(f"+{p}={v}" for p, v in leaves)
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
        hint = ""
        if close:
            near = [close[0] + p[len(key) :] for p, _ in leaves]
            hint = f" Did you mean {' or '.join(near)}?"
        raise ConfigError(
            f"{key} was added to the config ({given}), but {command} has no setting {key!r}: "
            f"nothing would read it, and the command would go on as if it were not there.{hint} "
            f"Its settings: {', '.join(fields)}. Remove it, or interpolate it where a value "
            f"should read it (${{{key}}})."
        )


def _hydra_setting(cfg: DictConfig, key: str) -> Any:
    """Hydra's setting ``key`` (``callbacks``): from ``cfg``'s Hydra node, or in a job (whose
    config has none) from Hydra's config; None outside Hydra."""
    if "hydra" in cfg:
        return OmegaConf.select(cfg, f"hydra.{key}", default=None)
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return OmegaConf.select(HydraConfig.get(), key, default=None)


def _own_hydra_callbacks(cfg: DictConfig) -> bool:
    """Whether the run has a Hydra callback that is not lossbench's (``hydra.callbacks``).

    >>> _own_hydra_callbacks(OmegaConf.create({"hydra": {"callbacks": {"mine": {
    ...     "_target_": "my_module.MyCallback"}}}}))
    True
    """
    callbacks = _hydra_setting(cfg, "callbacks")
    if not isinstance(callbacks, DictConfig):
        return False
    entries = [entry for entry in callbacks.values() if isinstance(entry, DictConfig)]
    return any(not str(entry.get("_target_", "")).startswith("lossbench.") for entry in entries)


def _leaf_paths(value: Any, path: str) -> list[tuple[str, Any]]:
    """The dotted path and value of each leaf of ``value`` (a plain container) under ``path``.

    >>> _leaf_paths({"enabled": True, "a": {"b": 1}}, "x")
    [('x.enabled', True), ('x.a.b', 1)]
    """
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaf_paths(v, f"{path}.{k}")]
    return [(path, value)]


def _added_by(cfg: DictConfig, key: str) -> str | None:
    """The command line's overrides that added top-level ``key`` (``+key.a=1 ++key=2``), or
    None where none did."""
    from lossbench.interpolations import given_overrides

    adding = [
        o
        for o in given_overrides(cfg)
        if o.startswith("+") and re.match(rf"\+*{re.escape(key)}(?:[.=]|$)", o)
    ]
    return " ".join(adding) or None


def _interpolated_elsewhere(cfg: DictConfig, key: str) -> bool:
    """Whether a value of ``cfg`` outside top-level ``key`` (Hydra's settings too) names
    ``key`` in an interpolation (``${key}``, ``${key.a}``, ``${oc.select:key,1}``)."""
    word = rf"{re.escape(key)}(?![\w\-])"
    # ${key...}, or an argument of a resolver's: ${oc.select:key,1}
    named = re.compile(rf"\$\{{\s*{word}|\$\{{[\w.]+:[^}}]*(?<![\w.\-]){word}")
    raw = OmegaConf.to_container(cfg, resolve=False)
    values = (_strings(value) for top, value in raw.items() if top != key)
    return any(named.search(text) for each in values for text in each)


def _strings(value: Any) -> Iterator[str]:
    """The strings of ``value`` (a plain container), at any depth.

    >>> list(_strings({"a": ["x", {"b": "y"}], "c": 1}))
    ['x', 'y']
    """
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


#: Examples of the settings a config group leaves for the user to give (``???``).
MISSING_EXAMPLES = {
    "data.path": "data.path=<file>.csv",
    "data.label_columns": "data.label_columns=[<label column>]",
    "data.task": "data.task=binary (or multilabel, multiclass)",
}


def _choice_of(cfg: DictConfig, group: str) -> str | None:
    """The option Hydra chose for ``group`` (``mine`` of ``data=mine``), where it is known."""
    try:
        choice = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}", default=None)
        if choice is None:
            from hydra.core.hydra_config import HydraConfig

            if HydraConfig.initialized():
                choice = HydraConfig.get().runtime.choices.get(group)
    except Exception:  # no Hydra (a config built in Python)
        return None
    return str(choice) if choice else None


def _check_option_base(cfg: DictConfig) -> None:
    """Refuse an option of one's own (a ``-cd`` folder's ``data/mine.yaml``) that names a
    lossbench option (``name: csv``) but was not composed from it: without
    ``defaults: [csv, _self_]`` at its top it lacks the settings the shipped option gives
    (``split_seed``, ``val_fraction``, ...), and the run would stop at the first one it reads.

        >>> cfg = OmegaConf.create({"data": {"name": "csv", "path": "a.csv"},
        ...                         "hydra": {"runtime": {"choices": {"data": "mine"}}}})
        >>> try:
        ...     _check_option_base(cfg)
        ... except ConfigError as e:
        ...     print(str(e)[:74])
        data=mine (its file sets name: csv) lacks the settings every data=csv opti
    """
    for group in SCHEMA_GROUPS:
        node = cfg.get(group)
        if not isinstance(node, DictConfig) or group not in SCHEMAS or "name" not in node:
            continue
        kind = OmegaConf.get_type(node)
        if kind is not None and dataclasses.is_dataclass(kind):
            continue  # composed from the option's schema: every setting is there
        name = str(node.get("name"))
        schema = SCHEMAS[group].get(name)
        if schema is None:
            continue
        lacked = [f.name for f in dataclasses.fields(schema) if f.name not in node]
        if not lacked:
            continue
        choice = _choice_of(cfg, group)
        given = (
            f"{group}={choice} (its file sets name: {name})"
            if choice
            else f"{group} (name: {name})"
        )
        where = f"{group}/{choice}.yaml" if choice else "the option's YAML file"
        shown = ", ".join(lacked[:6]) + (", ..." if len(lacked) > 6 else "")
        raise ConfigError(
            f"{given} lacks the settings every {group}={name} option has ({shown}): the file "
            f"does not build on lossbench's {name} option. Start {where} with "
            f"`defaults: [{name}, _self_]` (lossbench's {name} option first, then the file's own "
            f"keys; see the README, Bring your own CSV)."
        )


def _check_missing(cfg: DictConfig) -> None:
    """Refuse settings left without a value (``???`` in the config: ``data=csv`` needs its
    file, label columns and task), naming each and an example."""
    own = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])  # not Hydra's
    missing = sorted(str(key) for key in OmegaConf.missing_keys(own))
    if not missing:
        return
    group = cfg.get("data", {}).get("name") if any(k.startswith("data.") for k in missing) else None
    where = f"data={group} needs " if group else "these settings need "
    examples = " ".join(MISSING_EXAMPLES.get(k, f"{k}=<value>") for k in missing)
    raise ConfigError(
        f"{where}{', '.join(missing)}, which the config leaves without a value. Give "
        f"{'it' if len(missing) == 1 else 'them'}, e.g. {examples}."
    )


#: The callback that reads ``early_stopping.*`` (``configs/callbacks/default.yaml``).
EARLY_STOPPING_TARGET = "lossbench.callbacks.run_early_stopping"


def _reads_early_stopping(callbacks: Any) -> bool:
    """Whether one of the ``callbacks`` entries is lossbench's early stopping."""
    if not isinstance(callbacks, Mapping | DictConfig):
        return False
    return any(
        isinstance(entry, Mapping | DictConfig) and entry.get("_target_") == EARLY_STOPPING_TARGET
        for entry in callbacks.values()
    )


def check_values(cfg: DictConfig) -> None:
    """The checks of :func:`validate` that no head, loss or data set choice changes: the
    ``data.*`` values, the model's, the optimizer's and the ``trainer.*`` numbers, and the
    seed (what a sweep's value is checked with before the sweep starts:
    :func:`lossbench.sweep_values.check_swept_values`).

        >>> check_values(OmegaConf.create({"seed": 0, "trainer": {"max_epochs": 0}}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: trainer.max_epochs=0 must be at least 1: ...

    Raises:
        ConfigError: The first value refused, with why and the fix.
    """
    if "seed" in cfg:
        _check_seed("seed", cfg.seed)
    if "data" in cfg:
        _check_data(cfg.data)
    if "model" in cfg:
        _check_model(cfg.model)
    if "optimizer" in cfg:
        data = cfg.data if "data" in cfg else OmegaConf.create({"batch_size": None})
        with warnings.catch_warnings():  # L-BFGS with mini-batches: each job warns
            warnings.simplefilter("ignore")
            _check_optimizer(cfg.optimizer, data)
    if "trainer" in cfg:
        _check_trainer_values(cfg.trainer)
        if "max_epochs" in cfg.trainer:
            _check_max_epochs(cfg.trainer)
            _check_budget(cfg.trainer)


def validate(cfg: DictConfig) -> Task:
    """Check the whole config; return the task or raise :class:`ConfigError`."""
    check_interpolations(cfg)  # before any check reads a value
    _check_added_keys(cfg)
    check_added_top_level_keys(cfg)
    _check_option_base(cfg)
    _check_missing(cfg)
    check_setup_name(cfg)  # setup=logits_focal loss=poly: reported as a setup it did not train
    try:
        task = check_setup(cfg)
        params: dict[str, Any] = OmegaConf.to_container(cfg.loss, resolve=True)  # type: ignore[assignment]
        validate_loss_params(cfg.loss.name, params)
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(str(error)) from None
    reduction = cfg.loss.reduction
    if cfg.loss.get("size_average") is not None or cfg.loss.get("reduce") is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            reduction = legacy_reduction(cfg.loss.get("size_average"), cfg.loss.get("reduce"))
    _require(
        reduction != "none",
        "the loss would return one value per element (reduction "
        "'none', set by loss.reduction or by loss.reduce=false), but training needs a "
        "scalar: use loss.reduction=mean or sum and leave loss.size_average / loss.reduce "
        "unset.",
    )
    _check_data(cfg.data)
    _check_model(cfg.model)
    _check_optimizer(cfg.optimizer, cfg.data)
    _check_run(cfg, task)
    return task
