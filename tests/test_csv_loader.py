"""load_csv reads real files into the task's label convention and refuses bad input by name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from lossbench.data.csv_loader import load_csv
from lossbench.data.table import DataError, LoadedTable


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- happy paths


def test_binary_reads_features_and_labels(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,y\n1.5,2,1\n-0.5,3e2,0\n0,4,1.0\n")
    table = load_csv(path, ["y"], "binary")
    assert isinstance(table, LoadedTable)
    assert table.features.dtype == np.float32 and table.features.shape == (3, 2)
    np.testing.assert_array_equal(table.features, [[1.5, 2], [-0.5, 300], [0, 4]])
    assert table.labels.dtype == np.int64
    assert table.labels.tolist() == [1, 0, 1]
    assert table.feature_names == ["a", "b"]
    assert table.label_names == ["y"]
    assert table.classes == [0, 1]


def test_multiclass_integer_labels_map_to_sorted_indices(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1,9\n2,3\n3,7\n4,3\n5,9.0\n")
    table = load_csv(path, ["y"], "multiclass")
    assert table.classes == [3, 7, 9]
    assert all(type(c) is int for c in table.classes)
    assert table.label_names == ["3", "7", "9"]
    assert table.labels.tolist() == [2, 0, 1, 0, 2]
    assert table.labels.dtype == np.int64


def test_multiclass_labels_with_leading_zeros_are_classes_of_their_own(tmp_path: Path) -> None:
    """Leading zeros count, as for categorical features: 7 and 007 are two classes, kept as the
    file writes them (ordered by number), and 9.0 is 9."""
    path = write(tmp_path, "x,y\n1,7\n2,007\n3,3\n4,9.0\n5,9\n6,7\n")
    table = load_csv(path, ["y"], "multiclass")
    assert table.classes == ["3", "007", "7", "9"]
    assert table.label_names == table.classes
    assert table.labels.tolist() == [2, 1, 0, 3, 3, 2]
    only = load_csv(write(tmp_path, "x,y\n1,7\n2,007\n", "two.csv"), ["y"], "multiclass")
    assert only.classes == ["007", "7"]


def test_multiclass_string_labels_map_to_sorted_indices(tmp_path: Path) -> None:
    path = write(tmp_path, "x,species\n1,virginica\n2,setosa\n3, versicolor \n4,none\n")
    table = load_csv(path, ["species"], "multiclass")
    assert table.classes == ["none", "setosa", "versicolor", "virginica"]
    assert table.label_names == table.classes
    assert table.labels.tolist() == [3, 1, 2, 0]


def test_multilabel_gives_multi_hot_matrix(tmp_path: Path) -> None:
    path = write(tmp_path, "f1,cat,f2,dog\n0.1,1,5,0\n0.2,0,6,1\n0.3,1,7,1\n")
    table = load_csv(path, ["cat", "dog"], "multilabel")
    assert table.labels.shape == (3, 2) and table.labels.dtype == np.int64
    assert table.labels.tolist() == [[1, 0], [0, 1], [1, 1]]
    assert table.label_names == ["cat", "dog"]
    assert table.feature_names == ["f1", "f2"]
    assert table.classes == [0, 1]


def test_multilabel_accepts_a_single_label_column(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, "x,y\n1,0\n2,1\n"), ["y"], "multilabel")
    assert table.labels.shape == (2, 1)


def test_feature_columns_select_and_order_features(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c,notes,y\n1,2,3,hello,0\n4,5,6,world,1\n")
    table = load_csv(path, ["y"], "binary", feature_columns=["c", "a"])
    assert table.feature_names == ["c", "a"]
    np.testing.assert_array_equal(table.features, [[3, 1], [6, 4]])


def test_whitespace_blank_lines_bom_and_quotes_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    path.write_text('\ufeff a , "b" ,y\n\n 1 , "2" ,0\n\n3,4, 1\n', encoding="utf-8")
    table = load_csv(str(path), ["y"], "binary")
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.features, [[1, 2], [3, 4]])
    assert table.labels.tolist() == [0, 1]


def test_label_columns_may_be_a_single_string(tmp_path: Path) -> None:
    path = write(tmp_path, 'x,y\n1,"a,b"\n2,c\n')
    assert load_csv(path, "y", "multiclass").classes == ["a,b", "c"]


def test_relative_path_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "x,y\n1,0\n2,1\n")
    monkeypatch.chdir(tmp_path)
    assert load_csv("data.csv", ["y"], "binary").labels.tolist() == [0, 1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_reading_it(make_cfg, tmp_path: Path) -> None:
    """A named pipe (or a device) was "no such file" at the config check, and the loader's
    read would wait for a writer: both name it as not a regular file now."""
    from lossbench.errors import UserInputError
    from lossbench.validation import validate

    pipe = tmp_path / "data.csv"
    os.mkfifo(pipe)
    with pytest.raises(DataError, match="is not a regular file but a named pipe"):
        load_csv(pipe, ["y"], "binary")
    cfg = make_cfg("data=csv", f"data.path={pipe}", "data.label_columns=[y]", "data.task=binary")
    with pytest.raises(UserInputError, match=r"data.path=.*: not a regular file but a named pipe"):
        validate(cfg)


def test_question_mark_is_a_missing_value_in_numbers_text_and_labels(tmp_path: Path) -> None:
    """UCI's marker: a column of numbers with ``?`` stays numeric, its ``?`` missing (NaN,
    for data.impute), as in a text column; never a category of its own."""
    path = write(tmp_path, "a,colour,y\n1.5,red,0\n?,blue,1\n2.5, ? ,0\n")
    table = load_csv(path, ["y"], "binary", allow_missing=True)
    assert table.categories == {"colour": ["blue", "red"]}
    np.testing.assert_array_equal(table.features[:, 0], [1.5, np.nan, 2.5])
    assert np.isnan(table.features[2, 1])
    with pytest.raises(
        DataError, match=r"feature column 'a' has a missing value \('\?'\) at line 3"
    ):
        load_csv(path, ["y"], "binary")
    labels = write(tmp_path, "a,y\n1,0\n2,?\n3,1\n", "labels.csv")
    with pytest.raises(DataError, match=r"label column 'y' has a missing value \('\?'\)"):
        load_csv(labels, ["y"], "binary")


@pytest.mark.parametrize("marker", ["-", ".", "--", "unknown", "N.A."])
def test_a_missing_marker_lossbench_does_not_read_says_to_empty_the_cells(
    tmp_path: Path, marker: str
) -> None:
    path = write(tmp_path, f"a,b,y\n1,2,0\n3,{marker},1\n5,6,0\n")
    with pytest.raises(DataError) as refused:
        load_csv(path, ["y"], "binary")
    message = str(refused.value)
    assert f"mixes numbers and text: '2' at line 2 (data row 1) and '{marker}'" in message
    assert "looks like a missing-value marker" in message
    assert "NaN, NA, N/A, null, <NA>, #N/A and ?" in message
    assert "Replace those cells with empty cells" in message and "data.impute=median" in message
    assert "categorical_columns" not in message  # every number would become a category


def test_text_among_numbers_suggests_categories_only_for_codes(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,y\n1,2,0\n3,abc,1\n5,6,0\n")
    with pytest.raises(
        DataError, match=r"data\.categorical_columns=\[b\] if its numbers are codes"
    ):
        load_csv(path, ["y"], "binary")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a;b;y\n1;2;0\n0,5;3;1\n4;5;0\n", "'0,5' at line 3 (data row 2); 1 of 3 rows"),
        ("a\tb\ty\n999\t2\t0\n1,234\t3\t1\n\t5\t0\n", "'1,234' at line 3"),
    ],
    ids=["decimal-commas-among-integers", "thousands-separators-among-numbers"],
)
def test_numbers_with_a_comma_among_plain_numbers_are_named(
    tmp_path: Path, text: str, found: str
) -> None:
    """A column of plain numbers and numbers written with a comma (which do not parse) is
    refused for its commas, not as text among numbers (whose fix would be categories); a
    missing cell (line 4 of the second file) does not count."""
    path = write(tmp_path, text)
    with pytest.raises(DataError) as refused:
        load_csv(path, ["y"], "binary")
    message = str(refused.value)
    assert f"feature column 'a' holds numbers written with a comma ({found}" in message
    assert "among plain numbers such as" in message and "decimal=','" in message
    assert "mixes numbers and text" not in message and "categorical_columns" not in message


def test_a_comma_number_among_numbers_and_other_text_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;y\n1;2;0\n0,5;3;1\nabc;5;0\n")
    with pytest.raises(DataError, match="mixes numbers and text"):
        load_csv(path, ["y"], "binary")


@pytest.mark.parametrize(
    ("header", "given", "words"),
    [
        (
            "a,true,y",
            ["a", "True"],
            [
                "column 'True' of data.feature_columns is not in the header",
                "The header has 'true', which Hydra reads unquoted as a boolean (True)",
                """'data.feature_columns=["a","true"]'""",
            ],
        ),
        (
            "a,1e3,y",
            ["1000.0"],
            [
                "The header has '1e3', which Hydra reads unquoted as a number (1000.0)",
                """'data.feature_columns=["1e3"]'""",
            ],
        ),
        (
            "a,b,y",
            ["False"],
            [
                "Hydra reads an unquoted true or false (any case) as a boolean, which arrives "
                "here as 'False'",
                """'data.feature_columns=["false"]'""",
            ],
        ),
        ("a,b,y", ["1e-05"], ["an unquoted number (1e3, 1.50, inf) as a number"]),
        (
            "true,1e3,y",
            ["True", "1000.0"],
            ["'True' of data.feature_columns", """'data.feature_columns=["true","1e3"]'"""],
        ),
    ],
    ids=[
        "bool-in-header",
        "number-in-header",
        "bool-not-in-header",
        "number-not-in-header",
        "bool-and-number-in-header",
    ],
)
def test_a_column_name_hydra_read_as_a_bool_or_number_is_explained(
    tmp_path: Path, header: str, given: list[str], words: list[str]
) -> None:
    """``data.feature_columns=[true]`` arrives as 'True' and ``[1e3]`` as '1000.0': the refusal
    says so and quotes the name as the file writes it."""
    path = write(tmp_path, f"{header}\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError) as refused:
        load_csv(path, ["y"], "binary", feature_columns=given)
    for word in words:
        assert word in str(refused.value)


def test_names_that_are_no_hydra_reading_keep_the_plain_refusal(tmp_path: Path) -> None:
    path = write(tmp_path, "a,true,y\n1,2,0\n3,4,1\n")
    for given in (["tru"], ["1e3"], ["7"]):
        with pytest.raises(DataError) as refused:
            load_csv(path, ["y"], "binary", feature_columns=given)
        assert "Hydra" not in str(refused.value)


# --------------------------------------------------------------------------- load errors

GOOD = "a,b,y\n1,2,0\n3,4,1\n5,6,0\n"

# id: (file text or None for no file, label_columns, task, feature_columns, message regex)
LOAD_ERRORS = {
    "unknown-task": (
        GOOD,
        ["y"],
        "regression",
        None,
        r"Unknown task 'regression'\. Valid tasks: binary, multilabel, multiclass",
    ),
    "binary-two-label-columns": (
        GOOD,
        ["a", "y"],
        "binary",
        None,
        r"task 'binary' takes exactly one label column.*lists 2.*"
        r"data\.task=multilabel",
    ),
    "multiclass-no-label-column": (
        GOOD,
        [],
        "multiclass",
        None,
        r"task 'multiclass' takes exactly one label column",
    ),
    "multilabel-no-label-column": (GOOD, [], "multilabel", None, r"data\.label_columns is empty"),
    "label-listed-twice": (
        GOOD,
        ["y", "y"],
        "multilabel",
        None,
        r"data\.label_columns lists 'y' more than once",
    ),
    "feature-listed-twice": (
        GOOD,
        ["y"],
        "binary",
        ["a", "a"],
        r"data\.feature_columns lists 'a' more than once",
    ),
    "empty-file": ("", ["y"], "binary", None, r"data\.csv: the file is empty"),
    "blank-lines-only": ("\n\n", ["y"], "binary", None, r"the file is empty"),
    "header-only": (
        "a,b,y\n",
        ["y"],
        "binary",
        None,
        r"has a header \('a', 'b', 'y'\) but no data rows",
    ),
    "duplicated-header": (
        "a,b,a,y\n1,2,3,0\n",
        ["y"],
        "binary",
        None,
        r"duplicated column names in the header: 'a' at columns \[1, 3\]",
    ),
    "unnamed-header-column": (
        "a,b,y,\n1,2,0,\n",
        ["y"],
        "binary",
        None,
        r"header column\(s\) \[4\] have no name.*trailing comma",
    ),
    "ragged-row": (
        "a,b,y\n1,2,0\n3,4,1,9\n",
        ["y"],
        "binary",
        None,
        r"line 3 has 4 fields but the header has 3 columns",
    ),
    "missing-label-column": (
        GOOD,
        ["target"],
        "binary",
        None,
        r"column 'target' of data\.label_columns is not in the header\. "
        r"Available columns: 'a', 'b', 'y'",
    ),
    "missing-label-column-close-match": (GOOD, ["Y"], "binary", None, r"Did you mean 'y'\?"),
    "missing-feature-column": (
        GOOD,
        ["y"],
        "binary",
        ["a", "c"],
        r"column 'c' of data\.feature_columns is not in the header\. "
        r"Available columns: 'a', 'b', 'y'",
    ),
    "label-also-feature": (
        GOOD,
        ["y"],
        "binary",
        ["a", "y"],
        r"'y' are listed both in data\.label_columns and data\.feature_columns",
    ),
    "no-feature-columns-left": (
        "y\n0\n1\n",
        ["y"],
        "binary",
        None,
        r"no feature columns: every column \('y'\) is a label column",
    ),
    "empty-feature-columns": (
        GOOD,
        ["y"],
        "binary",
        [],
        r"data\.feature_columns is empty.*data\.feature_columns=null",
    ),
    "non-numeric-feature": (
        "a,b,y\n1,2,0\n3,red,1\n5,blue,0\n",
        ["y"],
        "binary",
        None,
        r"feature column 'b' mixes numbers and text: '2' at line 2 \(data row 1\) and 'red' "
        r"at line 3 \(data row 2\) \(2 text rows; values: 'red', 'blue'\)",
    ),
    "missing-feature-value": (
        "a,b,y\n1,2,0\n3,,1\n5,6,0\n",
        ["y"],
        "binary",
        None,
        r"feature column 'b' has a missing value \(''\) at line 3 "
        r"\(data row 2\)",
    ),
    "nan-feature-value": (
        "a,b,y\n1,2,0\n3,4,1\n5,NaN,0\n",
        ["y"],
        "binary",
        None,
        r"feature column 'b' has a missing value \('NaN'\) at line 4",
    ),
    "na-feature-value": (
        "a,b,y\n1,2,0\n3,4,1\n5,NA,0\n",
        ["y"],
        "binary",
        None,
        r"feature column 'b' has a missing value \('NA'\) at line 4",
    ),
    "blank-feature-value": (
        "a,b,y\n1,2,0\n3,  ,1\n",
        ["y"],
        "binary",
        None,
        r"feature column 'b' has a missing value \(''\) at line 3",
    ),
    "infinite-feature-value": (
        "a,b,y\n1,2,0\n-inf,4,1\n",
        ["y"],
        "binary",
        None,
        r"feature column 'a' holds an infinite value \('-inf'\) at line 3",
    ),
    "feature-beyond-float32": (
        "a,b,y\n1,2,0\n1e39,4,1\n",
        ["y"],
        "binary",
        None,
        r"feature column 'a' holds a value beyond float32's range \('1e39'\).*float32",
    ),
    "missing-label": (
        "a,y\n1,0\n2,\n3,1\n",
        ["y"],
        "binary",
        None,
        r"label column 'y' has a missing value \(''\) at line 3 \(data row 2\)",
    ),
    "binary-labels-not-0-1": (
        "a,y\n1,-1\n2,1\n3,-1\n",
        ["y"],
        "binary",
        None,
        r"binary label column 'y' must hold only 0 and 1, but it holds "
        r"'-1' \(first at line 2 \(data row 1\)\).*'-1' -> 0, '1' -> 1",
    ),
    "binary-labels-text": (
        "a,y\n1,no\n2,yes\n",
        ["y"],
        "binary",
        None,
        r"holds 'no', 'yes'.*'no' -> 0, 'yes' -> 1.*data\.task=multiclass",
    ),
    "binary-single-class": (
        "a,y\n1,1\n2,1\n",
        ["y"],
        "binary",
        None,
        r"label column 'y' is '1' in every one of the 2 rows: a binary "
        r"classifier needs at least two classes",
    ),
    "multiclass-fractional-label": (
        "a,y\n1,1\n2,1.5\n3,2\n",
        ["y"],
        "multiclass",
        None,
        r"label column 'y' holds '1\.5' at line 3 \(data row 2\), "
        r"which is not an integer",
    ),
    "multiclass-mixed-labels": (
        "a,y\n1,3\n2,cat\n",
        ["y"],
        "multiclass",
        None,
        r"label column 'y' mixes numbers and text: '3' at line 2 "
        r"\(data row 1\) and 'cat' at line 3",
    ),
    "multiclass-infinite-label": (
        "a,y\n1,1\n2,inf\n",
        ["y"],
        "multiclass",
        None,
        r"label column 'y' holds an infinite value \('inf'\) at line 3",
    ),
    "multiclass-missing-label": (
        "a,y\n1,cat\n2,NA\n",
        ["y"],
        "multiclass",
        None,
        r"label column 'y' has a missing value \('NA'\) at line 3",
    ),
    "multiclass-single-class": (
        "a,y\n1,cat\n2,cat\n",
        ["y"],
        "multiclass",
        None,
        r"label column 'y' is 'cat' in every one of the 2 rows",
    ),
    "multilabel-value-not-0-1": (
        "a,u,v\n1,0,1\n2,1,2\n",
        ["u", "v"],
        "multilabel",
        None,
        r"multilabel label column 'v' must hold only 0 and 1, but it "
        r"holds '2' \(first at line 3",
    ),
    "multilabel-constant-zero": (
        "a,u,v\n1,0,1\n2,0,0\n",
        ["u", "v"],
        "multilabel",
        None,
        r"label 'u' is 0 in every one of the 2 rows \(no positives\).*"
        r"Drop it from data\.label_columns",
    ),
    "multilabel-constant-one": (
        "a,u,v\n1,0,1\n2,1,1\n",
        ["u", "v"],
        "multilabel",
        None,
        r"label 'v' is 1 in every one of the 2 rows \(no negatives\)",
    ),
}


@pytest.mark.parametrize(
    ("text", "labels", "task", "features", "message"),
    list(LOAD_ERRORS.values()),
    ids=list(LOAD_ERRORS),
)
def test_load_csv_refuses_bad_input(
    tmp_path: Path,
    text: str,
    labels: list[str],
    task: str,
    features: list[str] | None,
    message: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message):
        load_csv(path, labels, task, feature_columns=features)


@pytest.mark.parametrize(
    ("delimiter", "given"),
    [(",", None), (";", None), ("\t", None), ("|", None), (";", ";"), ("\t", "tab")],
    ids=["comma", "semicolon", "tab", "pipe", "semicolon-given", "tab-given-by-name"],
)
def test_delimiter_is_detected_or_given(tmp_path: Path, delimiter: str, given: str | None) -> None:
    rows = [["a", "b", "y"], ["0.5", "2", "0"], ["1.5", "3", "1"], ["2", "4", "1"]]
    path = write(tmp_path, "\n".join(delimiter.join(row) for row in rows) + "\n")
    table = load_csv(path, ["y"], "binary", delimiter=given)
    assert table.delimiter == delimiter
    assert table.feature_names == ["a", "b"] and table.labels.tolist() == [0, 1, 1]
    assert table.features[:, 1].tolist() == [2.0, 3.0, 4.0]


def test_a_fractional_binary_label_is_not_sent_to_multiclass(tmp_path: Path) -> None:
    """A 0.5 label is no class id and no class name: data.task=multiclass refuses it too, so
    only integer or text labels are offered it."""
    with pytest.raises(DataError) as fraction:
        load_csv(write(tmp_path, "a,y\n1,0\n2,0.5\n3,1\n"), ["y"], "binary")
    assert "'0.5'" in str(fraction.value) and "data.task=multiclass" not in str(fraction.value)
    with pytest.raises(DataError) as integer:
        load_csv(write(tmp_path, "a,y\n1,0\n2,2\n3,1\n"), ["y"], "binary")
    assert "data.task=multiclass" in str(integer.value)


def test_wrong_delimiter_names_the_one_the_header_holds(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;y\n1;2;0\n3;4;1\n")
    wanted = r"contains ';'.*not ','; set \"data.delimiter=';'\" \(quoted"
    with pytest.raises(DataError, match=wanted):
        load_csv(path, ["y"], "binary", delimiter=",")
    with pytest.raises(DataError, match=r"data.delimiter=';;' must be a single character"):
        load_csv(path, ["y"], "binary", delimiter=";;")


def test_line_numbers_count_blank_lines_and_multi_line_cells(tmp_path: Path) -> None:
    path = write(tmp_path, 'a,note,y\n1,"two\nlines",0\n\n2,x,1\n3,y,2\n')
    with pytest.raises(DataError, match=r"holds '2' \(first at line 6 \(data row 3\)\)"):
        load_csv(path, ["y"], "binary", feature_columns=["a"])


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("caf\xe9,y\n1,0\n2,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.csv: not UTF-8 text.*Save the file as UTF-8"):
        load_csv(path, ["y"], "binary")


def test_file_errors_name_the_resolved_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a,y\n1,0\n2,\n")
    with pytest.raises(DataError, match=re.escape(f"{path.resolve()}: label column 'y'")):
        load_csv(path, ["y"], "binary")


def test_missing_file_names_absolute_path_and_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = re.escape(
        f"CSV file {str(tmp_path.resolve() / 'nope.csv')!r} does not exist (data.path='nope.csv')"
    )
    with pytest.raises(
        DataError,
        match=expected + r".*Relative paths resolve against the "
        r"directory the command was started from",
    ):
        load_csv("nope.csv", ["y"], "binary")


def test_directory_instead_of_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is a directory, not a file"):
        load_csv(tmp_path, ["y"], "binary")


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


def test_a_column_whose_values_float32_merges_is_named_with_its_warning(tmp_path: Path) -> None:
    """Unix times a minute apart: 400 distinct values, of which float32 (lossbench's feature
    type) keeps 188 apart; the table names the column with a warning that names two rows that
    became one value and the fix, for the run to give when it starts."""
    rows = [f"{1_700_000_000 + 60 * i},{i % 7},{i % 2}" for i in range(400)]
    path = write(tmp_path, "\n".join(["t,b,y", *rows]) + "\n")
    table = load_csv(path, ["y"], "binary")
    assert len(np.unique(table.features[:, 0])) == 188
    assert list(table.coarse_columns) == ["t"]  # column b keeps its values
    message = table.coarse_columns["t"]
    assert "feature column 't' has 400 distinct values" in message
    assert "tells only 188 of them apart ('1700000000' at line 2 (data row 1) and" in message
    assert "Subtract an offset from the column in the file" in message


@pytest.mark.slow  # a single run and a sweep of two jobs, in fresh processes
def test_a_run_and_a_sweep_warn_of_float32_merges_once(tmp_path: Path) -> None:
    """The warning reaches the terminal of a single run (whose checks before the run load the
    file with warnings silenced) and once in a sweep."""
    from cli_process import run_module

    rows = [f"{1_700_000_000 + 60 * i},{i % 7},{i % 2}" for i in range(80)]
    (tmp_path / "times.csv").write_text("\n".join(["t,b,y", *rows]) + "\n")
    data = ("data=csv", "data.path=times.csv", "data.label_columns=[y]", "data.task=binary")
    common = (*data, "trainer.max_epochs=1", "logger=none")
    env = {"OMP_NUM_THREADS": "1"}
    single = run_module("lossbench.train", *common, cwd=tmp_path, extra_env=env)
    sweep = run_module(
        "lossbench.train", "-m", *common, "seed=0,1", "hydra.sweep.dir=study",
        cwd=tmp_path, extra_env=env,
    )  # fmt: skip
    for result in (single, sweep):
        assert result.returncode == 0, result.stderr[-2000:]
        warned = [line for line in result.stderr.splitlines() if "as float32" in line]
        assert len(warned) == 1 and warned[0].startswith("lossbench: warning: "), result.stderr
        assert "Traceback" not in result.stderr
