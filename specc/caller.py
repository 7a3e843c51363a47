"""Where `specc.apply` builds a spec: a caller's graph, scopes and tensors, as plain data for the planner.

The emitter reads them from TensorFlow (specc.emit.tf1.caller_graph); everything decided
from them (names, reuse, whether the given tensors fit the spec's inputs) is decided here and
in the planner, without TensorFlow.
"""

from __future__ import annotations

import difflib
from dataclasses import field

from .errors import SpecError
from .layers import TensorInfo
from .record import record
from .spec import Spec

AUTO_REUSE = "auto"


@record
class GivenTensor:
    """A tensor given for an input: its static shape (None: unknown rank) and dtype."""

    name: str
    shape: tuple[int | None, ...] | None
    dtype: str

    def __str__(self) -> str:
        return _describe(self.shape, self.dtype)


@record
class GraphVariable:
    """A variable the caller's graph holds already, as get_variable would find it."""

    shape: tuple[int | None, ...] | None
    dtype: str
    trainable: bool

    def __str__(self) -> str:
        return _describe(self.shape, self.dtype)


def _describe(shape: tuple[int | None, ...] | None, dtype: str) -> str:
    return f"{dtype}[<unknown rank>]" if shape is None else str(TensorInfo(shape, dtype))


@record
class CallerGraph:
    """The caller's context at `specc.apply`.

    Attributes:
        var_scope: the current variable scope ('' at the root): variables' names start with it.
        name_scope: the current name scope ('' at the root): ops' names start with it. The two
            differ as soon as a variable scope is entered twice (`model` and `model_1/`).
        reuse: the variable scope's reuse: False, True or AUTO_REUSE.
        names_in_use: the graph's namespace (`Graph._names_in_use`: lower-cased name -> count),
            so that the planner uniquifies names exactly as TensorFlow will.
        variables: the variables the graph holds already, by full name.
        given: the tensors given for the spec's inputs.
    """

    var_scope: str
    name_scope: str
    reuse: bool | str
    variables: dict[str, GraphVariable]
    given: tuple[GivenTensor, ...]
    names_in_use: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def given_names(self) -> frozenset[str]:
        return frozenset(t.name for t in self.given)


def check_inputs(spec: Spec, caller: CallerGraph) -> None:
    """The given tensors are the spec's inputs: nothing else given, each of the spec's dtype and of a
    shape that has every size the spec fixes (check_missing says which must be given).

    Raises:
        SpecError: located at the spec's input (or its `inputs:` for a name it does not have).
    """
    declared = {i.name: i for i in spec.inputs}
    doc = spec.document
    for t in caller.given:
        if t.name not in declared:
            hint = difflib.get_close_matches(t.name, list(declared), n=1)
            fix = f"did you mean '{hint[0]}'?" if hint else f"its inputs: {', '.join(declared)}"
            raise doc.error(f"specc.apply: a tensor is given for '{t.name}', but the spec has no such input; {fix}",
                            ("inputs",), at_key=True)
    given = {t.name: t for t in caller.given}
    for name, inp in declared.items():
        want = TensorInfo(inp.shape, inp.dtype)
        t = given.get(name)
        if t is None:
            continue
        if t.dtype != inp.dtype:
            raise _at(spec, name, f"specc.apply: input '{name}' is {want}, but the tensor given is {t}; cast it "
                                  f"(tf.cast(t, tf.{inp.dtype})) or change the input's dtype")
        if not _fits(t.shape, inp.shape):
            sizes = "[" + ", ".join("None" if d is None else str(d) for d in inp.shape) + "]"
            raise _at(spec, name, f"specc.apply: input '{name}' is {want}, but the tensor given is {t}; every size "
                                  f"the spec fixes must be known and equal (tf.ensure_shape(t, {sizes}) asserts it "
                                  "and gives the tensor that static shape)")


def check_missing(spec: Spec, caller: CallerGraph, read: set[str]) -> None:
    """Every input a layer or an output reads (`read`, inputs_read) is given a tensor unless it has a
    `default`; an input nothing reads (the labels only `train:` reads) may be left out.

    Raises:
        SpecError: located at the input.
    """
    given = caller.given_names
    for inp in spec.inputs:
        if inp.name not in given and not inp.has_default and inp.name in read:
            raise _at(spec, inp.name, f"specc.apply: input '{inp.name}' ({TensorInfo(inp.shape, inp.dtype)}) has no "
                                      f"`default`, so it needs a tensor: add '{inp.name}' to `inputs`")


def inputs_read(plan) -> set[str]:
    """The names of the plan's inputs that a layer or an output reads."""
    names = {i.name for i in plan.inputs}
    read = {key for layer in plan.walk() for key in layer.inputs} | {o.key for o in plan.outputs}
    return names & read


def _fits(shape: tuple[int | None, ...] | None, declared: tuple[int | None, ...]) -> bool:
    if shape is None or len(shape) != len(declared):
        return False
    return all(d is None or d == s for s, d in zip(shape, declared))


def _at(spec: Spec, name: str, message: str) -> SpecError:
    return spec.document.error(message, ("inputs", name), at_key=True)
