"""The Python API: the pipeline's stages, callable one by one or all at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import MappingError
from .limits import DEFAULT_LIMITS, DEFAULT_PLAN_LIMITS, Limits, PlanLimits

# Each function imports the stages it runs: `import specc` (and `specc --help`) stays fast, and
# TensorFlow stays out of the import graph until build() runs.
if TYPE_CHECKING:
    from .checkpoints.diff import Diff
    from .checkpoints.restore import CheckpointMatch
    from .emit.tf1 import Model
    from .overrides import Override
    from .plans import Plan
    from .read import Document
    from .spec import Spec


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS, overrides: Sequence[Override] = ()) -> "Spec":
    """Load, compose (`base:`, `include:`, `overrides`), interpolate, validate and expand a spec file.

    Raises:
        SpecError: anything wrong with the file, located.
    """
    from . import read

    with read.paused_gc():
        return parse(read.load(path, limits), limits, overrides)


def loads(text: str | bytes, name: str = "<string>", limits: Limits = DEFAULT_LIMITS,
          overrides: Sequence[Override] = ()) -> "Spec":
    """Like `load`, from text."""
    from . import read

    with read.paused_gc():
        return parse(read.loads(text, name, limits), limits, overrides)


def parse(doc: "Document", limits: Limits = DEFAULT_LIMITS, overrides: Sequence[Override] = ()) -> "Spec":
    """A loaded Document -> Spec (compose, interpolate, validate, expand, convert)."""
    from .spec import from_document

    return from_document(resolved(doc, limits, overrides))


def resolve(path: str | Path, limits: Limits = DEFAULT_LIMITS,
            overrides: Sequence[Override] = ()) -> "Document":
    """A spec file, fully expanded: templates instantiated, repeats unrolled, defaults applied, vars substituted.

    Returns:
        A Document whose `data` is a plain spec (no templates, repeats or defaults)
        that builds the same graph, and whose every node is located in the source.

    Raises:
        SpecError: anything wrong with the file up to and including expansion, located.
    """
    from . import read

    return resolved(read.load(path, limits), limits, overrides)


def resolves(text: str | bytes, name: str = "<string>", limits: Limits = DEFAULT_LIMITS,
             overrides: Sequence[Override] = ()) -> "Document":
    """Like `resolve`, from text."""
    from . import read

    return resolved(read.loads(text, name, limits), limits, overrides)


def resolved(doc: "Document", limits: Limits = DEFAULT_LIMITS,
             overrides: Sequence[Override] = ()) -> "Document":
    """A loaded Document -> the expanded Document (compose, interpolate, validate as written, expand).

    Expansion checks each piece it makes against the schema where that piece is
    written (specc.expand), so the expanded spec is valid without a second pass.
    """
    from .compose import compose
    from .expand import expand
    from .interpolate import interpolate
    from .validate import validate

    doc = interpolate(compose(doc, limits, overrides))
    validate(doc)
    return expand(doc, limits.max_layers)


def plan(spec: "Spec | str | Path", limits: PlanLimits = DEFAULT_PLAN_LIMITS, overrides: Sequence[Override] = ()) -> "Plan":
    """Plan a spec (or a spec file, with `overrides`) without TensorFlow, within the parameter and layer budgets.

    A `train:` section is checked against the plan too (its output, labels and data).
    """
    from . import read
    from .experiments.training import check_train
    from .planner import plan as _plan
    from .spec import Spec

    with read.paused_gc():
        if not isinstance(spec, Spec):  # one layer budget for expansion and planning
            spec = load(spec, replace(DEFAULT_LIMITS, max_layers=limits.max_layers), overrides)
        the_plan = _plan(spec, limits)
        check_train(spec, the_plan)
        return the_plan


def build(spec: "Spec | Plan | str | Path", verbose: bool = False, init_from: str | Path | None = None,
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
    from .checkpoints.mapping import parse_rules
    from .emit.tf1 import emit
    from .plans import Plan
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


def diff(old: "Plan | Spec | str | Path", new: "Plan | Spec | str | Path", mapping: Sequence[str] = ()) -> "Diff":
    """How two specs' variables differ, and whether a checkpoint of `old` restores into `new`. No TensorFlow."""
    from .checkpoints.diff import diff as _diff
    from .plans import Plan

    return _diff(old if isinstance(old, Plan) else plan(old), new if isinstance(new, Plan) else plan(new), mapping)


def check(spec: "Plan | Spec | str | Path", checkpoint: str | Path, mapping: Sequence[str] = ()) -> "CheckpointMatch":
    """Compare a spec's variables with a checkpoint's: `.compatible`, and in `.comparison` what
    restores, what is missing, unexpected or of another shape or dtype.

    Raises:
        CheckpointError: a bad rule, or no readable checkpoint at `checkpoint`.
    """
    from .checkpoints.mapping import parse_rules
    from .emit.checkpoint import match
    from .plans import Plan

    rules = parse_rules(mapping)
    return match(spec if isinstance(spec, Plan) else plan(spec), checkpoint, rules)
