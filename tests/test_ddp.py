"""DDP on the CPU: 2 processes (gloo), one run directory, metrics that count each sample once.

The end-to-end runs start ``python -m lossbench.train`` as rank 0, which starts rank 1 itself
(:mod:`lossbench.distributed`); they take ~15 s per DDP run on 2 cores and are marked slow.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import OmegaConf

from cli_process import run_module
from lossbench import distributed
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.loader import IndexBatchLoader
from lossbench.module import ClassifierModule
from lossbench.record import RECORD_NAME

REPO = Path(__file__).resolve().parents[1]
# wine with test_fraction 0.25: 97 training rows (odd: training pads), 45 test rows (odd).
DDP_RUN = (
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "trainer.max_epochs=3",
    "data=wine",
    "data.test_fraction=0.25",
    "data.batch_size=16",
    "head=logits",
    "loss=cross_entropy",
    "logger=csv",
)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_module("lossbench.train", *args, cwd=cwd, unset=("OMP_NUM_THREADS",))


@pytest.mark.parametrize("n", [44, 45])
def test_evaluation_shards_count_each_sample_once_and_training_shards_pad(n):
    tensors = (torch.arange(n),)
    shards = [
        torch.cat([b[0] for b in IndexBatchLoader(tensors, 8, shuffle=False, rank=r, world_size=2)])
        for r in range(2)
    ]
    assert sorted(torch.cat(shards).tolist()) == list(range(n))
    train = [
        [
            len(b[0])
            for b in IndexBatchLoader(tensors, 8, shuffle=True, rank=r, world_size=2, pad=True)
        ]
        for r in range(2)
    ]
    assert train[0] == train[1]  # the same number of steps on every rank
    assert sum(map(sum, train)) == n + n % 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_training_shards_pad_a_split_with_fewer_rows_than_processes(n):
    """Each of 4 ranks takes one step on one row: the rows again, as often as it takes."""
    tensors = (torch.arange(n),)
    shards = [
        [
            b[0].tolist()
            for b in IndexBatchLoader(tensors, 8, shuffle=True, rank=r, world_size=4, pad=True)
        ]
        for r in range(4)
    ]
    assert [len(s) for s in shards] == [1] * 4 and all(len(s[0]) == 1 for s in shards)
    assert {row for s in shards for row in s[0]} == set(range(n))


def test_an_evaluation_split_with_fewer_rows_than_processes_is_refused(make_cfg):
    """Each process evaluates its own rows of val and test, none repeated: a split with fewer
    rows than processes leaves a process with none, and the run is refused, saying which
    split, its rows, the processes, and the fix."""
    from lossbench.errors import ConfigError

    cfg = make_cfg("data=iris", "trainer=ddp", "trainer.devices=4", "data.val_fraction=0.014")
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    sizes = datamodule.sizes()
    assert sizes["val"] == 3
    distributed.check_evaluation_shares(cfg, sizes, 3, datamodule.task)  # a row each
    distributed.check_evaluation_shares(cfg, {"train": 1, "val": 1, "test": 1}, 1)
    with pytest.raises(ConfigError) as info:
        distributed.check_evaluation_shares(cfg, sizes, 4, datamodule.task)
    for words in (
        "the validation split has 3 rows (data.val_fraction=0.014 of data=iris's 150 rows)",
        "fewer than the run's 4 processes (trainer.devices=4 x trainer.num_nodes=1)",
        "each process evaluates its own rows of every split, none repeated",
        "1 process would have none",
        "Use at most 3 processes (e.g. trainer.devices=3), or a larger data.val_fraction "
        "(about data.val_fraction=0.03 gives it 5 rows)",
    ):
        assert words in str(info.value), str(info.value)
    assert "test split" not in str(info.value)
    # both splits too small, on 2 machines: both named, the processes counted in all
    cfg = make_cfg("data=iris", "trainer=ddp", "trainer.devices=auto", "trainer.num_nodes=2")
    with pytest.raises(ConfigError) as info:
        distributed.check_evaluation_shares(cfg, {"train": 140, "val": 5, "test": 5}, 8)
    for words in (
        "the validation split has 5 rows (data.val_fraction=0.2",
        "; the test split has 5 rows (data.test_fraction=0.2",
        "8 processes (trainer.devices=auto, 4 here, x trainer.num_nodes=2)",
        "3 processes would have none. Use at most 5 processes in all",
        "a larger data.val_fraction (about data.val_fraction=",
        "and a larger data.test_fraction (about data.test_fraction=",
    ):
        assert words in str(info.value), str(info.value)
    # a dense data set's rows are its images
    with pytest.raises(ConfigError, match=r"the test split has 2 images .* 30 images"):
        distributed.check_evaluation_shares(
            cfg, {"train": 22, "val": 6, "test": 2}, 4, "dense_binary"
        )


def test_only_global_rank_zero_writes_the_record(tmp_path, monkeypatch):
    record = {"status": "completed", "error": None}
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    distributed.finish_run(tmp_path / "rank1", record)
    assert not (tmp_path / "rank1" / RECORD_NAME).exists()
    monkeypatch.setattr(rank_zero_only, "rank", 0)
    distributed.finish_run(tmp_path / "rank0", record)
    assert json.loads((tmp_path / "rank0" / RECORD_NAME).read_text())["status"] == "completed"


@pytest.mark.parametrize(("cores", "processes", "jobs", "threads"), [(2, 2, 1, 1), (16, 4, 2, 2)])
def test_threads_fit_the_cores(monkeypatch, cores, processes, jobs, threads):
    before = torch.get_num_threads()
    monkeypatch.setattr(distributed, "cores", lambda: cores)
    monkeypatch.setattr(distributed, "parallel_jobs", lambda: jobs)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 64)  # never raised above torch's own
    try:
        assert distributed.fit_threads(processes) == threads
    finally:
        torch.set_num_threads(before)


def test_child_config_joins_the_run_directory_of_rank_zero(make_cfg, tmp_path):
    cfg = make_cfg("data=iris", "trainer=ddp", "seed=5")
    child = distributed.ChildRun.of(cfg, tmp_path / "run")
    path = child.write_config(tmp_path)
    command = child.command(path, local_rank=1)
    assert command[1:3] == ["-m", "lossbench.train"] and "-m" not in command[3:]
    with initialize_config_dir(config_dir=str(path.parent), version_base="1.3"):
        composed = compose(path.stem, overrides=command[7:], return_hydra_config=True)
    assert composed.hydra.run.dir == str((tmp_path / "run").resolve())
    assert composed.hydra.output_subdir is None
    assert composed.hydra.job.name == "ddp_rank1"
    job_cfg = {k: v for k, v in OmegaConf.to_container(composed).items() if k != "hydra"}
    assert job_cfg == OmegaConf.to_container(cfg, resolve=True)


def test_ddp_preset_composes(make_cfg):
    cfg = make_cfg("trainer=ddp")
    assert (cfg.trainer.strategy, cfg.trainer.devices, cfg.trainer.num_nodes) == ("ddp", 2, 1)
    assert cfg.trainer.max_epochs == 2 and cfg.trainer.precision == "32-true"


@pytest.mark.slow
def test_two_process_ddp_run_equals_single_process_evaluation(tmp_path):
    result = _cli(*DDP_RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dirs = list((tmp_path / "outputs" / "runs").iterdir())
    assert len(run_dirs) == 1, f"scattered run directories: {run_dirs}"
    run = run_dirs[0]
    assert [p.parent for p in tmp_path.rglob(RECORD_NAME)] == [run]
    assert (run / "ddp_rank1.log").is_file() and not (run / ".hydra" / "ddp_rank1").exists()
    record = json.loads((run / RECORD_NAME).read_text())
    assert record["status"] == "completed", record["error"]
    assert record["sizes"] == {"train": 97, "val": 36, "test": 45}
    assert record["steps"] == 3 * 4  # 3 epochs of ceil(ceil(97 / 2) / 16) steps per rank

    cfg = OmegaConf.load(run / "config.yaml")
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    single = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    assert single.keys() == {k for k in record if k.startswith("test/")}
    for key, value in single.items():
        torch.testing.assert_close(record[key], float(value), rtol=1e-5, atol=1e-6, msg=key)
    # metrics.csv: a val/ row per epoch, then the best epoch's val/ under best/ (a fourth val/
    # row came last), as one process's run writes it
    with (run / "logs" / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows if r["val/nll"]] == ["0", "1", "2"]
    assert float(rows[-1]["best/val/nll"]) == pytest.approx(record["val/nll"])
    assert float(rows[-1]["test/nll"]) == pytest.approx(record["test/nll"])
    # the reliability bins of both processes' test rows (they held rank 0's share only)
    reliability = record["test_reliability"]
    assert sum(reliability["count"]) == 45 and reliability["count"] == module.reliability["count"]
    for key, bins in module.reliability.items():
        assert [b is None for b in reliability[key]] == [b is None for b in bins], key
        assert [b for b in reliability[key] if b is not None] == pytest.approx(
            [b for b in bins if b is not None], abs=1e-6
        ), key


@pytest.mark.slow
def test_an_evaluation_split_smaller_than_the_processes_is_refused_before_they_start(tmp_path):
    """iris's validation split of 3 rows under 4 processes: refused before rank 0 starts the
    others (exit 2, one message, no traceback), and nothing written: no run directory, no
    metrics.json marked failed, no ddp_rank logs."""
    run = tmp_path / "run"
    args = (
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=4",
        "data=iris",
        "data.val_fraction=0.014",
        "trainer.max_epochs=2",
        "logger=none",
        f"hydra.run.dir={run}",
    )
    result = _cli(*args, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output and "gloo" not in output, output[-3000:]
    refusals = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(refusals) == 1, refusals
    for words in (
        "lossbench: refused: the validation split has 3 rows",
        "fewer than the run's 4 processes (trainer.devices=4 x trainer.num_nodes=1)",
        "each process evaluates its own rows of every split, none repeated",
        "Use at most 3 processes (e.g. trainer.devices=3), or a larger data.val_fraction",
    ):
        assert words in refusals[0], refusals[0]
    assert not run.exists()
    assert not list(tmp_path.rglob(RECORD_NAME)) and not list(tmp_path.rglob("ddp_rank*.log"))


@pytest.mark.slow
def test_ddp_inside_a_multirun_keeps_each_job_in_its_directory(tmp_path):
    result = _cli("-m", *DDP_RUN, "trainer.max_epochs=1", "seed=0,1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "outputs" / "runs").exists()
    (sweep,) = (tmp_path / "outputs" / "multiruns").iterdir()
    # job directories; `.progress/` holds the study progress line's markers (lossbench.progress)
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in jobs] == ["0_wine_logits_cross_entropy", "1_wine_logits_cross_entropy"]
    for job, seed in zip(jobs, (0, 1), strict=True):
        record = json.loads((job / RECORD_NAME).read_text())
        assert (record["status"], record["seed"]) == ("completed", seed)
        assert (job / "ddp_rank1.log").is_file()
    assert len(list(tmp_path.rglob(RECORD_NAME))) == 2


@pytest.mark.slow
def test_ddp_without_checkpoint_files_evaluates_the_same_best_epoch(tmp_path):
    """checkpoint.write=never under DDP: every rank loads the best weights it kept in memory
    before the gathered evaluation; the record is that of the run that writes its files."""
    records = {}
    for write in ("every_epoch", "never"):
        run = tmp_path / write
        result = _cli(*DDP_RUN, f"checkpoint.write={write}", f"hydra.run.dir={run}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        records[write] = json.loads((run / RECORD_NAME).read_text())
        assert records[write]["status"] == "completed", records[write]["error"]
    written, kept = records["every_epoch"], records["never"]
    assert kept["best_checkpoint"] is None and not (tmp_path / "never" / "checkpoints").exists()
    keys = [k for k in written if k.startswith(("val/", "test/"))] + ["best_epoch", "history"]
    assert {k: kept[k] for k in keys} == {k: written[k] for k in keys}


@pytest.mark.slow
def test_a_ddp_onecycle_run_resumed_in_one_process_is_refused_with_its_steps(make_cfg, tmp_path):
    """The schedule of a 2-process run was built over each process's batches (3 epochs of 4):
    the checkpoint's own count is compared, not one recounted for a single process (7 an
    epoch), which the run never had; and its own processes, where no setting tells them."""
    from lossbench.errors import UserInputError
    from lossbench.train import preflight

    run = tmp_path / "run"
    result = _cli(*DDP_RUN, "scheduler=onecycle", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    one = [a for a in DDP_RUN if a not in ("trainer=ddp", "trainer.devices=2")]
    last = run / "checkpoints" / "last.ckpt"
    cfg = make_cfg(*one, "scheduler=onecycle", "trainer.max_epochs=4", f"ckpt_path={last}")
    with pytest.raises(UserInputError, match=r"scheduler=onecycle spreads") as info:
        preflight(cfg, tmp_path / "one")
    assert "trainer.devices: 2 then, 'auto' now" in str(info.value)
    assert "12 optimizer steps then, 28 now" in str(info.value)
    # copied without the run's config.yaml, the config the checkpoint holds names the setting
    from lossbench.checkpoint import load_checkpoint

    assert load_checkpoint(last)["lossbench_processes"] == 2
    copied = tmp_path / "copied" / "last.ckpt"
    copied.parent.mkdir()
    copied.write_bytes(last.read_bytes())
    cfg = make_cfg(*one, "scheduler=onecycle", f"ckpt_path={copied}")
    with pytest.raises(UserInputError, match=r"scheduler=onecycle spreads") as info:
        preflight(cfg, tmp_path / "copied-run")
    assert "trainer.devices: 2 then, 'auto' now; 12 optimizer steps then, 21 now" in str(info.value)
    # an older lossbench's checkpoint (no config in it; no setting to compare) records its 2
    # processes: the same settings resumed in 1 process are refused by them
    older = torch.load(copied, weights_only=False)
    del older["lossbench_config"]
    torch.save(older, copied)
    with pytest.raises(UserInputError, match=r"scheduler=onecycle spreads") as info:
        preflight(cfg, tmp_path / "copied-run")
    for words in (
        "this run has 1 process here (trainer.devices=auto takes every device of the machine",
        "the run that wrote the checkpoint had 2 processes, so it would take 21 optimizer steps "
        "where the checkpoint's schedule was built over 12",
        "one-cycle stops with an error past the schedule's 12 steps",
        "pin its processes with trainer.devices=2",
    ):
        assert words in str(info.value), str(info.value)
