"""The `specc train` and `specc sweep` commands: thin wrappers over specc.runs and specc.sweep.

cli.py calls `register(app, cli)` at its end; the commands use cli's options and
its `_guard`, so exit codes are those of every command (`sweep` exits 1 when a
variant failed). The module object is passed in, not imported: under
`python -m specc.cli` the running module is `__main__`, not `specc.cli`.
"""

# No `from __future__ import annotations`: Typer reads the options' Annotated types from the
# functions, which are defined inside register() and so cannot find them as module globals.
import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer

from ..limits import DEFAULT_LIMITS, DEFAULT_PLAN_LIMITS, PlanLimits

ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace an output directory specc did not write (train); rebuild complete variants (sweep).")]
TrainOutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Run directory [default: runs/<spec name>].")]
SweepOutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", help="Runs directory: each variant goes to <output>/<experiment>/<variant>/.")]
KeepGoingOpt = Annotated[bool, typer.Option(
    "--keep-going", help="Run the variants that plan even when others do not (those fail in the summaries).")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Variants built at once, each in a worker process.")]


def register(app: typer.Typer, cli: ModuleType) -> None:
    """Add `train` and `sweep` to `app`, with the options and error guard of the `cli` module."""
    SpecFile, SetOpt, FormatOpt, Format = cli.SpecFile, cli.SetOpt, cli.FormatOpt, cli.Format
    QuietOpt, VerboseOpt, DebugOpt = cli.QuietOpt, cli.VerboseOpt, cli.DebugOpt
    MaxParamsOpt, MaxLayersOpt, MaxVariantsOpt = cli.MaxParamsOpt, cli.MaxLayersOpt, cli.MaxVariantsOpt
    PsTasksOpt, WorkerDeviceOpt = cli.PsTasksOpt, cli.WorkerDeviceOpt

    @app.command()
    def train(file: SpecFile, output: TrainOutputOpt = None, overrides: SetOpt = None, force: ForceOpt = False,
              fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
              debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
              max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, ps_tasks: PsTasksOpt = None,
              worker_device: WorkerDeviceOpt = None) -> None:
        """Build the graph and train it as its `train:` section says: checkpoint, metrics.json, loss scalars."""
        with cli._guard(debug, fmt):
            from ..builddir import check_target
            from ..experiments.runs import prepare, write_run
            from ..experiments.training import config

            prepared = prepare(file, cli.placement_sets(overrides, ps_tasks, worker_device),
                               PlanLimits(max_params, max_layers))
            cfg = config(prepared.spec, prepared.plan)  # no `train:` section: an error before anything is built
            directory = output or Path("runs") / prepared.plan.name
            check_target(directory, str(file), force)
            with _progress(not quiet and fmt is Format.table) as bar:
                task = bar.add_task(f"training {prepared.plan.name}", total=cfg.steps, note="")

                def step(n: int, loss: float) -> None:
                    bar.update(task, completed=n, note=f"loss {loss:.4f}")

                summary = write_run(directory, prepared, train=True, verbose=verbose, on_step=step)
            if fmt is Format.json:
                typer.echo(json.dumps({"ok": True, "output": str(directory), "run": summary}, indent=2))
            else:
                _print_training(cli._out(quiet), cfg, summary, directory)

    @app.command()
    def sweep(file: SpecFile, output: SweepOutputOpt = Path("runs"), overrides: SetOpt = None, jobs: JobsOpt = 1,
              force: ForceOpt = False, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
              verbose: VerboseOpt = False, debug: DebugOpt = False,
              max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
              max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers,
              max_variants: MaxVariantsOpt = DEFAULT_LIMITS.max_variants, keep_going: KeepGoingOpt = False) -> None:
        """Build (and train) every variant of an experiment's `sweep:` grid; compare them in a table and summaries.
        Every variant is planned first: one that fails stops the sweep before anything is built."""
        with cli._guard(debug, fmt):
            from ..experiments import sweep as _sweep

            limits = PlanLimits(max_params, max_layers)
            exp = _sweep.experiment(file, overrides or (),
                                    replace(DEFAULT_LIMITS, max_layers=max_layers, max_variants=max_variants))
            unplanned = _sweep.plan_variants(exp, limits)
            if unplanned and not keep_going:
                raise _sweep.variant_errors(unplanned)
            with _progress(not quiet and fmt is Format.table) as bar:
                task = bar.add_task(f"sweep {exp.name}", total=len(exp.variants), note="")

                def done(row: dict) -> None:
                    status = "reused" if row.get("reused") else row.get("status")
                    bar.update(task, advance=1, note=f"{row['variant']}: {status}")

                outcome = _sweep.run(exp, output, jobs, force, limits, verbose, done, unplanned)
            if fmt is Format.json:
                typer.echo(json.dumps(_sweep.summary_json(outcome), indent=2))
            else:
                _print_sweep(cli._out(quiet), outcome)
            if outcome.failed:
                err = cli._console(stderr=True)
                for row in outcome.failed:
                    err.print(f"variant {row['variant']} failed: {row.get('detail') or row.get('error')}", markup=False)
                raise typer.Exit(cli.EXIT_SPEC)


def _progress(show: bool):
    """A progress bar on stderr, gone when done (stdout keeps only the results)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[note]}"), console=Console(stderr=True), disable=not show,
                    transient=True)


def _print_training(console, cfg, summary: dict, directory: Path) -> None:
    first, final = summary["first_loss"], summary["final_loss"]
    losses = f"loss {first:.4f} -> {final:.4f}" if None not in (first, final) else "the loss is not finite"
    console.print(f"trained {summary['steps']} steps ({cfg.loss}, {cfg.optimizer}, learning rate "
                  f"{cfg.learning_rate:g}, batch {cfg.batch_size}): {losses} in {summary['train_seconds']:.1f} s")
    console.print(f"wrote {directory}/ (model.ckpt, metrics.json, resolved.yaml, overrides.json, plan.json, "
                  "graph files, TensorBoard events)")


def _print_sweep(console, outcome) -> None:
    from rich.table import Table

    from ..experiments.sweep import table_rows

    headers, rows = table_rows(outcome)
    table = Table(title=f"Experiment {outcome.experiment.name}", title_justify="left")
    for h in headers:
        table.add_column(h, justify="left" if h in ("variant", "error") else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    reused = sum(1 for r in outcome.rows if r.get("reused"))
    failed = len(outcome.failed)
    console.print(f"{len(outcome.rows)} variants: {len(outcome.rows) - reused - failed} built, {reused} reused, "
                  f"{failed} failed in {outcome.seconds:.1f} s")
    console.print(f"wrote {outcome.directory}/ (summary.csv, summary.json, a directory per variant)")
