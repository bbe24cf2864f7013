"""Turn a list of abstract instructions back into a code object.

The engine describes the new code as :class:`Item` objects: an opcode, an
argument (or a jump to another item), the source position and the exception
handler the item is covered by.  :func:`assemble` lays them out, grows
EXTENDED_ARG prefixes until every jump argument fits (sizes only ever grow, so
this terminates), and writes the wordcode, inline caches, exception table and
location table.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """Where an exception-table entry sends exceptions: item index and depth."""

    item: int
    depth: int
    lasti: bool


@dataclass(slots=True)
class Layout:
    """The assembled code plus per-unit maps the engine keeps."""

    code: bytes
    starts: list[int]  # unit index where each item's opcode sits
    unit_tags: list[int]  # per code unit: the raise attribution tag
    unit_handlers: list[int]  # per code unit: handler index or UNCOVERED
    exceptiontable: bytes
    linetable: bytes


def _ext_count(arg: int) -> int:
    count = 0
    while arg > 0xFF:
        arg >>= 8
        count += 1
    return count


def assemble(items: list[Item], handlers: list[HandlerSpec], firstlineno: int) -> Layout:
    """Lay out ``items``; see the module docstring."""
    caches = [versions.cache_entries(versions.OPNAME[item.op]) for item in items]
    ext = [_ext_count(item.arg) if item.jump is None else 0 for item in items]
    while True:
        begin: list[int] = []  # unit where each item's prefix starts
        unit = 0
        for k in range(len(items)):
            begin.append(unit)
            unit += 1 + ext[k] + caches[k]
        changed = False
        for k, item in enumerate(items):
            if item.jump is None:
                continue
            opcode_at = (begin[k] + ext[k]) * 2
            end = opcode_at + 2 + 2 * caches[k]
            arg = versions.jump_arg(item.op, opcode_at, end, begin[item.jump] * 2)
            item.arg = arg
            need = _ext_count(arg)
            if need > ext[k]:
                ext[k] = need
                changed = True
        if not changed:
            break

    code = bytearray()
    starts: list[int] = []
    unit_tags: list[int] = []
    unit_handlers: list[int] = []
    runs: list[tuple[Position, int]] = []
    ext_op = versions.EXTENDED_ARG
    for k, item in enumerate(items):
        arg = item.arg
        for shift in range(ext[k], 0, -1):
            code += bytes((ext_op, (arg >> (8 * shift)) & 0xFF))
        code += bytes((item.op, arg & 0xFF))
        code += bytes(2 * caches[k])
        units = 1 + ext[k] + caches[k]
        starts.append(begin[k] + ext[k])
        unit_tags.extend([item.tag] * units)
        unit_handlers.extend([item.handler] * units)
        if runs and runs[-1][0] == item.position:
            runs[-1] = (item.position, runs[-1][1] + units)
        else:
            runs.append((item.position, units))

    if versions.HAS_COLUMN_POSITIONS:
        linetable = encode_locations(firstlineno, runs)
    else:
        linetable = encode_linetable_310(firstlineno, [(p[0], u) for p, u in runs])

    entries: list[Handler] = []
    if versions.HAS_EXCEPTION_TABLE:
        k = 0
        n = len(items)
        while k < n:
            h = items[k].handler
            j = k
            while j < n and items[j].handler == h:
                j += 1
            if h != UNCOVERED:
                spec = handlers[h]
                end = begin[j] if j < n else len(code) // 2
                entries.append(Handler(begin[k], end, begin[spec.item], spec.depth, spec.lasti))
            k = j
    return Layout(
        bytes(code),
        starts,
        unit_tags,
        unit_handlers,
        encode_exception_table(entries),
        linetable,
    )


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
