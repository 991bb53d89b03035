"""The search check (:func:`lossbench.search_check.check_search`) composes each trial as
Hydra's Optuna sweeper runs it: the sweeper keys an override by its key element (``~key``,
``+key``, ``++key`` are keys of their own, none replaces a searched ``key``), so a trial gets
both the searched value and the command line's ``~key`` or ``+key``, the searched one first.

A ``~key=value`` beside a searched ``key`` then fails in each trial that samples another value,
and a ``+key=...`` in each trial: both are refused before any trial runs, with what to type
instead, and the advised command lines run."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from omegaconf import open_dict, read_write

from cli_process import refused_line, run_console
from lossbench.errors import ConfigError
from lossbench.search_check import check_search, trial_overrides
from multirun_configs import QUICK_SEARCH, multirun_config
from test_refusals_cli import SEARCH_OF_A_REMOVABLE_KEY

#: A removable key (not a schema's), ModelSummary's max_depth: 1 in the callbacks' config.
DEPTH = "callbacks.model_summary.max_depth"


@pytest.mark.parametrize(
    ("params", "arguments", "trials"),
    [
        ({DEPTH: "choice(2, 3)"}, [f"~{DEPTH}"],
         [[f"{DEPTH}=2", f"~{DEPTH}"], [f"{DEPTH}=3", f"~{DEPTH}"]]),
        ({"loss.gamma": "interval(0.0, 5.0)"}, ["+loss.gamma=2"],
         [["loss.gamma=2.5", "+loss.gamma=2"]]),
        ({"loss.gamma": "choice(1, 2)"}, ["++loss.gamma=3"],
         [["loss.gamma=1", "++loss.gamma=3"], ["loss.gamma=2", "++loss.gamma=3"]]),
        ({"loss.gamma": "interval(0.0, 5.0)"}, ["loss.gamma=2"], [["loss.gamma=2"]]),
        # the sweeper runs the searched keys' values first, then the fixed ones
        ({}, ["data=iris", "loss.gamma=choice(1, 2)"],
         [["loss.gamma=1", "data=iris"], ["loss.gamma=2", "data=iris"]]),
    ],
    ids=["removed", "added", "forced", "fixed", "searched-first"],
)  # fmt: skip
def test_the_trials_hold_a_searched_key_beside_its_removal_or_addition(
    params, arguments, trials
) -> None:
    """Each trial holds what the sweeper gives it: the searched value and then ``~key``,
    ``+key`` or ``++key`` (each a key of its own to the sweeper); only ``key=value`` replaces
    the searched ``key``."""
    assert trial_overrides(params, arguments) == trials


def _search_config(fixed: tuple[str, ...], swept: tuple[str, ...] = (), **params: str):
    """The multirun config of an Optuna search of focal's settings (``hparams_search=
    optuna_focal``) with ``fixed`` and ``swept`` overrides, and ``params`` (dots written as
    ``__``) added to its ``hydra.sweeper.params``."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = multirun_config(("hparams_search=optuna_focal", *fixed), swept)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        for key, value in params.items():
            cfg.hydra.sweeper.params[key.replace("__", ".")] = value
    return cfg


def _refusal(cfg) -> str:
    with pytest.raises(ConfigError) as refused:
        check_search(cfg)
    return str(refused.value)


@pytest.mark.parametrize("values", ["choice(2, 3)", "choice(1, 2)"], ids=["without", "with"])
def test_a_removal_at_a_value_beside_its_searched_key_is_refused(values: str) -> None:
    """``~key=1`` beside a search of ``key`` removes it only in trials that sample 1: the others
    fail (Hydra's "Could not delete from config"). Before, the check composed ``~key=1`` alone
    and let the search start, whose trials then failed; with 1 among the values, at whichever
    trial first samples another."""
    cfg = _search_config(("data=iris", f"~{DEPTH}=1"), callbacks__model_summary__max_depth=values)
    message = _refusal(cfg)
    assert message.startswith(
        f"~{DEPTH}=1 removes {DEPTH} only where its value is 1, but hydra.sweeper.params "
        f"searches it ({DEPTH}: {values})"
    ), message
    assert f"Leave '~{DEPTH}=1' out to search {DEPTH}" in message, message
    assert "add: hydra.sweeper.params=null 'optimizer.lr=" in message, message
    assert f"'{DEPTH}=" not in message  # the searched key is left out of the advised search


def test_a_plain_removal_beside_its_searched_key_is_composed_and_accepted() -> None:
    """``~key`` removes the key whatever the sampled value: each trial composes."""
    check_search(
        _search_config(
            ("data=iris", f"~{DEPTH}"), callbacks__model_summary__max_depth="choice(2, 3)"
        )
    )


def test_a_searched_addition_beside_its_searched_key_is_refused_with_the_key_without_plus() -> None:
    """``+loss.gamma=interval(1.0,2.0)`` beside the search's own loss.gamma: each trial sets
    gamma and then adds it again. The refusal says so and advises the range without the +;
    before, it advised choosing settings under which every searched key exists, and Hydra's
    ``++`` (which would search a gamma no trial trains with)."""
    message = _refusal(_search_config(("data=iris",), ("+loss.gamma=interval(1.0,2.0)",)))
    assert "Could not append to config. An item is already at 'loss.gamma'" in message
    assert (
        "+loss.gamma=interval(1.0,2.0) adds loss.gamma, but hydra.sweeper.params searches it "
        "(loss.gamma: interval(0.0, 5.0)), and the sweeper gives each trial both, the search's "
        "value first (loss.gamma=2.5, then +loss.gamma=1.5)"
    ) in message, message
    assert "Give 'loss.gamma=interval(1.0,2.0)' (without the +)" in message, message
    for unwanted in ("Either remove + prefix", "++loss.gamma", "Choose settings under which"):
        assert unwanted not in message, message


def test_an_addition_of_a_searched_key_the_config_lacks_is_refused_as_a_lacked_key() -> None:
    """``+loss.gamma=2`` with loss=asl (no gamma) beside the search of loss.gamma: the trial's
    loss.gamma=<sampled> comes first and cannot be set. Refused as a searched key the config
    lacks, and the advice leaves ``+loss.gamma=2`` out too (it replaces nothing); before, the
    check composed ``+loss.gamma=2`` alone and refused each trial for asl's gamma=2."""
    message = _refusal(_search_config(("data=breast_cancer", "setup=logits_asl", "+loss.gamma=2")))
    assert "Could not override 'loss.gamma'" in message, message
    assert "loss.gamma is not a setting of loss=asl" in message, message
    assert "Leave +loss.gamma=2 out too" in message, message
    assert "takes a whole number" not in message, message


def _trial_configs(folder: Path) -> list[dict]:
    """The config of each trial of the search in ``folder``."""
    return [yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*/config.yaml"))]


@pytest.mark.slow  # lossbench-train -m processes: a refused search, then the advised one
@pytest.mark.parametrize(
    ("added", "words", "advised"),
    [
        ("+loss.gamma=2",
         "+loss.gamma=2 adds loss.gamma, but the config has loss.gamma already (a + adds only a "
         "key the config lacks): set it without the +, loss.gamma=2. In an Optuna search that "
         "samples loss.gamma",
         "loss.gamma=2"),
        ("+loss.gamma=interval(1.0,2.0)",
         "+loss.gamma=interval(1.0,2.0) adds loss.gamma, but hydra.sweeper.params searches it",
         "loss.gamma=interval(1.0,2.0)"),
    ],
    ids=["one-value", "range"],
)  # fmt: skip
def test_an_addition_of_a_searched_key_is_refused_and_the_advice_runs(
    tmp_path: Path, added: str, words: str, advised: str
) -> None:
    """Where the user meets it: exit 2, one message, no traceback, nothing written (before:
    Hydra's "Could not append to config", exit 1, advising ``++loss.gamma=2`` too); the command
    with the key given without its + runs, each trial at the value or in the range given."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", "hparams_search=optuna_focal", *QUICK_SEARCH)
    refused = run_console("train", *line, added, cwd=tmp_path, timeout=300, extra_env=env)
    message = refused_line(refused)
    assert words in message, message
    assert "++loss.gamma" not in message and "HYDRA_FULL_ERROR" not in refused.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert f"'{advised}'" in message or f" {advised}." in message, message
    result = run_console("train", *line, advised, cwd=tmp_path, timeout=300, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    gammas = [c["loss"]["gamma"] for c in _trial_configs(tmp_path / "search")]
    assert len(gammas) == 2 and all(1.0 <= g <= 2.0 for g in gammas), gammas


@pytest.mark.slow  # lossbench-train -m processes: a refused search, then the advised one
@pytest.mark.parametrize(
    ("setup", "words", "advised"),
    [
        ("setup=logits_focal",
         f"~{DEPTH}=1 removes {DEPTH} only where its value is 1, but hydra.sweeper.params "
         f"searches it ({DEPTH}: choice(1, 2))",
         "loss.gamma=interval(0.0, 5.0)"),
        # a searched key the config lacks comes first: its advice leaves max_depth's search out
        ("setup=logits_asl", "loss.gamma is not a setting of loss=asl",
         "loss.gamma_neg=interval(0.0, 5.0)"),
    ],
    ids=["removal", "removal-and-lacked-key"],
)  # fmt: skip
def test_a_removal_at_a_value_beside_a_searched_param_is_refused_and_the_advice_runs(
    tmp_path: Path, setup: str, words: str, advised: str
) -> None:
    """``-cd mine hparams_search=depth '~callbacks.model_summary.max_depth=1'``: refused
    (exit 2, one message, nothing written) before any trial; before, the check composed the
    removal alone and let the search start, whose trials failed where they sampled 2 (Hydra's
    "Could not delete from config", exit 1). The command with the advised overrides added
    searches the other keys and runs, max_depth removed in each trial."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    folder = tmp_path / "mine" / "hparams_search"
    folder.mkdir(parents=True)
    (folder / "depth.yaml").write_text(SEARCH_OF_A_REMOVABLE_KEY)
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", "-cd", "mine", "hparams_search=depth", setup, *QUICK_SEARCH, f"~{DEPTH}=1")
    refused = run_console("train", *line, cwd=tmp_path, timeout=300, extra_env=env)
    message = refused_line(refused)
    assert words in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing written
    added = shlex.split(message.split(", add: ", 1)[1])
    lr = "optimizer.lr=tag(log, interval(1e-4, 3e-2))"
    assert added == ["hydra.sweeper.params=null", lr, advised], added
    result = run_console("train", *line, *added, cwd=tmp_path, timeout=300, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    configs = _trial_configs(tmp_path / "search")
    assert len(configs) == 2, configs
    assert all("max_depth" not in c["callbacks"]["model_summary"] for c in configs), configs
    records = [json.loads(p.read_text()) for p in (tmp_path / "search").glob("*/metrics.json")]
    assert [r["status"] for r in records] == ["completed", "completed"]
