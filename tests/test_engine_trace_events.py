"""Every ``sys.settrace`` event of loops over exhausted generators, as in plain code.

Reported on 3.13: an extra ``'exception'`` event (StopIteration) in
instrumented code, at the ``for`` line, each time a loop over a generator
expression ran the generator to its end.  Plain 3.13 code keeps every
``FOR_ITER`` from specialising while ``sys.settrace`` is on, because the
loop's jump back lands on the ``FOR_ITER`` itself, which makes it a line
start: its INSTRUMENTED_LINE pauses the instruction's adaptive counter.
(3.13's ``sys.settrace`` asks sys.monitoring for LINE and JUMP events but not
BRANCH ones, so nothing else keeps ``FOR_ITER`` unspecialised.)  When the line
start is somewhere else, the ``FOR_ITER`` becomes ``FOR_ITER_GEN``, the
exhausted generator returns *to* the loop's INSTRUMENTED_END_FOR, and that
reports a StopIteration as the 'exception' event.  Two shapes of
instrumented code moved the line start away from the ``FOR_ITER``:

* its loop grew past 255 code units with the probes, so the ``FOR_ITER``
  gained an EXTENDED_ARG prefix, and the prefix is what the jump back lands
  on (plain 3.13.0 shows the same event for a loop that long to begin with);
* a probe counting the loop header's entries sat right before the
  ``FOR_ITER``: the jumps back landed on the probe.

On 3.10-3.12 (3.12's ``sys.settrace`` asks for BRANCH events, so every
``FOR_ITER`` is INSTRUMENTED_FOR_ITER there) both shapes already trace as
plain code does; the tests run everywhere.
"""

from __future__ import annotations

import dis
import textwrap
import types
from typing import Any

from bc_helpers import trace_events

from pytest_bytecode import versions
from pytest_bytecode.engine import instrument


def _plain_and_instrumented(source: str, filename: str) -> tuple[list[Any], list[Any]]:
    plain = trace_events(compile(source, filename, "exec"), filename)
    got = trace_events(instrument(compile(source, filename, "exec")).code, filename)
    return plain, got


# --- 1. A loop that the probes make longer than 255 units ------------------------


def _long_loop(terms: int) -> str:
    """Nested loops over generator expressions that run to their end; the
    inner body is one line of ``terms`` additions, so that some size of it
    fits a FOR_ITER's argument in one byte in plain code and needs a prefix
    once probed."""
    total = " + ".join(["x"] * terms)
    return textwrap.dedent(
        f"""
        def main():
            t = 0
            for i in (a for a in range(2)):
                for x in (y for y in range(3)):
                    t = t + {total}
            return t
        """
    )


def _prefixed_for_iters(module: types.CodeType) -> int:
    """How many FOR_ITERs of ``main`` have an EXTENDED_ARG prefix."""
    main = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    found = 0
    before = None
    for ins in dis.get_instructions(main):
        if ins.opname == "FOR_ITER" and before == "EXTENDED_ARG":
            found += 1
        before = ins.opname
    return found


def test_loop_grown_past_a_one_byte_jump_traces_as_in_plain_code() -> None:
    """(On 3.13 the smallest such program was the inner loop alone with 83
    terms: the FOR_ITER's argument was 251 in plain code, 256 and more
    instrumented.)"""
    grown = []
    for terms in range(40, 140):
        source = _long_loop(terms)
        filename = f"<long loop {terms}>"
        plain_prefixed = _prefixed_for_iters(compile(source, filename, "exec"))
        inst_prefixed = _prefixed_for_iters(instrument(compile(source, filename, "exec")).code)
        if inst_prefixed > plain_prefixed:
            grown.append(terms)
        plain, got = _plain_and_instrumented(source, filename)
        assert got == plain, f"{terms} terms"
    if versions.PY < (3, 14):
        # (On 3.14+ no size of this sweep gives the FOR_ITER a prefix that
        # plain code lacks; there the sweep compares every size's events.)
        assert grown, "no size makes a FOR_ITER gain a prefix: the case is not exercised"


# --- 2. A probe counting a loop header's entries ---------------------------------

PROBE_BEFORE_THE_LOOP = """
def f(a, x0=4):
    match a:
        case 0:
            pass
        case 1 | 2:
            pass
        case m if m > 3:
            pass
        case _:
            for i in (y for y in range(a)):
                w = 0
                while w < 2:
                    w += 1
                    if w == 7:
                        continue
                    if a == 4:
                        raise ValueError
    return (x0 + a) % 9


def main():
    return f(3)
"""
#: (Reduced from a generated program.  On 3.13 the spanning tree put the
#: probe of the ``for`` loop's header block right before its FOR_ITER, so the
#: loop's jumps back landed on the probe.)


def test_probe_before_a_loop_header_traces_as_in_plain_code() -> None:
    plain, got = _plain_and_instrumented(textwrap.dedent(PROBE_BEFORE_THE_LOOP), "<probe before>")
    assert got == plain


# --- 3. The end of an ``async for`` loop ----------------------------------------

ASYNC_FOR = """
class Letters:
    def __init__(self, text):
        self._it = iter(text)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return next(self._it)
        except StopIteration:
            raise StopAsyncIteration


async def loops():
    async for letter in Letters("ab"):
        x = letter
    async for letter in Letters("c"):
        if letter == "z":
            break
    else:
        x = 1
    y = [c async for c in Letters("de")]
    async for a in Letters("fg"):
        async for b in Letters("h"):
            y.append(a + b)
    return x, y


def main():
    coroutine = loops()
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
"""
#: (Reported on 3.12: the stub in front of the END_ASYNC_FOR that ends each
#: loop had the loop's line, and sys.monitoring makes a handler's first
#: instruction with a line a line start, END_ASYNC_FOR excepted: each loop's
#: end gave one more 'line' event, at the ``async for`` line, than plain code.)


def test_the_end_of_an_async_for_loop_traces_as_in_plain_code() -> None:
    plain, got = _plain_and_instrumented(textwrap.dedent(ASYNC_FOR), "<async for>")
    assert ("return", "main", 36, None) in plain  # it ran to its end
    assert got == plain
