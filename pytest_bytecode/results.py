"""From counts to numbers and verdicts: totals, fail-under, baseline comparison.

Reporters only render what this module computes, over the counts as the
engine made them and the data file holds them
(:class:`~pytest_bytecode.engine.model.CodeCounts`; nothing is converted).
Instructions on lines that coverage.py's exclusion rules exclude are left out
of every figure, and so are conditional jumps on such lines.  ``branches``
counts branch outcomes (two per conditional jump), as coverage.py counts arcs.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_bytecode import versions
from pytest_bytecode.data import CovData, CrashedWorker, DataError, read_json, write_json_atomic
from pytest_bytecode.engine.model import CodeCounts

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
    """One file: its code objects (excluded lines left out) and figures."""

    path: str
    code_objects: tuple[CodeCounts, ...]
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


def without_lines(code: CodeCounts, excluded: Set[int]) -> CodeCounts:
    """``code`` without the instructions and conditional jumps on ``excluded``
    lines; ``code`` itself when none is on such a line."""
    if not excluded:
        return code
    instructions = tuple(i for i in code.instructions if i.line not in excluded)
    branches = tuple(b for b in code.branches if b.line not in excluded)
    if len(instructions) == len(code.instructions) and len(branches) == len(code.branches):
        return code
    return CodeCounts(code.qualname, code.name, code.firstlineno, code.path, instructions, branches)


def compute(data: CovData) -> Results:
    """Apply exclusions and add up the figures of ``data``."""
    files: dict[str, FileResult] = {}
    total = Summary()
    for path, fdata in sorted(data.files.items()):
        excluded = set(fdata.excluded_lines)
        codes = tuple(without_lines(c, excluded) for c in fdata.code_objects)
        summary = sum(map(Summary.of, codes), Summary())
        files[path] = FileResult(path, codes, fdata.partial, summary)
        total = total + summary
    return Results(data.python, data.python_version, files, total, tuple(data.crashed_workers))


# --- fail-under ----------------------------------------------------------------


def parse_fail_under(value: str, source: str = "--bytecode-cov-fail-under=") -> float:
    """``--bytecode-cov-fail-under`` as a number from 0 to 100; ``source``
    names where the value came from (``bytecode_cov_fail_under = `` for the
    ini key)."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= 100.0:
        raise ResultError(f"{source}{value}: must be a number from 0 to 100")
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


# --- baseline --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One function's covered-instruction count against the baseline (``before``
    is None for a function new since the baseline, ``after`` for one removed)."""

    kind: str  # "function" (kept for the JSON-minded: the only kind compared)
    qualname: str
    path: str
    before: int | None
    after: int | None

    def describe(self) -> str:
        """``qualname (path): before → after`` for reports, control characters escaped."""
        where = escape(f"{self.qualname} ({self.path})")
        if self.before is None:
            return f"{where}: {self.after} covered instructions"
        if self.after is None:
            return f"{where}: {self.before} covered instructions"
        return f"{where}: {self.before} → {self.after} covered instructions"


@dataclass(frozen=True)
class BaselineComparison:
    """The baseline check: a *drop* (fails the run) is a function present in
    both with fewer covered instructions; gains, removed and new functions are
    reported only, so renaming or moving a function fails nothing."""

    drops: tuple[Change, ...] = field(default=())
    gains: tuple[Change, ...] = field(default=())
    removed: tuple[Change, ...] = field(default=())
    new: tuple[Change, ...] = field(default=())
    compared: int = 0
    files: int = 0
    total_before: int = 0
    total_after: int = 0
    measured: int = 0  # instructions measured in this run


def escape(text: str) -> str:
    """``text`` with control characters (a file name holding ``\\x1b[31m`` or a
    newline) written as escapes, so that it cannot corrupt a terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def baseline_of(results: Results) -> dict[str, Any]:
    """The baseline document for ``results``: covered/total per file and function."""
    files: dict[str, Any] = {}
    for path, fres in results.files.items():
        functions: dict[str, dict[str, int]] = {}
        for code in fres.code_objects:
            s = Summary.of(code)
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


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(value)
    return value


def load_baseline(path: Path) -> dict[str, Any]:
    """Read and check a baseline file; :class:`ResultError` names the problem."""
    try:
        raw = read_json(path, "baseline")
    except DataError as exc:
        raise ResultError(str(exc)) from None
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
        _count(raw["totals"]["covered"])
        for fentry in raw["files"].values():
            _count(fentry["covered"])
            for fn in fentry["functions"].values():
                _count(fn["covered"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ResultError(
            f"{path}: corrupt baseline (missing entries, or a count that is not a "
            "non-negative integer)"
        ) from None
    return raw


def compare_baseline(baseline: dict[str, Any], results: Results) -> BaselineComparison:
    """Every function whose covered count fell or rose, and those removed or new."""
    now = baseline_of(results)
    drops: list[Change] = []
    gains: list[Change] = []
    removed: list[Change] = []
    new: list[Change] = []
    compared = 0
    paths = sorted(set(baseline["files"]) | set(now["files"]))
    for path in paths:
        old_fns = baseline["files"].get(path, {"functions": {}})["functions"]
        new_fns = now["files"].get(path, {"functions": {}})["functions"]
        for qualname in sorted(set(old_fns) | set(new_fns)):
            before = old_fns[qualname]["covered"] if qualname in old_fns else None
            after = new_fns[qualname]["covered"] if qualname in new_fns else None
            change = Change("function", qualname, path, before, after)
            if before is None:
                new.append(change)
            elif after is None:
                removed.append(change)
            else:
                compared += 1
                if after < before:
                    drops.append(change)
                elif after > before:
                    gains.append(change)
    return BaselineComparison(
        tuple(drops),
        tuple(gains),
        tuple(removed),
        tuple(new),
        compared,
        len(paths),
        int(baseline["totals"]["covered"]),
        int(now["totals"]["covered"]),
        int(now["totals"]["total"]),
    )


#: How many entries of each list a baseline check prints (``-v``: all).
SHOWN_CHANGES = 10


def baseline_report(
    comparison: BaselineComparison, path: Path, *, verbose: bool = False
) -> tuple[list[str], list[str]]:
    """The baseline check's lines: ``(failure lines, other lines)``.

    A passing check says in one line what it compared; each list (dropped,
    gained, removed, new) shows its first :data:`SHOWN_CHANGES` entries
    unless ``verbose``.
    """
    c = comparison

    def listed(label: str, changes: tuple[Change, ...]) -> list[str]:
        shown = changes if verbose else changes[:SHOWN_CHANGES]
        lines = [f"  {label}: {change.describe()}" for change in shown]
        if len(changes) > len(shown):
            lines.append(f"  ... and {len(changes) - len(shown)} more {label} (-v lists all)")
        return lines

    counts = ", ".join(
        f"{len(items)} {label}"
        for label, items in (("gained", c.gains), ("removed", c.removed), ("new", c.new))
        if items
    )
    summary = (
        f"{c.compared} functions in {c.files} files compared; covered instructions "
        f"{c.total_before} → {c.total_after}" + (f"; {counts}" if counts else "")
    )
    info = listed("gained", c.gains) + listed("removed", c.removed) + listed("new", c.new)
    if not c.measured:
        return [
            f"FAIL bytecode coverage baseline {path}: no instructions were measured ({NO_DATA})"
        ], info
    if c.drops:
        failed = [
            f"FAIL bytecode coverage dropped below the baseline {path}: {len(c.drops)} "
            f"functions cover fewer instructions ({summary})",
            *listed("dropped", c.drops),
        ]
        return failed, info
    return [], [f"bytecode coverage baseline {path}: no function dropped ({summary})", *info]
