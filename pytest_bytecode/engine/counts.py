"""Turn the probe values of one instrumented code object into counts.

:class:`CountReader` is what instrumentation leaves behind for each code object:
the original code object, the live counters and raise tables, and per
emitted item the raise attribution that
:mod:`~pytest_bytecode.engine.instrument` wrote.  The original instructions
are decoded, and the code's blocks and flow plan worked out again
(:mod:`~pytest_bytecode.engine.analysis`), only here, when counts are first
read.  :meth:`CountReader.counts_from`
sets the probed edges and the handler entries, solves every other edge of the
flow graph in the plan's order, subtracts exceptions raised in the middle of
blocks, and reports per original instruction and per branch.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.analysis import Analysis, analyse, blocks_of
from pytest_bytecode.engine.assemble import AT, BEFORE
from pytest_bytecode.engine.blocks import Block, Graph
from pytest_bytecode.engine.decode import decode
from pytest_bytecode.engine.plan import FlowPlan, branch_blocks, node_out

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import TypeAlias

    from pytest_bytecode.engine.model import BranchCount, InstructionCount


class RaiseTable(defaultdict[int, int]):
    """Raise site -> times, kept by one stub: ``RaiseTable(int)`` (3.12+; see
    :class:`RaiseHolder` for 3.10-3.11).  Hashable by identity, so that
    instrumented code objects (which hold it as a constant) stay hashable.
    (No ``__init__`` of its own: one is made for every stub, and a
    Python-level constructor would double its cost.)"""

    __hash__ = object.__hash__  # type: ignore[assignment]

    @property
    def sites(self) -> defaultdict[int, int]:
        """The records themselves (the table is its own mapping)."""
        return self

    def __reduce__(self) -> tuple[type[RaiseTable], tuple[type[int]]]:
        # A pickled or deep-copied instrumented code object gets an empty table
        # of its own: what the original recorded stays the original's.
        return (RaiseTable, (int,))


# The probes' counters are itertools iterators, subclassed only so that
# pickling and copying them (cloudpickle sends code objects by value, with
# their constants) round-trip to a fresh counter at zero without itertools'
# own pickling: deprecated in 3.12 (a DeprecationWarning) and gone in 3.14.
# A counter that left its process could report nothing back, and a copy's
# counts are never read.  The subclasses add no instance dict and no
# ``__next__``, so ``FOR_ITER``/``next()`` call itertools' own iterator slot,
# as fast as on the base types, and their reprs keep the base types' layout.
# Pickles name these classes: unpickling an instrumented code object needs
# pytest_bytecode importable, as it already did for RaiseTable.
if TYPE_CHECKING:
    _CountBase: TypeAlias = itertools.count[int]
    _RepeatBase: TypeAlias = itertools.repeat[None]
else:
    _CountBase, _RepeatBase = itertools.count, itertools.repeat


class CountDown(_RepeatBase):
    """The 64-bit counter, ``CountDown(None, sys.maxsize)``: ``repeat`` counting
    down the steps it has left (see :data:`versions.COUNT_DOWN`)."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[CountDown], tuple[None, int]]:
        return (CountDown, (None, sys.maxsize))


class CountUp(_CountBase):
    """The counter where ``sys.maxsize`` is small, ``CountUp()``: ``count``
    from 0."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type[CountUp], tuple[()]]:
        return (CountUp, ())


if TYPE_CHECKING:
    _HolderBase: TypeAlias = itertools.repeat[dict[int, int]]
else:
    _HolderBase = itertools.repeat


class RaiseHolder(_HolderBase):
    """Raise site -> times, kept by one stub on 3.10-3.11: ``itertools.repeat``
    of a plain dict, ``RaiseHolder()``.

    There a stub may run while a RecursionError unwinds at the limit, where a
    call of any kind (C included) raises a new one
    (:data:`versions.STUB_MUST_NOT_CALL`).  Subscripts and ``in`` on a *dict
    subclass* are calls (dict's ``__getitem__`` and ``__contains__`` are
    methods, so a subclass gets the generic slots that call them); on a plain
    dict they are not.  A plain dict is unhashable, so it cannot be a constant
    of a hashable code object; this iterator is hashable by identity and hands
    out the dict with no call: the stub's ``FOR_ITER`` over it, and no name
    in ``co_names``.
    """

    __slots__ = ()

    def __new__(cls) -> RaiseHolder:
        return super().__new__(cls, {})

    @property
    def sites(self) -> dict[int, int]:
        """The records: site -> times."""
        return next(self)

    def __reduce__(self) -> tuple[type[RaiseHolder], tuple[()]]:
        # As RaiseTable: a copy starts empty.
        return (RaiseHolder, ())


#: One stub's records, as the running version keeps them.
AnyRaiseTable: TypeAlias = "RaiseTable | RaiseHolder"

#: A fresh, empty raise table for one stub.
new_raise_table: Callable[[], AnyRaiseTable] = (
    RaiseHolder if versions.STUB_MUST_NOT_CALL else partial(RaiseTable, int)
)


#: A probe's counter.  ``next()`` on it must count, atomically under the GIL,
#: and the value must be readable without disturbing it.
Counter: TypeAlias = "CountDown | CountUp"

#: ``(N)`` of ``CountUp(N)``, ``(None, N)`` of ``CountDown(None, N)`` (or of
#: plain ``count``/``repeat``): in a list of counters only they have brackets,
#: and starting at the bracket reads as fast as matching the type's name.
_COUNTER_REPR = re.compile(r"\((?:(-?\d+)|None, (\d+))\)")


#: A fresh counter at zero (see :data:`versions.COUNT_DOWN`); called once per
#: probe, so it is the constructor itself, or a partial of it, not a function.
new_counter: Callable[[], Counter] = (
    partial(CountDown, None, sys.maxsize) if versions.COUNT_DOWN else CountUp
)


def count_values(counters: Sequence[Counter]) -> list[int]:
    """Values of many counters at once.

    Neither counter type has a public accessor.  A ``CountDown`` tells how
    many steps it has left through ``repeat.__length_hint__`` (one C call per
    counter, no string made); a ``CountUp``'s value is read from its repr
    ``CountUp(N)``, one ``repr`` of the whole list and one regex pass, several
    times faster than a ``repr`` per counter.  A run reads every counter after
    every test (xdist) and around every test phase (per-test contexts).
    """
    top = sys.maxsize
    if versions.COUNT_DOWN:
        with contextlib.suppress(TypeError):  # a CountUp among them: the repr
            return [top - left for left in map(_STEPS_LEFT, counters)]
    return [
        int(up) if up else top - int(down) for up, down in _COUNTER_REPR.findall(repr(counters))
    ]


def probe_marks(counters: Sequence[Counter]) -> list[int]:
    """A value per counter that changes exactly when the counter moves: what
    tells cheaply whether anything ran (the steps a ``CountDown`` has left,
    without the subtraction :func:`count_values` makes of them)."""
    if versions.COUNT_DOWN:
        with contextlib.suppress(TypeError):  # a CountUp among them: the values
            return list(map(_STEPS_LEFT, counters))
    return count_values(counters)


#: ``repeat.__length_hint__``: the steps a ``CountDown`` has left.
_STEPS_LEFT: Callable[[Counter], int] = itertools.repeat.__length_hint__  # type: ignore[assignment]


class _DecodedCode:
    """The original instructions of a code object, decoded when counts are
    first read, and how they fall into the flow graph's blocks."""

    def __init__(self, code: CodeType, graph: Graph) -> None:
        self.instrs = instrs = decode(code)
        self.starts = [ins.start // 2 for ins in instrs]
        index_at = self.index_at
        n = len(instrs)
        blocks = graph.blocks
        self.first = [index_at(b.start) for b in blocks]
        #: per block: where it starts and where its glued prefix ends
        self.block_starts = [b.start for b in blocks]
        self.bodies = [b.body for b in blocks]
        self.last = [*(f - 1 for f in self.first[1:]), n - 1] if blocks else []
        #: instruction index -> the instruction its raises are attributed to
        self.attribute: dict[int, int] = {}
        for ins in instrs:
            i = ins.index
            name = ins.opname
            if versions.YIELD_FROM_COUNTS_DELEGATIONS and name == "YIELD_FROM" and i:
                self.attribute[i - 1] = i
            if i + 1 < n:
                after = instrs[i + 1].opname
                if versions.PRECALL_RAISES_FOR_CALL and name == "PRECALL" and after == "CALL":
                    self.attribute[i] = i + 1
                if (
                    versions.THROW_RAISES_BEFORE_SEND_TARGET
                    and name == "SEND"
                    and after == "YIELD_VALUE"
                    and ins.target is not None
                ):
                    self.attribute[index_at(ins.target // 2) - 1] = i + 1
        self.non_units = self._non_units(graph)

    def _non_units(self, graph: Graph) -> frozenset[int]:
        """Indexes of instructions that are bookkeeping, not units of execution.

        The interpreter never reports these to an instruction-level observer
        (``sys.monitoring`` INSTRUCTION events, ``f_trace_opcodes`` tracing):
        the code object's prefix up to the first RESUME (cell set-up,
        generator creation and what runs before it), every RESUME, and
        (3.12+) the END_FOR that FOR_ITER steps over when a loop ends.
        Their execution is implied by the counts of the code around them,
        so they are not counted as units of their own.
        """
        instrs = self.instrs
        result: set[int] = set()
        for block, first in zip(graph.blocks, self.first, strict=True):
            i = first
            while i < len(instrs) and self.starts[i] < block.body:
                if instrs[i].opname in versions.NON_UNIT_OPNAMES:
                    result.add(i)
                i += 1
        for ins in instrs:
            if ins.opname in ("RESUME", "RETURN_GENERATOR"):
                result.add(ins.index)
            if ins.opname == "RETURN_GENERATOR":
                # Everything before the generator object exists (3.15
                # evaluates a generator expression's iterable there) is
                # unseen as well.
                result.update(range(ins.index))
            if ins.opname == "FOR_ITER" and ins.target is not None:
                # 3.12+: what FOR_ITER steps over when the loop ends (END_FOR,
                # and on 3.13 the POP_TOP after it) never runs unspecialised.
                land = self.index_at(ins.target // 2)
                if instrs[land].opname == "END_FOR":
                    land += versions.FOR_ITER_EXIT_SKIP
                result.update(range(land - versions.FOR_ITER_EXIT_SKIP, land))
        return frozenset(result)

    def index_at(self, unit: int) -> int:
        """Index of the instruction that starts at ``unit``."""
        return bisect.bisect_left(self.starts, unit)

    def glued(self, unit: int) -> bool:
        """Whether ``unit`` is in the glued prefix of its block: exceptions
        raised there, like those raised in the engine's own code, are
        attributed to no instruction."""
        i = bisect.bisect_right(self.block_starts, unit) - 1
        return i >= 0 and unit < self.bodies[i]

    def site(self, unit: int, kind: int) -> tuple[int, bool]:
        """(instruction index, raised by it rather than before it) of a raise
        at original ``unit``, in a piece of ``kind`` (see assemble.py)."""
        if kind == BEFORE:
            return self.index_at(unit), False
        index = bisect.bisect_right(self.starts, unit) - 1
        return self.attribute.get(index, index), True


class CountReader:
    """Everything needed to turn one code object's probe values into counts.

    It keeps the original code object, the counters and raise tables, and per
    piece of the new code the unit where it begins and where its raises come
    from (compact arrays: a run keeps a reader for every code object it
    instruments; see assemble.py for the tags).  The original's blocks,
    flow plan and instructions are worked out again when counts are first
    read, and so is which stub covers which unit.
    """

    def __init__(
        self,
        names: tuple[str, str, int],
        code: CodeType,
        counters: list[Counter],
        raises: list[AnyRaiseTable],
        tags: Sequence[int],
        starts: Sequence[int],
        generated: tuple[tuple[int, str, int], ...] | None = None,
    ) -> None:
        self.qualname, self.name, self.firstlineno = names
        self.code = code
        self.counters = counters
        self.raises = raises
        self.tags = tags  # per piece: where its raises come from
        self.starts = starts  # per piece: the unit where it begins
        self._analysis: Analysis | None = None
        self._graph: Graph | None = None
        self._decoded: _DecodedCode | None = None
        self._generated = generated
        #: per node: the edges into it and out of it (built on first use)
        self._incidence: tuple[list[list[int]], list[list[int]]] | None = None
        self._masks: list[tuple[int, int]] | None = None  # see _bit_masks

    def _analysed(self) -> Analysis:
        if self._analysis is None:
            analysis = analyse(self.code)
            if len(analysis.flow.probe_of) != len(self.counters):
                raise AssertionError(
                    f"{self.qualname}: the flow plan has {len(analysis.flow.probe_of)} probes, "
                    f"the code {len(self.counters)}"
                )
            self._analysis = analysis
        return self._analysis

    @property
    def graph(self) -> Graph:
        """The original code's blocks (found without the flow plan if the
        plan is not needed yet: see :meth:`counts_from`)."""
        if self._analysis is not None:
            return self._analysis.graph
        if self._graph is None:
            self._graph = blocks_of(self.code)
        return self._graph

    @property
    def blocks(self) -> list[Block]:
        """The original code's blocks, in order."""
        return self.graph.blocks

    @property
    def flow(self) -> FlowPlan:
        """The original code's flow plan, its probes numbered as emitted."""
        return self._analysed().flow

    def decoded(self) -> _DecodedCode:
        """The decoded original instructions (decoded on first use)."""
        if self._decoded is None:
            self._decoded = _DecodedCode(self.code, self.graph)
        return self._decoded

    def _edges_at(self) -> tuple[list[list[int]], list[list[int]]]:
        if self._incidence is None:
            n_nodes = 2 * len(self.blocks) + 1
            into: list[list[int]] = [[] for _ in range(n_nodes)]
            out_of: list[list[int]] = [[] for _ in range(n_nodes)]
            for e, (src, dst) in enumerate(self.flow.edges):
                out_of[src].append(e)
                into[dst].append(e)
            self._incidence = (into, out_of)
        return self._incidence

    def generated(self) -> tuple[tuple[int, str, int], ...]:
        """The instructions the compiler made up (worked out on first use)."""
        if self._generated is None:
            from pytest_bytecode.engine.generated import classify

            decoded = self._decoded
            try:
                self._generated = classify(self.code, decoded.instrs if decoded else None)
            except Exception:  # a fault here must not cost the counts: no filter acts
                self._generated = ()
        return self._generated

    def counts_from(
        self, values: Sequence[int], raises: Sequence[Mapping[int, int]]
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]:
        """Counts as they would be with these probe values and raise tables.

        Counts are linear in both, so the counts of a difference of two raw
        states are the difference of their counts.
        """
        decoded = self.decoded()
        if not any(values) and not any(raises):
            # Nothing ran (most code objects of a run): every count is 0, and
            # since counts are linear in the probes and records, no flow
            # plan is needed to say so.
            return self._never_run(decoded)
        raised_before, raised_after = self._raised(decoded, raises)
        edge = self._edge_counts(decoded, values, raises, raised_before, raised_after)
        instructions = self._instruction_counts(decoded, edge, raised_before, raised_after)
        return instructions, self._branch_counts(decoded, edge)

    def _never_run(
        self, decoded: _DecodedCode
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]:
        """The counts of code that never ran, from its blocks alone: what
        :meth:`counts_from` gives for all-zero probes and no raise."""
        branches = tuple(self._branch(decoded, b, 0, 0) for b in branch_blocks(self.graph))
        return self._units(decoded, None), branches

    @staticmethod
    def _units(decoded: _DecodedCode, counts: list[int] | None) -> tuple[InstructionCount, ...]:
        """The units among the decoded instructions, each with its count
        (by instruction index; 0 for all if ``counts`` is None)."""
        # The result types load with the first counts read (start-up).
        from pytest_bytecode.engine.model import InstructionCount

        non_units = decoded.non_units
        return tuple(
            InstructionCount(
                ins.offset,
                ins.opname,
                ins.position[0],
                counts[ins.index] if counts is not None else 0,
            )
            for ins in decoded.instrs
            if ins.index not in non_units
        )

    def _branch(self, decoded: _DecodedCode, block_index: int, fall: int, jump: int) -> BranchCount:
        """The conditional jump that ends a block, with how often it fell
        through and jumped."""
        from pytest_bytecode.engine.model import BranchCount, BranchOutcome

        jump_ins = self.blocks[block_index].last
        assert jump_ins is not None
        instrs = decoded.instrs
        index = decoded.index_at(jump_ins.start)
        ins = instrs[index]
        next_offset = instrs[index + 1].offset if index + 1 < len(instrs) else ins.end
        assert ins.target is not None
        return BranchCount(
            ins.offset,
            ins.opname,
            ins.position[0],
            (BranchOutcome(next_offset, fall), BranchOutcome(ins.target, jump)),
        )

    def _raised(
        self, decoded: _DecodedCode, raises: Sequence[Mapping[int, int]]
    ) -> tuple[list[int], list[int]]:
        """Per original instruction: how many exceptions were raised before
        it began and after (by it), from the stubs' raise tables.  A re-raise
        is counted only where it was first raised."""
        n = len(decoded.instrs)
        raised_after = [0] * n
        raised_before = [0] * n
        analysis = self._analysed()
        for stub, table in enumerate(raises):
            for key, times in list(table.items()):
                # The raise site may be a cache unit of the instruction (3.12
                # reports a call's last cache unit): take the piece it is in.
                unit = key // versions.RAISE_KEY_DIVISOR
                piece = bisect.bisect_right(self.starts, unit) - 1
                if piece < 0 or self.tags[piece] < 0:
                    continue  # the engine's own code
                origin, kind = divmod(self.tags[piece], 4)
                if kind == AT:
                    origin += unit - self.starts[piece]
                if decoded.glued(origin) or analysis.cover(origin) != stub:
                    continue  # a re-raise: counted where it was first raised
                index, at = decoded.site(origin, kind)
                if at:
                    raised_after[index] += times
                else:
                    raised_before[index] += times
        return raised_before, raised_after

    def _edge_counts(
        self,
        decoded: _DecodedCode,
        values: Sequence[int],
        raises: Sequence[Mapping[int, int]],
        raised_before: list[int],
        raised_after: list[int],
    ) -> list[int]:
        """How often each edge of the flow graph ran: the probed edges and
        the handler entries from the probes and stubs, every other edge by
        conservation of flow, less what was raised inside each block."""
        flow = self.flow
        edge = [0] * len(flow.edges)
        for e, probe in flow.probe_of.items():
            edge[e] = values[probe]
        for e, stubs in flow.handler_entries.items():
            edge[e] = sum(sum(raises[k].values()) for k in stubs if k < len(raises))
        for e, suspended in flow.landings.values():
            # 3.11: a gen.throw() whose delegate returned left the YIELD_VALUE
            # block unseen, after its YIELD_VALUE, for the block it lands in.
            raised_after[decoded.last[suspended]] += edge[e]
        # What leaves a block unseen in the middle: the exceptions raised in it.
        lost = [0] * (2 * len(self.blocks) + 1)
        for block in self.blocks:
            first, last = decoded.first[block.index], decoded.last[block.index]
            lost[node_out(block.index)] = sum(raised_before[first : last + 1]) + sum(
                raised_after[first : last + 1]
            )
        self._solve(edge, lost)
        return edge

    def _solve(self, edge: list[int], lost: Sequence[int] | None) -> None:
        """Fill in every edge the flow plan solves, from the probed edges and
        handler entries already in ``edge``, by conservation of flow at each
        node: what flows in equals what flows out plus ``lost`` there (what
        leaves a block unseen, raised in its middle; None: nothing)."""
        flow = self.flow
        into, out_of = self._edges_at()
        edges = flow.edges
        for e, node in flow.steps():
            total_in = sum(edge[f] for f in into[node] if f != e)
            total_out = sum(edge[f] for f in out_of[node] if f != e)
            if lost is not None:
                total_out += lost[node]
            edge[e] = total_out - total_in if edges[e][1] == node else total_in - total_out

    def ran_bits_from(self, values: Sequence[int]) -> int | None:
        """What ran, for these probe values and no raise record, as the bit
        set :func:`~pytest_bytecode.engine.activity.ran_bits` makes of
        :meth:`counts_from`: bit ``i`` for the ``i``-th unit, then two per
        conditional jump (fell through, jumped).  The same flow solve, without
        making the counts: an edge that ran sets the bits of the units of the
        block it enters and of the jump outcome it is (see :meth:`_bit_masks`).
        None when the plan has landings (3.11: their counts move raise
        records, so :meth:`counts_from` must be used)."""
        if not any(values):
            return 0
        flow = self.flow
        if flow.landings:
            return None
        edge = [0] * len(flow.edges)
        for e, probe in flow.probe_of.items():
            edge[e] = values[probe]
        self._solve(edge, None)
        bits = 0
        for e, mask in self._bit_masks():
            if edge[e] > 0:
                bits |= mask
        return bits

    def _bit_masks(self) -> list[tuple[int, int]]:
        """``(edge, bits)``: the bits of :meth:`ran_bits_from` an edge sets
        when it ran (worked out on first use).  With no raise, every unit of
        a block ran as often as the edge into it (:meth:`_instruction_counts`),
        and a jump outcome as often as its edge."""
        if self._masks is None:
            decoded = self.decoded()
            flow = self.flow
            unit_bit: dict[int, int] = {}
            for ins in decoded.instrs:
                if ins.index not in decoded.non_units:
                    unit_bit[ins.index] = len(unit_bit)
            masks: dict[int, int] = {}
            for block in self.blocks:
                mask = 0
                for i in range(decoded.first[block.index], decoded.last[block.index] + 1):
                    if i in unit_bit:
                        mask |= 1 << unit_bit[i]
                if mask:
                    e = flow.block_edge[block.index]
                    masks[e] = masks.get(e, 0) | mask
            n = len(unit_bit)
            for j, (_, fall_edge, jump_edge) in enumerate(flow.branches(self.graph)):
                for e, bit in ((fall_edge, n + 2 * j), (jump_edge, n + 2 * j + 1)):
                    if e >= 0:
                        masks[e] = masks.get(e, 0) | 1 << bit
            self._masks = list(masks.items())
        return self._masks

    def _instruction_counts(
        self,
        decoded: _DecodedCode,
        edge: list[int],
        raised_before: list[int],
        raised_after: list[int],
    ) -> tuple[InstructionCount, ...]:
        """Each unit ran as often as its block was entered, less the
        exceptions raised before it in the block."""
        flow = self.flow
        counts = [0] * len(decoded.instrs)
        for block in self.blocks:
            running = edge[flow.block_edge[block.index]]
            for i in range(decoded.first[block.index], decoded.last[block.index] + 1):
                running -= raised_before[i]
                counts[i] = running
                running -= raised_after[i]
        return self._units(decoded, counts)

    def _branch_counts(self, decoded: _DecodedCode, edge: list[int]) -> tuple[BranchCount, ...]:
        """Each conditional jump's two ways: fall-through, then jump."""
        return tuple(
            self._branch(
                decoded,
                block_index,
                edge[fall_edge] if fall_edge >= 0 else 0,
                edge[jump_edge] if jump_edge >= 0 else 0,
            )
            for block_index, fall_edge, jump_edge in self.flow.branches(self.graph)
        )
