"""Which runs a report's learning-rate choice and data sets rest on: a ``--metric`` that some
data sets do not record on the validation split, and refused runs (no config.yaml) of a data
set split by its settings. Run directories written by hand, no training."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from cli_process import run_module
from lossbench.report import ReportError
from lossbench.report.build import summarize_runs
from lossbench.report.collect import load_runs
from run_records import write_run

REFUSED = "head 'softmax' + loss 'bce' cannot train a binary task"


def write_rates(
    root: Path, data: str, task: str, rates: dict[float, float], metrics: tuple[str, ...]
) -> None:
    """Two seeds of logits + bce_with_logits on ``data`` at each rate (``{lr: validation
    value}``): ``val/`` and ``test/`` of each of ``metrics`` (the test value 0.1 above)."""
    for lr, value in rates.items():
        for seed in (0, 1):
            values = {
                f"{stage}/{m}": value + seed / 100 + (0.1 if stage == "test" else 0.0)
                for m in metrics
                for stage in ("val", "test")
            }
            write_run(
                root / data / f"lr{lr}" / f"seed{seed}", data=data, task=task, head="logits",
                loss="bce_with_logits", seed=seed, lr=lr, metrics=values,
            )  # fmt: skip


@pytest.mark.slow
def test_a_data_set_that_does_not_record_the_selection_metric_is_left_out_and_named(
    tmp_path: Path,
) -> None:
    """--metric test/map: only the multi-label data set records val/map. wine's rates cannot
    be chosen on it (before: every wine setup at its grid's smallest rate, as if chosen): wine
    is in no table or verdict, and a warning and report.md say why and what to pass instead."""
    runs = tmp_path / "study"
    write_rates(runs, "synthetic_multilabel", "multilabel", {0.001: 0.5, 0.01: 0.8}, ("nll", "map"))
    write_rates(runs, "wine", "multiclass", {0.001: 0.9, 0.01: 0.1}, ("nll",))
    out = tmp_path / "report"
    done = run_module("lossbench.report.cli", str(runs), "--metric", "test/map", "--out", str(out))
    assert done.returncode == 0, done.stderr
    warning = next(line for line in done.stderr.splitlines() if "left out" in line)
    assert warning.startswith("lossbench: warning: wine left out of the report")
    for words in ("val/map", "--metric test/map", "synthetic_multilabel", "--metric test/nll"):
        assert words in warning
    assert "wine" not in done.stdout  # the verdict table
    summary = pd.read_csv(out / "summary.csv")
    assert summary["data"].tolist() == ["synthetic_multilabel"]
    assert summary["lr"].tolist() == [0.01]  # the multi-label data set is tuned on val/map
    assert set(pd.read_csv(out / "results.csv")["data"]) == {"synthetic_multilabel"}
    text = (out / "report.md").read_text()
    note = next(line for line in text.splitlines() if "left out of the report" in line)
    assert "wine" in note and "`val/map`" in note and "`--metric test/nll`" in note
    assert "## wine" not in text
    assert not [p.name for p in (out / "plots").glob("wine_*")]


def test_a_metric_that_no_data_set_records_on_the_validation_split_is_refused(
    tmp_path: Path,
) -> None:
    """test/score is recorded, val/score nowhere: no learning rate can be chosen on it (before:
    a report with every setup at its smallest rate), so the report is refused."""
    for lr in (0.001, 0.01):
        for seed in (0, 1):
            write_run(
                tmp_path / "study" / f"lr{lr}" / f"seed{seed}", data="wine", task="multiclass",
                head="logits", loss="cross_entropy", seed=seed, lr=lr,
                metrics={"test/nll": 0.3, "val/nll": 0.3 + lr, "test/score": 0.5 + lr},
            )  # fmt: skip
    with pytest.raises(ReportError, match=r"no completed run records val/score.*test/nll"):
        summarize_runs([tmp_path / "study"], tmp_path / "report", metric="test/score")
    done = run_module(
        "lossbench.report.cli", str(tmp_path / "study"), "--metric", "test/score",
        "--out", str(tmp_path / "report"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("lossbench: refused: --metric test/score")
    assert not (tmp_path / "report" / "report.md").exists()


def test_a_setup_that_does_not_record_the_selection_metric_is_named(tmp_path: Path) -> None:
    """In a data set that records val/map, one setup's completed runs do not: its rate cannot
    be chosen on it (before: its grid's smallest rate, with no word). It is named, on stderr
    and in the text; the other setup is tuned on val/map."""
    runs = tmp_path / "study"
    write_rates(runs, "synthetic_multilabel", "multilabel", {0.001: 0.5, 0.01: 0.8}, ("nll", "map"))
    for lr in (0.001, 0.01):
        for seed in (0, 1):
            write_run(
                runs / "mse" / f"lr{lr}" / f"seed{seed}", data="synthetic_multilabel",
                task="multilabel", head="sigmoid", loss="mse", seed=seed, lr=lr,
                metrics={"val/nll": 0.4, "test/nll": 0.4, "test/map": 0.7},
            )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = summarize_runs([runs], tmp_path / "report", metric="test/map")
    named = [str(w.message) for w in caught if "sigmoid + mse" in str(w.message)]
    assert len(named) == 1
    assert named[0].startswith("synthetic_multilabel / sigmoid + mse: none of its completed")
    assert "val/map" in named[0] and "smallest rate" in named[0]
    lr = study.summary.set_index("setup")["lr"].to_dict()
    assert lr == {"logits + bce_with_logits": 0.01, "sigmoid + mse": 0.001}
    from lossbench.report.document import build_document
    from lossbench.report.render import to_markdown

    text = to_markdown(build_document(study), tmp_path)
    assert "synthetic_multilabel / sigmoid + mse: none of its completed runs" in text


def write_split_study(
    root: Path, val_fraction: float, *, hydra: dict[str, Any] | None = None, nll: float = 0.3
) -> list[Path]:
    """A study of breast_cancer at ``data.val_fraction``: logits + bce_with_logits completed
    on two seeds, softmax + bce refused before its config.yaml was written (its job folder's
    ``.hydra/config.yaml`` holds ``hydra`` where given); returns the refused runs' folders."""
    refused = []
    for seed in (0, 1):
        run = write_run(
            root / "breast_cancer" / "logits_bce_with_logits" / f"seed{seed}",
            data="breast_cancer", task="binary", head="logits", loss="bce_with_logits",
            seed=seed, setup="logits_bce_with_logits",
            metrics={"test/nll": nll + seed / 100, "val/nll": nll},
        )  # fmt: skip
        config = yaml.safe_load((run / "config.yaml").read_text())
        config["data"]["val_fraction"] = val_fraction
        (run / "config.yaml").write_text(yaml.safe_dump(config))
        run = write_run(
            root / "breast_cancer" / "softmax_bce" / f"seed{seed}", data="breast_cancer",
            task=None, head="softmax", loss="bce", seed=seed, setup="softmax_bce",
            error=REFUSED, config=False,
        )  # fmt: skip
        if hydra is not None:
            (run / ".hydra").mkdir()
            (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(hydra))
        refused.append(run)
    return refused


def test_refused_runs_join_the_data_set_of_their_settings_not_one_of_their_own(
    tmp_path: Path,
) -> None:
    """Two studies that differ in data.val_fraction, reported together: breast_cancer is split
    into two data sets. Its refused runs (no config.yaml) go to the one their job's Hydra
    record names, or where it names none, the one of the study folder they sit in; before,
    they made a third data set "breast_cancer" of refused runs alone, and the real ones lost
    their "not applicable" note."""
    hydra = {"seed": 0, "data": {"name": "breast_cancer", "val_fraction": 0.25}}
    by_hydra = write_split_study(tmp_path / "b", 0.25, hydra=hydra, nll=0.4)
    by_folder = write_split_study(tmp_path / "a", 0.2)
    runs = load_runs([tmp_path / "a", tmp_path / "b"])
    where = dict(zip(runs["run_dir"], runs["data"], strict=True))
    low, high = "breast_cancer (val_fraction=0.2)", "breast_cancer (val_fraction=0.25)"
    assert sorted(set(runs["data"])) == [low, high]
    assert [where[str(run)] for run in by_folder] == [low, low]
    assert [where[str(run)] for run in by_hydra] == [high, high]
    study = summarize_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "report")
    assert {v.data: v.not_applicable for v in study.verdicts} == {
        low: ["softmax_bce"],
        high: ["softmax_bce"],
    }


def test_a_refused_run_that_nothing_attributes_is_left_out_with_a_warning(tmp_path: Path) -> None:
    """Runs of both settings in one folder, and a refused run there whose job folder records
    no settings: it belongs to neither data set for sure, and makes none of its own."""
    root = tmp_path / "mixed"
    root.mkdir()
    for fraction, name in ((0.2, "low"), (0.25, "high")):
        write_split_study(tmp_path / name, fraction)
        for run in (tmp_path / name / "breast_cancer" / "logits_bce_with_logits").iterdir():
            run.rename(root / f"{name}_{run.name}")
    write_run(
        root / "refused", data="breast_cancer", task=None, head="softmax", loss="bce", seed=0,
        setup="softmax_bce", error=REFUSED, config=False,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = load_runs([root])
    assert sorted(set(runs["data"])) == [
        "breast_cancer (val_fraction=0.2)",
        "breast_cancer (val_fraction=0.25)",
    ]
    assert str(root / "refused") not in set(runs["run_dir"])
    from lossbench.report.collect import UnattributedRunWarning

    messages = [str(w.message) for w in caught if w.category is UnattributedRunWarning]
    assert len(messages) == 1 and str(root / "refused") in messages[0]
