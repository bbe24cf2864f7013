"""What ran between two moments: per code object, which instructions and
branch outcomes.

Per-test contexts ask this around every phase of every test, so a look that
finds nothing new must be cheap: one C-speed pass over every counter's mark
(:func:`~pytest_bytecode.engine.counts.probe_marks`) and over every raise
table's total, compared with the marks of the last look.  Only the code
objects whose counters or raise tables moved have their counts worked out,
for the difference alone (counts are linear in the probes and the raise
records, and never go down).

The answer is a bit set per code object (a Python ``int``): bit ``i`` for
its ``i``-th instruction (in :meth:`~pytest_bytecode.engine.Instrumented.counts`
order), then two bits per conditional jump, fall-through before jump.  See
:func:`ran_bits`.
"""

from __future__ import annotations

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


def _totals(tables: Sequence[dict[int, int]]) -> list[int]:
    """Every raise table's total: it grows exactly when the table records a raise."""
    return list(map(sum, map(dict.values, tables)))


class _Watched:
    """One handle, as of the last look."""

    __slots__ = ("handle", "marks", "spans", "tables", "totals")

    def __init__(self, handle: Watchable) -> None:
        self.handle = handle
        self.spans = handle.spans()
        # Counted since the handle was made: a handle first seen in the
        # middle of a phase may already have run in it.
        self.marks = probe_marks([new_counter()]) * len(handle.counters)
        self.totals = [0] * len(handle.raise_tables)
        self.tables: dict[int, dict[int, int]] = {}


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
            handle = watched.handle
            marks = probe_marks(handle.counters)
            tables = handle.raise_tables
            totals = _totals(tables)
            if marks == watched.marks and totals == watched.totals:
                continue
            for c, (a, b, t0, t1) in enumerate(watched.spans):
                moved = marks[a:b] != watched.marks[a:b]
                raised = totals[t0:t1] != watched.totals[t0:t1]
                if not (moved or raised):
                    continue
                bits = self._ran(watched, c, marks, tables, totals)
                if bits:
                    found.append((h, c, bits))
            watched.marks = marks
            watched.totals = totals
        return found

    def _ran(
        self,
        watched: _Watched,
        code: int,
        marks: list[int],
        tables: Sequence[dict[int, int]],
        totals: list[int],
    ) -> int:
        """The bits of code object ``code`` for what ran since the last look;
        its raise tables' copies move on to now."""
        a, b, t0, t1 = watched.spans[code]
        # Marks and values differ by a constant (or not at all), with one
        # sign: the difference of values is that of marks, in either order.
        steps = [abs(now - then) for now, then in zip(marks[a:b], watched.marks[a:b], strict=True)]
        raises: list[dict[int, int]] = []
        for t in range(t0, t1):
            before = watched.tables.get(t, {})
            if totals[t] == watched.totals[t]:
                raises.append({})
                continue
            now = dict(tables[t])
            raises.append({site: n - before.get(site, 0) for site, n in now.items()})
            watched.tables[t] = now
        instructions, branches = watched.handle.code_counts_from(code, steps, raises)
        return ran_bits(instructions, branches)
