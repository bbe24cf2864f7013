"""From counts to numbers and verdicts: totals and fail-under.

Reporters only render what this module computes, over the counts as the
engine made them and the data file holds them
(:class:`~pytest_bytecode.engine.model.CodeCounts`; nothing is converted).
Instructions on lines that coverage.py's exclusion rules exclude are left out
of every figure, and so are conditional jumps on such lines.  ``branches``
counts branch outcomes (two per conditional jump), as coverage.py counts arcs.
The baseline check (its file, and the comparison against it) is in
:mod:`pytest_bytecode.baseline`.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace
from typing import Any

from pytest_bytecode.data import CovData, CrashedWorker
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.filters import DEFAULT as DEFAULT_FILTERS
from pytest_bytecode.filters import apply as apply_filters


class ResultError(ValueError):
    """A bad setting or file for a verdict (one-line message)."""


@dataclass(frozen=True)
class Summary:
    """Instruction and branch-outcome figures for a file, or for the total."""

    instructions: int = 0
    covered_instructions: int = 0
    branches: int = 0
    covered_branches: int = 0

    @property
    def percent_covered(self) -> float:
        """Covered instructions in percent (100 when there is nothing to cover)."""
        if not self.instructions:
            return 100.0
        return 100.0 * self.covered_instructions / self.instructions

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            self.instructions + other.instructions,
            self.covered_instructions + other.covered_instructions,
            self.branches + other.branches,
            self.covered_branches + other.covered_branches,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's summary object."""
        return {
            "instructions": self.instructions,
            "covered_instructions": self.covered_instructions,
            "branches": self.branches,
            "covered_branches": self.covered_branches,
            "percent_covered": self.percent_covered,
        }

    @classmethod
    def of(cls, code: CodeCounts) -> Summary:
        """One code object's figures."""
        return cls(
            len(code.instructions),
            code.covered,
            2 * len(code.branches),
            sum(1 for b in code.branches for o in b.outcomes if o.count),
        )


@dataclass(frozen=True)
class FileResult:
    """One file: its code objects (excluded lines left out, filters applied) and figures."""

    path: str
    code_objects: tuple[CodeCounts, ...]
    partial: bool
    summary: Summary
    #: SHA-256 of the source as it was measured ("" when not known).
    sha256: str = ""
    #: The lines coverage.py's exclusion rules exclude, in order.
    excluded_lines: tuple[int, ...] = ()
    #: ``(qualname, firstlineno)`` of the code objects that ran while a tracer
    #: was installed: their counts are not exact if it jumped (FileData.traced).
    traced: frozenset[tuple[str, int]] = frozenset()
    #: The code objects before filters (excluded lines left out): every
    #: instruction with its own count, as the JSON report lists them.
    raw_code_objects: tuple[CodeCounts, ...] = ()

    def is_traced(self, code: CodeCounts) -> bool:
        """Whether ``code`` ran while a tracer could move its frames."""
        return (code.qualname, code.firstlineno) in self.traced

    def missed_lines(self) -> dict[int, tuple[list[str], bool]]:
        """Line -> (missed opnames, whether every instruction of the line was missed)."""
        missed: dict[int, list[str]] = {}
        ran: set[int] = set()
        for code in self.code_objects:
            for ins in code.instructions:
                if ins.line is None:
                    continue
                if ins.count:
                    ran.add(ins.line)
                else:
                    missed.setdefault(ins.line, []).append(ins.opname)
        return {line: (ops, line not in ran) for line, ops in sorted(missed.items())}


@dataclass(frozen=True)
class Results:
    """Everything the reports show."""

    python: str
    python_version: str
    files: dict[str, FileResult]
    totals: Summary
    crashed_workers: tuple[CrashedWorker, ...] = ()
    #: The tests during which a tracer was installed (CovData.traced_during).
    traced_during: tuple[str, ...] = ()
    #: The filters the figures were computed with.
    filters: frozenset[str] = DEFAULT_FILTERS


def without_lines(code: CodeCounts, excluded: Set[int]) -> CodeCounts:
    """``code`` without the instructions and conditional jumps on ``excluded``
    lines; ``code`` itself when none is on such a line."""
    if not excluded:
        return code
    instructions = tuple(i for i in code.instructions if i.line not in excluded)
    branches = tuple(b for b in code.branches if b.line not in excluded)
    if len(instructions) == len(code.instructions) and len(branches) == len(code.branches):
        return code
    return replace(code, instructions=instructions, branches=branches)


def compute(data: CovData, filters: frozenset[str] | None = None) -> Results:
    """Apply exclusions and ``filters`` (:mod:`pytest_bytecode.filters`; None:
    the default ones), and add up the figures of ``data``."""
    if filters is None:
        filters = DEFAULT_FILTERS
    files: dict[str, FileResult] = {}
    total = Summary()
    for path, fdata in sorted(data.files.items()):
        excluded = set(fdata.excluded_lines)
        raw = tuple(without_lines(c, excluded) for c in fdata.code_objects)
        codes = tuple(apply_filters(c, filters) for c in raw)
        summary = sum(map(Summary.of, codes), Summary())
        files[path] = FileResult(
            path,
            codes,
            fdata.partial,
            summary,
            fdata.sha256,
            tuple(sorted(excluded)),
            frozenset(fdata.traced),
            raw,
        )
        total = total + summary
    return Results(
        data.python,
        data.python_version,
        files,
        total,
        tuple(data.crashed_workers),
        tuple(data.traced_during),
        filters,
    )


# --- fail-under ----------------------------------------------------------------


def parse_fail_under(value: str, where: str = "--bytecode-cov-fail-under=") -> float:
    """``--bytecode-cov-fail-under`` as a number from 0 to 100; ``where``
    names the option or ini key the value came from, as the
    :class:`ResultError` message starts (``bytecode_cov_fail_under = `` for
    the ini key, ``--fail-under=`` for the command)."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= 100.0:
        raise ResultError(f"{where}{value}: must be a number from 0 to 100")
    return number


#: Slug of the warning (and of the failing verdicts) for a run that measured
#: no instruction at all, named like coverage.py's.
NO_DATA = "no-data-collected"


def no_data_message() -> str:
    """The warning for a run that measured no instruction."""
    return (
        "bytecode coverage: no instructions were measured: no file under SOURCE was "
        f"found or run ({NO_DATA})"
    )


def format_percent(value: float, against: float | None = None) -> str:
    """Two decimals, or more when two decimals would hide a difference from ``against``."""
    for digits in (2, 4, 6, 10):
        text = f"{value:.{digits}f}"
        if against is None or (float(text) < against) == (value < against):
            return text
    return repr(value)


def escape(text: str) -> str:
    """``text`` with control characters (a file name holding ``\\x1b[31m`` or a
    newline) written as escapes, so that it cannot corrupt a terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def traced_note(results: Results) -> str | None:
    """The reports' line for code that ran while a tracer was installed, or
    None when there was none."""
    during = results.traced_during
    names = [
        f"{path}:{qualname}"
        for path, fres in results.files.items()
        for qualname, _ in sorted(fres.traced, key=lambda key: key[1])
    ]
    if not names:
        return None
    shown = ", ".join(escape(n) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    tests = ""
    if during:
        tests = f" (during {', '.join(escape(t) for t in during[:3])}"
        tests += f" and {len(during) - 3} more)" if len(during) > 3 else ")"
    return (
        f"{len(names)} code object(s) ran while a trace function or sys.monitoring callback "
        f"was installed{tests}: a debugger's jump there leaves their counts inexact "
        f"(traced-code): {shown}{more}"
    )


def fail_under_verdict(results: Results, minimum: float) -> str | None:
    """The failure line when total coverage is below ``minimum``, else None.

    A run that measured no instruction fails: nothing measured is no 100 %.
    """
    if not results.totals.instructions:
        return (
            f"FAIL Required bytecode instruction coverage of {format_percent(minimum)}% not "
            f"reached: no instructions were measured ({NO_DATA})"
        )
    actual = results.totals.percent_covered
    if actual >= minimum:
        return None
    return (
        f"FAIL Required bytecode instruction coverage of {format_percent(minimum)}% not "
        f"reached. Total coverage: {format_percent(actual, minimum)}%"
    )
