"""The coverage options and their ini keys: what pytest is told, nothing more.

Every pytest run of a project that has the plugin installed registers these,
so this module imports only pytest.  Validation into
:class:`~pytest_bytecode.settings.Settings` lives in
:mod:`pytest_bytecode.settings`, loaded when :func:`requested` says that a
run asks for coverage.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

#: ini values that mean "on" for the boolean keys and for ``bytecode_cov``
#: (where they stand for the option given without a SOURCE).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def add_options(group: Any, parser: pytest.Parser) -> None:
    """Register the coverage options in ``group`` and their ini keys."""
    group.addoption(
        "--bytecode-cov",
        action="append",
        nargs="?",
        const=True,
        default=None,
        dest="bytecode_cov",
        metavar="SOURCE",
        help="measure bytecode coverage of SOURCE (directory, .py file or dotted name; "
        "repeatable; without a value: coverage.py's [run] source, else the project's own "
        "packages). The word after "
        "--bytecode-cov is taken as its SOURCE: write --bytecode-cov=SOURCE, or put a "
        "bare --bytecode-cov after the test paths.",
    )
    group.addoption(
        "--bytecode-cov-report",
        action="append",
        default=None,
        dest="bytecode_cov_report",
        metavar="TYPE[:DEST]",
        help="report type: term (default), term-missing (either with :skip-covered to leave "
        "out files with complete coverage), json[:PATH], lcov[:PATH], "
        "xml[:PATH] (Cobertura), coverage[:PATH] (coverage.py data file; default .coverage), "
        "html[:DIR] (default bytecode-htmlcov); PATH - prints json, lcov or xml; repeatable; "
        "an empty value prints no report",
    )
    group.addoption(
        "--bytecode-cov-fail-under",
        default=None,
        dest="bytecode_cov_fail_under",
        metavar="MIN",
        help="fail the run if total instruction coverage is below MIN (0-100), or if "
        "no instruction was measured",
    )
    group.addoption(
        "--bytecode-cov-filters",
        default=None,
        dest="bytecode_cov_filters",
        metavar="FILTERS",
        help="leave compiler-made instructions out of the figures: default (all filters), "
        "none, a comma-separated list of filters, or -NAME,... to switch some off "
        "(duplicates, with-exit, throw-cleanup, implicit-await, exception-cleanup, helpers, "
        "annotations, no-line, unreachable)",
    )
    group.addoption(
        "--bytecode-cov-fail-under-branches",
        default=None,
        dest="bytecode_cov_fail_under_branches",
        metavar="MIN",
        help="fail the run if the percentage of branch outcomes taken is below MIN (0-100), "
        "or if no instruction was measured (no conditional jumps: 100)",
    )
    group.addoption(
        "--bytecode-cov-baseline",
        default=None,
        dest="bytecode_cov_baseline",
        metavar="PATH",
        help="fail the run if a function (present in both) covers fewer instructions "
        "than recorded in the baseline at PATH; removed and new functions are listed",
    )
    group.addoption(
        "--bytecode-cov-baseline-update",
        action="store_const",
        const=True,
        default=None,
        dest="bytecode_cov_baseline_update",
        help="write the baseline file instead of checking against it",
    )
    group.addoption(
        "--bytecode-cov-data",
        default=None,
        dest="bytecode_cov_data",
        metavar="PATH",
        help="data file to write (default: .bytecode-cov; - writes it to standard output)",
    )
    group.addoption(
        "--bytecode-cov-append",
        action="store_const",
        const=True,
        default=None,
        dest="bytecode_cov_append",
        help="add this run's counts to the existing data file (locked while it is "
        "updated; refused, leaving the file as it was, if its sources differ)",
    )
    group.addoption(
        "--bytecode-cov-subprocess",
        action="store_const",
        const=True,
        default=None,
        dest="bytecode_cov_subprocess",
        help="also measure child Python processes (subprocess, multiprocessing, os.fork, "
        "pytest --forked) and add their counts to the run's",
    )
    group.addoption(
        "--bytecode-cov-context",
        default=None,
        dest="bytecode_cov_context",
        metavar="CONTEXT",
        help="record contexts: test (for each instruction and branch outcome, the test "
        "phases that ran it: NODEID|setup, |call, |teardown) or none (the default)",
    )
    group.addoption(
        "--bytecode-cov-affected",
        action="store_const",
        const=True,
        default=None,
        dest="bytecode_cov_affected",
        help="run only the tests that ran code changed since the data file was written "
        "(compared by bytecode), new tests and tests that failed last time; records "
        "contexts (implies --bytecode-cov-context=test)",
    )
    group.addoption(
        "--no-bytecode-cov",
        action="store_true",
        default=False,
        dest="no_bytecode_cov",
        help="disable bytecode coverage (overrides the ini file and --bytecode-cov)",
    )
    parser.addini("bytecode_cov", "SOURCEs to measure, one a line ('true': default)", "linelist")
    parser.addini("bytecode_cov_report", "report types, one a line", "linelist", default=["term"])
    parser.addini("bytecode_cov_fail_under", "minimum total instruction coverage")
    parser.addini("bytecode_cov_filters", "filters for compiler-made instructions (default)")
    parser.addini("bytecode_cov_fail_under_branches", "minimum total branch coverage")
    parser.addini("bytecode_cov_baseline", "baseline file to check against")
    parser.addini("bytecode_cov_baseline_update", "write the baseline", "bool", default=False)
    parser.addini("bytecode_cov_data", "data file path (default .bytecode-cov)")
    parser.addini("bytecode_cov_append", "add to the existing data file", "bool", default=False)
    parser.addini(
        "bytecode_cov_subprocess", "also measure child Python processes", "bool", default=False
    )
    parser.addini("bytecode_cov_context", "record contexts: test or none (default)")
    parser.addini(
        "bytecode_cov_affected", "run only the tests a change can affect", "bool", default=False
    )


def requested(config: pytest.Config, ns: argparse.Namespace) -> bool:
    """Whether the command line or the ini file asks for coverage: what
    :func:`~pytest_bytecode.settings.from_config` then validates (an ini
    value pytest cannot read counts as asked for, so that it is reported)."""
    if getattr(ns, "no_bytecode_cov", False):
        return False
    if getattr(ns, "bytecode_cov", None) is not None:
        return True
    try:
        return bool(config.getini("bytecode_cov"))
    except (ValueError, pytest.UsageError):
        return True
