"""Real ``lossbench-train`` processes stopped by Ctrl-C while they train, then run again with
the same command: the run trains again from scratch, and what the stopped attempt's loggers
wrote is kept in ``logs-earlier/`` beside the new attempt's ``logs/`` (as its checkpoints are
kept in ``checkpoints-earlier/``), without Lightning's warning that ``logs/`` "exists and is
not empty" and without losing a row.

Each Ctrl-C is placed by what the run has written (a ``metrics.csv`` with some epochs and no
record yet), not by a delay, so the tests do not depend on the machine's speed.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_process import PATCHED_TRAIN, SWEEP_LAUNCHERS, run_patched_train, start_script

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

QUIET = (
    "data=wine",
    "trainer.max_epochs=300",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)
#: Lightning's CSV logger's warning where a run's ``logs/`` holds an earlier attempt's files.
WARNING = "exists and is not empty"
#: Rows of ``metrics.csv`` (the header, then a few epochs) before a run counts as mid-training.
MID_TRAINING_LINES = 20


def _csv_lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except OSError:
        return 0


def _training(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run mid-training: some epochs in its ``metrics.csv``, no
    record yet."""
    lines = _csv_lines(run_dir / "logs" / "metrics.csv")
    return lines >= MID_TRAINING_LINES and not (run_dir / "metrics.json").exists()


def _ctrl_c_once(args: tuple[str, ...], ready: Callable[[], bool]) -> None:
    """Start ``lossbench-train ARGS`` in a session of its own and, once ``ready()``, press
    Ctrl-C as a terminal does (SIGINT to its whole process group); wait for it to end."""
    process = start_script(
        PATCHED_TRAIN, *args, new_session=True, stdout=subprocess.DEVNULL,
        extra_env={"OMP_NUM_THREADS": "1", "LOSSBENCH_TEST_PATCH": ""},
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not ready():
        assert process.poll() is None, f"the run ended before Ctrl-C: {process.stderr.read()}"
        assert time.monotonic() < deadline, "the run did not get there within 240 s"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err


def _epochs(path: Path) -> list[int]:
    """The ``epoch`` of each row of ``metrics.csv`` that has one (the final ``test/*`` row has
    none)."""
    with path.open(newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file) if row["epoch"]]


def _assert_kept_apart(run_dir: Path, earlier: bytes, output: str) -> None:
    """The stopped attempt's ``metrics.csv`` (``earlier``) is kept, byte for byte, in
    ``logs-earlier/``; ``logs/metrics.csv`` holds the new attempt's rows alone (its epochs
    from 0 to its last, in order, once: no earlier attempt's rows before them); and
    ``output`` says nothing of an earlier ``logs/``."""
    assert WARNING not in output, output
    assert (run_dir / "logs-earlier" / "metrics.csv").read_bytes() == earlier
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["resumed_from"] is None
    epochs = _epochs(run_dir / "logs" / "metrics.csv")
    assert epochs == sorted(epochs) and epochs[0] == 0
    assert epochs[-1] == record["epochs"] - 1
    assert (run_dir / "logs" / "metrics.csv").read_text().count("epoch,") <= 1  # one header


@pytest.mark.parametrize(
    ("stopped_under", "run_again_under"),
    [
        (SWEEP_LAUNCHERS["basic"], SWEEP_LAUNCHERS["basic"]),
        (SWEEP_LAUNCHERS["parallel"], SWEEP_LAUNCHERS["parallel"]),
        # a vectorized member writes its logs when it ends: stopped under another launcher
        (SWEEP_LAUNCHERS["basic"], ("hydra/launcher=vectorized",)),
    ],
    ids=["basic", "parallel", "basic-then-vectorized"],
)
def test_a_sweep_stopped_mid_job_and_run_again_keeps_the_stopped_attempts_logs(
    tmp_path, stopped_under, run_again_under
):
    """``-m seed=0,1`` stopped by Ctrl-C while a job trains, then the same command again: each
    job that was stopped trains again, and its stopped attempt's metrics.csv is in
    logs-earlier/ (its checkpoints in checkpoints-earlier/), not overwritten."""
    sweep = tmp_path / "sweep"
    args = ("-m", *QUIET, "seed=0,1", f"hydra.sweep.dir={sweep}")
    _ctrl_c_once((*args, *stopped_under), lambda: any(map(_training, sweep.glob("*_wine_*"))))
    stopped = {
        job: (job / "logs" / "metrics.csv").read_bytes()
        for job in sweep.glob("*_wine_*")
        if not (job / "metrics.json").exists() and (job / "logs" / "metrics.csv").is_file()
    }
    # the job Ctrl-C waited for had trained epochs; another may have been stopped in its first,
    # its rows logged before its first checkpoint was asked for (no checkpoints to set aside)
    checkpointed = [job for job in stopped if (job / "checkpoints" / "last.ckpt").is_file()]
    assert checkpointed

    again = run_patched_train(*args, *run_again_under)
    assert again.returncode == 0, again.stderr
    for job, earlier in stopped.items():
        _assert_kept_apart(job, earlier, again.stdout + again.stderr)
    for job in checkpointed:
        assert (job / "checkpoints-earlier" / "last.ckpt").is_file()


def test_a_single_run_stopped_before_its_first_checkpoint_keeps_its_logs(tmp_path):
    """A single run that writes no checkpoint (``checkpoint.write=never``) stopped by Ctrl-C,
    then the same command again: nothing to resume, so it trains afresh in its directory, and
    the stopped attempt's metrics.csv is kept in logs-earlier/. (A run that left checkpoints
    is refused instead: ``ckpt_path=last`` continues it.)"""
    run_dir = tmp_path / "run"
    args = (*QUIET, "checkpoint.write=never", f"hydra.run.dir={run_dir}")
    _ctrl_c_once(args, lambda: _training(run_dir))
    earlier = (run_dir / "logs" / "metrics.csv").read_bytes()
    assert not (run_dir / "checkpoints").exists()

    again = run_patched_train(*args)
    assert again.returncode == 0, again.stderr
    _assert_kept_apart(run_dir, earlier, again.stdout + again.stderr)
