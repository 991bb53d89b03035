"""Widening a study's learning-rate grid where the chosen rate lies at an edge: the rule agrees
with the report's selection, and the sweeper trains the added rates through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cli_process import run_module
from lossbench.report.selection import select_learning_rates
from lossbench.tuning_grid import GridWidening, cell_of, extension_jobs, next_rate, rate_key

GRID = (0.0003, 0.001, 0.003, 0.01, 0.03)


@pytest.mark.parametrize(
    ("rates", "side", "expected"),
    [
        (GRID, "low", 0.0001),
        (GRID, "high", 0.1),
        ((0.0001, 0.0003), "low", 3e-05),
        ((0.03, 0.1), "high", 0.3),
        ((0.001, 0.01), "low", 0.0001),  # a decade per step
        ((0.001, 0.002, 0.004), "high", 0.008),  # no round number near: the grid's own step
        ((0.001, 0.002), "low", 0.0005),
    ],
)
def test_the_next_rate_continues_the_grid_spacing_at_that_end(rates, side, expected):
    assert next_rate(rates, side) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("rates", [(0.01,), (0.0, 0.01), ()])
def test_a_grid_that_cannot_be_continued_is_refused(rates):
    with pytest.raises(ValueError, match="at least two positive rates"):
        next_rate(rates, "low")


def _random_study(seed: int) -> pd.DataFrame:
    """Runs of 2 data sets x 3 setups x GRID x 3 seeds with random validation values, some
    failed runs and one cell where every run failed."""
    rng = np.random.default_rng(seed)
    rows = []
    for data in ("wine", "digits"):
        for setup in ("ce", "bce", "focal"):
            for lr in GRID:
                for s in range(3):
                    failed = rng.random() < 0.1 or (data, setup) == ("digits", "focal")
                    rows.append(
                        {
                            "data": data,
                            "setup": setup,
                            "lr": lr,
                            "seed": s,
                            "status": "failed" if failed else "completed",
                            "val/nll": np.nan if failed else float(rng.gamma(2.0, 0.1)),
                            "test/nll": float(rng.gamma(2.0, 0.1)),
                        }
                    )
    return pd.DataFrame(rows)


def _jobs(runs: pd.DataFrame) -> list[tuple[list[str], float | None]]:
    return [
        (
            [
                f"data={r['data']}",
                f"setup={r['setup']}",
                f"optimizer.lr={r['lr']}",
                f"seed={r['seed']}",
            ],
            r["val/nll"] if r["status"] == "completed" else None,
        )
        for r in runs.to_dict("records")
    ]


@pytest.mark.parametrize("seed", range(8))
def test_the_grid_widens_exactly_where_the_report_flags_a_rate_at_the_edge(seed):
    runs = _random_study(seed)
    _, chosen = select_learning_rates(runs, "test/nll", "min")
    new = extension_jobs(_jobs(runs), key="optimizer.lr", replicates=("seed",), mode="min")
    widened: dict[tuple[str, str], set[float]] = {}
    for job in new:
        fields = dict(o.split("=", 1) for o in job)
        widened.setdefault((fields["data"], fields["setup"]), set()).add(
            float(fields["optimizer.lr"])
        )
        assert fields["seed"] in {"0", "1", "2"}
    flagged = chosen[chosen["lr_at_edge"]]
    # every cell the report flags, and the cell whose runs all failed (toward smaller rates)
    assert set(widened) == {(r.data, r.setup) for r in flagged.itertuples()} | {("digits", "focal")}
    assert widened[("digits", "focal")] == {next_rate(GRID, "low")}
    for row in flagged.itertuples():
        side = "low" if row.lr == GRID[0] else "high"
        assert widened[(row.data, row.setup)] == {next_rate(GRID, side)}
        # one job per seed of the chosen rate (the seeds that ran at it)
        n_seeds = int(
            (
                (runs["data"] == row.data) & (runs["setup"] == row.setup) & (runs["lr"] == row.lr)
            ).sum()
        )
        assert (
            sum(1 for j in new if f"data={row.data}" in j and f"setup={row.setup}" in j) == n_seeds
        )


def _simulated_values(job: list[str], rng: np.random.Generator) -> float:
    """A validation value for a widening job: lower at lower rates for even cells."""
    lr = float(dict(o.split("=", 1) for o in job)["optimizer.lr"])
    return float(abs(np.log10(lr) + 2.5) + rng.random() * 0.01)


@pytest.mark.parametrize("seed", range(4))
def test_widening_cell_by_cell_as_runs_end_gives_the_jobs_of_the_rounds_after_the_sweep(seed):
    """The launcher asks as jobs end; the sweep-wide rounds ask once everything has ended: each
    cell gets the same jobs either way, at most ``steps`` rounds beyond each end."""
    base = _jobs(_random_study(seed))
    key, reps = "optimizer.lr", ("seed",)

    def value(job: list[str]) -> float:  # the same value for a job whichever way it is asked
        return _simulated_values(job, np.random.default_rng(abs(hash(tuple(job))) % 2**32))

    rounds = GridWidening(key=key, replicates=reps, mode="min", steps=2)
    after_sweep = list(base)
    while new := rounds.next_jobs(after_sweep):
        after_sweep += [(job, value(job)) for job in new]

    early = GridWidening(key=key, replicates=reps, mode="min", steps=2)
    cells = list(dict.fromkeys(cell_of(o, key=key, replicates=reps) for o, _ in base))
    ended: list = []
    waiting = list(base)
    for cell in cells:  # the cells end one after another; their widening jobs run at once
        ended += [j for j in waiting if cell_of(j[0], key=key, replicates=reps) == cell]
        waiting = [j for j in waiting if cell_of(j[0], key=key, replicates=reps) != cell]
        while new := early.next_jobs(ended, [o for o, _ in waiting]):
            assert {cell_of(o, key=key, replicates=reps) for o in new} == {cell}
            ended += [(job, value(job)) for job in new]
    assert sorted(map(str, ended)) == sorted(map(str, after_sweep))
    assert len(after_sweep) > len(base)  # the study widened somewhere
    assert max(rounds.rounds.values()) <= 2


def test_a_rate_with_a_failed_run_loses_to_any_rate_without_failures():
    assert rate_key([0.9, 0.9], "min") < rate_key([0.1, None], "min")
    jobs = [
        (["optimizer.lr=0.001", "seed=0"], 0.5),
        (["optimizer.lr=0.001", "seed=1"], 0.5),
        (["optimizer.lr=0.01", "seed=0"], 0.1),
        (["optimizer.lr=0.01", "seed=1"], float("nan")),  # diverged
    ]
    assert extension_jobs(jobs, key="optimizer.lr", replicates=("seed",), mode="min") == [
        ["optimizer.lr=0.0001", "seed=0"],
        ["optimizer.lr=0.0001", "seed=1"],
    ]


def _runs(sweep) -> dict[tuple[str, float, int], dict]:
    """Records by (setup, lr, seed), read from the directory names ``<setup>-lr<lr>-seed<s>``."""
    out = {}
    for path in sweep.glob("*/metrics.json"):
        setup, lr, seed = path.parent.name.split("-")
        out[(setup, float(lr.removeprefix("lr")), int(seed.removeprefix("seed")))] = json.loads(
            path.read_text()
        )
    return out


WIDENED = (
    "-m",
    "hydra/sweeper=lossbench",
    "hydra/launcher=vectorized",
    "hydra.launcher.n_jobs=1",
    "data=iris",
    # ASL is refused on a multi-class task: its jobs say nothing about rates
    "setup=logits_cross_entropy,logits_asl",
    "optimizer.lr=0.3,1.0",  # Adam on iris: the smaller rate wins, at the grid's low end
    "seed=0,1",
    "trainer.max_epochs=4",
    "logger=none",
    "hydra.sweeper.widen.key=optimizer.lr",
    "hydra.sweeper.widen.steps=1",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=${setup}-lr${optimizer.lr}-seed${seed}",
)


@pytest.mark.slow
def test_the_sweeper_trains_the_next_rate_for_every_seed(tmp_path):
    result = run_module("lossbench.train", *WIDENED, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = _runs(tmp_path / "sweep")
    ce = sorted((lr, s) for setup, lr, s in runs if setup == "logits_cross_entropy")
    assert ce == [(0.1, 0), (0.1, 1), (0.3, 0), (0.3, 1), (1.0, 0), (1.0, 1)]
    asl = sorted((lr, s) for setup, lr, s in runs if setup == "logits_asl")
    assert asl == [(0.3, 0), (0.3, 1), (1.0, 0), (1.0, 1)]  # refused: not widened
    assert all(runs[("logits_asl", *k)]["refused"] for k in asl)
    val = {
        lr: np.mean([runs[("logits_cross_entropy", lr, s)]["val/nll"] for s in (0, 1)])
        for lr in (0.3, 1.0)
    }
    assert val[0.3] < val[1.0]  # why 0.1 was added (and not 3.0)
    assert "widening the grid of optimizer.lr: 2 jobs" in result.stdout
    assert "study: 10/10 jobs ended (6 completed, 0 skipped, 4 refused" in result.stderr


@pytest.mark.slow
def test_with_worker_processes_a_cell_widens_while_other_cells_still_train(tmp_path):
    """Two workers: the quick cell's widening job is launched before the slow cell has ended
    (the launcher's follow-up)."""
    args = [a for a in WIDENED if not a.startswith(("hydra.launcher.n_jobs", "setup="))]
    result = run_module(
        "lossbench.train",
        *args,
        "hydra.launcher.n_jobs=2",
        "setup=logits_cross_entropy,log_softmax_nll",
        "+hydra.sweeper.linked.setup={log_softmax_nll: ['trainer.max_epochs=150']}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = _runs(tmp_path / "sweep")
    added = {}
    for setup in ("logits_cross_entropy", "log_softmax_nll"):
        rates = {lr for s, lr, _ in runs if s == setup}
        # one rate added next to the grid; for the 150-epoch cell 0.3 and 1.0 end close, and
        # which of them wins differs between CPUs, so either side is a correct widening
        (added[setup],) = rates - {0.3, 1.0}
        assert len(rates) == 3 and added[setup] in (0.1, 3.0), rates
    assert added["logits_cross_entropy"] == 0.1  # 4 epochs: the low end wins (as above)
    assert result.stdout.count("widening the grid of optimizer.lr: 2 jobs") == 2

    def ended(setup: str, lr: float) -> float:
        return max(
            p.stat().st_mtime
            for p in (tmp_path / "sweep").glob(f"{setup}-lr{lr}-seed*/metrics.json")
        )

    # the quick cell's added rate had trained before the slow cell's grid (150 epochs) ended
    assert ended("logits_cross_entropy", 0.1) < ended("log_softmax_nll", 0.3)
    assert "study: 12/12 jobs ended (12 completed" in result.stderr


@pytest.mark.slow
def test_a_widened_sweep_run_again_skips_every_completed_job_and_widens_the_same(tmp_path):
    first = run_module("lossbench.train", *WIDENED, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_module("lossbench.train", *WIDENED, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    # the widening jobs are decided again from the skipped jobs' values: the same 2 jobs
    assert "widening the grid of optimizer.lr: 2 jobs" in again.stdout
    assert "10/10 jobs ended (0 completed, 6 skipped, 4 refused" in again.stderr


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        # a process each: the widened key's check also runs in process in the default suite
        # (test_the_widened_key_is_checked_as_the_sweep_runs_it), so its two rows are slow
        pytest.param(
            ("hydra.sweeper.widen.key=optimizer.weight_decay", "optimizer.lr=0.1,0.3"),
            ["widen.key='optimizer.weight_decay'", "not swept", "widen.key=null"],
            marks=pytest.mark.slow,
        ),
        pytest.param(
            ("hydra.sweeper.widen.key=optimizer.lr", "optimizer.lr=0.1"),
            ["not swept"],
            marks=pytest.mark.slow,
        ),
        (("hydra.sweeper.widen.steps=-1", "optimizer.lr=0.1,0.3"), ["widen.steps=-1", ">= 0"]),
    ],
)
def test_a_widening_that_cannot_work_is_refused_before_any_job_runs(tmp_path, overrides, words):
    result = run_module(
        "lossbench.train",
        "-m",
        "hydra/sweeper=lossbench",
        "data=iris",
        "seed=0,1",
        *overrides,
        "trainer.max_epochs=1",
        "logger=none",
        "hydra.sweep.dir=sweep",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("lossbench: refused: hydra.sweeper.widen.")
    assert all(w in result.stderr for w in words), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "sweep").rglob("metrics.json"))


def test_jobs_refused_or_skipped_without_a_value_are_no_evidence_about_rates(tmp_path):
    from hydra_plugins.lossbench_sweeper.sweeper import evidence
    from lossbench.progress import mark_job

    jobs = [(["optimizer.lr=0.001"], 0.3), (["optimizer.lr=0.001"], None)] * 3
    outcomes = ["completed", "failed", "skipped", "refused", "completed", "skipped"]
    for number, outcome in enumerate(outcomes):
        mark_job(tmp_path, number, outcome)
    kept = evidence([(n, o, v) for n, (o, v) in enumerate(jobs)], str(tmp_path))
    # values always count; a job without one only when it failed in training
    assert kept == [jobs[0], jobs[1], jobs[2], jobs[4]]


def test_jobs_not_run_for_other_settings_in_their_directory_close_their_cell(tmp_path):
    """``exists`` (a completed run of other settings in the job's directory) says nothing about
    the rate, and the cell's other runs are left out with it: that cell is not widened."""
    from hydra_plugins.lossbench_sweeper.sweeper import evidence
    from lossbench.progress import mark_job

    jobs = [
        (["setup=a", "optimizer.lr=0.01", "seed=0"], None),  # exists: another study's run
        (["setup=a", "optimizer.lr=0.03", "seed=0"], 0.2),
        (["setup=b", "optimizer.lr=0.01", "seed=0"], None),  # failed in training
        (["setup=b", "optimizer.lr=0.03", "seed=0"], 0.4),
    ]
    for number, outcome in enumerate(["exists", "completed", "failed", "completed"]):
        mark_job(tmp_path, number, outcome)
    numbered = [(n, o, v) for n, (o, v) in enumerate(jobs)]
    assert evidence(numbered, str(tmp_path)) == jobs[1:]
    cells = evidence(
        numbered, str(tmp_path), lambda o: cell_of(o, key="optimizer.lr", replicates=["seed"])
    )
    assert cells == jobs[2:]


#: A sweep of 2 rates x 1 seed on iris; run again with another epoch cap (other settings),
#: every job finds the first sweep's completed run in its directory.
AGAIN = (
    "-m",
    "hydra/sweeper=lossbench",
    "data=iris",
    "optimizer.lr=0.3,1.0",
    "seed=0",
    "logger=none",
    "hydra.sweeper.widen.key=optimizer.lr",
    "hydra.sweep.dir=sweep",
    "hydra.sweep.subdir=lr${optimizer.lr}",
)


@pytest.mark.slow  # two lossbench-train -m processes for each launcher, about 9 s on 2 cores
@pytest.mark.parametrize("launcher", ["vectorized", "basic"])
def test_a_study_run_again_with_other_settings_widens_nothing_into_the_old_one(tmp_path, launcher):
    """The jobs not run (another study's runs in their directories) are no evidence of a failing
    grid: nothing is widened, trained or written into the earlier study; the command exits 2.
    The vectorized launcher widens as cells end, the basic one after the sweep."""
    sweep = tmp_path / "sweep"
    first = run_module(
        "lossbench.train", *AGAIN, f"hydra/launcher={launcher}", "trainer.max_epochs=1",
        "hydra.sweeper.widen.steps=0", cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    records = {p: p.read_bytes() for p in sweep.glob("*/metrics.json")}
    assert sorted(p.parent.name for p in records) == ["lr0.3", "lr1.0"]
    other = run_module(
        "lossbench.train", *AGAIN, f"hydra/launcher={launcher}", "trainer.max_epochs=1",
        "optimizer.weight_decay=0.01", "hydra.sweeper.widen.steps=2", cwd=tmp_path,
    )  # fmt: skip
    assert other.returncode == 2, other.stderr[-3000:]
    assert "2 job(s) of this study were not run" in other.stderr
    assert "widening the grid" not in other.stdout + other.stderr
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "lr0.3",
        "lr1.0",
        "multirun.yaml",
    ]
    assert {p: p.read_bytes() for p in sweep.glob("*/metrics.json")} == records


@pytest.mark.parametrize(
    ("params", "arguments", "given"),
    [
        # a study's grid replaced by one rate on the command line: what the sweep would run
        (
            {"optimizer.lr": "0.001,0.01", "seed": "0,1"},
            ["optimizer.lr=0.01"],
            "0.01 (one value, not swept: optimizer.lr=0.01 on the command line replaces the "
            "grid of hydra.sweeper.params, optimizer.lr=0.001,0.01)",
        ),
        ({"optimizer.lr": "0.01", "seed": "0,1"}, [], "0.01 (one value, not swept)"),
        ({"seed": "0,1"}, ["optimizer.lr=0.1"], "0.1 (one value, not swept)"),
        ({"seed": "0,1"}, [], "not swept"),
    ],
)
def test_the_widened_key_is_checked_as_the_sweep_runs_it(params, arguments, given):
    from hydra_plugins.lossbench_sweeper.sweeper import LossbenchSweeper
    from lossbench.errors import UserInputError

    sweeper = LossbenchSweeper(params=params, widen={"key": "optimizer.lr", "steps": 2})
    with pytest.raises(UserInputError) as refused:
        sweeper._check_widened(arguments)
    assert f"its grid is {given}, but widening needs a sweep" in str(refused.value)
    assert str(refused.value).endswith("Swept here: seed.")
    sweeper._check_widened([*arguments, "optimizer.lr=0.003,0.03"])  # a grid again: no refusal
