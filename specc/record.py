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
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, dataclass, fields
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_SWAP_FROM = 6  # fields from which building through the assignable subclass is the faster way


def record(cls: type[T] | None = None, **options: Any) -> Any:
    """Like `dataclass(frozen=True, slots=True, **options)`, made faster and cheaper to declare."""

    def wrap(cls: type[T]) -> type[T]:
        if not cls.__dict__.get("__doc__"):
            cls.__doc__ = cls.__name__  # dataclass would build one from inspect.signature
        own = {name for name in ("__repr__", "__eq__", "__hash__") if cls.__dict__.get(name) is not None}
        # dataclasses makes the fields and the slots; the methods come from one generated source below
        # (dataclasses compiles one source per method: most of what declaring a class costs at import).
        cls = dataclass(slots=True, init=False, repr=False, eq=False, **options)(cls)
        for name, method in _methods(cls).items():
            if name not in own:
                setattr(cls, name, method)
        return cls

    return wrap(cls) if cls is not None else wrap


def _methods(cls: type) -> dict[str, Callable[..., Any]]:
    """__init__ (storing through each slot's descriptor, or in the assignable subclass), __repr__, __eq__, __hash__, the frozen
    __setattr__/__delattr__ and the pickling pair, as frozen dataclasses have them."""
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
    compared = "".join(f"self.{f.name}, " for f in every if f.compare)
    other = compared.replace("self.", "other.")
    hashed = "".join(f"self.{f.name}, " for f in every if (f.compare if f.hash is None else f.hash))
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in every if f.repr)
    stored = "".join(f"self.{f.name}, " for f in every)
    restore = "".join(f"  set_{f.name}(self, state[{i}])\n" for i, f in enumerate(every))
    source = (
        f"def __init__({params}):\n" + ("\n".join(body) or "  pass") + "\n"
        f"def __repr__(self):\n  return f'{{self.__class__.__qualname__}}({shown})'\n"
        f"def __eq__(self, other):\n"
        f"  if other.__class__ is self.__class__:\n    return ({compared}) == ({other})\n"
        f"  return NotImplemented\n"
        f"def __hash__(self):\n  return hash(({hashed}))\n"
        f"def __setattr__(self, name, value):\n  raise FrozenInstanceError(f'cannot assign to field {{name!r}}')\n"
        f"def __delattr__(self, name):\n  raise FrozenInstanceError(f'cannot delete field {{name!r}}')\n"
        f"def __getstate__(self):\n  return ({stored})\n"
        f"def __setstate__(self, state):\n" + (restore or "  pass\n")
    )
    exec(source, names)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    out = {}
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__", "__getstate__",
                 "__setstate__"):
        method = out[name] = names[name]
        method.__qualname__ = f"{cls.__qualname__}.{name}"
    return out


def _assignable(cls: type) -> type:
    """A subclass of `cls` with its slots and plain attribute assignment, to build an instance in."""
    return type(cls.__name__, (cls,), {"__slots__": (), "__setattr__": object.__setattr__,
                                        "__delattr__": object.__delattr__, "__module__": cls.__module__,
                                        "__qualname__": f"{cls.__qualname__}.<building>"})
