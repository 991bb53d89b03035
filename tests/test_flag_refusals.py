"""Hydra's flags that its parser reads but Hydra cannot run: refused before Hydra starts, and
the lines Hydra runs left alone (the refusals themselves: ``test_refusals_cli.py``, ``-flags``
rows)."""

from __future__ import annotations

import pytest
from hydra.core.plugins import Plugins
from hydra.plugins.completion_plugin import CompletionPlugin

from cli_process import run_module
from lossbench.flag_refusals import SHELLS, flag_refusal


def test_the_shells_are_those_hydra_completes() -> None:
    provided = {plugin(None).provides() for plugin in Plugins.instance().discover(CompletionPlugin)}
    assert set(SHELLS) == provided


@pytest.mark.parametrize(
    "line",
    [
        [],
        ["-m", "seed=0,1"],
        ["--run", "seed=1"],
        ["--cfg", "job", "-p", "optimizer"],
        ["--cfg", "all", "--resolve"],
        ["--info", "defaults"],
        ["--help", "-m"],
        ["--hydra-help"],
        ["--hydra-help", "hydra.job.chdir=true", "hydra/launcher=basic"],
        ["--help", "-p", "optimizer"],
        ["-sc", "install=bash"],
        ["-sc", "uninstall=zsh"],
        ["-sc", "query=fish"],
    ],
    ids=lambda line: " ".join(line) or "no-flags",
)
def test_lines_hydra_runs_are_not_refused(line: list[str], monkeypatch) -> None:
    monkeypatch.setenv("COMP_LINE", "lossbench-train ")  # a query: as the shell's script sets it
    assert flag_refusal(line, "lossbench-train") is None


def test_completion_query_without_the_line_is_refused(monkeypatch) -> None:
    monkeypatch.delenv("COMP_LINE", raising=False)
    refusal = flag_refusal(["-sc", "query=zsh"], "lossbench-eval")
    assert refusal is not None and "which sets COMP_LINE" in refusal, refusal
    assert refusal.endswith('eval "$(lossbench-eval -sc install=zsh)"'), refusal


def test_shell_completion_installs_and_completes() -> None:
    """``-sc install=bash`` prints the script, and a completion query answers from lossbench's
    configs: what ``eval "$(lossbench-train -sc install=bash)"`` sets up."""
    installed = run_module("lossbench.train", "-sc", "install=bash", timeout=120)
    assert installed.returncode == 0, installed.stderr
    assert "complete -o nospace" in installed.stdout
    query = run_module(
        "lossbench.train",
        "-sc",
        "query=bash",
        extra_env={"COMP_LINE": "lossbench-train optimizer.l"},
        timeout=120,
    )
    assert query.returncode == 0, query.stderr
    assert query.stdout.split() == ["optimizer.lr="]


@pytest.mark.parametrize(
    ("line", "start"),
    [
        (["--no-such-flag"], "--no-such-flag is not a flag of lossbench-train. Its flags:"),
        (["--multirn", "seed=0,1"], "--multirn is not a flag of lossbench-train. Did you mean"),
        (["--seed=1"], "--seed=1: settings and groups are given without dashes"),
        (["--optimizer.lr", "0.1"], "--optimizer.lr: settings and groups are given without"),
        (["--cfg", "jobs"], "argument --cfg/-c: invalid choice: 'jobs'"),
    ],
)
def test_lines_hydra_s_parser_refuses_get_one_refusal(line: list[str], start: str) -> None:
    """What Hydra's parser would answer with its usage text: a setting given with dashes gets
    the ``key=value`` to give, a misspelt flag the closest one."""
    refusal = flag_refusal(line, "lossbench-train", ["seed", "optimizer", "data"])
    assert refusal is not None and refusal.startswith(start), refusal
    if line[0] == "--optimizer.lr":
        assert "optimizer.lr=0.1" in refusal


@pytest.mark.parametrize("module", ["lossbench.train", "lossbench.evaluate", "lossbench.predict"])
def test_version_prints_hydra_s_line_once(module: str) -> None:
    """``--version`` prints Hydra's version line as Hydra does, once: the checks that parse the
    command line before Hydra starts print nothing (each printed it, ten lines in all)."""
    result = run_module(module, "--version", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Hydra ") and result.stdout.count("\n") == 1, result.stdout
    assert result.stderr == ""
