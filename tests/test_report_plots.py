"""The report's figures: what each one draws, read from the ``Figure`` objects (the lines'
data, the bars' sizes, the texts), not from the PNG files.

Each test writes run directories by hand (:func:`run_records.write_run`), analyses them as
the report does and keeps the figures instead of saving them.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib import colors as mpl_colors

from lossbench.report import plots
from lossbench.report.build import analyse
from run_records import write_run

FAILED = "non-finite training loss (nan) at epoch 2, step 7 (batch 1)"


def metrics_of(nll: float, seed: int) -> dict[str, float]:
    nll += 0.01 * seed
    return {
        "test/nll": nll,
        "test/accuracy": 0.9 - nll / 4,
        "test/ece": 0.02 + nll / 20,
        "test/saturated": 0.0,
        "val/nll": nll + 0.01,
    }


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The figures drawn, by file name, kept instead of saved (drawn in this process)."""
    drawn: dict[str, Any] = {}

    def keep(fig: Any, path: Path) -> Path:
        drawn[Path(path).name] = fig
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    monkeypatch.setattr(plots, "_plot_workers", lambda n_data: 1)
    return drawn


def ticks(ax: Any) -> list[str]:
    """The y tick labels of ``ax``, their line breaks undone."""
    return [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]


def run(root: Path, name: str, **kwargs: Any) -> Path:
    kwargs.setdefault("data", "breast_cancer")
    kwargs.setdefault("task", "binary")
    return write_run(root / name, **kwargs)


def test_stability_counts_failed_runs_at_every_rate(tmp_path: Path, figures: dict) -> None:
    """sigmoid + manual_bce fails at lr 0.01 on every seed and completes at 0.001, which is
    chosen: the figure counts the 3 failed runs of its 6, as the Failed-runs table does, not
    the 0 of the chosen rate's 3."""
    for seed in (0, 1, 2):
        for lr in (0.001, 0.01):
            run(tmp_path, f"base_{lr}_{seed}", head="logits", loss="bce_with_logits", seed=seed,
                lr=lr, metrics=metrics_of(0.3 if lr == 0.01 else 0.35, seed))  # fmt: skip
        run(tmp_path, f"manual_0.001_{seed}", head="sigmoid", loss="manual_bce", seed=seed,
            lr=0.001, metrics=metrics_of(0.4, seed))  # fmt: skip
        run(tmp_path, f"manual_0.01_{seed}", head="sigmoid", loss="manual_bce", seed=seed,
            lr=0.01, error=FAILED)  # fmt: skip
    analyse([tmp_path], tmp_path / "report")
    left, right = figures["breast_cancer_stability.png"].axes
    labels = ticks(left)
    texts = {label: right.texts[i].get_text().strip() for i, label in enumerate(labels)}
    assert texts == {"sigmoid + manual_bce": "3/6", "logits + bce_with_logits": "0/6"}
    crashed = right.containers[0]  # the bars of runs failed in training, in the ticks' order
    heights = dict(zip(labels, [bar.get_width() for bar in crashed], strict=True))
    assert heights == {"sigmoid + manual_bce": 3, "logits + bce_with_logits": 0}
    assert "every rate" in right.get_xlabel()


def test_learning_curve_mean_only_while_every_seed_runs(tmp_path: Path, figures: dict) -> None:
    """Seeds stopped after 3, 4 and 5 epochs: the mean is drawn at epochs 1 to 3 only, over all
    three; each seed's last epoch is marked, and the two that ran on are drawn on their own.
    A mean past epoch 3 would be a mean of whichever seeds still ran (0.4, then 0.1)."""
    histories = {
        0: [0.9, 0.6, 0.5],
        1: [0.8, 0.5, 0.4, 0.35],
        2: [1.0, 0.7, 0.6, 0.45, 0.1],
    }
    for seed, nll in histories.items():
        run(tmp_path, f"base_{seed}", head="logits", loss="bce_with_logits", seed=seed,
            metrics=metrics_of(0.3, seed), history={"val/nll": nll})  # fmt: skip
    analyse([tmp_path], tmp_path / "report")
    ax = figures["breast_cancer_learning_curves.png"].axes[0]
    mean = next(line for line in ax.lines if line.get_label() == "logits + bce_with_logits")
    expected = [[1, 0.9], [2, 0.6], [3, 0.5]]
    np.testing.assert_allclose(mean.get_xydata(), expected)
    others = [line.get_xydata() for line in ax.lines if line is not mean]
    ends = sorted(tuple(xy[-1]) for xy in others if len(xy) == 1)
    assert ends == [(3, 0.5), (4, 0.35), (5, 0.1)]  # where each seed stopped
    alone = sorted(xy[:, 0].tolist() for xy in others if len(xy) > 1)
    assert alone == [[3, 4], [3, 4, 5]]  # the seeds that ran on, from the mean's last epoch
    assert "while every seed runs" in ax.get_title()


def test_reliability_panels_give_the_tables_ece(tmp_path: Path, figures: dict) -> None:
    """Each panel names the tables' test/ece (the mean of the seeds' own ECE, from the
    summary), not only the ECE of the bins pooled over seeds, which is another number."""
    for seed in (0, 1, 2):
        run(tmp_path, f"base_{seed}", head="logits", loss="bce_with_logits", seed=seed,
            metrics=metrics_of(0.3, seed) | {"test/ece": 0.1 + 0.1 * seed})  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report")
    assert study.summary["test/ece_mean"].tolist() == pytest.approx([0.2])
    ax = figures["breast_cancer_reliability.png"].axes[0]
    lines = ax.get_title().splitlines()
    assert lines[0] == "logits + bce_with_logits"
    assert "test/ece 0.200 (mean of 3 seeds)" in lines
    pooled = [line for line in lines if "ECE" in line]
    assert pooled and all(line.startswith("pooled bins drawn") for line in pooled)


def test_figure_files_of_two_data_sets_never_share_a_name(tmp_path: Path, figures: dict) -> None:
    """``csv:my data.csv`` and ``csv:my_data.csv`` give the same slug: each data set's figures
    get a file of their own, and each file holds that data set's figure."""
    for data, nll in (("csv:my data.csv", 0.3), ("csv:my_data.csv", 0.6)):
        for seed in (0, 1, 2):
            run(tmp_path, f"{data.replace(':', '_')}_{seed}", data=data, head="logits",
                loss="bce_with_logits", seed=seed, metrics=metrics_of(nll, seed))  # fmt: skip
    study = analyse([tmp_path], tmp_path / "report")
    assert sorted(study.figures) == ["csv:my data.csv", "csv:my_data.csv"]
    paths = {data: [p for _, p in drawn] for data, drawn in study.figures.items()}
    assert not set(paths["csv:my data.csv"]) & set(paths["csv:my_data.csv"])
    for data, nll in (("csv:my data.csv", 0.3), ("csv:my_data.csv", 0.6)):
        metrics = next(p for p in paths[data] if p.name.endswith("_metrics.png"))
        ax = figures[metrics.name].axes[0]  # test/nll: the mean's marker at the seeds' mean
        drawn = [line.get_xydata()[0, 0] for line in ax.lines if line.get_marker() == "o"]
        assert drawn == pytest.approx([nll + 0.01])


def test_metrics_figure_marks_what_the_verdict_leaves_out(tmp_path: Path, figures: dict) -> None:
    """sigmoid + bce hit the epoch cap still improving on every seed (not converged) with the
    best mean, so the verdict names no best; sigmoid + mse has one seed (two failed). The
    figure says so: hollow markers, the reasons and "1 seed" in the tick labels, each
    panel's direction, and no claim of a best in the title."""
    for seed in (0, 1, 2):
        run(tmp_path, f"base_{seed}", head="logits", loss="bce_with_logits", seed=seed,
            metrics=metrics_of(0.3, seed))  # fmt: skip
        run(tmp_path, f"capped_{seed}", head="sigmoid", loss="bce", seed=seed,
            metrics=metrics_of(0.2, seed), stopped_by="budget")  # fmt: skip
        if seed == 0:
            run(tmp_path, f"one_{seed}", head="sigmoid", loss="mse", seed=seed,
                metrics=metrics_of(0.25, seed))  # fmt: skip
        else:
            run(tmp_path, f"one_{seed}", head="sigmoid", loss="mse", seed=seed, error=FAILED)
    study = analyse([tmp_path], tmp_path / "report")
    assert study.verdicts[0].best is None
    fig = figures["breast_cancer_metrics.png"]
    nll, accuracy = fig.axes[:2]
    labels = ticks(nll)
    assert labels == [
        "sigmoid + bce (not eligible: not converged)",
        "sigmoid + mse (1 seed; not eligible: fewer seeds)",
        "logits + bce_with_logits",
    ]
    means = [line for line in nll.lines if line.get_marker() == "o"]  # in the ticks' order
    hollow = [mpl_colors.same_color(line.get_markerfacecolor(), "white") for line in means]
    assert hollow == [True, True, False]
    assert "↓" in nll.get_title() and "lower is better" in nll.get_title()
    assert "↑" in accuracy.get_title() and "higher is better" in accuracy.get_title()
    title = fig.get_suptitle()
    assert "best first" not in title
    assert "ranked by test/nll" in title and "no best named" in title


def test_a_setup_has_one_color_in_every_figure(tmp_path: Path, figures: dict) -> None:
    """logits + bce_with_logits ranks first on one data set and second on the other, and
    sigmoid + mse is trained on one only: each setup keeps its color in every figure."""
    nll = {
        "breast_cancer": {("logits", "bce_with_logits"): 0.3, ("sigmoid", "bce"): 0.4},
        "synthetic_binary": {
            ("logits", "bce_with_logits"): 0.4,
            ("sigmoid", "bce"): 0.3,
            ("sigmoid", "mse"): 0.35,
        },
    }
    for data, setups in nll.items():
        for (head, loss), value in setups.items():
            for seed in (0, 1, 2):
                run(tmp_path, f"{data}_{head}_{loss}_{seed}", data=data, head=head, loss=loss,
                    seed=seed, metrics=metrics_of(value, seed))  # fmt: skip
    analyse([tmp_path], tmp_path / "report")
    seen: dict[str, set] = {}
    for data in nll:
        metrics = figures[f"{data}_metrics.png"].axes[0]
        means = [line for line in metrics.lines if line.get_marker() == "o"]
        for label, line in zip(ticks(metrics), means, strict=True):
            seen.setdefault(label, set()).add(mpl_colors.to_hex(line.get_color()))
        curves = figures[f"{data}_learning_curves.png"].axes[0]
        for line in curves.lines:
            if not line.get_label().startswith("_"):
                seen[line.get_label()].add(mpl_colors.to_hex(line.get_color()))
        stability = figures[f"{data}_stability.png"].axes[0]
        for label, bar in zip(ticks(stability), stability.patches, strict=True):
            seen[label].add(mpl_colors.to_hex(bar.get_facecolor()))
    assert sorted(seen) == ["logits + bce_with_logits", "sigmoid + bce", "sigmoid + mse"]
    assert all(len(found) == 1 for found in seen.values()), seen
    assert len(set.union(*seen.values())) == 3  # and no two setups share one


def test_a_run_without_a_finite_value_leaves_the_mean_of_the_others() -> None:
    """A run that failed at once (its only validation NaN) has no curve: the mean is over the
    runs that have values, and the failed run that has some ends in a cross."""
    runs = pd.DataFrame(
        {
            "setup": ["a"] * 4,
            "status": ["completed", "completed", "failed", "failed"],
            "_history": [
                {"val/nll": [0.9, 0.5]},
                {"val/nll": [0.7, 0.3]},
                {"val/nll": [math.nan]},
                {"val/nll": [0.8, 0.4, math.inf]},
            ],
        }
    )
    drawn: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "_save", lambda fig, path: drawn.setdefault("fig", fig) and path)
        plots.plot_learning_curves(runs, ["a"], Path("curves.png"))
    ax = drawn["fig"].axes[0]
    mean = next(line for line in ax.lines if line.get_label() == "a")
    np.testing.assert_allclose(mean.get_xydata(), [[1, 0.8], [2, 0.4]])
    crosses = [line.get_xydata().tolist() for line in ax.lines if line.get_marker() == "x"]
    assert crosses == [[[2, 0.4]]]


def long_labelled_runs(root: Path, n: int = 12) -> None:
    """``n`` setups of one head and loss that differ in six loss settings with long names:
    each setup's label names all six (``logits + bce_with_logits (loss.a_long_setting_0=...,
    ...)``), several lines long once wrapped, and the verdict's best in the metrics figure's
    title is one of them."""
    for i in range(n):
        params = {f"a_long_setting_name_{k}": round(0.001 * (i + 1) * (k + 1), 4) for k in range(6)}
        for seed in (0, 1):
            run(root, f"long_{i}_{seed}", head="logits", loss="bce_with_logits", seed=seed,
                loss_params=params, metrics=metrics_of(0.3 + 0.01 * i, seed))  # fmt: skip


@pytest.mark.slow
def test_long_labels_never_overlap_and_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve setups whose labels wrap to seven lines: every figure is drawn to its file with
    no warning (before, constrained layout gave up: "axes sizes collapsed to zero"), each
    figure grows with its labels, and no two tick labels, legend entries or panel titles
    overlap or leave the figure."""
    drawn: dict[str, Any] = {}
    save = plots._save

    def keep(fig: Any, path: Path) -> Path:
        drawn[Path(path).name] = fig
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    monkeypatch.setattr(plots, "_plot_workers", lambda n_data: 1)
    long_labelled_runs(tmp_path / "runs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analyse([tmp_path / "runs"], tmp_path / "report")
    assert sorted(drawn) == [
        "breast_cancer_learning_curves.png",
        "breast_cancer_metrics.png",
        "breast_cancer_reliability.png",
        "breast_cancer_stability.png",
    ]
    for name, fig in drawn.items():
        fig.set_dpi(plots.DPI)  # measured as drawn into the file
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        texts = []
        if name.endswith(("_metrics.png", "_stability.png")):
            texts = [t for t in fig.axes[0].get_yticklabels() if t.get_text()]
            assert len(texts) == 12
            assert max(t.get_text().count("\n") for t in texts) >= 5, name  # long labels
        elif name.endswith("_learning_curves.png"):
            texts = fig.axes[0].get_legend().get_texts()
        elif name.endswith("_reliability.png"):
            texts = [ax.title for ax in fig.axes if ax.get_visible()]
        assert len(texts) == 12, name
        boxes = [t.get_window_extent(renderer) for t in texts]
        title = fig._suptitle if fig.get_suptitle() else fig.axes[0].title  # the curves'
        boxes.append(title.get_window_extent(renderer))
        for i, box in enumerate(boxes):
            assert box.x0 >= page.x0 - 2 and box.x1 <= page.x1 + 2, (name, i, box, page)
            assert box.y0 >= page.y0 - 2 and box.y1 <= page.y1 + 2, (name, i, box, page)
            for other in boxes[:i]:
                assert not box.overlaps(other), (name, i, texts[i].get_text() if i < 12 else "")
    # the figures grew with the labels: seven-line labels need more than 0.42 inches a row
    assert drawn["breast_cancer_metrics.png"].get_figheight() > 12 * 7 * 0.12
    assert drawn["breast_cancer_stability.png"].get_figheight() > 12 * 7 * 0.12


def test_a_drawing_warning_names_its_figure(tmp_path: Path) -> None:
    """A warning matplotlib gives while a figure is drawn comes with the figure file's name."""
    fig = plots.Figure(figsize=(1.0, 0.2), layout="constrained")
    ax = fig.subplots()
    ax.set_yticks(range(30), [f"label\nof {i}" for i in range(30)])
    with pytest.warns(UserWarning, match=r"^tiny\.png: constrained_layout not applied"):
        plots._save(fig, tmp_path / "tiny.png")
    assert (tmp_path / "tiny.png").is_file()
