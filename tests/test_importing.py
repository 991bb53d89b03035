"""``lossbench.importing.collection_paused``: no garbage collection while the block imports,
one full collection when it ends, none when it imported nothing."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lossbench.importing import collection_paused

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
