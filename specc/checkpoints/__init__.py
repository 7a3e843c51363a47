"""Checkpoint compatibility without TensorFlow: rename rules, restore checks, spec diffs."""
