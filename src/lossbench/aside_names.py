"""Where a file or folder set aside goes without replacing one already there
(:func:`aside_path`), the move itself (:func:`move_aside`), and the moves of a file or folder
to a fixed name whose earlier holder first moves on (:func:`move_on`, :func:`take_name`),
shared by every set-aside of a run's files (:mod:`lossbench.record`,
:mod:`lossbench.later_checkpoints`, :mod:`lossbench.run_identity`): nothing already written is
lost."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

__all__ = ["Moved", "aside_path", "move_aside", "move_on", "take_name"]


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


def move_on(path: Path) -> Moved | None:
    """Move what ``path`` names (a file, a folder or a link), if anything, to the first unused
    versioned name beside it (:func:`move_aside`: ``metrics-max_epochs300-v1.json``,
    ``logs-earlier-v1``), so that its name is free for a newer one; return the move, or None
    where nothing has that name.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> _ = (run / "config-max_epochs300.yaml").write_text("first")
        >>> move_on(run / "config-max_epochs300.yaml").target.name
        'config-max_epochs300-v1.yaml'
        >>> move_on(run / "config-max_epochs300.yaml") is None
        True
    """
    if not (path.exists() or path.is_symlink()):
        return None
    return move_aside(path, path.parent)


def take_name(path: Path, name: str) -> list[Moved]:
    """Move the file or folder ``path`` to ``name`` beside it; what has that name already (a
    file, a folder or a link set aside before) first moves on to its first unused versioned
    name (:func:`move_on`), so nothing is lost. Return each move, the older one first.

        >>> import tempfile
        >>> run = Path(tempfile.mkdtemp())
        >>> for attempt in ("first", "second"):
        ...     (run / "logs").mkdir()
        ...     _ = (run / "logs" / "metrics.csv").write_text(attempt)
        ...     moved = take_name(run / "logs", "logs-earlier")
        >>> [(move.source.name, move.target.name) for move in moved]
        [('logs-earlier', 'logs-earlier-v1'), ('logs', 'logs-earlier')]
        >>> [(p.name, (p / "metrics.csv").read_text()) for p in sorted(run.iterdir())]
        [('logs-earlier', 'second'), ('logs-earlier-v1', 'first')]
    """
    target = path.with_name(name)
    older = move_on(target)
    return [*([older] if older is not None else []), Moved(path, path.rename(target))]
