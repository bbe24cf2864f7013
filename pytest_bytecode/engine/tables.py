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

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

from pytest_bytecode import versions


class Handler:
    """One exception-table entry: units [start, end) go to ``target``."""

    __slots__ = ("depth", "end", "lasti", "start", "target")

    def __init__(self, start: int, end: int, target: int, depth: int, lasti: bool) -> None:
        self.start = start
        self.end = end
        self.target = target
        self.depth = depth
        self.lasti = lasti


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


def encode_exception_table(entries: Sequence[tuple[int, int, int, int, bool]]) -> bytes:
    """Encode (start, end, target, depth, lasti) entries, sorted and
    non-overlapping, as ``co_exceptiontable``."""
    out = bytearray()
    for start, end, target, depth, lasti in entries:
        _write_varint(out, start, 128)
        _write_varint(out, end - start, 0)
        _write_varint(out, target, 0)
        _write_varint(out, (depth << 1) | lasti, 0)
    return bytes(out)


# --- Location tables, spliced ------------------------------------------------


class LocationSplicer:
    """Writes the location table of instrumented code from the original's.

    The new code is the original cut into pieces, in the original order, with
    the engine's own code inserted between them.  The original table is never
    decoded as a whole: each piece copies the original entries that cover it
    (whole entries as they are, the entries it cuts re-sized), and inserted
    code copies the entry of the original unit whose position it takes.

    Both table formats store each entry's line as a change from the entry
    before it.  Order makes the copies exact: pieces and insertions come in
    original order, so an entry's line change is applied exactly once, by
    the first piece or insertion that copies it; later copies of the same
    entry change the line by zero.

    * 3.11+ (PEP 657, ``InternalDocs/locations.md``): an entry is a header
      byte (bit 7 set, a 4-bit form code, 1-8 code units) and 0-4 varints;
      forms 0-12 and 14 carry columns, 13 only a line, 15 no position.
    * 3.10 (``Objects/lnotab_notes.txt``): pairs of (bytes covered, line
      change); -128 means "no line"; pairs covering zero bytes only add to
      the line and belong to the pair after them.

    All offsets are code units unless a name says bytes.
    """

    def __init__(self, table: bytes) -> None:
        self.table = table
        self.out = bytearray()
        #: the last entry whose line change is in ``out`` (its header byte)
        self.applied = -1
        if versions.HAS_COLUMN_POSITIONS:
            #: units covered by the entries up to and including each byte
            self.acc = list(accumulate(table.translate(_ENTRY_UNITS)))
            self.scale = 1
        else:
            self.acc = list(accumulate(table[0::2]))  # bytes covered, per pair
            self.scale = 2

    def _entry(self, unit: int) -> int:
        """Index (header byte, or pair) of the entry covering ``unit``; -1 if none."""
        found = bisect_right(self.acc, unit * self.scale)
        return found if found < len(self.acc) else -1

    def insert(self, unit: int, size: int) -> None:
        """``size`` new units at the source position of original ``unit``."""
        h = self._entry(unit)
        if h < 0:
            self.none(size)
        else:
            self._piece(h, size, whole=True)

    def none(self, size: int) -> None:
        """``size`` new units without a source position."""
        if versions.HAS_COLUMN_POSITIONS:
            while size > 0:
                step = size if size < 8 else 8
                self.out.append(0x80 | (_NONE << 3) | (step - 1))
                size -= step
        else:
            self._pairs(size * 2, 0x80, 0x80)

    def copy(self, start: int, stop: int, size: int) -> None:
        """Original units ``start`` .. ``stop``, now ``size`` units long.

        ``size`` differs from ``stop - start`` only for a single instruction
        whose EXTENDED_ARG prefixes changed; all its entries have one
        position, so one re-sized copy of the first stands for them.
        """
        acc = self.acc
        first = self._entry(start)
        if first < 0:
            self.none(size)
            return
        if self.scale == 1 and size == stop - start:
            # 3.11+: the entries that lie wholly inside go as one slice of the
            # original table; only a cut entry at either end is re-written.
            if first <= self.applied or (acc[first - 1] if first else 0) != start:
                cut = acc[first] if acc[first] < stop else stop
                self._piece(first, cut - start, whole=True)
                if cut == stop:
                    return
                first = bisect_right(acc, cut, first)
            last = bisect_left(acc, stop, first)
            if last < len(acc) and acc[last] == stop:
                self.out += self.table[first : bisect_right(acc, stop, last)]
                self.applied = last
            else:
                self.out += self.table[first:last]
                self._piece(last, stop - (acc[last - 1] if last else 0), whole=False)
            return
        last = self._entry(stop - 1)
        if first == last or size != stop - start:
            self._piece(first, size, whole=True)
            if last > self.applied:
                self.applied = last
            return
        scale = self.scale
        self._piece(first, acc[first] // scale - start, whole=True)
        # Entries wholly inside, as they are; then the last one, cut at stop.
        if versions.HAS_COLUMN_POSITIONS:
            after_first = bisect_right(acc, acc[first])
            self.out += self.table[after_first:last]
        else:
            self.out += self.table[2 * first + 2 : 2 * last]
        self.applied = last - 1
        self._piece(last, stop - (acc[last - 1] // scale if last else 0), whole=False)

    def _piece(self, h: int, size: int, whole: bool) -> None:
        """Entry ``h`` covering ``size`` units; its line change once only.

        ``whole``: 3.10 pairs that cover no bytes before pair ``h`` belong to
        it and go with its line change (unless already written).
        """
        table = self.table
        apply = h > self.applied
        if apply:
            self.applied = h
        if not versions.HAS_COLUMN_POSITIONS:
            delta = table[2 * h + 1]
            if apply:
                if whole:
                    first = h
                    while first and table[2 * first - 2] == 0:
                        first -= 1
                    self.out += table[2 * first : 2 * h]
                self._pairs(size * 2, delta, 0x80 if delta == 0x80 else 0)
            else:
                self._pairs(size * 2, 0x80 if delta == 0x80 else 0, 0x80 if delta == 0x80 else 0)
            return
        header = table[h]
        code = (header >> 3) & 15
        end = bisect_right(self.acc, self.acc[h], h + 1)
        out = self.out
        body = table[h + 1 : end]
        if apply:
            step = size if size < 8 else 8
            out.append(0x80 | (code << 3) | (step - 1))
            out += body
            size -= step
            if size <= 0:
                return
        # The same position again, with no change of line.
        if code == _NO_COLUMNS:
            code, body = _NO_COLUMNS, b"\x00"
        elif code == _LONG:
            k = 0
            while body[k] & 64:
                k += 1
            body = b"\x00" + body[k + 1 :]
        elif code > 9 and code < _NO_COLUMNS:
            code = 10  # one-line form, line change 0
        while size > 0:
            step = size if size < 8 else 8
            out.append(0x80 | (code << 3) | (step - 1))
            out += body
            size -= step

    def _pairs(self, nbytes: int, first_delta: int, rest_delta: int) -> None:
        """3.10 pairs covering ``nbytes``: the first with ``first_delta``."""
        out = self.out
        delta = first_delta
        while nbytes > 254:
            out.append(254)
            out.append(delta)
            delta = rest_delta
            nbytes -= 254
        out.append(nbytes)
        out.append(delta)

    def result(self) -> bytes:
        """The new location table."""
        return bytes(self.out)


_NO_COLUMNS = 13
_LONG = 14
_NONE = 15
#: header byte -> code units it covers; 0 for the bytes after a header
_ENTRY_UNITS = bytes(((b & 7) + 1) if b & 128 else 0 for b in range(256))
