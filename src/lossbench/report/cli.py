"""``lossbench-report``: compare the runs of a study and write its report.

    lossbench-report outputs/multiruns/2026-01-01_12-00-00-000000
    lossbench-report outputs/studies/compare_binary-full --metric test/auroc
    lossbench-report runs_a/ runs_b/ --out report/ --baseline multiclass="logits + nll"
    lossbench-report outputs/studies/compare_all-full --longer outputs/studies/compare_all-longer

Bad input (a missing path, no metrics.json, an unknown metric or baseline, a baseline without a
completed run, two baselines for one task or data set, ``--metric``, ``--out`` or ``--longer``
given twice with different values, an output folder holding a file of a report's name that no
report wrote, such as a report.md of one's own; a ``--longer`` path without runs, overlapping a
PATH, without a completed run, sharing no data set with the study, of another study, or whose
runs' budget is not longer; an ``--out`` that is the ``--longer`` folder or lies inside it; a
command line argparse cannot parse: no PATH, an unknown option, an option without its value,
:class:`_RefusingParser`) prints the reason and exits with status 2, without a usage text. A
``metrics.json`` that cannot be read is skipped with a warning that names it; the other runs
are reported.

Ctrl-C or SIGTERM ends the command with one line, exit status 130 or 143
(:mod:`lossbench.interrupts`). The report is written whole or not at all
(:class:`lossbench.report.build.ReportWriter`): stopped before it is complete, it leaves the
output folder as it was, an earlier report there included; a stop while the finished report
is moved into place waits for the moves (milliseconds), and the line says it was written.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from lossbench.errors import REFUSED_EXIT, format_warning, refusal_message
from lossbench.interrupts import STARTING_KEPT, report_kept, stopped, terminated_as_interrupt
from lossbench.report.errors import ReportError
from lossbench.report.find import find_records


def _baseline(text: str) -> tuple[str, str]:
    key, sep, setup = text.partition("=")
    if not sep or not key.strip() or not setup.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not TASK=SETUP; e.g. --baseline multiclass=logits_cross_entropy or "
            "--baseline wine='logits + nll' (TASK: binary, multiclass, multilabel, dense_binary, "
            "dense_multiclass or a data set)"
        )
    return key.strip(), setup.strip()


def baselines(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The ``--baseline`` pairs as ``{task or data set: setup}``. A data set's key and its
    task's may both be given: the data set's wins there, the task's holds for its other data
    sets. One key given the same setup twice (ignoring spaces) counts once:

        >>> baselines([("multiclass", "logits + nll"), ("iris", "logits_cross_entropy")])
        {'multiclass': 'logits + nll', 'iris': 'logits_cross_entropy'}
        >>> baselines([("iris", "logits+nll"), ("iris", "logits + nll")])
        {'iris': 'logits+nll'}

    Raises:
        ReportError: One key given two setups: a data set or task has one baseline.
    """
    chosen: dict[str, str] = {}
    for key, setup in pairs:
        earlier = chosen.setdefault(key, setup)
        if "".join(earlier.split()) != "".join(setup.split()):
            raise ReportError(two_baselines(key, earlier, setup))
    return chosen


def two_baselines(key: str, first: str, second: str) -> str:
    """The refusal of two ``--baseline`` setups for one task or data set."""
    return (
        f"--baseline {key}={first} and --baseline {key}={second} name two baselines for {key}: "
        f"each data set or task has one, the setup the others are compared with. Give one "
        f"--baseline {key}=SETUP ({first} or {second}). A data set's baseline and its task's "
        f"may both be given: --baseline TASK=SETUP --baseline DATA=OTHER compares DATA with "
        "OTHER and the task's other data sets with SETUP."
    )


#: The attribute of the parsed arguments that holds each single-valued option's values, in the
#: order given (:class:`_Once`).
_GIVEN = "given_once_options"


class _Once(argparse.Action):
    """Store an option that takes one value (``--metric``, ``--out``, ``--longer``) and record
    every value given, for :func:`refuse_repeated` (argparse's ``store`` keeps the last one
    silently)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        given: dict[str, list[object]] = getattr(namespace, _GIVEN, None) or {}
        given.setdefault(self.option_strings[0], []).append(values)
        setattr(namespace, _GIVEN, given)
        setattr(namespace, self.dest, values)


def refuse_repeated(args: argparse.Namespace) -> None:
    """Refuse a single-valued option given twice with different values: the command would use
    the last one without a word. The same value given twice counts once.

        >>> args = parser().parse_args(["runs", "--metric", "test/nll", "--metric", "val/nll"])
        >>> refuse_repeated(args)
        Traceback (most recent call last):
        ...
        lossbench.report.errors.ReportError: --metric given twice, 'test/nll' and 'val/nll': ...
        >>> refuse_repeated(parser().parse_args(["runs", "--out", "r", "--out", "r"]))

    Raises:
        ReportError: The option, both values, and the fix: give it once.
    """
    for option, values in (getattr(args, _GIVEN, None) or {}).items():
        distinct = list(dict.fromkeys(str(value) for value in values))
        if len(distinct) > 1:
            first, second = distinct[:2]
            raise ReportError(
                f"{option} given twice, {first!r} and {second!r}: it takes one value, and the "
                f"command would use the last one without a word. Give {option} once "
                f"({option} {first} or {option} {second})."
            )


#: What each option of lossbench-report takes, as a refusal of it given without a value says.
_EXAMPLES = {
    "--metric": "a metric's name, e.g. --metric test/auroc (default: test/nll)",
    "--out": "a folder, e.g. --out report/ (default: the common parent of the paths)",
    "--baseline": "TASK=SETUP, e.g. --baseline multiclass=logits_cross_entropy",
    "--longer": "the folder of the same study trained longer, e.g. --longer "
    "outputs/studies/compare_all-longer",
}
#: How argparse words an option it does not know (``error``'s message).
_UNRECOGNIZED = "unrecognized arguments: "
_REQUIRED = "the following arguments are required: "
_EXPECTED = ": expected one argument"


class _RefusingParser(argparse.ArgumentParser):
    """An argument parser whose errors are lossbench's refusals (:class:`ReportError`: one
    ``lossbench: refused: ...`` line, exit status 2, no usage text), an unknown option with the
    option it is closest to. ``--help`` prints argparse's help as ever.

        >>> parser().parse_args(["runs", "--metrik", "x"])
        Traceback (most recent call last):
        ...
        lossbench.report.errors.ReportError: --metrik is not an option of lossbench-report. \
Did you mean --metric? ...
    """

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise ReportError(self._refusal(message))

    def _options(self) -> list[str]:
        """The long options of the command, in the order of ``--help``."""
        return [
            option
            for action in self._actions
            for option in action.option_strings
            if option.startswith("--")
        ]

    def _refusal(self, message: str) -> str:
        """The refusal of argparse's ``message``: what was given, why, the fix."""
        options = ", ".join(self._options())
        listed = f"Its options: {options} (`{self.prog} --help` says what each takes)."
        if message.startswith(_REQUIRED):
            return (
                f"no PATH given: {self.prog} reads the runs (their metrics.json) under one or "
                f"more folders. Give them, e.g. {self.prog} outputs/multiruns/<date>_<time>. "
                f"{listed}"
            )
        if message.startswith(_UNRECOGNIZED):
            words = message.removeprefix(_UNRECOGNIZED).split()
            unknown = next((w for w in words if w.startswith("-")), words[0] if words else "")
            name = unknown.split("=", 1)[0]
            if not name.startswith("-"):
                return f"{unknown!r} is not an argument of {self.prog}. {listed}"
            close = difflib.get_close_matches(name, self._options(), n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            return f"{name} is not an option of {self.prog}.{hint} {listed}"
        if message.startswith("argument "):
            option, _, why = message.removeprefix("argument ").partition(": ")
            option = option.split("/")[-1]  # argparse names an option by all its strings
            if f": {why}" == _EXPECTED:
                takes = _EXAMPLES.get(option, "a value")
                return f"{option} given without a value: it takes {takes}."
            return f"{option} {why}"
        return f"{message}. {listed}"


def parser() -> argparse.ArgumentParser:
    p = _RefusingParser(
        prog="lossbench-report",
        description="Compare the runs of a study: tables with 95 % intervals, paired tests "
        "against a baseline, plots, and report.md / report.html that open with the verdict.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="run directories or folders above them (every metrics.json is read)",
    )
    p.add_argument(
        "--metric",
        default="test/nll",
        action=_Once,
        help="metric that ranks setups (default: test/nll; a name without a split, such as "
        "accuracy, means test/accuracy; direction is automatic)",
    )
    p.add_argument(
        "--out",
        default=None,
        action=_Once,
        metavar="DIR",
        help="output directory (default: the common parent of the paths)",
    )
    p.add_argument(
        "--baseline",
        action="append",
        type=_baseline,
        default=[],
        metavar="TASK=SETUP",
        help="baseline setup per task or data set; repeatable, one per key (a data set's "
        "wins over its task's; default: logits + bce_with_logits for "
        "binary/multilabel/dense_binary, logits + cross_entropy for multiclass/dense_multiclass)",
    )
    p.add_argument(
        "--longer",
        default=None,
        action=_Once,
        metavar="PATH",
        help="the same study trained with a longer budget (more early_stopping.patience "
        "and/or a higher trainer.max_epochs, e.g. study=longer): says per data set whether "
        "the verdict holds, is overturned, is not checked or there is no verdict (report's "
        "Budget check, budget_check.csv)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = format_warning  # type: ignore[assignment]
    writer = None
    try:
        with terminated_as_interrupt():  # SIGTERM ends the report like Ctrl-C
            args = parser().parse_args(argv)  # its errors are refusals (ReportError)
            refuse_repeated(args)
            chosen = baselines(args.baseline)
            find_records(args.paths)  # a wrong path is refused before the heavy imports
            from lossbench.report.build import ReportWriter

            writer = ReportWriter(args.paths, args.out, args.longer)
            report = writer.write(args.metric, chosen)
            from lossbench.report.document import verdict_table
            from lossbench.report.render import to_text

            print(to_text(verdict_table(report.study)))
            check = report.study.budget_check
            if check is not None:
                print(f"\n{to_text(check.table())}\n{check.summary()}")
            print(f"\nreport: {report.html}")
    except ReportError as error:
        print(refusal_message(error), file=sys.stderr)
        return REFUSED_EXIT
    except KeyboardInterrupt as interrupt:
        if writer is None:
            stopped(interrupt, STARTING_KEPT)
        html = None if writer.written is None else writer.written.html
        stopped(interrupt, report_kept(writer.out, html))
    return 0


if __name__ == "__main__":  # python -m lossbench.report.cli: the same command as lossbench-report
    from lossbench.commands import report

    sys.exit(report())
