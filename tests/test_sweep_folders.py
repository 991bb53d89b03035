"""The folders of ``-m`` sweeps and Optuna searches named by the time they start: two started at
once get their own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.utils import setup_globals
from hydra.types import RunMode
from omegaconf import OmegaConf

from cli_process import SRC
from lossbench.config import register_configs
from lossbench.train import config_dir

#: A folder name of ``${now:%Y-%m-%d_%H-%M-%S-%f}``: the start to the microsecond.
STAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{6}"


def _sweep_dir(*overrides: str) -> str:
    """``hydra.sweep.dir`` of a fresh composition of lossbench-train's config, resolved."""
    setup_globals()  # Hydra's resolvers: ${now:...}
    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
    cfg = loader.load_configuration("train", list(overrides), RunMode.MULTIRUN)
    return str(OmegaConf.select(cfg, "hydra.sweep.dir"))


@pytest.mark.parametrize(
    ("overrides", "parent"),
    [
        ((), "outputs/multiruns"),
        (("hparams_search=optuna_focal",), "outputs/searches/optuna_focal"),
        (("hparams_search=optuna_pos_weight",), "outputs/searches/optuna_pos_weight"),
    ],
    ids=["multirun", "optuna_focal", "optuna_pos_weight"],
)
def test_a_time_stamped_sweep_folder_is_named_to_the_microsecond(overrides, parent):
    """Two sweeps composed in the same second (two commands started at once) get two folders,
    as single runs do: they shared one, where the second found the first's runs and markers."""
    first, second = _sweep_dir(*overrides), _sweep_dir(*overrides)
    for folder in (first, second):
        assert re.fullmatch(rf"{re.escape(parent)}/{STAMP}", folder), folder
    assert first != second


#: lossbench-train (its console script), whose first reading of the clock for ``${now:...}``
#: (Hydra's resolver, ``hydra.core.utils.datetime.now``) waits until the wall-clock time
#: argv[1]: two commands given nearly the same time name their sweeps in the same second, as
#: two started at once may, whatever their start-up took. The time read is the real one.
AT_ONCE = """
import datetime, sys, time
import hydra.core.utils
from lossbench.commands import train

start = float(sys.argv.pop(1))

class Held(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        time.sleep(max(0.0, start - time.time()))
        return datetime.datetime.now(tz)

hydra.core.utils.datetime = Held
sys.argv[0] = "lossbench-train"
sys.exit(train())
"""


def _sweep_at(start: float, tmp_path: Path, seeds: str) -> subprocess.Popen[str]:
    """A tiny sweep of ``seeds`` (2 jobs, 2 epochs each) that names its folder at the
    wall-clock time ``start`` (:data:`AT_ONCE`), in ``tmp_path``."""
    sweep = ("-m", f"seed={seeds}", "data=breast_cancer", "trainer.max_epochs=2", "logger=none")
    return subprocess.Popen(
        [sys.executable, "-c", AT_ONCE, repr(start), *sweep],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # two tiny sweeps of 2 jobs each in two processes at once: about 12 s here
def test_two_sweeps_started_at_once_train_all_their_jobs_in_their_own_folders(tmp_path):
    """Two commands started at once (``lossbench-train -m seed=0,1 ... &`` and ``-m seed=2,3``)
    shared a folder named to the second: the first's jobs were not run (the other's runs of
    other settings in their folders) and the second was refused for the first's markers."""
    # just after a whole second, 10 ms apart: the same second, not the same microsecond
    start = float(int(time.time()) + 6) + 0.05
    sweeps = {
        seeds: _sweep_at(start + 0.01 * i, tmp_path, seeds)
        for i, seeds in enumerate(("0,1", "2,3"))
    }
    for seeds, process in sweeps.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"seed={seeds}: {stderr[-2000:]}"
        assert "2/2 jobs ended (2 completed, 0 skipped" in stderr, stderr[-2000:]
    folders = sorted((tmp_path / "outputs" / "multiruns").iterdir())
    assert len(folders) == 2, folders
    seeds = []
    for folder in folders:
        assert re.fullmatch(STAMP, folder.name), folder.name
        records = [json.loads(p.read_text()) for p in folder.glob("*/metrics.json")]
        assert [r["status"] for r in records] == ["completed", "completed"], folder
        seeds.append(sorted(r["seed"] for r in records))
    assert sorted(seeds) == [[0, 1], [2, 3]]
