"""``pytest-bytecode contexts FILE:LINE[:COL]``: which tests ran it.

Reads a data file with contexts (``--bytecode-cov-context=test``) and prints
the contexts (``NODEID|PHASE``) that ran anything of the line, one a line,
sorted (what ran outside every test phase, the empty context, is printed
as :data:`OUTSIDE_SHOWN`); with a column (from 1, in characters), only the instructions whose
``co_positions()`` span covers it (:mod:`pytest_bytecode.report.positions`:
the source compiled again, so not on 3.10 nor for a source changed since it
was measured).  ``--instructions`` lists each instruction and each branch
outcome with its own contexts.  The exit status is 1 when no context ran
what was asked, as ``grep`` says "not found".
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from pytest_bytecode import data
from pytest_bytecode.contexts import OUTSIDE, code_contexts
from pytest_bytecode.report.positions import file_positions, position_spans, read_source
from pytest_bytecode.results import compute

_WHERE = re.compile(r"(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?")


def parse_where(text: str) -> tuple[str, int, int | None]:
    """``FILE:LINE[:COL]`` as (file, line, column or None); ValueError otherwise."""
    found = _WHERE.fullmatch(text)
    if found is None or int(found["line"]) < 1 or (found["col"] and int(found["col"]) < 1):
        raise ValueError(f"{text!r}: expected FILE:LINE or FILE:LINE:COL (LINE and COL from 1)")
    col = found["col"]
    return found["file"], int(found["line"]), int(col) if col else None


def file_key(counts: data.CovData, name: str, base: Path) -> str:
    """The data file's name for ``name`` (as written there, or a path to the
    same file from ``base``); ValueError naming it when it was not measured."""
    if name in counts.files:
        return name
    path = Path(name)
    resolved = os.path.realpath(path if path.is_absolute() else base / path)
    root = os.path.realpath(base)
    candidates = [resolved]
    if resolved == root or resolved.startswith(root + os.sep):
        candidates.insert(0, Path(os.path.relpath(resolved, root)).as_posix())
    for candidate in candidates:
        if candidate in counts.files:
            return candidate
    same = sorted(k for k in counts.files if Path(k).name == path.name)
    hint = f" (measured: {', '.join(same[:3])})" if same else ""
    raise ValueError(f"{name}: not a measured file of the data file{hint}")


def query(
    where: str,
    data_path: str,
    by_instruction: bool,
    out: Callable[[str], None],
    base: Path | None = None,
) -> int:
    """Print the contexts that ran ``where``; returns the exit status."""
    base = Path.cwd() if base is None else base
    name, line, col = parse_where(where)
    counts = data.load(data_path)
    if counts.contexts is None:
        raise ValueError(
            f"{data_path}: no contexts were recorded (run with --bytecode-cov-context=test)"
        )
    key = file_key(counts, name, base)
    fdata = counts.files[key]
    codes = fdata.code_objects
    per_code = code_contexts(codes, counts.contexts.of_file(key), counts.contexts.names)
    names = counts.contexts.names
    # Which instructions (code object index, offset) are asked about.
    chosen: list[tuple[int, int, str, str]] = []  # code, offset, opname, where
    if col is None:
        for c, code in enumerate(codes):
            chosen.extend((c, i.offset, i.opname, "") for i in code.instructions if i.line == line)
    else:
        figures = compute(data.CovData(counts.python, counts.python_version, {key: fdata}))
        source = read_source(figures.files[key], base)
        positions, _, notes = file_positions(counts.python, codes, source, key)
        if source.raw is None or all(p is None for p in positions):
            why = " ".join(notes) or source.note or "the source cannot be matched"
            raise ValueError(f"{key}: no column positions to choose from ({why})")
        narrow: list[tuple[int, int, str, str]] = []
        wide: list[tuple[int, int, str, str]] = []
        for c, (code, where_of) in enumerate(zip(codes, positions, strict=True)):
            for ins in code.instructions:
                pos = (where_of or {}).get(ins.offset)
                if pos is None:
                    continue
                for number, start, end in position_spans(source.lines, pos):
                    if number == line and start < col <= end:
                        one_line = pos[0] == pos[1] == line
                        span = f" col {start + 1}-{end}"
                        (narrow if one_line else wide).append((c, ins.offset, ins.opname, span))
        # A statement over several lines (a def, a call) covers the columns of
        # every line inside it: what stands on the line itself says more.
        chosen = narrow or wide
    if not chosen:
        at = f"{key}:{line}" + (f":{col}" if col is not None else "")
        raise ValueError(f"{at}: no measured instruction there")
    found: set[int] = set()
    lines: list[str] = []
    for c, offset, opname, span in chosen:
        ran = per_code[c]
        contexts = ran.instruction(offset) if ran is not None else []
        found.update(contexts)
        if by_instruction:
            lines.append(f"{codes[c].qualname} offset {offset} {opname}{span}:")
            lines.extend(_listed("ran", contexts, names))
            branch = next((b for b in codes[c].branches if b.offset == offset), None)
            if branch is not None:
                for jumped, what in ((False, "fell through"), (True, "jumped")):
                    taken = ran.outcome(offset, jumped) if ran is not None else []
                    found.update(taken)
                    lines.extend(_listed(what, taken, names))
    at = f"{key}:{line}" + (f":{col}" if col is not None else "")
    if not found:
        out(f"{at}: no context ran it")
        return 1
    if by_instruction:
        for text in lines:
            out(text)
    else:
        for context in sorted(names[c] for c in found):
            out(shown(context))
    return 0


def shown(name: str) -> str:
    """A context as printed: the empty context in words."""
    return name if name != OUTSIDE else OUTSIDE_SHOWN


#: How the empty context (what ran outside every test phase) is printed.
OUTSIDE_SHOWN = "(outside the tests: imports at collection, code between tests)"


def _listed(what: str, contexts: list[int], names: list[str]) -> list[str]:
    if not contexts:
        return [f"  {what}: none"]
    return [f"  {what}:"] + [f"    {shown(name)}" for name in sorted(names[c] for c in contexts)]
