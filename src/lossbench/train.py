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
"""

from __future__ import annotations

import logging
import re
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from lossbench.config import register_configs
from lossbench.errors import UserInputError, refuse
from lossbench.record import environment, read_record, refuse_completed
from lossbench.validation import ConfigError, validate

log = logging.getLogger("lossbench")


def config_dir() -> Path:
    """The configs shipped in the wheel, or the repository's ``configs/`` in a source checkout."""
    packaged = Path(__file__).parent / "configs"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "configs"


def _base_record(cfg: DictConfig, task: str | None) -> dict[str, Any]:
    return {
        "status": "failed",
        "error": None,
        "task": task,
        "data": cfg.data.name,
        "model": cfg.model.name,
        "head": cfg.head.name,
        "loss": cfg.loss.name,
        "setup": cfg.get("setup"),
        "seed": cfg.seed,
        "epochs": 0,
        "steps": 0,
        "train_seconds": 0.0,
        "stopped_by": "failed",
    }


def resolved_loss(cfg: DictConfig, datamodule: Any) -> dict[str, Any]:
    """The loss config with ``pos_weight=auto`` replaced by its numbers from the training split;
    building it once here checks ``weight`` / ``pos_weight`` lengths before training."""
    from lossbench.losses import auto_pos_weight, build_loss

    params: dict[str, Any] = OmegaConf.to_container(cfg.loss, resolve=True)  # type: ignore[assignment]
    if params.get("pos_weight") == "auto":
        params["pos_weight"] = auto_pos_weight(datamodule.train_targets).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the legacy warning is shown once, below
        build_loss(params["name"], params, task=datamodule.task, n_outputs=datamodule.n_outputs)
    return params


def _monitored(cfg: DictConfig, callbacks: list[Any], task: str) -> list[str]:
    """The metrics that the callbacks (and a plateau scheduler) read from
    ``trainer.callback_metrics``: the only ones the module logs through ``self.log``. A callback
    lossbench does not know might read any: then every train/ and val/ metric."""
    from lightning.pytorch.callbacks import (
        LearningRateMonitor,
        ModelSummary,
        ProgressBar,
        Timer,
    )

    from lossbench.schedulers import scheduler_monitor
    from lossbench.validation import METRICS

    keys = [cfg.optimized_metric]
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if isinstance(monitor, str):
            keys.append(monitor)
        # these read no metric from callback_metrics (progress bars show prog_bar ones: none)
        elif not isinstance(callback, ProgressBar | ModelSummary | LearningRateMonitor | Timer):
            keys += [f"{stage}/{metric}" for stage in ("train", "val") for metric in METRICS[task]]
    monitor = scheduler_monitor(cfg.scheduler, cfg.optimized_metric)
    if monitor is not None:
        keys.append(monitor)
    return list(dict.fromkeys(keys))


def _trainer_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The ``trainer.*`` settings that are set (null means Lightning's default)."""
    settings = OmegaConf.to_container(cfg.trainer, resolve=True)
    return {k: v for k, v in settings.items() if v is not None}  # type: ignore[union-attr]


def build_trainer(**kwargs: Any) -> Any:
    """``L.Trainer(**kwargs)``; the errors Lightning raises for the user's ``trainer.*``
    settings (an accelerator, strategy or precision it cannot start) become a refusal."""
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from lossbench.hardware import trainer_settings_error

    try:
        return L.Trainer(**kwargs)
    except (MisconfigurationException, ValueError, ModuleNotFoundError) as error:
        raise trainer_settings_error(error) from None


def check_trainer_settings(cfg: DictConfig) -> None:
    """Build a Trainer from the hardware settings alone (about 40 ms, nothing written, its
    start-up messages silenced), so that Lightning refuses them before the run starts."""
    from lossbench.hardware import HARDWARE_KEYS

    hardware = {k: v for k, v in _trainer_kwargs(cfg).items() if k in HARDWARE_KEYS}
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        build_trainer(
            **hardware,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    finally:
        lightning_log.setLevel(level)


def _trainer(cfg: DictConfig, output_dir: Path, interactive: bool) -> Any:
    """The ``lightning.Trainer`` of ``cfg.trainer``, with the callbacks and loggers of the
    ``callbacks`` and ``logger`` groups (:mod:`lossbench.instantiators`)."""
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import Checkpoint, ModelSummary, ProgressBar

    from lossbench.instantiators import build_callbacks, build_loggers

    quiet_lightning()  # again: joblib's worker processes never run main()
    kwargs = _trainer_kwargs(cfg)
    if isinstance(kwargs.get("profiler"), dict):  # trainer.profiler._target_=...
        kwargs["profiler"] = instantiate(kwargs["profiler"])
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
    from lossbench.distributed import prepare

    prepare(trainer, cfg, output_dir)  # DDP children join this run directory; threads fit cores
    return trainer


def _use_epoch_loop(cfg: DictConfig, trainer: Any) -> bool:
    """Whether one Lightning step can run a whole epoch of minibatches (``training_loop=epoch``).

    Not for L-BFGS (it needs Lightning's closure), DDP (one backward per forward of the
    wrapped model), ``trainer.gradient_clip_val`` (Lightning clips only automatic optimization),
    ``trainer.accumulate_grad_batches``, or what counts Lightning steps (``limit_train_batches``,
    ``overfit_batches``, ``fast_dev_run``): those take the per-minibatch loop, with identical
    results.
    """
    return (
        cfg.training_loop == "epoch"
        and cfg.optimizer.name != "lbfgs"
        and trainer.world_size == 1
        and cfg.trainer.gradient_clip_val is None
        and cfg.trainer.limit_train_batches is None
        and trainer.accumulate_grad_batches == 1
        and not trainer.overfit_batches
        and not trainer.fast_dev_run
    )


def build_module(
    cfg: DictConfig,
    datamodule: Any,
    loss: Mapping[str, Any],
    *,
    epoch_loop: bool,
    callback_metrics: list[str] | None = None,
) -> Any:
    """The ``ClassifierModule`` that ``cfg`` trains on ``datamodule``; ``loss``: the loss
    parameters with ``pos_weight=auto`` resolved (:func:`resolved_loss`); ``callback_metrics``:
    what the callbacks read (:func:`_monitored`; default: the optimized metric).

        >>> module = build_module(cfg, datamodule, resolved_loss(cfg, datamodule),
        ...                       epoch_loop=True)  # doctest: +SKIP
    """
    from lossbench.module import ClassifierModule
    from lossbench.schedulers import scheduler_monitor

    scheduler = OmegaConf.to_container(cfg.scheduler, resolve=True) if "scheduler" in cfg else None
    if callback_metrics is None:
        monitor = scheduler_monitor(scheduler, cfg.optimized_metric) if scheduler else None
        callback_metrics = [cfg.optimized_metric, *([monitor] if monitor else [])]

    return ClassifierModule(
        task=datamodule.task,
        n_features=datamodule.n_features,
        n_outputs=datamodule.n_outputs,
        n_targets=datamodule.n_targets,
        model=OmegaConf.to_container(cfg.model, resolve=True),
        head=cfg.head.name,
        loss=loss,
        optimizer=OmegaConf.to_container(cfg.optimizer, resolve=True),
        minibatch_size=cfg.data.batch_size,
        epoch_loop=epoch_loop,
        callback_metrics=callback_metrics,
        scheduler=None if not scheduler or scheduler["name"] == "none" else scheduler,
        scheduler_monitor=scheduler_monitor(scheduler, cfg.optimized_metric) if scheduler else None,
        epoch_metrics=cfg.get("epoch_metrics", "all"),
    )


def _fit_and_evaluate(
    cfg: DictConfig, task: str, output_dir: Path, interactive: bool, record: dict[str, Any]
) -> None:
    import lightning as L

    from lossbench.data.csv_loader import DataError
    from lossbench.data.datamodule import ClassificationDataModule

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
    trainer = _trainer(cfg, output_dir, interactive)
    try:
        _fit_with(cfg, trainer, datamodule, loss, task, output_dir, record)
    finally:
        close_loggers(trainer)


def _fit_with(
    cfg: DictConfig,
    trainer: Any,
    datamodule: Any,
    loss: dict[str, Any],
    task: str,
    output_dir: Path,
    record: dict[str, Any],
) -> None:
    from lossbench.checkpoint import CheckpointError, check_resume, load_checkpoint, resume_path
    from lossbench.module import validates_inline

    epoch_loop = _use_epoch_loop(cfg, trainer)
    datamodule.epoch_batches = epoch_loop
    module = build_module(
        cfg,
        datamodule,
        loss,
        epoch_loop=epoch_loop,
        callback_metrics=_monitored(cfg, trainer.callbacks, task),
    )
    module.inline_validation = validates_inline(trainer, module)
    # --- checkpoints: preprocessing for predict; resume (ckpt_path=last | <file>) ---
    module.preprocessing = datamodule.preprocessing
    try:
        resume = resume_path(cfg.get("ckpt_path"), output_dir)
        if resume is not None:
            check_resume(load_checkpoint(resume), resume, module.hparams, module.preprocessing)
    except CheckpointError as error:
        raise ConfigError(str(error)) from None
    record.update(training_loop="epoch" if epoch_loop else "batch")
    record.update(validation_loop="inline" if module.inline_validation else "lightning")
    record.update(n_outputs=datamodule.n_outputs, sizes=datamodule.sizes(), loss_params=loss)
    record.update(resumed_from=None if resume is None else str(resume))
    start = time.perf_counter()
    try:
        with _validation_loop_off(trainer, module.inline_validation):
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
    finally:
        record.update(
            train_seconds=round(time.perf_counter() - start, 4),
            epochs=trainer.current_epoch,
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
    if trainer.world_size == 1:
        record.update(_evaluate_best(trainer, module, datamodule, best))
    else:  # each rank evaluates its share of the samples; Lightning's loops gather them
        for stage in ("validate", "test"):
            results = getattr(trainer, stage)(
                module, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True
            )
            record.update({k: float(v) for k, v in results[0].items()})
    best_epoch = callback.best_epoch if in_memory is not None else _best_epoch(best)
    record.update(best_checkpoint=best, best_epoch=best_epoch, test_reliability=module.reliability)
    record.update(stopped_by=stopped_by(trainer))


def stopped_by(trainer: Any) -> str:
    """How a fit that completed ended: ``early_stopping`` when an ``EarlyStopping`` callback
    stopped it (the monitored metric stopped improving), else ``budget``: it ran until the
    trainer's cap (``max_epochs``, ``max_steps``, ``max_time``) while still improving, or with
    no early stopping to say otherwise. A run that failed or was refused records ``failed``."""
    from lightning.pytorch.callbacks import EarlyStopping

    stopped = any(isinstance(c, EarlyStopping) and c.stopped_epoch > 0 for c in trainer.callbacks)
    return "early_stopping" if stopped else "budget"


def close_loggers(trainer: Any) -> None:
    """End the loggers' runs that outlive ``Trainer.fit``: a W&B run stays open until
    ``wandb.finish()`` (the next run of a multirun in this process would continue it)."""
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger" and getattr(logger, "_experiment", None):
            logger.experiment.finish()


@contextmanager
def _validation_loop_off(trainer: Any, off: bool) -> Iterator[None]:
    """Lightning's validation loop turned off (``limit_val_batches=0``) while the module
    validates in its epoch step (``validation_loop=inline``); restored afterwards."""
    previous = trainer.limit_val_batches
    if off:
        trainer.limit_val_batches = 0
    try:
        yield
    finally:
        trainer.limit_val_batches = previous


def _evaluate_best(
    trainer: Any, module: Any, datamodule: Any, best: str | None
) -> dict[str, float]:
    """``val/*`` and ``test/*`` of the best checkpoint's weights, computed in this process: what
    ``trainer.validate`` and ``trainer.test`` with ``ckpt_path=best`` compute (the eval tests
    compare them exactly), without two more Trainer runs (~30 ms a run). The loggers get them
    at the last global step."""
    import torch

    device = trainer.strategy.root_device
    if best is not None:
        state = torch.load(best, map_location=device, weights_only=True)["state_dict"]
        module.load_state_dict(state)
    module.to(device).eval()
    plugin = trainer.precision_plugin
    results: dict[str, float] = {}
    for stage in ("val", "test"):
        split = plugin.convert_input(tuple(t.to(device) for t in datamodule.tensors[stage]))
        with plugin.forward_context():  # autocast under mixed precision, as Lightning's loops
            results |= module.evaluate_split(split, stage)
    for logger in trainer.loggers:
        logger.log_metrics(results, step=trainer.global_step)
        logger.save()
    return results


def _best_epoch(path: str | None) -> int | None:
    """The epoch in ``best-epochNNN.ckpt`` (or ``best-epochNNN-v1.ckpt`` after a re-run)."""
    match = re.search(r"epoch(\d+)", Path(path).stem) if path else None
    return int(match.group(1)) if match else None


def train(cfg: DictConfig, output_dir: str | Path, *, multirun: bool = False) -> dict[str, Any]:
    """Validate, train and evaluate ``cfg``; write and return the run record.

    Refused configs and failed runs are recorded with ``status: failed`` and a one-line
    ``error``. In a single run (``multirun=False``) they are re-raised after recording.
    """
    output_dir = Path(output_dir)
    if "paths" in cfg:  # where the callbacks and loggers write (${paths.run_dir})
        cfg.paths.run_dir = str(output_dir)
    refuse_completed(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    task = None
    record = _base_record(cfg, task)
    record["environment"] = environment()
    from lossbench.distributed import finish_run  # rank-0 writing; imports Lightning

    try:
        task = validate(cfg)
        record["task"] = task
        OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)
        _fit_and_evaluate(cfg, task, output_dir, interactive=not multirun, record=record)
        record["status"] = "completed"
    except Exception as error:  # recorded, then re-raised or swallowed (multirun)
        from lossbench.module import NonFiniteLossError

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
    metric = cfg.optimized_metric.replace("val/", "test/")
    log.info(
        "completed: %s = %.4f, test/accuracy = %.4f; record: %s",
        metric,
        record.get(metric, float("nan")),
        record.get("test/accuracy", float("nan")),
        path,
    )
    return record


def preflight(cfg: DictConfig, output_dir: str | Path) -> str:
    """Everything a single run checks before Hydra creates its directory; return the task.

    In order: the directory holds no completed run, the config is valid
    (:func:`lossbench.validation.validate`, with the seed and the hardware), Lightning accepts
    the ``trainer.*`` settings, the data load and split (a CSV file's every value, each
    split's classes, ``loss.weight`` / ``pos_weight`` lengths), and a checkpoint to resume
    (``ckpt_path``) exists and continues this model, loss, optimizer and data. The table stays
    cached in this process, so the run does not read the file again.

    Raises:
        UserInputError: the first problem found, with what was given, why and the fix.
    """
    refuse_completed(Path(output_dir))
    task = validate(cfg)  # a refused config exits before torch and Lightning are imported
    from lossbench.checkpoint import check_resume, load_checkpoint, resume_path
    from lossbench.data.datamodule import ClassificationDataModule

    check_trainer_settings(cfg)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    try:
        loss = resolved_loss(cfg, datamodule)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    resume = resume_path(cfg.get("ckpt_path"), output_dir)
    if resume is not None:
        hparams = build_module(cfg, datamodule, loss, epoch_loop=False).hparams
        check_resume(load_checkpoint(resume), resume, hparams, datamodule.preprocessing)
    return task


def completed_with_same_config(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """The record in ``output_dir`` if it completed with exactly this resolved config.

    This is what lets an interrupted study resume: re-running the same sweep skips such jobs.
    """
    record = read_record(output_dir)
    saved = output_dir / "config.yaml"
    if record is None or record.get("status") != "completed" or not saved.is_file():
        return None
    same = OmegaConf.to_container(OmegaConf.load(saved)) == OmegaConf.to_container(
        cfg, resolve=True
    )
    return record if same else None


def _sweep_value(cfg: DictConfig, record: dict[str, Any]) -> float | None:
    """What a sweeper receives: the optimized metric, or None for a failed run (the Optuna
    sweeper marks a trial that returns something that is not a float as failed and goes on;
    NaN would stop it)."""
    value = record.get(cfg.optimized_metric) if record.get("status") == "completed" else None
    return None if value is None else float(value)


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    output_dir = Path(hydra_cfg.runtime.output_dir)
    if not multirun:
        return _run(cfg, output_dir, multirun=False)
    from lossbench.progress import mark_job

    outcome = "failed"
    try:
        value, outcome = _run_job(cfg, output_dir)
        return value
    finally:  # the study's progress line counts the markers (lossbench.progress)
        mark_job(hydra_cfg.sweep.dir, hydra_cfg.job.num, outcome)


def _run_job(cfg: DictConfig, output_dir: Path) -> tuple[float | None, str]:
    """One job of a multirun: ``(value for the sweeper, outcome)``."""
    if (done := completed_with_same_config(cfg, output_dir)) is not None:
        log.info("skipped: %s already completed with this config", output_dir)
        return _sweep_value(cfg, done), "skipped"
    log.info("run directory: %s", output_dir)
    try:
        record = train(cfg, output_dir, multirun=True)
    except UserInputError as error:  # e.g. never overwrite another config's completed run
        log.error("refused: %s", error)
        return None, "refused"
    if record.get("status") == "completed":
        return _sweep_value(cfg, record), "completed"
    return None, "refused" if record.get("refused") else "failed"


def _run(cfg: DictConfig, output_dir: Path, *, multirun: bool) -> float | None:
    log.info("run directory: %s", output_dir)
    try:
        record = train(cfg, output_dir, multirun=multirun)
    except UserInputError as error:
        refuse(error)
    except Exception as error:
        from lossbench.module import NonFiniteLossError

        if isinstance(error, NonFiniteLossError):
            print(f"lossbench: failed: {error}", file=sys.stderr)
            sys.exit(1)
        raise
    return _sweep_value(cfg, record)


def refuse_unknown_trainer_keys(arguments: list[str]) -> None:
    """Refuse a misspelt ``trainer.<key>`` on the command line with the valid keys (exit 2),
    before Hydra composes anything: Hydra's own error names the key but not the choices."""
    from lossbench.trainer_args import TRAINER_KEYS, unknown_trainer_key

    for argument in arguments:
        key = argument.split("=", 1)[0].lstrip("+~")
        if "=" not in argument or not key.startswith("trainer."):
            continue
        name = key.removeprefix("trainer.").split(".", 1)[0]
        if name not in TRAINER_KEYS:
            print(f"lossbench: refused: {unknown_trainer_key(name)}", file=sys.stderr)
            sys.exit(2)


def quiet_lightning() -> None:
    """Silence Lightning's messages that say nothing about a lossbench run."""
    # Lightning has its own console handler; without this, Hydra's root handler repeats each line.
    logging.getLogger("lightning.pytorch").propagate = False
    logging.getLogger("lightning.fabric").propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)  # imported by optuna, chatty at INFO
    for pattern in (
        ".*smaller than the logging interval.*",
        ".*does not have many workers.*",
        ".*treespec, LeafSpec.*",
        ".*`isinstance\\(treespec, LeafSpec\\)`.*",
    ):
        warnings.filterwarnings("ignore", pattern)


def run_checkpoint_app(schema_name: str, schema: type, hydra_main: Any) -> None:
    """Start a Hydra app that works on a checkpoint (lossbench-eval, lossbench-predict):
    register the schemas, and keep Lightning's start-up messages out of its output."""
    from hydra.core.config_store import ConfigStore

    register_configs()
    ConfigStore.instance().store(name=schema_name, node=schema)
    quiet_lightning()
    import lightning  # noqa: F401  (sets its loggers' level on import; quieten them after)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    hydra_main()


def main() -> None:
    """Console entry point of ``lossbench-train``."""
    refuse_unknown_trainer_keys(sys.argv[1:])
    register_configs()
    quiet_lightning()
    _hydra_main()


if __name__ == "__main__":
    main()
