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
from typing import Final

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

#: 3.11 (PEP 659): specialising adaptive interpreter; some instructions are
#: followed by inline CACHE code units that are part of the instruction.
HAS_INLINE_CACHES: Final[bool] = PY >= (3, 11)

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

#: Number -> name for the running interpreter, including specialised forms
#: where the ``_specialized_opmap`` (3.13+) or ``_specialized_instructions``
#: (3.11-3.12) tables exist; ``dis`` uses the same fallbacks.
OPNAME: Final[list[str]] = list(opcode.opname)


def _all_opnames() -> dict[str, int]:
    names = dict(opcode.opmap)
    specialised = getattr(opcode, "_specialized_opmap", None)
    if isinstance(specialised, dict):
        names.update(specialised)
    return names


#: Every opname the running interpreter knows, specialised forms included.
ALL_OPNAMES: Final[frozenset[str]] = frozenset(_all_opnames())


def _cache_table() -> dict[str, int]:
    """Map opname -> number of inline CACHE code units after it.

    3.11 and 3.12 keep a list indexed by opcode; 3.13 turned it into a dict
    keyed by name.  Before 3.11 there are no caches.
    """
    raw = getattr(opcode, "_inline_cache_entries", None)
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): int(v) for k, v in raw.items() if v}
    return {opcode.opname[i]: int(n) for i, n in enumerate(raw) if n}


_CACHES: Final[dict[str, int]] = _cache_table()


def cache_entries(opname: str) -> int:
    """Number of inline CACHE code units that follow ``opname``."""
    return _CACHES.get(opname, 0)


#: Opcodes whose argument is a jump (relative or absolute).
JUMP_OPCODES: Final[frozenset[int]] = frozenset(opcode.hasjrel) | frozenset(opcode.hasjabs)

#: Opcodes that take an argument at all.  3.12 added ``opcode.hasarg``;
#: earlier versions use the HAVE_ARGUMENT threshold.
if hasattr(opcode, "hasarg"):
    HAS_ARG: Final[frozenset[int]] = frozenset(opcode.hasarg)
else:
    HAS_ARG = frozenset(range(opcode.HAVE_ARGUMENT, 256))

#: Opcode numbers of every instruction that can begin a backward jump.  3.11
#: has explicit *_BACKWARD_* forms; from 3.12 only JUMP_BACKWARD and
#: JUMP_BACKWARD_NO_INTERRUPT jump backwards.  3.10 jumps are absolute.
BACKWARD_JUMPS: Final[frozenset[int]] = frozenset(
    OPMAP[name] for name in OPMAP if "BACKWARD" in name and OPMAP[name] in JUMP_OPCODES
)

#: Opnames of instructions that end a basic block because control never
#: falls through to the next instruction.
UNCONDITIONAL_TRANSFERS: Final[frozenset[str]] = frozenset(
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
