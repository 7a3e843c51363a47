"""Experiments: the `train:` section, run directories and sweeps."""
