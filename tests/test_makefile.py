"""`make compare` as the README gives it: the commands it runs (``make -n`` prints them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def commands(*variables: str) -> list[str]:
    """The lossbench commands ``make compare`` would run with ``variables``."""
    out = subprocess.run(
        ["make", "-n", "compare", *variables], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    return [" ".join(line.split()) for line in out.splitlines() if "lossbench-" in line]


def test_make_compare_checks_the_full_study_against_the_same_study_trained_longer() -> None:
    assert commands("OUTPUTS=/o") == [
        ".venv/bin/lossbench-train -m experiment=compare_all study=full paths.output_dir=/o",
        ".venv/bin/lossbench-train -m experiment=compare_all study=longer paths.output_dir=/o",
        ".venv/bin/lossbench-report /o/studies/compare_all-full "
        "--longer /o/studies/compare_all-longer",
    ]


@pytest.mark.parametrize("variables", [("STUDY=quick",), ("CHECK=",)], ids=["quick", "check-off"])
def test_make_compare_without_the_check(variables: tuple[str, ...]) -> None:
    """The quick study has no longer variant; CHECK= leaves the longer study out."""
    found = commands("OUTPUTS=/o", *variables)
    assert len(found) == 2 and "study=longer" not in found[0]
    assert "--longer" not in found[1]


def test_a_raised_cap_reaches_the_study_and_2_5_times_it_the_longer_study() -> None:
    """The report's advice, a higher cap (and patience), sets the study's; the longer study
    gets 2.5x each where that is more than its own 2500 / 50 (given as is, 2000 would lower its
    cap, a config of its own that a study never overwrites: every job "not run", exit 2)."""
    found = commands(
        "OUTPUTS=/o", "ARGS=trainer.max_epochs=2000 early_stopping.patience=30 seed=0,1,2,3"
    )
    assert found[0].endswith("trainer.max_epochs=2000 early_stopping.patience=30 seed=0,1,2,3")
    assert found[1].endswith(
        "study=longer paths.output_dir=/o seed=0,1,2,3 trainer.max_epochs=5000 "
        "early_stopping.patience=75"
    )
    assert found[2].endswith("--longer /o/studies/compare_all-longer")


@pytest.mark.parametrize(
    "args",
    ["trainer.max_epochs=800", "'trainer.max_epochs=2000'", "+trainer.max_epochs=[1000,2000]"],
)
def test_a_cap_that_needs_no_longer_cap_is_left_out_of_the_longer_study(args: str) -> None:
    """A cap under 1000 (2.5x is under 2500), quoted, or swept: the longer study keeps its own."""
    longer = commands("OUTPUTS=/o", f"ARGS={args}")[1]
    assert (
        longer == ".venv/bin/lossbench-train -m experiment=compare_all study=longer "
        "paths.output_dir=/o"
    )
