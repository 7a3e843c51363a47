"""The `specc export` command: a thin wrapper over specc.export.

Registered like `train` and `sweep` (specc.cli.runs): cli.py calls `register(app, cli)`
at its end, and the command uses cli's options and its `_guard`.
"""

# No `from __future__ import annotations`: Typer reads the options' Annotated types from the
# function, which is defined inside register() and so cannot find them as module globals.
import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer

from ..limits import DEFAULT_PLAN_LIMITS, PlanLimits


def _parse_signatures(values: Optional[list[str]]) -> list:
    from ..errors import SignatureError
    from ..serving.signatures import parse

    try:
        return [parse(v) for v in values or ()]
    except SignatureError as e:  # a malformed --signature is a usage error (exit 2), before anything is read
        raise typer.BadParameter(str(e)) from None


ExportOutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", metavar="DIR", help="The SavedModel directory to write (replaced whole, atomically).",
    show_default=False)]
CheckpointOpt = Annotated[Optional[Path], typer.Option(
    "--checkpoint", metavar="CKPT", show_default="freshly initialised, with a warning",
    help="The variables' values: a `specc train` run directory, or a checkpoint prefix or directory.")]
SignatureOpt = Annotated[Optional[list[str]], typer.Option(
    "--signature", metavar="NAME=OUT,...", callback=_parse_signatures,
    help="Another signature returning these outputs (spec outputs or layer paths); repeatable. "
         "serving_default (every spec output) is always there unless given here.")]
FrozenOpt = Annotated[bool, typer.Option(
    "--frozen", help="Also write frozen_graph.pb: a GraphDef with the variables folded into constants.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an output directory specc did not write.")]


def register(app: typer.Typer, cli: ModuleType) -> None:
    """Add `export` to `app`, with the options and error guard of the `cli` module."""
    SpecFile, SetOpt, FormatOpt, Format = cli.SpecFile, cli.SetOpt, cli.FormatOpt, cli.Format
    QuietOpt, VerboseOpt, DebugOpt, MapOpt = cli.QuietOpt, cli.VerboseOpt, cli.DebugOpt, cli.MapOpt
    MaxParamsOpt, MaxLayersOpt = cli.MaxParamsOpt, cli.MaxLayersOpt
    EmitOpt, default_emit = cli.EmitOpt, cli.Emitter(cli.DEFAULT_EMITTER)

    @app.command(cls=cli.Command)
    def export(file: SpecFile, output: ExportOutputOpt, checkpoint: CheckpointOpt = None,
               signatures: SignatureOpt = None, frozen: FrozenOpt = False, force: ForceOpt = False,
               mapping: MapOpt = None, overrides: SetOpt = None, fmt: FormatOpt = Format.table,
               quiet: QuietOpt = False, verbose: VerboseOpt = False, debug: DebugOpt = False,
               max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
               max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, emit: EmitOpt = default_emit) -> None:
        """Write a TF1 SavedModel (tag serve) for serving: variables from a checkpoint, a serving_default signature."""
        with cli._guard(debug, fmt):
            from .. import api

            if mapping and checkpoint is None:
                from ..errors import MappingError

                raise MappingError("--map renames a checkpoint's variables: it needs --checkpoint CKPT")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                done = api.export(file, output, checkpoint=checkpoint, frozen=frozen, force=force,
                                  signatures={r.name: r.outputs for r in signatures or ()},
                                  overrides=overrides or (), mapping=mapping or (),
                                  limits=PlanLimits(max_params, max_layers), verbose=verbose, emit=emit.value)
            cli._warn(str(w.message) for w in caught if issubclass(w.category, UserWarning))
            if fmt is Format.json:
                typer.echo(json.dumps({"ok": True, "output": str(output), "export": done.to_json()}, indent=2))
            else:
                _print_export(cli._out(quiet), done)


def _print_export(console, done) -> None:
    graph = done.graph

    def tensors(side: dict) -> str:
        return ", ".join(f"{k} {_shape(v['shape'])} {v['dtype']}" for k, v in side.items()) or "none"

    for name, signature in graph["signatures"].items():
        console.print(f"signature {name}: inputs {tensors(signature['inputs'])} -> outputs "
                      f"{tensors(signature['outputs'])}", markup=False)
    if graph["training_flags_fed_false"]:
        console.print(f"training flags fed false: {', '.join(graph['training_flags_fed_false'])}", markup=False)
    source = f"from {done.checkpoint}" if done.checkpoint else "freshly initialised"
    console.print(f"{done.variables} variables {source}", markup=False)
    files = ["saved_model.pb", "variables/", "export.json"] + ([graph["frozen_graph"]] if graph["frozen_graph"] else [])
    console.print(f"wrote {done.directory}/ ({', '.join(files)})", markup=False)


def _shape(shape) -> str:
    return "[?]" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
