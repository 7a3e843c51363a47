"""specc: a declarative model-spec compiler for TensorFlow 1 graphs.

    load -> interpolate -> validate -> expand -> plan -> emit -> report

Importing specc never imports TensorFlow; only `build` and `check` do.
"""

from .api import build, check, diff, load, loads, plan, resolve, resolves
from .errors import BuildError, CheckpointError, IncompatibleCheckpoint, Location, MappingError, SpecError
from .plan import Plan

__version__ = "0.1.0"
__all__ = ["build", "load", "loads", "plan", "resolve", "resolves", "Plan", "SpecError", "BuildError", "Location", "__version__",
           "check", "diff", "CheckpointError", "IncompatibleCheckpoint", "MappingError"]
