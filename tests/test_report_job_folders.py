"""The folders a job writes inside its own folder are never jobs: its loggers' ``logs/`` (which
holds a ``ModelCheckpoint``'s ``checkpoints/`` where it has no ``dirpath``), and the copies of
them an earlier attempt or a run trained with a lower cap left, set aside
(``logs-earlier-v1/``, ``logs-max_epochs300/``, ...). A completed run that holds them is not
reported as an unfinished job; a job killed before its ``metrics.json`` still is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_process import run_console
from lossbench.report.find import unfinished_jobs

#: Every folder a job may write in its own folder that holds a ``checkpoints/`` folder: the
#: loggers' (``record.LOGGER_FOLDERS``) and their set-aside copies (``record.EARLIER_SUFFIX``,
#: ``run_identity.kept_names``, versioned by ``aside_names.move_on_together``).
WRITTEN = [
    "logs",
    "tensorboard",
    "logs-earlier",
    "logs-earlier-v1",
    "logs-earlier-v12",
    "tensorboard-earlier",
    "tensorboard-earlier-v2",
    "logs-max_epochs300",
    "logs-max_epochs300-v1",
    "tensorboard-max_epochs300",
    "tensorboard-max_epochs300-v3",
    "checkpoints-earlier",
    "checkpoints-earlier-v1",
    "checkpoints-max_epochs300",
    "checkpoints-max_epochs300-v2",
]

#: A run whose checkpoint callback is Lightning's ModelCheckpoint without ``dirpath``: its files
#: go to the CSV logger's folder, ``<run>/logs/checkpoints/``.
MODEL_CHECKPOINT = (
    "data=iris",
    "trainer.max_epochs=2",
    "~callbacks.model_checkpoint",
    "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
    "+callbacks.mc.monitor=val/nll",
)


def job(folder: Path, *written: str, ended: bool = True) -> Path:
    """A job's folder as lossbench-train leaves it: ``config.yaml``, ``.hydra/``, each of
    ``written`` holding ``checkpoints/last.ckpt`` and ``metrics.csv``, and its ``metrics.json``
    where it ``ended``."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (folder / "config.yaml").write_text("seed: 0\n")
    for name in written:
        (folder / name / "checkpoints").mkdir(parents=True)
        (folder / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
        (folder / name / "metrics.csv").write_text("epoch\n0\n")
        (folder / name / "config.yaml").write_text("seed: 0\n")  # as if it were a job's
    if ended:
        (folder / "metrics.json").write_text("{}")
    return folder


@pytest.mark.parametrize("name", WRITTEN)
def test_a_folder_a_completed_job_wrote_is_no_unfinished_job(tmp_path: Path, name: str) -> None:
    run = job(tmp_path / "study" / "0_iris", name)
    assert unfinished_jobs([tmp_path / "study"]) == []
    assert unfinished_jobs([run]) == []
    assert unfinished_jobs([run / name]) == []  # given itself


@pytest.mark.parametrize("name", WRITTEN)
def test_a_killed_job_is_reported_and_not_the_folders_it_wrote(tmp_path: Path, name: str) -> None:
    """The control: a job stopped before its metrics.json is still an unfinished job, beside a
    completed one in its study folder (nested in a folder of studies), and only its own
    folder is named."""
    studies = tmp_path / "studies"
    job(studies / "a" / "0_iris", name)
    killed = job(studies / "a" / "1_iris", name, ended=False)
    assert unfinished_jobs([studies]) == [killed.resolve()]
    assert unfinished_jobs([killed]) == [killed.resolve()]


def test_a_loggers_version_folder_in_a_job_is_no_unfinished_job(tmp_path: Path) -> None:
    """W&B's ``<run>/<project>/<version>/checkpoints/`` (a ModelCheckpoint without dirpath under
    ``logger=wandb``), whose project folder is named by the config: inside a job's folder, a
    folder with ``checkpoints/`` alone is no job. A job started in it (its config.yaml) would
    be, and a killed job with checkpoints/ alone in a study folder still is."""
    version = job(tmp_path / "study" / "0_iris") / "lossbench" / "3tktskhi"
    (version / "checkpoints").mkdir(parents=True)
    (version / "checkpoints" / "epoch=1-step=2.ckpt").write_bytes(b"x")
    killed = tmp_path / "study" / "1_iris"
    (killed / "checkpoints").mkdir(parents=True)
    (killed / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert unfinished_jobs([tmp_path / "study"]) == [killed.resolve()]
    (version / "config.yaml").write_text("seed: 0\n")
    assert unfinished_jobs([tmp_path / "study"]) == [version.resolve(), killed.resolve()]


def test_a_study_or_job_named_like_a_logger_folder_is_still_walked(tmp_path: Path) -> None:
    """Only inside a job's folder are the names a job's own: a folder of studies named
    ``logs`` is walked, and an unfinished job in it is reported."""
    killed = job(tmp_path / "logs" / "study" / "logs-earlier", ended=False)
    assert unfinished_jobs([tmp_path]) == [killed.resolve()]


@pytest.mark.slow  # trains a run through lossbench-train, then reports it: about 15 s
def test_a_run_with_lightnings_model_checkpoint_reports_no_unfinished_job(tmp_path: Path) -> None:
    """A run whose ModelCheckpoint writes into ``<run>/logs/checkpoints/``, beside the copies
    set aside from its earlier attempts and a lower cap, and a killed job beside it in the study
    folder: lossbench-report warns of the killed job alone."""
    run = tmp_path / "study" / "0_iris"
    trained = run_console("train", *MODEL_CHECKPOINT, f"hydra.run.dir={run}", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert any((run / "logs" / "checkpoints").glob("*.ckpt")), sorted(run.rglob("*"))
    report = run_console("report", str(tmp_path / "study"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "no metrics.json" not in report.stdout + report.stderr
    for name in ("logs-earlier", "logs-earlier-v1", "logs-max_epochs1", "logs-max_epochs1-v1"):
        shutil.copytree(run / "logs", run / name)
    killed = tmp_path / "study" / "1_iris"
    shutil.copytree(run, killed, ignore=shutil.ignore_patterns("metrics.json"))
    report = run_console("report", str(tmp_path / "study"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    output = report.stdout + report.stderr
    assert f"1 job folder holds no metrics.json: {killed.resolve()}: " in output, output
    assert output.count("no metrics.json") == 1, output


@pytest.mark.slow  # trains a run through lossbench-train, then reports it: about 15 s
def test_a_run_logged_to_wandb_with_lightnings_model_checkpoint_is_no_unfinished_job(
    tmp_path: Path,
) -> None:
    """With logger=wandb a ModelCheckpoint without dirpath writes to
    ``<run>/lossbench/<version>/checkpoints/``: lossbench-report warns of no unfinished job."""
    pytest.importorskip("wandb")
    run = tmp_path / "study" / "0_iris"
    trained = run_console(
        "train", *MODEL_CHECKPOINT, "logger=wandb", f"hydra.run.dir={run}", cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    assert list(run.glob("lossbench/*/checkpoints/*.ckpt")), sorted(run.rglob("*"))
    report = run_console("report", str(tmp_path / "study"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "no metrics.json" not in report.stdout + report.stderr
