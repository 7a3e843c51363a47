"""The Python API: the pipeline's stages, callable one by one or all at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import load as _load
from .interpolate import interpolate
from .plan import Plan
from .planner import DEFAULT_PLAN_LIMITS, PlanLimits, plan as _plan
from .spec import Spec, from_document
from .validate import validate

if TYPE_CHECKING:  # TensorFlow stays out of the import graph until build() runs
    from .emit.tf1 import Model


def load(path: str | Path, limits: _load.Limits = _load.DEFAULT_LIMITS) -> Spec:
    """Load, interpolate and validate a spec file.

    Raises:
        SpecError: anything wrong with the file, located.
    """
    return parse(_load.load(path, limits))


def loads(text: str | bytes, name: str = "<string>") -> Spec:
    """Like `load`, from text."""
    return parse(_load.loads(text, name))


def parse(doc: _load.Document) -> Spec:
    """A loaded Document -> Spec (interpolate, validate, convert)."""
    doc = interpolate(doc)
    validate(doc)
    return from_document(doc)


def plan(spec: Spec | str | Path, limits: PlanLimits = DEFAULT_PLAN_LIMITS) -> Plan:
    """Plan a spec (or a spec file) without TensorFlow, within the parameter and layer budgets."""
    return _plan(spec if isinstance(spec, Spec) else load(spec), limits)


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
