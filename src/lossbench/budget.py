"""What a run's budget allows once the data are known: the batches and optimizer steps the
whole run trains, read from ``trainer.*`` and the training split's size.

A config can ask for what its own budget never reaches: a first validation after the last
batch (the run would complete with no best epoch and score its last weights), or a minimum
of optimizer steps above the steps its epochs hold (the minimum would not hold). Both are
refused here, before the run's directory is written (:func:`lossbench.train.preflight`) and
again by each job of a sweep once its data are loaded.

    >>> from omegaconf import OmegaConf
    >>> cfg = OmegaConf.create({"data": {"batch_size": 128}, "trainer": {"max_epochs": 2,
    ...     "check_val_every_n_epoch": None, "val_check_interval": 100}})
    >>> try:
    ...     check_run_budget(cfg, train_rows=341)
    ... except ConfigError as e:
    ...     print(str(e)[:71])
    trainer.val_check_interval=100 validates every 100 batches (first after
    >>> cfg = OmegaConf.create({"data": {"batch_size": 128},
    ...                         "trainer": {"max_epochs": 2, "min_steps": 100}})
    >>> try:
    ...     check_run_budget(cfg, train_rows=90)
    ... except ConfigError as e:
    ...     print(str(e)[:71])
    trainer.min_steps=100 asks for at least 100 optimizer steps, but traine
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from lossbench.errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """The batches of one epoch and of the whole run (one process's share of them).

    ``batches``: per epoch, after ``limit_train_batches``; ``accumulate``: batches per
    optimizer step; ``max_epochs`` and ``max_steps`` (None: no step limit) the caps.
    """

    batches: int
    accumulate: int
    max_epochs: int
    max_steps: int | None

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (the last, partial accumulation steps too)."""
        return math.ceil(self.batches / self.accumulate)

    @property
    def steps(self) -> int:
        """Optimizer steps of the whole run, where neither time nor early stopping ends it.

        >>> Budget(batches=3, accumulate=2, max_epochs=4, max_steps=None).steps
        8
        >>> Budget(batches=3, accumulate=1, max_epochs=4, max_steps=5).steps
        5
        """
        steps = self.max_epochs * self.steps_per_epoch
        return steps if self.max_steps is None else min(steps, self.max_steps)

    @property
    def total_batches(self) -> int:
        """Batches of the whole run (counted across epochs).

        >>> Budget(batches=3, accumulate=2, max_epochs=4, max_steps=3).total_batches
        5
        """
        epochs, rest = divmod(self.steps, self.steps_per_epoch)
        return min(epochs * self.batches + rest * self.accumulate, self.max_epochs * self.batches)


def epoch_batches(cfg: DictConfig, train_rows: int, world_size: int = 1) -> int:
    """The training batches of one epoch in each of ``world_size`` processes, before
    ``trainer.limit_train_batches``: each process takes its share of the rows (padded to the
    same count, as ``DistributedSampler`` does), and the last batch may be short (lossbench's
    loader drops none).

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"data": {"batch_size": 32},
        ...                         "trainer": {"limit_train_batches": 3}})
        >>> epoch_batches(cfg, 341), epoch_batches(cfg, 341, world_size=2)
        (11, 6)
    """
    rows = math.ceil(train_rows / world_size)
    return max(math.ceil(rows / (cfg.data.batch_size or rows or 1)), 1)


def batches_per_epoch(cfg: DictConfig, train_rows: int, world_size: int = 1) -> int:
    """The training batches of one epoch in each of ``world_size`` processes (each takes its
    share of the rows), after ``trainer.limit_train_batches``.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"data": {"batch_size": 64}, "trainer": {}})
        >>> batches_per_epoch(cfg, 341), batches_per_epoch(cfg, 341, world_size=2)
        (6, 3)
    """
    batches = epoch_batches(cfg, train_rows, world_size)
    limit = cfg.trainer.get("limit_train_batches")
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif isinstance(limit, float):
        batches = int(batches * limit)
    return max(batches, 1)


def run_budget(cfg: DictConfig, train_rows: int, world_size: int = 1) -> Budget:
    """The :class:`Budget` of ``cfg`` on ``train_rows`` training rows."""
    max_steps = cfg.trainer.get("max_steps")
    return Budget(
        batches=batches_per_epoch(cfg, train_rows, world_size),
        accumulate=cfg.trainer.get("accumulate_grad_batches") or 1,
        max_epochs=cfg.trainer.max_epochs,
        max_steps=None if max_steps in (None, -1) else max_steps,
    )


def first_validation(trainer: Any, batches: int) -> int | None:
    """The batch (counted across epochs from 1) after which Lightning first validates, or
    None where no batch count decides it (a time, ``DD:HH:MM:SS``).

        >>> first_validation({"check_val_every_n_epoch": 3}, batches=2)
        6
        >>> first_validation({"check_val_every_n_epoch": None, "val_check_interval": 100}, 3)
        100
        >>> first_validation({"check_val_every_n_epoch": 2, "val_check_interval": 0.5}, 4)
        6
    """
    every = trainer.get("check_val_every_n_epoch", 1)
    interval = trainer.get("val_check_interval")
    if interval is None:
        interval = 1.0
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        return None
    if every is None:  # batches counted across epochs (a fraction is refused by validation)
        return int(interval) if isinstance(interval, int) else None
    within = interval if isinstance(interval, int) else max(1, int(batches * interval))
    return (every - 1) * batches + within


def _epoch_line(budget: Budget, train_rows: int, cfg: DictConfig) -> str:
    return (
        f"{budget.batches} batch(es) per epoch from {train_rows} training rows with "
        f"data.batch_size={cfg.data.batch_size}"
        + (f", {budget.steps_per_epoch} optimizer step(s)" if budget.accumulate > 1 else "")
    )


def _ends(budget: Budget) -> str:
    """The cap that ends the run: ``trainer.max_epochs`` or ``trainer.max_steps``."""
    by_steps = budget.max_steps is not None and budget.max_steps < (
        budget.max_epochs * budget.steps_per_epoch
    )
    return "trainer.max_steps" if by_steps else "trainer.max_epochs"


def _cap(budget: Budget) -> str:
    """The cap that ends the run with its value: ``trainer.max_epochs=2``."""
    key = _ends(budget)
    return f"{key}={budget.max_steps if key == 'trainer.max_steps' else budget.max_epochs}"


def _cap_reaching(budget: Budget, batch: int) -> str:
    """The cap that ends the run, raised to take it through ``batch``: ``trainer.max_epochs=3``.

    >>> _cap_reaching(Budget(batches=3, accumulate=1, max_epochs=4, max_steps=5), 6)
    'trainer.max_steps=6'
    """
    epochs, rest = divmod(batch, budget.batches)
    if _ends(budget) == "trainer.max_steps":
        steps = epochs * budget.steps_per_epoch + math.ceil(rest / budget.accumulate)
        return f"trainer.max_steps={steps}"
    return f"trainer.max_epochs={epochs + (rest > 0)}"


def check_validation_within_run(cfg: DictConfig, train_rows: int, world_size: int = 1) -> None:
    """Refuse settings under which the run ends before its first validation: it would
    complete with no best epoch (``best_epoch`` null) and score its last weights.

    Raises:
        ConfigError: with the batch of the first validation, the run's batches and the fix.
    """
    if cfg.trainer.get("fast_dev_run") or cfg.trainer.get("overfit_batches"):
        return  # a debug run: Lightning sets its own batches
    budget = run_budget(cfg, train_rows, world_size)
    first = first_validation(cfg.trainer, budget.batches)
    if first is None or first <= budget.total_batches:
        return
    every = cfg.trainer.get("check_val_every_n_epoch", 1)
    interval = cfg.trainer.get("val_check_interval")
    if every is None:
        when = f"trainer.val_check_interval={interval} validates every {interval} batches"
        fix = f"give trainer.val_check_interval at most {budget.total_batches}"
    else:
        when = f"trainer.check_val_every_n_epoch={every} validates once every {every} epochs"
        complete = budget.total_batches // budget.batches
        fix = (
            f"give trainer.check_val_every_n_epoch at most {complete}"
            if complete >= 1
            else "give trainer.val_check_interval a fraction of the epoch (e.g. 0.5)"
        )
    raise ConfigError(
        f"{when} (first after batch {first}), but {_cap(budget)} ends the run after "
        f"{budget.total_batches} batch(es) ({_epoch_line(budget, train_rows, cfg)}): no "
        "validation would come within the run, which would complete with no best epoch and "
        f"score its last weights. To validate, {fix}, or raise the cap (e.g. "
        f"{_cap_reaching(budget, first)})."
    )


def check_min_steps(cfg: DictConfig, train_rows: int, world_size: int = 1) -> None:
    """Refuse a ``trainer.min_steps`` above the optimizer steps that ``trainer.max_epochs``
    holds: Lightning stops at the maximum, so the minimum would not hold.

    Raises:
        ConfigError: with the steps the epochs hold and the fix.
    """
    min_steps = cfg.trainer.get("min_steps")
    if min_steps is None or cfg.trainer.get("fast_dev_run") or cfg.trainer.get("overfit_batches"):
        return
    budget = run_budget(cfg, train_rows, world_size)
    if min_steps <= budget.steps:
        return
    epochs = math.ceil(min_steps / budget.steps_per_epoch)
    raise ConfigError(
        f"trainer.min_steps={min_steps} asks for at least {min_steps} optimizer steps, but "
        f"{_cap(budget)} ends the run after {budget.steps} ({_epoch_line(budget, train_rows, cfg)}"
        f"): the run stops at the maximum, so the minimum would not hold. Lower "
        f"trainer.min_steps to at most {budget.steps}, or raise trainer.max_epochs (e.g. "
        f"trainer.max_epochs={epochs})."
    )


def check_run_budget(cfg: DictConfig, train_rows: int, world_size: int = 1) -> None:
    """:func:`check_validation_within_run` and :func:`check_min_steps`."""
    check_validation_within_run(cfg, train_rows, world_size)
    check_min_steps(cfg, train_rows, world_size)
