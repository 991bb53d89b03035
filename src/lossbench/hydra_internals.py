"""The private Hydra names the command line's checks use, each behind a small function.

Hydra's ``hydra._internal`` can change in any release (``pyproject.toml`` allows
``hydra-core>=1.3.2,<1.4``; these were checked against 1.3.2). Three are needed before and around
Hydra's own start, where Hydra offers no public hook:

* :func:`hydra_overrides`: the overrides of a command line, as Hydra's argument parser
  separates them from its flags (``-cd DIR``, ``--cfg job``, ``--info defaults``), so that
  the grammar check (:mod:`lossbench.override_grammar`) reads exactly what Hydra will parse.
* :func:`translating_errors`: Hydra composes the config inside ``run_and_report``, which
  prints any exception with Hydra's words and exits with status 1; this lets a command turn
  the errors it knows (:func:`lossbench.option_keys.composition_refusal`) into its own refusal
  first (exit status 2).
* :func:`flags_first`: Hydra 1.3's parser refuses overrides that follow a flag
  (``data=wine -m seed=0,1``); the commands put the flags first, as later Hydra releases read
  such a line. Hydra's shell completion reads the line being completed (``COMP_LINE``) with
  the same parser: :func:`completion_line_flags_first` puts its flags first too, and
  :func:`completion_offers_only` keeps the schemas out of what it offers.

:func:`callbacks_checked` gives a command the config Hydra composed for a run or a multirun
before Hydra builds its callbacks (``hydra.callbacks``), so that an entry Hydra cannot build
is refused in lossbench's words (:mod:`lossbench.hydra_callback_entries`).

:func:`multirun_yaml_unwritten` keeps Hydra's basic sweeper from writing the sweep's
``multirun.yaml``, which no setting turns off: lossbench-eval and lossbench-predict write nothing
but their outputs, in a multirun too.

:func:`file_being_loaded` and :func:`defaults_tree_paths` read Hydra's frames in the traceback
of a config file it could not load (:mod:`lossbench.config_files` names the file and the loop).

Two of Hydra's private classes are used as they are, and imported from here:

* ``BasicSweeper`` (``hydra._internal.core_plugins.basic_sweeper``): the base of the sweeper
  plugin (``hydra_plugins.lossbench_sweeper``), which keeps Hydra's cartesian product, batches
  and job numbering and changes the check before the sweep.
* ``ConfigRepository`` and ``IConfigRepository`` (``hydra._internal.config_repository``): the
  repository whose parsed files :mod:`lossbench.config_cache` keeps for every later
  composition, and its interface.

Each is read from Hydra's module when it is imported from here (:func:`__getattr__`), not when
this module loads: Hydra's plugin scan runs its core plugins' modules again, and
``BasicSweeper`` calls ``super(BasicSweeper, self)`` with the class its module holds then, so
a sweeper must extend that one.

``tests/test_hydra_internals.py`` fails loudly when Hydra renames any of these: run it when
Hydra moves. This is the one module that imports ``hydra._internal``
(``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from hydra._internal.config_repository import ConfigRepository, IConfigRepository
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

__all__ = [
    "BasicSweeper",
    "ConfigRepository",
    "IConfigRepository",
    "callbacks_checked",
    "completion_line_flags_first",
    "completion_offers_only",
    "flags_first",
    "hydra_arguments",
    "hydra_arguments_error",
    "hydra_config_unset",
    "hydra_flags",
    "hydra_node_resolved_in_full",
    "hydra_overrides",
    "multirun_yaml_unwritten",
    "overrides_dirname",
    "shown_config_checked",
    "sweep_config_loader",
    "translating_errors",
]


def __getattr__(name: str) -> Any:
    """Hydra's private classes this module names (module docstring), as Hydra's modules hold
    them now; the sweeper plugin reads ``BasicSweeper`` while Hydra scans the plugins, after
    Hydra has run ``basic_sweeper`` again.

        >>> from lossbench.hydra_internals import ConfigRepository
        >>> ConfigRepository.__module__
        'hydra._internal.config_repository'
    """
    if name == "BasicSweeper":
        from hydra._internal.core_plugins import basic_sweeper

        return basic_sweeper.BasicSweeper
    if name in ("ConfigRepository", "IConfigRepository"):
        from hydra._internal import config_repository

        return getattr(config_repository, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def overrides_dirname(overrides: Sequence[str], setting: Any) -> str:
    """``hydra.job.override_dirname`` of a job of a sweep whose overrides are ``overrides``
    (without Hydra's own), as Hydra makes it (``get_overrides_dirname`` of
    ``hydra._internal.config_loader_impl``) under ``setting``
    (``hydra.job.config.override_dirname``: ``kv_sep``, ``item_sep``, ``exclude_keys``).

        >>> from omegaconf import OmegaConf
        >>> setting = OmegaConf.create({"kv_sep": "=", "item_sep": ",", "exclude_keys": ["seed"]})
        >>> overrides_dirname(["seed=1", "data=iris", "optimizer.lr=0.1"], setting)
        'data=iris,optimizer.lr=0.1'
    """
    from hydra._internal.config_loader_impl import get_overrides_dirname

    from lossbench.override_grammar import override_parser

    return get_overrides_dirname(
        overrides=override_parser().parse_overrides(list(overrides)),
        exclude_keys=list(setting.exclude_keys),
        item_sep=setting.item_sep,
        kv_sep=setting.kv_sep,
    )


def sweep_config_loader(config: Any) -> Any | None:
    """Hydra's config loader (``ConfigLoaderImpl`` of ``hydra._internal.config_loader_impl``)
    for the jobs of the multirun whose config is ``config``, built from that config's own
    search path (``hydra.runtime.config_sources``: Hydra's, the primary config's folder, the
    plugins', the ConfigStore's) rather than from the Hydra app of the process (``GlobalHydra``,
    which an earlier app may have left set); its ``load_sweep_config(config, overrides)``
    composes a job as Hydra's launchers do. The folders of ``hydra.searchpath`` are left out:
    each composition adds them again, as Hydra's does. None where ``config`` names no sources.

        >>> from omegaconf import OmegaConf
        >>> sweep_config_loader(OmegaConf.create({"hydra": {"runtime": {}}})) is None
        True
    """
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from omegaconf import OmegaConf

    sources = OmegaConf.select(config, "hydra.runtime.config_sources", default=None)
    if not sources:
        return None
    search_path = ConfigSearchPathImpl()
    for source in sources:
        provider = str(source.provider)
        if provider.startswith("hydra.searchpath") or provider == "schema":
            continue
        search_path.append(provider, f"{source.schema}://{source.path}")
    search_path.append("schema", "structured://")  # always last, as Hydra's
    return ConfigLoaderImpl(config_search_path=search_path)


#: What a parse by Hydra's argument parser gives (a namespace, or it and the words left).
_Parsed = TypeVar("_Parsed")


class _ArgumentsError(Exception):
    """Hydra's argument parser would refuse the command line (it says so itself)."""


def _parser() -> argparse.ArgumentParser:
    """Hydra's argument parser (``hydra._internal.utils.get_args_parser``), raising
    :class:`_ArgumentsError` where argparse would print an error and exit."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def error(message: str) -> Any:
        raise _ArgumentsError(message)

    parser.error = error  # type: ignore[method-assign]  # argparse would print and exit
    return parser


def _quietly(parse: Callable[[], _Parsed]) -> _Parsed:
    """``parse()`` (a parse by :func:`_parser`) with nothing printed: argparse's ``--version``
    prints Hydra's version line before it exits (``SystemExit``), and the checks parse a
    command line several times, so that Hydra's own start is left to print it, once.

        >>> _quietly(lambda: _parser().parse_args(["--version"]))
        Traceback (most recent call last):
        ...
        SystemExit: 0
    """
    with redirect_stdout(io.StringIO()):
        return parse()


def hydra_arguments(arguments: Sequence[str]) -> argparse.Namespace | None:
    """``arguments`` as Hydra's ``@hydra.main`` parses them (``hydra._internal.utils.
    get_args_parser``), or None where Hydra's parser refuses them (it then says why, when
    Hydra starts).

        >>> hydra_arguments(["-m", "seed=0,1"]).multirun
        True
    """
    try:
        return _quietly(lambda: _parser().parse_args(list(arguments)))
    except (_ArgumentsError, SystemExit):  # --version: Hydra prints its line when it starts
        return None


def hydra_arguments_error(arguments: Sequence[str]) -> str | None:
    """Why Hydra's parser refuses ``arguments`` (argparse's message, which Hydra prints after
    its usage text), or None where it reads them.

        >>> hydra_arguments_error(["--nosuch", "seed=1"])
        'unrecognized arguments: --nosuch'
        >>> hydra_arguments_error(["-m", "seed=0,1"]) is None
        True
    """
    try:
        _quietly(lambda: _parser().parse_args(list(arguments)))
    except _ArgumentsError as error:
        return str(error)
    except SystemExit:  # --help, --version: they print and exit, no error
        return None
    return None


def hydra_flags() -> list[tuple[str, ...]]:
    """Hydra's flags, each with its short form: ``[("--help", "-h"), ("--hydra-help",), ...]``."""
    return [tuple(a.option_strings) for a in _parser()._actions if a.option_strings]


def flags_first(arguments: Sequence[str]) -> list[str]:
    """``arguments`` with Hydra's flags (and their values) before the overrides, where Hydra's
    parser refuses them only because overrides follow a flag; else ``arguments`` as given.

    Hydra 1.3 reads the overrides as one positional list, so ``data=wine -m seed=0,1`` stops
    with "unrecognized arguments: seed=0,1" (Hydra's issue #3053, fixed after 1.3.2): a
    command line that puts ``-m`` (or ``--cfg job``, ``-cd DIR``) between its overrides means
    the same as with the flags first, and is run so. The reordered line is checked to parse to
    the same flags and the same overrides, in their order.

        >>> flags_first(["data=wine", "-m", "seed=0,1", "--cfg", "job", "loss=nll"])
        ['-m', '--cfg', 'job', 'data=wine', 'seed=0,1', 'loss=nll']
        >>> flags_first(["data=wine", "seed=0,1", "-m"])  # Hydra reads it as it is
        ['data=wine', 'seed=0,1', '-m']
        >>> flags_first(["data=wine", "--no-such-flag", "seed=0"])  # Hydra says why
        ['data=wine', '--no-such-flag', 'seed=0']
    """
    given = list(arguments)
    if hydra_arguments(given) is not None:
        return given
    try:
        known, rest = _quietly(lambda: _parser().parse_known_args(given))
    except (_ArgumentsError, SystemExit):
        return given
    if not rest or any(token.startswith("-") for token in rest):
        return given  # an unknown flag: Hydra's message names it
    overrides = [*known.overrides, *rest]
    flags, pending = [], list(overrides)
    for token in given:
        if pending and token == pending[0]:
            pending.pop(0)
        else:
            flags.append(token)
    reordered = [*flags, *overrides]
    parsed = hydra_arguments(reordered)
    if parsed is None or vars(parsed) != {**vars(known), "overrides": overrides}:
        return given  # not the same command line: Hydra's message, as before
    return reordered


def completion_line_flags_first(line: str) -> str:
    """``line`` (``COMP_LINE``: the command line a shell's completion script hands to ``-sc
    query=bash``) with :func:`flags_first`'s order of the words after the command's name.

    Hydra 1.3's completion parses those words with its argument parser (its ``_query``), which
    stops with argparse's usage text where an override follows a flag: ``lossbench-train
    data=iris -m data.ba`` offers nothing, ``lossbench-train -m data=iris data.ba`` offers
    ``data.batch_size=``. The word being completed stays last, and a line that ends with a
    space (a new word) still does; a line the parser reads as given is returned as given.

        >>> completion_line_flags_first("lossbench-train data=iris -m data.ba")
        'lossbench-train -m data=iris data.ba'
        >>> completion_line_flags_first("lossbench-eval split=test --cfg job seed=1 ")
        'lossbench-eval --cfg job split=test seed=1 '
        >>> completion_line_flags_first("lossbench-train -m data=iris lo")
        'lossbench-train -m data=iris lo'
    """
    from hydra.plugins.completion_plugin import CompletionPlugin

    try:
        arguments = CompletionPlugin.strip_python_or_app_name(line)  # what Hydra's query parses
    except RuntimeError:  # no command name: Hydra's query says so itself
        return line
    words = arguments.split()
    reordered = flags_first(words)
    if reordered == words or not line.endswith(arguments):
        return line
    command = line[: len(line) - len(arguments)]
    new_word = " " if arguments[-1:].isspace() else ""
    return f"{command}{' '.join(reordered)}{new_word}"


@contextmanager
def completion_offers_only(offered: Callable[[str], bool]) -> Iterator[None]:
    """Within this block, Hydra's shell completion (``-sc query=bash``) offers a config group,
    or an option of one, only where ``offered(group)`` (``schema``, ``schema/data``: the
    group's path, without ``+`` or ``~``): ``lossbench-train s<TAB>`` offered ``schema/``,
    the ConfigStore's schemas, which are no choice of the user's.

    Hydra's completion matches the word being completed against the groups in
    ``CompletionPlugin._query_config_groups`` (``hydra.plugins.completion_plugin``, private;
    checked: Hydra 1.3): the block wraps that method to drop the matches ``offered`` refuses,
    and restores it when it ends.

        >>> from hydra.plugins.completion_plugin import CompletionPlugin
        >>> hydra_own = CompletionPlugin._query_config_groups
        >>> with completion_offers_only(lambda group: group != "schema"):
        ...     CompletionPlugin._query_config_groups is hydra_own
        False
        >>> CompletionPlugin._query_config_groups is hydra_own
        True
    """
    from hydra.plugins.completion_plugin import CompletionPlugin

    original = CompletionPlugin._query_config_groups

    def _query_config_groups(self: Any, word: str, *args: Any, **kwargs: Any) -> Any:
        matched, exact_match = original(self, word, *args, **kwargs)
        kept = [m for m in matched if offered(m.lstrip("+~").split("=", 1)[0].rstrip("/"))]
        return kept, exact_match

    CompletionPlugin._query_config_groups = _query_config_groups  # type: ignore[method-assign]
    try:
        yield
    finally:
        CompletionPlugin._query_config_groups = original  # type: ignore[method-assign]


def hydra_overrides(arguments: Sequence[str]) -> list[str]:
    """The overrides among ``arguments`` (without Hydra's flags and their values); none where
    Hydra's parser refuses the command line, or it asks for shell completion (``-sc``, whose
    words are not overrides).

        >>> hydra_overrides(["-cd", "mine", "--cfg", "job", "data=wine", "-m"])
        ['data=wine']
        >>> hydra_overrides(["-sc", "install=bash"])
        []
    """
    parsed = hydra_arguments(arguments)
    if parsed is None or parsed.shell_completion:
        return []
    return list(parsed.overrides)


@contextmanager
def translating_errors(translate: Callable[[BaseException], str | None]) -> Iterator[None]:
    """Within this block, an exception raised where Hydra reports errors itself (composing the
    config, sweeping, launching: ``hydra._internal.utils.run_and_report``) is first given to
    ``translate``; where it returns a message, the command prints it as its refusal and exits
    with status 2, else Hydra reports the exception as before (status 1). An exception that
    leaves the block itself (Hydra composes for ``--help`` and ``--info`` outside
    ``run_and_report``, and they end in a traceback) is given to ``translate`` too.

    Hydra's ``_run_hydra`` calls ``run_and_report`` as a global of ``hydra._internal.utils``:
    the block replaces that global with a wrapper, and restores it when it ends.
    """
    from hydra._internal import utils

    original = utils.run_and_report

    def run_and_report(func: Callable[[], Any]) -> Any:
        def translated() -> Any:
            try:
                return func()
            except Exception as error:
                refusal = translate(error)
                if refusal is None:
                    raise
                print(f"lossbench: refused: {refusal}", file=sys.stderr, flush=True)
                sys.exit(2)

        return original(translated)

    utils.run_and_report = run_and_report
    try:
        yield
    except Exception as error:  # --help, --info: Hydra composes outside run_and_report
        refusal = translate(error)
        if refusal is None:
            raise
        print(f"lossbench: refused: {refusal}", file=sys.stderr, flush=True)
        sys.exit(2)
    finally:
        utils.run_and_report = original


@contextmanager
def callbacks_checked(check: Callable[[Any], None]) -> Iterator[None]:
    """Within this block, ``check`` is given the config Hydra composed for a run or a multirun
    before Hydra builds its callbacks from ``hydra.callbacks``, and so before any callback
    runs and anything is written; an exception it raises ends Hydra's run there (inside
    ``run_and_report``: :func:`translating_errors` turns a refusal into the command's).

    ``Hydra.run`` and ``Hydra.multirun`` (``hydra._internal.hydra``, private; checked: Hydra
    1.3) build the callbacks with ``Callbacks(cfg)``, a global of that module: the block
    replaces that global with a function that calls ``check`` first, and restores it when it
    ends.

        >>> from hydra._internal import hydra as hydra_app
        >>> with callbacks_checked(print):
        ...     hydra_app.Callbacks(None).callbacks
        []
        >>> hydra_app.Callbacks.__name__
        'Callbacks'
    """
    from hydra._internal import hydra as hydra_app

    original = hydra_app.Callbacks

    def checked(config: Any = None) -> Any:
        if config is not None:
            check(config)
        return original(config)

    hydra_app.Callbacks = checked  # type: ignore[assignment]
    try:
        yield
    finally:
        hydra_app.Callbacks = original  # type: ignore[misc]


#: The file Hydra's basic sweeper writes into the sweep's directory before any job starts.
MULTIRUN_YAML = "multirun.yaml"


class _OmegaConfWithoutMultirunYaml:
    """OmegaConf, whose ``save`` skips a file named :data:`MULTIRUN_YAML`."""

    def __init__(self, omegaconf: Any) -> None:
        self._omegaconf = omegaconf

    def __getattr__(self, name: str) -> Any:
        return getattr(self._omegaconf, name)

    def save(self, config: Any, f: Any, resolve: bool = False) -> None:
        if isinstance(f, str | Path) and Path(f).name == MULTIRUN_YAML:
            return
        self._omegaconf.save(config, f, resolve=resolve)


@contextmanager
def hydra_config_unset() -> Iterator[None]:
    """Within this block, Hydra's config of a job (``HydraConfig``, which ``${hydra:job.num}``
    reads) is not set, as when a multirun starts in a fresh process: Hydra sets it for each job
    and leaves the last one's in place, so a second multirun in the same process (a notebook,
    a test suite) would check the values that read it against another job's config (its
    ``job.num`` None) instead of leaving them to the jobs. Restored when the block ends.

        >>> from hydra.core.hydra_config import HydraConfig
        >>> with hydra_config_unset():
        ...     HydraConfig.initialized()
        False
    """
    from hydra.core.hydra_config import HydraConfig

    instance = HydraConfig.instance()
    saved, instance.cfg = instance.cfg, None
    try:
        yield
    finally:
        instance.cfg = saved


@contextmanager
def multirun_yaml_unwritten() -> Iterator[None]:
    """Within this block, a multirun of Hydra's basic sweeper (or of lossbench's, derived from
    it) writes no ``multirun.yaml`` into its ``hydra.sweep.dir``: lossbench-eval and
    lossbench-predict sweep in the current directory (``hydra.sweep.dir: .``), where they write
    nothing but their outputs.

    ``BasicSweeper.sweep`` saves the file with ``OmegaConf.save`` before its first job, with no
    setting to turn that off; the block gives ``hydra._internal.core_plugins.basic_sweeper`` an
    ``OmegaConf`` whose ``save`` skips that one file, and restores Hydra's when it ends. Hydra's
    scan of its plugins runs each plugin module again (which would import OmegaConf anew), so
    the block scans them first, as Hydra does when it starts (for ``--help`` too: no cost).

        >>> from hydra._internal.core_plugins import basic_sweeper
        >>> with multirun_yaml_unwritten():
        ...     type(basic_sweeper.OmegaConf).__name__
        '_OmegaConfWithoutMultirunYaml'
        >>> basic_sweeper.OmegaConf.__name__
        'OmegaConf'
    """
    from hydra._internal.core_plugins import basic_sweeper
    from hydra.core.plugins import Plugins

    Plugins.instance()  # scanned once, now: the scan would undo the change below
    original = basic_sweeper.OmegaConf
    basic_sweeper.OmegaConf = _OmegaConfWithoutMultirunYaml(original)
    try:
        yield
    finally:
        basic_sweeper.OmegaConf = original


@contextmanager
def hydra_node_resolved_in_full(*, active: bool = True) -> Iterator[None]:
    """Within this block (where ``active``: the command line gives ``--cfg hydra --resolve`` or
    ``--cfg all --resolve``), ``--cfg hydra --resolve`` resolves Hydra's node inside the whole
    config, so that its values may interpolate the job's keys
    (``hydra.run.dir: ${paths.output_dir}/runs/...``); Hydra itself keeps only its node before
    resolving it, and stops with ``InterpolationKeyError`` on such a value.

    ``Hydra.show_cfg`` (``hydra._internal.hydra``, private; checked: Hydra 1.3) takes that node
    with ``get_sanitized_cfg(cfg, "hydra")`` (the whole config with ``"all"``): the block wraps
    that method to resolve the node's values in place first, against the full config, and
    restores it when it ends. A value that interpolates a key the config lacks is refused,
    naming it (``--cfg all --resolve`` ended with OmegaConf's traceback).
    """
    if not active:
        yield
        return
    from omegaconf import OmegaConf, flag_override

    def resolve_node(cfg: Any, cfg_type: str) -> None:
        if cfg_type in ("hydra", "all"):
            with flag_override(cfg, ["struct", "readonly"], [False, False]):
                cfg.hydra = OmegaConf.create(_resolved_node(cfg.hydra, cfg_type=cfg_type))

    with _before_sanitized_cfg(resolve_node):
        yield


@contextmanager
def shown_config_checked(check: Callable[[Any], None] | None) -> Iterator[None]:
    """Within this block, ``check`` is given the whole config (Hydra's node too) that ``--cfg``
    (job, hydra, all) or ``--help`` is about to show, before Hydra resolves any of it: a value
    ``--resolve`` (or ``-p KEY``) would resolve, which cannot be, is refused by ``check``
    (raising), with the refusal a run gives, where Hydra ended with OmegaConf's traceback.
    None: nothing checked.

    ``Hydra.show_cfg`` and ``Hydra.app_help`` (``hydra._internal.hydra``, private; checked:
    Hydra 1.3) each take the config they show through ``get_sanitized_cfg``: the block wraps
    that method to call ``check`` first, and restores it when it ends.

        >>> from hydra._internal.hydra import Hydra
        >>> hydra_own = Hydra.get_sanitized_cfg
        >>> with shown_config_checked(print):
        ...     Hydra.get_sanitized_cfg is hydra_own
        False
        >>> Hydra.get_sanitized_cfg is hydra_own
        True
    """
    if check is None:
        yield
        return
    with _before_sanitized_cfg(lambda cfg, _cfg_type: check(cfg)):
        yield


@contextmanager
def _before_sanitized_cfg(hook: Callable[[Any, str], None]) -> Iterator[None]:
    """Within this block, ``hook(cfg, cfg_type)`` runs each time ``Hydra.get_sanitized_cfg``
    (``hydra._internal.hydra``, private; checked: Hydra 1.3) is about to take the config that
    ``--cfg`` (``cfg_type`` job, hydra, all) or ``--help`` shows; the method is restored when
    the block ends (blocks nest)."""
    from hydra._internal.hydra import Hydra

    original = Hydra.get_sanitized_cfg

    def get_sanitized_cfg(self: Any, cfg: Any, cfg_type: str) -> Any:
        hook(cfg, cfg_type)
        return original(self, cfg, cfg_type)

    Hydra.get_sanitized_cfg = get_sanitized_cfg  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.get_sanitized_cfg = original  # type: ignore[method-assign]


def _resolved_node(node: Any, path: str = "hydra", cfg_type: str = "hydra") -> Any:
    """``node`` (``path`` of a config) as plain values, each interpolation resolved within the
    whole config; a value still missing (``???``, or one that interpolates it) as written.
    ``cfg_type``: what ``--cfg`` shows (``hydra``, ``all``), named in the refusal.

        >>> from omegaconf import OmegaConf
        >>> cfg = OmegaConf.create({"out": "o", "h": {"dir": "${out}/runs", "n": "???"}})
        >>> _resolved_node(cfg.h, "h")
        {'dir': 'o/runs', 'n': '???'}

    Raises:
        UserInputError: a value that interpolates a key the config lacks, naming it.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf
    from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

    from lossbench.errors import UserInputError

    raw = OmegaConf.to_container(node, resolve=False)
    resolved: dict[Any, Any] = {}
    for key in raw if isinstance(raw, dict) else range(len(raw)):
        try:
            value = node[key]
        except (MissingMandatoryValue, InterpolationToMissingValueError):  # ???: as Hydra has it
            resolved[key] = raw[key]
            continue
        except Exception as error:
            raise UserInputError(
                f"--cfg {cfg_type} --resolve: {path}.{key}={raw[key]} cannot be resolved "
                f"({str(error).splitlines()[0]}). "
                "Name a key the config has (lossbench-train --cfg job shows them), or give a "
                f"plain value; --cfg {cfg_type} without --resolve shows the values as written."
            ) from None
        is_node = isinstance(value, DictConfig | ListConfig)
        resolved[key] = _resolved_node(value, f"{path}.{key}", cfg_type) if is_node else value
    return resolved if isinstance(raw, dict) else list(resolved.values())


def _frames(error: BaseException) -> list[tuple[str, dict[str, Any]]]:
    """The (function name, locals) of each frame of ``error``'s traceback, outermost first."""
    frames = []
    tb = error.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_name, tb.tb_frame.f_locals))
        tb = tb.tb_next
    return frames


def file_being_loaded(error: BaseException) -> str | None:
    """The YAML file Hydra's file config source was reading when ``error`` was raised (its
    ``load_config``'s ``full_path``), or None."""
    for name, local in reversed(_frames(error)):
        if name == "load_config" and isinstance(local.get("full_path"), str):
            return local["full_path"]
    return None


def defaults_tree_paths(error: BaseException) -> list[str]:
    """The config paths (``data/d``) of the defaults lists Hydra was expanding when ``error``
    was raised (its ``_create_defaults_tree_impl``'s ``root``), outermost first: a file that
    loads itself shows its path again and again."""
    seen: list[str] = []
    for name, local in _frames(error):
        root = local.get("root") if name == "_create_defaults_tree_impl" else None
        node = getattr(root, "node", None)
        try:
            config_path = node.get_config_path() if node is not None else None
        except Exception:  # a virtual root
            config_path = None
        if isinstance(config_path, str) and config_path:
            seen.append(config_path)
    return seen
