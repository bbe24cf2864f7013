"""What the test modules share: the ``subprocess`` marker.

``@pytest.mark.subprocess`` marks a test that starts processes (a fresh
interpreter, pytester's ``runpytest_subprocess``, pytest-xdist workers).  It
is skipped, saying why, where processes cannot be started (Pyodide), and
``-m "not subprocess"`` leaves such tests out of a quick local run.

Helpers that tests import (a sample project, count builders) live in
``tests/bc_helpers.py``.
"""

from __future__ import annotations

import pytest

from pytest_bytecode import versions


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
