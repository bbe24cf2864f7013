"""Report formats: one module per format, each rendering :class:`~pytest_bytecode.results.Results`.

:func:`parse_spec` turns a ``--bytecode-cov-report`` value into a
:class:`ReportSpec`; :func:`write_reports` renders every requested report.
Reporters compute nothing: verdicts and figures come from ``results``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_bytecode.files import is_stdout
from pytest_bytecode.report import json_report, term
from pytest_bytecode.results import Results

#: Report types, and the default destination of those that write a file.
REPORT_TYPES: dict[str, str | None] = {
    "term": None,
    "term-missing": None,
    "json": "bytecode-cov.json",
}


#: How :func:`parse_spec` names a value in its errors by default: the
#: command-line option.  Callers that read the value elsewhere say so instead
#: (``bytecode_cov_report = `` for the ini key, ``--type=`` for the command).
REPORT_OPTION = "--bytecode-cov-report="


class ReportSpecError(ValueError):
    """A report value naming no known report type, or a destination for a type
    that takes none; the message starts with where the value was given."""


@dataclass(frozen=True)
class ReportSpec:
    """One requested report: its type and, for file reports, where it goes."""

    kind: str
    dest: str | None = None


def parse_spec(value: str, where: str = REPORT_OPTION) -> ReportSpec | None:
    """``TYPE[:DEST]`` as a :class:`ReportSpec`; the empty value means no report.

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
        raise ReportSpecError(f"{where}{value}: report type {kind!r} takes no destination")
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
) -> list[Path]:
    """Render every report in ``specs``; returns the files written.

    A destination of ``-`` is standard output: the report's lines go to
    ``write_line`` like the terminal report's.  A file that cannot be written
    raises :class:`~pytest_bytecode.files.WriteError` naming it.
    """
    written = []
    for spec in specs:
        if spec.kind in ("term", "term-missing"):
            for line in term.render(results, missing=spec.kind == "term-missing"):
                write_line(line)
        elif spec.kind == "json":
            assert spec.dest is not None
            if is_stdout(spec.dest):
                for line in json_report.text(results).splitlines():
                    write_line(line)
                continue
            path = report_path(spec, base_dir)
            json_report.write(results, path)
            written.append(path)
    return written


def report_path(spec: ReportSpec, base_dir: Path) -> Path:
    """Where a file report goes: its destination (``~`` expanded) from ``base_dir``."""
    assert spec.dest is not None
    return base_dir / Path(spec.dest).expanduser()
