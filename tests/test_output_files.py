"""``out=`` of lossbench-eval and lossbench-predict: an earlier output of the command is
replaced, anything else is refused before any work (the refusals through the command line:
``tests/test_refusals_cli.py``, the ``eval-out-*`` and ``predict-out-*`` rows)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lossbench.data.table import DataError
from lossbench.evaluate import EvaluationError, check_out, write_result
from lossbench.predict import check_predictions_out, write_predictions
from lossbench.predict_maps import check_paths


def test_eval_replaces_its_own_result_and_nothing_else(tmp_path):
    out = tmp_path / "eval.json"
    write_result({"checkpoint": "a.ckpt", "epoch": 3, "split": "test", "test/nll": 0.5}, out)
    assert check_out(out) == out  # an earlier evaluation: replaced
    write_result({"checkpoint": "a.ckpt", "epoch": 4, "split": "val", "val/nll": 0.4}, out)
    assert json.loads(out.read_text())["epoch"] == 4
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(EvaluationError, match=r"is an existing file .* did not write"):
        check_out(other)
    with pytest.raises(EvaluationError, match="is a directory"):
        check_out(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(EvaluationError, match=r"lies below .*file"):
        check_out(tmp_path / "file" / "eval.json")
    assert json.loads(other.read_text()) == {"learning_rate": 0.1}


def test_predict_replaces_its_own_predictions_and_nothing_else(tmp_path):
    out = tmp_path / "predictions.csv"
    write_predictions({"p_3": [0.2], "p_7": [0.8], "predicted": [7]}, out)
    assert check_predictions_out(out) == out
    write_predictions({"p_y": [0.9], "pred_y": [1]}, out)  # a binary model's, replaced
    assert out.read_text().splitlines()[0] == "p_y,pred_y"
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"out=.*data.csv. is an existing file"):
        check_predictions_out(data)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("p_y,notes\n0.5,x\n")
    with pytest.raises(DataError, match="is an existing file"):
        write_predictions({"p_y": [0.1], "pred_y": [0]}, mixed)
    assert mixed.read_text() == "p_y,notes\n0.5,x\n"


def test_label_maps_replace_only_label_maps(tmp_path):
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 4, 4)))
    maps = tmp_path / "maps.npz"
    np.savez_compressed(maps, probabilities=np.zeros((1, 4, 4)), predicted=np.zeros((1, 4, 4)))
    check_paths(images, maps)  # an earlier output: replaced
    other = tmp_path / "weights.npz"
    np.savez_compressed(other, w=np.ones(3))
    with pytest.raises(DataError, match="is an existing file"):
        check_paths(images, other)
