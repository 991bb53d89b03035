"""``hydra/launcher=ray`` (pip install 'lossbench[ray]'): a study's jobs as Ray tasks, here on
a local Ray started for the sweep, and the addresses of clusters to join; skipped where the
plugin is not installed."""

from __future__ import annotations

import http.server
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import pytest
from omegaconf import DictConfig

from cli_process import run_module
from lossbench import ray_cluster
from lossbench.errors import UserInputError
from lossbench.ray_cluster import check_ray_cluster
from lossbench.record import RECORD_NAME
from lossbench.sweep_refusals import ray_connection_refusal
from multirun_configs import multirun_config

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
    reason="hydra-ray-launcher not installed (pip install 'lossbench[ray]')",
)


def _ray_config(*overrides: str) -> DictConfig:
    """The config of a multirun under ``hydra/launcher=ray`` with ``overrides``."""
    return multirun_config(["hydra/launcher=ray", *overrides])


def test_ray_launcher_composes_with_a_cluster_address():
    cfg = _ray_config("hydra.launcher.ray.init.address=ray://head:10001")
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


@pytest.fixture
def listening() -> Iterator[int]:
    """The port of a socket on 127.0.0.1 that takes connections (and answers nothing)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def speaking_http() -> Iterator[int]:
    """The port of an HTTP server on 127.0.0.1 (not a Ray cluster)."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _grpc_server(code_name: str | None) -> Iterator[int]:
    """The port of a gRPC server on 127.0.0.1 that answers each call with the status
    ``code_name`` (None: it serves nothing, and gRPC answers UNIMPLEMENTED)."""
    import grpc

    handlers = []
    if code_name is not None:
        code = getattr(grpc.StatusCode, code_name)

        class Refuse(grpc.GenericRpcHandler):
            def service(self, details):
                def handle(request, context):
                    context.abort(code, "Authentication token is missing or incorrect")

                return grpc.unary_unary_rpc_method_handler(handle)

        handlers.append(Refuse())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=handlers)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(None)


@pytest.fixture
def token_gcs() -> Iterator[int]:
    """The port of a stand-in for the GCS of a cluster that `ray start` started: it answers
    Ray's calls that the token is missing (UNAUTHENTICATED), as such a cluster does."""
    yield from _grpc_server("UNAUTHENTICATED")


@pytest.fixture
def other_grpc() -> Iterator[int]:
    """The port of a gRPC server that serves none of Ray's GCS calls, as a Ray Client's port
    (10001) does."""
    yield from _grpc_server(None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_joins_without_an_object_store_size(token_gcs, listening, tmp_path):
    """Hydra's launcher passed an object store of 75 MiB to ray.init, which Ray refuses when it
    joins a cluster ("object_store_memory must not be provided")."""
    environ = {"RAY_TMPDIR": str(tmp_path)}  # no ray_current_cluster for auto to read
    for address in (f"127.0.0.1:{token_gcs}", f"ray://127.0.0.1:{listening}", "auto"):
        cfg = _ray_config(f"hydra.launcher.ray.init.address={address}")
        check_ray_cluster(cfg, environ=environ)
        init = cfg.hydra.launcher.ray.init
        assert "object_store_memory" in init and init.object_store_memory is None, address
        assert init.address == address
    cfg = _ray_config()  # RAY_ADDRESS names the cluster where the address is left out
    check_ray_cluster(cfg, environ={"RAY_ADDRESS": f"127.0.0.1:{token_gcs}"})
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


def _refused_sweep(address: str, tmp_path, **kwargs) -> tuple[str, float]:
    """A two-job Ray sweep of ``address`` as a user runs it (``lossbench-train -m``, without
    ``RAY_ADDRESS``), refused: its one line on stderr (exit 2) and the seconds it took."""
    unset = ("RAY_ADDRESS", *kwargs.pop("unset", ()))
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
        unset=unset,
        **kwargs,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-4000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-4000:]
    return lines[0], elapsed


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
@pytest.mark.slow  # a process of 5-10 s each; the default suite refuses a Ray address without a
# cluster through the command line in tests/test_refusals_cli.py
def test_an_address_where_nothing_listens_is_refused_at_once(tmp_path, form):
    """Before: 127.0.0.1:PORT ended in Ray's ValueError on object_store_memory, and with that
    left out waited for minutes; ray://127.0.0.1:PORT waited 33 s and ended in the Ray
    Client's "ray client connection timeout" traceback (exit 1 both)."""
    address = form.format(port=_free_port())
    line, elapsed = _refused_sweep(address, tmp_path, timeout=120)
    assert line.startswith(
        f"lossbench: refused: hydra/launcher=ray with hydra.launcher.ray.init.address={address} "
        "found no Ray cluster to join (nothing answers at 127.0.0.1:"
    )
    assert "ray start --head" in line
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


@pytest.mark.parametrize("server", ["silent", "http"])
@pytest.mark.slow
def test_an_address_where_no_ray_cluster_answers_is_refused_in_seconds(
    tmp_path, server, listening, speaking_http
):
    """Before: something listening at 127.0.0.1:PORT that is not a Ray cluster (a server that
    says nothing, an HTTP server; a Ray Client's port without ray://) passed the check of the
    port, and Ray then waited over 140 s before it failed."""
    port = {"silent": listening, "http": speaking_http}[server]
    address = f"127.0.0.1:{port}"
    line, elapsed = _refused_sweep(address, tmp_path, timeout=90)
    assert line.startswith(
        f"lossbench: refused: hydra/launcher=ray with hydra.launcher.ray.init.address={address} "
        f"found no Ray cluster to join ("
    )
    assert f"{address} answers, but not as a Ray cluster does" in line or (
        f"{address} takes connections, but no Ray cluster answered there within 5 s" in line
    )
    assert "6379 unless `ray start --head --port=...` chose another" in line
    assert "ray://<head>:10001 for its Ray Client port" in line
    assert elapsed < 30, elapsed
    assert not (tmp_path / "out").exists()  # no job ran, nothing written


def test_a_ray_client_port_without_ray_scheme_is_refused_with_the_scheme(other_grpc):
    """The Ray Client's port (10001) given as host:port: a gRPC server answers there, but none
    of a cluster's GCS calls; Ray waited over 140 s on it."""
    cfg = _ray_config(f"hydra.launcher.ray.init.address=127.0.0.1:{other_grpc}")
    started = time.monotonic()
    with pytest.raises(UserInputError) as refused:
        check_ray_cluster(cfg, environ={})
    assert time.monotonic() - started < 5
    assert str(refused.value).startswith(
        f"hydra/launcher=ray with hydra.launcher.ray.init.address=127.0.0.1:{other_grpc} found "
        f"no Ray cluster to join (a server at 127.0.0.1:{other_grpc} answers, but not as a Ray "
        f"cluster does: a Ray Client's port, if it is one, is joined as "
        f"ray://127.0.0.1:{other_grpc})."
    )


def _stale_cluster_file(tmp_path, address: str):
    """A Ray folder under ``tmp_path`` (RAY_TMPDIR) whose ray_current_cluster names
    ``address``, as a cluster stopped without `ray stop` leaves it."""
    (tmp_path / "ray").mkdir()
    path = tmp_path / "ray" / "ray_current_cluster"
    path.write_text(address)
    return path


def test_auto_with_a_stopped_clusters_address_file_is_refused(tmp_path, monkeypatch, token_gcs):
    """Ray reads the address for auto from the file `ray start` writes and only `ray stop`
    removes; no cluster on this machine and a stale file: Ray waited on it for minutes."""
    monkeypatch.setattr(ray_cluster, "_running_clusters", lambda: set())  # none runs here
    stale = f"127.0.0.1:{_free_port()}"
    path = _stale_cluster_file(tmp_path, stale)
    environ = {"RAY_TMPDIR": str(tmp_path)}
    cfg = _ray_config("hydra.launcher.ray.init.address=auto")
    with pytest.raises(UserInputError) as refused:
        check_ray_cluster(cfg, environ=environ)
    assert str(refused.value).startswith(
        "hydra/launcher=ray with hydra.launcher.ray.init.address=auto found no Ray cluster to "
        f"join ({path} names {stale}, the cluster of the last `ray start` on this machine, "
        f"where nothing answers at {stale}: "
    )
    assert "run `ray stop` (or delete the file)" in str(refused.value)
    # the file of a cluster that answers; and one cluster running here, which Ray joins instead
    path.write_text(f"127.0.0.1:{token_gcs}")
    check_ray_cluster(_ray_config("hydra.launcher.ray.init.address=auto"), environ=environ)
    path.write_text(stale)
    monkeypatch.setattr(ray_cluster, "_running_clusters", lambda: {"192.0.2.9:6379"})
    check_ray_cluster(_ray_config("hydra.launcher.ray.init.address=auto"), environ=environ)


@pytest.mark.slow  # a process of 5-10 s; the check itself runs in the default suite (above)
def test_auto_with_a_stale_address_file_is_refused_at_once(tmp_path):
    """The sweep as a user runs it, with RAY_TMPDIR for Ray's folder (Ray honours it): exit 2
    in one line, where Ray waited for minutes."""
    if len(ray_cluster._running_clusters() or ()) == 1:
        pytest.skip("a Ray cluster runs on this machine: auto joins it, whatever the file says")
    stale = f"127.0.0.1:{_free_port()}"
    path = _stale_cluster_file(tmp_path, stale)
    line, elapsed = _refused_sweep(
        "auto", tmp_path, timeout=90, unset=("TMPDIR",), extra_env={"RAY_TMPDIR": str(tmp_path)}
    )
    assert line.startswith(
        "lossbench: refused: hydra/launcher=ray with hydra.launcher.ray.init.address=auto found "
        f"no Ray cluster to join ({path} names {stale}"
    )
    assert elapsed < 30, elapsed
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given", ["config", "RAY_ADDRESS"])
def test_an_address_not_on_the_command_line_gets_the_token_hint(token_gcs, given):
    """An address set in a config file (an experiment's, a hydra/launcher config of one's own)
    or by RAY_ADDRESS is not among the command line's overrides: Ray's error on a cluster that
    asks for its token was refused without the setting and without the RAY_AUTH_MODE=token
    hint."""
    address = f"127.0.0.1:{token_gcs}"
    if given == "config":
        cfg = _ray_config(f"hydra.launcher.ray.init.address={address}")
        check_ray_cluster(cfg, environ={})
        setting = f"hydra.launcher.ray.init.address={address}"
    else:
        check_ray_cluster(_ray_config(), environ={"RAY_ADDRESS": address})
        setting = f"RAY_ADDRESS={address}"
    error = ConnectionError(f"Failed to connect to Ray cluster at {address}")
    checked = ray_cluster.checked_address()
    refusal = ray_connection_refusal(error, ["experiment=my_ray_cluster"], checked)
    assert refusal is not None
    assert refusal.startswith(
        f"hydra/launcher=ray with {setting} found no Ray cluster to join (Failed to connect to "
        f"Ray cluster at {address}). Something answers at that address"
    )
    assert "RAY_AUTH_MODE=token" in refusal
