"""The mixed-precision policy: the model body may run in bf16 / fp16, the head and loss never do.

With ``trainer.precision=bf16-mixed`` (or ``16-mixed`` on CUDA) Lightning runs each step under
``torch.autocast``: the model's linear layers compute in the lower precision, so its raw scores
arrive as bf16 / fp16. lossbench then computes the **head's activation and the loss outside
autocast, in float32** (float64 stays float64 under ``trainer.precision=64-true``), from those
scores, for every loss:

- losses on probabilities (``LOSSES[name].expects == "probabilities"``: bce, manual_bce, mse
  with a sigmoid or softmax head) must: on CUDA, ``nn.BCELoss`` under autocast raises "unsafe to
  autocast"; on CPU it runs, but on a bf16 sigmoid that is exactly 1.0 from logit 6.25 on
  (fp16: 8.5, fp32: 16.75), so a confidently wrong example gets loss 100 and gradient 0;
- losses on logits and log-probabilities (bce_with_logits, cross_entropy, nll, focal) do too:
  the head and loss cost next to nothing beside the model, float32 keeps the loss's own
  ``log`` / ``exp`` exact, and one rule for every loss makes runs comparable across losses.

The metrics see the same float32 scores the head sees, so ``saturated`` counts what the loss
was handed. ``16-true`` (float16 weights) is refused: Adam's ``eps=1e-8`` is 0 in float16 and
the first step gives NaN, and small updates vanish in float16 weights. ``16-mixed`` on a CPU is
refused too: Lightning would silently train in bf16-mixed instead.

    >>> import torch
    >>> z, target = torch.tensor([7.0], dtype=torch.bfloat16), torch.zeros(1)
    >>> bce = torch.nn.functional.binary_cross_entropy
    >>> bce(torch.sigmoid(z).float(), target)  # sigmoid(7) is exactly 1.0 in bf16
    tensor(100.)
    >>> bce(torch.sigmoid(at_least_float32(z)), target)  # the policy
    tensor(7.0010)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: The precisions lossbench refuses, with the reason (checked by :func:`check_precision`).
REFUSED: dict[str, str] = {
    "16-true": (
        "trainer.precision=16-true keeps the weights themselves in float16: Adam's eps=1e-8 "
        "is 0 in float16, so the first step divides by zero and gives NaN, and updates smaller "
        "than float16's resolution are lost. Use trainer.precision=16-mixed on a CUDA GPU "
        "(float32 weights, float16 compute) or bf16-mixed, or 32-true."
    ),
}
#: Every ``trainer.precision`` Lightning knows, by its full name (the short names below map
#: onto them); :data:`REFUSED` says which of them lossbench refuses, and why.
PRECISIONS = (
    "32-true",
    "64-true",
    "bf16-mixed",
    "16-mixed",
    "bf16-true",
    "16-true",
    "transformer-engine",
    "transformer-engine-float16",
)
#: Lightning's short precision names and their full form.
_ALIASES = {"16": "16-mixed", "bf16": "bf16-mixed", "32": "32-true", "64": "64-true"}


def normalize_precision(precision: Any) -> str:
    """Lightning's full name of a ``trainer.precision`` value: ``16`` -> ``'16-mixed'``."""
    text = str(precision)
    return _ALIASES.get(text, text)


def resolves_to_cpu(accelerator: Any) -> bool:
    """Whether Lightning's ``accelerator`` setting trains on the CPU on this machine."""
    name = str(accelerator).lower()
    if name == "cpu":
        return True
    if name != "auto":
        return False
    from lightning.pytorch.accelerators import CUDAAccelerator, MPSAccelerator, XLAAccelerator

    return not any(a.is_available() for a in (CUDAAccelerator, MPSAccelerator, XLAAccelerator))


def check_precision(precision: Any, accelerator: Any) -> str | None:
    """Return why ``precision`` cannot train on ``accelerator``, or None when it can.

    >>> check_precision("bf16-mixed", "cpu") is None
    True
    >>> print(check_precision("16-mixed", "cpu").split(":")[0])
    trainer.precision=16-mixed with trainer.accelerator=cpu
    """
    full = normalize_precision(precision)
    if full in REFUSED:
        return REFUSED[full]
    if full == "16-mixed" and resolves_to_cpu(accelerator):
        return (
            f"trainer.precision={precision} with trainer.accelerator={accelerator}: the run "
            "would train on the CPU, where float16 autocast is not supported and Lightning "
            "silently switches to bf16-mixed, so the record would not say what ran. Use "
            "trainer.precision=bf16-mixed on a CPU, or 16-mixed with trainer.accelerator=gpu "
            "on a CUDA GPU."
        )
    return None


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as float32 if it is a bf16 / fp16 tensor; other dtypes pass unchanged.

    >>> import torch
    >>> at_least_float32(torch.ones(1, dtype=torch.bfloat16)).dtype
    torch.float32
    >>> at_least_float32(torch.ones(1, dtype=torch.float64)).dtype
    torch.float64
    """
    # dtype.itemsize (bytes) is torch.finfo(dtype).bits / 8, without importing torch here.
    if tensor.is_floating_point() and tensor.dtype.itemsize < 4:
        return tensor.float()
    return tensor


def autocast_on(device: torch.device | str) -> bool:
    """Whether autocast is on for ``device``'s type (False where autocast does not exist)."""
    import torch

    try:
        return torch.is_autocast_enabled(torch.device(device).type)
    except RuntimeError:  # a device type without autocast
        return False


@contextlib.contextmanager
def full_precision(device: torch.device | str) -> Iterator[None]:
    """Autocast switched off on ``device``'s type (a no-op where autocast is off or does not
    exist; entering autocast costs ~5 us, as much as a small layer)."""
    import torch

    if not autocast_on(device):
        yield
        return
    with torch.autocast(device_type=torch.device(device).type, enabled=False):
        yield


def trained_precision(checkpoint: Mapping[str, Any]) -> str:
    """The full name of the ``trainer.precision`` that the run which wrote ``checkpoint``
    trained and evaluated under (the run's config the checkpoint holds), ``'32-true'`` where
    it holds none (an older lossbench's checkpoint).

        >>> trained_precision({"lossbench_config": '{"trainer": {"precision": "bf16"}}'})
        'bf16-mixed'
        >>> trained_precision({})
        '32-true'
    """
    from lossbench.checkpoint_format import RUN_CONFIG_KEY

    text = checkpoint.get(RUN_CONFIG_KEY)
    try:
        trainer = json.loads(text).get("trainer") if isinstance(text, str) else None
    except (ValueError, AttributeError):
        trainer = None
    precision = trainer.get("precision") if isinstance(trainer, dict) else None
    return normalize_precision(precision if precision is not None else "32-true")


def scoring_context(precision: str, device: torch.device | str = "cpu") -> Any:
    """The context in which a run of ``precision`` computed its model's scores on ``device``:
    Lightning's autocast for the mixed precisions (``MixedPrecision.forward_context``, what
    ``lossbench-eval``'s Trainer and the run's own evaluation use), none otherwise
    (``64-true`` weights are float64 already). Prediction uses it, so that its probabilities
    are the ones the run's metrics were computed from.

        >>> import torch
        >>> with scoring_context("bf16-mixed"):
        ...     torch.nn.Linear(2, 1)(torch.ones(1, 2)).dtype
        torch.bfloat16
    """
    if precision not in ("bf16-mixed", "16-mixed"):
        return contextlib.nullcontext()
    import torch
    from lightning.pytorch.plugins.precision import MixedPrecision

    return MixedPrecision(precision, torch.device(device).type).forward_context()
