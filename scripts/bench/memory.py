"""Memory measurements: this process's peak RSS, Python heap peaks, a process tree's RSS."""

from __future__ import annotations

import gc
import os
import re
import resource
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _status_kib(field: str) -> int | None:
    """A ``VmRSS`` / ``VmHWM`` line of ``/proc/self/status`` in KiB (None off Linux)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def process_peak_rss_mib() -> float:
    """Peak RSS of this process since it started (``getrusage``; KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


@contextmanager
def rss_window(out: dict[str, float | None]) -> Iterator[None]:
    """Record the peak RSS inside the block and its growth over the RSS at entry, in MiB.

    Where the peak cannot be reset, the process-wide ``getrusage`` peak is recorded instead (it
    then also covers everything that ran before the block).
    """
    gc.collect()
    resettable = _reset_peak_rss()
    start = _status_kib("VmRSS")
    yield
    peak = _status_kib("VmHWM") if resettable else None
    if peak is None or start is None:
        out.update(peak_rss_mib=process_peak_rss_mib(), rss_growth_mib=None)
    else:
        out.update(peak_rss_mib=peak / 1024, rss_growth_mib=(peak - start) / 1024)


def python_heap_peak_mib(run: Callable[[], Any]) -> float:
    """Peak of Python-allocator memory during ``run()`` (tracemalloc).

    Tensor storage comes from torch's own allocator and is not traced; numpy arrays are. So
    this measures the Python objects a side creates (Lightning's loop state, metric state lists,
    logging dicts) and the numpy arrays of the data set, which dominate at these sizes.
    """
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def process_tree_rss_kib(root: int) -> tuple[int, int] | None:
    """(sum, largest) RSS in KiB of process ``root`` and all its descendants (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # the process ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        rss[int(entry)] = int(match.group(1)) if match else 0
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    values = [rss.get(pid, 0) for pid in tree]
    return sum(values), max(values)


def run_sampling_memory(cmd: list[str], env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """Run ``cmd``; sample the RSS of its process tree every 0.2 s. Returns (process, peaks):
    the peak of the tree's summed RSS (all worker processes at once) and of its largest process."""
    peaks: dict[str, Any] = {"peak_total_rss_mib": None, "peak_process_rss_mib": None}
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        done = threading.Event()

        def sample() -> None:
            total = largest = 0
            while not done.wait(0.2):
                measured = process_tree_rss_kib(proc.pid)
                if measured is None:
                    return
                total, largest = max(total, measured[0]), max(largest, measured[1])
                peaks.update(peak_total_rss_mib=total / 1024, peak_process_rss_mib=largest / 1024)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = proc.communicate()
        done.set()
        sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), peaks
