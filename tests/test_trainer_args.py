"""The open trainer schema (every ``lightning.Trainer`` argument) and the ``debug/`` presets."""

from __future__ import annotations

import inspect
import json

import lightning
import pytest

from cli_process import run_module
from lossbench.config import TrainerConfig
from lossbench.trainer_args import SET_ELSEWHERE, TRAINER_ARGUMENTS, TRAINER_KEYS
from lossbench.training import train

RUN = ("data=iris", "head=logits", "loss=cross_entropy")


def test_the_written_out_list_is_lightnings_signature():
    signature = inspect.signature(lightning.Trainer.__init__)
    assert tuple(name for name in signature.parameters if name != "self") == TRAINER_ARGUMENTS


def test_the_refused_strategies_are_lightnings_spawning_ones():
    """Every registered strategy that spawns or forks its processes, and only those."""
    from lightning.pytorch.strategies import StrategyRegistry

    from lossbench.hardware import SPAWNING_STRATEGIES

    spawning = {
        name
        for name, entry in StrategyRegistry.items()
        if entry.get("init_params", {}).get("start_method", "popen") != "popen"
    }
    assert spawning == set(SPAWNING_STRATEGIES)


#: The environment variables that the cluster environments of Lightning, or lossbench's
#: reading of them, look at: cleared for each case of the node check.
CLUSTER_VARIABLES = (
    "TORCHELASTIC_RUN_ID", "SLURM_NTASKS", "SLURM_JOB_NAME", "LSB_JOBID", "LSB_DJOB_RANKFILE",
    "JSM_NAMESPACE_LOCAL_RANK", "JSM_NAMESPACE_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
    "PMIX_RANK", "MV2_COMM_WORLD_SIZE", "MASTER_ADDR", "NODE_RANK",
)  # fmt: skip
LSF = {
    "LSB_JOBID": "1", "LSB_DJOB_RANKFILE": "f", "JSM_NAMESPACE_LOCAL_RANK": "0",
    "JSM_NAMESPACE_SIZE": "2",
}  # fmt: skip


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"TORCHELASTIC_RUN_ID": "1"},
        {"SLURM_NTASKS": "8"},
        {"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "train"},
        {"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "interactive"},
        {"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "bash"},
        {"SLURM_JOB_NAME": "train"},
        LSF,
        {**LSF, "JSM_NAMESPACE_SIZE": None},
    ],
    ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "none",
)
def test_the_cluster_environment_read_from_variables_is_lightnings(monkeypatch, variables):
    """lossbench reads the variables that Lightning's environments detect, without importing
    Lightning: a cluster is found exactly where Lightning would find one (MPI aside, which
    Lightning asks mpi4py about)."""
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    from lossbench.hardware import cluster_environment

    for name in CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    lightning_found = any(
        env.detect() for env in (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment)
    )
    assert (cluster_environment() is not None) == lightning_found


@pytest.mark.parametrize(
    ("variables", "trainer", "refused"),
    [
        ({}, {"num_nodes": 2}, True),
        ({}, {"num_nodes": 1}, False),
        ({"SLURM_NTASKS": "8"}, {"num_nodes": 2}, False),
        ({"SLURM_NTASKS": "8", "SLURM_JOB_NAME": "interactive"}, {"num_nodes": 2}, True),
        ({"TORCHELASTIC_RUN_ID": "x"}, {"num_nodes": 2}, False),
        ({"MASTER_ADDR": "10.0.0.1", "NODE_RANK": "1"}, {"num_nodes": 2}, False),
        ({"OMPI_COMM_WORLD_SIZE": "8"}, {"num_nodes": 2}, False),
        ({}, {"num_nodes": 2, "plugins": ["my.KubeflowEnvironment"]}, False),
    ],
)
def test_several_nodes_need_a_cluster_environment(monkeypatch, variables, trainer, refused):
    from lossbench.errors import ConfigError
    from lossbench.hardware import check_hardware

    for name in CLUSTER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = {"accelerator": "cpu", "devices": 1, **trainer}
    if not refused:
        check_hardware(settings)
        return
    with pytest.raises(ConfigError, match="waits for the others at the rendezvous"):
        check_hardware(settings)


def test_the_schema_holds_every_trainer_argument_but_those_groups_set():
    assert set(TrainerConfig.__dataclass_fields__) == set(TRAINER_KEYS)
    assert set(TRAINER_ARGUMENTS) - set(TRAINER_KEYS) == set(SET_ELSEWHERE)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("trainer.max_epoch=3", "Did you mean trainer.max_epochs"),
        ("+trainer.fast_dev_runs=true", "Did you mean trainer.fast_dev_run"),
        ("trainer.logger=false", "set by the logger group"),
    ],
)
def test_misspelt_trainer_key_is_refused_with_the_valid_keys(tmp_path, argument, expected):
    result = run_module("lossbench.train", argument, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("lossbench: refused: trainer.") and expected in line
    if "Did you mean" in expected:
        assert "Valid trainer keys: accelerator, strategy" in line and "detect_anomaly" in line
    assert not (tmp_path / "outputs").exists()


def test_fdr_runs_one_step_and_evaluates_the_final_weights(make_cfg, tmp_path):
    record = train(make_cfg(*RUN, "debug=fdr"), tmp_path)
    assert record["status"] == "completed"
    assert (record["epochs"], record["steps"], record["training_loop"]) == (1, 1, "batch")
    assert record["best_checkpoint"] is None and "test/nll" in record


@pytest.mark.parametrize(
    ("overrides", "debug_run"),
    [
        (("trainer.fast_dev_run=true",), "trainer.fast_dev_run=true"),
        (
            ("trainer.fast_dev_run=2", "trainer.overfit_batches=1"),
            "trainer.fast_dev_run=2, trainer.overfit_batches=1",
        ),
    ],
    ids=["fast_dev_run", "both"],
)
def test_a_debug_run_is_recorded_and_logged_as_no_result(
    make_cfg, tmp_path, caplog, overrides, debug_run
):
    """It completes (a re-run skips it), but its record and its last line say it is a debug
    run, which lossbench-report leaves out."""
    with caplog.at_level("INFO", logger="lossbench"):
        record = train(make_cfg("data=wine", *overrides), tmp_path)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["status"] == "completed" and on_disk["error"] is None
    assert (on_disk["debug_run"], on_disk["stopped_by"]) == (debug_run, "debug_run")
    assert record["debug_run"] == debug_run
    last = caplog.records[-1].getMessage()
    assert last.startswith(f"debug run ({debug_run}) finished: test/nll = ")
    assert last.endswith(f"record: {tmp_path / 'metrics.json'}; lossbench-report leaves it out")
    assert not any(r.getMessage().startswith("completed:") for r in caplog.records)


def test_an_ordinary_run_records_no_debug_settings(make_cfg, tmp_path, caplog):
    with caplog.at_level("INFO", logger="lossbench"):
        record = train(make_cfg("data=wine", "trainer.fast_dev_run=false"), tmp_path)
    assert (record["debug_run"], record["stopped_by"]) == (None, "budget")
    assert caplog.records[-1].getMessage().startswith("completed: test/nll = ")


def test_overfit_trains_on_one_batch_in_the_batch_loop(make_cfg, tmp_path):
    record = train(
        make_cfg(
            *RUN,
            "debug=overfit",
            "trainer.max_epochs=30",
            "data.batch_size=16",
            "optimizer.lr=0.02",
        ),
        tmp_path,
    )
    assert (record["training_loop"], record["steps"]) == ("batch", 30)  # one batch per epoch
    assert (record["debug_run"], record["stopped_by"]) == ("trainer.overfit_batches=1", "debug_run")
    losses = record["history"]["train/loss"]
    assert losses[-1] < 0.5 * losses[0]  # 16 samples: memorised


def test_limits_that_leave_no_batch_out_make_no_debug_run(make_cfg, tmp_path):
    """breast_cancer's 341 training rows make 11 batches of 32, and validation and test take
    each split as one batch: limits at or above those train and score as without them."""
    run = ("data=breast_cancer", "data.batch_size=32", "trainer.max_epochs=2")
    limits = ("trainer.limit_val_batches=1", "trainer.limit_test_batches=1")
    whole = train(make_cfg(*run, *limits, "trainer.limit_train_batches=11"), tmp_path / "all")
    assert (whole["debug_run"], whole["stopped_by"], whole["steps"]) == (None, "budget", 22)
    more = train(make_cfg(*run, "trainer.limit_train_batches=100"), tmp_path / "more")
    assert (more["debug_run"], more["stopped_by"], more["steps"]) == (None, "budget", 22)
    limited = train(make_cfg(*run, "trainer.limit_train_batches=10"), tmp_path / "fewer")
    assert limited["debug_run"] == "trainer.limit_train_batches=10"
    assert (limited["stopped_by"], limited["steps"]) == ("debug_run", 20)


def test_limit_and_anomaly_presets_run(make_cfg, tmp_path):
    limited = train(make_cfg(*RUN, "debug=limit", "data.batch_size=16"), tmp_path / "limit")
    # 3 batches of 16 in each epoch; the command line's trainer.max_epochs=2 beats the preset's 3
    assert (limited["epochs"], limited["steps"]) == (2, 6)
    # fewer training batches than the split holds: a debug run, which the report leaves out
    assert limited["debug_run"] == "trainer.limit_train_batches=3"
    assert limited["stopped_by"] == "debug_run"
    anomaly = train(make_cfg(*RUN, "debug=anomaly"), tmp_path / "anomaly")
    assert anomaly["status"] == "completed" and anomaly["validation_loop"] == "inline"
    assert (anomaly["debug_run"], anomaly["stopped_by"]) == (None, "budget")


@pytest.mark.parametrize("preset", ["debug=profiler", "trainer.profiler=simple"])
def test_profiler_writes_its_report_into_the_run_directory(make_cfg, tmp_path, preset):
    """``trainer.profiler=simple`` too: Lightning would log its report to its own logger, which
    lossbench keeps quiet, so it went nowhere."""
    record = train(make_cfg(*RUN, preset), tmp_path)
    assert record["validation_loop"] == "lightning"  # a profiler times Lightning's loop
    report = (tmp_path / "fit-profile.txt").read_text()
    assert "run_training_epoch" in report and "Total" in report
