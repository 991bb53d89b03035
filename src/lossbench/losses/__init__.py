"""Losses: the registry (:mod:`.registry`), target encoding (:mod:`.targets`), parameter checks
and building (:mod:`.building`), and lossbench's own loss modules (one file each).

    >>> import torch
    >>> loss = build_loss("asl", {"clip": 0.0}, task="multilabel", n_outputs=2)
    >>> loss
    AsymmetricLoss(gamma_neg=4.0, gamma_pos=1.0, clip=0.0, reduction='mean')

Importing this package does not import torch: lossbench's own loss classes (``SigmoidFocalLoss``,
``AsymmetricLoss``, ...) are imported on first access, ``lossbench.losses.AsymmetricLoss``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lossbench.losses.building import auto_pos_weight, build_loss, validate_loss_params
from lossbench.losses.registry import LOSSES, LossSpec, get_loss, own_loss_classes
from lossbench.losses.targets import encode_targets, n_outputs

if TYPE_CHECKING:
    from lossbench.losses.asl import AsymmetricLoss as AsymmetricLoss
    from lossbench.losses.focal import SigmoidFocalLoss as SigmoidFocalLoss
    from lossbench.losses.manual_bce import ManualBCELoss as ManualBCELoss
    from lossbench.losses.poly import PolyLoss as PolyLoss


def __getattr__(name: str) -> Any:
    classes = own_loss_classes()
    if name in classes:
        return classes[name].resolve()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LOSSES",
    "LossSpec",
    "auto_pos_weight",
    "build_loss",
    "encode_targets",
    "get_loss",
    "n_outputs",
    "validate_loss_params",
]
