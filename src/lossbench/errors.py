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
from collections.abc import Iterator, Sequence
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


#: How the message of a failure on a non-finite training loss begins, of a run alone and of a
#: vectorized member alike (:func:`non_finite_loss`).
NON_FINITE_LOSS = "non-finite training loss"
#: How the message of a failure on non-finite weights begins (:func:`non_finite_weights`): an
#: optimizer step turned them NaN or infinite after the epoch's last training loss was
#: computed (with one step per epoch, every step is the last).
NON_FINITE_WEIGHTS = "non-finite weights"
#: The beginnings of every divergence's message: :func:`lossbench.record.diverged` recognises
#: such a record by them.
DIVERGENCE_MESSAGES = (NON_FINITE_LOSS, NON_FINITE_WEIGHTS)


def non_finite_loss(value: float, epoch: int, step: int, batch: int) -> str:
    """The message of a run (or vectorized member) whose training loss is NaN or infinite.

    >>> non_finite_loss(float("inf"), 3, 9, 2)
    'non-finite training loss (inf) at epoch 3, step 9 (batch 2)'
    """
    return f"{NON_FINITE_LOSS} ({value}) at epoch {epoch}, step {step} (batch {batch})"


def non_finite_weights(value: float, epoch: int, step: int) -> str:
    """The message of a run (or vectorized member) whose weights hold NaN (``value`` nan) or
    infinite values (inf) after ``step`` optimizer steps, in ``epoch``.

    >>> non_finite_weights(float("nan"), 0, 1)
    'non-finite weights (nan) at epoch 0, step 1'
    """
    return f"{NON_FINITE_WEIGHTS} ({value}) at epoch {epoch}, step {step}"


def failure_kind(message: str) -> str:
    """What a failure's message says without where it happened: a divergence's message
    (:func:`non_finite_loss`, :func:`non_finite_weights`) up to its epoch, any other whole.
    The failures of a vectorized group's members are logged once per kind.

    >>> failure_kind(non_finite_loss(float("nan"), 3, 9, 2))
    'non-finite training loss (nan)'
    >>> failure_kind("RuntimeError: out of memory")
    'RuntimeError: out of memory'
    """
    if message.startswith(DIVERGENCE_MESSAGES) and " at epoch " in message:
        return message.split(" at epoch ", 1)[0]
    return message


class NonFiniteLossError(RuntimeError):
    """The training loss or the weights became NaN or infinite (a failed run, not a refused
    input): the message (:func:`non_finite_loss`, :func:`non_finite_weights`) names the value,
    the epoch and the step."""


@contextmanager
def refusing(typed: Sequence[str] = ()) -> Iterator[None]:
    """Turn a :class:`UserInputError` raised inside into :func:`refuse`; other errors pass.
    ``typed``: the command line's overrides, whose numbers the refusal echoes as typed
    (:func:`lossbench.typed_values.as_typed`: ``optimizer.lr=-1.0``, not ``-1``).

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
        if typed:
            from lossbench.typed_values import as_typed

            refuse(UserInputError(as_typed(str(error), typed)))
        refuse(error)
