"""What the test modules share: the ``subprocess`` marker, and the rule on skips.

``@pytest.mark.subprocess`` marks a test that starts processes (a fresh
interpreter, pytester's ``runpytest_subprocess``, pytest-xdist workers).  It
is skipped, saying why, where processes cannot be started (Pyodide), and
``-m "not subprocess"`` leaves such tests out of a quick local run.

A test may skip only where it does not apply: another CPython version, or a
platform without what it needs (Pyodide, a file system without ``/proc``).
With ``PYTEST_BYTECODE_CI=1`` (set by ``.ci/run``) any other skip (a missing
tool, a missing dependency) fails the run, listed at the end.

Helpers that tests import (a sample project, count builders) live in
``tests/bc_helpers.py``.
"""

from __future__ import annotations

import os
import re

import pytest

from pytest_bytecode import versions

#: Skip reasons that say a test does not apply to this interpreter or
#: platform; in CI any other skip fails the run.
NOT_APPLICABLE = re.compile(
    r"3\.1[0-9]|Python 3|Pyodide|Lib/test here|/dev/full|FIFOs|/proc|\(Linux\)|\(POSIX\)"
    r"|cannot run a test on pytest (9|[1-9][0-9])\."
)

_UNEXPECTED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "subprocess: starts processes (skipped on Pyodide, which cannot)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not versions.IS_PYODIDE:
        return
    skip = pytest.mark.skip(reason="Pyodide cannot start subprocesses")
    for item in items:
        if item.get_closest_marker("subprocess") is not None:
            item.add_marker(skip)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if not NOT_APPLICABLE.search(reason):
            _UNEXPECTED.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _UNEXPECTED and os.environ.get("PYTEST_BYTECODE_CI") == "1":
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _UNEXPECTED and os.environ.get("PYTEST_BYTECODE_CI") == "1":
        terminalreporter.write_sep("=", "skipped, but required in CI", red=True)
        for line in _UNEXPECTED:
            terminalreporter.write_line(line)
