"""The private Hydra names lossbench uses (:mod:`lossbench.hydra_internals`) are still there and
still do what it relies on. A failure here means Hydra moved: read the module's docstring."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra._internal import utils

from cli_process import run_module
from lossbench import hydra_internals
from lossbench.hydra_internals import (
    callbacks_checked,
    flags_first,
    hydra_arguments,
    hydra_overrides,
    translating_errors,
)
from lossbench.train import main


def test_hydra_reports_errors_through_run_and_report() -> None:
    """``_run_hydra`` and ``_run_app`` call ``run_and_report`` as a module global: replacing
    the global is what lets lossbench see a composition error before Hydra prints it."""
    assert callable(getattr(utils, "run_and_report", None)), "Hydra renamed run_and_report"
    for caller in ("_run_hydra", "_run_app"):
        function = getattr(utils, caller, None)
        assert function is not None, f"Hydra renamed hydra._internal.utils.{caller}"
        assert "run_and_report" in function.__code__.co_names, (
            f"hydra._internal.utils.{caller} no longer calls run_and_report"
        )
    assert callable(getattr(utils, "get_args_parser", None)), "Hydra renamed get_args_parser"


def test_hydra_builds_its_callbacks_through_a_global_that_lossbench_can_check() -> None:
    """``Hydra.run`` and ``Hydra.multirun`` build the callbacks with ``Callbacks(cfg)``, a global
    of ``hydra._internal.hydra``: replacing it is what lets lossbench check the entries of
    ``hydra.callbacks`` before Hydra builds them (:func:`callbacks_checked`)."""
    from hydra._internal import hydra as hydra_app
    from omegaconf import OmegaConf

    original = getattr(hydra_app, "Callbacks", None)
    assert callable(original), "Hydra renamed hydra._internal.hydra.Callbacks"
    for method in ("run", "multirun"):
        code = getattr(hydra_app.Hydra, method).__code__
        assert "Callbacks" in code.co_names, f"Hydra.{method} no longer builds Callbacks(cfg)"
    config = OmegaConf.create({"hydra": {"callbacks": {}}})
    seen = []
    with callbacks_checked(seen.append):
        built = hydra_app.Callbacks(config)
    assert seen == [config] and isinstance(built, original)
    assert hydra_app.Callbacks is original


def test_the_private_classes_used_as_they_are_still_have_what_lossbench_calls() -> None:
    """The sweeper plugin extends ``BasicSweeper``; the config cache wraps a
    ``ConfigRepository`` behind the ``IConfigRepository`` interface."""
    basic_sweeper = hydra_internals.BasicSweeper
    for method in ("__init__", "setup", "sweep", "get_job_batch", "validate_batch_is_legal"):
        assert callable(getattr(basic_sweeper, method, None)), f"BasicSweeper.{method}"
    repository = hydra_internals.ConfigRepository
    assert issubclass(repository, hydra_internals.IConfigRepository)
    for method in (
        "load_config",
        "get_schema_source",
        "initialize_sources",
        "group_exists",
        "config_exists",
        "get_group_options",
        "get_sources",
    ):
        assert callable(getattr(repository, method, None)), f"ConfigRepository.{method}"
    with pytest.raises(AttributeError, match="NoSuchClass"):
        hydra_internals.NoSuchClass  # noqa: B018


def test_basic_sweeper_is_the_class_hydras_module_holds_now(monkeypatch) -> None:
    """Hydra's plugin scan runs ``basic_sweeper`` again, and its ``__init__`` calls
    ``super(BasicSweeper, self)`` with the new class: the sweeper plugin must extend that
    one, so the name is read from the module when it is imported, never kept."""
    from hydra._internal.core_plugins import basic_sweeper

    class Rerun:
        """What the module holds after Hydra ran it again."""

    monkeypatch.setattr(basic_sweeper, "BasicSweeper", Rerun)
    assert hydra_internals.BasicSweeper is Rerun


def test_a_translated_error_is_refused_and_others_stay_hydras(capsys, monkeypatch) -> None:
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    original = utils.run_and_report

    def fail(error: Exception):
        def run():
            raise error

        return run

    with translating_errors(lambda e: f"given {e}" if isinstance(e, KeyError) else None):
        assert utils.run_and_report(lambda: 3) == 3
        with pytest.raises(SystemExit) as stop:
            utils.run_and_report(fail(KeyError("x")))
        assert stop.value.code == 2
        assert capsys.readouterr().err == "lossbench: refused: given 'x'\n"
        with pytest.raises(SystemExit) as stop:
            utils.run_and_report(fail(ValueError("not ours")))
        assert stop.value.code == 1  # Hydra's report, as before
        assert "not ours" in capsys.readouterr().err
    assert utils.run_and_report is original


def test_an_error_leaving_the_block_is_translated_too(capsys) -> None:
    """Hydra composes for --help and --info outside run_and_report: such an error leaves the
    block itself, and is refused the same way; others keep their traceback."""
    with pytest.raises(SystemExit) as stop, translating_errors(lambda e: f"given {e}"):
        raise KeyError("x")
    assert stop.value.code == 2
    assert capsys.readouterr().err == "lossbench: refused: given 'x'\n"
    with pytest.raises(ValueError, match="not ours"), translating_errors(lambda e: None):
        raise ValueError("not ours")


def test_the_overrides_are_those_hydras_parser_separates() -> None:
    arguments = ["-cd", "mine", "--cfg", "job", "-p", "loss", "seed=1", "-m", "--info", "defaults"]
    assert hydra_overrides(arguments) == ["seed=1"]
    assert hydra_arguments(["-m", "seed=0,1"]).multirun
    assert hydra_overrides(["--cfg", "nothing"]) == []  # Hydra's parser refuses: Hydra says so


def test_a_command_line_hydra_refuses_is_left_to_hydra_without_a_second_message(capsys) -> None:
    assert hydra_arguments(["--no-such-flag"]) is None
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "arguments",
    [
        ["data=wine", "-m", "seed=0,1"],
        ["-m", "data=wine", "--cfg", "job", "seed=0,1"],
        ["data=wine", "-cd", "mine", "seed=0,1", "-p", "loss", "loss=nll"],
        ["data=wine", "--info", "defaults", "seed=0,1"],
    ],
)
def test_overrides_on_both_sides_of_a_flag_are_read_as_with_the_flags_first(arguments) -> None:
    """Hydra 1.3's parser refuses these (its issue #3053); put the flags first, they mean the
    same flags and the same overrides in the same order."""
    assert hydra_arguments(arguments) is None  # Hydra 1.3 refuses the line as given
    overrides = [a for a in arguments if "=" in a]
    reordered = flags_first(arguments)
    assert reordered[-len(overrides) :] == overrides
    parsed = hydra_arguments(reordered)
    assert parsed is not None and parsed.overrides == overrides
    flags = [a for a in arguments if a not in overrides]
    assert vars(parsed) == {**vars(hydra_arguments([*flags, *overrides])), "overrides": overrides}


@pytest.mark.parametrize(
    "arguments",
    [
        ["data=wine", "seed=0,1", "-m"],  # Hydra reads it already
        ["data=wine", "--no-such-flag", "seed=0"],  # Hydra names the unknown flag
        ["data=wine", "--cfg", "nothing", "seed=0"],  # and the value it does not know
    ],
)
def test_a_line_hydra_reads_or_refuses_for_another_reason_is_left_as_given(arguments) -> None:
    assert flags_first(arguments) == arguments


@pytest.mark.slow
def test_a_sweep_whose_overrides_surround_m_runs_every_job(tmp_path: Path) -> None:
    """``lossbench-train data=iris -m seed=0,1``: Hydra 1.3 alone stops with "unrecognized
    arguments: seed=0,1"; lossbench runs both seeds."""
    result = run_module(
        "lossbench.train",
        "data=iris",
        "trainer.max_epochs=1",
        "-m",
        "seed=0,1",
        f"paths.output_dir={tmp_path}",
        "hydra/launcher=basic",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = sorted(tmp_path.glob("multiruns/*/*/metrics.json"))
    assert [r.parent.name.split("_", 1)[0] for r in records] == ["0", "1"]
    seeds = sorted(
        line.split(": ", 1)[1]
        for record in records
        for line in (record.parent / "config.yaml").read_text().splitlines()
        if line.startswith("seed: ")
    )
    assert seeds == ["0", "1"]


def test_hydra_shows_its_node_through_get_sanitized_cfg() -> None:
    """``--cfg hydra`` takes Hydra's node with ``Hydra.get_sanitized_cfg``, which
    :func:`~lossbench.hydra_internals.hydra_node_resolved_in_full` wraps for ``--resolve``."""
    from hydra._internal.hydra import Hydra

    assert callable(getattr(Hydra, "get_sanitized_cfg", None)), "Hydra renamed get_sanitized_cfg"
    assert "get_sanitized_cfg" in Hydra.show_cfg.__code__.co_names


@pytest.mark.parametrize("package", [[], ["-p", "hydra.run"]])
def test_cfg_hydra_resolve_shows_the_run_directory_resolved(package, capsys, monkeypatch) -> None:
    """``lossbench-train --cfg hydra --resolve``: Hydra's node interpolates the job's
    ``paths.output_dir``, which Hydra alone cannot resolve (``InterpolationKeyError``)."""
    monkeypatch.setattr("sys.argv", ["lossbench-train", "--cfg", "hydra", "--resolve", *package])
    main()
    shown = capsys.readouterr().out
    assert "dir: outputs/runs/" in shown
    assert "${" not in shown


def test_cfg_job_resolve_shows_where_a_run_would_write(capsys, monkeypatch) -> None:
    """``${run_dir:}`` is Hydra's ``runtime.output_dir``, set only once a run starts: with
    ``--cfg job --resolve`` it shows ``hydra.run.dir`` (where a run started then would write),
    not ``.``, and every key made from it shows the same directory."""
    monkeypatch.setattr("sys.argv", ["lossbench-train", "--cfg", "job", "--resolve"])
    main()
    shown = capsys.readouterr().out
    run_dirs = re.findall(r"^  run_dir: (.*)$", shown, flags=re.MULTILINE)
    assert len(run_dirs) == 1 and run_dirs[0].startswith("outputs/runs/"), run_dirs
    assert f"dirpath: {run_dirs[0]}/checkpoints" in shown
    assert set(re.findall(r"outputs/runs/[^/\s]+", shown)) == {run_dirs[0]}


def test_a_sweeps_own_config_loader_composes_its_jobs_as_hydras_does(tmp_path: Path) -> None:
    """:func:`~lossbench.hydra_internals.sweep_config_loader` builds Hydra's config loader from
    the multirun's own search path (``hydra.runtime.config_sources``, a ``hydra.searchpath``
    folder included once): a job it composes is the job Hydra's loader composes."""
    import warnings

    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.utils import setup_globals
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from lossbench.config import register_configs
    from lossbench.hydra_internals import sweep_config_loader
    from lossbench.train import config_dir

    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nseed: 7\n")
    setup_globals()
    register_configs()
    hydras = ConfigLoaderImpl(config_search_path=utils.create_config_search_path(str(config_dir())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        overrides = [f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine,mine", "seed=1,2"]
        config = hydras.load_configuration("train", overrides, RunMode.MULTIRUN)
        loader = sweep_config_loader(config)
        job = ["experiment=mine", "data=iris"]
        ours, theirs = loader.load_sweep_config(config, job), hydras.load_sweep_config(config, job)
    paths = [(e.provider, e.path) for e in loader.get_search_path().get_path()]
    assert paths[-1] == ("schema", "structured://")
    assert f"file://{tmp_path}" not in [path for _, path in paths]  # each composition adds it
    assert ours.seed == 7 and ours.data.name == "iris"
    assert OmegaConf.to_container(ours, resolve=False) == OmegaConf.to_container(
        theirs, resolve=False
    )
