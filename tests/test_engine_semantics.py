"""Smallest programs that once separated the engine from the oracle.

Each case is the minimal form of a disagreement found by the corpus, the
program generator or CPython's test suite (see ``tests/test_engine_oracle.py``
for the full comparison): a few lines that run one construct and compare the
engine's counts with the oracle's instruction by instruction.  They keep the
fixes fixed, and read faster than a corpus program when one breaks.
"""

from __future__ import annotations

from typing import Any

import oracle
import pytest

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument

CASES: dict[str, str] = {
    # 3.10: YIELD_FROM begins executing again on every next()/send() that
    # resumes the delegating generator (the interpreter rewinds f_lasti to it).
    "yield_from_resumed": (
        "def inner():\n    yield 1\n    yield 2\n"
        "def outer():\n    yield from inner()\n"
        "def main():\n    return list(outer())\n"
    ),
    # 3.11: the delegate raises into the outer frame, which CPython resumes
    # past the SEND loop; 3.14: the exception arrives through CLEANUP_THROW.
    "throw_into_yield_from": (
        "def inner():\n    try:\n        yield 1\n    except KeyError:\n        yield 3\n"
        "def outer():\n    try:\n        yield from inner()\n    except KeyError:\n"
        "        return 'caught'\n"
        "def main():\n    g = outer()\n    next(g)\n    return g.throw(KeyError)\n"
    ),
    "throw_caught_by_outer": (
        "def inner():\n    yield 1\n"
        "def outer():\n    try:\n        yield from inner()\n    except KeyError:\n"
        "        return 'caught'\n"
        "def main():\n    g = outer()\n    next(g)\n    try:\n        g.throw(KeyError)\n"
        "    except StopIteration as e:\n        return e.value\n"
    ),
    "close_yield_from": (
        "def inner():\n    yield 1\n    yield 2\n"
        "def outer():\n    yield from inner()\n"
        "def main():\n    g = outer()\n    next(g)\n    g.close()\n"
    ),
    "send_yield_from_then_drop": (
        "def inner():\n    x = yield 1\n    yield x\n"
        "def outer():\n    yield from inner()\n"
        "def main():\n    g = outer()\n    next(g)\n    return g.send(5)\n"
    ),
    "close_plain_generator": (
        "def numbers():\n    n = 0\n    while True:\n        yield n\n        n += 1\n"
        "def main():\n    g = numbers()\n    next(g)\n    g.close()\n"
    ),
    "close_generator_chain": (
        "def numbers():\n    n = 0\n    while True:\n        yield n\n        n += 1\n"
        "def evens(src):\n    for x in src:\n        if x % 2 == 0:\n            yield x\n"
        "def main():\n    g = evens(numbers())\n    return next(g), next(g)\n"
    ),
    # A generator abandoned while suspended at a yield: 3.13+ close it without
    # running its frame (gen_close's fast path for a RESUME at exception depth
    # 1), except while legacy tracing is on (3.14), when the StopIteration
    # handler (CALL_INTRINSIC_1, RERAISE) runs.  The engine must not change
    # which path is taken.
    "drop_suspended_generator": (
        "def f0(a):\n    x = (yield a) or a\n    yield x\n"
        "def main():\n    return next(iter(f0(2)), 0)\n"
    ),
    "drop_suspended_generator_statement": (
        "def f0(a):\n    yield a\n    yield a + 1\ndef main():\n    return next(f0(2))\n"
    ),
    "drop_suspended_generator_many_times": (
        "def f0(a):\n    x = (yield a) or a\n    yield x\n"
        "def f2(a):\n    y = next(iter(f0(a)), 0)\n    return y\n"
        "def main():\n    return [f2(i) for i in range(20)]\n"
    ),
    # The generated program seed 5 (tests/progen.py 5), trimmed.
    "progen_seed5_f0": (
        "def f0(a, b):\n    x0 = a\n    x1 = b\n    x1 = (yield b) or x1\n"
        "    x1 = ((-3 - 3) // (3 or 1)) % 101\n    yield x0 + x1\n"
        "def f2(a, b):\n    x1 = b\n    x1 = next(iter(f0(2, (a or abs(-1) % 7))), x1)\n"
        "    return x1\n"
        "def main():\n    out = []\n    for a, b in [(1, 2), (3, 4), (0, 0), (5, 6)]:\n"
        "        out.append(f2(a, b))\n"
        "        out.append(list(f0(a, b)))\n    return out\n"
    ),
    "close_suspended_generator_value_used": (
        "def f0(a):\n    x = yield a\n    yield x\n"
        "def main():\n    g = f0(2)\n    next(g)\n    g.close()\n"
    ),
    "await_thrown_into": (
        "import types\n"
        "@types.coroutine\ndef suspend(v):\n    got = yield v\n    return got\n"
        "async def worker():\n    try:\n        b = await suspend('x')\n"
        "    except ZeroDivisionError:\n        b = 'recovered'\n    return b\n"
        "def main():\n    co = worker()\n    co.send(None)\n    try:\n"
        "        co.throw(ZeroDivisionError())\n    except StopIteration as e:\n"
        "        return e.value\n"
    ),
}


#: Cases whose syntax needs 3.11 (compiled only there): name -> source.
CASES_311: dict[str, str] = {
    # 3.14/3.15: the instrumented code raised AttributeError: 'NoneType' object
    # has no attribute 'tb_lasti' (a raise in an except* handler while another
    # part of the group is left for the outer handler).
    "except_star_raise_with_unmatched": (
        "def main():\n    out = []\n    try:\n        try:\n"
        "            raise ExceptionGroup('outer', [ValueError(1), OSError(3)])\n"
        "        except* ValueError:\n            raise KeyError('h')\n"
        "    except* OSError:\n        out.append('os')\n"
        "    except* KeyError:\n        out.append('key')\n"
        "    return out\n"
    ),
}


@pytest.mark.parametrize("name", [*CASES, *CASES_311])
def test_case_counts_match_oracle(name: str) -> None:
    if name in CASES_311 and versions.PY < (3, 11):
        pytest.skip("needs Python 3.11+")
    src = CASES.get(name) or CASES_311[name]
    code = compile(src, f"<{name}>", "exec")
    results: list[Any] = []

    def run() -> None:
        ns: dict[str, Any] = {}
        exec(code, ns)
        results.append(ns["main"]())

    expected = oracle.oracle_counts(code, run)
    inst = instrument(compile(src, f"<{name}>", "exec"))
    ns: dict[str, Any] = {}
    exec(inst.code, ns)
    results.append(ns["main"]())
    ns.clear()
    assert results[0] == results[1]
    oracle.assert_counts_equal(expected, oracle.engine_counts(inst), code)
