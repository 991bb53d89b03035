"""A refusal echoes a number the command line gave as the user typed it.

A check reads a value from the composed config, where ``optimizer.lr=-1.0`` is the float -1.0,
and writes it back as ``optimizer.lr=-1`` (``1e-3`` as ``0.001``, ``scheduler.eta_min=-1`` as
``-1.0``): not what the user typed, and hard to find on their command line. :func:`as_typed`
puts the command line's own text back into the message, for each ``key=value`` whose value is
the number an override of that key gave.

    >>> as_typed("optimizer.lr=-1 must be a positive number.", ["optimizer.lr=-1.0"])
    'optimizer.lr=-1.0 must be a positive number.'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["as_typed"]


def _renderings(value: int | float) -> set[str]:
    """The ways a check may write the number ``value``: ``str``, ``repr``, and a whole float
    without its ``.0`` (or a whole int with one).

        >>> sorted(_renderings(-1.0)), sorted(_renderings(3))
        (['-1', '-1.0'], ['3', '3.0'])
    """
    shown = {str(value), repr(value)}
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        shown.add(str(int(value)))
    if isinstance(value, int):
        shown.add(str(float(value)))
    return shown


def _numbers(overrides: Sequence[str]) -> Iterator[tuple[str, str, Any]]:
    """``(key, text as typed, number)`` of each override of ``overrides`` that sets one key to
    one number (not a sweep, a removal, a string or a boolean); the last one of a key wins."""
    from lossbench.override_grammar import override_parser

    parser = override_parser()
    last: dict[str, tuple[str, Any]] = {}
    for line in overrides:
        try:
            (override,) = parser.parse_overrides([line])
            value = override.value()
        except Exception:  # not an override (a flag), or one Hydra refuses: nothing typed
            continue
        if override.is_sweep_override() or override.is_delete() or "=" not in line:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            last.pop(override.key_or_group, None)
            continue
        last[override.key_or_group] = (line.split("=", 1)[1].strip(), value)
    for key, (text, value) in last.items():
        yield key, text, value


def as_typed(message: str, overrides: Sequence[str]) -> str:
    """``message`` with each ``key=value`` whose value is a number that an override of
    ``overrides`` (``key=text``) gave written as ``key=text``: as the user typed it.

        >>> as_typed("optimizer.lr=0.001 is too small", ["optimizer.lr=1e-3"])
        'optimizer.lr=1e-3 is too small'
        >>> as_typed("scheduler.eta_min=-1.0 must be >= 0.", ["scheduler.eta_min=-1"])
        'scheduler.eta_min=-1 must be >= 0.'
        >>> as_typed("optimizer.lr=-10, e.g. optimizer.lr=1e-3.", ["optimizer.lr=-1.0"])
        'optimizer.lr=-10, e.g. optimizer.lr=1e-3.'
    """
    for key, text, value in _numbers(overrides):
        shown = sorted(_renderings(value) - {text}, key=len, reverse=True)
        if not shown:
            continue
        alternatives = "|".join(re.escape(s) for s in shown)
        pattern = rf"(?<![\w.]){re.escape(key)}=(?:{alternatives})(?![\w]|\.\d)"
        message = re.sub(pattern, f"{key}={text}".replace("\\", "\\\\"), message)
    return message
