"""Find run records under any set of paths and load them into one table, one row per run.

    >>> runs = load_runs(["outputs/multiruns/2026-01-01_12-00-00-000000"])  # doctest: +SKIP
    >>> runs[["data", "setup", "seed", "status", "test/nll"]]  # doctest: +SKIP

A path may be a multirun folder, a parent of several, a single run directory or a
``metrics.json``; every ``metrics.json`` below it is read. A record that cannot be read (not
JSON, truncated, not an object) is skipped with a :class:`SkippedRecordWarning` that names the
file and why, and so is a record whose seed is not a whole number; the other runs are
reported; a study whose every record is unreadable is refused (:class:`ReportError`). A
``config.yaml`` that cannot be read warns (:class:`UnreadableConfigWarning`): its run has no
known learning rate (lossbench.report.selection leaves it out of the report).

A debug run (its record's ``debug_run`` names the Lightning debug settings it was trained with,
``trainer.fast_dev_run`` or ``trainer.overfit_batches``) checks that a run works and is no
result: it is left out of every table, plot and verdict, with one :class:`DebugRunWarning` that
names a few (:func:`read_runs` returns them for the report's text); a study of debug runs only
is refused. A record without ``debug_run`` (written before lossbench recorded it) is an
ordinary run.

    >>> runs, debug_runs = read_runs(["outputs/multiruns/<time>"])  # doctest: +SKIP

Where runs of one data set differ in their data settings, they are separate data sets
(:func:`lossbench.report.labels.data_labels`); a run refused before its config.yaml was
written joins the one its job's Hydra record names (:func:`hydra_data_settings`), else the one
of the study folder it sits in, and is left out with an :class:`UnattributedRunWarning` where
neither tells.

A job folder without a record (a job still running, or stopped before it ended) is no run and
is not read; :func:`warn_unfinished_jobs` names how many there are, and a few, with one
:class:`UnfinishedJobWarning`, so that a report of an unfinished study is not taken for a
finished one's.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
import yaml

from lossbench.metric_names import VALIDATION_EPOCH
from lossbench.record import DEBUG_FIX, HYDRA_SUBDIR, hydra_folder, load_record, retrain_damaged
from lossbench.report.errors import ReportError
from lossbench.report.find import RECORD_NAME, find_records, unfinished_jobs
from lossbench.report.labels import assign_setups, data_labels, flatten

CONFIG_NAME = "config.yaml"
#: Hydra's record of a job, in its folder: the composed config (interpolations unresolved) and
#: the job's overrides. A run refused before lossbench wrote its config.yaml has them.
HYDRA_CONFIG = Path(HYDRA_SUBDIR) / "config.yaml"
HYDRA_OVERRIDES = Path(HYDRA_SUBDIR) / "overrides.yaml"
#: Metric keys in a record start with one of these stages.
STAGES = ("test", "val", "train")
#: Columns of results.csv before and after the metrics.
LEADING_COLUMNS = (
    "data",
    "task",
    "setup",
    "head",
    "loss",
    "seed",
    "lr",
    "model",
    "status",
    "refused",
    "error",
)
TRAILING_COLUMNS = (
    "epochs",
    "steps",
    "train_seconds",
    "best_epoch",
    "stopped_by",
    "split_seed",
    "run_dir",
)


class SkippedRecordWarning(UserWarning):
    """A ``metrics.json`` that cannot be read was left out of the report."""


class UnreadableConfigWarning(UserWarning):
    """A run's ``config.yaml`` exists but cannot be read: its settings are unknown."""


class UnattributedRunWarning(UserWarning):
    """Runs without a config.yaml that belong to none of the data sets their data set's name
    was split into by settings (:func:`lossbench.report.labels.data_labels`): left out."""


class DebugRunWarning(UserWarning):
    """Runs trained with Lightning's debug settings were left out of the report."""


class UnfinishedJobWarning(UserWarning):
    """Job folders without a ``metrics.json``: jobs still running, or stopped before they
    ended, are not in the report."""


@dataclass(frozen=True)
class DebugRun:
    """A run left out of the report: ``settings`` is its record's ``debug_run``
    (``trainer.fast_dev_run=true``, ``trainer.overfit_batches=2``, ...)."""

    run_dir: str
    settings: str


def _debug_run(record: dict[str, Any]) -> str | None:
    """The record's ``debug_run`` where it names debug settings; None for an ordinary run,
    and for a record written before lossbench recorded it (no ``debug_run``).

    >>> _debug_run({"debug_run": "trainer.fast_dev_run=true"}), _debug_run({"status": "completed"})
    ('trainer.fast_dev_run=true', None)
    """
    value = record.get("debug_run")
    return value if isinstance(value, str) and value else None


def left_out_debug_runs(
    debug_runs: Sequence[DebugRun], where: Callable[[str], str] = str, shown: int = 3
) -> str:
    """What the report says of the debug runs it leaves out: how many, their settings and the
    first ``shown`` run directories (each as ``where`` writes it).

    >>> runs = [DebugRun(f"s/{i}", "trainer.fast_dev_run=true") for i in range(5)]
    >>> left_out_debug_runs(runs)
    '5 debug runs (trainer.fast_dev_run=true) left out: s/0, s/1, s/2 and 2 more'
    >>> left_out_debug_runs(runs[:1])
    '1 debug run (trainer.fast_dev_run=true) left out: s/0'
    """
    settings = "; ".join(sorted({run.settings for run in debug_runs}))
    dirs = ", ".join(where(run.run_dir) for run in debug_runs[:shown])
    more = f" and {len(debug_runs) - shown} more" if len(debug_runs) > shown else ""
    runs = "run" if len(debug_runs) == 1 else "runs"
    return f"{len(debug_runs)} debug {runs} ({settings}) left out: {dirs}{more}"


def without_record(
    folders: Sequence[str | os.PathLike], where: Callable[[str], str] = str, shown: int = 3
) -> str:
    """What the report says of the job folders without a record: how many, and the first
    ``shown`` (each as ``where`` writes it).

    >>> without_record([f"s/{i}_iris" for i in range(5)])
    '5 job folders hold no metrics.json: s/0_iris, s/1_iris, s/2_iris and 2 more'
    >>> without_record(["s/1_iris"])
    '1 job folder holds no metrics.json: s/1_iris'
    """
    listed = ", ".join(where(str(folder)) for folder in folders[:shown])
    more = f" and {len(folders) - shown} more" if len(folders) > shown else ""
    count = "job folder holds" if len(folders) == 1 else "job folders hold"
    return f"{len(folders)} {count} no {RECORD_NAME}: {listed}{more}"


#: Why a job folder has no record, and what to do.
UNFINISHED_WHY = (
    "a job whose folder has none is still running, or was stopped before it ended (killed, "
    "out of memory, a machine that went down), and is in no table, figure or verdict here"
)
UNFINISHED_FIX = (
    "report again once the jobs have ended; to train the stopped ones, run the study's "
    "command again into its folder (its jobs that already ended with the same config are "
    "skipped), adding hydra.sweep.dir=<its folder> where the folder is named by the time it "
    "started, as a plain -m sweep's and an Optuna search's are"
)


def warn_unfinished_jobs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """The job folders under ``paths`` without a record (:func:`unfinished_jobs`), with one
    :class:`UnfinishedJobWarning` that names how many and the first few where there are
    any."""
    folders = unfinished_jobs(paths)
    if folders:
        warnings.warn(
            f"{without_record(folders)}: {UNFINISHED_WHY}. The report counts the runs that "
            f"have one: {UNFINISHED_FIX}.",
            UnfinishedJobWarning,
            stacklevel=3,
        )
    return folders


#: Why a debug run is no result, and how to train one that is.
_DEBUG_WHY = (
    "a run trained with Lightning's debug settings (a few batches, or the same batches again "
    "and again) checks that it works, and is no result"
)
_DEBUG_FIX = f"{DEBUG_FIX}, then report those runs"


def _refuse_debug_only(
    debug_runs: Sequence[DebugRun], paths: Sequence[Any], n_records: int
) -> ReportError:
    """The refusal of a study whose every readable run is a debug run (``n_records``: the
    records found, the unreadable ones too)."""
    given = ", ".join(repr(str(p)) for p in paths)
    settings = "; ".join(sorted({run.settings for run in debug_runs}))
    count = "the only run" if len(debug_runs) == 1 else f"every one of the {len(debug_runs)} runs"
    skipped = n_records - len(debug_runs)
    others = (
        f" (the other {skipped} {RECORD_NAME} file{'s were' if skipped > 1 else ' was'} "
        "skipped, see the warnings above)"
        if skipped
        else ""
    )
    return ReportError(
        f"{count} under {given} is a debug run ({settings}; e.g. {debug_runs[0].run_dir}): "
        f"{_DEBUG_WHY}, so there is nothing to compare{others}. To report the study, "
        f"{_DEBUG_FIX}."
    )


def _number(value: Any) -> float | None:
    """A metric value as a float: record.py writes NaN as null and infinities as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _is_metric(key: str) -> bool:
    stage, sep, name = key.partition("/")
    return bool(sep) and stage in STAGES and bool(name)


#: PyYAML's safe loader, in C where PyYAML was built with libyaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_config(
    run_dir: Path, name: str = CONFIG_NAME
) -> tuple[dict[str, Any] | None, str | None]:
    """The run's config (``name`` in ``run_dir``), or None and why: ``config.yaml missing`` or
    ``config.yaml unreadable (...)``."""
    path = run_dir / name
    if not path.is_file():
        return None, f"{CONFIG_NAME} missing"
    try:  # libyaml's loader where PyYAML has it: a study's ~1000 configs in ~2 s, not ~30 s
        config = yaml.load(path.read_text(), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else ""
        return None, f"{CONFIG_NAME} unreadable ({type(error).__name__}: {reason})"
    if not isinstance(config, dict):
        return None, f"{CONFIG_NAME} unreadable (holds a {type(config).__name__}, not a mapping)"
    return config, None


def read_config(run_dir: Path) -> dict[str, Any] | None:
    """The ``config.yaml`` in ``run_dir`` as the report reads it (libyaml where PyYAML has
    it), or None where it is missing or cannot be read."""
    return _read_config(run_dir)[0]


def _literal(value: Any) -> bool:
    """Whether a value of Hydra's composed config is a value, not an interpolation."""
    return not (isinstance(value, str) and "${" in value)


def _override_value(text: str) -> Any:
    """An override's value as YAML reads it (``0.25`` a number), else the text."""
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return text


def hydra_data_settings(run_dir: Path) -> dict[str, Any] | None:
    """The data settings (flattened ``data.*`` keys) that Hydra recorded in a job's folder:
    the ``data`` group of ``.hydra/config.yaml`` (``${seed}`` as the job's seed, other
    interpolations left out), else the job's ``data.*`` overrides in
    ``.hydra/overrides.yaml`` (or in the folder ``hydra.output_subdir`` named:
    :func:`lossbench.record.hydra_folder`); None where the folder records neither. What a run
    refused before its config.yaml was written says of its data.

        >>> import tempfile
        >>> job = Path(tempfile.mkdtemp())
        >>> (job / ".hydra").mkdir()
        >>> _ = (job / HYDRA_OVERRIDES).write_text("- data=wine\\n- data.val_fraction=0.25\\n")
        >>> hydra_data_settings(job)
        {'data.val_fraction': 0.25}
        >>> _ = (job / HYDRA_CONFIG).write_text(
        ...     "seed: 1\\ndata:\\n  name: wine\\n  val_fraction: 0.3\\n  split_seed: ${seed}\\n")
        >>> hydra_data_settings(job)
        {'data.name': 'wine', 'data.val_fraction': 0.3, 'data.split_seed': 1}
    """
    folder = hydra_folder(run_dir)
    if folder is None:
        return None
    config, _ = _read_config(folder, HYDRA_CONFIG.name)
    if config is not None and isinstance(config.get("data"), dict):
        seed = config.get("seed")
        data = flatten(config["data"], "data.")
        return {
            k: seed if v == "${seed}" and isinstance(seed, int) else v
            for k, v in data.items()
            if _literal(v) or (v == "${seed}" and isinstance(seed, int))
        }
    path = folder / HYDRA_OVERRIDES.name
    try:
        overrides = yaml.load(path.read_text(), Loader=_YAML_LOADER) if path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(overrides, list):
        return None
    settings: dict[str, Any] = {}
    for override in overrides:
        key, sep, value = str(override).lstrip("+~").partition("=")
        if sep and key.startswith("data."):
            settings[key] = _override_value(value)
    return settings


def _whole_number(value: Any) -> bool:
    """Whether ``value`` can be a seed: None or a whole number (``1``, ``1.0``, ``"1"``).

    >>> [_whole_number(v) for v in (None, 1, 1.0, "1", 1.5, "one", True)]
    [True, True, True, True, False, False, False]
    """
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    number = pd.to_numeric(value, errors="coerce")
    return bool(pd.notna(number) and float(number).is_integer())


def _to_int(values: pd.Series) -> pd.Series:
    """``values`` as nullable integers; a value that is not a whole number becomes missing."""
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.where(numbers.notna() & (numbers % 1 == 0))
    return whole.astype("Float64").astype("Int64")


def _read_record(path: Path) -> tuple[dict[str, Any], str | None]:
    """The record, or an empty one and the reason it could not be read."""
    record, problem = load_record(path)  # the reader lossbench-train refuses such a run with
    return record or {}, problem


def _task(record: dict[str, Any], config: dict[str, Any] | None, data: str | None) -> str | None:
    """The record's task; refused runs lack it, so fall back to the config or the registry."""
    if record.get("task"):
        return record["task"]
    if config and isinstance(config.get("data"), dict) and config["data"].get("task"):
        return config["data"]["task"]
    from lossbench.data.datasets import DATASETS

    spec = DATASETS.get(data) if data else None
    return spec.task if spec is not None else None


def _history(
    record: dict[str, Any], config: dict[str, Any] | None = None
) -> dict[str, list[float]] | None:
    """``history`` with every value a float (NaN for null or non-numbers), or None.

    A record written before the history said when each validation ran (``val/epoch``), of a
    run that validated every k-th epoch's end (``trainer.check_val_every_n_epoch=k``,
    ``val_check_interval`` 1 in its ``config``), gets ``val/epoch`` = k, 2k, ...: so that the
    report places its validations where a newer record's are.

        >>> old = {"history": {"val/nll": [0.5, 0.4], "train/loss": [1, 1, 1, 1]}}
        >>> _history(old, {"trainer": {"check_val_every_n_epoch": 2}})["val/epoch"]
        [2.0, 4.0]
    """
    history = record.get("history")
    if not isinstance(history, dict):
        return None
    floats = {
        key: [math.nan if (x := _number(v)) is None else x for v in values]
        for key, values in history.items()
        if isinstance(values, list)
    }
    if VALIDATION_EPOCH not in floats:
        trainer = (config or {}).get("trainer") or {}
        every, interval = trainer.get("check_val_every_n_epoch"), trainer.get("val_check_interval")
        validations = max((len(v) for k, v in floats.items() if k.startswith("val/")), default=0)
        if isinstance(every, int) and every > 1 and interval in (None, 1, 1.0) and validations:
            floats[VALIDATION_EPOCH] = [float(every * (i + 1)) for i in range(validations)]
    return floats


def _reliability(record: dict[str, Any]) -> dict[str, list] | None:
    """``test_reliability`` if it has equally long ``confidence``, ``accuracy`` and ``count``
    lists (what lossbench.metrics.reliability_bins writes), else None."""
    bins = record.get("test_reliability")
    keys = ("confidence", "accuracy", "count")
    if not isinstance(bins, dict) or not all(isinstance(bins.get(k), list) for k in keys):
        return None
    lengths = {len(bins[k]) for k in keys}
    return bins if len(lengths) == 1 else None


def load_run(path: Path) -> dict[str, Any]:
    """One row of the results table from the ``metrics.json`` at ``path``.

    Besides the record's fields, the row holds ``refused`` (failed before training started: the
    config was refused), ``run_dir`` and private columns ``_history``, ``_reliability``,
    ``_group_size`` (the members of the vectorized group it trained in; None: trained alone),
    ``_config`` (the flattened config.yaml or None) and ``_config_problem`` (why there is none)
    that are not written to results.csv.
    """
    run_dir = path.parent
    record, problem = _read_record(path)
    config, config_problem = _read_config(run_dir)
    flat = flatten(config) if config is not None else None
    fallback = flat or {}
    data = record.get("data", fallback.get("data.name"))
    if data == "csv" and fallback.get("data.path"):
        data = f"csv:{Path(str(fallback['data.path'])).name}"
    status = record.get("status")
    error = problem
    if error is None and status not in ("completed", "failed"):
        error = f"{RECORD_NAME} has status {status!r}; expected 'completed' or 'failed'"
    if error is None and status == "failed":
        error = record.get("error") or "failed; the record gives no reason"
    row: dict[str, Any] = {
        "data": data if data is not None else "unknown",
        "task": _task(record, config, data),
        "setup": record.get("setup"),
        "head": record.get("head", fallback.get("head.name", "unknown")),
        "loss": record.get("loss", fallback.get("loss.name", "unknown")),
        "seed": record.get("seed", fallback.get("seed")),
        "model": record.get("model", fallback.get("model.name")),
        "status": "completed" if error is None else "failed",
        # lossbench writes "refused"; older records without it: validate() sets the task, so a
        # failed record without one was refused before training.
        "refused": problem is None
        and status == "failed"
        and bool(record.get("refused", not record.get("task"))),
        "error": error,
        "epochs": record.get("epochs"),
        "steps": record.get("steps"),
        "train_seconds": record.get("train_seconds"),
        "best_epoch": record.get("best_epoch"),
        # How the fit ended (records before lossbench recorded it: unknown, None).
        "stopped_by": "failed" if error is not None else record.get("stopped_by"),
        "lr": _number(fallback.get("optimizer.lr")),
        "split_seed": fallback.get("data.split_seed"),
        "run_dir": str(run_dir),
        "_history": _history(record, config),
        "_reliability": _reliability(record),
        "_group_size": record.get("group_size"),
        "_config": flat,
        "_config_problem": config_problem,
        # what the job's folder says of its data where there is no config (a refused run)
        "_data_settings": hydra_data_settings(run_dir) if config is None else None,
    }
    for key, value in record.items():
        if _is_metric(key):
            number = _number(value)
            row[key] = math.nan if number is None else number
    return row


def csv_names(paths: Sequence[str]) -> dict[str, str]:
    """The data-set name of each CSV file: ``csv:<file name>``, or where different files share
    a file name, the shortest end of their paths that tells them apart.

    >>> csv_names(["/d/a/bin.csv", "/d/b/bin.csv", "/d/x.csv", "/d/a/bin.csv"])
    {'/d/a/bin.csv': 'csv:a/bin.csv', '/d/b/bin.csv': 'csv:b/bin.csv', '/d/x.csv': 'csv:x.csv'}
    """
    files = {str(p): PurePath(os.path.normpath(str(p))) for p in paths}
    by_name: dict[str, list[PurePath]] = {}
    for path in dict.fromkeys(files.values()):
        by_name.setdefault(path.name, []).append(path)
    names: dict[PurePath, str] = {}
    for same in by_name.values():
        longest = max(len(p.parts) for p in same)
        for k in range(1, longest + 1):
            ends = {p: PurePath(*p.parts[-k:]).as_posix() for p in same}
            if len(set(ends.values())) == len(same):
                break
        names.update({p: f"csv:{end}" for p, end in ends.items()})
    return {raw: names[path] for raw, path in files.items()}


def _name_csv_data(runs: pd.DataFrame) -> pd.Series:
    """``data`` with each CSV data set named by :func:`csv_names` (different files that share
    a file name are different data sets)."""
    paths = [
        str(c["data.path"]) if d.startswith("csv:") and c and c.get("data.path") else None
        for d, c in zip(runs["data"].astype(str), runs["_config"], strict=True)
    ]
    names = csv_names([p for p in paths if p is not None])
    return pd.Series(
        [names[p] if p is not None else d for p, d in zip(paths, runs["data"], strict=True)],
        index=runs.index,
    )


def metric_order(columns: Sequence[str]) -> list[str]:
    """Metric columns ordered by stage (test, val, train), then by name."""
    metrics = [c for c in columns if _is_metric(c)]
    return sorted(metrics, key=lambda c: (STAGES.index(c.partition("/")[0]), c))


def load_runs(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """All runs under ``paths`` but the debug runs: one row each, setups labelled, sorted by
    data, setup and seed (:func:`read_runs` without the debug runs it left out).

    Raises:
        ReportError: A path does not exist, holds no readable ``metrics.json``, or only debug
            runs.

    Warns:
        SkippedRecordWarning: for each ``metrics.json`` that cannot be read, or whose seed is
            not a whole number (it is left out).
        UnreadableConfigWarning: for each ``config.yaml`` that exists but cannot be read.
        DebugRunWarning: once, naming a few of the debug runs left out.
    """
    return read_runs(paths)[0]


def read_runs(paths: Sequence[str | os.PathLike]) -> tuple[pd.DataFrame, list[DebugRun]]:
    """The runs under ``paths`` as :func:`load_runs` gives them, and the debug runs it left
    out (in the order of their records' paths)."""
    records = find_records(paths)
    rows, debug_runs = _read_rows(records)
    if not rows and debug_runs:
        raise _refuse_debug_only(debug_runs, paths, len(records))
    if debug_runs:
        warnings.warn(
            f"{left_out_debug_runs(debug_runs)}: {_DEBUG_WHY}. The other runs are reported.",
            DebugRunWarning,
            stacklevel=3,
        )
    if not rows:
        raise ReportError(
            f"none of the {len(records)} {RECORD_NAME} files under "
            f"{', '.join(repr(str(p)) for p in paths)} can be read (each was skipped, see the "
            "warnings above). Fix them as those warnings say, or pass another study."
        )
    return _runs_table(rows), debug_runs


def _read_rows(records: Sequence[Path]) -> tuple[list[dict[str, Any]], list[DebugRun]]:
    """One row per record that can be read, and the debug runs; a warning for each record
    that is skipped and each ``config.yaml`` that cannot be read."""
    rows: list[dict[str, Any]] = []
    debug_runs: list[DebugRun] = []
    for path in records:
        record, problem = _read_record(path)
        if problem is not None:
            warnings.warn(
                f"skipped {path}: {problem}. The other runs are reported; lossbench-train "
                "never trains over a file it cannot read: to run that job again, "
                f"{retrain_damaged(path)} first.",
                SkippedRecordWarning,
                stacklevel=2,
            )
            continue
        settings = _debug_run(record)
        if settings is not None:
            debug_runs.append(DebugRun(str(path.parent), settings))
            continue
        row = load_run(path)
        if not _whole_number(row["seed"]):
            warnings.warn(
                f"skipped {path}: its seed is {row['seed']!r}, not a whole number. The other "
                "runs are reported; correct the seed or run that job again.",
                SkippedRecordWarning,
                stacklevel=2,
            )
            continue
        if row["_config_problem"] and row["_config_problem"] != f"{CONFIG_NAME} missing":
            warnings.warn(
                f"{path.parent / CONFIG_NAME}: {row['_config_problem']}: the run's settings "
                "and learning rate are unknown.",
                UnreadableConfigWarning,
                stacklevel=2,
            )
        rows.append(row)
    return rows, debug_runs


def _runs_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``rows`` as the runs table: data sets and setups labelled, columns ordered, sorted."""
    runs = pd.DataFrame(rows)
    runs["data"] = _name_csv_data(runs)
    known = runs.dropna(subset=["task"]).groupby("data")["task"].first()
    runs["task"] = runs["task"].fillna(runs["data"].map(known))
    runs["data"] = data_labels(runs)  # different data settings: different data sets
    runs = _without_unattributed(runs)
    for column in ("seed", "epochs", "steps", "best_epoch", "split_seed"):
        runs[column] = _to_int(runs[column])
    runs = assign_setups(runs)
    metrics = metric_order(list(runs.columns))
    private = [c for c in runs.columns if c.startswith("_")]
    order = [*LEADING_COLUMNS, *metrics, *TRAILING_COLUMNS, "variant", *private]
    runs = runs[order].sort_values(["data", "setup", "seed", "run_dir"], na_position="last")
    return runs.reset_index(drop=True)


def _without_unattributed(runs: pd.DataFrame, shown: int = 3) -> pd.DataFrame:
    """``runs`` without the runs that :func:`lossbench.report.labels.data_labels` could give
    to none of the data sets their name was split into, with one
    :class:`UnattributedRunWarning` that names how many and a few."""
    lost = runs["data"].isna()
    if not lost.any():
        return runs
    dirs = list(runs.loc[lost, "run_dir"])
    more = f" and {len(dirs) - shown} more" if len(dirs) > shown else ""
    count = "1 run" if len(dirs) == 1 else f"{len(dirs)} runs"
    warnings.warn(
        f"{count} without a {CONFIG_NAME} left out: {', '.join(dirs[:shown])}{more}. Its data "
        "set's runs differ in their data settings, and neither its job's folder (.hydra/) "
        "nor the runs beside it tell which settings it had. The other runs are reported.",
        UnattributedRunWarning,
        stacklevel=4,
    )
    return runs[~lost]


def results_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The public columns of ``runs``: what results.csv holds."""
    return runs[[c for c in runs.columns if not c.startswith("_")]]
