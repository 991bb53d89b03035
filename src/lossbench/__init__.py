"""lossbench: train classifiers with configurable heads and losses, and compare them honestly.

The registries are the single source of truth for what combines with what::

    >>> from lossbench.compatibility import check
    >>> check("binary", "sigmoid", "bce").ok
    True
    >>> check("binary", "logits", "bce").ok
    False
"""

__version__ = "0.1.0"
