"""Tab completion (``eval "$(lossbench-eval -sc install=bash)"``) offers each command what it
reads: lossbench-eval its settings, lossbench-predict its settings and ``data=csv`` /
``data=images``, never training's groups nor the schemas in Hydra's ConfigStore; each composes
from a config folder of its own (:func:`lossbench.train.config_dir`). A flag among the overrides
(``data=iris -m data.ba``) completes as with the flag first. A completion query without the line
to complete is refused."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import pytest

from cli_process import run_console, run_module
from lossbench.evaluate import EvalConfig
from lossbench.predict import PredictConfig

#: Hydra's own top-level entries, offered to every command: ``hydra`` (its groups, hydra/...)
#: and ``hydra.`` (its settings).
HYDRA = {"hydra", "hydra."}


def completion(command: str, line: str) -> set[str]:
    """What the bash completion of ``lossbench-COMMAND`` offers for ``line`` (the whole command
    line up to the cursor, as the shell's completion script hands it over)."""
    result = run_console(
        command,
        "-sc",
        "query=bash",
        extra_env={"COMP_LINE": line, "COMP_POINT": str(len(line))},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return set(result.stdout.split())


def test_eval_completes_its_settings_only() -> None:
    """No training group (``loss=``, ``model=``, ...) nor ``schema/`` (the ConfigStore's)."""
    offered = completion("eval", "lossbench-eval ")
    assert offered == {f"{field.name}=" for field in fields(EvalConfig)} | HYDRA


def test_predict_completes_its_settings_and_data_group_only() -> None:
    offered = completion("predict", "lossbench-predict ")
    settings = {f"{field.name}=" for field in fields(PredictConfig)}
    assert offered == settings | {"data."} | HYDRA


def test_predict_completes_the_data_options_it_reads() -> None:
    """csv and images: not the data sets lossbench-train trains on (iris, openml, ...)."""
    assert completion("predict", "lossbench-predict data=") == {"data=csv", "data=images"}


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_checkpoint_commands_complete_the_launchers_of_hydras_plugins(command: str) -> None:
    offered = completion(command, f"lossbench-{command} hydra/launcher=")
    assert {"hydra/launcher=basic", "hydra/launcher=joblib"} <= offered, offered


@pytest.mark.slow
def test_train_still_completes_its_groups() -> None:
    offered = completion("train", "lossbench-train ")
    assert {"data=", "loss=", "model=", "seed="} <= offered, offered
    assert "data=iris" in completion("train", "lossbench-train data=")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("lossbench-train s", {"seed=", "scheduler=", "setup="}),
        ("lossbench-train +s", {"+scheduler=", "+setup="}),
        ("lossbench-train schema/data=", set()),
        ("lossbench-train ~schema/", set()),
    ],
)
def test_train_completes_no_schema(line: str, expected: set[str]) -> None:
    """``schema/`` holds the ConfigStore's schemas the YAML files build on, no choice of the
    user's (``--help`` leaves them out too): ``s<TAB>`` offered ``schema/``, and
    ``schema/data=<TAB>`` each data set, which lossbench-train then refused."""
    offered = completion("train", line)
    assert expected <= offered, offered
    assert not [word for word in offered if word.lstrip("+~").startswith("schema")], offered


@pytest.mark.parametrize(
    ("command", "flag_first", "flag_among_overrides", "expected"),
    [
        ("train", "-m data.ba", "data=iris -m data.ba", "data.batch_size="),
        ("train", "-m data=iris seed=1 lo", "data=iris -m seed=1 lo", "loss="),
        pytest.param(  # 5-8 s, where the others take 1-3 s
            "train",
            "--cfg job data=iris seed=1 ",
            "data=iris --cfg job seed=1 ",
            "loss=",
            marks=pytest.mark.slow,
        ),
        ("eval", "-m split=test ckpt", "split=test -m ckpt", "ckpt_path="),
        ("predict", "-m data=csv data.pa", "data=csv -m data.pa", "data.path="),
    ],
)
def test_a_flag_among_the_overrides_completes_as_with_the_flag_first(
    command: str, flag_first: str, flag_among_overrides: str, expected: str
) -> None:
    """Hydra 1.3's completion parses the line with its parser, which refuses an override after
    a flag (argparse's usage text instead of completions); the commands complete it as they run
    it, with the flags first."""
    first = completion(command, f"lossbench-{command} {flag_first}")
    assert expected in first, first
    assert completion(command, f"lossbench-{command} {flag_among_overrides}") == first


@pytest.mark.parametrize("command", ["train", "eval", "predict"])
@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_completion_query_without_the_line_is_refused(command: str, shell: str) -> None:
    """Hydra reads COMP_LINE without checking (a KeyError and its traceback)."""
    module = {"train": "lossbench.train", "eval": "lossbench.evaluate"}.get(
        command, "lossbench.predict"
    )
    result = run_module(module, "-sc", f"query={shell}", unset=("COMP_LINE", "COMP_POINT"))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    line = result.stderr.strip()
    assert line.startswith(f"lossbench: refused: lossbench-{command}: -sc query={shell} "), line
    assert "which sets COMP_LINE" in line, line
    install = (
        f"lossbench-{command} -sc install=fish | source"
        if shell == "fish"
        else f'eval "$(lossbench-{command} -sc install=bash)"'
    )
    assert line.endswith(install), line


def test_each_command_has_a_config_folder_holding_only_what_it_reads() -> None:
    from lossbench.train import config_dir

    def files(command: str) -> list[str]:
        folder = config_dir(command)
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    assert files("eval") == ["eval.yaml"]
    assert files("predict") == ["data/csv.yaml", "data/images.yaml", "predict.yaml"]
    train = config_dir()
    assert (train / "train.yaml").is_file()
    assert not (train / "eval.yaml").exists() and not (train / "predict.yaml").exists()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_every_config_folder_is_shipped_in_the_wheel() -> None:
    """Each folder of :data:`lossbench.config_folders.CONFIG_FOLDERS` is in the package (its
    files ship with it) or copied into it by pyproject.toml, where
    :func:`lossbench.config_folders.config_dir` looks first."""
    import tomllib

    import lossbench
    from lossbench.config_folders import CONFIG_FOLDERS

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    package = Path(lossbench.__file__).parent
    for folder in CONFIG_FOLDERS.values():
        top = folder.split("/")[0]
        in_package = (package / folder).is_dir()
        assert in_package or shipped.get(top) == f"lossbench/{top}", (folder, shipped)
