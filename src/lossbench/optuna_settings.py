"""The Optuna sweeper's storage and sampler, checked before the first trial.

    lossbench-train -m hparams_search=optuna_focal hydra.sweeper.storage=sqlite:///search.db
    lossbench-train -m hparams_search=optuna_focal hydra/sweeper/sampler=random

The sweeper builds its sampler (``hydra.sweeper.sampler``) when the multirun starts and opens
its storage (``hydra.sweeper.storage``) as the search starts; either one that cannot work
stopped the command with Hydra's or SQLAlchemy's traceback. :func:`storage_refusal` and
:func:`sampler_refusal` say why instead, with the fix, and write nothing.

    >>> storage_refusal(None) is None
    True
    >>> clash = storage_version_clash()  # Optuna 2 with SQLAlchemy 2: no database storage
    >>> storage_refusal("sqlite:///search.db") == (
    ...     None if clash is None else f"hydra.sweeper.storage='sqlite:///search.db': {clash}.")
    True
    >>> print(storage_refusal("nosuch://x"))  # doctest: +ELLIPSIS
    hydra.sweeper.storage='nosuch://x' names the database 'nosuch', which SQLAlchemy ...
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from pathlib import Path
from typing import Any

#: Keys of a ``_target_`` node that Hydra reads itself (not arguments of the class).
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})

#: What ``hydra.sweeper.storage`` takes, for the messages.
STORAGES = (
    "Valid: null (the default: the study lives in memory while the command runs), "
    "sqlite:///<file>.db (a file in a folder you can write, e.g. "
    "hydra.sweeper.storage=sqlite:///search.db), or the URL of a database server "
    "(postgresql://<user>@<host>/<database>, mysql://...) with its Python driver installed"
)


def storage_refusal(storage: Any, *, time_stamped: bool = False) -> str | None:
    """Why Optuna cannot open ``storage`` (``hydra.sweeper.storage``), or None: a URL SQLAlchemy
    cannot read, a database it has no dialect for, a driver that is not installed, or a SQLite
    file whose folder is missing, is a file, or cannot be written. A server is not contacted.
    ``time_stamped``: the search's folder is named by the time it starts
    (:func:`storage_version_clash`).

        >>> print(storage_refusal("sqlite:////no/such/folder/search.db"))  # doctest: +ELLIPSIS
        hydra.sweeper.storage='sqlite:////no/such/folder/search.db': SQLite makes the file ...
    """
    if storage is None or not isinstance(storage, str) or storage.startswith("redis"):
        return None  # an object, or Optuna's Redis storage: Optuna's own
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:  # no SQLAlchemy, no Optuna: the sweeper's own refusal
        return None
    given = f"hydra.sweeper.storage={storage!r}"
    try:
        url = make_url(storage)
    except ArgumentError:
        return f"{given} is not a database URL (<database>://...). {STORAGES}."
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        return (
            f"{given} names the database {url.drivername!r}, which SQLAlchemy has no dialect "
            f"for (a misspelt name, or one whose package is not installed). {STORAGES}."
        )
    try:
        dialect.import_dbapi()
    except ImportError as error:
        return (
            f"{given} needs the Python driver of {url.drivername!r}, which is not installed "
            f"({error}). Install it (e.g. pip install psycopg for postgresql://), or give "
            f"another storage. {STORAGES}."
        )
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        refusal = _sqlite_file_refusal(given, Path(url.database).expanduser())
        if refusal is not None:
            return refusal
    clash = storage_version_clash(time_stamped=time_stamped)
    return None if clash is None else f"{given}: {clash}."


def storage_version_clash(*, time_stamped: bool = False) -> str | None:
    """Why the installed Optuna cannot open any database storage, or None: Optuna before 3.0
    (what hydra-optuna-sweeper 1.2 installs) uses SQLAlchemy 1.x calls that SQLAlchemy 2
    removed, and stops at its first query with a bare AssertionError. ``time_stamped``: the
    search's folder is named by the time it starts (``${now:...}`` in ``hydra.sweep.dir``, as
    the searches of ``hparams_search=`` are), so that running it again skips the trials that
    ended only with ``hydra.sweep.dir`` set to that folder, which the fix then says."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        optuna, sqlalchemy = version("optuna"), version("sqlalchemy")
    except PackageNotFoundError:
        return None
    if int(optuna.split(".")[0]) >= 3 or int(sqlalchemy.split(".")[0]) < 2:
        return None
    again = "running the search again skips the trials that ended"
    if time_stamped:  # the same command alone would start a new folder
        again = (
            "running the search again with hydra.sweep.dir=<its folder> added skips the trials "
            "that ended: its folder is named by the time it started, and the same command "
            "alone would start a new one"
        )
    return (
        f"Optuna {optuna}, the version hydra-optuna-sweeper installs here, cannot use a "
        f"database with SQLAlchemy {sqlalchemy} (installed here, e.g. for mlflow): its first "
        "query fails. Leave hydra.sweeper.storage out (the trials' records stay in their "
        f"folders, and {again}), or give it in an environment with sqlalchemy<2 (pip install "
        "'sqlalchemy<2', without mlflow)"
    )


def _sqlite_file_refusal(given: str, database: Path) -> str | None:
    """Why SQLite cannot make or open ``database``, or None."""
    from lossbench.output_files import unusable_folder

    folder = database.parent
    fix = f"Give a file in a folder you can write, e.g. hydra.sweeper.storage=sqlite:///{database.name}"
    if database.is_dir():
        return f"{given}: {str(database)!r} is a folder, not a database file. {fix}."
    why = unusable_folder(folder)
    if why is not None:
        return f"{given}: the database file {str(database)!r} cannot be made: {why}. {fix}."
    if not folder.is_dir():
        return (
            f"{given}: SQLite makes the file {database.name!r} but not its folder, and "
            f"{str(folder)!r} does not exist. Make the folder first (mkdir -p {folder}), or "
            f"{fix[0].lower()}{fix[1:]}."
        )
    return None


def sampler_refusal(sampler: Any, options: list[str] | None = None) -> str | None:
    """Why Hydra cannot build the sampler ``sampler`` (the ``hydra.sweeper.sampler`` node), or
    None: a ``_target_`` that cannot be imported or is not an Optuna sampler, or a key its
    class does not take. ``options``: the choices of ``hydra/sweeper/sampler``, for the fix.

        >>> sampler_refusal({"_target_": "optuna.samplers.RandomSampler", "foo": 1})[:73]
        "hydra.sweeper.sampler.foo: the sampler RandomSampler has no setting 'foo'"
    """
    if not hasattr(sampler, "get") or not sampler.get("_target_"):
        return None
    target = str(sampler["_target_"])
    choose = _choose(options)
    cls, missing = _imported(target)
    if missing is not None:
        return (
            f"hydra.sweeper.sampler._target_={target!r} cannot be imported: {missing}. "
            f"{choose} Optuna's samplers: {', '.join(_optuna_samplers(target))}."
        )
    from optuna.samplers import BaseSampler

    if not (isinstance(cls, type) and issubclass(cls, BaseSampler)):
        return (
            f"hydra.sweeper.sampler._target_={target!r} is not an Optuna sampler (a subclass of "
            f"optuna.samplers.BaseSampler). {choose}"
        )
    parameters = [p for p in inspect.signature(cls).parameters.values() if p.name != "self"]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    takes = [p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in sampler:
        if key not in HYDRA_KEYS and key not in takes:
            return (
                f"hydra.sweeper.sampler.{key}: the sampler {cls.__name__} has no setting "
                f"{key!r}. Its settings: {', '.join(takes) or 'none'}; remove "
                f"hydra.sweeper.sampler.{key} from the command line. {choose}"
            )
    return None


def _imported(target: str) -> tuple[Any, str | None]:
    """``(object, None)`` for the object ``target`` (``module.Name``) names, else
    ``(None, what is missing)``.

        >>> _imported("optuna.samplers.NoSuch")
        (None, "optuna.samplers has no 'NoSuch'")
    """
    parts = target.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        try:
            found: Any = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is not None and not module.startswith(error.name):
                return None, f"{module} needs the missing package {error.name!r}"
            continue
        for depth, name in enumerate(parts[end:], start=end):
            if not hasattr(found, name):
                return None, f"{'.'.join(parts[:depth])} has no {name!r}"
            found = getattr(found, name)
        return found, None
    return None, f"there is no module {parts[0]!r}"


def _choose(options: list[str] | None) -> str:
    """The fix that chooses another sampler, with its own settings."""
    listed = f" (options: {', '.join(options)})" if options else ""
    return (
        f"To use another sampler, choose its option, which brings its own settings: "
        f"hydra/sweeper/sampler=<option>{listed}, e.g. hydra/sweeper/sampler=random."
    )


def _optuna_samplers(target: str) -> list[str]:
    """``optuna.samplers.<Name>`` of each sampler Optuna has, the nearest to ``target``
    first."""
    import optuna.samplers

    names = [
        f"optuna.samplers.{name}"
        for name in sorted(dir(optuna.samplers))
        if isinstance(getattr(optuna.samplers, name), type)
        and issubclass(getattr(optuna.samplers, name), optuna.samplers.BaseSampler)
        and name != "BaseSampler"
    ]
    near = difflib.get_close_matches(target, names, n=1)
    return near + [name for name in names if name not in near]
