"""The one error the report raises for bad input (paths, metric names, baselines)."""

from __future__ import annotations

from lossbench.errors import UserInputError


class ReportError(UserInputError):
    """Input the report cannot use; the message says what was given and how to fix it.

    ``lossbench-report`` prints the message and exits with status 2, without a traceback.
    """
