"""specc: a declarative model-spec compiler for TensorFlow 1 graphs.

    read -> compose -> interpolate -> validate -> expand -> spec -> plan -> emit -> report

Importing specc never imports TensorFlow; only `build`, `apply`, `check` and `export` do.
"""

from .api import apply, build, check, diff, export, load, loads, plan, resolve, resolves
from .errors import (BuildError, CheckpointError, IncompatibleCheckpoint, Location, MappingError, OutputRefused,
                     SignatureError, SpecError)

__version__ = "0.1.0"
__all__ = ["apply", "build", "load", "loads", "plan", "resolve", "resolves", "Plan", "SpecError", "BuildError", "Location",
           "__version__", "check", "diff", "CheckpointError", "IncompatibleCheckpoint", "MappingError",
           "export", "SignatureError", "OutputRefused"]


def __getattr__(name: str):
    if name == "Plan":  # the plan's types come with the layer registry: imported when asked for
        from .plans import Plan

        return Plan
    raise AttributeError(f"module 'specc' has no attribute {name!r}")
