"""The private Hydra names lossbench uses (:mod:`lossbench.hydra_internals`) are still there and
still do what it relies on. A failure here means Hydra moved: read the module's docstring."""

from __future__ import annotations

import pytest
from hydra._internal import utils

from lossbench.hydra_internals import hydra_arguments, hydra_overrides, translating_errors


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


def test_the_overrides_are_those_hydras_parser_separates() -> None:
    arguments = ["-cd", "mine", "--cfg", "job", "-p", "loss", "seed=1", "-m", "--info", "defaults"]
    assert hydra_overrides(arguments) == ["seed=1"]
    assert hydra_arguments(["-m", "seed=0,1"]).multirun
    assert hydra_overrides(["--cfg", "nothing"]) == []  # Hydra's parser refuses: Hydra says so


def test_a_command_line_hydra_refuses_is_left_to_hydra_without_a_second_message(capsys) -> None:
    assert hydra_arguments(["--no-such-flag"]) is None
    assert capsys.readouterr().err == ""
