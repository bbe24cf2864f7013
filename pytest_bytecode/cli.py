"""The ``pytest-bytecode`` command line (also ``python -m pytest_bytecode``).

Each subcommand is a thin wrapper: it parses arguments, calls the module that
does the work, and turns expected failures into a one-line message on stderr
and a non-zero exit status instead of a traceback.

* ``report``: any report type from a data file, with optional fail-under
  verdicts on instructions and on branch outcomes (exit status 1 when one
  fails, as in a test run).  coverage.py's ``[report]`` settings are read, as
  ``coverage report`` reads them, from the current directory (or
  ``$COVERAGE_RCFILE``): the data file's names are relative to the rootdir
  of the run, which is where the command is meant to run.  A measured source
  file that changed on disk since (its SHA-256 differs) is named on stderr,
  one line each (``source-changed``; ``source-missing`` for one not found),
  because the report's line numbers are those of the measured source.
* ``combine``: add up data files from several runs or machines; files from
  different Python versions, with different source contents, or with code
  compiled to other instructions are refused, each named.

``-`` is standard input for a data file read (``--data -``, a ``combine``
input) and standard output for a file written (``--type json:-``,
``combine -o -``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_bytecode import __version__, contexts, data, filters, reportconfig, results
from pytest_bytecode.files import STDOUT, is_stdout
from pytest_bytecode.report import ReportSpecError, parse_specs, report_path, write_reports
from pytest_bytecode.sources import CoverageConfigError, read_coverage_config


class CliError(Exception):
    """An expected failure: bad input named in a one-line message."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="pytest-bytecode",
        description="Bytecode-level coverage for pytest: work with its data files.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-bytecode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser("report", help="print or write reports from a data file")
    report.add_argument(
        "--data",
        default=".bytecode-cov",
        metavar="PATH",
        help="data file (default .bytecode-cov; - reads standard input)",
    )
    report.add_argument(
        "--type",
        dest="types",
        action="append",
        default=None,
        metavar="TYPE[:DEST]",
        help="term (default), term-missing (either with :skip-covered), json[:PATH], "
        "lcov[:PATH], xml[:PATH] (Cobertura), "
        "coverage[:PATH] (coverage.py data), html[:DIR]; PATH - is standard output (not for "
        "coverage and html); "
        "repeatable",
    )
    report.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="term-missing: also list each partly run line's missed opnames",
    )
    report.add_argument(
        "--filters",
        default="default",
        metavar="FILTERS",
        help="filters for compiler-made instructions: default, none, NAME,... or -NAME,...",
    )
    report.add_argument(
        "--context",
        dest="contexts",
        action="append",
        default=None,
        metavar="PATTERN",
        help="report only what the contexts matching PATTERN ran (a regular expression "
        "searched for in NODEID|PHASE; repeatable); needs a data file with contexts",
    )
    report.add_argument(
        "--fail-under", default=None, metavar="MIN", help="exit 1 if total coverage < MIN"
    )
    report.add_argument(
        "--fail-under-branches",
        default=None,
        metavar="MIN",
        help="exit 1 if the percentage of branch outcomes taken < MIN",
    )

    contexts = sub.add_parser(
        "contexts", help="list the tests that ran a line (or the instructions at a column)"
    )
    contexts.add_argument(
        "where", metavar="FILE:LINE[:COL]", help="a measured file, a line, and a column (from 1)"
    )
    contexts.add_argument(
        "--data",
        default=".bytecode-cov",
        metavar="PATH",
        help="data file (default .bytecode-cov; - reads standard input)",
    )
    contexts.add_argument(
        "--instructions",
        action="store_true",
        help="list the contexts of each instruction and branch outcome, not only the line's",
    )

    combine = sub.add_parser("combine", help="add up data files from several runs")
    combine.add_argument(
        "inputs", nargs="+", metavar="DATAFILE", help="data files to combine (- reads stdin)"
    )
    combine.add_argument(
        "-o",
        "--output",
        default=".bytecode-cov",
        metavar="PATH",
        help="combined data file to write (default .bytecode-cov; - is standard output)",
    )
    combine.add_argument(
        "--append", action="store_true", help="also add the counts already in --output"
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    try:
        specs = parse_specs(args.types if args.types is not None else ["term"], "--type=")
    except ReportSpecError as exc:
        raise CliError(str(exc)) from None
    try:
        enabled = filters.parse(args.filters, "--filters=")
    except filters.FilterError as exc:
        raise CliError(str(exc)) from None
    minimum = _minimum(args.fail_under, "--fail-under=")
    branches_minimum = _minimum(args.fail_under_branches, "--fail-under-branches=")
    cwd = Path.cwd()
    try:
        config = reportconfig.from_coverage_config(read_coverage_config(cwd, _config_warning), cwd)
    except (CoverageConfigError, reportconfig.ReportConfigError) as exc:
        raise CliError(str(exc)) from None
    if not is_stdout(args.data):
        data_key = _same_file_key(cwd / args.data)
        for spec in specs:
            if (
                spec.dest is not None
                and not is_stdout(spec.dest)
                and _same_file_key(report_path(spec, cwd)) == data_key
            ):
                raise CliError(
                    f"--type={spec.kind}:{spec.dest} would replace the data file "
                    f"--data={args.data}; give the report another path"
                )
    try:
        counts = data.load(args.data)
    except data.DataError as exc:
        raise CliError(str(exc)) from None
    changes = data.source_changes(counts, cwd)
    for name, why in changes:
        if why == "changed":
            _warn(
                f"{results.escape(name)}: changed since it was measured, the report's "
                "line numbers may not match it (source-changed)"
            )
    missing = [results.escape(name) for name, why in changes if why == "missing"]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        _warn(f"{len(missing)} measured files not found from {cwd}: {shown} (source-missing)")
    if args.contexts is not None:
        counts = _only_contexts(counts, args.contexts, args.data)
    figures = results.compute(counts, enabled)
    if not figures.totals.instructions:
        _warn(results.no_data_message())
    keep = config.keeper()  # [report] include/omit
    if keep is not None:
        figures = results.select(figures, keep)
    try:
        for path in write_reports(specs, figures, print, cwd, config=config, opnames=args.verbose):
            print(f"bytecode coverage report written to {path}")
    except OSError as exc:
        raise CliError(str(exc)) from None
    status = 0
    for verdict in results.fail_under_verdicts(
        figures, minimum, branches_minimum, config.precision
    ):
        if verdict.failed:
            print(verdict.line)
            status = 1
    return status


def _only_contexts(counts: data.CovData, patterns: list[str], name: str) -> data.CovData:
    """``report --context``: the data as if only the matching contexts ran."""
    if counts.contexts is None:
        raise CliError(
            f"--context: {name} holds no contexts (record them with --bytecode-cov-context=test)"
        )
    try:
        keep = contexts.matcher(patterns)
    except ValueError as exc:
        raise CliError(f"--context={exc}") from None
    if not any(map(keep, counts.contexts.names)):
        shown = ", ".join(repr(p) for p in patterns)
        raise CliError(
            f"--context: no context of {name} matches {shown} "
            f"({len(counts.contexts.names)} contexts recorded)"
        )
    _warn("--context: counts are 1 where a matching context ran an instruction (contexts-counts)")
    return contexts.restrict(counts, keep)


def _minimum(value: str | None, where: str) -> float | None:
    """A ``--fail-under*`` value checked, or None when not given."""
    if value is None:
        return None
    try:
        return results.parse_fail_under(value, where)
    except results.ResultError as exc:
        raise CliError(str(exc)) from None


def _config_warning(message: str) -> None:
    """coverage.py's warning about its configuration (an unknown option)."""
    _warn(f"coverage.py's configuration: {message}")


def _warn(message: str) -> None:
    print(f"pytest-bytecode: warning: {message}", file=sys.stderr)


def _same_file_key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def _combine(args: argparse.Namespace) -> int:
    output = args.output
    inputs: list[str] = list(args.inputs)
    if inputs.count(STDOUT) > 1:
        raise CliError("standard input (-) can be read only once")
    if args.append and is_stdout(output):
        raise CliError("--append needs an --output file to add to, not standard output")
    try:
        combined = data.combine((p, data.load(p)) for p in inputs)
        if is_stdout(output):
            data.save(combined, STDOUT)
            return 0
        if args.append:
            data.append_to_file(combined, Path(output))
        else:
            data.save(combined, Path(output))
    except data.DataError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(str(exc)) from None
    count = len(inputs) + (1 if args.append else 0)
    print(f"combined {count} data files into {output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "report":
            return _report(args)
        if args.command == "combine":
            return _combine(args)
        if args.command == "contexts":
            from pytest_bytecode.report.contexts_query import query

            try:
                return query(args.where, args.data, args.instructions, print)
            except (ValueError, data.DataError) as exc:
                raise CliError(str(exc)) from None
        raise CliError(f"unknown command {args.command!r}")  # pragma: no cover
    except CliError as exc:
        print(f"pytest-bytecode: error: {exc}", file=sys.stderr)
        return 2
