"""Read a study and write its report: results.csv, summary.csv, comparisons.csv, plots/,
report.md and report.html.

    >>> from lossbench.report import build_report
    >>> build_report(["outputs/multiruns/2026-01-01_12-00-00"])  # doctest: +SKIP
    PosixPath('outputs/multiruns/2026-01-01_12-00-00/report.html')
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lossbench.metric_names import metric_mode
from lossbench.report.collect import metric_order, read_runs, results_table
from lossbench.report.compare import choose_baselines, compare_with_baselines, verdicts
from lossbench.report.document import TITLE, build_document
from lossbench.report.errors import ReportError
from lossbench.report.find import find_records
from lossbench.report.render import to_html, to_markdown
from lossbench.report.selection import add_convergence, add_protocol_columns, select_learning_rates
from lossbench.report.stats import summarize
from lossbench.report.study import Study

#: Always shown, whatever ranks: accuracy, F1, AUROC, mean IoU (dense tasks) and calibration.
HEADLINE = ("accuracy", "f1_macro", "auroc", "miou", "ece", "saturated")


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` analysed and wrote."""

    study: Study
    html: Path
    markdown: Path
    results: Path
    summary: Path
    comparisons: Path
    plots: Path


def resolve_metric(metric: str, runs: pd.DataFrame) -> str:
    """``metric`` as a column of ``runs`` (a bare name such as ``nll`` means ``test/nll``).

    Raises:
        ReportError: No completed run has that metric; the message lists the ones there are.
    """
    done = runs[runs["status"] == "completed"]
    available = [m for m in metric_order(list(runs.columns)) if done[m].notna().any()]
    name = metric if "/" in metric else f"test/{metric}"
    if name not in available:
        listed = ", ".join(available) or "none (no run completed)"
        raise ReportError(
            f"--metric {metric!r}: no completed run records {name!r}. Available: {listed}."
        )
    if name.startswith("val/"):
        warnings.warn(
            f"--metric {name} ranks on the validation split, which also chose each setup's "
            "learning rate: the ranking is optimistic for every setup. Rank on the test split "
            f"(--metric test/{name.partition('/')[2]}) for a verdict the choice has not seen.",
            stacklevel=2,
        )
    return name


def headline_metrics(metric: str, columns: Sequence[str]) -> list[str]:
    """The ranking metric, then accuracy, F1, AUROC and ECE of the same stage (test/ for
    train/), where the runs have them."""
    stage = "val" if metric.startswith("val/") else "test"
    wanted = [metric, *(f"{stage}/{m}" for m in HEADLINE)]
    return [m for m in dict.fromkeys(wanted) if m in columns]


def default_out_dir(paths: Sequence[str | os.PathLike]) -> Path:
    """The deepest folder that holds every path (a metrics.json counts as its run folder)."""
    dirs = [Path(p).resolve() for p in paths]
    dirs = [p.parent if p.is_file() else p for p in dirs]
    return Path(os.path.commonpath(dirs))


def analyse(
    paths: Sequence[str | os.PathLike],
    out_dir: Path,
    metric: str = "test/nll",
    baselines: Mapping[str, str] | None = None,
) -> Study:
    """Load, check and analyse the runs under ``paths`` (plots are drawn into ``out_dir``).

    Raises:
        ReportError: Missing paths, no records (or debug runs only), an unknown metric or
            baseline.
    """
    runs, debug_runs = read_runs(paths)  # the debug runs are left out (named in the text)
    metric = resolve_metric(metric, runs)
    chosen = choose_baselines(runs, baselines)
    metrics = metric_order(list(runs.columns))
    modes = {m: metric_mode(m) for m in metrics}
    headline = headline_metrics(metric, metrics)
    runs = add_convergence(runs, metric, modes[metric])
    runs, tuning = select_learning_rates(runs, metric, modes[metric])
    selected = runs[runs["selected"]]  # the learning rate chosen on validation, per setup
    summary = summarize(selected, metrics, metric, modes[metric])
    summary = add_protocol_columns(summary, tuning, selected)
    summary.insert(3, "baseline", summary["setup"] == summary["data"].map(chosen))
    summary = summary.sort_values(  # equal ranks: the baseline first
        ["data", "rank", "baseline", "setup"], ascending=[True, True, False, True]
    ).reset_index(drop=True)
    study = Study(
        runs=runs,
        summary=summary,
        comparisons=compare_with_baselines(selected, headline, modes, chosen),
        verdicts=verdicts(selected, summary, metric, modes[metric]),
        metric=metric,
        modes=modes,
        headline=headline,
        baselines=chosen,
        sources=[Path(p) for p in paths],
        out_dir=out_dir,
        debug_runs=debug_runs,
    )
    from lossbench.report.overview import cd_diagram, family_overview
    from lossbench.report.plots import make_plots  # matplotlib: only once the input is good
    from lossbench.report.yardstick import yardstick_runs, yardstick_summary

    # The figures first: they are drawn in forked processes, which a process that already runs
    # the yardstick's worker pool (threads) cannot start safely.
    study.figures = make_plots(selected, summary, headline, out_dir / "plots")
    study.overview = family_overview(selected, metric, modes[metric])
    for family in study.overview:
        path = cd_diagram(family, out_dir / "plots" / f"critical_difference_{family.task}.png")
        if path is not None:
            study.overview_figures[family.task] = path
    study.yardstick_runs = yardstick_runs(selected)
    study.yardstick = yardstick_summary(study.yardstick_runs, headline)
    return study


def write_report(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    metric: str = "test/nll",
    baselines: Mapping[str, str] | None = None,
) -> Report:
    """Analyse the runs under ``paths`` and write every file of the report into ``out_dir``
    (default: the common parent of ``paths``). See :func:`build_report`."""
    find_records(paths)  # a missing path or no record: raise before anything is written
    from lossbench.output_files import file_above

    out = Path(out_dir) if out_dir is not None else default_out_dir(paths)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {str(out_dir)!r} is a file; pass a directory (it is created).")
    blocking = file_above(out)
    if blocking is not None:
        raise ReportError(
            f"--out {str(out_dir)!r} lies below {str(blocking)!r}, which is a file; pass a "
            "directory that can be created (e.g. --out report/)."
        )
    study = analyse(paths, out, metric, baselines)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / name for name in ("results.csv", "summary.csv", "comparisons.csv")}
    results_table(study.runs).to_csv(files["results.csv"], index=False)
    study.summary.to_csv(files["summary.csv"], index=False)
    study.comparisons.to_csv(files["comparisons.csv"], index=False)
    if study.yardstick_runs is not None and not study.yardstick_runs.empty:
        study.yardstick_runs.to_csv(out / "yardstick.csv", index=False)
    blocks = build_document(study)
    markdown = out / "report.md"
    markdown.write_text(to_markdown(blocks, out), encoding="utf-8")
    html = out / "report.html"
    html.write_text(to_html(blocks, TITLE), encoding="utf-8")
    remove_stale_files(study, out)
    return Report(
        study,
        html,
        markdown,
        files["results.csv"],
        files["summary.csv"],
        files["comparisons.csv"],
        out / "plots",
    )


def remove_stale_files(study: Study, out: Path) -> list[Path]:
    """Remove what an earlier report in ``out`` wrote that this one did not (another study
    reported into the same ``--out``): its figures in ``plots/`` (the PNG files of the
    report's own names) and a ``yardstick.csv`` where this report has no yardstick; return
    them. Nothing else in ``out`` is touched.
    """
    drawn = {Path(path) for figures in study.figures.values() for _, path in figures}
    drawn |= {Path(path) for path in study.overview_figures.values()}
    stale = [
        path
        for path in sorted((out / "plots").glob("*.png"))
        if path not in drawn and _report_figure(path.name)
    ]
    if study.yardstick_runs is None or study.yardstick_runs.empty:
        stale += [p for p in [out / "yardstick.csv"] if p.is_file()]
    for path in stale:
        path.unlink()
    return stale


#: The endings of the figures a report draws (:mod:`lossbench.report.plots`, the overview).
_FIGURE_NAMES = (
    "_metrics.png",
    "_learning_curves.png",
    "_learning_rate.png",
    "_reliability.png",
    "_stability.png",
)


def _report_figure(name: str) -> bool:
    """Whether ``name`` is a figure's name that a report draws."""
    return name.endswith(_FIGURE_NAMES) or name.startswith("critical_difference_")


def build_report(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    metric: str = "test/nll",
    baselines: Mapping[str, str] | None = None,
) -> Path:
    """Write the report of the runs under ``paths`` and return the path of report.html.

    Args:
        paths: Run directories, multirun or study folders, or parents of them; every
            ``metrics.json`` below is read.
        out_dir: Where results.csv, summary.csv, comparisons.csv, plots/, report.md and
            report.html go; default: the common parent of ``paths``.
        metric: The metric that ranks setups (``test/nll``; a bare ``nll`` means test/).
        baselines: ``{task or data set: setup}`` replacing the default baselines (logits +
            bce_with_logits for binary and multi-label, logits + cross_entropy for multi-class).

    Raises:
        ReportError: A path that does not exist or holds no record, an unknown metric (the
            message lists the available ones) or an unknown baseline.
    """
    return write_report(paths, out_dir, metric, baselines).html
