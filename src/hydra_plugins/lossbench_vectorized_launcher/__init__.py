"""lossbench's vectorized Hydra launcher (see the ``launcher`` module)."""
