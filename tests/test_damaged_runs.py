"""Run directories lossbench-train must not train over blindly, through the command line.

A damaged ``metrics.json`` or ``config.yaml`` (emptied, truncated, edited) in a sweep's job
directory refuses that job, naming the file, and leaves it as it is; the sweep's other jobs
train or are skipped as usual. A debug run's record is no result: a real run replaces it, and
a sweep run again with the same debug settings still skips it. (A single run's damaged files:
the rows ``rerun-run-with-*`` and ``resume-run-with-*`` of ``tests/test_refusals_cli.py``.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_process import run_console, run_module

ENV = {"OMP_NUM_THREADS": "1"}
QUICK = ("data=iris", "trainer.max_epochs=1", "logger=none")


def train(cwd: Path, *args: str):
    result = run_console("train", *args, cwd=cwd, timeout=600, extra_env=ENV)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    return result, output


def job(study: Path, number: int) -> Path:
    (found,) = study.glob(f"{number}_*")
    return found


@pytest.mark.slow  # two sweeps in fresh processes for each launcher
@pytest.mark.parametrize("launcher", ["vectorized", "basic"])
def test_a_sweep_refuses_the_jobs_with_damaged_files_and_skips_the_others(
    tmp_path: Path, launcher: str
) -> None:
    sweep = ("-m", f"hydra/launcher={launcher}", *QUICK, "seed=0,1,2", "hydra.sweep.dir=study")
    result, output = train(tmp_path, *sweep)
    assert result.returncode == 0, output[-3000:]
    study = tmp_path / "study"
    (job(study, 0) / "metrics.json").write_text("")
    (job(study, 1) / "config.yaml").write_text("data: [\n")
    kept = (job(study, 2) / "metrics.json").read_text()

    result, output = train(tmp_path, *sweep)

    assert result.returncode == 0, output[-3000:]
    assert f"refused: {job(study, 0) / 'metrics.json'} is damaged" in output
    assert f"refused: {job(study, 1) / 'config.yaml'} is not readable YAML (line 2:" in output
    assert "move the folder" in output and "lossbench never deletes it" in output
    assert "3/3 jobs ended (0 completed, 1 skipped, 2 refused, 0 failed)" in output
    if launcher == "vectorized":  # the launching line's parts add up to its jobs
        assert (
            "Launching 3 jobs: 0 in 0 vectorized groups, 0 alone, 1 already ended (skipped), "
            "2 refused (a damaged metrics.json or config.yaml, named above)"
        ) in output
    assert (job(study, 0) / "metrics.json").read_text() == ""  # left as they were
    assert (job(study, 1) / "config.yaml").read_text() == "data: [\n"
    assert (job(study, 2) / "metrics.json").read_text() == kept


@pytest.mark.slow  # three runs in fresh processes: about 12 s
def test_a_debug_run_that_resumed_an_interrupted_run_does_not_lock_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result, output = train(tmp_path, *QUICK, "trainer.max_epochs=2", "hydra.run.dir=run")
    assert result.returncode == 0, output[-3000:]
    (run / "metrics.json").unlink()  # as a run killed before it ended leaves it
    resume = ("data=iris", "logger=none", "trainer.max_epochs=4", "hydra.run.dir=run")

    result, output = train(tmp_path, *resume, "debug=fdr", "ckpt_path=last")
    assert result.returncode == 0, output[-3000:]
    assert json.loads((run / "metrics.json").read_text())["debug_run"]

    result, output = train(tmp_path, *resume, "ckpt_path=last")  # the real run replaces it
    assert result.returncode == 0, output[-3000:]
    record = json.loads((run / "metrics.json").read_text())
    assert (record["status"], record["debug_run"], record["epochs"]) == ("completed", None, 4)

    result, output = train(tmp_path, *resume, "trainer.max_epochs=6", "ckpt_path=last")
    assert result.returncode == 2, output[-3000:]  # a completed real run is never overwritten
    assert "already records a completed run" in result.stderr


@pytest.mark.slow
def test_a_debug_sweep_run_again_skips_and_a_real_sweep_replaces_it(tmp_path: Path) -> None:
    sweep = ("-m", "hydra/launcher=vectorized", *QUICK, "seed=0,1", "hydra.sweep.dir=study")
    result, output = train(tmp_path, *sweep, "debug=fdr")
    assert result.returncode == 0, output[-3000:]

    result, output = train(tmp_path, *sweep, "debug=fdr")
    assert result.returncode == 0, output[-3000:]
    assert "2/2 jobs ended (0 completed, 2 skipped" in output

    result, output = train(tmp_path, *sweep)
    assert result.returncode == 0, output[-3000:]
    assert "2/2 jobs ended (2 completed, 0 skipped" in output
    for number in (0, 1):
        record = json.loads((job(tmp_path / "study", number) / "metrics.json").read_text())
        assert (record["status"], record["debug_run"]) == ("completed", None)


@pytest.mark.slow
def test_a_checkpoint_a_debug_run_wrote_does_not_resume_a_real_run(tmp_path: Path) -> None:
    """debug=limit writes checkpoints: trained on part of the data, they are no result."""
    run = tmp_path / "run"
    small = "data.batch_size=16"  # 6 batches an epoch, of which debug=limit trains 3
    result, output = train(tmp_path, *QUICK, small, "trainer.max_epochs=2", "hydra.run.dir=run")
    assert result.returncode == 0, output[-3000:]
    (run / "metrics.json").unlink()
    resume = ("data=iris", small, "logger=none", "trainer.max_epochs=4", "hydra.run.dir=run")
    result, output = train(tmp_path, *resume, "debug=limit", "ckpt_path=last")
    assert result.returncode == 0, output[-3000:]
    record = (run / "metrics.json").read_text()
    assert json.loads(record)["debug_run"] == "trainer.limit_train_batches=3"

    result, output = train(tmp_path, *resume, "trainer.max_epochs=6", "ckpt_path=last")

    assert result.returncode == 2, output[-3000:]
    assert "which a debug run wrote (trainer.limit_train_batches=" in result.stderr
    assert "Train the run afresh in a new directory" in result.stderr
    assert (run / "metrics.json").read_text() == record  # nothing written


@pytest.mark.slow
def test_a_checkpoint_of_a_limit_that_left_no_batch_out_resumes_a_real_run(tmp_path: Path):
    """trainer.limit_train_batches=5 on iris's one batch an epoch left none out: an ordinary
    run (its record says so), whose checkpoint an ordinary run continues."""
    result, output = train(tmp_path, *QUICK, "trainer.limit_train_batches=5", "hydra.run.dir=a")
    assert result.returncode == 0, output[-3000:]
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["debug_run"] is None
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    resume = ("data=iris", "logger=none", "trainer.max_epochs=2", f"ckpt_path={last}")
    result, output = train(tmp_path, *resume, "hydra.run.dir=b")
    assert result.returncode == 0, output[-3000:]
    record = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert (record["status"], record["debug_run"], record["epochs"]) == ("completed", None, 2)


@pytest.mark.slow  # two sweeps in fresh processes: about 15 s
def test_a_study_copied_to_another_folder_goes_on_there(tmp_path: Path) -> None:
    """Its runs' configs hold absolute paths (paths.run_dir, the checkpoint folder): before,
    every job of the copy was refused as "other settings" and the command exited 2."""
    sweep = ("-m", "hydra/launcher=vectorized", "data=iris", "seed=0,1", "trainer.max_epochs=1")
    first = run_module("lossbench.train", *sweep, "hydra.sweep.dir=first", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    again = run_module("lossbench.train", *sweep, "hydra.sweep.dir=copy", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "(0 completed, 2 skipped, 0 refused, 0 failed)" in again.stderr
