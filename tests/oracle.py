"""Test oracle: count every instruction the interpreter executes, by watching it.

The engine counts instructions by rewriting code objects with probes.  This
module counts the same thing the slow, obviously-correct way: it runs the
*original* code while the interpreter reports every instruction it begins, and
tallies the reports per code object and original offset.  Tests compare the
two instruction by instruction.

How the interpreter is watched depends on the version (facts from
:mod:`pytest_bytecode.versions`):

* 3.12+ (``HAS_SYS_MONITORING``): ``sys.monitoring`` INSTRUCTION events, enabled
  with ``set_local_events`` on exactly the code objects of the tree, under a
  free tool id that is released afterwards (also on error).  Monitoring is
  interpreter-wide, so threads are seen too.
* 3.10-3.11: ``sys.settrace``/``threading.settrace`` with
  ``frame.f_trace_opcodes = True`` for frames of the tree's code objects.
  ``sys.settrace`` is shimmed while the oracle runs so that a program that
  installs its own trace function is chained behind the oracle's rather than
  replacing it.

Known blind spots of the legacy tracer (found by experiment, see
:func:`blind_spots`):

* 3.10 and 3.11 report an ``opcode`` event for an instruction with an
  EXTENDED_ARG prefix at the prefix's offset; the count is attributed to the
  prefixed instruction.
* 3.11 never reports ``opcode`` events for RESUME (it raises the ``call`` event
  instead) nor for the prologue before the first RESUME (``MAKE_CELL``,
  ``COPY_FREE_VARS``, ``RETURN_GENERATOR`` and the generator's ``POP_TOP``),
  which lie before ``_co_firsttraceable``.  RESUME is recovered exactly: a
  ``call`` event whose ``f_lasti`` is a RESUME instruction is that RESUME
  beginning (a ``call`` event raised by ``generator.throw()`` has ``f_lasti``
  on the YIELD_VALUE instead).  The prologue instructions are reported by
  :func:`blind_spots` and left out of comparisons.

Every event is recorded with a single ``list.append`` (atomic under the GIL) so
that programs running the tree from several threads lose no counts; the list
is tallied after the run.
"""

from __future__ import annotations

import contextlib
import dis
import sys
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from pytest_bytecode import versions

Counts = dict[tuple[int, ...], dict[int, int]]
"""{code path: {original offset: count}}, keyed like ``CodeCounts.path``."""


class _HasCounts(Protocol):
    def counts(self) -> list[Any]: ...


# --- The code tree --------------------------------------------------------------


def code_tree(root: types.CodeType) -> dict[tuple[int, ...], types.CodeType]:
    """Every code object under ``root`` keyed by its path of ``co_consts`` indexes.

    Root first, then depth-first in ``co_consts`` order: the order the engine's
    ``counts()`` promises.
    """
    tree: dict[tuple[int, ...], types.CodeType] = {}

    def walk(code: types.CodeType, path: tuple[int, ...]) -> None:
        tree[path] = code
        for index, const in enumerate(code.co_consts):
            if isinstance(const, types.CodeType):
                walk(const, (*path, index))

    walk(root, ())
    return tree


def units(code: types.CodeType) -> list[dis.Instruction]:
    """The instructions that are counted: all but CACHE and EXTENDED_ARG."""
    return [
        i for i in versions.instructions(code) if i.opname not in versions.PREFIX_OPNAMES
    ]


def _prefix_owner(code: types.CodeType) -> dict[int, int]:
    """Map the offset of every EXTENDED_ARG to the offset of the instruction it prefixes."""
    owner: dict[int, int] = {}
    pending: list[int] = []
    for ins in versions.instructions(code):
        if ins.opname == "EXTENDED_ARG":
            pending.append(ins.offset)
            continue
        for off in pending:
            owner[off] = ins.offset
        pending.clear()
    return owner


def _prologue(code: types.CodeType) -> tuple[list[int], list[int], int | None]:
    """Split the instructions before the first RESUME (3.11+).

    Returns (offsets up to and including RETURN_GENERATOR, offsets after it,
    offset of the first RESUME).  For code without RETURN_GENERATOR the first
    list is empty and every prologue instruction is in the second.
    """
    before: list[int] = []
    for ins in units(code):
        if ins.opname == "RESUME":
            gen_end = next(
                (k + 1 for k, off in enumerate(before) if _opname_at(code, off) == "RETURN_GENERATOR"),
                0,
            )
            return before[:gen_end], before[gen_end:], ins.offset
        before.append(ins.offset)
    return [], [], None


def _opname_at(code: types.CodeType, offset: int) -> str:
    for ins in units(code):
        if ins.offset == offset:
            return ins.opname
    return "?"


def blind_spots(root: types.CodeType) -> dict[tuple[int, ...], set[int]]:
    """Offsets of unit instructions whose count the oracle cannot know.

    From 3.11 the prologue before the first RESUME (``_co_firsttraceable``)
    raises no event on any watching mechanism.  The oracle derives the count of
    a prologue instruction that runs exactly once per start of the frame (every
    prologue instruction of a plain function, and the POP_TOP after a
    generator's RETURN_GENERATOR) from the first RESUME's count; what runs when
    a generator function is *called* (up to and including RETURN_GENERATOR)
    happens before the generator frame ever starts and cannot be derived.
    3.10 has no prologue, so its oracle has no blind spots.
    """
    spots: dict[tuple[int, ...], set[int]] = {}
    if not versions.HAS_RESUME:
        return spots
    for path, code in code_tree(root).items():
        hidden, _, _ = _prologue(code)
        if hidden:
            spots[path] = set(hidden)
    return spots


# --- Watching -------------------------------------------------------------------

_TOOL_PREFERENCE = (4, 3, 5, 2, 1, 0)


def _tally(
    tree: dict[tuple[int, ...], types.CodeType], events: list[tuple[types.CodeType, int]]
) -> Counts:
    """Count events per unit instruction, then derive the prologue (see :func:`blind_spots`).

    An event at an EXTENDED_ARG offset means different things per mechanism:
    legacy tracing (3.10-3.11) reports a prefixed instruction only at its
    prefix's offset, so the event belongs to the prefixed instruction;
    ``sys.monitoring`` (3.12+) reports the EXTENDED_ARG *and* the instruction,
    so the prefix's event is dropped.
    """
    by_id = {}
    for path, code in tree.items():
        by_id.setdefault(id(code), path)
    owners = {path: _prefix_owner(code) for path, code in tree.items()}
    result: Counts = {path: {i.offset: 0 for i in units(code)} for path, code in tree.items()}
    for (code, offset), n in Counter(events).items():
        path = by_id.get(id(code))
        if path is None or tree[path] is not code:
            continue
        if offset in owners[path]:
            if versions.HAS_SYS_MONITORING:
                continue
            offset = owners[path][offset]
        per = result[path]
        if offset not in per:
            raise AssertionError(
                f"oracle saw an event at offset {offset} of {code.co_name} that is not a unit"
            )
        per[offset] += n
    if versions.HAS_RESUME:
        for path, code in tree.items():
            _, derived, first_resume = _prologue(code)
            if first_resume is not None:
                for off in derived:
                    result[path][off] = result[path][first_resume]
    return result


@contextlib.contextmanager
def _monitoring(
    tree: dict[tuple[int, ...], types.CodeType], append: Callable[[Any], None]
) -> Iterator[None]:
    """``sys.monitoring`` (3.12+): INSTRUCTION events plus PY_START/PY_RESUME.

    INSTRUCTION events are never raised for RESUME (nor for the prologue before
    it); PY_START and PY_RESUME are raised exactly when a RESUME begins, with
    its offset, so they stand in for it.
    """
    mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    tool = next((t for t in _TOOL_PREFERENCE if mon.get_tool(t) is None), None)
    if tool is None:
        raise RuntimeError("no free sys.monitoring tool id for the oracle")
    mon.use_tool_id(tool, "pytest-bytecode-oracle")
    ev = mon.events
    wanted = ev.INSTRUCTION | ev.PY_START | ev.PY_RESUME

    def on_event(code: types.CodeType, offset: int) -> None:
        append((code, offset))

    codes = list({id(c): c for c in tree.values()}.values())
    try:
        for event in (ev.INSTRUCTION, ev.PY_START, ev.PY_RESUME):
            mon.register_callback(tool, event, on_event)
        for code in codes:
            mon.set_local_events(tool, code, wanted)
        yield
    finally:
        for code in codes:
            mon.set_local_events(tool, code, 0)
        for event in (ev.INSTRUCTION, ev.PY_START, ev.PY_RESUME):
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)


@contextlib.contextmanager
def _tracing(
    tree: dict[tuple[int, ...], types.CodeType], append: Callable[[Any], None]
) -> Iterator[None]:
    """Legacy tracing for 3.10-3.11, chaining any trace function the program installs."""
    watched = {id(c) for c in tree.values()}
    resume_offsets = {
        id(code): {i.offset for i in units(code) if i.opname == "RESUME"}
        for code in tree.values()
    }
    # The program's own trace function (installed through the shimmed sys.settrace)
    # and the program's local trace function per frame.
    user: list[Any] = [None]
    user_local: dict[int, Any] = {}

    def forward(frame: types.FrameType, event: str, arg: Any) -> None:
        key = id(frame)
        if event == "call":
            glob = user[0]
            if glob is None:
                return
            local = glob(frame, event, arg)
            if local is not None:
                user_local[key] = local
            return
        local = user_local.get(key)
        if local is None or event == "opcode":
            return
        new = local(frame, event, arg)
        if event == "return":
            user_local.pop(key, None)
        elif new is None:
            user_local.pop(key, None)
        else:
            user_local[key] = new

    def local_tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            append((frame.f_code, frame.f_lasti))
        elif user[0] is not None or user_local:
            forward(frame, event, arg)
        return local_tracer

    def plain_forwarder(frame: types.FrameType, event: str, arg: Any) -> Any:
        forward(frame, event, arg)
        return plain_forwarder if id(frame) in user_local else None

    def global_tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        if id(code) in watched:
            if frame.f_lasti in resume_offsets[id(code)]:
                append((code, frame.f_lasti))
            frame.f_trace_opcodes = True
            if user[0] is not None:
                forward(frame, event, arg)
            return local_tracer
        if user[0] is not None:
            forward(frame, event, arg)
            return plain_forwarder if id(frame) in user_local else None
        return None

    real_settrace = sys.settrace
    real_gettrace = sys.gettrace

    def shim_settrace(func: Any) -> None:
        if func is global_tracer:
            # threading's bootstrap of a new thread installing our hook.
            real_settrace(func)
            return
        user[0] = func
        if func is None:
            user_local.clear()

    def shim_gettrace() -> Any:
        return user[0]

    previous = real_gettrace()
    previous_threading = threading.gettrace() if hasattr(threading, "gettrace") else None
    threading.settrace(global_tracer)
    sys.settrace = shim_settrace
    sys.gettrace = shim_gettrace
    real_settrace(global_tracer)
    try:
        yield
    finally:
        real_settrace(previous)
        sys.settrace = real_settrace
        sys.gettrace = real_gettrace
        threading.settrace(previous_threading)  # type: ignore[arg-type]


def oracle_counts(root_code: types.CodeType, run: Callable[[], object]) -> Counts:
    """Run ``run()`` while watching every instruction of ``root_code``'s tree.

    ``run`` executes the original, uninstrumented code (for example
    ``exec(root_code, ns)`` and then a call into ``ns``).  Returns
    ``{path: {offset: count}}`` for every unit instruction of every code object
    in the tree, zeros included.  An exception from ``run`` propagates after
    the watching has been undone.
    """
    tree = code_tree(root_code)
    events: list[tuple[types.CodeType, int]] = []
    watch = _monitoring if versions.HAS_SYS_MONITORING else _tracing
    with watch(tree, events.append):
        run()
    return _tally(tree, events)


def engine_counts(inst: _HasCounts) -> Counts:
    """The engine's ``inst.counts()`` in the oracle's shape."""
    return {
        cc.path: {ic.offset: ic.count for ic in cc.instructions} for cc in inst.counts()
    }


# --- Comparing ------------------------------------------------------------------


def _ignored(
    code: types.CodeType, ignore: dict[tuple[int, ...], set[int]] | None
) -> dict[tuple[int, ...], set[int]]:
    return blind_spots(code) if ignore is None else ignore


def diff_counts(
    expected: Counts,
    actual: Counts,
    code: types.CodeType,
    ignore: dict[tuple[int, ...], set[int]] | None = None,
) -> str:
    """A readable report of every differing code object, or "" when they agree.

    ``ignore`` defaults to :func:`blind_spots` of ``code``: instructions the
    oracle cannot see on this interpreter are left out.
    """
    skip = _ignored(code, ignore)
    tree = code_tree(code)
    lines: list[str] = []
    for path in sorted(set(expected) | set(actual) | set(tree)):
        exp = expected.get(path)
        act = actual.get(path)
        sub = tree.get(path)
        name = sub.co_name if sub is not None else "?"
        if exp is None or act is None:
            lines.append(
                f"code {path} ({name}): missing from "
                f"{'oracle' if exp is None else 'engine'} counts"
            )
            continue
        hidden = skip.get(path, set())
        offsets = (set(exp) | set(act)) - hidden
        if all(exp.get(o) == act.get(o) for o in offsets):
            continue
        lines.append(
            f"code {path} {name!r} (line {sub.co_firstlineno if sub else '?'}):"
        )
        lines.append(f"  {'offset':>6}  {'opname':<28} {'line':>5} {'oracle':>7} {'engine':>7}")
        info = {i.offset: i for i in units(sub)} if sub is not None else {}
        for off in sorted(set(exp) | set(act)):
            ins = info.get(off)
            opname = ins.opname if ins else "?"
            line = _line_of(ins)
            e, a = exp.get(off), act.get(off)
            mark = "" if off in hidden else ("" if e == a else "   <-- differs")
            if off in hidden:
                mark = "   (oracle blind spot, ignored)"
            lines.append(
                f"  {off:>6}  {opname:<28} {line:>5} {_fmt(e):>7} {_fmt(a):>7}{mark}"
            )
    return "\n".join(lines)


def _fmt(n: int | None) -> str:
    return "-" if n is None else str(n)


def _line_of(ins: dis.Instruction | None) -> str:
    if ins is None:
        return "?"
    pos = getattr(ins, "positions", None)
    line = getattr(pos, "lineno", None) if pos is not None else None
    if line is None:
        line = getattr(ins, "line_number", None) or ins.starts_line
    return "" if line is None else str(line)


def assert_counts_equal(
    expected: Counts,
    actual: Counts,
    code: types.CodeType,
    ignore: dict[tuple[int, ...], set[int]] | None = None,
) -> None:
    """Fail with a per-instruction table of the differing code objects."""
    report = diff_counts(expected, actual, code, ignore)
    if report:
        raise AssertionError("instruction counts differ (oracle vs engine):\n" + report)
