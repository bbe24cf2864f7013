"""Check the default filters on real code against coverage.py.

After the default filters, every instruction pytest-bytecode reports as
never run, on a line coverage.py calls fully covered (executed, no missed
branch from it), must stand for something the user wrote that did not run.
This tool runs a project's own suite once under coverage.py (line and branch,
its default core) with ``--bytecode-cov`` on, and explains each such
instruction by where its ``co_positions()`` span lies in the line's syntax
tree (3.11+; on 3.10, which records no columns, by what the line holds):

* ``operand``: a right operand of ``and``/``or``, or of a chained comparison;
* ``conditional-arm``: an arm of ``x if c else y``;
* ``comprehension``: the element, a condition or an inner loop of a
  comprehension, or its loop machinery (the iterable was empty, a condition
  never held);
* ``pattern``: a ``case`` pattern or guard, or a case body on the same line;
* ``lambda``: a lambda's body;
* ``assert``: an ``assert``'s failure (message and raise);
* ``await``: the suspension of an ``await``/``yield from`` that never suspended;
* ``raised-before``: the rest of a line after an instruction that raised
  every time the line ran (coverage.py counts a line that started);
* ``jump-outcome``: the jump of a condition on the line one of whose
  outcomes never happened (the condition was never true, or never false);
* ``except-clause``: an ``except`` clause that exceptions passed but never
  matched (its name never bound);
* ``never-called``: a function, lambda or comprehension that never ran,
  whose instructions sit on a line that ran (its ``def``, a docstring-only
  body).

Anything else is listed as unexplained and fails the check.  Usage::

    python tools/filters_check.py --example            # examples/shop, this Python
    python tools/filters_check.py [--work DIR] NAME... # projects of projects_diff.py

Projects are set up as ``tools/projects_diff.py`` does (venv, sdist, wheel)
and share its work directory.  Prints one line per project with the lines
checked and the instructions explained per reason, then any unexplained
instruction with its source; also the totals (instructions, missed) with
and without filters, for the docs' per-version figures.  Exits 1 if
anything is unexplained.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

#: Reasons, in the order the docs list them.
REASONS = (
    "operand",
    "conditional-arm",
    "comprehension",
    "pattern",
    "lambda",
    "assert",
    "await",
    "raised-before",
    "jump-outcome",
    "never-called",
    "except-clause",
)

_JUMPS = ("POP_JUMP", "JUMP_IF_", "FOR_ITER", "SEND")


def conditional_spans(tree: ast.AST) -> list[tuple[str, int, int, int, int]]:
    """(reason, line, col, end_line, end_col) of every part of ``tree`` that
    runs only sometimes when its line runs."""
    out: list[tuple[str, int, int, int, int]] = []

    def add(reason: str, node: ast.AST) -> None:
        if getattr(node, "end_lineno", None) is not None:
            out.append(
                (reason, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
            )

    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp):
            for value in node.values[1:]:
                add("operand", value)
            add("operand", node)  # its bookkeeping between operands
        elif isinstance(node, ast.Compare) and len(node.comparators) > 1:
            for value in node.comparators[1:]:
                add("operand", value)
            add("operand", node)
        elif isinstance(node, ast.IfExp):
            add("conditional-arm", node.body)
            add("conditional-arm", node.orelse)
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            add("comprehension", node)
        elif isinstance(node, ast.match_case):
            add("pattern", node.pattern)
            if node.guard is not None:
                add("pattern", node.guard)
            for stmt in node.body:
                add("pattern", stmt)
        elif isinstance(node, ast.Lambda):
            add("lambda", node.body)
        elif isinstance(node, ast.Assert):
            add("assert", node)
        elif isinstance(node, (ast.Await, ast.YieldFrom)):
            add("await", node)
        elif isinstance(node, ast.ExceptHandler):
            # What runs on the clause's own line once it matched (binding the
            # name, dropping the exception): coverage.py counts the line
            # when an exception only passed it, unmatched.
            add("except-clause", node)  # counted on the clause's first line only
    return out


def _inside(span: tuple[int, int, int, int], part: tuple[int, int, int, int]) -> bool:
    line, col, end_line, end_col = span
    pline, pcol, pend_line, pend_col = part
    return (pline, pcol) <= (line, col) and (end_line, end_col) <= (pend_line, pend_col)


def explain_file(
    source: bytes,
    filename: str,
    fres: Any,
    covered_lines: set[int],
) -> tuple[Counter[str], list[tuple[int, str, str]]]:
    """Reasons for the missed instructions of ``fres`` (a FileResult) on
    ``covered_lines``, and the unexplained ones as (line, opname, text)."""
    from pytest_bytecode import versions
    from pytest_bytecode.report.positions import Source, file_positions

    text = source.decode("utf-8", "replace")
    lines = text.split("\n")
    tree = ast.parse(source)
    parts = conditional_spans(tree)
    per_line: dict[int, set[str]] = {}
    for reason, line, _, end_line, _ in parts:
        for n in range(line, end_line + 1):
            per_line.setdefault(n, set()).add(reason)
    positions, _, _ = file_positions(
        versions.PY_TAG, fres.code_objects, Source(lines, source), filename
    )
    reasons: Counter[str] = Counter()
    unexplained: list[tuple[int, str, str]] = []
    for code, pos in zip(fres.code_objects, positions, strict=True):
        if not any(ins.count for ins in code.instructions):
            # Never called: coverage.py counts the def line, which ran.
            reasons["never-called"] += sum(1 for i in code.instructions if i.line in covered_lines)
            continue
        cut_short = False
        previous = None
        for ins in code.instructions:
            if ins.line is None:
                previous = None
                continue
            if ins.count:
                cut_short = False
            elif (
                previous is not None
                and previous.count
                and previous.line == ins.line
                and not previous.opname.startswith(_JUMPS)
                and not previous.opname.startswith(("RETURN", "JUMP", "RAISE", "RERAISE"))
            ):
                cut_short = True
            if ins.count == 0 and ins.line in covered_lines:
                reason = None
                if cut_short:
                    reason = "raised-before"
                elif pos is not None and ins.offset in pos and pos[ins.offset][2] is not None:
                    lineno, end_line, col, end_col = pos[ins.offset]
                    span = (lineno, col, end_line, end_col)
                    found = [
                        r
                        for r, *part in parts
                        if _inside(span, tuple(part))  # type: ignore[arg-type]
                        and (r != "except-clause" or lineno == part[0])
                    ]
                    reason = found[0] if found else None
                    if reason is None and ins.opname.startswith(_JUMPS):
                        reason = "jump-outcome"
                elif pos is None or not versions.HAS_COLUMN_POSITIONS:
                    known = per_line.get(ins.line)
                    if known:
                        reason = sorted(known)[0]
                    elif ins.opname.startswith(_JUMPS) or ins.opname.startswith("JUMP"):
                        reason = "jump-outcome"
                if reason is None and ins.opname in (
                    "JUMP_BACKWARD",
                    "JUMP_FORWARD",
                    "JUMP_ABSOLUTE",
                ):
                    # The jump an outcome of a condition on the line takes.
                    reason = "jump-outcome"
                if reason is None:
                    unexplained.append(
                        (
                            ins.line,
                            ins.opname,
                            lines[ins.line - 1].strip() if ins.line <= len(lines) else "",
                        )
                    )
                else:
                    reasons[reason] += 1
            previous = ins
    return reasons, unexplained


def coverage_py_covered(cov: dict[str, Any], path: str) -> set[int]:
    """Lines coverage.py calls fully covered in its JSON report's entry."""
    entry = cov["files"].get(path)
    if entry is None:
        return set()
    partial = {a for a, _ in entry.get("missing_branches", [])}
    return set(entry["executed_lines"]) - set(entry["missing_lines"]) - partial


def check(data_file: Path, cov_json: Path, root: Path, label: str) -> tuple[bool, dict[str, Any]]:
    """Compare one run's data file with coverage.py's JSON report; print and
    return (ok, figures)."""
    from pytest_bytecode import data, results

    counts = data.load(data_file)
    cov = json.loads(cov_json.read_text())
    filtered = results.compute(counts)
    raw = results.compute(counts, frozenset())
    cov_files = {str((root / p).resolve()): p for p in cov["files"]}
    total: Counter[str] = Counter()
    unexplained: list[str] = []
    checked = 0
    for path, fres in filtered.files.items():
        full = (root / path).resolve() if not Path(path).is_absolute() else Path(path)
        cov_path = cov_files.get(str(full))
        if cov_path is None:
            continue
        covered = coverage_py_covered(cov, cov_path)
        checked += len(covered)
        reasons, bad = explain_file(full.read_bytes(), str(full), fres, covered)
        total.update(reasons)
        unexplained += [f"{path}:{line}: {op} in {text!r}" for line, op, text in bad]
    figures = {
        "instructions": filtered.totals.instructions,
        "missed": filtered.totals.instructions - filtered.totals.covered_instructions,
        "percent": round(filtered.totals.percent_covered, 2),
        "raw_instructions": raw.totals.instructions,
        "raw_missed": raw.totals.instructions - raw.totals.covered_instructions,
        "raw_percent": round(raw.totals.percent_covered, 2),
    }
    shown = ", ".join(f"{r} {total[r]}" for r in REASONS if total[r])
    print(
        f"{label}: {checked} lines coverage.py calls covered; missed instructions on them "
        f"explained: {shown or 'none'}; unexplained: {len(unexplained)}; "
        f"totals {figures['percent']}% of {figures['instructions']} "
        f"(no filters: {figures['raw_percent']}% of {figures['raw_instructions']})"
    )
    for line in unexplained[:50]:
        print(f"    UNEXPLAINED {line}")
    if len(unexplained) > 50:
        print(f"    ... and {len(unexplained) - 50} more")
    return not unexplained, figures


def run_suite(
    python: Path, cwd: Path, measure: list[str], tests: list[str], out: Path, env: dict[str, str]
) -> None:
    """The suite once under coverage.py (branch) with --bytecode-cov."""
    sources = ",".join(measure)
    cmd = [
        str(python), "-m", "coverage", "run", "--branch", f"--source={sources}",
        f"--data-file={out / '.coverage'}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--rootdir={cwd}",
        *[f"--bytecode-cov={m}" for m in measure],
        f"--bytecode-cov-data={out / 'bc.data'}", "--bytecode-cov-report=", *tests,
    ]  # fmt: skip
    subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=False)
    subprocess.run(
        [str(python), "-m", "coverage", "json", f"--data-file={out / '.coverage'}",
         "-o", str(out / "cov.json"), "-q"],
        cwd=cwd, env=env, check=True,
    )  # fmt: skip


def check_example() -> bool:
    """examples/shop under this interpreter."""
    shop = ROOT / "examples" / "shop"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(shop / "src")}
        run_suite(Path(sys.executable), shop, ["shop"], ["tests"], out, env)
        ok, _ = check(out / "bc.data", out / "cov.json", shop, "examples/shop")
    return ok


def check_project(name: str, work: Path, wheel: Path) -> bool:
    """One project of projects_diff.py, in its own venv, with ``wheel``
    (pytest-bytecode's) installed."""
    import projects_diff

    project = {p.name: p for p in projects_diff.PROJECTS}[name]
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    pdir = work / tag / name
    pdir.mkdir(parents=True, exist_ok=True)
    venv, rundir, _ = projects_diff.prepare_project(project, pdir, wheel)
    out = pdir / "filters"
    out.mkdir(exist_ok=True)
    env = projects_diff.run_env(project)
    tests = [*projects_diff.selection_options(project), *project.tests]
    python = projects_diff.venv_python(venv)
    run_suite(python, rundir, list(project.measure), tests, out, env)
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import filters_check as f; "
        "from pathlib import Path; ok, fig = f.check(Path(sys.argv[2]), Path(sys.argv[3]), "
        "Path(sys.argv[4]), sys.argv[5]); sys.exit(0 if ok else 1)"
    )
    done = subprocess.run(
        [str(python), "-c", script, str(ROOT / "tools"), str(out / "bc.data"),
         str(out / "cov.json"), str(rundir), f"{name} {project.version}"],
        cwd=rundir, env=env, check=False,
    )  # fmt: skip
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="projects of tools/projects_diff.py")
    ap.add_argument("--example", action="store_true", help="check examples/shop")
    ap.add_argument(
        "--work", type=Path, default=ROOT / ".cache" / "projects-diff",
        help="work directory shared with projects_diff.py (default: %(default)s)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    ok = True
    if args.example:
        ok = check_example() and ok
    if args.names:
        import projects_diff

        tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
        wheel = projects_diff.build_wheel(ROOT, args.work / tag)
        for name in args.names:
            ok = check_project(name, args.work, wheel) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
