"""Notice when code ran while something could move its frames: a tracer.

A debugger's *jump* (pdb's ``jump``, ``frame.f_lineno = N`` set by a trace
function or, on 3.12+, by a ``sys.monitoring`` callback) moves a frame to
another line without running the instructions between, probes included.
The probes cannot tell, and nothing per frame can (the probes cannot read
the trace state, pdb sets ``frame.f_trace`` itself, and wrapping a user's
trace function would show in ``sys.gettrace()``).

What can be seen is that a jump was *possible*: the interpreter allows one
only inside a trace function or a monitoring callback, and installing either
raises an audit event (``sys.settrace``, also for ``threading.settrace``'s
threads and C tracers installed with ``PyEval_SetTrace``;
``sys.monitoring.register_callback``).  :class:`TracerWatch` opens a
*window* at such an event (or at the start of a run that already has a
tracer), taking the probes' raw states; it closes it at the next test
boundary where no tracer is left, and every code object whose probes moved
meanwhile is marked as possibly inexact (:meth:`Collector.mark_ran_since
<pytest_bytecode.collector.Collector.mark_ran_since>`).

``sys.settrace`` raises its event with no argument, before the trace
function changes, so the event alone cannot tell ``sys.settrace(None)``
(doctest calls it after every docstring it runs, restoring "no tracer")
from installing one.  The value each event set is seen later instead: the
trace function in place at the window's next event (any ``sys.settrace``
event, coverage.py's and ``threading.settrace_all_threads``' included), and
at its close.  A window in which every trace function seen could not jump
(none, or coverage.py's) closes without marking anything; in the main
thread only ``sys.settrace`` and ``PyEval_SetTrace`` change the trace
function (the interpreter removing one that raised included), and both
raise the event, so no value goes unseen.  One is unseen by construction:
a C tracer installed with no Python object, ``PyEval_SetTrace(func,
NULL)``, reads as None in ``sys.gettrace()``, so code that runs under it
is not marked.  The marks are a
superset of the jumped frames: a tracer that never jumps (a profiler) marks
the code that ran under it too, and the report says so in those words.  The
exceptions are coverage.py (pytest-cov side by side): a tracer installed
by its modules, or a monitoring tool named ``coverage.py``, and the start
hints of per-test contexts (tool ``pytest-bytecode``): they open no window,
since they never move a frame.

Audit hooks cannot be removed, so the process gets one hook, installed with
the first watch; it calls the watch that is current and costs one string
comparison per audit event otherwise.  A tracer installed in another thread
than the main one keeps the window open until the run ends (its thread's
trace state cannot be read from here).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from pytest_bytecode.engine import MONITORING_NAME, RawState

#: Audit events raised when a trace function or monitoring callback is installed.
EVENTS = frozenset({"sys.settrace", "sys.monitoring.register_callback"})

_current: TracerWatch | None = None
_hooked = False


def _of_coverage_py(module: object) -> bool:
    """Whether ``module`` is coverage.py's, or ours (the per-test contexts'
    start hints, :mod:`pytest_bytecode.engine.activity`): neither jumps."""
    return isinstance(module, str) and module.partition(".")[0] in ("coverage", "pytest_bytecode")


def _jumper(tracer: object) -> bool:
    """Whether ``tracer`` (a trace function, callback or None) could jump.

    A tracer written in C is an object of a C type, whose instances have no
    ``__module__`` (coverage.py's ``CTracer``, which ``sys.gettrace()``
    returns while it traces): its type's module tells."""
    if tracer is None:
        return False
    module = getattr(tracer, "__module__", None)
    if not isinstance(module, str):
        module = type(tracer).__module__
    return not _of_coverage_py(module)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    watch = _current
    if watch is None or event not in EVENTS:
        return
    try:
        # A callback's event names it.  sys.settrace's names nothing, but the
        # trace function still in place, which it replaces, is the one the
        # last event set: every open window sees it, this run's and those of
        # the runs around it (pytester's in-process runs), whether or not
        # this event itself could install a jumper (coverage.py's own calls,
        # threading's, may remove one).
        seen = _jumper(args[0]) if args else _jumper(sys.gettrace())
        if seen:
            _jumper_in_place(watch)
        if _not_a_jumper(args):
            return
        watch.installed(threading.current_thread() is threading.main_thread(), seen)
    except Exception:
        pass


def _jumper_in_place(watch: TracerWatch | None) -> None:
    """Tell the open windows of ``watch`` and of the runs around it that a
    tracer that could jump was in place."""
    while watch is not None:
        if watch._before is not None:
            watch._jumper_seen = True
        watch = watch._previous


def _not_a_jumper(args: tuple[Any, ...]) -> bool:
    """Whether the tracer being installed is known not to jump: coverage.py's."""
    if args:  # sys.monitoring.register_callback: the event passes (func,)
        return not _jumper(args[0])
    # sys.settrace passes nothing; the Python code that called it tells (a
    # call from C, with no Python frame, tells nothing).
    try:
        caller = sys._getframe(2).f_globals.get("__name__")
    except ValueError:
        return False
    if _of_coverage_py(caller):
        return True
    # A new thread installing threading.settrace's function.
    return caller == "threading" and not _jumper(threading.gettrace())


def tracing_now() -> bool:
    """Whether a trace function or another ``sys.monitoring`` tool that could
    jump is set now (in this thread, or for new threads)."""
    if _jumper(sys.gettrace()) or _jumper(threading.gettrace()):
        return True
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return False
    return any(
        monitoring.get_tool(tool) not in (None, "coverage.py", MONITORING_NAME) for tool in range(6)
    )


class TracerWatch:
    """Windows of a run in which a tracer could jump, and what ran in them.

    ``state`` reads every probe's raw state (the collector's
    :meth:`~pytest_bytecode.collector.Collector.state`); ``mark`` receives
    the states at a window's opening and the names of the tests it spanned
    when it closes.
    """

    def __init__(
        self,
        state: Callable[[], list[RawState]],
        mark: Callable[[list[RawState], list[str]], None],
    ) -> None:
        self._state = state
        self._mark = mark
        self._before: list[RawState] | None = None
        #: the tests the open window spanned, in order (a dict: a window
        #: open for a whole run of thousands of tests is looked up per test)
        self._during: dict[str, None] = {}
        self._other_thread = False
        #: whether the open window saw a tracer that could jump (else it
        #: saw only ``sys.settrace`` calls that installed none)
        self._jumper_seen = False
        self._where = ""
        self._previous: TracerWatch | None = None

    def start(self) -> None:
        """Watch from now on (a tracer already set opens a window)."""
        global _current, _hooked
        self._previous, _current = _current, self
        if not _hooked:
            sys.addaudithook(_audit)
            _hooked = True
        if tracing_now():
            self.installed(True, True)

    def installed(self, main_thread: bool, jumper_seen: bool) -> None:
        """A tracer is being installed: open a window if none is open.

        ``jumper_seen``: whether a tracer that could jump is known to have
        been in place (the callback being registered, or the trace function
        an earlier ``sys.settrace`` of this window set)."""
        self._other_thread = self._other_thread or not main_thread
        if self._before is None:
            self._before = self._state()
            self._during = {}
            self._jumper_seen = False
        self._jumper_seen = self._jumper_seen or jumper_seen
        if self._where:
            self._during[self._where] = None

    def test_started(self, nodeid: str) -> None:
        """Name the test that runs from now on (for the windows it opens)."""
        self._where = nodeid
        if self._before is not None:
            self._during[nodeid] = None

    def test_finished(self) -> None:
        """A test boundary: close the window unless a tracer is still set."""
        self._where = ""
        if self._before is None or self._other_thread:
            return
        if tracing_now():
            self._jumper_seen = True  # still in place: the window stays open
        else:
            self._close()

    def stop(self) -> None:
        """The run's end: close any window, and stop watching."""
        global _current
        if self._before is not None:
            if self._other_thread or tracing_now():
                self._jumper_seen = True
            self._close()
        if _current is self:
            _current = self._previous  # an in-process run inside another

    def _close(self) -> None:
        """Close the window: mark what ran in it, unless every trace
        function in place meanwhile was one that cannot jump."""
        before, self._before = self._before, None
        assert before is not None
        if self._jumper_seen:
            self._mark(before, list(self._during) or ["outside tests"])
