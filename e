/dev/fd/3: line 56: lossbench-train: command not found
