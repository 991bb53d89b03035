"""A run resumed from an earlier epoch of its own, into its own folder: the later timeline's
``checkpoints/last.ckpt`` is set aside before the resumed run trains, so that a kill before the
resumed run's first epoch ends cannot leave ``ckpt_path=last`` pointing at the old timeline; and
the epoch of each checkpoint is read without reading its tensors."""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from cli_process import run_patched_train, run_script
from lossbench.checkpoint import load_checkpoint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

QUIET = (
    "data=iris",
    "logger=none",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "trainer.accelerator=cpu",
)

#: Run first in the child: SIGKILL this process as training starts, after the resume's
#: checkpoint is restored and before the first epoch ends (no last.ckpt of the new timeline).
KILL_AT_TRAIN_START = """
import signal
from lossbench.callbacks import BestAndLastCheckpoint
def _killing_start(self, trainer, module):
    os.kill(os.getpid(), signal.SIGKILL)
BestAndLastCheckpoint.on_train_start = _killing_start
"""


def _train(run: Path, *args: str, patch: str = ""):
    return run_patched_train(*QUIET, f"hydra.run.dir={run}", *args, patch=patch)


def _stopped(run: Path, *args: str) -> None:
    """Train the run in ``run`` (``args``), then take its record away: a run killed after its
    last checkpoint was written, which ``ckpt_path`` resumes (a completed run is not)."""
    done = _train(run, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    (run / "metrics.json").unlink()


def _kept_epoch_one(run: Path) -> Path:
    """Train the run in ``run`` to epoch 1 (stopped: no record) and keep a copy of its
    last.ckpt inside the run, ``kept/epoch1.ckpt``; the copy's path."""
    _stopped(run, "trainer.max_epochs=2")
    kept = run / "kept" / "epoch1.ckpt"
    kept.parent.mkdir()
    shutil.copy(run / "checkpoints" / "last.ckpt", kept)
    return kept


def test_a_run_resumed_from_an_earlier_epoch_sets_its_later_last_checkpoint_aside(tmp_path):
    """A run that reached epoch 4, resumed from a kept copy of its epoch-1 checkpoint inside its
    folder and killed before its first epoch ended: its epoch-4 last.ckpt is in
    checkpoints-earlier/, byte for byte, and ckpt_path=last refuses (exit 2, no traceback)
    instead of continuing the epoch-4 timeline; resumed from the copy again, the run trains the
    new timeline and ckpt_path=last then continues it."""
    run = tmp_path / "run"
    kept = _kept_epoch_one(run)
    _stopped(run, "trainer.max_epochs=5", "ckpt_path=last")
    later = (run / "checkpoints" / "last.ckpt").read_bytes()
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 4

    killed = _train(run, "trainer.max_epochs=5", f"ckpt_path='{kept}'", patch=KILL_AT_TRAIN_START)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not (run / "checkpoints" / "last.ckpt").exists()
    assert (run / "checkpoints-earlier" / "last.ckpt").read_bytes() == later
    refused = _train(run, "trainer.max_epochs=5", "ckpt_path=last")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "ckpt_path=last: there is no" in refused.stderr
    assert "Traceback" not in refused.stderr

    _stopped(run, "trainer.max_epochs=3", f"ckpt_path='{kept}'")
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 2
    assert (run / "checkpoints-earlier" / "last.ckpt").read_bytes() == later  # still kept
    again = _train(run, "trainer.max_epochs=4", "ckpt_path=last")
    assert again.returncode == 0, again.stderr[-3000:]
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 3


class Round(NamedTuple):
    """One of :func:`_set_aside_twice`'s two rounds."""

    #: The files in ``checkpoints/`` once the run trained on to epoch 2, by name.
    written: dict[str, bytes]
    #: The files left in ``checkpoints/`` once the resume from epoch 1 was killed.
    left: set[str]
    #: What the killed resume wrote (stdout, then stderr).
    said: str


def _set_aside_twice(run: Path) -> list[Round]:
    """Train the run in ``run`` to epoch 1 and keep a copy of its last.ckpt
    (:func:`_kept_epoch_one`); then, twice: train on from it to epoch 2 (its last.ckpt and
    best-epoch002.ckpt), resume from the epoch-1 copy, killed as training starts (once the
    epoch-2 files were set aside), and put the copy back as last.ckpt. What each round wrote
    and left."""
    kept = _kept_epoch_one(run)
    rounds = []
    for _ in range(2):
        _stopped(run, "trainer.max_epochs=3", "ckpt_path=last")
        written = {path.name: path.read_bytes() for path in (run / "checkpoints").iterdir()}
        killed = _train(
            run, "trainer.max_epochs=3", f"ckpt_path='{kept}'", patch=KILL_AT_TRAIN_START
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        left = {path.name for path in (run / "checkpoints").iterdir()}
        rounds.append(Round(written, left, killed.stdout + killed.stderr))
        shutil.copy(kept, run / "checkpoints" / "last.ckpt")  # back to epoch 1's
    return rounds


def test_a_later_last_checkpoint_set_aside_twice_keeps_both(tmp_path):
    """Resumed from its epoch-1 copy twice, each time after training on to epoch 2: both
    later last.ckpt files are kept in checkpoints-earlier/ (the second as last-v1.ckpt)."""
    run = tmp_path / "run"
    rounds = _set_aside_twice(run)
    aside = run / "checkpoints-earlier"
    written = [r.written["last.ckpt"] for r in rounds]
    assert [(aside / n).read_bytes() for n in ("last.ckpt", "last-v1.ckpt")] == written


def test_a_later_best_checkpoint_set_aside_twice_keeps_both_and_the_log_names_where_it_went(
    tmp_path,
):
    """Resumed from its epoch-1 copy twice, each time after training on to a best epoch 2: both
    best-epoch002.ckpt files are kept in checkpoints-earlier/ (the second as
    best-epoch002-v1.ckpt, not written over the first), and the log line of each move names the
    file's new name, as the second last.ckpt's does (last-v1.ckpt)."""
    run = tmp_path / "run"
    rounds = _set_aside_twice(run)
    assert all("best-epoch002.ckpt" not in r.left for r in rounds)
    written = [r.written["best-epoch002.ckpt"] for r in rounds]
    said = rounds[-1].said
    aside = run / "checkpoints-earlier"
    names = ("best-epoch002.ckpt", "best-epoch002-v1.ckpt")
    assert [(aside / name).read_bytes() for name in names] == written
    for name, moved in (("best-epoch002.ckpt", names[1]), ("last.ckpt", "last-v1.ckpt")):
        line = (
            f"{run / 'checkpoints' / name} holds an epoch after the one resumed (1), written "
            f"before the run stopped: moved to {aside / moved}"
        )
        assert line in said, said[-3000:]


def test_the_stored_epoch_is_read_without_reading_the_tensors(tmp_path):
    """stored_epoch gives each real checkpoint's epoch as a full load does; for a checkpoint
    with a 256 MiB tensor the process's peak memory grows by far less than the tensor (it is
    mapped, not read)."""
    from lossbench.later_checkpoints import stored_epoch

    run = tmp_path / "run"
    assert _train(run, "trainer.max_epochs=2").returncode == 0
    files = sorted((run / "checkpoints").glob("*.ckpt"))
    assert files
    for file in files:
        assert stored_epoch(file) == load_checkpoint(file)["epoch"]
    assert stored_epoch(tmp_path / "missing.ckpt") is None
    big = tmp_path / "big.ckpt"
    made = run_script(WRITE_BIG, str(files[0]), str(big))
    assert made.returncode == 0, made.stderr[-3000:]
    done = run_script(READ_EPOCH, str(big))  # a new process: its peak is not the writer's
    assert done.returncode == 0, done.stderr[-3000:]
    epoch, grown_kib = (int(v) for v in done.stdout.split())
    assert epoch == load_checkpoint(files[0])["epoch"]
    assert grown_kib < 64 * 2**10, f"peak memory grew by {grown_kib} KiB"  # < 64 MiB


def test_a_resume_check_reads_a_checkpoint_without_reading_its_tensors(tmp_path):
    """saved_within_epoch and epoch_end_checkpoint, which read a checkpoint's counters, give
    for a real checkpoint with a 256 MiB tensor what they give for it without, and the
    process's peak memory grows by far less than the tensor (it is mapped, not read)."""
    run = tmp_path / "run"
    assert _train(run, "trainer.max_epochs=2").returncode == 0
    last = run / "checkpoints" / "last.ckpt"
    big = tmp_path / "big" / "big.ckpt"
    big.parent.mkdir()
    made = run_script(WRITE_BIG, str(last), str(big))
    assert made.returncode == 0, made.stderr[-3000:]
    steps = load_checkpoint(last)["global_step"]
    for reader in ("saved_within_epoch(path)", "epoch_end_checkpoint(path.parent)"):
        done = run_script(READ_COUNTERS, reader, str(big))
        assert done.returncode == 0, done.stderr[-3000:]
        found, grown_kib = done.stdout.rsplit(maxsplit=1)
        assert found == ("None" if reader.startswith("saved") else repr((big, steps)))
        assert int(grown_kib) < 64 * 2**10, f"{reader}: peak memory grew by {grown_kib} KiB"


#: A real checkpoint (argv[1]) with a 256 MiB tensor more, saved as argv[2].
WRITE_BIG = """
import sys, torch
from lossbench.checkpoint import load_checkpoint
checkpoint = load_checkpoint(sys.argv[1])
checkpoint["state_dict"]["big"] = torch.ones(64 * 2**20)
torch.save(checkpoint, sys.argv[2])
"""

#: The epoch of argv[1] and how much the process's peak memory grew reading it, in KiB.
READ_EPOCH = """
import resource, sys, torch
from lossbench.later_checkpoints import stored_epoch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
epoch = stored_epoch(sys.argv[1])
print(epoch, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""

#: What the expression argv[1] gives for the checkpoint ``path`` (argv[2]), and how much the
#: process's peak memory grew reading it (Lightning, which the readers import, imported first),
#: in KiB.
READ_COUNTERS = """
import resource, sys, torch
from pathlib import Path
import lossbench.lightning_internals  # imported by the readers: not counted
from lossbench.checkpoint import epoch_end_checkpoint, saved_within_epoch
path = Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
found = eval(sys.argv[1])
print(repr(found), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
