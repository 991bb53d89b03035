"""``--help`` lists the config groups a user chooses, with their options, and not the
``schema/`` groups the YAML files build on (:mod:`lossbench.help_groups`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_process import SRC, run_module
from lossbench.help_groups import config_groups, format_groups, keep_config_files
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


#: Run in a child: the checkpoint command's --help, noting whether Hydra's loader keeps its parsed
#: files each time Hydra lists the groups (each listing deep-copies the repository 182 times).
_LISTINGS = """
import sys

from hydra._internal.hydra import Hydra

from lossbench.config_cache import CachedConfigRepository

listed = []
listing = Hydra.format_config_groups


def format_config_groups(self, *args, **kwargs):
    listed.append(isinstance(self.config_loader.repository, CachedConfigRepository))
    return listing(self, *args, **kwargs)


Hydra.format_config_groups = format_config_groups
from lossbench.{module} import main

try:
    main()
finally:
    print(listed, file=sys.stderr)
"""


@pytest.mark.parametrize("module", ["evaluate", "predict"])
def test_checkpoint_commands_help_keeps_the_parsed_config_files(module: str, tmp_path) -> None:
    """Their templates list no groups, but Hydra lists them all anyway: ``${keep_config_files:}``
    makes its loader keep the files it parses first (3.6-4.1 s to 0.6-0.9 s)."""
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
    assert result.stdout.startswith("lossbench-"), result.stdout[:200]  # the resolver: nothing
    assert result.stderr.strip().splitlines()[-1] == "[True, True]", result.stderr[-2000:]


def test_keep_config_files_writes_nothing_outside_a_hydra_command() -> None:
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        pytest.skip("a Hydra context is set up in this process")
    assert keep_config_files() == ""


def test_format_groups_leaves_out_hydra_and_schema_and_escapes_dollars() -> None:
    text = format_groups({"b": ["y", "x"], "a/c": ["$z"], "hydra/launcher": ["basic"]})
    assert text == "a/c: $$z\nb: x, y\n"


def test_config_groups_outside_a_hydra_command_says_where_they_are_listed() -> None:
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        pytest.skip("a Hydra context is set up in this process")
    assert "lossbench-train --help" in config_groups()
