"""What lossbench stores in a Lightning checkpoint, beside Lightning's own entries: the keys.

A leaf module (no lossbench imports, no torch): :mod:`lossbench.module` writes these entries,
:mod:`lossbench.checkpoint` reads and checks them, and neither imports the other for them.

    >>> history({HISTORY_KEY: '{"val/nll": [0.7, 0.5]}'})
    {'val/nll': [0.7, 0.5]}
    >>> "feature_names" in DATA_KEYS
    True

A history is written as JSON text (:class:`HistoryText`) each time a checkpoint is saved.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping
from typing import Any

#: Every metric per epoch (the ``history`` of ``metrics.json``), as JSON text.
HISTORY_KEY = "lossbench_history"
#: What prediction needs without the training data: task, head, loss, link, and the data's
#: preprocessing (:data:`DATA_KEYS`, :data:`OPTIONAL_DATA_KEYS`).
METADATA_KEY = "lossbench_metadata"
#: The random number generator states at the epoch end the checkpoint was saved at.
RNG_KEY = "lossbench_rng"
#: The learning rate at the start of the epoch the checkpoint was saved in (``train/lr`` of an
#: epoch resumed within it).
EPOCH_LR_KEY = "lossbench_epoch_lr"
#: The processes that trained the run (Lightning's ``Trainer.world_size``: devices times
#: nodes), each on its share of an epoch's batches; absent in checkpoints of an older lossbench.
PROCESSES_KEY = "lossbench_processes"
#: The resolved config of the run that wrote the checkpoint, as JSON text (one pickled object):
#: a resume from a copy away from its run's ``config.yaml`` is checked against it. Absent in
#: checkpoints of an older lossbench.
RUN_CONFIG_KEY = "lossbench_config"


def run_config_text(config: Any) -> str:
    """The :data:`RUN_CONFIG_KEY` entry of a run's resolved ``config`` (plain containers).

    >>> run_config_text({"seed": 0, "data": {"batch_size": 64}})
    '{"seed": 0, "data": {"batch_size": 64}}'
    """
    return json.dumps(config, default=str)


#: Keys of ``lossbench_metadata`` that come from the data (the rest describe the model).
DATA_KEYS = ("feature_names", "feature_mean", "feature_scale", "label_names", "classes")
#: Data keys of checkpoints with categorical features or imputation (absent in older ones: none).
OPTIONAL_DATA_KEYS = ("categories", "fill")
#: Data key of dense checkpoints: the training images' ``[channels, height, width]`` (absent in
#: those of tables, and in dense ones that an older lossbench wrote from a resumed run).
INPUT_SHAPE_KEY = "input_shape"
#: Data key: a SHA-256 of each split's rows as the run used them (``{"train": hex, "val": ...,
#: "test": ...}``, :func:`lossbench.data.datamodule.split_fingerprint`); absent in checkpoints of
#: an older lossbench.
SPLITS_SHA256_KEY = "split_sha256"
#: Hyper-parameters that must be equal to resume a run, and that rebuild the module.
RESUME_KEYS = ("task", "n_features", "n_outputs", "n_targets", "model", "head", "loss", "optimizer")

# Lightning's own entries (``Trainer.save_checkpoint``, checked: Lightning 2.6.6), which
# lossbench writes itself for the members of a vectorized group (lossbench.vectorized.checkpoints).
#: The epoch and optimizer step counters (informative: Lightning resumes from :data:`LOOPS_KEY`).
EPOCH_KEY = "epoch"
GLOBAL_STEP_KEY = "global_step"
#: The Lightning version that wrote the checkpoint (it migrates older formats by it).
VERSION_KEY = "pytorch-lightning_version"
#: The module's weights (``LightningModule.state_dict()``).
WEIGHTS_KEY = "state_dict"
#: ``LightningModule.CHECKPOINT_HYPER_PARAMS_NAME`` / ``CHECKPOINT_HYPER_PARAMS_KEY``.
HPARAMS_NAME_KEY = "hparams_name"
HPARAMS_KEY = "hyper_parameters"
#: ``LightningDataModule.CHECKPOINT_HYPER_PARAMS_KEY``: the data set's settings and the run's
#: seed (:func:`lossbench.data.datamodule.data_hyperparameters`); absent in checkpoints of an
#: older lossbench.
DATA_HPARAMS_KEY = "datamodule_hyper_parameters"
#: ``LightningDataModule.CHECKPOINT_HYPER_PARAMS_NAME``: None (the hyper-parameters were given
#: as a mapping, not collected from ``__init__``'s arguments).
DATA_HPARAMS_NAME_KEY = "datamodule_hparams_name"
#: The loops' progress: epochs, batches and optimizer steps done.
LOOPS_KEY = "loops"
#: Each stateful callback's ``state_dict()``, by its ``state_key``.
CALLBACKS_KEY = "callbacks"
#: Each optimizer's ``state_dict()`` (per-parameter state, parameter groups).
OPTIMIZER_STATES_KEY = "optimizer_states"
#: Each learning-rate scheduler's ``state_dict()``.
LR_SCHEDULERS_KEY = "lr_schedulers"
#: What ``Trainer.fit(ckpt_path=...)`` restores beside the weights; a checkpoint without them
#: (``save_weights_only``) can be evaluated and predicted with, not resumed.
TRAINING_STATE_KEYS = (OPTIMIZER_STATES_KEY, LR_SCHEDULERS_KEY, LOOPS_KEY, CALLBACKS_KEY)


def history(checkpoint: Mapping[str, Any]) -> dict[str, list[float]]:
    """Every metric per epoch stored in ``checkpoint`` (empty if none)."""
    stored = checkpoint.get(HISTORY_KEY) or {}
    return json.loads(stored) if isinstance(stored, str) else dict(stored)


#: The value types :class:`HistoryText` formats one by one (exact types: not bool).
_NUMBERS = (float, int)


class HistoryText:
    """``json.dumps(history)`` for a history that grows by appending, in time proportional to
    the values appended since the last call: a checkpoint written every epoch would otherwise
    format every value of every epoch again, a cost that grows with the square of the epochs
    over a run. For 30 metrics, ``json.dumps`` took 0.9-1.1 ms at 60 epochs and 4-6 ms at 300,
    this 0.15-0.25 and 0.5-1.0 ms (one process, one thread).

        >>> text = HistoryText()
        >>> run = {"val/nll": [0.7, 0.5]}
        >>> text.dumps(run)
        '{"val/nll": [0.7, 0.5]}'
        >>> run["val/nll"].append(float("nan"))
        >>> text.dumps(run) == json.dumps(run)
        True

    Each key's values already formatted are kept with the values they format; a list that
    no longer starts with them (replaced, shortened, changed in place) is formatted anew, so
    the text is always ``json.dumps(history)``'s. Anything but string keys and lists of
    floats and ints goes to ``json.dumps`` whole.
    """

    def __init__(self) -> None:
        #: key -> (the values formatted so far, their JSON text without the brackets)
        self._done: dict[str, tuple[list[Any], str]] = {}

    def dumps(self, history: Mapping[str, list[float]]) -> str:
        """The JSON text of ``history``, exactly as ``json.dumps(history)`` writes it."""
        if not all(type(k) is str and type(v) is list for k, v in history.items()):
            self._done = {}
            return json.dumps(history)
        done: dict[str, tuple[list[Any], str]] = {}
        items = []
        for key, values in history.items():
            seen, text = self._done.get(key, ([], ""))
            count = len(seen)
            # the same objects, not equal ones: 0 == 0.0 == -0.0 but each has its own text
            if count > len(values) or not all(map(operator.is_, values[:count], seen)):
                seen, text, count = [], "", 0
            if count < len(values):
                new = values[count:]
                if not all(type(value) in _NUMBERS for value in new):
                    self._done = {}
                    return json.dumps(history)
                seen.extend(new)  # the cache's own list
                text = ", ".join([text, *map(json.dumps, new)] if text else map(json.dumps, new))
            done[key] = (seen, text)
            items.append(f"{json.dumps(key)}: [{text}]")
        self._done = done
        return "{" + ", ".join(items) + "}"


def unsupported_global(message: str) -> str | None:
    """The import path of the object that ``torch.load(weights_only=True)`` refused to
    unpickle, read from its error ``message`` (``Unsupported global: GLOBAL my_module.Thing``),
    or None where the message names none.

        >>> unsupported_global("... Unsupported global: GLOBAL my_callbacks.Thing was not ...")
        'my_callbacks.Thing'
        >>> unsupported_global("Weights only load failed.") is None
        True
    """
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    return found.group(1) if found else None
