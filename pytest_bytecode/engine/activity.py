"""What ran between two moments: per code object, which instructions and
branch outcomes.

Per-test contexts ask this around every phase of every test, so a look that
finds nothing new must be cheap: one C-speed pass over every counter's mark
(:func:`~pytest_bytecode.engine.counts.probe_marks`) and over every raise
table's length, compared with those of the last look, and over the totals
of the few tables that hold records.  Only the code objects whose counters
or raise tables moved have their counts worked out, for the difference
alone (counts are linear in the probes and the raise records, and never go
down).

The answer is a bit set per code object (a Python ``int``): bit ``i`` for
its ``i``-th instruction (in :meth:`~pytest_bytecode.engine.Instrumented.counts`
order), then two bits per conditional jump, fall-through before jump.  See
:func:`ran_bits`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Protocol

from pytest_bytecode.engine.counts import Counter, new_counter, probe_marks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.engine.model import BranchCount, InstructionCount


class Watchable(Protocol):
    """What :class:`Activity` reads of an :class:`~pytest_bytecode.engine.Instrumented`."""

    @property
    def counters(self) -> list[Counter]: ...

    @property
    def raise_tables(self) -> list[dict[int, int]]: ...

    def spans(self) -> list[tuple[int, int, int, int]]: ...

    def code_counts_from(
        self, index: int, values: Sequence[int], raises: Sequence[Mapping[int, int]]
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]: ...


#: ``(handle index, code object index in its tree, bits)``: what one look found.
Ran = tuple[int, int, int]

#: How many (code object, steps) -> bits answers are kept.
KNOWN_STEPS = 65536


def ran_bits(instructions: Sequence[InstructionCount], branches: Sequence[BranchCount]) -> int:
    """The bit set of what has a count above zero: bit ``i`` for instruction
    ``i``, then bits ``n + 2j`` (fell through) and ``n + 2j + 1`` (jumped)
    for conditional jump ``j``, where ``n`` is the number of instructions."""
    bits = 0
    for i, ins in enumerate(instructions):
        if ins.count > 0:
            bits |= 1 << i
    n = len(instructions)
    for j, branch in enumerate(branches):
        fall, jump = branch.outcomes
        if fall.count > 0:
            bits |= 1 << (n + 2 * j)
        if jump.count > 0:
            bits |= 1 << (n + 2 * j + 1)
    return bits


#: How many values :func:`_changed` compares at once.
CHUNK = 64


def _changed(now: list[int], then: list[int]) -> list[int]:
    """The indexes where two lists of one length differ: compared a chunk at a
    time (C speed), then one by one inside the few chunks that differ."""
    found: list[int] = []
    for start in range(0, len(now), CHUNK):
        end = start + CHUNK
        if now[start:end] != then[start:end]:
            found.extend(i for i in range(start, min(end, len(now))) if now[i] != then[i])
    return found


class Activity:
    """Watches instrumented trees; :meth:`look` says what ran since the last look.

    Handles are added as they come (:meth:`watch`); a handle's counts from
    before it was added count as its first look's news.  Every handle's
    counters and raise tables are kept in one flat list each, so that a look
    that finds nothing is a few C-speed passes whatever the number of
    handles; code objects are found in them by bisection.
    """

    def __init__(self) -> None:
        self._handles: list[Watchable] = []
        self._counters: list[Counter] = []
        self._marks: list[int] = []  # per counter, as of the last look
        self._tables: list[dict[int, int]] = []
        self._lens: list[int] = []  # per raise table, as of the last look
        #: The raise tables that hold records (flat index, the table, a copy
        #: as of the last look), and their totals as of the last look.
        self._held: list[int] = []
        self._held_tables: list[dict[int, int]] = []
        self._held_totals: list[int] = []
        self._copies: dict[int, dict[int, int]] = {}
        #: Per code object of every handle, in order: where its counters and
        #: raise tables start in the flat lists, and (handle, index in tree).
        self._counter_starts: list[int] = []
        self._table_starts: list[int] = []
        self._codes: list[tuple[int, int, tuple[int, int, int, int]]] = []
        #: (code object, *steps) -> bits, for steps without raises seen before.
        self._known: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return len(self._handles)

    def watch(self, handle: Watchable) -> None:
        """Watch ``handle`` too; it is known by its index, in the order added."""
        h = len(self._handles)
        self._handles.append(handle)
        v0, t0 = len(self._counters), len(self._tables)
        for c, span in enumerate(handle.spans()):
            a, _, t, _ = span
            self._counter_starts.append(v0 + a)
            self._table_starts.append(t0 + t)
            self._codes.append((h, c, span))
        self._counters.extend(handle.counters)
        # Counted since the handle was made: a handle first seen in the
        # middle of a phase may already have run in it.
        self._marks.extend(probe_marks([new_counter()]) * len(handle.counters))
        self._tables.extend(handle.raise_tables)
        self._lens.extend([0] * len(handle.raise_tables))

    def look(self) -> list[Ran]:
        """What ran since the last look, one entry per code object that ran."""
        marks = probe_marks(self._counters)
        lens = list(map(len, self._tables))
        totals = list(map(sum, map(dict.values, self._held_tables)))
        if marks == self._marks and lens == self._lens and totals == self._held_totals:
            return []
        # The counters and tables that moved, found at C speed, each placed
        # in its code object by bisection.
        tables = set(_changed(lens, self._lens))
        tables.update(
            t for t, n, m in zip(self._held, totals, self._held_totals, strict=True) if n != m
        )
        codes = {bisect_right(self._counter_starts, i) - 1 for i in _changed(marks, self._marks)}
        codes.update(bisect_right(self._table_starts, t) - 1 for t in tables)
        found: list[Ran] = []
        for code in sorted(codes):
            bits = self._ran(code, marks, tables)
            if bits:
                h, c, _ = self._codes[code]
                found.append((h, c, bits))
        for t in sorted(tables - set(self._held)):
            self._held.append(t)
            self._held_tables.append(self._tables[t])
        self._held_totals = list(map(sum, map(dict.values, self._held_tables)))
        self._marks = marks
        self._lens = lens
        return found

    def _ran(self, code: int, marks: list[int], moved_tables: set[int]) -> int:
        """The bits of code object ``code`` (its index among all watched)
        for what ran since the last look; the copies of its raise tables move
        on to now."""
        h, c, (a, b, t0, t1) = self._codes[code]
        v, t = self._counter_starts[code], self._table_starts[code]
        # Marks and values differ by a constant (or not at all), with one
        # sign: the difference of values is that of marks, in either order.
        steps = [
            abs(now - then)
            for now, then in zip(marks[v : v + b - a], self._marks[v : v + b - a], strict=True)
        ]
        raises: list[dict[int, int]] = []
        for table in range(t, t + t1 - t0):
            if table not in moved_tables:
                raises.append({})
                continue
            before = self._copies.get(table, {})
            now = dict(self._tables[table])
            raises.append({site: n - before.get(site, 0) for site, n in now.items()})
            self._copies[table] = now
        handle = self._handles[h]
        if any(raises):
            instructions, branches = handle.code_counts_from(c, steps, raises)
            return ran_bits(instructions, branches)
        # Tests that take one path through a function the same number of
        # times (most of them) give the same steps: their bits are kept.
        key = (code, *steps)
        bits = self._known.get(key)
        if bits is None:
            instructions, branches = handle.code_counts_from(c, steps, raises)
            bits = ran_bits(instructions, branches)
            if len(self._known) < KNOWN_STEPS:
                self._known[key] = bits
        return bits
