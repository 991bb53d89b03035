"""Read a study and write its report: results.csv, summary.csv, comparisons.csv (and
yardstick.csv; budget_check.csv with ``longer``), plots/, report.md and report.html.

    >>> from lossbench.report import build_report
    >>> build_report(["outputs/multiruns/2026-01-01_12-00-00-000000"])  # doctest: +SKIP
    PosixPath('outputs/multiruns/2026-01-01_12-00-00-000000/report.html')

The report is written whole or not at all (:class:`ReportWriter`): every file is written into
a hidden folder in the output folder (``.report-XXXXXXXX.partial``), and only once all are
complete are they moved into place, with Ctrl-C and SIGTERM held meanwhile
(:func:`lossbench.interrupts.stops_held`). A report stopped or failing before that leaves the
output folder as it was: an earlier report there is not mixed with a part of the new one. Only
a process killed outright (SIGKILL, a power cut) can leave the hidden folder behind, or, in the
milliseconds the moves take, some files of each report; report.html, which holds the whole
report in one page, is moved last.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lossbench.interrupts import stops_held
from lossbench.metric_names import metric_mode
from lossbench.output_files import PARTIAL, cannot_write_below, file_above, recognised
from lossbench.report.budget_check import (
    Budget,
    check_budget,
    check_longer,
    refuse_out_in_longer,
)
from lossbench.report.collect import (
    metric_order,
    read_runs,
    results_table,
    warn_unfinished_jobs,
)
from lossbench.report.compare import (
    applicable_baselines,
    choose_baselines,
    compare_with_baselines,
    verdicts,
)
from lossbench.report.document import TITLE, build_document
from lossbench.report.errors import ReportError
from lossbench.report.find import find_records
from lossbench.report.render import to_html, to_markdown
from lossbench.report.selection import (
    UntunedDataWarning,
    add_convergence,
    add_protocol_columns,
    select_learning_rates,
    untuned_data,
)
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


class ValidationMetricWarning(UserWarning):
    """A ``--metric val/...`` ranks on the split that also chose each setup's learning rate:
    every figure is optimistic. Warned once per report, by the study's analysis (the longer
    study of a budget check, analysed with the same metric, does not repeat it)."""


def resolve_metric(metric: str, runs: pd.DataFrame) -> str:
    """``metric`` as a column of ``runs`` (a bare name such as ``nll`` means ``test/nll``).

    Raises:
        ReportError: No completed run has that metric; the message lists the ones there are.
    """
    done = runs[runs["status"] == "completed"]
    if done.empty:
        reasons = runs["error"].dropna() if "error" in runs else pd.Series(dtype=object)
        first = f" (the first reason: {reasons.iloc[0]})" if len(reasons) else ""
        raise ReportError(
            f"none of the {len(runs)} runs completed{first}, and a report compares completed "
            "runs. Fix what stopped them (a non-finite loss: a smaller optimizer.lr; a refused "
            "setup: the message in its metrics.json), train them again, then report."
        )
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
            ValidationMetricWarning,
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
    study = summarize_runs(paths, out_dir, metric, baselines)
    finish(study, out_dir / "plots")
    return study


def summarize_runs(
    paths: Sequence[str | os.PathLike],
    out_dir: Path,
    metric: str = "test/nll",
    baselines: Mapping[str, str] | None = None,
    only_applicable: bool = False,
) -> Study:
    """Load, check and analyse the runs under ``paths``: the study without its figures and
    yardstick (:func:`finish`). Nothing is written. ``only_applicable``: leave out the keys of
    ``baselines`` that name no task or data set of these runs (else refused).

    A data set whose learning rates are to be chosen but none of whose completed runs records
    the ranking metric's validation value (:func:`lossbench.report.selection.untuned_data`)
    is left out, with an
    :class:`~lossbench.report.selection.UntunedDataWarning` and a note in the text; a setup
    of another data set of which that holds is named in both.

    Raises:
        ReportError: Missing paths, no records (or debug runs only), an unknown metric or
            baseline, a metric whose validation value no data set records.
    """
    runs, debug_runs = read_runs(paths)  # the debug runs are left out (named in the text)
    unfinished = warn_unfinished_jobs(paths)  # no record: named in the text too
    metric = resolve_metric(metric, runs)
    if only_applicable:
        baselines = applicable_baselines(runs, baselines)
    chosen = choose_baselines(runs, baselines)
    untuned = untuned_data(runs, metric)  # no rate can be chosen there: left out, and said
    if untuned is not None:
        warnings.warn(untuned.text(), UntunedDataWarning, stacklevel=2)
        runs = runs[~runs["data"].isin(untuned.data)]
        chosen = {data: setup for data, setup in chosen.items() if data not in untuned.data}
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
    return Study(
        runs=runs,
        summary=summary,
        comparisons=compare_with_baselines(selected, headline, modes, chosen),
        verdicts=verdicts(selected, summary, metric, modes[metric], every_rate=runs),
        metric=metric,
        modes=modes,
        headline=headline,
        baselines=chosen,
        sources=[Path(p) for p in paths],
        out_dir=out_dir,
        debug_runs=debug_runs,
        unfinished=unfinished,
        untuned=untuned,
    )


def finish(study: Study, plots: Path) -> None:
    """Draw ``study``'s figures into the folder ``plots``, then its overview (mean ranks per
    task family, critical-difference diagrams) and fit the yardstick."""
    from lossbench.report.overview import cd_diagram, family_overview
    from lossbench.report.plots import make_plots  # matplotlib: only once the input is good
    from lossbench.report.yardstick import yardstick_runs, yardstick_summary

    selected, metric = study.selected, study.metric
    # The figures first: they are drawn in forked processes, which a process that already runs
    # the yardstick's worker pool (threads) cannot start safely.
    study.figures = make_plots(
        selected, study.summary, study.headline, plots, study.runs, study.verdicts
    )
    study.overview = family_overview(selected, metric, study.modes[metric])
    for family in study.overview:
        path = cd_diagram(family, plots / f"critical_difference_{family.task}.png")
        if path is not None:
            study.overview_figures[family.task] = path
    study.yardstick_runs, study.yardstick_not_fitted = yardstick_runs(selected)
    study.yardstick = yardstick_summary(study.yardstick_runs, study.headline)


def write_report(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    metric: str = "test/nll",
    baselines: Mapping[str, str] | None = None,
    longer: str | os.PathLike | None = None,
) -> Report:
    """Analyse the runs under ``paths`` and write every file of the report into ``out_dir``
    (default: the common parent of ``paths``), whole or not at all (:class:`ReportWriter`);
    with ``longer``, check its verdicts against that study. See :func:`build_report`."""
    return ReportWriter(paths, out_dir, longer).write(metric, baselines)


#: The files a report writes into its folder (yardstick.csv where it has a yardstick,
#: budget_check.csv where it checks a longer budget), and its folder of figures.
REPORT_FILES = (
    "results.csv",
    "summary.csv",
    "comparisons.csv",
    "yardstick.csv",
    "budget_check.csv",
    "report.md",
    "report.html",
)
PLOTS = "plots"


class ReportWriter:
    """Writes the report of the runs under ``paths`` into ``out_dir`` (default: their common
    parent) whole or not at all.

    :meth:`write` builds every file in a hidden folder inside ``out`` (the same file system,
    so that a file is moved by renaming it), removed if the report stops or fails on the way;
    once all are complete it moves them into place with Ctrl-C and SIGTERM held
    (:func:`lossbench.interrupts.stops_held`), then removes what an earlier report there wrote
    that this one has not (:func:`remove_stale_files`). Nothing else in ``out`` is touched:
    it may be the study's folder, with its runs. ``written``: the report, once in place.

    ``longer``: the same study trained with a longer budget; each verdict is checked against
    it (:mod:`lossbench.report.budget_check`, the report's "Budget check" and
    budget_check.csv).

    Raises:
        ReportError: A missing path or one without records, an ``out_dir`` that is a file or
            lies below one, a report's name in it that is taken by a folder (or ``plots``
            by a file), a file of a report's name that no report wrote
            (:func:`is_report_file`), a ``longer`` without runs, overlapping ``paths`` or
            with a budget that is not longer (:func:`check_longer`), or an ``out_dir`` that is
            the ``longer`` folder or lies inside it (:func:`refuse_out_in_longer`); checked
            before anything is written.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        out_dir: str | os.PathLike | None = None,
        longer: str | os.PathLike | None = None,
    ) -> None:
        find_records(paths)  # a missing path or no record: raise before anything is written
        self.budgets: tuple[Budget, Budget] | None = None
        if longer is not None:
            self.budgets = check_longer(paths, longer)
            refuse_out_in_longer(out_dir, longer)
        self.paths = list(paths)
        self.longer = longer
        self.out = report_dir(paths, out_dir)
        self.written: Report | None = None

    def write(self, metric: str = "test/nll", baselines: Mapping[str, str] | None = None) -> Report:
        """Analyse the runs, write the report and return it (see the class).

        Raises:
            ReportError: An unknown metric or baseline, debug runs only, a longer study that
                cannot be analysed with them (:func:`summarize_longer`) or that shares no data
                set with the study (:func:`check_budget`); nothing written.
        """
        study = summarize_runs(self.paths, self.out, metric, baselines)
        if self.longer is not None and self.budgets is not None:
            longer_study = summarize_longer(self.longer, self.out, study.metric, baselines)
            study.budget_check = check_budget(study, longer_study, self.longer, *self.budgets)
        made: list[Path] = []
        staging: Path | None = None
        try:
            with stops_held():  # the hidden folder exists, or not: no stop in between
                made = _make_dirs(self.out)
                staging = Path(tempfile.mkdtemp(prefix=".report-", suffix=PARTIAL, dir=self.out))
            finish(study, staging / PLOTS)
            _write_files(study, staging)
            with stops_held():
                self.written = _move_into_place(study, staging, self.out)
        except BaseException:
            if self.written is None:  # out as it was: no file of this report, no new folder
                if staging is not None:
                    shutil.rmtree(staging, ignore_errors=True)
                for folder in reversed(made):
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only while empty
            raise
        return self.written


def summarize_longer(
    longer: str | os.PathLike,
    out_dir: Path,
    metric: str,
    baselines: Mapping[str, str] | None = None,
) -> Study:
    """The study under ``longer`` analysed with the report's ``metric`` and ``baselines`` (the
    keys that name a task or data set of that study: one it lacks is not checked there). A
    ``val/`` metric's :class:`ValidationMetricWarning` is the study's, not repeated here.

    Raises:
        ReportError: That study cannot be analysed so (none of its runs completed, the metric
            is not recorded there, a baseline without a completed run); the message says that
            it is the longer study's.
    """
    try:
        with warnings.catch_warnings():  # the study's own analysis has warned of a val/ metric
            warnings.simplefilter("ignore", ValidationMetricWarning)
            return summarize_runs([longer], out_dir, metric, baselines, only_applicable=True)
    except ReportError as error:
        raise ReportError(
            f"--longer {str(longer)!r}: the longer study cannot be analysed with this "
            f"report's --metric and --baseline: {error}"
        ) from None


def report_dir(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None) -> Path:
    """The folder the report of ``paths`` goes to: ``out_dir``, or the common parent of
    ``paths``; refused (:class:`ReportError`) where a report cannot be written there."""
    if out_dir is not None and not str(out_dir).strip():
        raise ReportError(
            f"--out {str(out_dir)!r} is empty (a shell variable that is not set?): it would "
            "write the report into the current folder. Pass a directory, e.g. --out report/, "
            "or leave --out out for the common parent of the paths."
        )
    out = Path(out_dir) if out_dir is not None else default_out_dir(paths)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {str(out_dir)!r} is a file; pass a directory (it is created).")
    blocking = file_above(out)
    if blocking is not None:
        raise ReportError(
            f"--out {str(out_dir)!r} lies below {str(blocking)!r}, which is a file; pass a "
            "directory that can be created (e.g. --out report/)."
        )
    unwritable = cannot_write_below(out)
    if unwritable is not None:
        raise ReportError(
            f"--out {str(out)!r}: {unwritable}. Pass a directory you can write (it is "
            "created), e.g. --out report/."
        )
    taken = [out / name for name in REPORT_FILES if (out / name).is_dir()]
    if (out / PLOTS).exists() and not (out / PLOTS).is_dir():
        taken.append(out / PLOTS)
    if taken:
        raise ReportError(
            f"{taken[0]} is in the way of the report, which writes "
            f"{'a folder' if taken[0].name == PLOTS else 'a file'} of that name there; move it "
            "away, or pass another directory with --out (e.g. --out report/)."
        )
    _refuse_foreign_files(out, out_dir)
    return out


def _refuse_foreign_files(out: Path, out_dir: str | os.PathLike | None) -> None:
    """Refuse ``out`` where it holds a file of a report's name that no report wrote (a
    report.md of one's own): the report would replace it, or remove it as an earlier report's
    figure. A report's own earlier files are replaced without a word."""
    foreign = [path for path in report_files_in(out) if not recognised(is_report_file, path)]
    if not foreign:
        return
    where = (
        f"--out {str(out_dir)!r}"
        if out_dir is not None
        else f"the report's folder {str(out)!r} (the common parent of the paths; --out not given)"
    )
    named = ", ".join(str(path) for path in foreign)
    what = f"{named} is a file" if len(foreign) == 1 else f"{named} are files"
    raise ReportError(
        f"{what} that lossbench-report did not write, in {where}: writing the report there "
        f"would replace {'it' if len(foreign) == 1 else 'them'} (a report writes "
        f"{', '.join(REPORT_FILES)} and its figures in {PLOTS}/), and lossbench never "
        "overwrites a file it did not write. Pass another directory with --out (e.g. --out "
        f"report/), or move {'it' if len(foreign) == 1 else 'them'} away."
    )


def report_files_in(out: Path) -> list[Path]:
    """The files in ``out`` that writing a report there replaces or removes: those of a
    report's names (:data:`REPORT_FILES`) and the figures of a report's names in ``plots/``."""
    files = [out / name for name in REPORT_FILES if (out / name).is_file()]
    figures = sorted((out / PLOTS).glob("*.png")) if (out / PLOTS).is_dir() else []
    return files + [path for path in figures if path.is_file() and _report_figure(path.name)]


#: The columns each table of a report holds, whatever the study (the start of its header).
_TABLE_COLUMNS = {
    "results.csv": ("data", "task", "setup", "status", "run_dir"),
    "summary.csv": ("data", "task", "setup", "baseline", "rank"),
    "comparisons.csv": ("data", "task", "metric", "setup", "baseline", "verdict"),
    "yardstick.csv": ("data", "task", "split_seed", "seeds"),
    "budget_check.csv": ("data", "best", "longer_best", "outcome", "why"),
}
#: How a PNG file drawn by matplotlib begins: its signature, then (after the IHDR chunk)
#: matplotlib's ``Software`` text chunk.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MATPLOTLIB_PNG = b"tEXtSoftware\x00Matplotlib"


def is_report_file(path: Path) -> bool:
    """Whether ``path``, a file of a report's name (:func:`report_files_in`), is one that
    lossbench-report wrote, as every report so far writes it: report.md opens with the
    report's title, report.html has it as the page's title, each table's header has that
    table's columns (:data:`_TABLE_COLUMNS`), and a figure is a PNG file that matplotlib drew.
    An empty file holds nothing to lose.

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "report.md"
        >>> _ = path.write_text("# lossbench study report: verdict\\n")
        >>> is_report_file(path)
        True
        >>> _ = path.write_text("# My notes\\n")
        >>> is_report_file(path)
        False
    """
    if path.stat().st_size == 0:
        return True
    if path.suffix == ".png":
        with path.open("rb") as handle:
            head = handle.read(256)
        return head.startswith(_PNG_SIGNATURE) and _MATPLOTLIB_PNG in head
    if path.name in _TABLE_COLUMNS:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        return set(_TABLE_COLUMNS[path.name]) <= set(header)
    with path.open(encoding="utf-8") as handle:
        head = handle.read(512)
    if path.name == "report.md":
        return head.startswith(f"# {TITLE}")
    return f"<title>{TITLE}</title>" in head  # report.html


def _make_dirs(out: Path) -> list[Path]:
    """Create the folder ``out`` and those above it that are missing; return the ones made,
    outermost first."""
    missing = [folder for folder in [out, *out.parents] if not folder.exists()][::-1]
    out.mkdir(parents=True, exist_ok=True)
    return missing


def _write_files(study: Study, folder: Path) -> None:
    """Write the tables and the documents of ``study`` (its figures are in ``folder``/plots)."""
    results_table(study.runs).to_csv(folder / "results.csv", index=False)
    study.summary.to_csv(folder / "summary.csv", index=False)
    study.comparisons.to_csv(folder / "comparisons.csv", index=False)
    if study.yardstick_runs is not None and not study.yardstick_runs.empty:
        study.yardstick_runs.to_csv(folder / "yardstick.csv", index=False)
    if study.budget_check is not None:
        study.budget_check.frame().to_csv(folder / "budget_check.csv", index=False)
    blocks = build_document(study)
    (folder / "report.md").write_text(to_markdown(blocks, folder), encoding="utf-8")
    (folder / "report.html").write_text(to_html(blocks, TITLE), encoding="utf-8")


def _move_into_place(study: Study, staging: Path, out: Path) -> Report:
    """Move the files of the report built in ``staging`` into ``out`` (report.html last),
    remove an earlier report's files this one has not, then ``staging``; ``study``'s figures
    are then those in ``out``."""

    def placed(path: Path) -> Path:
        return out / Path(path).relative_to(staging)

    study.figures = {
        data: [(title, placed(path)) for title, path in figures]
        for data, figures in study.figures.items()
    }
    study.overview_figures = {task: placed(p) for task, p in study.overview_figures.items()}
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    files.sort(key=lambda path: path == staging / "report.html")  # the page last
    for path in files:
        target = placed(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    removed = remove_stale_files(study, out)
    if out / "budget_check.csv" in removed:  # the check of an earlier report's verdicts
        warnings.warn(
            f"removed the earlier report's budget_check.csv from {out}: it checked that "
            "report's verdicts, and this one checks none against a longer budget (pass "
            "--longer <the longer study's folder> to check them)",
            stacklevel=2,
        )
    shutil.rmtree(staging)
    return Report(
        study,
        out / "report.html",
        out / "report.md",
        out / "results.csv",
        out / "summary.csv",
        out / "comparisons.csv",
        out / PLOTS,
    )


def remove_stale_files(study: Study, out: Path) -> list[Path]:
    """Remove what an earlier report in ``out`` wrote that this one did not (another study
    reported into the same ``--out``): its figures in ``plots/`` (the PNG files of the
    report's own names), a ``yardstick.csv`` where this report has no yardstick and a
    ``budget_check.csv`` where it checks no longer budget; return them. Nothing else in
    ``out`` is touched.
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
    if study.budget_check is None:
        stale += [p for p in [out / "budget_check.csv"] if p.is_file()]
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
