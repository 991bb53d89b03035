"""Which head fits which loss on which task: one table, read by validation, docs and tests.

    >>> verdict = check("multiclass", "softmax", "cross_entropy")
    >>> verdict.ok, "double softmax" in verdict.error
    (False, True)
    >>> check("multiclass", "log_softmax", "cross_entropy").warning is not None
    True

The rules come from :data:`lossbench.heads.HEADS` and :data:`lossbench.losses.LOSSES`:
a head fits a loss when its output is what the loss expects, the task is one the loss supports,
and a normalising head (softmax, log-softmax) is not asked to produce a single binary unit or
independent multi-label probabilities. Pairs that are redundant but harmless (log-softmax before
a loss that applies softmax itself) and pairs a loss declares it tolerates are valid with a
warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from lossbench.heads import HEADS, OUTPUT_KIND_TEXT, HeadSpec, get_head
from lossbench.losses import LOSSES, LossSpec, get_loss, n_outputs
from lossbench.tasks import TASKS, Task, check_task, position_task


class IncompatibleSetupError(ValueError):
    """A head, loss and task that cannot train correctly together."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check`: ``error`` set means refused; ``warning`` means allowed."""

    task: str
    head: str
    loss: str
    error: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _mismatch_reason(task: Task, head: HeadSpec, loss: LossSpec) -> str:
    """Why head output ``head.output`` cannot feed a loss expecting ``loss.expects``."""
    given, wanted, link = head.output, loss.expects, loss.link_for(task)
    if given == "scores" and wanted == "probabilities":
        # Only nn.BCELoss checks its input range; the others take any number silently.
        consequence = (
            "it only fails when a value leaves [0, 1], so it would train on wrong values until "
            "it crashes"
            if loss.torch_name == "nn.BCELoss"
            else "it never checks its input range, so it would silently train on values that "
            "are not probabilities"
        )
        return (
            f"{loss.torch_name} expects probabilities in [0, 1], but head 'logits' outputs raw "
            f"scores (raw scores into {loss.torch_name}); {consequence}"
        )
    if given == "scores" and wanted == "log_probabilities":
        return (
            f"{loss.torch_name} expects log-probabilities, but head 'logits' outputs raw scores "
            f"(raw scores into {loss.torch_name}); NLLLoss accepts any numbers silently and just "
            "negates the target's entry, so the loss is meaningless and unbounded below"
        )
    if given == "probabilities" and wanted == "scores":
        double = f"double {link}" if head.link == link else f"{head.link} followed by {link}"
        return (
            f"{loss.torch_name} applies its own {link} to raw scores, but head '{head.name}' "
            f"has already applied {head.link} ({double}); the loss is then trapped in a narrow "
            "range and its gradients vanish"
        )
    if given == "probabilities" and wanted == "log_probabilities":
        return (
            f"{loss.torch_name} expects log-probabilities, but head '{head.name}' outputs "
            "probabilities; it would minimise -p[target] instead of -log p[target], a different "
            "and badly conditioned objective"
        )
    if given == "log_probabilities" and wanted == "probabilities":
        return (
            f"{loss.torch_name} expects probabilities in [0, 1], but head 'log_softmax' outputs "
            "log-probabilities (<= 0), which it rejects or treats as wrong values"
        )
    # log-probabilities into a loss on scores: log-softmax ones before a softmax-based loss are
    # redundant, not wrong (:func:`_redundant_head`); per-unit (sigmoid) ones change the link
    if link == "softmax":
        return (
            f"{loss.torch_name} applies softmax to raw scores, but head '{head.name}' outputs "
            f"{head.link} log-probabilities of each unit; softmax of them is {head.link}(s) "
            "normalised across units, not softmax(s), so the loss would train another link "
            "than its own"
        )
    return (
        f"{loss.torch_name} applies sigmoid to raw scores, but head '{head.name}' outputs "
        "log-probabilities (<= 0); sigmoid of them is at most 0.5, so no unit can ever be "
        "predicted positive and the loss is meaningless"
    )


def _link_reason(task: Task, head: HeadSpec, loss: LossSpec) -> str | None:
    """Why a head whose output kind is what the loss expects still does not fit it: per-unit
    sigmoid (log-)probabilities into a loss that models softmax probabilities across units."""
    if head.link == "sigmoid" and loss.link_for(task) == "softmax":
        return (
            f"{loss.torch_name} models probabilities that sum to 1 across units (softmax), but "
            f"head '{head.name}' applies sigmoid to each unit on its own, so they need not: "
            "the loss reads only the target's unit and is minimised by pushing every unit to "
            "probability 1"
        )
    return None


def _redundant_head(task: Task, head: HeadSpec, loss: LossSpec) -> str | None:
    """The warning for a head that is not what the loss expects but changes nothing: log-
    probabilities into a loss that applies softmax to scores (softmax(log p) = p, since the
    log-probabilities differ from the scores only by a constant per sample). A loss's own
    ``tolerates`` text is used where it has one; None when the pair is not redundant."""
    if head.name in loss.tolerates:
        return loss.tolerates[head.name]
    if (
        head.output == "log_probabilities"
        and head.link == "softmax"
        and loss.expects == "scores"
        and loss.link_for(task) == "softmax"
    ):
        return (
            f"head '{head.name}' before loss '{loss.name}' is redundant but harmless: "
            f"{loss.torch_name} applies softmax itself, and softmax of log-probabilities gives "
            f"the same probabilities. Use head=logits with loss={loss.name}."
        )
    return None


def _structural_reason(task: Task, head: HeadSpec, loss: LossSpec) -> str | None:
    """Reasons that depend on the task's shape rather than the head/loss pairing."""
    if task not in loss.tasks:
        return loss.refusals.get(task, f"{loss.torch_name} does not support {task} tasks")
    if head.normalizes and position_task(task) == "binary" and n_outputs(task, 1, loss.name) == 1:
        return (
            f"head '{head.name}' normalises across output units, but loss '{loss.name}' on a "
            f"{task} task uses a single output unit: softmax of one unit is always 1 (log-softmax "
            "always 0), so nothing can be learnt"
        )
    if head.normalizes and task == "multilabel":
        return (
            f"head '{head.name}' makes the labels compete for one unit of probability (they sum "
            "to 1), but multi-label targets are multi-hot: several labels can be on at once"
        )
    return None


def _core(task: Task, head_name: str, loss_name: str) -> Verdict:
    head, loss = get_head(head_name), get_loss(loss_name)
    reason = _structural_reason(task, head, loss)
    if reason is not None:
        return Verdict(task, head_name, loss_name, error=reason)
    if head.output == loss.expects:
        reason = _link_reason(task, head, loss)
        return Verdict(task, head_name, loss_name, error=reason)
    warning = _redundant_head(task, head, loss)
    if warning is None:
        return Verdict(task, head_name, loss_name, error=_mismatch_reason(task, head, loss))
    return Verdict(task, head_name, loss_name, warning=warning)


def valid_heads(task: Task, loss: str) -> list[str]:
    """Heads that fit ``loss`` on ``task`` without a warning."""
    return [h for h in HEADS if (v := _core(task, h, loss)).ok and v.warning is None]


def valid_losses(task: Task, head: str) -> list[str]:
    """Losses that fit ``head`` on ``task`` without a warning."""
    return [name for name in LOSSES if (v := _core(task, head, name)).ok and v.warning is None]


def _alternatives(task: Task, head: str, loss: str) -> str:
    parts = []
    heads = valid_heads(task, loss)
    parts.append(
        f"with loss={loss}, use head={' or head='.join(heads)}"
        if heads
        else f"loss={loss} does not support {task} tasks"
    )
    losses = valid_losses(task, head)
    if losses:
        parts.append(f"with head={head}, use loss={', loss='.join(losses)}")
    if not heads and not losses:  # neither choice can be kept: offer every pair that works
        pairs = [f"head={h} + loss={n}" for n in LOSSES for h in valid_heads(task, n)]
        parts.append(f"for a {task} task use {', '.join(pairs)}")
    return "; ".join(parts)


def check(task: str, head: str, loss: str) -> Verdict:
    """Judge ``head`` + ``loss`` on ``task``; the error names both and lists what works instead.

    Raises ValueError for unknown task, head or loss names.
    """
    task = check_task(task)
    verdict = _core(task, head, loss)
    if verdict.ok:
        return verdict
    message = (
        f"head '{head}' + loss '{loss}' cannot train a {task} task: {verdict.error}. "
        f"Valid alternatives: {_alternatives(task, head, loss)}."
    )
    return Verdict(task, head, loss, error=message)


def require_compatible(task: str, head: str, loss: str) -> Verdict:
    """Like :func:`check`, but raise :class:`IncompatibleSetupError` when refused."""
    verdict = check(task, head, loss)
    if not verdict.ok:
        raise IncompatibleSetupError(verdict.error)
    return verdict


def compatibility_table() -> str:
    """The task x head x loss table as Markdown (the README embeds it; a test keeps it in sync).

    Cells: ``ok``, ``warn`` (valid but redundant) or ``-`` (refused).
    """
    heads = list(HEADS)
    lines = [
        "| task | loss | expects | " + " | ".join(f"head={h}" for h in heads) + " |",
        "|---|---|---|" + "---|" * len(heads),
    ]
    marks = {True: "ok", False: "-"}
    for task in TASKS:
        for name, spec in LOSSES.items():
            cells = []
            for head in heads:
                verdict = _core(task, head, name)  # type: ignore[arg-type]
                cells.append("warn" if verdict.ok and verdict.warning else marks[verdict.ok])
            expects = OUTPUT_KIND_TEXT[spec.expects]
            lines.append(f"| {task} | {name} | {expects} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
