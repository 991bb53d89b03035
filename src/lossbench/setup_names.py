"""A setup's name never stands for a head or loss it did not train.

A setup (``configs/setup/*.yaml``) chooses a head and a loss, and names the run: its record's
``setup`` is what ``lossbench-report`` groups and labels the run by. A head or loss chosen
beside it (``setup=logits_focal loss=poly``, or a sweep ``loss=focal,poly``) replaces the
setup's, and the run would be reported under a setup it did not train. Such a config is refused
before anything trains: by each run (:func:`check_setup_name`, from
:func:`lossbench.validation.validate`) and, for a multirun, once for the whole sweep before its
first job (:func:`check_swept_setups`). A setup with other loss *parameters*
(``setup=logits_focal loss.gamma=3``) keeps its name: the report shows the parameters in its
label.

    >>> setup_refusal("logits_focal", {"head": "logits", "loss": "focal"}, {"loss": "poly"})[:67]
    'setup=logits_focal sets head=logits loss=focal, but loss=poly overr'
    >>> setup_refusal("logits_focal", {"head": "logits", "loss": "focal"}, {"loss": "focal"})
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.config_folders import config_dir
from lossbench.errors import ConfigError

__all__ = [
    "SETUP_GROUPS",
    "check_setup_name",
    "check_swept_setups",
    "choose_owner",
    "setup_choices",
    "setup_folders",
    "setup_refusal",
    "setups_with",
]

#: The groups a setup chooses, in the order its message names them.
SETUP_GROUPS = ("head", "loss")


def _folders(extra: Iterable[Path] = ()) -> list[Path]:
    """The config folders whose ``setup/`` options are read: lossbench's, then ``extra``."""
    return [config_dir(), *extra]


def _source_folders(cfg: DictConfig) -> list[Path]:
    """The ``file://`` config folders Hydra composed ``cfg`` from (``-cd``), where known: from
    ``cfg``'s ``hydra`` node, else from Hydra's config of this process (the same folders for
    every job of one command)."""
    sources = OmegaConf.select(cfg, "hydra.runtime.config_sources", default=None)
    if sources is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            sources = HydraConfig.get().runtime.config_sources if HydraConfig.initialized() else []
        except Exception:  # no Hydra (a config built in Python)
            sources = []
    folders = []
    for source in sources or []:
        path = str(source.get("path") or "")
        if str(source.get("schema")) == "file" and path:
            folders.append(Path(path))
    return folders


def setup_folders(cfg: DictConfig) -> list[Path]:
    """The config folders whose ``setup/`` options the config ``cfg`` reads: lossbench's, then
    those Hydra composed it from (``-cd``: :func:`_source_folders`).

        >>> from omegaconf import OmegaConf
        >>> setup_folders(OmegaConf.create({}))[0].name
        'configs'
    """
    return _folders(_source_folders(cfg))


def setup_choices(name: str, folders: Sequence[Path] | None = None) -> dict[str, str] | None:
    """The head and loss options the setup ``name`` chooses (``override /loss: focal``), from
    the first ``setup/<name>.yaml`` of ``folders`` (lossbench's configs by default); None where
    no such file is found or read.

        >>> setup_choices("logits_focal")
        {'head': 'logits', 'loss': 'focal'}
        >>> setup_choices("nosuch") is None
        True
    """
    for folder in folders if folders is not None else _folders():
        path = Path(folder) / "setup" / f"{name}.yaml"
        if not path.is_file():
            continue
        try:
            node = OmegaConf.load(path)
        except Exception:  # a file Hydra itself refuses, with its own message
            return None
        chosen: dict[str, str] = {}
        defaults = node.get("defaults") if isinstance(node, DictConfig) else None
        for entry in defaults or []:
            if not isinstance(entry, DictConfig):
                continue
            for key, value in entry.items():
                group = str(key).removeprefix("override").strip().lstrip("/")
                if group in SETUP_GROUPS and isinstance(value, str):
                    chosen[group] = value
        return chosen
    return None


def _option_names(choices: dict[str, str], folders: Sequence[Path]) -> dict[str, str]:
    """The ``name`` each option of ``choices`` (``{"loss": "focal"}``) gives its group, read from
    the option's file (``loss/focal.yaml``: ``name: focal``); the option itself where no file
    of ``folders`` gives one.

        >>> _option_names({"head": "logits", "loss": "focal"}, [config_dir()])
        {'head': 'logits', 'loss': 'focal'}
    """
    names = dict(choices)
    for group, option in choices.items():
        for folder in folders:
            path = Path(folder) / group / f"{option}.yaml"
            if not path.is_file():
                continue
            try:
                name = OmegaConf.load(path).get("name")
            except Exception:  # a file Hydra itself refuses, with its own message
                name = None
            if isinstance(name, str):
                names[group] = name
            break
    return names


def setups_with(given: dict[str, str], folders: Sequence[Path]) -> list[str]:
    """The setups of ``folders`` that choose every option of ``given``."""
    names = sorted({p.stem for f in folders for p in (Path(f) / "setup").glob("*.yaml")})
    return [
        name
        for name in names
        if (choices := setup_choices(name, folders)) is not None
        and all(choices.get(group) == option for group, option in given.items())
    ]


def choose_owner(
    group: str,
    owners: Sequence[str],
    setup: str | None,
    folders: Sequence[Path],
    *,
    given: Sequence[str] | None = None,
    argument: str | None = None,
    swept: Sequence[str] = (),
    swept_argument: str | None = None,
    flags: str = "",
) -> str:
    """How to choose an option of ``group`` among ``owners`` (those that have a key) that the
    setup check lets through: beside a setup (``setup=logits_asl``, which chooses the head and
    loss), the setups with such an option (those keeping the setup's other choice where any do:
    ``setup=logits_focal``), or the option without a setup; else the option itself.

    ``given``: the command line's overrides of the setup, head and loss, None where they are not
    known (a search's trial: its setup is on the command line where ``given`` holds it). Without
    ``argument``, the options are named (a search's advice); with it (``loss.gamma=2``), whole
    commands that pass: where the setup was given on the command line, the setups in its place
    and its ``setup=`` dropped, else ``~setup`` (the setup of an experiment or search config).
    ``swept``: the setups of the command line's sweep of ``setup`` (``-m
    setup=logits_focal,logits_asl``), advised as a sweep (:func:`_swept_owners`), with
    ``swept_argument`` for ``argument`` where the sweep names several setups (a sweep of one
    value, where the config a multirun composes first lacks the key). ``flags``: what each
    command advised starts with (``-m`` for a search advised to a command line without it).

    ``owners`` must have every key the advised command needs (the command line's other keys of
    ``group``, and those a search tunes: :func:`lossbench.key_owners.options_with`), so that
    the command advised passes every check.

        >>> from lossbench.config_folders import config_dir
        >>> choose_owner("loss", ["focal"], None, [config_dir()], argument="loss.gamma=2")
        'choose it (e.g. loss=focal loss.gamma=2)'
        >>> print(choose_owner("loss", ["focal"], "logits_asl", [config_dir()], given=[],
        ...                    argument="loss.gamma=2"))
        choose a setup whose loss has it (e.g. setup=logits_focal loss.gamma=2), or give ~setup \
and choose it (e.g. ~setup loss=focal loss.gamma=2)
    """
    options = ", ".join(f"{group}={o}" for o in owners)
    if argument is None:
        plain = f"choose a {group} that has it ({options})"
    else:
        one = "it" if len(owners) == 1 else "one"
        plain = f"choose {one} (e.g. {flags}{group}={owners[0]} {argument})"
    if group in SETUP_GROUPS and owners and argument is not None and len(swept) > 1:
        keyed = swept_argument or argument
        return _swept_owners(group, owners, swept, folders, list(given or []), argument, keyed)
    if group not in SETUP_GROUPS or setup in (None, "null", "None") or not owners:
        return plain
    choices = setup_choices(setup, folders) or {}
    fitting: list[str] = []
    for kept in (choices, {}):  # the setup's other choices kept where a setup does, else any
        for owner in owners:
            fitting += [s for s in setups_with({**kept, group: owner}, folders) if s not in fitting]
        if fitting:
            break
    lines = list(given or [])
    on_line = any(line.split("=", 1)[0] == "setup" for line in lines)
    if argument is None:
        drop = f"~setup in place of setup={setup}" if f"setup={setup}" in lines else "~setup"
        without = f"without a setup ({drop}), {plain}"
        if not fitting:
            return without
        setups = ", ".join(f"setup={s}" for s in fitting)
        return f"choose a setup whose {group} has it ({setups}), or {without}"
    replaced = " ".join(shlex.quote(line) for line in lines)
    if on_line:
        without = f"drop {replaced} and {plain}"
        place = f" in place of {replaced}"
    else:
        dropped = f", drop {replaced}" if replaced else ""
        example = plain.replace(f"(e.g. {flags}", f"(e.g. {flags}~setup ", 1)
        without = f"give ~setup{dropped} and {example}"
        place = f" in place of {replaced}" if replaced else ""
    if not fitting:
        return f"no setup's {group} has it: {without}"
    others = f"; the setups: {', '.join(fitting)}" if len(fitting) > 1 else ""
    return (
        f"choose a setup whose {group} has it{place} (e.g. {flags}setup={fitting[0]} {argument}"
        f"{others}), or {without}"
    )


def _swept_owners(
    group: str,
    owners: Sequence[str],
    swept: Sequence[str],
    folders: Sequence[Path],
    given: Sequence[str],
    argument: str,
    keyed: str,
) -> str:
    """:func:`choose_owner`'s advice for a key of ``group`` (``argument``) beside a sweep of
    setups (``swept``, from the command line's ``given`` overrides), kept a sweep: the swept
    setups whose option of ``group`` is one of ``owners``, naming those whose option is not;
    where none is, the setups with an owner, keeping a swept setup's other choices (its head)
    where any do. ``keyed``: ``argument`` as given beside several setups.

        >>> print(_swept_owners("loss", ["focal"], ["logits_focal", "logits_asl"],
        ...                     [config_dir()], ["setup=logits_focal,logits_asl"],
        ...                     "loss.gamma=2", "loss.gamma=2"))
        sweep only the setups whose loss has it in place of setup=logits_focal,logits_asl \
(e.g. setup=logits_focal loss.gamma=2: the swept setup logits_asl has loss=asl, which lacks \
it), or drop setup=logits_focal,logits_asl and choose it (e.g. loss=focal loss.gamma=2)
    """
    chosen = {name: setup_choices(name, folders) or {} for name in swept}
    have = [name for name in swept if chosen[name].get(group) in owners]
    lack = [name for name in swept if name not in have]
    replaced = " ".join(shlex.quote(line) for line in given)
    one = "it" if len(owners) == 1 else "one"
    without = f"drop {replaced} and choose {one} (e.g. {group}={owners[0]} {argument})"
    if not replaced:  # a config's sweeper sweeps the setups: setup= given replaces its sweep
        replaced = "the setups its config sweeps (setup= given replaces them)"
        without = ""
    plural = len(lack) > 1
    lacking = (
        f"the swept setup{'s' if plural else ''} {', '.join(lack)} {'have' if plural else 'has'} "
        f"{', '.join(f'{group}={chosen[name].get(group)}' for name in lack)}, which "
        f"{'lack' if plural else 'lacks'} it"
    )
    if len(lack) > 3:  # a study's many setups
        lacking = f"the {len(lack)} other swept setups lack it"
    without = f", or {without}" if without else ""
    if have:
        return (
            f"sweep only the setups whose {group} has it in place of {replaced} (e.g. "
            f"{_setups_line(have, argument, keyed)}: {lacking}){without}"
        )
    fitting: list[str] = []
    for name in swept:  # a swept setup's other choices (its head) kept where a setup does
        kept = {g: o for g, o in chosen[name].items() if g != group}
        for owner in owners:
            fitting += [s for s in setups_with({**kept, group: owner}, folders) if s not in fitting]
    if not fitting:
        for owner in owners:
            fitting += [s for s in setups_with({group: owner}, folders) if s not in fitting]
    if not fitting:
        return f"no swept setup's {group} has it ({lacking}), nor any setup's{without}"
    return (
        f"no swept setup's {group} has it ({lacking}): sweep the setups whose {group} has it "
        f"in place of {replaced} (e.g. {_setups_line(fitting, argument, keyed)}){without}"
    )


def _setups_line(setups: Sequence[str], argument: str, keyed: str) -> str:
    """The command that sweeps ``setups`` with ``argument`` (``keyed`` beside several).

    >>> _setups_line(["logits_focal"], "loss.gamma=2", "loss.gamma=choice(2)")
    'setup=logits_focal loss.gamma=2'
    """
    if len(setups) == 1:
        return f"setup={setups[0]} {argument}"
    return f"-m {_swept_line('setup', setups, False)} {keyed}"


def setup_refusal(
    setup: str,
    choices: dict[str, str],
    given: dict[str, str],
    folders: Sequence[Path] | None = None,
    advice: str | None = None,
    *,
    on_command_line: bool = True,
) -> str | None:
    """Why ``setup`` (which chooses ``choices``) cannot name a run given the options ``given``
    (``{"loss": "poly"}``: the head and loss the config chose beside it), with the fix (a
    single run's, or ``advice`` where given: a sweep's); None where each option given is the
    setup's own. ``on_command_line``: whether the setup was given on the command line
    (``setup=...``, to drop), rather than chosen by a config (``~setup`` removes it).

        >>> refusal = setup_refusal("logits_focal", {"head": "logits", "loss": "focal"},
        ...                         {"head": "sigmoid"}, on_command_line=False)
        >>> "no setup has head=sigmoid loss=focal: give ~setup head=sigmoid loss=focal" in refusal
        True
    """
    folders = list(folders) if folders is not None else _folders()
    replaced = {
        group: option
        for group, option in given.items()
        if group in choices and choices[group] != option
    }
    if not replaced:
        return None
    sets = " ".join(f"{group}={choices[group]}" for group in SETUP_GROUPS if group in choices)
    over = " ".join(f"{group}={option}" for group, option in replaced.items())
    wanted = {group: given.get(group, choices.get(group, "")) for group in SETUP_GROUPS}
    wanted = {group: option for group, option in wanted.items() if option}
    shown = " ".join(f"{group}={option}" for group, option in wanted.items())
    fitting = setups_with(wanted, folders)
    # a setup of an experiment or search config: no setup= on the command line to drop
    drop = "drop setup= and give" if on_command_line else "give ~setup"
    if advice is not None:
        choose = advice
    elif fitting:
        choose = (
            f"choose setup={fitting[0]} (the setups with {shown}: {', '.join(fitting)}), or "
            f"{drop} {shown}"
        )
    else:
        choose = f"no setup has {shown}: {drop} {shown}"
    verb = "overrides" if len(replaced) == 1 else "override"
    return (
        f"setup={setup} sets {sets}, but {over} {verb} it, and the run would be reported "
        f"under the setup name {setup}, which it did not train: {choose} (a run without a "
        f"setup is named by its head and loss; loss parameters such as loss.gamma=3 may be "
        f"given with a setup)."
    )


def _choice(cfg: DictConfig, group: str) -> str | None:
    """The option Hydra chose for ``group`` in ``cfg``'s composition, where it is known."""
    choice = OmegaConf.select(cfg, f"hydra.runtime.choices.{group}", default=None)
    if choice is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            if HydraConfig.initialized():
                choice = HydraConfig.get().runtime.choices.get(group)
        except Exception:  # no Hydra (a config built in Python)
            return None
    return str(choice) if choice is not None else None


def _setup_given(cfg: DictConfig) -> bool:
    """Whether the command line gave the setup (``setup=...``: ``cfg``'s own
    ``hydra.overrides.task``), rather than a config choosing it (``experiment=...``,
    ``hparams_search=...``); True where ``cfg`` does not say (a config without its ``hydra``
    node: never read from Hydra's config of this process, which in a process that runs several
    jobs, or several tests, is another one's).

        >>> _setup_given(OmegaConf.create({"hydra": {"overrides": {"task": ["loss=poly"]}}}))
        False
        >>> _setup_given(OmegaConf.create({"setup": "logits_focal"}))
        True
    """
    task = OmegaConf.select(cfg, "hydra.overrides.task", default=None)
    if task is None:
        return True
    return any(str(line).lstrip("+").split("=", 1)[0] == "setup" for line in task)


def check_setup_name(cfg: DictConfig) -> None:
    """Refuse a config whose head or loss is not its setup's (``setup=logits_focal loss=poly``).

    The setup's options are read from its file (``setup/<cfg.setup>.yaml``), and their names
    from the options' files (``loss/focal.yaml``: ``name: focal``); the config's from its own
    ``head.name`` and ``loss.name``, what the run trains and records (never from Hydra's
    choices of this process, which in a process that runs several jobs, the vectorized
    launcher's, are another job's). A config without a setup, or whose setup file is not
    found, passes.

        >>> cfg = OmegaConf.create({"setup": "logits_focal", "head": {"name": "logits"},
        ...                         "loss": {"name": "poly", "gamma": 2}})
        >>> check_setup_name(cfg)
        Traceback (most recent call last):
        ...
        lossbench.errors.ConfigError: setup=logits_focal sets head=logits loss=focal, but ...

    Raises:
        ConfigError: The setup, the option that replaces its own, and the fix.
    """
    name = OmegaConf.select(cfg, "setup", default=None, throw_on_resolution_failure=False)
    if name is None:
        return
    setup = str(name)
    folders = setup_folders(cfg)
    choices = setup_choices(setup, folders)
    if not choices:
        return
    given: dict[str, str] = {}
    for group in SETUP_GROUPS:
        option = OmegaConf.select(cfg, f"{group}.name", default=None)
        if option is not None:
            given[group] = str(option)
    message = setup_refusal(
        setup,
        _option_names(choices, folders),
        given,
        folders,
        on_command_line=_setup_given(cfg),
    )
    if message is not None:
        raise ConfigError(message)


def _chosen(override: Any) -> list[str] | None:
    """The options an override of a group gives (``loss=poly``; ``loss=focal,poly`` and
    ``choice(focal,poly)``: each), or None for one that chooses nothing known up front (a
    removal, a range, a value with an interpolation)."""
    if override.is_delete():
        return None
    try:
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                return None
            values = list(override.sweep_iterator())
        else:
            values = [override.value()]
    except Exception:  # an override Hydra refuses with its own message
        return None
    if any(not isinstance(v, str) or "${" in v for v in values):
        return None
    return [str(v) for v in values]


def _swept_line(group: str, values: Sequence[str], search: bool) -> str:
    """The override that sweeps ``group`` over ``values`` as the user's sweep does: comma-joined
    (``-m``'s sweep), or ``choice(...)`` (``search``: an Optuna search's), quoted for the shell.

        >>> _swept_line("setup", ["logits_focal", "logits_poly"], False)
        'setup=logits_focal,logits_poly'
        >>> _swept_line("loss", ["focal", "poly"], True)
        "'loss=choice(focal,poly)'"
    """
    joined = ",".join(values)
    if search and len(values) > 1:
        return shlex.quote(f"{group}=choice({joined})")
    return shlex.quote(f"{group}={joined}")


def _sweep_advice(setups: Sequence[str], last: dict[str, Any], folders: Sequence[Path]) -> str:
    """What to sweep instead of a sweep that pairs a setup of ``setups`` with a head or loss
    not its own (``last``: the sweep's overrides by group), keeping the heads and losses its
    jobs train: the setups that have each of them, or the heads and losses without a setup.

    Each job of the sweep trains its given head (or its setup's) with its given loss (or its
    setup's), so the pairs it trains are every swept head with every swept loss.
    """
    heads: list[str] = []
    losses: list[str] = []
    search = False
    for setup in setups:
        choices = setup_choices(setup, folders) if setup not in ("null", "None") else None
        for group, wanted in (("head", heads), ("loss", losses)):
            override = last.get(group)
            options = _chosen(override) if override is not None else None
            if options is None and choices and group in choices:
                options = [choices[group]]
            if override is not None and override.is_sweep_override():
                search = search or "choice" in str(override.input_line).split("=", 1)[-1]
            wanted += [o for o in options or [] if o not in wanted]
    pairs = [(head, loss) for head in heads for loss in losses]
    fitting = {pair: setups_with({"head": pair[0], "loss": pair[1]}, folders) for pair in pairs}
    given = " ".join(shlex.quote(last[g].input_line) for g in ("setup", *SETUP_GROUPS) if g in last)
    drop = f"drop {shlex.quote(last['setup'].input_line)}" if "setup" in last else "give ~setup"
    without = (
        f"without a setup ({drop}), sweep {_swept_line('head', heads, search)} "
        f"{_swept_line('loss', losses, search)}"
    )
    missing = [pair for pair, names in fitting.items() if not names]
    if missing:
        head, loss = missing[0]
        return f"no setup has head={head} loss={loss}: {without}"
    names = [fitting[pair][0] for pair in pairs]
    names = [name for i, name in enumerate(names) if name not in names[:i]]
    each = ", ".join(f"head={head} loss={loss}: {fitting[(head, loss)][0]}" for head, loss in pairs)
    return (
        f"sweep {_swept_line('setup', names, search)} in place of {given} (the setup of each "
        f"head and loss it sweeps, {each}), or {without}"
    )


def _searched_keys_lacked(config: DictConfig, last: dict[str, Any]) -> str:
    """The end of a sweep's advice where it is an Optuna search (``hparams_search=optuna_focal
    loss=asl``) and a head or loss it gives (``last``: its overrides by group) lacks a key the
    search's ``hydra.sweeper.params`` tune (asl has no ``gamma``): the advised setups would
    choose that option too, and the search check refuse them, so the search without those
    keys (:func:`lossbench.search_params.without_key`); empty where none is lacked."""
    from lossbench.key_owners import options_with
    from lossbench.search_params import is_search, without_key

    try:
        if not is_search(config):
            return ""
        node = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(node, resolve=False) if node is not None else {}
        arguments = [str(a) for a in config.hydra.overrides.task]
    except Exception:  # a config without Hydra's node, or one it cannot resolve
        return ""
    lacked: dict[str, list[str]] = {}
    for key in params if isinstance(params, dict) else {}:
        group, _, name = str(key).partition(".")
        override = last.get(group)
        options = _chosen(override) if override is not None else None
        for option in options or []:
            if name and "." not in name and option not in options_with(group, [name]):
                lacked.setdefault(str(key), []).append(f"{group}={option}")
    if not lacked:
        return ""
    kept = {str(k): str(v) for k, v in params.items() if str(k) not in lacked}
    lines = " ".join(without_key("", kept, arguments))
    which = "; ".join(f"{', '.join(options)} has no {key}" for key, options in lacked.items())
    return (
        f"; and as {which}, which the search tunes (hydra.sweeper.params), search without "
        f"{', '.join(lacked)} there too, adding: {lines}"
    )


def check_swept_setups(config: DictConfig, overrides: Sequence[Any]) -> None:
    """Refuse a multirun one of whose jobs pairs a setup with a head or loss not its own
    (``-m setup=logits_focal loss=focal,poly``; a search's ``choice(focal,poly)``), before any
    job trains: each such job would be refused only once the jobs before it had trained.

    ``overrides`` are the multirun's, parsed (:func:`lossbench.hydra_callbacks.swept_overrides`,
    the later winning for one key); ``config`` is the multirun's config, whose choices give the
    setup where no override does.

    Raises:
        ConfigError: The sweep's override, the job's setup and option, and the fix.
    """
    last = {o.key_or_group: o for o in overrides if not o.is_add() and not o.is_force_add()}
    if not any(group in last for group in SETUP_GROUPS):
        return  # each setup chooses its own head and loss
    if "setup" in last:
        setups = _chosen(last["setup"])
    else:
        chosen = _choice(config, "setup")
        setups = [chosen] if chosen is not None else None
    if not setups:
        return
    folders = setup_folders(config)
    for setup in setups:
        if setup in ("null", "None"):
            continue
        choices = setup_choices(setup, folders)
        if not choices:
            continue
        for group in SETUP_GROUPS:
            override = last.get(group)
            options = _chosen(override) if override is not None else None
            for option in options or []:
                advice = _sweep_advice(setups, last, folders)
                advice += _searched_keys_lacked(config, last)
                message = setup_refusal(setup, choices, {group: option}, folders, advice)
                if message is None:
                    continue
                if "setup" in last:
                    swept = f"{last['setup'].input_line} {override.input_line}"
                    job = f"setup={setup} {group}={option}"
                else:  # the setup of train.yaml's defaults or of a chosen config
                    swept = override.input_line
                    job = f"setup={setup} (its config's choice) with {group}={option}"
                raise ConfigError(
                    f"the sweep {swept} gives a job {job}, which it would refuse (only once "
                    f"the jobs before it had trained): {message} Nothing was trained: fix "
                    f"the sweep."
                )
