"""The engine's fast paths agree with its slow, plain ones.

Instrumenting reads only the instructions that shape control flow
(``decode.scan``) and takes a shortcut for straight-line code
(``_Rewriter._rewrite_straight``).  These tests compare both with the plain
way over every code object of a few dozen stdlib modules, on whichever
version runs them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from types import CodeType
from typing import Any

import pytest

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument, iter_code_tree
from pytest_bytecode.engine.analysis import block_stack_ranges
from pytest_bytecode.engine.decode import _SHAPING, decode, scan

_MODULES = (
    "argparse",
    "ast",
    "calendar",
    "collections",
    "configparser",
    "contextlib",
    "dataclasses",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "inspect",
    "json.decoder",
    "json.encoder",
    "pathlib",
    "pprint",
    "shlex",
    "statistics",
    "string",
    "textwrap",
    "tokenize",
    "typing",
    "warnings",
    "zipfile",
)


def _stdlib_modules() -> Iterator[tuple[str, CodeType]]:
    """The module code of the modules above, as their loader gives it
    (compiled from source, or from a .pyc where, as in Pyodide, the stdlib
    ships without sources)."""
    found = 0
    for name in _MODULES:
        spec = importlib.util.find_spec(name)
        get_code = getattr(spec.loader, "get_code", None) if spec is not None else None
        top = get_code(name) if get_code is not None else None
        if not isinstance(top, CodeType):
            continue
        found += 1
        yield name, top
    assert found >= 20, "too few stdlib modules found to compare on"


def _stdlib_code() -> Iterator[CodeType]:
    """Every code object of :func:`_stdlib_modules`."""
    for _, top in _stdlib_modules():
        for _, code in iter_code_tree(top):
            yield code


def _rewriter_module() -> Any:
    return importlib.import_module("pytest_bytecode.engine.instrument")


def test_scan_finds_exactly_the_control_flow_instructions_decode_finds() -> None:
    checked = 0
    for code in _stdlib_code():
        ops, flow_instrs = scan(code.co_code)
        assert ops == code.co_code[::2]
        expected = [
            (ins.start // 2, ins.offset // 2, ins.end // 2, ins.op, ins.target)
            for ins in decode(code)
            if ins.op in _SHAPING
        ]
        got = [
            (s.start, s.unit, s.end, s.op, s.target * 2 if s.target >= 0 else None)
            for s in flow_instrs
        ]
        assert got == expected, code.co_qualname if versions.HAS_CO_QUALNAME else code.co_name
        checked += len(got)
    assert checked > 5000


def _fields(ins: Any) -> tuple[int, ...]:
    return (ins.start, ins.unit, ins.end, ins.op, ins.target)


def _outcome(code: CodeType) -> tuple[Any, ...]:
    new, reader = _rewriter_module().instrument_code(code)
    flow = reader.flow
    return (
        new.co_code,
        new.co_linetable,
        getattr(new, "co_exceptiontable", b""),
        new.co_stacksize,
        [type(c).__name__ for c in new.co_consts],
        new.co_names,
        [
            (b.start, b.end, b.body, b.last and _fields(b.last), b.land, b.entry, b.handler)
            for b in reader.blocks
        ],
        (flow.edges, flow.block_edge, flow.fall_edge, flow.jump_edge, flow.chords),
        (flow.handler_entries, flow.probe_of),
        (reader.tags, reader.starts, len(reader.counters), len(reader.raises)),
    )


@pytest.mark.skipif(
    not versions.LASTI_IS_OBJECT, reason="the straight-line path exists on 3.11-3.13 only"
)
def test_straight_line_path_builds_what_the_general_path_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rewriter = _rewriter_module()
    straight = 0
    for code in _stdlib_code():
        monkeypatch.setattr(rewriter, "STRAIGHT_FAST_PATH", True)
        fast = _outcome(code)
        monkeypatch.setattr(rewriter, "STRAIGHT_FAST_PATH", False)
        general = _outcome(code)
        assert fast == general, code.co_qualname
        straight += len(fast[6]) == 1
    assert straight > 500


def test_stubs_of_code_objects_with_other_names_are_not_shared() -> None:
    # Same constants and probes, different names: 3.10 and 3.14+ stubs read
    # two attributes by name index, so their bytes differ.  (A cache keyed
    # on the constants alone once gave the second stub the first one's
    # indexes: an AttributeError on 3.10, or a crash where an index ran off
    # the end of co_names.)
    first = instrument(compile("def f(o):\n    raise ValueError('a')\n", "<a>", "exec"))
    source = "def f(o):\n    o.alpha; o.beta; o.gamma\n    raise ValueError('b')\n"
    second = instrument(compile(source, "<b>", "exec"))
    for inst, args in ((first, ()), (second, ("alpha", "beta", "gamma"))):
        namespace: dict[str, Any] = {}
        exec(inst.code, namespace)
        target = type("T", (), dict.fromkeys(args, 1))()
        with pytest.raises(ValueError):
            namespace["f"](target)
        counts = {c.name: c for c in inst.counts()}["f"]
        raised = [i for i in counts.instructions if i.opname == "RAISE_VARARGS"]
        assert [i.count for i in raised] == [1]


def _block_stack_reference(code: CodeType) -> tuple[Any, ...]:
    """3.10's handler ranges the plain way: every instruction decoded, the
    block stack followed instruction by instruction."""
    instrs = decode(code)
    by_start = {ins.start: ins.index for ins in instrs}
    state: list[tuple[int, ...] | None] = [None] * len(instrs)
    state[0] = ()
    work = [0]
    deepest = 0
    while work:
        i = work.pop()
        stack = state[i]
        assert stack is not None
        ins = instrs[i]
        deepest = max(deepest, len(stack))
        successors: list[tuple[int, tuple[int, ...]]] = []
        if ins.opname in versions.SETUP_OPNAMES:
            assert ins.target is not None
            successors.append((i + 1, (*stack, ins.target // 2)))
            successors.append((by_start[ins.target], stack))
        else:
            after = stack[:-1] if ins.opname == "POP_BLOCK" else stack
            if ins.target is not None:
                successors.append((by_start[ins.target], after))
            if ins.opname not in versions.NO_FALLTHROUGH_OPNAMES:
                successors.append((i + 1, after))
        for j, new in successors:
            if j < len(instrs) and state[j] is None:
                state[j] = new
                work.append(j)
    keys: dict[tuple[int, int, bool], int] = {}
    ranges: list[tuple[int, int, int]] = []
    for ins, stack in zip(instrs, state, strict=True):
        if stack:
            stub = keys.setdefault((stack[-1], 0, False), len(keys))
            if ranges and ranges[-1][2] == stub and ranges[-1][1] == ins.start // 2:
                ranges[-1] = (ranges[-1][0], ins.end // 2, stub)
            else:
                ranges.append((ins.start // 2, ins.end // 2, stub))
    return keys, ranges, deepest < versions.MAX_BLOCKS


@pytest.mark.skipif(versions.HAS_EXCEPTION_TABLE, reason="3.10 has a block stack")
def test_block_stack_walk_from_event_to_event_matches_the_plain_walk() -> None:
    with_handlers = 0
    for code in _stdlib_code():
        ops, flow_instrs = scan(code.co_code)
        got = block_stack_ranges(ops, flow_instrs)
        assert got == _block_stack_reference(code), code.co_name
        with_handlers += bool(got[1])
    assert with_handlers > 100


def _unit_positions(code: CodeType) -> list[Any]:
    """The source position of every code unit: what tracebacks, ``f_lineno``
    and line events are made of (3.10: the line only)."""
    if versions.HAS_COLUMN_POSITIONS:
        return list(code.co_positions())
    lines: list[Any] = [None] * (len(code.co_code) // 2)
    for start, end, line in code.co_lines():
        for unit in range(start // 2, end // 2):
            lines[unit] = line
    return lines


def _stress_source() -> str:
    """Code whose location table uses every entry form: big line jumps both
    ways, columns past 127, instructions longer than 8 units, jumps that need
    EXTENDED_ARG, lines with no position."""
    long_line = "    x = (" + " + ".join(f"a{i}" for i in range(60)) + ")\n"
    body = "".join(f"    if a{i} > {i}:\n        t += a{i}\n" for i in range(200))
    return (
        "def big(" + ", ".join(f"a{i}=0" for i in range(60)) + "):\n"
        "    t = 0\n"
        + long_line
        + body
        + "\n" * 300
        + "    return (t,\n"
        + "\n" * 200
        + "        x)\n"
        "class C:\n"
        "    def m(self, o):\n"
        "        return o.attribute_with_a_long_name.another_attribute(self).third\n"
        "def loop(n):\n"
        "    for i in range(n):\n"
        "        try:\n"
        "            n -= i\n"
        "        except TypeError:\n"
        "            continue\n"
        "    return n\n"
    )


def test_every_copied_unit_keeps_its_source_position() -> None:
    # Copied original code keeps each unit's position (re-aimed jumps
    # included); a probe takes the position of the instruction it precedes,
    # and so do the EXTENDED_ARG prefixes a jump gained.
    rewriter = _rewriter_module()
    codes = list(_stdlib_code())
    codes += [c for _, c in iter_code_tree(compile(_stress_source(), "<stress>", "exec"))]
    checked = {0: 0, 1: 0}
    prefixes = 0
    for code in codes:
        new, reader = rewriter.instrument_code(code)
        before, after = _unit_positions(code), _unit_positions(new)
        starts = [*reader.starts, len(after)]
        for k, tag in enumerate(reader.tags):
            if tag < 0:
                continue
            origin, kind = divmod(tag, 4)
            for offset in range(starts[k + 1] - starts[k]):
                expected = before[origin + offset] if kind == 1 else before[origin]
                unit = starts[k] + offset
                if (
                    versions.THROW_RETURN_LANDS_BY_LOW_BYTE
                    and new.co_code[2 * unit] == versions.EXTENDED_ARG
                    and new.co_code[2 * unit + 2] == versions.OPMAP["SEND"]
                ):
                    expected = (None, None, None, None)  # 3.11: a landing's prefix
                assert after[unit] == expected, (code.co_name, kind)
                checked[kind] += 1
            prefixes += kind == 0 and new.co_code[2 * starts[k]] == versions.EXTENDED_ARG
    assert checked[1] > 50_000
    assert checked[0] > 1_000
    assert prefixes > 10


def test_the_plan_worked_out_when_counts_are_read_numbers_the_probes_as_emitted() -> None:
    """Reading counts analyses the original code again and numbers its
    probes block by block; probe k of the instrumented code must be the one
    that numbering gives edge k.  A probe at a block's body is tagged with
    that unit; the one after a block (a fall edge), or after a block that is
    all glued prefix, is not attributed to any instruction."""
    from bisect import bisect_right

    rewriter = _rewriter_module()
    checked = 0
    for code in _stdlib_code():
        new, reader = rewriter.instrument_code(code)
        flow, blocks = reader.flow, reader.blocks
        assert sorted(flow.probe_of.values()) == list(range(len(reader.counters)))
        edge_of = {k: e for e, k in flow.probe_of.items()}
        where = {id(c): i for i, c in enumerate(new.co_consts)}
        loads = {  # constant index -> offset of the LOAD_CONST of it
            ins.arg: ins.start // 2 for ins in decode(new) if ins.opname == "LOAD_CONST"
        }
        landing_edges = {edge for edge, _ in flow.landings.values()}
        for k, counter in enumerate(reader.counters):
            unit = loads[where[id(counter)]]
            tag = reader.tags[bisect_right(reader.starts, unit) - 1]
            edge = edge_of[k]
            if edge in landing_edges:  # 3.11: engine code before the block's label
                assert tag == -1, (code.co_name, k)
                checked += 1
                continue
            block = next(
                b for b in blocks if edge in (flow.block_edge[b.index], flow.fall_edge[b.index])
            )
            if edge == flow.block_edge[block.index] and block.body < block.end:
                assert tag == 4 * block.body, (code.co_name, k)
            else:
                assert tag == -1, (code.co_name, k)
            checked += 1
    assert checked > 3000


def test_counts_of_code_that_never_ran_need_no_solve() -> None:
    """Reading all-zero probes with no raise takes a short way, with no
    flow solve (most code objects of a run never run); it must give what
    the full way gives: the same instructions and branches, all at 0."""
    rewriter = _rewriter_module()
    checked = 0
    for code in _stdlib_code():
        _, reader = rewriter.instrument_code(code)
        zeros = [0] * len(reader.counters)
        short = reader.counts_from(zeros, [{} for _ in reader.raises])
        assert reader.plan()._solver is None  # the solve was not worked out
        # A record at no unit of the code: skipped when read, but it makes
        # counts_from take the full way.
        full = reader.counts_from(zeros, [{-(10**9): 0}, *({} for _ in reader.raises)])
        assert short == full, code.co_name
        checked += 1
    assert checked > 1000


def test_a_read_plan_made_from_the_rewriters_analysis_is_the_one_made_anew() -> None:
    """``prepare`` builds the read plan from the analysis the rewriter made
    (its probes numbered only afterwards); it must be the plan that reading
    counts works out from the original code alone, byte for byte."""
    rewriter = _rewriter_module()
    checked = 0
    for code in _stdlib_code():
        _, prepared = rewriter.instrument_code(code, prepare=True)
        assert prepared._plan is None  # only the state: no views for the GC to walk
        _, lazy = rewriter.instrument_code(code)
        assert lazy._plan_state is None  # not made until asked for
        assert prepared.plan_state() == lazy.plan_state(), code.co_name
        assert prepared.generated() == lazy.generated(), code.co_name
        checked += 1
    assert checked > 1000


def test_counts_read_through_a_stored_plan_equal_the_counts_worked_out_anew() -> None:
    """A handle loaded from the instrumentation cache reads counts through
    the read plan stored with it; for any probe values and raise records
    they must equal what a handle that works its plan out anew reads.
    Random values and records, at units across each code object (most are
    not raise sites a run could record, which the reader must skip alike)."""
    import random

    from pytest_bytecode.engine import loads

    rng = random.Random(20261206)
    checked = 0
    for name, top in _stdlib_modules():
        fresh = instrument(top)
        stored = loads(instrument(top, prepare=True).dumps())
        spans = fresh.spans()
        for round_ in range(3):
            values = [rng.choice((0, 0, 1, 2, 7, 1000)) for _ in fresh.counters]
            tables: dict[int, dict[int, int]] = {}
            for (_, code), (_, _, t0, t1) in zip(iter_code_tree(fresh.code), spans, strict=True):
                units = len(code.co_code) // 2
                for t in range(t0, t1):
                    if round_ and rng.random() < 0.5:
                        keys = rng.sample(range(units), min(units, 3))
                        tables[t] = {
                            k * versions.RAISE_KEY_DIVISOR: rng.randint(1, 5) for k in keys
                        }
            state = (values, tables)
            assert stored.counts_from(state) == fresh.counts_from(state), name
            checked += 1
    assert checked >= 60


def test_a_read_plan_names_its_sections_in_the_order_they_are_written() -> None:
    """:class:`ReadPlan` unpacks its buffer (a checksum, a header of lengths,
    then the sections) in the order of ``_SECTIONS`` (the order :func:`build` writes
    them): section ``k`` filled with ``k`` must come back under its own name."""
    from pytest_bytecode.engine import readplan

    lengths = {"uncovered": 1, "shape": 2}  # the rest must agree: 7 each
    ints = [0, *(lengths.get(name, 7) for name in readplan._SECTIONS)]  # checksum, header
    for k, name in enumerate(readplan._SECTIONS):
        ints += [k] * lengths.get(name, 7)
    ints[0] = readplan._checksum(readplan.pack_ints(ints))
    plan = readplan.ReadPlan((readplan.pack_ints(ints), ("NOP",) * 7, ("POP_JUMP_IF_TRUE",)))
    for k, name in enumerate(readplan._SECTIONS):
        assert list(getattr(plan, name)) == [k] * lengths.get(name, 7), name
    with pytest.raises(ValueError, match="overrun"):
        readplan.ReadPlan((readplan.pack_ints(ints[:-1]), ("NOP",) * 7, ("POP_JUMP_IF_TRUE",)))
    with pytest.raises(ValueError, match="disagree"):
        readplan.ReadPlan((readplan.pack_ints(ints), ("NOP",) * 6, ("POP_JUMP_IF_TRUE",)))


def _leads_to_one_by_one(flow: Any, first: int, second: int) -> bool:
    """The plain search :meth:`_Flow.leads_to` shortcuts: instruction by
    instruction along forward normal edges, between the two."""
    if second <= first:
        return second == first
    seen = {first}
    todo = [first]
    while todo:
        here = todo.pop()
        for nxt in flow.normal[here]:
            if nxt == second:
                return True
            if here < nxt < second and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_leads_to_crosses_straight_runs_as_the_plain_search_does() -> None:
    """Deciding whether like instructions are copies asks ``leads_to`` for
    pairs far apart; it crosses a straight run in one step (a big literal
    is one run), answers from the blocks' forward reach once asked often
    (a long ``and``/``or`` line is hundreds of blocks, a loop's back edge
    is no forward edge), and must answer as the search through every
    instruction."""
    import random

    from pytest_bytecode.engine.generated import _BITS_AFTER, _Flow

    literal = "TABLE = {\n" + "".join(f"    'k{i}': 'v{i}',\n" for i in range(300)) + "}\n"
    terms = " or ".join(f"(a == {i} and b != {i})" for i in range(200))
    loops = "for x in a:\n    while b:\n        if x: break\n        b -= 1\n"
    loops += "    else:\n        a = 1\n"
    codes = [
        compile(literal, "<literal>", "exec"),
        compile(f"def f(a, b):\n    return {terms}\n", "<terms>", "exec").co_consts[0],
        compile(loops * 20, "<loops>", "exec"),
        *_stdlib_code(),
    ]
    pick = random.Random(7)
    answered_from_bits = 0
    for code in codes:
        flow = _Flow(code)
        n = len(flow.normal)
        if not n:
            continue
        pairs = [(pick.randrange(n), pick.randrange(n)) for _ in range(2 * _BITS_AFTER)]
        pairs += [(i, min(i + pick.randrange(1, 40), n - 1)) for i in range(0, n, 7)]
        pairs += [(0, n - 1), (n - 1, 0)]
        for first, second in pairs:
            expected = _leads_to_one_by_one(flow, first, second)
            assert flow.leads_to(first, second) is expected, (code.co_name, first, second)
        # From the _BITS_AFTER-th question that needed a search on, the
        # blocks' forward reach answered.
        assert (flow._forward is not None) is (flow._questions >= _BITS_AFTER), code.co_name
        answered_from_bits += flow._forward is not None
    assert answered_from_bits >= 3  # the line of terms, the loops, the literal at least
    literal_flow = _Flow(codes[0])
    assert literal_flow.run_end[0] > len(literal_flow.normal) // 2  # one long run


@pytest.mark.skipif(not versions.HAS_COLUMN_POSITIONS, reason="3.10 has no location table")
def test_units_given_no_position_keep_every_other_position() -> None:
    """``tables.without_positions`` over the stdlib's code objects: the units
    it blanks read as no position, every other unit as before (a line change
    of an entry whose units all lose their position moves on to the next
    entry that keeps one)."""
    import random

    from pytest_bytecode.engine.tables import without_positions

    rng = random.Random(20261207)
    checked = 0
    for code in _stdlib_code():
        units = len(code.co_code) // 2
        if units < 2:
            continue
        before = list(code.co_positions())
        first = rng.randrange(units)
        blank = set(range(first, min(units, first + rng.randrange(1, 40))))
        blank.update(rng.sample(range(units), min(units, 3)))
        table = without_positions(code.co_linetable, blank)
        after = list(code.replace(co_linetable=table).co_positions())
        expected = [(None,) * 4 if u in blank else p for u, p in enumerate(before)]
        assert after == expected, code.co_qualname
        checked += 1
    assert checked > 1000


def test_instrumented_code_names_what_the_original_names() -> None:
    """``co_names`` of instrumented code is the original's (what
    ``inspect.getclosurevars`` and tools that find the globals a function
    uses read), over the stdlib's code objects; but where a handler stub
    reads an attribute by name, on 3.10 only: ``tb_lasti``, and in code with
    a bare ``raise`` ``tb_frame``, ``f_code`` and ``co_consts`` (the engine
    notes, "Known differences"; 3.14+ stubs read them by calls)."""
    import dis

    stub_names = {"tb_frame", "f_code", "co_consts"}
    checked = 0
    for _, top in _stdlib_modules():
        originals = [code for _, code in iter_code_tree(top)]
        news = [code for _, code in iter_code_tree(instrument(top).code)]
        for old, new in zip(originals, news, strict=True):
            bare = any(
                i.opname == "RAISE_VARARGS" and i.arg == 0 for i in dis.get_instructions(old)
            )
            added = set(new.co_names) - set(old.co_names)
            assert new.co_names[: len(old.co_names)] == old.co_names
            allowed: set[str] = set()
            if not versions.HAS_EXCEPTION_TABLE:
                allowed = {"tb_lasti"} | (stub_names if bare else set())
            assert added <= allowed, (old.co_name, added)
            checked += 1
    assert checked > 1000


_DEAD_COMPREHENSIONS = (
    """
x = 1
if False:
    [x for x in ()]
module_vars = sorted(vars())
level = 3
if not __debug__:
    LEVELS = {level: n for level, n in enumerate("ab")}
module_dir = "level" in dir()
squares = [v * v for v in range(4)]
cells = [(lambda: c) for c in range(2)]
after_live = sorted(locals())

class C:
    a = 1
    if False:
        [a for _ in ()]
    b = [k * 2 for k in range(2)]
    seen = sorted(locals())

class Wide:
    keep = 1
    if False:
"""
    + "".join(  # 300 locals: their indices need EXTENDED_ARG
        f"        [keep for v{i} in ()]\n" for i in range(300)
    )
    + "    seen = sorted(locals())\n"
)


def test_module_and_class_bodies_keep_their_namespace() -> None:
    """``locals()`` of a module or class body whose comprehensions the
    compiler removed unbinds nothing in measured code (3.12 marks those
    variables hidden only where a LOAD_FAST_AND_CLEAR names them)."""
    top = compile(_DEAD_COMPREHENSIONS, "<dead>", "exec", dont_inherit=True)
    spaces = []
    for code in (top, instrument(top).code):
        namespace: dict[str, Any] = {"__name__": "dead"}
        exec(code, namespace)
        spaces.append(
            {
                name: sorted(vars(value)) if isinstance(value, type) else repr(value)
                for name, value in namespace.items()
                if name not in ("__builtins__", "cells")
            }
        )
    assert spaces[0] == spaces[1]
    assert "x" in spaces[0]["module_vars"] and "keep" in spaces[0]["Wide"]


@pytest.mark.skipif(
    versions.PY != (3, 12) or sys.maxsize < 2**32 or versions.IS_PYODIDE,
    reason="reads the kinds of locals at 64-bit CPython 3.12's offsets",
)
def test_instrumented_code_marks_the_original_locals_hidden() -> None:
    """The kinds of every local (``co_localspluskinds``, not visible from
    Python: read at its place in 3.12's ``PyCodeObject``) are the
    original's, over the standard library's code objects: hidden
    (``CO_FAST_HIDDEN``) where the compiler made them so."""
    import ctypes

    def kinds(code: CodeType) -> bytes:
        names = ctypes.cast(ctypes.c_void_p.from_address(id(code) + 96).value, ctypes.py_object)
        assert names.value[: code.co_nlocals] == code.co_varnames  # the right place
        raw = ctypes.c_void_p.from_address(id(code) + 104).value
        value = ctypes.cast(raw, ctypes.py_object).value
        assert isinstance(value, bytes)
        return value

    hidden = 0
    tops = [top for _, top in _stdlib_modules()]
    tops.append(compile(_DEAD_COMPREHENSIONS, "<dead>", "exec", dont_inherit=True))
    for top in tops:
        inst = instrument(top).code
        for (_, old), (_, new) in zip(iter_code_tree(top), iter_code_tree(inst), strict=True):
            assert kinds(new) == kinds(old), old.co_qualname
            hidden += sum(1 for kind in kinds(old) if kind & 0x10)
    assert hidden >= 300
