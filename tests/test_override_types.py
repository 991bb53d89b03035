"""Command-line values of the wrong type are refused before Hydra composes, naming the key, the
value as given, the type expected and an example; only values Hydra itself would refuse."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException, OverrideParseException

from lossbench.override_types import wrong_type
from lossbench.train import config_dir, value_schemas

GROUPS = [path.name for path in config_dir().iterdir() if path.is_dir()]

# id: (argument, words the refusal holds)
REFUSED = {
    "int-given-a-decimal": (
        "data.split_seed=1.5",
        [
            "data.split_seed=1.5: data.split_seed takes a whole number (int), but Hydra reads "
            "1.5 as a decimal number (float). Give a whole number, e.g. data.split_seed=0 "
            "(the default)."
        ],
    ),
    "int-given-text": ("trainer.max_epochs=abc", ["takes a whole number (int)", "text (str)"]),
    "int-given-null": ("seed=null", ["seed=null: seed takes a whole number (int), not null."]),
    "int-given-a-boolean": ("seed=true", ["Hydra reads true as a boolean (bool)"]),
    "optional-int": ("data.batch_size=0.5", ["a whole number or null (int | None)", "=128"]),
    "float-given-text": ("optimizer.lr=fast", ["optimizer.lr takes a number (float)", "=0.001"]),
    "bool-given-text": ("checkpoint.save_last=maybe", ["takes true or false (bool)", "=true"]),
    "list-given-one-name": (
        "data.label_columns=y",
        ["takes a list of texts in brackets (list[str])", "e.g. data.label_columns=[y]."],
    ),
    "list-given-one-number": (
        "data.label_columns=1e3",
        ["Hydra reads 1e3 as a decimal number", """e.g. 'data.label_columns=["1e3"]'"""],
    ),
    "list-holding-null": (
        "data.feature_columns=[a,null]",
        ["the list holds null", """e.g. 'data.feature_columns=["a","null"]'"""],
    ),
    "list-of-numbers-holding-text": (
        "optimizer.betas=[0.9,abc]",
        ["its item abc as text (str)", "optimizer.betas=[0.9,0.999] (the default)"],
    ),
    "list-of-ints-given-one": ("model.hidden_sizes=64", ["e.g. model.hidden_sizes=[64]"]),
    "list-of-ints-given-a-mapping": (
        "model.hidden_sizes={a:1}",
        ["takes a list of whole numbers in brackets (list[int])", "reads {a:1} as a mapping"],
    ),
    "list-of-numbers-given-a-mapping": (
        "optimizer.betas={a:1}",
        ["optimizer.betas takes a list of numbers in brackets", "e.g. optimizer.betas=[0.9,0.999]"],
    ),
    "loss-parameter": ("loss=focal loss.gamma=abc", ["loss.gamma takes a number (float)"]),
    "sweep-value": ("seed=0,1.5", ["seed=1.5 (in seed=0,1.5): seed takes a whole number"]),
    "forced": ("++seed=abc", ["seed=abc: seed takes a whole number"]),
}

ACCEPTED = {
    "int": "seed=3",
    "quoted-int": 'seed="3"',
    "interpolation": "seed=${oc.env:SEED,0}",
    "optional-null": "data.batch_size=null",
    "int-for-a-float": "optimizer.lr=1",
    "group-option": "data=csv",
    "group-option-of-a-mapping-field": "logger=csv",
    "sweep": "seed=0,1,2",
    "range-sweep": "seed=range(0,3)",
    "interval-sweep": "optimizer.lr=interval(0.001,0.1)",
    "free-form-trainer-key": "trainer.devices=abc",
    "text-key": "data.impute=3",
    "added-key": "+foo=abc",
    "hydra-key": "hydra.job.chdir=abc",
    "callback-mapping": "callbacks.model_checkpoint.save_last=abc",
    "list-of-names": "data.feature_columns=[a,b]",
    "not-an-override": "-m",
    "hydra-grammar-error": "seed=[1",
}


@pytest.mark.parametrize(("argument", "words"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_value_of_the_wrong_type_is_refused_with_the_type_and_an_example(
    argument: str, words: list[str]
) -> None:
    *_, last = argument.split()
    refusal = wrong_type(last, value_schemas(), GROUPS)
    assert refusal is not None
    for word in words:
        assert word in refusal


@pytest.mark.parametrize(("argument", "words"), list(REFUSED.values()), ids=list(REFUSED))
def test_every_refused_value_is_one_hydra_refuses_too(make_cfg, argument: str, words) -> None:
    """The check predicts Hydra: it never refuses what Hydra would compose."""
    with pytest.raises(ConfigCompositionException):
        make_cfg(*argument.split())


@pytest.mark.parametrize("argument", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_values_hydra_takes_are_left_alone(argument: str) -> None:
    assert wrong_type(argument, value_schemas(), GROUPS) is None


def test_where_config_directories_add_options_only_typed_groups_are_checked() -> None:
    schemas = value_schemas(options_known=False)
    assert wrong_type("data.split_seed=1.5", schemas, GROUPS) is None
    assert wrong_type("trainer.max_epochs=abc", schemas, GROUPS) is not None


def test_where_config_directories_add_options_groups_of_shipped_options_are_checked() -> None:
    """A folder's option may declare keys of its own; a shipped option's keys keep their types."""
    schemas = value_schemas(options_known=False, shipped=["data"])
    assert wrong_type("data.batch_size=abc", schemas, GROUPS) is not None
    assert wrong_type("loss.gamma=abc", schemas, GROUPS) is None


def test_hydra_grammar_errors_stay_hydras(make_cfg) -> None:
    with pytest.raises(OverrideParseException):
        make_cfg("seed=[1")
