"""The default filters: what the compiler made up leaves the figures, on every version.

Each case runs a small program through the engine, as a test run would, and
checks what the reports call missed after the default filters: nothing for
code whose every statement ran, exactly the user's lines that never ran
otherwise.  The real-code check (``tools/filters_check.py``, in ``.ci/run``)
does the same against coverage.py over whole projects.
"""

from __future__ import annotations

import itertools
import textwrap
import types
from collections.abc import Callable
from typing import Any

import pytest

from pytest_bytecode import engine, filters
from pytest_bytecode.engine.generated import FILTERS, classify
from pytest_bytecode.engine.model import BranchCount, BranchOutcome, CodeCounts, InstructionCount


def measure(source: str, run: Callable[[dict[str, Any]], object]) -> list[CodeCounts]:
    """Counts of ``source`` after ``run(namespace)``, measured by the engine."""
    inst = engine.instrument(compile(textwrap.dedent(source), "<filters>", "exec"))
    namespace: dict[str, Any] = {}
    exec(inst.code, namespace)
    run(namespace)
    return inst.counts()


def missed(codes: list[CodeCounts], enabled: frozenset[str] = filters.DEFAULT) -> set[int]:
    """Lines with an instruction never run, or a jump that ran with an
    outcome never taken, after the filters."""
    out: set[int] = set()
    for code in codes:
        shown = filters.apply(code, enabled)
        out |= {i.line for i in shown.instructions if not i.count and i.line is not None}
        for b in shown.branches:
            if b.line is not None and any(o.count for o in b.outcomes):
                out |= {b.line for o in b.outcomes if not o.count}
    return out


def run_async(name: str, *args: Any) -> Callable[[dict[str, Any]], object]:
    """Run coroutine function ``name`` to its end, driven by hand (nothing in
    these programs suspends; Pyodide's Node runtime has no ``asyncio.run``)."""

    def run(ns: dict[str, Any]) -> object:
        coroutine = ns[name](*args)
        try:
            while True:
                coroutine.send(None)
        except StopIteration as stop:
            return stop.value

    return run


CASES: dict[str, tuple[str, Callable[[dict[str, Any]], object], set[int]]] = {
    "try/finally, no exception": (
        """
        def f(x):
            try:
                y = x + 1
            finally:
                x = 0
            return y
        """,
        lambda ns: ns["f"](1),
        set(),
    ),
    "finally on two ways out, each taken": (
        """
        def f(x):
            try:
                if x:
                    return 1
                y = 2
            finally:
                x = 0
            return y
        """,
        lambda ns: (ns["f"](1), ns["f"](0)),
        set(),
    ),
    "finally on two ways out, one taken: only the other way's line": (
        """
        def f(x):
            try:
                if x:
                    return 1
                y = 2
            finally:
                x = 0
            return y
        """,
        lambda ns: ns["f"](1),
        {4, 6, 9},
    ),
    "with, no exception": (
        """
        import contextlib
        def f():
            with contextlib.nullcontext() as c:
                y = 1
            return y
        """,
        lambda ns: ns["f"](),
        set(),
    ),
    "except ... as name, handler never run: the handler's lines": (
        """
        def f(x):
            try:
                y = x()
            except KeyError as e:
                y = str(e)
            return y
        """,
        lambda ns: ns["f"](lambda: 1),
        {5, 6},
    ),
    "except ... as name, both ways": (
        """
        def f(x):
            try:
                y = x()
            except KeyError as e:
                y = str(e)
            return y
        """,
        lambda ns: (ns["f"](lambda: 1), ns["f"](lambda: {}["k"])),
        set(),
    ),
    "generator consumed": (
        """
        def g(n):
            for i in range(n):
                yield i
        """,
        lambda ns: list(ns["g"](3)),
        set(),
    ),
    "comprehension": (
        """
        def f(xs):
            return [x * 2 for x in xs if x]
        """,
        lambda ns: ns["f"]([0, 1, 2]),
        set(),
    ),
    "conditional expression, one arm: the epilogue copies fold": (
        """
        def clamp(v, lo, hi):
            return lo if v < lo else hi if v > hi else v
        """,
        lambda ns: (ns["clamp"](-1, 0, 9), ns["clamp"](5, 0, 9)),
        {3},
    ),
    "async with and async for whose awaits never suspend": (
        """
        class CM:
            async def __aenter__(self):
                return self
            async def __aexit__(self, *exc):
                return False

        class It:
            def __init__(self):
                self.n = 2
            def __aiter__(self):
                return self
            async def __anext__(self):
                if not self.n:
                    raise StopAsyncIteration
                self.n -= 1
                return self.n

        async def f():
            out = []
            async with CM():
                async for x in It():
                    out.append(x)
            return out
        """,
        run_async("f"),
        set(),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_default_filters_leave_only_what_never_ran(name: str) -> None:
    source, run, expected = CASES[name]
    codes = measure(source, run)
    assert missed(codes) == expected


def test_an_await_the_user_wrote_keeps_its_suspension() -> None:
    """``await`` of a coroutine that never suspends: the user wrote it, so
    that it never suspended stays visible (3.11+: the delegation loop)."""
    source = """
        async def inner():
            return 1

        async def f():
            return await inner()
    """
    codes = measure(source, run_async("f"))
    from pytest_bytecode import versions

    expected = {6} if versions.HAS_EXCEPTION_TABLE else set()
    assert missed(codes) == expected


def test_no_filters_show_the_compiler_made_instructions() -> None:
    source, run, _ = CASES["except ... as name, both ways"]
    codes = measure(source, run)
    assert missed(codes, frozenset()) != set()  # re-raise paths, cleanup
    assert missed(codes) == set()


def test_every_filter_is_documented_and_switchable() -> None:
    from bc_helpers import ROOT

    text = (ROOT / "docs" / "user-guide.md").read_text()
    for name in FILTERS:
        assert f"`{name}`" in text, name
    assert filters.parse("-no-line") == filters.DEFAULT - {"no-line"}


@pytest.mark.subprocess
def test_real_code_check_passes_on_the_example_project() -> None:
    """``tools/filters_check.py`` on examples/shop under this Python: every
    instruction still missed on a line coverage.py calls covered stands for
    something written there that did not run (``.ci/run`` also runs it over
    real projects' suites on every version)."""
    import subprocess
    import sys

    from bc_helpers import ROOT

    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "filters_check.py"), "--example"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unexplained: 0" in done.stdout
    assert "explained: conditional-arm" in done.stdout  # the clamp() arms that never ran


def test_apply_folds_copies_and_drops_made_up_code() -> None:
    code = CodeCounts(
        "f",
        "f",
        1,
        None,
        (
            InstructionCount(0, "LOAD_FAST", 2, 3),
            InstructionCount(2, "RETURN_VALUE", 2, 3),
            InstructionCount(4, "LOAD_FAST", 2, 1),  # a copy of offset 0
            InstructionCount(6, "RERAISE", 2, 0),  # made up
        ),
        (
            BranchCount(8, "POP_JUMP_IF_TRUE", 3, (BranchOutcome(0, 1), BranchOutcome(6, 0))),
            BranchCount(10, "POP_JUMP_IF_TRUE", 3, (BranchOutcome(0, 2), BranchOutcome(2, 1))),
        ),
        ((4, "duplicates", 0), (6, "exception-cleanup", -1)),
    )
    shown = filters.apply(code, filters.DEFAULT)
    assert [(i.offset, i.count) for i in shown.instructions] == [(0, 4), (2, 3)]
    # The jump one of whose outcomes leads into made-up code is left out.
    assert [b.offset for b in shown.branches] == [10]
    assert filters.apply(code, frozenset()) is code


def test_classify_names_only_instructions_of_the_code() -> None:
    code = compile(
        "def f(x):\n    try:\n        return x()\n    finally:\n        x = 0\n", "m", "exec"
    )
    f = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    offsets = {i.offset for i in __import__("dis").get_instructions(f)}
    tags = classify(f)
    assert tags
    assert {offset for offset, _, _ in tags} <= offsets
    assert {name for _, name, _ in tags} <= set(FILTERS)
    assert all(twin == -1 or twin in offsets for _, _, twin in tags)


# --- what must stay: the user's code, even where it looks like the compiler's ---------


def _tagged(source: str, name: str) -> dict[int, str]:
    """line -> filters acting on ``name``'s instructions on that line."""
    import dis

    code = compile(textwrap.dedent(source), "<filters>", "exec")
    func = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    lines = {
        i.offset: i.positions.lineno if hasattr(i, "positions") else None
        for i in dis.get_instructions(func)
    }
    out: dict[int, str] = {}
    for offset, filt, _ in classify(func):
        line = lines.get(offset)
        if line is not None:
            out[line] = ",".join(sorted({*out.get(line, "").split(","), filt} - {""}))
    return out


def test_a_chained_comparison_on_an_exception_path_stays() -> None:
    """A ``finally`` after a ``try`` that always raises exists only as the
    exception path's copy; the comparison's stack work there is the user's
    (only the store and re-raise the compiler repeats at the end of both of
    its paths are copies).  It never short-circuited: line 6 stays partly run."""
    source = """
        def f(x, a, b, c):
            try:
                raise ValueError
            finally:
                ok = a < b < c
    """
    import dis

    code = compile(textwrap.dedent(source), "<filters>", "exec")
    func = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    tagged = {offset for offset, _, _ in classify(func)}
    listing = list(dis.get_instructions(func))
    stack_work = [
        i.offset
        for i, after in itertools.pairwise(listing)
        if i.opname in ("SWAP", "COPY", "DUP_TOP", "ROT_TWO", "ROT_THREE", "COMPARE_OP")
        and after.opname != "POP_EXCEPT"  # not the handler's own exit (COPY; POP_EXCEPT)
        and (i.positions.lineno if hasattr(i, "positions") else 6) == 6
    ]
    assert stack_work and not tagged & set(stack_work)

    def run(ns: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            ns["f"](1, 1, 2, 3)

    assert missed(measure(source, run)) == {6}


def test_conditional_arms_of_one_line_are_no_copies() -> None:
    """Two arms that share a line and a prefix (all that 3.10 records) are
    the user's two expressions, not one copied."""
    source = """
        def f(c, a):
            return g(a, 1) if c else g(a, 2)

        def g(a, b):
            return a + b
    """
    import dis

    code = compile(textwrap.dedent(source), "<filters>", "exec")
    func = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "f")
    tagged = {offset for offset, _, _ in classify(func)}
    loads = [i.offset for i in dis.get_instructions(func) if i.opname.startswith("LOAD_")]
    assert loads and not tagged & set(loads)  # 3.12+ fold only the per-arm RETURN_VALUE
    codes = measure(source, lambda ns: ns["f"](True, 1))
    assert missed(codes) == {3}  # the else arm never ran


def test_a_user_function_named___annotate___stays() -> None:
    source = """
        def __annotate__(format):
            return {}
    """
    assert _tagged(source, "__annotate__") == {}


def test_a_long_straight_line_classifies_quickly() -> None:
    """A 12,000-statement module body with one ``with``: like instructions by
    the thousand, each compared with a bounded number of others, along
    bounded runs, in bounded memory."""
    import time

    body = "".join(f"x{i} = {i % 7}\n" for i in range(12000))
    code = compile(body + "with open(__file__) as fh:\n    pass\n", "<big>", "exec")
    start = time.perf_counter()
    tags = classify(code)
    assert time.perf_counter() - start < 20  # a regression guard, not a benchmark
    assert not any(name == "duplicates" for _, name, _ in tags)
