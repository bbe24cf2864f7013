"""The engine against the oracle: same counts, same behaviour, on every program.

Each program (the hand-written corpus in ``tests/programs/`` and programs from
``tests/progen.py``) is compiled fresh for every run and executed three ways:

1. plain, under the oracle (``tests/oracle.py``) -> expected counts;
2. plain, with a line tracer -> reference behaviour;
3. instrumented by the engine, with the same line tracer -> engine counts and
   behaviour.

Counts must agree instruction by instruction (except the oracle's documented
blind spots), and behaviour must be identical: the return value or escaping
exception (type and args), printed output, the ``sys.settrace`` 'line' events
of the program's own code, and the traceback of an escaping exception (line
numbers, and on 3.11+ the caret columns that ``traceback`` derives from
``co_positions()``).

The oracle itself is validated first against hand-checked counts, so that a
disagreement means an engine bug rather than an oracle bug.

``PYTEST_BYTECODE_PROGEN_N`` sets the number of generated programs (default 100);
``PYTEST_BYTECODE_PROGEN_SEED`` the first seed (default 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import io
import linecache
import os
import re
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import oracle
import progen
import pytest

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument

PROGRAMS = Path(__file__).parent / "programs"
PROGEN_N = int(os.environ.get("PYTEST_BYTECODE_PROGEN_N", "100"))
PROGEN_SEED = int(os.environ.get("PYTEST_BYTECODE_PROGEN_SEED", "0"))


# --- Programs -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Program:
    """Source text of a module whose ``main()`` exercises one case."""

    name: str
    source: str
    requires: tuple[int, int] = (3, 10)
    needs_threads: bool = False

    @property
    def filename(self) -> str:
        # A unique pseudo file name: linecache is primed with the source under it.
        return f"<program {self.name}>"

    def skip_reason(self) -> str | None:
        if self.requires > versions.PY:
            return f"needs Python {self.requires[0]}.{self.requires[1]}+"
        if self.needs_threads and versions.IS_PYODIDE:
            return "Pyodide has no threads"
        return None

    def compile(self) -> types.CodeType:
        linecache.cache[self.filename] = (
            len(self.source),
            None,
            self.source.splitlines(True),
            self.filename,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. 3.14's SyntaxWarning for break in finally
            return compile(self.source, self.filename, "exec", dont_inherit=True)


def corpus() -> list[Program]:
    """Every ``tests/programs/p*.py``; header comments say what each needs."""
    progs = []
    # ``.py311`` files use syntax older parsers reject (and ruff, targeting 3.10).
    for path in sorted([*PROGRAMS.glob("p*.py"), *PROGRAMS.glob("p*.py311")]):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"^# requires-python: (\d+)\.(\d+)", text, re.M)
        progs.append(
            Program(
                name=path.name.split(".")[0],
                source=text,
                requires=(int(m[1]), int(m[2])) if m else (3, 10),
                needs_threads=bool(re.search(r"^# needs: threads", text, re.M)),
            )
        )
    return progs


def generated(n: int = PROGEN_N, seed: int = PROGEN_SEED) -> list[Program]:
    return [
        Program(name=f"gen{s}", source=progen.generate_module(s)) for s in range(seed, seed + n)
    ]


# --- Running --------------------------------------------------------------------


@dataclasses.dataclass
class Behaviour:
    """Everything observable about one run of ``main()``."""

    outcome: tuple[str, ...]
    stdout: str
    lines: list[tuple[str, str, int]]
    tb: list[str]


def _line_tracer(
    filename: str, sink: list[tuple[str, str, int]]
) -> Callable[[types.FrameType, str, Any], Any]:
    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            sink.append((event, frame.f_code.co_name, frame.f_lineno))
        return local

    def glob(frame: types.FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == filename else None

    return glob


@contextlib.contextmanager
def _settrace(func: Any) -> Iterator[None]:
    previous = sys.gettrace()
    sys.settrace(func)
    try:
        yield
    finally:
        sys.settrace(previous)


def execute(prog: Program, code: types.CodeType, *, trace_lines: bool) -> Behaviour:
    """Run ``code`` (the program's module code, plain or instrumented) and its ``main()``.

    Module-level state is dropped and garbage collected before returning, so
    finalizers of abandoned generators run inside the measured window.
    """
    ns: dict[str, Any] = {"__name__": f"prog_{prog.name}"}
    out = io.StringIO()
    lines: list[tuple[str, str, int]] = []
    tb: list[str] = []
    tracing = (
        _settrace(_line_tracer(prog.filename, lines)) if trace_lines else contextlib.nullcontext()
    )
    with contextlib.redirect_stdout(out), _asyncio_runs():
        try:
            with tracing:
                exec(code, ns)
                result = ns["main"]()
            outcome: tuple[str, ...] = ("return", repr(result))
        except Exception as exc:
            outcome = ("raise", type(exc).__name__, repr(exc.args))
            frames = [
                f for f in traceback.extract_tb(exc.__traceback__) if f.filename == prog.filename
            ]
            tb = traceback.StackSummary.from_list(frames).format()
            del exc
        finally:
            ns.clear()
            gc.collect()
    return Behaviour(outcome, out.getvalue(), lines, tb)


class _NoSelector:
    """A selector with nothing to watch: waits out the timeout, reports no events."""

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout:
            time.sleep(timeout)
        return []


class _PlainLoop(asyncio.BaseEventLoop):
    """asyncio's own loop logic, with no I/O: enough for tasks, sleeps, timeouts."""

    def __init__(self) -> None:
        super().__init__()
        self._selector = _NoSelector()

    def _process_events(self, event_list: list[Any]) -> None:
        pass

    def _write_to_self(self) -> None:
        pass


def _run_on_plain_loop(main: Any) -> Any:
    """``asyncio.run`` for Pyodide, whose own loop cannot block under Node.

    Pyodide's WebLoop is always "running" and needs WebAssembly stack
    switching to run a coroutine to completion; this runs it on
    :class:`_PlainLoop` instead, so the programs' coroutines, async
    generators and cancellations really run on 3.14 and 3.15 too.
    """
    outer = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    loop = _PlainLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.events._set_running_loop(outer)


@contextlib.contextmanager
def _asyncio_runs() -> Iterator[None]:
    if not versions.IS_PYODIDE:
        yield
        return
    saved = asyncio.run
    asyncio.run = _run_on_plain_loop  # type: ignore[assignment]
    try:
        yield
    finally:
        asyncio.run = saved


def oracle_run(prog: Program) -> tuple[types.CodeType, oracle.Counts, Behaviour]:
    code = prog.compile()
    box: list[Behaviour] = []
    counts = oracle.oracle_counts(code, lambda: box.append(execute(prog, code, trace_lines=False)))
    return code, counts, box[0]


def engine_run(prog: Program) -> tuple[oracle.Counts, Behaviour]:
    inst = instrument(prog.compile())
    behaviour = execute(prog, inst.code, trace_lines=True)
    return oracle.engine_counts(inst), behaviour


def plain_and_engine(
    prog: Program,
) -> tuple[Behaviour, oracle.Counts, Behaviour, Behaviour]:
    """Reference behaviour, the engine's counts and its behaviour, from one stack depth.

    Returns (plain traced run, engine counts from an *untraced* run, that
    untraced engine run, an instrumented traced run).  Counts come from an
    untraced run because tracing changes what the interpreter executes (3.14:
    closing a suspended generator runs its handler only while tracing), and the
    oracle's own run is untraced.  The stack depth matters to programs that
    run into the recursion limit.
    """
    inst = instrument(prog.compile())
    reference = execute(prog, prog.compile(), trace_lines=True)
    untraced = execute(prog, inst.code, trace_lines=False)
    counts = oracle.engine_counts(inst)
    traced = execute(prog, instrument(prog.compile()).code, trace_lines=True)
    return reference, counts, untraced, traced


def check_program(prog: Program) -> None:
    """The whole comparison for one program (used by the corpus and progen tests)."""
    reason = prog.skip_reason()
    if reason:
        pytest.skip(reason)
    code, expected, under_oracle = oracle_run(prog)
    reference, actual, untraced, traced = plain_and_engine(prog)
    assert under_oracle.outcome == reference.outcome, "the oracle changed the program's behaviour"
    assert untraced.outcome == under_oracle.outcome
    assert untraced.stdout == under_oracle.stdout
    assert untraced.tb == under_oracle.tb
    assert traced.outcome == reference.outcome
    assert traced.stdout == reference.stdout
    assert traced.tb == reference.tb
    assert traced.lines == reference.lines
    oracle.assert_counts_equal(expected, actual, code)


# --- The oracle, checked by hand ------------------------------------------------


def _counts_by_name(src: str, call: str = "main()") -> dict[str, dict[str, list[int]]]:
    """Oracle counts of ``src`` as {co_name: {opname: [counts in offset order]}}."""
    code = compile(src, "<hand>", "exec")

    def run() -> None:
        ns: dict[str, Any] = {}
        exec(code, ns)
        eval(call, ns)

    counts = oracle.oracle_counts(code, run)
    result: dict[str, dict[str, list[int]]] = {}
    for path, sub in oracle.code_tree(code).items():
        per: dict[str, list[int]] = {}
        for ins in oracle.units(sub):
            per.setdefault(ins.opname, []).append(counts[path][ins.offset])
        result[sub.co_name] = per
    return result


def test_oracle_loop_of_three() -> None:
    src = "def main():\n    t = 0\n    for i in range(3):\n        t += i\n    return t\n"
    c = _counts_by_name(src)["main"]
    assert c["FOR_ITER"] == [4]
    assert c["STORE_FAST"] == [1, 3, 3]  # t = 0, i, t +=
    assert c["RETURN_VALUE"] == [1]
    if versions.HAS_RESUME:
        assert c["RESUME"] == [1]
    if "END_FOR" in c:  # 3.12+: FOR_ITER jumps over END_FOR when exhausted
        assert c["END_FOR"] == [0]


def test_oracle_exception_mid_block() -> None:
    src = (
        "def f(x):\n"
        "    a = 1\n"
        "    b = a // x\n"
        "    c = b + 1\n"
        "    return c\n"
        "def main():\n"
        "    for x in (1, 0, 0):\n"
        "        try:\n"
        "            f(x)\n"
        "        except ZeroDivisionError:\n"
        "            pass\n"
    )
    c = _counts_by_name(src)["f"]
    division = c.get("BINARY_FLOOR_DIVIDE") or c["BINARY_OP"][:1]  # 3.10 / 3.11+
    assert division == [3]  # began three times, raised twice
    assert c["RETURN_VALUE"] == [1]  # only the call with x == 1 got past the division
    assert c["STORE_FAST"] == [3, 1, 1]  # a = 1 three times, b and c once


def test_oracle_generator_resumes() -> None:
    src = (
        "def g():\n"
        "    yield 1\n"
        "    yield 2\n"
        "def main():\n"
        "    list(g())\n"
        "    x = g()\n"
        "    next(x)\n"
        "    x.close()\n"
    )
    c = _counts_by_name(src)["g"]
    assert c["YIELD_VALUE"] == [2, 1]
    if versions.HAS_RESUME:
        # Two starts (RESUME 0), resumed after the first yield once, after the
        # second once; the close() throws in without executing a RESUME.
        assert c["RESUME"] == [2, 1, 1]
    else:
        assert c["GEN_START"] == [2]


def test_oracle_extended_arg_counted_once() -> None:
    body = "\n".join(f"    v{i} = {i}" for i in range(300))
    loop = "    t = 0\n    for i in range(5):\n        t += v299\n    return t\n"
    src = f"def main():\n{body}\n{loop}"
    code = compile(src, "<hand>", "exec")
    main = oracle.code_tree(code)[(0,)] if isinstance(code.co_consts[0], types.CodeType) else None
    assert main is not None
    counts = oracle.oracle_counts(code, lambda: exec(code, {}))
    # main was only defined, never called: all zero.
    assert not any(counts[(0,)].values())

    def run() -> None:
        ns: dict[str, Any] = {}
        exec(code, ns)
        ns["main"]()

    counts = oracle.oracle_counts(code, run)
    prefixed = oracle._prefix_owner(main)
    assert prefixed, "the program was meant to need EXTENDED_ARG"
    by_offset = {i.offset: i for i in oracle.units(main)}
    loop_loads = [
        counts[(0,)][off]
        for off in set(prefixed.values())
        if by_offset[off].argval == "v299" and by_offset[off].opname.startswith("LOAD")
    ]
    assert loop_loads == [5]


@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide has no threads")
def test_oracle_threads_lose_nothing() -> None:
    src = (
        "import threading\n"
        "def work(n):\n"
        "    s = 0\n"
        "    for i in range(n):\n"
        "        s += i\n"
        "def main():\n"
        "    ts = [threading.Thread(target=work, args=(10_000,)) for _ in range(4)]\n"
        "    for t in ts: t.start()\n"
        "    for t in ts: t.join()\n"
    )
    c = _counts_by_name(src)["work"]
    assert c["FOR_ITER"] == [40_004]


def test_oracle_cleans_up() -> None:
    code = compile("def main():\n    raise KeyError\n", "<hand>", "exec")
    before_trace = sys.gettrace()

    def run() -> None:
        ns: dict[str, Any] = {}
        exec(code, ns)
        ns["main"]()

    with pytest.raises(KeyError):
        oracle.oracle_counts(code, run)
    assert sys.gettrace() is before_trace
    if versions.HAS_SYS_MONITORING:
        mon = sys.monitoring  # type: ignore[attr-defined,unused-ignore]
        assert all(mon.get_tool(t) != "pytest-bytecode-oracle" for t in range(6))


def test_oracle_blind_spots_are_the_prologue() -> None:
    src = "def main():\n    x = 1\n    def g():\n        yield x\n    return list(g())\n"
    code = compile(src, "<hand>", "exec")
    spots = oracle.blind_spots(code)
    if not versions.HAS_RESUME:
        assert spots == {}
        return
    names = {
        path: sorted(
            i.opname for i in oracle.units(oracle.code_tree(code)[path]) if i.offset in offs
        )
        for path, offs in spots.items()
    }
    # Only the generator's call-time prologue is unknowable.
    assert list(names.values()) == [["COPY_FREE_VARS", "RETURN_GENERATOR"]]


@pytest.mark.parametrize("prog", corpus(), ids=lambda p: p.name)
def test_oracle_does_not_change_behaviour(prog: Program) -> None:
    reason = prog.skip_reason()
    if reason:
        pytest.skip(reason)
    _, counts, under = oracle_run(prog)
    plain = execute(prog, prog.compile(), trace_lines=False)
    assert under.outcome == plain.outcome
    assert under.stdout == plain.stdout
    assert any(any(v.values()) for v in counts.values())


def test_corpus_is_large_enough() -> None:
    assert len(corpus()) >= 40


# --- The engine -----------------------------------------------------------------


#: Known, tracked differences: (program, first Python version) -> reason.  Each
#: is a strict xfail, so a fix shows up as a failure to remove the entry.
KNOWN_DIFFERENCES: dict[tuple[str, tuple[int, int]], str] = {}


def _corpus_params() -> list[object]:
    params: list[object] = []
    for prog in corpus():
        marks = [
            pytest.mark.xfail(strict=True, reason=reason)
            for (name, since), reason in KNOWN_DIFFERENCES.items()
            if name == prog.name and since <= versions.PY
        ]
        params.append(pytest.param(prog, id=prog.name, marks=marks))
    return params


@pytest.mark.parametrize("prog", _corpus_params())
def test_corpus_program(prog: Program) -> None:
    check_program(prog)


ASYNCIO_PROGRAMS = [p for p in corpus() if "asyncio.run(" in p.source]


@pytest.mark.parametrize("prog", ASYNCIO_PROGRAMS, ids=lambda p: p.name)
def test_asyncio_programs_really_run(prog: Program) -> None:
    """The asyncio programs finish on every version (Pyodide: on a plain loop),
    so the oracle comparisons above exercise coroutines, not a failed start."""
    if prog.requires > versions.PY:
        pytest.skip(f"needs Python {'.'.join(map(str, prog.requires))}")
    outcome = execute(prog, prog.compile(), trace_lines=False).outcome
    assert outcome[0] == "return", outcome


@pytest.mark.parametrize("prog", generated(), ids=lambda p: p.name)
def test_generated_program(prog: Program) -> None:
    check_program(prog)


RECURSION_SOURCE = """
import sys
depth = 0
def forever(n):
    global depth
    depth = n
    return forever(n + 1)
def main():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        forever(0)
    except RecursionError:
        pass
    finally:
        sys.setrecursionlimit(old)
    return depth
"""


@pytest.mark.parametrize("traced", [False, True], ids=["untraced", "traced"])
def test_recursion_limit_reached_at_same_depth(traced: bool) -> None:
    """Instrumented frames must not use more of the recursion limit than plain ones.

    Not an oracle comparison: a Python-level trace or monitoring callback
    itself needs a frame at the deepest point, so the oracle cannot watch a
    program that runs into the limit without changing where it stops.
    """
    prog = Program("recursion_limit", RECURSION_SOURCE)
    inst = instrument(prog.compile())
    depths = []
    for code in (prog.compile(), inst.code):
        ns: dict[str, Any] = {}
        exec(code, ns)
        with _settrace(_line_tracer("<none>", [])) if traced else contextlib.nullcontext():
            depths.append(ns["main"]())
    assert depths[0] == depths[1]


def test_never_run_code_reports_zero() -> None:
    prog = next(p for p in corpus() if p.name == "p45_never_called")
    _, expected, _ = oracle_run(prog)
    actual, _ = engine_run(prog)
    assert set(actual) == set(expected)
    for path, per in actual.items():
        if path == ():
            continue
        sub = oracle.code_tree(prog.compile())[path]
        if sub.co_name in ("main", "NeverInstantiated"):  # these bodies do run
            continue
        omit = oracle.engine_non_units(prog.compile()).get(path, set())
        assert set(per) == {i.offset for i in oracle.units(sub)} - omit
        assert not any(per.values()), sub.co_name


def test_uncalled_tree_reports_zero_everywhere() -> None:
    """Instrumenting without running anything: every unit of every code object is 0."""
    for prog in corpus():
        if prog.skip_reason():
            continue
        code = prog.compile()
        inst = instrument(code)
        counts = oracle.engine_counts(inst)
        tree = oracle.code_tree(code)
        assert set(counts) == set(tree), prog.name
        omit = oracle.engine_non_units(code)
        for path, sub in tree.items():
            want = {i.offset: 0 for i in oracle.units(sub) if i.offset not in omit.get(path, ())}
            assert counts[path] == want, (prog.name, path)
