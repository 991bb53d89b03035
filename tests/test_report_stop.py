"""Stopping ``lossbench-report`` (Ctrl-C, SIGTERM) or a report failing on the way: one line,
exit status 130 or 143, and a report written whole or not at all, so that an earlier report in
the same folder stays as it was until the new one is complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cli_process import start_script
from lossbench.report import ReportError, build_report
from run_files import files_below
from run_records import write_run
from stop_signals import SIGNALS, WAIT, group_gone, posix
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


#: The step of the report's work that waits for the signal (``wait()``, :data:`stop_signals.
#: WAIT`: until the test makes the file GO, or 30 s).
#: ``drawing``: a figure being saved (in a drawing worker where there are two data sets and
#: two cores); ``writing``: the page, once the tables and report.md are written; ``moving``:
#: the files already moved into place, an earlier report's stale figures not yet removed.
_STEPS = {
    "drawing": """
import lossbench.report.plots as plots
save = plots._save
def slow_save(fig, path):
    wait()
    return save(fig, path)
plots._save = slow_save
""",
    "writing": """
import lossbench.report.build as build
to_html = build.to_html
def slow_to_html(*args):
    wait()
    return to_html(*args)
build.to_html = slow_to_html
""",
    "moving": """
import lossbench.report.build as build
remove_stale_files = build.remove_stale_files
def slow_remove_stale_files(*args):
    wait()
    return remove_stale_files(*args)
build.remove_stale_files = slow_remove_stale_files
""",
}


def _stop_report(
    tmp_path: Path, step: str, signum: int, *arguments: str, to_group: bool = False
) -> tuple[subprocess.Popen[str], str, str]:
    """Start ``lossbench-report ARGUMENTS`` as a shell does, send ``signum`` once ``step`` is
    reached (to its process group with ``to_group``, as a terminal's Ctrl-C), and wait for its
    end: the process, its stdout and stderr."""
    mark, go = tmp_path / "working", tmp_path / "go"
    code = f"MARK, GO = {str(mark)!r}, {str(go)!r}\n{WAIT}{_STEPS[step]}\n"
    code += "from lossbench.commands import report\nsys.exit(report())\n"
    process = start_script(
        code, *arguments, cwd=tmp_path, new_session=True, extra_env={"OMP_NUM_THREADS": "1"}
    )
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.02)
        if to_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        go.touch()  # a step that holds the signal goes on
        out, err = process.communicate(timeout=60)
        gone = group_gone(process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):  # what is left of it
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.communicate()
    assert gone, "a drawing worker of the stopped report is still running"
    return process, out, err


@posix
@pytest.mark.slow  # about 4 s each: a report's process, stopped on the way
@pytest.mark.parametrize(
    ("step", "to_group"),
    [("drawing", False), ("drawing", True), ("writing", False)],
    ids=["drawing", "drawing-to-the-group", "writing"],
)
@SIGNALS
def test_a_report_stopped_on_the_way_leaves_the_earlier_report_as_it_was(
    tmp_path, reported, step, to_group, signum, status, what
):
    """Stopped while it draws its figures (its drawing workers too) or writes its files, the
    report ends in one line, exit 130 (143), no traceback; the folder is as it was, byte for
    byte: the earlier report and the runs, nothing half-written, no hidden folder left."""
    study = tmp_path / "study"
    shutil.copytree(reported, study)
    before = files_below(study)
    assert "report.html" in before and "plots/wine_metrics.png" in before
    process, out, err = _stop_report(tmp_path, step, signum, str(study), to_group=to_group)
    assert process.returncode == status, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        f"lossbench: {what}. The report was not written to {study}; the earlier report there is "
        "as it was. Run the same command again."
    ]
    assert "report:" not in out
    assert files_below(study) == before


@posix
@pytest.mark.slow
@SIGNALS
def test_a_report_stopped_into_a_new_folder_leaves_no_folder(
    tmp_path, reported, signum, status, what
):
    out = tmp_path / "new" / "report"
    process, _, err = _stop_report(tmp_path, "writing", signum, str(reported), "--out", str(out))
    assert process.returncode == status, err[-2000:]
    assert err.strip().splitlines() == [
        f"lossbench: {what}. The report was not written to {out}. Run the same command again."
    ]
    assert not (tmp_path / "new").exists()


@posix
@pytest.mark.slow
@SIGNALS
def test_a_stop_while_the_report_is_moved_into_place_waits_for_the_moves(
    tmp_path, reported, signum, status, what
):
    """A stop that lands while the finished report's files are moved into place is held until
    they are: the folder holds the whole new report (and the earlier report's figures it has
    not are gone), and the line says the report was written."""
    study = tmp_path / "study"
    shutil.copytree(reported, study)
    # a figure of an earlier report (drawn by matplotlib, as a report's are) that this one has not
    shutil.copy(study / "plots" / "wine_metrics.png", study / "plots" / "wine_learning_rate.png")
    process, _, err = _stop_report(tmp_path, "moving", signum, str(study))
    assert process.returncode == status, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        f"lossbench: {what}. The report was written: {study / 'report.html'}."
    ]
    fresh = tmp_path / "fresh"
    shutil.copytree(reported, fresh, ignore=shutil.ignore_patterns("report.*", "*.csv", "plots"))
    build_report([fresh])  # the same report, not stopped
    written, whole = files_below(study), files_below(fresh)
    assert {name for name in written if not name.endswith(("metrics.json", "config.yaml"))} == {
        name for name in whole if not name.endswith(("metrics.json", "config.yaml"))
    }  # no hidden folder, no stale figure
    for name in ("summary.csv", "comparisons.csv", "plots/breast_cancer_metrics.png"):
        assert written[name] == whole[name], name


@pytest.mark.slow
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
    before = files_below(study)
    with pytest.raises(OSError, match="No space left"):
        build_report([study])
    assert files_below(study) == before
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
