"""The ``pytest-bytecode`` command line (also ``python -m pytest_bytecode``).

Each subcommand is a thin wrapper: it parses arguments, calls the module that
does the work, and turns expected failures into a one-line message on stderr
and a non-zero exit status instead of a traceback.

* ``report``: any report type from a data file, with an optional fail-under
  verdict (exit status 1 when it fails, as in a test run).
* ``combine``: add up data files from several runs or machines; files from
  different Python versions or with different source contents are refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_bytecode import __version__
from pytest_bytecode import data as datafile
from pytest_bytecode import results as verdicts
from pytest_bytecode.report import ReportSpecError, parse_specs, write_reports


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
        "--data", default=".bytecode-cov", metavar="PATH", help="data file (default .bytecode-cov)"
    )
    report.add_argument(
        "--type",
        dest="types",
        action="append",
        default=None,
        metavar="TYPE[:DEST]",
        help="term (default), term-missing, json[:PATH]; repeatable",
    )
    report.add_argument(
        "--fail-under", default=None, metavar="MIN", help="exit 1 if total coverage < MIN"
    )

    combine = sub.add_parser("combine", help="add up data files from several runs")
    combine.add_argument("inputs", nargs="+", metavar="DATAFILE", help="data files to combine")
    combine.add_argument(
        "-o",
        "--output",
        default=".bytecode-cov",
        metavar="PATH",
        help="combined data file to write (default .bytecode-cov)",
    )
    combine.add_argument(
        "--append", action="store_true", help="also add the counts already in --output"
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    try:
        specs = parse_specs(args.types if args.types is not None else ["term"])
    except ReportSpecError as exc:
        raise CliError(str(exc).replace("--bytecode-cov-report", "--type")) from None
    minimum = None
    if args.fail_under is not None:
        try:
            minimum = verdicts.parse_fail_under(args.fail_under)
        except verdicts.ResultError as exc:
            raise CliError(str(exc).replace("--bytecode-cov-fail-under", "--fail-under")) from None
    try:
        data = datafile.load(Path(args.data))
    except datafile.DataError as exc:
        raise CliError(str(exc)) from None
    results = verdicts.compute(data)
    for path in write_reports(specs, results, print, Path.cwd()):
        print(f"bytecode coverage report written to {path}")
    if minimum is not None:
        verdict = verdicts.fail_under_verdict(results, minimum)
        if verdict:
            print(verdict)
            return 1
    return 0


def _combine(args: argparse.Namespace) -> int:
    output = Path(args.output)
    inputs = [Path(p) for p in args.inputs]
    if args.append and output.exists():
        inputs.insert(0, output)
    try:
        combined = datafile.combine((str(p), datafile.load(p)) for p in inputs)
        datafile.save(combined, output)
    except datafile.DataError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{output}: cannot write data file ({exc.strerror or exc})") from None
    print(f"combined {len(inputs)} data files into {output}")
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
        raise CliError(f"unknown command {args.command!r}")  # pragma: no cover
    except CliError as exc:
        print(f"pytest-bytecode: error: {exc}", file=sys.stderr)
        return 2
