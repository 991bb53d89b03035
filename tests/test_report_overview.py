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
