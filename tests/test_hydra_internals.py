"""The private Hydra names lossbench uses (:mod:`lossbench.hydra_internals`) are still there and
still do what it relies on. A failure here means Hydra moved: read the module's docstring."""

from __future__ import annotations

from hydra._internal import utils

from lossbench.hydra_internals import hydra_arguments, hydra_overrides


def test_hydras_argument_parser_is_where_lossbench_reads_it() -> None:
    assert callable(getattr(utils, "get_args_parser", None)), "Hydra renamed get_args_parser"


def test_the_overrides_are_those_hydras_parser_separates() -> None:
    arguments = ["-cd", "mine", "--cfg", "job", "-p", "loss", "seed=1", "-m", "--info", "defaults"]
    assert hydra_overrides(arguments) == ["seed=1"]
    assert hydra_arguments(["-m", "seed=0,1"]).multirun
    assert hydra_overrides(["--cfg", "nothing"]) == []  # Hydra's parser refuses: Hydra says so


def test_a_command_line_hydra_refuses_is_left_to_hydra_without_a_second_message(capsys) -> None:
    assert hydra_arguments(["--no-such-flag"]) is None
    assert capsys.readouterr().err == ""
