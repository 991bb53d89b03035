"""A grid sweep's key set again under another key element after its sweep
(:func:`lossbench.sweep_conflicts.overridden_sweep`, checked as a multirun starts).

Hydra's basic sweeper and lossbench's key an override by its key element: ``optimizer.lr`` and
``++optimizer.lr`` are two keys to them. ``'optimizer.lr=0.1,0.01' ++optimizer.lr=0.5`` ran two
jobs, each given its swept value and then 0.5, so both trained at 0.5 while multirun.yaml, the
launch log and the report named 0.1 and 0.01; so did a swept ``++key`` beside a fixed ``key``,
and a key swept under two elements (four jobs, each at the ``++`` value). Now such a sweep is
refused before any job starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import open_dict, read_write

from cli_process import refused_line, run_console
from lossbench.hydra_callbacks import ValidateBeforeRun
from lossbench.override_grammar import override_parser
from lossbench.sweep_conflicts import grid_order, overridden_sweep, overriding_pairs
from multirun_configs import multirun_config

#: The study configs' grid of learning rates (configs/experiment/compare_*.yaml).
GRID = "0.001,0.003,0.01,0.03"
#: Arguments of a short grid: iris, one epoch, no logger.
QUICK = ("data=iris", "trainer.max_epochs=1", "logger=none")


@pytest.mark.parametrize(
    ("params", "arguments", "words"),
    [
        ({}, ["optimizer.lr=0.1,0.01", "++optimizer.lr=0.5"],
         ["++optimizer.lr=0.5 sets optimizer.lr, but optimizer.lr=0.1,0.01 sweeps it",
          "(++optimizer.lr and optimizer.lr are two keys to it)",
          "(optimizer.lr=<swept>, then ++optimizer.lr=0.5): every job would train at "
          "optimizer.lr=0.5 while its overrides", "name the swept value",
          "Give optimizer.lr=0.5 in place of optimizer.lr=0.1,0.01 and ++optimizer.lr=0.5 (one "
          "key element: it takes the sweep's place)", "or leave ++optimizer.lr=0.5 out to sweep "
          "optimizer.lr as optimizer.lr=0.1,0.01 does", "Valid: each key once per sweep"]),
        ({}, ["++optimizer.lr=0.1,0.01", "optimizer.lr=0.5"],
         ["optimizer.lr=0.5 sets optimizer.lr, but ++optimizer.lr=0.1,0.01 sweeps it",
          "Give ++optimizer.lr=0.5 in place of ++optimizer.lr=0.1,0.01 and optimizer.lr=0.5"]),
        ({}, ["optimizer.lr=0.1,0.01", "++optimizer.lr=0.5,0.2"],
         ["++optimizer.lr=0.5,0.2 sweeps optimizer.lr, but optimizer.lr=0.1,0.01 sweeps it as "
          "well", "every job would train at the ++optimizer.lr value",
          "Give optimizer.lr=0.5,0.2 in place of optimizer.lr=0.1,0.01 and "
          "++optimizer.lr=0.5,0.2"]),
        ({"optimizer.lr": GRID}, ["++optimizer.lr=0.5"],
         [f"but hydra.sweeper.params (optimizer.lr: {GRID}) sweeps it",
          "Give optimizer.lr=0.5 in place of ++optimizer.lr=0.5 (one key element: it takes the "
          "sweep's place)", "sweep optimizer.lr as hydra.sweeper.params does"]),
        # a value of the params, which the command line cannot remove
        ({"seed": "0,1", "optimizer.lr": GRID, "++optimizer.lr": "0.5"}, [],
         ["hydra.sweeper.params (++optimizer.lr: 0.5) sets optimizer.lr",
          "Sweep without ++optimizer.lr of hydra.sweeper.params", "to keep the other keys, add: "
          f"hydra.sweeper.params=null seed=0,1 optimizer.lr={GRID}"]),
    ],
    ids=["forced-beside-sweep", "fixed-beside-forced-sweep", "swept-twice",
         "forced-beside-param", "forced-param-beside-param"],
)  # fmt: skip
def test_a_key_set_again_after_its_sweep_is_refused(params, arguments, words) -> None:
    """Each says what was given, that every job trains at the later value while its overrides
    name the swept one, and both fixes."""
    message = overridden_sweep(params, arguments)
    assert message is not None
    for expected in words:
        assert expected in message, message


@pytest.mark.parametrize(
    ("params", "arguments"),
    [
        ({"optimizer.lr": GRID}, ["optimizer.lr=0.5"]),  # the same element: in the sweep's place
        ({}, ["optimizer.lr=0.1,0.01", "optimizer.lr=0.5"]),
        ({}, ["++optimizer.lr=0.5", "optimizer.lr=0.1,0.01"]),  # the sweep comes later: it wins
        ({}, ["optimizer.lr=0.1,0.01", "+optimizer.lr=0.5"]),  # Hydra's (or lossbench's) refusal
        ({}, ["optimizer.lr=0.1,0.01", "~optimizer.lr"]),  # a removal sets nothing
        ({"optimizer.lr": GRID, "seed": "0,1"}, ["++loss.gamma=2", "data=iris,wine"]),
    ],
    ids=["same-element", "same-element-given-twice", "fixed-before-sweep", "added", "removed",
         "other-keys"],
)  # fmt: skip
def test_a_sweep_with_each_key_under_one_element_is_let_through(params, arguments) -> None:
    assert overridden_sweep(params, arguments) is None


def test_a_grid_gives_each_job_one_override_per_key_element_where_it_first_comes() -> None:
    order = grid_order({"optimizer.lr": GRID}, ["++optimizer.lr=0.5", "optimizer.lr=0.1"])
    assert [o.input_line for o in order] == ["optimizer.lr=0.1", "++optimizer.lr=0.5"]


def test_pairs_name_the_first_sweep_of_a_key_and_each_later_setting_of_it() -> None:
    job = override_parser().parse_overrides(
        ["seed=0,1", "optimizer.lr=0.1,0.2", "++optimizer.lr=0.5", "+seed=3", "~seed"]
    )
    pairs = [(a.input_line, b.input_line) for a, b in overriding_pairs(job)]
    assert pairs == [("optimizer.lr=0.1,0.2", "++optimizer.lr=0.5"), ("seed=0,1", "+seed=3")]


@pytest.mark.parametrize(
    ("fixed", "swept"),
    [
        ((), ("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5")),
        (("hydra/launcher=vectorized",), ("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5")),
        (("hydra/launcher=parallel",), ("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5")),
        (("hydra/sweeper=lossbench",), ("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5,0.2")),
    ],
    ids=["basic", "vectorized", "parallel", "lossbench-sweeper-swept-twice"],
)  # fmt: skip
def test_the_multirun_check_refuses_it_with_any_grid_sweeper_and_launcher(
    fixed, swept, capsys
) -> None:
    """The check as a multirun starts, on the multirun's own config (Hydra's composition)."""
    message = _multirun_refusal(multirun_config((*QUICK, *fixed), swept), capsys)
    assert "every job would train at" in message, message


def test_the_multirun_check_refuses_a_study_param_set_again_on_the_command_line(capsys) -> None:
    cfg = multirun_config(("experiment=compare_binary", "++optimizer.lr=0.5"))
    assert _multirun_refusal(cfg, capsys).startswith(
        f"++optimizer.lr=0.5 sets optimizer.lr, but hydra.sweeper.params (optimizer.lr: {GRID}) "
        "sweeps it"
    )


def test_the_multirun_check_refuses_a_study_params_own_second_setting(capsys) -> None:
    """A study config whose params sweep ``optimizer.lr`` and set ``++optimizer.lr``."""
    cfg = multirun_config(("experiment=compare_binary",))
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.sweeper.params["++optimizer.lr"] = "0.5"
    message = _multirun_refusal(cfg, capsys)
    assert "Sweep without ++optimizer.lr of hydra.sweeper.params" in message, message


def _multirun_refusal(cfg, capsys) -> str:
    """The refusal (exit 2) of the multirun check of ``cfg``, as the command prints it."""
    with pytest.raises(SystemExit) as stop:
        ValidateBeforeRun().on_multirun_start(cfg)
    assert stop.value.code == 2
    return capsys.readouterr().err.removeprefix("lossbench: refused: ").strip()


def _job_rates(sweep_dir: Path) -> list[float]:
    """The learning rate each job's saved config trained with, in the jobs' order."""
    configs = sorted(sweep_dir.rglob("config.yaml"), key=str)
    configs = [c for c in configs if ".hydra" not in c.parts]
    return sorted(yaml.safe_load(c.read_text())["optimizer"]["lr"] for c in configs)


@pytest.mark.slow  # lossbench-train -m processes: a refused sweep, then the advised one trains
@pytest.mark.parametrize(
    ("given", "advised", "rates"),
    [
        (("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5"), ("optimizer.lr=0.5",), [0.5]),
        (("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5,0.2"), ("optimizer.lr=0.5,0.2",),
         [0.2, 0.5]),
        (("optimizer.lr=0.1,0.01", "++optimizer.lr=0.5"), ("optimizer.lr=0.1,0.01",),
         [0.01, 0.1]),
    ],
    ids=["forced-beside-sweep", "swept-twice", "left-out"],
)  # fmt: skip
def test_a_grid_is_refused_and_the_advised_one_trains_each_job_at_its_value(
    tmp_path: Path, given: tuple[str, ...], advised: tuple[str, ...], rates: list[float]
) -> None:
    """The refused sweep writes nothing; the advised one exits 0 and each job's config holds
    the value its overrides name."""
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", *QUICK, "hydra.sweep.dir=sweep")
    message = refused_line(run_console("train", *line, *given, cwd=tmp_path, extra_env=env))
    assert "every job would train at" in message, message
    assert f"Give {advised[0]}" in message or f"leave {given[-1]} out" in message, message
    assert list(tmp_path.iterdir()) == []  # nothing written

    result = run_console("train", *line, *advised, cwd=tmp_path, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _job_rates(tmp_path / "sweep") == rates


def test_a_study_with_its_swept_key_forced_is_refused_before_any_job(tmp_path: Path) -> None:
    result = run_console(
        "train", "-m", "experiment=compare_binary", "study=quick", "++optimizer.lr=0.5",
        "hydra.sweep.dir=study", cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    message = refused_line(result)
    assert f"but hydra.sweeper.params (optimizer.lr: {GRID}) sweeps it" in message, message
    assert "Give optimizer.lr=0.5 in place of ++optimizer.lr=0.5" in message, message
    assert list(tmp_path.iterdir()) == []  # nothing written
