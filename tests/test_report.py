"""Reports: the JSON report against its documented schema, and the term table."""

from __future__ import annotations

import dis
import json
import textwrap
import types
from typing import Any

import pytest
from test_data import sample

from pytest_bytecode import versions
from pytest_bytecode.report import ReportSpec, ReportSpecError, parse_spec, term
from pytest_bytecode.results import compute

# The schema of README.md's "JSON report" section, as a nested template:
# a type, a dict of keys -> templates (every key required, no others), a
# one-element list (a list of that), or ("map", template) for any-key dicts.
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
        "crashed_workers": [{"worker": STR, "error": STR, "recovered": bool, "saved_through": STR}],
        "traced_during": [STR],
    },
    "totals": SUMMARY,
    "files": (
        "map",
        {
            "summary": SUMMARY,
            "partial": bool,
            "code_objects": [
                {
                    "qualname": STR,
                    "name": STR,
                    "firstlineno": INT,
                    "traced": bool,
                    "instructions": [{"offset": INT, "opname": STR, "line": OPT_INT, "count": INT}],
                    "branches": [
                        {
                            "offset": INT,
                            "opname": STR,
                            "line": OPT_INT,
                            "outcomes": [{"target_offset": INT, "count": INT}],
                        }
                    ],
                }
            ],
        },
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
    assert report["meta"]["format"] == 1
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
    totals = report["totals"]
    assert totals["instructions"] == sum(
        f["summary"]["instructions"] for f in report["files"].values()
    )
    assert totals["percent_covered"] == pytest.approx(
        100 * totals["covered_instructions"] / totals["instructions"]
    )


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
    assert lines[4].split() == ["pkg/mod.py", "3", "1", "2", "1", "66.67%", "2[POP_JUMP_IF_FALSE]"]
    assert lines[-1].split() == ["TOTAL", "3", "1", "2", "1", "66.67%"]
