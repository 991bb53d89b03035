"""The hand-written loop as a process of its own: ``--fresh``'s hand-written side.

    PYTHONPATH=scripts .venv/bin/python -m bench.fresh_hand data=synthetic_binary \\
        data.n_samples=20000 model.hidden_sizes=[64,64] trainer.max_epochs=10 data.batch_size=128

Composes ``lossbench-train``'s config from the same overrides (so the same data, split, model,
optimizer settings and seed), runs :func:`bench.reference.run_reference` on it and prints its
result as one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
import warnings

from hydra import compose, initialize_config_dir

from bench.reference import run_reference
from lossbench.config import register_configs
from lossbench.train import config_dir


def main(argv: list[str]) -> int:
    register_configs()
    with (
        initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        cfg = compose("train", overrides=argv)
    result = run_reference(cfg)
    print(json.dumps({k: v for k, v in result.items() if k != "val_nll_history"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
