"""Turn a list of pieces of code back into a code object.

The engine describes the new code as :class:`Item` objects, in order: a
piece of the original code copied as it is, a block of the engine's own
code (a probe, a stub) prebuilt as bytes, or a single instruction with an
argument or a jump to another item (its argument is computed at layout
time).  :func:`assemble` lays them out, grows EXTENDED_ARG prefixes until
every jump argument fits (sizes only ever grow, so this terminates), and
writes the wordcode, the exception table and the location table, the last
grown from the original's (:func:`~pytest_bytecode.engine.tables.grow_locations`).
No step looks at the instructions inside a copied piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.tables import encode_exception_table, grow_locations

#: An item's handler for code that no exception-table entry covers.
UNCOVERED = -1

#: One piece of the code being built: (op, arg, handler, tag, loc, loc_end,
#: raw).  ``raw`` holds the bytes of a piece that is copied as it is (op is
#: then -1); otherwise the item is the one instruction ``op`` with ``arg``, or,
#: if the item is among the jumps given to :func:`assemble`, with the
#: argument that reaches the item it jumps to.  ``handler`` indexes the
#: handler list given to :func:`assemble`, or is UNCOVERED.  ``tag`` says
#: which original instruction an exception raised here is attributed to (see
#: counts.py).  The item takes its source positions from original units
#: ``loc`` .. ``loc_end`` when it is original code, from the entry of unit
#: ``loc`` when it is inserted (``loc_end == loc``), and has none when
#: ``loc`` is -1.  Plain tuples: instrumenting makes tens of thousands.
Item = tuple[int, int, int, int, int, int, "bytes | None"]


class HandlerSpec:
    """Where an exception-table entry sends exceptions: item index and depth."""

    __slots__ = ("depth", "item", "lasti")

    def __init__(self, item: int, depth: int, lasti: bool) -> None:
        self.item = item
        self.depth = depth
        self.lasti = lasti


class Layout:
    """The assembled code plus the per-item map the engine keeps:
    ``starts``, the unit where each item begins."""

    __slots__ = ("code", "exceptiontable", "linetable", "starts")

    def __init__(
        self, code: bytes, starts: list[int], exceptiontable: bytes, linetable: bytes
    ) -> None:
        self.code = code
        self.starts = starts
        self.exceptiontable = exceptiontable
        self.linetable = linetable


def _ext_count(arg: int) -> int:
    return 0 if arg <= 0xFF else 1 if arg <= 0xFFFF else 2 if arg <= 0xFFFFFF else 3


_ZEROS = [bytes(2 * k) for k in range(32)]


def encode(steps: Sequence[tuple[int, int]]) -> bytes:
    """Wordcode for (opcode, argument) steps: prefixes, zeroed caches.

    (Probes and stubs, the engine's most frequent code, are cached by the
    indexes they depend on in instrument.py, so this runs on their misses.)
    """
    out = bytearray()
    ext_op = versions.EXTENDED_ARG
    caches = versions.CACHES_BY_OPCODE
    for op, arg in steps:
        for shift in range(_ext_count(arg), 0, -1):
            out.append(ext_op)
            out.append((arg >> (8 * shift)) & 0xFF)
        out.append(op)
        out.append(arg & 0xFF)
        out += _ZEROS[caches[op]]
    return bytes(out)


def assemble(
    items: list[Item], jumps: dict[int, int], handlers: list[HandlerSpec], linetable: bytes
) -> Layout:
    """Lay out ``items``; ``jumps`` maps a jump item to the item it goes to,
    ``linetable`` is the original's (see module docstring)."""
    n = len(items)
    cache_of = versions.CACHES_BY_OPCODE
    size = [
        len(raw) >> 1 if raw is not None else 1 + cache_of[op] + _ext_count(arg)
        for op, arg, _, _, _, _, raw in items
    ]
    args: dict[int, int] = {}
    if jumps:
        for k in jumps:
            # An original jump keeps at least its size (its prefixes, if it
            # needs fewer, carry zeros), so the code only ever grows.
            op, _, _, _, loc, loc_end, _ = items[k]
            size[k] = max(1 + cache_of[op], loc_end - loc)
        sign_of = versions.JUMP_ARG_SIGN
        while True:
            begin = list(accumulate(size, initial=0))
            changed = False
            for k, target in jumps.items():
                op = items[k][0]
                end = begin[k + 1]
                sign = sign_of[op]
                arg = sign * (begin[target] - end) if sign else begin[target]
                if arg < 0:
                    raise ValueError(f"{versions.OPNAME[op]} cannot reach unit {begin[target]}")
                args[k] = arg
                if arg > 0xFF:
                    need = 1 + cache_of[op] + _ext_count(arg)
                    if need > size[k]:
                        size[k] = need
                        changed = True
            if not changed:
                break
    else:
        begin = list(accumulate(size, initial=0))

    code = bytearray()
    ext_op = versions.EXTENDED_ARG
    growth: list[tuple[int, int]] = []  # (unit, units more there), see grow_locations
    trailing = 0  # units after all original code, without a position
    for k in range(n):
        op, arg, _, _, loc, loc_end, raw = items[k]
        if raw is not None:
            code += raw
            if loc_end > loc:
                continue  # an original piece, as it was
            units = len(raw) >> 1
        else:
            units = size[k]
            if k in args:
                arg = args[k]
            for shift in range(units - 1 - cache_of[op], 0, -1):
                code.append(ext_op)
                code.append((arg >> (8 * shift)) & 0xFF)
            code.append(op)
            code.append(arg & 0xFF)
            code += _ZEROS[cache_of[op]]
            if loc_end > loc:  # an original jump: grown, if at all, by prefixes
                units -= loc_end - loc
                if not units:
                    continue
        if loc >= 0:
            if trailing:
                raise AssertionError("code with a position after code without")
            growth.append((loc, units))
        else:
            trailing += units
    linetable = grow_locations(linetable, growth, trailing)

    entries: list[tuple[int, int, int, int, bool]] = []
    if versions.HAS_EXCEPTION_TABLE:
        k = 0
        while k < n:
            h = items[k][2]
            j = k + 1
            while j < n and items[j][2] == h:
                j += 1
            if h != UNCOVERED:
                spec = handlers[h]
                entries.append((begin[k], begin[j], begin[spec.item], spec.depth, spec.lasti))
            k = j
    return Layout(bytes(code), begin[:-1], encode_exception_table(entries), linetable)


def build_code(
    original: CodeType,
    layout: Layout,
    consts: tuple[object, ...],
    names: tuple[str, ...],
    stacksize: int,
) -> CodeType:
    """The original code object with new wordcode, tables, constants and names."""
    changes: dict[str, object] = {
        "co_code": layout.code,
        "co_consts": consts,
        "co_names": names,
        "co_linetable": layout.linetable,
        "co_stacksize": stacksize,
    }
    if versions.HAS_EXCEPTION_TABLE:
        changes["co_exceptiontable"] = layout.exceptiontable
    return original.replace(**changes)  # type: ignore[arg-type]
