"""The Python API: the pipeline's stages, callable one by one or all at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import load as _load
from .compat import CheckpointMatch
from .compose import compose
from .diff import Diff, diff as _diff
from .errors import MappingError
from .expand import expand
from .interpolate import interpolate
from .mapping import parse_rules
from .plan import Plan
from .planner import DEFAULT_PLAN_LIMITS, PlanLimits, plan as _plan
from .spec import Spec, from_document
from .training import check_train
from .validate import validate

if TYPE_CHECKING:  # TensorFlow stays out of the import graph until build() runs
    from .emit.tf1 import Model
    from .overrides import Override


def load(path: str | Path, limits: _load.Limits = _load.DEFAULT_LIMITS, overrides: Sequence[Override] = ()) -> Spec:
    """Load, compose (`base:`, `include:`, `overrides`), interpolate, validate and expand a spec file.

    Raises:
        SpecError: anything wrong with the file, located.
    """
    with _load.paused_gc():
        return parse(_load.load(path, limits), limits, overrides)


def loads(text: str | bytes, name: str = "<string>", limits: _load.Limits = _load.DEFAULT_LIMITS,
          overrides: Sequence[Override] = ()) -> Spec:
    """Like `load`, from text."""
    with _load.paused_gc():
        return parse(_load.loads(text, name, limits), limits, overrides)


def parse(doc: _load.Document, limits: _load.Limits = _load.DEFAULT_LIMITS, overrides: Sequence[Override] = ()) -> Spec:
    """A loaded Document -> Spec (compose, interpolate, validate, expand, convert)."""
    return from_document(resolved(doc, limits, overrides))


def resolve(path: str | Path, limits: _load.Limits = _load.DEFAULT_LIMITS,
            overrides: Sequence[Override] = ()) -> _load.Document:
    """A spec file, fully expanded: templates instantiated, repeats unrolled, defaults applied, vars substituted.

    Returns:
        A Document whose `data` is a plain spec (no templates, repeats or defaults)
        that builds the same graph, and whose every node is located in the source.

    Raises:
        SpecError: anything wrong with the file up to and including expansion, located.
    """
    return resolved(_load.load(path, limits), limits, overrides)


def resolves(text: str | bytes, name: str = "<string>", limits: _load.Limits = _load.DEFAULT_LIMITS,
             overrides: Sequence[Override] = ()) -> _load.Document:
    """Like `resolve`, from text."""
    return resolved(_load.loads(text, name, limits), limits, overrides)


def resolved(doc: _load.Document, limits: _load.Limits = _load.DEFAULT_LIMITS,
             overrides: Sequence[Override] = ()) -> _load.Document:
    """A loaded Document -> the expanded Document (compose, interpolate, validate as written, expand).

    Expansion checks each piece it makes against the schema where that piece is
    written (specc.expand), so the expanded spec is valid without a second pass.
    """
    doc = interpolate(compose(doc, limits, overrides))
    validate(doc)
    return expand(doc, limits.max_layers)


def plan(spec: Spec | str | Path, limits: PlanLimits = DEFAULT_PLAN_LIMITS, overrides: Sequence[Override] = ()) -> Plan:
    """Plan a spec (or a spec file, with `overrides`) without TensorFlow, within the parameter and layer budgets.

    A `train:` section is checked against the plan too (its output, labels and data).
    """
    with _load.paused_gc():
        if not isinstance(spec, Spec):  # one layer budget for expansion and planning
            spec = load(spec, replace(_load.DEFAULT_LIMITS, max_layers=limits.max_layers), overrides)
        the_plan = _plan(spec, limits)
        check_train(spec, the_plan)
        return the_plan


def build(spec: Spec | Plan | str | Path, verbose: bool = False, init_from: str | Path | None = None,
          mapping: Sequence[str] = ()) -> "Model":
    """Build the TF1 graph of a spec, a plan or a spec file, verified against the plan.

    Args:
        init_from: a checkpoint (prefix or directory): the variables it holds initialise from it
            (`tf.compat.v1.train.init_from_checkpoint`), the others keep their initializers.
        mapping: `--map` rules renaming the checkpoint's names to the model's (specc.mapping).

    Returns:
        A Model with `.graph`, `.inputs`, `.outputs`, `.variables` and `.report`; with
        `init_from`, `.init_from` says which variables restore and which are fresh.

    Raises:
        CheckpointError: a bad rule or no checkpoint; IncompatibleCheckpoint: a shape or dtype differs.
    """
    from .emit.tf1 import emit
    from .report import report

    rules = parse_rules(mapping)  # a bad rule fails before TensorFlow is imported
    if rules and init_from is None:
        raise MappingError("mapping renames a checkpoint's variables: it needs init_from")
    the_plan = spec if isinstance(spec, Plan) else plan(spec)
    model = emit(the_plan, verbose=verbose)
    model.report = report(the_plan)
    if init_from is not None:
        from .emit.checkpoint import init_from as _init_from

        model.init_from = _init_from(model, init_from, rules)
    return model


def diff(old: Plan | Spec | str | Path, new: Plan | Spec | str | Path, mapping: Sequence[str] = ()) -> Diff:
    """How two specs' variables differ, and whether a checkpoint of `old` restores into `new`. No TensorFlow."""
    return _diff(old if isinstance(old, Plan) else plan(old), new if isinstance(new, Plan) else plan(new), mapping)


def check(spec: Plan | Spec | str | Path, checkpoint: str | Path, mapping: Sequence[str] = ()) -> CheckpointMatch:
    """Compare a spec's variables with a checkpoint's: `.compatible`, and in `.comparison` what
    restores, what is missing, unexpected or of another shape or dtype.

    Raises:
        CheckpointError: a bad rule, or no readable checkpoint at `checkpoint`.
    """
    from .emit.checkpoint import match

    rules = parse_rules(mapping)
    return match(spec if isinstance(spec, Plan) else plan(spec), checkpoint, rules)
