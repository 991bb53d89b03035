"""Real ``lossbench-train`` processes killed (SIGKILL) or stopped (SIGTERM) while they train,
then resumed with the documented command, against an uninterrupted run of the same command.

Each kill is placed by what the run has written, not by a delay: after ``last.ckpt`` holds
epoch N (polled from outside), after a sweep's first job has its record, or from inside the
process at an exact step of the checkpoint writer (a patched Lightning method SIGKILLs its own
process), so the tests do not depend on the machine's speed.

What must hold after the resume: the same ``val/`` and ``test/`` metrics, ``epochs``,
``steps``, ``best_epoch``, ``history``, ``logs/metrics.csv`` rows and the same files in
``checkpoints/`` as the uninterrupted run; a stop by SIGTERM ends with exit status 143, one
``lossbench: terminated (SIGTERM)`` line and no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_process import run_patched_train, start_patched_train
from run_files import epoch_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

QUIET = (
    "data=digits",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)
#: Run first in the child: SIGKILL this process as soon as a new best checkpoint file of epoch
#: KILL_EPOCH or later is on disk (lossbench's checkpoint writer thread), before the previous best
#: is removed and before last.ckpt catches up: the moment a kill leaves two best files.
KILL_BEFORE_OLD_BEST_REMOVED = """
import re, signal
import lossbench.checkpoint_io as _io
_write = _io._serialize_and_replace
def _killing_write(path, checkpoint):
    _write(path, checkpoint)
    found = re.match(r"best-epoch(\\d+)", path.name)
    if found and int(found.group(1)) >= int(os.environ['KILL_EPOCH']):
        os.kill(os.getpid(), signal.SIGKILL)
_io._serialize_and_replace = _killing_write
"""
#: Run first in the child: send SIGNAL to this process once the checkpoint callback has ended
#: epoch SIGNAL_EPOCH and its last.ckpt is on disk (lossbench writes checkpoints on a
#: background thread), as a kill from outside landing there would: before Lightning logs the
#: epoch's training metrics.
SIGNAL_AFTER_EPOCH_END = """
from lossbench.callbacks import BestAndLastCheckpoint
_end = BestAndLastCheckpoint.on_train_epoch_end
def _signalling_end(self, trainer, module):
    _end(self, trainer, module)
    if trainer.current_epoch == int(os.environ['SIGNAL_EPOCH']):
        getattr(trainer.strategy.checkpoint_io, 'wait', lambda: None)()  # last.ckpt on disk
        os.kill(os.getpid(), int(os.environ['SIGNAL']))
BestAndLastCheckpoint.on_train_epoch_end = _signalling_end
"""


def _wait_then_signal(proc: subprocess.Popen[str], ready, signum: int) -> None:
    deadline = time.monotonic() + 240
    while not ready():
        assert proc.poll() is None, f"the run ended before the signal: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the run did not get there within 240 s"
        time.sleep(0.01)
    proc.send_signal(signum)


def _record(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _outcome(run_dir: Path) -> dict:
    record = _record(run_dir)
    keys = sorted(k for k in record if k.startswith(("val/", "test/")))
    assert keys
    best = record["best_checkpoint"]
    return {
        **{k: record[k] for k in [*keys, "epochs", "steps", "best_epoch", "history", "status"]},
        "best_checkpoint": Path(best).name if best else None,
        "checkpoints": sorted(p.name for p in (run_dir / "checkpoints").glob("*")),
        "metrics.csv": (run_dir / "logs" / "metrics.csv").read_text().splitlines(),
    }


def _whole_then_stopped(
    tmp_path: Path, args: tuple[str, ...], patch: str, **extra: str
) -> tuple[Path, subprocess.Popen[str], str]:
    """Run ``args`` uninterrupted into ``whole/``, then again into ``stopped/`` with ``patch``
    placing its signal; the stopped run's directory, process and stderr."""
    whole = run_patched_train(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    run_dir = tmp_path / "stopped"
    stopped = start_patched_train(*args, f"hydra.run.dir={run_dir}", patch=patch, extra_env=extra)
    return run_dir, stopped, stopped.communicate(timeout=300)[1]


CASES = {
    "default": ("trainer.max_epochs=40",),
    "plateau+early-stopping": (
        "trainer.max_epochs=60",
        "scheduler=plateau",
        "scheduler.patience=1",
        "early_stopping.enabled=true",
        "early_stopping.patience=4",
        "optimizer.lr=0.01",
    ),
    "val_check_interval=0.5": ("trainer.max_epochs=40", "trainer.val_check_interval=0.5"),
    "accumulate+clip": (
        "trainer.max_epochs=40",
        "trainer.accumulate_grad_batches=2",
        "trainer.gradient_clip_val=0.5",
    ),
}


#: Under Lightning's loop (``val_check_interval``, accumulation) the SIGKILL lands after the
#: epoch's ``last.ckpt`` and before its ``train/`` row of ``logs/metrics.csv``: the resumed run
#: writes the row from the checkpoint's history.
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_stopped_after_an_epoch_resumes_to_the_uninterrupted_run(tmp_path, case, signum):
    args = (*QUIET, *CASES[case])
    run_dir, stopped, err = _whole_then_stopped(
        tmp_path, args, SIGNAL_AFTER_EPOCH_END, SIGNAL_EPOCH="5", SIGNAL=str(int(signum))
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    assert not (run_dir / "metrics.json").exists(), "the run completed: the signal never came"
    assert epoch_of(last) >= 5
    if signum == signal.SIGKILL:
        assert stopped.returncode == -signal.SIGKILL
    else:
        assert stopped.returncode == 143, err
        assert err.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM)."), err
        assert "Traceback" not in err, err

    resumed = run_patched_train(*args, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr, resumed.stderr
    assert _record(run_dir)["resumed_from"] == str(last)
    assert _outcome(run_dir) == _outcome(tmp_path / "whole")


@pytest.mark.parametrize("case", ["default", "val_check_interval=0.5"])
def test_killed_between_two_best_files_resumes_to_the_uninterrupted_run(tmp_path, case):
    """SIGKILL right after a new best checkpoint is written and before the previous one is
    removed (with val_check_interval below an epoch: half an epoch before last.ckpt catches
    up). The resumed run must not keep the killed run's orphan best file, nor save the best as
    ``best-epochNNN-v1.ckpt`` beside it."""
    args = (*QUIET, *CASES[case])
    run_dir, killed, _ = _whole_then_stopped(
        tmp_path, args, KILL_BEFORE_OLD_BEST_REMOVED, KILL_EPOCH="3"
    )
    assert killed.returncode == -signal.SIGKILL
    assert len(list((run_dir / "checkpoints").glob("best-epoch*.ckpt"))) == 2  # the moment

    resumed = run_patched_train(*args, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    assert _outcome(run_dir) == _outcome(tmp_path / "whole")


def test_sweep_killed_after_its_first_job_reruns_to_the_uninterrupted_sweep(tmp_path):
    """``-m seed=0,1,2`` SIGKILLed once job 0 has its record; the same command run again skips
    job 0 (its record untouched) and ends with every job as the uninterrupted sweep's."""
    args = ("-m", *QUIET, "seed=0,1,2", "trainer.max_epochs=30")
    whole = run_patched_train(*args, f"hydra.sweep.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    sweep = tmp_path / "killed"
    killed = start_patched_train(*args, f"hydra.sweep.dir={sweep}")
    _wait_then_signal(killed, lambda: len(list(sweep.glob("*/metrics.json"))) >= 1, signal.SIGKILL)
    killed.wait(timeout=60)
    done = list(sweep.glob("*/metrics.json"))
    assert 1 <= len(done) < 3
    before = {p: p.stat().st_mtime_ns for p in done}

    again = run_patched_train(*args, f"hydra.sweep.dir={sweep}")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr, again.stderr
    assert {p: p.stat().st_mtime_ns for p in done} == before  # completed jobs skipped
    jobs = sorted(p.name for p in (tmp_path / "whole").iterdir() if p.is_dir() and p.name[0] != ".")
    assert jobs == sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name[0] != ".")
    for job in jobs:
        a, b = _outcome(tmp_path / "whole" / job), _outcome(sweep / job)
        assert a == b, job


#: Run first in rank 0 of a DDP run: SIGTERM this process as validation ends at epoch
#: SIGNAL_EPOCH, just before the epoch's metrics are gathered from every rank, so that the
#: other rank waits in that gather when the signal's handler runs (Lightning's handler
#: broadcast from there, and the two ranks waited on each other for good).
SIGNAL_BEFORE_METRIC_GATHER = """
import signal
from lossbench.module import ClassifierModule
_end = ClassifierModule.on_validation_epoch_end
def _signalling_end(self):
    trainer = self.trainer
    if trainer.current_epoch == int(os.environ['SIGNAL_EPOCH']) and not trainer.sanity_checking:
        os.kill(os.getpid(), signal.SIGTERM)
    _end(self)
ClassifierModule.on_validation_epoch_end = _signalling_end
"""


def test_a_ddp_run_stopped_by_sigterm_in_a_metric_gather_ends_and_resumes(tmp_path):
    """SIGTERM to a DDP run's first process while the other waits for it in a collective:
    the run stops (exit 143, one line for both processes, no traceback) within seconds, and
    ``ckpt_path=last`` resumes it to the uninterrupted run's record."""
    args = (*QUIET, "trainer=ddp", "trainer.devices=2", "trainer.max_epochs=8", "seed=1")
    whole = run_patched_train(*args, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    run_dir = tmp_path / "stopped"
    stopped = start_patched_train(
        *args,
        f"hydra.run.dir={run_dir}",
        patch=SIGNAL_BEFORE_METRIC_GATHER,
        extra_env={"SIGNAL_EPOCH": "3"},
    )
    try:
        err = stopped.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        stopped.kill()
        pytest.fail("the DDP run did not stop within 120 s of its SIGTERM (the ranks deadlocked)")
    assert stopped.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM)."), err
    assert err.count("lossbench: terminated") == 1, err  # the first process speaks for all
    assert "Traceback" not in err, err
    assert not (run_dir / "metrics.json").exists()

    resumed = run_patched_train(*args, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr
    a, b = _record(run_dir), _record(tmp_path / "whole")
    keys = [k for k in b if k.startswith(("val/", "test/"))] + ["epochs", "steps", "best_epoch"]
    assert keys and {k: a[k] for k in keys} == {k: b[k] for k in keys}


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines (Linux's /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().split()[3]) == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # ended meanwhile
            continue
    return {k: v.decode(errors="replace") for k, v in found.items()}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_parallel_sweep_killed_ends_its_workers(tmp_path):
    """``hydra/launcher=parallel`` (joblib workers) SIGKILLed while its jobs train: the workers
    end with it (they trained on and wrote every record 10-20 s later); the same command run
    again trains every job."""
    args = ("-m", *QUIET, "hydra/launcher=parallel", "seed=0,1", "trainer.max_epochs=60")
    sweep = tmp_path / "killed"
    killed = start_patched_train(*args, f"hydra.sweep.dir={sweep}")
    workers: set[int] = set()

    def training() -> bool:  # the workers, listed while they are the launcher's children
        workers.update(pid for pid, cmd in _children(killed.pid).items() if "loky" in cmd)
        return any(sweep.glob("*/checkpoints/last.ckpt"))

    _wait_then_signal(killed, training, signal.SIGKILL)
    killed.wait(timeout=60)
    assert workers
    deadline = time.monotonic() + 10
    while workers & set(map(int, filter(str.isdigit, os.listdir("/proc")))):
        assert time.monotonic() < deadline, f"workers {workers} still run after their launcher"
        time.sleep(0.1)
    time.sleep(1)
    assert not list(sweep.glob("*/metrics.json"))

    again = run_patched_train(*args, f"hydra.sweep.dir={sweep}")
    assert again.returncode == 0, again.stderr
    records = [_record(path.parent) for path in sweep.glob("*/metrics.json")]
    assert len(records) == 2 and all(r["status"] == "completed" for r in records)
