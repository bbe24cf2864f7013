"""Reports: the JSON report against its documented schema, and the term table."""

from __future__ import annotations

import dis
import json
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import code, dataset
from test_data import sample

from pytest_bytecode import reportconfig, versions
from pytest_bytecode.report import ReportSpec, ReportSpecError, parse_spec, term
from pytest_bytecode.results import compute
from pytest_bytecode.sources import read_coverage_config

# The schema of README.md's "JSON report" section, as a nested template:
# a type, a dict of keys -> templates (every key required, no others), a
# one-element list (a list of that), ("map", template) for any-key dicts, or
# ("optional", template, optional keys' template) for objects with optional keys.
INT, NUM, STR = int, (int, float), str
OPT_INT = (int, type(None))
SUMMARY = {
    "instructions": INT,
    "covered_instructions": INT,
    "branches": INT,
    "covered_branches": INT,
    "percent_covered": NUM,
}
SCHEMA: Any = {
    "meta": {
        "format": INT,
        "version": STR,
        "python": STR,
        "filters": STR,
        "crashed_workers": [{"worker": STR, "error": STR, "recovered": bool, "saved_through": STR}],
        "traced_during": [STR],
        "contexts": ("nullable", [STR]),
    },
    "totals": SUMMARY,
    "files": (
        "map",
        (
            "optional",
            {
                "summary": SUMMARY,
                "partial": bool,
                "missing_lines": [INT],
                "partial_lines": [
                    {"line": INT, "spans": [[INT]], "fragments": [STR], "opnames": [STR]}
                ],
                "missing_arcs": [
                    {
                        "line": INT,
                        "target_line": OPT_INT,
                        "offset": INT,
                        "opname": STR,
                        "outcome": STR,
                        "target_offset": INT,
                    }
                ],
                "code_objects": [
                    {
                        "qualname": STR,
                        "name": STR,
                        "firstlineno": INT,
                        "traced": bool,
                        "instructions": [
                            (
                                "optional",
                                {
                                    "offset": INT,
                                    "opname": STR,
                                    "line": OPT_INT,
                                    "end_line": OPT_INT,
                                    "column": OPT_INT,
                                    "end_column": OPT_INT,
                                    "count": INT,
                                    "filter": (str, type(None)),
                                },
                                {"folded_into": INT, "contexts": [INT]},
                            )
                        ],
                        "branches": [
                            {
                                "offset": INT,
                                "opname": STR,
                                "line": OPT_INT,
                                "filter": (str, type(None)),
                                "outcomes": [
                                    (
                                        "optional",
                                        {"target_offset": INT, "count": INT},
                                        {"contexts": [INT]},
                                    )
                                ],
                            }
                        ],
                    }
                ],
            },
            {"contexts_by_line": ("map", [INT])},
        ),
    ),
}


def validate(value: Any, schema: Any, where: str = "$") -> None:
    """Raise AssertionError naming the first place ``value`` breaks ``schema``."""
    if isinstance(schema, dict):
        assert isinstance(value, dict), f"{where}: expected an object"
        assert set(value) == set(schema), f"{where}: keys {sorted(value)} != {sorted(schema)}"
        for key, sub in schema.items():
            validate(value[key], sub, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list), f"{where}: expected an array"
        for i, item in enumerate(value):
            validate(item, schema[0], f"{where}[{i}]")
    elif isinstance(schema, tuple) and schema and schema[0] == "optional":
        # ("optional", required keys, keys that may be there)
        assert isinstance(value, dict), f"{where}: expected an object"
        extra = {k: v for k, v in value.items() if k not in schema[1]}
        assert set(extra) <= set(schema[2]), f"{where}: unexpected keys {sorted(extra)}"
        validate({k: v for k, v in value.items() if k in schema[1]}, schema[1], where)
        validate(extra, {k: schema[2][k] for k in extra}, where)
    elif isinstance(schema, tuple) and schema and schema[0] == "nullable":
        if value is not None:
            validate(value, schema[1], where)
    elif isinstance(schema, tuple) and schema and schema[0] == "map":
        assert isinstance(value, dict), f"{where}: expected an object"
        for key, item in value.items():
            assert isinstance(key, str)
            validate(item, schema[1], f"{where}[{key!r}]")
    else:
        assert isinstance(value, schema), f"{where}: {value!r} is not {schema}"
        assert not (isinstance(value, bool) and schema in (int, NUM)), f"{where}: bool"


def test_validator_catches_mistakes() -> None:
    with pytest.raises(AssertionError, match=r"\$.totals: keys"):
        validate({"meta": {}, "totals": {}}, {"meta": {}, "totals": SUMMARY})
    with pytest.raises(AssertionError, match=r"\$.a\[1\]: 'x' is not"):
        validate({"a": [1, "x"]}, {"a": [int]})


def test_json_report_schema_and_offsets(pytester: pytest.Pytester) -> None:
    source = textwrap.dedent(
        """
        def f(x):
            if x:
                return [i for i in range(x)]
            return None

        class C:
            def m(self):
                return lambda: 1
        """
    )
    pytester.makepyfile(
        mod=source, test_mod="from mod import f\n\ndef test_f():\n    assert f(2) == [0, 1]\n"
    )
    pytester.syspathinsert()
    result = pytester.runpytest("--bytecode-cov=mod", "--bytecode-cov-report=json:r.json")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "r.json").read_text())
    validate(report, SCHEMA)
    assert report["meta"]["format"] == 3
    assert report["meta"]["filters"] == "default"
    assert report["meta"]["python"] == versions.PY_VERSION
    entry = report["files"]["mod.py"]

    # Every code object appears, executed or not, with dis offsets of the original code.
    # Compiled as importlib does (no ``from __future__`` of this test module).
    code = compile(source, str(pytester.path / "mod.py"), "exec", dont_inherit=True)
    expected = []

    def walk(co: types.CodeType) -> None:
        expected.append((co.co_name, [(i.offset, i.opname) for i in versions.instructions(co)]))
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    walk(code)
    got = [
        (c["name"], [(i["offset"], i["opname"]) for i in c["instructions"]])
        for c in entry["code_objects"]
    ]
    # Bookkeeping instructions the engine does not count as units (RESUME, the
    # cell/generator prologue) are left out; everything listed is a real
    # instruction of the original code at its dis offset, in order.
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, listed), (_, real) in zip(got, expected, strict=True):
        assert listed, name
        assert [pair for pair in real if pair in listed] == listed, name
    names = {c["name"]: c for c in entry["code_objects"]}
    assert all(i["count"] == 0 for i in names["m"]["instructions"])
    assert names["f"]["instructions"][0]["count"] == 1
    for branch in names["f"]["branches"]:
        assert len(branch["outcomes"]) == 2
        assert branch["opname"] in dis.opmap or branch["opname"] in versions.ALL_OPNAMES
    # Positions: co_positions() of the original (3.11+), lines only on 3.10.
    load_x = next(i for i in names["f"]["instructions"] if i["opname"].startswith("LOAD_FAST"))
    assert (load_x["line"], load_x["end_line"]) == (2, 2)  # makepyfile drops the first newline
    if versions.HAS_COLUMN_POSITIONS:
        assert (load_x["column"], load_x["end_column"]) == (7, 8)
    else:
        assert (load_x["column"], load_x["end_column"]) == (None, None)
    # What never ran, in the user's terms: f's "return None" and all of m.
    assert entry["missing_lines"] == [4, 8]
    assert [(a["line"], a["target_line"], a["outcome"]) for a in entry["missing_arcs"]] == [
        (2, 4, "jump")
    ]
    totals = report["totals"]
    assert totals["instructions"] == sum(
        f["summary"]["instructions"] for f in report["files"].values()
    )
    assert totals["percent_covered"] == pytest.approx(
        100 * totals["covered_instructions"] / totals["instructions"]
    )


def test_json_partial_lines_and_filters(pytester: pytest.Pytester) -> None:
    """A partly run line lists the source fragments that never ran (3.11+);
    filtered instructions are listed with their raw counts and filter."""
    source = textwrap.dedent(
        """
        def g(a, b):
            return a or b

        def h(x):
            try:
                return x()
            finally:
                x.close()
        """
    )
    tests = "from mod import g\n\ndef test_g():\n    assert g(1, 2) == 1\n"
    pytester.makepyfile(mod=source, test_mod=tests)
    pytester.syspathinsert()
    result = pytester.runpytest("--bytecode-cov=mod", "--bytecode-cov-report=json:r.json")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "r.json").read_text())
    validate(report, SCHEMA)
    entry = report["files"]["mod.py"]
    (partial,) = entry["partial_lines"]
    assert partial["line"] == 2
    if versions.HAS_COLUMN_POSITIONS:
        assert partial["fragments"] == ["b"]
        assert partial["spans"] == [[16, 17]]
    else:
        assert partial["fragments"] == []
    h = next(c for c in entry["code_objects"] if c["name"] == "h")
    filtered = {i["filter"] for i in h["instructions"]} - {None}
    assert "duplicates" in filtered
    copies = [i for i in h["instructions"] if i["filter"] == "duplicates"]
    offsets = {i["offset"] for i in h["instructions"]}
    folded = [i["folded_into"] for i in copies if "folded_into" in i]
    assert folded and set(folded) <= offsets  # glue of a copy is left out, not folded
    # The summary counts only what the filters leave.
    kept = [i for i in h["instructions"] if i["filter"] is None]
    total = sum(1 for c in entry["code_objects"] for i in c["instructions"] if i["filter"] is None)
    assert entry["summary"]["instructions"] == total
    assert kept


def test_parse_spec() -> None:
    assert parse_spec("") is None
    assert parse_spec("term") == ReportSpec("term")
    assert parse_spec("json") == ReportSpec("json", "bytecode-cov.json")
    assert parse_spec("json:x/y.json") == ReportSpec("json", "x/y.json")
    with pytest.raises(ReportSpecError, match="unknown report type 'annotate'"):
        parse_spec("annotate")


def test_term_table() -> None:
    lines = list(term.render(compute(sample(1)), missing=True))
    assert lines[2].split() == ["Name", "Instr", "Miss", "Branch", "BrMiss", "Cover", "Missing"]
    assert lines[4].split() == ["pkg/mod.py", "3", "1", "2", "1", "66.67%", "2->exit"]
    assert lines[-1].split() == ["TOTAL", "3", "1", "2", "1", "66.67%"]


def test_parse_spec_skip_covered() -> None:
    assert parse_spec("term:skip-covered") == ReportSpec("term", skip_covered=True)
    assert parse_spec("term-missing:skip-covered") == ReportSpec("term-missing", skip_covered=True)
    with pytest.raises(
        ReportSpecError, match="takes no destination, only the modifier skip-covered"
    ):
        parse_spec("term:skip-empty")
    with pytest.raises(ReportSpecError, match="unknown report type 'json-missing'"):
        parse_spec("json-missing:skip-covered")


@pytest.mark.parametrize(
    ("text", "precision"), [("", 2), ("precision = 0\n", 0), ("precision = 4\n", 4)]
)
def test_precision_is_ours_unless_a_file_sets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, precision: int
) -> None:
    """coverage.py's default precision is 0, ours 2; a file's 0 is kept."""
    monkeypatch.delenv("COVERAGE_RCFILE", raising=False)
    (tmp_path / ".coveragerc").write_text(f"[report]\n{text}")
    config = read_coverage_config(tmp_path, lambda message: None)
    assert reportconfig.from_coverage_config(config, tmp_path).precision == precision


def test_table_skips_and_sorts() -> None:
    data = sample(1)  # pkg/mod.py: 3 instructions, one missed
    data.files["a/full.py"] = dataset(code("g", [1, 2])).files["m.py"]
    data.files["z/empty.py"] = dataset(code("h", [])).files["m.py"]
    res = compute(data)
    config = reportconfig.ReportConfig(skip_empty=True, sort="Cover")
    rows = reportconfig.table(res, config, skip_covered=False)
    assert [f.path for f in rows.files] == ["pkg/mod.py", "a/full.py"]
    assert rows.end_lines() == ["1 empty file skipped."]
    rows = reportconfig.table(res, config, skip_covered=True)
    assert [f.path for f in rows.files] == ["pkg/mod.py"]
    assert rows.end_lines() == ["2 files skipped due to complete coverage."]
    assert rows.total == res.totals
    lines = list(term.render(res, rows, precision=0))
    assert lines[4].split() == ["pkg/mod.py", "3", "1", "2", "1", "67%"]
    assert lines[-2:] == ["", "2 files skipped due to complete coverage."]
