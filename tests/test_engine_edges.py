"""The engine at the edges (issue 15): exact and invisible where plain code is.

Each case was found where instrumented code behaved or counted otherwise than
plain code: a bare ``raise`` in a helper (3.10), a delegating generator read
while suspended (3.10), the recursion limit (3.10-3.11), exceptions with a
user ``__getattribute__`` (3.10), debuggers after an exception (3.10), and
``sys.settrace`` events of generators that a probe's ``FOR_ITER`` changed
(3.12-3.13).  Every test runs on every version: where a case concerns one
version only, the others show that it holds there too.
"""

from __future__ import annotations

import bdb
import ctypes
import itertools
import sys
import textwrap
import threading
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import oracle
import pytest
from bc_helpers import trace_events
from test_engine_oracle import Program, check_program

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument


def _program(name: str, source: str) -> Program:
    return Program(name, textwrap.dedent(source))


# --- 1. A bare ``raise`` in a helper (3.10: no traceback entry of its own) -----

BARE_RERAISE = """
def inner():
    raise KeyError("x")

def helper():
    a = 1; b = 2; c = 3; d = 4
    raise

def cleanup_helper(log):
    try:
        log.append(1)
        raise
    finally:
        log.append(2)

def main():
    log = []
    try:
        inner()
    except KeyError:
        try:
            helper()
        except KeyError:
            log.append("re-raised")
        try:
            cleanup_helper(log)
        except KeyError:
            log.append("again")
    return log
"""


def test_bare_raise_in_a_helper_counts_the_helper() -> None:
    check_program(_program("bare_reraise_helper", BARE_RERAISE))


# --- 2. A delegating frame read while suspended (3.10: YIELD_FROM) --------------

SUSPENDED = """
import asyncio

def inner():
    yield 1
    yield 2

def outer():
    x = yield from inner()
    after = 1
    return after

async def sleeper():
    await asyncio.sleep(0)
    after = 2
    return after

def main():
    g = outer()
    coro = sleeper()
    return g, next(g), coro, coro.send(None)
"""


def test_counts_read_while_a_delegation_is_suspended() -> None:
    """Counts taken while ``yield from``/``await`` is suspended: the code
    after it has not run."""
    kept: list[object] = []

    def run(code: types.CodeType) -> None:
        ns: dict[str, Any] = {}
        exec(code, ns)
        kept.append(ns["main"]())

    code = compile(textwrap.dedent(SUSPENDED), "<suspended>", "exec")
    expected = oracle.oracle_counts(code, lambda: run(code))
    inst = instrument(compile(textwrap.dedent(SUSPENDED), "<suspended>", "exec"))
    run(inst.code)
    actual = oracle.engine_counts(inst)
    oracle.assert_counts_equal(expected, actual, code)
    for _, _, coro, _ in kept:  # type: ignore[misc]
        coro.close()


# --- 3. throw() into a delegate that catches and returns -------------------------

THROW_RETURNING = """
def inner():
    try:
        yield 1
    except KeyError:
        return "swallowed"

def outer():
    r = yield from inner()
    yield r

def main():
    g = outer()
    next(g)
    return g.throw(KeyError)
"""


def test_throw_into_a_delegate_that_returns() -> None:
    prog = _program("throw_returning_delegate", THROW_RETURNING)
    check_program(prog)  # behaviour, and counts up to the known difference
    code = prog.compile()
    expected = oracle.oracle_counts(code, lambda: _run_main(code))
    inst = instrument(prog.compile())
    _run_main(inst.code)
    actual = oracle.engine_counts(inst)
    for path, sub in oracle.code_tree(code).items():
        units = oracle.units(sub)
        for before, ins in itertools.pairwise(units):
            if before.opname == "SEND" and ins.opname == "YIELD_VALUE":
                assert actual[path][ins.offset] == expected[path][ins.offset]


# --- 4. The recursion limit (3.10-3.11: stubs need no headroom) -----------------

RECURSION = """
import sys
import threading

released = []
locks = [threading.Lock() for _ in range(200)]

def down(n):
    try:
        return down(n + 1)
    finally:
        released.append(n)

def catch(n):
    try:
        return catch(n + 1)
    except RecursionError:
        return n

def locked(n):
    with locks[n]:
        return locked(n + 1) if n % 2 else unlocked(n + 1)

def unlocked(n):
    return locked(n + 1)

def main():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        try:
            down(0)
        except RecursionError:
            pass
        deepest = catch(0)
        try:
            locked(0)
        except RecursionError:
            pass
    finally:
        sys.setrecursionlimit(old)
    return len(released), deepest, any(lock.locked() for lock in locks)
"""


def _run_main(code: types.CodeType) -> Any:
    ns: dict[str, Any] = {}
    exec(code, ns)
    return ns["main"](), ns


def test_cleanup_runs_at_the_recursion_limit() -> None:
    """``finally`` and ``except`` bodies run as in plain code while a
    RecursionError unwinds at the limit, untraced and traced, and their
    counts are those of the runs."""
    source = textwrap.dedent(RECURSION)
    plain, _ = _run_main(compile(source, "<recursion>", "exec"))
    assert plain[2] is False  # every lock released
    inst = instrument(compile(source, "<recursion>", "exec"))
    got, ns = _run_main(inst.code)
    assert got == plain
    counts = {c.name: c for c in inst.counts()}
    line = source.splitlines().index("        released.append(n)") + 1
    finally_body = [i.count for i in counts["down"].instructions if i.line == line and i.count]
    # The copy the compiler made for exceptions: what follows the ``append``
    # call ran once per value appended (before 3.12 the deepest frame's call
    # raises again, as in plain code: its first instructions ran once more).
    assert finally_body[-1] == len(ns["released"])
    assert finally_body[0] - finally_body[-1] in (0, 1)
    line = source.splitlines().index("        return n") + 1
    caught = {i.count for i in counts["catch"].instructions if i.line == line}
    assert caught == {1}  # ``return n`` in the except body: the deepest frame only
    tracer: Callable[..., Any] = lambda frame, event, arg: None  # noqa: E731
    sys.settrace(tracer)
    try:
        traced, _ = _run_main(instrument(compile(source, "<recursion>", "exec")).code)
    finally:
        sys.settrace(None)
    sys.settrace(tracer)
    try:
        traced_plain, _ = _run_main(compile(source, "<recursion>", "exec"))
    finally:
        sys.settrace(None)
    assert traced == traced_plain


def test_generated_deep_recursion_with_cleanup() -> None:
    """A shape progen makes: cleanup while the limit unwinds, not at the limit."""
    source = """
    import sys

    def deep(n, log):
        try:
            if n:
                return deep(n - 1, log) + 1
            raise ValueError(n)
        finally:
            log.append(n)

    def main():
        log = []
        try:
            deep(40, log)
        except ValueError:
            pass
        return len(log), sys.getrecursionlimit() > 40
    """
    check_program(_program("deep_cleanup", source))


# --- 5. Exceptions whose own attribute lookup is unusual (3.10, 3.14+) ---------

ODD_EXCEPTION = """
seen = []

class Odd(Exception):
    def __getattribute__(self, name):
        seen.append(name)
        if name == "__traceback__":
            return None
        return super().__getattribute__(name)

def main():
    try:
        raise Odd("x")
    except Odd:
        caught = "caught"
    try:
        try:
            raise Odd("y")
        finally:
            cleanup = 1
    except Odd:
        caught += "twice"
    return caught, cleanup, sorted(set(seen))
"""


def test_stubs_do_not_ask_the_exception_for_its_traceback() -> None:
    check_program(_program("odd_exception", ODD_EXCEPTION))


# --- 6. Debuggers after an exception (3.10: the frame's line) -------------------

RAISING = """
def fails(n):
    total = n
    total += 1
    raise ValueError(total)

def main():
    try:
        fails(1)
    except ValueError as exc:
        return exc.args
"""


def _return_lines(code: types.CodeType) -> list[tuple[str, int | None]]:
    ns: dict[str, Any] = {}
    exec(code, ns)
    seen: list[tuple[str, int | None]] = []

    def trace(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != "<raising>":
            return None
        if event == "return":
            seen.append((frame.f_code.co_name, frame.f_lineno))
        return trace

    sys.settrace(trace)
    try:
        ns["main"]()
    finally:
        sys.settrace(None)
    return seen


def test_the_frame_left_by_an_exception_is_at_the_raising_line() -> None:
    source = textwrap.dedent(RAISING)
    plain = _return_lines(compile(source, "<raising>", "exec"))
    assert _return_lines(instrument(compile(source, "<raising>", "exec")).code) == plain
    assert plain[0] == ("fails", 5)


class _Stepper(bdb.Bdb):
    """pdb's ``next`` and ``until`` on every line, without the terminal."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command
        self.lines: list[tuple[str, int]] = []

    def user_call(self, frame: types.FrameType, argument_list: Any) -> None:
        self.set_step()

    def user_line(self, frame: types.FrameType) -> None:
        if frame.f_code.co_filename == "<raising>":
            self.lines.append((frame.f_code.co_name, frame.f_lineno))
        if self.command == "until":
            self.set_until(frame)
        else:
            self.set_next(frame)

    def user_return(self, frame: types.FrameType, return_value: Any) -> None:
        self.set_step()

    def user_exception(self, frame: types.FrameType, exc_info: Any) -> None:
        self.set_next(frame)


@pytest.mark.parametrize("command", ["next", "until"])
def test_stepping_with_bdb_past_an_exception(command: str) -> None:
    """pdb's ``next``/``until`` compare the frame's line on ``'return'``."""
    source = textwrap.dedent(RAISING)
    results = []
    plain = compile(source, "<raising>", "exec")
    for code in (plain, instrument(compile(source, "<raising>", "exec")).code):
        ns: dict[str, Any] = {}
        exec(code, ns)
        stepper = _Stepper(command)
        result = stepper.runcall(ns["main"])
        results.append((result, stepper.lines))
    assert results[0] == results[1]


# --- 7. Debugger jumps (frame.f_lineno = N) ---------------------------------------

JUMPERS = [
    """
def f(n):
    a = 1
    b = 2
    if n:
        c = 3
    d = 4
    return (a, b, d)
""",
    """
def f(n):
    out = []
    for i in range(n):
        x = i * 2
        if x > 2:
            out.append(x)
        y = 3
    while n > 0:
        n -= 1
        z = n
    return out
""",
    """
def f(n):
    try:
        a = 1
        if n:
            raise ValueError(n)
        b = 2
    except ValueError as e:
        c = 3
        d = 4
    finally:
        e = 5
    with open(__file__) as fh:
        g = 6
    return 7
""",
    """
def f(n):
    for i in range(n):
        try:
            x = i
            y = 1
        finally:
            z = 2
    return n
""",
    """
def f(n):
    while n:
        n -= 1
        k = n
    return k
""",
]

#: Jumps (program, from line, to line) left out of the matrix: they crash
#: CPython itself, in plain code, when no exception was being handled before
#: the call (3.10: from an ``except`` body back to its ``except`` line).
CRASH_CPYTHON: set[tuple[int, int, int]] = (
    {(2, 9, 8), (2, 10, 8)} if not versions.HAS_EXCEPTION_TABLE else set()
)


def _jump_outcome(code: types.CodeType, source_line: int, target_line: int) -> tuple[Any, ...]:
    """Run ``f(3)`` with a trace function that, at the first line event for
    ``source_line``, sets ``f_lineno = target_line``; the result (or the
    exception), the setter's error, if any, and the exception left set as
    handled (``sys.exc_info()``) after the call.  A coroutine ``f`` is run to
    its end by ``send(None)``."""
    ns: dict[str, Any] = {"__file__": __file__}
    exec(code, ns)
    done: list[str] = []
    if sys.exc_info()[1] is not None:
        _forget_handled_exception()

    def trace(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_name != "f":
            return None
        if event == "line" and frame.f_lineno == source_line and not done:
            done.append("")
            try:
                frame.f_lineno = target_line
            except ValueError as exc:
                done.append(str(exc))
        return trace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 3.12+: unbound locals set to None
        sys.settrace(trace)
        try:
            result: Any = ns["f"](3)
            if isinstance(result, types.CoroutineType):
                coro, result = result, "suspended"
                try:
                    coro.send(None)
                finally:
                    coro.close()
        except StopIteration as stop:
            result = stop.value
        except Exception as exc:
            result = repr(exc)
        finally:
            sys.settrace(None)
    handled = sys.exc_info()[1]
    if handled is not None:
        _forget_handled_exception()
    return result, done[1:], repr(handled)


def _forget_handled_exception() -> None:
    """Set the exception being handled back to none, so that every jump
    starts from the same state: a jump out of an ``except`` body can leave
    it set, in plain code too, and the next jump ran with it (two pinned
    "differences" came from that, not from the engine), and every later
    test's failure was chained to it."""
    forget = ctypes.pythonapi.PyErr_SetExcInfo  # steals three references: NULLs
    forget.argtypes = [ctypes.c_void_p] * 3
    forget.restype = None
    forget(None, None, None)
    assert sys.exc_info()[1] is None


def _jump_differences(
    source: str, lines: range, leave_out: Iterable[tuple[int, int]] = ()
) -> dict[tuple[int, int], tuple[Any, Any]]:
    """Every jump between two of ``lines`` of ``source`` (see
    :func:`_jump_outcome`), but those in ``leave_out``, whose outcome
    instrumented is not the plain one: (from line, to line) -> (plain
    outcome, instrumented outcome)."""
    differ = {}
    for source_line, target_line in itertools.permutations(lines, 2):
        if (source_line, target_line) in leave_out:
            continue
        plain = _jump_outcome(compile(source, "<jump>", "exec"), source_line, target_line)
        inst = instrument(compile(source, "<jump>", "exec"))
        got = _jump_outcome(inst.code, source_line, target_line)
        if got != plain:
            differ[source_line, target_line] = (plain, got)
    return differ


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs sys.settrace to itself")
def test_debugger_jumps_end_as_in_plain_code() -> None:
    """Every jump between two lines of the programs above (1 by 1, f(3)):
    refused with the same message, or ending with the same result or
    exception and the same exception left handled, instrumented as plain.
    (3.10 refused jumps from a function's first line, and jumps after a
    probe, as jumps "into the body of a try statement"; 3.11 popped the
    wrong values when jumping out of a handler.)
    """
    differ = {}
    for k, source in enumerate(JUMPERS):
        crash = {(a, b) for j, a, b in CRASH_CPYTHON if j == k}
        found = _jump_differences(source, range(3, source.count("\n")), crash)
        differ |= {(k, a, b): outcomes for (a, b), outcomes in found.items()}
    assert differ == {}


#: Coroutines with ``async with`` and ``await`` inside other blocks (CPython's
#: test_sys_settrace ``test_jump_out_of_async_with_block_within_for_block``
#: and ``..._within_with_block``, there with an ``await`` at stack depth ten
#: after it), and an ``await`` deeper still in a ``try``.  Their handler
#: stubs run where the f_lineno setter's stack model is deeper than ten items
#: (3.14+ stubs swapped there, and the model of the code after the ``async
#: with`` went wrong: the jump out of it popped every value and the
#: interpreter crashed at the ``with``'s exit).
ASYNC_JUMPERS = [
    """
async def f(n):
    out = [1]
    for i in [n]:
        async with CM(out, 3):
            out.append(4)
        out.append(5)
    out.append(6)
    return out
""",
    """
async def f(n):
    out = [1]
    with CM(out, 2):
        async with CM(out, 3):
            out.append(4)
            x = [n, n, n, n, n, n, n, n, n, await aw(n)]
        out.append(len(x))
    out.append(6)
    return out
""",
    """
async def f(n):
    out = [1]
    with CM(out, 2):
        try:
            async with CM(out, 3):
                x = [n, n, n, n, n, n, n, n, n, n, n, await aw(n)]
                out.append(len(x))
        except ValueError:
            out.append(0)
        out.append(5)
    out.append(6)
    return out
""",
]

ASYNC_JUMPERS_PRELUDE = """
class CM:
    def __init__(self, out, v):
        self.out, self.v = out, v
    def __enter__(self):
        self.out.append(self.v)
    def __exit__(self, *exc):
        self.out.append(-self.v)
    async def __aenter__(self):
        self.out.append(self.v)
    async def __aexit__(self, *exc):
        self.out.append(-self.v)

async def aw(n):
    return n
"""


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs sys.settrace to itself")
def test_debugger_jumps_in_coroutines_end_as_in_plain_code() -> None:
    """Every jump between two lines of the coroutines above: refused with
    the same message, or ending with the same result or exception,
    instrumented as plain (3.14+ crashed the interpreter on the jump out of
    an ``async with`` inside a ``with`` or a ``for``)."""
    differ = []
    first = ASYNC_JUMPERS_PRELUDE.count("\n") + 1
    for k, body in enumerate(ASYNC_JUMPERS):
        lines = range(first + 2, first + body.count("\n") - 1)
        found = _jump_differences(ASYNC_JUMPERS_PRELUDE + body, lines)
        differ += [(k, a - first, b - first, *outcomes) for (a, b), outcomes in found.items()]
    assert differ == []


def _deep_handler(loops: int, raises: bool) -> str:
    """A ``try`` in ``loops`` nested loops in a ``with``, whose body raises
    the ``ValueError`` its handler catches if ``raises``: its handler's stub
    runs where the f_lineno setter's model of the stack is ``loops`` + 1
    items deep (3.11-3.14; 3.15 loops hold two), and a ``SWAP`` there is
    modelled right only within ten items (versions.SETTER_SWAP_ITEMS).
    Lines: 2 ``out = []``, 3 ``with``, the loops, the ``try``, its body, the
    ``except`` (``loops`` + 6), its body, the line after the ``try``."""
    body = "out.append([n, int('n')])" if raises else "out.append([n, n])"
    return (
        "def f(n):\n"
        "    out = []\n"
        "    with open(__file__):\n"
        + "".join("    " * (2 + k) + f"for a{k} in [n]:\n" for k in range(loops))
        + "    " * (loops + 2)
        + "try:\n"
        + "    " * (loops + 3)
        + body
        + "\n"
        + "    " * (loops + 2)
        + "except ValueError:\n"
        + "    " * (loops + 3)
        + "out.append(0)\n"
        + "    " * (loops + 2)
        + "out.append(1)\n"
        + "    return out\n"
    )


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs sys.settrace to itself")
@pytest.mark.parametrize("raises", [False, True], ids=["no-raise", "raise"])
@pytest.mark.parametrize("loops", [5, 6, 7, 8, 9])
def test_debugger_jumps_beside_a_deep_handler(loops: int, raises: bool) -> None:
    """Every jump between two lines of :func:`_deep_handler` ends as in
    plain code, the exception left handled included, at depths on both
    sides of where the stubs stop swapping.  (Where a stub's ``SWAP``
    reached past ten items, jumps after the ``try`` popped the wrong
    values: a try eight items deep on 3.11, ten on 3.12-3.13.  Where
    3.12-3.13 dropped ``lasti`` by ``END_SEND`` instead, jumps into the
    ``except`` body were refused with another message, and jumps out of it
    left the exception handled.)"""
    source = _deep_handler(loops, raises)
    except_line = loops + 6
    crash = set()
    if raises and not versions.HAS_EXCEPTION_TABLE:
        # CPython 3.10 itself crashes, in plain code, on a jump between an
        # ``except`` line and its body.
        crash = {(except_line, except_line + 1), (except_line + 1, except_line)}
    differ = _jump_differences(source, range(2, source.count("\n")), crash)
    if versions.PY >= (3, 15) and loops >= 7:
        # 3.15 loops hold two stack items, as its with does: the try body's
        # call is 2 + 2 * 7 + 4 = 20 deep, and a probe's two items take the
        # setter's model past the 21 it holds, so jumps from the try are
        # refused as "too deep" (docs/engine.md).
        too_deep = (["stack to deep to analyze"], ["stack is too deep to analyze"])
        assert differ and all(got[1] in too_deep for _, got in differ.values())
        return
    assert differ == {}


# --- 9. sys.settrace events of generators (3.12-3.13: a probe's FOR_ITER) -------

CLOSED_IN_A_LOOP = """
from itertools import islice


def gen(a, b, x0=-3, x1=6, x2=4, w10=0):
    for i11 in range(23):
        if x1 == 4:
            continue
        if (3 in (6, 7, 3) and x0 in (x2, 4, 3)):
            if i11 in (-1, a, 3):
                break
        elif not b:
            w12 = 0
            while w12 < 1:
                w12 += 1
                x2 = 1 % 101
        elif not 5:
            if b < b <= w10:
                break
        else:
            x2 = (abs(5) % 7 ^ (lambda v: v * 2 - 3)(x0)) % 101
            match abs(abs(x2) % 7) % 5:
                case 0:
                    x1 = (w10 // (8 or 1)) % 101
                case 1 | 2:
                    if w10 < -2 <= x0:
                        break
                    x0 = (x0 * (lambda v: v * 2 - x1)(i11)) % 101
                case m13 if m13 > 3:
                    if x2 < x2 <= 0:
                        break
                    if x0 % 2 == 0:
                        continue
                    yield x1
                case _:
                    x2 += ((7 - b) - (0 and x0)) % 13
                    yield ((lambda v: v * 2 - w10)(a) + (6 // 7))
                    x0 = (yield ((lambda v: v * 2 - x1)(-1) and (1 - i11))) or x0
        if b in (x1, 2, 3):
            break
    x0 = ((a - x0) and abs(5) % 7) % 101
    yield x0 + x1



def main():
    out = []
    for a, b in [(2, 4), (6, 7), (1, 8), (0, 0)]:
        g = gen(a, b)
        out.append(list(islice(g, 12)))
        g.close()
    return out
"""
#: (Reduced from a generated program: a probe right before a ``yield`` that a
#: short-circuit jumps to.  On 3.13 its FOR_ITER made the RESUME after the
#: yield a line start, and ``close()`` threw GeneratorExit into the
#: suspended generator, where plain code just clears it.)


def test_generators_closed_and_exhausted_trace_as_in_plain_code() -> None:
    """Every ``sys.settrace`` event (call, line, return, exception) of
    generators closed while suspended, and of loops over exhausted generator
    expressions, as in plain code."""
    source = textwrap.dedent(CLOSED_IN_A_LOOP)
    plain = trace_events(compile(source, "<closed>", "exec"), "<closed>")
    got = trace_events(instrument(compile(source, "<closed>", "exec")).code, "<closed>")
    assert got == plain


# --- Threads: stubs of one code object on two threads ----------------------------


@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide has no threads")
def test_stub_records_of_many_threads_add_up() -> None:
    source = textwrap.dedent(
        """
        def work(n):
            caught = 0
            for i in range(n):
                try:
                    raise KeyError(i)
                except KeyError:
                    caught += 1
            return caught
        """
    )
    inst = instrument(compile(source, "<threads>", "exec"))
    ns: dict[str, Any] = {}
    exec(inst.code, ns)
    threads = [threading.Thread(target=ns["work"], args=(500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {c.name: c for c in inst.counts()}["work"]
    raised = [i.count for i in counts.instructions if i.opname == "RAISE_VARARGS"]
    assert raised == [2000]


# --- 8. sys.monitoring events of exceptions (3.12+) -----------------------------

HANDLED = """
def g():
    raise ValueError

def f():
    try:
        g()
    except ValueError:
        return 1
"""


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="sys.monitoring is 3.12+")
def test_monitoring_sees_no_jump_into_a_handler() -> None:
    """A handler is entered through its stub with no JUMP event.  (The
    catch-all's EXCEPTION_HANDLED and RERAISE in a frame an exception leaves
    remain: a known difference, README.)"""
    monitoring: Any = getattr(sys, "monitoring")  # noqa: B009  (3.12+)
    results = []
    for instrumented in (False, True):
        code = compile(textwrap.dedent(HANDLED), "<handled>", "exec")
        if instrumented:
            code = instrument(code).code
        ns: dict[str, Any] = {}
        exec(code, ns)
        seen: list[tuple[str, str]] = []
        tool = 4
        monitoring.use_tool_id(tool, "test_engine_edges")
        try:
            events = {"RAISE": 0, "EXCEPTION_HANDLED": 0, "JUMP": 0, "PY_UNWIND": 0, "RERAISE": 0}
            mask = 0
            for name in events:
                event = getattr(monitoring.events, name)

                def record(
                    code: types.CodeType, *args: Any, name: str = name, seen: list[Any] = seen
                ) -> None:
                    if code.co_filename == "<handled>":
                        seen.append((name, code.co_name))

                monitoring.register_callback(tool, event, record)
                mask |= event
            monitoring.set_events(tool, mask)
            ns["f"]()
        finally:
            monitoring.set_events(tool, 0)
            monitoring.free_tool_id(tool)
        results.append(seen)
    plain, got = results
    assert ("JUMP", "f") not in got
    extra = [("EXCEPTION_HANDLED", "g"), ("RERAISE", "g")]  # the catch-all, documented
    assert [e for e in got if e not in extra] == plain
