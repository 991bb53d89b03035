"""An Optuna search checked before its first trial: :func:`check_search`.

A search (``hparams_search=...``, Hydra's Optuna sweeper) composes each trial's config only
when it launches it. Two mistakes then cost a whole search: a searched key that the chosen
config lacks (``hparams_search=optuna_focal loss=asl``: ``loss.gamma`` is focal's parameter)
ends the first trial with Hydra's composition error, and a setting refused whatever the searched
values are (``head=sigmoid loss=focal``, a double sigmoid) is recorded as a refused trial
``n_trials`` times, after which Optuna fails with "No trials are completed yet".

:func:`check_search` composes a few trials up front, with each searched value inside its range
(an interval's middle, on a log scale where it is tagged ``log``; each option of a choice), and
validates each config as a run does (:func:`lossbench.validation.validate`). It refuses the
search when a trial cannot be composed, or when every one of these trials is refused: then the
refusal does not depend on the searched values. A trial refused only at some values (a choice
of losses of which one does not fit the task) is left to the search, which records it and goes
on.

    >>> from hydra.core.override_parser.overrides_parser import OverridesParser
    >>> trial_overrides({"optimizer.lr": "tag(log, interval(1e-4, 1e-2))"}, ["data=iris"])
    [['optimizer.lr=0.001', 'data=iris']]
    >>> trial_overrides({"loss": "choice(focal, asl)"}, [])
    [['loss=focal'], ['loss=asl']]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

from lossbench.errors import ConfigError

__all__ = ["check_search", "is_search", "trial_overrides"]


def is_search(config: DictConfig) -> bool:
    """Whether the multirun of ``config`` is an Optuna search (its sweeper's target)."""
    return "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower()


def _middle(sweep: Any) -> str:
    """A value inside an ``interval(a, b)``: its middle, geometric where tagged ``log``."""
    start, end = sweep.start, sweep.end
    if "log" in sweep.tags and start > 0 and end > 0:
        value: float = math.sqrt(start * end)
    else:
        value = (start + end) / 2
    if isinstance(start, int) and isinstance(end, int):  # Optuna samples integers there
        return str(round(value))
    return repr(float(f"{value:.6g}"))


def trial_overrides(params: Mapping[str, str], arguments: Sequence[str]) -> list[list[str]]:
    """The overrides of the trials :func:`check_search` composes.

    ``params`` is ``hydra.sweeper.params``, ``arguments`` the command line's overrides (which
    win for the same key, as in Optuna's sweeper). The first trial takes every interval's middle
    and every choice's or range's first value; each further trial changes one choice or range to
    another of its values.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    parsed = {o.key_or_group: o for o in OverridesParser.create().parse_overrides(lines)}
    first: dict[str, str] = {}
    others: list[tuple[str, str]] = []
    for key, override in parsed.items():
        if not override.is_sweep_override():
            first[key] = override.input_line
            continue
        element = override.get_key_element()
        if isinstance(override.value(), IntervalSweep):
            first[key] = f"{element}={_middle(override.value())}"
            continue
        values = list(override.sweep_string_iterator())
        first[key] = f"{element}={values[0]}"
        others += [(key, f"{element}={value}") for value in values[1:]]
    trials = [list(first.values())]
    for key, line in others:
        trials.append([line if k == key else v for k, v in first.items()])
    return trials


def check_search(config: DictConfig, *, max_trials: int = 12) -> None:
    """Refuse an Optuna search whose trials cannot be composed, or whose every trial would be
    refused (see the module's docstring); at most ``max_trials`` trial configs are composed.

    Raises:
        ConfigError: with Hydra's or lossbench's reason and what to change.
    """
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from lossbench.validation import validate

    hydra_ = GlobalHydra.instance()
    if not hydra_.is_initialized():
        return
    loader = hydra_.config_loader()
    params: dict[str, str] = OmegaConf.to_container(  # type: ignore[assignment]
        config.hydra.sweeper.get("params") or {}, resolve=False
    )
    trials = trial_overrides(params, list(config.hydra.overrides.task))[:max_trials]
    searched = ", ".join(params) or "none"
    refusals: list[str] = []
    for overrides in trials:
        try:
            trial = loader.load_sweep_config(config, list(overrides))
        except Exception as error:  # Hydra's and OmegaConf's composition errors
            reason = " ".join(str(error).split())
            raise ConfigError(
                f"a trial of this search cannot be composed ({' '.join(overrides)}): {reason}. "
                f"The search sets {searched} (hydra.sweeper.params and the command line's "
                "interval()/choice() values); each must be a key of the config the other "
                "settings choose, e.g. loss.gamma exists with loss=focal but not with "
                "loss=asl. Choose a config that has the searched keys, or search other keys "
                "(hydra.sweeper.params.<key>=...; ~hydra.sweeper.params.<key> drops one)."
            ) from None
        try:
            validate(trial)
        except ConfigError as error:
            refusals.append(str(error))
        else:
            return
    raise ConfigError(
        f"every trial of this search would be refused, whatever the searched values "
        f"({searched}; {len(trials)} trial config(s) checked, with values inside each range): "
        f"{refusals[0]}"
    )
