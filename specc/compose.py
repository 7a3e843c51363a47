"""Stage 1a, compose: `base:` and `include:` merge other spec files under this one, then `--set` on top.

    loaded file -> its bases, merged in order (recursively, cycles refused) -> this file's
    own keys merged over them -> overrides (specc.overrides) -> the sweep's paths checked

Merge rules (docs/spec-language.md#extending-a-spec-base-and-include):
- mappings merge key by key, recursively; the including file's value wins;
- a list under a key `layers` (the top level's, a block's, a template's) merges by
  layer id: a layer whose id the base has merges into that layer, in the base's
  place (`replace: true`: replaces it whole; `remove: true`: deletes it); a new id
  is appended;
- every other value (lists included: `outputs`, `shape`) replaces the base's.

Paths in `base:` and `include:` are relative to the file that writes them, never
to the working directory. Every node keeps the file, line and column it came from
(Document marks with a file), so a mistake in a base is reported in the base.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import read as _load
from . import overrides as _overrides
from .errors import SpecPath, UnknownPath
from .read import DEFAULT_LIMITS, Document, Limits

BASE_KEYS = ("base", "include")
MARKERS = ("remove", "replace")  # on a layer of a spec that extends another


def load(path: str | Path, limits: Limits = DEFAULT_LIMITS, overrides=()) -> Document:
    """Load a spec file with its bases merged in and the overrides applied.

    Raises:
        SpecError: anything wrong with the file or its bases (located in the file that is
            wrong), a cycle of bases, or an override whose path names nothing.
    """
    return compose(_load.load(path, limits), limits, overrides)


def compose(doc: Document, limits: Limits = DEFAULT_LIMITS, overrides=()) -> Document:
    """A loaded Document with its bases merged in, overrides applied and the sweep's paths checked.

    A document without `base:`/`include:` and without overrides comes back as it is
    (after the checks), so composing twice is harmless. A document made from text
    (`specc.loads`) resolves its bases against the directory of its name.
    """
    if isinstance(doc.data, dict) and any(k in doc.data for k in BASE_KEYS):
        doc = _Composer(limits).document(doc, (_identity(doc.file),))
    if isinstance(doc.data, dict):
        _check_markers(doc, doc.data.get("layers"), ("layers",))
        templates = doc.data.get("templates")
        for name, template in templates.items() if isinstance(templates, dict) else ():
            if isinstance(template, dict):
                _check_markers(doc, template.get("layers"), ("templates", name, "layers"))
    doc, _ = _overrides.apply(doc, tuple(overrides))
    check_sweep(doc)
    return doc


def check_sweep(doc: Document) -> None:
    """Each path of `sweep:` (and of its `zip:`) names a node of this spec (or one the schema allows)."""
    sweep = doc.data.get("sweep") if isinstance(doc.data, dict) else None
    if not isinstance(sweep, dict):
        return  # the schema reports it
    group = sweep.get("zip")
    paths = [(t, ("sweep", t)) for t in sweep if t not in ("zip", "sample")]
    paths += [(t, ("sweep", "zip", t)) for t in group] if isinstance(group, dict) else []
    for target, at in paths:
        try:
            keys = _overrides.parse_path(target)
            _overrides.locate(doc.data, keys)
        except _overrides.OverrideSyntaxError as e:
            raise doc.error(str(e), at, at_key=True) from None
        except UnknownPath as e:
            raise doc.error(f"sweep path '{target}': {e.message}", at, at_key=True) from None


def _identity(file: str) -> Path:
    return Path(file).resolve()


class _Composer:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.read = 0  # files read so far: a file included twice is read (and merged) twice

    def document(self, doc: Document, stack: tuple[Path, ...]) -> Document:
        """`doc` with its own bases merged under it (and theirs under them)."""
        data = doc.data
        if not isinstance(data, dict) or not any(k in data for k in BASE_KEYS):
            return doc
        merged: Document | None = None
        for at, text in self.parents(doc):
            target = Path(os.path.normpath(Path(doc.file).parent / text))
            identity = _identity(str(target))
            if identity in stack:
                names = [str(p) for p in stack[stack.index(identity):]] + [str(identity)]
                raise doc.error(f"bases extend each other in a cycle: {' -> '.join(names)}", at)
            if not target.is_file():
                raise doc.error(f"no such file '{text}' (looked for {target}: a path in `{at[0]}:` is relative to "
                                "the file that writes it)", at)
            # Each level is a recursion here, and files that include one file twice multiply.
            if len(stack) >= self.limits.max_depth:
                raise doc.error(f"bases and includes extend each other more than {self.limits.max_depth} files deep "
                                "(specc.limits.Limits.max_depth)", at)
            self.read += 1
            if self.read > self.limits.max_files:
                raise doc.error(f"the spec reads more than {self.limits.max_files:,} files through `base:` and "
                                "`include:` (a file included twice is read twice, so includes that repeat "
                                "multiply); the limit is specc.limits.Limits.max_files", at)
            parent = self.document(_load.load(target, self.limits), stack + (identity,))
            merged = parent if merged is None else _Merger(merged, parent).run()
        own = replace(doc, data={k: v for k, v in data.items() if k not in BASE_KEYS})
        return _Merger(merged, own).run() if merged is not None else own

    def parents(self, doc: Document) -> list[tuple[SpecPath, str]]:
        """(where it is written, the path) of `base:` and then each `include:` entry, in merge order."""
        out: list[tuple[SpecPath, str]] = []
        base = doc.data.get("base")
        if "base" in doc.data:
            if not isinstance(base, str) or not base:
                raise doc.error("`base:` is the path of one spec file, relative to this one", ("base",))
            out.append((("base",), base))
        if "include" in doc.data:
            include = doc.data["include"]
            if isinstance(include, str):
                include = [include]
                out.append((("include",), include[0]))
            elif isinstance(include, list) and all(isinstance(p, str) and p for p in include):
                out.extend((("include", i), p) for i, p in enumerate(include))
            else:
                raise doc.error("`include:` is a list of spec files, relative to this one", ("include",))
        return out


class _Merger:
    """Merge `child` over `base`: data, and the marks of every node (each with its own file)."""

    def __init__(self, base: Document, child: Document):
        self.base, self.child = base, child
        self.file = child.file
        self.marks: dict = {}
        self.key_marks: dict = {}
        self.sources = {**base.sources, **child.sources}
        if base.file != child.file:
            self.sources[base.file] = base.lines

    def run(self) -> Document:
        data = self.merge(self.base.data, (), self.child.data, (), ())
        return replace(self.child, data=data, marks=self.marks, key_marks=self.key_marks, origins={},
                       sources=self.sources)

    def note(self, doc: Document, src: SpecPath, dst: SpecPath) -> None:
        """Record the marks of `src` in `doc` as those of `dst`, naming the file when it is not the result's."""
        for table, out in ((doc.marks, self.marks), (doc.key_marks, self.key_marks)):
            mark = table.get(src)
            if mark is not None:
                out[dst] = self.relative(doc, mark)

    def relative(self, doc: Document, mark: tuple) -> tuple:
        file = mark[2] if len(mark) > 2 else doc.file
        return (mark[0], mark[1]) if file == self.file else (mark[0], mark[1], file)

    def copy(self, doc: Document, value: Any, src: SpecPath, dst: SpecPath) -> Any:
        self.note(doc, src, dst)
        if isinstance(value, dict):
            return {k: self.copy(doc, v, src + (k,), dst + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.copy(doc, v, src + (i,), dst + (i,)) for i, v in enumerate(value)]
        return value

    def merge(self, base: Any, bsrc: SpecPath, child: Any, csrc: SpecPath, dst: SpecPath) -> Any:
        if isinstance(base, dict) and isinstance(child, dict):
            self.note(self.base, bsrc, dst)
            self.note(self.child, csrc, dst)  # the merged mapping is where the child writes it
            out = {}
            for k, v in base.items():
                if k in child:
                    out[k] = self.merge(v, bsrc + (k,), child[k], csrc + (k,), dst + (k,))
                else:
                    out[k] = self.copy(self.base, v, bsrc + (k,), dst + (k,))
            for k, v in child.items():
                if k not in base:
                    out[k] = self.copy(self.child, v, csrc + (k,), dst + (k,))
            return out
        if dst[-1:] == ("layers",) and isinstance(base, list) and isinstance(child, list):
            return self.layers(base, bsrc, child, csrc, dst)
        return self.copy(self.child, child, csrc, dst)

    def layers(self, base: list, bsrc: SpecPath, child: list, csrc: SpecPath, dst: SpecPath) -> list:
        """Lists of layers merge by id; see the module docstring."""
        self.note(self.base, bsrc, dst)
        self.note(self.child, csrc, dst)
        ids = {layer["id"]: i for i, layer in enumerate(base) if isinstance(layer, dict) and isinstance(layer.get("id"), str)}
        # What goes where: the base's layers in their order, then the new ones.
        plan: list[tuple[str, int, int | None]] = [("base", i, None) for i in range(len(base))]
        seen: dict[str, int] = {}
        for j, layer in enumerate(child):
            at = csrc + (j,)
            ident = layer.get("id") if isinstance(layer, dict) else None
            markers = {m: layer[m] for m in MARKERS if isinstance(layer, dict) and m in layer}
            for m, flag in markers.items():
                if not isinstance(flag, bool):
                    raise self.child.error(f"`{m}:` is true or false", at + (m,))
            if isinstance(ident, str) and ident in seen:
                raise self.child.error(f"layer '{ident}' is written twice in this list (first at line "
                                       f"{self.child.where(csrc + (seen[ident],)).line}); merge the two",
                                       at + ("id",), at_key=True)
            if isinstance(ident, str):
                seen[ident] = j
            if markers.get("remove") and markers.get("replace"):
                raise self.child.error("a layer is either removed or replaced, not both", at + ("replace",), at_key=True)
            if ident not in ids:
                for m in (m for m, flag in markers.items() if flag):
                    hint = difflib.get_close_matches(str(ident), list(ids), n=1)
                    fix = f"did you mean '{hint[0]}'?" if hint else f"its layers here: {', '.join(ids) or 'none'}"
                    raise self.child.error(f"`{m}: true`, but the base has no layer '{ident}' here to {m}; {fix}",
                                           at + (m,), at_key=True)
                plan.append(("child", j, None))
                continue
            i = ids[ident]
            if markers.get("remove"):
                extra = sorted(set(layer) - {"id", "remove"})
                if extra:
                    raise self.child.error(f"a removed layer takes only `id` and `remove`; drop '{extra[0]}'",
                                           at + (extra[0],), at_key=True)
                plan[i] = ("removed", i, None)
            elif markers.get("replace"):
                plan[i] = ("child", j, None)
            else:
                plan[i] = ("merge", i, j)
        out: list = []
        for kind, i, j in plan:
            if kind == "removed":
                continue
            place = dst + (len(out),)
            if kind == "base":
                out.append(self.copy(self.base, base[i], bsrc + (i,), place))
            elif kind == "child":
                out.append(self.copy(self.child, _unmarked(child[i]), csrc + (i,), place))
            else:
                out.append(self.merge(base[i], bsrc + (i,), _unmarked(child[j]), csrc + (j,), place))
        return out


def _unmarked(layer: Any) -> Any:
    return {k: v for k, v in layer.items() if k not in MARKERS} if isinstance(layer, dict) else layer


def _check_markers(doc: Document, layers: Any, path: SpecPath) -> None:
    """`remove:`/`replace:` left after merging: a spec without a base, or a layer the base does not have."""
    if not isinstance(layers, list):
        return
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            continue
        for m in MARKERS:
            if m in layer:
                raise doc.error(f"`{m}:` only means something in a spec with `base:` or `include:`, on a layer "
                                f"whose id the base has ({m}s the base's layer)", path + (i, m), at_key=True)
        if "layers" in layer:  # (a spec's many plain layers need no call of their own)
            _check_markers(doc, layer["layers"], path + (i, "layers"))
