"""The terminal report: a per-file table with a total, optionally the missed lines.

Columns: instructions, missed instructions, branch outcomes, missed branch
outcomes, cover % (instructions).  ``term-missing`` adds, per file, what
never ran in the user's terms (:func:`pytest_bytecode.report.missed.missing_column`):
missed lines (``26, 49-50``), partly run lines with the source fragments
that never ran (``15: 0.05``), conditional jumps that ran but never went
one way (``13->14``, ``54: v never false``); with pytest's ``-v`` also the
missed opnames (``15[LOAD_CONST,JUMP_FORWARD]: 0.05``).

Which files are rows, and in what order, comes decided
(:func:`pytest_bytecode.reportconfig.table`: coverage.py's ``skip_covered``,
``skip_empty`` and ``sort``); percentages have coverage.py's ``precision``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pytest_bytecode.report.missed import missing_column
from pytest_bytecode.report.positions import file_positions, read_source
from pytest_bytecode.reportconfig import COLUMNS, Table
from pytest_bytecode.results import (
    DEFAULT_PRECISION,
    FileResult,
    Results,
    Summary,
    escape,
    format_percent,
    traced_note,
)


def missing_text(
    results: Results, fres: FileResult, root: Path | None = None, *, opnames: bool = False
) -> str:
    """The term-missing column for one file (its source read from ``root``,
    default the current directory, for the fragments that never ran)."""
    source = read_source(fres, Path.cwd() if root is None else root)
    raw = fres.raw_code_objects or fres.code_objects
    positions, _, _ = file_positions(results.python, raw, source, fres.path)
    return escape(missing_column(fres, source.lines, positions, opnames=opnames))


def _row(name: str, s: Summary, precision: int) -> list[str]:
    return [
        name,
        str(s.instructions),
        str(s.instructions - s.covered_instructions),
        str(s.branches),
        str(s.branches - s.covered_branches),
        f"{format_percent(s.percent_covered, precision=precision)}%",
    ]


def render(
    results: Results,
    table: Table | None = None,
    *,
    missing: bool = False,
    precision: int = DEFAULT_PRECISION,
    root: Path | None = None,
    opnames: bool = False,
) -> Iterator[str]:
    """The report's lines: the rows of ``table`` (default: every file, in
    order), the lines saying which files it leaves out, then the notes.
    ``root``: where relative file names start (for the Missing column's
    source fragments); ``opnames``: list missed opnames too."""
    if table is None:
        table = Table(tuple(results.files.values()), results.totals)
    header = list(COLUMNS)
    if missing:
        header.append("Missing")
    rows = []
    for fres in table.files:
        row = _row(
            escape(fres.path) + (" (partial)" if fres.partial else ""), fres.summary, precision
        )
        if missing:
            row.append(missing_text(results, fres, root, opnames=opnames))
        rows.append(row)
    total = _row("TOTAL", table.total, precision)
    if missing:
        total.append("")
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:6], widths[1:6], strict=True)]
        if missing:
            cells.append(row[6])
        return "   ".join(cells).rstrip()

    title = f"bytecode coverage: Python {results.python_version}"
    yield f" {title} ".center(max(len(title) + 4, 40), "-")
    yield ""
    yield fmt(header)
    yield "-" * len(fmt(header))
    for row in rows:
        yield fmt(row)
    yield "-" * len(fmt(header))
    yield fmt(total)
    for line in table.end_lines():
        yield ""
        yield line
    if any(f.partial for f in table.files):
        yield ""
        yield (
            "(partial): imported before pytest-bytecode's import hook; "
            "module-level code not measured"
        )
    traced = traced_note(results)
    if traced is not None:
        yield ""
        yield traced
    for crash in results.crashed_workers:
        yield ""
        state = (
            f"counts of its tests through {crash.saved_through or 'collection'} recovered"
            if crash.recovered
            else "its counts were lost"
        )
        yield escape(f"worker {crash.worker} crashed ({crash.error}); {state}")
