"""Resuming a vectorized member: its checkpoints hold what its run alone's hold (optimizer,
loops, callbacks), key by key, and resuming either ends with the same results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lossbench.checkpoint import load_checkpoint
from lossbench.checkpoint_format import HISTORY_KEY, RNG_KEY, TRAINING_STATE_KEYS, WEIGHTS_KEY
from lossbench.training import train
from lossbench.validation import ConfigError
from lossbench.vectorized.run import train_group

#: Two members: the second learns fast and then overfits, so that its early stopping has
#: waited (wait_count > 0) when the first fit ends, and stops soon after a resume.
MEMBERS = (("seed=0",), ("seed=1", "optimizer.lr=3e-2", "optimizer.weight_decay=0.01"))
BASE = (
    "data=breast_cancer",
    "data.batch_size=64",
    "trainer.max_epochs=3",
    "early_stopping.enabled=true",
    "early_stopping.patience=3",
)
#: (overrides, resumed in the run's own directory, the second member has waited). In its own
#: directory ModelCheckpoint restores its whole state (the same dirpath), elsewhere only
#: ``best_model_path``; either way the run alone and the member resume alike.
CASES = {
    "adam-every_epoch-in_place": (("optimizer=adam", "checkpoint.write=every_epoch"), True, True),
    "sgd_momentum-at_end-elsewhere": (("optimizer=sgd", "checkpoint.write=at_end"), False, False),
    "adamw-at_end-in_place": (("optimizer=adamw", "checkpoint.write=at_end"), True, False),
}
LONGER = "trainer.max_epochs=6"


def _trained(make_cfg, tmp_path: Path, overrides: tuple[str, ...]):
    cfgs = [make_cfg(*BASE, *overrides, *member) for member in MEMBERS]
    alone = [train(cfg, tmp_path / f"alone{i}", multirun=True) for i, cfg in enumerate(cfgs)]
    grouped = train_group(cfgs, [tmp_path / f"member{i}" for i in range(len(cfgs))])
    assert [r["status"] for r in alone + grouped] == ["completed"] * 4
    return alone, grouped


def _same_structure(
    ours: Any,
    theirs: Any,
    where: str,
    dirs: tuple[str, str],
    rtol: float = 1e-5,
    of_scale: bool = False,
) -> None:
    """``ours`` (a member's checkpoint entry) has ``theirs``'s (its run alone's) keys, types,
    shapes, dtypes and values: numbers exactly, tensors to float rounding (``rtol``; with
    ``of_scale``, also within ``rtol`` of the tensor's largest magnitude: a sum's rounding
    scales with its terms, so an entry near zero that sums huge terms differs by more than
    ``rtol`` of itself), paths with the member's directory in place of the run alone's."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert [str(k).replace(*dirs) for k in theirs] == [str(k) for k in ours], where
        for (key, value), other in zip(theirs.items(), ours.values(), strict=True):
            _same_structure(other, value, f"{where}/{key}", dirs, rtol, of_scale)
    elif isinstance(theirs, list | tuple):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same_structure(a, b, f"{where}[{i}]", dirs, rtol, of_scale)
    elif isinstance(theirs, torch.Tensor):
        assert isinstance(ours, torch.Tensor), where
        assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype), where
        finite = theirs[theirs.isfinite()] if theirs.is_floating_point() else theirs.new_zeros(0)
        scale = float(finite.abs().max()) if of_scale and finite.numel() else 0.0
        atol = max(1e-6, rtol * scale)
        torch.testing.assert_close(ours, theirs, atol=atol, rtol=rtol, equal_nan=True, msg=where)
    elif isinstance(theirs, str):
        assert ours == theirs.replace(*dirs), where
    else:
        assert type(ours) is type(theirs) and ours == theirs, where


def _checkpoint(path: Path) -> dict[str, Any]:
    checkpoint = load_checkpoint(path)
    for key in (WEIGHTS_KEY, HISTORY_KEY, RNG_KEY):  # compared by the results, not bit for bit
        checkpoint.pop(key)
    return checkpoint


def _same_checkpoints(ours: Path, theirs: Path) -> None:
    """The member's run directory ``ours`` holds the checkpoint files of its run alone's
    ``theirs``, each with the same entries (the training state included), key by key."""
    files = sorted(p.name for p in (theirs / "checkpoints").iterdir())
    assert sorted(p.name for p in (ours / "checkpoints").iterdir()) == files
    for name in files:
        mine = _checkpoint(ours / "checkpoints" / name)
        assert set(TRAINING_STATE_KEYS) <= set(mine)
        dirs = (str(theirs), str(ours))
        _same_structure(mine, _checkpoint(theirs / "checkpoints" / name), name, dirs)


def _same_results(ours: dict, theirs: dict) -> None:
    assert ours["status"] == theirs["status"] == "completed"
    for key in ("epochs", "steps", "best_epoch", "stopped_by"):
        assert ours[key] == theirs[key], key
    metrics = [k for k in theirs if k.startswith(("val/", "test/"))]
    assert len(metrics) >= 16 and set(metrics) <= set(ours)
    for key in metrics:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-5, nan_ok=True), key
    assert ours["history"].keys() == theirs["history"].keys()
    for key, values in theirs["history"].items():
        assert ours["history"][key] == pytest.approx(values, abs=1e-5, nan_ok=True), key


def _resume(make_cfg, overrides, member, run_dir: Path, checkpoint: Path, in_place: bool):
    """Train longer from ``checkpoint``: in ``run_dir`` with ``ckpt_path=last`` (its record
    removed, as a killed run leaves it), or in a new directory with ``ckpt_path=<file>``."""
    if in_place:
        (run_dir / "metrics.json").unlink()
        cfg = make_cfg(*BASE, *overrides, *member, LONGER, "ckpt_path=last")
        return train(cfg, run_dir, multirun=True)
    cfg = make_cfg(*BASE, *overrides, *member, LONGER, f"ckpt_path={checkpoint}")
    return train(cfg, run_dir.with_name(run_dir.name + "-resumed"), multirun=True)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.slow
def test_a_member_resumes_from_last_checkpoint_as_its_run_alone(make_cfg, tmp_path, case):
    overrides, in_place, waits = CASES[case]
    _, grouped = _trained(make_cfg, tmp_path, overrides)
    waited = []
    for i, member in enumerate(MEMBERS):
        ours, theirs = tmp_path / f"member{i}", tmp_path / f"alone{i}"
        _same_checkpoints(ours, theirs)  # the best and the last checkpoint
        last = load_checkpoint(ours / "checkpoints" / "last.ckpt")
        stopping = next(v for k, v in last["callbacks"].items() if k.startswith("EarlyStopping"))
        waited.append(stopping["wait_count"])
        resumed_alone = _resume(
            make_cfg, overrides, member, theirs, theirs / "checkpoints" / "last.ckpt", in_place
        )
        resumed = _resume(
            make_cfg, overrides, member, ours, ours / "checkpoints" / "last.ckpt", in_place
        )
        assert resumed["resumed_from"].endswith("last.ckpt")
        _same_results(resumed, resumed_alone)
        assert resumed["epochs"] > grouped[i]["epochs"]
        assert len(resumed["history"]["val/nll"]) == resumed["epochs"]
    if waits:  # the overfitting member had waited; resumed, its early stopping counts on
        assert waited[1] > 0


@pytest.mark.slow
def test_a_member_resumes_from_its_best_checkpoint_as_its_run_alone(make_cfg, tmp_path):
    """at_end, and the second member stops early (patience 1) while the first trains on: its
    last.ckpt is saved as the fit ends after its epoch, the first member's is a copy of its
    best checkpoint (its last epoch was its best)."""
    overrides = ("optimizer=adam", "checkpoint.write=at_end", "early_stopping.patience=1")
    alone, grouped = _trained(make_cfg, tmp_path, overrides)
    assert [r["stopped_by"] for r in grouped] == ["budget", "early_stopping"]
    assert grouped[0]["best_epoch"] == grouped[0]["epochs"] - 1
    for i in range(len(MEMBERS)):
        _same_checkpoints(tmp_path / f"member{i}", tmp_path / f"alone{i}")
    i = 1  # its best epoch is before its last: resuming goes back to it
    assert grouped[i]["best_epoch"] == alone[i]["best_epoch"] < grouped[i]["epochs"] - 1
    results = [
        train(
            make_cfg(*BASE, *overrides, *MEMBERS[i], LONGER, f"ckpt_path={r['best_checkpoint']}"),
            tmp_path / f"{name}-from-best",
            multirun=True,
        )
        for name, r in (("alone", alone[i]), ("member", grouped[i]))
    ]
    _same_results(results[1], results[0])
    assert results[1]["epochs"] > grouped[i]["best_epoch"] + 1


@pytest.mark.slow
def test_resuming_a_member_is_refused_where_its_run_alone_is(make_cfg, tmp_path):
    overrides = ("optimizer=adam", "checkpoint.write=at_end")
    _, grouped = _trained(make_cfg, tmp_path, overrides)
    last = Path(grouped[0]["best_checkpoint"]).parent / "last.ckpt"
    # another learning rate: resuming restores the optimizer, so it would train something else
    other = make_cfg(*BASE, *overrides, "optimizer.lr=0.1", LONGER, f"ckpt_path={last}")
    with pytest.raises(ConfigError, match=r"optimizer\.lr: checkpoint 0\.001, config 0\.1"):
        train(other, tmp_path / "other")
    # a member checkpoint of an older lossbench: weights without the training state
    old = load_checkpoint(last)
    for key in TRAINING_STATE_KEYS:
        old.pop(key)
    torch.save(old, tmp_path / "old.ckpt")
    cfg = make_cfg(*BASE, *overrides, *MEMBERS[0], LONGER, f"ckpt_path={tmp_path / 'old.ckpt'}")
    with pytest.raises(ConfigError, match=r"holds the model's weights but not the training state"):
        train(cfg, tmp_path / "old")


#: SGD at lr=300 turns non-finite in the second epoch: the first epoch's last.ckpt remains.
#: (At lr=1e4 the first epoch's last step turns the weights NaN: its validation loss fails it.)
DIVERGING = ("data=breast_cancer", "optimizer=sgd", "trainer.max_epochs=3")


@pytest.mark.parametrize("write", ["every_epoch", "at_end"])
def test_a_failed_member_resumes_or_is_refused_as_its_run_alone(make_cfg, tmp_path, write):
    """every_epoch: the last completed epoch's last.ckpt resumes, to the same failure;
    at_end: no last.ckpt, and ckpt_path=last is refused with the same message."""
    cfgs = [
        make_cfg(*DIVERGING, f"checkpoint.write={write}", f"optimizer.lr={lr}")
        for lr in (300, 0.01)
    ]
    alone = train(cfgs[0], tmp_path / "alone", multirun=True)
    grouped = train_group(cfgs, [tmp_path / "member", tmp_path / "other"])
    assert alone["status"] == grouped[0]["status"] == "failed"
    assert grouped[0]["error"] == alone["error"]
    assert alone["error"].startswith("non-finite training loss (nan) at epoch 1")
    again = make_cfg(*DIVERGING, f"checkpoint.write={write}", "optimizer.lr=300", "ckpt_path=last")
    if write == "every_epoch":
        name = "last.ckpt"
        dirs = (str(tmp_path / "alone"), str(tmp_path / "member"))
        theirs, ours = (_checkpoint(Path(d) / "checkpoints" / name) for d in dirs)
        # SGD at lr=300 has weights near 1e10 and momentum buffers near 1e8 after one epoch:
        # the stack's rounding differs from the run alone's in their last float32 digits (the
        # resumed runs below still fail alike), so 1e-4 of each tensor's scale here (an entry
        # near zero that sums terms of 1e8 differs by a few percent of itself, depending on
        # the CPU's matrix kernels).
        _same_structure(ours, theirs, name, dirs, rtol=1e-4, of_scale=True)
        resumed = [train(again, tmp_path / d, multirun=True) for d in ("alone", "member")]
        assert resumed[0]["status"] == resumed[1]["status"] == "failed"
        assert resumed[0]["error"] == resumed[1]["error"] == alone["error"]
        assert resumed[1]["resumed_from"] == str(tmp_path / "member" / "checkpoints" / name)
        return
    messages = []
    for run_dir in (tmp_path / "alone", tmp_path / "member"):
        with pytest.raises(ConfigError, match=r"ckpt_path=last: there is no .*last\.ckpt") as info:
            train(again, run_dir)
        messages.append(str(info.value).replace(str(run_dir), "<run>"))
    assert messages[0] == messages[1]
