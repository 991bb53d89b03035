"""The report's overview across data sets: one block per data set in the Friedman test.

The seeds of one data set share it, and so whatever favours one setup on it: they are no
independent blocks. Each test builds a frame of runs the way :mod:`lossbench.report` loads
them and checks the overview against scipy on the setups' means over the seeds.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lossbench.report.document import _overview
from lossbench.report.overview import MIN_BLOCKS, Family, cd_diagram, family_overview
from lossbench.report.render import Block, Heading, Image, Table, Text
from run_records import write_run

SETUPS = ("a", "b", "c", "d")


def runs_of(values: np.ndarray, task: str = "multiclass") -> pd.DataFrame:
    """Completed runs with ``values[data, seed, setup]`` as test/nll: data sets d0, d1, ...,
    seeds 0, 1, ..., setups :data:`SETUPS`."""
    n_data, n_seeds, n_setups = values.shape
    return pd.DataFrame(
        [
            {"data": f"d{i}", "task": task, "status": "completed", "seed": seed,
             "setup": SETUPS[k], "test/nll": float(values[i, seed, k])}
            for i in range(n_data)
            for seed in range(n_seeds)
            for k in range(n_setups)
        ]
    )  # fmt: skip


def with_data_effects(n_data: int, n_seeds: int, seed: int = 0) -> np.ndarray:
    """test/nll with a setup effect per data set, shared by its seeds, and seed noise."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 0.05, size=(n_data, 1, len(SETUPS)))
    noise = rng.normal(0.0, 0.005, size=(n_data, n_seeds, len(SETUPS)))
    return 0.3 + effect + noise


def scipy_on_means(values: np.ndarray) -> tuple[dict[str, float], float]:
    """Mean ranks over the data sets of the setups' means over seeds, and scipy's Friedman p."""
    means = values.mean(axis=1)
    ranks = stats.rankdata(means, axis=1).mean(axis=0)
    p = stats.friedmanchisquare(*means.T).pvalue
    return dict(zip(SETUPS, ranks, strict=True)), float(p)


def test_five_data_sets_of_three_seeds_are_five_blocks() -> None:
    """N = 5 data sets, not 15 (data set, seed) pairs: the p-value and mean ranks are scipy's
    on the setups' means over the seeds."""
    values = with_data_effects(5, 3)
    (family,) = family_overview(runs_of(values), "test/nll", "min")
    expected_ranks, expected_p = scipy_on_means(values)
    assert family.n_blocks == 5
    assert family.seeds == {f"d{i}": [0, 1, 2] for i in range(5)}
    assert family.mean_ranks.to_dict() == pytest.approx(expected_ranks)
    assert family.p_value == pytest.approx(expected_p, rel=1e-12)
    assert family.cd == pytest.approx(stats.studentized_range.ppf(0.95, 4, np.inf) / 2**0.5
                                      * math.sqrt(4 * 5 / (6 * 5)), rel=1e-3)  # fmt: skip


def test_two_data_sets_of_three_seeds_have_no_friedman_test() -> None:
    """6 (data set, seed) pairs used to pass for 6 blocks; 2 data sets are too few for the
    test. The mean ranks over the 2 data sets are given, with a note on why there is none."""
    values = with_data_effects(2, 3)
    (family,) = family_overview(runs_of(values), "test/nll", "min")
    expected_ranks, _ = scipy_on_means(values)
    assert family.n_blocks == 2 < MIN_BLOCKS
    assert math.isnan(family.p_value) and math.isnan(family.cd) and family.result is None
    assert family.mean_ranks.to_dict() == pytest.approx(expected_ranks)
    assert family.note.startswith(
        "no Friedman test: it needs at least 5 data sets, and this family has 2; the seeds of "
        "one data set are no independent blocks"
    )
    assert cd_diagram(family, Path("unused.png")) is None


def test_a_data_sets_value_averages_the_seeds_most_setups_have() -> None:
    """An extra seed one setup was trained with is not averaged (a's mean would make it best
    on d0); a setup whose run failed on a seed the others have has no value on that data set,
    and is left out of the family."""
    values = with_data_effects(5, 3, seed=1)
    runs = runs_of(values)
    extra = {"data": "d0", "task": "multiclass", "status": "completed", "seed": 3,
             "setup": "a", "test/nll": -10.0}  # fmt: skip
    failed = (runs["data"] == "d1") & (runs["seed"] == 2) & (runs["setup"] == "d")
    runs.loc[failed, ["status", "test/nll"]] = ["failed", np.nan]
    runs = pd.concat([runs, pd.DataFrame([extra])], ignore_index=True)
    (family,) = family_overview(runs, "test/nll", "min")
    assert family.left_out == ["d"] and family.n_blocks == 5
    assert family.seeds["d0"] == [0, 1, 2]
    kept = values[:, :, :3]
    means = kept.mean(axis=1)
    expected = dict(zip(SETUPS[:3], stats.rankdata(means, axis=1).mean(axis=0), strict=True))
    assert family.mean_ranks.to_dict() == pytest.approx(expected)
    assert family.p_value == pytest.approx(stats.friedmanchisquare(*means.T).pvalue, rel=1e-12)


def overview_of(families: list[Family], figures: dict[str, Path] | None = None) -> list[Block]:
    """The report's overview blocks for ``families`` (and their diagrams ``figures``)."""
    study = SimpleNamespace(
        overview=families, metric="test/nll", verdicts=[], overview_figures=figures or {}
    )
    return _overview(study)  # type: ignore[arg-type]


def test_the_report_says_why_two_data_sets_have_no_test() -> None:
    values = with_data_effects(2, 3)
    blocks = overview_of(family_overview(runs_of(values), "test/nll", "min"))
    (heading,) = [b for b in blocks if isinstance(b, Heading) and b.level == 3]
    assert heading.text == "multiclass: d0, d1 (2 data sets, mean over 3 seeds each)"
    texts = [b.text for b in blocks if isinstance(b, Text)]
    assert any(t.startswith("No Friedman test: it needs at least 5 data sets") for t in texts)
    assert not any("Friedman p =" in t for t in texts)
    (table,) = [b for b in blocks if isinstance(b, Table)]
    assert list(table.header) == ["setup", "mean rank (descriptive, no test)"]


def test_no_difference_found_is_said_next_to_the_diagram(tmp_path: Path) -> None:
    """Null data (no setup effect): Friedman p >= 0.05. The diagram is still drawn, as
    autorank's result has a critical difference, but the text and caption say the test
    found no difference, so its bars are no separations."""
    rng = np.random.default_rng(3)
    values = 0.3 + rng.normal(0.0, 0.05, size=(6, 3, len(SETUPS)))
    (family,) = family_overview(runs_of(values), "test/nll", "min")
    _, expected_p = scipy_on_means(values)
    assert family.p_value == pytest.approx(expected_p, rel=1e-12) and expected_p >= 0.05
    path = cd_diagram(family, tmp_path / "cd.png")
    assert path is not None and path.read_bytes().startswith(b"\x89PNG")
    blocks = overview_of([family], {family.task: path})
    texts = [b.text for b in blocks if isinstance(b, Text)]
    assert any(
        "the Friedman test finds no difference between the setups at α = 0.05" in t
        and "no separations" in t
        for t in texts
    )
    (image,) = [b for b in blocks if isinstance(b, Image)]
    assert "finds no difference" in image.title


# ------------------------------------------------ whole reports of 1, 2 and 3 data sets

#: Three binary setups and their test/nll on each data set (seed s adds 0.01 * s to each):
#: the order of the setups differs from one data set to the next.
REPORT_SETUPS = (
    ("logits", "bce_with_logits"),
    ("sigmoid", "bce"),
    ("sigmoid", "manual_bce"),
)
REPORT_NLL = {
    "breast_cancer": (0.30, 0.40, 0.50),
    "other_binary": (0.45, 0.35, 0.55),
    "third_binary": (0.60, 0.50, 0.40),
}


def write_study(root: Path, data: list[str]) -> Path:
    """Run records of the :data:`REPORT_SETUPS` on ``data``, 3 seeds each, as a study leaves
    them."""
    for name in data:
        for (head, loss), nll in zip(REPORT_SETUPS, REPORT_NLL[name], strict=True):
            for seed in (0, 1, 2):
                value = nll + 0.01 * seed
                metrics = {
                    "test/nll": value,
                    "test/accuracy": 1 - value / 2,
                    "test/ece": value / 10,
                    "val/nll": value + 0.01,
                }
                write_run(
                    root / name / f"{head}_{loss}" / f"seed{seed}", data=name, task="binary",
                    head=head, loss=loss, seed=seed, metrics=metrics,
                )  # fmt: skip
    return root


def overview_section(markdown: str) -> str:
    return markdown.split("## Overview across data sets")[1].split("## Per data set")[0]


def table_rows(section: str) -> list[list[str]]:
    """The body rows of the first Markdown table in ``section``, cells stripped."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.mark.parametrize(
    ("n_data", "heading", "header", "ranks"),
    [
        (
            1,
            "### binary: breast_cancer (1 data set, mean over 3 seeds)",
            "rank (descriptive, no test)",
            [("logits + bce_with_logits", "1"), ("sigmoid + bce", "2"),
             ("sigmoid + manual_bce", "3")],
        ),
        (
            2,
            "### binary: breast_cancer, other_binary (2 data sets, mean over 3 seeds each)",
            "mean rank (descriptive, no test)",
            [("logits + bce_with_logits", "1.5"), ("sigmoid + bce", "1.5"),
             ("sigmoid + manual_bce", "3")],
        ),
        pytest.param(  # the slowest report of the three (4-8 s); 1 and 2 stay in the default suite
            3,
            "### binary: breast_cancer, other_binary, third_binary (3 data sets, mean over 3 "
            "seeds each)",
            "mean rank (descriptive, no test)",
            [("sigmoid + bce", "1.67"), ("logits + bce_with_logits", "2"),
             ("sigmoid + manual_bce", "2.33")],
            marks=pytest.mark.slow,
        ),
    ],
    ids=["1-data-set", "2-data-sets", "3-data-sets"],
)  # fmt: skip
def test_the_overview_of_a_study_of_few_data_sets_ranks_without_a_test(
    tmp_path: Path, n_data: int, heading: str, header: str, ranks: list[tuple[str, str]]
) -> None:
    """1, 2 and 3 data sets (fewer than :data:`MIN_BLOCKS`): the report's overview has one
    family, its mean ranks over the data sets (a single data set's ranks), a note on why there
    is no Friedman test and no critical-difference diagram."""
    from lossbench.report.build import write_report

    data = list(REPORT_NLL)[:n_data]
    report = write_report([write_study(tmp_path / "runs", data)], tmp_path / "report")
    (family,) = report.study.overview
    assert (family.task, family.data, family.n_blocks) == ("binary", data, n_data)
    assert family.seeds == {name: [0, 1, 2] for name in data}
    assert family.left_out == [] and family.unranked == []
    assert [(s, f"{r:.3g}") for s, r in family.mean_ranks.items()] == ranks
    assert math.isnan(family.p_value) and family.result is None
    assert report.study.overview_figures == {}
    section = overview_section(report.markdown.read_text())
    assert heading in section.splitlines()
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in lines[0].strip("|").split("|")] == ["setup", header]
    assert [tuple(row) for row in table_rows(section)] == ranks
    described = "ranks describe this data set" if n_data == 1 else (
        f"mean ranks describe these {n_data} data sets")  # fmt: skip
    assert f"this family has {n_data};" in section and described in section
    assert "critical-difference diagram" not in section and "Friedman p =" not in section
    html = (report.markdown.parent / "report.html").read_text()
    assert heading.removeprefix("### ") in html
    assert not list((report.markdown.parent / "plots").glob("*cd*"))


@pytest.mark.slow  # a whole report of 3 data sets: 5-9 s; two families: also in test_report.py
def test_three_data_sets_in_two_task_families_give_one_ranking_each(tmp_path: Path) -> None:
    """2 binary data sets and 1 multi-class one: two families, each ranked over its own data
    sets only (the multi-class setups never meet the binary ones), in task order."""
    from lossbench.report.build import write_report

    root = write_study(tmp_path / "runs", ["breast_cancer", "other_binary"])
    multiclass = (("logits", "cross_entropy", 0.5), ("log_softmax", "nll", 0.4))
    for head, loss, nll in multiclass:
        for seed in (0, 1, 2):
            write_run(
                root / "wine" / f"{head}_{loss}" / f"seed{seed}", data="wine",
                task="multiclass", head=head, loss=loss, seed=seed,
                metrics={"test/nll": nll + 0.01 * seed, "test/accuracy": 0.8,
                         "val/nll": nll + 0.02},
            )  # fmt: skip
    report = write_report([root], tmp_path / "report")
    binary, multi = report.study.overview
    assert (binary.task, binary.data, binary.n_blocks) == (
        "binary", ["breast_cancer", "other_binary"], 2)  # fmt: skip
    assert (multi.task, multi.data, multi.n_blocks) == ("multiclass", ["wine"], 1)
    assert multi.mean_ranks.to_dict() == {"log_softmax + nll": 1.0, "logits + cross_entropy": 2.0}
    section = overview_section(report.markdown.read_text())
    headings = [line for line in section.splitlines() if line.startswith("### ")]
    assert headings == [
        "### binary: breast_cancer, other_binary (2 data sets, mean over 3 seeds each)",
        "### multiclass: wine (1 data set, mean over 3 seeds)",
    ]
    binary_part, multi_part = section.split("### multiclass")
    assert [row[0] for row in table_rows(binary_part)] == [
        "logits + bce_with_logits", "sigmoid + bce", "sigmoid + manual_bce"]  # fmt: skip
    assert table_rows(multi_part) == [["log_softmax + nll", "1"], ["logits + cross_entropy", "2"]]
