"""The HTML report (``html[:DIR]``): its pieces without a browser (escaping,
column spans), then the pages in headless Chromium driven by Playwright.

The browser tests fail, never skip, when Playwright or Chromium is missing:
the ``test`` extra installs Playwright, and ``.ci/run`` installs Debian's
``chromium`` (Playwright drives that one; it downloads no browser).  They
check the DOM against an oracle computed here: the missed instructions of
the JSON report, located with ``co_positions()`` of the source compiled
again.
"""

from __future__ import annotations

import dis
import json
import os
import re
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import code, dataset, make_project

from pytest_bytecode import cli, versions
from pytest_bytecode.contexts import PHASES, CodeContexts, Contexts, nodeid_of
from pytest_bytecode.data import CovData, FileData, load
from pytest_bytecode.engine.model import CodeCounts, InstructionCount
from pytest_bytecode.report import ReportSpec, ReportSpecError, html, parse_spec, write_reports
from pytest_bytecode.report import positions as where
from pytest_bytecode.results import FileResult, Results, compute

MOD = """\
def sign(x):
    if x > 0:
        return "pos"
    return "neg"


def pick(flag, n):
    label = "yes" if flag else "no"
    total = sum(
        i * 2
        for i in range(n)
    )
    return f"{label}: {total} \u00e9t\u00e9"


def unused():
    return "<script>alert('x')</script> & done"


def excluded():  # pragma: no cover
    return 1
"""
#: Never imported: listed with zero counts; its name holds an ``&``.
WEIRD = '''\
"""Shown literally: </script><b>not bold</b> &amp;"""
TEXT = "<script>document.title = 'owned'</script>"


def f():
    return TEXT
'''
TEST = """\
from pkg.mod import pick, sign


def test_it():
    assert sign(1) == "pos"
    assert pick(True, 3).startswith("yes")
"""
WEIRD_PATH = "src/pkg/we&ird.py"
#: With contexts: a fixture whose setup and teardown run measured code, and
#: test ids holding markup, an ``&`` and quotes.
CONTEXT_TEST = """\
import pytest
from pkg.mod import pick, sign


@pytest.fixture
def signed():
    yield sign(-1)
    pick(False, 0)


def test_it(signed):
    assert sign(1) == "pos"
    assert pick(True, 3).startswith("yes")


@pytest.mark.parametrize("v", ["<b>&amp;</b>", "q'\\""])
def test_odd(v):
    assert sign(-1) == "neg"
"""
#: The ids of ``test_odd`` in :data:`CONTEXT_TEST`.
ODD_TESTS = ("tests/test_mod.py::test_odd[<b>&amp;</b>]", "tests/test_mod.py::test_odd[q'\"]")


def project_files() -> dict[str, str]:
    return {
        "src/pkg/__init__.py": "",
        "src/pkg/mod.py": MOD,
        "src/pkg/other.py": "VALUE = 1\n\n\ndef h():\n    return VALUE\n",
        WEIRD_PATH: WEIRD,
        "tests/test_mod.py": TEST,
    }


def measured(
    pytester: pytest.Pytester,
    files: dict[str, str] | None = None,
    *,
    contexts: bool = False,
    passed: int = 1,
) -> Path:
    """The project measured with the HTML and JSON reports (and per-test
    contexts with ``contexts``); returns its folder."""
    make_project(pytester, files or project_files())
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecode-cov=pkg",
        "--bytecode-cov-report=html", "--bytecode-cov-report=json",
        *(["--bytecode-cov-context=test"] if contexts else []),
    )  # fmt: skip
    result.assert_outcomes(passed=passed)
    assert (pytester.path / "bytecode-htmlcov" / "index.html").is_file()
    return pytester.path


def measured_with_contexts(pytester: pytest.Pytester) -> tuple[Path, Results]:
    """The project run with :data:`CONTEXT_TEST` and per-test contexts: its
    folder, and the results of its data file (the oracle of the contexts)."""
    root = measured(
        pytester, project_files() | {"tests/test_mod.py": CONTEXT_TEST}, contexts=True, passed=3
    )
    return root, compute(load(root / ".bytecode-cov"))


def page_json(page: str) -> str:
    """The text of a file page's JSON element."""
    return page.split('<script type="application/json" id="bcdata">')[1].split("</script>")[0]


def line_contexts(fres: FileResult, names: tuple[str, ...]) -> dict[int, list[str]]:
    """Line -> the names of the contexts that ran it, in the run's order, as
    :class:`CodeContexts` answers (the union over the line's code objects)."""
    assert fres.contexts is not None
    found: dict[int, set[int]] = {}
    for raw, cc in zip(fres.raw_code_objects, fres.contexts.per_code(), strict=True):
        if cc is None:
            continue
        for line in {i.line for i in raw.instructions} | {b.line for b in raw.branches}:
            if line is not None and cc.line(line):
                found.setdefault(line, set()).update(cc.line(line))
    return {line: [names[c] for c in sorted(cs)] for line, cs in sorted(found.items())}


def count_tests(contexts: list[str]) -> int:
    """How many tests the contexts are of (``""``, what ran outside every
    test phase, is none)."""
    return len({nodeid_of(name) for name in contexts if name != html.OUTSIDE})


# --- the oracle: missed spans from the JSON report and co_positions() ----------


def compiled_by_key(path: Path) -> dict[tuple[str, int, int], types.CodeType]:
    """Every code object of the file compiled again, by (qualname, firstlineno, n)."""
    out: dict[tuple[str, int, int], types.CodeType] = {}
    seen: dict[tuple[str, int], int] = {}

    def walk(co: types.CodeType) -> None:
        key = (co.co_qualname, co.co_firstlineno)
        out[(*key, seen.get(key, 0))] = co
        seen[key] = seen.get(key, 0) + 1
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    walk(compile(path.read_bytes(), str(path), "exec", dont_inherit=True))
    return out


def expected_spans(path: Path, fjson: dict[str, Any]) -> dict[int, list[list[int]]]:
    """Line -> the union of the character spans of the instructions the JSON
    report lists with count 0 (3.11+)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    compiled = compiled_by_key(path)
    seen: dict[tuple[str, int], int] = {}
    raw: dict[int, list[tuple[int, int]]] = {}
    for cj in fjson["code_objects"]:
        key = (cj["qualname"], cj["firstlineno"])
        co = compiled[(*key, seen.get(key, 0))]
        seen[key] = seen.get(key, 0) + 1
        positions = list(co.co_positions())
        for ins in cj["instructions"]:
            if ins["count"]:
                continue
            first, last, col, end_col = positions[ins["offset"] // 2]
            if first is None or col is None or end_col is None:
                continue
            for n in range(first, last + 1):
                text = lines[n - 1]
                data = text.encode("utf-8")
                if n == first:
                    start = len(data[:col].decode("utf-8"))
                else:
                    start = len(text) - len(text.lstrip())
                end = len(data[:end_col].decode("utf-8")) if n == last else len(text.rstrip())
                if end > start:
                    raw.setdefault(n, []).append((start, end))
    out: dict[int, list[list[int]]] = {}
    for n, spans in sorted(raw.items()):
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out[n] = merged
    return out


#: The DOM's missed spans: line -> [start, end] character ranges of `<mark>` runs.
DOM_SPANS = """() => {
  const out = {};
  for (const row of document.querySelectorAll('#source > p')) {
    const n = row.id.slice(1);
    let pos = 0;
    const spans = [];
    for (const node of row.querySelector('code').childNodes) {
      const len = node.textContent.length;
      if (node.nodeName === 'MARK') {
        if (spans.length && spans[spans.length - 1][1] === pos) spans[spans.length - 1][1] += len;
        else spans.push([pos, pos + len]);
      }
      pos += len;
    }
    if (spans.length) out[n] = spans;
  }
  return out;
}"""


# --- without a browser ----------------------------------------------------------


def test_html_is_a_report_type_writing_a_folder() -> None:
    assert parse_spec("html") == ReportSpec("html", "bytecode-htmlcov")
    assert parse_spec("html:out/cov") == ReportSpec("html", "out/cov")
    with pytest.raises(ReportSpecError, match="writes a folder of pages, it cannot go to"):
        parse_spec("html:-")


def test_every_shown_value_is_escaped(tmp_path: Path) -> None:
    name = "a&b<i>.py"
    (tmp_path / name).write_text("x = '<script>alert(1)</script>'\n", encoding="utf-8")
    counts = code("<lambda>&<b>", [0, 1], opnames=["LOAD_CONST", "RE<TURN>&"], lines=[1, 1])
    results = compute(dataset(counts, path=name, sha=""))
    [index] = write_reports([ReportSpec("html", "out")], results, print, tmp_path)
    assert index == tmp_path / "out" / "index.html"
    page = (tmp_path / "out" / html.page_name(name)).read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h1>a&amp;b&lt;i&gt;.py</h1>" in page
    assert "&lt;lambda&gt;&amp;&lt;b&gt; (line 1)</option>" in page
    # the counts the page's script reads: no markup can end their element
    data = page.split('<script type="application/json" id="bcdata">')[1].split("</script>")[0]
    assert "<" not in data and ">" not in data and "&" not in data
    counts = json.loads(data)
    assert counts["ops"][counts["codes"][0]["n"][1]] == "RE<TURN>&"
    text = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert ">a&amp;b&lt;i&gt;.py</a>" in text and "<i>" not in text
    assert html.page_name(name).endswith(".html") and "&" not in html.page_name(name)


def test_char_column_turns_utf8_bytes_into_characters() -> None:
    line = 'x = "\u00e9t\u00e9" + y'
    assert where.char_column(line, len('x = "\u00e9t\u00e9"'.encode())) == len(
        'x = "\u00e9t\u00e9"'
    )
    assert where.char_column("abc", 2) == 2
    assert where.char_column("abc", 9) == 3


def test_position_spans_over_one_and_several_lines() -> None:
    lines = ["total = sum(", "    i * 2", "    for i in r  ", ")"]
    assert where.position_spans(lines, (2, 2, 4, 9)) == [(2, 4, 9)]
    assert where.position_spans(lines, (1, 3, 8, 14)) == [(1, 8, 12), (2, 4, 9), (3, 4, 14)]
    assert where.position_spans(lines, (1, 1, None, None)) == []
    assert where.position_spans(lines, (None, None, None, None)) == []
    assert where.merge_spans([(5, 7), (0, 2), (2, 3), (6, 9)]) == [(0, 3), (5, 9)]


def _counts_of(source: str, missed_ops: set[str]) -> tuple[bytes, list[CodeCounts]]:
    """Counts for every instruction of ``source``'s code objects (as the
    JSON report would list them): 0 for ``missed_ops`` in functions, 1 for
    the rest."""
    import dis

    raw = source.encode()
    codes = []
    for co in where.code_tree(compile(raw, "m.py", "exec", dont_inherit=True)):
        ins, line = [], None
        for i in dis.get_instructions(co):
            positions = getattr(i, "positions", None)  # 3.11+
            line = positions.lineno if positions else i.starts_line or line
            if i.opname not in ("CACHE", "RESUME", "EXTENDED_ARG"):
                count = 0 if i.opname in missed_ops and co.co_name != "<module>" else 1
                ins.append(InstructionCount(i.offset, i.opname, line, count))
        qualname = getattr(co, "co_qualname", co.co_name)
        codes.append(CodeCounts(qualname, co.co_name, co.co_firstlineno, None, tuple(ins), ()))
    return raw, codes


@pytest.mark.skipif(not versions.HAS_COLUMN_POSITIONS, reason="3.10 has no co_positions()")
def test_missed_spans_come_from_co_positions() -> None:
    source = 'def f(x):\n    return x.upper() if x else "\u00e9mpty"\n'
    raw, codes = _counts_of(source, {"LOAD_CONST", "RETURN_CONST"})
    positions, unmatched = where.code_positions(where.matched_code(raw, "m.py", codes), codes)
    assert unmatched == 0
    lines = source.split("\n")
    spans = where.missed_spans(lines, codes, positions)
    start = lines[1].index('"')
    assert spans[2] == [(start, start + len('"\u00e9mpty"'))]
    # a code object compiled otherwise (another opname at an offset) gets no spans
    bad = codes[1]
    changed = CodeCounts(
        bad.qualname, bad.name, bad.firstlineno, None,
        tuple(InstructionCount(i.offset, "NOP", i.line, i.count) for i in bad.instructions), (),
    )  # fmt: skip
    both = [codes[0], changed]
    positions, unmatched = where.code_positions(where.matched_code(raw, "m.py", both), both)
    assert unmatched == 1 and positions[1] is None


def test_the_disassembly_shows_arguments_as_dis_does() -> None:
    source = 'def f(x):\n    return x.upper() if x else "' + "e" * 60 + '"\n'
    raw, codes = _counts_of(source, set())
    arguments = html.code_arguments(where.matched_code(raw, "m.py", codes), codes)
    f = compile(source, "m.py", "exec").co_consts[0]
    expected = {i.offset: i.argrepr for i in dis.get_instructions(f)}
    shown = dict(zip((i.offset for i in codes[1].instructions), arguments[1], strict=True))
    for offset, text in shown.items():
        if len(expected[offset]) <= html.ARGUMENT_WIDTH:
            assert text == expected[offset]
        else:  # cut, with an ellipsis
            assert len(text) == html.ARGUMENT_WIDTH and text.endswith("\N{HORIZONTAL ELLIPSIS}")
    assert "x" in shown.values() and any(
        t.endswith("\N{HORIZONTAL ELLIPSIS}") for t in shown.values()
    )
    # no match (another opname at an offset): no arguments
    changed = CodeCounts("f", "f", 1, None, (InstructionCount(0, "NOP", 1, 0),), ())
    assert html.code_arguments(where.matched_code(raw, "m.py", [changed]), [changed]) == [[""]]


def test_render_text_cuts_overlapping_spans() -> None:
    out = html.render_text("if a < b:", [(3, 8)], [(3, 8, "jumped 0 of 2 <times>", True)])
    assert out == "if " + (
        '<mark class="nav b bp" title="jumped 0 of 2 &lt;times&gt;">a &lt; b</mark>:'
    )
    assert html.render_text("<x>", [], []) == "&lt;x&gt;"


def test_the_command_writes_it_from_a_data_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = measured(pytester)
    monkeypatch.chdir(root)
    assert cli.main(["report", "--data", ".bytecode-cov", "--type", "html:again"]) == 0
    assert f"report written to {root / 'again' / 'index.html'}" in capsys.readouterr().out
    page = (root / "again" / html.page_name("src/pkg/mod.py")).read_text()
    first = (root / "bytecode-htmlcov" / html.page_name("src/pkg/mod.py")).read_text()
    assert page == first
    assert sorted(p.name for p in (root / "again").iterdir()) == sorted(
        p.name for p in (root / "bytecode-htmlcov").iterdir()
    )


def source_of(page: str) -> str:
    """The source lines of a file page's HTML."""
    return page.split('<div id="source"')[1].split("</div>\n<aside")[0]


def test_a_changed_source_shows_no_spans_and_says_so(tmp_path: Path) -> None:
    source = "def f():\n    return 1\n"
    _, codes = _counts_of(source, {"LOAD_CONST", "LOAD_SMALL_INT", "RETURN_CONST", "RETURN_VALUE"})
    (tmp_path / "m.py").write_text(source + "# changed\n")
    data = CovData(files={"m.py": FileData("0" * 64, codes)})
    html.write(compute(data), tmp_path / "out", tmp_path)
    page = (tmp_path / "out" / html.page_name("m.py")).read_text()
    assert "changed since it was measured" in page
    lines = source_of(page)
    assert "<mark" not in lines and ' class="mis' in lines


def measured_module(
    pytester: pytest.Pytester,
) -> tuple[Path, tuple[str, ...], Any]:
    """:func:`measured_with_contexts`'s folder, its context names and its module's results."""
    root, results = measured_with_contexts(pytester)
    names = results.context_names
    assert names is not None
    fres = results.files["src/pkg/mod.py"]
    assert fres.contexts is not None
    return root, names, fres


#: What a page shows only when contexts were recorded.
CONTEXT_MARKUP = (' data-t="', 'id="ctx"', ">tests</th>", 'class="lg ctx"', '"cx":', '"x":')


def test_a_page_lists_the_tests_that_ran_each_line_and_instruction(
    pytester: pytest.Pytester,
) -> None:
    root, names, fres = measured_module(pytester)
    page = (root / "bytecode-htmlcov" / html.page_name(fres.path)).read_text(encoding="utf-8")
    raw = page_json(page)
    assert "<" not in raw and ">" not in raw and "&" not in raw
    for test in ODD_TESTS:  # escaped in the JSON, never raw in the page
        assert html.script_json(f"{test}|call")[1:-1] in raw
        assert test.split("::")[1] not in page
    shown = json.loads(raw)
    cx, sets = shown["cx"], shown["cs"]
    assert len({tuple(s) for s in sets}) == len(sets), "each set of contexts once"
    assert sets[0] == []

    def named(s: int) -> list[str]:
        return [cx[c] for c in sets[s]]

    # the names once, in the run's order; ct numbers their tests (-1: outside every test)
    assert cx == [n for n in names if n in set(cx)]
    assert [[nodeid_of(a) == nodeid_of(b) for b in cx] for a in cx] == [
        [ta == tb for tb in shown["ct"]] for ta in shown["ct"]
    ]
    assert [t < 0 for t in shown["ct"]] == [n == html.OUTSIDE for n in cx]
    # per line: the contexts, and the number of tests in the line's badge
    expected = line_contexts(fres, names)
    assert {int(n): named(s) for n, s in shown["L"].items()} == expected
    badges = {int(n): int(t) for n, t in re.findall(r'<p id="L(\d+)"[^>]* data-t="(\d+)"', page)}
    assert badges == {line: n for line, found in expected.items() if (n := count_tests(found))}
    setup, call, teardown = (f"tests/test_mod.py::test_it|{p}" for p in PHASES)
    odd = [f"{t}|call" for t in ODD_TESTS]
    assert expected[2] == [setup, call, *odd] and badges[2] == 3
    assert expected[3] == [call] and expected[4] == [setup, *odd]
    assert teardown in expected[8] and 17 not in expected  # unused() never ran
    # per instruction and per jump outcome: CodeContexts' answers
    jumps = 0
    per_code = fres.contexts.per_code()
    for counted, cc, entry in zip(fres.code_objects, per_code, shown["codes"], strict=True):
        assert entry["o"] == [i.offset for i in counted.instructions]
        if cc is None:
            assert "x" not in entry and "y" not in entry
            continue
        assert [named(s) for s in entry["x"]] == [
            [names[c] for c in cc.instruction(i.offset)] for i in counted.instructions
        ]
        assert [[named(a), named(b)] for a, b in entry.get("y", [])] == [
            [[names[c] for c in cc.outcome(b.offset, jumped)] for jumped in (False, True)]
            for b in counted.branches
        ]
        jumps += len(counted.branches)
    sign = next(e for e in shown["codes"] if e["q"] == "sign")
    assert jumps >= 2 and named(sign["y"][0][0]) != named(sign["y"][0][1])
    assert 1 not in badges  # `def sign`: run at import, in no test
    assert set(names) - {html.OUTSIDE} == {setup, call, teardown, *odd}
    index = (root / "bytecode-htmlcov" / "index.html").read_text(encoding="utf-8")
    assert "per-test contexts recorded: 3 tests ran code of these files (5 contexts" in index


def contexts_data(tmp_path: Path) -> CovData:
    """One function and its source; four of five contexts ran it, one of
    them outside every test (line 4 only that one)."""
    (tmp_path / "m.py").write_text("def f(x):\n    if x: y = 1\n    return y\nz = 1\n")
    f = code(
        "f", [3, 1, 0, 1, 1], lines=[1, 2, 2, 3, 4],
        branches=[(4, "POP_JUMP_IF_TRUE", 2, (6, 8), (1, 1))],
    )  # fmt: skip
    data = dataset(f, sha="")
    odd = "t.py::b[<&'\">]|call"
    data.contexts = Contexts(["other.py::t|call", "t.py::a|setup", odd, "t.py::a|call", ""])
    # bits: the instructions in order, then fell through and jumped
    data.contexts.add("m.py", ("f", 1, 0), 1, 0b0100011)
    data.contexts.add("m.py", ("f", 1, 0), 2, 0b1001001)
    data.contexts.add("m.py", ("f", 1, 0), 3, 0b0000001)
    data.contexts.add("m.py", ("f", 1, 0), 4, 0b0010001)
    data.contexts.add("other.py", ("g", 1, 0), 0, 1)
    return data


def test_contexts_are_named_once_per_page_and_numbered(tmp_path: Path) -> None:
    data = contexts_data(tmp_path)
    html.write(compute(data), tmp_path / "out", tmp_path)
    page = (tmp_path / "out" / html.page_name("m.py")).read_text(encoding="utf-8")
    shown = json.loads(page_json(page))
    odd = "t.py::b[<&'\">]|call"
    assert shown["cx"] == ["t.py::a|setup", odd, "t.py::a|call", ""]  # not other.py's
    assert shown["ct"] == [0, 1, 0, -1]
    assert html.script_json(odd) in page and odd not in page

    def named(s: int) -> list[str]:
        return [shown["cx"][c] for c in shown["cs"][s]]

    assert {n: named(s) for n, s in shown["L"].items()} == {
        "1": ["t.py::a|setup", odd, "t.py::a|call", ""],
        "2": ["t.py::a|setup", odd],
        "3": [odd],
        "4": [""],
    }
    [f] = shown["codes"]
    assert [named(s) for s in f["x"]] == [
        ["t.py::a|setup", odd, "t.py::a|call", ""], ["t.py::a|setup"], [], [odd], [""],
    ]  # fmt: skip
    assert [[named(a), named(b)] for a, b in f["y"]] == [[["t.py::a|setup"], [odd]]]
    assert re.findall(r'<p id="L(\d)"[^>]* data-t="(\d+)"', page) == [
        ("1", "2"), ("2", "2"), ("3", "1"),
    ]  # fmt: skip
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "per-test contexts recorded: 2 tests ran code of these files (3 contexts" in index


def test_without_contexts_pages_are_unchanged(tmp_path: Path) -> None:
    data = contexts_data(tmp_path)
    html.write(compute(data), tmp_path / "with", tmp_path)
    data.contexts = None
    html.write(compute(data), tmp_path / "without", tmp_path)
    name = html.page_name("m.py")
    page = (tmp_path / "without" / name).read_text(encoding="utf-8")
    index = (tmp_path / "without" / "index.html").read_text(encoding="utf-8")
    for markup in CONTEXT_MARKUP:
        assert markup not in page
    assert "contexts" not in index
    shown = json.loads(page_json(page))
    assert sorted(shown) == ["codes", "ops"]
    assert [sorted(c) for c in shown["codes"]] == [["a", "b", "c", "f", "l", "n", "o", "q"]]
    # with contexts, a line gains one attribute, and no markup
    with_page = (tmp_path / "with" / name).read_text(encoding="utf-8")
    for markup in CONTEXT_MARKUP:
        assert markup in with_page
    assert re.sub(r' data-t="\d+"', "", source_of(with_page)) == source_of(page)
    # contexts recorded, and no test ran measured code: said, and no line marked
    data.contexts = Contexts()
    html.write(compute(data), tmp_path / "none-ran", tmp_path)
    page = (tmp_path / "none-ran" / name).read_text(encoding="utf-8")
    assert ' data-t="' not in page and 'id="ctx"' in page
    assert json.loads(page_json(page))["cx"] == []
    index = (tmp_path / "none-ran" / "index.html").read_text(encoding="utf-8")
    assert "per-test contexts recorded: 0 tests ran code of these files (0 contexts" in index


def test_on_3_10_whole_lines_are_marked(pytester: pytest.Pytester) -> None:
    root = measured(pytester)
    page = (root / "bytecode-htmlcov" / html.page_name("src/pkg/mod.py")).read_text()
    lines = source_of(page)
    assert ' class="mis' in lines and ' class="par' in lines and ' class="exc' in lines
    if versions.HAS_COLUMN_POSITIONS:
        assert '<mark class="nav">' in lines and "no column positions" not in page
    else:
        assert "<mark" not in lines and "no column positions" in page


# --- in the browser -------------------------------------------------------------

#: The system Chromium, as .ci/run installs it (Debian's ``chromium``).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
    return found


class Browser:
    """A Chromium context with listeners: console errors, page errors and
    every request URL, since the last :meth:`reset`."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.listener = lambda r: self.requests.append(r.url)
        context.on("request", self.listener)

    def page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def check_clean(self, folder: Path) -> None:
        """No console error, and no request left ``folder``."""
        assert not self.errors, self.errors
        base = folder.resolve().as_uri() + "/"
        assert self.requests, "no request seen: the listener does not work"
        outside = [url for url in self.requests if not url.startswith(base)]
        assert not outside, outside


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed (the test extra installs it)")
    executable = chromium_path()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Browser]:
    b = Browser(chromium)
    yield b
    chromium.remove_listener("request", b.listener)
    for page in chromium.pages:
        page.close()


def open_page(browser: Browser, path: Path) -> Any:
    page = browser.page()
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page


@pytest.mark.subprocess
def test_missed_spans_in_the_browser_are_the_json_reports(
    pytester: pytest.Pytester, browser: Browser, tmp_path: Path
) -> None:
    root = measured(pytester)
    report = json.loads((root / "bytecode-cov.json").read_text())
    folder = root / "bytecode-htmlcov"
    checked = 0
    for path, fjson in report["files"].items():
        page = open_page(browser, folder / html.page_name(path))
        dom = {int(n): spans for n, spans in page.evaluate(DOM_SPANS).items()}
        if versions.HAS_COLUMN_POSITIONS:
            assert dom == expected_spans(root / path, fjson), path
            checked += len(dom)
        else:
            assert dom == {}
            missed = {i["line"] for c in fjson["code_objects"] for i in c["instructions"]
                      if not i["count"]}  # fmt: skip
            marked = set(page.eval_on_selector_all(
                "#source > p.mis, #source > p.par", "els => els.map(e => +e.id.slice(1))"
            ))  # fmt: skip
            assert missed <= marked
        page.screenshot(path=str(tmp_path / f"{html.page_name(path)}.png"), full_page=True)
    assert checked >= 3 or not versions.HAS_COLUMN_POSITIONS
    browser.check_clean(folder)


@pytest.mark.subprocess
def test_the_page_shows_names_and_source_literally(
    pytester: pytest.Pytester, browser: Browser
) -> None:
    folder = measured(pytester) / "bytecode-htmlcov"
    page = open_page(browser, folder / html.page_name(WEIRD_PATH))
    assert page.inner_text("h1") == WEIRD_PATH
    assert page.title() == f"{WEIRD_PATH} - bytecode coverage"  # the source's script never ran
    text = page.inner_text("#source")
    assert "<script>document.title = 'owned'</script>" in text
    assert "</script><b>not bold</b> &amp;" in text
    assert page.locator("#source code b").count() == 0
    index = open_page(browser, folder / "index.html")
    assert WEIRD_PATH in index.inner_text("#index tbody")
    browser.check_clean(folder)


def _rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#index tbody tr:not([hidden])", "rows => rows.map(r => r.cells[0].textContent)"
    )


@pytest.mark.subprocess
def test_index_sorts_filters_and_totals(
    pytester: pytest.Pytester, browser: Browser, tmp_path: Path
) -> None:
    root = measured(pytester)
    report = json.loads((root / "bytecode-cov.json").read_text())
    folder = root / "bytecode-htmlcov"
    page = open_page(browser, folder / "index.html")
    assert f"Python {report['meta']['python']}" in page.inner_text("header")
    missed = {p: f["summary"]["instructions"] - f["summary"]["covered_instructions"]
              for p, f in report["files"].items()}  # fmt: skip
    page.click("#index th:nth-child(3) button")
    ascending = _rows(page)
    assert [missed[p] for p in ascending] == sorted(missed.values())
    assert page.get_attribute("#index th:nth-child(3)", "aria-sort") == "ascending"
    page.click("#index th:nth-child(3) button")
    assert [missed[p] for p in _rows(page)] == sorted(missed.values(), reverse=True)
    page.click("#index th:nth-child(1) button")
    assert _rows(page) == sorted(report["files"])
    assert page.inner_text("#t-i") == str(report["totals"]["instructions"])
    page.fill("#filter", "OTHER")
    assert _rows(page) == ["src/pkg/other.py"]
    other = report["files"]["src/pkg/other.py"]["summary"]
    assert page.inner_text("#t-i") == str(other["instructions"])
    assert page.inner_text("#t-c") == f"{other['percent_covered']:.2f}%"
    page.fill("#filter", "")
    assert len(_rows(page)) == len(report["files"])
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(tmp_path / "index-dark.png"), full_page=True)
    browser.check_clean(folder)


@pytest.mark.subprocess
def test_keys_hover_and_the_disassembly_panel(
    pytester: pytest.Pytester, browser: Browser, tmp_path: Path
) -> None:
    folder = measured(pytester) / "bytecode-htmlcov"
    page = open_page(browser, folder / html.page_name("src/pkg/mod.py"))
    targets = page.eval_on_selector_all(
        "#source .nav, #source .navl",
        "els => els.map(e => e.closest('p').id + ':' + e.textContent)",
    )
    assert len(targets) >= 3
    active = "() => { const e = document.activeElement; " \
        "return e.closest('p').id + ':' + e.textContent; }"  # fmt: skip
    page.keyboard.press("j")
    assert page.evaluate(active) == targets[0]
    page.keyboard.press("j")
    assert page.evaluate(active) == targets[1]
    page.keyboard.press("j")
    assert page.evaluate(active) == targets[2]
    page.keyboard.press("k")
    assert page.evaluate(active) == targets[1]
    # focusing shows the line's instructions with their counts
    assert page.is_visible("#tip")
    line = targets[1].split(":")[0][1:]
    assert page.inner_text("#tip").startswith(f"line {line}:")
    page.keyboard.press("Escape")
    # hovering does too
    page.hover("#L2")
    assert page.inner_text("#tip").startswith("line 2:")
    assert "POP_JUMP" in page.inner_text("#tip") or "COMPARE_OP" in page.inner_text("#tip")
    # a line -> its instructions in the panel
    page.click("#L17")
    assert (
        page.eval_on_selector("#fn", "s => s.options[s.selectedIndex].text") == "unused (line 16)"
    )
    selected = page.eval_on_selector_all(
        "#distab tr.sel", "rs => rs.map(r => r.cells[3].textContent)"
    )
    assert selected and set(selected) == {"17"}
    # arguments as dis shows them, shown literally
    arguments = page.eval_on_selector_all(
        "#distab tbody tr", "rs => rs.map(r => r.cells[2].textContent)"
    )
    assert any(a.startswith('"<script>alert(') for a in arguments), arguments
    assert page.eval_on_selector_all("#distab script", "s => s.length") == 0
    # an instruction -> its line
    page.select_option("#fn", label="sign (line 1)")
    arguments = page.eval_on_selector_all(
        "#distab tbody tr", "rs => rs.map(r => r.cells[2].textContent)"
    )
    assert "x" in arguments and "0" in arguments, arguments
    page.click("#distab tbody tr[data-line='3']")
    assert page.evaluate("document.activeElement.id") == "L3"
    assert page.eval_on_selector("#L3", "p => p.classList.contains('focus')")
    # the jump on line 2 tells its outcomes at its span (3.11+) and in its badge
    badge = page.get_attribute("#L2 > i", "title")
    assert "jumped 0 of 1 time" in badge
    if versions.HAS_COLUMN_POSITIONS:
        assert "jumped 0 of 1 time" in page.get_attribute("#L2 > code .b", "title")
    page.click("#heat")
    assert page.evaluate("document.body.classList.contains('heat')")
    page.screenshot(path=str(tmp_path / "heat.png"), full_page=True)
    page.click("#heat")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(tmp_path / "dark.png"), full_page=True)
    browser.check_clean(folder)


@pytest.mark.subprocess
def test_the_tests_that_ran_a_line_and_an_instruction(
    pytester: pytest.Pytester, browser: Browser, tmp_path: Path
) -> None:
    root, names, fres = measured_module(pytester)
    expected = line_contexts(fres, names)
    folder = root / "bytecode-htmlcov"
    page = open_page(browser, folder / html.page_name(fres.path))
    # a line's badge: how many tests ran it (drawn by the stylesheet)
    badge = "n => getComputedStyle(document.getElementById('L' + n), '::after').content"
    assert page.evaluate(badge, 2) == '"3"' and page.evaluate(badge, 3) == '"1"'
    assert page.evaluate(badge, 17) == "none"
    # hovering shows the line's contexts, literally
    page.hover("#L2")
    tip = page.inner_text("#tip")
    assert tip.startswith("line 2:") and "ran in 3 tests (4 contexts):" in tip
    assert all(f"  {name}\n" in tip + "\n" for name in expected[2]), tip
    page.hover("#L1")  # the def statement ran at import, in no test
    assert "ran in no test" in page.inner_text("#tip")
    # clicking lists them in the panel
    page.click("#L2")
    assert page.inner_text("#ctx h3") == "line 2 ran in: 3 tests (4 contexts)"
    assert page.eval_on_selector_all("#ctx li", "ls => ls.map(l => l.textContent)") == expected[2]
    assert page.locator("#ctx b").count() == 0  # a test id's <b> is text
    page.click("#L17")
    assert page.inner_text("#ctx") == "line 17 ran in: no test"
    page.click("#L1")  # outside every test, if that is recorded: said in words
    assert page.inner_text("#ctx h3").startswith("line 1 ran in: no test")
    assert page.eval_on_selector_all("#ctx li", "ls => ls.every(l => l.textContent)")
    # the disassembly: tests per instruction; a click lists its contexts, a jump's per outcome
    page.select_option("#fn", label="sign (line 1)")
    [(sign, cc)] = [
        (k, c)
        for k, c in zip(fres.code_objects, fres.contexts.per_code(), strict=True)
        if k.qualname == "sign"
    ]
    assert isinstance(cc, CodeContexts)
    cells = page.eval_on_selector_all(
        "#distab tbody tr", "rs => rs.map(r => r.cells[7].textContent)"
    )
    assert cells == [
        str(count_tests([names[c] for c in cc.instruction(i.offset)])) for i in sign.instructions
    ]
    jump = sign.branches[0]
    row = [i.offset for i in sign.instructions].index(jump.offset)
    page.click(f"#distab tbody tr:nth-child({row + 1})")
    headings = page.eval_on_selector_all("#ctx h3", "hs => hs.map(h => h.textContent)")
    assert headings[0].startswith(f"{jump.opname} @{jump.offset} (line 2) ran in: ")
    assert headings[1].startswith("fell through in: ") and headings[2].startswith("jumped in: ")
    lists = page.eval_on_selector_all(
        "#ctx ul", "us => us.map(u => Array.from(u.children, l => l.textContent))"
    )
    assert lists == [
        [names[c] for c in cc.instruction(jump.offset)],
        [names[c] for c in cc.outcome(jump.offset, False)],
        [names[c] for c in cc.outcome(jump.offset, True)],
    ]
    assert lists[1] != lists[2]
    title = page.get_attribute(f"#distab tbody tr:nth-child({row + 1}) td:nth-child(7)", "title")
    assert title.endswith(f"; in {count_tests(lists[2])} tests")
    page.screenshot(path=str(tmp_path / "contexts.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(tmp_path / "contexts-dark.png"), full_page=True)
    index = open_page(browser, folder / "index.html")
    assert "per-test contexts recorded: 3 tests" in index.inner_text("#contexts")
    browser.check_clean(folder)


def big_module(functions: int) -> str:
    """A module of ``functions`` ten-line functions."""
    lines = []
    for i in range(functions):
        lines += [
            f"def f{i}(x):", "    if x > 0:", "        y = x * 2", "    else:",
            "        y = -x", "    for j in range(3):", "        y += j if j % 2 else -j",
            "    return y", "", "",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.mark.subprocess
@pytest.mark.parametrize("contexts", [False, True], ids=["plain", "contexts"])
def test_a_20000_line_file_renders_quickly(
    pytester: pytest.Pytester, browser: Browser, record_property: Any, contexts: bool
) -> None:
    files = {
        "src/pkg/__init__.py": "",
        "src/pkg/big.py": big_module(2000),
        "tests/test_mod.py": (
            "from pkg import big\n\n\ndef test_it():\n"
            "    for i in range(0, 2000, 2):\n        getattr(big, f'f{i}')(i % 3)\n"
        ),
    }
    if contexts:  # 200 tests of 5 functions each: 200 contexts on the page
        files["tests/test_mod.py"] = (
            "import pytest\nfrom pkg import big\n\n\n"
            "@pytest.mark.parametrize('t', range(200))\ndef test_it(t):\n"
            "    for i in range(10 * t, 10 * t + 10, 2):\n        getattr(big, f'f{i}')(i % 3)\n"
        )
    root = measured(pytester, files, contexts=contexts, passed=200 if contexts else 1)
    path = root / "bytecode-htmlcov" / html.page_name("src/pkg/big.py")
    assert len((root / "src/pkg/big.py").read_text().splitlines()) == 20000
    page = open_page(browser, path)
    timing = page.evaluate(
        "() => { const t = performance.getEntriesByType('navigation')[0]; "
        "return [t.domContentLoadedEventEnd, t.loadEventEnd]; }"
    )
    assert page.locator("#source > p").count() == 20000
    if contexts:  # each function: if, an arm, for, its body, return
        assert page.locator("#source > p[data-t]").count() == 1000 * 5
    message = (
        f"20,000-line page{' with contexts' if contexts else ''} "
        f"({path.stat().st_size / 1e6:.1f} MB, Python {versions.PY_TAG}): "
        f"DOMContentLoaded {timing[0]:.0f} ms, load {timing[1]:.0f} ms"
    )
    print(message, file=sys.stderr)
    record_property(f"html_20000_lines{'_contexts' if contexts else ''}_ms", timing)
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.closest('#source > p') !== null")
    browser.check_clean(root / "bytecode-htmlcov")
