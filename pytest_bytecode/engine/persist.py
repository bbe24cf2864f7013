"""Save an instrumented tree to bytes and load it back, for the cache.

Instrumented code holds live objects in its constants (the ``next``
builtin, ``object.__getattribute__`` in 3.14+ stubs, one counter per probe,
one dict per handler stub), which ``marshal`` cannot write.  :func:`dumps`
swaps each for a marshalable placeholder tuple and writes the readers as plain
tuples; :func:`loads` makes fresh counters and puts them back.  No pickle: only ``marshal`` of code
objects and plain values, with a format tag and the interpreter tag checked
on load.
"""

from __future__ import annotations

import marshal
from array import array
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.counts import (
    AnyRaiseTable,
    Counter,
    CountReader,
    new_counter,
    new_raise_table,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Changes whenever the layout written by :func:`dumps` changes.
FORMAT = "pytest-bytecode-engine/8"
_MARK = "\0pytest-bytecode"


def _reader_state(reader: CountReader) -> tuple[Any, ...]:
    # Blocks and flow plan are worked out again from the original code when
    # counts are read (engine/analysis.py), so they are not written; which
    # instructions the compiler made up is, so that a warm run does not
    # classify them again (engine/generated.py).
    return (
        (reader.qualname, reader.name, reader.firstlineno),
        tuple(reader.tags),
        tuple(reader.starts),
        len(reader.counters),
        len(reader.raises),
        reader.generated(),
    )


def _reader_from_state(
    state: tuple[Any, ...], code: CodeType
) -> tuple[CountReader, list[Counter], list[AnyRaiseTable]]:
    names, tags, starts, n_c, n_r, generated = state
    counters = [new_counter() for _ in range(n_c)]
    raises = [new_raise_table() for _ in range(n_r)]
    reader = CountReader(
        (str(names[0]), str(names[1]), int(names[2])),
        code,
        counters,
        raises,
        array("i", tags),
        array("i", starts),
        tuple((int(o), str(n), int(t)) for o, n, t in generated),
    )
    return reader, counters, raises


def _code_at(root: CodeType, path: tuple[int, ...]) -> CodeType:
    code = root
    for index in path:
        const = code.co_consts[index]
        if not isinstance(const, CodeType):
            raise ValueError(f"instrumented-code data names no code object at {path}")
        code = const
    return code


def _swap_consts(code: CodeType, swap: Any) -> CodeType:
    consts = tuple(
        _swap_consts(c, swap) if isinstance(c, CodeType) else swap(code, c) for c in code.co_consts
    )
    return code.replace(co_consts=consts)


def dumps(
    code: CodeType, readers: list[tuple[tuple[int, ...], CountReader]], original: CodeType
) -> bytes:
    """Serialise an instrumented tree (see module docstring)."""
    by_id: dict[int, tuple[str, int, int]] = {}
    for slot, (_, reader) in enumerate(readers):
        for k, counter in enumerate(reader.counters):
            by_id[id(counter)] = ("count", slot, k)
        for k, table in enumerate(reader.raises):
            by_id[id(table)] = ("raises", slot, k)

    def swap(_: CodeType, const: object) -> object:
        if const is next:
            return (_MARK, "next", 0, 0)
        if const is object.__getattribute__:  # 3.14+ stubs
            return (_MARK, "getattribute", 0, 0)
        found = by_id.get(id(const))
        return (_MARK, *found) if found is not None else const

    data = (
        FORMAT,
        versions.PY_TAG,
        _swap_consts(code, swap),
        tuple((path, _reader_state(reader)) for path, reader in readers),
        original,
    )
    return marshal.dumps(data)


def loads(data: bytes) -> tuple[CodeType, list[tuple[tuple[int, ...], CountReader]], CodeType]:
    """Load what :func:`dumps` wrote; ValueError if it is not that."""
    try:
        fmt, tag, code, states, original = marshal.loads(data)
    except Exception as exc:  # marshal raises EOFError, ValueError, TypeError
        raise ValueError(f"not instrumented-code data: {exc}") from None
    if (
        fmt != FORMAT
        or tag != versions.PY_TAG
        or not isinstance(code, CodeType)
        or not isinstance(original, CodeType)
    ):
        raise ValueError(f"instrumented-code data of format {fmt!r} for Python {tag!r}")
    readers: list[tuple[tuple[int, ...], CountReader]] = []
    live: list[tuple[list[Counter], list[AnyRaiseTable]]] = []
    try:
        for path, state in states:
            reader, counters, raises = _reader_from_state(state, _code_at(original, tuple(path)))
            readers.append((tuple(path), reader))
            live.append((counters, raises))
    except (TypeError, OverflowError) as exc:  # a state of the wrong shape
        raise ValueError(f"instrumented-code data with a malformed plan: {exc}") from None

    def resolve(mark: tuple[Any, ...]) -> object:
        kind, slot, k = mark[1], mark[2], mark[3]
        if kind == "next":
            return next
        if kind == "getattribute":
            return object.__getattribute__
        counters, raises = live[slot]
        return counters[k] if kind == "count" else raises[k]

    def with_live(code: CodeType) -> CodeType:
        # _swap_consts with the test inlined: a module of thousands of
        # functions loads from the cache in every run, and this is most of it.
        consts = list(code.co_consts)
        for i, const in enumerate(consts):
            kind = type(const)
            if kind is tuple:
                if len(const) == 4 and const[0] == _MARK:
                    consts[i] = resolve(const)
            elif kind is CodeType:
                consts[i] = with_live(const)
        return code.replace(co_consts=tuple(consts))

    return with_live(code), readers, original
