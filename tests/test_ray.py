"""``hydra/launcher=ray`` (pip install 'lossbench[ray]'): a study's jobs as Ray tasks, here on
a local Ray started for the sweep; skipped where the plugin is not installed."""

from __future__ import annotations

import importlib.util
import json
import warnings

import pytest
from hydra import compose, initialize_config_dir

from cli_process import run_module
from lossbench.record import RECORD_NAME
from lossbench.train import config_dir

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
    reason="hydra-ray-launcher not installed (pip install 'lossbench[ray]')",
)


def test_ray_launcher_composes_with_a_cluster_address():
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        cfg = compose(
            "train",
            overrides=["hydra/launcher=ray", "hydra.launcher.ray.init.address=ray://head:10001"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert launcher.ray.init.address == "ray://head:10001"


@pytest.mark.slow  # starting a local Ray takes about a minute here
def test_ray_runs_each_job_of_a_sweep_on_a_local_ray(tmp_path):
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
        "data=iris",
        "trainer.max_epochs=2",
        "logger=none",
        "seed=0,1",
        "hydra.sweep.dir=study",
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Ray Launcher is launching 2 jobs" in result.stdout + result.stderr
    records = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "study").glob(f"*/{RECORD_NAME}"))
    ]
    assert [(r["status"], r["seed"]) for r in records] == [("completed", 0), ("completed", 1)]
    assert records[0]["test/nll"] != records[1]["test/nll"]  # two seeds, two runs
    assert (
        "study: 2/2 jobs ended (2 completed, 0 skipped, 0 refused, 0 failed). "
        "Make its report: lossbench-report study"
    ) in result.stderr
