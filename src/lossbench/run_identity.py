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
  with the higher cap; its record and config are kept beside the new ones, renamed
  (``metrics-max_epochs300.json``, ``config-max_epochs300.yaml``, ``logs-max_epochs300/``,
  ``checkpoints-max_epochs300/``: :func:`set_aside_capped_run`).

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
from typing import Any

__all__ = [
    "LOCATION_KEYS",
    "PRESENTATION_KEYS",
    "capped_run",
    "comparable_config",
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


def set_aside_capped_run(run_dir: str | os.PathLike, config: Mapping[str, Any]) -> int | None:
    """Where ``run_dir`` holds a run of ``config`` (comparable, :func:`comparable_config`) but
    for a lower ``trainer.max_epochs``, one that does not stand under the higher cap
    (:func:`stands_at_higher_cap`; :func:`capped_run` decides), rename its ``metrics.json``
    and ``config.yaml`` to ``metrics-max_epochs<old>.json`` and ``config-max_epochs<old>.yaml``
    (replacing those of an earlier raise from the same cap), its loggers' ``logs/`` to
    ``logs-max_epochs<old>/`` and its ``checkpoints/`` to ``checkpoints-max_epochs<old>/`` (the
    kept record's ``best_checkpoint`` names the file there), so the job trains the run again
    with its cap; return the old cap. Raised twice (300, 400, 500), each earlier run keeps its
    files. Else change nothing and return None. Raises
    :class:`~lossbench.record.DamagedRunError` where the record or config cannot be read."""
    from lossbench.record import RECORD_NAME, write_record

    folder = Path(run_dir)
    found = _capped_run(folder, config)
    if found is None:
        return None
    old, record = found
    saved = folder / "config.yaml"
    os.replace(saved, folder / f"config-max_epochs{old}.yaml")
    checkpoints = folder / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.iterdir()):
        kept = folder / f"checkpoints-max_epochs{old}"
        if kept.exists():
            shutil.rmtree(kept)
        checkpoints.rename(kept)
        best = record.get("best_checkpoint")
        if isinstance(best, str) and Path(best).parent.resolve() == checkpoints.resolve():
            record["best_checkpoint"] = str(
                Path(best).parent.with_name(kept.name) / Path(best).name
            )
            write_record(folder, record)
    os.replace(folder / RECORD_NAME, folder / f"metrics-max_epochs{old}.json")
    logs = folder / "logs"  # the loggers' files (metrics.csv), which a new run would replace
    if logs.is_dir():
        kept = folder / f"logs-max_epochs{old}"
        if kept.exists():
            shutil.rmtree(kept)
        logs.rename(kept)
    return old


def set_aside_for_raised_cap(
    run_dir: str | os.PathLike, cfg: Any, resolved: Mapping[str, Any] | None = None
) -> int | None:
    """What a job of a sweep does before it trains: where its folder holds its run trained with
    a lower ``trainer.max_epochs`` that does not stand under this one, set the run aside
    (:func:`set_aside_capped_run`) and say so; return the old cap, else None. ``cfg``: the job's
    config (a ``DictConfig``), resolved here unless ``resolved`` is given; a config that does
    not resolve is left to validation, which refuses and records it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from lossbench.record import RECORD_NAME

    folder = Path(run_dir)
    if not (folder / RECORD_NAME).is_file():
        return None
    if resolved is None:
        try:
            resolved = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException:
            return None
    old = set_aside_capped_run(folder, resolved)
    if old is not None:
        log.info(
            "%s holds this run trained with trainer.max_epochs=%d, which reached its cap or "
            "spread its schedule over it: training it again with trainer.max_epochs=%s (its "
            "record and config kept as metrics-max_epochs%d.json and config-max_epochs%d.yaml)",
            folder, old, _cap(resolved), old, old,
        )  # fmt: skip
    return old
