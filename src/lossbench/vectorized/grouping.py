"""Which runs of a sweep can train together as one vectorized group.

    >>> from omegaconf import OmegaConf
    >>> a = OmegaConf.create({"seed": 0, "optimizer": {"name": "adam", "lr": 1e-3},
    ...                       "data": {"name": "wine", "split_seed": 0}})
    >>> b = OmegaConf.merge(a, {"seed": 1, "optimizer": {"lr": 3e-3}})
    >>> group_key(a) == group_key(b)
    True
    >>> group_key(a) == group_key(OmegaConf.merge(a, {"data": {"name": "iris"}}))
    False

Runs whose resolved configs are equal except for :data:`VECTORIZED_KEYS` form a group: the
seed, split seed, learning rate and weight decay (:data:`MEMBER_KEYS`), and the numeric
parameters of their loss that the loss registry declares per member
(:attr:`~lossbench.losses.registry.LossSpec.member_params`: focal ``gamma`` and ``alpha``,
``label_smoothing``, poly ``epsilon``, asl's ``gamma_neg``, ``gamma_pos`` and ``clip``):

    >>> focal = OmegaConf.merge(a, {"loss": {"name": "focal", "alpha": 0.25, "gamma": 2.0}})
    >>> group_key(focal) == group_key(OmegaConf.merge(focal, {"loss": {"gamma": 0.0}}))
    True
    >>> group_key(focal) == group_key(OmegaConf.merge(focal, {"loss": {"alpha": None}}))
    False

(focal with ``alpha=null`` weights nothing, a different formula: such members group apart.)
So may the parameters the built loss holds in its buffers, which a group stacks per member
(:attr:`~lossbench.losses.registry.LossSpec.buffer_params`: class ``weight``, ``pos_weight``,
``pos_weight_scale``), as long as the members have the same buffers:

    >>> bce = OmegaConf.merge(a, {"loss": {"name": "bce_with_logits", "weight": None,
    ...                                    "pos_weight": "auto", "pos_weight_scale": 1.0}})
    >>> group_key(bce) == group_key(OmegaConf.merge(bce, {"loss": {"pos_weight_scale": 0.5}}))
    True
    >>> unweighted = OmegaConf.merge(bce, {"loss": {"pos_weight": None}})
    >>> scaled = OmegaConf.merge(unweighted, {"loss": {"pos_weight_scale": 2.0}})
    >>> group_key(unweighted) == group_key(scaled)
    False

(without ``pos_weight``, a scale other than 1 adds one: ``pos_weight = 2``, another formula.)
:func:`why_alone` says why a run cannot be a member at all (it then runs as it always does).
No torch import here: the launcher groups a sweep before anything heavy loads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.losses.registry import LOSSES, BufferParam, MemberParam

#: Config keys that may differ between any members of a group: each member has its own.
MEMBER_KEYS = ("seed", "data.split_seed", "optimizer.lr", "optimizer.weight_decay")
#: ``loss.<param>`` of every loss parameter declared per member in the loss registry (which of
#: them a run's loss has: :func:`loss_member_params`).
LOSS_KEYS = tuple(
    sorted(
        {
            f"loss.{param.name}"
            for spec in LOSSES.values()
            for param in (*spec.member_params, *spec.buffer_params)
        }
    )
)
#: Config keys that may differ between the members of a group.
VECTORIZED_KEYS = MEMBER_KEYS + LOSS_KEYS
#: Optimizers with a batched implementation (lossbench.vectorized.batched).
OPTIMIZERS = ("adam", "adamw", "sgd")
MODELS = ("linear", "mlp")
LOGGERS = ("csv",)  # logger=csv or logger=none
#: The callbacks a member may have: lossbench's defaults (checkpoint.*, early_stopping.*).
CALLBACKS = ("model_checkpoint", "early_stopping", "progress_bar", "model_summary")
#: The callbacks a member keeps the rules of (its best epoch, checkpoints and early stopping),
#: as ``callbacks=default`` builds them: each one's ``_target_`` and the config section that
#: sets its other entries (plus ``optimized_metric``, and the checkpoints' ``dirpath`` in the
#: run's directory). A run whose entries say otherwise trains alone.
MEMBER_CALLBACKS = {
    "model_checkpoint": ("lossbench.callbacks.run_checkpoint", "checkpoint"),
    "early_stopping": ("lossbench.callbacks.run_early_stopping", "early_stopping"),
}
PRECISIONS = ("32-true", "32", 32)


def _other_trainer_keys() -> tuple[str, ...]:
    from lossbench.config import LossbenchTrainerDefaults
    from lossbench.trainer_args import TRAINER_KEYS

    own = LossbenchTrainerDefaults.__dataclass_fields__
    return tuple(k for k in TRAINER_KEYS if k not in own)


#: Trainer arguments a member must leave unset (fast_dev_run, profiler, overfit_batches, ...).
_OTHER_TRAINER_KEYS = _other_trainer_keys()


def group_key(cfg: DictConfig) -> str:
    """The resolved config without :data:`VECTORIZED_KEYS`, as text: equal for runs that can
    train together."""
    container: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    loss = container.get("loss") or {}
    for param in loss_member_params(loss.get("name")):
        if param.name in loss and not _apart(param, loss[param.name]):
            loss.pop(param.name)
    buffers = loss_buffers(loss)
    for param in loss_buffer_params(loss.get("name")):
        loss.pop(param.name, None)
    if buffers:
        loss["<buffers>"] = buffers
    for dotted in MEMBER_KEYS:
        *parents, leaf = dotted.split(".")
        node = container
        for parent in parents:
            node = node.get(parent) or {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    text = json.dumps(container, sort_keys=True, default=str)
    # Each run's own directory, and what the callbacks and loggers derive from it (already
    # resolved in a launcher's job configs), never tell groups apart.
    run_dir = (container.get("paths") or {}).get("run_dir")
    return text.replace(json.dumps(run_dir)[1:-1], "<run dir>") if run_dir else text


def loss_member_params(loss: Any) -> tuple[MemberParam, ...]:
    """The parameters of loss ``loss`` (its name) in which members may differ."""
    spec = LOSSES.get(loss) if isinstance(loss, str) else None
    return () if spec is None else spec.member_params


def loss_buffer_params(loss: Any) -> tuple[BufferParam, ...]:
    """The parameters of loss ``loss`` (its name) that its built module holds in buffers."""
    spec = LOSSES.get(loss) if isinstance(loss, str) else None
    return () if spec is None else spec.buffer_params


def loss_buffers(loss: dict[str, Any]) -> list[str]:
    """The buffers that the loss config ``loss`` gives its built module, by name.

    >>> loss_buffers({"name": "bce_with_logits", "pos_weight": None, "pos_weight_scale": 0.5})
    ['pos_weight']
    >>> loss_buffers({"name": "cross_entropy", "weight": None, "label_smoothing": 0.1})
    []
    """
    return sorted(
        {
            param.buffer
            for param in loss_buffer_params(loss.get("name"))
            if param.name in loss and not _among(loss[param.name], param.absent)
        }
    )


def _among(value: Any, values: tuple[Any, ...]) -> bool:
    return any(value is None if v is None else value == v for v in values)


def kept_apart(cfg: DictConfig | dict) -> tuple[tuple[str, Any], ...]:
    """The values of ``cfg``'s loss parameters that keep its run apart from members with other
    values (:attr:`~lossbench.losses.registry.MemberParam.apart`), and the buffers its loss
    has (:func:`loss_buffers`): a part of :func:`group_key`.

        >>> kept_apart({"loss": {"name": "focal", "alpha": None, "gamma": 2.0}})
        (('alpha', None),)
        >>> kept_apart({"loss": {"name": "bce_with_logits", "pos_weight": "auto"}})
        (('<buffers>', ('pos_weight',)),)
    """
    loss = cfg.get("loss") or {}
    apart = tuple(
        (param.name, loss.get(param.name))
        for param in loss_member_params(loss.get("name"))
        if param.name in loss and _apart(param, loss.get(param.name))
    )
    buffers = tuple(loss_buffers(loss))
    return (*apart, ("<buffers>", buffers)) if buffers else apart


def _apart(param: MemberParam, value: Any) -> bool:
    return _among(value, param.apart)


def _callbacks_apart(cfg: DictConfig) -> str | None:
    """Which of :data:`MEMBER_CALLBACKS` ``cfg`` builds otherwise than a member keeps it
    (``callbacks=none``, ``~callbacks.early_stopping``, ``callbacks.model_checkpoint.monitor=
    ...`` set on the entry instead of ``checkpoint.monitor``), or None.

        >>> cfg = OmegaConf.create({"optimized_metric": "val/nll", "callbacks": {},
        ...                         "checkpoint": {}, "early_stopping": {}})
        >>> _callbacks_apart(cfg)
        'callbacks.model_checkpoint (absent), callbacks.early_stopping (absent)'
    """
    callbacks = cfg.get("callbacks") or {}
    apart = []
    for name, (target, section) in MEMBER_CALLBACKS.items():
        entry = callbacks.get(name)
        if entry is None:
            apart.append(f"callbacks.{name} (absent)")
            continue
        expected = {
            "_target_": target,
            **OmegaConf.to_container(cfg[section], resolve=True),  # type: ignore[dict-item]
            "optimized_metric": cfg.get("optimized_metric"),
        }
        if name == "model_checkpoint":
            expected["dirpath"] = f"{cfg.paths.run_dir}/checkpoints"
        if OmegaConf.to_container(entry, resolve=True) != expected:
            apart.append(f"callbacks.{name} set otherwise than {section}.* sets it")
    return ", ".join(apart) or None


def zero_class_weight(loss: Any) -> bool:
    """Whether a loss config gives a class ``weight`` 0 in a loss that divides its mean by the
    counted targets' class weights (cross_entropy, nll): a batch of that class alone has no
    loss, and its run skips that step, which a member of a group, stepped with the others,
    cannot do alone.

        >>> zero_class_weight({"name": "cross_entropy", "weight": [0.0, 1.0]})
        True
        >>> zero_class_weight({"name": "bce", "weight": [0.0, 1.0]})  # a mean over elements
        False
    """
    spec = LOSSES.get(loss.get("name")) if isinstance(loss.get("name"), str) else None
    if spec is None or spec.mean_over != "target_weights":
        return False
    weight = loss.get("weight")
    values = list(weight) if OmegaConf.is_list(weight) or isinstance(weight, list) else [weight]
    return any(isinstance(v, int | float) and v == 0 for v in values)


def _as_override(value: Any, *, top: bool = True) -> str:
    """``value`` as a user writes it in a Hydra override (``key=...``): a list in brackets
    (a list of one item, at the top, as the item: ``logger=tensorboard`` selects one), a
    mapping in braces, None as ``null``, a bool as ``true`` / ``false``.

        >>> _as_override(["tensorboard"]), _as_override(["csv", "tensorboard"])
        ('tensorboard', '[csv,tensorboard]')
        >>> _as_override(None), _as_override(True), _as_override({"a": 1}), _as_override(16)
        ('null', 'true', '{a:1}', '16')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_as_override(v, top=False)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = [_as_override(v, top=False) for v in value]
        return items[0] if top and len(items) == 1 else "[" + ",".join(items) + "]"
    return str(value)


def why_alone(cfg: DictConfig) -> str | None:
    """Why the run of ``cfg`` cannot train in a vectorized group, or None if it can."""
    trainer = cfg.trainer
    model = cfg.model
    checks = [
        (cfg.optimizer.name in OPTIMIZERS, f"optimizer={_as_override(cfg.optimizer.name)}"),
        (
            cfg.optimizer.get("implementation", "auto") in ("auto", "fused"),
            f"optimizer.implementation={_as_override(cfg.optimizer.get('implementation'))} "
            "(a group steps with torch's fused kernel, as auto does)",
        ),
        (model.name in MODELS, f"model={_as_override(model.name)}"),
        (not model.get("dropout"), "model.dropout > 0 (each run draws its own masks)"),
        (cfg.get("runner", "auto") != "lightning", f"runner={_as_override(cfg.get('runner'))}"),
        (trainer.precision in PRECISIONS, f"trainer.precision={_as_override(trainer.precision)}"),
        (trainer.strategy == "auto", f"trainer.strategy={_as_override(trainer.strategy)}"),
        (trainer.devices in ("auto", 1, "1") and trainer.num_nodes == 1, "several devices"),
        (trainer.gradient_clip_val is None, "trainer.gradient_clip_val"),
        (
            all(trainer.get(k) is None for k in ("limit_train_batches", "limit_val_batches")),
            "trainer.limit_*_batches",
        ),
        (trainer.check_val_every_n_epoch == 1, "trainer.check_val_every_n_epoch != 1"),
        (
            not trainer.get("num_sanity_val_steps"),
            "trainer.num_sanity_val_steps (a group validates without Lightning's loop, which "
            "runs the sanity check)",
        ),
        (cfg.get("ckpt_path") is None, "ckpt_path (resuming)"),
        (
            set(cfg.get("logger") or {}) <= set(LOGGERS),
            f"logger={_as_override(list(cfg.get('logger') or {}))}",
        ),
        (set(cfg.get("callbacks") or {}) <= set(CALLBACKS), "callbacks beyond callbacks=default"),
        ((cfg.get("scheduler") or {}).get("name", "none") == "none", "a scheduler"),
        (
            all(trainer.get(k) is None for k in _OTHER_TRAINER_KEYS),
            "trainer."
            + "/".join(k for k in _OTHER_TRAINER_KEYS if trainer.get(k) is not None)
            + " (trainer arguments beyond lossbench's defaults)",
        ),
        (
            cfg.loss.get("reduction", "mean") != "none" and cfg.loss.get("reduce") is not False,
            "a loss without reduction",
        ),
        (
            not zero_class_weight(cfg.loss),
            "a class weight of 0 in loss.weight (a batch of that class alone has no loss: the "
            "run skips that step, which a member stepped with others cannot)",
        ),
    ]
    reasons = [reason for ok, reason in checks if not ok]
    callbacks = _callbacks_apart(cfg)
    if callbacks is not None:
        reasons.append(callbacks)
    return ", ".join(reasons) if reasons else None
