"""The baseline: a file of covered instructions per function, and the check against it.

``--bytecode-cov-baseline-update`` writes, per measured file and function, how
many instructions were covered (:func:`write_baseline`); a later run with
``--bytecode-cov-baseline`` compares its own figures with the file
(:func:`compare_baseline`) and fails when a function present in both covers
fewer instructions (:func:`baseline_report`).

Why a module of its own: the baseline has a file format of its own (a kind,
a versioned layout, checks on what is read) and a comparison with its own
report lines, none of which the other verdicts need.  It works over the
figures :mod:`pytest_bytecode.results` computes, as the reporters do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from pytest_bytecode import versions
from pytest_bytecode.data import DataError, header_problem, read_json
from pytest_bytecode.engine.records import field, record
from pytest_bytecode.files import write_json_atomic
from pytest_bytecode.results import NO_DATA, Results, Summary, escape
from pytest_bytecode.results import ResultError as ResultError  # what load_baseline raises

#: Baseline file layout version.  History:
#:   1 - first version: covered/total instructions per file and per function.
BASELINE_FORMAT = 1

#: The value of the ``kind`` key in baseline files.
BASELINE_KIND = "pytest-bytecode baseline"


@record(frozen=True)
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


@record(frozen=True)
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
    problem = header_problem(raw, BASELINE_KIND, BASELINE_FORMAT, "baseline", path)
    if problem is not None:
        raise ResultError(problem)
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
    return cast("dict[str, Any]", raw)  # a dict: header_problem checked it


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
