"""Heads: the last, parameter-free layer that turns a model's raw scores into its output.

Each head is described as data (:class:`HeadSpec`): what it outputs and whether it normalises
across units. :mod:`lossbench.compatibility` reads these specs to decide which losses fit.

    >>> import torch
    >>> build_head("softmax")(torch.zeros(1, 4))
    tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from torch import nn

#: What a head hands to the loss.
OutputKind = Literal["scores", "probabilities", "log_probabilities"]

OUTPUT_KIND_TEXT: dict[str, str] = {
    "scores": "raw scores (logits)",
    "probabilities": "probabilities in [0, 1]",
    "log_probabilities": "log-probabilities (<= 0)",
}


@dataclass(frozen=True)
class LazyClass:
    """A class named by module and name, imported on first use, so that the registries
    (:data:`HEADS`, :data:`lossbench.losses.LOSSES`, :data:`lossbench.models.ACTIVATIONS`) can be
    read without importing torch. Calling it builds an instance; ``defaults`` are keyword
    arguments passed unless the call overrides them.

        >>> softmax = LazyClass("torch.nn", "Softmax", (("dim", -1),))
        >>> softmax
        LazyClass('torch.nn.Softmax', dim=-1)
        >>> softmax()
        Softmax(dim=-1)
    """

    module: str
    name: str
    defaults: tuple[tuple[str, Any], ...] = ()

    def resolve(self) -> type:
        """The class itself (imports its module)."""
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **{**dict(self.defaults), **kwargs})

    def __repr__(self) -> str:
        given = "".join(f", {key}={value!r}" for key, value in self.defaults)
        return f"{type(self).__name__}('{self.module}.{self.name}'{given})"


def _nn(name: str, **defaults: Any) -> LazyClass:
    """``torch.nn.<name>``, imported on first call."""
    return LazyClass("torch.nn", name, tuple(defaults.items()))


@dataclass(frozen=True)
class HeadSpec:
    """A head: its output kind and the activation that produces it."""

    name: str
    output: OutputKind
    #: "sigmoid" or "softmax": the link from raw scores to probabilities this head applies,
    #: or None when the head passes raw scores through (the loss then decides the link).
    link: str | None
    #: True when the head normalises across output units (softmax, log-softmax).
    normalizes: bool
    #: Builds the activation module (imports torch on call, not before).
    make: Callable[[], nn.Module]
    summary: str


HEADS: dict[str, HeadSpec] = {
    spec.name: spec
    for spec in (
        HeadSpec("logits", "scores", None, False, _nn("Identity"), "raw scores, no activation"),
        HeadSpec(
            "sigmoid",
            "probabilities",
            "sigmoid",
            False,
            _nn("Sigmoid"),
            "independent probability per unit",
        ),
        HeadSpec(
            "softmax",
            "probabilities",
            "softmax",
            True,
            _nn("Softmax", dim=-1),
            "probabilities that sum to 1 across units",
        ),
        HeadSpec(
            "log_softmax",
            "log_probabilities",
            "softmax",
            True,
            _nn("LogSoftmax", dim=-1),
            "log of softmax probabilities",
        ),
    )
}


def get_head(name: str) -> HeadSpec:
    """Return the spec of head ``name``; unknown names raise a ValueError listing valid ones."""
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(
            f"Unknown head {name!r}. Valid heads: {', '.join(HEADS)}. Choose one with head=<name>."
        ) from None


def build_head(name: str, *, dense: bool = False) -> nn.Module:
    """Build the activation module of head ``name``.

    A normalising head normalises over the last dimension (the units of ``(N, U)`` scores);
    with ``dense``, over dimension 1, the channels of ``(N, U, H, W)`` score maps, where
    torch's K-dimensional losses keep the classes.

        >>> build_head("softmax", dense=True)
        Softmax(dim=1)
    """
    spec = get_head(name)
    return spec.make(dim=1) if dense and spec.normalizes else spec.make()
