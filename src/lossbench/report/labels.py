"""Setup labels: what distinguishes one head + loss setup from another in a study.

A record's own ``setup`` name wins, followed by every config value that differs among the runs
of that name and data set where any does (the same setup trained with ``trainer.max_epochs=2``
in one study and 100 in another is two setups, ``sigmoid_mse (trainer.max_epochs=2)`` and
``sigmoid_mse (trainer.max_epochs=100)``, never pooled). Otherwise the label is
``"<head> + <loss>"`` followed by every config value that differs among the runs of the same
data set, head and loss, so a sweep over ``loss.label_smoothing=0,0.1`` gives two setups::

    >>> configs = [{"loss.label_smoothing": 0.0, "seed": 0}, {"loss.label_smoothing": 0.1}]
    >>> differing_keys(configs)
    ['loss.label_smoothing']
    >>> variant_text({"loss.label_smoothing": 0.1}, ["loss.label_smoothing"])
    'loss.label_smoothing=0.1'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: Keys that never distinguish setups: the seed is what a study averages over, the learning rate
#: is what it tunes per setup (lossbench.report.selection), the rest only change logging,
#: progress output or where files go.
IGNORED_KEYS = frozenset(
    {
        "seed",
        "optimizer.lr",
        "ckpt_path",
        "setup",
        "trainer.enable_progress_bar",
        "trainer.enable_model_summary",
        "trainer.log_every_n_steps",
        "trainer.default_root_dir",
    }
)
#: Groups that never distinguish setups: the data set is a column of its own; the loggers only
#: decide where per-epoch numbers are written, paths where files go; the callbacks' settings
#: that matter (checkpoint.*, early_stopping.*) are compared under their own keys.
IGNORED_PREFIXES = ("data.", "logger.", "hydra.", "paths.", "callbacks.")
#: Shown instead of the differing values when a run's config.yaml is missing (a run refused
#: before its config was written).
NO_CONFIG = "config.yaml missing"
_MISSING = "<missing>"


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: ``{"loss": {"name": "nll"}}`` ->
    ``{"loss.name": "nll"}``. Lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def is_ignored(key: str) -> bool:
    """Whether ``key`` (dotted) is left out when looking for what distinguishes setups."""
    last = key.rsplit(".", 1)[-1]
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES) or last.endswith(("path", "dir"))


def format_value(value: Any) -> str:
    """A config value as it would be typed on the command line (``0.1``, ``null``, ``[1,2]``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    return str(value)


def differing_keys(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sorted keys whose value is not the same in every flattened config (ignored keys left out);
    a key missing from some configs counts as differing."""
    keys = sorted({k for config in configs for k in config if not is_ignored(k)})
    return [
        key
        for key in keys
        if len({format_value(c[key]) if key in c else _MISSING for c in configs}) > 1
    ]


def variant_text(config: Mapping[str, Any] | None, keys: Sequence[str]) -> str:
    """``key=value`` for each of ``keys`` in ``config``; :data:`NO_CONFIG` when there is none."""
    if not keys:
        return ""
    if config is None:
        return NO_CONFIG
    return ", ".join(f"{k}={format_value(config[k]) if k in config else _MISSING}" for k in keys)


def assign_setups(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``variant`` (what differs within data set, head and loss) and fill ``setup``.

    Args:
        runs: One row per run with ``data``, ``head``, ``loss``, ``setup`` (the record's name or
            None) and ``_config`` (the flattened config.yaml, or None when there is none).

    Returns:
        A copy with ``setup`` set for every run and a ``variant`` column ("" when nothing
        differs). A named setup whose runs differ in config beyond the keys a study sweeps
        (:data:`IGNORED_KEYS`: seed, learning rate; the data set's keys) is split: each run's
        name gets ``(key=value, ...)`` of the differing keys, and that is its ``variant``; a run
        of it without a config.yaml keeps the bare name.
    """
    runs = runs.copy()
    runs["variant"] = ""
    for _, group in runs.groupby(["data", "head", "loss"], dropna=False, sort=False):
        configs = [c for c in group["_config"] if c is not None]
        keys = differing_keys(configs)
        for index, config in group["_config"].items():
            runs.at[index, "variant"] = variant_text(config, keys)
    named = runs["setup"].notna()
    for _, group in runs[named].groupby(["data", "setup"], dropna=False, sort=False):
        keys = differing_keys([c for c in group["_config"] if c is not None])
        if not keys:
            continue
        for index, config in group["_config"].items():
            if config is not None:
                text = variant_text(config, keys)
                runs.at[index, "variant"] = text
                runs.at[index, "setup"] = f"{runs.at[index, 'setup']} ({text})"
    for index, row in runs.iterrows():
        if row["setup"] is None or pd.isna(row["setup"]):
            label = f"{row['head']} + {row['loss']}"
            runs.at[index, "setup"] = f"{label} ({row['variant']})" if row["variant"] else label
    return runs
