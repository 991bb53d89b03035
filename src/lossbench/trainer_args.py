"""The ``trainer.*`` keys: every argument of ``lightning.Trainer.__init__``, by name.

The list is written out here rather than read from Lightning's signature, so that composing
and checking a config never imports Lightning (``tests/test_imports.py``);
``tests/test_trainer_args.py`` compares it with ``inspect.signature(lightning.Trainer.__init__)``
of the installed Lightning, so a Lightning upgrade that adds or drops an argument fails there.

    >>> "fast_dev_run" in TRAINER_ARGUMENTS
    True
    >>> unknown_trainer_key("max_epoch")[:62]
    'trainer.max_epoch is not an argument of lightning.Trainer. Did'
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: ``inspect.signature(lightning.Trainer.__init__)``, without ``self``, in its order.
TRAINER_ARGUMENTS: tuple[str, ...] = (
    "accelerator",
    "strategy",
    "devices",
    "num_nodes",
    "precision",
    "logger",
    "callbacks",
    "fast_dev_run",
    "max_epochs",
    "min_epochs",
    "max_steps",
    "min_steps",
    "max_time",
    "limit_train_batches",
    "limit_val_batches",
    "limit_test_batches",
    "limit_predict_batches",
    "overfit_batches",
    "val_check_interval",
    "check_val_every_n_epoch",
    "num_sanity_val_steps",
    "log_every_n_steps",
    "enable_checkpointing",
    "enable_progress_bar",
    "enable_model_summary",
    "accumulate_grad_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "deterministic",
    "benchmark",
    "inference_mode",
    "use_distributed_sampler",
    "profiler",
    "detect_anomaly",
    "barebones",
    "plugins",
    "sync_batchnorm",
    "reload_dataloaders_every_n_epochs",
    "default_root_dir",
    "enable_autolog_hparams",
    "model_registry",
)
#: Trainer arguments that a config group sets instead of ``trainer.*``: where to set them.
SET_ELSEWHERE: dict[str, str] = {
    "logger": "the logger group: logger=csv, logger=[csv,mlflow], logger=none (README: Loggers)",
    "callbacks": "the callbacks group: callbacks=default, or add one with "
    "+callbacks.NAME._target_=<class> (README: Callbacks)",
    "default_root_dir": "paths.output_dir (each run writes into its own run directory)",
}
#: What ``trainer.*`` accepts.
TRAINER_KEYS: tuple[str, ...] = tuple(k for k in TRAINER_ARGUMENTS if k not in SET_ELSEWHERE)


def unknown_trainer_key(key: str) -> str:
    """The refusal of ``trainer.<key>``: what, why, the closest names and every valid one."""
    if key in SET_ELSEWHERE:
        return f"trainer.{key} is set by {SET_ELSEWHERE[key]}, not by trainer.{key}."
    close = difflib.get_close_matches(key, TRAINER_KEYS, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(f'trainer.{c}' for c in close)}?" if close else ""
    return (
        f"trainer.{key} is not an argument of lightning.Trainer.{hint} Valid trainer keys: "
        f"{', '.join(TRAINER_KEYS)}."
    )


def refuse_trainer_switches(trainer: Mapping[str, Any], checkpoints: Sequence[str]) -> str | None:
    """The refusal of a ``trainer.*`` switch that lossbench sets through its config groups
    instead, or None: ``enable_checkpointing=false`` while ``checkpoints`` (the ``callbacks``
    entries that build a checkpoint callback) is not empty, ``enable_checkpointing=true``
    while it is empty (Lightning would add its own ``ModelCheckpoint``, which keeps the last
    epoch, not the best), ``use_distributed_sampler=false`` (lossbench shares each split by
    process itself) and ``barebones=true``.

        >>> refuse_trainer_switches({"enable_checkpointing": False}, []) is None
        True
        >>> refuse_trainer_switches({"enable_checkpointing": True}, ["model_checkpoint"]) is None
        True
        >>> refuse_trainer_switches({"enable_checkpointing": True}, [])[:59]
        'trainer.enable_checkpointing=true without a checkpoint call'
        >>> refuse_trainer_switches({"barebones": True}, [])[:42]
        'trainer.barebones=true turns off Lightning'
    """
    if trainer.get("enable_checkpointing") is True and not checkpoints:
        return (
            "trainer.enable_checkpointing=true without a checkpoint callback (callbacks=none, or "
            "~callbacks.model_checkpoint) makes Lightning add its own ModelCheckpoint, which "
            "keeps the last epoch's weights, not the best epoch's, and writes no last.ckpt to "
            "resume from: the run would evaluate and record the last epoch as its best. "
            "lossbench's checkpoints come from callbacks.model_checkpoint, set by checkpoint.*: "
            "keep it (callbacks=default, or +callbacks.model_checkpoint._target_="
            "lossbench.callbacks.run_checkpoint with the other settings of "
            "configs/callbacks/default.yaml) and choose its files with checkpoint.write "
            "(every_epoch, at_end, never); without it the final weights are evaluated. Leave "
            "trainer.enable_checkpointing unset."
        )
    if trainer.get("enable_checkpointing") is False and checkpoints:
        entries = ", ".join(f"callbacks.{name}" for name in checkpoints)
        return (
            "trainer.enable_checkpointing=false turns off Lightning's checkpointing, but "
            f"{entries} builds a checkpoint callback, which Lightning refuses to run with it. "
            "lossbench's checkpointing is set by checkpoint.* and the callbacks group: "
            "checkpoint.write=never writes no checkpoint files (the best epoch's weights are kept "
            f"in memory and evaluated), ~{entries.split(', ')[0]} drops checkpointing (the final "
            "weights are evaluated), callbacks=none drops every callback. Leave "
            "trainer.enable_checkpointing unset; valid checkpoint.write: every_epoch, at_end, "
            "never."
        )
    if trainer.get("use_distributed_sampler") is False:
        return (
            "trainer.use_distributed_sampler=false asks Lightning not to share the data between "
            "processes, but lossbench's data module shares every split by process itself (each "
            "of N processes trains, validates and tests on its own 1/N of the rows, and every "
            "val/ and test/ metric is the whole split's), whatever this switch says: it would "
            "be ignored. Leave trainer.use_distributed_sampler unset (true); for every process "
            "to see all the data, train on one device (trainer.devices=1)."
        )
    if trainer.get("barebones"):
        return (
            "trainer.barebones=true turns off Lightning's logging, checkpointing, progress bar "
            "and model summary, which a lossbench run records and evaluates through. For a lean "
            "run use callbacks=none logger=none (no checkpoint files, no early stopping, no "
            "progress bar; the final weights are evaluated) and keep runner=auto, whose epoch "
            "runner already skips Lightning's per-step work; leave trainer.barebones unset."
        )
    return None


def duration_seconds(duration: Any) -> float | None:
    """The seconds of a duration as Lightning reads ``Trainer(max_time=...)`` and
    ``Timer(duration=...)``: a ``DD:HH:MM:SS`` string, a dict of ``datetime.timedelta``
    arguments or a ``timedelta``; None for anything else (no limit, or not a duration, which
    Lightning refuses itself).

        >>> duration_seconds("00:01:30:00")
        5400.0
        >>> duration_seconds({"minutes": 0, "seconds": 0})
        0.0
        >>> duration_seconds("abc") is None
        True
    """
    if isinstance(duration, datetime.timedelta):
        return duration.total_seconds()
    if isinstance(duration, str):
        found = re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", duration.strip())
        if found is None:
            return None
        days, hours, minutes, seconds = (int(part) for part in found.groups())
        return datetime.timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        ).total_seconds()
    if isinstance(duration, Mapping):
        try:
            return datetime.timedelta(**{str(k): v for k, v in duration.items()}).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def no_time_refusal(key: str, duration: Any, without: str) -> str | None:
    """The refusal of a duration (``trainer.max_time``, a ``Timer`` callback's ``duration``) of
    no time at all, or below: the run would stop before its first step and record an untrained
    model as its result. None for any other value. ``without``: how to run with no time limit.

        >>> no_time_refusal("trainer.max_time", "00:00:00:00", "trainer.max_time=null")[:55]
        "trainer.max_time='00:00:00:00' leaves no time to train:"
        >>> no_time_refusal("trainer.max_time", "00:00:10:00", "trainer.max_time=null") is None
        True
    """
    seconds = duration_seconds(duration)
    if seconds is None or seconds > 0:
        return None
    shown = dict(duration) if isinstance(duration, Mapping) else duration
    return (
        f"{key}={shown!r} leaves no time to train: the run would stop before its first step and "
        "record the untrained model as its result. Give a positive duration, DD:HH:MM:SS (e.g. "
        f"{key}=00:01:00:00 for an hour) or a dict of timedelta arguments (e.g. "
        f"'{key}={{minutes:30}}'), or {without} for no time limit."
    )
