"""Run folders and sweep folders inside one another, through the real command line: refused
before anything is written (exit 2, one line), while a sweep, a sweep run again in its folder
and a job resumed in its own folder with ``ckpt_path=last`` work as before.

The catalogue (``tests/test_refusals_cli.py``, ``run-dir-*`` / ``sweep-dir-*``) refuses each
case in folders made for it; here they are a real sweep's."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
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
    with pytest.raises(ValueError, match=r"a sweep .*, and this multirun is a search"):
        check_sweep_folder(tmp_path, search=True)  # a search there is not the sweep run again


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


#: A short Optuna search of iris: two trials of one epoch, in the folder ``se``.
SEARCH = (
    "-m",
    "hparams_search=optuna_focal",
    "data=iris",
    "trainer.max_epochs=1",
    "logger=none",
    "hydra.sweeper.n_trials=2",
    "hydra.sweep.dir=se",
)


@pytest.mark.slow
def test_a_searchs_folder_is_refused_as_a_sweeps_and_the_search_goes_on_in_it(tmp_path):
    """An Optuna search writes no multirun.yaml: its folder is still a study's, refused to a
    single run and to a sweep inside it, while the search run again into it skips its trials."""
    search = _train(tmp_path, *SEARCH)
    assert search.returncode == 0, search.stderr[-3000:]
    folder = tmp_path / "se"
    assert not (folder / "multirun.yaml").exists()
    assert (folder / "optimization_results.yaml").is_file()

    before = _snapshot(tmp_path)
    refusals = [
        (("hydra.run.dir=se",), "hydra.run.dir=se is the folder of a search"),
        (("hydra.run.dir=se/mine",), "hydra.run.dir=se/mine lies inside the folder of a search"),
        (("-m", "seed=0,1", "hydra.sweep.dir=se/x"), "lies inside the folder of another search"),
        (("-m", "seed=0,1", "hydra.sweep.dir=se"), "hydra.sweep.dir=se is the folder of a search"),
    ]
    for args, words in refusals:
        _refused(_train(tmp_path, *QUICK, *args), words, "Nothing was trained or written")
        assert _snapshot(tmp_path) == before, args

    again = _train(tmp_path, *SEARCH)  # README: hydra.sweep.dir=<its folder> continues it
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 skipped" in again.stderr

    # what shows a search while it runs: its markers once a trial ended, then its first trial
    (folder / "optimization_results.yaml").unlink()
    with pytest.raises(ValueError, match=r"is the folder of a search \(it holds \.progress/"):
        check_run_folder(folder)
    shutil.rmtree(folder / ".progress")
    shutil.rmtree(folder / "1")
    for name in ("config.yaml", "metrics.json"):  # the first trial still training
        (folder / "0" / name).unlink()
    with pytest.raises(ValueError, match=r"is the folder of a search \(it holds 0/, a trial"):
        check_run_folder(folder)
    with pytest.raises(ValueError, match="lies inside the folder of a search"):
        check_run_folder(folder / "mine")
    with pytest.raises(ValueError, match="lies inside the folder of another search"):
        check_sweep_folder(folder / "x")
    check_run_folder(folder / "0")  # the trial's own folder: resumed there
    check_sweep_folder(folder, search=True)  # the search run again in its folder
    with pytest.raises(ValueError, match=r"a search .*, and this multirun is a sweep"):
        check_sweep_folder(folder)  # a plain sweep there is not the search run again


def test_a_search_at_its_first_trial_is_known_and_a_folder_of_single_runs_is_not(tmp_path):
    """A multirun's job ``0/`` (Hydra's hydra.yaml says ``mode: MULTIRUN``) makes its parent a
    search's folder; a single run's folder named ``0`` does not."""
    for parent, mode in (("se", "MULTIRUN"), ("runs", "RUN")):
        hydra = tmp_path / parent / "0" / ".hydra"
        hydra.mkdir(parents=True)
        (hydra / "config.yaml").write_text(RUN_CONFIG)
        (hydra / "hydra.yaml").write_text(f"hydra:\n  run:\n    dir: x\n  mode: {mode}\n")
        (hydra / "overrides.yaml").write_text("[]\n")
    with pytest.raises(ValueError, match="lies inside the folder of a search"):
        check_run_folder(tmp_path / "se" / "mine")
    with pytest.raises(ValueError, match="lies inside the folder of another search"):
        check_sweep_folder(tmp_path / "se" / "x")
    check_run_folder(tmp_path / "runs" / "mine")
    check_sweep_folder(tmp_path / "runs" / "x")


def _hydra_files(folder: Path) -> None:
    """What Hydra writes into a job's Hydra folder ``folder``, the run config among it."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(RUN_CONFIG)
    (folder / "hydra.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
    (folder / "overrides.yaml").write_text("[]\n")


def test_a_job_stopped_before_its_config_is_known_by_its_hydra_folder_of_any_name(tmp_path):
    """``hydra.output_subdir=meta``: the job's Hydra folder is ``meta/``, known by the run's own
    setting and, written by a run of another setting, by Hydra's three files."""
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    job = tmp_path / "0_job"
    _hydra_files(job / "meta")
    check_run_folder(job, "meta")  # resumed with the setting it was written with
    check_run_folder(job)  # or with the default .hydra
    check_run_folder(job, None)  # or with hydra.output_subdir=null
    with pytest.raises(ValueError, match="lies inside the folder of a sweep"):
        check_run_folder(tmp_path / "1_job", "meta")

    runs = tmp_path.parent / f"{tmp_path.name}-runs"
    _hydra_files(runs / "stopped" / "meta")
    with pytest.raises(
        ValueError, match=re.escape(f"holds other runs (a run in {runs / 'stopped'})")
    ):
        check_run_folder(runs)


@pytest.mark.slow
def test_a_run_with_another_output_subdir_resumes_in_its_folder(tmp_path):
    """A run written with ``hydra.output_subdir=meta`` and stopped before its record resumes in
    its folder: its Hydra folder is no other run below it."""
    args = (*QUICK, "hydra.run.dir=run", "hydra.output_subdir=meta")
    first = _train(tmp_path, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "run" / "meta" / "hydra.yaml").is_file()
    (tmp_path / "run" / "metrics.json").unlink()  # stopped before it wrote its record
    resumed = _train(tmp_path, *args, "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "completed" and record["resumed_from"], record


@pytest.mark.slow
def test_a_run_without_a_hydra_folder_resumes_in_its_folder(tmp_path):
    """``hydra.output_subdir=null`` writes no Hydra folder: the run is known by its config.yaml."""
    args = (*QUICK, "hydra.run.dir=run", "hydra.output_subdir=null")
    first = _train(tmp_path, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_dir()) == ["checkpoints"]
    (tmp_path / "run" / "metrics.json").unlink()
    resumed = _train(tmp_path, *args, "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["resumed_from"]
