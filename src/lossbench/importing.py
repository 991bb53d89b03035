"""Import the modules that load torch, Lightning, torchmetrics and scikit-learn without
garbage collection running meanwhile, and let a console command leave them out of every later
collection, its exit's included.

    >>> with collection_paused():  # doctest: +SKIP
    ...     from lossbench.training import train
    >>> with console_command():  # doctest: +SKIP
    ...     main()

Those libraries leave about 480 000 objects that live as long as the process. Python collects
garbage as objects pile up, and each full collection walks every object there is so far. On a
busy 2-core machine: a fresh ``lossbench-train`` run made 2 full collections and spent 0.78 s
collecting in all, against 7 and 1.34 s with collections on while importing; a study worker's
imports took 7.8-8.0 CPU-seconds against 8.9-10.1.

Once imported, the objects are put where later collections do not walk them again. In a
library call that is one full collection (0.38 s here), after which they count as old. In a
console command (:func:`console_command`) they are frozen instead (``gc.freeze``: no walk at
all), and the command ends with everything frozen: Python's exit collects garbage while it
clears the modules, which walked the libraries' objects again and again, 1.3-1.9 s between a
command's last statement and the end of its process, against 0.2-0.3 s frozen.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator

#: Whether a console command runs in this process (:func:`console_command`).
_in_console_command = False


@contextlib.contextmanager
def collection_paused(*, freeze: bool | None = None) -> Iterator[None]:
    """Garbage collection off while the block runs; on leaving it, if the block imported a
    module, the objects there are put out of later collections' way, and collection is on
    again. ``freeze``: True freezes them all (``gc.freeze``, for a process that keeps its
    modules to its end: a console command, a study's worker); False makes one full collection
    (they then count as old; what the imports left unreachable is freed); None (the default)
    freezes inside :func:`console_command` and collects elsewhere. A block that imports nothing
    new (its modules are loaded already) costs nothing more; a caller that paused collection
    itself finds it still paused.

        >>> import gc
        >>> with collection_paused():
        ...     import json
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    if freeze is None:
        freeze = _in_console_command
    enabled = gc.isenabled()
    loaded = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if len(sys.modules) != loaded:
                gc.freeze() if freeze else gc.collect()
            gc.enable()


@contextlib.contextmanager
def console_command() -> Iterator[None]:
    """Run a console command's block: the imports it makes with :func:`collection_paused` are
    frozen rather than collected, and however the block ends (returned, exited, raised),
    every object there is then is frozen too, for the interpreter's exit.

    Frozen objects are skipped by collections and never freed by one: a module's objects live
    as long as the process anyway, and the ~13 000 objects that the imports leave unreachable
    stay (a few megabytes). An object freed by its reference count (a module's globals when
    Python clears the module) is freed as before, and the ``atexit`` functions (logging's
    flush, a logger's ``finish``) run as before; only the garbage cycles there are when the
    block ends are left to the process's end. For console commands only: a library call must
    not freeze its caller's heap. The command also keeps the memory torch frees between steps
    (:func:`lossbench.allocator.keep_freed_memory`), a setting of the process as well.

        >>> import gc
        >>> with console_command():
        ...     pass
        >>> gc.get_freeze_count() > 0
        True
        >>> gc.unfreeze()
    """
    global _in_console_command
    from lossbench.allocator import keep_freed_memory

    keep_freed_memory()
    before = _in_console_command
    _in_console_command = True
    try:
        yield
    finally:
        _in_console_command = before
        gc.freeze()
