"""Everything a report is made of, computed once and handed to the writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lossbench.report.compare import Verdict


@dataclass
class Study:
    """The analysed study.

    Attributes:
        runs: One row per run (results.csv plus private ``_history`` / ``_reliability`` /
            ``_config`` columns).
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
