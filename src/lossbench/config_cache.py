"""Read each config file once per process while Hydra composes many configs.

Hydra reads and parses every config file of a composition anew (its ``CachingConfigRepository``
lives for one composition, and starts with a deep copy of the whole repository). A launcher
that composes a study's 72 data set x setup configs reads the same ~30 files 72 times:

    >>> from hydra.core.global_hydra import GlobalHydra              # doctest: +SKIP
    >>> cache_config_files(GlobalHydra.instance().config_loader())   # doctest: +SKIP

After this, each file's parsed result is kept (per search path and config path) and every
composition gets a deep copy of it, so a composition is what Hydra composes from the files
(``tests/test_config_cache.py`` compares them), at about seven eighths of the cost. The files
are read once: a file edited while a sweep composes its jobs is not seen by the rest of it.
"""

from __future__ import annotations

import copy
from typing import Any

from hydra.core.object_type import ObjectType

from lossbench.hydra_internals import ConfigRepository, IConfigRepository


class CachedConfigRepository(IConfigRepository):
    """A Hydra config repository whose parsed files are kept for every later composition.

    Hydra copies the repository for each composition (``copy.deepcopy``) and sets the copy's
    search path: a copy here shares the kept files and copies the repository only shallowly
    (setting the search path replaces its list of sources, it does not change the list).
    """

    def __init__(self, delegate: ConfigRepository, kept: dict | None = None) -> None:
        self.delegate = delegate
        self.kept: dict[tuple, Any] = {} if kept is None else kept

    def __deepcopy__(self, memo: dict) -> CachedConfigRepository:
        return CachedConfigRepository(copy.copy(self.delegate), self.kept)

    def load_config(self, config_path: str) -> Any:
        sources = tuple((s.provider, s.path) for s in self.delegate.get_sources())
        key = (sources, config_path)
        if key not in self.kept:
            self.kept[key] = self.delegate.load_config(config_path)
        found = self.kept[key]
        return None if found is None else copy.deepcopy(found)

    def get_schema_source(self) -> Any:
        return self.delegate.get_schema_source()

    def initialize_sources(self, config_search_path: Any) -> None:
        self.delegate.initialize_sources(config_search_path)

    def group_exists(self, config_path: str) -> bool:
        return self.delegate.group_exists(config_path)

    def config_exists(self, config_path: str) -> bool:
        return self.delegate.config_exists(config_path)

    def get_group_options(
        self, group_name: str, results_filter: ObjectType | None = ObjectType.CONFIG
    ) -> list[str]:
        return self.delegate.get_group_options(group_name, results_filter)

    def get_sources(self) -> list[Any]:
        return self.delegate.get_sources()


def cache_config_files(config_loader: Any) -> bool:
    """Make ``config_loader`` (Hydra's ``ConfigLoaderImpl``) keep the config files it parses;
    False where it has no repository of the kind this knows (nothing is changed)."""
    repository = getattr(config_loader, "repository", None)
    if isinstance(repository, CachedConfigRepository):
        return True
    if type(repository) is not ConfigRepository:
        return False
    config_loader.repository = CachedConfigRepository(repository)
    return True
