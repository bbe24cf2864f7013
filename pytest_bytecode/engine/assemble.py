"""Turn a list of pieces of code back into a code object.

The engine describes the new code as :class:`Item` objects, in order: a
piece of the original code copied as it is, a block of the engine's own
code (a probe, a stub) prebuilt as bytes, or a single instruction with an
argument or a jump to another item (its argument is computed at layout
time).  :func:`assemble` lays them out, grows EXTENDED_ARG prefixes until
every jump argument fits (sizes only ever grow, so this terminates), and
writes the wordcode, the exception table and the location table, the last
spliced from the original's (:class:`~pytest_bytecode.engine.tables.LocationSplicer`).
No step looks at the instructions inside a copied piece.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.tables import Handler, LocationSplicer, encode_exception_table

#: ``Item.handler`` for code that no exception-table entry covers.
UNCOVERED = -1


@dataclass(slots=True)
class Item:
    """One piece of the code being built.

    ``raw`` holds the bytes of a piece that is copied as it is; otherwise
    the item is the one instruction ``op`` with ``arg``, or with ``jump``,
    the index of the item it jumps to.  ``handler`` indexes the handler list
    given to :func:`assemble`, or is UNCOVERED.  ``tag`` says which original
    instruction an exception raised here is attributed to (see
    instrument.py).  The item takes its source positions from original units
    ``loc`` .. ``loc_end`` when it is original code, from the entry of unit
    ``loc`` when it is inserted (``loc_end == loc``), and has none when
    ``loc`` is -1.
    """

    op: int
    arg: int
    jump: int | None
    handler: int
    tag: int
    loc: int
    loc_end: int
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """Where an exception-table entry sends exceptions: item index and depth."""

    item: int
    depth: int
    lasti: bool


@dataclass(slots=True)
class Layout:
    """The assembled code plus the per-item map the engine keeps."""

    code: bytes
    starts: list[int]  # unit index where each item begins
    exceptiontable: bytes
    linetable: bytes


def _ext_count(arg: int) -> int:
    return 0 if arg <= 0xFF else 1 if arg <= 0xFFFF else 2 if arg <= 0xFFFFFF else 3


_ZEROS = [bytes(2 * k) for k in range(32)]


#: encode() results: probes and stubs differ only in their constants'
#: indexes, which repeat from one code object to the next
_ENCODED: dict[tuple[tuple[int, int], ...], bytes] = {}


def encode(steps: tuple[tuple[int, int], ...]) -> bytes:
    """Wordcode for (opcode, argument) steps: prefixes, zeroed caches."""
    found = _ENCODED.get(steps)
    if found is not None:
        return found
    if len(_ENCODED) > 4096:
        _ENCODED.clear()
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
    found = _ENCODED[steps] = bytes(out)
    return found


def assemble(items: list[Item], handlers: list[HandlerSpec], linetable: bytes) -> Layout:
    """Lay out ``items``; ``linetable`` is the original's (see module docstring)."""
    n = len(items)
    cache_of = versions.CACHES_BY_OPCODE
    size = [
        len(item.raw) >> 1 if item.raw is not None else 1 + cache_of[item.op] + (
            0 if item.jump is not None else _ext_count(item.arg)
        )
        for item in items
    ]
    jumps = [k for k in range(n) if items[k].jump is not None]
    ext = dict.fromkeys(jumps, 0)
    jump_arg = versions.jump_arg
    while True:
        begin = list(accumulate(size, initial=0))
        changed = False
        for k in jumps:
            item = items[k]
            e = ext[k]
            opcode_at = (begin[k] + e) * 2
            target = item.jump
            assert target is not None
            arg = jump_arg(item.op, opcode_at, (begin[k + 1]) * 2, begin[target] * 2)
            item.arg = arg
            need = _ext_count(arg)
            if need > e:
                ext[k] = need
                size[k] += need - e
                changed = True
        if not changed:
            break

    code = bytearray()
    ext_op = versions.EXTENDED_ARG
    lines = LocationSplicer(linetable)
    for k in range(n):
        item = items[k]
        raw = item.raw
        if raw is not None:
            code += raw
        else:
            arg = item.arg
            for shift in range(size[k] - 1 - cache_of[item.op], 0, -1):
                code.append(ext_op)
                code.append((arg >> (8 * shift)) & 0xFF)
            code.append(item.op)
            code.append(arg & 0xFF)
            code += _ZEROS[cache_of[item.op]]
        loc = item.loc
        if loc < 0:
            lines.none(size[k])
        elif item.loc_end > loc:
            lines.copy(loc, item.loc_end, size[k])
        else:
            lines.insert(loc, size[k])

    entries: list[Handler] = []
    if versions.HAS_EXCEPTION_TABLE:
        k = 0
        while k < n:
            h = items[k].handler
            j = k + 1
            while j < n and items[j].handler == h:
                j += 1
            if h != UNCOVERED:
                spec = handlers[h]
                entries.append(
                    Handler(begin[k], begin[j], begin[spec.item], spec.depth, spec.lasti)
                )
            k = j
    return Layout(bytes(code), begin[:-1], encode_exception_table(entries), lines.result())


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
