"""The top-level keys a command accepts on its command line, and the refusal of any other.

Hydra refuses a misspelt key too, but names only the key and the schema it is missing from,
and suggests adding it with ``+``, which is rarely what was meant. Each command checks the
first name of every ``key=value`` override against its own keys before Hydra composes
anything (nothing is read or written yet), and refuses an unknown one with the closest names
and every valid one (exit status 2, one line, no traceback).

    >>> valid = ("data", "optimizer", "seed", "trainer")
    >>> unknown_key("optimzer.lr=0.01", valid, "lossbench-train")[:87]
    "lossbench-train has no setting 'optimzer' (in optimzer.lr=0.01). Did you mean optimizer"
    >>> unknown_key("+my_key=1", valid, "lossbench-train") is None  # added on purpose
    True

Nested keys (``optimizer.lrr``) depend on the options chosen and are left to Hydra, and to
lossbench's checks of the composed config; ``trainer.<key>`` has its own check
(:mod:`lossbench.trainer_args`).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["added_config_dirs", "command_keys", "refuse_unknown_keys", "unknown_key"]

#: The first name of an override: up to the first ``.``, ``/`` (a config group's path, such as
#: ``hydra/launcher``), ``@`` (a package) or ``=``.
_FIRST_NAME = re.compile(r"[^./@=]+")


def command_keys(schema: type, groups: Iterable[str] = ()) -> tuple[str, ...]:
    """The top-level keys of a command whose config is the dataclass ``schema``: its fields,
    the config ``groups`` it composes from, and ``hydra``; sorted."""
    names = {field.name for field in dataclasses.fields(schema)}
    return tuple(sorted(names | set(groups) | {"hydra"}))


def added_config_dirs(arguments: Sequence[str]) -> list[Path] | None:
    """The config directories ``arguments`` add (``--config-dir DIR``, ``-cd DIR``), whose
    groups are settings too; None where ``hydra.searchpath`` adds some this check cannot see
    (the check is then left to Hydra).

        >>> added_config_dirs(["-cd", "mine", "data=wine"])
        [PosixPath('mine')]
        >>> added_config_dirs(["hydra.searchpath=[file://mine]"]) is None
        True
    """
    dirs: list[Path] = []
    for index, argument in enumerate(arguments):
        if argument.startswith(("hydra.searchpath", "+hydra.searchpath", "++hydra.searchpath")):
            return None
        if argument in ("--config-dir", "-cd") and index + 1 < len(arguments):
            dirs.append(Path(arguments[index + 1]))
        elif argument.startswith("--config-dir="):
            dirs.append(Path(argument.split("=", 1)[1]))
    return dirs


def unknown_key(argument: str, valid: Sequence[str], command: str) -> str | None:
    """The refusal of ``argument`` when it overrides a top-level key that ``command`` does not
    have, else None. Flags (``-m``, ``--cfg``), arguments without ``=`` and overrides that add
    or delete a key on purpose (``+key=``, ``++key=``, ``~key``) are not checked."""
    if argument.startswith(("-", "+", "~")) or "=" not in argument:
        return None
    found = _FIRST_NAME.match(argument)
    name = found.group(0) if found else ""
    if not name or name in valid:
        return None
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return (
        f"{command} has no setting {name!r} (in {argument}).{hint} Valid settings and config "
        f"groups: {', '.join(valid)}. `{command} --help` lists them with their options."
    )


def refuse_unknown_keys(arguments: Sequence[str], valid: Sequence[str], command: str) -> None:
    """Print the refusal of the first unknown top-level key in ``arguments`` and exit with
    status 2; return when every key is known."""
    for argument in arguments:
        refusal = unknown_key(argument, valid, command)
        if refusal is not None:
            print(f"lossbench: refused: {refusal}", file=sys.stderr)
            sys.exit(2)
