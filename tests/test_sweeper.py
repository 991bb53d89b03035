"""lossbench's sweeper (one composed config per swept value before a sweep starts) and the
studies' parallel launcher."""

from __future__ import annotations

import itertools
import json

import pytest

from cli_process import run_module
from hydra_plugins.lossbench_sweeper.sweeper import LossbenchSweeper, jobs_covering_each_value
from lossbench.cpus import MAX_PARALLEL_JOBS, cores, default_parallel_jobs
from multirun_configs import multirun_config


@pytest.mark.parametrize("sizes", [(6, 10, 3), (1, 4), (3,), (2, 2, 2, 2)])
def test_each_value_of_each_parameter_is_checked_once_in_few_jobs(sizes):
    batch = [
        [f"p{i}={v}" for i, v in enumerate(values)]
        for values in itertools.product(*(range(k) for k in sizes))
    ]
    chosen = jobs_covering_each_value(batch)
    assert {o for job in chosen for o in job} == {o for job in batch for o in job}
    assert len(chosen) == 1 + sum(k - 1 for k in sizes)  # 17 of 180 for the standard study
    assert all(job in batch for job in chosen)


def test_unknown_check_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"hydra.sweeper.check='some'.*Valid: values, all"):
        LossbenchSweeper(check="some")


def test_studies_use_the_sweeper_and_parallel_workers_that_fit_the_cores():
    hydra = multirun_config(["experiment=compare_all"]).hydra
    assert hydra.sweeper._target_ == "hydra_plugins.lossbench_sweeper.sweeper.LossbenchSweeper"
    assert hydra.sweeper.check == "values"
    # vectorized groups in worker processes, one per core
    assert hydra.launcher._target_.endswith(
        "lossbench_vectorized_launcher.launcher.VectorizedLauncher"
    )
    assert hydra.launcher.n_jobs == default_parallel_jobs() == min(cores(), MAX_PARALLEL_JOBS)
    parallel = multirun_config(["experiment=compare_all", "hydra/launcher=parallel"]).hydra.launcher
    assert "joblib" in parallel._target_.lower()
    # one job after another on request: the other launchers' keys do not get in the way
    basic = multirun_config(["experiment=compare_all", "hydra/launcher=basic"]).hydra.launcher
    assert basic._target_.endswith("BasicLauncher")


@pytest.mark.parametrize(
    ("check", "launcher"), [("values", "basic"), ("all", "basic"), ("values", "vectorized")]
)
@pytest.mark.slow
def test_a_bad_value_anywhere_in_the_sweep_stops_it_before_any_job_runs(tmp_path, check, launcher):
    """A swept value from a config file (on the command line, lossbench-train refuses it
    itself: the refusal catalogue's ``sweep-seed-wrong-type``)."""
    experiment = tmp_path / "conf" / "experiment" / "bad_seed.yaml"
    experiment.parent.mkdir(parents=True)
    # not an int: Hydra's schema refuses it when it composes the job
    experiment.write_text(
        "# @package _global_\nhydra:\n  sweeper:\n    params:\n      seed: 0,1,oops\n"
    )
    result = run_module(
        "lossbench.train",
        "-m",
        "-cd",
        "conf",
        "experiment=bad_seed",
        "hydra/sweeper=lossbench",
        f"hydra/launcher={launcher}",  # the vectorized launcher checks through its bases
        f"hydra.sweeper.check={check}",
        "data=iris,wine",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "Error merging override seed=oops" in result.stderr  # Hydra's own message
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "sweep").rglob("metrics.json"))  # nothing ran


@pytest.mark.slow
def test_sweep_with_the_lossbench_sweeper_runs_every_job(tmp_path):
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/sweeper=lossbench",
        "data=iris,wine",
        "seed=0,1",
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=sweep",
        "hydra.sweep.subdir=${data.name}-${seed}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    done = sorted(p.parent.name for p in (tmp_path / "sweep").glob("*/metrics.json"))
    assert done == ["iris-0", "iris-1", "wine-0", "wine-1"]


def test_linked_overrides_follow_their_swept_value_into_every_job():
    """compare_real's dense data sets train model=conv on 500 14 x 14 maps; tables: the MLP."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hydra_plugins.lossbench_sweeper.sweeper import add_linked

    cfg = multirun_config(["experiment=compare_real"])
    linked = cfg.hydra.sweeper.linked
    assert dict(linked.data) == {
        name: ["model=conv", "data.n_images=500", "data.downsample=2", "data.batch_size=16"]
        for name in ("mnist_segmentation", "mnist_ink")
    }
    # Hydra loads plugin modules anew when it scans them (composing above), so the sweeper's
    # BasicSweeper base is no longer the one the constructor names: set the state it sets.
    sweeper = LossbenchSweeper.__new__(LossbenchSweeper)
    sweeper.linked, sweeper.batch_index = {"data": {"mnist_ink": ["model=conv"]}}, 0
    parsed = OverridesParser.create().parse_overrides(
        ["data=iris,mnist_ink", "model=mlp", "seed=0,1"]
    )
    sweeper.overrides = LossbenchSweeper.split_arguments(parsed, None)
    assert sweeper.get_job_batch() == [
        ["data=iris", "model=mlp", "seed=0"],
        ["data=iris", "model=mlp", "seed=1"],
        ["data=mnist_ink", "seed=0", "model=conv"],
        ["data=mnist_ink", "seed=1", "model=conv"],
    ]
    assert add_linked(["+data=x"], {"data": {"x": ["a=1"]}}) == ["+data=x", "a=1"]


@pytest.mark.slow
def test_compare_real_trains_a_dense_data_set_with_its_linked_model(tmp_path):
    result = run_module(
        "lossbench.train",
        "-m",
        "experiment=compare_real",
        "data=iris,mnist_ink",
        "setup=logits_bce_with_logits",
        "optimizer.lr=0.01",
        "hydra.sweeper.widen.key=null",  # one rate: no grid to widen
        "seed=0",
        "trainer.max_epochs=1",
        f"paths.output_dir={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    study = tmp_path / "studies" / "compare_real-full"
    for data, model, train_rows in (("iris", "mlp", 90), ("mnist_ink", "conv", 300)):
        run = study / data / "logits_bce_with_logits" / "lr0.01" / "seed0"
        record = json.loads((run / "metrics.json").read_text())
        assert record["status"] == "completed", record["error"]
        assert record["model"] == model
        assert record["sizes"]["train"] == train_rows


@pytest.mark.parametrize("option", ["cmaes", "grid", "motpe", "nsgaii", "random", "tpe"])
def test_each_optuna_sampler_option_and_the_storages_pass_the_search_checks(option, tmp_path):
    """The checks before a search's first trial (lossbench.optuna_settings) take every
    sampler the Optuna sweeper offers as it composes, and the storages Optuna opens."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from lossbench.hydra_callbacks import check_sweep_settings
    from lossbench.optuna_settings import storage_refusal, storage_version_clash

    cfg = multirun_config(["hydra/sweeper=optuna", f"hydra/sweeper/sampler={option}"])
    check_sweep_settings(cfg.hydra)
    assert storage_refusal(None) is None
    clash = storage_version_clash()  # this environment: Optuna 2 with SQLAlchemy 2
    for storage in ("sqlite:///search.db", f"sqlite:///{tmp_path}/search.db", "sqlite://"):
        expected = None if clash is None else f"hydra.sweeper.storage={storage!r}: {clash}."
        assert storage_refusal(storage) == expected, storage
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_database_storage_is_refused_exactly_where_optuna_cannot_open_one(tmp_path):
    """The refusal of every database storage (storage_version_clash) stands for Optuna's own
    failure: its first query stops with a bare AssertionError where it is given."""
    optuna = pytest.importorskip("optuna")
    from lossbench.optuna_settings import storage_version_clash

    storage = f"sqlite:///{tmp_path}/search.db"
    if storage_version_clash() is None:
        optuna.create_study(storage=storage)  # opens
    else:
        with pytest.raises(AssertionError):
            optuna.create_study(storage=storage)


def test_a_database_storage_optuna_cannot_open_is_refused_on_the_command_line(tmp_path):
    """Where the user meets it: exit 2 with the reason and the fix, no traceback, no trial
    (Optuna's own AssertionError ended the command with a traceback)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from lossbench.optuna_settings import storage_version_clash

    if storage_version_clash() is None:
        pytest.skip("this Optuna opens database storages")
    result = run_module(
        "lossbench.train", "-m", "hparams_search=optuna_focal", "data=iris",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.storage=sqlite:///search.db",
        f"hydra.sweep.dir={tmp_path / 'search'}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "cannot use a database with SQLAlchemy" in result.stderr
    assert "Leave hydra.sweeper.storage out" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "search").exists()


@pytest.mark.parametrize(
    ("interval", "middle"),
    [
        ("tag(log, interval(1e200, 1e300))", "1e+250"),  # start * end overflows a float
        ("tag(log, interval(1e-300, 1e-200))", "1e-250"),  # and underflows to 0
        ("interval(1e308, 1.7e308)", "1.35e+308"),  # start + end overflows
        ("tag(log, interval(1e-4, 1e-2))", "0.001"),
        ("interval(1, 4)", "2.5"),
        ("tag(log, interval(1, 100))", "10.0"),
    ],
)
def test_the_middle_of_an_interval_is_inside_it_however_large_its_ends(interval, middle):
    """The first trial that the search checks takes each interval's middle (geometric where
    tagged log): it is finite and inside the interval for ends near a float's limits."""
    from lossbench.override_grammar import override_parser
    from lossbench.search_check import _middle

    (override,) = override_parser().parse_overrides([f"optimizer.lr={interval}"])
    assert _middle(override.value()) == middle


def test_a_search_key_the_trials_lack_is_advised_no_option_without_the_command_line_s_keys():
    """``hparams_search=optuna_focal setup=logits_asl loss.clip=0.1``: the trials cannot set
    loss.gamma (asl lacks it), and focal, which has it, lacks clip, which the command line
    sets: the search check says no loss has both, rather than advise setup=logits_focal."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from lossbench.errors import ConfigError
    from lossbench.search_check import check_search

    overrides = ["hparams_search=optuna_focal", "data=iris", "setup=logits_asl", "loss.clip=0.1"]
    with pytest.raises(ConfigError) as refused:
        check_search(multirun_config(overrides))
    message = str(refused.value)
    assert (
        "loss.gamma is not a setting of loss=asl (its settings: reduction, gamma_neg, gamma_pos, "
        "clip); no loss has both gamma and clip (loss=focal lacks clip, which loss.clip=0.1 "
        "sets), but hydra.sweeper.params searches it" in message
    ), message
    assert "setup=logits_focal" not in message
