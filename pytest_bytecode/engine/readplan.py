"""What reading one code object's counts needs, worked out once: its read plan.

Turning probe values into counts (:mod:`~pytest_bytecode.engine.counts`)
needs the original code's instructions (offset, name and line of each), its
blocks, its flow plan and which stub covers which unit.  Working those out
(decoding every instruction, :func:`~pytest_bytecode.engine.analysis.analyse`)
was most of what reading counts cost, and it is a pure function of the
code's bytes.  :func:`build` does it once and keeps only what reading needs,
as one array of 32-bit ints (a checksum, a header of the sections' lengths,
then the sections) and the opcode names: :meth:`ReadPlan.state` is plain
bytes and strings, so the instrumentation cache stores it next to the
instrumented code (:mod:`~pytest_bytecode.engine.persist`) and a run with a
warm cache reads counts without decoding or analysing anything.

A plan holds its numbers in that one buffer, not as lists of int objects,
and hands each section out as a typed view of it, made when asked for: a
run keeps the plan of every code object it instruments (half a million
instructions in a 50,000-line module), and bytes cost neither memory per
number nor work for the cyclic garbage collector.  What a read
needs as Python objects (the solve program, the raise attribution) is made
from it on first use (:class:`ReadPlan` properties).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from types import CodeType
from zlib import crc32

from pytest_bytecode import versions
from pytest_bytecode.engine.analysis import Analysis, analyse
from pytest_bytecode.engine.blocks import Block
from pytest_bytecode.engine.decode import Instr, decode

#: The sections of a plan's ints, in the order :meth:`ReadPlan.state` writes them.
_SECTIONS = (
    "shape",  # [the code's length in code units, its first line]: whose plan it is
    "units",  # instruction index of every unit (an instruction a count is reported for)
    "offsets",  # per unit: its offset (where dis puts it)
    "lines",  # per unit: its line, NO_LINE for none
    "starts",  # per instruction: the code unit where it starts (prefixes included)
    "attribute",  # pairs: instruction index, the instruction its raises are attributed to
    "first",  # per block: the index of its first instruction
    "block_start",  # per block: its first code unit
    "body",  # per block: where its glued prefix ends
    "ranges",  # triples: start, stop, stub of each handler range
    "uncovered",  # [the stub of code no handler range covers]
    "edge_src",  # per edge of the flow graph: the node it leaves
    "edge_dst",  # per edge: the node it enters
    "probe_of",  # pairs: probed edge, its probe's number
    "handlers",  # per handler entry: edge, number of stubs, the stubs
    "landings",  # pairs (3.11): landing edge, the YIELD_VALUE block it comes from
    "steps",  # pairs: edge, node, in solving order
    "block_edge",  # per block: its block edge
    "branches",  # 7 per conditional jump: block, fall edge, jump edge, offset, line,
    #              offset after it, jump target
)

#: How a unit without a line is stored (lines are never negative).
NO_LINE = -1

#: A plan's state: the packed ints, each unit's opname, each branch's opname.
PlanState = tuple[bytes, tuple[str, ...], tuple[str, ...]]


def pack_ints(values: Sequence[int]) -> bytes:
    """Small ints as little-endian 32-bit words: ``marshal`` reads bytes at
    memory speed, a tuple of ints an object at a time."""
    words = array("i", values)
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()


def view_ints(data: bytes) -> Sequence[int]:
    """The ints of :func:`pack_ints` bytes: a view, no copy, on little-endian
    machines (nearly all)."""
    if sys.byteorder == "little":
        return memoryview(data).cast("i")
    words = array("i")
    words.frombytes(data)
    words.byteswap()
    return words


def _checksum(packed: bytes) -> int:
    """CRC-32 of a plan's packed ints after the first (where it is kept), as
    a non-negative 32-bit int."""
    return crc32(memoryview(packed)[4:]) & 0x7FFFFFFF


def _line(value: int | None) -> int:
    return NO_LINE if value is None else value


class ReadPlan:
    """One code object's read plan (see the module docstring).

    The sections of :data:`_SECTIONS` are attributes of the same names
    (sequences of ints); ``opnames`` holds each unit's opcode name and
    ``branch_opnames`` each conditional jump's.  ``last`` (per block: its
    last instruction) and the objects reads are made of load on first use.
    """

    __slots__ = (
        "_attribution",
        "_bounds",
        "_handler_entries",
        "_ints",
        "_last",
        "_solver",
        "branch_opnames",
        "n_blocks",
        "n_instrs",
        "opnames",
        "state",
    )

    # The sections, each a view of the plan's ints made on access (the
    # properties are installed after the class, see _section).
    shape: Sequence[int]
    units: Sequence[int]
    offsets: Sequence[int]
    lines: Sequence[int]
    starts: Sequence[int]
    attribute: Sequence[int]
    first: Sequence[int]
    block_start: Sequence[int]
    body: Sequence[int]
    ranges: Sequence[int]
    uncovered: Sequence[int]
    edge_src: Sequence[int]
    edge_dst: Sequence[int]
    probe_of: Sequence[int]
    handlers: Sequence[int]
    landings: Sequence[int]
    steps: Sequence[int]
    block_edge: Sequence[int]
    branches: Sequence[int]

    def __init__(self, state: PlanState) -> None:
        """The plan :meth:`state` describes.  Raises ValueError or TypeError
        for anything of another shape (a cache entry of another format)."""
        packed, opnames, branch_opnames = state
        if (
            type(packed) is not bytes
            or type(opnames) is not tuple
            or type(branch_opnames) is not tuple
        ):
            raise TypeError("a read plan of the wrong shape")
        self.state: PlanState = state
        ints = view_ints(packed)
        # A checksum of the rest, a header of every section's length, then
        # the sections in order (see build): where each starts and stops
        # comes from the header in a few C calls, not a walk of the buffer,
        # and the checksum catches a damaged header whose lengths still add
        # up (ints moved from one section to another).
        n = len(_SECTIONS)
        lengths = list(ints[1 : n + 1])
        if len(lengths) < n or min(lengths) < 0 or n + 1 + sum(lengths) != len(ints):
            raise ValueError("a read plan whose sections overrun it")
        if ints[0] != _checksum(packed):
            raise ValueError("a read plan whose checksum disagrees")
        self._ints = ints
        self._bounds = array("i", accumulate(lengths, initial=n + 1))
        (
            n_shape,
            n_units,
            n_offsets,
            n_lines,
            n_starts,
            _,  # attribute
            n_first,
            n_block_start,
            n_body,
            _,  # ranges
            n_uncovered,
            n_edge_src,
            n_edge_dst,
            _,  # probe_of
            _,  # handlers
            _,  # landings
            _,  # steps
            n_block_edge,
            n_branches,
        ) = lengths
        self.opnames = opnames
        self.branch_opnames = branch_opnames
        self.n_instrs = n_starts
        self.n_blocks = n_first
        if (
            len(opnames) != n_units
            or n_offsets != n_units
            or n_lines != n_units
            or n_branches != 7 * len(branch_opnames)
            or n_block_start != n_first
            or n_body != n_first
            or n_block_edge != n_first
            or n_edge_dst != n_edge_src
            or n_uncovered != 1
            or n_shape != 2
        ):
            raise ValueError("a read plan whose sections disagree")
        self._last: list[int] | None = None
        self._attribution: dict[int, int] | None = None
        self._handler_entries: list[tuple[int, tuple[int, ...]]] | None = None
        self._solver: list[tuple[int, tuple[int, ...], tuple[int, ...], int, int]] | None = None

    @property
    def unit_lines(self) -> list[int | None]:
        """Per unit: its line, or None (made anew on each access: counts are
        read once or twice a run, and the counts keep the line numbers
        themselves, so a list kept per plan would only add to a run's peak)."""
        return [None if line == NO_LINE else line for line in self.lines]

    @property
    def last(self) -> list[int]:
        """Per block: the index of its last instruction."""
        if self._last is None:
            first = self.first
            self._last = [*(f - 1 for f in first[1:]), self.n_instrs - 1] if len(first) else []
        return self._last

    # -- what a read needs, made on first use ------------------------------

    @property
    def attribution(self) -> dict[int, int]:
        """Instruction index -> the instruction its raises are attributed to."""
        if self._attribution is None:
            pairs = self.attribute
            self._attribution = dict(zip(pairs[::2], pairs[1::2], strict=True))
        return self._attribution

    @property
    def handler_entries(self) -> list[tuple[int, tuple[int, ...]]]:
        """(edge, stubs): each handler entry and the stubs whose records count it."""
        if self._handler_entries is None:
            found = []
            flat = self.handlers
            i = 0
            while i < len(flat):
                k = flat[i + 1]
                found.append((flat[i], tuple(flat[i + 2 : i + 2 + k])))
                i += 2 + k
            self._handler_entries = found
        return self._handler_entries

    def solver(self) -> list[tuple[int, tuple[int, ...], tuple[int, ...], int, int]]:
        """The flow solve as a program: per solved edge, in order, the edges
        whose counts add to it, those that subtract, and the node and sign of
        what leaves that node unseen.  Conservation at the step's node: what
        flows in equals what flows out plus what leaves unseen, solved for
        the step's edge."""
        if self._solver is None:
            n_nodes = 2 * self.n_blocks + 1
            into: list[list[int]] = [[] for _ in range(n_nodes)]
            out_of: list[list[int]] = [[] for _ in range(n_nodes)]
            for e, (src, dst) in enumerate(zip(self.edge_src, self.edge_dst, strict=True)):
                out_of[src].append(e)
                into[dst].append(e)
            dst_of = self.edge_dst
            program = []
            steps = self.steps
            for k in range(0, len(steps), 2):
                e, node = steps[k], steps[k + 1]
                ins = tuple(f for f in into[node] if f != e)
                outs = tuple(f for f in out_of[node] if f != e)
                if dst_of[e] == node:  # e flows in: e = outs + lost - ins
                    program.append((e, outs, ins, node, 1))
                else:  # e flows out: e = ins - outs - lost
                    program.append((e, ins, outs, node, -1))
            self._solver = program
        return self._solver

    # -- questions of code units --------------------------------------------

    def fits(self, units: int, firstlineno: int) -> bool:
        """Whether this is plausibly the plan of a code object of ``units``
        code units that starts on line ``firstlineno`` (a stored plan is
        keyed by its code's source, so this only catches what went wrong on
        the way)."""
        return self.shape[0] == units and self.shape[1] == firstlineno

    def index_at(self, unit: int) -> int:
        """Index of the instruction that starts at ``unit``."""
        return bisect_left(self.starts, unit)

    def glued(self, unit: int) -> bool:
        """Whether ``unit`` is in the glued prefix of its block: exceptions
        raised there, like those raised in the engine's own code, are
        attributed to no instruction."""
        i = bisect_right(self.block_start, unit) - 1
        return i >= 0 and unit < self.body[i]

    def site(self, unit: int, at: bool) -> tuple[int, bool]:
        """(instruction index, raised by it rather than before it) of a raise
        at original ``unit``: by the instruction there when ``at``, else
        before the one that starts there."""
        if not at:
            return self.index_at(unit), False
        index = bisect_right(self.starts, unit) - 1
        return self.attribution.get(index, index), True

    def cover(self, unit: int) -> int:
        """The stub whose handler range covers ``unit`` (else the stub of
        uncovered code)."""
        ranges = self.ranges
        i = bisect_right(ranges[::3], unit) - 1  # the last range starting at or before it
        if i >= 0 and unit < ranges[3 * i + 1]:
            return ranges[3 * i + 2]
        return self.uncovered[0]


def _section(index: int) -> property:
    """The :class:`ReadPlan` property of section ``index`` of
    :data:`_SECTIONS`: a view of the plan's ints, made on each access
    (callers that index a section in a loop take it once).  One small array
    of bounds per plan, where a view kept per section cost 184 bytes each
    (19 a plan: 17 MB for a module of 5,000 functions)."""
    i = index

    def get(plan: ReadPlan) -> Sequence[int]:
        bounds = plan._bounds
        return plan._ints[bounds[i] : bounds[i + 1]]

    return property(get)


for _index, _name in enumerate(_SECTIONS):
    setattr(ReadPlan, _name, _section(_index))


class PlanSupply:
    """The read plans of one instrumented tree, stored apart from its code
    (the instrumentation cache keeps them in an entry of their own, so that
    importing a module from the cache does not read them) and loaded, all at
    once, when the first of them is needed.

    ``load`` returns the plan states in the tree's reader order, or None
    (gone, damaged); it is called at most once.  A state that is missing or
    of the wrong shape gives None: the reader then works its plan out anew.
    """

    __slots__ = ("_count", "_load", "_states")

    def __init__(self, load: Callable[[], Sequence[object] | None], count: int) -> None:
        self._load: Callable[[], Sequence[object] | None] | None = load
        self._count = count
        self._states: Sequence[object] | None = None

    def state(self, index: int) -> PlanState | None:
        """The stored plan state of reader ``index``, or None."""
        if self._load is not None:
            load, self._load = self._load, None
            states = load()
            if states is not None and len(states) == self._count:
                self._states = states
        if self._states is None:
            return None
        state = self._states[index]
        if type(state) is not tuple or len(state) != 3:
            return None
        return state  # the shape ReadPlan checks


def build(code: CodeType, analysis: Analysis | None = None) -> tuple[ReadPlan, list[Instr]]:
    """The read plan of ``code`` and its decoded instructions.

    ``analysis``: what :func:`~pytest_bytecode.engine.analysis.analyse` says
    of ``code`` with its probes numbered, if the caller has it (the rewriter
    does); worked out here otherwise.
    """
    if analysis is None:
        analysis = analyse(code)
    graph, flow = analysis.graph, analysis.flow
    instrs = decode(code)
    n = len(instrs)
    starts = [ins.start // 2 for ins in instrs]

    def index_at(unit: int) -> int:
        return bisect_left(starts, unit)

    blocks = graph.blocks
    first = [index_at(b.start) for b in blocks]
    attributed: dict[int, int] = {}
    for ins in instrs:
        i = ins.index
        name = ins.opname
        if versions.YIELD_FROM_COUNTS_DELEGATIONS and name == "YIELD_FROM" and i:
            attributed[i - 1] = i
        if i + 1 < n:
            after = instrs[i + 1].opname
            if versions.PRECALL_RAISES_FOR_CALL and name == "PRECALL" and after == "CALL":
                attributed[i] = i + 1
            if (
                versions.THROW_RAISES_BEFORE_SEND_TARGET
                and name == "SEND"
                and after == "YIELD_VALUE"
                and ins.target is not None
            ):
                attributed[index_at(ins.target // 2) - 1] = i + 1

    non_units = _non_units(instrs, starts, blocks, first)
    units = [ins for ins in instrs if ins.index not in non_units]

    handlers: list[int] = []
    for e, stubs in flow.handler_entries.items():
        handlers += (e, len(stubs), *stubs)
    branches: list[int] = []
    branch_opnames: list[str] = []
    for b, fall, jump in flow.branches(graph):
        jump_ins = blocks[b].last
        assert jump_ins is not None
        index = index_at(jump_ins.start)
        ins = instrs[index]
        assert ins.target is not None
        next_offset = instrs[index + 1].offset if index + 1 < n else ins.end
        branches += (b, fall, jump, ins.offset, _line(ins.position[0]), next_offset, ins.target)
        branch_opnames.append(ins.opname)

    sections: dict[str, Sequence[int]] = {
        "shape": [len(code.co_code) // 2, code.co_firstlineno],
        "units": [ins.index for ins in units],
        "offsets": [ins.offset for ins in units],
        "lines": [_line(ins.position[0]) for ins in units],
        "starts": starts,
        "attribute": [x for pair in attributed.items() for x in pair],
        "first": first,
        "block_start": [b.start for b in blocks],
        "body": [b.body for b in blocks],
        "ranges": [x for r in analysis.ranges for x in r],
        "uncovered": [analysis.uncovered],
        "edge_src": [src for src, _ in flow.edges],
        "edge_dst": [dst for _, dst in flow.edges],
        "probe_of": [x for pair in flow.probe_of.items() for x in pair],
        "handlers": handlers,
        "landings": [x for pair in flow.landings.values() for x in pair],
        "steps": [x for step in flow.steps() for x in step],
        "block_edge": flow.block_edge,
        "branches": branches,
    }
    ints = [0, *(len(sections[name]) for name in _SECTIONS)]
    for name in _SECTIONS:
        ints += sections[name]
    packed = pack_ints(ints)
    packed = pack_ints([_checksum(packed)]) + packed[4:]
    state = (packed, tuple(ins.opname for ins in units), tuple(branch_opnames))
    return ReadPlan(state), instrs


def _non_units(
    instrs: list[Instr], starts: list[int], blocks: Sequence[Block], first: list[int]
) -> frozenset[int]:
    """Indexes of instructions that are bookkeeping, not units of execution.

    The interpreter never reports these to an instruction-level observer
    (``sys.monitoring`` INSTRUCTION events, ``f_trace_opcodes`` tracing):
    the code object's prefix up to the first RESUME (cell set-up,
    generator creation and what runs before it), every RESUME, and
    (3.12+) the END_FOR that FOR_ITER steps over when a loop ends.
    Their execution is implied by the counts of the code around them,
    so they are not counted as units of their own.
    """
    result: set[int] = set()
    for block, i in zip(blocks, first, strict=True):
        while i < len(instrs) and starts[i] < block.body:
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
            land = bisect_left(starts, ins.target // 2)
            if instrs[land].opname == "END_FOR":
                land += versions.FOR_ITER_EXIT_SKIP
            result.update(range(land - versions.FOR_ITER_EXIT_SKIP, land))
    return frozenset(result)
