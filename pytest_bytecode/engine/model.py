"""The one in-memory shape of counts: per instruction, per branch, per code object.

Every layer speaks these types, and no other count types exist: the engine
makes them (:meth:`~pytest_bytecode.engine.Instrumented.counts`), the
collector files them per source file, :mod:`pytest_bytecode.data` merges them
and writes them to disk (as parallel lists, and only there),
:mod:`pytest_bytecode.results` computes figures and verdicts over them, and
the reporters render them.  ``docs/contributing.md`` says how to add a field.

Everything here holds only plain values and speaks of the *original*
(uninstrumented) code object: offsets are those that
``dis.get_instructions`` reports for the original code, so a reader can line
them up with ``dis.dis`` output of the code under test.

The objects are values: a field is never assigned to (type checkers refuse
it, see :func:`_value`); a changed count is a new object.  So they are shared
freely, between a data set, what is merged into it and the results computed
from it, and merging or leaving out excluded lines copies no instruction that
did not change.

Room to grow, not yet used: a per-instruction fact that the reports will
need, such as the column span ``co_positions()`` gives for the instruction
(LCOV, Cobertura and HTML reports mark uncovered spans), is one more field of
:class:`InstructionCount` with a default, filled in by
:mod:`pytest_bytecode.engine.counts` and stored by :mod:`pytest_bytecode.data`
as one more parallel list.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import TypeVar

    from typing_extensions import dataclass_transform

    _T = TypeVar("_T")

    @dataclass_transform(frozen_default=True)
    def _value(cls: type[_T]) -> type[_T]:
        """A frozen dataclass, as far as type checkers are concerned."""

else:
    from pytest_bytecode.engine.records import record

    def _value(cls):
        """A slotted record with equality and hashing by value
        (:func:`~pytest_bytecode.engine.records.record`).

        Not ``frozen=True`` at run time: a frozen record's ``__init__``
        sets each field through ``object.__setattr__`` and costs about three
        times as much, and one of these is made for every instruction of every
        measured code object when counts are read.  Type checkers see a
        frozen dataclass (``dataclass_transform(frozen_default=True)``), so an
        assignment to a field still fails the type check.
        """
        return record(slots=True, unsafe_hash=True)(cls)


@_value
class InstructionCount:
    """How often one original instruction began executing."""

    offset: int
    opname: str
    line: int | None
    count: int


@_value
class BranchOutcome:
    """One of the two ways a conditional jump can go, and how often it went so."""

    target_offset: int
    count: int


@_value
class BranchCount:
    """A conditional jump (POP_JUMP_IF_*, FOR_ITER, SEND, ...) and its outcomes.

    ``outcomes[0]`` is the fall-through (not taken) outcome, ``outcomes[1]`` the
    jump (taken) outcome; each names the original offset it leads to.
    """

    offset: int
    opname: str
    line: int | None
    outcomes: tuple[BranchOutcome, BranchOutcome]


@_value
class CodeCounts:
    """Counts for one code object.

    ``path`` locates the code object inside the tree the engine instrumented:
    the indexes into ``co_consts`` followed from the root (the root itself
    has ``()``).  It is None for counts read from a data file, which does not
    record it: there a code object is known by ``(qualname, firstlineno, n)``
    (see :meth:`pytest_bytecode.data.FileData.keyed`).
    """

    qualname: str
    name: str
    firstlineno: int
    path: tuple[int, ...] | None
    instructions: tuple[InstructionCount, ...]
    branches: tuple[BranchCount, ...]
    #: The instructions the compiler made up, as ``(offset, filter, twin
    #: offset or -1)`` (:func:`pytest_bytecode.engine.generated.classify`):
    #: what the reports' filters leave out or fold into their twins.
    generated: tuple[tuple[int, str, int], ...] = ()

    @property
    def covered(self) -> int:
        """Number of instructions that ran at least once."""
        return sum(1 for i in self.instructions if i.count)
