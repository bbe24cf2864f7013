"""CPython's own tests, plain vs instrumented, through ``tools/cpython_diff.py``.

A small quick subset of the tool's default list runs here; the whole list is
``python tools/cpython_diff.py --default`` (minutes).  Each module runs in two
fresh subprocesses, so those tests need subprocesses (not on Pyodide).  The
doctest mode runs in-process, on every version, Pyodide included.  The
plugin mode (``--plugin``: plain, cold-cache and warm-cache ``pytest`` runs
through the plugin) runs here on one small module; its whole list is
``python tools/cpython_diff.py --plugin --default --jobs 2 --timeout 300``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bc_helpers import ROOT, load_tool

TOOL = ROOT / "tools" / "cpython_diff.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.subprocess
def test_list_default_names_forty_modules() -> None:
    out = _run("--list-default")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) >= 40


@pytest.mark.subprocess
def test_plain_vs_plain_agrees() -> None:
    """Self-check: two plain runs of a module must agree (the harness is deterministic)."""
    out = _run("--plain-vs-plain", "test_textwrap", "test_colorsys")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed, 0 failed" in out.stdout


def test_compare_reports_differences() -> None:
    tool = load_tool("cpython_diff")
    a = {"run": 2, "tests": {"t.a": ["pass"], "t.b": ["pass"]}}
    b = {"run": 2, "tests": {"t.a": ["pass"], "t.b": ["fail:AssertionError"]}}
    assert tool.compare(a, a) == []
    assert tool.compare(a, b) == ["t.b: ['pass'] != ['fail:AssertionError']"]


@pytest.mark.subprocess
def test_quick_subset_agrees() -> None:
    tool = load_tool("cpython_diff")
    out = _run("--jobs", "2", "--timeout", "120", *tool.QUICK_MODULES)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.subprocess
@pytest.mark.skipif(
    importlib.util.find_spec("test") is None
    or importlib.util.find_spec("test.test_colorsys") is None,
    reason="no Lib/test here",
)
def test_plugin_mode_agrees_cold_and_warm() -> None:
    """Through the plugin: plain, cold-cache and warm-cache pytest runs agree, the
    measured runs counted colorsys's instructions, and the warm run used the cache."""
    out = _run("--plugin", "--timeout", "120", "test_colorsys")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ok   test_colorsys (" in out.stdout
    assert "1 cached" in out.stdout  # colorsys went through the import hook and its cache
    assert re.search(r"instructions counted: colorsys [1-9]", out.stdout), out.stdout
    assert "1 passed, 0 failed" in out.stdout


def _report(tmp_path: Path, covered: int, partial: bool) -> str:
    spec = importlib.util.find_spec("colorsys")
    assert spec is not None and spec.origin is not None
    summary = {"instructions": 10, "covered_instructions": covered}
    files = {spec.origin: {"summary": summary, "partial": partial}}
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"files": files}))
    return str(path)


def test_plugin_mode_notices_an_unmeasured_run(tmp_path: Path) -> None:
    """Self-check: a measured run that counted nothing, or that measured a module
    only partly without the plugin's early-import warning, is a problem."""
    tool = load_tool("cpython_diff")
    early = {"output": "... module-level code not measured (functions are): colorsys\n"}
    report = _report(tmp_path, 0, False)
    problems, covered, _ = tool.check_measured({"output": ""}, report, ["colorsys"])
    assert covered == {"colorsys": 0}
    assert problems == ["<measured>: colorsys: no instruction counted (not measured)"]
    problems, _, partial = tool.check_measured(
        {"output": ""}, _report(tmp_path, 5, True), ["colorsys"]
    )
    assert partial == {"colorsys"} and len(problems) == 1 and "warning" in problems[0]
    problems, _, partial = tool.check_measured(early, _report(tmp_path, 5, True), ["colorsys"])
    assert (problems, partial) == ([], {"colorsys"})
    problems, _, _ = tool.check_measured({"output": ""}, str(tmp_path / "none.json"), ["colorsys"])
    assert problems and "no usable JSON report" in problems[0]


DIFF = load_tool("cpython_diff")  # loaded once for the in-process doctest tests
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
