"""Check that the hardware a run asks for exists on this machine, before anything starts.

    >>> check_hardware({"accelerator": "cpu", "devices": 1, "precision": "32-true"})
    >>> check_hardware({"accelerator": "gpu", "devices": 1, "precision": "32-true"})
    ... # doctest: +SKIP
    Traceback (most recent call last):
    ConfigError: trainer.accelerator=gpu: this machine has no GPU (no CUDA or Apple MPS device ...

The accelerators are described as data (:data:`ACCELERATORS`: the Lightning accelerator classes
behind each name), so the check and its message list the same options. Lightning refuses the same
settings when the Trainer is built, with less to go on ("No supported gpu backend found!"); a
Lightning ``MisconfigurationException`` that the ``trainer.*`` settings still cause is translated
by :func:`trainer_settings_error`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lossbench.errors import ConfigError
from lossbench.precision import PRECISIONS, REFUSED, normalize_precision

#: ``trainer.accelerator`` values: the Lightning accelerators each may use, and the device.
ACCELERATORS: dict[str, tuple[tuple[str, ...], str]] = {
    "auto": (("cuda", "mps", "tpu", "cpu"), "a GPU when there is one, else the CPU"),
    "cpu": (("cpu",), "the CPU"),
    "gpu": (("cuda", "mps"), "a GPU (CUDA, or Apple MPS)"),
    "cuda": (("cuda",), "a CUDA GPU (an NVIDIA driver and a CUDA build of torch)"),
    "mps": (("mps",), "an Apple silicon GPU (MPS)"),
    "tpu": (("tpu",), "a TPU (and the torch_xla package)"),
}
#: Keys of ``trainer`` that choose the hardware (the ones :func:`check_hardware` tries out).
HARDWARE_KEYS = ("accelerator", "devices", "num_nodes", "precision", "strategy")


def _available(name: str) -> bool:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    if name == "cpu":
        return True
    try:
        return bool(AcceleratorRegistry.get(name).__class__.is_available())
    except Exception:  # an accelerator whose library is missing (torch_xla) is not available
        return False


def _device_count(name: str) -> int:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    try:
        return int(AcceleratorRegistry.get(name).__class__.auto_device_count())
    except Exception:
        return 0


def available_accelerators() -> list[str]:
    """The ``trainer.accelerator`` values that can run on this machine."""
    return [
        name
        for name, (backends, _) in ACCELERATORS.items()
        if name == "auto" or any(_available(b) for b in backends)
    ]


def _check_accelerator(accelerator: str, key: str = "trainer.accelerator") -> str:
    """The Lightning accelerator ``accelerator`` resolves to here; refuse one that is missing
    (the message names the setting as ``key``)."""
    name = str(accelerator).lower()
    if name not in ACCELERATORS:
        raise ConfigError(
            f"{key}={accelerator!r} is not an accelerator. Valid: "
            f"{', '.join(ACCELERATORS)} (auto: a GPU when there is one, else the CPU); available "
            f"on this machine: {', '.join(available_accelerators())}."
        )
    backends, needs = ACCELERATORS[name]
    found = [b for b in backends if _available(b)]
    if not found:
        raise ConfigError(
            f"{key}={accelerator} needs {needs}, but this machine has none that torch can "
            f"use. Use {key}=auto (a GPU when there is one, else the CPU) or cpu; available "
            f"here: {', '.join(available_accelerators())}."
        )
    return found[0]


def device_type(accelerator: Any) -> str:
    """The kind of device a run with ``trainer.accelerator=accelerator`` trains on here:
    ``cpu``, ``cuda``, ``mps`` or ``tpu`` (``auto``: a GPU when there is one, else the CPU).
    Lightning is asked only for ``auto`` and the GPU names.

        >>> device_type("cpu")
        'cpu'
    """
    name = str(accelerator or "auto").lower()
    if name == "cpu":
        return "cpu"
    try:
        return _check_accelerator(name)
    except ConfigError:  # refused where the hardware is checked
        return "cpu"


def requested_devices(devices: Any) -> int | None:
    """How many devices ``trainer.devices`` asks for; None for ``auto`` / ``-1`` (all).

    >>> requested_devices("0,1"), requested_devices(2), requested_devices("auto")
    (2, 2, None)
    """
    if devices is None or str(devices).strip().lower() in ("auto", "-1"):
        return None
    if isinstance(devices, list | tuple):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    try:
        count = int(text)
    except ValueError:
        raise ConfigError(
            f"trainer.devices={devices!r} is not a number of devices. Give a count "
            "(trainer.devices=1), a list of device indices (trainer.devices=[0,1]) or auto."
        ) from None
    if count < 1:
        raise ConfigError(
            f"trainer.devices={devices} must be at least 1, a list of device indices, "
            "-1 or auto (all devices)."
        )
    return count


#: Lightning's registered strategies that start their processes by ``spawn`` or ``fork``
#: (``start_method`` of their registry entry; ``tests/test_trainer_args.py`` compares with the
#: installed Lightning): the launcher pickles the model (or forks a process with its threads),
#: which lossbench's runs do not support; ``trainer=ddp`` starts each process afresh instead.
SPAWNING_STRATEGIES: tuple[str, ...] = (
    "ddp_spawn",
    "ddp_fork",
    "ddp_notebook",
    "ddp_spawn_find_unused_parameters_false",
    "ddp_spawn_find_unused_parameters_true",
    "ddp_fork_find_unused_parameters_false",
    "ddp_fork_find_unused_parameters_true",
    "ddp_notebook_find_unused_parameters_false",
    "ddp_notebook_find_unused_parameters_true",
)


#: The ``start_method`` values of Lightning's ``DDPStrategy`` that spawn or fork its processes
#: (its default, ``popen``, starts each afresh as ``trainer=ddp`` does).
SPAWNING_START_METHODS: tuple[str, ...] = ("spawn", "fork", "forkserver")


def check_strategy(strategy: Any) -> None:
    """Refuse a ``trainer.strategy`` that spawns or forks its processes: a registered name of
    :data:`SPAWNING_STRATEGIES`, or a strategy node (``trainer.strategy={_target_:...}``) with
    a ``start_method`` of :data:`SPAWNING_START_METHODS`; ``trainer=ddp`` is the fix.

        >>> check_strategy("ddp")
        >>> check_strategy("ddp_spawn")
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: trainer.strategy=ddp_spawn starts its processes by spawn...
        >>> check_strategy({"_target_": "lightning.pytorch.strategies.DDPStrategy",
        ...                 "start_method": "fork"})
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: trainer.strategy.start_method=fork starts its processes by...
    """
    if isinstance(strategy, Mapping):
        method = strategy.get("start_method")
        if isinstance(method, str) and method.lower() in SPAWNING_START_METHODS:
            raise ConfigError(
                f"trainer.strategy.start_method={method} starts its processes by "
                f"{method.lower()}, {_spawning_refused('ddp')}"
            )
        return
    if not isinstance(strategy, str) or strategy.lower() not in SPAWNING_STRATEGIES:
        return
    method = "fork" if "fork" in strategy or "notebook" in strategy else "spawn"
    unused = "_find_unused_parameters_" in strategy
    same = f"ddp{strategy.lower()[strategy.index('_find_unused') :]}" if unused else "ddp"
    raise ConfigError(
        f"trainer.strategy={strategy} starts its processes by {method}, {_spawning_refused(same)}"
    )


def _spawning_refused(same: str) -> str:
    """Why a strategy that spawns or forks is refused, and the fix: ``trainer=ddp``
    (``trainer.strategy=<same>``)."""
    return (
        "which lossbench does not "
        "support: the launcher hands each process the model built in this one (lossbench's "
        "model holds functions that cannot be pickled, and a forked process inherits this "
        "one's threads), so the run would fail after its directory is made. Use trainer=ddp "
        f"(trainer.strategy={same}), which starts each process afresh from the same command "
        "and writes one run directory, e.g. lossbench-train trainer=ddp trainer.devices=2. "
        f"Refused: {', '.join(SPAWNING_STRATEGIES[:3])} and their _find_unused_parameters_* "
        f"forms, and a strategy's start_method={'/'.join(SPAWNING_START_METHODS)}."
    )


#: Environment variables of the LSF job that Lightning's ``LSFEnvironment.detect`` requires.
_LSF_VARIABLES = (
    "LSB_JOBID",
    "LSB_DJOB_RANKFILE",
    "JSM_NAMESPACE_LOCAL_RANK",
    "JSM_NAMESPACE_SIZE",
)
#: Environment variables that an MPI launcher (mpirun, mpiexec) sets in each process: Lightning's
#: ``MPIEnvironment`` asks mpi4py, which this check does not import.
_MPI_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE")


def cluster_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """The cluster environment Lightning would find for this process, read from the environment
    variables that its environments' ``detect()`` read (``lightning.fabric.plugins.environments``,
    in the order the Trainer tries them), without importing Lightning; None where Lightning
    would fall back to ``LightningEnvironment`` with no address or node rank given, a process
    that knows of no other machine.

        >>> cluster_environment({})
        >>> cluster_environment({"TORCHELASTIC_RUN_ID": "1"})
        'torchrun (TORCHELASTIC_RUN_ID)'
        >>> cluster_environment({"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "interactive"})
    """
    env = os.environ if environ is None else environ
    if "TORCHELASTIC_RUN_ID" in env:
        return "torchrun (TORCHELASTIC_RUN_ID)"
    # Lightning reads an interactive Slurm allocation (job name bash or interactive) as no srun
    if "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return "Slurm's srun (SLURM_NTASKS)"
    if all(name in env for name in _LSF_VARIABLES):
        return "LSF's jsrun (LSB_JOBID)"
    found = [name for name in _MPI_VARIABLES if name in env]
    if found:
        return f"MPI ({found[0]})"
    found = [name for name in ("MASTER_ADDR", "NODE_RANK") if name in env]
    if found:  # LightningEnvironment, each node started by hand
        return f"nodes started by hand ({', '.join(found)})"
    return None


def _check_nodes(trainer: Mapping[str, Any]) -> None:
    """Refuse a ``trainer.num_nodes`` below 1, and one above 1 where no cluster environment
    tells this process of the other machines (:func:`cluster_environment`): each node waits at
    the rendezvous for the others, which never come, so the run would hang once it starts.
    A ``trainer.plugins`` entry or a strategy node's ``cluster_environment`` may bring an
    environment of its own (Kubeflow's): those are left to Lightning."""
    nodes = trainer.get("num_nodes")
    if nodes is None or isinstance(nodes, bool) or not isinstance(nodes, int):
        return  # the schema refuses another type, naming it
    if nodes < 1:
        raise ConfigError(
            f"trainer.num_nodes={nodes} must be at least 1: the number of machines the run "
            "trains on, 1 (the default) for this machine alone."
        )
    strategy = trainer.get("strategy")
    own = trainer.get("plugins") or (
        isinstance(strategy, Mapping) and strategy.get("cluster_environment") is not None
    )
    if nodes == 1 or own or cluster_environment() is not None:
        return
    raise ConfigError(
        f"trainer.num_nodes={nodes} asks for {nodes} machines (nodes), but this process was "
        "started with no cluster environment that Lightning reads (no Slurm srun, torchrun, "
        "LSF or MPI launch, and no MASTER_ADDR or NODE_RANK set), so it knows of no other "
        "machine: every node waits for the others at the rendezvous, and the run would hang "
        "once it starts. Use trainer.num_nodes=1 on one machine (trainer=ddp "
        "trainer.devices=N for several processes here), or launch on a cluster, one process "
        f"per device on each of the {nodes} nodes: under srun (hydra/launcher=slurm "
        f"hydra.launcher.nodes={nodes}) or torchrun --nnodes={nodes} (the README's Scaling "
        "out section)."
    )


def check_hardware(
    trainer: Mapping[str, Any], accelerator_key: str = "trainer.accelerator"
) -> None:
    """Refuse a ``trainer`` config whose accelerator, device count or precision this machine
    cannot provide; the message names the setting (the accelerator as ``accelerator_key``:
    ``lossbench-eval`` takes it as ``accelerator=``), what is available and the fix.

    Raises:
        ConfigError: an unknown or missing accelerator, more devices than it has, an unknown
            precision, a strategy that spawns its processes (:func:`check_strategy`), several
            nodes without a cluster environment (:func:`_check_nodes`).
    """
    check_strategy(trainer.get("strategy"))
    _check_nodes(trainer)
    precision = trainer.get("precision")
    if precision is not None and normalize_precision(precision) not in PRECISIONS:
        accepted = ", ".join(p for p in PRECISIONS if p not in REFUSED)
        raise ConfigError(
            f"trainer.precision={precision!r} is not a precision. Valid: {accepted} "
            "(32-true: float32, the default; bf16-mixed on a CPU or GPU; 16-mixed on a CUDA GPU "
            "only; transformer-engine needs NVIDIA's transformer_engine package)."
        )
    accelerator = trainer.get("accelerator") or "auto"
    wanted = requested_devices(trainer.get("devices"))
    if str(accelerator).lower() == "cpu" or (
        str(accelerator).lower() == "auto" and wanted in (None, 1)
    ):
        # Always available: asking Lightning would import it (seconds) to answer what is
        # known, and validating a config imports no torch or Lightning (tests/test_imports.py).
        return
    backend = _check_accelerator(accelerator, accelerator_key)
    if wanted is not None and backend != "cpu":
        have = _device_count(backend)
        if wanted > have:
            raise ConfigError(
                f"trainer.devices={trainer.get('devices')} asks for {wanted} {backend} devices, "
                f"but this machine has {have}. Use trainer.devices={max(have, 1)} or "
                "trainer.devices=auto (all of them)."
            )


#: Words of a Lightning error about the hardware settings (accelerator, devices, precision,
#: strategy): only such an error is answered with the hardware settings to check.
_HARDWARE_WORDS = ("accelerator", "device", "gpu", "cuda", "mps", "tpu", "precision", "strategy")


def trainer_settings_error(error: Exception) -> ConfigError:
    """A Lightning error from building the Trainer, as the ``trainer.*`` refusal it is: about
    the hardware settings where the error names one, else about the ``trainer.*`` value it
    names.

        >>> str(trainer_settings_error(ValueError("`max_time` has an invalid format")))[:72]
        'Lightning refused the trainer.* settings: `max_time` has an invalid form'
    """
    detail = " ".join(str(error).split()).rstrip(".")
    if not any(word in detail.lower() for word in _HARDWARE_WORDS):
        return ConfigError(
            f"Lightning refused the trainer.* settings: {detail}. Fix the trainer.* value it "
            "names (lossbench-train --cfg job --package trainer shows them all), or leave it at "
            "its default."
        )
    return ConfigError(
        f"the trainer settings cannot start on this machine: {detail}. Check trainer.accelerator "
        f"(available: {', '.join(available_accelerators())}), trainer.devices, "
        "trainer.precision and trainer.strategy, or leave them at their defaults."
    )
