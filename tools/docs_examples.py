"""Make the example outputs in README.md and docs/ from the real tool, and check them.

    python tools/docs_examples.py            # rewrite every example in place
    python tools/docs_examples.py --check    # exit 1, with a diff, if one differs

An example sits between marker comments in a Markdown file::

    <!-- example: shop-term-missing -->
    ```
    ...output, written by this script...
    ```
    <!-- /example -->

Each name below runs pytest-bytecode in subprocesses (on ``examples/shop`` or
on a small project written to a temporary folder) and keeps the part of the
output the docs show.  Volatile parts are normalised: temporary paths become
``/path``, the Python version ``3.X.Y`` becomes ``3.X``, timings are never
shown.

Instruction counts differ between Python versions, so examples with counts
are made on the reference version (:data:`REFERENCE`, the one the docs name)
and only checked there; on other versions ``--check`` skips them and says so.
Examples whose output is the same on every version are checked everywhere.

``--check`` also checks the command lines the docs show (fenced ``sh`` blocks
and inline code starting with ``pytest ``) and the example tests: every ``pytest`` command's
arguments must parse with pytest-bytecode's options (and its report and
fail-under values must be valid), every ``pytest-bytecode`` command's options
must exist, every ``python tools/...`` or ``bash ...`` script must exist, and
the fenced ``python`` blocks that define tests must pass under pytest, and
every relative link must lead to a file and heading that exist, and every
option of pytest's ``bytecode`` group must have its row in README's options table
or in the reference's (docs/reference.md, for the report settings).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The Python minor version whose outputs the docs show where they differ.
REFERENCE = (3, 12)
#: The files whose examples and command lines this script owns.
DOCS = ["README.md", "docs/user-guide.md", "docs/reference.md", "docs/engine.md",
        "docs/benchmarks.md", "docs/development.md"]  # fmt: skip

MARKER = re.compile(r"(<!-- example: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /example -->)", re.S)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """stdout and stderr of ``python -m pytest ARGS`` (or another module) in ``cwd``."""
    full_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "80"}
    full_env.pop("PYTEST_ADDOPTS", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def _version(text: str) -> str:
    """``3.12.1`` -> ``3.12`` (the patch level says nothing about the output)."""
    return re.sub(r"\b(3\.\d+)\.\d+((a|b|rc)\d+)?\b", r"\1", text)


# --- the examples ---------------------------------------------------------------


def _shop(tmp: Path) -> dict[str, str]:
    """The example project's term-missing table and JSON report (one run)."""
    out = _run(
        ["-m", "pytest", "examples/shop", "-p", "no:cacheprovider",
         "--bytecode-cov=shop", "--bytecode-cov-report=term-missing",
         f"--bytecode-cov-report=json:{tmp / 'cov.json'}",
         f"--bytecode-cov-data={tmp / 'data'}"],
        ROOT,
    )  # fmt: skip
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "bytecode coverage: Python" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("TOTAL"))
    table = _version("\n".join(lines[start : end + 1]))
    head = next(line for line in lines[start:end] if line.startswith("Name"))
    pricing = next(line for line in lines[start:end] if line.startswith("src/shop/pricing.py"))
    report = json.loads((tmp / "cov.json").read_text(encoding="utf-8"))
    report["meta"]["python"] = _version(report["meta"]["python"])
    fname = "src/shop/pricing.py"
    entry = report["files"][fname]
    code = next(c for c in entry["code_objects"] if c["qualname"] == "discount")
    code = {**code, "instructions": code["instructions"][:2], "branches": code["branches"][:1]}
    excerpt = {
        "meta": report["meta"],
        "totals": report["totals"],
        "files": {fname: {**entry, "code_objects": [code]}},
    }
    return {
        "shop-term-missing": table,
        "intro-pricing": head + "\n" + pricing,
        "json-excerpt": json.dumps(excerpt, indent=2),
    }


def _usage_errors(tmp: Path) -> dict[str, str]:
    """The one-line usage errors, one pytest run each (in parallel)."""
    project = tmp / "usage"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (project / "mod.py").write_text("def f():\n    return 1\n")
    (project / "tests" / "test_mod.py").write_text(
        "from mod import f\n\n\ndef test_f():\n    assert f() == 1\n"
    )
    base = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"]
    baseline = project / "baseline.json"
    _run([*base, "--bytecode-cov=mod.py", "--bytecode-cov-report=",
          f"--bytecode-cov-baseline={baseline}", "--bytecode-cov-baseline-update"], project,
         env={"PYTHONPATH": str(project)})  # fmt: skip
    raw = json.loads(baseline.read_text(encoding="utf-8"))
    raw["python"] = "3.11" if raw["python"] != "3.11" else "3.10"
    baseline.write_text(json.dumps(raw), encoding="utf-8")
    runs = [
        ["--bytecode-cov=no_such_pkg"],
        ["--bytecode-cov=mod.py", "--bytecode-cov-report=annotate"],
        ["--bytecode-cov=mod.py", "--bytecode-cov-fail-under=101"],
        ["--bytecode-cov=mod.py", "--bytecode-cov-report=", f"--bytecode-cov-baseline={baseline}"],
    ]
    env = {"PYTHONPATH": str(project)}
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda extra: _run([*base, *extra], project, env), runs))
    found = []
    for out in outs:
        line = next((x for x in out.splitlines() if x.startswith("ERROR: ")), "(no error line)")
        found.append(line)
    text = "\n".join(found).replace(str(project), "/path")
    text = re.sub(
        r"recorded with Python [\d.]+, this is Python [\d.]+",
        "recorded with Python 3.11, this is Python 3.12",
        text,
    )
    return {"usage-errors": text}


#: The coverage.py configuration the user guide shows, and its run makes the
#: example below it (given as ``$COVERAGE_RCFILE`` to the example project).
REPORT_SETTINGS = """\
[tool.coverage.run]
source = ["shop"]          # what a bare --bytecode-cov measures

[tool.coverage.report]
skip_covered = true        # or --bytecode-cov-report=term:skip-covered
precision = 1              # decimals of Cover, TOTAL and the fail-under lines
sort = "-Cover"            # coverage.py's Stmts and BrPart mean Instr and BrMiss
omit = ["*/orders.py"]     # out of every report and verdict, kept in the data file
"""


def _report_settings(tmp: Path) -> dict[str, str]:
    """The example project's table under coverage.py's report settings, with
    both fail-under checks."""
    rc = tmp / "coverage.toml"
    rc.write_text(REPORT_SETTINGS, encoding="utf-8")
    out = _run(
        ["-m", "pytest", "examples/shop", "-p", "no:cacheprovider", "--bytecode-cov-report=term",
         f"--bytecode-cov-data={tmp / 'data'}", "--bytecode-cov-fail-under=80",
         "--bytecode-cov-fail-under-branches=45", "--bytecode-cov"],
        ROOT, env={"COVERAGE_RCFILE": str(rc)},
    )  # fmt: skip
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if "bytecode coverage: Python" in line)
    end = max(i for i, line in enumerate(lines) if "Required bytecode" in line)
    return {
        "report-settings-config": REPORT_SETTINGS,
        "report-settings-term": _version("\n".join(lines[start : end + 1])),
    }


def _report_setting_errors(tmp: Path) -> dict[str, str]:
    """The one-line errors for bad report settings (one pytest run each)."""
    project = tmp / "settings"
    (project / "tests").mkdir(parents=True)
    (project / "mod.py").write_text("def f():\n    return 1\n")
    (project / "tests" / "test_mod.py").write_text("def test_f():\n    pass\n")
    runs = [
        ('[tool.coverage.report]\nsort = "Nope"\n', []),
        ("[tool.coverage.report]\nprecision = -1\n", []),
        ("", ["--bytecode-cov-report=term:skip-empty"]),
    ]
    found = []
    for config, extra in runs:
        (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n" + config)
        out = _run(["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests",
                    "--bytecode-cov=mod.py", *extra], project)  # fmt: skip
        found.append(next((x for x in out.splitlines() if x.startswith("ERROR: ")), "(none)"))
    return {"report-setting-errors": "\n".join(found)}


ASSERT_TESTS = """\
from pytest_bytecode import assert_bytecode_snapshot, assert_not_in_bytecode, assert_opcodes


def total(prices, rate):
    result = 0
    for p in prices:
        result += p * rate
    return result


def loop(xs):
    total = 0
    for x in xs:
        total += len(x)
    return total


def add(a, b):
    return a {op} b


def test_compiles_to():
    assert_opcodes(total, [
        "LOAD_CONST 0", "STORE_FAST result", "LOAD_FAST prices", "GET_ITER", "FOR_ITER",
        "STORE_FAST p", "LOAD_FAST result", "LOAD_FAST p", "LOAD_FAST rate", "BINARY_OP *",
        "BINARY_OP -=", "STORE_FAST result", "JUMP_BACKWARD", "LOAD_FAST result", "RETURN_VALUE",
    ])


def test_no_len():
    assert_not_in_bytecode(loop, "LOAD_GLOBAL", "len")


def test_add():
    assert_bytecode_snapshot(add)
"""


def _failure(out: str, test: str, *, with_source: bool) -> str:
    """The ``E`` lines of one test's failure (from its ``def`` line if asked)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"_+ {test} _+$", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"_{3,} |={3,} ", lines[i])),
        len(lines),
    )
    body = lines[start + 1 : end]
    first = next(
        i
        for i, line in enumerate(body)
        if (line.startswith("    def ") if with_source else line.startswith("E "))
    )
    last = max(i for i, line in enumerate(body) if line.startswith("E"))
    text = _version("\n".join(body[first : last + 1]))
    return re.sub(r"CPython 3\.\d+", "CPython 3.12", text)


def _assertions(tmp: Path) -> dict[str, str]:
    """Failure output of the bytecode assertions and of a changed snapshot."""
    project = tmp / "assertions"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    test = project / "test_user.py"
    test.write_text(ASSERT_TESTS.format(op="+"))
    base = [
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "test_user.py",
        "--tb=long",
        "-p",
        "no:randomly",
    ]
    _run([*base, "-k", "test_add", "--bytecode-snapshot-update"], project)
    test.write_text(ASSERT_TESTS.format(op="-"))
    out = _run(base, project)
    snapshot = _failure(out, "test_add", with_source=False)
    snapshot = re.sub(r"\.py3\.\d+\.txt", ".py3.12.txt", snapshot)
    return {
        "assert-opcodes-failure": _failure(out, "test_compiles_to", with_source=True),
        "assert-not-in-failure": _failure(out, "test_no_len", with_source=False),
        "snapshot-diff": snapshot,
    }


@dataclass(frozen=True)
class Producer:
    make: Callable[[Path], dict[str, str]]
    #: True: the output holds instruction counts or opcodes of one version.
    reference_only: bool


PRODUCERS = [
    Producer(_shop, reference_only=True),
    Producer(_usage_errors, reference_only=False),
    Producer(_assertions, reference_only=False),
    Producer(_report_settings, reference_only=True),
    Producer(_report_setting_errors, reference_only=False),
]
LANG = {"json-excerpt": "json", "report-settings-config": "toml"}
#: Every example the producers make; a marker with another name is an error.
NAMES = {
    "shop-term-missing", "intro-pricing", "json-excerpt", "usage-errors",
    "assert-opcodes-failure", "assert-not-in-failure", "snapshot-diff",
    "report-settings-config", "report-settings-term", "report-setting-errors",
}  # fmt: skip


def on_reference() -> bool:
    return sys.version_info[:2] == REFERENCE


def make_examples() -> dict[str, str]:
    """Every example this interpreter makes (the producers run side by side)."""
    made: dict[str, str] = {}
    wanted = [p for p in PRODUCERS if on_reference() or not p.reference_only]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(len(wanted)) as pool:
        folders = [Path(tmp) / str(i) for i in range(len(wanted))]
        for folder in folders:
            folder.mkdir()
        for result in pool.map(lambda pf: pf[0].make(pf[1]), zip(wanted, folders, strict=True)):
            made.update(result)
    return made


def render(name: str, text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
    return f"```{LANG.get(name, '')}\n{text}\n```\n"


def apply(text: str, made: dict[str, str], seen: set[str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match["name"]
        seen.add(name)
        if name not in made:
            return match[0]
        return match[1] + render(name, made[name]) + match[4]

    return MARKER.sub(one, text)


# --- command lines ---------------------------------------------------------------


def shown_commands(text: str) -> list[str]:
    """Command lines in fenced ``sh`` blocks and inline ``pytest ...`` code."""
    found: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            found.extend(part.strip() for part in line.split("&&") if part.strip())
    found.extend(re.findall(r"`(pytest [^`]+)`", text))
    return found


def _pytest_parser_check(argsets: list[list[str]]) -> list[str]:
    """Parse each argument list with pytest and every installed plugin's options."""
    import pytest
    from _pytest.config import get_config
    from _pytest.config.exceptions import PrintHelp

    from pytest_bytecode import report, results

    problems = []
    for args in argsets:
        config = get_config()
        config.pluginmanager.load_setuptools_entrypoints("pytest11")
        try:
            config.pluginmanager.consider_preparse(args)
            ns = config._parser.parse(args)
            for value in getattr(ns, "bytecode_cov_report", None) or []:
                report.parse_spec(value)
            for name in ("bytecode_cov_fail_under", "bytecode_cov_fail_under_branches"):
                if getattr(ns, name, None) is not None:
                    results.parse_fail_under(str(getattr(ns, name)))
        except PrintHelp:
            continue
        except (pytest.UsageError, ValueError, SystemExit) as exc:
            problems.append(f"pytest {shlex.join(args)}: {str(exc).strip().splitlines()[-1]}")
    return problems


def marker_names(text: str) -> list[str]:
    return [m["name"] for m in MARKER.finditer(text)]


#: The files whose options tables together must have a row for every option.
OPTION_TABLES = ["README.md", "docs/reference.md"]


def check_options_table() -> list[str]:
    """Every option of the ``bytecode`` group has its row in an options table
    (README's, or the reference's for the report settings)."""
    from _pytest.config import get_config

    config = get_config()
    config.pluginmanager.load_setuptools_entrypoints("pytest11")
    group = config._parser.getgroup("bytecode")
    tables = "\n".join((ROOT / name).read_text(encoding="utf-8") for name in OPTION_TABLES)
    problems = []
    for option in group.options:
        longest = max(option.names(), key=len)
        if not re.search(rf"^\| `{re.escape(longest)}[`=\[]", tables, flags=re.M):
            problems.append(
                f"{' and '.join(OPTION_TABLES)}: no row for {longest} in an options table"
            )
    return problems


def check_commands(files: list[str]) -> list[str]:
    from pytest_bytecode import cli

    parser = cli.build_parser()
    subs: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs = dict(action.choices)
    problems: list[str] = []
    argsets: list[list[str]] = []
    for name in files:
        for line in shown_commands((ROOT / name).read_text(encoding="utf-8")):
            words = line.split()
            while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value prefix
                words = words[1:]
            if not words:
                continue
            program = words[0]
            if program in {"pytest", "python", "python3"} or program.endswith("/python"):
                if program == "pytest":
                    argsets.append(shlex.split(" ".join(words[1:])))
                elif words[1:3] == ["-m", "pytest"]:
                    argsets.append(shlex.split(" ".join(words[3:])))
                elif (
                    len(words) > 1 and words[1].endswith(".py") and not (ROOT / words[1]).is_file()
                ):
                    problems.append(f"{name}: {line}: no file {words[1]}")
            elif program == "bash" and not (ROOT / words[1]).is_file():
                problems.append(f"{name}: {line}: no file {words[1]}")
            elif program == "pytest-bytecode":
                sub = subs.get(words[1])
                if sub is None:
                    problems.append(f"{name}: {line}: no subcommand {words[1]!r}")
                    continue
                for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line):
                    if option not in sub._option_string_actions:
                        problems.append(f"{name}: {line}: {words[1]} has no option {option}")
    problems.extend(_pytest_parser_check(argsets))
    return problems


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check_links(files: list[str]) -> list[str]:
    """Every relative link names a file that exists, and a heading in it."""
    problems = []
    for name in files:
        path = ROOT / name
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                if linked.name != "contributing.md":  # written by someone else, maybe not yet
                    problems.append(f"{name}: link to a missing file: {target}")
                continue
            if anchor and linked.suffix == ".md":
                body = re.sub(r"```.*?```", "", linked.read_text(encoding="utf-8"), flags=re.S)
                slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", body, flags=re.M)}
                if anchor not in slugs:
                    problems.append(f"{name}: link to a missing heading: {target}")
    return problems


def check_code_blocks() -> list[str]:
    """Run the docs' example test modules (fenced ``python`` blocks with tests) with pytest."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
        names = []
        for name in DOCS:
            text = (ROOT / name).read_text(encoding="utf-8")
            for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
                if "def test_" in block:
                    module = f"test_{Path(name).stem.replace('-', '_')}_{i}.py"
                    (folder / module).write_text(block, encoding="utf-8")
                    names.append(module)
        args = [
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--bytecode-snapshot-update",
            *names,
        ]
        out = _run(args, folder)
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if not re.search(r"\d+ passed", last) or re.search(r"failed|error", last):
            return [f"the example tests in the docs do not pass:\n{out}"]
    return []


# --- main ------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv not in ([], ["--check"]):
        raise SystemExit("usage: python tools/docs_examples.py [--check]")
    made = make_examples()
    failed = False
    seen: set[str] = set()
    for name in DOCS:
        path = ROOT / name
        old = path.read_text(encoding="utf-8")
        new = apply(old, made, seen)
        if new == old:
            continue
        if check:
            failed = True
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True), name,
                f"{name} (made by tools/docs_examples.py)"))  # fmt: skip
        else:
            path.write_text(new, encoding="utf-8")
            print(f"docs_examples: updated {name}")
    unknown = seen - NAMES
    if unknown or set(made) - NAMES:
        names = ", ".join(sorted(unknown | (set(made) - NAMES)))
        print(f"docs_examples: unknown examples: {names}")
        failed = True
    unused = set(made) - seen
    if not on_reference():
        unmade = {n for n in seen if n not in made}
        print(f"docs_examples: not made on this version: {', '.join(sorted(unmade))}")
    if unused:
        print(f"docs_examples: no marker for {', '.join(sorted(unused))}")
        failed = True
    if not on_reference():
        ref = ".".join(map(str, REFERENCE))
        print(f"docs_examples: examples with instruction counts: made and checked on {ref} only")
    if check:
        problems = (
            check_commands(DOCS) + check_options_table() + check_links(DOCS) + check_code_blocks()
        )
        for problem in problems:
            print(f"docs_examples: {problem}")
        failed = failed or bool(problems)
        if failed:
            print("docs_examples: run `python tools/docs_examples.py` (on Python "
                  f"{'.'.join(map(str, REFERENCE))}) to rewrite the examples")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run from a checkout
    raise SystemExit(main(sys.argv[1:]))
