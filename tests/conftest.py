"""Shared fixtures: TensorFlow imported once, quietly, through specc's own importer."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@pytest.fixture(scope="session")
def tf():
    from specc.emit.tfimport import tensorflow

    return tensorflow()


# `HYPOTHESIS_PROFILE=deep pytest tests/test_properties.py` searches far longer than CI does.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "default"))
