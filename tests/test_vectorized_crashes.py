"""A worker process of ``hydra/launcher=vectorized`` that dies from inside, on its job's own code:
an exit status without a signal (``os._exit(3)``), or a signal it raises on itself as a crashing
native library does (SIGSEGV, SIGABRT). The study stops in one line that says how the worker
ended and what to do, without the out-of-memory advice that a SIGKILL gets; the jobs in progress
are recorded as failed, saying so; the progress line counts them; and the same command, once
the job no longer dies, trains them and skips the job that completed.

The death comes from a callback of the user's (``+callbacks.die``), in a module written to the
test's folder and importable through ``PYTHONPATH``, as a user's own callback is."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from cli_process import SRC, run_module
from lossbench.worker_deaths import WORKER_DIED_EXIT
from stop_signals import posix

#: The user's callback: with ``LOSSBENCH_TEST_DEATH`` set, the job of seed 2 says it trains and
#: waits (to be killed with the study); the job of seed 1 waits for it, then dies as told: an
#: exit status (``exit``) or a signal raised on itself (its name).
CALLBACK = textwrap.dedent(
    '''
    """A callback whose job dies at the end of its first epoch (a test's)."""

    import os
    import signal
    import time
    from pathlib import Path

    from lightning.pytorch.callbacks import Callback


    class Die(Callback):
        def __init__(self, seed: int) -> None:
            self.seed = seed

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            how = os.environ.get("LOSSBENCH_TEST_DEATH")
            if not how:
                return
            training = Path(os.environ["LOSSBENCH_TEST_DIR"], "training-2")
            if self.seed == 2:
                training.touch()
                time.sleep(120)
            if self.seed == 1:
                deadline = time.monotonic() + 60
                while not training.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                if how == "exit":
                    os._exit(3)
                os.kill(os.getpid(), getattr(signal, how))
    '''
)

#: Three one-job tasks in two worker processes: job 0 completes, then job 2 begins in its
#: worker while job 1 dies in the other.
SWEEP = (
    "-m",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=2",
    "hydra.launcher.max_group_size=1",
    "data=iris",
    "seed=0,1,2",
    "trainer.max_epochs=2",
    "+callbacks.die._target_=user_death.Die",
    "+callbacks.die.seed=${seed}",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=${hydra.job.num}",
)

#: Each death from inside a worker: how the line and the records say it ended, and its cause.
DEATHS = {
    "exit": (
        "ended with exit status 3",
        " (the code it ran ended the process: os._exit() or a library that exits)",
    ),
    "SIGSEGV": ("was killed by signal SIGSEGV", " (a crash, in native code most often)"),
    "SIGABRT": ("was killed by signal SIGABRT", " (a crash, in native code most often)"),
}


def _record(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


def _last_progress_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("study: ")]
    assert lines, stderr[-3000:]
    return lines[-1]


@posix
@pytest.mark.slow  # about 20 s each: a sweep's process with two workers, then the sweep again
@pytest.mark.parametrize("death", list(DEATHS))
def test_a_worker_that_dies_on_its_own_code_stops_the_study_and_a_rerun_trains_the_rest(
    tmp_path, death
):
    """A worker that ended with an exit status, or on SIGSEGV or SIGABRT that it raised
    itself, stops the study as a killed one does, in one line naming how it ended; its
    advice is not the out-of-memory one (memory does not end a process so)."""
    (tmp_path / "user_death.py").write_text(CALLBACK, encoding="utf-8")
    env = {
        "PYTHONPATH": f"{SRC}{os.pathsep}{tmp_path}",
        "OMP_NUM_THREADS": "1",
        "LOSSBENCH_TEST_DIR": str(tmp_path),
    }
    stopped = run_module(
        "lossbench.train", *SWEEP, cwd=tmp_path, extra_env={**env, "LOSSBENCH_TEST_DEATH": death}
    )
    how, cause = DEATHS[death]
    runs = tmp_path / "sweep"
    assert stopped.returncode == WORKER_DIED_EXIT, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"lossbench: failed: a worker process of the vectorized launcher {how}{cause} while it "
        f"trained job 1 ({runs / '1'}); the study stopped and its other worker processes were "
        "killed. "
    ), last
    assert "each job in progress was recorded as failed" in last, last
    assert last.endswith(
        "The worker's output above may say why (a crash's stack, a library's message); a job "
        "that dies each time stops the study each time: leave it out of the sweep until its "
        "cause is fixed."
    ), last
    assert "memory" not in last, last

    assert _record(runs / "0")["status"] == "completed"
    died, other = _record(runs / "1"), _record(runs / "2")
    for record in (died, other):
        assert (record["status"], record["refused"]) == ("failed", False)
        assert record["environment"]["lossbench"]  # a failed run's record, whole
    found = re.fullmatch(
        rf"worker process (\d+) {how} while training this job, and the study stopped",
        died["error"],
    )
    assert found, died["error"]
    assert other["error"] == (
        f"stopped: another worker process ({found[1]}) {how}, and the study stopped"
    )
    assert _last_progress_line(stopped.stderr).startswith("study: 3/3 jobs ended, 2 failed"), (
        stopped.stderr[-3000:]
    )

    completed = (runs / "0" / "metrics.json").stat().st_mtime_ns
    again = run_module("lossbench.train", *SWEEP, cwd=tmp_path, extra_env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "study: 3/3 jobs ended (2 completed, 1 skipped, 0 refused, 0 failed)" in again.stderr, (
        again.stderr[-3000:]
    )
    for job in "12":  # trained again, whole
        assert (_record(runs / job)["status"], _record(runs / job)["epochs"]) == ("completed", 2)
    assert (runs / "0" / "metrics.json").stat().st_mtime_ns == completed
