"""Batches as slices of in-memory tensors: no per-sample ``__getitem__``, no collate.

    >>> import torch
    >>> loader = IndexBatchLoader((torch.arange(10),), batch_size=4, shuffle=False)
    >>> [b[0].tolist() for b in loader]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]

Lightning calls ``loader.sampler.set_epoch(epoch)`` every epoch, so a shuffled order depends
on ``(seed, epoch)`` only and a resumed run sees the same batches as an uninterrupted one.
Under DDP each rank takes every ``world_size``-th sample (training pads by repeating samples,
as ``DistributedSampler`` does, so that every rank takes the same number of steps).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class IndexBatchLoader:
    """An iterable of batches over tensors that share their first dimension."""

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int | None,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = False,
    ) -> None:
        self.tensors = tensors
        self.n = len(tensors[0])
        self.shuffle, self.seed = shuffle, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        #: Samples this rank sees per epoch.
        self.n_local = (
            math.ceil(self.n / world_size) if pad else len(range(rank, self.n, world_size))
        )
        self.batch_size = batch_size or max(self.n_local, 1)
        self.epoch = 0
        self.sampler = self  # Lightning looks for `sampler.set_epoch`
        self.batch_sampler = None  # (and inspects this, as on a DataLoader)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> torch.Tensor | None:
        """The rows of this rank's epoch (:meth:`set_epoch`), in the order the batches take
        them; None where that is every row as stored."""
        return self._order()

    def _order(self) -> torch.Tensor | None:
        device = self.tensors[0].device
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=generator).to(device)
        elif self.world_size == 1:
            return None
        else:
            order = torch.arange(self.n, device=device)
        if self.world_size > 1:
            if self.pad and self.n:  # the first rows again, as often as it takes
                total = math.ceil(self.n / self.world_size) * self.world_size
                order = order.repeat(math.ceil(total / self.n))[:total]
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        return math.ceil(self.n_local / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self._order()
        # index_select: the rows of `order`, as t[order] gives them, in a third of the time
        # (a row copy per index instead of advanced indexing's general gather).
        tensors = (
            self.tensors if order is None else tuple(t.index_select(0, order) for t in self.tensors)
        )
        n_local = len(tensors[0])
        for start in range(0, n_local, self.batch_size):
            yield tuple(t[start : start + self.batch_size] for t in tensors)
