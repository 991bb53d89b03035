"""The run record's ``environment``: the git commit of the code and whether its working tree
differed from that commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import lossbench
from lossbench import record


def _git(*arguments: str, cwd: Path) -> None:
    subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def package_in(tmp_path, monkeypatch):
    """Point lossbench's source folder at ``tmp_path/src/lossbench`` for the git lookups."""
    folder = tmp_path / "src" / "lossbench"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    monkeypatch.setattr(lossbench, "__file__", str(folder / "__init__.py"))
    return tmp_path


def test_environment_marks_a_modified_working_tree_dirty(package_in):
    _git("init", "-q", cwd=package_in)
    _git("add", ".", cwd=package_in)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c", cwd=package_in)
    clean = record._environment.__wrapped__()
    assert clean["git_commit"] and clean["git_dirty"] is False
    (package_in / "src" / "lossbench" / "__init__.py").write_text("x = 1\n")
    dirty = record._environment.__wrapped__()
    assert dirty["git_commit"] == clean["git_commit"] and dirty["git_dirty"] is True


def test_environment_outside_a_git_checkout_has_no_commit_and_no_dirty_flag(
    package_in, monkeypatch
):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(package_in))
    env = record._environment.__wrapped__()
    assert env["git_commit"] is None and env["git_dirty"] is None


def test_a_config_of_ones_own_in_a_run_directory_is_refused_and_a_runs_own_is_not(tmp_path):
    """lossbench-train writes config.yaml into the run's directory: an interrupted run's
    (lossbench's keys; or damaged, beside Hydra's .hydra/) is trained over, a file of one's own
    is refused; with a run record beside it, refuse_completed decides."""
    config = tmp_path / "config.yaml"
    config.write_text("data: {name: iris}\nloss: {name: cross_entropy}\nseed: 3\n")
    record.refuse_foreign_config(tmp_path)
    config.write_text("data: [\n")  # damaged
    with pytest.raises(record.DamagedRunError, match="is not readable YAML"):
        record.refuse_foreign_config(tmp_path)
    (tmp_path / ".hydra").mkdir()
    record.refuse_foreign_config(tmp_path)  # a run's own, cut short
    config.write_text("[1, 2]\n")
    record.refuse_foreign_config(tmp_path)
    for own in ("learning_rate: 0.1\n", "data: mine.csv\nloss: {name: mse}\nseed: 0\n"):
        config.write_text(own)
        with pytest.raises(record.ForeignConfigError, match="is a file lossbench did not write"):
            record.refuse_foreign_config(tmp_path)
    (tmp_path / "metrics.json").write_text("{}")
    record.refuse_foreign_config(tmp_path)
