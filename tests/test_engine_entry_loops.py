"""Jumps back to where a code object's instrumentation begins (issue 14).

A loop that is a function's first statement jumps back to the first unit of
the code (3.10: offset 0, or the unit right after a generator's GEN_START),
where the engine inserts code of its own: on 3.10 the catch-all's
SETUP_FINALLY, which must run once per frame, and the first block's probe,
which must count every entry.  Running the SETUP_FINALLY on every iteration
pushed a block each time until CPython aborted with ``Fatal Python error:
PyFrame_BlockSetup: block stack overflow`` (after 20 iterations).

Each shape runs in a subprocess of its own, since an abort kills the
interpreter: plain and instrumented, and compared with the oracle of
``test_engine_oracle`` (same results, output, traced lines, tracebacks and
counts, by :func:`test_engine_oracle.check_program`).  Every shape goes round
its loop more than 20 times.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_bytecode import versions

TESTS = Path(__file__).parent

#: The child: checks one program, given as source on stdin, like the corpus.
_CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
import test_engine_oracle as t
t.check_program(t.Program(name=sys.argv[2], source=sys.stdin.read()))
print("checked")
"""

#: name -> (source with a ``main()``, first version it runs on)
SHAPES: dict[str, tuple[str, tuple[int, int]]] = {}


def shape(name: str, source: str, requires: tuple[int, int] = (3, 10)) -> None:
    SHAPES[name] = (textwrap.dedent(source), requires)


# The case of the report, verbatim: ``continue`` jumps to offset 0 on 3.10.
shape(
    "issue14_readline_loop",
    """
    import io


    def f(fp):
        while 1:
            line = fp.readline()
            if not line:
                break
            if not line.split():
                continue


    def main():
        out = [f(io.StringIO("\\n" * 30))]
        out.append(f(io.StringIO("a b\\n\\n" * 15 + "c\\n")))
        return out
    """,
)

shape(
    "while_true_continue_break_else",
    """
    def f(n):
        while n:
            n -= 1
            if n % 3 == 0:
                continue
            if n == -1:
                break
        else:
            return "else"
        return n


    def g(n):
        while True:
            n -= 1
            if n > 0:
                continue
            break
        return n


    def main():
        return [f(25), f(0), g(30), g(-2)]
    """,
)

shape(
    "for_loop_first",
    """
    def f(items):
        for x in items:
            if x % 2:
                continue
            if x > 40:
                break
        else:
            return -1
        return x


    def main():
        return [f(range(30)), f(range(50)), f([])]
    """,
)

shape(
    "nested_loops_at_entry",
    """
    def f(n):
        while 1:
            while 1:
                n -= 1
                if n % 4:
                    continue
                break
            if n < 0:
                break
            if n % 3:
                continue
            n -= 1
        return n


    def g(n):
        while n > 0:
            for i in range(3):
                while i < 2:
                    i += 1
                    if i == 1:
                        continue
                n -= 1
                if n < 5:
                    break
            else:
                continue
            n -= 2
        return n


    def main():
        return [f(40), f(2), g(60), g(0)]
    """,
)

shape(
    "try_except_at_entry",
    """
    def f(values):
        i = 0
        while True:
            try:
                i += 1
                v = 100 // values[i]
                if v > 50:
                    continue
            except ZeroDivisionError:
                continue
            except IndexError:
                break
        return i


    def g(a):
        try:
            return 10 // a
        except ZeroDivisionError:
            return None


    def h(n):
        while n:
            try:
                n -= 1
                if n % 2:
                    raise ValueError(n)
            except ValueError:
                continue
            finally:
                n -= 0
        return n


    def main():
        return [f([0, 1, 0, 3] * 8), g(0), g(3), h(41)]
    """,
)

shape(
    "try_finally_loop_at_entry",
    """
    def f(n):
        out = 0
        while n > 0:
            try:
                n -= 1
                if n % 2:
                    continue
                if n == 3:
                    break
            finally:
                out += 1
        return out


    def g(n):
        while True:
            with open_none() as _:
                n -= 1
                if n > 0:
                    continue
            return n


    class open_none:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return False


    def main():
        return [f(30), f(0), g(25)]
    """,
)

shape(
    "escapes_after_many_iterations",
    """
    def f(n):
        while 1:
            n -= 1
            if n < 0:
                raise KeyError(n)
            if n % 2:
                continue


    def g(n):
        while 1:
            n -= 1
            if n < 0:
                return 1 // n - 1 // (n + 1)


    def main():
        out = []
        for func in (f, g):
            try:
                out.append(func(30))
            except (KeyError, ZeroDivisionError) as e:
                out.append(type(e).__name__)
        return out
    """,
)

shape(
    "generator_loop_first",
    """
    def g(n):
        while True:
            if n <= 0:
                return
            n -= 1
            if n % 3 == 0:
                continue
            yield n


    def h(n):
        while 1:
            try:
                n -= 1
                if n % 2:
                    continue
                x = yield n
                if x:
                    break
            except ValueError:
                continue


    def k(n):
        for i in range(n):
            if i % 2:
                continue
            yield i


    def main():
        out = [list(g(40)), list(k(30))]
        it = h(40)
        out.append(next(it))
        for _ in range(25):
            out.append(it.send(None))
        out.append(it.throw(ValueError))
        try:
            it.send(1)
        except StopIteration:
            out.append("stopped")
        it = h(10)
        next(it)
        it.close()
        out.append(sum(x for x in range(30) if x % 3))
        return out
    """,
)

shape(
    "coroutine_loop_first",
    """
    import asyncio


    async def c(n):
        while True:
            n -= 1
            if n % 2:
                continue
            await asyncio.sleep(0)
            if n < 0:
                break
        return n


    async def agen(n):
        while 1:
            n -= 1
            if n < 0:
                return
            if n % 2:
                continue
            yield n


    async def run():
        out = [await c(30)]
        out.append([x async for x in agen(30)])
        return out


    def main():
        return asyncio.run(run())
    """,
)

shape(
    "cells_and_free_vars_loop_first",
    """
    def outer(n):
        while n:
            n -= 1
            if n % 2:
                continue

            def inner():
                while True:
                    nonlocal n
                    n -= 1
                    if n > 3:
                        continue
                    return n

        return n, (lambda: n)()


    def closure(n):
        total = 0

        def add():
            while 1:
                nonlocal total
                total += 1
                if total % 25:
                    continue
                return total

        return add() + add()


    def main():
        return [outer(30), closure(0)]
    """,
)

shape(
    "deep_blocks_in_entry_loop",
    """
    def f(n):
        while n > 0:
            try:
                try:
                    try:
                        try:
                            try:
                                n -= 1
                                if n % 5 == 0:
                                    raise ValueError(n)
                                if n % 2:
                                    continue
                            finally:
                                n -= 0
                        except KeyError:
                            pass
                    finally:
                        pass
                except ValueError:
                    continue
            finally:
                n -= 0
        return n


    def main():
        return f(60)
    """,
)


if versions.PY >= (3, 10):
    shape(
        "match_in_entry_loop",
        """
        def f(n):
            while True:
                match n % 4:
                    case 0:
                        n -= 3
                        continue
                    case 1 | 2:
                        n -= 1
                    case _:
                        if n < 0:
                            break
                n -= 1
            return n


        def main():
            return [f(40), f(3)]
        """,
    )


def run_shape(name: str, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(TESTS), name],
        input=source,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_entry_loop_shape(name: str) -> None:
    source, requires = SHAPES[name]
    if requires > versions.PY:
        pytest.skip(f"needs Python {requires[0]}.{requires[1]}+")
    if versions.IS_PYODIDE:
        # No subprocesses there, and no block stack to overflow (3.14+):
        # the same check in this process.
        import test_engine_oracle as oracle_tests

        oracle_tests.check_program(oracle_tests.Program(name=name, source=source))
        return
    proc = run_shape(name, source)
    assert proc.returncode == 0 and "checked" in proc.stdout, (
        f"exit status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )


def test_shapes_jump_back_to_the_start() -> None:
    """The shapes do what they are here for: some jump lands on the first
    unit after the code's glued prefix (3.10: offset 0, or right after
    GEN_START), where block 0's instrumentation begins."""
    from pytest_bytecode.engine.analysis import analyse
    from pytest_bytecode.engine.blocks import entry_glue
    from pytest_bytecode.engine.decode import scan

    found = []
    for name, (source, requires) in SHAPES.items():
        if requires > versions.PY:
            continue
        todo = [compile(source, name, "exec")]
        while todo:
            code = todo.pop()
            todo += [c for c in code.co_consts if isinstance(c, type(code))]
            ops, flow_instrs = scan(code.co_code)
            glue = entry_glue(ops)
            blocks = analyse(code, ops, flow_instrs).graph.blocks
            if any(s.target == blocks[0].start or s.target == glue for s in flow_instrs):
                found.append((name, code.co_name))
    names = {name for name, _ in found}
    assert "issue14_readline_loop" in names
    if not versions.HAS_RESUME:  # 3.10: a generator's loop goes back to after GEN_START
        assert ("generator_loop_first", "g") in found


@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide has no subprocesses")
def test_progen_diff_tool_runs() -> None:
    """``tools/progen_diff.py`` (the long differential run) checks programs
    in children and reports ``N passed, N failed``."""
    tool = TESTS.parent / "tools" / "progen_diff.py"
    proc = subprocess.run(
        [sys.executable, str(tool), "-n", "3", "--batch", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "3 passed, 0 failed"


@pytest.mark.skipif(versions.HAS_EXCEPTION_TABLE, reason="3.10 has a block stack")
def test_no_jump_runs_the_catch_all_setup_again() -> None:
    """3.10: the catch-all's SETUP_FINALLY (the one aimed furthest, at the
    stub after the original code) comes before every jump target."""
    import dis

    from pytest_bytecode.engine import instrument

    checked = 0
    for name, (source, _) in SHAPES.items():
        todo = [instrument(compile(source, name, "exec")).code]
        while todo:
            code = todo.pop()
            todo += [c for c in code.co_consts if isinstance(c, type(code))]
            ins = list(dis.get_instructions(code))
            setups = [i for i in ins if i.opname == "SETUP_FINALLY"]
            if not setups:
                continue
            catch_all = max(setups, key=lambda i: i.argval)
            # A probe's FOR_ITER over its counter (right after loading it)
            # is never exhausted: its target does not count.
            targets = [
                i.argval
                for before, i in zip([None, *ins[:-1]], ins, strict=True)
                if i.opcode in dis.hasjrel + dis.hasjabs
                and not (i.opname == "FOR_ITER" and before and before.opname == "LOAD_CONST")
            ]
            early = [t for t in targets if t <= catch_all.offset]
            assert not early, (name, code.co_name, catch_all.offset, early)
            checked += 1
    assert checked > 20
