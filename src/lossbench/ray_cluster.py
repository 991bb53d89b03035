"""The Ray cluster a ``hydra/launcher=ray`` sweep joins (pip install 'lossbench[ray]').

Hydra's Ray launcher hands ``hydra.launcher.ray.init`` to ``ray.init``, adding an object store
of 75 MiB where none is set, which Ray accepts only for a Ray it starts itself: joining a
running cluster (an address, or ``RAY_ADDRESS``) failed with Ray's "When connecting to an
existing cluster, object_store_memory must not be provided". :func:`check_ray_cluster`, run as
the sweep starts (before Hydra builds the launcher), sets ``hydra.launcher.ray.init`` so that:

- with an address (``auto``, ``<host>:<port>``, ``ray://<host>:<port>``, or ``RAY_ADDRESS``)
  no object store size is passed (the cluster has its own), and a host and port where nothing
  answers is refused at once (:func:`unreachable`) instead of after Ray's wait (over 30 s for a
  Ray Client address, minutes for a cluster's own port), as is a ``<host>:<port>`` where
  something answers that is no Ray cluster (:func:`not_a_cluster`: a Ray Client's port given
  without ``ray://``, any other server), which Ray waited on for over 140 s, and ``auto`` where
  the address ``ray start`` left in ``ray_current_cluster`` names a cluster that has stopped
  without ``ray stop`` (:func:`stale_auto_address`), which Ray waited on for minutes;
- without one, the sweep starts a Ray of its own on this machine (``address=local``), also
  where a cluster started with ``ray start`` runs here, which ``ray.init()`` would join.

A refusal says "found no Ray cluster to join" (:func:`lossbench.sweep_refusals.no_ray_cluster`);
it stops the sweep before any job runs, with exit status 2.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lossbench.errors import UserInputError
from lossbench.sweep_refusals import no_ray_cluster

__all__ = [
    "check_ray_cluster",
    "checked_address",
    "joined_address",
    "not_a_cluster",
    "stale_auto_address",
    "unreachable",
]

#: How long the check of a cluster's address waits for an answer, in seconds.
CONNECT_TIMEOUT_S = 10.0
#: How long the check that a Ray cluster answers at an address waits for its reply, in seconds
#: (a cluster's GCS answers in milliseconds).
GCS_TIMEOUT_S = 5.0
#: The Ray Client's port where a ``ray://`` address names none.
RAY_CLIENT_PORT = 10001


def joined_address(address: str | None, environ: Any = os.environ) -> str | None:
    """The address of the cluster ``ray.init(address=address)`` joins (``RAY_ADDRESS`` where
    ``address`` is none or ``auto``); None where it starts a Ray of its own.

        >>> joined_address(None, {}), joined_address("local", {"RAY_ADDRESS": "h:6379"})
        (None, None)
        >>> joined_address("auto", {"RAY_ADDRESS": "ray://head:10001"})
        'ray://head:10001'
    """
    given = environ.get("RAY_ADDRESS") or None
    if address in (None, "auto") and given is not None:
        address = given
    return None if address in (None, "local") else str(address)


def _host_port(address: str) -> tuple[str, int] | None:
    """The host and port ``address`` (``host:port``, ``ray://host:port``) names; None where it
    names none (``auto``) or Ray is left to read it.

        >>> _host_port("ray://head:10001"), _host_port("127.0.0.1:6379"), _host_port("auto")
        (('head', 10001), ('127.0.0.1', 6379), None)
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "", address
    rest = rest.split("/", 1)[0]
    host, colon, port = rest.rpartition(":")
    if not colon:
        host, port = rest, str(RAY_CLIENT_PORT) if scheme == "ray" else ""
    host = host.strip("[]")  # [::1]:6379
    if not host or not port.isdigit():
        return None
    return host, int(port)


def unreachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why nothing answers at the host and port ``address`` names (a connection refused, no
    answer in ``timeout`` seconds, a host that does not resolve); None where something does,
    or ``address`` names no port (``auto``: Ray finds the cluster, and says so at once where
    none runs).

        >>> unreachable("auto") is None
        True
    """
    target = _host_port(address)
    if target is None:
        return None
    host, port = target
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except TimeoutError:
        return f"no answer at {host}:{port} within {timeout:g} s"
    except OSError as error:
        return f"nothing answers at {host}:{port}: {error.strerror or error}"


def _grpc_target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def not_a_cluster(address: str, timeout: float = GCS_TIMEOUT_S) -> str | None:
    """Why no Ray cluster answers at the ``<host>:<port>`` ``address`` where something takes
    connections (a Ray Client's port given without ``ray://``, another server): the cluster's
    GCS is asked whether it is alive, with Ray's own gRPC call, and has ``timeout`` seconds to
    answer. None where it answers (also where it asks for its token first), where ``address``
    is a Ray Client's (``ray://``) or names no port, and where this Ray lacks the call (Ray's
    own join is then the check).

        >>> not_a_cluster("ray://head:10001") is None
        True
    """
    target = None if address.startswith("ray://") else _host_port(address)
    if target is None:
        return None
    try:  # Ray's private names, kept here: another Ray version may lack them
        import grpc
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

        request = gcs_service_pb2.CheckAliveRequest()
        stub_class = gcs_service_pb2_grpc.NodeInfoGcsServiceStub
    except (ImportError, AttributeError):
        return None
    host, port = target
    with grpc.insecure_channel(_grpc_target(host, port)) as channel:
        try:
            stub_class(channel).CheckAlive(request, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            if code == grpc.StatusCode.UNAUTHENTICATED:  # a cluster of `ray start`'s: a token
                return None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return (
                    f"something at {host}:{port} takes connections, but no Ray cluster answered "
                    f"there within {timeout:g} s"
                )
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return (
                    f"a server at {host}:{port} answers, but not as a Ray cluster does: a Ray "
                    f"Client's port, if it is one, is joined as ray://{host}:{port}"
                )
            return f"a server at {host}:{port} answers, but not as a Ray cluster does"
    return None


#: Where ``ray start`` writes its cluster's address in Ray's folder, for ``address=auto``.
RAY_ADDRESS_FILE = "ray_current_cluster"


def _ray_folder(init: Any, environ: Any) -> Path:
    """Ray's folder on this machine, as ``ray.init`` finds it: ``_temp_dir``, else ``ray`` in
    ``RAY_TMPDIR``, ``TMPDIR`` (Linux) or ``/tmp``."""
    given = init.get("_temp_dir")
    if given:
        return Path(str(given))
    if "RAY_TMPDIR" in environ:
        root = environ["RAY_TMPDIR"]
    elif sys.platform.startswith("linux") and "TMPDIR" in environ:
        root = environ["TMPDIR"]
    elif sys.platform.startswith(("linux", "darwin")):
        root = "/tmp"
    else:
        root = tempfile.gettempdir()
    return Path(root) / "ray"


def _running_clusters() -> set[str] | None:
    """The addresses of the Ray clusters whose GCS runs on this machine (Ray's search of the
    processes), or None where this Ray lacks the search."""
    try:  # a private name of Ray's, kept here: another Ray version may lack it
        from ray._private.services import find_gcs_addresses
    except ImportError:
        return None
    return set(find_gcs_addresses())


def stale_auto_address(init: Any, environ: Any = os.environ) -> tuple[str, Path] | None:
    """The address ``address=auto`` joins where Ray reads it from the file that the last
    ``ray start`` on this machine wrote (``ray_current_cluster``, which ``ray stop`` removes,
    so that a cluster killed otherwise leaves it), with the file; None where Ray joins the one
    cluster that runs here, or finds none to read (and says so at once), or where this Ray's
    search is unknown.
    """
    running = _running_clusters()
    if running is None or len(running) == 1:  # Ray joins the one that runs
        return None
    path = _ray_folder(init, environ) / RAY_ADDRESS_FILE
    try:
        address = path.read_text().strip()
    except OSError:
        return None
    return (address, path) if address else None


def _setting(address: str, init: Any) -> str:
    """How the sweep named the cluster ``address``: its setting or ``RAY_ADDRESS``."""
    if init.get("address") == address:
        return f"hydra.launcher.ray.init.address={address}"
    return f"RAY_ADDRESS={address}"


#: The launcher that runs a sweep's jobs as Ray tasks (hydra/launcher=ray).
RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"


#: The setting that named the cluster the last check passed, and whether something answered at
#: its address (for the refusal of Ray's own error, if joining fails after all).
_CHECKED: list[tuple[str, bool]] = []


def checked_address() -> tuple[str, bool] | None:
    """The setting (``hydra.launcher.ray.init.address=...``, from the command line or a config
    file, or ``RAY_ADDRESS=...``) that named the cluster the last :func:`check_ray_cluster` in
    this process let the sweep join, and whether something answered at its host and port;
    None where none was checked."""
    return _CHECKED[-1] if _CHECKED else None


HINT_NOT_A_CLUSTER = (
    "A cluster's address is its head's GCS port, 6379 unless `ray start --head --port=...` "
    "chose another (`ray start --head` prints it), or ray://<head>:10001 for its Ray Client "
    "port. "
)


def check_ray_cluster(config: DictConfig, environ: Any = os.environ) -> None:
    """Where ``config`` (a multirun's, before Hydra builds its launcher) runs under
    ``hydra/launcher=ray``: make its ``hydra.launcher.ray.init`` join the cluster it names, or
    refuse (:class:`UserInputError`) an address where nothing answers, where what answers is no
    Ray cluster, and ``auto`` where it would read the address of a stopped cluster. No object
    store size for a cluster (Hydra's launcher adds one where none is set); ``address=local``
    where it names none, so that ``ray.init`` starts a Ray of the sweep's own."""
    _CHECKED.clear()
    launcher = config.hydra.launcher
    if str(launcher.get("_target_", "")) != RAY_LAUNCHER:
        return
    init = OmegaConf.select(launcher, "ray.init")
    if not isinstance(init, DictConfig):
        return
    address = joined_address(init.get("address"), environ)
    with read_write(init), open_dict(init):
        if address is None:
            init.address = "local"
            return
        if "object_store_memory" not in init:
            init.object_store_memory = None
    if address.startswith("ray://"):  # Ray's own, before the ConnectionError refused
        warnings.filterwarnings("ignore", message="Ray Client connection timed out")
    setting = _setting(address, init)
    if address == "auto":
        _check_auto(init, setting, environ)
        _CHECKED.append((setting, False))
        return
    reason = unreachable(address)
    if reason is not None:
        raise UserInputError(no_ray_cluster(setting, reason))
    reason = not_a_cluster(address)
    if reason is not None:
        raise UserInputError(no_ray_cluster(setting, reason, hint=HINT_NOT_A_CLUSTER))
    _CHECKED.append((setting, True))


def _check_auto(init: Any, setting: str, environ: Any) -> None:
    """Refuse ``auto`` where the address Ray would read from ``ray start``'s file names no
    cluster that answers (Ray waited on it for minutes)."""
    stale = stale_auto_address(init, environ)
    if stale is None:
        return
    address, path = stale
    reason = unreachable(address) or not_a_cluster(address)
    if reason is None:
        return
    raise UserInputError(
        no_ray_cluster(
            setting,
            f"{path} names {address}, the cluster of the last `ray start` on this machine, "
            f"where {reason}",
            hint=(
                "That cluster stopped without `ray stop`, which removes the file: run "
                "`ray stop` (or delete the file) before starting a cluster again. "
            ),
        )
    )
