"""Sweeps of config groups whose jobs' checkpoint callbacks write the same files into one
folder: each job's callbacks are read from its config as Hydra composes it (the group options
of a config folder of the test's own, a study's ``linked`` overrides), not assumed."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.utils import setup_globals
from hydra.types import RunMode

import lossbench.hydra_internals
from cli_process import run_module
from lossbench.config import register_configs
from lossbench.hydra_callbacks import sweep_jobs, swept_overrides
from lossbench.hydra_internals import hydra_config_unset
from lossbench.shared_checkpoints import (
    CALLBACK_SETTERS,
    SharedCheckpointFolderWarning,
    groups_leaving_callbacks,
    shared_checkpoint_files,
    warn_shared_checkpoint_files,
)
from lossbench.train import config_dir

#: Options of the test's config folder (``hydra.searchpath``): two studies that leave the
#: checkpoint callback alone, two that name its files by seed, and a group of its own whose
#: options name them each their own way, or both one way.
OPTIONS = {
    "experiment/plain_a.yaml": "# @package _global_\ntrainer:\n  max_epochs: 1\n",
    "experiment/plain_b.yaml": "# @package _global_\noptimizer:\n  lr: 0.02\n",
    "experiment/by_seed_a.yaml": (
        "# @package _global_\ncallbacks:\n  mc:\n    filename: a${seed}-{epoch}\n"
    ),
    "experiment/by_seed_b.yaml": (
        "# @package _global_\ncallbacks:\n  mc:\n    filename: b${seed}-{epoch}\n"
    ),
    "naming/own_a.yaml": "# @package _global_\ncallbacks:\n  mc:\n    filename: a-{epoch}\n",
    "naming/own_b.yaml": "# @package _global_\ncallbacks:\n  mc:\n    filename: b-{epoch}\n",
    "naming/one_a.yaml": "# @package _global_\ncallbacks:\n  mc:\n    filename: one\n",
    "naming/one_b.yaml": "# @package _global_\ncallbacks:\n  mc:\n    filename: one\n",
    "naming/shared_a.yaml": (
        "# @package _global_\ncallbacks:\n  mc:\n    dirpath: /scratch/lossbench-shared-ckpts\n"
    ),
    "naming/shared_b.yaml": (
        "# @package _global_\ncallbacks:\n  mc:\n    dirpath: /scratch/lossbench-shared-ckpts\n"
    ),
}

#: Lightning's ModelCheckpoint in place of lossbench's, writing into one absolute folder.
SHARED = "/scratch/lossbench-shared-ckpts"
OWN_CHECKPOINT = (
    "~callbacks.model_checkpoint",
    "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
    "+callbacks.mc.monitor=val/nll",
)


@pytest.fixture
def options(tmp_path: Path) -> str:
    """The test's config folder, as a ``hydra.searchpath`` override."""
    folder = tmp_path / "configs"
    for name, text in OPTIONS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return f"hydra.searchpath=[file://{folder}]"


def _shared(
    *overrides: str, dirpath: str | None = SHARED, own: bool = True
) -> list[tuple[str, Path, str]]:
    """What :func:`shared_checkpoint_files` finds for ``lossbench-train -m`` with ``overrides``
    and the ModelCheckpoint's ``dirpath`` (``own``: Lightning's in place of lossbench's; None:
    none given): the multirun's config as Hydra composes it (its overrides as Hydra's sweeper
    reads them), nothing of Hydra's global state."""
    setup_globals()
    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
    arguments = [*OWN_CHECKPOINT] if own else []
    if dirpath is not None:
        arguments.append(f"+callbacks.mc.dirpath={dirpath}")
    arguments += overrides
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = loader.load_configuration("train", arguments, RunMode.MULTIRUN)
    with hydra_config_unset():
        return shared_checkpoint_files(config, swept_overrides(config), sweep_jobs(config))


def test_a_study_sweep_whose_options_leave_the_callbacks_alone_is_read(options):
    """-m experiment=plain_a,plain_b: neither study touches callbacks.mc, so both jobs write
    Lightning's default names into the one folder (once unread: experiment= may set the
    callbacks)."""
    assert _shared("experiment=plain_a,plain_b", options) == [
        ("mc", Path(SHARED), "{epoch}-{step}")
    ]


def test_a_study_sweep_with_a_filename_per_seed_is_read_per_option(options):
    """-m experiment=plain_a,by_seed_a seed=0,1: plain_a's two seeds share the default name;
    by_seed_a's write a0-..., a1-...: only the default name is warned of."""
    found = _shared("experiment=plain_a,by_seed_a", "seed=0,1", options)
    assert found == [("mc", Path(SHARED), "{epoch}-{step}")]


def test_study_options_each_naming_files_by_seed_are_not_warned_of(options):
    """-m experiment=by_seed_a,by_seed_b seed=0,1: four jobs, four names."""
    assert _shared("experiment=by_seed_a,by_seed_b", "seed=0,1", options) == []


def test_a_callbacks_sweep_that_keeps_the_shared_folder_is_read(options):
    """-m callbacks=default,lr_monitor: both options keep the user's ModelCheckpoint (given
    on the command line) and its default name."""
    found = _shared("callbacks=default,lr_monitor", options)
    assert found == [("mc", Path(SHARED), "{epoch}-{step}")]


def test_a_group_whose_options_name_the_files_each_their_own_way_is_not_warned_of(options):
    """-m +naming=own_a,own_b: each option names the files (a-..., b-...); a group sweep was
    taken to leave the callbacks alone, and the default name to be shared."""
    assert _shared("+naming=own_a,own_b", options) == []


def test_a_group_whose_options_name_the_files_one_way_is_warned_of(options):
    """-m +naming=one_a,one_b: both options give the one name 'one'."""
    assert _shared("+naming=one_a,one_b", options) == [("mc", Path(SHARED), "one")]


def test_jobs_past_the_composed_configs_bound_are_not_read(options, monkeypatch):
    """With one config composed at most, +naming=one_a,one_b reads one_a's job alone: one
    job, nothing shared (the bound keeps a sweep of many options quick to start)."""
    monkeypatch.setattr("lossbench.shared_checkpoints.MAX_COMPOSED", 1)
    assert _shared("+naming=one_a,one_b", options) == []


def test_a_data_sweep_is_composed_per_data_set():
    """-m data=iris,wine: both data sets' jobs share the default name; named by data set
    (${data.name}), each writes its own."""
    assert _shared("data=iris,wine") == [("mc", Path(SHARED), "{epoch}-{step}")]
    assert _shared("data=iris,wine", "+callbacks.mc.filename='${data.name}-{epoch}'") == []


def test_linked_overrides_of_a_study_are_read():
    """hydra.sweeper.linked gives data=wine's jobs one filename, 'w': its two seeds share it,
    where data=iris's seeds each have their own (once, a study with linked overrides was not
    read at all)."""
    found = _shared(
        "hydra/sweeper=lossbench",
        "data=iris,wine",
        "seed=0,1",
        "+callbacks.mc.filename=s${seed}",
        "+hydra.sweeper.linked.data={wine:['++callbacks.mc.filename=w']}",
    )
    assert found == [("mc", Path(SHARED), "w")]


def test_linked_overrides_that_give_each_job_its_own_name_are_not_warned_of():
    """data=iris's job writes s0, data=wine's the name linked to it, w: nothing shared. (The
    linked overrides are read as the sweeper is given them, resolved with the multirun's
    config: a linked w${seed} would be w0 for every seed.)"""
    found = _shared(
        "hydra/sweeper=lossbench",
        "data=iris,wine",
        "seed=0",
        "+callbacks.mc.filename=s${seed}",
        "+hydra.sweeper.linked.data={wine:['++callbacks.mc.filename=w']}",
    )
    assert found == []


def test_the_warning_names_a_group_sweeps_shared_folder(options):
    """The warning itself, once for the entry, for a study sweep (never a refusal)."""
    setup_globals()
    register_configs()
    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
    arguments = [*OWN_CHECKPOINT, f"+callbacks.mc.dirpath={SHARED}"]
    arguments += ["experiment=plain_a,plain_b", options]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = loader.load_configuration("train", arguments, RunMode.MULTIRUN)
    with hydra_config_unset(), pytest.warns(SharedCheckpointFolderWarning) as caught:
        warn_shared_checkpoint_files(config, swept_overrides(config), sweep_jobs(config))
    messages = [str(w.message) for w in caught if w.category is SharedCheckpointFolderWarning]
    assert len(messages) == 1
    assert messages[0].startswith(
        f"the sweep's 2 jobs would all write callbacks.mc's checkpoints to {SHARED}"
    )


@pytest.mark.slow
def test_a_study_sweep_sharing_a_folder_is_warned_of_once_and_its_jobs_run(tmp_path, options):
    """lossbench-train -m experiment=plain_a,plain_b with an absolute dirpath: one warning as
    the sweep starts, and both jobs train into the shared folder."""
    shared = tmp_path / "shared"
    result = run_module(
        "lossbench.train",
        "-m",
        "experiment=plain_a,plain_b",
        options,
        "data=iris",
        *OWN_CHECKPOINT,
        f"+callbacks.mc.dirpath={shared}",
        "trainer.max_epochs=1",
        "logger=none",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stderr
    warned = [line for line in output.splitlines() if "would all write callbacks.mc's" in line]
    assert len(warned) == 1, output[-3000:]
    assert warned[0].startswith("lossbench: warning: the sweep's 2 jobs would all write")
    assert f"checkpoints to {shared} under one filename pattern" in warned[0]
    assert output.index(warned[0]) < output.index("study: "), output[-3000:]
    assert len(list(shared.glob("*.ckpt"))) >= 2  # both jobs ran


@pytest.fixture
def loaders(monkeypatch) -> list[object]:
    """The config loaders built for the jobs of a sweep (each a call of the real
    :func:`lossbench.hydra_internals.sweep_config_loader`, counted)."""
    built: list[object] = []
    real = lossbench.hydra_internals.sweep_config_loader

    def counted(config):
        built.append(config)
        return real(config)

    monkeypatch.setattr(lossbench.hydra_internals, "sweep_config_loader", counted)
    return built


@pytest.mark.parametrize(
    "overrides",
    [
        ("experiment=compare_binary",),
        ("data=iris,wine,digits", "loss=cross_entropy,focal", "seed=0,1,2"),
        ("setup=logits_focal,sigmoid_bce", "optimizer.lr=1e-3,1e-2", "model=linear,mlp"),
    ],
    ids=["study", "data-loss-seed", "setup-lr-model"],
)
def test_a_sweep_whose_jobs_write_in_their_own_folders_composes_nothing(loaders, overrides):
    """lossbench's own checkpoints (in each run's folder) and a sweep of groups that leave the
    callbacks alone: no job could write outside its folder, so no config loader is built and
    no job composed (composing every job took seconds before a study's first job)."""
    assert _shared(*overrides, dirpath=None, own=False) == []
    assert loaders == []


def test_a_relative_dirpath_with_a_group_sweep_composes_nothing(loaders, options):
    """-m data=iris,wine +callbacks.mc.dirpath=ckpts: each job's folder is its own."""
    assert _shared("data=iris,wine", "seed=0,1", options, dirpath="ckpts") == []
    assert loaders == []


def test_a_plain_sweep_of_a_shared_folder_is_warned_of_without_composing(loaders):
    """-m seed=0,1,2 with an absolute dirpath: the seeds are set on the multirun's config."""
    assert _shared("seed=0,1,2") == [("mc", Path(SHARED), "{epoch}-{step}")]
    assert loaders == []


def test_a_group_sweep_with_a_shared_folder_is_composed(loaders):
    """-m data=iris,wine with an absolute dirpath in the multirun's config: composed."""
    assert _shared("data=iris,wine") == [("mc", Path(SHARED), "{epoch}-{step}")]
    assert len(loaders) == 1


def test_a_group_of_the_users_that_sets_a_shared_folder_is_composed(loaders, options):
    """-m +naming=shared_a,shared_b, the multirun's ModelCheckpoint in the logger's folder:
    the options set the absolute folder, so the user's group is composed, and warned of."""
    found = _shared("+naming=shared_a,shared_b", options, dirpath=None)
    assert found == [("mc", Path(SHARED), "{epoch}-{step}")]
    assert len(loaders) == 1


def test_a_callbacks_sweep_is_composed(loaders, options):
    """-m callbacks=default,lr_monitor (either may set a checkpoint entry): composed."""
    assert _shared("callbacks=default,lr_monitor", dirpath=None, own=False) == []
    assert len(loaders) == 1


def test_linked_overrides_that_set_a_shared_folder_are_composed(loaders):
    """data=wine's linked overrides give it the absolute folder: its two seeds share it."""
    found = _shared(
        "hydra/sweeper=lossbench",
        "data=iris,wine",
        "seed=0,1",
        f"+hydra.sweeper.linked.data={{wine:['++callbacks.mc.dirpath={SHARED}']}}",
        dirpath="ckpts",
    )
    assert found == [("mc", Path(SHARED), "{epoch}-{step}")]
    assert len(loaders) == 1


def test_the_groups_taken_to_leave_the_callbacks_alone_do():
    """No option lossbench ships in a group whose sweep is not composed sets the callbacks,
    a logger (a ModelCheckpoint without dirpath writes in its folder), or chooses a group that
    may set them (its defaults): a new option that did would be taken to leave them alone."""
    setters = "|".join([*CALLBACK_SETTERS, "logger", "debug"])
    groups = groups_leaving_callbacks()
    assert groups <= {path.name for path in config_dir().iterdir() if path.is_dir()}
    assert not groups & set(CALLBACK_SETTERS)
    for group in groups:
        for option in (config_dir() / group).glob("*.yaml"):
            for line in option.read_text().splitlines():
                code = line.partition("#")[0]
                assert not re.search(rf"\b({setters})\b", code), f"{option}: {line}"
