"""The checkpoints one resume from an earlier epoch sets aside, from ``checkpoints/`` and a
checkpoint callback's folder, are one set-aside: all keep their names, or all take one ``-vN``
above every earlier one in their ``-earlier/`` folders."""

from __future__ import annotations

from pathlib import Path

import torch

from lossbench.later_checkpoints import set_aside_later_epochs


def _checkpoint(path: Path, epoch: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epoch}, path)


def test_one_resume_sets_its_files_aside_under_one_version_across_folders(tmp_path):
    """checkpoints-earlier/ holds last.ckpt and best-epoch005-v2.ckpt (its -v1 removed),
    ckpts-earlier/ nothing: resumed from epoch 2, every later file of checkpoints/ and ckpts/
    takes -v3, those whose names were free too; the epoch-2 files stay."""
    run = tmp_path / "run"
    for name, epoch in [
        ("checkpoints/best-epoch005.ckpt", 5),
        ("checkpoints/best-epoch002.ckpt", 2),
        ("checkpoints/last.ckpt", 6),
        ("ckpts/epoch=2.ckpt", 2),
        ("ckpts/epoch=6.ckpt", 6),
        ("ckpts/last.ckpt", 6),
        ("checkpoints-earlier/last.ckpt", 9),
        ("checkpoints-earlier/best-epoch005-v2.ckpt", 5),
    ]:
        _checkpoint(run / name, epoch)

    moved = set_aside_later_epochs(run, [run / "ckpts"], 2, run / "ckpts" / "epoch=2.ckpt")
    went = {m.source.resolve().relative_to(run.resolve()).as_posix(): m.target for m in moved}
    assert {k: v.resolve().relative_to(run.resolve()).as_posix() for k, v in went.items()} == {
        "checkpoints/best-epoch005.ckpt": "checkpoints-earlier/best-epoch005-v3.ckpt",
        "checkpoints/last.ckpt": "checkpoints-earlier/last-v3.ckpt",
        "ckpts/epoch=6.ckpt": "ckpts-earlier/epoch=6-v3.ckpt",
        "ckpts/last.ckpt": "ckpts-earlier/last-v3.ckpt",
    }
    assert torch.load(run / "checkpoints-earlier" / "last.ckpt")["epoch"] == 9  # kept
    assert sorted(p.name for p in (run / "ckpts").iterdir()) == ["epoch=2.ckpt"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best-epoch002.ckpt"]


def test_a_resume_whose_names_are_all_free_keeps_them(tmp_path):
    """Nothing of their names in the -earlier/ folders: each file keeps its own name."""
    run = tmp_path / "run"
    _checkpoint(run / "checkpoints" / "last.ckpt", 4)
    _checkpoint(run / "ckpts" / "epoch=4.ckpt", 4)
    _checkpoint(run / "checkpoints-earlier" / "best-epoch003-v1.ckpt", 3)
    moved = set_aside_later_epochs(run, [run / "ckpts"], 1, run / "elsewhere.ckpt")
    assert sorted(m.target.resolve().relative_to(run.resolve()).as_posix() for m in moved) == [
        "checkpoints-earlier/last.ckpt",
        "ckpts-earlier/epoch=4.ckpt",
    ]
