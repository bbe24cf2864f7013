"""Test oracle: count every instruction the interpreter executes, by watching it.

The engine counts instructions by rewriting code objects with probes.  This
module counts the same thing the slow, obviously-correct way: it runs the
*original* code while the interpreter reports every instruction it begins, and
tallies the reports per code object and original offset.  Tests compare the
two instruction by instruction.

How the interpreter is watched depends on the version (facts from
:mod:`pytest_bytecode.versions`):

* 3.12+ (``HAS_SYS_MONITORING``): ``sys.monitoring`` INSTRUCTION events plus
  PY_START/PY_RESUME, enabled globally under a free tool id that is released
  afterwards (also on error); locations outside the tree are switched off with
  DISABLE on first sight.  Monitoring is interpreter-wide, so threads are seen.
* 3.10-3.11: ``sys.settrace``/``threading.settrace`` with
  ``frame.f_trace_opcodes = True`` for frames of the tree's code objects.
  ``sys.settrace`` is shimmed while the oracle runs so that a program that
  installs its own trace function is chained behind the oracle's rather than
  replacing it.

What the interpreter reports, found by experiment on 3.10-3.13 and (Pyodide)
3.14-3.15:

* EXTENDED_ARG: legacy tracing (3.10, 3.11) reports a prefixed instruction only
  at its prefix's offset; ``sys.monitoring`` (3.12+) reports the prefix *and*
  the instruction.  Either way the oracle counts the prefixed instruction once.
* RESUME: never an ``opcode`` event (3.11: the ``call`` event instead) nor an
  INSTRUCTION event (3.12+).  Recovered exactly: a 3.11 ``call`` event whose
  ``f_lasti`` is a RESUME is that RESUME beginning (``generator.throw()``
  raises ``call`` with ``f_lasti`` on the YIELD_VALUE instead); on 3.12+
  PY_START/PY_RESUME are raised exactly when a RESUME begins, with its offset.
* The prologue before the first RESUME (MAKE_CELL, COPY_FREE_VARS,
  RETURN_GENERATOR, the generator's POP_TOP; 3.11+) raises no event at all.
  What runs once per frame start is derived from the first RESUME's count;
  what runs when a generator function is *called* (up to RETURN_GENERATOR) is
  a true blind spot (:func:`blind_spots`), left out of comparisons.
* END_FOR (3.12+) and the POP_TOP after it (3.13) are stepped over by an
  exhausted FOR_ITER: they really never run, and the oracle says 0.
* Code running *inside* a trace or profile function is never reported (the
  interpreter turns tracing and monitoring off while one runs), so a tree
  function used as the program's own ``sys.settrace`` callback counts 0 in the
  oracle; corpus programs keep such callbacks outside the tree.
* 3.10: the trace trampoline copies a traced frame's fast locals into
  ``f_locals`` before every trace call, so ``del g`` (or rebinding ``g``) does
  not free ``g``; it is freed when the next trace call refreshes the snapshot,
  inside the trampoline, where nothing is traced.  A generator finalized that
  way runs its ``finally`` unseen.  Corpus programs that need this are marked
  3.11+; cycles collected by ``gc.collect()`` are seen normally.
* 3.10: the compiler merges equal code constants, and 3.10's code objects
  have no qualified name, so two identical lambdas on one line can be one
  code object at two places in the tree.  The oracle counts that object at
  its first place; the engine instruments each place and counts each call
  site.  Such places are compared by their sum (:func:`_merge_shared`).
* 3.12.1 and 3.13.0 stop delivering INSTRUCTION events for every code object
  on the stack when the program calls ``sys.settrace``/``sys.setprofile``; the
  oracle wraps both and re-enables its events after each call.
* Near the recursion limit the oracle changes the program: its callback needs
  a frame of its own at the deepest point.  Programs that run into the limit
  are compared plain vs instrumented without the oracle.

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
    return [i for i in versions.instructions(code) if i.opname not in versions.PREFIX_OPNAMES]


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
    """Split the prologue: what runs before the frame's first real RESUME (3.11+).

    Returns (offsets up to and including RETURN_GENERATOR, offsets after it,
    offset of the first RESUME after them).  For code without RETURN_GENERATOR
    the first list is empty and every prologue instruction is in the second.
    3.15 starts a generator expression's code with a RESUME and evaluates the
    iterable before RETURN_GENERATOR; all of that belongs to the first list.
    """
    instrs = units(code)
    names = [i.opname for i in instrs]
    gen_end = names.index("RETURN_GENERATOR") + 1 if "RETURN_GENERATOR" in names else 0
    for k in range(gen_end, len(instrs)):
        if names[k] == "RESUME":
            offsets = [i.offset for i in instrs[:k]]
            return offsets[:gen_end], offsets[gen_end:], instrs[k].offset
    return [], [], None


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


def _code_key(code: types.CodeType) -> tuple[object, ...]:
    return (
        code.co_filename,
        getattr(code, "co_qualname", code.co_name),
        code.co_firstlineno,
        code.co_code,
    )


class _Resolver:
    """Find the tree path of an executing code object.

    Usually the executing object *is* a tree object.  Some programs replace a
    function's code at run time with an equivalent copy (``types.coroutine``
    sets a flag with ``code.replace()``), which must still be counted as the
    original: such copies are matched by file, qualified name, first line and
    bytecode.  Results are cached by id, keeping the code object alive so the
    id cannot be reused.
    """

    def __init__(self, tree: dict[tuple[int, ...], types.CodeType]) -> None:
        self.known: dict[int, tuple[tuple[int, ...] | None, types.CodeType]] = {}
        self.by_key: dict[tuple[object, ...], tuple[int, ...]] = {}
        for path, code in tree.items():
            self.known.setdefault(id(code), (path, code))
            self.by_key.setdefault(_code_key(code), path)

    def __call__(self, code: types.CodeType) -> tuple[int, ...] | None:
        hit = self.known.get(id(code))
        if hit is not None and hit[1] is code:
            return hit[0]
        path = self.by_key.get(_code_key(code))
        self.known[id(code)] = (path, code)
        return path


_TOOL_PREFERENCE = (4, 3, 5, 2, 1, 0)


def _tally(
    tree: dict[tuple[int, ...], types.CodeType], events: list[tuple[tuple[int, ...], int]]
) -> Counts:
    """Count events per unit instruction, then derive the prologue (see :func:`blind_spots`).

    An event at an EXTENDED_ARG offset means different things per mechanism:
    legacy tracing (3.10-3.11) reports a prefixed instruction only at its
    prefix's offset, so the event belongs to the prefixed instruction;
    ``sys.monitoring`` (3.12+) reports the EXTENDED_ARG *and* the instruction,
    so the prefix's event is dropped.
    """
    owners = {path: _prefix_owner(code) for path, code in tree.items()}
    result: Counts = {path: {i.offset: 0 for i in units(code)} for path, code in tree.items()}
    for (path, offset), n in Counter(events).items():
        if offset in owners[path]:
            if versions.HAS_SYS_MONITORING:
                continue
            offset = owners[path][offset]
        per = result[path]
        if offset not in per:
            raise AssertionError(
                f"oracle saw an event at offset {offset} of {tree[path].co_name}, not a unit"
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

    The events are enabled globally and every location outside the tree is
    switched off with DISABLE on first sight.  Local events
    (``set_local_events``) would be cheaper but are lost on 3.12 and 3.13 as
    soon as the program calls ``sys.settrace`` (which re-instruments code), and
    they cannot follow code objects the program copies at run time.

    Even global INSTRUCTION events stop, on 3.12.1 and 3.13.0, for every code
    object that is on the stack when the program calls ``sys.settrace`` or
    ``sys.setprofile``: the oracle wraps both and re-enables its events after
    each call, which restores them.
    """
    mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
    tool = next((t for t in _TOOL_PREFERENCE if mon.get_tool(t) is None), None)
    if tool is None:
        raise RuntimeError("no free sys.monitoring tool id for the oracle")
    mon.use_tool_id(tool, "pytest-bytecode-oracle")
    ev = mon.events
    kinds = (ev.INSTRUCTION, ev.PY_START, ev.PY_RESUME)
    resolve = _Resolver(tree)
    disable = mon.DISABLE

    def on_event(code: types.CodeType, offset: int) -> object:
        path = resolve(code)
        if path is None:
            return disable
        append((path, offset))
        return None

    wanted = ev.INSTRUCTION | ev.PY_START | ev.PY_RESUME
    real_settrace, real_setprofile = sys.settrace, sys.setprofile

    def reassert() -> None:
        mon.set_events(tool, 0)
        mon.set_events(tool, wanted)

    def shim_settrace(func: Any) -> None:
        real_settrace(func)
        reassert()

    def shim_setprofile(func: Any) -> None:
        real_setprofile(func)
        reassert()

    try:
        for kind in kinds:
            mon.register_callback(tool, kind, on_event)
        mon.set_events(tool, wanted)
        sys.settrace, sys.setprofile = shim_settrace, shim_setprofile
        yield
    finally:
        sys.settrace, sys.setprofile = real_settrace, real_setprofile
        mon.set_events(tool, 0)
        for kind in kinds:
            mon.register_callback(tool, kind, None)
        mon.free_tool_id(tool)


@contextlib.contextmanager
def _tracing(
    tree: dict[tuple[int, ...], types.CodeType], append: Callable[[Any], None]
) -> Iterator[None]:
    """Legacy tracing for 3.10-3.11, chaining any trace function the program installs."""
    resolve = _Resolver(tree)
    resume_offsets = {
        path: {i.offset for i in units(code) if i.opname == "RESUME"} for path, code in tree.items()
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
        if event == "return" or new is None:
            user_local.pop(key, None)
        else:
            user_local[key] = new

    def local_tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            append((resolve(frame.f_code), frame.f_lasti))
        elif user[0] is not None or user_local:
            forward(frame, event, arg)
        return local_tracer

    def plain_forwarder(frame: types.FrameType, event: str, arg: Any) -> Any:
        forward(frame, event, arg)
        return plain_forwarder if id(frame) in user_local else None

    def global_tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        path = resolve(frame.f_code)
        if path is not None:
            if frame.f_lasti in resume_offsets[path]:
                append((path, frame.f_lasti))
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
    events: list[tuple[tuple[int, ...], int]] = []
    watch = _monitoring if versions.HAS_SYS_MONITORING else _tracing
    with watch(tree, events.append):
        run()
    return _tally(tree, events)


def engine_counts(inst: _HasCounts) -> Counts:
    """The engine's ``inst.counts()`` in the oracle's shape."""
    return {cc.path: {ic.offset: ic.count for ic in cc.instructions} for cc in inst.counts()}


# --- Comparing ------------------------------------------------------------------


def _ignored(
    code: types.CodeType, ignore: dict[tuple[int, ...], set[int]] | None
) -> dict[tuple[int, ...], set[int]]:
    return blind_spots(code) if ignore is None else ignore


def engine_non_units(root: types.CodeType) -> dict[tuple[int, ...], set[int]]:
    """Instructions the engine may leave out of its counts (the lead's decision).

    From 3.11: every RESUME and the prologue before the first RESUME.  No
    instruction-level observer sees them (``sys.monitoring`` raises no
    INSTRUCTION event for them; legacy tracing reports RESUME as the ``call``
    event), and their counts follow from the code around them.  From 3.12:
    the instructions at FOR_ITER's target that the interpreter steps over when
    the loop ends (``versions.FOR_ITER_EXIT_SKIP``: END_FOR, on 3.13 also the
    POP_TOP after it); the oracle always counts them 0.  Any *other*
    instruction missing from the engine's counts is a failure.
    """
    result: dict[tuple[int, ...], set[int]] = {}
    if not versions.HAS_RESUME:
        return result
    for path, code in code_tree(root).items():
        hidden, derived, _ = _prologue(code)
        offs = set(hidden) | set(derived)
        instrs = units(code)
        offs |= {i.offset for i in instrs if i.opname == "RESUME"}
        index = {ins.offset: k for k, ins in enumerate(instrs)}
        for ins in instrs:
            if ins.opname == "FOR_ITER" and ins.argval in index:
                first = index[ins.argval]
                skipped = instrs[first : first + versions.FOR_ITER_EXIT_SKIP]
                offs |= {i.offset for i in skipped}
        result[path] = offs
    return result


def _shared_places(tree: dict[tuple[int, ...], types.CodeType]) -> list[list[tuple[int, ...]]]:
    """The places of every code object that is at more than one place in
    ``tree``, first place first.

    3.10 compares code objects without a qualified name, and the compiler
    merges equal constants, so two identical lambdas on one line become one
    code object at two places in the tree.  The oracle sees one object and
    counts everything at its first place (:class:`_Resolver`); the engine
    instruments each place separately and counts each call site.  Only their
    sum can be compared (:func:`_merge_shared`).
    """
    places: dict[int, list[tuple[int, ...]]] = {}
    for path, sub in tree.items():
        places.setdefault(id(sub), []).append(path)
    return [paths for paths in places.values() if len(paths) > 1]


def _merge_shared(counts: Counts, shared: list[list[tuple[int, ...]]]) -> Counts:
    """Counts with the places of each ``shared`` code object summed into the first."""
    if not shared:
        return counts
    merged = dict(counts)
    for first, *others in shared:
        total: dict[int, int] = dict(merged.get(first, {}))
        for path in others:
            for offset, n in merged.pop(path, {}).items():
                total[offset] = total.get(offset, 0) + n
        merged[first] = total
    return merged


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
    omittable = engine_non_units(code)
    tree = code_tree(code)
    shared = _shared_places(tree)
    expected, actual = _merge_shared(expected, shared), _merge_shared(actual, shared)
    for _, *others in shared:
        for path in others:
            del tree[path]  # counted at the first place of its code object
    lines: list[str] = []
    for path in sorted(set(expected) | set(actual) | set(tree)):
        exp = expected.get(path)
        act = actual.get(path)
        sub = tree.get(path)
        name = sub.co_name if sub is not None else "?"
        if exp is None or act is None:
            lines.append(
                f"code {path} ({name}): missing from {'oracle' if exp is None else 'engine'} counts"
            )
            continue
        hidden = skip.get(path, set())
        may_omit = omittable.get(path, set())
        offsets = (set(exp) | set(act)) - hidden
        delegations = _delegation_counted(sub)
        if all(
            exp.get(o) == act.get(o)
            or (o not in act and o in may_omit)
            or (o in delegations and _delegation_agrees(exp.get(o), act.get(o)))
            for o in offsets
        ):
            continue
        lines.append(f"code {path} {name!r} (line {sub.co_firstlineno if sub else '?'}):")
        lines.append(f"  {'offset':>6}  {'opname':<28} {'line':>5} {'oracle':>7} {'engine':>7}")
        info = {i.offset: i for i in units(sub)} if sub is not None else {}
        for off in sorted(set(exp) | set(act)):
            ins = info.get(off)
            opname = ins.opname if ins else "?"
            line = _line_of(ins)
            e, a = exp.get(off), act.get(off)
            mark = "" if e == a else "   <-- differs"
            if off in hidden:
                mark = "   (oracle blind spot, ignored)"
            elif a is None and off in may_omit:
                mark = "   (not a unit for the engine, ignored)"
            elif off in delegations and _delegation_agrees(e, a):
                mark = "   (a delegation counted lower: see _delegation_counted)"
            lines.append(f"  {off:>6}  {opname:<28} {line:>5} {_fmt(e):>7} {_fmt(a):>7}{mark}")
    return "\n".join(lines)


def _delegation_counted(code: types.CodeType | None) -> set[int]:
    """Offsets of delegations the engine may count lower than they ran.

    3.10: YIELD_FROM, counted per delegation.  The interpreter re-dispatches
    YIELD_FROM on every resume of the delegating generator and no probe can
    run there (``versions.YIELD_FROM_COUNTS_DELEGATIONS``).

    (3.11's ``throw()`` into a delegate that returns is counted exactly: the
    engine gives it a landing of its own, see
    ``versions.THROW_RETURN_LANDS_BY_LOW_BYTE``.)
    """
    if code is None:
        return set()
    if versions.YIELD_FROM_COUNTS_DELEGATIONS:
        return {i.offset for i in units(code) if i.opname == "YIELD_FROM"}
    return set()


def _delegation_agrees(expected: int | None, actual: int | None) -> bool:
    """Never more often than it ran; on 3.10, covered exactly when it ran."""
    if expected is None or actual is None:
        return False
    if not versions.YIELD_FROM_COUNTS_DELEGATIONS:
        return actual <= expected
    return actual <= expected and (actual == 0) == (expected == 0)


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
