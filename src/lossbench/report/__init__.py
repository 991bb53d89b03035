"""Study reports: compare the runs of any set of run directories.

    lossbench-report outputs/multiruns/<time> [--metric test/nll] [--out DIR]
                     [--baseline TASK=SETUP ...] [--longer PATH]

or, from Python (what the command line calls)::

    >>> from lossbench.report import build_report
    >>> build_report(["outputs/multiruns/2026-01-01_12-00-00-000000"])  # doctest: +SKIP

Modules, one job each: :mod:`.collect` (find and load records), :mod:`.labels` (setup labels),
:mod:`.stats` (intervals, paired tests, summary), :mod:`.compare` (baselines, comparisons,
verdicts), :mod:`.budget_check` (the verdicts against a longer budget), :mod:`.plots`,
:mod:`.document` (what the report says), :mod:`.render` (Markdown and HTML), :mod:`.build`
(the pipeline) and :mod:`.cli`.
"""

from __future__ import annotations

from typing import Any

from lossbench.report.errors import ReportError

__all__ = ["Report", "ReportError", "build_report", "write_report"]


def __getattr__(name: str) -> Any:
    # The pipeline imports pandas, scipy, matplotlib and the registries (torch); load it on
    # first use, so `lossbench-report --help` and a wrong path answer at once.
    if name in ("Report", "build_report", "write_report"):
        from lossbench.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'lossbench.report' has no attribute {name!r}")
