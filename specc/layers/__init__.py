"""The layer registry: every layer type, declared once in the family module that plans and emits it.

Importing this package imports each module in it; `@layer` registers the types a module
declares. A new layer type is a class in a module here (a new family is a new module):
the schemas, the spec parser, the planner, the emitter and the docs' table all read it
from LAYER_TYPES.
"""

from __future__ import annotations

import importlib
import os

from .base import FLOAT_DTYPES, Inferred, Initializer, LayerContext, LayerView, TensorInfo, VarRequest
from .declare import REGISTERED, LayerType, Param

# Listed by name, as pkgutil.iter_modules would (whose own imports cost more than the listing).
for _file in sorted(os.listdir(__path__[0])):
    if _file.endswith(".py") and _file != "__init__.py":
        importlib.import_module(f"{__name__}.{_file[:-3]}")

# Families in their documented order, and each family's types as its module declares them.
LAYER_TYPES: dict[str, LayerType] = {
    t.name: t for t in sorted(REGISTERED.values(), key=lambda t: t.order)
}

__all__ = ["LAYER_TYPES", "FLOAT_DTYPES", "Inferred", "Initializer", "LayerContext", "LayerType", "LayerView",
           "Param", "TensorInfo", "VarRequest"]
