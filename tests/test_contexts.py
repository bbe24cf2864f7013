"""Per-test contexts: the engine's activity looks, recording through the
plugin (serial, xdist, a crashed worker, append, combine), the data file, the
JSON report and the ``contexts`` and ``report --context`` commands."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import make_project
from test_engine_oracle import corpus, generated

from pytest_bytecode import cli, data, engine, versions
from pytest_bytecode.contexts import Contexts, matcher, nodeid_of, restrict
from pytest_bytecode.engine.activity import Activity, ran_bits

# --- the engine: what ran between two looks ------------------------------------


def _bits_between(handle: engine.Instrumented, before: engine.RawState) -> dict[int, int]:
    """The oracle: bits of the counts of the difference of two raw states."""
    difference = engine.state_difference(handle.state(), before)
    return {
        i: bits
        for i, code in enumerate(handle.counts_from(difference))
        if (bits := ran_bits(code.instructions, code.branches))
    }


PROGRAMS = [
    p for p in [*corpus(), *generated(20)] if sys.version_info >= p.requires and not p.needs_threads
]


@pytest.mark.parametrize("hints", [True, False], ids=["hints", "scan"])
@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_a_look_says_what_ran_since_the_last(prog: Any, hints: bool) -> None:
    """Every look (module body; ``main()``; ``main()`` again) names exactly
    the code objects whose counts moved, with the bits of what ran in
    between: those of the difference of the raw states around it; with
    ``sys.monitoring``'s start hints (3.12+) and by reading every counter."""
    handle = engine.instrument(prog.compile())
    with Activity(hints=hints) as activity:
        _look_around_stages(handle, activity, prog)


def _look_around_stages(handle: engine.Instrumented, activity: Activity, prog: Any) -> None:
    activity.watch(handle)
    ns: dict[str, Any] = {"__name__": f"prog_{prog.name}"}
    zero = ([0] * len(handle.state()[0]), {})
    looks: list[tuple[dict[int, int], dict[int, int]]] = []
    before = zero
    stages = [lambda: exec(handle.code, ns), lambda: ns["main"](), lambda: ns["main"]()]
    for stage in stages:
        with contextlib.suppress(Exception):
            stage()
        found = {code: bits for h, code, bits in activity.look() if h == 0}
        looks.append((found, _bits_between(handle, before)))
        before = handle.state()
    assert activity.look() == []  # nothing ran since
    for found, expected in looks:
        assert found == expected
    assert any(found for found, _ in looks)


COPIED = """
import types

def main():
    @types.coroutine  # runs a copy of the code object (code.replace())
    def suspend(v):
        got = yield v
        return got
    g = suspend(1)
    next(g)
    try:
        g.send(2)
    except StopIteration as e:
        return e.value
"""


@pytest.mark.parametrize("hints", [True, False], ids=["hints", "scan"])
def test_a_copy_of_a_code_object_made_and_run_between_looks_is_seen(hints: bool) -> None:
    """A copy runs on the original's counters without its start events
    (3.12+): the look after a code object was made reads every counter."""
    handle = engine.instrument(compile(COPIED, "m.py", "exec"))
    ns: dict[str, Any] = {}
    with Activity(hints=hints) as activity:
        activity.watch(handle)
        exec(handle.code, ns)
        activity.look()
        before = handle.state()
        assert ns["main"]() == 2
        found = {code: bits for _, code, bits in activity.look()}
        assert found == _bits_between(handle, before)
        assert len(found) == 2  # main and suspend
        assert ns["main"]() == 2  # the copy made again, and run: seen again
        assert len(activity.look()) == 2


DRIVER = """
def drive(look, n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
        look()
    return total
"""


def _stepped(
    handle: engine.Instrumented, activity: Activity, ns: dict[str, Any], before: engine.RawState
) -> list[tuple[dict[int, int], dict[int, int]]]:
    """Per look made by ``drive`` (defined in ``ns``): what the look found
    and what the oracle says (the first, since ``before``)."""
    looks = []

    def look() -> None:
        nonlocal before
        found = {code: bits for _, code, bits in activity.look()}
        looks.append((found, _bits_between(handle, before)))
        before = handle.state()

    ns["look"] = look
    exec("drive(look, 40)", ns)
    return looks


@pytest.mark.parametrize("hints", [True, False], ids=["hints", "scan"])
def test_a_frame_that_drives_the_looks_is_read_at_each_look(hints: bool) -> None:
    """A frame below the look on the looking thread, running between looks
    (a measured plugin's run-test loop), seen by the first look's walk: every
    look reads it."""
    handle = engine.instrument(compile(DRIVER, "driver.py", "exec"))
    ns: dict[str, Any] = {}
    with Activity(hints=hints) as activity:
        activity.watch(handle)
        exec(handle.code, ns)  # the first look has the module body too
        looks = _stepped(handle, activity, ns, ([0] * len(handle.counters), {}))
    assert len(looks) == 40
    for found, expected in looks:
        assert found == expected
    assert all(found for found, _ in looks)


def test_a_driving_frame_begun_after_the_first_look_loses_no_count() -> None:
    """Begun after the first look, such a frame is read when a walk of the
    looking thread's stack finds it (every ``WALK_EVERY`` looks), exactly from
    then on; what it ran before is read by then: nothing is lost."""
    from pytest_bytecode.engine.activity import WALK_EVERY

    handle = engine.instrument(compile(DRIVER, "driver.py", "exec"))
    ns: dict[str, Any] = {}
    with Activity() as activity:
        activity.watch(handle)
        exec(handle.code, ns)
        assert activity.look()  # the module body; no frame of it below
        start = handle.state()
        looks = _stepped(handle, activity, ns, start)
        last = {code: bits for _, code, bits in activity.look(everything=True)}
    union = last.get(1, 0)
    for found, _ in looks:
        union |= found.get(1, 0)
    assert union == _bits_between(handle, start)[1]
    for found, expected in looks[WALK_EVERY:]:
        assert found == expected


WORKER = """
def work(step, rounds):
    total = 0
    for r in range(rounds):
        step()
        if r % 2:
            total += r
        else:
            total -= r
    return total
"""


@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide cannot start threads")
@pytest.mark.parametrize("hints", [True, False], ids=["hints", "scan"])
def test_a_frame_running_in_another_thread_across_looks_is_read_at_each_look(
    hints: bool,
) -> None:
    """Another thread's frame that runs between looks without starting
    again (a server's loop) is read at each look.  Each look is made while
    the thread waits in ``step`` (not measured): nothing of the measured
    frame runs during the look."""
    import threading

    handle = engine.instrument(compile(WORKER, "worker.py", "exec"))
    ns: dict[str, Any] = {}
    exec(handle.code, ns)
    go, done = threading.Event(), threading.Event()

    def step() -> None:
        done.set()
        assert go.wait(10)
        go.clear()

    with Activity(hints=hints) as activity:
        activity.watch(handle)
        thread = threading.Thread(target=ns["work"], args=(step, 8), daemon=True)
        thread.start()
        assert done.wait(10)
        activity.look()
        for _ in range(6):
            before = handle.state()
            done.clear()
            go.set()
            assert done.wait(10)
            found = {code: bits for _, code, bits in activity.look()}
            assert found == _bits_between(handle, before)
            assert found
        done.clear()
        go.set()  # the rest of the rounds, and out
        assert done.wait(10)
        go.set()
        thread.join(10)


ENDING = """
def work(step):
    step()
    total = 0
    for i in range(3):
        total += i
    return total
"""


@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide cannot start threads")
@pytest.mark.parametrize("hints", [True, False], ids=["hints", "scan"])
def test_a_thread_frame_that_ends_between_two_looks_is_read_at_the_second(hints: bool) -> None:
    """A frame on another thread's stack at one look that runs on and ends
    before the next, without starting again, is read at the next."""
    import threading

    handle = engine.instrument(compile(ENDING, "ending.py", "exec"))
    ns: dict[str, Any] = {}
    exec(handle.code, ns)
    waiting, go = threading.Event(), threading.Event()

    def step() -> None:
        waiting.set()
        assert go.wait(10)

    with Activity(hints=hints) as activity:
        activity.watch(handle)
        activity.look()
        before = handle.state()
        thread = threading.Thread(target=ns["work"], args=(step,), daemon=True)
        thread.start()
        assert waiting.wait(10)
        found = {code: bits for _, code, bits in activity.look()}
        assert found == _bits_between(handle, before)
        before = handle.state()
        go.set()
        thread.join(10)
        found = {code: bits for _, code, bits in activity.look()}
        assert found == _bits_between(handle, before)
        assert found


@pytest.mark.skipif(not versions.HAS_SYS_MONITORING, reason="sys.monitoring is 3.12+")
@pytest.mark.skipif(versions.IS_PYODIDE, reason="Pyodide cannot start threads")
def test_a_start_told_while_a_look_runs_is_told_again_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread switch inside the start callback of another thread, while
    the looking thread takes the starts: the code object's start is still
    told at every later look (it must not stay switched off)."""
    import threading

    from pytest_bytecode.engine import activity as activity_module

    handle = engine.instrument(compile("def f(x):\n    return x + 1\n", "f.py", "exec"))
    ns: dict[str, Any] = {}
    exec(handle.code, ns)
    inside, resume = threading.Event(), threading.Event()
    start = activity_module._Hints._start

    def slow_start(self: Any, code: Any, offset: int) -> object:
        result = start(self, code, offset)
        if threading.current_thread() is not threading.main_thread():
            inside.set()  # the looking thread runs now, the callback unfinished
            assert resume.wait(10)
        return result

    monkeypatch.setattr(activity_module._Hints, "_start", slow_start)
    with Activity() as activity:
        activity.watch(handle)
        activity.look()
        thread = threading.Thread(target=ns["f"], args=(1,), daemon=True)
        thread.start()
        assert inside.wait(10)
        activity.look()
        resume.set()
        thread.join(10)
        activity.look()
        for i in range(3):
            before = handle.state()
            ns["f"](i)
            found = {code: bits for _, code, bits in activity.look()}
            assert found == _bits_between(handle, before)
            assert found


def test_a_code_object_listened_to_by_a_closed_activity_is_ignored() -> None:
    """3.12 and 3.13 keep a code object's local events after its tool id is
    freed: one listened to by an earlier Activity that runs under the next
    one (same tool id) is no error, and not news."""
    first = engine.instrument(compile("def f():\n    return 1\n", "a.py", "exec"))
    second = engine.instrument(compile("def g():\n    return 2\n", "b.py", "exec"))
    ns1: dict[str, Any] = {}
    ns2: dict[str, Any] = {}
    exec(first.code, ns1)
    exec(second.code, ns2)
    with Activity() as activity:
        activity.watch(first)
        activity.look()
        ns1["f"]()
        assert activity.look()
    with Activity() as activity:
        activity.watch(second)
        activity.look()
        before = second.state()
        ns1["f"]()
        ns2["g"]()
        found = {(h, code): bits for h, code, bits in activity.look()}
        assert found == {(0, code): bits for code, bits in _bits_between(second, before).items()}


def test_ran_bits_layout() -> None:
    """Instructions first, then fell-through and jumped per conditional jump."""
    src = "def f(x):\n    if x:\n        return 1\n    return 2\n"
    handle = engine.instrument(compile(src, "m.py", "exec"))
    ns: dict[str, Any] = {}
    exec(handle.code, ns)
    with Activity() as activity:
        activity.watch(handle)
        activity.look()
        ns["f"](0)
        ((_, index, bits),) = activity.look()
    code = handle.counts()[index]
    n = len(code.instructions)
    ran = [bool(bits >> i & 1) for i in range(n)]
    assert ran == [i.count > 0 for i in code.instructions]
    ((fall, jump),) = [((bits >> n) & 1, (bits >> (n + 1)) & 1) for _ in code.branches]
    assert (fall, jump) == (0, 1)  # f(0): the jump past "return 1"


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_bits_without_counts_equal_the_bits_of_the_counts(prog: Any) -> None:
    """The short way to what ran (no counts made, for a look without raise
    records) gives the bits of the counts, for any counter values: both are
    the same flow solve, and a unit ran as often as the edge into its block."""
    import random

    handle = engine.instrument(prog.compile())
    rng = random.Random(prog.name)
    checked = 0
    for index, (a, b, c, d) in enumerate(handle.spans()):
        for _ in range(5):
            values = [rng.choice((0, 0, 1, 2, 7)) for _ in range(b - a)]
            bits = handle.code_bits_from(index, values)
            if bits is None:  # 3.11 landings: the counts are made instead
                continue
            counted = handle.code_counts_from(index, values, [{}] * (d - c))
            assert bits == ran_bits(*counted), (index, values)
            checked += 1
    assert checked


# --- the data model --------------------------------------------------------------


def test_contexts_round_trip_and_merge() -> None:
    one = Contexts()
    a, b = one.number("t.py::a|call"), one.number("t.py::b|setup")
    one.add("m.py", ("f", 1, 0), a, 0b101)
    one.add("m.py", ("f", 1, 0), b, 0b101)
    one.add("m.py", ("f", 1, 0), a, 0b010)  # ORed in
    one.add("m.py", ("g", 5, 0), b, 0b1)
    raw = one.to_json()
    # Grouped by bit set: one row for the two contexts that ran the same.
    assert raw["files"]["m.py"][0] == ["f", 1, 0, [["7", [0]], ["5", [1]]]]
    assert Contexts.from_json(json.loads(json.dumps(raw))).files == one.files
    other = Contexts()
    c = other.number("t.py::c|call")
    a2 = other.number("t.py::a|call")
    other.add("m.py", ("f", 1, 0), a2, 0b1000)
    other.add("n.py", ("h", 2, 0), c, 0b1)
    one.merge(other)
    assert one.names == ["t.py::a|call", "t.py::b|setup", "t.py::c|call"]
    assert one.files["m.py"][("f", 1, 0)] == {0: 0b1111, 1: 0b101}
    assert one.files["n.py"][("h", 2, 0)] == {2: 1}
    assert one.tested() == {"t.py::a", "t.py::b", "t.py::c"}
    assert nodeid_of("t.py::x[a|b]|teardown") == "t.py::x[a|b]"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"names": "x", "files": {}}, "names must be a list of strings"),
        ({"names": ["a", "a"], "files": {}}, "a context is named twice"),
        ({"names": ["a"], "files": {"m.py": [["f", 1, 0, [["zz", [0]]]]]}}, "not a bit set"),
        ({"names": ["a"], "files": {"m.py": [["f", 1, 0, [["1", [3]]]]]}}, "no context number 3"),
        ({"names": ["a"], "files": {"m.py": [["f", -1, 0, []]]}}, "not a non-negative integer"),
    ],
)
def test_corrupt_contexts_are_one_line_errors(tmp_path: Path, raw: Any, message: str) -> None:
    doc = data.to_json(data.CovData())
    doc["contexts"] = raw
    path = tmp_path / "d"
    path.write_text(json.dumps(doc))
    with pytest.raises(data.DataError, match=message) as info:
        data.load(path)
    assert "\n" not in str(info.value)


def test_a_format_1_data_file_is_still_read(tmp_path: Path) -> None:
    doc = data.to_json(data.CovData())
    doc["format"] = 1
    path = tmp_path / "d"
    path.write_text(json.dumps(doc))
    assert data.load(path).contexts is None
    doc["format"] = 7
    path.write_text(json.dumps(doc))
    with pytest.raises(data.DataError, match=r"data format 7 is not supported .*1 or 2"):
        data.load(path)


# --- through the plugin ------------------------------------------------------------

PROJECT = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        def classify(x):
            if x > 0 and x < 10:
                return "small"
            return "other"

        def boom():
            raise ValueError("boom")

        def helper():
            return 1
    """,
    "tests/conftest.py": """
        import pytest
        from pkg.mod import classify, helper

        @pytest.fixture
        def around():
            classify(-1)
            yield
            helper()
    """,
    "tests/test_a.py": """
        import pytest
        from pkg.mod import boom, classify

        def test_small():
            assert classify(5) == "small"

        def test_big(around):
            assert classify(50) == "other"

        @pytest.mark.parametrize("n", [1, 2])
        def test_boom(n):
            with pytest.raises(ValueError):
                boom()
    """,
}

ARGS = ["--bytecode-cov=pkg", "--bytecode-cov-context=test", "-p", "no:randomly"]


def _contexts_by_name(path: Path) -> dict[str, dict[tuple[str, int], int]]:
    """Context name -> (qualname, firstlineno) -> bits, from a data file."""
    loaded = data.load(path)
    assert loaded.contexts is not None
    out: dict[str, dict[tuple[str, int], int]] = {}
    for file_path, codes in loaded.contexts.files.items():
        if file_path != "src/pkg/mod.py":
            assert file_path == "src/pkg/__init__.py"  # its body, at collection
            continue
        for (qualname, firstlineno, _), ran in codes.items():
            for context, bits in ran.items():
                out.setdefault(loaded.contexts.names[context], {})[(qualname, firstlineno)] = bits
    return out


def _line_contexts(path: Path, line: int) -> set[str]:
    loaded = data.load(path)
    assert loaded.contexts is not None
    from pytest_bytecode.contexts import code_contexts

    fdata = loaded.files["src/pkg/mod.py"]
    found: set[int] = set()
    per_code = code_contexts(
        fdata.code_objects, loaded.contexts.of_file("src/pkg/mod.py"), loaded.contexts.names
    )
    for ran in per_code:
        if ran is not None:
            found.update(ran.line(line))
    return {loaded.contexts.names[c] for c in found}


@pytest.mark.subprocess
def test_each_phase_is_its_own_context(pytester: pytest.Pytester) -> None:
    make_project(pytester, PROJECT)
    result = pytester.runpytest_subprocess(*ARGS)
    result.assert_outcomes(passed=4)
    by_name = _contexts_by_name(pytester.path / ".bytecode-cov")
    assert set(by_name.pop("")) == {("<module>", 1)}  # imported at collection
    assert sorted(by_name) == [
        "tests/test_a.py::test_big|call",
        "tests/test_a.py::test_big|setup",
        "tests/test_a.py::test_big|teardown",
        "tests/test_a.py::test_boom[1]|call",
        "tests/test_a.py::test_boom[2]|call",
        "tests/test_a.py::test_small|call",
    ]
    assert set(by_name["tests/test_a.py::test_big|teardown"]) == {("helper", 10)}
    assert set(by_name["tests/test_a.py::test_big|setup"]) == {("classify", 2)}
    assert set(by_name["tests/test_a.py::test_boom[1]|call"]) == {("boom", 7)}
    path = pytester.path / ".bytecode-cov"
    # Line 4 (return "small") ran only in test_small; line 3 in three contexts.
    assert _line_contexts(path, 4) == {"tests/test_a.py::test_small|call"}
    assert _line_contexts(path, 3) == {
        "tests/test_a.py::test_small|call",
        "tests/test_a.py::test_big|call",
        "tests/test_a.py::test_big|setup",
    }
    # The def line: the module body ran it at collection (the context ""),
    # the function's first instruction (RESUME, 3.11+) in the tests that called it.
    assert _line_contexts(path, 2) - {""} <= {
        "tests/test_a.py::test_small|call",
        "tests/test_a.py::test_big|call",
        "tests/test_a.py::test_big|setup",
    }


@pytest.mark.subprocess
def test_no_contexts_without_the_option(pytester: pytest.Pytester) -> None:
    make_project(pytester, PROJECT)
    pytester.runpytest_subprocess("--bytecode-cov=pkg").assert_outcomes(passed=4)
    raw = json.loads((pytester.path / ".bytecode-cov").read_text())
    assert "contexts" not in raw
    assert data.load(pytester.path / ".bytecode-cov").contexts is None


@pytest.mark.subprocess
def test_xdist_contexts_equal_serial_contexts(pytester: pytest.Pytester) -> None:
    make_project(pytester, PROJECT)
    pytester.runpytest_subprocess(*ARGS, "--bytecode-cov-data=s.data").assert_outcomes(passed=4)
    result = pytester.runpytest_subprocess(
        *ARGS, "-p", "xdist", "-n", "2", "--bytecode-cov-data=p.data"
    )
    result.assert_outcomes(passed=4)
    serial = _contexts_by_name(pytester.path / "s.data")
    assert _contexts_by_name(pytester.path / "p.data") == serial
    assert len(serial) == 7  # six test phases, and "" (imports)


CRASH_TEST = """
    import os
    from pkg.mod import helper

    def test_y_last_before_the_crash(around):
        pass  # its teardown runs helper(): sent with its report, kept

    def test_zz_dies():
        helper()
        os._exit(3)
"""


@pytest.mark.subprocess
def test_a_crashed_worker_keeps_the_contexts_of_its_completed_tests(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, {**PROJECT, "tests/test_z.py": CRASH_TEST})
    result = pytester.runpytest_subprocess(
        *ARGS, "-p", "xdist", "-n", "1", "--max-worker-restart=0", "--bytecode-cov-data=c.data"
    )
    result.stdout.fnmatch_lines(["*worker gw0 crashed*recovered*"])
    serial = pytester.runpytest_subprocess(
        *ARGS, "--deselect", "tests/test_z.py::test_zz_dies", "--bytecode-cov-data=s.data"
    )
    serial.assert_outcomes(passed=5, deselected=1)
    crashed = _contexts_by_name(pytester.path / "c.data")
    assert crashed == _contexts_by_name(pytester.path / "s.data")
    assert ("helper", 10) in crashed["tests/test_z.py::test_y_last_before_the_crash|teardown"]


@pytest.mark.subprocess
def test_append_and_combine_merge_contexts(pytester: pytest.Pytester) -> None:
    make_project(pytester, PROJECT)
    k_small = ["-k", "small"]
    k_rest = ["-k", "not small"]
    pytester.runpytest_subprocess(*ARGS, *k_small).assert_outcomes(passed=1, deselected=3)
    pytester.runpytest_subprocess(*ARGS, *k_rest, "--bytecode-cov-append").assert_outcomes(
        passed=3, deselected=1
    )
    pytester.runpytest_subprocess(*ARGS, "--bytecode-cov-data=all.data").assert_outcomes(passed=4)
    appended = _contexts_by_name(pytester.path / ".bytecode-cov")
    assert appended == _contexts_by_name(pytester.path / "all.data")
    pytester.runpytest_subprocess(*ARGS, *k_small, "--bytecode-cov-data=1.data")
    pytester.runpytest_subprocess(*ARGS, *k_rest, "--bytecode-cov-data=2.data")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pytester.path)
        assert cli.main(["combine", "1.data", "2.data", "-o", "c.data"]) == 0
    assert _contexts_by_name(pytester.path / "c.data") == appended


# --- the commands and the JSON report ------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project run once with contexts (in a subprocess): its folder."""
    import subprocess
    import textwrap

    root = tmp_path_factory.mktemp("recorded")
    for name, text in PROJECT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "tox.ini").write_text("[pytest]\npythonpath = src\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *ARGS, "-p", "no:cacheprovider", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def _cli(root: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        status = cli.main(args)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.subprocess
def test_contexts_command_lists_a_lines_tests(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _cli(recorded, ["contexts", "src/pkg/mod.py:4"], capsys)
    assert (status, out) == (0, "tests/test_a.py::test_small|call\n")
    status, out, _ = _cli(recorded, ["contexts", str(recorded / "src/pkg/mod.py") + ":3"], capsys)
    assert status == 0
    assert out.splitlines() == [
        "tests/test_a.py::test_big|call",
        "tests/test_a.py::test_big|setup",
        "tests/test_a.py::test_small|call",
    ]
    status, out, _ = _cli(recorded, ["contexts", "src/pkg/mod.py:6"], capsys)
    assert status == 2  # a blank line
    status, out, _ = _cli(recorded, ["contexts", "src/pkg/mod.py:5"], capsys)
    assert out.splitlines() == ["tests/test_a.py::test_big|call", "tests/test_a.py::test_big|setup"]


@pytest.mark.subprocess
def test_contexts_command_at_a_column(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Line 3 is "    if x > 0 and x < 10:": column 22 is in "x < 10", which
    # only the calls with x > 0 reached.
    status, out, err = _cli(recorded, ["contexts", "src/pkg/mod.py:3:22"], capsys)
    if not versions.HAS_COLUMN_POSITIONS:
        assert status == 2
        assert "no column positions to choose from (Python 3.10 records no column" in err
        return
    assert status == 0
    assert out.splitlines() == [
        "tests/test_a.py::test_big|call",
        "tests/test_a.py::test_small|call",
    ]
    status, out, _ = _cli(recorded, ["contexts", "src/pkg/mod.py:3:22", "--instructions"], capsys)
    assert status == 0
    assert "  fell through:\n    tests/test_a.py::test_small|call\n" in out
    assert "  jumped:\n    tests/test_a.py::test_big|call\n" in out


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["contexts", "src/pkg/mod.py"], "expected FILE:LINE or FILE:LINE:COL"),
        (["contexts", "src/pkg/nope.py:2"], "src/pkg/nope.py: not a measured file"),
        (["contexts", "src/pkg/mod.py:99"], "src/pkg/mod.py:99: no measured instruction there"),
        (["contexts", "src/pkg/mod.py:3", "--data", "missing"], "missing: cannot read data file"),
        (["report", "--context", "("], "--context='(' is not a regular expression"),
        (["report", "--context", "nothing-like-it"], "no context of .bytecode-cov matches"),
    ],
)
def test_bad_queries_are_one_line_errors(
    recorded: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, _, err = _cli(recorded, args, capsys)
    assert status == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_data_file_without_contexts_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data.save(data.CovData(), tmp_path / ".bytecode-cov")
    for args in (["contexts", "m.py:1"], ["report", "--context", "x"]):
        status, _, err = _cli(tmp_path, args, capsys)
        assert status == 2
        assert "contexts" in err and "--bytecode-cov-context=test" in err


@pytest.mark.subprocess
def test_report_context_reports_what_matching_tests_ran(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--type", "json:-", "--filters", "none"]
    status, out, err = _cli(recorded, [*args, "--context", r"test_boom\[1\]"], capsys)
    assert status == 0
    assert "contexts-counts" in err
    report = json.loads(out)
    codes = {c["qualname"]: c for c in report["files"]["src/pkg/mod.py"]["code_objects"]}
    assert all(i["count"] == 1 for i in codes["boom"]["instructions"][:-1])
    assert not any(i["count"] for i in codes["classify"]["instructions"])
    assert not any(i["count"] for i in codes["<module>"]["instructions"])
    _, whole, _ = _cli(recorded, args, capsys)
    both = "small|call", "big|call"
    status, out, _ = _cli(recorded, [*args, "--context", both[0], "--context", both[1]], capsys)
    narrowed = json.loads(out)["files"]["src/pkg/mod.py"]["code_objects"]
    full = json.loads(whole)["files"]["src/pkg/mod.py"]["code_objects"]
    for narrow_code, full_code in zip(narrowed, full, strict=True):
        if narrow_code["qualname"] == "classify":
            # Every instruction of classify ran in one of those two tests.
            assert [i["count"] > 0 for i in narrow_code["instructions"]] == [
                i["count"] > 0 for i in full_code["instructions"]
            ]


@pytest.mark.subprocess
def test_json_report_carries_the_contexts(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _cli(recorded, ["report", "--type", "json:-"], capsys)
    assert status == 0
    report = json.loads(out)
    names = report["meta"]["contexts"]
    entry = report["files"]["src/pkg/mod.py"]
    assert {names[c] for c in entry["contexts_by_line"]["4"]} == {
        "tests/test_a.py::test_small|call"
    }
    classify = next(c for c in entry["code_objects"] if c["qualname"] == "classify")
    for ins in classify["instructions"]:
        assert bool(ins["contexts"]) == (ins["count"] > 0)
    first = classify["branches"][0]
    fell, jumped = ({names[c] for c in o["contexts"]} for o in first["outcomes"])
    assert "tests/test_a.py::test_big|setup" in jumped  # classify(-1)
    assert "tests/test_a.py::test_small|call" in fell


def test_restrict_keeps_numbers_and_matches_by_search() -> None:
    keep = matcher(["small", r"^x"])
    assert keep("tests/t.py::test_small|call") and keep("x|call") and not keep("a|x")
    contexts = Contexts()
    contexts.number("a|call")
    contexts.number("b|call")
    contexts.add("m.py", ("<module>", 1, 0), 1, 1)
    from bc_helpers import code

    fdata = data.FileData("0", [code("<module>", [5])])
    restricted = restrict(data.CovData(files={"m.py": fdata}, contexts=contexts), matcher(["^a"]))
    assert restricted.files["m.py"].code_objects[0].instructions[0].count == 0
    assert restricted.contexts is not None and restricted.contexts.names == ["a|call", "b|call"]
    assert fdata.code_objects[0].instructions[0].count == 5  # the input is unchanged
