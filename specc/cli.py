"""The `specc` command: thin wrappers over the API that turn errors into exit codes.

Exit codes: 0 success, 1 the spec is wrong, 2 the command line is wrong (Click's
usage errors, and an output directory that must not be clobbered), 3 an internal
failure (the traceback only with --debug).
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console

from . import api
from .errors import SpecError, SpecErrors
from .planner import DEFAULT_PLAN_LIMITS, PlanLimits
from .output import OutputRefused, check_target, staged, write_json
from .report import RENDERERS, plan_json, report, report_json

EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 1, 2, 3

app = typer.Typer(
    name="specc",
    help="Compile declarative model specs into TensorFlow 1 graphs with exact scopes and explicit sharing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(str, Enum):
    table = "table"
    json = "json"


SpecFile = Annotated[Path, typer.Argument(help="The spec file (YAML).", show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and requested data.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print more, including TensorFlow's own log.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of internal errors.")]
MaxParamsOpt = Annotated[int, typer.Option("--max-params", min=1, help="Refuse models with more parameters.")]
MaxLayersOpt = Annotated[int, typer.Option("--max-layers", min=1, help="Refuse models with more layers (after expansion).")]


@contextmanager
def _guard(debug: bool, fmt: Format = Format.table) -> Iterator[None]:
    """The one place that turns exceptions into messages and exit codes."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except SpecError as e:
        errors = e.errors if isinstance(e, SpecErrors) else [e]
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "errors": [_error_json(x) for x in errors]}, indent=2))
        else:
            for x in errors:
                err.print(x.render(), markup=False)
        raise typer.Exit(EXIT_SPEC) from None
    except OutputRefused as e:
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": False, "error": str(e), "kind": "output"}, indent=2))
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
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


def _error_json(e: SpecError) -> dict:
    w = e.where
    from .errors import format_path

    out = {"file": w.file, "line": w.line, "column": w.col, "path": format_path(w.path), "message": e.message}
    return {**out, "expanded_from": list(w.via)} if w.via else out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _out(quiet: bool = False) -> Console:
    # Piped output is read by tools and people alike: give tables room instead of rich's 80 columns.
    width = None if sys.stdout.isatty() else 160
    return Console(highlight=False, soft_wrap=True, quiet=quiet, width=width)


@app.command()
def validate(file: SpecFile, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
             verbose: VerboseOpt = False, debug: DebugOpt = False,
             max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
             max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers) -> None:
    """Check a spec (schema, references, scopes, sharing, shapes) without TensorFlow."""
    with _guard(debug, fmt):
        plan = api.plan(file, PlanLimits(max_params, max_layers))
        layers = sum(1 for _ in plan.walk())
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": True, "file": str(file), "model": plan.name, "inputs": len(plan.inputs),
                                   "layers": layers, "variables": len(plan.variables),
                                   "parameters": plan.parameters}, indent=2))
        else:
            _out(quiet).print(f"{file}: ok ({plan.name}: {_count(len(plan.inputs), 'input')}, "
                              f"{_count(layers, 'layer')}, {_count(len(plan.variables), 'variable')}, "
                              f"{_count(plan.parameters, 'parameter')})")


@app.command()
def explain(file: SpecFile,
            all_variables: Annotated[bool, typer.Option("--all", "-a", help="List every variable, not only the shared ones.")] = False,
            fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
            debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
            max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers) -> None:
    """Show which variables are shared, by whom, and where each use's ops land. No TensorFlow."""
    with _guard(debug, fmt):
        plan = api.plan(file, PlanLimits(max_params, max_layers))
        rep = report(plan)
        if fmt is Format.json:
            typer.echo(json.dumps(report_json(rep, all_variables), indent=2))
        else:
            RENDERERS["table"](rep, _out(quiet), all_variables)


@app.command()
def resolve(file: SpecFile, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
            verbose: VerboseOpt = False, debug: DebugOpt = False,
            max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers) -> None:
    """Print the spec fully expanded (templates, repeats, defaults, vars) as YAML (JSON with -f json). No TensorFlow."""
    with _guard(debug, fmt):
        from dataclasses import replace

        from .interpolate import escape
        from .load import DEFAULT_LIMITS

        data = escape(api.resolve(file, replace(DEFAULT_LIMITS, max_layers=max_layers)).data)
        if fmt is Format.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            import yaml

            typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120,
                                      allow_unicode=True), nl=False)


@app.command()
def build(file: SpecFile,
          output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Build directory [default: build/<spec name>].")] = None,
          force: Annotated[bool, typer.Option("--force", help="Replace an output directory specc did not write.")] = False,
          fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
          debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
          max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers) -> None:
    """Build the TF1 graph: graph.pbtxt, model.meta, plan.json and a TensorBoard event file."""
    with _guard(debug, fmt):
        plan = api.plan(file, PlanLimits(max_params, max_layers))
        directory = output or Path("build") / plan.name
        check_target(directory, str(file), force)
        from .emit.files import write_graph_files

        model = api.build(plan, verbose=verbose)
        rep = model.report
        with staged(directory, str(file)) as tmp:
            write_graph_files(model, tmp)
            write_json(tmp / "plan.json", {"plan": plan_json(plan), "report": report_json(rep, True)})
        checked = f"plan matches graph: {len(model.variables)}/{len(plan.variables)} variables"
        if fmt is Format.json:
            typer.echo(json.dumps({"ok": True, "output": str(directory), "report": report_json(rep),
                                   "variables_checked": len(model.variables)}, indent=2))
        else:
            console = _out(quiet)
            RENDERERS["table"](rep, console)
            console.print(checked)
            console.print(f"wrote {directory}/ (graph.pbtxt, model.meta, plan.json, TensorBoard events)")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format."""
    from .validate import schema as the_schema

    typer.echo(json.dumps(the_schema(), indent=2))


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"specc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """specc: declarative model specs -> TensorFlow 1 graphs."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
    sys.exit(0)
