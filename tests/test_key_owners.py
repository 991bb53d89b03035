"""The other keys of a group that an option advised for a refused key must have
(:func:`lossbench.key_owners.needed_keys`): one rule for the key check
(:mod:`lossbench.option_keys`) and the search check (:mod:`lossbench.search_check`)."""

from __future__ import annotations

import pytest

from lossbench.key_owners import needed_keys
from lossbench.override_grammar import override_parser


def _parsed(*overrides: str) -> list:
    return override_parser().parse_overrides(list(overrides))


@pytest.mark.parametrize(
    ("overrides", "search", "keys", "searched"),
    [
        (("loss.gamma_neg=1",), None, {"gamma_neg": "loss.gamma_neg=1 sets"}, []),
        (
            (),
            ("optuna_asl", {"loss.clip": "0,1", "optimizer.lr": "0,1"}),
            {"clip": "hparams_search=optuna_asl searches"},
            ["clip"],
        ),
        (
            (),
            (None, {"loss.clip": "0,1"}),
            {"clip": "hydra.sweeper.params searches"},
            ["clip"],
        ),
        (  # the command line's own value wins over the search's, as the sweeper reads them
            ("loss.clip=0.1",),
            (None, {"loss.clip": "0,1"}),
            {"clip": "loss.clip=0.1 sets"},
            [],
        ),
        (  # the refused key itself, and other groups' keys, are not needed
            ("loss.gamma=2", "optimizer.lr=0.1", "loss=asl"),
            (None, {"loss.gamma": "0,1", "head.x": "0,1"}),
            {},
            [],
        ),
    ],
    ids=["command-line", "named-search", "unnamed-search", "both", "none"],
)
def test_each_other_key_of_the_group_is_named_with_who_sets_it(overrides, search, keys, searched):
    needs = needed_keys("loss", "gamma", _parsed(*overrides), search)
    assert needs.keys == keys
    assert sorted(needs.searched) == searched
