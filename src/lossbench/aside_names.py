"""Versioned names for what is set aside, so that nothing already written is lost, one
number for each set-aside: the files one set-aside moves into folders that may already hold
some of their names, all under their own names or all under one ``-vN`` above every earlier
one there (:func:`move_aside_together`, :func:`free_version_in`:
:mod:`lossbench.later_checkpoints`), and the names one set-aside takes (one attempt's or one
run's files and folders) whose earlier holders first move on together, each to its versioned
name under one number (:func:`free_version`, :func:`move_on_together`: :mod:`lossbench.record`,
:mod:`lossbench.run_identity`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "Moved",
    "free_version",
    "free_version_in",
    "move_aside_together",
    "move_on_together",
    "versioned",
]


class Moved(NamedTuple):
    """A file or folder set aside: where it was (``source``) and where it went (``target``;
    its name is ``source``'s, or its versioned name: :func:`versioned`)."""

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


def move_aside_together(paths: Iterable[Path], folder_of: Callable[[Path], Path]) -> list[Moved]:
    """Move each of the files ``paths`` (one set-aside: every file one resume sets aside) into
    its folder ``folder_of(path)`` (made where missing), all under their own names where none of
    those names is taken there, else all under their versioned names (:func:`versioned`) of one
    number, one above the highest ``-vN`` any name in those folders has
    (:func:`free_version_in`); return where each was and where it went. So nothing already there
    is replaced, the files set aside together share a number, and a higher number is always a
    later set-aside (no ``last-v1.ckpt`` beside ``best-epoch005-v3.ckpt`` from one set-aside).
    Files moved into one folder have distinct names.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> (run / "checkpoints").mkdir()
        >>> def into(path):
        ...     return path.parent.with_name(path.parent.name + "-earlier")
        >>> def set_aside(*names):
        ...     for name in names:
        ...         _ = (run / "checkpoints" / name).write_text(name)
        ...     files = [run / "checkpoints" / name for name in names]
        ...     return [moved.target.name for moved in move_aside_together(files, into)]
        >>> set_aside("best-epoch005.ckpt", "last.ckpt")
        ['best-epoch005.ckpt', 'last.ckpt']
        >>> set_aside("best-epoch006.ckpt", "last.ckpt")  # last.ckpt taken: both versioned
        ['best-epoch006-v1.ckpt', 'last-v1.ckpt']
        >>> set_aside("best-epoch005.ckpt", "best-epoch007.ckpt")  # above every -vN there
        ['best-epoch005-v2.ckpt', 'best-epoch007-v2.ckpt']
        >>> set_aside("best-epoch008.ckpt")  # no name taken: its own
        ['best-epoch008.ckpt']
    """
    paths = list(dict.fromkeys(paths))
    targets = [folder_of(path) / path.name for path in paths]
    if any(_taken(target) for target in targets):
        version = free_version_in(target.parent for target in targets)
        targets = [versioned(target, version) for target in targets]
    for folder in dict.fromkeys(target.parent for target in targets):
        folder.mkdir(exist_ok=True)
    return [Moved(path, path.replace(target)) for path, target in zip(paths, targets, strict=True)]


def _version_in_name(name: str) -> int:
    """The ``N`` of a versioned name ``name`` (:func:`versioned`), in either form (a file's,
    before its suffix; a folder's, after its whole name); 0 where it has none."""
    for form in (name, Path(name).stem):
        found = re.fullmatch(r".*-v([1-9][0-9]*)", form, flags=re.DOTALL)
        if found:
            return int(found[1])
    return 0


def free_version_in(folders: Iterable[Path]) -> int:
    """One above the highest ``N`` any name in ``folders`` has as its versioned name's
    (:func:`versioned`, either form); 1 where none has, or none of ``folders`` exists: the one
    number of a set-aside of files whose names differ from one set-aside to the next
    (:func:`move_aside_together`), above every earlier set-aside's.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> free_version_in([folder, folder / "missing"])
        1
        >>> _ = (folder / "best-epoch005-v3.ckpt").write_bytes(b"")
        >>> (folder / "ckpts-earlier-v4").mkdir()
        >>> free_version_in([folder])
        5
    """
    highest = 0
    for folder in dict.fromkeys(folders):
        with contextlib.suppress(OSError):  # no folder: nothing versioned in it
            highest = max([highest, *(_version_in_name(p.name) for p in folder.iterdir())])
    return highest + 1


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
