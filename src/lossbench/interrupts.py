"""Stopping a command on Ctrl-C or SIGTERM: promptly, with one line, and nothing written lost.

A study's worker processes ignore Ctrl-C (:func:`lossbench.vectorized.sweep.prepare_worker`:
the process that started them stops them) and would train every task handed over before the
sweep ended; SIGTERM kills only the process it is sent to. So while a launcher's workers
train, :func:`terminated_as_interrupt` makes SIGTERM raise :class:`Terminated` (a
``KeyboardInterrupt``) in the launching process, and the launcher stops its workers on either
(``TaskPool.kill``). The console entry point then ends on :func:`stopped`: one line that says
what is kept and how to resume, exit status 130 (Ctrl-C) or 143 (SIGTERM), as a shell reports
a command killed by those signals. ``lossbench-eval`` and ``lossbench-predict`` do their work
(a Lightning ``Trainer.test``, predictions, writing their one output file) inside
:func:`stopping`, which ends them the same way on either signal; ``lossbench-report`` does its
work under :func:`terminated_as_interrupt` and holds a stop (:func:`stops_held`) while it moves
a finished report into place, so that it ends on one line too, with :func:`report_kept`.
``lossbench-train`` runs whole under :func:`command_stops`: SIGTERM stops it as Ctrl-C does at
any moment, its checks of the command line and its exit included (within a fit, Lightning
stops on SIGTERM at its next step: :func:`fit_interrupts`).

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     try:
    ...         stopped(Terminated())
    ...     except SystemExit as stop:
    ...         print(stop.code)
    143
    >>> err.getvalue().split(".")[0]
    'lossbench: terminated (SIGTERM)'
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), and by SIGTERM (128 + 15).
INTERRUPTED_EXIT = 130
TERMINATED_EXIT = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises ``KeyboardInterrupt`` (see
    :func:`terminated_as_interrupt`)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    if _IN_COMMAND:  # under command_stops: once (_interrupt_command)
        if _STOPPING:
            return
        _STOPPING.append(signum)
    raise Terminated()


#: The trainers whose ``fit`` (``test``, ``validate``) runs in this process now, inside
#: :func:`fit_interrupts`.
_FITTING: list[Any] = []


#: The stop signal that has stopped the command run under :func:`command_stops`, once one has.
_STOPPING: list[int] = []
#: Whether a command runs under :func:`command_stops` (the blocks it is in).
_IN_COMMAND: list[bool] = []


def _terminate_command(signum: int, frame: Any) -> None:
    """SIGTERM anywhere in a command run under :func:`command_stops`: raise :class:`Terminated`,
    except where a Lightning Trainer's own SIGTERM handler, which calls this one after its own,
    has taken it (:func:`fit_interrupts`): its loops stop at their next step, as Lightning
    stops a fit on SIGTERM, and :func:`fit_interrupts` ends the command after it. A stop
    under way takes no second one (:func:`_interrupt_command`)."""
    if _STOPPING:
        return
    if any(getattr(trainer, "received_sigterm", False) for trainer in _FITTING):
        _STOPPING.append(signum)
        return
    _STOPPING.append(signum)
    raise Terminated()


def _interrupt_command(signum: int, frame: Any) -> None:
    """Ctrl-C in a command run under :func:`command_stops`: raise ``KeyboardInterrupt``, once.
    A second Ctrl-C or SIGTERM (pressed twice, or GNU ``timeout -s INT``, which signals the
    command, then its process group) changes nothing: it would cut short the stop under way
    (a study's worker processes being killed, its progress line ending) and end the command
    with a traceback, or the line of a command stopped while starting."""
    if _STOPPING:
        return
    _STOPPING.append(signum)
    raise KeyboardInterrupt


def stop_taken(interrupt: KeyboardInterrupt) -> None:
    """A stop that reached the command otherwise than by a signal to its own process (a
    worker process's task that ended on a SIGTERM sent to that worker: ``interrupt``, its
    :class:`Terminated`): under :func:`command_stops`, taken as that signal to the command
    would be, so that a Ctrl-C or SIGTERM while the command stops changes nothing, as after
    its own signal (:func:`_interrupt_command`). A stop already under way stays the one.

        >>> stop_taken(Terminated())  # outside a command: nothing to do
    """
    if _IN_COMMAND and not _STOPPING:
        _STOPPING.append(signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in this thread (the main
    thread; elsewhere signal handlers cannot be set, and the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def fit_interrupts(trainer: Any) -> Iterator[None]:
    """Around ``trainer.fit`` (or ``test``, ``validate``): a fit that Lightning stopped on
    Ctrl-C (after its graceful shutdown it calls ``sys.exit(1)``; so does a :class:`Terminated`
    that :func:`terminated_as_interrupt` raised) or on SIGTERM (its ``SIGTERMException``)
    raises ``KeyboardInterrupt`` or :class:`Terminated` instead, so that the command ends on
    :func:`stopped` like a stopped study. A SIGTERM that Lightning took after its loops' last
    look for one (in the last epoch's end, say) lets the fit end as it would have; it
    raises :class:`Terminated` then, so that the command stops all the same."""
    _FITTING.append(trainer)
    try:
        yield
    except SystemExit as exit_:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        context = exit_.__context__  # sys.exit(1) after Lightning's shutdown on a Terminated
        terminated = isinstance(exit_, SIGTERMException) or isinstance(context, Terminated)
        if terminated or getattr(trainer, "received_sigterm", False):
            raise Terminated() from None
        if getattr(trainer, "interrupted", False):
            raise KeyboardInterrupt() from None
        raise
    except Exception:
        # Under DDP a SIGTERM stops the processes one by one: a collective that another
        # process has left fails here ("Connection closed by peer"): that is the stop too.
        if getattr(trainer, "received_sigterm", False) and getattr(trainer, "world_size", 1) > 1:
            raise Terminated() from None
        raise
    finally:
        _FITTING.remove(trainer)
    if getattr(trainer, "received_sigterm", False):
        raise Terminated()


#: What ``lossbench-train`` keeps when it is stopped.
RUNS_KEPT = (
    "Runs that completed are kept with their files; a run in progress was stopped without a "
    "record (a single run keeps the checkpoints it wrote; with the default "
    "checkpoint.write=every_epoch, ckpt_path=last resumes it)."
)

#: What ``lossbench-train`` keeps when it is stopped, and how to go on: a study whose folder
#: is fixed (``experiment=``, ``hydra.sweep.dir`` given) resumes with the same command.
TRAINING_KEPT = (
    f"{RUNS_KEPT} Run a study's command again to train the rest: its jobs that already ended "
    "with the same config are skipped."
)

#: The folder of the study this command runs, once the study has started, and whether the
#: folder is named by the time the study started (``${now:...}`` in ``hydra.sweep.dir``, as
#: a plain ``-m`` sweep's and an Optuna search's are): :func:`training_kept` says it then.
#: Set by :class:`lossbench.hydra_callbacks.ValidateBeforeRun`.
STUDY_FOLDER: list[tuple[str, bool]] = []


def training_kept(runs_kept: str = RUNS_KEPT) -> str:
    """What ``lossbench-train`` keeps when it is stopped, and how to go on
    (:data:`TRAINING_KEPT`; ``runs_kept``: what became of its runs, :data:`RUNS_KEPT` unless
    the stop recorded the runs in progress, :data:`lossbench.worker_deaths.DIED_RUNS_KEPT`).
    Where its study's folder is named by the time the study started, the same command would
    start a new folder and train every job again: the line names the folder and the override
    that resumes the study in it.

        >>> STUDY_FOLDER[:] = [("outputs/multiruns/2026-12-06_09-00-00-000001", True)]
        >>> print(training_kept()[len(RUNS_KEPT) + 1 :])  # doctest: +NORMALIZE_WHITESPACE
        To train the rest of this study, run its command again with
         hydra.sweep.dir=outputs/multiruns/2026-12-06_09-00-00-000001 added: its folder is named
         by the time it started, and the same command alone would start a new one. Its jobs that
         already ended with the same config are skipped.
        >>> STUDY_FOLDER[:] = [("outputs/studies/compare_all-full", False)]
        >>> training_kept() == TRAINING_KEPT
        True
        >>> STUDY_FOLDER.clear()
    """
    if not STUDY_FOLDER or not STUDY_FOLDER[-1][1]:
        return TRAINING_KEPT.replace(RUNS_KEPT, runs_kept, 1)
    from lossbench.override_grammar import shell_override

    resume = shell_override("hydra.sweep.dir", STUDY_FOLDER[-1][0])
    return (
        f"{runs_kept} To train the rest of this study, run its command again with {resume} "
        "added: its folder is named by the time it started, and the same command alone would "
        "start a new one. Its jobs that already ended with the same config are skipped."
    )


#: What a command stopped before its work started leaves: nothing.
STARTING_KEPT = "It stopped while starting: nothing was written."

#: What a command stopped as its process exits leaves: its work had ended.
ENDING_KEPT = "It stopped as it was exiting, after its work had ended: what it wrote is complete."

#: What ``lossbench-eval`` and ``lossbench-predict`` leave when stopped outside their work
#: (:func:`stopping`): before it (nothing), or after their output file was written (complete).
CHECKPOINT_COMMAND_KEPT = "Its output file may not have been written: run the same command again."


def output_kept(output: str, out: Path) -> str:
    """What ``lossbench-eval`` or ``lossbench-predict`` leaves when stopped during its work: its
    ``output`` (e.g. "predictions") is not written to ``out``, where an earlier file is as it
    was, since the output replaces it only once complete
    (:func:`lossbench.output_files.written_whole`).

        >>> output_kept("predictions", Path("nowhere/predictions.csv"))
        'Its predictions were not written to nowhere/predictions.csv. Run the same command again.'
    """
    earlier = "; the earlier file there is untouched" if out.exists() else ""
    verb = "were" if output.endswith("s") else "was"
    return f"Its {output} {verb} not written to {out}{earlier}. Run the same command again."


def report_kept(out: Path, html: Path | None) -> str:
    """What ``lossbench-report`` leaves when stopped during its work: a complete report (its
    ``html``), or none, and an earlier report in ``out`` as it was, since the report is built
    in a hidden folder there and moved into place only once complete, with the stops held
    (:func:`stops_held`).

        >>> report_kept(Path("nowhere"), None)
        'The report was not written to nowhere. Run the same command again.'
        >>> report_kept(Path("study"), Path("study/report.html"))
        'The report was written: study/report.html.'
    """
    if html is not None:
        return f"The report was written: {html}."
    earlier = "; the earlier report there is as it was" if (out / "report.html").exists() else ""
    return f"The report was not written to {out}{earlier}. Run the same command again."


#: The signals that stop a command: Ctrl-C and SIGTERM.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """While the block runs, a Ctrl-C or SIGTERM waits: it is held, and once the block ends
    it is raised again (:func:`signal.raise_signal`) to the handler there was before, which
    acts on it as it would have. So a few quick steps (moving a finished report into place)
    run all or not at all. Only the main thread can set signal handlers: elsewhere, and where
    a handler was not set from Python, the block runs as it is.

        >>> earlier = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own
        >>> steps = []
        >>> try:
        ...     with stops_held():
        ...         signal.raise_signal(signal.SIGINT)  # Ctrl-C, as it arrives
        ...         steps.append("moved")
        ... except KeyboardInterrupt:
        ...     steps.append("stopped")
        >>> steps
        ['moved', 'stopped']
        >>> _ = signal.signal(signal.SIGINT, earlier)
    """
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


@contextlib.contextmanager
def stops_ignored() -> Iterator[None]:
    """While the block runs, Ctrl-C and SIGTERM are ignored: for the steps of a stop already
    under way (killing a study's worker processes), which a second signal would cut short.
    Only the main thread can set signal handlers: elsewhere, and where a handler was not set
    from Python, the block runs as it is.

        >>> before = signal.getsignal(signal.SIGINT)
        >>> with stops_ignored():
        ...     if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        ...         signal.raise_signal(signal.SIGINT)  # Ctrl-C pressed again: nothing happens
        >>> signal.getsignal(signal.SIGINT) is before  # the handler of before the block
        True
    """
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    if threading.current_thread() is not threading.main_thread() or None in previous.values():
        yield
        return
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def stopping(kept: str) -> Iterator[None]:
    """While the block runs, a Ctrl-C or SIGTERM (:func:`terminated_as_interrupt`) ends the
    command on :func:`stopped` with ``kept``."""
    try:
        with terminated_as_interrupt():
            yield
    except KeyboardInterrupt as interrupt:
        stopped(interrupt, kept)


def _stop_line(terminated: bool, kept: str) -> str:
    what = "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)"
    return f"lossbench: {what}. {kept}"


def stopped(interrupt: KeyboardInterrupt, kept: str | None = None) -> NoReturn:
    """End the command on ``interrupt``: one line on stderr (``kept``: what the command leaves
    and how to go on; by default :func:`training_kept`), exit 130 (143 for SIGTERM)."""
    if kept is None:
        kept = training_kept()
    terminated = isinstance(interrupt, Terminated)
    if not _later_rank():
        print(_stop_line(terminated, kept), file=sys.stderr, flush=True)
    sys.exit(TERMINATED_EXIT if terminated else INTERRUPTED_EXIT)


def _later_rank() -> bool:
    """Whether this process is a DDP process other than the first (Lightning's global rank,
    where Lightning is loaded): the first one says the stop, which the others share."""
    utilities = sys.modules.get("lightning.pytorch.utilities")
    return bool(getattr(getattr(utilities, "rank_zero_only", None), "rank", 0))


@contextlib.contextmanager
def command_stops(kept: str = STARTING_KEPT) -> Iterator[None]:
    """Around a whole console command (``lossbench-train``): SIGTERM stops it as Ctrl-C does,
    at any moment. In the block, SIGTERM raises :class:`Terminated` (:func:`_terminate_command`;
    within a fit, Lightning's handler stops it first: :func:`fit_interrupts`), and a Ctrl-C or
    SIGTERM that nothing inside handled ends the command on :func:`stopped` with ``kept``. Once
    the block has ended, while the process exits (Python's own exit runs a while), either
    signal ends it at once with its line (:data:`ENDING_KEPT`; none after a stop already said)
    and exit status 130 or 143, where it would die of the signal, without a line, or print a
    traceback. A signal that the process ignores (``nohup``, a shell's background job) stays
    ignored. Only the main thread can set signal handlers: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    atexit.register(_stops_ignored_at_the_end)  # before what the command imports: runs last
    _STOPPING.clear()
    _IN_COMMAND.append(True)
    ignored = signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    previous = signal.getsignal(signal.SIGTERM)
    if not ignored:
        signal.signal(signal.SIGTERM, _terminate_command)
    interrupting = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if interrupting:
        signal.signal(signal.SIGINT, _interrupt_command)
    said = False  # a stop's line is out: exiting, the process says nothing more
    try:
        yield
    except KeyboardInterrupt as interrupt:
        said = True
        stopped(interrupt, kept)
    except SystemExit as exit_:
        said = exit_.code in (INTERRUPTED_EXIT, TERMINATED_EXIT)
        raise
    finally:
        _IN_COMMAND.pop()
        if not ignored:
            signal.signal(signal.SIGTERM, previous)
        if interrupting and signal.getsignal(signal.SIGINT) is _interrupt_command:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _stop_at_exit(quiet=said)


def _stop_at_exit(*, quiet: bool) -> None:
    """For the rest of the process (its exit): Ctrl-C or SIGTERM end it at once with its line
    and exit status 130 or 143. Python's handler of Ctrl-C, or none for SIGTERM, would leave
    a traceback, or kill the process with the signal and no line. Where ``quiet`` (a stop
    was said already, and the process exits with its status) they change nothing: the exit
    goes on, and ends what the stop left to it (ended at once, it left loky's semaphores to
    its resource tracker, which warned of them). A handler set otherwise (an ignored signal)
    stays."""

    def end(signum: int, frame: Any) -> None:
        if quiet:
            return
        terminated = signum == signal.SIGTERM
        with contextlib.suppress(Exception):
            print(_stop_line(terminated, ENDING_KEPT), file=sys.stderr, flush=True)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(TERMINATED_EXIT if terminated else INTERRUPTED_EXIT)

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, end)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, end)
    _AT_EXIT[:] = [end]


#: The handler :func:`_stop_at_exit` set, if it did.
_AT_EXIT: list[Any] = []


def _stops_ignored_at_the_end() -> None:
    """The last of the process's ``atexit`` functions (:func:`command_stops` registers it first):
    from here Python restores the default handlers, under which Ctrl-C or SIGTERM would kill
    the process without a line while it clears its modules (0.1-0.2 s), though every file is
    written and the command has ended. There the signals are ignored instead: the process
    ends as it was ending, with its exit status."""
    for signum in STOP_SIGNALS:
        if _AT_EXIT and signal.getsignal(signum) is _AT_EXIT[0]:
            signal.signal(signum, signal.SIG_IGN)
