"""Decide which blocks need a probe, and in what order counts are solved.

Every block's count comes from one of four sources:

``PROBE``
    a probe at its start counts how often it is entered;
``SUM``
    every block that leads to it always continues into it (falls through or
    jumps unconditionally), so its count is the sum of what they passed on;
``BRANCH``
    it is entered only by the fall-through of one conditional jump whose
    *taken* outcome is known (from the jump target's count), so its count is
    that jump's executions less the taken outcome;
``ZERO``
    nothing leads to it (for example the END_FOR that FOR_ITER steps over).

Loop bodies after FOR_ITER, the arms of an ``if`` and joins after them need
no probe of their own; loop headers and joins are sums.  Where sources would
depend on each other in a cycle, blocks are promoted to probes until every
count can be solved, in an order the reader of the counts follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_bytecode import versions
from pytest_bytecode.engine.blocks import SUSPENDS, Block, Graph

PROBE, SUM, BRANCH, ZERO = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class BranchPlan:
    """How to get both outcomes of the conditional jump at ``instr``.

    ``mode`` "fall": the fall-through block's count less its other inflows;
    "jump": the same from the jump target; "edge": an edge probe on the
    fall-through path (``edge_probe`` is its index).
    """

    instr: int
    fall_block: int
    jump_block: int
    mode: str
    edge_probe: int


@dataclass(slots=True)
class CountPlan:
    """Per block: its source, and the order in which counts are solved."""

    kinds: list[int]
    order: list[int]
    branches: list[BranchPlan]
    branch_of_block: dict[int, int]  # BRANCH block -> index into branches
    edge_for: dict[int, tuple[int, int]]  # fall block -> (jump instr, branch index)
    #: blocks ending in an instruction that may re-raise unseen (3.14+): a
    #: probe right after them counts what continues (filled in at emission)
    exit_probe: dict[int, int] = field(default_factory=dict)


def always_continues(graph: Graph, block_index: int) -> bool:
    """Whether leaving ``block_index`` normally always leads to one block."""
    last = graph.instrs[graph.blocks[block_index].last]
    return (
        last.opname not in versions.CONDITIONAL_JUMP_OPNAMES
        and last.opname not in SUSPENDS
        and last.opname not in versions.RERAISE_WITHOUT_TRACEBACK
    )


def measured_exit(graph: Graph, block_index: int) -> bool:
    """Whether what leaves ``block_index`` normally is counted by an exit probe."""
    last = graph.instrs[graph.blocks[block_index].last]
    return last.opname in versions.RERAISE_WITHOUT_TRACEBACK


def outflow_known(graph: Graph, block_index: int) -> bool:
    """Whether what ``block_index`` passes on to its one successor is known."""
    return always_continues(graph, block_index) or measured_exit(graph, block_index)


def solvable(graph: Graph, block: Block, pred: int, kind: str, unprobed: set[int]) -> bool:
    """Whether ``block``'s count minus its other inflows gives edge (pred, kind)."""
    if block.entry or block.index in unprobed or (pred, kind) not in block.preds:
        return False
    return all(
        outflow_known(graph, other) for other, k in block.preds if (other, k) != (pred, kind)
    )


def unprobed_blocks(graph: Graph) -> set[int]:
    """Blocks that cannot hold a probe.

    A YIELD_VALUE glued between the SEND before it and the RESUME after it
    (the interpreter steps between them by offset) fills its block; its count
    is the fall-through outcome of the SEND.
    """
    return {
        b.index
        for b in graph.blocks
        if not b.entry and b.body > b.last and graph.instrs[b.last].opname in SUSPENDS
    }


def plan_counts(graph: Graph, unprobed: set[int]) -> CountPlan:
    """Choose every block's count source; see the module docstring."""
    blocks = graph.blocks
    kinds: list[int | None] = [None] * len(blocks)
    for block in blocks:
        if block.entry:
            kinds[block.index] = PROBE
        elif not block.preds:
            kinds[block.index] = ZERO
    branches: list[BranchPlan] = []
    branch_of_block: dict[int, int] = {}
    pending: list[tuple[Block, Block, Block]] = []
    for block in blocks:
        last = graph.instrs[block.last]
        if last.opname not in versions.CONDITIONAL_JUMP_OPNAMES or block.last + 1 >= len(
            graph.instrs
        ):
            continue
        fall = blocks[graph.block_of[block.last + 1]]
        jump = blocks[graph.block_of[graph.landing[block.last]]]
        if (
            kinds[fall.index] is None
            and fall.preds == [(block.index, "fall")]
            and solvable(graph, jump, block.index, "jump", unprobed)
        ):
            kinds[fall.index] = BRANCH
            branch_of_block[fall.index] = len(branches)
            branches.append(BranchPlan(block.last, fall.index, jump.index, "jump", -1))
        else:
            branches.append(BranchPlan(block.last, fall.index, jump.index, "", -1))
            pending.append((block, fall, jump))
    edge_for: dict[int, tuple[int, int]] = {}
    for index, plan in enumerate(branches):
        if plan.mode:
            continue
        block, fall, jump = pending.pop(0)
        if fall.index in unprobed:
            raise AssertionError("a yield after a SEND needs the SEND's target solvable")
        if solvable(graph, fall, block.index, "fall", unprobed):
            mode = "fall"
        elif solvable(graph, jump, block.index, "jump", unprobed):
            mode = "jump"
        else:
            mode = "edge"
            edge_for[fall.index] = (block.last, index)
        branches[index] = BranchPlan(plan.instr, plan.fall_block, plan.jump_block, mode, -1)
    for block in blocks:
        if kinds[block.index] is None:
            continues = all(outflow_known(graph, pred) for pred, _ in block.preds)
            kinds[block.index] = SUM if continues else PROBE
    final = [k if k is not None else PROBE for k in kinds]
    order = _solve(graph, final, branches, branch_of_block, unprobed)
    return CountPlan(final, order, branches, branch_of_block, edge_for)


def _solve(
    graph: Graph,
    kinds: list[int],
    branches: list[BranchPlan],
    branch_of_block: dict[int, int],
    unprobed: set[int],
) -> list[int]:
    """An order in which every count can be computed; promotes blocks to
    PROBE (in ``kinds``) where sources depend on each other in a cycle."""
    blocks = graph.blocks
    known = [k in (PROBE, ZERO) for k in kinds]
    order = [b.index for b in blocks if known[b.index]]
    waiting = [b.index for b in blocks if not known[b.index]]
    while waiting:
        progress = False
        still: list[int] = []
        for index in waiting:
            if _ready(graph, index, kinds, known, branches, branch_of_block):
                known[index] = True
                order.append(index)
                progress = True
            else:
                still.append(index)
        waiting = still
        if not progress and waiting:
            promote = next((i for i in waiting if i not in unprobed), None)
            if promote is None:
                raise AssertionError("block counts cannot be solved")
            kinds[promote] = PROBE
            branch_of_block.pop(promote, None)
            known[promote] = True
            order.append(promote)
            waiting.remove(promote)
    return order


def _ready(
    graph: Graph,
    index: int,
    kinds: list[int],
    known: list[bool],
    branches: list[BranchPlan],
    branch_of_block: dict[int, int],
) -> bool:
    block = graph.blocks[index]
    if kinds[index] == SUM:
        return all(known[pred] for pred, _ in block.preds)
    plan = branches[branch_of_block[index]]
    cond_block = graph.block_of[plan.instr]
    jump = graph.blocks[plan.jump_block]
    return known[cond_block] and known[jump.index] and all(known[pred] for pred, _ in jump.preds)
