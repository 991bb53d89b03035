"""Import the modules that load torch, Lightning, torchmetrics and scikit-learn without
garbage collection running meanwhile, and end a command without collecting them again.

    >>> with collection_paused():  # doctest: +SKIP
    ...     from lossbench.training import train
    >>> with frozen_at_exit():  # doctest: +SKIP
    ...     main()

Those libraries leave about 480 000 objects that live as long as the process. Python collects
garbage as objects pile up, and each full collection walks every object there is so far. On a
busy 2-core machine: a fresh ``lossbench-train`` run made 2 full collections and spent 0.78 s
collecting in all, against 7 and 1.34 s with collections on while importing; a study worker's
imports took 7.8-8.0 CPU-seconds against 8.9-10.1. The one collection after the import is made
at once, so that the objects are counted as old: otherwise the first collections after the
import (during a run's data loading or fit) would walk them all again.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Garbage collection off while the block runs; on leaving it, one collection if the
    block imported a module, and collection on again. A block that imports nothing new (its
    modules are loaded already) costs nothing more; a caller that paused collection itself
    finds it still paused.

        >>> import gc
        >>> with collection_paused():
        ...     import json
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
    """
    enabled = gc.isenabled()
    loaded = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if len(sys.modules) != loaded:
                gc.collect()
            gc.enable()


@contextlib.contextmanager
def frozen_at_exit() -> Iterator[None]:
    """Run a console command's block; however it ends (returned, exited, raised), move every
    object there is to the permanent generation (``gc.freeze``) on leaving it, for the
    interpreter's exit.

    When Python exits, it clears the modules and collects garbage while it does. With torch,
    Lightning, torchmetrics and scikit-learn loaded those collections walk ~480 000 objects
    again and again: 1.3-1.9 s from the last statement to the end of the process here, against
    0.2-0.3 s with the objects frozen. Frozen objects are skipped by collections; an object
    freed by its reference count (a module's globals when the module is cleared) is freed as
    before, and the ``atexit`` functions (logging's flush, a logger's ``finish``) run as before.
    Only garbage cycles that exist when the block ends are left uncollected, which the
    process's end reclaims. For console commands only: a library call must not freeze its
    caller's heap.

        >>> import gc
        >>> with frozen_at_exit():
        ...     pass
        >>> gc.get_freeze_count() > 0
        True
        >>> gc.unfreeze()
    """
    try:
        yield
    finally:
        gc.freeze()
