"""When a job's folder already holds its run: configs compared up to presentation and place,
and up to a raised epoch cap.

A sweep run again into the same folder skips each job whose folder holds a run that ended with
the job's config (:func:`lossbench.train.ended_with_same_config`): configs are compared without
:data:`PRESENTATION_KEYS` and :data:`LOCATION_KEYS`, a precision by its full name
(``trainer.precision=bf16`` is ``bf16-mixed``: :func:`comparable_config`).

**A raised cap.** Where the report finds setups that hit the epoch cap still improving, it
advises a higher ``trainer.max_epochs``. Running the same sweep again into the same folder with
only that raised keeps every run that would end the same way under the higher cap, and trains
the others again:

- a run that early stopping ended before its cap, or that failed on a non-finite loss, on a
  schedule that does not depend on the cap (``scheduler=none`` or ``plateau``: every epoch of it
  is computed as under any other cap), stands (:func:`stands_at_higher_cap`): the job skips it;
- any other run of that config (it reached its cap; or its schedule, ``cosine``,
  ``warmup_cosine``, ``onecycle``, is spread over ``max_epochs``) trains again from scratch
  with the higher cap; its record, config, checkpoints and loggers' folders are kept beside the
  new ones, renamed (``metrics-max_epochs300.json``, ``config-max_epochs300.yaml``,
  ``checkpoints-max_epochs300/``, ``logs-max_epochs300/``, ``tensorboard-max_epochs300/``:
  :func:`set_aside_capped_run`); those of an earlier run set aside from the same cap move on to
  ``metrics-max_epochs300-v1.json``, ``checkpoints-max_epochs300-v1/``, ..., each of one run's
  files under the same number.

The report counts a run that stands as a run at the higher cap
(:func:`lossbench.report.labels.assign_setups`), so a setup is not split by its runs' caps.

    >>> before = {"seed": 0, "trainer": {"max_epochs": 300}, "scheduler": {"name": "none"}}
    >>> now = {"seed": 0, "trainer": {"max_epochs": 600}, "scheduler": {"name": "none"}}
    >>> raised_cap(before, now), raised_cap(now, before)
    ((300, 600), None)
    >>> stands_at_higher_cap({"status": "completed", "stopped_by": "early_stopping"}, "none")
    True
    >>> stands_at_higher_cap({"status": "completed", "stopped_by": "budget"}, "none")
    False
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lossbench.aside_names import Moved, move_on_together

__all__ = [
    "CAPPED_SUFFIX",
    "LOCATION_KEYS",
    "PRESENTATION_KEYS",
    "CappedRunSetAside",
    "capped_run",
    "comparable_config",
    "kept_names",
    "raised_cap",
    "set_aside_capped_run",
    "set_aside_for_raised_cap",
    "stands_at_higher_cap",
]

log = logging.getLogger("lossbench")

#: Config entries that change what a run shows or where it logs, never what it trains or
#: records in ``metrics.json``: a completed run whose config differs from the job's only in
#: these is the job's run (so a study re-run after they changed, by an upgrade or on the
#: command line, still skips its completed jobs).
PRESENTATION_KEYS = ("callbacks.progress_bar", "callbacks.model_summary", "logger")
#: Where a run's files are (absolute paths): a study moved or copied to another folder keeps
#: its runs, which another place does not change.
LOCATION_KEYS = ("paths", "callbacks.model_checkpoint.dirpath")


def comparable_config(config: Any) -> Any:
    """``config`` (a plain container, changed in place and returned) without
    :data:`PRESENTATION_KEYS` and :data:`LOCATION_KEYS`, and with ``trainer.precision`` by
    Lightning's full name (:func:`lossbench.precision.normalize_precision`): a run of
    ``trainer.precision=bf16`` trains as one of ``bf16-mixed`` does.

        >>> comparable_config({"seed": 1, "paths": {"run_dir": "/x"}, "logger": None})
        {'seed': 1}
        >>> comparable_config({"trainer": {"precision": "bf16"}})
        {'trainer': {'precision': 'bf16-mixed'}}
    """
    from lossbench.precision import normalize_precision

    for dotted in (*PRESENTATION_KEYS, *LOCATION_KEYS):
        *parents, leaf = dotted.split(".")
        node = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    trainer = config.get("trainer") if isinstance(config, dict) else None
    if isinstance(trainer, dict) and trainer.get("precision") is not None:
        trainer["precision"] = normalize_precision(trainer["precision"])
    return config


def _cap(config: Mapping[str, Any]) -> int | None:
    trainer = config.get("trainer")
    cap = trainer.get("max_epochs") if isinstance(trainer, Mapping) else None
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None


def raised_cap(before: Mapping[str, Any], now: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(old cap, new cap)`` where the comparable configs ``before`` (a run's) and ``now`` (a
    job's) differ only in ``trainer.max_epochs``, raised; else None (the same config, another
    difference, or a lower cap)."""
    old, new = _cap(before), _cap(now)
    if old is None or new is None or new <= old:
        return None
    raised = {**before, "trainer": {**before["trainer"], "max_epochs": new}}
    return (old, new) if raised == now else None


def stands_at_higher_cap(record: Mapping[str, Any], scheduler: str | None) -> bool:
    """Whether the run of ``record``, trained with ``scheduler=<scheduler>``, would have ended
    the same way under any higher ``trainer.max_epochs``: early stopping ended it (before or at
    its cap), or it failed on a non-finite loss, and its schedule is not spread over the cap. A
    debug run never stands (it is no result).

        >>> stands_at_higher_cap({"status": "completed", "stopped_by": "early_stopping"}, "cosine")
        False
        >>> failed = {"status": "failed", "error": "non-finite training loss (nan) at epoch 3"}
        >>> stands_at_higher_cap(failed, "plateau")
        True
    """
    from lossbench.record import diverged
    from lossbench.schedulers import SCHEDULERS

    spec = SCHEDULERS.get(str(scheduler))
    if record.get("debug_run") or spec is None or "max_epochs" in spec.spans:
        return False
    if record.get("status") == "completed":
        return record.get("stopped_by") == "early_stopping"
    return diverged(dict(record))


def capped_run(run_dir: str | os.PathLike, config: Mapping[str, Any]) -> int | None:
    """The lower ``trainer.max_epochs`` of the run that ``run_dir`` holds where a job of
    ``config`` (a resolved config, not changed) sets that run aside to train it again
    (:func:`set_aside_capped_run`): a run of ``config`` (comparable, :func:`comparable_config`)
    but for a lower cap, that does not stand under the higher one
    (:func:`stands_at_higher_cap`); else None. A launcher asks this before the job trains: such
    a run has not ended for the job, which writes its own files over it. Raises
    :class:`~lossbench.record.DamagedRunError` where the record or config cannot be read."""
    found = _capped_run(Path(run_dir), config)
    return None if found is None else found[0]


def _capped_run(folder: Path, config: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """:func:`capped_run`'s old cap, with the run's record."""
    from lossbench.record import read_record, read_run_config

    record = read_record(folder)
    saved = folder / "config.yaml"
    if record is None or not saved.is_file() or record.get("debug_run"):
        return None
    before = comparable_config(read_run_config(saved))
    # a deep copy: comparable_config drops nested entries (callbacks.progress_bar, ...), which
    # the caller's config keeps (it is the config the job then saves and trains)
    raised = raised_cap(before, comparable_config(copy.deepcopy(dict(config))))
    scheduler = (before.get("scheduler") or {}).get("name")
    if raised is None or stands_at_higher_cap(record, scheduler):
        return None
    return raised[0], record


class CappedRunSetAside(NamedTuple):
    """A run set aside for a raised cap (:func:`set_aside_capped_run`): its cap (``old``),
    where each of its files went (``kept``: ``metrics.json`` to ``metrics-max_epochs<old>.json``,
    ...), and where each file that an earlier raise from the same cap had kept under those names
    moved on to (``moved_on``: ``metrics-max_epochs<old>.json`` to
    ``metrics-max_epochs<old>-v1.json``, ...)."""

    old: int
    kept: list[Moved]
    moved_on: list[Moved]


#: What the names of a run's files set aside for a raised cap add to their stems, before the old
#: cap (:func:`kept_names`: ``logs-max_epochs300/``).
CAPPED_SUFFIX = "-max_epochs"


def kept_names(old: int) -> dict[str, str]:
    """The names under which :func:`set_aside_capped_run` keeps the files of a run trained with
    ``trainer.max_epochs=<old>``, by their own names (those of the newest such run: an earlier
    one's move on to ``-v1``, ``-v2``, ..., one number for all of them): its config,
    checkpoints, record, and each of its loggers' folders
    (:data:`lossbench.record.LOGGER_FOLDERS`).

        >>> kept_names(300)  # doctest: +NORMALIZE_WHITESPACE
        {'config.yaml': 'config-max_epochs300.yaml', 'checkpoints': 'checkpoints-max_epochs300',
         'metrics.json': 'metrics-max_epochs300.json', 'logs': 'logs-max_epochs300',
         'tensorboard': 'tensorboard-max_epochs300'}
    """
    from lossbench.record import LOGGER_FOLDERS, RECORD_NAME

    names = ("config.yaml", "checkpoints", RECORD_NAME, *LOGGER_FOLDERS)
    return {name: f"{Path(name).stem}{CAPPED_SUFFIX}{old}{Path(name).suffix}" for name in names}


def set_aside_capped_run(
    run_dir: str | os.PathLike, config: Mapping[str, Any]
) -> CappedRunSetAside | None:
    """Where ``run_dir`` holds a run of ``config`` (comparable, :func:`comparable_config`) but
    for a lower ``trainer.max_epochs``, one that does not stand under the higher cap
    (:func:`stands_at_higher_cap`; :func:`capped_run` decides), rename its ``metrics.json``
    and ``config.yaml`` to ``metrics-max_epochs<old>.json`` and ``config-max_epochs<old>.yaml``,
    each of its loggers' folders (:data:`~lossbench.record.LOGGER_FOLDERS`: ``logs/``,
    ``tensorboard/``) to ``logs-max_epochs<old>/``, ``tensorboard-max_epochs<old>/``, not to
    an earlier attempt's ``-earlier`` names, and its ``checkpoints/`` to
    ``checkpoints-max_epochs<old>/`` (the kept record's ``best_checkpoint`` names the file
    there: :func:`kept_names`), so the job trains the run again with its cap; return the old
    cap and where each file went. Raised twice (300, 400, 500), each earlier run keeps its
    files. Set aside again from the same cap (a raise stopped before its run ended, then the
    lower cap's run and the raise again), the files an earlier raise kept under those names
    first move on, all under one number, one above the highest any of those names has:
    ``metrics-max_epochs<old>-v1.json``, ``checkpoints-max_epochs<old>-v1/``, ... (``-v2`` for
    all of them where the user removed one ``-v1`` file only:
    :func:`~lossbench.aside_names.move_on_together`; its record's ``best_checkpoint`` then
    names its file there), so nothing is lost, one run's files share a number, and those names
    hold the newest run's files only. Else change nothing and return None. Raises
    :class:`~lossbench.record.DamagedRunError` where the record or config cannot be read."""
    from lossbench.record import LOGGER_FOLDERS, RECORD_NAME, write_record

    folder = Path(run_dir)
    found = _capped_run(folder, config)
    if found is None:
        return None
    old, record = found
    names = kept_names(old)
    moved_on: list[Moved] = []
    if not _names_in(record, folder / names["checkpoints"]):
        # every file an earlier raise kept moves on, one this run has none of too (its
        # checkpoints), all under one number: one above the highest any of the names has
        moved_on = move_on_together(folder / name for name in names.values())
        _follow_moved_checkpoints(folder, moved_on, names)
    # (else a set-aside of this run stopped after its record named the checkpoints' new
    # folder: those names hold this run's files, what an earlier raise kept there having moved
    # on, and this one goes on from where that stopped.) Each step leaves a folder the job
    # trains if the process is killed after it: the config stays beside the record until the
    # record has moved (a record without its config is a completed run of other settings,
    # never trained over), so it takes its new name first and loses the old one last; the
    # record names its checkpoints' new folder before they move.
    saved = folder / "config.yaml"
    kept = [Moved(saved, _second_name(saved, folder / names["config.yaml"]))]
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        best = record.get("best_checkpoint")
        if _names_in(record, checkpoints):
            record["best_checkpoint"] = str(
                Path(best).parent.with_name(names["checkpoints"]) / Path(best).name
            )
            write_record(folder, record)
        kept.append(Moved(checkpoints, checkpoints.rename(folder / names["checkpoints"])))
    ran = folder / RECORD_NAME
    kept.append(Moved(ran, ran.rename(folder / names[RECORD_NAME])))
    for name in LOGGER_FOLDERS:  # the loggers' files (metrics.csv, events), a new run's next
        logs = folder / name
        if logs.is_dir():
            kept.append(Moved(logs, logs.rename(folder / names[name])))
    saved.unlink()
    return CappedRunSetAside(old, kept, moved_on)


def _names_in(record: Mapping[str, Any], checkpoints: Path) -> bool:
    """Whether ``record``'s ``best_checkpoint`` names a file in the folder ``checkpoints``."""
    best = record.get("best_checkpoint")
    return isinstance(best, str) and Path(best).parent.resolve() == checkpoints.resolve()


def _second_name(source: Path, target: Path) -> Path:
    """Give the file ``source`` the name ``target`` too, atomically: a hard link (the same
    file, as a rename would keep it once ``source`` is removed), or a copy on a file system
    without links, made as ``<target>.partial`` and renamed into place."""
    if target.exists() and target.samefile(source):
        return target  # named so by a set-aside that stopped
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    return partial.replace(target)


def _follow_moved_checkpoints(folder: Path, moved_on: list[Moved], names: dict[str, str]) -> None:
    """Where an earlier raise's kept record and checkpoints both moved on (``moved_on``), the
    record's ``best_checkpoint`` names its file in the checkpoints' new folder, not in the
    folder whose name the newest run's checkpoints take."""
    from lossbench.record import RECORD_NAME, load_record, write_record

    targets = {move.source.name: move.target for move in moved_on}
    moved_record, moved_checkpoints = (
        targets.get(names[RECORD_NAME]),
        targets.get(names["checkpoints"]),
    )
    if moved_record is None or moved_checkpoints is None:
        return
    record, _ = load_record(moved_record)
    best = None if record is None else record.get("best_checkpoint")
    if not isinstance(best, str):
        return  # an unreadable record stays as it was
    if Path(best).parent.resolve() == (folder / names["checkpoints"]).resolve():
        record["best_checkpoint"] = str(moved_checkpoints / Path(best).name)
        write_record(folder, record, moved_record.name)


def _set_aside_line(folder: Path, aside: CappedRunSetAside, new: int | None) -> str:
    """The log line of a run set aside for a raised cap: where each of its files went, and
    where those an earlier raise from the same cap kept went on to.

        >>> run = Path("r")
        >>> kept = [Moved(run / "metrics.json", run / "metrics-max_epochs3.json")]
        >>> moved_on = [Moved(kept[0].target, run / "metrics-max_epochs3-v1.json")]
        >>> print(_set_aside_line(run, CappedRunSetAside(3, kept, moved_on), 6))
        r holds this run trained with trainer.max_epochs=3, which reached its cap or spread its \
schedule over it: training it again with trainer.max_epochs=6 (kept in r: metrics.json as \
metrics-max_epochs3.json; what an earlier raise from the same cap kept there moved on: \
metrics-max_epochs3.json to metrics-max_epochs3-v1.json)
    """

    def names(move: Moved, verb: str) -> str:  # a folder's with a slash
        end = "/" if move.target.is_dir() else ""
        return f"{move.source.name}{end} {verb} {move.target.name}{end}"

    kept = ", ".join(names(move, "as") for move in aside.kept)
    moved_on = ", ".join(names(move, "to") for move in aside.moved_on)
    earlier = f"; what an earlier raise from the same cap kept there moved on: {moved_on}"
    return (
        f"{folder} holds this run trained with trainer.max_epochs={aside.old}, which reached its "
        f"cap or spread its schedule over it: training it again with trainer.max_epochs={new} "
        f"(kept in {folder}: {kept}{earlier if aside.moved_on else ''})"
    )


def set_aside_for_raised_cap(
    run_dir: str | os.PathLike, cfg: Any, resolved: Mapping[str, Any] | None = None
) -> int | None:
    """What a job of a sweep does before it trains: where its folder holds its run trained with
    a lower ``trainer.max_epochs`` that does not stand under this one, set the run aside
    (:func:`set_aside_capped_run`) and say where each of its files went (and where those an
    earlier raise from the same cap kept there moved on to); return the old cap, else None.
    ``cfg``: the job's config, a ``DictConfig`` resolved here unless ``resolved`` is given, or
    a plain mapping already resolved (the launching process's, which sets aside a job's run
    that a worker's death stopped before its task did: :mod:`lossbench.worker_records`); a
    config that does not resolve is left to validation, which refuses and records it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from lossbench.record import RECORD_NAME

    folder = Path(run_dir)
    if not (folder / RECORD_NAME).is_file():
        return None
    if resolved is None and not OmegaConf.is_config(cfg):
        resolved = cfg
    if resolved is None:
        try:
            resolved = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException:
            return None
    aside = set_aside_capped_run(folder, resolved)
    if aside is None:
        return None
    log.info(_set_aside_line(folder, aside, _cap(resolved)))
    return aside.old
