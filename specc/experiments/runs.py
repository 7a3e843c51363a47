"""Run directories: what `specc build`, `specc train` and each variant of `specc sweep` write.

A run directory holds, written at once by specc.output.staged (all or nothing,
its marker last):

    resolved.yaml     the spec as planned: bases merged, overrides applied, expanded
    overrides.json    the overrides that made it, each with the spec path it set
    plan.json         the plan and the sharing report
    graph.pbtxt, model.meta, events.out.tfevents.*    the graph (specc.emit.files)
    run.json          the run's figures: parameters, variables, ops, seconds, losses
    metrics.json, model.ckpt.*, checkpoint, events.*.train    after training

Nothing here imports TensorFlow until a run is built.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence


from .. import api
from .. import compose as _compose
from .. import overrides as _overrides
from ..errors import SpecPath
from ..interpolate import escape
from ..read import DEFAULT_LIMITS, dump
from ..builddir import staged, write_json
from ..emit.emitters import DEFAULT_EMITTER
from ..plans import Plan
from ..planner import DEFAULT_PLAN_LIMITS, PlanLimits
from ..report import plan_json, report, report_json
from ..spec import Spec
from .training import config as train_config, data_path, load_data

RESOLVED_FILE = "resolved.yaml"
OVERRIDES_FILE = "overrides.json"
PLAN_FILE = "plan.json"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class Prepared:
    """A spec ready to build: the Spec, its Plan, and the overrides with the spec paths they set."""

    file: str
    spec: Spec
    plan: Plan
    overrides: tuple[_overrides.Override, ...] = ()
    paths: tuple[SpecPath, ...] = ()

    @functools.cached_property
    def plan_data(self) -> dict:
        """The plan as plan.json holds it, made once: the build cache's key is made of it too."""
        return plan_json(self.plan)

    def overrides_json(self) -> dict:
        return {"spec": str(Path(self.file).resolve()),
                "overrides": [o.to_json(p) for o, p in zip(self.overrides, self.paths)]}


def prepare(file: str | Path, overrides: Sequence[_overrides.Override] = (),
            limits: PlanLimits = DEFAULT_PLAN_LIMITS, drop: tuple[str, ...] = ()) -> Prepared:
    """Load a spec file with its bases, apply `overrides`, plan it (no TensorFlow).

    Args:
        drop: top-level keys to leave out first (a sweep's variant drops `sweep`).

    Raises:
        SpecError: anything wrong with the spec or an override, located.
    """
    load_limits = replace(DEFAULT_LIMITS, max_layers=limits.max_layers)
    doc = _compose.load(file, load_limits)
    if drop and isinstance(doc.data, dict):
        doc = replace(doc, data={k: v for k, v in doc.data.items() if k not in drop})
    doc, paths = _overrides.apply(doc, tuple(overrides))
    spec = api.parse(doc, load_limits)
    return Prepared(str(file), spec, api.plan(spec, limits), tuple(overrides), paths)


def resolved_yaml(data: Any) -> str:
    """The expanded spec as `specc resolve` prints it (a literal `${` written `$${`)."""
    return dump(escape(data), default_flow_style=None, width=120)


def write_spec_files(directory: Path, prepared: Prepared) -> None:
    """resolved.yaml and overrides.json. A relative `train.data` is written absolute: the run directory is
    somewhere else than the spec it was relative to."""
    doc = prepared.spec.document
    data = doc.data
    train = data.get("train")
    if isinstance(train, dict) and isinstance(train.get("data"), str):
        data = {**data, "train": {**train, "data": data_path(doc, train["data"])}}
    (directory / RESOLVED_FILE).write_text(resolved_yaml(data), encoding="utf-8")
    write_json(directory / OVERRIDES_FILE, prepared.overrides_json())


def run_key(prepared: Prepared, train: bool, emit: str = DEFAULT_EMITTER) -> str | None:
    """The build cache key (specc.buildcache) of a run directory: a trained one also depends on its data
    file. The emitters build the same graph, but not byte for byte the same files: the emitter is in it."""
    from ..buildcache import build_key, file_stamp

    data = prepared.spec.document.data
    source = data.get("train", {}).get("data") if train and isinstance(data.get("train"), dict) else None
    stamp = file_stamp(Path(data_path(prepared.spec.document, source))) if isinstance(source, str) else None
    return build_key(prepared, {"command": "run", "train": train, "data": stamp, "emit": emit})


def write_run(directory: Path, prepared: Prepared, *, train: bool = False, variant: str | None = None,
              verbose: bool = False, on_step: Callable[[int, float], None] | None = None,
              trainer: Callable | None = None, emit: str = DEFAULT_EMITTER) -> dict:
    """Build (and with `train`, train) a prepared spec into `directory`, atomically.

    Args:
        trainer: trains the built model as specc.emit.train.train does (same arguments and
            metrics); default: that, in this process (a cluster's chief passes its own).
        emit: the emitter (specc.emit.emitters.EMITTERS).

    Returns:
        The run's figures, as written to run.json.

    Raises:
        SpecError: a `train:` section that does not fit the model, or bad training data.
        OutputRefused: another specc process is writing `directory`.
    """
    from ..emit.files import write_graph_files
    from ..emit.tfimport import tensorflow

    tensorflow(verbose)  # imported before the clock starts: build_seconds is the build's own time
    plan, spec = prepared.plan, prepared.spec
    cfg = train_config(spec, plan) if train else None
    data = load_data(cfg, plan, spec) if cfg is not None else None  # before anything is written
    start = time.perf_counter()
    with staged(directory, prepared.file, run_key(prepared, train, emit), "run") as tmp:
        model = api.build(plan, verbose=verbose, emit=emit)
        ops = len(model.graph.get_operations())
        build_seconds = time.perf_counter() - start
        rep = report(plan)
        write_graph_files(model, tmp)
        write_json(tmp / PLAN_FILE, {"plan": prepared.plan_data, "report": report_json(rep, True)})
        write_spec_files(tmp, prepared)
        metrics = None
        if cfg is not None:
            from ..emit.train import train as run_training

            metrics = (trainer or run_training)(model, cfg, data, tmp, on_step)
            write_json(tmp / METRICS_FILE, metrics)
        summary = {
            "variant": variant, "model": plan.name, "spec": str(Path(prepared.file).resolve()),
            "overrides": [o.text for o in prepared.overrides],
            "parameters": rep.parameters, "trainable_parameters": rep.trainable_parameters,
            "shared_parameters": rep.shared_parameters, "variables": rep.variables,
            "shared_variables": rep.shared_variables, "ops": ops, "emitter": model.emitter,
            **({"fallback": model.fallback} if model.fallback else {}), "build_seconds": round(build_seconds, 3),
            "train_seconds": metrics["seconds"] if metrics else None,
            "steps": metrics["steps"] if metrics else None,
            "first_loss": metrics["first_loss"] if metrics else None,
            "final_loss": metrics["final_loss"] if metrics else None,
        }
        write_json(tmp / RUN_FILE, summary)
    return summary


def recorded_overrides(directory: str | Path) -> tuple[str, ...] | None:
    """The overrides (`PATH=VALUE`) a run directory was made with; None if `directory` is not a run
    directory that says (a checkpoint prefix, another directory, a damaged overrides.json)."""
    try:
        data = json.loads((Path(directory) / OVERRIDES_FILE).read_text("utf-8"))
        return tuple(f"{o['set']}={_overrides.dump_value(o['value'])}" for o in data["overrides"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
