"""coverage.py's ``[report]`` settings, as they apply to pytest-bytecode's reports.

A coverage.py user keeps report settings in ``.coveragerc``, ``setup.cfg``,
``tox.ini`` or ``pyproject.toml``; pytest-bytecode reads them from the same
file (:func:`~pytest_bytecode.sources.read_coverage_config`) and validates
them here, once, into a :class:`ReportConfig`:

* ``skip_covered``, ``skip_empty``, ``sort``, ``show_missing``: the terminal
  table, whose rows :func:`table` selects and orders (the reporter renders);
* ``precision``: the decimals of every percentage printed in the terminal
  (the table and the fail-under lines);
* ``include``, ``omit``: which files every report and verdict sees
  (:meth:`ReportConfig.keeper`, applied with
  :func:`~pytest_bytecode.results.select`); the data file keeps them all.

A value coverage.py would refuse (``sort = Nope``, ``precision = -1``) is a
:class:`ReportConfigError`: a one-line message naming the setting, its file
and the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from coverage.config import CoverageConfig

from pytest_bytecode.engine.records import record
from pytest_bytecode.results import DEFAULT_PRECISION, FileResult, Results, Summary
from pytest_bytecode.sources import CoverageSettings, config_file_name, report_filter

#: The terminal table's columns, in order.
COLUMNS = ("Name", "Instr", "Miss", "Branch", "BrMiss", "Cover")

#: ``[report] sort`` names (lower case) -> our column: ours, and coverage.py's
#: for the columns that stand in for its own (statements, partial branches).
SORT_NAMES = {name.lower(): name for name in COLUMNS} | {"stmts": "Instr", "brpart": "BrMiss"}

#: More decimals than this only show a float's rounding noise.
MAX_PRECISION = 10


class ReportConfigError(ValueError):
    """A ``[report]`` setting that cannot apply (one-line message)."""


@record(frozen=True)
class ReportConfig:
    """coverage.py's ``[report]`` settings, validated."""

    skip_covered: bool = False
    skip_empty: bool = False
    show_missing: bool = False
    precision: int = DEFAULT_PRECISION
    #: The column rows are sorted by (one of :data:`COLUMNS`).
    sort: str = "Name"
    reverse: bool = False
    include: tuple[str, ...] = ()
    omit: tuple[str, ...] = ()
    #: Where relative ``include``/``omit`` patterns start: where they were read.
    base: Path = Path()

    def keeper(self) -> Callable[[str], bool] | None:
        """Whether a file (by report name) is reported, under ``include`` and
        ``omit``; None when neither is set."""
        return report_filter(self.include, self.omit, self.base)


def parse_sort(value: str, where: str) -> tuple[str, bool]:
    """A ``[report] sort`` value as (column, reverse), case-insensitive like
    coverage.py's: a leading ``-`` sorts in reverse (``+`` is allowed)."""
    name = value.strip().lower()
    reverse = name.startswith("-")
    column = SORT_NAMES.get(name[1:] if name[:1] in "+-" else name)
    if column is None:
        raise ReportConfigError(
            f"{where}: unknown column {value.strip()!r} (known: {', '.join(COLUMNS)}, or "
            "coverage.py's Stmts for Instr and BrPart for BrMiss; a leading - sorts in reverse)"
        )
    return column, reverse


def parse_precision(value: int, where: str) -> int:
    """A ``[report] precision``: a whole number of decimals, 0 to :data:`MAX_PRECISION`."""
    if not 0 <= value <= MAX_PRECISION:
        raise ReportConfigError(f"{where}: must be a whole number from 0 to {MAX_PRECISION}")
    return value


def from_coverage_config(config: CoverageConfig, base: Path) -> ReportConfig:
    """The ``[report]`` settings of ``config``, read from ``base`` (the rootdir
    of a pytest run, the current directory of ``pytest-bytecode report``).

    ``precision`` keeps pytest-bytecode's 2 decimals unless a file sets it
    (:class:`~pytest_bytecode.sources.CoverageSettings`; coverage.py's default
    is 0).
    """
    name = config_file_name(config, base)
    precision = DEFAULT_PRECISION
    if not isinstance(config, CoverageSettings) or config.precision_given:
        precision = parse_precision(
            config.precision, f"[report] precision = {config.precision} ({name})"
        )
    column, reverse = "Name", False
    if config.sort:
        column, reverse = parse_sort(config.sort, f"[report] sort = {config.sort} ({name})")
    return ReportConfig(
        skip_covered=bool(config.skip_covered),
        skip_empty=bool(config.skip_empty),
        show_missing=bool(config.show_missing),
        precision=precision,
        sort=column,
        reverse=reverse,
        include=tuple(config.report_include or ()),
        omit=tuple(config.report_omit or ()),
        base=base,
    )


@record(frozen=True)
class Table:
    """The rows of the terminal table: the files shown, in order, and how many
    were left out for complete coverage and for having no instructions.  The
    total stays that of every file, as in coverage.py's report."""

    files: tuple[FileResult, ...]
    total: Summary
    skipped_covered: int = 0
    skipped_empty: int = 0

    def end_lines(self) -> list[str]:
        """coverage.py's lines under the table for the files left out."""
        lines = []
        if self.skipped_covered:
            files = _plural(self.skipped_covered, "file")
            lines.append(f"{files} skipped due to complete coverage.")
        if self.skipped_empty:
            lines.append(f"{_plural(self.skipped_empty, 'empty file')} skipped.")
        return lines


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sort_key(column: str) -> Callable[[FileResult], tuple[float, str]]:
    def key(fres: FileResult) -> tuple[float, str]:
        s = fres.summary
        value: float = {
            "Name": 0,
            "Instr": s.instructions,
            "Miss": s.instructions - s.covered_instructions,
            "Branch": s.branches,
            "BrMiss": s.branches - s.covered_branches,
            "Cover": s.percent_covered,
        }[column]
        return value, fres.path

    return key


def table(results: Results, config: ReportConfig, *, skip_covered: bool = False) -> Table:
    """The terminal table's rows under ``config`` (``skip_covered`` also when
    the report asked for it, ``term:skip-covered``).

    As in coverage.py, a file with nothing left to cover counts as complete
    before it counts as empty, and ties in the sort column go by name.
    """
    skip_covered = skip_covered or config.skip_covered
    shown: list[FileResult] = []
    covered = empty = 0
    for fres in results.files.values():
        if skip_covered and fres.summary.complete:
            covered += 1
        elif config.skip_empty and not fres.summary.instructions:
            empty += 1
        else:
            shown.append(fres)
    shown.sort(key=_sort_key(config.sort), reverse=config.reverse)
    return Table(tuple(shown), results.totals, covered, empty)
