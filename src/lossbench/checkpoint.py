"""Checkpoints: load them safely, read what lossbench stores in them, and check a resume.

    >>> ckpt = load_checkpoint("outputs/runs/<run>/checkpoints/last.ckpt")  # doctest: +SKIP
    >>> ckpt["lossbench_metadata"]["feature_names"][:2]  # doctest: +SKIP
    ['mean radius', 'mean texture']

Every checkpoint is read with ``torch.load(..., weights_only=True)``: only tensors, plain
Python containers, strings and numbers are unpickled. Unpickling anything else can run
arbitrary code, so such a file is refused (:class:`CheckpointError`) instead of trusted.
lossbench's own checkpoints hold nothing else: besides Lightning's entries (weights, optimizer
and loop state, hyper-parameters as plain dicts), :class:`lossbench.module.ClassifierModule`
stores (the keys: :mod:`lossbench.checkpoint_format`)

- ``lossbench_history``: every metric per epoch (the ``history`` of ``metrics.json``), as JSON
  text (one string pickles in microseconds; thousands of floats do not): read it with
  :func:`~lossbench.checkpoint_format.history`;
- ``lossbench_metadata``: what prediction needs without the training data: the task, head,
  loss and link, the feature columns, the training split's preprocessing (``feature_mean``,
  ``feature_scale`` of the numeric columns, ``categories`` of the categorical ones, ``fill``:
  imputed values; of a dense task's images, mean and scale per channel and ``input_shape``, their
  channels, height and width), the label names and the classes (:func:`metadata`), and
  ``split_sha256``: a SHA-256 of each split's rows, which ``lossbench-eval`` compares;
- ``lossbench_rng``: the random number generator states, so that a resumed run draws the same
  dropout masks as an uninterrupted one (:func:`rng_states`);
- ``lossbench_processes``: the processes that trained the run (Lightning's world size), which a
  resume compares with its own where a one-cycle schedule spans the run (:func:`check_resume`).

Importing this module imports no torch (the functions that need it import it), so that the
commands read :class:`CheckpointError` and the keys of a checkpoint before any work starts.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lossbench.checkpoint_format import (
    DATA_KEYS,
    EPOCH_KEY,
    HISTORY_KEY,
    INPUT_SHAPE_KEY,
    LR_SCHEDULERS_KEY,
    METADATA_KEY,
    OPTIONAL_DATA_KEYS,
    PROCESSES_KEY,
    RESUME_KEYS,
    RNG_KEY,
    RUN_CONFIG_KEY,
    TRAINING_STATE_KEYS,
    WEIGHTS_KEY,
    history,
    unsupported_global,
)
from lossbench.checkpoint_owner import stored_run_dir, written_by
from lossbench.errors import UserInputError
from lossbench.output_files import resumed_run_dir
from lossbench.schedulers import (
    ScheduleChange,
    batches_per_epoch,
    resume_schedule_change,
    schedule_change_error,
)

__all__ = [
    "DATA_KEYS",
    "HISTORY_KEY",
    "METADATA_KEY",
    "OPTIONAL_DATA_KEYS",
    "RESUME_KEYS",
    "RNG_KEY",
    "TRAINING_STATE_KEYS",
    "CheckpointError",
    "check_resume",
    "epoch_end_checkpoint",
    "history",
    "hyperparameters",
    "load_checkpoint",
    "metadata",
    "restore_rng_states",
    "resume_instead",
    "resume_path",
    "rng_states",
    "unsupported_global",
    "within_epoch_note",
]

_TRUST = (
    "Only load checkpoints you trust; a file you trust can be re-saved with tensors, lists, "
    "dicts, strings and numbers only (e.g. convert numpy arrays with torch.from_numpy or "
    ".tolist()), which loads with weights_only=True."
)


class CheckpointError(UserInputError):
    """A checkpoint that is missing, unreadable, unsafe to unpickle, or not the one needed."""

    #: Of a checkpoint refused as unsafe to unpickle: the import path of the object it holds
    #: (:func:`unsupported_global`), or ``"an object"`` where torch names none; else None.
    held: str | None = None


def load_checkpoint(
    path: str | os.PathLike, *, map_location: Any = "cpu", mmap: bool = False
) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path: the ``.ckpt`` file.
        map_location: where tensors go (default: the CPU).
        mmap: map the file's tensors into memory instead of reading them
            (``torch.load(mmap=True)``): only the pickled entries are read, and a tensor's data
            only where it is used. For reading what a checkpoint stores beside its weights (its
            ``epoch``, ``global_step``, run config) from files of any size; a file of torch's
            legacy format (not a zip archive), which cannot be mapped, is read whole.

    Returns:
        The checkpoint dictionary.

    Raises:
        CheckpointError: the file does not exist, is not a torch checkpoint (empty, truncated,
            another format), or needs unpickling arbitrary Python objects; the message names
            the file, says why and how to fix it.
    """
    given = str(path)
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise CheckpointError(
            f"checkpoint {given!r} {what} ({path.resolve()}). Give the path of a .ckpt file, "
            "e.g. outputs/runs/<run>/checkpoints/last.ckpt or the best-epochNNN.ckpt next to it."
        )
    if not _torch_file(path):
        raise _unreadable(
            given, path, "neither a zip archive nor a pickle, which torch.save writes"
        )
    import torch

    try:
        mapped = mmap and zipfile.is_zipfile(path)
        checkpoint = torch.load(
            path, map_location=map_location, weights_only=True, mmap=mapped or None
        )
    except pickle.UnpicklingError as error:
        text = str(error)
        if "Weights only load failed" not in text:
            raise _unreadable(given, path, text) from None
        found = unsupported_global(text)
        holds = f"it holds a {found!r} object" if found else "it holds non-tensor objects"
        refusal = CheckpointError(
            f"refused to load checkpoint {given!r}: {holds}, and unpickling arbitrary Python "
            "objects can execute code, so lossbench only loads tensors, plain containers, "
            f"strings and numbers (torch.load with weights_only=True). {_TRUST}"
        )
        refusal.held = found or "an object"
        raise refusal from None
    except (RuntimeError, OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise _unreadable(given, path, f"{type(error).__name__}: {error}") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {given!r} holds a {type(checkpoint).__name__}, not a checkpoint "
            "dictionary. Give a .ckpt file written by lossbench-train."
        )
    return checkpoint


def _torch_file(path: Path) -> bool:
    """Whether ``path`` starts as a file of ``torch.save`` does: a zip archive (torch >= 1.6)
    or a pickle (protocol 2 or later: byte 0x80), so text is not mistaken for unsafe objects."""
    with path.open("rb") as handle:
        head = handle.read(4)
    return head.startswith((b"PK\x03\x04", b"\x80"))


def _unreadable(given: str, path: Path, detail: str) -> CheckpointError:
    """The refusal of the unreadable checkpoint ``path`` (given as ``given``), naming the other
    checkpoints beside it, which the fix can use instead.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with zipfile.ZipFile(folder / "best-epoch002.ckpt", "w") as archive:
        ...     archive.writestr("best-epoch002/data.pkl", b"\\x80\\x02}q\\x00.")
        >>> whole = (folder / "best-epoch002.ckpt").read_bytes()
        >>> _ = (folder / "last.ckpt").write_bytes(whole[: len(whole) // 2])  # cut short
        >>> _ = (folder / "best-epoch001.ckpt").write_bytes(whole[:-1])  # so is this one
        >>> message = str(_unreadable("last.ckpt", folder / "last.ckpt", "EOFError"))
        >>> message.split("; ")[0]
        "checkpoint 'last.ckpt' is not a readable torch checkpoint (EOFError)"
        >>> message.split(". ")[-1].replace(str(folder), "<run>/checkpoints")
        'Use another checkpoint: <run>/checkpoints/best-epoch002.ckpt.'
    """
    detail = detail.strip().splitlines()[0] if detail.strip() else "empty file"
    others = _other_checkpoints(path)
    fix = (
        f"Use another checkpoint: {', '.join(str(other) for other in others)}."
        if others
        else f"No other checkpoint is beside it in {path.resolve().parent}: give the path of "
        "another run's .ckpt file (a run's checkpoints/last.ckpt or best-epochNNN.ckpt), or "
        "train the run again."
    )
    return CheckpointError(
        f"checkpoint {given!r} is not a readable torch checkpoint ({detail}); it may be "
        f"truncated (a run killed while writing it) or another kind of file. {fix}"
    )


def _whole_archive(path: Path) -> bool:
    """Whether ``path`` is a whole archive of ``torch.save``'s (torch >= 1.6; Lightning's
    checkpoints): a zip file whose central directory, at the file's end, lists the pickle
    ``<name>/data.pkl``. A file cut short (a run killed while writing it) lacks that directory.
    Cheap: only the directory is read, no tensor."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return any(name == "data.pkl" or name.endswith("/data.pkl") for name in names)


def _other_checkpoints(path: Path, limit: int = 4) -> list[Path]:
    """Up to ``limit`` other ``.ckpt`` files in ``path``'s folder that are whole archives of
    ``torch.save``'s (:func:`_whole_archive`; a truncated one is never suggested), the newest
    first."""
    try:
        found = [
            other
            for other in path.parent.glob("*.ckpt")
            if other.is_file() and other.resolve() != path.resolve() and _whole_archive(other)
        ]
        found.sort(key=lambda other: other.stat().st_mtime, reverse=True)
    except OSError:
        return []
    return found[:limit]


def hyperparameters(checkpoint: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """The ``ClassifierModule`` arguments stored in a lossbench checkpoint."""
    hparams = checkpoint.get("hyper_parameters")
    if (
        not isinstance(hparams, Mapping)
        or not set(RESUME_KEYS) <= set(hparams)
        or "state_dict" not in checkpoint
    ):
        raise CheckpointError(
            f"checkpoint {str(path)!r} was not written by lossbench-train: it lacks the "
            f"model's hyper-parameters ({', '.join(RESUME_KEYS)}) or its weights. Give a "
            "checkpoint from a lossbench run directory (checkpoints/*.ckpt)."
        )
    return {key: hparams[key] for key in RESUME_KEYS}


def metadata(checkpoint: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """``lossbench_metadata`` of a checkpoint, refusing one without the data part.

    Keys: ``task``, ``head``, ``loss``, ``link``, and from the data ``feature_names``,
    ``feature_mean``, ``feature_scale``, ``label_names``, ``classes``.
    """
    hyperparameters(checkpoint, path)
    meta = checkpoint.get(METADATA_KEY)
    if not isinstance(meta, Mapping) or not all(meta.get(key) is not None for key in DATA_KEYS):
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not store the preprocessing of its training data "
            "(feature names, standardisation, classes): it was written by an older lossbench, "
            "or by a Trainer outside lossbench-train. Retrain with lossbench-train, or evaluate "
            "it on its run's data with lossbench-eval."
        )
    return dict(meta)


def check_finite_weights(checkpoint: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Refuse a checkpoint whose weights hold NaN or infinite values: every score, probability
    and metric of the model would be NaN. lossbench-train writes none (a run whose weights turn
    non-finite fails before its epoch is checkpointed); an older lossbench's run could.

        >>> import torch
        >>> check_finite_weights({"state_dict": {"w": torch.ones(2)}}, "ok.ckpt")
        >>> check_finite_weights({"state_dict": {"w": torch.tensor([1.0, float("nan")])}}, "x")
        Traceback (most recent call last):
        lossbench.checkpoint.CheckpointError: checkpoint 'x' holds NaN or infinite weights (w: 1 of 2 values): ...
    """  # noqa: E501
    import torch

    bad = {
        name: int((~torch.isfinite(value)).sum())
        for name, value in checkpoint["state_dict"].items()
        if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()
    }
    if not bad:
        return
    state = checkpoint["state_dict"]
    where = ", ".join(f"{name}: {n} of {state[name].numel()} values" for name, n in bad.items())
    raise CheckpointError(
        f"checkpoint {str(path)!r} holds NaN or infinite weights ({where}): the run that "
        "wrote it diverged, and every probability it gives would be NaN. Use a checkpoint of "
        "an earlier epoch of that run (its checkpoints/best-epochNNN.ckpt), or train it again "
        "with a smaller optimizer.lr (or trainer.gradient_clip_val=1.0)."
    )


# ------------------------------------------------------------------------------ RNG states


def rng_states() -> dict[str, Any]:
    """The torch random number generator states (CPU, and CUDA when in use), as tensors."""
    import torch

    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Set the states that :func:`rng_states` returned (CUDA only with as many devices)."""
    import torch

    if "torch" in states:
        torch.set_rng_state(states["torch"].cpu())
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


# --------------------------------------------------------------------------------- resume


#: Why a run's directory can hold a best checkpoint and no ``last.ckpt``.
NO_LAST_CHECKPOINT = (
    "last.ckpt is written at each epoch's end (checkpoint.write=every_epoch, the default), so a "
    "run stopped within its first epoch has none; checkpoint.write=at_end writes it only when "
    "training ends, checkpoint.save_last=false never"
)


def saved_within_epoch(path: Path) -> int | None:
    """The epoch within which the checkpoint ``path`` was saved (at a validation before the
    epoch's end, or where ``trainer.max_steps`` ended a run): a run cannot be resumed from it.
    None for a checkpoint of an epoch's end, and for one that cannot be read (resuming from
    it says why). Only its counters are read: its tensors are mapped, not loaded."""
    try:
        checkpoint = load_checkpoint(path, mmap=True)
    except CheckpointError:
        return None
    from lossbench.lightning_internals import batches_within_epoch  # Lightning's loop state

    return checkpoint.get(EPOCH_KEY) if batches_within_epoch(checkpoint) else None


def epoch_end_checkpoint(folder: Path, besides: Path | None = None) -> tuple[Path, int] | None:
    """The newest checkpoint in ``folder`` (a run's ``checkpoints/``) that a run can be resumed
    from: saved at an epoch's end, with the training state, and whole; with its optimizer steps
    (``global_step``). None where there is none; ``besides``: a file to leave out. Each file's
    tensors are mapped, not loaded: a folder of large files is read quickly.

        >>> epoch_end_checkpoint(Path("no/such/checkpoints")) is None
        True
    """
    from lossbench.lightning_internals import batches_within_epoch  # Lightning's loop state

    found: list[tuple[int, float, Path]] = []
    try:
        files = [f for f in folder.glob("*.ckpt") if f.is_file() and _whole_archive(f)]
    except OSError:
        return None
    for file in files:
        if besides is not None and file.resolve() == besides.resolve():
            continue
        try:
            checkpoint = load_checkpoint(file, mmap=True)
        except CheckpointError:
            continue
        if batches_within_epoch(checkpoint) or not all(
            k in checkpoint for k in TRAINING_STATE_KEYS
        ):
            continue
        steps = int(checkpoint.get("global_step", 0))
        found.append((steps, file.stat().st_mtime, file))
    if not found:
        return None
    steps, _, file = max(found)
    return file, steps


def resume_instead(path: Path) -> str:
    """What to resume from instead of ``path``, a checkpoint saved within an epoch: the newest
    checkpoint of its folder saved at an epoch's end (:func:`epoch_end_checkpoint`), or how to
    train anew where there is none.

    Where none is left, the message names the checkpoints the run kept: an epoch-end
    ``last.ckpt`` is overwritten where a cap ends the run within an epoch, and a best
    checkpoint may come from a validation within an epoch.

        >>> print(resume_instead(Path("no/such/checkpoints/last.ckpt"))[:56])
        Its run kept no checkpoint saved at an epoch's end (none
    """
    found = epoch_end_checkpoint(path.parent, besides=path)
    if found is None:
        try:
            kept = sorted(f for f in path.parent.glob("*.ckpt") if f.is_file())
        except OSError:
            kept = []
        if not kept:
            return (
                "Its run kept no checkpoint saved at an epoch's end (none is left in "
                f"{str(path.parent)!r}): train a new run in another directory, without ckpt_path"
            )
        reasons: dict[str, list[str]] = {}
        for file in kept:
            reasons.setdefault(_not_resumable(file), []).append(file.name)
        told = "; ".join(
            f"{_and(names)} {'were' if len(names) > 1 else 'was'} {why}"
            for why, names in reasons.items()
        )
        return (
            f"None of the checkpoints its run kept was saved at an epoch's end ({told}): "
            "train a new run in another directory, without ckpt_path"
        )
    file, steps = found
    return (
        f"Resume from {str(file)!r} instead, its run's newest checkpoint saved at an epoch's "
        f"end (after {steps} optimizer steps; the steps after it are trained again, to the "
        "same result)"
    )


def _not_resumable(file: Path) -> str:
    """Why a run cannot be resumed from ``file``, which :func:`epoch_end_checkpoint` passed
    over."""
    if not _whole_archive(file):
        return "cut short (an incomplete file)"
    try:
        checkpoint = load_checkpoint(file)
    except CheckpointError:
        return "unreadable"
    from lossbench.lightning_internals import batches_within_epoch  # Lightning's loop state

    if batches_within_epoch(checkpoint):
        return "saved within an epoch"
    return "saved without the training state (the weights only)"


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def within_epoch_note(last: Path) -> str:
    """For the still-improving warning of a run whose cap (``trainer.max_steps``, a time
    limit) ended it within an epoch: its ``last.ckpt`` was saved there, which a resume cannot
    continue, and what to resume from instead (:func:`resume_instead`). "" for a
    ``last.ckpt`` of an epoch's end, or none.

        >>> within_epoch_note(Path("no/such/checkpoints/last.ckpt"))
        ''
    """
    if not last.is_file() or saved_within_epoch(last) is None:
        return ""
    instead = resume_instead(last)
    return (
        f" Its last.ckpt was saved within an epoch, where the cap ended the run, and a resume "
        f"cannot continue it: {instead[0].lower()}{instead[1:]}."
    )


def resume_path(
    ckpt_path: str | None,
    output_dir: str | os.PathLike,
    dirpaths: Mapping[str, Path] | None = None,
) -> Path | None:
    """The checkpoint that ``ckpt_path`` names: ``last`` is the run's last checkpoint, as
    Lightning's ``ckpt_path="last"`` is the last one any ``ModelCheckpoint`` of the trainer
    saved: ``<output_dir>/checkpoints/last.ckpt`` (lossbench's own), or a ``last.ckpt`` (or
    Lightning's ``last-v1.ckpt``, ...) in the folder of a checkpoint callback of the config,
    ``dirpaths`` (by entry name: :func:`lossbench.instantiators.checkpoint_dirpaths`; a
    relative ``dirpath`` is in the run's folder), such as ``+callbacks.mc.save_last=true``
    writes.

    In a folder outside ``output_dir`` (an absolute ``dirpath``, which the jobs of a sweep
    may share) only a checkpoint this run wrote is taken: one whose stored config names
    ``output_dir`` as its run's folder (:func:`lossbench.checkpoint_owner.written_by`).

    Where there are several (a run that trained with lossbench's checkpoints and was then
    resumed with a ``ModelCheckpoint`` in their place), the one that has trained furthest is
    taken: the highest epoch, then optimizer step, that it stores, then the newest file.
    Lightning takes the newest file alone, but a file's time changes when it is copied or
    restored from a backup, and the training a checkpoint holds does not: resuming continues
    the run from the furthest point it reached, and never trains epochs again over a later
    checkpoint.

    Raises:
        CheckpointError: ``ckpt_path=last`` but none of those folders holds a ``last.ckpt``
            (an interrupted ``checkpoint.write=at_end`` run leaves only its best checkpoint:
            the message names it), or only a folder outside the run's holds one, written by
            another run (the message names each file and its run); or a ``last.ckpt`` among
            several cannot be read.
    """
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        return Path(ckpt_path).expanduser()
    last = Path(output_dir) / "checkpoints" / "last.ckpt"
    candidates, foreign = _last_checkpoints(last, dirpaths or {}, Path(output_dir))
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        return max(candidates, key=_trained_so_far)
    if foreign:
        raise CheckpointError(_only_other_runs(foreign, Path(output_dir)))
    best = sorted(last.parent.glob("best-epoch*.ckpt"))
    if best:
        within = saved_within_epoch(best[-1])
        resume = (
            f"Continue from the best epoch with ckpt_path={best[-1]}, or start afresh in "
            "another directory; to resume from the last epoch after an interruption, train "
            "with checkpoint.write=every_epoch (the default)."
            if within is None
            else f"{best[-1].name} was saved within epoch {within} (at a validation before "
            "the epoch's end), which a run cannot be resumed from: start afresh in another "
            "directory (the checkpoint still serves lossbench-eval and lossbench-predict)."
        )
        raise CheckpointError(
            f"ckpt_path=last: there is no {last} to resume from, only the best epoch's "
            f"{best[-1].name} ({NO_LAST_CHECKPOINT}). {resume}"
        )
    others = {
        name: folder
        for name, folder in (dirpaths or {}).items()
        if folder.resolve() != last.parent.resolve()
    }
    searched = "".join(
        f", and callbacks.{name}'s dirpath {folder.resolve()} none"
        for name, folder in others.items()
    )
    raise CheckpointError(
        f"ckpt_path=last: there is no {last} to resume from (the run directory "
        f"{Path(output_dir).resolve()} holds no checkpoints/last.ckpt{searched}: it is not the "
        "directory of an earlier run, or that run stopped before its first epoch ended"
        + (
            ", or wrote no last checkpoint (a ModelCheckpoint writes one with save_last=true)"
            if others
            else ""
        )
        + "). Give the earlier run's directory with hydra.run.dir=<run dir>, a checkpoint "
        "with ckpt_path=<file>, or start afresh without ckpt_path."
    )


#: A last checkpoint in a checkpoint callback's folder outside the run's that ``ckpt_path=last``
#: passed over: the callback's entry name, the file, and why it is not the run's.
Foreign = tuple[str, Path, str]


def _last_checkpoints(
    own: Path, dirpaths: Mapping[str, Path], run_dir: Path
) -> tuple[list[Path], list[Foreign]]:
    """The last checkpoints that ``ckpt_path=last`` may resume (:func:`resume_path`): ``own``
    (``<run>/checkpoints/last.ckpt``) where it exists, and in each folder of ``dirpaths`` the
    files Lightning's ``ModelCheckpoint`` names as its last (``last.ckpt``, ``last-v1.ckpt``
    where a run started in a folder that held one), each once; with the last checkpoints
    passed over as other runs' (:data:`Foreign`).

    A folder inside ``run_dir`` is the run's own. A folder outside it (an absolute
    ``dirpath``, which every job of a sweep may share) holds other runs' files too: there only
    a checkpoint this run wrote is taken, one whose stored config names ``run_dir`` as its
    run's folder (:func:`lossbench.checkpoint_owner.written_by`)."""
    found: dict[Path, Path] = {}
    foreign: list[Foreign] = []
    if own.is_file():
        found[own.resolve()] = own
    inside = run_dir.resolve()
    for name, folder in dirpaths.items():
        if folder.resolve() == own.parent.resolve():
            continue  # lossbench's own folder: its last.ckpt alone, as before
        shared = not folder.resolve().is_relative_to(inside)
        for path in sorted(folder.glob("last*.ckpt")):
            if not path.is_file() or path.resolve() in found:
                continue
            if shared:
                try:  # its run config alone: no tensor is read
                    checkpoint = load_checkpoint(path, mmap=True)
                except CheckpointError:
                    foreign.append((name, path, "it cannot be read"))
                    continue
                if not written_by(checkpoint, run_dir):
                    stored = stored_run_dir(checkpoint)
                    whose = (
                        "it names no run folder"
                        if stored is None
                        else f"written by the run in {stored}"
                    )
                    foreign.append((name, path, whose))
                    continue
            found[path.resolve()] = path
    return list(found.values()), foreign


def _only_other_runs(foreign: list[Foreign], run_dir: Path) -> str:
    """The refusal of ``ckpt_path=last`` where the only last checkpoints found are other runs'
    (``foreign``), in a folder outside the run's folder ``run_dir``."""
    folders = {name: path.parent.resolve() for name, path, _ in foreign}
    where = _and([f"callbacks.{name}'s dirpath {folder}" for name, folder in folders.items()])
    files = "; ".join(f"{path.name} ({why})" for _, path, why in foreign)
    entry = foreign[0][0]
    return (
        f"ckpt_path=last: the run in {run_dir.resolve()} has no last checkpoint of its own to "
        f"resume: {where} lies outside the run's folder and holds only other runs' last "
        f"checkpoints ({files}). Several runs that share one dirpath "
        "(the jobs of a sweep given the same absolute dirpath) write there, and another run's "
        "checkpoint would continue its training as this run's. Give this run's checkpoint with "
        "ckpt_path=<file>, or start it without ckpt_path; to keep each run's files apart, give "
        f"a dirpath relative to the run's folder (+callbacks.{entry}.dirpath=ckpts) or "
        f"+callbacks.{entry}.dirpath='${{hydra:runtime.output_dir}}/ckpts'."
    )


def _trained_so_far(path: Path) -> tuple[int, int, float]:
    """How far the training a checkpoint holds went: its epoch, its optimizer step, then the
    file's time (:class:`CheckpointError` where it cannot be read; no tensor is read)."""
    checkpoint = load_checkpoint(path, mmap=True)
    return (
        int(checkpoint.get("epoch", -1)),
        int(checkpoint.get("global_step", 0)),
        path.stat().st_mtime,
    )


#: What a resumed run may set otherwise than the run that wrote its checkpoint: how long it
#: trains (``trainer.*``), where and what it writes (``paths``, ``logger``, ``checkpoint.write``,
#: the progress bar and model summary) and which runner fits it (every runner gives the same
#: results). Anything else (the seed, the batch size, a scheduler, early stopping, the monitored
#: metric, ...) would make the record describe another training than the one that ran.
RESUME_MAY_CHANGE = (
    "trainer",
    "ckpt_path",
    "hydra",
    "paths",
    "logger",
    "runner",
    "checkpoint.write",
    "callbacks.model_checkpoint.write",
    "callbacks.model_checkpoint.dirpath",
    "callbacks.progress_bar",
    "callbacks.model_summary",
)


#: What a refusal to resume says may change (:data:`RESUME_MAY_CHANGE`, and the limits that
#: :func:`lossbench.schedulers.resume_schedule_error` sets).
MAY_CHANGE_TEXT = (
    "only how long it trains (trainer.*, unless a learning-rate schedule spans the run), "
    "where and what it writes (paths, logger, checkpoint.write) and the runner may change"
)

#: One entry of a refusal to resume: the settings it names, and what differs in them
#: (``key: checkpoint ..., config ...``).
Difference = tuple[tuple[str, ...], str]


def check_resume(
    checkpoint: Mapping[str, Any],
    path: str | os.PathLike,
    hparams: Mapping[str, Any],
    preprocessing: Mapping[str, Any] | None,
    *,
    config: Mapping[str, Any] | None = None,
    saved: Mapping[str, Any] | None = None,
    train_rows: int | None = None,
    world_size: int = 1,
    ended: bool = False,
) -> None:
    """Refuse to resume from a checkpoint of another training than ``config`` describes, or
    from one that holds the weights but not the training state, or (unless ``ended``) from one
    saved within an epoch.

    Resuming restores the weights and the optimizer state (its learning rate included) and
    continues that training, so the model, loss, optimizer and data must be the checkpoint's
    (``hparams`` and ``preprocessing``: those of the module built for the resume), and so must
    every setting outside :data:`RESUME_MAY_CHANGE` of the run that wrote it (the seed, the
    batch size, the scheduler, ...). One refusal names every
    difference, in the order of the settings' names.

    ``config``: the resolved config (plain containers); ``saved``: the config of the run that
    wrote the checkpoint (default: its run directory's ``config.yaml``, next to
    ``checkpoints/``). Without ``config``, or without that config (a checkpoint copied
    elsewhere), only the checkpoint's hyper-parameters and data are compared (and, given
    ``config``, its one-cycle schedule's steps, below). With both,
    training data that differs is explained by the ``data.*`` settings that changed
    (``data.split_seed``: another split standardises with another mean), or said to have
    changed itself. ``train_rows``: the training split's rows, and ``world_size``: the
    processes of the resumed run as Lightning resolved them (each takes its share of the
    rows), with which one-cycle settings that keep the optimizer steps its schedule was built
    over (stored in the checkpoint) are accepted. The same settings can resolve to other
    processes than the checkpoint's run had (``trainer.devices=auto`` on other hardware; the
    checkpoint stores its own, :data:`~lossbench.checkpoint_format.PROCESSES_KEY`): where the
    resumed run would then take another number of optimizer steps than its one-cycle schedule
    spans, it is refused too. ``ended``: the checkpoint's run had ended where it was saved and
    the resume only finishes it (:func:`lossbench.ended_runs.finishes_unrecorded_run`): no epoch is
    continued, so one saved within an epoch (where ``trainer.max_steps`` or a time limit ended
    the run) is accepted.

        >>> check_resume(load_checkpoint(p), p, module.hparams, module.preprocessing,
        ...              config=resolved, train_rows=rows, world_size=2)  # doctest: +SKIP

    Raises:
        CheckpointError: naming each differing setting with the checkpoint's (or its run's)
            value and the config's (a ``trainer.*`` change that a learning-rate schedule
            spanning the run cannot follow, or processes that change its optimizer steps, alone:
            its own refusal, :func:`lossbench.schedulers.resume_schedule_error`,
            :func:`lossbench.schedulers.processes_change`); or naming the missing entries
            (:data:`TRAINING_STATE_KEYS`) of a checkpoint written with the weights only.
    """
    missing = [key for key in TRAINING_STATE_KEYS if key not in checkpoint]
    if missing and WEIGHTS_KEY in checkpoint:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: it holds the model's weights but not the "
            f"training state that resuming restores (no {', '.join(missing)}): it was written "
            "with weights only, or by a vectorized group of an older lossbench. It still serves "
            "lossbench-eval and lossbench-predict; to train on, start a new run without "
            "ckpt_path (or resume from the run's last.ckpt if it has one with that state)."
        )
    from lossbench.lightning_internals import batches_within_epoch  # Lightning's loop state

    within = 0 if ended else batches_within_epoch(checkpoint)
    if within:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: it was saved within epoch "
            f"{checkpoint.get(EPOCH_KEY)}, after {within} of its training batches (at a "
            "validation before the epoch's end, trainer.val_check_interval, or where "
            "trainer.max_steps ended the run), and a resumed run cannot continue that epoch "
            "as the run that wrote it did: the epoch's other batches and its training metrics "
            f"would differ. {resume_instead(Path(path))}, or use this checkpoint with "
            "lossbench-eval and lossbench-predict."
        )
    saved = None if config is None else _saved_config(path, saved, checkpoint)
    settings = None if config is None or saved is None else _setting_differences(config, saved)
    differences = _model_differences(checkpoint, path, hparams)
    differences += _data_differences(checkpoint, preprocessing, settings)
    named = {name for names, _ in differences for name in names}
    differences += [((key,), text) for key, text in settings or [] if not _covered(key, named)]
    schedule = None
    if config is not None:  # without the run's config: no setting known to have changed
        schedule = _schedule_change(
            config,
            config if saved is None else saved,
            train_rows,
            world_size,
            steps_then=_scheduled_steps(checkpoint),
            processes_then=_recorded_processes(checkpoint),
        )
    _refuse(path, differences, schedule, config_file=saved is not None)


def _refuse(
    path: str | os.PathLike,
    differences: list[Difference],
    schedule: ScheduleChange | None,
    *,
    config_file: bool = True,
) -> None:
    """Raise the one refusal that names each of ``differences`` and the ``trainer.*`` settings
    of ``schedule`` (or None), in the order of their names; a schedule change alone has its own
    refusal. ``config_file``: the config of the run that wrote the checkpoint was compared (the
    fix names its ``config.yaml``)."""
    if schedule is not None and not differences:
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: {schedule_change_error(schedule)}"
        )
    if schedule is not None:
        differences = [*differences, _schedule_difference(schedule)]
    if not differences:
        return
    differences = sorted(differences, key=lambda difference: difference[0][0])
    names = [name for names, _ in differences for name in names]
    verb = "differs" if len(names) == 1 else "differ"
    values = "; ".join(text for _, text in differences)
    own = "its config.yaml"
    if config_file:
        own += f", {resumed_run_dir(path) / 'config.yaml'}"
    raise CheckpointError(
        f"cannot resume from {str(path)!r}: {', '.join(names)} {verb} from the run that wrote "
        f"it ({values}). A resumed run restores the weights and the optimizer state and "
        f"continues that training, so {MAY_CHANGE_TEXT}. Resume with the run's own overrides "
        f"({own}), or start a new run without ckpt_path."
    )


def _schedule_difference(change: ScheduleChange) -> Difference:
    """The entry of a schedule's ``change`` in a refusal that names other settings too."""
    if not change.settings:  # the same settings, other processes (trainer.devices=auto)
        then, now = change.processes or (None, 0)
        steps_then, steps_now = change.steps or (None, None)
        devices = dict(change.resolved).get("devices")
        was = "not recorded in the checkpoint" if then is None else f"{then} in its run"
        processes = f"{now} process" if now == 1 else f"{now} processes"
        return (
            ("trainer.devices",),
            f"trainer.devices: {devices!r} resolves to {processes} here ({was}), over "
            f"whose batches scheduler={change.scheduler} spreads its schedule ({steps_then} "
            f"optimizer steps in the checkpoint's run, {steps_now} with the config)",
        )
    names = tuple(f"trainer.{key}" for key, _, _ in change.settings)
    text = "; ".join(
        f"trainer.{key}: checkpoint's run {a!r}, config {b!r}" for key, a, b in change.settings
    )
    text += f", over which scheduler={change.scheduler} spreads its schedule"
    if change.steps is not None:
        then, now = change.steps
        text += f" ({then} optimizer steps in the checkpoint's run, {now} with the config)"
    return names, text


def _schedule_change(
    config: Mapping[str, Any],
    saved: Mapping[str, Any],
    train_rows: int | None = None,
    world_size: int = 1,
    *,
    steps_then: int | None = None,
    processes_then: int | None = None,
) -> ScheduleChange | None:
    """The ``trainer.*`` changes that a learning-rate schedule spread over the run cannot
    follow (:func:`lossbench.schedulers.resume_schedule_change`; given ``train_rows``, those
    that keep a one-cycle schedule's optimizer steps, ``steps_then``, are followed: each of
    the ``world_size`` processes trains on its share of the rows), or None. Without such a
    change, a ``world_size`` other than ``processes_then`` (the checkpoint's run's; None: not
    recorded) that changes those steps is one (:func:`lossbench.schedulers.processes_change`)."""
    scheduler, earlier = config.get("scheduler"), saved.get("scheduler")
    if not isinstance(scheduler, Mapping) or not isinstance(earlier, Mapping):
        return None
    if scheduler.get("name") != earlier.get("name"):
        return None  # named with the other changed settings
    batches = None
    if train_rows is not None:
        share = -(-train_rows // max(world_size, 1))  # padded to the same rows on every process
        batches = batches_per_epoch(share, (config.get("data") or {}).get("batch_size"))
    return resume_schedule_change(
        scheduler,
        saved.get("trainer") or {},
        config.get("trainer") or {},
        batches,
        steps_then=steps_then,
        processes=(processes_then, world_size),
    )


def _scheduled_steps(checkpoint: Mapping[str, Any]) -> int | None:
    """The optimizer steps that the checkpoint's one-cycle schedule was built over (its
    ``total_steps``), or None (another schedule, or none)."""
    schedulers = checkpoint.get(LR_SCHEDULERS_KEY) or []
    states = [state for state in schedulers if isinstance(state, Mapping)]
    steps = [state.get("total_steps") for state in states]
    return steps[0] if len(steps) == 1 and isinstance(steps[0], int) else None


def _recorded_processes(checkpoint: Mapping[str, Any]) -> int | None:
    """The processes that trained the checkpoint's run (:data:`PROCESSES_KEY`), or None (a
    checkpoint of an older lossbench)."""
    processes = checkpoint.get(PROCESSES_KEY)
    if isinstance(processes, int) and not isinstance(processes, bool) and processes >= 1:
        return processes
    return None


def _saved_config(
    path: str | os.PathLike, saved: Mapping[str, Any] | None, checkpoint: Mapping[str, Any]
) -> Any:
    """``saved``, else the ``config.yaml`` of the run directory of the checkpoint at ``path``
    (plain containers), else the config the checkpoint holds (:data:`RUN_CONFIG_KEY`: a copy
    away from its run), else None (an older lossbench's copy)."""
    if saved is not None:
        return saved
    saved_file = resumed_run_dir(path) / "config.yaml"
    if saved_file.is_file():
        from lossbench.record import read_run_config

        return read_run_config(saved_file)  # DamagedRunError where it cannot be read
    text = checkpoint.get(RUN_CONFIG_KEY)
    return json.loads(text) if isinstance(text, str) else None


def _may_change(key: str) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in RESUME_MAY_CHANGE)


def _covered(key: str, named: set[str]) -> bool:
    """Whether ``key`` (a config setting) is, or lies below, a setting already ``named``
    (``head.name`` below the hyper-parameter ``head``)."""
    return any(key == name or key.startswith(f"{name}.") for name in named)


def _setting_differences(
    config: Mapping[str, Any], saved: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The settings outside :data:`RESUME_MAY_CHANGE` that differ between the config of the
    run that wrote a checkpoint (``saved``) and ``config``, each with ``key: checkpoint's run
    a, config b``, sorted; settings only one of them has are not compared."""
    before, now = _flatten(saved, ""), _flatten(config, "")
    return [
        (key, f"{key}: checkpoint's run {before[key]!r}, config {now[key]!r}")
        for key in sorted(set(before) & set(now))
        if not _may_change(key) and before[key] != now[key]
    ]


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, tuple):
        value = list(value)
    return {prefix: value}


def _model_differences(
    checkpoint: Mapping[str, Any], path: str | os.PathLike, hparams: Mapping[str, Any]
) -> list[Difference]:
    """The hyper-parameters (:data:`RESUME_KEYS`: task, model, head, loss, optimizer, ...)
    that differ between the checkpoint and ``hparams``."""
    stored = _flatten(hyperparameters(checkpoint, path), "")
    wanted = _flatten({key: hparams[key] for key in RESUME_KEYS}, "")
    return [
        ((key,), f"{key}: checkpoint {stored.get(key)!r}, config {wanted.get(key)!r}")
        for key in sorted(set(stored) | set(wanted))
        if stored.get(key) != wanted.get(key)
    ]


def _data_differences(
    checkpoint: Mapping[str, Any],
    preprocessing: Mapping[str, Any] | None,
    settings: list[tuple[str, str]] | None,
) -> list[Difference]:
    """What differs between the checkpoint's training data and ``preprocessing`` (that of the
    data the config loads), explained by the ``data.*`` entries of ``settings`` (the settings
    that changed, :func:`_setting_differences`; None: unknown)."""
    meta = checkpoint.get(METADATA_KEY) or {}
    if preprocessing is None or not all(meta.get(key) is not None for key in DATA_KEYS):
        return []
    data = [key for key in DATA_KEYS if list(meta[key]) != list(preprocessing[key])]
    data += [
        key
        for key in OPTIONAL_DATA_KEYS
        if dict(meta.get(key) or {}) != dict(preprocessing.get(key) or {})
    ]
    shapes = meta.get(INPUT_SHAPE_KEY), preprocessing.get(INPUT_SHAPE_KEY)
    shape = None
    if None not in shapes and list(shapes[0]) != list(shapes[1]):
        shape = f"checkpoint {shapes[0]!r}, config {shapes[1]!r}"
    if not data and not shape:
        return []
    changed = None
    if settings is not None:
        changed = [(key, text) for key, text in settings if key.startswith("data.")]
    return _data_difference(data, shape, changed)


def _data_difference(
    data: list[str], shape: str | None, settings: list[tuple[str, str]] | None
) -> list[Difference]:
    """What differs in the training data (``data``: the preprocessing entries; ``shape``: the
    input shapes, ``checkpoint ..., config ...``), and why where the ``data.*`` settings of
    both runs are known (``settings``: those that changed, with their text; ``[]``: none did)."""
    if settings:
        entries = ", ".join([*data, *([INPUT_SHAPE_KEY] if shape else [])])
        changed = "; ".join(text for _, text in settings)
        names = tuple(key for key, _ in settings)
        return [
            (names, f"{changed}, so {entries} of the training data differ from the checkpoint's")
        ]
    lines = [
        ((f"data {key}",), f"data {key}: differs from the checkpoint's training data")
        for key in data
    ]
    if shape:
        lines.append(((f"data {INPUT_SHAPE_KEY}",), f"data {INPUT_SHAPE_KEY}: {shape}"))
    if settings is not None:  # the same data.* settings: the file itself changed
        names, text = lines[-1]
        lines[-1] = (
            names,
            f"{text} (with the same data.* settings: the data file changed since that run)",
        )
    return lines
