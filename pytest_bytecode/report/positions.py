"""Where counted instructions stand in their source: lines, columns, text.

The counts model knows lines, not columns.  The columns come from the
source compiled again as it was measured (``compile(source, path, "exec",
dont_inherit=True)``), its code objects matched to the counted ones by
``(qualname, firstlineno, n)`` as :mod:`pytest_bytecode.data` keys them;
each instruction's span is ``co_positions()`` at its offset
(:func:`file_positions`).  There are none for a code object whose
recompiled instructions differ from the counted ones (compiled through
pytest's assertion rewriting, or another optimisation level), for a file
whose source changed since it was measured (its SHA-256 differs), for data
of another Python minor version, or on Python 3.10, which records no
columns; :func:`file_positions` says which, in a note for the reader.
The HTML report marks spans with them, the terminal report quotes the
source text they cover, the JSON report lists them.
"""

from __future__ import annotations

import hashlib
import opcode
import types
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from pytest_bytecode import versions
from pytest_bytecode.data import code_keys
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import record
from pytest_bytecode.results import FileResult
from pytest_bytecode.sources import python_source_text

#: ``co_positions()`` of one instruction: lineno, end_lineno, col, end_col.
Position = tuple["int | None", "int | None", "int | None", "int | None"]


def code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object inside it: depth-first in ``co_consts``
    order, the order the counts list them in."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_tree(const)


def matched_code(
    source: bytes, filename: str, codes: Sequence[CodeCounts]
) -> list[types.CodeType | None]:
    """For each counted code object, the same code object of ``source``
    compiled again, matched by (qualname, firstlineno, n) as the data keys
    them; None where there is none, or where the recompiled instructions
    differ (opnames at the counted offsets: code compiled another way, such
    as through pytest's assertion rewriting)."""
    out: list[types.CodeType | None] = [None] * len(codes)
    try:
        with warnings.catch_warnings():
            # Compiled again for its columns only: the warnings it gives
            # (invalid escapes...) were the import's to give, if anyone's.
            warnings.simplefilter("ignore")
            root = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return out
    compiled: dict[tuple[str, int, int], types.CodeType] = {}
    seen: dict[tuple[str, int], int] = {}
    for co in code_tree(root):
        qualname = getattr(co, "co_qualname", co.co_name)
        n = seen.get((qualname, co.co_firstlineno), 0)
        seen[(qualname, co.co_firstlineno)] = n + 1
        compiled[(qualname, co.co_firstlineno, n)] = co
    for i, (key, counted) in enumerate(zip(code_keys(codes), codes, strict=True)):
        match = compiled.get(key)
        if match is None:
            continue
        raw = match.co_code
        if all(
            ins.offset < len(raw) and opcode.opname[raw[ins.offset]] == ins.opname
            for ins in counted.instructions
        ):
            out[i] = match
    return out


def code_positions(
    matched: Sequence[types.CodeType | None], codes: Sequence[CodeCounts]
) -> tuple[list[dict[int, Position] | None], int]:
    """For each counted code object, its instructions' ``co_positions()`` by
    offset, from its match (:func:`matched_code`); None where there is no
    match.  Also returns how many were None.  Needs
    :data:`~pytest_bytecode.versions.HAS_COLUMN_POSITIONS`."""
    out: list[dict[int, Position] | None] = [None] * len(codes)
    if not versions.HAS_COLUMN_POSITIONS:
        return out, len(codes)
    for i, (match, counted) in enumerate(zip(matched, codes, strict=True)):
        if match is not None:
            positions = list(match.co_positions())  # type: ignore[attr-defined]
            unit = versions.CODE_UNIT
            out[i] = {ins.offset: positions[ins.offset // unit] for ins in counted.instructions}
    return out, sum(1 for found in out if found is None)


def char_column(line: str, col: int) -> int:
    """A ``co_positions()`` column (a byte offset into the line's UTF-8) as an
    index into the line's characters."""
    if line.isascii():
        return min(col, len(line))
    return len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))


def position_spans(lines: Sequence[str], pos: Position) -> list[tuple[int, int, int]]:
    """``(line, start, end)`` character spans covered by one instruction's
    position, line numbers from 1.  A span over several lines covers its first
    line from its column to the line's last non-blank character, the lines
    between from their first to their last non-blank character, and its last
    line from the first non-blank character to its end column.  Nothing for
    a position without columns."""
    lineno, end_lineno, col, end_col = pos
    if lineno is None or col is None or end_col is None or not 1 <= lineno <= len(lines):
        return []
    end_lineno = lineno if end_lineno is None else min(end_lineno, len(lines))
    spans = []
    for number in range(lineno, end_lineno + 1):
        text = lines[number - 1]
        last = len(text.rstrip())
        start = char_column(text, col) if number == lineno else len(text) - len(text.lstrip())
        end = char_column(text, end_col) if number == end_lineno else last
        if end > start:
            spans.append((number, start, end))
    return spans


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping and touching ``(start, end)`` spans as their union, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def missed_spans(
    lines: Sequence[str],
    codes: Sequence[CodeCounts],
    positions: Sequence[dict[int, Position] | None],
) -> dict[int, list[tuple[int, int]]]:
    """Line -> the union of the character spans of its instructions that never
    ran (of the code objects whose positions are known).

    A missed instruction whose span holds the span of one that ran is left
    out: its span is an enclosing expression's (``a or b``'s, for the
    ``POP_TOP`` that drops ``a`` before ``b``), and part of that ran.  What
    stays is the text that never ran (``b``).
    """
    per_line: dict[int, list[tuple[int, int]]] = {}
    for code, pos in zip(codes, positions, strict=True):
        if pos is None:
            continue
        ran: dict[int, list[tuple[int, int]]] = {}
        missed: list[tuple[int, int, int]] = []
        for ins in code.instructions:
            if ins.offset not in pos:
                continue
            spans = position_spans(lines, pos[ins.offset])
            if ins.count:
                for number, start, end in spans:
                    ran.setdefault(number, []).append((start, end))
            else:
                missed.extend(spans)
        for number, start, end in missed:
            if not any(start <= s and e <= end for s, e in ran.get(number, ())):
                per_line.setdefault(number, []).append((start, end))
    return {number: merge_spans(spans) for number, spans in sorted(per_line.items())}


@record
class Source:
    """A measured file's text as found on disk, and whether it is the text
    that was measured."""

    lines: list[str]
    raw: bytes | None
    note: str = ""


def read_source(fres: FileResult, root: Path) -> Source:
    """The file's lines (from ``root`` for a relative name); a note when it
    is missing or changed since it was measured."""
    path = Path(fres.path)
    if not path.is_absolute():
        path = root / path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Source([], None, f"The source file cannot be read ({exc.strerror or exc}).")
    lines = python_source_text(raw).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if fres.sha256 and hashlib.sha256(raw).hexdigest() != fres.sha256:
        return Source(
            lines,
            None,
            "The source file changed since it was measured (its SHA-256 differs): line "
            "marks may not match it, and no column spans are shown.",
        )
    return Source(lines, raw)


def file_positions(
    python: str, codes: Sequence[CodeCounts], source: Source, filename: str
) -> tuple[list[dict[int, Position] | None], list[types.CodeType | None], list[str]]:
    """For each of a file's code objects ``codes``, its instructions'
    positions by offset (None where not known), its recompiled match, and the
    notes that say why positions are missing.  ``python`` is the minor
    version the counts were recorded with."""
    notes: list[str] = []
    positions: list[dict[int, Position] | None] = [None] * len(codes)
    matched: list[types.CodeType | None] = [None] * len(codes)
    if source.raw is not None and python == versions.PY_TAG:
        matched = matched_code(source.raw, filename, codes)
    if source.raw is not None:
        if not versions.HAS_COLUMN_POSITIONS:
            notes.append(
                "Python 3.10 records no column positions: whole lines are marked, "
                "no spans within them."
            )
        elif python != versions.PY_TAG:
            notes.append(
                f"Measured with Python {python}, reported with {versions.PY_TAG}: "
                "the instructions differ, no column spans are shown."
            )
        else:
            positions, unmatched = code_positions(matched, codes)
            if unmatched and codes:
                notes.append(
                    f"{unmatched} of {len(codes)} code objects do not match the source "
                    "compiled again (compiled another way, such as through pytest's "
                    "assertion rewriting): no column spans for them."
                )
    return positions, matched, notes
