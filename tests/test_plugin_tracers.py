"""Code that ran while a tracer could jump is marked as possibly inexact.

A debugger's jump moves a frame behind the probes' back (docs/engine.md,
Known differences); :mod:`pytest_bytecode.tracers` marks the code objects
that ran while a trace function or monitoring callback was installed.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest
from bc_helpers import load_json, make_project

from pytest_bytecode import cli, data, tracers
from pytest_bytecode.engine import RawState

JUMPY = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        def f(n):
            a = 1
            if n:
                a = 2
            d = 4
            return a + d

        def g():
            return 5
    """,
    "tests/test_jump.py": """
        import io
        import pdb

        from pkg.mod import f, g

        def test_before():
            assert g() == 5

        def test_pdb_jump():
            # At f's first line: next (to the if), jump over the if, continue.
            commands = io.StringIO("next\\njump 6\\ncontinue\\n")
            debugger = pdb.Pdb(stdin=commands, stdout=io.StringIO(), nosigint=True)
            assert debugger.runcall(f, 1) == 5  # a = 2 skipped by the jump

        def test_after():
            assert g() == 5
    """,
}


def _traced(report: Any) -> dict[str, bool]:
    return {
        code["qualname"]: code["traced"]
        for entry in report["files"].values()
        for code in entry["code_objects"]
    }


def _code_object(report: Any, qualname: str) -> Any:
    return next(
        code
        for entry in report["files"].values()
        for code in entry["code_objects"]
        if code["qualname"] == qualname
    )


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs the run to have no tracer")
def test_pdb_jump_marks_the_jumped_function_only(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(pytester, JUMPY)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json:cov.json")
    result.assert_outcomes(passed=3)
    assert _traced(load_json(pytester.path / "cov.json")) == {
        "<module>": False,
        "f": True,
        "g": False,
    }
    result.stdout.fnmatch_lines(
        [
            "bytecode coverage: 1 code object(s) ran while a trace function or sys.monitoring "
            "callback was installed (during tests/test_jump.py::test_pdb_jump): a debugger's "
            "jump there leaves their counts inexact (traced-code): src/pkg/mod.py:f"
        ]
    )
    assert cli.main(["report", "--data", str(pytester.path / ".bytecode-cov")]) == 0
    assert "ran while a trace function" in capsys.readouterr().out
    raw = load_json(pytester.path / ".bytecode-cov")
    assert raw["files"]["src/pkg/mod.py"]["traced"] == [["f", 2]]  # firstlineno
    assert data.load(pytester.path / ".bytecode-cov").files["src/pkg/mod.py"].traced == [("f", 2)]


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs the run to have no tracer")
def test_no_tracer_no_mark(pytester: pytest.Pytester) -> None:
    files = dict(JUMPY)
    files["tests/test_jump.py"] = "from pkg.mod import f\n\ndef test_f():\n    assert f(1) == 6\n"
    make_project(pytester, files)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json:c.json")
    result.assert_outcomes(passed=1)
    assert not any(_traced(load_json(pytester.path / "c.json")).values())
    assert "traced" not in load_json(pytester.path / ".bytecode-cov")["files"]["src/pkg/mod.py"]
    assert "traced-code" not in result.stdout.str()


@pytest.mark.skipif(sys.gettrace() is not None, reason="needs the run to have no tracer")
def test_doctests_run_by_a_test_mark_nothing(pytester: pytest.Pytester) -> None:
    """doctest restores "no tracer" with ``sys.settrace(None)`` after each
    docstring it runs: measured code that runs after it, in the same test,
    is exact and must not be reported as traced."""
    files = dict(JUMPY)
    files["src/pkg/mod.py"] = '''
        def double(x):
            """
            >>> double(2)
            4
            """
            return 2 * x
    '''
    files["tests/test_jump.py"] = """
        import doctest

        from pkg import mod

        def test_docstrings():
            for _ in range(3):
                doctest.run_docstring_examples(mod.double, {"double": mod.double})
            assert mod.double(5) == 10
    """
    make_project(pytester, files)
    result = pytester.runpytest(
        "--bytecode-cov=pkg",
        "--bytecode-cov-report=json:c.json",
        "--doctest-modules",
        "src",
        "tests",
    )
    result.assert_outcomes(passed=2)
    assert _traced(load_json(pytester.path / "c.json")) == {"<module>": False, "double": False}
    assert "traced-code" not in result.stdout.str()


@pytest.mark.subprocess
@pytest.mark.skipif(sys.gettrace() is not None, reason="needs the run to have no tracer")
def test_marks_survive_the_xdist_merge(pytester: pytest.Pytester) -> None:
    make_project(pytester, JUMPY)
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=pkg", "--bytecode-cov-report=json:cov.json", "-p", "xdist", "-n", "2"
    )
    result.assert_outcomes(passed=3)
    assert _traced(load_json(pytester.path / "cov.json"))["f"] is True
    assert _traced(load_json(pytester.path / "cov.json"))["g"] is False


@pytest.mark.subprocess
@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "1"]], ids=["in-process", "xdist"])
def test_a_tracer_left_in_place_to_the_end_is_marked(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    """A trace function set by a conftest and never removed keeps its window
    open to the run's end: the window is closed, and what ran in it marked,
    before the counts are read (in the data file, the reports and an xdist
    worker's counts), not after they were written."""
    files = dict(JUMPY)
    files["tests/conftest.py"] = """
        import sys

        def tracer(frame, event, arg):
            return None

        sys.settrace(tracer)
    """
    files["tests/test_jump.py"] = "from pkg.mod import f\n\ndef test_f():\n    assert f(1) == 6\n"
    make_project(pytester, files)
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=pkg", "--bytecode-cov-report=json:c.json", *workers
    )
    result.assert_outcomes(passed=1)
    assert result.ret == 0, result.stdout.str()
    assert _traced(load_json(pytester.path / "c.json"))["f"] is True
    raw = load_json(pytester.path / ".bytecode-cov")
    assert ["f", 2] in raw["files"]["src/pkg/mod.py"]["traced"]
    result.stdout.fnmatch_lines(["*ran while a trace function*traced-code*src/pkg/mod.py:f*"])


@pytest.mark.subprocess
def test_session_teardown_of_an_interrupted_run_is_marked_too(pytester: pytest.Pytester) -> None:
    """An interrupted run tears its session fixtures down at the session's
    end: what that runs under a tracer still in place is counted and
    marked (the window closes when the counts are read, after it)."""
    files = dict(JUMPY)
    files["tests/conftest.py"] = """
        import sys

        import pytest

        from pkg import mod

        def tracer(frame, event, arg):
            return None

        @pytest.fixture(scope="session")
        def resource():
            yield
            mod.g()

        sys.settrace(tracer)
    """
    files["tests/test_jump.py"] = """
        import pytest

        from pkg.mod import f

        def test_f(resource):
            assert f(1) == 6

        def test_stop():
            pytest.exit("stop here")
    """
    make_project(pytester, files)
    result = pytester.runpytest_subprocess(
        "--bytecode-cov=pkg", "--bytecode-cov-report=json:c.json"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    report = load_json(pytester.path / "c.json")
    g = _code_object(report, "g")
    assert g["traced"] is True
    assert any(ins["count"] for ins in g["instructions"])  # it ran, at the session's end


@pytest.mark.subprocess
def test_a_run_stopped_early_counts_its_session_teardown(pytester: pytest.Pytester) -> None:
    """A run stopped early (``-x``), with or without xdist, counts what its
    session fixtures' teardown runs: the counts are read after it (an xdist
    worker's too, whose end now comes last)."""
    files = dict(JUMPY)
    files["tests/conftest.py"] = """
        import pytest

        from pkg import mod

        @pytest.fixture(scope="session")
        def resource():
            yield
            mod.g()
    """
    files["tests/test_jump.py"] = """
        from pkg.mod import f

        def test_f(resource):
            assert f(1) == 6

        def test_fails():
            assert False

        def test_not_run(resource):
            pass
    """
    make_project(pytester, files)
    for workers in ([], ["-p", "xdist", "-n", "1"]):
        result = pytester.runpytest_subprocess(
            "--bytecode-cov=pkg",
            "--bytecode-cov-report=json:c.json",
            "-x",
            "-p",
            "no:randomly",
            *workers,
        )
        result.assert_outcomes(passed=1, failed=1)
        report = load_json(pytester.path / "c.json")
        g = _code_object(report, "g")
        assert any(ins["count"] for ins in g["instructions"]), workers


# --- the watch on its own --------------------------------------------------------


class _Probes:
    """A stand-in collector: ``ran()`` moves its one probe."""

    def __init__(self) -> None:
        self.value = 0
        self.marks: list[tuple[int, list[str]]] = []

    def state(self) -> list[RawState]:
        return [([self.value], {})]

    def mark(self, before: list[RawState], during: list[str]) -> None:
        self.marks.append((self.value - before[0][0][0], list(during)))


def _noop(frame: Any, event: str, arg: Any) -> None:
    return None


@pytest.fixture
def probes() -> Any:
    if tracers.tracing_now():
        pytest.skip("needs the run to have no tracer")
    fake = _Probes()
    watch = tracers.TracerWatch(fake.state, fake.mark)
    previous = tracers._current
    watch.start()
    try:
        yield fake, watch
    finally:
        watch.stop()
        tracers._current = previous
        sys.settrace(None)
        threading.settrace(None)


def test_window_spans_what_ran_while_a_tracer_was_set(probes: Any) -> None:
    fake, watch = probes
    watch.test_started("t1")
    fake.value += 1  # ran before any tracer: not marked
    sys.settrace(_noop)
    fake.value += 10
    sys.settrace(None)
    watch.test_finished()
    watch.test_started("t2")
    fake.value += 100  # after the window closed: not marked
    watch.test_finished()
    watch.stop()
    assert fake.marks == [(10, ["t1"])]


def test_window_stays_open_while_the_tracer_is_set(probes: Any) -> None:
    fake, watch = probes
    watch.test_started("t1")
    sys.settrace(_noop)
    watch.test_finished()
    watch.test_started("t2")
    fake.value += 5
    sys.settrace(None)
    watch.test_finished()
    assert fake.marks == [(5, ["t1", "t2"])]


@pytest.mark.skipif(sys.platform == "emscripten", reason="Pyodide cannot start threads")
def test_tracer_of_another_thread_keeps_the_window_to_the_end(probes: Any) -> None:
    fake, watch = probes
    watch.test_started("t1")

    def trace_in_thread() -> None:
        sys.settrace(_noop)
        sys.settrace(None)

    thread = threading.Thread(target=trace_in_thread)
    thread.start()
    thread.join()
    watch.test_finished()
    watch.test_started("t2")
    fake.value += 3
    watch.test_finished()
    assert fake.marks == []
    watch.stop()
    assert fake.marks == [(3, ["t1", "t2"])]


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="sys.monitoring is 3.12+")
def test_monitoring_callback_opens_a_window(probes: Any) -> None:
    fake, watch = probes
    monitoring: Any = getattr(sys, "monitoring")  # noqa: B009
    tool = next(t for t in range(6) if monitoring.get_tool(t) is None)
    watch.test_started("t1")
    monitoring.use_tool_id(tool, "test")
    try:
        monitoring.register_callback(tool, monitoring.events.LINE, _noop)
        fake.value += 2
        monitoring.register_callback(tool, monitoring.events.LINE, None)
    finally:
        monitoring.free_tool_id(tool)
    watch.test_finished()
    assert fake.marks == [(2, ["t1"])]


def test_coverage_py_tracers_open_no_window(probes: Any) -> None:
    """pytest-cov side by side: coverage.py's tracer never moves a frame."""
    fake, watch = probes
    namespace: dict[str, Any] = {"__name__": "coverage.collector", "sys": sys}
    exec("def tracer(frame, event, arg):\n    return None\n", namespace)
    exec("def start():\n    sys.settrace(tracer)\n", namespace)
    watch.test_started("t1")
    namespace["start"]()
    assert not tracers.tracing_now()
    fake.value += 1
    sys.settrace(None)  # from this module: a window, in which no tracer could jump
    fake.value += 2
    sys.settrace(_noop)  # one that could: what ran in the window is marked
    fake.value += 4
    sys.settrace(None)
    watch.test_finished()
    assert fake.marks == [(6, ["t1"])]


@pytest.mark.skipif(sys.platform == "emscripten", reason="Pyodide's coverage.py has no C tracer")
def test_coverage_py_s_c_tracer_is_known_while_it_traces() -> None:
    """``sys.gettrace()`` returns coverage.py's ``CTracer`` itself while it
    traces, an object whose instances have no ``__module__``: it is still
    known as coverage.py's, which never jumps (the run with pytest-cov's C
    tracer in tests/test_plugin_xdist.py checks it end to end)."""
    from coverage.tracer import CTracer

    tracer = CTracer()
    assert getattr(tracer, "__module__", None) is None
    assert not tracers._jumper(tracer)
    assert tracers._jumper(_noop)
    assert not tracers._jumper(None)


def test_settrace_none_marks_nothing(probes: Any) -> None:
    """``sys.settrace(None)`` raises the same audit event as installing a
    tracer (doctest calls it after every docstring it runs): a window in
    which no trace function was ever in place marks nothing."""
    fake, watch = probes
    watch.test_started("t1")
    sys.settrace(None)
    fake.value += 1
    sys.settrace(None)
    fake.value += 2
    watch.test_finished()
    watch.test_started("t2")
    sys.settrace(None)
    fake.value += 4
    watch.test_finished()
    watch.stop()
    assert fake.marks == []


def test_a_tracer_the_interpreter_removes_is_seen(probes: Any) -> None:
    """A trace function that raises is removed by the interpreter, which
    raises the same event: the window knows a tracer was in place."""
    fake, watch = probes

    def failing(frame: Any, event: str, arg: Any) -> None:
        raise RuntimeError("the tracer fails")

    def run() -> int:
        return 1

    watch.test_started("t1")
    failed = ""
    sys.settrace(failing)
    try:
        run()  # its call event fails
    except RuntimeError as exc:
        failed = str(exc)
    assert failed == "the tracer fails"
    assert sys.gettrace() is None
    fake.value += 8
    watch.test_finished()
    assert fake.marks == [(8, ["t1"])]


def test_a_tracer_removed_by_coverage_py_s_code_is_seen(probes: Any) -> None:
    """The event of a ``sys.settrace`` call that installs no jumper
    (coverage.py's) still shows the trace function it replaces."""
    fake, watch = probes
    namespace: dict[str, Any] = {"__name__": "coverage.collector", "sys": sys}
    exec("def stop():\n    sys.settrace(None)\n", namespace)
    watch.test_started("t1")
    sys.settrace(_noop)
    fake.value += 2
    namespace["stop"]()
    assert sys.gettrace() is None
    watch.test_finished()
    assert fake.marks == [(2, ["t1"])]


@pytest.mark.skipif(
    not hasattr(threading, "settrace_all_threads"), reason="settrace_all_threads is 3.12+"
)
@pytest.mark.skipif(sys.platform == "emscripten", reason="Pyodide cannot start threads")
def test_settrace_all_threads_is_seen(probes: Any) -> None:
    fake, watch = probes
    set_all: Any = getattr(threading, "settrace_all_threads")  # noqa: B009
    watch.test_started("t1")
    set_all(_noop)
    fake.value += 3
    set_all(None)
    watch.test_finished()
    assert fake.marks == [(3, ["t1"])]


def test_an_inner_run_s_tracer_reaches_the_outer_window(probes: Any) -> None:
    """pytester's in-process run inside a measured test: a jumper installed
    and removed while the inner run watches is seen by the outer window."""
    fake, outer = probes
    outer.test_started("t1")
    sys.settrace(None)  # opens the outer window (no jumper yet)
    inner = tracers.TracerWatch(fake.state, lambda before, during: None)
    inner.start()
    sys.settrace(_noop)
    fake.value += 5
    sys.settrace(None)
    inner.stop()
    outer.test_finished()
    assert fake.marks == [(5, ["t1"])]


def test_a_tracer_left_in_place_is_marked_at_the_end(probes: Any) -> None:
    fake, watch = probes
    watch.test_started("t1")
    sys.settrace(_noop)
    fake.value += 3
    watch.test_finished()
    watch.stop()
    sys.settrace(None)
    assert fake.marks == [(3, ["t1"])]


@pytest.mark.skipif(sys.platform == "emscripten", reason="Pyodide cannot start threads")
def test_the_hook_never_fails_a_call_from_c(probes: Any) -> None:
    """``sys.settrace`` called with no Python frame above it (a thread started
    by ``_thread`` straight on it): the audit hook must not raise into it."""
    import _thread

    done = threading.Event()

    def run() -> None:
        try:
            sys.settrace(None)
        finally:
            done.set()

    _thread.start_new_thread(sys.settrace, (None,))
    _thread.start_new_thread(run, ())
    assert done.wait(10)


def test_an_inner_run_hands_the_hook_back(probes: Any) -> None:
    """An in-process run inside a measured one (pytester): when it stops,
    the outer watch is current again."""
    fake, outer = probes
    inner = tracers.TracerWatch(fake.state, fake.mark)
    inner.start()
    inner.stop()
    assert tracers._current is outer


def test_traced_marks_in_the_data_file() -> None:
    fdata = data.FileData("0" * 64, [], traced=[("f", 1), ("C.m", 4)])
    raw = data.file_to_json(fdata)
    assert raw["traced"] == [["f", 1], ["C.m", 4]]
    assert data.file_from_json(raw).traced == [("f", 1), ("C.m", 4)]
    other = data.FileData("0" * 64, [], traced=[("g", 9), ("f", 1)])
    data.merge_file(fdata, other, "sum")
    assert fdata.traced == [("C.m", 4), ("f", 1), ("g", 9)]
    with pytest.raises(ValueError, match="a line must be a non-negative integer"):
        data.file_from_json({**raw, "traced": [["f", -1]]})
