"""Rewrite a code object with counting probes and read the counts back.

The path of one code object:

1. :func:`~pytest_bytecode.engine.decode.scan` finds the instructions that
   shape control flow, and nothing else;
2. :func:`~pytest_bytecode.engine.analysis.analyse` finds which handler
   covers which code, splits the code into basic blocks
   (:func:`~pytest_bytecode.engine.blocks.build`) and chooses the edges of
   the flow graph that get a probe, the chords of a maximum spanning tree
   (:func:`~pytest_bytecode.engine.plan.plan_flow`);
3. :class:`_Rewriter` walks the blocks in order and tells a
   :class:`~pytest_bytecode.engine.assemble.Splice` what goes between the
   original units, which are kept as they are:

   * a **block probe**, one step of its counter (``FOR_ITER`` over it up to
     3.13, ``None in counter`` from 3.14: see :data:`DEFAULT_PROBE_BY_FOR_ITER`),
     after the glued prefix of every block whose entry is a chord;
   * a **fall probe** right after a block whose way on into the next block
     is a chord (jumps to the next block land after it);
   * for every exception handler, a **handler stub** placed just before it,
     and one **catch-all stub** covering code no handler covers.  A stub
     records which instruction raised (the ``lasti`` the exception table
     pushes on 3.11-3.13, the traceback's ``tb_lasti`` on 3.10 and 3.14+)
     and then carries on exactly as before: into the original handler, or
     ``RERAISE 1`` out of the frame with the traceback untouched and
     ``f_lasti`` back where the exception was raised (3.10 has
     no exception table: one ``SETUP_FINALLY`` after the glued prefix sends
     exceptions to the catch-all stub; it sits before the first block's
     label, so that a loop jumping back there does not push it again);

   and which jumps must be aimed again, and at what;
4. :func:`~pytest_bytecode.engine.assemble.assemble` re-aims the jumps and
   writes the tables, and
   :class:`~pytest_bytecode.engine.counts.CountReader` reads the counts back.
   It keeps the original code, the counters and two integers per piece of
   the new code, and the code's read plan
   (:mod:`~pytest_bytecode.engine.readplan`): the decoded instructions and
   the analysis of step 2, flat, made when counts are first read or, when
   asked (for the instrumentation cache), right here from step 2's analysis.

Counts are then exact: the stubs' records give every handler's entries and
every exception raised in the middle of a block, the probes give the chords,
conservation of flow gives every other edge, and an instruction ran as often
as its block was entered, minus the exceptions raised by earlier
instructions of the block.  An exception re-raised by ``RERAISE`` reaches a
second stub with the lasti of the instruction that first raised it; it is a
new raise only at the stub whose exception-table entry covers that
instruction, so re-raises are not counted twice.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import partial
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.analysis import UNCOVERED, Analysis, HandlerKey, analyse
from pytest_bytecode.engine.assemble import (
    AT,
    BEFORE,
    BODY_PROBE,
    ENTRY,
    FALL_PROBE,
    GLUED_PROBE,
    IGNORE,
    LABEL,
    OWN,
    Layout,
    Splice,
    assemble,
    build_code,
    encode,
)
from pytest_bytecode.engine.blocks import Block, entry_glue
from pytest_bytecode.engine.counts import (
    AnyRaiseTable,
    Counter,
    CountReader,
    RaiseHolder,
    RaiseTable,
    new_counter,
)
from pytest_bytecode.engine.decode import scan
from pytest_bytecode.engine.tables import (
    ExceptionEntry,
    encode_exception_table,
    grow_locations,
    without_line,
    without_position,
    without_positions,
)

#: Stack slots a probe needs on top of whatever the code has pushed.
PROBE_STACK = 3

#: Stack slots a stub needs above its handler's depth: what the interpreter
#: pushes when it enters a handler (3.11+: lasti and the exception; 3.10: the
#: previous and the current exception triples), plus the stub's own work.
#: 3.14+: the reads of ``tb_lasti`` (:func:`_read_chain_steps`) need six above
#: the exception.
STUB_STACK = 11 if not versions.HANDLER_GETS_LASTI else 6 if versions.LASTI_IS_OBJECT else 8
#: 3.14+: what a stub of code with a bare ``raise`` needs on top of that (its
#: own-frame check reads four attributes in a row, ten above the exception).
BARE_STUB_EXTRA = 0 if versions.LASTI_IS_OBJECT or not versions.HAS_EXCEPTION_TABLE else 4

#: Raise-table key of an exception that reached a stub without a traceback
#: (3.14+): it enters the handler, but no instruction of the code raised it.
NO_SITE = -1

_OP = versions.OPMAP

#: The probe form the engine uses unless told otherwise (``instrument(code,
#: probe_by_for_iter=...)``; ``bench_engine.py probes`` builds both forms to
#: compare them).  The probe is ``FOR_ITER`` over the counter wherever that
#: is valid code (:data:`versions.FOR_ITER_PROBE_POSSIBLE`): it calls the
#: iterator slot directly, which is cheaper than a call to ``next``, raises
#: no ``sys.setprofile`` or ``sys.monitoring`` CALL event, and (3.10) does
#: not count against the recursion limit, where a C call would raise
#: RecursionError one frame early.  On 3.12-3.13 a tool that asks
#: ``sys.monitoring`` for BRANCH events sees the probes' ``FOR_ITER``
#: (coverage.py's sysmon core measures no branches before 3.14).  From 3.14
#: the probe is ``None in counter`` (``CONTAINS_OP``): a ``repeat`` has no
#: ``__contains__``, so the search takes one step of it, whose ``None`` is
#: the value sought.  No call either: no CALL or C_RETURN event, no
#: ``sys.setprofile`` event, and no check for pending signals, which a
#: ``CALL`` makes (a delegation loop, ``SEND`` to
#: ``JUMP_BACKWARD_NO_INTERRUPT``, makes none, so that a signal reaches the
#: innermost generator); and coverage.py, which measures branches there
#: with BRANCH_LEFT and BRANCH_RIGHT events, would attribute a ``FOR_ITER``
#: probe's to the code under test.
DEFAULT_PROBE_BY_FOR_ITER: bool = versions.FOR_ITER_PROBE_POSSIBLE

#: Probe bytes by (form, index of ``None``, index of the counter) in
#: co_consts: they repeat from one code object to the next, and one process
#: may build both forms.
_PROBES: dict[tuple[bool, int, int], bytes] = {}
#: Stub bytes where a stub is one piece (all but 3.14+), by (index of its
#: raise table, index of the constant 1, whether the entry pushes lasti,
#: and on 3.10 the indexes of the two names it reads).
_STUBS: dict[tuple[int, ...], bytes] = {}


class _Rewriter:
    """Plans and emits the probes of one code object (see module docstring)."""

    def __init__(
        self,
        code: CodeType,
        consts: list[object] | None = None,
        probe_by_for_iter: bool = DEFAULT_PROBE_BY_FOR_ITER,
        prepare: bool = False,
    ) -> None:
        self.code = code
        self.probe_by_for_iter = probe_by_for_iter
        self.prepare = prepare
        self.raw = code.co_code  # a fresh copy on every access from 3.11
        self.ops, self.flow_instrs = scan(self.raw)
        self.consts: list[object] = list(code.co_consts) if consts is None else consts
        self.names: tuple[str, ...] | list[str] = code.co_names  # a list once added to
        self.counters: list[Counter] = []
        self.raises: list[AnyRaiseTable] = []
        #: Exception-table entries of the stubs that hand their exception on
        #: to the handler by ``RERAISE`` (see :func:`_hands_over`).
        self.handovers: list[ExceptionEntry] = []
        self._none_const = self._const(None)
        self._one_const = self._const(1)
        self._once = -1
        # 3.10, 3.14+: whether the code re-raises with a bare ``raise`` (see _stub).
        self._bare = not versions.LASTI_IS_OBJECT and any(
            s.name == "RAISE_VARARGS" and not self.raw[2 * s.unit + 1] for s in self.flow_instrs
        )

    def _const(self, value: object) -> int:
        self.consts.append(value)
        return len(self.consts) - 1

    def _probe(self) -> bytes:
        """A new counter and the code that takes one step of it."""
        counter = new_counter()
        self.counters.append(counter)
        consts = self.consts
        consts.append(counter)
        arg_const = len(consts) - 1
        key = (self.probe_by_for_iter, self._none_const, arg_const)
        raw = _PROBES.get(key)
        if raw is not None:
            return raw
        steps: list[tuple[str, int]] = []
        if self.probe_by_for_iter:
            # [count] -> FOR_ITER -> [count, n]; never exhausted.  Its target
            # is the probe's own first POP_TOP: 3.12-3.13's sys.monitoring
            # makes the instruction after a FOR_ITER's target (where an
            # exhausted loop goes on, past END_FOR) a line start, and the
            # instruction after the probe may be one that must stay itself:
            # a RESUME replaced by INSTRUMENTED_LINE makes gen.close() throw
            # GeneratorExit into a generator that plain code just clears
            # (an 'exception' trace event, and its handlers run).  Within the
            # probe, the line start is the second POP_TOP, which has the
            # probe's line: no line event, nothing changed.
            #
            # 3.10-3.11 (versions.PROBE_FOR_ITER_PAST): the target is past
            # the probe instead, where the stack is what the f_lineno setter
            # takes a FOR_ITER's target to hold (the iterator popped).  Its
            # model of the stack gives each unit what the last unit to reach
            # it gave, so a FOR_ITER aimed at its own next unit would leave
            # the code after it modelled one value short, and a debugger's
            # jump from or to there refused or popped wrongly.  (The stubs'
            # FOR_ITERs that are never exhausted aim at the stub's end: see
            # _never_exhausted.)
            past = 2 if versions.PROBE_FOR_ITER_PAST else 0
            steps = [("LOAD_CONST", arg_const), ("FOR_ITER", past), ("POP_TOP", 0), ("POP_TOP", 0)]
        else:
            # [None, counter] -> CONTAINS_OP -> [True]: one step of the
            # counter (an exhausted one, 32-bit 3.14+, answers False).
            steps = [
                ("LOAD_CONST", self._none_const),
                ("LOAD_CONST", arg_const),
                ("CONTAINS_OP", 0),
                ("POP_TOP", 0),
            ]
        raw = _steps(steps)
        if len(_PROBES) > 4096:
            _PROBES.clear()
        _PROBES[key] = raw
        return raw

    def _stub(self, stub: int, lasti: bool, depth: int = 0) -> bytes:
        """A new raise table for ``stub`` and the code that records
        ``raises[where] += 1`` in it, where a stub starts.

        3.11+: the stub is entered with [lasti, exc] on top of the stack.
        3.10: with [traceback, value, type]; the raise site is that
        traceback's ``tb_lasti`` (this frame's entry heads it).  The
        traceback is taken from the stack, not from the exception: its own
        attribute lookup (a user ``__getattribute__``, a ``__traceback__``
        property) must not run.  3.14+: with [lasti, exc], where lasti is no
        object; the site is the traceback's ``tb_lasti``, the traceback read
        by ``object.__getattribute__`` (see :meth:`_build_stub_314`).  An entry
        without ``lasti`` (3.11-3.13) has it dropped again at the end, by
        :data:`_DROP_LASTI` where the handler's ``depth`` leaves the
        f_lineno setter's model of a ``SWAP`` exact, else by handing the
        exception on to the handler with ``RERAISE`` (:func:`_hands_over`).

        3.10-3.11 (:data:`versions.STUB_MUST_NOT_CALL`): the stub may run
        while a RecursionError unwinds at the limit, so it calls nothing.
        Its table is a :class:`~pytest_bytecode.engine.counts.RaiseHolder`:
        ``FOR_ITER`` over it gives a plain dict, where ``in`` and a subscript
        are no calls; a site the dict lacks is tested for and stored as 1,
        never looked up.  The branch is relative (3.10: ``FOR_ITER`` over
        ``(None,) * found``), so the bytes stay the same wherever the stub
        goes.
        """
        raises = self.raises
        while len(raises) <= stub:  # stubs may come out of order
            raises.append(RaiseHolder() if versions.STUB_MUST_NOT_CALL else RaiseTable(int))
        const = self._const(raises[stub])
        # The bytes depend on the indexes in the key and nothing else (3.10
        # and 3.14+ read attributes by name; their indexes vary).  Each
        # family adds the indexes it needs to the key, in a fixed order.
        key: tuple[int, ...] = (const, self._one_const, lasti)
        # 3.11: whether the stub's own swaps would reach deeper than the
        # f_lineno setter models a SWAP (:data:`_SWAP_DEEP` then).
        reach = versions.STUB_INNER_SWAP_REACH
        swap_deep = reach > 0 and depth + reach > versions.SETTER_SWAP_ITEMS
        drops = not lasti and versions.EVERY_ENTRY_PUSHES_LASTI
        hand_over = _hands_over(lasti, depth)
        build: Callable[[tuple[int, ...]], bytes]
        if not versions.HAS_EXCEPTION_TABLE:
            build, key = self._stub_310(const, key)
        elif not versions.LASTI_IS_OBJECT:
            build, key = self._stub_314(const, key)
        elif versions.STUB_MUST_NOT_CALL:
            build = partial(self._stub_311, deep=swap_deep)
        else:
            build = self._stub_312_313
        cache_key = (*key, swap_deep, hand_over)
        cached = _STUBS.get(cache_key)
        if cached is not None:
            return cached
        raw = build(key)
        if drops:
            raw += _HAND_OVER if hand_over else _DROP_LASTI
        if len(_STUBS) > 4096:
            _STUBS.clear()
        _STUBS[cache_key] = raw
        return raw

    def _stub_311(self, key: tuple[int, ...], deep: bool) -> bytes:
        """3.11's stub: [lasti, exc] on top; it calls nothing (see :meth:`_stub`).

        Its two swaps hold four items above the handler's level; where that
        reaches deeper than the f_lineno setter models a ``SWAP`` (``deep``),
        each is :data:`_SWAP_DEEP` instead."""
        const = key[0]
        subscr, subscr_arg = versions.SUBSCR_INSTR
        add, add_arg = versions.ADD_INSTR
        swap = _SWAP_DEEP if deep else _steps([("SWAP", 2)])
        # After FOR_ITER over the holder (see the end):
        # [lasti, exc, holder, sites] -> [lasti, exc, sites, lasti in sites]
        found = swap + _steps([("POP_TOP", 0), ("COPY", 3), ("COPY", 2), ("CONTAINS_OP", 0)])
        # -> [lasti, exc, sites, times + 1]
        more = _steps(
            [
                ("COPY", 1),
                ("COPY", 4),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
            ]
        )
        first = _steps([("LOAD_CONST", self._one_const)])  # -> [lasti, exc, sites, 1]
        join = _steps([(versions.JUMP_FORWARD_OPNAME, len(first) >> 1)])
        branch = _steps([("POP_JUMP_FORWARD_IF_FALSE", (len(more) + len(join)) >> 1)])
        body = found + branch + more + join + first
        body += swap + _steps([("COPY", 4), ("STORE_SUBSCR", 0)])
        return _steps([("LOAD_CONST", const)]) + _never_exhausted(body)

    def _stub_312_313(self, key: tuple[int, ...]) -> bytes:
        """3.12-3.13's stub: [lasti, exc] on top, ``sites[lasti] += 1``."""
        const = key[0]
        subscr, subscr_arg = versions.SUBSCR_INSTR
        add, add_arg = versions.ADD_INSTR
        return _steps(
            [
                ("LOAD_CONST", const),
                ("COPY", 3),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("LOAD_CONST", const),
                ("COPY", 4),
                ("STORE_SUBSCR", 0),
            ]
        )

    def _stub_314(
        self, const: int, key: tuple[int, ...]
    ) -> tuple[Callable[[tuple[int, ...]], bytes], tuple[int, ...]]:
        """3.14+: the indexes the stub reads, added to ``key``, and its builder.

        With a bare ``raise``: the own-frame check's names and bounds and
        ``(None,)``; always: ``"tb_lasti"``, ``object.__getattribute__``,
        ``"__traceback__"`` and :data:`NO_SITE` (constants all: the stub
        reads both attributes by a call, so ``co_names`` gains no name
        unless there is a bare ``raise``).
        """
        if self._bare:
            frame_names, bounds = self._own_frame_check(const)
            key += (*frame_names, *bounds, self._once_const())
        key += (
            self._const("tb_lasti"),
            self._const(object.__getattribute__),
            self._const("__traceback__"),
            self._const(NO_SITE),
        )
        return self._build_stub_314, key

    def _build_stub_314(self, key: tuple[int, ...]) -> bytes:
        """3.14+'s stub: [(lasti,) exc] on top, lasti not an object (the
        entry pushes it only where the original entry did); the site is the
        traceback's ``tb_lasti``.

        An exception can arrive with no traceback (an ExceptionGroup that
        except* re-raises): it is recorded under NO_SITE, which is no
        instruction's, so that the records still count every entry.  The
        jumps are relative, so the bytes are the same anywhere.
        ``object.__getattribute__(exc, "__traceback__")``: the generic lookup,
        so that a user ``__getattribute__`` does not run; the traceback's
        ``tb_lasti`` is read the same way, not by ``LOAD_ATTR``, whose name
        would show in ``co_names`` (``inspect.getclosurevars`` lists it).
        Each is a C call that adds no frame and no profile event (only
        sys.monitoring's CALL and C_RETURN, documented).

        No ``SWAP``: the f_lineno setter's model of the stack (CPython's
        ``mark_stacks``) keeps only its low 32 bits across a ``SWAP``, ten
        items, and a stub of a deep handler swapping there left the model of
        the code after the handler wrong; a debugger's jump then popped the
        wrong number of values and the interpreter crashed.  Each read is
        :func:`_read_chain_steps`, which pushes its callables first.
        """
        const = key[0]
        subscr, subscr_arg = versions.SUBSCR_INSTR
        add, add_arg = versions.ADD_INSTR
        getattribute, tb_name, lasti_name, no_site = key[-3], key[-2], key[-4], key[-1]
        # [.., exc] -> [.., exc, tb_lasti]
        site = _steps(_read_chain_steps(getattribute, tb_name, [lasti_name]))
        no_tb = _steps([("LOAD_CONST", no_site)])  # [.., exc] -> [.., exc, NO_SITE]
        if self._bare:  # as on 3.10 (_build_stub_310): is the traceback's head this frame's?
            frame_names, bounds, once = key[3:6], key[6:9], key[9]
            mine = _steps(
                [
                    *_read_chain_steps(getattribute, tb_name, list(frame_names)),
                    *_is_sites_steps(bounds, once, const),
                ]
            )
            on = _steps([(versions.JUMP_FORWARD_OPNAME, len(no_tb) >> 1)])
            other = _steps([("POP_JUMP_IF_FALSE", (len(site) + len(on)) >> 1)])
            site = mine + other + site + on + no_tb
        # [.., exc] -> [.., exc, tb] -> [.., exc]; with a traceback the
        # branch is taken, and the site read falls through to the end: no
        # JUMP event on the way (test_engine_edges).
        tb = _steps(_read_chain_steps(getattribute, tb_name, []))
        join = _steps([(versions.JUMP_FORWARD_OPNAME, len(site) >> 1)])
        has_tb = _steps([("POP_JUMP_IF_NOT_NONE", (len(no_tb) + len(join)) >> 1)])
        head = tb + has_tb + no_tb + join + site
        return head + _steps(
            [
                ("LOAD_CONST", const),
                ("COPY", 2),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("LOAD_CONST", const),
                ("COPY", 3),
                ("STORE_SUBSCR", 0),
                ("POP_TOP", 0),
            ]
        )

    def _stub_310(
        self, const: int, key: tuple[int, ...]
    ) -> tuple[Callable[[tuple[int, ...]], bytes], tuple[int, ...]]:
        """3.10: the indexes the stub reads, added to ``key``, and its builder.

        ``tb_lasti`` and ``(None,)``; with a bare ``raise`` also the own-frame
        check's names and bounds and :data:`NO_SITE`.
        """
        once = self._once_const()
        key += (self._name("tb_lasti"), once)
        if self._bare:
            frame_names, bounds = self._own_frame_check(const)
            no_site = self._const(NO_SITE)
            key += (*frame_names, *bounds, no_site)
        return self._build_stub_310, key

    def _build_stub_310(self, key: tuple[int, ...]) -> bytes:
        """3.10's stub: [traceback, value, type] on top; it calls nothing."""
        const, tb_lasti, once = key[0], key[3], key[4]
        subscr, subscr_arg = versions.SUBSCR_INSTR
        add, add_arg = versions.ADD_INSTR
        # -> [tb, value, type, tb]
        head = _steps([("ROT_THREE", 0), ("ROT_THREE", 0), ("DUP_TOP", 0), ("ROT_FOUR", 0)])
        site = _steps([("LOAD_ATTR", tb_lasti)])
        if self._bare:
            frame_names, bounds, no_site = key[5:8], key[8:11], key[11]
            # A bare ``raise`` re-raises with the traceback as it was: its
            # head may be the frame that caught the exception, not this
            # one, and its tb_lasti an offset of that frame.  The head is
            # this frame's if this very table (``is``: tables of other
            # code may compare equal) is at ``const`` in the head frame's
            # co_consts (``(co_consts[const:const + 1] + (None,))[0]``: a
            # shorter co_consts is no IndexError, and no step is a call
            # that needs recursion headroom); otherwise the raise is recorded under NO_SITE,
            # no instruction's: the bare ``raise`` ends its block, so the
            # counts need only the entry.  (A frame of this same code
            # that caught it, in recursion, still passes for this one.)
            mine = _steps(
                [
                    *_own_frame_steps(("DUP_TOP", 0), frame_names, bounds, once, const),
                    ("LOAD_CONST", once),
                    ("BINARY_MULTIPLY", 0),
                    ("GET_ITER", 0),
                ]
            )
            own = _steps([("POP_TOP", 0), ("POP_TOP", 0)]) + site
            other = _steps([("POP_TOP", 0), ("LOAD_CONST", no_site)])
            join = _steps([(versions.JUMP_FORWARD_OPNAME, len(other) >> 1)])
            branch = _steps([("FOR_ITER", (len(own) + len(join)) >> 1)])
            site = mine + branch + own + join + other
        # -> [tb, value, type, site, holder], then after FOR_ITER over the
        # holder (see the end) -> [tb, value, type, sites, site, site in sites]
        lookup = head + site + _steps([("LOAD_CONST", const)])
        found = _steps(
            [
                ("ROT_TWO", 0),
                ("POP_TOP", 0),
                ("ROT_TWO", 0),
                ("DUP_TOP_TWO", 0),
                ("ROT_TWO", 0),
                ("CONTAINS_OP", 0),
                ("LOAD_CONST", once),
                ("BINARY_MULTIPLY", 0),
                ("GET_ITER", 0),
            ]
        )
        # [.., sites, site, iterator, None] -> [.., times + 1, sites, site]
        more = _steps(
            [
                ("POP_TOP", 0),
                ("POP_TOP", 0),
                ("DUP_TOP_TWO", 0),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("ROT_THREE", 0),
            ]
        )
        first = _steps([("LOAD_CONST", self._one_const), ("ROT_THREE", 0)])
        join = _steps([(versions.JUMP_FORWARD_OPNAME, len(first) >> 1)])
        branch = _steps([("FOR_ITER", (len(more) + len(join)) >> 1)])
        body = found + branch + more + join + first + _steps([("STORE_SUBSCR", 0)])
        return lookup + _never_exhausted(body)

    def _landing(self, splice: Splice, block: Block, falls_on: bool, send_end: int) -> None:
        """3.11: the landing in front of ``block``, the target of a SEND of a
        delegation loop (versions.THROW_RETURN_LANDS_BY_LOW_BYTE).

        ``gen.throw()`` into a delegate that returns moves the frame on by
        the low byte of the SEND's argument only, where plain code has no
        other byte.  So the landing's probe goes right after the loop, at
        that low byte, and ``block`` exactly 256 units further: then the
        SEND's argument is 256 + the low byte (one EXTENDED_ARG, added by
        the assembler), normal ends of the delegation jump to ``block``, and
        a return after ``gen.throw()`` runs the probe, which then jumps to
        ``block``.  Nothing else runs the 256 units of NOP in between.
        """
        start = block.start
        b = block.index
        forward = _OP[versions.JUMP_FORWARD_OPNAME]
        if falls_on:
            splice.insert_jump(start, OWN, forward, b, start)
        low = start + splice.shift - send_end
        if not 0 < low < 256:
            raise ValueError(f"a delegation loop of {low} units cannot have a landing")
        probe = self._probe()
        splice.insert(start, OWN, probe, IGNORE, start)
        splice.insert_jump(start, OWN, forward, b, start)
        size = (len(probe) >> 1) + 1 + versions.CACHES_BY_OPCODE[forward]
        splice.insert(start, OWN, _NOPS[256 - size], IGNORE, start)

    def _once_const(self) -> int:
        """Index of the constant ``(None,)`` (3.10 stubs branch on it)."""
        if self._once < 0:
            self._once = self._const((None,))
        return self._once

    def _own_frame_check(self, const: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """What a stub of code with a bare ``raise`` reads to tell whether the
        traceback's latest frame runs this code: the attributes ``tb_frame``,
        ``f_code``, ``co_consts`` (3.10: the indexes of their names; 3.14+,
        which reads them by calls: of the strings among the constants), and
        the indexes of the constants that slice this code's own raise table
        (``const``) out of ``co_consts``."""
        read = self._const if versions.HAS_EXCEPTION_TABLE else self._name
        names = (read("tb_frame"), read("f_code"), read("co_consts"))
        return names, (self._const(const), self._const(const + 1), self._const(0))

    def _name(self, name: str) -> int:
        names = self.names
        if name not in names:
            if isinstance(names, tuple):
                self.names = names = list(names)
            names.append(name)
        return names.index(name)

    def rewrite(self) -> tuple[CodeType, CountReader]:
        """Build the instrumented code object and the reader of its counts."""
        if STRAIGHT_FAST_PATH and versions.LASTI_IS_OBJECT and self._is_straight():
            return self._rewrite_straight()
        return self._rewrite_general()

    def _is_straight(self) -> bool:
        """Whether the code is one block that ends the code object, with no
        handlers (3.11-3.13: :meth:`_rewrite_straight` builds it)."""
        flow_instrs = self.flow_instrs
        return (
            len(flow_instrs) == 1
            and flow_instrs[0].end == len(self.ops)
            and flow_instrs[0].target < 0
            and flow_instrs[0].name in versions.NO_FALLTHROUGH_OPNAMES
            and not self.code.co_exceptiontable  # type: ignore[attr-defined]
        )

    def _rewrite_general(self) -> tuple[CodeType, CountReader]:
        """:meth:`rewrite` for any code: analyse it, insert the stubs and
        probes block by block, assemble."""
        code = self.code
        n_units = len(self.ops)
        analysis = analyse(code, self.ops, self.flow_instrs, number=False)
        keys, graph, flow = analysis.keys, analysis.graph, analysis.flow
        blocks = graph.blocks
        nb = len(blocks)
        n_keys = len(keys)
        any_uncovered = analysis.uncovered != UNCOVERED
        splice = Splice(self.raw)
        insert = splice.insert
        # Where jumps go: each block's label, then each stub, the catch-all last.
        where = [0] * (nb + n_keys + 1)
        stubs_by_target: dict[int, list[tuple[int, HandlerKey]]] = {}
        for key, stub in keys.items():
            stubs_by_target.setdefault(key[0], []).append((stub, key))
        block_edge = flow.block_edge
        fall_edge = flow.fall_edge
        chords = set(flow.chords)
        at_block = graph.at
        no_fallthrough = versions.NO_FALLTHROUGH_OPNAMES
        setup = versions.SETUP_OPNAMES
        # 3.10: one SETUP_FINALLY around everything sends exceptions no
        # handler catches to the catch-all stub.  It goes where the glued
        # prefix ends, and before the label of a block starting there: a
        # jump back to that block (a loop that is the code's first
        # statement) must not push the catch-all's block again.
        catch_all_at = -1
        if any_uncovered and not versions.HAS_EXCEPTION_TABLE and blocks:
            catch_all_at = blocks[0].body
        setup_finally = _OP.get("SETUP_FINALLY", -1)
        falls_on = False  # whether the block before falls through into this one
        landings = flow.landings  # 3.11: blocks gen.throw() may land in
        send_ends: dict[int, int] = {}  # such a block -> where its SEND ends
        for block in blocks:
            start = block.start
            b = block.index
            body = block.body
            end = block.end
            if start <= catch_all_at < end:
                # Slot ENTRY is before the label (where a glued prefix ends
                # inside block 0, nothing jumps to it anyway).
                at = catch_all_at
                splice.insert_jump(at, ENTRY, setup_finally, nb + n_keys, at)
            if block.handler:
                self._insert_stubs(splice, where, b, start, stubs_by_target[start], falls_on, nb)
            if b in landings:
                self._landing(splice, block, falls_on, send_ends[b])
            where[b] = start + splice.shift
            if block_edge[b] in chords:
                self._insert_block_probe(splice, body, end, n_units)
            last = block.last
            if last is not None and last.target >= 0 and last.start >= body:
                if setup and last.name in setup:
                    # 3.10: the handler is entered through its stub.
                    target = nb + keys[(last.target, 0, False)]
                else:
                    target = at_block[last.target]
                splice.jump(last.start, last.op, last.end - last.start, target)
                if last.name == "SEND" and target in landings:
                    send_ends[target] = splice.position(last.end, GLUED_PROBE)
            edge = fall_edge[b]
            if edge >= 0 and edge in chords:
                # Counts the way on into the next block, and only that way:
                # jumps to the next block land after this probe.
                insert(end, FALL_PROBE, self._probe(), IGNORE, end)
            falls_on = block.last_name not in no_fallthrough
        splice.finish()
        if any_uncovered:
            # The catch-all stub: record, then re-raise out of the frame.
            where[nb + n_keys] = insert(
                n_units, OWN, self._stub(n_keys, True) + _RERAISE, IGNORE, -1
            )
        entries = _exception_entries(analysis, splice, sorted(stubs_by_target), nb, n_units)
        if self.handovers:
            entries = sorted(entries + self.handovers)
        layout = assemble(splice, where, entries, code.co_linetable)
        if landings:
            layout.linetable = _prefixes_without_position(layout)
        if versions.END_ASYNC_FOR_STARTS_NO_LINE:
            layout.linetable = _before_end_async_for_without_position(layout, self.ops)
        if catch_all_at >= 0:
            first = splice.position(catch_all_at, GLUED_PROBE)
            layout.linetable = _catch_all_without_line(layout, first, setup_finally)
        return self._finish(layout, self._stack_size(keys, any_uncovered), analysis)

    def _insert_stubs(
        self,
        splice: Splice,
        where: list[int],
        b: int,
        start: int,
        stubs: list[tuple[int, HandlerKey]],
        falls_on: bool,
        nb: int,
    ) -> None:
        """The stubs of the handler that block ``b`` begins, at ``start``:
        each records its raise and goes on into the handler (``where`` gets
        where each begins).  A block before that falls through into the
        handler jumps over them."""
        forward = _OP[versions.JUMP_FORWARD_OPNAME]
        if falls_on:
            splice.insert_jump(start, OWN, forward, b, start)
        for stub, (_, depth, lasti) in stubs:
            raw = self._stub(stub, lasti, depth)
            at = where[nb + stub] = splice.insert(start, OWN, raw, IGNORE, start)
            if _hands_over(lasti, depth):
                last = at + (len(raw) >> 1) - 1  # its RERAISE
                self.handovers.append(ExceptionEntry(last, last + 1, b, depth, False))
            elif stub != stubs[-1][0]:
                # The last stub goes on into the handler by falling
                # through: no jump, so no sys.monitoring JUMP event.
                splice.insert_jump(start, OWN, forward, b, start)

    def _insert_block_probe(self, splice: Splice, body: int, end: int, n_units: int) -> None:
        """The probe of a block whose entry is a chord: after its glued
        prefix, in front of its ``body``."""
        if body < end:
            splice.insert(body, BODY_PROBE, self._probe(), 4 * body + BEFORE, body)
        else:
            # All glued: the probe follows, at the position of the
            # instruction after it, like a probe in front of a body:
            # with the glued prefix's (the ``def`` line), it would
            # be traced as a line of its own (3.11+).
            loc = end if end < n_units else end - 1
            splice.insert(end, GLUED_PROBE, self._probe(), IGNORE, loc)

    def _stack_size(self, keys: dict[HandlerKey, int], any_uncovered: bool) -> int:
        """The new code's stack size: room for a probe, and for each stub
        above its handler's depth.  3.11+ knows each handler's depth; on 3.10
        a handler's block level is at most the original stack size less the
        six items it pushes."""
        code = self.code
        stack = code.co_stacksize + PROBE_STACK
        for _, depth, _ in keys:
            if not versions.HANDLER_GETS_LASTI:
                depth = max(code.co_stacksize - 6, 0)
            stack = max(stack, depth + STUB_STACK + (BARE_STUB_EXTRA if self._bare else 0))
        if any_uncovered:
            stack = max(stack, STUB_STACK)
        return stack

    def _finish(
        self, layout: Layout, stack: int, analysis: Analysis | None = None
    ) -> tuple[CodeType, CountReader]:
        """The new code object and the reader of its counts (its read plan
        made now, from ``analysis`` if there is one, when asked to)."""
        code = self.code
        new_code = build_code(code, layout, tuple(self.consts), tuple(self.names), stack)
        reader = CountReader(
            (getattr(code, "co_qualname", code.co_name), code.co_name, code.co_firstlineno),
            code,
            self.counters,
            self.raises,
            layout.tags,
            layout.starts,
        )
        if self.prepare:
            if analysis is not None:
                # The rewriter emitted its probes in this order without
                # numbering them; reading needs the numbers.
                analysis.flow.number_probes(analysis.graph)
            reader.prepare(analysis)
        return new_code, reader

    def _rewrite_straight(self) -> tuple[CodeType, CountReader]:
        """:meth:`rewrite` for straight-line code (3.11-3.13): one block that
        ends the code object, no handlers.

        More than half of all code objects are like this (methods without
        branches, lambdas, class bodies).  The result is what :meth:`rewrite`
        builds for them, piece for piece (``test_engine_internals`` compares
        the two): the glued prefix, a probe, the body, the catch-all stub and
        its RERAISE, one exception-table entry.  Only the general machinery
        is skipped.
        """
        code = self.code
        raw = self.raw
        n = len(self.ops)
        body = entry_glue(self.ops)
        probe = self._probe()
        stub = self._stub(0, True) + _RERAISE
        p = len(probe) >> 1
        new_raw = b"".join((raw[: 2 * body], probe, raw[2 * body :], stub))
        linetable = grow_locations(code.co_linetable, [(body, p)], len(stub) >> 1)
        table = encode_exception_table([ExceptionEntry(0, n + p, n + p, 0, True)])
        starts = array("i", [0, body, body + p, n + p])
        tags = array("i", [AT, 4 * body + BEFORE, 4 * body + AT, IGNORE])
        if body == 0:  # no glued prefix: no piece for it
            del starts[0]
            del tags[0]
        layout = Layout(new_raw, starts, tags, table, linetable)
        return self._finish(layout, max(code.co_stacksize + PROBE_STACK, STUB_STACK))


def _exception_entries(
    analysis: Analysis, splice: Splice, cuts: list[int], nb: int, n_units: int
) -> list[ExceptionEntry]:
    """The exception table of the new code (3.11+), positions as ``splice``
    has them, targets indexing the
    ``where`` list of :meth:`_Rewriter.rewrite` (stub ``k`` at ``nb + k``).

    Each range of the original, and each stretch no range covers (the
    catch-all's), moves with the code inserted around it: a range takes in
    the probes inserted at its units (see the slots in assemble.py).  Stubs
    sit where handlers start (``cuts``) and no range covers them, so a range
    across such a unit is cut there.  3.11-3.13: every entry pushes lasti
    (:data:`versions.EVERY_ENTRY_PUSHES_LASTI`), the stub drops it again
    where the original entry did not; 3.14+: each keeps its own flag, and
    the catch-all's pushes it for its ``RERAISE 1``.
    """
    if not versions.HAS_EXCEPTION_TABLE:
        return []
    keys = analysis.keys
    position = splice.position
    if not keys:  # all of it is the catch-all's
        return [ExceptionEntry(0, position(n_units, OWN), nb, 0, True)]
    depth_of = {stub: depth for (_, depth, _), stub in keys.items()}
    depth_of[len(keys)] = 0
    every = versions.EVERY_ENTRY_PUSHES_LASTI
    lasti_of = {stub: every or lasti for (_, _, lasti), stub in keys.items()}
    lasti_of[len(keys)] = True
    entries: list[ExceptionEntry] = []
    for begin, stop, stub in analysis.segments(n_units):
        c = bisect_right(cuts, begin)
        while begin < stop:
            end = stop
            if c < len(cuts) and cuts[c] < stop:
                end = cuts[c]
                c += 1
            first = position(begin, LABEL)
            if entries and entries[-1].target == nb + stub and entries[-1].end == first:
                first = entries.pop().start  # the same stub goes on: one entry
            entries.append(
                ExceptionEntry(first, position(end, OWN), nb + stub, depth_of[stub], lasti_of[stub])
            )
            begin = end
    return entries


def _prefixes_without_position(layout: Layout) -> bytes:
    """3.11: the location table of ``layout`` with the EXTENDED_ARG before
    every SEND given no position (only landings give a SEND one).

    The delegation loop jumps back to that EXTENDED_ARG, and 3.11's tracing
    counts a jump back as a new line unless it lands on a SEND
    (``maybe_call_line_trace``), or on a unit of no line: so a traced loop
    raises no line event per turn, as in plain code.
    """
    raw = layout.code
    table = layout.linetable
    send = _OP["SEND"]
    ext = versions.EXTENDED_ARG
    for unit in range(1, len(raw) >> 1):
        if raw[2 * unit] == send and raw[2 * unit - 2] == ext:
            table = without_position(table, unit - 1)
    return table


def _before_end_async_for_without_position(layout: Layout, ops: Sequence[int]) -> bytes:
    """3.12+: the location table of ``layout`` with the code inserted in
    front of each END_ASYNC_FOR (its handler's stubs, a probe) given no
    position (:data:`versions.END_ASYNC_FOR_STARTS_NO_LINE`).

    ``ops`` are the original code's opcodes by unit.  Code is inserted in
    front of an original unit by cutting the original code there, so the
    END_ASYNC_FOR begins a piece of original code, and what was inserted is
    the pieces between it and the piece of original code before.
    """
    starts, tags = layout.starts, layout.tags
    end_async_for = _OP["END_ASYNC_FOR"]
    blank: set[int] = set()
    for i, tag in enumerate(tags):
        if tag < 0 or tag & 3 != AT or ops[tag >> 2] != end_async_for:
            continue
        first = i
        while first > 0 and (tags[first - 1] < 0 or tags[first - 1] & 3 != AT):
            first -= 1
        blank.update(range(starts[first], starts[i]))
    return without_positions(layout.linetable, blank) if blank else layout.linetable


def _catch_all_without_line(layout: Layout, first: int, setup_finally: int) -> bytes:
    """3.10: the line table of ``layout`` with the units from ``first`` to
    the catch-all's ``SETUP_FINALLY`` (the first one from there, with its
    EXTENDED_ARG prefixes) given no line.

    ``first`` is where the code inserted after the glued prefix begins: a
    probe of the first block, if any, then the ``SETUP_FINALLY``, all run
    once per frame.  With the line of the code after them, the first line
    event would come before the ``SETUP_FINALLY`` ran, and a debugger's jump
    from there (``frame.f_lineno = N``) would be refused as a jump "into the
    body of a try statement"; without a line, the first line event comes
    after it, inside the block that every line of the body is in, as in
    plain code.
    """
    raw = layout.code
    at = first
    while raw[2 * at] != setup_finally:
        at += 1
    return without_line(layout.linetable, 2 * first, 2 * (at + 1 - first))


def _read_chain_steps(getattribute: int, first: int, names: list[int]) -> list[tuple[str, int]]:
    """3.14+: [.., x] -> [.., x, x.first.names[0]...], each attribute read by
    a call of the constant ``getattribute`` (``object.__getattribute__``) with
    a name constant, all by index: a stub's read that puts no name in
    ``co_names``.  The callables go on the stack first and each call's result
    is the next one's argument, so no ``SWAP`` is needed (see
    :meth:`_Rewriter._build_stub_314`); it needs ``2 * (len(names) + 1) + 2``
    slots above ``x``."""
    pairs = len(names) + 1
    steps = [("LOAD_CONST", getattribute), ("PUSH_NULL", 0)] * pairs
    steps += [("COPY", 2 * pairs + 1), ("LOAD_CONST", first), ("CALL", 2)]
    for name in names:
        steps += [("LOAD_CONST", name), ("CALL", 2)]
    return steps


def _is_sites_steps(bounds: tuple[int, ...], once: int, const: int) -> list[tuple[str, int]]:
    """[.., consts] -> [.., (consts[const:const + 1] + (None,))[0] is sites]:
    whether a traceback's code is this one (3.10, 3.14+ stubs of code with a
    bare ``raise``), with the indexes of :meth:`_Rewriter._own_frame_check`
    and ``once`` that of ``(None,)``."""
    subscr = versions.SUBSCR_INSTR
    return [
        ("LOAD_CONST", bounds[0]),
        ("LOAD_CONST", bounds[1]),
        ("BUILD_SLICE", 2),
        subscr,
        ("LOAD_CONST", once),
        versions.ADD_INSTR,
        ("LOAD_CONST", bounds[2]),
        subscr,
        ("LOAD_CONST", const),
        ("IS_OP", 0),
    ]


def _own_frame_steps(
    copy: tuple[str, int],
    frame_names: tuple[int, ...],
    bounds: tuple[int, ...],
    once: int,
    const: int,
) -> list[tuple[str, int]]:
    """3.10: [.., tb] -> [.., tb, whether tb's frame runs this code]:
    ``copy`` copies the traceback, and ``(tb.tb_frame.f_code.co_consts
    [const:const + 1] + (None,))[0] is sites`` (:func:`_is_sites_steps`).
    The attributes are read by name (``LOAD_ATTR``: a stub calls nothing
    there)."""
    shift = versions.LOAD_ATTR_SHIFT
    reads = [("LOAD_ATTR", name << shift) for name in frame_names]
    return [copy, *reads, *_is_sites_steps(bounds, once, const)]


#: NOP units by number (3.11 landings, see _Rewriter._landing).
_NOPS = [bytes((_OP["NOP"], 0)) * k for k in range(257)]


def _steps(steps: list[tuple[str, int]]) -> bytes:
    """Wordcode of the engine's own jump-free steps, by opname."""
    return encode([(_OP[name], arg) for name, arg in steps])


def _never_exhausted(body: bytes) -> bytes:
    """``FOR_ITER`` over a raise holder (3.10-3.11 stubs), then ``body``.

    The holder is never exhausted, so the jump is never taken; it lands
    where ``body`` ends, the stub's end, so that every path of the code
    meets with one stack depth there.  Tools that reassemble code check
    that (the ``bytecode`` library: ``Bytecode.from_code(c).to_code()``),
    and on 3.11 it is exactly the stack the f_lineno setter models for the
    target (the holder popped, [lasti, exc] on top, as at the stub's end).
    On 3.10 the target's model is one item deeper, but the stub's last
    instruction falls through to the same place after it in the setter's
    scan, and the last to reach a unit gives its stack (see :meth:`_probe`).
    """
    return _steps([("FOR_ITER", len(body) >> 1)]) + body


#: What ends the catch-all stub: RERAISE 1 restores f_lasti to where the
#: exception was raised, so that the frame's line after the fact (a trace
#: function's ``'return'`` event, a debugger's) is the raising line, as in
#: plain code.  3.11+: from the lasti the entry pushed; 3.10: from the
#: EXCEPT_HANDLER block the interpreter pushed on entering the stub, which
#: holds the f_lasti the exception was raised at.
_RERAISE = _steps([("RERAISE", 1)])

#: What ends a stub for an exception-table entry without ``lasti`` (3.11-3.13):
#: every entry of the new code pushes it, and the stub drops it again.
_DROP_LASTI = _steps([("SWAP", 2), ("POP_TOP", 0)]) if versions.EVERY_ENTRY_PUSHES_LASTI else b""

#: A ``SWAP 2`` of two plain values where the f_lineno setter would model a
#: ``SWAP`` wrong (3.11's stub above a handler seven or more items deep; see
#: :data:`versions.SETTER_SWAP_ITEMS`): the pair built into a tuple and
#: unpacked again, which the setter models as one value popped and two
#: pushed, and which calls nothing (a 2-tuple comes from the free list and
#: unpacks without an iterator).
_SWAP_DEEP = _steps([("BUILD_TUPLE", 2), ("UNPACK_SEQUENCE", 2)])

#: How a stub ends where :func:`_hands_over`: it raises the exception again,
#: with no new traceback entry and no line or ``'exception'`` trace event,
#: and an exception-table entry of its own (``_Rewriter.handovers``) sends
#: it to the handler at the original entry's depth, without ``lasti``.
_HAND_OVER = _steps([("RERAISE", 0)])


def _hands_over(lasti: bool, depth: int) -> bool:
    """Whether the stub of an exception-table entry without ``lasti`` whose
    handler is ``depth`` items deep hands the exception on by ``RERAISE``
    (3.11-3.13), where dropping the ``lasti`` every entry pushes would take
    a ``SWAP`` deeper than the f_lineno setter models one.

    The setter (CPython's ``mark_stacks``) models the stack at every
    instruction from the code, and pops what a jump leaves beyond the
    target's model; its ``SWAP`` keeps ten items, so a deeper one lost the
    bottom items, and a jump after that handler popped the wrong values.
    ``END_SEND`` (3.12+) drops the item right, but the setter takes it for
    dropping the exception: a jump out of that ``except`` body then left
    ``sys.exc_info()`` set, and one from its ``except`` line into a loop
    ran on otherwise.  The hand-over's own entry gives the handler exactly
    the original's model.  It costs a second unwind per exception caught
    there, and under ``sys.monitoring`` (3.12+) a ``RERAISE`` event and a
    second ``EXCEPTION_HANDLED``: only above handlers nine or more items
    deep (a ``try`` in eight nested loops in a ``with``).
    """
    return (
        not lasti and versions.EVERY_ENTRY_PUSHES_LASTI and depth + 2 > versions.SETTER_SWAP_ITEMS
    )


#: Whether straight-line code takes :meth:`_Rewriter._rewrite_straight`
#: (tests turn it off to compare it with the general path).
STRAIGHT_FAST_PATH = True


def instrument_code(
    code: CodeType,
    consts: list[object] | None = None,
    probe_by_for_iter: bool = DEFAULT_PROBE_BY_FOR_ITER,
    prepare: bool = False,
) -> tuple[CodeType, CountReader]:
    """Instrument one code object, not its nested code objects.

    ``consts``: the constants the new code gets (the probes' are appended),
    if not ``code.co_consts``: instrumenting a tree passes those with its
    nested code objects already instrumented.  The reader keeps ``code``.
    ``probe_by_for_iter``: the probe form (see
    :data:`DEFAULT_PROBE_BY_FOR_ITER`).  ``prepare``: make the reader's read
    plan now, from the analysis the rewriter made anyway (what the
    instrumentation cache stores), rather than when counts are first read.
    """
    return _Rewriter(code, consts, probe_by_for_iter, prepare).rewrite()
