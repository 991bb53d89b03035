"""A report written whole or not at all: one failing on the way leaves an earlier report in
the same folder as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lossbench.report import ReportError, build_report
from run_records import write_run
from test_report import SEEDS, STUDY, study_metrics


def _write_runs(root: Path, data: str) -> None:
    task, setups = STUDY[data]
    for i, (head, loss) in enumerate(setups):
        for seed in SEEDS:
            write_run(
                root / f"{data}_{head}_{loss}_{seed}",
                data=data, task=task, head=head, loss=loss, seed=seed,
                metrics=study_metrics(i, seed),
            )  # fmt: skip


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study folder with the report of its wine runs (written into the folder, the default
    ``--out``), then breast_cancer runs added: reporting it again changes every file of the
    report and adds figures."""
    study = tmp_path_factory.mktemp("reported") / "study"
    _write_runs(study, "wine")
    build_report([study])
    _write_runs(study, "breast_cancer")
    return study


def _files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included), as bytes, by relative path."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_report_that_fails_on_the_way_leaves_the_folder_as_it_was(
    tmp_path, reported, monkeypatch
):
    """An error while the report is written (a full disk, say) leaves no part of it: the
    earlier report as it was, and no folder where there was none."""
    import lossbench.report.build as build

    def full_disk(*args: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "to_html", full_disk)
    study = tmp_path / "study"
    shutil.copytree(reported, study)
    before = _files(study)
    with pytest.raises(OSError, match="No space left"):
        build_report([study])
    assert _files(study) == before
    with pytest.raises(OSError, match="No space left"):
        build_report([study], tmp_path / "new" / "report")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("name", ["report.html", "summary.csv", "plots"])
def test_a_name_of_the_report_taken_in_the_folder_is_refused_before_any_work(
    tmp_path, name
) -> None:
    write_run(
        tmp_path / "runs" / "a",
        data="iris", task="multiclass", head="logits", loss="nll", seed=0,
        metrics={"test/nll": 0.3},
    )  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    if name == "plots":
        (out / name).write_text("mine")
    else:
        (out / name).mkdir()
    with pytest.raises(ReportError, match=f"{out / name} is in the way of the report"):
        build_report([tmp_path / "runs"], out)
    assert [p.name for p in out.iterdir()] == [name]
