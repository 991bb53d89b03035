"""Let glibc's ``malloc`` keep the memory torch frees, instead of handing it back to the kernel
and faulting it in again on the next step.

    >>> keep_freed_memory()  # doctest: +SKIP
    True

On the CPU, torch allocates each step's activations and gradients with ``malloc`` and frees
them when the step ends. glibc returns the free memory at the top of its heap to the kernel once
it exceeds a threshold (``M_TRIM_THRESHOLD``, by default twice the largest block it has served
with ``mmap``, a few hundred kilobytes), and serves a block above another threshold
(``M_MMAP_THRESHOLD``) with ``mmap`` of its own. A stack of 25 members at batch 128 allocates a
few megabytes per step: the heap grew and shrank every step, and each page came back as a page
fault the kernel zeroed: 80-340 minor faults per optimizer step here, about a sixth of the
group's fit. With the thresholds raised (blocks up to 32 MiB from the heap, and up to 512 MiB
of free heap kept), the process keeps its peak of memory and faults a few pages a step after
the first steps; the memory is reused by the next step, as torch's CUDA caching allocator
does on a GPU.

lossbench's console commands and a study's worker processes call :func:`keep_freed_memory`
when they start. It changes nothing where ``malloc`` is not glibc's (macOS, musl), and nothing
where the user chose the thresholds already (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``glibc.malloc`` in ``GLIBC_TUNABLES``:
``MALLOC_TRIM_THRESHOLD_=131072``, glibc's default, opts out) or preloaded another allocator
(jemalloc, tcmalloc, mimalloc in ``LD_PRELOAD``).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (glibc's largest ``M_MMAP_THRESHOLD`` on 64 bits).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of the heap that is kept rather than returned to the kernel.
TRIM_THRESHOLD = 512 * 1024 * 1024
#: Environment variables by which a user sets glibc's thresholds (lossbench then leaves them).
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")
#: Allocators that replace glibc's when preloaded.
OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")

_applied: bool | None = None  # the outcome of this process's first call


def _user_chose(environ: Mapping[str, str]) -> str | None:
    """The setting by which the user chose the allocator's behaviour, or None."""
    for name in USER_SETTINGS:
        if name in environ:
            return name
    if "glibc.malloc" in environ.get("GLIBC_TUNABLES", ""):
        return "GLIBC_TUNABLES"
    preload = environ.get("LD_PRELOAD", "")
    return next((f"LD_PRELOAD ({a})" for a in OTHER_ALLOCATORS if a in preload), None)


def _glibc() -> bool:
    """Whether this process's C library is glibc."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a GNU system (no such name, or none)
        return False


def keep_freed_memory() -> bool:
    """Raise glibc's trim and mmap thresholds for this process (once; later calls return the
    first call's outcome). True where they were set; False where ``malloc`` is not glibc's or
    the user chose its behaviour (see the module's docstring)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not _glibc():
        return False
    if _user_chose(os.environ) is not None:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: glibc's
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; the mmap threshold first, since setting it also fixes the
    # trim threshold glibc would otherwise keep adjusting
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _applied
