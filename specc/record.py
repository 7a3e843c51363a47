"""`@record`: a frozen, slotted dataclass that is cheap to make.

Specs, plans and their locations are frozen dataclasses, and a 100,000-layer model makes
millions of them. A frozen dataclass's generated `__init__` stores each field through
`object.__setattr__`, about 0.3 us a field here; a record stores through the slot's own
descriptor instead, about four times faster, and is otherwise the same dataclass: frozen
after construction, compared by value, `replace()`-able, `fields()`-listed.

A wide record (a planned layer has 15 fields) is built faster still: for the moment of its
`__init__` the new object is of a subclass that adds no slots and may be assigned to, so each
field is a plain attribute store (which the interpreter specialises), and then it is of its
own class again. Swapping the class costs about two stores through a descriptor, so narrow
records keep the descriptors.

Declaring a record compiles nothing: its `__init__` is compiled when its first instance is made
(a run makes few of the kinds its imports declare), and `==` and `hash` gather the fields with
`attrgetter`.
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from operator import attrgetter
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_SWAP_FROM = 6  # fields from which building through the assignable subclass is the faster way


def record(cls: type[T] | None = None, **options: Any) -> Any:
    """Like `dataclass(frozen=True, slots=True, **options)`, made faster and cheaper to declare."""

    def wrap(cls: type[T]) -> type[T]:
        if not cls.__dict__.get("__doc__"):
            cls.__doc__ = cls.__name__  # dataclass would build one from inspect.signature
        own = {name for name in ("__repr__", "__eq__", "__hash__") if cls.__dict__.get(name) is not None}
        # dataclasses makes the fields and the slots; the methods come from _methods below (dataclasses
        # compiles one source per method: most of what declaring a class costs at import).
        cls = dataclass(slots=True, init=False, repr=False, eq=False, **options)(cls)
        for name, method in _methods(cls).items():
            if name not in own:
                setattr(cls, name, method)
        return cls

    return wrap(cls) if cls is not None else wrap


def _methods(cls: type) -> dict[str, Callable[..., Any]]:
    """__init__, __repr__, __eq__, __hash__, the frozen __setattr__/__delattr__ and the pickling pair, as
    frozen dataclasses have them."""
    return {"__init__": _first_init(cls), **_generic_methods(cls, fields(cls))}


def _first_init(cls: type) -> Callable[..., None]:
    """An __init__ that makes the record's own (_init) when the first record of its kind is made, and puts
    it in its place: most records an import declares are never made in a given run (a spec uses a
    few of the layer types), and compiling an __init__ is most of what declaring one costs."""

    def __init__(self, *args, **kwargs):
        init = _init(cls)
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        setattr(cls, "__init__", init)
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init(cls: type) -> Callable[..., None]:
    """__init__, storing through each slot's descriptor, or in the assignable subclass."""
    names: dict[str, Any] = {"MISSING": MISSING, "FrozenInstanceError": FrozenInstanceError}
    positional, keyword, body, stores = [], [], [], []
    every = fields(cls)
    for f in every:
        if not f.init:
            raise TypeError(f"@record does not support init=False fields ({cls.__name__}.{f.name})")
        names[f"set_{f.name}"] = getattr(cls, f.name).__set__  # the slot's descriptor
        if f.default is not MISSING:
            names[f"default_{f.name}"] = f.default
            param = f"{f.name}=default_{f.name}"
        elif f.default_factory is not MISSING:
            names[f"factory_{f.name}"] = f.default_factory
            param = f"{f.name}=MISSING"
            body.append(f"  if {f.name} is MISSING: {f.name} = factory_{f.name}()")
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        stores.append(f.name)
    if len(stores) >= _SWAP_FROM:
        # A subclass of `cls` has its layout, so an instance may change between the two; an instance
        # of a subclass of `cls` (which has an __init__ of its own if it is a record) stays as it is.
        # (Prefixed names: a field's parameter must not hide them.)
        names["_record_cls"], names["_record_building"] = cls, _assignable(cls)
        names["_record_set"] = object.__setattr__
        body.append("  if self.__class__ is _record_cls:")
        body.append("    _record_set(self, '__class__', _record_building)")
        body += [f"    self.{name} = {name}" for name in stores]
        body.append("    self.__class__ = _record_cls")
        body.append("  else:")
        body += [f"    set_{name}(self, {name})" for name in stores]
    else:
        body += [f"  set_{name}(self, {name})" for name in stores]
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    # What runs for every record made; the rest is generic, below.
    source = f"def __init__({params}):\n" + ("\n".join(body) or "  pass") + "\n"
    exec(source, names)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    return names["__init__"]


def _generic_methods(cls: type, every: tuple) -> dict[str, Callable[..., Any]]:
    """__eq__, __hash__, __repr__, __setattr__, __delattr__ and the pickling pair: closures over the field
    names rather than generated source (compiling source is most of what declaring a record costs, and
    an import declares many); attrgetter gathers the fields compared or hashed at C speed."""
    stored = _fields_tuple([f.name for f in every])
    compared = _fields_tuple([f.name for f in every if f.compare])
    hashed = _fields_tuple([f.name for f in every if (f.compare if f.hash is None else f.hash)])
    shown = [f.name for f in every if f.repr]
    setters = [getattr(cls, f.name).__set__ for f in every]

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self):
        return hash(hashed(self))

    def __repr__(self):
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self):
        return stored(self)

    def __setstate__(self, state):
        for setter, value in zip(setters, state):
            setter(self, value)

    out = {"__eq__": __eq__, "__hash__": __hash__, "__repr__": __repr__, "__setattr__": __setattr__,
           "__delattr__": __delattr__, "__getstate__": __getstate__, "__setstate__": __setstate__}
    for name, method in out.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
    return out


def _fields_tuple(names: list[str]) -> Callable[[Any], tuple]:
    """A function from an instance to the tuple of these fields (attrgetter gives a bare value for one)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _assignable(cls: type) -> type:
    """A subclass of `cls` with its slots and plain attribute assignment, to build an instance in."""
    return type(cls.__name__, (cls,), {"__slots__": (), "__setattr__": object.__setattr__,
                                        "__delattr__": object.__delattr__, "__module__": cls.__module__,
                                        "__qualname__": f"{cls.__qualname__}.<building>"})
