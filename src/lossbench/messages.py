"""What lossbench's commands keep out of their output (no torch or Lightning import).

>>> quiet_lightning()
>>> import logging
>>> logging.getLogger("lightning.pytorch").propagate
False
"""

from __future__ import annotations

import logging
import warnings


def quiet_lightning() -> None:
    """Silence Lightning's messages that say nothing about a lossbench run."""
    # Lightning has its own console handler; without this, Hydra's root handler repeats each line.
    logging.getLogger("lightning.pytorch").propagate = False
    logging.getLogger("lightning.fabric").propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)  # imported by optuna, chatty at INFO
    for pattern in (
        ".*smaller than the logging interval.*",
        ".*does not have many workers.*",
        ".*treespec, LeafSpec.*",
        ".*`isinstance\\(treespec, LeafSpec\\)`.*",
    ):
        warnings.filterwarnings("ignore", pattern)
