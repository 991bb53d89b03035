"""The Ray cluster a ``hydra/launcher=ray`` sweep joins (pip install 'lossbench[ray]').

Hydra's Ray launcher hands ``hydra.launcher.ray.init`` to ``ray.init``, adding an object store
of 75 MiB where none is set, which Ray accepts only for a Ray it starts itself: joining a
running cluster (an address, or ``RAY_ADDRESS``) failed with Ray's "When connecting to an
existing cluster, object_store_memory must not be provided". :func:`check_ray_cluster`, run as
the sweep starts (before Hydra builds the launcher), sets ``hydra.launcher.ray.init`` so that:

- with an address (``auto``, ``<host>:<port>``, ``ray://<host>:<port>``, or ``RAY_ADDRESS``)
  no object store size is passed (the cluster has its own), and a host and port where nothing
  answers is refused at once (:func:`unreachable`) instead of after Ray's wait (over 30 s for a
  Ray Client address, minutes for a cluster's own port);
- without one, the sweep starts a Ray of its own on this machine (``address=local``), also
  where a cluster started with ``ray start`` runs here, which ``ray.init()`` would join.

A refusal says "found no Ray cluster to join" (:func:`lossbench.sweep_refusals.no_ray_cluster`);
it stops the sweep before any job runs, with exit status 2.
"""

from __future__ import annotations

import os
import socket
import warnings
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from lossbench.errors import UserInputError
from lossbench.sweep_refusals import no_ray_cluster

__all__ = ["check_ray_cluster", "joined_address", "unreachable"]

#: How long the check of a cluster's address waits for an answer, in seconds.
CONNECT_TIMEOUT_S = 10.0
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


def _setting(address: str, init: Any) -> str:
    """How the sweep named the cluster ``address``: its setting or ``RAY_ADDRESS``."""
    if init.get("address") == address:
        return f"hydra.launcher.ray.init.address={address}"
    return f"RAY_ADDRESS={address}"


#: The launcher that runs a sweep's jobs as Ray tasks (hydra/launcher=ray).
RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"


def check_ray_cluster(config: DictConfig, environ: Any = os.environ) -> None:
    """Where ``config`` (a multirun's, before Hydra builds its launcher) runs under
    ``hydra/launcher=ray``: make its ``hydra.launcher.ray.init`` join the cluster it names, or
    refuse (:class:`UserInputError`) an address where nothing answers. No object store size for
    a cluster (Hydra's launcher adds one where none is set); ``address=local`` where it names
    none, so that ``ray.init`` starts a Ray of the sweep's own."""
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
    reason = unreachable(address)
    if reason is not None:
        raise UserInputError(no_ray_cluster(_setting(address, init), reason))
