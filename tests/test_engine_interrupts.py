"""Where a pending signal is raised in measured code.

CPython's ``test_generators.SignalAndYieldFromTest`` (found by running Lib/test
plain and instrumented under Pyodide 3.14/3.15): a delegating generator's
``yield from``/``await`` loop ends in JUMP_BACKWARD_NO_INTERRUPT and its RESUME
after a yield does not check for signals, so a KeyboardInterrupt pending when
the delegation is resumed is raised in the innermost generator, which may
catch it.  A probe in that loop must not check for signals either: on 3.14+ a
probe that calls ``next(counter)`` did (every CALL checks), raising the
interrupt in the delegating frame; the probe there is ``None in counter``
(CONTAINS_OP), which makes no call.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from pytest_bytecode.engine import instrument

_testcapi = pytest.importorskip("_testcapi")
if not hasattr(_testcapi, "raise_SIGINT_then_send_None"):
    pytest.skip("_testcapi.raise_SIGINT_then_send_None is missing", allow_module_level=True)

#: The innermost generator: it catches the interrupt at its ``yield``.
INNER = """
import _testcapi, types
def inner():
    try:
        yield
    except KeyboardInterrupt:
        return "inner caught"
    return "inner not interrupted"
"""

#: Sends into the delegation with a SIGINT pending; what comes out.
MAIN = """
def main():
    g = drive()
    g.send(None)
    try:
        _testcapi.raise_SIGINT_then_send_None(g)
    except BaseException as e:
        return type(e).__name__, getattr(e, "value", None)
"""

YIELD_FROM = (
    INNER
    + """
def drive():
    return (yield from inner())
"""
    + MAIN
)

AWAIT = (
    INNER
    + """
async def outer():
    return await types.coroutine(inner)()
def drive():
    return (yield from outer().__await__())
"""
    + MAIN
)


def _run(source: str, measured: bool) -> object:
    code = compile(source, "<interrupts>", "exec")
    if measured:
        code = instrument(code).code
    namespace: dict[str, object] = {"__name__": "interrupts"}
    exec(code, namespace)
    return namespace["main"]()  # type: ignore[operator]


@pytest.fixture
def interrupts() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in an interactive Python.  A
    process started in the background by a non-interactive shell (``cmd
    &``, as a CI job may be) inherits SIGINT ignored, and Python then
    installs no handler of its own."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("interrupts")
@pytest.mark.parametrize("source", [YIELD_FROM, AWAIT], ids=["yield_from", "await"])
def test_pending_signal_reaches_the_innermost_generator(source: str) -> None:
    plain = _run(source, measured=False)
    assert plain == ("StopIteration", "inner caught")
    assert _run(source, measured=True) == plain
