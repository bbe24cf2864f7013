"""coverage.py's report settings, end to end: a real coverage configuration
file in a pytester project, through ``pytest --bytecode-cov`` and through
``pytest-bytecode report``.

The project (:data:`FILES`): ``mod.py`` partly covered (one jump outcome of
two missed), ``other.py`` fully covered, ``empty.py`` without a counted
instruction (its only line is excluded), ``__init__.py`` fully covered.
Instruction counts differ between Python versions, so rows are matched by
their shape, and totals are compared between runs rather than spelled out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bc_helpers import PKG, load_json, make_project

from pytest_bytecode import cli

FILES = {
    **PKG,
    "src/pkg/empty.py": "X = 1  # pragma: no cover\n",
    "tests/test_mod.py": """
        from pkg.mod import f
        from pkg.other import h

        def test_f():
            assert f(1) == "pos"
            assert h() == 1
    """,
}

#: The table's rows by file, in the order they are printed.
ROW = re.compile(r"^(src/pkg/\S+|TOTAL)\s")


def project(pytester: pytest.Pytester, config: dict[str, str] | None = None) -> None:
    """The project, with ``config`` as coverage configuration files (name -> text)."""
    make_project(pytester, FILES)
    for name, text in (config or {}).items():
        (pytester.path / name).write_text(text)


def rows(lines: list[str]) -> dict[str, list[str]]:
    """The table's rows, by name, each as its cells."""
    return {m[1]: line.split()[1:] for line in lines if (m := ROW.match(line))}


def names(lines: list[str]) -> list[str]:
    return [m[1] for line in lines if (m := ROW.match(line))]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--bytecode-cov=pkg", *args)


ALL = ["src/pkg/__init__.py", "src/pkg/empty.py", "src/pkg/mod.py", "src/pkg/other.py", "TOTAL"]


# --- skip_covered, skip_empty -------------------------------------------------------


def test_skip_covered_from_coveragerc(pytester: pytest.Pytester) -> None:
    project(pytester)
    full = run(pytester).outlines
    assert names(full) == ALL
    pytester.path.joinpath(".coveragerc").write_text("[report]\nskip_covered = true\n")
    result = run(pytester)
    assert result.ret == 0
    assert names(result.outlines) == ["src/pkg/mod.py", "TOTAL"]
    # The total is every file's, as in coverage.py's report.
    assert rows(result.outlines)["TOTAL"] == rows(full)["TOTAL"]
    result.stdout.fnmatch_lines(["TOTAL *", "", "3 files skipped due to complete coverage."])


@pytest.mark.parametrize("kind", ["term", "term-missing"])
def test_skip_covered_report_modifier(pytester: pytest.Pytester, kind: str) -> None:
    project(pytester)
    result = run(pytester, f"--bytecode-cov-report={kind}:skip-covered")
    assert result.ret == 0
    assert names(result.outlines) == ["src/pkg/mod.py", "TOTAL"]
    result.stdout.fnmatch_lines(["3 files skipped due to complete coverage."])
    assert ("Missing" in result.stdout.str()) == (kind == "term-missing")


def test_skip_empty_from_pyproject(pytester: pytest.Pytester) -> None:
    project(pytester, {"pyproject.toml": "[tool.coverage.report]\nskip_empty = true\n"})
    result = run(pytester)
    assert names(result.outlines) == [n for n in ALL if n != "src/pkg/empty.py"]
    result.stdout.fnmatch_lines(["TOTAL *", "", "1 empty file skipped."])


def test_skip_covered_counts_an_empty_file_as_complete(pytester: pytest.Pytester) -> None:
    """coverage.py's order: a file with nothing to cover is complete first."""
    config = "[tool.coverage.report]\nskip_empty = true\nskip_covered = true\n"
    project(pytester, {"pyproject.toml": config})
    result = run(pytester)
    assert names(result.outlines) == ["src/pkg/mod.py", "TOTAL"]
    result.stdout.fnmatch_lines(["3 files skipped due to complete coverage."])
    assert "empty file" not in result.stdout.str()


# --- show_missing, precision, sort ---------------------------------------------------


def test_show_missing_from_setup_cfg(pytester: pytest.Pytester) -> None:
    project(pytester, {"setup.cfg": "[coverage:report]\nshow_missing = True\n"})
    result = run(pytester)  # the default report, term
    result.stdout.fnmatch_lines(["Name*Cover*Missing", "src/pkg/mod.py *%   5, *11"])


@pytest.mark.parametrize(("precision", "cover"), [("0", r"\d+%"), ("3", r"\d+\.\d{3}%")])
def test_precision_from_tox_ini(pytester: pytest.Pytester, precision: str, cover: str) -> None:
    project(pytester)
    pytester.makeini(f"[pytest]\npythonpath = src\n\n[coverage:report]\nprecision = {precision}\n")
    result = run(pytester, "--bytecode-cov-fail-under=99", "--bytecode-cov-fail-under-branches=1")
    table = rows(result.outlines)
    assert all(re.fullmatch(cover, cells[-1]) for cells in table.values()), table
    assert table["src/pkg/other.py"][-1] == ("100%" if precision == "0" else "100.000%")
    assert table["src/pkg/mod.py"][-1] != table["src/pkg/other.py"][-1]
    required = "99%" if precision == "0" else "99.000%"
    result.stdout.fnmatch_lines(
        [
            f"FAIL Required bytecode instruction coverage of {required} not reached. "
            f"Total coverage: {table['TOTAL'][-1]}",
        ]
    )
    shown = re.search(r"Required bytecode branch coverage of (\S+) reached", result.stdout.str())
    assert shown is not None and shown[1] == ("1%" if precision == "0" else "1.000%")


def test_precision_zero_never_hides_a_failure(pytester: pytest.Pytester) -> None:
    """With precision 0 a total just under the threshold shows its decimals."""
    project(pytester, {".coveragerc": "[report]\nprecision = 0\n"})
    run(pytester, "--bytecode-cov-report=json:r.json")
    percent = load_json(pytester.path / "r.json")["totals"]["percent_covered"]
    minimum = f"{percent + 0.004:.3f}"  # just above the total: the same whole percent
    result = run(pytester, f"--bytecode-cov-fail-under={minimum}")
    assert result.ret == 1
    line = next(x for x in result.outlines if x.startswith("FAIL Required"))
    shown = re.search(r"of (\S+)% not reached\. Total coverage: (\S+)%$", line)
    assert shown is not None, line
    assert shown[1] == repr(float(minimum))  # the threshold keeps its decimals
    assert float(shown[2]) < float(minimum)


@pytest.mark.parametrize(
    ("sort", "column", "reverse"),
    [
        ("-Cover", -1, True),
        ("cover", -1, False),
        ("Stmts", 0, False),  # coverage.py's name for our Instr
        ("-instr", 0, True),
        ("MISS", 1, False),
        ("BrPart", 3, False),  # coverage.py's name for our BrMiss
        ("-BrMiss", 3, True),
        ("-name", None, True),
    ],
)
def test_sort(pytester: pytest.Pytester, sort: str, column: int | None, reverse: bool) -> None:
    project(pytester, {"pyproject.toml": f'[tool.coverage.report]\nsort = "{sort}"\n'})
    table = rows(run(pytester).outlines)
    table.pop("TOTAL")

    def key(name: str) -> tuple[float, str]:
        if column is None:
            return 0, name
        return float(table[name][column].rstrip("%")), name

    assert list(table) == sorted(table, key=key, reverse=reverse)
    assert len(table) == 4


# --- [report] include / omit -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "kept"),
    [
        (
            "omit = src/pkg/other.py\n",
            ["src/pkg/__init__.py", "src/pkg/empty.py", "src/pkg/mod.py"],
        ),
        ("include = */mod.py\n", ["src/pkg/mod.py"]),
        ("include = src/*\nomit = *init*, *empty*\n", ["src/pkg/mod.py", "src/pkg/other.py"]),
    ],
)
def test_report_include_and_omit(pytester: pytest.Pytester, config: str, kept: list[str]) -> None:
    project(pytester, {".coveragerc": f"[report]\n{config}"})
    result = run(
        pytester,
        "--bytecode-cov-report=term",
        "--bytecode-cov-report=json:r.json",
        "--bytecode-cov-fail-under=0",
    )
    assert result.ret == 0
    table = rows(result.outlines)
    assert list(table) == [*kept, "TOTAL"]
    report = load_json(pytester.path / "r.json")
    assert list(report["files"]) == kept
    assert (
        report["totals"]["instructions"]
        == int(table["TOTAL"][0])
        == sum(int(table[name][0]) for name in kept)
    )
    # Left out of reports, not out of the data file.
    assert len(load_json(pytester.path / ".bytecode-cov")["files"]) == 4


def test_report_omit_everything_fails_fail_under(pytester: pytest.Pytester) -> None:
    project(pytester, {".coveragerc": "[report]\nomit = */pkg/*\n"})
    result = run(pytester, "--bytecode-cov-fail-under=10")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "FAIL Required bytecode instruction coverage of 10.00% not reached: no instructions "
            "are left to report (4 measured files left out by [report] include/omit) "
            "(no-data-collected)"
        ]
    )


# --- [run] source for a bare --bytecode-cov ----------------------------------------


@pytest.mark.parametrize(
    ("config", "files"),
    [
        ('source = ["pkg.other"]', ["src/pkg/other.py"]),
        (
            'source = ["src/pkg"]',
            ["src/pkg/__init__.py", "src/pkg/empty.py", "src/pkg/mod.py", "src/pkg/other.py"],
        ),
        ('source_pkgs = ["pkg.mod", "pkg.other"]', ["src/pkg/mod.py", "src/pkg/other.py"]),
    ],
)
def test_run_source_for_a_bare_option(
    pytester: pytest.Pytester, config: str, files: list[str]
) -> None:
    project(pytester, {"pyproject.toml": f"[tool.coverage.run]\n{config}\n"})
    result = pytester.runpytest("--bytecode-cov-report=json:r.json", "--bytecode-cov")
    assert result.ret == 0
    assert list(load_json(pytester.path / "r.json")["files"]) == files
    # A SOURCE given wins, as --cov=SOURCE does over [run] source.
    pytester.runpytest("--bytecode-cov=pkg.mod", "--bytecode-cov-report=json:r.json")
    assert list(load_json(pytester.path / "r.json")["files"]) == ["src/pkg/mod.py"]


def test_run_source_in_the_ini_file_and_include_ignored(pytester: pytest.Pytester) -> None:
    """``bytecode_cov = true`` is the bare option; like coverage.py, ``[run]
    include`` does not narrow a ``[run] source``."""
    config = '[tool.coverage.run]\nsource = ["pkg.other"]\ninclude = ["*/mod.py"]\n'
    project(pytester, {"pyproject.toml": config})
    pytester.makeini("[pytest]\npythonpath = src\nbytecode_cov = true\n")
    pytester.runpytest("--bytecode-cov-report=json:r.json")
    assert list(load_json(pytester.path / "r.json")["files"]) == ["src/pkg/other.py"]


# --- fail-under-branches -------------------------------------------------------------


def test_fail_under_branches(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = run(pytester, "--bytecode-cov-fail-under-branches=90")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL Required bytecode branch coverage of 90.00% not reached. Total branch coverage: *%"]
    )
    result = run(pytester, "--bytecode-cov-fail-under-branches=1", "--bytecode-cov-fail-under=1")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "Required bytecode instruction coverage of 1.00% reached. Total coverage: *%",
            "Required bytecode branch coverage of 1.00% reached. Total branch coverage: *%",
        ]
    )


def test_fail_under_branches_from_the_ini_file_without_jumps(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makeini(
        "[pytest]\npythonpath = src\nbytecode_cov = pkg.other\n"
        "bytecode_cov_fail_under_branches = 100\n"
    )
    result = pytester.runpytest()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "Required bytecode branch coverage of 100.00% reached. Total branch coverage: "
            "100.00% (no conditional jumps were measured)"
        ]
    )


# --- bad values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        (
            {".coveragerc": "[report]\nsort = Nope\n"},
            [],
            "[report] sort = Nope (.coveragerc): unknown column 'Nope' (known: Name, Instr, "
            "Miss, Branch, BrMiss, Cover, or coverage.py's Stmts for Instr and BrPart for "
            "BrMiss; a leading - sorts in reverse)",
        ),
        (
            {"pyproject.toml": "[tool.coverage.report]\nprecision = -1\n"},
            [],
            "[report] precision = -1 (pyproject.toml): must be a whole number from 0 to 10",
        ),
        (
            {"setup.cfg": "[coverage:report]\nprecision = 1.5\n"},
            [],
            "coverage.py's configuration: Couldn't read config file */setup.cfg: *'1.5'",
        ),
        (
            {"pyproject.toml": '[tool.coverage.run]\nsource = ["nope"]\n'},
            ["--bytecode-cov"],
            "[run] source = nope (pyproject.toml): not a directory (from the rootdir) or an "
            "importable package or module name",
        ),
        (
            {},
            ["--bytecode-cov-fail-under-branches=101"],
            "--bytecode-cov-fail-under-branches=101: must be a number from 0 to 100",
        ),
        (
            {},
            ["--bytecode-cov-report=term-missing:skip-empty"],
            "--bytecode-cov-report=term-missing:skip-empty: report type 'term-missing' takes "
            "no destination, only the modifier skip-covered",
        ),
    ],
)
def test_bad_values(
    pytester: pytest.Pytester, config: dict[str, str], args: list[str], message: str
) -> None:
    project(pytester, config)
    result = pytester.runpytest(
        *(args if "--bytecode-cov" in args else ["--bytecode-cov=pkg", *args])
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert [line for line in result.errlines if line.strip()] == [
        line for line in result.errlines if line.startswith("ERROR:")
    ]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


# --- pytest-bytecode report -------------------------------------------------------------


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = cli.main(["report", *args])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_cli_reads_the_current_directorys_config(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester)
    run(pytester, "--bytecode-cov-report=")
    monkeypatch.chdir(pytester.path)
    monkeypatch.delenv("COVERAGE_RCFILE", raising=False)
    status, full, _ = _report(capsys)
    assert status == 0 and names(full) == ALL
    config = (
        "[report]\nskip_covered = true\nprecision = 1\nshow_missing = true\nomit = */other.py\n"
    )
    pytester.path.joinpath(".coveragerc").write_text(config)
    status, lines, err = _report(capsys, "--fail-under-branches", "99", "--fail-under", "1")
    assert status == 1 and not err
    assert names(lines) == ["src/pkg/mod.py", "TOTAL"]
    assert lines[2].split()[-1] == "Missing"
    assert re.fullmatch(r"\d+\.\d%", rows(lines)["TOTAL"][-1])
    assert "2 files skipped due to complete coverage." in lines  # __init__.py, empty.py
    assert lines[-1].startswith(
        "FAIL Required bytecode branch coverage of 99.0% not reached. Total branch coverage: "
    )
    assert not any("instruction coverage" in line for line in lines)  # passed: not printed
    # [report] omit leaves other.py out of the total too.
    assert int(rows(lines)["TOTAL"][0]) < int(rows(full)["TOTAL"][0])
    pytester.path.joinpath(".coveragerc").write_text("[report]\nsort = -Stmts\n")
    status, lines, _ = _report(capsys)
    table = rows(lines)
    table.pop("TOTAL")
    assert list(table) == sorted(table, key=lambda n: (int(table[n][0]), n), reverse=True)


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        (
            "[report]\nsort = Stmt\n",
            [],
            "[report] sort = Stmt (.coveragerc): unknown column 'Stmt'",
        ),
        ("", ["--fail-under-branches", "-3"], "--fail-under-branches=-3: must be a number from"),
        ("", ["--type", "term:skip"], "--type=term:skip: report type 'term' takes no destination"),
    ],
)
def test_cli_bad_values(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    config: str,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COVERAGE_RCFILE", raising=False)
    (tmp_path / ".coveragerc").write_text(config)
    status, _, err = _report(capsys, "--data", "missing-is-not-read-first", *args)
    assert status == 2
    assert err.startswith(f"pytest-bytecode: error: {message}")
    assert len(err.strip().splitlines()) == 1


# --- partial_branches: a jump's outcomes left out ---------------------------------

NO_BRANCH = {
    "src/pkg/__init__.py": "",
    "src/pkg/mod.py": """
        def f(x):
            if x > 0:  # pragma: no branch
                return "pos"
            if x > 5:
                return "big"
            return "neg"
    """,
    "tests/test_mod.py": """
        from pkg.mod import f

        def test_f():
            assert f(1) == "pos"
    """,
}


def _branch_cells(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = run(
        pytester, "--bytecode-cov-report=term-missing", "--bytecode-cov-report=json", *args
    )
    result.assert_outcomes(passed=1)
    return rows(result.outlines)["src/pkg/mod.py"][2:4]


def test_pragma_no_branch_leaves_a_jump_out(pytester: pytest.Pytester) -> None:
    """``# pragma: no branch`` (coverage.py's default ``partial_branches``):
    the jump on that line counts no outcome; the line 4 jump, which never
    ran, still counts two missed."""
    make_project(pytester, NO_BRANCH)
    assert _branch_cells(pytester) == ["2", "2"]
    entry = load_json(pytester.path / "bytecode-cov.json")["files"]["src/pkg/mod.py"]
    assert not [arc for arc in entry["missing_arcs"] if arc["line"] == 3]  # after a blank line 1
    raw = load_json(pytester.path / ".bytecode-cov")["files"]["src/pkg/mod.py"]
    assert raw["no_branch_lines"] == [3]


def test_partial_branches_from_the_configuration(pytester: pytest.Pytester) -> None:
    """Setting ``partial_branches`` replaces the default, as in coverage.py:
    the pragma no longer applies, the configured pattern does."""
    make_project(pytester, NO_BRANCH)
    (pytester.path / ".coveragerc").write_text("[report]\npartial_branches =\n    if x > 5:\n")
    assert _branch_cells(pytester) == ["2", "1"]


def test_no_branch_lines_come_from_the_cache_and_follow_the_rules(
    pytester: pytest.Pytester,
) -> None:
    """A warm run takes the no-branch lines from the instrumentation cache
    entry; changing ``partial_branches`` changes the cache key, so the new
    rule applies at once (not a stale entry's lines)."""
    make_project(pytester, NO_BRANCH)
    log = pytester.path / "debug.log"
    assert _branch_cells(pytester) == ["2", "2"]
    assert _branch_cells(pytester, "--debug=debug.log") == ["2", "2"]
    assert "cache hit for pkg.mod" in log.read_text()
    raw = load_json(pytester.path / ".bytecode-cov")["files"]["src/pkg/mod.py"]
    assert raw["no_branch_lines"] == [3]
    (pytester.path / ".coveragerc").write_text("[report]\npartial_branches =\n    if x > 5:\n")
    assert _branch_cells(pytester, "--debug=debug.log") == ["2", "1"]
    assert "cache hit for pkg.mod" not in log.read_text()
    raw = load_json(pytester.path / ".bytecode-cov")["files"]["src/pkg/mod.py"]
    assert raw["no_branch_lines"] == [5]
