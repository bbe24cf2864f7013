"""What ran between two moments: per code object, which instructions and
branch outcomes.

Per-test contexts ask this around every phase of every test, so a look that
finds nothing new must be cheap: one C-speed pass over every counter's mark
(:func:`~pytest_bytecode.engine.counts.probe_marks`) and over every raise
table's length, compared with those of the last look, and over the totals
of the few tables that hold records.  Only the code objects whose counters
or raise tables moved have their counts worked out, for the difference
alone (counts are linear in the probes and the raise records, and never go
down).

The answer is a bit set per code object (a Python ``int``): bit ``i`` for
its ``i``-th instruction (in :meth:`~pytest_bytecode.engine.Instrumented.counts`
order), then two bits per conditional jump, fall-through before jump.  See
:func:`ran_bits`.
"""

from __future__ import annotations

import gc
import sys
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from operator import sub
from types import CodeType, FrameType, FunctionType
from typing import Any, Protocol

from pytest_bytecode import versions
from pytest_bytecode.engine import MONITORING_NAME
from pytest_bytecode.engine.counts import Counter, new_counter, probe_marks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pytest_bytecode.engine.model import BranchCount, InstructionCount


class Watchable(Protocol):
    """What :class:`Activity` reads of an :class:`~pytest_bytecode.engine.Instrumented`."""

    @property
    def counters(self) -> list[Counter]: ...

    @property
    def raise_tables(self) -> list[dict[int, int]]: ...

    def spans(self) -> list[tuple[int, int, int, int]]: ...

    def code_objects(self) -> list[CodeType]: ...

    def code_counts_from(
        self, index: int, values: Sequence[int], raises: Sequence[Mapping[int, int]]
    ) -> tuple[tuple[InstructionCount, ...], tuple[BranchCount, ...]]: ...

    def code_bits_from(self, index: int, values: Sequence[int]) -> int | None: ...


#: ``(handle index, code object index in its tree, bits)``: what one look found.
Ran = tuple[int, int, int]

#: The ``_monitoring()`` tool ids tried for start hints (0, 1, 2 and 5 are
#: the debugger's, coverage's, the profiler's and the optimizer's); the
#: name taken is :data:`~pytest_bytecode.engine.MONITORING_NAME`.
MONITORING_TOOLS = (3, 4)

#: Every how many looks the looking thread's own stack is walked when
#: nothing says it must be (see :meth:`Activity._on_stacks`).
WALK_EVERY = 16

#: The moved raise tables of a code object that has none.
_NO_TABLES: frozenset[int] = frozenset()

#: How many (code object, steps) -> bits answers are kept.
KNOWN_STEPS = 65536


def ran_bits(instructions: Sequence[InstructionCount], branches: Sequence[BranchCount]) -> int:
    """The bit set of what has a count above zero: bit ``i`` for instruction
    ``i``, then bits ``n + 2j`` (fell through) and ``n + 2j + 1`` (jumped)
    for conditional jump ``j``, where ``n`` is the number of instructions."""
    bits = 0
    for i, ins in enumerate(instructions):
        if ins.count > 0:
            bits |= 1 << i
    n = len(instructions)
    for j, branch in enumerate(branches):
        fall, jump = branch.outcomes
        if fall.count > 0:
            bits |= 1 << (n + 2 * j)
        if jump.count > 0:
            bits |= 1 << (n + 2 * j + 1)
    return bits


#: How many values :func:`_changed` compares at once.
CHUNK = 64


def _changed(now: list[int], then: list[int]) -> list[int]:
    """The indexes where two lists of one length differ: compared a chunk at a
    time (C speed), then one by one inside the few chunks that differ."""
    found: list[int] = []
    for start in range(0, len(now), CHUNK):
        end = start + CHUNK
        if now[start:end] != then[start:end]:
            found.extend(i for i in range(start, min(end, len(now))) if now[i] != then[i])
    return found


#: An object's identity as an int, unique among live objects, as ``id()``
#: is, without the audit event ``id()`` raises: with an audit hook in the
#: process (the tracer watch keeps one), each event costs a call of it, and
#: the start hints key every code object that starts this way, at every look.
#: (Code objects hash their contents; ``object.__hash__`` hashes the address.)
_identity: Callable[[object], int] = object.__hash__


def _monitoring() -> Any:
    """``sys.monitoring`` (3.12+; typed loosely: mypy reads this as 3.10)."""
    return sys.monitoring  # type: ignore[attr-defined]


#: Set by the audit hook when a code object of a watched file was made with
#: ``CodeType`` or ``code.replace()`` (event ``code.__new__``): it may be a
#: copy of a watched one (``types.coroutine`` makes one), running on its
#: counters.
_code_made = [False]
_audit_hooked = [False]
#: The files of the watched code objects: a code object made for another
#: file is no copy of one (the event names its file, second).
_watched_files: set[str] = set()


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "code.__new__" and len(args) > 1 and args[1] in _watched_files:
        _code_made[0] = True


class _Hints:
    """3.12+: the watched code objects that started, resumed or had an
    exception thrown in since the last :meth:`take`, told by
    ``sys.monitoring`` under a tool id of its own, as local events of the
    watched code objects.  Each start switches its code object's events off
    until :meth:`take` turns them on again, so a function called a million
    times in a phase costs one callback.  :meth:`take` turns on only the
    code objects that started: ``DISABLE`` and ``restart_events()`` would
    do it too, but a restart makes every code object that runs afterwards,
    the test runner's included, check its instrumentation again.  A copy of a watched code
    object (``code.replace()``) runs on its counters without its events:
    after any code object was made, :meth:`take` looks for functions running
    such a copy and listens to it too."""

    def __init__(self, activity: Activity, tool: int) -> None:
        self._index = activity._code_index
        #: id of each code object's first counter -> its index (copies).
        self._by_counter: dict[int, int] = {}
        #: Every code object listened to (they stay alive: ids are keys).
        self._listened: list[CodeType] = []
        self._tool = tool
        #: The code objects whose start events fired (each is off until taken).
        self._fired: list[CodeType] = []
        #: Watched code objects that ran without a start event since the last
        #: take: an exception was thrown into them, or a copy of them was found.
        self._unheard: set[int] = set()
        monitoring = _monitoring()
        events = monitoring.events
        self._local: int = events.PY_START | events.PY_RESUME
        for event in (events.PY_START, events.PY_RESUME):
            monitoring.register_callback(tool, event, self._start)
        monitoring.register_callback(tool, events.PY_THROW, self._throw)
        monitoring.set_events(tool, events.PY_THROW)
        if not _audit_hooked[0]:
            sys.addaudithook(_audit)
            _audit_hooked[0] = True

    @classmethod
    def start(cls, activity: Activity) -> _Hints | None:
        """Hints under a free tool id, or None (before 3.12, or none free)."""
        if not versions.HAS_SYS_MONITORING:
            return None
        monitoring = _monitoring()
        for tool in MONITORING_TOOLS:
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, MONITORING_NAME)
                return cls(activity, tool)
        return None

    def listen(self, code: CodeType, index: int, first_counter: object | None) -> None:
        """Be told when ``code`` (watched code object ``index``) starts or resumes."""
        self._index[_identity(code)] = index
        self._listened.append(code)  # alive while its id is a key
        if first_counter is not None:
            self._by_counter[_identity(first_counter)] = index
        _watched_files.add(code.co_filename)
        _monitoring().set_local_events(self._tool, code, self._local)

    def _find_copies(self) -> None:
        """Listen to the copies of watched code objects that functions hold;
        the code objects they copy may have run meanwhile (unheard)."""
        index, by_counter = self._index, self._by_counter
        for obj in gc.get_objects():
            if type(obj) is not FunctionType:
                continue
            code = obj.__code__
            if _identity(code) in index:
                continue
            for const in code.co_consts:
                found = by_counter.get(_identity(const))
                if found is not None:
                    self.listen(code, found, None)
                    self._unheard.add(found)
                    break

    def _start(self, code: CodeType, offset: int) -> None:
        # Switched off here, before it is noted, rather than by returning
        # DISABLE: CPython applies a DISABLE after the callback returns, which
        # (a thread switch in between) can be after a take() on another
        # thread turned the events on again, leaving them off for good.
        _monitoring().set_local_events(self._tool, code, 0)
        self._fired.append(code)

    def _throw(self, code: CodeType, offset: int, exception: BaseException) -> None:
        index = self._index.get(_identity(code))
        if index is not None:
            self._unheard.add(index)

    def take(self) -> tuple[set[int], bool]:
        """What started since the last call, and whether a code object was
        made meanwhile (a copy may have run unheard: read everything); the
        starts of what started are told again from now on."""
        made = _code_made[0]
        if made:
            _code_made[0] = False
            self._find_copies()
        fired, self._fired = self._fired, []
        started, self._unheard = self._unheard, set()
        monitoring, tool, local, index = _monitoring(), self._tool, self._local, self._index
        # Once per code object (a generator's start and resumes), keyed by
        # id: a code object's hash is worked out anew from its contents.
        for code in {_identity(code): code for code in fired}.values():
            found = index.get(_identity(code))
            if found is None:
                continue  # listened to by an earlier Activity (3.12-3.13 keep that)
            monitoring.set_local_events(tool, code, local)
            started.add(found)
        return started, made

    def close(self) -> None:
        """Switch the events off and give the tool id back (3.12 and 3.13
        keep a code object's local events after the tool id is freed)."""
        monitoring = _monitoring()
        events = monitoring.events
        for code in self._listened:
            monitoring.set_local_events(self._tool, code, 0)
        monitoring.set_events(self._tool, 0)
        for event in (events.PY_START, events.PY_RESUME, events.PY_THROW):
            monitoring.register_callback(self._tool, event, None)
        monitoring.free_tool_id(self._tool)


class Activity:
    """Watches instrumented trees; :meth:`look` says what ran since the last look.

    Handles are added as they come (:meth:`watch`); a handle's counts from
    before it was added count as its first look's news.  Every handle's
    counters and raise tables are kept in one flat list each, so that a look
    that finds nothing is a few C-speed passes whatever the number of
    handles; code objects are found in them by bisection.
    """

    def __init__(self, *, hints: bool = True) -> None:
        self._handles: list[Watchable] = []
        self._counters: list[Counter] = []
        self._marks: list[int] = []  # per counter, as of the last look
        self._tables: list[dict[int, int]] = []
        self._lens: list[int] = []  # per raise table, as of the last look
        #: The raise tables that hold records (flat index, the table, a copy
        #: as of the last look), and their totals as of the last look.
        self._held: list[int] = []
        self._held_tables: list[dict[int, int]] = []
        self._held_totals: list[int] = []
        self._copies: dict[int, dict[int, int]] = {}
        #: Per code object of every handle, in order: where its counters and
        #: raise tables start in the flat lists, and (handle, index in tree).
        self._counter_starts: list[int] = []
        self._table_starts: list[int] = []
        self._codes: list[tuple[int, int, tuple[int, int, int, int]]] = []
        #: (code object, steps) -> bits, for steps without raises seen before.
        self._known: dict[tuple[int, tuple[int, ...]], int] = {}
        #: 3.12+: which code objects started, from ``_monitoring()``
        #: (None: every look reads every counter).
        self._code_index: dict[int, int] = {}  # by _identity(code object)
        self._hints = _Hints.start(self) if hints else None
        self._unseen: set[int] = set()
        #: Found on another thread's stack at the last look: such a frame may
        #: run on and end before this look without a start event.
        self._elsewhere: set[int] = set()
        #: The thread the last look ran in, and whether its stack then held
        #: a frame of a watched code object (see :meth:`_on_stacks`).
        self._looker: int | None = None
        self._looker_held = False
        self._looks = 0
        self._totals: dict[int, int] = {}  # per raise table that holds records

    def __len__(self) -> int:
        return len(self._handles)

    def __enter__(self) -> Activity:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def watch(self, handle: Watchable) -> None:
        """Watch ``handle`` too; it is known by its index, in the order added."""
        h = len(self._handles)
        self._handles.append(handle)
        v0, t0 = len(self._counters), len(self._tables)
        for c, span in enumerate(handle.spans()):
            a, _, t, _ = span
            self._counter_starts.append(v0 + a)
            self._table_starts.append(t0 + t)
            self._codes.append((h, c, span))
        self._counters.extend(handle.counters)
        # Counted since the handle was made: a handle first seen in the
        # middle of a phase may already have run in it.
        self._marks.extend(probe_marks([new_counter()]) * len(handle.counters))
        self._tables.extend(handle.raise_tables)
        self._lens.extend([0] * len(handle.raise_tables))
        first = len(self._codes) - len(handle.spans())
        self._unseen.update(range(first, len(self._codes)))
        if self._hints is not None:
            codes = handle.code_objects()
            if len(codes) != len(handle.spans()):  # not the tree it counts: read it all
                self.close()
                return
            counters = handle.counters
            for i, (code, (a, b, _, _)) in enumerate(zip(codes, handle.spans(), strict=True)):
                self._hints.listen(code, first + i, counters[a] if b > a else None)

    def look(self, *, everything: bool = False) -> list[Ran]:
        """What ran since the last look, one entry per code object that ran
        (``everything``: reading every code object, whatever the start
        hints say: the last look of a run)."""
        if self._hints is not None:
            return self._look_hinted(self._hints, everything)
        marks = probe_marks(self._counters)
        lens = list(map(len, self._tables))
        totals = list(map(sum, map(dict.values, self._held_tables)))
        if marks == self._marks and lens == self._lens and totals == self._held_totals:
            return []
        # The counters and tables that moved, found at C speed, each placed
        # in its code object by bisection.
        tables = set(_changed(lens, self._lens))
        tables.update(
            t for t, n, m in zip(self._held, totals, self._held_totals, strict=True) if n != m
        )
        codes = {bisect_right(self._counter_starts, i) - 1 for i in _changed(marks, self._marks)}
        codes.update(bisect_right(self._table_starts, t) - 1 for t in tables)
        found: list[Ran] = []
        for code in sorted(codes):
            v, n = self._counter_starts[code], self._codes[code][2][1] - self._codes[code][2][0]
            bits = self._ran(code, marks[v : v + n], self._marks[v : v + n], tables)
            if bits:
                h, c, _ = self._codes[code]
                found.append((h, c, bits))
        for t in sorted(tables - set(self._held)):
            self._held.append(t)
            self._held_tables.append(self._tables[t])
        self._held_totals = list(map(sum, map(dict.values, self._held_tables)))
        self._marks = marks
        self._lens = lens
        return found

    def _look_hinted(self, hints: _Hints, everything: bool) -> list[Ran]:
        """:meth:`look`, reading only the code objects that can have run:
        those that started or resumed (``_monitoring()``'s word), those on
        some thread's stack, and those of handles new since the last look."""
        started, made = hints.take()
        if made or everything:  # made: a copy may have run unheard
            candidates = set(range(len(self._codes)))
        else:
            elsewhere = self._elsewhere
            candidates = started | self._unseen | self._on_stacks(bool(self._unseen)) | elsewhere
        self._unseen = set()
        found: list[Ran] = []
        for code in sorted(candidates):
            _, c, (a, b, t0, t1) = self._codes[code]
            v, t = self._counter_starts[code], self._table_starts[code]
            now = probe_marks(self._counters[v : v + b - a])
            then = self._marks[v : v + b - a]
            tables = (
                {
                    x
                    for x in range(t, t + t1 - t0)
                    if len(self._tables[x]) != self._lens[x]
                    or (x in self._copies and sum(self._tables[x].values()) != self._totals[x])
                }
                if t1 > t0
                else _NO_TABLES
            )
            if now == then and not tables:
                continue
            bits = self._ran(code, now, then, tables)
            self._marks[v : v + b - a] = now
            for x in tables:
                self._lens[x] = len(self._tables[x])
                self._totals[x] = sum(self._copies[x].values())
            if bits:
                found.append((self._codes[code][0], c, bits))
        return found

    def _on_stacks(self, new_handles: bool) -> set[int]:
        """The watched code objects with a frame on some thread's stack: they
        run on without a start event (a frame that spans a phase).  Those on
        another thread's stack are read at the next look too
        (``_elsewhere``): such a frame may run on and end before it.

        Every other thread's stack is walked.  The looking thread's stack is
        walked at the first look, after new handles (their code objects had
        no events on before), when the look comes from another thread, while
        a walk keeps finding such a frame there, and every
        :data:`WALK_EVERY` looks.  Walking it is what costs: every frame of
        the test runner made since the last look gets a frame object.  On
        the looking thread, a watched frame begun since the last look started
        an event, and one that was there at the last look and was found is
        read again; what is left is one begun after the last walk that stays
        under several looks, which only a frame that drives several phases
        itself does (a measured pytest plugin's own run-test loop).  What it
        runs between looks is read when its code starts again, when a walk
        finds it (within :data:`WALK_EVERY` looks), or at the last look,
        which reads everything (``look(everything=True)``)."""
        found: set[int] = set()
        elsewhere: set[int] = set()
        index = self._code_index
        me = threading.get_ident()
        self._looks += 1
        walk_mine = (
            new_handles or self._looker != me or self._looker_held or self._looks % WALK_EVERY == 0
        )
        for thread, frame in sys._current_frames().items():
            mine = thread == me
            if mine and not walk_mine:
                continue
            held = False
            f: FrameType | None = frame
            while f is not None:
                code = index.get(_identity(f.f_code))
                if code is not None:
                    found.add(code)
                    held = True
                    if not mine:
                        elsewhere.add(code)
                f = f.f_back
            if mine:
                self._looker_held = held
        self._looker = me
        self._elsewhere = elsewhere
        return found

    def close(self) -> None:
        """Stop listening to ``sys.monitoring`` (if it did): later looks
        read every counter."""
        if self._hints is not None:
            self._hints.close()
            self._hints = None
            self._held = sorted(self._copies)
            self._held_tables = [self._tables[t] for t in self._held]
            self._held_totals = [sum(self._copies[t].values()) for t in self._held]

    def _ran(
        self, code: int, now: list[int], then: list[int], moved_tables: set[int] | frozenset[int]
    ) -> int:
        """The bits of code object ``code`` (its index among all watched)
        for what ran since the last look, its counters' marks being ``now``
        and ``then`` as of the last look; the copies of its raise tables move
        on to now."""
        h, c, (_, _, t0, t1) = self._codes[code]
        t = self._table_starts[code]
        # Marks and values differ by a constant (or not at all), with one
        # sign: the difference of values is that of marks, in either order.
        # (Maps, not a comprehension: C speed.  The lengths are equal: both
        # are this code object's counters.)
        steps = tuple(map(abs, map(sub, now, then)))
        raises: list[dict[int, int]] = [] if moved_tables else [{}] * (t1 - t0)
        for table in range(t, t + t1 - t0) if moved_tables else ():
            if table not in moved_tables:
                raises.append({})
                continue
            before = self._copies.get(table, {})
            records = dict(self._tables[table])
            raises.append({site: n - before.get(site, 0) for site, n in records.items()})
            self._copies[table] = records
        handle = self._handles[h]
        if any(raises):
            instructions, branches = handle.code_counts_from(c, steps, raises)
            return ran_bits(instructions, branches)
        # Tests that take one path through a function the same number of
        # times (most of them) give the same steps: their bits are kept.
        key = (code, steps)
        bits = self._known.get(key)
        if bits is None:
            bits = handle.code_bits_from(c, steps)
            if bits is None:
                instructions, branches = handle.code_counts_from(c, steps, raises)
                bits = ran_bits(instructions, branches)
            if len(self._known) < KNOWN_STEPS:
                self._known[key] = bits
        return bits
