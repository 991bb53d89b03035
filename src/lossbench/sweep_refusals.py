"""Sweeps Hydra stops at after the command line is read, refused in lossbench's words.

Hydra reads a sweep only where its mode and sweeper can run it, and otherwise stops with its own
message (exit status 1; the last with a traceback). Three such mistakes are common enough to
answer with a fix:

- a sweep without ``-m`` (``lossbench-train seed=0,1``: Hydra's "Ambiguous value for argument",
  or "Sweep parameters ... requires --multirun" for ``range(...)``, ``choice(...)``);
- a continuous range, ``interval(a,b)``, under a sweeper that runs a grid (Hydra's basic sweeper,
  which a plain ``-m`` and lossbench's experiments use: "BasicSweeper does not support sweep
  type : INTERVAL_SWEEP");
- a sweep over a ``hydra.*`` setting (one sweep runs under one launcher and sweeper).

:func:`sweep_refusal` turns Hydra's error into the refusal; ``lossbench-train`` gives it every
error Hydra reports (:func:`lossbench.hydra_internals.translating_errors`). Each of these stops
before any job starts.

    >>> from hydra.errors import ConfigCompositionException
    >>> error = ConfigCompositionException("Ambiguous value for argument 'seed=0,1'")
    >>> print(sweep_refusal(error, ["data=iris", "seed=0,1"])[:62])
    seed=0,1 gives several values (a sweep), which only a multirun
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Sequence
from typing import Any

from lossbench.override_types import parsed_override

__all__ = ["no_ray_cluster", "not_a_grid", "ray_connection_refusal", "sweep_refusal"]

#: The starts of Hydra's messages for a sweep in a single run.
_NEEDS_MULTIRUN = ("Ambiguous value for argument", "Sweep parameters")
#: Hydra's basic sweeper on a sweep that is not a list of values.
_NOT_A_GRID = "does not support sweep type"
#: Hydra in a multirun, on a sweep over a hydra.* setting.
_HYDRA_SWEPT = "Sweeping over Hydra's configuration is not supported"


def _sweeps(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """Each override of ``overrides`` that is a sweep, with Hydra's parse of it (one Hydra's
    grammar cannot read is none of these)."""
    parsed = ((argument, parsed_override(argument)) for argument in overrides)
    return [(a, o) for a, o in parsed if o is not None and o.is_sweep_override()]


def sweep_refusal(
    error: BaseException,
    overrides: Sequence[str],
    command: str = "lossbench-train",
    groups: Collection[str] = (),
) -> str | None:
    """The refusal of Hydra's ``error`` where it stopped at a sweep among ``overrides`` (the
    command line's, without Hydra's flags) that cannot run as given; else None (Hydra reports
    it). ``groups``: the config groups (``loss``, ``data``, ...), whose sweeps choose options,
    never lists."""
    text = str(error).strip()
    sweeps = _sweeps(overrides)
    if not sweeps:
        return None
    if text.startswith(_NEEDS_MULTIRUN):
        values = [a for a, o in sweeps if o.key_or_group.lstrip("+~") not in groups]
        ranges = [(a, o) for a, o in sweeps if _is_interval(o)]
        if ranges and len(ranges) == len(sweeps):  # a plain -m would refuse it next
            return _range_needs_a_sampler(ranges)
        message = _needs_multirun([a for a, _ in sweeps], overrides, command, lists=bool(values))
        return f"{message} {not_a_grid(ranges)}" if ranges else message
    if _NOT_A_GRID in text:
        ranges = [(a, o) for a, o in sweeps if not o.is_discrete_sweep()]
        return not_a_grid(ranges) if ranges else None
    if text.startswith(_HYDRA_SWEPT):
        swept = [a for a, o in sweeps if o.is_hydra_override()]
        return _hydra_swept(swept) if swept else None
    return None


def ray_connection_refusal(
    error: BaseException,
    overrides: Sequence[str],
    checked: tuple[str, bool] | None = None,
) -> str | None:
    """The refusal of a Ray sweep whose ``hydra.launcher.ray.init.address`` names no running
    cluster (Ray's ``ConnectionError``, raised as the launcher starts, before any job: "Could
    not find any running Ray instance" for ``auto``, "ray client connection timeout" for a
    ``ray://`` address), or whose ``hydra.launcher.ray.init`` sets what only a Ray of its own
    takes (Ray's "When connecting to an existing cluster, num_cpus ... must not be provided").
    ``checked``: the setting that named the cluster and whether something answered at its
    address, as the sweep's check of it found (:func:`lossbench.ray_cluster.checked_address`),
    which also sees an address set in a config file or by ``RAY_ADDRESS``; else the address is
    read from ``overrides``.

        >>> error = ConnectionError("Could not find any running Ray instance. Please specify")
        >>> print(ray_connection_refusal(error, ["hydra.launcher.ray.init.address=auto"])[:73])
        hydra/launcher=ray with hydra.launcher.ray.init.address=auto found no Ray
        >>> error = ConnectionError("ray client connection timeout")
        >>> print(ray_connection_refusal(error, ["hydra.launcher.ray.init.address=ray://h"])[:62])
        hydra/launcher=ray with hydra.launcher.ray.init.address=ray://
    """
    text = " ".join(str(error).split())
    given = [o for o in overrides if o.lstrip("+").startswith("hydra.launcher.ray.init.address=")]
    setting = given[-1].lstrip("+") if given else None
    # an address with a host and port answered lossbench's check (lossbench.ray_cluster)
    answered = setting is not None and not setting.endswith(("=auto", "=local"))
    if checked is not None:
        setting, answered = checked
    if not isinstance(error, (ValueError, ConnectionError)):
        return None
    if _RAY_JOIN_ONLY in text:  # Ray's ValueError; through a Ray Client, the server's
        return _ray_own_settings(text[text.index(_RAY_JOIN_ONLY) :], setting)
    if not isinstance(error, ConnectionError) or "ray" not in text.lower():
        return None
    return no_ray_cluster(setting, text, answered=answered)


#: The start of Ray's message for a setting that only a Ray of its own takes.
_RAY_JOIN_ONLY = "When connecting to an existing cluster"


def no_ray_cluster(
    setting: str | None, reason: str, *, answered: bool = False, hint: str = ""
) -> str:
    """The refusal of a Ray sweep whose ``setting`` (``hydra.launcher.ray.init.address=...``,
    ``RAY_ADDRESS=...``, None where neither was given) names no cluster that answers, with
    ``reason`` (Ray's message, or what the check of the address met). ``answered``: something
    answers at the address, but Ray could not join it (a cluster that asks for its token).
    ``hint``: sentences on the fix that come first."""
    named = f" with {setting}" if setting else ""
    token = (
        "Something answers at that address: a cluster started with `ray start` is joined by "
        "address only with its token, so set RAY_AUTH_MODE=token here (the token in "
        "~/.ray/auth_token, as on the head node). "
        if answered
        else ""
    )
    return (
        f"hydra/launcher=ray{named} found no Ray cluster to join ({reason}). {hint}{token}"
        "An address joins a cluster that is already running: start it first (`ray start "
        "--head` on this node, and `ray start --address=<head>:6379` on the others), or name "
        "it with RAY_ADDRESS; leave hydra.launcher.ray.init.address out to start a Ray of its "
        "own on this machine for the sweep."
    )


def _ray_own_settings(text: str, setting: str | None) -> str:
    """The refusal of ``hydra.launcher.ray.init`` settings that a cluster joined refuses."""
    named = f" with {setting}" if setting else " with RAY_ADDRESS"
    return (
        f"hydra/launcher=ray{named} joins a running Ray cluster, which keeps the resources it "
        f"was started with ({text}): leave out hydra.launcher.ray.init.num_cpus, num_gpus, "
        "resources and object_store_memory (they size a Ray of the sweep's own), or give "
        "each job its share with +hydra.launcher.ray.remote.num_cpus=... and "
        "+hydra.launcher.ray.remote.num_gpus=..."
    )


def _is_interval(override: Any) -> bool:
    """Whether ``override`` sweeps an ``interval(a,b)``, which only a sampling sweeper runs."""
    from hydra.core.override_parser.types import IntervalSweep

    return isinstance(override.value(), IntervalSweep)


def _ranges_given(ranges: Sequence[tuple[str, Any]]) -> tuple[str, str]:
    """The interval sweeps ``ranges`` as given, and a grid of the first one's ends
    (``optimizer.lr=0.001,0.1``) to offer instead."""
    _, override = ranges[0]
    interval = override.value()
    example = f"{override.get_key_element()}={_number(interval.start)},{_number(interval.end)}"
    return ", ".join(a for a, _ in ranges), example


def _range_needs_a_sampler(ranges: Sequence[tuple[str, Any]]) -> str:
    """Why the ``interval(a,b)`` sweeps ``ranges`` cannot run in a single run, nor in a plain
    multirun (its sweeper runs a grid)."""
    given, example = _ranges_given(ranges)
    return (
        f"{given}: interval(...) is a continuous range (a sweep), which only a multirun runs, "
        "and only with a sweeper that samples it: -m hydra/sweeper=optuna (as "
        "hparams_search=optuna_focal does; pip install 'lossbench[optuna]'). A plain -m runs a "
        f"grid: give it the values to try (e.g. -m {example}, or range(...))."
    )


def _needs_multirun(
    swept: list[str], overrides: Sequence[str], command: str, *, lists: bool = True
) -> str:
    """``lists``: some of ``swept`` set a value (not a group's option), which could be meant
    as a list or a text with a comma."""
    given = ", ".join(swept)
    line = " ".join(shlex.quote(a) for a in overrides)
    message = (
        f"{given} {'gives' if len(swept) == 1 else 'give'} several values (a sweep), which only "
        f"a multirun runs: add -m to run one job per value ({command} -m {line})."
    )
    if lists:
        message += (
            " A list as one value is written in brackets (key=[a,b]), and a text with a comma "
            "quoted (key='a,b')."
        )
    return message


def not_a_grid(ranges: Sequence[tuple[str, Any]]) -> str:
    """Why the sweeps ``ranges`` (each override's text and Hydra's parse of it), intervals,
    cannot run under a sweeper of grids, and what to give instead."""
    given, example = _ranges_given(ranges)
    return (
        f"{given}: interval(...) is a continuous range, which this sweep's sweeper (Hydra's "
        "basic sweeper: a plain -m and lossbench's experiments run a grid) cannot enumerate. "
        f"Give the values to try (e.g. -m {example}, or range(...)), or sample the range in a "
        "multirun with the Optuna sweeper (-m hydra/sweeper=optuna, as "
        "hparams_search=optuna_focal does; pip install 'lossbench[optuna]')."
    )


def _hydra_swept(swept: list[str]) -> str:
    return (
        f"{', '.join(swept)}: a sweep runs under one Hydra configuration (its launcher, sweeper "
        "and directories), so hydra.* settings cannot be swept. Run one sweep per value, each "
        "with its own hydra.sweep.dir."
    )


def _number(value: Any) -> str:
    """``value`` as an override writes it: ``0.001``, ``3``."""
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else repr(value)


def _values(override: Any) -> int:
    """How many values a sweep override gives (a glob or range Hydra cannot list: 2, many)."""
    try:
        return max(1, len(list(override.sweep_string_iterator())))
    except Exception:
        return 2


def shared_out_refusal(
    overrides: Sequence[str], command: str, *, default: str | None, own_folders: str = ""
) -> str | None:
    """Why the jobs of a multirun of ``command`` (lossbench-eval, lossbench-predict) would all
    write one file, each replacing the one before: ``out=`` given (or, where ``default`` names
    it, the default ``out`` every job shares) while other settings are swept. None where
    each job writes its own file: one job, an ``out`` with an interpolation
    (``out='p-${hydra:job.num}.csv'``), or no ``out`` where the default differs by job.
    ``own_folders``: how the default ``out`` differs by job (the fix where there is one).

        >>> print(shared_out_refusal(["ckpt_path=a.ckpt,b.ckpt", "out=p.csv"], "lossbench-predict",
        ...       default="predictions.csv")[:74])
        the multirun ckpt_path=a.ckpt,b.ckpt runs 2 jobs that would all write out=
        >>> shared_out_refusal(["ckpt_path=a.ckpt", "out=p.csv"], "lossbench-predict",
        ...                    default="predictions.csv") is None
        True
    """
    parsed = [(argument, parsed_override(argument)) for argument in overrides]
    outs = [o for _, o in parsed if o is not None and o.key_or_group == "out"]
    given = None
    if outs:
        given = "several values" if outs[-1].is_sweep_override() else str(outs[-1].value())
    out = given if given is not None else default
    if out is None or "${" in out:
        return None
    swept = [
        (a, o)
        for a, o in _sweeps(overrides)
        if o.key_or_group != "out" and not o.is_hydra_override()
    ]
    jobs = 1
    for _, override in swept:
        jobs *= _values(override)
    if jobs <= 1:
        return None
    stem, dot, suffix = out.rpartition(".")
    per_job = f"{stem}-${{hydra:job.num}}{dot}{suffix}" if dot else f"{out}-${{hydra:job.num}}"
    what = f"out={out}" if given is not None else f"the default out={out}"
    fixes = [f"give each job its own file with out='{per_job}' (Hydra's job number)"]
    if own_folders:
        fixes.insert(0, f"leave out= out: {own_folders}")
    fix = "; or ".join(fixes)
    return (
        f"the multirun {' '.join(a for a, _ in swept)} runs {jobs} jobs that would all write "
        f"{what}, each replacing the result of the one before (or refused, as another "
        f"checkpoint's), so all but one would be lost. {fix[0].upper()}{fix[1:]}; or run "
        f"{command} once per setting, each with its own out=."
    )
