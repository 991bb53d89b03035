"""Optimizers, with weight decay on weights only (never on biases).

    >>> from torch import nn
    >>> opt = build_optimizer({"name": "adam", "lr": 1e-3, "weight_decay": 0.1,
    ...                        "betas": [0.9, 0.999], "eps": 1e-8}, nn.Linear(3, 2))
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.1, 0.0]
    >>> opt.defaults["fused"]  # optimizer.implementation=auto: torch's fused kernel on a CPU
    True
    >>> opt = build_optimizer({"name": "adamw", "lr": 1e-3, "weight_decay": 0.0,
    ...                        "betas": [0.9, 0.999], "eps": 1e-8}, nn.Linear(3, 2))
    >>> [(len(g["params"]), g["weight_decay"]) for g in opt.param_groups]  # no decay: one group
    [(2, 0.0)]

LBFGS takes no weight decay and one parameter group: :func:`l2_penalty` adds the same
``weight_decay / 2 * ||w||^2`` term to the objective instead. With mean BCE-with-logits and
``weight_decay = 1 / (C * n_train)`` this is scikit-learn's ``LogisticRegression(C)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
#: ``optimizer.implementation`` of adam, adamw and sgd: which of torch's kernels steps them.
#: ``auto`` takes the fused one (one kernel for all parameters; about 0.7x the time of the
#: per-parameter loop for lossbench's small models on a CPU) where torch has it for the
#: parameters' device and dtype, else torch's default. The update is the same up to rounding.
IMPLEMENTATIONS = ("auto", "fused", "foreach", "for_loop")


def split_decay(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(weights, biases): parameters with >= 2 dimensions decay, the others do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [p for p in params if p.ndim >= 2], [p for p in params if p.ndim < 2]


def build_optimizer(cfg: Mapping[str, Any], model: nn.Module) -> torch.optim.Optimizer:
    """Build the optimizer that ``cfg`` names for ``model``'s parameters."""
    import torch

    name, lr, decay = cfg["name"], cfg["lr"], cfg["weight_decay"]
    if name == "lbfgs":
        return torch.optim.LBFGS(
            model.parameters(),
            lr=lr,
            max_iter=cfg["max_iter"],
            history_size=cfg["history_size"],
            line_search_fn=cfg["line_search_fn"],
            tolerance_grad=cfg["tolerance_grad"],
            tolerance_change=cfg["tolerance_change"],
        )
    weights, biases = split_decay(model)
    groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
    if not decay:  # one group: the same update, one kernel call per step instead of two
        groups = [{"params": weights + biases, "weight_decay": 0.0}]
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        kwargs = {"lr": lr, "betas": tuple(cfg["betas"]), "eps": cfg["eps"]}
    elif name == "sgd":
        cls = torch.optim.SGD
        kwargs = {"lr": lr, "momentum": cfg["momentum"], "nesterov": cfg["nesterov"]}
    else:
        raise ValueError(
            f"Unknown optimizer {name!r}. Valid optimizers: {', '.join(OPTIMIZERS)}. "
            "Choose one with optimizer=<name>."
        )
    implementation = cfg.get("implementation", "auto")
    if implementation == "auto":
        try:
            return cls(groups, **kwargs, fused=True)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device, dtype
            return cls(groups, **kwargs)  # or torch version: torch's default
    flags = {
        "fused": {"fused": True},
        "foreach": {"foreach": True},
        "for_loop": {"foreach": False},
    }
    if implementation not in flags:
        raise ValueError(
            f"optimizer.implementation={implementation!r} is not known. Valid: "
            f"{', '.join(IMPLEMENTATIONS)} (auto: fused where torch has a fused kernel)."
        )
    try:
        return cls(groups, **kwargs, **flags[implementation])
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(
            f"optimizer.implementation={implementation} cannot step these parameters "
            f"({error}). Use optimizer.implementation=auto, which falls back to torch's "
            "default where no fused kernel exists."
        ) from None


def l2_penalty(model: nn.Module, weight_decay: float) -> torch.Tensor | float:
    """``weight_decay / 2 * sum ||w||^2`` over the weights (not biases); its gradient is
    ``weight_decay * w``, exactly what the other optimizers' ``weight_decay`` adds."""
    if not weight_decay:
        return 0.0
    weights, _ = split_decay(model)
    return 0.5 * weight_decay * sum(w.pow(2).sum() for w in weights)
