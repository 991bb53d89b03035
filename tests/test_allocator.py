"""``lossbench.allocator.keep_freed_memory``: the steps of a stacked group stop faulting their
memory in again from the kernel once glibc keeps what torch frees; a console command and a
study's worker set it up; a user's own allocator settings are left alone."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

from cli_process import SRC
from lossbench.allocator import _glibc, _user_chose

pytestmark = pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")

#: Steps of a stack of 25 members at batch 128, one torch thread, as a study's worker runs
#: them (activations of 25 x 128 x 64 floats, 819 KB each, freed when the step ends). Prints
#: what keep_freed_memory answered and the fewest minor page faults of three times 100 steps
#: after 20 of warm-up (one stray burst of the machine's does not decide).
PROBE = """
import resource, sys, torch
from torch import nn
torch.set_num_threads(1)
mode = sys.argv[1]
answer = None
if mode == "keep":
    from lossbench.allocator import keep_freed_memory
    answer = keep_freed_memory()
elif mode == "command":
    from lossbench.importing import console_command
    console_command().__enter__()
elif mode == "worker":
    from lossbench.vectorized.sweep import prepare_worker
    prepare_worker()
from lossbench.vectorized.batched import StackedModel
def mlp():
    hidden = [nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*hidden, nn.Linear(64, 1))
stacked = StackedModel([mlp() for _ in range(25)])
x = torch.randn(25, 128, 20)
def step():
    stacked.flat_grad.zero_()
    stacked(x).sum().backward()
for _ in range(20):
    step()
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(answer, min(faults))
"""


def probe(mode: str, **env: str) -> tuple[str, int]:
    """Run :data:`PROBE` in a fresh process: (keep_freed_memory's answer, page faults)."""
    chosen = ("GLIBC_TUNABLES", "LD_PRELOAD")  # glibc's malloc with its defaults, first
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k not in chosen}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**clean, "PYTHONPATH": str(SRC), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer, faults = result.stdout.split()
    return answer, int(faults)


@functools.cache
def default_faults() -> int:
    """The page faults of :data:`PROBE` under glibc's defaults: the first process above 5 000,
    of at most five (else the most). glibc's thresholds move with the first chunks it frees
    (its dynamic mmap threshold), and how far the heap then shrinks each step varies with the
    process's memory layout: about one process in three faults far less than the others
    (2 107 and 4 577 seen, against 23 000-39 000)."""
    counts: list[int] = []
    while len(counts) < 5 and not any(count > 5_000 for count in counts):
        counts.append(probe("default")[1])
    return max(counts)


@pytest.mark.slow
def test_kept_memory_is_reused_without_page_faults():
    default = default_faults()
    answer, kept = probe("keep")
    # glibc's defaults: the heap shrinks after every step and each page comes back as a fault
    # (23 000-39 000 faults here); kept, the steps reuse it (200-800 faults: the interpreter's
    # own)
    assert answer == "True"
    assert default > 5_000, default
    assert kept < default / 10, (kept, default)


@pytest.mark.parametrize("mode", ["command", "worker"])
@pytest.mark.slow
def test_console_commands_and_study_workers_keep_freed_memory(mode):
    _, faults = probe(mode)
    default = default_faults()
    assert faults < default / 10, (faults, default)


@pytest.mark.slow
def test_a_users_own_allocator_settings_are_left_alone():
    answer, faults = probe("keep", MALLOC_TRIM_THRESHOLD_="131072")  # glibc's default
    assert answer == "False"
    assert faults > 5_000, faults  # as glibc's defaults fault


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({}, None),
        ({"MALLOC_MMAP_THRESHOLD_": "65536"}, "MALLOC_MMAP_THRESHOLD_"),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, "GLIBC_TUNABLES"),
        ({"GLIBC_TUNABLES": "glibc.rtld.nns=2"}, None),
        ({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, "LD_PRELOAD (jemalloc)"),
        ({"LD_PRELOAD": "/usr/lib/libfoo.so"}, None),
    ],
)
def test_which_settings_count_as_the_users_choice(environ, chosen):
    assert _user_chose(environ) == chosen
