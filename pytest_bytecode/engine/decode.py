"""Decode a code object's wordcode into instructions, without ``dis``.

``dis.get_instructions`` formats argument reprs and builds named tuples for
every instruction; instrumenting at import time cannot afford that.  This
decoder reads ``co_code`` directly and keeps only what the engine needs: where
each instruction starts (its EXTENDED_ARG prefixes included), where its opcode
sits (the offset ``dis`` reports), where it ends (after its inline caches),
its full argument, its jump target and its source position.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import CodeType

from pytest_bytecode import versions

#: (lineno, end_lineno, col_offset, end_col_offset); any part may be None.
Position = tuple[int | None, int | None, int | None, int | None]


@dataclass(slots=True)
class Instr:
    """One instruction of the original code.

    ``start`` is where its EXTENDED_ARG prefixes begin (jumps land there),
    ``offset`` where its opcode sits (what ``dis`` reports), ``end`` the offset
    after its inline caches.  ``target`` is the jump target offset, if any.
    """

    index: int
    start: int
    offset: int
    end: int
    op: int
    opname: str
    arg: int
    target: int | None
    position: Position


def positions_per_unit(code: CodeType) -> list[Position]:
    """The source position of every code unit of ``code``."""
    units = len(code.co_code) // versions.CODE_UNIT
    if versions.HAS_COLUMN_POSITIONS:
        return list(code.co_positions())  # type: ignore[attr-defined]
    result: list[Position] = [(None, None, None, None)] * units
    for start, end, line in code.co_lines():
        for unit in range(start // 2, end // 2):
            result[unit] = (line, line, None, None)
    return result


def decode(code: CodeType) -> list[Instr]:
    """Decode ``code`` into its instructions (prefixes and caches folded in)."""
    raw = code.co_code
    positions = positions_per_unit(code)
    opname = versions.OPNAME
    ext = versions.EXTENDED_ARG
    jumps = versions.JUMP_OPCODES
    caches = versions.CACHES_BY_OPCODE
    result: list[Instr] = []
    i = 0
    n = len(raw)
    start = 0
    arg = 0
    while i < n:
        op = raw[i]
        arg = arg | raw[i + 1]
        if op == ext:
            arg <<= 8
            i += 2
            continue
        name = opname[op]
        end = i + 2 + 2 * caches[op]
        target = versions.jump_target(op, arg, i, end) if op in jumps else None
        result.append(Instr(len(result), start, i, end, op, name, arg, target, positions[i // 2]))
        i = end
        start = end
        arg = 0
    return result
