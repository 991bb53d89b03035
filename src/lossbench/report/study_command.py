"""The overrides a study's command line gave besides its experiment, variant and output folder
(``make compare ARGS="..."``), read from the ``multirun.yaml`` Hydra writes into the study's
folder, so that advice to run the study again (a higher cap) keeps them.

    >>> import tempfile
    >>> import pandas as pd
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / MULTIRUN_FILE).write_text(
    ...     "hydra:\\n  overrides:\\n    task:\\n    - experiment=compare_all\\n"
    ...     "    - paths.output_dir=/tmp/x\\n    - optimizer.weight_decay=0.0001\\n")
    >>> runs = pd.DataFrame({"_config": [{"optimizer.weight_decay": 0.0001}]})
    >>> study_arguments([folder], runs)
    ['optimizer.weight_decay=0.0001']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = ["MULTIRUN_FILE", "study_arguments"]

#: What Hydra writes into a multirun's folder: the composed config with ``hydra.overrides``.
MULTIRUN_FILE = "multirun.yaml"
#: Keys that ``make compare`` sets itself, or that the advice replaces.
_OWN_KEYS = frozenset({"experiment", "study", "paths.output_dir", "trainer.max_epochs"})


def _key(override: str) -> str:
    """``+optimizer.weight_decay=1e-4`` -> ``optimizer.weight_decay``."""
    return override.split("=", 1)[0].lstrip("+~")


def _value(override: str) -> Any:
    text = override.split("=", 1)[1] if "=" in override else ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _task_overrides(folder: Path) -> list[str] | None:
    try:
        config = yaml.safe_load((folder / MULTIRUN_FILE).read_text())
        task = config["hydra"]["overrides"]["task"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    if not isinstance(task, list) or not all(isinstance(item, str) for item in task):
        return None
    return task


def study_arguments(sources: Sequence[str | os.PathLike], runs: pd.DataFrame) -> list[str] | None:
    """The study command's own overrides other than ``experiment``, ``study``,
    ``paths.output_dir`` and ``trainer.max_epochs``, from the ``multirun.yaml`` of its one
    source folder; None where they cannot be known: several folders, no such file, an
    override with a double quote (not passable in ``ARGS="..."``), or a value some run's
    config records otherwise (the file is the last sweep's into the folder, and the runs may
    come from another)."""
    if len(sources) != 1:
        return None
    task = _task_overrides(Path(sources[0]))
    if task is None:
        return None
    arguments = [item for item in task if _key(item) not in _OWN_KEYS]
    configs = [c for c in runs.get("_config", []) if isinstance(c, dict)]
    for item in arguments:
        if '"' in item:
            return None
        key = _key(item)
        if any(key in config and config[key] != _value(item) for config in configs):
            return None
    return arguments
