"""Plain result types of the engine: counts per instruction and per branch.

Everything here is immutable, holds only plain values, and speaks of the
*original* (uninstrumented) code object: offsets are those that
``dis.get_instructions`` reports for the original code, so a reader can line
them up with ``dis.dis`` output of the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstructionCount:
    """How often one original instruction began executing."""

    offset: int
    opname: str
    line: int | None
    count: int


@dataclass(frozen=True)
class BranchOutcome:
    """One of the two ways a conditional jump can go, and how often it went so."""

    target_offset: int
    count: int


@dataclass(frozen=True)
class BranchCount:
    """A conditional jump (POP_JUMP_IF_*, FOR_ITER, SEND, ...) and its outcomes.

    ``outcomes[0]`` is the fall-through (not taken) outcome, ``outcomes[1]`` the
    jump (taken) outcome; each names the original offset it leads to.
    """

    offset: int
    opname: str
    line: int | None
    outcomes: tuple[BranchOutcome, BranchOutcome]


@dataclass(frozen=True)
class CodeCounts:
    """Counts for one code object of an instrumented tree.

    ``path`` locates the code object inside the tree: the indexes into
    ``co_consts`` followed from the root (the root itself has ``()``).
    """

    qualname: str
    name: str
    firstlineno: int
    path: tuple[int, ...]
    instructions: tuple[InstructionCount, ...]
    branches: tuple[BranchCount, ...]

    @property
    def covered(self) -> int:
        """Number of instructions that ran at least once."""
        return sum(1 for i in self.instructions if i.count)
