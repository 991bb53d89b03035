"""Parameters declared once, as data: name, schema type, default, constraints and meaning.

A registry entry (a loss spec) lists its :class:`Param` declarations; from them lossbench
generates the Hydra structured-config schema (:func:`make_schema`), the range and type checks
with their error messages (:func:`check_params`) and the README's parameter tables. Constraints
follow scikit-learn's ``_parameter_constraints``: a value is valid when it satisfies any one of
them, and ``None`` in the list allows null.

    >>> gamma = Param(
    ...     name="gamma", type=float, default=2.0,
    ...     constraints=(Interval(Real, 0, None, closed="left"),),
    ...     doc="focusing parameter", example="2",
    ... )
    >>> gamma.expected()
    'a number >= 0'
    >>> try:
    ...     check_params("loss", "focal", (gamma,), {"gamma": -1.0})
    ... except ValueError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    loss.gamma=-1.0 is invalid for loss 'focal': expected a number >= 0 (...). Set it like ...=2.

This module imports nothing heavy: validating a config never loads torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

__all__ = [
    "Integral",
    "Interval",
    "Options",
    "Param",
    "PerUnit",
    "Real",
    "check_params",
    "make_schema",
]


def _number(value: Any, kind: type) -> bool:
    """``value`` is a finite number of ``kind`` (Real or Integral); booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, kind):
        return False
    return math.isfinite(value)


def _bound(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Interval:
    """Finite numbers of ``type`` between ``left`` and ``right`` (None: unbounded).

    ``closed`` says which ends belong to the interval, as in scikit-learn.

        >>> str(Interval(Real, 0, 1, closed="left")), str(Interval(Real, 0, None, closed="neither"))
        ('a number in [0, 1)', 'a number > 0')
        >>> Interval(Real, 0, 1, closed="left").is_satisfied_by(1.0)
        False
    """

    type: type
    left: float | None
    right: float | None
    closed: Literal["left", "right", "both", "neither"] = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if not _number(value, self.type):
            return False
        left_closed = self.closed in ("left", "both")
        right_closed = self.closed in ("right", "both")
        if self.left is not None and (
            value < self.left or (value == self.left and not left_closed)
        ):
            return False
        return self.right is None or not (
            value > self.right or (value == self.right and not right_closed)
        )

    def __str__(self) -> str:
        noun = "an integer" if self.type is Integral else "a number"
        left_closed = self.closed in ("left", "both")
        right_closed = self.closed in ("right", "both")
        if self.left is not None and self.right is not None:
            return (
                f"{noun} in {'[' if left_closed else '('}{_bound(self.left)}, "
                f"{_bound(self.right)}{']' if right_closed else ')'}"
            )
        if self.left is not None:
            return f"{noun} {'>=' if left_closed else '>'} {_bound(self.left)}"
        if self.right is not None:
            return f"{noun} {'<=' if right_closed else '<'} {_bound(self.right)}"
        return noun


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values, compared with their type (``1`` is not ``True``).

    >>> str(Options(("none", "mean", "sum")))
    'one of none, mean, sum'
    """

    options: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        return any(type(value) is type(option) and value == option for option in self.options)

    def __str__(self) -> str:
        values = ", ".join(
            str(option).lower() if isinstance(option, bool) else str(option)
            for option in self.options
        )
        return f"one of {values}" if len(self.options) > 1 else values


@dataclass(frozen=True)
class PerUnit:
    """A value for every output unit: one ``element`` (repeated) or a non-empty list of them.

    ``not_all_zero``: a 0 for every unit is refused (a weight of 0 everywhere leaves nothing
    to learn: the loss and its gradient are 0, or 0 / 0 under a weighted mean).

    >>> weight = PerUnit(Interval(Real, 0, None, closed="left"))
    >>> weight.is_satisfied_by([1, 0.5]), weight.is_satisfied_by([]), str(weight)
    (True, False, 'a number >= 0 or a list of them (one per output unit)')
    >>> weight = PerUnit(Interval(Real, 0, None, closed="left"), not_all_zero=True)
    >>> weight.is_satisfied_by([0, 0.5]), weight.is_satisfied_by([0, 0]), weight.is_satisfied_by(0)
    (True, False, False)
    >>> str(weight)
    'a number >= 0 or a list of them (one per output unit), not 0 for every unit'
    """

    element: Interval
    not_all_zero: bool = False

    def is_satisfied_by(self, value: Any) -> bool:
        values = (
            list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        )
        if not values or not all(self.element.is_satisfied_by(v) for v in values):
            return False
        return not (self.not_all_zero and all(v == 0 for v in values))

    def __str__(self) -> str:
        zero = ", not 0 for every unit" if self.not_all_zero else ""
        return f"{self.element} or a list of them (one per output unit){zero}"


Constraint = Interval | Options | PerUnit | None


@dataclass(frozen=True, kw_only=True)
class Param:
    """One parameter of a registry entry, declared once.

    ``type`` is the annotation of the generated schema field (what Hydra checks when composing);
    ``constraints`` are what validation checks (any one must hold; ``None`` allows null);
    ``doc`` says what the parameter does, in a line; ``example`` is a valid command-line value.
    """

    name: str
    type: Any
    default: Any
    constraints: tuple[Constraint, ...]
    doc: str
    example: str | None = None

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies one of the constraints."""
        return any(
            value is None if c is None else c.is_satisfied_by(value) for c in self.constraints
        )

    def expected(self) -> str:
        """The valid values in words: 'a number in [0, 1], or null'."""
        parts = [("null" if c is None else str(c)) for c in self.constraints]
        return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, or {parts[-1]}"

    def default_text(self) -> str:
        """The default as it is written on the command line."""
        if self.default is None:
            return "null"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return str(self.default)


def check_params(
    group: str, owner: str, declared: Sequence[Param], given: Mapping[str, Any]
) -> None:
    """Raise a ValueError naming the key, the value, the valid values and a fix, for the first
    value in ``given`` that is not declared or breaks its constraints. ``name`` is skipped."""
    by_name = {param.name: param for param in declared}
    unknown = [key for key in given if key != "name" and key not in by_name]
    if unknown:
        values = ", ".join(f"{key}={given[key]!r}" for key in sorted(unknown))
        raise ValueError(
            f"{group} {owner!r} does not take {values}; it takes {', '.join(by_name)}."
        )
    for param in declared:
        if param.name in given and not param.accepts(given[param.name]):
            fix = f" Set it like {group}.{param.name}={param.example}." if param.example else ""
            raise ValueError(
                f"{group}.{param.name}={given[param.name]!r} is invalid for {group} {owner!r}: "
                f"expected {param.expected()} ({param.doc}).{fix}"
            )


def make_schema(
    class_name: str, declared: Sequence[Param], *, name: str, name_position: int = 0, doc: str = ""
) -> type:
    """A structured-config dataclass with ``name`` (of the option) and a field per parameter.

    ``name`` is the field at ``name_position`` (the order of keys in composed configs).

    Hydra refuses keys it does not declare and values of the wrong type when composing.

        >>> from omegaconf import OmegaConf
        >>> schema = make_schema("FocalLossConfig", (
        ...     Param(name="gamma", type=float, default=2.0, constraints=(Interval(Real, 0, None),),
        ...           doc="focusing"),), name="focal")
        >>> OmegaConf.structured(schema)
        {'name': '???', 'gamma': 2.0}
    """
    fields: list[tuple[str, Any, Any]] = []
    for param in declared:
        default = param.default
        value = (
            field(default_factory=lambda d=default: list(d))
            if isinstance(default, list)
            else field(default=default)
        )
        fields.append((param.name, param.type, value))
    fields.insert(name_position, ("name", str, field(default="???")))  # "???": MISSING
    schema = dataclasses.make_dataclass(class_name, fields)
    schema.__doc__ = doc or f"Schema of {name!r}, generated from its parameter declarations."
    schema.__module__ = "lossbench.config"
    return schema
