"""The coverage options: registration, ini mirrors, and validation into :class:`Settings`.

Every ``--bytecode-cov*`` option has an ini key of the same name with
underscores (``bytecode_cov_fail_under``); a value given on the command line
wins over the ini file.  Validation happens once, before any test module is
imported, and every problem is a one-line :class:`pytest.UsageError` naming
the value and the rule.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecode.report import ReportSpec, ReportSpecError, parse_specs
from pytest_bytecode.results import ResultError, parse_fail_under

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
        "repeatable; without a value: the project's own packages). Use the = form.",
    )
    group.addoption(
        "--bytecode-cov-report",
        action="append",
        default=None,
        dest="bytecode_cov_report",
        metavar="TYPE[:DEST]",
        help="report type: term (default), term-missing, json[:PATH]; repeatable; "
        "an empty value prints no report",
    )
    group.addoption(
        "--bytecode-cov-fail-under",
        default=None,
        dest="bytecode_cov_fail_under",
        metavar="MIN",
        help="fail the run if total instruction coverage is below MIN (0-100)",
    )
    group.addoption(
        "--bytecode-cov-baseline",
        default=None,
        dest="bytecode_cov_baseline",
        metavar="PATH",
        help="fail the run if the total, a file or a function covers fewer "
        "instructions than recorded in the baseline at PATH",
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
        help="data file to write (default: .bytecode-cov)",
    )
    group.addoption(
        "--bytecode-cov-append",
        action="store_const",
        const=True,
        default=None,
        dest="bytecode_cov_append",
        help="add this run's counts to the existing data file",
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
    parser.addini("bytecode_cov_baseline", "baseline file to check against")
    parser.addini("bytecode_cov_baseline_update", "write the baseline", "bool", default=False)
    parser.addini("bytecode_cov_data", "data file path (default .bytecode-cov)")
    parser.addini("bytecode_cov_append", "add to the existing data file", "bool", default=False)


@dataclass(frozen=True)
class Settings:
    """Validated coverage settings of one run."""

    enabled: bool = False
    sources: tuple[str | bool, ...] = ()
    reports: tuple[ReportSpec, ...] = ()
    fail_under: float | None = None
    baseline: Path | None = None
    baseline_update: bool = False
    data_path: Path = field(default_factory=lambda: Path(".bytecode-cov"))
    append: bool = False


def from_config(config: pytest.Config, ns: argparse.Namespace) -> Settings:
    """Validated settings from the parsed command line ``ns`` and the ini file."""
    if getattr(ns, "no_bytecode_cov", False):
        return Settings()
    cli_sources: list[str | bool] | None = getattr(ns, "bytecode_cov", None)
    sources: list[str | bool]
    if cli_sources is not None:
        sources = list(cli_sources)
    else:
        sources = []
        for line in config.getini("bytecode_cov"):
            sources.append(True if line.strip().lower() in TRUE_WORDS else line)
    if not sources:
        return Settings()
    base = config.invocation_params.dir

    report_values: list[str] | None = getattr(ns, "bytecode_cov_report", None)
    if report_values is None:
        # An empty ini value means "no report"; unset gives the default ["term"].
        report_values = list(config.getini("bytecode_cov_report")) or [""]
    try:
        reports = parse_specs(report_values)
    except ReportSpecError as exc:
        raise pytest.UsageError(str(exc)) from None

    fail_raw = getattr(ns, "bytecode_cov_fail_under", None)
    if fail_raw is None:
        fail_raw = str(config.getini("bytecode_cov_fail_under") or "").strip() or None
    try:
        fail_under = parse_fail_under(str(fail_raw)) if fail_raw not in (None, "") else None
    except ResultError as exc:
        raise pytest.UsageError(str(exc)) from None

    def path_value(name: str) -> Path | None:
        value = getattr(ns, name, None)
        if value is None:
            value = str(config.getini(name) or "").strip() or None
        return base / value if value else None

    def flag(name: str) -> bool:
        value = getattr(ns, name, None)
        return bool(value) if value is not None else bool(config.getini(name))

    baseline = path_value("bytecode_cov_baseline")
    baseline_update = flag("bytecode_cov_baseline_update")
    if baseline_update and baseline is None:
        raise pytest.UsageError(
            "--bytecode-cov-baseline-update: needs --bytecode-cov-baseline=PATH to write to"
        )
    return Settings(
        enabled=True,
        sources=tuple(sources),
        reports=tuple(reports),
        fail_under=fail_under,
        baseline=baseline,
        baseline_update=baseline_update,
        data_path=path_value("bytecode_cov_data") or base / ".bytecode-cov",
        append=flag("bytecode_cov_append"),
    )
