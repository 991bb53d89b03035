"""Runs still improving at the epoch cap on a validation split they classify perfectly.

Where a network gets every validation example right, its validation NLL falls toward 0 for as
long as its weights grow: no epoch cap settles it, and raising the cap only lowers it further
(on the standard study's wine, 49 of the 53 runs still improving at the 1000-epoch cap). Weight
decay gives the NLL a minimum (wine, cross-entropy at lr 0.001, seed 0: at the cap without it,
stopped early at epoch 689 with ``optimizer.weight_decay=0.0001`` and at 290 with 0.001). The
report says so where such runs keep a setup from being named best, instead of only advising a
higher cap.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"setup": ["a", "a", "b"], "task": "multiclass",
    ...                      "still_improving": [True, True, False],
    ...                      "val/accuracy": [1.0, 0.97, 1.0]})
    >>> separated_runs(runs, ["a", "b"])
    (1, 2)
    >>> print(separated_advice((1, 2))[:77])
     1 of the 2 runs still improving at the cap classify every validation example
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

#: The validation metric that is 1 where every example of the split is classified correctly:
#: all of a sample's labels for multi-label tasks, its class (or each pixel's) otherwise.
ALL_RIGHT = {"multilabel": "val/exact_match"}
DEFAULT_ALL_RIGHT = "val/accuracy"


def all_right_metric(task: object) -> str:
    """The validation metric that reads 1 where a run classifies its whole split correctly.

    >>> all_right_metric("multilabel"), all_right_metric("binary")
    ('val/exact_match', 'val/accuracy')
    """
    return ALL_RIGHT.get(str(task), DEFAULT_ALL_RIGHT)


def _weight_decay(config: object) -> bool:
    """Whether a run's flattened config trains with weight decay (its NLL then has a minimum).

    >>> _weight_decay({"optimizer.weight_decay": 0.001}), _weight_decay({}), _weight_decay(None)
    (True, False, False)
    """
    value = config.get("optimizer.weight_decay") if isinstance(config, dict) else None
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def separated_runs(runs: pd.DataFrame, setups: Sequence[str]) -> tuple[int, int]:
    """(how many of them classify their validation split perfectly, how many runs of
    ``setups`` in ``runs`` reached the epoch cap still improving), among the runs trained
    without weight decay (with it, the NLL has a minimum, and more epochs reach it)."""
    if "still_improving" not in runs or not len(runs):
        return 0, 0
    improving = runs[
        runs["still_improving"].fillna(False).astype(bool)
        & runs["setup"].isin(list(setups))
        & pd.Series(
            [not _weight_decay(c) for c in runs.get("_config", [None] * len(runs))],
            index=runs.index,
            dtype=bool,
        )
    ]
    tasks = improving["task"] if "task" in improving else pd.Series("", index=improving.index)
    perfect = 0
    for task, rows in improving.groupby(tasks.fillna("").astype(str)):
        column = all_right_metric(task)
        if column in rows:
            perfect += int((pd.to_numeric(rows[column], errors="coerce") == 1.0).sum())
    return perfect, len(improving)


def separated_advice(counts: tuple[int, int]) -> str:
    """The sentence that follows the setups held back as unconverged where some of their runs
    still improving at the cap get every validation example right; else "".

        >>> print(separated_advice((3, 3)))
         All 3 runs still improving at the cap classify every validation example correctly: on such a split the NLL falls toward 0 for as long as the weights grow, so a higher cap lowers it without settling it. Weight decay gives it a minimum: train every setup with it, into a new folder (the study's command with optimizer.weight_decay=0.0001 and another paths.output_dir).
    """  # noqa: E501
    perfect, improving = counts
    if not perfect:
        return ""
    which = f"{perfect} of the {improving} runs" if perfect < improving else f"All {improving} runs"
    others = (
        f" (a higher cap may settle the other {improving - perfect})" if perfect < improving else ""
    )
    return (
        f" {which} still improving at the cap classify every validation example correctly: on "
        "such a split the NLL falls toward 0 for as long as the weights grow, so a higher cap "
        f"lowers it without settling it{others}. Weight decay gives it a minimum: train every "
        "setup with it, into a new folder (the study's command with "
        "optimizer.weight_decay=0.0001 and another paths.output_dir)."
    )


def mostly_separated(counts: tuple[int, int]) -> bool:
    """Whether most runs still improving at the cap get their validation split right: a
    higher cap is then not the advice (it settles only the others).

    >>> mostly_separated((3, 3)), mostly_separated((49, 53)), mostly_separated((1, 2))
    (True, True, False)
    """
    return 2 * counts[0] > counts[1]
