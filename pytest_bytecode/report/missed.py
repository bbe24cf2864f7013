"""What never ran, in the user's terms: lines, source fragments, branch arcs.

The terminal report (``term-missing``) and the JSON report say the same
things, worked out once here from a file's filtered counts:

* a *missed line*: instructions on it, none of which ran;
* a *partly run line*: some of its instructions ran, some did not; with
  columns (3.11+, see :mod:`~pytest_bytecode.report.positions`) the source
  fragments the missed ones cover, cut by their ``co_positions()`` spans
  and merged where they touch (``coupon == "VIP"``);
* a *missed arc*: a conditional jump that ran, one of whose outcomes never
  happened, as coverage.py writes it, ``line->line`` (the line of the
  instruction the outcome leads to).  A jump that never ran at all is not
  listed: its line is missed or partly run already.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from pytest_bytecode.engine.records import record
from pytest_bytecode.report.positions import Position, missed_spans, position_spans
from pytest_bytecode.results import FileResult
from pytest_bytecode.vocabulary import portable_opnames


@record(frozen=True)
class LineMiss:
    """One line with instructions that never ran."""

    line: int
    #: No instruction of the line ran.
    whole: bool
    #: The opnames that never ran, in order, each once.
    opnames: tuple[str, ...]
    #: ``(start, end)`` character spans of the line that never ran (empty
    #: when columns are not known, or for a whole line).
    spans: tuple[tuple[int, int], ...]
    #: The source text of each span.
    fragments: tuple[str, ...]


@record(frozen=True)
class ArcMiss:
    """One outcome of a conditional jump that ran but never went this way."""

    line: int
    target_line: int | None
    offset: int
    opname: str
    #: 0: fell through; 1: jumped.
    outcome: int
    target_offset: int
    #: The source text of the jump's own span ("" when columns are unknown).
    fragment: str = ""

    def text(self) -> str:
        """coverage.py's notation, ``12->14`` (``12->exit`` when the outcome
        leads past the code's last line); for an arc within one line,
        the jump's source text and what it never was: ``12: v never false``
        (``12 (part)`` where columns are not known)."""
        if self.target_line == self.line:
            if self.fragment:
                return f"{self.line}: {self.fragment} never {self.meaning()}"
            return f"{self.line} (part)"  # no columns to say where (3.10)
        return f"{self.line}->{'exit' if self.target_line is None else self.target_line}"

    def meaning(self) -> str:
        """What the outcome that never happened stands for, in words: the
        truth of the jump's source text where it can be told."""
        name = self.opname
        if "NONE" in name and self.fragment.endswith((" is None", " is not None")):
            # ``x is not None`` compiled to a test of x against None: say
            # what the expression written there was never.
            jumps_on_none = "NOT_NONE" not in name
            true_when_none = self.fragment.endswith(" is None")
            jumped = "true" if jumps_on_none == true_when_none else "false"
            fell = "false" if jumped == "true" else "true"
            return jumped if self.outcome else fell
        for test, (jumped, fell) in _MEANINGS:
            if test in name:
                return jumped if self.outcome else fell
        return "jumped" if self.outcome else "fell through"


#: (part of the opname, (what jumping means, what falling through means)),
#: first match wins.
_MEANINGS = (
    ("NOT_NONE", ("not None", "None")),
    ("NONE", ("None", "not None")),
    ("NOT_EXC_MATCH", ("unmatched", "matched")),
    ("TRUE", ("true", "false")),
    ("FALSE", ("false", "true")),
    ("FOR_ITER", ("exhausted", "given an item")),
    ("SEND", ("finished", "suspended")),
)


def missed_lines(
    fres: FileResult,
    lines: Sequence[str],
    positions: Sequence[dict[int, Position] | None],
) -> list[LineMiss]:
    """Every missed or partly run line of ``fres``, in order; ``lines`` is
    the source text (may be empty), ``positions`` as
    :func:`~pytest_bytecode.report.positions.file_positions` gives them."""
    spans = missed_spans(lines, fres.code_objects, positions) if lines else {}
    out = []
    for line, (ops, whole) in fres.missed_lines().items():
        cut = () if whole else tuple(spans.get(line, ()))
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        fragments = tuple(text[start:end].strip() for start, end in cut)
        out.append(LineMiss(line, whole, tuple(dict.fromkeys(ops)), cut, fragments))
    return out


def missed_arcs(
    fres: FileResult,
    lines: Sequence[str] = (),
    positions: Sequence[dict[int, Position] | None] = (),
) -> list[ArcMiss]:
    """Every outcome never taken of a conditional jump that ran, in line
    order; with the source ``lines`` and ``positions`` (as for
    :func:`missed_lines`), each with its jump's source text."""
    out = []
    raw = fres.raw_code_objects or fres.code_objects
    where = list(positions) or [None] * len(raw)
    for code, unfiltered, pos in zip(fres.code_objects, raw, where, strict=True):
        # Where an outcome lands, a helper (3.14's NOT_TAKEN) aside.
        helpers = {offset for offset, name, _ in code.generated if name == "helpers"}
        placed = [
            (ins.offset, ins.line)
            for ins in unfiltered.instructions
            if ins.line is not None and ins.offset not in helpers
        ]
        for branch in code.branches:
            if branch.line is None or not any(o.count for o in branch.outcomes):
                continue
            for index, outcome in enumerate(branch.outcomes):
                if not outcome.count:
                    out.append(
                        ArcMiss(
                            branch.line,
                            _line_at(placed, outcome.target_offset),
                            branch.offset,
                            branch.opname,
                            index,
                            outcome.target_offset,
                            _text(lines, pos, branch.offset, branch.line),
                        )
                    )
    return sorted(out, key=lambda arc: (arc.line, arc.offset, arc.outcome))


def _line_at(placed: Sequence[tuple[int, int | None]], offset: int) -> int | None:
    """The line of the instruction at ``offset``, or of the next one with a
    line (a loop's exit lands on an END_FOR, which is no unit of its own)."""
    i = bisect_left(placed, (offset,))
    return placed[i][1] if i < len(placed) else None


def _text(lines: Sequence[str], pos: dict[int, Position] | None, offset: int, line: int) -> str:
    """The source text an instruction's span covers on ``line``."""
    if pos is None or offset not in pos or not 0 < line <= len(lines):
        return ""
    return " ".join(
        lines[number - 1][start:end].strip()
        for number, start, end in position_spans(lines, pos[offset])
        if number == line
    )


def missing_column(
    fres: FileResult,
    lines: Sequence[str],
    positions: Sequence[dict[int, Position] | None],
    *,
    opnames: bool = False,
) -> str:
    """The ``term-missing`` column of one file: missed lines as numbers and
    ranges (``26, 49-50``), partly run lines with the fragments that never
    ran (``15: 0.05``; ``29: low | high``), arcs never taken (``13->14``,
    ``54: v never false``).  A partly run line whose fragments are not known
    shows as ``27 (part)``; with ``opnames`` each partly run line also lists
    its missed instructions, by the names of the portable vocabulary the
    bytecode assertions use (``15[LOAD_CONST,JUMP_FORWARD]``), the same on
    every Python version."""
    entries: list[tuple[int, int, str]] = []
    run: list[int] = []

    def flush() -> None:
        if run:
            text = str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"
            entries.append((run[0], 0, text))
            run.clear()

    misses = missed_lines(fres, lines, positions)
    gone = {miss.line for miss in misses if miss.whole}
    # As coverage.py does, an arc into a line that never ran is not listed:
    # the line's number says it.
    arcs = [arc for arc in missed_arcs(fres, lines, positions) if arc.target_line not in gone]
    for miss in misses:
        if miss.whole:
            if run and miss.line != run[-1] + 1:
                flush()
            run.append(miss.line)
            continue
        flush()
        portable = dict.fromkeys(name for op in miss.opnames for name in portable_opnames(op))
        ops = f"[{','.join(portable)}]" if opnames and portable else ""
        if miss.fragments:
            entries.append((miss.line, 1, f"{miss.line}{ops}: {' | '.join(miss.fragments)}"))
        else:
            entries.append((miss.line, 1, f"{miss.line}{ops}" + ("" if ops else " (part)")))
    flush()
    entries += [(arc.line, 2, arc.text()) for arc in arcs]
    # "12 (part)" only for a line nothing else describes.
    said = {line for line, _, text in entries if not text.endswith(" (part)")}
    shown = [text for line, _, text in sorted(entries) if line not in said or " (part)" not in text]
    return ", ".join(dict.fromkeys(shown))
