"""A setup's name stands only for the head and loss it chooses (lossbench.setup_names)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from cli_process import run_console
from lossbench.errors import ConfigError
from lossbench.override_grammar import override_parser
from lossbench.setup_names import check_setup_name, check_swept_setups, setup_choices
from lossbench.train import config_dir


def _job(setup: str | None, head: str, loss: str, **params: float) -> DictConfig:
    choices = {"head": head, "loss": loss, "setup": setup}
    return OmegaConf.create(
        {
            "setup": setup,
            "head": {"name": head},
            "loss": {"name": loss, **params},
            "hydra": {"runtime": {"choices": choices}},
        }
    )


def test_every_shipped_setup_chooses_a_head_and_a_loss() -> None:
    for path in sorted((config_dir() / "setup").glob("*.yaml")):
        choices = setup_choices(path.stem)
        assert choices is not None and set(choices) == {"head", "loss"}, path.name


def test_a_loss_beside_the_setup_is_refused_with_the_setup_that_has_it() -> None:
    with pytest.raises(ConfigError) as refused:
        check_setup_name(_job("logits_focal", "logits", "poly"))
    message = str(refused.value)
    assert message.startswith("setup=logits_focal sets head=logits loss=focal, but loss=poly ")
    assert "choose setup=logits_poly" in message
    assert "drop setup= and give head=logits loss=poly" in message


def test_a_head_beside_the_setup_is_refused() -> None:
    with pytest.raises(ConfigError, match="but head=sigmoid overrides it"):
        check_setup_name(_job("logits_focal", "sigmoid", "focal"))


@pytest.mark.parametrize(
    "job",
    [
        _job("logits_focal", "logits", "focal", gamma=3.0),  # its loss's parameters
        _job(None, "logits", "poly"),  # no setup: named by its head and loss
        _job("mine", "logits", "poly"),  # a setup whose file is not found
    ],
)
def test_a_setup_with_its_own_head_and_loss_passes(job: DictConfig) -> None:
    check_setup_name(job)


def test_a_setup_of_an_added_config_folder_is_read_there(tmp_path: Path) -> None:
    (tmp_path / "setup").mkdir()
    (tmp_path / "setup" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /head: sigmoid\n  - override /loss: bce\n"
        "setup: mine\n"
    )
    assert setup_choices("mine", [config_dir(), tmp_path]) == {"head": "sigmoid", "loss": "bce"}


def _sweep(*arguments: str) -> list[Any]:
    return override_parser().parse_overrides(list(arguments))


def test_a_sweep_with_a_job_whose_loss_is_not_its_setups_is_refused() -> None:
    config = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": "logits_focal"}}}})
    with pytest.raises(ConfigError, match=r"logits_focal \(its config's choice\) with loss=poly"):
        check_swept_setups(config, _sweep("loss=focal,poly"))
    with pytest.raises(ConfigError, match="gives a job setup=logits_poly loss=focal"):
        check_swept_setups(config, _sweep("setup=logits_focal,logits_poly", "loss=focal"))
    with pytest.raises(ConfigError, match="gives a job setup=logits_focal"):
        check_swept_setups(config, _sweep("loss=choice(focal,poly)"))


def test_a_sweep_of_setups_alone_or_of_loss_parameters_passes() -> None:
    config = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": None}}}})
    check_swept_setups(config, _sweep("setup=logits_focal,logits_poly", "seed=0,1"))
    check_swept_setups(config, _sweep("loss=focal,poly"))  # no setup: each named by its loss
    focal = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": "logits_focal"}}}})
    check_swept_setups(focal, _sweep("loss.gamma=1,3", "loss=focal"))


def test_a_job_is_judged_by_its_own_config_not_by_another_jobs_hydra_config(make_cfg) -> None:
    """A process that runs several jobs (the vectorized launcher, a test session) holds Hydra's
    config of another job: a refused one (``setup=logits_focal loss=bce_with_logits``) must not
    refuse the next, nor a passing one let the next through."""
    from hydra.core.hydra_config import HydraConfig

    refused = OmegaConf.create(
        {
            "hydra": {
                "runtime": {
                    "choices": {
                        "setup": "logits_focal",
                        "loss": "bce_with_logits",
                        "head": "logits",
                    }
                }
            }
        }
    )
    passing = OmegaConf.create(
        {
            "hydra": {
                "runtime": {"choices": {"setup": "logits_focal", "loss": "focal", "head": "logits"}}
            }
        }
    )
    held = HydraConfig.instance().cfg
    try:
        HydraConfig.instance().cfg = refused
        check_setup_name(make_cfg("data=digits_multilabel", "setup=logits_focal"))
        HydraConfig.instance().cfg = passing
        with pytest.raises(ConfigError, match="but loss=poly overrides it"):
            check_setup_name(make_cfg("data=digits_multilabel", "setup=logits_focal", "loss=poly"))
    finally:
        HydraConfig.instance().cfg = held


def test_the_advice_reads_the_jobs_own_command_line_not_another_jobs(make_cfg) -> None:
    """Whether ``setup=`` was typed (advice: drop it) or a config chose it (advice: ``~setup``)
    is read from the job's own config, never from Hydra's config of another job held by the
    process: a config without its ``hydra`` node is advised as if typed."""
    from hydra.core.hydra_config import HydraConfig

    other = OmegaConf.create(
        {"hydra": {"overrides": {"task": ["experiment=x"]}, "runtime": {"choices": {}}}}
    )
    held = HydraConfig.instance().cfg
    try:
        HydraConfig.instance().cfg = other
        with pytest.raises(ConfigError) as refused:
            check_setup_name(make_cfg("data=digits_multilabel", "setup=logits_focal", "loss=poly"))
    finally:
        HydraConfig.instance().cfg = held
    assert "or drop setup= and give head=logits loss=poly" in str(refused.value)


def _refused(cwd: Path, *arguments: str) -> str:
    """The one-line refusal of ``lossbench-train ARGUMENTS`` in ``cwd`` (exit 2, no
    traceback)."""
    folders = ("hydra.sweep.dir=sweep", "hydra.run.dir=run")
    result = run_console("train", *arguments, *folders, cwd=cwd)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
    return lines[0]


def _trains(tmp_path: Path, *arguments: str) -> None:
    """``lossbench-train -m ARGUMENTS`` as a tiny sweep: not refused, every job completed."""
    folder = f"hydra.sweep.dir={tmp_path}/sweep{len(list(tmp_path.iterdir()))}"
    tiny = ("data=iris", "trainer.max_epochs=1", "logger=none", folder)
    result = run_console("train", "-m", *arguments, *tiny, cwd=tmp_path)
    assert "lossbench: refused" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]
    assert " 0 refused, 0 failed)" in result.stderr, result.stderr[-2000:]


@pytest.mark.slow  # three processes: 3-4 s; the catalogue's multirun-setup-with-swept-loss runs
# the first in the default suite
def test_a_sweep_is_advised_the_sweep_that_keeps_its_heads_and_losses(tmp_path: Path) -> None:
    """``-m setup=logits_focal loss=focal,poly`` was advised ``setup=logits_poly``, which
    drops the sweep's focal jobs: the setups of each swept loss, comma-joined, or the sweep
    without a setup."""
    line = _refused(tmp_path, "-m", "setup=logits_focal", "loss=focal,poly")
    assert (
        "sweep setup=logits_focal,logits_poly in place of setup=logits_focal loss=focal,poly"
        in (line)
    )
    assert "without a setup (drop setup=logits_focal), sweep head=logits loss=focal,poly" in line
    assert "choose setup=logits_poly" not in line
    searched = _refused(tmp_path, "-m", "setup=logits_focal", "loss=choice(focal,poly)", "seed=0,1")
    assert "sweep 'setup=choice(logits_focal,logits_poly)'" in searched
    # a single run keeps its single-run advice
    single = _refused(tmp_path, "setup=logits_focal", "loss=poly")
    assert "choose setup=logits_poly (the setups with head=logits loss=poly" in single
    assert "drop setup= and give head=logits loss=poly" in single


@pytest.mark.slow  # two tiny sweeps of 2 jobs: about 16 s here
def test_the_sweeps_a_refused_sweep_is_advised_train(tmp_path: Path) -> None:
    _trains(tmp_path, "setup=logits_focal,logits_poly")
    _trains(tmp_path, "head=logits", "loss=focal,poly")


@pytest.mark.slow  # three searches' refusals, each composing its trials: about 15 s here
def test_a_search_lacking_a_loss_key_beside_a_setup_is_advised_the_setup_that_has_it(
    tmp_path: Path,
) -> None:
    """``hparams_search=optuna_focal setup=logits_asl`` (loss.gamma is focal's) was advised
    ``loss=focal``, which the setup check refuses beside setup=logits_asl."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    line = _refused(tmp_path, "-m", "hparams_search=optuna_focal", "setup=logits_asl")
    assert "Choose a setup whose loss has it (setup=logits_focal)" in line
    assert "without a setup (~setup in place of setup=logits_asl), choose a loss" in line
    assert "Choose a loss that has it (loss=focal)" not in line
    # without a setup, the loss itself
    line = _refused(tmp_path, "-m", "hparams_search=optuna_focal", "~setup", "loss=asl")
    assert "Choose a loss that has it (loss=focal)" in line
    # what it advised before: loss=focal beside setup=logits_asl, refused by the setup check
    before = _refused(
        tmp_path, "-m", "hparams_search=optuna_focal", "setup=logits_asl", "loss=focal"
    )
    assert "setup=logits_asl sets head=logits loss=asl, but loss=focal overrides it" in before


@pytest.mark.slow  # two searches of one tiny trial: about 19 s here
def test_the_choices_a_search_lacking_a_key_is_advised_train(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    search = ("hparams_search=optuna_focal", "hydra.sweeper.n_trials=1")
    _trains(tmp_path, *search, "setup=logits_focal")
    _trains(tmp_path, *search, "~setup", "loss=focal")


def _experiment_choosing_a_setup(tmp_path: Path) -> tuple[str, str, str]:
    """``-cd mine experiment=mine``: an experiment config whose defaults choose
    ``setup=logits_focal`` (no ``setup=`` on the command line)."""
    folder = tmp_path / "mine" / "experiment"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /setup: logits_focal\n"
    )
    return ("-cd", "mine", "experiment=mine")


def _runs(tmp_path: Path, *arguments: str) -> None:
    """``lossbench-train ARGUMENTS`` as a tiny single run (on iris unless ``data=`` is given):
    not refused, completed."""
    folder = f"hydra.run.dir={tmp_path}/run{len(list(tmp_path.iterdir()))}"
    data = () if any(a.startswith("data=") for a in arguments) else ("data=iris",)
    tiny = (*data, "trainer.max_epochs=1", "logger=none", folder)
    result = run_console("train", *arguments, *tiny, cwd=tmp_path)
    assert "lossbench: refused" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_key_beside_a_setup_is_advised_the_setup_whose_loss_has_it(tmp_path: Path) -> None:
    """``setup=logits_asl loss.gamma=2`` (gamma is focal's) was advised ``loss=focal
    loss.gamma=2``, which the setup check refuses beside setup=logits_asl: the setups whose loss
    has the key, or the loss without the setup (``~setup`` where a config chose the setup)."""
    line = _refused(tmp_path, "setup=logits_asl", "loss.gamma=2")
    assert (
        "choose a setup whose loss has it in place of setup=logits_asl "
        "(e.g. setup=logits_focal loss.gamma=2)" in line
    )
    assert "or drop setup=logits_asl and choose it (e.g. loss=focal loss.gamma=2)" in line
    assert "loss=focal: choose it" not in line
    # the setup of a search config: no setup= to drop; and focal lacks the key it searches
    line = _refused(tmp_path, "hparams_search=optuna_pos_weight", "loss.gamma=2")
    assert "no loss has both gamma and pos_weight_scale" in line
    assert (
        "or search without loss.pos_weight_scale with -m (without it, Hydra runs no search): "
        "choose a setup whose loss has it (e.g. -m setup=logits_focal loss.gamma=2 "
        "hydra.sweeper.params=null" in line
    )
    assert "or give ~setup and choose it (e.g. -m ~setup loss=focal loss.gamma=2 hydra." in line
    assert "(e.g. setup=logits_focal loss.gamma=2)" not in line
    # a setup keeping the head where one does: logits_asl for logits_focal's head
    line = _refused(tmp_path, "setup=logits_focal", "loss.gamma_neg=1")
    assert "(e.g. setup=logits_asl loss.gamma_neg=1)" in line
    # where Hydra refuses the key (a -cd folder), its setup is read from the config composed
    experiment = _experiment_choosing_a_setup(tmp_path)
    line = _refused(tmp_path, *experiment, "loss.gamma_neg=1")
    assert "choose a setup whose loss has it (e.g. setup=logits_asl loss.gamma_neg=1)" in line
    assert "or give ~setup and choose it (e.g. ~setup loss=asl loss.gamma_neg=1)" in line
    # without a setup, the loss itself, as before
    line = _refused(tmp_path, "loss.gamma=2")
    assert "gamma is a setting of loss=focal: choose it (e.g. loss=focal loss.gamma=2)" in line


@pytest.mark.slow  # four tiny runs: about 13 s here
def test_the_commands_a_key_beside_a_setup_is_advised_train(tmp_path: Path) -> None:
    _runs(tmp_path, "setup=logits_focal", "loss.gamma=2")
    _runs(tmp_path, "loss=focal", "loss.gamma=2")
    experiment = _experiment_choosing_a_setup(tmp_path)
    multilabel = "data=synthetic_multilabel"  # asl's task
    _runs(tmp_path, *experiment, "setup=logits_asl", "loss.gamma_neg=1", multilabel)
    _runs(tmp_path, *experiment, "~setup", "loss=asl", "loss.gamma_neg=1", multilabel)


def test_a_setup_chosen_by_a_config_is_advised_setup_removed_with_tilde(tmp_path: Path) -> None:
    """A single run whose setup an experiment or search config chose was advised "drop setup=",
    which is not on its command line: ``~setup`` removes that setup."""
    experiment = _experiment_choosing_a_setup(tmp_path)
    line = _refused(tmp_path, *experiment, "loss=poly")
    assert "setup=logits_focal sets head=logits loss=focal, but loss=poly overrides it" in line
    assert "choose setup=logits_poly (the setups with head=logits loss=poly: logits_poly)" in line
    assert "or give ~setup head=logits loss=poly" in line
    assert "drop setup=" not in line
    searched = ("optimizer.lr=0.01", "optimizer.weight_decay=0", "loss.gamma=2")
    line = _refused(tmp_path, "hparams_search=optuna_focal", *searched, "head=sigmoid")
    assert "no setup has head=sigmoid loss=focal: give ~setup head=sigmoid loss=focal" in line
    assert "drop setup=" not in line


@pytest.mark.slow  # two tiny runs: about 7 s here
def test_the_commands_a_setup_chosen_by_a_config_is_advised_train(tmp_path: Path) -> None:
    experiment = _experiment_choosing_a_setup(tmp_path)
    _runs(tmp_path, *experiment, "setup=logits_poly")
    _runs(tmp_path, *experiment, "~setup", "head=logits", "loss=poly")


#: A key beside a sweep of setups, or beside a search, refused; each command its refusal
#: advises (``"(e.g. COMMAND"``) in place of the given setup (the rest of the command line
#: kept); and words of the refusal.
_SEARCH_WITHOUT_POS_WEIGHT = (
    "hydra.sweeper.params=null 'optimizer.lr=tag(log, interval(1e-4, 3e-2))' "
    "'optimizer.weight_decay=interval(0.0, 1e-2)'"
)
ADVISED = [
    pytest.param(
        ("setup=logits_focal,logits_asl", "loss.gamma=2"),
        ["setup=logits_focal loss.gamma=2", "loss=focal loss.gamma=2"],
        "sweep only the setups whose loss has it in place of setup=logits_focal,logits_asl (e.g. "
        "setup=logits_focal loss.gamma=2: the swept setup logits_asl has loss=asl, which lacks it)",
        id="swept-setups-one-with-the-key",
    ),
    pytest.param(
        ("setup=logits_asl,logits_cross_entropy", "loss.gamma=2"),
        ["setup=logits_focal loss.gamma=2", "loss=focal loss.gamma=2"],
        "no swept setup's loss has it (the swept setups logits_asl, logits_cross_entropy have "
        "loss=asl, loss=cross_entropy, which lack it): sweep the setups whose loss has it",
        id="swept-setups-none-with-the-key",
    ),
    pytest.param(
        (
            "setup=logits_asl,logits_bce_with_logits,logits_bce_with_logits_pos_weight",
            "loss.pos_weight_scale=2",
        ),
        [
            "-m setup=logits_bce_with_logits,logits_bce_with_logits_pos_weight "
            "loss.pos_weight_scale=2",
            "loss=bce_with_logits loss.pos_weight_scale=2",
        ],
        "sweep only the setups whose loss has it",
        id="swept-setups-several-with-the-key",
    ),
    pytest.param(
        ("hparams_search=optuna_pos_weight", "loss.gamma=2"),
        [
            f"setup=logits_focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT}",
            f"~setup loss=focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT}",
        ],
        "no loss has both gamma and pos_weight_scale",
        id="search-tuning-a-key-the-owner-lacks",
    ),
    pytest.param(
        ("hparams_search=optuna_focal", "setup=logits_asl", "loss.gamma_neg=1", "loss.clip=0.1"),
        [],  # passes the key check: the search check's to refuse (composing its trials)
        "",
        id="search-key-check-passes",
    ),
]


@pytest.mark.parametrize(("given", "advised", "words"), ADVISED)
def test_every_command_a_key_refusal_advises_passes_the_other_checks(
    given: tuple[str, ...], advised: list[str], words: str
) -> None:
    """``-m setup=logits_focal,logits_asl loss.gamma=2`` was advised one setup, not the sweep;
    ``-m hparams_search=optuna_pos_weight loss.gamma=2`` was advised ``setup=logits_focal
    loss.gamma=2``, which the search check refuses (focal has no pos_weight_scale to search).
    Each advised command (the given setup dropped, the rest kept) passes the key check and the
    sweep's setup check, in process."""
    from lossbench.option_keys import option_key_refusal

    message = option_key_refusal(list(given), config_dir(), multirun=True)
    if not advised:
        assert message is None
        return
    assert message is not None
    assert words in message, message
    assert "choose a setup whose loss has it in place of setup=" not in message  # one, not a sweep
    kept = [a for a in given if not a.startswith(("setup=", "loss."))]
    for command in advised:
        assert f"(e.g. {command}" in message, message
        arguments = [*kept, *(a for a in shlex.split(command) if a != "-m")]
        assert option_key_refusal(arguments, config_dir(), multirun=True) is None, arguments
        chosen = "logits_bce_with_logits_pos_weight" if "hparams_search" in command else None
        config = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": chosen}}}})
        setup = [a for a in arguments if a.startswith(("setup=", "~setup"))]
        if setup and setup[0] == "~setup":
            config = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": None}}}})
        check_swept_setups(config, _sweep(*(a for a in arguments if a != "~setup")))


def _searches(tmp_path: Path, *arguments: str) -> None:
    """``lossbench-train -m ARGUMENTS`` as an Optuna search of one tiny trial on its config's
    data: not refused, its trial completed."""
    folder = f"hydra.sweep.dir={tmp_path}/search{len(list(tmp_path.iterdir()))}"
    tiny = ("hydra.sweeper.n_trials=1", "trainer.max_epochs=1", "logger=none", folder)
    result = run_console("train", "-m", *arguments, *tiny, cwd=tmp_path)
    assert "lossbench: refused" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow  # a search refused (its trials composed), three searches, a sweep: about 60 s
def test_the_commands_a_key_beside_a_search_or_swept_setups_is_advised_train(
    tmp_path: Path,
) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    # what it advised before: a setup whose loss the search's params cannot compose with
    before = _refused(
        tmp_path, "-m", "hparams_search=optuna_pos_weight", "setup=logits_focal", "loss.gamma=2"
    )
    assert "Could not override 'loss.pos_weight_scale'" in before
    without = shlex.split(_SEARCH_WITHOUT_POS_WEIGHT)
    _searches(
        tmp_path, "hparams_search=optuna_pos_weight", "setup=logits_focal", "loss.gamma=2", *without
    )
    _searches(
        tmp_path,
        "hparams_search=optuna_pos_weight",
        "~setup",
        "loss=focal",
        "loss.gamma=2",
        *without,
    )
    _trains(tmp_path, "setup=logits_focal", "loss.gamma=2")
    # a loss beside a search's setup, which lacks the searched loss.gamma: the advised setup,
    # searched without loss.gamma (before, the setup alone, refused by the search check)
    _searches(tmp_path, "hparams_search=optuna_focal", "setup=logits_asl", *without)


@pytest.mark.slow  # a refusal and a quick study of one setup (12 short jobs): about 40 s
def test_a_key_beside_a_study_sweeping_setups_is_advised_its_setup_that_has_it(
    tmp_path: Path,
) -> None:
    """``-m experiment=compare_binary loss.gamma=2`` was advised ``loss=focal loss.gamma=2``,
    which the setup check refuses beside each setup the study sweeps: the study's setup whose
    loss has the key, given on the command line (which replaces the study's sweep of setups)."""
    study = ("experiment=compare_binary", "study=quick", "trainer.max_epochs=1", "logger=none")
    line = _refused(tmp_path, "-m", *study, "loss.gamma=2")
    assert "(e.g. setup=logits_focal loss.gamma=2: the 10 other swept setups lack it)" in line
    assert "loss=focal loss.gamma=2" not in line
    result = run_console(
        "train",
        "-m",
        *study,
        "setup=logits_focal",
        "loss.gamma=2",
        "hydra.sweep.dir=study",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 refused, 0 failed)" in result.stderr, result.stderr[-2000:]


@pytest.mark.slow  # a search refused as its trials are composed: 7-9 s here
def test_a_search_key_is_advised_only_options_with_the_command_lines_keys(tmp_path: Path) -> None:
    """``-m hparams_search=optuna_focal setup=logits_asl loss.gamma_neg=1`` (the search tunes
    loss.gamma, asl's loss lacks it) was advised ``setup=logits_focal``, which the key check
    refuses beside loss.gamma_neg=1: no loss has both keys."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    line = _refused(
        tmp_path, "-m", "hparams_search=optuna_focal", "setup=logits_asl", "loss.gamma_neg=1"
    )
    assert (
        "no loss has both gamma and gamma_neg (loss=focal lacks gamma_neg, which "
        "loss.gamma_neg=1 sets)" in line
    )
    assert "setup=logits_focal" not in line


def _config_dir_adding_a_loss(tmp_path: Path) -> tuple[str, str]:
    """``-cd mine``: a config folder adding a loss of its own (``loss=my_focal``), so that the
    options are left to Hydra, which composes the config and refuses a key it lacks."""
    folder = tmp_path / "mine" / "loss"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_focal.yaml").write_text("defaults:\n  - focal\n  - _self_\n")
    return ("-cd", "mine")


def _advice(line: str, key: str) -> str:
    """What a refusal of a key advises: after "has no setting 'KEY'.", before the chosen
    option's own settings."""
    return line.split(f"has no setting {key!r}. ", 1)[1].split(", or set one of ", 1)[0]


@pytest.mark.slow  # a search refused as Hydra composes it: 3-5 s (without -cd: in process above)
def test_a_key_beside_a_search_in_a_config_dir_is_advised_the_search_without_its_key(
    tmp_path: Path,
) -> None:
    """With ``-cd`` (Hydra composes and refuses the key), ``-m hparams_search=optuna_pos_weight
    loss.gamma=2`` was advised ``setup=logits_focal loss.gamma=2``, which the search check
    refuses (focal has no pos_weight_scale to search): as without ``-cd``, no loss has both
    keys, and the search without pos_weight_scale; each advised command passes the key check
    and the sweep's setup check."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    from lossbench.option_keys import option_key_refusal

    folder = _config_dir_adding_a_loss(tmp_path)
    given = ("hparams_search=optuna_pos_weight", "loss.gamma=2")
    line = _refused(tmp_path, "-m", *folder, *given)
    assert "the loss Hydra composed, loss=bce_with_logits" in line
    assert (
        "no loss has both gamma and pos_weight_scale (loss=focal lacks pos_weight_scale, which "
        "hparams_search=optuna_pos_weight searches): leave loss.gamma=2 out, or search without "
        "loss.pos_weight_scale: " in line
    )
    assert "(e.g. setup=logits_focal loss.gamma=2)" not in line  # refused by the search check
    assert _advice(line, "gamma") == _advice(_refused(tmp_path, "-m", *given), "gamma")
    for command in (
        f"setup=logits_focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT}",
        f"~setup loss=focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT}",
    ):
        assert f"(e.g. {command})" in line, line
        arguments = [given[0], *shlex.split(command)]
        assert option_key_refusal(arguments, config_dir(), multirun=True) is None, arguments
        chosen = None if "~setup" in arguments else "logits_bce_with_logits_pos_weight"
        config = OmegaConf.create({"hydra": {"runtime": {"choices": {"setup": chosen}}}})
        check_swept_setups(config, _sweep(*(a for a in arguments if a != "~setup")))
    # without -m, the same advice, each command given with it: without it, no search runs
    single = _refused(tmp_path, *folder, *given)
    assert "search without loss.pos_weight_scale with -m (without it, Hydra runs no search)" in (
        single
    )
    assert f"(e.g. -m setup=logits_focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT})" in single
    assert f"(e.g. -m ~setup loss=focal loss.gamma=2 {_SEARCH_WITHOUT_POS_WEIGHT})" in single


@pytest.mark.slow  # two searches of one tiny trial, each with its trials composed: about 30 s
def test_the_commands_a_key_beside_a_search_in_a_config_dir_is_advised_train(
    tmp_path: Path,
) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    folder = _config_dir_adding_a_loss(tmp_path)
    without = shlex.split(_SEARCH_WITHOUT_POS_WEIGHT)
    search = (*folder, "hparams_search=optuna_pos_weight")
    _searches(tmp_path, *search, "setup=logits_focal", "loss.gamma=2", *without)
    _searches(tmp_path, *search, "~setup", "loss=focal", "loss.gamma=2", *without)
