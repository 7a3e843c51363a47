"""Stage 4, plan: Spec -> Plan, without TensorFlow.

The planner walks the layers in build order and replays what TensorFlow will do:
which variable scope each layer enters and whether it reuses, which name scope
its ops land in (with TensorFlow's own uniquification), which variables exist and
who uses them. Every sharing mistake is refused here, at the line that causes it.
"""

from __future__ import annotations

import difflib
import functools
import math
from dataclasses import replace
from typing import Iterable

from .errors import Location, SpecError
from .limits import DEFAULT_PLAN_LIMITS, PlanLimits
from .layers import LAYER_TYPES, FLOAT_DTYPES, LayerContext, TensorInfo
from .layers.base import Inferred, LayerView, layer_dtype, value_problem
from .record import record
from .caller import CallerGraph
from .plans import (Frame, Plan, PlannedInput, PlannedLayer, PlannedOutput, PlannedVariable,
                   VarBinding, VariableUse)
from .scopes import PLAIN_SEGMENT, NameRegistry, join, requested, segment_problem
from .spec import TRAINING_FLAG, LayerSpec, Ref, Spec, reads_flag


def plan(spec: Spec, limits: PlanLimits = DEFAULT_PLAN_LIMITS, caller: CallerGraph | None = None) -> Plan:
    """Plan a spec.

    Args:
        spec: a Spec from `specc.spec.from_document` (or `specc.load`).
        limits: the parameter and layer budgets.
        caller: for `specc.apply`, the caller's graph and scopes: names are planned under its
            scopes and among its names, given inputs get no placeholder, and variables it holds
            already are reused (or refused) as the caller's variable scope says.

    Returns:
        The frozen Plan.

    Raises:
        SpecError: a reference, scope, sharing or shape mistake, or a blown budget, located in the spec.
    """
    return _Planner(spec, limits, caller).run()


@record
class _Ctx:
    """Where the walk is: name stack, variable scope, inherited reuse, enclosing block."""

    name_stack: str = ""
    var_scope: str = ""
    reuse: bool = False
    prefix: str = ""
    # Why variables are reused here: (the sharing block's path, the block that created them).
    shared_by: tuple[str, str] | None = None


@record
class _Captured:
    """A variable scope a layer entered: its path, and the layer holding the TF scope object."""

    var_scope: str
    holder: str
    type: str
    spec: LayerSpec
    where: Location


class _Level:
    """The names visible at one block level: block inputs, then siblings as they are planned."""

    def __init__(self, names: dict[str, str], layers: Iterable[LayerSpec]):
        self.names = dict(names)  # name -> tensor key or layer path
        self.layers = layers
        self.by_id: dict[str, LayerSpec] | None = None  # made when a name is not found, for the message

    def pending(self, name: str) -> LayerSpec | None:
        """The sibling `name` if it is not planned yet (a layer's id is never an input's name)."""
        if self.by_id is None:
            self.by_id = {s.id: s for s in self.layers}
        return None if name in self.names else self.by_id.get(name)


def _frozen(variables: dict[str, PlannedVariable], more_users: dict[str, list[VariableUse]]
            ) -> tuple[PlannedVariable, ...]:
    """The variables as the plan holds them, in creation order, each with every layer that used it."""
    if not more_users:
        return tuple(variables.values())
    return tuple(v if v.name not in more_users else replace(v, users=v.users + tuple(more_users[v.name]))
                 for v in variables.values())


class _Planner:
    def __init__(self, spec: Spec, limits: PlanLimits = DEFAULT_PLAN_LIMITS, caller: CallerGraph | None = None):
        self.spec = spec
        self.limits = limits
        self.caller = caller
        self.parameters = 0
        self.layer_count = 0
        self.doc = spec.document
        self.names = NameRegistry(caller.names_in_use if caller else None)
        # Each variable as the plan holds it, with its creator's use; the uses of layers that reuse it
        # later are gathered apart (most variables have none), and joined when planning ends.
        self.vars: dict[str, PlannedVariable] = {}
        self.more_users: dict[str, list[VariableUse]] = {}
        self.scope_owner: dict[str, _Captured] = {}
        # A layer's variable scope, by its path; a plain leaf's is its scope's owner (see `capture`).
        self.captured: dict[str, _Captured] = {}
        self.planned: dict[str, PlannedLayer] = {}
        self.infos: dict[str, TensorInfo] = {}  # the inputs'; a layer's is its PlannedLayer's output
        self.children: dict[str, dict[str, str]] = {}
        self.inferred: dict[tuple, Inferred] = {}  # (params, *input infos, dtype) -> what infer said
        # The last plain layer's (params, input info, explicit dtype) and its entry of `inferred`: a run
        # of layers written alike finds it by identity, without hashing the params again.
        self.last_plain: tuple = (None, None, None, None)

    # -- errors -----------------------------------------------------------------------

    def fail(self, message: str, layer: LayerSpec | None = None, key: str | None = None,
             where: Location | None = None) -> SpecError:
        if where is None:
            path = layer.path + ((key,) if key else ()) if layer else ()
            return self.doc.error(message, path, at_key=key is not None)
        return SpecError(message, where, self.doc.source_line(where.line))

    def at_ref(self, message: str, ref: Ref) -> SpecError:
        return self.fail(message, where=ref.where)

    def info(self, key: str) -> TensorInfo:
        """The tensor a key names: a layer's output, or an input."""
        layer = self.planned.get(key)
        return self.infos[key] if layer is None else layer.output

    # -- the walk ---------------------------------------------------------------------

    def run(self) -> Plan:
        inputs = []
        place = self.caller
        given = place.given_names if place else frozenset()
        for inp in self.spec.inputs:
            problem = segment_problem(inp.name, at_root=True)
            if problem:
                raise self.fail(f"input name '{inp.name}': {problem}", where=inp.where)
            self.infos[inp.name] = TensorInfo(inp.shape, inp.dtype)
            inputs.append(PlannedInput(inp.name, inp.shape, inp.dtype, inp.default, inp.has_default))
            if inp.has_default:
                problem = value_problem(inp.default, inp.shape, inp.dtype)
                if problem:
                    raise self.fail(f"input '{inp.name}': `default` {problem}",
                                    where=self.doc.where(("inputs", inp.name, "default")))
            if inp.name in given:  # the caller's tensor: no placeholder, no name taken
                continue
            wanted = join(place.name_scope, inp.name) if place else inp.name
            actual = self.names.unique(wanted, f"input '{inp.name}'")
            # In a caller's graph the placeholder takes whatever name is free: nothing refers to it by name.
            if actual != wanted and place is None:
                other = self.names.claimant(inp.name)
                raise self.fail(
                    f"TensorFlow would name this placeholder '{actual}': {other} differs only by case "
                    "(TensorFlow compares names case-insensitively); rename one of them", where=inp.where)
            if inp.has_default:
                self.names.unique(join(actual, "input"), f"input '{inp.name}'")
        root = _Level({i.name: i.name for i in self.spec.inputs}, self.spec.layers)
        written = [i for i in self.spec.inputs if not i.implied]  # the implied training flag is no data input
        default = written[0].name if len(written) == 1 else None
        start = _Ctx(place.name_scope, place.var_scope) if place else _Ctx()
        layers = self.sequence(self.spec.layers, start, [root], default)
        outputs = self.outputs(layers, [root])
        variables = _frozen(self.vars, self.more_users)
        return Plan(self.spec.name, self.spec.file, self.spec.seed, tuple(inputs), layers, variables, outputs,
                    self.spec)

    def sequence(self, specs: tuple[LayerSpec, ...], ctx: _Ctx, env: list[_Level],
                 default: str | None, record: dict[str, str] | None = None) -> tuple[PlannedLayer, ...]:
        """Plan sibling layers in order, each reading the previous one by default; `record` maps their ids to paths."""
        out = []
        for spec in specs:
            layer = self.layer(spec, ctx, env, default)
            env[0].names[spec.id] = layer.path
            if record is not None:
                record[spec.id] = layer.path
            out.append(layer)
            default = layer.path
        return tuple(out)

    def layer(self, spec: LayerSpec, ctx: _Ctx, env: list[_Level], default: str | None) -> PlannedLayer:
        self.layer_count += 1
        if self.layer_count > self.limits.max_layers:
            raise self.fail(f"the model has more than {self.limits.max_layers:,} layers (after expansion); "
                            "raise the limit with --max-layers if that is intended", spec)
        path = ctx.prefix + spec.id
        layer = self.plain_leaf(spec, ctx, env, path, default)
        if layer is not None:
            self.planned[path] = layer
            return layer
        kind = LAYER_TYPES[spec.type]
        inputs = self.layer_inputs(spec, env, default)
        frames: list[Frame] = []
        stack, var_scope, reuse, shared_by = ctx.name_stack, ctx.var_scope, ctx.reuse, ctx.shared_by
        if spec.name_scope:
            stack = self.open_name_scope(stack, spec.name_scope, spec, "name_scope", path)
            frames.append(Frame("name_scope", spec.name_scope))
        source: _Captured | None = None  # the scope whose variables (and structure) this layer reuses
        if spec.share.mode == "layer":
            if not spec.own_name_scope:
                raise self.fail("`name_scope: false` needs a layer without a variable scope of its own; this one "
                                f"shares '{spec.share.source.text}' by path, which opens a name scope of its id",
                                spec, "name_scope")
            source = self.share_target(spec, path)
            stack = self.open_name_scope(stack, spec.id, spec, "id", path)
            frames += [Frame("name_scope", spec.id), Frame("reenter", source.holder, reuse=True)]
            var_scope, reuse = source.var_scope, True
            shared_by = (path, source.holder)
            self.captured[path] = _Captured(var_scope, source.holder, spec.type, source.spec, spec.where)
        elif kind.scoped and spec.scope is not None:
            problem = segment_problem(spec.scope, at_root=not var_scope or not stack)
            if problem:
                raise self.fail(f"scope '{spec.scope}': {problem}", spec, "scope" if spec.scope != spec.id else "id")
            if not spec.own_name_scope:
                raise self.fail(f"`name_scope: false` needs a layer without a variable scope of its own; this one "
                                f"opens variable scope '{spec.scope}', whose name scope holds its ops; with `scope: "
                                "null` its variables go in the enclosing variable scope and its ops in the enclosing "
                                "name scope", spec, "name_scope")
            var_scope = join(var_scope, spec.scope)
            if spec.share.reenters and not reuse:
                source = self.reuse_target(spec, var_scope)
                shared_by = (path, source.holder)
            elif not reuse:
                self.claim_scope(spec, path, var_scope)
            stack = self.open_name_scope(stack, spec.scope, spec, "scope", path)
            frames.append(Frame("variable_scope", spec.scope, reuse=spec.share.reenters))
            reuse = reuse or spec.share.reenters
            # A sharing block without `layers:` repeats its source's structure; remember that one.
            structure = source.spec if source is not None and spec.layers is None else spec
            self.captured[path] = _Captured(var_scope, path, spec.type, structure, spec.where)
        else:
            if spec.share.reenters:
                raise self.fail(f"a {spec.type} with `scope: null` opens no variable scope, so there is nothing to "
                                 f"re-enter with `share: true`; share another {spec.type} by path instead", spec, "share")
            if spec.own_name_scope:
                stack = self.open_name_scope(stack, spec.id, spec, "id", path)
                frames.append(Frame("name_scope", spec.id))
            # else (`name_scope: false`) its ops take their names directly in the enclosing name scope,
            # uniquified among whatever else is there, as ops made without a scope of their own.
            var_scope = var_scope if kind.scoped else None

        if kind.arity == "block":
            layer = self.block(spec, path, inputs, tuple(frames), stack, var_scope or "", reuse, shared_by,
                               env, source)
        else:
            layer = self.leaf(spec, path, inputs, tuple(frames), stack, var_scope, reuse, shared_by)
        self.planned[path] = layer
        return layer

    def plain_leaf(self, spec: LayerSpec, ctx: _Ctx, env: list[_Level], path: str,
                   default: str | None) -> PlannedLayer | None:
        """A layer written the common way, planned in one step: it reads one tensor (the previous layer's
        unless it says), creates its variables in a variable scope of its own and is one of a kind the
        planner has inferred before (a big spec is mostly such layers). The same records, names and
        order as `layer` and `leaf` would give; None, with nothing changed, for any other layer and for
        anything unusual (a segment to check, a scope taken), which the general path plans, or words
        as an error."""
        kind = LAYER_TYPES[spec.type]
        if (ctx.reuse or self.caller is not None or kind.arity != "single" or not kind.scoped
                or len(spec.inputs) > 1 or spec.name_scope or not spec.own_name_scope
                or spec.share.mode != "create" or spec.variables or spec.initializers):
            return None
        scope = spec.scope
        if scope is None or PLAIN_SEGMENT.match(scope) is None:
            return None
        # What it reads, as layer_inputs finds it first (a wrong reference fails here as it would there).
        source = self.resolve(spec.inputs[0], env, spec) if spec.inputs else default
        if source is None:
            return None
        known = self.known(kind, spec.params, self.info(source), spec.dtype)
        if known is None:
            return None
        inferred, size = known
        if self.parameters + size > self.limits.max_params:
            return None
        var_scope = join(ctx.var_scope, scope)
        captured = _Captured(var_scope, path, spec.type, spec, spec.where)
        if self.scope_owner.setdefault(var_scope, captured) is not captured:
            return None  # a scope taken: `claim_scope` says why
        # From here on what `layer`, `claim_scope`, `open_name_scope`, `leaf` and `create_variable` do, in
        # their order; a variable name that is taken goes to create_variable, which says why. (Every
        # variable's name is claimed in the namespace, so a name free there is a new variable.)
        line = spec.where.line
        names, variables = self.names, self.vars
        stack = names.unique(join(ctx.name_stack, scope), ("layer '{}' (line {})", path, line))
        bindings = []
        users: tuple[VariableUse] | None = None  # variables used alike (a kernel and its bias) share one
        for request in inferred.variables:
            full = f"{var_scope}/{request.name}"
            bindings.append(VarBinding(request.name, full))
            op_scope = join(stack, request.op_scope) if request.op_scope else stack
            use = users[0] if users else None
            if use is None or (use.op_scope, use.updates, use.steps) != (op_scope, request.updated, request.steps):
                users = (VariableUse(path, op_scope, True, request.updated, request.steps),)
            if names.claim_in(var_scope, request.name, ("variable '{}' (layer '{}', line {})", full, path, line)):
                self.parameters += math.prod(request.shape)  # within the budget: checked above
                variables[full] = PlannedVariable(full, request.shape, request.dtype, request.initializer,
                                                  request.trainable, path, users)
            else:
                self.create_variable(spec, path, full, request, users[0])
        ops = names.unique_all(stack, inferred.ops, ("an op of layer '{}' (line {})", path, line))
        return PlannedLayer(path, spec.id, spec.type, spec.where, (Frame("variable_scope", scope),), stack,
                            var_scope, False, (source,), inferred.output, tuple(bindings), ops, spec.params, (),
                            path)

    def known(self, kind, params, info: TensorInfo, explicit: str | None) -> tuple[Inferred, int] | None:
        """What `infer` said before for a layer of these params reading `info` and nothing else (no
        further input, no training flag), if it said it for every such layer (see `leaf`), and the
        parameters of its variables; else None."""
        last = self.last_plain
        if last[0] is params and last[1] is info and last[2] == explicit:
            return last[3]
        training = getattr(params, "training", False)
        if (training is not False and training is not True) or kind.refs(params):
            return None
        try:
            inferred = self.inferred.get((params, info, layer_dtype(explicit, [info])))
        except TypeError:  # params holding a list
            return None
        if (inferred is None or any(r.borrow is not None for r in inferred.variables)
                or (kind.float_only and inferred.output.dtype not in FLOAT_DTYPES)):
            return None
        known = inferred, sum(math.prod(r.shape) for r in inferred.variables)
        self.last_plain = (params, info, explicit, known)
        return known

    # -- inputs and references ----------------------------------------------------------

    def layer_inputs(self, spec: LayerSpec, env: list[_Level], default: str | None) -> tuple[str, ...]:
        kind = LAYER_TYPES[spec.type]
        if kind.arity == "block":
            if spec.block_inputs:
                return tuple(self.resolve(ref, env, spec) for _, ref in spec.block_inputs)
        elif spec.inputs:
            keys = tuple(self.resolve(ref, env, spec) for ref in spec.inputs)
            return keys + self.param_inputs(spec, env) + self.training_input(spec, env)
        elif kind.arity == "source":  # reads nothing unless it says so
            return ()
        if default is None:
            where = "is the first layer" if not spec.path[:-2] else "is the first layer of its block"
            raise self.fail(f"layer '{spec.id}' {where} and has no `input:`; with several model inputs, "
                            "say which one it reads", spec)
        return (default,) + self.param_inputs(spec, env) + self.training_input(spec, env)

    def param_inputs(self, spec: LayerSpec, env: list[_Level]) -> tuple[str, ...]:
        """Further inputs a layer's params name (`initial_state`, `mask`), each located at its key."""
        return tuple(self.resolve(Ref(text, self.doc.where(spec.path + key, at_key=False)), env, spec)
                     for key, text in LAYER_TYPES[spec.type].refs(spec.params))

    def training_input(self, spec: LayerSpec, env: list[_Level]) -> tuple[str, ...]:
        if reads_flag(spec.params):
            info = self.info(TRAINING_FLAG)
            if info.dtype != "bool" or info.shape != ():
                raise self.fail(f"layer '{spec.id}' sets no `training:`, so it reads the model's training flag, the "
                                f"input '{TRAINING_FLAG}'; that input is {info}, not a scalar bool: make it "
                                "{shape: [], dtype: bool, default: false}, or set `training:` on the layer", spec)
            return (TRAINING_FLAG,)
        training = getattr(spec.params, "training", None)
        if not isinstance(training, str):
            return ()
        ref = Ref(training, spec.at("training", self.doc))
        key = self.resolve(ref, env, spec)
        info = self.info(key)
        if info.dtype != "bool" or info.shape != ():
            raise self.at_ref(f"`training` must name a scalar bool input (shape [], dtype bool); "
                              f"'{training}' is {info}", ref)
        return (key,)

    def resolve(self, ref: Ref, env: list[_Level], spec: LayerSpec) -> str:
        """A reference -> a tensor key: siblings first, then outwards; dots step into blocks."""
        first, *rest = ref.text.split(".")
        key = None
        for level in env:
            if first in level.names:
                key = level.names[first]
                break
            later = level.pending(first)
            if later is not None:
                raise self.forward_reference(ref, spec, later, level)
        if key is None:
            raise self.unknown_reference(ref, env)
        for i, part in enumerate(rest):
            kids = self.children.get(key)
            if kids is None:
                raise self.at_ref(f"'{'.'.join([first, *rest[:i]])}' is not a block, so it has no layer "
                                  f"'{part}'", ref)
            if part not in kids:
                hint = difflib.get_close_matches(part, list(kids), n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"its layers: {', '.join(kids)}"
                raise self.at_ref(f"block '{key}' has no layer '{part}'; {fix}", ref)
            key = kids[part]
        return key

    def forward_reference(self, ref: Ref, spec: LayerSpec, target: LayerSpec, level: _Level) -> SpecError:
        if target.id == spec.id:
            return self.at_ref(f"layers form a cycle: {spec.id} -> {spec.id}; a layer cannot read its own output",
                               ref)
        chain = self.cycle(target, spec.id, level, [spec.id, target.id])
        if chain:
            return self.at_ref(f"layers form a cycle: {' -> '.join(chain)}; a model is built in order, "
                               "so one of these references must go", ref)
        return self.at_ref(f"'{ref.text}' is defined later (line {target.where.line}); layers are built in "
                           "order, so move it before this layer", ref)

    def cycle(self, node: LayerSpec, goal: str, level: _Level, chain: list[str]) -> list[str] | None:
        for r in node.inputs + tuple(r for _, r in node.block_inputs):
            name = r.text.split(".")[0]
            if name == goal:
                return chain + [goal]
            nxt = level.pending(name)
            if nxt is not None and name not in chain:
                found = self.cycle(nxt, goal, level, chain + [name])
                if found:
                    return found
        return None

    def unknown_reference(self, ref: Ref, env: list[_Level]) -> SpecError:
        visible = [n for level in env for n in level.names]
        hint = difflib.get_close_matches(ref.text.split(".")[0], visible, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else (f"visible here: {', '.join(visible)}" if visible
                                                         else "no inputs or layers are visible here")
        return self.at_ref(f"unknown input or layer '{ref.text}'; {fix}", ref)

    # -- scopes -------------------------------------------------------------------------

    def open_name_scope(self, stack: str, segment: str, spec: LayerSpec, key: str, path: str) -> str:
        problem = segment_problem(segment, at_root=not stack)
        if problem:
            raise self.fail(f"'{segment}': {problem}", spec, key)
        return self.names.unique(join(stack, segment), ("layer '{}' (line {})", path, spec.where.line))

    def claim_scope(self, spec: LayerSpec, path: str, var_scope: str) -> None:
        owner = self.scope_owner.get(var_scope)
        if owner is not None:
            raise self.fail(
                f"layer '{path}' and layer '{owner.holder}' (line {owner.where.line}) both create variables in "
                f"scope '{var_scope}'; set `share: true` on this one to reuse the variables, or give it "
                "another `scope` (a name_scope does not separate variables)", spec,
                "scope" if spec.scope != spec.id else "id")
        self.scope_owner[var_scope] = _Captured(var_scope, path, spec.type, spec, spec.where)

    def reuse_target(self, spec: LayerSpec, var_scope: str) -> _Captured:
        owner = self.scope_owner.get(var_scope)
        if owner is None:
            known = list(self.scope_owner)
            hint = [k for k in known if k.lower() == var_scope.lower()] or difflib.get_close_matches(var_scope, known, n=1)
            fix = f" (did you mean scope '{hint[0]}'?)" if hint else ""
            raise self.fail(
                f"`share: true`, but nothing has created variables in scope '{var_scope}' yet{fix}; the first "
                "layer in a scope creates its variables (no `share`), later ones reuse them", spec, "share")
        if owner.type != spec.type:
            raise self.fail(
                f"`share: true` re-enters scope '{var_scope}', which {owner.type} '{owner.holder}' "
                f"(line {owner.where.line}) created; a {spec.type} cannot reuse a {owner.type}'s variables",
                spec, "share")
        return owner

    def share_target(self, spec: LayerSpec, path: str) -> _Captured:
        ref = spec.share.source
        assert ref is not None
        target = self.lookup_layer(ref, path)
        captured = self.capture(target)
        if captured is None:
            layer = self.planned[target]
            why = ("opens no variable scope (`scope: null`)" if LAYER_TYPES[layer.type].scoped
                   else f"is a {layer.type} layer, which has no variables")
            raise self.at_ref(f"cannot share '{ref.text}': it {why}", ref)
        if captured.type != spec.type:
            raise self.at_ref(f"'{ref.text}' is a {captured.type}; a {spec.type} can only share the "
                              f"variables of another {spec.type}", ref)
        return captured

    def capture(self, path: str) -> _Captured | None:
        """The variable scope the layer at `path` entered, if it entered one. A plain leaf (planned by
        `plain_leaf`) is not in `captured`: it owns the scope it entered, so its owner entry says."""
        captured = self.captured.get(path)
        if captured is None:
            owner = self.scope_owner.get(self.planned[path].var_scope or "")
            if owner is not None and owner.holder == path:
                return owner
        return captured

    def lookup_layer(self, ref: Ref, path: str, key: str = "share") -> str:
        """A `share:` path: the innermost enclosing block's layers first, then outwards (like inputs)."""
        prefixes = [path.rsplit(".", i)[0] + "." for i in range(1, path.count(".") + 1)] + [""]
        written = self.written_paths()
        for prefix in prefixes:
            candidate = prefix + ref.text
            if candidate == path:
                raise self.at_ref("a layer cannot share its own variables", ref)
            if path.startswith(candidate + "."):
                raise self.at_ref(f"'{ref.text}' is a block this layer is inside; a layer cannot share the "
                                  "variables of an enclosing block", ref)
            if candidate in self.planned:
                return candidate
            if candidate in written:
                raise self.at_ref(f"'{ref.text}' is defined later; a layer can only share variables that "
                                  "exist, so move the shared layer first", ref)
        known = sorted(set(self.planned) | written)
        hint = difflib.get_close_matches(ref.text, known, n=1) or difflib.get_close_matches(ref.text.split(".")[-1], known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else "write the layer's dotted path, e.g. tower_a.fc1"
        raise self.at_ref(f"unknown layer '{ref.text}' in `{key}`; {fix}", ref)

    @functools.cached_property
    def _written(self) -> frozenset[str]:
        out: set[str] = set()

        def walk(specs, prefix):
            for s in specs or ():
                out.add(prefix + s.id)
                walk(s.layers, prefix + s.id + ".")
        walk(self.spec.layers, "")
        return frozenset(out)

    def written_paths(self) -> frozenset[str]:
        """Every layer path as written in the spec (copies made by sharing blocks are not written)."""
        return self._written

    # -- layers -------------------------------------------------------------------------

    def leaf(self, spec: LayerSpec, path: str, inputs: tuple[str, ...], frames: tuple[Frame, ...], stack: str,
             var_scope: str | None, reuse: bool, shared_by) -> PlannedLayer:
        kind = LAYER_TYPES[spec.type]
        infos = [self.info(k) for k in inputs]
        flagged = reads_flag(spec.params) or isinstance(getattr(spec.params, "training", None), str)
        data_infos = infos[:-1] if flagged else infos
        dtype = layer_dtype(spec.dtype, data_infos[:1] if kind.arity == "single" else data_infos)
        # A big spec repeats a few kinds of layer thousands of times: infer each kind once.
        try:
            key = (spec.params, *data_infos, dtype)
            inferred = self.inferred.get(key)
        except TypeError:  # params holding a list (a constant's value)
            key = inferred = None
        if inferred is None:
            ctx = LayerContext(lambda message, key: self.fail(f"layer '{path}': {message}", spec, key), path,
                               var_scope, lambda text, key: self.layer_view(spec, path, text, key))
            inferred = spec.params.infer(data_infos, dtype, ctx)
            if key is not None and not ctx.looked_around:
                self.inferred[key] = inferred
        self.check_shape(inferred.output, spec, path)
        bindings = []
        for request, name in self.per_variable(spec, path, inferred.variables):
            if request.borrow is not None:  # another layer's variable, passed as the object
                bindings.append(VarBinding(request.name, request.borrow, borrowed=True))
                self.more_users.setdefault(request.borrow, []).append(VariableUse(path, stack, False))
                continue
            full = join(var_scope or "", name)
            bindings.append(VarBinding(request.name, full))
            use = VariableUse(path, join(stack, request.op_scope) if request.op_scope else stack, not reuse,
                              request.updated, request.steps)
            if reuse:
                self.reuse_variable(spec, path, full, request, use, shared_by)
            else:
                self.create_variable(spec, path, full, request, use)
        # What TensorFlow will call them: a layer that makes `lstm_cell` per step gets lstm_cell_1, ...
        who = ("an op of layer '{}' (line {})", path, spec.where.line)
        # inferred.ops are named as in a name scope of the layer's own; with `name_scope: false` it shares one.
        asks = inferred.ops if spec.own_name_scope else requested(inferred.ops)
        ops = self.names.unique_all(stack, asks, who)
        return PlannedLayer(path, spec.id, spec.type, spec.where, frames, stack, var_scope, reuse, inputs,
                            inferred.output, tuple(bindings), ops, spec.params, (), path)

    def per_variable(self, spec: LayerSpec, path: str, requests) -> list:
        """(request, name to create it under) per variable, after the layer's `variables:` renames and
        `initializers:`, both keyed by the layer type's own local names (`kernel`, `bias`)."""
        if not spec.variables and not spec.initializers:
            return [(r, r.name) for r in requests]
        own = [r.name for r in requests if r.borrow is None]
        for key, pairs in (("variables", spec.variables), ("initializers", spec.initializers)):
            for local, _ in pairs:
                if local not in own:
                    hint = difflib.get_close_matches(local, own, n=1)
                    fix = (f"did you mean '{hint[0]}'?" if hint else
                           f"its variables: {', '.join(own)}" if own else "it creates no variables")
                    raise self.fail(f"layer '{path}' has no variable '{local}'; {fix}",
                                    where=self.doc.where(spec.path + (key, local), at_key=True))
        renames, inits = dict(spec.variables), dict(spec.initializers)
        out, taken = [], {}
        for r in requests:
            name = renames.get(r.name, r.name)
            if name in taken:
                raise self.fail(f"layer '{path}' would create two variables named '{name}' ('{taken[name]}' and "
                                f"'{r.name}'); give them different names", where=self.doc.where(spec.path + ("variables",), at_key=True))
            taken[name] = r.name
            out.append((replace(r, initializer=inits[r.name]) if r.name in inits else r, name))
        return out

    def layer_view(self, spec: LayerSpec, path: str, text: str, key: str) -> LayerView:
        """A planned layer named in a param (`tie: emb`), resolved like a `share:` path."""
        target = self.planned[self.lookup_layer(Ref(text, self.doc.where(spec.path + (key,))), path, key)]
        variables = {b.local: (b.name, self.vars[b.name].shape, self.vars[b.name].dtype) for b in target.variables}
        return LayerView(target.path, target.type, target.params, variables)

    def check_shape(self, info: TensorInfo, spec: LayerSpec, path: str) -> None:
        if info.dtype not in FLOAT_DTYPES and LAYER_TYPES[spec.type].float_only:
            raise self.fail(f"layer '{path}' computes in {info.dtype}; only float layers are supported", spec)

    def create_variable(self, spec: LayerSpec, path: str, full: str, request, use: VariableUse) -> None:
        existing = self.vars.get(full)
        if existing is not None:
            raise self.fail(f"layer '{path}' and layer '{existing.owner}' (line {self.line_of(existing, spec)}) both "
                            f"create variable '{full}'; give one of them another name (`variables:`) or scope, or "
                            "reuse the variable with `share`", spec)
        if not self.reused_from_graph(spec, path, full, request):
            actual = self.names.unique(full, ("variable '{}' (layer '{}', line {})", full, path, spec.where.line))
            if actual != full:
                raise self.fail(self.renamed_variable(full, actual), spec, "scope" if spec.scope != spec.id else "id")
        self.parameters += math.prod(request.shape)
        if self.parameters > self.limits.max_params:
            raise self.fail(
                f"variable '{full}' {list(request.shape)} takes the model to {self.parameters:,} parameters, over "
                f"the budget of {self.limits.max_params:,}; check the sizes (a typo in `units`?), or raise the "
                "budget with --max-params", spec)
        self.vars[full] = PlannedVariable(full, request.shape, request.dtype, request.initializer, request.trainable,
                                          path, (use,))

    def reused_from_graph(self, spec: LayerSpec, path: str, full: str, request) -> bool:
        """Whether get_variable will return a variable the caller's graph holds already (specc.apply
        under a reusing variable scope), rather than create it; refuses what TensorFlow would refuse,
        and a trainable flag it would silently ignore."""
        place = self.caller
        if place is None:
            return False
        found = place.variables.get(full)
        exists = found is not None
        if exists and place.reuse is False:
            raise self.fail(
                f"specc.apply: layer '{path}' creates variable '{full}', but the graph holds it already (TensorFlow "
                f"would say 'Variable {full} already exists, disallowed'); to share the variables of an earlier "
                "application, apply under `tf.compat.v1.variable_scope(..., reuse=True)` (or "
                "`reuse=tf.compat.v1.AUTO_REUSE`); for new variables, apply under another variable scope", spec)
        if not exists and place.reuse is True:
            raise self.fail(
                f"specc.apply: the variable scope reuses (reuse=True), but the graph has no variable '{full}' for "
                f"layer '{path}' to reuse (TensorFlow would say 'Variable {full} does not exist'); apply once "
                "without reuse in the same variable scope first, or use `reuse=tf.compat.v1.AUTO_REUSE` to create "
                "what is missing", spec)
        if not exists or place.reuse is False:
            return False
        want = TensorInfo(request.shape, request.dtype)
        if found.shape != request.shape or found.dtype != request.dtype:
            raise self.fail(
                f"specc.apply: layer '{path}' reuses variable '{full}', which is {found}"
                f" in the graph, but the layer needs {want} (TensorFlow would say 'Trying to share variable {full}, "
                "but specified shape ... and found shape ...'); apply where the graph's variables are this spec's, "
                "or under another variable scope", spec)
        if found.trainable != request.trainable:
            what = "trainable" if found.trainable else "not trainable"
            raise self.fail(
                f"specc.apply: layer '{path}' reuses variable '{full}', which is {what} in the graph, but the spec "
                f"makes it {'trainable' if request.trainable else 'non-trainable'} (TensorFlow would silently keep "
                "the graph's flag)", spec)
        return True

    def renamed_variable(self, full: str, actual: str) -> str:
        holder = self.names.claimant(full) or "another name"
        same_case = holder.startswith("variable '") and holder.split("'")[1] != full
        if same_case or any(v.lower() == full.lower() for v in self.vars):
            return (f"TensorFlow would silently name this variable '{actual}': {holder} differs only by case, "
                    "and TensorFlow compares names case-insensitively. Use one spelling for the scope")
        return (f"TensorFlow would silently name this variable '{actual}', because the name '{full}' is already "
                f"taken by {holder}. Rename that layer or this scope so the names do not meet")

    def reuse_variable(self, spec: LayerSpec, path: str, full: str, request, use: VariableUse, shared_by) -> None:
        existing = self.vars.get(full)
        if existing is None:
            if shared_by is not None and shared_by[0] != path:
                sharer, creator = shared_by
                raise self.fail(
                    f"layer '{path}' needs variable '{full}', but it is inside '{sharer}', which reuses the "
                    f"variables of '{creator}', and that created no such variable; a shared block can only "
                    "have the layers its first application created", spec)
            raise self.fail(f"layer '{path}' reuses scope '{full.rsplit('/', 1)[0]}', but there is no variable "
                            f"'{full}' to reuse (its first user created: "
                            f"{', '.join(v for v in self.vars if v.startswith(full.rsplit('/', 1)[0] + '/')) or 'nothing'})",
                            spec)
        if existing.shape != request.shape:
            raise self.fail(
                f"layer '{path}' shares variable '{full}' but needs shape {list(request.shape)}, while layer "
                f"'{existing.owner}' (line {self.line_of(existing, spec)}) created it with shape "
                f"{list(existing.shape)}; shared layers need inputs of the same width", spec)
        if existing.dtype != request.dtype:
            raise self.fail(
                f"layer '{path}' shares variable '{full}' as {request.dtype}, but layer '{existing.owner}' "
                f"(line {self.line_of(existing, spec)}) created it as {existing.dtype}", spec)
        self.more_users.setdefault(full, []).append(use)

    def line_of(self, variable: PlannedVariable, spec: LayerSpec) -> int:
        """The line of the layer that created `variable`: planned already, or the one planning now."""
        owner = self.planned.get(variable.owner)
        return owner.where.line if owner is not None else spec.where.line

    def block(self, spec: LayerSpec, path: str, inputs: tuple[str, ...], frames: tuple[Frame, ...], stack: str,
              var_scope: str, reuse: bool, shared_by, env: list[_Level], source: _Captured | None) -> PlannedLayer:
        children = spec.layers
        if children is None:
            if source is None or source.spec.layers is None:
                raise self.fail(f"block '{path}' has no `layers:` and shares nothing to copy them from", spec)
            children = source.spec.layers
        formal = [n for n, _ in spec.block_inputs] or ["input"]
        level = _Level(dict(zip(formal, inputs)), children)
        ctx = _Ctx(stack, var_scope, reuse, path + ".", shared_by)
        self.children[path] = {}
        try:
            planned = self.sequence(children, ctx, [level] + env, inputs[0], self.children[path])
        except SpecError as e:
            if spec.layers is not None:
                raise
            # A copied structure: the mistake is this application's (say, a narrower input), so
            # point at this block rather than at the layer it copies.
            raise self.fail(f"{e.message} (in the layers this block repeats from '{source.holder}', "
                            f"line {e.where.line})", spec) from None
        result = planned[-1].path
        if spec.output is not None:
            if spec.output.text.split(".")[0] not in self.children[path]:
                hint = difflib.get_close_matches(spec.output.text, list(self.children[path]), n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"its layers: {', '.join(self.children[path])}"
                raise self.at_ref(f"block '{path}' has no layer '{spec.output.text}'; {fix}", spec.output)
            result = self.resolve(spec.output, [level], spec)
        return PlannedLayer(path, spec.id, spec.type, spec.where, frames, stack, var_scope or None, reuse, inputs,
                            self.info(result), (), (), spec.params, tuple(planned), result)

    def outputs(self, layers: tuple[PlannedLayer, ...], env: list[_Level]) -> tuple[PlannedOutput, ...]:
        if not self.spec.outputs:
            last = layers[-1]
            return (PlannedOutput(last.id, last.path, last.output),)
        out = []
        for ref in self.spec.outputs:
            key = self.resolve(ref, env, None)  # type: ignore[arg-type]
            out.append(PlannedOutput(ref.text, key, self.info(key)))
        return tuple(out)
