"""Vectorized training: the runs of a sweep that differ only in seed, split, learning rate,
weight decay, numeric loss parameters or loss weights, trained together as one batched model,
each member exactly as if alone.

    >>> from lossbench.vectorized import VECTORIZED_KEYS
    >>> VECTORIZED_KEYS[:4]
    ('seed', 'data.split_seed', 'optimizer.lr', 'optimizer.weight_decay')
    >>> print(*VECTORIZED_KEYS[4:])  # doctest: +NORMALIZE_WHITESPACE
    loss.alpha loss.clip loss.epsilon loss.gamma loss.gamma_neg loss.gamma_pos loss.label_smoothing
    loss.pos_weight loss.pos_weight_scale loss.weight

(the loss registry's ``member_params`` and ``buffer_params``).

The interface is small: :func:`~lossbench.vectorized.grouping.group_key` and
:func:`~lossbench.vectorized.grouping.why_alone` say which runs can train together, and
:func:`~lossbench.vectorized.run.train_group` trains such a group and records each member as an
ordinary run. ``hydra/launcher=vectorized`` (``hydra_plugins.lossbench_vectorized_launcher``)
applies them to a sweep through :mod:`lossbench.vectorized.sweep`.

Modules: ``grouping`` (which configs group; no torch), ``batched`` (stacked layers and batched
optimizers), ``members`` (a member's bookkeeping: best epoch, early stopping), ``module`` (the
LightningModule that trains the stack), ``run`` (building members, the fit, the records),
``checkpoints`` (a member's checkpoints, with the training state its run alone's hold, so they
resume like them), ``sweep`` (a sweep's jobs as tasks in worker processes).
"""

from lossbench.vectorized.grouping import VECTORIZED_KEYS, group_key, why_alone

__all__ = ["VECTORIZED_KEYS", "group_key", "train_group", "why_alone"]


def __getattr__(name: str):  # train_group imports torch and Lightning: on first use
    if name == "train_group":
        from lossbench.vectorized.run import train_group

        return train_group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
