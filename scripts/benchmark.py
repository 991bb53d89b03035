"""Time lossbench's training path against a hand-written PyTorch loop doing the same work.

    .venv/bin/python scripts/benchmark.py                   # 20 000 samples, 10 epochs, 5 repeats,
                                                            # and the standard study, both ways
    .venv/bin/python scripts/benchmark.py --repeats 9 --json bench.json
    .venv/bin/python scripts/benchmark.py --quick           # 2 000 samples, 2 epochs, 1 repeat
    .venv/bin/python scripts/benchmark.py --study sweep     # a 6-job multirun instead of the study
    .venv/bin/python scripts/benchmark.py --profile a.prof  # cProfile one lossbench run, then stop
    .venv/bin/python scripts/benchmark.py --override optimizer.lr=1e-2   # another setting
    .venv/bin/python scripts/benchmark.py --fresh           # a fresh lossbench-train process with
                                                            # its defaults, against a fresh process
                                                            # running the hand-written loop
    .venv/bin/python scripts/benchmark.py --fresh --fresh-also checkpoint.write=never
                                                            # and a third side: the same run
                                                            # without checkpoint files
    .venv/bin/python scripts/benchmark.py --fresh-parts     # where such a run's fit goes, per
                                                            # epoch (fresh processes, timers)
    .venv/bin/python scripts/benchmark.py --alternate --fresh-also checkpoint.write=never
                                                            # --fresh's sides taking turns in
                                                            # one process: a few percent shows

What is measured and how: :mod:`bench` (``scripts/bench/``), one module per job.
"""

from __future__ import annotations

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
