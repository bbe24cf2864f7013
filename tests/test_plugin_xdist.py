"""pytest-xdist merging, crashed workers, pytest-cov side by side, the code cache.

All in subprocesses: xdist starts worker processes, and coverage.py must be
started fresh for each core.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import PKG, make_project

from pytest_bytecode import cache, versions

MORE_TESTS = {
    "tests/test_a.py": """
        from pkg.mod import f, g

        def test_a1():
            assert f(1) == "pos"

        def test_a2():
            assert f(-1) == "neg"
            assert g() == [0, 1, 2]
    """,
    "tests/test_b.py": """
        import pkg.other

        def test_b1():
            for _ in range(5):
                assert pkg.other.h() == 1

        def test_b2():
            assert pkg.other.h() == 1
    """,
}


def counts_of(report: Any) -> dict[str, list[tuple[str, int, int]]]:
    return {
        path: [
            (code["qualname"], ins["offset"], ins["count"])
            for code in entry["code_objects"]
            for ins in code["instructions"]
        ]
        for path, entry in report["files"].items()
    }


@pytest.mark.subprocess
@pytest.mark.parametrize("dist", [["-n", "2"], ["--tx", "2*popen", "--dist", "load"]])
def test_xdist_counts_equal_serial_counts(pytester: pytest.Pytester, dist: list[str]) -> None:
    make_project(pytester, {**PKG, **MORE_TESTS})
    pytester.makeconftest("import pkg.other\n")
    args = ["--bytecode-cov=pkg", "-p", "xdist"]
    serial = pytester.runpytest_subprocess(*args, "-n", "0", "--bytecode-cov-report=json:s.json")
    serial.assert_outcomes(passed=5)
    parallel = pytester.runpytest_subprocess(*args, *dist, "--bytecode-cov-report=json:p.json")
    parallel.assert_outcomes(passed=5)
    s = json.loads((pytester.path / "s.json").read_text())
    p = json.loads((pytester.path / "p.json").read_text())
    assert s["totals"] == p["totals"]
    assert counts_of(s) == counts_of(p)
    assert s["totals"]["covered_instructions"] > 0


LAZY = {
    # Imported by tests, not at collection: each worker that runs one of
    # them executes the module body, which calls a helper of another module.
    "src/pkg/lazy.py": """
        from pkg.other import h

        TABLE = [h() + n for n in range(3)]

        def use():
            return sum(TABLE)
    """,
    "tests/test_lazy_1.py": """
        def test_lazy_1():
            import pkg.lazy
            assert pkg.lazy.use() == 6
    """,
    "tests/test_lazy_2.py": """
        def test_lazy_2():
            import pkg.lazy
            assert pkg.lazy.use() == 6
    """,
}


@pytest.mark.subprocess
def test_module_imported_by_tests_counts_once(pytester: pytest.Pytester) -> None:
    make_project(pytester, {**PKG, **MORE_TESTS, **LAZY})
    args = ["--bytecode-cov=pkg", "-p", "xdist"]
    serial = pytester.runpytest_subprocess(*args, "-n", "0", "--bytecode-cov-report=json:s.json")
    serial.assert_outcomes(passed=7)
    parallel = pytester.runpytest_subprocess(
        *args, "-n", "2", "--dist", "loadfile", "--bytecode-cov-report=json:p.json"
    )
    parallel.assert_outcomes(passed=7)
    s = json.loads((pytester.path / "s.json").read_text())
    p = json.loads((pytester.path / "p.json").read_text())
    assert counts_of(s) == counts_of(p)
    lazy = {c["name"]: c for c in s["files"]["src/pkg/lazy.py"]["code_objects"]}
    assert lazy["<module>"]["instructions"][0]["count"] == 1
    assert lazy["use"]["instructions"][-1]["count"] == 2


CRASHING = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        def f(n):
            total = 0
            for i in range(n):
                if i % 2:
                    total += i
            return total

        def g():
            try:
                raise KeyError(1)
            except KeyError:
                return "caught"

        def dies():
            return 2
    """,
    "src/pkg/late.py": """
        VALUE = [n * n for n in range(4)]
    """,
    "tests/test_1.py": """
        from pkg.mod import f, g

        def test_f3():
            assert f(3) == 1

        def test_f10():
            assert f(10) == 25

        def test_g():
            assert g() == "caught"

        def test_late():
            import pkg.late
            assert pkg.late.VALUE[-1] == 9
    """,
    "tests/test_2.py": """
        import os
        from pkg.mod import dies, f

        def test_dies():
            f(100)
            dies()
            os._exit(3)
    """,
}


#: How the worker dies: ``os._exit`` (no cleanup) or SIGKILL (not even that).
EXIT = "os._exit(3)"
SIGKILL = "import signal; os.kill(os.getpid(), signal.SIGKILL)"


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("dist", "death"),
    [
        (["-n", "1"], EXIT),
        (["--tx", "popen", "--dist", "load"], EXIT),
        pytest.param(
            ["-n", "1"],
            SIGKILL,
            marks=pytest.mark.skipif(os.name == "nt", reason="needs POSIX signals"),
        ),
    ],
    ids=["n1-exit", "tx-popen-exit", "n1-sigkill"],
)
def test_killed_worker_keeps_completed_tests(
    pytester: pytest.Pytester, dist: list[str], death: str
) -> None:
    """A worker killed in its fifth test keeps the exact counts of the first four.

    The oracle is a serial run without the test that kills the worker: its
    counts must equal the crashed run's, instruction by instruction.  The
    counts travel with the test reports, so a ``--tx`` worker (which may be
    on another machine) keeps them as well.
    """
    files = dict(CRASHING)
    files["tests/test_2.py"] = files["tests/test_2.py"].replace(EXIT, death)
    make_project(pytester, files)
    args = ["-p", "xdist", "--bytecode-cov=pkg", "-p", "no:randomly"]
    result = pytester.runpytest_subprocess(
        *args,
        *dist,
        "--max-worker-restart=0",
        "--bytecode-cov-report=json:crashed.json",
        "--bytecode-cov-report=term",
    )
    result.stdout.fnmatch_lines(
        ["worker gw0 crashed (*); counts of its tests through tests/test_1.py::test_late recovered"]
    )
    serial = pytester.runpytest_subprocess(
        *args,
        "-n",
        "0",
        "--deselect",
        "tests/test_2.py::test_dies",
        "--bytecode-cov-report=json:s.json",
    )
    serial.assert_outcomes(passed=4, deselected=1)
    crashed = json.loads((pytester.path / "crashed.json").read_text())
    s = json.loads((pytester.path / "s.json").read_text())
    assert [(c["worker"], c["recovered"]) for c in crashed["meta"]["crashed_workers"]] == [
        ("gw0", True)
    ]
    assert counts_of(crashed) == counts_of(s)
    codes = {c["name"]: c for c in s["files"]["src/pkg/mod.py"]["code_objects"]}
    assert codes["f"]["instructions"][-1]["count"] == 2  # test_f3 and test_f10, not test_dies
    assert codes["dies"]["instructions"][-1]["count"] == 0


COVERAGE_CORES = ["ctrace", "pytrace"] + (["sysmon"] if versions.HAS_SYS_MONITORING else [])


@pytest.mark.subprocess
@pytest.mark.parametrize("core", COVERAGE_CORES)
def test_side_by_side_with_pytest_cov(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str
) -> None:
    make_project(pytester)
    monkeypatch.setenv("COVERAGE_CORE", core)
    plain = pytester.runpytest_subprocess("--cov=pkg", "--cov-report=term-missing")
    plain.assert_outcomes(passed=1)
    both = pytester.runpytest_subprocess(
        "--cov=pkg", "--cov-report=term-missing", "--bytecode-cov=pkg"
    )
    both.assert_outcomes(passed=1)

    def cov_lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("src/pkg/mod.py ")]

    cov_plain = cov_lines(plain.stdout.str())
    cov_both = cov_lines(both.stdout.str())
    assert len(cov_plain) == 1
    assert cov_both[0] == cov_plain[0]  # coverage.py's own line is unchanged
    assert len(cov_both) == 2  # ... and ours is there too
    both.stdout.fnmatch_lines(["*bytecode coverage: Python*", "TOTAL*"])
    assert "traced-code" not in both.stdout.str()  # coverage.py's tracer never jumps


def _cache_files(root: Path) -> list[Path]:
    return sorted((root / ".pytest_cache" / "d" / "pytest-bytecode").glob("*.bin"))


def test_instrumentation_cache(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-report=json", "--debug=debug.log"]
    first = pytester.runpytest(*args)
    first.assert_outcomes(passed=1)
    report1 = json.loads((pytester.path / "bytecode-cov.json").read_text())
    assert _cache_files(pytester.path)
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert "cache hit for" in (pytester.path / "debug.log").read_text()
    assert json.loads((pytester.path / "bytecode-cov.json").read_text()) == report1
    for entry in _cache_files(pytester.path):
        entry.write_bytes(b"garbage")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert "damaged (checksum)" in (pytester.path / "debug.log").read_text()
    assert json.loads((pytester.path / "bytecode-cov.json").read_text()) == report1
    # A sound checksum over a payload the engine refuses: not executed either.
    for entry in _cache_files(pytester.path):
        body = bytes(8) + b"garbage"  # no excluded, no no-branch lines, then a payload
        head = len(cache.MAGIC)
        digest = entry.read_bytes()[head : head + 32]  # the key's, as the run wrote it
        entry.write_bytes(cache.MAGIC + digest + hashlib.sha256(body).digest() + body)
    pytester.runpytest(*args).assert_outcomes(passed=1)
    assert "unusable" in (pytester.path / "debug.log").read_text()
    assert json.loads((pytester.path / "bytecode-cov.json").read_text()) == report1


def test_cache_is_off_without_cacheprovider(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecode-cov=pkg")
    result.assert_outcomes(passed=1)
    assert not _cache_files(pytester.path)
    assert not os.path.exists(pytester.path / ".pytest_cache" / "d" / "pytest-bytecode")
