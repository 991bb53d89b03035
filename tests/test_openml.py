"""data=openml, offline: the real fetch_openml reads recorded responses from the cache."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest

from cli_process import run_module
from lossbench.data.openml import infer_task, load_openml, positive_value
from lossbench.data.table import DataError
from lossbench.training import train
from lossbench.validation import ConfigError, validate

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import make_openml_cache  # noqa: E402

DATA_ID = make_openml_cache.DATA_ID


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A copy of the recorded cache (fetch_openml deletes cache files it cannot parse)."""
    return Path(shutil.copytree(FIXTURES / "openml_cache", tmp_path / "cache"))


@pytest.fixture
def offline(monkeypatch) -> None:
    """Every download fails as it does without a network."""
    import sklearn.datasets._openml as openml

    def no_network(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(openml, "urlopen", no_network)


def test_the_recorded_responses_are_those_the_script_writes(tmp_path: Path) -> None:
    made = make_openml_cache.write(tmp_path)
    recorded = sorted(
        p.relative_to(FIXTURES / "openml_cache") for p in (FIXTURES / "openml_cache").rglob("*.gz")
    )
    assert recorded == sorted(p.relative_to(made) for p in made.rglob("*.gz"))
    for path in recorded:
        with gzip.open(FIXTURES / "openml_cache" / path) as a, gzip.open(made / path) as b:
            assert a.read() == b.read(), path


@pytest.mark.parametrize("by", ["id", "name"])
def test_loads_by_id_or_name_from_the_cache(cache: Path, offline, by: str) -> None:
    key = {"openml_id": DATA_ID} if by == "id" else {"openml_name": "lossbench-tiny"}
    table = load_openml({"name": "openml", "cache_dir": str(cache), **key})
    rows = make_openml_cache.rows()
    assert table.features.shape == (60, 3)
    assert table.feature_names == ["size", "weight", "colour"]
    assert table.categories == {"colour": ["blue", "green", "red"]}
    assert np.isnan(table.features[:, 1]).sum() == 2  # '?' in the ARFF file
    expected = [r[3] == "yes" for r in rows]
    np.testing.assert_array_equal(table.labels, expected)
    assert table.label_names == ["label=yes"]  # the less frequent value is positive


def test_positive_class_and_task_can_be_given(cache: Path, offline) -> None:
    base = {"name": "openml", "openml_id": DATA_ID, "cache_dir": str(cache)}
    table = load_openml({**base, "positive_class": "no"})
    assert table.label_names == ["label=no"] and table.labels.mean() == pytest.approx(40 / 60)
    table = load_openml({**base, "task": "multiclass"})
    assert table.classes == ["no", "yes"]
    with pytest.raises(DataError, match=r"data.task=multilabel does not fit .* binary"):
        load_openml({**base, "task": "multilabel"})
    with pytest.raises(DataError, match=r"positive_class='maybe' is not a value .* 'no', 'yes'"):
        load_openml({**base, "positive_class": "maybe"})


@pytest.mark.parametrize(
    ("values", "counts", "positive"),
    [
        (["0", "1"], [30, 70], "1"),  # a 0/1 pair: 1, though it is the more frequent
        (["FALSE", "TRUE"], [80, 20], "TRUE"),
        (["no", "yes"], [10, 90], "yes"),
        (["-1", "1"], [40, 60], "1"),
        (["neg", "pos"], [70, 30], "pos"),
        (["1", "2"], [570, 178], "2"),  # classes coded 1 and 2: the less frequent, not '1'
        (["maybe", "yes"], [30, 70], "maybe"),  # 'yes' without its 'no'
        (["bad", "good"], [300, 700], "bad"),
        (["a", "b"], [5, 5], "b"),  # a tie: the later in sorted order
    ],
    ids=[
        "0-1",
        "false-true",
        "no-yes",
        "minus-one-one",
        "neg-pos",
        "1-2",
        "maybe-yes",
        "bad-good",
        "tie",
    ],
)
def test_the_positive_class_is_a_pairs_positive_side_else_the_less_frequent(
    values: list[str], counts: list[int], positive: str
) -> None:
    """As the README states it: a positive / negative pair decides, else frequency."""
    assert positive_value(values, counts) == positive


def test_the_readme_states_the_positive_class_rule() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### OpenML", 1)[1].split("\n## ", 1)[0]
    assert "positive / negative pair" in section and "less frequent value" in section
    assert "`1` and `2`" in section  # the case where the two rules part


def test_trains_offline_from_the_cache(make_cfg, cache: Path, offline, tmp_path: Path) -> None:
    overrides = ("data=openml", f"data.openml_id={DATA_ID}", f"data.cache_dir={cache}")
    with pytest.raises(ConfigError, match=r"data=openml has missing values.*'weight' \(2\)"):
        train(make_cfg(*overrides, "head=logits", "loss=bce_with_logits"), tmp_path / "no")
    record = train(
        make_cfg(*overrides, "data.impute=median", "head=logits", "loss=bce_with_logits"),
        tmp_path / "run",
    )
    assert record["status"] == "completed" and record["task"] == "binary"
    assert sum(record["sizes"].values()) == 60


@pytest.mark.filterwarnings("ignore:A network error occurred")
@pytest.mark.slow
def test_offline_with_nothing_cached_is_refused_naming_the_cache(
    make_cfg, offline, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    cfg = make_cfg("data=openml", "data.openml_id=31", f"data.cache_dir={empty}")
    with pytest.raises(
        ConfigError,
        match=r"cannot download it from openml.org .* nothing is "
        rf"cached for it under data.cache_dir='{empty}'",
    ):
        validate(cfg)


@pytest.mark.filterwarnings("ignore:A network error occurred")
def test_a_cache_that_cannot_be_written_is_refused_naming_it(make_cfg, offline) -> None:
    """scikit-learn's PermissionError traceback, before."""
    from lossbench.output_files import cannot_write_below

    cache = Path("/sys/lossbench-openml")
    if cannot_write_below(cache) is None:
        pytest.skip("/sys takes new folders here")
    cfg = make_cfg("data=openml", "data.openml_id=31", f"paths.data_dir={cache}")
    with pytest.raises(ConfigError, match=r"is not cached there yet, .*/sys cannot be written"):
        validate(cfg)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


#: Every download of a child process fails fast, with or without a network: the proxy's port
#: is closed.
NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("data_set", "cache_dir"),
    [("data.openml_id=31", "new/cache"), ("data.openml_name=no-such-data-set", "cache")],
    ids=["nothing-cached-new-directory", "unknown-name-existing-cache"],
)
@pytest.mark.slow
def test_a_refused_download_leaves_no_cache_directories(
    cache: Path, tmp_path: Path, data_set: str, cache_dir: str
) -> None:
    """fetch_openml makes the cache's directories before it downloads: a refused command left
    an empty tree (cache/openml/openml.org/api/v1/json/data/...) behind."""
    before = _tree(tmp_path)
    result = run_module(
        "lossbench.train",
        "data=openml",
        data_set,
        f"data.cache_dir={cache_dir}",
        cwd=tmp_path,
        unset=("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"),
        extra_env={**NO_NETWORK, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "cannot download it from openml.org" in result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ((), r"exactly one of data.openml_id and data.openml_name, but neither is set"),
        (("data.openml_id=1", "data.openml_name=x"), r"but both are set"),
        (("data.openml_id=1", "data.openml_version=2"), r"openml_version=2 applies to"),
        (("data.openml_id=1", "data.task=regression"), r"data.task='regression' is not a task"),
    ],
)
def test_bad_openml_configs_are_refused(make_cfg, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message):
        validate(make_cfg("data=openml", *overrides))


def test_task_inference_from_targets() -> None:
    frame = pd.DataFrame(
        {
            "x": [0.1, 0.2, 0.3, 0.4],
            "digit": [3, 7, 9, 3],
            "a": ["TRUE", "FALSE", "TRUE", "FALSE"],
            "b": ["FALSE", "FALSE", "TRUE", "TRUE"],
            "price": [1.5, 2.25, 3.0, 4.0],
        }
    )
    assert infer_task(frame, ["digit"]) == "multiclass"
    assert infer_task(frame, ["a"]) == "binary"
    assert infer_task(frame, ["a", "b"]) == "multilabel"
    with pytest.raises(DataError, match="regression target"):
        infer_task(frame, ["price"])
