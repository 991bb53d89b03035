"""``lossbench.importing.collection_paused``: no garbage collection while the block imports,
one full collection when it ends, none when it imported nothing; in a console command
(``console_command``) the imports are frozen instead, and the command ends with its heap
frozen, however it ends."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_process import SRC
from lossbench.importing import collection_paused, console_command

#: A module whose import allocates enough container objects to start many collections.
MODULE = """
cycles = []
for i in range(20_000):
    node = {"i": i}
    node["self"] = node
    cycles.append(node)
"""


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of each garbage collection that starts while the test runs."""
    started: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield started
    finally:
        gc.callbacks.remove(record)


@pytest.fixture
def module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"lossbench_import_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_the_same_import_starts_collections_when_they_are_on(module_name, collections) -> None:
    """The probe: importing the module with collections on does start them (so the tests
    below could fail)."""
    assert gc.isenabled()
    importlib.import_module(module_name)
    assert len(collections) > 10


def test_an_import_runs_without_collections_then_collects_once(module_name, collections):
    with collection_paused():
        importlib.import_module(module_name)
        assert not gc.isenabled()
        assert collections == []
    assert collections == [2]  # one full collection, as the block ends
    assert gc.isenabled()


def test_a_block_that_imports_nothing_new_collects_nothing(module_name, collections) -> None:
    importlib.import_module(module_name)
    collections.clear()
    with collection_paused():
        importlib.import_module(module_name)  # loaded already
    assert collections == []
    assert gc.isenabled()


def test_collection_paused_by_the_caller_stays_paused(module_name, collections) -> None:
    gc.disable()
    try:
        with collection_paused():
            importlib.import_module(module_name)
        assert not gc.isenabled()
        assert collections == []
    finally:
        gc.enable()


def test_collection_comes_back_on_after_a_failed_import(collections) -> None:
    with pytest.raises(ModuleNotFoundError), collection_paused():
        importlib.import_module("lossbench_no_such_module")
    assert gc.isenabled()


#: Runs a console entry point as its script does, then reports at exit (``atexit`` functions run
#: after the command's block, before Python clears the modules) how many objects are frozen.
FROZEN_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen", gc.get_freeze_count(), file=sys.stderr))
sys.argv = [sys.argv[1], *sys.argv[2:]]
from lossbench import commands
sys.exit(getattr(commands, sys.argv[0].removeprefix("lossbench-").replace("eval", "evaluate"))())
"""


def _frozen_at_exit_of(*argv: str) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", FROZEN_PROBE, *argv],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("frozen ")]
    assert lines, result.stderr[-2000:]
    return result.returncode, int(lines[-1].split()[1])


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (("lossbench-train", "--help"), 0),  # returns
        (("lossbench-train", "optimzer.lr=0.1"), 2),  # refused: sys.exit(2)
        (("lossbench-eval", "--help"), 0),
        (("lossbench-report", "no/such/study"), 2),
    ],
)
def test_a_console_command_ends_with_its_heap_frozen(argv, status) -> None:
    """Python's exit then skips the frozen objects instead of walking them all again (about
    1.5 s with torch and Lightning loaded), whether the command returned or exited."""
    returncode, frozen = _frozen_at_exit_of(*argv)
    assert returncode == status
    assert frozen > 10_000


def test_a_console_command_freezes_the_heap_when_it_ends_and_when_it_raises() -> None:
    try:
        with pytest.raises(SystemExit), console_command():
            assert gc.get_freeze_count() == 0
            raise SystemExit(2)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_in_a_console_command_the_imports_are_frozen_not_collected(module_name, collections):
    try:
        with console_command():
            with collection_paused():
                importlib.import_module(module_name)
            assert collections == []  # no full collection as the import ends...
            assert gc.get_freeze_count() > 20_000  # ...its objects frozen, before the command ends
            assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_caller_chooses_freezing_or_collecting(module_name, collections, tmp_path: Path) -> None:
    other = f"{module_name}_other"
    (tmp_path / f"{other}.py").write_text(MODULE)
    try:
        with collection_paused(freeze=True):  # a study's worker, outside any command
            importlib.import_module(module_name)
        assert collections == []
        assert gc.get_freeze_count() > 20_000
        gc.unfreeze()
        with console_command():
            with collection_paused(freeze=False):  # a collection asked for, inside a command
                importlib.import_module(other)
            assert collections == [2]
    finally:
        sys.modules.pop(other, None)
        gc.unfreeze()
