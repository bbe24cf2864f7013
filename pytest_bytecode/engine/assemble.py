"""Build the new code: the original code with code inserted between its units.

Instrumenting never changes an original instruction's bytes, only where they
sit and, for jumps, their arguments.  So the new code is described by what
is inserted where (:class:`Splice`, filled by the rewriter in one pass over
the original, in order) and by the jumps whose arguments must be worked out
again once every insertion is known.  :func:`assemble` then re-aims the
jumps, giving a jump that no longer fits its argument more EXTENDED_ARG
prefixes until all fit (sizes only ever grow, so this terminates), and
writes the exception table and the location table, the latter grown from
the original's (:func:`~pytest_bytecode.engine.tables.grow_locations`).  No
step looks at the instructions between insertions: the work is proportional
to what is inserted and to the jumps, not to the size of the code.

Several insertions may go before the same original unit.  Their *slot* says
in which order, and which of them jumps to the unit and exception-table
ranges around it take in:

* ``GLUED_PROBE`` and ``FALL_PROBE`` belong to the code before the unit: a
  range that ends at the unit covers them;
* ``ENTRY`` (3.10 only) is the catch-all's ``SETUP_FINALLY``, which must run
  once per frame, when the code's glued prefix falls into the first unit
  after it, and never again;
* ``OWN`` is engine code that no range covers (handler stubs, the jump
  past them);
* jumps to the unit land after those, at its *label*, where a range that
  starts at the unit starts too;
* ``BODY_PROBE`` comes after the label: it runs on every entry into the
  unit's block, whether by a jump or by falling into it.

Only what must run on every arrival at a unit may go after its label: a
jump back to the unit (a loop that is a function's first statement, say)
runs it again.

The new code is also cut into *pieces* (:attr:`Layout.starts`), each tagged
with where an exception raised in it comes from, for reading counts:
``4 * unit + AT`` for original code from ``unit`` on, ``4 * unit + BEFORE``
for code inserted before the instruction at ``unit`` (a probe, or the
prefixes a jump gained), IGNORE for the engine's own code.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import namedtuple
from collections.abc import Sequence
from itertools import accumulate
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.tables import (
    ExceptionEntry,
    encode_exception_table,
    grow_locations,
    with_trailing_units,
)

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import NamedTuple

    class PendingJump(NamedTuple):
        """A jump :func:`assemble` aims once every insertion is known."""

        #: where the jump begins in the new code, before any jump grew
        at: int
        #: its opcode
        op: int
        #: its size in units so far: prefixes, the instruction, its caches
        size: int
        #: the original unit whose source position the location table gives it
        loc: int
        #: original code (its prefixes, if it gains any, are a piece of
        #: their own), or the engine's own jump
        original: bool
        #: where it goes: an index into the ``where`` list of :func:`assemble`
        target: int

else:  # the same type, made without importing typing
    PendingJump = namedtuple("PendingJump", "at op size loc original target")
    PendingJump.__doc__ = "A jump :func:`assemble` aims once every insertion is known."

#: Piece tags: ``4 * unit + kind``, or IGNORE (see module docstring).
IGNORE = -1
#: kind: inserted before the instruction at ``unit`` began (it did not run)
BEFORE = 0
#: kind: original code from ``unit`` on; a raise ``k`` units into the piece
#: is the original instruction that covers ``unit + k``
AT = 1

#: Slots of insertions at one unit, in order (see module docstring).
GLUED_PROBE = 0
FALL_PROBE = 1
ENTRY = 2
OWN = 3
LABEL = 4
BODY_PROBE = 5


class Layout:
    """The assembled code, its tables, and its pieces: the unit where each
    begins and its raise tag."""

    __slots__ = ("code", "exceptiontable", "linetable", "starts", "tags")

    def __init__(
        self,
        code: bytes,
        starts: array[int],
        tags: array[int],
        exceptiontable: bytes,
        linetable: bytes,
    ) -> None:
        self.code = code
        self.starts = starts
        self.tags = tags
        self.exceptiontable = exceptiontable
        self.linetable = linetable


class Splice:
    """The original code ``raw`` with code inserted, built front to back.

    ``shift`` is how many units have been inserted so far: an original unit
    at or after the last insertion now sits ``shift`` units later.
    ``jumps`` are the jumps to re-aim (:class:`PendingJump`), whose targets
    index the positions given to :func:`assemble`.
    """

    __slots__ = (
        "copied",
        "growth",
        "jumps",
        "keys",
        "parts",
        "raw",
        "shift",
        "shifts",
        "starts",
        "tags",
        "trailing",
    )

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.parts: list[bytes] = []
        self.copied = 0  # original units in parts so far
        self.shift = 0
        self.starts = array("i")
        self.tags = array("i")
        self.keys: list[int] = []  # 8 * unit + slot of each insertion
        self.shifts: list[int] = []  # units inserted up to each insertion, included
        self.growth: list[tuple[int, int]] = []  # (unit, units) for grow_locations
        self.trailing = 0  # units inserted after the original code, without a position
        self.jumps: list[PendingJump] = []

    def insert(self, unit: int, slot: int, data: bytes, tag: int, loc: int) -> int:
        """Insert ``data`` before original ``unit`` in ``slot``; it takes the
        source position of original unit ``loc`` (none if -1).  Returns
        where it begins."""
        copied = self.copied
        shift = self.shift
        if unit > copied:
            self.parts.append(self.raw[2 * copied : 2 * unit])
            self.starts.append(copied + shift)
            self.tags.append(4 * copied + AT)
            self.copied = unit
        self.parts.append(data)
        at = unit + shift
        self.starts.append(at)
        self.tags.append(tag)
        size = len(data) >> 1
        self.shift = shift = shift + size
        self.keys.append(8 * unit + slot)
        self.shifts.append(shift)
        if loc >= 0:
            self.growth.append((loc, size))
        else:
            self.trailing += size
        return at

    def jump(self, unit: int, op: int, size: int, target: int) -> None:
        """Re-aim the original jump of ``size`` units at ``unit`` at
        ``target`` (insertions before ``unit`` are all made)."""
        self.jumps.append(PendingJump(unit + self.shift, op, size, unit, True, target))

    def insert_jump(self, unit: int, slot: int, op: int, target: int, loc: int) -> None:
        """Insert a jump of the engine's own, aimed at ``target``."""
        size = 1 + versions.CACHES_BY_OPCODE[op]
        at = self.insert(unit, slot, _encode_one(op, size), IGNORE, loc)
        self.jumps.append(PendingJump(at, op, size, loc, False, target))

    def position(self, unit: int, slot: int) -> int:
        """Where original ``unit`` is, counting the insertions at it in slots
        before ``slot``."""
        i = bisect_left(self.keys, 8 * unit + slot)
        return unit + self.shifts[i - 1] if i else unit

    def finish(self) -> None:
        """Copy the original code after the last insertion."""
        n = len(self.raw) >> 1
        if n > self.copied:
            self.parts.append(self.raw[2 * self.copied :])
            self.starts.append(self.copied + self.shift)
            self.tags.append(4 * self.copied + AT)
            self.copied = n


def _ext_count(arg: int) -> int:
    return 0 if arg <= 0xFF else 1 if arg <= 0xFFFF else 2 if arg <= 0xFFFFFF else 3


_ZEROS = [bytes(2 * k) for k in range(32)]


def _encode_one(op: int, size: int) -> bytes:
    return bytes((op, 0)) + _ZEROS[size - 1]


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
    splice: Splice,
    where: list[int],
    entries: list[ExceptionEntry],
    linetable: bytes,
) -> Layout:
    """Re-aim the jumps of ``splice`` and write the tables.

    ``where`` holds the positions jumps and handlers go to (jump targets and
    the ``target`` of ``entries`` index it); ``entries`` are the exception
    table's, positions before any jump grew; ``linetable`` is the original's.
    """
    jumps = splice.jumps
    args, extra, grown = _aim(jumps, where)
    code = bytearray().join(splice.parts)
    starts, tags = splice.starts, splice.tags
    growth = splice.growth
    at: list[int] = []  # where each jump is before any grew
    moved: list[int] = []  # what the jumps before each gained
    if grown:
        at = [jump.at for jump in jumps]
        moved = list(accumulate(extra, initial=0))
        code, starts, tags, entries = _grow(splice, code, extra, at, moved, entries, where)
    cache_of = versions.CACHES_BY_OPCODE
    ext_op = versions.EXTENDED_ARG
    for k, (pos, op, size, _, _, _) in enumerate(jumps):
        if grown:
            pos += moved[bisect_left(at, pos)]
        prefixes = size + extra[k] - 1 - cache_of[op]
        unit = pos + prefixes
        arg = args[k]
        code[2 * unit + 1] = arg & 0xFF
        for shift in range(1, prefixes + 1):
            code[2 * (unit - shift)] = ext_op
            code[2 * (unit - shift) + 1] = (arg >> (8 * shift)) & 0xFF
    trailing = splice.trailing
    if grown and versions.PIN_FOR_ITER_LINE:
        pins = _grown_for_iters(jumps, extra, at, moved)
        if pins:
            dead = _dead_jumps(len(code) >> 1, pins)
            starts.append(len(code) >> 1)  # (arrays of _grow's own)
            tags.append(IGNORE)
            code += dead
            trailing += len(dead) >> 1
    if grown:
        growth = sorted(
            growth + [(loc, extra[k]) for k, (_, _, _, loc, _, _) in enumerate(jumps) if extra[k]]
        )
    table = b""
    if versions.HAS_EXCEPTION_TABLE:
        table = encode_exception_table([e._replace(target=where[e.target]) for e in entries])
    return Layout(bytes(code), starts, tags, table, grow_locations(linetable, growth, trailing))


def _grown_for_iters(
    jumps: list[PendingJump], extra: list[int], at: list[int], moved: list[int]
) -> list[int]:
    """3.13: where each original FOR_ITER without prefixes that gained some
    now is (its own unit, after the prefixes)."""
    for_iter = versions.OPMAP["FOR_ITER"]
    plain_size = 1 + versions.CACHES_BY_OPCODE[for_iter]
    return [
        jump.at + moved[bisect_left(at, jump.at)] + extra[k]
        for k, jump in enumerate(jumps)
        if extra[k] and jump.original and jump.op == for_iter and jump.size == plain_size
    ]


def _dead_jumps(start: int, targets: list[int]) -> bytes:
    """Unreachable JUMP_BACKWARDs at ``start`` (after the last instruction,
    which never falls through), one to each unit of ``targets``: 3.13's
    sys.monitoring makes every jump target a line start, whether the jump
    can run or not (see versions.PIN_FOR_ITER_LINE)."""
    op = versions.OPMAP["JUMP_BACKWARD"]
    caches = versions.CACHES_BY_OPCODE[op]
    out = bytearray()
    pos = start
    for target in targets:
        ext = 0
        while True:  # the argument grows with the prefixes it needs
            size = ext + 1 + caches
            arg = pos + size - target
            if _ext_count(arg) <= ext:
                break
            ext += 1
        out += encode([(op, arg)])
        pos += size
    return bytes(out)


def _aim(jumps: list[PendingJump], where: list[int]) -> tuple[list[int], list[int], bool]:
    """Each jump's argument, the EXTENDED_ARG prefixes it gains, and whether
    any gained some.

    The arguments are worked out with every jump at its size so far; a jump
    whose argument does not fit grows by prefixes, inserted right before it:
    what comes after it moves on (see ``moved``), and the arguments are
    worked out again until all fit (sizes only grow, so this ends).
    """
    cache_of = versions.CACHES_BY_OPCODE
    sign_of = versions.JUMP_ARG_SIGN
    extra = [0] * len(jumps)
    args = [0] * len(jumps)
    grown = False
    at: list[int] = []  # where each jump is before any grew (they come in order)
    moved: list[int] = []
    while True:
        changed = False
        shifting = grown  # positions move by the prefixes grown in earlier passes
        if shifting:
            at = at or [jump.at for jump in jumps]
            moved = list(accumulate(extra, initial=0))
        for k, (pos, op, size, _, _, target) in enumerate(jumps):
            to = where[target]
            size += extra[k]
            if shifting:
                pos += moved[bisect_left(at, pos)]
                to += moved[bisect_left(at, to)]
            sign = sign_of[op]
            arg = sign * (to - pos - size) if sign else to
            if arg < 0:
                raise ValueError(f"{versions.OPNAME[op]} cannot reach unit {to}")
            args[k] = arg
            if arg > 0xFF:
                need = 1 + cache_of[op] + _ext_count(arg)
                if need > size:
                    extra[k] += need - size
                    changed = grown = True
        if not changed:
            return args, extra, grown


def _grow(
    splice: Splice,
    code: bytearray,
    extra: list[int],
    at: list[int],
    moved: list[int],
    entries: list[ExceptionEntry],
    where: list[int],
) -> tuple[bytearray, array[int], array[int], list[ExceptionEntry]]:
    """Make room for the prefixes the jumps gained (``extra`` per jump, at
    ``at``; ``moved[i]``: what the first ``i`` jumps gained), and move what
    comes after each: code, pieces, entries, and ``where`` in place.

    The prefixes go right before their jump: a position *at* the jump stays
    (a jump to the jump lands on its prefixes; a range that starts there
    covers them), a position after it moves on.  An original jump's
    prefixes are a piece of their own, tagged as inserted before it.
    """
    jumps = splice.jumps

    def move(pos: int) -> int:
        return pos + moved[bisect_left(at, pos)]

    ext = bytes((versions.EXTENDED_ARG, 0))
    for k in range(len(jumps) - 1, -1, -1):
        if extra[k]:
            pos = at[k]
            code[2 * pos : 2 * pos] = ext * extra[k]
    old_starts, old_tags = splice.starts, splice.tags
    splits = [
        (pos, unit, extra[k])
        for k, (pos, _, _, unit, original, _) in enumerate(jumps)
        if extra[k] and original
    ]
    starts = array("i")
    tags = array("i")
    s = 0
    n = len(old_starts)
    for i in range(n):
        begin, tag = old_starts[i], old_tags[i]
        new_begin = move(begin)
        end = old_starts[i + 1] if i + 1 < n else 1 << 62
        while s < len(splits) and splits[s][0] < end:
            pos, unit, more = splits[s]
            s += 1
            if pos > begin:  # the piece up to the jump
                starts.append(new_begin)
                tags.append(tag)
            starts.append(move(pos))  # the prefixes
            tags.append(4 * unit + BEFORE)
            begin, tag, new_begin = pos, 4 * unit + AT, move(pos) + more
        starts.append(new_begin)
        tags.append(tag)
    for i, pos in enumerate(where):
        where[i] = move(pos)
    entries = [e._replace(start=move(e.start), end=move(e.end)) for e in entries]
    return code, starts, tags, entries


#: ``co_flags`` bit of function code (``inspect.CO_OPTIMIZED``): fast locals
#: are the function's own; module and class bodies do not have it.
_CO_OPTIMIZED = 0x0001


def build_code(
    original: CodeType,
    layout: Layout,
    consts: tuple[object, ...],
    names: tuple[str, ...],
    stacksize: int,
) -> CodeType:
    """The original code object with new wordcode, tables, constants and names."""
    if versions.HAS_EXCEPTION_TABLE:
        code, linetable = layout.code, layout.linetable
        if (
            versions.MARK_HIDDEN_LOCALS
            and original.co_nlocals
            and not original.co_flags & _CO_OPTIMIZED
        ):
            marks = _hidden_local_marks(original.co_nlocals)
            code += marks
            linetable = with_trailing_units(linetable, len(marks) >> 1)
        return original.replace(  # type: ignore[call-arg]  # (3.11+)
            co_code=code,
            co_consts=consts,
            co_names=names,
            co_linetable=linetable,
            co_stacksize=stacksize,
            co_exceptiontable=layout.exceptiontable,
        )
    return original.replace(
        co_code=layout.code,
        co_consts=consts,
        co_names=names,
        co_linetable=layout.linetable,
        co_stacksize=stacksize,
    )


def _hidden_local_marks(nlocals: int) -> bytes:
    """3.12: a LOAD_FAST_AND_CLEAR of each of ``nlocals`` locals (with its
    EXTENDED_ARG prefixes), put after the end of module and class code, where
    nothing runs it: ``code.replace()`` marks the locals it names hidden, as
    the compiler marked them (:data:`versions.MARK_HIDDEN_LOCALS`)."""
    op = versions.OPMAP["LOAD_FAST_AND_CLEAR"]
    return encode([(op, local) for local in range(nlocals)])
