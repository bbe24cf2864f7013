"""Bytecode assertions: what a function compiles to, checked in a test.

``assert_opcodes`` matches a listing (see :mod:`pytest_bytecode.normalize`)
against a list of patterns; ``assert_in_bytecode`` / ``assert_not_in_bytecode``
look for one instruction; ``opcodes`` returns the listing to paste into a test.
Failures raise ``AssertionError`` with expected and actual listings side by
side, so pytest shows them as ``E`` lines; the helpers hide themselves from
tracebacks.  They work outside pytest too (plain ``python``).
"""

from __future__ import annotations

import dis
import enum
import fnmatch
import os
import re
from collections.abc import Sequence
from types import EllipsisType
from typing import Final, Literal

from pytest_bytecode import normalize, testcontext, versions
from pytest_bytecode.engine.records import record
from pytest_bytecode.normalize import Level, Op

Match = Literal["exact", "contains", "startswith", "subsequence"]
MATCHES: tuple[Match, ...] = ("exact", "contains", "startswith", "subsequence")

#: A pattern: ``"OPNAME"``, ``"OPNAME arg"``, ``(opname, argval)``, ``...``,
#: or a marker ``"L1:"`` / ``"<code g>:"``.
Pattern = str | tuple[str, object] | EllipsisType


class _AnyType:
    """Sentinel for "any argument"."""

    def __repr__(self) -> str:
        return "ANY"


ANY: object = _AnyType()


class BytecodePatternError(ValueError):
    """A pattern names an opname that no supported Python knows, or is malformed."""


@record(frozen=True)
class _Pat:
    opname: str  # may hold wildcards; "" for markers
    want: object  # the argument: ANY, a str (text form) or a value (tuple form)
    text: str  # how the pattern is shown
    by_value: bool = False
    marker: str = ""

    def matches(self, op: Op) -> bool:
        if self.marker or op.is_marker:
            return self.marker == op.marker
        if not fnmatch.fnmatchcase(op.opname, self.opname):
            return False
        if self.want is ANY:
            return True
        if self.by_value:
            if type(self.want) is type(op.argval) and self.want == op.argval:
                return True
            if not isinstance(self.want, str):
                return False
        return _arg_matches(str(self.want), op)


class _Run(enum.Enum):
    """A parsed ``...``: any run of entries, possibly empty."""

    RUN = "..."


_RUN: Final = _Run.RUN

#: A parsed pattern list: patterns and ``...``.
Pats = list[_Pat | _Run]


class _Cell(enum.Enum):
    """What stands in the expected column of a failure row instead of a pattern."""

    MORE = "more"  # the row is taken by the ``...`` of the row above
    ABSENT = "absent"  # no pattern: the row's entry is one too many


_MORE: Final = _Cell.MORE
_ABSENT: Final = _Cell.ABSENT


class _Gap(enum.Enum):
    """What stands in the actual column of a failure row instead of an entry."""

    MISSING = "missing"  # no entry: the listing is one entry short of the row's pattern


_MISSING: Final = _Gap.MISSING


def _arg_matches(text: str, op: Op) -> bool:
    """Argument text matches the shown argument or ``str(argval)``, exactly.

    No wildcards here: ``BINARY_OP *`` and ``BINARY_OP **`` must stay literal.
    """
    return text in (op.argrepr, str(op.argval))


def _check_opname(opname: str, level: Level) -> None:
    """Reject opnames no supported Python knows, and raw names at the portable level."""
    names = normalize.PORTABLE_OPNAMES if level == "portable" else versions.KNOWN_OPNAMES
    if any(ch in opname for ch in "*?["):
        if not any(fnmatch.fnmatchcase(name, opname) for name in names):
            raise BytecodePatternError(
                f"opname pattern {opname!r} matches no opname known at level {level!r}"
            )
        return
    if opname in names:
        return
    if level == "portable" and opname in normalize.NOT_PORTABLE:
        raise BytecodePatternError(
            f"{opname} never appears at level 'portable' (it reads as "
            f"{normalize.NOT_PORTABLE[opname]}); use that, or level='raw'"
        )
    raise BytecodePatternError(f"unknown opname {opname!r}: no CPython 3.10-3.15 has it")


def _parse(pattern: object, level: Level) -> _Pat | _Run:
    if pattern is Ellipsis:
        return _RUN
    if isinstance(pattern, tuple) and len(pattern) == 2 and isinstance(pattern[0], str):
        opname, argval = pattern
        _check_opname(opname, level)
        return _Pat(opname, argval, f"{opname} {argval!r}", by_value=True)
    if not isinstance(pattern, str) or not pattern.strip():
        raise BytecodePatternError(f"not a bytecode pattern: {pattern!r}")
    text = pattern.strip()
    if text.endswith(":") and (re.fullmatch(r"L\d+:", text) or text.startswith("<code ")):
        return _Pat("", ANY, text, marker=text)
    opname, _, arg = text.partition(" ")
    _check_opname(opname, level)
    return _Pat(opname, arg.strip() if arg.strip() else ANY, text)


def _parse_all(expected: Sequence[object], level: Level) -> Pats:
    if isinstance(expected, (str, bytes)):
        raise BytecodePatternError("expected must be a list of patterns, not a string")
    return [_parse(p, level) for p in expected]


# --- Matching ------------------------------------------------------------------


def _full_match(pats: Pats, ops: list[Op]) -> bool:
    """Whole-listing match where ``...`` stands for any run of entries."""
    n = len(ops)
    reach = [False] * (n + 1)  # reach[j]: patterns so far consumed ops[:j]
    reach[0] = True
    for pat in pats:
        nxt = [False] * (n + 1)
        if pat is _RUN:
            seen = False
            for j in range(n + 1):
                seen = seen or reach[j]
                nxt[j] = seen
        else:
            for j in range(n):
                if reach[j] and pat.matches(ops[j]):
                    nxt[j + 1] = True
        reach = nxt
    return reach[n]


def _with_mode(pats: Pats, match: Match) -> Pats:
    collapsed: Pats = []
    for p in pats:
        if not (p is _RUN and collapsed and collapsed[-1] is _RUN):
            collapsed.append(p)
    pats = collapsed
    if match == "exact":
        return pats
    if match == "startswith":
        return pats if pats and pats[-1] is _RUN else [*pats, _RUN]
    if match == "contains":
        head = [] if pats and pats[0] is _RUN else [_RUN]
        return head + pats + ([] if pats and pats[-1] is _RUN else [_RUN])
    out: Pats = [_RUN]
    for p in pats:
        if p is not _RUN:
            out += [p, _RUN]
    return out


#: A row of the failure table: what was expected, and the entry (or :data:`_MISSING`).
Row = tuple[_Pat | _Run | _Cell, Op | _Gap]

#: Above this many cells the middle of a failed match is paired up by position.
_MAX_ALIGN_CELLS = 200_000


def _align(pats: Pats, ops: list[Op]) -> list[Row]:
    """Rows (pattern, entry) for the failure table.

    The common head and tail are paired directly; the differing middle gets a
    least-edits alignment (:func:`_align_middle`), or for huge listings a
    pairing by position.
    """
    head = 0
    while head < min(len(pats), len(ops)):
        pat = pats[head]
        if pat is _RUN or not pat.matches(ops[head]):
            break
        head += 1
    tail = 0
    while tail < min(len(pats), len(ops)) - head:
        pat = pats[-1 - tail]
        if pat is _RUN or not pat.matches(ops[-1 - tail]):
            break
        tail += 1
    mid_pats, mid_ops = pats[head : len(pats) - tail], ops[head : len(ops) - tail]
    rows: list[Row] = list(zip(pats[:head], ops[:head], strict=True))
    if len(mid_pats) * len(mid_ops) > _MAX_ALIGN_CELLS:
        for k in range(max(len(mid_pats), len(mid_ops))):
            rows.append(
                (
                    mid_pats[k] if k < len(mid_pats) else _ABSENT,
                    mid_ops[k] if k < len(mid_ops) else _MISSING,
                )
            )
    else:
        rows += _align_middle(mid_pats, mid_ops)
    rows += zip(pats[len(pats) - tail :], ops[len(ops) - tail :], strict=True)
    return rows


def _align_middle(pats: Pats, ops: list[Op]) -> list[Row]:
    """Rows (pattern or :data:`_ABSENT`, entry or :data:`_MISSING`) of a
    least-edits alignment.

    ``...`` absorbs any entries for free; a pattern against a non-matching
    entry, a missing entry or an extra entry costs one.
    """
    m, n = len(pats), len(ops)
    inf = m + n + 1
    cost = [[inf] * (n + 1) for _ in range(m + 1)]
    cost[0][0] = 0
    for i in range(m + 1):
        row = cost[i]
        for j in range(n):  # an extra actual entry
            row[j + 1] = min(row[j + 1], row[j] + 1)
        if i == m:
            break
        pat, below = pats[i], cost[i + 1]
        if pat is _RUN:  # ``...`` takes ops[j:jj] for free: a running minimum
            best = inf
            for j in range(n + 1):
                best = min(best, row[j])
                below[j] = min(below[j], best)
            continue
        for j in range(n + 1):
            c = row[j]
            below[j] = min(below[j], c + 1)  # a missing entry
            if j < n:
                step = 0 if pat.matches(ops[j]) else 1
                below[j + 1] = min(below[j + 1], c + step)
    rows: list[Row] = []
    i, j = m, n
    while i or j:
        c = cost[i][j]
        if i and pats[i - 1] is _RUN:
            start = next(jj for jj in range(j + 1) if cost[i - 1][jj] == c)
            taken = ops[start:j]
            for k, op in enumerate(reversed(taken)):
                rows.append((_RUN if k == len(taken) - 1 else _MORE, op))
            i, j = i - 1, start
            continue
        if i and j:
            pat = pats[i - 1]
            assert pat is not _RUN
            step = 0 if pat.matches(ops[j - 1]) else 1
            if cost[i - 1][j - 1] + step == c:
                rows.append((pat, ops[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i and cost[i - 1][j] + 1 == c:
            rows.append((pats[i - 1], _MISSING))
            i -= 1
            continue
        rows.append((_ABSENT, ops[j - 1]))
        j -= 1
    rows.reverse()
    return rows


# --- Rendering -----------------------------------------------------------------


def _describe(obj: object) -> str:
    """``name (file:line)``, the file relative to the current directory if inside it."""
    code = normalize.code_of(obj)
    filename = code.co_filename
    if os.path.isabs(filename):
        relative = os.path.relpath(filename)
        if not relative.startswith(os.pardir):
            filename = relative
    return f"{normalize.code_name(code)} ({filename}:{code.co_firstlineno})"


def _line(op: Op | _Gap) -> str:
    return "" if op is _MISSING or op.line is None else str(op.line)


def _ok(pat: _Pat | _Run | _Cell, op: Op | _Gap) -> bool:
    if pat is _RUN or pat is _MORE:
        return True
    if isinstance(pat, _Pat) and op is not _MISSING:
        return pat.matches(op)
    return pat is _ABSENT and op is _MISSING


def _table(rows: list[Row]) -> list[str]:
    """Aligned ``expected | line actual`` rows; ``>`` marks the first difference."""
    left = ["..." if p is _RUN else (p.text if isinstance(p, _Pat) else "") for p, _ in rows]
    width = max([len("expected"), *map(len, left)])
    out = [f"    {'expected':<{width}} | line  actual"]
    first = True
    for (pat, op), text in zip(rows, left, strict=True):
        bad = not _ok(pat, op)
        mark = "  "
        if bad:
            mark, first = (">" if first else "!") + " ", False
        actual = "" if op is _MISSING else op.text
        out.append(f"  {mark}{text:<{width}} | {_line(op):>4}  {actual}".rstrip())
    return out


def _raw_dis(obj: object, recursive: bool) -> list[str]:
    code = normalize.code_of(obj)
    codes = [code, *normalize.nested_codes(code)] if recursive else [code]
    out = ["", "raw disassembly (dis):"]
    for c in codes:
        out.append(f"  {normalize.code_name(c)}:")
        out += ["    " + line for line in dis.Bytecode(c).dis().splitlines()]
    return out


def _fail(lines: list[str], obj: object, recursive: bool) -> AssertionError:
    if testcontext.verbosity() > 0:
        lines = lines + _raw_dis(obj, recursive)
    else:
        lines = [*lines, "", "(run pytest with -v to see the raw disassembly)"]
    return AssertionError("\n".join(lines))


def _visible(ops: list[Op], pats: Pats) -> list[Op]:
    """Markers take part in matching only if a pattern names one."""
    if any(p is not _RUN and p.marker for p in pats):
        return ops
    return [op for op in ops if not op.is_marker]


# --- Public helpers ----------------------------------------------------------------


def opcodes(obj: object, level: Level = "portable", *, recursive: bool = False) -> list[str]:
    """The listing of ``obj`` as ``"OPNAME arg"`` strings, ready to paste into a test."""
    return [op.text for op in normalize.listing(obj, level, recursive)]


def assert_opcodes(
    obj: object,
    expected: Sequence[Pattern],
    *,
    match: Match = "exact",
    level: Level = "portable",
    recursive: bool = False,
) -> None:
    """Assert that ``obj`` compiles to instructions matching ``expected``.

    ``match``: ``"exact"`` (the whole listing), ``"contains"`` (a contiguous
    run), ``"startswith"``, or ``"subsequence"`` (in order, gaps allowed).
    """
    __tracebackhide__ = True
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(map(repr, MATCHES))}, not {match!r}")
    pats = _parse_all(expected, level)
    ops = normalize.listing(obj, level, recursive)
    visible = _visible(ops, pats)
    full = _with_mode(pats, match)
    if _full_match(full, visible):
        return
    head = [
        f"bytecode of {_describe(obj)} does not match",
        f"  match={match!r}, level={level!r}, CPython {versions.PY_TAG}",
        "",
    ]
    raise _fail(head + _table(_align(full, visible)), obj, recursive)


def _one(opname: str, argval: object, level: Level) -> _Pat:
    pat = _parse(opname, level) if argval is ANY else _parse((opname, argval), level)
    if pat is _RUN or pat.marker:
        raise BytecodePatternError(f"not an instruction pattern: {opname!r}")
    return pat


def _listing_lines(ops: list[Op], hits: set[int]) -> list[str]:
    out = ["    line  instruction"]
    for n, op in enumerate(ops):
        mark = "> " if n in hits else "  "
        out.append(f"  {mark}{_line(op):>4}  {op.text}".rstrip())
    return out


def assert_in_bytecode(
    obj: object,
    opname: str,
    argval: object = ANY,
    *,
    level: Level = "portable",
    recursive: bool = False,
) -> Op:
    """Assert that some instruction matches; return the first one that does."""
    __tracebackhide__ = True
    pat = _one(opname, argval, level)
    ops = normalize.listing(obj, level, recursive)
    for op in ops:
        if not op.is_marker and pat.matches(op):
            return op
    head = [
        f"{pat.text} not found in bytecode of {_describe(obj)}",
        f"  level={level!r}, CPython {versions.PY_TAG}",
        "",
    ]
    raise _fail(head + _listing_lines(ops, set()), obj, recursive)


def assert_not_in_bytecode(
    obj: object,
    opname: str,
    argval: object = ANY,
    *,
    level: Level = "portable",
    recursive: bool = False,
) -> None:
    """Assert that no instruction matches."""
    __tracebackhide__ = True
    pat = _one(opname, argval, level)
    ops = normalize.listing(obj, level, recursive)
    hits = {n for n, op in enumerate(ops) if not op.is_marker and pat.matches(op)}
    if not hits:
        return
    where = ", ".join(_line(ops[n]) or "?" for n in sorted(hits))
    head = [
        f"{pat.text} found in bytecode of {_describe(obj)} (line {where})",
        f"  level={level!r}, CPython {versions.PY_TAG}",
        "",
    ]
    raise _fail(head + _listing_lines(ops, hits), obj, recursive)
