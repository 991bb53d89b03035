"""Where a file or folder set aside goes without replacing one already there
(:func:`aside_path`), the move itself (:func:`move_aside`), and the move of the names one
set-aside takes (one attempt's or one run's files and folders) whose earlier holders first move
on together, each to its versioned name under one number (:func:`free_version`,
:func:`move_on_together`), shared by every set-aside of a run's files (:mod:`lossbench.record`,
:mod:`lossbench.later_checkpoints`, :mod:`lossbench.run_identity`): nothing already written is
lost."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = ["Moved", "aside_path", "free_version", "move_aside", "move_on_together", "versioned"]


class Moved(NamedTuple):
    """A file or folder set aside: where it was (``source``) and where it went (``target``;
    its name is ``source``'s, or Lightning's versioned name where that was taken)."""

    source: Path
    target: Path


def _taken(path: Path) -> bool:
    """Whether anything has ``path``'s name: a file, a folder, or a link (a broken one too)."""
    return path.exists() or path.is_symlink()


def versioned(path: Path, version: int, *, is_folder: bool = False) -> Path:
    """Lightning's versioned name ``-v<version>`` of the file ``path``, before its suffix, or of
    the folder ``path`` (``is_folder``), after its whole name, since a dot in it starts no file
    suffix.

        >>> versioned(Path("r/last.ckpt"), 2).name
        'last-v2.ckpt'
        >>> versioned(Path("r/ckpts.d-earlier"), 1, is_folder=True).name
        'ckpts.d-earlier-v1'
    """
    stem, suffix = (path.name, "") if is_folder else (path.stem, path.suffix)
    return path.with_name(f"{stem}-v{version}{suffix}")


def aside_path(folder: Path, name: str, *, is_folder: bool = False) -> Path:
    """Where a file ``name`` goes in ``folder`` without replacing one there: ``name``, else
    Lightning's versioned name (``last-v1.ckpt``, ``last-v2.ckpt``, ...). A folder's
    (``is_folder``) is versioned after its whole name (:func:`versioned`: ``logs-earlier-v1``,
    ``ckpts.d-earlier-v1``).

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> aside_path(folder, "last.ckpt").name
        'last.ckpt'
        >>> _ = (folder / "last.ckpt").write_bytes(b"")
        >>> aside_path(folder, "last.ckpt").name
        'last-v1.ckpt'
        >>> (folder / "ckpts.d-earlier").mkdir()
        >>> aside_path(folder, "ckpts.d-earlier", is_folder=True).name
        'ckpts.d-earlier-v1'
    """
    target = folder / name
    version = 0
    while _taken(target):
        version += 1
        target = versioned(folder / name, version, is_folder=is_folder)
    return target


def move_aside(path: Path, folder: Path) -> Moved:
    """Move the file or folder ``path`` into ``folder`` (made where missing) under
    :func:`aside_path`'s name, so one of that name already there is kept; return where it was
    and where it went. Moved within the folder it is in (``folder`` is ``path.parent``), it
    gets the first unused versioned name: ``checkpoints-earlier`` goes to
    ``checkpoints-earlier-v1``.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> for text in ("first", "second"):
        ...     _ = (run / "best-epoch005.ckpt").write_text(text)
        ...     moved = move_aside(run / "best-epoch005.ckpt", run / "checkpoints-earlier")
        >>> moved.source.name, moved.target.name, moved.target.read_text()
        ('best-epoch005.ckpt', 'best-epoch005-v1.ckpt', 'second')
        >>> (run / "checkpoints-earlier" / "best-epoch005.ckpt").read_text()
        'first'
        >>> move_aside(run / "checkpoints-earlier", run).target.name
        'checkpoints-earlier-v1'
    """
    folder.mkdir(exist_ok=True)
    return Moved(path, path.replace(aside_path(folder, path.name, is_folder=path.is_dir())))


def free_version(paths: Iterable[Path]) -> int:
    """One above the highest ``N`` any of ``paths`` has a versioned name (:func:`versioned`)
    for, in either form (a file's, a folder's: what has a name may be either); 1 where none
    has: the one number under which the names of one set-aside all move on, so that one
    attempt's (or one run's) files share it, a ``-v1`` the user removed for some of them only
    is not taken again for the others, and a higher number is always a later set-aside (a
    number removed for all of them is not reused either).

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> names = [run / "checkpoints-earlier", run / "logs-earlier"]
        >>> free_version(names)
        1
        >>> (run / "checkpoints-earlier-v1").mkdir()  # its logs-earlier-v1 removed
        >>> free_version(names)
        2
        >>> (run / "checkpoints-earlier-v1").rmdir()
        >>> (run / "logs-earlier-v2").mkdir()  # -v1 removed for both: not reused
        >>> free_version(names)
        3
    """
    highest = 0
    for path in dict.fromkeys(paths):
        forms = (
            re.compile(rf"{re.escape(path.name)}-v([1-9][0-9]*)"),
            re.compile(rf"{re.escape(path.stem)}-v([1-9][0-9]*){re.escape(path.suffix)}"),
        )
        with contextlib.suppress(OSError):  # no folder: nothing versioned in it
            for sibling in path.parent.iterdir():
                for form in forms:
                    found = form.fullmatch(sibling.name)
                    if found:
                        highest = max(highest, int(found[1]))
    return highest + 1


def move_on_together(paths: Iterable[Path]) -> list[Moved]:
    """Move what each of ``paths`` names (a file, a folder or a link), where anything does, to
    its versioned name under one number, one above the highest any of ``paths`` has (those that
    name nothing too: :func:`free_version`), so that their names are free for a newer set-aside's
    files and the older ones keep sharing a number; return each move. ``paths``: every name one
    set-aside takes (``checkpoints-earlier``, ``logs-earlier``, ...;
    ``metrics-max_epochs300.json``, ``checkpoints-max_epochs300``, ...).

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = (run / "config-max_epochs300.yaml").write_text("first")
        >>> (run / "logs-max_epochs300").mkdir()
        >>> (run / "logs-max_epochs300-v1").mkdir()  # its config-max_epochs300-v1.yaml removed
        >>> names = [run / "config-max_epochs300.yaml", run / "logs-max_epochs300"]
        >>> [move.target.name for move in move_on_together(names)]
        ['config-max_epochs300-v2.yaml', 'logs-max_epochs300-v2']
        >>> move_on_together(names)
        []
    """
    paths = list(dict.fromkeys(paths))
    version = free_version(paths)
    return [
        Moved(path, path.rename(versioned(path, version, is_folder=path.is_dir())))
        for path in paths
        if _taken(path)
    ]
