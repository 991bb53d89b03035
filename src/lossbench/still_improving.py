"""The warning a single run gets when it ended at its trainer's cap while still improving.

A run that stops at ``trainer.max_epochs`` (or ``max_steps``, ``max_time``, a ``Timer``
callback's ``duration``) while its monitored metric is still getting better has not converged:
a longer budget may change its result, and a comparison built on it may be overturned. A
study's report says so per setup (:mod:`lossbench.report.converged`); a single run says so
itself, on stderr, once it has ended::

    lossbench: warning: the run reached trainer.max_epochs=20 while val/nll was still
    improving (best at epoch 19, its last): a longer run may end elsewhere. Train longer
    (e.g. trainer.max_epochs=40), or with early_stopping.enabled=true, which ends the run
    once val/nll has not improved for early_stopping.patience=5 validations.

The rule is the report's (:func:`lossbench.report.converged.still_improving`): with early
stopping on, reaching the cap means its patience had not run out; without it, Lightning's
early-stopping rule is replayed on the run's own history with the run's own settings. A sweep's
jobs do not warn one by one: their report counts them.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.report.converged import still_improving
from lossbench.report.separated import all_right_metric


class StillImprovingWarning(UserWarning):
    """A completed run ended at its cap while its monitored metric was still improving
    (``warnings.filterwarnings("ignore", category=StillImprovingWarning)`` silences it)."""


#: The settings of the early-stopping rule, by their dotted key in the run's config.
_RULE_KEYS = (
    "optimized_metric",
    "early_stopping.enabled",
    "early_stopping.monitor",
    "early_stopping.mode",
    "early_stopping.patience",
    "early_stopping.min_delta",
)


def still_improving_message(cfg: DictConfig, record: dict[str, Any]) -> str | None:
    """The warning for the completed run of ``cfg`` and its ``record``; None where it
    converged, was stopped early, or is a debug run.

        >>> cfg = OmegaConf.create({"optimized_metric": "val/nll", "trainer": {"max_epochs": 3},
        ...     "early_stopping": {"enabled": False, "patience": 5, "min_delta": 0.0}})
        >>> record = {"stopped_by": "budget", "epochs": 3, "steps": 3, "best_epoch": 2,
        ...           "history": {"val/nll": [0.9, 0.8, 0.7]}}
        >>> print(still_improving_message(cfg, record)[:74])
        the run reached trainer.max_epochs=3 while val/nll was still improving (be
        >>> still_improving_message(cfg, {**record, "stopped_by": "early_stopping"}) is None
        True

    The best epoch is named only where the checkpoint monitors the same metric:

        >>> cfg.checkpoint = {"monitor": "val/accuracy"}
        >>> print(still_improving_message(cfg, record)[:66])
        the run reached trainer.max_epochs=3 while val/nll was still impro
        >>> "best at" in still_improving_message(cfg, record)
        False
    """
    if record.get("stopped_by") != "budget" or record.get("debug_run"):
        return None
    rule = {key: OmegaConf.select(cfg, key, default=None) for key in _RULE_KEYS}
    if not still_improving("budget", record.get("history"), rule):
        return None
    monitor = rule["early_stopping.monitor"] or rule["optimized_metric"]
    cap, longer = _cap(cfg, record)
    epochs = int(record.get("epochs") or 0)
    # best_epoch is the checkpoint's: of checkpoint.monitor, which may be another metric
    checkpointed = OmegaConf.select(cfg, "checkpoint.monitor", default=None)
    same = (checkpointed or rule["optimized_metric"]) == monitor
    best = record.get("best_epoch") if same else None
    where = ""
    if best is not None and epochs:
        where = f" (best at epoch {best}, its last)" if best == epochs - 1 else ""
        where = where or f" (best at epoch {best} of 0-{epochs - 1})"
    patience = rule["early_stopping.patience"]
    separated = _separated(record, cfg)
    if separated:  # a higher cap lowers the NLL without settling it
        fix = separated
    elif rule["early_stopping.enabled"]:
        fix = (
            f"Train longer (e.g. {longer}): early stopping (early_stopping.patience={patience}) "
            f"ends the run once {monitor} has stopped improving."
        )
    else:
        fix = (
            f"Train longer (e.g. {longer}), or with early_stopping.enabled=true, which ends the "
            f"run once {monitor} has not improved for early_stopping.patience={patience} "
            "validations."
        )
    return (
        f"the run reached {cap} while {monitor} was still improving{where}: a longer run may "
        f"end elsewhere. {fix}"
    )


def _separated(record: dict[str, Any], cfg: DictConfig | None = None) -> str:
    """The note for a run without weight decay that classifies its whole validation split
    correctly, whose NLL then falls toward 0 for as long as its weights grow; else "".

        >>> _separated({"task": "multiclass", "val/accuracy": 1.0})[:46]
        'It classifies every validation example correct'
        >>> _separated({"task": "multilabel", "val/accuracy": 1.0, "val/exact_match": 0.9})
        ''
        >>> _separated({"task": "multiclass", "val/accuracy": 1.0},
        ...            OmegaConf.create({"optimizer": {"weight_decay": 0.001}}))
        ''
    """
    if record.get(all_right_metric(record.get("task"))) != 1.0:
        return ""
    decay = OmegaConf.select(cfg, "optimizer.weight_decay", default=0) if cfg is not None else 0
    if isinstance(decay, int | float) and decay > 0:  # the NLL has a minimum: more epochs
        return ""
    return (
        "It classifies every validation example correctly: there the NLL falls toward 0 for "
        "as long as the weights grow, and a longer run lowers it without settling it; weight "
        "decay (optimizer.weight_decay, e.g. 0.001) gives it a minimum."
    )


def _cap(cfg: DictConfig, record: dict[str, Any]) -> tuple[str, str]:
    """The limit that ended the run, and a longer one: twice as many epochs or steps; for a
    time limit, a longer one of the same setting (a ``Timer`` callback's ``duration``, which
    Lightning takes instead of ``trainer.max_time``).

        >>> cfg = OmegaConf.create({"trainer": {"max_epochs": 6}, "callbacks": {"timer": {
        ...     "_target_": "lightning.pytorch.callbacks.Timer", "duration": "00:00:00:01"}}})
        >>> _cap(cfg, {"epochs": 3, "steps": 716})
        ('callbacks.timer.duration=00:00:00:01', 'a longer callbacks.timer.duration')

    A time limit that runs out within the last epoch ended the run, though Lightning counts
    that epoch as one of ``trainer.max_epochs``: its steps fall short of the epochs' steps.

        >>> cfg.data = {"batch_size": 1}
        >>> _cap(cfg, {"epochs": 6, "steps": 2024, "sizes": {"train": 341}})[0]
        'callbacks.timer.duration=00:00:00:01'
        >>> _cap(cfg, {"epochs": 6, "steps": 2046, "sizes": {"train": 341}})[0]
        'trainer.max_epochs=6'
    """
    trainer = cfg.get("trainer") or {}
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps")
    if max_steps not in (None, -1) and int(record.get("steps") or 0) >= max_steps:
        return f"trainer.max_steps={max_steps}", f"trainer.max_steps={2 * max_steps}"
    time_limit = _time_limit(cfg)
    at_epochs = max_epochs not in (None, -1) and int(record.get("epochs") or 0) >= max_epochs
    if at_epochs and (time_limit is None or not _short_of_last_epoch(cfg, record)):
        return f"trainer.max_epochs={max_epochs}", f"trainer.max_epochs={2 * max_epochs}"
    if time_limit is not None:
        return time_limit
    return "the trainer's cap", "trainer.max_epochs"


def _time_limit(cfg: DictConfig) -> tuple[str, str] | None:
    """The time limit of ``cfg`` and the fix, a longer one: a ``Timer`` callback's
    ``duration`` (Lightning then ignores ``trainer.max_time``), else ``trainer.max_time``;
    None where it has none."""
    from lossbench.instantiators import timer_entries

    for name, entry, _ in timer_entries(cfg.get("callbacks")):
        duration = entry.get("duration")
        if duration is not None:
            shown = (
                OmegaConf.to_container(duration) if isinstance(duration, DictConfig) else duration
            )
            key = f"callbacks.{name}.duration"
            return f"{key}={shown}", f"a longer {key}"
    max_time = (cfg.get("trainer") or {}).get("max_time")
    if max_time:
        return f"trainer.max_time={max_time}", "a longer trainer.max_time"
    return None


def _short_of_last_epoch(cfg: DictConfig, record: dict[str, Any]) -> bool:
    """Whether the run's optimizer steps fall short of those its ``trainer.max_epochs`` hold
    on its training split (:func:`lossbench.budget.run_budget`): it stopped within its last
    epoch. False where the record or config does not tell."""
    from lossbench.budget import run_budget
    from lossbench.errors import ConfigError
    from lossbench.hardware import requested_devices

    rows = (record.get("sizes") or {}).get("train")
    if not rows or OmegaConf.select(cfg, "data.batch_size", default="missing") == "missing":
        return False
    trainer = cfg.get("trainer") or {}
    try:
        devices = requested_devices(trainer.get("devices")) or 1
    except ConfigError:
        devices = 1
    budget = run_budget(cfg, int(rows), devices * int(trainer.get("num_nodes") or 1))
    return int(record.get("steps") or 0) < budget.max_epochs * budget.steps_per_epoch
