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
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional

import typer

from ..limits import DEFAULT_LIMITS, DEFAULT_PLAN_LIMITS, PlanLimits

ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace an output directory specc did not write (train); rebuild complete variants (sweep).")]
TrainOutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", metavar="DIR", help="The run directory.", show_default="runs/<spec name>")]
SweepOutputOpt = Annotated[Path, typer.Option(
    "--output", "-o", metavar="DIR", help="The runs directory: each variant goes to DIR/<experiment>/<variant>/.")]
KeepGoingOpt = Annotated[bool, typer.Option(
    "--keep-going", help="Run the variants that plan even when others do not (those fail in the summaries).")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, metavar="N", help="Variants built at once, each in a worker process.")]


def register(app: typer.Typer, cli: ModuleType) -> None:
    """Add `train` and `sweep` to `app`, with the options and error guard of the `cli` module."""
    SpecFile, SetOpt, FormatOpt, Format = cli.SpecFile, cli.SetOpt, cli.FormatOpt, cli.Format
    QuietOpt, VerboseOpt, DebugOpt = cli.QuietOpt, cli.VerboseOpt, cli.DebugOpt
    MaxParamsOpt, MaxLayersOpt, MaxVariantsOpt = cli.MaxParamsOpt, cli.MaxLayersOpt, cli.MaxVariantsOpt
    PsTasksOpt, WorkerDeviceOpt = cli.PsTasksOpt, cli.WorkerDeviceOpt
    EmitOpt, default_emit = cli.EmitOpt, cli.Emitter(cli.DEFAULT_EMITTER)

    @app.command(cls=cli.Command)
    def train(file: SpecFile, output: TrainOutputOpt = None, overrides: SetOpt = None, force: ForceOpt = False,
              fmt: FormatOpt = Format.table, quiet: QuietOpt = False, verbose: VerboseOpt = False,
              debug: DebugOpt = False, max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
              max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers, ps_tasks: PsTasksOpt = None,
              worker_device: WorkerDeviceOpt = None, cluster_file: ClusterOpt = None, job: JobOpt = None,
              task_index: TaskOpt = None, sync: SyncOpt = False, timeout: TimeoutOpt = 3600.0,
              emit: EmitOpt = default_emit) -> None:
        """Build the graph and train it as its `train:` section says: checkpoint, metrics.json, loss scalars.
        With --cluster, run one task of a TF1 cluster (docs/distributed.md)."""
        with cli._guard(debug, fmt):
            from ..builddir import check_target
            from ..experiments.runs import prepare, write_run
            from ..experiments.training import config

            cluster = _cluster(cluster_file, job, task_index, ps_tasks, worker_device)
            if cluster is not None and job == "ps":
                _serve(cli, cluster, task_index, timeout, fmt, quiet, verbose)
                return
            sets = cli.placement_sets(overrides, ps_tasks, worker_device) if cluster is None else \
                cli.placement_sets(overrides, len(cluster.ps), cluster.worker_device(task_index))
            prepared = prepare(file, sets, PlanLimits(max_params, max_layers))
            cfg = config(prepared.spec, prepared.plan)  # no `train:` section: an error before anything is built
            directory = output or Path("runs") / prepared.plan.name
            chief = cluster is None or task_index == 0
            if chief:
                check_target(directory, str(file), force, "run")
            trainer = None
            if cluster is not None:
                from ..emit import cluster as distributed

                def trainer(model, cfg, data, tmp, on_step):
                    return distributed.train(model, cfg, data, tmp if chief else None, cluster, task_index, sync,
                                             on_step)
            with _progress(not quiet and fmt is Format.table) as bar:
                task = bar.add_task(f"training {prepared.plan.name}", total=cfg.steps, note="")

                def step(n: int, loss: float) -> None:
                    bar.update(task, completed=n, note=f"loss {loss:.4f}")

                if chief:
                    summary = write_run(directory, prepared, train=True, verbose=verbose, on_step=step,
                                        trainer=trainer, emit=emit.value)
                else:
                    summary = _train_worker(prepared, cfg, trainer, verbose, emit.value)
            if fmt is Format.json:
                typer.echo(json.dumps({"ok": True, "output": str(directory) if chief else None, "run": summary},
                                      indent=2))
            elif chief:
                _print_training(cli._out(quiet), cfg, summary, directory)
            else:
                cli._out(quiet).print(f"worker {task_index}: {summary['steps']} steps, loss {summary['first_loss']} "
                                      f"-> {summary['final_loss']}", markup=False)

    @app.command(cls=cli.Command)
    def sweep(file: SpecFile, output: SweepOutputOpt = Path("runs"), overrides: SetOpt = None, jobs: JobsOpt = 1,
              force: ForceOpt = False, fmt: FormatOpt = Format.table, quiet: QuietOpt = False,
              verbose: VerboseOpt = False, debug: DebugOpt = False,
              max_params: MaxParamsOpt = DEFAULT_PLAN_LIMITS.max_params,
              max_layers: MaxLayersOpt = DEFAULT_PLAN_LIMITS.max_layers,
              max_variants: MaxVariantsOpt = DEFAULT_LIMITS.max_variants, keep_going: KeepGoingOpt = False,
              executor: ExecutorOpt = Executor.local, address: AddressOpt = None,
              cpus_per_variant: CpusOpt = 1.0, dry_run: DryRunOpt = False, emit: EmitOpt = default_emit) -> None:
        """Build (and train) every variant of an experiment's `sweep:` grid; compare them in a table and summaries.
        Every variant is planned first: one that fails stops the sweep before anything is built."""
        if executor is Executor.local and address is not None:
            raise typer.BadParameter("--address is the Ray cluster's: give --executor ray too",
                                     param_hint="'--address'")
        with cli._guard(debug, fmt):
            from ..experiments import sweep as _sweep

            execute = None
            if executor is Executor.ray:
                from ..experiments import ray_executor

                try:
                    execute = ray_executor.executor(address, cpus_per_variant)
                except ImportError as e:
                    raise typer.BadParameter(str(e), param_hint="'--executor'") from None
            limits = PlanLimits(max_params, max_layers)
            exp = _sweep.experiment(file, overrides or (),
                                    replace(DEFAULT_LIMITS, max_layers=max_layers, max_variants=max_variants))
            prepared: dict = {}
            unplanned = _sweep.plan_variants(exp, limits, prepared)
            if unplanned and not keep_going:
                raise _sweep.variant_errors(unplanned)
            if dry_run:
                _print_plan(cli, exp, unplanned, fmt, quiet)
                if unplanned:
                    raise typer.Exit(cli.EXIT_SPEC)
                return
            with _progress(not quiet and fmt is Format.table) as bar:
                task = bar.add_task(f"sweep {exp.name}", total=len(exp.variants), note="")

                def done(row: dict) -> None:
                    status = "reused" if row.get("reused") else row.get("status")
                    bar.update(task, advance=1, note=f"{row['variant']}: {status}")

                outcome = _sweep.run(exp, output, jobs, force, limits, verbose, done, unplanned, execute, emit.value,
                                     prepared)
            if fmt is Format.json:
                typer.echo(json.dumps(_sweep.summary_json(outcome), indent=2))
            else:
                _print_sweep(cli._out(quiet), outcome)
            if outcome.failed:
                err = cli._console(stderr=True)
                for row in outcome.failed:
                    err.print(f"variant {row['variant']} failed: {row.get('detail') or row.get('error')}", markup=False)
                raise typer.Exit(cli.EXIT_SPEC)


DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Plan every variant (no TensorFlow) and list them; build nothing.")]


def _print_plan(cli, exp, unplanned, fmt, quiet: bool) -> None:
    """`sweep --dry-run`: each variant with its overrides and whether it plans."""
    failed = {u.variant.name: u.error for u in unplanned}
    rows = [{"variant": v.name, "overrides": [o.text for o in v.overrides], "plans": v.name not in failed,
             **({"error": str(failed[v.name]).splitlines()[0]} if v.name in failed else {})} for v in exp.variants]
    if fmt is cli.Format.json:
        typer.echo(json.dumps({"experiment": exp.name, "variants": rows}, indent=2))
        return
    console = cli._out(quiet)
    for row in rows:
        console.print(f"{row['variant']}: {'plans' if row['plans'] else row['error']}", markup=False)
    console.print(f"{len(rows)} variants, {len(rows) - len(failed)} plan; nothing built (--dry-run)", markup=False)


class Executor(str, Enum):
    local = "local"
    ray = "ray"


ExecutorOpt = Annotated[Executor, typer.Option(
    "--executor", metavar="local|ray", help="Where variants run: local worker processes (--jobs), or Ray tasks (pip install 'specc[ray]').")]
AddressOpt = Annotated[Optional[str], typer.Option(
    "--address", metavar="ADDR", show_default="start a Ray instance here",
    help="With --executor ray: the Ray cluster (host:port of its head).")]
CpusOpt = Annotated[float, typer.Option(
    "--cpus-per-variant", min=0.01, metavar="N", help="With --executor ray: the CPUs each variant's task reserves.")]


ClusterOpt = Annotated[Optional[Path], typer.Option(
    "--cluster", metavar="CLUSTER.yaml", show_default=False,
    help="Run one task of a TF1 cluster: the file maps ps and worker to their host:port lists.")]
JobOpt = Annotated[Optional[str], typer.Option(
    "--job", metavar="ps|worker", show_default=False, help="With --cluster: this task's job.")]
TaskOpt = Annotated[Optional[int], typer.Option(
    "--task", min=0, metavar="N", show_default=False, help="With --cluster: this task's index in its job "
                                                             "(worker 0 is the chief: it writes -o).")]
SyncOpt = Annotated[bool, typer.Option(
    "--sync-replicas", help="With --cluster: synchronous updates (SyncReplicasOptimizer), one gradient from "
                            "every worker a step; default: asynchronous.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=1, metavar="SECONDS", help="A ps task stops after this long even if a worker never says "
                                                "it is done.")]


def _cluster(path: Optional[Path], job: Optional[str], task: Optional[int], ps_tasks, worker_device):
    """The cluster of `--cluster`, with --job and --task checked against it (usage errors, exit 2)."""
    if path is None:
        if job is not None or task is not None:
            raise typer.BadParameter("--job and --task name a task of a cluster: give --cluster CLUSTER.yaml too",
                                     param_hint="'--cluster'")
        return None
    if job not in ("ps", "worker"):
        raise typer.BadParameter("give --job ps or --job worker", param_hint="'--job'")
    if task is None:
        raise typer.BadParameter("give --task N, the index of this task in its job", param_hint="'--task'")
    if ps_tasks is not None or worker_device is not None:
        raise typer.BadParameter("the cluster file decides the placement (a ps task per address, ops on this "
                                 "worker): leave out --ps-tasks and --worker-device", param_hint="'--cluster'")
    from ..experiments.cluster import load_cluster

    cluster = load_cluster(path)
    if task >= len(cluster.tasks(job)):
        raise typer.BadParameter(f"the cluster's '{job}' job has {len(cluster.tasks(job))} tasks (0 to "
                                 f"{len(cluster.tasks(job)) - 1}), not {task}", param_hint="'--task'")
    return cluster


def _serve(cli, cluster, task: int, timeout: float, fmt, quiet: bool, verbose: bool) -> None:
    from ..emit import cluster as distributed
    from ..emit.tfimport import tensorflow

    tensorflow(verbose)
    done = distributed.serve(cluster, task, timeout)
    workers = len(cluster.worker)
    if fmt is cli.Format.json:
        typer.echo(json.dumps({"ok": done == workers, "ps_task": task, "workers_done": done, "workers": workers}))
    else:
        cli._out(quiet).print(f"ps task {task}: {done} of {workers} workers done", markup=False)
    if done < workers:
        cli._console(stderr=True).print(f"ps task {task} stopped after {timeout:g} s without hearing from "
                                        f"{workers - done} worker(s)", markup=False)
        raise typer.Exit(cli.EXIT_INTERNAL)


def _train_worker(prepared, cfg, trainer, verbose: bool, emit: str) -> dict:
    """A worker that is not the chief: it trains, and writes nothing (the chief writes the run)."""
    from .. import api
    from ..experiments.training import load_data

    data = load_data(cfg, prepared.plan, prepared.spec)
    model = api.build(prepared.plan, verbose=verbose, emit=emit)
    return trainer(model, cfg, data, None, None)


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
