"""A vectorized group stopped during its fit (Ctrl-C, SIGTERM): each member keeps what its run
alone keeps, as of its last completed epoch (best checkpoint, ``last.ckpt``, ``logs/``), no
record, and its ``last.ckpt`` resumes and evaluates."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_process import SRC, run_console
from lossbench.checkpoint import load_checkpoint
from lossbench.training import train
from stop_signals import SIGNALS, posix

#: Two seeds as one vectorized group, trained in the launching process (one task: one worker),
#: for far more epochs than the test waits for.
SWEEP = (
    "-m",
    "hydra/launcher=vectorized",
    "data=iris",
    "seed=0,1",
    "trainer.max_epochs=100000",
    "logger=csv",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=seed${seed}",
)


def _stopped_sweep(tmp_path: Path, signum: int) -> subprocess.CompletedProcess[str]:
    """Start the sweep as a shell does (its own process group, Ctrl-C enabled), let its group
    train a few seconds, then send it ``signum``."""
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "lossbench.train", *SWEEP],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / "sweep" / "seed1" / "config.yaml").is_file():  # the group is built
        if sweep.poll() is not None or time.monotonic() > deadline:
            sweep.kill()
            raise AssertionError(f"the group does not train: {sweep.communicate()[1][-2000:]}")
        time.sleep(0.1)
    time.sleep(4)  # some epochs of iris (milliseconds each)
    os.killpg(sweep.pid, signum) if signum == signal.SIGINT else sweep.send_signal(signum)
    try:
        stdout, stderr = sweep.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(sweep.pid, signal.SIGKILL)
        raise AssertionError(f"it did not end: {sweep.communicate()[1][-2000:]}") from None
    return subprocess.CompletedProcess(sweep.args, sweep.returncode, stdout, stderr)


def _logged_epochs(run: Path) -> list[int]:
    with (run / "logs" / "metrics.csv").open() as rows:
        return sorted({int(row["epoch"]) for row in csv.DictReader(rows) if row.get("epoch")})


@posix
@pytest.mark.slow  # about 12 s each: a sweep's process, a resumed run and lossbench-eval
@SIGNALS
def test_a_stopped_group_s_members_keep_their_checkpoints_and_logs_and_resume(
    tmp_path, make_cfg, signum, status, what
):
    stopped = _stopped_sweep(tmp_path, signum)
    assert stopped.returncode == status, stopped.stderr[-2000:]
    assert stopped.stderr.strip().splitlines()[-1].startswith(f"lossbench: {what}.")
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    for seed in (0, 1):
        run = tmp_path / "sweep" / f"seed{seed}"
        assert not (run / "metrics.json").exists()  # no record: the sweep trains it again
        last = load_checkpoint(run / "checkpoints" / "last.ckpt")
        epochs = _logged_epochs(run)
        assert epochs == list(range(last["epoch"] + 1))  # the epochs done, the last one kept
        assert last["epoch"] >= 1
        assert last["loops"] and last["optimizer_states"]  # the training state: it resumes
        best = list((run / "checkpoints").glob("best-epoch*.ckpt"))
        assert len(best) == 1
        assert load_checkpoint(best[0])["epoch"] <= last["epoch"]
    # a run alone resumes a member from its last.ckpt and trains it to completion
    member = tmp_path / "sweep" / "seed1"
    done = load_checkpoint(member / "checkpoints" / "last.ckpt")["epoch"] + 1
    cfg = make_cfg(
        "data=iris",
        "seed=1",
        f"trainer.max_epochs={done + 2}",
        f"ckpt_path={member / 'checkpoints' / 'last.ckpt'}",
    )
    resumed = train(cfg, tmp_path / "resumed", multirun=True)
    assert resumed["status"] == "completed", resumed.get("error")
    assert resumed["epochs"] == done + 2
    assert len(resumed["history"]["val/nll"]) == done + 2
    evaluated = run_console(
        "eval", f"ckpt_path={member / 'checkpoints' / 'last.ckpt'}", cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
