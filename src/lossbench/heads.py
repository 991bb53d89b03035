"""Heads: the last, parameter-free layer that turns a model's raw scores into its output.

Each head is described as data (:class:`HeadSpec`): what it outputs and whether it normalises
across units. :mod:`lossbench.compatibility` reads these specs to decide which losses fit.

    >>> import torch
    >>> build_head("softmax")(torch.zeros(1, 4))
    tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

#: What a head hands to the loss.
OutputKind = Literal["scores", "probabilities", "log_probabilities"]

OUTPUT_KIND_TEXT: dict[str, str] = {
    "scores": "raw scores (logits)",
    "probabilities": "probabilities in [0, 1]",
    "log_probabilities": "log-probabilities (<= 0)",
}


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
    make: Callable[[], nn.Module]
    summary: str


HEADS: dict[str, HeadSpec] = {
    spec.name: spec
    for spec in (
        HeadSpec("logits", "scores", None, False, nn.Identity, "raw scores, no activation"),
        HeadSpec(
            "sigmoid",
            "probabilities",
            "sigmoid",
            False,
            nn.Sigmoid,
            "independent probability per unit",
        ),
        HeadSpec(
            "softmax",
            "probabilities",
            "softmax",
            True,
            lambda: nn.Softmax(dim=-1),
            "probabilities that sum to 1 across units",
        ),
        HeadSpec(
            "log_softmax",
            "log_probabilities",
            "softmax",
            True,
            lambda: nn.LogSoftmax(dim=-1),
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


def build_head(name: str) -> nn.Module:
    """Build the activation module of head ``name``."""
    return get_head(name).make()
