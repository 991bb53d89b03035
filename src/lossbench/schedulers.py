"""Learning-rate schedulers, as Lightning's ``lr_scheduler_config`` from ``configure_optimizers``.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> config = build_scheduler({"name": "cosine", "eta_min": 0.0}, opt, max_epochs=4,
    ...                          total_steps=40, monitor="val/nll")
    >>> config["interval"], type(config["scheduler"]).__name__
    ('epoch', 'CosineAnnealingLR')
    >>> build_scheduler({"name": "none"}, opt, max_epochs=4, total_steps=40, monitor="val/nll")

Each scheduler is stepped where Lightning steps it (``interval``): once per epoch, or after
every optimizer step for ``onecycle``. The module's epoch loop (manual optimization, where
Lightning steps no scheduler) steps them itself at the same points
(:meth:`lossbench.module.ClassifierModule._step_schedulers`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lossbench.metric_names import metric_mode

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SchedulerSpec:
    """What a ``scheduler=<name>`` option is: how often it steps and what it needs."""

    description: str
    interval: str | None  # epoch | step | None (no scheduler)
    monitors: bool = False  # steps on a validation metric (plateau)
    #: The ``trainer.*`` settings the schedule is spread over: a run resumed with other values
    #: would go on with the schedule built for the old ones (:func:`resume_schedule_error`).
    spans: tuple[str, ...] = ()


#: What decides how many processes share an epoch's batches (``devices: auto`` takes every
#: device of the accelerator): each process takes its share, so its batches of an epoch.
_PROCESSES = ("accelerator", "devices", "num_nodes")
#: What a one-cycle schedule spans: every optimizer step of the fit (each process's batches).
_FIT_STEPS = (
    "max_epochs",
    "max_steps",
    "limit_train_batches",
    "overfit_batches",
    "fast_dev_run",
    "accumulate_grad_batches",
    *_PROCESSES,
)

SCHEDULERS: dict[str, SchedulerSpec] = {
    "none": SchedulerSpec("constant learning rate (optimizer.lr)", None),
    "cosine": SchedulerSpec(
        "cosine annealing to eta_min over trainer.max_epochs", "epoch", spans=("max_epochs",)
    ),
    "warmup_cosine": SchedulerSpec(
        "linear warm-up for warmup_epochs, then cosine annealing to eta_min",
        "epoch",
        spans=("max_epochs",),
    ),
    "onecycle": SchedulerSpec(
        "one-cycle policy over every optimizer step of the run", "step", spans=_FIT_STEPS
    ),
    "plateau": SchedulerSpec(
        "lr * factor after `patience` epochs without improvement of the monitored metric",
        "epoch",
        monitors=True,
    ),
}


def scheduler_monitor(cfg: Mapping[str, Any], optimized_metric: str) -> str | None:
    """The metric that ``cfg`` steps on (``plateau``), else None."""
    if not SCHEDULERS[cfg["name"]].monitors:
        return None
    return cfg.get("monitor") or optimized_metric


def build_scheduler(
    cfg: Mapping[str, Any],
    optimizer: torch.optim.Optimizer,
    *,
    max_epochs: int,
    total_steps: int,
    monitor: str | None,
) -> dict[str, Any] | None:
    """Lightning's ``lr_scheduler_config`` for ``cfg`` (None for ``none``).

    ``total_steps``: the optimizer steps of the whole run (``onecycle``); ``monitor``: the
    metric a plateau scheduler watches.
    """
    from torch.optim import lr_scheduler

    name = cfg["name"]
    if name not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler {name!r}. Valid: {', '.join(SCHEDULERS)}.")
    if name == "none":
        return None
    if name == "cosine":
        scheduler: Any = lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max_epochs, eta_min=cfg["eta_min"]
        )
    elif name == "warmup_cosine":
        warmup = cfg["warmup_epochs"]
        scheduler = lr_scheduler.SequentialLR(
            optimizer,
            [
                lr_scheduler.LinearLR(
                    optimizer, start_factor=cfg["start_factor"], total_iters=warmup
                ),
                lr_scheduler.CosineAnnealingLR(
                    optimizer, T_max=max_epochs - warmup, eta_min=cfg["eta_min"]
                ),
            ],
            milestones=[warmup],
        )
    elif name == "onecycle":
        max_lr = cfg.get("max_lr") or optimizer.param_groups[0]["lr"]
        scheduler = lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=max_lr,
            total_steps=total_steps,
            pct_start=cfg["pct_start"],
            div_factor=cfg["div_factor"],
            final_div_factor=cfg["final_div_factor"],
            anneal_strategy=cfg["anneal_strategy"],
        )
    else:  # plateau
        scheduler = lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode=cfg.get("mode") or metric_mode(monitor or ""),
            factor=cfg["factor"],
            patience=cfg["patience"],
            threshold=cfg["threshold"],
            min_lr=cfg["min_lr"],
        )
    config = {"scheduler": scheduler, "interval": SCHEDULERS[name].interval, "frequency": 1}
    if monitor is not None:
        config |= {"monitor": monitor, "strict": True}
    return config


def fit_steps(trainer: Mapping[str, Any], train_batches: int) -> int | None:
    """The optimizer steps of a fit with the ``trainer`` settings and ``train_batches`` batches
    an epoch, counted as Lightning's ``Trainer.estimated_stepping_batches`` counts them (what a
    one-cycle schedule is built over); None where the fit is unbounded.

        >>> fit_steps({"max_epochs": 100, "max_steps": 9}, train_batches=3)  # max_steps binds
        9
        >>> fit_steps({"max_epochs": 2, "max_steps": -1, "accumulate_grad_batches": 2}, 3)
        4
        >>> fit_steps({"max_epochs": 5, "limit_train_batches": 0.5}, train_batches=3)
        5
        >>> fit_steps({"max_epochs": 5, "overfit_batches": 2}, train_batches=3)  # not the limit
        10
        >>> fit_steps({"max_epochs": 5, "fast_dev_run": True}, train_batches=3)  # 1 step, 1 epoch
        1

    ``overfit_batches`` (above 0) takes the place of ``limit_train_batches``, and
    ``fast_dev_run`` (True: 1, or N) trains N batches in one epoch, as Lightning sets them up.
    """
    overfit = trainer.get("overfit_batches") or 0
    limit = overfit if overfit > 0 else trainer.get("limit_train_batches")
    max_steps = trainer.get("max_steps")
    max_steps = -1 if max_steps is None else int(max_steps)
    epochs = trainer.get("max_epochs")
    fast = trainer.get("fast_dev_run")
    if fast:  # Lightning: N batches (unless overfit_batches says), at most N steps, one epoch
        limit = limit if overfit > 0 else int(fast)
        max_steps, epochs = int(fast), 1
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(train_batches, limit)
    elif isinstance(limit, float):
        batches = int(train_batches * limit)
    else:
        batches = train_batches
    if epochs is None:  # Lightning's default: 1000 epochs, unbounded when max_steps is given
        epochs = 1000 if max_steps == -1 else -1
    if epochs == -1:
        return None if max_steps == -1 else max_steps
    total = math.ceil(batches / (trainer.get("accumulate_grad_batches") or 1)) * max(epochs, 1)
    return total if max_steps == -1 else min(total, max_steps)


@dataclass(frozen=True)
class ScheduleChange:
    """``trainer.*`` settings that a schedule spread over the run spans and that a resume
    changes (:func:`resume_schedule_change`)."""

    scheduler: str
    #: Each changed setting: ``(key below trainer, value then, value now)``.
    settings: tuple[tuple[str, Any, Any], ...]
    #: One-cycle's optimizer steps then and now, where the batches of an epoch are known.
    steps: tuple[int | None, int | None] | None = None
    #: The processes that share each epoch's batches (Lightning's world size) then (None: not
    #: recorded) and now, where they differ though no setting did (``settings`` empty):
    #: ``trainer.devices=auto`` takes every device of the machine it runs on.
    processes: tuple[int | None, int] | None = None
    #: The settings now that resolved to ``processes[1]``: ``(key below trainer, value)``.
    resolved: tuple[tuple[str, Any], ...] = ()


def resume_schedule_change(
    scheduler: Mapping[str, Any],
    before: Mapping[str, Any],
    now: Mapping[str, Any],
    train_batches: int | None = None,
    *,
    steps_then: int | None = None,
    processes: tuple[int | None, int] | None = None,
) -> ScheduleChange | None:
    """The ``trainer`` settings (``before``: the run that wrote the checkpoint, ``now``: the
    resume) that a run with ``scheduler`` cannot be resumed with, or None.

    Given ``train_batches`` (the batches of a training epoch of each process of the resumed
    run), one-cycle settings that change but keep the number of optimizer steps
    (:func:`fit_steps`) are not a change. ``steps_then``: the steps the schedule was built
    over (a checkpoint's), else counted with ``before`` and ``train_batches``; where the
    processes changed (``trainer.devices``, ``num_nodes``, ``accelerator``: another share of
    the batches each) that count would not hold, so without ``steps_then`` they are a change.

    ``processes``: the processes of the run that wrote the checkpoint (None: not recorded) and
    of the resumed run, as Lightning resolved them. The same settings can resolve to other
    processes on other hardware (``trainer.devices=auto``: every device there): where no
    setting changed, a one-cycle schedule whose ``steps_then`` the resumed run would not take
    with its processes (``train_batches`` each) is a change too (:func:`processes_change`).

        >>> longer = {"max_epochs": 6}
        >>> cosine = resume_schedule_change({"name": "cosine"}, {"max_epochs": 3}, longer)
        >>> cosine.settings, cosine.steps
        ((('max_epochs', 3, 6),), None)
        >>> one, two = {"max_epochs": 4, "devices": 1}, {"max_epochs": 4, "devices": 2}
        >>> resume_schedule_change({"name": "onecycle"}, one, two, 5, steps_then=40).steps
        (40, 20)
        >>> auto = {"max_epochs": 4, "devices": "auto"}  # 10 batches on 1 process, 5 on 2
        >>> resume_schedule_change({"name": "onecycle"}, auto, auto, 5, steps_then=40,
        ...                        processes=(1, 2)).processes
        (1, 2)
    """
    name = str(scheduler.get("name"))
    spec = SCHEDULERS.get(name)
    if spec is None:
        return None
    changed = tuple(
        (k, before[k], now[k])
        for k in spec.spans
        if k in before and k in now and before[k] != now[k]
    )
    if not changed:
        if spec.spans != _FIT_STEPS or train_batches is None or processes is None:
            return None
        return processes_change(name, now, train_batches, steps_then, processes)
    if spec.spans != _FIT_STEPS or train_batches is None:
        return ScheduleChange(name, changed)
    if steps_then is None and any(k in _PROCESSES for k, _, _ in changed):
        return ScheduleChange(name, changed)  # the batches of each process then are unknown
    then = fit_steps(before, train_batches) if steps_then is None else steps_then
    steps = then, fit_steps(now, train_batches)
    if steps[0] == steps[1]:
        return None  # the same optimizer steps: the schedule it was built with fits
    return ScheduleChange(name, changed, steps)


def processes_change(
    scheduler: str,
    now: Mapping[str, Any],
    train_batches: int,
    steps_then: int | None,
    processes: tuple[int | None, int],
) -> ScheduleChange | None:
    """A one-cycle schedule over ``steps_then`` optimizer steps (a checkpoint's), resumed with
    unchanged ``trainer`` settings ``now`` that resolve to other ``processes`` (then, now; then
    None: not recorded) than the run that wrote it, each with ``train_batches`` batches an
    epoch: the steps then and now, or None where the processes or the steps are the same.

        >>> auto = {"max_epochs": 4, "devices": "auto", "accelerator": "auto"}
        >>> processes_change("onecycle", auto, 5, 40, (1, 2)).steps  # 10 batches on 1, 5 on 2
        (40, 20)
        >>> processes_change("onecycle", auto, 10, 40, (1, 1))  # the processes it trained with
        >>> processes_change("onecycle", {**auto, "max_steps": 20}, 5, 20, (1, 2))  # 20 both
    """
    if steps_then is None or processes[0] == processes[1]:
        return None  # the same settings and processes: the steps it was built over
    steps_now = fit_steps(now, train_batches)
    if steps_now is None or steps_now == steps_then:
        return None
    resolved = tuple((k, now[k]) for k in _PROCESSES if now.get(k) is not None)
    return ScheduleChange(
        scheduler, (), (steps_then, steps_now), processes=processes, resolved=resolved
    )


def resume_schedule_error(
    scheduler: Mapping[str, Any],
    before: Mapping[str, Any],
    now: Mapping[str, Any],
    train_batches: int | None = None,
) -> str | None:
    """Why a run with ``scheduler`` cannot be resumed with the trainer settings ``now`` after
    training with ``before`` (the ``trainer`` sections), or None.

    A schedule spread over the run (cosine over ``trainer.max_epochs``, one-cycle over every
    step) is restored from the checkpoint as it was built: trained on for more epochs, cosine
    annealing turns the learning rate back up after the old end, and one-cycle raises an error
    past its last step. Given ``train_batches`` (the batches of a training epoch), one-cycle
    settings that change but keep the number of optimizer steps (:func:`fit_steps`: more
    epochs where ``trainer.max_steps`` ends the run) keep its schedule, and are accepted
    (:func:`resume_schedule_change`).

        >>> resume_schedule_error({"name": "cosine"}, {"max_epochs": 3}, {"max_epochs": 6})[:52]
        'scheduler=cosine spreads its schedule over trainer.m'
        >>> resume_schedule_error({"name": "plateau"}, {"max_epochs": 3}, {"max_epochs": 6})
        >>> onecycle = {"name": "onecycle"}
        >>> resume_schedule_error(onecycle, {"max_epochs": 100, "max_steps": 9},
        ...                       {"max_epochs": 200, "max_steps": 9}, train_batches=3)
    """
    change = resume_schedule_change(scheduler, before, now, train_batches)
    return None if change is None else schedule_change_error(change)


def schedule_change_error(change: ScheduleChange) -> str:
    """Why a resume with ``change`` is refused, and what to do instead
    (:func:`resume_schedule_error`)."""
    if not change.settings:
        return _processes_error(change)
    settings = ", ".join(f"trainer.{k}" for k, _, _ in change.settings)
    values = "; ".join(f"trainer.{k}: {a!r} then, {b!r} now" for k, a, b in change.settings)
    given = " ".join(f"trainer.{k}={b}" for k, _, b in change.settings)
    keep = "resume with the earlier value"
    if change.steps is not None:
        values += f"; {change.steps[0]} optimizer steps then, {change.steps[1]} now"
        keep = f"resume with settings that keep its {change.steps[0]} optimizer steps"
    return (
        f"scheduler={change.scheduler} spreads its schedule over {settings}, which changed "
        f"({values}), but a resumed run keeps the schedule it was built with: the learning "
        "rate would follow the old one (cosine annealing turns back up after its end; "
        "one-cycle stops with an error past its last step). Train a fresh run with "
        f"{given} (without ckpt_path), {keep}, or use a schedule that "
        "does not span the run (scheduler=none or scheduler=plateau) for runs you train on."
    )


def _processes_error(change: ScheduleChange) -> str:
    """Why a resume whose processes differ from those of the run that wrote the checkpoint,
    with the same settings, is refused (:func:`processes_change`)."""
    then, now = change.processes or (None, 0)
    steps_then, steps_now = change.steps or (None, None)
    given = " ".join(f"trainer.{k}={v}" for k, v in change.resolved) or "its trainer settings"
    earlier = (
        "the checkpoint does not record the processes of the run that wrote it (an older "
        "lossbench wrote it)"
        if then is None
        else f"the run that wrote the checkpoint had {_count(then, 'process', 'processes')}"
    )
    if steps_now is not None and steps_then is not None and steps_now < steps_then:
        harm = (
            f"this run would end after {steps_now} of the schedule's {steps_then} steps, with "
            "the learning rate still high"
        )
    else:
        harm = f"one-cycle stops with an error past the schedule's {steps_then} steps"
    nodes = dict(change.resolved).get("num_nodes") or 1
    if then is None:
        pin = "set trainer.devices to the devices that run trained on"
    elif isinstance(nodes, int) and then % nodes == 0:
        pin = f"pin its processes with trainer.devices={then // nodes}"
        if nodes != 1:
            pin += f" on each of trainer.num_nodes={nodes}"
    else:
        pin = f"pin its {then} processes with trainer.devices and trainer.num_nodes"
    devices = str(dict(change.resolved).get("devices", "auto")).strip().lower()
    every = ""
    if devices in ("auto", "-1"):  # Lightning's default: every device of the accelerator
        every = f" (trainer.devices={devices} takes every device of the machine it runs on)"
    return (
        f"scheduler={change.scheduler} spreads its schedule over every optimizer step of the "
        f"run, and each process trains on its share of an epoch's batches: with {given}, this "
        f"run has {_count(now, 'process', 'processes')} here{every}, and {earlier}, so it "
        f"would take {steps_now} optimizer steps where the checkpoint's schedule was built over "
        f"{steps_then}. A resumed run keeps the schedule it was built with: {harm}. Resume "
        f"with settings that keep its {steps_then} optimizer steps ({pin}), train a fresh run "
        "here (without ckpt_path), or use a schedule that does not span the run "
        "(scheduler=none or scheduler=plateau) for runs you train on."
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def batches_per_epoch(train_rows: int, batch_size: int | None) -> int:
    """The training batches of an epoch (``batch_size`` null: one full batch).

    >>> batches_per_epoch(341, 128), batches_per_epoch(341, None)
    (3, 1)
    """
    size = batch_size or train_rows
    return -(-train_rows // size)


def check_scheduler(cfg: Mapping[str, Any], max_epochs: int | None) -> str | None:
    """Why ``cfg`` cannot run for ``max_epochs`` epochs, or None. Imports no torch."""
    name = cfg["name"]
    if name not in SCHEDULERS:
        return f"Unknown scheduler {name!r}. Valid schedulers: {', '.join(SCHEDULERS)}."
    if SCHEDULERS[name].interval is None:
        return None
    if "max_epochs" in SCHEDULERS[name].spans and (max_epochs is None or max_epochs < 1):
        return (
            f"scheduler={name} spreads its schedule over trainer.max_epochs, which is "
            f"{max_epochs}; set trainer.max_epochs to a positive number of epochs."
        )
    if name == "warmup_cosine" and not 0 <= cfg["warmup_epochs"] < max_epochs:  # type: ignore[operator]
        return (
            f"scheduler.warmup_epochs={cfg['warmup_epochs']} must be at least 0 and below "
            f"trainer.max_epochs={max_epochs} (the cosine part needs an epoch)."
        )
    if name == "warmup_cosine" and not 0 < cfg["start_factor"] <= 1:
        return f"scheduler.start_factor={cfg['start_factor']} must lie in (0, 1]."
    if name in ("cosine", "warmup_cosine") and not (
        cfg["eta_min"] >= 0 and math.isfinite(cfg["eta_min"])
    ):
        return (
            f"scheduler.eta_min={cfg['eta_min']} must be a finite learning rate >= 0 (a "
            "negative rate climbs the loss), e.g. scheduler.eta_min=0."
        )
    if name == "onecycle":
        max_lr = cfg.get("max_lr")
        if max_lr is not None and not (max_lr > 0 and math.isfinite(max_lr)):
            return (
                f"scheduler.max_lr={max_lr} must be a positive learning rate, e.g. "
                "scheduler.max_lr=0.01, or null for optimizer.lr."
            )
        for key in ("div_factor", "final_div_factor"):
            if not (cfg[key] > 0 and math.isfinite(cfg[key])):
                return (
                    f"scheduler.{key}={cfg[key]} must be a positive number: the learning "
                    f"rate is divided by it (defaults: div_factor=25, final_div_factor=1e4)."
                )
        if not 0 < cfg["pct_start"] < 1:
            return f"scheduler.pct_start={cfg['pct_start']} must lie strictly between 0 and 1."
        if cfg["anneal_strategy"] not in ("cos", "linear"):
            return f"scheduler.anneal_strategy={cfg['anneal_strategy']!r} must be cos or linear."
    if name == "plateau":
        if not 0 < cfg["factor"] < 1:
            return f"scheduler.factor={cfg['factor']} must lie strictly between 0 and 1."
        if not (isinstance(cfg["patience"], int) and cfg["patience"] >= 0):
            return (
                f"scheduler.patience={cfg['patience']!r} must be a whole number of epochs >= 0, "
                "e.g. scheduler.patience=2."
            )
        if not (cfg["min_lr"] >= 0 and cfg["threshold"] >= 0):
            return (
                f"scheduler.min_lr={cfg['min_lr']} and scheduler.threshold={cfg['threshold']} "
                "must be >= 0 (a negative learning rate climbs the loss)."
            )
        if cfg.get("mode") not in (None, "min", "max"):
            return f"scheduler.mode={cfg['mode']!r} must be min, max or null (from the metric)."
    return None


#: The optimizers whose momentum (SGD's ``momentum``, Adam's first beta) one-cycle cycles.
_CYCLED_MOMENTUM = {"sgd": "momentum", "adam": "betas[0]", "adamw": "betas[0]"}


def check_scheduler_optimizer(cfg: Mapping[str, Any], optimizer: Mapping[str, Any]) -> str | None:
    """Why scheduler ``cfg`` cannot drive ``optimizer`` (its config: ``name`` and settings), or
    None. Imports no torch.

    ``onecycle`` cycles the momentum inversely to the learning rate (torch's ``OneCycleLR``
    with ``cycle_momentum``, between 0.85 and 0.95): torch refuses an optimizer without a
    momentum or betas (L-BFGS) once training starts, and gives plain SGD
    (``optimizer.momentum=0``) a momentum it was set not to have.

        >>> check_scheduler_optimizer({"name": "onecycle"}, {"name": "adam"}) is None
        True
        >>> "optimizer=lbfgs has neither a momentum nor betas" in check_scheduler_optimizer(
        ...     {"name": "onecycle"}, {"name": "lbfgs"})
        True
    """
    if cfg["name"] != "onecycle":
        return None
    name = optimizer.get("name")
    cycles = (
        "scheduler=onecycle cycles the optimizer's momentum (SGD's momentum, Adam's first beta) "
        "between 0.85 and 0.95, inversely to the learning rate"
    )
    others = ", ".join(f"scheduler={n}" for n in SCHEDULERS if n != "onecycle")
    if name == "lbfgs":
        return (
            f"{cycles}, but optimizer=lbfgs has neither a momentum nor betas, so torch would "
            "stop the run at its start. Use optimizer="
            + " or optimizer=".join(_CYCLED_MOMENTUM)
            + f" with scheduler=onecycle, or another scheduler with L-BFGS: {others}."
        )
    if name == "sgd" and optimizer.get("momentum") == 0:
        return (
            f"{cycles}, but optimizer.momentum=0 asks for plain SGD: the run would train with a "
            "momentum of 0.85 to 0.95 instead. Give optimizer.momentum above 0 (e.g. 0.9; "
            f"one-cycle then cycles it), or keep plain SGD with another scheduler: {others}."
        )
    return None
