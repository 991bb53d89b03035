"""``--help`` lists the config groups a user chooses, with their options, and not the
``schema/`` groups the YAML files build on (:mod:`lossbench.help_groups`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_process import SRC, run_module
from lossbench.help_groups import config_groups, format_groups
from lossbench.train import config_dir


def shipped_groups() -> dict[str, list[str]]:
    """Each folder of ``configs/`` holding YAML files (but Hydra's own, ``configs/hydra/``):
    its group path and option names."""
    root = config_dir()
    groups = {}
    for folder in sorted(path for path in root.rglob("*") if path.is_dir()):
        group = folder.relative_to(root).as_posix()
        options = sorted(path.stem for path in folder.glob("*.yaml"))
        if options and group.split("/")[0] != "hydra":
            groups[group] = options
    return groups


def test_train_help_lists_every_user_group_with_its_options_and_no_schema(tmp_path) -> None:
    result = run_module("lossbench.train", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    groups = shipped_groups()
    assert {"data", "head", "loss", "model", "setup", "experiment"} <= set(groups)
    for group, options in groups.items():
        assert f"{group}: {', '.join(options)}" in lines, group
    assert [line for line in lines if line.startswith("schema/")] == []
    assert [line for line in lines if line.startswith("hydra/")] == []
    # the rest of Hydra's help: the header, the config to override, the footer
    assert lines[0].startswith("lossbench-train: train one classifier"), lines[0]
    for kept in ("== Configuration groups ==", "== Config ==", "Use --hydra-help"):
        assert any(line.startswith(kept) for line in lines), kept
    assert "Override anything in the config (foo.bar=value)" in lines
    assert "  name: breast_cancer" in lines  # the composed config, data first


def test_train_help_lists_a_config_dirs_own_groups(tmp_path) -> None:
    (tmp_path / "proj" / "mine").mkdir(parents=True)
    (tmp_path / "proj" / "mine" / "a.yaml").write_text("x: 1\n")
    (tmp_path / "proj" / "exp.yaml").write_text("defaults: [train, _self_]\n")
    result = run_module("lossbench.train", "-cd", "proj", "-cn", "exp", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mine: a" in result.stdout.splitlines()
    assert "\nschema/" not in result.stdout


@pytest.mark.parametrize(
    ("module", "command"),
    [("lossbench.evaluate", "lossbench-eval"), ("lossbench.predict", "lossbench-predict")],
)
def test_checkpoint_commands_help_lists_no_schema(module: str, command: str, tmp_path) -> None:
    result = run_module(module, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"{command}: "), result.stdout[:200]
    assert "schema/" not in result.stdout


def test_predict_help_lists_only_the_settings_it_reads(tmp_path) -> None:
    """The CSV schema's keys (label columns, task, splits) are not read by prediction: its help
    does not print them as settings to give (``???`` reads as required)."""
    result = run_module("lossbench.predict", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for key in ("data.path=", "data.delimiter=", "ckpt_path=", "out="):
        assert key in result.stdout, key
    for unused in ("label_columns", "task:", "split_seed", "val_fraction", "???"):
        assert unused not in result.stdout, unused


#: Run in a child: the checkpoint command's --help, noting the groups Hydra lists each time it
#: lists them (for any template, used or not).
_LISTINGS = """
import sys

from hydra._internal.hydra import Hydra

listed = []
listing = Hydra.format_config_groups


def format_config_groups(self, *args, **kwargs):
    listed.append(sorted(self.config_loader.list_groups("")))
    return listing(self, *args, **kwargs)


Hydra.format_config_groups = format_config_groups
from lossbench.{module} import main

try:
    main()
finally:
    print(listed, file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("module", "groups"), [("evaluate", ["hydra"]), ("predict", ["data", "hydra"])]
)
def test_checkpoint_commands_help_finds_only_their_own_groups(
    module: str, groups: list[str], tmp_path
) -> None:
    """Their templates list no groups, but Hydra lists every group it finds anyway: each
    composes from a config folder of its own, with none of training's groups nor schemas."""
    result = subprocess.run(
        [sys.executable, "-c", _LISTINGS.format(module=module), "--help"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("lossbench-"), result.stdout[:200]
    listings = result.stderr.strip().splitlines()[-1]
    assert listings == repr([groups, groups]), result.stderr[-2000:]


def test_format_groups_leaves_out_hydra_and_schema_and_escapes_dollars() -> None:
    text = format_groups({"b": ["y", "x"], "a/c": ["$z"], "hydra/launcher": ["basic"]})
    assert text == "a/c: $$z\nb: x, y\n"


def test_config_groups_outside_a_hydra_command_says_where_they_are_listed() -> None:
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        pytest.skip("a Hydra context is set up in this process")
    assert "lossbench-train --help" in config_groups()


@pytest.mark.parametrize(
    ("module", "settings"),
    [
        ("lossbench.evaluate", ("ckpt_path", "config", "data_path", "split", "out", "accelerator")),
        ("lossbench.predict", ("ckpt_path", "data", "data.path", "data.delimiter", "out")),
    ],
)
def test_checkpoint_commands_help_says_what_each_setting_does(
    module: str, settings: tuple[str, ...], tmp_path
) -> None:
    """A refusal of a setting points to ``--help`` for what each setting does: it describes
    each, one line starting ``  <key>=``, and every setting of the command's schema is one."""
    import dataclasses

    from lossbench.evaluate import EvalConfig
    from lossbench.predict import PredictConfig

    schema = EvalConfig if module == "lossbench.evaluate" else PredictConfig
    assert {f.name for f in dataclasses.fields(schema)} <= set(settings)
    result = run_module(module, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    described = {
        line.split()[0].split("=")[0]
        for line in result.stdout.splitlines()
        if line.startswith("  ") and not line.startswith("   ") and "=" in line.split()[0]
    }
    assert set(settings) <= described, result.stdout
