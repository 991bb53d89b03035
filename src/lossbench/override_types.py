"""Command-line values of the wrong type, refused before Hydra composes the config.

Hydra refuses ``data.split_seed=1.5`` or ``trainer.max_epochs=abc`` too, when it merges the
value into the structured config (:mod:`lossbench.config`), but with exit status 1 and
OmegaConf's words ("Value 'abc' of type 'str' could not be converted to Integer"). lossbench
checks each ``key=value`` override first, the way Hydra will: the value as Hydra's override
parser reads it, assigned by OmegaConf to the key's field of the schema. A value no schema of
the key takes is refused with the key, the value, the type expected and an example (exit
status 2, one line, nothing written):

    >>> from lossbench.config import TrainConfig
    >>> print(wrong_type("seed=1.5", {"": (TrainConfig,)}))
    seed=1.5: seed takes a whole number (int), but Hydra reads 1.5 as a decimal number \
(float). Give a whole number, e.g. seed=0 (the default).

Inside a config group the key's type depends on the option chosen, which an experiment may
change after the command line is read: a value is refused only where no option of the group
that has the key takes it (as :mod:`lossbench.command_keys` does for the keys themselves).
Sweeps (``seed=0,1.5``) are checked value by value; what the check cannot read (an interval
sweep, a key below a free-form mapping) is left to Hydra. An override Hydra's grammar cannot
read at all is refused before this check, by :mod:`lossbench.override_grammar`.

    >>> wrong_type("seed=${oc.env:SEED}", {"": (TrainConfig,)}) is None
    True
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import sys
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lossbench.override_grammar import override_parser

__all__ = ["HYDRA", "LAUNCHER", "parsed_override", "refuse_wrong_types", "wrong_type"]

#: ``{prefix: schemas}``: "" for the command's own schema (top-level keys and the dataclasses
#: inside it), a config group's name for the schemas of its options.
Schemas = Mapping[str, Sequence[type]]

#: The ``hydra.*`` prefixes checked, each against the schemas given for it: a launcher's
#: settings (``hydra.launcher.n_jobs=two``), and Hydra's own (``hydra.job.chdir=maybe``, against
#: ``hydra.conf.HydraConf``).
LAUNCHER = "hydra.launcher"
HYDRA = "hydra"

#: How a type is named in messages, and in the plural (a list of them).
_KINDS: dict[Any, tuple[str, str]] = {
    int: ("a whole number", "whole numbers"),
    float: ("a number", "numbers"),
    bool: ("true or false", "true / false values"),
    str: ("text", "texts"),
}


def parsed_override(argument: str) -> Any | None:
    """``argument`` as Hydra's override parser reads it (an ``Override``), or None where its
    grammar cannot read it (:mod:`lossbench.override_grammar` refuses that first)."""
    try:
        return override_parser().parse_override(argument)
    except Exception:
        return None


def _field(schema: type, dotted: str) -> tuple[dataclasses.Field, Any] | None:
    """The dataclass field ``dotted`` names in ``schema`` (``checkpoint.mode``) and its type,
    or None where the path leaves the dataclasses (an unknown key, a mapping, a list item)."""
    node: Any = schema
    found: dataclasses.Field | None = None
    for part in dotted.split("."):
        if not (isinstance(node, type) and dataclasses.is_dataclass(node)):
            return None
        fields = {f.name: f for f in dataclasses.fields(node)}
        if part not in fields:
            return None
        found = fields[part]
        node = typing.get_type_hints(node)[part]
    return None if found is None else (found, node)


def _takes(schema: type, dotted: str, value: Any) -> bool:
    """Whether OmegaConf assigns ``value`` to ``dotted`` of ``schema`` as Hydra would merge it;
    anything but a type error (a key it cannot reach) counts as taken: Hydra decides.

    Whole numbers and booleans are checked once per key and type (a sweep ``seed=0,...,99``
    builds the schema's config once, not 100 times); other values one by one.
    """
    if isinstance(value, bool | int):
        return _takes_type(schema, dotted, type(value))
    return _assigns(schema, dotted, value)


@functools.cache
def _takes_type(schema: type, dotted: str, kind: type) -> bool:
    """:func:`_takes` for every value of ``kind`` (``int`` or ``bool``): OmegaConf's check of
    these depends on the type only."""
    return _assigns(schema, dotted, kind(1))


def _assigns(schema: type, dotted: str, value: Any) -> bool:
    """Whether OmegaConf merges ``value`` into ``dotted`` of ``schema``: False for a value of
    the wrong type, a mapping given to a list (``model.hidden_sizes={a:1}``: "Cannot merge
    DictConfig with ListConfig") or a list to a mapping.

        >>> from lossbench.config import MLPConfig
        >>> _assigns(MLPConfig, "hidden_sizes", {"a": 1}), _assigns(MLPConfig, "hidden_sizes", [8])
        (False, True)
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigTypeError, KeyValidationError, ValidationError

    try:
        OmegaConf.update(OmegaConf.structured(schema), dotted, value, merge=True)
    except KeyValidationError:
        return True
    except ValidationError:
        return False
    except ConfigTypeError as error:  # a mapping merged into a list, or a list into a mapping
        return not str(error).startswith("Cannot merge")
    except Exception:
        return True
    return True


def _described(kind: Any) -> str:
    """``kind`` in words: "a whole number", "a list of numbers in brackets", "... or null"."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        words = " or ".join(_described(a) for a in rest)
        return f"{words} or null" if len(rest) < len(args) else words
    if typing.get_origin(kind) is list:
        item = _KINDS.get(args[0], ("", "values"))[1] if args else "values"
        return f"a list of {item} in brackets"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return f"one of {', '.join(member.name for member in kind)}"
    return _KINDS.get(kind, (f"a value of type {_spelled(kind)}", ""))[0]


def _spelled(kind: Any) -> str:
    if typing.get_origin(kind) is typing.Union:  # Optional[RunMode]: RunMode | None
        return " | ".join("None" if a is type(None) else _spelled(a) for a in typing.get_args(kind))
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")


def _read_as(value: Any) -> str:
    """What Hydra made of a value, in words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (bool)"
    if isinstance(value, int):
        return "a whole number (int)"
    if isinstance(value, float):
        return "a decimal number (float)"
    if isinstance(value, str):
        return "text (str)"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _override_value(value: Any) -> str:
    """``value`` as an override writes it: ``true``, ``null``, ``[0.9,0.999]``."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return str(value)


def _item_kind(kind: Any) -> Any:
    """The item type of a list type (``list[str] | None`` -> ``str``), or None."""
    for candidate in (kind, *typing.get_args(kind)):
        if typing.get_origin(candidate) is list:
            args = typing.get_args(candidate)
            return args[0] if args else Any
    return None


def _typed_items(text: str, items: list[Any]) -> list[str]:
    """The items of a list as typed (``[1e3,b]`` -> ``1e3``, ``b``), where the text splits
    plainly into them; else as Hydra read them. A single value is its own item.

        >>> _typed_items("[1e3,b]", [1000.0, "b"]), _typed_items("1e3", [1000.0])
        (['1e3', 'b'], ['1e3'])
    """
    if len(items) == 1 and not text.startswith("["):
        return [text]
    inner = text.strip()[1:-1]
    parts = [part.strip() for part in inner.split(",")]
    plain = text.strip().startswith("[") and not any(c in inner for c in "[]{}'\"")
    return parts if plain and len(parts) == len(items) else [_override_value(v) for v in items]


def _example(key: str, field: dataclasses.Field, kind: Any, text: str, value: Any) -> str:
    """A valid override of ``key``: ``[text]`` for a list given one value that fits its items
    (quoted where Hydra would read a name as a number), else the default."""
    from omegaconf import MISSING

    item = _item_kind(kind)
    if item is str:
        items = value if isinstance(value, list) else [value]
        if all(isinstance(v, str) for v in items):
            return f"e.g. {key}=[{text}]"
        quoted = ",".join(f'"{v}"' for v in _typed_items(text, items))
        return f"e.g. '{key}=[{quoted}]' (names quoted, so that Hydra keeps them as text)"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if item in (int, float) and numeric and not isinstance(value, list):
        return f"e.g. {key}=[{text}]"
    default = field.default
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    if default is dataclasses.MISSING or default == MISSING:
        return ""
    return f"e.g. {key}={_override_value(default)} (the default)"


def _values(override: Any, key: str, text: str) -> Iterator[tuple[str, Any]]:
    """Each value of ``override`` as typed and as Hydra reads it; a discrete sweep's values one
    by one, none of an interval sweep's (they are drawn later)."""
    if not override.is_sweep_override():
        yield text, override.value()
        return
    if not override.is_discrete_sweep():
        return
    for item in override.sweep_string_iterator():
        yield item, override_parser().parse_override(f"{key}={item}").value()


def wrong_type(argument: str, schemas: Schemas, groups: Sequence[str] = ()) -> str | None:
    """The refusal of ``argument`` when Hydra would refuse its value's type, else None.

    ``schemas``: the dataclasses of each prefix (see :data:`Schemas`); ``groups``: config groups,
    whose ``group=option`` is a choice, not a value. Flags, arguments without ``=``, keys added
    or deleted (``+key=``, ``~key``), ``hydra.*`` (but ``hydra.launcher.*`` where ``schemas``
    has :data:`LAUNCHER`, and Hydra's own settings where it has :data:`HYDRA`) and packages
    (``group@pkg=``) are not checked.

        >>> from lossbench.config import TrainConfig, TrainerConfig
        >>> schemas = {"": (TrainConfig,), "trainer": (TrainerConfig,)}
        >>> wrong_type("trainer.max_epochs=abc", schemas)[:66]
        'trainer.max_epochs=abc: trainer.max_epochs takes a whole number (i'
        >>> wrong_type("seed=0,1", schemas) is None
        True
    """
    if argument.startswith("-") or "=" not in argument:
        return None
    try:
        override = override_parser().parse_override(argument)
    except Exception:  # not Hydra's grammar: refused before (lossbench.override_grammar)
        return None
    if override.is_add() or override.is_delete() or override.package is not None:
        return None
    key = override.key_or_group
    first, dot, rest = key.partition(".")
    launcher = key.startswith(f"{LAUNCHER}.") and LAUNCHER in schemas
    hydra = first == HYDRA and dot and not key.startswith(f"{LAUNCHER}.") and HYDRA in schemas
    if (first == "hydra" and not (launcher or hydra)) or "/" in key:
        return None
    if not dot and (first in groups or first in schemas):
        return None
    if launcher:
        prefix, dotted = LAUNCHER, key.removeprefix(f"{LAUNCHER}.")
    elif hydra:
        prefix, dotted = HYDRA, rest
    else:
        prefix, dotted = (first, rest) if dot and first in schemas else ("", key)
    fields = [(s, *f) for s in schemas.get(prefix, ()) if (f := _field(s, dotted)) is not None]
    if not fields:
        return None
    text = argument.split("=", 1)[1]
    for typed, value in _values(override, key, text):
        if any(_takes(schema, dotted, value) for schema, _, _ in fields):
            continue
        schema, field, kind = fields[0]
        expected = _described(kind)
        given = f"{key}={typed}" + (f" (in {argument.lstrip('+')})" if typed != text else "")
        if value is None:
            read = "not null"
        elif isinstance(value, list) and _item_kind(kind) is not None:
            bad = next((v for v in value if not _takes(schema, dotted, [v])), value[0])
            read = (
                "the list holds null (Hydra reads an unquoted null as null, not as text)"
                if bad is None
                else f"Hydra reads its item {_override_value(bad)} as {_read_as(bad)}"
            )
        else:
            read = f"Hydra reads {typed} as {_read_as(value)}"
        example = _example(key, field, kind, typed, value)
        if not example and value is None and _without_default(field):  # ckpt_path=null
            example = f"{key}=<value> (it has no default)"
        if prefix in (LAUNCHER, HYDRA):  # set by config files (lossbench's), not the schema
            example = "" if example.endswith("=null (the default)") else example
            example = example.removesuffix(" (the default)").removesuffix(" (it has no default)")
        return (
            f"{given}: {key} takes {expected} ({_spelled(kind)}),"
            + (" " if value is None else " but ")
            + f"{read}."
            + (f" {NULL_REFUSED[key]}." if value is None and key in NULL_REFUSED else "")
            + f" Give {expected}"
            + (f", {example}" if example else "")
            + "."
        )
    return None


#: Why a key refuses null where Lightning takes it, said after its refusal of null.
NULL_REFUSED = {
    "trainer.max_epochs": "Lightning's null (1000 epochs, or no limit beside trainer.max_steps "
    "or trainer.max_time) is not taken: a run trains for a number of epochs, and training by "
    "steps or time alone is not supported; give a cap, and early_stopping.enabled=true to "
    "stop sooner",
}


def _without_default(field: dataclasses.Field) -> bool:  # type: ignore[type-arg]
    """Whether a schema's ``field`` has no default (``???``): a value must be given."""
    from omegaconf import MISSING

    if field.default_factory is not dataclasses.MISSING:
        return False
    return field.default is dataclasses.MISSING or field.default == MISSING


def refuse_wrong_types(arguments: Sequence[str], schemas: Schemas, groups: Sequence[str]) -> None:
    """Print the refusal of the first override in ``arguments`` whose value has the wrong type
    (:func:`wrong_type`) and exit with status 2; return when every value fits."""
    for argument in arguments:
        refusal = wrong_type(argument, schemas, groups)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)
