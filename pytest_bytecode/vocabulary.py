"""The portable vocabulary: one rule per construct that versions spell differently.

The ``portable`` level of :mod:`pytest_bytecode.normalize` reads the bytecode
of CPython 3.10-3.15 in one vocabulary (the newest CPython's, minus
super-instructions and specialisations).  Each difference is one
:class:`Rule` in :data:`RULES`: the opnames it takes, what they read as, the
versions it applies to, and its row of README's table, next to the few lines
of code that do it.  The suggestions of :data:`NOT_PORTABLE` and README's
table (``python tools/vocabulary_table.py``) are made from the same entries,
so they cannot drift apart.  Every per-version number comes from
:mod:`pytest_bytecode.versions`.
"""

from __future__ import annotations

import bisect
import types
from collections.abc import Callable, Iterable, Mapping

from pytest_bytecode import versions
from pytest_bytecode.engine.records import field, record


@record
class Ins:
    """An instruction on its way into a listing: a mutable working copy."""

    opname: str
    argrepr: str  # the argument as the listing shows it
    argval: object
    line: int | None
    offset: int
    target: int | None = None
    argnum: int | None = field(default=None)  # dis's ``arg``: the raw number


def const_text(value: object) -> str:
    """Repr of a constant, stable across runs (no addresses, no hash order)."""
    if isinstance(value, types.CodeType):
        return f"<code {value.co_name}>"
    if isinstance(value, frozenset):
        if not value:
            return "frozenset()"
        return "frozenset({" + ", ".join(sorted(const_text(v) for v in value)) + "})"
    if isinstance(value, tuple):
        inner = ", ".join(const_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


@record(frozen=True, eq=False)
class Rule:
    """One rewrite of the portable level: a construct that versions spell differently.

    A rule is data first:

    * ``takes``: the opnames that start the construct (the reader calls the
      rule for each instruction with one of them);
    * ``hides``: the opnames that a portable listing never shows because of
      this rule, each with what it shows instead (the hint of the error for a
      pattern naming one: :data:`NOT_PORTABLE`);
    * ``since`` / ``until``: the versions it runs on, first and last CPython
      minor version (``until`` None: up to the newest).  A rule that hides
      opnames must run wherever the interpreter has one of them (a test checks
      this on every version); a rule that only rewrites common opnames runs
      where its construct is compiled;
    * ``emits`` / ``reads_as``: its row of README's table of the portable
      level, in Markdown (``tools/vocabulary_table.py`` prints the table).

    Then its code, of one of two kinds.  An *instruction rule* (``takes`` not
    empty) has ``apply(reader, ins)``: it appends what ``ins`` reads as to
    ``reader.out`` (it may also take the instructions after ``ins``, see
    :meth:`Reader.take`) and returns True, or returns False to leave ``ins``
    as it is.  A *listing rule* (``takes`` empty) has ``rewrite(listing)``,
    run over a code object's whole listing after the instruction rules, in
    registry order.  A rule with neither only documents what both levels do
    (the last row of the table).
    """

    name: str
    emits: str
    reads_as: str
    takes: frozenset[str] = frozenset()
    hides: Mapping[str, str] = field(default_factory=dict)
    since: tuple[int, int] = versions.SUPPORTED[0]
    until: tuple[int, int] | None = None
    apply: Callable[[Reader, Ins], bool] | None = None
    rewrite: Callable[[list[Ins]], list[Ins]] | None = None

    @property
    def active(self) -> bool:
        """True when the running interpreter's bytecode may have the construct."""
        return self.since <= versions.PY and (self.until is None or self.until >= versions.PY)


class Reader:
    """One code object's instructions on their way into the portable vocabulary.

    Instruction rules read ``ins`` (the instruction being rewritten is the one
    before :meth:`peek`), append to ``out``, and may look back at ``out``.
    """

    def __init__(self, code: types.CodeType, ins: list[Ins]) -> None:
        self.code = code
        self.ins = ins
        self.out: list[Ins] = []
        self.next = 0  # index in ``ins`` of the instruction after the current one
        self.cells = set(code.co_cellvars) | set(code.co_freevars)
        self.keyword_call = False  # a KW_NAMES (3.11-3.12) waits for its CALL

    def peek(self) -> Ins | None:
        """The instruction after the one being rewritten, if any."""
        return self.ins[self.next] if self.next < len(self.ins) else None

    def take(self) -> None:
        """Consume :meth:`peek`'s instruction as part of the current construct."""
        self.next += 1

    def load_fast(self, var: object) -> str:
        """LOAD_FAST of a cell or free variable reads as LOAD_CLOSURE (3.13+)."""
        return "LOAD_CLOSURE" if self.is_closure_load(var) else "LOAD_FAST"

    def is_closure_load(self, var: object) -> bool:
        return versions.LOAD_CLOSURE_IS_LOAD_FAST and var in self.cells


def _like(i: Ins, opname: str, argrepr: str = "", argval: object = None) -> Ins:
    return Ins(opname, argrepr, argval, i.line, i.offset)


def _const(i: Ins, value: object) -> Ins:
    return _like(i, "LOAD_CONST", const_text(value), value)


def _dropped(names: Iterable[str]) -> dict[str, str]:
    return {name: "(dropped)" for name in names}


# Each rule's code, in the order of the registry below.

#: Instructions that carry no meaning of their own for a reader of the code.
_BOOKKEEPING = frozenset(
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


def _drop_bookkeeping(r: Reader, i: Ins) -> bool:
    nxt = r.peek()
    if i.opname == "RETURN_GENERATOR" and nxt is not None and nxt.opname == "POP_TOP":
        r.take()
    return True


def _drop_stopiteration_handler(r: Reader, i: Ins) -> bool:
    nxt = r.peek()
    if i.argrepr == "INTRINSIC_STOPITERATION_ERROR" and nxt is not None and nxt.opname == "RERAISE":
        r.take()
        return True
    return False


def _drop_end_for(r: Reader, i: Ins) -> bool:
    nxt = r.peek()
    if nxt is not None and (
        nxt.opname == "POP_ITER" or (nxt.opname == "POP_TOP" and versions.END_FOR_THEN_POP_TOP)
    ):
        r.take()
    return True


def _pop_iter(r: Reader, i: Ins) -> bool:
    r.out.append(_like(i, "POP_TOP"))
    return True


#: 3.10's binary operators by opname suffix: BINARY_<name> and INPLACE_<name>.
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


def _legacy_binary(r: Reader, i: Ins) -> bool:
    kind, _, name = i.opname.partition("_")
    symbol = _LEGACY_BINARY[name] + ("=" if kind == "INPLACE" else "")
    r.out.append(_like(i, "BINARY_OP", symbol, versions.BINARY_OP_SYMBOLS.index(symbol)))
    return True


def _binary_subscr(r: Reader, i: Ins) -> bool:
    r.out.append(_like(i, "BINARY_OP", "[]", versions.NB_SUBSCR))
    return True


def _build_slice(r: Reader, i: Ins) -> bool:
    nxt = r.peek()
    if i.argval == 2 and nxt is not None and nxt.opname in ("BINARY_SUBSCR", "STORE_SUBSCR"):
        r.take()
        r.out.append(_like(i, "BINARY_SLICE" if nxt.opname == "BINARY_SUBSCR" else "STORE_SLICE"))
        return True
    return False


def _constant_slice(r: Reader, i: Ins) -> bool:
    nxt = r.peek()
    if not (
        isinstance(i.argval, slice)
        and nxt is not None
        and nxt.opname == "BINARY_OP"
        and nxt.argnum == versions.NB_SUBSCR
    ):
        return False
    r.take()
    s = i.argval
    r.out += [_const(i, s.start), _const(i, s.stop)]
    if s.step is None:
        r.out.append(_like(i, "BINARY_SLICE"))
    else:
        r.out += [_const(i, s.step), _like(i, "BUILD_SLICE", "3", 3)]
        r.out.append(_like(i, "BINARY_OP", "[]", versions.NB_SUBSCR))
    return True


def _call(r: Reader, i: Ins) -> bool:
    opname = "CALL_KW" if r.keyword_call else "CALL"
    r.keyword_call = False
    r.out.append(_like(i, opname, str(i.argval), i.argval))
    return True


def _keyword_call(r: Reader, i: Ins) -> bool:
    if i.opname == "KW_NAMES":
        r.keyword_call = True
        r.out.append(_const(i, r.code.co_consts[i.argnum or 0]))
    else:  # CALL_FUNCTION_KW
        r.out.append(_like(i, "CALL_KW", str(i.argval), i.argval))
    return True


def _no_argument(r: Reader, i: Ins) -> bool:
    r.out.append(_like(i, i.opname))
    return True


def _bare_name(r: Reader, i: Ins) -> bool:
    if i.opname == "LOAD_METHOD":
        i.opname = "LOAD_ATTR"
    i.argrepr = str(i.argval)
    r.out.append(i)
    return True


def _return_const(r: Reader, i: Ins) -> bool:
    r.out += [_const(i, i.argval), _like(i, "RETURN_VALUE")]
    return True


def _constant(r: Reader, i: Ins) -> bool:
    if i.opname == "LOAD_COMMON_CONSTANT" and (
        i.argrepr.isidentifier() and i.argrepr not in ("None", "True", "False")
    ):
        r.out.append(_like(i, i.opname, i.argrepr, i.argrepr))  # a builtin type or function
    else:
        r.out.append(_const(i, i.argval))  # LOAD_SMALL_INT; 3.15: None, True, False, '', -1
    return True


def _assertion_error(r: Reader, i: Ins) -> bool:
    r.out.append(_like(i, "LOAD_COMMON_CONSTANT", "AssertionError", "AssertionError"))
    return True


_SPLIT = versions.SUPERINSTRUCTIONS


def _split(r: Reader, i: Ins) -> bool:
    names = i.argval if isinstance(i.argval, tuple) else (i.argval, i.argval)
    for opname, var in zip(_SPLIT[i.opname], names, strict=False):
        if opname == "LOAD_FAST":
            opname = r.load_fast(var)
        r.out.append(_like(i, opname, str(var), var))
    return True


def _load_fast_variant(r: Reader, i: Ins) -> bool:
    i.opname = r.load_fast(i.argval)
    r.out.append(i)
    return True


def _closure_load(r: Reader, i: Ins) -> bool:
    if not r.is_closure_load(i.argval):
        return False
    r.out.append(_like(i, "LOAD_CLOSURE", str(i.argval), i.argval))
    return True


def _make_function(r: Reader, i: Ins) -> bool:
    out = r.out
    if i.opname == "SET_FUNCTION_ATTRIBUTE":
        out.append(_like(i, i.opname, i.argrepr, i.argnum))
        return True
    if versions.MAKE_FUNCTION_TAKES_QUALNAME and out and out[-1].opname == "LOAD_CONST":
        out.pop()  # 3.10: the qualname
    out.append(_like(i, i.opname))
    flags = i.argnum or 0
    for bit, label in reversed(versions.FUNCTION_ATTRIBUTES):
        if flags & bit:
            out.append(_like(i, "SET_FUNCTION_ATTRIBUTE", label, bit))
    return True


_STACK_SHUFFLES = {
    "DUP_TOP": (("COPY", 1),),
    "DUP_TOP_TWO": (("COPY", 2), ("COPY", 2)),
    "ROT_TWO": (("SWAP", 2),),
    "ROT_THREE": (("SWAP", 3), ("SWAP", 2)),
    "ROT_FOUR": (("SWAP", 4), ("SWAP", 3), ("SWAP", 2)),
}


def _stack_shuffle(r: Reader, i: Ins) -> bool:
    for opname, depth in _STACK_SHUFFLES[i.opname]:
        r.out.append(_like(i, opname, str(depth), depth))
    return True


def _jump_or_pop(r: Reader, i: Ins) -> bool:
    jump = _like(i, "POP_JUMP_IF_" + i.opname.split("_")[2])
    jump.target = i.target
    r.out += [_like(i, "COPY", "1", 1), jump, _like(i, "POP_TOP")]
    return True


_POP_JUMP_DIRECTIONS = {
    f"POP_JUMP_{direction}_IF_{when}": f"POP_JUMP_IF_{when}"
    for when in ("FALSE", "TRUE", "NONE", "NOT_NONE")
    for direction in ("FORWARD", "BACKWARD")
}


def _pop_jump_direction(r: Reader, i: Ins) -> bool:
    i.opname = _POP_JUMP_DIRECTIONS[i.opname]
    r.out.append(i)
    return True


def _jump_absolute(r: Reader, i: Ins) -> bool:
    backward = i.target is not None and i.target <= i.offset
    i.opname = "JUMP_BACKWARD" if backward else "JUMP_FORWARD"
    r.out.append(i)
    return True


def _test_words(r: Reader, i: Ins) -> bool:
    words = ("is", "is not") if i.opname == "IS_OP" else ("in", "not in")
    r.out.append(_like(i, i.opname, words[1] if i.argnum else words[0], i.argnum))
    return True


def _format_value(r: Reader, i: Ins) -> bool:
    out = r.out
    if i.opname == "CONVERT_VALUE":
        out.append(_like(i, i.opname, versions.CONVERSIONS.get(i.argnum or 0, i.argrepr), i.argnum))
        return True
    flags = i.argnum or 0
    convert = versions.CONVERSIONS.get(flags & 3)
    with_spec = bool(flags & versions.FORMAT_VALUE_HAS_SPEC)
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
    return True


def _intrinsic(r: Reader, i: Ins) -> bool:
    if i.opname == "UNARY_POSITIVE":
        number = versions.INTRINSIC_UNARY_POSITIVE
    else:
        number = versions.INTRINSIC_LIST_TO_TUPLE
    r.out.append(_like(i, "CALL_INTRINSIC_1", f"INTRINSIC_{i.opname}", number))
    return True


_SIMPLE_LOADS = frozenset({"LOAD_FAST", "LOAD_CONST", "LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME"})


def _simple_values(out: list[Ins], count: int) -> bool:
    """True when BUILD_CONST_KEY_MAP's keys and ``count`` values are one load each."""
    if len(out) < count + 1 or out[-1].opname != "LOAD_CONST":
        return False
    keys = out[-1].argval
    if not isinstance(keys, tuple) or len(keys) != count:
        return False
    return all(i.opname in _SIMPLE_LOADS for i in out[len(out) - 1 - count : -1])


def _const_key_map(r: Reader, i: Ins) -> bool:
    out = r.out
    count = i.argnum or 0
    if not _simple_values(out, count):
        return False
    keys = out.pop().argval
    values = out[len(out) - count :]
    del out[len(out) - count :]
    for key, value in zip(keys if isinstance(keys, tuple) else (), values, strict=False):
        out += [_const(value, key), value]
    out.append(_like(i, "BUILD_MAP", str(count), count))
    return True


def _swap_stores(ins: list[Ins]) -> list[Ins]:
    """``SWAP 2; STORE_FAST a; STORE_FAST b`` reads as ``STORE_FAST b; STORE_FAST a``.

    3.11+ compilers do this themselves (``a, b = b, a`` has no SWAP); 3.10
    keeps the ROT_TWO.  Both orders leave the same values in the same names.
    """
    out: list[Ins] = []
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
            out.append(_like(first, "STORE_FAST", second.argrepr, second.argval))
            out.append(_like(second, "STORE_FAST", first.argrepr, first.argval))
            k += 3
            continue
        out.append(i)
        k += 1
    return out


def _none_jumps(ins: list[Ins]) -> list[Ins]:
    """``LOAD_CONST None; IS_OP; POP_JUMP_IF_X`` reads as ``POP_JUMP_IF_[NOT_]NONE``.

    3.11+ compilers emit the None-test jump themselves; 3.10 does not.
    """
    out: list[Ins] = []
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


_EXITS = frozenset({"RETURN_VALUE", "RAISE_VARARGS", "RERAISE"})


def _copy_exit_blocks(ins: list[Ins]) -> list[Ins]:
    """A JUMP_FORWARD to a short block that returns reads as a copy of that block.

    3.12+ duplicate such exit blocks (``x = a if c else b; return x`` returns
    from both branches); 3.11 jumps to one shared copy.
    """
    offsets = [i.offset for i in ins]
    out: list[Ins] = []
    for i in ins:
        if i.opname == "JUMP_FORWARD" and i.target is not None:
            start = bisect.bisect_left(offsets, i.target)
            block = ins[start : start + versions.MAX_COPY_SIZE]
            end = next((n for n, b in enumerate(block) if b.opname in _EXITS), None)
            if end is not None and all(b.target is None for b in block[: end + 1]):
                out += [
                    Ins(b.opname, b.argrepr, b.argval, b.line, i.offset) for b in block[: end + 1]
                ]
                continue
        out.append(i)
    return out


# --- The registry -------------------------------------------------------------------
# One entry per construct, in the order of README's table (section "Levels"):
# ``python tools/vocabulary_table.py`` prints the table, and
# tests/test_assertions_vocabulary.py checks that README has it.

RULES: tuple[Rule, ...] = (
    Rule(
        "bookkeeping",
        (
            "RESUME, NOP, EXTENDED_ARG, CACHE (3.11+), NOT_TAKEN (3.14+), TO_BOOL (3.13+), "
            "PUSH_NULL (3.11+), PRECALL (3.11), MAKE_CELL and COPY_FREE_VARS (3.11+), GEN_START "
            "(3.10), RETURN_GENERATOR + POP_TOP (3.11+)"
        ),
        "dropped",
        takes=frozenset({*_BOOKKEEPING, "RETURN_GENERATOR"}),
        hides=_dropped({*_BOOKKEEPING, "RETURN_GENERATOR"}),
        apply=_drop_bookkeeping,
    ),
    Rule(
        "stopiteration-handler",
        (
            "a generator's implicit `CALL_INTRINSIC_1 INTRINSIC_STOPITERATION_ERROR` + `RERAISE "
            "1` handler (3.12+)"
        ),
        "dropped",
        takes=frozenset({"CALL_INTRINSIC_1"}),
        since=(3, 12),
        apply=_drop_stopiteration_handler,
    ),
    Rule(
        "end-for",
        "END_FOR (3.12+), with the POP_TOP after it (3.13) or POP_ITER after it (3.14+)",
        "dropped (FOR_ITER's label moves to the next instruction)",
        takes=frozenset({"END_FOR"}),
        hides=_dropped(["END_FOR"]),
        since=(3, 12),
        apply=_drop_end_for,
    ),
    Rule(
        "pop-iter",
        "POP_ITER elsewhere, e.g. on `break` (3.14+)",
        "`POP_TOP`",
        takes=frozenset({"POP_ITER"}),
        hides={"POP_ITER": "POP_TOP, or dropped after END_FOR"},
        since=(3, 14),
        apply=_pop_iter,
    ),
    Rule(
        "binary-op",
        "`BINARY_ADD`, `BINARY_SUBTRACT`, ... (3.10); `BINARY_OP 0` ... (3.11+)",
        "`BINARY_OP +`, `BINARY_OP -`, ... (`+ & // << @ * % \\| ** >> - / ^`)",
        takes=frozenset(f"BINARY_{name}" for name in _LEGACY_BINARY),
        hides={f"BINARY_{name}": f"BINARY_OP {symbol}" for name, symbol in _LEGACY_BINARY.items()},
        until=(3, 10),
        apply=_legacy_binary,
    ),
    Rule(
        "inplace-op",
        "`INPLACE_ADD`, ... (3.10); `BINARY_OP 13`, ... (3.11+)",
        "`BINARY_OP +=`, ...",
        takes=frozenset(f"INPLACE_{name}" for name in _LEGACY_BINARY),
        hides={
            f"INPLACE_{name}": f"BINARY_OP {symbol}=" for name, symbol in _LEGACY_BINARY.items()
        },
        until=(3, 10),
        apply=_legacy_binary,
    ),
    Rule(
        "subscript",
        "`BINARY_SUBSCR` (3.10-3.13); `BINARY_OP 26` (3.14+)",
        "`BINARY_OP []`",
        takes=frozenset({"BINARY_SUBSCR"}),
        hides={"BINARY_SUBSCR": "BINARY_OP []"},
        until=(3, 13),
        apply=_binary_subscr,
    ),
    Rule(
        "slice",
        (
            "`BUILD_SLICE 2` + `BINARY_SUBSCR` / `STORE_SUBSCR` (3.10-3.11); `BINARY_SLICE` / "
            "`STORE_SLICE` (3.12+)"
        ),
        "`BINARY_SLICE` / `STORE_SLICE`",
        takes=frozenset({"BUILD_SLICE"}),
        until=(3, 11),
        apply=_build_slice,
    ),
    Rule(
        "constant-slice",
        "`LOAD_CONST slice(1, 2, None)` + `BINARY_OP []`, a folded constant slice (3.14+)",
        (
            "`LOAD_CONST 1`, `LOAD_CONST 2`, `BINARY_SLICE` (with a step: three LOAD_CONSTs, "
            "`BUILD_SLICE 3`, `BINARY_OP []`)"
        ),
        takes=frozenset({"LOAD_CONST"}),
        since=(3, 14),
        apply=_constant_slice,
    ),
    Rule(
        "call",
        "`CALL_FUNCTION n`, `CALL_METHOD n` (3.10); `PRECALL n` + `CALL n` (3.11); `CALL n`",
        "`CALL n`",
        takes=frozenset({"CALL_FUNCTION", "CALL_METHOD", "CALL"}),
        hides={"CALL_FUNCTION": "CALL n", "CALL_METHOD": "CALL n"},
        apply=_call,
    ),
    Rule(
        "keyword-call",
        (
            "`LOAD_CONST ('k',)` + `CALL_FUNCTION_KW n` (3.10); `KW_NAMES` + `[PRECALL] CALL n` "
            "(3.11-3.12); `LOAD_CONST ('k',)` + `CALL_KW n` (3.13+)"
        ),
        "`LOAD_CONST ('k',)`, `CALL_KW n`",
        takes=frozenset({"CALL_FUNCTION_KW", "KW_NAMES"}),
        hides=dict.fromkeys(["CALL_FUNCTION_KW", "KW_NAMES"], "LOAD_CONST names + CALL_KW n"),
        until=(3, 12),
        apply=_keyword_call,
    ),
    Rule(
        "call-ex",
        "`CALL_FUNCTION_EX 0/1` (3.10-3.13); `CALL_FUNCTION_EX` (3.14+)",
        "`CALL_FUNCTION_EX`",
        takes=frozenset({"CALL_FUNCTION_EX"}),
        apply=_no_argument,
    ),
    Rule(
        "method",
        (
            "`LOAD_METHOD m` (3.10-3.11); `LOAD_ATTR` shown as `NULL\\|self + m` (3.12) or `m + "
            "NULL\\|self` (3.13+)"
        ),
        "`LOAD_ATTR m`",
        takes=frozenset({"LOAD_METHOD", "LOAD_ATTR"}),
        hides={"LOAD_METHOD": "LOAD_ATTR"},
        apply=_bare_name,
    ),
    Rule(
        "bare-name",
        (
            "`LOAD_GLOBAL` shown as `NULL + len` / `len + NULL`; `IMPORT_NAME` shown as `os + "
            "eager` (3.15); LOAD_SUPER_ATTR likewise"
        ),
        "the bare name: `LOAD_GLOBAL len`, `IMPORT_NAME os`",
        takes=frozenset({"LOAD_GLOBAL", "LOAD_SUPER_ATTR", "IMPORT_NAME"}),
        apply=_bare_name,
    ),
    Rule(
        "return-const",
        "`RETURN_CONST c` (3.12-3.13)",
        "`LOAD_CONST c`, `RETURN_VALUE`",
        takes=frozenset({"RETURN_CONST"}),
        hides={"RETURN_CONST": "LOAD_CONST c + RETURN_VALUE"},
        since=(3, 12),
        until=(3, 13),
        apply=_return_const,
    ),
    Rule(
        "constants",
        "`LOAD_SMALL_INT n` (3.14+); `LOAD_COMMON_CONSTANT None/True/False/''/-1` (3.15)",
        "`LOAD_CONST n`, `LOAD_CONST None`, ...",
        takes=frozenset({"LOAD_SMALL_INT", "LOAD_COMMON_CONSTANT"}),
        hides={"LOAD_SMALL_INT": "LOAD_CONST n"},
        since=(3, 14),
        apply=_constant,
    ),
    Rule(
        "assertion-error",
        "`LOAD_ASSERTION_ERROR` (3.10-3.13)",
        "`LOAD_COMMON_CONSTANT AssertionError`",
        takes=frozenset({"LOAD_ASSERTION_ERROR"}),
        hides={"LOAD_ASSERTION_ERROR": "LOAD_COMMON_CONSTANT AssertionError"},
        until=(3, 13),
        apply=_assertion_error,
    ),
    Rule(
        "super-instructions",
        (
            "`LOAD_FAST_LOAD_FAST a, b` (3.13+), `LOAD_FAST_BORROW_LOAD_FAST_BORROW a, b` "
            "(3.14+), `STORE_FAST_LOAD_FAST`, `STORE_FAST_STORE_FAST` (3.13+)"
        ),
        "the two parts: `LOAD_FAST a`, `LOAD_FAST b`, ...",
        takes=frozenset(_SPLIT),
        hides={name: " + ".join(parts) for name, parts in _SPLIT.items()},
        since=(3, 13),
        apply=_split,
    ),
    Rule(
        "load-fast-variants",
        "`LOAD_FAST_BORROW` (3.14+), `LOAD_FAST_CHECK` (3.12+)",
        "`LOAD_FAST`",
        takes=frozenset({"LOAD_FAST_BORROW", "LOAD_FAST_CHECK"}),
        hides=dict.fromkeys(["LOAD_FAST_BORROW", "LOAD_FAST_CHECK"], "LOAD_FAST"),
        since=(3, 12),
        apply=_load_fast_variant,
    ),
    Rule(
        "closure-load",
        (
            "`LOAD_CLOSURE x` (3.10-3.12); `LOAD_FAST x` / `LOAD_FAST_BORROW x` of a cell or free"
            " variable (3.13+)"
        ),
        "`LOAD_CLOSURE x`",
        takes=frozenset({"LOAD_FAST"}),
        since=(3, 13),
        apply=_closure_load,
    ),
    Rule(
        "function-attributes",
        (
            "`MAKE_FUNCTION flags` (3.10-3.12; 3.10 also pops a qualname `LOAD_CONST`); "
            "`MAKE_FUNCTION` + `SET_FUNCTION_ATTRIBUTE` (3.13+)"
        ),
        (
            "`MAKE_FUNCTION`, then one `SET_FUNCTION_ATTRIBUTE closure` / `annotations` / "
            "`kwdefaults` / `defaults` per flag, highest first"
        ),
        takes=frozenset({"MAKE_FUNCTION", "SET_FUNCTION_ATTRIBUTE"}),
        apply=_make_function,
    ),
    Rule(
        "stack-shuffles",
        "`DUP_TOP`, `DUP_TOP_TWO`, `ROT_TWO`, `ROT_THREE`, `ROT_FOUR` (3.10)",
        "`COPY 1`; `COPY 2`, `COPY 2`; `SWAP 2`; `SWAP 3`, `SWAP 2`; `SWAP 4`, `SWAP 3`, `SWAP 2`",
        takes=frozenset(_STACK_SHUFFLES),
        hides={
            name: ", ".join(f"{op} {n}" for op, n in shuffle)
            for name, shuffle in _STACK_SHUFFLES.items()
        },
        until=(3, 10),
        apply=_stack_shuffle,
    ),
    Rule(
        "swapped-stores",
        "`SWAP 2` + `STORE_FAST a` + `STORE_FAST b` (`a, b = b, a` on 3.10)",
        "`STORE_FAST b`, `STORE_FAST a` (what 3.11+ compile)",
        rewrite=_swap_stores,
    ),
    Rule(
        "jump-or-pop",
        "`JUMP_IF_FALSE_OR_POP L` / `JUMP_IF_TRUE_OR_POP L` (3.10-3.11)",
        "`COPY 1`, `POP_JUMP_IF_FALSE L` / `POP_JUMP_IF_TRUE L`, `POP_TOP`",
        takes=frozenset({"JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP"}),
        hides={
            name: f"COPY 1, POP_JUMP_IF_{name.split('_')[2]}, POP_TOP"
            for name in ("JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP")
        },
        until=(3, 11),
        apply=_jump_or_pop,
    ),
    Rule(
        "jump-direction",
        "`POP_JUMP_FORWARD_IF_*`, `POP_JUMP_BACKWARD_IF_*` (3.11)",
        "`POP_JUMP_IF_*`",
        takes=frozenset(_POP_JUMP_DIRECTIONS),
        hides=_POP_JUMP_DIRECTIONS,
        since=(3, 11),
        until=(3, 11),
        apply=_pop_jump_direction,
    ),
    Rule(
        "jump-absolute",
        "`JUMP_ABSOLUTE` (3.10)",
        "`JUMP_BACKWARD` or `JUMP_FORWARD` by direction",
        takes=frozenset({"JUMP_ABSOLUTE"}),
        hides={"JUMP_ABSOLUTE": "JUMP_FORWARD or JUMP_BACKWARD"},
        until=(3, 10),
        apply=_jump_absolute,
    ),
    Rule(
        "none-jumps",
        "`LOAD_CONST None`, `IS_OP`, `POP_JUMP_IF_FALSE/TRUE` (3.10)",
        "`POP_JUMP_IF_NOT_NONE` / `POP_JUMP_IF_NONE`",
        rewrite=_none_jumps,
    ),
    Rule(
        "exit-block-copies",
        "`JUMP_FORWARD` to a block of at most 4 instructions that returns or raises (3.11)",
        "a copy of that block (as 3.10 and 3.12+ compile it)",
        rewrite=_copy_exit_blocks,
    ),
    Rule(
        "compare",
        "`COMPARE_OP` shown as `bool(<)` (3.13+)",
        "`COMPARE_OP <`",
        takes=frozenset({"COMPARE_OP"}),
        apply=_bare_name,
    ),
    Rule(
        "test-words",
        "`IS_OP 0/1`, `CONTAINS_OP 0/1` (3.10-3.13)",
        "`IS_OP is` / `IS_OP is not`, `CONTAINS_OP in` / `CONTAINS_OP not in`",
        takes=frozenset({"IS_OP", "CONTAINS_OP"}),
        apply=_test_words,
    ),
    Rule(
        "format-value",
        "`FORMAT_VALUE flags` (3.10-3.12)",
        (
            "`CONVERT_VALUE str/repr/ascii` (before a constant format spec), then `FORMAT_SIMPLE`"
            " or `FORMAT_WITH_SPEC`"
        ),
        takes=frozenset({"FORMAT_VALUE", "CONVERT_VALUE"}),
        hides={"FORMAT_VALUE": "CONVERT_VALUE, FORMAT_SIMPLE or FORMAT_WITH_SPEC"},
        apply=_format_value,
    ),
    Rule(
        "intrinsics",
        "`UNARY_POSITIVE`, `LIST_TO_TUPLE` (3.10-3.11)",
        "`CALL_INTRINSIC_1 INTRINSIC_UNARY_POSITIVE`, `CALL_INTRINSIC_1 INTRINSIC_LIST_TO_TUPLE`",
        takes=frozenset({"UNARY_POSITIVE", "LIST_TO_TUPLE"}),
        hides={
            name: f"CALL_INTRINSIC_1 INTRINSIC_{name}"
            for name in ("UNARY_POSITIVE", "LIST_TO_TUPLE")
        },
        until=(3, 11),
        apply=_intrinsic,
    ),
    Rule(
        "const-key-map",
        "`LOAD_CONST ('k', 'l')` + `BUILD_CONST_KEY_MAP n` with one-instruction values (3.10-3.13)",
        "`LOAD_CONST 'k'`, value, `LOAD_CONST 'l'`, value, `BUILD_MAP n` (as 3.14+)",
        takes=frozenset({"BUILD_CONST_KEY_MAP"}),
        until=(3, 13),
        apply=_const_key_map,
    ),
    Rule(
        "bookkeeping-arguments",
        "`YIELD_VALUE n` (3.12+), `GET_ITER n` (3.15)",
        "`YIELD_VALUE`, `GET_ITER`",
        takes=frozenset({"YIELD_VALUE", "GET_ITER"}),
        apply=_no_argument,
    ),
    Rule(
        "reading",
        "jump arguments; code-object and frozenset constants (all levels)",
        'labels `L1`, `L2`... with `"L1:"` entries; `<code g>`; sorted frozensets',
    ),
)


def _check(rules: tuple[Rule, ...]) -> None:
    """Refuse a malformed registry at import (a typo must not pass silently)."""
    names: set[str] = set()
    for rule in rules:
        if rule.name in names:
            raise ValueError(f"two portable rules are named {rule.name!r}")
        names.add(rule.name)
        if bool(rule.takes) != (rule.apply is not None) or (rule.takes and rule.rewrite):
            raise ValueError(f"portable rule {rule.name!r}: an apply needs takes, and only it")
        if not rule.hides.keys() <= rule.takes:
            raise ValueError(f"portable rule {rule.name!r} hides opnames it does not take")
        unknown = (rule.takes | rule.hides.keys()) - versions.KNOWN_OPNAMES
        if unknown:
            raise ValueError(f"portable rule {rule.name!r} names unknown opnames {sorted(unknown)}")


def _suggestions(rules: tuple[Rule, ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for rule in rules:
        for name, instead in rule.hides.items():
            if name in table:
                raise ValueError(f"portable rule {rule.name!r}: {name} is hidden twice")
            table[name] = instead
    return table


_check(RULES)

#: Opnames the portable level never shows, with what it shows instead.
NOT_PORTABLE: dict[str, str] = _suggestions(RULES)

#: Every opname a portable listing can show.
PORTABLE_OPNAMES: frozenset[str] = versions.KNOWN_OPNAMES - frozenset(NOT_PORTABLE)


def portable_opnames(opname: str) -> tuple[str, ...]:
    """What one instruction reads as in the portable vocabulary, by name
    only (``CALL_FUNCTION`` -> ``CALL``, ``RETURN_CONST`` -> ``LOAD_CONST``
    and ``RETURN_VALUE``, bookkeeping -> nothing), for reports that list
    single instructions rather than listings (``term-missing -v``)."""
    hint = NOT_PORTABLE.get(opname)
    if hint is None:
        return (opname,)
    if hint.startswith("("):
        return ()
    return tuple(part.split()[0].rstrip(",") for part in hint.split(" + "))


#: The rules for the running interpreter: instruction rules by the opnames they
#: take, then the listing rules in order.
_BY_OPNAME: dict[str, tuple[Rule, ...]] = {}
for _rule in RULES:
    if _rule.active:
        for _name in _rule.takes:
            _BY_OPNAME[_name] = (*_BY_OPNAME.get(_name, ()), _rule)
_LISTING_RULES = tuple(rule.rewrite for rule in RULES if rule.active and rule.rewrite is not None)
del _rule, _name


def rewrite(code: types.CodeType, ins: list[Ins]) -> list[Ins]:
    """Rewrite one code object's instructions into the portable vocabulary."""
    reader = Reader(code, ins)
    while reader.next < len(ins):
        i = ins[reader.next]
        reader.next += 1
        for rule in _BY_OPNAME.get(i.opname, ()):
            if rule.apply is not None and rule.apply(reader, i):
                break
        else:
            reader.out.append(i)
    out = reader.out
    for listing_rule in _LISTING_RULES:
        out = listing_rule(out)
    return out


def markdown_table(rules: tuple[Rule, ...] = RULES) -> str:
    """README's table of the portable level (Markdown), one row per rule."""
    lines = ["| what the interpreter emits | reads as (portable) |", "| --- | --- |"]
    lines += [f"| {rule.emits} | {rule.reads_as} |" for rule in rules]
    return "\n".join(lines) + "\n"
