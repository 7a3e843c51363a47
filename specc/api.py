"""The Python API: the pipeline's stages, callable one by one or all at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import load as _load
from .expand import expand
from .interpolate import interpolate
from .plan import Plan
from .planner import DEFAULT_PLAN_LIMITS, PlanLimits, plan as _plan
from .spec import Spec, from_document
from .validate import validate

if TYPE_CHECKING:  # TensorFlow stays out of the import graph until build() runs
    from .emit.tf1 import Model


def load(path: str | Path, limits: _load.Limits = _load.DEFAULT_LIMITS) -> Spec:
    """Load, interpolate, validate and expand a spec file.

    Raises:
        SpecError: anything wrong with the file, located.
    """
    return parse(_load.load(path, limits), limits)


def loads(text: str | bytes, name: str = "<string>", limits: _load.Limits = _load.DEFAULT_LIMITS) -> Spec:
    """Like `load`, from text."""
    return parse(_load.loads(text, name, limits), limits)


def parse(doc: _load.Document, limits: _load.Limits = _load.DEFAULT_LIMITS) -> Spec:
    """A loaded Document -> Spec (interpolate, validate, expand, convert)."""
    return from_document(resolved(doc, limits))


def resolve(path: str | Path, limits: _load.Limits = _load.DEFAULT_LIMITS) -> _load.Document:
    """A spec file, fully expanded: templates instantiated, repeats unrolled, defaults applied, vars substituted.

    Returns:
        A Document whose `data` is a plain spec (no templates, repeats or defaults)
        that builds the same graph, and whose every node is located in the source.

    Raises:
        SpecError: anything wrong with the file up to and including expansion, located.
    """
    return resolved(_load.load(path, limits), limits)


def resolves(text: str | bytes, name: str = "<string>", limits: _load.Limits = _load.DEFAULT_LIMITS) -> _load.Document:
    """Like `resolve`, from text."""
    return resolved(_load.loads(text, name, limits), limits)


def resolved(doc: _load.Document, limits: _load.Limits = _load.DEFAULT_LIMITS) -> _load.Document:
    """A loaded Document -> the expanded Document (interpolate, validate as written, expand).

    Expansion checks each piece it makes against the schema where that piece is
    written (specc.expand), so the expanded spec is valid without a second pass.
    """
    doc = interpolate(doc)
    validate(doc)
    return expand(doc, limits.max_layers)


def plan(spec: Spec | str | Path, limits: PlanLimits = DEFAULT_PLAN_LIMITS) -> Plan:
    """Plan a spec (or a spec file) without TensorFlow, within the parameter and layer budgets."""
    if not isinstance(spec, Spec):  # one layer budget for expansion and planning
        spec = load(spec, replace(_load.DEFAULT_LIMITS, max_layers=limits.max_layers))
    return _plan(spec, limits)


def build(spec: Spec | Plan | str | Path, verbose: bool = False) -> "Model":
    """Build the TF1 graph of a spec, a plan or a spec file, verified against the plan.

    Returns:
        A Model with `.graph`, `.inputs`, `.outputs`, `.variables` and `.report`.
    """
    from .emit.tf1 import emit
    from .report import report

    the_plan = spec if isinstance(spec, Plan) else plan(spec)
    model = emit(the_plan, verbose=verbose)
    model.report = report(the_plan)
    return model
