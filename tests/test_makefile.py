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


def fake_venv(root: Path) -> Path:
    """A VENV whose lossbench commands only note that they ran (in ``<root>/ran``)."""
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("lossbench-train", "lossbench-report"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{root}/ran"\n')
        script.chmod(0o755)
    (root / "venv" / ".installed").touch()
    return root / "venv"


def make_compare(tmp_path: Path, args: str) -> subprocess.CompletedProcess[str]:
    """``make compare`` for real, with lossbench's commands replaced and nothing installed."""
    venv = fake_venv(tmp_path)
    return subprocess.run(
        ["make", "compare", f"VENV={venv}", "-o", f"{venv}/.installed", "STUDY=quick",
         f"OUTPUTS={tmp_path}/a", f"ARGS={args}"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


MOVED_ROOT = ["paths.output_dir=/tmp/c", "(make compare OUTPUTS=/tmp/c)"]
MOVED_SWEEP = ["hydra.sweep.dir cannot be moved through make compare", "OUTPUTS=<dir>",
               "run lossbench-train -m and lossbench-report"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ("paths.output_dir=/tmp/c seed=0", MOVED_ROOT),
        ("+paths.output_dir=/tmp/c", MOVED_ROOT),
        ("'++paths.output_dir=/tmp/c'", MOVED_ROOT),
        ("hydra.sweep.dir=/tmp/c", MOVED_SWEEP),
        ('seed=0 "++hydra.sweep.dir=/tmp/c"', ["hydra.sweep.dir=/tmp/c", *MOVED_SWEEP]),
        ("study=full", ["ARGS sets study=full,", "STUDY=quick", "STUDY=<full, quick or longer>"]),
        ("experiment=compare_real", ["experiment=compare_real", "EXPERIMENT=<experiment>"]),
        ("study_name=mine", ["study_name=mine", "leave them to EXPERIMENT= and STUDY="]),
    ],
    ids=[
        "output-dir",
        "plus",
        "quoted-plus-plus",
        "sweep-dir",
        "quoted-sweep-dir",
        "study",
        "experiment",
        "study-name",
    ],
)
def test_args_that_move_the_study_are_refused_before_anything_runs(
    tmp_path: Path, args: str, words: list[str]
) -> None:
    """The report reads OUTPUTS: an ARGS that trains the study elsewhere would report another
    (older) study's runs; make stops with one line before the first command."""
    result = make_compare(tmp_path, args)
    assert result.returncode != 0
    assert not (tmp_path / "ran").exists()
    message = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and "make compare refused: ARGS sets" in message[0], result.stderr
    assert f"OUTPUTS={tmp_path}/a" in message[0] or f"{tmp_path}/a/studies" in message[0]
    for word in words:
        assert word in message[0]


def test_args_that_keep_the_study_in_place_run_every_command(tmp_path: Path) -> None:
    result = make_compare(tmp_path, "seed=0 trainer.max_epochs=5")
    assert result.returncode == 0, result.stderr
    ran = (tmp_path / "ran").read_text().splitlines()
    assert [line.split()[0] for line in ran] == ["lossbench-train", "lossbench-report"]
    assert ran[0].endswith(f"paths.output_dir={tmp_path}/a seed=0 trainer.max_epochs=5")
