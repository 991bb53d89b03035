"""The vectorized launcher where a sweep is unusual: callbacks set apart from ``checkpoint.*``
and ``early_stopping.*``, list-valued loss buffers, jobs that share a directory, runs refused on
a re-run, and values that reach other keys through interpolations. Each sweep runs through
``lossbench-train -m hydra/launcher=vectorized`` in this process, and each job must end as it
ends under ``hydra/launcher=basic``."""

from __future__ import annotations

import re

import pytest
import yaml
from omegaconf import OmegaConf

from cli_process import run_console
from lossbench.vectorized import why_alone
from test_vectorized import _records
from test_vectorized import _sweep as launch_sweep


def _sweep(monkeypatch, tmp_path, capfd, *args: str, launcher: str = "vectorized") -> str:
    """``lossbench-train -m hydra/launcher=<launcher> ARGS`` in this process, one job at a time
    and each in the directory of its number unless ARGS say otherwise; its output."""
    extra = [] if launcher == "basic" else ["hydra.launcher.n_jobs=1"]
    if not any(a.startswith("hydra.sweep.subdir=") for a in args):
        extra.append("hydra.sweep.subdir=${hydra.job.num}")
    return launch_sweep(monkeypatch, tmp_path, capfd, *extra, *args, launcher=launcher)


def _both_launchers(monkeypatch, tmp_path, capfd, *args: str) -> tuple[str, dict, dict]:
    """The sweep of ARGS under the vectorized launcher, then under Hydra's basic one (each in a
    folder of its own): the vectorized sweep's output, and each side's records by job."""
    vectorized, basic = tmp_path / "vectorized", tmp_path / "basic"
    log = _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={vectorized}", *args)
    _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={basic}", *args, launcher="basic")
    return log, _records(vectorized), _records(basic)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (("callbacks=none",), "callbacks.model_checkpoint (absent)"),
        (("~callbacks.early_stopping",), "callbacks.early_stopping (absent)"),
        (
            ("callbacks.model_checkpoint.monitor=val/accuracy",),
            "callbacks.model_checkpoint set otherwise than checkpoint.* sets it",
        ),
        (
            ("early_stopping.enabled=true", "callbacks.early_stopping.patience=1"),
            "callbacks.early_stopping set otherwise than early_stopping.* sets it",
        ),
    ],
)
def test_callbacks_a_member_cannot_keep_make_the_run_train_alone(make_cfg, overrides, reason):
    assert why_alone(make_cfg("data=iris")) is None
    assert why_alone(make_cfg("data=iris", "checkpoint.monitor=val/accuracy")) is None
    assert reason in why_alone(make_cfg("data=iris", *overrides))


def test_a_sanity_check_makes_the_run_train_alone(make_cfg):
    """A group validates without Lightning's loop, which would run the sanity check."""
    assert why_alone(make_cfg("data=iris", "trainer.num_sanity_val_steps=0")) is None
    reason = why_alone(make_cfg("data=iris", "trainer.num_sanity_val_steps=2"))
    assert "trainer.num_sanity_val_steps" in reason


@pytest.mark.slow
def test_a_sweep_without_callbacks_evaluates_the_last_epoch_as_runs_alone_do(
    monkeypatch, tmp_path, capfd
):
    args = ("data=iris,wine", "trainer.max_epochs=3", "logger=none", "callbacks=none", "seed=0,1")
    vectorized = tmp_path / "vectorized"
    log = _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={vectorized}", *args)
    assert "4 jobs: 0 in 0 vectorized groups, 4 alone" in log
    assert "job 3 runs alone: callbacks.model_checkpoint (absent)" in log  # its number
    basic = tmp_path / "basic"
    _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={basic}", *args, launcher="basic")
    ours, theirs = _records(vectorized), _records(basic)
    assert sorted(ours) == sorted(theirs) == ["0", "1", "2", "3"]
    for job, record in ours.items():
        assert record["best_epoch"] is None and theirs[job]["best_epoch"] is None
        assert record["test/nll"] == theirs[job]["test/nll"]
        assert not (vectorized / job / "checkpoints").exists()


@pytest.mark.slow
def test_debug_runs_of_a_sweep_train_alone_and_say_so_in_their_records(
    monkeypatch, tmp_path, capfd
):
    """``trainer.fast_dev_run=true`` jobs run alone, recorded with ``debug_run``; the members
    of the group beside them record ``debug_run: null``, in records of the same fields. A
    sweep of debug runs only does not end by offering to make its report."""
    sweep = tmp_path / "sweep"
    args = ("data=wine", "trainer.max_epochs=2", "logger=none", "seed=0,1")
    debug = ("trainer.fast_dev_run=null,true",)
    log = _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={sweep}", *args, *debug)
    assert "4 jobs: 2 in 1 vectorized groups, 2 alone" in log
    records = _records(sweep)
    members = [r for r in records.values() if "group_size" in r]
    alone = [r for r in records.values() if "group_size" not in r]
    assert len(members) == len(alone) == 2
    for member in members:
        assert (member["debug_run"], member["stopped_by"]) == (None, "budget")
    for record in alone:
        assert record["status"] == "completed" and record["steps"] == 1
        assert (record["debug_run"], record["stopped_by"]) == (
            "trainer.fast_dev_run=true",
            "debug_run",
        )
        assert set(members[0]) == set(record) | {"group_size"}
    assert "Make its report: lossbench-report" in log  # the ordinary runs have one
    only_debug = tmp_path / "only_debug"
    args = (f"hydra.sweep.dir={only_debug}", *args, "trainer.fast_dev_run=true")
    log = _sweep(monkeypatch, tmp_path, capfd, *args)
    assert (
        "study: 2/2 jobs ended (2 completed, 0 skipped, 0 refused, 0 failed). Its runs are "
        "debug runs (trainer.fast_dev_run=true), no results: lossbench-report leaves them out"
    ) in log
    assert "Make its report" not in log


def test_a_list_valued_loss_weight_sweeps_and_is_written_as_a_list(monkeypatch, tmp_path, capfd):
    sweep = tmp_path / "sweep"
    log = _sweep(
        monkeypatch,
        tmp_path,
        capfd,
        f"hydra.sweep.dir={sweep}",
        "data=wine",
        "setup=logits_cross_entropy",
        "loss.weight=[1,2,3]",
        "trainer.max_epochs=2",
        "logger=none",
        "seed=0,1",
    )
    assert "2 jobs: 2 in 1 vectorized groups" in log
    records = _records(sweep)
    assert [records[job]["status"] for job in ("0", "1")] == ["completed", "completed"]
    written = yaml.safe_load((sweep / "1" / ".hydra" / "config.yaml").read_text())
    assert written["loss"]["weight"] == [1.0, 2.0, 3.0] and written["seed"] == 1


def test_jobs_that_share_a_directory_train_once_and_the_others_are_not_run(
    monkeypatch, tmp_path, capfd
):
    """``hydra.sweep.subdir`` without a swept config group: the first job trains there, the
    second is not run, before anything is written, and the command exits 2 (a sweep of plain
    values is refused before any job trains, under every launcher: tests/test_refusals_cli.py)."""
    sweep = tmp_path / "sweep"
    with pytest.raises(SystemExit) as stop:
        _sweep(
            monkeypatch,
            tmp_path,
            capfd,
            f"hydra.sweep.dir={sweep}",
            "hydra.sweep.subdir=lr${optimizer.lr}",
            "data=iris,wine",
            "trainer.max_epochs=2",
            "logger=none",
        )
    assert stop.value.code == 2
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "1 not run (another job's directory)" in log
    assert "refused: job 1 would train in" in log and "job 0's directory" in log
    assert "Add the keys in which they differ (data) to hydra.sweep.subdir" in log
    assert "hydra.sweep.subdir=lr${optimizer.lr}" in log
    assert "1 completed, 0 skipped, 0 refused, 0 failed, 1 not run: a completed or kept" in log
    assert "1 job(s) of this study were not run" in log
    records = _records(sweep)
    assert list(records) == ["lr0.001"]
    assert records["lr0.001"]["data"] == "iris" and records["lr0.001"]["status"] == "completed"
    written = yaml.safe_load((sweep / "lr0.001" / ".hydra" / "overrides.yaml").read_text())
    assert "data=iris" in written


@pytest.mark.parametrize(
    ("swept", "subdir", "directory"),
    [
        ("seed=0,0", "seed${seed}", "seed0"),
        ("optimizer.lr=0.01,1e-2", "lr${optimizer.lr}", "lr0.01"),
    ],
)
@pytest.mark.slow
def test_a_job_with_an_earlier_jobs_config_is_skipped_as_under_the_basic_launcher(
    monkeypatch, tmp_path, capfd, swept, subdir, directory
):
    """Two jobs of one config (a value given twice, or one value written two ways) in one
    directory: the first trains, the second is skipped, its result the first's run, and the
    command exits 0, as under the basic launcher (where the second finds the first's run)."""
    sweep = tmp_path / "sweep"
    args = ("data=iris", "trainer.max_epochs=2", "logger=none", swept)
    where = (f"hydra.sweep.dir={sweep}", f"hydra.sweep.subdir={subdir}")
    log = _sweep(monkeypatch, tmp_path, capfd, *where, *args)
    assert "1 repeating an earlier job's config (skipped)" in log
    assert "skipped: job 1 (" in log and ") is job 0 (" in log
    assert f"the same config, in the same directory {sweep / directory}" in log
    assert "its result is job 0's run" in log
    assert "Add the keys in which they differ" not in log and "not run" not in log
    assert "1 completed, 1 skipped, 0 refused, 0 failed" in log
    records = _records(sweep)
    assert list(records) == [directory] and records[directory]["status"] == "completed"
    hydra_files = sweep / directory / ".hydra"
    assert swept.split(",")[0] in yaml.safe_load((hydra_files / "overrides.yaml").read_text())
    assert yaml.safe_load((hydra_files / "hydra.yaml").read_text())["hydra"]["job"]["num"] == 0


@pytest.mark.slow
def test_a_rerun_with_another_config_counts_its_jobs_as_not_run_and_exits_2(
    monkeypatch, tmp_path, capfd
):
    sweep = tmp_path / "sweep"
    args = (f"hydra.sweep.dir={sweep}", "data=iris", "logger=none", "seed=0,1")
    _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=3")
    with pytest.raises(SystemExit) as stop:  # a lower cap: another config (a raised one trains
        # the runs that reached the cap again: tests/test_raised_cap.py)
        _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=2")
    assert stop.value.code == 2
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "already records a completed run" in log
    assert "0 refused, 0 failed, 2 not run: a completed or kept run of other settings" in log
    assert "2 job(s) of this study were not run" in log
    assert all(r["epochs"] == 3 for r in _records(sweep).values())  # nothing overwritten
    for job in ("0", "1"):  # nor Hydra's record of what the run was
        written = yaml.safe_load((sweep / job / ".hydra" / "overrides.yaml").read_text())
        assert "trainer.max_epochs=3" in written and "trainer.max_epochs=2" not in written
        config = yaml.safe_load((sweep / job / ".hydra" / "config.yaml").read_text())
        assert config["trainer"]["max_epochs"] == 3


def test_a_skipping_rerun_leaves_the_jobs_files_as_they_were(monkeypatch, tmp_path, capfd):
    sweep = tmp_path / "sweep"
    args = (f"hydra.sweep.dir={sweep}", "data=iris", "logger=none", "trainer.max_epochs=2")
    _sweep(monkeypatch, tmp_path, capfd, *args, "seed=0,1")
    files = sorted(p for p in (sweep / "0").rglob("*") if p.is_file())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    log = _sweep(monkeypatch, tmp_path, capfd, *args, "seed=0,1")
    assert "0 completed, 2 skipped" in log
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


@pytest.mark.parametrize("key", ["seed", "data.split_seed"])
@pytest.mark.slow
def test_a_vectorizable_value_that_reads_the_hydra_config_is_each_jobs_own(
    monkeypatch, tmp_path, capfd, key
):
    """``seed=${hydra:job.num}``: each job reads its own Hydra config, as under the basic
    launcher (it was refused: "HydraConfig was not set"), and trains with its job number."""
    args = ("data=wine", f"{key}=${{hydra:job.num}}", "optimizer.lr=0.01,0.1")
    args = (*args, "trainer.max_epochs=2", "logger=none")
    written = {}
    for launcher in ("vectorized", "basic"):
        sweep = tmp_path / launcher
        log = _sweep(
            monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={sweep}", *args, launcher=launcher
        )
        assert "2 completed" in log
        assert launcher == "basic" or "2 in 1 vectorized groups" in log
        records = _records(sweep)
        assert [records[job]["status"] for job in ("0", "1")] == ["completed"] * 2
        configs = [yaml.safe_load((sweep / job / "config.yaml").read_text()) for job in "01"]
        written[launcher] = [OmegaConf.select(OmegaConf.create(c), key) for c in configs]
        written[launcher] += [records[job]["test/nll"] for job in "01"]
    assert written["vectorized"][:2] == written["basic"][:2] == [0, 1]
    assert written["vectorized"][2:] == pytest.approx(written["basic"][2:], abs=1e-5)


def test_hydra_values_are_left_to_the_jobs_after_another_hydra_app_in_the_process(
    monkeypatch, tmp_path, capfd
):
    """Hydra's config of a job left set in this process by another Hydra app (one without a
    job number): a multirun still leaves ``seed=${hydra:job.num}`` to its jobs (it was refused:
    "Incompatible value 'None' for field of type 'int'")."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from lossbench.train import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        HydraConfig.instance().set_config(compose("train", return_hydra_config=True))
    try:
        sweep = tmp_path / "sweep"
        args = ("data=iris", "seed=${hydra:job.num}", "optimizer.lr=0.01,0.1")
        log = _sweep(
            monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={sweep}", *args,
            "trainer.max_epochs=1", "logger=none",
        )  # fmt: skip
    finally:
        HydraConfig.instance().cfg = None
    assert "2 completed" in log
    assert [_records(sweep)[job]["seed"] for job in ("0", "1")] == [0, 1]


def test_a_value_that_reaches_another_key_groups_each_job_by_its_own_config(
    monkeypatch, tmp_path, capfd
):
    """``trainer.max_epochs=${seed}``: the jobs differ in more than a member's keys, so each
    trains for its own number of epochs (not the first job's)."""
    sweep = tmp_path / "sweep"
    _sweep(
        monkeypatch,
        tmp_path,
        capfd,
        f"hydra.sweep.dir={sweep}",
        "data=iris",
        "logger=none",
        "trainer.max_epochs=${seed}",
        "seed=2,4",
    )
    records = _records(sweep)
    assert [records[job]["epochs"] for job in ("0", "1")] == [2, 4]


@pytest.mark.slow
def test_a_members_csv_log_has_the_rows_of_its_run_alone(monkeypatch, tmp_path, capfd):
    """``logger=csv``: a member's ``logs/metrics.csv`` has its run alone's header and rows
    (per epoch a validation row, then a training row; then the final evaluation), with the
    same metrics in each row and their values within 1e-5."""
    import csv

    args = ("data=iris", "loss=cross_entropy", "trainer.max_epochs=3", "logger=csv", "seed=0,1")
    vectorized, basic = tmp_path / "vectorized", tmp_path / "basic"
    log = _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={vectorized}", *args)
    assert "2 in 1 vectorized groups" in log
    _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={basic}", *args, launcher="basic")
    for job in ("0", "1"):
        with (vectorized / job / "logs" / "metrics.csv").open() as handle:
            ours = list(csv.DictReader(handle))
        with (basic / job / "logs" / "metrics.csv").open() as handle:
            theirs = list(csv.DictReader(handle))
        assert len(ours) == len(theirs) == 3 * 2 + 1
        assert list(ours[0]) == list(theirs[0])
        for mine, alone in zip(ours, theirs, strict=True):
            assert {k for k, v in mine.items() if v} == {k for k, v in alone.items() if v}
            for key, value in alone.items():
                if value and key not in ("epoch", "step"):
                    assert float(mine[key]) == pytest.approx(float(value), abs=1e-5), key
                elif value:
                    assert mine[key] == value, key
        # and the module's hyper-parameters, as Lightning's log_hyperparams writes them
        hparams = (vectorized / job / "logs" / "hparams.yaml").read_text()
        assert hparams == (basic / job / "logs" / "hparams.yaml").read_text()


@pytest.mark.slow  # a few seconds of training; the default suite keeps the fast checks
def test_a_members_csv_log_goes_where_its_logger_settings_say(monkeypatch, tmp_path, capfd):
    """``logger.csv.name`` and ``version`` put a member's files where the run alone's go (a
    member wrote ``logs/`` whatever they said)."""
    args = (
        "data=iris", "trainer.max_epochs=2", "logger=csv", "logger.csv.name=mylogs",
        "logger.csv.version=v7", "seed=0,1",
    )  # fmt: skip
    files = {}
    for launcher in ("vectorized", "basic"):
        sweep = tmp_path / launcher
        _sweep(monkeypatch, tmp_path, capfd, f"hydra.sweep.dir={sweep}", *args, launcher=launcher)
        files[launcher] = sorted(
            str(p.relative_to(sweep))
            for p in sweep.rglob("*")
            if "mylogs" in p.parts or p.name == "logs"
        )
    assert files["vectorized"] == files["basic"]
    assert "0/mylogs/v7/metrics.csv" in files["basic"]


def test_a_member_stopped_in_its_first_epoch_records_early_stopping() -> None:
    """A member's ``stopped_by`` reads its ``EarlyStopping`` as a run alone's record does: a stop
    in the first epoch (``stopped_epoch`` 0: here ``check_finite`` on a NaN) is a stop."""
    import torch
    from omegaconf import OmegaConf

    from lossbench.callbacks import run_early_stopping
    from lossbench.lightning_internals import early_stopping_check
    from lossbench.vectorized.members import Member

    stop = run_early_stopping(
        enabled=True, monitor="val/nll", mode="min", patience=3, min_delta=0.0,
        optimized_metric="val/nll",
    )  # fmt: skip
    member = Member(cfg=OmegaConf.create({}), output_dir=None, record={}, early_stop=stop)
    assert member.stopped_by == "budget"
    assert early_stopping_check(stop, torch.tensor(float("nan")), epoch=0)
    assert stop.stopped_epoch == 0 and member.stopped_by == "early_stopping"


@pytest.mark.parametrize(
    "monitors",
    [
        ("checkpoint.monitor=val/accuracy",),
        ("early_stopping.enabled=true", "early_stopping.monitor=val/auroc"),
    ],
)
@pytest.mark.slow
def test_monitored_epoch_metrics_compute_the_monitors_of_a_members_callbacks(
    monkeypatch, tmp_path, capfd, monitors
):
    """``epoch_metrics=monitored`` with a checkpoint or early-stopping monitor other than the
    optimized metric: each member computes that monitor every epoch, as its run alone does,
    and ends as it does."""
    from test_vectorized import _metrics

    args = ("data=wine", "epoch_metrics=monitored", "trainer.max_epochs=3", "logger=none")
    args = (*args, "seed=0,1", *monitors)
    log, ours, theirs = _both_launchers(monkeypatch, tmp_path, capfd, *args)
    assert "2 in 1 vectorized groups" in log and "2 completed" in log
    assert sorted(ours) == sorted(theirs) == ["0", "1"]
    for job, record in ours.items():
        alone = theirs[job]
        assert record["status"] == alone["status"] == "completed", record.get("error")
        assert record["group_size"] == 2
        assert record["best_epoch"] == alone["best_epoch"]
        assert record["stopped_by"] == alone["stopped_by"]
        assert record["history"].keys() == alone["history"].keys()
        monitor = monitors[-1].split("=")[1]
        assert len(record["history"][monitor]) == record["epochs"] == alone["epochs"]
        metrics = _metrics(alone)
        assert metrics.keys() == _metrics(record).keys()
        for key, value in metrics.items():
            assert record[key] == pytest.approx(value, abs=1e-5, nan_ok=True), key
        for key, values in alone["history"].items():
            assert record["history"][key] == pytest.approx(values, abs=1e-5, nan_ok=True), key


@pytest.mark.parametrize("launcher", ["vectorized", "basic"])
@pytest.mark.slow
def test_a_rerun_with_another_config_keeps_the_runs_that_failed_on_a_non_finite_loss(
    monkeypatch, tmp_path, capfd, launcher
):
    """A run that failed on a non-finite loss is kept as the result of its settings: a sweep
    with other settings into its directory neither trains it again nor writes anything there,
    counts it as not run, and exits 2 naming ``hydra.sweep.dir`` (which it set)."""
    sweep = tmp_path / "sweep"
    args = (
        f"hydra.sweep.dir={sweep}",
        "data=breast_cancer",
        "data.batch_size=32",
        "head=sigmoid",
        "loss=manual_bce",
        "optimizer=sgd",
        "optimizer.lr=0.01,1e4",
        "seed=0,1",
        "data.split_seed=${seed}",
        "logger=none",
    )
    _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=4", launcher=launcher)
    records = _records(sweep)
    assert [records[job]["status"] for job in "0123"] == ["completed"] * 2 + ["failed"] * 2
    assert all(records[job]["error"].startswith("non-finite") for job in "23")
    kept = ["metrics.json", "config.yaml", "checkpoints/**/*"]
    if launcher == "vectorized":  # Hydra's own launchers rewrite .hydra/ before lossbench runs
        kept.append(".hydra/*")
    files = sorted(p for job in "0123" for name in kept for p in (sweep / job).glob(name))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files if p.is_file()}
    with pytest.raises(SystemExit) as stop:  # a lower cap: another config (a higher one would
        # keep the failed runs and train the others on: tests/test_raised_cap.py)
        _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=3", launcher=launcher)
    assert stop.value.code == 2
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "failed on a non-finite loss, which a sweep keeps" in log
    assert "0 completed, 0 skipped, 0 refused, 0 failed, 4 not run: a completed or kept run" in log
    assert "4 job(s) of this study were not run" in log
    assert "hydra.sweep.dir=<new directory>" in log and "paths.output_dir=" not in log
    assert "Traceback" not in log
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before} == before
    assert _records(sweep) == records


@pytest.mark.slow
def test_a_rerun_with_a_raised_cap_gives_the_runs_trained_again_their_own_files(
    monkeypatch, tmp_path, capfd
):
    """A sweep run again with a higher ``trainer.max_epochs``: the runs that reached their cap
    train again (tests/test_raised_cap.py), grouped or alone, and each job's ``.hydra/`` files
    and ``config.yaml`` are those of its new run, as under the basic launcher."""
    sweep = tmp_path / "sweep"
    args = (f"hydra.sweep.dir={sweep}", "data=iris", "logger=none", "seed=0,1")
    args = (*args, "runner=auto,lightning")  # two jobs in a group, two alone
    _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=2")
    log = _sweep(monkeypatch, tmp_path, capfd, *args, "trainer.max_epochs=3")
    assert "4 jobs: 2 in 1 vectorized groups, 2 alone, 0 already ended" in log
    records = _records(sweep)
    assert [records[job]["epochs"] for job in "0123"] == [3] * 4
    for job in "0123":
        folder = sweep / job
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        assert "trainer.max_epochs=3" in overrides and "trainer.max_epochs=2" not in overrides
        hydra = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra["overrides"]["task"] == overrides
        config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        assert config["trainer"]["max_epochs"] == 3
        # the run's config: the earlier one's (kept beside it) but for the cap
        saved = yaml.safe_load((folder / "config.yaml").read_text())
        kept = yaml.safe_load((folder / "config-max_epochs2.yaml").read_text())
        kept["trainer"]["max_epochs"] = 3
        assert saved == kept, job


@pytest.mark.slow
def test_monitored_epoch_metrics_of_losses_only_record_what_runs_alone_record(
    monkeypatch, tmp_path, capfd
):
    """``epoch_metrics=monitored`` where the callbacks monitor only losses
    (``optimized_metric=val/loss``): each member's history, ``logs/metrics.csv`` and
    checkpoints hold each epoch's losses and learning rate, as its run alone's do, and nothing
    more."""
    import csv
    import json

    import torch

    from lossbench.checkpoint_format import HISTORY_KEY

    args = ("data=iris", "loss=cross_entropy", "optimized_metric=val/loss", "seed=0,1")
    args = (*args, "epoch_metrics=monitored", "trainer.max_epochs=3", "logger=csv")
    args = (*args, "early_stopping.enabled=true", "early_stopping.patience=1")
    log, ours, theirs = _both_launchers(monkeypatch, tmp_path, capfd, *args)
    vectorized, basic = tmp_path / "vectorized", tmp_path / "basic"
    assert "2 in 1 vectorized groups" in log and "2 completed" in log
    assert sorted(ours) == sorted(theirs) == ["0", "1"]
    for job, record in ours.items():
        alone = theirs[job]
        assert record["group_size"] == 2 and record["epochs"] == alone["epochs"]
        assert sorted(record["history"]) == sorted(alone["history"])
        assert {"val/loss", "train/loss", "train/lr"} <= set(record["history"])
        assert "val/nll" not in record["history"]
        for key, values in alone["history"].items():
            assert record["history"][key] == pytest.approx(values, abs=1e-5, nan_ok=True), key

        def header(sweep, job=job):
            (path,) = (sweep / job / "logs").rglob("metrics.csv")
            with path.open(newline="") as file:
                return sorted(next(csv.reader(file)))

        assert header(vectorized) == header(basic)
        for name in ("last.ckpt", f"best-epoch{record['best_epoch']:03d}.ckpt"):
            checkpoints = [sweep / job / "checkpoints" / name for sweep in (vectorized, basic)]
            histories = [
                json.loads(torch.load(path, weights_only=False)[HISTORY_KEY])
                for path in checkpoints
            ]
            assert sorted(histories[0]) == sorted(histories[1]), name


@pytest.mark.slow
def test_members_whose_data_give_other_input_widths_train_apart_as_runs_alone_do(
    monkeypatch, tmp_path, capfd
):
    """A categorical column with a value on one row: the one-hot encoding, fitted on each
    member's training split, gives the members whose split holds that row one input more.
    Members of each width train together, apart from the others, and every job of the sweep
    (the other group's too) ends as under the basic launcher."""
    import csv

    import numpy as np

    from test_vectorized import _metrics

    rng = np.random.default_rng(0)
    path = tmp_path / "rare.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["a", "b", "color", "y"])
        for row in range(200):
            a, b = rng.normal(size=2)
            color = "purple" if row == 7 else ("red", "green", "blue")[row % 3]
            writer.writerow([round(a, 4), round(b, 4), color, int(a + b / 2 > 0.2)])
    args = ("data=csv", f"data.path={path}", "data.label_columns=[y]", "data.task=binary")
    args = (*args, "data.split_seed=0,1,2,3", "model=linear,mlp", "trainer.max_epochs=3")
    args = (*args, "logger=none")
    log, ours, theirs = _both_launchers(monkeypatch, tmp_path, capfd, *args)
    assert "8 in 2 vectorized groups" in log and "8 completed" in log
    assert log.count("the 4 members of this group train as 2 groups") == 2
    assert "5 input features" in log and "6 input features" in log
    assert sorted(ours) == sorted(theirs) == [str(job) for job in range(8)]
    sizes = [ours[str(job)]["group_size"] for job in range(8)]
    assert sum(1 / n for n in sizes) == pytest.approx(4)  # 2 groups, 2 widths each
    for job, record in ours.items():
        alone = theirs[job]
        assert record["status"] == alone["status"] == "completed", record.get("error")
        assert set(record) == set(alone) | {"group_size"}
        for key in ("best_epoch", "epochs", "steps", "sizes", "stopped_by"):
            assert record[key] == alone[key], key
        for key, value in _metrics(alone).items():
            assert record[key] == pytest.approx(value, abs=1e-5, nan_ok=True), key
        for key, values in alone["history"].items():
            assert record["history"][key] == pytest.approx(values, abs=1e-5, nan_ok=True), key


def _launch_parts(output: str) -> tuple[int, dict[str, int]]:
    """The total and the counted parts of the launcher's ``Launching N jobs: ...`` line."""
    line = re.search(r"Launching (\d+) jobs: (.*)", output)
    assert line, output
    parts = {}
    for part in line.group(2).split(", "):
        number, _, name = part.partition(" ")
        parts[name] = int(number)
    return int(line.group(1)), parts


@pytest.mark.slow
def test_the_launching_line_counts_the_jobs_hydra_runs(tmp_path):
    """A DDP job runs through Hydra's own job runner: the launching line names it among the
    parts, which add up to the jobs launched, as they do when the sweep is run again."""
    args = ("-m", "hydra/launcher=vectorized", "trainer=ddp", "trainer.accelerator=cpu",
            "data=iris", "seed=0,1", "trainer.max_epochs=1", "logger=none",
            f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
    first = run_console("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    output = first.stdout + first.stderr
    assert "job 1 runs as a Hydra job: trainer.strategy=ddp" in output
    assert (
        "Launching 2 jobs: 0 in 0 vectorized groups, 0 alone, 2 as Hydra jobs (DDP), "
        "0 already ended (skipped)"
    ) in output
    total, parts = _launch_parts(output)
    assert sum(parts.values()) == total == 2
    again = run_console("train", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    output = again.stdout + again.stderr
    assert "Hydra jobs" not in output
    total, parts = _launch_parts(output)
    assert sum(parts.values()) == total == 2 == parts["already ended (skipped)"]


@pytest.mark.parametrize(
    ("logger", "shown"),
    [("tensorboard", "logger=tensorboard"), ("[csv,tensorboard]", "logger=[csv,tensorboard]")],
)
@pytest.mark.slow
def test_a_job_alone_for_its_loggers_names_them_as_an_override(tmp_path, logger, shown):
    """The reason a job trains alone quotes its loggers as the user writes them, not as a
    Python list (``logger=['tensorboard']``)."""
    result = run_console(
        "train", "-m", "hydra/launcher=vectorized", "data=iris", "seed=0",
        "trainer.max_epochs=1", f"logger={logger}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert f"job 0 runs alone: {shown}\n" in output
