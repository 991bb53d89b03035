"""Where a command may write its one output file (``lossbench-eval``'s and
``lossbench-predict``'s ``out=``): checked before any work, so that nothing already written is
lost.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_output(folder / "new.json", ours=lambda path: False, example="eval.json")
    PosixPath('.../new.json')
    >>> (folder / "notes.txt").write_text("mine")
    4
    >>> check_output(folder / "notes.txt", ours=lambda path: False, example="eval.json")
    Traceback (most recent call last):
    ...
    lossbench.errors.UserInputError: out='.../notes.txt' is an existing file ...

An existing file is replaced only where ``ours`` recognises it as an earlier output of the same
command (running ``lossbench-eval`` again on a run updates its ``eval.json``); any other file,
a directory, and a path below a file are refused, with the fix. The file is then written whole
or not at all (:func:`written_whole`): a command stopped while it writes (Ctrl-C, SIGTERM, an
error) leaves no half-written file, and an earlier output as it was.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lossbench.errors import UserInputError

#: The suffix of the file :func:`written_whole` writes before it replaces the output.
PARTIAL = ".partial"
#: The suffix of the record next to a predictions CSV file: the checkpoint that wrote it.
RECORD_SUFFIX = ".lossbench.json"


def check_output(
    out: str | os.PathLike,
    *,
    ours: Callable[[Path], bool],
    example: str,
    error: type[UserInputError] = UserInputError,
    replaced: str | None = None,
) -> Path:
    """``out`` as a path, where the command may write: a new file, or an earlier output of
    the command (``ours``). ``example``: a file name for the message's fix; ``replaced``: what
    ``ours`` recognises, for the message (default: a file this command wrote)."""
    given = str(out)
    path = Path(given).expanduser()
    if given.endswith(("/", os.sep)) and not path.is_dir():
        raise error(
            f"out={given!r} ends with a slash, which names a folder, but out names the file to "
            f"write. Give a file name, e.g. out={Path(given) / example}."
        )
    if path.is_dir():
        raise error(
            f"out={given!r} is a directory ({path.resolve()}); out names the file to write. "
            f"Give a file name, e.g. out={Path(given) / example}."
        )
    blocking = file_above(path)
    if blocking is not None:
        raise error(
            f"out={given!r} lies below {str(blocking)!r}, which is a file, not a directory. "
            f"Give a file in a directory, e.g. out={example}."
        )
    unwritable = cannot_write_below(path.parent)
    if unwritable is not None:
        raise error(
            f"out={given!r}: {unwritable}. Give a file in a folder you can write, e.g. "
            f"out={example}."
        )
    if path.exists() and not recognised(ours, path):
        why = (
            f"did not write, or wrote for another checkpoint: only {replaced} is replaced"
            if replaced
            else "did not write; writing there would replace it"
        )
        raise error(
            f"out={given!r} is an existing file ({path.resolve()}) that this command {why}, "
            "and lossbench never overwrites a file it did not write. Give a new file name, "
            f"e.g. out={example}, or move the file away."
        )
    return path


def check_suffix(
    out: str | os.PathLike,
    suffix: str,
    *,
    what: str,
    error: type[UserInputError] = UserInputError,
) -> None:
    """Refuse an ``out`` whose file name does not end with ``suffix`` (in any case): ``what``
    says what the command writes there, and the fix is the name with ``suffix``.

        >>> check_suffix("eval.JSON", ".json", what="the result is JSON")
        >>> try:
        ...     check_suffix("scores.csv", ".json", what="the result is JSON")
        ... except UserInputError as error:
        ...     print(str(error)[-53:])
        JSON. Give a name ending .json, e.g. out=scores.json.
    """
    path = Path(str(out)).expanduser()
    if path.suffix.lower() == suffix:
        return
    example = path.with_suffix(suffix).name if path.name else f"out{suffix}"
    raise error(
        f"out={str(out)!r} is not a {suffix} file name: {what}. Give a name ending {suffix}, "
        f"e.g. out={example}."
    )


@contextlib.contextmanager
def written_whole(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """A handle (``open(mode, **open_args)``) whose content becomes ``path`` only once the block
    ends: it writes ``<path>.partial`` (a new file: ``<path>.1.partial`` where that name is
    taken, :func:`_new_partial`), renamed over ``path`` at the end. A block that ends with
    an exception (a Ctrl-C or SIGTERM included) removes it, so ``path`` is either complete or
    as it was: absent, or an earlier file untouched.

        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "eval.json"
        >>> with written_whole(out) as handle:
        ...     _ = handle.write("{}")
        >>> out.read_text()
        '{}'
        >>> with written_whole(out) as handle:  # stopped half-way
        ...     _ = handle.write('{"half')
        ...     raise OSError("No space left on device")
        Traceback (most recent call last):
        ...
        OSError: No space left on device
        >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
        ('{}', ['eval.json'])
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = _new_partial(path, mode, **open_args)
    try:
        with handle:
            yield handle
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _new_partial(path: Path, mode: str, **open_args: Any) -> tuple[IO[Any], Path]:
    """A new file beside ``path``, opened for writing: ``<path>.partial``, or where a file of
    that name exists (a file of yours, or one a killed command left), ``<path>.1.partial``,
    ``<path>.2.partial``, ...: created exclusively, so no existing file is written over.

        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "p.csv"
        >>> _ = (out.parent / "p.csv.partial").write_text("yours")
        >>> handle, partial = _new_partial(out, "w")
        >>> handle.close(); partial.name
        'p.csv.1.partial'
    """
    exclusive = mode.replace("w", "x")
    for n in range(1000):
        partial = path.with_name(f"{path.name}.{n}{PARTIAL}" if n else path.name + PARTIAL)
        try:
            return partial.open(exclusive, **open_args), partial
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.name}{PARTIAL} and 999 numbered ones exist in {path.parent}")


def as_made(path: Path) -> Path:
    """``path`` as making it would reach it: absolute, its links followed and each ``..``
    taken from the folder before it, also where that folder is still to be made (the system
    reads ``new/../x`` only once ``new`` exists, and ``mkdir -p`` makes ``new`` first).

        >>> as_made(Path("/tmp/nosuch/../x/y"))
        PosixPath('/tmp/x/y')
    """
    return Path(os.path.realpath(path.expanduser()))


def file_above(path: Path) -> Path | None:
    """The nearest existing folder above ``path`` (read as :func:`as_made` reads it) where it
    is a file, not a directory (so nothing below it can be made), else None.

        >>> file_above(Path(__file__) / "report")
        PosixPath('.../output_files.py')
        >>> file_above(Path(__file__).parent / "nosuch" / ".." / "output_files.py" / "x")
        PosixPath('.../output_files.py')
    """
    made = as_made(path)
    above = next((parent for parent in made.parents if parent.exists()), None)
    return None if above is None or above.is_dir() else _as_given(above, path)


def _as_given(found: Path, path: Path) -> Path:
    """``found`` (a folder :func:`as_made` reached) as ``path`` names it, where ``path`` or a
    folder above it, as written, is ``found`` (``data.csv`` rather than its absolute path)."""
    return next((p for p in (path, *path.parents) if as_made(p) == found), found)


def file_in_the_way(path: Path) -> Path | None:
    """The file that keeps the folder ``path`` from being made: ``path`` itself, or the
    nearest existing folder above it (:func:`file_above`); None where there is none.

        >>> file_in_the_way(Path(__file__)).name, file_in_the_way(Path(__file__).parent)
        ('output_files.py', None)
    """
    made = as_made(path)
    return path if made.exists() and not made.is_dir() else file_above(path)


def cannot_write_below(path: Path) -> str | None:
    """Why nothing can be written at ``path`` (a folder or file still to be made, read as
    :func:`as_made` reads it), or None: a folder is made and removed again in the nearest
    existing folder above it, so a read-only or forbidden place is found before any work
    (``os.access`` says yes to root on file systems that refuse it). Nothing is left behind.

        >>> cannot_write_below(Path(tempfile.gettempdir()) / "a" / "b") is None
        True
    """
    made = as_made(path)
    above = next((p for p in (made, *made.parents) if p.exists()), None)
    if above is None or not above.is_dir():
        return None  # a file in the way: file_above's refusal
    try:
        probe = tempfile.mkdtemp(prefix=".lossbench-write-check-", dir=above)
    except OSError as error:
        return f"{above} cannot be written ({error.strerror or error})"
    os.rmdir(probe)
    return None


def unusable_folder(path: Path) -> str | None:
    """Why no file can be written in the folder ``path`` (made where missing), or None: it is
    a file, it lies below one, or the nearest existing folder cannot be written
    (:func:`cannot_write_below`).

        >>> unusable_folder(Path(__file__) / "logs")
        "'.../output_files.py' is a file, not a folder"
        >>> unusable_folder(Path(tempfile.gettempdir()) / "a" / "b") is None
        True
    """
    blocking = file_in_the_way(path)
    if blocking is not None:
        return f"{str(blocking)!r} is a file, not a folder"
    return cannot_write_below(path)


def recognised(ours: Callable[[Path], bool], path: Path) -> bool:
    """``ours(path)``, False where the file cannot be read as ``ours`` reads it (not UTF-8,
    not JSON, a damaged archive): such a file is not an earlier output.

        >>> recognised(lambda path: path.read_text() == "", Path(__file__).parent)
        False
    """
    try:
        return ours(path)
    except (OSError, ValueError, UnicodeDecodeError, zipfile.BadZipFile, csv.Error):
        return False


def is_eval_result(path: Path, checkpoint: str | os.PathLike, split: str | None = None) -> bool:
    """Whether ``path`` is a ``lossbench-eval`` result of ``checkpoint`` (and of ``split``,
    where given): a JSON object naming its split and that checkpoint (the result of another
    checkpoint, or of another split, is not replaced).

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "eval.json"
        >>> _ = path.write_text('{"checkpoint": "/runs/a/last.ckpt", "split": "test", "epoch": 3}')
        >>> is_eval_result(path, "/runs/a/last.ckpt"), is_eval_result(path, "/runs/b/last.ckpt")
        (True, False)
        >>> [is_eval_result(path, "/runs/a/last.ckpt", split) for split in ("test", "val")]
        [True, False]
    """
    content = json.loads(path.read_text(encoding="utf-8"))
    if not (isinstance(content, dict) and {"checkpoint", "split", "epoch"} <= set(content)):
        return False
    if split is not None and content["split"] != split:
        return False
    return _same_file(str(content["checkpoint"]), checkpoint)


def _same_file(one: str | os.PathLike, other: str | os.PathLike) -> bool:
    """Whether the paths ``one`` and ``other`` name the same file (whether or not it exists)."""
    return Path(one).expanduser().resolve() == Path(other).expanduser().resolve()


def another_name(path: Path, ckpt_path: str | os.PathLike, default: str) -> str:
    """A file name for the output of ``ckpt_path`` where ``path`` exists: ``default``, or
    where ``path`` is ``default``, it with the name of the checkpoint's run folder added (the
    folder above its ``checkpoints/``).

    >>> another_name(Path("keep.csv"), "/runs/1_iris/checkpoints/best.ckpt", "predictions.csv")
    'predictions.csv'
    >>> another_name(Path("predictions.csv"), "/runs/1_iris/checkpoints/b.ckpt", "predictions.csv")
    'predictions-1_iris.csv'
    """
    if path.name != default:
        return default
    run = run_dir_of(ckpt_path)
    return f"{Path(default).stem}-{run.name}{Path(default).suffix}"


#: The name of the file in which lossbench-train keeps a run's resolved config, in its folder.
RUN_CONFIG_NAME = "config.yaml"
#: How many folders above the one holding a checkpoint its run folder may lie: Lightning's
#: ``ModelCheckpoint`` writes to its first logger's folder, ``<run>/logs/checkpoints/`` (CSV),
#: ``<run>/tensorboard/checkpoints/``, ``<run>/<experiment>/<version>/checkpoints/`` (MLflow,
#: W&B).
RUN_FOLDER_LEVELS = 3
#: The folders in which lossbench keeps the checkpoints of a run's earlier attempt or of its
#: lower ``trainer.max_epochs``, beside its ``checkpoints/``, by the start of their names
#: (``checkpoints-earlier-v1``: an attempt before that one; ``checkpoints-max_epochs300-v1``: a
#: run set aside before it from the same cap): a checkpoint there keeps its own
#: folder as its run folder (its result goes there, not over the run's own ``eval.json``).
KEPT_CHECKPOINT_FOLDERS = ("checkpoints-earlier", "checkpoints-max_epochs")


def run_dir_of(ckpt_path: str | os.PathLike) -> Path:
    """The run folder of the checkpoint at ``ckpt_path``: the folder above its
    ``checkpoints/`` that holds the run's ``config.yaml`` (lossbench's layout), else the folder
    holding the checkpoint where it holds a ``config.yaml`` (a checkpoint copied into a run's
    folder) or is one of :data:`KEPT_CHECKPOINT_FOLDERS`, else the nearest folder above it
    that holds a ``config.yaml``, up to :data:`RUN_FOLDER_LEVELS` folders up (Lightning's
    ``ModelCheckpoint`` in a logger's folder, ``<run>/logs/checkpoints/``, or a ``dirpath``
    inside the run folder) and is a lossbench run's (:func:`_is_run_folder`: another tool's
    ``config.yaml`` is not), else, as for a checkpoint moved away from its run, the folder above
    a folder named ``checkpoints``, or the folder holding it.

        >>> run_dir_of("/nowhere/runs/a/checkpoints/last.ckpt")
        PosixPath('/nowhere/runs/a')
        >>> run_dir_of("/nowhere/copies/model.ckpt")
        PosixPath('/nowhere/copies')
    """
    folder = Path(ckpt_path).expanduser().resolve().parent
    if folder.name == "checkpoints" and (folder.parent / RUN_CONFIG_NAME).is_file():
        return folder.parent
    if (folder / RUN_CONFIG_NAME).is_file() or folder.name.startswith(KEPT_CHECKPOINT_FOLDERS):
        return folder
    for above in list(folder.parents)[:RUN_FOLDER_LEVELS]:
        if _is_run_folder(above):
            return above
    return folder.parent if folder.name == "checkpoints" else folder


def _is_run_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a lossbench run, as a folder above a checkpoint must to be taken
    as its run folder: its ``config.yaml`` is a run's
    (:func:`lossbench.run_config_file.is_run_config`). Another tool's ``config.yaml`` (another
    Hydra app's too) a few folders above a checkpoint moved away from its run is not its run's.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / RUN_CONFIG_NAME).write_text("learning_rate: 0.1\\n")
        >>> _is_run_folder(folder)
        False
        >>> run_config = "data: {name: iris}\\nloss: {name: nll}\\nseed: 0\\n"
        >>> _ = (folder / RUN_CONFIG_NAME).write_text(run_config)
        >>> _is_run_folder(folder)
        True
    """
    from lossbench.run_config_file import is_run_config

    return is_run_config(folder / RUN_CONFIG_NAME)


def resumed_run_dir(ckpt_path: str | os.PathLike) -> Path:
    """The folder of the run that wrote the checkpoint at ``ckpt_path``, as a resume reads it
    (its ``config.yaml``, its ``logs/metrics.csv``): its run folder (:func:`run_dir_of`) where
    that lies above the folder holding it, else the folder above that one (a checkpoint copied
    into a run's folder itself is not that run's: its own config decides).

        >>> resumed_run_dir("/nowhere/runs/a/checkpoints/last.ckpt")
        PosixPath('/nowhere/runs/a')
        >>> resumed_run_dir("/nowhere/copies/model.ckpt")
        PosixPath('/nowhere')
    """
    folder = Path(ckpt_path).expanduser().resolve().parent
    run = run_dir_of(ckpt_path)
    return run if run != folder else folder.parent


def predictions_record(path: Path) -> Path:
    """The record of the checkpoint that wrote the predictions CSV file ``path``, next to it.

    >>> predictions_record(Path("out/predictions.csv"))
    PosixPath('out/predictions.csv.lossbench.json')
    """
    return path.with_name(path.name + RECORD_SUFFIX)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_predictions_record(path: Path) -> bool:
    """Whether ``path`` is a record :func:`write_predictions_record` wrote (a JSON object with
    ``checkpoint`` and ``sha256``)."""
    content = json.loads(path.read_text(encoding="utf-8"))
    return isinstance(content, dict) and {"checkpoint", "sha256"} <= set(content)


def write_predictions_record(path: Path, checkpoint: str | os.PathLike) -> Path:
    """Record, next to the predictions CSV file ``path`` just written, the checkpoint that
    wrote it and the SHA-256 of its content (whole or not at all: :func:`written_whole`).

        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "predictions.csv"
        >>> _ = out.write_text("p_y,pred_y\\n0.9,1\\n")
        >>> write_predictions_record(out, "/runs/a/best.ckpt").name
        'predictions.csv.lossbench.json'
        >>> is_predictions_csv(out, ["p_y", "pred_y"], "/runs/a/best.ckpt")
        True
        >>> is_predictions_csv(out, ["p_y", "pred_y"], "/runs/b/best.ckpt")
        False
    """
    record = predictions_record(path)
    content = {"checkpoint": str(Path(checkpoint).expanduser().resolve()), "sha256": _sha256(path)}
    with written_whole(record, encoding="utf-8") as handle:
        handle.write(json.dumps(content, indent=2) + "\n")
    return record


def is_predictions_csv(path: Path, columns: Sequence[str], checkpoint: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``lossbench-predict`` CSV file of ``checkpoint``: its header is
    exactly ``columns`` (``p_<label>`` ..., then ``predicted`` or ``pred_<label>`` ...), and
    its record (:func:`predictions_record`) names ``checkpoint`` and the SHA-256 of the file as
    it is (a file edited since, or written by a release that kept no record, is not ours)."""
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if header != list(columns):
        return False
    record = predictions_record(path)
    if not record.is_file() or not is_predictions_record(record):
        return False
    content = json.loads(record.read_text(encoding="utf-8"))
    return content["sha256"] == _sha256(path) and _same_file(content["checkpoint"], checkpoint)


def is_label_maps(path: Path, checkpoint: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``lossbench-predict`` archive of label maps of ``checkpoint``
    (``.npz`` with ``probabilities``, ``predicted`` and ``checkpoint``, which names it; an
    archive of an earlier release, without ``checkpoint``, is not recognised)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if not {"probabilities.npy", "predicted.npy", "checkpoint.npy"} <= names:
            return False
        with archive.open("checkpoint.npy") as handle:
            import numpy as np

            recorded = np.lib.format.read_array(handle, allow_pickle=False)
    return recorded.shape == () and _same_file(str(recorded), checkpoint)
