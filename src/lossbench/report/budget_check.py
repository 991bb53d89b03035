"""Whether a study's verdicts survive a longer training budget: the same study trained with
more ``early_stopping.patience`` and/or a higher ``trainer.max_epochs``, analysed with the
same metric and baselines.

    lossbench-train -m experiment=compare_all study=longer
    lossbench-report outputs/studies/compare_all-full --longer outputs/studies/compare_all-longer

or, from Python (what :class:`lossbench.report.build.ReportWriter` does with ``longer``)::

    >>> paths, longer = ["outputs/studies/compare_all-full"], "outputs/studies/compare_all-longer"
    >>> budget, longer_budget = check_longer(paths, longer)  # doctest: +SKIP
    >>> check = check_budget(study, longer_study, longer, budget, longer_budget)  # doctest: +SKIP
    >>> check.summary()  # doctest: +SKIP
    'budget check: 3 of 5 named verdicts hold, 1 overturned (wine), 1 not ...'

Per data set of the study, matched by its label in the report, with its best group (the
verdict's best and the setups identical to it):

- **holds**: both studies name a best and their best groups share a setup;
- **overturned**: this study names a best, and the longer study names a best group that shares
  no setup with it, or names none;
- **not checked**: the longer study lacks the data set;
- **no verdict**: this study names no best there (nothing to overturn); not counted among the
  verdicts that hold.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lossbench.record import load_record
from lossbench.report.collect import read_config
from lossbench.report.compare import Verdict
from lossbench.report.document import needs_higher_cap, no_best
from lossbench.report.errors import ReportError
from lossbench.report.find import find_records
from lossbench.report.labels import flatten
from lossbench.report.render import Block, Heading, Table, Text
from lossbench.report.study import Study

HOLDS, OVERTURNED, NOT_CHECKED = "holds", "overturned", "not checked"
#: This study names no best there: nothing to overturn, and no verdict that held either.
NO_VERDICT = "no verdict"
PATIENCE, MAX_EPOCHS, STUDY_NAME = "early_stopping.patience", "trainer.max_epochs", "study_name"
#: The columns of budget_check.csv.
COLUMNS = (
    "data",
    "best",
    "longer_best",
    "outcome",
    "why",
    "patience",
    "longer_patience",
    "max_epochs",
    "longer_max_epochs",
)
#: How to train the longer study, for the refusals.
TRAIN_LONGER = (
    "train the same study with a longer budget (lossbench-train -m experiment=<name> "
    "study=longer: patience 50, cap 2500) and pass its folder, e.g. --longer "
    "outputs/studies/compare_all-longer"
)


def _whole(value: Any) -> int | float | None:
    """A budget setting as a number (a whole one as an int), or None where it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class Budget:
    """The training budgets of a set of runs: the distinct values of ``early_stopping.patience``
    and ``trainer.max_epochs`` their configs record (empty: none records it). Where the runs
    differ, the smallest value counts.

        >>> Budget((20,), (300,)).text()
        'patience 20, cap 300'
        >>> Budget((20, 50), ()).text()
        'patience 20 (mixed: 20, 50; the smallest counts), cap unknown'
    """

    patience: tuple[int | float, ...] = ()
    max_epochs: tuple[int | float, ...] = ()
    #: The ``study_name`` values the runs record (a ``compare_*`` experiment's name).
    studies: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, configs: Iterable[Mapping[str, Any] | None]) -> Budget:
        """The budget of the runs whose flattened configs are ``configs`` (None: no config)."""
        patience: set[int | float] = set()
        cap: set[int | float] = set()
        studies: set[str] = set()
        for config in configs:
            if not isinstance(config, Mapping):
                continue
            for key, found in ((PATIENCE, patience), (MAX_EPOCHS, cap)):
                value = _whole(config.get(key))
                if value is not None:
                    found.add(value)
            if isinstance(config.get(STUDY_NAME), str):
                studies.add(config[STUDY_NAME])
        return cls(tuple(sorted(patience)), tuple(sorted(cap)), tuple(sorted(studies)))

    @property
    def smallest_patience(self) -> int | float | None:
        return self.patience[0] if self.patience else None

    @property
    def smallest_max_epochs(self) -> int | float | None:
        return self.max_epochs[0] if self.max_epochs else None

    @property
    def mixed(self) -> bool:
        """Whether the runs differ in patience or cap."""
        return len(self.patience) > 1 or len(self.max_epochs) > 1

    def text(self) -> str:
        return f"{_values('patience', self.patience)}, {_values('cap', self.max_epochs)}"


def _values(name: str, values: Sequence[int | float]) -> str:
    if not values:
        return f"{name} unknown"
    if len(values) == 1:
        return f"{name} {values[0]}"
    listed = ", ".join(str(v) for v in values)
    return f"{name} {values[0]} (mixed: {listed}; the smallest counts)"


def read_budget(paths: Sequence[str | os.PathLike]) -> Budget:
    """The budget of the runs under ``paths``, read from each run's ``config.yaml``.

    Raises:
        ReportError: A path does not exist or holds no run (:func:`find_records`).
    """
    configs = (read_config(record.parent) for record in find_records(paths))
    return Budget.of(flatten(config) if config is not None else None for config in configs)


def _overlap(path: Path, other: Path) -> str | None:
    """How ``path`` overlaps ``other`` (both resolved), or None."""
    if path == other:
        return "is"
    if path.is_relative_to(other):
        return "lies inside"
    if other.is_relative_to(path):
        return "contains"
    return None


def refuse_overlap(paths: Sequence[str | os.PathLike], longer: str | os.PathLike) -> None:
    """Refuse a ``--longer`` path that is one of ``paths``, lies inside one or contains one:
    its runs would be the study's own (or mixed with them), compared with themselves.

    Raises:
        ReportError: What was given, why it cannot be checked against, and what to pass.
    """
    resolved = Path(longer).expanduser().resolve()
    for raw in paths:
        how = _overlap(resolved, Path(raw).expanduser().resolve())
        if how is not None:
            raise ReportError(
                f"--longer {str(longer)!r} {how} the study's path {str(raw)!r}: the runs of "
                "the longer budget would be (or include) the runs of the study it checks, and "
                "a verdict checked against itself always holds. Pass a folder apart from the "
                f"study's paths: {TRAIN_LONGER}."
            )


def _none_completed(paths: Sequence[str | os.PathLike]) -> str | None:
    """How the runs under ``paths`` ended where none of them completed ("none of the 3 runs
    completed (3 refused; the first reason: ...)"); None where one did (read until the first
    completed record)."""
    ended = {"refused": 0, "failed": 0, "unreadable": 0}
    reason: str | None = None
    for path in find_records(paths):
        record, problem = load_record(path)
        if record is None:
            ended["unreadable"] += 1
            reason = reason or problem
            continue
        if record.get("status") == "completed":
            return None
        ended["refused" if record.get("refused") else "failed"] += 1
        reason = reason or record.get("error")
    n = sum(ended.values())
    counts = ", ".join(f"{count} {how}" for how, count in ended.items() if count)
    first = f"; the first reason: {reason}" if reason else ""
    return f"none of the {n} runs completed ({counts}{first})"


def refuse_none_completed(longer: str | os.PathLike) -> None:
    """Refuse a ``--longer`` folder whose run records hold no completed run (every run refused,
    a sweep of a head and loss that do not fit, or failed): it has no verdict to check against,
    and its refused runs record no budget to compare.

    Raises:
        ReportError: How many runs there are and how they ended, the first reason, and what
            to pass instead.
    """
    ended = _none_completed([longer])
    if ended is None:
        return
    raise ReportError(
        f"--longer {str(longer)!r} holds no completed run: {ended}, so the longer study names "
        "no verdict to check against. Fix what stopped them (a refused setup: the message in "
        "its metrics.json; a non-finite loss: a smaller optimizer.lr) and train them again, or "
        f"pass the folder of the same study trained longer whose runs completed: {TRAIN_LONGER}."
    )


def refuse_study_none_completed(paths: Sequence[str | os.PathLike]) -> None:
    """Refuse a study (``paths``) none of whose runs completed, as a report without
    ``--longer`` does, before its budget is compared with the longer study's (its refused
    runs record none).

    Raises:
        ReportError: How its runs ended, the first reason, and the fix.
    """
    ended = _none_completed(paths)
    if ended is None:
        return
    raise ReportError(
        f"{ended}, and a report compares completed runs. Fix what stopped them (a non-finite "
        "loss: a smaller optimizer.lr; a refused setup: the message in its metrics.json), "
        "train them again, then report."
    )


def refuse_out_in_longer(out_dir: str | os.PathLike | None, longer: str | os.PathLike) -> None:
    """Refuse an ``--out`` that is the ``--longer`` folder or lies inside it: the study's report
    would be written among the longer study's runs, where it reads as that study's report, and
    a later report of that folder replaces it. None (the default, the study's folder) and an
    empty ``--out`` (refused by :func:`lossbench.report.build.report_dir`) pass.

        >>> refuse_out_in_longer("report", "studies/compare_all-longer")
        >>> refuse_out_in_longer("studies/compare_all-longer/mine", "studies/compare_all-longer")
        Traceback (most recent call last):
        ...
        lossbench.report.errors.ReportError: --out 'studies/compare_all-longer/mine' lies inside ...

    Raises:
        ReportError: What was given, why the report cannot go there, and where it can.
    """
    if out_dir is None or not str(out_dir).strip():
        return
    resolved = Path(out_dir).expanduser().resolve()
    how = _overlap(resolved, Path(longer).expanduser().resolve())
    if how not in ("is", "lies inside"):
        return
    raise ReportError(
        f"--out {str(out_dir)!r} {how} the --longer folder {str(longer)!r}: the study's report "
        "would be written among the runs of the longer study, where it reads as that study's "
        "report, and a later lossbench-report of that folder replaces it. Pass another --out "
        "apart from the --longer folder (e.g. --out report/), or leave --out out to write it "
        "into the study's folder (the common parent of its paths)."
    )


def _not_longer(budget: Budget, longer: Budget) -> str | None:
    """Why ``longer`` is not a longer budget than ``budget``, or None where it is: neither
    its patience nor its cap is larger, or one is smaller (the smallest values compared; a
    setting no run of either side records is compared on the other one only)."""
    pairs = {
        "patience (early_stopping.patience)": (
            budget.smallest_patience,
            longer.smallest_patience,
        ),
        "cap (trainer.max_epochs)": (budget.smallest_max_epochs, longer.smallest_max_epochs),
    }
    known = {name: pair for name, pair in pairs.items() if None not in pair}
    if not known:
        return (
            "the runs' config.yaml files do not record both studies' early_stopping.patience "
            "or trainer.max_epochs, so the budgets cannot be compared"
        )
    smaller = [f"its {name} {b} is smaller than {a}" for name, (a, b) in known.items() if b < a]
    if smaller:
        return " and ".join(smaller)
    if not any(b > a for a, b in known.values()):
        return "neither its patience nor its cap is larger"
    return None


def refuse_shorter(budget: Budget, longer_budget: Budget, longer: str | os.PathLike) -> None:
    """Refuse a longer study whose budget is not longer than the study's (:func:`_not_longer`).

    Raises:
        ReportError: The two budgets, why the second is not longer, and what to pass.
    """
    why = _not_longer(budget, longer_budget)
    if why is None:
        return
    mixed = (
        " Where a study's runs differ in a setting, its smallest value is compared."
        if budget.mixed or longer_budget.mixed
        else ""
    )
    raise ReportError(
        f"--longer {str(longer)!r} is not a longer budget: its runs have "
        f"{longer_budget.text()}, the study's {budget.text()}; {why}.{mixed} The check needs "
        "the same study trained with more early_stopping.patience and/or a higher "
        f"trainer.max_epochs, and neither smaller: {TRAIN_LONGER}."
    )


def check_longer(
    paths: Sequence[str | os.PathLike], longer: str | os.PathLike
) -> tuple[Budget, Budget]:
    """Check ``--longer`` before anything is analysed or written, and return the budgets of
    the study under ``paths`` and of the longer study.

    Raises:
        ReportError: ``longer`` empty, missing or without runs, overlapping ``paths``
            (:func:`refuse_overlap`), either of them without a completed run
            (:func:`refuse_study_none_completed`, :func:`refuse_none_completed`),
            of another study (:func:`refuse_other_study`) or not a longer budget
            (:func:`refuse_shorter`).
    """
    if not str(longer).strip():
        raise ReportError(
            f"--longer {str(longer)!r} is empty (a shell variable that is not set?). Pass the "
            f"folder of the same study trained with a longer budget: {TRAIN_LONGER}."
        )
    try:
        find_records([longer])
    except ReportError as error:
        raise ReportError(f"--longer {str(longer)!r}: {error}") from None
    refuse_overlap(paths, longer)
    refuse_study_none_completed(paths)
    refuse_none_completed(longer)
    budget, longer_budget = read_budget(paths), read_budget([longer])
    refuse_other_study(budget, longer_budget, longer)
    refuse_shorter(budget, longer_budget, longer)
    return budget, longer_budget


def refuse_other_study(budget: Budget, longer_budget: Budget, longer: str | os.PathLike) -> None:
    """Refuse a longer study of another experiment (their runs record other ``study_name``
    values): the check compares a study with itself trained longer. Runs that record no study
    name (a sweep of one's own) are not compared.

    Raises:
        ReportError: Both studies' names and the command that trains this one longer.
    """
    ours, theirs = set(budget.studies), set(longer_budget.studies)
    if not ours or not theirs or ours & theirs:
        return
    names, first = ", ".join(sorted(ours)), sorted(ours)[0]
    several = "s" if len(theirs) > 1 else ""
    raise ReportError(
        f"--longer {str(longer)!r} holds runs of the stud{'ies' if several else 'y'} "
        f"{', '.join(sorted(theirs))}, but the study reported is {names}: the check compares "
        "a study with the same study trained with a longer budget. Train it with "
        f"lossbench-train -m experiment={first} study=longer (and the study's own overrides) "
        f"and pass its folder, <paths.output_dir>/studies/{first}-longer."
    )


@dataclass(frozen=True)
class Outcome:
    """One data set's row of the check (a row of budget_check.csv)."""

    data: str
    best: str
    longer_best: str
    outcome: str
    why: str
    patience: int | float | None = None
    longer_patience: int | float | None = None
    max_epochs: int | float | None = None
    longer_max_epochs: int | float | None = None
    #: Whether the longer study's runs of the data set were also still improving at its cap
    #: (a setup of its verdict unconverged, on a split not perfectly classified): a higher
    #: cap for this study should be above the longer study's (not a column of the CSV).
    longer_unconverged: bool = False


@dataclass
class BudgetCheck:
    """The verdicts of a study checked against ``longer``, the same study trained with a longer
    budget: one :class:`Outcome` per data set of the study."""

    longer: Path
    budget: Budget
    longer_budget: Budget
    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, outcome: str) -> list[str]:
        """The data sets with ``outcome``."""
        return [row.data for row in self.outcomes if row.outcome == outcome]

    def summary(self) -> str:
        """One line: how many of the named verdicts hold, which are overturned, which are not
        checked, and the data sets without a verdict.

        >>> check = BudgetCheck(Path("x"), Budget(), Budget(), [
        ...     Outcome("iris", "a", "a", HOLDS, ""), Outcome("wine", "a", "b", OVERTURNED, ""),
        ...     Outcome("digits", "a", "", NOT_CHECKED, ""),
        ...     Outcome("yeast", "none", "none", NO_VERDICT, "")])
        >>> check.summary()
        'budget check: 1 of 3 named verdicts holds, 1 overturned (wine), 1 not checked (digits); 1 data set without a verdict (yeast)'
        """  # noqa: E501
        named = [row for row in self.outcomes if row.outcome != NO_VERDICT]
        n, held = len(named), len(self.of(HOLDS))
        text = f"budget check: {held} of {n} named verdict{'' if n == 1 else 's'} "
        text += "holds" if held == 1 else "hold"
        for outcome in (OVERTURNED, NOT_CHECKED):
            names = self.of(outcome)
            if names:
                text += f", {len(names)} {outcome} ({', '.join(names)})"
        none = self.of(NO_VERDICT)
        if none:
            sets = "data set" if len(none) == 1 else "data sets"
            text += f"; {len(none)} {sets} without a verdict ({', '.join(none)})"
        return text

    def frame(self) -> pd.DataFrame:
        """budget_check.csv: one row per data set (:data:`COLUMNS`); a budget no run
        records is empty, the others stay whole numbers."""
        rows = [[getattr(row, column) for column in COLUMNS] for row in self.outcomes]
        return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)

    def table(self, why: bool = False) -> Table:
        """The outcomes as a table (the terminal's; with ``why``, the report's)."""
        header = ["data", "best", "longer best", "outcome", *(["why"] if why else [])]
        rows = [
            [r.data, r.best, r.longer_best or "–", r.outcome, *([r.why] if why else [])]
            for r in self.outcomes
        ]
        return Table(header, rows)

    def blocks(self) -> list[Block]:
        """The report's "Budget check" section."""
        return [
            Heading("Budget check"),
            Text(
                f"The verdicts checked against the same study trained with a longer budget, "
                f"`{self.longer}` ({self.longer_budget.text()}; this study: "
                f"{self.budget.text()}), analysed with the same metric and baselines. A "
                "verdict **holds** where both studies name a best and their best groups (the "
                "best and the setups identical to it) share a setup, none of this study's "
                "separated from the longer study's best; it is **overturned** where this "
                "study names a best and the longer study names another, or none, or separates "
                "a setup of this study's best group from its own (worse); "
                "it is **not checked** where the longer study lacks the data set; a data set "
                "where this study names no best has **no verdict** to check. File: "
                "`budget_check.csv`. "
                f"{self.summary()[:1].upper()}{self.summary()[1:]}."
            ),
            self.table(why=True),
        ]


def best_group(verdict: Verdict) -> list[str]:
    """The verdict's best and the setups identical to it (empty: no best)."""
    return [] if verdict.best is None else [verdict.best, *verdict.identical]


def _named(verdict: Verdict) -> str:
    return " = ".join(best_group(verdict)) if verdict.best is not None else "none"


def _why_none(verdict: Verdict) -> str:
    """Why ``verdict`` names no best, as the verdict table says it without its "none: ".

    >>> _why_none(Verdict("wine", "multiclass", "test/nll", None, beaten_by=[("b", 0.1)]))
    'unconverged b beats the best converged (raise trainer.max_epochs)'
    """
    text = no_best(verdict)
    return text.removeprefix("none: ")


def outcome(verdict: Verdict, longer: Verdict | None) -> tuple[str, str]:
    """The outcome of ``verdict`` against ``longer``, the longer study's verdict on the same
    data set (None: it lacks the data set), and why in a few words.

        >>> a = Verdict("wine", "multiclass", "test/nll", "a", identical=["b"])
        >>> outcome(a, Verdict("wine", "multiclass", "test/nll", "b"))
        ('holds', 'the longer study names b best, of the same group')
        >>> outcome(a, Verdict("wine", "multiclass", "test/nll", "c"))
        ('overturned', 'the longer study names c best')
        >>> outcome(a, Verdict("wine", "multiclass", "test/nll", "b", separated=["a"]))
        ('overturned', 'the longer study names b best and separates a from it (worse)')
        >>> outcome(a, None)
        ('not checked', 'the longer study lacks wine')
    """
    ours, theirs = best_group(verdict), best_group(longer) if longer is not None else []
    if not ours:
        here = f"this study names no best: {_why_none(verdict)}"
        if longer is None:
            return NO_VERDICT, f"{here}; the longer study lacks {verdict.data}"
        if theirs:
            return NO_VERDICT, f"{here}; the longer study names {_named(longer)}"
        return NO_VERDICT, f"{here}; the longer study names none either"
    if longer is None:
        return NOT_CHECKED, f"the longer study lacks {verdict.data}"
    if not theirs:
        return OVERTURNED, f"the longer study names no best: {_why_none(longer)}"
    shared = [setup for setup in ours if setup in theirs]
    if not shared:
        return OVERTURNED, f"the longer study names {_named(longer)} best"
    worse = [setup for setup in ours if setup in longer.separated]
    if worse:  # identical here, told apart there (BCE that saturates only when trained longer)
        return OVERTURNED, (
            f"the longer study names {_named(longer)} best and separates "
            f"{', '.join(worse)} from it (worse)"
        )
    if set(ours) == set(theirs):
        return HOLDS, "the longer study names the same best"
    return HOLDS, f"the longer study names {_named(longer)} best, of the same group"


def _smallest(runs: pd.DataFrame, data: str) -> Budget:
    return Budget.of(runs.loc[runs["data"] == data, "_config"])


def refuse_no_shared_data(
    data: Sequence[str], longer_data: Sequence[str], longer: str | os.PathLike
) -> None:
    """Refuse a longer study that shares no data set with the study (``data``, matched by name
    with ``longer_data``): every verdict would be "not checked", and the check would check
    nothing. Some data sets shared is allowed: the others are not checked.

        >>> refuse_no_shared_data(["iris", "wine"], ["wine"], "longer")
        >>> refuse_no_shared_data(["wine"], ["iris"], "longer")
        Traceback (most recent call last):
        ...
        lossbench.report.errors.ReportError: --longer 'longer' shares no data set with the ...

    Raises:
        ReportError: Both studies' data sets, and what to pass instead.
    """
    if not data or set(data) & set(longer_data):
        return
    theirs = ", ".join(sorted(longer_data)) or "none with a verdict"
    raise ReportError(
        f"--longer {str(longer)!r} shares no data set with the study: the study's data sets "
        f"are {', '.join(sorted(data))}, the --longer folder's {theirs}, so no verdict could "
        "be checked (each is checked against the same data set's in the longer study). Pass "
        f"the same study trained longer: {TRAIN_LONGER}."
    )


def check_budget(
    study: Study,
    longer_study: Study,
    longer: str | os.PathLike,
    budget: Budget,
    longer_budget: Budget,
) -> BudgetCheck:
    """Check each verdict of ``study`` against ``longer_study`` (the runs under ``longer``,
    analysed with the same metric and baselines); ``budget`` and ``longer_budget``: the two
    studies' budgets (:func:`check_longer`). The rows give each data set's own budgets (the
    smallest values of its runs).

    Raises:
        ReportError: The two studies share no data set (:func:`refuse_no_shared_data`).
    """
    theirs = {v.data: v for v in longer_study.verdicts}
    refuse_no_shared_data([v.data for v in study.verdicts], list(theirs), longer)
    rows = []
    for verdict in study.verdicts:
        other = theirs.get(verdict.data)
        result, why = outcome(verdict, other)
        ours_budget = _smallest(study.runs, verdict.data)
        their_budget = _smallest(longer_study.runs, verdict.data)
        rows.append(
            Outcome(
                data=verdict.data,
                best=_named(verdict),
                longer_best="" if other is None else _named(other),
                outcome=result,
                why=why,
                patience=ours_budget.smallest_patience,
                longer_patience=their_budget.smallest_patience,
                max_epochs=ours_budget.smallest_max_epochs,
                longer_max_epochs=their_budget.smallest_max_epochs,
                longer_unconverged=other is not None and needs_higher_cap(other),
            )
        )
    return BudgetCheck(Path(longer), budget, longer_budget, rows)
