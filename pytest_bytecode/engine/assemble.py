"""Turn a list of abstract instructions back into a code object.

The engine describes the new code as :class:`Item` objects: an opcode, an
argument (or a jump to another item), the source position and the exception
handler the item is covered by; an unchanged original instruction carries
its original bytes.  :func:`assemble` lays them out, grows
EXTENDED_ARG prefixes until every jump argument fits (sizes only ever grow, so
this terminates), and writes the wordcode, inline caches, exception table and
location table.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from operator import add
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.decode import Position
from pytest_bytecode.engine.tables import (
    Handler,
    encode_exception_table,
    encode_linetable_310,
    encode_locations,
)

#: ``Item.handler`` for code that no exception-table entry covers.
UNCOVERED = -1


@dataclass(slots=True)
class Item:
    """One instruction of the code being built.

    ``jump`` is the index of the item a jump goes to (its argument is computed
    at layout time).  ``handler`` indexes the handler list given to
    :func:`assemble`, or is UNCOVERED.  ``tag`` says which original
    instruction an exception raised here is attributed to (see instrument.py).
    """

    op: int
    arg: int
    jump: int | None
    position: Position
    handler: int
    tag: int
    #: the original bytes (prefixes, opcode, caches) of an unchanged
    #: instruction, copied as they are
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """Where an exception-table entry sends exceptions: item index and depth."""

    item: int
    depth: int
    lasti: bool


@dataclass(slots=True)
class Layout:
    """The assembled code plus the per-item maps the engine keeps."""

    code: bytes
    starts: list[int]  # unit index where each item's opcode sits
    exceptiontable: bytes
    linetable: bytes


def _ext_count(arg: int) -> int:
    return 0 if arg <= 0xFF else 1 if arg <= 0xFFFF else 2 if arg <= 0xFFFFFF else 3


_ZEROS = [bytes(2 * k) for k in range(32)]


def assemble(items: list[Item], handlers: list[HandlerSpec], firstlineno: int) -> Layout:
    """Lay out ``items``; see the module docstring."""
    n = len(items)
    cache_of = versions.CACHES_BY_OPCODE
    ops = [item.op for item in items]
    caches = [cache_of[op] for op in ops]
    jumps = [k for k in range(n) if items[k].jump is not None]
    ext = [
        (len(item.raw) // 2 - 1 - caches[k])
        if item.raw is not None
        else 0
        if item.jump is not None
        else _ext_count(item.arg)
        for k, item in enumerate(items)
    ]
    jump_arg = versions.jump_arg
    base = [1 + c for c in caches]  # an item's units without EXTENDED_ARG prefixes
    while True:
        begin = list(accumulate(map(add, ext, base), initial=0))
        changed = False
        for k in jumps:
            item = items[k]
            opcode_at = (begin[k] + ext[k]) * 2
            target = item.jump
            assert target is not None
            arg = jump_arg(item.op, opcode_at, opcode_at + 2 + 2 * caches[k], begin[target] * 2)
            item.arg = arg
            need = _ext_count(arg)
            if need > ext[k]:
                ext[k] = need
                changed = True
        if not changed:
            break

    code = bytearray()
    ext_op = versions.EXTENDED_ARG
    starts = list(map(add, begin, ext))  # where each item's opcode sits
    runs: list[tuple[Position, int]] = []
    last_position: Position | None = None
    run_units = 0
    for k in range(n):
        item = items[k]
        e = ext[k]
        c = caches[k]
        raw = item.raw
        if raw is not None:
            code += raw
        else:
            arg = item.arg
            if e:
                for shift in range(e, 0, -1):
                    code.append(ext_op)
                    code.append((arg >> (8 * shift)) & 0xFF)
            code.append(ops[k])
            code.append(arg & 0xFF)
            if c:
                code += _ZEROS[c]
        units = 1 + e + c
        position = item.position
        if position == last_position:
            run_units += units
        else:
            if last_position is not None:
                runs.append((last_position, run_units))
            last_position = position
            run_units = units
    if last_position is not None:
        runs.append((last_position, run_units))

    if versions.HAS_COLUMN_POSITIONS:
        linetable = encode_locations(firstlineno, runs)
    else:
        linetable = encode_linetable_310(firstlineno, [(p[0], u) for p, u in runs])

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
    return Layout(bytes(code), starts, encode_exception_table(entries), linetable)


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
