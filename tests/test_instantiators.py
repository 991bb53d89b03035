"""Callbacks and loggers from config (``callbacks/``, ``logger/``): built from ``_target_``,
refused before training when misspelt, and the fast path's checks hold with any of them."""

from __future__ import annotations

import csv
import importlib.util
import sys
import time
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import (
    Callback,
    LearningRateMonitor,
    ModelSummary,
    RichProgressBar,
    Timer,
)
from omegaconf import OmegaConf

from cli_process import run_module
from lossbench.callbacks import BestAndLastCheckpoint, BestWeightsInMemory, EpochProgressBar
from lossbench.checkpoint import load_checkpoint
from lossbench.entry_arguments import (
    SHIPPED_ARGUMENTS,
    SHIPPED_REQUIRED,
    keyword_arguments,
    required_arguments,
)
from lossbench.hydra_callback_entries import hydra_callback_refusal
from lossbench.instantiators import (
    SHIPPED_TARGETS,
    build_callbacks,
    check_entry,
    fits,
    locate,
    shipped_kind,
)
from lossbench.train import config_dir
from lossbench.training import train
from lossbench.validation import ConfigError, validate

RUN = ("data=iris", "head=logits", "loss=cross_entropy")


def _targets(node):
    if isinstance(node, dict):
        if "_target_" in node:
            yield node["_target_"]
        for value in node.values():
            yield from _targets(value)


def test_every_shipped_target_is_listed_and_imports():
    shipped = {
        target
        for group in ("callbacks", "logger", "debug")  # debug=profiler: trainer.profiler
        for path in (config_dir() / group).glob("*.yaml")
        for target in _targets(yaml.safe_load(path.read_text()) or {})
    }
    assert shipped <= set(SHIPPED_TARGETS)
    for target in SHIPPED_TARGETS:
        obj, error = locate(target, "x._target_", "callbacks")
        assert error is None and callable(obj), target
        # their kind, read from the module's name without importing them, is theirs
        assert fits(obj, shipped_kind(target)), target
        assert isinstance(obj, type) == target.rsplit(".", 1)[-1][:1].isupper(), target


def test_shipped_arguments_are_the_signatures_of_the_installed_targets():
    """The written-out arguments (checked without importing the targets) are their signatures."""
    assert set(SHIPPED_ARGUMENTS) == set(SHIPPED_TARGETS)
    for target, arguments in SHIPPED_ARGUMENTS.items():
        if SHIPPED_TARGETS[target] and not importlib.util.find_spec(SHIPPED_TARGETS[target]):
            continue  # an optional package that is not installed
        obj, _ = locate(target, "x._target_", "callbacks")
        assert keyword_arguments(obj) == arguments, target
        assert required_arguments(obj) == SHIPPED_REQUIRED.get(target, ()), target


class _NeedsLevel(Callback):
    """A user's callback with an argument it cannot do without."""

    def __init__(self, level: int, verbose: bool = False) -> None:
        self.level, self.verbose = level, verbose


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            (f"+callbacks.mine._target_={__name__}._NeedsLevel",),
            r"callbacks.mine \(.*_NeedsLevel\) needs level, which is not given.*"
            r"\+callbacks.mine.level=<value>\. Its other arguments: verbose\.",
        ),
        (
            (
                "+callbacks.ckpt._target_=lightning.pytorch.callbacks.ModelCheckpoint",
                "+callbacks.ckpt.monitor=val/nl",
            ),
            r"callbacks.ckpt.monitor='val/nl' is not a metric of a multiclass run\. "
            r"Did you mean callbacks.ckpt.monitor=val/nll\?",
        ),
        (
            ("callbacks.model_checkpoint.monitor=val/bogus",),
            r"callbacks.model_checkpoint.monitor='val/bogus' is not a metric",
        ),
        (
            ("+logger.cb._target_=lightning.pytorch.callbacks.Timer",),
            r"logger.cb._target_='lightning.pytorch.callbacks.Timer' is not a Lightning Logger",
        ),
        (
            ("debug=profiler", "trainer.profiler._target_=lightning.pytorch.callbacks.Timer"),
            r"trainer.profiler._target_=.* is not a Lightning Profiler",
        ),
        (
            (
                "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
                "+callbacks.timer.duration=00:00:00:00",
            ),
            r"callbacks.timer.duration='00:00:00:00' leaves no time to train: .* "
            r"~callbacks.timer for no time limit",
        ),
        (
            (
                "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",
                "+callbacks.timer.duration={seconds:0}",
            ),
            r"callbacks.timer.duration=\{'seconds': 0\} leaves no time to train",
        ),
        (
            (
                "+callbacks.mc2._target_=lightning.pytorch.callbacks.ModelCheckpoint",
                "+callbacks.mc2.monitor=val/nll",
            ),
            r"callbacks.mc2 \(lightning.pytorch.callbacks.ModelCheckpoint\) is a second "
            r"checkpoint callback beside callbacks.model_checkpoint: a run takes one.*"
            r"configured through checkpoint.\* .*~callbacks.mc2",
        ),
        (
            ("+callbacks.bf._target_=lightning.pytorch.callbacks.BackboneFinetuning",),
            r"callbacks.bf._target_='lightning.pytorch.callbacks.BackboneFinetuning' is "
            r"Lightning's BackboneFinetuning, which cannot run here: .*`backbone` attribute.*"
            r"~callbacks.bf",
        ),
        (
            (
                "+callbacks.swa._target_=lightning.pytorch.callbacks.StochasticWeightAveraging",
                "+callbacks.swa.swa_lrs=0.01",
            ),
            r"Lightning's StochasticWeightAveraging, which lossbench refuses: its averaged "
            r"weights .* never validated.*EMAWeightAveraging runner=lightning.*~callbacks.swa",
        ),
        (
            ("+callbacks.prune._target_=lightning.pytorch.callbacks.ModelPruning",),
            r"Lightning's ModelPruning, which lossbench refuses: .*weights that no checkpoint "
            r"holds.*~callbacks.prune",
        ),
        (
            ("+callbacks.oe._target_=lightning.pytorch.callbacks.OnExceptionCheckpoint",),
            r"Lightning's OnExceptionCheckpoint, which lossbench refuses: lossbench's own "
            r"checkpoint callback already keeps the best epoch's checkpoint when a run stops "
            r"with an exception.*cannot be resumed exactly from within an epoch.*~callbacks.oe",
        ),
        (
            (
                "~callbacks.model_checkpoint",
                "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            ),
            r"callbacks.mc \(lightning.pytorch.callbacks.ModelCheckpoint\) has no monitor .*"
            r"keeps the last epoch's checkpoint, not the best epoch's.*"
            r"\+callbacks.mc.monitor=val/nll",
        ),
    ],
    ids=[
        "user-callback-needs-argument",
        "monitor-misspelt",
        "shipped-monitor",
        "logger-class",
        "profiler-class",
        "timer-of-no-time",
        "timer-of-no-seconds",
        "second-checkpoint",
        "backbone-finetuning",
        "stochastic-weight-averaging",
        "model-pruning",
        "on-exception-checkpoint",
        "model-checkpoint-without-monitor",
    ],
)
def test_entries_are_checked_against_the_target_and_the_logged_metrics(
    make_cfg, overrides, message
):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg(*RUN, *overrides))


def test_a_logged_monitor_and_a_partial_entry_are_accepted(make_cfg):
    validate(
        make_cfg(
            *RUN,
            "+callbacks.es._target_=lightning.pytorch.callbacks.EarlyStopping",
            "+callbacks.es.monitor=val/accuracy",
            "+callbacks.es.mode=max",
            f"+callbacks.mine._target_={__name__}._NeedsLevel",
            "+callbacks.mine.level=3",
            "debug=profiler",
            "trainer.profiler._target_=lightning.pytorch.profilers.AdvancedProfiler",
        )
    )


def test_default_callbacks_follow_the_checkpoint_and_early_stopping_keys(make_cfg, tmp_path):
    cfg = make_cfg(*RUN, "early_stopping.enabled=true", "early_stopping.patience=7")
    cfg.paths.run_dir = str(tmp_path)
    built = build_callbacks(cfg, progress_bar=True, model_summary=True)
    assert [type(c) for c in built][1:] == [
        type(built[1]),
        EpochProgressBar,  # a TQDMProgressBar that redraws once per epoch
        ModelSummary,
    ]
    checkpoint, stopping = built[0], built[1]
    assert isinstance(checkpoint, BestAndLastCheckpoint)
    assert checkpoint.dirpath == str(tmp_path / "checkpoints")
    assert (checkpoint.monitor, checkpoint.mode) == ("val/nll", "min")
    assert (stopping.monitor, stopping.patience) == ("val/nll", 7)
    never = make_cfg(*RUN, "checkpoint.write=never")
    quiet = build_callbacks(never, progress_bar=False, model_summary=False)
    assert [type(c) for c in quiet] == [BestWeightsInMemory]  # early stopping off: left out


def test_rich_progress_and_lr_monitor_options(make_cfg):
    rich = build_callbacks(
        make_cfg("callbacks=rich_progress"), progress_bar=True, model_summary=False
    )
    assert any(isinstance(c, RichProgressBar) for c in rich)
    monitor = build_callbacks(
        make_cfg("callbacks=lr_monitor"), progress_bar=False, model_summary=False
    )
    assert isinstance(monitor[-1], LearningRateMonitor)
    assert build_callbacks(make_cfg("callbacks=none"), progress_bar=True, model_summary=True) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("+callbacks.timer._target_=lightning.pytorch.callbacks.Timr",),
            r"lightning.pytorch.callbacks has no 'Timr'\. Did you mean "
            r"lightning.pytorch.callbacks.Timer\? Lightning Callback classes in "
            r"lightning.pytorch.callbacks: "
            r".*EarlyStopping",
        ),
        (
            ("+callbacks.x._target_=lightning.pytorch.callback.Timer",),
            r"lightning.pytorch has no 'callback'\. Did you mean lightning.pytorch.callbacks",
        ),
        (("+callbacks.x._target_=nosuchpackage.Thing",), r"no module named 'nosuchpackage'"),
        (("+callbacks.x.patience=3",), r"callbacks.x has no _target_"),
        (("callbacks=lr_monitor", "logger=none"), r"lr_monitor .* logger=none sets none"),
        (
            (
                "+callbacks.dsm._target_=lightning.pytorch.callbacks.DeviceStatsMonitor",
                "logger=none",
            ),
            r"callbacks.dsm \(lightning.pytorch.callbacks.DeviceStatsMonitor\) records to the "
            r"loggers, but logger=none sets none.*~callbacks.dsm",
        ),
        (("scheduler=plateau", "scheduler.monitor=val/acc"), r"scheduler.monitor='val/acc' is not"),
        (
            ("scheduler=warmup_cosine", "scheduler.warmup_epochs=2"),
            r"warmup_epochs=2 must .* below",
        ),
    ],
    ids=[
        "misspelt-class",
        "misspelt-module",
        "no-module",
        "no-target",
        "needs-logger",
        "device-stats-needs-logger",
        "plateau-metric",
        "warmup-too-long",
    ],
)
def test_bad_callbacks_and_schedulers_are_refused_with_the_choices(make_cfg, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg(*RUN, *overrides))  # FAST sets trainer.max_epochs=2


#: A module of one's own with a Lightning callback, a Hydra callback and a plain function.
OWN_KINDS = """from hydra.experimental.callback import Callback as HydraCallback
from lightning.pytorch.callbacks import Callback


class LogEpochs(Callback):
    pass


class JobStartLine(HydraCallback):
    pass


def job_start_count() -> int:
    return 0
"""


@pytest.fixture
def own_kinds(tmp_path, monkeypatch):
    """``own_kinds`` (:data:`OWN_KINDS`), importable as with ``PYTHONPATH=.``."""
    (tmp_path / "own_kinds.py").write_text(OWN_KINDS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "own_kinds", raising=False)


@pytest.mark.parametrize(
    ("group", "target", "hint", "listing"),
    [
        (
            "callbacks",
            "lightning.pytorch.callbacks.Timr",
            "Did you mean lightning.pytorch.callbacks.Timer?",
            "Lightning Callback classes in lightning.pytorch.callbacks: BackboneFinetuning, "
            "BaseFinetuning, BasePredictionWriter, BatchSizeFinder, Callback, Checkpoint, ",
        ),
        (  # a Hydra callback is close, and no Lightning one: not offered as if it fitted
            "callbacks",
            "own_kinds.JobStartLin",
            "own_kinds.JobStartLine is close, but it is a Hydra Callback, which goes in "
            "hydra.callbacks: give it as +hydra.callbacks.x._target_=own_kinds.JobStartLine.",
            "Lightning Callback classes in own_kinds: Callback, LogEpochs.",
        ),
        (  # a function that returns an int builds no callback: neither offered nor listed
            "callbacks",
            "own_kinds.job_start_coun",
            "",
            "Lightning Callback classes in own_kinds: Callback, LogEpochs.",
        ),
        (
            "callbacks",
            "lossbench.loggers.CSVLoger",
            "lossbench.loggers.CSVLogger is close, but it is a Lightning Logger, which goes in "
            "logger: give it as +logger.x._target_=lossbench.loggers.CSVLogger.",
            "lossbench.loggers has no Lightning Callback class; names in it: ",
        ),
        (
            "callbacks",
            "lossbench.loggers.mlflow_loger",
            "lossbench.loggers.mlflow_logger is close, but it is a function that builds a "
            "Lightning Logger, which goes in logger: give it as "
            "+logger.x._target_=lossbench.loggers.mlflow_logger.",
            "lossbench.loggers has no Lightning Callback class; names in it: ",
        ),
        (
            "logger",
            "lossbench.loggers.CSVLoger",
            "Did you mean lossbench.loggers.CSVLogger?",
            # what lossbench.loggers defines (its __all__), not Lightning's classes it imports
            "Lightning Logger classes in lossbench.loggers: CSVLogger, ResumedMLFlowLogger; "
            "functions: mlflow_logger, wandb_logger.",
        ),
        (  # lossbench's factories (callbacks=default's model_checkpoint) are offered
            "callbacks",
            "lossbench.callbacks.run_checkpont",
            "Did you mean lossbench.callbacks.run_checkpoint?",
            "Lightning Callback classes in lossbench.callbacks: BestAndLastCheckpoint, "
            "BestWeightsInMemory, EpochProgressBar, EpochRichProgressBar; functions: "
            "run_checkpoint, run_early_stopping, snapshot.",
        ),
        (  # stopped_early tells whether a callback stopped: it builds none
            "callbacks",
            "lossbench.callbacks.stoped_early",
            "",
            "Lightning Callback classes in lossbench.callbacks: ",
        ),
        (
            "trainer",
            "lightning.pytorch.profilers.SimpleProfilr",
            "Did you mean lightning.pytorch.profilers.SimpleProfiler or "
            "lightning.pytorch.profilers.Profiler?",
            "Lightning Profiler classes in lightning.pytorch.profilers: AdvancedProfiler, "
            "PassThroughProfiler, Profiler, PyTorchProfiler, SimpleProfiler, XLAProfiler.",
        ),
        (
            "logger",
            "lightning.pytorch.callbacks.CSVLogger",
            "",
            "lightning.pytorch.callbacks has no Lightning Logger class; names in it: "
            "BackboneFinetuning, ",
        ),
    ],
    ids=[
        "callback-misspelt",
        "hydra-callback-close",
        "plain-function-close",
        "logger-close",
        "logger-factory-close",
        "logger-misspelt",
        "callback-factory-misspelt",
        "helper-function-close",
        "profiler-misspelt",
        "no-logger-in-module",
    ],
)
def test_a_misspelt_class_is_offered_the_names_of_its_entrys_kind(
    own_kinds, group, target, hint, listing
):
    """Close names whose object the entry's group takes are offered; a close one of another
    kind is named with the override of its own group, never as if it fitted."""
    name = "profiler" if group == "trainer" else "x"
    attr = target.rsplit(".", 1)
    message = check_entry(group, name, {"_target_": target})
    lead = f"{group}.{name}._target_={target!r} cannot be imported: {attr[0]} has no {attr[1]!r}."
    assert message.startswith(f"{lead}{' ' + hint if hint else ''} {listing}"), message
    if not hint:
        assert "Did you mean" not in message and "is close" not in message


@pytest.mark.parametrize(
    ("group", "name", "target", "message"),
    [
        (
            "callbacks",
            "log",
            "lightning.pytorch.loggers.CSVLogger",
            "callbacks.log._target_='lightning.pytorch.loggers.CSVLogger' is not a Lightning "
            "Callback (lightning.pytorch.callbacks.Callback) nor a subclass of one: it is a "
            "Lightning Logger, which goes in logger: give it as "
            "+logger.log._target_=lightning.pytorch.loggers.CSVLogger. Here, name a Callback "
            "class, e.g. +callbacks.timer._target_=lightning.pytorch.callbacks.Timer.",
        ),
        (
            "callbacks",
            "job",
            "own_kinds.JobStartLine",
            "callbacks.job._target_='own_kinds.JobStartLine' is not a Lightning Callback "
            "(lightning.pytorch.callbacks.Callback) nor a subclass of one: it is a Hydra "
            "Callback, which goes in hydra.callbacks: give it as "
            "+hydra.callbacks.job._target_=own_kinds.JobStartLine. Here, name a Callback "
            "class, e.g. +callbacks.timer._target_=lightning.pytorch.callbacks.Timer.",
        ),
        (
            "callbacks",
            "prof",
            "lightning.pytorch.profilers.SimpleProfiler",
            "callbacks.prof._target_='lightning.pytorch.profilers.SimpleProfiler' is not a "
            "Lightning Callback (lightning.pytorch.callbacks.Callback) nor a subclass of one: "
            "it is a Lightning Profiler, which goes in trainer.profiler: give it as "
            "debug=profiler trainer.profiler._target_=lightning.pytorch.profilers.SimpleProfiler."
            " Here, name a Callback class, e.g. "
            "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer.",
        ),
        (
            "logger",
            "cb",
            "lightning.pytorch.callbacks.Timer",
            "logger.cb._target_='lightning.pytorch.callbacks.Timer' is not a Lightning Logger "
            "(lightning.pytorch.loggers.Logger) nor a subclass of one: it is a Lightning "
            "Callback, which goes in callbacks: give it as "
            "+callbacks.cb._target_=lightning.pytorch.callbacks.Timer. Here, name a Logger "
            "class, e.g. logger=csv, or +logger.NAME._target_=lightning.pytorch.loggers.CSVLogger.",
        ),
        (
            "logger",
            "ckpt",
            "lossbench.callbacks.run_checkpoint",
            "logger.ckpt._target_='lossbench.callbacks.run_checkpoint' does not build a "
            "Lightning Logger (lightning.pytorch.loggers.Logger): it is a function that builds "
            "a Lightning Callback, which goes in callbacks: give it as "
            "+callbacks.ckpt._target_=lossbench.callbacks.run_checkpoint. Here, name a Logger "
            "class, e.g. logger=csv, or +logger.NAME._target_=lightning.pytorch.loggers.CSVLogger.",
        ),
        (  # a profiler's entry has no name of its own: the class's
            "trainer",
            "profiler",
            "lightning.pytorch.callbacks.Timer",
            "trainer.profiler._target_='lightning.pytorch.callbacks.Timer' is not a Lightning "
            "Profiler (lightning.pytorch.profilers.Profiler) nor a subclass of one: it is a "
            "Lightning Callback, which goes in callbacks: give it as "
            "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer. Here, name a Profiler "
            "class, e.g. trainer.profiler=simple, or debug=profiler trainer.profiler._target_="
            "lightning.pytorch.profilers.AdvancedProfiler.",
        ),
        (  # of no kind an entry takes: as before
            "callbacks",
            "rec",
            "collections.OrderedDict",
            "callbacks.rec._target_='collections.OrderedDict' is not a Lightning Callback "
            "(lightning.pytorch.callbacks.Callback) nor a subclass of one: the run could not use "
            "it. Name a Callback class, e.g. "
            "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer.",
        ),
    ],
    ids=[
        "logger-as-callback",
        "hydra-callback-as-callback",
        "profiler-as-callback",
        "callback-as-logger",
        "callback-factory-as-logger",
        "callback-as-profiler",
        "no-kind",
    ],
)
def test_a_class_of_another_kind_is_refused_with_the_override_of_its_group(
    own_kinds, group, name, target, message
):
    assert check_entry(group, name, {"_target_": target}) == message


def _hydra_callback(target: str) -> str | None:
    config = OmegaConf.create({"hydra": {"callbacks": {"x": {"_target_": target}}}})
    return hydra_callback_refusal(config)


@pytest.mark.parametrize(
    ("target", "words"),
    [
        (
            "own_kinds.LogEpochs",
            "hydra.callbacks.x._target_='own_kinds.LogEpochs' is not Hydra's Callback "
            "(hydra.experimental.callback.Callback) nor a subclass of it: it is a Lightning "
            "Callback, which goes in callbacks: give it as "
            "+callbacks.x._target_=own_kinds.LogEpochs. Name the callback's class: "
            "+hydra.callbacks.x._target_=<module.Class>, a subclass of Hydra's Callback",
        ),
        (
            "lightning.pytorch.loggers.CSVLogger",
            "hydra.callbacks.x._target_='lightning.pytorch.loggers.CSVLogger' is not Hydra's "
            "Callback (hydra.experimental.callback.Callback) nor a subclass of it: it is a "
            "Lightning Logger, which goes in logger: give it as "
            "+logger.x._target_=lightning.pytorch.loggers.CSVLogger. Name the callback's class",
        ),
        (
            "lossbench.callbacks.run_checkpoint",
            "hydra.callbacks.x._target_='lossbench.callbacks.run_checkpoint' is a function, not "
            "a class: it is a function that builds a Lightning Callback, which goes in "
            "callbacks: give it as +callbacks.x._target_=lossbench.callbacks.run_checkpoint. ",
        ),
        (
            "own_kinds.LogEpoch",
            "hydra.callbacks.x._target_='own_kinds.LogEpoch' cannot be imported: own_kinds has "
            "no 'LogEpoch'. own_kinds.LogEpochs is close, but it is a Lightning Callback, which "
            "goes in callbacks: give it as +callbacks.x._target_=own_kinds.LogEpochs. Hydra "
            "Callback classes in own_kinds: HydraCallback, JobStartLine.",
        ),
        (
            "own_kinds.JobStartLin",
            "hydra.callbacks.x._target_='own_kinds.JobStartLin' cannot be imported: own_kinds "
            "has no 'JobStartLin'. Did you mean own_kinds.JobStartLine? Hydra Callback classes "
            "in own_kinds: HydraCallback, JobStartLine.",
        ),
        (  # no function is a Hydra callback: not offered
            "own_kinds.job_start_coun",
            "hydra.callbacks.x._target_='own_kinds.job_start_coun' cannot be imported: own_kinds "
            "has no 'job_start_coun'. Hydra Callback classes in own_kinds: HydraCallback, "
            "JobStartLine.",
        ),
    ],
    ids=[
        "lightning-callback",
        "lightning-logger",
        "callback-factory",
        "lightning-callback-close",
        "hydra-callback-misspelt",
        "function-close",
    ],
)
def test_a_hydra_callback_entry_is_told_the_kind_of_what_it_names(own_kinds, target, words):
    refusal = _hydra_callback(target)
    assert refusal is not None and refusal.startswith(words), refusal


DEVICE_STATS = "+callbacks.dsm._target_=lightning.pytorch.callbacks.DeviceStatsMonitor"


@pytest.mark.parametrize(
    ("overrides", "device", "refused"),
    [
        ((), "cpu", "it logs the CPU's stats (cpu_stats=null, its default, on a run that trains"),
        (("+callbacks.dsm.cpu_stats=true",), "cuda", "cpu_stats=true logs the CPU's stats"),
        (("+callbacks.dsm.cpu_stats=false",), "cpu", None),
        ((), "cuda", None),  # the GPU's stats, through torch
    ],
    ids=["default-on-the-cpu", "cpu-stats-on-a-gpu", "no-cpu-stats", "default-on-a-gpu"],
)
def test_device_stats_without_psutil_are_refused_where_they_would_read_the_cpu(
    make_cfg, monkeypatch, overrides, device, refused
):
    """Lightning's DeviceStatsMonitor reads the CPU's stats with psutil (not a lossbench
    dependency) where cpu_stats is true, or null on a CPU run, and raises ModuleNotFoundError
    once the fit has begun: refused before the run, with the pip line and the other ways."""
    import lossbench.hardware
    import lossbench.instantiators

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        lossbench.instantiators.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "psutil" else find_spec(name, *a),
    )
    monkeypatch.setattr(
        lossbench.hardware, "device_type", lambda accelerator: device, raising=False
    )
    cfg = make_cfg(*RUN, "logger=csv", DEVICE_STATS, *overrides)
    if refused is None:
        validate(cfg)
        return
    with pytest.raises(ConfigError) as caught:
        validate(cfg)
    message = str(caught.value)
    assert message.startswith(
        "callbacks.dsm (lightning.pytorch.callbacks.DeviceStatsMonitor) needs the psutil "
        f"package, which is not installed: {refused}"
    )
    for words in (
        "Install it (pip install psutil)",
        "or give +callbacks.dsm.cpu_stats=false",
        "or drop it with ~callbacks.dsm",
        "DeviceStatsMonitor (psutil)",
    ):
        assert words in message


@pytest.mark.slow  # a fresh process importing Lightning; the message is checked in-process above
def test_misspelt_callback_target_is_refused_by_the_cli_before_training(tmp_path):
    result = run_module(
        "lossbench.train",
        "+callbacks.timer._target_=lightning.pytorch.callbacks.Timr",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("lossbench: refused: callbacks.timer._target_=")
    assert "Did you mean lightning.pytorch.callbacks.Timer?" in lines[0]
    assert not (tmp_path / "outputs").exists()  # nothing written: refused before the run dir


class _EpochCounter(Callback):
    """A user's callback with no validation hook: the run may keep its inline validation."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs += 1


def test_user_callbacks_run_and_choose_the_validation_loop(make_cfg, tmp_path):
    timer = train(
        make_cfg(*RUN, "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer"),
        tmp_path / "timer",
    )
    # Timer times Lightning's validation stage: its hooks need Lightning's validation loop.
    assert (timer["status"], timer["validation_loop"]) == ("completed", "lightning")
    counter = train(
        make_cfg(*RUN, f"+callbacks.count._target_={__name__}._EpochCounter"), tmp_path / "count"
    )
    assert (counter["status"], counter["validation_loop"]) == ("completed", "inline")
    assert counter["history"]["val/nll"] == pytest.approx(timer["history"]["val/nll"])
    assert counter["test/nll"] == pytest.approx(timer["test/nll"])


def test_callbacks_none_evaluates_the_final_weights_without_files(make_cfg, tmp_path):
    record = train(make_cfg(*RUN, "callbacks=none", "logger=csv"), tmp_path)
    assert record["status"] == "completed"
    assert record["best_checkpoint"] is None and record["best_epoch"] is None
    assert not (tmp_path / "checkpoints").exists()
    assert (tmp_path / "logs" / "metrics.csv").is_file()


def test_a_plain_model_checkpoint_records_the_epoch_its_best_file_holds(make_cfg, tmp_path):
    """Lightning's ModelCheckpoint in place of lossbench's names its files epoch=N-step=M.ckpt:
    the record's best_epoch is the epoch the best file holds, the best of the history."""
    record = train(
        make_cfg(
            "data=breast_cancer",
            "trainer.max_epochs=4",
            "optimizer.lr=0.01",
            "~callbacks.model_checkpoint",
            "+callbacks.mc._target_=lightning.pytorch.callbacks.ModelCheckpoint",
            "+callbacks.mc.monitor=val/nll",
            "+callbacks.mc.save_top_k=3",
            f"+callbacks.mc.dirpath={tmp_path / 'ck'}",
        ),
        tmp_path / "run",
    )
    assert record["status"] == "completed"
    best = Path(record["best_checkpoint"])
    assert best.parent == tmp_path / "ck" and best.name.startswith("epoch=")
    val = record["history"]["val/nll"]
    best_of_history = min(range(len(val)), key=val.__getitem__)
    assert record["best_epoch"] == load_checkpoint(best)["epoch"] == best_of_history
    assert best.name.startswith(f"epoch={best_of_history}-")


def test_logger_many_writes_csv_and_tensorboard_and_the_best_apart(make_cfg, tmp_path):
    pytest.importorskip("tensorboard")
    record = train(make_cfg(*RUN, "logger=many"), tmp_path)
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # the curve holds one point per epoch; the best checkpoint's values come apart, once, at
    # the end (under val/ they read as one more epoch that improved the curve)
    logged = [float(r["val/nll"]) for r in rows if r["val/nll"]]
    assert logged == pytest.approx(record["history"]["val/nll"])
    best = [(float(r["best/val/nll"]), float(r["test/nll"])) for r in rows if r["best/val/nll"]]
    assert best == [pytest.approx((record["val/nll"], record["test/nll"]))]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


# two runs with W&B's service process: 3-7 s; the default suite logs to W&B in
# tests/test_logger_resume.py::test_a_resumed_run_logs_on_into_its_wandb_run
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb not installed")
def test_wandb_logs_offline_and_each_run_is_its_own(make_cfg, tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_SILENT", "true")
    for seed in (0, 1):  # two runs in one process, as a multirun's basic launcher runs them
        record = train(make_cfg(*RUN, "logger=wandb", f"seed={seed}"), tmp_path / f"s{seed}")
        assert record["status"] == "completed"
        assert wandb.run is None  # finished: the next run starts its own
        (run,) = (tmp_path / f"s{seed}" / "wandb").glob("offline-run-*/run-*.wandb")
        # W&B's own record of the run, with the keys it logged; its service process writes
        # it, on a busy machine a little after finish() has returned.
        deadline = time.monotonic() + 60
        while b"test/nll" not in run.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.5)
        log = run.read_bytes()
        assert b"val/nll" in log and b"test/nll" in log


def test_lr_monitor_logs_the_learning_rate(make_cfg, tmp_path):
    train(make_cfg(*RUN, "callbacks=lr_monitor", "logger=csv", "scheduler=cosine"), tmp_path)
    with open(tmp_path / "logs" / "metrics.csv", newline="") as f:
        rates = [float(r["lr-Adam"]) for r in csv.DictReader(f) if r.get("lr-Adam")]
    assert rates == pytest.approx([1e-3, 5e-4])  # cosine over 2 epochs, at each epoch start


def test_timer_callback_is_a_real_lightning_timer(make_cfg, tmp_path):
    cfg = make_cfg(*RUN, "+callbacks.timer._target_=lightning.pytorch.callbacks.Timer")
    cfg.paths.run_dir = str(tmp_path)
    (timer,) = [
        c
        for c in build_callbacks(cfg, progress_bar=False, model_summary=False)
        if isinstance(c, Timer)
    ]
    assert timer.time_remaining() is None  # no duration: never stops the run
