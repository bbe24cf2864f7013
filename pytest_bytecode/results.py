"""From counts to numbers and verdicts: totals and the fail-under checks.

Reporters only render what this module computes, over the counts as the
engine made them and the data file holds them
(:class:`~pytest_bytecode.engine.model.CodeCounts`; nothing is converted).
Instructions on lines that coverage.py's exclusion rules exclude are left out
of every figure, and so are conditional jumps on such lines.  ``branches``
counts branch outcomes (two per conditional jump), as coverage.py counts arcs.
:func:`select` narrows the results to the files coverage.py's ``[report]
include``/``omit`` keep; totals and verdicts follow.  The baseline check
(its file, and the comparison against it) is in :mod:`pytest_bytecode.baseline`.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from decimal import Decimal
from typing import Any

from pytest_bytecode.contexts import FileContexts
from pytest_bytecode.data import CovData, CrashedWorker
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import record, replace
from pytest_bytecode.filters import DEFAULT as DEFAULT_FILTERS
from pytest_bytecode.filters import apply as apply_filters


class ResultError(ValueError):
    """A bad setting or file for a verdict (one-line message)."""


@record(frozen=True)
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

    @property
    def percent_branches_covered(self) -> float:
        """Branch outcomes taken in percent (100 when there is none, as coverage.py
        counts a file without branches)."""
        if not self.branches:
            return 100.0
        return 100.0 * self.covered_branches / self.branches

    @property
    def complete(self) -> bool:
        """Every instruction ran and every branch outcome was taken (coverage.py's
        "complete coverage" of ``skip_covered``)."""
        return (
            self.covered_instructions == self.instructions
            and self.covered_branches == self.branches
        )

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


@record(frozen=True)
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
    #: Which tests ran what, when contexts were recorded.
    contexts: FileContexts | None = None

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


@record(frozen=True)
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
    #: Measured files that ``[report] include``/``omit`` left out (:func:`select`).
    left_out: int = 0
    #: The context names, when contexts were recorded (None otherwise).
    context_names: tuple[str, ...] | None = None


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


def without_branches(code: CodeCounts, lines: Set[int]) -> CodeCounts:
    """``code`` without the conditional jumps on ``lines`` (coverage.py's
    ``partial_branches``: their instructions still count)."""
    if not lines or not any(b.line in lines for b in code.branches):
        return code
    return replace(code, branches=tuple(b for b in code.branches if b.line not in lines))


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
        no_branch = set(fdata.no_branch_lines)
        codes = tuple(without_branches(apply_filters(c, filters), no_branch) for c in raw)
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
            None
            if data.contexts is None
            else FileContexts(
                data.contexts.names, tuple(fdata.code_objects), data.contexts.of_file(path)
            ),
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
        context_names=None if data.contexts is None else tuple(data.contexts.names),
    )


def select(results: Results, keep: Callable[[str], bool]) -> Results:
    """``results`` with only the files whose report path ``keep`` accepts,
    totals added up again; the others are counted in ``left_out``."""
    files = {path: fres for path, fres in results.files.items() if keep(path)}
    if len(files) == len(results.files):
        return results
    return replace(
        results,
        files=files,
        totals=sum((f.summary for f in files.values()), Summary()),
        left_out=results.left_out + len(results.files) - len(files),
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


#: Decimals of a percentage shown when coverage.py's ``[report] precision``
#: is not set (coverage.py's own default is 0).
DEFAULT_PRECISION = 2


def format_percent(
    value: float, against: float | None = None, precision: int = DEFAULT_PRECISION
) -> str:
    """``value`` with ``precision`` decimals, as coverage.py shows a percentage.

    Rounding never makes 0 or 100 of a value that is not (99.996 shows as
    ``99.99``, like coverage.py's ``display_covered``), and more decimals are
    shown, one at a time, when ``precision`` would hide on which side of
    ``against`` the value lies: a failing total never reads as the threshold.
    """
    for digits in range(precision, precision + 11):
        near = 10.0**-digits
        shown = near if 0 < value < near else 100 - near if 100 - near < value < 100 else value
        text = f"{shown:.{digits}f}"
        if against is None or (float(text) < against) == (value < against):
            return text
    return repr(value)


def threshold_text(minimum: float, precision: int = DEFAULT_PRECISION) -> str:
    """A fail-under threshold with ``precision`` decimals, or as many as it has
    (coverage.py's rule: ``99.5`` stays ``99.5`` with precision 0)."""
    digits = 0
    if minimum != int(minimum):
        digits = -int(Decimal(repr(float(minimum))).as_tuple().exponent)
    return f"{minimum:.{max(precision, digits)}f}"


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


@record(frozen=True)
class Verdict:
    """The outcome of one fail-under check, and its line for the report."""

    failed: bool
    line: str


def fail_under(
    results: Results,
    minimum: float,
    *,
    branches: bool = False,
    precision: int = DEFAULT_PRECISION,
) -> Verdict:
    """Whether total instruction coverage (with ``branches``, the percentage
    of branch outcomes taken) reaches ``minimum``.

    The exact total is compared, not the total rounded to ``precision`` as
    coverage.py does: "80" means 80, whatever the report shows, and the line
    shows as many decimals as it takes to see the difference.  A run that
    measured no instruction fails: nothing measured is no 100 %.  Measured
    code without any conditional jump has all its branch outcomes (none)
    taken, 100 %, as coverage.py counts a file without branches.
    """
    what = "branch" if branches else "instruction"
    required = f"Required bytecode {what} coverage of {threshold_text(minimum, precision)}%"
    totals = results.totals
    if not totals.instructions:
        why = "no instructions were measured"
        if results.left_out:
            why = (
                f"no instructions are left to report ({results.left_out} measured files "
                "left out by [report] include/omit)"
            )
        return Verdict(True, f"FAIL {required} not reached: {why} ({NO_DATA})")
    actual = totals.percent_branches_covered if branches else totals.percent_covered
    failed = actual < minimum
    total = f"Total {'branch ' if branches else ''}coverage: "
    total += f"{format_percent(actual, minimum, precision)}%"
    if branches and not totals.branches:
        total += " (no conditional jumps were measured)"
    if failed:
        return Verdict(True, f"FAIL {required} not reached. {total}")
    return Verdict(False, f"{required} reached. {total}")


def fail_under_verdicts(
    results: Results,
    minimum: float | None,
    branches_minimum: float | None,
    precision: int = DEFAULT_PRECISION,
) -> list[Verdict]:
    """The instruction and the branch fail-under checks that were asked for
    (a minimum of None: not asked), in that order."""
    verdicts = []
    if minimum is not None:
        verdicts.append(fail_under(results, minimum, precision=precision))
    if branches_minimum is not None:
        verdicts.append(fail_under(results, branches_minimum, branches=True, precision=precision))
    return verdicts
