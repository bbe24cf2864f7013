"""The JSON report (format 2); its schema is documented in docs/reference.md.

Every measured code object appears, executed or not, with every instruction
and conditional jump of its lines that are not excluded, each with its own
count (raw, as measured) and, where a filter acts on it, the filter's name
(a ``duplicates`` copy also names the instruction it is folded into): the
figures (``summary``, ``totals``) are those after filters.  Per file, the
lists a consumer needs without decoding bytecode: missed lines, partly run
lines with the source fragments that never ran, and missed arcs.
Instruction offsets are those of the original code object as
``dis.get_instructions`` reports them; positions are ``co_positions()``'s
(columns are 0-based UTF-8 byte offsets, as CPython gives them; null on
3.10, or where the source cannot be matched).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_bytecode import __version__
from pytest_bytecode.contexts import CodeContexts
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.files import write_json_atomic
from pytest_bytecode.filters import describe
from pytest_bytecode.report.missed import missed_arcs, missed_lines
from pytest_bytecode.report.positions import Position, file_positions, read_source
from pytest_bytecode.results import FileResult, Results

#: Version of the report's layout.  History:
#:   1 - first version.
#:   2 - positions and filters per instruction, ``missing_lines``,
#:       ``partial_lines``, ``missing_arcs`` per file, ``meta.filters``,
#:       ``traced`` (code objects) and ``meta.traced_during``.
#:   3 - per-test contexts, when recorded: ``meta.contexts`` (the names;
#:       null when not recorded), ``contexts`` per instruction and per branch
#:       outcome, and per file ``contexts_by_line``, as context numbers.
FORMAT = 3

_NO_POSITION: Position = (None, None, None, None)


def _code(
    code: CodeCounts,
    positions: dict[int, Position] | None,
    enabled: frozenset[str],
    traced: bool,
    recorded: bool = False,
    ran: CodeContexts | None = None,
) -> dict[str, Any]:
    """One code object; when contexts were ``recorded``, the contexts of each
    instruction and branch outcome (``ran``: None when no context ran it)."""
    tags = {offset: (name, twin) for offset, name, twin in code.generated if name in enabled}
    where = positions or {}

    def instruction(offset: int, opname: str, line: int | None, count: int) -> dict[str, Any]:
        lineno, end_line, column, end_column = where.get(offset, _NO_POSITION)
        name, twin = tags.get(offset, (None, -1))
        entry = {
            "offset": offset,
            "opname": opname,
            "line": line,
            "end_line": end_line if lineno is not None else line,
            "column": column,
            "end_column": end_column,
            "count": count,
            "filter": name,
        }
        if twin >= 0:
            entry["folded_into"] = twin
        if recorded:
            entry["contexts"] = ran.instruction(offset) if ran is not None else []
        return entry

    def outcome(offset: int, which: int, target: int, count: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"target_offset": target, "count": count}
        if recorded:
            entry["contexts"] = ran.outcome(offset, bool(which)) if ran is not None else []
        return entry

    return {
        "qualname": code.qualname,
        "name": code.name,
        "firstlineno": code.firstlineno,
        "traced": traced,
        "instructions": [
            instruction(i.offset, i.opname, i.line, i.count) for i in code.instructions
        ],
        "branches": [
            {
                "offset": b.offset,
                "opname": b.opname,
                "line": b.line,
                "filter": tags.get(b.offset, (None, -1))[0],
                "outcomes": [
                    outcome(b.offset, k, o.target_offset, o.count) for k, o in enumerate(b.outcomes)
                ],
            }
            for b in code.branches
        ],
    }


def _file(results: Results, fres: FileResult, root: Path) -> dict[str, Any]:
    raw = fres.raw_code_objects or fres.code_objects
    source = read_source(fres, root)
    positions, _, _ = file_positions(results.python, raw, source, str(root / fres.path))
    misses = missed_lines(fres, source.lines, positions)
    recorded = fres.contexts is not None
    per_code: list[CodeContexts | None] = (
        [None] * len(raw) if fres.contexts is None else fres.contexts.per_code()
    )
    result: dict[str, Any] = {
        "summary": fres.summary.as_dict(),
        "partial": fres.partial,
        "missing_lines": [m.line for m in misses if m.whole],
        "partial_lines": [
            {
                "line": m.line,
                "spans": [list(span) for span in m.spans],
                "fragments": list(m.fragments),
                "opnames": list(m.opnames),
            }
            for m in misses
            if not m.whole
        ],
        "missing_arcs": [
            {
                "line": arc.line,
                "target_line": arc.target_line,
                "offset": arc.offset,
                "opname": arc.opname,
                "outcome": ("fall", "jump")[arc.outcome],
                "target_offset": arc.target_offset,
            }
            for arc in missed_arcs(fres)
        ],
        "code_objects": [
            _code(code, pos, results.filters, fres.is_traced(code), recorded, ran)
            for code, pos, ran in zip(raw, positions, per_code, strict=True)
        ],
    }
    if recorded:
        result["contexts_by_line"] = _by_line(raw, per_code)
    return result


def _by_line(
    codes: tuple[CodeCounts, ...], per_code: list[CodeContexts | None]
) -> dict[str, list[int]]:
    """Line -> the contexts that ran anything on it, over every code object
    (coverage.py's JSON keys lines as strings too)."""
    lines: dict[int, set[int]] = {}
    for code, ran in zip(codes, per_code, strict=True):
        if ran is None:
            continue
        for line in {i.line for i in code.instructions if i.line is not None}:
            found = ran.line(line)
            if found:
                lines.setdefault(line, set()).update(found)
    return {str(line): sorted(found) for line, found in sorted(lines.items())}


def document(results: Results, root: Path | None = None) -> dict[str, Any]:
    """The report as plain JSON data; sources are read from ``root`` (default:
    the current directory) for positions and fragments."""
    base = Path.cwd() if root is None else root
    return {
        "meta": {
            "format": FORMAT,
            "version": __version__,
            "python": results.python_version,
            "filters": describe(results.filters),
            "crashed_workers": [c.to_json() for c in results.crashed_workers],
            "traced_during": list(results.traced_during),
            "contexts": None if results.context_names is None else list(results.context_names),
        },
        "totals": results.totals.as_dict(),
        "files": {path: _file(results, fres, base) for path, fres in results.files.items()},
    }


def text(results: Results, root: Path | None = None) -> str:
    """The report as indented JSON text."""
    return json.dumps(document(results, root), indent=2) + "\n"


def write(results: Results, path: Path, root: Path | None = None) -> None:
    """Write the report to ``path`` (indented, atomically)."""
    write_json_atomic(path, document(results, root), indent=2)
