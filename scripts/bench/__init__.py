"""Time lossbench's training path against a hand-written PyTorch loop doing the same work.

The package behind ``scripts/benchmark.py`` (``make bench``), one module per job:

- :mod:`bench.settings`: the tasks, the sides, the settings and each cell's lossbench config;
- :mod:`bench.reference`: the hand-written loop;
- :mod:`bench.sides`: lossbench's side and the runner of each side;
- :mod:`bench.cells`: one task x batch size timed, every side alternating, and its ratios;
- :mod:`bench.memory`: peak RSS and Python heap measurements;
- :mod:`bench.study`: start-up times and a study or multirun timed from the command line;
- :mod:`bench.environment`: versions, machine and git state;
- :mod:`bench.tables`: the printed tables;
- :mod:`bench.profiling`: ``--profile``;
- :mod:`bench.cli`: the flags and the run.

All sides run in this one process, on the same tensors (lossbench's own
``ClassificationDataModule`` builds them for all), the same model (``build_model``: MLP
20-64-64-out, the same initial weights), the same optimizer (Adam, lr 1e-3, the same defaults),
the same batch order (shuffled index slices, seeded per epoch as lossbench's
``IndexBatchLoader`` does) and the same metrics (``ClassificationMetrics`` fed the training
steps' scores once per epoch, and the whole validation split once per epoch). So they train the
same model: the table shows the largest difference of ``val/nll`` per epoch between lossbench
and the hand-written loop (~1e-6: lossbench's fused Adam kernel rounds differently).

- **hand-written**: a careful plain loop (no ``.item()`` per step, ``zero_grad(set_to_none)``,
  the best weights kept in memory), then validation and test metrics with the best weights;
  ``torch.optim.Adam`` with torch's defaults (a for-loop over the parameters on a CPU), the
  epoch's rows gathered with ``x[order]``. This is the 1.0 of the ratios.
- **hand-written, fused Adam**: the same loop with the kernels lossbench uses:
  ``torch.optim.Adam(fused=True)`` (what ``optimizer.implementation=auto`` picks) and
  ``index_select`` for the epoch's rows (lossbench's loader; ~3x faster than ``x[order]``); the
  ratio against it shows what lossbench costs beyond the loop once both use the same kernels.
- **lossbench**: ``lossbench.training.train(cfg, tmpdir, multirun=True)``, the path every run takes
  (Lightning Trainer, best and last checkpoint written to disk every epoch, ``metrics.json``);
  fit time is the record's ``train_seconds``, wall time is the whole call. Twice more with the
  other checkpoint settings: ``checkpoint.write=at_end`` (the studies: both files written once,
  at the end) and ``checkpoint.write=never`` (no files, the best weights kept in memory: the
  hand-written loop's work exactly).

The sides alternate per repeat (order reversed every other repeat), after one untimed 1-epoch
warm-up of each. The ratio is lossbench / hand-written per repeat: its median, min and max. The
headline ratio is wall clock (``train_seconds``); the same span is also measured in process CPU
time, which leaves out the turns other processes take on a shared machine: where the two
disagree, the machine was busy (the load average is printed with every repeat) and the CPU-time
ratio is the one to trust. ``torch.set_num_threads`` is set for all sides (``--threads``,
default 1). Nothing here asserts
a speed.
"""
