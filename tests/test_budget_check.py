"""The budget check: a study's verdicts against the same study trained with a longer budget
(``lossbench-report PATH --longer LONGER``), from run records written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cli_process import run_console
from lossbench.report.budget_check import (
    COLUMNS,
    HOLDS,
    NO_VERDICT,
    NOT_CHECKED,
    OVERTURNED,
    Budget,
    check_budget,
    check_longer,
)
from lossbench.report.build import summarize_runs, write_report
from lossbench.report.errors import ReportError
from run_records import write_run

SEEDS = (0, 1, 2)
CE, NLL, MSE = ("logits", "cross_entropy"), ("log_softmax", "nll"), ("sigmoid", "mse")
STOPPED, CAP = "early_stopping", "budget"  # converged; still improving at the cap

#: {data: {(head, loss): (test/nll of seed 0, stopped_by)}} of the study at patience 20, cap 300.
FULL = {
    # CE and LogSoftmax + NLL give the same numbers: one best group, CE named best
    "iris": {CE: (0.20, STOPPED), NLL: (0.20, STOPPED), MSE: (0.40, STOPPED)},
    "wine": {CE: (0.20, STOPPED), MSE: (0.40, STOPPED)},
    "digits": {CE: (0.20, STOPPED), MSE: (0.40, STOPPED)},
    # every setup still improving at the cap: no best named
    "segment": {CE: (0.20, CAP), MSE: (0.40, CAP)},
    "penguins": {CE: (0.20, STOPPED), MSE: (0.40, STOPPED)},
}  # fmt: skip
#: The same study at patience 50, cap 750 (no penguins).
LONGER = {
    # LogSoftmax + NLL alone now: the group shares it with the full study's
    "iris": {CE: (0.21, STOPPED), NLL: (0.20, STOPPED), MSE: (0.40, STOPPED)},
    # another best
    "wine": {CE: (0.40, STOPPED), MSE: (0.10, STOPPED)},
    # none converged at the longer budget either
    "digits": {CE: (0.20, CAP), MSE: (0.40, CAP)},
    "segment": {CE: (0.30, STOPPED), MSE: (0.20, STOPPED)},
}  # fmt: skip


def write_study(
    root: Path, values: dict, patience: int | list[int], max_epochs: int | list[int]
) -> Path:
    """Runs of ``values`` at one learning rate, 3 seeds (a seed offset keeps the spread
    non-zero); ``patience`` / ``max_epochs``: one value, or one per seed (mixed budgets)."""
    for data, setups in values.items():
        for (head, loss), (test, stopped_by) in setups.items():
            for seed in SEEDS:
                offset = 0.01 * seed
                p = patience[seed] if isinstance(patience, list) else patience
                cap = max_epochs[seed] if isinstance(max_epochs, list) else max_epochs
                write_run(
                    root / data / f"{head}_{loss}" / f"seed{seed}",
                    data=data, task="multiclass", head=head, loss=loss, seed=seed, lr=0.01,
                    metrics={"val/nll": test + offset, "test/nll": test + offset},
                    stopped_by=stopped_by, max_epochs=cap,
                    early_stopping={"enabled": True, "patience": p, "monitor": "val/nll"},
                )  # fmt: skip
    return root


@pytest.fixture
def studies(tmp_path: Path) -> tuple[Path, Path]:
    full = write_study(tmp_path / "compare-full", FULL, 20, 300)
    longer = write_study(tmp_path / "compare-longer", LONGER, 50, 750)
    return full, longer


def test_each_verdict_holds_is_overturned_or_is_not_checked(studies, tmp_path: Path) -> None:
    full, longer = studies
    budget, longer_budget = check_longer([full], longer)
    assert budget == Budget((20,), (300,)) and longer_budget == Budget((50,), (750,))
    study = summarize_runs([full], tmp_path / "out")
    longer_study = summarize_runs([longer], tmp_path / "out", study.metric)
    check = check_budget(study, longer_study, longer, budget, longer_budget)
    rows = {row.data: row for row in check.outcomes}
    assert list(rows) == ["digits", "iris", "penguins", "segment", "wine"]

    iris = rows["iris"]  # the best groups share log_softmax + nll
    assert (iris.best, iris.longer_best, iris.outcome) == (
        "logits + cross_entropy = log_softmax + nll", "log_softmax + nll", HOLDS,
    )  # fmt: skip
    assert iris.why == "the longer study names log_softmax + nll best, of the same group"

    wine = rows["wine"]  # another best
    assert (wine.best, wine.longer_best, wine.outcome) == (
        "logits + cross_entropy", "sigmoid + mse", OVERTURNED,
    )  # fmt: skip
    assert wine.why == "the longer study names sigmoid + mse best"

    digits = rows["digits"]  # none at the longer budget
    assert (digits.best, digits.longer_best, digits.outcome) == (
        "logits + cross_entropy", "none", OVERTURNED,
    )  # fmt: skip
    assert digits.why == (
        "the longer study names no best: none converged within the epoch cap (raise "
        "trainer.max_epochs)"
    )

    segment = rows["segment"]  # nothing to overturn, and no verdict that held
    assert (segment.best, segment.longer_best, segment.outcome) == (
        "none", "sigmoid + mse", NO_VERDICT,
    )  # fmt: skip
    assert segment.why == (
        "this study names no best: none converged within the epoch cap (raise "
        "trainer.max_epochs); the longer study names sigmoid + mse"
    )

    penguins = rows["penguins"]
    assert (penguins.longer_best, penguins.outcome) == ("", NOT_CHECKED)
    assert penguins.why == "the longer study lacks penguins"
    assert (penguins.patience, penguins.max_epochs) == (20, 300)
    assert (penguins.longer_patience, penguins.longer_max_epochs) == (None, None)

    assert check.summary() == (
        "budget check: 1 of 4 named verdicts holds, 2 overturned (digits, wine), 1 not checked "
        "(penguins); 1 data set without a verdict (segment)"
    )


@pytest.mark.slow
def test_the_report_writes_the_check_after_the_verdicts_and_its_csv(studies, tmp_path) -> None:
    full, longer = studies
    out = tmp_path / "report"
    report = write_report([full], out, longer=longer)
    table = pd.read_csv(out / "budget_check.csv", keep_default_na=False)
    assert tuple(table.columns) == COLUMNS
    assert table["data"].tolist() == ["digits", "iris", "penguins", "segment", "wine"]
    assert table["outcome"].tolist() == [OVERTURNED, HOLDS, NOT_CHECKED, NO_VERDICT, OVERTURNED]
    assert table["best"].tolist()[1] == "logits + cross_entropy = log_softmax + nll"
    assert table["longer_best"].tolist() == ["none", "log_softmax + nll", "", "sigmoid + mse",
                                             "sigmoid + mse"]  # fmt: skip
    assert set(table["patience"]) == {20} and set(table["max_epochs"]) == {300}
    checked = table[table["data"] != "penguins"]
    assert set(checked["longer_patience"]) == {"50"}
    assert set(checked["longer_max_epochs"]) == {"750"}
    lines = (out / "budget_check.csv").read_text().splitlines()
    assert lines[3] == (
        "penguins,logits + cross_entropy,,not checked,the longer study lacks penguins,20,,300,"
    )

    markdown = report.markdown.read_text()
    verdicts = markdown.index("## Per data set")
    section = markdown.index("## Budget check")
    assert verdicts < section < markdown.index("## Setups")
    assert "patience 50, cap 750; this study: patience 20, cap 300" in markdown
    assert "| wine | logits + cross_entropy | sigmoid + mse | overturned |" in markdown
    assert (
        "Budget check: 1 of 4 named verdicts holds, 2 overturned (digits, wine), 1 not checked "
        "(penguins); 1 data set without a verdict (segment)"
    ) in markdown
    html = report.html.read_text()
    assert "<h2>Budget check</h2>" in html
    assert "<td>penguins</td><td>logits + cross_entropy</td><td>–</td><td>not checked</td>" in html

    # a report without --longer into the same folder removes the earlier check's table, and
    # says so
    with pytest.warns(UserWarning, match=r"removed the earlier report's budget_check.csv from "):
        write_report([full], out)
    assert not (out / "budget_check.csv").exists()
    assert "Budget check" not in (out / "report.md").read_text()


@pytest.mark.slow
def test_raising_the_cap_goes_above_a_longer_cap_that_did_not_settle_it(studies, tmp_path):
    """segment is still improving at this study's cap (300). Where the longer study (cap 750)
    settles it, the advice doubles this study's cap; where its runs were still improving at
    750 too, a cap of 600 would repeat a budget already shown short: twice 750."""
    full, longer = studies
    settled = write_report([full], tmp_path / "settled", longer=longer).markdown.read_text()
    assert "`trainer.max_epochs=600`, twice its cap" in settled

    unsettled = write_study(tmp_path / "unsettled-longer", {**LONGER, "segment": FULL["segment"]},
                            50, 750)  # fmt: skip
    text = write_report([full], tmp_path / "unsettled", longer=unsettled).markdown.read_text()
    assert (
        "`trainer.max_epochs=1500`, twice the longer study's cap (750), under which runs were "
        "still improving too"
    ) in text
    assert "max_epochs=600" not in text


def _as_make_compare(study: Path, weight_decay: float, task_weight_decay: float) -> None:
    """Make ``study`` what ``make compare OUTPUTS=/scratch ARGS="optimizer.weight_decay=..."``
    leaves: each run's config with the study's name, variant, output folder and weight decay,
    and Hydra's multirun.yaml with the command's overrides (``task_weight_decay`` in it)."""
    for path in study.rglob("config.yaml"):
        config = yaml.safe_load(path.read_text())
        config |= {"study_name": "compare_all", "study_variant": "full"}
        config["paths"] = {"output_dir": "/scratch"}
        config["optimizer"]["weight_decay"] = weight_decay
        path.write_text(yaml.safe_dump(config))
    task = ["experiment=compare_all", "study=full", "paths.output_dir=/scratch",
            f"optimizer.weight_decay={task_weight_decay}", "model.dropout=0.1"]  # fmt: skip
    multirun = {"hydra": {"overrides": {"hydra": [], "task": task}}}
    (study / "multirun.yaml").write_text(yaml.safe_dump(multirun))


@pytest.mark.slow
def test_the_advised_command_keeps_the_studys_own_arguments(tmp_path: Path) -> None:
    """Run again with only the cap raised: a study trained with ARGS="optimizer.weight_decay=
    0.0001" is told to keep them, or its runs would be another config, trained from scratch.
    Where the folder's multirun.yaml disagrees with the runs (the last sweep into the folder
    was another one), the advice names the study's command line instead."""
    full = write_study(tmp_path / "compare-full", FULL, 20, 300)
    _as_make_compare(full, 0.0001, 0.0001)
    text = write_report([full], tmp_path / "report").markdown.read_text()
    assert (
        '(e.g. `make compare OUTPUTS=/scratch ARGS="optimizer.weight_decay=0.0001 '
        'model.dropout=0.1 trainer.max_epochs=600"`, twice its cap)'
    ) in text

    _as_make_compare(full, 0.0001, 0.001)
    text = write_report([full], tmp_path / "stale").markdown.read_text()
    assert "(the study's command line with `trainer.max_epochs=600`, twice its cap)" in text
    assert "make compare" not in text.split("**Raising the cap.**")[1].split("\n")[0]


def test_a_budget_check_csv_that_no_report_wrote_is_never_replaced(studies, tmp_path) -> None:
    full, longer = studies
    out = tmp_path / "report"
    out.mkdir()
    (out / "budget_check.csv").write_text("my,own\n1,2\n")
    with pytest.raises(ReportError, match=r"budget_check\.csv is a file that lossbench-report"):
        write_report([full], out, longer=longer)
    with pytest.raises(ReportError, match=r"budget_check\.csv is a file that lossbench-report"):
        write_report([full], out)  # it would be removed as an earlier report's
    assert (out / "budget_check.csv").read_text() == "my,own\n1,2\n"


def test_mixed_budgets_compare_their_smallest_values(tmp_path: Path) -> None:
    full = write_study(tmp_path / "full", {"wine": FULL["wine"]}, [20, 20, 30], 300)
    longer = write_study(tmp_path / "longer", {"wine": FULL["wine"]}, [10, 50, 50], [300, 750, 750])
    with pytest.raises(ReportError) as refused:
        check_longer([full], longer)
    message = str(refused.value)
    assert "its runs have patience 10 (mixed: 10, 50; the smallest counts)" in message
    assert "the study's patience 20 (mixed: 20, 30; the smallest counts), cap 300" in message
    assert "its patience (early_stopping.patience) 10 is smaller than 20" in message
    assert "Where a study's runs differ in a setting, its smallest value is compared" in message


def test_a_longer_cap_alone_is_a_longer_budget(tmp_path: Path) -> None:
    full = write_study(tmp_path / "full", {"wine": FULL["wine"]}, 20, 300)
    longer = write_study(tmp_path / "longer", {"wine": FULL["wine"]}, 20, 301)
    assert check_longer([full], longer) == (Budget((20,), (300,)), Budget((20,), (301,)))


# ---- the command line ----------------------------------------------------------------------


def report(cwd: Path, *args: str):
    return run_console("report", *args, cwd=cwd)


def refused(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in result.stderr, (word, result.stderr)


@pytest.mark.slow
def test_the_command_prints_each_outcome_and_a_summary(studies, tmp_path: Path) -> None:
    full, longer = studies
    # a baseline for a data set the longer study lacks is this study's choice only
    result = report(
        tmp_path, str(full), "--longer", str(longer), "--out", "out",
        "--baseline", "penguins=sigmoid + mse",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "longer best" in line)
    assert start > next(i for i, line in enumerate(lines) if "best by test/nll" in line)
    rows = lines[start + 2 : start + 7]
    outcomes = {row.split()[0]: row.rsplit("  ", 1)[-1].strip() for row in rows}
    assert outcomes == {"digits": OVERTURNED, "iris": HOLDS, "penguins": NOT_CHECKED,
                        "segment": NO_VERDICT, "wine": OVERTURNED}  # fmt: skip
    assert lines[start + 7] == (
        "budget check: 1 of 4 named verdicts holds, 2 overturned (digits, wine), 1 not checked "
        "(penguins); 1 data set without a verdict (segment)"
    )
    assert (tmp_path / "out" / "budget_check.csv").is_file()


@pytest.mark.slow
def test_a_validation_metric_is_warned_of_once(studies, tmp_path: Path) -> None:
    """Both studies are analysed with --metric val/nll; the warning that the ranking is
    optimistic is the report's, said once."""
    full, longer = studies
    result = report(tmp_path, str(full), "--longer", str(longer), "--metric", "val/nll",
                    "--out", "out")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("--metric val/nll ranks on the validation split") == 1
    assert (tmp_path / "out" / "budget_check.csv").is_file()


def test_a_longer_path_without_runs_is_refused(studies, tmp_path: Path) -> None:
    full, _ = studies
    (tmp_path / "empty").mkdir()
    refused(
        report(tmp_path, str(full), "--longer", "empty", "--out", "out"),
        "--longer 'empty': no metrics.json found under 'empty'",
    )
    refused(
        report(tmp_path, str(full), "--longer", "nowhere", "--out", "out"),
        "--longer 'nowhere': 'nowhere' does not exist",
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("longer", "how"),
    [
        ("compare-full", "is"),
        # a process each (about 2 s): the default suite keeps the first
        pytest.param("compare-full/wine", "lies inside", marks=pytest.mark.slow),
        pytest.param(".", "contains", marks=pytest.mark.slow),
    ],
)
def test_a_longer_path_that_overlaps_the_study_is_refused(studies, tmp_path, longer, how) -> None:
    refused(
        report(tmp_path, "compare-full", "--longer", longer, "--out", "out"),
        f"--longer '{longer}' {how} the study's path 'compare-full'",
        "a verdict checked against itself always holds",
        "lossbench-train -m experiment=<name> study=longer",
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("option", "first", "second"),
    [
        ("--longer", "compare-longer", "other-longer"),
        ("--metric", "test/nll", "val/nll"),
        ("--out", "out", "elsewhere"),
    ],
)
def test_an_option_of_one_value_given_twice_is_refused(
    studies, tmp_path: Path, option: str, first: str, second: str
) -> None:
    """argparse keeps the last of two values without a word: refused, both values named."""
    write_study(tmp_path / "other-longer", {"wine": FULL["wine"]}, 50, 750)
    given = {"--longer": ["compare-longer"], "--metric": ["test/nll"], "--out": ["out"]}
    given[option] = [first, second]
    args = [arg for name, values in given.items() for value in values for arg in (name, value)]
    refused(
        report(tmp_path, "compare-full", *args),
        f"{option} given twice, '{first}' and '{second}'",
        f"Give {option} once ({option} {first} or {option} {second})",
    )
    assert not (tmp_path / "out").exists() and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("out", "how"), [("compare-longer", "is"), ("compare-longer/report", "lies inside")]
)
@pytest.mark.slow
def test_an_out_in_the_longer_folder_is_refused(studies, tmp_path, out: str, how: str) -> None:
    """The study's report among the longer study's runs would read as that study's report, and
    a later report of that folder would replace it."""
    before = sorted(path for path in (tmp_path / "compare-longer").rglob("*"))
    refused(
        report(tmp_path, "compare-full", "--longer", "compare-longer", "--out", out),
        f"--out '{out}' {how} the --longer folder 'compare-longer'",
        "reads as that study's report",
        "Pass another --out apart from the --longer folder",
        "leave --out out to write it into the study's folder",
    )
    assert sorted(path for path in (tmp_path / "compare-longer").rglob("*")) == before
    assert report(tmp_path, "compare-full", "--longer", "compare-longer").returncode == 0
    assert (tmp_path / "compare-full" / "budget_check.csv").is_file()


@pytest.mark.parametrize(
    ("patience", "cap", "why"),
    [
        (20, 300, "neither its patience nor its cap is larger"),
        # a process each (about 2 s): the default suite keeps the first
        pytest.param(
            10,
            750,
            "its patience (early_stopping.patience) 10 is smaller than 20",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            50, 200, "its cap (trainer.max_epochs) 200 is smaller than 300", marks=pytest.mark.slow
        ),
    ],
)
def test_a_longer_study_whose_budget_is_not_longer_is_refused(
    tmp_path: Path, patience: int, cap: int, why: str
) -> None:
    write_study(tmp_path / "full", {"wine": FULL["wine"]}, 20, 300)
    write_study(tmp_path / "other", {"wine": FULL["wine"]}, patience, cap)
    refused(
        report(tmp_path, "full", "--longer", "other", "--out", "out"),
        f"--longer 'other' is not a longer budget: its runs have patience {patience}, cap {cap}, "
        f"the study's patience 20, cap 300; {why}.",
        "more early_stopping.patience and/or a higher trainer.max_epochs",
    )
    assert not (tmp_path / "out").exists()


def test_a_longer_study_that_cannot_be_analysed_so_is_refused_before_writing(tmp_path) -> None:
    full = write_study(tmp_path / "full", {"wine": FULL["wine"]}, 20, 300)
    for seed in SEEDS:  # every run of the longer study failed
        write_run(
            tmp_path / "longer" / f"seed{seed}", data="wine", task="multiclass",
            head="logits", loss="cross_entropy", seed=seed, error="non-finite training loss",
            max_epochs=750, early_stopping={"enabled": True, "patience": 50},
        )  # fmt: skip
    with pytest.raises(ReportError) as refused:
        write_report([full], tmp_path / "out", longer=tmp_path / "longer")
    message = str(refused.value)
    assert message.startswith(f"--longer '{tmp_path / 'longer'}' holds no completed run")
    assert "none of the 3 runs completed (3 failed; the first reason: non-finite" in message
    assert not (tmp_path / "out").exists()


def _write_refused_study(root: Path) -> None:
    """A sweep of a head and loss that do not fit wine: every job refused, no config."""
    for seed in SEEDS:
        run = write_run(
            root / f"seed{seed}", data="wine", task=None, head="sigmoid", loss="nll",
            seed=seed, error="head=sigmoid does not fit loss=nll", config=False,
        )  # fmt: skip
        record = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**record, "refused": True}))


def test_a_longer_folder_whose_runs_were_all_refused_is_refused_as_such(tmp_path) -> None:
    """Refused runs record no config, so no budget: the refusal says that none completed, not
    that the budget is not longer."""
    write_study(tmp_path / "full", {"wine": FULL["wine"]}, 20, 300)
    _write_refused_study(tmp_path / "longer")
    result = report(tmp_path, "full", "--longer", "longer", "--out", "out")
    refused(
        result,
        "--longer 'longer' holds no completed run: none of the 3 runs completed (3 refused; "
        "the first reason: head=sigmoid does not fit loss=nll)",
        "lossbench-train -m experiment=<name> study=longer",
    )
    assert "is not a longer budget" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_study_whose_runs_were_all_refused_is_refused_as_without_longer(tmp_path) -> None:
    """The study's own runs all refused: the same refusal as its report without --longer,
    not "is not a longer budget" (its refused runs record no budget)."""
    _write_refused_study(tmp_path / "full")
    write_study(tmp_path / "longer", {"wine": LONGER["wine"]}, 50, 750)
    result = report(tmp_path, "full", "--longer", "longer", "--out", "out")
    refused(
        result,
        "none of the 3 runs completed (3 refused; the first reason: head=sigmoid does not fit "
        "loss=nll), and a report compares completed runs",
    )
    assert "is not a longer budget" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_longer_study_of_other_data_sets_is_refused(tmp_path: Path) -> None:
    """A study of wine against a folder of iris runs with a longer budget: every row would be
    "not checked". Refused before writing; some data sets shared stay allowed (the others are
    not checked, as penguins in the test of the command above)."""
    write_study(tmp_path / "full", {"wine": FULL["wine"], "digits": FULL["digits"]}, 20, 300)
    write_study(tmp_path / "iris-longer", {"iris": LONGER["iris"]}, 50, 750)
    refused(
        report(tmp_path, "full", "--longer", "iris-longer", "--out", "out"),
        "--longer 'iris-longer' shares no data set with the study: the study's data sets are "
        "digits, wine, the --longer folder's iris, so no verdict could be checked",
        "Pass the same study trained longer",
        "lossbench-train -m experiment=<name> study=longer",
    )
    assert not (tmp_path / "out").exists()


def _name_study(root: Path, name: str) -> None:
    """Record ``study_name`` in every run config under ``root``, as a compare_* experiment
    does."""
    for path in root.rglob("config.yaml"):
        config = yaml.safe_load(path.read_text())
        path.write_text(yaml.safe_dump({**config, "study_name": name}))


@pytest.mark.slow
def test_a_longer_study_of_another_experiment_is_refused(tmp_path: Path) -> None:
    """A longer budget of another study (compare_multiclass against compare_all) compares two
    studies, not one verdict with itself: refused, with the command that trains this one."""
    write_study(tmp_path / "full", {"wine": FULL["wine"]}, 20, 300)
    write_study(tmp_path / "other", {"wine": FULL["wine"]}, 50, 750)
    _name_study(tmp_path / "full", "compare_all")
    _name_study(tmp_path / "other", "compare_multiclass")
    refused(
        report(tmp_path, "full", "--longer", "other", "--out", "out"),
        "--longer 'other' holds runs of the study compare_multiclass, but the study reported "
        "is compare_all",
        "lossbench-train -m experiment=compare_all study=longer",
        "<paths.output_dir>/studies/compare_all-longer",
    )
    assert not (tmp_path / "out").exists()
    _name_study(tmp_path / "other", "compare_all")  # the same study, trained longer
    assert report(tmp_path, "full", "--longer", "other", "--out", "out").returncode == 0
