"""An override Hydra's grammar cannot read is refused by each command before Hydra starts:
the override, Hydra's reason in short, and a fix that Hydra reads back as what was meant."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from cli_process import run_module
from lossbench.override_grammar import grammar_error, override_parser


@pytest.mark.parametrize(
    ("argument", "words"),
    [
        (
            "data.delimiter=;",
            [
                "data.delimiter=; is not an override Hydra can read (its grammar has no place "
                "for ';', character 16).",
                "';' cannot stand unquoted in a value",
                "inside the shell's quotes: 'data.delimiter=\";\"'.",
            ],
        ),
        ("data.path=a#b.csv", ["'#' cannot stand unquoted", "'data.path=\"a#b.csv\"'"]),
        ("data.path=a)b.csv", ["Hydra: mismatched input ')'", "'data.path=\"a)b.csv\"'"]),
        ("x=it's", ['"\'" cannot stand unquoted', '"x=\\"it\'s\\""']),
        ("data.path=données.csv", ["'é' cannot stand unquoted", "letters outside ASCII"]),
        ("optimizer.lr=[", ["Hydra: no viable alternative at input '['", "in brackets, [a,b]"]),
        ("optimizer.betas=[0.9,0.99", ["each one closed", "in brackets, [a,b]"]),
        ("loss=choice(focal,poly", ["a sweep's function with its parentheses, choice(a,b)"]),
        ("x=${oops", ["an interpolation as ${a.b}"]),
        ("data.path='my.csv", ["The quote its value opens is not closed: \"data.path='my.csv'\""]),
        ("seed", ["seed is not an override Hydra can read (it has no '=')", "key=value"]),
        ("data..path=x", ["Its key, 'data..path', is not one Hydra reads", "(data.path)"]),
    ],
)
def test_an_override_hydra_cannot_read_is_refused_with_the_fix(argument, words) -> None:
    refusal = grammar_error(argument)
    assert refusal is not None
    for word in words:
        assert word in refusal, refusal
    assert "LexerNoViableAltException" not in refusal and "See https" not in refusal


@pytest.mark.parametrize(
    "value", [";", "a;b", "a b;c", "a#b", "it's", 'say "hi";', "a)b", "x=y", "é", "a$`b!c;"]
)
def test_the_quoted_value_given_as_the_fix_is_read_back_by_hydra(value) -> None:
    """The fix, split as a shell splits it, is what Hydra reads as the value given."""
    refusal = grammar_error(f"data.path={value}")
    assert refusal is not None
    fix = re.search(r"inside the shell's quotes: (.+?)\. Characters special", refusal)
    assert fix is not None, refusal
    (argument,) = shlex.split(fix.group(1))
    assert OverridesParser.create().parse_override(argument).value() == value


@pytest.mark.parametrize(
    "argument",
    [
        "data.delimiter=';'",
        'data.delimiter=";"',
        "seed=0,1",
        "data.path=my file.csv",
        "optimizer.betas=[0.9,0.999]",
        "loss=choice(focal,poly)",
        "data.split_seed=${seed}",
        "~callbacks.early_stopping",
        "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
        "hydra/launcher=basic",
        "ckpt_path=",
    ],
)
def test_what_hydra_reads_passes(argument) -> None:
    assert grammar_error(argument) is None


@pytest.mark.parametrize(
    ("module", "arguments", "expected"),
    [
        ("lossbench.train", ("-m", "seed=0,1", "data.delimiter=;"), "data.delimiter=; is not"),
        ("lossbench.train", ("-cd", "mine", "optimizer.lr=["), "optimizer.lr=[ is not"),
        ("lossbench.evaluate", ("ckpt_path=run.ckpt", "out=a;b.json"), "'out=\"a;b.json\"'"),
        ("lossbench.predict", ("ckpt_path=run.ckpt", "data=csv", "data.path=a;b"), "a;b"),
    ],
    ids=["train", "train-config-dir", "eval", "predict"],
)
def test_each_command_refuses_it_before_hydra_starts(tmp_path, module, arguments, expected):
    (tmp_path / "mine").mkdir()
    result = run_module(module, *arguments, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()  # one line: no traceback, no Hydra message
    assert line.startswith("lossbench: refused: ") and expected in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # nothing written


def test_the_shared_override_parser_reads_each_override_as_a_new_hydra_parser_does() -> None:
    """One parser serves every call: a refused override, a sweep and a function leave nothing
    behind that changes how the next override is read."""
    shared = override_parser()
    assert shared is override_parser()
    lines = ["seed=0,1", "loss=choice(focal,poly)", "optimizer.lr=interval(0.1,1)", "x=[a,b]"]
    with pytest.raises(Exception, match="no viable alternative"):
        shared.parse_overrides(["optimizer.lr=["])
    for line in lines:
        (mine,) = shared.parse_overrides([line])
        (hydras,) = OverridesParser.create().parse_overrides([line])
        assert (mine.key_or_group, mine.value(), mine.config_loader) == (
            hydras.key_or_group,
            hydras.value(),
            None,
        )


def test_a_parser_given_hydras_config_loader_is_new_and_hands_it_to_its_overrides() -> None:
    """``glob()`` lists a config group's options through the loader: each such parser is its
    own, and the shared one never holds a loader."""
    loader: Any = object()
    parser = override_parser(config_loader=loader)
    assert parser is not override_parser() and parser is not override_parser(loader)
    (override,) = parser.parse_overrides(["seed=1"])
    assert override.config_loader is loader
    assert override_parser().config_loader is None
