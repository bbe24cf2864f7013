"""CPython's own tests, plain vs instrumented, through ``tools/cpython_diff.py``.

A small quick subset of the tool's default list runs here; the whole list is
``python tools/cpython_diff.py --default`` (minutes).  Each module runs in two
fresh subprocesses, so those tests need subprocesses (not on Pyodide).  The
doctest mode runs in-process, on every version, Pyodide included.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pytest_bytecode import versions

needs_subprocess = pytest.mark.skipif(
    versions.IS_PYODIDE, reason="Pyodide cannot start subprocesses"
)

TOOL = Path(__file__).resolve().parent.parent / "tools" / "cpython_diff.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cpython_diff", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _engine_available() -> bool:
    try:
        from pytest_bytecode.engine import instrument  # noqa: F401
    except ImportError:
        return False
    return True


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=600
    )


@needs_subprocess
def test_list_default_names_forty_modules() -> None:
    out = _run("--list-default")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) >= 40


@needs_subprocess
def test_plain_vs_plain_agrees() -> None:
    """Self-check: two plain runs of a module must agree (the harness is deterministic)."""
    out = _run("--plain-vs-plain", "test_textwrap", "test_colorsys")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed, 0 failed" in out.stdout


def test_compare_reports_differences() -> None:
    tool = _tool()
    a = {"run": 2, "tests": {"t.a": ["pass"], "t.b": ["pass"]}}
    b = {"run": 2, "tests": {"t.a": ["pass"], "t.b": ["fail:AssertionError"]}}
    assert tool.compare(a, a) == []
    assert tool.compare(a, b) == ["t.b: ['pass'] != ['fail:AssertionError']"]


@needs_subprocess
@pytest.mark.skipif(not _engine_available(), reason="engine.instrument not available yet")
def test_quick_subset_agrees() -> None:
    tool = _tool()
    out = _run("--jobs", "2", "--timeout", "120", *tool.QUICK_MODULES)
    assert out.returncode == 0, out.stdout + out.stderr


DIFF = _tool()  # loaded once for the in-process doctest tests
DOCTEST_MODULES = DIFF.DOCTEST_MODULES


@pytest.mark.parametrize("name", sorted(DOCTEST_MODULES))
def test_stdlib_doctests_agree(name: str) -> None:
    """A stdlib module's doctests: the same outcome and output, plain and instrumented."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not in this interpreter's stdlib (Pyodide leaves out _pydecimal)")
    diffs, attempted = DIFF.doctest_diff(name)
    assert diffs == []
    assert attempted >= DOCTEST_MODULES[name]


def test_doctest_mode_notices_a_difference() -> None:
    """Self-check: an "instrumentation" that changes behaviour is reported."""

    class Broken:
        def __init__(self, code: object) -> None:
            self.code = compile("def bisect(*a):\n    return -1\n", "heapq_broken", "exec")

    plain = DIFF._doctest_record("heapq", None)
    broken = DIFF._doctest_record("heapq", Broken)
    assert DIFF.compare(plain, broken) != []
