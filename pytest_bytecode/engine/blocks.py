"""Split a code object into basic blocks and find how they are entered.

Blocks are found from the instructions that shape control flow alone
(:func:`~pytest_bytecode.engine.decode.scan`); all offsets are code units.
A block is a run of code entered only at its start.  Besides the usual
leaders (jump targets, what follows a jump, a return or a raise), a block
starts:

* at every exception handler (entered when an exception is caught);
* after every suspension point (YIELD_VALUE, RETURN_GENERATOR): a generator
  may never be resumed, so what follows must be counted on its own;
* after what FOR_ITER steps over on 3.12+ (where an exhausted loop lands);
* after an instruction that may leave the frame unseen and then go on
  (``versions.LEAVES_UNSEEN_AND_GOES_ON``): one that may re-raise without a
  traceback entry (3.14+), a YIELD_FROM, which suspends in place (3.10).

Every block but the last therefore ends with a control-shaping instruction
or right before a leader, and a block's last instruction is either one that
:func:`scan` decoded or one that simply falls through.

Some instructions are *glued* to the start of their block and must stay in
front of any probe, because the interpreter finds them by offset: the code
object's prefix (MAKE_CELL, COPY_FREE_VARS, GEN_START, the first RESUME), the
RESUME that follows each YIELD_VALUE, the YIELD_VALUE that follows a SEND,
and (3.14+) the NOT_TAKEN that follows a conditional jump.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_bytecode import versions
from pytest_bytecode.engine.decode import FlowInstruction, instruction_end, opcode_at

#: Instructions after which control does not simply continue: the next
#: instruction is entered by resumption, not by falling through.
SUSPENDS = frozenset({"YIELD_VALUE", "RETURN_GENERATOR"})


#: Opnames after which control does not go on to the next instruction.
STOPS = versions.NO_FALLTHROUGH_OPNAMES | SUSPENDS


class Block:
    """Code units ``start`` .. ``end`` (exclusive) of the original code.

    ``body`` is where the glued prefix ends (``end`` if all of it is glued).
    ``last`` is the block's last instruction when it shapes control flow
    (None when it simply falls through), ``land`` the unit where its jump
    lands (-1 when it has no jump, or one the flow graph ignores).
    ``entry``: entered from outside (code start, handler, resumption).
    """

    __slots__ = ("body", "end", "entry", "handler", "index", "land", "last", "last_name", "start")

    def __init__(
        self,
        index: int,
        start: int,
        end: int,
        body: int,
        last: FlowInstruction | None,
        land: int,
        entry: bool = False,
        handler: bool = False,
    ) -> None:
        self.index = index
        self.start = start
        self.end = end
        self.body = body
        self.last = last
        #: opname of the last instruction if it shapes control flow, else ""
        self.last_name = last.name if last is not None else ""
        self.land = land
        self.entry = entry
        self.handler = handler

    def __repr__(self) -> str:
        return (
            f"Block({self.index}: {self.start}..{self.body}..{self.end}, last={self.last!r}, "
            f"land={self.land}, entry={self.entry}, handler={self.handler})"
        )


class Graph:
    """Blocks of one code object.  ``units`` is the length of its code;
    ``at`` maps a block's start unit to its index."""

    __slots__ = ("at", "blocks", "ops", "units")

    def __init__(self, ops: bytes, blocks: list[Block], at: dict[int, int], units: int) -> None:
        self.ops = ops
        self.blocks = blocks
        self.at = at
        self.units = units


def landing(ops: bytes, jump: FlowInstruction) -> int:
    """The unit where a jump actually continues.

    3.12+: FOR_ITER's target is an END_FOR that the interpreter steps over
    (see ``versions.FOR_ITER_EXIT_SKIP``).
    """
    unit = jump.target
    if jump.name == "FOR_ITER" and versions.OPNAME[opcode_at(ops, unit)] == "END_FOR":
        for _ in range(versions.FOR_ITER_EXIT_SKIP):
            unit = instruction_end(ops, unit)
    return unit


def entry_glue(ops: bytes) -> int:
    """The unit where the code object's prefix ends."""
    if ops and ops[0] == _RESUME:  # no prefix: most code
        return 1 + versions.CACHES_BY_OPCODE[_RESUME]
    unit = 0
    n = len(ops)
    while unit < n:
        name = versions.OPNAME[opcode_at(ops, unit)]
        if name in versions.PREFIX_START_OPNAMES:
            unit = instruction_end(ops, unit)
        elif name == "RESUME":
            return instruction_end(ops, unit)
        else:
            break
    return unit


#: RESUME's opcode, or -1 where there is none (3.10).
_RESUME = versions.OPMAP.get("RESUME", -1)


def build(ops: bytes, flow_instrs: list[FlowInstruction], handler_targets: Iterable[int]) -> Graph:
    """Basic blocks of the code whose opcode bytes are ``ops``.

    ``flow_instrs`` come from :func:`~pytest_bytecode.engine.decode.scan`;
    ``handler_targets`` are the units where exception handlers start.
    """
    n = len(ops)
    leaders, glue_at, resume_at, by_end, land_of = _leaders(ops, flow_instrs)
    handlers = set(handler_targets)
    leaders |= handlers
    glue0 = entry_glue(ops)
    leaders.discard(n)
    if glue0 > 1:
        # A leader inside the entry prefix would separate glued instructions.
        leaders.difference_update(range(1, glue0))
    starts = sorted(leaders)
    while starts and starts[-1] > n:  # nothing lands past the end; in case
        starts.pop()
    starts.append(n)
    blocks: list[Block] = []
    at: dict[int, int] = {}
    get_last = by_end.get
    for k in range(len(starts) - 1):
        start = starts[k]
        end = starts[k + 1]
        body = start
        if start == 0:
            body = glue0 if glue0 < end else end
        elif start in glue_at:
            for _ in range(glue_at[start]):
                if body < end:
                    body = instruction_end(ops, body)
            if body > end:
                body = end
        last = get_last(end)
        at[start] = k
        blocks.append(Block(k, start, end, body, last, land_of.get(end, -1) if last else -1))
    if blocks:
        blocks[0].entry = True
    for unit in resume_at:
        blocks[at[unit]].entry = True
    for unit in handlers:
        block = blocks[at[unit]]
        block.entry = True
        block.handler = True
    return Graph(ops, blocks, at, n)


def _leaders(
    ops: bytes, flow_instrs: list[FlowInstruction]
) -> tuple[set[int], dict[int, int], list[int], dict[int, FlowInstruction], dict[int, int]]:
    """What the flow instructions say about where blocks begin: the units
    that start a block (leaders; handlers and the entry prefix are
    :func:`build`'s), how many instructions are glued at a unit, where
    frames resume, each flow instruction by its end, and where the jump of
    the flow instruction ending at a unit lands."""
    n = len(ops)
    opname = versions.OPNAME
    leaders = {0}
    add = leaders.add
    glue_at: dict[int, int] = {}  # unit -> instructions glued there
    resume_at: list[int] = []
    by_end: dict[int, FlowInstruction] = {}
    land_of: dict[int, int] = {}  # a flow instruction's end -> where its jump lands
    reraise_bare = versions.LEAVES_UNSEEN_AND_GOES_ON
    pseudo = versions.PSEUDO_JUMP_OPNAMES
    setup = versions.SETUP_OPNAMES
    no_fallthrough = versions.NO_FALLTHROUGH_OPNAMES
    not_taken = versions.HAS_NOT_TAKEN
    for s in flow_instrs:
        name = s.name
        end = s.end
        by_end[end] = s
        if reraise_bare and name in reraise_bare:
            add(end)
        target = s.target
        if target >= 0:
            add(target)
            if pseudo and name in pseudo:
                continue  # only keeps its argument encodable
            land = landing(ops, s) if name == "FOR_ITER" else target
            add(land)
            add(end)
            if not setup or name not in setup:
                land_of[end] = land
            if end < n and (not_taken or name == "SEND"):
                after = opname[opcode_at(ops, end)]
                if not_taken and after == "NOT_TAKEN":
                    glue_at[end] = 1  # 3.14+: NOT_TAKEN stays right after its jump
                if name == "SEND" and after == "YIELD_VALUE":
                    # The interpreter finds the SEND from the YIELD_VALUE by
                    # offset (3.11's gen.throw() backs up to it), so nothing
                    # goes between.
                    glue_at[end] = 1
        elif name in no_fallthrough:
            add(end)
        elif name in SUSPENDS and end < n:
            add(end)
            resume_at.append(end)
            if name == "RETURN_GENERATOR":
                glue_at[end] = 2  # POP_TOP, RESUME
            elif versions.RESUME_OPNAME and opname[opcode_at(ops, end)] == versions.RESUME_OPNAME:
                glue_at[end] = 1
    return leaders, glue_at, resume_at, by_end, land_of
