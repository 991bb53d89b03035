"""Check a loss's parameters against its declaration, and build the loss module.

>>> import torch
>>> loss = build_loss("bce_with_logits", {"pos_weight": "auto"}, task="binary",
...                   n_outputs=1, train_targets=torch.tensor([1.0, 0.0, 0.0, 0.0]))
>>> loss.pos_weight
tensor([3.])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lossbench.losses.reduction import legacy_reduction
from lossbench.losses.registry import get_loss
from lossbench.params import PerUnit, check_params
from lossbench.tasks import Task, is_dense

if TYPE_CHECKING:
    import torch
    from torch import nn


def validate_loss_params(name: str, params: Mapping[str, Any]) -> None:
    """Check the data-independent parameters of loss ``name`` against its declaration.

    Unknown keys, types and ranges raise a ValueError that names the key, the value, the valid
    values and an example. Lengths of per-unit lists (``weight``, ``pos_weight``) are checked
    by :func:`build_loss`, once the number of outputs is known.
    """
    check_params("loss", name, get_loss(name).parameters, params)


def _error(loss: str, key: str, value: Any, why: str) -> ValueError:
    return ValueError(f"loss.{key}={value!r} is invalid for loss {loss!r}: {why}")


def _per_unit(loss: str, key: str, value: Any, units: int, task: Task) -> torch.Tensor:
    import torch

    values = [float(v) for v in value] if isinstance(value, list | tuple) else None
    if values is None:
        return torch.full((units,), float(value))
    if len(values) != units:
        per = "label" if task == "multilabel" else "class" if units > 1 else "output"
        if is_dense(task):
            per += " (channel of the score map)"
        raise _error(
            loss,
            key,
            list(value),
            f"it has {len(values)} entries, but a {task} task with this loss has {units} output "
            f"unit(s); give {units} value(s), one per {per}",
        )
    return torch.tensor(values)


def check_ignore_index(name: str, params: Mapping[str, Any], *, task: Task, n_outputs: int) -> None:
    """Refuse an ``ignore_index`` that names one of the classes of a table (non-dense) task:
    every sample of that class would be left out of the loss, so the model would never learn
    it while the metrics still score it. Table targets never hold an unlabelled index, so the
    default (-100) ignores nothing; a dense task's unlabelled pixels have their own check
    (``data.faint_pixels``, :mod:`lossbench.validation`).

        >>> check_ignore_index("cross_entropy", {"ignore_index": -100}, task="binary", n_outputs=2)
        >>> try:
        ...     check_ignore_index("cross_entropy", {"ignore_index": 1}, task="binary", n_outputs=2)
        ... except ValueError as error:
        ...     print(str(error)[:62])
        loss.ignore_index=1 is invalid for loss 'cross_entropy': it na
    """
    index = params.get("ignore_index")
    if is_dense(task) or not isinstance(index, int) or not 0 <= index < n_outputs:
        return
    raise _error(
        name,
        "ignore_index",
        index,
        f"it names class {index} of this {task} task (classes 0 to {n_outputs - 1}), so every "
        f"sample of class {index} would be left out of the loss: the model would never be "
        "trained on it, while the metrics still score it. Table data has no unlabelled "
        "targets to ignore: leave loss.ignore_index at -100 (the default), or give class "
        f"{index} less weight with loss.weight instead",
    )


def auto_pos_weight(train_targets: torch.Tensor) -> torch.Tensor:
    """negatives / positives per unit on float 0/1 targets ``(N,)``, ``(N, U)`` or dense maps
    ``(N, U, H, W)`` (every position counts as an example of its unit)."""
    if train_targets.ndim > 2:  # units along dim 1, as torch's K-dimensional losses have them
        train_targets = train_targets.movedim(1, -1).reshape(-1, train_targets.shape[1])
    targets = train_targets.reshape(train_targets.shape[0], -1).double()
    if targets.numel() and (targets.min() < 0 or targets.max() > 1):
        raise ValueError(
            "loss.pos_weight=auto needs 0/1 targets (as encode_targets gives for this loss), but "
            f"the training targets range over [{targets.min().item():g}, "
            f"{targets.max().item():g}]; class indices must be one-hot encoded first."
        )
    positives = targets.sum(0)
    negatives = targets.shape[0] - positives
    if (positives == 0).any():
        empty = (positives == 0).nonzero().flatten().tolist()
        raise ValueError(
            f"loss.pos_weight=auto cannot be computed: output unit(s) {empty} have no positive "
            "example in the training split. Give pos_weight as numbers instead."
        )
    return (negatives / positives).float()


def build_loss(
    name: str,
    params: Mapping[str, Any],
    *,
    task: Task,
    n_outputs: int,
    train_targets: torch.Tensor | None = None,
) -> nn.Module:
    """Build loss ``name`` from its config ``params`` for a model with ``n_outputs`` units.

    A parameter left out (or null where its default is null) is not passed, so the class keeps
    its own default; an explicit null for a parameter whose default is not null is passed
    (focal's ``alpha=null``: no weighting). Per-unit values become tensors of ``n_outputs``.
    ``train_targets`` (the encoded training targets) is needed only for ``pos_weight=auto``.
    On a dense task, the per-unit values of an element-wise loss (``weight`` and ``pos_weight``
    of the BCE family) take the shape ``(U, 1, 1)``, so that they scale the channels of
    ``(N, U, H, W)`` scores; cross-entropy's class ``weight`` stays ``(C,)``, as torch takes it.
    """
    import torch

    spec = get_loss(name)
    validate_loss_params(name, params)
    kwargs: dict[str, Any] = {"reduction": params.get("reduction", "mean")}
    if params.get("size_average") is not None or params.get("reduce") is not None:
        kwargs["reduction"] = legacy_reduction(params.get("size_average"), params.get("reduce"))
    for param in spec.params:
        key, value = param.name, params.get(param.name)
        if key == "pos_weight_scale":
            continue  # applied below, once pos_weight is known
        if key == "pos_weight" and value == "auto":
            if train_targets is None:
                raise ValueError("loss.pos_weight=auto needs the training targets")
            value = auto_pos_weight(train_targets)
            if value.numel() != n_outputs:
                raise _error(
                    name,
                    key,
                    "auto",
                    f"the training targets have {value.numel()} "
                    f"column(s), but the model has {n_outputs} output unit(s); pass the "
                    "targets encoded by encode_targets",
                )
        elif value is not None and any(isinstance(c, PerUnit) for c in param.constraints):
            value = _per_unit(name, key, value, n_outputs, task)
        if value is not None or (param.default is not None and key in params):
            kwargs[key] = value
    scale = params.get("pos_weight_scale", 1.0)
    if scale != 1.0:  # tunes the strength of pos_weight (e.g. auto x 0.5) in a search
        kwargs["pos_weight"] = kwargs.get("pos_weight", torch.ones(n_outputs)) * float(scale)
    if is_dense(task) and spec.target_for(task) == "float":
        for key in ("weight", "pos_weight"):
            if isinstance(kwargs.get(key), torch.Tensor):
                kwargs[key] = kwargs[key].reshape(-1, 1, 1)
    return spec.build(**kwargs)
