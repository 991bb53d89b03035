"""The LightningDataModule: a data set split, preprocessed and held as tensors on the device.

    >>> dm = ClassificationDataModule({"name": "wine", "batch_size": 32, "split_seed": 0,
    ...                                "val_fraction": 0.2, "test_fraction": 0.2},
    ...                               loss="cross_entropy")
    >>> dm.task, dm.n_features, dm.n_outputs
    ('multiclass', 13, 3)

Targets are encoded for the loss once (:func:`lossbench.losses.encode_targets`); the metrics
see the int64 labels. Batches are ``(features, labels, targets)``. A dense data set
(:mod:`lossbench.data.dense`) keeps images ``(N, Ch, H, W)`` and label maps ``(N, H, W)``;
``n_features`` is then its number of input channels.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch

from lossbench.checkpoint_format import SPLITS_SHA256_KEY
from lossbench.data.csv_loader import Float32PrecisionWarning
from lossbench.data.datasets import load_table, task_of
from lossbench.data.loader import IndexBatchLoader
from lossbench.data.preprocess import warn_constant_columns
from lossbench.data.splits import STAGES, split_and_standardize
from lossbench.data.table import LoadedTable
from lossbench.losses import encode_targets, n_outputs
from lossbench.scored_classes import unscored_class_names, warn_unscored
from lossbench.sweep_warnings import first_in_sweep
from lossbench.tasks import is_dense, position_task


def data_hyperparameters(data_cfg: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """What a run's loggers record of its data beside the module's hyper-parameters, and its
    checkpoints hold as ``datamodule_hyper_parameters``: the data set's settings as composed
    (its name, split seed, fractions, batch size, ...) and the run's seed. TensorBoard's
    HParams view, MLflow's params and W&B's config then tell apart the runs of one setup on
    other data, splits or seeds.

        >>> data_hyperparameters({"name": "wine", "split_seed": 1}, seed=2)
        {'data': {'name': 'wine', 'split_seed': 1}, 'seed': 2}
    """
    from omegaconf import DictConfig, OmegaConf

    if isinstance(data_cfg, DictConfig):  # its values resolved, as plain types
        data_cfg = OmegaConf.to_container(data_cfg, resolve=True)  # type: ignore[assignment]
    return {"data": dict(data_cfg), "seed": int(seed)}


def split_fingerprint(features: torch.Tensor, labels: torch.Tensor) -> str:
    """A SHA-256 of a split's rows as the model sees them: the preprocessed features and the
    labels (their dtypes, shapes and bytes). Any edited row changes it; hashing is fast
    (about 1 GB/s), and done once per data module.

        >>> a = split_fingerprint(torch.zeros(2, 3), torch.tensor([0, 1]))
        >>> a == split_fingerprint(torch.zeros(2, 3), torch.tensor([0, 0])), len(a)
        (False, 64)
    """
    digest = hashlib.sha256()
    for tensor in (features, labels):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


class ClassificationDataModule(L.LightningDataModule):
    """Loads, splits and standardises the data set of ``data_cfg`` for ``loss``."""

    def __init__(
        self,
        data_cfg: Mapping[str, Any],
        loss: str,
        *,
        seed: int = 0,
        table: LoadedTable | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(data_hyperparameters(data_cfg, seed))
        self.cfg = dict(data_cfg)
        self.loss = loss
        self.seed = seed
        self.task = task_of(self.cfg)
        table = table if table is not None else load_table(self.cfg)
        self.label_names = table.label_names
        #: The CSV file's delimiter (given or detected); None for built-in data sets.
        self.delimiter = table.delimiter
        #: A CSV file's columns that float32 holds coarser than the file, with their warnings.
        self.coarse_columns = table.coarse_columns
        kind = position_task(self.task)
        self.n_targets = 1 if kind == "binary" else len(table.label_names)
        self.n_classes = len(table.classes) if kind == "multiclass" else 2
        self._dense_preprocessing: dict[str, Any] | None = None
        if is_dense(self.task):
            from lossbench.data.dense import split_dense

            splits, self._dense_preprocessing = split_dense(
                table,
                val_fraction=self.cfg["val_fraction"],
                test_fraction=self.cfg["test_fraction"],
                split_seed=self.cfg["split_seed"],
                what=f"data={self.cfg['name']}",
                settings=self.cfg,
            )
            self.preprocessor = None
            #: Model inputs: the images' channels.
            self.n_features = int(table.features.shape[1])
        else:
            splits, self.preprocessor = split_and_standardize(
                table,
                self.task,
                val_fraction=self.cfg["val_fraction"],
                test_fraction=self.cfg["test_fraction"],
                split_seed=self.cfg["split_seed"],
                impute=self.cfg.get("impute"),
                what=f"data={self.cfg['name']}",
            )
            #: Model inputs: numeric columns, then one per category (Preprocessor.output_names).
            self.n_features = len(self.preprocessor.output_names)
        self.feature_names = [str(n) for n in table.feature_names]
        self.classes = [c if isinstance(c, str) else int(c) for c in table.classes]
        self.n_outputs = n_outputs(self.task, self.n_targets, loss)
        self.tensors: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        for stage in STAGES:
            labels = torch.from_numpy(splits[stage].labels)
            targets = encode_targets(labels, self.task, loss, self.n_classes)
            self.tensors[stage] = (torch.from_numpy(splits[stage].features), labels, targets)
        #: Each split's :func:`split_fingerprint`, stored in checkpoints (``split_sha256``).
        self.fingerprints = {
            stage: split_fingerprint(*self.tensors[stage][:2]) for stage in self.tensors
        }

    @property
    def train_targets(self) -> torch.Tensor:
        """The training split's loss targets (for ``pos_weight=auto``)."""
        return self.tensors["train"][2]

    @property
    def preprocessing(self) -> dict[str, Any]:
        """What prediction needs to turn a new table into model input, as plain lists and dicts
        (stored in checkpoints, which load with ``weights_only=True``): the task, the feature
        columns, the training split's preprocessing (standardisation of the numeric columns,
        the categories of the categorical ones, imputed values), the label names and the
        classes."""
        data = self._dense_preprocessing or self.preprocessor.to_dict()
        return {
            "task": self.task,
            **data,
            "label_names": [str(n) for n in self.label_names],
            "classes": self.classes,
            SPLITS_SHA256_KEY: dict(self.fingerprints),
        }

    def sizes(self) -> dict[str, int]:
        return {stage: len(t[1]) for stage, t in self.tensors.items()}

    def unscored_classes(self) -> dict[str, list[str]]:
        """The classes (multi-label: labels; binary: the label column) that the ``val`` and
        ``test`` splits cannot score, by name: no row with the class, or no row without it
        (:mod:`lossbench.scored_classes`). Their macro AUROC and mAP leave those out; binary
        AUROC is then NaN. Dense data sets: ``{}`` (no AUROC).

            >>> dm = ClassificationDataModule({"name": "iris", "batch_size": None,
            ...     "split_seed": 0, "val_fraction": 0.2, "test_fraction": 0.2}, "cross_entropy")
            >>> dm.unscored_classes()
            {'val': [], 'test': []}
        """
        if is_dense(self.task):
            return {}
        return {
            stage: unscored_class_names(self.tensors[stage][1], self.task, self.label_names)
            for stage in ("val", "test")
        }

    def warn_unscored(self, unscored: dict[str, list[str]] | None = None) -> None:
        """Warn for each of :meth:`unscored_classes` (or ``unscored``, when the caller has them)
        that is not empty, naming split, classes and the metrics they leave
        (:func:`lossbench.scored_classes.warn_unscored`): each split of the same data once in
        a sweep (:func:`lossbench.sweep_warnings.first_in_sweep`), whose jobs split it alike."""
        unscored = self.unscored_classes() if unscored is None else unscored
        data = self._split_identity()
        warn_unscored(
            {
                split: names
                for split, names in unscored.items()
                if names and first_in_sweep("unscored classes", data, split, *names)
            },
            self.task,
            self.n_targets,
            what=f"data={self.cfg['name']}",
        )

    def _split_identity(self) -> str:
        """What the splits of this data module depend on: the data settings, without the batch
        size, with a CSV file's absolute path (two files are two data sets, one file given two
        ways is one)."""
        settings = {k: v for k, v in self.cfg.items() if k != "batch_size"}
        if settings.get("path") is not None:
            settings["path"] = str(Path(str(settings["path"])).expanduser().resolve())
        return json.dumps(settings, sort_keys=True, default=str)

    def warn_columns(self) -> None:
        """Warn, as the run starts, for the feature columns of a CSV file that hold one value
        in every training row (:func:`lossbench.data.preprocess.warn_constant_columns`) and for
        those whose numbers float32 holds coarser than the file
        (:func:`lossbench.data.csv_loader.float32_merges`): each column of a file once in a
        sweep (:func:`lossbench.sweep_warnings.first_in_sweep`). Built-in data sets are left
        alone: their constant columns (the blank border pixels of digits and mnist_5k) are
        part of the data, with nothing to fix."""
        if self.cfg["name"] != "csv" or self.preprocessor is None:
            return
        path = str(Path(str(self.cfg["path"])).expanduser().resolve())
        for name, warning in self.coarse_columns.items():
            if first_in_sweep("float32", path, name):
                warnings.warn(warning, Float32PrecisionWarning, stacklevel=2)
        only = [
            name
            for name in self.preprocessor.constant
            if first_in_sweep("constant column", path, name)
        ]
        what = f"data={self.cfg['name']} ({self.cfg['path']})"  # a sweep may read several files
        warn_constant_columns(self.preprocessor, len(self.tensors["train"][1]), what, only)

    def setup(self, stage: str | None = None) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        device = trainer.strategy.root_device
        self.tensors = {k: tuple(t.to(device) for t in v) for k, v in self.tensors.items()}
        self._rank, self._world = trainer.global_rank, trainer.world_size
        # trainer.overfit_batches: the same first batches every epoch. Lightning swaps a shuffling
        # DataLoader's sampler for a sequential one; it cannot swap this loader's order.
        self._overfit = bool(trainer.overfit_batches)

    def _loader(self, stage: str, *, train: bool) -> IndexBatchLoader:
        rank, world = getattr(self, "_rank", 0), getattr(self, "_world", 1)
        # Evaluation takes a split in one batch; so does training with `epoch_batches`, where the
        # module cuts the shuffled epoch into minibatches itself (lossbench.runners.epoch).
        batch_size = self.cfg["batch_size"] if train and not self.epoch_batches else None
        return IndexBatchLoader(
            self.tensors[stage],
            batch_size,
            shuffle=train and not getattr(self, "_overfit", False),
            seed=self.seed,
            rank=rank,
            world_size=world,
            pad=train,
        )

    #: Hand over each training epoch as one batch (set by the epoch runner, ``runner=epoch``).
    epoch_batches: bool = False

    def train_dataloader(self) -> IndexBatchLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> IndexBatchLoader:
        return self._loader("test", train=False)
