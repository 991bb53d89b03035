"""``hydra/launcher=ray`` (pip install 'lossbench[ray]'): a study's jobs as Ray tasks, here on
a local Ray started for the sweep, and the addresses of clusters to join; skipped where the
plugin is not installed."""

from __future__ import annotations

import importlib.util
import json
import socket
import time
import warnings
from collections.abc import Iterator

import pytest
from hydra import compose, initialize_config_dir

from cli_process import run_module
from lossbench.ray_cluster import check_ray_cluster
from lossbench.record import RECORD_NAME
from lossbench.sweep_refusals import ray_connection_refusal
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


def _ray_config(*overrides: str):
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        return compose(
            "train", overrides=["hydra/launcher=ray", *overrides], return_hydra_config=True
        )


@pytest.fixture
def listening() -> Iterator[int]:
    """The port of a socket on 127.0.0.1 that takes connections (and answers nothing)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_joins_without_an_object_store_size(listening):
    """Hydra's launcher passed an object store of 75 MiB to ray.init, which Ray refuses when it
    joins a cluster ("object_store_memory must not be provided")."""
    for address in (f"127.0.0.1:{listening}", f"ray://127.0.0.1:{listening}", "auto"):
        cfg = _ray_config(f"hydra.launcher.ray.init.address={address}")
        check_ray_cluster(cfg, environ={})
        init = cfg.hydra.launcher.ray.init
        assert "object_store_memory" in init and init.object_store_memory is None, address
        assert init.address == address
    cfg = _ray_config()  # RAY_ADDRESS names the cluster where the address is left out
    check_ray_cluster(cfg, environ={"RAY_ADDRESS": f"127.0.0.1:{listening}"})
    init = cfg.hydra.launcher.ray.init
    assert init.address is None and init.object_store_memory is None


def test_no_address_starts_a_ray_of_the_sweeps_own():
    """ray.init() without an address joins a cluster `ray start` left running on this
    machine; the sweep starts its own Ray, with Hydra's launcher's object store size."""
    cfg = _ray_config("+hydra.launcher.ray.init.num_cpus=2")
    check_ray_cluster(cfg, environ={})
    init = cfg.hydra.launcher.ray.init
    assert init.address == "local" and "object_store_memory" not in init
    assert init.num_cpus == 2


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_an_address_where_nothing_listens_is_refused_at_once(tmp_path, form):
    """Before: 127.0.0.1:PORT ended in Ray's ValueError on object_store_memory, and with that
    left out waited for minutes; ray://127.0.0.1:PORT waited 33 s and ended in the Ray
    Client's "ray client connection timeout" traceback (exit 1 both)."""
    address = form.format(port=_free_port())
    started = time.monotonic()
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=ray",
        f"hydra.launcher.ray.init.address={address}",
        "data=iris",
        "trainer.max_epochs=1",
        "logger=none",
        "seed=0,1",
        "paths.output_dir=out",
        cwd=tmp_path,
        timeout=120,
        unset=("RAY_ADDRESS",),
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-4000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-4000:]
    assert lines[0].startswith(
        f"lossbench: refused: hydra/launcher=ray with hydra.launcher.ray.init.address={address} "
        "found no Ray cluster to join (nothing answers at 127.0.0.1:"
    )
    assert "ray start --head" in lines[0]
    assert elapsed < 30, elapsed
    assert not (tmp_path / "out").exists()  # no job ran, nothing written


def test_ray_client_timeout_is_refused():
    """The Ray Client's ConnectionError is in lower case: it went by as a traceback."""
    error = ConnectionError("ray client connection timeout")
    refusal = ray_connection_refusal(error, ["hydra.launcher.ray.init.address=ray://head:10001"])
    assert refusal is not None
    assert refusal.startswith(
        "hydra/launcher=ray with hydra.launcher.ray.init.address=ray://head:10001 found no Ray "
        "cluster to join (ray client connection timeout). Something answers at that address"
    )
    assert "RAY_AUTH_MODE=token" in refusal


def test_settings_a_joined_cluster_refuses_are_refused():
    """Ray's ValueError (or, through a Ray Client, the server's) on ray.init settings that size a
    Ray of its own, such as +hydra.launcher.ray.init.num_cpus=4 with an address."""
    overrides = ["hydra.launcher.ray.init.address=auto", "+hydra.launcher.ray.init.num_cpus=4"]
    for error in (
        ValueError(
            "When connecting to an existing cluster, num_cpus and num_gpus must not be provided."
        ),
        ConnectionAbortedError(
            "Initialization failure from server:\nCall to `ray.init()` on the server failed "
            "with: When connecting to an existing cluster, num_cpus and num_gpus must not be "
            "provided."
        ),
    ):
        refusal = ray_connection_refusal(error, overrides)
        assert refusal is not None
        assert refusal.startswith(
            "hydra/launcher=ray with hydra.launcher.ray.init.address=auto joins a running Ray "
            "cluster, which keeps the resources it was started with (When connecting to an "
            "existing cluster, num_cpus"
        )
        assert "+hydra.launcher.ray.remote.num_cpus" in refusal
