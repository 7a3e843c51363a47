"""The `specc` command: thin wrappers over the API that turn errors into exit codes.

Exit codes: 0 success, 1 the spec is wrong, 2 the command line is wrong (Click's
usage errors, a spec path that does not exist, and an output directory that must not be clobbered), 3 an internal
failure (the traceback only with --debug), 4 a checkpoint does not restore into the
spec (`diff`, `check`, `build --init-from`, `export`).
"""

# No `from __future__ import annotations`: Typer would evaluate every option's annotation from its
# text (compiling each one) whenever the command line is built, in every process.
import gc
import json
import os
import sys
import traceback
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator, Optional

from typing import TYPE_CHECKING

import typer

from ..emit.emitters import DEFAULT_EMITTER
from ..errors import CheckpointError, MappingError, OutputRefused, SpecError, SpecErrors, UsageError
from ..limits import DEFAULT_LIMITS, DEFAULT_PLAN_LIMITS, PlanLimits

if TYPE_CHECKING:  # each command imports what it needs, so `specc --help` starts fast
    from rich.console import Console

EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3
EXIT_INCOMPATIBLE = 4  # a checkpoint does not restore into the spec

app = typer.Typer(
    name="specc",
    help="Compile declarative model specs into TensorFlow 1 graphs with exact scopes and explicit sharing.",
    no_args_is_help=True,
    # Click hands the help option's names down to every command's context: `specc build -h` too.
    context_settings={"help_option_names": ["-h", "--help"]},
    # --install-completion and --show-completion; Typer imports its completion code only when they are used.
    add_completion=True,
    pretty_exceptions_enable=False,
    # Click's own help and usage errors: rich's formatter imports markdown-it and rich's traceback
    # machinery, a third of a second before `specc --help` could print anything.
    rich_markup_mode=None,
)


class Command(typer.core.TyperCommand):
    """A command whose usage line reads `specc build [OPTIONS] FILE`: Typer's own puts a required argument in
    braces (`{FILE}`), which reads like a set of choices."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]


class Format(str, Enum):
    table = "table"
    json = "json"


class Emitter(str, Enum):
    python = "python"
    stamp = "stamp"


# A path that does not exist is a command-line mistake (exit 2, Click's own message naming it); what the
# file holds, and the files it names (`base:`, `include:`), are the spec's (exit 1).
_EXISTING = dict(exists=True, dir_okay=False, show_default=False)
SpecFile = Annotated[Path, typer.Argument(metavar="FILE", help="The spec file (YAML).", **_EXISTING)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", metavar="table|json", help="Output format.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and requested data.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print more, including TensorFlow's own log.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of internal errors.")]
MaxParamsOpt = Annotated[int, typer.Option("--max-params", min=1, metavar="N", help="Refuse models with more parameters.")]
MaxLayersOpt = Annotated[int, typer.Option("--max-layers", min=1, metavar="N", help="Refuse models with more layers (after expansion).")]
MaxVariantsOpt = Annotated[int, typer.Option("--max-variants", min=1, metavar="N", help="Refuse sweep grids with more variants.")]
PsTasksOpt = Annotated[Optional[int], typer.Option(
    "--ps-tasks", min=0, metavar="N", show_default=False,
    help="Place the variables on N parameter server tasks (/job:ps/task:i, round-robin); sets placement.ps_tasks.")]
WorkerDeviceOpt = Annotated[Optional[str], typer.Option(
    "--worker-device", metavar="DEVICE", show_default=False,
    help="The device of the ops, e.g. /job:worker/task:1; sets placement.worker_device.")]
EmitOpt = Annotated[Emitter, typer.Option(
    "--emit", metavar="python|stamp",
    help="stamp: stamp cached per-layer stencils and import the graph at once; python: build layer by "
         "layer with tf.compat.v1, the reference (the same graph).")]
NoCacheOpt = Annotated[bool, typer.Option(
    "--no-cache", help="Build even when the output directory holds an unchanged build of the same spec.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat lint warnings as errors (exit 1).")]
MapOpt = Annotated[Optional[list[str]], typer.Option(
    "--map", metavar="OLD=NEW", help="Rename saved variables: OLD=NEW (a scope prefix, e.g. old/=new/) or "
                  "'re:PATTERN=REPLACEMENT'; repeatable, tried in order, the first match wins.")]


def placement_sets(sets: Optional[list], ps_tasks: Optional[int], worker_device: Optional[str]) -> list:
    """The --set overrides, then --ps-tasks and --worker-device as the `placement:` keys they set."""
    from ..overrides import Override, parse_path

    out = list(sets or ())
    for target, value, option in (("placement.ps_tasks", ps_tasks, "--ps-tasks"),
                                  ("placement.worker_device", worker_device, "--worker-device")):
        if value is not None:
            out.append(Override(target, parse_path(target), value, option))
    return out


def _parse_sets(values: Optional[list[str]]) -> list:
    from ..errors import OverrideSyntaxError
    from ..overrides import parse

    try:
        return [parse(v) for v in values or ()]
    except OverrideSyntaxError as e:  # a malformed --set is a usage error (exit 2)
        raise typer.BadParameter(str(e)) from None


SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", metavar="PATH=VALUE", callback=_parse_sets,
    help="Override a value of the spec: vars.hidden=128, layers.encoder.share=false, layers[2].units=3, seed=1 "
         "(VALUE is YAML); repeatable, applied in order. See docs/experiments.md.")]


@contextmanager
def _guard(debug: bool, fmt: Format = Format.table) -> Iterator[None]:
    """The one place that turns exceptions into messages and exit codes."""
    err = _Stderr()
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter):  # a usage error found in a command: exit 2
        raise
    except SpecError as e:
        errors = e.errors if isinstance(e, SpecErrors) else [e]
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "errors": [_error_json(x) for x in errors]}, indent=2))
        else:
            for x in errors:
                err.print(x.render(), markup=False)
        raise typer.Exit(EXIT_SPEC) from None
    except UsageError as e:  # an output that must not be clobbered, a --signature naming no output
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "error": str(e), "kind": e.kind}, indent=2))
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
    except CheckpointError as e:  # a --map rule, a checkpoint path (2), a checkpoint that does not fit (4)
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "error": str(e), "kind": e.kind}, indent=2))
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        raise typer.Exit(130) from None
    except Exception as e:  # the outermost boundary: anything else is our bug
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "kind": "internal"}, indent=2))
        if debug:
            err.print(traceback.format_exc(), markup=False)
        err.print(f"internal error: {type(e).__name__}: {e}", markup=False)
        if not debug:
            err.print("rerun with --debug for the traceback, and please report it", markup=False)
        raise typer.Exit(EXIT_INTERNAL) from None


def _collector_off() -> None:
    """For a command that reads and plans a spec, prints and ends (without TensorFlow): the cyclic
    collector stays off. Reading and planning pause it (read.paused_gc); turned on again, its first
    pass would walk every object of the plan, about a third of what `validate` costs at 10,000
    layers, for a process that ends a moment later (main() ends it with os._exit)."""
    gc.disable()


class _Stderr:
    """Rich's console on stderr, started on the first print: a command that succeeds prints nothing there,
    and importing rich is a tenth of a small command's time."""

    def print(self, *args, **options) -> None:
        _console(stderr=True).print(*args, **options)


def _error_json(e: SpecError) -> dict:
    w = e.where
    from ..errors import format_path

    out = {"file": w.file, "line": w.line, "column": w.col, "path": format_path(w.path), "message": e.message}
    return {**out, "expanded_from": list(w.via)} if w.via else out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _console(**options) -> "Console":
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, **options)


def _out(quiet: bool = False) -> "Console":
    # Piped output is read by tools and people alike: give tables room instead of rich's 80 columns.
    width = None if sys.stdout.isatty() else 160
    return _console(quiet=quiet, width=width)


@app.command(cls=Command)
def validate(file: SpecFile, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
             verbose: VerboseOpt = False, debug: DebugOpt = False,
             max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
             max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, strict: StrictOpt = False,
             max_variants: MaxVariantsOpt = DEFAULT_LIMITS.max_variants, overrides: SetOpt = None) -> None:
    """Check a spec (schema, references, scopes, sharing, shapes) without TensorFlow; lint warnings follow.
    A sweep's file: every variant is planned, and each one that fails is reported."""
    _collector_off()
    with _guard(debug, fmt):
        from .. import api, compose
        from ..lint import check, render_table, summary
        from ..read import paused_gc

        limits = PlanLimits(max_params, max_layers)
        read_limits = replace(DEFAULT_LIMITS, max_layers=max_layers, max_variants=max_variants)
        with paused_gc():  # the file is read once, for the sweep and for the spec
            doc = compose.load(file, read_limits, overrides or ())
            variants = 0
            if isinstance(doc.data, dict) and ("sweep" in doc.data or "experiment" in doc.data):
                from ..experiments import sweep  # an experiment's file only: a plain spec needs none of it

                exp = sweep.experiment_of(doc, overrides or (), read_limits)
                unplanned = sweep.plan_variants(exp, limits) if exp.axes else []
                if unplanned:
                    raise sweep.variant_errors(unplanned)
                variants = len(exp.variants) if exp.axes else 0
            spec = api.parse(doc, read_limits)  # composed already: bases merged, overrides applied
            plan = api.plan(spec, limits)
            warnings = check(spec, plan)
        planned = f", {_count(variants, 'variant')} planned" if variants else ""
        failed = strict and bool(warnings)  # --strict: a warning fails validation like an error
        layers = sum(1 for _ in plan.walk())
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": not failed, "file": str(file), "model": plan.name, "inputs": len(plan.inputs),
                                   "layers": layers, "variables": len(plan.variables),
                                   "parameters": plan.parameters, **({"variants": variants} if variants else {}),
                                   "warnings": [w.to_json() for w in warnings]},
                                  indent=2))
        else:
            if not failed and not quiet:  # one plain line: no need to start rich for it
                typer.echo(f"{file}: ok ({plan.name}: {_count(len(plan.inputs), 'input')}, "
                           f"{_count(layers, 'layer')}, {_count(len(plan.variables), 'variable')}, "
                           f"{_count(plan.parameters, 'parameter')}{planned})")
            if warnings:  # on stderr, after the ok line: stdout keeps one line a script can read
                err = _console(stderr=True)
                render_table(warnings, err)
                err.print(summary(warnings, strict), markup=False)
        if failed:
            raise typer.Exit(EXIT_SPEC)


@app.command(cls=Command)
def explain(file: SpecFile,
            all_variables: Annotated[bool, typer.Option("--all", "-a", help="List every variable, not only the shared ones.")] = False,
            fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
            debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
            max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None,
            devices: Annotated[bool, typer.Option("--devices", help="Show every variable's device and the bytes "
                                                                    "each parameter server holds.")] = False,
            ps_tasks: PsTasksOpt = None, worker_device: WorkerDeviceOpt = None) -> None:
    """Show which variables are shared, by whom, and where each use's ops land. No TensorFlow."""
    _collector_off()
    with _guard(debug, fmt):
        from .. import api
        from ..report import RENDERERS, report, report_json, text_lines

        plan = api.plan(file, PlanLimits(max_params, max_layers), placement_sets(overrides, ps_tasks, worker_device))
        if devices:
            from ..report import DEVICE_RENDERERS

            DEVICE_RENDERERS[fmt.value](plan, _out(quiet))
            return
        rep = report(plan)
        if fmt is Format.json:
            typer.echo(json.dumps(report_json(rep, all_variables), indent=2))
        elif not all_variables and not rep.shared_variables:  # no table: no need to start rich
            if not quiet:
                typer.echo("\n".join(text_lines(rep)))
        else:
            RENDERERS["table"](rep, _out(quiet), all_variables)


@app.command(cls=Command)
def resolve(file: SpecFile, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
            verbose: VerboseOpt = False, debug: DebugOpt = False,
            max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None) -> None:
    """Print the spec fully expanded (templates, repeats, defaults, vars) as YAML (JSON with -f json). No TensorFlow."""
    _collector_off()
    with _guard(debug, fmt):
        from .. import api
        from ..interpolate import escape

        data = escape(api.resolve(file, replace(DEFAULT_LIMITS, max_layers=max_layers), overrides or ()).data)
        if fmt is Format.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            from ..read import dump

            typer.echo(dump(data, default_flow_style=None, width=120), nl=False)


@app.command(cls=Command)
def build(file: SpecFile,
          output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="DIR", help="The build directory.",
                                                      show_default="build/<spec name>")] = None,
          force: Annotated[bool, typer.Option("--force", help="Replace an output directory specc did not write.")] = False,
          fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
          debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
          max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers,
          init_from: Annotated[Optional[Path], typer.Option("--init-from", metavar="CKPT", help="Initialise the variables a checkpoint (prefix or directory) holds from it.")] = None,
          mapping: MapOpt = None, overrides: SetOpt = None, ps_tasks: PsTasksOpt = None,
          worker_device: WorkerDeviceOpt = None,
          emit: EmitOpt = Emitter(DEFAULT_EMITTER),
          no_cache: NoCacheOpt = False) -> None:
    """Build the TF1 graph: graph.pbtxt, model.meta, plan.json, resolved.yaml, overrides.json and TensorBoard events.

    An unchanged spec whose output directory holds its complete, unedited build is not built again: "reused"."""
    with _guard(debug, fmt):
        from .. import api
        from ..builddir import check_target, staged, write_json
        from ..checkpoints.restore import render_init_from
        from ..report import RENDERERS, report_json

        if mapping and init_from is None:
            raise MappingError("--map renames a checkpoint's variables: it needs --init-from CKPT")
        from ..experiments.runs import prepare, write_spec_files

        prepared = prepare(file, placement_sets(overrides, ps_tasks, worker_device), PlanLimits(max_params, max_layers))
        plan = prepared.plan
        directory = output or Path("build") / plan.name
        check_target(directory, str(file), force)
        from ..buildcache import build_key, file_stamp, reusable

        # The emitters make the same graph, but not byte for byte the same files: the emitter is part of the key.
        key = build_key(prepared, {"command": "build", "emit": emit.value, "init_from": file_stamp(init_from),
                                   "map": mapping or []})
        if not no_cache and reusable(directory, str(file), key):
            _print_reused(directory, plan, fmt, quiet)
            return
        from ..emit.files import write_graph_files

        model = None
        if emit is Emitter.stamp and init_from is None:  # the files alone: no tf.Graph, no TensorFlow if it can
            from ..emit import notf

            model = notf.build(plan, verbose)
        if model is None:
            model = api.build(plan, verbose=verbose, init_from=init_from, mapping=mapping or (), emit=emit.value)
        rep = model.report
        restored = {"init_from": model.init_from.to_json()} if model.init_from else {}
        if model.init_from:
            _warn(model.init_from.comparison.warnings)
        with staged(directory, str(file), key) as tmp:
            write_graph_files(model, tmp)
            write_json(tmp / "plan.json", {"plan": prepared.plan_data, "report": report_json(rep, True), **restored})
            write_spec_files(tmp, prepared)
        checked = f"plan matches graph: {len(model.variables)}/{len(plan.variables)} variables"
        emitted = {"emitter": model.emitter, **({"fallback": model.fallback} if model.fallback else {})}
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": True, "output": str(directory), "report": report_json(rep),
                                   "variables_checked": len(model.variables), **emitted,
                                   "tensorflow_imported": "tensorflow" in sys.modules, **restored}, indent=2))
        else:
            console = _out(quiet)
            RENDERERS["table"](rep, console)
            console.print(checked)
            if model.fallback:
                console.print(f"built by the python emitter: cannot stamp {model.fallback}")
            if model.init_from:
                render_init_from(model.init_from, console)
            console.print(f"wrote {directory}/ (graph.pbtxt, model.meta, plan.json, TensorBoard events)")


def _print_reused(directory: Path, plan, fmt: Format, quiet: bool) -> None:
    """What `build` says when the directory already holds this very build (no TensorFlow)."""
    from ..report import RENDERERS, report, report_json

    rep = report(plan)
    stored = json.loads((directory / "plan.json").read_text("utf-8"))
    restored = {"init_from": stored["init_from"]} if "init_from" in stored else {}
    if fmt is Format.json:
        typer.echo(json.dumps({"ok": True, "output": str(directory), "report": report_json(rep), "reused": True,
                               "tensorflow_imported": "tensorflow" in sys.modules, **restored}, indent=2))
    else:
        console = _out(quiet)
        RENDERERS["table"](rep, console)
        console.print(f"reused {directory}/: an unchanged build of this spec (--no-cache builds it again)")


@app.command(cls=Command)
def diff(old: Annotated[Path, typer.Argument(metavar="OLD", help="The spec a checkpoint was saved from.", **_EXISTING)],
         new: Annotated[Path, typer.Argument(metavar="NEW", help="The spec to restore it into.", **_EXISTING)],
         mapping: MapOpt = None, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
         verbose: VerboseOpt = False, debug: DebugOpt = False,
         max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
         max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None,
         old_overrides: Annotated[Optional[list[str]], typer.Option(
             "--set-old", metavar="PATH=VALUE", callback=_parse_sets,
             help="Like --set, for OLD (--set applies to NEW): compare a spec with a variant of itself.")] = None,
         ) -> None:
    """Compare two specs' variables: does a checkpoint of OLD restore into NEW (exit 0) or not (4)? No TensorFlow."""
    _collector_off()
    with _guard(debug, fmt):
        from .. import api
        from ..checkpoints.diff import RENDERERS as DIFF_RENDERERS, diff_json

        limits = PlanLimits(max_params, max_layers)
        result = api.diff(api.plan(old, limits, old_overrides or ()), api.plan(new, limits, overrides or ()),
                          mapping or ())
        _warn(result.comparison.warnings)
        if fmt is Format.json:
            typer.echo(json.dumps(diff_json(result), indent=2))
        else:
            DIFF_RENDERERS["table"](result, _out(quiet))
        if not result.compatible:
            raise typer.Exit(EXIT_INCOMPATIBLE)


@app.command(cls=Command)
def check(file: SpecFile,
          checkpoint: Annotated[Path, typer.Option("--checkpoint", metavar="CKPT", help="A TensorFlow checkpoint: its prefix (dir/model.ckpt-1000) or its directory.", show_default=False)],
          mapping: MapOpt = None, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
          verbose: VerboseOpt = False, debug: DebugOpt = False,
          max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
          max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None) -> None:
    """Compare a spec with a checkpoint: does every variable restore (exit 0) or not (4)? Prints the assignment map."""
    with _guard(debug, fmt):
        from .. import api
        from ..checkpoints.restore import check_json, render_check_table

        plan = api.plan(file, PlanLimits(max_params, max_layers), overrides or ())
        found = api.check(plan, checkpoint, mapping or ())
        _warn(found.comparison.warnings)
        if fmt is Format.json:
            typer.echo(json.dumps(check_json(found.comparison, plan.name, found.checkpoint, found.mapping), indent=2))
        else:
            render_check_table(found.comparison, _out(quiet), plan.name, found.checkpoint)
        if not found.compatible:
            raise typer.Exit(EXIT_INCOMPATIBLE)


def _warn(warnings) -> None:
    err = _console(stderr=True)
    for w in warnings:
        err.print(f"warning: {w}", markup=False)


@app.command(cls=Command)
def lint(file: SpecFile, strict: StrictOpt = False, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
         verbose: VerboseOpt = False, debug: DebugOpt = False,
         max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
         max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None) -> None:
    """Warn about specs that build but probably not as meant (codes: docs/lint.md). No TensorFlow."""
    _collector_off()
    with _guard(debug, fmt):
        from ..lint import lint_file, lint_json, render_table, summary

        _, warnings = lint_file(file, PlanLimits(max_params, max_layers), overrides or ())
        failed = strict and bool(warnings)
        if fmt is Format.json:
            typer.echo(json.dumps(lint_json(warnings, str(file), ok=not failed), indent=2))
        else:
            render_table(warnings, _out())  # the warnings are the data asked for: --quiet keeps them
            _out(quiet).print(f"{file}: {summary(warnings, strict)}", markup=False)
        if failed:
            raise typer.Exit(EXIT_SPEC)


class PictureFormat(str, Enum):
    dot = "dot"
    svg = "svg"
    html = "html"


@app.command(cls=Command)
def graph(file: SpecFile,
          output: Annotated[Optional[Path], typer.Option(
              "--output", "-o", metavar="FILE", show_default="dot text on stdout",
              help="Write the picture here; .dot, .svg or .html says the format.")] = None,
          picture: Annotated[Optional[PictureFormat], typer.Option(
              "--format", "-f", metavar="dot|svg|html", show_default="from the -o extension",
              help="dot, svg (needs Graphviz) or html.")] = None,
          quiet: QuietOpt = False, verbose: VerboseOpt = False, debug: DebugOpt = False,
          max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
          max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, overrides: SetOpt = None) -> None:
    """Draw the scope tree: blocks as boxes, layers with their op scopes, variables, sharing. No TensorFlow."""
    from ..picture import graph as drawing

    try:  # usage errors (exit 2) before any work: an unknown extension, SVG without Graphviz
        kind = drawing.format_for(output, picture.value if picture else None)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="'--output' / '--format'") from None
    if kind == "svg" and drawing.find_dot() is None:
        raise typer.BadParameter("SVG needs Graphviz's `dot`, which is not on PATH (apt-get install graphviz, "
                                 "brew install graphviz); write .dot or .html instead", param_hint="'--format'")
    _collector_off()
    with _guard(debug):
        from .. import api
        plan = api.plan(file, PlanLimits(max_params, max_layers), overrides or ())
        if output is not None and output.resolve() == file.resolve():
            raise OutputRefused(f"{output} is the spec itself; choose another output file")
        text = drawing.RENDERERS[kind](plan)
        if output is None:
            typer.echo(text, nl=False)
        else:
            drawing.write_atomic(output, text)
            shared = sum(1 for v in plan.variables if v.shared)
            _out(quiet).print(f"wrote {output} ({kind}: {_count(sum(1 for _ in plan.walk()), 'layer')}, "
                              f"{_count(len(plan.variables), 'variable')}, {shared} shared)", markup=False)


class SchemaFormat(str, Enum):
    json = "json"  # the only one: accepted so that `-f json` works here as on every other command


@app.command(cls=Command)
def schema(
    resolved: Annotated[bool, typer.Option("--resolved", help="The strict schema of what `specc resolve` prints, "
                                                              "instead of the one for files people write.")] = False,
    write: Annotated[bool, typer.Option("--write", help="Write both schema files instead of printing one (and, in "
                                                        "a source checkout, the docs' layer table).")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", metavar="DIR", show_default="the source checkout's schemas/",
        help="With --write: the directory to write them to.")] = None,
    fmt: Annotated[SchemaFormat, typer.Option("--format", "-f", metavar="json",
                                              help="Output format: JSON Schema is JSON.")] = SchemaFormat.json,
) -> None:
    """Print the JSON Schema of the spec format (generated from the layer registry)."""
    from .. import language

    if not write:
        typer.echo(language.dumps("resolved" if resolved else "written"), nl=False)
        return
    root = language.checkout()
    if output is None and root is None:
        raise typer.BadParameter("not a source checkout of specc; say where to write with --output DIR",
                                 param_hint="'--output'")
    written = language.write_schemas(output if output is not None else root / "schemas")
    if output is None:
        written.append(language.write_layer_table(root / "docs" / "spec-language.md"))
    for path in written:
        typer.echo(f"wrote {path}")


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"specc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """specc: declarative model specs -> TensorFlow 1 graphs."""


from .export import register as _register_export  # noqa: E402
from .runs import register as _register_runs  # noqa: E402

_register_runs(app, sys.modules[__name__])  # `train` and `sweep`, with the options above
_register_export(app, sys.modules[__name__])


def main() -> None:
    """Console-script entry point."""
    # A command reads a spec and plans it, allocating many long-lived objects and next to no
    # cycles: with the default thresholds the collector would walk them all again and again.
    gc.set_threshold(100_000, 50, 100)
    try:
        app()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if "tensorflow" in sys.modules:
            raise  # TensorFlow's own shutdown hooks run as usual
        # Every output is written and closed by now (atomically); freeing a big plan object by
        # object at interpreter exit would only add seconds to what the user waits for.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
