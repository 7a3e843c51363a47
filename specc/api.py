"""The Python API: the pipeline's stages, callable one by one or all at once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .emit.emitters import DEFAULT_EMITTER, emitter
from .errors import MappingError
from .limits import DEFAULT_LIMITS, DEFAULT_PLAN_LIMITS, Limits, PlanLimits

# Each function imports the stages it runs: `import specc` (and `specc --help`) stays fast, and
# TensorFlow stays out of the import graph until build() runs.
if TYPE_CHECKING:
    from .checkpoints.diff import Diff
    from .checkpoints.restore import CheckpointMatch
    from .emit.tf1 import Applied, Model
    from .overrides import Override
    from .plans import Plan
    from .read import Document
    from .serving.signatures import Export
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
    from .validate import json_text, validate

    doc = compose(doc, limits, overrides)
    text = json_text(doc.data)
    # Without a `${` anywhere, interpolation leaves every value as it is: validation reads the same text.
    doc = interpolate(doc, limits, text)
    validate(doc, None if "${" in text else text)
    return expand(doc, limits.max_layers, limits.max_depth)


def plan(spec: "Spec | str | Path", limits: PlanLimits = DEFAULT_PLAN_LIMITS, overrides: Sequence[Override] = ()) -> "Plan":
    """Plan a spec (or a spec file, with `overrides`) without TensorFlow, within the parameter and layer budgets.

    A `train:` section is checked against the plan too (its output, labels and data).
    """
    from . import read
    from .experiments.training import check_train
    from .placement import place
    from .planner import plan as _plan
    from .spec import Spec

    with read.paused_gc():
        if not isinstance(spec, Spec):  # one layer budget for expansion and planning
            spec = load(spec, replace(DEFAULT_LIMITS, max_layers=limits.max_layers), overrides)
        the_plan = place(spec, _plan(spec, limits))
        check_train(spec, the_plan)
        return the_plan


def build(spec: "Spec | Plan | str | Path", verbose: bool = False, init_from: str | Path | None = None,
          mapping: Sequence[str] = (), emit: str = DEFAULT_EMITTER) -> "Model":
    """Build the TF1 graph of a spec, a plan or a spec file, verified against the plan.

    Args:
        emit: "python" builds layer by layer with tf.compat.v1 (specc.emit.tf1); "stamp" stamps
            each layer's cached stencil and imports the graph at once (specc.emit.stamp), the
            same graph node for node, falling back to "python" for a model it cannot stamp.
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
    from .plans import Plan
    from .report import report

    _emit = emitter(emit)
    rules = parse_rules(mapping)  # a bad rule fails before TensorFlow is imported
    if rules and init_from is None:
        raise MappingError("mapping renames a checkpoint's variables: it needs init_from")
    the_plan = spec if isinstance(spec, Plan) else plan(spec)
    model = _emit(the_plan, verbose=verbose)
    model.report = report(the_plan)
    if init_from is not None:
        from .emit.checkpoint import init_from as _init_from

        model.init_from = _init_from(model, init_from, rules)
    return model


def apply(spec: "Spec | Plan | str | Path", inputs: Mapping[str, Any], *,
          overrides: Sequence["Override | str"] = ()) -> "Applied":
    """Build a spec into the current default graph, under the caller's variable scope and name
    scope, reading `inputs`; like a `tf.compat.v1.make_template` or a Sonnet module call.

    Variables are named under the current variable scope, ops under the current name scope
    (they differ once a scope is re-entered: variables `model/...`, ops `model_1/...`). Called
    again under `variable_scope(..., reuse=True)` (or `reuse=tf.compat.v1.AUTO_REUSE`) it creates
    no new variables and shares the earlier application's. Every name is planned first and the
    built variables and ops are checked against the plan, as `build` does. The graph's random seed
    is the caller's (the spec's `seed` is not set on a graph that is not specc's).

    Args:
        spec: a spec file, or a Spec (`load`) or Plan (`plan`) of one.
        inputs: a tensor of the default graph for each of the spec's inputs, by input name; an input
            with a `default` may be left out (it gets a placeholder_with_default), and so may one that no
            layer or output reads (the labels only `train:` reads: nothing is made for it).
        overrides: overrides as `--set` takes them (`"vars.units=8"`) or parsed (specc.overrides.parse),
            with a spec file only.

    Returns:
        The outputs by name, as a dict (specc.emit.tf1.Applied) that also holds `.plan`,
        `.variables` (those it created or reused), `.created` and `.report`.

    Raises:
        SpecError: a spec mistake, or inputs that do not fit the spec (missing, unknown, another
            dtype or shape), or variables the caller's reuse setting cannot give (located at the
            input or the layer).
        TypeError, ValueError: an input that is not a tensor of the default graph; eager execution.
    """
    from . import read
    from .emit.tf1 import apply as _apply, caller_graph
    from .emit.tfimport import tensorflow
    from .overrides import parse as parse_override
    from .caller import check_inputs, check_missing, inputs_read
    from .planner import plan as _plan
    from .plans import Plan
    from .report import report
    from .spec import Spec

    if isinstance(spec, (Spec, Plan)) and overrides:
        raise TypeError("specc.apply: overrides apply when a spec file is loaded; give the file's path")
    with read.paused_gc():
        overrides = [parse_override(o) if isinstance(o, str) else o for o in overrides]
        loaded = spec.spec if isinstance(spec, Plan) else spec if isinstance(spec, Spec) else load(spec, overrides=overrides)
    if loaded is None:
        raise TypeError("specc.apply: this Plan does not hold the spec it was planned from; give the spec itself")
    tf = tensorflow()
    inputs = dict(inputs)
    caller = caller_graph(tf, inputs)
    check_inputs(loaded, caller)  # the tensors given, before planning with them
    with read.paused_gc():
        placed = _plan(loaded, DEFAULT_PLAN_LIMITS, caller)
    check_missing(loaded, caller, inputs_read(placed))  # the inputs read, once planning has found them
    applied = _apply(placed, inputs, tf)
    applied.report = report(placed)
    return applied


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


def export(spec: "Plan | Spec | str | Path", output: str | Path, *, checkpoint: str | Path | None = None,
           signatures: Mapping[str, Sequence[str]] | None = None, frozen: bool = False, force: bool = False,
           overrides: Sequence[Override] = (), mapping: Sequence[str] = (),
           limits: PlanLimits = DEFAULT_PLAN_LIMITS, verbose: bool = False, emit: str = DEFAULT_EMITTER) -> "Export":
    """Export a spec as a TF1 SavedModel (tag `serve`) for serving, atomically, into `output`.

    The `serving_default` signature returns every spec output under its name and takes the inputs
    those need (never the labels of `train:`; inputs with a default keep it; the inputs dropout and
    batch_norm read as `training` are fed false). export.json beside it names every tensor.

    Args:
        checkpoint: a checkpoint prefix, or a directory with a `checkpoint` file (a `specc train`
            run directory): it must hold every variable. None: the variables are freshly initialised
            (a UserWarning says so).
        signatures: more signatures, name -> outputs (spec outputs or layer paths); one named
            `serving_default` replaces the default one.
        frozen: also write frozen_graph.pb, a GraphDef with the variables folded into constants.
        force: replace an output directory specc did not write.
        mapping: `--map` rules renaming the checkpoint's names to the model's.
        emit: the emitter that builds the serving graph, as for `build`.

    Returns:
        An Export: the directory, the checkpoint, and export.json's contents.

    Raises:
        SpecError: the spec; SignatureError: a signature naming no output; OutputRefused: `output`
        must not be clobbered; CheckpointError: no checkpoint; IncompatibleCheckpoint: it does not
        hold every variable with its shape and dtype.
    """
    import warnings

    from .builddir import check_target, staged, write_json
    from .checkpoints.mapping import parse_rules
    from .experiments.runs import recorded_overrides
    from .plans import Plan
    from .serving.signatures import EXPORT_FILE, Export, SignatureRequest, requests

    emitter(emit)  # an unknown emitter fails before anything is read
    rules = parse_rules(mapping)
    if rules and checkpoint is None:
        raise MappingError("mapping renames a checkpoint's variables: it needs a checkpoint")
    the_plan = spec if isinstance(spec, Plan) else plan(spec, limits, overrides)
    asked = requests(the_plan, [SignatureRequest(name, tuple(outs)) for name, outs in (signatures or {}).items()])
    directory = Path(output)
    check_target(directory, the_plan.file, force, "export")
    from .emit.checkpoint import complete_match
    from .emit.export import write_saved_model

    found = None
    if checkpoint is not None:
        # A run directory, or a checkpoint prefix in one, says which overrides it was trained with.
        run = Path(checkpoint) if Path(checkpoint).is_dir() else Path(checkpoint).parent
        ran_with, given = recorded_overrides(run), tuple(o.text for o in overrides)
        hint = (f"(the run was made with {' '.join('--set ' + t for t in ran_with) or 'no --set'}; "
                "export with the same)" if ran_with is not None and ran_with != given else "")
        found = complete_match(the_plan, checkpoint, rules, hint)
    else:
        warnings.warn(f"no checkpoint: {the_plan.name}'s variables are exported freshly initialised "
                      f"(seed {the_plan.seed})", UserWarning, stacklevel=2)
    with staged(directory, the_plan.file, kind="export") as tmp:
        graph = write_saved_model(the_plan, tmp, asked, found, frozen, verbose, emit)
        result = Export(str(directory), the_plan.name, found.checkpoint if found else None,
                        len(the_plan.variables), graph)
        write_json(tmp / EXPORT_FILE, {"spec": str(Path(the_plan.file).resolve()),
                                       "overrides": [o.text for o in overrides], **result.to_json()})
    return result
