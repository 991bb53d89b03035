"""A run's ``config.yaml``: reading one as OmegaConf does, and telling a config lossbench-train
wrote from another tool's.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "config.yaml"
    >>> _ = path.write_text("data: {name: iris}\\nloss: {name: nll}\\nseed: 0\\n")
    >>> is_run_config(path), load_config_file(path)[0].data.name
    (True, 'iris')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["RUN_CONFIG_KEYS", "is_run_config", "load_config_file", "missing_run_keys"]

#: What every ``config.yaml`` lossbench-train writes holds: the data and the loss (each a
#: mapping with its ``name``) and the seed.
RUN_CONFIG_KEYS = ("data", "loss", "seed")


def load_config_file(path: str | os.PathLike) -> tuple[Any, str | None]:
    """``(config, None)``: the YAML file at ``path`` loaded with OmegaConf; or ``(None, why)``
    where it is not readable YAML text (naming the line)."""
    import yaml
    from omegaconf import OmegaConf

    try:
        return OmegaConf.load(path), None
    except UnicodeDecodeError as error:
        return None, (
            f"is not UTF-8 text (byte {error.start}): a binary file, such as a checkpoint"
        )
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        line = f"line {mark.line + 1}: " if mark is not None else ""
        return None, f"is not readable YAML ({line}{problem}); it may be truncated or edited"
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"


def is_run_config(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` is a ``config.yaml`` lossbench-train wrote: readable YAML
    holding what every run's config holds (:data:`RUN_CONFIG_KEYS`). False for a missing file,
    one that cannot be read and another tool's.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "config.yaml"
        >>> is_run_config(path)
        False
        >>> _ = path.write_text("data: {name: iris}\\nloss: {name: nll}\\nseed: 0\\n")
        >>> is_run_config(path)
        True
    """
    from omegaconf import DictConfig, OmegaConf

    if not Path(path).is_file():
        return False
    config = load_config_file(path)[0]
    plain = OmegaConf.to_container(config) if isinstance(config, DictConfig) else None
    return isinstance(plain, dict) and not missing_run_keys(plain)


def missing_run_keys(config: dict[str, Any]) -> list[str]:
    """The keys of :data:`RUN_CONFIG_KEYS` (and the data's and the loss's ``name``) that
    ``config``, a ``config.yaml`` read as a dict, lacks: none for a run's own.

        >>> missing_run_keys({"data": {"name": "iris"}, "loss": {"name": "nll"}, "seed": 0})
        []
        >>> missing_run_keys({"data": "mine.csv", "seed": 0})
        ['loss', 'data.name']
    """
    missing = [key for key in RUN_CONFIG_KEYS if key not in config]
    return missing + [
        f"{key}.name"
        for key in ("data", "loss")
        if key in config and not (isinstance(config[key], dict) and "name" in config[key])
    ]
