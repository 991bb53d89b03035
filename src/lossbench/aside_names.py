"""Where a file or folder set aside goes without replacing one already there
(:func:`aside_path`), and the move itself (:func:`move_aside`), shared by every set-aside of a
run's checkpoints and logs (:mod:`lossbench.record`, :mod:`lossbench.later_checkpoints`):
nothing already written is lost."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

__all__ = ["Moved", "aside_path", "move_aside"]


class Moved(NamedTuple):
    """A file or folder set aside: where it was (``source``) and where it went (``target``;
    its name is ``source``'s, or Lightning's versioned name where that was taken)."""

    source: Path
    target: Path


def aside_path(folder: Path, name: str, *, is_folder: bool = False) -> Path:
    """Where a file ``name`` goes in ``folder`` without replacing one there: ``name``, else
    Lightning's versioned name (``last-v1.ckpt``, ``last-v2.ckpt``, ...). A folder's
    (``is_folder``) is versioned after its whole name, since a dot in it starts no file suffix
    (``logs-earlier-v1``, ``ckpts.d-earlier-v1``).

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
    stem, suffix = (name, "") if is_folder else (Path(name).stem, Path(name).suffix)
    target = folder / name
    version = 0
    while target.exists() or target.is_symlink():
        version += 1
        target = folder / f"{stem}-v{version}{suffix}"
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
