"""The default progress bar (``EpochProgressBar``): one redraw of the training bar per epoch
with the epoch runner, where Lightning's ``TQDMProgressBar`` redraws it several times, and
the same final bar; and the default CSV logger's ``hparams.yaml`` is Lightning's document."""

from __future__ import annotations

import re

import pytest
import yaml
from lightning.pytorch.core.saving import save_hparams_to_yaml

from lossbench.callbacks import EpochProgressBar
from lossbench.loggers import CSVLogger
from lossbench.training import train
from stop_signals import fit_stopped_by_ctrl_c

LIGHTNING_BAR = "lightning.pytorch.callbacks.TQDMProgressBar"


def _train_with_bar(make_cfg, tmp_path, capsys, *overrides: str) -> tuple[dict, str]:
    cfg = make_cfg(
        "data=iris", "trainer.max_epochs=3", "trainer.enable_progress_bar=true", *overrides
    )
    record = train(cfg, tmp_path / "run")
    return record, capsys.readouterr().out


def _draws(out: str) -> dict[int, int]:
    """How many times the training bar of each epoch was drawn."""
    epochs = [int(e) for e in re.findall(r"Epoch (\d+): ", out)]
    return {e: epochs.count(e) for e in sorted(set(epochs))}


def test_the_default_bar_draws_each_epoch_once_and_ends_like_lightnings(make_cfg, tmp_path, capsys):
    ours, out = _train_with_bar(make_cfg, tmp_path / "ours", capsys)
    lightning, lightning_out = _train_with_bar(
        make_cfg, tmp_path / "lightning", capsys, f"callbacks.progress_bar._target_={LIGHTNING_BAR}"
    )
    assert ours["training_loop"] == lightning["training_loop"] == "epoch"
    assert ours["validation_loop"] == "inline"  # the bar needs no validation loop
    assert ours["val/nll"] == pytest.approx(lightning["val/nll"], abs=1e-7)
    # Lightning's bar: several redraws an epoch; ours: the epoch's end, and the bar's close
    assert all(count >= 3 for count in _draws(lightning_out).values())
    assert _draws(out) == {0: 1, 1: 1, 2: 2}
    last = r"Epoch 2: 100%\|[^|]*\| 1/1"
    assert re.search(last, out) and re.search(last, lightning_out)


def test_a_bar_with_several_batches_an_epoch_still_counts_them(make_cfg, tmp_path, capsys):
    _, out = _train_with_bar(make_cfg, tmp_path, capsys, "runner=lightning", "data.batch_size=32")
    # iris: 90 training rows, 3 batches, each drawn as Lightning draws it but the last (drawn
    # at the validation's end and the epoch's end, with the metrics)
    for epoch in range(3):
        counts = re.findall(rf"Epoch {epoch}: +\d+%\|[^|]*\| (\d)/3", out)
        assert counts[:4] == ["1", "1", "2", "2"] and counts[4:] and set(counts[4:]) == {"3"}


def test_the_default_bar_counts_the_epoch_runners_minibatches(make_cfg, tmp_path, capsys):
    """One Lightning step of the epoch runner is an epoch of 3 minibatches: the bar says 3/3
    (Lightning's said 1/1), still drawn once per epoch, as the lightning runner's ends."""
    ours, out = _train_with_bar(make_cfg, tmp_path / "ours", capsys, "data.batch_size=32")
    lightning, lightning_out = _train_with_bar(
        make_cfg, tmp_path / "lightning", capsys, "data.batch_size=32", "runner=lightning"
    )
    assert ours["training_loop"] == "epoch" and ours["steps"] == lightning["steps"] == 9
    assert _draws(out) == {0: 1, 1: 1, 2: 2}
    for epoch in range(3):
        drawn = rf"Epoch {epoch}: 100%\|[^|]*\| 3/3"
        assert re.search(drawn, out) and re.search(drawn, lightning_out), out
    assert not re.search(r"\| 1/1 ", out)


def test_richs_bar_counts_the_minibatches_too(make_cfg, tmp_path, capsys):
    record, out = _train_with_bar(
        make_cfg, tmp_path, capsys, "data.batch_size=32", "callbacks=rich_progress"
    )
    assert record["training_loop"] == "epoch" and record["steps"] == 9
    assert re.search(r"Epoch 2/2 .* 3/3 ", out) and " 1/1 " not in out, out


def test_the_default_bar_is_lossbenchs(make_cfg):
    assert make_cfg().callbacks.progress_bar._target_ == "lossbench.callbacks.EpochProgressBar"
    assert issubclass(EpochProgressBar, __import__("lightning").pytorch.callbacks.TQDMProgressBar)


@pytest.mark.parametrize(
    "params",
    [
        {"model": {"name": "mlp", "hidden_sizes": [64, 64]}, "lr": 0.001, "head": "logits"},
        {"text": "yes", "number_like": "1e-3", "int_like": "7", "none": None, "on": True, "e": []},
    ],
    ids=["nested", "strings-that-look-like-other-types"],
)
def test_the_csv_loggers_hparams_yaml_is_lightnings_document(tmp_path, params):
    logger = CSVLogger(tmp_path, name="logs", version="")
    logger.log_hyperparams(params)
    written = (tmp_path / "logs" / "hparams.yaml").read_text()
    save_hparams_to_yaml(tmp_path / "lightning.yaml", params)
    assert written == (tmp_path / "lightning.yaml").read_text()
    assert yaml.safe_load(written) == params


def test_a_stopped_fit_ends_the_bar_s_line(capsys):
    """Ctrl-C during a fit: the bar is closed, its line ended, so that the command's own line
    ("lossbench: interrupted (Ctrl-C). ...") does not start at the end of the bar."""
    fit_stopped_by_ctrl_c(EpochProgressBar())
    out = capsys.readouterr().out
    assert re.search(r"Epoch 1: +100%\|[^|]*\| 2/2", out), out
    assert out.endswith("\n"), repr(out[-80:])
