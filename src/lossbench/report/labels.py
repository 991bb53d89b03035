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

Data sets are told apart the same way (:func:`data_labels`): runs of one data set name whose
data settings differ are separate data sets, named with what differs
(``synthetic_binary (label_noise=0.4)``), never pooled. The batch size is a training setting:
it makes setup variants (``logits + cross_entropy (data.batch_size=32)``), as other training
keys do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
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
#: Groups that never distinguish setups: the data set is a column of its own (its settings tell
#: data sets apart, :func:`data_labels`); the loggers only decide where per-epoch numbers are
#: written, paths where files go; the callbacks' settings that matter (checkpoint.*,
#: early_stopping.*) are compared under their own keys.
IGNORED_PREFIXES = ("data.", "logger.", "hydra.", "paths.", "callbacks.")
#: Keys of the data group that are training settings: they distinguish setups, not data sets.
TRAINING_DATA_KEYS = frozenset({"data.batch_size"})
#: The data key of the split, which tells data sets apart only where it does not follow the seed
#: (:func:`data_labels`).
SPLIT_SEED = "data.split_seed"
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
    if key in TRAINING_DATA_KEYS:
        return False
    last = key.rsplit(".", 1)[-1]
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES) or last.endswith(("path", "dir"))


def is_data_setting(key: str) -> bool:
    """Whether ``key`` (dotted) is a setting of the data that tells data sets of one name apart:
    a ``data.`` key other than the name, the training settings (:data:`TRAINING_DATA_KEYS`),
    the split seed (:func:`data_labels` decides on it) and file locations (``*path``, ``*dir``;
    CSV files are told apart by :func:`lossbench.report.collect.csv_names`)."""
    last = key.rsplit(".", 1)[-1]
    return (
        key.startswith("data.")
        and key not in {"data.name", SPLIT_SEED, *TRAINING_DATA_KEYS}
        and not last.endswith(("path", "dir"))
    )


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


def differing_keys(
    configs: Sequence[Mapping[str, Any]], wanted: Callable[[str], bool] | None = None
) -> list[str]:
    """Sorted keys whose value is not the same in every flattened config (ignored keys left out,
    or only the ``wanted`` ones looked at); a key missing from some configs counts as differing."""
    wanted = wanted or (lambda key: not is_ignored(key))
    keys = sorted({k for config in configs for k in config if wanted(k)})
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


def split_follows_seed(configs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every run of one seed has the same ``data.split_seed`` (the fair protocol's
    ``data.split_seed=${seed}``: a split per seed, which a study averages over like the seed;
    a fixed split is also one per seed). Not so where runs of one seed were trained on different
    splits (``data.split_seed=0`` in one study and ``1`` in another): those are different data.

        >>> split_follows_seed([{"seed": s, "data.split_seed": s} for s in (0, 1, 0)])
        True
        >>> split_follows_seed([{"seed": 0, "data.split_seed": s} for s in (0, 1)])
        False
    """
    splits: dict[str, set[str]] = {}
    for config in configs:
        split = format_value(config[SPLIT_SEED]) if SPLIT_SEED in config else _MISSING
        splits.setdefault(format_value(config.get("seed")), set()).add(split)
    return all(len(s) == 1 for s in splits.values())


def _data_text(name: str, config: Mapping[str, Any], keys: Sequence[str]) -> str:
    """``name (key=value, ...)`` of the data ``keys`` in ``config``, without their ``data.``
    prefix."""
    values = (format_value(config[k]) if k in config else _MISSING for k in keys)
    text = ", ".join(f"{k.removeprefix('data.')}={v}" for k, v in zip(keys, values, strict=True))
    return f"{name} ({text})"


def _folders_above(run_dir: Any) -> list[str]:
    """The folders above a run's folder, nearest first (none for a run without one).

    >>> _folders_above("/s/wine/ce/seed0")
    ['/s/wine/ce', '/s/wine', '/s', '/']
    """
    if not isinstance(run_dir, str) or not run_dir:
        return []
    return [str(folder) for folder in PurePath(run_dir).parents]


def _sibling_label(
    settings: Mapping[str, Any] | None,
    run_dir: Any,
    labelled: Mapping[str, Mapping[str, Any]],
    by_folder: Mapping[str, set[str]],
    keys: Sequence[str],
) -> str | None:
    """The label of the data set a run without a config.yaml belongs to, among ``labelled``
    (``{label: the settings of its runs' keys}``): the one whose values of ``keys`` agree with
    the run's own recorded data ``settings`` (those it records; Hydra's ``.hydra/`` of its
    job), else, among those that agree, the only one of the runs in the nearest folder above
    it that holds any (``by_folder``: the labels of the runs below each folder). None where
    neither tells."""
    recorded = settings if isinstance(settings, Mapping) else {}
    known = {k: format_value(recorded[k]) for k in keys if k in recorded}
    candidates = {
        label
        for label, values in labelled.items()
        if all(values.get(k, _MISSING) == value for k, value in known.items())
    }
    if len(candidates) == 1:
        return next(iter(candidates))
    for folder in _folders_above(run_dir):
        near = by_folder.get(folder, set()) & candidates
        if near:
            return next(iter(near)) if len(near) == 1 else None
    return None


def data_labels(runs: pd.DataFrame) -> pd.Series:
    """``data`` of each run, with the data settings that differ among the runs of its name.

    Args:
        runs: One row per run with ``data`` (the data set's name), ``_config`` (the
            flattened config.yaml, or None) and, optionally, ``run_dir`` and
            ``_data_settings`` (a run without a config.yaml: the data settings its job's
            folder records, flattened, or None).

    Returns:
        Where runs of one name differ in a data setting (:func:`is_data_setting`, and
        ``data.split_seed`` where runs of one seed differ in it, :func:`split_follows_seed`),
        each run's name followed by ``(key=value, ...)`` of the differing keys without their
        ``data.`` prefix: ``synthetic_binary (label_noise=0)`` and ``synthetic_binary
        (label_noise=0.4)``, separate data sets. A run without a config.yaml (one refused
        before it was written) gets the label of the data set it belongs to: the one its
        ``_data_settings`` agree with, else the one of the runs in the nearest folder above it
        that holds runs of that name with a config (the study it sits in); None where neither
        tells (never a data set of its own beside the labelled ones). Where the runs of a
        name do not differ, every run keeps the bare name.

        >>> runs = pd.DataFrame({"data": ["s", "s", "s", "s"], "_config": [
        ...     {"data.label_noise": 0.0, "data.batch_size": 64, "seed": 0, "data.split_seed": 0},
        ...     {"data.label_noise": 0.4, "data.batch_size": 32, "seed": 1, "data.split_seed": 1},
        ...     None, None], "run_dir": ["a/0", "b/1", "b/2", "c/3"],
        ...     "_data_settings": [None, None, None, {"data.label_noise": 0}]})
        >>> data_labels(runs).tolist()
        ['s (label_noise=0)', 's (label_noise=0.4)', 's (label_noise=0.4)', 's (label_noise=0)']
    """
    labels = runs["data"].astype(object).copy()
    missing = pd.Series(None, index=runs.index, dtype=object)
    settings = runs.get("_data_settings", missing)
    run_dirs = runs.get("run_dir", missing)
    for name, group in runs.groupby("data", sort=False):
        configs = [c for c in group["_config"] if c is not None]
        keys = differing_keys(configs, is_data_setting)
        if not split_follows_seed(configs):
            keys = sorted([*keys, SPLIT_SEED])
        if not keys:
            continue
        labelled: dict[str, dict[str, str]] = {}
        by_folder: dict[str, set[str]] = {}
        for index, config in group["_config"].items():
            if config is not None:
                label = labels.at[index] = _data_text(str(name), config, keys)
                labelled[label] = {k: format_value(config[k]) for k in keys if k in config}
                for folder in _folders_above(run_dirs[index]):
                    by_folder.setdefault(folder, set()).add(label)
        for index, config in group["_config"].items():
            if config is None:
                labels.at[index] = _sibling_label(
                    settings[index], run_dirs[index], labelled, by_folder, keys
                )
    return labels


#: The epoch cap, which a study run again with a higher one raises (:mod:`lossbench.run_identity`).
CAP_KEY = "trainer.max_epochs"


def _at_raised_caps(runs: pd.DataFrame) -> dict[Any, dict[str, Any] | None]:
    """Each run's flattened config, where a study was run again with a higher
    ``trainer.max_epochs``: a run kept from the lower cap because it would have ended the same
    way under the higher one (:func:`lossbench.run_identity.stands_at_higher_cap`) counts as a
    run at the highest cap of the runs of its data set, head, loss and setup name, so they are
    one setup, not two told apart by their caps. Runs at a lower cap of which any does not
    stand (a study trained at two caps on purpose) keep their caps.

        >>> runs = pd.DataFrame({"data": ["d", "d"], "head": ["h", "h"], "loss": ["l", "l"],
        ...     "setup": [None, None], "status": ["completed", "completed"],
        ...     "stopped_by": ["early_stopping", "budget"], "error": [None, None],
        ...     "_config": [{"trainer.max_epochs": 300, "scheduler.name": "none"},
        ...                 {"trainer.max_epochs": 600, "scheduler.name": "none"}]})
        >>> [c["trainer.max_epochs"] for c in _at_raised_caps(runs).values()]
        [600, 600]
    """
    from lossbench.run_identity import stands_at_higher_cap

    configs: dict[Any, dict[str, Any] | None] = dict(runs["_config"].items())
    keys = ["data", "head", "loss", "setup"]
    for _, group in runs.groupby(keys, dropna=False, sort=False):
        caps = {
            i: configs[i].get(CAP_KEY)
            for i in group.index
            if configs[i] is not None and isinstance(configs[i].get(CAP_KEY), int)
        }
        if len(set(caps.values())) < 2:
            continue
        top = max(caps.values())
        lower = [i for i, cap in caps.items() if cap < top]
        record = {i: {k: group.at[i, k] for k in ("status", "stopped_by", "error") if k in group}
                  for i in lower}  # fmt: skip
        if all(stands_at_higher_cap(record[i], configs[i].get("scheduler.name")) for i in lower):
            for i in lower:
                configs[i] = {**configs[i], CAP_KEY: top}
    return configs


def assign_setups(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``variant`` (what differs within data set, head and loss) and fill ``setup``.

    Args:
        runs: One row per run with ``data``, ``head``, ``loss``, ``setup`` (the record's name or
            None) and ``_config`` (the flattened config.yaml, or None when there is none).

    Returns:
        A copy with ``setup`` set for every run and a ``variant`` column ("" when nothing
        differs). A named setup whose runs differ in config beyond the keys a study sweeps
        (:data:`IGNORED_KEYS`: seed, learning rate; the data settings but the batch size) is
        split: each run's name gets ``(key=value, ...)`` of the differing keys, and that is its
        ``variant``; a run of it without a config.yaml keeps the bare name.
    """
    runs = runs.copy()
    runs["variant"] = ""
    configs_of = _at_raised_caps(runs)
    for _, group in runs.groupby(["data", "head", "loss"], dropna=False, sort=False):
        configs = [configs_of[i] for i in group.index if configs_of[i] is not None]
        keys = differing_keys(configs)
        for index in group.index:
            runs.at[index, "variant"] = variant_text(configs_of[index], keys)
    named = runs["setup"].notna()
    for _, group in runs[named].groupby(["data", "setup"], dropna=False, sort=False):
        keys = differing_keys([configs_of[i] for i in group.index if configs_of[i] is not None])
        if not keys:
            continue
        for index in group.index:
            config = configs_of[index]
            if config is not None:
                text = variant_text(config, keys)
                runs.at[index, "variant"] = text
                runs.at[index, "setup"] = f"{runs.at[index, 'setup']} ({text})"
    for index, row in runs.iterrows():
        if row["setup"] is None or pd.isna(row["setup"]):
            label = f"{row['head']} + {row['loss']}"
            runs.at[index, "setup"] = f"{label} ({row['variant']})" if row["variant"] else label
    return runs
