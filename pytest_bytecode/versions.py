"""Every difference between CPython versions that pytest-bytecode relies on.

This is the only module that looks at ``sys.version_info``.  Everything else
asks one of the named facts below, so that a reader can see in one place what
changes from one minor version to the next and why.  Each fact says since when
it holds and what depends on it.

Supported: CPython 3.10 to 3.15.
"""

from __future__ import annotations

import dis
import opcode
import sys

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import Any, Final

#: The running interpreter's (major, minor) version.
PY: Final[tuple[int, int]] = (sys.version_info[0], sys.version_info[1])

#: "3.12" style tag for the running interpreter, used in data files, baselines
#: and snapshot names: bytecode differs between minor versions, so data from
#: one minor version never describes code compiled by another.
PY_TAG: Final[str] = f"{PY[0]}.{PY[1]}"

#: Full "3.12.1" style version string for report metadata.
PY_VERSION: Final[str] = ".".join(str(p) for p in sys.version_info[:3])

#: Supported minor versions, oldest first.
SUPPORTED: Final[tuple[tuple[int, int], ...]] = (
    (3, 10),
    (3, 11),
    (3, 12),
    (3, 13),
    (3, 14),
    (3, 15),
)

#: True when running under Pyodide (CPython compiled to WebAssembly): no
#: subprocesses, no threads, no pytest-xdist.
IS_PYODIDE: Final[bool] = sys.platform == "emscripten"

# --- Code object layout -------------------------------------------------------

#: 3.11: "zero-cost" exceptions; handlers live in ``co_exceptiontable``
#: instead of SETUP_FINALLY/POP_BLOCK block-stack instructions.
HAS_EXCEPTION_TABLE: Final[bool] = PY >= (3, 11)

#: 3.11 (PEP 657): ``co_positions()`` gives end lines and columns; the
#: location table replaced 3.10's line table.
HAS_COLUMN_POSITIONS: Final[bool] = PY >= (3, 11)

#: 3.11: RESUME marks where a frame starts or resumes executing.
HAS_RESUME: Final[bool] = PY >= (3, 11)

#: 3.11: ``co_qualname`` exists on code objects.
HAS_CO_QUALNAME: Final[bool] = PY >= (3, 11)

#: 3.12 (PEP 669): ``sys.monitoring``; legacy tracing is built on it.
HAS_SYS_MONITORING: Final[bool] = PY >= (3, 12)

#: 3.10 jump arguments count code units from the start (absolute jumps) or
#: from the next instruction (relative); from 3.11 every jump is relative and
#: counted from the end of the instruction's inline caches.
HAS_ABSOLUTE_JUMPS: Final[bool] = PY < (3, 11)

#: Size in bytes of one code unit (opcode + oparg); constant since 3.6.
CODE_UNIT: Final[int] = 2

#: Opcode number of EXTENDED_ARG (changed in 3.13's renumbering).
EXTENDED_ARG: Final[int] = opcode.EXTENDED_ARG

#: Opcode number of CACHE (exists from 3.11; 0 in 3.11-3.15).
CACHE: Final[int] = opcode.opmap.get("CACHE", -1)

#: Name -> number for the running interpreter (public opcodes only).
OPMAP: Final[dict[str, int]] = dict(opcode.opmap)

#: Number -> name for the running interpreter.
OPNAME: Final[list[str]] = list(opcode.opname)


def _stdlib_table(module: object, name: str, since: tuple[int, int]) -> Any:
    """``module.name``, a table of the standard library that ``dis`` reads too.

    None before ``since`` (the version that added it).  From ``since`` on a
    missing table is an error at import, never an empty table: a future Python
    that moves it must be looked at, not read as "no entries".
    """
    table = getattr(module, name, None)
    if table is None and since <= PY:
        raise ImportError(
            f"pytest-bytecode: {getattr(module, '__name__', module)}.{name} is missing on "
            f"CPython {PY_TAG} (it exists since {since[0]}.{since[1]}); pytest-bytecode "
            "reads bytecode with it and does not support this Python yet"
        )
    return table


def _all_opnames() -> dict[str, int]:
    names = dict(opcode.opmap)
    specialised = _stdlib_table(opcode, "_specialized_opmap", since=(3, 13))
    if specialised is not None:
        names.update(specialised)
    return names


#: Every opname the running interpreter knows, specialised forms included
#: where ``opcode._specialized_opmap`` (3.13+) lists them.
ALL_OPNAMES: Final[frozenset[str]] = frozenset(_all_opnames())


def _cache_table() -> dict[str, int]:
    """Map opname -> number of inline CACHE code units after it.

    3.11 and 3.12 keep a list indexed by opcode; 3.13 turned it into a dict
    keyed by name, and 3.15 into a ``frozendict`` (not a dict subclass, so
    test for a mapping by its ``items``).  Before 3.11 there are no caches.
    """
    raw = _stdlib_table(opcode, "_inline_cache_entries", since=(3, 11))
    if raw is None:
        return {}
    if hasattr(raw, "items"):
        return {str(k): int(v) for k, v in raw.items() if v}
    return {opcode.opname[i]: int(n) for i, n in enumerate(raw) if n}


_CACHES: Final[dict[str, int]] = _cache_table()


def cache_entries(opname: str) -> int:
    """Number of inline CACHE code units that follow ``opname``."""
    return _CACHES.get(opname, 0)


#: The same, indexed by opcode number (for the assembler's inner loop).
CACHES_BY_OPCODE: Final[list[int]] = [_CACHES.get(name, 0) for name in opcode.opname]


#: 3.13+: one instruction for two local-variable operations, each argument
#: in four bits of its own (``arg >> 4`` for the first, ``arg & 15`` for the
#: second).  The compiler joins two only when both are on one line, so
#: breaking a statement over lines can undo it (an empty table before 3.13).
SUPERINSTRUCTIONS: Final[dict[str, tuple[str, str]]] = {
    "LOAD_FAST_LOAD_FAST": ("LOAD_FAST", "LOAD_FAST"),
    "LOAD_FAST_BORROW_LOAD_FAST_BORROW": ("LOAD_FAST", "LOAD_FAST"),
    "STORE_FAST_LOAD_FAST": ("STORE_FAST", "LOAD_FAST"),
    "STORE_FAST_STORE_FAST": ("STORE_FAST", "STORE_FAST"),
}

#: 3.14+: instructions that do what another does, chosen by an optimisation
#: (``LOAD_FAST_BORROW`` skips a reference count the compiler proves safe to
#: skip; the superinstruction it joins into is read back as ``LOAD_FAST``s).
SAME_EFFECT: Final[dict[str, str]] = {"LOAD_FAST_BORROW": "LOAD_FAST"}

#: Opcodes whose argument is a jump (relative or absolute).
JUMP_OPCODES: Final[frozenset[int]] = frozenset(opcode.hasjrel) | frozenset(opcode.hasjabs)

#: Opnames of instructions that end a basic block because control never
#: falls through to the next instruction.
NO_FALLTHROUGH_OPNAMES: Final[frozenset[str]] = frozenset(
    {
        "RETURN_VALUE",
        "RETURN_CONST",  # 3.12-3.13
        "RAISE_VARARGS",
        "RERAISE",
        "JUMP_FORWARD",
        "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT",
        "JUMP_ABSOLUTE",  # 3.10
        "JUMP",  # pseudo-op, never in real code but harmless
        "JUMP_NO_INTERRUPT",
    }
)

#: Instructions that are prefixes of the next instruction rather than units
#: of their own: never counted, never reported as separate instructions.
PREFIX_OPNAMES: Final[frozenset[str]] = frozenset({"EXTENDED_ARG", "CACHE"})


def instructions(code: object) -> list[dis.Instruction]:
    """``dis.get_instructions`` without CACHE entries, on every version.

    3.11-3.12 only hide caches when ``show_caches`` is false (the default);
    3.13 removed the argument and never yields them.
    """
    return [i for i in dis.get_instructions(code) if i.opname != "CACHE"]  # type: ignore[arg-type]


# --- Engine: decoding and re-encoding jumps -------------------------------------

_is_backward_jump = _stdlib_table(dis, "_is_backward_jump", since=(3, 11))

#: Relative jumps that count backwards.  3.11 had POP_JUMP_BACKWARD_IF_*; from
#: 3.12 only JUMP_BACKWARD(_NO_INTERRUPT) (and, in 3.14, END_ASYNC_FOR) do.
#: ``dis._is_backward_jump`` knows the running version's set.
BACKWARD_RELATIVE: Final[frozenset[int]] = frozenset(
    op for op in opcode.hasjrel if _is_backward_jump is not None and _is_backward_jump(op)
)

#: 3.10 only: jumps whose argument is an absolute code-unit index.
ABSOLUTE_JUMPS: Final[frozenset[int]] = frozenset(opcode.hasjabs)


#: How every jump's argument relates to where it goes, in code units, for
#: the decoders and the assembler (they work it out for thousands of jumps
#: per module, without a call each): a relative jump goes to ``end + sign *
#: arg`` (sign 1 forward, -1 backward; ``end`` is the unit after the jump's
#: caches, which on 3.10 is the unit after the jump), so its argument is
#: ``sign * (target - end)``; where the sign is 0 (3.10's absolute jumps)
#: argument and target are the same unit.
JUMP_ARG_SIGN: Final[dict[int, int]] = {
    op: 0 if HAS_ABSOLUTE_JUMPS and op in ABSOLUTE_JUMPS else -1 if op in BACKWARD_RELATIVE else 1
    for op in JUMP_OPCODES
}

#: The jump the engine adds of its own (it only ever jumps forward).
JUMP_FORWARD_OPNAME: Final[str] = "JUMP_FORWARD"

#: Conditional jumps: both outcomes are reported as a branch.  FOR_ITER and
#: SEND branch too (next item / exhausted; yielded / returned).
CONDITIONAL_JUMP_OPNAMES: Final[frozenset[str]] = frozenset(
    name
    for name in OPMAP
    if OPMAP[name] in JUMP_OPCODES
    and (name.startswith(("POP_JUMP", "JUMP_IF_")) or name in {"FOR_ITER", "SEND"})
)

#: How many instructions at FOR_ITER's target the interpreter steps over when
#: the iterator is exhausted.  3.12: the END_FOR; 3.13: END_FOR and the POP_TOP
#: after it (FOR_ITER pops the iterator itself); 3.14+: the END_FOR again (the
#: POP_ITER after it pops the iterator).  Specialised FOR_ITER_GEN
#: returns *to* the target instead, so these instructions stay in place and
#: anything the engine adds goes after them.
FOR_ITER_EXIT_SKIP: Final[int] = 0 if PY < (3, 12) else 2 if PY == (3, 13) else 1

#: 3.14: a conditional jump's fall-through path starts with NOT_TAKEN, which
#: sys.monitoring uses for BRANCH_LEFT events; it stays glued to the jump.
HAS_NOT_TAKEN: Final[bool] = "NOT_TAKEN" in OPMAP

#: Instructions that must stay at the very start of a code object, before
#: anything the engine inserts (the first RESUME, 3.11+, stays there too):
#: cell and free-variable set-up (3.11+), GEN_START (3.10 only).
#: RETURN_GENERATOR is not among them: it ends the first block, since a
#: generator may be created and never started.
PREFIX_START_OPNAMES: Final[frozenset[str]] = frozenset(
    {"MAKE_CELL", "COPY_FREE_VARS", "GEN_START"}
)

#: Opname of the instruction a generator resumes at after a yield (3.11+):
#: it stays glued right after YIELD_VALUE, since the interpreter inspects it
#: to find the delegated iterator and the exception depth.
RESUME_OPNAME: Final[str | None] = "RESUME" if HAS_RESUME else None

#: BINARY_OP's operators by name (``opcode._nb_ops``, 3.11+), empty on 3.10.
_NB_OPS: Final[list[str]] = [
    str(name) for name, _ in _stdlib_table(opcode, "_nb_ops", since=(3, 11)) or ()
]


def _subscr_instr() -> tuple[str, int]:
    if "BINARY_SUBSCR" in OPMAP:
        return ("BINARY_SUBSCR", 0)
    if "NB_SUBSCR" not in _NB_OPS:
        raise ImportError(
            f"pytest-bytecode: CPython {PY_TAG} has neither BINARY_SUBSCR nor NB_SUBSCR in "
            "opcode._nb_ops; pytest-bytecode's stubs subscript with them and do not support "
            "this Python yet"
        )
    return ("BINARY_OP", _NB_OPS.index("NB_SUBSCR"))


#: 3.14 folded BINARY_SUBSCR into BINARY_OP with the NB_SUBSCR argument.
SUBSCR_INSTR: Final[tuple[str, int]] = _subscr_instr()

#: ``a + b`` on ints: BINARY_ADD before 3.11, BINARY_OP 0 (NB_ADD) after.
ADD_INSTR: Final[tuple[str, int]] = ("BINARY_ADD", 0) if PY < (3, 11) else ("BINARY_OP", 0)


#: 3.11+: exception-table entries with the ``lasti`` flag push the offset (in
#: code units) of the instruction that raised, below the exception.
HANDLER_GETS_LASTI: Final[bool] = HAS_EXCEPTION_TABLE

#: The stack items of the f_lineno setter's model (``mark_stacks``, 3.11+)
#: that a ``SWAP`` keeps: it returns the model through a 32-bit enum, three
#: bits an item, so a model deeper than ten items loses its bottom ones.
SETTER_SWAP_ITEMS: Final[int] = 10

#: 3.11: how many stack items above the handler's level the stub's own
#: swaps reach (lasti, the exception, the raise holder and its dict); 0 where
#: the stub swaps only to drop lasti, two up (3.12-3.13), or nowhere.
STUB_INNER_SWAP_REACH: Final[int] = 4 if PY == (3, 11) else 0


# --- Assertions: portable opcode vocabulary ---------------------------------
# Facts used by ``pytest_bytecode.normalize`` to read every supported version's
# bytecode in one vocabulary, and by ``pytest_bytecode.assertions`` to reject
# opnames that no supported Python knows.

#: Every public opname of CPython 3.10 to 3.15 (the union of ``opcode.opmap``
#: on each, pseudo-ops included), read from 3.10.13, 3.11.7, 3.12.1, 3.13.0,
#: 3.14.2 and 3.15.0rc1.  A bytecode assertion naming an opname outside this
#: set is a typo, never a silent pass.  Extend it when a new version is added.
_KNOWN_OPNAMES_TEXT = """
    ANNOTATIONS_PLACEHOLDER ASYNC_GEN_WRAP BEFORE_ASYNC_WITH BEFORE_WITH BINARY_ADD
    BINARY_AND BINARY_FLOOR_DIVIDE BINARY_LSHIFT BINARY_MATRIX_MULTIPLY BINARY_MODULO
    BINARY_MULTIPLY BINARY_OP BINARY_OR BINARY_POWER BINARY_RSHIFT BINARY_SLICE
    BINARY_SUBSCR BINARY_SUBTRACT BINARY_TRUE_DIVIDE BINARY_XOR BUILD_CONST_KEY_MAP
    BUILD_INTERPOLATION BUILD_LIST BUILD_MAP BUILD_SET BUILD_SLICE BUILD_STRING
    BUILD_TEMPLATE BUILD_TUPLE CACHE CALL CALL_FUNCTION CALL_FUNCTION_EX CALL_FUNCTION_KW
    CALL_INTRINSIC_1 CALL_INTRINSIC_2 CALL_KW CALL_METHOD CHECK_EG_MATCH CHECK_EXC_MATCH
    CLEANUP_THROW COMPARE_OP CONTAINS_OP CONVERT_VALUE COPY COPY_DICT_WITHOUT_KEYS
    COPY_FREE_VARS DELETE_ATTR DELETE_DEREF DELETE_FAST DELETE_GLOBAL DELETE_NAME
    DELETE_SUBSCR DICT_MERGE DICT_UPDATE DUP_TOP DUP_TOP_TWO END_ASYNC_FOR END_FOR END_SEND
    ENTER_EXECUTOR EXIT_INIT_CHECK EXTENDED_ARG FORMAT_SIMPLE FORMAT_VALUE FORMAT_WITH_SPEC
    FOR_ITER GEN_START GET_AITER GET_ANEXT GET_AWAITABLE GET_ITER GET_LEN
    GET_YIELD_FROM_ITER IMPORT_FROM IMPORT_NAME IMPORT_STAR INPLACE_ADD INPLACE_AND
    INPLACE_FLOOR_DIVIDE INPLACE_LSHIFT INPLACE_MATRIX_MULTIPLY INPLACE_MODULO
    INPLACE_MULTIPLY INPLACE_OR INPLACE_POWER INPLACE_RSHIFT INPLACE_SUBTRACT
    INPLACE_TRUE_DIVIDE INPLACE_XOR INSTRUMENTED_CALL INSTRUMENTED_CALL_FUNCTION_EX
    INSTRUMENTED_CALL_KW INSTRUMENTED_END_ASYNC_FOR INSTRUMENTED_END_FOR
    INSTRUMENTED_END_SEND INSTRUMENTED_FOR_ITER INSTRUMENTED_INSTRUCTION
    INSTRUMENTED_JUMP_BACKWARD INSTRUMENTED_JUMP_FORWARD INSTRUMENTED_LINE
    INSTRUMENTED_LOAD_SUPER_ATTR INSTRUMENTED_NOT_TAKEN INSTRUMENTED_POP_ITER
    INSTRUMENTED_POP_JUMP_IF_FALSE INSTRUMENTED_POP_JUMP_IF_NONE
    INSTRUMENTED_POP_JUMP_IF_NOT_NONE INSTRUMENTED_POP_JUMP_IF_TRUE INSTRUMENTED_RESUME
    INSTRUMENTED_RETURN_CONST INSTRUMENTED_RETURN_VALUE INSTRUMENTED_YIELD_VALUE
    INTERPRETER_EXIT IS_OP JUMP JUMP_ABSOLUTE JUMP_BACKWARD JUMP_BACKWARD_NO_INTERRUPT
    JUMP_FORWARD JUMP_IF_FALSE JUMP_IF_FALSE_OR_POP JUMP_IF_NOT_EXC_MATCH JUMP_IF_TRUE
    JUMP_IF_TRUE_OR_POP JUMP_NO_INTERRUPT KW_NAMES LIST_APPEND LIST_EXTEND LIST_TO_TUPLE
    LOAD_ASSERTION_ERROR LOAD_ATTR LOAD_BUILD_CLASS LOAD_CLASSDEREF LOAD_CLOSURE
    LOAD_COMMON_CONSTANT LOAD_CONST LOAD_DEREF LOAD_FAST LOAD_FAST_AND_CLEAR
    LOAD_FAST_BORROW LOAD_FAST_BORROW_LOAD_FAST_BORROW LOAD_FAST_CHECK LOAD_FAST_LOAD_FAST
    LOAD_FROM_DICT_OR_DEREF LOAD_FROM_DICT_OR_GLOBALS LOAD_GLOBAL LOAD_LOCALS LOAD_METHOD
    LOAD_NAME LOAD_SMALL_INT LOAD_SPECIAL LOAD_SUPER_ATTR LOAD_SUPER_METHOD
    LOAD_ZERO_SUPER_ATTR LOAD_ZERO_SUPER_METHOD MAKE_CELL MAKE_FUNCTION MAP_ADD MATCH_CLASS
    MATCH_KEYS MATCH_MAPPING MATCH_SEQUENCE NOP NOT_TAKEN POP_BLOCK POP_EXCEPT POP_ITER
    POP_JUMP_BACKWARD_IF_FALSE POP_JUMP_BACKWARD_IF_NONE POP_JUMP_BACKWARD_IF_NOT_NONE
    POP_JUMP_BACKWARD_IF_TRUE POP_JUMP_FORWARD_IF_FALSE POP_JUMP_FORWARD_IF_NONE
    POP_JUMP_FORWARD_IF_NOT_NONE POP_JUMP_FORWARD_IF_TRUE POP_JUMP_IF_FALSE POP_JUMP_IF_NONE
    POP_JUMP_IF_NOT_NONE POP_JUMP_IF_TRUE POP_TOP PRECALL PREP_RERAISE_STAR PRINT_EXPR
    PUSH_EXC_INFO PUSH_NULL RAISE_VARARGS RERAISE RESERVED RESUME RETURN_CONST
    RETURN_GENERATOR RETURN_VALUE ROT_FOUR ROT_N ROT_THREE ROT_TWO SEND SETUP_ANNOTATIONS
    SETUP_ASYNC_WITH SETUP_CLEANUP SETUP_FINALLY SETUP_WITH SET_ADD SET_FUNCTION_ATTRIBUTE
    SET_UPDATE STORE_ATTR STORE_DEREF STORE_FAST STORE_FAST_LOAD_FAST STORE_FAST_MAYBE_NULL
    STORE_FAST_STORE_FAST STORE_GLOBAL STORE_NAME STORE_SLICE STORE_SUBSCR SWAP TO_BOOL
    TRACE_RECORD UNARY_INVERT UNARY_NEGATIVE UNARY_NOT UNARY_POSITIVE UNPACK_EX
    UNPACK_SEQUENCE WITH_EXCEPT_START YIELD_FROM YIELD_VALUE
"""
KNOWN_OPNAMES: Final[frozenset[str]] = frozenset(_KNOWN_OPNAMES_TEXT.split())


#: BINARY_OP's operators by argument number (NB_*), as the portable level
#: shows them on every version: 0-12 the binary operators (``+`` ... ``^``),
#: 13-25 their in-place forms (``+=`` ...), 26 ``[]`` (NB_SUBSCR, 3.14+:
#: BINARY_SUBSCR before).  Read from ``opcode._nb_ops`` (3.11+, the table
#: ``dis`` shows BINARY_OP with; its numbers have not changed since, 3.14
#: only appended NB_SUBSCR).  3.10 has no BINARY_OP: there the 3.11 table is
#: written out here, for the legacy BINARY_*/INPLACE_* opnames to read as.
_NB_OPS_3_11: Final[tuple[str, ...]] = (
    *("+", "&", "//", "<<", "@", "*", "%", "|", "**", ">>", "-", "/", "^"),
    *("+=", "&=", "//=", "<<=", "@=", "*=", "%=", "|=", "**=", ">>=", "-=", "/=", "^="),
)
_nb_ops_table = _stdlib_table(opcode, "_nb_ops", since=(3, 11))
_nb_symbols = (
    tuple(str(symbol) for _, symbol in _nb_ops_table) if _nb_ops_table is not None else _NB_OPS_3_11
)
BINARY_OP_SYMBOLS: Final[tuple[str, ...]] = (
    _nb_symbols if "[]" in _nb_symbols else (*_nb_symbols, "[]")
)

#: BINARY_OP's argument for a subscript ``a[i]`` (NB_SUBSCR): 26 on 3.14+,
#: and the number the portable level gives 3.10-3.13's BINARY_SUBSCR.
NB_SUBSCR: Final[int] = BINARY_OP_SYMBOLS.index("[]")


def _intrinsic(name: str, before_3_12: int) -> int:
    """CALL_INTRINSIC_1's number for ``INTRINSIC_<name>``: from the running
    interpreter's ``opcode._intrinsic_1_descs`` (3.12+, the table ``dis``
    reads), else 3.12's number, which the portable level gives 3.10-3.11's
    instruction for the same operation."""
    table = _stdlib_table(opcode, "_intrinsic_1_descs", since=(3, 12))
    if table is None:
        return before_3_12
    return [str(desc) for desc in table].index(f"INTRINSIC_{name}")


#: 3.12 replaced UNARY_POSITIVE and LIST_TO_TUPLE with CALL_INTRINSIC_1 of
#: these functions (5 and 6 since 3.12); the portable level reads 3.10-3.11's
#: opcodes as those calls.
INTRINSIC_UNARY_POSITIVE: Final[int] = _intrinsic("UNARY_POSITIVE", 5)
INTRINSIC_LIST_TO_TUPLE: Final[int] = _intrinsic("LIST_TO_TUPLE", 6)


def _function_attributes() -> tuple[tuple[int, str], ...]:
    names = getattr(dis, "FUNCTION_ATTR_FLAGS", None) or getattr(dis, "MAKE_FUNCTION_FLAGS", None)
    if not names:
        raise ImportError(
            f"pytest-bytecode: neither dis.FUNCTION_ATTR_FLAGS nor dis.MAKE_FUNCTION_FLAGS "
            f"exists on CPython {PY_TAG}; pytest-bytecode reads MAKE_FUNCTION with them and "
            "does not support this Python yet"
        )
    return tuple((1 << n, str(name)) for n, name in enumerate(names))


#: What a function gets besides its code, by flag bit: MAKE_FUNCTION's
#: argument on 3.10-3.12 (``dis.MAKE_FUNCTION_FLAGS``), SET_FUNCTION_ATTRIBUTE's
#: on 3.13+ (``dis.FUNCTION_ATTR_FLAGS``): defaults 1, kwdefaults 2,
#: annotations 4, closure 8, and from 3.14 annotate 16.
FUNCTION_ATTRIBUTES: Final[tuple[tuple[int, str], ...]] = _function_attributes()

#: FORMAT_VALUE's conversion (flags & 3, 3.10-3.12) and CONVERT_VALUE's
#: argument (3.13+): ``!s``, ``!r``, ``!a`` (FVC_STR/REPR/ASCII, unchanged
#: since 3.6; ``dis`` has the names in ``FORMAT_VALUE_CONVERTERS`` up to 3.12
#: only).  FORMAT_VALUE's bit 4 says a format spec is on the stack.
CONVERSIONS: Final[dict[int, str]] = {1: "str", 2: "repr", 3: "ascii"}
FORMAT_VALUE_HAS_SPEC: Final[int] = 4

#: CPython's flowgraph copies an exit block (one that returns or raises) of at
#: most this many instructions instead of jumping to it (MAX_COPY_SIZE, 4 in
#: 3.10-3.15); 3.11 does it less often, and the portable level copies what
#: 3.11 left as a jump.
MAX_COPY_SIZE: Final[int] = 4

#: 3.10 only: MAKE_FUNCTION pops the function's qualified name, pushed by a
#: LOAD_CONST just before it; 3.11 takes the qualname from the code object.
MAKE_FUNCTION_TAKES_QUALNAME: Final[bool] = PY < (3, 11)

#: 3.13+: LOAD_CLOSURE is a pseudo-instruction that the assembler turns into
#: LOAD_FAST (3.14: LOAD_FAST_BORROW) of the cell or free variable, so a
#: LOAD_FAST of such a name is the closure-tuple load of 3.10-3.12.
LOAD_CLOSURE_IS_LOAD_FAST: Final[bool] = PY >= (3, 13)

#: 3.13 only: END_FOR pops just the last value and the compiler follows it with
#: a POP_TOP for the iterator.  3.12's END_FOR pops both; 3.14+ follow END_FOR
#: with POP_ITER instead; 3.10-3.11 have no END_FOR.
END_FOR_THEN_POP_TOP: Final[bool] = PY == (3, 13)

#: Glued prefix instructions that an instruction-level observer never sees
#: (see ``engine.instrument.non_units``).  3.11+: the interpreter starts
#: reporting at the first RESUME and never reports RESUME itself; the POP_TOP
#: after RETURN_GENERATOR runs before that RESUME too.
NON_UNIT_OPNAMES: Final[frozenset[str]] = (
    frozenset({"MAKE_CELL", "COPY_FREE_VARS", "RETURN_GENERATOR", "POP_TOP", "RESUME"})
    if HAS_RESUME
    else frozenset()
)

#: 3.10 only: instructions that push a handler block; their jump target is the
#: handler.  From 3.11 handlers live in the exception table instead.
SETUP_OPNAMES: Final[frozenset[str]] = (
    frozenset({"SETUP_FINALLY", "SETUP_WITH", "SETUP_ASYNC_WITH"})
    if not HAS_EXCEPTION_TABLE
    else frozenset()
)

#: 3.10 allows at most this many nested blocks on a frame's block stack
#: (CO_MAXBLOCKS); the engine's own catch-all block needs one slot.
MAX_BLOCKS: Final[int] = 20

#: 3.11-3.13: the ``lasti`` an exception-table entry pushes is an ordinary int
#: object a stub can use.  3.14 pushes it as a tagged stack reference that is
#: not an object at all (only RERAISE may read it), so stubs there read the
#: raise site from the traceback instead, as on 3.10.
LASTI_IS_OBJECT: Final[bool] = HAS_EXCEPTION_TABLE and PY < (3, 14)

#: 3.11-3.13: a handler stub keys its raise table on the lasti its entry
#: pushed (:data:`LASTI_IS_OBJECT`), so every entry of instrumented code
#: pushes one (the stub drops it again where the original entry did not).
#: 3.14+ stubs read the raise site from the traceback, and each entry keeps
#: the original's flag: dropping the lasti takes a ``SWAP``, which the
#: f_lineno setter's stack model gets wrong above ten items (docs/engine.md,
#: debugger jumps).
EVERY_ENTRY_PUSHES_LASTI: Final[bool] = LASTI_IS_OBJECT

#: 3.10-3.11: a C-level call counts against the recursion limit like a
#: Python frame (3.12 gave C calls a limit of their own), and an exception
#: unwinding at the limit leaves no headroom: a handler stub there must call
#: nothing, so it never looks up a key its raise table lacks (the
#: defaultdict's ``__missing__`` is a call) and tests for it first.
STUB_MUST_NOT_CALL: Final[bool] = PY < (3, 12)

#: A stub records where an exception was raised as a code-unit index (the
#: ``lasti`` object) or as a byte offset (the traceback's ``tb_lasti``).
#: Divide by this to get code units.
RAISE_KEY_DIVISOR: Final[int] = 1 if LASTI_IS_OBJECT else CODE_UNIT

#: 3.12 moved LOAD_ATTR's name index up one bit (the low bit asks for a method).
LOAD_ATTR_SHIFT: Final[int] = 1 if PY >= (3, 12) else 0

#: 3.11 only: when a delegate (``yield from``/``await``) raises into a
#: ``gen.throw()``, the interpreter moves the frame to the instruction just
#: before the SEND's target (the loop's JUMP_BACKWARD_NO_INTERRUPT) and raises
#: there, although that instruction never runs.  The engine attributes such a
#: raise to the YIELD_VALUE the frame was suspended at.
THROW_RAISES_BEFORE_SEND_TARGET: Final[bool] = PY == (3, 11)

#: 3.11 only: when the delegate returns instead (it caught the exception),
#: ``gen.throw()`` moves the frame on by the low byte of the SEND's argument
#: alone (``_Py_OPARG``, no EXTENDED_ARG) and sends it the return value
#: there.  Plain code never has a prefix on a SEND, so it lands on the SEND's
#: target; the engine gives each such SEND a prefix on purpose, so that this
#: way in lands 256 units before the target, on a probe of its own (see
#: ``instrument._Rewriter._landing``).
THROW_RETURN_LANDS_BY_LOW_BYTE: Final[bool] = PY == (3, 11)

#: 3.11 only: specialised PRECALL forms for builtins and types make the call
#: themselves and skip the CALL after them, so an exception from such a call
#: is raised at the PRECALL.  Unspecialised, PRECALL cannot raise; the engine
#: attributes a raise there to the CALL, as an unspecialised run would.
PRECALL_RAISES_FOR_CALL: Final[bool] = PY == (3, 11)

#: 3.12+: ``sys.monitoring`` makes an exception handler's first instruction
#: a line start when it has a line, END_ASYNC_FOR excepted (``initialize_lines``
#: in CPython's instrumentation.c: the end of an ``async for`` loop makes no
#: line event of its own).  A stub in front of an END_ASYNC_FOR is the
#: handler's first instruction, so what the engine inserts there has no
#: position, or the loop's end gives a LINE event that plain code does not.
#: (Neither does the END_ASYNC_FOR start a line when reached in turn: it
#: never does.)
END_ASYNC_FOR_STARTS_NO_LINE: Final[bool] = HAS_SYS_MONITORING

#: 3.12 only: a local of module or class code is an inlined comprehension's
#: variable, and the compiler marks every one hidden (``CO_FAST_HIDDEN``:
#: ``locals()``, ``vars()``, ``dir()`` and ``frame.f_locals`` neither show
#: it nor, while it is unbound, delete the namespace's entry of that name).
#: ``code.replace()`` (and the ``CodeType`` constructor) rebuild the kinds of
#: the locals and mark hidden only those a LOAD_FAST_AND_CLEAR of the new
#: bytecode names (CPython gh-110543, fixed so in 3.12.1).  A comprehension
#: the compiler removed as dead code (under ``if False:`` or ``if not
#: __debug__:``) leaves its variables without one, so code rebuilt from such
#: a module or class body would unbind the same names of the namespace at
#: each ``locals()``.  Instrumented code of module and class bodies therefore
#: ends with a LOAD_FAST_AND_CLEAR of each local, never run.  (3.12.0 marks
#: none; 3.13+ module and class frames read their namespace itself, PEP 667.)
MARK_HIDDEN_LOCALS: Final[bool] = PY == (3, 12)

#: 3.14+: instructions that may re-raise the exception they hold straight to
#: the handler, adding no traceback entry (CLEANUP_THROW in ``yield from`` and
#: ``await``, END_ASYNC_FOR).  Stubs that read the raise site from the
#: traceback cannot see those raises, so the engine ends a block after each
#: and counts what follows directly.  (3.11-3.13 stubs read ``lasti``, which
#: covers them.)
RERAISE_WITHOUT_TRACEBACK: Final[frozenset[str]] = (
    frozenset({"CLEANUP_THROW", "END_ASYNC_FOR"})
    if HAS_EXCEPTION_TABLE and not LASTI_IS_OBJECT
    else frozenset()
)

#: Instructions a version adds to a construct every version has, which run
#: exactly with the instruction they help: 3.10's GEN_START and POP_BLOCK
#: (which ends a protected block: the next instruction runs with it),
#: 3.11's PRECALL, 3.11+'s PUSH_NULL before a call, 3.13+'s TO_BOOL before a
#: jump, 3.14+'s NOT_TAKEN on a jump's fall-through (the ``helpers`` filter).
HELPER_OPNAMES: Final[frozenset[str]] = frozenset(
    {"GEN_START", "POP_BLOCK", "PRECALL", "PUSH_NULL", "TO_BOOL", "NOT_TAKEN"}
) & frozenset(OPMAP)

#: 3.14+ (PEP 649): the code object the compiler makes to evaluate a
#: function's, class's or module's annotations on demand.
ANNOTATE_CODE_NAME: Final[str | None] = "__annotate__" if PY >= (3, 14) else None

#: What comes between an awaitable's ``GET_AWAITABLE``/``GET_ANEXT`` and the
#: ``SEND`` that delegates to it: ``LOAD_CONST None`` up to 3.14; 3.15 pushes
#: a NULL and loads None as a common constant.
SEND_PREAMBLE_OPNAMES: Final[frozenset[str]] = frozenset(
    {"LOAD_CONST", "PUSH_NULL", "LOAD_COMMON_CONSTANT"}
)

#: 3.14+: END_ASYNC_FOR carries a backward jump argument that only
#: sys.monitoring uses ("pretend jump"); it never jumps.
PSEUDO_JUMP_OPNAMES: Final[frozenset[str]] = (
    frozenset({"END_ASYNC_FOR"}) if PY >= (3, 14) else frozenset()
)

#: Where a ``FOR_ITER`` over the counter is valid code: up to 3.13.  3.14
#: reworked iteration, and a ``FOR_ITER`` over a bare counter crashes
#: CPython 3.15.0rc1 (Pyodide).  (Which form the engine uses is its choice:
#: ``engine.instrument.DEFAULT_PROBE_BY_FOR_ITER``.)
FOR_ITER_PROBE_POSSIBLE: Final[bool] = PY < (3, 14)

#: 3.10-3.11: the ``f_lineno`` setter (``mark_stacks`` in
#: Objects/frameobject.c) takes the stack at a ``FOR_ITER``'s target to be
#: the stack before it less the iterator (3.12+: with the iterator and a
#: value, for END_FOR to pop).  A probe's never-taken ``FOR_ITER`` targets
#: the unit past the probe there, where that is what the stack holds.
PROBE_FOR_ITER_PAST: Final[bool] = PY < (3, 12)

#: 3.14+: no probe may sit just before these.  The interpreter finds where
#: lines start in one pass in offset order that passes over END_FOR and
#: POP_ITER without taking their line; a probe between a finished loop's
#: END_FOR and its POP_ITER carries a line, so the code after the loop could
#: start a line that it does not start in the original (corpus program
#: ``p27``: the line before END_FOR is the line after POP_ITER).
#:
#: 3.13: no probe before a FOR_ITER either.  Under ``sys.settrace`` (which
#: there asks sys.monitoring for LINE and JUMP events but not BRANCH ones)
#: a FOR_ITER is kept from specialising only where its own unit is a line
#: start: INSTRUMENTED_LINE pauses the adaptive counter of the instruction
#: it covers.  In plain code every FOR_ITER is the target of its loop's jump
#: back; a probe before it would take the jumps and the line start, the
#: FOR_ITER would specialise to FOR_ITER_GEN, and an exhausted generator
#: would return *to* the loop's INSTRUMENTED_END_FOR, which reports a
#: StopIteration ('exception' trace event) that plain code does not show.
NO_PROBE_BEFORE: Final[frozenset[str]] = (
    frozenset({"POP_ITER"})
    if PY >= (3, 14)
    else frozenset({"FOR_ITER"})
    if PY == (3, 13)
    else frozenset()
)

#: 3.13: a FOR_ITER that gains EXTENDED_ARG prefixes in instrumented code
#: (its loop grew past 255 units) is made a line start of its own again by
#: an unreachable jump to its unit, appended after the code: 3.13's
#: sys.monitoring makes every jump target a line start.  Otherwise the line
#: start is the first prefix (where the jump back lands), whose
#: INSTRUMENTED_LINE pauses nothing, and the FOR_ITER specialises under
#: ``sys.settrace`` (see NO_PROBE_BEFORE).  Plain 3.13.0 code whose FOR_ITER
#: has a prefix of its own shows the extra event too; such a FOR_ITER is left
#: as it is, so that the two agree.
PIN_FOR_ITER_LINE: Final[bool] = PY == (3, 13)

#: A probe's counter.  64-bit builds count down ``itertools.repeat(None,
#: sys.maxsize)``: a step hands back ``None`` without allocating, about half
#: the cost per probe of an ``itertools.count`` (which allocates an int per
#: step above 256), and 2**63 steps never run out.  Where ``sys.maxsize`` is
#: 2**31 - 1 (wasm32, 32-bit builds) a hot probe could run one out: up to
#: 3.13, where the probe is a ``FOR_ITER`` over it, that would end the
#: "loop" and change the program, so those count up an ``itertools.count``;
#: from 3.14 the probe is ``None in counter`` (``CONTAINS_OP``, see
#: ``engine.instrument``), which an exhausted ``repeat`` answers with False,
#: so the count stops at 2**31 - 1 and the program is unchanged.
COUNT_DOWN: Final[bool] = sys.maxsize >= 2**63 - 1 or not FOR_ITER_PROBE_POSSIBLE

#: 3.10: YIELD_FROM is re-dispatched each time the delegating generator is
#: resumed (the interpreter rewinds ``f_lasti`` to the instruction before it),
#: and no probe can run there.  The engine counts it once per delegation
#: begun: covered exactly when it ran, but lower than an instruction-level
#: observer's count.  A ``throw()``/``close()`` then raises "at" the
#: instruction before YIELD_FROM; the engine attributes that to YIELD_FROM.
YIELD_FROM_COUNTS_DELEGATIONS: Final[bool] = PY < (3, 11)

#: Instructions that may leave the frame unseen by any stub and, when control
#: comes back, go on to the next instruction: the engine ends a block after
#: each and counts what follows directly (a frame may stay suspended there, or
#: be dropped, with nothing after it run).  3.10: YIELD_FROM (``yield from``
#: and ``await``), which suspends in place.  3.14+: the instructions of
#: RERAISE_WITHOUT_TRACEBACK.
LEAVES_UNSEEN_AND_GOES_ON: Final[frozenset[str]] = RERAISE_WITHOUT_TRACEBACK | (
    frozenset({"YIELD_FROM"}) if PY < (3, 11) else frozenset()
)

#: 3.15+: ``SourceLoader.source_to_code`` takes the module's name (``data,
#: path, fullname=None``) and hands it to ``compile(module=...)``, the name
#: that warnings filters match the compile's warnings against.  The import
#: hook's stand-in for it, which keeps the plain import's compile for reuse,
#: compiles the same way.
COMPILE_TAKES_MODULE: Final[bool] = PY >= (3, 15)
