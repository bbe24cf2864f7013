"""pytest-xdist merging, crashed workers, pytest-cov side by side, the code cache.

All in subprocesses: xdist starts worker processes, and coverage.py must be
started fresh for each core.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_plugin import make_project

from pytest_bytecode import engine, versions

needs_subprocess = pytest.mark.skipif(
    versions.IS_PYODIDE, reason="Pyodide has no subprocesses, so no pytest-xdist"
)

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


@needs_subprocess
@pytest.mark.parametrize("dist", [["-n", "2"], ["--tx", "2*popen", "--dist", "load"]])
def test_xdist_counts_equal_serial_counts(pytester: pytest.Pytester, dist: list[str]) -> None:
    from test_plugin import PKG

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


@needs_subprocess
def test_killed_worker_keeps_completed_tests(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/mod.py": "def f():\n    return 1\n\ndef dies():\n    return 2\n",
            # The sleep outlasts the flush budget (10x a flush of this tiny project).
            "tests/test_1.py": (
                "import time\nfrom pkg.mod import f\n\n"
                "def test_ok():\n    time.sleep(0.5)\n    assert f() == 1\n"
            ),
            "tests/test_2.py": (
                "import os\nfrom pkg.mod import dies\n\n"
                "def test_dies():\n    dies()\n    os._exit(3)\n"
            ),
        },
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "xdist",
        "-n",
        "1",
        "--max-worker-restart=0",
        "--bytecode-cov=pkg",
        "--bytecode-cov-report=json",
        "--bytecode-cov-report=term",
    )
    result.stdout.fnmatch_lines(
        ["worker gw0 crashed (*); counts of its tests through tests/test_1.py::test_ok recovered"]
    )
    report = json.loads((pytester.path / "bytecode-cov.json").read_text())
    assert [(c["worker"], c["recovered"]) for c in report["meta"]["crashed_workers"]] == [
        ("gw0", True)
    ]
    codes = {c["name"]: c for c in report["files"]["src/pkg/mod.py"]["code_objects"]}
    assert codes["f"]["instructions"][-1]["count"] == 1  # test_ok completed: kept
    assert codes["<module>"]["instructions"][0]["count"] == 1


COVERAGE_CORES = ["ctrace", "pytrace"] + (["sysmon"] if versions.HAS_SYS_MONITORING else [])


@needs_subprocess
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


def _cache_files(root: Path) -> list[Path]:
    return sorted((root / ".pytest_cache" / "d" / "pytest-bytecode").glob("*.bin"))


@pytest.mark.skipif(
    not hasattr(getattr(engine, "Instrumented", None), "dumps"),
    reason="the engine does not serialise instrumented code yet",
)
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
    assert "unusable" in (pytester.path / "debug.log").read_text()
    assert json.loads((pytester.path / "bytecode-cov.json").read_text()) == report1


def test_cache_is_off_without_cacheprovider(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecode-cov=pkg")
    result.assert_outcomes(passed=1)
    assert not _cache_files(pytester.path)
    assert not os.path.exists(pytester.path / ".pytest_cache" / "d" / "pytest-bytecode")
