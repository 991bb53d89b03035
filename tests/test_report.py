"""The study report: run directories written by hand, no training.

Each test builds ``metrics.json`` / ``config.yaml`` files in ``tmp_path`` the way lossbench-train
writes them, and checks the report against numbers computed here with numpy and scipy.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cli_process import run_module
from lossbench.metric_names import metric_mode
from lossbench.report import ReportError, build_report
from lossbench.report.collect import DebugRunWarning, SkippedRecordWarning, load_runs
from lossbench.report.compare import choose_baselines, compare_with_baselines
from lossbench.report.stats import BETTER, SAME, UNDETERMINED, WORSE, paired_test, summarize
from run_records import write_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEEDS = (0, 1, 2)
#: data set -> task, and the three setups (head, loss) of the hand-made study; the first is
#: the task's default baseline.
STUDY = {
    "wine": (
        "multiclass",
        [("logits", "cross_entropy"), ("log_softmax", "nll"), ("softmax", "bce")],
    ),
    "breast_cancer": (
        "binary",
        [("logits", "bce_with_logits"), ("sigmoid", "bce"), ("sigmoid", "mse")],
    ),
}
#: Mean test/nll per setup (index in STUDY) and a per-seed offset, so means and spreads differ.
NLL_BASE = (0.30, 0.20, 0.45)
SEED_OFFSET = (0.00, 0.03, -0.01)
FAILED_ERROR = "non-finite training loss (nan) at epoch 0, step 1 (batch 1)"


def study_metrics(setup_index: int, seed: int) -> dict[str, float]:
    nll = NLL_BASE[setup_index] + SEED_OFFSET[seed]
    return {
        "test/nll": nll,
        "test/accuracy": 0.9 - nll / 4,
        "test/f1_macro": 0.85 - nll / 4,
        "test/auroc": 0.95 - nll / 10,
        "test/ece": 0.02 + nll / 20,
        "test/saturated": 0.1 * setup_index,
        "val/nll": nll + 0.01,
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 data sets x 3 setups x 3 seeds, one failed run, one completed run without test/auroc."""
    root = tmp_path_factory.mktemp("study")
    for data, (task, setups) in STUDY.items():
        for i, (head, loss) in enumerate(setups):
            for seed in SEEDS:
                metrics = study_metrics(i, seed)
                if (data, i, seed) == ("wine", 2, 2):
                    del metrics["test/auroc"]
                write_run(
                    root / "multirun" / f"{data}_{head}_{loss}_{seed}",
                    data=data, task=task, head=head, loss=loss, seed=seed, metrics=metrics,
                )  # fmt: skip
    write_run(
        root / "multirun" / "breast_cancer_sigmoid_manual_bce_0",
        data="breast_cancer", task="binary", head="sigmoid", loss="manual_bce", seed=0,
        error=FAILED_ERROR,
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def report(study: Path) -> Path:
    return build_report([study / "multirun"], study / "report")


def nll_values(setup_index: int) -> np.ndarray:
    return np.array([NLL_BASE[setup_index] + SEED_OFFSET[s] for s in SEEDS])


def test_results_csv_has_one_row_per_run_with_every_metric(report: Path) -> None:
    results = pd.read_csv(report.parent / "results.csv")
    assert len(results) == 2 * 3 * 3 + 1
    expected = ["data", "task", "setup", "head", "loss", "seed", "model", "status", "error"]
    expected += ["test/nll", "test/accuracy", "test/f1_macro", "test/auroc", "test/ece"]
    expected += ["test/saturated", "val/nll", "epochs", "steps", "train_seconds", "run_dir"]
    assert set(expected) <= set(results.columns)
    assert (results["status"] == "failed").sum() == 1
    failed = results[results["status"] == "failed"].iloc[0]
    assert failed["error"] == FAILED_ERROR
    assert failed["setup"] == "sigmoid + manual_bce"
    assert math.isnan(failed["test/nll"])
    assert results["test/auroc"].isna().sum() == 2  # the failed run and the one without it


def test_summary_csv_matches_numpy_and_scipy(report: Path) -> None:
    summary = pd.read_csv(report.parent / "summary.csv").set_index(["data", "setup"])
    for data, (_, setups) in STUDY.items():
        for i, (head, loss) in enumerate(setups):
            row = summary.loc[(data, f"{head} + {loss}")]
            values = nll_values(i)
            half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(3)
            assert row["test/nll_mean"] == pytest.approx(values.mean())
            assert row["test/nll_std"] == pytest.approx(values.std(ddof=1))
            assert row["test/nll_ci_low"] == pytest.approx(values.mean() - half)
            assert row["test/nll_ci_high"] == pytest.approx(values.mean() + half)
            assert (row["n_completed"], row["n_failed"]) == (3, 0)
    partial = summary.loc[("wine", "softmax + bce")]
    auroc = [study_metrics(2, s)["test/auroc"] for s in (0, 1)]
    assert partial["test/auroc_n"] == 2
    assert partial["test/auroc_mean"] == pytest.approx(np.mean(auroc))
    failed = summary.loc[("breast_cancer", "sigmoid + manual_bce")]
    assert (failed["n_completed"], failed["n_failed"], failed["n_refused"]) == (0, 1, 0)
    assert pd.isna(failed["rank"])


def test_summary_ranks_by_the_metric_in_its_direction(study: Path, report: Path) -> None:
    by_nll = pd.read_csv(report.parent / "summary.csv")
    wine = by_nll[by_nll["data"] == "wine"].set_index("setup")["rank"]
    assert wine.to_dict() == {
        "log_softmax + nll": 1,
        "logits + cross_entropy": 2,
        "softmax + bce": 3,
    }
    runs = load_runs([study])
    by_acc = summarize(runs, ["test/accuracy"], "test/accuracy", metric_mode("test/accuracy"))
    wine = by_acc[by_acc["data"] == "wine"].set_index("setup")["rank"]
    assert wine["log_softmax + nll"] == 1  # lowest nll = highest accuracy: ranked in max mode
    assert wine["softmax + bce"] == 3


def test_plots_are_valid_pngs(report: Path) -> None:
    plots = report.parent / "plots"
    for data in STUDY:
        for kind in ("metrics", "learning_curves", "reliability", "stability"):
            path = plots / f"{data}_{kind}.png"
            assert path.read_bytes()[:8] == PNG_SIGNATURE, path


def test_report_opens_with_the_verdict_and_lists_failed_runs(report: Path) -> None:
    markdown = (report.parent / "report.md").read_text()
    lines = markdown.splitlines()
    assert "verdict" in lines[0].lower()
    assert lines[2] == "## Overview across data sets"  # mean ranks per task family first
    first = lines.index("## Per data set") + 2
    verdict = lines[first]
    assert verdict.startswith("- **breast_cancer**") and "best **sigmoid + bce**" in verdict
    assert "best **log_softmax + nll**" in lines[first + 1]
    assert FAILED_ERROR in markdown
    assert "## Failed runs" in markdown
    assert "raw scores, no activation" in markdown  # setup lines come from the registries
    html = report.read_text()
    assert "data:image/png;base64," in html
    assert "<script" not in html and "http" not in html.split("</style>")[0]


@pytest.mark.parametrize("metric", ["test/nll", "test/accuracy"])
def test_paired_verdicts_follow_the_metric_direction(tmp_path: Path, metric: str) -> None:
    """better by 0.1 on every seed (small noise), identical plus symmetric noise, worse by 0.1."""
    baseline = np.array([0.50, 0.55, 0.47, 0.52, 0.49])
    noise = np.array([0.003, -0.002, 0.001, -0.001, 0.002])
    sign = -1 if metric == "test/nll" else 1  # which way "better" goes
    setups = {
        ("logits", "cross_entropy"): baseline,
        ("log_softmax", "nll"): baseline + sign * 0.1 + noise,
        ("softmax", "bce"): baseline + np.array([0.02, -0.02, 0.01, -0.01, 0.0]),
        ("softmax", "mse"): baseline - sign * 0.1 + noise,
    }
    for (head, loss), values in setups.items():
        for seed, value in enumerate(values):
            write_run(
                tmp_path / "runs" / f"{head}_{loss}_{seed}",
                data="wine", task="multiclass", head=head, loss=loss, seed=seed,
                metrics={metric: float(value)},
            )  # fmt: skip
    runs = load_runs([tmp_path / "runs"])
    baselines = choose_baselines(runs)
    comparisons = compare_with_baselines(runs, [metric], {metric: metric_mode(metric)}, baselines)
    rows = comparisons.set_index("setup")
    assert rows.loc["log_softmax + nll", "verdict"] == BETTER
    assert rows.loc["softmax + bce", "verdict"] == SAME
    assert rows.loc["softmax + mse", "verdict"] == WORSE
    for head, loss in [("log_softmax", "nll"), ("softmax", "bce"), ("softmax", "mse")]:
        expected = stats.ttest_rel(setups[head, loss], baseline)
        row = rows.loc[f"{head} + {loss}"]
        assert row["p_value"] == pytest.approx(expected.pvalue)
        assert row["mean_diff"] == pytest.approx(np.mean(setups[head, loss] - baseline))
        assert row["baseline"] == "logits + cross_entropy"


def test_baseline_can_be_chosen_per_task_or_data_set(study: Path) -> None:
    runs = load_runs([study])
    assert choose_baselines(runs) == {
        "breast_cancer": "logits + bce_with_logits",
        "wine": "logits + cross_entropy",
    }
    chosen = choose_baselines(
        runs, {"multiclass": "log_softmax+nll", "breast_cancer": "sigmoid + mse"}
    )
    assert chosen == {"breast_cancer": "sigmoid + mse", "wine": "log_softmax + nll"}


def test_paired_test_says_so_instead_of_failing_on_degenerate_input() -> None:
    base = pd.Series([0.5, 0.6, 0.7])
    one = paired_test(pd.Series([0.4], index=[1]), base, "min")
    assert one.verdict == UNDETERMINED and one.n_pairs == 1 and "at least 2" in one.note
    constant = paired_test(base - 0.1, base, "min")
    assert constant.verdict == UNDETERMINED and "zero variance" in constant.note
    same = paired_test(base.copy(), base, "min")
    assert same.verdict == SAME and "identical" in same.note
    assert paired_test(pd.Series(dtype=float), base, "min").n_pairs == 0


def test_two_label_smoothing_values_give_two_setups(tmp_path: Path) -> None:
    for smoothing in (0.0, 0.1):
        for seed in (0, 1):
            write_run(
                tmp_path / f"ls{smoothing}_{seed}",
                data="wine", task="multiclass", head="logits", loss="cross_entropy", seed=seed,
                metrics={"test/nll": 0.3 + seed / 10}, loss_params={"label_smoothing": smoothing},
            )  # fmt: skip
    write_run(
        tmp_path / "named",
        data="wine", task="multiclass", head="logits", loss="cross_entropy", seed=0,
        metrics={"test/nll": 0.3}, setup="my_setup", loss_params={"label_smoothing": 0.2},
    )  # fmt: skip
    write_run(
        tmp_path / "refused",
        data="wine", task=None, head="logits", loss="nll", seed=0, error="refused", config=False,
    )  # fmt: skip
    runs = load_runs([tmp_path])
    assert sorted(runs["setup"].unique()) == [
        "logits + cross_entropy (loss.label_smoothing=0)",
        "logits + cross_entropy (loss.label_smoothing=0.1)",
        "logits + nll",
        "my_setup",
    ]
    refused = runs[runs["setup"] == "logits + nll"].iloc[0]
    assert refused["refused"] and refused["task"] == "multiclass"  # task from the registry
    # The default baseline is the setup with the loss's default parameters.
    assert choose_baselines(runs) == {"wine": "logits + cross_entropy (loss.label_smoothing=0)"}


def test_corrupt_record_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    write_run(
        tmp_path / "good",
        data="iris", task="multiclass", head="logits", loss="cross_entropy", seed=0,
        metrics={"test/nll": 0.3},
    )  # fmt: skip
    bad = write_run(
        tmp_path / "bad", data="iris", task="multiclass", head="logits", loss="nll", seed=1
    )
    (bad / "metrics.json").write_text('{"status": "compl')
    with pytest.warns(SkippedRecordWarning, match="unreadable metrics.json: JSONDecodeError") as w:
        runs = load_runs([tmp_path])
    assert str((bad / "metrics.json").resolve()) in str(w[0].message)
    assert runs["run_dir"].tolist() == [str((tmp_path / "good").resolve())]
    (tmp_path / "good" / "metrics.json").write_text("[]")  # no readable record left: refused
    with pytest.warns(SkippedRecordWarning), pytest.raises(ReportError, match="none of the 2"):
        load_runs([tmp_path])


@pytest.mark.parametrize(
    ("paths", "kwargs", "match"),
    [
        (["missing"], {}, "does not exist"),
        (["empty"], {}, "no metrics.json found"),
        (["runs"], {"metric": "test/bogus"}, r"Available: test/nll"),
        (["runs"], {"baselines": {"multiclass": "nope"}}, "no such setup"),
        (["runs"], {"baselines": {"regression": "logits + nll"}}, "neither a task nor"),
    ],
    ids=["missing-path", "no-records", "unknown-metric", "unknown-setup", "unknown-task"],
)
def test_bad_input_is_refused_with_a_message(
    tmp_path: Path, paths: list[str], kwargs: dict[str, Any], match: str
) -> None:
    (tmp_path / "empty").mkdir()
    write_run(
        tmp_path / "runs" / "a",
        data="iris", task="multiclass", head="logits", loss="nll", seed=0,
        metrics={"test/nll": 0.3},
    )  # fmt: skip
    with pytest.raises(ReportError, match=match):
        build_report([tmp_path / p for p in paths], tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("lossbench.report.cli", *args, timeout=120)


@pytest.mark.slow
def test_cli_writes_the_report_and_prints_the_verdict(tmp_path: Path) -> None:
    for loss, nll in (("cross_entropy", 0.4), ("nll", 0.3)):
        for seed in (0, 1):
            write_run(
                tmp_path / "study" / f"{loss}_{seed}",
                data="iris", task="multiclass", head="log_softmax", loss=loss, seed=seed,
                metrics={"test/nll": nll + seed / 100, "test/accuracy": 0.9},
            )  # fmt: skip
    result = run_cli(str(tmp_path / "study"))
    assert result.returncode == 0, result.stderr
    assert "log_softmax + nll" in result.stdout.splitlines()[2]  # the verdict table's row
    assert str(tmp_path / "study" / "report.html") in result.stdout
    assert (tmp_path / "study" / "report.html").is_file()


def test_cli_stopped_by_ctrl_c_says_so_in_one_line(
    study: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """(Stopping a real report, SIGTERM too: tests/test_report_stop.py.)"""
    import lossbench.report.build as build
    from lossbench.report.cli import main

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # where Ctrl-C lands: in the middle of the report

    monkeypatch.setattr(build.ReportWriter, "write", interrupted)
    with pytest.raises(SystemExit) as stop:
        main([str(study / "multirun"), "--out", str(tmp_path / "out")])
    assert stop.value.code == 130
    assert capsys.readouterr().err == (
        f"lossbench: interrupted (Ctrl-C). The report was not written to {tmp_path / 'out'}. "
        "Run the same command again.\n"
    )


def test_cli_help_reads_as_written() -> None:
    from lossbench.report.cli import parser

    text = parser().format_help()
    assert "tables with 95 % intervals" in text and "%%" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["does/not/exist"], "does not exist"),
        (["STUDY", "--metric", "test/bogus"], "test/f1_macro, test/nll"),
        (
            ["STUDY", "--baseline", "breast_cancer=sigmoid+manual_bce"],
            "--baseline breast_cancer=sigmoid+manual_bce: no run of sigmoid + manual_bce in "
            f"breast_cancer completed (1 failed: {FAILED_ERROR}), so nothing could be compared "
            "with it. Setups with results there: logits + bce_with_logits; sigmoid + bce; "
            "sigmoid + mse.",
        ),
    ],
    ids=["missing-path", "unknown-metric", "baseline-without-results"],
)
def test_cli_exits_2_with_a_message(study: Path, args: list[str], message: str) -> None:
    result = run_cli(*[str(study / "multirun") if a == "STUDY" else a for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_learning_rate_figure_only_for_a_schedule() -> None:
    """Runs of a tuned grid each keep one rate: no figure; a schedule changes it within a run."""
    from lossbench.report.plots import _varies

    grid = pd.DataFrame({"_history": [{"train/lr": [0.01] * 3}, {"train/lr": [0.001] * 3}]})
    assert not _varies(grid, "train/lr")
    schedule = pd.DataFrame({"_history": [{"train/lr": [0.01, 0.005, 0.0025]}, None]})
    assert _varies(schedule, "train/lr")


def test_learning_curves_put_each_validation_at_its_epoch() -> None:
    """Validated every second epoch (``val/epoch``): the points lie at epochs 2 and 4, next to
    the per-epoch training curve; a record without ``val/epoch`` keeps one point per epoch."""
    from lossbench.report.plots import _curves

    every_two = {"train/loss": [0.9, 0.7, 0.5, 0.4, 0.3], "val/nll": [0.6, 0.4]}
    runs = pd.DataFrame({"_history": [every_two | {"val/epoch": [2.0, 4.0]}]})
    epochs, values = _curves(runs, "val/nll")
    np.testing.assert_array_equal(epochs, [2.0, 4.0])
    np.testing.assert_array_equal(values, [[0.6, 0.4]])
    np.testing.assert_array_equal(_curves(runs, "train/loss")[0], [1.0, 2.0, 3.0, 4.0, 5.0])
    older = pd.DataFrame({"_history": [{"val/nll": [0.6, 0.4, 0.3]}]})
    np.testing.assert_array_equal(_curves(older, "val/nll")[0], [1.0, 2.0, 3.0])
    # twice per epoch in one run, once per epoch in another: one axis, NaN where a run has none
    halves = {"val/nll": [0.8, 0.6, 0.5, 0.4], "val/epoch": [0.5, 1.0, 1.5, 2.0]}
    mixed = pd.DataFrame({"_history": [halves, {"val/nll": [0.7, 0.45]}]})
    epochs, values = _curves(mixed, "val/nll")
    np.testing.assert_array_equal(epochs, [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(values[1], [np.nan, 0.7, np.nan, 0.45])


@pytest.mark.parametrize(
    ("history", "steps", "epochs", "expected"),
    [
        pytest.param({"val/nll": [1.0, 0.2], "val/epoch": [2.0, 4.0]}, 50, 5, 40.0, id="every_2"),
        pytest.param({"val/nll": [1.0, 0.2, 0.2]}, 30, 3, 20.0, id="without_val_epoch"),
        pytest.param(
            {"val/nll": [1.0, 0.2, 0.2], "val/epoch": [1 / 3, 2 / 3, 1.0]}, 3, 1, 2.0, id="thirds"
        ),
    ],
)
def test_steps_to_converge_counts_to_the_epoch_of_the_validation(
    history: dict, steps: int, epochs: int, expected: float
) -> None:
    from lossbench.report.selection import steps_to_converge

    assert steps_to_converge(history, "val/nll", "min", steps, epochs) == pytest.approx(expected)


def test_steps_to_converge_of_a_run_stopped_within_an_epoch_is_its_steps_then(
    make_cfg, tmp_path
) -> None:
    """``trainer.max_steps=17`` with 7 steps an epoch and a validation every 3: the last
    validation, the best, ran at step 17; steps / epochs x val/epoch said 13.76 (epochs 3
    counts the unfinished third as whole)."""
    from lossbench.report.selection import steps_to_converge
    from lossbench.training import train

    cfg = make_cfg(
        "data=wine",
        "runner=lightning",
        "trainer.max_steps=17",
        "trainer.max_epochs=7",
        "trainer.val_check_interval=0.5",
        "data.batch_size=16",
        "logger=none",
    )
    record = train(cfg, tmp_path / "run")
    history = record["history"]
    assert (record["steps"], record["epochs"]) == (17, 3)
    assert history["val/step"] == [3, 6, 10, 13, 17]
    first = next(i for i, v in enumerate(history["val/nll"]) if v <= 1.01 * min(history["val/nll"]))
    assert steps_to_converge(history, "val/nll", "min", 17, 3) == history["val/step"][first]


def test_an_older_record_of_a_run_validating_every_second_epoch_is_placed_there(
    tmp_path: Path,
) -> None:
    """A record from before ``val/epoch``: its config says every second epoch, so its
    validations sit at epochs 2 and 4 beside a newer record's (they were drawn at 1 and 2: the
    mean curve zig-zagged between the two)."""
    import json

    import yaml

    from lossbench.report.collect import load_run

    run = tmp_path / "old"
    run.mkdir()
    history = {"train/loss": [0.9, 0.8, 0.7, 0.6], "val/nll": [0.5, 0.4]}
    record = {"status": "completed", "task": "binary", "epochs": 4, "steps": 8, "history": history}
    (run / "metrics.json").write_text(json.dumps(record))
    config = {"trainer": {"check_val_every_n_epoch": 2, "val_check_interval": 1.0}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert load_run(run / "metrics.json")["_history"]["val/epoch"] == [2.0, 4.0]


@pytest.mark.slow  # the study analysed twice over: about 6 s
def test_a_study_reported_twice_counts_each_seed_once(study: Path, tmp_path: Path) -> None:
    """The same runs under two paths (a study and its copy): the summary, the interval and the
    verdict's seed count are those of one copy, as the paired tests already were."""
    import shutil

    from lossbench.report.build import analyse

    shutil.copytree(study / "multirun", tmp_path / "copy")
    twice = analyse([study / "multirun", tmp_path / "copy"], tmp_path / "report")
    assert len(twice.runs) == 2 * (2 * 3 * 3 + 1)
    summary = twice.summary.set_index(["data", "setup"])
    for data, (_, setups) in STUDY.items():
        for i, (head, loss) in enumerate(setups):
            row = summary.loc[(data, f"{head} + {loss}")]
            values = nll_values(i)
            half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
            assert row["test/nll_n"] == 3
            assert row["test/nll_mean"] == pytest.approx(values.mean())
            assert row["test/nll_std"] == pytest.approx(values.std(ddof=1))
            assert row["test/nll_ci_low"] == pytest.approx(values.mean() - half)
            assert row["test/nll_ci_high"] == pytest.approx(values.mean() + half)
            assert (row["n_runs"], row["n_completed"]) == (6, 6)  # runs are still counted
    verdict = next(v for v in twice.verdicts if v.data == "wine")
    assert verdict.n == 3
    assert (verdict.ci_low, verdict.ci_high) == pytest.approx(
        (nll_values(1).mean() - stats.t.ppf(0.975, 2) * nll_values(1).std(ddof=1) / math.sqrt(3),
         nll_values(1).mean() + stats.t.ppf(0.975, 2) * nll_values(1).std(ddof=1) / math.sqrt(3))
    )  # fmt: skip


def test_a_named_setup_trained_with_other_settings_is_a_setup_of_its_own(tmp_path: Path) -> None:
    """sigmoid_mse trained for 100 epochs in one study and 2 in another: two setups, each with
    its own numbers, not one pooled over both."""
    import yaml

    for epochs, nll in ((100, 0.1), (2, 0.5)):
        for seed in SEEDS:
            run = write_run(
                tmp_path / f"epochs{epochs}" / f"seed{seed}",
                data="breast_cancer", task="binary", head="sigmoid", loss="mse", seed=seed,
                setup="sigmoid_mse", metrics={"test/nll": nll + seed / 100},
            )  # fmt: skip
            config = yaml.safe_load((run / "config.yaml").read_text())
            config["trainer"]["max_epochs"] = epochs
            (run / "config.yaml").write_text(yaml.safe_dump(config))
    from lossbench.report.build import analyse

    study = analyse([tmp_path / "epochs100", tmp_path / "epochs2"], tmp_path / "report")
    summary = study.summary.set_index("setup")
    assert sorted(summary.index) == [
        "sigmoid_mse (trainer.max_epochs=100)",
        "sigmoid_mse (trainer.max_epochs=2)",
    ]
    long = summary.loc["sigmoid_mse (trainer.max_epochs=100)"]
    short = summary.loc["sigmoid_mse (trainer.max_epochs=2)"]
    assert (long["test/nll_mean"], long["test/nll_n"]) == (pytest.approx(0.11), 3)
    assert (short["test/nll_mean"], short["test/nll_n"]) == (pytest.approx(0.51), 3)
    from lossbench.report.document import _setup_lines

    assert _setup_lines(study)[0].startswith("**sigmoid_mse (trainer.max_epochs=100)**: head")
    assert not _setup_lines(study)[0].endswith("max_epochs=100")  # named once, not repeated


def write_csv(path: Path, flip: bool) -> Path:
    """A small binary CSV; ``flip``: other rows, and a noisy label from the other feature."""
    rng = np.random.default_rng(int(flip))
    x = rng.normal(size=(80, 2))
    y = x[:, 0] > 0 if not flip else x[:, 1] + rng.normal(size=80) > 0
    path.parent.mkdir(parents=True)
    pd.DataFrame({"f0": x[:, 0], "f1": x[:, 1], "y": y.astype(int)}).to_csv(path, index=False)
    return path


def write_csv_run(run: Path, path: str, seed: int, nll: float) -> dict:
    """A run record on the binary CSV file ``path`` (label ``y``), split by its seed as the fair
    protocol splits; return its data config."""
    import yaml

    write_run(
        run, data="csv", task="binary", head="logits", loss="bce_with_logits", seed=seed,
        metrics={"test/nll": nll},
    )  # fmt: skip
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"] |= {
        "path": path, "label_columns": ["y"], "task": "binary", "split_seed": seed,
        "val_fraction": 0.25, "test_fraction": 0.25, "impute": None,
    }  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return config["data"]


@pytest.mark.slow  # four yardstick fits and the analysis: 6-8 s
def test_csv_files_that_share_a_file_name_are_separate_data_sets(tmp_path: Path) -> None:
    """data.path=a/bin.csv and b/bin.csv: two data sets, named by the shortest path end that
    tells them apart, each with the yardstick fitted on its own file."""

    from lossbench.report.build import analyse
    from lossbench.report.yardstick import fit_yardstick

    configs = {}
    for folder, nll in (("a", 0.2), ("b", 0.6)):
        csv = write_csv(tmp_path / "files" / folder / "bin.csv", flip=folder == "b")
        for seed in (0, 1):
            run = tmp_path / "runs" / folder / f"seed{seed}"
            configs[folder, seed] = write_csv_run(run, str(csv), seed, nll + seed / 100)
    study = analyse([tmp_path / "runs"], tmp_path / "report")
    means = study.summary.set_index("data")["test/nll_mean"].to_dict()
    assert means == {"csv:a/bin.csv": pytest.approx(0.205), "csv:b/bin.csv": pytest.approx(0.605)}
    yardstick = study.yardstick_runs.set_index(["data", "split_seed"])
    for (folder, seed), data_cfg in configs.items():
        expected = fit_yardstick(data_cfg)
        row = yardstick.loc[(f"csv:{folder}/bin.csv", seed)]
        assert row["C"] == expected["C"]
        assert row["test/nll"] == pytest.approx(expected["test/nll"])
    assert yardstick.loc[("csv:a/bin.csv", 0), "test/nll"] != pytest.approx(
        yardstick.loc[("csv:b/bin.csv", 0), "test/nll"]
    )


@pytest.mark.slow  # yardstick fits and two reports: 3-5 s
def test_the_yardstick_reads_a_relative_csv_path_where_the_run_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run trained on data.path=bin.csv (relative) in folder a/: the report, run from another
    folder that holds a bin.csv of other labels, fits the yardstick on a/bin.csv, the run's own
    rows; with a/bin.csv gone, the report names the splits it could not fit and why, instead
    of leaving the reference row out without a word."""
    import yaml

    from lossbench.report.build import analyse
    from lossbench.report.yardstick import fit_yardstick

    own = write_csv(tmp_path / "a" / "bin.csv", flip=False)
    write_csv(tmp_path / "elsewhere" / "bin.csv", flip=True)  # same name, other labels
    expected = {}
    for seed in (0, 1):
        run = tmp_path / "runs" / f"seed{seed}"
        data = write_csv_run(run, "bin.csv", seed, 0.2 + seed / 100)
        (run / ".hydra").mkdir()
        hydra = {"hydra": {"runtime": {"cwd": str(own.parent)}}}
        (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra))
        expected[seed] = fit_yardstick(data | {"path": str(own)})["test/nll"]
    monkeypatch.chdir(tmp_path / "elsewhere")
    study = analyse([tmp_path / "runs"], tmp_path / "report")
    fitted = study.yardstick_runs.set_index("split_seed")["test/nll"].to_dict()
    assert fitted == {0: pytest.approx(expected[0]), 1: pytest.approx(expected[1])}
    assert study.yardstick_not_fitted == {}

    own.unlink()
    report = build_report([tmp_path / "runs"], tmp_path / "report-gone")
    assert not (report.parent / "yardstick.csv").exists()
    text = (report.parent / "report.md").read_text()
    assert (
        "**No yardstick on splits 0, 1.** LogisticRegression could not be fitted there (no "
        f"row): its data file data.path='bin.csv' is no longer at {own}. Put the file back "
        "where the run read it, then report again."
    ) in text


@pytest.mark.slow  # four yardstick fits over widened grids and a report: 3-5 s
def test_the_report_names_a_yardstick_whose_c_is_at_a_bound_of_its_grid(tmp_path: Path) -> None:
    """Labels that a threshold on one feature separates: the validation log-loss keeps falling
    as C grows, and on split 0 C reaches 1e6, the grid's largest (on split 1 it stops inside, at
    1000). Labels of coin flips: the smallest C, 1e-4, predicts the class shares best on both
    splits. The report says so next to each yardstick row instead of calling it tuned."""

    separable = write_csv(tmp_path / "files" / "separable.csv", flip=False)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(80, 2)), rng.random(80) < 0.5
    noise = tmp_path / "files" / "noise.csv"
    pd.DataFrame({"f0": x[:, 0], "f1": x[:, 1], "y": y.astype(int)}).to_csv(noise, index=False)
    for csv in (separable, noise):
        for seed in (0, 1):
            write_csv_run(
                tmp_path / "runs" / csv.stem / f"seed{seed}", str(csv), seed, 0.3 + seed / 100
            )
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    rows = pd.read_csv(report.parent / "yardstick.csv").set_index(["data", "split_seed"])
    assert rows["C"].to_dict() == {
        ("csv:noise.csv", 0): 1e-4,
        ("csv:noise.csv", 1): 1e-4,
        ("csv:separable.csv", 0): 1e6,
        ("csv:separable.csv", 1): 1000.0,
    }
    assert rows["C_at_bound"].to_dict() == {
        ("csv:noise.csv", 0): True,
        ("csv:noise.csv", 1): True,
        ("csv:separable.csv", 0): True,
        ("csv:separable.csv", 1): False,
    }
    assert rows.loc[("csv:separable.csv", 0), "C_grid"] == (
        "0.01 0.1 1 10 100 1000 10000 100000 1e+06"
    )
    assert rows.loc[("csv:noise.csv", 0), "C_grid"] == "0.0001 0.001 0.01 0.1 1 10 100"
    text = (report.parent / "report.md").read_text()
    notes = [line for line in text.splitlines() if line.startswith("**Yardstick at its `C`")]
    assert notes == [
        "**Yardstick at its `C` bound.** The `C` of LogisticRegression chosen on validation is "
        "0.0001, the smallest `C` its grid is widened to, on 2 of 2 splits (a smaller `C` might "
        "fit better): the reference row is tuned only up to that bound (`C_at_bound` in "
        "`yardstick.csv`).",
        "**Yardstick at its `C` bound.** The `C` of LogisticRegression chosen on validation is "
        "1e+06, the largest `C` its grid is widened to, on 1 of 2 splits (a larger `C` might fit "
        "better): the reference row is tuned only up to that bound (`C_at_bound` in "
        "`yardstick.csv`).",
    ]
    for data, note in zip(("noise.csv", "separable.csv"), notes, strict=True):
        section = text.split(f"## csv:{data}")[1].split("\n## ")[0]
        assert "LogisticRegression (reference)" in section and note in section


def test_cli_refuses_a_baseline_every_run_of_which_was_refused(tmp_path: Path) -> None:
    """logits + asl cannot train multi-class: as wine's baseline every comparison would be
    undetermined, so the command says why and exits 2 before writing anything."""
    refusal = "loss 'asl' supports binary and multilabel targets, not multiclass"
    for seed in (0, 1):
        write_run(
            tmp_path / "study" / f"ce_{seed}",
            data="wine", task="multiclass", head="logits", loss="cross_entropy", seed=seed,
            setup="logits_cross_entropy", metrics={"test/nll": 0.3 + seed / 100},
        )  # fmt: skip
        write_run(
            tmp_path / "study" / f"asl_{seed}",
            data="wine", task=None, head="logits", loss="asl", seed=seed, setup="logits_asl",
            error=refusal,
        )  # fmt: skip
    result = run_cli(str(tmp_path / "study"), "--baseline", "wine=logits_asl")
    assert result.returncode == 2
    assert (
        "--baseline wine=logits_asl: every run of logits_asl in wine was refused before "
        f"training ({refusal}), so nothing could be compared with it. Setups with results "
        "there: logits_cross_entropy."
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "study" / "report.html").exists()


@pytest.mark.slow
def test_cli_ranking_on_the_validation_split_warns_that_it_is_optimistic(
    study: Path, tmp_path: Path
) -> None:
    """``--metric val/nll`` ranks on the split that chose each learning rate: allowed, with a
    warning on stderr and in the report's text (which otherwise says the test split is never
    used to choose)."""
    result = run_cli(str(study / "multirun"), "--metric", "val/nll", "--out", str(tmp_path / "v"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "lossbench: warning: --metric val/nll ranks on the validation split" in result.stderr
    text = (tmp_path / "v" / "report.md").read_text()
    assert "so every setup's figure is optimistic" in text
    assert "the test split is never used to choose" not in text
    plain = run_cli(str(study / "multirun"), "--out", str(tmp_path / "t"))
    assert "warning" not in plain.stderr
    assert "the test split is never used to choose" in (tmp_path / "t" / "report.md").read_text()


@pytest.mark.slow
def test_a_report_into_an_earlier_reports_directory_leaves_none_of_its_figures(
    study: Path, tmp_path: Path
) -> None:
    """Another study reported into the same ``--out``: the earlier study's figures (and a
    yardstick this report has not) go, anything else there stays."""
    out = tmp_path / "out"
    build_report([study / "multirun"], out)
    earlier = {p.name for p in (out / "plots").glob("*.png")}
    assert any(name.startswith("breast_cancer_") for name in earlier)
    (out / "plots" / "notes.txt").write_text("mine")
    for seed in SEEDS:  # a second study: wine only
        for i, (head, loss) in enumerate(STUDY["wine"][1]):
            write_run(
                tmp_path / "other" / f"{head}_{loss}_{seed}",
                data="wine", task="multiclass", head=head, loss=loss, seed=seed,
                metrics=study_metrics(i, seed),
            )  # fmt: skip
    build_report([tmp_path / "other"], out)
    now = {p.name for p in (out / "plots").glob("*.png")}
    assert now and not any(name.startswith("breast_cancer_") for name in now)
    assert now <= earlier  # wine's figures, drawn again
    assert (out / "plots" / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_every_file_of_a_report_is_recognised_as_its_own(study: Path, report: Path) -> None:
    """A report's files (as every report so far writes them) are its own: reporting into the
    same folder again replaces them without a word; a file of one's own of those names there
    is refused, and left as it was."""
    from lossbench.report.build import is_report_file, report_files_in

    out = report.parent
    files = report_files_in(out)
    assert {p.name for p in files} >= {"results.csv", "report.md", "report.html"}
    assert any(p.parent.name == "plots" for p in files)
    assert all(is_report_file(path) for path in files), [p for p in files if not is_report_file(p)]
    again = run_cli(str(study / "multirun"), "--out", str(out))
    assert again.returncode == 0 and "refused" not in again.stderr, again.stderr
    summary = (out / "summary.csv").read_bytes()
    (out / "summary.csv").write_text("mine,yours\n1,2\n")
    mine = run_cli(str(study / "multirun"), "--out", str(out))
    assert mine.returncode == 2, mine.stderr
    assert f"{out / 'summary.csv'} is a file that lossbench-report did not write" in mine.stderr
    assert (out / "summary.csv").read_text() == "mine,yours\n1,2\n"
    (out / "summary.csv").write_bytes(summary)  # the module's other tests read this report


def test_intervals_stay_within_the_metric_range(tmp_path: Path) -> None:
    """Three seeds near a bound: the t-interval of the accuracy would pass 1 and the NLL's 0;
    summary.csv and the verdict clip them to the range, and the text shows the clipped ends."""
    accuracy, nll = np.array([0.97, 1.0, 1.0]), np.array([0.002, 0.09, 0.004])
    for seed in SEEDS:
        write_run(
            tmp_path / "runs" / f"wine_{seed}", data="wine", task="multiclass", head="logits",
            loss="cross_entropy", seed=seed,
            metrics={"test/nll": nll[seed], "test/accuracy": accuracy[seed], "val/nll": 0.1},
        )  # fmt: skip
    half = stats.t.ppf(0.975, 2) * np.array([accuracy.std(ddof=1), nll.std(ddof=1)]) / math.sqrt(3)
    assert accuracy.mean() + half[0] > 1 and nll.mean() - half[1] < 0  # what clipping changes
    out = build_report([tmp_path / "runs"], tmp_path / "report")
    row = pd.read_csv(out.parent / "summary.csv").iloc[0]
    assert row["test/accuracy_ci_high"] == 1.0
    assert row["test/accuracy_ci_low"] == pytest.approx(accuracy.mean() - half[0])
    assert row["test/nll_ci_low"] == 0.0
    assert row["test/nll_ci_high"] == pytest.approx(nll.mean() + half[1])
    text = (out.parent / "report.md").read_text()
    assert f"{accuracy.mean():.4g} [{accuracy.mean() - half[0]:.2g}, 1]" in text
    assert "-0." not in text.split("## ")[0]  # the verdict lists no negative NLL bound


def test_an_undefined_auroc_is_neither_a_crash_nor_the_best(tmp_path: Path) -> None:
    """A binary test split without a positive records test/auroc NaN (null in metrics.json):
    the report reads it as a run without the metric (the study fixture has one; its report
    builds), leaving it out of the means and ranks."""
    for i, (head, loss) in enumerate([("logits", "bce_with_logits"), ("sigmoid", "bce")]):
        for seed in SEEDS:
            metrics = {**study_metrics(i, seed), "test/auroc": None if i == 1 else 0.8 + seed / 100}
            write_run(
                tmp_path / "runs" / f"{head}_{seed}",
                data="breast_cancer", task="binary", head=head, loss=loss, seed=seed,
                metrics=metrics,
            )  # fmt: skip
    runs = load_runs([tmp_path / "runs"])
    assert runs["test/auroc"].isna().sum() == len(SEEDS)
    summary = summarize(runs, ["test/auroc"], "test/auroc", "max").set_index("setup")
    assert summary.loc["logits + bce_with_logits", "rank"] == 1
    assert pd.isna(summary.loc["sigmoid + bce", "rank"])
    assert summary.loc["sigmoid + bce", "test/auroc_n"] == 0


def _write_values(root: Path, values: dict[tuple[str, str], list[float | None]]) -> None:
    """wine runs with these test/nll values per (head, loss), seed i at index i (None: failed)."""
    for (head, loss), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            write_run(
                root / f"{head}_{loss}_{seed}", data="wine", task="multiclass", head=head,
                loss=loss, seed=seed, metrics=None if value is None else {"test/nll": value},
                error=FAILED_ERROR if value is None else None,
            )  # fmt: skip


def _verdict_line(report_html: Path) -> str:
    lines = (report_html.parent / "report.md").read_text().splitlines()
    return next(line for line in lines if line.startswith("- **wine**"))


def test_a_setup_with_fewer_seeds_is_not_named_best(tmp_path: Path) -> None:
    """A mean over one lucky split is not a mean over three: the setup whose other two seeds
    failed has the lowest mean but may not be named best, and the verdict says why."""
    _write_values(
        tmp_path / "runs",
        {
            ("logits", "cross_entropy"): [0.30, 0.32, 0.31],
            ("log_softmax", "nll"): [0.35, 0.36, 0.34],
            ("softmax", "bce"): [0.10, None, None],
        },
    )
    line = _verdict_line(build_report([tmp_path / "runs"], tmp_path / "report"))
    assert "best **logits + cross_entropy**" in line
    assert "fewer seeds" in line and "**softmax + bce** (results on 1 of 3 seeds)" in line


def test_tiny_values_that_differ_twofold_are_not_identical(tmp_path: Path) -> None:
    """NLLs near zero (float64) differ when they differ: 2.8e-07 is not 5.6e-07, though both
    are within 1e-6 of each other."""
    _write_values(
        tmp_path / "runs",
        {
            ("logits", "cross_entropy"): [2.8e-07, 3.1e-07, 2.9e-07],
            ("log_softmax", "nll"): [5.6e-07, 6.0e-07, 5.9e-07],
        },
    )
    line = _verdict_line(build_report([tmp_path / "runs"], tmp_path / "report"))
    assert "best **logits + cross_entropy** (" in line and "identical" not in line


def test_effect_in_percent_is_of_the_baseline_on_the_same_seeds(tmp_path: Path) -> None:
    """diff_pct divides the paired mean difference by the baseline's mean over the seeds it
    was paired on, not over all of the baseline's seeds."""
    _write_values(
        tmp_path / "runs",
        {
            ("logits", "cross_entropy"): [0.2, 0.4, 0.6],
            ("log_softmax", "nll"): [0.1, 0.3, None],
        },
    )
    runs = load_runs([tmp_path / "runs"])
    metric = "test/nll"
    comparisons = compare_with_baselines(runs, [metric], {metric: "min"}, choose_baselines(runs))
    row = comparisons.set_index("setup").loc["log_softmax + nll"]
    assert row["n_pairs"] == 2 and row["mean_diff"] == pytest.approx(-0.1)
    assert row["diff_pct"] == pytest.approx(100 * -0.1 / 0.3)  # the baseline on seeds 0, 1


SYNTHETIC = {
    "name": "synthetic_binary", "batch_size": 64, "val_fraction": 0.25, "test_fraction": 0.25,
    "n_samples": 200, "n_features": 5, "n_informative": 3, "positive_fraction": 0.5,
    "class_sep": 1.0, "random_state": 0, "impute": None,
}  # fmt: skip


def write_synthetic_run(directory: Path, seed: int, nll: float, **data: Any) -> dict[str, Any]:
    """A synthetic_binary run whose config.yaml holds ``data`` over :data:`SYNTHETIC` (the
    split drawn per seed, as the fair protocol does, unless ``data`` sets it)."""
    import yaml

    run = write_run(
        directory, data="synthetic_binary", task="binary", head="logits",
        loss="bce_with_logits", seed=seed, metrics={"test/nll": nll + seed / 100},
    )  # fmt: skip
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"] = SYNTHETIC | {"split_seed": seed} | data
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return config["data"]


def test_runs_of_one_data_set_with_other_data_settings_are_separate_data_sets(
    tmp_path: Path,
) -> None:
    """data.label_noise=0,0.4: two data sets, each with its own numbers and yardstick; a split
    per seed (data.split_seed=${seed}) is no difference; data.batch_size=32,64 are two setups."""
    from lossbench.report.build import analyse
    from lossbench.report.yardstick import fit_yardstick

    configs = {}
    for noise, nll in ((0.0, 0.2), (0.4, 0.6)):
        for seed in (0, 1):
            configs[noise, seed] = write_synthetic_run(
                tmp_path / "runs" / f"noise{noise}" / f"seed{seed}", seed, nll, label_noise=noise
            )
    for seed in (0, 1):  # the same data, a smaller batch: a setup of its own
        write_synthetic_run(
            tmp_path / "runs" / "batch32" / f"seed{seed}", seed, 0.9, label_noise=0.0, batch_size=32
        )
    study = analyse([tmp_path / "runs"], tmp_path / "report")
    summary = study.summary.set_index(["data", "setup"])
    clean, noisy = "synthetic_binary (label_noise=0)", "synthetic_binary (label_noise=0.4)"
    setup = "logits + bce_with_logits (data.batch_size={})"
    assert summary["test/nll_mean"].to_dict() == {
        (clean, setup.format(32)): pytest.approx(0.905),
        (clean, setup.format(64)): pytest.approx(0.205),
        (noisy, "logits + bce_with_logits"): pytest.approx(0.605),
    }
    assert (summary["test/nll_n"] == 2).all()
    yardstick = study.yardstick_runs.set_index(["data", "split_seed"])
    assert sorted(yardstick.index) == [(clean, 0), (clean, 1), (noisy, 0), (noisy, 1)]
    for (noise, seed), data_cfg in configs.items():
        row = yardstick.loc[(noisy if noise else clean, seed)]
        assert row["test/nll"] == pytest.approx(fit_yardstick(data_cfg)["test/nll"])


def test_runs_of_one_seed_on_different_splits_are_separate_data_sets(tmp_path: Path) -> None:
    """A fixed split in each of two studies (data.split_seed=0 and 1): different test rows, so
    two data sets; one split per seed in each study is one data set."""
    for split, nll in ((0, 0.2), (1, 0.6)):
        for seed in (0, 1):
            write_synthetic_run(tmp_path / "fixed" / f"{split}_{seed}", seed, nll, split_seed=split)
            write_synthetic_run(tmp_path / "per_seed" / f"{split}_{seed}", seed, nll)
    fixed = load_runs([tmp_path / "fixed"])
    assert fixed.groupby("data")["test/nll"].mean().to_dict() == {
        "synthetic_binary (split_seed=0)": pytest.approx(0.205),
        "synthetic_binary (split_seed=1)": pytest.approx(0.605),
    }
    assert load_runs([tmp_path / "per_seed"])["data"].unique().tolist() == ["synthetic_binary"]


def test_a_run_of_unknown_learning_rate_is_left_out_with_a_warning(tmp_path: Path) -> None:
    """Runs at 0.001 and 0.1; one run's config.yaml is missing, another's unreadable: both are
    named in a warning and left out, not averaged into the chosen rate's numbers."""
    import warnings

    from lossbench.report.build import analyse

    for lr, nll in ((0.001, 0.2), (0.1, 0.6)):
        for seed in (0, 1):
            write_run(
                tmp_path / "runs" / f"lr{lr}_{seed}",
                data="wine", task="multiclass", head="logits", loss="cross_entropy", seed=seed,
                lr=lr, metrics={"test/nll": nll + seed / 100, "val/nll": nll},
            )  # fmt: skip
    missing = (tmp_path / "runs" / "lr0.1_0").resolve()
    (missing / "config.yaml").unlink()
    unreadable = (tmp_path / "runs" / "lr0.1_1").resolve()
    (unreadable / "config.yaml").write_text("optimizer: {lr: [0.1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = analyse([tmp_path / "runs"], tmp_path / "report")
    row = study.summary.set_index("setup").loc["logits + cross_entropy"]
    assert (row["lr"], row["test/nll_mean"], row["n_runs"]) == (0.001, pytest.approx(0.205), 2)
    by_kind = {w.category.__name__: str(w.message) for w in caught}
    assert str(unreadable / "config.yaml") in by_kind["UnreadableConfigWarning"]
    left_out = by_kind["UnknownRateWarning"]
    assert "left out of the learning-rate choice and the report" in left_out
    assert f"{missing} (config.yaml missing)" in left_out
    assert f"{unreadable} (config.yaml unreadable (" in left_out


@pytest.mark.parametrize("seed", [1.5, "one", True])
def test_a_record_with_a_seed_that_is_not_a_whole_number_is_skipped(
    tmp_path: Path, seed: Any
) -> None:
    import json

    for s in (0, 1):
        write_run(
            tmp_path / f"good{s}", data="iris", task="multiclass", head="logits",
            loss="cross_entropy", seed=s, metrics={"test/nll": 0.3},
        )  # fmt: skip
    bad = write_run(
        tmp_path / "bad", data="iris", task="multiclass", head="logits", loss="cross_entropy",
        seed=2, metrics={"test/nll": 0.3},
    )  # fmt: skip
    record = json.loads((bad / "metrics.json").read_text())
    (bad / "metrics.json").write_text(json.dumps(record | {"seed": seed}))
    with pytest.warns(SkippedRecordWarning, match=f"its seed is {seed!r}, not a whole number") as w:
        runs = load_runs([tmp_path])
    assert str((bad / "metrics.json").resolve()) in str(w[0].message)
    assert runs["seed"].tolist() == [0, 1]


def test_a_seed_written_as_text_of_a_whole_number_is_read(tmp_path: Path) -> None:
    """A hand-edited ``"seed": "2"`` is seed 2, as before whole-number seeds were checked."""
    import json

    run = write_run(
        tmp_path / "run", data="iris", task="multiclass", head="logits", loss="cross_entropy",
        seed=2, metrics={"test/nll": 0.3},
    )  # fmt: skip
    record = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps(record | {"seed": "2"}))
    assert load_runs([tmp_path])["seed"].tolist() == [2]


@pytest.mark.slow
def test_cli_skips_a_record_with_a_fractional_seed_without_a_traceback(tmp_path: Path) -> None:
    import json

    for s in (0, 1):
        write_run(
            tmp_path / "study" / f"run{s}", data="iris", task="multiclass", head="logits",
            loss="cross_entropy", seed=s, metrics={"test/nll": 0.3 + s / 100},
        )  # fmt: skip
    bad = (tmp_path / "study" / "run1" / "metrics.json").resolve()
    bad.write_text(json.dumps(json.loads(bad.read_text()) | {"seed": 1.5}))
    result = run_cli(str(tmp_path / "study"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "its seed is 1.5, not a whole number" in result.stderr
    assert str(bad) in result.stderr


@pytest.mark.slow
def test_a_task_baseline_that_one_data_set_lacks_keeps_its_default_with_a_warning(
    tmp_path: Path,
) -> None:
    """--baseline multiclass=SETUP where wine has that setup and iris does not: wine takes it,
    iris keeps its default baseline, and the command says so (it had no baseline at all)."""
    setups = {"wine": ("log_softmax", "nll"), "iris": ("logits", "cross_entropy")}
    for data, (head, loss) in setups.items():
        for other in (("softmax", "bce"), (head, loss)):
            for seed in (0, 1):
                write_run(
                    tmp_path / "study" / f"{data}_{other[0]}_{other[1]}_{seed}",
                    data=data, task="multiclass", head=other[0], loss=other[1], seed=seed,
                    metrics={"test/nll": 0.3 + seed / 100 + (other[1] == "bce") / 10},
                )  # fmt: skip
    result = run_cli(str(tmp_path / "study"), "--baseline", "multiclass=log_softmax+nll")
    assert result.returncode == 0, result.stderr
    assert "--baseline multiclass=log_softmax+nll: iris has no such setup" in result.stderr
    assert "its baseline stays logits + cross_entropy" in result.stderr
    comparisons = pd.read_csv(tmp_path / "study" / "comparisons.csv")
    baselines = comparisons.groupby("data")["baseline"].first().to_dict()
    assert baselines == {"iris": "logits + cross_entropy", "wine": "log_softmax + nll"}


def test_a_data_set_baseline_by_its_name_applies_to_the_data_sets_split_from_it() -> None:
    runs = pd.DataFrame(
        {
            "data": ["s (label_noise=0)", "s (label_noise=0.4)"] * 2,
            "task": "binary",
            "setup": ["sigmoid + bce"] * 2 + ["logits + bce_with_logits"] * 2,
            "status": "completed",
            "refused": False,
            "error": None,
        }
    )
    chosen = choose_baselines(runs, {"s": "sigmoid+bce"})
    assert chosen == {"s (label_noise=0)": "sigmoid + bce", "s (label_noise=0.4)": "sigmoid + bce"}


def test_runs_behind_a_symlinked_directory_are_found_once_even_through_a_loop(
    tmp_path: Path,
) -> None:
    """A folder of links to studies (``ln -s /path/to/study L/study``) reports their runs; a
    directory reached twice through links, or a link back up (a loop), is read once."""
    from lossbench.report.find import find_records

    study = tmp_path / "elsewhere" / "study"
    for seed in SEEDS:
        write_run(
            study / f"seed{seed}", data="wine", task="multiclass", head="logits",
            loss="cross_entropy", seed=seed, metrics=study_metrics(0, seed),
        )  # fmt: skip
    links = tmp_path / "L"
    links.mkdir()
    (links / "study").symlink_to(study, target_is_directory=True)
    (links / "again").symlink_to(study, target_is_directory=True)
    (study / "loop").symlink_to(links, target_is_directory=True)
    expected = sorted((study / f"seed{seed}" / "metrics.json").resolve() for seed in SEEDS)
    assert find_records([links]) == expected
    runs = load_runs([links])
    assert sorted(runs["seed"]) == list(SEEDS)
    assert runs["test/nll"].mean() == pytest.approx(nll_values(0).mean())


def test_a_task_family_without_an_overview_says_why(tmp_path: Path) -> None:
    """Two binary data sets whose setups have different names: no setup has a value on every
    data set, so the family cannot be ranked; report.md says so where the
    overview is, next to the multi-class family that has one."""
    setups = {
        "wine": ("multiclass", [("logits", "cross_entropy", None), ("log_softmax", "nll", None)]),
        "breast_cancer": ("binary", [("logits", "bce_with_logits", "bc_logits")]),
        "other_binary": ("binary", [("logits", "bce_with_logits", "ob_logits")]),
    }
    for data, (task, heads) in setups.items():
        for i, (head, loss, setup) in enumerate(heads):
            for seed in SEEDS:
                write_run(
                    tmp_path / "runs" / f"{data}_{head}_{seed}", data=data, task=task,
                    head=head, loss=loss, seed=seed, setup=setup, metrics=study_metrics(i, seed),
                )  # fmt: skip
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    text = (report.parent / "report.md").read_text()
    overview = text.split("## Overview across data sets")[1].split("## Per data set")[0]
    assert "### multiclass: wine (1 data set, mean over 3 seeds)" in overview
    assert "### binary: breast_cancer, other_binary" in overview
    assert (
        "No overview: a ranking needs at least 2 setups with a value (the mean over the "
        "seeds) on every data set, and 0 here have one (data sets covered: bc_logits (1 of 2), "
        "ob_logits (1 of 2))."
    ) in overview


def test_the_verdict_counts_failed_runs_at_the_chosen_rates_and_at_all_rates(
    tmp_path: Path,
) -> None:
    """Seed 2 of logits + cross_entropy fails at each of 3 rates: 1 failed run at its chosen
    rate, 3 in all (the Failed-runs table's); the verdict says both, and which is which."""
    for lr, nll in ((0.001, 0.30), (0.01, 0.20), (0.1, 0.25)):
        for seed in SEEDS:
            for head, loss, offset in (("logits", "cross_entropy", 0.0), ("softmax", "bce", 0.1)):
                failed = head == "logits" and seed == 2
                value = nll + offset + seed / 100
                write_run(
                    tmp_path / "runs" / f"{head}_{lr}_{seed}", data="wine", task="multiclass",
                    head=head, loss=loss, seed=seed, lr=lr,
                    metrics=None if failed else {"val/nll": value, "test/nll": value},
                    error=FAILED_ERROR if failed else None,
                )  # fmt: skip
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    line = _verdict_line(report)
    assert line.endswith(
        "Runs that failed in training: 1 at the setups' chosen learning rates, 3 at all rates "
        "(see Failed runs)."
    )
    text = (report.parent / "report.md").read_text()
    assert "18 runs (15 completed, 3 failed or refused)" in text
    failed_rows = text.split("## Failed runs")[1]
    assert failed_rows.count("| failed |") == 3


@pytest.mark.slow
def test_the_yardstick_is_fitted_once_per_distinct_split(tmp_path: Path) -> None:
    """Three seeds on one fixed split (data.split_seed=0, no fair protocol): one fit, shown
    as 1 split without an interval, not the same fit thrice with a spread of rounding. A split
    per seed (data.split_seed=${seed}): a fit per seed, over which the interval is."""
    from lossbench.report.yardstick import fit_yardstick

    fixed = [
        write_synthetic_run(tmp_path / "fixed" / f"s{s}", s, 0.2, split_seed=0, label_noise=0.0)
        for s in SEEDS
    ]
    per_seed = [
        write_synthetic_run(tmp_path / "per_seed" / f"s{s}", s, 0.2, label_noise=0.0) for s in SEEDS
    ]
    report = build_report([tmp_path / "fixed"], tmp_path / "fixed_report")
    (row,) = pd.read_csv(report.parent / "yardstick.csv").to_dict("records")
    assert (row["split_seed"], str(row["seeds"])) == (0, "0 1 2")
    assert row["test/nll"] == pytest.approx(fit_yardstick(fixed[0])["test/nll"])
    line = next(
        line
        for line in (report.parent / "report.md").read_text().splitlines()
        if "LogisticRegression (reference)" in line
    )
    assert "| 1 split |" in line and f"{row['test/nll']:.4g} (1 split)" in line
    assert "±" not in line and "[" not in line

    report = build_report([tmp_path / "per_seed"], tmp_path / "per_seed_report")
    rows = pd.read_csv(report.parent / "yardstick.csv")
    assert rows["split_seed"].tolist() == list(SEEDS)
    assert rows["seeds"].astype(str).tolist() == [str(s) for s in SEEDS]
    expected = [fit_yardstick(cfg)["test/nll"] for cfg in per_seed]
    assert rows["test/nll"].tolist() == pytest.approx(expected)
    assert len(set(expected)) == 3  # three splits: a real spread
    text = (report.parent / "report.md").read_text()
    line = next(line for line in text.splitlines() if "LogisticRegression (reference)" in line)
    assert "| 3 splits |" in line


@pytest.mark.slow
def test_debug_runs_are_left_out_of_every_table_and_said_so(make_cfg, tmp_path: Path) -> None:
    """Real runs: two seeds of one setup, a fast_dev_run of the same setup (a third seed) and
    an overfit_batches run of another setup. The report counts the two ordinary runs only, warns
    once on stderr and names the debug runs in its text; the debug runs alone are refused."""
    from lossbench.report.build import write_report
    from lossbench.report.document import verdict_table
    from lossbench.report.render import to_text
    from lossbench.training import train

    sweep = tmp_path / "sweep"
    for seed in (0, 1):
        train(make_cfg("data=wine", f"seed={seed}"), sweep / f"ordinary_{seed}", multirun=True)
    fdr = ("data=wine", "seed=2", "trainer.fast_dev_run=true")
    train(make_cfg(*fdr), sweep / "fast_dev_run", multirun=True)
    overfit = ("data=wine", "head=log_softmax", "loss=nll", "trainer.overfit_batches=1")
    train(make_cfg(*overfit), sweep / "overfit", multirun=True)
    with pytest.warns(DebugRunWarning) as caught:
        report = write_report([sweep])
    warned = [str(w.message) for w in caught if w.category is DebugRunWarning]
    assert warned == [
        "2 debug runs (trainer.fast_dev_run=true; trainer.overfit_batches=1) left out: "
        f"{(sweep / 'fast_dev_run').resolve()}, {(sweep / 'overfit').resolve()}: a run trained "
        "with Lightning's debug settings (a few batches, or the same batches again and again) "
        "checks that it works, and is no result. The other runs are reported."
    ]
    assert [v.data for v in report.study.verdicts] == ["wine"]
    # 2 epochs: the ordinary runs hit the cap, and only they count there
    unconverged = report.study.verdicts[0].unconverged
    assert unconverged == [
        ("logits + bce_with_logits", "2 of 2 runs hit the epoch cap still improving")
    ]
    results = pd.read_csv(sweep / "results.csv")
    assert sorted(Path(d).name for d in results["run_dir"]) == ["ordinary_0", "ordinary_1"]
    assert results["seed"].tolist() == [0, 1]
    summary = pd.read_csv(sweep / "summary.csv")
    assert summary["setup"].tolist() == ["logits + bce_with_logits"]
    assert summary["n_runs"].tolist() == [2]
    assert "log_softmax" not in to_text(verdict_table(report.study))  # what the command prints
    text = (sweep / "report.md").read_text()
    assert "log_softmax" not in text
    assert (
        "2 debug runs (trainer.fast_dev_run=true; trainer.overfit_batches=1) left out: "
        "`fast_dev_run`, `overfit`. A run trained with Lightning's debug settings"
    ) in text
    with pytest.raises(ReportError, match=r"every one of the 2 runs under .* is a debug run"):
        build_report([sweep / "fast_dev_run", sweep / "overfit"], tmp_path / "debug_only")
    assert not (tmp_path / "debug_only").exists()


def test_a_record_without_debug_run_is_an_ordinary_run(tmp_path: Path) -> None:
    """Records written before lossbench recorded ``debug_run`` are reported as they were."""
    import warnings

    from lossbench.report.collect import read_runs

    for seed in (0, 1):
        write_run(
            tmp_path / f"run{seed}", data="iris", task="multiclass", head="logits",
            loss="cross_entropy", seed=seed, metrics={"test/nll": 0.3}, stopped_by="budget",
        )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs, debug_runs = read_runs([tmp_path])
    assert runs["seed"].tolist() == [0, 1] and debug_runs == []


@pytest.mark.slow  # a whole report, then the analysis again: 5-7 s
def test_a_data_set_whose_every_run_failed_is_reported_without_a_best(tmp_path: Path) -> None:
    """A data set none of whose runs completed (each failed, or was refused) has no best setup
    and says so; the other data sets are reported as usual (it used to stop the report with a
    KeyError)."""
    from lossbench.report.build import analyse

    for seed in (0, 1):
        write_run(tmp_path / "runs" / f"wine_{seed}", data="wine", task="multiclass", head="logits",
                  loss="cross_entropy", seed=seed, metrics=study_metrics(0, seed))  # fmt: skip
        write_run(tmp_path / "runs" / f"iris_{seed}", data="iris", task="multiclass", head="logits",
                  loss="cross_entropy", seed=seed, error=FAILED_ERROR)  # fmt: skip
    html = build_report([tmp_path / "runs"])  # the whole report is written
    assert "iris" in html.read_text()
    verdicts = {v.data: v for v in analyse([tmp_path / "runs"], tmp_path / "report").verdicts}
    assert verdicts["wine"].best == "logits + cross_entropy"
    assert verdicts["iris"].best is None
    assert verdicts["iris"].no_result == ["logits + cross_entropy"]
    assert verdicts["iris"].n_failed == 2


def test_job_folders_without_a_record_are_counted_and_named(tmp_path: Path) -> None:
    """A job folder that lossbench-train started (config.yaml, .hydra/ or checkpoints/) but that
    holds no metrics.json (a job still running, or killed) warns once on stderr and is named in
    report.md, so a report of an unfinished study is not taken for a finished one's; folders
    that hold none of them (notes, data) are not jobs' and are not counted."""
    from lossbench.report.collect import UnfinishedJobWarning

    study = tmp_path / "study"
    for seed in (0, 1):
        write_run(study / f"{seed}_iris", data="iris", task="multiclass", head="logits",
                  loss="cross_entropy", seed=seed, metrics=study_metrics(0, seed))  # fmt: skip
    for seed, made in enumerate(["config.yaml", ".hydra/config.yaml", "checkpoints/last.ckpt"]):
        (study / f"{seed + 2}_iris" / made).parent.mkdir(parents=True)
        (study / f"{seed + 2}_iris" / made).write_text("x")
    (study / "5_iris" / ".hydra").mkdir(parents=True)  # the job has just started
    (study / "notes").mkdir()
    (study / "notes" / "plan.txt").write_text("seeds 0 to 5")
    (study / ".progress").mkdir()
    with pytest.warns(UnfinishedJobWarning) as caught:
        html = build_report([study], tmp_path / "report")
    warned = [str(w.message) for w in caught if w.category is UnfinishedJobWarning]
    names = ", ".join(str((study / f"{i}_iris").resolve()) for i in (2, 3, 4))
    assert len(warned) == 1
    assert warned[0].startswith(f"4 job folders hold no metrics.json: {names} and 1 more: ")
    assert "still running, or was stopped before it ended" in warned[0]
    assert "report again once the jobs have ended" in warned[0]
    text = html.with_name("report.md").read_text()
    assert (
        "4 job folders hold no metrics.json: `../study/2_iris`, `../study/3_iris`, "
        "`../study/4_iris` and 1 more: a job whose folder has none is still running"
    ) in text
    assert "notes" not in text


def test_a_finished_study_does_not_warn_of_unfinished_jobs(tmp_path: Path) -> None:
    """Every job folder with its record: no word of unfinished jobs, whose checkpoints/ and
    .hydra/ are the jobs' own folders, not jobs."""
    import warnings

    from lossbench.report.collect import UnfinishedJobWarning

    run = write_run(tmp_path / "s" / "0_iris", data="iris", task="multiclass", head="logits",
                    loss="cross_entropy", seed=0, metrics=study_metrics(0, 0))  # fmt: skip
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text("seed: 0")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = build_report([tmp_path / "s"], tmp_path / "report")
    assert not [w for w in caught if w.category is UnfinishedJobWarning]
    assert "metrics.json:" not in html.with_name("report.md").read_text()


def test_hydra_files_in_a_renamed_folder_are_a_jobs_own(tmp_path: Path) -> None:
    """hydra.output_subdir=meta: Hydra's folder under another name (its hydra.yaml says so) is
    the job's own, not a job without a record; a job folder holding only it is unfinished."""
    from lossbench.report.collect import UnfinishedJobWarning

    run = write_run(tmp_path / "s" / "0_iris", data="iris", task="multiclass", head="logits",
                    loss="cross_entropy", seed=0, metrics=study_metrics(0, 0))  # fmt: skip
    (tmp_path / "s" / "1_iris" / "meta").mkdir(parents=True)
    for job in (run, tmp_path / "s" / "1_iris"):
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            (job / "meta" / name).parent.mkdir(exist_ok=True)
            (job / "meta" / name).write_text("seed: 0\n")
    with pytest.warns(UnfinishedJobWarning) as caught:
        build_report([tmp_path / "s"], tmp_path / "report")
    warned = [str(w.message) for w in caught if w.category is UnfinishedJobWarning]
    assert len(warned) == 1
    assert warned[0].startswith(
        f"1 job folder holds no metrics.json: {(tmp_path / 's' / '1_iris').resolve()}: "
    ), warned[0]


def test_the_verdict_table_says_why_a_data_set_without_the_metric_has_no_best(
    tmp_path: Path,
) -> None:
    """A data set whose runs completed without the ranking metric (iris without test/miou,
    ranked with a dense data set that has it): the printed verdict table says what report.md
    says, not that no run completed."""
    from lossbench.report.build import analyse
    from lossbench.report.document import verdict_table, verdict_text
    from lossbench.report.render import to_text

    for seed in (0, 1):
        write_run(tmp_path / "runs" / f"iris_{seed}", data="iris", task="multiclass",
                  head="logits", loss="cross_entropy", seed=seed,
                  metrics=study_metrics(0, seed))  # fmt: skip
        write_run(tmp_path / "runs" / f"ink_{seed}", data="mnist_ink", task="dense_binary",
                  head="logits", loss="bce_with_logits", seed=seed,
                  metrics={**study_metrics(0, seed), "test/miou": 0.6 + seed / 100})  # fmt: skip
    study = analyse([tmp_path / "runs"], tmp_path / "report", metric="test/miou")
    rows = {row[0]: row[1] for row in verdict_table(study).rows}
    assert rows["iris"] == "no completed run records test/miou"
    iris = next(v for v in study.verdicts if v.data == "iris")
    assert f"{rows['iris']}, so there is no verdict" in verdict_text(iris, "max")
    assert "no completed run records test/miou" in to_text(verdict_table(study))


def test_the_other_metrics_table_shows_the_holm_p_its_verdict_rests_on(tmp_path: Path) -> None:
    """Its verdicts are Holm-corrected within each metric; a raw p beside them read as
    "no detectable difference (p 0.0069)"."""
    rng = np.random.default_rng(0)
    setups = [("logits", "bce_with_logits"), ("sigmoid", "bce"), ("sigmoid", "mse")]
    for i, (head, loss) in enumerate(setups):
        for seed in range(4):
            nll = 0.3 + 0.05 * i + rng.normal(0, 0.02)
            metrics = {"test/nll": nll, "test/accuracy": 0.9 - nll / 4 + rng.normal(0, 0.01)}
            write_run(
                tmp_path / "m" / f"{head}_{loss}_{seed}", data="breast_cancer", task="binary",
                head=head, loss=loss, seed=seed, metrics=metrics,
            )  # fmt: skip
    build_report([tmp_path / "m"], tmp_path / "report")
    comparisons = pd.read_csv(tmp_path / "report" / "comparisons.csv")
    accuracy = comparisons[comparisons["metric"] == "test/accuracy"].set_index("setup")
    assert (accuracy["p_holm"] > accuracy["p_value"]).any()  # the correction shows
    text = (tmp_path / "report" / "report.md").read_text()
    for setup, row in accuracy.iterrows():
        line = next(
            ln for ln in text.splitlines() if ln.startswith(f"| {setup} | {row['verdict']} (Δ")
        )
        assert f"Holm p {row['p_holm']:.2g})" in line, line
        assert f"p {row['p_value']:.2g})" not in line.replace("Holm p", ""), line


def test_a_seed_with_tiny_values_that_differ_twofold_is_not_identical(tmp_path: Path) -> None:
    """The same pair on one seed of three, beside ordinary values: 2.8e-07 against 5.6e-07 (a
    split fitted almost perfectly, as wine's can be) is a difference, whatever the other seeds'
    size; the setups are neither identical nor tied at rank 1."""
    _write_values(
        tmp_path / "runs",
        {
            ("logits", "cross_entropy"): [0.5, 2.8e-07, 0.4],
            ("log_softmax", "nll"): [0.5, 5.6e-07, 0.4],
        },
    )
    report = build_report([tmp_path / "runs"], tmp_path / "report")
    line = _verdict_line(report)
    assert "identical" not in line and "= best" not in line
    comparisons = pd.read_csv(tmp_path / "report" / "comparisons.csv")
    assert not comparisons["note"].astype(str).str.contains("identical").any()


def test_the_same_value_on_every_seed_has_a_spread_of_exactly_zero() -> None:
    """numpy's mean of [0.4] * 3 is 0.4000000000000001, whose deviations gave a spread of
    6.8e-17 (printed 0.4 ± 1.7e-16)."""
    from lossbench.report.stats import estimate

    result = estimate([0.4, 0.4, 0.4])
    assert (result.mean, result.std, result.low, result.high) == (0.4, 0.0, 0.4, 0.4)
