"""The task x head x loss cells, from the registries, and one data set per task.

Shared by the tests that train or refuse every cell; nothing here is a copy of the table:
whether a cell is accepted comes from :func:`lossbench.compatibility.check`, and the tests
prove that what it accepts trains and what it refuses is refused.
"""

from __future__ import annotations

import itertools

import pytest

from lossbench.compatibility import check
from lossbench.heads import HEADS
from lossbench.losses import LOSSES
from lossbench.tasks import TASKS

#: A small data set per task (a hundred rows, or twenty images): fast to train for 2 epochs.
TINY_DATA: dict[str, tuple[str, ...]] = {
    "binary": ("data=synthetic_binary", "data.n_samples=100"),
    "multilabel": ("data=synthetic_multilabel", "data.n_samples=100"),
    "multiclass": ("data=synthetic_multiclass", "data.n_samples=100"),
    # 20 images of 28 x 28 pixels and a one-layer conv: 12 training maps, 9408 labelled pixels
    **{
        task: (f"data={data}", "data.n_images=20", "model=conv", "model.channels=[4]")
        for task, data in (
            ("dense_binary", "mnist_ink"),
            ("dense_multiclass", "mnist_segmentation"),
        )
    },
}
#: A small real data set per task (a few hundred rows): what the CLI and eval tests train on.
TASK_DATA: dict[str, str] = {
    "binary": "breast_cancer",
    "multilabel": "digits_multilabel",
    "multiclass": "wine",
}
CELLS: list[tuple[str, str, str]] = list(itertools.product(TASKS, HEADS, LOSSES))
ACCEPTED = [cell for cell in CELLS if check(*cell).ok]
#: The accepted cells of the tabular tasks (those of TASK_DATA); dense cells: tests/test_dense.py
#: and the cell tests of tests/test_compatibility.py.
TABLE_ACCEPTED = [cell for cell in ACCEPTED if cell[0] in TASK_DATA]
REFUSED = [cell for cell in CELLS if not check(*cell).ok]


def cell_id(cell: tuple[str, str, str]) -> str:
    """``multiclass-log_softmax-nll``."""
    return "-".join(cell)


def one_per_task_and_head(cells: list[tuple[str, str, str]]) -> list:
    """``(task, head, loss)`` parameters: the first cell of each task and head in the default
    suite, the other cells marked ``slow`` (``make test-slow``), for checks that train or
    compose a config per cell and whose behaviour follows the task and the head's output."""
    seen: set[tuple[str, str]] = set()
    params = []
    for task, head, loss in cells:
        marks = pytest.mark.slow if (task, head) in seen else ()
        seen.add((task, head))
        params.append(pytest.param(task, head, loss, id=cell_id((task, head, loss)), marks=marks))
    return params
