"""`specc diff`: how two specs' variables differ, and whether a checkpoint of the old one restores
into the new one. From the two plans alone: no TensorFlow.

The question is the checkpoint's: a checkpoint of OLD restores into NEW unchanged when
every variable of NEW exists in OLD (after the `--map` rules) with its shape and dtype.
Besides the plain differences (only in OLD, only in NEW, shape or dtype changed), it
finds what a reader of the two specs would miss: sharing that changed (one variable
used by two layers that are now two variables, or the reverse) and likely renames (a
variable gone and one come with the same shape, at the same place in the order), with
the `--map` rules that would restore them.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Callable, Sequence

from .restore import Comparison, VarInfo, compare, plan_variables
from .mapping import Rule, parse_rules, suggest
from ..plans import Plan


@dataclass(frozen=True)
class SharingChange:
    """`split`: one OLD variable, used by `layers`, is several NEW variables.
    `merged`: several OLD variables, used by `layers`, are one NEW variable."""

    kind: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    layers: tuple[str, ...]


@dataclass(frozen=True)
class LikelyRename:
    """A NEW variable that is probably `old` under another name. `why`: "rename" (OLD's
    variable is gone), or "untied" (OLD's variable was shared by layers that now have one each)."""

    old: VarInfo
    new: VarInfo
    why: str


@dataclass(frozen=True)
class Diff:
    """The difference between two plans, as a checkpoint of the old one sees it.

    Attributes:
        comparison: OLD's variables (the source, renamed by `mapping`) against NEW's.
        sharing: sharing changes between layers of the same path in both specs.
        likely_renames: pairs the rules do not yet cover.
        suggested_map: rules that would cover them (after `mapping`).
        suggested_compatible: whether OLD restores into NEW with them (None: nothing to suggest).
    """

    old: Plan
    new: Plan
    mapping: tuple[Rule, ...]
    comparison: Comparison
    sharing: tuple[SharingChange, ...]
    likely_renames: tuple[LikelyRename, ...]
    suggested_map: tuple[str, ...]
    suggested_compatible: bool | None

    @property
    def compatible(self) -> bool:
        return self.comparison.compatible

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.comparison.restored if r.rule is None)


def diff(old: Plan, new: Plan, mapping: Sequence[str | Rule] = ()) -> Diff:
    """Compare two plans' variables.

    Args:
        old: the plan whose checkpoint would be restored.
        new: the plan it would be restored into.
        mapping: `--map` rules (text or parsed), applied to OLD's names.

    Raises:
        MappingError: a rule that cannot be parsed.
    """
    rules = parse_rules(mapping)
    source, target = plan_variables(old), plan_variables(new)
    c = compare(source, target, rules, what=f"variable of {old.name}")
    sharing = _sharing_changes(old, new)
    renames = _likely_renames(c, sharing, {v.name: v for v in source})
    suggested = suggest((r.old.name, r.new.name) for r in renames)
    compatible_with = compare(source, target, rules + parse_rules(suggested)).compatible if suggested else None
    return Diff(old, new, rules, c, sharing, renames, suggested, compatible_with)


def _bindings(plan: Plan) -> dict[tuple[str, str], str]:
    """(layer path, the variable's local name) -> full variable name, for every layer's every use."""
    return {(layer.path, b.local): b.name for layer in plan.walk() for b in layer.variables}


def _sharing_changes(old: Plan, new: Plan) -> tuple[SharingChange, ...]:
    # A use is the same in both specs when the same layer path uses the same local variable
    # (`kernel`), whatever the variable is called: that survives renames of scopes and variables.
    ob, nb = _bindings(old), _bindings(new)
    common = [k for k in ob if k in nb]
    out = []
    for kind, first, second in (("split", ob, nb), ("merged", nb, ob)):
        groups: dict[str, list[tuple[str, str]]] = {}
        for k in common:
            groups.setdefault(first[k], []).append(k)
        for var, keys in groups.items():
            others = list(dict.fromkeys(second[k] for k in keys))
            if len(others) > 1:
                layers = tuple(dict.fromkeys(path for path, _ in keys))
                pair = ((var,), tuple(others)) if kind == "split" else (tuple(others), (var,))
                out.append(SharingChange(kind, *pair, layers))
    return tuple(out)


def _likely_renames(c: Comparison, sharing: Sequence[SharingChange],
                    old_vars: dict[str, VarInfo]) -> tuple[LikelyRename, ...]:
    """Pair NEW variables nothing restores with OLD variables nothing uses: same shape and dtype,
    in order, the same last name segment (`kernel`) first. Then, for untied variables, the
    OLD variable they were."""
    gone, new = list(c.unused), list(c.missing)
    paired: dict[str, LikelyRename] = {}
    taken: set[str] = set()
    for same_leaf in (True, False):
        for n in new:
            if n.name in paired:
                continue
            for o in gone:
                if (o.name not in taken and o.shape == n.shape and o.dtype == n.dtype
                        and (not same_leaf or o.name.rsplit("/", 1)[-1] == n.name.rsplit("/", 1)[-1])):
                    paired[n.name] = LikelyRename(o, n, "rename")
                    taken.add(o.name)
                    break
    # An untied copy can restore from the variable it was, when that variable still restores its
    # namesake and no rename claims it: a rule renames each saved name once (the first match wins).
    restoring = {r.source for r in c.restored}
    claimed = {r.old.name for r in paired.values()}
    unpaired = {v.name: v for v in new if v.name not in paired}
    for change in sharing:
        if change.kind != "split" or change.old[0] in claimed or change.old[0] not in restoring:
            continue
        was = old_vars[change.old[0]]
        copy = next((unpaired[n] for n in change.new if n in unpaired
                     and (unpaired[n].shape, unpaired[n].dtype) == (was.shape, was.dtype)), None)
        if copy is not None:
            paired[copy.name] = LikelyRename(was, unpaired.pop(copy.name), "untied")
            claimed.add(was.name)
    order = {v.name: i for i, v in enumerate(new)}
    return tuple(sorted(paired.values(), key=lambda r: order[r.new.name]))


# -- rendering --------------------------------------------------------------------------------

def diff_json(d: Diff) -> dict:
    c = d.comparison
    return {
        "ok": d.compatible, "compatible": d.compatible,
        "old": {"file": d.old.file, "model": d.old.name, "variables": len(d.old.variables)},
        "new": {"file": d.new.file, "model": d.new.name, "variables": len(d.new.variables)},
        "map": [r.text for r in d.mapping],
        "unchanged": d.unchanged,
        "only_old": [v.to_json() for v in c.unused],
        "only_new": [v.to_json() for v in c.missing],
        "changed": [{"name": m.variable, "old_name": m.source, "differs": m.what,
                     "old": m.found.to_json(), "new": m.expected.to_json()} for m in c.mismatched],
        "renamed": [{"old": r.source, "new": r.variable, "map": r.rule} for r in c.renamed],
        "conflicts": [{"name": x.variable, "from": [{"old": s, "map": r} for s, r in x.sources]}
                      for x in c.conflicts],
        "sharing": [{"change": s.kind, "old": list(s.old), "new": list(s.new), "layers": list(s.layers)}
                    for s in d.sharing],
        "likely_renames": [{"old": r.old.name, "new": r.new.name, "shape": list(r.new.shape),
                            "dtype": r.new.dtype, "why": r.why} for r in d.likely_renames],
        "suggested_map": list(d.suggested_map),
        "compatible_with_suggested_map": d.suggested_compatible,
        "warnings": list(c.warnings),
    }


def _sharing_text(s: SharingChange) -> str:
    layers = ", ".join(s.layers)
    if s.kind == "split":
        return (f"sharing split: {s.old[0]}, one variable used by {layers} in the old spec, is "
                f"{len(s.new)} variables in the new one: {', '.join(s.new)}")
    return (f"sharing merged: {', '.join(s.old)}, {len(s.old)} variables in the old spec, are one "
            f"variable {s.new[0]} shared by {layers} in the new one")


def render_table(d: Diff, console) -> None:
    from rich.table import Table

    c = d.comparison
    old, new = d.old.file, d.new.file
    # A likely rename's row says what its two "only in" rows would; the JSON keeps all three.
    explained = {r.new.name for r in d.likely_renames} | {r.old.name for r in d.likely_renames if r.why == "rename"}
    rows = [("only in old", v.name, v.describe(), "", "") for v in c.unused if v.name not in explained]
    rows += [("only in new", "", "", v.name, v.describe()) for v in c.missing if v.name not in explained]
    rows += [(f"{m.what} changed", m.source, m.found.describe(), m.variable, m.expected.describe())
             for m in c.mismatched]
    rows += [(f"renamed (--map {r.rule})", r.source, "", r.variable, "") for r in c.renamed]
    rows += [("conflict", "\n".join(f"{s} (--map {r})" for s, r in x.sources), "", x.variable, "")
             for x in c.conflicts]
    rows += [(f"likely {'rename' if r.why == 'rename' else 'untied copy'}", r.old.name, r.old.describe(),
              r.new.name, r.new.describe()) for r in d.likely_renames]
    if rows:
        table = Table(title=f"Variables: {old} -> {new}", title_justify="left")
        for column in ("change", "old", "old shape", "new", "new shape"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for s in d.sharing:
        console.print(_sharing_text(s), markup=False)
    if d.suggested_map:
        maps = " ".join(f"--map {shlex.quote(m)}" for m in d.suggested_map)  # ready to paste into a shell
        then = ("a checkpoint of the old spec then restores into the new one" if d.suggested_compatible
                else "some variables still do not restore")
        console.print(f"suggested: {maps} ({then})", markup=False)
    summary = (f"{d.unchanged} of {len(d.new.variables)} variables unchanged, {len(c.renamed)} renamed by --map; "
               f"{len(c.unused)} only in old, {len(c.missing)} only in new, {len(c.mismatched)} changed")
    console.print(summary, markup=False)
    if d.compatible:
        console.print(f"compatible: a checkpoint of {old} restores into {new}", markup=False)
    else:
        console.print(f"not compatible: a checkpoint of {old} does not restore into {new}", markup=False)


def render_json(d: Diff, console) -> None:
    console.print_json(json.dumps(diff_json(d)))


RENDERERS: dict[str, Callable] = {"table": render_table, "json": render_json}
