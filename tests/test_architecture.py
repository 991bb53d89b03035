"""The module tree: no import circle in lossbench, Lightning's and Hydra's private names each in
one file, no private name of one lossbench module imported by another, and Hydra's
process-global state (``GlobalHydra``, ``HydraConfig.get``) read only where no config of the
job's own is at hand.

Both read the source with ``ast`` / regular expressions, so they hold for every module,
including imports made inside functions (a circle through a lazy import is still a circle:
it only moves the failure to the first call).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cli_process import SRC

PACKAGE = SRC / "lossbench"
#: The one module allowed to use Lightning's private names.
ADAPTER = PACKAGE / "lightning_internals.py"
#: The one module allowed to read loky's private executor attributes.
LOKY_ADAPTER = PACKAGE / "loky_internals.py"
#: The one module allowed to read the private attributes of Python's ``multiprocessing`` queue.
QUEUE_ADAPTER = PACKAGE / "queue_internals.py"
#: The one module allowed to import Hydra's private modules (``hydra._internal``).
HYDRA_ADAPTER = PACKAGE / "hydra_internals.py"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(name: str) -> set[str]:
    """The lossbench modules that module ``name`` imports, anywhere in its file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def import_cycles() -> list[list[str]]:
    """Each import circle among lossbench's modules (strongly connected components, Tarjan)."""
    graph = {name: sorted(imports_of(name)) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return cycles


def test_the_import_graph_of_lossbench_has_no_cycle() -> None:
    assert len(MODULES) > 50  # the walk found the package
    assert "lossbench.checkpoint" in imports_of("lossbench.module")  # it sees real edges
    assert "lossbench.module" not in imports_of("lossbench.checkpoint")
    assert import_cycles() == []


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch) -> None:
    """The check above can fail: two modules that import each other are reported."""
    (tmp_path / "lossbench").mkdir()
    (tmp_path / "lossbench" / "a.py").write_text("def f():\n    from lossbench import b\n")
    (tmp_path / "lossbench" / "b.py").write_text("from lossbench.a import f\n")
    (tmp_path / "lossbench" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lossbench import a\n"
    )
    monkeypatch.setattr(
        "test_architecture.MODULES",
        {f"lossbench.{n}": tmp_path / "lossbench" / f"{n}.py" for n in "abc"},
    )
    monkeypatch.setattr("test_architecture.SRC", tmp_path)
    assert import_cycles() == [["lossbench.a", "lossbench.b"]]


#: Lightning's private attributes, methods and modules that lossbench has used (any
#: ``trainer._*`` / ``strategy._*`` and any private Lightning import count too).
PRIVATE_LIGHTNING = re.compile(
    r"\btrainer\._\w"
    r"|\bstrategy\._\w"
    r"|\._trainer\b"
    r"|\bfit_loop\b|\bmanual_optimization\b|\boptim_step_progress\b|_batches_that_stepped"
    r"|_checkpoint_connector|_logger_connector"
    r"|_SubprocessScriptLauncher|\._launcher\b|_check_can_spawn_children"
    r"|_val_check_time_interval|_save_on_train_epoch_end|_check_on_train_epoch_end"
    r"|\b_save_checkpoint\b|\b_save_last_checkpoint\b"
    r"|_last_global_step_saved|_last_checkpoint_saved"
    r"|\._experiment\b"
    r"|from lightning[\w.]* import \(?\s*_\w|\blightning[\w.]*\._(?!_)\w"
)


def private_lightning_uses() -> dict[str, list[str]]:
    """``{file: [line, ...]}`` of the lines under src/ that use a private Lightning name."""
    uses: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        hits = [line for line in lines if PRIVATE_LIGHTNING.search(line)]
        if hits:
            uses[str(path.relative_to(SRC))] = hits
    return uses


def test_private_lightning_names_live_in_one_adapter_module() -> None:
    uses = private_lightning_uses()
    assert list(uses) == [str(ADAPTER.relative_to(SRC))], uses
    for name in ("_checkpoint_connector", "_SubprocessScriptLauncher", "optim_step_progress"):
        assert any(name in line for line in uses[str(ADAPTER.relative_to(SRC))]), name


def test_the_pattern_finds_what_lossbench_used_to_write() -> None:
    for line in (
        "progress = self.trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress",
        'dump = getattr(getattr(trainer, "_checkpoint_connector", None), "dump_checkpoint")',
        "from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher",
        "trainer.strategy._launcher = RunDirLauncher(...)",
        'getattr(trainer, "_val_check_time_interval", None)',
        "resuming = self._trainer is not None",
    ):
        assert PRIVATE_LIGHTNING.search(line), line
    assert not PRIVATE_LIGHTNING.search("trainer.fit(module, datamodule=datamodule)")


#: loky's private executor attributes that lossbench reads (an attribute read or a
#: ``getattr`` by name; a class's own ``self._processes`` does not count).
PRIVATE_LOKY = re.compile(r"executor\._processes\b|[\"']_processes[\"']|_call_queue\b")


def private_loky_uses() -> dict[str, list[str]]:
    """``{file: [line, ...]}`` of the lines under src/ that read a private loky attribute."""
    uses: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        hits = [line for line in lines if PRIVATE_LOKY.search(line)]
        if hits:
            uses[str(path.relative_to(SRC))] = hits
    return uses


def test_private_loky_names_live_in_one_adapter_module() -> None:
    uses = private_loky_uses()
    assert list(uses) == [str(LOKY_ADAPTER.relative_to(SRC))], (
        "read loky's private executor attributes only through lossbench/loky_internals.py "
        f"(which names the loky version they were checked against): {uses}"
    )


def test_the_loky_pattern_finds_what_lossbench_used_to_write() -> None:
    for line in (
        'processes = getattr(self._executor, "_processes", None) or {}',
        'queue = getattr(executor, "_call_queue", None)',
        "processes = dict(executor._processes)",
    ):
        assert PRIVATE_LOKY.search(line), line
    assert not PRIVATE_LOKY.search("self._processes.update(worker_processes(self._executor))")


#: The private attributes of Python's ``multiprocessing`` queue that lossbench reads (an
#: attribute read or a ``getattr`` by name; a class's own ``self._thread`` does not count).
PRIVATE_QUEUE = re.compile(r"(?<!\bself)\._(?:thread|reader)\b|[\"']_(?:thread|reader)[\"']")


def private_queue_uses() -> dict[str, list[str]]:
    """``{file: [line, ...]}`` of the lines under src/ that read a private queue attribute."""
    uses: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        lines = [line.strip() for line in path.read_text().splitlines()]
        hits = [line for line in lines if PRIVATE_QUEUE.search(line)]
        if hits:
            uses[str(path.relative_to(SRC))] = hits
    return uses


def test_private_queue_names_live_in_one_adapter_module() -> None:
    uses = private_queue_uses()
    assert list(uses) == [str(QUEUE_ADAPTER.relative_to(SRC))], (
        "read the private attributes of multiprocessing's queue only through "
        "lossbench/queue_internals.py (which names the Python version they were checked "
        f"against): {uses}"
    )


def test_the_queue_pattern_finds_what_lossbench_used_to_write() -> None:
    for line in (
        'feeder = getattr(queue, "_thread", None)',
        "queue._reader.close()",
        "thread = call_queue(executor)._thread",
    ):
        assert PRIVATE_QUEUE.search(line), line
    for line in (
        "self._thread = threading.Thread(target=self._poll)",
        "if threading.current_thread() is not threading.main_thread():",
        "import _thread",
    ):
        assert not PRIVATE_QUEUE.search(line), line


def _is_private_hydra(module: str) -> bool:
    return module == "hydra._internal" or module.startswith("hydra._internal.")


def private_hydra_imports(root: Path = SRC) -> dict[str, list[str]]:
    """``{file: [import, ...]}`` of the imports under ``root`` of Hydra's private modules
    (``hydra._internal`` and below, however written), anywhere in a file."""
    uses: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        hits = []
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                private = any(_is_private_hydra(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                module = node.module or ""
                private = _is_private_hydra(module) or (
                    module == "hydra" and any(a.name == "_internal" for a in node.names)
                )
            else:
                continue
            if private:
                hits.append(ast.unparse(node))
        if hits:
            uses[str(path.relative_to(root))] = hits
    return uses


def test_private_hydra_modules_are_imported_in_one_adapter_module() -> None:
    """The sweeper plugin's ``BasicSweeper`` and the config cache's ``ConfigRepository`` come
    from :mod:`lossbench.hydra_internals`, which documents each private name it uses."""
    uses = private_hydra_imports()
    adapter = str(HYDRA_ADAPTER.relative_to(SRC))
    assert list(uses) == [adapter], (
        "import Hydra's private names (hydra._internal) only in lossbench/hydra_internals.py, "
        f"and from there elsewhere: {uses}"
    )
    for name in ("basic_sweeper", "config_repository", "utils"):
        assert any(name in line for line in uses[adapter]), name


def test_the_hydra_import_finder_finds_each_way_to_write_one(tmp_path) -> None:
    lines = [
        "from hydra._internal.core_plugins.basic_sweeper import BasicSweeper",
        "import hydra._internal.utils",
        "from hydra import _internal",
        "def f():\n    from hydra._internal import utils",
    ]
    for k, line in enumerate(lines):
        (tmp_path / f"m{k}.py").write_text(line + "\n")
    (tmp_path / "public.py").write_text(
        "import hydra\nfrom hydra.core.config_store import ConfigStore\n"
        "from lossbench.hydra_internals import BasicSweeper\n"
    )
    assert sorted(private_hydra_imports(tmp_path)) == [f"m{k}.py" for k in range(len(lines))]


def private_imports() -> set[tuple[str, str]]:
    """``(importer, module.name)`` of each ``from lossbench.<module> import _<name>`` in a
    lossbench module other than ``<module>``, anywhere in its file."""
    found: set[tuple[str, str]] = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module == name:
                continue
            if not (node.module or "").startswith("lossbench"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add((name, f"{node.module}.{alias.name}"))
    return found


def test_no_private_name_crosses_modules() -> None:
    """``lossbench.train`` read ``lossbench.training._earlier_config``; it is
    ``resumed_run_config`` now. A name another module needs gets a public name in its own
    module (``lossbench.predict`` reads ``lossbench.data.csv_loader.read_rows``)."""
    assert private_imports() == set(), (
        "these lossbench modules import another module's private name; give each a public "
        f"name in its own module and import that: {sorted(private_imports())}"
    )


def test_the_private_import_finder_finds_one(tmp_path, monkeypatch) -> None:
    """The check above can fail: a private name imported from another module is reported,
    one a module imports from itself or a dunder is not."""
    (tmp_path / "a.py").write_text("def _helper():\n    pass\n")
    (tmp_path / "b.py").write_text(
        "from lossbench.a import __doc__, _helper\n\ndef f():\n    from lossbench.b import _g\n"
    )
    monkeypatch.setattr(
        "test_architecture.MODULES", {f"lossbench.{n}": tmp_path / f"{n}.py" for n in "ab"}
    )
    assert private_imports() == {("lossbench.b", "lossbench.a._helper")}


#: Hydra's process-global state: the app of the process (``GlobalHydra``) and the config of
#: the job it last set (``HydraConfig.get``, ``HydraConfig.initialized``).
GLOBAL_HYDRA_READS = ("GlobalHydra", "HydraConfig.get", "HydraConfig.initialized")

#: The functions that read Hydra's process-global state, each with why no config of the job's
#: own is at hand there. A check of a multirun's jobs builds its loader from the multirun's own
#: search path instead (``lossbench.hydra_internals.sweep_config_loader``): an earlier Hydra
#: app of the process (a test suite, a notebook) may have left its state set.
GLOBAL_HYDRA_ALLOWED = {
    # the command line's checks, before or around Hydra's own start: no config composed yet
    "lossbench.help_groups._loader_keeping_files": "--help's group list, a resolver of "
    "hydra.help that Hydra calls with no config while the command's own app renders its help",
    "lossbench.hydra_settings._is_null": "a check of the command line before Hydra starts; "
    "initialize_config_dir cannot run inside another app, so it steps aside there",
    "lossbench.hydra_settings._group_refusal": "the refusal of a composition Hydra could not "
    "make (no config exists): it lists the groups of the app that just failed, as a hint",
    "lossbench.primary_config.chosen_groups": "a check of the command line before Hydra "
    "starts; initialize_config_dir cannot run inside another app, so it steps aside there",
    # inside a job: Hydra gives the task function its config without the hydra node, and sets
    # HydraConfig to that job's own before calling it
    "lossbench.train._hydra_main": "the task function of hydra.main: the job's own mode and "
    "output directory, set by Hydra for this job",
    "lossbench.config.run_directory": "the ${run_dir:} resolver, resolved in a job: the "
    "job's output directory, which Hydra sets for it",
    "lossbench.distributed._hydra_config": "a DDP job's own Hydra config (its output "
    "directory) for the ranks it starts; its config has no hydra node",
    "lossbench.interpolations.given_overrides": "a job's config has no hydra node: its "
    "overrides are Hydra's config of the job (read only where the config lacks the node)",
    "lossbench.predict.data_option": "lossbench-predict's job: the data= option Hydra chose, "
    "read without resolving the data config (the job's config has no hydra node)",
    "lossbench.predict._task_overrides": "lossbench-predict's job: its command line's "
    "overrides (the job's config has no hydra node)",
    "lossbench.setup_names._source_folders": "a job's config folders where its config has no "
    "hydra node (read from the config's own node where it has one)",
    "lossbench.setup_names._choice": "a job's group choice where its config has no hydra "
    "node (read from the config's own node where it has one)",
    "lossbench.validation._hydra_setting": "a job's Hydra setting where its config has no "
    "hydra node (read from the config's own node where it has one)",
    "lossbench.validation._choice_of": "a job's group choice where its config has no hydra "
    "node (read from the config's own node where it has one)",
}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` of a name or attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def global_hydra_reads(modules: dict[str, Path] | None = None) -> dict[str, list[str]]:
    """``{module.function: [read, ...]}`` of each use in ``modules`` (lossbench's) of a name of
    :data:`GLOBAL_HYDRA_READS` (``GlobalHydra.instance()``, ``HydraConfig.get()``, however
    imported), by the innermost function around it (the module itself at its top level);
    docstrings and comments are not code, and are not read."""
    found: dict[str, list[str]] = {}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = f"{where}.{child.name}"
            if isinstance(child, ast.Name | ast.Attribute):
                dotted = _dotted(child)
                last = dotted.split(".")[-2:]
                if dotted and (
                    last[-1] == "GlobalHydra" or ".".join(last) in GLOBAL_HYDRA_READS[1:]
                ):
                    found.setdefault(where, []).append(dotted)
                    continue
            visit(child, inner)

    for name, path in (MODULES if modules is None else modules).items():
        visit(ast.parse(path.read_text(), filename=str(path)), name)
    return found


def test_no_module_reads_hydras_global_state_outside_the_allowed_functions() -> None:
    """A check of a job's or a multirun's config reads that config (a multirun's jobs are
    composed with :func:`lossbench.hydra_internals.sweep_config_loader`), never Hydra's
    process-global state, which an earlier app in the same process can leave set; the
    functions that must read it are listed, with why, in :data:`GLOBAL_HYDRA_ALLOWED` (an
    entry that no longer reads it is reported too)."""
    reads = global_hydra_reads()
    unlisted = {where: used for where, used in reads.items() if where not in GLOBAL_HYDRA_ALLOWED}
    assert unlisted == {}, (
        "these read Hydra's process-global state (GlobalHydra, HydraConfig.get): read the "
        "config at hand instead (a multirun's jobs: hydra_internals.sweep_config_loader), or "
        f"list the function in GLOBAL_HYDRA_ALLOWED with why no config is at hand: {unlisted}"
    )
    stale = sorted(set(GLOBAL_HYDRA_ALLOWED) - set(reads))
    assert stale == [], f"listed in GLOBAL_HYDRA_ALLOWED but reading no global state: {stale}"


def test_the_global_hydra_finder_finds_each_way_to_write_one(tmp_path) -> None:
    """The check above can fail: each way of reading the state is found, by its function; the
    name in a docstring, or a write of HydraConfig (``instance().set_config``), is not."""
    (tmp_path / "m.py").write_text(
        "import hydra.core.global_hydra\n"
        "from hydra.core.hydra_config import HydraConfig\n"
        "def a():\n    from hydra.core.global_hydra import GlobalHydra\n"
        "    return GlobalHydra.instance().config_loader()\n"
        "def b():\n    return hydra.core.global_hydra.GlobalHydra.instance()\n"
        "class C:\n    def c(self):\n        return HydraConfig.get().runtime\n"
        "def d():\n    return HydraConfig.initialized()\n"
        "def e():\n    '''GlobalHydra.instance() and HydraConfig.get() are not read here.'''\n"
        "    HydraConfig.instance().set_config(None)\n"
    )
    reads = global_hydra_reads({"m": tmp_path / "m.py"})
    assert sorted(reads) == ["m.C.c", "m.a", "m.b", "m.d"], reads
