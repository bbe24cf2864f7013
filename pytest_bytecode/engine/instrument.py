"""Rewrite a code object with counting probes and read the counts back.

The path of one code object:

1. :func:`~pytest_bytecode.engine.decode.decode` reads its wordcode;
2. :func:`~pytest_bytecode.engine.blocks.build` splits it into basic blocks;
3. :func:`~pytest_bytecode.engine.plan.plan_flow` chooses the edges of the
   flow graph that get a probe (the chords of a maximum spanning tree) and
   how every other count follows from them;
4. :class:`_Rewriter` emits the new instruction list:

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

from collections import defaultdict
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.assemble import UNCOVERED, HandlerSpec, Item, assemble, build_code
from pytest_bytecode.engine.blocks import Graph, build
from pytest_bytecode.engine.counts import CodePlan, Counter, RaiseTable, new_counter
from pytest_bytecode.engine.decode import Instr, Position, decode
from pytest_bytecode.engine.plan import plan_flow, unprobed_blocks
from pytest_bytecode.engine.tables import parse_exception_table

#: Stack slots a probe needs on top of whatever the code has pushed.
PROBE_STACK = 3

#: Stack slots a stub needs above its handler's depth: what the interpreter
#: pushes when it enters a handler (3.11+: lasti and the exception; 3.10: the
#: previous and the current exception triples), plus the stub's own work.
STUB_STACK = 6 if versions.HANDLER_GETS_LASTI else 10

#: Tag for code whose exceptions are not attributed to an original instruction.
IGNORE = -1

#: Raise-table key of an exception that reached a stub without a traceback
#: (3.14+): it enters the handler, but no instruction of the code raised it.
NO_SITE = -1

_OP = versions.OPMAP


def _before(index: int) -> int:
    """Tag: raised before original instruction ``index`` began."""
    return 2 * index


def _at(index: int) -> int:
    """Tag: raised by original instruction ``index`` (it began, what follows did not)."""
    return 2 * index + 1


class _Rewriter:
    """Plans and emits the probes of one code object (see module docstring)."""

    def __init__(self, code: CodeType) -> None:
        self.code = code
        self.instrs = decode(code)
        self.by_start = {ins.start: ins.index for ins in self.instrs}
        self.consts: list[object] = list(code.co_consts)
        self.names: list[str] = list(code.co_names)
        self.setup_jumps: list[tuple[int, int]] = []  # (item, handler offset), 3.10
        self.items: list[Item] = []
        self.handler_specs: list[HandlerSpec] = []
        self.counters: list[Counter] = []
        self.raises: list[defaultdict[int, int]] = []
        self._next_const = self._const(next)
        self._one_const = self._const(1)

    def _const(self, value: object) -> int:
        self.consts.append(value)
        return len(self.consts) - 1

    def _emit(
        self,
        opname: str,
        arg: int,
        position: Position,
        handler: int,
        tag: int,
        jump: int | None = None,
    ) -> int:
        self.items.append(Item(_OP[opname], arg, jump, position, handler, tag))
        return len(self.items) - 1

    def _probe(self, position: Position, handler: int, tag: int) -> int:
        """Emit ``next(counter)``; return the probe's index."""
        counter = new_counter()
        self.counters.append(counter)
        arg_const = self._const(counter)
        if versions.PROBE_BY_FOR_ITER:
            # [count] -> FOR_ITER -> [count, n]; never exhausted, but its
            # target is valid anyway: after the probe, with the stack empty.
            self._emit("LOAD_CONST", arg_const, position, handler, tag)
            loop = self._emit("FOR_ITER", 0, position, handler, tag, jump=-1)
            self._emit("POP_TOP", 0, position, handler, tag)
            self._emit("POP_TOP", 0, position, handler, tag)
            self.items[loop].jump = len(self.items)
            return len(self.counters) - 1
        for step in versions.CALL_SEQUENCE:
            if step == "CALLABLE":
                self._emit("LOAD_CONST", self._next_const, position, handler, tag)
            elif step == "ARG":
                self._emit("LOAD_CONST", arg_const, position, handler, tag)
            elif step == "PUSH_NULL":
                self._emit("PUSH_NULL", 0, position, handler, tag)
            else:
                self._emit(step, 1, position, handler, tag)
        self._emit("POP_TOP", 0, position, handler, tag)
        return len(self.counters) - 1

    def _record_raise(self, stub: int, position: Position) -> None:
        """Emit ``raises[where] += 1`` at the start of a stub.

        3.11+: the stub is entered with [lasti, exc] on top of the stack.
        3.10: with [traceback, value, type]; the raise site is the value's
        ``__traceback__.tb_lasti`` (this frame's entry heads the traceback).
        """
        table = RaiseTable()
        while len(self.raises) <= stub:
            self.raises.append(RaiseTable())
        self.raises[stub] = table
        const = self._const(table)
        add, add_arg = versions.ADD_INSTR
        subscr, subscr_arg = versions.SUBSCR_INSTR
        shift = versions.LOAD_ATTR_SHIFT
        if versions.LASTI_IS_OBJECT:
            steps: tuple[tuple[str, int], ...] = (
                ("LOAD_CONST", const),
                ("COPY", 3),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("LOAD_CONST", const),
                ("COPY", 4),
                ("STORE_SUBSCR", 0),
            )
        elif versions.HAS_EXCEPTION_TABLE:  # 3.14+: [lasti, exc] on top, lasti not an object
            # An exception can arrive with no traceback (an ExceptionGroup
            # that except* re-raises): it is recorded under NO_SITE, which is
            # no instruction's, so that the records still count every entry.
            self._emit("COPY", 1, position, UNCOVERED, IGNORE)
            self._emit(
                "LOAD_ATTR", self._name("__traceback__") << shift, position, UNCOVERED, IGNORE
            )
            self._emit("COPY", 1, position, UNCOVERED, IGNORE)
            has_tb = self._emit("POP_JUMP_IF_NOT_NONE", 0, position, UNCOVERED, IGNORE, jump=-1)
            self._emit("POP_TOP", 0, position, UNCOVERED, IGNORE)
            self._emit("LOAD_CONST", self._const(NO_SITE), position, UNCOVERED, IGNORE)
            join = self._emit(versions.JUMP_FORWARD_OPNAME, 0, position, UNCOVERED, IGNORE, jump=-1)
            self.items[has_tb].jump = len(self.items)
            self._emit("LOAD_ATTR", self._name("tb_lasti") << shift, position, UNCOVERED, IGNORE)
            self.items[join].jump = len(self.items)
            steps = (
                ("LOAD_CONST", const),
                ("COPY", 2),
                (subscr, subscr_arg),
                ("LOAD_CONST", self._one_const),
                (add, add_arg),
                ("LOAD_CONST", const),
                ("COPY", 3),
                ("STORE_SUBSCR", 0),
                ("POP_TOP", 0),
            )
        else:  # 3.10: [traceback, value, type] on top
            steps = (
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
            )
        for opname, arg in steps:
            self._emit(opname, arg, position, UNCOVERED, IGNORE)

    def _name(self, name: str) -> int:
        if name not in self.names:
            self.names.append(name)
        return self.names.index(name)

    def rewrite(self) -> tuple[CodeType, CodePlan]:
        """Build the instrumented code object and the plan to read it."""
        code = self.code
        instrs = self.instrs
        keys, instr_key, room = _handler_keys(code, instrs)
        handler_targets = {target * 2 for target, _, _ in keys}
        graph = build(instrs, handler_targets)
        blocks = graph.blocks
        n_keys = len(keys)
        catch_all = n_keys  # handler index of the catch-all stub
        any_uncovered = room and UNCOVERED in instr_key

        def cover(index: int) -> int:
            key = instr_key[index]
            if key == UNCOVERED:
                return catch_all if any_uncovered else UNCOVERED
            return key

        unprobed = unprobed_blocks(graph)
        raise_tag: dict[int, int] = {}
        if versions.YIELD_FROM_COUNTS_DELEGATIONS:
            for ins in instrs:
                if ins.opname == "YIELD_FROM" and ins.index:
                    raise_tag[ins.index - 1] = _at(ins.index)
        if versions.PRECALL_RAISES_FOR_CALL:
            for ins in instrs:
                if ins.opname == "PRECALL" and instrs[ins.index + 1].opname == "CALL":
                    raise_tag[ins.index] = _at(ins.index + 1)
        if versions.THROW_RAISES_BEFORE_SEND_TARGET:
            for ins in instrs:
                if ins.opname == "SEND" and instrs[ins.index + 1].opname == "YIELD_VALUE":
                    raise_tag[graph.landing[ins.index] - 1] = _at(ins.index + 1)
        stubs_by_target: dict[int, list[tuple[int, tuple[int, int, bool]]]] = defaultdict(list)
        for key, kid in keys.items():
            stubs_by_target[key[0] * 2].append((kid, key))
        handler_stubs = {
            graph.block_of[self.by_start[target]]: [kid for kid, _ in stubs]
            for target, stubs in stubs_by_target.items()
        }
        flow = plan_flow(graph, unprobed, handler_stubs)
        chords = set(flow.chords)
        label = [0] * len(blocks)
        key_items: dict[int, int] = {}
        self.handler_specs = [HandlerSpec(0, 0, True) for _ in range(n_keys + 1)]
        pending_jumps: list[tuple[int, int]] = []  # (item, block) jumps to fix up
        co_code = code.co_code  # a fresh copy on every access from 3.11
        n_instrs = len(instrs)
        for block in blocks:
            first = instrs[block.first]
            if block.handler:
                previous = instrs[block.first - 1] if block.first else None
                skip = None
                if previous is not None and previous.opname not in versions.NO_FALLTHROUGH_OPNAMES:
                    skip = self._emit(
                        versions.JUMP_FORWARD_OPNAME, 0, first.position, UNCOVERED, IGNORE, jump=-1
                    )
                    pending_jumps.append((skip, block.index))
                for kid, (_, depth, lasti) in stubs_by_target[first.start]:
                    key_items[kid] = len(self.items)
                    self.handler_specs[kid] = HandlerSpec(len(self.items), depth, True)
                    self._record_raise(kid, first.position)
                    if not lasti and versions.HANDLER_GETS_LASTI:
                        self._emit("SWAP", 2, first.position, UNCOVERED, IGNORE)
                        self._emit("POP_TOP", 0, first.position, UNCOVERED, IGNORE)
                    j = self._emit(
                        versions.JUMP_FORWARD_OPNAME, 0, first.position, UNCOVERED, IGNORE, jump=-1
                    )
                    pending_jumps.append((j, block.index))
            label[block.index] = len(self.items)
            for i in range(block.first, block.first + block.glue):
                self._emit_original(instrs[i], cover(i), IGNORE, pending_jumps, graph)
            if block.index == 0 and any_uncovered and not versions.HAS_EXCEPTION_TABLE:
                # 3.10: one SETUP_FINALLY around everything sends exceptions no
                # handler catches to the catch-all stub.
                catch_setup = self._emit(
                    "SETUP_FINALLY", 0, first.position, UNCOVERED, IGNORE, jump=-1
                )
            edge = flow.block_edge[block.index]
            if edge in chords:
                body = block.body if block.body <= block.last else block.last
                tag = _before(body) if block.body <= block.last else IGNORE
                flow.probe_of[edge] = self._probe(instrs[body].position, cover(body), tag)
            items = self.items
            for i in range(block.body, block.last + 1):
                ins = instrs[i]
                tag = raise_tag.get(i, 2 * i + 1) if raise_tag else 2 * i + 1  # _at(i)
                if ins.target is None:  # the common case, inlined for speed
                    handler = instr_key[i]
                    if handler == UNCOVERED and any_uncovered:
                        handler = catch_all
                    raw = co_code[ins.start : ins.end]
                    items.append(Item(ins.op, ins.arg, None, ins.position, handler, tag, raw))
                else:
                    self._emit_original(ins, cover(i), tag, pending_jumps, graph)
            edge = flow.fall_edge[block.index]
            if edge in chords and block.last + 1 < n_instrs:
                # Counts the way on into the next block, and only that way:
                # jumps to the next block land after this probe.
                after = instrs[block.last + 1]
                flow.probe_of[edge] = self._probe(after.position, cover(block.last), IGNORE)
        if any_uncovered:
            self.handler_specs[catch_all] = HandlerSpec(len(self.items), 0, True)
            none: Position = (None, None, None, None)
            if not versions.HAS_EXCEPTION_TABLE:
                self.items[catch_setup].jump = len(self.items)
            self._record_raise(catch_all, none)
            # 3.11+: RERAISE 1 restores f_lasti to where the exception was
            # raised.  3.10 has no such operand: RERAISE 0 leaves it here.
            self._emit("RERAISE", 1 if versions.HANDLER_GETS_LASTI else 0, none, UNCOVERED, IGNORE)
        for item_index, target in self.setup_jumps:
            kid = keys[(target // 2, 0, False)]
            self.items[item_index].jump = key_items[kid]
        for item_index, block_index in pending_jumps:
            target_item = label[block_index]
            item = self.items[item_index]
            item.jump = target_item
            if target_item <= item_index and item.op == _OP[versions.JUMP_FORWARD_OPNAME]:
                item.op = _OP[versions.JUMP_BACKWARD_OPNAME]
        layout = assemble(self.items, self.handler_specs, code.co_firstlineno)
        # 3.11+ knows each handler's depth; on 3.10 a handler's block level
        # is at most the original stack size less the six items it pushes.
        depths = [
            spec.depth if versions.HANDLER_GETS_LASTI else max(code.co_stacksize - 6, 0)
            for spec in self.handler_specs[:n_keys]
        ]
        if any_uncovered:
            depths.append(0)
        stack = max([code.co_stacksize + PROBE_STACK] + [d + STUB_STACK for d in depths])
        new_code = build_code(code, layout, tuple(self.consts), tuple(self.names), stack)
        plan = CodePlan(
            (getattr(code, "co_qualname", code.co_name), code.co_name, code.co_firstlineno),
            graph,
            self.counters,
            flow,
            self.raises,
            [item.tag for item in self.items],
            [item.handler for item in self.items],
            layout.starts,
        )
        return new_code, plan

    def _emit_original(
        self, ins: Instr, handler: int, tag: int, pending: list[tuple[int, int]], graph: Graph
    ) -> None:
        if ins.target is None:
            self.items.append(Item(ins.op, ins.arg, None, ins.position, handler, tag))
            return
        item = self._emit(ins.opname, 0, ins.position, handler, tag, jump=-1)
        if ins.opname in versions.SETUP_OPNAMES:
            # 3.10: the handler is entered through its stub.
            self.setup_jumps.append((item, ins.target))
        else:
            pending.append((item, graph.block_of[self.by_start[ins.target]]))


def _handler_keys(
    code: CodeType, instrs: list[Instr]
) -> tuple[dict[tuple[int, int, bool], int], list[int], bool]:
    """Which handler covers each instruction.

    Returns the distinct handlers as keys (target unit, depth, lasti) mapped
    to stub numbers, each instruction's stub number (or UNCOVERED), and
    whether there is room for a catch-all handler.  3.11+ reads the exception
    table; 3.10 follows the block stack that SETUP_* and POP_BLOCK build.
    """
    keys: dict[tuple[int, int, bool], int] = {}
    instr_key = [UNCOVERED] * len(instrs)
    if versions.HAS_EXCEPTION_TABLE:
        entries = parse_exception_table(code.co_exceptiontable)  # type: ignore[attr-defined]
        for ins in instrs:
            unit = ins.offset // 2
            for entry in entries:
                if entry.start <= unit < entry.end:
                    key = (entry.target, entry.depth, entry.lasti)
                    instr_key[ins.index] = keys.setdefault(key, len(keys))
                    break
        return keys, instr_key, True
    by_start = {ins.start: ins.index for ins in instrs}
    state: list[tuple[int, ...] | None] = [None] * len(instrs)
    state[0] = ()
    work = [0]
    deepest = 0
    while work:
        i = work.pop()
        stack = state[i]
        assert stack is not None
        ins = instrs[i]
        deepest = max(deepest, len(stack))
        successors: list[tuple[int, tuple[int, ...]]] = []
        if ins.opname in versions.SETUP_OPNAMES:
            assert ins.target is not None
            successors.append((i + 1, (*stack, ins.target)))
            successors.append((by_start[ins.target], stack))
        else:
            after = stack[:-1] if ins.opname == "POP_BLOCK" else stack
            if ins.target is not None:
                successors.append((by_start[ins.target], after))
            if ins.opname not in versions.NO_FALLTHROUGH_OPNAMES:
                successors.append((i + 1, after))
        for j, new in successors:
            if j < len(instrs) and state[j] is None:
                state[j] = new
                work.append(j)
    for i, stack in enumerate(state):
        if stack:
            instr_key[i] = keys.setdefault((stack[-1] // 2, 0, False), len(keys))
    return keys, instr_key, deepest < versions.MAX_BLOCKS


def instrument_code(code: CodeType) -> tuple[CodeType, CodePlan]:
    """Instrument one code object, not its nested code objects."""
    return _Rewriter(code).rewrite()
