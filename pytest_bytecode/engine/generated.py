"""Which instructions the compiler made up: what the default filters act on.

CPython emits instructions for which no statement of the user's stands,
mostly on exception paths: the copy of a ``finally`` body run while an
exception propagates, the exceptional exit of ``with``, the unbinding of an
``except ... as name``, the re-raise of an exception no ``except`` clause
matched, a generator's StopIteration→RuntimeError guard.  Counted as they
are, they keep well-tested code from 100 % and hide what really never ran;
:func:`classify` names them, per instruction, so that the reports can leave
them out or fold them into the code they copy
(:func:`pytest_bytecode.results.filtered`).  Counting never changes: the
counts of every instruction stay in the data file.

The classification works on the original code's flow graph:

* *normal* instructions are reachable from the entry without an exception
  edge (an exception-table entry, or 3.10's ``SETUP_FINALLY``/``SETUP_WITH``
  handler jump); *exceptional* ones only through one.  The handler of an
  ``async for`` (``END_ASYNC_FOR``) is the loop's normal exit.
* ``duplicates``: a copy of code the compiler emitted more than once for
  one piece of source (see :func:`_twins`): a ``finally`` body on each way
  out of its ``try``, an epilogue such as ``return x`` at the end of each
  branch that reaches it, code after a ``with`` on the path where
  ``__exit__`` suppressed the exception.  Folded into the first instance:
  its count is added to that one's, so a ``finally`` line is covered when
  any copy of it ran, and counts say how often the source ran.  An
  instruction right after a copy, at the copy's own source position (the
  jump or return that ends it), belongs to the copy: it is left out.
* ``with-exit``: the rest of what a ``with``/``async with`` handler runs
  (``WITH_EXCEPT_START``, re-raise or suppression bookkeeping).
* ``throw-cleanup`` (3.12+): ``CLEANUP_THROW`` of a ``yield from``/``await``
  and what only it reaches.
* ``implicit-await``: the suspension path (``YIELD_VALUE`` and the jump
  back to ``SEND``) of the awaits that ``async for`` and ``async with``
  make on their own (``__anext__``, ``__aenter__``, ``__aexit__``), which
  runs only when the awaited object suspends; the user's loop and block are
  counted by their own instructions.  An ``await`` the user wrote keeps its
  suspension path: that it never suspended can be worth knowing.
* ``exception-cleanup``: bookkeeping (``PUSH_EXC_INFO``, ``POP_EXCEPT``,
  ``COPY``, ``RERAISE``, an ``as`` name's unbinding, the StopIteration guard,
  ...) on exceptional paths that can only end by re-raising.  A handler the
  user wrote (``except E: ...``) goes on or raises on its own, and stays.
* ``helpers``: instructions a version adds to a construct every version
  has, which run exactly with the one they help (:data:`versions.HELPER_OPNAMES
  <pytest_bytecode.versions.HELPER_OPNAMES>`: 3.11's ``PRECALL``, 3.13's
  ``TO_BOOL``, 3.14's ``NOT_TAKEN``...): counting them would only weigh calls
  and conditions differently from one version to the next.
* ``annotations`` (3.14+): the ``__annotate__`` code objects PEP 649 makes,
  run only when someone asks for the annotations.
* ``no-line``: instructions that carry no line number, which a report can
  never show.
* ``unreachable``: instructions no path reaches at all.

A conditional jump classified as made up is left out with its outcomes, and
so is one whose outcome leads into left-out code (the "no ``except`` clause
matched" outcome); one in a copy is folded into the first instance.
"""

from __future__ import annotations

from bisect import bisect_left
from types import CodeType

from pytest_bytecode import versions
from pytest_bytecode.engine.decode import Instr, decode
from pytest_bytecode.engine.tables import parse_exception_table

#: The filters, in the order the documentation lists them.
FILTERS = (
    "duplicates",
    "with-exit",
    "throw-cleanup",
    "implicit-await",
    "exception-cleanup",
    "helpers",
    "annotations",
    "no-line",
    "unreachable",
)

#: The one filter that folds counts into another instruction instead of
#: leaving an instruction out.
COPY = "duplicates"

#: One classified instruction: (offset, filter, offset of its twin or -1).
Tag = tuple[int, str, int]

#: Instructions that only handle the exception being raised, never an
#: expression of the user's (``COPY``, ``SWAP`` and the like can be part of
#: one, such as a chained comparison; where the compiler makes them up for
#: its own bookkeeping they carry no line, and the ``no-line`` filter takes
#: them).
_BOOKKEEPING = frozenset(
    {"PUSH_EXC_INFO", "POP_EXCEPT", "RERAISE", "POP_BLOCK", "CALL_INTRINSIC_1"}
)

#: Where control ends on its own accord: a path that reaches one of these
#: was written by the user (a return, a raise, a yield).
_USER_EXITS = frozenset({"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "YIELD_VALUE"})

#: Opnames that are the same operation for twin matching.
_SAME_AS = {
    "LOAD_FAST_CHECK": "LOAD_FAST",
    "LOAD_FAST_BORROW": "LOAD_FAST",
    "JUMP_BACKWARD": "JUMP",
    "JUMP_FORWARD": "JUMP",
    "JUMP_ABSOLUTE": "JUMP",
    "JUMP_BACKWARD_NO_INTERRUPT": "JUMP",
}


def _same(opname: str) -> str:
    name = _SAME_AS.get(opname, opname)
    if name.startswith(("POP_JUMP_FORWARD_", "POP_JUMP_BACKWARD_")):
        return "POP_JUMP_" + name.split("_", 3)[3]
    return name


#: After how many questions :meth:`_Flow.leads_to` works out the forward
#: reach of every block, and for at most how many blocks (bit sets of
#: blocks squared bits: 32 MB at most, for the length of a classification).
_BITS_AFTER = 32
_BITS_MAX_BLOCKS = 16384


class _Flow:
    """The original code's instructions with their normal and exceptional successors."""

    def __init__(self, code: CodeType, instrs: list[Instr] | None = None) -> None:
        self.instrs = instrs = decode(code) if instrs is None else instrs
        starts = [ins.start for ins in instrs]
        n = len(instrs)
        self.normal: list[list[int]] = [[] for _ in range(n)]
        self.handlers: list[int] = []
        exceptional: list[list[int]] = [[] for _ in range(n)]

        def index(offset: int) -> int:
            return min(bisect_left(starts, offset), n - 1)

        def edge(source: int, handler: int) -> None:
            # END_ASYNC_FOR handles the StopAsyncIteration that ends an
            # ``async for``: the loop's normal way out, not an exception path.
            if instrs[handler].opname == "END_ASYNC_FOR":
                self.normal[source].append(handler)
            else:
                exceptional[source].append(handler)
                self.handlers.append(handler)

        for ins in instrs:
            i = ins.index
            if ins.opname not in versions.NO_FALLTHROUGH_OPNAMES and i + 1 < n:
                self.normal[i].append(i + 1)
            if ins.target is None or ins.opname in versions.PSEUDO_JUMP_OPNAMES:
                continue
            if ins.opname in versions.SETUP_OPNAMES:
                edge(i, index(ins.target))
            else:
                self.normal[i].append(index(ins.target))
        if versions.HAS_EXCEPTION_TABLE:
            unit = versions.CODE_UNIT
            for entry in parse_exception_table(code.co_exceptiontable):  # type: ignore[attr-defined]
                target = index(entry.target * unit)
                for i in range(index(entry.start * unit), index(entry.end * unit)):
                    if starts[i] < entry.end * unit:
                        edge(i, target)
        self.normal_reached = self.reach([0], self.normal) if n else set()
        #: per instruction: the last one of the straight run that starts there
        #: (each before it in the run has the next as its only normal
        #: successor), so that :meth:`leads_to` crosses a run in one step
        self.run_end = list(range(n))
        for i in range(n - 2, -1, -1):
            if self.normal[i] == [i + 1]:
                self.run_end[i] = self.run_end[i + 1]
        #: questions :meth:`leads_to` was asked, and what :meth:`_forward_reach`
        #: worked out once they were :data:`_BITS_AFTER`
        self._questions = 0
        self._forward: tuple[list[int], list[int]] | None = None
        both = [a + b for a, b in zip(self.normal, exceptional, strict=True)]
        self.reached = self.reach([0], both) if n else set()
        self.both = both
        #: per instruction: where control can come from (either kind of edge)
        self.preds: list[list[int]] = [[] for _ in range(n)]
        for i, nexts in enumerate(both):
            for j in nexts:
                self.preds[j].append(i)

    def leads_to(self, first: int, second: int) -> bool:
        """Whether normal edges that only go forward lead from ``first`` to
        ``second`` (both in one pass).

        A search, until the flow has been asked :data:`_BITS_AFTER`
        questions; from then on the answer is read from every block's
        forward reach (:meth:`_forward_reach`).  Like operations far apart
        made every question a walk of the code between them, and
        instrumenting a long line of them took minutes: a thousand
        ``a == i and b or`` terms (each ``or``'s jump at the whole line's
        position), a thousand comprehensions in one expression (3.12+
        inlines them, each with its own cleanup on the exception path, which
        nothing before it leads to: answered without a search)."""
        if second <= first:
            return second == first
        if first in self.normal_reached and second not in self.normal_reached:
            return False  # else second would be reached from the start too
        self._questions += 1
        if self._questions == _BITS_AFTER:
            self._forward = self._forward_reach()
        if self._forward is not None:
            block_of, reach = self._forward
            return bool(reach[block_of[first]] >> block_of[second] & 1)
        run_end = self.run_end
        seen = {first}
        todo = [first]
        while todo:
            # Every instruction of a straight run leads only to the next: the
            # search goes on from the run's end (a big literal, thousands of
            # instructions long, is one run: searched one by one, classifying
            # rich's 3,600-line emoji table took two minutes).
            last = run_end[todo.pop()]
            if last >= second:
                return True
            for nxt in self.normal[last]:
                if nxt == second:
                    return True
                if last < nxt < second and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def _forward_reach(self) -> tuple[list[int], list[int]] | None:
        """Per instruction its block, and per block the blocks that forward
        normal edges lead to from its end, itself included (bit ``c`` of
        ``reach[b]``), or None for more than :data:`_BITS_MAX_BLOCKS`
        blocks (the bit sets take blocks squared bits).

        A block is a straight run that is entered only at its start, so an
        instruction leads forward to every later one of its block, and to
        an instruction of another block if its block leads to that block."""
        normal = self.normal
        n = len(normal)
        leader = [False] * n
        if n:
            leader[0] = True
        for i, nexts in enumerate(normal):
            if nexts != [i + 1] and i + 1 < n:
                leader[i + 1] = True  # the block ends at i
            for j in nexts:
                leader[j] = leader[j] or j != i + 1
        block_of: list[int] = []
        last: list[int] = []
        for i in range(n):
            if leader[i]:
                last.append(i)
            last[-1] = i
            block_of.append(len(last) - 1)
        if len(last) > _BITS_MAX_BLOCKS:
            return None
        reach = [0] * len(last)
        for b in range(len(last) - 1, -1, -1):
            bits = 1 << b
            end = last[b]
            for j in normal[end]:
                if j > end:  # forward: its block comes later, worked out already
                    bits |= reach[block_of[j]]
            reach[b] = bits
        return block_of, reach

    @staticmethod
    def reach(
        starts: list[int], edges: list[list[int]], within: set[int] | None = None
    ) -> set[int]:
        seen = set(starts)
        todo = list(starts)
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen and (within is None or nxt in within):
                    seen.add(nxt)
                    todo.append(nxt)
        return seen


def classify(code: CodeType, instrs: list[Instr] | None = None) -> tuple[Tag, ...]:
    """The made-up instructions of ``code`` (not its nested code objects), by
    offset; ``instrs``: its instructions, if already decoded."""
    if (
        code.co_name == versions.ANNOTATE_CODE_NAME
        and code.co_posonlyargcount == code.co_argcount == 1
        and code.co_varnames[:1] == ("format",)
    ):
        # All of it: evaluated only when someone asks for the annotations.
        return tuple((ins.offset, "annotations", -1) for ins in instrs or decode(code))
    flow = _Flow(code, instrs)
    instrs = flow.instrs
    normal = flow.normal_reached
    exceptional = flow.reached - normal
    tags: dict[int, Tag] = {}
    with_exit = _regions(flow, exceptional, "WITH_EXCEPT_START")
    throw = _regions(flow, exceptional, "CLEANUP_THROW")
    escaping = _escaping(flow, exceptional)
    twins = _twins(instrs, normal, exceptional, with_exit, flow)
    glue = {
        ins.index
        for ins in instrs[1:]
        if ins.index not in twins
        and ins.index in flow.reached
        and ins.index not in with_exit
        and ins.index - 1 in twins
        and _place(ins) == _place(instrs[ins.index - 1])
    }
    for i, twin in twins.items():
        tags[i] = (instrs[i].offset, COPY, instrs[twin].offset)
    for i in sorted(exceptional - glue - set(twins)):
        ins = instrs[i]
        if i in with_exit:
            tags[i] = (ins.offset, "with-exit", -1)
        elif i in throw:
            tags[i] = (ins.offset, "throw-cleanup", -1)
        elif i not in escaping and (
            ins.opname in _BOOKKEEPING or _unbinding(instrs, i) or _handler_exit(instrs, i)
        ):
            tags[i] = (ins.offset, "exception-cleanup", -1)
    for i in _implicit_awaits(instrs):
        tags.setdefault(i, (instrs[i].offset, "implicit-await", -1))
    for ins in instrs:
        if ins.index in tags:
            continue
        if ins.index in glue:
            tags[ins.index] = (ins.offset, COPY, -1)
        elif ins.opname in versions.HELPER_OPNAMES:
            tags[ins.index] = (ins.offset, "helpers", -1)
        elif ins.index not in flow.reached:
            tags[ins.index] = (ins.offset, "unreachable", -1)
        elif ins.position[0] is None:
            tags[ins.index] = (ins.offset, "no-line", -1)
    return tuple(tags[i] for i in sorted(tags))


def _implicit_awaits(instrs: list[Instr]) -> list[int]:
    """The suspension paths of the awaits ``async for`` and ``async with``
    make themselves (``__anext__``, ``__aenter__``, ``__aexit__``): from the
    delegation's SEND, what runs only when the awaited object suspends.
    (3.10's YIELD_FROM has no such path of its own.)"""
    out = []
    for ins in instrs[1:]:
        if ins.opname != "SEND":
            continue
        back = ins.index - 1
        while back > 0 and instrs[back].opname in versions.SEND_PREAMBLE_OPNAMES:
            back -= 1
        source = instrs[back]
        if source.opname == "GET_ANEXT" or (
            source.opname == "GET_AWAITABLE" and source.arg in (1, 2)
        ):
            k = ins.index + 1
            while k < len(instrs) and instrs[k].opname in ("YIELD_VALUE", "RESUME", "NOT_TAKEN"):
                out.append(k)
                k += 1
            if k < len(instrs) and instrs[k].opname == "JUMP_BACKWARD_NO_INTERRUPT":
                out.append(k)
    return out


def _place(ins: Instr) -> object:
    """Where an instruction stands in the source, as precisely as the version says."""
    return ins.position if versions.HAS_COLUMN_POSITIONS else ins.position[0]


def _regions(flow: _Flow, exceptional: set[int], head: str) -> dict[int, int]:
    """Exceptional instructions that only a handler whose first real
    instruction is ``head`` (or ``head`` itself) leads to: index -> the
    head's line (-1 for none)."""
    instrs = flow.instrs
    starts = {h for h in flow.handlers if h in exceptional}
    starts |= {ins.index for ins in instrs if ins.opname == head and ins.index in exceptional}
    region: dict[int, int] = {}
    for h in sorted(starts):
        first = h + 1 if instrs[h].opname == "PUSH_EXC_INFO" and h + 1 < len(instrs) else h
        if instrs[first].opname != head:
            continue
        line = instrs[first].position[0]
        for i in _owned(flow, h, exceptional):
            region.setdefault(i, -1 if line is None else line)
    return region


def _owned(flow: _Flow, head: int, allowed: set[int]) -> set[int]:
    """``head`` and what only it leads to: the instructions of ``allowed``
    reached from it whose every predecessor is already in the region, loops'
    jumps back aside (so code that other paths reach too, such as what
    follows a ``with`` that suppressed an exception inside a handler, stays
    out)."""
    region = {head}
    grew = True
    while grew:
        grew = False
        for i in list(region):
            for j in flow.both[i]:
                if (
                    j in allowed
                    and j not in region
                    and all(p in region for p in flow.preds[j] if p < j)
                ):
                    region.add(j)
                    grew = True
    return region


def _escaping(flow: _Flow, exceptional: set[int]) -> set[int]:
    """Exceptional instructions from which a normal path leads back to normal
    code or to a return, raise or yield of the user's."""
    instrs = flow.instrs
    back: dict[int, list[int]] = {}
    for i in exceptional:
        for j in flow.normal[i]:
            back.setdefault(j, []).append(i)
    goals = [
        i
        for i in exceptional
        if instrs[i].opname in _USER_EXITS or any(j not in exceptional for j in flow.normal[i])
    ]
    return _Flow.reach(goals, [back.get(i, []) for i in range(len(instrs))])


def _twins(
    instrs: list[Instr],
    normal: set[int],
    exceptional: set[int],
    with_exit: dict[int, int],
    flow: _Flow,
) -> dict[int, int]:
    """Copy -> the first instance of the same code (same operations, same
    source positions).

    The compiler emits some source more than once: a ``finally`` body on
    every way out of its ``try``, an epilogue (``return x``) at the end of
    each branch that reaches it, code after a ``with`` on the path where
    ``__exit__`` suppressed the exception.  An instruction is a copy of
    another with the same key (position, 3.10: line; operation; argument,
    but not a jump's) when the run of equal keys around the two holds at
    least two instructions, or is one that ends a path (a return, a
    re-raise: one-instruction epilogues) or is alone on its line on both
    sides (``del name`` as a whole ``finally`` body); of several candidates,
    the one with the longest run.  Two like operations of one copy (``SWAP`` twice
    at a comprehension's position) differ in their neighbours, so are no
    copies of each other; and a copy is never on a forward path from its
    first instance (one pass runs one copy), which tells apart like
    operations of one statement, such as an ``async with``'s two awaits.
    On 3.10, which records lines only, a run must also begin its line or
    end a path (the arms of ``f(a, 1) if c else f(a, 2)`` share a line and
    a prefix, and are no copies; the ``return None`` after a ``while``
    loop, copied after each of its two tests, is one).  A copy on a
    ``with``'s exceptional exit on the ``with`` line is the exit itself,
    not a copy.
    """
    keys: list[tuple[object, ...] | None] = []
    for ins in instrs:
        where = _place(ins)
        if ins.position[0] is None or (ins.index not in normal and ins.index not in exceptional):
            keys.append(None)
            continue
        arg = None if ins.target is not None else ins.arg
        keys.append((where, _same(ins.opname), arg))
    seen: dict[tuple[object, ...], list[int]] = {}
    found: dict[int, int] = {}
    for j, key in enumerate(keys):
        if key is None:
            continue
        earlier = seen.setdefault(key, [])
        if earlier and not (j in with_exit and with_exit[j] == instrs[j].position[0]):
            copy = _copied(keys, instrs, j, earlier, flow)
            if copy is not None:
                found[j] = found.get(copy, copy)
        earlier.append(j)
    if exceptional:
        # An exception path's copy of normal code that comes later in the code.
        later: dict[tuple[object, ...], list[int]] = {}
        for j in sorted(normal):
            if keys[j] is not None:
                later.setdefault(keys[j], []).append(j)  # type: ignore[arg-type]
        for j in sorted(exceptional):
            key = keys[j]
            if j in found or key is None or key not in later:
                continue
            if with_exit.get(j, -1) != instrs[j].position[0]:
                copy = _copied(keys, instrs, j, [i for i in later[key] if i > j], flow)
                if copy is not None:
                    found[j] = found.get(copy, copy)
    return found


#: Operations that end a path: a copy of one alone is a copy of an epilogue.
_ENDS = frozenset({"RETURN_VALUE", "RETURN_CONST", "RERAISE"})

#: How many like instructions :func:`_copied` compares an instruction with,
#: and how far it follows a run: enough for any copy, and a bound on the
#: work for a line of thousands of like operations.
_MAX_CANDIDATES = 32
_MAX_RUN = 64


def _copied(
    keys: list[tuple[object, ...] | None],
    instrs: list[Instr],
    j: int,
    others: list[int],
    flow: _Flow,
) -> int | None:
    """The instruction of ``others`` (like ``j``) that ``j`` is a copy of, if any."""
    ends = instrs[j].opname in _ENDS
    alone = _alone_on_its_line(instrs, j)
    best: tuple[int, int] | None = None  # (run, candidate)
    for i in others[:_MAX_CANDIDATES]:
        back = 0
        while (
            back < _MAX_RUN
            and min(i, j) - back - 1 >= 0
            and keys[i - back - 1] is not None
            and keys[i - back - 1] == keys[j - back - 1]
            and i - back - 1 != j
            and j - back - 1 != i
        ):
            back += 1
        forward = 0
        while (
            forward < _MAX_RUN
            and max(i, j) + forward + 1 < len(keys)
            and keys[i + forward + 1] is not None
            and keys[i + forward + 1] == keys[j + forward + 1]
            and i + forward + 1 != j
            and j + forward + 1 != i
        ):
            forward += 1
        run = back + forward + 1
        first, second = sorted((i - back, j - back))
        need = 1 if ends or (alone and _alone_on_its_line(instrs, i)) else 2
        if run < need or flow.leads_to(first, second):
            continue  # too short, or one pass runs both: like operations, not copies
        epilogue = instrs[j + forward].opname in _ENDS  # the run ends a path
        if (
            not versions.HAS_COLUMN_POSITIONS
            and not epilogue
            and not (_starts_a_line(instrs, i, i - back) and _starts_a_line(instrs, j, j - back))
        ):
            continue
        if best is None or run > best[0]:
            best = (run, i)
    return None if best is None else best[1]


#: Block bookkeeping a copied line sits between on 3.10 (the handler's
#: re-raise after a ``finally`` copy, the POP_BLOCK before one).
_BETWEEN_LINES = frozenset(
    {"RERAISE", "POP_BLOCK", "POP_EXCEPT", "SETUP_FINALLY", "JUMP_FORWARD", "JUMP_ABSOLUTE"}
)


def _alone_on_its_line(instrs: list[Instr], index: int) -> bool:
    """Whether no instruction next to ``instrs[index]`` shares its line: a
    one-instruction statement (``del name`` as a whole ``finally`` body),
    whose copies are copies on their own."""
    line = instrs[index].position[0]
    return all(
        not 0 <= k < len(instrs)
        or instrs[k].position[0] != line
        # what ends the block the statement is in (3.12+ give a ``return``
        # after a ``finally`` copy the copy's position; 3.10 its value's load)
        or instrs[k].opname in versions.NO_FALLTHROUGH_OPNAMES
        or (
            k > index
            and instrs[k].opname == "LOAD_CONST"
            and k + 1 < len(instrs)
            and instrs[k + 1].opname == "RETURN_VALUE"
        )
        for k in (index - 1, index + 1)
    )


def _starts_a_line(instrs: list[Instr], index: int, run_start: int) -> bool:
    """Whether the part of ``instrs[index]``'s line in a run that begins at
    ``run_start`` begins the line (block bookkeeping before it aside): so
    does a copied ``finally`` body or epilogue on 3.10, and so does not the
    second arm of ``x if c else y`` on one line.  A block that nothing falls
    into begins a line too (3.10 gives a ``finally`` copy after a return the
    return's line).  The end of a copy may share its line: 3.10 puts a
    ``return``'s value on the ``finally`` line."""
    line = instrs[index].position[0]
    first = index
    while first > run_start and instrs[first - 1].position[0] == line:
        first -= 1
    index = first - 1
    while index >= 0 and instrs[index].opname in _BETWEEN_LINES:
        index -= 1
    return (
        index < 0
        or instrs[index].position[0] != line
        or instrs[index].opname in versions.NO_FALLTHROUGH_OPNAMES  # a block of its own
    )


def _handler_exit(instrs: list[Instr], i: int) -> bool:
    """Whether ``instrs[i]`` is the ``COPY`` of ``COPY 3; POP_EXCEPT;
    RERAISE``, what a handler runs when an exception leaves it (3.11 gives
    it the handler's line, 3.12+ none)."""
    return (
        instrs[i].opname == "COPY"
        and i + 2 < len(instrs)
        and instrs[i + 1].opname == "POP_EXCEPT"
        and instrs[i + 2].opname == "RERAISE"
    )


def _unbinding(instrs: list[Instr], i: int) -> bool:
    """Whether ``instrs[i]`` is part of ``name = None; del name``, what an
    ``except ... as name`` handler runs when it ends."""
    for first in range(max(0, i - 2), i + 1):
        if first + 2 >= len(instrs):
            continue
        a, b, c = instrs[first : first + 3]
        if (
            a.opname == "LOAD_CONST"
            and b.opname.startswith("STORE_")
            and c.opname.startswith("DELETE_")
            and b.arg == c.arg
            and b.opname[6:] == c.opname[7:]
        ):
            return True
    return False
