"""Stage 6, report: Plan -> rows of plain data -> a renderer chosen by name (table, json)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Callable

from .plans import Plan, PlannedLayer
from .record import record
from .spec import TRAINING_FLAG


@record
class VariableRow:
    """One variable: who created it, who reuses it, and the op scope of every use."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    params: int
    trainable: bool
    creator: str
    reusers: tuple[str, ...]
    uses: tuple[tuple[str, str], ...]  # (layer path, op name scope), creator first
    updated_by: tuple[str, ...] = ()  # layers that assign to it in a training step (batch norm statistics)
    initializer: str = ""  # as written: truncated_normal(stddev=0.02)
    steps: tuple[int, ...] = ()  # per use: the time steps of a static unroll that apply it (1: not recurrent)
    applications: int = 1  # one per using layer, one per time step of an unroll

    @property
    def shared(self) -> bool:
        return self.applications > 1


@record
class Report:
    """The sharing report: totals and one row per variable."""

    model: str
    variables: int
    parameters: int
    trainable_parameters: int
    shared_variables: int
    shared_parameters: int
    parameters_saved: int  # what unshared copies would add: one per further layer or time step
    rows: tuple[VariableRow, ...]
    flag_readers: tuple[str, ...] = ()  # layers switched by the model's training flag (input `training`)

    def shared_rows(self) -> tuple[VariableRow, ...]:
        return tuple(r for r in self.rows if r.shared)

    def notes(self) -> tuple[str, ...]:
        """What the rows do not show: which layers the training flag switches, that an unroll's steps each
        apply the cell's variables, and that shared moving statistics are updated once per application."""
        unrolls: dict[tuple[str, str, int], list[VariableRow]] = {}
        for r in self.rows:
            for (layer, scope), steps in zip(r.uses, r.steps):
                if steps > 1:
                    unrolls.setdefault((layer, scope, steps), []).append(r)
        notes = tuple(
            f"{', '.join(r.name for r in rows)}: layer '{layer}' is a static unroll of {steps} time steps, each "
            f"with its own ops in {scope}/ reading these variables; separate cells per step would need "
            f"{steps - 1} more copies ({(steps - 1) * sum(r.params for r in rows):,} parameters)"
            for (layer, scope, steps), rows in unrolls.items())
        groups: dict[tuple[str, ...], list[VariableRow]] = {}
        for r in self.rows:
            if len(r.updated_by) > 1:
                groups.setdefault(r.updated_by, []).append(r)
        flag = (f"the input '{TRAINING_FLAG}' is the model's training flag (false unless fed; `specc train` feeds "
                f"it true); it switches {', '.join(self.flag_readers)} to training behaviour",) if self.flag_readers else ()
        return flag + notes + tuple(
            f"shared moving statistics {', '.join(r.name for r in rows)}: {len(layers)} applications "
            f"({', '.join(layers)}) each add their own moving-average update to UPDATE_OPS, so these "
            f"variables get {len(layers)} updates per training step, one per application, in no fixed order"
            for layers, rows in groups.items())


def report(plan: Plan) -> Report:
    """Summarise a plan's variables and their sharing."""
    rows = []
    described: dict[int, str] = {}  # id(initializer) -> its text: layers share their default initializers
    for v in plan.variables:
        init = described.get(id(v.initializer))
        if init is None:
            init = described[id(v.initializer)] = str(v.initializer)
        users = v.users
        if len(users) == 1:  # the usual variable, created and used by one layer: no tuples to sort out
            (u,) = users
            reusers = () if u.layer == v.owner else (u.layer,)
            uses, updated, steps = ((u.layer, u.op_scope),), (u.layer,) if u.updates else (), (u.steps,)
        else:
            reusers = tuple(layer for layer in dict.fromkeys(u.layer for u in users) if layer != v.owner)
            uses = tuple((u.layer, u.op_scope) for u in users)
            updated, steps = tuple(u.layer for u in users if u.updates), tuple(u.steps for u in users)
        rows.append(VariableRow(v.name, v.shape, v.dtype, v.size, v.trainable, v.owner, reusers, uses, updated,
                                init, steps, v.applications))
    shared = [r for r in rows if r.shared]
    return Report(
        model=plan.name,
        variables=len(rows),
        parameters=sum(r.params for r in rows),  # plan.parameters, from the sizes the rows hold
        trainable_parameters=sum(r.params for r in rows if r.trainable),
        shared_variables=len(shared),
        shared_parameters=sum(r.params for r in shared),
        parameters_saved=sum(r.params * (r.applications - 1) for r in shared),
        rows=tuple(rows),
        flag_readers=tuple(_flag_readers(plan.layers)),
    )


def _flag_readers(layers: tuple[PlannedLayer, ...]):
    for layer in layers:
        if TRAINING_FLAG in layer.inputs and hasattr(layer.params, "training"):
            yield layer.path
        if layer.children:
            yield from _flag_readers(layer.children)


def report_json(rep: Report, all_variables: bool = False) -> dict:
    rows = rep.rows if all_variables else rep.shared_rows()
    return {
        "model": rep.model,
        "totals": {
            "variables": rep.variables, "parameters": rep.parameters,
            "trainable_parameters": rep.trainable_parameters, "shared_variables": rep.shared_variables,
            "shared_parameters": rep.shared_parameters, "parameters_saved_by_sharing": rep.parameters_saved,
        },
        "variables": [
            {"name": r.name, "shape": list(r.shape), "dtype": r.dtype, "params": r.params,
             "trainable": r.trainable, "initializer": r.initializer, "creator": r.creator,
             "reused_by": list(r.reusers), "applications": r.applications,
             "uses": [{"layer": layer, "op_scope": scope, **({"time_steps": steps} if steps > 1 else {})}
                      for (layer, scope), steps in zip(r.uses, r.steps)],
             **({"updated_by": list(r.updated_by), "updates_per_step": len(r.updated_by)} if r.updated_by else {})}
            for r in rows
        ],
        "notes": list(rep.notes()),
    }


def plan_json(plan: Plan) -> dict:
    """The whole plan as JSON-ready data (written to plan.json by `specc build`)."""

    def layer(l: PlannedLayer) -> dict:
        out: dict[str, Any] = {
            "path": l.path, "type": l.type, "line": l.where.line,
            "frames": [asdict(f) for f in l.frames], "op_scope": l.op_scope, "var_scope": l.var_scope,
            "reuse": l.reuse, "inputs": list(l.inputs),
            "output": {"shape": list(l.output.shape), "dtype": l.output.dtype},
        }
        if l.variables:
            out["variables"] = {b.local: b.name for b in l.variables}
        if l.children:
            out["layers"] = [layer(c) for c in l.children]
            out["result"] = l.result
        return out

    return {
        "model": plan.name, "file": plan.file, "seed": plan.seed,
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype,
                    **({"default": i.default} if i.has_default else {})} for i in plan.inputs],
        "layers": [layer(l) for l in plan.layers],
        "variables": [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype, "initializer": v.initializer.to_json(),
                       "trainable": v.trainable, "owner": v.owner,
                       "users": [asdict(u) for u in v.users]} for v in plan.variables],
        "outputs": [{"name": o.name, "layer": o.key, "shape": list(o.info.shape), "dtype": o.info.dtype}
                    for o in plan.outputs],
        **({"placement": devices_json(plan)} if plan.placement is not None else {}),
    }


def devices_json(plan: Plan) -> dict:
    """Where the plan puts things: the settings, each variable's device and bytes, the bytes per ps task."""
    p = plan.placement
    if p is None:
        return {"model": plan.name, "placement": None,
                "variables": [{"name": v.name, "device": "", "bytes": None} for v in plan.variables]}
    s = p.spec
    return {
        "model": plan.name,
        "placement": {"ps_tasks": s.ps_tasks, "strategy": s.strategy, "worker_device": s.worker_device,
                      "ps_device": s.ps_device},
        "variables": [{"name": v.name, "device": v.device, "bytes": v.bytes} for v in p.variables],
        "ps_bytes": [{"device": f"{s.ps_device}/task:{i}", "bytes": b} for i, b in enumerate(p.ps_bytes)],
        "layers": [{"path": path, "device": device} for path, device in p.layers],
    }


# -- renderers ---------------------------------------------------------------------------

def render_table(rep: Report, console, all_variables: bool = False) -> None:
    rows = rep.rows if all_variables else rep.shared_rows()
    if not rows:
        for line in text_lines(rep, all_variables):
            console.print(line, markup=False)
        return
    from rich.table import Table

    title = f"{'Variables' if all_variables else 'Shared variables'} of {rep.model}"
    table = Table(title=title, title_justify="left", show_lines=False)
    columns = [("variable", "left"), ("shape", "left"), ("params", "right")]
    columns += [("initializer", "left")] if all_variables else []  # the effective one, after `defaults`
    for column, justify in columns + [("created by", "left"), ("used by (op scope)", "left")]:
        table.add_column(column, justify=justify, overflow="fold")  # names are the point: never "…"
    for r in rows:
        uses = "\n".join(f"{layer} ({scope or '/'}){f', {steps} time steps' if steps > 1 else ''}"
                         for (layer, scope), steps in zip(r.uses, r.steps))
        flag = "" if r.trainable else " (non-trainable)"
        init = [r.initializer] if all_variables else []
        table.add_row(r.name + flag, str(list(r.shape)), f"{r.params:,}", *init, r.creator, uses)
    console.print(table)
    for line in text_lines(rep, all_variables, tabled=True):
        console.print(line, markup=False)


def text_lines(rep: Report, all_variables: bool = False, tabled: bool = False) -> list[str]:
    """What the table view prints besides its table (all of it when no variable is shared): plain text,
    which `specc explain` prints without starting rich."""
    lines = [] if tabled or all_variables else [f"{rep.model}: no shared variables"]
    lines += [f"note: {note}" for note in rep.notes()]
    lines.append(f"{rep.variables} variables, {rep.parameters:,} parameters "
                 f"({rep.trainable_parameters:,} trainable); {rep.shared_variables} shared "
                 f"({rep.shared_parameters:,} parameters), sharing saves {rep.parameters_saved:,} parameters")
    return lines


def render_json(rep: Report, console, all_variables: bool = False) -> None:
    console.print_json(json.dumps(report_json(rep, all_variables)))


RENDERERS: dict[str, Callable] = {"table": render_table, "json": render_json}


def render_devices_table(plan: Plan, console) -> None:
    from rich.table import Table

    data = devices_json(plan)
    if data["placement"] is None:
        console.print(f"{plan.name}: no placement (add `placement:` or --ps-tasks N): every op and variable goes "
                      "where TensorFlow puts it", markup=False)
        return
    table = Table(title=f"Devices of {plan.name}", title_justify="left")
    for column, justify in (("variable", "left"), ("device", "left"), ("bytes", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for v in data["variables"]:
        table.add_row(v["name"], v["device"], f"{v['bytes']:,}")
    console.print(table)
    for task in data["ps_bytes"]:
        console.print(f"{task['device']}: {task['bytes']:,} bytes", markup=False)
    p = data["placement"]
    console.print(f"{len(data['variables'])} variables on {p['ps_tasks']} parameter server tasks "
                  f"({p['strategy']}); ops on {p['worker_device'] or 'no device'}", markup=False)


def render_devices_json(plan: Plan, console) -> None:
    console.print_json(json.dumps(devices_json(plan)))


DEVICE_RENDERERS: dict[str, Callable] = {"table": render_devices_table, "json": render_devices_json}
