"""The folders of ``-m`` sweeps and Optuna searches named by the time they start: two started at
once get their own, and a stopped one resumes in its folder with ``hydra.sweep.dir``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.utils import setup_globals
from hydra.types import RunMode
from omegaconf import OmegaConf

from cli_process import SRC, run_module
from lossbench.config import register_configs
from lossbench.interrupts import INTERRUPTED_EXIT, TRAINING_KEPT
from lossbench.train import config_dir
from stop_signals import posix
from test_interrupts import LONG, STUDY, _start, _wait_for_completed

#: A folder name of ``${now:%Y-%m-%d_%H-%M-%S-%f}``: the start to the microsecond.
STAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{6}"


def _sweep_dir(*overrides: str) -> str:
    """``hydra.sweep.dir`` of a fresh composition of lossbench-train's config, resolved."""
    setup_globals()  # Hydra's resolvers: ${now:...}
    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
    cfg = loader.load_configuration("train", list(overrides), RunMode.MULTIRUN)
    return str(OmegaConf.select(cfg, "hydra.sweep.dir"))


@pytest.mark.parametrize(
    ("overrides", "parent"),
    [
        ((), "outputs/multiruns"),
        (("hparams_search=optuna_focal",), "outputs/searches/optuna_focal"),
        (("hparams_search=optuna_pos_weight",), "outputs/searches/optuna_pos_weight"),
    ],
    ids=["multirun", "optuna_focal", "optuna_pos_weight"],
)
def test_a_time_stamped_sweep_folder_is_named_to_the_microsecond(overrides, parent):
    """Two sweeps composed in the same second (two commands started at once) get two folders,
    as single runs do: they shared one, where the second found the first's runs and markers."""
    first, second = _sweep_dir(*overrides), _sweep_dir(*overrides)
    for folder in (first, second):
        assert re.fullmatch(rf"{re.escape(parent)}/{STAMP}", folder), folder
    assert first != second


#: lossbench-train (its console script), whose first reading of the clock for ``${now:...}``
#: (Hydra's resolver, ``hydra.core.utils.datetime.now``) waits until the wall-clock time
#: argv[1]: two commands given nearly the same time name their sweeps in the same second, as
#: two started at once may, whatever their start-up took. The time read is the real one.
AT_ONCE = """
import datetime, sys, time
import hydra.core.utils
from lossbench.commands import train

start = float(sys.argv.pop(1))

class Held(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        time.sleep(max(0.0, start - time.time()))
        return datetime.datetime.now(tz)

hydra.core.utils.datetime = Held
sys.argv[0] = "lossbench-train"
sys.exit(train())
"""


def _sweep_at(start: float, tmp_path: Path, seeds: str) -> subprocess.Popen[str]:
    """A tiny sweep of ``seeds`` (2 jobs, 2 epochs each) that names its folder at the
    wall-clock time ``start`` (:data:`AT_ONCE`), in ``tmp_path``."""
    sweep = ("-m", f"seed={seeds}", "data=breast_cancer", "trainer.max_epochs=2", "logger=none")
    return subprocess.Popen(
        [sys.executable, "-c", AT_ONCE, repr(start), *sweep],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # two tiny sweeps of 2 jobs each in two processes at once: about 12 s here
def test_two_sweeps_started_at_once_train_all_their_jobs_in_their_own_folders(tmp_path):
    """Two commands started at once (``lossbench-train -m seed=0,1 ... &`` and ``-m seed=2,3``)
    shared a folder named to the second: the first's jobs were not run (the other's runs of
    other settings in their folders) and the second was refused for the first's markers."""
    # just after a whole second, 10 ms apart: the same second, not the same microsecond
    start = float(int(time.time()) + 6) + 0.05
    sweeps = {
        seeds: _sweep_at(start + 0.01 * i, tmp_path, seeds)
        for i, seeds in enumerate(("0,1", "2,3"))
    }
    for seeds, process in sweeps.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"seed={seeds}: {stderr[-2000:]}"
        assert "2/2 jobs ended (2 completed, 0 skipped" in stderr, stderr[-2000:]
    folders = sorted((tmp_path / "outputs" / "multiruns").iterdir())
    assert len(folders) == 2, folders
    seeds = []
    for folder in folders:
        assert re.fullmatch(STAMP, folder.name), folder.name
        records = [json.loads(p.read_text()) for p in folder.glob("*/metrics.json")]
        assert [r["status"] for r in records] == ["completed", "completed"], folder
        seeds.append(sorted(r["seed"] for r in records))
    assert sorted(seeds) == [[0, 1], [2, 3]]


#: The interrupted study of :mod:`test_interrupts`, in the folder train.yaml names by the time
#: it starts (outputs/multiruns/<time>/) instead of hydra.sweep.dir=sweep.
STAMPED_STUDY = tuple(a for a in STUDY if not a.startswith("hydra.sweep.dir="))


def _stop_study(tmp_path: Path, study: tuple[str, ...], folder: Path | None) -> tuple[Path, str]:
    """Start ``study`` with its long setup, press Ctrl-C once its quick setup's 2 jobs have
    completed, and return its folder (``folder``, or the one it made under outputs/multiruns)
    and its last line."""
    process = _start(tmp_path, *study, LONG)
    deadline = time.monotonic() + 120
    while folder is None:
        made = list((tmp_path / "outputs" / "multiruns").glob("*"))
        if made:
            (folder,) = made
        elif process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no study folder: {process.communicate()[1][-2000:]}")
        time.sleep(0.1)
    _wait_for_completed(folder, 2, process)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == INTERRUPTED_EXIT, stderr[-2000:]
    return folder, stderr.strip().splitlines()[-1]


def _resumed(tmp_path: Path, *arguments: str) -> None:
    """Run the study again with its long setup made short: the 2 completed jobs are skipped,
    the 2 stopped ones train."""
    again = run_module("lossbench.train", *arguments, LONG.replace("100000", "2"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "4/4 jobs ended (2 completed, 2 skipped, 0 refused, 0 failed)" in again.stderr


@posix
@pytest.mark.slow  # about 15 s: a study of 2 worker processes is stopped, then resumed
def test_a_stopped_time_stamped_study_says_how_to_resume_it_in_its_folder(tmp_path):
    """The same command alone would make a new folder and train every job again: the line
    names the folder to add as hydra.sweep.dir, and that command skips the jobs that ended."""
    folder, line = _stop_study(tmp_path, STAMPED_STUDY, None)
    advice = re.search(r"run its command again with (\S+) added", line)
    assert advice is not None, line
    assert advice.group(1) == f"hydra.sweep.dir={folder.relative_to(tmp_path)}", line
    assert "command alone would start a new one" in line
    assert re.fullmatch(STAMP, folder.name), folder.name
    _resumed(tmp_path, *STAMPED_STUDY, advice.group(1))
    assert list((tmp_path / "outputs" / "multiruns").iterdir()) == [folder]  # no new folder
    assert len(list(folder.glob("*/metrics.json"))) == 4


@posix
@pytest.mark.slow  # about 15 s: a study of 2 worker processes is stopped, then resumed
def test_a_stopped_study_in_a_fixed_folder_resumes_with_the_same_command(tmp_path):
    _, line = _stop_study(tmp_path, STUDY, tmp_path / "sweep")
    assert line == f"lossbench: interrupted (Ctrl-C). {TRAINING_KEPT}"
    _resumed(tmp_path, *STUDY)


def test_the_optuna_storage_refusal_says_how_to_run_a_time_stamped_search_again(tmp_path):
    """Where Optuna cannot open a database storage, the refusal says that the trials that
    ended are skipped when the search runs again: in its folder, which a search of
    hparams_search= names by the time it started, so that hydra.sweep.dir must name it."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from lossbench.optuna_settings import storage_version_clash

    if storage_version_clash() is None:
        pytest.skip("this Optuna opens database storages")
    search = ("-m", "hparams_search=optuna_focal", "data=iris", "hydra.sweeper.n_trials=2",
              "hydra.sweeper.storage=sqlite:///search.db")  # fmt: skip
    stamped = run_module("lossbench.train", *search, cwd=tmp_path)
    fixed = run_module("lossbench.train", *search, "hydra.sweep.dir=search", cwd=tmp_path)
    for result in (stamped, fixed):
        assert result.returncode == 2, result.stderr[-2000:]
        assert "Leave hydra.sweeper.storage out" in result.stderr
    assert "running the search again with hydra.sweep.dir=<its folder> added" in stamped.stderr
    assert "running the search again skips the trials that ended" in fixed.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "search").exists()


@pytest.mark.slow
def test_an_optuna_search_run_again_in_its_folder_skips_the_trials_that_ended(tmp_path):
    """What the advice to add hydra.sweep.dir does for a search: its trials are proposed again
    and skipped, in the same folder."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    search = ("-m", "hparams_search=optuna_focal", "data=iris", "hydra.sweeper.n_trials=2",
              "trainer.max_epochs=2", "logger=none")  # fmt: skip
    first = run_module("lossbench.train", *search, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (folder,) = (tmp_path / "outputs" / "searches" / "optuna_focal").iterdir()
    assert re.fullmatch(STAMP, folder.name), folder.name
    relative = folder.relative_to(tmp_path)
    again = run_module("lossbench.train", *search, f"hydra.sweep.dir={relative}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2/2 jobs ended (0 completed, 2 skipped, 0 refused, 0 failed)" in again.stderr
    assert list((tmp_path / "outputs" / "searches" / "optuna_focal").iterdir()) == [folder]


@pytest.mark.slow  # a sweep of one tiny job, run twice: about 8 s here
@pytest.mark.parametrize(("first", "again"), [("bf16", "bf16-mixed"), ("bf16-mixed", "bf16")])
def test_a_sweep_run_again_with_the_other_name_of_its_precision_skips_its_runs(
    tmp_path, first, again
):
    """``trainer.precision=bf16`` is Lightning's old name of ``bf16-mixed``: the same training,
    so a sweep run again into its folder with the other name skips the run that ended (the
    run's config keeps the name it was given)."""
    sweep = ("-m", "seed=0", "data=iris", "trainer.max_epochs=1", "logger=none",
             "hydra.sweep.dir=sweep")  # fmt: skip
    ran = run_module("lossbench.train", *sweep, f"trainer.precision={first}", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "1/1 jobs ended (1 completed, 0 skipped" in ran.stderr, ran.stderr[-2000:]
    rerun = run_module("lossbench.train", *sweep, f"trainer.precision={again}", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "1/1 jobs ended (0 completed, 1 skipped" in rerun.stderr, rerun.stderr[-2000:]
    (saved,) = (tmp_path / "sweep").glob("*/config.yaml")
    assert OmegaConf.load(saved).trainer.precision == first
