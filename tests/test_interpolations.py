"""Values whose ``${...}`` cannot be worked out: refused before a run or a sweep writes.

The command-line refusals are rows of ``tests/test_refusals_cli.py`` (``*-interpolation``,
``value-environment-variable-unset``); here the rules behind them.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from lossbench.errors import ConfigError
from lossbench.hydra_callbacks import sweep_jobs
from lossbench.hydra_settings import hydra_setting_refusal
from lossbench.interpolations import (
    check_interpolations,
    check_swept_interpolations,
    interpolation_refusal,
)


def _parsed(*overrides: str) -> list:
    return OverridesParser.create().parse_overrides(list(overrides))


def test_values_that_resolve_pass_and_hydra_s_node_is_not_read() -> None:
    config = OmegaConf.create(
        {"seed": 3, "data": {"split_seed": "${seed}"}, "hydra": {"x": "${nosuch}"}}
    )
    check_interpolations(config)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"seed": "${nosuch}"}, "seed=${nosuch} interpolates nosuch, which the config does not"),
        ({"data": {"split_seed": "${seed}"}}, "data.split_seed=${seed} interpolates seed"),
        ({"loss": {"weight": [1, "${w}"]}}, "loss.weight[1]=${w} interpolates w"),
        (
            {"lr": "${oc.env:LOSSBENCH_UNSET_VARIABLE}"},
            "lr reads the environment variable LOSSBENCH_UNSET_VARIABLE, which is not set",
        ),
        ({"lr": "${nosuch_resolver:1}"}, "lr cannot be worked out: Unsupported interpolation"),
    ],
    ids=["missing-key", "chain", "list-entry", "environment", "resolver"],
)
def test_a_value_that_cannot_be_resolved_is_refused(config: dict, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_interpolations(OmegaConf.create(config))
    assert words in str(refused.value)


class _Colour(enum.Enum):
    red = 1


@dataclass
class _Typed:
    """A run's config as Hydra hands it to a callback: typed keys at its root, Hydra's node."""

    seed: int = 0
    lr: float = 0.1
    enabled: bool = False
    colour: _Colour = _Colour.red


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("seed", "could not be converted to Integer"),
        ("lr", "could not be converted to Float"),
        ("enabled", "is not a valid bool"),
        ("colour", "expected one of [red]"),
    ],
    ids=["int", "float", "bool", "enum"],
)
def test_a_value_that_does_not_fit_its_key_s_type_is_refused(key: str, words: str) -> None:
    config = OmegaConf.structured(_Typed)
    with open_dict(config):
        config.hydra = {"run": {"dir": "."}}
    config[key] = "${oc.env:LOSSBENCH_UNSET_VARIABLE,maybe}"
    with pytest.raises(ConfigError) as refused:
        check_interpolations(config)
    assert f"{key}=${{oc.env:LOSSBENCH_UNSET_VARIABLE,maybe}}: {key} cannot be worked out" in str(
        refused.value
    )
    assert words in str(refused.value)


def test_the_refusal_names_the_override_the_user_typed() -> None:
    given = ["data=wine", "seed=$\\{nosuch\\}"]  # how Hydra's sweeper hands a job its value
    message = interpolation_refusal(
        "seed", "${nosuch}", "Interpolation key 'nosuch' not found", given
    )
    assert message.startswith("seed=${nosuch} interpolates nosuch")
    from_file = interpolation_refusal(
        "data.split_seed", "${x}", "Interpolation key 'x' not found", given
    )
    assert from_file.startswith("data.split_seed=${x} (in the config) interpolates x")


def test_a_key_a_multirun_adds_by_sweeping_it_is_left_to_the_jobs() -> None:
    config = OmegaConf.create({"seed": "${x}"})  # -m +x=1,2 seed=${x}: x comes with each job
    check_interpolations(config, swept=["+x"])
    with pytest.raises(ConfigError, match="interpolates x"):
        check_interpolations(config, swept=["y"])


def test_a_swept_value_that_cannot_be_resolved_refuses_the_sweep() -> None:
    config = OmegaConf.create({"seed": 0, "optimizer": {"lr": 0.1, "weight_decay": 0.0}})
    check_swept_interpolations(config, _parsed("seed=0,1", "optimizer.weight_decay=${seed},0"))
    check_swept_interpolations(config, _parsed("+x=1,2", "seed=${x},3"))
    with pytest.raises(ConfigError) as refused:
        check_swept_interpolations(config, _parsed("seed=${nosuch},1"))
    assert str(refused.value).startswith("seed=${nosuch} (in seed=${nosuch},1) interpolates nosuch")


def test_a_sweep_with_an_interpolating_override_is_counted() -> None:
    """The study's progress line needs the number of jobs: an override's ``${...}`` was resolved
    while counting them, and where it failed the sweep ran without a progress line."""
    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {"params": None},
                "overrides": {"task": ["seed=0,1,2", "optimizer.weight_decay=${seed}"]},
            }
        }
    )
    assert sweep_jobs(config) == 3


def test_a_job_of_a_sweep_records_the_refusal(make_cfg, tmp_path: Path) -> None:
    """A job whose own value cannot be resolved is recorded as refused (seed unknown), and the
    sweep goes on."""
    from lossbench.training import train

    record = train(make_cfg("seed=${nosuch}"), tmp_path / "job", multirun=True)
    written = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert (written["status"], written["refused"], written["seed"]) == ("failed", True, None)
    # (its overrides are the running Hydra job's: here none, or another test's)
    assert written["error"].startswith("seed=${nosuch}")
    assert "interpolates nosuch, which the config does not have" in written["error"]
    assert written["error"] == record["error"] and written["data"] == "breast_cancer"


@pytest.mark.parametrize(
    "argument",
    ["~hydra.callbacks.study_progress", "+hydra.callbacks.mine._target_=my.Callback"],
)
def test_other_callbacks_may_be_removed_or_added(argument: str) -> None:
    assert hydra_setting_refusal(argument, "lossbench-train") is None


def test_a_value_that_reads_hydra_s_config_is_left_to_the_job_and_the_rest_still_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``${hydra:job.name}`` resolves only once Hydra has set its config for the job: before
    that (a single run's check, a multirun's start) it is skipped, and the values after it are
    still checked; so are the values after one that interpolates a swept key."""
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # as before Hydra sets it for a job
    check_interpolations(OmegaConf.create({"study_name": "${hydra:job.name}"}))
    with pytest.raises(ConfigError, match=r"lr=.*interpolates nosuch"):
        check_interpolations(OmegaConf.create({"a": "${hydra:job.num}", "lr": "${nosuch}"}))
    with pytest.raises(ConfigError, match=r"lr=.*interpolates nosuch"):
        check_interpolations(OmegaConf.create({"a": "${x}", "lr": "${nosuch}"}), swept=["+x"])
