"""K models of one architecture as stacked tensors, and optimizers that step them all at once.

    >>> import torch
    >>> from torch import nn
    >>> members = [nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)) for _ in range(5)]
    >>> stacked = StackedModel(members)
    >>> stacked(torch.zeros(5, 7, 3)).shape        # (members, rows, outputs)
    torch.Size([5, 7, 2])
    >>> torch.testing.assert_close(stacked(torch.ones(5, 1, 3))[2], members[2](torch.ones(1, 3)))

Each linear layer is one ``torch.baddbmm`` over the K members: member ``k`` computes
``x[k] @ W[k].T + b[k]``, exactly its own layer, and nothing mixes members, so the gradient
of the sum of the members' losses is, slice by slice, each member's own gradient.

The optimizers follow the update formulas of ``torch.optim.Adam``, ``AdamW`` and ``SGD``
(with momentum, dampening 0) with a learning rate and a weight decay per member. As in
:func:`lossbench.optim.build_optimizer`, weight decay applies to weights (tensors of two or
more dimensions per member), never to biases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

#: The optimizers a group can step (L-BFGS needs a closure per model: its runs run alone).
BATCHED_OPTIMIZERS = ("adam", "adamw", "sgd")


def _layers(model: nn.Module) -> list[nn.Module]:
    return list(model) if isinstance(model, nn.Sequential) else [model]


class StackedModel(nn.Module):
    """The linear layers of K models (``nn.Linear`` or an ``nn.Sequential`` of linear layers
    and parameter-free activations) stacked along a new first dimension.

    ``parameter_names`` are the names of each member's own parameters (``0.weight``,
    ``0.bias``, ...) in the order of :attr:`params`, so that a member's slice can be written
    back into a model of its own (:meth:`member_state`).
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        first = _layers(models[0])
        for layer in first:
            if not isinstance(layer, nn.Linear) and any(True for _ in layer.parameters()):
                raise ValueError(
                    f"cannot stack {type(layer).__name__}: only linear layers and "
                    "parameter-free activations can be stacked."
                )
            if isinstance(layer, nn.Dropout) and layer.p:
                raise ValueError(
                    "cannot stack a model with dropout: each member would need its own random "
                    "masks drawn as its run alone draws them. Train it without the vectorized "
                    "launcher."
                )
        self.parameter_names = [name for name, _ in models[0].named_parameters()]
        self.params = nn.ParameterList(
            nn.Parameter(torch.stack([p.detach() for p in ps]).clone())
            for ps in zip(*(list(m.parameters()) for m in models), strict=True)
        )
        #: (True, index of the weight) for a linear layer, (False, module) for an activation.
        self._plan: list[tuple[bool, Any]] = []
        index = 0
        for layer in first:
            if isinstance(layer, nn.Linear):
                self._plan.append((True, index))
                index += 1 + (layer.bias is not None)
            else:
                self._plan.append((False, layer))
        self._has_bias = [
            isinstance(layer, nn.Linear) and layer.bias is not None for layer in first
        ]

    @property
    def size(self) -> int:
        """How many members are stacked."""
        return len(self.params[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(K, rows, outputs)`` of inputs ``(K, rows, features)``."""
        for (linear, item), bias in zip(self._plan, self._has_bias, strict=True):
            if not linear:
                x = item(x)
                continue
            weight = self.params[item]
            if bias:
                x = torch.baddbmm(self.params[item + 1].unsqueeze(1), x, weight.transpose(1, 2))
            else:
                x = torch.bmm(x, weight.transpose(1, 2))
        return x

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s parameters under its own names (views; clone to keep them)."""
        return {name: p[k] for name, p in zip(self.parameter_names, self.params, strict=True)}

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at ``index`` (in that order)."""
        for p in self.params:
            p.grad = None
            p.data = p.data.index_select(0, index)


class BatchedOptimizer:
    """Adam, AdamW or SGD over stacked parameters ``(K, ...)``, with a learning rate and a
    weight decay per member.

        >>> p = nn.Parameter(torch.ones(2, 3, 3))
        >>> opt = BatchedOptimizer([p], {"name": "sgd", "momentum": 0.0, "nesterov": False},
        ...                        lr=[0.1, 0.2], weight_decay=[0.0, 0.0])
        >>> p.grad = torch.ones_like(p)
        >>> opt.step()
        >>> p[:, 0, 0].tolist()
        [0.8999999761581543, 0.800000011920929]

    ``cfg`` is the optimizer config (``betas``, ``eps`` or ``momentum``, ``nesterov``); its
    ``lr`` and ``weight_decay`` are replaced by the per-member ``lr`` and ``weight_decay``.
    """

    def __init__(
        self,
        params: Sequence[nn.Parameter],
        cfg: Mapping[str, Any],
        *,
        lr: Sequence[float],
        weight_decay: Sequence[float],
    ) -> None:
        name = cfg["name"]
        if name not in BATCHED_OPTIMIZERS:
            raise ValueError(
                f"optimizer {name!r} cannot step stacked members; valid: "
                f"{', '.join(BATCHED_OPTIMIZERS)}."
            )
        self.name = name
        self.params = list(params)
        device = self.params[0].device
        self.lr = torch.tensor(list(lr), dtype=torch.float64, device=device)
        self.weight_decay = torch.tensor(list(weight_decay), dtype=torch.float64, device=device)
        if name in ("adam", "adamw"):
            self.beta1, self.beta2 = (float(b) for b in cfg["betas"])
            self.eps = float(cfg["eps"])
        else:
            self.momentum = float(cfg["momentum"])
            self.nesterov = bool(cfg["nesterov"])
        self.steps = 0
        #: Per parameter: Adam's (exp_avg, exp_avg_sq) or SGD's momentum buffer.
        self.state: list[list[torch.Tensor]] = [[] for _ in self.params]

    def _per_member(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at ``index`` (as :meth:`StackedModel.keep`)."""
        self.lr = self.lr.index_select(0, index.to(self.lr.device))
        self.weight_decay = self.weight_decay.index_select(0, index.to(self.lr.device))
        self.state = [[s.index_select(0, index) for s in states] for states in self.state]

    def to(self, device: torch.device) -> BatchedOptimizer:
        self.lr, self.weight_decay = self.lr.to(device), self.weight_decay.to(device)
        self.state = [[s.to(device) for s in states] for states in self.state]
        return self

    @torch.no_grad()
    def step(self) -> None:
        """One update of every member from the gradients in ``p.grad``."""
        self.steps += 1
        for p, state in zip(self.params, self.state, strict=True):
            if p.grad is None:
                continue
            decays = p.ndim >= 3  # a member's weight matrix: (K, out, in)
            if self.name == "sgd":
                self._sgd(p, p.grad, state, decays)
            else:
                self._adam(p, p.grad, state, decays)

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, state: list, decays: bool) -> None:
        if decays and self.name == "adam":
            grad = grad.add(p * self._per_member(self.weight_decay, p))
        elif decays:  # AdamW: decoupled, param *= 1 - lr * wd
            p.mul_(self._per_member(1 - self.lr * self.weight_decay, p))
        if not state:
            state += [torch.zeros_like(p), torch.zeros_like(p)]
        exp_avg, exp_avg_sq = state
        exp_avg.lerp_(grad, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2_sqrt = math.sqrt(1 - self.beta2**self.steps)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        p.addcdiv_(exp_avg * self._per_member(-self.lr / bias_correction1, p), denom)

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor, state: list, decays: bool) -> None:
        if decays:
            grad = grad.add(p * self._per_member(self.weight_decay, p))
        if self.momentum:
            if not state:
                state.append(grad.detach().clone())
            else:
                state[0].mul_(self.momentum).add_(grad)
            buf = state[0]
            grad = grad.add(buf, alpha=self.momentum) if self.nesterov else buf
        p.sub_(grad * self._per_member(self.lr, p))
