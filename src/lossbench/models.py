"""Model bodies: features in, one raw score per output unit out (the head comes after).

>>> import torch
>>> body = build_model({"name": "mlp", "hidden_sizes": [8], "activation": "relu",
...                     "dropout": 0.0}, n_features=4, n_outputs=3)
>>> body(torch.zeros(2, 4)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lossbench.heads import LazyClass

if TYPE_CHECKING:
    from torch import nn

#: Activation name -> a callable that builds the ``torch.nn`` module (torch imported on call).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": LazyClass("torch.nn", "ReLU"),
    "gelu": LazyClass("torch.nn", "GELU"),
    "tanh": LazyClass("torch.nn", "Tanh"),
    "silu": LazyClass("torch.nn", "SiLU"),
}
MODELS = ("linear", "mlp")


def build_model(cfg: Mapping[str, Any], *, n_features: int, n_outputs: int) -> nn.Module:
    """Build the model body that ``cfg`` names (``linear`` or ``mlp``)."""
    from torch import nn

    name = cfg["name"]
    if name == "linear":
        return nn.Linear(n_features, n_outputs)
    if name != "mlp":
        raise ValueError(
            f"Unknown model {name!r}. Valid models: {', '.join(MODELS)}. "
            "Choose one with model=<name>."
        )
    layers: list[nn.Module] = []
    width = n_features
    for hidden in cfg["hidden_sizes"]:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[cfg["activation"]]()]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)
