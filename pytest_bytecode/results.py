"""From counts to numbers and verdicts: totals, fail-under, baseline comparison.

Reporters only render what this module computes.  Instructions on lines that
coverage.py's exclusion rules exclude are left out of every figure, and so
are conditional jumps on such lines.  ``branches`` counts branch outcomes (two
per conditional jump), as coverage.py counts arcs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_bytecode import versions
from pytest_bytecode.data import CovData, CrashedWorker, write_json_atomic

#: Baseline file layout version.  History:
#:   1 - first version: covered/total instructions per file and per function.
BASELINE_FORMAT = 1

#: The value of the ``kind`` key in baseline files.
BASELINE_KIND = "pytest-bytecode baseline"


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


@dataclass(frozen=True)
class Instruction:
    """One counted instruction."""

    offset: int
    opname: str
    line: int | None
    count: int


@dataclass(frozen=True)
class Branch:
    """One counted conditional jump: (target offset, count) per outcome."""

    offset: int
    opname: str
    line: int | None
    outcomes: tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class CodeResult:
    """The counted instructions and branches of one code object."""

    qualname: str
    name: str
    firstlineno: int
    instructions: tuple[Instruction, ...]
    branches: tuple[Branch, ...]

    @property
    def summary(self) -> Summary:
        """This code object's figures."""
        return Summary(
            len(self.instructions),
            sum(1 for i in self.instructions if i.count),
            2 * len(self.branches),
            sum(1 for b in self.branches for _, c in b.outcomes if c),
        )


@dataclass(frozen=True)
class FileResult:
    """One file: its code objects and figures."""

    path: str
    code_objects: tuple[CodeResult, ...]
    partial: bool
    summary: Summary

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


def compute(data: CovData) -> Results:
    """Apply exclusions and add up the figures of ``data``."""
    files: dict[str, FileResult] = {}
    total = Summary()
    for path, fdata in sorted(data.files.items()):
        excluded = set(fdata.excluded_lines)
        codes = []
        for c in fdata.code_objects:
            instructions = tuple(
                Instruction(off, op, line, count)
                for off, op, line, count in zip(
                    c.offsets, c.opnames, c.lines, c.counts, strict=True
                )
                if line not in excluded
            )
            branches = tuple(
                Branch(
                    b.offset,
                    b.opname,
                    b.line,
                    ((b.targets[0], b.counts[0]), (b.targets[1], b.counts[1])),
                )
                for b in c.branches
                if b.line not in excluded
            )
            codes.append(CodeResult(c.qualname, c.name, c.firstlineno, instructions, branches))
        summary = sum((c.summary for c in codes), Summary())
        files[path] = FileResult(path, tuple(codes), fdata.partial, summary)
        total = total + summary
    return Results(data.python, data.python_version, files, total, tuple(data.crashed_workers))


# --- fail-under ----------------------------------------------------------------


def parse_fail_under(value: str) -> float:
    """``--bytecode-cov-fail-under`` as a number from 0 to 100."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= 100.0:
        raise ResultError(f"--bytecode-cov-fail-under={value}: must be a number from 0 to 100")
    return number


def format_percent(value: float, against: float | None = None) -> str:
    """Two decimals, or more when two decimals would hide a difference from ``against``."""
    for digits in (2, 4, 6, 10):
        text = f"{value:.{digits}f}"
        if against is None or (float(text) < against) == (value < against):
            return text
    return repr(value)


def fail_under_verdict(results: Results, minimum: float) -> str | None:
    """The failure line when total coverage is below ``minimum``, else None."""
    actual = results.totals.percent_covered
    if actual >= minimum:
        return None
    return (
        f"FAIL Required bytecode instruction coverage of {format_percent(minimum)}% not "
        f"reached. Total coverage: {format_percent(actual, minimum)}%"
    )


# --- baseline --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One entry whose covered-instruction count changed against the baseline."""

    kind: str  # "total", "file" or "function"
    qualname: str
    path: str
    before: int
    after: int

    def describe(self) -> str:
        """``qualname (path): before → after`` for reports."""
        if self.kind == "total":
            return f"TOTAL: {self.before} → {self.after} covered instructions"
        if self.kind == "file":
            return f"{self.path}: {self.before} → {self.after} covered instructions"
        return f"{self.qualname} ({self.path}): {self.before} → {self.after} covered instructions"


@dataclass(frozen=True)
class BaselineComparison:
    """What dropped (fails the run) and what gained (reported only)."""

    drops: tuple[Change, ...] = field(default=())
    gains: tuple[Change, ...] = field(default=())


def baseline_of(results: Results) -> dict[str, Any]:
    """The baseline document for ``results``: covered/total per file and function."""
    files: dict[str, Any] = {}
    for path, fres in results.files.items():
        functions: dict[str, dict[str, int]] = {}
        for code in fres.code_objects:
            s = code.summary
            entry = functions.setdefault(code.qualname, {"covered": 0, "total": 0})
            entry["covered"] += s.covered_instructions
            entry["total"] += s.instructions
        files[path] = {
            "covered": fres.summary.covered_instructions,
            "total": fres.summary.instructions,
            "functions": functions,
        }
    return {
        "kind": BASELINE_KIND,
        "format": BASELINE_FORMAT,
        "python": results.python,
        "totals": {
            "covered": results.totals.covered_instructions,
            "total": results.totals.instructions,
        },
        "files": files,
    }


def write_baseline(results: Results, path: Path) -> None:
    """Write the baseline for ``results`` atomically."""
    write_json_atomic(path, baseline_of(results))


def load_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; :class:`ResultError` names the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultError(f"{path}: cannot read baseline ({exc.strerror or exc})") from None
    except ValueError:
        raise ResultError(f"{path}: corrupt baseline (not valid JSON)") from None
    if not isinstance(raw, dict) or raw.get("kind") != BASELINE_KIND:
        raise ResultError(f"{path}: not a pytest-bytecode baseline file")
    if raw.get("format") != BASELINE_FORMAT:
        raise ResultError(
            f"{path}: baseline format {raw.get('format')!r} is not supported "
            f"(this version reads format {BASELINE_FORMAT})"
        )
    if raw.get("python") != versions.PY_TAG:
        raise ResultError(
            f"{path}: baseline was recorded with Python {raw.get('python')}, this is "
            f"Python {versions.PY_TAG}; instruction sets differ between versions, "
            "so record a baseline per version with --bytecode-cov-baseline-update"
        )
    try:
        int(raw["totals"]["covered"])
        for fentry in raw["files"].values():
            int(fentry["covered"])
            for fn in fentry["functions"].values():
                int(fn["covered"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ResultError(f"{path}: corrupt baseline (missing or bad entries)") from None
    return raw


def compare_baseline(baseline: dict[str, Any], results: Results) -> BaselineComparison:
    """Every total, file and function whose covered count fell or rose."""
    now = baseline_of(results)
    drops: list[Change] = []
    gains: list[Change] = []

    def note(kind: str, qualname: str, path: str, before: int, after: int) -> None:
        if after < before:
            drops.append(Change(kind, qualname, path, before, after))
        elif after > before:
            gains.append(Change(kind, qualname, path, before, after))

    note("total", "", "", int(baseline["totals"]["covered"]), now["totals"]["covered"])
    for path, old in sorted(baseline["files"].items()):
        new = now["files"].get(path, {"covered": 0, "functions": {}})
        note("file", "", path, int(old["covered"]), int(new["covered"]))
        for qualname, fn in sorted(old["functions"].items()):
            after = new["functions"].get(qualname, {"covered": 0})["covered"]
            note("function", qualname, path, int(fn["covered"]), int(after))
    for path, new in sorted(now["files"].items()):
        if path not in baseline["files"]:
            note("file", "", path, 0, int(new["covered"]))
    return BaselineComparison(tuple(drops), tuple(gains))
