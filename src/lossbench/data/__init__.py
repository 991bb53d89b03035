"""Data: the data set registry, the CSV loader, splits and the Lightning data module."""
