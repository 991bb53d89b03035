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


@pytest.mark.parametrize(
    "variables",
    [("STUDY=quick",), ("CHECK=",), ("ARGS=trainer.max_epochs=2000",)],
    ids=["quick", "check-off", "args"],
)
def test_make_compare_without_the_check(variables: tuple[str, ...]) -> None:
    """The quick study has no longer variant; ARGS would reach the longer study too (a raised
    cap of 2000 would lower its 2500), so a study given ARGS is not checked unless asked."""
    found = commands("OUTPUTS=/o", *variables)
    assert len(found) == 2 and "study=longer" not in found[0]
    assert found[1].endswith("-full") or found[1].endswith("-quick")


def test_make_compare_checks_a_study_given_args_where_asked() -> None:
    found = commands("OUTPUTS=/o", "ARGS=seed=0,1,2,3", "CHECK=longer")
    assert found[1].endswith("study=longer paths.output_dir=/o seed=0,1,2,3")
    assert found[2].endswith("--longer /o/studies/compare_all-longer")
