"""Rewrite a code object with counting probes and read the counts back.

The path of one code object:

1. :func:`~pytest_bytecode.engine.decode.scan` finds the instructions that
   shape control flow, and nothing else;
2. :func:`~pytest_bytecode.engine.analysis.analyse` finds which handler
   covers which code, splits the code into basic blocks
   (:func:`~pytest_bytecode.engine.blocks.build`) and chooses the edges of
   the flow graph that get a probe, the chords of a maximum spanning tree
   (:func:`~pytest_bytecode.engine.plan.plan_flow`);
4. :class:`_Rewriter` emits the new code as pieces: the original code
   between the points where something is inserted, copied as it is (cut
   also where the exception handler covering it changes, and at each jump,
   whose argument must change), and the engine's own code:

   * a **block probe** ``next(counter)`` (3.10-3.11: ``FOR_ITER`` over the
     counter) after the glued prefix of every block whose entry is a chord;
   * a **fall probe** right after a block whose way on into the next block
     is a chord (jumps to the next block land after it);
   * for every exception handler, a **handler stub** placed just before it,
     and one **catch-all stub** covering code no handler covers.  A stub
     records which instruction raised (the ``lasti`` the exception table
     pushes on 3.11-3.13, the traceback's ``tb_lasti`` on 3.10 and 3.14+)
     and then carries on exactly as before: into the original handler, or
     ``RERAISE 1`` out of the frame with the traceback untouched;

5. :func:`~pytest_bytecode.engine.assemble.assemble` lays it out, and
   :class:`~pytest_bytecode.engine.counts.CodePlan` reads the counts back.
   It keeps the original code, the counters and a few integers per piece;
   the original instructions are decoded, and the analysis of step 2 run
   again, only when counts are first read.

Counts are then exact: the stubs' records give every handler's entries and
every exception raised in the middle of a block, the probes give the chords,
conservation of flow gives every other edge, and an instruction ran as often
as its block was entered, minus the exceptions raised by earlier
instructions of the block.  An
exception re-raised by ``RERAISE`` reaches a second stub with the lasti of
the instruction that first raised it; it is a new raise only at the stub whose
exception-table entry covers that instruction, so re-raises are not counted
twice.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import defaultdict
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.analysis import HandlerKey, analyse, has_gap
from pytest_bytecode.engine.assemble import (
    UNCOVERED,
    HandlerSpec,
    Item,
    Layout,
    assemble,
    build_code,
    encode,
)
from pytest_bytecode.engine.blocks import Block, entry_glue
from pytest_bytecode.engine.counts import (
    AT,
    BEFORE,
    IGNORE,
    INSTR,
    CodePlan,
    Counter,
    RaiseTable,
    new_counter,
)
from pytest_bytecode.engine.decode import scan
from pytest_bytecode.engine.tables import (
    encode_exception_table,
    grow_locations,
)

#: Stack slots a probe needs on top of whatever the code has pushed.
PROBE_STACK = 3

#: Stack slots a stub needs above its handler's depth: what the interpreter
#: pushes when it enters a handler (3.11+: lasti and the exception; 3.10: the
#: previous and the current exception triples), plus the stub's own work.
STUB_STACK = 6 if versions.HANDLER_GETS_LASTI else 10

#: Raise-table key of an exception that reached a stub without a traceback
#: (3.14+): it enters the handler, but no instruction of the code raised it.
NO_SITE = -1

_OP = versions.OPMAP

#: Probe bytes by (form, index of ``next``, index of the counter) in
#: co_consts: they repeat from one code object to the next.  (The form is a
#: version fact; ``bench_engine.py probes`` switches it to compare.)
_PROBES: dict[tuple[bool, int, int], bytes] = {}
#: Stub bytes where a stub is one piece (all but 3.14+), by (index of its
#: raise table, index of the constant 1, whether the entry pushes lasti,
#: and on 3.10 the indexes of the two names it reads).
_STUBS: dict[tuple[int, ...], bytes] = {}


class _Rewriter:
    """Plans and emits the probes of one code object (see module docstring)."""

    def __init__(self, code: CodeType, consts: list[object] | None = None) -> None:
        self.code = code
        self.raw = code.co_code  # a fresh copy on every access from 3.11
        self.ops, self.specials = scan(self.raw)
        self.consts: list[object] = list(code.co_consts) if consts is None else consts
        self.names: list[str] = list(code.co_names)
        self.setup_jumps: list[tuple[int, int]] = []  # (item, handler unit), 3.10
        self.items: list[Item] = []
        self.jumps: dict[int, int] = {}  # jump item -> the item it goes to
        self.handler_specs: list[HandlerSpec] = []
        self.counters: list[Counter] = []
        self.raises: list[defaultdict[int, int]] = []
        self._next_const = self._const(next)
        self._one_const = self._const(1)

    def _const(self, value: object) -> int:
        self.consts.append(value)
        return len(self.consts) - 1

    def _emit(
        self, opname: str, arg: int, loc: int, handler: int, tag: int, jump: int | None = None
    ) -> int:
        """Emit one instruction of the engine's own at the position of unit ``loc``."""
        index = len(self.items)
        self.items.append((_OP[opname], arg, handler, tag, loc, loc, None))
        if jump is not None:
            self.jumps[index] = jump
        return index

    def _emit_steps(self, steps: list[tuple[str, int]], loc: int, handler: int, tag: int) -> None:
        """Emit jump-free steps of the engine's own as one prebuilt piece."""
        raw = encode([(_OP[name], arg) for name, arg in steps])
        self.items.append((-1, 0, handler, tag, loc, loc, raw))

    def _probe(self, loc: int, handler: int, tag: int) -> int:
        """Emit ``next(counter)``; return the probe's index."""
        counter = new_counter()
        self.counters.append(counter)
        consts = self.consts
        consts.append(counter)
        arg_const = len(consts) - 1
        key = (versions.PROBE_BY_FOR_ITER, self._next_const, arg_const)
        raw = _PROBES.get(key)
        if raw is not None:
            self.items.append((-1, 0, handler, tag, loc, loc, raw))
            return len(self.counters) - 1
        steps: list[tuple[str, int]] = []
        if versions.PROBE_BY_FOR_ITER:
            # [count] -> FOR_ITER -> [count, n]; never exhausted, but its
            # target is valid anyway: after the probe, with the stack empty.
            steps = [("LOAD_CONST", arg_const), ("FOR_ITER", 2), ("POP_TOP", 0), ("POP_TOP", 0)]
        else:
            for step in versions.CALL_SEQUENCE:
                if step == "CALLABLE":
                    steps.append(("LOAD_CONST", self._next_const))
                elif step == "ARG":
                    steps.append(("LOAD_CONST", arg_const))
                elif step == "PUSH_NULL":
                    steps.append(("PUSH_NULL", 0))
                else:
                    steps.append((step, 1))
            steps.append(("POP_TOP", 0))
        self._emit_steps(steps, loc, handler, tag)
        if len(_PROBES) > 4096:
            _PROBES.clear()
        _PROBES[key] = self.items[-1][6]  # type: ignore[assignment]
        return len(self.counters) - 1

    def _record_raise(self, stub: int, loc: int, lasti: bool) -> None:
        """Emit ``raises[where] += 1`` at the start of a stub.

        3.11+: the stub is entered with [lasti, exc] on top of the stack.
        3.10: with [traceback, value, type]; the raise site is the value's
        ``__traceback__.tb_lasti`` (this frame's entry heads the traceback).
        An entry without ``lasti`` (3.11+) has it dropped again at the end.
        """
        table = RaiseTable()
        while len(self.raises) <= stub:
            self.raises.append(RaiseTable())
        self.raises[stub] = table
        const = self._const(table)
        # The bytes depend on these indexes and nothing else (3.10 and 3.14+
        # read two attributes by name; their indexes vary).
        key: tuple[int, ...] = (const, self._one_const, lasti)
        if not versions.LASTI_IS_OBJECT:
            key += (self._name("__traceback__"), self._name("tb_lasti"))
        cached = _STUBS.get(key)
        if cached is not None:
            self.items.append((-1, 0, UNCOVERED, IGNORE, loc, loc, cached))
            return
        add, add_arg = versions.ADD_INSTR
        subscr, subscr_arg = versions.SUBSCR_INSTR
        shift = versions.LOAD_ATTR_SHIFT
        if versions.LASTI_IS_OBJECT:
            steps: list[tuple[str, int]] = [
                ("LOAD_CONST", const),
                ("COPY", 3),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("LOAD_CONST", const),
                ("COPY", 4),
                ("STORE_SUBSCR", 0),
            ]
        elif versions.HAS_EXCEPTION_TABLE:  # 3.14+: [lasti, exc] on top, lasti not an object
            # An exception can arrive with no traceback (an ExceptionGroup
            # that except* re-raises): it is recorded under NO_SITE, which is
            # no instruction's, so that the records still count every entry.
            self._emit_steps(
                [("COPY", 1), ("LOAD_ATTR", self._name("__traceback__") << shift), ("COPY", 1)],
                loc,
                UNCOVERED,
                IGNORE,
            )
            has_tb = self._emit("POP_JUMP_IF_NOT_NONE", 0, loc, UNCOVERED, IGNORE, jump=-1)
            self._emit_steps(
                [("POP_TOP", 0), ("LOAD_CONST", self._const(NO_SITE))], loc, UNCOVERED, IGNORE
            )
            join = self._emit(versions.JUMP_FORWARD_OPNAME, 0, loc, UNCOVERED, IGNORE, jump=-1)
            self.jumps[has_tb] = len(self.items)
            self._emit_steps(
                [("LOAD_ATTR", self._name("tb_lasti") << shift)], loc, UNCOVERED, IGNORE
            )
            self.jumps[join] = len(self.items)
            steps = [
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
        else:  # 3.10: [traceback, value, type] on top
            steps = [
                ("DUP_TOP_TWO", 0),
                ("POP_TOP", 0),
                ("LOAD_ATTR", self._name("__traceback__")),
                ("LOAD_ATTR", self._name("tb_lasti")),
                ("LOAD_CONST", const),
                ("ROT_TWO", 0),
                ("DUP_TOP_TWO", 0),
                ("BINARY_SUBSCR", 0),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("ROT_THREE", 0),
                ("STORE_SUBSCR", 0),
            ]
        if not lasti and versions.HANDLER_GETS_LASTI:
            steps += [("SWAP", 2), ("POP_TOP", 0)]
        self._emit_steps(steps, loc, UNCOVERED, IGNORE)
        if versions.LASTI_IS_OBJECT or not versions.HAS_EXCEPTION_TABLE:  # one piece
            if len(_STUBS) > 4096:
                _STUBS.clear()
            _STUBS[key] = self.items[-1][6]  # type: ignore[assignment]

    def _name(self, name: str) -> int:
        if name not in self.names:
            self.names.append(name)
        return self.names.index(name)

    def rewrite(self) -> tuple[CodeType, CodePlan]:
        """Build the instrumented code object and the plan to read it."""
        if STRAIGHT_FAST_PATH and versions.LASTI_IS_OBJECT:
            specials = self.specials
            if (
                len(specials) == 1
                and specials[0].end == len(self.ops)
                and specials[0].target < 0
                and specials[0].name in versions.NO_FALLTHROUGH_OPNAMES
                and not self.code.co_exceptiontable  # type: ignore[attr-defined]
            ):
                return self._rewrite_straight()
        code = self.code
        raw = self.raw
        n_units = len(self.ops)
        analysis = analyse(code, self.ops, self.specials, number=False)
        keys, ranges, graph, flow = analysis.keys, analysis.ranges, analysis.graph, analysis.flow
        blocks = graph.blocks
        n_keys = len(keys)
        catch_all = n_keys  # handler index of the catch-all stub
        any_uncovered = analysis.room and has_gap(ranges, n_units)
        uncovered = catch_all if any_uncovered else UNCOVERED
        range_starts = [r[0] for r in ranges]
        cuts = sorted({r[0] for r in ranges} | {r[1] for r in ranges})
        n_cuts = len(cuts)
        items = self.items
        jumps = self.jumps

        def cover(unit: int) -> int:
            i = bisect_right(range_starts, unit) - 1
            if i >= 0 and unit < ranges[i][1]:
                return ranges[i][2]
            return uncovered

        def copy(start: int, stop: int, tagged: bool) -> None:
            """Original units start..stop, cut where their handler changes."""
            if not n_cuts:
                tag = 4 * start + AT if tagged else IGNORE
                items.append((-1, 0, uncovered, tag, start, stop, raw[2 * start : 2 * stop]))
                return
            i = bisect_right(cuts, start)
            while start < stop:
                cut = stop
                if i < n_cuts and cuts[i] < stop:
                    cut = cuts[i]
                    i += 1
                tag = 4 * start + AT if tagged else IGNORE
                items.append((-1, 0, cover(start), tag, start, cut, raw[2 * start : 2 * cut]))
                start = cut

        stubs_by_target: dict[int, list[tuple[int, HandlerKey]]] = defaultdict(list)
        for key, kid in keys.items():
            stubs_by_target[key[0]].append((kid, key))
        block_edge = flow.block_edge
        fall_edge = flow.fall_edge
        chords = set(flow.chords)
        label = [0] * len(blocks)
        key_items: dict[int, int] = {}
        self.handler_specs = [HandlerSpec(0, 0, True) for _ in range(n_keys + 1)]
        pending_jumps: list[tuple[int, int]] = []  # (item, block) jumps to fix up
        jump_forward = versions.JUMP_FORWARD_OPNAME
        no_fallthrough = versions.NO_FALLTHROUGH_OPNAMES
        previous: Block | None = None
        block_stack = not versions.HAS_EXCEPTION_TABLE  # 3.10
        setup = versions.SETUP_OPNAMES
        for block in blocks:
            start = block.start
            b = block.index
            if block.handler:
                if previous is not None and previous.last_name not in no_fallthrough:
                    skip = self._emit(jump_forward, 0, start, UNCOVERED, IGNORE, jump=-1)
                    pending_jumps.append((skip, b))
                for kid, (_, depth, lasti) in stubs_by_target[start]:
                    key_items[kid] = len(items)
                    self.handler_specs[kid] = HandlerSpec(len(items), depth, True)
                    self._record_raise(kid, start, lasti)
                    j = self._emit(jump_forward, 0, start, UNCOVERED, IGNORE, jump=-1)
                    pending_jumps.append((j, b))
            label[b] = len(items)
            body = block.body
            end = block.end
            if body > start:
                copy(start, body, False)
            if b == 0 and any_uncovered and block_stack:
                # 3.10: one SETUP_FINALLY around everything sends exceptions no
                # handler catches to the catch-all stub.
                catch_setup = self._emit("SETUP_FINALLY", 0, start, UNCOVERED, IGNORE, jump=-1)
            edge = block_edge[b]
            if edge in chords:
                if body < end:
                    self._probe(body, cover(body) if ranges else uncovered, 4 * body + BEFORE)
                else:  # all glued: the probe follows, at the last instruction's position
                    self._probe(end - 1, cover(end - 1), IGNORE)
            last = block.last
            if last is not None and last.target >= 0 and last.start >= body:
                if last.start > body:
                    copy(body, last.start, True)
                jump = len(items)
                items.append(
                    (
                        last.op,
                        0,
                        cover(last.start) if ranges else uncovered,
                        4 * last.start + INSTR,
                        last.start,
                        last.end,
                        None,
                    )
                )
                if setup and last.name in setup:
                    # 3.10: the handler is entered through its stub.
                    self.setup_jumps.append((jump, last.target))
                    jumps[jump] = -1
                else:
                    pending_jumps.append((jump, graph.at[last.target]))
            elif body < end:
                copy(body, end, True)
            edge = fall_edge[b]
            if edge >= 0 and edge in chords:
                # Counts the way on into the next block, and only that way:
                # jumps to the next block land after this probe.
                self._probe(end, cover(end - 1) if ranges else uncovered, IGNORE)
            previous = block
        if any_uncovered:
            self.handler_specs[catch_all] = HandlerSpec(len(items), 0, True)
            if not versions.HAS_EXCEPTION_TABLE:
                jumps[catch_setup] = len(items)
            self._record_raise(catch_all, -1, True)
            # 3.11+: RERAISE 1 restores f_lasti to where the exception was
            # raised.  3.10 has no such operand: RERAISE 0 leaves it here.
            self._emit("RERAISE", 1 if versions.HANDLER_GETS_LASTI else 0, -1, UNCOVERED, IGNORE)
        for item_index, target in self.setup_jumps:
            jumps[item_index] = key_items[keys[(target, 0, False)]]
        forward = _OP[jump_forward]
        for item_index, block_index in pending_jumps:
            target_item = label[block_index]
            jumps[item_index] = target_item
            item = items[item_index]
            if target_item <= item_index and item[0] == forward:
                items[item_index] = (_OP[versions.JUMP_BACKWARD_OPNAME], *item[1:])
        layout = assemble(items, jumps, self.handler_specs, code.co_linetable)
        # 3.11+ knows each handler's depth; on 3.10 a handler's block level
        # is at most the original stack size less the six items it pushes.
        depths = [
            spec.depth if versions.HANDLER_GETS_LASTI else max(code.co_stacksize - 6, 0)
            for spec in self.handler_specs[:n_keys]
        ]
        if any_uncovered:
            depths.append(0)
        stack = max([code.co_stacksize + PROBE_STACK] + [d + STUB_STACK for d in depths])
        tags = array("i", [item[3] for item in items])
        return self._finish(layout, stack, tags, array("i", [item[2] for item in items]))

    def _finish(
        self, layout: Layout, stack: int, tags: array[int], handlers: array[int]
    ) -> tuple[CodeType, CodePlan]:
        """The new code object and the plan that reads its counts."""
        code = self.code
        new_code = build_code(code, layout, tuple(self.consts), tuple(self.names), stack)
        plan = CodePlan(
            (getattr(code, "co_qualname", code.co_name), code.co_name, code.co_firstlineno),
            code,
            self.counters,
            self.raises,
            tags,
            handlers,
            array("i", layout.starts),
        )
        return new_code, plan

    def _rewrite_straight(self) -> tuple[CodeType, CodePlan]:
        """:meth:`rewrite` for straight-line code (3.11-3.13): one block that
        ends the code object, no handlers.

        More than half of all code objects are like this (methods without
        branches, lambdas, class bodies).  The result is what :meth:`rewrite`
        builds for them, item for item (``test_engine_internals`` compares the
        two): the glued prefix, a probe, the body, the catch-all stub and
        its RERAISE, one exception-table entry.  Only the general machinery
        is skipped.
        """
        code = self.code
        raw = self.raw
        ops = self.ops
        n = len(ops)
        body = entry_glue(ops)
        self._probe(body, 0, 4 * body + BEFORE)
        self._record_raise(0, -1, True)
        probe = self.items[0][6]
        stub = self.items[1][6]
        assert probe is not None and stub is not None
        p = len(probe) >> 1
        s = len(stub) >> 1
        reraise = encode(((_OP["RERAISE"], 1),))
        new_raw = b"".join((raw[: 2 * body], probe, raw[2 * body :], stub, reraise))
        linetable = grow_locations(code.co_linetable, [(body, p)], s + 1)
        table = encode_exception_table([(0, n + p, n + p, 0, True)])
        layout = Layout(new_raw, [0, body, body + p, n + p, n + p + s], table, linetable)
        stack = max(code.co_stacksize + PROBE_STACK, STUB_STACK)
        tags = [IGNORE, 4 * body + BEFORE, 4 * body + AT, IGNORE, IGNORE]
        if body == 0:  # no glued prefix: no piece for it
            layout.starts.pop(0)
            tags.pop(0)
        handlers = [0] * (len(tags) - 2) + [UNCOVERED, UNCOVERED]
        return self._finish(layout, stack, array("i", tags), array("i", handlers))


#: Whether straight-line code takes :meth:`_Rewriter._rewrite_straight`
#: (tests turn it off to compare it with the general path).
STRAIGHT_FAST_PATH = True


def instrument_code(
    code: CodeType, consts: list[object] | None = None
) -> tuple[CodeType, CodePlan]:
    """Instrument one code object, not its nested code objects.

    ``consts``: the constants the new code gets (the probes' are appended),
    if not ``code.co_consts``: instrumenting a tree passes those with its
    nested code objects already instrumented.  The plan keeps ``code``.
    """
    return _Rewriter(code, consts).rewrite()
