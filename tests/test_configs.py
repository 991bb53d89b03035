"""Config composition: every option of every group composes; schemas refuse typos early."""

from __future__ import annotations

import pickle
import re

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from lossbench.config import SCHEMAS
from lossbench.data.datasets import DATASETS
from lossbench.heads import HEADS
from lossbench.losses import LOSSES, validate_loss_params
from lossbench.models import MODELS
from lossbench.optim import OPTIMIZERS
from lossbench.schedulers import SCHEDULERS
from lossbench.train import config_dir
from lossbench.validation import LOGGERS, ConfigError
from multirun_configs import multirun_config

REGISTRIES = {
    "data": DATASETS,
    "head": HEADS,
    "loss": LOSSES,
    "model": MODELS,
    "optimizer": OPTIMIZERS,
    "scheduler": SCHEDULERS,
}
CSV = ("data.path=x.csv", "data.label_columns=[y]", "data.task=binary")


@pytest.mark.parametrize("group", sorted(REGISTRIES))
def test_yaml_options_match_registry_and_schemas(group: str) -> None:
    files = {p.stem for p in (config_dir() / group).glob("*.yaml")}
    assert files == set(REGISTRIES[group]) == set(SCHEMAS[group])


OPTIONS = [(g, o) for g in sorted(REGISTRIES) for o in sorted(SCHEMAS[g])]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(make_cfg, group: str, option: str) -> None:
    extra = CSV if (group, option) == ("data", "csv") else ()
    cfg = make_cfg(f"{group}={option}", *extra)
    assert cfg[group].name == option
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


@pytest.mark.parametrize(
    "override",
    [
        "loss.gama=2",
        "data.batch_sise=3",
        "optimizer.lr=fast",
        "trainer.max_epochs=ten",
        "seed=zero",
        "model.dropout=x",
    ],
)
def test_typo_or_wrong_type_fails_at_compose_time(make_cfg, override: str) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        make_cfg("loss=focal", override)
    key = override.split("=")[0]
    assert key in str(info.value) or key.split(".")[-1] in str(info.value.__cause__)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        (
            "+early_stoping.enabled=true",
            "early_stoping was added to the config (+early_stoping.enabled=True), but "
            "lossbench-train has no setting 'early_stoping': nothing would read it",
        ),
        ("+early_stoping.enabled=true", "Did you mean early_stopping.enabled?"),
        ("+foo=1", "foo was added to the config (+foo=1)"),
        ("+sed=1", "Did you mean seed?"),
    ],
)
def test_a_top_level_key_added_that_nothing_reads_is_refused(make_cfg, override, words) -> None:
    from lossbench.validation import validate

    with pytest.raises(ConfigError) as refused:
        validate(make_cfg("data=iris", override))
    assert words in str(refused.value)


@pytest.mark.parametrize(
    "overrides",
    [
        ("+x=3", "seed=${x}"),  # read by an interpolation
        ("+x=3", "data.split_seed=${oc.select:x,0}"),
        ("+callbacks.timer._target_=lightning.pytorch.callbacks.Timer",),  # a group's entry
        ("+trainer.profiler=simple",),
    ],
)
def test_a_top_level_key_added_that_a_value_reads_and_group_entries_stay(
    make_cfg, overrides
) -> None:
    from lossbench.validation import validate

    validate(make_cfg("data=iris", *overrides))


def test_a_top_level_key_added_stays_where_a_hydra_callback_of_one_s_own_may_read_it(
    make_cfg,
) -> None:
    from omegaconf import open_dict

    from lossbench.validation import validate

    cfg = make_cfg("data=iris", "+foo=1")
    with open_dict(cfg):
        cfg.hydra = {"callbacks": {"check": {"_target_": "lossbench.hydra_callbacks.X"}}}
    with pytest.raises(ConfigError, match="foo was added to the config"):
        validate(cfg)
    with open_dict(cfg):
        cfg.hydra.callbacks.mine = {"_target_": "my_module.MyCallback"}  # gets the whole config
    validate(cfg)


def test_unknown_option_lists_valid_ones(make_cfg) -> None:
    with pytest.raises(Exception, match=r"(?s)Could not find 'loss/foo'.*bce_with_logits"):
        make_cfg("loss=foo")


def test_pos_weight_accepts_number_list_and_auto(make_cfg) -> None:
    for value, expected in (("2.5", 2.5), ("[1,2]", [1, 2]), ("auto", "auto")):
        cfg = make_cfg("loss=bce_with_logits", f"loss.pos_weight={value}")
        assert OmegaConf.to_container(cfg.loss)["pos_weight"] == expected


def test_readme_table_is_generated_from_the_registry() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_table", config_dir().parent / "scripts" / "readme_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.README.read_text()
    assert module.render(text) == text, "run: python scripts/readme_table.py"


@pytest.mark.parametrize("flag", ["--help", "-h", "--chek"])
def test_readme_table_script_answers_help_and_refuses_unknown_flags_writing_nothing(
    flag, tmp_path, monkeypatch, capsys
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_table", config_dir().parent / "scripts" / "readme_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- compatibility-table:start -->\nold\n<!-- compatibility-table:end -->\n")
    monkeypatch.setattr(module, "README", readme)
    with pytest.raises(SystemExit) as exit_:
        module.main([flag])
    printed = capsys.readouterr()
    if flag == "--chek":
        assert exit_.value.code == 2 and "unrecognized arguments: --chek" in printed.err
    else:
        assert exit_.value.code == 0 and "--check" in printed.out
    assert "old" in readme.read_text()


# ------------------------------------------------------------- loss parameters declared once

LOSS_NAMES = sorted(LOSSES)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_composed_loss_config_is_the_declared_defaults(make_cfg, name: str) -> None:
    """The schema is generated from the declarations, and the YAML changes nothing but the name
    (a YAML value equal to its default would be a second declaration of it)."""
    declared = {p.name: p.default for p in LOSSES[name].parameters}
    assert OmegaConf.to_container(make_cfg(f"loss={name}").loss) == {"name": name, **declared}
    yaml = OmegaConf.load(config_dir() / "loss" / f"{name}.yaml")
    assert yaml.name == name
    for key, value in yaml.items():
        if key not in ("defaults", "name"):
            assert value != declared[key], f"configs/loss/{name}.yaml repeats {key}'s default"


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_declared_defaults_and_examples_pass_their_own_checks(name: str) -> None:
    parameters = LOSSES[name].parameters
    validate_loss_params(name, {p.name: p.default for p in parameters})
    for param in parameters:
        assert param.example is not None, param.name
        example = OmegaConf.create({"v": yaml_value(param.example)}).v
        validate_loss_params(name, {param.name: example})


def yaml_value(text: str):
    """A command-line value as Hydra reads it: '2' -> 2, 'null' -> None, '[1.0,2.0]' -> list."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_override(f"key={text}")
    value = override.value()
    return list(value) if isinstance(value, list) else value


@pytest.mark.parametrize(
    ("loss", "override"),
    [("asl", "loss.gama_neg=2"), ("poly", "loss.epsilon=large"), ("asl", "loss.clip=[1]")],
)
def test_generated_schemas_refuse_typos_and_wrong_types(make_cfg, loss: str, override: str):
    with pytest.raises(ConfigCompositionException) as info:
        make_cfg(f"loss={loss}", override)
    key = override.split("=")[0]
    assert key in str(info.value) or key.split(".")[-1] in str(info.value.__cause__)


def test_logger_options_are_the_registry() -> None:
    assert {p.stem for p in (config_dir() / "logger").glob("*.yaml")} == set(LOGGERS)


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("logger=csv", ["csv"]),
        ("logger=none", []),
        ("logger=many", ["csv", "tensorboard"]),
        ("logger=[csv,mlflow,wandb]", ["csv", "mlflow", "wandb"]),
        ("callbacks=none", []),
        (
            "callbacks=default",
            ["model_checkpoint", "early_stopping", "progress_bar", "model_summary"],
        ),
        (
            "callbacks=lr_monitor",
            ["model_checkpoint", "early_stopping", "progress_bar", "model_summary", "lr_monitor"],
        ),
    ],
)
def test_callbacks_and_loggers_are_named_target_nodes(make_cfg, override, names) -> None:
    cfg = make_cfg(override)
    group = override.split("=")[0]
    assert list(cfg[group]) == names
    assert all("_target_" in cfg[group][name] for name in names)


def test_checkpoint_keys_still_set_the_checkpoint_callback(make_cfg) -> None:
    cfg = make_cfg(
        "checkpoint.write=at_end", "checkpoint.monitor=val/auroc", "optimized_metric=val/brier"
    )
    node = cfg.callbacks.model_checkpoint
    assert (node.write, node.monitor, node.optimized_metric) == ("at_end", "val/auroc", "val/brier")
    assert make_cfg("early_stopping.enabled=true").callbacks.early_stopping.enabled is True


@pytest.mark.parametrize("preset", ["fdr", "overfit", "profiler", "limit", "anomaly"])
def test_debug_presets_set_trainer_arguments(make_cfg, preset: str) -> None:
    trainer = make_cfg(f"debug={preset}").trainer
    expected = {
        "fdr": ("fast_dev_run", True),
        "overfit": ("overfit_batches", 1),
        "limit": ("limit_train_batches", 3),
        "anomaly": ("detect_anomaly", True),
    }
    if preset == "profiler":
        assert trainer.profiler._target_ == "lightning.pytorch.profilers.SimpleProfiler"
    else:
        key, value = expected[preset]
        assert trainer[key] == value


def test_the_debug_presets_named_as_debug_runs_are_those_that_make_them(make_cfg) -> None:
    """DEBUG_PRESETS (which the report's and the sweep's advice name) against what each preset
    in configs/debug/ sets: a preset makes debug runs exactly when it is listed."""
    from lossbench.record import DEBUG_FIX, DEBUG_PRESETS, debug_settings

    presets = sorted(p.stem for p in (config_dir() / "debug").glob("*.yaml") if p.stem != "default")
    making = [p for p in presets if debug_settings(make_cfg(f"debug={p}").trainer) is not None]
    assert making == sorted(DEBUG_PRESETS) == ["fdr", "limit", "overfit"]
    assert "debug=limit" in DEBUG_FIX and "trainer.limit_val_batches" in DEBUG_FIX


def test_trainer_accepts_any_lightning_argument(make_cfg) -> None:
    cfg = make_cfg(
        "trainer.fast_dev_run=true", "trainer.profiler=simple", "trainer.overfit_batches=10"
    )
    assert (cfg.trainer.fast_dev_run, cfg.trainer.profiler, cfg.trainer.overfit_batches) == (
        True,
        "simple",
        10,
    )


def test_paths_root_moves_every_output_location(make_cfg) -> None:
    cfg = make_cfg("paths.output_dir=/scratch/lb", "logger=mlflow")
    assert cfg.logger.mlflow.tracking_uri == "sqlite:////scratch/lb/mlflow.db"
    study = make_cfg("paths.output_dir=/scratch/lb", "experiment=compare_binary")
    full = multirun_config(["paths.output_dir=/scratch/lb", "experiment=compare_binary"])
    assert full.hydra.sweep.dir == "/scratch/lb/studies/compare_binary-full"
    assert full.hydra.run.dir.startswith("/scratch/lb/runs/")
    assert study.paths.output_dir == "/scratch/lb"
    openml = make_cfg("paths.output_dir=/scratch/lb", "data=openml", "data.openml_id=31")
    assert openml.data.cache_dir == "/scratch/lb/data"


def test_readme_options_table_lists_every_config_group() -> None:
    readme = (config_dir().parent / "README.md").read_text()
    table = readme.split("## Choosing data, model, head and loss", 1)[1].strip().split("\n\n")[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| ")]
    groups = {p.name for p in config_dir().iterdir() if p.is_dir()} - {"hydra"}
    missing = [g for g in sorted(groups) if not any(f"`{g}`" in cell for cell in first_cells)]
    assert not missing, f"README's options table lacks the groups {missing}"
    assert "`hydra/launcher`" in table and "`ray`" in table


# ------------------------------------------------------------------- models from the registry


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_one_score_per_output_unit(make_cfg, name: str) -> None:
    import torch

    from lossbench.models import DENSE_MODELS, build_model

    cfg = make_cfg(f"model={name}")
    body = build_model(cfg.model, n_features=2, n_outputs=3)
    x = torch.zeros(4, 2, 6, 6) if name in DENSE_MODELS else torch.zeros(4, 2)
    assert body(x).shape == ((4, 3, 6, 6) if name in DENSE_MODELS else (4, 3))


def test_vectorized_models_are_registered_models() -> None:
    from lossbench.vectorized.grouping import MODELS as VECTORIZED_MODELS

    assert set(VECTORIZED_MODELS) <= set(MODELS)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("activation", "foo", "model.activation='foo' is not known. Valid activations: relu"),
        ("hidden_sizes", [0], "model.hidden_sizes=[0] must hold positive layer widths"),
        ("dropout", 1.5, "model.dropout=1.5 must lie in [0, 1)"),
    ],
)
def test_model_keys_are_checked_whatever_the_model(monkeypatch, key, value, words) -> None:
    """A model added to the registry with a shared key gets that key's check (not only mlp)."""
    from lossbench import validation
    from lossbench.models import _mlp

    monkeypatch.setitem(MODELS, "mlp_ln", _mlp)
    model = {"name": "mlp_ln", "activation": "relu", "hidden_sizes": [8], "dropout": 0.0}
    validation._check_model(OmegaConf.create(model))  # the good values pass
    with pytest.raises(ConfigError, match=re.escape(words)):
        validation._check_model(OmegaConf.create({**model, key: value}))


@pytest.mark.parametrize(
    ("value", "weights"), [("2.0", [2.0] * 3), ("2", [2.0] * 3), ("[1,2,3]", [1.0, 2.0, 3.0])]
)
def test_loss_weight_takes_a_number_or_a_list_as_its_valid_values_say(make_cfg, value, weights):
    """The parameter table's "a number >= 0 or a list of them": Hydra's schema accepts both
    (it refused a number), and a number is repeated for every output unit."""
    from lossbench.losses import build_loss
    from lossbench.validation import validate

    cfg = make_cfg("data=iris", "loss=cross_entropy", f"loss.weight={value}")
    assert validate(cfg) == "multiclass"
    params = {k: v for k, v in OmegaConf.to_container(cfg.loss).items() if k != "name"}
    built = build_loss("cross_entropy", params, task="multiclass", n_outputs=3)
    assert built.weight.tolist() == weights


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_a_composed_config_pickles_with_every_loss_schema(make_cfg, loss):
    """Hydra's PickleJobInfoCallback pickles each job's config: the generated schemas (the
    losses', the trainer's) are attributes of lossbench.config, where pickle looks them up
    (it wrote empty files, "Can't pickle <class 'lossbench.config.BceWithLogitsLossConfig'>")."""
    cfg = make_cfg("data=iris", f"loss={loss}")
    restored = pickle.loads(pickle.dumps(cfg))
    assert restored == cfg
    assert OmegaConf.get_type(restored.loss) is OmegaConf.get_type(cfg.loss)
    assert OmegaConf.get_type(restored.trainer).__name__ == "TrainerConfig"
