"""The hand-written PyTorch loop: lossbench's work done by hand, the 1.0 of the ratios."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MeanMetric

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.metrics import ClassificationMetrics
from lossbench.models import build_model

#: The hand-written side's losses: loss name -> (torch class, link from scores to probabilities).
REFERENCE_LOSSES: dict[str, tuple[type[nn.Module], str]] = {
    "bce_with_logits": (nn.BCEWithLogitsLoss, "sigmoid"),
    "cross_entropy": (nn.CrossEntropyLoss, "softmax"),
}


def _evaluate(
    model: nn.Module,
    loss_fn: nn.Module,
    tensors: tuple[torch.Tensor, ...],
    metrics: ClassificationMetrics,
    mean_loss: MeanMetric,
    link: str,
    squeeze: bool,
) -> dict[str, float]:
    """Metrics of one whole split in one batch, as lossbench's validation and test loaders do."""
    x, labels, targets = tensors
    model.eval()
    with torch.inference_mode():
        scores = model(x)
        loss = loss_fn(scores.squeeze(-1) if squeeze else scores, targets)
        metrics.update_from_scores(scores, labels, link)
        mean_loss.update(loss.expand(len(labels)))
        values = metrics.compute()
        values[f"{metrics.prefix}loss"] = mean_loss.compute()
    metrics.reset()
    mean_loss.reset()
    model.train()
    return {key: float(value) for key, value in values.items()}


def save_resumable(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` ``state`` to ``path`` as a careful script does: into a temporary file
    beside it, then renamed over it, so a run killed meanwhile leaves the previous file."""
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def run_reference(
    cfg: DictConfig, *, fused: bool = False, checkpoint_dir: Path | None = None
) -> dict[str, Any]:
    """The hand-written loop: train, validate every epoch, keep the best weights, evaluate them.

    ``fused``: lossbench's kernels: ``torch.optim.Adam(fused=True)`` instead of torch's default
    (a for-loop over the parameters on a CPU), and ``index_select`` instead of ``x[order]``.
    ``checkpoint_dir``: also write what resuming needs at the end of every epoch, in the
    caller's thread (:func:`save_resumable`): ``last.pt`` (the weights, the optimizer's state,
    the epoch, the best loss so far and the history) and ``best.pt`` (a copy of it) when the
    validation loss improved; what lossbench's default ``checkpoint.write=every_epoch`` keeps.
    """
    wall_start = time.perf_counter()
    torch.manual_seed(cfg.seed)  # as Lightning's seed_everything: the same initial weights
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    task, n_targets = datamodule.task, datamodule.n_targets
    model = build_model(
        OmegaConf.to_container(cfg.model, resolve=True),
        n_features=datamodule.n_features,
        n_outputs=datamodule.n_outputs,
    )
    loss_class, link = REFERENCE_LOSSES[cfg.loss.name]
    loss_fn = loss_class()
    squeeze = task == "binary" and datamodule.n_outputs == 1
    metrics = {
        stage: ClassificationMetrics(task, n_targets, prefix=f"{stage}/", validate_args=False)
        for stage in ("train", "val", "test")
    }
    mean_loss = {stage: MeanMetric(nan_strategy="disable") for stage in ("train", "val", "test")}
    x_all, labels_all, targets_all = datamodule.tensors["train"]
    n, batch_size = len(labels_all), cfg.data.batch_size or len(labels_all)
    history: dict[str, list[float]] = {}
    best_nll, best_state, steps = float("inf"), None, 0

    fit_start, fit_cpu_start = time.perf_counter(), time.process_time()
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=cfg.optimizer.lr,
        betas=tuple(cfg.optimizer.betas),
        eps=cfg.optimizer.eps,
        **({"fused": True} if fused else {}),
    )
    model.train()
    for epoch in range(cfg.trainer.max_epochs):
        # The order lossbench's IndexBatchLoader draws for (seed, epoch): the same batches.
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=generator)
        if fused:  # lossbench's kernels: also its gather (index_select, ~3x faster than x[order])
            x_epoch, labels_epoch, targets_epoch = (
                t.index_select(0, order) for t in (x_all, labels_all, targets_all)
            )
        else:  # the usual idiom
            x_epoch, labels_epoch, targets_epoch = (
                t[order] for t in (x_all, labels_all, targets_all)
            )
        outputs = []  # the epoch's detached scores and per-sample losses: metrics once per epoch
        for start in range(0, n, batch_size):
            x = x_epoch[start : start + batch_size]
            labels = labels_epoch[start : start + batch_size]
            targets = targets_epoch[start : start + batch_size]
            scores = model(x)
            loss = loss_fn(scores.squeeze(-1) if squeeze else scores, targets)
            if not torch.isfinite(loss):  # lossbench stops on a non-finite loss too
                raise RuntimeError(f"non-finite loss at epoch {epoch}, step {steps}")
            # One loss value per sample, as lossbench's module feeds its loss MeanMetric.
            outputs.append((scores.detach(), labels, loss.detach().expand(len(labels))))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        epoch_scores, epoch_labels, epoch_losses = (
            torch.cat(parts) for parts in zip(*outputs, strict=True)
        )
        metrics["train"].update_from_scores(epoch_scores, epoch_labels, link)
        mean_loss["train"].update(epoch_losses)
        values = {k: float(v) for k, v in metrics["train"].compute().items()}
        values["train/loss"] = float(mean_loss["train"].compute())
        metrics["train"].reset()
        mean_loss["train"].reset()
        values |= _evaluate(
            model,
            loss_fn,
            datamodule.tensors["val"],
            metrics["val"],
            mean_loss["val"],
            link,
            squeeze,
        )
        for key, value in values.items():
            history.setdefault(key, []).append(value)
        improved = values["val/nll"] < best_nll  # what lossbench's checkpoint monitors
        if improved:
            best_nll = values["val/nll"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if checkpoint_dir is not None:
            last = checkpoint_dir / "last.pt"
            state = {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "best_nll": best_nll,
                "history": history,
            }
            save_resumable(state, last)
            if improved:
                shutil.copyfile(last, checkpoint_dir / "best.pt.partial")
                os.replace(checkpoint_dir / "best.pt.partial", checkpoint_dir / "best.pt")
    fit_seconds = time.perf_counter() - fit_start
    fit_cpu_seconds = time.process_time() - fit_cpu_start

    if best_state is not None:
        model.load_state_dict(best_state)
    final: dict[str, float] = {}
    for stage in ("val", "test"):
        tensors = datamodule.tensors[stage]
        final |= _evaluate(model, loss_fn, tensors, metrics[stage], mean_loss[stage], link, squeeze)
    return {
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "steps": steps,
        "n_train": n,
        "val_nll_history": history["val/nll"],
        "test/nll": final["test/nll"],
    }
