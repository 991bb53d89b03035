"""The three classification tasks and how their targets look.

| task         | labels kept by the data module     | example                      |
|--------------|------------------------------------|------------------------------|
| `binary`     | int64 `(N,)` in {0, 1}             | breast_cancer                |
| `multilabel` | int64 multi-hot `(N, L)` in {0, 1} | digits_multilabel            |
| `multiclass` | int64 `(N,)` in {0, ..., C - 1}    | iris, wine, digits           |

Losses see these labels re-encoded by :func:`lossbench.losses.encode_targets`.
"""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal["binary", "multilabel", "multiclass"]
TASKS: tuple[str, ...] = get_args(Task)


def check_task(task: str) -> Task:
    """Return ``task`` if it is a known task, else raise a ValueError listing the valid ones."""
    if task not in TASKS:
        raise ValueError(
            f"Unknown task {task!r}. Valid tasks: {', '.join(TASKS)}. "
            "Set it with data.task=<task> (only the csv data set takes a task)."
        )
    return task  # type: ignore[return-value]
