"""specc: a declarative model-spec compiler for TensorFlow 1 graphs.

    load -> interpolate -> validate -> expand -> plan -> emit -> report

Importing specc never imports TensorFlow; only `build` does.
"""

from .api import build, load, loads, plan, resolve, resolves
from .errors import BuildError, Location, SpecError
from .plan import Plan

__version__ = "0.1.0"
__all__ = ["build", "load", "loads", "plan", "resolve", "resolves", "Plan", "SpecError", "BuildError", "Location", "__version__"]
