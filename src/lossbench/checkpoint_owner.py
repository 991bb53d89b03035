"""Which run wrote a checkpoint: the run folder named in the config it stores.

A lossbench checkpoint holds its run's resolved config (:data:`RUN_CONFIG_KEY`), whose
``paths.run_dir`` is the folder the run wrote to (Hydra's output folder, absolute). In a
``ModelCheckpoint`` folder that several runs share (an absolute ``dirpath`` given to each job
of a sweep), that folder tells one run's files from another's: ``ckpt_path=last`` resumes
only the run's own (:func:`lossbench.checkpoint.resume_path`).

    >>> stored = {RUN_CONFIG_KEY: '{"seed": 1, "paths": {"run_dir": "/sweep/1"}}'}
    >>> stored_run_dir(stored)
    PosixPath('/sweep/1')
    >>> written_by(stored, "/sweep/1"), written_by(stored, "/sweep/0"), written_by({}, "/x")
    (True, False, False)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossbench.checkpoint_format import RUN_CONFIG_KEY

__all__ = ["stored_run_dir", "written_by"]


def stored_run_dir(checkpoint: Mapping[str, Any]) -> Path | None:
    """The run folder (``paths.run_dir``) of the config ``checkpoint`` stores, or None where
    it stores none (a checkpoint of an older lossbench, or of a Trainer outside lossbench) or
    names no folder."""
    text = checkpoint.get(RUN_CONFIG_KEY)
    if not isinstance(text, str):
        return None
    try:
        config = json.loads(text)
    except ValueError:
        return None
    paths = config.get("paths") if isinstance(config, dict) else None
    run_dir = paths.get("run_dir") if isinstance(paths, dict) else None
    return Path(run_dir).expanduser() if isinstance(run_dir, str) and run_dir else None


def written_by(checkpoint: Mapping[str, Any], run_dir: str | os.PathLike) -> bool:
    """Whether ``checkpoint`` was written by the run in ``run_dir``: the run folder it stores
    (:func:`stored_run_dir`) is that folder, compared as resolved paths (a link, ``..`` and a
    trailing ``/`` do not count). False where it stores none: its run cannot be told."""
    stored = stored_run_dir(checkpoint)
    return stored is not None and stored.resolve() == Path(run_dir).expanduser().resolve()
