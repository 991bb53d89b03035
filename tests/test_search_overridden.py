"""A fixed value beside a search of the same key under another key element
(:func:`lossbench.search_conflicts.overridden_search`, run by the search check).

Hydra's Optuna sweeper keys an override by its key element: ``optimizer.lr`` and
``++optimizer.lr`` are two keys to it, so ``++optimizer.lr=0.01`` beside a search of
``optimizer.lr`` does not take the key out of the search. Each trial is given the sampled value
and then the fixed one, and trains at the fixed one, while Optuna records the sampled value and
reports one as the best. The same the other way round: a search of ``++loss.gamma`` beside
``loss.gamma=2``; and with two searches of one key, ``'++loss.gamma=interval(1,2)'`` beside the
params' ``loss.gamma``: the sweeper samples both, each trial trains at the later one, and Optuna
records the other, a dimension no trial uses. Before, such a search ran to its end and reported
a best value no trial trained with; now it is refused before its first trial.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from omegaconf import open_dict, read_write

from cli_process import refused_line, run_console
from lossbench.errors import ConfigError
from lossbench.search_check import check_search
from lossbench.search_conflicts import conflict_fix, overridden_search, searched_twice
from multirun_configs import QUICK_SEARCH, multirun_config
from test_refusals_cli import SEARCH_OF_A_FORCED_KEY

#: hparams_search=optuna_focal's range of optimizer.lr, as its params write it.
LR = "tag(log, interval(1e-4, 3e-2))"


@pytest.mark.parametrize(
    ("params", "arguments", "words"),
    [
        ({"optimizer.lr": LR}, ["++optimizer.lr=0.01"],
         ["++optimizer.lr=0.01 sets optimizer.lr, but hydra.sweeper.params searches it "
          f"(optimizer.lr: {LR}), and the sweeper keys an override by its key element "
          "(++optimizer.lr and optimizer.lr are two keys to it)",
          "(optimizer.lr=<sampled>, then ++optimizer.lr=0.01): every trial would train at "
          "optimizer.lr=0.01 while the search records the sampled value",
          "To fix optimizer.lr, give optimizer.lr=0.01 in place of ++optimizer.lr=0.01",
          "to search it, leave ++optimizer.lr=0.01 out."]),
        ({}, ["optimizer.lr=interval(1e-4,1e-2)", "++optimizer.lr=0.01"],
         ["++optimizer.lr=0.01 sets optimizer.lr, but 'optimizer.lr=interval(1e-4,1e-2)' "
          "searches it", "give optimizer.lr=0.01 in place of ++optimizer.lr=0.01"]),
        ({"++loss.gamma": "interval(0.0, 5.0)"}, ["loss.gamma=2"],
         ["loss.gamma=2 sets loss.gamma, but hydra.sweeper.params searches it (++loss.gamma: "
          "interval(0.0, 5.0))", "(++loss.gamma=<sampled>, then loss.gamma=2)",
          "give ++loss.gamma=2 in place of loss.gamma=2", "leave loss.gamma=2 out."]),
        ({}, ["+loss.alpha=interval(0.1,0.9)", "++loss.alpha=0.5"],
         ["++loss.alpha=0.5 sets loss.alpha, but '+loss.alpha=interval(0.1,0.9)' searches it",
          "give +loss.alpha=0.5 in place of ++loss.alpha=0.5"]),
        # a fixed value of the params: the command line cannot remove it
        ({"optimizer.lr": LR, "++loss.gamma": "2"}, ["loss.gamma=interval(1,2)"],
         ["hydra.sweeper.params (++loss.gamma: 2) sets loss.gamma, but "
          "'loss.gamma=interval(1,2)' searches it", "To fix loss.gamma, leave "
          "'loss.gamma=interval(1,2)' out; to search it, search without ++loss.gamma; to keep "
          f"the other keys, add: hydra.sweeper.params=null 'optimizer.lr={LR}'"]),
        ({"loss.gamma": "interval(1,2)", "++loss.gamma": "2"}, [],
         ["hydra.sweeper.params (++loss.gamma: 2) sets loss.gamma, but hydra.sweeper.params "
          "searches it (loss.gamma: interval(1,2))", "To fix loss.gamma, give loss.gamma=2 (the "
          "same key element: the sweeper then leaves loss.gamma out of its search); to search "
          "it, search without ++loss.gamma; to keep the other keys, add: "
          "hydra.sweeper.params=null 'loss.gamma=interval(1,2)'"]),
    ],
    ids=["forced-beside-param", "forced-beside-range", "fixed-beside-forced-param",
         "forced-beside-added-range", "forced-param-beside-range", "forced-param-beside-param"],
)  # fmt: skip
def test_a_fixed_value_of_another_key_element_is_refused(params, arguments, words) -> None:
    """Each pair says what was given, that every trial trains at the fixed value, and both
    fixes: the fixed value under the searched key's own element, or the search alone."""
    message = overridden_search(params, arguments)
    assert message is not None
    for expected in words:
        assert expected in message, message


@pytest.mark.parametrize(
    ("params", "arguments"),
    [
        ({"optimizer.lr": LR}, ["optimizer.lr=0.01"]),  # the same key element: not searched
        ({"++loss.gamma": "interval(0, 5)"}, ["++loss.gamma=2"]),
        ({"loss.gamma": "interval(0, 5)"}, ["+loss.gamma=2"]),  # Hydra's "Could not append"
        ({"loss.gamma": "interval(0, 5)"}, ["~loss.gamma=1"]),  # removal_conflict's
        ({"loss.gamma": "interval(0, 5)"}, ["~loss.gamma"]),  # removed in each trial
        ({"loss.gamma": "interval(0, 5)"}, ["++loss.alpha=0.5"]),  # another key
    ],
    ids=["same-element", "same-forced-element", "added", "removed-at-a-value", "removed",
         "another-key"],
)  # fmt: skip
def test_a_fixed_value_that_replaces_the_search_or_is_another_refusals_is_let_through(
    params, arguments
) -> None:
    assert overridden_search(params, arguments) is None


@pytest.mark.parametrize(
    ("params", "arguments", "words"),
    [
        ({"loss.gamma": "interval(0.0, 5.0)"}, ["++loss.gamma=interval(1,2)"],
         ["'++loss.gamma=interval(1,2)' searches loss.gamma, but hydra.sweeper.params searches "
          "it (loss.gamma: interval(0.0, 5.0)) as well, and the sweeper keys an override by its "
          "key element (++loss.gamma and loss.gamma are two keys to it)",
          "(loss.gamma=<sampled>, then ++loss.gamma=<sampled>): every trial would train at the "
          "++loss.gamma value while the search records its loss.gamma values too",
          "To search loss.gamma once, give 'loss.gamma=interval(1,2)' in place of "
          "'++loss.gamma=interval(1,2)' (the searched key's own element: it takes the place of "
          "hydra.sweeper.params' search), or leave '++loss.gamma=interval(1,2)' out to search "
          "loss.gamma as hydra.sweeper.params does."]),
        ({"optimizer.lr": LR}, ["++optimizer.lr=tag(log, interval(1e-3, 1e-2))"],
         ["give 'optimizer.lr=tag(log, interval(1e-3, 1e-2))' in place of "
          "'++optimizer.lr=tag(log, interval(1e-3, 1e-2))'"]),
        # both on the command line: one in place of both
        ({}, ["loss.gamma=interval(0,1)", "++loss.gamma=interval(1,2)"],
         ["but 'loss.gamma=interval(0,1)' searches it as well",
          "give 'loss.gamma=interval(1,2)' in place of 'loss.gamma=interval(0,1)' and "
          "'++loss.gamma=interval(1,2)' (one search, in that range), or leave "
          "'++loss.gamma=interval(1,2)' out to search loss.gamma as 'loss.gamma=interval(0,1)' "
          "does."]),
        # the command line's range in place of the params' own keeps the params' position
        ({"loss.gamma": "interval(0,5)", "++loss.gamma": "interval(1,2)"},
         ["loss.gamma=interval(0,1)"],
         ["hydra.sweeper.params (++loss.gamma: interval(1,2)) searches loss.gamma, but "
          "'loss.gamma=interval(0,1)' searches it as well",
          "To search loss.gamma once, search without ++loss.gamma of hydra.sweeper.params (the "
          "command line cannot remove it); to keep the other keys, add: "
          "hydra.sweeper.params=null"]),
        ({}, ["+loss.alpha=interval(0.1,0.9)", "++loss.alpha=interval(0.2,0.3)"],
         ["'++loss.alpha=interval(0.2,0.3)' searches loss.alpha, but "
          "'+loss.alpha=interval(0.1,0.9)' searches it as well", "(+loss.alpha=<sampled>, then "
          "++loss.alpha=<sampled>)", "give '+loss.alpha=interval(0.2,0.3)' in place of"]),
    ],
    ids=["forced-range-beside-param", "forced-log-range-beside-param", "two-ranges-given",
         "forced-param-beside-range", "forced-range-beside-added-range"],
)  # fmt: skip
def test_a_key_searched_under_two_key_elements_is_refused(params, arguments, words) -> None:
    """Each pair says which two searches there are, that every trial trains at the later one,
    and how to search the key once: the range under the other search's element in its place,
    or the search alone."""
    message = searched_twice(params, arguments)
    assert message is not None
    for expected in words:
        assert expected in message, message


@pytest.mark.parametrize(
    ("params", "arguments"),
    [
        ({"loss.gamma": "interval(0, 5)"}, ["loss.gamma=interval(1,2)"]),  # in the params' place
        ({"++loss.gamma": "interval(0, 5)"}, ["++loss.gamma=interval(1,2)"]),
        ({"loss.gamma": "interval(0, 5)"}, ["++loss.gamma=2"]),  # overridden_search's
        ({"loss.gamma": "interval(0, 5)"}, ["~loss.gamma=choice(1,2)"]),  # a removal, no search
        ({"loss.gamma": "interval(0, 5)"}, ["++loss.alpha=interval(0,1)"]),  # another key
    ],
    ids=["same-element", "same-forced-element", "fixed", "removed", "another-key"],
)  # fmt: skip
def test_one_search_of_a_key_is_let_through(params, arguments) -> None:
    assert searched_twice(params, arguments) is None


def test_an_added_range_beside_the_command_lines_fixed_key_names_it_and_the_trials_order() -> None:
    """``loss.gamma=2 '+loss.gamma=interval(1,2)'`` beside the params' search of loss.gamma:
    the command line's ``loss.gamma=2`` sets the key (it takes the params' search's place), and
    the searched ``+loss.gamma`` comes first in each trial. Before, the refusal said
    hydra.sweeper.params set it, in the other order, and advised the range without the +
    alone, beside which ``loss.gamma=2`` would fix the key in every trial still."""
    params = {"optimizer.lr": LR, "loss.gamma": "interval(0.0, 5.0)"}
    arguments = ["data=iris", "loss.gamma=2", "+loss.gamma=interval(1,2)"]
    trial = ["optimizer.lr=0.0017", "+loss.gamma=1.5", "data=iris", "loss.gamma=2"]
    reason = "Could not append to config. An item is already at 'loss.gamma'"
    message = conflict_fix(reason, params, arguments, trial)
    assert message == (
        "+loss.gamma=interval(1,2) adds loss.gamma, but loss.gamma=2 sets it, and the sweeper "
        "gives each trial both, the searched value first (+loss.gamma=1.5, then loss.gamma=2): "
        "a + adds only a key the config lacks, and the config has loss.gamma already (were it "
        "added, loss.gamma=2 would set it again in every trial). Give "
        "'loss.gamma=interval(1,2)' in place of loss.gamma=2 and '+loss.gamma=interval(1,2)', "
        "which searches loss.gamma in that range, or leave '+loss.gamma=interval(1,2)' out to "
        "fix loss.gamma to 2 as loss.gamma=2 does."
    ), message


def test_an_added_range_beside_a_fixed_param_advises_the_search_without_it() -> None:
    """A fixed value of hydra.sweeper.params, ``loss.gamma: 2``, which the command line cannot
    remove: the range is advised in its place with the params emptied."""
    params = {"optimizer.lr": LR, "loss.gamma": "2"}
    trial = ["optimizer.lr=0.0017", "+loss.gamma=1.5", "loss.gamma=2"]
    reason = "Could not append to config. An item is already at 'loss.gamma'"
    message = conflict_fix(reason, params, ["+loss.gamma=interval(1,2)"], trial)
    assert message is not None
    assert "but hydra.sweeper.params sets it (loss.gamma: 2)" in message, message
    assert "the searched value first (+loss.gamma=1.5, then loss.gamma=2)" in message, message
    assert message.endswith(
        "Leave '+loss.gamma=interval(1,2)' out to fix loss.gamma to 2 as hydra.sweeper.params "
        "does; or, to search loss.gamma in that range, leave it out too and search without "
        "loss.gamma of hydra.sweeper.params (the command line cannot remove it), with "
        "'loss.gamma=interval(1,2)' in its place; to keep the other keys, add: "
        f"hydra.sweeper.params=null 'optimizer.lr={LR}' 'loss.gamma=interval(1,2)'"
    ), message


def _search_refusal(*fixed: str) -> str:
    """The search check's refusal of ``hparams_search=optuna_focal`` with ``fixed``."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    with pytest.raises(ConfigError) as refused:
        check_search(multirun_config(("hparams_search=optuna_focal", *fixed)))
    return str(refused.value)


def test_the_search_check_refuses_a_forced_value_beside_a_searched_key() -> None:
    """The search of focal's params with ``++optimizer.lr=0.01``, composed by Hydra: refused
    before any trial; before, the check let the search run (each trial composed)."""
    message = _search_refusal("data=iris", "++optimizer.lr=0.01")
    assert message.startswith("++optimizer.lr=0.01 sets optimizer.lr, but hydra.sweeper."), message


def test_the_search_check_refuses_a_fixed_value_beside_a_forced_searched_param() -> None:
    """A search config's ``++loss.gamma: interval(...)`` beside the command line's
    ``loss.gamma=2``."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = multirun_config(("hparams_search=optuna_focal", "data=iris", "loss.gamma=2"))
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        del cfg.hydra.sweeper.params["loss.gamma"]
        cfg.hydra.sweeper.params["++loss.gamma"] = "interval(0.0, 5.0)"
    with pytest.raises(ConfigError, match=r"^loss.gamma=2 sets loss.gamma, but hydra"):
        check_search(cfg)


def test_a_searched_key_the_config_lacks_is_refused_before_a_forced_value_of_it() -> None:
    """With asl (no gamma) no trial composes: the searched key the config lacks is the refusal,
    whose advice leaves the search of loss.gamma out."""
    message = _search_refusal("data=iris", "setup=logits_asl", "++loss.gamma=2")
    assert "loss.gamma is not a setting of loss=asl" in message, message
    assert "every trial would train at" not in message, message


def test_the_search_check_refuses_a_key_searched_under_two_key_elements() -> None:
    """``'++loss.gamma=interval(1,2)'`` beside focal's search of loss.gamma, composed by Hydra:
    each trial composes, so the check let the search run before."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = multirun_config(
        ("hparams_search=optuna_focal", "data=iris"), ("++loss.gamma=interval(1,2)",)
    )
    with pytest.raises(ConfigError) as refused:
        check_search(cfg)
    message = str(refused.value)
    assert message.startswith("'++loss.gamma=interval(1,2)' searches loss.gamma, but hydra."), (
        message
    )


@pytest.mark.parametrize(
    ("arguments", "swept", "words", "unwanted"),
    [
        # +key after the searched key: Hydra's "Could not append", as before
        (("data=iris",), ("+loss.gamma=interval(1,2)",),
         ["Could not append to config", "+loss.gamma=interval(1,2) adds loss.gamma, but "
          "hydra.sweeper.params searches it (loss.gamma: interval(0.0, 5.0)), and the sweeper "
          "gives each trial both, the search's value first (loss.gamma=2.5, then "
          "+loss.gamma=1.5)", "Give 'loss.gamma=interval(1,2)' (without the +)"],
         ["searches it as well", "every trial would train at"]),
        (("data=iris", "loss.gamma=2"), ("+loss.gamma=interval(1,2)",),
         ["+loss.gamma=interval(1,2) adds loss.gamma, but loss.gamma=2 sets it",
          "the searched value first (+loss.gamma=1.5, then loss.gamma=2)",
          "Give 'loss.gamma=interval(1,2)' in place of loss.gamma=2 and "
          "'+loss.gamma=interval(1,2)'"],
         ["hydra.sweeper.params sets it", "(loss.gamma=2, then"]),
    ],
    ids=["added-beside-searched", "added-beside-fixed"],
)  # fmt: skip
def test_the_search_check_refuses_an_added_range_beside_the_key_as_hydra_composes_it(
    arguments, swept, words, unwanted
) -> None:
    """``+key=interval(...)`` keeps its refusal (no trial composes), naming what sets the key
    and the trial's order."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = multirun_config(("hparams_search=optuna_focal", *arguments), swept)
    with pytest.raises(ConfigError) as refused:
        check_search(cfg)
    message = str(refused.value)
    for expected in words:
        assert expected in message, message
    for word in unwanted:
        assert word not in message, message


def test_the_search_check_accepts_a_fixed_value_of_the_searched_key_element() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    check_search(multirun_config(("hparams_search=optuna_focal", "data=iris", "optimizer.lr=0.01")))


def _trials(folder: Path) -> list[tuple[dict, list[str]]]:
    """Each trial of the search in ``folder``: its config, and the overrides it was given."""
    trials = []
    for config in sorted(folder.glob("*/config.yaml")):
        overrides = yaml.safe_load((config.parent / ".hydra" / "overrides.yaml").read_text())
        trials.append((yaml.safe_load(config.read_text()), overrides))
    return trials


@pytest.mark.slow  # lossbench-train -m processes: a refused search, then each advised one
@pytest.mark.parametrize(
    ("search", "fixed", "key", "advised"),
    [
        (("hparams_search=optuna_focal",), "++optimizer.lr=0.01", "optimizer.lr",
         "optimizer.lr=0.01"),
        (("-cd", "mine", "hparams_search=forced"), "loss.gamma=2", "loss.gamma",
         "++loss.gamma=2"),
    ],
    ids=["forced-beside-param", "fixed-beside-forced-param"],
)  # fmt: skip
def test_a_fixed_value_beside_its_searched_key_is_refused_and_both_fixes_run(
    tmp_path: Path, search: tuple[str, ...], fixed: str, key: str, advised: str
) -> None:
    """Where the user meets it: exit 2, one message, no traceback, nothing written (before,
    the search ran, every trial at the fixed value, and reported a sampled one as the best).
    The fixed value under the searched key's element runs each trial at it, and the search
    leaves the key out of its results; leaving the fixed value out runs each trial at its
    sampled value."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    (tmp_path / "mine" / "hparams_search").mkdir(parents=True)
    (tmp_path / "mine" / "hparams_search" / "forced.yaml").write_text(SEARCH_OF_A_FORCED_KEY)
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", *search, *QUICK_SEARCH)
    message = refused_line(
        run_console("train", *line, fixed, cwd=tmp_path, timeout=300, extra_env=env)
    )
    assert f"every trial would train at {key}=" in message, message
    assert f"give {advised} in place of {fixed}" in message, message
    assert f"leave {fixed} out." in message, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing written
    group, name = key.split(".")
    value = float(advised.split("=")[1])

    result = run_console("train", *line, advised, cwd=tmp_path, timeout=300, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _trials(tmp_path / "search")
    assert len(trials) == 2 and all(c[group][name] == value for c, _ in trials), trials
    best = yaml.safe_load((tmp_path / "search" / "optimization_results.yaml").read_text())
    assert not any(k.lstrip("+") == key for k in best["best_params"]), best

    result = run_console(
        "train", *line, "hydra.sweep.dir=searched", cwd=tmp_path, timeout=300, extra_env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _trials(tmp_path / "searched")
    assert len(trials) == 2, trials
    for config, overrides in trials:  # each trial trains at the value it was given
        sampled = [o for o in overrides if o.lstrip("+").startswith(f"{key}=")]
        assert len(sampled) == 1, overrides
        assert config[group][name] == pytest.approx(float(sampled[0].split("=")[1]))
    best = yaml.safe_load((tmp_path / "searched" / "optimization_results.yaml").read_text())
    assert any(k.lstrip("+") == key for k in best["best_params"]), best


@pytest.mark.slow  # lossbench-train -m processes: a refused search, then the advised one
@pytest.mark.parametrize(
    ("given", "advised", "left_out"),
    [
        (("++loss.gamma=interval(1,2)",), "loss.gamma=interval(1,2)", ()),
        (("loss.gamma=2", "+loss.gamma=interval(1,2)"), "loss.gamma=interval(1,2)",
         ("loss.gamma=2",)),
    ],
    ids=["searched-twice", "added-beside-fixed"],
)  # fmt: skip
def test_a_second_search_of_a_key_is_refused_and_the_advised_one_runs(
    tmp_path: Path, given: tuple[str, ...], advised: str, left_out: tuple[str, ...]
) -> None:
    """Where the user meets it: exit 2, one message, no traceback, nothing written (before, the
    search with ``++loss.gamma=interval(1,2)`` ran, each trial at the ++ value while Optuna
    recorded loss.gamma as well). The range under the searched key's own element, in place of
    what the message names, runs each trial at a value in it, and the search records only
    loss.gamma; with ``left_out`` alone (the range left out), each trial at its fixed value."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", "hparams_search=optuna_focal", *QUICK_SEARCH)
    message = refused_line(
        run_console("train", *line, *given, cwd=tmp_path, timeout=300, extra_env=env)
    )
    assert f"in place of {' and '.join(shlex.quote(g) for g in given)}" in message, message
    assert list(tmp_path.iterdir()) == []  # nothing written

    result = run_console("train", *line, advised, cwd=tmp_path, timeout=300, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = _trials(tmp_path / "search")
    assert len(trials) == 2 and all(1 <= c["loss"]["gamma"] <= 2 for c, _ in trials), trials
    best = yaml.safe_load((tmp_path / "search" / "optimization_results.yaml").read_text())
    assert [k for k in best["best_params"] if "gamma" in k] == ["loss.gamma"], best

    if left_out:
        run = ("-m", "hparams_search=optuna_focal", *QUICK_SEARCH[:-1], "hydra.sweep.dir=fixed")
        result = run_console("train", *run, *left_out, cwd=tmp_path, timeout=300, extra_env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert all(c["loss"]["gamma"] == 2 for c, _ in _trials(tmp_path / "fixed"))
