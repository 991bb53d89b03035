"""The LightningModule that trains a group's K members as one stacked model.

One Lightning training step runs a whole epoch for every member still training, as
``ClassifierModule``'s epoch loop does for one run: each member draws its own shuffled epoch
(the batch order its run alone draws from its ``seed``) from its own split, and each minibatch
step is one batched forward (:class:`~lossbench.vectorized.batched.StackedModel`), the
members' own losses (one call of the loss over all members' elements, or ``torch.func.vmap``
over the head and loss, each member with its own loss buffers and its own values of the loss's
numeric parameters, see :meth:`VectorizedModule._losses`), one backward of their sum and one
batched optimizer step. At the epoch's end each member is validated on its own
validation split by its own ``ClassifierModule`` (the metric code of a run alone), and its
best epoch and early stopping are decided. A member that stops (early stopping, or a
non-finite training loss or weights) leaves the stack; the Trainer stops when none is left.

The group's Trainer counts as each member's run alone counts (one Lightning step per epoch,
every optimizer step on the step counter), so where a run alone would save a checkpoint, the
member's :class:`~lossbench.vectorized.members.TrainingState` takes the Trainer's loop
progress, with the member's slice of the optimizer state and its callbacks' state: its
checkpoints resume like the run alone's (:mod:`lossbench.vectorized.checkpoints`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch.func import functional_call, vmap

from lossbench.callbacks import snapshot
from lossbench.data.loader import IndexBatchLoader
from lossbench.errors import non_finite_loss, non_finite_weights
from lossbench.lightning_internals import loop_states, manual_step_progress
from lossbench.losses import get_loss
from lossbench.losses.reduction import mean_denominators
from lossbench.metrics import nll_per_element, to_probabilities
from lossbench.module import weights_value
from lossbench.vectorized.batched import BatchedOptimizer, StackedModel
from lossbench.vectorized.member_losses import (
    member_values,
    tensor_loss,
    unreduced,
    value_tensor,
)
from lossbench.vectorized.members import Member, TrainingState

#: The monitors whose values :meth:`VectorizedModule._batched_values` computes for all members
#: at once (``epoch_metrics=monitored``); another monitor takes each member's own metrics.
BATCHED_KEYS = ("train/loss", "val/loss", "val/nll")


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack(list(tensors))


class VectorizedModule(L.LightningModule):
    """Trains ``members`` (built by :mod:`lossbench.vectorized.run`) as one stacked model.

    All members share model, head, loss, optimizer kind, batch size and data set; each has its
    own seed, split, learning rate, weight decay and values of the loss parameters that the loss
    registry declares per member (:attr:`~lossbench.losses.registry.LossSpec.member_params`).
    """

    def __init__(self, members: Sequence[Member], *, minibatch_size: int | None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.members = list(members)
        modules = [m.module for m in self.members]
        first = modules[0]
        self.stacked = StackedModel([m.model for m in modules])
        spec = get_loss(self.members[0].cfg.loss.name)
        values = member_values([m.loss_fn for m in modules], spec)
        #: The loss parameters whose values differ between the members (focal's gamma, ...).
        self._value_names = tuple(values)
        loss_fn = first.loss_fn if not values else tensor_loss(first.loss_fn, spec, values)
        # Not submodules (a tuple): they hold no parameters; the losses' buffers are stacked
        # below (and the loss, where members' values differ, is a copy that takes them).
        self._head_and_loss = (first.head, loss_fn)
        self.squeeze = first.squeeze
        self.minibatch_size = minibatch_size
        buffers = [name for name, _ in first.loss_fn.named_buffers()]
        for member, module in zip(self.members, modules, strict=True):
            if [name for name, _ in module.loss_fn.named_buffers()] != buffers:
                raise ValueError(
                    f"the member in {member.output_dir} has loss buffers "
                    f"{[n for n, _ in module.loss_fn.named_buffers()]}, the first {buffers}: "
                    "members must have the same ones. Group only runs of one "
                    "lossbench.vectorized.group_key."
                )
        #: The losses' buffers (class weights, pos_weight), stacked: they may differ per member;
        #: and the differing values of the loss's parameters, as ``(K,)`` tensors.
        self._loss_buffers = {
            name: _stack([dict(m.loss_fn.named_buffers())[name] for m in modules])
            for name in buffers
        } | {name: value_tensor(name, column) for name, column in values.items()}
        names = list(self._loss_buffers)
        cfg = self.members[0].cfg.optimizer
        self.optimizer = BatchedOptimizer(
            self.stacked,
            cfg,
            lr=[float(m.cfg.optimizer.lr) for m in self.members],
            weight_decay=[float(m.cfg.optimizer.weight_decay) for m in self.members],
        )
        #: Positions in ``members`` of the members still in the stack, in stack order.
        self.alive: list[int] = list(range(len(self.members)))
        self._vmapped = vmap(self._member_loss, in_dims=(0, 0, 0 if names else None))
        #: The buffers whose values differ between the members.
        self._member_buffers = tuple(
            name
            for name in buffers
            if not all(
                torch.equal(self._loss_buffers[name][0], value)
                for value in self._loss_buffers[name]
            )
        )
        #: The loss with ``reduction="none"``, where each member's loss is the mean (or sum)
        #: of its elements: one call for all members instead of vmap's per-member batching
        #: (the members' own values of the loss's parameters, and of an elementwise loss's
        #: buffers, broadcast over their elements: the solo run's arithmetic, element by
        #: element, where vmap's batching of a weighted loss rounds differently).
        flat = unreduced(loss_fn)
        self._unreduced = (
            flat
            if flat is not None and (flat.takes_member_buffers or not self._member_buffers)
            else None
        )
        #: ``epoch_metrics=monitored`` with monitors among :data:`BATCHED_KEYS`: each epoch's
        #: values of every member come from one batched forward of the validation splits,
        #: not from each member's metric suite (several times the cost of the epoch's steps).
        monitors = {m.checkpoint_monitor for m in self.members}
        monitors |= {m.stop_monitor for m in self.members if m.stop_monitor}
        self.batched_values = self.members[0].cfg.get(
            "epoch_metrics", "all"
        ) == "monitored" and monitors <= set(BATCHED_KEYS)
        self._task, self._link = first.task, first.link
        #: The members' validation splits ``(x, labels, targets)``, stacked (on_fit_start).
        self._val: tuple[torch.Tensor, ...] = ()
        #: Training states taken this epoch, waiting for the loops' progress at its end.
        self._pending: list[TrainingState] = []

    # ------------------------------------------------------------------ Lightning's hooks
    def train_dataloader(self) -> IndexBatchLoader:
        # One step per epoch: the step draws the members' shuffled epochs itself.
        return IndexBatchLoader((torch.zeros(1),), 1, shuffle=False)

    def configure_optimizers(self) -> None:
        return None  # the batched optimizer steps the stacked parameters itself

    def on_fit_start(self) -> None:
        device = self.device
        self.stacked.bind()  # a move to the device replaced the parameters' storage
        self.optimizer.bind()
        self._loss_buffers = {k: v.to(device) for k, v in self._loss_buffers.items()}
        if self._unreduced is not None:
            self._unreduced.loss_fn.to(device)  # its buffers (equal for all members)
        for member in self.members:
            member.module.to(device).eval()
            tensors = member.datamodule.tensors
            member.datamodule.tensors = {
                k: tuple(t.to(device) for t in v) for k, v in tensors.items()
            }
        #: Each member's whole training split in one shuffled batch, drawn per epoch.
        self._loaders = [
            IndexBatchLoader(m.datamodule.tensors["train"], None, shuffle=True, seed=m.cfg.seed)
            for m in self.members
        ]
        if self.batched_values:
            splits = [self.members[k].datamodule.tensors["val"] for k in self.alive]
            self._val = tuple(_stack(parts) for parts in zip(*splits, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores ``(K, rows, outputs)`` of the members' inputs ``(K, rows, features)``."""
        return self.stacked(x)

    def _losses(
        self, scores: torch.Tensor, targets: torch.Tensor, buffers: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        """Each member's loss ``(K,)`` of its scores ``(K, rows, outputs)``: one unreduced call
        of the loss for all members (:class:`~lossbench.vectorized.member_losses.UnreducedLoss`),
        or the loss per member under ``vmap``."""
        if self._unreduced is None:
            return self._vmapped(scores, targets, buffers)
        out = self._head_and_loss[0](scores)
        out = out.squeeze(-1) if self.squeeze else out
        buffers = buffers or {}
        return self._unreduced(
            out,
            targets,
            {name: buffers[name] for name in self._value_names},
            {name: buffers[name] for name in self._member_buffers},
        )

    def _member_loss(
        self, scores: torch.Tensor, targets: torch.Tensor, buffers: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        head, loss_fn = self._head_and_loss
        out = head(scores)
        out = out.squeeze(-1) if self.squeeze else out
        return functional_call(loss_fn, buffers or {}, (out, targets))

    def _epochs(self) -> tuple[torch.Tensor, ...]:
        """The shuffled epoch ``(x, labels, targets)`` of every member in the stack, stacked:
        each in the order its run alone draws (``IndexBatchLoader`` with its seed and epoch)."""
        # Each member's rows gathered straight into its slice of the stacked tensors (no
        # per-member epoch tensors to stack afterwards: half the copying).
        tensors = self._loaders[self.alive[0]].tensors
        stacked = tuple(t.new_empty((len(self.alive), *t.shape)) for t in tensors)
        for position, k in enumerate(self.alive):
            loader = self._loaders[k]
            loader.set_epoch(self.current_epoch)
            order = loader.order()
            for out, t in zip(stacked, loader.tensors, strict=True):
                if order is None:
                    out[position].copy_(t)
                else:
                    torch.index_select(t, 0, order, out=out[position])
        return stacked

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, labels, targets = self._epochs()
        progress = manual_step_progress(self.trainer)  # global_step: the optimizer steps
        self.stacked.bind_grads()
        size = self.minibatch_size or x.shape[1]
        starts = range(0, x.shape[1], size)
        epoch = self.current_epoch
        outputs: list[tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]] = []
        failed: set[int] = set()  # members whose loss was not finite (Member.fail)
        for step, start in enumerate(starts):
            xb, tb = x[:, start : start + size], targets[:, start : start + size]
            scores = self(xb)
            losses = self._losses(scores, tb, self._loss_buffers or None)
            finite = torch.isfinite(losses)
            if not bool(finite.all()):
                for position in (~finite).nonzero().flatten().tolist():
                    k = self.alive[position]
                    if k not in failed:  # what ClassifierModule raises, for this member alone
                        done = epoch * len(starts) + step
                        error = non_finite_loss(losses[position].item(), epoch, done, step)
                        # at once: a stop before the epoch's end still records the failure
                        self.members[k].fail(error, done, epoch)
                        failed.add(k)
                losses = torch.where(finite, losses, torch.zeros_like(losses))
            self.stacked.flat_grad.zero_()
            losses.sum().backward()
            if progress is not None:
                progress.increment_ready()
            self.optimizer.step()
            if progress is not None:
                progress.increment_completed()
            kept = None if self.batched_values else scores.detach()
            outputs.append((kept, *self._loss_shares(losses.detach(), tb)))
        # the steps' scores feed only each member's own train/ metric suite (epoch_metrics=all)
        scores = None if self.batched_values else torch.cat([s for s, _, _ in outputs], dim=1)
        # each member's loss and its weight of every step, (K, steps)
        shares = tuple(torch.stack(parts, dim=1) for parts in list(zip(*outputs, strict=True))[1:])
        steps = (epoch + 1) * len(starts)
        batched = self._batched_values(shares) if self.batched_values else None
        weights = self._weights_values()
        leaving = []
        for position, k in enumerate(self.alive):
            member = self.members[k]
            if k in failed:  # failed in this epoch's steps (Member.fail)
                leaving.append(position)
                continue
            if weights[position] is not None:  # before its values join its history
                member.fail(non_finite_weights(weights[position], epoch, steps), steps, epoch)
                leaving.append(position)
                continue
            if batched is not None:
                values = batched[position]
            else:
                values = self._validate(member, position)
                values |= self._train_values(
                    member, scores[position], labels[position], [t[position] for t in shares]
                )
            if member.cfg.get("epoch_metrics", "all") == "monitored":  # as a run alone
                # the losses and the monitors: not val/nll where only losses are monitored,
                # which the batched values hold for every monitor they serve
                keep = {"train/loss", "val/loss", *member.module.callback_metrics}
                values = {k: v for k, v in values.items() if k in keep}
            improved, stop = member.end_epoch(values, epoch, steps)
            last = stop or member.write == "every_epoch"
            training = None
            if (improved or last) and member.write != "never":
                training = self._training_state(member, position, epoch)
                self._pending.append(training)
            if improved or last:  # the weights now, as a row (member_states makes them a state)
                row = self.stacked.flat[position].detach().clone()
            if improved:
                member.best_row = row
                member.best_training = training
            if last:  # last.ckpt's weights
                member.last_row = row
                member.last_training = training
            if stop:
                leaving.append(position)
        for position in leaving:  # their training has ended: recorded even if the fit is stopped
            self.members[self.alive[position]].ended = True
        if leaving:
            keep = [p for p in range(len(self.alive)) if p not in leaving]
            self._keep(keep)
        if not self.alive:
            self.trainer.should_stop = True

    def on_train_epoch_end(self) -> None:
        # Where a run alone saves its checkpoints: the loops' progress of this epoch's end.
        if self._pending:
            loops = loop_states(self.trainer)
            for training in self._pending:
                training.loops = loops
            self._pending = []
        for member in self.members:  # what a fit stopped within the next epoch keeps
            member.epoch_ended()

    def on_train_end(self) -> None:
        loops = loop_states(self.trainer) if self.alive else None
        for position, k in enumerate(self.alive):  # trained to max_epochs
            member = self.members[k]
            member.ended = True
            member.last_row = self.stacked.flat[position].detach().clone()
            if member.write == "at_end":  # last.ckpt as saved when the fit ends
                training = self._training_state(member, position, self.current_epoch - 1)
                training.loops = loops
                member.last_training = training
        for member in self.members:  # a stop as the fit ends keeps the whole fit's
            member.epoch_ended()

    def _training_state(self, member: Member, position: int, epoch: int) -> TrainingState:
        """The member's optimizer slice and callbacks' state now (the loops: at the epoch end)."""
        stopping = member.early_stop
        return TrainingState(
            epoch=epoch,
            optimizer=self.optimizer.member_state(position),
            parameters=self.stacked.unflatten,
            optimizer_steps=self.optimizer.steps,
            best=(member.best.epoch, member.best.score_tensor()),
            early_stopping=None if stopping is None else snapshot(stopping.state_dict()),
        )

    @torch.no_grad()
    def _weights_values(self) -> list[float | None]:
        """For each member in the stack (by position): None where its weights are all finite,
        else nan or inf, as its run alone checks them
        (:meth:`lossbench.module.ClassifierModule.check_finite_weights`)."""
        flat = self.stacked.flat.detach()
        finite = torch.isfinite(flat).all(dim=1).tolist()
        return [None if ok else weights_value([flat[p]]) for p, ok in enumerate(finite)]

    def _loss_shares(
        self, losses: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's ``(value, weight)`` of its loss ``(K,)`` of ``targets`` ``(K, N, ...)``
        in its ``loss`` metric, as its run alone counts it
        (:meth:`lossbench.module.ClassifierModule.loss_share`), with its own class weights."""
        first = self.members[0].module  # the members' loss settings are the same
        n_samples = targets.shape[1]
        if first.loss_sums:
            weights = torch.full_like(losses, n_samples, dtype=torch.float64)
            return losses / n_samples, weights
        denominators = mean_denominators(
            first.mean_over,
            targets,
            weight=self._loss_buffers.get("weight"),
            ignore_index=getattr(first.loss_fn, "ignore_index", -100),
            batch_dims=2,
        )
        return losses, denominators.sum(1)

    def _batched_values(self, shares: tuple[torch.Tensor, torch.Tensor]) -> list[dict[str, float]]:
        """Every member's ``train/loss``, ``val/loss`` and ``val/nll`` of this epoch, in stack
        order: what each member's module computes with ``epoch_metrics=monitored`` (where a
        monitor reads ``val/nll``: :meth:`training_step` keeps only the member's losses and
        monitors), from its steps' loss ``shares`` (:meth:`_loss_shares`, ``(K, steps)`` each)
        and one batched forward of the stacked validation splits (to float rounding: the same
        sums in another order)."""
        x, labels, targets = self._val
        scores = self(x).float()
        losses = self._losses(scores, targets, self._loss_buffers or None)
        probs = to_probabilities(scores.flatten(0, 1), self._link, self._task)
        nll = nll_per_element(probs, labels.flatten(0, 1), self._task)
        nll = nll.reshape(len(scores), -1).mean(1)
        values, weights = shares
        train = torch.where(weights != 0, values.double() * weights, 0.0).sum(1) / weights.sum(1)
        val_loss = self._loss_shares(losses.double(), targets)[0]
        columns = {"train/loss": train, "val/loss": val_loss, "val/nll": nll}
        rows = torch.stack(list(columns.values()), dim=1).tolist()
        return [dict(zip(columns, row, strict=True)) for row in rows]

    # ------------------------------------------------------------------ per member
    def _load_member(self, member: Member, position: int) -> None:
        """Write the member's slice of the stacked weights into its own module."""
        self._load_weights(member, self.stacked.member_state(position))

    @staticmethod
    def _load_weights(member: Member, weights: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            own = dict(member.module.model.named_parameters())
            for name, value in weights.items():
                own[name].copy_(value)

    def member_states(self) -> None:
        """Make every member's kept rows (:attr:`Member.best_row`, :attr:`Member.last_row`)
        into the ``state_dict`` of its module with those weights (``best_state``,
        ``last_state``); the module keeps its best weights. Called once, after the fit (or
        after a stop, :func:`lossbench.vectorized.run.keep_stopped`)."""
        for member in self.members:
            for kind in ("last", "best"):
                row = getattr(member, f"{kind}_row")
                if row is None:
                    continue
                self._load_weights(member, self.stacked.unflatten(row))
                setattr(member, f"{kind}_state", _clone(member.module.state_dict()))
                setattr(member, f"{kind}_row", None)

    def _validate(self, member: Member, position: int) -> dict[str, float]:
        """The member's ``val/*`` of this epoch, computed by its own module (the inline
        validation of a run alone)."""
        self._load_member(member, position)
        return member.module.evaluate_split(member.datamodule.tensors["val"], "val")

    def _train_values(
        self,
        member: Member,
        scores: torch.Tensor,
        labels: torch.Tensor,
        shares: Sequence[torch.Tensor],
    ) -> dict[str, float]:
        """The member's ``train/*`` of this epoch from its steps' scores and loss ``shares``
        (``(value, weight)`` of each step, :meth:`_loss_shares`), as its module computes them
        at the epoch's end."""
        module = member.module
        metrics, mean_loss = module.stage_metrics["train"], module.stage_loss["train"]
        metrics.to(scores.device)
        mean_loss.to(scores.device)
        metrics.update_from_scores(scores, labels, module.link)
        mean_loss.update(*shares)
        values = metrics.compute()
        values["train/loss"] = mean_loss.compute()
        metrics.reset()
        mean_loss.reset()
        return {key: float(value) for key, value in values.items()}

    def _keep(self, positions: list[int]) -> None:
        if not positions:  # the last members left: nothing to train, the fit stops
            self.alive = []
            return
        index = torch.tensor(positions, dtype=torch.long, device=self.device)
        self.stacked.keep(index)
        self.optimizer.keep(index)
        self._loss_buffers = {k: v.index_select(0, index) for k, v in self._loss_buffers.items()}
        self._val = tuple(t.index_select(0, index) for t in self._val)
        self.alive = [self.alive[p] for p in positions]


def _clone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in state.items()}
