"""The engine's public API: handles, reset, the cache form, originals."""

from __future__ import annotations

import dis
from typing import Any

import pytest

from pytest_bytecode import assert_opcodes, opcodes
from pytest_bytecode.engine import (
    instrument,
    instrument_function,
    iter_code_tree,
    loads,
    original_code,
    state_difference,
    state_sum,
)

SOURCE = """
def area(w, h):
    if w < 0 or h < 0:
        raise ValueError("negative")
    return w * h

def total(items):
    t = 0
    for w, h in items:
        try:
            t += area(w, h)
        except ValueError:
            t -= 1
    return t
"""


def _counts_by_name(inst: object) -> dict[str, dict[int, int]]:
    return {
        c.qualname: {i.offset: i.count for i in c.instructions}
        for c in inst.counts()  # type: ignore[attr-defined]
    }


def test_instrument_counts_every_code_object() -> None:
    inst = instrument(compile(SOURCE, "shapes.py", "exec"))
    names = [c.qualname for c in inst.counts()]
    assert names == ["<module>", "area", "total"]
    # instrumented code objects stay hashable (tools key caches on them)
    assert len({code for _, code in iter_code_tree(inst.code)}) == 3
    assert all(i.count == 0 for c in inst.counts() for i in c.instructions)
    namespace: dict[str, object] = {}
    exec(inst.code, namespace)
    assert namespace["total"]([(2, 3), (-1, 1), (1, 1)]) == 6  # type: ignore[operator]
    counts = _counts_by_name(inst)
    area_code = original_code(namespace["area"].__code__)  # type: ignore[attr-defined]
    area_offsets = {i.offset: i.opname for i in dis.get_instructions(area_code)}
    # every reported offset is an original instruction
    assert set(counts["area"]) <= set(area_offsets)
    returns = [off for off, name in area_offsets.items() if name in ("RETURN_VALUE",)]
    assert counts["area"][returns[-1]] == 2  # two calls returned, one raised


def test_reset_and_branches() -> None:
    inst = instrument(compile(SOURCE, "shapes.py", "exec"))
    namespace: dict[str, object] = {}
    exec(inst.code, namespace)
    namespace["area"](1, 2)  # type: ignore[operator]
    area = next(c for c in inst.counts() if c.qualname == "area")
    assert area.branches and all(sum(o.count for o in b.outcomes) >= 1 for b in area.branches)
    inst.reset()
    assert all(i.count == 0 for c in inst.counts() for i in c.instructions)
    assert all(o.count == 0 for c in inst.counts() for b in c.branches for o in b.outcomes)


def test_dumps_and_loads_round_trip() -> None:
    code = compile(SOURCE, "shapes.py", "exec")
    again = loads(instrument(code).dumps())
    namespace: dict[str, object] = {}
    exec(again.code, namespace)
    assert namespace["total"]([(1, 1)]) == 1  # type: ignore[operator]
    assert _counts_by_name(again)["total"]
    assert original_code(again.code) == code
    with pytest.raises(ValueError, match="not instrumented-code data"):
        loads(b"not marshal data")


def test_loads_names_a_malformed_plan_in_one_error() -> None:
    """The readers' part is read when counts are: one that is not what
    dumps() wrote (a reader state of the wrong shape, another number of
    code objects, counters that do not match) is a ValueError then, and the
    code itself loads and runs."""
    import marshal

    fmt, tag, code, sizes, states, original = marshal.loads(
        instrument(compile(SOURCE, "s.py", "exec")).dumps()
    )
    decoded = marshal.loads(states)
    path, state = decoded[0]
    wrong_shape = ((path, (state[0], ("x",), *state[2:])), *decoded[1:])
    other_counters = ((path, (*state[:3], state[3] + 1, *state[4:])), *decoded[1:])
    for bad in (wrong_shape, decoded[1:], other_counters, b"not marshal data"):
        data = bad if isinstance(bad, bytes) else marshal.dumps(bad)
        handle = loads(marshal.dumps((fmt, tag, code, sizes, data, original)))
        exec(handle.code, {"__name__": "m"})
        with pytest.raises(ValueError, match="malformed plan"):
            handle.counts()
    # The original is loaded only when a plan must be worked out from it:
    # with the plans stored, counts are read without it.
    _, _, _, _, unplanned, _ = marshal.loads(
        instrument(compile(SOURCE, "s.py", "exec")).dumps(plans=False)
    )
    expected = loads(marshal.dumps((fmt, tag, code, sizes, states, original))).counts()
    for bad_original in (b"not marshal data", marshal.dumps(3)):
        handle = loads(marshal.dumps((fmt, tag, code, sizes, unplanned, bad_original)))
        with pytest.raises(ValueError, match="original"):
            handle.counts()
        assert original_code(handle.code) is handle.code  # not known: itself
        planned = loads(marshal.dumps((fmt, tag, code, sizes, states, bad_original)))
        assert planned.counts() == expected
        assert original_code(planned.code) is planned.code
    for bad_sizes in (sizes[:-1], b"\xff" * 8):
        with pytest.raises(ValueError, match="instrumented-code data"):
            loads(marshal.dumps((fmt, tag, code, bad_sizes, states, original)))


def test_a_loaded_tree_reads_its_readers_and_original_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What an import from the cache does (run the code, watch its counters,
    take raw states) leaves the readers and the original code as bytes;
    reading counts makes the readers once, and loads the original only to
    work out a plan that was not stored; the counts and original_code() are
    those of the tree it was saved from."""
    from pytest_bytecode.engine import persist

    asked: list[str] = []
    readers, original = persist.Stored.readers, persist.Stored.original

    def counted_readers(self: persist.Stored) -> Any:
        asked.append("readers")
        return readers(self)

    def counted_original(self: persist.Stored) -> Any:
        asked.append("original")
        return original(self)

    monkeypatch.setattr(persist.Stored, "readers", counted_readers)
    monkeypatch.setattr(persist.Stored, "original", counted_original)
    code = compile(SOURCE, "shapes.py", "exec")
    inst = instrument(code)
    handle = loads(inst.dumps())
    for tree in (inst, handle):
        namespace: dict[str, object] = {}
        exec(tree.code, namespace)
        namespace["total"]([(2, 3), (-1, 1)])  # type: ignore[operator]
    assert handle.counters and len(handle.spans()) == len(handle.code_objects()) > 1
    assert handle.state() == inst.state()
    assert asked == []
    assert handle.counts() == inst.counts()
    assert asked == ["readers"]  # the plans were stored with the code
    handle.counts()
    assert original_code(handle.code) == code
    assert asked == ["readers", "original"]  # made once; the original when asked
    unplanned = loads(instrument(code).dumps(plans=False))
    exec(unplanned.code, {})
    expected = loads(inst.dumps()).counts_from(unplanned.state())
    asked.clear()
    assert unplanned.counts() == expected
    assert asked[0] == "readers" and set(asked[1:]) == {"original"}  # plans worked out


def test_release_lets_reading_go_and_the_code_counts_on() -> None:
    """After the last read (a run's end), release() drops the readers and
    their plans: the code still runs and its counters move, and reading
    counts or serialising the tree is a RuntimeError that says why, for a
    fresh tree and a loaded one alike."""
    import gc
    import weakref

    code = compile(SOURCE, "shapes.py", "exec")
    for tree in (instrument(code), loads(instrument(code).dumps())):
        namespace: dict[str, object] = {}
        exec(tree.code, namespace)
        before = tree.state()
        counted = tree.counts()
        reader = weakref.ref(tree._readers[0][1])  # type: ignore[attr-defined]
        tree.release()
        gc.collect()
        assert reader() is None  # let go, not kept by anything else
        namespace["total"]([(2, 3)])  # type: ignore[operator]
        assert tree.state() != before  # still counting
        assert counted and all(c.instructions for c in counted)
        for read in (tree.counts, tree.dumps, tree.code_names):
            with pytest.raises(RuntimeError, match="read for the last time"):
                read()


def test_raw_state_read_back_elsewhere() -> None:
    """Counts rebuilt from raw states on a loaded copy equal the live counts,
    and counts are linear in the state (differences and sums line up)."""
    inst = instrument(compile(SOURCE, "shapes.py", "exec"))
    namespace: dict[str, object] = {}
    exec(inst.code, namespace)
    first = inst.state()
    namespace["total"]([(2, 3), (-1, 1)])  # type: ignore[operator]
    second = inst.state()
    assert second[1], "the ValueError raised mid-block is in a raise table"
    namespace["total"]([(-5, 1), (4, 4)])  # type: ignore[operator]
    third = inst.state()
    copy = loads(inst.dumps())  # another process would do this
    assert copy.counts_from(third) == inst.counts()

    def flat(counts: list[object]) -> list[int]:
        return [i.count for c in counts for i in c.instructions]  # type: ignore[attr-defined]

    whole = flat(copy.counts_from(state_difference(third, first)))
    parts = [
        flat(copy.counts_from(state_difference(second, first))),
        flat(copy.counts_from(state_difference(third, second))),
    ]
    assert whole == [a + b for a, b in zip(*parts, strict=True)]
    assert state_sum(state_difference(third, second), second) == third
    assert copy.counts_from(copy.state()) == copy.counts()
    with pytest.raises(ValueError, match="raw state has 1 counters"):
        copy.counts_from(([0], {}))


def test_instrument_function_keeps_closures_and_originals() -> None:
    def outer(k: int):  # type: ignore[no-untyped-def]
        def add(x: int) -> int:
            return x + k

        return add

    add = outer(3)
    before = opcodes(add)
    original = add.__code__
    handle = instrument_function(add)
    assert add(4) == 7
    assert add.__code__ is not original
    assert original_code(add.__code__) is original
    # assertions read the original even though the function is instrumented
    assert opcodes(add) == before
    assert_opcodes(add, ["LOAD_FAST x", "LOAD_DEREF k", "BINARY_OP +", "RETURN_VALUE"])
    assert sum(i.count for i in handle.counts()[0].instructions) > 0


def test_trees_have_the_same_shape() -> None:
    code = compile(SOURCE, "shapes.py", "exec")
    inst = instrument(code)
    assert [p for p, _ in iter_code_tree(inst.code)] == [p for p, _ in iter_code_tree(code)]


def test_counters_of_both_kinds_read_back() -> None:
    """Counters count down a ``repeat`` (64-bit) or up a ``count`` (32-bit);
    one read gives both kinds' values, and a fresh counter reads 0."""
    import itertools
    import sys

    from pytest_bytecode import versions
    from pytest_bytecode.engine.counts import count_values, new_counter

    down = itertools.repeat(None, sys.maxsize)
    up = itertools.count()
    for _ in range(300):
        next(down)
    for _ in range(7):
        next(up)
    fresh = new_counter()
    assert count_values([down, up, fresh]) == [300, 7, 0]
    assert isinstance(fresh, itertools.repeat) is versions.COUNT_DOWN


def test_original_code_outlives_the_handle() -> None:
    import gc

    namespace: dict[str, object] = {}
    exec("def add(a, b):\n    return a + b\n", namespace)
    add = namespace["add"]
    original = add.__code__  # type: ignore[attr-defined]
    instrument_function(add)  # type: ignore[arg-type]  # handle dropped at once
    gc.collect()
    assert add.__code__ is not original  # type: ignore[attr-defined]
    assert original_code(add.__code__) is original  # type: ignore[attr-defined]


@pytest.mark.subprocess
def test_importing_the_engine_loads_no_typing_or_dataclasses() -> None:
    # Start-up of a program that instruments itself: the engine keeps these
    # out (they cost several milliseconds to import); the result types load
    # when counts are first read, and need none of them either.
    import subprocess
    import sys

    script = (
        "import sys, pytest_bytecode.engine as e\n"
        "print(sorted({'typing', 'dataclasses', 'inspect'} & set(sys.modules)))\n"
        "e.instrument(compile('x = 1', 's', 'exec')).counts()\n"
        "print('pytest_bytecode.engine.model' in sys.modules)\n"
        "print(sorted({'typing', 'dataclasses', 'inspect'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["[]", "True", "[]"]


def test_plans_stored_apart_are_supplied_or_worked_out_anew() -> None:
    """A handle loaded without its read plans reads its counts with the
    plans :meth:`dumps_plans` wrote, loaded once and only when first needed;
    without them, or with data that is not theirs, it works them out anew:
    the counts are the same every way."""
    code = compile(SOURCE, "s.py", "exec")
    inst = instrument(code, prepare=True)
    plans = inst.dumps_plans()
    other = instrument(compile("def g():\n    return 1\n", "o.py", "exec")).dumps_plans()
    expected = None
    for supplied in (plans, None, b"not marshal data", other, plans[:-3]):
        handle = loads(inst.dumps(plans=False))
        calls: list[int] = []

        def load(supplied: bytes | None = supplied, calls: list[int] = calls) -> bytes | None:
            calls.append(1)
            return supplied

        handle.supply_plans(load)
        assert calls == []  # not before counts are read
        exec(handle.code, {"__name__": "m"})
        counts = handle.counts()
        assert len(calls) == 1
        handle.counts()
        assert len(calls) == 1  # once for the whole tree
        if expected is None:
            expected = counts
        assert counts == expected, supplied
        assert any(i.count for c in counts for i in c.instructions)


def test_a_damaged_or_foreign_plan_is_worked_out_anew() -> None:
    """A read plan that is not well formed (cut short, sections of
    disagreeing lengths) or is another code's (other probes), whether
    supplied apart or embedded in the handle's own data, is not used: the
    plan is worked out anew and the counts are what they would be."""
    import marshal

    from pytest_bytecode.engine.persist import PLANS_FORMAT
    from pytest_bytecode.engine.readplan import _SECTIONS, ReadPlan, pack_ints, view_ints

    code = compile(SOURCE, "s.py", "exec")
    inst = instrument(code, prepare=True)
    fmt, tag, new, sizes, blob, original = marshal.loads(inst.dumps())
    states = marshal.loads(blob)
    good = [state[5] for _, state in states]
    foreign = instrument(compile("def g():\n    return 1\n", "o.py", "exec"), prepare=True)
    foreign_plan = marshal.loads(marshal.loads(foreign.dumps())[4])[0][1][5]
    header = list(view_ints(good[0][0])[:20])  # checksum, then the sections' lengths
    starts, steps = 1 + _SECTIONS.index("starts"), 1 + _SECTIONS.index("steps")
    assert header[starts] and header[steps]
    header[starts] -= 1  # an int moved from one section to another, which no
    header[steps] += 1  # other check ties to the rest: the lengths still add up
    moved = pack_ints(header) + good[0][0][80:]
    with pytest.raises(ValueError, match="checksum"):
        ReadPlan((moved, good[0][1], good[0][2]))
    broken = [
        (moved, good[0][1], good[0][2]),
        (pack_ints([0] * 3), (), ()),  # shorter than its header
        (pack_ints([0] * 18 + [1]), (), ()),  # a section past its end
        (pack_ints([0] * 18 + [-1, 5]), (), ()),  # a length below 0
        (b"", (), ()),
        (good[0][0], good[0][1][:-1], good[0][2]),  # an opname short
        (good[0][0][:-4], good[0][1], good[0][2]),  # a number short
        foreign_plan,  # another code's probes
    ]
    fresh = loads(inst.dumps())
    exec(fresh.code, {"__name__": "m"})
    expected = fresh.counts_from(fresh.state())
    state = fresh.state()
    for plan in broken:
        embedded = [(path, (*reader[:5], plan, *reader[6:])) for path, reader in states]
        stored = (fmt, tag, new, sizes, marshal.dumps(tuple(embedded)), original)
        handle = loads(marshal.dumps(stored))
        assert handle.counts_from(state) == expected
        apart = loads(inst.dumps(plans=False))
        apart.supply_plans(
            lambda plan=plan: marshal.dumps((PLANS_FORMAT, tag, (plan,) * len(good)))
        )
        assert apart.counts_from(state) == expected
