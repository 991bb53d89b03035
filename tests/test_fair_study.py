"""The fair study protocol: the learning rate chosen on validation only, how runs record that
they stopped, identical results sharing a rank, Holm's correction, the epoch-cap rule, the
yardstick, and a verdict that a longer budget does not overturn."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import stats
from statsmodels.stats.multitest import multipletests

from lossbench.report.build import analyse
from lossbench.report.compare import compare_with_baselines
from lossbench.report.document import verdict_text
from lossbench.report.overview import family_overview
from lossbench.report.stats import SAME, holm
from lossbench.report.study import Study
from lossbench.report.yardstick import C_GRID, fit_yardstick
from lossbench.training import train
from run_records import write_run

SEEDS = (0, 1, 2)
CE, NLL, MSE = ("logits", "cross_entropy"), ("log_softmax", "nll"), ("sigmoid", "mse")


def write_grid(root: Path, head_loss: tuple[str, str], values: dict[float, tuple], **kw) -> None:
    """One setup on "wine" over a learning-rate grid: ``{lr: (val/nll, test/nll)}`` per seed
    (a seed offset keeps the spread non-zero)."""
    head, loss = head_loss
    for lr, (val, test) in values.items():
        for seed in SEEDS:
            offset = 0.01 * seed
            write_run(
                root / f"{head}_{loss}" / f"lr{lr}" / f"seed{seed}",
                data="wine", task="multiclass", head=head, loss=loss, seed=seed, lr=lr,
                metrics={"val/nll": val + offset, "test/nll": test + offset}, **kw,
            )  # fmt: skip


def test_the_learning_rate_is_chosen_on_validation_never_on_test(tmp_path: Path) -> None:
    # 0.01 has the best validation NLL; 0.1 the best test NLL: a test-split choice would take it.
    grid = {0.001: (0.30, 0.10), 0.01: (0.20, 0.40), 0.1: (0.25, 0.05)}
    write_grid(tmp_path, CE, grid)
    study = analyse([tmp_path], tmp_path / "report")
    row = study.summary.iloc[0]
    assert row["lr"] == 0.01 and not row["lr_at_edge"] and row["n_lr"] == 3
    assert row["test/nll_mean"] == pytest.approx(0.41)  # the chosen rate's test NLL
    assert row["val_selection"] == pytest.approx(0.21)
    chosen = study.runs[study.runs["selected"]]
    assert set(chosen["lr"]) == {0.01} and len(chosen) == 3
    assert study.verdicts[0].mean == pytest.approx(0.41)


def test_a_rate_at_the_edge_of_the_grid_is_flagged(tmp_path: Path) -> None:
    write_grid(tmp_path, CE, {0.001: (0.30, 0.3), 0.01: (0.20, 0.2)})
    row = analyse([tmp_path], tmp_path / "report").summary.iloc[0]
    assert row["lr"] == 0.01 and row["lr_at_edge"]


def test_a_rate_with_failed_runs_is_chosen_only_when_every_rate_has_failures(tmp_path) -> None:
    write_grid(tmp_path, CE, {0.001: (0.30, 0.3), 0.01: (0.10, 0.1)})
    write_run(
        tmp_path / "failed", data="wine", task="multiclass", head="logits",
        loss="cross_entropy", seed=3, lr=0.01, error="non-finite training loss (nan)",
    )  # fmt: skip
    row = analyse([tmp_path], tmp_path / "report").summary.iloc[0]
    assert row["lr"] == 0.001


def test_identical_results_share_a_rank_and_are_named_together(tmp_path: Path) -> None:
    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    write_grid(tmp_path, NLL, {0.01: (0.20, 0.20)})  # the same numbers: CE == LogSoftmax + NLL
    write_grid(tmp_path, MSE, {0.01: (0.25, 0.15)})  # better on test, but identical spread
    write_grid(tmp_path, ("softmax", "bce"), {0.01: (0.30, 0.30)})
    study = analyse([tmp_path], tmp_path / "report")
    ranks = dict(zip(study.summary["setup"], study.summary["rank"], strict=True))
    assert ranks == {"sigmoid + mse": 1, "logits + cross_entropy": 2,
                     "log_softmax + nll": 2, "softmax + bce": 4}  # fmt: skip
    row = study.summary.set_index("setup").loc["logits + cross_entropy"]
    assert row["identical_to"] == "log_softmax + nll"


def test_holm_adjusts_by_the_step_down_rule() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # By hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then running maximum.
    expected = {0.005: 0.02, 0.01: 0.03, 0.03: 0.06, 0.04: 0.06}
    assert holm(p) == pytest.approx([expected[x] for x in p])
    assert np.isnan(holm([0.01, float("nan")])[1])


@pytest.mark.parametrize("size", [1, 2, 5, 12, 40])
def test_holm_matches_statsmodels(size: int) -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(size)
    p = rng.uniform(0, 0.2, size) ** 2  # many small values: the cap and the maximum both act
    p[rng.integers(0, size, size // 3)] = p[0]  # ties
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def test_a_difference_that_holm_does_not_keep_is_no_difference(tmp_path: Path) -> None:
    """Three setups against the baseline; one differs with raw p ~ 0.026, which Holm's
    correction over the three comparisons lifts above 0.05."""
    base = np.array([0.50, 0.55, 0.47, 0.52, 0.49])
    setups = {
        CE: base,
        NLL: base + np.array([0.010, 0.020, 0.0, 0.012, 0.015]),  # raw p ~ 0.026
        MSE: base + np.array([0.02, -0.02, 0.01, -0.01, 0.0]),
        ("softmax", "bce"): base + np.array([0.2, 0.21, 0.19, 0.2, 0.22]),
    }
    rows = []
    for (head, loss), values in setups.items():
        for seed, value in enumerate(values):
            rows.append({"data": "d", "task": "multiclass", "setup": f"{head} + {loss}",
                         "seed": seed, "status": "completed", "refused": False,
                         "test/nll": value})  # fmt: skip
    runs = pd.DataFrame(rows)
    table = compare_with_baselines(
        runs, ["test/nll"], {"test/nll": "min"}, {"d": "logits + cross_entropy"}
    )
    nll = table.set_index("setup").loc["log_softmax + nll"]
    assert nll["p_value"] < 0.05 <= nll["p_holm"]
    assert nll["p_holm"] == pytest.approx(min(1.0, 2 * nll["p_value"]))  # second smallest of 3
    assert nll["verdict"] == SAME and "Holm" in nll["note"]
    assert nll["diff_pct"] == pytest.approx(100 * 0.0114 / base.mean())


def test_a_setup_whose_runs_mostly_hit_the_cap_is_not_named_best(tmp_path: Path) -> None:
    """It beats the converged setup already, so that one is not named best either: a longer
    budget could only widen the lead of the setup still improving."""
    from lossbench.report.document import verdict_table

    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    write_grid(tmp_path, MSE, {0.01: (0.10, 0.10)}, stopped_by="budget")
    study = analyse([tmp_path], tmp_path / "report")
    verdict = study.verdicts[0]
    assert verdict.best is None and verdict.best_converged == "logits + cross_entropy"
    assert verdict.unconverged == [
        ("sigmoid + mse", "3 of 3 runs hit the epoch cap still improving")
    ]
    assert [s for s, _ in verdict.beaten_by] == ["sigmoid + mse"]
    assert verdict.beaten_by[0][1] == pytest.approx(0.11)
    assert study.summary.set_index("setup").loc["sigmoid + mse", "n_budget"] == 3
    text = verdict_text(verdict, "min")
    assert (
        "no best is named: **sigmoid + mse** (0.11) did not converge within the epoch cap"
    ) in text
    assert "the best converged setup, **logits + cross_entropy** (0.21)" in text
    assert "raise trainer.max_epochs" in text and "Tied with it" not in text
    (row,) = verdict_table(study).rows
    assert row[1] == (
        "none: unconverged sigmoid + mse beats the best converged (raise trainer.max_epochs)"
    )


def test_an_unconverged_setup_worse_than_the_best_converged_one_leaves_it_best(
    tmp_path: Path,
) -> None:
    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    write_grid(tmp_path, MSE, {0.01: (0.30, 0.30)}, stopped_by="budget")
    verdict = analyse([tmp_path], tmp_path / "report").verdicts[0]
    assert verdict.best == "logits + cross_entropy"
    assert verdict.beaten_by == [] and verdict.best_converged is None
    assert [s for s, _ in verdict.unconverged] == ["sigmoid + mse"]


def test_a_rate_choice_against_a_rate_still_improving_is_unsettled(tmp_path: Path) -> None:
    """Cross-entropy chose lr 0.01 while its runs at 0.003 hit the cap still improving: with
    more epochs 0.003 could win, so its choice is not settled. It may not be named best, and,
    better than the converged sigmoid + mse already, it keeps that one from being named."""
    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    write_grid(tmp_path, CE, {0.003: (0.25, 0.40)}, stopped_by="budget")
    write_grid(tmp_path, MSE, {0.01: (0.30, 0.30), 0.003: (0.35, 0.35)})
    study = analyse([tmp_path], tmp_path / "report")
    why = "rate choice unsettled: lr 0.003 still improving at the cap in 3 of 3 runs"
    summary = study.summary.set_index("setup")
    assert summary.loc["logits + cross_entropy", "lr"] == 0.01
    assert summary.loc["logits + cross_entropy", "lr_unsettled"] == why
    assert summary.loc["sigmoid + mse", "lr_unsettled"] == ""
    verdict = study.verdicts[0]
    assert verdict.unconverged == [("logits + cross_entropy", why)]
    assert verdict.best is None and verdict.best_converged == "sigmoid + mse"
    assert f"**logits + cross_entropy** ({why})" in verdict_text(verdict, "min")


def test_a_rate_still_improving_where_a_run_failed_leaves_the_choice_settled(
    tmp_path: Path,
) -> None:
    """The same, but one of cross-entropy's runs at 0.003 diverged: a rate with a failed run
    is never chosen over a rate without one, and more epochs leave it failed, so 0.01 is
    settled and cross-entropy is named best."""
    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    for seed in SEEDS:
        failed = seed == 0
        write_run(
            tmp_path / "ce" / "lr0.003" / f"seed{seed}", data="wine", task="multiclass",
            head="logits", loss="cross_entropy", seed=seed, lr=0.003, stopped_by="budget",
            metrics=None if failed else {"val/nll": 0.25, "test/nll": 0.40},
            error="non-finite training loss (nan) at epoch 3" if failed else None,
        )  # fmt: skip
    write_grid(tmp_path, MSE, {0.01: (0.30, 0.30), 0.003: (0.35, 0.35)})
    study = analyse([tmp_path], tmp_path / "report")
    summary = study.summary.set_index("setup")
    assert summary.loc["logits + cross_entropy", "lr"] == 0.01
    assert summary.loc["logits + cross_entropy", "lr_unsettled"] == ""
    verdict = study.verdicts[0]
    assert verdict.unconverged == [] and verdict.best == "logits + cross_entropy"


def test_the_overview_names_the_ranked_setups_that_did_not_converge(tmp_path: Path) -> None:
    """The ranking keeps them (the statistics are unchanged), and a note under it says which
    setups' mean rank includes results still improving at the cap."""
    from lossbench.report.document import build_document
    from lossbench.report.render import Text

    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)})
    write_grid(tmp_path, MSE, {0.01: (0.10, 0.10)}, stopped_by="budget")
    study = analyse([tmp_path], tmp_path / "report")
    (family,) = study.overview
    assert family.mean_ranks.to_dict() == {"sigmoid + mse": 1.0, "logits + cross_entropy": 2.0}
    texts = [b.text for b in build_document(study) if isinstance(b, Text)]
    (note,) = [t for t in texts if t.startswith("Not converged in some data set")]
    assert note.startswith("Not converged in some data set: **sigmoid + mse** (wine).")


def test_a_data_set_where_no_setup_converged_says_so(tmp_path: Path) -> None:
    from lossbench.report.document import verdict_text

    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)}, stopped_by="budget")
    write_grid(tmp_path, MSE, {0.01: (0.10, 0.10)}, stopped_by="budget")
    verdict = analyse([tmp_path], tmp_path / "report").verdicts[0]
    assert verdict.best is None and len(verdict.unconverged) == 2
    text = verdict_text(verdict, "min")
    assert "no setup converged within the epoch cap" in text
    assert "no completed run records" not in text
    from lossbench.report.document import verdict_table

    study = analyse([tmp_path], tmp_path / "report")  # the table the command line prints too
    (row,) = verdict_table(study).rows
    assert row[1] == "none converged within the epoch cap (raise trainer.max_epochs)"


#: The early-stopping settings of a run trained without early stopping (the default outside
#: the studies), and with it (the fair protocol's).
NO_EARLY_STOPPING = {
    "enabled": False,
    "monitor": None,
    "mode": None,
    "patience": 5,
    "min_delta": 0.0,
}
EARLY_STOPPING = {**NO_EARLY_STOPPING, "enabled": True, "patience": 20, "min_delta": 0.0}
#: 12 validations whose best is the 4th: 8 without an improvement before the cap.
CONVERGED = [1.0, 0.6, 0.4, 0.3, 0.31, 0.33, 0.35, 0.38, 0.4, 0.42, 0.45, 0.5]
#: 12 validations, each better than the one before: still improving at the cap.
IMPROVING = [1.0 - 0.05 * epoch for epoch in range(12)]


def test_runs_without_early_stopping_that_converged_before_the_cap_give_a_verdict(
    tmp_path: Path,
) -> None:
    """Without early stopping every run trains to the cap (stopped_by=budget); one whose
    validation NLL last improved 8 validations before the cap (patience 5) had converged, so
    the report names a best instead of asking for more epochs that would change nothing."""
    from lossbench.report.document import verdict_table

    for setup, val in ((CE, 0.20), (MSE, 0.10)):
        write_grid(tmp_path, setup, {0.01: (val, val)}, stopped_by="budget",
                   history={"val/nll": CONVERGED}, early_stopping=NO_EARLY_STOPPING)  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report")
    verdict = study.verdicts[0]
    assert verdict.best == "sigmoid + mse" and verdict.unconverged == []
    summary = study.summary.set_index("setup")
    assert summary["n_budget"].tolist() == [3, 3] and summary["n_improving"].tolist() == [0, 0]
    assert not study.runs["still_improving"].any()
    (row,) = verdict_table(study).rows
    assert row[1] == "sigmoid + mse"


def test_runs_without_early_stopping_still_improving_at_the_cap_say_so(tmp_path: Path) -> None:
    """Runs trained without early stopping whose validation NLL improved to the last epoch
    were still improving: no verdict, and the advice names both fixes: more epochs, and early
    stopping, which was off."""
    from lossbench.report.document import verdict_table, verdict_text

    for setup, val in ((CE, 0.20), (MSE, 0.10)):
        write_grid(tmp_path, setup, {0.01: (val, val)}, stopped_by="budget",
                   history={"val/nll": IMPROVING}, early_stopping=NO_EARLY_STOPPING)  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report")
    verdict = study.verdicts[0]
    assert verdict.best is None
    assert verdict.without_early_stopping == ["sigmoid + mse", "logits + cross_entropy"]
    (row,) = verdict_table(study).rows
    assert row[1] == (
        "none converged within the epoch cap (raise trainer.max_epochs, with "
        "early_stopping.enabled=true)"
    )
    text = verdict_text(verdict, "min")
    assert "**sigmoid + mse** (3 of 3 runs hit the epoch cap still improving)" in text
    assert (
        "Early stopping was off in runs of sigmoid + mse, logits + cross_entropy: with "
        "early_stopping.enabled=true"
    ) in text


def test_the_advice_on_early_stopping_names_a_setup_held_back_by_another_rate(
    tmp_path: Path,
) -> None:
    """Without early stopping, cross-entropy's chosen 0.01 converged before the cap but its
    0.003 was still improving there: its rate choice is unsettled, and the advice names it
    among the setups trained without early stopping (it looked at the chosen rates only)."""
    off = {"stopped_by": "budget", "early_stopping": NO_EARLY_STOPPING}
    write_grid(tmp_path, CE, {0.01: (0.20, 0.20)}, history={"val/nll": CONVERGED}, **off)
    write_grid(tmp_path, CE, {0.003: (0.25, 0.25)}, history={"val/nll": IMPROVING}, **off)
    write_grid(tmp_path, MSE, {0.01: (0.30, 0.30)}, history={"val/nll": IMPROVING}, **off)
    verdict = analyse([tmp_path], tmp_path / "report").verdicts[0]
    assert [s for s, _ in verdict.unconverged] == ["logits + cross_entropy", "sigmoid + mse"]
    assert verdict.without_early_stopping == ["logits + cross_entropy", "sigmoid + mse"]


def test_runs_with_early_stopping_that_hit_the_cap_were_still_improving(tmp_path: Path) -> None:
    """With early stopping on, a run that reached the cap had not run out of patience: it
    blocks a verdict whatever its best epoch, and the advice is more epochs only."""
    from lossbench.report.document import verdict_table

    for setup, val in ((CE, 0.20), (MSE, 0.10)):
        write_grid(tmp_path, setup, {0.01: (val, val)}, stopped_by="budget",
                   history={"val/nll": CONVERGED}, early_stopping=EARLY_STOPPING)  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report")
    verdict = study.verdicts[0]
    assert verdict.best is None and verdict.without_early_stopping == []
    assert study.summary["n_improving"].tolist() == [3, 3]
    (row,) = verdict_table(study).rows
    assert row[1] == "none converged within the epoch cap (raise trainer.max_epochs)"


def test_convergence_speed_counts_steps_to_within_one_percent(tmp_path: Path) -> None:
    history = {"val/nll": [1.0, 0.5, 0.202, 0.2, 0.2]}  # within 1 % of 0.2 at the 3rd epoch
    write_grid(tmp_path, CE, {0.01: (0.2, 0.2)}, history=history)
    study = analyse([tmp_path], tmp_path / "report")
    # write_run records 9 steps over 3 epochs... of a 5-epoch history: 9/5 steps per epoch
    assert study.runs["steps_to_1pct"].tolist() == pytest.approx([3 * 9 / 5] * 3)


def test_convergence_speed_of_a_metric_the_history_lacks_is_that_of_val_nll(
    tmp_path: Path,
) -> None:
    """The studies record only ``val/nll`` per epoch: ``--metric test/accuracy`` measured the
    speed on a ``val/accuracy`` history no run had, and every cell read "–"."""
    history = {"val/nll": [1.0, 0.5, 0.202, 0.2, 0.2]}
    for head, loss in (CE, MSE):
        for seed in SEEDS:
            metrics = {"val/nll": 0.2, "test/nll": 0.2, "val/accuracy": 0.9 + 0.01 * seed}
            write_run(
                tmp_path / f"{head}_{loss}" / f"seed{seed}", data="wine", task="multiclass",
                head=head, loss=loss, seed=seed, history=history,
                metrics={**metrics, "test/accuracy": 0.9 + 0.01 * seed},
            )  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report", metric="test/accuracy")
    assert study.runs["steps_to_1pct"].tolist() == pytest.approx([3 * 9 / 5] * 6)
    assert study.summary["steps_to_1pct_mean"].tolist() == pytest.approx([3 * 9 / 5] * 2)


def wine_split(split_seed: int) -> tuple[dict, dict]:
    """wine's data config at ``split_seed`` and its standardised splits, as the runs saw them:
    ``{"train": (x, y), "val": ..., "test": ...}``."""
    from lossbench.data.datamodule import ClassificationDataModule

    data = {"name": "wine", "batch_size": 64, "split_seed": split_seed, "val_fraction": 0.2,
            "test_fraction": 0.2}  # fmt: skip
    dm = ClassificationDataModule(data, "cross_entropy")
    return data, {s: dm.tensors[s][:2] for s in ("train", "val", "test")}


def sklearn_fit(split: dict, c: float) -> Any:
    """scikit-learn's LogisticRegression at ``c``, fitted on the training split."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at large C
        return LogisticRegression(C=c, max_iter=2000).fit(*split["train"])


def test_yardstick_matches_scikit_learn_on_the_same_split() -> None:
    from sklearn.metrics import log_loss

    data, split = wine_split(1)
    result = fit_yardstick(data)
    (xv, yv), (xs, ys) = split["val"], split["test"]
    tried = [float(c) for c in result["C_grid"].split()]
    val = {c: log_loss(yv, sklearn_fit(split, c).predict_proba(xv)) for c in tried}
    c = min(val, key=val.get)
    model = sklearn_fit(split, c)
    assert result["C"] == c
    assert tried[0] < c < tried[-1]  # inside the grid it was chosen on
    assert result["test/nll"] == pytest.approx(log_loss(ys, model.predict_proba(xs)), rel=1e-4)
    assert result["test/accuracy"] == pytest.approx((model.predict(xs) == ys.numpy()).mean())


def test_the_yardstick_widens_its_c_grid_where_the_chosen_c_is_at_an_end() -> None:
    """On wine the grid's largest C, 100, has the lowest validation log-loss on every split;
    widened by factors of 10, a larger C fits the validation split better on splits 0 (1000)
    and 1 (1e5), while on split 2 1000 is worse and 100 stays, now inside its grid."""
    from sklearn.metrics import log_loss

    results = [fit_yardstick(wine_split(seed)[0]) for seed in SEEDS]
    assert [r["C"] for r in results] == [1000.0, 100000.0, 100.0]
    assert [r["C_grid"] for r in results] == [
        "0.01 0.1 1 10 100 1000 10000",
        "0.01 0.1 1 10 100 1000 10000 100000 1e+06",
        "0.01 0.1 1 10 100 1000",
    ]
    assert [r["C_at_bound"] for r in results] == [False, False, False]
    assert [r["val/nll"] for r in results] == pytest.approx([0.005661, 0.002098, 0.04941], rel=1e-2)
    for seed, result in zip(SEEDS, results, strict=True):
        _, split = wine_split(seed)
        xv, yv = split["val"]
        at_grid_edge = log_loss(yv, sklearn_fit(split, C_GRID[-1]).predict_proba(xv))
        at_chosen = log_loss(yv, sklearn_fit(split, result["C"]).predict_proba(xv))
        assert result["val/nll"] == pytest.approx(at_chosen, rel=1e-4)
        if result["C"] != C_GRID[-1]:
            assert at_chosen < 0.9 * at_grid_edge  # a better fit, not a rounding difference


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (("early_stopping.enabled=true", "early_stopping.patience=1",
          "early_stopping.min_delta=10", "trainer.max_epochs=20"), "early_stopping"),
        (("trainer.max_epochs=2",), "budget"),
        (("trainer.fast_dev_run=true",), "debug_run"),
        (("optimizer.lr=-1",), "failed"),
    ],
    ids=["early-stopping", "budget", "debug-run", "refused"],
)  # fmt: skip
def test_runs_record_how_they_stopped(make_cfg, tmp_path, overrides, expected) -> None:
    cfg = make_cfg("data=iris", "setup=logits_cross_entropy", *overrides)
    record = train(cfg, tmp_path / "run", multirun=True)
    assert record["stopped_by"] == expected
    if expected == "early_stopping":
        assert record["epochs"] == 2  # no improvement of 10 nats after the first epoch


def test_monitored_epoch_metrics_keep_the_run_and_its_final_metrics(make_cfg, tmp_path) -> None:
    """epoch_metrics=monitored (the fair protocol) computes each epoch only the losses and
    what the callbacks monitor: same training, same best epoch, every final metric."""
    common = ("data=wine", "setup=logits_cross_entropy", "trainer.max_epochs=8")
    full = train(make_cfg(*common), tmp_path / "all", multirun=True)
    lean = train(make_cfg(*common, "epoch_metrics=monitored"), tmp_path / "lean", multirun=True)
    assert set(full["history"]) > {"val/accuracy", "train/auroc", "val/nll"}
    assert set(lean["history"]) == {
        "train/loss",
        "train/lr",
        "val/loss",
        "val/nll",
        "val/epoch",
        "val/step",
    }
    for key, values in lean["history"].items():
        assert values == full["history"][key], key
    assert lean["best_epoch"] == full["best_epoch"]
    finals = {k: v for k, v in full.items() if k.startswith(("val/", "test/"))}
    assert len(finals) >= 14
    assert {k: lean[k] for k in finals} == finals


def _verdicts(root: Path) -> list[tuple[str, tuple[str, ...], frozenset[str]]]:
    study = analyse([root], root / "report")
    return [(v.best, tuple(v.identical), frozenset(s for s, _ in v.tied)) for v in study.verdicts]


@pytest.mark.slow
def test_doubling_the_epoch_cap_changes_no_verdict(make_cfg, tmp_path) -> None:
    """A small fair study (iris, 3 setups x 2 learning rates x 3 seeds, the protocol of
    configs/protocol/fair.yaml) at a cap of 150 and of 300 epochs: same best, same ties."""
    for cap in (150, 300):
        for setup in ("logits_cross_entropy", "log_softmax_nll", "sigmoid_mse"):
            for lr in (0.01, 0.03):
                for seed in SEEDS:
                    cfg = make_cfg(
                        "+protocol=fair", "data=iris", f"setup={setup}", f"optimizer.lr={lr}",
                        f"seed={seed}", f"trainer.max_epochs={cap}", "checkpoint.write=never",
                    )  # fmt: skip
                    train(cfg, tmp_path / f"cap{cap}" / setup / f"lr{lr}" / f"seed{seed}")
    short, long = _verdicts(tmp_path / "cap150"), _verdicts(tmp_path / "cap300")
    assert short == long and short[0][0] is not None
    # why: every run chosen at the shorter cap had stopped early, before reaching it
    selected = analyse([tmp_path / "cap150"], tmp_path / "report").selected
    assert set(selected["stopped_by"]) == {"early_stopping"}


def test_learning_rates_within_float32_rounding_are_tied_and_go_to_the_smallest() -> None:
    """Mean val accuracies measured on a quick study: 0.03 is ahead by 2e-8, float32 noise."""
    from lossbench.report.selection import select_learning_rates

    means = {0.001: 0.98830407857894897, 0.01: 0.98830407857894897, 0.03: 0.98830409844716394}
    runs = pd.DataFrame(
        [
            {"data": "breast_cancer", "setup": "sigmoid_mse", "status": "completed",
             "seed": seed, "lr": lr, "val/accuracy": value, "test/accuracy": value}
            for lr, value in means.items()
            for seed in SEEDS
        ]
    )  # fmt: skip
    _, chosen = select_learning_rates(runs, "test/accuracy", "max")
    row = chosen.iloc[0]
    assert row["lr"] == 0.001
    assert row["val_selection"] == pytest.approx(0.98830407857894897, abs=1e-12)
    # A real difference still wins: 1e-4 is far above float32 rounding.
    runs.loc[runs["lr"] == 0.03, "val/accuracy"] = 0.9884
    assert select_learning_rates(runs, "test/accuracy", "max")[1].iloc[0]["lr"] == 0.03


def test_a_rate_missing_seeds_counts_them_like_failed_runs(tmp_path: Path) -> None:
    """An interrupted study: 0.03 kept seed 0 only, whose lucky 0.15 beats 0.01's mean 0.21 of
    3 seeds. The rule is the mean over seeds, so 0.01 is chosen and the table says what lacks."""
    from lossbench.report.document import _learning_rate_table

    write_grid(tmp_path, MSE, {0.001: (0.30, 0.30), 0.01: (0.20, 0.20), 0.03: (0.15, 0.15)})
    for seed in (1, 2):
        for name in ("metrics.json", "config.yaml"):
            (tmp_path / "sigmoid_mse" / "lr0.03" / f"seed{seed}" / name).unlink()
    study = analyse([tmp_path], tmp_path / "report")
    row = study.summary.iloc[0]
    assert row["lr"] == 0.01 and not row["lr_at_edge"]
    assert row["val_selection"] == pytest.approx(0.21)
    assert row["test/nll_n"] == 3
    table = _learning_rate_table(study, "wine")
    assert table.header == ["setup", "lr 0.001", "lr 0.01", "lr 0.03"]
    assert table.rows == [["sigmoid + mse", "0.31", "**0.21**", "0.15, 2 missing (seeds 1, 2)"]]
    # Missing seeds everywhere: the rate with the fewest wins, as with failed runs.
    for seed in (1, 2):
        for name in ("metrics.json", "config.yaml"):
            (tmp_path / "sigmoid_mse" / "lr0.001" / f"seed{seed}" / name).unlink()
    (tmp_path / "sigmoid_mse" / "lr0.01" / "seed2" / "metrics.json").unlink()
    row = analyse([tmp_path], tmp_path / "report").summary.iloc[0]
    assert row["lr"] == 0.01 and row["val_selection"] == pytest.approx(0.205)


def test_results_identical_to_float32_rounding_share_their_mean_rank_in_the_overview() -> None:
    """b is a's results plus 5e-8 on every seed (BCELoss vs BCEWithLogitsLoss where nothing
    saturates), so on each of the 3 data sets (mean over 2 seeds) too: tied on every data set,
    both have (2.5 + 2 x 1.5) / 3, not 4/3 and 7/3."""
    from lossbench.report.overview import family_overview

    base = np.array([0.10, 0.12, 0.11, 0.13, 0.09, 0.14])
    values = {"a": base, "b": base + 5e-8, "c": base + np.array([-0.01, -0.01, 1, 1, 1, 1])}
    runs = pd.DataFrame(
        [
            {"data": f"d{block // 2}", "task": "binary", "status": "completed",
             "seed": block % 2, "setup": setup, "test/nll": float(v[block])}
            for setup, v in values.items()
            for block in range(6)
        ]
    )  # fmt: skip
    (family,) = family_overview(runs, "test/nll", "min")
    assert family.n_blocks == 3
    assert family.mean_ranks.to_dict() == pytest.approx({"a": 11 / 6, "b": 11 / 6, "c": 14 / 6})


def write_values(root: Path, values: dict[tuple[str, str], list[float | None]]) -> None:
    """wine runs with these test/nll values per (head, loss): seed i at index i (None: the
    run failed; ``...``: not run)."""
    for (head, loss), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            if value is ...:
                continue
            write_run(
                root / f"{head}_{loss}" / f"seed{seed}", data="wine", task="multiclass",
                head=head, loss=loss, seed=seed,
                metrics=None if value is None else {"val/nll": 0.5, "test/nll": value},
                error="non-finite training loss (nan)" if value is None else None,
            )  # fmt: skip


def study_of(tmp_path: Path) -> Study:
    """The analysis of the runs under ``tmp_path / "runs"``."""
    return analyse([tmp_path / "runs"], tmp_path / "report")


def verdict_line(study: Study) -> str:
    """The report's sentence of the (one) data set's verdict, by test/nll."""
    return verdict_text(study.verdicts[0], "min")


def test_a_seed_only_one_setup_has_raises_no_bar_for_the_others(tmp_path: Path) -> None:
    """One setup trained again with a seed 3 has the best mean over its own 4 seeds (0.255),
    but on the 3 seeds every setup has it is last: the best is chosen on those seeds, and
    the others stay eligible."""
    extra = [0.33, 0.34, 0.35, 0.0]
    write_values(tmp_path / "runs", {CE: [0.30, 0.32, 0.31], NLL: [0.35, 0.36, 0.34], MSE: extra})
    study = study_of(tmp_path)
    verdict = study.verdicts[0]
    assert verdict.best == "logits + cross_entropy" and verdict.fewer_seeds == []
    assert verdict.mean == pytest.approx(0.31) and verdict.n == 3
    assert {s for s, _ in verdict.tied} | set(verdict.separated) == {
        "log_softmax + nll",
        "sigmoid + mse",
    }
    line = verdict_line(study)
    assert "only converged setup" not in line and "fewer seeds" not in line
    # the table keeps the setup's own mean over its 4 seeds
    row = study.summary.set_index("setup").loc["sigmoid + mse"]
    assert row["test/nll_n"] == 4 and row["test/nll_mean"] == pytest.approx(np.mean(extra))
    # the overview ranks every setup on its mean over the 3 seeds they share, as scipy ranks
    # them: sigmoid + mse second (0.34), not first on its own mean over 4 seeds (0.255)
    (family,) = family_overview(study.runs[study.runs["selected"]], "test/nll", "min")
    assert family.n_blocks == 1 and family.left_out == [] and family.seeds == {"wine": [0, 1, 2]}
    table = np.array([[0.30, 0.35, 0.33], [0.32, 0.36, 0.34], [0.31, 0.34, 0.35]])
    expected = dict(zip(["logits + cross_entropy", "log_softmax + nll", "sigmoid + mse"],
                        stats.rankdata(table.mean(axis=0)), strict=True))  # fmt: skip
    assert family.mean_ranks.to_dict() == pytest.approx(expected)


def test_the_best_with_an_extra_seed_is_reported_over_the_shared_seeds(tmp_path: Path) -> None:
    """The setup with the extra seed is best on the shared seeds too: its verdict's mean and
    interval are over those 3 seeds (scipy's t-interval), and the left-out seed is named."""
    extra = [0.20, 0.23, 0.21, 0.9]
    write_values(tmp_path / "runs", {CE: [0.30, 0.32, 0.31], NLL: [0.35, 0.36, 0.34], MSE: extra})
    study = study_of(tmp_path)
    verdict = study.verdicts[0]
    shared = np.array(extra[:3])
    low, high = stats.t.interval(0.95, 2, loc=shared.mean(), scale=stats.sem(shared))
    assert verdict.best == "sigmoid + mse" and verdict.n == 3
    assert verdict.mean == pytest.approx(shared.mean())
    assert (verdict.ci_low, verdict.ci_high) == pytest.approx((low, high))
    assert verdict.left_out_seeds == [3]
    line = verdict_line(study)
    assert "best **sigmoid + mse** (0.2133; 95 % CI" in line and "3 seeds)" in line
    assert "Its seed 3 is left out: half of the converged setups or fewer have" in line


def test_the_only_setup_on_every_seed_is_not_called_the_only_one_with_results(
    tmp_path: Path,
) -> None:
    """A setup whose other seeds failed still has results: the best is the only converged
    setup with results on all 3 seeds, not the only setup with results."""
    write_values(tmp_path / "runs", {CE: [0.30, 0.32, 0.31], NLL: [0.10, None, None]})
    line = verdict_line(study_of(tmp_path))
    assert "best **logits + cross_entropy**" in line
    assert "It is the only converged setup with results on all 3 seeds." in line
    assert "only setup with results" not in line
    assert "**log_softmax + nll** (results on 1 of 3 seeds)" in line


def test_of_two_setups_the_one_with_an_extra_seed_raises_no_bar_for_the_other(
    tmp_path: Path,
) -> None:
    """Two setups, one trained with a seed 3 the other never ran: that seed is not required
    (half of the setups, not most, were trained with it), so the better setup on the shared
    seeds is named best; it used to be ruled out for lacking seed 3, and the worse named."""
    write_values(tmp_path / "runs", {CE: [0.10, 0.12, 0.11, ...], NLL: [0.20, 0.22, 0.21, 0.2]})
    study = study_of(tmp_path)
    verdict = study.verdicts[0]
    assert verdict.best == "logits + cross_entropy" and verdict.fewer_seeds == []
    assert verdict.mean == pytest.approx(0.11) and verdict.n == 3
    assert "log_softmax + nll" in {s for s, _ in verdict.tied} | set(verdict.separated)
    family = study.overview[0]  # the overview ranks both on their means over the shared seeds
    assert family.seeds == {"wine": [0, 1, 2]} and family.mean_ranks.to_dict() == {
        "logits + cross_entropy": 1.0,
        "log_softmax + nll": 2.0,
    }


def test_a_setup_whose_run_failed_on_a_seed_is_not_eligible_among_two(tmp_path: Path) -> None:
    """A failure is not an extra seed: of two setups, the one whose runs failed on seeds 1
    and 2 is not named best on its one lucky seed."""
    write_values(tmp_path / "runs", {CE: [0.30, 0.32, 0.31], NLL: [0.10, None, None]})
    verdict = study_of(tmp_path).verdicts[0]
    assert verdict.best == "logits + cross_entropy"
    assert verdict.fewer_seeds == [("log_softmax + nll", "results on 1 of 3 seeds")]


def test_no_eligible_setup_for_its_seeds_says_so_not_that_none_converged(tmp_path: Path) -> None:
    """Each converged setup failed on a seed the other has, and a worse setup hit the cap: the
    verdict gives the seeds as the reason, not "no completed run" or "none converged"."""
    from lossbench.report.document import verdict_table

    write_values(tmp_path / "runs", {CE: [None, 0.32, 0.31], NLL: [0.35, 0.36, None]})
    write_grid(tmp_path / "runs", MSE, {0.001: (0.5, 0.9)}, stopped_by="budget")
    study = study_of(tmp_path)
    verdict = study.verdicts[0]
    assert verdict.best is None and verdict.beaten_by == []
    assert dict(verdict.fewer_seeds) == {
        "logits + cross_entropy": "results on 2 of 3 seeds",
        "log_softmax + nll": "results on 2 of 3 seeds",
    }
    line = verdict_line(study)
    assert "no setup may be named best: every converged setup lacks results on a seed" in line
    assert "no completed run" not in line and "no setup converged" not in line
    (row,) = verdict_table(study).rows
    assert row[1] == "none: every converged setup lacks results on a seed most have"


BEST = np.array([0.30, 0.32, 0.31, 0.33, 0.29])
#: setup -> test/nll per seed; three setups identical on every seed (to float32 rounding)
HOLM_SETUPS = {
    CE: BEST,
    ("softmax", "bce"): BEST + np.array([0.030, 0.045, 0.020, 0.040, 0.010]),
    ("sigmoid", "bce"): BEST + np.array([0.01, -0.02, 0.03, 0.0, 0.02]),
    ("logits", "bce_with_logits"): BEST + np.array([0.01, -0.02, 0.03, 0.0, 0.02]),
    ("sigmoid", "manual_bce"): BEST + np.array([0.01, -0.02, 0.03, 0.0, 0.02]) + 1e-9,
    MSE: BEST + np.array([0.05, -0.01, 0.02, 0.06, 0.0]),
}


def holm_table(p_values: dict[str, float], groups: list[list[str]]) -> dict[str, float]:
    """statsmodels' Holm over one p-value per group, given to every member."""
    adjusted = multipletests([p_values[g[0]] for g in groups], method="holm")[1]
    return {s: float(p) for g, p in zip(groups, adjusted, strict=True) for s in g}


def test_identical_setups_count_once_in_holms_correction(tmp_path: Path) -> None:
    """Three setups identical on every seed are one test: in comparisons.csv, with them
    counted once the baseline's family has 3 members, and softmax + bce (raw p 0.011) is
    worse than the baseline; counted three times (5 members) its adjusted p would pass 0.05.
    The verdict's comparisons with the best (the baseline here) are one family with every
    pair of setups, the identical ones once (6 pairs of 4 groups): there softmax + bce's
    adjusted p is 0.064, and it is tied. Checked against statsmodels on the deduplicated
    p-values."""
    for (head, loss), values in HOLM_SETUPS.items():
        for seed, value in enumerate(values):
            write_run(
                tmp_path / "runs" / f"{head}_{loss}" / f"seed{seed}", data="wine",
                task="multiclass", head=head, loss=loss, seed=seed,
                metrics={"val/nll": 0.5, "test/nll": value},
            )  # fmt: skip
    study = study_of(tmp_path)
    names = {f"{h} + {loss}": v for (h, loss), v in HOLM_SETUPS.items()}
    others = [s for s in names if s != "logits + cross_entropy"]
    raw = {s: stats.ttest_rel(names[s], BEST).pvalue for s in others}
    bce = ["sigmoid + bce", "logits + bce_with_logits", "sigmoid + manual_bce"]
    expected = holm_table(raw, [["softmax + bce"], bce, ["sigmoid + mse"]])
    counted_thrice = multipletests(list(raw.values()), method="holm")[1]
    assert expected["softmax + bce"] < 0.05 <= counted_thrice[others.index("softmax + bce")]

    verdict = study.verdicts[0]
    assert verdict.best == "logits + cross_entropy"
    groups = ["logits + cross_entropy", "softmax + bce", bce[0], "sigmoid + mse"]
    pairs = list(combinations(groups, 2))  # the first 3: the best with the others
    all_pairs = multipletests(
        [stats.ttest_rel(names[a], names[b]).pvalue for a, b in pairs], method="holm"
    )[1]
    with_best = dict(zip(groups[1:], all_pairs[:3], strict=True))
    with_best.update({s: with_best[bce[0]] for s in bce})
    assert verdict.p_holm == pytest.approx(with_best)
    assert verdict.separated == [] and verdict.p_holm["softmax + bce"] >= 0.05
    for setup, why in verdict.tied:
        assert f"paired p = {raw[setup]:.2g}" in why
    # the baseline is the best here, but comparisons.csv's family is the comparisons with it
    table = study.comparisons.set_index("setup")
    assert table["p_holm"].to_dict() == pytest.approx(expected)
    assert table.loc["softmax + bce", "verdict"] == "worse"


def test_means_equal_to_float32_rounding_share_a_rank(tmp_path: Path) -> None:
    """Equal means and means 2e-8 apart (float32 noise) share a rank though their per-seed
    values differ; the next rank skips the tied places."""
    write_values(
        tmp_path / "runs",
        {
            CE: [0.25, 0.75, 0.5],
            NLL: [0.5, 0.5, 0.5],
            MSE: [0.3, 0.3, 0.3],
            ("softmax", "bce"): [0.2, 0.4, 0.3 + 6e-8],
            ("sigmoid", "bce"): [0.1, 0.5, 0.3],
        },
    )
    study = study_of(tmp_path)
    ranks = dict(zip(study.summary["setup"], study.summary["rank"], strict=True))
    assert ranks == {"sigmoid + mse": 1, "softmax + bce": 1, "sigmoid + bce": 1,
                     "logits + cross_entropy": 4, "log_softmax + nll": 4}  # fmt: skip
    assert (study.summary["identical_to"] == "").all()


def test_among_equal_means_the_baseline_is_named_best(tmp_path: Path) -> None:
    """log_softmax + nll sorts before the baseline (logits + cross_entropy) by name and has
    exactly its mean, 0.5: the baseline is named best."""
    write_values(
        tmp_path / "runs", {NLL: [0.5, 0.5, 0.5], CE: [0.25, 0.75, 0.5], MSE: [0.6, 0.7, 0.8]}
    )
    study = study_of(tmp_path)
    assert study.baselines["wine"] == "logits + cross_entropy"
    verdict = study.verdicts[0]
    assert verdict.best == "logits + cross_entropy" and verdict.mean == 0.5
    assert "log_softmax + nll" in {s for s, _ in verdict.tied}


def _held_back_by_a_perfect_validation_split(
    root: Path, accuracies: list[float], task: str = "multiclass", all_right: str = "val/accuracy"
) -> None:
    """logits + cross_entropy converged (0.2); sigmoid + mse beats it (0.1) with every run at
    the cap still improving (early stopping on), at the given validation accuracies (of
    ``all_right``: every example right; the other accuracy 0.99)."""
    for (head, loss), val, stopped in ((CE, 0.2, "early_stopping"), (MSE, 0.1, "budget")):
        for seed, accuracy in zip(SEEDS, accuracies, strict=True):
            metrics = {"val/nll": val + 0.01 * seed, "test/nll": val + 0.01 * seed,
                       "val/accuracy": 0.99, "val/exact_match": 0.99,
                       all_right: accuracy if stopped == "budget" else 0.95}  # fmt: skip
            write_run(
                root / f"{head}_{loss}" / f"seed{seed}", data="wine", task=task,
                head=head, loss=loss, seed=seed, lr=0.01, metrics=metrics, stopped_by=stopped,
                history={"val/nll": IMPROVING}, early_stopping=EARLY_STOPPING,
            )  # fmt: skip


def test_runs_still_improving_on_a_perfectly_classified_validation_split_advise_weight_decay(
    tmp_path: Path,
) -> None:
    """Where every run still improving at the cap gets its whole validation split right, its
    NLL falls toward 0 for as long as the weights grow: a higher cap never settles it (wine's
    runs on two of its three splits), so the advice is weight decay, not more epochs."""
    from lossbench.report.document import verdict_table, verdict_text

    _held_back_by_a_perfect_validation_split(tmp_path, [1.0, 1.0, 1.0])
    study = analyse([tmp_path], tmp_path / "report")
    (verdict,) = study.verdicts
    assert verdict.best is None and verdict.perfect_runs == (3, 3)
    (row,) = verdict_table(study).rows
    assert row[1] == (
        "none: unconverged sigmoid + mse beats the best converged (validation split "
        "classified perfectly: add optimizer.weight_decay)"
    )
    text = verdict_text(verdict, "min")
    assert "raise trainer.max_epochs" not in text
    assert "All 3 runs still improving at the cap classify every validation example" in text
    assert "train every setup with it, into a new folder (the study's command with " in text
    # every run still improving is one a higher cap does not settle: no advice to raise it
    assert "**Raising the cap.**" not in _markdown(study, tmp_path)


def test_runs_still_improving_on_an_imperfect_validation_split_still_advise_a_higher_cap(
    tmp_path: Path,
) -> None:
    """Two runs of three still err on their validation split: a higher cap may settle them,
    so the advice keeps more epochs and counts the run a cap will not settle."""
    from lossbench.report.document import verdict_table, verdict_text

    _held_back_by_a_perfect_validation_split(tmp_path, [1.0, 0.97, 0.97])
    study = analyse([tmp_path], tmp_path / "report")
    (verdict,) = study.verdicts
    assert verdict.perfect_runs == (1, 3)
    (row,) = verdict_table(study).rows
    assert row[1] == (
        "none: unconverged sigmoid + mse beats the best converged (raise trainer.max_epochs)"
    )
    text = verdict_text(verdict, "min")
    assert "raise trainer.max_epochs" in text
    assert " 1 of the 3 runs still improving at the cap classify every validation" in text
    assert "without settling it (a higher cap may settle the other 2)" in text
    assert "**Raising the cap.**" in _markdown(study, tmp_path)


def test_where_most_runs_still_improving_are_on_a_perfect_split_the_cap_is_not_the_advice(
    tmp_path: Path,
) -> None:
    """Wine: 49 of 53 such runs. The verdict does not say both "raise the cap" and "a higher
    cap does not settle it": weight decay, and a higher cap for the few others."""
    from lossbench.report.document import verdict_table, verdict_text

    _held_back_by_a_perfect_validation_split(tmp_path, [1.0, 0.97, 1.0])
    study = analyse([tmp_path], tmp_path / "report")
    (verdict,) = study.verdicts
    assert verdict.perfect_runs == (2, 3)
    (row,) = verdict_table(study).rows
    assert row[1].endswith("(validation split classified perfectly: add optimizer.weight_decay)")
    text = verdict_text(verdict, "min")
    assert "raise trainer.max_epochs" not in text
    assert "without settling it (a higher cap may settle the other 1)" in text
    assert "**Raising the cap.**" not in _markdown(study, tmp_path)


def test_runs_trained_with_weight_decay_are_not_told_to_add_it(tmp_path: Path) -> None:
    """With weight decay the NLL has a minimum: more epochs reach it."""
    from lossbench.report.document import verdict_text

    _held_back_by_a_perfect_validation_split(tmp_path, [1.0, 1.0, 1.0])
    for path in tmp_path.rglob("config.yaml"):
        config = yaml.safe_load(path.read_text())
        config["optimizer"]["weight_decay"] = 0.001
        path.write_text(yaml.safe_dump(config))
    study = analyse([tmp_path], tmp_path / "report")
    (verdict,) = study.verdicts
    assert verdict.perfect_runs == (0, 0)  # none counted: their NLL has a minimum
    text = verdict_text(verdict, "min")
    assert "raise trainer.max_epochs" in text and "weight_decay" not in text


def _markdown(study: Study, folder: Path) -> str:
    from lossbench.report.document import build_document
    from lossbench.report.render import to_markdown

    return to_markdown(build_document(study), folder)


def test_a_multilabel_split_counts_as_classified_perfectly_where_every_label_is_right(
    tmp_path: Path,
) -> None:
    """Multi-label: every label of every sample right (val/exact_match 1), not the per-label
    accuracy, which is 1 only then too but read per label; 0.99 here either way."""
    _held_back_by_a_perfect_validation_split(
        tmp_path, [1.0, 1.0, 1.0], task="multilabel", all_right="val/exact_match"
    )
    (verdict,) = analyse([tmp_path], tmp_path / "report").verdicts
    assert verdict.perfect_runs == (3, 3)


def test_a_diverged_setup_does_not_tie_the_others_in_the_overview() -> None:
    """a is 4 % better than b on every data set, c diverged (60): float32 ties are measured
    between the two values compared, so c's size does not make a and b tie (it made them share
    rank 1.5 with a tolerance of 1e-6 x 60)."""
    rows = [
        {"data": f"d{d}", "task": "binary", "status": "completed", "seed": 0, "setup": setup,
         "test/nll": value}
        for d in range(5)
        for setup, value in (("a", 0.0010), ("b", 0.00104), ("c", 60.0))
    ]  # fmt: skip
    (family,) = family_overview(pd.DataFrame(rows), "test/nll", "min")
    assert family.mean_ranks.to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}


@pytest.mark.parametrize("min_delta", [0.0, 0.05, 1.0, 2.5])
def test_patience_ran_out_agrees_with_lightnings_early_stopping(min_delta: float) -> None:
    """Lightning's EarlyStopping fed the same validations (its check, with a real Trainer)
    ends with its patience run out exactly where lossbench's reading of a history says so, for
    min_delta below and above 1 (its best score starts infinite: the first value improves)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    from lossbench.report.converged import patience_ran_out

    rng = np.random.default_rng(int(min_delta * 10))
    for _ in range(40):
        history = list(np.cumsum(rng.normal(-0.3, 1.0, size=int(rng.integers(1, 8)))) + 5.0)
        stopper = EarlyStopping("val/nll", min_delta=min_delta, patience=3, mode="min")
        trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        for value in history:
            trainer.callback_metrics["val/nll"] = torch.tensor(value)
            stopper._run_early_stopping_check(trainer)
        assert patience_ran_out(history, "min", 3, min_delta) == (stopper.wait_count >= 3)
