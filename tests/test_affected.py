"""Test selection, ``--bytecode-cov-affected``: fingerprints that ignore
positions, and through the plugin, which tests a change selects."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from bc_helpers import make_project

from pytest_bytecode import data, versions
from pytest_bytecode.affected import code_fingerprint, file_fingerprints, moved_keys


def _fingerprints(source: str, before: str = "") -> dict[tuple[str, int], str]:
    found = file_fingerprints((before + textwrap.dedent(source)).encode(), "m.py")
    assert found is not None
    return {(q, n): fp for (q, _, n), fp in found.items()}


BASE = """
    def f(x):
        if x:
            return g(x) + 1
        return 0

    def g(x):
        return {"a", "b"} | {x}
"""


def test_fingerprints_ignore_positions_and_other_functions() -> None:
    base = _fingerprints(BASE)
    broken = BASE.replace("return 0", "return (\n            0\n        )")
    moved = _fingerprints(broken, before="# a comment\n\n")
    assert moved == base  # line numbers, blank lines, comments, line breaks
    other = _fingerprints(BASE.replace("| {x}", "| {x, 1}"))
    assert other[("f", 0)] == base[("f", 0)] and other[("g", 0)] != base[("g", 0)]
    constant = _fingerprints(BASE.replace("+ 1", "+ 2"))
    assert constant[("f", 0)] != base[("f", 0)] and constant[("g", 0)] == base[("g", 0)]
    # The module body names its functions, not their bodies.
    assert other[("<module>", 0)] == base[("<module>", 0)]


REFORMATTED = (
    """
def f(x, y):
    if x and y or call(x, y, 3):
        return g(x) + 1
    try:
        z = [i for i in range(x) if i]
    except ValueError:
        z = None
    return (0, z)

async def h(a):
    async with a as b:
        return await b
""",
    """# comment

def f(x,
      y):
    if (x and
            y or call(x,
                      y, 3)):
        return (
            g(x)
            + 1
        )
    try:
        z = [i for i in range(x) if i]
    except ValueError:
        z = None  # a comment
    return (
        0,
        z,
    )


async def h(a):
    async with a as b:

        return await (
            b
        )
""",
)


def test_line_breaks_inside_statements_keep_fingerprints() -> None:
    """Statements broken over other lines (NOPs kept for line events are
    left out, jumps compared by position).  Not every such edit: 3.12+
    compiles a comprehension's condition broken onto its own line to other
    jumps, and then the code object counts as changed (the safe side)."""
    one, other = (_fingerprints(text) for text in REFORMATTED)
    assert one == other


def test_a_class_moved_down_keeps_its_fingerprint() -> None:
    """3.13+ class bodies store their first line (``__firstlineno__``), and
    equal constants merge (the line and ``x = 1``): left out, and constants
    compared by value.  A change to the class still shows."""
    src = "class C:\n    x = 1\n\n    def m(self):\n        return 4\n"
    base = _fingerprints(src)
    m = ("C.m" if versions.HAS_CO_QUALNAME else "m", 0)  # 3.10: no co_qualname
    assert _fingerprints(src, before="# a comment\n\n\n") == base
    assert _fingerprints(src.replace("x = 1", "x = 2"))[("C", 0)] != base[("C", 0)]
    assert _fingerprints(src.replace("return 4", "return 5"))[m] != base[m]
    doc = _fingerprints(src.replace("return 4", "'Doc.'\n        return 4"))
    assert doc[m] != base[m]  # a docstring is a constant of its function


@pytest.mark.subprocess
def test_fingerprints_do_not_depend_on_string_hashing() -> None:
    """A frozenset constant's order changes with PYTHONHASHSEED; its fingerprint must not."""
    src = "def f(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}\n"
    script = (
        "import sys; from pytest_bytecode.affected import file_fingerprints as f; "
        "print(sorted(f(sys.argv[1].encode(), 'm.py').values()))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, src],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(outputs) == 1


def test_code_objects_are_matched_by_name_and_order() -> None:
    old = {("f", 1, 0): "a", ("<lambda>", 5, 0): "b", ("<lambda>", 6, 0): "c"}
    new = {("f", 3, 0): "a", ("<lambda>", 7, 0): "b", ("<lambda>", 8, 0): "X"}
    same, changed = moved_keys(old, new)
    assert same == {("f", 1, 0): ("f", 3, 0), ("<lambda>", 5, 0): ("<lambda>", 7, 0)}
    assert changed == {("<lambda>", 6, 0)}
    code = compile("x = 1", "m.py", "exec")
    assert code_fingerprint(code) == code_fingerprint(compile("\n\nx = 1", "n.py", "exec"))


# --- through the plugin ---------------------------------------------------------------

PROJECT = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        LIMIT = 10

        def small(x):
            return 0 < x < LIMIT

        def double(x):
            return 2 * x

        def both(x):
            return small(double(x))

        def unused():
            return "never run"
    """,
    "src/pkg/other.py": """
        def shout(s):
            return s.upper()
    """,
    "tests/conftest.py": "",
    "tests/test_mod.py": """
        from pkg.mod import both, double, small

        def test_small():
            assert small(3)

        def test_double():
            assert double(2) == 4

        def test_both():
            assert both(1)

        def test_nothing_measured():
            assert True
    """,
    "tests/sub/conftest.py": "",
    "tests/sub/test_other.py": """
        from pkg.other import shout

        def test_shout():
            assert shout("a") == "A"
    """,
}

ALL = {
    "tests/test_mod.py::test_small",
    "tests/test_mod.py::test_double",
    "tests/test_mod.py::test_both",
    "tests/test_mod.py::test_nothing_measured",
    "tests/sub/test_other.py::test_shout",
}
ARGS = ["--bytecode-cov=pkg", "--bytecode-cov-affected", "-p", "no:randomly", "-v"]


def _ran(result: pytest.RunResult) -> set[str]:
    return {
        line.split(" ")[0]
        for line in result.outlines
        if line.startswith("tests/") and (" PASSED" in line or " FAILED" in line)
    }


def _edit(pytester: pytest.Pytester, name: str, old: str, new: str) -> None:
    path = pytester.path / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new))


def _run(pytester: pytest.Pytester, *extra: str) -> set[str]:
    result = pytester.runpytest_subprocess(*ARGS, *extra)
    assert result.ret in (0, 1, 5), result.stdout.str()
    return _ran(result)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """The project, run once: every test ran and is remembered."""
    make_project(pytester, PROJECT)
    result = pytester.runpytest_subprocess(*ARGS)
    result.stdout.fnmatch_lines(["*--bytecode-cov-affected: every test runs (no data file*"])
    assert _ran(result) == ALL
    return pytester


@pytest.mark.subprocess
def test_nothing_changed_selects_nothing(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*ARGS)
    result.stdout.fnmatch_lines(["*--bytecode-cov-affected: 0 of 5 tests run (nothing changed)*"])
    assert _ran(result) == set()


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("old", "new", "expected"),  # expected: test names, or "all"
    [
        ("return 2 * x", "return x + x", {"test_double", "test_both"}),
        ("return 0 < x < LIMIT", "return 0 < x <= LIMIT", {"test_small", "test_both"}),
        ("return small(double(x))", "return small(x * 2)", {"test_both"}),
        ('return "never run"', 'return "still never run"', set()),
        ("def small", "# a comment\n\n\ndef small", set()),
        ("return 2 * x", "return (\n        2 * x\n    )", set()),
        ("LIMIT = 10", "LIMIT = 11", "all"),
    ],
    ids=["double", "small", "both", "unused", "comment", "format", "module-constant"],
)
def test_a_change_selects_exactly_the_tests_that_ran_it(
    project: pytest.Pytester, old: str, new: str, expected: set[str]
) -> None:
    """The oracle: the tests whose recorded contexts ran the changed
    function; a module-level change (it runs at import, and any test may
    read what it defines) selects every test."""
    _edit(project, "src/pkg/mod.py", old, new)
    selected = _run(project)
    assert selected == (
        ALL if expected == "all" else {f"tests/test_mod.py::{name}" for name in expected}
    )


@pytest.mark.subprocess
def test_the_oracle_agrees_with_the_recorded_contexts(project: pytest.Pytester) -> None:
    """What a change to ``double`` selects is what the data file says ran it."""
    loaded = data.load(project.path / ".bytecode-cov")
    assert loaded.contexts is not None
    ran_double = {
        loaded.contexts.names[c].split("|")[0]
        for key, by_context in loaded.contexts.files["src/pkg/mod.py"].items()
        if key[0] == "double"
        for c in by_context
    }
    assert ran_double == {"tests/test_mod.py::test_double", "tests/test_mod.py::test_both"}
    _edit(project, "src/pkg/mod.py", "return 2 * x", "return x * 2")
    assert _run(project) == ran_double


@pytest.mark.subprocess
def test_new_failed_and_changed_test_files_are_selected(project: pytest.Pytester) -> None:
    _edit(project, "tests/sub/test_other.py", '== "A"', '== "B"')  # the test file
    assert _run(project) == {"tests/sub/test_other.py::test_shout"}  # and it fails now
    assert _run(project) == {"tests/sub/test_other.py::test_shout"}  # failed last time
    _edit(project, "tests/sub/test_other.py", '== "B"', '== "A"')
    assert _run(project) == {"tests/sub/test_other.py::test_shout"}  # passes again
    assert _run(project) == set()
    (project.path / "tests/test_new.py").write_text("def test_new():\n    assert 1\n")
    assert _run(project) == {"tests/test_new.py::test_new"}
    (project.path / "tests/sub/conftest.py").write_text("X = 1\n")  # only below it
    assert _run(project) == {"tests/sub/test_other.py::test_shout"}


@pytest.mark.subprocess
def test_tests_left_out_are_remembered(project: pytest.Pytester) -> None:
    """After a run that left tests out, a later change still selects them."""
    _edit(project, "src/pkg/other.py", "s.upper()", "s.upper() + ''")
    assert _run(project) == {"tests/sub/test_other.py::test_shout"}
    _edit(project, "src/pkg/mod.py", "return 2 * x", "return x + x")
    assert _run(project) == {"tests/test_mod.py::test_double", "tests/test_mod.py::test_both"}
    _edit(project, "src/pkg/mod.py", "return 0 < x < LIMIT", "return 0 < x <= LIMIT")
    # test_small was left out of the last two runs, its memory carried over
    # (and its code object moved in between: no, but double's did change).
    assert _run(project) == {"tests/test_mod.py::test_small", "tests/test_mod.py::test_both"}


@pytest.mark.subprocess
def test_a_test_left_out_after_a_change_runs_next_time(project: pytest.Pytester) -> None:
    """A run of some test files only (or -k, -x) leaves out tests that a
    change affects: they are kept as stale and run the next time."""
    _edit(project, "src/pkg/mod.py", "return 2 * x", "return x + x")
    assert _run(project, "tests/sub") == set()
    assert _run(project) == {"tests/test_mod.py::test_double", "tests/test_mod.py::test_both"}
    assert _run(project) == set()


@pytest.mark.subprocess
def test_code_a_fixture_ran_in_setup_selects_every_test(project: pytest.Pytester) -> None:
    """A fixture's setup runs once for all the tests of its scope, in the
    first one's setup: a change to code it ran selects every test."""
    (project.path / "tests/conftest.py").write_text(
        "import pytest\nfrom pkg.other import shout\n\n"
        "@pytest.fixture(scope='session', autouse=True)\ndef loud():\n    return shout('x')\n"
    )
    assert _run(project) == ALL  # the conftest changed
    _edit(project, "src/pkg/other.py", "s.upper()", "s.upper() + ''")
    assert _run(project) == ALL


@pytest.mark.subprocess
def test_renamed_tests_are_forgotten(project: pytest.Pytester) -> None:
    _edit(project, "tests/test_mod.py", "def test_small", "def test_small_renamed")
    assert _run(project) == {  # the test file changed: all its tests run
        "tests/test_mod.py::test_small_renamed",
        "tests/test_mod.py::test_double",
        "tests/test_mod.py::test_both",
        "tests/test_mod.py::test_nothing_measured",
    }
    loaded = data.load(project.path / ".bytecode-cov")
    assert loaded.contexts is not None
    assert "tests/test_mod.py::test_small" not in loaded.contexts.tests


@pytest.mark.subprocess
def test_xdist_workers_select_alike(project: pytest.Pytester) -> None:
    _edit(project, "src/pkg/mod.py", "return 2 * x", "return x + x")
    result = project.runpytest_subprocess(*ARGS, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=2)  # (xdist's controller does not count deselections)
    assert _run(project) == set()  # the xdist run was remembered


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bytecode-cov-append"], "--bytecode-cov-affected: cannot be used with"),
        (["--bytecode-cov-data=-"], "--bytecode-cov-affected: needs a data file to compare"),
        (["--bytecode-cov-context=none"], "--bytecode-cov-affected: needs contexts"),
    ],
)
def test_refused_combinations(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    make_project(pytester, PROJECT)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-affected", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}*"])


@pytest.mark.subprocess
def test_a_data_file_that_cannot_choose_runs_everything(pytester: pytest.Pytester) -> None:
    make_project(pytester, PROJECT)
    pytester.runpytest_subprocess("--bytecode-cov=pkg").assert_outcomes(passed=5)
    result = pytester.runpytest_subprocess(*ARGS)
    result.stdout.fnmatch_lines(["*every test runs (*.bytecode-cov holds no per-test contexts)*"])
    assert _ran(result) == ALL
    (pytester.path / ".bytecode-cov").write_text(json.dumps({"kind": "something else"}))
    result = pytester.runpytest_subprocess(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bytecode-cov-affected: *not a pytest-bytecode data*"])
