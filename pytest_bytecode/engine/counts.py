"""Turn the probe values of one instrumented code object into counts.

:class:`CountReader` is what instrumentation leaves behind for each code object:
the original code object, the live counters and raise tables, per emitted
item the raise attribution that :mod:`~pytest_bytecode.engine.instrument`
wrote, and the code's read plan (:mod:`~pytest_bytecode.engine.readplan`:
its instructions, blocks and flow plan, flat).  :meth:`CountReader.counts_from`
sets the probed edges and the handler entries, solves every other edge of the
flow graph in the plan's order, subtracts exceptions raised in the middle of
blocks, and reports per original instruction and per branch.
"""

from __future__ import annotations

import bisect
import itertools
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import repeat
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.assemble import AT, BEFORE
from pytest_bytecode.engine.plan import node_out
from pytest_bytecode.engine.readplan import NO_LINE, PlanState, PlanSupply, ReadPlan

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import TypeAlias

    from pytest_bytecode.engine.analysis import Analysis
    from pytest_bytecode.engine.blocks import Block, Graph
    from pytest_bytecode.engine.decode import Instr
    from pytest_bytecode.engine.model import BranchCount, InstructionCount
    from pytest_bytecode.engine.plan import FlowPlan


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
        # try, not contextlib.suppress: a context manager made per call costs
        # more than the read of a code object's few counters it guards.
        try:
            return [top - left for left in map(_STEPS_LEFT, counters)]
        except TypeError:  # a CountUp among them: the repr
            pass
    return [
        int(up) if up else top - int(down) for up, down in _COUNTER_REPR.findall(repr(counters))
    ]


def probe_marks(counters: Sequence[Counter]) -> list[int]:
    """A value per counter that changes exactly when the counter moves: what
    tells cheaply whether anything ran (the steps a ``CountDown`` has left,
    without the subtraction :func:`count_values` makes of them)."""
    if versions.COUNT_DOWN:
        try:
            return list(map(_STEPS_LEFT, counters))
        except TypeError:  # a CountUp among them: the values
            pass
    return count_values(counters)


#: ``repeat.__length_hint__``: the steps a ``CountDown`` has left.
_STEPS_LEFT: Callable[[Counter], int] = itertools.repeat.__length_hint__  # type: ignore[assignment]


class CountReader:
    """Everything needed to turn one code object's probe values into counts.

    It keeps the original code object, the counters and raise tables, per
    piece of the new code the unit where it begins and where its raises come
    from (compact arrays: a run keeps a reader for every code object it
    instruments; see assemble.py for the tags), and the code's read plan
    (:mod:`~pytest_bytecode.engine.readplan`): made with the rewriter's own
    analysis when the code is instrumented, or loaded with it from the
    instrumentation cache, or else worked out when counts are first read.
    """

    def __init__(
        self,
        names: tuple[str, str, int],
        code: CodeType | Callable[[], CodeType],
        counters: list[Counter],
        raises: list[AnyRaiseTable],
        tags: Sequence[int],
        starts: Sequence[int],
        generated: tuple[tuple[int, str, int], ...] | None = None,
        plan: PlanState | None = None,
        units: int | None = None,
    ) -> None:
        self.qualname, self.name, self.firstlineno = names
        #: the original code object, or (a reader made from the cache) what
        #: loads it: with a stored plan, reading counts never needs it
        self._code = code
        #: the original code's length in code units, if known without it
        self._code_units = units
        self.counters = counters
        self.raises = raises
        self.tags = tags  # per piece: where its raises come from
        self.starts = starts  # per piece: the unit where it begins
        self._generated = generated
        self._plan_state = plan
        self._plan: ReadPlan | None = None
        #: where a plan stored apart comes from, and this reader's place there
        self.supply: tuple[PlanSupply, int] | None = None
        self._masks: list[tuple[int, int]] | None = None  # see _bit_masks

    @property
    def code(self) -> CodeType:
        """The original code object (loaded on first use, if it was not given)."""
        code = self._code
        if not isinstance(code, CodeType):
            code = self._code = code()
        return code

    @property
    def units(self) -> int:
        """The original code's length in code units (what a plan must fit)."""
        if self._code_units is None:
            self._code_units = len(self.code.co_code) // 2
        return self._code_units

    def prepare(self, analysis: Analysis | None = None) -> None:
        """Work out the read plan now (and which instructions the compiler
        made up, while the decoded instructions are at hand), with
        ``analysis`` of the code if the caller has it, probes numbered."""
        if self._plan_state is not None:
            return
        from pytest_bytecode.engine.readplan import build

        plan, instrs = build(self.code, analysis)
        # Only the state is kept: the plan's views are objects the cyclic
        # garbage collector would walk for the rest of the run.
        self._plan_state = plan.state
        if self._generated is None:
            self._classify(instrs)

    def plan(self) -> ReadPlan:
        """The read plan: as loaded, else from the supply it is stored in
        apart, else worked out now (on first use)."""
        if self._plan is None:
            if self._plan_state is None:
                self._take_supplied()
            if self._plan is None and self._plan_state is not None:
                self._plan = self._fitting(self._plan_state)
            if self._plan is None:  # none stored, or one that does not fit
                self._plan_state = None
                self.prepare()
                assert self._plan_state is not None
                self._plan = ReadPlan(self._plan_state)
                if len(self._plan.probe_of) != 2 * len(self.counters):
                    raise AssertionError(
                        f"{self.qualname}: the read plan has {len(self._plan.probe_of) // 2} "
                        f"probes, the code {len(self.counters)}"
                    )
        return self._plan

    def _fitting(self, state: PlanState) -> ReadPlan | None:
        """The plan ``state`` describes if it is well formed, has this code's
        probes and is for code of its shape (a loaded one may not be: a
        damaged or foreign entry)."""
        try:
            plan = ReadPlan(state)
        except (TypeError, ValueError, IndexError):
            return None
        if len(plan.probe_of) != 2 * len(self.counters) or not plan.fits(
            self.units, self.firstlineno
        ):
            return None
        return plan

    def _take_supplied(self) -> None:
        """The plan from :attr:`supply`, if it has one that fits this code
        (its probes); otherwise nothing, and the plan is worked out anew."""
        if self.supply is None:
            return
        supply, index = self.supply
        self.supply = None
        state = supply.state(index)
        plan = self._fitting(state) if state is not None else None
        if plan is not None:
            self._plan, self._plan_state = plan, state

    def plan_state(self) -> PlanState:
        """The read plan as plain data (what the instrumentation cache keeps)."""
        if self._plan_state is None:
            self._take_supplied()
        if self._plan_state is None:
            self.prepare()
        assert self._plan_state is not None
        return self._plan_state

    # The analysis objects themselves, for tests and tools that look at the
    # plan; reading counts does not use them.

    @property
    def graph(self) -> Graph:
        """The original code's blocks (worked out anew)."""
        return self._analysis().graph

    @property
    def blocks(self) -> list[Block]:
        """The original code's blocks, in order."""
        return self.graph.blocks

    @property
    def flow(self) -> FlowPlan:
        """The original code's flow plan, its probes numbered as emitted."""
        return self._analysis().flow

    def _analysis(self) -> Analysis:
        from pytest_bytecode.engine.analysis import analyse

        analysis = analyse(self.code)
        if len(analysis.flow.probe_of) != len(self.counters):
            raise AssertionError(
                f"{self.qualname}: the flow plan has {len(analysis.flow.probe_of)} probes, "
                f"the code {len(self.counters)}"
            )
        return analysis

    def generated(self) -> tuple[tuple[int, str, int], ...]:
        """The instructions the compiler made up (worked out on first use)."""
        if self._generated is None:
            self._classify(None)
        assert self._generated is not None
        return self._generated

    def _classify(self, instrs: list[Instr] | None) -> None:
        from pytest_bytecode.engine.generated import classify

        try:
            self._generated = classify(self.code, instrs)
        except Exception:  # a fault here must not cost the counts: no filter acts
            self._generated = ()

    def counts_from(
        self, values: Sequence[int], raises: Sequence[Mapping[int, int]]
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]:
        """Counts as they would be with these probe values and raise tables.

        Counts are linear in both, so the counts of a difference of two raw
        states are the difference of their counts.
        """
        plan = self.plan()
        if not any(values) and not any(raises):
            # Nothing ran (most code objects of a run): every count is 0, and
            # since counts are linear in the probes and records, no solve is
            # needed to say so.
            return self._units(plan, None), self._branches(plan, None)
        raised_before, raised_after = self._raised(plan, raises)
        edge = self._edge_counts(plan, values, raises, raised_before, raised_after)
        instructions = self._instruction_counts(plan, edge, raised_before, raised_after)
        return instructions, self._branches(plan, edge)

    def _units(self, plan: ReadPlan, counts: list[int] | None) -> tuple[InstructionCount, ...]:
        """The units, each with its count (by instruction index; 0 for all
        if ``counts`` is None)."""
        # The result types load with the first counts read (start-up).
        from pytest_bytecode.engine.model import InstructionCount

        lines = plan.unit_lines
        if counts is None:
            return tuple(map(InstructionCount, plan.offsets, plan.opnames, lines, repeat(0)))
        return tuple(
            map(
                InstructionCount,
                plan.offsets,
                plan.opnames,
                lines,
                map(counts.__getitem__, plan.units),
            )
        )

    def _branches(self, plan: ReadPlan, edge: list[int] | None) -> tuple[BranchCount, ...]:
        """Each conditional jump with how often it fell through and jumped
        (from the edge counts; 0 and 0 if ``edge`` is None)."""
        from pytest_bytecode.engine.model import BranchCount, BranchOutcome

        flat = plan.branches
        result = []
        for j, opname in enumerate(plan.branch_opnames):
            _, fall_edge, jump_edge, offset, line, after, target = flat[7 * j : 7 * j + 7]
            fall = edge[fall_edge] if edge is not None and fall_edge >= 0 else 0
            jump = edge[jump_edge] if edge is not None and jump_edge >= 0 else 0
            result.append(
                BranchCount(
                    offset,
                    opname,
                    None if line == NO_LINE else line,
                    (BranchOutcome(after, fall), BranchOutcome(target, jump)),
                )
            )
        return tuple(result)

    def _raised(
        self, plan: ReadPlan, raises: Sequence[Mapping[int, int]]
    ) -> tuple[list[int], list[int]]:
        """Per original instruction: how many exceptions were raised before
        it began and after (by it), from the stubs' raise tables.  A re-raise
        is counted only where it was first raised."""
        n = plan.n_instrs
        raised_after = [0] * n
        raised_before = [0] * n
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
                if plan.glued(origin) or plan.cover(origin) != stub:
                    continue  # a re-raise: counted where it was first raised
                index, at = plan.site(origin, kind != BEFORE)
                if at:
                    raised_after[index] += times
                else:
                    raised_before[index] += times
        return raised_before, raised_after

    def _edge_counts(
        self,
        plan: ReadPlan,
        values: Sequence[int],
        raises: Sequence[Mapping[int, int]],
        raised_before: list[int],
        raised_after: list[int],
    ) -> list[int]:
        """How often each edge of the flow graph ran: the probed edges and
        the handler entries from the probes and stubs, every other edge by
        conservation of flow, less what was raised inside each block."""
        edge = self._probed(plan, values)
        for e, stubs in plan.handler_entries:
            edge[e] = sum(sum(raises[k].values()) for k in stubs if k < len(raises))
        landings = plan.landings
        for k in range(0, len(landings), 2):
            # 3.11: a gen.throw() whose delegate returned left the YIELD_VALUE
            # block unseen, after its YIELD_VALUE, for the block it lands in.
            raised_after[plan.last[landings[k + 1]]] += edge[landings[k]]
        # What leaves a block unseen in the middle: the exceptions raised in it.
        lost = [0] * (2 * plan.n_blocks + 1)
        for b, (first, last) in enumerate(zip(plan.first, plan.last, strict=True)):
            lost[node_out(b)] = sum(raised_before[first : last + 1]) + sum(
                raised_after[first : last + 1]
            )
        self._solve(plan, edge, lost)
        return edge

    @staticmethod
    def _probed(plan: ReadPlan, values: Sequence[int]) -> list[int]:
        """Edge counts with the probed edges set from ``values``, the rest 0."""
        edge = [0] * len(plan.edge_src)
        probe_of = plan.probe_of
        for k in range(0, len(probe_of), 2):
            edge[probe_of[k]] = values[probe_of[k + 1]]
        return edge

    @staticmethod
    def _solve(plan: ReadPlan, edge: list[int], lost: Sequence[int] | None) -> None:
        """Fill in every edge the flow plan solves, from the probed edges and
        handler entries already in ``edge``, by conservation of flow at each
        node: what flows in equals what flows out plus ``lost`` there (what
        leaves a block unseen, raised in its middle; None: nothing)."""
        for e, plus, minus, node, sign in plan.solver():
            v = 0
            for f in plus:
                v += edge[f]
            for f in minus:
                v -= edge[f]
            if lost is not None:
                v += sign * lost[node]
            edge[e] = v

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
        plan = self.plan()
        if plan.landings:
            return None
        edge = self._probed(plan, values)
        self._solve(plan, edge, None)
        bits = 0
        for e, mask in self._bit_masks(plan):
            if edge[e] > 0:
                bits |= mask
        return bits

    def _bit_masks(self, plan: ReadPlan) -> list[tuple[int, int]]:
        """``(edge, bits)``: the bits of :meth:`ran_bits_from` an edge sets
        when it ran (worked out on first use).  With no raise, every unit of
        a block ran as often as the edge into it (:meth:`_instruction_counts`),
        and a jump outcome as often as its edge."""
        if self._masks is None:
            unit_bit = {index: bit for bit, index in enumerate(plan.units)}
            masks: dict[int, int] = {}
            block_edge = plan.block_edge
            for b, (first, last) in enumerate(zip(plan.first, plan.last, strict=True)):
                mask = 0
                for i in range(first, last + 1):
                    if i in unit_bit:
                        mask |= 1 << unit_bit[i]
                if mask:
                    e = block_edge[b]
                    masks[e] = masks.get(e, 0) | mask
            n = len(unit_bit)
            flat = plan.branches
            for j in range(len(plan.branch_opnames)):
                fall_edge, jump_edge = flat[7 * j + 1], flat[7 * j + 2]
                for e, bit in ((fall_edge, n + 2 * j), (jump_edge, n + 2 * j + 1)):
                    if e >= 0:
                        masks[e] = masks.get(e, 0) | 1 << bit
            self._masks = list(masks.items())
        return self._masks

    def _instruction_counts(
        self,
        plan: ReadPlan,
        edge: list[int],
        raised_before: list[int],
        raised_after: list[int],
    ) -> tuple[InstructionCount, ...]:
        """Each unit ran as often as its block was entered, less the
        exceptions raised before it in the block."""
        counts = [0] * plan.n_instrs
        block_edge = plan.block_edge
        for b, (first, last) in enumerate(zip(plan.first, plan.last, strict=True)):
            running = edge[block_edge[b]]
            for i in range(first, last + 1):
                running -= raised_before[i]
                counts[i] = running
                running -= raised_after[i]
        return self._units(plan, counts)
