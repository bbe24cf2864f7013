"""Read a code object as a listing of instructions, raw or in a portable vocabulary.

Bytecode assertions compare listings of ``"OPNAME arg"`` entries.  At the
``raw`` level an entry is what :mod:`dis` shows (minus CACHE entries); at the
``portable`` level (the default) the version-specific spellings of CPython
3.10-3.15 are rewritten into one vocabulary, so that one expected listing
holds on every supported version for ordinary code.  Each rewrite is a rule
of :mod:`pytest_bytecode.vocabulary` (README.md's table is made from them),
and every per-version fact comes from :mod:`pytest_bytecode.versions`.

At both levels jump arguments become labels (``L1``, ``L2``... in order of
position) and the instruction a jump lands on is preceded by a label entry
(``"L1:"``), and constants whose repr is not stable between runs (code objects,
frozensets) are shown in a stable form (``<code g>``, sorted frozensets).
"""

from __future__ import annotations

import bisect
import dis
import types
import warnings
from collections.abc import Iterator
from typing import Literal

from pytest_bytecode import versions, vocabulary
from pytest_bytecode.engine import original_code
from pytest_bytecode.engine.records import record
from pytest_bytecode.vocabulary import NOT_PORTABLE, PORTABLE_OPNAMES, Ins, const_text

__all__ = [
    "LEVELS",
    "NOT_PORTABLE",
    "PORTABLE_OPNAMES",
    "Level",
    "Op",
    "code_name",
    "code_of",
    "listing",
    "nested_codes",
]

Level = Literal["raw", "portable"]
LEVELS: tuple[Level, ...] = ("raw", "portable")


@record(frozen=True)
class Op:
    """One entry of a listing: an instruction, or a marker (label or code header).

    ``argrepr`` is the argument as text (what the listing shows, like
    :attr:`dis.Instruction.argrepr`), ``argval`` the argument as a value;
    ``line`` is the source line, ``offset`` the byte offset of the original
    instruction it was read from (-1 for markers).
    """

    opname: str
    argrepr: str = ""
    argval: object = None
    line: int | None = None
    offset: int = -1
    marker: str = ""

    @property
    def arg(self) -> str:
        """Deprecated name of :attr:`argrepr` (text, where ``dis``'s ``arg`` is an int)."""
        warnings.warn(
            "Op.arg is deprecated: it is the argument's text, use Op.argrepr "
            "(or Op.argval for its value)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.argrepr

    @property
    def is_marker(self) -> bool:
        """True for ``"L1:"`` labels and ``"<code g>:"`` headers."""
        return bool(self.marker)

    @property
    def text(self) -> str:
        """The entry as ``opcodes()`` shows it: ``"OPNAME arg"``, ``"L1:"``..."""
        if self.marker:
            return self.marker
        return f"{self.opname} {self.argrepr}" if self.argrepr else self.opname


def code_of(obj: object) -> types.CodeType:
    """The code object of a function, method, code object or ``__code__`` holder.

    Code that ``--bytecode-cov`` instrumented is read as the original the user
    wrote, so assertions and coverage can run in the same session.
    """
    return original_code(_code_of(obj))


def _code_of(obj: object) -> types.CodeType:
    if isinstance(obj, types.CodeType):
        return obj
    inner = getattr(obj, "__func__", None)  # bound methods, staticmethod, classmethod
    if inner is not None:
        return _code_of(inner)
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        return code
    raise TypeError(
        f"expected a function, method, code object or object with __code__, got {obj!r}"
    )


def code_name(code: types.CodeType) -> str:
    """Qualified name where the version has one (3.11+), else the plain name."""
    return str(getattr(code, "co_qualname", code.co_name))


def nested_codes(code: types.CodeType) -> Iterator[types.CodeType]:
    """Code objects nested in ``code`` (functions, lambdas, comprehensions), depth first."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from nested_codes(const)


def listing(obj: object, level: Level = "portable", recursive: bool = False) -> list[Op]:
    """The listing of ``obj`` at ``level``; with ``recursive`` nested code follows.

    Each nested code object is introduced by a ``"<code name>:"`` header entry.
    Label numbers run on through the whole listing, so they stay unique.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(map(repr, LEVELS))}, not {level!r}")
    code = code_of(obj)
    out = _code_listing(code, level, 1)
    if recursive:
        for inner in nested_codes(code):
            out.append(Op("", marker=f"<code {inner.co_name}>:", line=inner.co_firstlineno))
            labels = sum(1 for op in out if op.marker.startswith("L"))
            out.extend(_code_listing(inner, level, labels + 1))
    return out


# --- Reading ---------------------------------------------------------------------


def _lines(code: types.CodeType) -> dict[int, int | None]:
    lines: dict[int, int | None] = {}
    for start, end, line in code.co_lines():
        for offset in range(start, end, versions.CODE_UNIT):
            lines[offset] = line
    return lines


_HAS_CONST = frozenset(dis.hasconst)


def _read(code: types.CodeType) -> list[Ins]:
    lines = _lines(code)
    out = []
    for ins in versions.instructions(code):
        target = ins.argval if ins.opcode in versions.JUMP_OPCODES else None
        if ins.opcode in _HAS_CONST and isinstance(ins.argval, (types.CodeType, frozenset, tuple)):
            argrepr = const_text(ins.argval)
        elif ins.argrepr:
            argrepr = ins.argrepr
        else:
            argrepr = "" if ins.arg is None else str(ins.argval)
        out.append(
            Ins(
                ins.opname,
                argrepr,
                ins.argval,
                lines.get(ins.offset),
                ins.offset,
                target if isinstance(target, int) else None,
                ins.arg,
            )
        )
    return out


def _code_listing(code: types.CodeType, level: Level, first_label: int) -> list[Op]:
    ins = _read(code)
    if level == "portable":
        ins = vocabulary.rewrite(code, ins)
    return _with_labels(ins, first_label)


def _with_labels(ins: list[Ins], first_label: int) -> list[Op]:
    """Turn jump targets into labels and put ``"Ln:"`` before each landing place."""
    offsets = [i.offset for i in ins]
    landing: dict[int, int] = {}  # jump's target offset -> index in ``ins``
    for i in ins:
        if i.target is not None:
            landing[i.target] = bisect.bisect_left(offsets, i.target)
    names: dict[int, str] = {}
    for n, index in enumerate(sorted(set(landing.values())), start=first_label):
        names[index] = f"L{n}"
    out: list[Op] = []
    for index, i in enumerate(ins):
        if index in names:
            out.append(Op("", marker=names[index] + ":", line=i.line))
        argrepr, argval = i.argrepr, i.argval
        if i.target is not None:
            argrepr = names.get(landing[i.target], "END")
            argval = argrepr
        out.append(Op(i.opname, argrepr, argval, i.line, i.offset))
    if len(ins) in names:  # a jump past the last instruction (never in practice)
        out.append(Op("", marker=names[len(ins)] + ":"))
    return out
