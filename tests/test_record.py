"""@record: a frozen slotted dataclass, narrow or wide (wide ones are built in an assignable subclass)."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, field, fields, is_dataclass, replace

import pytest

from specc.record import record


@record
class Narrow:
    a: int
    b: str = "b"


@record
class Wide:
    a: int
    b: int
    c: int
    d: int
    e: int = 5
    f: tuple = field(default_factory=tuple)
    g: str = field(default="g", compare=False)

    def __post_init__(self):
        if self.a < 0:
            raise ValueError("a must not be negative")


@record(kw_only=True)
class WideKeywords:
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int


class PlainSubclass(Wide):
    __slots__ = ()


@pytest.mark.parametrize("make", [lambda: Narrow(1), lambda: Wide(1, 2, 3, 4),
                                  lambda: WideKeywords(a=1, b=2, c=3, d=4, e=5, f=6)],
                         ids=["narrow", "wide", "wide keyword-only"])
def test_a_record_is_a_frozen_slotted_dataclass_of_its_own_class(make):
    value = make()
    assert type(value) is type(value).__mro__[0] and type(value).__mro__[1] is object
    assert is_dataclass(value) and not hasattr(value, "__dict__")
    with pytest.raises(FrozenInstanceError):
        value.a = 2
    with pytest.raises(FrozenInstanceError):
        del value.a
    assert value == make() and hash(value) == hash(make())
    assert replace(value, a=2).a == 2 and replace(value, a=2) != value and type(replace(value, a=2)) is type(value)
    assert pickle.loads(pickle.dumps(value)) == value and copy.deepcopy(value) == value


def test_a_wide_record_keeps_defaults_factories_comparisons_and_post_init():
    value = Wide(1, 2, 3, 4)
    assert (value.e, value.f, value.g) == (5, (), "g")
    assert Wide(1, 2, 3, 4, g="other") == value  # g is not compared
    assert repr(value) == "Wide(a=1, b=2, c=3, d=4, e=5, f=(), g='g')"
    assert [f.name for f in fields(value)] == list("abcdefg")
    with pytest.raises(ValueError, match="must not be negative"):
        Wide(-1, 2, 3, 4)
    with pytest.raises(TypeError):
        WideKeywords(1, 2, 3, 4, 5, 6)


def test_an_instance_of_a_plain_subclass_keeps_its_class():
    value = PlainSubclass(1, 2, 3, 4)
    assert type(value) is PlainSubclass and (value.a, value.d, value.e) == (1, 4, 5)
    with pytest.raises(FrozenInstanceError):
        value.a = 2
