"""Per-line view of a file's counts, for the line-based formats (LCOV, Cobertura,
coverage.py data).

Those formats know lines, branches on a line and functions, not instructions.
This module says once, for all of them, what those are when they come from
bytecode counts (``docs/user-guide.md``, "Line-based reports"):

* A line is *measurable* when at least one counted instruction of any code
  object of the file lies on it.  Its *hit count* is the largest count among
  those instructions, so a line is hit when any of its instructions ran: a
  partly run line is hit, and what did not run on it is visible only where a
  conditional jump on the line has an outcome never taken.
* A *branch* is one outcome of a conditional jump: branch 0 the fall-through,
  branch 1 the jump.  The jumps of a line are numbered (the *block*) in the
  order of the file's code objects (the module first, then depth-first in
  ``co_consts`` order, as the results hold them) and, within a code object, of
  their offsets; so the numbers are the same in every run of the same source
  on the same Python minor version.  A jump none of whose outcomes was taken
  never ran (``ran`` is false).
* A *function* is every code object but the module's and class bodies' (a
  class body stores names with ``STORE_NAME``, a function never does):
  functions, methods, lambdas, comprehensions and generator expressions
  compiled as functions.  Its name is its qualname (``#2``, ``#3``, ... added to
  a qualname the file repeats), its line its ``firstlineno``, its count that of
  its first counted instruction (how often it was entered: called, or for a
  generator or coroutine, started).  A function with no counted instruction
  (its lines all excluded) is left out.

Instructions and conditional jumps that carry no line number are left out.
Nothing here changes a count; it only groups them.
"""

from __future__ import annotations

from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import record
from pytest_bytecode.results import FileResult

#: The code object of a module; never a function.
MODULE_QUALNAME = "<module>"


@record(frozen=True)
class LineBranch:
    """One conditional jump of a line, numbered as LCOV's ``BRDA`` block."""

    line: int
    block: int
    #: How often it fell through (branch 0) and jumped (branch 1).
    counts: tuple[int, int]

    @property
    def ran(self) -> bool:
        """Whether the jump itself ever ran (one of its outcomes was taken)."""
        return any(self.counts)


@record(frozen=True)
class Function:
    """A function's name, first line and how often it was entered."""

    name: str
    line: int
    count: int


@record(frozen=True)
class FileLines:
    """One file's lines, branches and functions (see the module docstring)."""

    path: str
    #: Measurable line -> hit count, in line order.
    hits: dict[int, int]
    #: Every conditional jump with a line, by line then block.
    branches: tuple[LineBranch, ...]
    functions: tuple[Function, ...]

    @property
    def lines_covered(self) -> int:
        """Measurable lines that ran."""
        return sum(1 for count in self.hits.values() if count)

    @property
    def branch_outcomes(self) -> int:
        """Branch outcomes (two per jump)."""
        return 2 * len(self.branches)

    @property
    def branch_outcomes_covered(self) -> int:
        """Branch outcomes taken at least once."""
        return sum(1 for b in self.branches for count in b.counts if count)

    def branches_by_line(self) -> dict[int, tuple[int, int]]:
        """Line -> (outcomes taken, outcomes), for the lines that have jumps."""
        out: dict[int, tuple[int, int]] = {}
        for b in self.branches:
            taken, total = out.get(b.line, (0, 0))
            out[b.line] = (taken + sum(1 for c in b.counts if c), total + 2)
        return out

    def executed(self) -> list[int]:
        """The lines that ran, in order."""
        return [line for line, count in self.hits.items() if count]


def is_function(code: CodeCounts) -> bool:
    """True for a function's code object (not the module's, not a class body's)."""
    if code.qualname == MODULE_QUALNAME:
        return False
    return not any(i.opname == "STORE_NAME" for i in code.instructions)


def file_lines(fres: FileResult) -> FileLines:
    """The per-line view of one file's counts."""
    hits: dict[int, int] = {}
    branches: list[LineBranch] = []
    blocks: dict[int, int] = {}
    functions: list[Function] = []
    seen_names: dict[str, int] = {}
    for code in fres.code_objects:
        for ins in code.instructions:
            if ins.line is not None:
                hits[ins.line] = max(hits.get(ins.line, 0), ins.count)
        for br in sorted(code.branches, key=lambda b: b.offset):
            if br.line is None:
                continue
            block = blocks.get(br.line, 0)
            blocks[br.line] = block + 1
            branches.append(
                LineBranch(br.line, block, (br.outcomes[0].count, br.outcomes[1].count))
            )
        if code.instructions and is_function(code):
            n = seen_names.get(code.qualname, 0) + 1
            seen_names[code.qualname] = n
            name = code.qualname if n == 1 else f"{code.qualname}#{n}"
            first = min(code.instructions, key=lambda i: i.offset)
            functions.append(Function(name, code.firstlineno, first.count))
    branches.sort(key=lambda b: (b.line, b.block))
    return FileLines(fres.path, dict(sorted(hits.items())), tuple(branches), tuple(functions))
