"""Checkpoint files written by a background thread: the state of the moment asked, in the order
asked, atomically, with errors raised in the training thread; and who gets the writer."""

from __future__ import annotations

import sys
import threading

import lightning as L
import pytest
import torch
from lightning.fabric.plugins.io import TorchCheckpointIO

from cli_process import run_script
from lossbench import checkpoint_io
from lossbench.checkpoint import load_checkpoint
from lossbench.checkpoint_io import BackgroundCheckpointIO, copy_checkpoint, write_in_background
from lossbench.training import build_run_trainer


def _trainer(**kwargs) -> L.Trainer:
    return L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, **kwargs)


def test_the_file_holds_the_state_of_the_moment_it_was_asked_for(tmp_path):
    io = BackgroundCheckpointIO()
    weights = torch.zeros(3)
    io.save_checkpoint({"w": weights, "epoch": 1}, tmp_path / "a.ckpt")
    weights.add_(1)  # training moves on before the worker writes
    io.teardown()
    saved = load_checkpoint(tmp_path / "a.ckpt")
    assert saved["epoch"] == 1 and saved["w"].tolist() == [0.0, 0.0, 0.0]


def test_the_worker_serialises_the_state_asked_for_whatever_training_changes_next(
    tmp_path, monkeypatch
):
    serialize, release = checkpoint_io._serialize_and_replace, threading.Event()

    def held(path, checkpoint):  # the worker serialises only after training has moved on
        release.wait(timeout=30)
        serialize(path, checkpoint)

    monkeypatch.setattr(checkpoint_io, "_serialize_and_replace", held)
    io = BackgroundCheckpointIO()
    weights, exp_avg = torch.zeros(3), torch.ones(3)
    group = {"lr": 0.1, "params": [0]}
    checkpoint = {
        "state_dict": {"w": weights},
        "optimizer_states": [{"state": {0: {"exp_avg": exp_avg}}, "param_groups": [group]}],
        "history": [0.5],
    }
    io.save_checkpoint(checkpoint, tmp_path / "last.ckpt")
    # the next optimizer step and epoch: in-place updates of tensors, dicts and lists
    weights.add_(1)
    exp_avg.mul_(0.9)
    group["lr"] = 0.05
    checkpoint["history"].append(0.4)
    release.set()
    io.teardown()
    saved = load_checkpoint(tmp_path / "last.ckpt")
    assert saved["state_dict"]["w"].tolist() == [0.0, 0.0, 0.0]
    optimizer = saved["optimizer_states"][0]
    assert optimizer["state"][0]["exp_avg"].tolist() == [1.0, 1.0, 1.0]
    assert optimizer["param_groups"] == [{"lr": 0.1, "params": [0]}]
    assert saved["history"] == [0.5]


def test_writes_copies_and_removals_run_in_the_order_asked(tmp_path):
    io = BackgroundCheckpointIO()
    best, last, older = tmp_path / "best-epoch001.ckpt", tmp_path / "last.ckpt", tmp_path / "old"
    older.write_bytes(b"an earlier best")
    for epoch in range(5):  # each epoch: a new best, the old one removed, last.ckpt its copy
        io.save_checkpoint({"epoch": epoch}, best)
        io.remove_checkpoint(older)
        copy_checkpoint(io, str(best), str(last))
    assert io.load_checkpoint(last)["epoch"] == 4  # a read waits for the pending writes
    io.teardown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-epoch001.ckpt", "last.ckpt"]
    assert last.read_bytes() == best.read_bytes()


def test_the_worker_shortens_the_thread_switch_interval_only_while_it_writes(tmp_path, monkeypatch):
    """While the worker serialises (holding the GIL), the training thread waits at most
    WORKER_SWITCH_INTERVAL for it, not Python's 5 ms; afterwards the interval is as before."""
    import sys

    seen: list[float] = []
    real = checkpoint_io._serialize_and_replace

    def serialize(path, checkpoint):
        seen.append(sys.getswitchinterval())
        real(path, checkpoint)

    monkeypatch.setattr(checkpoint_io, "_serialize_and_replace", serialize)
    before = sys.getswitchinterval()
    io = BackgroundCheckpointIO()
    io.save_checkpoint({"epoch": 0}, tmp_path / "last.ckpt")
    io.wait()
    assert seen == [pytest.approx(checkpoint_io.WORKER_SWITCH_INTERVAL)] and seen[0] < before
    assert sys.getswitchinterval() == before
    io.teardown()
    assert load_checkpoint(tmp_path / "last.ckpt")["epoch"] == 0


def test_overlapping_writers_restore_the_interval_of_before_the_first(tmp_path, monkeypatch):
    """Two trainers' workers writing at once: the second found the first's short interval
    and, ending last, left it for good (each restored what it found)."""

    started, release = threading.Barrier(2), threading.Event()
    real = checkpoint_io._serialize_and_replace

    def serialize(path, checkpoint):
        started.wait(timeout=10)  # both workers inside a write at once
        release.wait(timeout=10)
        real(path, checkpoint)

    monkeypatch.setattr(checkpoint_io, "_serialize_and_replace", serialize)
    before = sys.getswitchinterval()
    first, second = BackgroundCheckpointIO(), BackgroundCheckpointIO()
    first.save_checkpoint({"epoch": 0}, tmp_path / "a.ckpt")
    second.save_checkpoint({"epoch": 1}, tmp_path / "b.ckpt")
    release.set()
    first.teardown()
    second.teardown()
    assert sys.getswitchinterval() == before


def test_a_failed_write_is_raised_in_the_training_thread(tmp_path):
    io = BackgroundCheckpointIO()
    (tmp_path / "not_a_dir").write_text("a file where the checkpoint folder should be")
    io.save_checkpoint({"epoch": 0}, tmp_path / "not_a_dir" / "last.ckpt")
    with pytest.raises(OSError):
        io.teardown()
    io.save_checkpoint({"epoch": 1}, tmp_path / "ok.ckpt")  # the error was raised once
    io.teardown()
    assert load_checkpoint(tmp_path / "ok.ckpt")["epoch"] == 1


def test_without_a_background_writer_the_copy_is_made_at_once(tmp_path):
    (tmp_path / "best.ckpt").write_bytes(b"checkpoint bytes")
    copy_checkpoint(TorchCheckpointIO(), str(tmp_path / "best.ckpt"), str(tmp_path / "last.ckpt"))
    assert (tmp_path / "last.ckpt").read_bytes() == b"checkpoint bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]


def test_a_single_process_run_writes_in_the_background(make_cfg, tmp_path):
    trainer = build_run_trainer(make_cfg("data=iris"), tmp_path, interactive=False)
    assert isinstance(trainer.strategy.checkpoint_io, BackgroundCheckpointIO)


class _UsersIO(TorchCheckpointIO):
    """A checkpoint IO of the user's own (trainer.plugins)."""


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"plugins": [_UsersIO()]}, id="users-checkpoint-io"),
        pytest.param(
            {"strategy": "ddp", "accelerator": "cpu", "devices": 2}, id="several-processes"
        ),
    ],
)
def test_other_checkpoint_ios_and_several_processes_are_left_alone(kwargs):
    trainer = _trainer(**kwargs)
    before = type(trainer.strategy.checkpoint_io)
    assert write_in_background(trainer) is False
    assert type(trainer.strategy.checkpoint_io) is before
    assert write_in_background(_trainer()) is True


#: Run in a process of its own (argument: a folder): a Ctrl-C delivered at each moment, one
#: after another, of a checkpoint request and a wait for it, by a profile function, where
#: CPython runs a signal's handler in the training thread: as a Python function starts, and as
#: a call of a C function has returned (a lock's acquire, say); each time, the teardown of
#: Lightning's graceful shutdown must end the worker. The requests
#: of a new writer (whose first starts the worker) and of one whose worker is idle. A teardown
#: that hangs (a ThreadPoolExecutor's lock left taken by the Ctrl-C) ends the process with
#: every thread's stack; at the end no worker may be left, and the file is whole. A request
#: and its teardown first, undisturbed: torch.save's first imports (a Ctrl-C within an import
#: can leave Python's import lock taken, and another thread's import waits for it).
CTRL_C_AT_EACH_MOMENT = """
import faulthandler, os, signal, sys, threading, torch
from pathlib import Path
from lossbench.checkpoint_io import BackgroundCheckpointIO

signal.signal(signal.SIGINT, signal.default_int_handler)
path = Path(sys.argv[1]) / "last.ckpt"
state = {"state_dict": {"w": torch.zeros(3)}, "epoch": 0}
armed, seen = [False], [0]
io = BackgroundCheckpointIO()
io.save_checkpoint(state, path)
io.teardown()

def profile(frame, event, arg):
    if armed[0] and event in ("call", "c_return"):
        seen[0] += 1
        if seen[0] == moment:
            signal.raise_signal(signal.SIGINT)

moments = 0
for started in (False, True):
    moment = 1
    while True:
        io = BackgroundCheckpointIO()
        if started:
            io.save_checkpoint(state, path)
            io.wait()
        seen[0] = 0
        sys.setprofile(profile)
        try:
            armed[0] = True
            io.save_checkpoint(state, path)
            io.wait()
            armed[0] = False
        except KeyboardInterrupt:
            armed[0] = False
        sys.setprofile(None)
        faulthandler.dump_traceback_later(30, exit=True)
        io.teardown()
        faulthandler.cancel_dump_traceback_later()
        if seen[0] < moment:
            break
        moment += 1
        moments += 1
left = [t.name for t in threading.enumerate() if t.name.startswith("lossbench-ckpt")]
print(moments, "moments; workers left:", left, flush=True)
torch.load(path, weights_only=True)
os._exit(1 if left else 0)  # a worker left waiting would hold the process's exit
"""


@pytest.mark.slow  # about 10 s: a process that imports torch, then a few hundred requests
def test_a_ctrl_c_at_any_moment_of_a_request_leaves_a_worker_the_teardown_ends(tmp_path):
    """A Ctrl-C stops the training thread wherever it is, inside a checkpoint request too:
    Lightning's graceful shutdown then tears the writer down, which waits for its worker. With
    a ThreadPoolExecutor the Ctrl-C could land just after a request took a lock the worker
    needs, before the ``with`` block that releases it began: the worker waited for it, and
    the teardown for the worker, for ever (a study stopped by Ctrl-C did not end); or just
    after it released one, which was released again (a RuntimeError in place of the Ctrl-C).
    In a process of its own, whose hang the test can end."""
    done = run_script(
        CTRL_C_AT_EACH_MOMENT, str(tmp_path), timeout=600, extra_env={"OMP_NUM_THREADS": "1"}
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert int(done.stdout.split()[0]) > 50, done.stdout  # every moment of the request was tried
