"""The one kind of error a user's input causes, and the one way a command ends on it.

Every error that bad input raises (a config value, a data file, the hardware asked for, a
checkpoint, a report path) derives from :class:`UserInputError`; its message says what was
given, why it cannot work and how to fix it. Each console entry point ends on such an error
with :func:`refuse`: one ``lossbench: refused: ...`` message on stderr, exit status 2, no
traceback. Any other exception is a bug in lossbench and keeps its traceback.

    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     try:
    ...         refuse(UserInputError("seed=-5 must be >= 0; e.g. seed=0."))
    ...     except SystemExit as stop:
    ...         print(stop.code)
    2
    >>> err.getvalue()
    'lossbench: refused: seed=-5 must be >= 0; e.g. seed=0.\\n'
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

#: The exit status of a refused command (argparse uses 2 for bad arguments too).
REFUSED_EXIT = 2
PREFIX = "lossbench: refused: "


class UserInputError(ValueError):
    """Input that lossbench cannot work with; the message says what, why and the fix.

    Subclasses name where the input was found: :class:`ConfigError`,
    :class:`lossbench.data.table.DataError`, :class:`lossbench.checkpoint.CheckpointError`,
    :class:`lossbench.evaluate.EvaluationError`, :class:`lossbench.report.errors.ReportError`.
    """


class ConfigError(UserInputError):
    """A config value that cannot work; raised before any work starts (also importable as
    ``lossbench.validation.ConfigError``)."""


def format_warning(message: object, category: type[Warning], *_: object, **__: object) -> str:
    """Warnings as one ``lossbench: warning: ...`` line (for ``warnings.formatwarning``)."""
    return f"lossbench: warning: {message}\n"


def refusal_message(error: BaseException) -> str:
    """The one line (or paragraph) printed for a refused input."""
    return f"{PREFIX}{error}"


def refuse(error: BaseException) -> NoReturn:
    """Print ``error`` as a refusal on stderr and exit with status 2."""
    print(refusal_message(error), file=sys.stderr, flush=True)
    sys.exit(REFUSED_EXIT)


#: How the message of every non-finite-loss failure begins, of a run alone and of a vectorized
#: member alike: :func:`lossbench.record.diverged` recognises such a record by it.
NON_FINITE_LOSS = "non-finite training loss"


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite (a failed run, not a refused input): the
    message names the value, the epoch and the step."""


@contextmanager
def refusing() -> Iterator[None]:
    """Turn a :class:`UserInputError` raised inside into :func:`refuse`; other errors pass.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     try:
    ...         with refusing():
    ...             raise UserInputError("checkpoint 'best.ckpt' does not exist; ...")
    ...     except SystemExit as stop:
    ...         print(stop.code)
    2
    >>> err.getvalue()
    "lossbench: refused: checkpoint 'best.ckpt' does not exist; ...\\n"
    """
    try:
        yield
    except UserInputError as error:
        refuse(error)
