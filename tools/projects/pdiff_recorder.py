"""pytest plugin of tools/projects_diff.py: records what a run did, as JSON.

tools/projects_diff.py copies this file into each project's venv and loads
it with ``-p pdiff_recorder``; it is not part of pytest-bytecode.  With
``PDIFF_OUT`` set, the controlling process (never an xdist worker) writes to
that path at the end of the session:

* ``tests``: nodeid -> the outcome of each of the test's reports, in the
  order they came (``setup:error``, ``call:passed``, ``call:xfailed``,
  ``teardown:error``, ... and ``subtest[msg](names):passed`` for each of
  pytest's subtests, by message and argument names);
  phases that merely passed (setup, teardown) are left out;
* ``collect_errors``: nodeids whose collection failed;
* ``warnings``: every recorded warning as [category, message, filename,
  lineno, nodeid, when];
* ``exitstatus``.

With ``PDIFF_LATE_PLUGINS`` set (comma-separated module names), those
plugins are imported and registered in ``pytest_configure``, after
pytest-bytecode's import hook is installed, in place of a project's own
``-p`` that would import its package before the hook (trio, anyio).

With ``PDIFF_HYPOTHESIS`` set, Hypothesis is made deterministic and blind to
timing for every way alike (``derandomize``, no deadline, no example
database, ``max_examples`` from the variable), on top of whatever profile the
project's conftest loaded.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")


def _norm(text: object) -> str:
    return _ADDRESS.sub("0x?", str(text))


_tests: dict[str, list[str]] = {}
_collect_errors: set[str] = set()
_warnings: list[list[Any]] = []


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    for name in filter(None, os.environ.get("PDIFF_LATE_PLUGINS", "").split(",")):
        import importlib

        if config.pluginmanager.get_plugin(name) is None:
            config.pluginmanager.register(importlib.import_module(name), name)
    examples = os.environ.get("PDIFF_HYPOTHESIS")
    if not examples:
        return
    from hypothesis import settings

    settings.register_profile(
        "pdiff",
        parent=settings.default,
        derandomize=True,
        deadline=None,
        database=None,
        max_examples=int(examples),
    )
    settings.load_profile("pdiff")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    when: str = report.when
    context = getattr(report, "context", None)
    if context is not None and hasattr(context, "kwargs"):
        # By message and argument names only: under xdist the values arrive
        # repr'd twice (SubtestContext applies saferepr again when rebuilt).
        when = _norm(f"subtest[{context.msg}]({', '.join(sorted(context.kwargs))})")
    if hasattr(report, "wasxfail"):
        outcome = "xpassed" if report.passed else "xfailed"
    elif report.failed and report.when != "call" and context is None:
        outcome = "error"
    else:
        outcome = report.outcome
    if report.when in ("setup", "teardown") and outcome == "passed" and context is None:
        return
    _tests.setdefault(report.nodeid, []).append(f"{when}:{outcome}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collect_errors.add(report.nodeid)


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    _warnings.append(
        [
            warning_message.category.__name__,
            _norm(warning_message.message),
            str(warning_message.filename),
            warning_message.lineno,
            nodeid,
            when,
        ]
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("PDIFF_OUT")
    if not out or hasattr(session.config, "workerinput"):
        return
    doc = {
        "exitstatus": int(exitstatus),
        "tests": _tests,
        "collect_errors": sorted(_collect_errors),
        "warnings": _warnings,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=0, sort_keys=True)
