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

All parameters of the stack live in one ``(K, P)`` tensor (each parameter is a view into it),
and so do their gradients: the optimizer then updates every parameter of every member with a
handful of operations on that one tensor. The optimizers follow the update formulas of
``torch.optim.Adam``, ``AdamW`` and ``SGD`` (with momentum, dampening 0) with a learning rate
and a weight decay per member. As in :func:`lossbench.optim.build_optimizer`, weight decay
applies to weights (tensors of two or more dimensions per member), never to biases.

Where torch has a fused kernel for the optimizer on the parameters' device and dtype (Adam,
AdamW and SGD from torch 2.4 on a CPU; CUDA), the group steps through it: the kernel that
``torch.optim.Adam(fused=True)`` (``AdamW``, ``SGD``) runs, which is what a run alone takes by
default (``optimizer.implementation=auto``). It is called once per distinct (learning rate,
weight decay) of the members, on the members' own slices of the stacked tensors, so each
member is updated by the arithmetic of its run alone. Elsewhere the update is written out on
the ``(K, P)`` tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

#: The optimizers a group can step (L-BFGS needs a closure per model: its runs run alone).
BATCHED_OPTIMIZERS = ("adam", "adamw", "sgd")


def _fused_kernel(name: str, like: torch.Tensor) -> Any | None:
    """torch's fused step of optimizer ``name`` (``torch._fused_adam_``, ``_fused_adamw_`` or
    ``_fused_sgd_``: what ``torch.optim.Adam(fused=True)`` and the others call) if it runs on
    ``like``'s device and dtype, else None (an older torch, or no kernel there)."""
    kernel = getattr(torch, f"_fused_{name}_", None)
    if kernel is None:
        return None
    tensors = [[torch.zeros(1, dtype=like.dtype, device=like.device)] for _ in range(4)]
    try:
        if name == "sgd":
            kernel(*tensors[:3], weight_decay=0.0, momentum=0.9, lr=0.1, dampening=0.0,
                   nesterov=False, maximize=False, is_first_step=True)  # fmt: skip
        else:
            step = torch.ones((), dtype=torch.float32, device=like.device)
            kernel(*tensors, [], [step], lr=0.1, beta1=0.9, beta2=0.999, weight_decay=0.0,
                   eps=1e-8, amsgrad=False, maximize=False)  # fmt: skip
    except (RuntimeError, NotImplementedError, TypeError):
        return None
    return kernel


def _layers(model: nn.Module) -> list[nn.Module]:
    return list(model) if isinstance(model, nn.Sequential) else [model]


class StackedLinear(torch.autograd.Function):
    """K linear layers at once: ``x[k] @ weight[k].T + bias[k]`` for inputs ``(K, rows, in)``,
    weights ``(K, out, in)`` and biases ``(K, out)`` (or None).

        >>> x, w, b = torch.randn(3, 5, 4), torch.randn(3, 2, 4), torch.randn(3, 2)
        >>> torch.testing.assert_close(StackedLinear.apply(x, w, b)[1], x[1] @ w[1].T + b[1])

    Its backward computes each gradient in the layout of its tensor (the weights' as
    ``grad.T @ x``, ``(K, out, in)``, where autograd's ``baddbmm`` backward makes ``x.T @ grad``
    and transposes it, which then adds it into the gradient's strided view element by element),
    and a one-output layer's gradients in shapes a CPU computes fast (autograd's
    ``(K, in, rows) @ (K, rows, 1)`` for its weights took six times as long as
    ``(K, 1, rows) @ (K, rows, in)``; its input gradient, an outer product, is a broadcast
    multiply here). The values are those of the matrix products (summation order aside).
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        if bias is None:
            return torch.bmm(x, weight.transpose(1, 2))
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        x, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            # (K, rows, 1) x (K, 1, in): an outer product, cheaper as a broadcast multiply
            grad_x = grad * weight if weight.shape[1] == 1 else torch.bmm(grad, weight)
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(grad.transpose(1, 2), x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(1)
        return grad_x, grad_w, grad_b


class StackedModel(nn.Module):
    """The linear layers of K models (``nn.Linear`` or an ``nn.Sequential`` of linear layers
    and parameter-free activations) stacked along a new first dimension.

    ``parameter_names`` are the names of each member's own parameters (``0.weight``,
    ``0.bias``, ...) in the order of :attr:`params`, so that a member's slice can be written
    back into a model of its own (:meth:`member_state`). :attr:`flat` holds every parameter
    as a ``(K, P)`` tensor, :attr:`flat_grad` their gradients (:meth:`bind` rebuilds both,
    e.g. after a move to another device).
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
        self.flat = torch.empty(0)
        self.flat_grad = torch.empty(0)
        self.bind()

    def bind(self, index: torch.Tensor | None = None) -> None:
        """Gather the parameters into :attr:`flat` (only the members at ``index``, if given)
        and make each parameter, and its gradient, a view into :attr:`flat` / :attr:`flat_grad`.
        """
        data = [p.data.reshape(len(p), -1) for p in self.params]
        flat = torch.cat(data, dim=1)
        if index is not None:
            flat = flat.index_select(0, index)
        self.flat, self.flat_grad = flat, torch.zeros_like(flat)
        for p, view in zip(self.params, self._views(flat), strict=True):
            p.data = view
        #: The parameters as a plain list: ``ParameterList`` indexing costs a few microseconds
        #: per lookup, a few percent of a small group's step.
        self._param_list = list(self.params)
        self._grad_views = self._views(self.flat_grad)
        self.bind_grads()

    def bind_grads(self) -> None:
        """Make each parameter's gradient a view into :attr:`flat_grad`, where backward
        accumulates it (a gradient set to None elsewhere would be a new tensor)."""
        for p, view in zip(self._param_list, self._grad_views, strict=True):
            p.grad = view

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        views, start = [], 0
        for p in self.params:
            n = p[0].numel()
            views.append(flat[:, start : start + n].view(len(flat), *p.shape[1:]))
            start += n
        return views

    @property
    def decays(self) -> torch.Tensor:
        """``(P,)`` True where :attr:`flat` holds a weight (decayed), False for a bias."""
        return torch.cat(
            [torch.full((p[0].numel(),), p.ndim >= 3, device=p.device) for p in self.params]
        )

    @property
    def size(self) -> int:
        """How many members are stacked."""
        return len(self.flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(K, rows, outputs)`` of inputs ``(K, rows, features)``."""
        params = self._param_list
        for (linear, item), bias in zip(self._plan, self._has_bias, strict=True):
            if not linear:
                x = item(x)
                continue
            x = StackedLinear.apply(x, params[item], params[item + 1] if bias else None)
        return x

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s parameters under its own names (views; clone to keep them)."""
        return {name: p[k] for name, p in zip(self.parameter_names, self.params, strict=True)}

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at ``index`` (in that order)."""
        self.bind(index)

    def unflatten(self, row: torch.Tensor) -> dict[str, torch.Tensor]:
        """One member's ``(P,)`` row of :attr:`flat` (or of a tensor laid out like it) as its
        parameters, under their names (views)."""
        out, start = {}, 0
        for name, p in zip(self.parameter_names, self.params, strict=True):
            n = p[0].numel()
            out[name] = row[start : start + n].view(p.shape[1:])
            start += n
        return out


class BatchedOptimizer:
    """Adam, AdamW or SGD over the ``(K, P)`` parameters of a :class:`StackedModel`, with a
    learning rate and a weight decay per member.

        >>> stacked = StackedModel([nn.Linear(3, 3, bias=False) for _ in range(2)])
        >>> _ = stacked.flat.fill_(1.0)
        >>> opt = BatchedOptimizer(stacked, {"name": "sgd", "momentum": 0.0, "nesterov": False},
        ...                        lr=[0.1, 0.2], weight_decay=[0.0, 0.0])
        >>> _ = stacked.flat_grad.fill_(1.0)
        >>> opt.step()
        >>> stacked.params[0][:, 0, 0].tolist()
        [0.8999999761581421, 0.800000011920929]

    ``cfg`` is the optimizer config (``betas``, ``eps`` or ``momentum``, ``nesterov``); its
    ``lr`` and ``weight_decay`` are replaced by the per-member ``lr`` and ``weight_decay``.
    """

    def __init__(
        self,
        stacked: StackedModel,
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
        self.stacked = stacked
        self.lr = torch.tensor(list(lr), dtype=torch.float64)
        self.weight_decay = torch.tensor(list(weight_decay), dtype=torch.float64)
        if name in ("adam", "adamw"):
            self.beta1, self.beta2 = (float(b) for b in cfg["betas"])
            self.eps = float(cfg["eps"])
        else:
            self.momentum = float(cfg["momentum"])
            self.nesterov = bool(cfg["nesterov"])
        self.steps = 0
        #: Adam's (exp_avg, exp_avg_sq) or SGD's momentum buffer, each ``(K, P)``.
        self.state: list[torch.Tensor] = []
        self.bind()

    def bind(self) -> None:
        """Follow the stack's device and members (after :meth:`StackedModel.bind`)."""
        flat = self.stacked.flat
        self.lr, self.weight_decay = self.lr.to(flat.device), self.weight_decay.to(flat.device)
        self.state = [s.to(flat.device) for s in self.state]
        self._kernel = _fused_kernel(self.name, flat)
        if self._kernel is not None:
            if not self.state:  # member_state stays empty until the first step
                states = 2 if self.name != "sgd" else 1 if self.momentum else 0
                self.state = [torch.zeros_like(flat) for _ in range(states)]
            #: The step count as the fused kernel reads it (a float32 scalar, as torch keeps).
            self._step = torch.full((), float(self.steps), dtype=torch.float32, device=flat.device)
            self._calls = self._fused_calls()
        #: (K, P) weight decay of each member on its weights, 0 on its biases.
        self._decay = (self.weight_decay.unsqueeze(1) * self.stacked.decays).to(flat.dtype)
        #: Whether any member decays (without, the step skips the decay's pass over (K, P)).
        self._decays = bool(self.weight_decay.ne(0).any())
        #: -lr of each member as a (K, 1) float64 column (the step divides it by its bias
        #: correction, then casts it to the parameters' dtype).
        self._neg_lr = (-self.lr).unsqueeze(1)

    def _fused_calls(self) -> dict[tuple[float, float], list[list[torch.Tensor]]]:
        """The fused kernel's arguments per (learning rate, weight decay): each member's own
        parameters, gradients and moments (views of its slices) and the step count, its
        weights under its weight decay and its biases under none, as the parameter groups of
        its run alone."""
        stacked = self.stacked
        views = [stacked._views(t) for t in (stacked.flat, stacked.flat_grad, *self.state)]
        lrs, decays = self.lr.tolist(), self.weight_decay.tolist()
        calls: dict[tuple[float, float], list[list[torch.Tensor]]] = {}
        for k in range(stacked.size):
            for i, param in enumerate(stacked.params):
                key = (lrs[k], decays[k] if param.ndim >= 3 else 0.0)
                lists = calls.setdefault(key, [[] for _ in views])
                for out, view in zip(lists, views, strict=True):
                    out.append(view[i][k])
        for lists in calls.values():
            lists.append([self._step] * len(lists[0]))  # read by the kernel, one per tensor
        return calls

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the members at ``index`` (as :meth:`StackedModel.keep`, called first)."""
        index = index.to(self.lr.device)
        self.lr = self.lr.index_select(0, index)
        self.weight_decay = self.weight_decay.index_select(0, index)
        self.state = [s.index_select(0, index) for s in self.state]
        self.bind()

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s optimizer state (copies, each ``(P,)`` in :attr:`StackedModel.flat`'s
        layout: :meth:`StackedModel.unflatten` splits it per parameter) under ``torch.optim``'s
        names: ``exp_avg`` and ``exp_avg_sq`` (Adam, AdamW) or ``momentum_buffer`` (SGD with
        momentum); empty before the first step and for SGD without momentum, as torch's state
        is. With :attr:`steps`, this is what its own ``torch.optim`` optimizer would hold after
        the same steps.

            >>> stacked = StackedModel([nn.Linear(2, 1) for _ in range(3)])
            >>> opt = BatchedOptimizer(stacked, {"name": "adam", "betas": [0.9, 0.999],
            ...                        "eps": 1e-8}, lr=[0.1] * 3, weight_decay=[0.0] * 3)
            >>> _ = stacked.flat_grad.fill_(1.0)
            >>> opt.step()
            >>> state = opt.member_state(1)
            >>> sorted(state), stacked.unflatten(state["exp_avg"])["weight"]
            (['exp_avg', 'exp_avg_sq'], tensor([[0.1000, 0.1000]]))
        """
        names = ("momentum_buffer",) if self.name == "sgd" else ("exp_avg", "exp_avg_sq")
        if not self.steps:
            return {}
        return {key: value[k].clone() for key, value in zip(names, self.state, strict=False)}

    def _per_member(self, values: torch.Tensor) -> torch.Tensor:
        """``(K,)`` float64 values as a ``(K, 1)`` column in the parameters' dtype."""
        return values.to(self.stacked.flat.dtype).unsqueeze(1)

    @torch.no_grad()
    def step(self) -> None:
        """One update of every member from the gradients in :attr:`StackedModel.flat_grad`."""
        self.steps += 1
        if self._kernel is not None and self.name == "sgd":
            for (lr, decay), (p, grad, *buffers, _) in self._calls.items():
                self._kernel(
                    p, grad, buffers[0] if buffers else [], weight_decay=decay,
                    momentum=self.momentum, lr=lr, dampening=0.0, nesterov=self.nesterov,
                    maximize=False, is_first_step=self.steps == 1,
                )  # fmt: skip
            return
        if self._kernel is not None:
            self._step.add_(1)
            for (lr, decay), (p, grad, exp_avg, exp_avg_sq, steps) in self._calls.items():
                self._kernel(
                    p, grad, exp_avg, exp_avg_sq, [], steps,
                    lr=lr, beta1=self.beta1, beta2=self.beta2, weight_decay=decay,
                    eps=self.eps, amsgrad=False, maximize=False,
                )  # fmt: skip
            return
        p, grad = self.stacked.flat, self.stacked.flat_grad
        if self.name == "sgd":
            self._sgd(p, grad)
        else:
            self._adam(p, grad)

    def _adam(self, p: torch.Tensor, grad: torch.Tensor) -> None:
        if self._decays and self.name == "adam":  # L2: grad += wd * param (weights only)
            grad = grad.addcmul(p, self._decay)
        elif self._decays:  # AdamW, decoupled: param *= 1 - lr * wd (weights only)
            p.mul_(1 - self._per_member(self.lr) * self._decay)
        if not self.state:
            self.state = [torch.zeros_like(p), torch.zeros_like(p)]
        exp_avg, exp_avg_sq = self.state
        exp_avg.lerp_(grad, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2_sqrt = math.sqrt(1 - self.beta2**self.steps)
        denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(self.eps)
        step = (self._neg_lr / bias_correction1).to(p.dtype)  # (K, 1): -lr / bias correction
        p.addcdiv_(exp_avg * step, denom)

    def _sgd(self, p: torch.Tensor, grad: torch.Tensor) -> None:
        if self._decays:
            grad = grad.addcmul(p, self._decay)  # L2 on weights only
        if self.momentum:
            if not self.state:
                self.state = [grad.clone()]
            else:
                self.state[0].mul_(self.momentum).add_(grad)
            buf = self.state[0]
            grad = grad.add(buf, alpha=self.momentum) if self.nesterov else buf
        p.sub_(grad * self._per_member(self.lr))
