"""A YAML file of a config folder (``-cd``) that Hydra cannot load, refused in lossbench's words.

Hydra reads the files of an added config folder while it composes the config, and a file it
cannot read ends the command in a traceback of PyYAML's (a list left open, a key given twice), of
Python's (a file that is not UTF-8 text, a ``defaults:`` list that names its own file) or in
Hydra's own words (``Could not load 'data/nosuch'``, then its search path).
:func:`config_file_refusal` reads those errors, given to it by
:func:`lossbench.hydra_internals.translating_errors`, and names the file, the line and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from lossbench.hydra_internals import defaults_tree_paths, file_being_loaded

__all__ = ["config_file_refusal"]

_FIX = "correct the file, or remove it from the config folder"


def _plain_yaml_problem(error: BaseException) -> tuple[str, str, bool]:
    """What PyYAML found, in words that do not need its parser's terms; the fix; and whether
    the line to name is where the construct began (a list left open) rather than where PyYAML
    stopped (the end of the file)."""
    problem = str(getattr(error, "problem", "") or "")
    context = str(getattr(error, "context", "") or "")
    if "duplicate key" in problem:
        key = problem.replace("found duplicate key", "").strip()
        return (
            f"the key {key!r} is given twice in one mapping (YAML allows a key once)",
            "keep one of the two lines (the other is above it)",
            False,
        )
    if "flow sequence" in context:
        return (
            "a list opened with '[' on this line is not closed with ']'",
            "close it (e.g. `label_columns: [y]`), with a ',' between items",
            True,
        )
    if "flow mapping" in context:
        return (
            "a mapping opened with '{' on this line is not closed with '}'",
            "close it (e.g. `{a: 1, b: 2}`), with a ',' between entries",
            True,
        )
    if "cannot start any token" in problem and "\\t" in problem:
        return "a tab character: YAML indents with spaces only", "indent with spaces", False
    if "mapping values are not allowed" in problem:
        return (
            "a ':' where no key can start",
            "quote a value that holds ': ', or indent the line as the lines beside it",
            False,
        )
    if "quoted scalar" in context or ("end of stream" in problem and "quoted" in context):
        return "a quoted string is not closed", "add the closing quote", True
    if "could not find expected ':'" in problem:
        return "a line without the ':' of `key: value`", "write it as `key: value`", True
    if "did not find expected" in problem or "expected <block end>" in problem:
        return (
            "a line indented differently from the lines beside it",
            "indent it as the lines beside it",
            False,
        )
    words = "; ".join(part for part in (context, problem) if part)
    problem = f"YAML cannot read it ({words})" if words else "YAML cannot read it"
    return problem, "correct that line", False


def _yaml_refusal(error: BaseException) -> str | None:
    import yaml

    if not isinstance(error, yaml.YAMLError):
        return None
    problem, fix, at_start = _plain_yaml_problem(error)
    marks = [getattr(error, "problem_mark", None), getattr(error, "context_mark", None)]
    mark = next((m for m in (marks[::-1] if at_start else marks) if m is not None), None)
    path = file_being_loaded(error) or getattr(mark, "name", None) or "a config file"
    where = f"{path}, line {mark.line + 1}" if mark is not None else path
    return f"{where}: {problem}, so Hydra cannot load this config file. Fix: {fix}"


def _unicode_refusal(error: BaseException) -> str | None:
    if not isinstance(error, UnicodeDecodeError):
        return None
    path = file_being_loaded(error)
    if path is None:
        return None
    return (
        f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at position "
        f"{error.start}; a file saved as UTF-16, or not a text file); Hydra reads config files as "
        f"UTF-8. Save it as UTF-8 text (in most editors: Save As, encoding UTF-8), or {_FIX}"
    )


def _config_file(config_path: str, dirs: Sequence[Path]) -> str:
    """The file of ``config_path`` (``data/mine``) in the first of ``dirs`` that holds it."""
    for folder in dirs:
        path = folder / f"{config_path}.yaml"
        if path.is_file():
            return str(path)
    return f"{config_path}.yaml"


def _recursion_refusal(error: BaseException, dirs: Sequence[Path]) -> str | None:
    if not isinstance(error, RecursionError):
        return None
    seen = defaults_tree_paths(error)
    repeated = [p for p in dict.fromkeys(seen) if seen.count(p) > 1]
    if not repeated:
        return None
    loop = repeated[:4]
    files = ", ".join(_config_file(p, dirs) for p in loop)
    chain = " -> ".join([*loop, loop[0]])
    return (
        f"{files}: its `defaults:` list loads itself ({chain}), so Hydra never finishes loading "
        f"it. A data option of a config folder starts with `defaults: [csv, _self_]` (the "
        f"shipped option it builds on, then its own keys): remove its own name from `defaults:`"
    )


_MISSING = re.compile(r"In '(?P<parent>[^']+)': Could not load '(?P<child>[^']+)'\.")


def _missing_default_refusal(error: BaseException, dirs: Sequence[Path]) -> str | None:
    match = _MISSING.search(str(error))
    if match is None or type(error).__name__ != "MissingConfigException":
        return None
    parent, child = match["parent"], match["child"]
    path = _config_file(parent, dirs)
    name = child.rsplit("/", 1)[-1]
    line = ""
    try:
        for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if re.search(rf"(^|[\s\[,:-]){re.escape(name)}($|[\s\],])", text):
                line = f", line {number}"
                break
    except OSError:
        pass
    group, _, _ = child.rpartition("/")
    options: set[str] = set()
    for folder in dirs:
        directory = folder / group if group else folder
        if directory.is_dir():
            options |= {p.stem for p in directory.glob("*.yaml")}
    known = ", ".join(sorted(options)) or "none"
    return (
        f"{path}{line}: its `defaults:` list names {name!r}, but there is no {child}.yaml in "
        f"lossbench's configs or the config folder (the {group or 'top'} options: {known}). "
        f"Name one of those (a data option of a config folder starts with "
        f"`defaults: [csv, _self_]`), or add {child}.yaml to the config folder"
    )


def config_file_refusal(error: BaseException, dirs: Sequence[Path] = ()) -> str | None:
    """The refusal of a config file Hydra could not load (``dirs``: the config folders added on
    the command line, where a config named by Hydra is looked up), or None for another error."""
    return (
        _yaml_refusal(error)
        or _unicode_refusal(error)
        or _recursion_refusal(error, dirs)
        or _missing_default_refusal(error, dirs)
    )
