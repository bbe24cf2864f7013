"""Split decoded instructions into basic blocks and find how they are entered.

A block is a run of instructions entered only at its first one.  Besides the
usual leaders (jump targets, instructions after a jump), a block starts:

* at every exception handler (entered when an exception is caught);
* after every suspension point (YIELD_VALUE, RETURN_GENERATOR): a generator
  may never be resumed, so what follows must be counted on its own;
* after what FOR_ITER steps over on 3.12+ (where an exhausted loop lands);
* after an instruction that may re-raise without a traceback entry (3.14+).

Some instructions are *glued* to the start of their block and must stay in
front of any probe, because the interpreter finds them by offset: the code
object's prefix (MAKE_CELL, COPY_FREE_VARS, GEN_START, the first RESUME), the
RESUME that follows each YIELD_VALUE, the YIELD_VALUE that follows a SEND,
and (3.14+) the NOT_TAKEN that follows a conditional jump.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_bytecode import versions
from pytest_bytecode.engine.decode import Instr

#: Instructions after which control does not simply continue: the next
#: instruction is entered by resumption, not by falling through.
SUSPENDS = frozenset({"YIELD_VALUE", "RETURN_GENERATOR"})


def falls_through(opname: str) -> bool:
    """Whether control goes on to the next instruction after ``opname``."""
    return opname not in versions.NO_FALLTHROUGH_OPNAMES and opname not in SUSPENDS


@dataclass(slots=True)
class Block:
    """Instructions ``first`` .. ``last`` (inclusive indexes)."""

    index: int
    first: int
    last: int
    glue: int = 0  # leading instructions that stay ahead of the probe
    entry: bool = False  # entered from outside: code start, handler, resume
    handler: bool = False
    preds: list[tuple[int, str]] = field(default_factory=list)  # (block, "fall"|"jump")

    @property
    def body(self) -> int:
        """Index of the first instruction after the glued prefix."""
        return self.first + self.glue


@dataclass(slots=True)
class Graph:
    """Blocks of one code object and the lookups the engine needs."""

    instrs: list[Instr]
    blocks: list[Block]
    block_of: list[int]  # instruction index -> block index
    landing: dict[int, int]  # jump instruction index -> index of instruction it lands on


def landing_index(instr: Instr, by_start: dict[int, int], instrs: list[Instr]) -> int:
    """Index of the instruction a jump actually continues at.

    3.12+: FOR_ITER's target is an END_FOR that the interpreter steps over
    (see ``versions.FOR_ITER_EXIT_SKIP``).
    """
    assert instr.target is not None
    index = by_start[instr.target]
    if instr.opname == "FOR_ITER" and instrs[index].opname == "END_FOR":
        return index + versions.FOR_ITER_EXIT_SKIP
    return index


def entry_glue(instrs: list[Instr]) -> int:
    """How many leading instructions form the code object's prefix."""
    count = 0
    for instr in instrs:
        if instr.opname in versions.PREFIX_START_OPNAMES:
            count += 1
        elif instr.opname == "RESUME":
            return count + 1
        else:
            break
    return count


def build(instrs: list[Instr], handler_targets: set[int]) -> Graph:
    """Basic blocks of ``instrs``; ``handler_targets`` are byte offsets."""
    n = len(instrs)
    by_start = {i.start: i.index for i in instrs}
    leader = [False] * (n + 1)
    leader[0] = True
    glue_at: dict[int, int] = {}
    resume_at: set[int] = set()
    landing: dict[int, int] = {}
    for instr in instrs:
        i = instr.index
        name = instr.opname
        if name in versions.RERAISE_WITHOUT_TRACEBACK and i + 1 < n:
            leader[i + 1] = True
        if instr.target is not None and name in versions.PSEUDO_JUMP_OPNAMES:
            leader[by_start[instr.target]] = True  # keeps the argument encodable
        elif instr.target is not None:
            land = landing_index(instr, by_start, instrs)
            landing[i] = land
            leader[land] = True
            leader[by_start[instr.target]] = True
            leader[i + 1] = True
            if versions.HAS_NOT_TAKEN and i + 1 < n and instrs[i + 1].opname == "NOT_TAKEN":
                glue_at[i + 1] = 1  # 3.14+: NOT_TAKEN stays right after its jump
            if name == "SEND" and i + 1 < n and instrs[i + 1].opname == "YIELD_VALUE":
                # The interpreter finds the SEND from the YIELD_VALUE by offset
                # (3.11's gen.throw() backs up to it), so nothing goes between.
                glue_at[i + 1] = 1
        elif name in versions.NO_FALLTHROUGH_OPNAMES:
            leader[i + 1] = True
        elif name in SUSPENDS and i + 1 < n:
            leader[i + 1] = True
            resume_at.add(i + 1)
            if name == "RETURN_GENERATOR":
                glue_at[i + 1] = 2  # POP_TOP, RESUME
            elif versions.RESUME_OPNAME and instrs[i + 1].opname == versions.RESUME_OPNAME:
                glue_at[i + 1] = 1
    for offset in handler_targets:
        leader[by_start[offset]] = True
    glue0 = entry_glue(instrs)
    glue_at[0] = glue0
    # A leader inside the entry prefix would separate glued instructions.
    for k in range(1, glue0):
        leader[k] = False

    blocks: list[Block] = []
    block_of = [0] * n
    start = 0
    for i in range(1, n + 1):
        if i == n or leader[i]:
            block = Block(len(blocks), start, i - 1, glue=min(glue_at.get(start, 0), i - start))
            blocks.append(block)
            for k in range(start, i):
                block_of[k] = block.index
            start = i
    blocks[0].entry = True
    for index in resume_at:
        blocks[block_of[index]].entry = True
    for offset in handler_targets:
        block = blocks[block_of[by_start[offset]]]
        block.entry = True
        block.handler = True
    for block in blocks:
        last = instrs[block.last]
        if last.index in landing:
            blocks[block_of[landing[last.index]]].preds.append((block.index, "jump"))
        if falls_through(last.opname) and block.last + 1 < n:
            blocks[block_of[block.last + 1]].preds.append((block.index, "fall"))
    return Graph(instrs, blocks, block_of, landing)
