"""Whether a checkpoint's run had ended, read from what the checkpoint saved: a resume of the
run's own ``last.ckpt`` that only finishes it (the process was killed or stopped after its last
epoch and before its record) trains nothing more and writes the record the uninterrupted run
would have written.

Importing this module imports no torch and no Lightning (:func:`how_the_run_ended` reads
Lightning's loop state with them): the command line decides with it before the run starts
(:func:`lossbench.train.check_left_to_train`), and the run again where it resumes
(:func:`lossbench.training.train`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig

from lossbench.record import read_record

__all__ = [
    "UsedUpLimit",
    "finishes_unrecorded_run",
    "how_the_run_ended",
    "trained_seconds",
    "used_up_time_limit",
]


def finishes_unrecorded_run(
    cfg: DictConfig, checkpoint: Mapping[str, Any], resume: Path, output_dir: Path
) -> str | None:
    """How the run that resuming ``resume`` (``checkpoint``, loaded) in ``output_dir`` finishes
    had ended (:func:`how_the_run_ended`), where it had ended and has no record: the run's own
    ``last.ckpt``, and ``output_dir`` holds no ``metrics.json`` (the process was killed, or
    stopped, during its final evaluation or while writing its record). Such a resume trains
    nothing more: it evaluates the best checkpoint and writes the record as the uninterrupted
    run would have. None for any other resume.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"trainer": {"max_epochs": 10}})
        >>> run, ended = Path("no/such/run"), {"epoch": 9}
        >>> finishes_unrecorded_run(cfg, ended, run / "checkpoints" / "last.ckpt", run)
        'trainer.max_epochs=10'
        >>> finishes_unrecorded_run(cfg, ended, Path("elsewhere/checkpoints/last.ckpt"), run)
        >>> finishes_unrecorded_run(cfg, {"epoch": 4}, run / "checkpoints" / "last.ckpt", run)
    """
    if resume.name != "last.ckpt" or resume.resolve().parent.parent != output_dir.resolve():
        return None  # another run's checkpoint: this directory never held that run
    ended = how_the_run_ended(cfg, checkpoint)
    if ended is None or read_record(output_dir) is not None:
        return None
    return ended


def how_the_run_ended(cfg: DictConfig, checkpoint: Mapping[str, Any]) -> str | None:
    """What had ended the run that saved ``checkpoint``, under ``cfg``'s caps and callbacks,
    read from what the checkpoint saved; None where it had not ended (a resume trains on):

    - ``trainer.max_steps=N``: its optimizer steps are exactly ``trainer.max_steps``;
    - ``trainer.max_epochs=N``: its epochs are exactly ``trainer.max_epochs``;
    - ``early stopping``: its ``EarlyStopping`` state says it stopped the fit (its
      ``stopping_reason``; from a Lightning without it, ``stopped_epoch`` or a ``wait_count``
      that reached its ``patience``), with ``trainer.min_epochs`` and ``trainer.min_steps``
      met (before them the run trained on);
    - ``trainer.max_time=...`` or ``callbacks.<name>.duration=...``: the training time its
      ``Timer`` state saved reaches that limit.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"trainer": {"max_epochs": 10, "max_steps": 40}})
        >>> how_the_run_ended(cfg, {"epoch": 3, "global_step": 40})
        'trainer.max_steps=40'
        >>> how_the_run_ended(cfg, {"epoch": 3, "global_step": 30}) is None
        True
    """
    steps, max_steps = int(checkpoint.get("global_step", 0)), cfg.trainer.get("max_steps")
    if max_steps is not None and max_steps != -1 and steps == max_steps:
        return f"trainer.max_steps={max_steps}"  # first: it can end a run within an epoch
    from lossbench.lightning_internals import epochs_processed  # Lightning's loop state

    # the epochs it trained; without the loops' state, one more than the epoch it was saved in
    # (checkpoint.write=at_end saves a run that early stopping ended with the next epoch's)
    done = epochs_processed(checkpoint) or int(checkpoint.get("epoch", -1)) + 1
    if done == cfg.trainer.max_epochs:
        return f"trainer.max_epochs={cfg.trainer.max_epochs}"
    # a stop before trainer.min_epochs / min_steps was met did not end the run: it trained on
    minimum = done >= (cfg.trainer.get("min_epochs") or 0) and steps >= (
        cfg.trainer.get("min_steps") or 0
    )
    states = _callback_states(checkpoint, "EarlyStopping")
    if minimum and any(_stopped_early(state) for state in states):
        return "early stopping"
    used_up = used_up_time_limit(cfg, checkpoint)
    return None if used_up is None else used_up.given


def _callback_states(checkpoint: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The states ``checkpoint`` saved of its callbacks of class ``name`` (Lightning's state
    key: the class's name, then its settings in braces where it has several)."""
    states = checkpoint.get("callbacks") or {}
    return [
        state
        for key, state in states.items()
        if isinstance(state, Mapping) and (key == name or str(key).startswith(name + "{"))
    ]


def _stopped_early(state: Mapping[str, Any]) -> bool:
    """Whether an ``EarlyStopping`` state says it stopped its fit (as
    :func:`lossbench.callbacks.stopped_early` reads the callback).

        >>> _stopped_early({"wait_count": 2, "stopped_epoch": 8, "stopping_reason": 3})
        True
        >>> _stopped_early({"wait_count": 1, "stopped_epoch": 0, "stopping_reason": 0})
        False
        >>> _stopped_early({"wait_count": 2, "stopped_epoch": 0, "patience": 2})
        True
    """
    reason = state.get("stopping_reason")
    if reason is not None:
        return int(getattr(reason, "value", reason)) != 0  # EarlyStoppingReason.NOT_STOPPED
    patience = state.get("patience")
    waited = patience is not None and int(state.get("wait_count", 0)) >= int(patience)
    return int(state.get("stopped_epoch", 0)) > 0 or waited


class UsedUpLimit(NamedTuple):
    """A time limit that a checkpoint's training time uses up: ``given`` (``key=value``),
    its ``limit`` and the ``used`` seconds, and ``without``: how to drop it (None:
    ``key=null``)."""

    given: str
    limit: float
    used: float
    without: str | None = None


def used_up_time_limit(cfg: DictConfig, checkpoint: Mapping[str, Any]) -> UsedUpLimit | None:
    """The time limit of ``cfg`` that the training time ``checkpoint`` saved (its ``Timer``
    state, which a resumed ``Timer`` counts on from) uses up: a ``Timer`` callback's
    ``duration`` (``+callbacks.timer._target_=lightning.pytorch.callbacks.Timer``), or else
    ``trainer.max_time`` (Lightning ignores ``max_time`` where the callbacks hold a ``Timer``);
    None where none.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"trainer": {"max_time": "00:00:01:00"}})
        >>> used_up_time_limit(cfg, {"callbacks": {"Timer": {"time_elapsed": {"train": 61.0}}}})
        UsedUpLimit(given='trainer.max_time=00:00:01:00', limit=60.0, used=61.0, without=None)
    """
    from lossbench.instantiators import timer_entries
    from lossbench.trainer_args import duration_seconds

    timers = timer_entries(cfg.get("callbacks"))
    if not timers:
        limit = duration_seconds(cfg.trainer.get("max_time"))
        used = trained_seconds(checkpoint)
        if limit is not None and used is not None and used >= limit:
            return UsedUpLimit(f"trainer.max_time={cfg.trainer.max_time}", limit, used)
        return None
    for name, entry, state_key in timers:
        duration = entry.get("duration")
        limit = duration_seconds(duration)
        used = trained_seconds(checkpoint, state_key)
        if limit is not None and used is not None and used >= limit:
            shown = dict(duration) if isinstance(duration, Mapping | DictConfig) else duration
            given = f"callbacks.{name}.duration={shown}"
            return UsedUpLimit(given, limit, used, f"~callbacks.{name}")
    return None


def trained_seconds(checkpoint: Mapping[str, Any], state_key: str = "Timer") -> float | None:
    """The training seconds a Lightning ``Timer`` (``trainer.max_time``'s, or a callback's whose
    state is saved as ``state_key``) saved in ``checkpoint``, which a resumed run counts
    towards its limit; None where it saved none.

        >>> trained_seconds({"callbacks": {"Timer": {"time_elapsed": {"train": 3.02}}}})
        3.02
        >>> trained_seconds({"callbacks": {}}) is None
        True
    """
    state = (checkpoint.get("callbacks") or {}).get(state_key)
    elapsed = state.get("time_elapsed") if isinstance(state, dict) else None
    seconds = elapsed.get("train") if isinstance(elapsed, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) else None
