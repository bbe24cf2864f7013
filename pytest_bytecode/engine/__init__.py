"""The instrumentation engine: pure functions over code objects, no pytest.

Public API::

    inst = instrument(code)        # code and every code object nested in it
    exec(inst.code, namespace)     # run the instrumented code instead
    for co in inst.counts():       # one CodeCounts per code object
        ...

    handle = instrument_function(func)   # swaps func.__code__ in place

    raw = inst.state()             # the probes' raw values, plain data
    inst.counts_from(raw)          # counts as of that state, later or elsewhere
                                   # (a handle loaded from ``inst.dumps()``)

Counts are exact: the number of times each original instruction began
executing, as an interpreter watching every instruction would see it.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import CodeType

from pytest_bytecode import _lazy_exports, versions
from pytest_bytecode.engine.counts import AnyRaiseTable, Counter, CountReader, count_values
from pytest_bytecode.engine.instrument import DEFAULT_PROBE_BY_FOR_ITER, instrument_code

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from typing import Any

    from pytest_bytecode.engine.model import (
        BranchCount,
        BranchOutcome,
        CodeCounts,
        InstructionCount,
    )
    from pytest_bytecode.engine.persist import Stored

#: The result types load on first use, like the counts they hold: making the
#: classes costs a program that instruments itself start-up time.
_MODEL_NAMES = ("BranchCount", "BranchOutcome", "CodeCounts", "InstructionCount")


#: Changes whenever instrumented code or its reader changes shape; part of every
#: cache key.
ENGINE_VERSION = "20"

#: The name the engine's ``sys.monitoring`` tool takes (3.12+; engine/activity.py),
#: which :mod:`pytest_bytecode.tracers` knows as one that never jumps.
MONITORING_NAME = "pytest-bytecode"

__all__ = [
    "ENGINE_VERSION",
    "MONITORING_NAME",
    "BranchCount",
    "BranchOutcome",
    "CodeCounts",
    "InstructionCount",
    "Instrumented",
    "RawState",
    "gc_paused",
    "instrument",
    "instrument_function",
    "iter_code_tree",
    "loads",
    "original_code",
    "state_difference",
    "state_sum",
]

__getattr__, __dir__ = _lazy_exports(
    globals(), dict.fromkeys(_MODEL_NAMES, "pytest_bytecode.engine.model")
)

#: The raw probe state of one instrumented tree, as plain data: the value of
#: every counter since the last reset, in a fixed order, and the non-empty
#: raise tables (site -> times) by their index.  Counts are linear in it.
RawState = tuple[list[int], dict[int, dict[int, int]]]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused (if it was running) meanwhile.

    For code that makes objects by the hundred thousand that live on and
    hold no reference cycles (instrumenting a tree, loading one from the
    cache; outside the engine, reading, merging and writing counts):
    collections that walk them again and again as they are made would add
    a sixth to instrumenting, and more than doubled the time an xdist
    controller took to merge its workers' counts.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


#: Instrumented code object -> the original it was made from, for tools that
#: must look at what the user wrote (the bytecode assertions).  Filled from
#: ``_UNINDEXED`` only when first asked: most runs never ask.
_ORIGINALS: weakref.WeakKeyDictionary[CodeType, CodeType] = weakref.WeakKeyDictionary()
_UNINDEXED: weakref.WeakSet[Instrumented] = weakref.WeakSet()


def original_code(code: CodeType) -> CodeType:
    """The uninstrumented original of ``code``, or ``code`` itself."""
    found = _ORIGINALS.get(code)
    if found is not None:
        return found
    while _UNINDEXED:
        handle = _UNINDEXED.pop()
        _index_if_new(handle.code, handle._original)
    return _ORIGINALS.get(code, code)


def _index_if_new(code: CodeType, original: CodeType | Callable[[], CodeType]) -> None:
    """Record the originals of the tree ``code``, unless they are recorded
    or a loaded tree's original (``original()``) is not readable."""
    if code in _ORIGINALS:
        return
    try:
        tree = original if isinstance(original, CodeType) else original()
    except ValueError:  # a loaded tree whose original is not readable
        return
    _index(code, tree)


def _index(code: CodeType, original: CodeType) -> None:
    """Record the original of every code object of an instrumented tree."""
    # Both trees have the same shape: probes only append constants.
    for (_, new), (_, old) in zip(iter_code_tree(code), iter_code_tree(original), strict=True):
        _ORIGINALS[new] = old


class Instrumented:
    """An instrumented code tree and the handle to read its counts.

    Made by :func:`instrument`, or by :func:`loads` from the cache, where
    the readers and the original code stay bytes until counts are read or
    the original is asked for (an import needs neither).
    """

    def __init__(
        self, code: CodeType, readers: list[tuple[tuple[int, ...], CountReader]], original: CodeType
    ) -> None:
        self._setup(
            code,
            [c for _, reader in readers for c in reader.counters],
            [t for _, reader in readers for t in reader.raises],
            [n for _, reader in readers for n in (len(reader.counters), len(reader.raises))],
            original,
        )
        self._made: list[tuple[tuple[int, ...], CountReader]] | None = readers
        self._stored: Stored | None = None

    @classmethod
    def _loaded(cls, stored: Stored) -> Instrumented:
        """The handle of a tree :func:`loads` gave back."""
        self = cls.__new__(cls)
        self._setup(stored.code, stored.counters, stored.raises, stored.sizes, stored.original)
        self._made = None
        self._stored = stored
        return self

    def _setup(
        self,
        code: CodeType,
        counters: list[Counter],
        raises: list[AnyRaiseTable],
        sizes: list[int],
        original: CodeType | Callable[[], CodeType],
    ) -> None:
        self.code = code
        self._counters = counters
        self._tables = [t.sites for t in raises]
        self._sizes = sizes  # per code object: counters, raise tables
        #: the original tree, or (loaded) what reads it when first asked for
        self._original = original
        self._zero: list[int] | None = None
        self._supply: Callable[[], bytes | None] | None = None
        _UNINDEXED.add(self)
        # A handle may go before its code does (instrument_function's, if
        # dropped): its tree is recorded then, unless the process is ending.
        weakref.finalize(self, _index_if_new, code, original).atexit = False

    @property
    def original(self) -> CodeType:
        """The code object this tree was made from."""
        if not isinstance(self._original, CodeType):
            self._original = self._original()
        return self._original

    @property
    def _readers(self) -> list[tuple[tuple[int, ...], CountReader]]:
        """One reader per code object (a loaded tree's made on first use)."""
        if self._made is None:
            if self._stored is None:
                raise RuntimeError(
                    "the counts of this instrumented tree were read for the last time "
                    "(Instrumented.release)"
                )
            self._made = self._stored.readers()
            if self._supply is not None:
                self._give_plans(self._made, self._supply)
        return self._made

    @property
    def counters(self) -> list[Counter]:
        """Every probe counter of the tree, code object by code object."""
        return self._counters

    @property
    def raise_tables(self) -> list[dict[int, int]]:
        """Every raise table of the tree (site -> times), code object by code object."""
        return self._tables

    def code_objects(self) -> list[CodeType]:
        """The instrumented code objects of the tree, in :meth:`counts` order."""
        return [code for _, code in iter_code_tree(self.code)]

    def code_names(self) -> list[tuple[str, int]]:
        """``(qualname, firstlineno)`` of every code object, in :meth:`counts` order."""
        return [(reader.qualname, reader.firstlineno) for _, reader in self._readers]

    def spans(self) -> list[tuple[int, int, int, int]]:
        """Per code object, in :meth:`counts` order: where its counters and its
        raise tables are in :attr:`counters` and :attr:`raise_tables`
        (``counters[a:b]``, ``raise_tables[c:d]`` as ``(a, b, c, d)``)."""
        result = []
        v = t = 0
        sizes = self._sizes
        for k in range(0, len(sizes), 2):
            nv, nt = sizes[k], sizes[k + 1]
            result.append((v, v + nv, t, t + nt))
            v, t = v + nv, t + nt
        return result

    def code_counts_from(
        self, index: int, values: Sequence[int], raises: Sequence[Mapping[int, int]]
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]:
        """The counts of code object ``index`` (in :meth:`counts` order) alone,
        with these values of its counters and contents of its raise tables."""
        return self._readers[index][1].counts_from(values, raises)

    def code_bits_from(self, index: int, values: Sequence[int]) -> int | None:
        """What code object ``index`` ran, as the bit set
        :func:`~pytest_bytecode.engine.activity.ran_bits` makes of
        :meth:`code_counts_from` with these counter values and no raise
        record, without making the counts (None: use the counts)."""
        return self._readers[index][1].ran_bits_from(values)

    def counts(self) -> list[CodeCounts]:
        """Counts for every code object of the tree, root first, depth-first."""
        return self.counts_from(self.state())

    def reset(self) -> None:
        """Zero every counter of the tree."""
        self._zero = count_values(self._counters)
        for table in self._tables:
            table.clear()

    def state(self) -> RawState:
        """The raw probe state now: cheap enough to take after every test."""
        values = count_values(self._counters)
        if self._zero is not None:
            values = [v - z for v, z in zip(values, self._zero, strict=True)]
        tables = {i: dict(t) for i, t in enumerate(self._tables) if t}
        return values, tables

    def counts_from(self, state: RawState) -> list[CodeCounts]:
        """What :meth:`counts` would say in ``state`` (taken from this tree's shape)."""
        from pytest_bytecode.engine.model import CodeCounts

        values, tables = state
        if len(values) != len(self._counters):
            raise ValueError(
                f"raw state has {len(values)} counters, the tree {len(self._counters)}"
            )
        result = []
        v = t = 0
        for path, reader in self._readers:
            nv, nt = len(reader.counters), len(reader.raises)
            raises = [tables.get(i, {}) for i in range(t, t + nt)]
            instructions, branches = reader.counts_from(values[v : v + nv], raises)
            result.append(
                CodeCounts(
                    reader.qualname,
                    reader.name,
                    reader.firstlineno,
                    path,
                    instructions,
                    branches,
                    reader.generated(),
                )
            )
            v, t = v + nv, t + nt
        return result

    def release(self) -> None:
        """Let go of what reading counts needs (the readers with their read
        plans, and what a loaded tree makes them from) once the counts were
        read for the last time in this process.

        At a run's end every tree is read once more, and the readers and
        plans that read makes were most of what it added to the run's peak
        memory: released one tree at a time, as each is read, the next one
        reuses their memory.  The code still runs and counts; reading counts
        (or serialising the tree) raises RuntimeError from now on.
        """
        self._made = None
        self._stored = None
        self._supply = None

    def dumps(self, *, plans: bool = True) -> bytes:
        """Serialise code and readers for the instrumentation cache (no
        pickle); without the readers' read plans if not ``plans``
        (:meth:`dumps_plans` writes them apart, :meth:`supply_plans` gives
        them back to a handle loaded without them)."""
        from pytest_bytecode.engine.persist import dumps

        return dumps(self.code, self._readers, self.original, plans)

    def dumps_plans(self) -> bytes:
        """The readers' read plans alone (see :meth:`dumps`)."""
        from pytest_bytecode.engine.persist import dumps_plans

        return dumps_plans(self._readers)

    def supply_plans(self, load: Callable[[], bytes | None]) -> None:
        """Where the read plans of a handle loaded without them come from:
        ``load`` returns what :meth:`dumps_plans` wrote (or None), called at
        most once, when counts are first read.  Plans it cannot give are
        worked out anew from the code."""
        if self._made is None:
            self._supply = load  # given to the readers when they are made
        else:
            self._give_plans(self._made, load)

    @staticmethod
    def _give_plans(
        readers: list[tuple[tuple[int, ...], CountReader]], load: Callable[[], bytes | None]
    ) -> None:
        from pytest_bytecode.engine.persist import loads_plans
        from pytest_bytecode.engine.readplan import PlanSupply

        def states() -> tuple[object, ...] | None:
            data = load()
            if data is None:
                return None
            try:
                return loads_plans(data)
            except ValueError:
                return None

        supply = PlanSupply(states, len(readers))
        for index, (_, reader) in enumerate(readers):
            reader.supply = (supply, index)


def state_difference(after: RawState, before: RawState) -> RawState:
    """What happened between two states of one tree: ``after - before``."""
    return _combine(after, before, -1)


def state_sum(one: RawState, other: RawState) -> RawState:
    """Both states' counting together: ``one + other``."""
    return _combine(one, other, 1)


def _combine(one: RawState, other: RawState, sign: int) -> RawState:
    values = [a + sign * b for a, b in zip(one[0], other[0], strict=True)]
    tables: dict[int, dict[int, int]] = {}
    for index in one[1].keys() | other[1].keys():
        mine, theirs = one[1].get(index, {}), other[1].get(index, {})
        table = {site: mine.get(site, 0) + sign * theirs.get(site, 0) for site in mine | theirs}
        table = {site: n for site, n in table.items() if n}
        if table:
            tables[index] = table
    return values, tables


def loads(data: bytes) -> Instrumented:
    """Load what :meth:`Instrumented.dumps` wrote, with fresh zero counters.

    Raises ValueError for anything else, including data written by another
    Python version or engine format.  The readers and the original code are
    read when first needed (:mod:`~pytest_bytecode.engine.persist`), and
    checked then: reading counts raises ValueError if their part is not
    what :meth:`~Instrumented.dumps` wrote.
    """
    from pytest_bytecode.engine.persist import loads as _loads

    with gc_paused():
        return Instrumented._loaded(_loads(data))


def _instrument_tree(
    code: CodeType,
    path: tuple[int, ...],
    readers: list[tuple[tuple[int, ...], CountReader]],
    probe_by_for_iter: bool,
    prepare: bool,
) -> CodeType:
    slot = len(readers)
    readers.append((path, None))  # type: ignore[arg-type]  # filled in below, keeps root first
    consts = list(code.co_consts)
    for index, const in enumerate(consts):
        if isinstance(const, CodeType):
            consts[index] = _instrument_tree(
                const, (*path, index), readers, probe_by_for_iter, prepare
            )
    new_code, reader = instrument_code(code, consts, probe_by_for_iter, prepare)
    readers[slot] = (path, reader)
    return new_code


def instrument(
    code: CodeType, *, probe_by_for_iter: bool | None = None, prepare: bool = False
) -> Instrumented:
    """Instrument ``code`` and every code object among its constants.

    ``probe_by_for_iter``: the probe form, ``FOR_ITER`` over the counter or
    ``None in counter``; by default the engine's choice for the running
    version (``engine.instrument.DEFAULT_PROBE_BY_FOR_ITER``).  Benchmarks
    and tests set it to compare the forms; ``True`` is not valid code on
    3.14+ (``versions.FOR_ITER_PROBE_POSSIBLE``), ``False`` needs counters
    that count down (``versions.COUNT_DOWN``: not on 32-bit 3.10-3.13).

    ``prepare``: work out every code object's read plan now
    (:mod:`~pytest_bytecode.engine.readplan`), from the analysis the
    rewriter makes anyway, rather than when counts are first read: what a
    caller that will :meth:`~Instrumented.dumps` the result wants (the
    plans are stored with it, and a load of it reads counts without
    decoding or analysing anything).

    The cyclic garbage collector is paused meanwhile (:func:`gc_paused`).
    """
    if probe_by_for_iter is None:
        probe_by_for_iter = DEFAULT_PROBE_BY_FOR_ITER
    if not probe_by_for_iter and not versions.COUNT_DOWN:
        raise ValueError(
            "probe_by_for_iter=False: the CONTAINS_OP probe needs counters that count "
            "down (64-bit builds, or 3.14+); this build counts up"
        )
    readers: list[tuple[tuple[int, ...], CountReader]] = []
    with gc_paused():
        new_code = _instrument_tree(code, (), readers, probe_by_for_iter, prepare)
    return Instrumented(new_code, readers, code)


def instrument_function(func: Callable[..., Any]) -> Instrumented:
    """Replace ``func.__code__`` with instrumented code; return its handle."""
    inst = instrument(func.__code__)
    func.__code__ = inst.code
    return inst


def iter_code_tree(
    code: CodeType, path: tuple[int, ...] = ()
) -> Iterator[tuple[tuple[int, ...], CodeType]]:
    """Every code object in ``code``'s tree with its path, root first."""
    yield path, code
    for index, const in enumerate(code.co_consts):
        if isinstance(const, CodeType):
            yield from iter_code_tree(const, (*path, index))
