"""`specc sweep`: an experiment's grid of variants, each built (and trained) into a run directory of its own.

    experiment file -> its axes (each sweep path, and a `zip:` group as one axis) and
    the number of variants, bounded before anything is expanded -> its variants (every
    combination of the axes, or `sample:`'s reproducible draws of them, each a list of
    overrides with a stable, readable name) -> every variant planned (no TensorFlow), so a bad one stops
    the sweep before any worker starts -> the variants not yet complete, run in worker
    processes -> one row per variant -> summary.csv, summary.json, a table

A variant's directory is written by specc.runs.write_run through
specc.output.staged, so it appears whole, marker last, or not at all: a variant
killed half-way leaves only a hidden staging directory, which the next run tidies
away. A re-run reuses the variants whose directory holds a complete, unedited run with the
same build cache key (specc.buildcache; `force`: redoes them).

Workers are processes started with `spawn` (TensorFlow does not survive `fork`);
each imports TensorFlow once and builds the variants it is given. This module
never imports TensorFlow.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .. import compose as _compose
from .. import overrides as _overrides
from ..errors import OutputRefused, SpecError, SpecErrors
from ..limits import Limits
from ..read import DEFAULT_LIMITS, Document
from ..builddir import check_target, write_json, write_text
from ..emit.emitters import DEFAULT_EMITTER
from ..planner import DEFAULT_PLAN_LIMITS, PlanLimits
from ..spec import name_from_file

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

SUMMARY_JSON = "summary.json"
SUMMARY_CSV = "summary.csv"
DEFAULT_VARIANT = "default"  # the one variant of an experiment without `sweep:`
_SHORT = ("vars.", "layers.", "train.")  # prefixes a variant's name leaves out
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")  # in a label or a value: `,` and `=` join them
_MAX_NAME = 120


@dataclass(frozen=True)
class Variant:
    """One point of the sweep.

    Attributes:
        name: its directory name (`hidden=64,encoder.share=true`), unique within the experiment.
        values: sweep path -> value, in the order of `sweep:`.
        overrides: what makes it: the command line's `--set`, then the sweep's values.
    """

    name: str
    values: tuple[tuple[str, Any], ...]
    overrides: tuple[_overrides.Override, ...]


@dataclass(frozen=True)
class Axis:
    """One axis of the grid: a sweep path and its values, or a `zip:` group whose paths advance together.

    Attributes:
        paths: the override paths it sets (one, or a `zip:` group's, in order).
        points: its positions, each one value per path.
    """

    paths: tuple[str, ...]
    points: tuple[tuple, ...]
    zipped: bool = False


@dataclass(frozen=True)
class Sample:
    """`sample: {n, seed}`: n distinct points of the grid, drawn reproducibly from the seed."""

    n: int
    seed: int = 0


@dataclass(frozen=True)
class Experiment:
    name: str
    file: str
    axes: tuple[tuple[str, tuple], ...]  # every sweep path with its values, in the order of `sweep:`
    variants: tuple[Variant, ...]
    zipped: tuple[str, ...] = ()  # the paths of `zip:`
    sample: Sample | None = None


ZIP, SAMPLE = "zip", "sample"  # keys of `sweep:` that are not override paths


def experiment(file: str | Path, overrides: Sequence[_overrides.Override] = (),
               limits: Limits = DEFAULT_LIMITS) -> Experiment:
    """Read an experiment file (any spec; `sweep:` makes it a sweep) and name its variants. No TensorFlow.

    Raises:
        SpecError: a bad `sweep:` (not a mapping of lists, a path that names nothing, `zip:` lists of
            different lengths, a bad `sample:`, more than `limits.max_variants` variants), or an
            experiment file that cannot be loaded.
    """
    return experiment_of(_compose.load(file, limits, overrides), overrides, limits)


def experiment_of(doc: Document, overrides: Sequence[_overrides.Override] = (),
                  limits: Limits = DEFAULT_LIMITS) -> Experiment:
    """`experiment` of a file composed already (`specc.compose.load` with the same overrides and limits)."""
    data = doc.data if isinstance(doc.data, dict) else {}
    name = data.get("experiment")
    if name is not None and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name)):
        raise doc.error("`experiment:` names a directory: letters, digits, '_', '.', '-'", ("experiment",))
    axes, sample = _axes(doc, data.get("sweep"), limits.max_variants)
    flat = tuple((path, tuple(point[i] for point in axis.points)) for axis in axes for i, path in enumerate(axis.paths))
    zipped = next((axis.paths for axis in axes if axis.zipped), ())
    return Experiment(name or name_from_file(doc.file, "experiment"), doc.file, flat,
                      tuple(variants(axes, overrides, sample)), zipped, sample)


def _axes(doc: Document, sweep: Any, max_variants: int) -> tuple[tuple[Axis, ...], Sample | None]:
    """The sweep's axes and sample, checked and counted; nothing is expanded here."""
    if sweep is None:
        return (), None
    if not isinstance(sweep, dict) or not sweep:
        raise doc.error("`sweep:` maps override paths to lists of values, e.g. {vars.hidden: [64, 128]}", ("sweep",))
    axes = []
    for target, values in sweep.items():
        if target == ZIP:
            axes.append(_zip_axis(doc, values, sweep))
        elif target != SAMPLE:
            if not isinstance(values, list) or not values:
                raise doc.error(f"sweep path '{target}' needs a non-empty list of values to try", ("sweep", target))
            axes.append(Axis((target,), tuple((v,) for v in values)))
    if not axes:
        raise doc.error("`sweep:` has nothing to vary: give it override paths with lists of values (or `zip:`)",
                        ("sweep",))
    sizes = [len(axis.points) for axis in axes]
    size = math.prod(sizes)
    shape = " x ".join(map(str, sizes))
    sample = _sample(doc, sweep[SAMPLE], size, shape) if SAMPLE in sweep else None
    if sample is not None and sample.n > max_variants:
        raise doc.error(f"`sample:` draws {sample.n:,} variants, more than the limit of {max_variants:,}: draw "
                        "fewer, or lift the limit with --max-variants N", ("sweep", SAMPLE, "n"))
    if sample is None and size > max_variants:
        raise doc.error(f"the grid has {size:,} variants ({shape} values), more than the limit of {max_variants:,}: "
                        "sweep fewer values, draw some with `sample: {n: N}`, or lift the limit with "
                        "--max-variants N", ("sweep",))
    return tuple(axes), sample


def _zip_axis(doc: Document, group: Any, sweep: dict) -> Axis:
    """`zip:`: paths whose lists advance together, one position per variant; one axis of the grid."""
    at = ("sweep", ZIP)
    if not isinstance(group, dict) or not group:
        raise doc.error("`zip:` maps override paths to lists of the same length, advanced together, e.g. "
                        "{vars.hidden: [16, 32], train.learning_rate: [0.01, 0.001]}", at)
    first, lengths = next(iter(group)), {}
    for target, values in group.items():
        if not isinstance(values, list) or not values:
            raise doc.error(f"zip path '{target}' needs a non-empty list of values", at + (target,))
        if target in sweep:
            raise doc.error(f"sweep path '{target}' is both in `zip:` and a grid path of `sweep:`: give it once",
                            at + (target,), at_key=True)
        lengths[target] = len(values)
        if len(values) != lengths[first]:
            raise doc.error(f"zip path '{target}' has {len(values)} values but '{first}' has {lengths[first]}: "
                            "the lists of `zip:` advance together, so they need the same length", at + (target,))
    return Axis(tuple(group), tuple(zip(*group.values())), zipped=True)


def _sample(doc: Document, spec: Any, size: int, shape: str) -> Sample:
    at = ("sweep", SAMPLE)
    if not isinstance(spec, dict) or set(spec) - {"n", "seed"} or "n" not in spec:
        raise doc.error("`sample:` is {n: N, seed: S}: N variants drawn from the sweep's values (seed: default 0)",
                        at)
    n, seed = spec["n"], spec.get("seed", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise doc.error("`sample: n` is the number of variants to draw: a positive integer", at + ("n",))
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise doc.error("`sample: seed` is an integer", at + ("seed",))
    if n > size:
        raise doc.error(f"`sample:` draws {n:,} distinct variants, but the sweep has only {size:,} ({shape} values): "
                        f"draw at most {size:,}, or leave out `sample:` to run them all", at + ("n",))
    return Sample(n, seed)


@dataclass(frozen=True)
class Unplanned:
    """A variant that does not plan, with its located error."""

    variant: Variant
    error: SpecError


def plan_variants(exp: Experiment, limits: PlanLimits = DEFAULT_PLAN_LIMITS,
                  prepared: dict[str, Any] | None = None) -> list[Unplanned]:
    """Plan every variant as its worker will (no TensorFlow); the ones that fail, in variant order.

    A variant whose sharing, shapes or values are wrong fails here, before any worker starts.
    `prepared`, if given, gets each variant's Prepared by name, for `run` to check for reuse with.
    """
    from .runs import prepare

    failed = []
    for v in exp.variants:
        try:
            ready = prepare(exp.file, v.overrides, limits, drop=("sweep",))
        except SpecError as e:
            failed.append(Unplanned(v, e))
            continue
        if prepared is not None:
            prepared[v.name] = ready
    return failed


def variant_errors(failed: Sequence[Unplanned]) -> SpecErrors:
    """One located error per failing variant, its message naming the variant and its overrides."""
    out = []
    for f in failed:
        for e in (f.error.errors if isinstance(f.error, SpecErrors) else [f.error]):
            sets = ", ".join(o.text for o in f.variant.overrides)
            out.append(SpecError(f"variant {f.variant.name} ({sets}): {e.message}", e.where, e.source_line))
    return SpecErrors(out)


def variants(axes: Sequence[Axis | tuple[str, tuple]], base: Sequence[_overrides.Override] = (),
             sample: Sample | None = None) -> list[Variant]:
    """The grid's points, the first axis slowest (or `sample.n` of them, in that order), each with its name.

    An axis is an Axis or a (path, values) pair. A name is `label=value` for each path,
    joined by commas: the label is the sweep path without a leading `vars.`, `layers.` or
    `train.` (the whole path when two would coincide), the value compact YAML (`true`,
    `64`, `[null, 8]`). In labels and values, characters other than letters, digits and
    `._+-` become `_`; a name longer than 120 characters, or one that two variants would
    share, ends in `-` and 8 hex digits of a hash of the full text.
    """
    if not axes:
        return [Variant(DEFAULT_VARIANT, (), tuple(base))]
    axes = [a if isinstance(a, Axis) else Axis((a[0],), tuple((v,) for v in a[1])) for a in axes]
    paths = [p for axis in axes for p in axis.paths]
    labels = _labels(paths)
    keys = {t: _overrides.parse_path(t) for t in paths}
    if sample is None:
        combos = itertools.product(*(axis.points for axis in axes))
    else:
        combos = (_point(axes, i) for i in sampled(math.prod(len(a.points) for a in axes), sample))
    out = []
    for combo in combos:
        values = tuple(zip(paths, (v for point in combo for v in point)))
        text = ",".join(f"{labels[t]}={_overrides.dump_value(v)}" for t, v in values)
        sets = tuple(_overrides.Override(t, keys[t], v, "sweep") for t, v in values)
        out.append(Variant(text, values, tuple(base) + sets))
    names = [_safe(",".join(f"{_UNSAFE.sub('_', labels[t])}={_UNSAFE.sub('_', _overrides.dump_value(v))}"
                            for t, v in variant.values), variant.name) for variant in out]
    clashes = {n for n in names if names.count(n) > 1}
    return [replace(v, name=_hashed(v.name, n) if n in clashes else n) for v, n in zip(out, names)]


def sampled(size: int, sample: Sample) -> list[int]:
    """`sample.n` distinct positions in a grid of `size` points, in grid order.

    Each draw is a uniform position (every axis's value drawn independently) from
    SHA-256 of the seed and the draw's number, so the draws depend on nothing else:
    not the Python version, its hash seed, or dict order. A position drawn again is
    skipped (without replacement), so a larger n with the same seed keeps the smaller
    n's variants and adds to them. Needs `sample.n <= size`.
    """
    from hashlib import sha256

    chosen: set[int] = set()
    draw = 0
    while len(chosen) < sample.n:
        digest = sha256(f"specc sample {sample.seed} {draw}".encode("ascii")).digest()
        chosen.add(int.from_bytes(digest, "big") % size)  # the bias of 256 bits modulo size is negligible
        draw += 1
    return sorted(chosen)


def _point(axes: Sequence[Axis], index: int) -> tuple[tuple, ...]:
    """The grid's `index`-th point (the first axis slowest), without expanding the grid."""
    point = []
    for axis in reversed(axes):
        index, at = divmod(index, len(axis.points))
        point.append(axis.points[at])
    return tuple(reversed(point))


def _labels(targets: list[str]) -> dict[str, str]:
    short = {}
    for t in targets:
        prefix = next((p for p in _SHORT if t.startswith(p) and len(t) > len(p)), "")
        short[t] = t[len(prefix):]
    seen = list(short.values())
    return {t: (s if seen.count(s) == 1 else t) for t, s in short.items()}


def _safe(name: str, text: str) -> str:
    if name[:1] in (".", "-", ""):
        name = "_" + name
    return name if len(name) <= _MAX_NAME else _hashed(text, name[: _MAX_NAME - 9])


def _hashed(text: str, name: str) -> str:
    from hashlib import sha256

    return f"{name}-{sha256(text.encode('utf-8')).hexdigest()[:8]}"


# -- running --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What a worker needs to run one variant (picklable)."""

    file: str
    variant: Variant
    directory: str
    limits: PlanLimits = DEFAULT_PLAN_LIMITS
    force: bool = False
    verbose: bool = False
    emit: str = DEFAULT_EMITTER


def complete(job: Job, prepared: Any = None) -> dict | None:
    """The stored row of a variant whose directory holds its complete, unedited run made under the same
    build cache key (specc.buildcache: spec, plan, overrides, versions), else None. `prepared`: the
    variant's Prepared, when plan_variants made it already."""
    from ..buildcache import reusable
    from .runs import RUN_FILE, prepare, run_key
    from .training import has_train

    try:
        if prepared is None:
            prepared = prepare(job.file, job.variant.overrides, job.limits, drop=("sweep",))
    except SpecError:
        return None  # its worker reports it
    if not reusable(Path(job.directory), job.file, run_key(prepared, has_train(prepared.spec), job.emit)):
        return None
    try:
        return json.loads((Path(job.directory) / RUN_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def run_variant(job: Job) -> dict:
    """Build (and train, when the spec has `train:`) one variant. Runs in a worker process.

    Never raises for a failed variant: the row says `failed` and carries the error.
    """
    from .runs import prepare, write_run
    from .training import has_train

    start = time.perf_counter()
    row: dict[str, Any] = {"variant": job.variant.name, "directory": job.directory}
    try:
        check_target(Path(job.directory), job.file, job.force, "run")
        prepared = prepare(job.file, job.variant.overrides, job.limits, drop=("sweep",))
        summary = write_run(Path(job.directory), prepared, train=has_train(prepared.spec),
                            variant=job.variant.name, verbose=job.verbose, emit=job.emit)
        row.update(summary, status="ok")
    except SpecError as e:
        row.update(spec_failure(e))
    except OutputRefused as e:
        row.update(status="failed", error=str(e))
    except Exception as e:  # a worker's outermost boundary: one variant's bug must not stop the others
        row.update(status="failed", error=f"internal error: {type(e).__name__}: {e}", detail=traceback.format_exc())
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def spec_failure(e: SpecError) -> dict:
    """A failed row's fields for a spec error: its first line (located) and the whole of it."""
    return {"status": "failed", "error": str(e).splitlines()[0], "detail": e.render()}


@dataclass
class Outcome:
    experiment: Experiment
    directory: Path
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") != "ok"]


def run(exp: Experiment, output: Path, jobs: int = 1, force: bool = False, limits: PlanLimits = DEFAULT_PLAN_LIMITS,
        verbose: bool = False, on_done: Callable[[dict], None] | None = None,
        unplanned: Sequence[Unplanned] = (),
        execute: Callable[[list[Job], Callable[[dict], None]], None] | None = None,
        emit: str = DEFAULT_EMITTER, prepared: dict[str, Any] | None = None) -> Outcome:
    """Run every variant not already complete, `jobs` at a time, and write the summaries.

    Args:
        on_done: called with each variant's row as it finishes (reused ones first).
        unplanned: variants known not to plan (plan_variants): failed rows, never run.
        execute: runs the pending jobs and calls its second argument with each row as it
            finishes; default: `jobs` local worker processes (specc.experiments.ray_executor
            makes one for Ray).
        emit: the emitter that builds each variant (specc.emit.emitters.EMITTERS).
        prepared: the variants plan_variants prepared, by name: not prepared again to check for reuse.

    Returns:
        The rows, in variant order.
    """
    start = time.perf_counter()
    directory = output / exp.name
    directory.mkdir(parents=True, exist_ok=True)
    todo = [Job(exp.file, v, str(directory / v.name), limits, force, verbose, emit) for v in exp.variants]
    bad = {u.variant.name: u.error for u in unplanned}
    rows: dict[str, dict] = {}
    pending: list[Job] = []
    for job in todo:
        stored = None if force or job.variant.name in bad else complete(job, (prepared or {}).get(job.variant.name))
        if job.variant.name in bad:
            rows[job.variant.name] = {"variant": job.variant.name, "directory": job.directory,
                                      **spec_failure(bad[job.variant.name]), "seconds": 0.0}
            if on_done:
                on_done(rows[job.variant.name])
        elif stored is None:
            pending.append(job)
        else:
            rows[job.variant.name] = {**stored, "variant": job.variant.name, "directory": job.directory,
                                      "status": "ok", "reused": True}
            if on_done:
                on_done(rows[job.variant.name])
    outcome = Outcome(exp, directory)

    def done(row: dict) -> None:
        rows[row["variant"]] = row
        outcome.rows = [rows[j.variant.name] for j in todo if j.variant.name in rows]
        write_summaries(outcome)
        if on_done:
            on_done(row)

    if execute is None:
        _pool(pending, jobs, done)
    else:
        execute(pending, done)
    outcome.rows = [rows[j.variant.name] for j in todo]
    outcome.seconds = time.perf_counter() - start
    write_summaries(outcome)
    return outcome


def _pool(pending: list[Job], jobs: int, done: Callable[[dict], None],
          work: Callable[[Job], dict] = run_variant) -> None:
    """Run `work` on each job in spawned worker processes. A worker that dies (killed, out of memory)
    breaks the pool: the jobs it took down are retried one per fresh worker, so only the culprit fails."""
    if not pending:
        return
    # Imported here: `specc validate` plans a sweep's variants through this module and runs none.
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    context = get_context("spawn")
    broken: list[Job] = []
    with _stopping(ProcessPoolExecutor(max_workers=max(1, min(jobs, len(pending))), mp_context=context)) as pool:
        futures = {pool.submit(work, job): job for job in pending}
        for future in as_completed(futures):
            try:
                done(future.result())
            except BrokenProcessPool:
                broken.append(futures[future])
    for job in sorted(broken, key=pending.index):
        with _stopping(ProcessPoolExecutor(max_workers=1, mp_context=context)) as pool:
            try:
                done(pool.submit(work, job).result())
            except BrokenProcessPool:
                done({"variant": job.variant.name, "directory": job.directory, "status": "failed",
                      "error": "the worker process died (killed, or out of memory) while building this variant"})


@contextmanager
def _stopping(pool: "ProcessPoolExecutor") -> Iterator["ProcessPoolExecutor"]:
    """The pool, shut down on the way out; on an interrupt (Ctrl-C), at once.

    Leaving `with ProcessPoolExecutor()` waits for every queued variant to be built,
    so an interrupt would only return when the sweep is done. Instead the queue is
    cancelled and the workers are terminated (Python < 3.14 has no public way to do
    that): their half-built variants are staging directories the next run removes.
    """
    try:
        yield pool
    except BaseException:
        workers = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
        for process in workers:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# -- summaries ------------------------------------------------------------------------------

COLUMNS = ("variant", "status", "parameters", "trainable_parameters", "shared_parameters", "variables",
           "shared_variables", "ops", "build_seconds", "train_seconds", "steps", "first_loss", "final_loss",
           "reused", "error", "directory")


def summary_json(outcome: Outcome) -> dict:
    exp = outcome.experiment
    return {
        "experiment": exp.name, "spec": str(Path(exp.file).resolve()),
        "sweep": {t: list(values) for t, values in exp.axes},
        **({"zip": list(exp.zipped)} if exp.zipped else {}),
        **({"sample": {"n": exp.sample.n, "seed": exp.sample.seed}} if exp.sample else {}),
        "variants": [{**_values(exp, row), **{k: v for k, v in row.items() if k != "detail"},
                      **({"detail": row["detail"]} if row.get("detail") else {})} for row in outcome.rows],
        "ok": sum(1 for r in outcome.rows if r.get("status") == "ok"),
        "failed": sum(1 for r in outcome.rows if r.get("status") != "ok"),
        "seconds": round(outcome.seconds, 3),
    }


def _values(exp: Experiment, row: dict) -> dict:
    variant = next((v for v in exp.variants if v.name == row["variant"]), None)
    return {"values": dict(variant.values) if variant else {}}


def summary_csv(outcome: Outcome) -> str:
    exp = outcome.experiment
    axes = [t for t, _ in exp.axes]
    buffer = io.StringIO()
    import csv

    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([COLUMNS[0], *axes, *COLUMNS[1:]])
    for row in outcome.rows:
        values = _values(exp, row)["values"]
        cells = [_cell(values.get(t)) for t in axes]
        writer.writerow([row.get("variant"), *cells, *(_cell(row.get(c)) for c in COLUMNS[1:])])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, list, dict)):
        return _overrides.dump_value(value)
    return str(value)


def write_summaries(outcome: Outcome) -> None:
    """summary.json and summary.csv in the experiment's directory, each replaced atomically."""
    write_json(outcome.directory / SUMMARY_JSON, summary_json(outcome))
    write_text(outcome.directory / SUMMARY_CSV, summary_csv(outcome))


def table_rows(outcome: Outcome) -> tuple[list[str], list[list[str]]]:
    """The comparison table as plain strings: (headers, rows). Losses only when something trained."""
    trained = any(r.get("final_loss") is not None for r in outcome.rows)
    failed = any(r.get("status") != "ok" for r in outcome.rows)
    headers = ["variant", "params", "shared params", "variables", "ops", "build s"]
    headers += ["first loss", "final loss"] if trained else []
    headers += ["error"] if failed else []
    out = []
    for r in outcome.rows:
        ok = r.get("status") == "ok"
        cells = [r["variant"] + (" (reused)" if r.get("reused") else "")]
        cells += [f"{r['parameters']:,}", f"{r['shared_parameters']:,}", str(r["variables"]), f"{r['ops']:,}",
                  f"{r['build_seconds']:.2f}"] if ok else ["-"] * 5
        if trained:
            cells += [_loss(r.get("first_loss")), _loss(r.get("final_loss"))]
        if failed:
            cells.append("" if ok else r.get("error", "failed"))
        out.append(cells)
    return headers, out


def _loss(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"
