"""Run folders and sweep folders inside one another, through the real command line: refused
before anything is written (exit 2, one line), while a sweep, a sweep run again in its folder
and a job resumed in its own folder with ``ckpt_path=last`` work as before.

The catalogue (``tests/test_refusals_cli.py``, ``run-dir-*`` / ``sweep-dir-*``) refuses each
case in folders made for it; here they are a real sweep's."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from cli_process import run_console
from lossbench.nested_folders import FOLDERS_DOWN, check_run_folder, check_sweep_folder

QUICK = ("data=iris", "trainer.max_epochs=2", "logger=none")
ENV = {"OMP_NUM_THREADS": "1"}
RUN_CONFIG = "data: {name: iris}\nloss: {name: bce_with_logits}\nseed: 0\n"


def _train(cwd: Path, *args: str):
    return run_console("train", *args, cwd=cwd, extra_env=ENV)


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        for p in sorted(root.rglob("*"))
    }


def _refused(result, *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.slow
def test_nested_folders_are_refused_and_a_sweeps_own_folders_keep_working(tmp_path):
    sweep = _train(tmp_path, "-m", *QUICK, "seed=0,1", "hydra.sweep.dir=sw")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    jobs = sorted(p.parent for p in (tmp_path / "sw").glob("*/metrics.json"))
    assert len(jobs) == 2
    assert all(json.loads((j / "metrics.json").read_text())["status"] == "completed" for j in jobs)

    again = _train(tmp_path, "-m", *QUICK, "seed=0,1", "hydra.sweep.dir=sw")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 skipped" in again.stderr

    before = _snapshot(tmp_path)
    job = jobs[0].relative_to(tmp_path)
    refusals = [
        (("hydra.run.dir=sw",), "hydra.run.dir=sw is the folder of a sweep"),
        (("hydra.run.dir=sw/mine",), "hydra.run.dir=sw/mine lies inside the folder of a sweep"),
        (("hydra.run.dir=.",), "hydra.run.dir=. holds other runs"),
        (("-m", "seed=0,1", f"hydra.sweep.dir={job}"), f"hydra.sweep.dir={job} is the folder"),
        (("-m", "seed=0,1", f"hydra.sweep.dir={job}/x"), f"hydra.sweep.dir={job}/x lies inside"),
        (("-m", "seed=0,1", "hydra.sweep.dir=sw/x"), "lies inside the folder of another sweep"),
    ]
    for args, words in refusals:
        _refused(_train(tmp_path, *QUICK, *args), words, "Nothing was trained or written")
        assert _snapshot(tmp_path) == before, args

    # a job killed before its record: resumed in its own folder inside the sweep's
    (jobs[1] / "metrics.json").unlink()
    resumed = _train(tmp_path, *QUICK, "seed=1", f"hydra.run.dir={jobs[1]}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = json.loads((jobs[1] / "metrics.json").read_text())
    assert record["status"] == "completed" and record["resumed_from"], record


def test_a_run_folder_of_a_sweeps_job_is_that_runs_and_a_new_one_is_not(tmp_path):
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    job = tmp_path / "0_job"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "config.yaml").write_text(RUN_CONFIG)  # stopped before its config.yaml
    check_run_folder(job)
    with pytest.raises(ValueError, match="lies inside the folder of a sweep"):
        check_run_folder(tmp_path / "1_job")
    check_sweep_folder(tmp_path)  # the same sweep run again in its folder


def test_a_folder_of_other_tools_files_is_no_run(tmp_path):
    """Another tool's config.yaml and a metrics.json of one's own (a DVC project's) in a folder
    above make it no run's folder: a run or a sweep below it is not refused."""
    (tmp_path / "config.yaml").write_text("learning_rate: 0.1\n")
    (tmp_path / "metrics.json").write_text("{}")
    check_run_folder(tmp_path / "runs" / "mine")
    check_sweep_folder(tmp_path / "multiruns" / "mine")


def test_the_look_below_a_folder_is_bounded(tmp_path):
    for number in range(FOLDERS_DOWN + 5):
        (tmp_path / f"{number:05d}").mkdir()
    (tmp_path / "zzzzz" / "run").mkdir(parents=True)
    (tmp_path / "zzzzz" / "run" / "config.yaml").write_text(RUN_CONFIG)
    check_run_folder(tmp_path)  # the run lies past the folders looked at
    (tmp_path / "00000" / "config.yaml").write_text(RUN_CONFIG)
    with pytest.raises(ValueError, match="holds other runs"):
        check_run_folder(tmp_path)
