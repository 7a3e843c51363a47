"""Signatures of an exported model, and the serving variant of a plan. No TensorFlow.

A signature names a set of outputs; its inputs are whatever those outputs need
(found in the built graph, specc.emit.signatures), so a labels input is never
among them. Serving runs with every training flag off: the inputs that dropout
and batch_norm read as `training` become defaults of `false`, so a signature
never asks for them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import Sequence

from ..errors import SignatureError
from ..plans import Plan
from ..record import record

DEFAULT_SIGNATURE = "serving_default"  # what TensorFlow Serving and `saved_model_cli run` use unless told
# A SignatureDef's key is free text to TensorFlow; a name a shell and a URL path take unquoted is what
# TensorFlow Serving's REST API (`"signature_name"`) and `saved_model_cli --signature_def` users type.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@record
class SignatureRequest:
    """A signature to export: its name, and the outputs it returns (spec outputs or layer paths)."""

    name: str
    outputs: tuple[str, ...]


def parse(text: str) -> SignatureRequest:
    """`NAME=out1,out2` -> a SignatureRequest.

    Raises:
        SignatureError: no `=`, a bad name, no outputs.
    """
    name, eq, rest = text.partition("=")
    outputs = tuple(o.strip() for o in rest.split(",") if o.strip())
    if not eq or not outputs:
        raise SignatureError(f"--signature {text!r}: write NAME=OUTPUT[,OUTPUT...], e.g. embed=left_tower")
    if not _NAME.fullmatch(name.strip()):
        raise SignatureError(f"--signature {text!r}: a signature's name is letters, digits, '_', '.' and '-', "
                             "starting with a letter or '_'")
    return SignatureRequest(name.strip(), outputs)


def requests(plan: Plan, extra: Sequence[SignatureRequest] = ()) -> tuple[SignatureRequest, ...]:
    """`serving_default` (every spec output, in order) and the `extra` signatures, checked against the plan.

    An extra signature named `serving_default` replaces the default one.

    Raises:
        SignatureError: a name given twice, an output that is neither a spec output nor a layer path.
    """
    known = [o.name for o in plan.outputs]
    paths = [layer.path for layer in plan.walk()]
    seen: set[str] = set()
    for request in extra:
        if request.name in seen:
            raise SignatureError(f"--signature {request.name}: given twice; give each signature once")
        seen.add(request.name)
        for name in request.outputs:
            if name not in known and name not in paths:
                close = difflib.get_close_matches(name, known + paths, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"the spec's outputs: {', '.join(known)}"
                raise SignatureError(f"--signature {request.name}: '{name}' is neither an output of "
                                     f"{plan.name} nor a layer; {hint}")
    default = () if DEFAULT_SIGNATURE in seen else (SignatureRequest(DEFAULT_SIGNATURE, tuple(known)),)
    return default + tuple(extra)


def training_flags(plan: Plan) -> tuple[str, ...]:
    """The model inputs some layer reads as its `training` flag (dropout, batch_norm), in input order."""
    read = set()
    for layer in plan.walk():
        if isinstance(getattr(layer.params, "training", None), str):
            read.add(layer.inputs[-1])  # the planner appends the flag's key to the layer's inputs
    return tuple(i.name for i in plan.inputs if i.name in read)


def serving_plan(plan: Plan) -> Plan:
    """The plan with every training flag input a default of `false` (a `placeholder_with_default`):
    the same variables and ops, run as inference, and no signature needs to feed the flag."""
    flags = set(training_flags(plan))
    if not flags:
        return plan
    return replace(plan, inputs=tuple(replace(i, default=False, has_default=True) if i.name in flags else i
                                      for i in plan.inputs))


EXPORT_FILE = "export.json"  # beside saved_model.pb: what was exported, from what, and every tensor's name


@record
class Export:
    """What `specc.export` wrote.

    Attributes:
        directory: the SavedModel directory.
        model: the spec's name.
        checkpoint: the checkpoint prefix every variable came from (None: freshly initialised).
        variables: how many variables the SavedModel holds.
        graph: the SavedModel's tags, the training flags fed false, each signature's inputs and
            outputs (tensor name, dtype, shape) and the frozen GraphDef's file name (or None).
    """

    directory: str
    model: str
    checkpoint: str | None
    variables: int
    graph: dict

    def to_json(self) -> dict:
        return {"model": self.model, "checkpoint": self.checkpoint, "variables": self.variables, **self.graph}

