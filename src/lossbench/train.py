"""Train one classifier from a Hydra config and record the run.

    lossbench-train                                          # the default setup
    lossbench-train data=breast_cancer head=sigmoid loss=bce
    lossbench-train data=digits head=log_softmax loss=nll optimizer.lr=3e-3 trainer.max_epochs=30
    lossbench-train -m data=wine head=logits loss=cross_entropy loss.label_smoothing=0,0.1 \
        seed=0,1,2
    python -m lossbench.train --help                         # every option and group

Each run writes into its own directory under ``outputs/`` (printed at the start and the end):
``metrics.json`` (the run record, :mod:`lossbench.record`), ``config.yaml`` (the resolved
config), ``checkpoints/`` (best validation epoch and last) and the logger's files. Test
metrics come from the best checkpoint.

This module is the command line only: Hydra's app, the checks before a run starts
(:func:`preflight`) and the multirun bookkeeping. Importing it imports no torch or Lightning,
so ``--help`` and a refused config answer at once; the run itself is
:func:`lossbench.training.train`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, NoReturn, get_type_hints

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from lossbench.added_keys import added_key_refusal
from lossbench.command_keys import (
    added_config_dirs,
    command_keys,
    group_keys,
    group_options,
    groups_of_shipped_options,
    overrides_of,
    refuse_missing_config_dirs,
    refuse_option_choices,
    refuse_removed_command_settings,
    refuse_removed_settings,
    refuse_unknown_keys,
    refuse_unknown_options,
)
from lossbench.config import SCHEMAS, TrainConfig, register_configs
from lossbench.config_files import config_file_refusal
from lossbench.config_folders import config_dir
from lossbench.ended_runs import finishes_unrecorded_run, used_up_time_limit
from lossbench.entry_keys import refuse_unknown_entry_keys
from lossbench.errors import NonFiniteLossError, UserInputError, format_warning, refuse
from lossbench.flag_refusals import refuse_flag_errors
from lossbench.help_groups import is_completed_group
from lossbench.hydra_callback_entries import check_hydra_callbacks
from lossbench.hydra_internals import (
    callbacks_checked,
    completion_line_flags_first,
    completion_offers_only,
    flags_first,
    hydra_arguments,
    hydra_node_resolved_in_full,
    hydra_overrides,
    multirun_yaml_unwritten,
    shown_config_checked,
    translating_errors,
)
from lossbench.hydra_settings import (
    COMMAND_CONFIGS,
    hydra_error_refusal,
    null_params_refusal,
    refuse_hydra_settings,
    refuse_null_package,
)
from lossbench.instantiators import check_logger_folders
from lossbench.interpolations import check_shown_interpolations
from lossbench.messages import quiet_lightning
from lossbench.nested_folders import check_run_folder
from lossbench.option_keys import (
    added_group_refusal,
    chosen_options,
    composition_refusal,
    missing_option_refusal,
    refuse_option_keys,
    removed_key_refusal,
    removed_null_refusal,
)
from lossbench.override_grammar import refuse_grammar_errors
from lossbench.override_types import HYDRA, refuse_wrong_types
from lossbench.primary_config import refuse_missing_groups
from lossbench.ray_cluster import checked_address
from lossbench.record import (
    HYDRA_SUBDIR,
    RunExistsError,
    ended,
    read_record,
    read_run_config,
    refuse_completed,
    refuse_foreign_config,
    refuse_replaced_files,
)
from lossbench.run_identity import comparable_config, raised_cap, stands_at_higher_cap
from lossbench.sweep_refusals import ray_connection_refusal, sweep_refusal
from lossbench.validation import ConfigError, validate
from lossbench.worker_deaths import WORKER_DIED_EXIT, WorkerDied

__all__ = [
    "check_left_to_train",
    "check_unfinished_run",
    "config_dir",
    "ended_with_same_config",
    "how_it_ended",
    "main",
    "preflight",
    "quiet_lightning",
    "refuse_unknown_trainer_keys",
    "run_checkpoint_app",
    "start_checkpoint_work",
    "sweep_value",
    "value_schemas",
]

log = logging.getLogger("lossbench")


def preflight(cfg: DictConfig, output_dir: str | Path) -> str:
    """Everything a single run checks before Hydra creates its directory; return the task.

    In order: the run's directory can be made and written, it is not a sweep's folder nor
    lies inside one (unless it is a job's, to resume), nor inside another run's, nor holds
    other runs (:func:`~lossbench.nested_folders.check_run_folder`), it holds no completed run, no
    ``config.yaml`` that lossbench did not write (:func:`~lossbench.record.refuse_foreign_config`),
    nor, where it holds no run of lossbench's, files the run would replace (a ``metrics.csv``
    of one's own: :func:`~lossbench.record.refuse_replaced_files`), nor the checkpoints of a
    run that did not complete unless ``ckpt_path`` continues it (:func:`check_unfinished_run`),
    the config is valid (:func:`lossbench.validation.validate`, with the seed and the
    hardware), the loggers' folders can be made and written
    (:func:`~lossbench.instantiators.check_logger_folders`), Lightning accepts the
    ``trainer.*`` settings, each callback of one's own has a ``state_dict()`` its checkpoints
    can load back (:func:`~lossbench.instantiators.check_callback_states`), the data load and
    split (a CSV file's every value, each split's classes, a validation and a test row for
    each DDP process, ``loss.weight`` / ``pos_weight`` lengths), and a checkpoint to resume
    (``ckpt_path``) exists and continues this model, loss, optimizer and data. The table stays
    cached in this process, so the run does not read the file again.

    Raises:
        UserInputError: the first problem found, with what was given, why and the fix.
    """
    _check_run_directory(Path(output_dir))
    # not a sweep's or search's folder, nor inside one, nor above runs; its own Hydra folder
    subdir = OmegaConf.select(cfg, "hydra.output_subdir", default=HYDRA_SUBDIR)
    check_run_folder(Path(output_dir), None if subdir is None else str(subdir))
    refuse_completed(Path(output_dir))
    refuse_foreign_config(Path(output_dir))
    refuse_replaced_files(cfg, Path(output_dir))
    check_unfinished_run(cfg, Path(output_dir))
    task = validate(cfg)  # a refused config exits before torch and Lightning are imported
    check_logger_folders(cfg, output_dir)
    from lossbench.importing import collection_paused

    with collection_paused():  # torch, Lightning, torchmetrics and scikit-learn
        from lossbench.budget import check_run_budget
        from lossbench.checkpoint import (
            check_resume,
            load_checkpoint,
        )
        from lossbench.data.datamodule import ClassificationDataModule
        from lossbench.distributed import check_evaluation_shares
        from lossbench.instantiators import check_callback_states
        from lossbench.module import ClassifierModule, resolved_loss
        from lossbench.runners import select_runner
        from lossbench.training import check_trainer_settings, run_resume_path

    trainer = check_trainer_settings(cfg)
    select_runner(cfg, trainer)  # runner=epoch with DDP, for one
    check_callback_states(cfg, output_dir)  # a state_dict() its checkpoints could not load
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    check_evaluation_shares(cfg, datamodule.sizes(), trainer.world_size, datamodule.task)
    _check_batch_fraction(cfg, datamodule.sizes()["train"])
    _check_validation_interval(cfg, datamodule.sizes()["train"])
    check_run_budget(cfg, datamodule.sizes()["train"], trainer.world_size)
    try:
        loss = resolved_loss(cfg, datamodule)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    resume = run_resume_path(cfg, output_dir)  # ckpt_path=last: a ModelCheckpoint's too
    if resume is not None:
        hparams = ClassifierModule.from_config(cfg, datamodule, loss=loss).hparams
        checkpoint = load_checkpoint(resume)
        resolved = _resolved(cfg, output_dir)
        check_resume(
            checkpoint,
            resume,
            hparams,
            datamodule.preprocessing,
            config=resolved,
            train_rows=datamodule.sizes()["train"],
            world_size=trainer.world_size,  # each process takes its share of the rows
            # a run that had ended (trainer.max_steps, a time limit) within its last epoch
            ended=finishes_unrecorded_run(cfg, checkpoint, resume, Path(output_dir)) is not None,
        )
        from lossbench.training import resumed_run_config

        resumed_run_config(cfg, Path(output_dir))  # a damaged config.yaml is refused here
        check_left_to_train(cfg, checkpoint, resume, Path(output_dir))
    return task


def check_left_to_train(
    cfg: DictConfig, checkpoint: dict[str, Any], resume: Path, output_dir: Path | None = None
) -> None:
    """Refuse to resume ``checkpoint`` where the trainer's caps leave nothing to train: its
    epochs reach ``trainer.max_epochs``, its optimizer steps ``trainer.max_steps``, or the
    training time it has used (Lightning's ``Timer`` state) ``trainer.max_time`` or the
    ``duration`` of a ``Timer`` callback of the config's. Resuming would record the run
    unchanged as completed.

    Except a run that was stopped after it had ended and before its record
    (:func:`~lossbench.ended_runs.finishes_unrecorded_run`): resuming it finishes it, with the
    final evaluation and the record the uninterrupted run would have written.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"trainer": {"max_epochs": 10, "max_time": "00:00:01:00"}})
        >>> check_left_to_train(cfg, {"epoch": 3, "global_step": 40}, Path("last.ckpt"))
        >>> used = {"callbacks": {"Timer": {"time_elapsed": {"train": 61.2}}}}
        >>> try:
        ...     check_left_to_train(cfg, {"epoch": 3, **used}, Path("last.ckpt"))
        ... except ConfigError as error:
        ...     print(str(error)[:60])
        ckpt_path='last.ckpt' has trained for 61 s, and trainer.max_

    Raises:
        ConfigError: the cap that leaves none to train, with a larger value to give.
    """
    if output_dir is not None and finishes_unrecorded_run(cfg, checkpoint, resume, output_dir):
        return
    done = int(checkpoint.get("epoch", -1)) + 1  # saved at the end of its epoch
    if cfg.trainer.max_epochs <= done:
        raise ConfigError(
            f"ckpt_path={str(resume)!r} has trained {done} epoch(s), and "
            f"trainer.max_epochs={cfg.trainer.max_epochs} leaves none to train: resuming "
            f"would record it unchanged. Raise trainer.max_epochs above {done} to train on "
            "(e.g. trainer.max_epochs="
            f"{2 * done}), or evaluate the checkpoint with lossbench-eval."
        )
    steps, max_steps = int(checkpoint.get("global_step", 0)), cfg.trainer.get("max_steps")
    if max_steps is not None and max_steps != -1 and steps >= max_steps:
        raise ConfigError(
            f"ckpt_path={str(resume)!r} has trained {steps} optimizer step(s), and "
            f"trainer.max_steps={max_steps} leaves none to train: resuming would stop at "
            f"once. Raise trainer.max_steps above {steps} to train on (e.g. "
            f"trainer.max_steps={2 * steps}), or evaluate the checkpoint with lossbench-eval."
        )
    _check_time_left(cfg, checkpoint, resume)


def _check_time_left(cfg: DictConfig, checkpoint: dict[str, Any], resume: Path) -> None:
    """Refuse a time limit that the checkpoint's training time already uses up
    (:func:`lossbench.ended_runs.used_up_time_limit`): a ``Timer`` callback's ``duration``, or
    else ``trainer.max_time``. A resumed ``Timer`` counts the training time its state in the
    checkpoint saved."""
    used_up = used_up_time_limit(cfg, checkpoint)
    if used_up is not None:
        given, limit, used, without = used_up
        _refuse_no_time_left(resume, used, limit, given, without)


def _refuse_no_time_left(
    resume: Path, used: float, limit: float, given: str, without: str | None = None
) -> NoReturn:
    """Raise the refusal of resuming ``resume``, which has trained for ``used`` seconds, under
    the time limit ``given`` (``key=value``) of ``limit`` seconds; ``without``: how to drop
    the limit (else ``key=null``)."""
    key = given.split("=", 1)[0]
    minutes = max(1, math.ceil(2 * used / 60))  # twice the time so far
    larger = f"{minutes // 1440:02d}:{minutes // 60 % 24:02d}:{minutes % 60:02d}:00"
    raise ConfigError(
        f"ckpt_path={str(resume)!r} has trained for {used:.0f} s, and "
        f"{given} ({limit:.0f} s in all, counting the time before the "
        "checkpoint) leaves none to train: resuming would stop at once and record the run "
        f"unchanged. Give a larger {key} (e.g. {key}={larger})"
        f", or {without or f'{key}=null'} for no time limit, or evaluate the checkpoint with "
        "lossbench-eval."
    )


def _resolved(cfg: DictConfig, output_dir: str | Path) -> dict[str, Any]:
    """``cfg`` resolved as the run will save it: without Hydra's own node, its
    ``paths.run_dir`` the run's directory."""
    resolved = cfg.copy()
    with open_dict(resolved):
        resolved.pop("hydra", None)
    if "paths" in resolved:
        resolved.paths.run_dir = str(output_dir)
    return OmegaConf.to_container(resolved, resolve=True)


def _check_run_directory(output_dir: Path) -> None:
    """Refuse a run directory that is a file, or lies below one (``hydra.run.dir`` or
    ``paths.output_dir`` naming a file): Hydra could not create it."""
    from lossbench.output_files import cannot_write_below, file_in_the_way

    blocking = file_in_the_way(output_dir)
    if blocking is not None:
        raise ConfigError(
            f"the run's directory {str(output_dir)!r} cannot be made: {str(blocking)!r} is a "
            "file. Give paths.output_dir (or hydra.run.dir) a directory, e.g. "
            "paths.output_dir=outputs."
        )
    unwritable = cannot_write_below(output_dir)
    if unwritable is not None:
        raise ConfigError(
            f"the run's directory {str(output_dir)!r} cannot be made: {unwritable}. Give "
            "paths.output_dir (or hydra.run.dir) a folder you can write, e.g. "
            "paths.output_dir=outputs."
        )


def check_unfinished_run(cfg: DictConfig, output_dir: Path) -> None:
    """Refuse to start a single run afresh (no ``ckpt_path``) in a directory that holds the
    checkpoints of a run that did not complete: training would overwrite its ``last.ckpt``
    (what ``ckpt_path=last`` resumes) and its logs, and leave its best checkpoint beside the
    new run's. (:func:`~lossbench.record.refuse_completed` refuses a completed run's.) The
    checkpoints are those of ``checkpoints/`` and of a checkpoint callback's folder inside
    the run's (``+callbacks.mc.dirpath=ckpts``: :func:`_unfinished_callback_checkpoints`).

        >>> from omegaconf import OmegaConf
        >>> check_unfinished_run(OmegaConf.create({"ckpt_path": None}), Path("no/such/run"))
    """
    if cfg.get("ckpt_path") is not None:
        return
    new_run = "give another hydra.run.dir (or none: each run gets a new directory under outputs/)"
    found = sorted(p.name for p in (output_dir / "checkpoints").glob("*.ckpt"))
    if not found:
        others = _unfinished_callback_checkpoints(cfg, output_dir)
        if not others:
            return
        lasts = [path for path in others if path.name.startswith("last")]
        resume = (
            "add ckpt_path=last to the same command to continue it from its last epoch"
            if lasts
            else f"add ckpt_path={max(others, key=lambda p: p.stat().st_mtime)} to the same "
            "command to continue it from that checkpoint"
        )
        names = ", ".join(str(path.relative_to(output_dir)) for path in others)
        raise ConfigError(
            f"the run directory {str(output_dir)!r} holds the checkpoints of a run that did "
            f"not complete ({names}), and no ckpt_path was given: a new run there would write "
            "its checkpoints beside them (a last-v1.ckpt beside its last.ckpt) and overwrite "
            f"its logs. To keep that run, {resume}; to start a new run, {new_run}."
        )
    if "last.ckpt" in found:
        resume = "add ckpt_path=last to the same command to continue it from its last epoch"
    else:  # only a best checkpoint: interrupted at_end, save_last=false, or within epoch 0
        from lossbench.checkpoint import NO_LAST_CHECKPOINT, saved_within_epoch

        best = output_dir / "checkpoints" / found[-1]
        within = saved_within_epoch(best)
        if within is not None:
            raise ConfigError(
                f"the run directory {str(output_dir)!r} holds the checkpoints of a run that "
                f"did not complete ({', '.join(found)}), and no ckpt_path was given: a new run "
                f"there would overwrite its checkpoints and logs. It cannot be continued: "
                f"{found[-1]} was saved within epoch {within} (at a validation before the "
                f"epoch's end) and there is no last.ckpt ({NO_LAST_CHECKPOINT}). To start a "
                f"new run, {new_run}, or move {output_dir / 'checkpoints'} away (its "
                "checkpoint still serves lossbench-eval and lossbench-predict) and run the "
                "command again."
            )
        resume = (
            f"add ckpt_path={best} to the same command to continue it from its best epoch "
            f"(it has no last.ckpt: {NO_LAST_CHECKPOINT})"
        )
    raise ConfigError(
        f"the run directory {str(output_dir)!r} holds the checkpoints of a run that did not "
        f"complete ({', '.join(found)}), and no ckpt_path was given: a new run there would "
        f"overwrite its checkpoints and logs. To keep that run, {resume}; to start a new run, "
        f"{new_run}."
    )


def _unfinished_callback_checkpoints(cfg: DictConfig, output_dir: Path) -> list[Path]:
    """The checkpoints in ``output_dir`` that the run's checkpoint callbacks write outside
    ``checkpoints/``: in a folder of theirs inside the run's folder
    (:func:`~lossbench.instantiators.checkpoint_dirpaths`: ``+callbacks.mc.dirpath=ckpts``,
    or ``logs/checkpoints`` for a ``ModelCheckpoint`` without ``dirpath``). A folder outside
    the run's (an absolute ``dirpath`` that several runs share) is not this run's alone.

        >>> from omegaconf import OmegaConf
        >>> _unfinished_callback_checkpoints(OmegaConf.create({}), Path("no/such/run"))
        []
    """
    if not output_dir.is_dir() or next(output_dir.rglob("*.ckpt"), None) is None:
        return []  # nothing to look for: Lightning stays unimported before validation
    from lossbench.instantiators import checkpoint_dirpaths

    inside = output_dir.resolve()
    found: dict[Path, Path] = {}
    for folder in checkpoint_dirpaths(cfg, output_dir).values():
        resolved = folder.resolve()
        if not resolved.is_relative_to(inside) or resolved == inside / "checkpoints":
            continue
        for path in sorted(folder.glob("*.ckpt")):
            found.setdefault(path.resolve(), output_dir / path.resolve().relative_to(inside))
    return list(found.values())


def _check_batch_fraction(cfg: DictConfig, train_rows: int) -> None:
    """Refuse ``trainer.limit_train_batches`` as a fraction that leaves less than one of the
    epoch's batches (Lightning would stop at the first epoch with a traceback)."""
    limit = cfg.trainer.get("limit_train_batches")
    if not isinstance(limit, float):
        return
    size = cfg.data.batch_size or train_rows
    batches = -(-train_rows // size)
    if limit * batches < 1:
        raise ConfigError(
            f"trainer.limit_train_batches={limit} keeps {limit} of the epoch's {batches} "
            f"batch(es) ({train_rows} training rows, data.batch_size={cfg.data.batch_size}): "
            "less than one. Raise it to at least "
            f"{1 / batches:.3g}, give a number of batches, or use smaller batches."
        )


def _check_validation_interval(cfg: DictConfig, train_rows: int) -> None:
    """Refuse ``trainer.val_check_interval`` as a number of batches above an epoch's batches
    while validation counts within each epoch (Lightning raises it at the fit's start, after
    the run's directory was made)."""
    interval = cfg.trainer.get("val_check_interval")
    if not isinstance(interval, int) or cfg.trainer.get("check_val_every_n_epoch", 1) is None:
        return
    size = cfg.data.batch_size or train_rows
    batches = -(-train_rows // size)
    limit = cfg.trainer.get("limit_train_batches")
    if isinstance(limit, int):
        batches = min(batches, limit)
    elif isinstance(limit, float):
        batches = int(batches * limit)
    if interval > batches:
        raise ConfigError(
            f"trainer.val_check_interval={interval} validates every {interval} batches, but an "
            f"epoch has {batches} ({train_rows} training rows, data.batch_size="
            f"{cfg.data.batch_size}), so no validation would come within it. Give at most "
            f"{batches}, a fraction of the epoch (e.g. trainer.val_check_interval=0.5), or count "
            "across epochs with trainer.check_val_every_n_epoch=null."
        )


def ended_with_same_config(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """The record in ``output_dir`` if its run ended with this resolved config (up to
    presentation and place: :func:`lossbench.run_identity.comparable_config`): it completed, or
    it :func:`~lossbench.record.diverged` (a non-finite loss, which training it again would
    reach again). Also a run of this config but a lower ``trainer.max_epochs`` that would have
    ended the same way under this one (:func:`lossbench.run_identity.stands_at_higher_cap`).

    This is what lets an interrupted study resume: re-running the same sweep skips such jobs.
    Runs that were refused, failed otherwise (an exception) or never wrote a record train again.
    A ``metrics.json`` or ``config.yaml`` that cannot be read raises
    :class:`~lossbench.record.DamagedRunError`: the job is refused, its files left as they are.
    """
    record = read_record(output_dir)
    saved = output_dir / "config.yaml"
    if record is None or not saved.is_file():
        return None
    if not ended(record):
        return None
    before = comparable_config(read_run_config(saved))
    now = comparable_config(OmegaConf.to_container(cfg, resolve=True))
    if before == now:
        return record
    scheduler = (before.get("scheduler") or {}).get("name")
    if raised_cap(before, now) is not None and stands_at_higher_cap(record, scheduler):
        return record
    return None


def how_it_ended(record: dict[str, Any]) -> str:
    """How a skipped run ended, for the log line."""
    return "completed" if record.get("status") == "completed" else "failed (non-finite loss)"


def skipped_outcome(record: dict[str, Any]) -> str:
    """The study's outcome (:mod:`lossbench.progress`) of a job skipped because its run had
    ended (:func:`ended_with_same_config`): ``skipped``, or ``failed_before`` for a kept run
    that failed, which the progress line counts as failed and the grid's widening takes as
    evidence about its rate (as it did when the run failed)."""
    return "skipped" if record.get("status") == "completed" else "failed_before"


def sweep_value(cfg: DictConfig, record: dict[str, Any]) -> float | None:
    """What a sweeper receives: the optimized metric, or None for a failed run, or one whose
    metric is not finite (the Optuna sweeper marks a trial that returns something that is not
    a float as failed and goes on; NaN would stop it with Optuna's traceback).

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"optimized_metric": "val/nll"})
        >>> sweep_value(cfg, {"status": "completed", "val/nll": float("nan")}) is None
        True
    """
    value = record.get(cfg.optimized_metric) if record.get("status") == "completed" else None
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()  # this job's, set by Hydra: its cfg has no hydra node
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    output_dir = Path(hydra_cfg.runtime.output_dir)
    if not multirun:
        return _run(cfg, output_dir, multirun=False)
    from lossbench.parent_watch import end_with_launcher
    from lossbench.progress import mark_job
    from lossbench.sweep_warnings import warnings_of_sweep

    end_with_launcher()  # a joblib worker: killed with lossbench-train, it trains no more

    # A job of hydra/launcher=parallel runs in a joblib worker, where on_multirun_start did
    # not run: its warnings read as the command's too. (Not a Hydra on_job_start callback:
    # one would make the vectorized launcher run every job through Hydra's run_job.)
    warnings.formatwarning = format_warning  # type: ignore[assignment]

    # The study's progress line counts the jobs' markers (lossbench.progress). A job stopped
    # (Ctrl-C, SIGTERM) has not ended: it leaves no marker, as a vectorized group stopped leaves
    # none, so that the line stops at the counts it had reached; its run trains again when the
    # study's command is run again.
    try:
        with warnings_of_sweep(hydra_cfg.sweep.dir):  # a warning about the data, once a sweep
            value, outcome = _run_job(cfg, output_dir)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (lossbench.interrupts.Terminated)
        raise
    except BaseException:
        mark_job(hydra_cfg.sweep.dir, hydra_cfg.job.num, "failed")
        raise
    mark_job(hydra_cfg.sweep.dir, hydra_cfg.job.num, outcome)
    return value


def _run_job(cfg: DictConfig, output_dir: Path) -> tuple[float | None, str]:
    """One job of a multirun: ``(value for the sweeper, outcome)``."""
    try:
        done = ended_with_same_config(cfg, output_dir)
    except UserInputError as error:  # a damaged metrics.json or config.yaml: left as it is
        log.error("refused: %s", error)
        return None, "refused"
    if done is not None:
        log.info("skipped: %s already %s with this config", output_dir, how_it_ended(done))
        return sweep_value(cfg, done), skipped_outcome(done)
    from lossbench.importing import collection_paused

    with collection_paused():  # the first job loads torch, Lightning, ...
        from lossbench.training import train

    log.info("run directory: %s", output_dir)
    try:
        record = train(cfg, output_dir, multirun=True)
    except UserInputError as error:  # e.g. never overwrite another config's completed run
        log.error("refused: %s", error)
        return None, "exists" if isinstance(error, RunExistsError) else "refused"
    if record.get("status") == "completed":
        return sweep_value(cfg, record), "completed"
    return None, "refused" if record.get("refused") else "failed"


def _run(cfg: DictConfig, output_dir: Path, *, multirun: bool) -> float | None:
    from lossbench.importing import collection_paused

    with collection_paused():  # loads torch, Lightning, torchmetrics and scikit-learn
        from lossbench.training import train

    log.info("run directory: %s", output_dir)
    try:
        record = train(cfg, output_dir, multirun=multirun)
    except UserInputError as error:
        refuse(error)
    except NonFiniteLossError as error:
        print(f"lossbench: failed: {error}", file=sys.stderr)
        sys.exit(1)
    return sweep_value(cfg, record)


class _UnscoredTrialFilter(logging.Filter):
    """Leaves out the Hydra Optuna sweeper's warning about a trial that returned no value
    ("Failed experiment: Return value must be float-castable. Got 'None'."): a trial that
    failed or was refused, which its job has said itself (Optuna marks the trial failed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Return value must be float-castable. Got 'None'" not in record.getMessage()


def quiet_optuna_trial_failures() -> None:
    """Keep the Hydra Optuna sweeper's warning of a trial without a value out of the output
    (:class:`_UnscoredTrialFilter`); once per process."""
    sweeper_log = logging.getLogger("hydra_plugins.hydra_optuna_sweeper._impl")
    if not any(isinstance(f, _UnscoredTrialFilter) for f in sweeper_log.filters):
        sweeper_log.addFilter(_UnscoredTrialFilter())


def no_trial_completed(error: BaseException) -> bool:
    """Whether ``error`` is Optuna's, raised as the Hydra Optuna sweeper asks for the best trial
    of a search none of whose trials completed (each failed, or was refused).

        >>> no_trial_completed(ValueError("No trials are completed yet."))
        True
    """
    return isinstance(error, ValueError) and str(error) == "No trials are completed yet."


def search_without_result(sweep_dir_given: bool) -> str | None:
    """An Optuna search none of whose trials completed: the refusal where each trial was
    refused, or its directory held another run (as a sweep of Hydra's basic sweeper gets,
    exit 2); else the command fails here, exit 1, saying how the trials ended and the first
    failure (:func:`lossbench.progress.no_trial_completed_message`). The search's progress
    line, which Hydra leaves running when its sweeper raises, is ended first."""
    from lossbench.progress import (
        ALL_REFUSED,
        NONE_COMPLETED,
        NOT_RUN,
        all_refused_message,
        end_cut_short_sweeps,
        no_trial_completed_message,
        not_run_message,
    )

    ended = end_cut_short_sweeps()
    not_run, all_refused = dict(NOT_RUN), dict(ALL_REFUSED)
    NOT_RUN.clear()  # this command's sweep only, as main() clears them
    ALL_REFUSED.clear()
    NONE_COMPLETED.clear()  # said here in the search's own words
    if not_run:
        sweep_dir, count = next(iter(not_run.items()))
        return not_run_message(sweep_dir, count, sweep_dir_given=sweep_dir_given)
    if all_refused:
        sweep_dir, (count, since) = next(iter(all_refused.items()))
        return all_refused_message(sweep_dir, count, since)
    if ended:
        sweep_dir, counts, since = ended[0]
        message = no_trial_completed_message(sweep_dir, counts, since)
    else:
        message = (
            "no trial of the Optuna search completed (each failed or was refused), so it has "
            "no best trial. Each trial's metrics.json under hydra.sweep.dir says why; fix the "
            "settings and run the search again."
        )
    print(f"lossbench: failed: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def value_schemas(
    *, options_known: bool = True, shipped: Collection[str] = ()
) -> dict[str, tuple[type, ...]]:
    """The schemas lossbench-train's command-line values are checked against before Hydra
    composes them (:mod:`lossbench.override_types`): :class:`TrainConfig`, and the options of
    each config group; where a config directory adds options (``options_known`` false), the
    groups that TrainConfig types itself (``trainer``, ``paths``, ``head``) and those whose
    option is a shipped one (``shipped``:
    :func:`~lossbench.command_keys.groups_of_shipped_options`), as only an added option may
    declare keys of its own.

        >>> sorted(value_schemas(options_known=False))
        ['', 'head', 'paths', 'trainer']
        >>> sorted(value_schemas(options_known=False, shipped=["data"]))
        ['', 'data', 'head', 'paths', 'trainer']
    """
    typed = {name for name, kind in get_type_hints(TrainConfig).items() if is_dataclass(kind)}
    return {
        "": (TrainConfig,),
        **{
            group: tuple(dict.fromkeys(options.values()))
            for group, options in SCHEMAS.items()
            if options_known or group in typed or group in shipped
        },
    }


def hydra_schemas() -> dict[str, tuple[type, ...]]:
    """The schema of Hydra's own settings, for ``hydra.<key>=<value>`` on the command line
    (:data:`lossbench.override_types.HYDRA`): ``hydra.job.chdir=maybe``, ``hydra.mode=nosuch``.

        >>> [s.__name__ for s in hydra_schemas()["hydra"]]
        ['HydraConf']
    """
    from hydra.conf import HydraConf

    return {HYDRA: (HydraConf,)}


def launcher_schemas() -> dict[str, tuple[type, ...]]:
    """The schemas of lossbench's launchers' settings, for ``hydra.launcher.<key>=<value>``
    on the command line (:data:`lossbench.override_types.LAUNCHER`).

        >>> [s.__name__ for s in launcher_schemas()["hydra.launcher"]]
        ['VectorizedLauncherConf']
    """
    from hydra_plugins.lossbench_vectorized_launcher.launcher import VectorizedLauncherConf

    return {"hydra.launcher": (VectorizedLauncherConf,)}


def _put_flags_first() -> None:
    """Put Hydra's flags before the overrides in ``sys.argv`` (``data=wine -m seed=0,1``) and,
    for a shell completion query (``-sc query=bash``), in the line being completed
    (``COMP_LINE``: ``data=iris -m data.ba<TAB>``), where Hydra 1.3's parser refuses an override
    after a flag (:func:`lossbench.hydra_internals.flags_first`): each means the same with the
    flags first, and completes as that line does."""
    sys.argv[1:] = flags_first(sys.argv[1:])
    line = os.environ.get("COMP_LINE")  # set by the shell for a completion only
    if line is None:
        return  # an ordinary command: no second reading of its arguments
    parsed = hydra_arguments(sys.argv[1:])
    if parsed is not None and parsed.shell_completion:
        os.environ["COMP_LINE"] = completion_line_flags_first(line)


def refuse_unknown_trainer_keys(arguments: list[str]) -> None:
    """Refuse a misspelt ``trainer.<key>`` on the command line (set, added or removed) with the
    valid keys (exit 2), before Hydra composes anything: Hydra's own error names the key but
    not the choices."""
    from lossbench.trainer_args import TRAINER_KEYS, unknown_trainer_key

    for argument in arguments:
        key = argument.split("=", 1)[0].lstrip("+~")
        removed = argument.startswith("~")  # ~trainer.nosuch: no value
        if ("=" not in argument and not removed) or not key.startswith("trainer."):
            continue
        name = key.removeprefix("trainer.").split(".", 1)[0]
        if name not in TRAINER_KEYS:
            print(f"lossbench: refused: {unknown_trainer_key(name)}", file=sys.stderr)
            sys.exit(2)


def shown_config_check(parsed: Any, command: str) -> Callable[[Any], None] | None:
    """The check of the config that ``--cfg`` or ``--help`` shows (``parsed``: the command line,
    as Hydra's parser reads it) where it would show values resolved (``--resolve``, ``-p KEY``):
    a value that cannot be resolved is refused as a run refuses it (exit 2;
    :func:`lossbench.interpolations.check_shown_interpolations`), where Hydra ended with
    OmegaConf's traceback. None where nothing is shown resolved.

        >>> from argparse import Namespace
        >>> shown = Namespace(cfg="job", help=False, resolve=True, package=None)
        >>> shown_config_check(shown, "lossbench-train") is not None
        True
        >>> shown_config_check(Namespace(cfg=None, help=False, resolve=False, package=None), "x")
    """
    if parsed is None or not (parsed.cfg or parsed.help):
        return None
    package = parsed.package if parsed.cfg else None  # --help shows the whole config
    if not (parsed.resolve or package):
        return None

    def check(config: Any) -> None:
        check_shown_interpolations(config, package=package, resolve=parsed.resolve, command=command)

    return check


def run_checkpoint_app(
    schema_name: str,
    schema: type,
    hydra_main: Any,
    command: str,
    shared_out: Callable[[list[str]], str | None] | None = None,
    groups: Mapping[str, tuple[str, Mapping[str, type]]] | None = None,
    option_hints: Mapping[str, str] | None = None,
) -> None:
    """Start a Hydra app that works on a checkpoint (lossbench-eval, lossbench-predict):
    refuse an override Hydra's grammar cannot read, a setting ``schema`` does not have, or
    Hydra's own settings and config flags where Hydra would stop on them
    (:mod:`lossbench.hydra_settings`, before it starts or from its error), register its
    schema (``schema_name``: the command's own config folder, :func:`config_dir`, builds on it;
    training's schemas stay out of the ConfigStore, so that Hydra offers none of them), and
    keep Lightning's messages out of its output (its start-up messages:
    :func:`start_checkpoint_work`, which ``hydra_main`` calls where its work starts).
    A Ctrl-C or SIGTERM ends the command in one line (during its work, one that says what was
    not written: :func:`lossbench.interrupts.stopping`). ``shared_out``: why the jobs of a
    multirun (``-m``) with these overrides would all write one file
    (:func:`lossbench.sweep_refusals.shared_out_refusal`), or cannot run (a swept value
    every job would refuse), refused before any job starts.
    ``groups``: the command's config groups, ``{group: (default option, {option: schema})}``,
    whose keys ``~group.key`` may not remove, as ``~key`` may not remove a setting of
    ``schema`` (:func:`lossbench.command_keys.removed_command_setting`). ``option_hints``:
    ``{group: text}``, added to the refusal of an option the group lacks (what its options are
    for). A multirun writes
    nothing but its jobs' outputs, not Hydra's ``multirun.yaml``
    (:func:`lossbench.hydra_internals.multirun_yaml_unwritten`)."""
    from hydra.core.config_store import ConfigStore

    from lossbench.config import register_resolvers
    from lossbench.interrupts import CHECKPOINT_COMMAND_KEPT, stopping

    configs = config_dir(COMMAND_CONFIGS[command])
    _put_flags_first()  # overrides after a flag (COMP_LINE's too): Hydra 1.3 refuses them
    keys = [field.name for field in fields(schema)]
    refuse_flag_errors(sys.argv[1:], command, keys)  # --ckpt_path=x: a setting with dashes
    overrides = hydra_overrides(sys.argv[1:])
    refuse_grammar_errors(overrides, command)
    refuse_hydra_settings(sys.argv[1:], command, keys)  # -cn, -p, hydra.*: Hydra's own config
    nested = {  # ~data.nosuch: no option of the group has it
        group: sorted({f.name for option in options.values() for f in fields(option)})
        for group, (_, options) in (groups or {}).items()
    }
    refuse_unknown_keys(overrides_of(sys.argv[1:]), command_keys(schema), command, nested)
    refuse_removed_command_settings(overrides, schema, command, groups)  # ~split, ~data.path
    if groups:  # data=null, data=[csv,images]: a traceback, or one option kept
        refuse_option_choices(
            overrides,
            group_options([configs]),
            command,
            defaults={group: default for group, (default, _) in groups.items()},
            needed=list(groups),
            one_choice=list(groups),
            primary=f"{COMMAND_CONFIGS[command]}.yaml",
        )
    schemas = {  # split=null, ckpt_path=null, data.path=null: the command's schema's types
        "": (schema,),
        **{g: tuple(dict.fromkeys(o.values())) for g, (_, o) in (groups or {}).items()},
    }
    refuse_wrong_types(overrides, schemas | hydra_schemas(), list(groups or {}))
    parsed = hydra_arguments(sys.argv[1:])
    if shared_out is not None and parsed is not None and parsed.multirun:
        refusal = shared_out(overrides)
        if refusal is not None:
            refuse(UserInputError(refusal))

    def refusal(error: BaseException) -> str | None:
        """An option of a group that it lacks (hydra/launcher=..., predict's data=...), a key of a
        schema removed (``~data.batch_size``), or the config Hydra was pointed at, or one of its
        settings (:func:`hydra_error_refusal`); or a refusal of lossbench's own (a value that
        ``--cfg job --resolve`` cannot resolve)."""
        if isinstance(error, UserInputError):
            return str(error)
        missing = missing_option_refusal(error, overrides, command)
        if missing is not None:  # what the group's options are for, where the command says
            group = missing.split("=", 1)[0].lstrip("+~")
            hint = (option_hints or {}).get(group)
            return f"{missing} {hint}" if hint else missing
        return (
            added_group_refusal(error, overrides)  # +hydra/launcher=basic
            or removed_key_refusal(error, group_options([configs]), command)
            or null_params_refusal(error, overrides)
            or hydra_error_refusal(error, sys.argv[1:], command, configs)
        )

    with stopping(CHECKPOINT_COMMAND_KEPT):
        register_resolvers()
        ConfigStore.instance().store(name=schema_name, node=schema)
        quiet_lightning()
        # a multirun too (-m, hydra.mode=MULTIRUN) writes nothing but each job's `out`
        with (
            translating_errors(refusal),
            callbacks_checked(check_hydra_callbacks),  # +hydra.callbacks.x._targt_=...
            multirun_yaml_unwritten(),
            shown_config_checked(shown_config_check(parsed, command)),  # --cfg job --resolve
        ):
            hydra_main()


def start_checkpoint_work() -> None:
    """Load Lightning (torch, torchmetrics) where lossbench-eval or lossbench-predict starts its
    work, after the checks that need no checkpoint, so that ``--help`` and those refusals never
    load it; and keep Lightning's start-up messages (the devices a Trainer found) out of the
    output. Loaded as :mod:`lossbench.commands` imports a command's module: with garbage
    collection paused, and a Ctrl-C or SIGTERM meanwhile ends the command in one line, exit
    status 130 (143), saying that nothing was written."""
    from lossbench.importing import collection_paused
    from lossbench.interrupts import STARTING_KEPT, stopped, terminated_as_interrupt

    try:
        with terminated_as_interrupt(), collection_paused():
            import lightning  # noqa: F401  (sets its loggers' level on import; quieten them after)
    except KeyboardInterrupt as interrupt:
        stopped(interrupt, STARTING_KEPT)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)


def main() -> None:
    """Console entry point of ``lossbench-train``."""
    _put_flags_first()  # `data=wine -m seed=0,1` (COMP_LINE's too): Hydra 1.3 refuses it
    top_level = [field.name for field in fields(TrainConfig)]  # --seed=1: with dashes
    top_level += [path.name for path in config_dir().iterdir() if path.is_dir()]
    refuse_flag_errors(sys.argv[1:], "lossbench-train", top_level)  # `-m --cfg job`: a traceback
    overrides = hydra_overrides(sys.argv[1:])  # as Hydra's parser reads them, without its flags
    refuse_grammar_errors(overrides, "lossbench-train")
    parsed = hydra_arguments(sys.argv[1:])
    multirun = parsed is not None and parsed.multirun
    arguments = overrides_of(sys.argv[1:])  # without -sc's value (shell completion)
    refuse_unknown_trainer_keys(arguments)
    added = added_config_dirs(arguments)
    refuse_missing_config_dirs(added or [], "lossbench-train")
    # inside a group, only where no config dir adds options with keys of their own
    nested = group_keys(SCHEMAS, TrainConfig, skip=("trainer",)) if added == [] else None
    keys = [field.name for field in fields(TrainConfig)]
    refuse_hydra_settings(sys.argv[1:], "lossbench-train", keys, nested)  # -cn, -p, hydra.*
    if added is not None:  # the groups of lossbench's configs and of those added
        folders = [config_dir(), *(d for d in added if d.is_dir())]
        groups = [path.name for folder in folders for path in folder.iterdir() if path.is_dir()]
        refuse_unknown_keys(arguments, command_keys(TrainConfig, groups), "lossbench-train", nested)
        options = group_options(folders)
        refuse_unknown_options(arguments, options, "lossbench-train")
        # debug=null, data=[iris,wine], data=iris +data=wine: a traceback, or one option kept
        defaults = chosen_options([], config_dir())
        refuse_option_choices(arguments, options, "lossbench-train", defaults=defaults)
        refuse_removed_settings(arguments, options, "lossbench-train")
        if not added:  # the logger and callbacks entries, the options of the shipped files
            refuse_unknown_entry_keys(arguments, config_dir())
            refuse_option_keys(overrides, config_dir(), multirun=multirun)
        # with -cd, the groups whose option is a shipped one keep their keys' types
        shipped = (
            groups_of_shipped_options(
                arguments, group_options([config_dir()]), group_options(folders[1:])
            )
            if added
            else []
        )
        schemas = value_schemas(options_known=not added, shipped=shipped) | hydra_schemas()
        if any(a.lstrip("+").startswith("hydra.launcher.") for a in arguments):
            schemas |= launcher_schemas()
        refuse_wrong_types(arguments, schemas, groups)
    else:  # another primary config (-cp, -cn) or a hydra.searchpath: Hydra's settings only
        refuse_wrong_types(arguments, hydra_schemas(), [])
    register_configs()
    refuse_null_package(sys.argv[1:], "lossbench-train", config_dir(), added)  # --cfg job -p setup
    refuse_missing_groups(sys.argv[1:], config_dir(), "lossbench-train")  # -cp own -cn solo
    quiet_lightning()
    quiet_optuna_trial_failures()

    given_sweep_dir = any(a.lstrip("+~").split("=", 1)[0] == "hydra.sweep.dir" for a in arguments)
    from lossbench.interrupts import STUDY_FOLDER

    STUDY_FOLDER.clear()  # this command's study, once it starts (tests call main() again)

    def refusal(error: BaseException) -> str | None:
        """A key of another option that the checks above could not tell (Hydra finds it), a key
        of an option's schema removed (``~optimizer.lr``), an option of a group Hydra brings
        (hydra/launcher=...) that it lacks, a sweep Hydra cannot run as given (no -m, an
        interval for a grid sweeper), or the config Hydra was pointed at (-cp, -cn) or one of
        its settings (:func:`hydra_error_refusal`); and a
        refusal of lossbench's own raised while Hydra sweeps or launches (the vectorized
        launcher's check of the jobs: ``-m 'seed=${nosuch},1'``)."""
        if isinstance(error, UserInputError):
            return str(error)
        if no_trial_completed(error):  # refused where each trial was (else exits 1 here)
            return search_without_result(given_sweep_dir)
        groups = [path.name for path in config_dir().iterdir() if path.is_dir()]
        options = group_options([config_dir(), *(added or [])])
        primary = "train.yaml" if added is not None else "the primary config"
        other_primary = parsed is not None and parsed.config_path is not None
        return (
            # -cp: the configs its folder's files name are looked for there only
            (
                hydra_error_refusal(error, sys.argv[1:], "lossbench-train", config_dir())
                if other_primary
                else None
            )
            or config_file_refusal(error, [config_dir(), *(added or [])])
            or composition_refusal(error, overrides, multirun=multirun)
            or added_group_refusal(error, overrides, options, primary)
            or removed_key_refusal(error, options)
            or removed_null_refusal(
                error, overrides, config_dir() if added == [] else None, multirun=multirun
            )
            or missing_option_refusal(error, overrides)
            or sweep_refusal(error, overrides, groups=groups)
            or ray_connection_refusal(error, overrides, checked_address())
            or null_params_refusal(error, overrides)
            or added_key_refusal(error, overrides)  # +loss.gamma=2 where loss=focal has it
            or hydra_error_refusal(error, sys.argv[1:], "lossbench-train", config_dir())
        )

    # --cfg hydra (all) --resolve: Hydra's node may interpolate the job's keys (paths.output_dir)
    resolving = parsed is not None and parsed.cfg in ("hydra", "all") and parsed.resolve
    try:
        with (
            translating_errors(refusal),
            callbacks_checked(check_hydra_callbacks),  # +hydra.callbacks.x._targt_=...
            hydra_node_resolved_in_full(active=resolving),
            shown_config_checked(shown_config_check(parsed, "lossbench-train")),  # before it
            completion_offers_only(is_completed_group),  # no schema/ (the ConfigStore's)
        ):
            _hydra_main()
        _end_sweep(given_sweep_dir)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (lossbench.commands.train)
        from lossbench.interrupts import stopped
        from lossbench.progress import halt_watches

        halt_watches()  # a study's progress line, before the command's last line
        stopped(interrupt)
    except WorkerDied as died:  # the out-of-memory killer's SIGKILL to a worker, say
        from lossbench.progress import halt_watches

        halt_watches()
        print(f"lossbench: failed: {died}", file=sys.stderr, flush=True)
        sys.exit(WORKER_DIED_EXIT)


def _end_sweep(given_sweep_dir: bool) -> None:
    """After Hydra's run: exit 2 for a sweep none of whose jobs ran (each directory held
    another run) or all of whose jobs were refused, 1 for one none of whose jobs completed."""
    from lossbench.progress import ALL_REFUSED, NOT_RUN, all_refused_message, not_run_message

    not_run = dict(NOT_RUN)
    NOT_RUN.clear()  # this command's sweep only (tests call main() again in one process)
    for sweep_dir, count in not_run.items():
        message = not_run_message(sweep_dir, count, sweep_dir_given=given_sweep_dir)
        print(f"lossbench: refused: {message}", file=sys.stderr)
        sys.exit(2)
    all_refused = dict(ALL_REFUSED)
    ALL_REFUSED.clear()
    for sweep_dir, (count, since) in all_refused.items():
        message = all_refused_message(sweep_dir, count, since)
        print(f"lossbench: refused: {message}", file=sys.stderr)
        sys.exit(2)
    _fail_without_a_completed_job()


def _fail_without_a_completed_job() -> None:
    """Exit 1 with ``lossbench: failed:`` after a sweep none of whose jobs completed (each
    failed, or failed and refused): there is nothing to report, and ``make compare`` stops on
    the exit status (:data:`lossbench.progress.NONE_COMPLETED`). A sweep with one completed job
    or more exits 0, its failed jobs recorded."""
    from lossbench.progress import NONE_COMPLETED, none_completed_message

    none_completed = dict(NONE_COMPLETED)
    NONE_COMPLETED.clear()  # this command's sweep only (tests call main() again in one process)
    for sweep_dir, (counts, since) in none_completed.items():
        message = none_completed_message(sweep_dir, counts, since)
        print(f"lossbench: failed: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # python -m lossbench.train: the same command as lossbench-train
    from lossbench.commands import train

    sys.exit(train())
