"""Decode a code object's wordcode, without ``dis``.

Two readers, for two moments:

* :func:`scan` runs at import time, for every code object instrumented.  It
  looks at no instruction one by one in Python: one regular-expression pass
  over the opcode bytes (``co_code[::2]``, one byte per code unit) finds the
  few instructions that shape control flow (jumps, returns, raises, yields),
  and only those are decoded.  Everything between them is copied unchanged.
* :func:`decode` runs when counts are read: every instruction, with where it
  starts (its EXTENDED_ARG prefixes included), where its opcode sits (the
  offset ``dis`` reports), where it ends (after its inline caches), its full
  argument, its jump target and its source position.  ``dis`` would format
  argument reprs and build named tuples on top; reports cannot afford that.

The opcode bytes can be searched this way because every code unit's first
byte is an opcode: EXTENDED_ARG for prefixes and CACHE (0) for inline caches,
which ``co_code`` always hands out zeroed.
"""

from __future__ import annotations

import re
from types import CodeType

from pytest_bytecode import versions

#: (lineno, end_lineno, col_offset, end_col_offset); any part may be None.
Position = tuple[int | None, int | None, int | None, int | None]


class Instr:
    """One instruction of the original code.

    ``start`` is where its EXTENDED_ARG prefixes begin (jumps land there),
    ``offset`` where its opcode sits (what ``dis`` reports), ``end`` the offset
    after its inline caches.  ``target`` is the jump target offset, if any.
    (The engine's own types are plain slotted classes, not dataclasses:
    importing ``dataclasses`` and building the classes would cost a program
    that instruments itself several milliseconds of start-up.)
    """

    __slots__ = ("arg", "end", "index", "offset", "op", "opname", "position", "start", "target")

    def __init__(
        self,
        index: int,
        start: int,
        offset: int,
        end: int,
        op: int,
        opname: str,
        arg: int,
        target: int | None,
        position: Position,
    ) -> None:
        self.index = index
        self.start = start
        self.offset = offset
        self.end = end
        self.op = op
        self.opname = opname
        self.arg = arg
        self.target = target
        self.position = position


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
    sign_of = versions.JUMP_ARG_SIGN
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
        sign = sign_of.get(op)
        target = None if sign is None else end + 2 * sign * arg if sign else 2 * arg
        result.append(Instr(len(result), start, i, end, op, name, arg, target, positions[i // 2]))
        i = end
        start = end
        arg = 0
    return result


#: Opcodes of the instructions :func:`scan` decodes: everything after which
#: control does not simply go on to the next instruction.
_SHAPING: frozenset[int] = frozenset(
    op
    for op in range(256)
    if op in versions.JUMP_OPCODES
    or versions.OPNAME[op]
    in (
        versions.NO_FALLTHROUGH_OPNAMES
        | versions.LEAVES_UNSEEN_AND_GOES_ON
        | {"YIELD_VALUE", "RETURN_GENERATOR"}
    )
)
_SHAPING_RE = re.compile(b"[" + b"".join(re.escape(bytes([op])) for op in sorted(_SHAPING)) + b"]")


class FlowInstruction:
    """An instruction that shapes control flow, in code units.

    ``start`` is where its EXTENDED_ARG prefixes begin, ``unit`` where its
    opcode sits, ``end`` the unit after its inline caches; ``target`` is the
    unit a jump goes to, or -1.
    """

    __slots__ = ("end", "name", "op", "start", "target", "unit")

    def __init__(self, start: int, unit: int, end: int, op: int, name: str, target: int) -> None:
        self.start = start
        self.unit = unit
        self.end = end
        self.op = op
        self.name = name
        self.target = target

    def __repr__(self) -> str:
        return f"FlowInstruction({self.name} {self.start}..{self.end} -> {self.target})"


def scan(raw: bytes) -> tuple[bytes, list[FlowInstruction]]:
    """The opcode byte of every code unit of ``raw`` (a ``co_code``), and the
    instructions that shape control flow, in order."""
    ops = raw[::2]
    ext = versions.EXTENDED_ARG
    caches = versions.CACHES_BY_OPCODE
    opname = versions.OPNAME
    sign_of = versions.JUMP_ARG_SIGN
    found: list[FlowInstruction] = []
    for match in _SHAPING_RE.finditer(ops):
        k = match.start()
        op = ops[k]
        arg = raw[2 * k + 1]
        start = k
        shift = 8
        while start and ops[start - 1] == ext:
            start -= 1
            arg |= raw[2 * start + 1] << shift
            shift += 8
        end = k + 1 + caches[op]
        sign = sign_of.get(op)
        target = -1 if sign is None else end + sign * arg if sign else arg
        found.append(FlowInstruction(start, k, end, op, opname[op], target))
    return ops, found


def opcode_at(ops: bytes, unit: int) -> int:
    """Opcode of the instruction that starts at ``unit`` (past its prefixes)."""
    ext = versions.EXTENDED_ARG
    while ops[unit] == ext:
        unit += 1
    return ops[unit]


def instruction_end(ops: bytes, unit: int) -> int:
    """The unit after the instruction that starts at ``unit`` (and its caches)."""
    ext = versions.EXTENDED_ARG
    while ops[unit] == ext:
        unit += 1
    return unit + 1 + versions.CACHES_BY_OPCODE[ops[unit]]
