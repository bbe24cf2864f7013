"""How many probes run: the placement promised in the README, on every version.

The oracle tests check that counts are exact whatever the placement; these
check that the placement is the cheap one: probes only on the chords of the
flow graph, so that a path through a function or a loop passes as few probes
as flow conservation allows.  A probe's value is how often it ran, so the sum
of the raw state's counter values is the number of probe executions.
"""

from __future__ import annotations

import dis
import textwrap
from typing import Any

import pytest

from pytest_bytecode import versions
from pytest_bytecode.engine import Instrumented, instrument
from pytest_bytecode.engine.counts import CountDown


def _load(
    source: str, probe_by_for_iter: bool | None = None
) -> tuple[Instrumented, dict[str, Any]]:
    code = compile(textwrap.dedent(source), "<plan>", "exec")
    inst = instrument(code, probe_by_for_iter=probe_by_for_iter)
    namespace: dict[str, Any] = {"__name__": "plan_test"}
    exec(inst.code, namespace)
    return inst, namespace


def _probe_runs(inst: Instrumented) -> int:
    values, _ = inst.state()
    return sum(values)


def _total(inst: Instrumented, name: str) -> int:
    return sum(i.count for c in inst.counts() if c.name == name for i in c.instructions)


def test_an_if_costs_one_probe_per_call() -> None:
    inst, ns = _load(
        """
        def pick(x):
            if x:
                return 1
            return 2
        """
    )
    inst.reset()
    for k in range(100):
        ns["pick"](k % 3)
    assert _probe_runs(inst) == 100
    by_arm = {b.offset: b.outcomes for c in inst.counts() for b in c.branches}
    (outcomes,) = by_arm.values()
    assert sorted(o.count for o in outcomes) == [34, 66]


def test_a_loop_costs_one_probe_per_iteration() -> None:
    inst, ns = _load(
        """
        def split(n):
            odd = even = 0
            for i in range(n):
                if i % 2:
                    odd += 1
                else:
                    even += 1
            return odd, even
        """
    )
    inst.reset()
    assert ns["split"](1000) == (500, 500)
    # One per iteration, plus at most one for the call and one for the exit.
    assert 1000 <= _probe_runs(inst) <= 1002
    assert _total(inst, "split") > 10 * 1000


def test_a_caught_exception_costs_no_probe() -> None:
    inst, ns = _load(
        """
        def lookups(n):
            table = {0: 0}
            missed = 0
            for i in range(n):
                try:
                    table[i % 2]
                except KeyError:
                    missed += 1
            return missed
        """
    )
    inst.reset()
    assert ns["lookups"](1000) == 500
    # The try body is probed once per iteration; the handler's entries come
    # from the stub's records of where each KeyError was raised.
    assert 1000 <= _probe_runs(inst) <= 1003
    (counts,) = [c for c in inst.counts() if c.name == "lookups"]
    handler_line = 9  # `missed += 1`
    in_handler = {i.count for i in counts.instructions if i.line == handler_line}
    assert in_handler == {500}


def test_recursion_costs_one_probe_per_call() -> None:
    inst, ns = _load(
        """
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        """
    )
    inst.reset()
    assert ns["fib"](15) == 610
    calls = 1973  # fib(15) makes 2 * fib(16) - 1 calls
    assert _probe_runs(inst) == calls


def test_a_generator_that_yields_costs_one_probe_per_iteration() -> None:
    """Every resumption after a yield needs a probe (a suspended generator may
    be abandoned unseen), so the path through the yield must need no other:
    the planner puts the loop's second probe on its exit, which runs once."""
    inst, ns = _load(
        """
        def evens(source):
            odd = 0
            for x in source:
                if x % 2 == 0:
                    yield x * 3
                else:
                    odd += 1
        """
    )
    inst.reset()
    assert sum(ns["evens"](range(1000))) == 3 * sum(range(0, 1000, 2))
    # 1000 iterations (500 odd, 500 resumptions), plus a few per generator:
    # its creation, its first start and the loop's exit.  3.14+: the exit
    # (END_FOR, POP_ITER) can hold no probe (versions.NO_PROBE_BEFORE), so
    # one path through the loop pays a second probe.
    most = 1504 if versions.NO_PROBE_BEFORE else 1004
    assert 1000 <= _probe_runs(inst) <= most


@pytest.mark.skipif(
    not versions.FOR_ITER_PROBE_POSSIBLE, reason="the FOR_ITER form is not valid code on 3.14+"
)
def test_both_probe_forms_can_be_built_in_one_process() -> None:
    # The benchmark compares the forms in one process; the engine's cache of
    # probe bytes must not hand one form's bytes to the other.
    source = "def f(x):\n    return x + 1\n"
    seen = set()
    for form in (False, True):
        inst, ns = _load(source, probe_by_for_iter=form)
        # The CONTAINS_OP form asks whether None is in a counter; the
        # FOR_ITER form never does (3.10-3.11 stubs have FOR_ITERs and
        # CONTAINS_OPs of their own: the opnames alone say nothing).
        ops = list(dis.get_instructions(ns["f"]))
        contains = any(
            a.argval is None and isinstance(b.argval, CountDown) and c.opname == "CONTAINS_OP"
            for a, b, c in zip(ops, ops[1:], ops[2:], strict=False)
        )
        seen.add(not contains)
        assert ns["f"](1) == 2
        assert _probe_runs(inst) == 2  # the module body's and f's
    assert seen == {False, True}


@pytest.mark.skipif(
    not versions.COUNT_DOWN,
    reason="the CONTAINS_OP form needs counting-down counters (32-bit 3.10-3.13)",
)
def test_an_exhausted_counter_changes_nothing() -> None:
    """The ``None in counter`` probe (3.14+, and on request before): a
    counter that has run out (2**31 - 1 steps on 32-bit builds) answers
    False and the code goes on as before (a ``next`` on it would raise
    StopIteration into the code)."""
    _, ns = _load(
        """
        def f(x):
            total = 0
            for i in range(x):
                if i % 2:
                    total += i
            return total
        """,
        probe_by_for_iter=False,
    )
    code = ns["f"].__code__
    spent = [c if not isinstance(c, CountDown) else CountDown(None, 1) for c in code.co_consts]
    ns["f"].__code__ = code.replace(co_consts=tuple(spent))
    assert ns["f"](10) == 25 and ns["f"](7) == 9
    assert all(not list(c) for c in spent if isinstance(c, CountDown))  # all ran out
