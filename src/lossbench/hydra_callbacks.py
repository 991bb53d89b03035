"""Hydra callbacks: refuse a bad single run before Hydra creates its output directory.

``configs/train.yaml`` registers :class:`ValidateBeforeRun` under ``hydra.callbacks``. In a
multirun each job validates itself instead, so that a refused job is recorded in its own
directory (``metrics.json`` with status ``failed`` and ``refused: true``) and the other jobs
still run.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lossbench.errors import format_warning, refusing
from lossbench.parent_watch import LAUNCHER_PID_ENV


class ValidateBeforeRun(Callback):
    """Run :func:`lossbench.train.preflight` in ``on_run_start`` (config, seed, hardware, data
    file and splits); a refusal exits 2 with the message, before anything is written. A
    multirun's sweeper and launcher settings are checked in ``on_multirun_start``
    (:func:`check_sweep_settings`), and a Ray sweep's cluster
    (:func:`lossbench.ray_cluster.check_ray_cluster`)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench.hydra_internals import hydra_config_unset
        from lossbench.instantiators import check_logger_folders
        from lossbench.interpolations import check_interpolations, check_swept_interpolations
        from lossbench.interrupts import STUDY_FOLDER
        from lossbench.nested_folders import check_sweep_folder
        from lossbench.ray_cluster import check_ray_cluster
        from lossbench.search_check import is_search
        from lossbench.setup_names import check_swept_setups
        from lossbench.sweep_directories import check_shared_job_directories
        from lossbench.sweep_values import check_swept_values
        from lossbench.sweep_warnings import forget_warnings

        warnings.formatwarning = format_warning  # type: ignore[assignment]
        # ${hydra:...} values are each job's: not the config an earlier Hydra app in this
        # process left set (a test suite, a notebook); a refusal echoes numbers as typed
        with refusing(_typed(config)), hydra_config_unset():
            check_sweep_directory(job_directory(config, "hydra.sweep.dir"))
            check_sweep_folder(  # not in a run's, nor a study's of the other kind
                job_directory(config, "hydra.sweep.dir"), search=is_search(config)
            )
            check_job_directory(config.hydra)
            check_sweep_settings(config.hydra)
            check_optimized_metric(config)
            try:
                overrides = swept_overrides(config)
            except Exception:  # an override Hydra itself will refuse, with its own message
                overrides = None
            check_sweep_subdir(config, overrides or [])
            if overrides is not None:  # the swept values are not in this config yet
                _check_grid(config)  # 'optimizer.lr=0.1,0.01' ++optimizer.lr=0.5
                check_shared_job_directories(config, overrides)  # subdir=same seed=0,1
                swept = [o.key_or_group for o in overrides if o.is_sweep_override()]
                check_interpolations(config, swept=swept)
                check_swept_interpolations(config, overrides)  # seed=${nosuch},1
                check_swept_values(config, overrides)  # data.batch_size=16,0
                check_swept_setups(config, overrides)  # setup=logits_focal loss=focal,poly
                _warn_shared_checkpoint_files(config, overrides)  # dirpath=/abs, one filename
            check_logger_folders(config, job_directory(config, "hydra.sweep.dir"))
            _check_search(config)
            check_ray_cluster(config)  # last: it may wait for the cluster's address to answer
        _prepare_logger_stores(config)
        forget_warnings(str(config.hydra.sweep.dir))  # this sweep warns for itself
        STUDY_FOLDER[:] = [(str(config.hydra.sweep.dir), time_stamped(config.hydra))]  # a stop
        # the joblib workers of hydra/launcher=parallel end with this process (parent_watch)
        os.environ[LAUNCHER_PID_ENV] = str(os.getpid())
        if "joblib" in str(OmegaConf.select(config, "hydra.launcher._target_", default="")):
            from lossbench.worker_kills import use_own_kills, use_own_terminate

            use_own_kills()  # a stopped study's workers are killed without starting pgrep
            use_own_terminate()  # and its executor's threads end before its line

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench.train import preflight

        warnings.formatwarning = format_warning  # type: ignore[assignment]
        # the run shows warnings once, when it starts; its refusal echoes numbers as typed
        with refusing(_typed(config)), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_single_run_of_study(config)
            run_dir = job_directory(config, "hydra.run.dir")
            check_job_directory(config.hydra)
            preflight(config, run_dir)


def _warn_shared_checkpoint_files(config: DictConfig, overrides: list[Any]) -> None:
    """Warn, once for the sweep, where its jobs would write their checkpoints under the same
    names into one folder (:mod:`lossbench.shared_checkpoints`); never refused."""
    from lossbench.shared_checkpoints import warn_shared_checkpoint_files

    try:
        jobs = sweep_jobs(config)
    except Exception:  # a sweep Hydra refuses with its own message
        return
    warn_shared_checkpoint_files(config, overrides, jobs)


def _typed(config: DictConfig) -> list[str]:
    """The command line's overrides (``hydra.overrides.task``) as typed, unresolved (``seed=${x}``
    is text here: its check says what is wrong with it).

        >>> _typed(OmegaConf.create({"hydra": {"overrides": {"task": ["seed=${nosuch}"]}}}))
        ['seed=${nosuch}']
    """
    node = OmegaConf.select(config, "hydra.overrides.task", default=None)
    lines = None if node is None else OmegaConf.to_container(node, resolve=False)
    return [str(line) for line in lines] if isinstance(lines, list) else []


def _prepare_logger_stores(config: DictConfig) -> None:
    """Create the local MLflow stores of the sweep's loggers (``logger=mlflow``) in the
    launching process, before its jobs, which would each create a new store at once and fail
    (:func:`lossbench.mlflow_store.prepare_stores`); a sweep without one imports nothing.

        >>> _prepare_logger_stores(OmegaConf.create({"logger": None}))
    """
    from lossbench.hydra_internals import hydra_config_unset
    from lossbench.mlflow_store import prepare_stores

    with hydra_config_unset():  # the store's path is the same for every job
        prepare_stores(config)


#: The groups whose options are studies or searches (their ``hydra.sweeper.params``).
STUDY_GROUPS = ("experiment", "hparams_search")


def check_single_run_of_study(config: DictConfig) -> None:
    """Refuse a run without ``-m`` of a config that sweeps keys (``hydra.sweeper.params``: an
    ``experiment=`` study, an ``hparams_search=`` search) unless the command line gives each
    swept key its one value: Hydra would ignore the sweep and train one default run.

        >>> from omegaconf import OmegaConf
        >>> plain = {"sweeper": {"params": None}, "overrides": {"task": []}}
        >>> check_single_run_of_study(OmegaConf.create({"hydra": plain}))
        >>> one = {"sweeper": {"params": {"seed": "0,1"}}, "overrides": {"task": ["seed=1"]}}
        >>> check_single_run_of_study(OmegaConf.create({"hydra": one}))  # one run of it: allowed

    Raises:
        ConfigError: a swept key without a value on the command line, naming the swept keys.
    """
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    if not params:
        return
    given = {_override_key(o) for o in OmegaConf.to_container(config.hydra.overrides.task)}
    swept = [str(key) for key in params]
    missing = [key for key in swept if key not in given]
    if not missing:
        return
    from lossbench.validation import ConfigError

    study = _study_choice(config)
    one_run = " ".join(f"{key}={_first_value(params, key)}" for key in swept)
    kind = "a search" if "n_trials" in config.hydra.sweeper else "a study"
    raise ConfigError(
        f"{study} is {kind}: it sweeps {', '.join(swept)} (hydra.sweeper.params), and without "
        f"-m it would train one run with the defaults of {', '.join(missing)} instead. Run "
        f"the {kind[2:]} with -m (lossbench-train -m {study} ...); to train one of its runs "
        f"alone, give each swept key one value on the command line, e.g. {one_run}."
    )


def _override_key(override: str) -> str:
    """The key or group an override sets: ``+seed=1`` -> ``seed``, ``data=iris`` -> ``data``."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0]


def _study_choice(config: DictConfig) -> str:
    """The option that brings the sweep (``experiment=compare_binary``), or ``this config``."""
    choices = OmegaConf.select(config, "hydra.runtime.choices", default=None) or {}
    for group in STUDY_GROUPS:
        if choices.get(group) is not None:
            return f"{group}={choices[group]}"
    return "this config"


def _first_value(params: DictConfig, key: str) -> str:
    """The first value ``params`` (``hydra.sweeper.params``) sweeps ``key`` over, or ``VALUE``
    where it names none (a range: ``interval(0.0, 5.0)``).

        >>> from omegaconf import OmegaConf
        >>> _first_value(OmegaConf.create({"optimizer.lr": "0.001,0.003"}), "optimizer.lr")
        '0.001'
    """
    try:
        value = str(params[key])
    except Exception:  # an interpolation the run does not resolve: no example
        return "VALUE"
    if "(" in value or not value:
        return "VALUE"
    return value.split(",", 1)[0].strip()


def _check_search(config: DictConfig) -> None:
    """An Optuna search: its trials compose and not every one is refused
    (:func:`lossbench.search_check.check_search`)."""
    from lossbench.search_check import check_search, is_search

    if is_search(config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_search(config)


#: The sweepers that run a grid: Hydra's basic sweeper, and lossbench's (a subclass of it).
GRID_SWEEPERS = ("BasicSweeper", "LossbenchSweeper")


def _check_grid(config: DictConfig) -> None:
    """A grid sweep (Hydra's basic sweeper, lossbench's): no key swept under one key element
    and set again after it under another, at which every job would train
    (:func:`lossbench.sweep_conflicts.overridden_sweep`). Read from the multirun's own config:
    its ``hydra.sweeper.params`` and command line (``hydra.overrides.task``).

        >>> hydra = {"sweeper": {"_target_": "hydra._internal.BasicSweeper", "params": None},
        ...          "overrides": {"task": ["seed=0,1", "++seed=2"]}}
        >>> _check_grid(OmegaConf.create({"hydra": hydra}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: ++seed=2 sets seed, but seed=0,1 sweeps it, ...
    """
    from lossbench.errors import ConfigError
    from lossbench.sweep_conflicts import overridden_sweep

    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if not target.endswith(GRID_SWEEPERS):
        return
    try:  # resolved, as Hydra gives them to the sweeper
        node = OmegaConf.select(config, "hydra.sweeper.params", default=None)
        params = {} if node is None else OmegaConf.to_container(node, resolve=True)
    except Exception:  # a value Hydra itself will refuse, with its own message
        return
    refusal = overridden_sweep(params, _typed(config))  # type: ignore[arg-type]
    if refusal is not None:
        raise ConfigError(refusal)


def time_stamped(hydra: DictConfig) -> bool:
    """Whether ``hydra.sweep.dir`` (of ``hydra``, the config's ``hydra`` node) names a study's
    folder by the time it starts (``${now:...}``, as train.yaml's ``multiruns/`` and the Optuna
    searches' folders do): the same command run again makes a new folder, where one fixed by
    the study's config or the command line (``experiment=``, ``hydra.sweep.dir=...``) is the
    same each time.

        >>> from omegaconf import OmegaConf
        >>> time_stamped(OmegaConf.create({"sweep": {"dir": "out/${now:%H-%M-%S-%f}"}}))
        True
        >>> time_stamped(OmegaConf.create({"sweep": {"dir": "out/studies/mine"}}))
        False
    """
    sweep = OmegaConf.select(hydra, "sweep")
    if sweep is None:
        return False
    raw = OmegaConf.to_container(sweep, resolve=False).get("dir")
    return "${now:" in str(raw)


def job_directory(config: DictConfig, key: str) -> Path:
    """The directory ``key`` (``hydra.run.dir``, ``hydra.sweep.dir``) of ``config`` names,
    resolved; a refusal where it cannot be resolved (an interpolation of a key the config
    lacks, ``hydra.run.dir=${nosuch}``, or one that a value it reads makes: Hydra would stop
    with a traceback when it creates the directory).

        >>> from omegaconf import OmegaConf
        >>> config = OmegaConf.create({"hydra": {"run": {"dir": "${nosuch}/run"},
        ...                            "overrides": {"task": ["hydra.run.dir=${nosuch}/run"]}}})
        >>> job_directory(config, "hydra.run.dir")
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.run.dir=${nosuch}/run interpolates nosuch, ...
    """
    from omegaconf.errors import InterpolationResolutionError

    from lossbench.errors import ConfigError
    from lossbench.interpolations import given_overrides, interpolation_refusal

    try:
        return Path(str(OmegaConf.select(config, key, default="")))
    except InterpolationResolutionError as error:
        reason = str(error).splitlines()[0]
        what = {
            "hydra.run.dir": "the run's directory",
            "hydra.sweep.subdir": "each job's directory",
        }.get(key, "the study's directory")
        parent, _, leaf = key.rpartition(".")
        raw = OmegaConf.to_container(OmegaConf.select(config, parent), resolve=False)[leaf]
        refusal = interpolation_refusal(
            key, raw, reason, given_overrides(config), what=f"{what} ({key})"
        )
        raise ConfigError(refusal.replace(" (in the config)", "")) from None


def check_sweep_directory(sweep_dir: Path) -> None:
    """Refuse a study's directory (``hydra.sweep.dir``) that is a file, or lies below one: the
    launcher could not create it (Hydra would stop with a traceback).

        >>> check_sweep_directory(Path(__file__))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweep.dir: the study's directory '...' cannot be made...
    """
    from lossbench.errors import ConfigError
    from lossbench.output_files import cannot_write_below, file_in_the_way

    blocking = file_in_the_way(sweep_dir)
    if blocking is not None:
        raise ConfigError(
            f"hydra.sweep.dir: the study's directory {str(sweep_dir)!r} cannot be made: "
            f"{str(blocking)!r} is a file. Give hydra.sweep.dir a directory (created where "
            "missing), e.g. hydra.sweep.dir=outputs/studies/mine, or move the file away."
        )
    unwritable = cannot_write_below(sweep_dir)
    if unwritable is not None:
        raise ConfigError(
            f"hydra.sweep.dir: the study's directory {str(sweep_dir)!r} cannot be made: "
            f"{unwritable}. Give it a folder you can write (paths.output_dir=<folder>, or "
            "hydra.sweep.dir=<folder>)."
        )


def check_sweep_subdir(config: DictConfig, overrides: list[Any]) -> None:
    """Refuse a job directory (``hydra.sweep.subdir``) that no job can work out
    (``hydra.sweep.subdir=${nosuch}``, ``${oc.env:UNSET}``): Hydra resolves it for each job as
    it launches, and would stop with a traceback. It is resolved here with what each job
    will have: its number and id (``${hydra.job.num}``), and a value of each swept key.

        >>> config = OmegaConf.create({"hydra": {"sweep": {"subdir": "${hydra.job.num}_${x}"},
        ...                            "job": {"num": "???"}, "overrides": {"task": []}}})
        >>> check_sweep_subdir(config, [])
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweep.subdir=${hydra.job.num}_${x} interpolates x, ...
    """
    copy = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    raw = (
        OmegaConf.to_container(copy.hydra, resolve=False).get("sweep", {})
        if "hydra" in copy
        else {}
    )
    if not isinstance(raw, dict) or raw.get("subdir") is None:
        return
    OmegaConf.set_struct(copy, False)
    if not isinstance(copy.hydra.get("job"), DictConfig):
        copy.hydra.job = {}
    for key, value in (("num", 0), ("id", "0"), ("override_dirname", ""), ("name", "train")):
        if OmegaConf.is_missing(copy.hydra.job, key) if key in copy.hydra.job else True:
            copy.hydra.job[key] = value
    for override in overrides:  # a key added by a sweep (+x=1,2) is in each job only
        try:
            key = override.key_or_group
            if override.is_sweep_override() and OmegaConf.select(copy, key, default=None) is None:
                OmegaConf.update(copy, key, "0", force_add=True)
        except Exception:  # a group or key Hydra itself will refuse
            continue
    subdir = job_directory(copy, "hydra.sweep.subdir")
    check_subdir_inside(subdir, str(raw["subdir"]), job_directory(copy, "hydra.sweep.dir"))


#: What a sweep's jobs' directory setting may be, for the refusals' fixes.
_SUBDIR_FIX = (
    "Give a path relative to the study's directory that differs from job to job, e.g. "
    "'hydra.sweep.subdir=${hydra.job.num}', or leave hydra.sweep.subdir out (each job gets "
    "<number>_<data>_<head>_<loss>); to put the whole study elsewhere, set hydra.sweep.dir."
)


def check_subdir_inside(subdir: Path, given: str, sweep_dir: Path) -> None:
    """Refuse a job directory (``hydra.sweep.subdir``, here resolved for the first job as
    ``subdir``) that is not inside the study's directory ``sweep_dir``: an absolute path, or
    one that climbs out with ``..`` (Hydra puts the job in ``sweep_dir / subdir``, wherever that
    is, and neither lossbench-report nor a rerun of the study finds it there); or the study's
    directory itself, where every job would train one over the other.

        >>> check_subdir_inside(Path("0/.."), "${hydra.job.num}/..", Path("study"))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweep.subdir=${hydra.job.num}/.. names the study's...
        >>> check_subdir_inside(Path("a/../b"), "a/../b", Path("study"))
    """
    from lossbench.errors import ConfigError

    job = Path(os.path.normpath(sweep_dir / subdir))
    inside = Path(os.path.normpath(subdir))
    if subdir.is_absolute():
        why = f"is an absolute path: each job would write to {job}"
    elif inside.parts[:1] == ("..",):
        why = f"climbs out of it with '..': the first job would write to {job}"
    elif inside == Path("."):
        raise ConfigError(
            f"hydra.sweep.subdir={given} names the study's directory itself ({job}): every job "
            f"of the study would train there, one over the other. {_SUBDIR_FIX}"
        )
    else:
        return
    raise ConfigError(
        f"hydra.sweep.subdir={given} places each job's directory outside the study's directory "
        f"hydra.sweep.dir={sweep_dir}; it {why}, among whatever is there, where neither "
        f"lossbench-report of the study nor a rerun of it looks. {_SUBDIR_FIX}"
    )


def check_job_directory(hydra: DictConfig) -> None:
    """Refuse ``hydra.job.chdir=true``: lossbench resolves relative paths (``data.path``,
    ``paths.output_dir``, a sweep's directory) from the directory the command starts in, and
    writes each run's files into its run directory itself; a job that changed into its run
    directory would put the shared stores (``mlflow.db``, the data cache) and a study's progress
    markers inside it, and look for a relative ``data.path`` there.

        >>> from omegaconf import OmegaConf
        >>> check_job_directory(OmegaConf.create({"job": {"chdir": True}}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.job.chdir=true is not supported: ...
    """
    from lossbench.errors import ConfigError

    if OmegaConf.select(hydra, "job.chdir", default=False):
        raise ConfigError(
            "hydra.job.chdir=true is not supported: lossbench writes every file of a run into "
            "its run directory without changing into it, and reads relative paths (data.path, "
            "paths.output_dir) from the directory the command starts in; changing into the run "
            "directory would move the shared stores (mlflow.db, the data cache) and a study's "
            "progress into each run. Leave it false (the default): the run's directory is "
            "paths.run_dir in the config, and HydraConfig's runtime.output_dir."
        )


def check_sweep_settings(hydra: DictConfig) -> None:
    """Refuse sweeper and launcher settings that would end a multirun in a traceback: a
    search of no trials (``hydra.sweeper.n_trials`` below 1), the Optuna sweeper's ``n_jobs``,
    ``direction`` and sampler seed (:func:`_check_optuna_settings`), joblib's ``n_jobs=0`` and
    the Slurm launcher where there is no Slurm.

        >>> from omegaconf import OmegaConf
        >>> check_sweep_settings(OmegaConf.create({"sweeper": {"n_trials": 0}, "launcher": {}}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweeper.n_trials=0 must be at least 1: ...
    """
    from lossbench.errors import ConfigError

    trials = hydra.sweeper.get("n_trials")
    if trials is not None and not (isinstance(trials, int) and trials >= 1):
        raise ConfigError(
            f"hydra.sweeper.n_trials={trials!r} must be at least 1: the number of trials the "
            "search runs, e.g. hydra.sweeper.n_trials=20."
        )
    if "optuna" in str(hydra.sweeper.get("_target_", "")).lower():
        _check_optuna_settings(hydra.sweeper, time_stamped=time_stamped(hydra))
    launcher = hydra.launcher
    if str(launcher.get("_target_", "")).endswith("SlurmLauncher") and not shutil.which("srun"):
        raise ConfigError(
            "hydra/launcher=slurm submits each job to Slurm, whose commands (srun, sbatch) are "
            "not on this machine's PATH: run the command on the cluster (its login node), or "
            "choose a launcher that runs here: hydra/launcher=parallel (worker processes), "
            "hydra/launcher=vectorized or hydra/launcher=basic."
        )
    _check_launcher_settings(launcher)
    if "joblib" in str(launcher.get("_target_", "")) and launcher.get("n_jobs") == 0:
        raise ConfigError(
            "hydra.launcher.n_jobs=0 runs no worker: give the number of worker processes, "
            "e.g. hydra.launcher.n_jobs=2 (-1: one per core), or hydra/launcher=basic for one "
            "job after another."
        )


def _check_optuna_settings(sweeper: DictConfig, *, time_stamped: bool = False) -> None:
    """Refuse Optuna sweeper settings that would end the search in a traceback: ``n_jobs``
    below 1 (a ZeroDivisionError), a ``direction`` that is not minimize or maximize (Optuna's
    ValueError), a ``storage`` Optuna cannot open and a sampler Hydra cannot build
    (:mod:`lossbench.optuna_settings`), a sampler's ``seed`` outside 0 to 2**32 - 1 (numpy's,
    through Hydra's instantiation error). ``time_stamped``: the search's folder is named by the
    time it starts (:func:`time_stamped`).

        >>> from omegaconf import OmegaConf
        >>> _check_optuna_settings(OmegaConf.create({"n_jobs": 0}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: hydra.sweeper.n_jobs=0 must be at least 1: ...
    """
    from lossbench import optuna_settings
    from lossbench.errors import ConfigError

    jobs = sweeper.get("n_jobs")
    if jobs is not None and not (isinstance(jobs, int) and jobs >= 1):
        raise ConfigError(
            f"hydra.sweeper.n_jobs={jobs!r} must be at least 1: the number of trials the search "
            "asks Optuna for and launches at a time, e.g. hydra.sweeper.n_jobs=1 (the default)."
        )
    try:
        direction = sweeper.get("direction")
    except Exception:  # an interpolation that cannot be resolved: Hydra says which
        direction = None
    given = direction if isinstance(direction, (list, tuple)) else [direction]
    given = [d.name if hasattr(d, "name") else d for d in given]
    wrong = [d for d in given if d is not None and str(d).lower() not in ("minimize", "maximize")]
    if wrong:
        raise ConfigError(
            f"hydra.sweeper.direction={wrong[0]!r} is not a direction of an Optuna search. "
            "Valid: minimize, maximize (one per objective); by default it follows "
            "optimized_metric (val/nll: minimize, val/auroc: maximize), so leave it out or give "
            "e.g. hydra.sweeper.direction=maximize."
        )
    storage = optuna_settings.storage_refusal(sweeper.get("storage"), time_stamped=time_stamped)
    if storage is not None:
        raise ConfigError(storage)
    sampler = sweeper.get("sampler")
    refusal = optuna_settings.sampler_refusal(sampler, _sampler_options())
    if refusal is not None:
        raise ConfigError(refusal)
    seed = sampler.get("seed") if isinstance(sampler, DictConfig) else None
    if seed is not None and not (isinstance(seed, int) and 0 <= seed <= 2**32 - 1):
        raise ConfigError(
            f"hydra.sweeper.sampler.seed={seed!r} must be a whole number from 0 to 2**32 - 1 "
            "(4294967295): the seed of the sampler's draws, e.g. hydra.sweeper.sampler.seed=0; "
            "null draws other values each search."
        )


def _sampler_options() -> list[str]:
    """The options of ``hydra/sweeper/sampler`` (the Optuna sweeper's, in Hydra's store)."""
    from hydra.core.config_store import ConfigStore

    try:
        found = ConfigStore.instance().list("hydra/sweeper/sampler")
    except Exception:  # IOError: the Optuna sweeper's plugin stores none
        return []
    return sorted(name.removesuffix(".yaml") for name in found)


def _check_launcher_settings(launcher: DictConfig) -> None:
    """Refuse a ``hydra.launcher`` key its launcher does not take (``+hydra.launcher.foo=1``:
    a TypeError when Hydra builds the launcher), and the vectorized launcher's ``n_jobs`` and
    ``max_group_size`` below 1."""
    import inspect

    from hydra.utils import get_class

    from lossbench.errors import ConfigError

    target = str(launcher.get("_target_", ""))
    try:
        parameters = inspect.signature(get_class(target)).parameters.values()
        if target.endswith("JoblibLauncher"):  # hands its settings to joblib.Parallel
            parameters = inspect.signature(get_class("joblib.Parallel")).parameters.values()
            parameters = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    except Exception:  # Hydra reports a launcher it cannot import
        return
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        takes = [p.name for p in parameters if p.name != "self"]
        for key in launcher:
            if key != "_target_" and key not in takes:
                raise ConfigError(
                    f"hydra.launcher.{key}: the launcher {target.rsplit('.', 1)[-1]} has no "
                    f"setting {key!r}. Its settings: {', '.join(takes) or 'none'}; remove "
                    f"hydra.launcher.{key} from the command line."
                )
    if not target.endswith("VectorizedLauncher"):
        return
    jobs, size = launcher.get("n_jobs"), launcher.get("max_group_size")
    if not (isinstance(jobs, int) and not isinstance(jobs, bool) and jobs >= 1):
        raise ConfigError(
            f"hydra.launcher.n_jobs={jobs!r}: the vectorized launcher's worker processes, at "
            "least 1 (1 trains every group in the launching process). Give e.g. "
            "hydra.launcher.n_jobs=2, or leave it out for one per core (at most 8)."
        )
    if size is not None and not (
        isinstance(size, int) and not isinstance(size, bool) and size >= 1
    ):
        raise ConfigError(
            f"hydra.launcher.max_group_size={size!r}: the most members a group trains at once, "
            "at least 1 (1 trains every job alone). Give e.g. hydra.launcher.max_group_size=12, "
            "or null for groups as large as the sweep allows."
        )


def check_optimized_metric(config: DictConfig) -> None:
    """Refuse a sweep whose ``optimized_metric`` no task logs (each job would be refused, and
    a search would end without a completed trial); a metric of another task than the jobs'
    is left to each job's own check, which knows its data.

        >>> from omegaconf import OmegaConf
        >>> check_optimized_metric(OmegaConf.create({"optimized_metric": "val/foo"}))
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: optimized_metric='val/foo' is not a metric of any task...
    """
    from lossbench.errors import ConfigError
    from lossbench.metric_names import LOGGED_METRICS

    name = config.get("optimized_metric")
    if not isinstance(name, str):
        return
    stage, _, metric = name.partition("/")
    known = sorted({m for metrics in LOGGED_METRICS.values() for m in metrics})
    if stage not in ("val", "train") or metric not in known:
        raise ConfigError(
            f"optimized_metric={name!r} is not a metric of any task, so every job of the sweep "
            f"would be refused. Valid: val/<metric> with <metric> one of {', '.join(known)} "
            "(as the task logs them), e.g. optimized_metric=val/nll."
        )


def swept_overrides(config: DictConfig) -> list[Any]:
    """The multirun's overrides, parsed (Hydra's ``Override``): ``hydra.sweeper.params``, then
    the command line's (which win for the same key), as Hydra's basic sweeper and lossbench's
    combine them. The sweeper's params are resolved, as Hydra gives them to the sweeper; the
    command line's are read as written: a value's ``${...}`` is resolved by each job."""
    from lossbench.hydra_internals import sweep_config_loader
    from lossbench.override_grammar import override_parser

    params = OmegaConf.select(config, "hydra.sweeper.params", default=None)
    params = {} if params is None else OmegaConf.to_container(params, resolve=True)
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    # glob() over a config group's options needs Hydra's config loader, as its sweepers use:
    # the one of the multirun's own search path (not the process's Hydra app, which an earlier
    # app may have left set), built only for a glob() (a sweep without one builds none)
    globbed = any("glob(" in str(argument) for argument in arguments)
    loader = sweep_config_loader(config) if globbed else None
    return override_parser(config_loader=loader).parse_overrides(arguments)


def sweep_jobs(config: DictConfig) -> int | None:
    """How many jobs the multirun of ``config`` launches, or None where that is not known
    up front (a sweep over a continuous range).

    Swept values come from ``hydra.sweeper.params`` and the command line (which wins for the
    same key), as Hydra's basic sweeper and lossbench's combine them; an Optuna search runs
    ``hydra.sweeper.n_trials``.
    """
    from lossbench.progress import sweep_size

    sweeper = config.hydra.sweeper
    if sweeper.get("n_trials") is not None:
        return int(sweeper.n_trials)
    lengths: dict[str, int] = {}
    for override in swept_overrides(config):
        key = override.get_key_element()
        if not override.is_sweep_override():
            lengths[key] = 1
        elif override.is_discrete_sweep():
            lengths[key] = len(list(override.sweep_string_iterator()))
        else:
            return None
    return sweep_size(list(lengths.values()))


class StudyProgressLine(Callback):
    """A multirun's progress on stderr: jobs ended / total, failures, time left; the final
    line says how to make the study's report (:mod:`lossbench.progress`).

    Launchers pickle Hydra's callbacks to their workers (joblib, Ray): the running watch
    stays behind in the process that started the sweep.
    """

    def __init__(self) -> None:
        self._watch: Any = None
        self._started = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"_watch": None, "_started": 0.0}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench.progress import StudyWatch

        try:
            total = sweep_jobs(config)
        except Exception:  # an override Hydra itself will refuse, with its own message
            return
        if total is None:
            return
        sweep_dir = str(config.hydra.sweep.dir)
        from lossbench.progress import ALL_REFUSED, NONE_COMPLETED, NOT_RUN, WATCHING

        NOT_RUN.pop(sweep_dir, None)
        ALL_REFUSED.pop(sweep_dir, None)
        NONE_COMPLETED.pop(sweep_dir, None)
        self._started = time.time()
        from lossbench.record import debug_settings

        # Set for the whole sweep, not swept (a swept value is not in this config): every job
        # is a debug run, and the report would refuse them all. A number of training batches
        # may leave none out on a job's data: its record says so (_ordinary_run_recorded).
        debug = debug_settings(config.get("trainer"))
        final = functools.partial(_final_line, sweep_dir, debug, since=self._started)
        self._watch = StudyWatch(sweep_dir, total, final=final).start()
        WATCHING.append(self)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.end()

    def halt(self) -> None:
        """Stop the watch where the command is stopped: its line ends at the current counts,
        without the final line (:func:`lossbench.progress.halt_watches`)."""
        from lossbench.progress import WATCHING

        if self in WATCHING:
            WATCHING.remove(self)
        if self._watch is not None:
            self._watch.halt()
            self._watch = None

    def end(self) -> tuple[str, dict[str, int], float] | None:
        """Stop the watch (its final line) and note a sweep that the command then refuses
        (``NOT_RUN``, ``ALL_REFUSED``) or fails (``NONE_COMPLETED``); ``(sweep directory,
        outcome counts, start time)``, or None where nothing was watched. Hydra calls it as
        the sweep ends; where the sweeper raised instead (an Optuna search none of whose
        trials completed), lossbench-train does
        (:func:`lossbench.progress.end_cut_short_sweeps`)."""
        from lossbench.progress import WATCHING

        if self in WATCHING:
            WATCHING.remove(self)
        if self._watch is None:
            return None
        counts = self._watch.stop()
        from lossbench.progress import (
            ALL_REFUSED,
            NONE_COMPLETED,
            NOT_RUN,
            every_job_refused,
            none_completed,
        )

        sweep_dir = str(self._watch.sweep_dir)
        if counts.get("exists"):
            NOT_RUN[sweep_dir] = counts["exists"]
        elif every_job_refused(counts):
            ALL_REFUSED[sweep_dir] = (counts["refused"], self._started)
        elif none_completed(counts):
            NONE_COMPLETED[sweep_dir] = (dict(counts), self._started)
        self._watch = None
        return sweep_dir, counts, self._started


def _ordinary_run_recorded(sweep_dir: str, since: float) -> bool:
    """Whether a job under ``sweep_dir`` recorded a completed run that is no debug run at or
    after ``since`` (a time stamp): the sweep's ``trainer.limit_train_batches``, a number of
    batches, left none of that job's batches out
    (:func:`~lossbench.record.debug_settings`)."""
    import json

    for path in Path(sweep_dir).rglob("metrics.json"):
        try:
            if path.stat().st_mtime < since:
                continue
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        completed = isinstance(record, dict) and record.get("status") == "completed"
        if completed and "debug_run" in record and not record["debug_run"]:
            return True
    return False


def _final_line(
    sweep_dir: str,
    debug: str | None,
    progress: Any,
    counts: dict[str, int],
    *,
    since: float | None = None,
) -> str:
    """The sweep's last progress line: where to make its report; for a sweep of debug runs
    (``debug``: their settings), that they are no result, which the report leaves out, unless a
    job written at or after ``since`` recorded an ordinary run."""
    from lossbench.progress import every_job_refused, summary
    from lossbench.record import DEBUG_FIX

    if debug is not None and since is not None and _ordinary_run_recorded(sweep_dir, since):
        debug = None

    if counts.get("exists") or every_job_refused(counts):
        return f"{summary(progress, counts)}."  # lossbench-train then says why and exits 2
    if not counts.get("completed") and not counts.get("skipped"):  # the report would refuse
        return f"{summary(progress, counts)}. No run completed: there is nothing to report"
    if debug is not None:
        return (
            f"{summary(progress, counts)}. Its runs are debug runs ({debug}), no results: "
            f"lossbench-report leaves them out; {DEBUG_FIX} for a report"
        )
    report = shlex.quote(sweep_dir)  # for the shell: the line pastes (a folder with spaces)
    return f"{summary(progress, counts)}. Make its report: lossbench-report {report}"
