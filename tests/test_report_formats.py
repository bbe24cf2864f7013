"""The line-based reports (LCOV, Cobertura XML, coverage.py data), read back by
the tools that consume them: ``genhtml``, ``diff-cover``, an XML parser with
the Cobertura DTD (lxml), coverage.py's own ``report`` and ``json``.

``genhtml`` comes from the Debian ``lcov`` package, which ``.ci/run``
installs; the tests that need it fail, never skip, when it is missing.
``diff-cover`` and ``lxml`` come with the ``test`` extra.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import code, dataset, make_project

from pytest_bytecode.report import ReportSpec, ReportSpecError, parse_spec, write_reports
from pytest_bytecode.report.lines import file_lines
from pytest_bytecode.results import compute

#: Line numbers matter below: no leading newline, so ``def sign`` is line 1.
MOD = """\
def sign(x):
    if x > 0:
        return "pos"
    return "neg"


def unused():
    return 1


def first_even(xs):
    for x in xs:
        if x % 2 == 0:
            return x
    return None
"""
TEST = """\
from pkg.mod import first_even, sign


def test_it():
    assert sign(1) == "pos"
    assert first_even([1, 2]) == 2
"""
MOD_PATH = "src/pkg/mod.py"
#: The lines of MOD that never ran, and the statements coverage.py counts.
MISSED = [4, 8, 15]
STATEMENTS = 11

#: Cobertura's coverage-04.dtd (cobertura/web, htdocs/xml/coverage-04.dtd).
COBERTURA_DTD = """
<!ELEMENT coverage (sources?,packages)>
<!ATTLIST coverage line-rate        CDATA #REQUIRED>
<!ATTLIST coverage branch-rate      CDATA #REQUIRED>
<!ATTLIST coverage lines-covered    CDATA #REQUIRED>
<!ATTLIST coverage lines-valid      CDATA #REQUIRED>
<!ATTLIST coverage branches-covered CDATA #REQUIRED>
<!ATTLIST coverage branches-valid   CDATA #REQUIRED>
<!ATTLIST coverage complexity       CDATA #REQUIRED>
<!ATTLIST coverage version          CDATA #REQUIRED>
<!ATTLIST coverage timestamp        CDATA #REQUIRED>
<!ELEMENT sources (source*)>
<!ELEMENT source (#PCDATA)>
<!ELEMENT packages (package*)>
<!ELEMENT package (classes)>
<!ATTLIST package name        CDATA #REQUIRED>
<!ATTLIST package line-rate   CDATA #REQUIRED>
<!ATTLIST package branch-rate CDATA #REQUIRED>
<!ATTLIST package complexity  CDATA #REQUIRED>
<!ELEMENT classes (class*)>
<!ELEMENT class (methods,lines)>
<!ATTLIST class name        CDATA #REQUIRED>
<!ATTLIST class filename    CDATA #REQUIRED>
<!ATTLIST class line-rate   CDATA #REQUIRED>
<!ATTLIST class branch-rate CDATA #REQUIRED>
<!ATTLIST class complexity  CDATA #REQUIRED>
<!ELEMENT methods (method*)>
<!ELEMENT method (lines)>
<!ATTLIST method name        CDATA #REQUIRED>
<!ATTLIST method signature   CDATA #REQUIRED>
<!ATTLIST method line-rate   CDATA #REQUIRED>
<!ATTLIST method branch-rate CDATA #REQUIRED>
<!ATTLIST method complexity  CDATA #REQUIRED>
<!ELEMENT lines (line*)>
<!ELEMENT line (conditions*)>
<!ATTLIST line number CDATA #REQUIRED>
<!ATTLIST line hits   CDATA #REQUIRED>
<!ATTLIST line branch CDATA "false">
<!ATTLIST line condition-coverage CDATA "100%">
<!ELEMENT conditions (condition*)>
<!ELEMENT condition EMPTY>
<!ATTLIST condition number CDATA #REQUIRED>
<!ATTLIST condition type CDATA #REQUIRED>
<!ATTLIST condition coverage CDATA #REQUIRED>
"""


def tool(name: str) -> str:
    """An installed command, from this interpreter's environment first."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    assert found, f"{name} is not installed (.ci/run and the test extra install it)"
    return found


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture
def measured(pytester: pytest.Pytester) -> Path:
    """The sample project, measured with every report (JSON as the reference)."""
    make_project(
        pytester,
        {"src/pkg/__init__.py": "", MOD_PATH: MOD, "tests/test_mod.py": TEST},
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecode-cov=pkg",
        "--bytecode-cov-report=json", "--bytecode-cov-report=lcov",
        "--bytecode-cov-report=xml", "--bytecode-cov-report=coverage",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    return pytester.path


def reference(root: Path) -> dict[str, Any]:
    """Per file, from the JSON report: line -> largest count, and the jumps'
    outcome counts per line in code-object then offset order."""
    doc = json.loads((root / "bytecode-cov.json").read_text())
    out: dict[str, Any] = {}
    for path, fdoc in doc["files"].items():
        hits: dict[int, int] = {}
        jumps: dict[int, list[tuple[int, int]]] = {}
        for c in fdoc["code_objects"]:
            for i in c["instructions"]:
                hits[i["line"]] = max(hits.get(i["line"], 0), i["count"])
            for b in sorted(c["branches"], key=lambda b: b["offset"]):
                counts = (b["outcomes"][0]["count"], b["outcomes"][1]["count"])
                jumps.setdefault(b["line"], []).append(counts)
        out[path] = {"hits": hits, "jumps": jumps, "summary": fdoc["summary"]}
    return out


def parse_lcov(text: str) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    rec: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "SF":
            rec = {"DA": {}, "BRDA": {}, "FN": {}, "FNDA": {}}
            records[value] = rec
        elif key == "DA":
            n, hits = value.split(",")
            rec["DA"][int(n)] = int(hits)
        elif key == "BRDA":
            n, block, branch, taken = value.split(",")
            rec["BRDA"][int(n), int(block), int(branch)] = taken
        elif key == "FN":
            n, name = value.split(",", 1)
            rec["FN"][name] = int(n)
        elif key == "FNDA":
            hits, name = value.split(",", 1)
            rec["FNDA"][name] = int(hits)
        elif key in ("LF", "LH", "BRF", "BRH", "FNF", "FNH"):
            rec[key] = int(value)
        else:
            assert key in ("TN", "end_of_record"), line
    return records


# --- LCOV ---------------------------------------------------------------------


def test_lcov_content_matches_the_counts(measured: Path) -> None:
    text = (measured / "bytecode-cov.lcov").read_text()
    assert text.startswith("TN:\nSF:") and text.endswith("end_of_record\n")
    records = parse_lcov(text)
    ref = reference(measured)
    assert set(records) == set(ref) == {"src/pkg/__init__.py", MOD_PATH}
    for path, rec in records.items():
        assert rec["DA"] == ref[path]["hits"]
        assert rec["LF"] == len(rec["DA"]) and rec["LH"] == sum(1 for h in rec["DA"].values() if h)
        expected: dict[tuple[int, int, int], str] = {}
        for line, jumps in ref[path]["jumps"].items():
            for block, counts in enumerate(jumps):
                for branch, count in enumerate(counts):
                    expected[line, block, branch] = str(count) if any(counts) else "-"
        assert rec["BRDA"] == expected
        summary = ref[path]["summary"]
        assert rec["BRF"] == summary["branches"] and rec["BRH"] == summary["covered_branches"]
    mod = records[MOD_PATH]
    assert [n for n, hits in mod["DA"].items() if not hits] == MISSED
    assert mod["DA"][3] == 1
    # `if x > 0` fell through once (x=1), never jumped; the loop went on twice.
    assert {k[2]: v for k, v in mod["BRDA"].items() if k[0] == 2} == {0: "1", 1: "0"}
    assert {k[2]: v for k, v in mod["BRDA"].items() if k[0] == 12} == {0: "2", 1: "0"}
    assert mod["FN"] == {"sign": 1, "unused": 7, "first_even": 11}
    assert mod["FNDA"] == {"sign": 1, "unused": 0, "first_even": 1}
    assert "FNF:3\nFNH:2\n" in text


@pytest.mark.subprocess
def test_genhtml_reads_the_lcov_report(measured: Path) -> None:
    records = parse_lcov((measured / "bytecode-cov.lcov").read_text())
    lf = sum(r["LF"] for r in records.values())
    lh = sum(r["LH"] for r in records.values())
    brf = sum(r["BRF"] for r in records.values())
    brh = sum(r["BRH"] for r in records.values())
    proc = run([tool("genhtml"), "bytecode-cov.lcov", "--branch-coverage", "-o", "html"], measured)
    assert f"({lh} of {lf} lines)" in proc.stdout
    assert "(2 of 3 functions)" in proc.stdout
    assert f"({brh} of {brf} branches)" in proc.stdout
    index = (measured / "html" / "index.html").read_text()
    cells = re.findall(r'class="headerCovTableEntry">(\d+)<', index)
    assert cells == [str(lh), str(lf), "2", "3", str(brh), str(brf)]
    page = next((measured / "html").rglob("mod.py.gcov.html")).read_text()
    assert 'class="lineNoCov"' in page and "return 1" in page


def git_project(root: Path) -> None:
    """``root`` as a git repository whose ``main`` has ``mod.py`` as a stub:
    the measured ``MOD`` is a change on top of it."""
    env_args = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "-c",
        "init.defaultBranch=main",
    ]
    mod = root / MOD_PATH
    text = mod.read_text()
    mod.write_text("# stub\n")
    run(["git", *env_args, "init", "-q"], root)
    run(["git", *env_args, "add", "src", "tests"], root)
    run(["git", *env_args, "commit", "-q", "-m", "stub"], root)
    mod.write_text(text)


def diff_cover_violations(root: Path, report: str) -> dict[str, list[int]]:
    run(
        [tool("diff-cover"), report, "--compare-branch=main", "--format", "json:diff.json"],
        root,
    )
    stats = json.loads((root / "diff.json").read_text())["src_stats"]
    return {path: s["violation_lines"] for path, s in stats.items()}


@pytest.mark.subprocess
def test_diff_cover_reads_the_lcov_report(measured: Path) -> None:
    git_project(measured)
    assert diff_cover_violations(measured, "bytecode-cov.lcov") == {MOD_PATH: MISSED}


# --- Cobertura XML ------------------------------------------------------------


@pytest.mark.subprocess
def test_cobertura_is_valid_and_matches_the_counts(measured: Path) -> None:
    etree = pytest.importorskip("lxml.etree", reason="lxml comes with the test extra")
    raw = (measured / "bytecode-cov.xml").read_bytes()
    dtd = etree.DTD(io.StringIO(COBERTURA_DTD))
    assert dtd.validate(etree.fromstring(raw)), dtd.error_log.filter_from_errors()
    top = ET.fromstring(raw)
    assert [s.text for s in top.iter("source")] == [os.path.abspath(measured)]
    ref = reference(measured)
    classes = {c.get("filename"): c for c in top.iter("class")}
    assert set(classes) == set(ref)
    assert [p.get("name") for p in top.iter("package")] == ["src.pkg"]
    lines_valid = lines_covered = 0
    for path, xclass in classes.items():
        rows = {int(x.get("number", "")): x for x in xclass.iter("line")}
        assert {n: int(x.get("hits", "")) for n, x in rows.items()} == ref[path]["hits"]
        for n, jumps in ref[path]["jumps"].items():
            taken = sum(1 for counts in jumps for c in counts if c)
            total = 2 * len(jumps)
            assert rows[n].get("branch") == "true"
            assert rows[n].get("condition-coverage") == f"{100 * taken // total}% ({taken}/{total})"
        lines_valid += len(rows)
        lines_covered += sum(1 for x in rows.values() if x.get("hits") != "0")
    mod = classes[MOD_PATH]
    assert mod.get("name") == "mod.py"
    assert {int(x.get("number", "")) for x in mod.iter("line") if x.get("hits") == "0"} == set(
        MISSED
    )
    row2 = next(x for x in mod.iter("line") if x.get("number") == "2")
    assert row2.get("condition-coverage") == "50% (1/2)"
    assert top.get("lines-valid") == str(lines_valid)
    assert top.get("lines-covered") == str(lines_covered)
    totals = json.loads((measured / "bytecode-cov.json").read_text())["totals"]
    assert top.get("branches-valid") == str(totals["branches"])
    assert top.get("branches-covered") == str(totals["covered_branches"])
    assert top.get("timestamp", "").isdigit() and top.get("version")


@pytest.mark.subprocess
def test_diff_cover_reads_the_cobertura_report(measured: Path) -> None:
    git_project(measured)
    assert diff_cover_violations(measured, "bytecode-cov.xml") == {MOD_PATH: MISSED}


def test_cobertura_escapes_names(tmp_path: Path) -> None:
    weird = 'dir&<"x">/m\x1bod.py'
    results = compute(dataset(code("f", [1, 0], lines=[1, 2]), path=weird))
    out: list[str] = []
    write_reports([ReportSpec("xml", "-")], results, out.append, tmp_path)
    top = ET.fromstring("\n".join(out))
    (xclass,) = top.iter("class")
    assert xclass.get("filename") == 'dir&<"x">/m\\x1bod.py'
    assert [(x.get("number"), x.get("hits")) for x in xclass.iter("line")] == [
        ("1", "1"),
        ("2", "0"),
    ]


# --- coverage.py data ---------------------------------------------------------


@pytest.mark.subprocess
def test_coverage_reads_the_data_file(measured: Path) -> None:
    lcov = parse_lcov((measured / "bytecode-cov.lcov").read_text())
    coverage = [sys.executable, "-m", "coverage"]
    report = run([*coverage, "report", "-m", "--data-file=.coverage"], measured).stdout
    row = next(line for line in report.splitlines() if line.startswith(MOD_PATH))
    assert row.split()[1:3] == [str(STATEMENTS), str(len(MISSED))]
    assert row.endswith("4, 8, 15")
    run([*coverage, "json", "--data-file=.coverage", "-o", "cov.json"], measured)
    files = json.loads((measured / "cov.json").read_text())["files"]
    assert set(files) == set(lcov)
    for path, fdoc in files.items():
        ours = [n for n, hits in lcov[path]["DA"].items() if hits]
        statements = set(fdoc["executed_lines"]) | set(fdoc["missing_lines"])
        assert fdoc["executed_lines"] == [n for n in ours if n in statements]
    assert files[MOD_PATH]["missing_lines"] == MISSED
    # coverage html and coverage xml read it too: the same missed lines.
    run([*coverage, "html", "--data-file=.coverage", "-d", "covhtml"], measured)
    page = next((measured / "covhtml").glob("*mod_py.html")).read_text()
    for line in MISSED:
        assert re.search(rf'<p class="mis[^"]*"><span class="n"><a id="t{line}"', page), line
    run([*coverage, "xml", "--data-file=.coverage", "-o", "cov.xml"], measured)
    xml_lines = {
        int(el.get("number", "0")): int(el.get("hits", "0"))
        for cls in ET.parse(measured / "cov.xml").iter("class")
        if cls.get("filename", "").endswith("mod.py")
        for el in cls.iter("line")
    }
    assert sorted(n for n, hits in xml_lines.items() if not hits) == MISSED


@pytest.mark.subprocess
def test_coverage_data_equals_coverage_run(measured: Path) -> None:
    """The lines we record are those coverage.py records measuring the same tests."""
    run(
        [sys.executable, "-m", "coverage", "run", "--data-file=theirs", "--source=src",
         "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        measured,
    )  # fmt: skip
    from coverage import CoverageData

    ours, theirs = CoverageData(str(measured / ".coverage")), CoverageData(str(measured / "theirs"))
    ours.read()
    theirs.read()
    assert not ours.has_arcs()
    assert ours.measured_files() == theirs.measured_files()
    for name in ours.measured_files():
        assert os.path.isabs(name)
        assert sorted(ours.lines(name) or []) == sorted(theirs.lines(name) or []), name


def test_coverage_data_is_replaced_only_when_it_is_coverage_data(tmp_path: Path) -> None:
    from coverage import CoverageData

    results = compute(dataset(code("f", [1, 0, 3], lines=[1, 2, 3]), path="m.py"))
    spec = ReportSpec("coverage", ".coverage")
    path = tmp_path / ".coverage"
    old = CoverageData(str(path))
    old.add_lines({str(tmp_path / "gone.py"): [1]})
    old.write()
    old.close()
    assert write_reports([spec], results, print, tmp_path) == [path]
    data = CoverageData(str(path))
    data.read()
    assert data.measured_files() == {str(tmp_path / "m.py")}
    assert sorted(data.lines(str(tmp_path / "m.py")) or []) == [1, 3]
    assert not list(tmp_path.glob(".coverage.*"))  # no temporary file left behind

    path.write_text("my notes\n")
    with pytest.raises(OSError, match=r"\.coverage: exists and is not a coverage.py data file"):
        write_reports([spec], results, print, tmp_path)
    assert path.read_text() == "my notes\n"


def test_coverage_data_paths_start_at_the_root(tmp_path: Path) -> None:
    from coverage import CoverageData

    results = compute(dataset(code("f", [1]), path="pkg/m.py"))
    root = tmp_path / "project"
    write_reports([ReportSpec("coverage", "out/.cov")], results, print, tmp_path, root=root)
    data = CoverageData(str(tmp_path / "out" / ".cov"))
    data.read()
    assert data.measured_files() == {os.path.realpath(root / "pkg" / "m.py")}


def test_a_refused_coverage_file_fails_the_run(pytester: pytest.Pytester) -> None:
    make_project(pytester, {"src/pkg/__init__.py": "", MOD_PATH: MOD, "tests/test_mod.py": TEST})
    (pytester.path / ".coverage").write_text("not coverage data\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecode-cov=pkg",
                                "--bytecode-cov-report=coverage")  # fmt: skip
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL bytecode coverage report not written: cannot write *.coverage: exists and is "
         "not a coverage.py data file, not replaced"]
    )  # fmt: skip
    assert (pytester.path / ".coverage").read_text() == "not coverage data\n"


# --- specs and the per-line view ----------------------------------------------


def test_report_specs() -> None:
    assert parse_spec("lcov") == ReportSpec("lcov", "bytecode-cov.lcov")
    assert parse_spec("xml:out/c.xml") == ReportSpec("xml", "out/c.xml")
    assert parse_spec("coverage") == ReportSpec("coverage", ".coverage")
    with pytest.raises(ReportSpecError, match="cannot go to standard output"):
        parse_spec("coverage:-")


def test_lcov_and_xml_go_to_standard_output(tmp_path: Path) -> None:
    results = compute(dataset(code("f", [1, 0], lines=[1, 2]), path="m.py"))
    out: list[str] = []
    assert write_reports([ReportSpec("lcov", "-")], results, out.append, tmp_path) == []
    assert out == ["TN:", "SF:m.py", "FN:1,f", "FNDA:1,f", "FNF:1", "FNH:1", "BRF:0",
                   "BRH:0", "DA:1,1", "DA:2,0", "LF:2", "LH:1", "end_of_record"]  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_line_view_numbers_jumps_per_line_across_code_objects() -> None:
    outer = code(
        "<module>", [1, 1], opnames=["LOAD_NAME", "STORE_NAME"], lines=[1, 3],
        branches=[(8, "POP_JUMP_IF_TRUE", 3, (10, 20), (0, 0)),
                  (2, "POP_JUMP_IF_FALSE", 3, (4, 30), (1, 0))],
    )  # fmt: skip
    lam = code(
        "f.<locals>.<lambda>", [5, 2, 0], lines=[3, 3, None], firstlineno=3,
        branches=[(4, "POP_JUMP_IF_FALSE", 3, (6, 8), (3, 2))],
    )  # fmt: skip
    cls = code("C", [1, 1], opnames=["LOAD_NAME", "STORE_NAME"], firstlineno=5, lines=[5, 5])
    again = code("f.<locals>.<lambda>", [0], firstlineno=7, lines=[7])
    view = file_lines(compute(dataset(outer, lam, cls, again, path="m.py")).files["m.py"])
    assert view.hits == {1: 1, 3: 5, 5: 1, 7: 0}
    assert [(b.line, b.block, b.counts, b.ran) for b in view.branches] == [
        (3, 0, (1, 0), True),  # the module's jumps by offset, then the lambda's
        (3, 1, (0, 0), False),
        (3, 2, (3, 2), True),
    ]
    assert [(f.name, f.line, f.count) for f in view.functions] == [
        ("f.<locals>.<lambda>", 3, 5),
        ("f.<locals>.<lambda>#2", 7, 0),
    ]
