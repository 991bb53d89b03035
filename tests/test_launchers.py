"""Hydra launchers: joblib runs a sweep's jobs in parallel processes; the Slurm preset composes."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from cli_process import run_module
from lossbench.record import RECORD_NAME
from multirun_configs import multirun_config

REPO = Path(__file__).resolve().parents[1]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
@pytest.mark.skipif(
    not _installed("hydra_plugins.hydra_joblib_launcher"), reason="hydra-joblib-launcher"
)
def test_joblib_runs_both_jobs_in_parallel_with_threads_that_fit_the_cores(tmp_path):
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "data=iris",
        "trainer.max_epochs=2",
        "logger=none",
        "seed=0,1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    records = sorted((tmp_path / "outputs" / "multiruns").glob(f"*/*/{RECORD_NAME}"))
    assert len(records) == 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for path, seed in zip(records, (0, 1), strict=True):
        record = json.loads(path.read_text())
        assert (record["status"], record["seed"]) == ("completed", seed)
        log = (path.parent / "train.log").read_text()
        assert f"torch threads per process: {max(1, cores // 2)} " in log


@pytest.mark.skipif(
    not _installed("hydra_plugins.hydra_submitit_launcher"), reason="hydra-submitit-launcher"
)
def test_slurm_preset_composes_with_overridable_resources():
    cfg = multirun_config(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=ddp"])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == (
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert launcher.partition == "gpu"
    assert (launcher.timeout_min, launcher.gpus_per_node, launcher.cpus_per_task) == (60, 1, 4)
    assert (launcher.mem_gb, launcher.nodes, launcher.tasks_per_node) == (16, 1, 1)
    assert cfg.trainer.strategy == "ddp"


def test_lossbench_own_hydra_callbacks_keep_the_vectorized_launchers_fast_path():
    """A Hydra callback with ``on_job_start`` / ``on_job_end`` makes the vectorized launcher run
    every job through Hydra's ``run_job`` (a composition and ``.hydra/`` files per job, also for
    a skipped run); lossbench's own callbacks must not be such."""
    from hydra.experimental.callback import Callback
    from hydra.utils import instantiate

    callbacks = [instantiate(node) for node in multirun_config().hydra.callbacks.values()]
    assert {type(cb).__name__ for cb in callbacks} >= {"ValidateBeforeRun", "StudyProgressLine"}
    for callback in callbacks:
        assert type(callback).on_job_start is Callback.on_job_start, type(callback)
        assert type(callback).on_job_end is Callback.on_job_end, type(callback)
