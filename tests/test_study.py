"""Studies: setup and experiment configs, resumable sweeps, Optuna searches that survive failure."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from cli_process import run_module
from job_configs import job_config
from lossbench.compatibility import check
from lossbench.data.datasets import task_of
from lossbench.report import build_report
from lossbench.tasks import is_dense
from lossbench.train import config_dir, main
from lossbench.validation import validate
from multirun_configs import multirun_config

REPO = Path(__file__).resolve().parents[1]
SETUPS = sorted(p.stem for p in (config_dir() / "setup").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def run_cli_in_process(monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str) -> None:
    """``lossbench-train ARGS`` in this process (as a multirun job sees it)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["lossbench-train", *args])
    try:
        main()
    finally:
        GlobalHydra.instance().clear()


def sweep_params(experiment: str, study: str = "full") -> dict[str, list[str]]:
    """The values ``experiment=<experiment> study=<study>`` sweeps, by key."""
    cfg = multirun_config([f"experiment={experiment}", f"study={study}"])
    return {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}


@pytest.mark.parametrize("setup", SETUPS)
def test_setup_sets_head_loss_and_name(make_cfg, setup: str) -> None:
    cfg = make_cfg(f"setup={setup}")
    assert cfg.setup == setup
    assert setup.startswith(f"{cfg.head.name}_{cfg.loss.name}")


#: Experiments over several tasks: setups a task cannot train are refused as "not applicable".
ACROSS_TASKS = ("compare_all", "compare_real")


@functools.cache
def _task(data: str) -> str:
    """The task of ``data=<data>`` (composed once per data set for all experiments)."""
    return task_of(job_config(f"data={data}", fast=False).data)


@functools.cache
def _head_and_loss(setup: str) -> tuple[str, str]:
    """The head and loss ``setup=<setup>`` sets (a setup sets nothing that depends on data)."""
    cfg = job_config(f"setup={setup}", fast=False)
    return cfg.head.name, cfg.loss.name


@pytest.mark.parametrize("experiment", [e for e in EXPERIMENTS if e not in ACROSS_TASKS])
def test_task_experiments_sweep_only_valid_setups(make_cfg, experiment: str) -> None:
    params = sweep_params(experiment)
    assert params["seed"] == ["0", "1", "2"]  # at least 3 seeds per cell
    # An experiment on one data set (compare_stability) sets it instead of sweeping it.
    fixed = [make_cfg(f"experiment={experiment}", fast=False).data.name]
    for data in params.get("data", fixed):
        for setup in params["setup"]:
            assert check(_task(data), *_head_and_loss(setup)).ok, (data, setup)


def test_compare_all_covers_every_task_experiment() -> None:
    everything = sweep_params("compare_all")
    for experiment in ("compare_binary", "compare_multilabel", "compare_multiclass"):
        params = sweep_params(experiment)
        assert set(params["data"]) <= set(everything["data"])
        assert set(params["setup"]) <= set(everything["setup"])
    assert len(everything["data"]) == 6


@pytest.mark.slow
def test_compare_real_sweeps_the_real_suite_with_the_standard_setups(make_cfg) -> None:
    from lossbench.data.datasets import DATASETS

    real, everything = sweep_params("compare_real"), sweep_params("compare_all")
    packaged = {n for n, s in DATASETS.items() if s.package is not None}
    dense = {n for n in packaged if is_dense(DATASETS[n].task)}
    # every packaged data set, the dense ones with the model their jobs are linked to
    assert set(real["data"]) == packaged and dense
    # the quick look: tables only (the dense runs are compute-bound on a CPU)
    quick = multirun_config(["experiment=compare_real", "study=quick"])
    assert not set(str(quick.hydra.sweeper.params.data).split(",")) & dense
    hydra_cfg = multirun_config(["experiment=compare_real"])
    assert set(hydra_cfg.hydra.sweeper.linked.data) == dense
    assert real["setup"] == everything["setup"] and real["seed"] == ["0", "1", "2"]
    assert real["optimizer.lr"] == everything["optimizer.lr"]  # the same protocol
    for data in real["data"]:  # the experiment's data.impute reaches every swept data set
        cfg = make_cfg("experiment=compare_real", f"data={data}")
        assert (cfg.data.name, cfg.data.impute) == (data, "median")
    for data in dense:
        linked = list(hydra_cfg.hydra.sweeper.linked.data[data])
        cfg = make_cfg("experiment=compare_real", f"data={data}", *linked)
        assert cfg.model.name == "conv" and validate(cfg) == DATASETS[data].task


def test_study_quick_shortens_training(make_cfg) -> None:
    full, quick = (
        make_cfg("experiment=compare_all", f"study={v}", fast=False) for v in ("full", "quick")
    )
    assert quick.trainer.max_epochs < full.trainer.max_epochs
    assert quick.early_stopping.patience < full.early_stopping.patience
    assert full.early_stopping.enabled and quick.early_stopping.enabled
    assert (full.study_variant, quick.study_variant) == ("full", "quick")


@pytest.mark.parametrize(
    "experiment",
    ["compare_all", "compare_binary", "compare_multiclass", "compare_multilabel", "compare_real"],
)
def test_study_quick_sweeps_a_few_of_the_full_study_data_sets_with_the_same_grid(experiment):
    from lossbench.data.datasets import DATASETS

    full, quick = sweep_params(experiment), sweep_params(experiment, "quick")
    assert set(quick["data"]) < set(full["data"])
    # one data set of each task the full study has; dense ones (minutes a run on a CPU) only
    # in the full study
    tasks = {DATASETS[d].task for d in full["data"] if not is_dense(DATASETS[d].task)}
    assert {DATASETS[d].task for d in quick["data"]} == tasks and len(quick["data"]) == len(tasks)
    for key in ("setup", "optimizer.lr", "seed"):
        assert quick[key] == full[key]


def test_study_longer_trains_the_full_study_with_2_5_times_its_patience_and_cap(make_cfg):
    full, longer = (
        make_cfg("experiment=compare_all", f"study={v}", fast=False) for v in ("full", "longer")
    )
    assert (full.early_stopping.patience, full.trainer.max_epochs) == (20, 1000)
    assert (longer.early_stopping.patience, longer.trainer.max_epochs) == (50, 2500)
    assert longer.early_stopping.enabled and longer.study_variant == "longer"
    for key in ("min_delta", "monitor"):
        assert longer.early_stopping.get(key) == full.early_stopping.get(key)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_study_longer_sweeps_the_full_study_into_its_own_folder(experiment: str) -> None:
    """Every compare_* experiment: the full study's data sets, setups, rates and seeds, in
    outputs/studies/<name>-longer beside the full study's <name>-full."""
    full, longer = sweep_params(experiment), sweep_params(experiment, "longer")
    assert longer == full
    cfg = multirun_config([f"experiment={experiment}", "study=longer"])
    assert cfg.hydra.sweep.dir.endswith(f"studies/{experiment}-longer")
    assert (cfg.early_stopping.patience, cfg.trainer.max_epochs) == (50, 2500)


def test_every_study_follows_the_fair_protocol(make_cfg) -> None:
    """Converged runs, a split per seed, at least 4 learning rates and 3 seeds. Converged means
    no new minimum of any size for `patience` epochs: an absolute min_delta (0.001 until
    2026-12-05) let wine's runs, whose validation NLL is 1e-4 to 3e-3, stop while it still fell
    by 14-23 % per 20 epochs, and a longer patience changed the named best."""
    for experiment in ("compare_all", "compare_binary", "compare_multilabel", "compare_multiclass"):
        cfg = make_cfg(f"experiment={experiment}", "seed=7", fast=False)
        assert cfg.early_stopping.enabled and cfg.data.split_seed == 7
        assert cfg.early_stopping.min_delta == 0 and cfg.early_stopping.patience == 20
        assert cfg.checkpoint.write == "at_end"
        params = sweep_params(experiment)
        assert len(params["optimizer.lr"]) >= 4 and len(params["seed"]) >= 3


# 19 s: slow; test_an_interrupted_sweep_reruns_only_missing_and_failed_jobs is the quick check
@pytest.mark.slow
def test_second_invocation_of_a_finished_sweep_trains_nothing(monkeypatch, tmp_path, capfd):
    args = (
        "-m",
        "data=iris",
        "setup=logits_cross_entropy,log_softmax_nll",
        "seed=0,1",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=study",
        "hydra.sweep.subdir=${data.name}/${setup}/seed${seed}",
    )
    run_cli_in_process(monkeypatch, tmp_path, *args)
    records = sorted((tmp_path / "study").rglob("metrics.json"))
    assert len(records) == 4
    assert all(json.loads(p.read_text())["status"] == "completed" for p in records)
    report = build_report([tmp_path / "study"])
    assert report.is_file() and report.name == "report.html"
    results = pd.read_csv(tmp_path / "study" / "results.csv")
    assert len(results) == 4 and set(results["setup"]) == {
        "logits_cross_entropy",
        "log_softmax_nll",
    }
    summary = pd.read_csv(tmp_path / "study" / "summary.csv")
    assert len(summary) == 2 and (summary["n_completed"] == 2).all()
    assert "test/nll_mean" in summary and "rank" in summary
    assert sorted(p.name for p in (tmp_path / "study" / "plots").glob("*.png"))
    stamps = [p.stat().st_mtime_ns for p in records]
    capfd.readouterr()
    run_cli_in_process(monkeypatch, tmp_path, *args)
    assert [p.stat().st_mtime_ns for p in records] == stamps
    out = capfd.readouterr().out
    assert out.count("skipped:") == 4
    assert "run directory" not in out
    # another logger or progress bar changes what a run shows, not its results: the same run
    from omegaconf import OmegaConf

    from lossbench.train import ended_with_same_config

    run = records[0].parent
    saved = OmegaConf.load(run / "config.yaml")
    shown = OmegaConf.merge(
        saved,
        {"logger": {"csv": {"save_dir": str(run)}}, "callbacks": {"progress_bar": {"x": 5}}},
    )
    assert ended_with_same_config(shown, run) is not None
    trained = OmegaConf.merge(saved, {"trainer": {"max_epochs": 2}})
    assert ended_with_same_config(trained, run) is None
    # a changed config is not skipped: the job refuses to overwrite the other config's run
    # (and the command exits 2: its report would be the earlier sweep's). Not the cap: a
    # raised one trains the runs that reached it again (tests/test_raised_cap.py)
    changed = [*args, "optimizer.weight_decay=0.01"]
    with pytest.raises(SystemExit) as stop:
        run_cli_in_process(monkeypatch, tmp_path, *changed)
    assert stop.value.code == 2
    captured = capfd.readouterr()
    assert captured.out.count("refused:") == 4
    assert "4 job(s) of this study were not run" in captured.err
    assert [p.stat().st_mtime_ns for p in records] == stamps


@pytest.mark.slow
def test_an_interrupted_sweep_reruns_only_missing_and_failed_jobs(monkeypatch, tmp_path, capfd):
    from lossbench.progress import outcome_of

    args = (
        "-m",
        "data=iris",
        "setup=logits_cross_entropy",
        "seed=0,1,2,3",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=study",
        "hydra.sweep.subdir=seed${seed}",
    )
    run_cli_in_process(monkeypatch, tmp_path, *args)
    (tmp_path / "study" / "seed1" / "metrics.json").unlink()  # as if killed mid-run
    failed = tmp_path / "study" / "seed2" / "metrics.json"
    crashed = {"status": "failed", "error": "RuntimeError: out of memory"}
    failed.write_text(json.dumps({**json.loads(failed.read_text()), **crashed}))
    # a non-finite loss is the config's outcome: kept, as a completed run is
    diverged = tmp_path / "study" / "seed3" / "metrics.json"
    nan = {"status": "failed", "error": "non-finite training loss (nan) at epoch 0, step 3"}
    diverged.write_text(json.dumps({**json.loads(diverged.read_text()), **nan}))
    stamp = diverged.stat().st_mtime_ns
    capfd.readouterr()
    run_cli_in_process(monkeypatch, tmp_path, *args)
    out = capfd.readouterr().out
    assert out.count("skipped:") == 2
    assert "seed3 already failed (non-finite loss) with this config" in out
    assert out.count("completed:") == 2
    assert json.loads(failed.read_text())["status"] == "completed"
    assert diverged.stat().st_mtime_ns == stamp
    # it counts as failed on the progress line and for the grid's widening, as when it failed
    assert outcome_of(tmp_path / "study", 3) == "failed_before"
    assert outcome_of(tmp_path / "study", 0) == "skipped"


@pytest.mark.parametrize(
    ("metric", "direction"), [("val/nll", "minimize"), ("val/auroc", "maximize")]
)
def test_hparams_searches_compose_with_the_metric_direction(metric: str, direction: str) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    for search in ("optuna_focal", "optuna_pos_weight"):
        cfg = multirun_config([f"hparams_search={search}", f"optimized_metric={metric}"])
        assert cfg.hydra.sweeper.direction == direction
        assert "optimizer.lr" in cfg.hydra.sweeper.params
        assert "optuna" in cfg.hydra.sweeper._target_.lower()


@pytest.mark.slow
def test_optuna_search_goes_on_when_trials_fail(tmp_path: Path) -> None:
    """A trial whose loss turns non-finite is marked failed; the search completes."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    search = tmp_path / "configs" / "hparams_search"
    search.mkdir(parents=True)
    (search / "diverging.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /hydra/sweeper: optuna\n"
        "hydra:\n  sweeper:\n    direction: minimize\n    n_trials: 4\n"
        "    max_failure_rate: 1.0\n    sampler:\n      seed: 0\n"
        "    params:\n      optimizer.lr: choice(0.01, 100000.0)\n"
    )
    result = run_module(
        "lossbench.train",
        "-m",
        "hparams_search=diverging",
        f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
        "setup=sigmoid_manual_bce",
        "model=linear",
        "optimizer=sgd",
        "trainer.max_epochs=3",
        "logger=none",
        "hydra.sweep.dir=search",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = [
        json.loads(p.read_text())["status"] for p in (tmp_path / "search").rglob("metrics.json")
    ]
    assert len(statuses) == 4
    assert "failed" in statuses and "completed" in statuses
    best = OmegaConf.load(tmp_path / "search" / "optimization_results.yaml")
    assert best.best_params["optimizer.lr"] == 0.01


@pytest.mark.slow  # four lossbench-train -m processes, about 40 s on 2 cores
@pytest.mark.parametrize("launcher", ["basic", "vectorized"])
def test_a_study_run_again_with_other_settings_into_its_directory_exits_2(
    tmp_path: Path, launcher: str
) -> None:
    """Its jobs find the earlier study's completed runs, which lossbench never overwrites: the
    command says so and exits 2 (``make compare`` then stops before reporting the earlier
    study as if it were this one); the same settings again skip their jobs and exit 0."""
    sweep = tmp_path / "study"

    def study(lr: str):
        return run_module(
            "lossbench.train", "-m", "data=iris", "trainer.max_epochs=1", "seed=0,1",
            f"optimizer.lr={lr}", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep}",
            cwd=tmp_path,
        )  # fmt: skip

    first = study("0.01")
    assert first.returncode == 0, first.stderr[-2000:]
    records = sorted(sweep.glob("*/metrics.json"))
    assert len(records) == 2
    before = [r.read_bytes() for r in records]
    other = study("0.02")
    assert other.returncode == 2, other.stderr[-2000:]
    assert "2 not run: a completed or kept run of other settings in its directory" in other.stderr
    assert "2 job(s) of this study were not run" in other.stderr
    # the progress line counts them as the final line does: ended, not done
    assert "study: 2/2 jobs ended, 0 failed, 2 not run, in " in other.stderr
    assert "jobs done" not in other.stderr
    assert "hydra.sweep.dir=<new directory>" in other.stderr
    # each job's line gives the sweep's fix, not a single run's
    job_fix = (
        "already records a completed run; lossbench never overwrites one, so this job is not "
        "run. Give these settings a new directory for the sweep (hydra.sweep.dir=<new directory>)"
    )
    log = other.stdout + other.stderr
    assert log.count(job_fix) == 2, log[-3000:]
    assert "hydra.run.dir" not in log and "ckpt_path=last" not in log
    assert "Make its report" not in other.stderr and "Traceback" not in other.stderr
    assert [r.read_bytes() for r in records] == before  # nothing overwritten
    again = study("0.01")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 skipped" in again.stderr and "Make its report" in again.stderr


@pytest.mark.slow  # one lossbench-train -m process
def test_jobs_of_one_basic_sweep_that_share_a_directory_are_refused_before_any_trains(tmp_path):
    """``hydra.sweep.subdir`` without the swept key: the sweep is refused before any job
    trains, the message naming both jobs, their directory and the key to add."""
    result = run_module(
        "lossbench.train", "-m", "data=iris", "trainer.max_epochs=1", "logger=none",
        "optimizer.lr=0.01,0.02", "hydra/launcher=basic", "hydra.sweep.dir=study",
        "hydra.sweep.subdir=seed${seed}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        "refused: job 1 would train in study/seed0, job 0's directory: "
        "hydra.sweep.subdir=seed${seed} gives both jobs one directory. Add the keys in which "
        "they differ (optimizer.lr) to hydra.sweep.subdir"
    ) in result.stderr
    assert "Nothing was trained." in result.stderr
    assert not (tmp_path / "study").exists()


@pytest.mark.slow  # two lossbench-train -m processes
@pytest.mark.parametrize("launcher", ["basic", "vectorized"])
def test_jobs_whose_sweep_directories_differ_by_a_swept_key_share_no_directory(tmp_path, launcher):
    """``hydra.sweep.dir`` that reads a swept key (``s${seed}``) gives each job its own study
    folder, so a constant ``hydra.sweep.subdir`` gives them no shared directory: both train
    (the check before the sweep resolved the study folder once, with the first job's seed,
    and refused it)."""
    result = run_module(
        "lossbench.train", "-m", "data=iris", "trainer.max_epochs=1", "logger=none",
        f"hydra/launcher={launcher}", "hydra.sweep.dir=study/s${seed}", "hydra.sweep.subdir=same",
        "seed=0,1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    for seed in (0, 1):
        record = json.loads((tmp_path / f"study/s{seed}/same/metrics.json").read_text())
        assert record["status"] == "completed" and record["seed"] == seed


@pytest.mark.slow  # two lossbench-train -m processes
@pytest.mark.parametrize("launcher", ["basic", "vectorized"])
def test_a_job_directory_holding_ones_own_csv_log_is_refused_and_kept(tmp_path, launcher):
    """A job's directory that holds no run of lossbench's but a ``logs/metrics.csv`` of one's
    own (which the CSV logger deletes as it starts): that job is refused with the file named
    and left as it was; the other jobs train."""
    mine = tmp_path / "study" / "s0" / "logs" / "metrics.csv"
    mine.parent.mkdir(parents=True)
    mine.write_text("epoch,mine\n0,1\n")
    result = run_module(
        "lossbench.train", "-m", "data=iris", "trainer.max_epochs=1", f"hydra/launcher={launcher}",
        "hydra.sweep.dir=study", "hydra.sweep.subdir=s${seed}", "seed=0,1", cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in result.stdout + result.stderr
    log = result.stdout + result.stderr
    assert "refused: the run's directory " in log and "/study/s0 holds " in log
    assert "/study/s0/logs/metrics.csv (logger.csv deletes it as it starts its own)" in log
    assert log.count("refused: the run's directory ") == 1, log  # one job, one line
    assert "Give the sweep another directory (hydra.sweep.dir=<new directory>)" in log
    assert "hydra.run.dir" not in log  # a single run's fix
    assert mine.read_text() == "epoch,mine\n0,1\n"
    assert not (tmp_path / "study/s0/metrics.json").exists()
    record = json.loads((tmp_path / "study/s1/metrics.json").read_text())
    assert record["status"] == "completed"
