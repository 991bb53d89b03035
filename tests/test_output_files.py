"""``out=`` of lossbench-eval and lossbench-predict: an earlier output of the command is
replaced, anything else is refused before any work (the refusals through the command line:
``tests/test_refusals_cli.py``, the ``eval-out-*`` and ``predict-out-*`` rows)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lossbench.data.table import DataError
from lossbench.evaluate import EvaluationError, check_out, default_out, write_result
from lossbench.predict import check_predictions_out, write_predictions
from lossbench.predict_maps import check_paths, write_maps


def test_eval_replaces_its_own_result_and_nothing_else(tmp_path):
    out = tmp_path / "eval.json"
    write_result({"checkpoint": "a.ckpt", "epoch": 3, "split": "test", "test/nll": 0.5}, out)
    assert check_out(out, "a.ckpt") == out  # an earlier evaluation of it: replaced
    write_result({"checkpoint": "a.ckpt", "epoch": 4, "split": "test", "test/nll": 0.4}, out)
    assert json.loads(out.read_text())["epoch"] == 4
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(EvaluationError, match=r"is an existing file .* did not write"):
        check_out(other, "a.ckpt")
    with pytest.raises(EvaluationError, match="is a directory"):
        check_out(tmp_path, "a.ckpt")
    (tmp_path / "file").write_text("x")
    with pytest.raises(EvaluationError, match=r"lies below .*file"):
        check_out(tmp_path / "file" / "eval.json", "a.ckpt")
    assert json.loads(other.read_text()) == {"learning_rate": 0.1}


def test_eval_does_not_replace_the_result_of_another_checkpoint(tmp_path):
    """Like lossbench-predict's out=, only an earlier output of the same checkpoint is replaced:
    the eval.json of a run's best checkpoint stays when its last.ckpt is evaluated."""
    out = tmp_path / "eval.json"
    write_result({"checkpoint": "run/best.ckpt", "epoch": 3, "split": "test"}, out)
    kept = out.read_text()
    with pytest.raises(EvaluationError) as refusal:
        write_result({"checkpoint": "run/last.ckpt", "epoch": 9, "split": "test"}, out)
    message = str(refusal.value)
    assert "or wrote for another checkpoint: only an earlier result of this checkpoint (" in message
    assert f"e.g. out={tmp_path / 'eval-last.json'}" in message
    assert out.read_text() == kept


CKPT = "run/checkpoints/best.ckpt"


def test_predict_replaces_its_own_predictions_and_nothing_else(tmp_path):
    out = tmp_path / "predictions.csv"
    write_predictions({"p_3": [0.2], "p_7": [0.8], "predicted": [7]}, out, CKPT)
    assert check_predictions_out(out, ["p_3", "p_7", "predicted"], CKPT) == out
    write_predictions({"p_3": [0.4], "p_7": [0.6], "predicted": [7]}, out, CKPT)  # replaced
    assert out.read_text().splitlines() == ["p_3,p_7,predicted", "0.4,0.6,7"]
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"out=.*data.csv. is an existing file"):
        check_predictions_out(data, ["p_y", "pred_y"], CKPT)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("p_y,notes\n0.5,x\n")
    with pytest.raises(DataError, match="is an existing file"):
        write_predictions({"p_y": [0.1], "pred_y": [0]}, mixed, CKPT)
    assert mixed.read_text() == "p_y,notes\n0.5,x\n"


@pytest.mark.parametrize(
    "header",
    ["p_spam,pred_spam", "p_3,p_7,predicted", "p_y", "pred_y,p_y", "p_y,pred_y,pred_z"],
)
def test_predictions_of_another_model_are_not_replaced(tmp_path, header):
    """Only a file with this checkpoint's columns (a binary label y: p_y,pred_y) is its own."""
    other = tmp_path / "other.csv"
    other.write_text(f"{header}\n")
    with pytest.raises(DataError, match=r"only a predictions file of this checkpoint \("):
        write_predictions({"p_y": [0.9], "pred_y": [1]}, other, CKPT)
    assert other.read_text() == f"{header}\n"


@pytest.mark.parametrize("name", ["p.npz", "p.npy", "p.json", "p"])
def test_csv_predictions_go_to_a_csv_file_name(tmp_path, name):
    with pytest.raises(DataError, match=r"is not a .csv file name.*e.g. out=p.csv"):
        write_predictions({"p_y": [0.9], "pred_y": [1]}, tmp_path / name, CKPT)
    assert not (tmp_path / name).exists()
    write_predictions({"p_y": [0.9], "pred_y": [1]}, tmp_path / "P.CSV", CKPT)


@pytest.mark.parametrize("name", ["scores.csv", "scores.npz", "scores.txt", "scores"])
def test_an_evaluation_goes_to_a_json_file_name(tmp_path, name):
    """lossbench-eval writes JSON: out=scores.csv was written as JSON under a CSV name."""
    result = {"checkpoint": "a.ckpt", "epoch": 3, "split": "test", "test/nll": 0.5}
    with pytest.raises(
        EvaluationError,
        match=r"is not a .json file name: lossbench-eval writes its result as JSON.*"
        r"e.g. out=scores.json",
    ):
        write_result(result, tmp_path / name)
    assert not (tmp_path / name).exists()
    write_result(result, tmp_path / "SCORES.JSON")


def test_label_maps_replace_only_label_maps(tmp_path):
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 4, 4)))
    maps = tmp_path / "maps.npz"
    np.savez_compressed(
        maps,
        probabilities=np.zeros((1, 4, 4)),
        predicted=np.zeros((1, 4, 4)),
        checkpoint=np.asarray(str(Path(CKPT).resolve())),
    )
    check_paths(images, maps, CKPT)  # an earlier output: replaced
    other = tmp_path / "weights.npz"
    np.savez_compressed(other, w=np.ones(3))
    with pytest.raises(DataError, match="is an existing file"):
        check_paths(images, other, CKPT)


def test_predictions_of_another_checkpoint_are_not_replaced(tmp_path):
    """The same columns are not the same model: the record next to the file names the
    checkpoint that wrote it, and only that checkpoint replaces it."""
    out = tmp_path / "predictions.csv"
    write_predictions({"p_y": [0.9], "pred_y": [1]}, out, "runs/0/best.ckpt")
    record = json.loads((tmp_path / "predictions.csv.lossbench.json").read_text())
    assert record["checkpoint"] == str(Path("runs/0/best.ckpt").resolve())
    kept = out.read_text()
    with pytest.raises(DataError, match=r"of this checkpoint \(.*runs/1/best.ckpt\)") as no:
        write_predictions({"p_y": [0.2], "pred_y": [0]}, out, "runs/1/best.ckpt")
    assert "e.g. out=predictions-1.csv" in str(no.value)
    assert out.read_text() == kept
    write_predictions({"p_y": [0.8], "pred_y": [1]}, out, "runs/0/best.ckpt")  # its own


@pytest.mark.parametrize("change", ["no-record", "edited"])
def test_predictions_without_a_matching_record_are_not_replaced(tmp_path, change):
    """A predictions file of an earlier release (no record) or one edited since it was written
    may hold another model's predictions: refused, with the fix."""
    out = tmp_path / "predictions.csv"
    write_predictions({"p_y": [0.9], "pred_y": [1]}, out, CKPT)
    if change == "no-record":
        (tmp_path / "predictions.csv.lossbench.json").unlink()
    else:
        out.write_text(out.read_text() + "0.5,1\n")
    kept = out.read_text()
    with pytest.raises(
        DataError, match="a lossbench that kept no record, or edited since, have no"
    ):
        write_predictions({"p_y": [0.1], "pred_y": [0]}, out, CKPT)
    assert out.read_text() == kept


def test_label_maps_of_another_checkpoint_are_not_replaced(tmp_path):
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((1, 4, 4)))
    maps = {"probabilities": np.zeros((1, 4, 4)), "predicted": np.zeros((1, 4, 4), dtype=int)}
    out = write_maps(maps, tmp_path / "maps.npz", "runs/0/best.ckpt")
    with np.load(out, allow_pickle=False) as loaded:
        assert str(loaded["checkpoint"]) == str(Path("runs/0/best.ckpt").resolve())
    check_paths(images, out, "runs/0/best.ckpt")
    with pytest.raises(DataError, match=r"label maps of this checkpoint \(.*runs/1/best"):
        check_paths(images, out, "runs/1/best.ckpt")
    legacy = tmp_path / "legacy.npz"
    np.savez_compressed(legacy, **maps)  # an earlier release: no checkpoint entry
    with pytest.raises(DataError, match="an archive of a lossbench that kept none has no such"):
        check_paths(images, legacy, "runs/0/best.ckpt")


def test_an_evaluation_of_another_split_is_not_replaced(tmp_path):
    """split=val written over the test result of the same checkpoint lost the test numbers."""
    out = tmp_path / "eval.json"
    write_result({"checkpoint": "a.ckpt", "epoch": 3, "split": "test", "test/nll": 0.5}, out)
    kept = out.read_text()
    with pytest.raises(EvaluationError, match=r"of this checkpoint \(.*a.ckpt\) on the val split"):
        write_result({"checkpoint": "a.ckpt", "epoch": 3, "split": "val", "val/nll": 0.4}, out)
    assert out.read_text() == kept


def test_each_split_has_its_own_default_result(tmp_path):
    """lossbench-eval without out=: eval.json for the test split, eval-val.json for val, in the
    checkpoint's run folder."""
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert default_out(ckpt, "test") == tmp_path / "run" / "eval.json"
    assert default_out(ckpt, "val") == tmp_path / "run" / "eval-val.json"
