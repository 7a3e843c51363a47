"""TensorFlow's naming rules, replayed in pure Python for the planner.

Two facts drive everything here (both measured, both tested against TensorFlow):
- a graph has ONE namespace shared by ops and name scopes, compared
  case-insensitively; `Graph.unique_name` appends `_1`, `_2`, ... to a taken name;
- variable names come from the variable-scope path only, but creating a variable
  also claims its full name in that namespace, so a taken name silently becomes
  `kernel_1`. The planner refuses that instead.
"""

from __future__ import annotations

import re

# tensorflow/python/framework/ops.py: _VALID_OP_NAME_REGEX and _VALID_SCOPE_NAME_REGEX.
_ROOT_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_NESTED_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")
# A segment that is good anywhere (segment_problem says None at the root and nested): the planner's
# shortcut for the common case; a segment it does not match gets segment_problem's full check.
PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\\>-]*\Z")


def segment_problem(segment: str, at_root: bool) -> str | None:
    """Why TensorFlow would reject (or misread) `segment` as one scope name, or None.

    At the root a name must start with a letter, digit or '.'; nested names may also
    start with '_' or '-'. A '/' would silently open two levels, and '.'/'..' read
    like a path escape, so both are refused too.
    """
    if not segment:
        return "a scope name cannot be empty"
    if "/" in segment:
        return "a scope name is one segment; '/' would open nested scopes (nest with blocks instead)"
    if set(segment) == {"."}:
        return f"'{segment}' reads like a path, not a scope name"
    if not _NESTED_NAME.match(segment):
        return "TensorFlow scope names use only letters, digits and '_', '.', '-', '>' (no ':' or spaces)"
    if at_root and not _ROOT_NAME.match(segment):
        return ("at the top level TensorFlow requires a scope name to start with a letter, digit or '.' "
                "(a nested scope may start with '_' or '-')")
    return None


class NameRegistry:
    """`tf.Graph.unique_name`, replayed, remembering who claimed each name.

    A claimant is a description, or a tuple (template, *args) formatted only when asked for:
    a big model claims hundreds of thousands of names and a message needs one. Nearly every name
    is claimed once, so the counts TensorFlow keeps are kept only for names claimed again.

    TensorFlow keeps one flat namespace; here each scope holds its own last segments. A name and its
    `_1`, `_2` have the same scope, so the rules are the same; but a big model's layer claims its
    names (a scope, its variables, its ops) in one small table of its own, where a flat one would
    look each of them up, as a new string, among all the model's names.
    """

    def __init__(self, in_use: dict[str, int] | None = None) -> None:
        # lowercased scope ('' the root) -> {lowercased last segment: claimant}
        self._scopes: dict[str, dict[str, str | tuple | None]] = {"": {}}
        self._counts: dict[str, int] = {}  # lowercased full name -> times claimed, where more than once
        # The scope claimed in last, and its table: a layer claims its names one after another.
        self._last_scope, self._last = "", self._scopes[""]
        # `in_use`: a graph's namespace already (specc.apply builds into a caller's graph); None stands
        # for its claimant.
        for name, n in (in_use or {}).items():
            scope, _, last = name.rpartition("/")
            self._in(scope)[last] = None
            if n != 1:
                self._counts[name] = n

    def _in(self, scope: str) -> dict[str, str | tuple | None]:
        """The table of `scope` (lowercased), made on first use; the callers ask `_last` first."""
        table = self._scopes.get(scope)
        if table is None:
            table = self._scopes[scope] = {}
        self._last_scope, self._last = scope, table
        return table

    def unique(self, name: str, claimant: str | tuple) -> str:
        """Claim `name` (a full name such as `tower/MatMul`) and return what TensorFlow calls it."""
        scope, _, last = _key(name).rpartition("/")
        table = self._last if scope == self._last_scope else self._in(scope)
        if last not in table:
            table[last] = claimant
            return name
        full = f"{scope}/{last}" if scope else last
        i = self._counts.get(full, 1)
        self._counts[full] = i + 1
        base = last
        while last in table:
            last = f"{base}_{i}"
            i += 1
        table[last] = claimant
        return f"{name}_{i - 1}"

    def claim(self, name: str, claimant: str | tuple) -> bool:
        """Claim `name` if it is free, as `unique` would; False, claiming nothing, if it is taken."""
        scope, _, last = _key(name).rpartition("/")
        return self._claim(scope, last, claimant)

    def claim_in(self, scope: str, name: str, claimant: str | tuple) -> bool:
        """`claim` of `name` inside `scope` ('' is the root): a variable's name in its variable scope. The
        table keeps the strings given where they are in lower case (a layer type's, a plan's)."""
        if "/" in name:
            return self.claim(f"{scope}/{name}" if scope else name, claimant)
        return self._claim(_key(scope), _key(name), claimant)

    def _claim(self, scope: str, last: str, claimant: str | tuple) -> bool:
        table = self._last if scope == self._last_scope else self._in(scope)
        if last in table:
            return False
        table[last] = claimant
        return True

    def unique_in(self, scope: str, name: str, claimant: str | tuple) -> str:
        """Claim `name` inside `scope` ('' is the root) and return the last segment of what TensorFlow calls it."""
        if not scope:
            return self.unique(name, claimant)
        return self.unique(f"{scope}/{name}", claimant)[len(scope) + 1:]

    def unique_all(self, scope: str, names: tuple[str, ...], claimant: str | tuple) -> tuple[str, ...]:
        """`unique_in` for each of `names` in order (a layer's ops), for one claimant."""
        known = _OPS.get(names)
        if known is None:  # a layer type's ops: a few tuples, each met many times
            lowered = tuple(_key(name) for name in names)
            plain = len(set(lowered)) == len(lowered) and not any("/" in name for name in names)
            known = _OPS[names] = lowered, plain
        lowered, plain = known
        if plain:  # distinct names of one segment each: if none is taken, each is claimed as it is
            scope_key = _key(scope)
            table = self._last if scope_key == self._last_scope else self._in(scope_key)
            if table.keys().isdisjoint(lowered):
                table.update(dict.fromkeys(lowered, claimant))
                return names
        return tuple(self.unique_in(scope, name, claimant) for name in names)

    def claimant(self, name: str) -> str | None:
        """Who first claimed `name` (compared case-insensitively, as TensorFlow does)."""
        scope, _, last = name.lower().rpartition("/")
        table = self._scopes.get(scope, {})
        if last not in table:
            return None
        who = table[last]
        if who is None:
            return "a name already in the graph"
        if isinstance(who, tuple):
            return who[0].format(*who[1:])
        return who

    def in_use(self) -> dict[str, int]:
        """The namespace as `tf.Graph._names_in_use` holds it (name -> times claimed), for tests."""
        names = (f"{scope}/{last}" if scope else last for scope, table in self._scopes.items() for last in table)
        return {name: self._counts.get(name, 1) for name in names}


# A layer's op names -> the same lowercased, and whether they are distinct names of one segment each.
_OPS: dict[tuple[str, ...], tuple[tuple[str, ...], bool]] = {}


def _key(name: str) -> str:
    """`name` as the namespace compares it (lowercased): `name` itself where that changes nothing, so a big
    plan's registry holds one string for it, not two."""
    key = name.lower()
    return name if key == name else key


def requested(fresh: tuple[str, ...]) -> tuple[str, ...]:
    """The names a layer's ops asked for, from the names they got in a name scope of their own.

    A layer reports its ops as TensorFlow names them in a fresh scope: `Reshape`, `Reshape_1` are two
    asks for `Reshape`. In a scope the layer shares with others (`name_scope: false`) the second is
    uniquified from `Reshape` again, after the others' (`Reshape_3`), not from `Reshape_1`
    (`Reshape_1_1`). A `_<n>` name is read as the n-th ask for its base when replaying the asks so
    far gives it that name, as it does for every op TensorFlow's own functions name by default.
    """
    in_use: dict[str, int] = {}  # NameRegistry.unique's bookkeeping, replayed for one fresh scope
    asks = []
    for name in fresh:
        base, sep, n = name.rpartition("_")
        key = name.lower()
        repeated = sep and base and n.isdigit() and key not in in_use and in_use.get(base.lower()) == int(n)
        ask = base if repeated else name
        in_use[ask.lower()] = in_use.get(ask.lower(), 0) + 1
        in_use[key] = in_use.get(key, 0) + (1 if repeated else 0)
        asks.append(ask)
    return tuple(asks)


def join(scope: str, name: str) -> str:
    """A full name under `scope` ('' is the root). Names are checked segments (segment_problem),
    so joining them with '/' is all a path needs; this runs for every name a model claims."""
    return f"{scope}/{name}" if scope else name
