"""The history's JSON text in checkpoints: written incrementally, read back exactly."""

from __future__ import annotations

import json
import math
import random

import pytest

from lossbench.checkpoint_format import HISTORY_KEY, HistoryText, history


def test_history_text_is_json_dumps_through_appends_and_changes() -> None:
    """Every way a history can move between two checkpoints gives ``json.dumps``'s text:
    appends, new keys, a list replaced, shortened or changed in place, NaN and infinities."""
    rng = random.Random(0)
    text, run = HistoryText(), {}
    specials = [math.nan, math.inf, -math.inf, 0, 3]
    for step in range(400):
        move = rng.random()
        key = rng.choice(["train/loss", "val/nll", "val/auroc", "train/lr"])
        if move < 0.6:  # an epoch's value
            value = rng.choice(specials) if rng.random() < 0.1 else rng.random()
            run.setdefault(key, []).append(value)
        elif move < 0.7 and run.get(key):  # changed in place
            run[key][rng.randrange(len(run[key]))] = rng.random()
        elif move < 0.8 and run.get(key):  # shortened
            del run[key][rng.randrange(len(run[key])) :]
        elif move < 0.9:  # replaced by a new list (a resumed run's history)
            run[key] = [float(v) for v in run.get(key, [])]
        else:
            run.pop(key, None)
        written = text.dumps(run)
        assert written == json.dumps(run), step
        # a NaN never equals itself, so compare the texts of what is read back
        assert json.dumps(history({HISTORY_KEY: written})) == written


@pytest.mark.parametrize(
    "odd",
    [{"val/nll": [0.5, True]}, {"val/nll": [0.5, [1.0]]}, {"val/nll": (0.5,)}, {1: [0.5]}],
    ids=["bool", "nested", "tuple", "int-key"],
)
def test_history_text_writes_anything_else_as_json_dumps_does(odd) -> None:
    text = HistoryText()
    text.dumps({"val/nll": [0.5]})
    assert text.dumps(odd) == json.dumps(odd)
    assert text.dumps({"val/nll": [0.5, 0.4]}) == json.dumps({"val/nll": [0.5, 0.4]})


def test_values_already_written_are_not_formatted_again(monkeypatch) -> None:
    text, run = HistoryText(), {"val/nll": [0.1 * i for i in range(50)]}
    text.dumps(run)
    formatted = []
    real = json.dumps
    monkeypatch.setattr(json, "dumps", lambda value, **kw: formatted.append(value) or real(value))
    run["val/nll"].append(0.01)
    assert text.dumps(run) == real(run)
    assert sorted(formatted, key=str) == [0.01, "val/nll"]  # the new value and the key
