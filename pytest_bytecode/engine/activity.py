"""What ran between two moments: per code object, which instructions and
branch outcomes.

Per-test contexts ask this around every phase of every test, so a look that
finds nothing new must be cheap: one C-speed pass over every counter's mark
(:func:`~pytest_bytecode.engine.counts.probe_marks`) and over every raise
table's length, compared with those of the last look, and the totals of the
few tables that hold records.  Only the code
objects whose counters or raise tables moved have their counts worked out,
for the difference alone (counts are linear in the probes and the raise
records, and never go down).

The answer is a bit set per code object (a Python ``int``): bit ``i`` for
its ``i``-th instruction (in :meth:`~pytest_bytecode.engine.Instrumented.counts`
order), then two bits per conditional jump, fall-through before jump.  See
:func:`ran_bits`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import compress, count
from operator import ne
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

#: How many (code object, steps) -> bits answers a handle keeps.
KNOWN_STEPS = 4096


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


class _Watched:
    """One handle, as of the last look."""

    __slots__ = (
        "counter_starts",
        "handle",
        "known",
        "lens",
        "marks",
        "spans",
        "table_starts",
        "tables",
    )

    def __init__(self, handle: Watchable) -> None:
        self.handle = handle
        self.spans = handle.spans()
        self.counter_starts = [a for a, _, _, _ in self.spans]
        self.table_starts = [c for _, _, c, _ in self.spans]
        # Counted since the handle was made: a handle first seen in the
        # middle of a phase may already have run in it.
        self.marks = probe_marks([new_counter()]) * len(handle.counters)
        self.lens = [0] * len(handle.raise_tables)
        #: The raise tables that hold records, as of the last look (copies).
        self.tables: dict[int, dict[int, int]] = {}
        #: (code object, *steps) -> bits, for steps without raises seen before.
        self.known: dict[tuple[int, ...], int] = {}

    def moved_tables(self) -> list[int]:
        """The raise tables whose records changed since the last look: new
        sites show in their lengths (one C-speed pass), more raises at a
        known site in the total of the few tables that hold records."""
        tables = self.handle.raise_tables
        lens = list(map(len, tables))
        moved = []
        if lens != self.lens:
            moved = list(compress(count(), map(ne, lens, self.lens)))
            self.lens = lens
        seen = set(moved)
        for t, before in self.tables.items():
            if t not in seen and sum(tables[t].values()) != sum(before.values()):
                moved.append(t)
        return moved


class Activity:
    """Watches instrumented trees; :meth:`look` says what ran since the last look.

    Handles are added as they come (:meth:`watch`); a handle's counts from
    before it was added count as its first look's news.
    """

    def __init__(self) -> None:
        self._watched: list[_Watched] = []

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, handle: Watchable) -> None:
        """Watch ``handle`` too; it is known by its index, in the order added."""
        self._watched.append(_Watched(handle))

    def look(self) -> list[Ran]:
        """What ran since the last look, one entry per code object that ran."""
        found: list[Ran] = []
        for h, watched in enumerate(self._watched):
            marks = probe_marks(watched.handle.counters)
            tables = watched.moved_tables()
            if marks == watched.marks and not tables:
                continue
            # Which code objects moved: the changed counters and tables,
            # found at C speed, each placed in its code object by bisection.
            codes = {
                bisect_right(watched.counter_starts, i) - 1
                for i in compress(count(), map(ne, marks, watched.marks))
            }
            codes.update(bisect_right(watched.table_starts, t) - 1 for t in tables)
            moved_tables = set(tables)
            for code in sorted(codes):
                bits = self._ran(watched, code, marks, moved_tables)
                if bits:
                    found.append((h, code, bits))
            watched.marks = marks
        return found

    @staticmethod
    def _ran(watched: _Watched, code: int, marks: list[int], moved_tables: set[int]) -> int:
        """The bits of code object ``code`` for what ran since the last look;
        the copies of its raise tables move on to now."""
        a, b, t0, t1 = watched.spans[code]
        # Marks and values differ by a constant (or not at all), with one
        # sign: the difference of values is that of marks, in either order.
        steps = [abs(now - then) for now, then in zip(marks[a:b], watched.marks[a:b], strict=True)]
        raises: list[dict[int, int]] = []
        tables = watched.handle.raise_tables
        for t in range(t0, t1):
            if t not in moved_tables:
                raises.append({})
                continue
            before = watched.tables.get(t, {})
            now = dict(tables[t])
            raises.append({site: n - before.get(site, 0) for site, n in now.items()})
            watched.tables[t] = now
        if any(raises):
            instructions, branches = watched.handle.code_counts_from(code, steps, raises)
            return ran_bits(instructions, branches)
        # Tests that take one path through a function the same number of
        # times (most of them) give the same steps: their bits are kept.
        key = (code, *steps)
        bits = watched.known.get(key)
        if bits is None:
            instructions, branches = watched.handle.code_counts_from(code, steps, raises)
            bits = ran_bits(instructions, branches)
            if len(watched.known) < KNOWN_STEPS:
                watched.known[key] = bits
        return bits
