"""Blocks: layers grouped in one variable scope, applied once or shared as a whole."""

from __future__ import annotations

from .declare import layer

FAMILY = "Blocks"
ORDER = 20


# The planner plans a block's layers itself, in the block's scopes; blocks have no emitter.
@layer("block", arity="block", scoped=True,
       doc="Layers in one `variable_scope` (default: the block's id; `scope: null` makes it a name scope only). "
           "With `share: true` it re-enters that scope and reuses every variable its layers made the first "
           "time; a sharing block may leave out `layers:` to repeat the structure of the block it shares.",
       example={"id": "tower", "type": "block", "input": "left",
                "layers": [{"id": "fc1", "type": "dense", "units": 64, "activation": "relu"},
                           {"id": "fc2", "type": "dense", "units": 16}]},
       variables="those of its layers", ops="those of its layers")
class Block:
    pass
