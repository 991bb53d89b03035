"""Hydra's flags that Hydra reads but cannot run, refused in lossbench's words before it starts.

Hydra runs one mode per command: ``--run`` (``-r``, the default), ``--multirun`` (``-m``),
``--cfg`` (``-c``), ``--info`` (``-i``) or ``--shell-completion`` (``-sc``). Given two, it
stops with a traceback ("Only one of --run, --multirun, --cfg, --info and --shell_completion
can be specified"); so does shell completion without exactly one subcommand
(``-sc install=bash``), or a completion query without the line to complete (``-sc
query=bash`` outside the shell's completion script, which sets ``COMP_LINE``: a KeyError), and
``--resolve`` without ``--cfg``; ``--hydra-help`` with an override of
the command's own config stops the same way. ``-p`` (``--package``) without ``--cfg`` is ignored
and the command runs (a training run, where a part of the config was to be shown), and
``--experimental-rerun FILE`` unpickles ``FILE`` and runs the command on it, past the checks a
run makes before it starts (lossbench writes no such file; Hydra's ``PickleJobInfoCallback``
does, as a record). A line Hydra's parser itself
refuses (an unknown flag, a setting given with dashes: ``--seed=1``) would get argparse's usage
text. :func:`flag_refusal` says what was given and what to give instead:

    >>> print(flag_refusal(["-m", "--cfg", "job", "seed=0,1"], "lossbench-train"))
    ... # doctest: +ELLIPSIS
    -m and --cfg job cannot go together: Hydra runs one of --run (-r), --multirun (-m), ...
    >>> flag_refusal(["-sc", "install=bash"], "lossbench-train") is None
    True
"""

from __future__ import annotations

import difflib
import os
import sys
from argparse import Namespace
from collections.abc import Collection, Sequence

from lossbench.hydra_internals import hydra_arguments, hydra_arguments_error, hydra_flags

__all__ = ["SHELLS", "flag_refusal", "refuse_flag_errors"]

#: The shells Hydra completes a command's overrides in (its completion plugins).
SHELLS = ("bash", "fish", "zsh")
#: What ``-sc`` is asked to do, one of these with a shell: ``install=bash``.
_SUBCOMMANDS = ("install", "uninstall", "query")
#: Hydra's modes, one per command, each as its flag: ``--run``, ``--multirun``, ``--cfg``,
#: ``--info``, ``--shell-completion``.
_MODES = "--run (-r), --multirun (-m), --cfg (-c), --info (-i) and --shell-completion (-sc)"


def _modes(parsed: Namespace) -> list[str]:
    """The modes ``parsed`` asks for, as a command line gives them."""
    modes = []
    if parsed.run:
        modes.append("--run")
    if parsed.multirun:
        modes.append("-m")
    if parsed.cfg is not None:
        modes.append(f"--cfg {parsed.cfg}")
    if parsed.info is not None:
        modes.append("--info" if parsed.info == "all" else f"--info {parsed.info}")
    if parsed.shell_completion:
        modes.append("-sc")
    return modes


def _install(command: str, shell: str) -> str:
    """The command line that installs ``command``'s completion in ``shell`` (Hydra's words).

    >>> _install("lossbench-eval", "fish")
    'lossbench-eval -sc install=fish | source'
    """
    if shell == "fish":
        return f"{command} -sc install=fish | source"
    return f'eval "$({command} -sc install={shell})"'


def _completion_error(words: Sequence[str], command: str) -> str | None:
    """Why ``-sc`` with ``words`` (the line's other words) is not a completion request: a
    query also needs the line to complete, ``COMP_LINE``, which the shell's completion script
    sets (Hydra reads it without checking: a KeyError).

        >>> import os
        >>> if "COMP_LINE" not in os.environ:
        ...     print(_completion_error(["query=bash"], "lossbench-train"))  # doctest: +ELLIPSIS
        ... else:
        ...     print("-sc query=bash answers the shell's ...")
        -sc query=bash answers the shell's ...
    """
    if len(words) == 1:
        subcommand, _, shell = words[0].partition("=")
        if subcommand == "query" and shell in SHELLS and "COMP_LINE" not in os.environ:
            return (
                f"-sc {words[0]} answers the shell's completion script, which sets COMP_LINE (the "
                "command line being completed); COMP_LINE is not set here. To complete "
                f"{command}'s config groups and settings as you type, install the script "
                f"once per shell: {_install(command, shell)}"
            )
        if subcommand in _SUBCOMMANDS and shell in SHELLS:
            return None
    given = " ".join(words) if words else "nothing"
    return (
        f"-sc (--shell-completion) takes one subcommand and nothing else: install=SHELL, "
        f"uninstall=SHELL or query=SHELL, with SHELL one of {', '.join(SHELLS)}; given: "
        f"{given}. To complete {command}'s config groups and settings in bash: "
        f'eval "$({command} -sc install=bash)"'
    )


def _rerun_refusal(file: str, command: str) -> str:
    """Why ``--experimental-rerun FILE`` is refused, whatever ``FILE`` is."""
    again = (
        "give the run's command line again: its overrides are in <run dir>/.hydra/overrides.yaml"
        if command == "lossbench-train"
        else f"run {command} again with the same settings"
    )
    return (
        f"--experimental-rerun {file}: {command} does not rerun a job from a pickled config. "
        "Hydra would unpickle the file (which runs any code it holds), ignore the rest of the "
        "command line and skip the checks a run makes before it starts (lossbench writes no "
        f"such file; Hydra's PickleJobInfoCallback does, as a record). To run it again, {again}."
    )


def _hydra_help_error(overrides: Sequence[str], command: str) -> str | None:
    """Why ``--hydra-help`` with ``overrides`` stops with a traceback: Hydra's help composes
    Hydra's own config, without the command's, so that an override of the command's config
    has nothing to override. None where every override is Hydra's (``hydra.*``, ``hydra/``)."""
    others = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    if not others:
        return None
    given, one = " ".join(others), len(others) == 1
    it, sets = ("it", "sets") if one else ("them", "set")
    return (
        f"--hydra-help shows Hydra's own help, which Hydra composes from its own config alone: "
        f"{given} {sets} nothing there. Leave {it} out; {command} --help lists {command}'s "
        f"settings and groups, and {command} --cfg job {given} shows the config with {it}."
    )


#: argparse's message for words that are neither a flag nor an override.
_UNRECOGNIZED = "unrecognized arguments: "


def _flag_list() -> str:
    """Hydra's flags as ``--help (-h), --hydra-help, ...``."""
    return ", ".join(
        long + (f" ({', '.join(short)})" if short else "") for long, *short in hydra_flags()
    )


def _unknown_flag(flag: str, arguments: Sequence[str], command: str, keys: Collection[str]) -> str:
    """Why ``flag`` (a word that starts with ``-`` and is none of Hydra's flags) is refused:
    a setting given with dashes (``--seed=1``, ``--optimizer.lr 0.1``), or no flag at all."""
    name, equals, value = flag.lstrip("-").partition("=")
    if not equals:  # --seed 1: the value is the next word, where it is not a flag or override
        at = list(arguments).index(flag) + 1
        following = arguments[at] if at < len(arguments) else ""
        value = (
            following
            if following and "=" not in following and not following.startswith("-")
            else "<value>"
        )
    if name.split(".", 1)[0].split("/", 1)[0] in keys:
        return (
            f"{flag}: settings and groups are given without dashes, as key=value: {name}={value} "
            f"(`{command} --help` lists them)."
        )
    flags = [word for group in hydra_flags() for word in group]
    close = difflib.get_close_matches(flag.split("=", 1)[0], flags, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return (
        f"{flag} is not a flag of {command}.{hint} Its flags: {_flag_list()}. Settings and "
        f"groups are given without dashes, as key=value (`{command} --help` lists them)."
    )


def _parser_refusal(
    message: str, arguments: Sequence[str], command: str, keys: Collection[str]
) -> str:
    """The refusal of a command line Hydra's parser refuses with ``message`` (argparse's)."""
    if message.startswith(_UNRECOGNIZED):
        unknown = [w for w in message.removeprefix(_UNRECOGNIZED).split() if w.startswith("-")]
        if unknown and unknown[0] in arguments:
            return _unknown_flag(unknown[0], arguments, command, keys)
    return f"{message}. `{command} --hydra-help` lists its flags, with what each takes."


def flag_refusal(arguments: Sequence[str], command: str, keys: Collection[str] = ()) -> str | None:
    """Why Hydra would stop on ``arguments`` (a command line, flags first) with its usage text
    or a traceback; None where it would not. ``keys``: the top-level settings and groups of
    the command's config, to tell a setting given with dashes (``--seed=1``)."""
    parsed = hydra_arguments(arguments)
    if parsed is None:  # Hydra's parser refuses the line: argparse's usage text and message
        message = hydra_arguments_error(arguments)
        return None if message is None else _parser_refusal(message, arguments, command, keys)
    if parsed.experimental_rerun is not None:  # Hydra reruns before it reads any other flag
        return _rerun_refusal(parsed.experimental_rerun, command)
    if parsed.help:
        return None
    if parsed.resolve and parsed.cfg is None:
        return (
            "--resolve goes with --cfg (or --help): it shows the config with its "
            f"interpolations resolved, e.g. {command} --cfg job --resolve."
        )
    if parsed.package is not None and parsed.cfg is None and not parsed.hydra_help:
        return (
            f"-p {parsed.package} (--package) goes with --cfg: it picks the part of the config "
            f"--cfg shows, e.g. {command} --cfg job -p {parsed.package}; without --cfg Hydra "
            f"ignores it and runs {command}. Add --cfg job, or leave -p out."
        )
    if parsed.hydra_help:
        return _hydra_help_error(list(parsed.overrides), command)
    modes = _modes(parsed)
    if len(modes) > 1:
        hint = ""
        if "-m" in modes and any(mode.startswith("--cfg") for mode in modes):
            hint = (
                " To see the config of one job of a sweep, give --cfg job with one value of "
                "each swept setting, without -m."
            )
        return (
            f"{' and '.join(modes)} cannot go together: Hydra runs one of {_MODES} per "
            f"command. Keep one of them.{hint}"
        )
    if modes == ["-sc"]:
        return _completion_error(list(parsed.overrides), command)
    return None


def refuse_flag_errors(arguments: Sequence[str], command: str, keys: Collection[str] = ()) -> None:
    """Print :func:`flag_refusal`'s refusal of ``arguments`` and exit with status 2; return
    where there is none."""
    refusal = flag_refusal(arguments, command, keys)
    if refusal is not None:
        print(f"lossbench: refused: {command}: {refusal}", file=sys.stderr)
        sys.exit(2)
