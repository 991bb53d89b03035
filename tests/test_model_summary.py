"""Lightning's model summary of a run's module counts the model's real FLOPs per example and
shows its In / Out sizes (``ClassifierModule.example_input_array``), under every precision a
CPU run accepts. Real Trainers fit the module that a run builds
(:meth:`ClassifierModule.from_config`); the FLOPs are compared with the count written out
by hand: ``2 x in x out`` per linear layer, ``2 x H x W x in x out x k x k`` per convolution
(multiply and add per weight and output position; the bias adds are not counted)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelSummary, RichModelSummary

from lossbench.data.datamodule import ClassificationDataModule
from lossbench.module import ClassifierModule

SMALL_IMAGES = ("data.n_images=40", "data.downsample=2", "data.batch_size=16")


def linear_flops(widths: Sequence[int]) -> int:
    """FLOPs of one example through linear layers of ``widths`` (``[in, hidden..., out]``)."""
    return sum(2 * a * b for a, b in pairwise(widths))


def conv_flops(model: Any, channels: int, units: int, height: int, width: int) -> int:
    """FLOPs of one ``channels x height x width`` image through ``model=conv``: its same-size
    convolutions, then the 1 x 1 one to ``units``."""
    k, widths = int(model.kernel_size), [channels, *model.channels]
    layers = sum(a * b * k * k for a, b in pairwise(widths))
    return 2 * height * width * (layers + widths[-1] * units)


def recording(summary_class: type[ModelSummary]) -> ModelSummary:
    """Lightning's ``summary_class`` callback, keeping what it prints in ``printed``."""

    class Recorded(summary_class):  # type: ignore[misc, valid-type]
        def summarize(self, summary_data, *args: Any, total_flops: int = 0, **kwargs: Any):
            self.printed = {"columns": dict(summary_data), "total_flops": total_flops}
            return super().summarize(summary_data, *args, total_flops=total_flops, **kwargs)

    return Recorded(max_depth=1)


def fitted_summary(cfg: Any, summary_class: type[ModelSummary] = ModelSummary) -> dict:
    """The printed summary of one training batch of the run ``cfg`` describes."""
    datamodule = ClassificationDataModule(cfg.data, cfg.loss.name, seed=cfg.seed)
    module = ClassifierModule.from_config(cfg, datamodule)
    summary = recording(summary_class)
    trainer = L.Trainer(
        precision=cfg.trainer.precision,
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[summary],
    )
    trainer.fit(module, datamodule=datamodule)
    return {**summary.printed, "datamodule": datamodule}


@pytest.mark.filterwarnings("ignore:Precision bf16-mixed is not supported by the model summary")
@pytest.mark.parametrize("precision", ["32-true", "64-true", "bf16-mixed", "bf16-true"])
def test_summary_counts_the_mlp_s_flops_per_example(make_cfg, precision):
    cfg = make_cfg("data=wine", "model=mlp", f"trainer.precision={precision}")
    printed = fitted_summary(cfg)
    widths = [13, *cfg.model.hidden_sizes, 3]  # wine: 13 features, 3 classes
    assert printed["total_flops"] == linear_flops(widths) == 10_240
    assert printed["columns"]["In sizes"][0] == "[1, 13]"  # the row of `model`, the body
    assert printed["columns"]["Out sizes"][0] == "[1, 3]"


def test_summary_counts_the_linear_model_s_flops(make_cfg):
    cfg = make_cfg("data=breast_cancer", "model=linear", "head=logits", "loss=bce_with_logits")
    assert fitted_summary(cfg)["total_flops"] == linear_flops([30, 1])


@pytest.mark.parametrize(
    ("precision", "summary_class"),
    [("32-true", ModelSummary), ("64-true", ModelSummary), ("32-true", RichModelSummary)],
    ids=["32-true", "64-true", "rich"],
)
def test_summary_counts_the_conv_model_s_flops_per_image(make_cfg, precision, summary_class):
    pytest.importorskip("rich")
    cfg = make_cfg(
        "data=mnist_segmentation", "model=conv", "head=logits", "loss=cross_entropy",
        *SMALL_IMAGES, f"trainer.precision={precision}",
    )  # fmt: skip
    printed = fitted_summary(cfg, summary_class)
    channels, height, width = printed["datamodule"].tensors["train"][0].shape[1:]
    assert (channels, height, width) == (1, 14, 14)  # 28 x 28 digits, downsample=2
    units = 11  # background and the ink of each digit
    assert printed["total_flops"] == conv_flops(cfg.model, channels, units, height, width)
    assert printed["columns"]["In sizes"][0] == "[1, 1, 14, 14]"
    assert printed["columns"]["Out sizes"][0] == "[1, 11, 14, 14]"


def test_a_dense_module_s_example_is_one_image_of_its_data_in_its_weights_dtype(make_cfg):
    """A dense module's example has the size of its data's images, which ``from_config`` and
    a checkpoint give it (the ``input_shape`` of its preprocessing); without it the summary
    counts no FLOPs rather than guessing a size. The example follows the weights' dtype."""
    cfg = make_cfg("data=mnist_segmentation", "model=conv", "head=logits", "loss=cross_entropy")
    module = ClassifierModule(
        task="dense_multiclass", n_features=1, n_outputs=11, n_targets=11,
        model=dict(cfg.model), head="logits", loss={"name": "cross_entropy"},
        optimizer=dict(cfg.optimizer),
    )  # fmt: skip
    assert module.example_input_array is None
    module.preprocessing = {"input_shape": [1, 14, 14]}
    module.double()
    example = module.example_input_array
    assert example.shape == (1, 1, 14, 14) and example.dtype == torch.float64
