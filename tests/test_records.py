"""``engine.records.record`` makes what ``dataclasses.dataclass`` makes, for what
the package uses: each case defines one class body under both and compares."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_bytecode.engine import records


def _both(body: str, options: str = "") -> tuple[Any, Any]:
    """The class ``body`` (its lines after ``class C:``) made by ``record`` and by
    ``dataclass``, with the same ``options``."""
    made = []
    for deco in ("record", "dataclass"):
        source = f"from __future__ import annotations\n@{deco}({options})\nclass C:\n" + "".join(
            f"    {line}\n" for line in body.strip().splitlines()
        )
        space: dict[str, Any] = {
            "__name__": __name__,  # dataclasses looks the module up
            "record": records.record,
            "dataclass": dataclasses.dataclass,
            "field": records.field if deco == "record" else dataclasses.field,
        }
        exec(compile(source, "<case>", "exec"), space)
        made.append(space["C"])
    return made[0], made[1]


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except Exception as exc:  # the exception's type is what must agree
        return ("raised", type(exc).__name__)


BODY = """
'''A record.'''
a: int
b: str = 'x'
c: list[int] = field(default_factory=list)
d: int | None = None
"""


@pytest.mark.parametrize("options", ["", "frozen=True", "eq=False", "unsafe_hash=True"])
def test_init_repr_eq_and_hash_are_dataclasses(options: str) -> None:
    rec, dc = _both(BODY, options)
    for args, kwargs in [((1,), {}), ((1, "y", [2]), {"d": 4}), ((), {"a": 3, "c": [5]})]:
        r, d = rec(*args, **kwargs), dc(*args, **kwargs)
        assert repr(r) == repr(d)
        assert [getattr(r, n) for n in "abcd"] == [getattr(d, n) for n in "abcd"]
        twin_r, twin_d = rec(*args, **kwargs), dc(*args, **kwargs)
        assert (r == twin_r) == (d == twin_d)
        assert (r != rec(99)) == (d != dc(99))
        assert (r == object()) == (d == object())
        assert (
            _outcome(lambda r=r, t=twin_r: hash(r) == hash(t))[0]
            == (_outcome(lambda d=d, t=twin_d: hash(d) == hash(t))[0])
        )
    assert rec(1).c is not rec(1).c  # a fresh default per instance
    assert _outcome(lambda: rec()) == _outcome(lambda: dc())  # a missing argument
    assert _outcome(lambda: rec(1, e=2)) == _outcome(lambda: dc(1, e=2))
    assert rec.__match_args__ == dc.__match_args__
    assert rec.__doc__ == dc.__doc__ == "A record."
    assert rec.b == dc.b == "x"  # a plain default stays on the class
    assert ("c" in vars(rec)) == ("c" in vars(dc))
    assert (rec.__hash__ is None) == (dc.__hash__ is None)


def test_hashable_records_hash_by_value() -> None:
    rec, _ = _both("a: int\nb: tuple[int, ...] = ()", "frozen=True")
    assert hash(rec(1, (2,))) == hash(rec(1, (2,)))
    assert len({rec(1), rec(1), rec(2)}) == 2


def test_frozen_records_refuse_assignment_as_dataclasses_do() -> None:
    rec, dc = _both(BODY, "frozen=True")
    r, d = rec(1), dc(1)
    for target in (r, d):
        with pytest.raises(dataclasses.FrozenInstanceError):
            target.a = 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            del target.a
    assert r.a == 1


def test_slotted_records() -> None:
    rec, dc = _both(
        "a: int\nb: int = 2\n@property\ndef both(self): return self.a + self.b",
        "slots=True, unsafe_hash=True",
    )
    r, d = rec(1), dc(1)
    assert rec.__slots__ == dc.__slots__ == ("a", "b")
    assert not hasattr(r, "__dict__") and not hasattr(d, "__dict__")
    assert (r.both, repr(r), hash(r) == hash(rec(1))) == (d.both, repr(d), hash(d) == hash(dc(1)))
    assert (r == rec(1), r == rec(2), r == d) == (d == dc(1), d == dc(2), d == r)
    assert len({r, rec(1), rec(1, 3)}) == 2
    with pytest.raises(AttributeError):
        r.other = 1


def test_post_init_and_fields_left_out_of_repr_and_compare() -> None:
    body = """
names: list[str] = field(default_factory=list)
seen: int = field(default=0, repr=False, compare=False)
def __post_init__(self): self.seen = len(self.names)
"""
    rec, dc = _both(body)
    r, d = rec(["a", "b"]), dc(["a", "b"])
    assert (repr(r), r.seen) == (repr(d), d.seen) == ("C(names=['a', 'b'])", 2)
    assert (r == rec(["a", "b"], seen=5)) == (d == dc(["a", "b"], seen=5)) is True


def test_replace_and_field_names() -> None:
    rec, _ = _both(BODY, "frozen=True")
    r = rec(1, c=[3])
    changed = records.replace(r, b="z")
    assert (changed.a, changed.b, changed.c, r.b) == (1, "z", [3], "x")
    assert records.field_names(rec) == ("a", "b", "c", "d")
    with pytest.raises(TypeError, match="has no field 'e'"):
        records.replace(r, e=1)


@pytest.mark.parametrize(
    ("body", "options", "message"),
    [
        ("a: int = 1\nb: int", "", "non-default field 'b' follows default field 'a'"),
        ("a: ClassVar[int] = 1", "", "ClassVar"),
        ("a: list[int] = []", "", "mutable default"),
        ("a: int\ndef __hash__(self): return 1", "unsafe_hash=True", "defines __hash__"),
    ],
)
def test_what_records_do_not_make_is_refused(body: str, options: str, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        _both(body, options)


@pytest.mark.parametrize(
    ("body", "options"),
    [
        ("a: int\ndef __eq__(self, other): return self.a == other.a", "frozen=True"),
        ("a: int\ndef __eq__(self, other): return self.a == other.a", ""),
        ("a: int\ndef __hash__(self): return 7", "frozen=True"),
        ("a: int", "eq=False, unsafe_hash=True"),
        ("a: int", "eq=False"),
    ],
)
def test_the_hash_rules_with_methods_of_the_class_own_are_dataclasses(
    body: str, options: str
) -> None:
    rec, dc = _both(body, options)
    assert (rec.__hash__ is None) == (dc.__hash__ is None)
    if dc.__hash__ is not None:
        assert (hash(rec(1)) == hash(rec(1))) == (hash(dc(1)) == hash(dc(1)))
        assert (hash(rec(1)) == 7) == (hash(dc(1)) == 7)


def test_a_nested_slotted_record_keeps_its_qualified_name() -> None:
    class Outer:
        @records.record(slots=True)
        class Inner:
            a: int

    assert Outer.Inner.__qualname__.endswith("Outer.Inner")
    assert repr(Outer.Inner(1)).endswith("Outer.Inner(a=1)")


def test_a_record_base_class_is_refused() -> None:
    @records.record
    class Base:
        a: int

    with pytest.raises(TypeError, match="a base class is a record"):

        @records.record
        class Child(Base):
            b: int
