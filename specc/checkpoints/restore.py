"""Checkpoint compatibility: which variables of a model a set of saved variables restores.

The saved side ("source") is a real checkpoint (`specc check`, `build --init-from`)
or an older spec's plan (`specc diff`); the other side ("target") is a plan. Both
are plain (name, shape, dtype) triples here, so nothing in this module needs
TensorFlow; reading a checkpoint is `specc.emit.checkpoint`'s job.

How a target variable finds its source (documented in docs/checkpoints.md):
  1. the `--map` rules rename source names, in order, first match wins (specc.mapping);
     a target that a renamed source lands on restores from it;
  2. otherwise a target restores from the source of its own name, if there is one.
So `--map tower/=right/` fills `right/...` from `tower/...` and still fills
`tower/...` from itself: one saved variable may restore several (untied) ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .mapping import Rule, rename


@dataclass(frozen=True)
class VarInfo:
    """A variable's name, shape and dtype (`None`: not known)."""

    name: str
    shape: tuple[int, ...]
    dtype: str | None

    def describe(self) -> str:
        return f"{list(self.shape)} {self.dtype or '?'}"

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def plan_variables(plan) -> tuple[VarInfo, ...]:
    """A Plan's variables as VarInfo, in plan order."""
    return tuple(VarInfo(v.name, tuple(v.shape), v.dtype) for v in plan.variables)


@dataclass(frozen=True)
class Restore:
    """`variable` (the target) restores from `source`; `rule` renamed it (None: same name)."""

    variable: str
    source: str
    rule: str | None = None
    info: VarInfo | None = None  # the variable's shape and dtype (the same on both sides)


@dataclass(frozen=True)
class Mismatch:
    """`variable` would restore from `source`, but its shape or dtype differs."""

    variable: str
    source: str
    rule: str | None
    expected: VarInfo  # the target's
    found: VarInfo  # the source's

    @property
    def what(self) -> str:
        shape = self.expected.shape != self.found.shape
        dtype = self.found.dtype is not None and self.expected.dtype != self.found.dtype
        return " and ".join(w for w, differs in (("shape", shape), ("dtype", dtype)) if differs)


@dataclass(frozen=True)
class Conflict:
    """Several rules rename different source variables onto one target `variable`."""

    variable: str
    sources: tuple[tuple[str, str], ...]  # (source name, rule text)


@dataclass(frozen=True)
class Comparison:
    """The answer of `compare`: what restores, what stays fresh, what does not fit.

    Attributes:
        restored: target variables that restore, with their sources, in target order.
        missing: target variables no source restores (fresh at initialisation).
        unused: source variables that restore nothing ("unexpected" in a checkpoint).
        mismatched: targets whose source has another shape or dtype.
        conflicts: targets that rules give several sources.
        warnings: `--map` rules that rename nothing.
    """

    restored: tuple[Restore, ...]
    missing: tuple[VarInfo, ...]
    unused: tuple[VarInfo, ...]
    mismatched: tuple[Mismatch, ...]
    conflicts: tuple[Conflict, ...]
    warnings: tuple[str, ...]

    @property
    def compatible(self) -> bool:
        """Every target variable restores, with its shape and dtype."""
        return not (self.missing or self.mismatched or self.conflicts)

    @property
    def restorable(self) -> bool:
        """What restores fits (some targets may stay fresh): what `--init-from` needs."""
        return not (self.mismatched or self.conflicts)

    @property
    def renamed(self) -> tuple[Restore, ...]:
        return tuple(r for r in self.restored if r.rule is not None)

    def assignment_map(self) -> list[tuple[str, str]]:
        """(checkpoint name, variable name) pairs for `tf.compat.v1.train.init_from_checkpoint`,
        which takes them as a dict or, when one saved variable fills several, as a list of pairs."""
        return [(r.source, r.variable) for r in self.restored]


def compare(source: Sequence[VarInfo], target: Sequence[VarInfo], rules: Sequence[Rule] = (),
            what: str = "checkpoint variable") -> Comparison:
    """Which `target` variables the `source` variables restore, under `rules`.

    Args:
        source: the saved variables (a checkpoint's, or an old plan's).
        target: the model's variables.
        rules: parsed `--map` rules, applied to the source names.
        what: how rule warnings call the source names.
    """
    by_name = {v.name: v for v in source}
    renaming = rename(rules, (v.name for v in source), what)
    landed: dict[str, list[tuple[str, str]]] = {}  # target name -> [(source, rule)] from rules
    for old, new, rule in renaming.renamed:
        landed.setdefault(new, []).append((old, rule.text))
    restored, missing, mismatched, conflicts, used = [], [], [], [], set()
    for t in target:
        candidates = landed.get(t.name) or ([(t.name, None)] if t.name in by_name else [])
        if len(candidates) > 1:
            conflicts.append(Conflict(t.name, tuple(candidates)))
            used.update(s for s, _ in candidates)
            continue
        if not candidates:
            missing.append(t)
            continue
        (src, rule), = candidates
        used.add(src)
        found = by_name[src]
        if found.shape != t.shape or (found.dtype is not None and found.dtype != t.dtype):
            mismatched.append(Mismatch(t.name, src, rule, t, found))
        else:
            restored.append(Restore(t.name, src, rule, t))
    unused = tuple(v for v in source if v.name not in used)
    return Comparison(tuple(restored), tuple(missing), unused, tuple(mismatched), tuple(conflicts),
                      renaming.warnings)


def problems(c: Comparison, source: str = "the checkpoint") -> list[str]:
    """One line per reason the comparison is not compatible."""
    out = [f"{m.variable}: {m.what} differs: the model has {m.expected.describe()}, {source} has "
           f"{m.found.describe()} ({m.source})" for m in c.mismatched]
    out += [f"{x.variable}: several variables of {source} are mapped onto it: "
            + ", ".join(f"{s} (--map {r})" for s, r in x.sources) for x in c.conflicts]
    return out


# -- `specc check`: rows and renderers -------------------------------------------------------

def check_json(c: Comparison, model: str, checkpoint: str, mapping: Iterable[Rule] = ()) -> dict:
    return {
        "ok": c.compatible, "compatible": c.compatible, "model": model, "checkpoint": checkpoint,
        "map": [r.text for r in mapping],
        "restored": [{"variable": r.variable, "from": r.source, **({"map": r.rule} if r.rule else {})}
                     for r in c.restored],
        "missing": [v.to_json() for v in c.missing],
        "unexpected": [v.to_json() for v in c.unused],
        "mismatched": [{"variable": m.variable, "from": m.source, "differs": m.what,
                        "model": m.expected.to_json(), "checkpoint": m.found.to_json()} for m in c.mismatched],
        "conflicts": [{"variable": x.variable, "from": [{"name": s, "map": r} for s, r in x.sources]}
                      for x in c.conflicts],
        "assignment_map": [list(pair) for pair in c.assignment_map()],
        "warnings": list(c.warnings),
    }


def assignment_map_text(c: Comparison, checkpoint: str) -> str:
    """Python source for `init_from_checkpoint`: a dict, or a list of pairs when a saved
    variable fills several (a dict cannot hold the same key twice)."""
    pairs = c.assignment_map()
    sources = [s for s, _ in pairs]
    if len(set(sources)) == len(sources):
        body = "{\n" + "".join(f"    {s!r}: {v!r},\n" for s, v in pairs) + "}"
    else:
        body = "[\n" + "".join(f"    ({s!r}, {v!r}),\n" for s, v in pairs) + "]"
    return f"tf.compat.v1.train.init_from_checkpoint({checkpoint!r}, {body})"


def render_check_table(c: Comparison, console, model: str, checkpoint: str) -> None:
    from rich.table import Table

    table = Table(title=f"{model} against {checkpoint}", title_justify="left")
    for column in ("status", "variable", "checkpoint variable", "model", "checkpoint"):
        table.add_column(column)
    for r in c.restored:
        shape = r.info.describe() if r.info else ""
        table.add_row("renamed" if r.rule else "ok", r.variable, r.source + (f" (--map {r.rule})" if r.rule else ""),
                      shape, shape)
    for v in c.unused:
        table.add_row("unexpected", "", v.name, "", v.describe())
    for v in c.missing:
        table.add_row("missing", v.name, "", v.describe(), "")
    for m in c.mismatched:
        table.add_row(m.what, m.variable, m.source, m.expected.describe(), m.found.describe())
    for x in c.conflicts:
        table.add_row("conflict", x.variable, "\n".join(f"{s} (--map {r})" for s, r in x.sources), "", "")
    console.print(table)
    if c.renamed and c.restorable:
        console.print("assignment map (scopes were renamed):", markup=False)
        console.print(assignment_map_text(c, checkpoint), markup=False)
    total = len(c.restored) + len(c.missing) + len(c.mismatched) + len(c.conflicts)
    extra = f"; {_count(len(c.unused), 'checkpoint variable')} unused" if c.unused else ""
    if c.compatible:
        console.print(f"compatible: all {total} variables of {model} restore from {checkpoint}{extra}",
                      markup=False)
    else:
        console.print(f"not compatible: {len(c.restored)}/{total} variables restore; {len(c.missing)} missing, "
                      f"{len(c.mismatched)} with another shape or dtype, {len(c.conflicts)} conflicts{extra}",
                      markup=False)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def render_check_json(c: Comparison, console, model: str, checkpoint: str, mapping=()) -> None:
    console.print_json(json.dumps(check_json(c, model, checkpoint, mapping)))


CHECK_RENDERERS: dict[str, Callable] = {"table": render_check_table, "json": render_check_json}


# -- a real checkpoint; `specc build --init-from`: what restored, what is fresh --------------------------------

@dataclass(frozen=True)
class CheckpointMatch:
    """A model's variables against a real checkpoint: the checkpoint (its resolved prefix),
    the rules, and the comparison. What `specc.check` returns, and what `build(...,
    init_from=...)` rewired the graph's initializers from (`model.init_from`)."""

    checkpoint: str
    mapping: tuple[Rule, ...]
    comparison: Comparison

    @property
    def compatible(self) -> bool:
        return self.comparison.compatible

    @property
    def restored(self) -> tuple[Restore, ...]:
        return self.comparison.restored

    @property
    def fresh(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.comparison.missing)

    def to_json(self) -> dict:
        c = self.comparison
        return {
            "checkpoint": self.checkpoint, "map": [r.text for r in self.mapping],
            "restored": [{"variable": r.variable, "from": r.source, **({"map": r.rule} if r.rule else {})}
                         for r in c.restored],
            "fresh": list(self.fresh),
            "unused": [v.name for v in c.unused],
            "warnings": list(c.warnings),
        }


def render_init_from(init: CheckpointMatch, console) -> None:
    """Lines for `specc build`'s table output."""
    c = init.comparison
    console.print(f"init from {init.checkpoint}: {len(c.restored)} variables restored, "
                  f"{len(c.missing)} fresh", markup=False)
    for r in c.restored:
        console.print(f"  restored {r.variable}" + (f" <- {r.source} (--map {r.rule})" if r.rule else ""),
                      markup=False)
    for name in init.fresh:
        console.print(f"  fresh    {name}", markup=False)
    if c.unused:
        console.print(f"  unused checkpoint variables: {', '.join(v.name for v in c.unused)}", markup=False)
