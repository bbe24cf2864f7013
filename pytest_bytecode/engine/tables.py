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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pytest_bytecode.engine.decode import Position


@dataclass(frozen=True, slots=True)
class Handler:
    """One exception-table entry: units [start, end) go to ``target``."""

    start: int
    end: int
    target: int
    depth: int
    lasti: bool


def _read_varint(data: Iterator[int]) -> int:
    byte = next(data)
    value = byte & 63
    while byte & 64:
        value <<= 6
        byte = next(data)
        value |= byte & 63
    return value


def parse_exception_table(table: bytes) -> list[Handler]:
    """Decode ``co_exceptiontable`` into entries (offsets in code units)."""
    data = iter(table)
    entries: list[Handler] = []
    while True:
        try:
            start = _read_varint(data)
        except StopIteration:
            return entries
        length = _read_varint(data)
        target = _read_varint(data)
        depth_lasti = _read_varint(data)
        entries.append(
            Handler(start, start + length, target, depth_lasti >> 1, bool(depth_lasti & 1))
        )


def _write_varint(out: bytearray, value: int, first: int) -> None:
    """Big-endian 6-bit groups, bit 6 = more follows, bit 7 marks an entry."""
    shift = 0
    while value >> (shift + 6):
        shift += 6
    while shift > 0:
        out.append(((value >> shift) & 63) | 64 | first)
        first = 0
        shift -= 6
    out.append((value & 63) | first)


def encode_exception_table(entries: Sequence[Handler]) -> bytes:
    """Encode entries (sorted, non-overlapping) as ``co_exceptiontable``."""
    out = bytearray()
    for entry in entries:
        _write_varint(out, entry.start, 128)
        _write_varint(out, entry.end - entry.start, 0)
        _write_varint(out, entry.target, 0)
        _write_varint(out, (entry.depth << 1) | int(entry.lasti), 0)
    return bytes(out)


# --- 3.11+ location table ----------------------------------------------------

_NO_COLUMNS = 13
_LONG = 14
_NONE = 15


def _write_location_varint(out: bytearray, value: int) -> None:
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)


def _write_location_svarint(out: bytearray, value: int) -> None:
    _write_location_varint(out, ((-value) << 1) | 1 if value < 0 else value << 1)


def encode_locations(firstlineno: int, runs: Sequence[tuple[Position, int]]) -> bytes:
    """Encode (position, code units) runs as a PEP 657 location table.

    Uses the "long", "no columns" and "none" entry forms only: they round-trip
    every position ``co_positions()`` can report.
    """
    out = bytearray()
    append = out.append
    line = firstlineno
    for position, units in runs:
        lineno, end_lineno, col, end_col = position
        while units > 0:
            size = units if units < 8 else 8
            units -= size
            if lineno is None:
                append(0x80 | (_NONE << 3) | (size - 1))
                continue
            delta = lineno - line
            line = lineno
            signed = ((-delta) << 1) | 1 if delta < 0 else delta << 1
            if col is None or end_col is None or end_lineno is None:
                append(0x80 | (_NO_COLUMNS << 3) | (size - 1))
                _write_location_varint(out, signed)
                continue
            append(0x80 | (_LONG << 3) | (size - 1))
            for value in (signed, end_lineno - lineno, col + 1, end_col + 1):
                if value < 64:
                    append(value)
                else:
                    _write_location_varint(out, value)
    return bytes(out)


# --- 3.10 line table ------------------------------------------------------------


def encode_linetable_310(firstlineno: int, runs: Sequence[tuple[int | None, int]]) -> bytes:
    """Encode (line, code units) runs as a 3.10 ``co_linetable``.

    Pairs of (byte delta 0..254, line delta -127..127); -128 means "no line"
    and leaves the running line unchanged.
    """
    out = bytearray()
    previous = firstlineno
    merged: list[tuple[int | None, int]] = []
    for line, units in runs:
        if merged and merged[-1][0] == line:
            merged[-1] = (line, merged[-1][1] + units)
        else:
            merged.append((line, units))
    for line, units in merged:
        nbytes = units * 2
        if nbytes == 0:
            continue
        if line is None:
            delta = -128
        else:
            delta = line - previous
            previous = line
            while delta > 127:
                out += bytes((0, 127))
                delta -= 127
            while delta < -127:
                out += bytes((0, (-127) & 0xFF))
                delta += 127
        while nbytes > 254:
            out += bytes((254, delta & 0xFF))
            delta = -128 if line is None else 0
            nbytes -= 254
        out += bytes((nbytes, delta & 0xFF))
    return bytes(out)
