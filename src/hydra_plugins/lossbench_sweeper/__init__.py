"""lossbench's Hydra sweeper (see :mod:`hydra_plugins.lossbench_sweeper.sweeper`)."""
