"""The ``pytest-bytecode`` command line (also ``python -m pytest_bytecode``).

Each subcommand is a thin wrapper: it parses arguments, calls the module that
does the work, and turns expected failures into a one-line message on stderr
and a non-zero exit status instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_bytecode import __version__


class CliError(Exception):
    """An expected failure: bad input named in a one-line message."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="pytest-bytecode",
        description="Bytecode-level coverage for pytest: work with its data files.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-bytecode {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:  # pragma: no cover - subcommands are added by later modules
        raise CliError(f"unknown command {args.command!r}")
    except CliError as exc:
        print(f"pytest-bytecode: error: {exc}", file=sys.stderr)
        return 2
