"""Read and write the side tables of a code object.

* the exception table (3.11+, ``co_exceptiontable``), format described in
  CPython's ``InternalDocs/exception_handling.md``;
* the location table (3.11+, PEP 657, ``co_linetable``), format described in
  ``InternalDocs/locations.md``;
* the line table of 3.10 (``co_linetable``: byte-offset delta / line delta
  pairs, ``Objects/lnotab_notes.txt``).

All offsets here are in code units unless a name says bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import namedtuple
from collections.abc import Iterator, Sequence
from itertools import accumulate

from pytest_bytecode import versions

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import NamedTuple

    class ExceptionEntry(NamedTuple):
        """One exception-table entry: units [start, end) go to ``target``,
        with the stack cut to ``depth`` and, if ``lasti``, the offset of the
        raising instruction pushed below the exception."""

        start: int
        end: int
        target: int
        depth: int
        lasti: bool

else:  # the same type, made without importing typing
    ExceptionEntry = namedtuple("ExceptionEntry", "start end target depth lasti")
    ExceptionEntry.__doc__ = """One exception-table entry: units [start, end) go to ``target``,
        with the stack cut to ``depth`` and, if ``lasti``, the offset of the
        raising instruction pushed below the exception."""


def _read_varint(data: Iterator[int]) -> int:
    byte = next(data)
    value = byte & 63
    while byte & 64:
        value <<= 6
        byte = next(data)
        value |= byte & 63
    return value


def parse_exception_table(table: bytes) -> list[ExceptionEntry]:
    """Decode ``co_exceptiontable`` into entries (offsets in code units)."""
    entries: list[ExceptionEntry] = []
    if not table:
        return entries
    data = iter(table)
    while True:
        try:
            start = _read_varint(data)
        except StopIteration:
            return entries
        length = _read_varint(data)
        target = _read_varint(data)
        depth_lasti = _read_varint(data)
        entries.append(
            ExceptionEntry(start, start + length, target, depth_lasti >> 1, bool(depth_lasti & 1))
        )


def _varint(value: int) -> bytes:
    """Big-endian 6-bit groups, bit 6 = more follows (bit 7, which marks the
    first byte of an entry, is the caller's)."""
    shift = 0
    while value >> (shift + 6):
        shift += 6
    out = bytearray()
    while shift > 0:
        out.append(((value >> shift) & 63) | 64)
        shift -= 6
    out.append(value & 63)
    return bytes(out)


def encode_exception_table(entries: Sequence[ExceptionEntry]) -> bytes:
    """Encode entries, sorted and non-overlapping, as ``co_exceptiontable``."""
    out = bytearray()
    for start, end, target, depth, lasti in entries:
        here = len(out)
        # Most values take one or two bytes: those are written here.
        for value in (start, end - start, target, 2 * depth + lasti):
            if value < 64:
                out.append(value)
            elif value < 4096:
                out.append(64 | value >> 6)
                out.append(value & 63)
            else:
                out += _varint(value)
        out[here] |= 128
    return bytes(out)


# --- Location tables, grown ---------------------------------------------------


def grow_locations(table: bytes, growth: list[tuple[int, int]], trailing: int) -> bytes:
    """The location table of the original code with code inserted.

    ``table`` is the original's.  Each (unit, size) of ``growth``, in order
    of unit, is ``size`` new units that take the source position of
    original ``unit`` and sit next to it: inserted code, or the EXTENDED_ARG
    prefixes a re-encoded jump gained.  ``trailing`` units without a position
    follow the original code.

    Every unit of one entry has the same position, so the new table is the
    original with the entry that covers each such unit made longer; the
    entries in between are copied as one slice.  Each entry is written once,
    so each line change is applied once.

    * 3.11+ (PEP 657, ``InternalDocs/locations.md``): an entry is a header
      byte (bit 7 set, a 4-bit form code, 1-8 code units) and 0-4 varints;
      an entry made longer than 8 units goes on in entries of the same
      position and no change of line.
    * 3.10 (``Objects/lnotab_notes.txt``): pairs of (bytes covered, line
      change); -128 means "no line"; pairs covering zero bytes only add to
      the line and stay in front of the pair after them.
    """
    out = bytearray()
    if versions.HAS_COLUMN_POSITIONS:
        copied, k = _grow_entries(out, table, growth)
    else:
        copied, k = _grow_pairs(out, table, growth)
    out += table[copied:]
    if k < len(growth):
        trailing += sum(extra for _, extra in growth[k:])
    if trailing:
        if versions.HAS_COLUMN_POSITIONS:
            _entries(out, _NO_POSITION, b"", trailing)
        else:
            _pairs(out, 2 * trailing, 0x80, 0x80)
    return bytes(out)


def _grow_entries(out: bytearray, table: bytes, growth: list[tuple[int, int]]) -> tuple[int, int]:
    """3.11+ location table: write to ``out`` the entries of ``table`` up to
    the last one that ``growth`` makes longer, made longer.  Returns the
    bytes of ``table`` written and the number of growths applied (those past
    the end of the table have no position)."""
    copied = 0  # bytes of ``table`` written so far
    k = 0
    m = len(growth)
    # Units up to each byte.  When all growth is near the start (code
    # without branches grows only after its prefix), the entries up to
    # there are enough: an entry is at most 21 bytes long.
    part = table
    last = growth[-1][0] if growth else 0
    limit = 21 * (last + 2)
    if limit < len(table):
        while table[limit] < 128:  # end the part before a header
            limit -= 1
        part = table[:limit]
    acc = list(accumulate(part.translate(_ENTRY_UNITS)))
    if part is not table and acc[-1] <= last:
        acc = list(accumulate(table.translate(_ENTRY_UNITS)))
    n = len(acc)
    while k < m:
        unit, extra = growth[k]
        h = bisect_right(acc, unit, copied)  # header byte of the entry covering unit
        if h >= n:
            break  # past the end: no position
        covered = acc[h]
        k += 1
        while k < m and growth[k][0] < covered:
            extra += growth[k][1]
            k += 1
        header = table[h]
        size = (header & 7) + 1 + extra
        out += table[copied:h]
        if size <= 8:
            out.append(header + extra)  # the low three bits are size - 1
            copied = h + 1  # its body goes with what follows
            continue
        end = bisect_right(acc, covered, h + 1)
        body = table[h + 1 : end]
        out.append(header | 7)
        out += body
        copied = end
        # More units at the same position, no change of line.
        more, kind = _SAME[header]
        _entries(out, more, _same_position_body(kind, body) if kind else body, size - 8)
    return copied, k


def _grow_pairs(out: bytearray, table: bytes, growth: list[tuple[int, int]]) -> tuple[int, int]:
    """3.10 line table: :func:`_grow_entries` for its (bytes, line change)
    pairs."""
    copied = 0  # bytes of ``table`` written so far
    k = 0
    m = len(growth)
    acc = list(accumulate(table[0::2]))  # bytes covered up to each pair
    n = len(acc)
    while k < m:
        unit, extra = growth[k]
        h = bisect_right(acc, 2 * unit, copied >> 1)  # the pair covering unit
        if h >= n:
            break
        covered = acc[h]
        k += 1
        while k < m and 2 * growth[k][0] < covered:
            extra += growth[k][1]
            k += 1
        out += table[copied : 2 * h]
        delta = table[2 * h + 1]
        _pairs(out, table[2 * h] + 2 * extra, delta, 0x80 if delta == 0x80 else 0)
        copied = 2 * h + 2
    return copied, k


def with_trailing_units(table: bytes, size: int) -> bytes:
    """The location table ``table`` (3.11+) followed by ``size`` (at least
    1) more units without a position."""
    out = bytearray(table)
    _entries(out, _NO_POSITION, b"", size)
    return bytes(out)


def _entries(out: bytearray, header: int, body: bytes, size: int) -> None:
    """``size`` (at least 1) units in entries of ``header`` (its size bits
    clear) and ``body``, at most 8 units each (3.11+)."""
    while size > 8:
        out.append(header | 7)
        out += body
        size -= 8
    out.append(header | (size - 1))
    out += body


def _same_position_body(kind: int, body: bytes) -> bytes:
    """The body of an entry of ``_SAME`` kind ``kind`` made from ``body``."""
    if kind == _NO_COLUMNS:
        return b"\x00"  # line change 0
    k = 0  # the long form: drop the line change, a varint
    while body[k] & 64:
        k += 1
    return b"\x00" + body[k + 1 :]


def without_line(table: bytes, start: int, size: int) -> bytes:
    """3.10: the line table ``table`` with the ``size`` bytes from byte
    ``start`` given no line.

    The pair covering them is cut in three: the bytes before keep its line
    change (a pair of zero bytes if there are none), the bytes themselves get
    "no line" (-128, which leaves the line the next pair counts from
    unchanged), and the bytes after get a change of 0.  (Used for the
    catch-all's ``SETUP_FINALLY``, see ``instrument._Rewriter.rewrite``.)
    """
    at = 0
    for i in range(0, len(table), 2):
        covered, delta = table[i], table[i + 1]
        if at <= start and start + size <= at + covered:
            if delta == 0x80:
                return table  # no line already
            out = bytearray(table[:i])
            _pairs(out, start - at, delta, 0)
            out += bytes((size, 0x80))
            if at + covered > start + size:
                out += bytes((at + covered - start - size, 0))
            return bytes(out) + table[i + 2 :]
        at += covered
    return table


def _entry_bounds(table: bytes) -> Iterator[tuple[int, int]]:
    """3.11+: where each entry of the location table ``table`` begins (its
    header byte, bit 7 set) and ends."""
    h = 0
    n = len(table)
    while h < n:
        end = h + 1
        while end < n and table[end] < 128:
            end += 1
        yield h, end
        h = end


def without_position(table: bytes, unit: int) -> bytes:
    """3.11+: the location table ``table`` with code unit ``unit`` given no
    position.

    The entry covering it is cut: the units before keep the entry (and its
    change of line), the unit gets an entry of no position (which leaves the
    line the next entry counts from unchanged), and the units after get the
    same position with no change of line, or, if the unit was the entry's
    first, the entry itself.  (Used for the EXTENDED_ARG of a 3.11 SEND with
    a landing, see ``instrument._Rewriter._landing``.)
    """
    at = 0  # units before the entry at byte h
    for h, end in _entry_bounds(table):
        header = table[h]
        size = (header & 7) + 1
        if at <= unit < at + size:
            if (header >> 3) & 15 == _NONE:
                return table  # no position already
            body = table[h + 1 : end]
            before, after = unit - at, at + size - unit - 1
            out = bytearray(table[:h])
            if before:
                out.append((header & ~7) | (before - 1))
                out += body
            out.append(_NO_POSITION)
            if after:
                if before:
                    more, kind = _SAME[header]
                    out.append(more | (after - 1))
                    out += _same_position_body(kind, body) if kind else body
                else:
                    out.append((header & ~7) | (after - 1))
                    out += body
            return bytes(out) + table[end:]
        at += size
    return table


def without_positions(table: bytes, units: set[int]) -> bytes:
    """3.11+: the location table ``table`` with each code unit of ``units``
    given no position.

    The entries before the one that covers the first such unit are kept as
    they are; from there on every entry is written anew, in the long form
    (or of no position), units of one position together: an entry of no
    position leaves the line that the next entry counts from unchanged, and
    the line changes of the entries that lose their units move to the next
    entry that has a position.  (Used for what the engine inserts in front
    of an END_ASYNC_FOR, see ``instrument._before_end_async_for_without_position``.)
    """
    first = min(units)
    at = 0  # units before the entry at byte h
    n = len(table)
    line = 0  # the line the entry at h counts from (relative: only changes matter)
    kept = n
    kept_line = start = 0
    # The position of every unit from the entry covering ``first`` on.
    positions: list[tuple[int, int, int, int] | None] = []
    for h, end in _entry_bounds(table):
        header = table[h]
        size = (header & 7) + 1
        if at + size > first and kept == n:
            kept, kept_line, start = h, line, at
        code = (header >> 3) & 15
        body = table[h + 1 : end]
        position: tuple[int, int, int, int] | None
        if code == _NONE:
            position = None
        elif code == _LONG:
            values = _read_location_varints(body, 4)
            line += _signed(values[0])
            position = (line, line + values[1], values[2], values[3])
        elif code == _NO_COLUMNS:
            line += _signed(_read_location_varints(body, 1)[0])
            position = (line, line, 0, 0)
        elif code >= 10:  # one line: the change is in the code, two column bytes
            line += code - 10
            position = (line, line, body[0] + 1, body[1] + 1)
        else:  # short: no change of line, one byte of columns
            column = (code << 3) | ((body[0] >> 4) & 7)
            position = (line, line, column + 1, column + (body[0] & 15) + 1)
        if kept < n:
            positions.extend([position] * size)
        at += size
    if kept == n:
        return table
    out = bytearray(table[:kept])
    line = kept_line
    run: list[tuple[int, int, int, int] | None] = []
    for unit, position in enumerate(positions, start):
        if unit in units:
            position = None
        if run and (run[-1] != position or len(run) == 8):
            line = _long_entry(out, run[0], len(run), line)
            run = []
        run.append(position)
    if run:
        _long_entry(out, run[0], len(run), line)
    return bytes(out)


def _read_location_varints(body: bytes, count: int) -> list[int]:
    """``count`` varints of a location table (six bits a byte, the low bits
    first, bit 6 set while more follow: not the exception table's order) from
    the start of ``body``."""
    values = []
    k = 0
    for _ in range(count):
        value = shift = 0
        while True:
            byte = body[k]
            k += 1
            value |= (byte & 63) << shift
            shift += 6
            if not byte & 64:
                break
        values.append(value)
    return values


def _signed(value: int) -> int:
    """A signed varint's value (the low bit is the sign)."""
    return -(value >> 1) if value & 1 else value >> 1


def _write_location_varint(out: bytearray, value: int) -> None:
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)


def _long_entry(
    out: bytearray, position: tuple[int, int, int, int] | None, size: int, line: int
) -> int:
    """Write one entry of ``size`` (1-8) units at ``position`` (columns plus
    one, 0 for none; None: no position) counting from ``line``; the line the
    next entry counts from."""
    if position is None:
        out.append(_NO_POSITION | (size - 1))
        return line
    new_line, end_line, column, end_column = position
    delta = new_line - line
    out.append(0x80 | (_LONG << 3) | (size - 1))
    _write_location_varint(out, (-delta << 1) | 1 if delta < 0 else delta << 1)
    _write_location_varint(out, end_line - new_line)
    _write_location_varint(out, column)
    _write_location_varint(out, end_column)
    return new_line


def _pairs(out: bytearray, nbytes: int, first_delta: int, rest_delta: int) -> None:
    """3.10 pairs covering ``nbytes``: the first with ``first_delta``."""
    delta = first_delta
    while nbytes > 254:
        out.append(254)
        out.append(delta)
        delta = rest_delta
        nbytes -= 254
    out.append(nbytes)
    out.append(delta)


_NO_COLUMNS = 13
_LONG = 14
_NONE = 15
#: the header of an entry of no position, less its size bits
_NO_POSITION = 0x80 | (_NONE << 3)
#: header byte -> code units it covers; 0 for the bytes after a header
_ENTRY_UNITS = bytes(((b & 7) + 1) if b & 128 else 0 for b in range(256))


def _same_form(header: int) -> tuple[int, int]:
    code = (header >> 3) & 15
    if code in (_NO_COLUMNS, _LONG):
        return 0x80 | (code << 3), code  # the same form, with the body changed
    if 9 < code < _NO_COLUMNS:
        code = 10  # one-line form, line change 0 (a short form has none)
    return 0x80 | (code << 3), 0


#: header byte -> (header of an entry that goes on at the same position with
#: no change of line, less its size bits; how its body changes: 0 kept, or
#: _NO_COLUMNS or _LONG, see _same_position_body)
_SAME = [_same_form(b) for b in range(256)]
