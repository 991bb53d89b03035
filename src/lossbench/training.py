"""One training run from a composed config: data, Trainer, runner, fit, final evaluation, record.

    >>> record = train(cfg, "outputs/runs/my_run")  # doctest: +SKIP
    >>> record["status"], record["test/accuracy"]  # doctest: +SKIP
    ('completed', 0.97)

The command line (:mod:`lossbench.train`, ``lossbench-train``) composes the config with Hydra,
checks it before any work (:func:`lossbench.train.preflight`) and calls :func:`train`. Read top
to bottom: :func:`train` validates and records; :func:`fit_and_evaluate` seeds, loads the data,
builds the Trainer (:func:`build_run_trainer`), chooses the runner
(:func:`lossbench.runners.select_runner`), builds the module, fits it and evaluates the best
checkpoint on ``val`` and ``test``.
"""

from __future__ import annotations

import logging
import pickle
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping, ModelSummary, ProgressBar
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from lossbench.aside_names import Moved
from lossbench.budget import check_run_budget, epoch_batches
from lossbench.callbacks import stopped_early
from lossbench.checkpoint import (
    CheckpointError,
    check_resume,
    load_checkpoint,
    resume_path,
    unsupported_global,
    within_epoch_note,
)
from lossbench.checkpoint_format import EPOCH_KEY, history, run_config_text
from lossbench.checkpoint_io import write_in_background
from lossbench.data.csv_loader import DataError
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.distributed import check_evaluation_shares, finish_run, prepare
from lossbench.ended_runs import finishes_unrecorded_run
from lossbench.errors import NonFiniteLossError, UserInputError
from lossbench.hardware import trainer_settings_error
from lossbench.instantiators import (
    STATE_RULE,
    build_callbacks,
    build_loggers,
    check_logger_folders,
    checkpoint_dirpaths,
    checkpoint_entries,
    entries,
    unloadable_state,
)
from lossbench.interrupts import fit_interrupts
from lossbench.later_checkpoints import set_aside_later_epochs
from lossbench.lightning_internals import epochs_processed, open_wandb_run
from lossbench.loggers import continue_logs, log_final_metrics
from lossbench.messages import quiet_lightning
from lossbench.module import ClassifierModule, resolved_loss
from lossbench.output_files import resumed_run_dir
from lossbench.precision import normalize_precision
from lossbench.record import (
    DEBUG_SETTINGS,
    RECORD_NAME,
    debug_settings,
    environment,
    load_record,
    read_run_config,
    refuse_completed,
    refuse_replaced_files,
    set_aside_earlier_attempt,
)
from lossbench.run_identity import set_aside_for_raised_cap
from lossbench.runners import select_runner
from lossbench.starting_record import base_record
from lossbench.still_improving import StillImprovingWarning, still_improving_message
from lossbench.validation import ConfigError, validate

__all__ = [
    "NULL_IS_A_SETTING",
    "build_run_trainer",
    "build_trainer",
    "check_trainer_settings",
    "close_loggers",
    "fit_and_evaluate",
    "resolved_loss",
    "resumed_run_config",
    "stopped_by",
    "train",
]

log = logging.getLogger("lossbench")


def train(cfg: DictConfig, output_dir: str | Path, *, multirun: bool = False) -> dict[str, Any]:
    """Validate, train and evaluate ``cfg``; write and return the run record.

    Refused configs and failed runs are recorded with ``status: failed`` and a one-line
    ``error``. In a single run (``multirun=False``) they are re-raised after recording.
    """
    output_dir = Path(output_dir)
    if "paths" in cfg:  # where the callbacks and loggers write (${paths.run_dir})
        cfg.paths.run_dir = str(output_dir)
    # A sweep keeps a run that diverged as its result, unless this job continues it (ckpt_path).
    # read as the record reads values: one that cannot be resolved is refused by validate()
    ckpt_path = OmegaConf.select(cfg, "ckpt_path", default=None, throw_on_resolution_failure=False)
    if multirun and ckpt_path is None:  # a sweep run again with a higher trainer.max_epochs
        set_aside_for_raised_cap(output_dir, cfg)
    refuse_completed(output_dir, kept_failures=multirun and ckpt_path is None, sweep=multirun)
    if multirun:  # a single run's preflight checked, before Hydra wrote its files there
        refuse_replaced_files(cfg, output_dir, hydra_files=False)
    if ckpt_path is None:  # a single run with checkpoints was refused (train.preflight)
        _set_aside_earlier_attempt(cfg, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    task = None
    record = base_record(cfg, task)
    record["environment"] = environment()
    try:
        task = validate(cfg)
        record["task"] = task
        check_logger_folders(cfg, output_dir)  # a single run's preflight checked them
        earlier = resumed_run_config(cfg, output_dir)  # read before config.yaml is replaced
        if ckpt_path is None:  # a resume replaces it once its checkpoint is accepted
            OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)
        fit_and_evaluate(
            cfg,
            output_dir,
            interactive=not multirun,
            record=record,
            earlier_config=earlier,
            write_config=ckpt_path is not None,
        )
        record["status"] = "completed"
    except Exception as error:  # recorded, then re-raised or swallowed (multirun)
        known = isinstance(error, UserInputError | NonFiniteLossError)
        record["error"] = str(error) if known else f"{type(error).__name__}: {error}"
        record["refused"] = isinstance(error, UserInputError)  # the input cannot work
        finish_run(output_dir, record)  # metrics.json on global rank 0 only; ends DDP children
        outcome = "refused" if record["refused"] else "run failed"
        log.error("%s: %s (%s)", outcome, record["error"], output_dir / "metrics.json")
        if not multirun:
            raise
        return record
    path = finish_run(output_dir, record)
    log.info(finished_line(cfg, record, path))
    if not multirun and rank_zero_only.rank == 0:  # a sweep's report counts such runs
        improving = still_improving_message(cfg, record)
        if improving is not None:
            improving += within_epoch_note(output_dir / "checkpoints" / "last.ckpt")
            warnings.warn(improving, StillImprovingWarning, stacklevel=2)
    return record


def finished_line(cfg: DictConfig, record: dict[str, Any], path: Path) -> str:
    """The log line of a completed run; a debug run's says that it is no result.

    >>> cfg = OmegaConf.create({"optimized_metric": "val/accuracy"})
    >>> finished_line(cfg, {"test/accuracy": 0.6, "debug_run": None}, Path("r/metrics.json"))
    'completed: test/accuracy = 0.6000; record: r/metrics.json'
    >>> debug = {"test/accuracy": 0.6, "debug_run": "trainer.fast_dev_run=true"}
    >>> finished_line(cfg, debug, Path("r/metrics.json"))  # doctest: +NORMALIZE_WHITESPACE
    'debug run (trainer.fast_dev_run=true) finished: test/accuracy = 0.6000, record:
     r/metrics.json; lossbench-report leaves it out'
    """
    summary = completed_summary(cfg, record)
    if record.get("debug_run"):
        return (
            f"debug run ({record['debug_run']}) finished: {summary}, record: {path}; "
            "lossbench-report leaves it out"
        )
    return f"completed: {summary}; record: {path}"


def completed_summary(cfg: DictConfig, record: dict[str, Any]) -> str:
    """What the log line of a completed run shows: the optimized metric on the test split and
    the test accuracy (once, when the optimized metric is the accuracy).

        >>> cfg = OmegaConf.create({"optimized_metric": "val/accuracy"})
        >>> completed_summary(cfg, {"test/accuracy": 0.6})
        'test/accuracy = 0.6000'
    """
    keys = dict.fromkeys([cfg.optimized_metric.replace("val/", "test/"), "test/accuracy"])
    return ", ".join(f"{key} = {record.get(key, float('nan')):.4f}" for key in keys)


def run_resume_path(cfg: DictConfig, output_dir: str | Path) -> Path | None:
    """The checkpoint that ``cfg.ckpt_path`` resumes for a run in ``output_dir``
    (:func:`~lossbench.checkpoint.resume_path`): ``last`` is the last checkpoint of lossbench's
    own ``checkpoints/`` or of a checkpoint callback's ``dirpath`` among ``cfg.callbacks``
    (:func:`~lossbench.instantiators.checkpoint_dirpaths`).

    Raises:
        CheckpointError: as :func:`~lossbench.checkpoint.resume_path`.
    """
    ckpt_path = cfg.get("ckpt_path")
    dirpaths = checkpoint_dirpaths(cfg, output_dir) if ckpt_path == "last" else None
    return resume_path(ckpt_path, output_dir, dirpaths)


def resumed_run_config(cfg: DictConfig, output_dir: Path) -> Any:
    """The ``config.yaml`` of the run whose checkpoint ``ckpt_path`` names (None: no
    ``ckpt_path``, or no such file), read before this run replaces its own: resuming in the same
    directory checks against the interrupted run's config
    (:func:`~lossbench.checkpoint.check_resume`). A damaged ``config.yaml`` is refused
    (:class:`~lossbench.record.DamagedRunError`), as is a checkpoint a debug run wrote, resumed
    by an ordinary run.

        >>> from omegaconf import OmegaConf
        >>> resumed_run_config(OmegaConf.create({"ckpt_path": None}), Path("runs/r")) is None
        True
    """
    if cfg.get("ckpt_path") is None:
        return None
    try:
        resume = run_resume_path(cfg, output_dir)
    except CheckpointError:  # refused by the resume check, with its message
        return None
    saved = None if resume is None else resumed_run_dir(resume) / "config.yaml"
    if saved is None or not saved.is_file():
        return None
    earlier = read_run_config(saved)  # DamagedRunError where it cannot be read
    _refuse_debug_checkpoint(cfg, resume, saved, earlier)
    return earlier


def _refuse_debug_checkpoint(cfg: DictConfig, resume: Path, saved: Path, earlier: Any) -> None:
    """Refuse to resume an ordinary run from a checkpoint a debug run wrote (its ``config.yaml``
    has debug settings, and the checkpoint is no older than that file): its epochs trained on
    part of the data, so the run's record would be no result, though it would not say so. A
    checkpoint older than the debug run's config (``debug=fdr``, which writes none, tried on an
    interrupted run) is the interrupted run's own, and resumes."""
    trainer = earlier.get("trainer") if isinstance(earlier, dict) else None
    debug = debug_settings(trainer) if isinstance(trainer, dict) else None
    if debug is None or debug_settings(cfg.get("trainer")) is not None:
        return
    if resume.stat().st_mtime < saved.stat().st_mtime:
        return
    if _recorded_as_ordinary(saved):  # its number of training batches left none out
        return
    raise ConfigError(
        f"ckpt_path={str(cfg.ckpt_path)!r} resumes {resume}, which a debug run wrote ({debug}; "
        f"{saved}): its epochs trained on part of the data, so a run continued from it would be "
        "no result either. Train the run afresh in a new directory (another hydra.run.dir), "
        "or give the same debug settings to continue it as a debug run."
    )


def _recorded_as_ordinary(saved: Path) -> bool:
    """Whether the run whose ``config.yaml`` is ``saved`` recorded, after writing it, that it
    was no debug run: its config's settings alone cannot tell, where a number of training
    batches (``trainer.limit_train_batches=100``) was no smaller than its epoch's
    (:func:`~lossbench.record.debug_settings`)."""
    path = saved.parent / RECORD_NAME
    try:
        if path.stat().st_mtime < saved.stat().st_mtime:
            return False
    except OSError:
        return False
    record, _ = load_record(path)
    return isinstance(record, dict) and "debug_run" in record and record["debug_run"] is None


def _set_aside_earlier_attempt(cfg: DictConfig, output_dir: Path) -> None:
    """A run trains again from scratch: the checkpoints of its earlier attempt leave
    ``checkpoints/`` and the folders of its checkpoint callbacks inside the run's folder
    (``+callbacks.mc.dirpath=ckpts``: :func:`~lossbench.instantiators.checkpoint_dirpaths`)
    for ``<folder>-earlier/`` (a job of a sweep: a single run with checkpoints was refused),
    and its loggers' ``logs/`` and ``tensorboard/`` go to ``logs-earlier/`` and
    ``tensorboard-earlier/`` (a single run stopped before its first checkpoint too), and the
    record of an attempt that failed to ``metrics-earlier.json``; what an attempt before it
    left under those names moves on to ``<name>-v1/``, ``metrics-earlier-v1.json``, ...:
    :func:`~lossbench.record.set_aside_earlier_attempt`, whose line says where each went."""
    earlier = output_dir.is_dir() and next(output_dir.rglob("*.ckpt"), None) is not None
    # a fresh run's folder holds no checkpoint: its callbacks' folders are not read then
    folders = checkpoint_dirpaths(cfg, output_dir).values() if earlier else ()
    said = set_aside_earlier_attempt(output_dir, folders)
    if said is not None:
        log.info(said)


def _set_aside_later_epochs(
    cfg: DictConfig, output_dir: Path, resume: Path, epoch: int
) -> list[Moved]:
    """A run resumed from ``resume``, a checkpoint of ``epoch`` in its own folder: the
    checkpoints of later epochs leave ``checkpoints/`` (its best files and its ``last.ckpt``)
    and the folders of its checkpoint callbacks inside the run's folder, since it trains those
    epochs again, all under one ``-vN`` where any name is taken
    (:func:`~lossbench.later_checkpoints.set_aside_later_epochs`). Nothing moves for a
    checkpoint of another folder (a new run trained on from another's), nor in a folder outside
    the run's; return where each file that moved was and where it went."""
    if not resume.resolve().is_relative_to(output_dir.resolve()):
        return []
    folders = checkpoint_dirpaths(cfg, output_dir).values()
    return set_aside_later_epochs(output_dir, folders, epoch, resume)


def fit_and_evaluate(
    cfg: DictConfig,
    output_dir: Path,
    *,
    interactive: bool,
    record: dict[str, Any],
    earlier_config: Any = None,
    write_config: bool = False,
) -> None:
    """Seed, load the data, fit with the chosen runner and evaluate; fills ``record``.
    ``earlier_config``: the config of the run a ``ckpt_path`` resumes, when known;
    ``write_config``: write ``config.yaml`` once the checkpoint is accepted (a refused resume
    leaves the run's own in place, so the same command is refused again)."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    try:  # data that cannot be trained on (missing values, a missing package) is refused
        datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    except DataError as error:
        raise ConfigError(str(error)) from None
    if datamodule.delimiter is not None:
        how = "given by data.delimiter" if cfg.data.get("delimiter") else "detected"
        log.info(
            "data: %s, %d rows, delimiter %r (%s)",
            cfg.data.path,
            sum(datamodule.sizes().values()),
            datamodule.delimiter,
            how,
        )
    try:
        loss = resolved_loss(cfg, datamodule)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    trainer = build_run_trainer(cfg, output_dir, interactive)
    # now that the epoch's batches are known: a limit no smaller than them makes no debug run
    train_batches = epoch_batches(cfg, datamodule.sizes()["train"], trainer.world_size)
    record["debug_run"] = debug_settings(cfg.trainer, train_batches)
    try:
        check_evaluation_shares(cfg, datamodule.sizes(), trainer.world_size, datamodule.task)
        check_run_budget(cfg, datamodule.sizes()["train"], trainer.world_size)
        _fit(cfg, trainer, datamodule, loss, output_dir, record, earlier_config, write_config)
    finally:
        close_loggers(trainer)


def _fit(
    cfg: DictConfig,
    trainer: L.Trainer,
    datamodule: ClassificationDataModule,
    loss: dict[str, Any],
    output_dir: Path,
    record: dict[str, Any],
    earlier_config: Any = None,
    write_config: bool = False,
) -> None:
    runner = select_runner(cfg, trainer)
    module = runner.build(cfg, datamodule, loss)
    plain = OmegaConf.to_container(cfg, resolve=True)
    module.run_config_text = run_config_text(plain)
    # --- resume (ckpt_path=last | <file>): the same model, loss, optimizer and data ---
    trained_before = 0  # the epochs the checkpoint resumed has trained
    try:
        resume = run_resume_path(cfg, output_dir)
        if resume is not None:
            checkpoint = load_checkpoint(resume)
            # a run that had ended, stopped before its record: finished, no epoch trained
            ended = finishes_unrecorded_run(cfg, checkpoint, resume, output_dir)
            # without earlier_config no config.yaml was beside it: the checkpoint's own config
            # (RUN_CONFIG_KEY) is compared, where it holds one
            check_resume(
                checkpoint,
                resume,
                module.hparams,
                module.preprocessing,
                config=plain,
                saved=earlier_config,
                train_rows=datamodule.sizes()["train"],
                world_size=trainer.world_size,
                ended=ended is not None,
            )
            epoch = int(checkpoint.get("epoch", -1))
            global_step = int(checkpoint.get("global_step", 0))
            trained_before = epochs_processed(checkpoint)
            if rank_zero_only.rank == 0:
                _log_finished_run(ended, trained_before, global_step)
            # metrics.csv keeps the epochs the checkpoint has trained (from the run that wrote
            # it: a run trained on in a new directory starts with that run's rows); TensorBoard
            # hides what was logged after it; a missing training row of its last epoch is
            # logged to every logger at Lightning's step for it (one less)
            continue_logs(
                trainer.loggers,
                epoch,
                global_step,
                history(checkpoint),
                output_dir,
                resumed_run_dir(resume),
            )
            if rank_zero_only.rank == 0:  # the resumed run writes those epochs again
                for moved in _set_aside_later_epochs(cfg, output_dir, resume, epoch):
                    log.info(
                        "%s holds an epoch after the one resumed (%d), written before the run "
                        "stopped: moved to %s",
                        moved.source,
                        epoch,
                        moved.target,
                    )
            del checkpoint  # Lightning loads it again to restore the state
    except CheckpointError as error:
        raise ConfigError(str(error)) from None
    if write_config and rank_zero_only.rank == 0:
        OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)
    record.update(runner.loops(trainer, module))
    record.update(n_outputs=datamodule.n_outputs, sizes=datamodule.sizes(), loss_params=loss)
    record.update(unscored_classes=datamodule.unscored_classes())
    if rank_zero_only.rank == 0:  # under DDP every process has them: one warning, not one each
        datamodule.warn_unscored(record["unscored_classes"])
        datamodule.warn_columns()
    # absolute: a relative ckpt_path is relative to where the command ran, which the record lacks
    record.update(resumed_from=None if resume is None else str(Path(resume).absolute()))
    module.build_fit_metrics()  # with the model, as a hand-written loop builds them
    folder = None  # where a resumed fit's checkpoint callback writes (read only to resume)
    if resume is not None and (entry := checkpoint_entries(cfg)[:1]):
        folder = checkpoint_dirpaths(cfg, output_dir).get(entry[0])
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        with fit_interrupts(trainer), unfounded_fit_warnings(trainer, resume, folder):
            runner.fit(trainer, module, datamodule, ckpt_path=resume)
    finally:
        record.update(
            train_seconds=round(time.perf_counter() - start, 4),
            train_cpu_seconds=round(time.process_time() - cpu_start, 4),
            epochs=max(trainer.current_epoch, trained_before),
            steps=trainer.global_step,
            history=module.history,
        )
    for report in sorted(output_dir.glob("*-profile*.txt")):  # debug=profiler
        log.info("profiler report: %s", report)
    callback = trainer.checkpoint_callback  # None with callbacks=none: the final weights
    best = getattr(callback, "best_model_path", None) or None
    in_memory = getattr(callback, "best_state_dict", None)  # checkpoint.write=never
    if in_memory is not None:  # every rank holds the same weights
        module.load_state_dict(in_memory)
    values: dict[str, float] = {}
    if trainer.world_size == 1:
        with _reading_best(cfg, trainer, best):
            values = _evaluate_best(trainer, module, datamodule, best)
    else:  # each rank evaluates its share of the samples; Lightning's loops gather them
        # the loggers get the gathered values once, as one process's run logs them (the best
        # epoch's val/ under best/): Lightning's loops would log val/ as one more epoch
        loggers, trainer.loggers = trainer.loggers, []
        # and no progress bars of their own, as one process's final evaluation shows none
        bar = trainer.progress_bar_callback
        shown = bar is not None and not bar.is_disabled
        if shown:
            bar.disable()
        try:
            for stage in ("validate", "test"):
                # stopped there: Ctrl-C or SIGTERM, not exit 1
                with fit_interrupts(trainer), _reading_best(cfg, trainer, best):
                    results = getattr(trainer, stage)(
                        module,
                        datamodule=datamodule,
                        ckpt_path=best,
                        verbose=False,
                        weights_only=True,
                    )
                values.update({k: float(v) for k, v in results[0].items()})
        finally:
            trainer.loggers = loggers
            if shown:
                bar.enable()
        hparams = logged_hparams(module, datamodule)
        log_final_metrics(loggers, values, trainer.global_step, hparams)
    best_epoch = callback.best_epoch if in_memory is not None else _best_epoch(best)
    record.update(values)
    record.update(best_checkpoint=best, best_epoch=best_epoch, test_reliability=module.reliability)
    train_batches = epoch_batches(cfg, datamodule.sizes()["train"], trainer.world_size)
    record.update(stopped_by=stopped_by(trainer, train_batches))


def _log_finished_run(ended: str | None, trained_before: int, global_step: int) -> None:
    """Say, in the run's log, that the resume finishes a run that had ended (``ended``:
    :func:`lossbench.ended_runs.finishes_unrecorded_run`) and trains nothing more. Early stopping
    says so itself, as the fit starts (:func:`lossbench.callbacks.stop_if_stopped_before`)."""
    if ended is None or ended == "early stopping":
        return
    if ended.startswith("trainer.max_epochs="):
        done = f"trained all {trained_before} epochs (trainer.max_epochs)"
    elif ended.startswith("trainer.max_steps="):
        done = f"trained all {global_step} optimizer steps ({ended})"
    else:
        done = f"used up its training time ({ended}) after {trained_before} epoch(s)"
    log.info(  # a run stopped before its record (lossbench.train.check_left_to_train)
        "the checkpoint's run %s and has no record: no further epoch is trained; its best "
        "checkpoint is evaluated and the run recorded",
        done,
    )


@contextmanager
def unfounded_fit_warnings(
    trainer: L.Trainer, resume: Path | None, folder: Path | None = None
) -> Iterator[None]:
    """Around ``trainer.fit``: silence Lightning's warnings that do not hold for this fit.

    - "Checkpoint directory ... exists and is not empty", where the fit resumes from a
      checkpoint in that very directory (``ckpt_path=last`` in the run's own directory): those
      files are the run it continues. Elsewhere (a ``dirpath`` that holds other files) it stays.
      ``folder``: the checkpoint callback's, where it has no ``dirpath`` (Lightning sets it as
      the fit starts: its logger's folder, :func:`~lossbench.instantiators.checkpoint_dirpaths`).
    - "You requested to overfit but enabled ... dataloader shuffling" (train and val), with
      ``trainer.overfit_batches``: lossbench's loaders are no ``SequentialSampler``, which is all
      Lightning checks, but they do not shuffle while overfitting (the data module reads
      ``trainer.overfit_batches``), and validation and test never do.
    """
    with warnings.catch_warnings():
        dirpath = getattr(trainer.checkpoint_callback, "dirpath", None) or folder
        if resume is not None and dirpath and Path(dirpath).resolve() == resume.parent.resolve():
            warnings.filterwarnings(
                "ignore", message="Checkpoint directory .* exists and is not empty"
            )
        if trainer.overfit_batches:
            warnings.filterwarnings("ignore", message="You requested to overfit but enabled")
        yield


# ------------------------------------------------------------------------------ the Trainer


#: ``trainer.*`` keys whose null Lightning reads as a setting of its own, not as its default:
#: ``check_val_every_n_epoch=None`` validates every ``val_check_interval`` batches counted
#: across epochs (its default is 1; lossbench's schema says 1 as well).
NULL_IS_A_SETTING = ("check_val_every_n_epoch",)


def trainer_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The ``trainer.*`` settings that are set: a null means Lightning's default (every key of
    the schema is there, most of them null), except in :data:`NULL_IS_A_SETTING`.

        >>> trainer_kwargs(OmegaConf.create({"trainer": {"max_steps": None, "max_epochs": 3}}))
        {'max_epochs': 3}
        >>> trainer_kwargs(OmegaConf.create({"trainer": {"check_val_every_n_epoch": None}}))
        {'check_val_every_n_epoch': None}
    """
    settings: dict[str, Any] = OmegaConf.to_container(cfg.trainer, resolve=True)  # type: ignore[assignment]
    return {k: v for k, v in settings.items() if v is not None or k in NULL_IS_A_SETTING}


def build_trainer(**kwargs: Any) -> L.Trainer:
    """``L.Trainer(**kwargs)``; the errors Lightning raises for the user's ``trainer.*``
    settings (an accelerator, strategy or precision it cannot start) become a refusal.

    A historical precision name (``16``, ``bf16``, ``32``, ``64``) reaches Lightning as its
    modern name (:func:`lossbench.precision.normalize_precision`), which trains the same, so
    Lightning does not warn that the short name is discouraged; the run's config keeps the
    name the user gave."""
    if kwargs.get("precision") is not None:
        kwargs["precision"] = normalize_precision(kwargs["precision"])
    try:
        return L.Trainer(**kwargs)
    except (MisconfigurationException, ValueError, ModuleNotFoundError) as error:
        raise trainer_settings_error(error) from None


#: ``trainer.*`` settings the preflight Trainer leaves out: what the run builds itself (the
#: profiler, plugins, loggers, callbacks and their switches, the root directory).
_BUILT_BY_THE_RUN = (
    "profiler",
    "plugins",
    "logger",
    "callbacks",
    "default_root_dir",
    "enable_checkpointing",
    "enable_progress_bar",
    "enable_model_summary",
)


def check_trainer_settings(cfg: DictConfig) -> L.Trainer:
    """Build a Trainer from the ``trainer.*`` settings (the hardware, and every other value
    Lightning checks when it is built: about 40 ms, nothing written, its start-up messages
    silenced), so that Lightning refuses them before the run starts."""
    settings = {k: v for k, v in trainer_kwargs(cfg).items() if k not in _BUILT_BY_THE_RUN}
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        return build_trainer(
            **settings,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    finally:
        lightning_log.setLevel(level)


def named_profiler(name: str, output_dir: Path) -> Any:
    """Lightning's profiler of ``trainer.profiler=<name>`` (``simple``, ``advanced``,
    ``pytorch``), writing its report to ``<output_dir>/fit-profile.txt`` as ``debug=profiler``
    does: Lightning would log it to its logger, which lossbench keeps quiet. Another name is
    Lightning's to take (or refuse).

        >>> named_profiler("simple", Path("run")).filename
        'profile'
    """
    from lightning.pytorch import profilers

    classes = {
        "simple": profilers.SimpleProfiler,
        "advanced": profilers.AdvancedProfiler,
        "pytorch": profilers.PyTorchProfiler,
    }
    if name.lower() not in classes:
        return name
    return classes[name.lower()](dirpath=str(output_dir), filename="profile")


def build_run_trainer(cfg: DictConfig, output_dir: Path, interactive: bool) -> L.Trainer:
    """The ``lightning.Trainer`` of ``cfg.trainer``, with the callbacks and loggers of the
    ``callbacks`` and ``logger`` groups (:mod:`lossbench.instantiators`)."""
    quiet_lightning()  # again: joblib's worker processes never run main()
    kwargs = trainer_kwargs(cfg)
    if isinstance(kwargs.get("profiler"), dict):  # trainer.profiler._target_=...
        kwargs["profiler"] = instantiate(kwargs["profiler"])
    elif isinstance(kwargs.get("profiler"), str):  # trainer.profiler=simple: its report in a file
        kwargs["profiler"] = named_profiler(kwargs["profiler"], output_dir)
    progress_bar = kwargs.get("enable_progress_bar", interactive)
    model_summary = kwargs.get("enable_model_summary", interactive)
    callbacks = build_callbacks(cfg, progress_bar=progress_bar, model_summary=model_summary)
    # The callbacks group decides: Lightning adds no progress bar, summary or checkpoint of its own.
    kwargs.setdefault("enable_progress_bar", any(isinstance(c, ProgressBar) for c in callbacks))
    kwargs.setdefault("enable_model_summary", any(isinstance(c, ModelSummary) for c in callbacks))
    kwargs.setdefault("enable_checkpointing", any(isinstance(c, Checkpoint) for c in callbacks))
    trainer = build_trainer(
        **kwargs,
        default_root_dir=output_dir,
        logger=build_loggers(cfg) or False,
        callbacks=callbacks,
    )
    prepare(trainer, cfg, output_dir)  # DDP children join this run directory; threads fit cores
    write_in_background(trainer)  # checkpoint files written off the training thread
    return trainer


# ------------------------------------------------------------------------------ after the fit


def stopped_by(trainer: L.Trainer, train_batches: int | None = None) -> str:
    """How a fit that completed ended: ``early_stopping`` when an ``EarlyStopping`` callback
    stopped it (the monitored metric stopped improving); ``debug_run`` when Lightning's debug
    settings (``fast_dev_run``, ``overfit_batches``, ``limit_*_batches``) limited it (a limit
    no smaller than the ``train_batches`` of an epoch limits nothing); else
    ``budget``: it ran until the trainer's cap (``max_epochs``, ``max_steps``, ``max_time``)
    while still improving, or with no early stopping to say otherwise (a stop that
    ``trainer.min_epochs`` or ``min_steps`` overrode is none:
    :func:`lossbench.callbacks.drop_overridden_stop`). A run that failed or was refused records
    ``failed``."""
    stopped = any(isinstance(c, EarlyStopping) and stopped_early(c) for c in trainer.callbacks)
    if stopped:
        return "early_stopping"
    debug = {key: getattr(trainer, key) for key in DEBUG_SETTINGS}
    return "debug_run" if debug_settings(debug, train_batches) else "budget"


def close_loggers(trainer: L.Trainer) -> None:
    """End the loggers' runs that outlive ``Trainer.fit``: a W&B run stays open until
    ``wandb.finish()`` (the next run of a multirun in this process would continue it)."""
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger" and open_wandb_run(logger):
            logger.experiment.finish()


def _evaluate_best(
    trainer: L.Trainer,
    module: ClassifierModule,
    datamodule: ClassificationDataModule,
    best: str | None,
) -> dict[str, float]:
    """``val/*`` and ``test/*`` of the best checkpoint's weights, computed in this process: what
    ``trainer.validate`` and ``trainer.test`` with ``ckpt_path=best`` compute (the eval tests
    compare them exactly), without two more Trainer runs (~30 ms a run). The loggers get them
    at the last global step, the validation metrics as ``best/val/...``
    (:func:`~lossbench.metric_names.best_logged`)."""
    device = trainer.strategy.root_device
    if best is not None:  # refused where it holds what weights_only=True cannot load
        module.load_state_dict(load_checkpoint(best, map_location=device)["state_dict"])
    module.to(device).eval()
    plugin = trainer.precision_plugin
    results: dict[str, float] = {}
    for stage in ("val", "test"):
        split = plugin.convert_input(tuple(t.to(device) for t in datamodule.tensors[stage]))
        with plugin.forward_context():  # autocast under mixed precision, as Lightning's loops
            results |= module.evaluate_split(split, stage)
    hparams = logged_hparams(module, datamodule)
    log_final_metrics(trainer.loggers, results, trainer.global_step, hparams)
    return results


@contextmanager
def _reading_best(cfg: DictConfig, trainer: L.Trainer, best: str | None) -> Iterator[None]:
    """Around reading the best checkpoint ``best`` once the fit has ended: a checkpoint that
    holds an object ``torch.load(weights_only=True)`` refuses (a callback's state that turned
    into one during training; :func:`lossbench.instantiators.check_callback_state` refuses
    one that holds it before) becomes a :class:`~lossbench.checkpoint.CheckpointError` that
    names the callback, why and the fix (:func:`unreadable_best`): from
    :func:`~lossbench.checkpoint.load_checkpoint`, or from Lightning's own load under DDP."""
    try:
        yield
    except CheckpointError as error:
        if error.held is None:  # missing or truncated: its own message says so
            raise
        raise unreadable_best(cfg, trainer, best, error.held) from None
    except pickle.UnpicklingError as error:  # trainer.validate(ckpt_path=best, ...) under DDP
        held = unsupported_global(str(error)) or "an object"
        raise unreadable_best(cfg, trainer, best, held) from None


def unreadable_best(
    cfg: DictConfig, trainer: L.Trainer, best: str | None, held: str
) -> CheckpointError:
    """The refusal of a run whose best checkpoint ``best``, written during its training, holds
    ``held`` (an object's import path, or ``"an object"``), which checkpoints cannot load back:
    which callback's ``state_dict()`` holds it now (:func:`~lossbench.instantiators.
    unloadable_state`), why, the fix, and that what the run wrote stays."""
    culprits = []
    targets = {
        str(node.get("_target_")): name
        for name, node in entries(cfg.get("callbacks"))
        if isinstance(node, DictConfig)
    }
    for callback in trainer.callbacks:
        if unloadable_state(callback) is None:
            continue
        path = f"{type(callback).__module__}.{type(callback).__qualname__}"
        name = targets.get(path)
        culprits.append(f"callbacks.{name} ({path})" if name else path)
    source = (
        f"which {' and '.join(culprits)} put in its state_dict() during training"
        if culprits
        else "which a callback put in the checkpoint during training (from its state_dict() or "
        "on_save_checkpoint())"
    )
    holds = f"a {held!r} object" if held != "an object" else "an object that is not plain data"
    folder = Path(best).parent if best else "checkpoints/"
    return CheckpointError(
        f"the run trained, but its best checkpoint {best} cannot be read back to evaluate it: "
        f"it holds {holds}, {source}. {STATE_RULE}. Return tensors, numbers, strings and "
        "lists/dicts of them from state_dict() (e.g. the object's fields, rebuilt in "
        "load_state_dict()), then train the run again. What this run wrote stays: its "
        f"checkpoints in {folder}, the metrics of its epochs in metrics.json (history)."
    )


def logged_hparams(
    module: ClassifierModule, datamodule: ClassificationDataModule
) -> dict[str, Any]:
    """The hyper-parameters Lightning logs when a fit starts: the module's and the data
    module's (:func:`~lossbench.data.datamodule.data_hyperparameters`), merged."""
    return {**module.hparams_initial, **datamodule.hparams_initial}


def _best_epoch(path: str | None) -> int | None:
    """The epoch of the best checkpoint ``path``: its ``epoch`` entry, Lightning's
    ``trainer.current_epoch`` where it was saved, at the training epoch's end or at the
    validation's end alike (the epoch that validation scored; lossbench's ``best-epochNNN.ckpt``
    is named by the same counter). Read from the file, since a checkpoint callback of one's own
    names its files as it is told (Lightning's ``epoch=2-step=9.ckpt``, or without the epoch).
    lossbench's own name is taken as it is (no file read); a file that cannot be read falls back
    to the name's ``epochNNN``; None without either."""
    if not path:
        return None
    own = re.fullmatch(r"best-epoch(\d+)(-v\d+)?", Path(path).stem)
    if own:
        return int(own.group(1))
    try:
        epoch = load_checkpoint(path).get(EPOCH_KEY)
    except CheckpointError:
        epoch = None
    if isinstance(epoch, int):
        return epoch
    match = re.search(r"epoch[=_-]?(\d+)", Path(path).stem)
    return int(match.group(1)) if match else None
