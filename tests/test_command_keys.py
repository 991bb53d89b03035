"""A misspelt top-level setting is refused by each command before anything runs, and so is a
key inside a config group that none of the group's options has."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from cli_process import run_module
from job_configs import job_config
from lossbench.command_keys import (
    NEEDED_GROUPS,
    NEEDED_SETTINGS,
    ONE_CHOICE_GROUPS,
    command_keys,
    group_keys,
    group_options,
    null_option,
    removed_setting,
    second_option,
    unknown_key,
)
from lossbench.config import SCHEMAS, TrainConfig
from lossbench.evaluate import EvalConfig
from lossbench.option_keys import chosen_options
from lossbench.train import config_dir

GROUPS = [path.name for path in config_dir().iterdir() if path.is_dir()]
TRAIN_KEYS = command_keys(TrainConfig, GROUPS)
NESTED = group_keys(SCHEMAS, TrainConfig, skip=("trainer",))


@pytest.mark.parametrize(
    ("module", "arguments", "expected"),
    [
        ("lossbench.train", ("optimzer.lr=0.01",), "no setting 'optimzer' (in optimzer.lr=0.01)"),
        ("lossbench.train", ("-m", "data=wine", "sed=0,1"), "Did you mean seed?"),
        ("lossbench.evaluate", ("ckpt_pth=run.ckpt",), "Did you mean ckpt_path?"),
        ("lossbench.predict", ("ckpt_path=run.ckpt", "dta.path=new.csv"), "Did you mean data?"),
    ],
    ids=["train", "train-multirun", "eval", "predict"],
)
def test_a_misspelt_setting_is_refused_in_one_line_with_the_valid_ones(
    tmp_path, module, arguments, expected
):
    result = run_module(module, *arguments, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()  # one line: no traceback, no Hydra message
    assert line.startswith("lossbench: refused: lossbench-") and expected in line
    assert "Valid settings and config groups: " in line and "hydra" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "argument",
    [
        "seed=0,1,2",
        "data=wine",
        "optimizer.lr=0.01",
        "hydra/launcher=basic",
        "hydra.run.dir=out",
        "experiment=compare_all",
        "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
        "++my_key=1",
        "~callbacks.progress_bar",
        "-m",
        "--cfg",
        "job",
    ],
)
def test_what_hydra_accepts_passes_the_check(argument) -> None:
    assert unknown_key(argument, TRAIN_KEYS, "lossbench-train") is None


def test_the_keys_are_the_schemas_fields_its_groups_and_hydra() -> None:
    assert set(TRAIN_KEYS) == set(TrainConfig.__dataclass_fields__) | set(GROUPS) | {"hydra"}
    assert {"data", "loss", "experiment", "study", "seed", "trainer"} <= set(TRAIN_KEYS)
    assert command_keys(EvalConfig) == (
        "accelerator",
        "ckpt_path",
        "config",
        "data_path",
        "hydra",
        "out",
        "split",
    )
    assert unknown_key("sead=1", TRAIN_KEYS, "lossbench-train").startswith(
        "lossbench-train has no setting 'sead' (in sead=1). Did you mean seed or head?"
    )


def test_groups_of_an_added_config_dir_are_left_to_hydra(tmp_path) -> None:
    """``-cd DIR`` adds config groups this check does not know in advance: Hydra answers for
    them (a new group needs ``+group=option``, which Hydra says)."""
    (tmp_path / "mine" / "myexp").mkdir(parents=True)
    (tmp_path / "mine" / "myexp" / "small.yaml").write_text("# @package _global_\nseed: 3\n")
    result = run_module("lossbench.train", "-cd", "mine", "myexp=small", cwd=tmp_path)
    assert result.returncode == 1 and "+myexp=small" in result.stderr, result.stderr[-2000:]
    assert "lossbench: refused" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("optimizer.lrr=0.1",), "Did you mean optimizer.lr?"),
        (("-m", "loss=focal", "loss.gama=0,1,2"), "Did you mean loss.gamma or"),
        (("data.batch_sise=64",), "Did you mean data.batch_size?"),
        (("checkpoint.wrte=at_end",), "Did you mean checkpoint.write?"),
    ],
    ids=["optimizer", "loss-multirun", "data", "checkpoint"],
)
def test_a_misspelt_key_inside_a_group_is_refused_with_the_groups_keys(
    tmp_path, arguments, expected
):
    result = run_module("lossbench.train", *arguments, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("lossbench: refused: lossbench-train has no setting ")
    assert expected in line and "(of a config group: of all its options)" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argument",
    [
        "optimizer.lr=0.01",
        "optimizer.momentum=0.9",  # an SGD key: left to Hydra whatever the optimizer chosen
        "loss.gamma=2",
        "data.split_seed=${seed}",
        "model.hidden_sizes=[64,64]",
        "scheduler.warmup_epochs=2",
        "early_stopping.patience=3",
        "trainer.max_epochs=3",  # the trainer's own check (lossbench.trainer_args)
        "callbacks.progress_bar.refresh_rate=5",  # not a schema: Hydra's
        "+optimizer.foo=1",  # added on purpose
    ],
)
def test_keys_some_option_has_pass_the_check(argument) -> None:
    assert unknown_key(argument, TRAIN_KEYS, "lossbench-train", NESTED) is None


@pytest.mark.slow
def test_every_option_of_every_checked_group_composes_only_keys_the_check_knows() -> None:
    """No false refusal: each option's composed keys (from its YAML file and its schema) are
    among the keys the check accepts for its group."""
    for group in set(NESTED) & set(SCHEMAS):
        for option in sorted(p.stem for p in (config_dir() / group).glob("*.yaml")):
            cfg = job_config(f"{group}={option}", fast=False)
            keys = set(OmegaConf.to_container(cfg[group], resolve=False) or {})
            assert keys <= set(NESTED[group]), (group, option, keys - set(NESTED[group]))
    cfg = job_config(fast=False)
    for name in set(NESTED) - set(SCHEMAS):  # checkpoint, early_stopping
        assert set(cfg[name]) <= set(NESTED[name]), name


def test_shell_completion_is_hydras_not_an_override(tmp_path) -> None:
    """``-sc install=bash`` (what ``--hydra-help`` tells users to run) prints Hydra's completion
    script: its value is not a setting to refuse."""
    result = run_module("lossbench.train", "-sc", "install=bash", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "hydra_bash_completion" in result.stdout and "refused" not in result.stderr


@pytest.mark.parametrize("flag", [("-cd", "mine"), ("-cd=mine",), ("--config-dir=mine",)])
def test_every_form_of_config_dir_adds_its_options(tmp_path, flag) -> None:
    (tmp_path / "mine" / "data").mkdir(parents=True)
    (tmp_path / "mine" / "data" / "bc_small.yaml").write_text(
        "defaults: [breast_cancer, _self_]\nbatch_size: 64\n"
    )
    result = run_module("lossbench.train", *flag, "data=bc_small", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "batch_size: 64" in result.stdout


def test_a_searchpath_in_an_added_config_is_left_to_hydra(tmp_path) -> None:
    """A primary config of ``-cd``'s own (``-cn``) that adds a directory through
    ``hydra.searchpath``: its options are Hydra's to find, not refused up front."""
    (tmp_path / "mine" / "data").mkdir(parents=True)
    (tmp_path / "mine" / "data" / "bc_small.yaml").write_text(
        "defaults: [breast_cancer, _self_]\nbatch_size: 64\n"
    )
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "exp.yaml").write_text(
        f"defaults: [train, _self_]\nhydra:\n  searchpath: [file://{tmp_path / 'mine'}]\n"
    )
    args = ("-cd", "proj", "-cn", "exp", "data=bc_small", "--cfg", "job")
    result = run_module("lossbench.train", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "batch_size: 64" in result.stdout


def test_help_names_the_command(tmp_path) -> None:
    result = run_module("lossbench.train", "--help", cwd=tmp_path)
    assert result.stdout.startswith("lossbench-train: "), result.stdout[:200]


@pytest.mark.parametrize(
    "arguments",
    [
        ("logger.csv.name=x",),  # set in configs/logger/csv.yaml
        ("logger=many", "logger.tensorboard.name=tb"),
        ("++logger.csv.flush_logs_every_n_steps=5",),
        ("+logger.csv.flush_logs_every_n_steps=5",),
        ("+callbacks.timer._target_=lightning.pytorch.callbacks.Timer", "callbacks.timer.x=1"),
        ("-m", "logger=csv,none", "logger.csv.nme=x"),  # a sweep: left to each job
        ("-m", "logger=choice(csv)", "logger.csv.name=x"),  # a sweep of one option: csv
        ("-m", "data=iris,wine", "loss=cross_entropy", "logger.csv.name=x"),
        ("callbacks.model_summary.anything=1",),  # ModelSummary takes **kwargs
        ("~logger.csv",),
    ],
)
def test_entry_keys_left_alone_where_they_can_work_or_cannot_be_known(arguments):
    from lossbench.entry_keys import unknown_entry_key

    for argument in arguments:
        assert unknown_entry_key(argument, arguments, config_dir()) is None, argument


@pytest.mark.parametrize(
    "arguments",
    [
        ("debug=profiler", "trainer.profiler.filename=x"),  # set in configs/debug/profiler.yaml
        (
            "debug=profiler",
            "trainer.profiler._target_=lightning.pytorch.profilers.PassThroughProfiler",
        ),
        ("debug=profiler", "+trainer.profiler.extended=false"),  # added: checked once composed
        ("debug=profiler", "+trainer.profiler.extended=false", "trainer.profiler.extended=true"),
        ("debug=profiler", "trainer.profiler.filename=x", "trainer.profiler=simple"),
        ("-m", "debug=profiler,fdr", "trainer.profiler.filname=x"),  # a sweep: left to each job
        ("-m", "debug=profiler", "trainer.profiler.filename=a,b"),
        ("trainer.profiler=simple",),
        ("~trainer.profiler",),
    ],
)
def test_profiler_keys_left_alone_where_they_can_work_or_cannot_be_known(arguments):
    from lossbench.entry_keys import unknown_profiler_key

    for argument in arguments:
        assert unknown_profiler_key(argument, arguments, config_dir()) is None, argument


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (
            ("debug=profiler", "trainer.profiler.filname=x"),
            "Did you mean trainer.profiler.filename?",
        ),
        (
            ("trainer.profiler.filename=x",),
            "Choose the profiler first, then set it: debug=profiler",
        ),
        (("debug=profiler", "trainer.profiler.extended=false"), "+trainer.profiler.extended=false"),
        (
            (
                "debug=profiler",
                "trainer.profiler._target_=lightning.pytorch.profilers.AdvancedProfiler",
                "trainer.profiler.dump_stats=true",
            ),
            "Hydra cannot override it: an argument of lightning.pytorch.profilers.AdvancedProfiler "
            "is added with a +, +trainer.profiler.dump_stats=true",
        ),
        (
            ("+trainer.profiler._target_=x.Mine", "trainer.profiler.level=1"),
            "is not set by the command line's trainer.profiler=",
        ),
    ],
)
def test_profiler_keys_hydra_cannot_set_are_refused(arguments, words):
    from lossbench.entry_keys import unknown_profiler_key

    refusal = unknown_profiler_key(arguments[-1], arguments, config_dir())
    assert refusal is not None and words in refusal, refusal


def test_only_the_debug_options_set_a_profiler_node():
    """:func:`lossbench.entry_keys.unknown_profiler_key` reads ``trainer.profiler``'s node from
    the ``debug`` option chosen: no other config file may set it."""
    import yaml

    setting = sorted(
        str(path.relative_to(config_dir()))
        for path in config_dir().rglob("*.yaml")
        if "profiler" in ((yaml.safe_load(path.read_text()) or {}).get("trainer") or {})
    )
    assert setting == ["debug/profiler.yaml"]


def test_the_needed_groups_are_the_schemas_fields_without_a_default() -> None:
    import dataclasses

    without_default = {f.name for f in dataclasses.fields(TrainConfig) if f.default == "???"}
    assert set(NEEDED_GROUPS) == without_default
    assert set(NEEDED_SETTINGS) < {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize("key", [*NEEDED_SETTINGS, *NEEDED_GROUPS])
def test_removing_a_needed_setting_is_refused_with_what_to_give_instead(key) -> None:
    refusal = removed_setting(f"~{key}", {"trainer": ["ddp", "default"]}, "lossbench-train")
    assert refusal is not None and refusal.startswith(f"~{key} removes {key} from the config")


@pytest.mark.parametrize(
    "argument", ["~callbacks", "~logger", "~setup", "~callbacks.early_stopping", "~experiment"]
)
def test_removing_what_a_run_can_do_without_is_left_to_hydra(argument) -> None:
    assert removed_setting(argument, {"experiment": ["compare_all"]}, "lossbench-train") is None


def test_null_or_a_second_option_of_each_group_is_refused() -> None:
    """``group=null`` for each group of train.yaml, and two options for each group that takes
    one, are refused before Hydra (which stopped with a traceback, or kept one silently)."""
    options = group_options([config_dir()])
    defaults = chosen_options([], config_dir())
    for group, valid in options.items():
        refusal = null_option(f"{group}=null", options, "lossbench-train", defaults=defaults)
        assert refusal is not None and f"Options of {group}: {', '.join(valid)}." in refusal
        fix = f"{group}=none" if "none" in valid else f"~{group}"
        if group in NEEDED_GROUPS and "none" not in valid:
            fix = f"{group}={defaults[group]} (train.yaml's default)"
        assert fix in refusal, refusal
    for group in ONE_CHOICE_GROUPS:
        first, second = options[group][0], options[group][-1]
        if first == second:
            continue  # one option (trainer, paths): the same twice is not a second one
        listed = f"{group}=[{first},{second}]"
        assert f"{group}={second}, or run each" in second_option(listed, [listed], options)
        line = [f"{group}={first}", f"+{group}={second}"]
        assert f"-m {group}={first},{second}" in second_option(line[1], line, options)
    for line in (["logger=[csv,mlflow]"], ["data=[iris]"], ["data=iris", "+logger.x.y=1"]):
        assert all(second_option(a, line, options) is None for a in line), line
