"""Where each command's Hydra config folder is: :func:`config_dir`.

>>> config_dir().name
'configs'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_FOLDERS", "config_dir"]

#: The config folder of each command: lossbench-train's groups in the repository's ``configs/``
#: (in a wheel, ``lossbench/configs``); lossbench-eval's and lossbench-predict's own folders in
#: the package (``lossbench/command_configs/``), which hold only what they read, so that Hydra
#: (its completion, its --help) offers them nothing of training's.
CONFIG_FOLDERS = {
    "train": "configs",
    "eval": "command_configs/eval",
    "predict": "command_configs/predict",
}


def config_dir(command: str = "train") -> Path:
    """The config folder of ``command`` (``train``, ``eval`` or ``predict``): in the package
    (a wheel; eval's and predict's always), or the repository's ``configs/`` in a source
    checkout (:data:`CONFIG_FOLDERS`).

        >>> [config_dir().name, sorted(p.name for p in config_dir("predict").iterdir())]
        ['configs', ['data', 'predict.yaml']]
    """
    folder = CONFIG_FOLDERS[command]
    packaged = Path(__file__).parent / folder
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / folder
