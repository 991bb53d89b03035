"""Everything a report is made of, computed once and handed to the writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from lossbench.report.collect import DebugRun
from lossbench.report.compare import Verdict
from lossbench.report.overview import Family
from lossbench.report.selection import UntunedData

if TYPE_CHECKING:  # it reads a Study: imported for the annotation only
    from lossbench.report.budget_check import BudgetCheck


@dataclass
class Study:
    """The analysed study.

    Attributes:
        runs: One row per run (results.csv plus private ``_history`` / ``_reliability`` /
            ``_config`` columns); ``selected`` marks the runs of the learning rate chosen on
            validation, which every table, test and verdict uses.
        summary: One row per data set and setup (summary.csv).
        comparisons: Paired comparisons with each data set's baseline (comparisons.csv).
        verdicts: The best setup per data set and the setups tied with it.
        metric: The ranking metric (e.g. ``test/nll``); ``modes`` maps every metric to
            "min" or "max".
        headline: The metrics always shown: the ranking metric, accuracy, F1, AUROC, ECE.
        baselines: The baseline setup per data set (None: the study has none).
        figures: ``{data: [(title, png path)]}``.
        sources: The paths the runs were read from.
        out_dir: Where the report is written.
        yardstick: LogisticRegression on the same splits, per data set (summary columns);
            ``yardstick_runs`` one row per data set and distinct split (yardstick.csv);
            ``yardstick_not_fitted`` the splits it could not be fitted on, and why
            ``{data: [(split_seed, why)]}``, named in the report's text.
        overview: Mean ranks per task family with the Friedman test; ``overview_figures``
            the critical-difference diagrams ``{task: png path}``.
        debug_runs: The runs left out as debug runs (``trainer.fast_dev_run``,
            ``trainer.overfit_batches``): in none of the above, named in the report's text.
        unfinished: The job folders without a ``metrics.json`` (jobs still running, or
            stopped before they ended): in none of the above, named in the report's text.
        untuned: The data sets left out because none of their runs records the ranking
            metric's validation value, which chooses the learning rates (None: none were):
            in none of the above, named in the report's text.
        budget_check: The verdicts checked against the same study trained with a longer
            budget (``lossbench-report --longer``; None: not checked).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    verdicts: list[Verdict]
    metric: str
    modes: dict[str, str]
    headline: list[str]
    baselines: dict[str, str | None]
    sources: list[Path]
    out_dir: Path
    figures: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)
    yardstick: pd.DataFrame | None = None
    yardstick_runs: pd.DataFrame | None = None
    yardstick_not_fitted: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)
    overview: list[Family] = field(default_factory=list)
    overview_figures: dict[str, Path] = field(default_factory=dict)
    debug_runs: list[DebugRun] = field(default_factory=list)
    unfinished: list[Path] = field(default_factory=list)
    untuned: UntunedData | None = None
    budget_check: BudgetCheck | None = None

    @property
    def selected(self) -> pd.DataFrame:
        """The runs of each setup's chosen learning rate."""
        return self.runs[self.runs["selected"]]
