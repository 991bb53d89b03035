"""The search check (:func:`lossbench.search_check.check_search`) counts as keys the search
sets only the overrides that set a value: ``+key=interval(...)`` sets ``key`` (named so, without
its ``+``), and ``~key=choice(...)`` removes a key, so it sets none and no advised option needs
it, as the key check (:mod:`lossbench.option_keys`) does not count a removal either."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_process import run_console
from lossbench.errors import ConfigError
from lossbench.search_check import check_search
from multirun_configs import multirun_config

#: An Optuna search of focal's loss.gamma with setup=logits_asl: asl has no gamma.
SEARCH_ASL = ("hparams_search=optuna_focal", "data=iris", "setup=logits_asl")
#: Removing asl's clip in each trial, a swept removal: no key the search sets.
REMOVAL = "~loss.clip=choice(0.05,0.1)"
#: What the refusal of SEARCH_ASL says the search sets, with or without the removal.
SETS = (
    "The search sets optimizer.lr, optimizer.weight_decay, loss.gamma (hydra.sweeper.params and "
    "the command line's interval()/choice() values)"
)
#: The refusal's advice where focal, which has gamma, is the option to choose.
CHOOSE_FOCAL = (
    "loss.gamma is not a setting of loss=asl (its settings: reduction, gamma_neg, gamma_pos, "
    "clip), but hydra.sweeper.params searches it, and a key of hydra.sweeper.params cannot be "
    "removed or set on its own from the command line (its name holds a dot: "
    "~hydra.sweeper.params.loss.gamma names no entry). Choose a setup whose loss has it "
    "(setup=logits_focal), or without a setup (~setup in place of setup=logits_asl), choose a "
    "loss that has it (loss=focal), or search without it"
)


def _refusal(fixed: tuple[str, ...], swept: tuple[str, ...]) -> str:
    """The search check's refusal of a multirun of ``fixed`` and ``swept`` overrides
    (:func:`multirun_configs.multirun_config`)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    cfg = multirun_config(fixed, swept)
    with pytest.raises(ConfigError) as refused:
        check_search(cfg)
    return str(refused.value)


def test_a_swept_removal_is_no_key_the_search_sets() -> None:
    """``~loss.clip=choice(...)`` removes clip in each trial: the refusal lists no loss.clip
    among the keys the search sets, and does not say that it sets clip, which would rule out
    focal (it lacks clip) as the loss to choose."""
    message = _refusal(SEARCH_ASL, (REMOVAL,))
    assert SETS in message, message
    assert CHOOSE_FOCAL in message, message
    assert "loss.clip (hydra.sweeper.params" not in message
    assert "~loss.clip=choice(0.05,0.1) sets" not in message


@pytest.mark.parametrize(
    "swept",
    [(), ("+loss.alpha=interval(0.1,0.9)",)],
    ids=["params-only", "added-key-searched"],
)
def test_a_searched_addition_is_a_key_the_search_sets_named_without_its_plus(swept) -> None:
    """``+loss.alpha=interval(...)`` is sampled as ``loss.gamma`` is: listed as loss.alpha."""
    message = _refusal(SEARCH_ASL, swept)
    listed = ", loss.alpha" if swept else ""
    assert SETS.replace("loss.gamma (", f"loss.gamma{listed} (") in message, message
    searched = message.split("The search sets ", 1)[1].split(" (hydra.sweeper.params", 1)[0]
    assert "+" not in searched, searched


@pytest.mark.slow  # a lossbench-train -m process: Hydra, the Optuna sweeper, a few compositions
def test_a_swept_removal_is_no_key_the_search_sets_on_the_command_line(tmp_path: Path) -> None:
    """Where the user meets it: exit 2 with the corrected message, no traceback, nothing
    written."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    result = run_console(
        "train", "-m", *SEARCH_ASL, REMOVAL, "trainer.max_epochs=1", "logger=none",
        "hydra.sweeper.n_trials=2", "hydra.sweep.dir=search", cwd=tmp_path, timeout=300,
        extra_env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(refusal) == 1 and refusal[0].startswith("lossbench: refused: a trial of this "), (
        refusal
    )
    assert SETS in refusal[0] and CHOOSE_FOCAL in refusal[0], refusal[0]
    assert "~loss.clip=choice(0.05,0.1) sets" not in refusal[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


#: hydra.sweeper.params of hparams_search=optuna_focal.
FOCAL_PARAMS = {
    "optimizer.lr": "tag(log, interval(1e-4, 3e-2))",
    "optimizer.weight_decay": "interval(0.0, 1e-2)",
    "loss.gamma": "interval(0.0, 5.0)",
}


@pytest.mark.parametrize(
    ("arguments", "kept"),
    [
        (["~optimizer.weight_decay"], ["optimizer.lr", "optimizer.weight_decay"]),
        # at one value: each trial would set the sampled value, then fail to remove it there
        (["~optimizer.weight_decay=0.01"], ["optimizer.lr"]),
        (["optimizer.weight_decay=0.01"], ["optimizer.lr"]),
        (["+optimizer.weight_decay=interval(0,1)"], ["optimizer.lr"]),
        (["++optimizer.lr=0.01", "~optimizer.weight_decay"], ["optimizer.weight_decay"]),
    ],
    ids=["removed", "removed-at-a-value", "set", "added", "forced-and-removed"],
)
def test_the_search_without_a_key_keeps_a_param_the_command_line_only_removes(
    arguments, kept
) -> None:
    """The advised search without loss.gamma keeps each other param, but those the command line
    sets (``key=v``, ``+key=v``, ``++key=v``) or removes at one value (``~key=v``, which a
    trial's sampled value would fail): a removal, ``~key``, sets no value, and Hydra's Optuna
    sweeper still samples the param beside it."""
    from lossbench.search_params import without_key

    line = without_key("loss.gamma", FOCAL_PARAMS, arguments)
    assert line[0] == "hydra.sweeper.params=null"
    assert [item.strip("'").split("=", 1)[0] for item in line[1:]] == kept, line


#: A search of focal's loss.gamma that also chooses the loss, focal or asl (asl has no gamma).
CHOOSING_ASL = ("hparams_search=optuna_focal", "data=iris", "~setup", "head=logits")


def test_a_searched_key_that_a_later_trial_s_option_lacks_is_refused() -> None:
    """The check composed trials only up to the first that lossbench would train: with
    ``loss=choice(focal,asl)`` the focal trial passed, and the search started, to end at its
    first asl trial with Hydra's "Could not override 'loss.gamma'" (exit 1). Every trial is
    composed now, and the refusal says to search only the options that have the key."""
    said = _refusal(CHOOSING_ASL, ("loss=choice(focal,asl)",))
    assert "a trial of this search cannot be composed (" in said
    assert "loss=asl" in said.split("):")[0]
    assert (
        "loss.gamma is not a setting of loss=asl (its settings: reduction, gamma_neg, gamma_pos, "
        "clip). The search chooses loss among focal, asl (the command line), and a trial of "
        "loss=asl cannot set loss.gamma, which it searches: search only the options that have "
        "it, loss=focal in place of 'loss=choice(focal,asl)', or search without loss.gamma."
    ) in said, said


def test_a_search_choosing_only_options_with_its_keys_passes() -> None:
    """The advised search, and one whose options all have the searched keys, pass the check."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    check_search(multirun_config(CHOOSING_ASL, ("loss=focal",)))
    check_search(
        multirun_config(
            (*CHOOSING_ASL, "hydra.sweeper.params=null"),
            ("optimizer.lr=interval(1e-4,1e-2)", "loss=choice(focal,asl)"),
        )
    )


def test_a_key_the_command_line_fixes_beside_a_searched_option_that_lacks_it_is_refused() -> None:
    """``loss.gamma=2`` fixed, the loss searched: the asl trials cannot set it either; the
    refusal names the command line's override, not a search of it."""
    said = _refusal(CHOOSING_ASL, ("loss.gamma=2", "loss=choice(focal,asl)"))
    assert (
        "a trial of loss=asl cannot set loss.gamma, which loss.gamma=2 sets: search only the "
        "options that have it, loss=focal in place of 'loss=choice(focal,asl)', or leave "
        "loss.gamma=2 out."
    ) in said, said


def test_a_searched_key_no_searched_option_has_is_searched_without() -> None:
    """No option the search chooses among has the searched key: search without it."""
    said = _refusal(CHOOSING_ASL, ("loss=choice(asl,cross_entropy)",))
    assert (
        "The search chooses loss among asl, cross_entropy (the command line), and a trial of "
        "loss=asl, loss=cross_entropy cannot set loss.gamma, which it searches: no option it "
        "chooses among has loss.gamma: search without loss.gamma (hydra.sweeper.params=null"
    ) in said, said
