"""Config composition: every option of every group composes; schemas refuse typos early."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from lossbench.config import SCHEMAS
from lossbench.data.datasets import DATASETS
from lossbench.heads import HEADS
from lossbench.losses import LOSSES
from lossbench.models import MODELS
from lossbench.optim import OPTIMIZERS
from lossbench.train import config_dir
from lossbench.validation import LOGGERS

REGISTRIES = {
    "data": DATASETS,
    "head": HEADS,
    "loss": LOSSES,
    "model": MODELS,
    "optimizer": OPTIMIZERS,
    "logger": LOGGERS,
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
