"""Several processes per run (``trainer=ddp``) and several runs per machine, in one run directory.

    lossbench-train trainer=ddp trainer.accelerator=cpu trainer.devices=2     # 2 CPU processes
    lossbench-train -m trainer=ddp seed=0,1,2                                  # one DDP run per job

**Launching.** With ``trainer.strategy=ddp`` Lightning's own launcher re-runs ``sys.argv`` in
each extra process. Under Hydra that goes wrong: each child composes its own ``${now:...}`` run
directory (scattered directories), and inside a ``-m`` sweep each child re-runs the whole
sweep. :func:`prepare` keeps Lightning's DDP and replaces only its launcher: rank 0
starts each child as ``python -m lossbench.train`` on rank 0's resolved config, with
``hydra.run.dir`` set to rank 0's run directory (in a sweep: the job's directory) and
``hydra.output_subdir=null``, so every rank works in one directory and a child runs one job,
never the sweep. A child logs to ``ddp_rank<k>.log`` there, not to the console. Where the
processes are created outside (Slurm, torchrun), Lightning's cluster environment is used
unchanged.

**Writing.** Every rank computes the same synchronised metrics; only global rank 0 writes
``metrics.json`` (:func:`finish_run`; loggers and checkpoints are rank-0 only in Lightning).
:func:`finish_run` also waits for the children and releases the process group, so the next job
of a sweep starts a fresh DDP group.

**Evaluation shares.** Each process evaluates its own rows of every split, none repeated, so
that the val/ and test/ metrics are those of the whole split (training pads its shares by
repeating rows instead, so that every process takes the same steps). A run whose validation or
test split has fewer rows than processes is refused before any process starts
(:func:`check_evaluation_shares`): a process without a row would have no batch to evaluate.

**Threads.** Processes on one machine share its cores: :func:`fit_threads` sets
``torch.set_num_threads(cores // (processes per node x parallel jobs))``, at least 1, never
more than torch already uses. Measured on 2 cores: 2 processes with 2 threads each made a step
15x slower than with 1 thread each.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.strategies import ParallelStrategy
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from lossbench.cpus import cores
from lossbench.errors import ConfigError
from lossbench.lightning_internals import (
    SubprocessScriptLauncher,
    check_can_spawn_children,
    set_launcher,
    sigterm_without_collective,
    subprocess_launcher,
)
from lossbench.record import RECORD_NAME, write_record
from lossbench.tasks import is_dense

log = logging.getLogger("lossbench")

#: Environment variables the launcher sets in rank 0 and restores when the run ends.
_DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
#: Seconds rank 0 may still run after a child failed before it is stopped (as Lightning does).
_CHILD_FAILURE_GRACE_S = 30.0
#: The launcher of the DDP run this process is rank 0 of, if any (one run at a time).
_ACTIVE: RunDirLauncher | None = None


def _hydra_config() -> Any | None:
    """The Hydra config of the job this process runs (its config has no hydra node: Hydra sets
    this one for the job before calling the task function), None outside Hydra."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def parallel_jobs() -> int:
    """How many jobs of this sweep run at once on this machine (joblib's ``n_jobs``), else 1."""
    hydra_cfg = _hydra_config()
    launcher = hydra_cfg.get("launcher") if hydra_cfg is not None else None
    if launcher is None or "joblib" not in str(launcher.get("_target_", "")).lower():
        return 1
    n_jobs = launcher.get("n_jobs") or 1
    return max(1, cores() + 1 + n_jobs if n_jobs < 0 else n_jobs)  # joblib: -1 = all cores


def fit_threads(processes_per_node: int, available: int | None = None) -> int:
    """Size torch's intra-op thread pool so that all processes on this machine fit its cores
    (``available``, default :func:`lossbench.cpus.cores`); never more threads than torch
    already uses."""
    processes, jobs = max(1, processes_per_node), parallel_jobs()
    available = available or cores()
    threads = min(max(1, available // (processes * jobs)), torch.get_num_threads())
    torch.set_num_threads(threads)
    if processes * jobs > 1:
        log.info(
            "torch threads per process: %d (%d cores; %d processes per run x %d parallel jobs)",
            threads,
            available,
            processes,
            jobs,
        )
    return threads


def processes_per_node(trainer: Any) -> int:
    strategy = trainer.strategy
    if isinstance(strategy, ParallelStrategy) and strategy.parallel_devices:
        return len(strategy.parallel_devices)
    return 1


@dataclass(frozen=True)
class ChildRun:
    """What a DDP child needs to join rank 0's run: its config and where to run."""

    config_yaml: str  # rank 0's resolved config
    output_dir: Path  # rank 0's run directory
    cwd: str  # where rank 0 was started (relative paths in the config resolve from here)
    chdir: bool  # hydra.job.chdir of rank 0
    module: str = "lossbench.train"  # the Hydra app the children run (`python -m <module>`)

    @classmethod
    def of(cls, cfg: DictConfig, output_dir: Path) -> ChildRun:
        hydra_cfg = _hydra_config()
        cwd = hydra_cfg.runtime.cwd if hydra_cfg is not None else os.getcwd()
        chdir = bool(hydra_cfg.job.chdir) if hydra_cfg is not None else False
        return cls(OmegaConf.to_yaml(cfg, resolve=True), Path(output_dir).resolve(), cwd, chdir)

    def write_config(self, directory: Path) -> Path:
        """The child's primary config: rank 0's config plus the Hydra settings of its run."""
        config = OmegaConf.create(self.config_yaml)
        config.hydra = {
            "run": {"dir": str(self.output_dir)},
            "output_subdir": None,  # .hydra/ is rank 0's
            "job": {"chdir": self.chdir},
            "job_logging": {"root": {"handlers": ["file"]}},  # rank 0 speaks on the console
        }
        path = directory / "config.yaml"
        OmegaConf.save(config, path)
        return path

    def command(self, config: Path, local_rank: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            self.module,
            "--config-path",
            str(config.parent),
            "--config-name",
            config.stem,
            f"hydra.job.name=ddp_rank{local_rank}",
        ]


class RunDirLauncher(SubprocessScriptLauncher):
    """Lightning's subprocess launcher, starting children on rank 0's config and directory."""

    def __init__(self, *args: Any, child_run: ChildRun, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.child_run = child_run
        self.saved_env: dict[str, str | None] = {}
        self.stopped = threading.Event()
        self.launched = False
        self._config_dir: tempfile.TemporaryDirectory | None = None

    def launch(self, function: Any, *args: Any, trainer: Any = None, **kwargs: Any) -> Any:
        global _ACTIVE
        self.cluster_environment.validate_settings(
            num_devices=self.num_processes, num_nodes=self.num_nodes
        )
        # Children start once per run (fit); validate and test reuse them and the process group.
        if not self.launched and not self.cluster_environment.creates_processes_externally:
            if _ACTIVE is not None:
                end_ddp_run()  # a previous job's group, if its finish_run was never reached
            self._start_children()
            self.launched, _ACTIVE = True, self
            threading.Thread(target=self._observe, daemon=True, name="ddp-observer").start()
        return function(*args, **kwargs)

    def _start_children(self) -> None:
        check_can_spawn_children(self)
        env = self.cluster_environment
        threads = max(1, torch.get_num_threads())
        values = {
            "MASTER_ADDR": env.main_address,
            "MASTER_PORT": str(env.main_port),
            "NODE_RANK": str(env.node_rank()),
            "LOCAL_RANK": str(env.local_rank()),
            "WORLD_SIZE": str(self.num_processes * self.num_nodes),
        }
        self.saved_env = {key: os.environ.get(key) for key in _DDP_ENV}
        os.environ.update(values)
        self._config_dir = tempfile.TemporaryDirectory(prefix="lossbench-ddp-")
        config = self.child_run.write_config(Path(self._config_dir.name))
        for local_rank in range(1, self.num_processes):
            child_env = {
                **os.environ,
                "LOCAL_RANK": str(local_rank),
                "OMP_NUM_THREADS": str(threads),
            }
            command = self.child_run.command(config, local_rank)
            log.info("DDP: starting local rank %d: %s", local_rank, " ".join(command))
            self.procs.append(subprocess.Popen(command, env=child_env, cwd=self.child_run.cwd))

    def _observe(self) -> None:
        """Stop rank 0 if a child fails while rank 0 still runs the job (it would hang)."""
        while not self.stopped.wait(1.0):
            failed = [(i + 1, p.returncode) for i, p in enumerate(self.procs) if p.poll()]
            if not failed:
                continue
            rank, code = failed[0]
            log.error(
                "DDP: local rank %d exited with code %d (see %s); the run cannot complete",
                rank,
                code,
                self.child_run.output_dir / f"ddp_rank{rank}.log",
            )
            if self.stopped.wait(_CHILD_FAILURE_GRACE_S):
                return  # rank 0 finished the job on its own (it failed too, and recorded it)
            self._kill_children()
            os.kill(os.getpid(), signal.SIGKILL)

    def _kill_children(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def end(self, timeout: float) -> None:
        """Wait for the children (``timeout`` seconds, then kill), restore the environment."""
        self.stopped.set()
        for proc in self.procs:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning(
                    "DDP: stopping child %d, which did not exit in %.0f s", proc.pid, timeout
                )
        self._kill_children()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._config_dir is not None:
            self._config_dir.cleanup()


def prepare(trainer: Any, cfg: DictConfig, output_dir: Path) -> None:
    """Fit a new Trainer to lossbench's runs: DDP children join this run; threads fit the cores.

    Lightning's subprocess launcher (``strategy=ddp``, or ``auto`` with several devices) is
    replaced by :class:`RunDirLauncher`; launchers of other strategies, and runs whose processes
    Slurm or torchrun create, are left alone.
    """
    launcher = subprocess_launcher(trainer.strategy)
    if launcher is not None:
        run_dir_launcher = RunDirLauncher(
            launcher.cluster_environment,
            launcher.num_processes,
            launcher.num_nodes,
            child_run=ChildRun.of(cfg, output_dir),
        )
        set_launcher(trainer.strategy, run_dir_launcher)
    if trainer.world_size > 1:
        sigterm_without_collective(trainer)  # Lightning's handler can deadlock the ranks
        # lossbench logs torchmetrics results, which are already synchronised across ranks.
        warnings.filterwarnings("ignore", ".*when logging on epoch level in distributed setting.*")
    slurm_cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    cluster = getattr(trainer.strategy, "cluster_environment", None)
    if isinstance(cluster, SLURMEnvironment) and slurm_cpus:
        fit_threads(1, int(slurm_cpus))  # Slurm gives each task (process) its own CPUs
    else:
        fit_threads(processes_per_node(trainer))


#: The splits every process evaluates a share of, with the fraction setting of each.
_EVALUATED = {"val": ("validation", "data.val_fraction"), "test": ("test", "data.test_fraction")}


def check_evaluation_shares(
    cfg: Any, sizes: dict[str, int], world_size: int, task: str | None = None
) -> None:
    """Refuse a run of ``world_size`` processes whose validation or test split (``sizes``, rows
    per split) has fewer rows than processes: each process evaluates its own rows of every
    split, none repeated, so one of them would have none (Lightning stops that process with
    an error, and the others wait for it). ``task``: the data set's; a dense task's rows are
    its images.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"data": {"name": "iris", "val_fraction": 0.014,
        ...     "test_fraction": 0.2}, "trainer": {"devices": 4, "num_nodes": 1}})
        >>> check_evaluation_shares(cfg, {"train": 117, "val": 3, "test": 30}, 3)
        >>> try:
        ...     check_evaluation_shares(cfg, {"train": 117, "val": 3, "test": 30}, 4)
        ... except ConfigError as error:
        ...     print(str(error)[:71])
        the validation split has 3 rows (data.val_fraction=0.014 of data=iris's

    Raises:
        ConfigError: naming the split, its rows, the processes, and the fix.
    """
    if world_size <= 1:
        return
    unit = "images" if task is not None and is_dense(task) else "rows"
    short = [stage for stage in _EVALUATED if sizes.get(stage, world_size) < world_size]
    if not short:
        return
    total = sum(sizes.values())
    trainer, data = cfg.trainer, cfg.data
    nodes = int(trainer.get("num_nodes") or 1)
    devices = trainer.get("devices")
    per_node = world_size // nodes
    devices_given = f"trainer.devices={devices}" + (
        "" if str(devices) == str(per_node) else f", {per_node} here,"
    )
    given = "; ".join(
        f"the {_EVALUATED[stage][0]} split has {sizes[stage]} {_count(unit, sizes[stage])} "
        f"({_EVALUATED[stage][1]}={data.get(stage + '_fraction')} of data={data.get('name')}'s "
        f"{total} {unit})"
        for stage in short
    )
    most = min(sizes[stage] for stage in short)
    fewer = "processes in all" if nodes > 1 else f"processes (e.g. trainer.devices={most})"
    larger = [_larger_fraction(cfg, stage, total, world_size, unit) for stage in short]
    raise ConfigError(
        f"{given}, fewer than the run's {world_size} processes ({devices_given} x "
        f"trainer.num_nodes={nodes}): under DDP each process evaluates its own {unit} of every "
        "split, none repeated (so that the val/ and test/ metrics are the whole split's), so "
        f"each process needs at least one {_count(unit, 1)} of each, and {world_size - most} "
        f"process{'es' * (world_size - most != 1)} would have none. Use at most {most} "
        f"{fewer}, or {' and '.join(larger)}."
    )


def _count(unit: str, n: int) -> str:
    """``unit`` (a plural: ``rows``) for ``n`` of them: ``row`` for 1."""
    return unit.removesuffix("s") if n == 1 else unit


def _larger_fraction(cfg: Any, stage: str, total: int, rows: int, unit: str) -> str:
    """How to give ``stage``'s split at least ``rows`` of the data set's ``total`` rows: its
    fraction setting raised (about: the splitter may move a row between splits to give each
    split every class), as :func:`lossbench.data.splits.check_split_sizes` counts the splits."""
    from lossbench.data.splits import split_sizes

    name, key = _EVALUATED[stage]
    val, test = float(cfg.data.val_fraction), float(cfg.data.test_fraction)
    for hundredths in range(1, 100):
        fraction = hundredths / 100
        val_f, test_f = (fraction, test) if stage == "val" else (val, fraction)
        if val_f + test_f >= 1:
            break
        split = split_sizes(total, val_f, test_f)
        if split[name] >= rows and split["train"] >= 1:
            return f"a larger {key} (about {key}={fraction:g} gives it {split[name]} {unit})"
    return f"a larger {key} on more {unit}"


def end_ddp_run(*, completed: bool = True) -> None:
    """Wait for this process's DDP children and release the process group (rank 0 only)."""
    global _ACTIVE
    launcher, _ACTIVE = _ACTIVE, None
    if launcher is None:
        return
    launcher.end(timeout=120.0 if completed else 10.0)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def finish_run(output_dir: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write ``metrics.json`` on global rank 0 only, then end the DDP run this process leads.

    Other ranks hold the same synchronised metrics and write nothing. Returns the record's path.
    """
    path = Path(output_dir) / RECORD_NAME
    if rank_zero_only.rank == 0:
        path = write_record(output_dir, record)
    end_ddp_run(completed=record.get("status") == "completed")
    return path
