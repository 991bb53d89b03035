"""A key of a config group that the option chosen lacks (``loss.gamma=2`` with the default
loss) is refused before Hydra composes, naming the option, who chose it and the options that
have the key; where the command line and the files cannot tell, Hydra's own error is refused
the same way."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from cli_process import run_module
from lossbench.command_keys import group_options
from lossbench.config import SCHEMAS
from lossbench.entry_keys import chosen_entries, unknown_entry_key
from lossbench.option_keys import (
    chosen_option,
    chosen_options,
    composition_refusal,
    option_key_refusal,
    removed_key_refusal,
    removed_null_refusal,
)
from lossbench.train import config_dir

CONFIGS = config_dir()


@pytest.mark.parametrize(
    ("overrides", "multirun", "words"),
    [
        (
            ("loss.gamma=2",),
            False,
            [
                "loss.gamma=2: the loss chosen, loss=bce_with_logits (train.yaml's default), has "
                "no setting 'gamma'.",
                "gamma is a setting of loss=focal: choose it (e.g. loss=focal loss.gamma=2)",
                "or set one of bce_with_logits's settings: size_average, reduce, reduction, "
                "weight, pos_weight, pos_weight_scale.",
            ],
        ),
        (
            ("data=csv", "data.n_samples=5"),
            False,
            [
                "data=csv (on the command line), has no setting 'n_samples'",
                "data=synthetic_binary, data=synthetic_binary_imbalanced, "
                "data=synthetic_multiclass, data=synthetic_multilabel",
                "csv's settings: batch_size, ",
            ],
        ),
        (
            ("data=iris", "loss=cross_entropy", "loss.gamma=2"),
            False,
            ["loss=cross_entropy (on the command line), has no setting 'gamma'"],
        ),
        (
            ("setup=logits_cross_entropy", "loss.gamma=2"),
            False,
            ["loss=cross_entropy (chosen by setup=logits_cross_entropy)"],
        ),
        (  # the command line's loss wins over the setup's
            ("setup=logits_focal", "loss=cross_entropy", "loss.gamma=2"),
            False,
            ["loss=cross_entropy (on the command line)"],
        ),
        (  # a search that chooses a setup, whose loss the command line's setup replaces
            ("hparams_search=optuna_focal", "setup=logits_poly", "loss.gamma=2"),
            False,
            ["loss=poly (chosen by setup=logits_poly)", "poly's settings: reduction, epsilon"],
        ),
        (
            ("loss=focal,cross_entropy", "loss.gamma=2"),
            True,
            [
                "loss=cross_entropy (one job of the sweep loss=focal,cross_entropy), has no "
                "setting 'gamma'",
                "sweep only options that have it (e.g. loss=focal loss.gamma=2)",
            ],
        ),
        (
            ("setup=logits_focal,logits_poly", "loss.gamma=2"),
            True,
            [
                "loss=poly (chosen by setup=logits_poly, one job of the sweep "
                "setup=logits_focal,logits_poly)"
            ],
        ),
        (  # each job has it, but not the config Hydra composes first
            ("scheduler=cosine,warmup_cosine", "scheduler.eta_min=0.01"),
            True,
            [
                "scheduler.eta_min=0.01: in a multirun, Hydra first composes one config "
                "without the swept options, with scheduler=none (train.yaml's default)",
                "(the jobs' scheduler=cosine,warmup_cosine have it)",
                "scheduler.eta_min=choice(0.01).",
            ],
        ),
        (  # the sweep of those that have it sets the value in the jobs only
            ("data=synthetic_binary,synthetic_multiclass,iris", "data.n_samples=100"),
            True,
            [
                "data=iris (one job of the sweep data=synthetic_binary,synthetic_multiclass,iris)",
                "e.g. -m data=synthetic_binary,synthetic_multiclass data.n_samples=choice(100)",
            ],
        ),
        (("optimizer=sgd,adam", "optimizer.momentum=0.9"), True, ["optimizer=adam (one job"]),
        (("hydra.mode=MULTIRUN", "loss=focal,nll", "loss.gamma=2"), False, ["loss=nll (one job"]),
        (("model=linear", "model.dropout=0.1"), False, ["; linear has no settings of its own."]),
        (("-m", "loss.gamma=1,2")[1:], True, ["loss.gamma=1,2: the loss chosen"]),
        (  # a single run of an experiment: its sweeper's params are not used
            ("experiment=compare_binary", "loss.gamma=2"),
            False,
            ["loss=bce_with_logits (train.yaml's default)"],
        ),
        (  # in a multirun, the experiment sweeps data and setups, not the optimizer
            ("experiment=compare_binary", "optimizer.momentum=0.9"),
            True,
            ["optimizer=adam (train.yaml's default), has no setting 'momentum'"],
        ),
    ],
    ids=[
        "default-loss",
        "csv-data",
        "loss-given",
        "setup",
        "loss-over-setup",
        "search-and-setup",
        "sweep",
        "sweep-of-setups",
        "sweep-first-config",
        "sweep-of-several-that-have-it",
        "sweep-optimizers",
        "hydra-mode-multirun",
        "no-settings",
        "swept-key",
        "experiment-single-run",
        "experiment-multirun",
    ],
)
def test_a_key_the_chosen_option_lacks_is_refused(overrides, multirun, words) -> None:
    refusal = option_key_refusal(overrides, CONFIGS, multirun=multirun)
    assert refusal is not None
    for word in words:
        assert word in refusal, refusal
    assert "+" + overrides[-1] not in refusal  # not Hydra's advice: nothing would read it


@pytest.mark.parametrize(
    ("overrides", "multirun"),
    [
        (("loss=focal", "loss.gamma=2"), False),
        (("setup=logits_focal", "loss.gamma=2"), False),
        (("hparams_search=optuna_focal", "loss.gamma=2"), False),
        (("hparams_search=optuna_focal", "loss.gamma=2"), True),
        (("+loss.gamma=2",), False),  # added on purpose: validation's to check
        (("++loss.gamma=2",), False),
        (("loss=focal", "loss.gamma=0,1,2", "seed=0,1"), True),
        (("scheduler=cosine,warmup_cosine", "scheduler.eta_min=choice(0.01)"), True),
        (("experiment=compare_binary", "loss.gamma=2"), True),  # its setups: Hydra's to tell
        (("experiment=compare_binary", "optimizer.lr=0.1"), True),
        (("logger=[csv,mlflow]", "loss=focal", "loss.gamma=2"), False),
        (("+loss=focal", "loss.gamma=2"), False),  # not followed: left to Hydra
        (("hydra/launcher=basic", "loss=focal", "loss.gamma=2"), True),
        (("hydra/sweeper=lossbench", "data=iris,wine", "loss=focal", "loss.gamma=2"), True),
        (("loss=focal,cross_entropy", "loss.gamma=2"), False),  # without -m: Hydra refuses it
        (("optimizer.lr=0.01", "data.batch_size=8", "trainer.max_epochs=3"), False),
        (("debug=fdr", "optimizer=sgd", "optimizer.momentum=0.5"), False),
        (("data.delimiter=;",), False),  # the grammar check's
    ],
)
def test_a_key_the_chosen_option_has_passes(overrides, multirun) -> None:
    assert option_key_refusal(overrides, CONFIGS, multirun=multirun) is None


def _hydra_choices(overrides: list[str]) -> dict[str, str | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    return {group: cfg.hydra.runtime.choices.get(group) for group in SCHEMAS}


@pytest.mark.slow
def test_the_options_chosen_are_those_hydra_composes() -> None:
    """No false refusal: for every option of each group that chooses others (setup, experiment,
    search, debug, study), and where the command line's choice wins, the options the check reads
    from the files are those Hydra composes."""
    lines = [
        [],
        ["setup=logits_poly", "hparams_search=optuna_focal"],
        ["hparams_search=optuna_focal", "loss=cross_entropy"],
    ]
    for group in ("setup", "experiment", "hparams_search", "debug", "study"):
        lines += [[f"{group}={path.stem}"] for path in sorted((CONFIGS / group).glob("*.yaml"))]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        for line in lines:
            chosen = chosen_options(line, CONFIGS)
            assert chosen is not None, line
            assert {g: chosen[g] for g in SCHEMAS} == _hydra_choices(line), line


def test_hydras_own_error_is_refused_the_same_way() -> None:
    """Where the check cannot tell (here: called on Hydra's error directly), the composition
    error's key and node give the same refusal, with Hydra's option."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as raised:
            compose("train", overrides=["data=iris", "loss=cross_entropy", "loss.gamma=2"])
        overrides = ["data=iris", "loss=cross_entropy", "loss.gamma=2"]
        refusal = composition_refusal(raised.value, overrides)
        assert refusal is not None and refusal.startswith(
            "loss.gamma=2: the loss Hydra composed, loss=cross_entropy"
        )
        assert "gamma is a setting of loss=focal" in refusal
        assert "cross_entropy's settings: size_average, " in refusal
        multirun = composition_refusal(raised.value, overrides, multirun=True)
        assert multirun is not None and "loss.gamma=choice(2)" in multirun
        assert composition_refusal(raised.value, ["data=iris"]) is None  # not a command line's
        with pytest.raises(ConfigCompositionException) as other:
            compose("train", overrides=["+loss=focal"])  # Hydra's other errors stay Hydra's
        assert composition_refusal(other.value, ["+loss=focal"]) is None
    assert composition_refusal(ValueError("Could not override 'loss.gamma'."), []) is None


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("~optimizer.lr", "lr is part of the schema of optimizer=adam (AdamConfig)"),
        ("~data.batch_size", "batch_size is part of the schema of data=iris (DataConfig)"),
        ("~trainer.max_epochs", "max_epochs is part of the schema of trainer (TrainerConfig)"),
        ("~early_stopping.patience=5", "patience is part of the schema of early_stopping"),
    ],
)
def test_removing_a_key_of_a_schema_is_refused_with_how_to_set_it(
    override: str, words: str
) -> None:
    options = group_options([CONFIGS])
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as raised:
            compose("train", overrides=["data=iris", override])
        refusal = removed_key_refusal(raised.value, options)
        path = override.lstrip("~").split("=")[0]
        assert refusal is not None and refusal.startswith(f"{override} removes {path}, but ")
        assert words in refusal
        assert f"set it instead ({path}=<value>; `lossbench-train --cfg job`" in refusal
        with pytest.raises(ConfigCompositionException) as other:
            compose("train", overrides=["data=iris", "~data.nosuch"])  # Hydra's own error
        assert removed_key_refusal(other.value, options) is None


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["~loss.pos_weight"], "pos_weight is part of the schema of loss=bce_with_logits"),
        (["~trainer.max_time"], "max_time is part of the schema of trainer (TrainerConfig)"),
        (["~early_stopping.monitor"], "monitor is part of the schema of early_stopping"),
        (["~checkpoint.monitor=null"], "monitor is part of the schema of checkpoint"),
        (["~study_name"], "study_name, a setting of lossbench-train, whose settings cannot"),
        (["loss=focal,bce_with_logits", "~loss.pos_weight"], "the loss Hydra composed"),
    ],
)
def test_removing_a_null_key_of_a_schema_is_refused_with_how_to_set_it(
    overrides: list[str], words: str
) -> None:
    """Hydra says such a key "does not exist": it removes only a key with a value."""
    removed = overrides[-1]
    path = removed.lstrip("~").split("=")[0]
    with (
        initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"),
        pytest.raises(ConfigCompositionException, match="does not exist") as raised,
    ):
        compose("train", overrides=[removed])
    refusal = removed_null_refusal(raised.value, overrides, CONFIGS, multirun=len(overrides) > 1)
    assert refusal is not None and refusal.startswith(f"{removed} removes {path}")
    assert words in refusal
    assert f"set it instead ({path}=<value>; `lossbench-train --cfg job`" in refusal


def test_removing_a_key_the_option_chosen_lacks_says_there_is_nothing_to_remove() -> None:
    overrides = ["setup=logits_focal", "~loss.pos_weight"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        with pytest.raises(ConfigCompositionException) as raised:
            compose("train", overrides=overrides)
        with pytest.raises(ConfigCompositionException) as other:
            compose("train", overrides=["~callbacks.nosuch"])  # no schema: Hydra's own error
    assert removed_null_refusal(raised.value, overrides, CONFIGS) == (
        "~loss.pos_weight removes loss.pos_weight, which loss=focal does not have "
        "(FocalLossConfig), so there is nothing to remove: leave ~loss.pos_weight out."
    )
    assert removed_null_refusal(other.value, ["~callbacks.nosuch"], CONFIGS) is None


def _entry_lines() -> list[list[str]]:
    """Command lines choosing every shipped option of logger and callbacks, a list of them,
    and the configs that choose options of other groups."""
    lines = [[], ["logger=[csv,mlflow]"], ["logger=[]"], ["logger=many", "setup=logits_focal"]]
    for group in ("logger", "callbacks", "setup", "experiment", "hparams_search", "debug", "study"):
        lines += [[f"{group}={path.stem}"] for path in sorted((CONFIGS / group).glob("*.yaml"))]
    return lines


def _composed(line: list[str], group: str) -> tuple[object, list[str]]:
    """Hydra's choice for ``group`` and the entries it composes, for ``line``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = compose("train", overrides=line, return_hydra_config=True)
    return cfg.hydra.runtime.choices.get(group), sorted(cfg.get(group) or {})


@pytest.mark.parametrize("group", ["logger", "callbacks"])
@pytest.mark.slow
def test_the_entries_chosen_are_those_hydra_composes(group: str) -> None:
    """The logger and callbacks options (lists included) worked out before Hydra composes, and
    the entries :mod:`lossbench.entry_keys` reads from them, are Hydra's, for every option."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        for line in _entry_lines():
            options = chosen_option(group, line, CONFIGS)
            entries = chosen_entries(group, line, CONFIGS)
            assert options is not None and entries is not None, line
            choice, composed = _composed(line, group)
            if choice is not None:  # Hydra records no choice for a list of options
                assert options == (choice,), line
            assert sorted(entries) == composed, line


def test_a_config_that_chooses_a_logger_is_followed(tmp_path: Path) -> None:
    """A setup that chooses a logger decides the entries; another setup of the same folder
    that does not, leaves train.yaml's default; a sweep over setups that choose differently
    is left to Hydra."""
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    (configs / "setup" / "logged.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /head: logits\n"
        "  - override /loss: focal\n  - override /logger: many\nsetup: logged\n"
    )
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        for line, expected in [
            (["setup=logged"], ("many",)),
            (["setup=logits_focal"], ("csv",)),
            (["setup=logged", "logger=mlflow"], ("mlflow",)),
        ]:
            assert chosen_option("logger", line, configs) == expected, line
            entries = chosen_entries("logger", line, configs)
            assert entries is not None and sorted(entries) == _composed(line, "logger")[1]
    refusal = unknown_entry_key("logger.mlflow.x=1", ["setup=logged"], configs)
    assert refusal is not None and "whose entries are: csv, tensorboard" in refusal
    sweep = ["-m", "setup=logged,logits_focal", "logger.tensorboard.name=x"]
    assert unknown_entry_key(sweep[-1], sweep, configs) is None
    assert chosen_option("logger", sweep[1:], configs, multirun=True) is None


@pytest.mark.slow
def test_a_glob_sweep_of_a_group_is_read_as_the_options_it_matches(tmp_path: Path) -> None:
    """``glob(...)`` over a group's options, with a key of a group also given: the checks read
    the options it matches from the group's files (Hydra lists them only as it sweeps) and
    check each job as for a list of options, rather than stop with Hydra's "ConfigLoader is
    not set"."""
    line = ["setup=glob(logits_bce*)", "optimizer.weight_decay=0.001"]
    assert option_key_refusal(line, CONFIGS, multirun=True) is None
    assert chosen_option("logger", line, CONFIGS, multirun=True) == ("csv",)
    line = ["data=glob(ir*)", "data.batch_size=16"]
    assert option_key_refusal(line, CONFIGS, multirun=True) is None
    sweep = ["-m", "data=iris", "loss=glob(bce*)", "head=sigmoid", "callbacks.progress_bar=null"]
    assert unknown_entry_key(sweep[-1], sweep, CONFIGS) is None
    refusal = option_key_refusal(
        ["data=iris", "loss=glob([focal,cross*])", "loss.gamma=2"], CONFIGS, multirun=True
    )
    assert refusal is not None
    assert "loss=cross_entropy (one job of the sweep loss=glob([focal,cross*]))" in refusal
    result = run_module(
        "lossbench.train", "-m", "data=glob(ir*)", "data.batch_size=16", "trainer.max_epochs=1",
        "logger=none", "hydra.sweep.dir=sweep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert [p.parent.name for p in (tmp_path / "sweep").glob("*/metrics.json")] == [
        "0_iris_logits_bce_with_logits"
    ]
