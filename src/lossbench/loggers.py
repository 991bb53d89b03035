"""Loggers, and logger factories that need more than Lightning's constructor (configs/logger/).

lossbench-train logger=csv             # <run dir>/logs/metrics.csv and hparams.yaml (the default)
lossbench-train logger=mlflow          # metrics of every run in outputs/mlflow.db
lossbench-train logger=wandb           # offline: <run dir>/wandb/
lossbench-train <same overrides> ckpt_path=last   # every logger goes on: each epoch once
lossbench-train <...> ckpt_path=<other run>/checkpoints/last.ckpt   # starts with that run's epochs
"""

from __future__ import annotations

import csv
import warnings
from argparse import Namespace
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

from lossbench.lightning_internals import drop_unset_wandb_anonymous

__all__ = [
    "CSVLogger",
    "ResumedMLFlowLogger",
    "continue_csv_logs",
    "continue_logs",
    "continue_tensorboard_logs",
    "log_final_metrics",
    "log_missing_training_row",
    "mlflow_logger",
    "wandb_logger",
    "wandb_run_of",
]


class CSVLogger(LightningCSVLogger):
    """Lightning's ``CSVLogger`` (the same ``metrics.csv`` and ``hparams.yaml``) that writes
    ``hparams.yaml`` with libyaml's emitter.

        >>> import tempfile
        >>> logger = CSVLogger(tempfile.mkdtemp(), name="logs", version="")
        >>> logger.log_hyperparams({"model": {"hidden_sizes": [64, 64]}, "lr": 0.001})
        >>> print((Path(logger.log_dir) / "hparams.yaml").read_text(), end="")
        model:
          hidden_sizes:
          - 64
          - 64
        lr: 0.001

    Lightning writes the file through OmegaConf (a deep copy, a ``DictConfig`` built from the
    plain values, its YAML): about 20 ms of a run's fit for lossbench's hyper-parameters, a
    few percent of a small model's. Plain values (dicts, lists, strings, numbers, booleans,
    None) give the same document here in about 1 ms; anything else (a ``DictConfig``, an
    ``Enum``, a path) goes through Lightning's own writer, as before.

    A resumed run continues the ``metrics.csv`` it finds (:meth:`continue_epochs`): Lightning's
    writer would delete it, and with it every epoch before the resume.
    """

    @rank_zero_only
    def continue_epochs(
        self,
        last_epoch: int,
        earlier: Path | None = None,
        history: Mapping[str, list[float]] | None = None,
        step: int | None = None,
    ) -> list[dict[str, str]] | None:
        """Keep the rows of epochs ``0 .. last_epoch`` of the ``metrics.csv`` already in
        :attr:`log_dir` (a run resumed from a checkpoint of ``last_epoch``), before the first
        new row; call it before training starts. Where :attr:`log_dir` holds none (a run
        trained on in a new directory), the rows are those of ``earlier``: the ``metrics.csv``
        of the run that wrote the checkpoint, when it has one.

            >>> import tempfile
            >>> logger = CSVLogger(tempfile.mkdtemp(), name="logs", version="")
            >>> for epoch in range(3):
            ...     logger.log_metrics({"epoch": epoch, "val/nll": 1.0 / (epoch + 1)}, step=epoch)
            >>> logger.save()
            >>> resumed = CSVLogger(logger.save_dir, name="logs", version="")
            >>> resumed.continue_epochs(1)
            >>> print((Path(resumed.log_dir) / "metrics.csv").read_text(), end="")
            epoch,step,val/nll
            0,0,1.0
            1,1,0.5

        The rows of later epochs, which the resumed run trains again, and rows without an epoch
        (the final evaluation of a run that ended) are left out; values are copied as written.
        ``history``: the checkpoint's (:func:`lossbench.checkpoint_format.history`), from which
        the training row of ``last_epoch`` is written at ``step`` where the file lacks it
        (:func:`_missing_training_row`). Returns that row in a list, empty where the file has
        it; None where there was no file to tell.
        """
        path = Path(self.log_dir) / "metrics.csv"
        if not path.is_file() and earlier is not None:
            path = earlier
        rows = list(_rows_through(path, last_epoch)) if path.is_file() else []
        missing = None
        if step is not None and path.is_file():
            missing = _missing_training_row(rows, last_epoch, history or {}, step)
            rows += missing
        with warnings.catch_warnings():  # "... will be deleted": the rows are written back
            warnings.filterwarnings("ignore", message="Experiment logs directory")
            writer = self.experiment  # Lightning's writer: deletes the file it finds
        if rows:
            writer.metrics = rows
            writer.save()
        return missing

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace | None = None) -> None:
        import yaml

        values = vars(params) if isinstance(params, Namespace) else dict(params or {})
        experiment = self.experiment
        experiment.hparams.update(values)
        try:
            text = yaml.dump(
                dict(experiment.hparams),
                Dumper=_hparams_dumper(),
                default_flow_style=False,
                allow_unicode=True,
                sort_keys=False,
            )
        except yaml.YAMLError:  # a value only Lightning's writer handles
            super().log_hyperparams(params)
            return
        path = Path(experiment.log_dir) / experiment.NAME_HPARAMS_FILE
        path.write_text(text, encoding="utf-8")


def _missing_training_row(
    rows: list[dict[str, str]], epoch: int, history: Mapping[str, list[float]], step: int
) -> list[dict[str, str]]:
    """The training row of ``epoch`` from ``history`` at ``step``, where ``rows`` hold the
    epoch's validation but not its training metrics; else none.

    Lightning's loop (``training_loop: batch``) logs an epoch's training metrics after its
    checkpoint callback has written ``last.ckpt``: a process killed between the two leaves the
    checkpoint, whose history holds them, without the row, and the resumed run, which starts at
    the next epoch, never logs it. Lightning logs it at the epoch's last step (the checkpoint's
    ``global_step`` less one).

        >>> rows = [{"epoch": "0", "step": "3", "val/nll": "0.9", "train/loss": ""}]
        >>> _missing_training_row(rows, 0, {"train/loss": [1.5], "val/nll": [0.9]}, 3)
        [{'epoch': '0', 'step': '3', 'train/loss': '1.5'}]
        >>> _missing_training_row([{**rows[0], "train/loss": "1.5"}], 0, {"train/loss": [1.5]}, 3)
        []
    """
    training = _training_of(history, epoch)
    of_epoch = [row for row in rows if row.get("epoch") and int(float(row["epoch"])) == epoch]
    if not training or not of_epoch:
        return []
    if any(row.get(key) not in (None, "") for row in of_epoch for key in training):
        return []
    values = {key: str(value) for key, value in training.items()}
    return [{"epoch": of_epoch[-1]["epoch"], "step": str(step), **values}]


def _rows_through(path: Path, last_epoch: int) -> Iterable[dict[str, str]]:
    """The rows of ``metrics.csv`` whose ``epoch`` is at most ``last_epoch``, as text."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                epoch = int(float(row.get("epoch") or ""))
            except ValueError:  # no epoch: the evaluation after training
                continue
            if epoch <= last_epoch:
                yield row


def continue_csv_logs(
    loggers: Iterable[Any],
    last_epoch: int,
    run_dir: Path | None = None,
    earlier_run: Path | None = None,
    history: Mapping[str, list[float]] | None = None,
    step: int | None = None,
) -> list[dict[str, str]] | None:
    """:meth:`CSVLogger.continue_epochs` of each of ``loggers`` that is lossbench's CSVLogger
    (the others start their own files, or append to their own store). ``run_dir``: the run's
    directory; ``earlier_run``: that of the run whose checkpoint it resumes, whose
    ``metrics.csv`` (at the same place below it) starts a new directory's file; ``history``:
    the checkpoint's, and ``step`` the step at which its last epoch's training row is
    written where the file lacks it. Returns that row in a list (empty where the file has
    it), as the first CSV file found tells; None where none tells."""
    told = None
    for logger in loggers:
        if isinstance(logger, CSVLogger):
            earlier = _earlier_csv(logger, run_dir, earlier_run)
            missing = logger.continue_epochs(last_epoch, earlier, history, step)
            told = missing if told is None else told
    return told


def continue_logs(
    loggers: Iterable[Any],
    last_epoch: int,
    global_step: int,
    history: Mapping[str, list[float]],
    run_dir: Path,
    earlier_run: Path,
) -> None:
    """Make every logger of a run resumed from a checkpoint of epoch ``last_epoch`` and
    ``global_step`` optimizer steps continue as the uninterrupted run's: its ``metrics.csv``
    keeps the epochs before the resume (:func:`continue_csv_logs`), TensorBoard hides the
    points logged after the checkpoint (:func:`continue_tensorboard_logs`), and the training
    row of ``last_epoch``, which Lightning logs after writing ``last.ckpt`` and a process killed
    in between never logged, is logged from the checkpoint's ``history`` to each logger at
    Lightning's step for it, ``global_step - 1`` (:func:`log_missing_training_row`). Call it
    before the fit starts. ``run_dir``: the run's directory; ``earlier_run``: that of the run
    that wrote the checkpoint (another one: a run trained on in a new directory, whose other
    loggers start anew and get no row of the earlier run's).

        lossbench-train <same overrides> ckpt_path=last   # every logger: each epoch once
    """
    loggers = list(loggers)
    step = global_step - 1
    told = continue_csv_logs(loggers, last_epoch, run_dir, earlier_run, history, step)
    continue_tensorboard_logs(loggers, global_step)
    if Path(earlier_run).resolve() == Path(run_dir).resolve():
        others = [logger for logger in loggers if not isinstance(logger, CSVLogger)]
        log_missing_training_row(others, last_epoch, history, step, told)


@rank_zero_only
def log_missing_training_row(
    loggers: list[Any],
    epoch: int,
    history: Mapping[str, list[float]],
    step: int,
    told: list[dict[str, str]] | None = None,
) -> None:
    """Log the training metrics of ``epoch`` from ``history`` at ``step`` to ``loggers``
    where the run's logs lack them (a process killed after its checkpoint and before
    Lightning logged them): ``told``, the row the CSV file lacked (empty where it has it),
    decides; without a CSV file, the first of ``loggers`` whose store can be read (MLflow's,
    TensorBoard's events) decides for all; W&B's cannot be read, and alone gets no row."""
    training = _training_of(history, epoch)
    if not training or not loggers:
        return
    missing = bool(told) if told is not None else _lacks_training_row(loggers, training, step)
    if not missing:
        return
    for logger in loggers:
        logger.log_metrics({**training, "epoch": float(epoch)}, step=step)
        logger.save()


def _training_of(history: Mapping[str, list[float]], epoch: int) -> dict[str, float]:
    """The ``train/*`` metrics of ``epoch`` in ``history``.

    >>> _training_of({"train/loss": [0.9, 0.5], "val/nll": [1.0, 0.6]}, 1)
    {'train/loss': 0.5}
    """
    return {
        key: float(values[epoch])
        for key, values in history.items()
        if key.startswith("train/") and len(values) > epoch
    }


def _lacks_training_row(loggers: Iterable[Any], training: Mapping[str, float], step: int) -> bool:
    """Whether the first of ``loggers`` whose store can be read holds none of the ``training``
    metrics at ``step``, yet holds a metric at that step (the epoch's validation); False where
    none can be read."""
    for logger in loggers:
        steps = _logged_steps(logger, set(training) | {"epoch"})
        if steps is not None:
            return step in steps.get("epoch", ()) and not any(
                step in steps.get(key, ()) for key in training
            )
    return False


def _logged_steps(logger: Any, keys: set[str]) -> dict[str, set[int]] | None:
    """The steps at which ``logger`` has logged each of ``keys`` so far, read from its store
    (an ``MLFlowLogger``'s run, a ``TensorBoardLogger``'s event files); None for another."""
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

    if isinstance(logger, MLFlowLogger):
        client, run_id = logger.experiment, logger.run_id
        return {key: {m.step for m in client.get_metric_history(run_id, key)} for key in keys}
    if isinstance(logger, TensorBoardLogger):
        return _tensorboard_steps(Path(logger.log_dir), keys)
    return None


def _tensorboard_steps(folder: Path, keys: set[str]) -> dict[str, set[int]] | None:
    """The steps of the scalars ``keys`` in the event files of ``folder``, as TensorBoard shows
    them (an earlier purge applied); None where ``tensorboard`` is missing (tensorboardX's
    writer) and the files cannot be read."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return None
    if not folder.is_dir():
        return {}
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = set(accumulator.Tags().get("scalars", ()))
    return {key: {event.step for event in accumulator.Scalars(key)} for key in keys & tags}


def continue_tensorboard_logs(loggers: Iterable[Any], global_step: int) -> None:
    """Have each ``TensorBoardLogger`` of ``loggers`` start its events file with a purge at
    ``global_step`` (``SummaryWriter``'s ``purge_step``), for a run resumed from a checkpoint
    of ``global_step`` optimizer steps, whose last epoch was logged at ``global_step - 1`` (the
    index of its last step, as Lightning's loop logs it): TensorBoard then hides the points
    that a killed run logged after that checkpoint (a validation within the epoch it was killed
    in, or an epoch whose checkpoint was still being written), which the resumed run logs
    again. Call it before the logger's first write."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from lossbench.lightning_internals import set_summary_writer_option

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            set_summary_writer_option(logger, "purge_step", global_step)


def log_final_metrics(
    loggers: Iterable[Any], results: Mapping[str, float], step: int, hparams: Mapping[str, Any]
) -> None:
    """Log a run's final ``val/*`` (as ``best/val/*``) and ``test/*`` ``results`` at ``step``
    to each of ``loggers``. A ``TensorBoardLogger`` also gets an HParams session: the run's
    ``hparams`` (the module's and the data module's, as Lightning logs them when the fit
    starts) with these metrics, so that TensorBoard's HParams view lists each run's head,
    loss, rate, data set and seed beside its best validation and test scores (Lightning
    writes one only with ``default_hp_metric``'s placeholder, which lossbench turns off)."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from lossbench.lightning_internals import write_hparams_session
    from lossbench.metric_names import best_logged

    logged = best_logged(dict(results))
    for logger in loggers:
        logger.log_metrics(logged, step=step)
        if isinstance(logger, TensorBoardLogger) and rank_zero_only.rank == 0:
            write_hparams_session(logger, hparams, logged)
        logger.save()


def _earlier_csv(logger: CSVLogger, run_dir: Path | None, earlier_run: Path | None) -> Path | None:
    """``<earlier_run>/<the logger's directory below run_dir>/metrics.csv``, or None."""
    if run_dir is None or earlier_run is None:
        return None
    try:
        below = Path(logger.log_dir).resolve().relative_to(Path(run_dir).resolve())
    except ValueError:  # the logger writes outside the run directory: no counterpart
        return None
    return Path(earlier_run) / below / "metrics.csv"


def mlflow_logger(
    *,
    tracking_uri: str,
    experiment_name: str,
    run_name: str | None = None,
    log_model: bool = False,
    tags: Mapping[str, Any] | None = None,
    resume: Any = None,
) -> Any:
    """``MLFlowLogger`` whose local SQLite store gets its directory created, and its artifacts
    (``log_model=true``) a folder beside the store instead of ``./mlruns`` in the cwd.

    ``resume``: the run's ``ckpt_path``. A resumed run logs on into the MLflow run of its run
    directory (the newest with its ``run_dir`` tag), as its ``metrics.csv`` and record go on,
    rather than into a second run holding only the epochs after the resume, and leaves out
    the points that run holds already (:class:`ResumedMLFlowLogger`); a run trained on in a
    new directory has none and starts one. A sweep creates a new store before its jobs start
    (:func:`lossbench.mlflow_store.prepare_stores`); a single run creates it here, with the
    experiment, so that ``MLFlowLogger`` finds the experiment rather than warning that it
    creates it."""
    from lossbench.mlflow_store import artifact_location, prepare_store

    prepare_store(tracking_uri, experiment_name)  # its directory, tables and experiment
    artifacts = artifact_location(tracking_uri)
    tags = {str(k): str(v) for k, v in (tags or {}).items()}
    run_id = None
    if resume is not None and tags.get("run_dir"):
        run_id = _mlflow_run_of(tracking_uri, experiment_name, tags["run_dir"])
    arguments = dict(
        experiment_name=experiment_name,
        run_name=run_name,
        tracking_uri=tracking_uri,
        tags=tags,
        log_model=log_model,
        artifact_location=artifacts,
        run_id=run_id,
    )
    if run_id is None:
        return MLFlowLogger(**arguments)
    return ResumedMLFlowLogger(**arguments, logged=_mlflow_points(tracking_uri, run_id))


class ResumedMLFlowLogger(MLFlowLogger):
    """``MLFlowLogger`` of a resumed run, reattached to its MLflow run, that leaves out the
    points the run already holds (``logged``: ``(key, step)`` pairs): a run killed after it
    logged an epoch and before that epoch's checkpoint trains the epoch again when resumed,
    and MLflow, which cannot delete a point, would hold it twice. A resumed run repeats the
    killed run's training exactly, so the point kept has the resumed run's value.

        logger = ResumedMLFlowLogger(tracking_uri=uri, run_id=run_id, logged={("val/nll", 8)})
        logger.log_metrics({"val/nll": 0.59, "train/loss": 0.61}, step=8)  # train/loss only
    """

    def __init__(self, *args: Any, logged: Iterable[tuple[str, int]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.logged = set(logged)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log the ``metrics`` not yet held at ``step`` (MLflow's step 0 where None)."""
        new = {key: value for key, value in metrics.items() if (key, step or 0) not in self.logged}
        if new:
            super().log_metrics(new, step)


def _mlflow_points(tracking_uri: str, run_id: str) -> set[tuple[str, int]]:
    """``(key, step)`` of every metric point of MLflow run ``run_id``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    keys = client.get_run(run_id).data.metrics
    return {(key, m.step) for key in keys for m in client.get_metric_history(run_id, key)}


def wandb_logger(*, ckpt_path: Any = None, **kwargs: Any) -> Any:
    """Lightning's ``WandbLogger`` (``kwargs``: its arguments) that a resumed run continues:
    ``ckpt_path`` is the run's, and a resumed run logs on into the W&B run its run
    directory holds (the newest under ``<save_dir>/wandb/``: :func:`wandb_run_of`), as
    ``logger=mlflow`` reattaches to the MLflow run of its run directory, rather than into a
    second run holding only the epochs after the resume. Lightning's logger resumes a run of
    a given ``id`` (``resume="allow"``). A new run, and a run trained on in a new directory
    (none there), gets a new id from W&B; an ``id`` given is kept.

        lossbench-train logger=wandb trainer.max_epochs=5             # killed after epoch 2
        lossbench-train logger=wandb trainer.max_epochs=5 ckpt_path=last  # the same W&B run
    """
    from lightning.pytorch.loggers import WandbLogger

    folder = kwargs.get("save_dir") or kwargs.get("dir")
    if ckpt_path is not None and folder and not (kwargs.get("id") or kwargs.get("version")):
        kwargs["id"] = wandb_run_of(Path(folder))
    logger = WandbLogger(**kwargs)
    drop_unset_wandb_anonymous(logger)  # else W&B warns that the setting has no effect
    return logger


def wandb_run_of(save_dir: Path) -> str | None:
    """The id of the newest W&B run kept in ``save_dir``: its folders are
    ``wandb/run-<time>-<id>`` (``offline-run-...`` offline), with ``-<n>`` added where a folder
    of that name exists already (a run resumed within the same second); the id is read from
    the run's file in it, ``run-<id>.wandb``, else from the folder's name. None where there is
    none.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("offline-run-20260101_100000-aaa", "run-20260102_090000-bbb"):
        ...     (folder / "wandb" / name).mkdir(parents=True)
        >>> wandb_run_of(folder)
        'bbb'
        >>> again = folder / "wandb" / "run-20260102_090000-bbb-1"  # resumed in that second
        >>> again.mkdir()
        >>> _ = (again / "run-bbb.wandb").write_bytes(b"")
        >>> wandb_run_of(folder)
        'bbb'
    """
    runs = []
    for path in (save_dir / "wandb").glob("*run-*-*"):
        if not path.is_dir() or path.is_symlink():
            continue
        stamp, _, rest = path.name.removeprefix("offline-").removeprefix("run-").partition("-")
        files = sorted(path.glob("run-*.wandb"))
        run_id = files[0].name.removeprefix("run-").removesuffix(".wandb") if files else rest
        suffix = rest.removeprefix(run_id).removeprefix("-")
        if run_id:
            runs.append((stamp, int(suffix) if suffix.isdigit() else 0, run_id))
    return max(runs)[2] if runs else None


def _mlflow_run_of(tracking_uri: str, experiment_name: str, run_dir: str) -> str | None:
    """The id of the newest MLflow run of ``experiment_name`` tagged with ``run_dir``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    quoted = run_dir.replace("\\", "\\\\").replace("'", "\\'")
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.run_dir = '{quoted}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


#: Strings OmegaConf's YAML writer quotes as booleans (YAML 1.1's words).
_YAML_BOOLS = frozenset(
    {
        *("y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO"),
        *("true", "True", "TRUE", "false", "False", "FALSE"),
        *("on", "On", "ON", "off", "Off", "OFF"),
    }
)


def _parses(kind: type, text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _hparams_dumper() -> type:
    """libyaml's safe dumper (PyYAML's where libyaml is missing) that quotes the strings
    OmegaConf's writer quotes: those that read as a boolean, an integer or a float."""
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class HparamsDumper(base):  # type: ignore[misc, valid-type]
        pass

    def represent_str(dumper: Any, data: str) -> Any:
        quoted = data in _YAML_BOOLS or _parses(int, data) or _parses(float, data)
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'" if quoted else None)

    HparamsDumper.add_representer(str, represent_str)
    return HparamsDumper
