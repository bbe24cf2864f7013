"""Save an instrumented tree to bytes and load it back, for the cache.

Instrumented code holds live objects in its constants (the ``next``
builtin, ``object.__getattribute__`` in 3.14+ stubs, one counter per probe,
one dict per handler stub), which ``marshal`` cannot write.  :func:`dumps`
swaps each for a marshalable placeholder ``(mark, index)`` and writes the
readers as plain tuples (their per-piece arrays as bytes, which ``marshal``
reads far faster than tuples of ints); :func:`loads` makes fresh counters and
puts them back.  Each reader's read plan (engine/readplan.py) is written
too, as bytes and strings, unless it is stored apart (:func:`dumps_plans`),
so that a load reads counts without decoding or analysing anything.

An import from the cache needs only the code and its live objects: the
readers and the original code are what reading counts needs, at the end of
the run.  So they are written as ``marshal`` data of their own, nested as
bytes, with the number of counters and raise tables of each code object
beside them; :func:`loads` makes the live objects from those numbers and
leaves the rest as bytes until :meth:`Stored.readers` or
:meth:`Stored.original` is asked (the warm import of a 50,000-line
module went from 146 to 92 ms, docs/benchmarks.md).  What is left as
bytes is covered by the cache entry's checksum like the rest; it is
checked when it is read.

No pickle: only ``marshal`` of code objects and plain values, with a format
tag and the interpreter tag checked on load.
"""

from __future__ import annotations

import marshal
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.counts import (
    AnyRaiseTable,
    Counter,
    CountReader,
    new_counter,
    new_raise_table,
)
from pytest_bytecode.engine.readplan import pack_ints, view_ints

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Changes whenever the layout written by :func:`dumps` changes.
FORMAT = "pytest-bytecode-engine/14"
_MARK = "\0pytest-bytecode"
#: Placeholders of the two builtins the stubs hold (others: >= 0, the index
#: of a counter or raise table among the tree's live objects, in slot order).
_NEXT, _GETATTRIBUTE = -1, -2


def _reader_state(reader: CountReader, plans: bool) -> tuple[Any, ...]:
    # The read plan (engine/readplan.py; unless it is stored apart, see
    # dumps_plans) and which instructions the compiler made up
    # (engine/generated.py) are written, so that a warm run neither decodes,
    # analyses nor classifies anything to read counts.
    # The original code's length is written too: a plan is checked against
    # it, so that reading counts with stored plans never loads the original.
    return (
        (reader.qualname, reader.name, reader.firstlineno),
        pack_ints(reader.tags),
        pack_ints(reader.starts),
        len(reader.counters),
        len(reader.raises),
        reader.plan_state() if plans else None,
        reader.generated(),
        reader.units,
    )


def _reader_from_state(
    state: tuple[Any, ...],
    code: CodeType | Callable[[], CodeType],
    counters: list[Counter],
    raises: list[AnyRaiseTable],
) -> CountReader:
    names, tags, starts, n_c, n_r, plan, generated, units = state
    if (
        type(generated) is not tuple
        or type(names) is not tuple
        or len(names) != 3
        or (plan is not None and (type(plan) is not tuple or len(plan) != 3))
        or type(units) is not int
    ):
        raise TypeError("a reader state of the wrong shape")
    if n_c != len(counters) or n_r != len(raises):
        raise ValueError(
            f"a reader of {n_c} counters and {n_r} raise tables where the code has "
            f"{len(counters)} and {len(raises)}"
        )
    return CountReader(
        names, code, counters, raises, view_ints(tags), view_ints(starts), generated, plan, units
    )


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
    code: CodeType,
    readers: list[tuple[tuple[int, ...], CountReader]],
    original: CodeType,
    plans: bool = True,
) -> bytes:
    """Serialise an instrumented tree (see module docstring); without the
    read plans if not ``plans`` (:func:`dumps_plans` writes them apart)."""
    by_id: dict[int, int] = {}
    for _, reader in readers:
        for live in (*reader.counters, *reader.raises):
            by_id[id(live)] = len(by_id)

    def swap(_: CodeType, const: object) -> object:
        if const is next:
            return (_MARK, _NEXT)
        if const is object.__getattribute__:  # 3.14+ stubs
            return (_MARK, _GETATTRIBUTE)
        found = by_id.get(id(const))
        return (_MARK, found) if found is not None else const

    sizes = [n for _, reader in readers for n in (len(reader.counters), len(reader.raises))]
    states = tuple((path, _reader_state(reader, plans)) for path, reader in readers)
    data = (
        FORMAT,
        versions.PY_TAG,
        _swap_consts(code, swap),
        pack_ints(sizes),
        marshal.dumps(states),
        marshal.dumps(original),
    )
    return marshal.dumps(data)


class Stored:
    """An instrumented tree as :func:`loads` gives it back: the code with
    fresh live objects in place, and what reading its counts needs (the
    readers, the original code) still as bytes until first asked for."""

    def __init__(
        self,
        code: CodeType,
        counters: list[Counter],
        raises: list[AnyRaiseTable],
        sizes: list[int],
        states: bytes,
        original: bytes,
    ) -> None:
        self.code = code
        #: every counter and raise table of the tree, code object by code object
        self.counters = counters
        self.raises = raises
        #: per code object, in tree order: its number of counters, then of raise tables
        self.sizes = sizes
        self._states: bytes | None = states
        self._original: CodeType | bytes = original

    def original(self) -> CodeType:
        """The uninstrumented tree (ValueError if its data is not a code object)."""
        original = self._original
        if isinstance(original, bytes):
            try:
                original = marshal.loads(original)
            except Exception as exc:  # marshal raises EOFError, ValueError, TypeError
                raise ValueError(f"instrumented-code data with a bad original: {exc}") from None
            if not isinstance(original, CodeType):
                raise ValueError("instrumented-code data whose original is not code")
            self._original = original
        return original

    def readers(self) -> list[tuple[tuple[int, ...], CountReader]]:
        """One reader per code object, on this tree's live objects, made once
        (ValueError if their data is not that).  Each loads its original
        code object only if it needs it (a plan to work out anew): then a
        bad original is a ValueError."""
        states = self._states
        if states is None:
            raise RuntimeError("Stored.readers() makes them once")
        readers: list[tuple[tuple[int, ...], CountReader]] = []
        v = t = 0
        try:
            decoded = marshal.loads(states)
            if type(decoded) is not tuple or 2 * len(decoded) != len(self.sizes):
                raise ValueError("reader data of another number of code objects")
            for k, (path, state) in enumerate(decoded):
                path = tuple(path)
                n_c, n_r = self.sizes[2 * k], self.sizes[2 * k + 1]
                counters, raises = self.counters[v : v + n_c], self.raises[t : t + n_r]
                code = self._code_at(path)
                readers.append((path, _reader_from_state(state, code, counters, raises)))
                v, t = v + n_c, t + n_r
        except (EOFError, TypeError, ValueError, OverflowError) as exc:  # the wrong shape
            raise ValueError(f"instrumented-code data with a malformed plan: {exc}") from None
        self._states = None  # made: the bytes are not needed again
        return readers

    def _code_at(self, path: tuple[int, ...]) -> Callable[[], CodeType]:
        """What loads the original code object at ``path`` (ValueError then
        if there is none).  A closure, not ``functools.partial``: used
        without the plugin's import hook (which loads it up front), this
        module loads at the first store or load, which may be in the middle
        of a measured, fresh import of ``functools`` itself."""
        return lambda: _code_at(self.original(), path)


def loads(data: bytes) -> Stored:
    """Load what :func:`dumps` wrote; ValueError if it is not that."""
    try:
        fmt, tag, code, sizes, states, original = marshal.loads(data)
    except Exception as exc:  # marshal raises EOFError, ValueError, TypeError
        raise ValueError(f"not instrumented-code data: {exc}") from None
    if (
        fmt != FORMAT
        or tag != versions.PY_TAG
        or not isinstance(code, CodeType)
        or type(sizes) is not bytes
        or type(states) is not bytes
        or type(original) is not bytes
        or len(sizes) % 8
    ):
        raise ValueError(f"instrumented-code data of format {fmt!r} for Python {tag!r}")
    numbers = view_ints(sizes)
    if min(numbers, default=0) < 0:
        raise ValueError("instrumented-code data with a negative size")
    counters: list[Counter] = []
    raises: list[AnyRaiseTable] = []
    #: every counter and raise table of the tree, in slot order, then the builtins
    live: list[object] = []
    for k in range(0, len(numbers), 2):
        mine = [new_counter() for _ in range(numbers[k])]
        tables = [new_raise_table() for _ in range(numbers[k + 1])]
        counters += mine
        raises += tables
        live += mine
        live += tables
    n_live = len(live)
    live.append(object.__getattribute__)  # _GETATTRIBUTE: -2
    live.append(next)  # _NEXT: -1

    def with_live(code: CodeType) -> CodeType:
        # _swap_consts with the test inlined: a module of thousands of
        # functions loads from the cache in every run, and this is most of it.
        consts = list(code.co_consts)
        for i, const in enumerate(consts):
            kind = type(const)
            if kind is tuple:
                if len(const) == 2 and const[0] == _MARK:
                    k = const[1]
                    if type(k) is not int or not -2 <= k < n_live:
                        raise ValueError(f"instrumented-code data with a bad placeholder {k!r}")
                    consts[i] = live[k]
            elif kind is CodeType:
                consts[i] = with_live(const)
        return code.replace(co_consts=tuple(consts))

    return Stored(with_live(code), counters, raises, list(numbers), states, original)


#: Changes whenever the layout written by :func:`dumps_plans` changes.
PLANS_FORMAT = "pytest-bytecode-plans/3"


def dumps_plans(readers: list[tuple[tuple[int, ...], CountReader]]) -> bytes:
    """The read plans of a tree's readers alone, in reader order: what a
    tree written by ``dumps(..., plans=False)`` reads its counts with."""
    return marshal.dumps(
        (PLANS_FORMAT, versions.PY_TAG, tuple(reader.plan_state() for _, reader in readers))
    )


def loads_plans(data: bytes) -> tuple[object, ...]:
    """What :func:`dumps_plans` wrote: the plan states, each still to be
    checked by its reader; ValueError if it is not that."""
    try:
        fmt, tag, states = marshal.loads(data)
    except Exception as exc:  # marshal raises EOFError, ValueError, TypeError
        raise ValueError(f"not read-plan data: {exc}") from None
    if fmt != PLANS_FORMAT or tag != versions.PY_TAG or type(states) is not tuple:
        raise ValueError(f"read-plan data of format {fmt!r} for Python {tag!r}")
    return states
