"""The ``--bytecode-cov`` plugin end to end, through pytester.

In-process runs where possible; subprocess runs where the behaviour needs
a fresh interpreter (early imports, xdist, pytest-cov).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from bc_helpers import PKG, load_json, make_project

from pytest_bytecode import data, versions


def test_term_report(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*bytecode coverage: Python*",
            "Name*Instr*Miss*Branch*BrMiss*Cover",
            "src/pkg/__init__.py*",
            "src/pkg/mod.py *",
            "src/pkg/other.py *",
            "TOTAL *",
        ]
    )
    assert "test_mod.py" not in result.stdout.str().split("bytecode coverage")[1]
    assert result.ret == 0
    assert (pytester.path / ".bytecode-cov").exists()


@pytest.mark.parametrize("layout", ["src", "flat"])
def test_default_source_is_project_packages(pytester: pytest.Pytester, layout: str) -> None:
    files = dict(PKG)
    if layout == "flat":
        files = {k.removeprefix("src/"): v for k, v in PKG.items()}
        pytester.makeini("[pytest]\npythonpath = .\n")
    make_project(pytester, files)
    result = pytester.runpytest("--bytecode-cov", "--bytecode-cov-report=json:out.json")
    result.assert_outcomes(passed=1)
    prefix = "src/" if layout == "src" else ""
    assert sorted(load_json(pytester.path / "out.json")["files"]) == [
        f"{prefix}pkg/__init__.py",
        f"{prefix}pkg/mod.py",
        f"{prefix}pkg/other.py",
    ]


@pytest.mark.parametrize("source", ["src/pkg", "src/pkg/mod.py", "pkg.mod"])
def test_source_forms(pytester: pytest.Pytester, source: str) -> None:
    make_project(pytester)
    result = pytester.runpytest(f"--bytecode-cov={source}", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    files = load_json(pytester.path / "bytecode-cov.json")["files"]
    assert "src/pkg/mod.py" in files
    assert ("src/pkg/other.py" in files) == (source == "src/pkg")


def _stdlib_source_file(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and bool(spec.origin) and os.path.isfile(str(spec.origin))


@pytest.mark.skipif(
    not _stdlib_source_file("colorsys"),
    reason="the standard library has no .py source files here (Pyodide zips it)",
)
def test_stdlib_module_named_explicitly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_std="""
        import colorsys

        def test_it():
            assert colorsys.rgb_to_hsv(0, 0, 0) == (0, 0, 0)
        """
    )
    result = pytester.runpytest("--bytecode-cov=colorsys", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    files = load_json(pytester.path / "bytecode-cov.json")["files"]
    assert [p for p in files if p.endswith("colorsys.py")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bytecode-cov=no_such_pkg"], "--bytecode-cov=no_such_pkg: not a directory*"),
        (["--bytecode-cov=tox.ini"], "--bytecode-cov=tox.ini: a SOURCE file must be*"),
        (
            ["--bytecode-cov=pkg", "--bytecode-cov-report=annotate"],
            "*unknown report type 'annotate'*",
        ),
        (["--bytecode-cov=pkg", "--bytecode-cov-report=term:x"], "*takes no destination*"),
        (
            ["--bytecode-cov=pkg", "--bytecode-cov-fail-under=101"],
            "*--bytecode-cov-fail-under=101: must be a number from 0 to 100",
        ),
        (
            ["--bytecode-cov=pkg", "--bytecode-cov-baseline=nope.json"],
            "*nope.json: no such file; create it with --bytecode-cov-baseline-update",
        ),
        (
            ["--bytecode-cov=pkg", "--bytecode-cov-baseline-update"],
            "*needs --bytecode-cov-baseline=PATH*",
        ),
    ],
)
def test_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    make_project(pytester)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_corrupt_data_file_with_append(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / ".bytecode-cov").write_text("garbage")
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-append")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bytecode-cov-append: *corrupt data file*"])


def test_ini_keys_and_command_line_wins(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makeini(
        """
        [pytest]
        pythonpath = src
        bytecode_cov = pkg.other
        bytecode_cov_report = json:ini.json
        bytecode_cov_data = ini-data
        bytecode_cov_fail_under = 0
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert list(load_json(pytester.path / "ini.json")["files"]) == ["src/pkg/other.py"]
    assert (pytester.path / "ini-data").exists()
    result = pytester.runpytest("--bytecode-cov=pkg.mod", "--bytecode-cov-report=json:cli.json")
    assert list(load_json(pytester.path / "cli.json")["files"]) == ["src/pkg/mod.py"]
    result = pytester.runpytest("--no-bytecode-cov")
    assert "bytecode coverage" not in result.stdout.str()


def test_empty_report_value_prints_nothing(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=")
    result.assert_outcomes(passed=1)
    assert "TOTAL" not in result.stdout.str()
    assert (pytester.path / ".bytecode-cov").exists()


def test_term_missing(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=term-missing")
    # line 5 (`return "neg"`) and g's body never ran; other.py was never imported
    result.stdout.fnmatch_lines(
        ["Name*Cover*Missing", "src/pkg/mod.py *%   5, *11", "src/pkg/other.py * 2, 4-5"]
    )


def test_exclusions_and_omit_from_coverage_config(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makefile(
        ".toml",
        pyproject="""
        [tool.coverage.run]
        omit = ["src/pkg/other.py"]
        [tool.coverage.report]
        exclude_also = ["def g"]
        """,
    )
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    report = load_json(pytester.path / "bytecode-cov.json")
    assert "src/pkg/other.py" not in report["files"]
    mod = report["files"]["src/pkg/mod.py"]
    lines = {i["line"] for c in mod["code_objects"] for i in c["instructions"]}
    assert lines.isdisjoint({7, 8, 10, 11})  # pragma: no cover def, exclude_also def g
    assert 0 < mod["summary"]["covered_instructions"] < mod["summary"]["instructions"]


def test_conftest_imports_are_measured(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makeconftest("import pkg.other\n")
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    other = load_json(pytester.path / "bytecode-cov.json")["files"]["src/pkg/other.py"]
    module = other["code_objects"][0]
    assert module["name"] == "<module>"
    assert all(i["count"] == 1 for i in module["instructions"])


@pytest.mark.parametrize("mode", ["prepend", "append", "importlib"])
def test_import_modes(pytester: pytest.Pytester, mode: str) -> None:
    files = dict(PKG)
    files["src/pkg/test_inside.py"] = """
        from pkg.other import h

        def test_h():
            assert h() == 1
    """
    make_project(pytester, files)
    result = pytester.runpytest(
        f"--import-mode={mode}", "--bytecode-cov=src/pkg", "--bytecode-cov-report=json"
    )
    result.assert_outcomes(passed=2)
    report = load_json(pytester.path / "bytecode-cov.json")
    assert "src/pkg/test_inside.py" not in report["files"]
    assert report["files"]["src/pkg/other.py"]["summary"]["covered_instructions"] > 0


def test_namespace_package(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        {
            "src/ns/sub/mod.py": "def f():\n    return 1\n",
            "tests/test_ns.py": "from ns.sub.mod import f\n\ndef test_f():\n    assert f() == 1\n",
        },
    )
    result = pytester.runpytest("--bytecode-cov=src/ns", "--bytecode-cov-report=json")
    result.assert_outcomes(passed=1)
    summary = load_json(pytester.path / "bytecode-cov.json")["files"]["src/ns/sub/mod.py"]
    assert summary["summary"]["percent_covered"] == 100.0


def test_assertion_rewriting_coexists(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        {
            "src/helpers/__init__.py": "def check(x):\n    assert x == 2\n",
            "tests/conftest.py": "import pytest\npytest.register_assert_rewrite('helpers')\n",
            "tests/test_h.py": "from helpers import check\n\ndef test_h():\n    check(1)\n",
        },
    )
    result = pytester.runpytest("--bytecode-cov=helpers", "--bytecode-cov-report=json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])  # rewritten assertion message
    files = load_json(pytester.path / "bytecode-cov.json")["files"]
    assert files["src/helpers/__init__.py"]["summary"]["covered_instructions"] > 0


@pytest.mark.subprocess
def test_modules_imported_before_hook_warn(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    # pytest < 8 imports -p plugins before the ini's pythonpath applies.
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "src"))
    result = pytester.runpytest_subprocess(
        "-p", "pkg.other", "--bytecode-cov=pkg", "--bytecode-cov-report=json"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*bytecode-cov-early-import*module-level code not measured*pkg.other*"]
    )
    other = load_json(pytester.path / "bytecode-cov.json")["files"]["src/pkg/other.py"]
    assert other["partial"] is True
    assert [c["name"] for c in other["code_objects"]] == ["h"]


def test_fail_under(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-fail-under=99.5")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL Required bytecode instruction coverage of 99.50% not reached. Total coverage: *%"]
    )
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-fail-under=1")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["Required bytecode instruction coverage of 1.00% reached*"])


def test_baseline(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(test_more="from pkg.other import h\n\ndef test_h():\n    assert h() == 1\n")
    args = ["--bytecode-cov=pkg", "--bytecode-cov-baseline=base.json", "tests", "test_more.py"]
    result = pytester.runpytest(*args, "--bytecode-cov-baseline-update")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*baseline written to*base.json"])
    assert pytester.runpytest(*args).ret == 0
    result = pytester.runpytest(*args[:-1])  # without test_more.py: h is no longer run
    assert result.ret == 1
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "FAIL bytecode coverage dropped below the baseline*: 2 functions cover fewer*",
            "*dropped: <module> (src/pkg/other.py): * → 0 covered instructions",
            "*dropped: h (src/pkg/other.py): * → 0 covered instructions",
        ]
    )
    raw = load_json(pytester.path / "base.json")
    raw["python"] = "3.99"
    (pytester.path / "base.json").write_text(json.dumps(raw))
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *recorded with Python 3.99*instruction sets differ*"])


def test_baseline_gains_are_reported(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-baseline=base.json"]
    assert pytester.runpytest(*args, "--bytecode-cov-baseline-update").ret == 0
    pytester.makepyfile(test_more="from pkg.other import h\n\ndef test_h():\n    assert h() == 1\n")
    result = pytester.runpytest(*args, "tests", "test_more.py")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*gained: h (src/pkg/other.py): 0 → * covered instructions"])


def test_data_file_and_append(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-data=cov.data", "--bytecode-cov-report="]
    pytester.runpytest(*args)
    first = data.load(pytester.path / "cov.data")
    pytester.runpytest(*args, "--bytecode-cov-append")
    second = data.load(pytester.path / "cov.data")
    for path, fdata in first.files.items():
        for one, two in zip(fdata.code_objects, second.files[path].code_objects, strict=True):
            assert [i.count for i in two.instructions] == [2 * i.count for i in one.instructions]
    assert first.python == versions.PY_TAG


def test_failing_tests_keep_their_outcome(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(test_bad="def test_bad():\n    assert False\n")
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-fail-under=0")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
