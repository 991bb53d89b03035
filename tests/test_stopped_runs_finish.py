"""Real ``lossbench-train`` processes killed (SIGKILL) or stopped (SIGTERM, Ctrl-C) where a run
has ended (trained every epoch, or ended by ``trainer.max_steps``, a time limit or early
stopping), or where the command is not training at all, and the documented way on.

Each signal is placed from inside the process at an exact step (code run before the command,
``LOSSBENCH_TEST_PATCH``), so the tests do not depend on the machine's speed:

- after the last epoch, in the final evaluation or while ``metrics.json`` is written: the run's
  ``ckpt_path=last`` finishes it, with the record and logs the uninterrupted run writes, however
  the run had ended;
- while the command line is checked, before Hydra runs the job, and as the process exits:
  SIGTERM ends the command as Ctrl-C does (exit 143, one line, no traceback), at any moment.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from cli_process import run_patched_train
from lossbench.checkpoint import load_checkpoint
from lossbench.interrupts import INTERRUPTED_EXIT, TERMINATED_EXIT
from stop_signals import posix

pytestmark = [pytest.mark.slow, posix]  # each runs lossbench-train in a process, 5-15 s

QUIET = (
    "data=digits",
    "trainer.max_epochs=10",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)


def _run(*args: str, patch: str = "") -> subprocess.CompletedProcess[str]:
    """``lossbench-train ARGS`` after ``patch``, Ctrl-C as a terminal delivers it."""
    return run_patched_train(*args, patch=patch, ctrl_c=True)


def _outcome(run_dir: Path) -> dict:
    """What the run records and logs, less what differs between any two runs (times, paths)."""
    record = json.loads((run_dir / "metrics.json").read_text())
    keys = sorted(k for k in record if k.startswith(("val/", "test/")))
    assert keys
    kept = ["epochs", "steps", "best_epoch", "history", "status", "stopped_by"]
    return {
        **{k: record[k] for k in [*keys, *kept]},
        "best_checkpoint": Path(record["best_checkpoint"]).name,
        "checkpoints": sorted(p.name for p in (run_dir / "checkpoints").iterdir()),
        "files": sorted(p.name for p in run_dir.iterdir() if p.name != ".hydra"),
        "metrics.csv": (run_dir / "logs" / "metrics.csv").read_text().splitlines(),
    }


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> dict:
    """The uninterrupted run's outcome."""
    run_dir = tmp_path_factory.mktemp("whole") / "run"
    done = _run(*QUIET, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr
    return _outcome(run_dir)


#: Code run first in the command's process: a signal (SIGNAL) to itself at one step after the
#: last epoch. ``record``: where metrics.json would be written; ``rename``: once metrics.json.tmp
#: is written, before it replaces metrics.json; ``evaluation``: in the final evaluation of the
#: best checkpoint.
AFTER_THE_LAST_EPOCH = {
    "record": """
import signal, time
import lossbench.distributed, lossbench.record
def _signalling_write(run_dir, record):
    os.kill(os.getpid(), int(os.environ['SIGNAL']))
    time.sleep(5)
lossbench.record.write_record = lossbench.distributed.write_record = _signalling_write
""",
    "rename": """
import signal, time
from pathlib import Path
_replace = Path.replace
def _signalling_replace(self, target):
    if self.name == 'metrics.json.tmp':
        os.kill(os.getpid(), int(os.environ['SIGNAL']))
        time.sleep(5)
    return _replace(self, target)
Path.replace = _signalling_replace
""",
    "evaluation": """
import signal, time
from lossbench.module import ClassifierModule
_evaluate = ClassifierModule.evaluate_split
def _signalling_evaluate(self, *args, **kwargs):
    os.kill(os.getpid(), int(os.environ['SIGNAL']))
    time.sleep(5)
    return _evaluate(self, *args, **kwargs)
ClassifierModule.evaluate_split = _signalling_evaluate
""",
}


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
@pytest.mark.parametrize("where", list(AFTER_THE_LAST_EPOCH))
def test_a_run_stopped_after_its_last_epoch_is_finished_by_ckpt_path_last(
    tmp_path, whole, where, signum
):
    """A run stopped after its last epoch and before its record: the same command refuses to
    train over it and says to add ``ckpt_path=last``, which trains nothing more and finishes
    the run with the uninterrupted run's record and logs (no leftover metrics.json.tmp)."""
    run_dir = tmp_path / "run"
    patch = AFTER_THE_LAST_EPOCH[where].replace("os.environ['SIGNAL']", str(int(signum)))
    stopped = _run(*QUIET, f"hydra.run.dir={run_dir}", patch=patch)
    if signum == signal.SIGKILL:
        assert stopped.returncode == -signal.SIGKILL, stopped.stderr
    else:  # the command's own end, not death by the signal
        assert stopped.returncode == TERMINATED_EXIT, stopped.stderr
        assert (
            stopped.stderr.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM). ")
        )
        assert "Traceback" not in stopped.stderr
    assert int(load_checkpoint(run_dir / "checkpoints" / "last.ckpt")["epoch"]) == 9
    assert not (run_dir / "metrics.json").exists()
    assert (run_dir / "metrics.json.tmp").exists() == (where == "rename")

    # metrics.json.tmp replaced: "files" are the same
    _finished_as_the_whole_run(QUIET, run_dir, whole, "trained all 10 epochs")


#: Code run first in a command's process: Lightning's ``Timer`` reads a clock that advances one
#: second at each reading, so that a time limit ends every run of a command at the same step.
TICKING_CLOCK = """
import itertools, types
import lightning.pytorch.callbacks.timer as _timer
_ticks = itertools.count()
_timer.time = types.SimpleNamespace(monotonic=lambda: float(next(_ticks)))
"""
#: Runs that end before trainer.max_epochs=10 (QUIET, digits: 9 optimizer steps an epoch):
#: what ends them, the code run first in their processes, where the kill lands (the moments of
#: AFTER_THE_LAST_EPOCH) and what the resume that finishes them says in train.log.
ENDED_BEFORE_MAX_EPOCHS = {
    "max_steps-at-an-epoch-end": (
        ("trainer.max_steps=27",),
        "",
        "evaluation",
        "the checkpoint's run trained all 27 optimizer steps",
    ),
    "max_steps-within-an-epoch": (
        ("trainer.max_steps=22",),
        "",
        "record",
        "the checkpoint's run trained all 22 optimizer steps",
    ),
    "max_time-within-an-epoch": (
        ("runner=lightning", "trainer.max_time=00:00:00:25"),
        TICKING_CLOCK,
        "evaluation",
        "the checkpoint's run used up its training time (trainer.max_time=00:00:00:25)",
    ),
    "timer-callback": (
        (
            "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
            "+callbacks.timer.duration=00:00:00:20",
            "+callbacks.timer.interval=epoch",
        ),
        TICKING_CLOCK,
        "rename",
        "used up its training time (callbacks.timer.duration=00:00:00:20)",
    ),
    "early_stopping": (
        ("early_stopping.enabled=true", "early_stopping.patience=1", "optimizer.lr=0.3"),
        "",
        "evaluation",
        "the checkpoint's run was stopped by early stopping",
    ),
    "early_stopping-written-at_end": (  # as the fair protocol's studies write them
        (
            "early_stopping.enabled=true",
            "early_stopping.patience=1",
            "optimizer.lr=0.3",
            "checkpoint.write=at_end",
        ),
        "",
        "record",
        "the checkpoint's run was stopped by early stopping",
    ),
}


@pytest.mark.parametrize("case", list(ENDED_BEFORE_MAX_EPOCHS))
def test_a_run_ended_before_max_epochs_and_stopped_before_its_record_is_finished(tmp_path, case):
    """A run that ``trainer.max_steps``, a time limit (``trainer.max_time``, a ``Timer``
    callback) or early stopping ended before ``trainer.max_epochs``, killed in its final
    evaluation or while its record was written: ``ckpt_path=last`` trains nothing more and
    finishes it with the uninterrupted run's record and logs. It used to be refused ("leaves
    none to train", or "saved within epoch" where the cap ended the run within an epoch)."""
    overrides, clock, where, said = ENDED_BEFORE_MAX_EPOCHS[case]
    args = (*QUIET, *overrides)
    whole_dir, run_dir = tmp_path / "whole", tmp_path / "run"
    done = _run(*args, f"hydra.run.dir={whole_dir}", patch=clock)
    assert done.returncode == 0, done.stderr
    whole = _outcome(whole_dir)
    assert whole["status"] == "completed" and whole["epochs"] < 10  # ended before the cap
    expected_stop = "early_stopping" if case.startswith("early_stopping") else "budget"
    assert whole["stopped_by"] == expected_stop
    if case.startswith("max_steps"):
        assert whole["steps"] == int(overrides[0].split("=")[1])

    kill = AFTER_THE_LAST_EPOCH[where].replace("os.environ['SIGNAL']", str(int(signal.SIGKILL)))
    stopped = _run(*args, f"hydra.run.dir={run_dir}", patch=clock + kill)
    assert stopped.returncode == -signal.SIGKILL, stopped.stderr
    assert not (run_dir / "metrics.json").exists()
    last = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert int(last["global_step"]) == whole["steps"]

    _finished_as_the_whole_run(args, run_dir, whole, said)


def _finished_as_the_whole_run(args, run_dir: Path, whole: dict, said: str) -> None:
    """The run in ``run_dir``, stopped after it ended and before its record: the same command
    is refused with the advice to add ``ckpt_path=last``, which then finishes it as the whole
    run (epochs, steps, best epoch, metrics, CSV rows, files), saying ``said`` in its log."""
    again = _run(*args, f"hydra.run.dir={run_dir}")
    assert again.returncode == 2
    assert "add ckpt_path=last to the same command" in again.stderr

    finished = _run(*args, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    assert _outcome(run_dir) == whole
    assert said in (run_dir / "train.log").read_text()


def test_a_completed_run_still_leaves_none_to_train(tmp_path):
    """Where the run's directory holds its record, a resume that the cap leaves nothing to
    train is still refused, and so is the last.ckpt of another directory's run."""
    run_dir = tmp_path / "run"
    done = _run(*QUIET, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr
    elsewhere = _run(
        *QUIET, f"hydra.run.dir={tmp_path / 'other'}", f"ckpt_path={run_dir}/checkpoints/last.ckpt"
    )
    assert elsewhere.returncode == 2
    assert "trainer.max_epochs=10 leaves none to train" in elsewhere.stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(json.dumps({**record, "status": "failed"}))
    failed = _run(*QUIET, f"hydra.run.dir={run_dir}", "ckpt_path=last")
    assert failed.returncode == 2
    assert "trainer.max_epochs=10 leaves none to train" in failed.stderr


#: Code run first in the command's process: SIGTERM to itself at one moment where it is not
#: training. ``checks``: while lossbench-train checks its command line, before Hydra runs;
#: ``composing``: while Hydra composes the config; ``preflight``: in the checks of the run
#: before its directory is made.
OUTSIDE_THE_FIT = {
    "checks": """
import signal, time
import lossbench.train as _train
_register = _train.register_configs
def _signalling_register():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
    return _register()
_train.register_configs = _signalling_register
""",
    "preflight": """
import signal, time
import lossbench.train as _train
_validate = _train.validate
def _signalling_validate(cfg):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
    return _validate(cfg)
_train.validate = _signalling_validate
""",
}


@pytest.mark.parametrize("moment", list(OUTSIDE_THE_FIT))
def test_sigterm_outside_the_fit_ends_the_command_in_one_line(tmp_path, moment):
    """SIGTERM while lossbench-train checks its command line or its run, before anything is
    trained, ends it as Ctrl-C does: exit 143, one line, no traceback, no record."""
    run_dir = tmp_path / "run"
    stopped = _run(*QUIET, f"hydra.run.dir={run_dir}", patch=OUTSIDE_THE_FIT[moment])
    assert stopped.returncode == TERMINATED_EXIT, (stopped.returncode, stopped.stderr)
    assert stopped.stderr.strip().splitlines()[-1].startswith("lossbench: terminated (SIGTERM). ")
    assert "Traceback" not in stopped.stderr
    assert not (run_dir / "metrics.json").exists()


#: Code run first in the command's process: a signal (SIGNAL) to itself once the command's
#: work has ended (its record written), as its process exits.
AS_IT_EXITS = """
import signal, time, contextlib
import lossbench.commands
_quietly = lossbench.commands.output_closed_ends_quietly
@contextlib.contextmanager
def _signalling_quietly():
    with _quietly():
        yield
    os.kill(os.getpid(), int(os.environ['SIGNAL']))
    time.sleep(5)
lossbench.commands.output_closed_ends_quietly = _signalling_quietly
"""


@pytest.mark.parametrize(
    ("signum", "status", "what"),
    [
        (signal.SIGINT, INTERRUPTED_EXIT, "interrupted (Ctrl-C)"),
        (signal.SIGTERM, TERMINATED_EXIT, "terminated (SIGTERM)"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_as_the_command_exits_ends_it_in_one_line(tmp_path, signum, status, what):
    """Ctrl-C or SIGTERM after the run's record is written, as the process exits: one line,
    exit status 130 or 143, no traceback, and the record as written."""
    run_dir = tmp_path / "run"
    patch = AS_IT_EXITS.replace("os.environ['SIGNAL']", str(int(signum)))
    stopped = _run(*QUIET, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}", patch=patch)
    assert stopped.returncode == status, (stopped.returncode, stopped.stderr)
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"lossbench: {what}. It stopped as it was exiting, after its work had ended: what it "
        "wrote is complete."
    )
    assert "Traceback" not in stopped.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"
