"""Load a classification table from your own CSV file, refusing bad input with the fix.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "flowers.csv"
    >>> _ = path.write_text("petal,sepal,species\\n1.4,5.1,setosa\\n4.7,7.0,versicolor\\n"
    ...                     "1.3,4.9,setosa\\n")
    >>> table = load_csv(path, label_columns=["species"], task="multiclass")
    >>> table.features.shape, table.labels.tolist(), table.classes
    ((3, 2), [0, 1, 0], ['setosa', 'versicolor'])

The file is UTF-8 text (a byte-order mark is allowed) with one header line, read with the
:mod:`csv` module rather than pandas so that every row must have one value per column and every
error can name its line. The delimiter is ``data.delimiter``, or by default the one of ``,``
``;`` tab ``|`` that :class:`csv.Sniffer` detects in the first lines (a comma when none fits, as
in a one-column file); :attr:`LoadedTable.delimiter` says which was used. Column names and cells
are stripped of surrounding whitespace; blank lines are skipped. A number is what Python's
``float()`` reads (``1``, ``-2.5``, ``1e3``, ``inf``). A cell is *missing* when it is empty, NaN
in any spelling, ``?`` (the marker of the UCI repository's files and of ARFF, as OpenML reads
them), or one of ``na``, ``n/a``, ``null``, ``<na>``, ``#n/a`` (any case); ``none`` is not a
missing marker, so it can be a class name. A missing value in a used column is an error
unless imputation is asked for (``allow_missing=True``, set by ``data.impute``: the value then
stays NaN and the preprocessing imputes it, :mod:`lossbench.data.preprocess`); an infinite value
is always an error.

Features are numbers or *categories*: a feature column whose present cells are all text (``red``,
``A14``) is categorical, and so is any column named in ``categorical_columns`` (numeric codes such
as a postcode). A categorical column is held as codes: ``categories[name][code]`` is the text,
NaN is missing; the preprocessing one-hot encodes it. A column that mixes numbers and text is
refused unless it is named in ``categorical_columns``; where the text looks like a missing-value
marker that is not one (``-``, ``.``, ``unknown``), the refusal says to empty those cells (and
does not suggest ``categorical_columns``, which would take every number for a category). Numbers
written with a comma (``0,5``, ``12,345``) are text to this reader: a column whose text is all
such numbers, alone or among plain numbers, is refused as that, with the rewrite that fixes it.

Labels, per task (the table in :mod:`lossbench.tasks` shows the shapes):

- ``binary``: exactly one label column holding 0 and 1 (``1.0`` counts as 1). Other values,
  text included, are refused with a suggested mapping; ``label_names`` is ``[column]``.
- ``multiclass``: exactly one label column holding integer class ids (``3``, ``7``, ``9``;
  ``7.0`` counts as 7, ``1.5`` is refused) *or* class names (``setosa``). Mixing numbers and text
  is refused. The sorted distinct values become ``classes`` and label ``i`` means
  ``classes[i]``: numbers sort numerically, names as strings. ``label_names`` holds them as text.
- ``multilabel``: one or more 0/1 label columns, one per label (a single column is allowed and
  gives an ``(N, 1)`` multi-hot target); ``label_names`` is the column names.

Each task needs at least two classes in the file (and, multi-label, a 0 and a 1 in every label
column). Positions in messages are given as the line of the file, counting the header as line 1,
and the data row, counting the first row after the header as data row 1.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from lossbench.data.table import DataError, LoadedTable, not_a_data_file
from lossbench.override_grammar import override_parser
from lossbench.predict_categories import INTEGER_CODE as _INTEGER
from lossbench.tasks import TABLE_TASKS

__all__ = [
    "check_delimiter",
    "detect_delimiter",
    "float32_merges",
    "load_csv",
    "parse_features",
    "quoted_names",
    "read_rows",
    "resolve_csv_path",
]

#: Cells read as missing (compared after stripping, ignoring case). ``?`` is the UCI
#: repository's marker (and ARFF's, so that a CSV export reads as the data set does on OpenML).
MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "null", "<na>", "#n/a", "?"})  # + any NaN
#: How the markers are listed in messages.
MISSING_SPELLED = "empty cells, NaN, NA, N/A, null, <NA>, #N/A and ?"
#: Text that is no missing marker but stands for one in a column of numbers (compared ignoring
#: case); so does any cell without a letter or a digit (``-``, ``.``, ``--``, ``*``).
_MISSING_LIKE = frozenset({"none", "unknown", "missing", "nil", "undefined", "n.a.", "n.a"})

#: Delimiters :func:`detect_delimiter` considers, in the order it prefers them on a tie.
DELIMITERS = (",", ";", "\t", "|")
#: How much of the file the delimiter is detected from.
_SNIFF_CHARS = 64 * 1024

_FLOAT32_MAX = float(np.finfo(np.float32).max)


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Source:
    """Where the cells came from, to name the file and the line in messages."""

    path: str
    lines: list[int]  # file line (1-based, header = 1) of each data row
    delimiter: str = ","

    def at(self, row: int) -> str:
        return f"line {self.lines[row]} (data row {row + 1})"

    def error(self, message: str) -> DataError:
        return DataError(f"{self.path}: {message}")


def resolve_csv_path(path: str | os.PathLike) -> Path:
    """``path`` (``data.path``) as an absolute path to a data file, or a :class:`DataError` that
    says what is there instead and how relative paths resolve.

        >>> resolve_csv_path("/no/such/file.csv")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lossbench.data.table.DataError: CSV file '/no/such/file.csv' ...
    """
    given = Path(path).expanduser()
    resolved = given.resolve()
    what = not_a_data_file(resolved)
    if what is not None:
        raise DataError(
            f"CSV file {str(resolved)!r} {what} (data.path={str(path)!r}). Relative paths "
            f"resolve against the directory the command was started from ({os.getcwd()}); "
            "give an absolute path or run from the directory that holds the file."
        )
    return resolved


def _is_blank(record: list[str]) -> bool:
    return len(record) <= 1 and not "".join(record).strip()


def detect_delimiter(text: str) -> str:
    """The delimiter of CSV ``text``: what :class:`csv.Sniffer` finds among :data:`DELIMITERS`
    in its first lines, or a comma when none fits (a one-column file).

        >>> detect_delimiter("a;b;y\\n0,5;1;0\\n")
        ';'
        >>> detect_delimiter("y\\n0\\n1\\n")
        ','
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:  # whole lines only
        sample = sample[: sample.rindex("\n") + 1]
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:  # no delimiter is consistent across the lines
        return ","


#: Spellings of the tab delimiter that a command line can pass.
_TAB_NAMES = ("\\t", "tab")


def check_delimiter(delimiter: str | None) -> str | None:
    """``data.delimiter`` if it is one character (``\\t`` and ``tab`` mean a tab), or None
    (detect it); anything else is a :class:`DataError`.

        >>> check_delimiter("tab")
        '\\t'
    """
    if isinstance(delimiter, str) and delimiter.lower() in _TAB_NAMES:
        return "\t"
    if delimiter is None or (isinstance(delimiter, str) and len(delimiter) == 1):
        return delimiter
    raise DataError(
        f"data.delimiter={delimiter!r} must be a single character, e.g. "
        f"{delimiter_override(';')} or {delimiter_override(chr(9))} for tabs (quoted for the "
        "shell, as written), or null (the default) to detect it from the file."
    )


def read_rows(
    path: Path, delimiter: str | None = None
) -> tuple[list[str], list[list[str]], _Source]:
    """Return the header (stripped), the data rows (as read) and their line numbers.

    ``delimiter``: None detects it (:func:`detect_delimiter`); the source records it.
    """
    name = str(path)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    delimiter = check_delimiter(delimiter)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as err:
        raise DataError(
            f"{name}: not UTF-8 text ({err}). Save the file as UTF-8 CSV (in a spreadsheet: "
            "'CSV UTF-8'; or convert it, e.g. iconv -f latin1 -t utf-8)."
        ) from None
    used = delimiter or detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=used, skipinitialspace=True)
    last = 0
    try:
        for record in reader:
            start, last = last + 1, reader.line_num
            if _is_blank(record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                continue
            if len(record) != len(header):
                raise DataError(
                    f"{name}: line {start} has {len(record)} fields but the header has "
                    f"{len(header)} columns (delimiter {used!r}). Give every row one value "
                    "per column, and quote values that contain the delimiter "
                    f'("1{used}5").'
                )
            rows.append(record)
            lines.append(start)
    except csv.Error as err:
        raise DataError(f"{name}: not readable as CSV at line {reader.line_num}: {err}.") from None
    source = _Source(name, lines, used)
    if header is None:
        raise source.error(
            "the file is empty. Write a header line of column names, then one line per example."
        )
    _check_header(header, source)
    if not rows:
        raise source.error(
            f"the file has a header ({quoted_names(header)}) but no data rows. Add "
            "one line per example below the header."
        )
    return header, rows, source


def quoted_names(names: Sequence[str], limit: int = 20) -> str:
    """``names`` quoted and joined for a message, the first ``limit`` of them.

    >>> quoted_names(["a", "b", "c"], limit=2)
    "'a', 'b', ... (3 in all)"
    """
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_header(header: list[str], source: _Source) -> None:
    unnamed = [i + 1 for i, name in enumerate(header) if not name]
    if unnamed:
        raise source.error(
            f"header column(s) {unnamed} have no name (header: {quoted_names(header)}). Name every "
            "column; a trailing comma in the header makes an unnamed column."
        )
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        seen.setdefault(name, []).append(i + 1)
    duplicated = {name: where for name, where in seen.items() if len(where) > 1}
    if duplicated:
        listed = "; ".join(f"{name!r} at columns {where}" for name, where in duplicated.items())
        raise source.error(
            f"duplicated column names in the header: {listed}. Column names must be unique "
            "so that data.label_columns and data.feature_columns name one column each; rename "
            "the duplicates."
        )


# ---------------------------------------------------------------------------- selection


def _as_names(columns: Sequence[str] | str, key: str) -> list[str]:
    names = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"{key} lists {quoted_names(repeated)} more than once ({key}={names}); "
            "list each column once."
        )
    return names


def _check_label_count(task: str, labels: list[str]) -> None:
    if task in ("binary", "multiclass") and len(labels) != 1:
        raise DataError(
            f"task {task!r} takes exactly one label column, but data.label_columns={labels} "
            f"lists {len(labels)}. Name the one column that holds the class"
            + (", or use data.task=multilabel for several 0/1 label columns." if labels else ".")
        )
    if task == "multilabel" and not labels:
        raise DataError(
            "data.label_columns is empty: task 'multilabel' needs one 0/1 column "
            "per label, e.g. data.label_columns=[cat,dog]."
        )


def delimiter_override(delimiter: str) -> str:
    """The command-line override that sets ``delimiter``, quoted for a shell (``;`` and ``|``
    end or pipe a shell command; Hydra needs the value itself quoted too).

        >>> print(delimiter_override(";"), delimiter_override(chr(9)))
        "data.delimiter=';'" "data.delimiter='\\t'"
    """
    shown = "\\t" if delimiter == "\t" else delimiter
    return f"\"data.delimiter='{shown}'\""


def _hydra_value(name: str) -> object:
    """What Hydra makes of ``name`` written unquoted in a list override (``key=[name]``): a
    bool or a number where its grammar reads one (``true``, ``1e3``, ``1_000``), else the text.

        >>> _hydra_value("TRUE"), _hydra_value("1e3"), _hydra_value("007"), _hydra_value("y")
        (True, 1000.0, '007', 'y')
    """
    try:
        (value,) = override_parser().parse_override(f"key=[{name}]").value()
    except Exception:  # not one value in Hydra's grammar (a comma, a bracket): stays text
        return name
    return value


def _quoted_override(key: str, names: Sequence[str]) -> str:
    """``key=[...]`` with every name quoted for Hydra, and the whole for a shell.

    >>> print(_quoted_override("data.feature_columns", ["a", "1e3"]))
    'data.feature_columns=["a","1e3"]'
    """
    return "'" + key + "=[" + ",".join(f'"{name}"' for name in names) + "]'"


def _header_name(name: str, header: list[str]) -> str:
    """The header's name for a listed column ``name``: ``name`` itself where the header has it,
    else the header's first name that Hydra reads unquoted as the bool or the number that
    ``name`` is the text of (``1e3`` for '1000.0'), else ``name``.

        >>> _header_name("1000.0", ["true", "1e3", "y"]), _header_name("True", ["true", "y"])
        ('1e3', 'true')
        >>> _header_name("y", ["true", "y"]), _header_name("z", ["true", "y"])
        ('y', 'z')
    """
    if name in header:
        return name
    for column in header:
        value = _hydra_value(column)
        if not isinstance(value, str) and str(value) == name:
            return column
    return name


def _read_by_hydra(name: str, wanted: list[str], header: list[str], key: str) -> str | None:
    """The hint for a column ``name`` that is not in the header because Hydra read what was
    typed as a bool or a number, which a list of names holds as its text (``true`` arrives
    as 'True', ``1e3`` as '1000.0'); None where ``name`` is not such a text.

        >>> print(_read_by_hydra("1000.0", ["1000.0"], ["1e3", "y"], "k").split(": ")[0])
         The header has '1e3', which Hydra reads unquoted as a number (1000.0)
    """
    value = _hydra_value(name)
    if isinstance(value, str) or str(value) != name:  # not what a bool or a number arrives as
        return None
    meant = [h for h in header if not isinstance(v := _hydra_value(h), str) and str(v) == name]
    kind = "a boolean" if isinstance(value, bool) else "a number"
    quoting = "(the single quotes keep the double quotes from the shell)"
    if meant:
        fixed = _quoted_override(key, [_header_name(n, header) for n in wanted])
        which = " or ".join(repr(h) for h in meant)
        return (
            f" The header has {which}, which Hydra reads unquoted as {kind} ({name}): the "
            f"column's name arrived as {name!r}. Quote column names that Hydra would read as a "
            f"number, true or false: {fixed} {quoting}."
        )
    if isinstance(value, bool):
        typed, example = "true or false (any case)", name.lower()
    elif isinstance(value, float):
        typed, example = "number (1e3, 1.50, inf)", "1e3"
    else:  # an integer arrives as it is typed, but for signs, zeros and underscores
        return None
    return (
        f" Hydra reads an unquoted {typed} as {kind}, which arrives here as {name!r}: if the "
        "column's name in the file is written so, quote it as the file writes it, e.g. "
        f"{_quoted_override(key, [example])} {quoting}."
    )


def _check_present(wanted: list[str], header: list[str], key: str, source: _Source) -> None:
    for name in wanted:
        if name in header:
            continue
        same_case = [h for h in header if h.lower() == name.lower()]
        close = same_case or difflib.get_close_matches(name, header, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        hydra = _read_by_hydra(name, wanted, header, key)
        if hydra:
            hint = hydra
        delimiter = next((d for d in (";", "\t", "|") if len(header) == 1 and d in header[0]), None)
        if delimiter:
            hint += (
                f" The header is one column that contains {delimiter!r}: the file seems to "
                f"be separated by {delimiter!r}, not {source.delimiter!r}; set "
                f"{delimiter_override(delimiter)} (quoted for the shell, as written)."
            )
        raise source.error(
            f"column {name!r} of {key} is not in the header.{hint} "
            f"Available columns: {quoted_names(header)}."
        )


def _select(
    header: list[str], label_columns: list[str], feature_columns: list[str] | None, source: _Source
) -> list[str]:
    _check_present(label_columns, header, "data.label_columns", source)
    if feature_columns is None:
        features = [name for name in header if name not in label_columns]
        if not features:
            raise source.error(
                f"no feature columns: every column ({quoted_names(header)}) is a label "
                "column. Add feature columns to the file."
            )
        return features
    _check_present(feature_columns, header, "data.feature_columns", source)
    both = [name for name in feature_columns if name in label_columns]
    if both:
        raise source.error(
            f"column(s) {quoted_names(both)} are listed both in data.label_columns and "
            "data.feature_columns; a model must not see its own target. Remove them from "
            "data.feature_columns."
        )
    if not feature_columns:
        raise source.error(
            "data.feature_columns is empty. List at least one feature column, "
            "or set data.feature_columns=null to use every non-label column."
        )
    return feature_columns


# ------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class _Parsed:
    cells: np.ndarray  # object array of the cells, stripped when any is not a number
    values: np.ndarray  # float64, NaN where missing or not a number
    missing: np.ndarray  # bool
    text: np.ndarray  # bool: present but not a number

    def cell(self, row: int) -> str:
        return str(self.cells[row]).strip()


def _parse(cells: Sequence[str]) -> _Parsed:
    """Read one column: a number is what ``float()`` reads; NaN in any spelling is missing."""
    try:  # fast path, a column of numbers (float() ignores surrounding spaces)
        values = np.array(cells, dtype=np.float64)
        text = np.zeros(len(values), dtype=bool)
        kept = np.array(cells, dtype=object)
    except ValueError:
        kept = np.array([cell.strip() for cell in cells], dtype=object)
        values = np.full(len(kept), np.nan)
        text = np.zeros(len(kept), dtype=bool)
        for i, cell in enumerate(kept):
            if cell.lower() not in MISSING_MARKERS:
                try:
                    values[i] = float(cell)
                except ValueError:
                    text[i] = True
    return _Parsed(kept, values, np.isnan(values) & ~text, text)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _distinct(cells: np.ndarray) -> list[str]:
    """The distinct stripped cells, in order of appearance."""
    return list(dict.fromkeys(str(cell).strip() for cell in cells))


#: The other fix of a file that a checkpoint cannot take: training settings (data.impute,
#: data.categorical_columns) belong to the run, and lossbench-predict does not use them.
_RETRAIN = "and predict with the new run's checkpoint"


def _check_missing(
    parsed: _Parsed, what: str, source: _Source, *, predicting: bool = False
) -> None:
    if not parsed.missing.any():
        return
    row = _first(parsed.missing)
    found = (
        f"{what} has a missing value ({parsed.cell(row)!r}) at {source.at(row)}; "
        f"{int(parsed.missing.sum())} of {len(parsed.cells)} rows are missing."
    )
    if predicting:  # a feature column of a model trained without data.impute
        raise source.error(
            f"{found} The model was trained without data.impute, so it has no value to fill "
            "in: fill in or drop those rows in the file, or retrain with data.impute=median "
            "(numbers: median, categories: most frequent) or data.impute=most_frequent "
            f"{_RETRAIN} (data.impute given to lossbench-predict is not used: the checkpoint "
            "holds the preprocessing)."
        )
    raise source.error(
        f"{found} lossbench does not impute unless asked: fill in or drop those rows"
        + (
            ", leave the column out of data.feature_columns, or impute from the training "
            "split with data.impute=median (numbers: median, categories: most frequent) or "
            "data.impute=most_frequent."
            if "feature" in what
            else " (labels are never imputed)."
        )
    )


def _check_finite(parsed: _Parsed, what: str, source: _Source) -> None:
    # Missing values (NaN) are checked apart, by _check_missing.
    infinite = ~parsed.missing & (
        ~np.isfinite(parsed.values) | (np.abs(parsed.values) > _FLOAT32_MAX)
    )
    if infinite.any():
        row = _first(infinite)
        kind = (
            "an infinite value"
            if not np.isfinite(parsed.values[row])
            else "a value beyond float32's range"
        )
        raise source.error(
            f"{what} holds {kind} ({parsed.cell(row)!r}) at {source.at(row)}; "
            f"{int(infinite.sum())} of {len(parsed.cells)} rows are infinite or beyond "
            "float32's range (about 3.4e38). Replace or drop those rows."
        )


def _categorical(parsed: _Parsed) -> tuple[np.ndarray, list[str]]:
    """Codes (float, NaN where missing) and the sorted distinct texts of a categorical column."""
    present = ~parsed.missing
    texts = np.array([str(cell).strip() for cell in parsed.cells], dtype=object)
    categories, codes = np.unique(texts[present].astype(str), return_inverse=True)
    out = np.full(len(texts), np.nan)
    out[present] = codes
    return out, [str(c) for c in categories]


def _missing_like(texts: Sequence[str]) -> bool:
    """Whether every one of ``texts`` stands for a missing value without being a marker.

    >>> _missing_like(["-", "Unknown"]), _missing_like(["-", "abc"])
    (True, False)
    """
    return all(t.lower() in _MISSING_LIKE or not any(c.isalnum() for c in t) for t in texts)


def _refuse_text(name: str, parsed: _Parsed, source: _Source, *, predicting: bool) -> NoReturn:
    """Refuse text in a feature column of numbers."""
    _refuse_written_numbers(name, parsed, source, predicting=predicting)
    text, numbers = _first(parsed.text), ~parsed.missing & ~parsed.text
    found = f"{parsed.cell(text)!r} at {source.at(text)}"
    what = f"holds text only ({found})"
    if numbers.any():  # a typo among numbers, or codes mixed with names
        number = _first(numbers)
        what = f"mixes numbers and text: {parsed.cell(number)!r} at {source.at(number)} and {found}"
    texts = _distinct(parsed.cells[parsed.text])
    n_text = int(parsed.text.sum())
    values = f"({n_text} text row{'' if n_text == 1 else 's'}; values: {quoted_names(texts, 5)})"
    if numbers.any() and _missing_like(texts):  # a missing-value marker lossbench does not know
        then = (
            "filled in where the model was trained with data.impute, else refused), or fix or "
            "drop those rows"
            if predicting
            else "refused, or imputed from the training split with data.impute=median), fix or "
            "drop those rows, or leave the column out with data.feature_columns=[...]"
        )
        raise source.error(
            f"feature column {name!r} {what} {values}: the text looks like a missing-value "
            f"marker, but lossbench reads only {MISSING_SPELLED} as missing, and a column of "
            f"numbers holds no text. Replace those cells with empty cells in the file (missing: "
            f"{then}."
        )
    if predicting:  # a column the model was trained on as numbers
        raise source.error(
            f"feature column {name!r} {what} {values}, but the model was trained on it as "
            "numbers: correct or drop those rows in the file, or, where the column's values "
            "are codes rather than quantities (ids, postcodes), retrain with "
            f"data.categorical_columns=[{name}] (every value a category, one-hot encoded) "
            f"{_RETRAIN}."
        )
    raise source.error(
        f"feature column {name!r} {what} {values}. A feature column holds numbers, or text only "
        "(a categorical column, one-hot encoded): fix those cells, "
        + (
            f"list the column in data.categorical_columns=[{name}] if its numbers are codes "
            "(ids, postcodes), not quantities (every value becomes a category of its own), "
            if numbers.any()
            else ""
        )
        + "or leave it out with data.feature_columns=[...]."
    )


#: Numbers written with a decimal comma (``0,5``) or with thousands separators (``12,345``,
#: ``1,234.5``): text to a CSV reader, numbers to whoever wrote the file.
_COMMA_NUMBER = re.compile(r"[+-]?(\d+,\d+|\d{1,3}(,\d{3})+(\.\d+)?)")
#: Numbers written with a percent sign or a currency symbol (``45.3%``, ``$3.20``, ``-€5``,
#: ``12 %``): text to a CSV reader too. Letters are left alone: ``A14`` is a category's code.
_SYMBOL_NUMBER = re.compile(
    r"(?=.*[%$€£¥])[+-]?\s*[$€£¥]?\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*[%$€£¥]?"
)


@dataclass(frozen=True)
class _WrittenNumbers:
    """A way of writing numbers that a CSV reader takes for text: how to recognise a cell,
    what the refusal calls it, what lossbench reads instead, and how to rewrite the file."""

    pattern: re.Pattern[str]
    written: str  # "with a comma"
    reads: str  # what lossbench reads instead
    no_setting: str  # "decimal commas or thousands separators"

    def rewrite(self, source: _Source, name: str) -> str:
        if self.pattern is _COMMA_NUMBER:
            sep = "\\t" if source.delimiter == "\t" else source.delimiter
            return (
                f"pandas.read_csv(path, sep='{sep}', decimal=',') (or thousands=','), then "
                "to_csv(new_path, index=False)"
            )
        return (
            f"in pandas, df[{name!r}] = df[{name!r}].str.replace(r'[%$€£¥\\s]', '', "
            "regex=True).astype(float), then df.to_csv(new_path, index=False)"
        )


_WRITTEN_NUMBERS = (
    _WrittenNumbers(
        _COMMA_NUMBER,
        "with a comma",
        "numbers with a '.' decimal point and no thousands separators",
        "decimal commas or thousands separators",
    ),
    _WrittenNumbers(
        _SYMBOL_NUMBER,
        "with a percent sign or a currency symbol",
        "plain numbers, without units or symbols",
        "units, percent signs or currency symbols",
    ),
)


def _refuse_written_numbers(
    name: str, parsed: _Parsed, source: _Source, *, predicting: bool = False
) -> None:
    """Refuse a feature column whose every text cell is a number written with a comma (``0,5``,
    ``12,345``), or with a percent sign or currency symbol (``45.3%``, ``$3.20``), alone or
    among plain numbers (``3``, which parse). Alone, the values would be taken for categories,
    each of its own, and the column's meaning lost (a model at chance where the column decides
    the label); among numbers, the refusal of text in a column of numbers would suggest
    categories and miss the cause. Training and lossbench-predict share it; ``predicting``
    names the fix a prediction has.

        >>> lines = _Source("f.csv", [2, 3, 4])
        >>> _refuse_written_numbers("x", _parse(["0,24", "3", "10,75"]), lines)
        Traceback (most recent call last):
        ...
        lossbench.data.table.DataError: f.csv: feature column 'x' holds numbers written ...
        >>> _refuse_written_numbers("r", _parse(["45.3%", "12 %"]), _Source("f.csv", [2, 3]))
        Traceback (most recent call last):
        ...
        lossbench.data.table.DataError: f.csv: feature column 'r' holds numbers written with a \
percent sign or a currency symbol ('45.3%' at line 2 (data row 1)): lossbench reads plain \
numbers, without units or symbols, and would take each value for a category of its own. ...
        >>> _refuse_written_numbers("c", _parse(["A14", "A12"]), _Source("f.csv", [2, 3])) is None
        True
    """
    texts = [str(cell).strip() for cell in parsed.cells[parsed.text]]
    if not texts:
        return
    kind = next((k for k in _WRITTEN_NUMBERS if all(k.pattern.fullmatch(t) for t in texts)), None)
    if kind is None:
        return
    row, numbers = _first(parsed.text), ~parsed.missing & ~parsed.text
    found = f"{parsed.cell(row)!r} at {source.at(row)}"
    if numbers.any():
        number = _first(numbers)
        found += (
            f"; {len(texts)} of {len(parsed.cells)} rows, among plain numbers such as "
            f"{parsed.cell(number)!r} at {source.at(number)}"
        )
    rewrite = kind.rewrite(source, name)
    start = (
        f"feature column {name!r} holds numbers written {kind.written} ({found}): lossbench "
        f"reads {kind.reads}"
    )
    if predicting or numbers.any():  # quantities, not codes to list as categories
        why, then = (
            ("and the model was trained on this column as numbers", "predict from")
            if predicting
            else ("so it reads those cells as text among the column's numbers", "train on")
        )
        raise source.error(
            f"{start}, {why}. lossbench has no setting for {kind.no_setting}: rewrite the "
            f"file with plain numbers, e.g. {rewrite}, and {then} the new file."
        )
    raise source.error(
        f"{start}, and would take each value for a category of its own. Rewrite the file with "
        f"plain numbers (e.g. {rewrite}), or list the column in "
        f"data.categorical_columns=[{name}] if its values are codes, not quantities."
    )


def parse_features(
    columns: list[str],
    cells: dict[str, Sequence[str]],
    source: _Source,
    *,
    categorical: Sequence[str] = (),
    allow_missing: bool = False,
    detect_categorical: bool = False,
    predicting: bool = False,
    coarse: dict[str, str] | None = None,
) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The feature matrix (categorical columns as codes) and the categories of each categorical
    column. Columns of text only are categorical when ``detect_categorical`` is set.
    ``predicting``: the columns are those of a trained model (lossbench-predict), and refusals
    name the fixes a prediction has, not training settings. A column whose distinct numbers
    float32 cannot keep apart (:func:`float32_merges`) is warned of at once, or, with
    ``coarse``, put there (``{column: the warning}``) for the caller to warn of when its run
    starts."""
    out = np.empty((len(source.lines), len(columns)), dtype=np.float32)
    categories: dict[str, list[str]] = {}
    for j, name in enumerate(columns):
        parsed = _parse(cells[name])
        what = f"feature column {name!r}"
        texts_only = parsed.text.any() and not (~parsed.missing & ~parsed.text).any()
        if detect_categorical and texts_only and name not in categorical:
            _refuse_written_numbers(name, parsed, source)
        if name in categorical or (detect_categorical and texts_only):
            if not allow_missing:
                _check_missing(parsed, what, source, predicting=predicting)
            out[:, j], categories[name] = _categorical(parsed)
            continue
        if parsed.text.any():
            _refuse_text(name, parsed, source, predicting=predicting)
        if not allow_missing:
            _check_missing(parsed, what, source, predicting=predicting)
        _check_finite(parsed, f"feature column {name!r}", source)
        out[:, j] = parsed.values
        merged = float32_merges(name, parsed, out[:, j], source)
        if merged is not None and coarse is not None:
            coarse[name] = merged
        elif merged is not None:
            warnings.warn(merged, Float32PrecisionWarning, stacklevel=2)
    return out, categories


class Float32PrecisionWarning(UserWarning):
    """Distinct values of a feature column become equal as float32, lossbench's feature type."""


def float32_merges(name: str, parsed: _Parsed, stored: np.ndarray, source: _Source) -> str | None:
    """The warning (:class:`Float32PrecisionWarning`) where distinct numbers of column ``name``
    are one number as float32 (``stored``), else None: float32 keeps about 7 significant
    digits, so a column of large values that differ in later digits (Unix times a minute
    apart: 1700000000, 1700000060) loses what tells its rows apart before anything is
    standardised.

        >>> cells = [str(1_700_000_000 + 60 * i) for i in range(4)]
        >>> parsed = _parse(cells)
        >>> print(float32_merges("t", parsed, parsed.values.astype(np.float32),
        ...                      _Source("f.csv", [2, 3, 4, 5])))  # doctest: +NORMALIZE_WHITESPACE
        f.csv: feature column 't' has 4 distinct values, but lossbench holds features as float32
        (about 7 significant digits), which tells only 2 of them apart ('1700000000' at line 2
        (data row 1) and '1700000060' at line 3 (data row 2) both read as 1700000000): the
        model sees the column coarser than the file has it. Subtract an offset from the
        column in the file (e.g. its smallest value, so that its values differ in their first
        digits) or change its unit, then train on the new file.
    """
    present = ~np.isnan(parsed.values)
    exact, rounded = parsed.values[present], stored[present]
    if np.array_equal(exact, rounded):  # every value is a float32 (small integers): none merged
        return None
    # Rounding keeps the order, so values that merge are neighbours once sorted: one sort
    order = np.argsort(exact, kind="stable")
    merged = (exact[order][1:] != exact[order][:-1]) & (rounded[order][1:] == rounded[order][:-1])
    if not merged.any():
        return None
    n_exact, n_rounded = len(np.unique(exact)), len(np.unique(rounded))
    rows = np.flatnonzero(present)
    same = int(np.flatnonzero(merged)[0])
    a, b = rows[order[same]], rows[order[same + 1]]
    return (
        f"{source.path}: feature column {name!r} has {n_exact} distinct values, but lossbench "
        f"holds features as float32 (about 7 significant digits), which tells only "
        f"{n_rounded} of them apart ({parsed.cell(a)!r} at {source.at(a)} and "
        f"{parsed.cell(b)!r} at {source.at(b)} both read as {float(stored[a]):.10g}): the "
        "model sees the column coarser than the file has it. Subtract an offset from the "
        "column in the file (e.g. its smallest value, so that its values differ in their "
        "first digits) or change its unit, then train on the new file."
    )


def _zero_one(name: str, parsed: _Parsed, task: str, source: _Source) -> np.ndarray:
    """Validate one 0/1 label column and return it as int64."""
    bad = parsed.text | (~parsed.missing & ~np.isin(parsed.values, (0.0, 1.0)))
    if bad.any():
        row = _first(bad)
        distinct = _distinct(parsed.cells[~parsed.missing])
        if len(distinct) == 2:
            low, high = sorted(distinct)
            mapping = f"map them to 0 and 1 in the file (e.g. {low!r} -> 0, {high!r} -> 1)"
        else:
            mapping = "map them to 0 and 1 in the file"
        numbers = parsed.values[bad & ~parsed.text]
        fractions = bool(np.any(numbers != np.round(numbers)))  # 0.5: no class id, no name
        alternative = (
            ", or use data.task=multiclass, which takes any integer ids or class names"
            if task == "binary" and not fractions
            else ""
        )
        raise source.error(
            f"{task} label column {name!r} must hold only 0 and 1, but it holds "
            f"{quoted_names(_distinct(parsed.cells[bad]), 5)} (first at {source.at(row)}). "
            f"Its values are {quoted_names(distinct, 5)}: {mapping}{alternative}."
        )
    _check_missing(parsed, f"label column {name!r}", source)
    return parsed.values.astype(np.int64)


def _multiclass(name: str, parsed: _Parsed, source: _Source) -> tuple[np.ndarray, list]:
    present = ~parsed.missing
    numeric = present & ~parsed.text
    if numeric.any() and parsed.text.any():
        first_number, first_text = _first(numeric), _first(parsed.text)
        raise source.error(
            f"label column {name!r} mixes numbers and text: {parsed.cell(first_number)!r} at "
            f"{source.at(first_number)} and {parsed.cell(first_text)!r} at "
            f"{source.at(first_text)}. Multi-class labels are either all integer class ids or "
            "all class names; make them one or the other."
        )
    _check_missing(parsed, f"label column {name!r}", source)
    if parsed.text.any():
        classes, labels = np.unique(parsed.cells.astype(str), return_inverse=True)
        return labels.astype(np.int64), [str(c) for c in classes]
    _check_finite(parsed, f"label column {name!r}", source)
    fractional = parsed.values != np.round(parsed.values)
    if fractional.any():
        row = _first(fractional)
        raise source.error(
            f"multi-class label column {name!r} holds {parsed.cell(row)!r} at {source.at(row)}, "
            f"which is not an integer ({int(fractional.sum())} such rows). Labels must be "
            "integer class ids or class names: map the values to classes (a real-valued target "
            "is regression, which lossbench does not do)."
        )
    # 2**53 + 1 reads as 2**53: every id that reads as 2**53 or more may not be the one written
    inexact = np.abs(parsed.values) >= _EXACT_INTEGERS
    if inexact.any():
        row = _first(inexact)
        raise source.error(
            f"multi-class label column {name!r} holds the class id {parsed.cell(row)!r} at "
            f"{source.at(row)}, 2**53 = {_EXACT_INTEGERS} or beyond: ids that large are not read "
            "exactly (two of them could become one class). Renumber the classes (0, 1, 2, ...), "
            "or write them as class names (text, e.g. 'c10000000000000001')."
        )
    return _integer_classes(parsed)


def _integer_classes(parsed: _Parsed) -> tuple[np.ndarray, list]:
    """The class index of each row and the classes of a multi-class label column of integers
    (checked as such), ordered by their numbers. A class is the integer's digits as the file
    writes them, as for categorical features (:mod:`lossbench.predict_categories`): ``9`` and
    ``9.0`` (as pandas writes an integer column with a missing value) are one class, but
    leading zeros count, so ``7`` and ``007`` are two classes. Where every class is written
    plainly (``7``, ``-1``) the classes are those ints; else they are the digits as text
    (``'007'``, ``'7'``), so that predictions write each class as its file writes it.

        >>> labels, classes = _integer_classes(_parse(["9", "3", "9.0", "+3"]))
        >>> labels.tolist(), classes
        ([1, 0, 1, 0], [3, 9])
        >>> labels, classes = _integer_classes(_parse(["7", "007", "010", "7.0"]))
        >>> labels.tolist(), classes
        ([1, 0, 2, 1], ['007', '7', '010'])
    """
    texts, first, inverse = np.unique(
        parsed.cells.astype(str), return_index=True, return_inverse=True
    )
    keys = [
        _digits(str(text).strip(), parsed.values[row])
        for text, row in zip(texts, first, strict=True)
    ]
    classes = sorted(set(keys), key=lambda key: (int(key), key))
    index = {key: i for i, key in enumerate(classes)}
    labels = np.array([index[key] for key in keys], dtype=np.int64)[inverse.reshape(-1)]
    if all(key == str(int(key)) for key in classes):
        return labels, [int(key) for key in classes]
    return labels, classes


def _digits(text: str, value: float) -> str:
    """The digits of an integer label ``text`` (``+7`` and ``7.0``: ``7``; ``007``: ``007``);
    an integer in another notation (``1e1``) is written plainly (``10``)."""
    match = _INTEGER.fullmatch(text)
    return match.group(1).removeprefix("+") if match else str(int(value))


#: 2**53: every integer below it is a distinct float64; from it on, two ids can read as one
#: (2**53 + 1 reads as 2**53).
_EXACT_INTEGERS = 2**53


def _check_two_classes(name: str, parsed: _Parsed, task: str, source: _Source) -> None:
    distinct = np.unique(parsed.cells if parsed.text.any() else parsed.values)
    if len(distinct) < 2:
        value = parsed.cell(0)
        if task == "multilabel":
            lacking = "positives" if parsed.values[0] == 0 else "negatives"
            raise source.error(
                f"label {name!r} is {value} in every one of the {len(parsed.cells)} rows (no "
                f"{lacking}): a model cannot learn it and its metrics are undefined. Drop it "
                "from data.label_columns, or add rows where it is "
                f"{1 - int(parsed.values[0])}."
            )
        raise source.error(
            f"label column {name!r} is {value!r} in every one of the {len(parsed.cells)} rows: "
            f"a {task} classifier needs at least two classes. Check that data.label_columns "
            "names the right column, or add rows of the other class(es)."
        )


# --------------------------------------------------------------------------------- API


def load_csv(
    path: str | os.PathLike,
    label_columns: list[str],
    task: str,
    feature_columns: list[str] | None = None,
    *,
    categorical_columns: list[str] | None = None,
    allow_missing: bool = False,
    delimiter: str | None = None,
) -> LoadedTable:
    """Read a CSV file into a :class:`LoadedTable`, checking every value the model will see.

    Args:
        path: the CSV file; a relative path resolves against the current working directory
            (the directory the command was started from).
        label_columns: the label column(s): one for ``binary`` and ``multiclass``, one or more
            0/1 columns for ``multilabel``. A single string is taken as one column name.
        task: ``"binary"``, ``"multilabel"`` or ``"multiclass"``.
        feature_columns: the feature columns; ``None`` takes every column that is not a label
            column. The model sees the numeric columns first, then each categorical column's
            one-hot columns (:attr:`lossbench.data.preprocess.Preprocessor.output_names`).
            Features are numbers, or text only (categorical).
        categorical_columns: feature columns to treat as categorical even when they hold
            numbers (codes); columns of text are categorical without being listed.
        allow_missing: keep missing feature values as NaN (for imputation) instead of refusing
            them. Missing labels are always refused.
        delimiter: the field delimiter (one character); None detects it from the file
            (:func:`detect_delimiter`).

    Returns:
        The table; see the module docstring for the label conventions of each task.

    Raises:
        DataError: for any input that cannot be trained on (unknown task, missing file or
            column, duplicated or unnamed header columns, non-numeric, missing or infinite
            values, labels that do not fit the task, a single class); the message names the
            file, the column, the value and its line, and says how to fix it.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.csv"
        >>> _ = path.write_text("x,y\\n0.5,1\\n-1.0,0\\n")
        >>> load_csv(path, ["y"], "binary").labels.tolist()
        [1, 0]
    """
    if task not in TABLE_TASKS:
        raise DataError(
            f"Unknown task {task!r}. Valid tasks: {', '.join(TABLE_TASKS)}. "
            "Set it with data.task=<task>."
        )
    labels_wanted = _as_names(label_columns, "data.label_columns")
    _check_label_count(task, labels_wanted)
    features_wanted = (
        None if feature_columns is None else _as_names(feature_columns, "data.feature_columns")
    )
    header, rows, source = read_rows(resolve_csv_path(path), delimiter)
    features_used = _select(header, labels_wanted, features_wanted, source)
    index = {name: j for j, name in enumerate(header)}
    columns = list(zip(*rows, strict=True))  # rows are checked to fit the header
    cells = {name: columns[index[name]] for name in features_used + labels_wanted}

    parsed = {name: _parse(cells[name]) for name in labels_wanted}
    if task == "multiclass":
        (name,) = labels_wanted
        labels, classes = _multiclass(name, parsed[name], source)
        if len(classes) < 2:  # 7 and 007: two classes of one number
            _check_two_classes(name, parsed[name], task, source)
        label_names = [str(c) for c in classes]
    else:
        zero_one = [_zero_one(name, parsed[name], task, source) for name in labels_wanted]
        for name in labels_wanted:
            _check_two_classes(name, parsed[name], task, source)
        labels = zero_one[0] if task == "binary" else np.stack(zero_one, axis=1)
        classes, label_names = [0, 1], list(labels_wanted)
    categorical = _as_names(categorical_columns or [], "data.categorical_columns")
    _check_present(categorical, header, "data.categorical_columns", source)
    not_features = [name for name in categorical if name not in features_used]
    if not_features:
        raise source.error(
            f"data.categorical_columns lists {quoted_names(not_features)}, which are not feature "
            f"columns (features: {quoted_names(features_used)}). List only feature columns."
        )
    coarse: dict[str, str] = {}
    features, categories = parse_features(
        features_used,
        cells,
        source,
        categorical=categorical,
        allow_missing=allow_missing,
        detect_categorical=True,
        coarse=coarse,
    )
    return LoadedTable(
        features,
        labels,
        list(features_used),
        label_names,
        classes,
        categories=categories,
        delimiter=source.delimiter,
        coarse_columns=coarse,
    )
