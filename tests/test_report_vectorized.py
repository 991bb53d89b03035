"""The report of a vectorized sweep: its members' fit seconds are the group's, and it says so."""

from __future__ import annotations

import pytest

from lossbench.report import build_report
from test_vectorized import _sweep

NOTE = "**Fit seconds of vectorized runs.**"


def _report(monkeypatch, tmp_path, capfd, launcher: str) -> str:
    sweep = tmp_path / launcher
    args = (f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}", "data=iris")
    args += ("trainer.max_epochs=2", "logger=none", "seed=0,1,2")
    if launcher == "vectorized":
        args += ("hydra.launcher.n_jobs=1",)
    _sweep(monkeypatch, tmp_path, capfd, *args, launcher=launcher)
    build_report([sweep], tmp_path / f"report-{launcher}")
    return (tmp_path / f"report-{launcher}" / "report.md").read_text(encoding="utf-8")


def test_the_report_says_a_vectorized_groups_fit_seconds_are_the_groups(
    monkeypatch, tmp_path, capfd
):
    text = _report(monkeypatch, tmp_path, capfd, "vectorized")
    assert f"{NOTE} 3 of the 3 runs trained as members of vectorized groups (up to 3 " in text
    assert "the same for every member, not the member's own" in text


@pytest.mark.slow
def test_the_report_of_runs_trained_alone_has_no_such_note(monkeypatch, tmp_path, capfd):
    assert NOTE not in _report(monkeypatch, tmp_path, capfd, "basic")
