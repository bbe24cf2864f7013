"""What instrumenting and reading counts both need to know of a code object.

:func:`analyse` finds which handler covers which code, splits the code into
basic blocks (:mod:`~pytest_bytecode.engine.blocks`) and plans its probes
(:mod:`~pytest_bytecode.engine.plan`), numbered in the order the rewriter
emits them.  It is a pure function of the code's bytes, so it runs twice:
when the code is instrumented, which needs it to place the probes, and
again, on the original code, when counts are first read, which needs it to
turn probe values into counts.  Nothing of it is kept in between: a test
run instruments every module it imports but reads counts once, and the
blocks and edges of every code object, kept alive for the whole run,
would cost memory and make every full collection of the cyclic garbage
collector walk them.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.blocks import Graph, build
from pytest_bytecode.engine.decode import FlowInstruction, scan
from pytest_bytecode.engine.plan import FlowPlan, plan_flow, unprobed_blocks
from pytest_bytecode.engine.tables import parse_exception_table

#: (target unit, depth, lasti): one exception handler as the table names it.
HandlerKey = tuple[int, int, bool]

#: The stub of code that no stub sees (when there is no room for a catch-all).
UNCOVERED = -1


class Analysis:
    """One code object's handlers, blocks and flow plan.

    ``keys`` maps each distinct handler to its stub number, ``ranges`` are
    the (start, stop, stub) runs of units each stub covers, ``room`` says
    whether a catch-all handler fits (see :func:`handler_ranges`).
    ``flow.probe_of`` numbers the probes in emission order.  ``uncovered``
    is the stub of code no handler covers: the catch-all stub, numbered
    after the handlers' stubs, if there is such code and room for it, else
    UNCOVERED.
    """

    __slots__ = ("_range_starts", "flow", "graph", "keys", "ranges", "room", "uncovered")

    def __init__(
        self,
        keys: dict[HandlerKey, int],
        ranges: list[tuple[int, int, int]],
        room: bool,
        graph: Graph,
        flow: FlowPlan,
    ) -> None:
        self.keys = keys
        self.ranges = ranges
        self.room = room
        self.graph = graph
        self.flow = flow
        self.uncovered = len(keys) if room and has_gap(ranges, graph.units) else UNCOVERED
        self._range_starts: list[int] | None = None

    def segments(self, units: int) -> list[tuple[int, int, int]]:
        """(start, stop, stub) runs of units, in order: the handler ranges,
        and between them the catch-all's, if there is one."""
        catch_all = self.uncovered
        if catch_all == UNCOVERED:
            return self.ranges
        result: list[tuple[int, int, int]] = []
        covered = 0
        for start, stop, stub in self.ranges:
            if start > covered:
                result.append((covered, start, catch_all))
            result.append((start, stop, stub))
            covered = stop
        if covered < units:
            result.append((covered, units, catch_all))
        return result

    def cover(self, unit: int) -> int:
        """The stub whose exception-table entry covers ``unit``."""
        if self._range_starts is None:
            self._range_starts = [start for start, _, _ in self.ranges]
        i = bisect_right(self._range_starts, unit) - 1
        if i >= 0 and unit < self.ranges[i][1]:
            return self.ranges[i][2]
        return self.uncovered


def analyse(
    code: CodeType,
    ops: bytes | None = None,
    flow_instrs: list[FlowInstruction] | None = None,
    number: bool = True,
) -> Analysis:
    """Handlers, blocks and flow plan of ``code`` (``ops`` and ``flow_instrs``
    are what :func:`~pytest_bytecode.engine.decode.scan` says of it, if known).

    ``number``: number the probes (:meth:`FlowPlan.number_probes`).  The
    rewriter does without: the order it emits probes in is that numbering
    (``test_engine_internals`` checks that they agree).
    """
    if ops is None or flow_instrs is None:
        ops, flow_instrs = scan(code.co_code)
    keys, ranges, room = handler_ranges(code, ops, flow_instrs)
    graph = build(ops, flow_instrs, {target for target, _, _ in keys})
    handler_stubs: dict[int, list[int]] = {}
    for (target, _, _), stub in keys.items():
        handler_stubs.setdefault(graph.at[target], []).append(stub)
    flow = plan_flow(graph, unprobed_blocks(graph), handler_stubs)
    if number:
        flow.number_probes(graph)
    return Analysis(keys, ranges, room, graph, flow)


def blocks_of(code: CodeType) -> Graph:
    """The blocks of ``code`` alone, as :func:`analyse` finds them, without
    the flow plan (what reading the counts of code that never ran needs)."""
    ops, flow_instrs = scan(code.co_code)
    keys, _, _ = handler_ranges(code, ops, flow_instrs)
    return build(ops, flow_instrs, {target for target, _, _ in keys})


def has_gap(ranges: list[tuple[int, int, int]], units: int) -> bool:
    """Whether some unit of the code is outside every handler range."""
    covered = 0
    for start, stop, _ in ranges:
        if start > covered:
            return True
        covered = stop
    return covered < units


def handler_ranges(
    code: CodeType, ops: bytes, flow_instrs: list[FlowInstruction]
) -> tuple[dict[HandlerKey, int], list[tuple[int, int, int]], bool]:
    """Which handler covers which code.

    Returns the distinct handlers as keys (target unit, depth, lasti) mapped
    to stub numbers, the ranges of units each stub covers (sorted, disjoint),
    and whether there is room for a catch-all handler.  3.11+ reads the
    exception table; 3.10 follows the block stack that SETUP_* and POP_BLOCK
    build (:func:`block_stack_ranges`).
    """
    if not versions.HAS_EXCEPTION_TABLE:
        return block_stack_ranges(ops, flow_instrs)
    keys: dict[HandlerKey, int] = {}
    ranges: list[tuple[int, int, int]] = []
    for entry in parse_exception_table(code.co_exceptiontable):  # type: ignore[attr-defined]
        stub = keys.setdefault((entry.target, entry.depth, entry.lasti), len(keys))
        ranges.append((entry.start, entry.end, stub))
    return keys, ranges, True


def block_stack_ranges(
    ops: bytes, flow_instrs: list[FlowInstruction]
) -> tuple[dict[HandlerKey, int], list[tuple[int, int, int]], bool]:
    """3.10: the handler ranges that the block stack makes.

    The stack changes only at SETUP_* (pushes its handler), POP_BLOCK (pops)
    and where control goes elsewhere, so the walk goes from one of those
    *events* to the next: every unit before an event has the stack the walk
    arrived with.  The first arrival at a unit decides its stack (the
    compiler gives every instruction one).
    """
    events = {s.start: (s.end, s.name, s.target) for s in flow_instrs}
    for found in _POP_BLOCK_RE.finditer(ops):
        events[found.start()] = (found.start() + 1, "POP_BLOCK", -1)
    order = sorted(events)
    n = len(ops)
    starts: list[int] = []  # covered intervals, sorted and disjoint
    stops: list[int] = []
    stacks: list[tuple[int, ...]] = []
    deepest = 0
    work: list[tuple[int, tuple[int, ...]]] = [(0, ())]
    while work:
        unit, stack = work.pop()
        if unit >= n:
            continue
        i = bisect_right(starts, unit)
        if i and unit < stops[i - 1]:
            continue  # arrived before
        k = bisect_left(order, unit)
        if k < len(order):
            end, name, target = events[order[k]]
        else:
            end, name, target = n, "", -1
        stop = end
        if i < len(starts) and starts[i] < stop:
            stop = starts[i]  # the rest was walked before, events included
            name = ""
        starts.insert(i, unit)
        stops.insert(i, stop)
        stacks.insert(i, stack)
        deepest = max(deepest, len(stack))
        if not name:
            continue
        if name in versions.SETUP_OPNAMES:
            work.append((end, (*stack, target)))
            work.append((target, stack))
            continue
        after = stack[:-1] if name == "POP_BLOCK" else stack
        if target >= 0:
            work.append((target, after))
        if name not in versions.NO_FALLTHROUGH_OPNAMES:
            work.append((end, after))
    keys: dict[HandlerKey, int] = {}
    ranges: list[tuple[int, int, int]] = []
    for start, stop, stack in zip(starts, stops, stacks, strict=True):
        if stack:
            stub = keys.setdefault((stack[-1], 0, False), len(keys))
            if ranges and ranges[-1][2] == stub and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], stop, stub)
            else:
                ranges.append((start, stop, stub))
    return keys, ranges, deepest < versions.MAX_BLOCKS


#: 3.10: where POP_BLOCK sits in the opcode bytes (one byte per unit).  From
#: 3.11 POP_BLOCK is a pseudo-instruction of the compiler (numbered above 255).
_POP_BLOCK_RE = re.compile(
    re.escape(bytes([versions.OPMAP["POP_BLOCK"]])) if versions.SETUP_OPNAMES else b"(?!)"
)
