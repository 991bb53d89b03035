"""What lossbench's commands keep out of their output (no torch or Lightning import).

>>> quiet_lightning()
>>> import logging
>>> logging.getLogger("lightning.pytorch").propagate
False
>>> [type(h).__name__ for h in logging.getLogger(MODEL_SUMMARY_LOGGER).handlers]
['PastLightningHandler']
"""

from __future__ import annotations

import logging
import warnings

#: The logger of Lightning's ``ModelSummary`` callback: the one message of Lightning's that a
#: run shows (its table of the model's parameters, in single runs: ``callbacks.model_summary``).
MODEL_SUMMARY_LOGGER = "lightning.pytorch.callbacks.model_summary"


class PastLightningHandler(logging.Handler):
    """Hands a record to the root logger's handlers (Hydra's console and the run's
    ``train.log``), past ``lightning.pytorch``, which :func:`quiet_lightning` keeps from
    propagating. Where Lightning has a console handler of its own (imported before logging was
    configured, when the root logger had no handler), that one shows the record instead."""

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger("lightning.pytorch").handlers:
            logging.getLogger().handle(record)


#: MLflow's logger of its SQLite store: at INFO it says that it creates and updates a new
#: store's tables ("Creating initial MLflow database tables...", "Updating database tables").
MLFLOW_STORE_LOGGER = "mlflow.store.db.utils"


def quiet_mlflow() -> None:
    """Keep MLflow's INFO lines about creating a new store's tables out of the output; its
    warnings and errors are still shown. MLflow need not be imported: it sets the level of
    its own ``mlflow`` logger only, so this level of the store's logger stays."""
    logging.getLogger(MLFLOW_STORE_LOGGER).setLevel(logging.WARNING)


def quiet_lightning() -> None:
    """Silence Lightning's messages that say nothing about a lossbench run; the model summary
    (:data:`MODEL_SUMMARY_LOGGER`) is still shown."""
    # Lightning has its own console handler where it was imported before Hydra configured
    # logging; without this, Hydra's root handler repeats each line. Where it has none (imported
    # after), its messages end here: the devices a Trainer found, tips, "`Trainer.fit` stopped".
    logging.getLogger("lightning.pytorch").propagate = False
    logging.getLogger("lightning.fabric").propagate = False
    # and at WARNING, where Lightning's import set INFO: in a worker process (joblib's) that
    # imported Lightning before logging was configured (unpickling a Hydra callback whose module
    # imports it), its own console handler showed the devices, tips and "`Trainer.fit` stopped"
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    summary = logging.getLogger(MODEL_SUMMARY_LOGGER)
    summary.setLevel(logging.INFO)  # the one message of Lightning's that a run shows
    if not any(isinstance(h, PastLightningHandler) for h in summary.handlers):
        summary.addHandler(PastLightningHandler())
    logging.getLogger("alembic").setLevel(logging.WARNING)  # imported by optuna, chatty at INFO
    quiet_mlflow()
    for pattern in (
        ".*smaller than the logging interval.*",
        ".*does not have many workers.*",
        ".*treespec, LeafSpec.*",
        ".*`isinstance\\(treespec, LeafSpec\\)`.*",
        # trainer.precision=bf16-mixed (16-mixed, ...): the summary's size in MB assumes 32 bits
        ".*is not supported by the model summary.*",
        # a training batch in which no target counts (every pixel unlabelled) is skipped so
        # on purpose (lossbench.module)
        ".*`training_step` returned `None`.*",
    ):
        warnings.filterwarnings("ignore", pattern)
