"""Read a code object as a listing of instructions, raw or in a portable vocabulary.

Bytecode assertions compare listings of ``"OPNAME arg"`` entries.  At the
``raw`` level an entry is what :mod:`dis` shows (minus CACHE entries); at the
``portable`` level (the default) the version-specific spellings of CPython
3.10-3.15 are rewritten into one vocabulary, so that one expected listing
holds on every supported version for ordinary code.  README.md has the table
of every rewrite; this module is its implementation, and every per-version
fact it relies on comes from :mod:`pytest_bytecode.versions`.

At both levels jump arguments become labels (``L1``, ``L2``... in order of
position) and the instruction a jump lands on is preceded by a label entry
(``"L1:"``), and constants whose repr is not stable between runs (code objects,
frozensets) are shown in a stable form (``<code g>``, sorted frozensets).
"""

from __future__ import annotations

import bisect
import dis
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from pytest_bytecode import versions
from pytest_bytecode.engine import original_code

Level = Literal["raw", "portable"]
LEVELS: tuple[Level, ...] = ("raw", "portable")


@dataclass(frozen=True)
class Op:
    """One entry of a listing: an instruction, or a marker (label or code header).

    ``arg`` is the argument as text (what the listing shows), ``argval`` the
    argument as a value; ``line`` is the source line, ``offset`` the byte
    offset of the original instruction it was read from (-1 for markers).
    """

    opname: str
    arg: str = ""
    argval: object = None
    line: int | None = None
    offset: int = -1
    marker: str = ""

    @property
    def is_marker(self) -> bool:
        """True for ``"L1:"`` labels and ``"<code g>:"`` headers."""
        return bool(self.marker)

    @property
    def text(self) -> str:
        """The entry as ``opcodes()`` shows it: ``"OPNAME arg"``, ``"L1:"``..."""
        if self.marker:
            return self.marker
        return f"{self.opname} {self.arg}" if self.arg else self.opname


@dataclass
class _I:
    """Mutable working copy of an instruction while rewriting."""

    opname: str
    arg: str
    argval: object
    line: int | None
    offset: int
    target: int | None = None
    argnum: int | None = field(default=None)


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


def _const_text(value: object) -> str:
    """Repr of a constant, stable across runs (no addresses, no hash order)."""
    if isinstance(value, types.CodeType):
        return f"<code {value.co_name}>"
    if isinstance(value, frozenset):
        if not value:
            return "frozenset()"
        return "frozenset({" + ", ".join(sorted(_const_text(v) for v in value)) + "})"
    if isinstance(value, tuple):
        inner = ", ".join(_const_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


_HAS_CONST = frozenset(dis.hasconst)


def _read(code: types.CodeType) -> list[_I]:
    lines = _lines(code)
    out = []
    for ins in versions.instructions(code):
        target = ins.argval if ins.opcode in versions.JUMP_OPCODES else None
        if ins.opcode in _HAS_CONST and isinstance(ins.argval, (types.CodeType, frozenset, tuple)):
            arg = _const_text(ins.argval)
        elif ins.argrepr:
            arg = ins.argrepr
        else:
            arg = "" if ins.arg is None else str(ins.argval)
        out.append(
            _I(
                ins.opname,
                arg,
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
        ins = _portable(code, ins)
        for rewrite in (_swap_stores, _none_jumps, _copy_exit_blocks):
            ins = rewrite(ins)
    return _with_labels(ins, first_label)


def _with_labels(ins: list[_I], first_label: int) -> list[Op]:
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
        arg, argval = i.arg, i.argval
        if i.target is not None:
            arg = names.get(landing[i.target], "END")
            argval = arg
        out.append(Op(i.opname, arg, argval, i.line, i.offset))
    if len(ins) in names:  # a jump past the last instruction (never in practice)
        out.append(Op("", marker=names[len(ins)] + ":"))
    return out


# --- The portable vocabulary ------------------------------------------------------

#: BINARY_OP symbols by NB_* number (fixed since 3.11); in-place forms are +13.
_NB_SYMBOLS = ["+", "&", "//", "<<", "@", "*", "%", "|", "**", ">>", "-", "/", "^"]
_NB_SUBSCR = 26

_LEGACY_BINARY = {
    "ADD": "+",
    "AND": "&",
    "FLOOR_DIVIDE": "//",
    "LSHIFT": "<<",
    "MATRIX_MULTIPLY": "@",
    "MULTIPLY": "*",
    "MODULO": "%",
    "OR": "|",
    "POWER": "**",
    "RSHIFT": ">>",
    "SUBTRACT": "-",
    "TRUE_DIVIDE": "/",
    "XOR": "^",
}

#: Instructions that carry no meaning of their own for a reader of the code.
_DROPPED = frozenset(
    {
        "RESUME",
        "NOP",
        "EXTENDED_ARG",
        "CACHE",
        "NOT_TAKEN",
        "PUSH_NULL",
        "PRECALL",
        "COPY_FREE_VARS",
        "MAKE_CELL",
        "GEN_START",
        "TO_BOOL",
    }
)

_RENAMED = {
    "LOAD_METHOD": "LOAD_ATTR",
    "LOAD_FAST_BORROW": "LOAD_FAST",
    "LOAD_FAST_CHECK": "LOAD_FAST",
    "POP_JUMP_FORWARD_IF_FALSE": "POP_JUMP_IF_FALSE",
    "POP_JUMP_BACKWARD_IF_FALSE": "POP_JUMP_IF_FALSE",
    "POP_JUMP_FORWARD_IF_TRUE": "POP_JUMP_IF_TRUE",
    "POP_JUMP_BACKWARD_IF_TRUE": "POP_JUMP_IF_TRUE",
    "POP_JUMP_FORWARD_IF_NONE": "POP_JUMP_IF_NONE",
    "POP_JUMP_BACKWARD_IF_NONE": "POP_JUMP_IF_NONE",
    "POP_JUMP_FORWARD_IF_NOT_NONE": "POP_JUMP_IF_NOT_NONE",
    "POP_JUMP_BACKWARD_IF_NOT_NONE": "POP_JUMP_IF_NOT_NONE",
}

_SPLIT = {
    "LOAD_FAST_LOAD_FAST": ("LOAD_FAST", "LOAD_FAST"),
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW": ("LOAD_FAST", "LOAD_FAST"),
    "STORE_FAST_LOAD_FAST": ("STORE_FAST", "LOAD_FAST"),
    "STORE_FAST_STORE_FAST": ("STORE_FAST", "STORE_FAST"),
}

_STACK_SHUFFLES = {
    "DUP_TOP": (("COPY", 1),),
    "DUP_TOP_TWO": (("COPY", 2), ("COPY", 2)),
    "ROT_TWO": (("SWAP", 2),),
    "ROT_THREE": (("SWAP", 3), ("SWAP", 2)),
    "ROT_FOUR": (("SWAP", 4), ("SWAP", 3), ("SWAP", 2)),
}

_NAME_ARG = frozenset({"LOAD_GLOBAL", "LOAD_ATTR", "LOAD_SUPER_ATTR", "IMPORT_NAME"})
_MAKE_FUNCTION_FLAGS = ((16, "annotate"), (8, "closure"), (4, "annotations"), (2, "kwdefaults"))
_CONVERSIONS = {1: "str", 2: "repr", 3: "ascii"}


def _suggestions() -> dict[str, str]:
    table = {name: "(dropped)" for name in _DROPPED}
    table.update(_RENAMED)
    table.update({name: " + ".join(parts) for name, parts in _SPLIT.items()})
    for name, shuffle in _STACK_SHUFFLES.items():
        table[name] = ", ".join(f"{op} {n}" for op, n in shuffle)
    for name, symbol in _LEGACY_BINARY.items():
        table[f"BINARY_{name}"] = f"BINARY_OP {symbol}"
        table[f"INPLACE_{name}"] = f"BINARY_OP {symbol}="
    table.update(
        {
            "BINARY_SUBSCR": "BINARY_OP []",
            "CALL_FUNCTION": "CALL n",
            "CALL_METHOD": "CALL n",
            "CALL_FUNCTION_KW": "LOAD_CONST names + CALL_KW n",
            "KW_NAMES": "LOAD_CONST names + CALL_KW n",
            "RETURN_CONST": "LOAD_CONST c + RETURN_VALUE",
            "LOAD_SMALL_INT": "LOAD_CONST n",
            "LOAD_ASSERTION_ERROR": "LOAD_COMMON_CONSTANT AssertionError",
            "JUMP_ABSOLUTE": "JUMP_FORWARD or JUMP_BACKWARD",
            "JUMP_IF_FALSE_OR_POP": "COPY 1, POP_JUMP_IF_FALSE, POP_TOP",
            "JUMP_IF_TRUE_OR_POP": "COPY 1, POP_JUMP_IF_TRUE, POP_TOP",
            "FORMAT_VALUE": "CONVERT_VALUE, FORMAT_SIMPLE or FORMAT_WITH_SPEC",
            "UNARY_POSITIVE": "CALL_INTRINSIC_1 INTRINSIC_UNARY_POSITIVE",
            "LIST_TO_TUPLE": "CALL_INTRINSIC_1 INTRINSIC_LIST_TO_TUPLE",
            "RETURN_GENERATOR": "(dropped)",
            "END_FOR": "(dropped)",
            "POP_ITER": "POP_TOP, or dropped after END_FOR",
        }
    )
    return table


#: Opnames the portable level never shows, with what it shows instead.
NOT_PORTABLE: dict[str, str] = _suggestions()

#: Every opname a portable listing can show.
PORTABLE_OPNAMES: frozenset[str] = versions.KNOWN_OPNAMES - NOT_PORTABLE.keys()


def _like(i: _I, opname: str, arg: str = "", argval: object = None) -> _I:
    return _I(opname, arg, argval, i.line, i.offset)


def _const(i: _I, value: object) -> _I:
    return _like(i, "LOAD_CONST", _const_text(value), value)


def _portable(code: types.CodeType, ins: list[_I]) -> list[_I]:
    """Rewrite one code object's instructions into the portable vocabulary."""
    cells = set(code.co_cellvars) | set(code.co_freevars)
    out: list[_I] = []
    keyword_call = False
    n = len(ins)
    k = 0
    while k < n:
        i = ins[k]
        nxt = ins[k + 1] if k + 1 < n else None
        name = i.opname
        k += 1
        if name in _DROPPED:
            continue
        if name == "RETURN_GENERATOR":
            if nxt is not None and nxt.opname == "POP_TOP":
                k += 1
            continue
        if name == "END_FOR":
            if nxt is not None and (
                nxt.opname == "POP_ITER"
                or (nxt.opname == "POP_TOP" and versions.END_FOR_THEN_POP_TOP)
            ):
                k += 1
            continue
        if (
            name == "CALL_INTRINSIC_1"
            and i.arg == "INTRINSIC_STOPITERATION_ERROR"
            and nxt is not None
            and nxt.opname == "RERAISE"
        ):
            k += 1  # the implicit StopIteration handler of a generator (3.12+)
            continue
        if name == "POP_ITER":
            out.append(_like(i, "POP_TOP"))
        elif name in _RENAMED:
            i.opname = _RENAMED[name]
            if i.opname == "LOAD_ATTR":
                i.arg = str(i.argval)
            out.append(i)
            if i.opname == "LOAD_FAST" and versions.LOAD_CLOSURE_IS_LOAD_FAST and i.argval in cells:
                i.opname = "LOAD_CLOSURE"
        elif name in _SPLIT:
            first, second = _SPLIT[name]
            names = i.argval if isinstance(i.argval, tuple) else (i.argval, i.argval)
            for opname, var in zip((first, second), names, strict=False):
                if opname == "LOAD_FAST" and versions.LOAD_CLOSURE_IS_LOAD_FAST and var in cells:
                    opname = "LOAD_CLOSURE"
                out.append(_like(i, opname, str(var), var))
        elif name == "LOAD_FAST" and versions.LOAD_CLOSURE_IS_LOAD_FAST and i.argval in cells:
            out.append(_like(i, "LOAD_CLOSURE", str(i.argval), i.argval))
        elif name in _STACK_SHUFFLES:
            for opname, depth in _STACK_SHUFFLES[name]:
                out.append(_like(i, opname, str(depth), depth))
        elif name.startswith(("BINARY_", "INPLACE_")) and name.split("_", 1)[1] in _LEGACY_BINARY:
            symbol = _LEGACY_BINARY[name.split("_", 1)[1]]
            number = _NB_SYMBOLS.index(symbol)
            if name.startswith("INPLACE_"):
                symbol, number = symbol + "=", number + 13
            out.append(_like(i, "BINARY_OP", symbol, number))
        elif (
            name == "BUILD_SLICE"
            and i.argval == 2
            and nxt is not None
            and (nxt.opname in ("BINARY_SUBSCR", "STORE_SUBSCR"))
        ):
            k += 1
            out.append(_like(i, "BINARY_SLICE" if nxt.opname == "BINARY_SUBSCR" else "STORE_SLICE"))
        elif name == "BINARY_SUBSCR":
            out.append(_like(i, "BINARY_OP", "[]", _NB_SUBSCR))
        elif (
            name == "LOAD_CONST"
            and isinstance(i.argval, slice)
            and nxt is not None
            and nxt.opname == "BINARY_OP"
            and nxt.argnum == _NB_SUBSCR
        ):
            # 3.14+ folds a constant slice; read it as the loads it replaced.
            k += 1
            s = i.argval
            out += [_const(i, s.start), _const(i, s.stop)]
            if s.step is None:
                out.append(_like(i, "BINARY_SLICE"))
            else:
                out += [_const(i, s.step), _like(i, "BUILD_SLICE", "3", 3)]
                out.append(_like(i, "BINARY_OP", "[]", _NB_SUBSCR))
        elif name == "LOAD_SMALL_INT":
            out.append(_const(i, i.argval))
        elif name == "RETURN_CONST":
            out += [_const(i, i.argval), _like(i, "RETURN_VALUE")]
        elif name == "LOAD_ASSERTION_ERROR":
            out.append(_like(i, "LOAD_COMMON_CONSTANT", "AssertionError", "AssertionError"))
        elif name == "LOAD_COMMON_CONSTANT":
            if i.arg.isidentifier() and i.arg not in ("None", "True", "False"):
                out.append(_like(i, name, i.arg, i.arg))  # a builtin type or function
            else:
                out.append(_const(i, i.argval))  # 3.15: None, True, False, '', -1
        elif name in ("CALL_FUNCTION", "CALL_METHOD", "CALL"):
            opname = "CALL_KW" if keyword_call else "CALL"
            keyword_call = False
            out.append(_like(i, opname, str(i.argval), i.argval))
        elif name == "CALL_FUNCTION_KW":
            out.append(_like(i, "CALL_KW", str(i.argval), i.argval))
        elif name == "KW_NAMES":
            keyword_call = True
            value = code.co_consts[i.argnum or 0]
            out.append(_const(i, value))
        elif name == "CALL_FUNCTION_EX":
            out.append(_like(i, name))  # 0/1 flags before 3.14, no argument after
        elif name in _NAME_ARG or name == "COMPARE_OP":
            i.arg = str(i.argval)
            out.append(i)
        elif name == "IS_OP":
            out.append(_like(i, name, "is not" if i.argnum else "is", i.argnum))
        elif name == "CONTAINS_OP":
            out.append(_like(i, name, "not in" if i.argnum else "in", i.argnum))
        elif name == "JUMP_ABSOLUTE":
            backward = i.target is not None and i.target <= i.offset
            i.opname = "JUMP_BACKWARD" if backward else "JUMP_FORWARD"
            out.append(i)
        elif name in ("JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP"):
            jump = _like(i, "POP_JUMP_IF_" + name.split("_")[2])
            jump.target = i.target
            out += [_like(i, "COPY", "1", 1), jump, _like(i, "POP_TOP")]
        elif name == "MAKE_FUNCTION":
            if versions.MAKE_FUNCTION_TAKES_QUALNAME and out and out[-1].opname == "LOAD_CONST":
                out.pop()  # 3.10: the qualname
            out.append(_like(i, name))
            flags = i.argnum or 0
            for bit, label in (*_MAKE_FUNCTION_FLAGS, (1, "defaults")):
                if flags & bit:
                    out.append(_like(i, "SET_FUNCTION_ATTRIBUTE", label, bit))
        elif name == "FORMAT_VALUE":
            flags = i.argnum or 0
            convert = _CONVERSIONS.get(flags & 3)
            with_spec = bool(flags & 4)
            if convert:
                spec = with_spec and out and out[-1].opname == "LOAD_CONST"
                conv = _like(out[-1] if spec else i, "CONVERT_VALUE", convert, flags & 3)
                # 3.13+ convert before loading the spec; move it there when the
                # spec is one constant.
                if spec:
                    out.insert(len(out) - 1, conv)
                else:
                    out.append(conv)
            out.append(_like(i, "FORMAT_WITH_SPEC" if with_spec else "FORMAT_SIMPLE"))
        elif name == "BUILD_CONST_KEY_MAP" and _simple_values(out, i.argnum or 0):
            count = i.argnum or 0
            keys = out.pop().argval
            values = out[len(out) - count :]
            del out[len(out) - count :]
            for key, value in zip(keys if isinstance(keys, tuple) else (), values, strict=False):
                out += [_const(value, key), value]
            out.append(_like(i, "BUILD_MAP", str(count), count))
        elif name == "UNARY_POSITIVE":
            out.append(_like(i, "CALL_INTRINSIC_1", "INTRINSIC_UNARY_POSITIVE", 5))
        elif name == "LIST_TO_TUPLE":
            out.append(_like(i, "CALL_INTRINSIC_1", "INTRINSIC_LIST_TO_TUPLE", 6))
        elif name in ("YIELD_VALUE", "GET_ITER"):
            out.append(_like(i, name))  # the argument is bookkeeping (3.12+, 3.15)
        elif name == "CONVERT_VALUE":
            out.append(_like(i, name, _CONVERSIONS.get(i.argnum or 0, i.arg), i.argnum))
        elif name == "SET_FUNCTION_ATTRIBUTE":
            out.append(_like(i, name, i.arg, i.argnum))
        else:
            out.append(i)
    return out


def _swap_stores(ins: list[_I]) -> list[_I]:
    """``SWAP 2; STORE_FAST a; STORE_FAST b`` reads as ``STORE_FAST b; STORE_FAST a``.

    3.11+ compilers do this themselves (``a, b = b, a`` has no SWAP); 3.10
    keeps the ROT_TWO.  Both orders leave the same values in the same names.
    """
    out: list[_I] = []
    k = 0
    while k < len(ins):
        i = ins[k]
        if (
            i.opname == "SWAP"
            and i.argval == 2
            and k + 2 < len(ins)
            and ins[k + 1].opname == ins[k + 2].opname == "STORE_FAST"
            and ins[k + 1].argval != ins[k + 2].argval
        ):
            first, second = ins[k + 1], ins[k + 2]
            out.append(_like(first, "STORE_FAST", second.arg, second.argval))
            out.append(_like(second, "STORE_FAST", first.arg, first.argval))
            k += 3
            continue
        out.append(i)
        k += 1
    return out


_SIMPLE_LOADS = frozenset({"LOAD_FAST", "LOAD_CONST", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"})


def _simple_values(out: list[_I], count: int) -> bool:
    """True when BUILD_CONST_KEY_MAP's keys and ``count`` values are one load each."""
    if len(out) < count + 1 or out[-1].opname != "LOAD_CONST":
        return False
    keys = out[-1].argval
    if not isinstance(keys, tuple) or len(keys) != count:
        return False
    return all(i.opname in _SIMPLE_LOADS for i in out[len(out) - 1 - count : -1])


def _none_jumps(ins: list[_I]) -> list[_I]:
    """``LOAD_CONST None; IS_OP; POP_JUMP_IF_X`` reads as ``POP_JUMP_IF_[NOT_]NONE``.

    3.11+ compilers emit the None-test jump themselves; 3.10 does not.
    """
    out: list[_I] = []
    for i in ins:
        if (
            i.opname in ("POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE")
            and len(out) >= 2
            and out[-1].opname == "IS_OP"
            and out[-2].opname == "LOAD_CONST"
            and out[-2].argval is None
        ):
            is_not = bool(out[-1].argval)
            on_true = i.opname == "POP_JUMP_IF_TRUE"
            jump = _like(
                out[-2], "POP_JUMP_IF_NONE" if is_not != on_true else "POP_JUMP_IF_NOT_NONE"
            )
            jump.target = i.target
            del out[-2:]
            out.append(jump)
            continue
        out.append(i)
    return out


#: CPython's flowgraph copies exit blocks of at most this many instructions
#: instead of jumping to them (MAX_COPY_SIZE); 3.11 does it less often.
_MAX_COPY = 4
_EXITS = frozenset({"RETURN_VALUE", "RAISE_VARARGS", "RERAISE"})


def _copy_exit_blocks(ins: list[_I]) -> list[_I]:
    """A JUMP_FORWARD to a short block that returns reads as a copy of that block.

    3.12+ duplicate such exit blocks (``x = a if c else b; return x`` returns
    from both branches); 3.11 jumps to one shared copy.
    """
    offsets = [i.offset for i in ins]
    out: list[_I] = []
    for i in ins:
        if i.opname == "JUMP_FORWARD" and i.target is not None:
            start = bisect.bisect_left(offsets, i.target)
            block = ins[start : start + _MAX_COPY]
            end = next((n for n, b in enumerate(block) if b.opname in _EXITS), None)
            if end is not None and all(b.target is None for b in block[: end + 1]):
                out += [_I(b.opname, b.arg, b.argval, b.line, i.offset) for b in block[: end + 1]]
                continue
        out.append(i)
    return out
