"""Report formats: one module per format, each rendering :class:`~pytest_bytecode.results.Results`.

:func:`parse_spec` turns a ``--bytecode-cov-report`` value into a
:class:`ReportSpec`; :func:`write_reports` renders every requested report.
Reporters compute nothing: verdicts and figures come from ``results``, the
terminal table's rows from :mod:`pytest_bytecode.reportconfig`; the
line-based formats (``lcov``, ``xml``, ``coverage``) share one per-line view
of the counts, :mod:`pytest_bytecode.report.lines`.  Their modules (and the
``html`` report's, :mod:`pytest_bytecode.report.html`) are imported only when
such a report is asked for; so are the ``term`` and ``json`` reports' (a
run with no report, or with only the terminal one, imports nothing else).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_bytecode.engine.records import record
from pytest_bytecode.files import is_stdout, write_atomic
from pytest_bytecode.reportconfig import ReportConfig, table
from pytest_bytecode.results import Results

#: Report types, and the default destination of those that write a file.
REPORT_TYPES: dict[str, str | None] = {
    "term": None,
    "term-missing": None,
    "json": "bytecode-cov.json",
    "lcov": "bytecode-cov.lcov",
    "xml": "bytecode-cov.xml",
    "coverage": ".coverage",
    "html": "bytecode-htmlcov",
}

#: The report types printed in the terminal, and the modifiers they take
#: (pytest-cov's ``term-missing:skip-covered``) in place of a destination.
TERMINAL_TYPES = ("term", "term-missing")
TERMINAL_MODIFIERS = ("skip-covered",)

#: File report types whose destination cannot be standard output, and what
#: they write instead.
FILE_ONLY_TYPES = {"coverage": "a database file", "html": "a folder of pages"}


#: How :func:`parse_spec` names a value in its errors by default: the
#: command-line option.  Callers that read the value elsewhere say so instead
#: (``bytecode_cov_report = `` for the ini key, ``--type=`` for the command).
REPORT_OPTION = "--bytecode-cov-report="


class ReportSpecError(ValueError):
    """A report value naming no known report type, or a destination for a type
    that takes none; the message starts with where the value was given."""


@record(frozen=True)
class ReportSpec:
    """One requested report: its type and, for file reports, where it goes."""

    kind: str
    dest: str | None = None
    #: ``term:skip-covered``: files with complete coverage left out of the table.
    skip_covered: bool = False

    @property
    def terminal(self) -> bool:
        """Printed in the terminal (``term``, ``term-missing``)."""
        return self.kind in TERMINAL_TYPES


def parse_spec(value: str, where: str = REPORT_OPTION) -> ReportSpec | None:
    """``TYPE[:DEST]`` (``term[-missing][:skip-covered]``) as a
    :class:`ReportSpec`; the empty value means no report.

    ``where`` names the option or ini key the value came from, as the
    :class:`ReportSpecError` message starts: ``{where}{value}: ...``.
    """
    value = value.strip()
    if not value:
        return None
    kind, sep, dest = value.partition(":")
    if kind not in REPORT_TYPES:
        known = ", ".join(REPORT_TYPES)
        raise ReportSpecError(f"{where}{value}: unknown report type {kind!r} (known: {known})")
    default = REPORT_TYPES[kind]
    if sep and default is None:
        if dest in TERMINAL_MODIFIERS:
            return ReportSpec(kind, skip_covered=True)
        raise ReportSpecError(
            f"{where}{value}: report type {kind!r} takes no destination, only the modifier "
            f"{', '.join(TERMINAL_MODIFIERS)}"
        )
    if kind in FILE_ONLY_TYPES and is_stdout(dest):
        raise ReportSpecError(
            f"{where}{value}: report type {kind!r} writes {FILE_ONLY_TYPES[kind]}, it cannot go to "
            "standard output"
        )
    return ReportSpec(kind, (dest or default) if default is not None else None)


def parse_specs(values: Sequence[str], where: str = REPORT_OPTION) -> list[ReportSpec]:
    """Every non-empty value parsed, duplicates dropped, order kept; ``where``
    as for :func:`parse_spec`."""
    out: list[ReportSpec] = []
    for value in values:
        spec = parse_spec(value, where)
        if spec is not None and spec not in out:
            out.append(spec)
    return out


def write_reports(
    specs: Sequence[ReportSpec],
    results: Results,
    write_line: Callable[[str], None],
    base_dir: Path,
    *,
    root: Path | None = None,
    config: ReportConfig | None = None,
    opnames: bool = False,
) -> list[Path]:
    """Render every report in ``specs``; returns the files written.

    ``config`` holds coverage.py's ``[report]`` settings for the terminal
    table (``show_missing`` makes ``term`` a ``term-missing``); files that
    its ``include``/``omit`` leave out must already be out of ``results``.
    Destinations are taken from ``base_dir``.  ``root`` is the directory the
    results' relative file paths start from (pytest's rootdir; default
    ``base_dir``): the ``xml`` report names it as its source, the
    ``coverage`` data file needs absolute names, the ``html`` report reads the
    sources from there.  For ``html`` the path returned is the folder's
    ``index.html``.  ``opnames`` adds the missed opnames to ``term-missing``
    (pytest's ``-v``).  A destination of ``-`` is
    standard output: the report's lines go to ``write_line`` like the terminal
    report's.  A file that cannot be written raises
    :class:`~pytest_bytecode.files.WriteError` naming it.
    """
    root = base_dir if root is None else root
    config = ReportConfig() if config is None else config
    written = []
    for spec in specs:
        if spec.terminal:
            from pytest_bytecode.report import term

            rows = table(results, config, skip_covered=spec.skip_covered)
            missing = spec.kind == "term-missing" or config.show_missing
            lines = term.render(
                results,
                rows,
                missing=missing,
                precision=config.precision,
                root=root,
                opnames=opnames,
            )
            for line in lines:
                write_line(line)
            continue
        assert spec.dest is not None
        if spec.kind == "coverage":
            from pytest_bytecode.report import coverage_data

            path = report_path(spec, base_dir)
            coverage_data.write(results, path, root)
            written.append(path)
            continue
        if spec.kind == "html":
            from pytest_bytecode.report import html

            written.append(html.write(results, report_path(spec, base_dir), root))
            continue
        if spec.kind == "json":
            from pytest_bytecode.report import json_report

            text = json_report.text(results, root)
        elif spec.kind == "lcov":
            from pytest_bytecode.report import lcov

            text = lcov.text(results)
        else:
            from pytest_bytecode.report import cobertura

            text = cobertura.text(results, root)
        if is_stdout(spec.dest):
            for line in text.splitlines():
                write_line(line)
            continue
        path = report_path(spec, base_dir)
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return written


def report_path(spec: ReportSpec, base_dir: Path) -> Path:
    """Where a file report goes: its destination (``~`` expanded) from ``base_dir``."""
    assert spec.dest is not None
    return base_dir / Path(spec.dest).expanduser()
