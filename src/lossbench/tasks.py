"""The classification tasks and how their targets look.

| task               | inputs          | labels kept by the data module       | example            |
|--------------------|-----------------|--------------------------------------|--------------------|
| `binary`           | `(N, F)`        | int64 `(N,)` in {0, 1}               | breast_cancer      |
| `multilabel`       | `(N, F)`        | int64 multi-hot `(N, L)` in {0, 1}   | digits_multilabel  |
| `multiclass`       | `(N, F)`        | int64 `(N,)` in {0, ..., C - 1}      | iris, wine, digits |
| `dense_binary`     | `(N, Ch, H, W)` | int64 `(N, H, W)` in {0, 1}          | mnist_ink          |
| `dense_multiclass` | `(N, Ch, H, W)` | int64 `(N, H, W)` in {0, ..., C - 1} | mnist_segmentation |

The dense tasks label every position of an output map: the model gives ``(N, U, H, W)`` scores,
and each position is a binary or multi-class sample of its own (:func:`position_task`).
Losses see these labels re-encoded by :func:`lossbench.losses.encode_targets`.

    >>> position_task("dense_multiclass"), is_dense("multiclass")
    ('multiclass', False)
"""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal["binary", "multilabel", "multiclass", "dense_binary", "dense_multiclass"]
TASKS: tuple[str, ...] = get_args(Task)
#: Tasks of feature tables (one label or label vector per row): what data.task may say.
TABLE_TASKS: tuple[str, ...] = ("binary", "multilabel", "multiclass")
#: Tasks with a label per position of an output map, and the task of one position.
DENSE_TASKS: dict[str, Task] = {"dense_binary": "binary", "dense_multiclass": "multiclass"}


def is_dense(task: str) -> bool:
    """Whether ``task`` labels every position of an output map (``(N, H, W)`` labels)."""
    return task in DENSE_TASKS


def position_task(task: Task) -> Task:
    """The task of one labelled element: a dense task's per-position task, else ``task``."""
    return DENSE_TASKS.get(task, task)


def check_task(task: str, valid: tuple[str, ...] = TASKS) -> Task:
    """Return ``task`` if it is one of ``valid``, else raise a ValueError listing them."""
    if task not in valid:
        raise ValueError(
            f"Unknown task {task!r}. Valid tasks: {', '.join(valid)}. "
            "Set it with data.task=<task> (only the csv data set takes a task)."
        )
    return task  # type: ignore[return-value]
