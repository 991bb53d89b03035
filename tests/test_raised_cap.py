"""A study run again with a higher epoch cap: the runs that early stopping ended are kept, the
others train again, and the result is the study trained at the higher cap from scratch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_process import SWEEP_LAUNCHERS, run_module
from lossbench.report.build import analyse
from lossbench.report.document import build_document
from lossbench.report.render import to_markdown
from lossbench.run_identity import raised_cap, set_aside_capped_run
from lossbench.train import ended_with_same_config
from lossbench.training import train

#: wine at lr 0.03 converges within a few epochs (patience 5); at 0.001 it is still improving
#: after 15 epochs.
PROTOCOL = (
    "+protocol=fair",
    "data=wine",
    "setup=logits_cross_entropy",
    "early_stopping.patience=5",
)


def _record(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _results(record: dict) -> dict:
    """What a run trained: its stop, epochs and every final metric."""
    keys = ("stopped_by", "epochs", "best_epoch", "steps")
    return {k: v for k, v in record.items() if k in keys or k.startswith(("val/", "test/"))}


def _kept(run: Path, cap: int) -> dict:
    """The record a raised cap set aside as ``metrics-max_epochs<cap>.json``, with its best
    checkpoint's path as it was written: the file is kept in ``checkpoints-max_epochs<cap>/``
    (checked here), where the kept record names it."""
    record = json.loads((run / f"metrics-max_epochs{cap}.json").read_text())
    best = Path(record["best_checkpoint"])
    assert best.parent == run / f"checkpoints-max_epochs{cap}" and best.is_file()
    return {**record, "best_checkpoint": str(run / "checkpoints" / best.name)}


@pytest.mark.slow
def test_a_raised_cap_keeps_a_run_early_stopping_ended_and_trains_one_that_hit_the_cap(
    make_cfg, tmp_path: Path
) -> None:
    def cfg(lr: float, cap: int):
        return make_cfg(*PROTOCOL, f"optimizer.lr={lr}", f"trainer.max_epochs={cap}")

    converged, capped = tmp_path / "lr0.03", tmp_path / "lr0.001"
    assert train(cfg(0.03, 15), converged, multirun=True)["stopped_by"] == "early_stopping"
    first = train(cfg(0.001, 15), capped, multirun=True)
    assert (first["stopped_by"], first["epochs"]) == ("budget", 15)
    kept = (converged / "metrics.json").read_bytes()

    # The job of the converged run is skipped: the same run under the higher cap.
    assert ended_with_same_config(cfg(0.03, 40), converged) == json.loads(kept)
    # The run that hit the cap is trained again, its earlier files kept beside the new ones.
    assert ended_with_same_config(cfg(0.001, 40), capped) is None
    again = train(cfg(0.001, 40), capped, multirun=True)
    fresh = train(cfg(0.001, 40), tmp_path / "fresh", multirun=True)
    assert again["epochs"] > 15
    assert _results(again) == _results(fresh)
    assert _kept(capped, 15) == first
    assert "max_epochs: 15" in (capped / "config-max_epochs15.yaml").read_text()
    # raised again: each earlier run keeps its checkpoints (a second raise deleted the first's)
    third = train(cfg(0.001, 60), capped, multirun=True)
    assert _kept(capped, 15) == first and _kept(capped, 40) == again
    assert third["best_checkpoint"].startswith(str(capped / "checkpoints" / "best-epoch"))
    assert (converged / "metrics.json").read_bytes() == kept
    assert not list(converged.glob("*-max_epochs*"))
    # ... and the converged run is what a fresh run at the higher cap records
    assert _results(json.loads(kept)) == _results(train(cfg(0.03, 40), tmp_path / "f2"))


def test_a_run_on_a_schedule_spread_over_the_cap_trains_again(make_cfg, tmp_path: Path) -> None:
    """Cosine annealing over trainer.max_epochs: the same epochs are other epochs of another
    schedule under a higher cap, so even a run early stopping ended trains again."""
    common = (*PROTOCOL, "optimizer.lr=0.03", "scheduler=cosine")
    run = tmp_path / "run"
    record = train(make_cfg(*common, "trainer.max_epochs=15"), run, multirun=True)
    assert record["stopped_by"] == "early_stopping"
    higher = make_cfg(*common, "trainer.max_epochs=40")
    assert ended_with_same_config(higher, run) is None
    from omegaconf import OmegaConf

    assert set_aside_capped_run(run, OmegaConf.to_container(higher, resolve=True)) == 15
    assert (run / "metrics-max_epochs15.json").is_file() and not (run / "metrics.json").exists()


def test_only_a_raised_cap_counts() -> None:
    """Any other difference, or a lower cap, is another run's config (never overwritten)."""
    base = {"seed": 0, "trainer": {"max_epochs": 300, "max_steps": -1}}
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 600, "max_steps": -1}})
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 200, "max_steps": -1}}) is None
    other_seed = {"seed": 1, "trainer": {"max_epochs": 600, "max_steps": -1}}
    assert raised_cap(base, other_seed) is None
    assert raised_cap(base, {**base, "trainer": {"max_epochs": 600, "max_steps": 9}}) is None


@pytest.mark.slow  # three sweeps of four jobs under each launcher: about a minute in all
@pytest.mark.parametrize(
    "launcher",
    [SWEEP_LAUNCHERS["basic"], SWEEP_LAUNCHERS["vectorized-workers"]],
    ids=["basic", "vectorized-workers"],
)
def test_a_study_run_again_with_a_higher_cap_is_the_study_at_that_cap(tmp_path, launcher) -> None:
    """lr 0.001 and 0.03 x seeds 0, 1 at a cap of 15 epochs (the 0.001 runs hit it), then the
    same sweep into the same folder at 40: two jobs skipped, two trained again, every record
    that of a fresh sweep at 40, and one setup in the report, not two told apart by their
    caps."""

    def sweep(folder: str, cap: int):
        result = run_module(
            "lossbench.train", "-m", *PROTOCOL, "optimizer.lr=0.001,0.03", "seed=0,1",
            f"trainer.max_epochs={cap}", "logger=none", *launcher, f"hydra.sweep.dir={folder}",
            cwd=tmp_path, extra_env={"OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout + result.stderr

    sweep("study", 15)
    capped = analyse([tmp_path / "study"], tmp_path / "capped-report")
    text = to_markdown(build_document(capped), tmp_path / "capped-report")
    assert "**Raising the cap.** Run the study's command again with a higher" in text
    runs = sorted((tmp_path / "study").glob("*/metrics.json"))
    runs = [record.parent for record in runs]
    before = {run.name: _record(run) for run in runs}
    assert sorted(r["stopped_by"] for r in before.values()) == [
        "budget", "budget", "early_stopping", "early_stopping"
    ]  # fmt: skip
    again_output = sweep("study", 40)
    assert "4/4 jobs ended (2 completed, 2 skipped, 0 refused, 0 failed)" in again_output
    if "hydra/launcher=vectorized" in launcher:  # the launcher's line counts them, no line each
        assert "2 already ended (skipped)" in again_output and "skipped: " not in again_output
    sweep("fresh", 40)
    for run in runs:
        now, fresh = _record(run), _record(tmp_path / "fresh" / run.name)
        if before[run.name]["stopped_by"] == "early_stopping":
            assert now == before[run.name]  # kept as it was
        else:
            assert _kept(run, 15) == before[run.name]
        assert now["stopped_by"] == fresh["stopped_by"], run.name
        numbers = {k: v for k, v in _results(now).items() if k != "stopped_by"}
        expected = {k: v for k, v in _results(fresh).items() if k != "stopped_by"}
        assert numbers == pytest.approx(expected, rel=1e-5), run.name
    again = analyse([tmp_path / "study"], tmp_path / "report")
    assert set(again.summary["setup"]) == {"logits_cross_entropy"}
    fresh_report = analyse([tmp_path / "fresh"], tmp_path / "fresh-report")
    columns = ["test/nll_mean", "test/accuracy_mean", "lr", "n_budget"]
    assert again.summary[columns].iloc[0].tolist() == pytest.approx(
        fresh_report.summary[columns].iloc[0].tolist(), rel=1e-5
    )
