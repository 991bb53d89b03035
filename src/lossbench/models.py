"""Model bodies: features in, one raw score per output unit out (the head comes after).

>>> import torch
>>> body = build_model({"name": "mlp", "hidden_sizes": [8], "activation": "relu",
...                     "dropout": 0.0}, n_features=4, n_outputs=3)
>>> body(torch.zeros(2, 4)).shape
torch.Size([2, 3])

``linear`` and ``mlp`` take feature vectors ``(N, F)``; ``conv`` is fully convolutional: images
``(N, Ch, H, W)`` in (``n_features`` is then the number of input channels), a score map
``(N, U, H, W)`` of the same height and width out, for the dense tasks:

>>> conv = build_model({"name": "conv", "channels": [8, 8], "kernel_size": 3,
...                     "dilated": True, "activation": "relu", "dropout": 0.0},
...                    n_features=1, n_outputs=11)
>>> conv(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2, 11, 28, 28])
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
#: Models that map images (N, Ch, H, W) to score maps (N, U, H, W): the dense tasks' models.
DENSE_MODELS = ("conv",)


def receptive_field(cfg: Mapping[str, Any]) -> int:
    """Width in positions of the input window that one output position of ``conv`` sees.

    >>> receptive_field({"channels": [16, 16, 16, 16], "kernel_size": 3, "dilated": True})
    31
    """
    k, layers = int(cfg["kernel_size"]), len(cfg["channels"])
    dilations = [2**i if cfg["dilated"] else 1 for i in range(layers)]
    return 1 + (k - 1) * sum(dilations)


def _conv(cfg: Mapping[str, Any], n_channels: int, n_outputs: int) -> nn.Module:
    """``len(channels)`` same-size convolutions (``kernel_size``, dilation doubling per layer
    when ``dilated``) with the activation after each, then a 1 x 1 convolution to the units."""
    import torch
    from torch import nn

    layers: list[nn.Module] = []
    width, k = n_channels, int(cfg["kernel_size"])
    for i, channels in enumerate(cfg["channels"]):
        dilation = 2**i if cfg["dilated"] else 1
        padding = dilation * (k - 1) // 2  # keeps height and width (odd kernel sizes)
        layers += [
            nn.Conv2d(width, channels, k, padding=padding, dilation=dilation),
            ACTIVATIONS[cfg["activation"]](),
        ]
        if cfg["dropout"]:
            layers.append(nn.Dropout2d(cfg["dropout"]))
        width = channels
    layers.append(nn.Conv2d(width, n_outputs, 1))
    # Weights in channels-last layout: convolutions then run in it too (about 1.25x faster on
    # a CPU core for this model; the same values, summed in another order). The state dict's
    # names and values are those of the default layout.
    return nn.Sequential(*layers).to(memory_format=torch.channels_last)


def _linear(cfg: Mapping[str, Any], n_features: int, n_outputs: int) -> nn.Module:
    """One linear layer: logistic / softmax regression."""
    from torch import nn

    return nn.Linear(n_features, n_outputs)


def _mlp(cfg: Mapping[str, Any], n_features: int, n_outputs: int) -> nn.Module:
    """Linear layers of ``hidden_sizes`` with the activation (and dropout) after each."""
    from torch import nn

    layers: list[nn.Module] = []
    width = n_features
    for hidden in cfg["hidden_sizes"]:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[cfg["activation"]]()]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


#: The model registry: name -> builder ``(cfg, n_features, n_outputs) -> nn.Module``. The
#: schemas (``lossbench.config.SCHEMAS["model"]``), ``configs/model/<name>.yaml`` and the
#: validation read the names from here (``tests/test_configs.py`` checks they agree).
MODELS: dict[str, Callable[[Mapping[str, Any], int, int], nn.Module]] = {
    "linear": _linear,
    "mlp": _mlp,
    "conv": _conv,
}


def build_model(cfg: Mapping[str, Any], *, n_features: int, n_outputs: int) -> nn.Module:
    """Build the model body that ``cfg`` names (one of :data:`MODELS`)."""
    name = cfg["name"]
    if name not in MODELS:
        raise ValueError(
            f"Unknown model {name!r}. Valid models: {', '.join(MODELS)}. "
            "Choose one with model=<name>."
        )
    return MODELS[name](cfg, n_features, n_outputs)
