"""Train a group of runs as one vectorized fit, and record each as an ordinary run.

    >>> records = train_group([cfg_seed0, cfg_seed1], [run_dir0, run_dir1])  # doctest: +SKIP

Each member gets what :func:`lossbench.training.train` gives a run alone: its run directory with
``config.yaml``, ``metrics.json`` (the same fields, plus ``group_size``; ``train_seconds`` and
``train_cpu_seconds`` are the group's fit time), the best and last checkpoints (written when
training ends, as ``checkpoint.write=at_end`` does, with the content its run alone's have: they
resume, see :mod:`lossbench.vectorized.checkpoints`) and, with ``logger=csv``,
``logs/metrics.csv``. A fit stopped with Ctrl-C or SIGTERM records the members whose training
had ended (early stopping, a failure) as its end would, and leaves each member still training
what a stopped run alone leaves, as of its last completed epoch, and no record
(:func:`keep_stopped`). A config
that is refused, or a member whose loss turns non-finite, is recorded as failed with the
message a run alone records; the other members go on. Members whose data give their models
other shapes (another input width) train as groups of their own, one per shape.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.checkpoint_format import run_config_text
from lossbench.errors import failure_kind
from lossbench.interrupts import fit_interrupts
from lossbench.metric_names import VALIDATION_TIMES, best_logged
from lossbench.precision import normalize_precision
from lossbench.record import (
    ReplacedFilesError,
    RunExistsError,
    environment,
    refuse_completed,
    refuse_replaced_files,
    set_aside_earlier_attempt,
    write_record,
)
from lossbench.run_identity import set_aside_for_raised_cap
from lossbench.validation import ConfigError, validate
from lossbench.vectorized.checkpoints import save_checkpoint
from lossbench.vectorized.members import Member

log = logging.getLogger("lossbench")


def train_group(
    cfgs: Sequence[DictConfig],
    output_dirs: Sequence[str | Path],
    *,
    resolved: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any] | None]:
    """Train ``cfgs`` (configs that differ only in :data:`~lossbench.vectorized.grouping.
    VECTORIZED_KEYS`, see :func:`~lossbench.vectorized.grouping.group_key`) as one stacked
    model; write each member's run into its directory and return the records, in order
    (where the directory already holds a completed run, or a failed one that a sweep keeps, a
    record of the refusal that is not written: the run there is never overwritten).
    ``resolved``: the configs as resolved containers, where the caller has them (written as
    each member's ``config.yaml`` without resolving the config again).

    Members whose data give them other shapes (:func:`_stack_shape`: a categorical value that
    only some members' training splits hold gives their one-hot encoding another width) cannot
    be stacked with the others: the members of each shape train as a group of their own (its
    ``group_size``), each as its run alone.
    """
    from lossbench.train import quiet_lightning

    quiet_lightning()
    records: list[dict[str, Any] | None] = []
    members: list[Member] = []
    tables: dict[str, Any] = {}  # loaded tables and data modules, shared between members
    plain = resolved if resolved is not None else [None] * len(cfgs)
    for cfg, output_dir, container in zip(cfgs, output_dirs, plain, strict=True):
        member = _prepare(cfg, Path(output_dir), tables, container)
        if isinstance(member, RunExistsError | ReplacedFilesError):  # logged by _prepare
            exists = isinstance(member, RunExistsError)
            records.append(
                {"status": "failed", "refused": True, "exists": exists, "error": str(member)}
            )
            continue
        records.append(member.record)
        if member.error is None:
            members.append(member)
    _log_unprepared(records, output_dirs)
    # Members whose data give their models other shapes (a categorical value that only some
    # members' training splits hold, one-hot encoded: another input width) cannot be stacked:
    # each shape trains as a group of its own, every member as it trains alone.
    fits: dict[tuple[Any, ...], list[Member]] = {}
    for member in members:
        fits.setdefault(_stack_shape(member), []).append(member)
    if len(fits) > 1:
        log.info(
            "the %d members of this group train as %d groups, one per shape of their data "
            "and models (%s)",
            len(members),
            len(fits),
            "; ".join(f"{len(part)} with {_shape_text(part[0])}" for part in fits.values()),
        )
    for part in fits.values():
        _fit(part)
    return records


def _stack_shape(member: Member) -> tuple[Any, ...]:
    """What the members of one fit must share, as their stacked tensors need it, where their
    data decide it: the shapes of their model's parameters and of their training and
    validation splits (rows and input features). The members of a group (one
    :func:`~lossbench.vectorized.grouping.group_key`) share them unless their data differ:
    the input width of a one-hot encoding fitted on each member's own training split. (Their
    loss buffers follow from their configs: members with other ones are refused as a group,
    :class:`~lossbench.vectorized.module.VectorizedModule`.)"""
    tensors = member.datamodule.tensors
    return (
        tuple(tuple(p.shape) for p in member.module.model.parameters()),
        tuple(tuple(t.shape) for stage in ("train", "val") for t in tensors[stage]),
    )


def _shape_text(member: Member) -> str:
    """The member's data shape, for the log: input features, training and validation rows."""
    train, val = member.datamodule.tensors["train"][0], member.datamodule.tensors["val"][0]
    features = "x".join(str(n) for n in train.shape[1:]) or "1"
    return f"{features} input features, {len(train)} training and {len(val)} validation rows"


def _fit(members: list[Member]) -> None:
    """Train ``members`` (prepared, of one :func:`_stack_shape`) as one stacked model and
    finish each one's run: its checkpoints, logs and record."""
    import lightning as L

    from lossbench.vectorized.module import VectorizedModule

    for member in members:
        member.record["group_size"] = len(members)
    cfg = members[0].cfg
    # The device summary ("GPU available: ...") once per group says nothing about the runs.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    trainer = L.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=normalize_precision(cfg.trainer.precision),  # no warning for "bf16"
        deterministic=cfg.trainer.deterministic,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        default_root_dir=members[0].output_dir,
    )
    module = VectorizedModule(members, minibatch_size=cfg.data.batch_size)
    start, cpu_start = time.perf_counter(), time.process_time()
    failure: Exception | None = None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*returned `None`, this fit will run with no optim")
            # the gradients are views into one (K, P) tensor, on purpose (batched.StackedModel)
            warnings.filterwarnings("ignore", ".*do not obey the gradient layout contract")
            with fit_interrupts(trainer):
                trainer.fit(module)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (lossbench.interrupts.Terminated)
        seconds = round(time.perf_counter() - start, 4)
        keep_stopped(members, module, seconds, round(time.process_time() - cpu_start, 4))
        raise
    except Exception as error:  # recorded for every member still training
        failure = error
    seconds = round(time.perf_counter() - start, 4)
    cpu_seconds = round(time.process_time() - cpu_start, 4)
    module.member_states()
    batches = _batches(members[0])
    suites: dict[str, Any] = {}  # the final evaluation's metric suites, shared (see _finish)
    for position, member in enumerate(members):
        if failure is not None and member.error is None and position in module.alive:
            member.error = f"{type(failure).__name__}: {failure}"
        _finish(member, seconds, cpu_seconds, batches, suites)
    for line in unprepared_lines(failure_lines(members)):
        log.error("%s", line)


def keep_stopped(
    members: Sequence[Member], module: Any, seconds: float = 0.0, cpu_seconds: float = 0.0
) -> None:
    """The fit of ``members`` was stopped (Ctrl-C, SIGTERM), as of each one's last completed
    epoch (:meth:`~lossbench.vectorized.members.Member.back_to_epoch_end`).

    A member whose training had ended by then (:attr:`~lossbench.vectorized.members.Member.
    ended`: early stopping, a non-finite loss or weights, ``trainer.max_epochs``; a failure
    within the epoch the stop cut short included, :meth:`~lossbench.vectorized.members.Member.
    fail`) is finished as the fit's end finishes it (:func:`_finish`): the final metrics of its
    best epoch, its checkpoints, logs and record (``status`` completed or failed;
    ``train_seconds`` and ``train_cpu_seconds``: the group's fit until the stop, ``seconds`` and
    ``cpu_seconds``), so a sweep run again skips it. Each member still training keeps what its
    run alone keeps when stopped: its best checkpoint and, with
    ``checkpoint.write=every_epoch``, its ``last.ckpt`` (both resume: ``ckpt_path=<its
    last.ckpt>``, ``ckpt_path=last`` in its folder), and the epochs logged so far
    (``logs/metrics.csv`` of ``logger=csv``), with no record: a sweep run again sets them aside
    and trains the member again, as it does a stopped run alone."""
    for member in members:
        member.back_to_epoch_end()
    module.member_states()
    batches = _batches(members[0])
    suites: dict[str, Any] = {}  # shared by the ended members' final evaluations (_finish)
    for member in members:
        if member.ended:
            _finish(member, seconds, cpu_seconds, batches, suites)
            continue
        _write_checkpoints(member, batches)
        if member.epochs:
            _write_logs(member, batches, None)
    for line in unprepared_lines(failure_lines([m for m in members if m.ended])):
        log.error("%s", line)


def failure_lines(members: Sequence[Member]) -> list[tuple[str, str, Path]]:
    """``("run failed", message, metrics.json)`` of each of ``members`` that failed in
    training, for :func:`unprepared_lines`: its whole message where no other member failed
    the same way (a divergence's epoch, step and batch, as a run alone says it), else the
    kind they share (:func:`~lossbench.errors.failure_kind`): one line for them all, and each
    ``metrics.json`` says where its run failed.

        >>> from types import SimpleNamespace as Run
        >>> nan = "non-finite training loss (nan) at epoch {}, step 9 (batch 2)"
        >>> runs = [Run(error=nan.format(e), output_dir=Path(f"lr{e}")) for e in (1, 3)]
        >>> [m for _, m, _ in failure_lines(runs[:1] + [Run(error=None, output_dir=None)])]
        ['non-finite training loss (nan) at epoch 1, step 9 (batch 2)']
        >>> [m for _, m, _ in failure_lines(runs)]
        ['non-finite training loss (nan)', 'non-finite training loss (nan)']
    """
    failed = [member for member in members if member.error is not None]
    kinds = [failure_kind(member.error) for member in failed]
    return [
        (
            "run failed",
            member.error if kinds.count(kind) == 1 else kind,
            member.output_dir / "metrics.json",
        )
        for member, kind in zip(failed, kinds, strict=True)
    ]


def _prepare(
    cfg: DictConfig,
    output_dir: Path,
    tables: dict[str, Any],
    resolved: dict[str, Any] | None = None,
) -> Member | RunExistsError | ReplacedFilesError:
    """Validate ``cfg`` and build its member as :func:`lossbench.training.train` builds the run
    (``tables``: the tables and data modules built for the group's members so far); the
    refusal where ``output_dir`` already records a completed run or a kept failed one."""
    import lightning as L

    from lossbench.data.datamodule import ClassificationDataModule
    from lossbench.data.datasets import load_table
    from lossbench.data.table import DataError
    from lossbench.instantiators import build_callbacks
    from lossbench.module import ClassifierModule, monitored_metrics, resolved_loss
    from lossbench.starting_record import base_record

    try:
        set_aside_for_raised_cap(output_dir, cfg, resolved)  # as a run alone in a sweep
        refuse_completed(output_dir, kept_failures=True, sweep=True)  # as a run alone in a sweep
        refuse_replaced_files(cfg, output_dir, hydra_files=False)  # a user's metrics.csv
    except (RunExistsError, ReplacedFilesError) as error:
        log.error("refused: %s", error)
        return error
    if (said := set_aside_earlier_attempt(output_dir)) is not None:  # as a run alone
        log.info(said)
    output_dir.mkdir(parents=True, exist_ok=True)
    if "paths" in cfg:  # where its callbacks and loggers write, as train() sets it
        cfg.paths.run_dir = str(output_dir)
    record = base_record(cfg, None)
    record["environment"] = environment()
    member = Member.of(cfg, output_dir, record)
    try:
        record["task"] = validate(cfg)
        _save_config(cfg, output_dir / "config.yaml", resolved)
        data = OmegaConf.to_container(cfg.data, resolve=True)
        key = json.dumps({k: v for k, v in data.items() if k != "split_seed"}, sort_keys=True)
        # The data module of the same data, split, loss and seed is the same: the members that
        # differ only in learning rate share one (a group's split is computed once per seed).
        own = json.dumps([data, cfg.loss.name, cfg.seed], sort_keys=True)
        # The order of a run alone: seed, data module, loss, module (initial weights).
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        try:  # data that cannot be trained on is refused, as for a run alone
            if key not in tables:
                tables[key] = load_table(data)
            if own not in tables:
                tables[own] = ClassificationDataModule(
                    cfg.data, cfg.loss.name, seed=cfg.seed, table=tables[key]
                )
                tables[own].warn_unscored()  # once per data module, not once per member
                tables[own].warn_columns()
            datamodule = tables[own]
        except DataError as error:
            raise ConfigError(str(error)) from None
        try:
            loss = resolved_loss(cfg, datamodule)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        # What the run alone's callbacks read (epoch_metrics=monitored computes only those):
        # the callbacks of a multirun's job, as training.build_run_trainer builds them.
        callbacks = build_callbacks(cfg, progress_bar=False, model_summary=False)
        monitored = monitored_metrics(cfg, callbacks, datamodule.task)
        module = ClassifierModule.from_config(
            cfg, datamodule, loss=loss, callback_metrics=monitored
        )
    except Exception as error:
        refused = isinstance(error, ConfigError)
        record["error"] = str(error) if refused else f"{type(error).__name__}: {error}"
        record["refused"] = refused
        member.error = record["error"]
        write_record(output_dir, record)  # logged with the group's others: _log_unprepared
        return member
    module.preprocessing = datamodule.preprocessing
    plain = resolved if resolved is not None else OmegaConf.to_container(cfg, resolve=True)
    module.run_config_text = run_config_text(plain)  # as the run alone's checkpoints hold it
    member.module, member.datamodule = module, datamodule
    record.update(training_loop="vectorized", validation_loop="inline")
    record.update(n_outputs=datamodule.n_outputs, sizes=datamodule.sizes(), loss_params=loss)
    record.update(unscored_classes=datamodule.unscored_classes(), resumed_from=None)
    return member


def unprepared_lines(failures: Sequence[tuple[str, str, Path]]) -> list[str]:
    """The log lines of a group's members that were refused or failed before training, or
    failed in it (``(outcome, message, metrics.json)`` each, outcome ``refused`` or ``run
    failed``; a failure in training by its :func:`~lossbench.errors.failure_kind`): one line
    per distinct outcome and message, as a run alone says it where one member has it, else with
    the count, the first one's ``metrics.json`` and the folder that holds the others' (a setup
    that cannot train the task refuses each rate x seed of its group with the same message).

        >>> lines = unprepared_lines(
        ...     [("refused", "no.", Path(f"s/wine/asl/lr{lr}/seed0/metrics.json")) for lr in (1, 3)]
        ...     + [("run failed", "nan.", Path("s/wine/asl/lr9/seed0/metrics.json"))]
        ... )
        >>> print("\\n".join(lines))
        refused (2 jobs): no. (s/wine/asl/lr1/seed0/metrics.json and 1 more under s/wine/asl)
        run failed: nan. (s/wine/asl/lr9/seed0/metrics.json)
    """
    import os

    by_message: dict[tuple[str, str], list[Path]] = {}
    for outcome, message, path in failures:
        by_message.setdefault((outcome, message), []).append(path)
    lines = []
    for (outcome, message), paths in by_message.items():
        if len(paths) == 1:
            lines.append(f"{outcome}: {message} ({paths[0]})")
            continue
        folder = os.path.commonpath([str(path.parent) for path in paths])
        where = f"{paths[0]} and {len(paths) - 1} more under {folder}"
        lines.append(f"{outcome} ({len(paths)} jobs): {message} ({where})")
    return lines


def _log_unprepared(
    records: Sequence[dict[str, Any] | None], output_dirs: Sequence[str | Path]
) -> None:
    """Log the members that :func:`_prepare` refused or saw fail (their records hold why, each
    in its ``metrics.json``): :func:`unprepared_lines`. A member refused for what its directory
    already holds (a run, or a file of one's own: no record written) was logged as it was
    refused, once."""
    failures = [
        (
            "refused" if record.get("refused") else "run failed",
            str(record["error"]),
            Path(output_dir) / "metrics.json",
        )
        for record, output_dir in zip(records, output_dirs, strict=True)
        if record is not None and record.get("error") and "exists" not in record
    ]
    for line in unprepared_lines(failures):
        log.error("%s", line)


def _save_config(cfg: DictConfig, path: Path, resolved: dict[str, Any] | None) -> None:
    """``config.yaml``: the resolved config (from ``resolved`` with libyaml's dumper where
    given: the same YAML document, a fraction of OmegaConf's time)."""
    if resolved is None:
        OmegaConf.save(cfg, path, resolve=True)
        return
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(resolved, Dumper=dumper, sort_keys=False, allow_unicode=True))


def _batches(member: Member) -> int:
    rows = member.record["sizes"]["train"]
    size = member.cfg.data.batch_size or rows
    return -(-rows // size)


def _finish(
    member: Member, seconds: float, cpu_seconds: float, batches: int, suites: dict[str, Any]
) -> None:
    """Evaluate the member's best epoch, write its checkpoints, logs and record.

    ``suites``: the ``val`` and ``test`` metric suites of the group's members so far. A
    suite is reset after each evaluation and the members share task and outputs, so one per
    stage serves them all (building one takes 4-6 ms: about 12 CPU-seconds of the standard
    study's 1176 members)."""
    record, cfg = member.record, member.cfg
    record.update(
        train_seconds=seconds,
        train_cpu_seconds=cpu_seconds,
        epochs=member.epochs,
        steps=member.steps,
        history=member.history,
    )
    best_path = _write_checkpoints(member, batches)
    if member.error is not None:
        record.update(status="failed", error=member.error, refused=False)
        write_record(member.output_dir, record)  # logged with the group's others: train_group
        return
    module = member.module
    module.load_state_dict(member.best_state)
    results: dict[str, float] = {}
    for stage in ("val", "test"):
        if stage in suites:
            module.stage_metrics[stage] = suites[stage]
        results |= module.evaluate_split(member.datamodule.tensors[stage], stage)
        suites.setdefault(stage, module.stage_metrics[stage])
    record.update(results)
    record.update(
        best_checkpoint=None if best_path is None else str(best_path),
        best_epoch=member.best.epoch,
        test_reliability=module.reliability,
        stopped_by=member.stopped_by,
    )
    _write_logs(member, batches, results)
    record["status"] = "completed"
    write_record(member.output_dir, record)
    metric = cfg.optimized_metric.replace("val/", "test/")
    log.info(
        "completed: %s = %.4f (group of %d); record: %s",
        metric,
        record.get(metric, float("nan")),
        record["group_size"],
        member.output_dir / "metrics.json",
    )


def _write_checkpoints(member: Member, batches: int) -> Path | None:
    """Write the member's best checkpoint and ``last.ckpt``, as its run alone leaves them where
    its training ended, failed or was stopped (:func:`keep_stopped`; ``last.ckpt`` there only
    with ``checkpoint.write=every_epoch``, or where its training had ended); return the best
    checkpoint's path (None: none written)."""
    cfg = member.cfg
    write = cfg.checkpoint.write != "never"
    best_path = None
    if write and member.best_state is not None:
        best_path = member.output_dir / "checkpoints" / f"best-epoch{member.best.epoch:03d}.ckpt"
        upto = {k: v[: member.best.epoch + 1] for k, v in member.history.items()}
        save_checkpoint(
            member,
            "best",
            best_path,
            weights=member.best_state,
            training=member.best_training,
            history=upto,
            epoch=member.best.epoch,
            global_step=(member.best.epoch + 1) * batches,
        )
    # last.ckpt as a run alone leaves it: every_epoch, the end of its last completed epoch
    # (also when it then failed); at_end, the end of training (Lightning counts the epoch on),
    # or a copy of the best checkpoint when the last epoch was the best (saved at that step).
    every = cfg.checkpoint.write == "every_epoch"
    if write and cfg.checkpoint.save_last and member.last_state is not None:
        done = len(next(iter(member.history.values()), []))  # completed epochs
        last = member.output_dir / "checkpoints" / "last.ckpt"
        if not every and member.error is None and best_path and member.best.epoch == done - 1:
            shutil.copyfile(best_path, last)
        elif every or member.error is None:
            save_checkpoint(
                member,
                "last",
                last,
                weights=member.last_state,
                training=member.last_training,
                history=member.history,
                epoch=done - 1 if every else done,
                global_step=done * batches,
            )
    return best_path


def _write_logs(member: Member, batches: int, results: dict[str, float] | None) -> None:
    """``logs/hparams.yaml`` and ``logs/metrics.csv`` of ``logger=csv``: the module's
    hyper-parameters; each epoch's metrics at its last global step (a row of its ``val/*``,
    then one of its ``train/*``), then the final ``val/*`` and ``test/*`` (``results``; None:
    a stopped fit, whose run alone logs none), as a run alone logs them, where its
    ``logger.csv`` settings (``save_dir``, ``name``, ``version``) put them."""
    if "csv" not in (member.cfg.get("logger") or {}):
        return
    from hydra.utils import instantiate

    from lossbench.data.datamodule import data_hyperparameters

    logger = instantiate(member.cfg.logger.csv)  # as the run alone's (lossbench.loggers)
    # logs/hparams.yaml, as Lightning's: the module's and the data module's hyper-parameters
    data = data_hyperparameters(member.cfg.data, member.cfg.seed)
    logger.log_hyperparams({**member.module.hparams_initial, **data})
    for epoch in range(member.epochs):
        values = {
            k: v[epoch]
            for k, v in member.history.items()
            if len(v) > epoch and k not in VALIDATION_TIMES  # not metrics: a run alone logs none
        }
        validation = {k: v for k, v in values.items() if k.startswith("val/")}
        training = {k: v for k, v in values.items() if k not in validation}
        for part in (validation, training):  # validation's epoch end comes first
            if part:
                # at the index of the epoch's last step, as Lightning's loop and a run alone
                logger.log_metrics({**part, "epoch": epoch}, step=(epoch + 1) * batches - 1)
    if results is not None:
        logger.log_metrics(best_logged(results), step=member.steps)
    logger.save()
