"""Structured config schemas (Hydra / OmegaConf dataclasses), one per config-group option.

The YAML files under ``configs/`` fill in values on top of these schemas, so a misspelt key or
a wrong type fails when the config is composed, naming the key in full::

    $ lossbench-train loss.gama=2
    Could not override 'loss.gama'. ... Key 'gama' not in 'FocalLossConfig' ...

On the command line lossbench-train checks both before Hydra does, against these schemas, and
refuses with its own message (:mod:`lossbench.command_keys`, :mod:`lossbench.override_types`).

The loss schemas are generated from the parameters each loss declares in
:mod:`lossbench.losses.registry`.

Rules that span groups (head versus loss versus task, value ranges) are checked by
:mod:`lossbench.validation` before any data is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from lossbench.cpus import default_parallel_jobs
from lossbench.heads import HEADS
from lossbench.help_groups import config_groups
from lossbench.losses import LOSSES, LossSpec
from lossbench.losses.registry import LEGACY_REDUCTION
from lossbench.metric_names import metric_mode
from lossbench.params import make_schema
from lossbench.trainer_args import TRAINER_KEYS

# ----------------------------------------------------------------------------------- data


@dataclass
class DataConfig:
    name: str = MISSING
    batch_size: int | None = 128  # null: the whole training split in one batch
    split_seed: int = 0  # seeds the train/val/test split, independently of `seed`
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    # Missing feature values: null refuses them; median (numbers: median, categories: most
    # frequent) or most_frequent imputes them with training-split statistics.
    impute: str | None = None


@dataclass
class SyntheticBinaryConfig(DataConfig):
    n_samples: int = 2000
    n_features: int = 20
    n_informative: int = 8
    positive_fraction: float = 0.5  # class balance: fraction of positives
    # Fraction of the training and validation labels flipped, drawn with random_state; the
    # split and the test labels are those without noise (test metrics: the true labels).
    label_noise: float = 0.01
    class_sep: float = 1.0
    random_state: int = 0  # seeds the generator (the data set itself)


@dataclass
class SyntheticMultilabelConfig(DataConfig):
    n_samples: int = 2000
    n_features: int = 20
    n_labels: int = 5
    avg_labels: int = 2  # average number of labels on per sample
    random_state: int = 0


@dataclass
class SyntheticMulticlassConfig(DataConfig):
    n_samples: int = 2000
    n_features: int = 20
    n_informative: int = 8
    n_classes: int = 4
    # Fraction of the training and validation labels changed to another class (drawn
    # uniformly among the others, with random_state); the test labels are those without noise.
    label_noise: float = 0.01
    class_sep: float = 1.0
    random_state: int = 0


@dataclass
class MnistMapsConfig(DataConfig):
    batch_size: int | None = 64  # images per step (each holds 784 labelled pixels)
    ink_threshold: float = 0.5  # a pixel is ink from this fraction of full grey scale (255) on
    n_images: int | None = None  # null: all 5000 images; a number: a fixed subset (quick runs)
    downsample: int = 1  # 2: each 2 x 2 block of pixels averaged into one (14 x 14 maps)
    # The grey pixels below the threshold (stroke edges): background, or unlabelled (-100: left
    # out of the loss through its ignore_index, and out of the metrics)
    faint_pixels: str = "background"


@dataclass
class CsvDataConfig(DataConfig):
    path: str = MISSING
    label_columns: list[str] = MISSING
    feature_columns: list[str] | None = None  # null: every column that is not a label
    # Columns of numbers to one-hot encode as categories (columns of text always are).
    categorical_columns: list[str] | None = None
    task: str = MISSING  # binary | multilabel | multiclass
    delimiter: str | None = None  # null: detected from the file (, ; tab |)


@dataclass
class OpenMLDataConfig(DataConfig):
    openml_id: int | None = None  # the data set's id on openml.org (or give openml_name)
    openml_name: str | None = None  # its name; the active version unless openml_version is set
    openml_version: int | None = None
    target: list[str] | None = None  # null: the data set's default target; several: multilabel
    task: str | None = None  # null: inferred from the target
    positive_class: str | None = None  # binary: null = a 1/0, yes/no pair's 1, else the rarer
    cache_dir: str = "outputs/data"  # downloads are cached under <cache_dir>/openml


# ---------------------------------------------------------------------------------- model


@dataclass
class ModelConfig:
    name: str = MISSING


@dataclass
class MLPConfig(ModelConfig):
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "relu"  # relu | gelu | tanh | silu
    dropout: float = 0.0


@dataclass
class ConvConfig(ModelConfig):
    channels: list[int] = field(default_factory=lambda: [16, 16, 16, 16])  # one per layer
    kernel_size: int = 3  # odd: every layer keeps height and width
    dilated: bool = True  # dilation 1, 2, 4, ... per layer: receptive field 31 x 31 by default
    activation: str = "relu"  # relu | gelu | tanh | silu
    dropout: float = 0.0  # Dropout2d after each layer


@dataclass
class HeadConfig:
    name: str = MISSING


# ----------------------------------------------------------------------------------- loss


def loss_schema(spec: LossSpec) -> type:
    """The schema of ``configs/loss/<name>.yaml``, generated from the loss's declared parameters.

    The legacy pair comes first, then ``name``: the key order of the hand-written schemas these
    replaced, so composed configs (and the records that keep them) are unchanged.
    """
    legacy = [p for p in spec.parameters if p in LEGACY_REDUCTION]
    rest = [p for p in spec.parameters if p not in LEGACY_REDUCTION]
    return make_schema(
        spec.schema_name(),
        [*legacy, *rest],
        name=spec.name,
        name_position=len(legacy),
        doc=f"loss={spec.name}: {spec.summary}.",
    )


#: The generated loss schemas by loss name. Each is also an attribute of this module under its
#: class name, so that configs holding it pickle (Hydra's ``PickleJobInfoCallback``).
LOSS_SCHEMAS: dict[str, type] = {name: loss_schema(spec) for name, spec in LOSSES.items()}
globals().update({schema.__name__: schema for schema in LOSS_SCHEMAS.values()})


# ------------------------------------------------------------------------------ optimizer


@dataclass
class OptimizerConfig:
    name: str = MISSING
    lr: float = 1e-3
    weight_decay: float = 0.0  # L2 on weights only, never on biases


@dataclass
class AdamConfig(OptimizerConfig):
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    # auto: torch's fused kernel where it has one for the device (CPU and CUDA: yes), else
    # torch's default | fused | foreach | for_loop. Same update, rounding-level differences.
    implementation: str = "auto"


@dataclass
class SGDConfig(OptimizerConfig):
    momentum: float = 0.9
    nesterov: bool = False
    implementation: str = "auto"  # as AdamConfig.implementation


@dataclass
class LBFGSConfig(OptimizerConfig):
    lr: float = 1.0
    max_iter: int = 20  # iterations per optimizer step
    history_size: int = 100
    line_search_fn: str | None = "strong_wolfe"
    tolerance_grad: float = 1e-10
    tolerance_change: float = 1e-12


# -------------------------------------------------------------------------------- trainer


@dataclass
class LossbenchTrainerDefaults:
    """The ``lightning.Trainer`` arguments whose lossbench default or type is its own."""

    max_epochs: int = 20
    accelerator: str = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: Any = "auto"
    precision: Any = "32-true"
    deterministic: Any = False
    gradient_clip_val: float | None = None
    check_val_every_n_epoch: int | None = 1
    log_every_n_steps: int = 50
    num_sanity_val_steps: int = 0  # lossbench checks configs before training instead
    enable_progress_bar: bool | None = None  # null: on for single runs, off in multiruns
    enable_model_summary: bool | None = None  # null: like enable_progress_bar
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None


#: Keyword arguments of ``lightning.Trainer``: every argument of its ``__init__`` (see
#: :mod:`lossbench.trainer_args`), lossbench's defaults above, the others null (Lightning's
#: default). A misspelt key fails when the config is composed.
TrainerConfig = make_dataclass(
    "TrainerConfig",
    [
        (name, Any, field(default=None))
        for name in TRAINER_KEYS
        if name not in LossbenchTrainerDefaults.__dataclass_fields__
    ],
    bases=(LossbenchTrainerDefaults,),
)
TrainerConfig.__module__ = __name__  # where pickle finds it (Hydra's PickleJobInfoCallback)
TrainerConfig.__doc__ = "Keyword arguments of ``lightning.Trainer``; see its documentation."


@dataclass
class SchedulerConfig:
    name: str = "none"  # none | cosine | onecycle | plateau | warmup_cosine (lossbench.schedulers)


@dataclass
class CosineSchedulerConfig(SchedulerConfig):
    eta_min: float = 0.0  # the learning rate reached at the last epoch


@dataclass
class WarmupCosineSchedulerConfig(CosineSchedulerConfig):
    warmup_epochs: int = 2  # linear warm-up from start_factor * lr to lr
    start_factor: float = 0.1


@dataclass
class OneCycleSchedulerConfig(SchedulerConfig):
    max_lr: float | None = None  # null: optimizer.lr
    pct_start: float = 0.3  # fraction of the steps spent increasing the learning rate
    div_factor: float = 25.0  # initial lr = max_lr / div_factor
    final_div_factor: float = 1e4  # final lr = initial lr / final_div_factor
    anneal_strategy: str = "cos"  # cos | linear


@dataclass
class PlateauSchedulerConfig(SchedulerConfig):
    monitor: str | None = None  # null: the optimized_metric
    mode: str | None = None  # min | max; null: from the metric's name
    factor: float = 0.5  # lr *= factor when the metric stops improving
    patience: int = 2  # epochs without improvement before lowering
    threshold: float = 1e-4
    min_lr: float = 0.0


@dataclass
class PathsConfig:
    # Root of every run, multirun and study directory and of the MLflow store; relative paths
    # resolve against the directory the command is started from.
    output_dir: str = "outputs"
    log_dir: str = "${paths.output_dir}"  # stores shared by runs: MLflow's mlflow.db
    data_dir: str = "${paths.output_dir}/data"  # the data cache (data=openml downloads)
    run_dir: str = "${run_dir:}"  # this run's directory (Hydra's; set by lossbench-train)


@dataclass
class CheckpointConfig:
    monitor: str | None = None  # null: the optimized_metric
    mode: str | None = None  # min | max; null: inferred from the metric's name
    save_last: bool = True
    # every_epoch: the best checkpoint when it improves, last.ckpt every epoch (exact resume);
    # at_end: both written once when training ends (studies: a killed job just runs again);
    # never: no files, the best epoch's weights kept in memory for the final evaluation
    write: str = "every_epoch"


@dataclass
class EarlyStoppingConfig:
    enabled: bool = False
    monitor: str | None = None  # null: the optimized_metric
    mode: str | None = None
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class TrainConfig:
    data: Any = MISSING
    model: Any = MISSING
    head: HeadConfig = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    trainer: TrainerConfig = MISSING  # type: ignore[valid-type]
    # {name: {_target_: ..., ...}}, each built by hydra.utils.instantiate (lossbench.instantiators)
    callbacks: dict[str, Any] = field(default_factory=dict)
    logger: dict[str, Any] = field(default_factory=dict)
    scheduler: Any = MISSING  # lossbench.schedulers; none by default
    paths: PathsConfig = MISSING
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    setup: str | None = None  # a name for the head + loss setup (studies); null: derived
    study_name: str | None = None  # set by experiment configs: outputs/studies/<name>-<variant>
    study_variant: str = "full"  # set by the study group: full, quick or longer
    seed: int = 0  # seeds model initialisation and batch order (0 is a seed)
    runner: str = "auto"  # auto | lightning | epoch: how the run is fitted (lossbench.runners)
    training_loop: Any = None  # replaced by runner; kept only to refuse it with directions
    epoch_metrics: str = "all"  # all | monitored: per epoch only what callbacks monitor + losses
    optimized_metric: str = "val/nll"  # what checkpointing and sweepers optimise
    ckpt_path: str | None = None


#: Schemas by group and option. The YAML option ``configs/<group>/<option>.yaml`` starts with
#: ``defaults: [/schema/<group>/<option>@_here_, _self_]``.
SCHEMAS: dict[str, dict[str, type]] = {
    "data": {
        "breast_cancer": DataConfig,
        "iris": DataConfig,
        "wine": DataConfig,
        "digits": DataConfig,
        "digits_multilabel": DataConfig,
        "synthetic_binary": SyntheticBinaryConfig,
        "synthetic_binary_imbalanced": SyntheticBinaryConfig,
        "synthetic_multilabel": SyntheticMultilabelConfig,
        "synthetic_multiclass": SyntheticMulticlassConfig,
        **{
            name: DataConfig
            for name in ("yeast", "shuttle", "credit_g", "segment", "mnist_5k", "penguins")
        },
        "mnist_segmentation": MnistMapsConfig,
        "mnist_ink": MnistMapsConfig,
        "csv": CsvDataConfig,
        "openml": OpenMLDataConfig,
    },
    "model": {"linear": ModelConfig, "mlp": MLPConfig, "conv": ConvConfig},
    "head": {name: HeadConfig for name in HEADS},
    "loss": LOSS_SCHEMAS,
    "optimizer": {"adam": AdamConfig, "adamw": AdamConfig, "sgd": SGDConfig, "lbfgs": LBFGSConfig},
    "trainer": {"default": TrainerConfig},
    "paths": {"default": PathsConfig},
    "scheduler": {
        "none": SchedulerConfig,
        "cosine": CosineSchedulerConfig,
        "warmup_cosine": WarmupCosineSchedulerConfig,
        "onecycle": OneCycleSchedulerConfig,
        "plateau": PlateauSchedulerConfig,
    },
}


def sweep_direction(metric: str) -> str:
    """``${direction:${optimized_metric}}`` in configs: 'minimize' or 'maximize' for Optuna."""
    return "minimize" if metric_mode(metric) == "min" else "maximize"


def run_directory() -> str:
    """``${run_dir:}``: this run's directory, Hydra's ``runtime.output_dir``. Hydra sets that
    only when the run starts: ``--cfg job --resolve`` shows ``hydra.run.dir`` instead, the
    directory a run started at that moment would write to. Outside Hydra (configs composed
    with the compose API) there is none: ``lossbench.training.train`` sets ``paths.run_dir``
    to the directory it is given, and until then this reads ``.``."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        for key in ("runtime.output_dir", "run.dir"):
            directory = OmegaConf.select(  # a run.dir that cannot be resolved is refused later
                hydra, key, default=None, throw_on_missing=False, throw_on_resolution_failure=False
            )
            if directory:
                return str(directory)
    return "."


def register_resolvers() -> None:
    """``${direction:<metric>}``, ``${parallel_jobs:}``, ``${run_dir:}`` and ``${config_groups:}``
    (the --help's groups: :mod:`lossbench.help_groups`); idempotent. Also run on import: the
    joblib launcher's worker processes resolve job configs without calling main()."""
    OmegaConf.register_new_resolver("config_groups", config_groups, replace=True)
    OmegaConf.register_new_resolver("direction", sweep_direction, replace=True)
    OmegaConf.register_new_resolver("parallel_jobs", default_parallel_jobs, replace=True)
    OmegaConf.register_new_resolver("run_dir", run_directory, replace=True)


register_resolvers()


def register_configs() -> None:
    """Store every schema in Hydra's ConfigStore and register resolvers (idempotent)."""
    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    for group, options in SCHEMAS.items():
        for option, schema in options.items():
            cs.store(group=f"schema/{group}", name=option, node=schema)
