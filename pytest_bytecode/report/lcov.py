"""The LCOV report (``lcov[:PATH]``), as ``genhtml``, ``diff-cover`` and coverage
services read it.

One record per measured file: ``TN:``, ``SF:`` (the file's path as every
report names it: relative to the rootdir, ``/`` separators; absolute for files
outside it), ``FN``/``FNDA`` per function and ``FNF``/``FNH``,
``BRDA:line,block,branch,taken`` per conditional-jump outcome and
``BRF``/``BRH``, ``DA:line,hits`` per measurable line and ``LF``/``LH``,
``end_of_record``.  What a line, a branch and a function are when they come
from bytecode is said in :mod:`pytest_bytecode.report.lines`; ``taken`` is
``-`` for both outcomes of a jump that never ran.
"""

from __future__ import annotations

from collections.abc import Iterator

from pytest_bytecode.report.lines import FileLines, file_lines
from pytest_bytecode.results import Results, escape


def record(lines: FileLines) -> Iterator[str]:
    """One file's record, line by line."""
    yield "TN:"
    yield f"SF:{escape(lines.path)}"
    for fn in lines.functions:
        yield f"FN:{fn.line},{fn.name}"
    for fn in lines.functions:
        yield f"FNDA:{fn.count},{fn.name}"
    yield f"FNF:{len(lines.functions)}"
    yield f"FNH:{sum(1 for fn in lines.functions if fn.count)}"
    for br in lines.branches:
        for branch, count in enumerate(br.counts):
            yield f"BRDA:{br.line},{br.block},{branch},{count if br.ran else '-'}"
    yield f"BRF:{lines.branch_outcomes}"
    yield f"BRH:{lines.branch_outcomes_covered}"
    for line, hits in lines.hits.items():
        yield f"DA:{line},{hits}"
    yield f"LF:{len(lines.hits)}"
    yield f"LH:{lines.lines_covered}"
    yield "end_of_record"


def render(results: Results) -> Iterator[str]:
    """The report's lines."""
    for fres in results.files.values():
        yield from record(file_lines(fres))


def text(results: Results) -> str:
    """The report as text."""
    return "".join(line + "\n" for line in render(results))
