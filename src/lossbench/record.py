"""The run record: ``metrics.json`` in each run's output directory.

    {"status": "completed", "error": null, "task": "binary", "data": "breast_cancer",
     "model": "mlp", "head": "logits", "loss": "bce_with_logits", "seed": 0, "epochs": 20,
     "steps": 60, "train_seconds": 1.9, "val/nll": 0.07, ..., "test/auroc": 0.99, ...}

``status`` is ``completed`` or ``failed`` (``error`` then holds a one-line reason).
``debug_run`` is null, or the Lightning debug settings the run was trained with
(:func:`debug_settings`): such a run completes, but is no result, and ``lossbench-report``
leaves it out.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lossbench.aside_names import Moved, move_on_together
from lossbench.errors import DIVERGENCE_MESSAGES, UserInputError
from lossbench.run_config_file import (
    is_run_config,
    load_config_file,
    missing_run_keys,
)

RECORD_NAME = "metrics.json"
#: The ``trainer.*`` settings that make a run a debug run: Lightning's ``fast_dev_run`` (a few
#: batches of each loop, one epoch), ``overfit_batches`` (the same batches again and again), and
#: ``limit_train_batches`` / ``limit_val_batches`` below the whole split (fewer batches of
#: training, or a best epoch chosen on part of the validation split; ``debug=limit``).
#: lossbench-train refuses a ``limit_val_batches`` that leaves any of the validation split out
#: (it is one batch); a config written before that may hold one.
DEBUG_SETTINGS = ("fast_dev_run", "overfit_batches", "limit_train_batches", "limit_val_batches")
#: Of :data:`DEBUG_SETTINGS`, those that limit a loop's batches: off at null or 1.0 (all of
#: them), and at a number of batches no smaller than the loop has. Validation takes its split
#: as one batch; the training batches depend on the data (None: not known).
_LIMITS = ("limit_train_batches", "limit_val_batches")
#: The ``debug/`` presets that set :data:`DEBUG_SETTINGS`.
DEBUG_PRESETS = ("fdr", "overfit", "limit")
#: How to train a run that is a result: without any of them.
DEBUG_FIX = (
    f"train without {' / '.join(f'trainer.{key}' for key in DEBUG_SETTINGS)} (and without "
    f"{' / '.join(f'debug={name}' for name in DEBUG_PRESETS)})"
)


class RunExistsError(UserInputError, RuntimeError):
    """The output directory already holds a completed run."""


class DamagedRunError(UserInputError):
    """A run directory's ``metrics.json`` or ``config.yaml`` cannot be read (truncated, emptied
    or edited), so lossbench cannot tell which run the directory holds, nor whether it may be
    trained again: the run is refused, and the file is left as it is."""


def retrain_damaged(path: Path) -> str:
    """What lets a run whose ``path`` (its ``metrics.json`` or ``config.yaml``) cannot be read be
    trained again: lossbench-train's refusal (:func:`damaged`) and lossbench-report's warning
    name the same fix."""
    return f"move the folder {path.parent} aside or delete {path} (lossbench never deletes it)"


def damaged(path: Path, why: str) -> DamagedRunError:
    """The refusal of a run directory whose ``path`` (its ``metrics.json`` or ``config.yaml``)
    cannot be read for reason ``why``; it names the fix, and lossbench deletes nothing."""
    return DamagedRunError(
        f"{path} {why}, so lossbench cannot tell which run {path.parent} holds and never "
        f"trains over it. If that run is to be trained again, {retrain_damaged(path)}; to keep "
        "it, train in another directory (hydra.run.dir, or hydra.sweep.dir for a sweep)."
    )


def load_record(path: str | os.PathLike) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` read from the ``metrics.json`` at ``path``, or ``(None, why)`` where it
    cannot be read or holds no run record (an object); lossbench-train refuses such a run
    (:func:`read_record`), lossbench-report skips it.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / RECORD_NAME
        >>> _ = path.write_text('{"status": "compl')
        >>> load_record(path)[1]  # doctest: +ELLIPSIS
        'unreadable metrics.json: JSONDecodeError: Unterminated string ...'
        >>> _ = path.write_text("[]")
        >>> load_record(path)
        (None, 'metrics.json holds a list, not a run record (an object)')
    """
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"unreadable {RECORD_NAME}: {type(error).__name__}: {error}"
    if not isinstance(record, dict):
        return None, f"{RECORD_NAME} holds a {type(record).__name__}, not a run record (an object)"
    return record, None


#: The ``status`` of every run record lossbench-train writes.
RUN_STATUSES = ("completed", "failed")


def read_record(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run record in ``run_dir``, or None where it has none; :class:`DamagedRunError` where
    its ``metrics.json`` cannot be read (:func:`load_record`) or holds no run record of
    lossbench's (no ``status`` of :data:`RUN_STATUSES`: a file of one's own, which a run there
    would replace).

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = (run / RECORD_NAME).write_text('{"accuracy": 0.93}')
        >>> read_record(run)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lossbench.record.DamagedRunError: .../metrics.json holds no run record of lossbench's \
(no status; a run's is completed or failed), so lossbench cannot tell which run ...
    """
    path = Path(run_dir) / RECORD_NAME
    if not path.is_file():
        return None
    record, problem = load_record(path)
    if record is None:
        raise damaged(path, f"is damaged ({problem})")
    if record.get("status") not in RUN_STATUSES:
        given = f"status {record['status']!r}" if "status" in record else "no status"
        raise damaged(
            path,
            f"holds no run record of lossbench's ({given}; a run's is {' or '.join(RUN_STATUSES)})",
        )
    return record


def read_run_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.yaml`` a run saved at ``path``, as a plain dict; :class:`DamagedRunError`
    where it cannot be read or holds no mapping of settings.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "config.yaml"
        >>> _ = path.write_text("data: [\\n")
        >>> read_run_config(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lossbench.record.DamagedRunError: ...config.yaml is not readable YAML (line 2: ...
    """
    from omegaconf import DictConfig, OmegaConf

    path = Path(path)
    config, why = load_config_file(path)
    if config is None:
        raise damaged(path, str(why))
    if not isinstance(config, DictConfig):
        raise damaged(path, "holds a list, not a run's settings (a mapping)")
    return OmegaConf.to_container(config)  # type: ignore[return-value]


#: The run's resolved settings, which lossbench-train writes into the run's directory.
CONFIG_NAME = "config.yaml"


def refuse_foreign_config(run_dir: str | os.PathLike) -> None:
    """Refuse to train in ``run_dir`` where its ``config.yaml`` is a file lossbench did not
    write (the run would replace it with its own): one without a run record
    (``metrics.json``) beside it and without the keys every run's config holds
    (:data:`~lossbench.run_config_file.RUN_CONFIG_KEYS`). An interrupted run's config (no
    record, or one that did not complete) has them, and is trained over or resumed as before;
    one that cannot be read is :class:`DamagedRunError`, unless Hydra's folder beside it
    (:func:`hydra_folder`) says that a run wrote it.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> run_config = "data: {name: iris}\\nloss: {name: nll}\\nseed: 0\\n"
        >>> _ = (run / CONFIG_NAME).write_text(run_config)
        >>> refuse_foreign_config(run)  # an interrupted run's
        >>> _ = (run / CONFIG_NAME).write_text("learning_rate: 0.1\\n")
        >>> refuse_foreign_config(run)
        Traceback (most recent call last):
        ...
        lossbench.record.ForeignConfigError: .../config.yaml is a file lossbench did not write: ...
    """
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file() or (Path(run_dir) / RECORD_NAME).is_file():
        return
    from omegaconf import DictConfig

    if hydra_folder(run_dir) is not None and not isinstance(load_config_file(path)[0], DictConfig):
        return  # a run's config.yaml, damaged: replaced by the new run, as before
    missing = missing_run_keys(read_run_config(path))  # DamagedRunError: cannot be read
    if not missing:
        return
    raise ForeignConfigError(
        f"{path} is a file lossbench did not write: it has no {', '.join(missing)}, which "
        f"every run's {CONFIG_NAME} holds, and no {RECORD_NAME} is beside it. Training in "
        f"{path.parent} would replace it with the run's {CONFIG_NAME}, and lossbench never "
        "overwrites a file it did not write. Train in another directory (hydra.run.dir=<new "
        "folder>, or leave hydra.run.dir out: each run gets a new one under "
        "paths.output_dir), or move the file away."
    )


class ForeignConfigError(UserInputError):
    """A run's directory holds a ``config.yaml`` that lossbench did not write."""


#: The files Hydra writes anew into its folder (``hydra.output_subdir``, ``.hydra``) in the
#: run's directory as a run starts.
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
#: Hydra's folder in a run's directory where ``hydra.output_subdir`` is left as it is.
HYDRA_SUBDIR = ".hydra"


def is_hydra_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is Hydra's folder of a run (``.hydra``, or the one
    ``hydra.output_subdir`` names): it holds Hydra's ``hydra.yaml``, which lossbench never
    writes.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / "meta").mkdir()
        >>> _ = (run / "meta" / "hydra.yaml").write_text("hydra: {}")
        >>> is_hydra_folder(run / "meta"), is_hydra_folder(run)
        (True, False)
    """
    return Path(folder, "hydra.yaml").is_file()


def hydra_folder(run_dir: str | os.PathLike) -> Path | None:
    """Hydra's folder in the run's directory ``run_dir``: ``.hydra``, else the folder in it that
    ``hydra.output_subdir`` named instead (:func:`is_hydra_folder`); None where the run has
    none (``hydra.output_subdir=null``, or no run there).

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> hydra_folder(run) is None
        True
        >>> (run / "meta").mkdir()
        >>> _ = (run / "meta" / "hydra.yaml").write_text("hydra: {}")
        >>> hydra_folder(run).name
        'meta'
    """
    run_dir = Path(run_dir)
    if (run_dir / HYDRA_SUBDIR).is_dir():
        return run_dir / HYDRA_SUBDIR
    try:
        found = sorted(p for p in run_dir.iterdir() if p.is_dir() and is_hydra_folder(p))
    except OSError:
        return None
    return found[0] if found else None


class ReplacedFilesError(UserInputError):
    """A run's directory that holds no run of lossbench's holds files the run would replace."""


def replaced_files(
    cfg: Any, run_dir: str | os.PathLike, *, hydra_files: bool = True
) -> list[tuple[Path, str]]:
    """``(file, what replaces it)`` for each file in ``run_dir`` that a new run of ``cfg``
    (the composed config, Hydra's node included) there would replace or delete, where
    ``run_dir`` holds no run of lossbench's: none where it holds a run record
    (``metrics.json``: :func:`refuse_completed` decides) or a ``config.yaml``
    (:func:`refuse_foreign_config`), or where Hydra's ``config.yaml`` in its folder is a
    run's (:func:`~lossbench.run_config_file.is_run_config`: a run stopped before it wrote its
    own). The
    files are Hydra's (:data:`HYDRA_FILES`, in ``hydra.output_subdir``) and each CSV logger's
    ``metrics.csv`` (Lightning deletes it as the logger starts) and ``hparams.yaml``, in a
    folder inside ``run_dir`` (:func:`lossbench.instantiators.csv_log_folders`). Checkpoints
    are :func:`lossbench.train.check_unfinished_run`'s; the TensorBoard logger and Hydra's log
    file (``train.log``) add to what they find. ``hydra_files=False`` (a job of a sweep, into
    whose directory Hydra has written its files before the job starts): the loggers' only.

        >>> import tempfile
        >>> from omegaconf import OmegaConf
        >>> run = Path(tempfile.mkdtemp())
        >>> cfg = OmegaConf.create({"logger": {"csv": {"_target_": "lossbench.loggers.CSVLogger",
        ...     "save_dir": str(run), "name": "logs", "version": ""}}})
        >>> (run / "logs").mkdir()
        >>> _ = (run / "logs" / "metrics.csv").write_text("epoch,loss\\n0,1.5\\n")
        >>> [(path.name, what) for path, what in replaced_files(cfg, run)]
        [('metrics.csv', 'logger.csv deletes it as it starts its own')]
        >>> own = "data: {name: iris}\\nloss: {name: nll}\\nseed: 0\\n"
        >>> _ = (run / CONFIG_NAME).write_text(own)
        >>> replaced_files(cfg, run)  # an interrupted run's directory
        []
    """
    from omegaconf import OmegaConf

    from lossbench.instantiators import csv_log_folders

    run_dir = Path(run_dir)
    if (run_dir / RECORD_NAME).is_file() or (run_dir / CONFIG_NAME).is_file():
        return []
    candidates = []
    subdir = OmegaConf.select(cfg, "hydra.output_subdir", default=".hydra")
    if subdir and hydra_files:
        hydra_config = run_dir / str(subdir) / "config.yaml"
        if is_run_config(hydra_config):
            return []  # a run's, stopped before it wrote its config.yaml
        for name in HYDRA_FILES:
            candidates.append((run_dir / str(subdir) / name, "Hydra writes the run's own"))
    inside = run_dir.resolve()
    for logger, folder in csv_log_folders(cfg, run_dir):
        if not folder.resolve().is_relative_to(inside):
            continue  # a folder of several runs' logs: not this directory's
        deletes = f"logger.{logger} deletes it as it starts its own"
        candidates.append((folder / "metrics.csv", deletes))
        candidates.append((folder / "hparams.yaml", f"logger.{logger} writes its own"))
    return [(path, what) for path, what in candidates if path.is_file()]


def refuse_replaced_files(
    cfg: Any, run_dir: str | os.PathLike, *, hydra_files: bool = True
) -> None:
    """Refuse to train in ``run_dir`` where the run would replace or delete files there that
    lossbench did not write (:func:`replaced_files`, ``hydra_files`` as there): the directory
    holds no run of lossbench's, so they are a user's own (logs of another tool, a folder given
    by mistake). A single run checks before Hydra writes its files; a job of a sweep as it
    starts (``hydra_files=False``), its job refused with the sweep's fix (another
    ``hydra.sweep.dir``) and the sweep going on.

    Raises:
        ReplacedFilesError: each file and what would replace it, and the fix.
    """
    found = replaced_files(cfg, run_dir, hydra_files=hydra_files)
    if not found:
        return
    named = "; ".join(f"{path} ({what})" for path, what in found)
    them = "it" if len(found) == 1 else "them"
    where = (
        "Train in another directory (hydra.run.dir=<new folder>, or leave hydra.run.dir out: "
        "each run gets a new one under paths.output_dir)"
        if hydra_files
        else "Give the sweep another directory (hydra.sweep.dir=<new directory>)"
    )
    raise ReplacedFilesError(
        f"the run's directory {Path(run_dir)} holds {named}, and no run of lossbench's (no "
        f"{RECORD_NAME}, no {CONFIG_NAME}): a run there would replace {them}, and lossbench "
        f"never overwrites a file it did not write. {where}, or move {them} away."
    )


def debug_settings(
    trainer: Mapping[str, Any] | None, train_batches: int | None = None
) -> str | None:
    """The record's ``debug_run``: the :data:`DEBUG_SETTINGS` that ``trainer`` (a run's
    ``trainer.*`` config) turns on, as a user writes them on the command line and joined by
    ``", "``; None for an ordinary run. A setting is on as Lightning reads it: ``fast_dev_run``
    true or a positive number of batches, ``overfit_batches`` a positive number or fraction,
    a ``limit_*_batches`` where it leaves batches out: a fraction of them below 1.0, or a
    number of batches below the loop's. ``train_batches``: the training batches of an epoch
    (one process's, :func:`lossbench.budget.epoch_batches`); None where the data are not known,
    and then any number of training batches counts. Validation is one batch, so
    ``limit_val_batches`` of 1 or more leaves none out.

        >>> debug_settings({"fast_dev_run": True, "overfit_batches": 0.0})
        'trainer.fast_dev_run=true'
        >>> debug_settings({"fast_dev_run": 5, "overfit_batches": 2})
        'trainer.fast_dev_run=5, trainer.overfit_batches=2'
        >>> debug_settings({"limit_train_batches": 3, "limit_val_batches": 1})
        'trainer.limit_train_batches=3'
        >>> debug_settings({"limit_train_batches": 100}, train_batches=11) is None
        True
        >>> debug_settings({"fast_dev_run": False, "limit_train_batches": None}) is None
        True
    """
    if trainer is None:
        return None
    values = {key: trainer.get(key) for key in DEBUG_SETTINGS}
    batches = {"limit_train_batches": train_batches, "limit_val_batches": 1}
    on = [
        f"trainer.{key}={_as_written(value)}"
        for key, value in values.items()
        if (_limits(value, batches[key]) if key in _LIMITS else _on(value))
    ]
    return ", ".join(on) or None


def _on(value: Any) -> bool:
    """Whether a debug setting's ``value`` turns it on: true, or a number above 0."""
    if isinstance(value, bool):
        return value
    return isinstance(value, int | float) and value > 0


def _limits(value: Any, batches: int | None) -> bool:
    """Whether a ``limit_*_batches`` ``value`` leaves some of a loop's ``batches`` out (None:
    not known): anything but null, 1.0 and a number of batches no smaller than ``batches``
    (Lightning reads an int as a number of batches, a float as a fraction of them)."""
    if value is None or (isinstance(value, float) and value == 1.0):
        return False
    whole = isinstance(value, int) and not isinstance(value, bool)
    return not (whole and batches is not None and value >= batches)


def _as_written(value: Any) -> str:
    """``value`` as an override writes it: ``true``, ``2``, ``0.1``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def diverged(record: dict[str, Any]) -> bool:
    """Whether ``record`` is a run that failed on a non-finite training loss or non-finite
    weights (:data:`lossbench.errors.DIVERGENCE_MESSAGES`).

    Such a failure is an outcome of the run's config, not an accident: the same config on the
    same machine fails the same way again. A study that runs again keeps it, as it keeps a
    completed run, instead of training it again (:func:`lossbench.train.ended_with_same_config`).

    >>> diverged({"status": "failed", "error": "non-finite training loss (nan) at epoch 3, "
    ...           "step 9 (batch 1)"})
    True
    >>> diverged({"status": "failed", "error": "non-finite weights (nan) at epoch 0, step 1"})
    True
    >>> diverged({"status": "failed", "error": "RuntimeError: out of memory"})
    False
    >>> diverged({"status": "completed", "error": None})
    False
    """
    return record.get("status") == "failed" and str(record.get("error") or "").startswith(
        DIVERGENCE_MESSAGES
    )


def ended(record: dict[str, Any]) -> bool:
    """Whether ``record`` is a run that a sweep keeps as its result: it completed, or it
    :func:`diverged` (a run that failed otherwise, or was interrupted, trains again).

    >>> ended({"status": "completed"}), ended({"status": "failed", "error": "KeyError: 'x'"})
    (True, False)
    """
    return record.get("status") == "completed" or diverged(record)


def protected(record: dict[str, Any], *, kept_failures: bool = False) -> bool:
    """Whether lossbench-train refuses to train over ``record`` (:func:`refuse_completed`): a
    completed run, or with ``kept_failures`` (a job of a sweep) one that :func:`diverged`; never
    a debug run (``debug_run``), which is no result: a run trained with the same settings
    replaces it (a sweep run again with the same debug settings still skips it: :func:`ended`).

    >>> protected({"status": "completed", "debug_run": None})
    True
    >>> protected({"status": "completed", "debug_run": "trainer.fast_dev_run=true"})
    False
    """
    if record.get("debug_run"):
        return False
    return record.get("status") == "completed" or (kept_failures and diverged(record))


def training_cwd(run_dir: str | os.PathLike) -> Path | None:
    """The directory lossbench-train ran from (Hydra records it in ``.hydra/hydra.yaml``, or in
    the folder ``hydra.output_subdir`` named: :func:`hydra_folder`), where the run's relative
    paths (``data.path`` of a CSV) were read; None where it is not recorded.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / ".hydra").mkdir()
        >>> _ = (run / ".hydra" / "hydra.yaml").write_text("hydra: {runtime: {cwd: /data}}")
        >>> training_cwd(run), training_cwd(run / "elsewhere")
        (PosixPath('/data'), None)
    """
    import yaml

    folder = hydra_folder(run_dir)
    if folder is None:
        return None
    hydra_file = folder / "hydra.yaml"
    try:
        saved = yaml.safe_load(hydra_file.read_text(encoding="utf-8"))
        cwd = saved["hydra"]["runtime"]["cwd"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return None  # only a hint: the caller says where it looked
    return Path(cwd) if isinstance(cwd, str) and cwd else None


#: The fix for a job of a sweep that is not run because its directory holds a run of other
#: settings: the sweep's own (the study's summary, :func:`lossbench.progress.not_run_message`,
#: says it again as the sweep ends), never a single run's ``hydra.run.dir``.
SWEEP_NOT_RUN_FIX = (
    "so this job is not run. Give these settings a new directory for the sweep "
    "(hydra.sweep.dir=<new directory>), or put every swept key into hydra.sweep.subdir"
)


def refuse_completed(
    run_dir: str | os.PathLike, *, kept_failures: bool = False, sweep: bool = False
) -> None:
    """Raise :class:`RunExistsError` if ``run_dir`` holds a completed run (never overwrite);
    with ``kept_failures`` (a job of a sweep), also if it holds a run that :func:`diverged`,
    which a sweep keeps as that run's result (:func:`ended`). A debug run's record protects
    nothing (:func:`protected`). :class:`DamagedRunError` where ``metrics.json`` cannot be
    read: lossbench cannot tell what it records. ``sweep``: the run is a job of a sweep, whose
    refusal gives the sweep's fix (:data:`SWEEP_NOT_RUN_FIX`).

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = (run / RECORD_NAME).write_text('{"status": "completed"}')
        >>> try:
        ...     refuse_completed(run, kept_failures=True, sweep=True)
        ... except RunExistsError as error:
        ...     print(str(error).split("; ")[1])
        lossbench never overwrites one, so this job is not run. Give these settings a new \
directory for the sweep (hydra.sweep.dir=<new directory>), or put every swept key into \
hydra.sweep.subdir.
    """
    record = read_record(run_dir)
    if record is None or record.get("debug_run"):  # a debug run is no result: trained over
        return
    if record.get("status") == "completed":
        fix = (
            f", {SWEEP_NOT_RUN_FIX}."
            if sweep
            else ". Choose another hydra.run.dir, or resume with ckpt_path=last only for a "
            "run that did not complete."
        )
        raise RunExistsError(
            f"{Path(run_dir) / RECORD_NAME} already records a completed run; lossbench never "
            f"overwrites one{fix}"
        )
    if kept_failures and diverged(record):
        fix = f", {SWEEP_NOT_RUN_FIX}." if sweep else ". Give these settings another directory."
        raise RunExistsError(
            f"{Path(run_dir) / RECORD_NAME} already records a run that failed on a non-finite "
            f"loss, which a sweep keeps as the result of its settings; lossbench never "
            f"overwrites a kept run{fix}"
        )


#: Where a job of a sweep that trains again from scratch keeps the earlier attempt's checkpoints.
#: The checkpoints of attempts before it are kept beside it, as ``checkpoints-earlier-v1/``,
#: ``checkpoints-earlier-v2/``, ... (:func:`set_aside_attempt_files`).
EARLIER_CHECKPOINTS = "checkpoints-earlier"

#: Where a job that trains again from scratch keeps the earlier attempt's folders,
#: ``<folder>-earlier/`` for ``checkpoints/``, each of :data:`LOGGER_FOLDERS` and its checkpoint
#: callbacks' folders inside the run's (and those of attempts before it in
#: ``<folder>-earlier-v1/``, ``-v2/``, ...).
EARLIER_SUFFIX = "-earlier"

#: Where a run that trains again from scratch keeps the record of its earlier attempt, one that
#: failed (:func:`failed_attempt`), beside that attempt's ``-earlier`` folders (and those of
#: attempts before it in ``metrics-earlier-v1.json``, ... beside ``checkpoints-earlier-v1/``).
EARLIER_RECORD = "metrics-earlier.json"

#: The folders that lossbench's loggers write inside a run's directory, each set aside before a
#: new attempt writes its own: the CSV logger's ``logs/`` and TensorBoard's ``tensorboard/``
#: (W&B keeps each attempt in its own folder under ``wandb/``; MLflow writes to its store,
#: outside the run).
LOGGER_FOLDERS = ("logs", "tensorboard")


def earlier_name(path: Path) -> Path:
    """Where an earlier attempt's folder ``path`` is set aside: ``<folder>-earlier`` beside it;
    its record (``metrics.json``): :data:`EARLIER_RECORD` beside it.

    >>> earlier_name(Path("run/logs")), earlier_name(Path("run/metrics.json"))
    (PosixPath('run/logs-earlier'), PosixPath('run/metrics-earlier.json'))
    """
    if path.name == RECORD_NAME:
        return path.with_name(EARLIER_RECORD)
    return path.with_name(path.name + EARLIER_SUFFIX)


def failed_attempt(record: Mapping[str, Any] | None) -> bool:
    """Whether ``record`` is that of an attempt at a run that failed, and is set aside before
    the run trains again from scratch (:func:`set_aside_attempt_files`): ``status: failed``
    (an exception, a non-finite loss in a single run, a worker's death), not ``refused`` (a
    refusal trained nothing: a run trained again replaces its record).

        >>> failed_attempt({"status": "failed", "refused": False, "error": "KeyError: 'x'"})
        True
        >>> failed_attempt({"status": "failed", "refused": True}), failed_attempt(None)
        (False, False)
    """
    return record is not None and record.get("status") == "failed" and not record.get("refused")


def _failed_attempt_record(run: Path) -> Path | None:
    """``run``'s ``metrics.json`` where it is a :func:`failed_attempt`'s record; None where it
    is missing, another record, or cannot be read (a run refuses to train over that)."""
    path = run / RECORD_NAME
    if not path.is_file():
        return None
    record, _ = load_record(path)
    return path if failed_attempt(record) else None


def checkpoint_folders_inside(
    run_dir: str | os.PathLike, folders: Iterable[str | os.PathLike]
) -> list[Path]:
    """Those of ``folders`` (the folders the run's checkpoint callbacks write to:
    :func:`lossbench.instantiators.checkpoint_dirpaths`) that an earlier attempt's set-aside
    moves (:func:`set_aside_attempt_files`), resolved: each inside ``run_dir``. Left where
    they are: a folder outside ``run_dir`` (an absolute ``dirpath`` that several runs share),
    the run's folder itself, its ``checkpoints/`` (set aside as such), and a folder inside a
    logger's (``logs/checkpoints``, a ``ModelCheckpoint`` without ``dirpath``), which moves
    with it.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp()).resolve()
        >>> inside = checkpoint_folders_inside(run, [run / "ckpts", "/elsewhere", run / "logs/c"])
        >>> [folder.relative_to(run) for folder in inside]
        [PosixPath('ckpts')]
    """
    inside = Path(run_dir).resolve()
    found = []
    for given in folders:
        folder = Path(given).resolve()
        if not folder.is_relative_to(inside) or folder == inside:
            continue
        relative = folder.relative_to(inside)
        if relative == Path("checkpoints") or relative.parts[0] in LOGGER_FOLDERS:
            continue
        found.append(folder)
    return list(dict.fromkeys(found))


def set_aside_attempt_files(
    run_dir: str | os.PathLike, checkpoint_folders: Iterable[str | os.PathLike] = ()
) -> list[Moved]:
    """Move what an earlier attempt at this run left (a job of a sweep that was killed or
    failed, and now trains again from scratch) to its ``-earlier`` names beside it
    (:func:`earlier_name`): ``checkpoints/`` and each of ``checkpoint_folders`` inside the
    run's (:func:`checkpoint_folders_inside`) that holds a checkpoint, each of its loggers'
    folders (:data:`LOGGER_FOLDERS`: ``logs/``, ``tensorboard/``) that holds anything, and its
    record where that attempt failed (:func:`failed_attempt`: ``metrics.json`` to
    :data:`EARLIER_RECORD`, with its ``error`` and timing). Return each move, those of what an
    attempt before it left under the ``-earlier`` names first; none when the attempt left
    nothing to move.

    What an attempt before it left under any of those names (a folder, or a file or link of
    that name) first moves on, all of it under one number: one above the highest ``N`` any of
    the names' ``-vN`` has (:func:`~lossbench.aside_names.move_on_together`), those of
    files this attempt has none of too. So every attempt's files are kept, one attempt's
    share a number (``checkpoints-earlier-v2/``, ``logs-earlier-v2/`` and
    ``metrics-earlier-v2.json``, even where the user removed ``logs-earlier-v1/``), and
    ``checkpoints-earlier/`` holds the checkpoints of the attempt just before this one
    (``ckpt_path=<run dir>/checkpoints-earlier/last.ckpt`` continues it in a single run), or is
    missing where that attempt wrote none.

    The new attempt starts with empty folders: its ``checkpoints/`` holds only its own
    ``best-epochNNN.ckpt``, never beside an earlier attempt's of another epoch; a
    ``ModelCheckpoint`` writing ``<run>/ckpts`` names its last checkpoint ``last.ckpt``, not
    ``last-v1.ckpt`` beside the earlier attempt's, which ``ckpt_path=last`` could then resume in
    its place; its ``logs/metrics.csv`` holds only its own rows, and Lightning's CSV logger
    finds no earlier file to warn of and overwrite. A refused attempt's record is not set
    aside: the new attempt's replaces it.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> for attempt in ("first", "second", "third"):
        ...     for name in ("checkpoints/last.ckpt", "logs/metrics.csv"):
        ...         (run / name).parent.mkdir()
        ...         _ = (run / name).write_text(attempt)
        ...     moved = set_aside_attempt_files(run)
        >>> [(move.source.name, move.target.name) for move in moved]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('checkpoints-earlier', 'checkpoints-earlier-v2'), ('logs-earlier', 'logs-earlier-v2'),
         ('checkpoints', 'checkpoints-earlier'), ('logs', 'logs-earlier')]
        >>> [(p.name, next(p.iterdir()).read_text()) for p in sorted(run.iterdir())]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('checkpoints-earlier', 'third'), ('checkpoints-earlier-v1', 'first'),
         ('checkpoints-earlier-v2', 'second'), ('logs-earlier', 'third'),
         ('logs-earlier-v1', 'first'), ('logs-earlier-v2', 'second')]
        >>> set_aside_attempt_files(run)
        []
        >>> _ = (run / RECORD_NAME).write_text('{"status": "failed", "error": "OSError: full"}')
        >>> [(move.source.name, move.target.name) for move in set_aside_attempt_files(run)]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('checkpoints-earlier', 'checkpoints-earlier-v3'), ('logs-earlier', 'logs-earlier-v3'),
         ('metrics.json', 'metrics-earlier.json')]
    """
    run = Path(run_dir)
    callbacks = checkpoint_folders_inside(run, checkpoint_folders)
    checkpoints = [run / "checkpoints", *callbacks]
    loggers = [run / name for name in LOGGER_FOLDERS]
    every = [*checkpoints, *loggers, run / RECORD_NAME]
    # a callback's folder first: one inside checkpoints/ is set aside before that moves
    held = [folder for folder in [*callbacks, run / "checkpoints"] if any(folder.glob("*.ckpt"))]
    held += [folder for folder in loggers if folder.is_dir() and any(folder.iterdir())]
    held += [path for path in [_failed_attempt_record(run)] if path is not None]
    if not held:
        return []
    older = move_on_together(earlier_name(path) for path in every)
    moved = {path: Moved(path, path.rename(earlier_name(path))) for path in held}
    return [*older, *(moved[path] for path in every if path in moved)]


def is_attempt_set_aside(moved: Moved) -> bool:
    """Whether ``moved`` is the move of an earlier attempt's folder or record to its
    ``-earlier`` name (:func:`set_aside_attempt_files`), not that of what an attempt before it
    left there, moved on to a versioned name.

        >>> is_attempt_set_aside(Moved(Path("r/logs"), Path("r/logs-earlier")))
        True
        >>> is_attempt_set_aside(Moved(Path("r/logs-earlier"), Path("r/logs-earlier-v1")))
        False
    """
    return moved.target.name == earlier_name(moved.source).name


def set_aside_earlier_attempt(
    run_dir: str | os.PathLike, checkpoint_folders: Iterable[str | os.PathLike] = ()
) -> str | None:
    """Set aside what an earlier attempt at this run left, before it trains again from
    scratch: its checkpoints (``checkpoints/``, and the folders of the run's checkpoint
    callbacks, ``checkpoint_folders``, inside ``run_dir``), its loggers' folders and the record
    of an attempt that failed (:func:`failed_attempt`), each to its ``-earlier`` name
    (``metrics-earlier.json`` for the record), where what an attempt before it left moves on to
    ``-earlier-v1``, ..., one number for all of it (:func:`set_aside_attempt_files`); return
    the line that says where everything went, or None when there was nothing to move.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / "logs").mkdir()
        >>> _ = (run / "logs" / "metrics.csv").write_text("epoch\\n0\\n")
        >>> set_aside_earlier_attempt(run).endswith("logs-earlier; training again")
        True
        >>> set_aside_earlier_attempt(run) is None
        True
        >>> (run / "logs").mkdir()
        >>> _ = (run / "logs" / "metrics.csv").write_text("epoch\\n0\\n1\\n")
        >>> _ = (run / RECORD_NAME).write_text('{"status": "failed", "error": "OSError: full"}')
        >>> print(set_aside_earlier_attempt(run).replace(str(run), "<run>"))
        an earlier attempt at this run was set aside: its logs to <run>/logs-earlier, its record \
to <run>/metrics-earlier.json (what an attempt before it left there moved on: \
<run>/logs-earlier to <run>/logs-earlier-v1); training again
    """
    run = Path(run_dir)
    every = set_aside_attempt_files(run, checkpoint_folders)
    if not every:
        return None
    loggers = {run / name for name in LOGGER_FOLDERS}
    attempt = [move for move in every if is_attempt_set_aside(move)]
    record = [move.target for move in attempt if move.source == run / RECORD_NAME]
    logged = [move.target for move in attempt if move.source in loggers]
    kept = [move.target for move in attempt if move.target not in [*record, *logged]]
    moved = [f"its checkpoints to {', '.join(str(p) for p in kept)}"] if kept else []
    moved += [f"its logs to {', '.join(str(p) for p in logged)}"] if logged else []
    moved += [f"its record to {record[0]}"] if record else []
    older = [f"{m.source} to {m.target}" for m in every if not is_attempt_set_aside(m)]
    before = f" (what an attempt before it left there moved on: {', '.join(older)})"
    return (
        f"an earlier attempt at this run was set aside: {', '.join(moved)}"
        f"{before if older else ''}; training again"
    )


def later_best_checkpoints(run_dir: str | os.PathLike, epoch: int) -> list[Path]:
    """The best checkpoints of epochs after ``epoch`` in ``checkpoints/``, which a run resumed
    from its checkpoint of ``epoch`` sets aside to ``checkpoints-earlier/`` first, with the
    other files of the epochs it trains again
    (:func:`~lossbench.later_checkpoints.set_aside_later_epochs`).

    A run killed between writing a new best checkpoint and its ``last.ckpt`` (or killed within
    an epoch after a validation's best) leaves the best of an epoch its ``last.ckpt`` does not
    hold. The resumed run trains that epoch again: beside the old file its best would be
    ``best-epochNNN-v1.ckpt``, and a stale best file would stay beside the run's own.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / "checkpoints").mkdir()
        >>> for name in ("best-epoch003.ckpt", "best-epoch039.ckpt", "last.ckpt"):
        ...     _ = (run / "checkpoints" / name).write_bytes(b"")
        >>> [path.name for path in later_best_checkpoints(run, 38)]
        ['best-epoch039.ckpt']
    """
    later = []
    for path in sorted((Path(run_dir) / "checkpoints").glob("best-epoch*.ckpt")):
        found = re.match(r"best-epoch(\d+)", path.name)
        if found is not None and int(found.group(1)) > epoch:
            later.append(path)
    return later


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_record(
    run_dir: str | os.PathLike, record: dict[str, Any], name: str = RECORD_NAME
) -> Path:
    """Write ``record`` atomically as ``metrics.json`` (non-finite floats become null/str), or
    under ``name`` (a record set aside: ``metrics-max_epochs300-v1.json``)."""
    path = Path(run_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_json_safe(record), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


@functools.cache
def _environment() -> dict[str, Any]:
    import lossbench

    commit = _git(["rev-parse", "HEAD"])
    # Only when HEAD was found: outside a git checkout there is no working tree to compare.
    status = _git(["status", "--porcelain"]) if commit else None
    return {
        "lossbench": lossbench.__version__,
        "torch": _version("torch"),
        "lightning": _version("lightning"),
        "python": platform.python_version(),
        "git_commit": commit,
        "git_dirty": None if status is None else status != "",
    }


def _version(package: str) -> str | None:
    """The version of ``package``: the module's own where this process imported it, else its
    installed distribution's (the same string, read without importing it: the launching process
    of the vectorized launcher records jobs that a worker's death stopped without torch or
    Lightning, :mod:`lossbench.worker_records`); None where neither is found.

        >>> _version("no_such_package_here") is None
        True
    """
    import sys
    from importlib import metadata

    module = sys.modules.get(package)
    if module is not None and getattr(module, "__version__", None) is not None:
        return str(module.__version__)
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(arguments: list[str]) -> str | None:
    """The stripped output of ``git <arguments>`` run in lossbench's source folder; None when
    git is missing, fails (not a git checkout) or takes longer than 5 seconds."""
    import lossbench

    try:
        out = subprocess.run(
            ["git", *arguments],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(lossbench.__file__).parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Versions that make a run reproducible: lossbench, torch, Lightning, Python, git commit
    and whether the working tree differed from it (``git_dirty``: a modified, added, deleted or
    untracked file that .gitignore does not ignore; both null outside a git checkout), of the
    code this process imported (torch and Lightning as installed where it imported neither,
    :func:`_version`): looked up once per process, not once per job."""
    return dict(_environment())
