"""Hydra's own settings and the flags that choose the config, checked before Hydra starts: the
lines Hydra runs are left alone (the refusals themselves: ``test_refusals_cli.py``)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
from hydra.conf import HydraConf

from cli_process import run_module
from lossbench.config import TrainConfig
from lossbench.hydra_settings import (
    config_name_refusal,
    hydra_setting_refusal,
    package_refusal,
)

TRAIN_KEYS = [field.name for field in dataclasses.fields(TrainConfig)]


@pytest.mark.parametrize(
    "argument",
    [
        "hydra.run.dir=outputs/runs/mine",
        "hydra.run.dir=.",
        "hydra.job.chdir=false",
        "hydra.sweep.dir=outputs/multiruns/mine",
        "hydra.sweep.subdir=${hydra.job.num}",
        "hydra.output_subdir=null",
        "++hydra.run.dir=mine",
        "+hydra.job.env_set.OMP_NUM_THREADS=1",
        "+hydra.callbacks.mine._target_=builtins.dict",
        "~hydra.callbacks.study_progress",
        "hydra.launcher.n_jobs=2",
        "+hydra.launcher.foo=1",  # the launcher's own check (hydra_callbacks)
        "hydra.sweeper.n_trials=10",
        "hydra.sweeper.params=null",  # a search of the command line's keys alone
        "~hydra.sweeper.params.seed",  # a key of the params without a dot
        '+hydra.sweeper.params.seed="0,1"',
        '+hydra.sweeper.params={loss.gamma_neg:"interval(0.0,5.0)"}',
        "hydra.job.config.override_dirname.exclude_keys=[seed]",
        "hydra.searchpath=[file://mine]",
        "hydra.verbose=true",
        "hydra/launcher=vectorized",
        "hydra.mode=MULTIRUN",
        "hydra.launcher.n_jobs=1,2",  # a swept hydra.* setting: lossbench.sweep_refusals
        "seed=1",
        "data.path=hydra.run.dir",
    ],
)
def test_settings_hydra_takes_are_not_refused(argument: str) -> None:
    assert hydra_setting_refusal(argument, "lossbench-train") is None


def _settings(schema: type, prefix: str = "hydra") -> list[str]:
    """Every setting of Hydra's schema reached through its dataclasses."""
    found = []
    hints = typing.get_type_hints(schema)
    for field in dataclasses.fields(schema):
        key = f"{prefix}.{field.name}"
        found.append(key)
        kind = hints[field.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = args[0] if len(args) == 1 else kind
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            found += _settings(kind, key)
    return found


def test_every_setting_of_hydras_schema_is_a_setting() -> None:
    """The walk follows Hydra's schema as it is (a new Hydra release's settings too)."""
    settings = _settings(HydraConf)
    assert "hydra.job.config.override_dirname.kv_sep" in settings
    for key in settings:
        refusal = hydra_setting_refusal(f"++{key}=x", "lossbench-train")
        assert refusal is None or "has no setting" not in refusal, refusal


@pytest.mark.parametrize(
    ("command", "argument"),
    [
        ("lossbench-eval", "hydra.run.dir=."),
        ("lossbench-predict", "hydra.output_subdir=.hydra"),
        ("lossbench-predict", "+hydra.sweep.subdir=x"),
    ],
)
def test_checkpoint_commands_refuse_where_hydra_writes(command: str, argument: str) -> None:
    refusal = hydra_setting_refusal(argument, command)
    assert refusal is not None and f"{command} writes nothing but" in refusal


def test_an_empty_directory_is_refused_for_training_only() -> None:
    assert "is empty" in str(hydra_setting_refusal("hydra.run.dir=", "lossbench-train"))
    assert "is empty" in str(hydra_setting_refusal("hydra.run.dir=' '", "lossbench-train"))
    assert hydra_setting_refusal("hydra.run.dir=x", "lossbench-train") is None


@pytest.mark.parametrize(
    "line",
    [
        ["-cn", "train"],
        ["-cn", "train.yaml"],
        ["-cp", "/somewhere", "-cn", "eval"],  # a config of one's own, named like eval's
        ["data=iris"],
    ],
)
def test_primary_configs_hydra_finds_are_not_refused(line: list[str]) -> None:
    assert config_name_refusal(line, "lossbench-train") is None


@pytest.mark.parametrize(
    "line",
    [
        ["--cfg", "job", "-p", "optimizer"],
        ["--cfg", "job", "-p", "data.batch_size"],
        ["--cfg", "job", "-p", "_global_"],
        ["--cfg", "job", "+mine=1", "-p", "mine"],
        ["--cfg", "job", "++mine=1", "-p", "mine"],
        ["--cfg", "job", "+loss.foo=1", "-p", "loss.foo"],
        ["--cfg", "job", "++loss.foo=1", "-p", "loss"],
        ["--cfg", "hydra", "-p", "hydra.run.dir"],
        ["--cfg", "hydra", "-p", "hydra.launcher.n_jobs"],
        ["--cfg", "all", "-p", "hydra"],
        ["--cfg", "all", "-p", "seed"],
        ["--cfg", "job", "-cp", "/mine", "-cn", "mine", "-p", "anything"],
        ["-p", "optimizer"],  # without --cfg: flag_refusals
    ],
    ids=" ".join,
)
def test_packages_of_the_config_are_not_refused(line: list[str]) -> None:
    nested = {"data": ("batch_size", "path")}
    assert package_refusal(line, "lossbench-train", TRAIN_KEYS, nested) is None


def test_a_copy_of_train_yaml_under_cp_is_pointed_to_cd(tmp_path):
    """``-cp`` replaces lossbench's config folder, so a copy of train.yaml there cannot find
    the groups it chooses: refused with ``-cd``, which adds the folder to lossbench's."""
    folder = tmp_path / "mine"
    folder.mkdir()
    train_yaml = Path(__file__).resolve().parents[1] / "configs" / "train.yaml"
    (folder / "my_train.yaml").write_text(train_yaml.read_text(encoding="utf-8"), encoding="utf-8")
    cp = run_module("lossbench.train", "-cp", str(folder), "-cn", "my_train", cwd=tmp_path)
    assert cp.returncode == 2, cp.stderr
    assert f"-cp {folder} -cn my_train: the primary config chooses " in cp.stderr
    assert f"Use -cd {folder} -cn my_train instead" in cp.stderr
    assert "Traceback" not in cp.stderr and "HYDRA_FULL_ERROR" not in cp.stderr
    cd = run_module(
        "lossbench.train", "-cd", str(folder), "-cn", "my_train", "--cfg", "job", cwd=tmp_path
    )
    assert cd.returncode == 0 and "lossbench: refused" not in cd.stderr, cd.stderr


@pytest.mark.parametrize(
    ("added", "package", "shown"),
    [("++newtop=1", "newtop", "1"), ("+loss.foo=2", "loss.foo", "2")],
    ids=["force-added-top-level-key", "key-added-inside-a-group"],
)
def test_p_shows_a_key_added_on_the_command_line(tmp_path, added, package, shown):
    """``-p`` takes a key added with ``+`` or ``++``, at the top level or inside a group, as
    Hydra shows it."""
    cp = run_module("lossbench.train", "--cfg", "job", added, "-p", package, cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == shown and "lossbench: refused" not in cp.stderr
