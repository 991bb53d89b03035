"""lossbench-eval, lossbench-predict and safe checkpoint loading: real runs, real checkpoints."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from sklearn.datasets import make_classification, make_multilabel_classification

from cells import TABLE_ACCEPTED as ACCEPTED
from cells import TASK_DATA, one_per_task_and_head
from cli_process import run_module
from lossbench.checkpoint import CheckpointError, load_checkpoint
from lossbench.data.csv_loader import load_csv
from lossbench.data.datamodule import ClassificationDataModule
from lossbench.data.splits import split_indices
from lossbench.data.table import DataError
from lossbench.evaluate import EvaluationError, check_out, default_out, evaluate
from lossbench.metrics import to_probabilities
from lossbench.module import ClassifierModule
from lossbench.predict import predict, write_predictions
from lossbench.tasks import TABLE_TASKS as TASKS  # dense tasks: tests/test_dense.py
from lossbench.training import train

REPO = Path(__file__).resolve().parents[1]
FEATURES = ["f0", "f1", "f2", "f3"]
#: Label columns of the CSV of each task (multi-class: one column of class names).
LABELS = {"binary": ["y"], "multilabel": ["red", "green", "blue"], "multiclass": ["animal"]}
ANIMALS = ["cat", "dog", "emu"]


class _Custom:
    """Not a tensor or plain container: unpickling it needs arbitrary code."""


def _write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read_csv(path: Path) -> dict[str, list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [row[name] for row in rows] for name in rows[0]}


def _table(task: str) -> tuple[np.ndarray, list[list]]:
    """90 rows of 4 features and the task's labels (as CSV cells)."""
    if task == "multilabel":
        x, y = make_multilabel_classification(90, n_features=4, n_classes=3, random_state=0)
        return x, y.tolist()
    n_classes = 2 if task == "binary" else 3
    x, y = make_classification(
        90, n_features=4, n_informative=3, n_redundant=0, n_classes=n_classes, random_state=0
    )
    return x, [[int(v)] if task == "binary" else [ANIMALS[v]] for v in y]


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Per task: the training CSV, and the same rows to predict with the columns in another
    order, plus a text column the model never saw."""
    root = tmp_path_factory.mktemp("csv")
    files = {}
    for task in TASKS:
        x, labels = _table(task)
        rows = [[*map(float, xi), *yi] for xi, yi in zip(x, labels, strict=True)]
        training = _write_csv(root / f"{task}.csv", FEATURES + LABELS[task], rows)
        shuffled = [["note", *LABELS[task], *FEATURES[::-1]]] + [
            [f"row {i}", *r[4:], *r[3::-1]] for i, r in enumerate(rows)
        ]
        new = _write_csv(root / f"{task}-new.csv", shuffled[0], shuffled[1:])
        files[task] = (training, new)
    return files


def _csv_overrides(task: str, path: Path) -> tuple[str, ...]:
    return (
        "data=csv",
        f"data.path={path}",
        f"data.label_columns=[{','.join(LABELS[task])}]",
        f"data.task={task}",
        "model.hidden_sizes=[8]",
    )


# ------------------------------------------------------------------------- lossbench-eval


@pytest.mark.parametrize("task", TASKS)
def test_eval_recomputes_the_runs_metrics_exactly(make_cfg, tmp_path, task):
    cfg = make_cfg(f"data={TASK_DATA[task]}", "model.dropout=0.1")
    record = train(cfg, tmp_path)
    for split in ("test", "val"):
        result = evaluate(record["best_checkpoint"], split=split)
        metrics = {k: v for k, v in result.items() if k.startswith(f"{split}/")}
        assert metrics == {k: v for k, v in record.items() if k.startswith(f"{split}/")}
    assert result["epoch"] == record["best_epoch"]


def _on_bf16_grid(value: float) -> bool:
    return float(torch.tensor(value).bfloat16()) == value


@pytest.mark.parametrize(
    ("precision", "runner"),
    [("bf16-true", "epoch"), ("bf16-true", "lightning"), ("64-true", "epoch")],
)
def test_eval_recomputes_the_metrics_of_a_true_precision_run_exactly(
    make_cfg, tmp_path, precision, runner
):
    """bf16 / float64 weights: the run's final evaluation ran in the precision plugin's
    context, whose default dtype (bfloat16, float64) torchmetrics' F1 and AUROC took in part.
    The run recorded bfloat16-rounded scores (test/auroc 0.93359375 for eval's 0.9315475...)
    and under 64-true float64 ones where eval gave float32; now both compute the same numbers,
    which are those of the history at the best epoch."""
    cfg = make_cfg(
        "data=breast_cancer",
        f"trainer.precision={precision}",
        "trainer.accelerator=cpu",
        f"runner={runner}",
    )
    record = train(cfg, tmp_path)
    for split in ("test", "val"):
        result = evaluate(record["best_checkpoint"], split=split)
        metrics = {k: v for k, v in result.items() if k.startswith(f"{split}/")}
        assert metrics == {k: v for k, v in record.items() if k.startswith(f"{split}/")}
    best = record["best_epoch"]
    for key in ("val/f1_macro", "val/auroc", "val/loss"):
        assert record[key] == record["history"][key][best]
    scores = [
        record[f"{split}/{name}"] for split in ("val", "test") for name in ("f1_macro", "auroc")
    ]
    assert not all(_on_bf16_grid(value) for value in scores), scores
    if precision == "64-true":  # computed in float64, as the run's scores are
        assert any(float(torch.tensor(value).float()) != value for value in scores), scores


@pytest.mark.slow
def test_eval_scores_the_whole_split_whatever_the_runs_limits(make_cfg, tmp_path):
    """A run's trainer.limit_val_batches / limit_test_batches: 1 (the whole split, one batch),
    or a fraction or 0, as the config.yaml of a run trained before those were refused holds
    them. lossbench-eval scores the whole split, as the run's final evaluation did, instead of
    stopping with Lightning's error or an IndexError."""
    limits = ("trainer.limit_val_batches=1", "trainer.limit_test_batches=1")
    record = train(make_cfg("data=iris", *limits), tmp_path / "run")
    config = tmp_path / "run" / "config.yaml"
    trained = config.read_text()
    assert "limit_val_batches: 1\n" in trained and "limit_test_batches: 1\n" in trained
    for limit, split in (("1", "test"), ("0.5", "test"), ("0", "test"), ("0.5", "val")):
        config.write_text(
            trained.replace("limit_val_batches: 1\n", f"limit_val_batches: {limit}\n").replace(
                "limit_test_batches: 1\n", f"limit_test_batches: {limit}\n"
            )
        )
        out = tmp_path / f"{split}-{limit}.json"
        result = run_module(
            "lossbench.evaluate",
            f"ckpt_path={record['best_checkpoint']}",
            f"split={split}",
            f"out={out}",
            cwd=tmp_path,
        )
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        written = json.loads(out.read_text())
        assert {k: v for k, v in written.items() if k.startswith(f"{split}/")} == {
            k: v for k, v in record.items() if k.startswith(f"{split}/")
        }


def test_eval_recomputes_a_run_with_pos_weight_auto(make_cfg, tmp_path):
    """The checkpoint stores the numbers ``auto`` came to, its config.yaml says ``auto``: the
    same run (it was refused as another run's config)."""
    cfg = make_cfg(
        "data=synthetic_binary_imbalanced", "loss=bce_with_logits", "loss.pos_weight=auto"
    )
    record = train(cfg, tmp_path)
    assert load_checkpoint(record["best_checkpoint"])["hyper_parameters"]["loss"]["pos_weight"]
    result = evaluate(record["best_checkpoint"])
    metrics = {k: v for k, v in result.items() if k.startswith("test/")}
    assert metrics == {k: v for k, v in record.items() if k.startswith("test/")}


@pytest.mark.slow
def test_eval_cli_writes_eval_json_and_nothing_else(make_cfg, tmp_path, csv_files):
    training, _ = csv_files["multiclass"]
    run = tmp_path / "run"
    record = train(
        make_cfg(*_csv_overrides("multiclass", training), "loss=nll", "head=log_softmax"), run
    )
    before = (run / "metrics.json").read_bytes()
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    result = run_module("lossbench.evaluate", f"ckpt_path={record['best_checkpoint']}", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "test/nll" in result.stdout and str(run / "eval.json") in result.stdout
    written = json.loads((run / "eval.json").read_text())
    assert {k: v for k, v in written.items() if k.startswith("test/")} == {
        k: v for k, v in record.items() if k.startswith("test/")
    }
    assert (run / "metrics.json").read_bytes() == before
    assert list(cwd.iterdir()) == []  # no outputs/, .hydra/, logs or lightning_logs


@pytest.mark.slow
def test_eval_and_predict_leave_a_users_partial_file_as_it_was(make_cfg, tmp_path, csv_files):
    """``out=x.csv`` is written through a temporary file beside it; a file of the user's that
    has the temporary name already (``x.csv.partial``) is neither written over nor removed."""
    training, new = csv_files["binary"]
    record = train(
        make_cfg(*_csv_overrides("binary", training), "trainer.max_epochs=1"), tmp_path / "run"
    )
    for command, out, data in [
        ("lossbench.predict", tmp_path / "p.csv", (f"data.path={new}",)),
        ("lossbench.evaluate", tmp_path / "e.json", ()),
    ]:
        yours = out.with_name(out.name + ".partial")
        yours.write_text("the user's own file")
        result = run_module(
            command, f"ckpt_path={record['best_checkpoint']}", *data, f"out={out}", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert out.is_file() and yours.read_text() == "the user's own file"
        assert not out.with_name(out.name + ".1.partial").exists()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.slow  # a training and two multiruns in fresh processes, about 10 s
def test_eval_and_predict_multiruns_write_nothing_but_their_outputs(make_cfg, tmp_path, csv_files):
    """A multirun (``-m``, ``hydra.mode=MULTIRUN``) sweeps in the current directory
    (``hydra.sweep.dir: .``): each job writes its ``out`` and nothing else, not Hydra's
    ``multirun.yaml`` either."""
    training, new = csv_files["binary"]
    run = tmp_path / "run"
    record = train(make_cfg(*_csv_overrides("binary", training), "trainer.max_epochs=1"), run)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    run_before = _files(run)
    evaluated = run_module(
        "lossbench.evaluate",
        "-m",
        f"ckpt_path={record['best_checkpoint']}",
        "split=test,val",
        f"out={run}/eval-${{hydra:job.num}}.json",
        cwd=cwd,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert list(cwd.iterdir()) == []
    assert _files(run) - run_before == {"eval-0.json", "eval-1.json"}
    predicted = run_module(
        "lossbench.predict",
        "hydra.mode=MULTIRUN",  # as -m
        f"ckpt_path={record['best_checkpoint']}",
        f"data.path={training},{new}",
        "out=p-${hydra:job.num}.csv",
        cwd=cwd,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert _files(cwd) == {f"p-{n}.csv{end}" for n in (0, 1) for end in ("", ".lossbench.json")}


@pytest.mark.slow
def test_eval_writes_to_the_checkpoints_run_whatever_config_names(make_cfg, tmp_path):
    """config= naming another run's (equivalent) config: the result goes to the checkpoint's own
    run folder, not to the other run's, whose own evaluation stays possible; -m split=test,val
    keeps both results."""
    ours = train(make_cfg("data=iris", "seed=0"), tmp_path / "ours")
    train(make_cfg("data=iris", "seed=1"), tmp_path / "other")  # seed: not an evaluation setting
    result = run_module(
        "lossbench.evaluate",
        f"ckpt_path={ours['best_checkpoint']}",
        f"config={tmp_path / 'other' / 'config.yaml'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "ours" / "eval.json").read_text())["split"] == "test"
    assert not (tmp_path / "other" / "eval.json").exists()
    both = run_module(
        "lossbench.evaluate",
        "-m",
        f"ckpt_path={ours['best_checkpoint']}",
        "split=test,val",
        cwd=tmp_path,
    )
    assert both.returncode == 0, both.stderr
    assert json.loads((tmp_path / "ours" / "eval.json").read_text())["split"] == "test"
    assert json.loads((tmp_path / "ours" / "eval-val.json").read_text())["split"] == "val"


def test_eval_refuses_data_that_changed_since_training(make_cfg, tmp_path, csv_files):
    training, _ = csv_files["binary"]
    data = tmp_path / "data.csv"
    data.write_text(training.read_text())
    record = train(make_cfg(*_csv_overrides("binary", data), "trainer.max_epochs=1"), tmp_path)
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], *lines[1:][::-1], lines[1]]) + "\n")  # one more row
    with pytest.raises(EvaluationError, match=r"not those checkpoint .* was trained on") as refused:
        evaluate(record["best_checkpoint"])
    # what was given is named: the run's own file, and no config= to blame
    assert f"the data file {data} is not the file as it was at training" in str(refused.value)
    assert "config=" not in str(refused.value)


def test_eval_refuses_a_split_whose_rows_were_edited(make_cfg, tmp_path, csv_files):
    """Only the test rows edited: the training split's statistics are unchanged, but the test
    split's SHA-256 in the checkpoint is not that of the edited rows; val still evaluates."""
    training, _ = csv_files["binary"]
    data = tmp_path / "data.csv"
    data.write_text(training.read_text())
    record = train(make_cfg(*_csv_overrides("binary", data), "trainer.max_epochs=1"), tmp_path)
    checkpoint = load_checkpoint(record["best_checkpoint"])
    data_cfg = OmegaConf.to_container(OmegaConf.load(tmp_path / "config.yaml").data)
    datamodule = ClassificationDataModule(data_cfg, "bce_with_logits")
    assert checkpoint["lossbench_metadata"]["split_sha256"] == datamodule.fingerprints
    labels = np.array([int(row["y"]) for row in csv.DictReader(data.open())])
    _, _, test = split_indices(labels, "binary", val_fraction=0.2, test_fraction=0.2, split_seed=0)
    test_rows = set(test.tolist())
    lines = data.read_text().splitlines()
    edited = [
        line
        if i not in test_rows
        else ",".join([str(float(line.split(",")[0]) + 100), *line.split(",")[1:]])
        for i, line in enumerate(lines[1:])
    ]
    data.write_text("\n".join([lines[0], *edited]) + "\n")
    with pytest.raises(
        EvaluationError,
        match=r"the test rows of the run's data differ from "
        r"those checkpoint .* was evaluated on .*lossbench-predict",
    ):
        evaluate(record["best_checkpoint"])
    assert "val/nll" in evaluate(record["best_checkpoint"], split="val")  # val rows unchanged


def _csv_run_from_a_project_folder(make_cfg, tmp_path, csv_files, monkeypatch) -> dict:
    """A binary CSV run started in ``tmp_path/project`` with the relative ``data.path``
    data.csv (the current folder is left there)."""
    training, _ = csv_files["binary"]
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "data.csv").write_text(training.read_text())
    monkeypatch.chdir(tmp_path / "project")
    cfg = make_cfg(*_csv_overrides("binary", Path("data.csv")), "trainer.max_epochs=1")
    return train(cfg, tmp_path / "run")


def test_eval_finds_a_relative_csv_path_from_the_training_directory(
    make_cfg, tmp_path, csv_files, monkeypatch
):
    record = _csv_run_from_a_project_folder(make_cfg, tmp_path, csv_files, monkeypatch)
    monkeypatch.chdir(tmp_path)  # evaluated from elsewhere: data.csv is not in this directory
    with pytest.raises(EvaluationError, match=r"data.path='data.csv' .*give its new place with"):
        evaluate(record["best_checkpoint"])
    moved = evaluate(record["best_checkpoint"], data_path=tmp_path / "project" / "data.csv")
    # lossbench-train runs under Hydra, which records the directory it was started from.
    (tmp_path / "run" / ".hydra").mkdir()
    hydra_cfg = {"hydra": {"runtime": {"cwd": str(tmp_path / "project")}}}
    (tmp_path / "run" / ".hydra" / "hydra.yaml").write_text(json.dumps(hydra_cfg))
    found = evaluate(record["best_checkpoint"])
    assert found["test/nll"] == moved["test/nll"] == record["test/nll"]


def test_eval_errors_name_the_input_and_the_fix(make_cfg, tmp_path):
    import torch

    record = train(make_cfg("data=iris", "trainer.max_epochs=1"), tmp_path / "run")
    moved = tmp_path / "moved.ckpt"
    moved.write_bytes(Path(record["best_checkpoint"]).read_bytes())
    # moved away from its run: the copy of the run's config that the checkpoint holds is read
    alone = evaluate(moved)
    assert alone["test/nll"] == record["test/nll"] and alone["config"] is None
    result = evaluate(moved, config=tmp_path / "run" / "config.yaml")
    assert result["test/nll"] == record["test/nll"]
    assert result["config"] == str((tmp_path / "run" / "config.yaml").resolve())
    # an older lossbench's checkpoint holds no such copy: config= is asked for
    older = torch.load(moved, weights_only=True)
    del older["lossbench_config"]
    torch.save(older, tmp_path / "older.ckpt")
    with pytest.raises(
        EvaluationError,
        match=r"no config.yaml at .*holds no copy of its run's config .*Give the config.yaml "
        r".*config=",
    ):
        evaluate(tmp_path / "older.ckpt")
    with pytest.raises(EvaluationError, match=r"split='train' is not a split. Valid: test, val"):
        evaluate(moved, split="train")
    with pytest.raises(EvaluationError, match=r"would overwrite a run record"):
        check_out(tmp_path / "run" / "metrics.json", moved)
    with pytest.raises(CheckpointError, match=r"'nope.ckpt' does not exist"):
        evaluate("nope.ckpt")


def test_eval_of_a_checkpoint_copied_into_another_runs_folder_reads_its_own_runs_config(
    make_cfg, tmp_path
):
    """The config.yaml beside a copied checkpoint can be another run's (another split seed
    here: its data check would refuse the file as changed); the checkpoint's own copy of its
    run's config decides."""
    first = train(make_cfg("data=iris", "trainer.max_epochs=1"), tmp_path / "first")
    train(make_cfg("data=iris", "trainer.max_epochs=1", "data.split_seed=7"), tmp_path / "other")
    copied = tmp_path / "other" / "checkpoints" / "first.ckpt"
    copied.write_bytes(Path(first["best_checkpoint"]).read_bytes())
    result = evaluate(copied)
    assert result["test/nll"] == first["test/nll"] and result["config"] is None
    # the run's own folder: its config.yaml, as before
    assert evaluate(first["best_checkpoint"])["config"] == str(
        (tmp_path / "first" / "config.yaml").resolve()
    )


#: Lightning's ModelCheckpoint in place of lossbench's checkpoint callback, as the README shows.
MODEL_CHECKPOINT = (
    "~callbacks.model_checkpoint",
    "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
    "+callbacks.mc.monitor=val/nll",
)


@pytest.mark.slow
def test_eval_of_a_model_checkpoint_in_a_loggers_folder_writes_to_its_run(make_cfg, tmp_path):
    """Lightning's ModelCheckpoint writes to its first logger's folder, <run>/logs/checkpoints/
    (CSV logger): lossbench-eval reads the run's own config.yaml and writes <run>/eval.json,
    with the run's test metrics, not <run>/logs/eval.json without a config."""
    run = tmp_path / "run"
    record = train(make_cfg("data=iris", "logger=csv", *MODEL_CHECKPOINT), run)
    best = Path(record["best_checkpoint"])
    assert best.parent == run / "logs" / "checkpoints"
    result = run_module("lossbench.evaluate", f"ckpt_path='{best}'", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"written to {run / 'eval.json'}" in result.stdout
    assert not (run / "logs" / "eval.json").exists()
    written = json.loads((run / "eval.json").read_text())
    assert written["config"] == str((run / "config.yaml").resolve())
    assert {k: v for k, v in written.items() if k.startswith("test/")} == {
        k: v for k, v in record.items() if k.startswith("test/")
    }


#: What every run's config.yaml holds (lossbench.run_config_file.RUN_CONFIG_KEYS).
RUN_CONFIG_TEXT = "data: {name: iris}\nloss: {name: nll}\nseed: 0\n"


@pytest.mark.parametrize(
    ("checkpoint", "run"),
    [
        ("run/checkpoints/last.ckpt", "run"),  # lossbench's own layout
        ("run/logs/checkpoints/epoch=2-step=3.ckpt", "run"),  # ModelCheckpoint, CSV logger
        ("run/tensorboard/checkpoints/e.ckpt", "run"),  # ModelCheckpoint, TensorBoard
        ("run/lossbench/a1b2/checkpoints/e.ckpt", "run"),  # ModelCheckpoint, W&B or MLflow
        ("run/mine/e.ckpt", "run"),  # +callbacks.mc.dirpath inside the run folder
        ("run/checkpoints-earlier/last.ckpt", "run/checkpoints-earlier"),  # an earlier attempt's
        ("run/checkpoints-earlier-v1/last.ckpt", "run/checkpoints-earlier-v1"),  # one before it
        ("run/checkpoints-max_epochs3/last.ckpt", "run/checkpoints-max_epochs3"),
        ("run/copy.ckpt", "run"),  # a copy placed in a run folder
        ("plain/model.ckpt", "plain"),  # moved away from its run
        ("plain/checkpoints/model.ckpt", "plain"),
        ("run/a/b/c/d/e.ckpt", "run/a/b/c/d"),  # too far below a run folder to be its own
        ("other/a/b/e.ckpt", "other/a/b"),  # moved below another tool's config.yaml
        ("other/checkpoints/e.ckpt", "other"),
    ],
)
def test_the_run_folder_of_each_checkpoint_layout(tmp_path, checkpoint, run):
    """The run folder of a checkpoint (where lossbench-eval reads config.yaml and writes
    eval.json, and whose name lossbench-predict adds to a file name) in every layout
    lossbench-train and Lightning's ModelCheckpoint write. A config.yaml a few folders up that
    is not a run's (another tool's) does not make its folder the checkpoint's run."""
    from lossbench.evaluate import default_out, run_dir_of

    for folder, config in [("run", RUN_CONFIG_TEXT), ("other", "learning_rate: 0.1\n")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.yaml").write_text(config)
    path = tmp_path / checkpoint
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    assert run_dir_of(path) == tmp_path / run
    assert default_out(path) == tmp_path / run / "eval.json"


def _evaluate_copy(first: dict, run: Path) -> tuple[Path, dict]:
    """Copy the best checkpoint of the run ``first`` (its record) into the other run ``run``'s
    checkpoints/ as copy.ckpt and evaluate it with lossbench-eval: it writes
    <run>/eval-copy.json with its own run's numbers and no config of ``run``'s, not
    <run>/eval.json. The copy's path and what it wrote."""
    copied = run / "checkpoints" / "copy.ckpt"
    copied.write_bytes(Path(first["best_checkpoint"]).read_bytes())
    result = run_module("lossbench.evaluate", f"ckpt_path={copied}", cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert f"written to {run / 'eval-copy.json'}, not {run / 'eval.json'}" in result.stdout
    assert not (run / "eval.json").exists()
    written = json.loads((run / "eval-copy.json").read_text())
    assert written["config"] is None and written["test/nll"] == first["test/nll"]
    return copied, written


@pytest.mark.slow  # two trainings and four evaluations in fresh processes
def test_eval_of_a_checkpoint_copied_into_another_run_leaves_that_runs_eval_json(
    make_cfg, tmp_path
):
    """A checkpoint copied into another run's checkpoints/ folder is evaluated with its own
    run's config, and its result goes beside that run's, to <run>/eval-<checkpoint stem>.json
    (split=val: eval-val-<stem>.json), saying so: the run's eval.json stays its own
    checkpoint's, whose evaluation still works, alone or in one multirun with the copy. A copy
    in a plain folder keeps <folder>/eval.json."""
    first = train(make_cfg("data=iris", "seed=0"), tmp_path / "first")
    other = train(make_cfg("data=iris", "seed=1"), tmp_path / "other")
    run = tmp_path / "other"
    copied, written = _evaluate_copy(first, run)
    assert written["checkpoint"] == str(copied.resolve())
    val = run_module("lossbench.evaluate", f"ckpt_path={copied}", "split=val", cwd=tmp_path)
    assert val.returncode == 0, val.stderr
    assert json.loads((run / "eval-val-copy.json").read_text())["split"] == "val"

    own = run_module("lossbench.evaluate", f"ckpt_path={other['best_checkpoint']}", cwd=tmp_path)
    assert own.returncode == 0, own.stderr
    assert "Traceback" not in own.stderr
    assert json.loads((run / "eval.json").read_text())["test/nll"] == other["test/nll"]
    # both in one multirun: each has its own default file, so it is not refused as one out
    both = run_module(
        "lossbench.evaluate", "-m", f"ckpt_path={other['best_checkpoint']},{copied}", cwd=tmp_path
    )
    assert both.returncode == 0, both.stderr

    plain = tmp_path / "plain" / "model.ckpt"
    plain.parent.mkdir()
    plain.write_bytes(copied.read_bytes())
    assert default_out(plain, "test", load_checkpoint(plain)) == plain.parent / "eval.json"


@pytest.mark.slow  # two trainings and two evaluations in fresh processes
def test_eval_of_a_checkpoint_copied_into_a_run_that_differs_only_in_its_learning_rate(
    make_cfg, tmp_path
):
    """Two runs with the same data, model, head, loss and seed but another optimizer.lr are
    two runs: a checkpoint of one copied into the other's checkpoints/ folder writes
    <run>/eval-<stem>.json with its own run's config, and the run's own best checkpoint still
    writes <run>/eval.json."""
    first = train(make_cfg("data=iris", "optimizer.lr=0.001"), tmp_path / "lr001")
    other = train(make_cfg("data=iris", "optimizer.lr=0.01"), tmp_path / "lr01")
    run = tmp_path / "lr01"
    _evaluate_copy(first, run)

    own = run_module("lossbench.evaluate", f"ckpt_path={other['best_checkpoint']}", cwd=tmp_path)
    assert own.returncode == 0, own.stderr
    written = json.loads((run / "eval.json").read_text())
    assert written["config"] == str((run / "config.yaml").resolve())
    assert written["test/nll"] == other["test/nll"]


def test_eval_of_a_copied_checkpoint_of_a_csv_run_says_where_the_path_came_from(
    make_cfg, tmp_path, csv_files, monkeypatch
):
    record = _csv_run_from_a_project_folder(make_cfg, tmp_path, csv_files, monkeypatch)
    copied = tmp_path / "copied.ckpt"
    copied.write_bytes(Path(record["best_checkpoint"]).read_bytes())
    assert evaluate(copied)["test/nll"] == record["test/nll"]  # from the training folder
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        EvaluationError,
        match=r"data.path='data.csv' \(from the checkpoint's copy of its run's config, which "
        r"does not say which folder the run was started from\) .*data_path=",
    ):
        evaluate(copied)
    found = evaluate(copied, data_path=tmp_path / "project" / "data.csv")
    assert found["test/nll"] == record["test/nll"]


# ---------------------------------------------------------------------------- checkpoints


def test_lossbench_checkpoints_load_with_weights_only(make_cfg, tmp_path, csv_files):
    training, _ = csv_files["multiclass"]
    record = train(
        make_cfg(*_csv_overrides("multiclass", training), "trainer.max_epochs=1"), tmp_path
    )
    for path in (record["best_checkpoint"], tmp_path / "checkpoints" / "last.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        meta = checkpoint["lossbench_metadata"]
        assert meta["feature_names"] == FEATURES and meta["classes"] == ANIMALS
        assert (meta["task"], meta["head"], meta["loss"], meta["link"]) == (
            "multiclass",
            "logits",
            "bce_with_logits",
            "sigmoid",
        )
        assert all(isinstance(v, float) for v in meta["feature_mean"] + meta["feature_scale"])
        module = ClassifierModule.load_from_checkpoint(path, weights_only=True)
        assert module.preprocessing["feature_names"] == FEATURES


def test_checkpoint_needing_arbitrary_unpickling_is_refused(tmp_path):
    for name, content in {"custom": {"a": _Custom()}, "numpy": {"w": np.zeros(3)}}.items():
        path = tmp_path / f"{name}.ckpt"
        torch.save(content, path)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        message = str(info.value)
        assert f"refused to load checkpoint {str(path)!r}" in message
        assert "unpickling arbitrary Python objects can execute code" in message
        assert "Only load checkpoints you trust" in message and "re-saved with tensors" in message
        if name == "custom":
            assert "_Custom' object" in message  # names the class it would have to build


def test_missing_and_truncated_checkpoints_are_refused(make_cfg, tmp_path):
    with pytest.raises(CheckpointError, match=r"'missing.ckpt' does not exist .*Give the path"):
        load_checkpoint("missing.ckpt")
    with pytest.raises(CheckpointError, match=r"is a directory, not a file"):
        load_checkpoint(tmp_path)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(
        CheckpointError, match=r"not a readable .*neither a zip archive nor a pickle"
    ):
        load_checkpoint(text)
    record = train(make_cfg("data=iris", "trainer.max_epochs=1"), tmp_path / "run")
    data = Path(record["best_checkpoint"]).read_bytes()
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"not a readable torch checkpoint .*truncated"):
        load_checkpoint(truncated)
    # a run's last.ckpt cut short: the refusal names the run's other checkpoint, not itself
    last = Path(record["best_checkpoint"]).parent / "last.ckpt"
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(last)
    fix = str(info.value).split("another kind of file. ")[1]
    assert fix == f"Use another checkpoint: {record['best_checkpoint']}."
    # alone in its folder (the text file beside it is no checkpoint): no other is named
    with pytest.raises(CheckpointError, match=r"No other checkpoint is beside it in "):
        load_checkpoint(truncated)


# ---------------------------------------------------------------------- lossbench-predict


@pytest.mark.parametrize(("task", "head", "loss"), one_per_task_and_head(ACCEPTED))
def test_predictions_are_the_modules_probabilities(make_cfg, tmp_path, csv_files, task, head, loss):
    training, new = csv_files[task]
    cfg = make_cfg(
        *_csv_overrides(task, training),
        f"head={head}",
        f"loss={loss}",
        "trainer.max_epochs=1",
        "checkpoint.save_last=false",
    )
    record = train(cfg, tmp_path / "run")
    written = write_predictions(
        predict(record["best_checkpoint"], new), tmp_path / "p.csv", record["best_checkpoint"]
    )
    got = _read_csv(written)

    # The reference: the trained module, loaded by Lightning, on the training pipeline's
    # standardisation of the same rows, through the link of its head (or of its loss).
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    table = load_csv(training, LABELS[task], task)
    datamodule = ClassificationDataModule(cfg.data, loss, seed=cfg.seed)
    x = torch.from_numpy(datamodule.preprocessor.transform(table.features, table.categories))
    with torch.no_grad():
        probs = to_probabilities(module.eval()(x), module.link, task)
    names = ANIMALS if task == "multiclass" else LABELS[task]
    got_probs = torch.tensor(
        [[float(v) for v in got[f"p_{n}"]] for n in names], dtype=torch.float64
    )
    got_probs = got_probs.T
    torch.testing.assert_close(got_probs, probs.reshape(len(x), -1), rtol=0, atol=0)
    if task == "multiclass":
        assert got["predicted"] == [ANIMALS[i] for i in probs.argmax(dim=1).tolist()]
        assert list(got) == [f"p_{n}" for n in ANIMALS] + ["predicted"]
    else:
        for k, name in enumerate(names):
            expected = (probs.reshape(len(x), -1)[:, k] > 0.5).long().tolist()
            assert [int(v) for v in got[f"pred_{name}"]] == expected
        assert list(got) == [f"p_{n}" for n in names] + [f"pred_{n}" for n in names]


def test_predictions_of_a_bf16_mixed_run_are_the_scores_its_metrics_saw(
    make_cfg, tmp_path, csv_files
):
    """A run trained and evaluated under bf16-mixed autocast: its predictions come from the
    same bf16 scores (a float32 forward gave others, up to 4e-4 apart)."""
    training, new = csv_files["binary"]
    cfg = make_cfg(
        *_csv_overrides("binary", training),
        "trainer.max_epochs=2",
        "trainer.precision=bf16-mixed",
        "trainer.accelerator=cpu",
    )
    record = train(cfg, tmp_path / "run")
    got = _read_csv(
        write_predictions(
            predict(record["best_checkpoint"], new), tmp_path / "p.csv", record["best_checkpoint"]
        )
    )
    module = ClassifierModule.load_from_checkpoint(record["best_checkpoint"], weights_only=True)
    datamodule = ClassificationDataModule(cfg.data, "bce_with_logits", seed=cfg.seed)
    table = load_csv(training, LABELS["binary"], "binary")
    x = torch.from_numpy(datamodule.preprocessor.transform(table.features, table.categories))
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scores = module.eval()(x)
        in_bf16 = to_probabilities(scores.float(), module.link, "binary").reshape(-1)
        in_fp32 = to_probabilities(module(x), module.link, "binary").reshape(-1)
    assert scores.dtype == torch.bfloat16
    got_probs = torch.tensor([float(v) for v in got["p_y"]], dtype=torch.float64)
    torch.testing.assert_close(got_probs, in_bf16, rtol=0, atol=0)
    assert (got_probs - in_fp32).abs().max() > 1e-5  # what the float32 forward gave


def test_training_features_are_the_stored_standardisation_of_the_rows(csv_files):
    training, _ = csv_files["binary"]
    data = {"name": "csv", "path": str(training), "label_columns": ["y"], "task": "binary"}
    data.update(batch_size=None, split_seed=0, val_fraction=0.2, test_fraction=0.2)
    datamodule = ClassificationDataModule(data, "bce_with_logits")
    table = load_csv(training, ["y"], "binary")
    all_rows = {
        tuple(r)
        for r in datamodule.preprocessor.transform(table.features, table.categories).tolist()
    }
    for features, _, _ in datamodule.tensors.values():
        assert {tuple(r) for r in features.tolist()} <= all_rows


def _predict_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_module("lossbench.predict", *args, cwd=cwd)


@pytest.mark.slow
def test_predict_cli_writes_original_class_values(make_cfg, tmp_path):
    x, y = make_classification(
        90, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=1
    )
    ids = [3, 7, 9]
    rows = [[*map(float, xi), ids[v]] for xi, v in zip(x, y, strict=True)]
    data = _write_csv(tmp_path / "digits.csv", [*FEATURES, "digit"], rows)
    overrides = ("data=csv", f"data.path={data}", "data.label_columns=[digit]")
    record = train(
        make_cfg(*overrides, "data.task=multiclass", "loss=cross_entropy", "trainer.max_epochs=1"),
        tmp_path / "run",
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _write_csv(cwd / "new.csv", FEATURES[::-1], [r[3::-1] for r in rows[:5]])
    ckpt = f"ckpt_path={record['best_checkpoint']}"
    result = _predict_cli(ckpt, "data=csv", "data.path=new.csv", "out=preds.csv", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "5 predictions written to preds.csv" in result.stdout
    # nothing else but the record of the checkpoint that wrote them
    assert sorted(p.name for p in cwd.iterdir()) == [
        "new.csv",
        "preds.csv",
        "preds.csv.lossbench.json",
    ]
    got = _read_csv(cwd / "preds.csv")
    assert list(got) == ["p_3", "p_7", "p_9", "predicted"]
    probs = np.array([[float(v) for v in got[f"p_{i}"]] for i in ids]).T
    assert got["predicted"] == [str(ids[i]) for i in probs.argmax(axis=1)]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)

    # the same refusal through the CLI: test_refusals_cli.py, predict-missing-feature-column
    _write_csv(cwd / "bad.csv", ["f0", "f2", "digit"], [[1.0, 2.0, 3]])
    with pytest.raises(DataError, match=r"this file lacks: 'f1', 'f3'.*the file has 'f0', 'f2'"):
        predict(record["best_checkpoint"], cwd / "bad.csv")


@pytest.mark.slow  # a training and a prediction in fresh processes, about 10 s
def test_integer_labels_with_leading_zeros_stay_as_their_file_writes_them(tmp_path):
    """Labels 7, 007 and 010 are three classes (leading zeros count), and lossbench-predict
    writes each as the training file writes it: 010, not 10."""
    x, y = make_classification(
        90, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=1
    )
    ids = ["7", "007", "010"]
    rows = [[*map(float, xi), ids[v]] for xi, v in zip(x, y, strict=True)]
    data = _write_csv(tmp_path / "codes.csv", [*FEATURES, "code"], rows)
    run = tmp_path / "run"
    trained = run_module(
        "lossbench.train",
        "data=csv",
        f"data.path={data}",
        "data.label_columns=[code]",
        "data.task=multiclass",
        "trainer.max_epochs=1",
        "logger=none",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    record = json.loads((run / "metrics.json").read_text())
    assert record["n_outputs"] == 3
    result = _predict_cli(
        f"ckpt_path={record['best_checkpoint']}",
        "data=csv",
        f"data.path={data}",
        "out=preds.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    got = _read_csv(tmp_path / "preds.csv")
    assert list(got)[:3] == ["p_007", "p_7", "p_010"]
    assert set(got["predicted"]) <= set(ids) and "10" not in got["predicted"]
    probs = np.array([[float(v) for v in got[f"p_{i}"]] for i in ["007", "7", "010"]]).T
    assert got["predicted"] == [["007", "7", "010"][i] for i in probs.argmax(axis=1)]


def test_predicted_class_is_named_as_in_the_probability_columns(make_cfg, tmp_path):
    """A built-in data set's classes are ids with names (iris: 0, 1, 2 = setosa, ...): the
    predicted class is written by name, as the p_ columns are, not as its id."""
    from sklearn.datasets import load_iris

    record = train(make_cfg("data=iris", "trainer.max_epochs=1"), tmp_path / "run")
    iris = load_iris(as_frame=True)
    rows = [list(map(float, r)) for r in iris.data.to_numpy()[::30]]
    data = _write_csv(tmp_path / "iris.csv", list(iris.data.columns), rows)
    got = predict(record["best_checkpoint"], data)
    names = list(iris.target_names)
    assert list(got) == [f"p_{n}" for n in names] + ["predicted"]
    probs = np.array([got[f"p_{n}"] for n in names]).T
    assert got["predicted"] == [names[i] for i in probs.argmax(axis=1)]


def test_predict_refuses_bad_input_with_the_fix(make_cfg, tmp_path, csv_files):
    training, _ = csv_files["binary"]
    record = train(make_cfg(*_csv_overrides("binary", training), "trainer.max_epochs=1"), tmp_path)
    text = tmp_path / "text.csv"
    _write_csv(text, FEATURES, [[1, 2, 3, 4], [1, "high", 3, 4]])
    with pytest.raises(
        DataError,
        match=r"feature column 'f1' mixes numbers and text: '2' .* and 'high' at .*\(1 text row; "
        r"values: 'high'\).*trained on it as numbers: correct or drop those rows in the file, "
        r"or, where the column's values are codes rather than quantities \(ids, postcodes\), "
        r"retrain with data.categorical_columns=\[f1\] .* and predict with the new run's "
        r"checkpoint",
    ):
        predict(record["best_checkpoint"], text)
    missing = tmp_path / "missing.csv"
    _write_csv(missing, FEATURES, [[1, 2, 3, 4], [1, 2, "NA", 4]])
    with pytest.raises(DataError) as info:  # the fixes of a prediction, not training settings
        predict(record["best_checkpoint"], missing)
    message = str(info.value)
    assert "feature column 'f2' has a missing value ('NA')" in message
    assert "fill in or drop those rows in the file, or retrain with data.impute=median" in message
    assert "leave the column out" not in message
    with pytest.raises(DataError, match=r"is the input file data.path"):
        write_predictions({"p_y": [0.5]}, text, "a.ckpt", data_path=text)


@pytest.mark.slow
def test_predict_with_the_wrong_delimiter_names_the_files_own(make_cfg, tmp_path, csv_files):
    """A comma file read with data.delimiter=';' is one column: the refusal says the header is
    joined by ',' (it said to add the missing columns)."""
    training, new = csv_files["binary"]
    record = train(make_cfg(*_csv_overrides("binary", training), "trainer.max_epochs=1"), tmp_path)
    result = _predict_cli(
        f"ckpt_path={record['best_checkpoint']}",
        f"data.path={new}",
        "data.delimiter=';'",
        f"out={tmp_path / 'p.csv'}",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert (
        "The header's names are joined by ',', not by the delimiter ';' (given as "
        "data.delimiter): give 'data.delimiter=\",\"' or leave it out" in result.stderr
    )
    assert not (tmp_path / "p.csv").exists()


def test_predict_refuses_a_checkpoint_without_preprocessing(tmp_path, csv_files):
    """A checkpoint that a plain Trainer wrote around a ClassifierModule lacks the data's
    preprocessing; predicting with it would standardise with unknown statistics."""
    data = {"name": "iris", "batch_size": None, "split_seed": 0}
    datamodule = ClassificationDataModule(
        {**data, "val_fraction": 0.2, "test_fraction": 0.2}, "cross_entropy"
    )
    module = ClassifierModule(
        task="multiclass",
        n_features=4,
        n_outputs=3,
        n_targets=3,
        model={"name": "linear"},
        head="logits",
        loss={"name": "cross_entropy"},
        optimizer={
            "name": "adam",
            "lr": 1e-3,
            "weight_decay": 0.0,
            "betas": [0.9, 0.999],
            "eps": 1e-8,
        },
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(module, datamodule=datamodule)
    path = tmp_path / "plain.ckpt"
    trainer.save_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"does not store the preprocessing .*Retrain"):
        predict(path, csv_files["binary"][1])


@pytest.mark.slow
def test_predict_cli_warns_of_categories_the_model_never_saw(make_cfg, tmp_path):
    colors, zips = ["blue", "green", "red"], ["10115", "10117", "20095"]
    rows = [[i / 60, colors[i % 3], zips[(i // 3) % 3], int(i % 3 == 2)] for i in range(60)]
    data = _write_csv(tmp_path / "train.csv", ["a", "color", "zip", "y"], rows)
    cfg = make_cfg(*_csv_overrides("binary", data), "data.categorical_columns=[zip]")
    record = train(cfg, tmp_path / "run")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    new = [
        [0.5, "red", "10115"],
        [0.5, "red", "10115.0"],  # as pandas writes an integer column with a missing value
        [0.5, "Red", "10115"],
        [0.5, "purple", "10117"],
        [0.5, "Red", "99999"],
        [0.5, "blue", "020095"],
    ]
    _write_csv(cwd / "new.csv", ["a", "color", "zip"], new)
    ckpt = f"ckpt_path={record['best_checkpoint']}"
    result = _predict_cli(ckpt, "data=csv", "data.path=new.csv", "out=preds.csv", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "6 predictions written to preds.csv" in result.stdout
    warned = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(warned) == 2, result.stderr
    color, zip_code = warned
    assert color.startswith("lossbench: warning: feature column 'color': 3 of 6 rows have ")
    assert "categories the model never saw ('Red' (did you mean 'red'?), 'purple')" in color
    assert "encoded as no known category" in color
    assert "Known categories: 'blue', 'green', 'red'." in color
    assert "feature column 'zip': 2 of 6 rows" in zip_code  # 10115.0 is 10115
    assert "('020095' (did you mean '20095'?), '99999')" in zip_code
    got = _read_csv(cwd / "preds.csv")
    assert list(got) == ["p_y", "pred_y"] and len(got["p_y"]) == 6
    assert got["p_y"][1] == got["p_y"][0]  # 10115.0: the category 10115
    assert got["p_y"][2] != got["p_y"][0]  # Red: no known colour

    # known categories only: no warning
    _write_csv(cwd / "known.csv", ["a", "color", "zip"], new[:2])
    result = _predict_cli(ckpt, "data=csv", "data.path=known.csv", "out=known-preds.csv", cwd=cwd)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr

    # training settings copied into the command: said to be unused, the predictions the same
    result = _predict_cli(
        ckpt, "data=csv", "data.path=known.csv", "out=copied-preds.csv", "data.impute=median",
        "data.categorical_columns=[color]", cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert warned == [
        "lossbench: warning: data.impute=median, data.categorical_columns=[color] are not used: "
        "the model's features, their preprocessing (scaling, categories, imputed values) and its "
        "classes come from the checkpoint, as its run trained them; lossbench-predict reads only "
        "data.path and data.delimiter. To change them, retrain with the setting and predict "
        "with the new run's checkpoint."
    ], result.stderr
    assert _read_csv(cwd / "copied-preds.csv") == _read_csv(cwd / "known-preds.csv")
