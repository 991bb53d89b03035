"""Config files read once per process while a launcher composes a study's jobs."""

from __future__ import annotations

import pytest
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.types import RunMode
from omegaconf import OmegaConf

from lossbench.config_cache import CachedConfigRepository, cache_config_files
from lossbench.train import config_dir

JOBS = [
    ["experiment=compare_all", f"data={data}", f"setup={setup}", "optimizer.lr=0.01"]
    for data in ("wine", "digits_multilabel")
    for setup in ("logits_focal", "softmax_bce", "log_softmax_nll")
]
JOBS.append(["experiment=compare_real", "data=mnist_ink", "model=conv", "setup=logits_focal"])


def _loader() -> ConfigLoaderImpl:
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))


def _composed(loader: ConfigLoaderImpl, overrides: list[str]) -> dict:
    cfg = loader.load_configuration("train", overrides, RunMode.RUN)
    container = OmegaConf.to_container(cfg, resolve=False)
    container["hydra"].pop("run")  # ${now:...}: the same text, but keep the check plain
    return container


@pytest.mark.slow
def test_compositions_with_kept_files_equal_hydras_own():
    plain, cached = _loader(), _loader()
    assert cache_config_files(cached) and cache_config_files(cached)  # once is enough
    assert isinstance(cached.repository, CachedConfigRepository)
    for overrides in JOBS:
        assert _composed(cached, overrides) == _composed(plain, overrides), overrides


def test_each_file_is_read_once_and_each_composition_gets_its_own_copy(monkeypatch):
    loader = _loader()
    cache_config_files(loader)
    delegate = type(loader.repository.delegate)
    reads: list[str] = []
    original = delegate.load_config

    def counting(self, config_path):
        reads.append(config_path)
        return original(self, config_path)

    monkeypatch.setattr(delegate, "load_config", counting)
    first = loader.load_configuration("train", JOBS[0], RunMode.RUN)
    n_first = len(reads)
    assert n_first > 10  # the primary config, the groups' options, the schemas
    first.optimizer.lr = 123.0  # a composition changed by its user changes no later one
    second = loader.load_configuration("train", JOBS[0], RunMode.RUN)
    assert len(reads) == n_first  # nothing read again
    assert second.optimizer.lr == 0.01
    loader.load_configuration("train", JOBS[1], RunMode.RUN)
    assert 0 < len(reads) - n_first < n_first  # only the other setup's files


def test_an_unknown_repository_is_left_alone():
    class Other:
        repository = object()

    other = Other()
    assert not cache_config_files(other)
    assert not isinstance(other.repository, CachedConfigRepository)


@pytest.mark.parametrize("option", ["nope", "wine"])
def test_a_missing_option_fails_as_in_hydra(option):
    plain, cached = _loader(), _loader()
    cache_config_files(cached)
    overrides = [f"data={option}", "model=nope"]
    errors = []
    for loader in (plain, cached):
        with pytest.raises(Exception) as info:
            loader.load_configuration("train", overrides, RunMode.RUN)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]
