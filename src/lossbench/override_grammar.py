"""Overrides that Hydra's grammar cannot read, refused before Hydra starts.

Hydra parses every ``key=value`` of the command line with its override grammar, where some
characters have a meaning of their own (``[a,b]`` a list, ``{a: 1}`` a mapping, ``a,b`` a
sweep, ``choice(...)`` a function, ``${...}`` an interpolation, quotes around text) and some
(``;``, ``#``, ``!``, ``&``, ...) may not stand unquoted at all. Hydra refuses such an override
with the parser's words (``LexerNoViableAltException: data.delimiter=;``, ``no viable
alternative at input '['``) and exit status 1. Each command parses its overrides first, with
the parser Hydra uses (``OverridesParser.parse_overrides``), and refuses the first it cannot
read with what is wrong and the fix (exit status 2, one message, nothing read or written):

    >>> print(grammar_error("data.delimiter=;"))
    data.delimiter=; is not an override Hydra can read (its grammar has no place for ';', \
character 16). ';' cannot stand unquoted in a value: quote the value for Hydra, inside \
the shell's quotes: 'data.delimiter=";"'. Characters special to Hydra's overrides: \
; # ! & < > ^ ~ ` ' " = [ ] { } ( ) , ${ (and letters outside ASCII).

A value that starts a list, a mapping or a function without closing it is told the bracket
syntax instead:

    >>> print(grammar_error("optimizer.lr=[")[:92])
    optimizer.lr=[ is not an override Hydra can read (Hydra: no viable alternative at input '[')
    >>> grammar_error("data.delimiter=';'") is None
    True
"""

from __future__ import annotations

import functools
import re
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.overrides_parser import OverridesParser

__all__ = ["SPECIAL", "grammar_error", "override_parser", "refuse_grammar_errors"]

#: The characters a user is told about: those Hydra's grammar refuses unquoted, and those with a
#: meaning of their own there.
SPECIAL = "; # ! & < > ^ ~ ` ' \" = [ ] { } ( ) , ${"

#: What may stand unquoted in a value (Hydra's lexer, ``OverrideLexer.g4``): letters and digits,
#: ``_ - / \\ + . $ % * @ ? | :``, spaces and tabs inside it, and the comma of a sweep.
_UNQUOTED = re.compile(r"[A-Za-z0-9_\-/\\+.$%*@?|: \t,]")

#: A value that starts a structure of the grammar: a list, a mapping, a function call (a sweep
#: such as ``choice(a,b)``, a cast such as ``str(1)``), an interpolation.
_STRUCTURE = re.compile(r"\s*(\[|\{|[A-Za-z_]\w*\s*\(|.*\$\{)")

_LEXER = "LexerNoViableAltException: "


def override_parser(config_loader: ConfigLoader | None = None) -> OverridesParser:
    """Hydra's parser of command-line overrides (``OverridesParser``), as Hydra creates it: the
    one lossbench's commands, checks and plugins parse overrides with.

        >>> [o.key_or_group for o in override_parser().parse_overrides(["data=wine", "seed=1"])]
        ['data', 'seed']
        >>> override_parser() is override_parser()
        True

    Without ``config_loader`` the same parser serves every call: it holds only the grammar's
    functions (``choice``, ``interval``, ``glob``, ..., registered when it is created and only
    read after) and makes a new lexer, parser and visitor for each override, so one parse
    leaves nothing behind for the next. With Hydra's ``config_loader`` (``glob()`` lists a config
    group's options through it, as Hydra's sweepers parse), a new parser is created on each
    call and the overrides it parses carry that loader.
    """
    if config_loader is not None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        return OverridesParser.create(config_loader=config_loader)
    return _shared_override_parser()


@functools.cache
def _shared_override_parser() -> OverridesParser:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _parses(override: str) -> Any | None:
    """``override`` as Hydra parses it, or None where its grammar refuses it."""
    try:
        return override_parser().parse_overrides([override])[0]
    except Exception:
        return None


def _reason(error: Exception, argument: str) -> str:
    """Hydra's reason, short: the character its lexer stopped at (from the caret under the
    override in its message), or its parser's first line."""
    lines = str(error).splitlines()
    first = lines[0] if lines else str(error)
    if first.startswith(_LEXER) and len(lines) > 1 and "^" in lines[1]:
        position = lines[1].index("^") - len(_LEXER)
        if 0 <= position < len(argument):
            return f"its grammar has no place for {argument[position]!r}, character {position + 1}"
    if first.startswith("Error parsing override") and len(lines) > 1:
        first = lines[1]
    if "missing EQUAL" in first:
        return "it has no '='"
    return f"Hydra: {first.removeprefix(_LEXER)}"


def _quoted(value: str) -> str:
    """``value`` quoted for Hydra: in double quotes, or single ones where it holds a double
    quote; a quote of the kind used is escaped (``\\"``).

        >>> print(_quoted(";"), _quoted('a"b'))
        ";" 'a"b'
    """
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', '\\"') + '"'


def _shell_quoted(override: str, value: str) -> str:
    r"""``override`` inside shell quotes, where Hydra reads its value back as ``value``; else "".

    >>> print(_shell_quoted('x=";"', ";"), _shell_quoted('x="a\'b"', "a'b"))
    'x=";"' "x=\"a'b\""
    """
    parsed = _parses(override)
    if parsed is None or parsed.value() != value:
        return ""
    if "'" not in override:
        return f"'{override}'"
    if not any(c in override for c in "$`\\!"):  # nothing the shell expands in double quotes
        return '"' + override.replace('"', '\\"') + '"'
    return shlex.quote(override)


def _quote_fix(key: str, value: str) -> str:
    """The override with its value quoted for Hydra, inside shell quotes, where Hydra reads
    that back as ``value``; else ""."""
    return _shell_quoted(f"{key}={_quoted(value)}", value)


def shell_override(key: str, value: str) -> str:
    """``key=value`` written for a command line, where the shell and then Hydra read it back
    as ``value``: as it is where that holds, else quoted for Hydra (:func:`_quoted`), inside
    the shell's quotes where the shell needs them.

        >>> print(shell_override("hydra.sweep.dir", "outputs/multiruns/2026-12-06_09-00-00-000001"))
        hydra.sweep.dir=outputs/multiruns/2026-12-06_09-00-00-000001
        >>> print(shell_override("hydra.sweep.dir", "my runs/a,b"))
        'hydra.sweep.dir="my runs/a,b"'
    """
    plain = f"{key}={value}"
    parsed = _parses(plain)
    if parsed is not None and not parsed.is_sweep_override() and parsed.value() == value:
        return shlex.quote(plain)
    return _quote_fix(key, value) or shlex.quote(plain)


def grammar_error(argument: str) -> str | None:
    """The refusal of ``argument`` (one override of a command line) when Hydra's override
    grammar cannot read it, else None."""
    try:
        override_parser().parse_overrides([argument])
    except Exception as error:
        reason = _reason(error, argument)
    else:
        return None
    given = f"{argument} is not an override Hydra can read ({reason})."
    key, equals, value = argument.partition("=")
    if not equals:
        return (
            f"{given} An override gives a value to a key, key=value (e.g. seed=1, "
            "data=wine); ~key removes a key."
        )
    if _parses(f"{key}=0") is None:
        return (
            f"{given} Its key, {key!r}, is not one Hydra reads: a key is names joined by dots "
            "(data.path), a config group is named with its option (loss=focal), and +key= / "
            "++key= / ~key add, add or override, and remove one. `--help` lists the settings."
        )
    if value[:1] in ("'", '"') and value.count(value[0]) == 1:
        closed = _shell_quoted(f"{key}={value}{value[0]}", value[1:])
        return f"{given} The quote its value opens is not closed" + (
            f": {closed}, inside the shell's quotes." if closed else "."
        )
    quoted = _quote_fix(key, value)
    as_text = f" To give the text itself, quote it for Hydra, inside the shell's quotes: {quoted}."
    if _STRUCTURE.match(value):
        return (
            f"{given} A list is written in brackets, [a,b], a mapping in braces, {{a: 1}}, a "
            "sweep's function with its parentheses, choice(a,b), and an interpolation as "
            "${a.b}: each one closed, items separated by commas, and an item holding a "
            "character special to Hydra quoted (e.g. '[\"a;b\",c]')." + (as_text if quoted else "")
        )
    special = sorted({c for c in value if not _UNQUOTED.fullmatch(c)}, key=value.index)
    named = ", ".join(repr(c) for c in special) or "a character here"
    fix = (
        f"quote the value for Hydra, inside the shell's quotes: {quoted}"
        if quoted
        else 'quote the value for Hydra (in double quotes, each \\" inside escaped)'
    )
    return (
        f"{given} {named} cannot stand unquoted in a value: {fix}. Characters special to "
        f"Hydra's overrides: {SPECIAL} (and letters outside ASCII)."
    )


def refuse_grammar_errors(overrides: Sequence[str], command: str) -> None:
    """Print the refusal of the first of ``overrides`` that Hydra's grammar cannot read and exit
    with status 2; return when Hydra can read them all. ``overrides``: a command line's
    overrides, without Hydra's flags (:func:`lossbench.hydra_internals.hydra_overrides`);
    ``command`` is named in the message of an argument that is not ``key=value``."""
    for argument in overrides:
        refusal = grammar_error(argument)
        if refusal is not None:
            if "=" not in argument:
                refusal = f"{command}: {refusal}"
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)
