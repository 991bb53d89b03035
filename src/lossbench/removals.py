"""The words of a refused ``~key``: which key an argument removes, and the refusals every
command gives for a key that cannot be removed.

Hydra removes a key with ``~key`` (or ``~key=value``, which removes it only where it holds that
value). lossbench's settings and the keys of its schemas cannot be removed: OmegaConf refuses
to delete a schema's key ("does not support deletion"), Hydra refuses to delete a key whose
value is null ("does not exist"), and a command missing one of its settings would fail later.
Each check that refuses such an argument (:mod:`lossbench.command_keys` before Hydra composes,
:mod:`lossbench.option_keys` from Hydra's error) reads the argument with :func:`removed_key` and
words its refusal here, so that one case reads the same whichever check meets it.

    >>> removed_key("~optimizer.lr=0.01"), removed_key("optimizer.lr=0.01")
    ('optimizer.lr', None)
    >>> print(schema_key_refusal("~optimizer.lr", "optimizer.lr", "optimizer=adam",
    ...                          "AdamConfig", "lossbench-train"))
    ~optimizer.lr removes optimizer.lr, but lr is part of the schema of optimizer=adam \
(AdamConfig), whose keys cannot be removed: set it instead (optimizer.lr=<value>; \
`lossbench-train --cfg job` shows its value).
"""

from __future__ import annotations

__all__ = ["absent_key_refusal", "keep_null", "removed_key", "schema_key_refusal"]


def removed_key(argument: str) -> str | None:
    """The key that ``argument`` removes: ``~key`` or ``~key=value`` gives ``key`` (stripped);
    None for any other argument (``key=value``, ``+key=value``, ``~~key``, a bare ``~``).

        >>> removed_key("~ seed "), removed_key("~~seed"), removed_key("~")
        ('seed', None, None)
    """
    if not argument.startswith("~") or argument.startswith("~~"):
        return None
    return argument[1:].split("=", 1)[0].strip() or None


def _set_instead(path: str, command: str) -> str:
    return f"set it instead ({path}=<value>; `{command} --cfg job` shows its value)"


def keep_null(argument: str, path: str, command: str) -> str:
    """What to do instead of removing ``path``, a key whose value is null (Hydra removes only
    a key with a value).

        >>> keep_null("~ckpt_path", "ckpt_path", "lossbench-eval")[:52]
        'leave ~ckpt_path out (ckpt_path=null is its value he'
    """
    return (
        f"leave {argument} out ({path}=null is its value here), or {_set_instead(path, command)}."
    )


def schema_key_refusal(
    argument: str,
    path: str,
    owner: str,
    schema: str | None,
    command: str,
    *,
    null: bool = False,
    alternative: str = "",
) -> str:
    """The refusal of ``argument``, which removes ``path``, whose last key is part of the
    schema of ``owner`` (``optimizer=adam``; ``schema``: the dataclass's name, None where not
    known). ``null``: its value is null, so Hydra would not remove it anyway; ``alternative``:
    another way out, appended after "set it instead (...)" (", or choose ...").

        >>> print(schema_key_refusal("~loss.pos_weight", "loss.pos_weight",
        ...                          "loss=bce_with_logits", "BceWithLogitsLossConfig",
        ...                          "lossbench-train", null=True))
        ~loss.pos_weight removes loss.pos_weight, but pos_weight is part of the schema of \
loss=bce_with_logits (BceWithLogitsLossConfig), whose keys cannot be removed, and its value is \
null (Hydra removes only a key with a value): leave ~loss.pos_weight out (loss.pos_weight=null \
is its value here), or set it instead (loss.pos_weight=<value>; `lossbench-train --cfg job` \
shows its value).
    """
    key = path.rpartition(".")[2]
    named = f"{owner} ({schema})" if schema else owner
    refusal = (
        f"{argument} removes {path}, but {key} is part of the schema of {named}, whose keys "
        "cannot be removed"
    )
    if null:
        return (
            f"{refusal}, and its value is null (Hydra removes only a key with a value): "
            f"{keep_null(argument, path, command)}"
        )
    return f"{refusal}: {_set_instead(path, command)}{alternative}."


def absent_key_refusal(argument: str, path: str, owner: str, schema: str) -> str:
    """The refusal of ``argument``, which removes ``path``, a key the option ``owner`` chosen
    does not have (another option of its group does): there is nothing to remove.

        >>> absent_key_refusal("~loss.gamma", "loss.gamma", "loss=bce", "BceLossConfig")[-41:]
        'nothing to remove: leave ~loss.gamma out.'
    """
    return (
        f"{argument} removes {path}, which {owner} does not have ({schema}), so there is "
        f"nothing to remove: leave {argument} out."
    )
