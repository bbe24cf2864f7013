"""The data file: JSON round trip, merging, combining, and refusing bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bc_helpers import code, counts_of, dataset

from pytest_bytecode import cli, data, versions
from pytest_bytecode.data import CovData, DataError, FileData


def sample(count: int = 1, sha: str = "abc", python: str = versions.PY_TAG) -> CovData:
    f = code(
        "f",
        [count, count, 0],
        opnames=["RESUME", "LOAD_FAST", "POP_JUMP_IF_FALSE"],
        lines=[1, 2, 2],
        branches=[(4, "POP_JUMP_IF_FALSE", 2, (6, 10), (count, 0))],
    )
    return dataset(f, path="pkg/mod.py", sha=sha, python=python, excluded_lines=[7])


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "d"
    data.save(sample(3), path)
    loaded = data.load(path)
    assert data.to_json(loaded) == data.to_json(sample(3))
    raw = json.loads(path.read_text())
    assert raw["format"] == data.FORMAT_VERSION
    assert raw["python"] == versions.PY_TAG


@pytest.mark.parametrize("extras", ["none", "no files", "every field"])
def test_the_data_file_is_written_a_file_at_a_time_as_one_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extras: str
) -> None:
    """save() writes a file's counts at a time, and the bytes are exactly
    those of the whole set dumped at once, to a file and to standard output."""
    from pytest_bytecode.contexts import Contexts

    counts = sample(3)
    other = sample(5, sha="d\u00e9f")  # not ASCII: escaped as json.dumps escapes it
    counts.files["pkg/\u00e9t\u00e9.py"] = other.files["pkg/mod.py"]
    if extras == "no files":
        counts.files.clear()
    if extras == "every field":
        counts.crashed_workers.append(data.CrashedWorker("gw1", "died", False))
        counts.traced_during = ["t.py::x"]
        counts.contexts = Contexts()
        counts.contexts.add("pkg/mod.py", ("f", 1, 0), counts.contexts.number("t.py::a|call"), 1)
    whole = json.dumps(data.to_json(counts), separators=(",", ":")).encode()
    assert len(list(data._json_pieces(counts))) == len(counts.files) + 2
    data.save(counts, tmp_path / "d")
    assert (tmp_path / "d").read_bytes() == whole
    capsys.readouterr()
    data.save(counts, "-")
    assert capsys.readouterr().out.encode() == whole
    assert data.to_json(data.load(tmp_path / "d")) == data.to_json(counts)


def test_merge_adds_counts() -> None:
    target = sample(2)
    data.merge_into(target, sample(5))
    merged = target.files["pkg/mod.py"].code_objects[0]
    assert [i.count for i in merged.instructions] == [7, 7, 0]
    assert [o.count for o in merged.branches[0].outcomes] == [7, 0]


def test_merge_max_takes_larger() -> None:
    target = sample(2)
    data.merge_into(target, sample(5), "max")
    assert counts_of(target.files["pkg/mod.py"].code_objects) == [[5, 5, 0]]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(DataError, match="missing: cannot read data file"):
        data.load(missing)
    bad = tmp_path / "bad"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="bad: corrupt data file"):
        data.load(bad)
    other = tmp_path / "other"
    other.write_text('{"hello": 1}')
    with pytest.raises(DataError, match="not a pytest-bytecode data file"):
        data.load(other)
    broken = data.to_json(sample())
    broken["files"]["pkg/mod.py"]["code_objects"][0]["counts"] = [1]
    (tmp_path / "broken").write_text(json.dumps(broken))
    with pytest.raises(DataError, match="corrupt data file"):
        data.load(tmp_path / "broken")
    future = data.to_json(sample())
    future["format"] = 999
    (tmp_path / "future").write_text(json.dumps(future))
    with pytest.raises(DataError, match="data format 999 is not supported"):
        data.load(tmp_path / "future")


def test_cli_combine_adds_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data.save(sample(1), tmp_path / "a")
    data.save(sample(2), tmp_path / "b")
    out = tmp_path / "c"
    assert cli.main(["combine", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]) == 0
    assert counts_of(data.load(out).files["pkg/mod.py"].code_objects) == [[3, 3, 0]]
    assert cli.main(["combine", "--append", str(tmp_path / "a"), "-o", str(out)]) == 0
    assert counts_of(data.load(out).files["pkg/mod.py"].code_objects) == [[4, 4, 0]]


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (sample(sha="zzz"), "pkg/mod.py has different contents"),
        (sample(python="3.99"), "recorded by Python 3.99"),
    ],
)
def test_cli_combine_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], other: CovData, message: str
) -> None:
    data.save(sample(), tmp_path / "a")
    data.save(other, tmp_path / "b")
    assert cli.main(["combine", str(tmp_path / "a"), str(tmp_path / "b"), "-o", "x"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert str(tmp_path / "b") in err
    assert len(err.strip().splitlines()) == 1


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d"
    data.save(sample(1), path)
    assert cli.main(["report", "--data", str(path), "--type", "term-missing"]) == 0
    out = capsys.readouterr().out
    assert "pkg/mod.py" in out and "TOTAL" in out and "2->exit" in out
    assert cli.main(["report", "--data", str(path), "--type", "term-missing", "-v"]) == 0
    assert "2[POP_JUMP_IF_FALSE], 2->exit" in capsys.readouterr().out
    report = tmp_path / "r.json"
    assert cli.main(["report", "--data", str(path), "--type", f"json:{report}"]) == 0
    assert json.loads(report.read_text())["totals"]["covered_instructions"] == 2
    assert cli.main(["report", "--data", str(path), "--fail-under", "90"]) == 1
    assert "Total coverage: 66.67%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "annotate"], "--type=annotate: unknown report type 'annotate'"),
        (["--fail-under", "101"], "--fail-under=101: must be a number from 0 to 100"),
        (["--data", "nope"], "nope: cannot read data file"),
    ],
)
def test_cli_report_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    data.save(sample(), tmp_path / ".bytecode-cov")
    assert cli.main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


# --- merge_into, table-driven --------------------------------------------------------

BRANCH = (4, "POP_JUMP_IF_FALSE", 1, (6, 10))

#: id -> (how, mine, other, expected): instruction counts, then branch outcome counts.
MERGES = {
    "sum": ("sum", ([2, 0, 1], (1, 0)), ([3, 0, 0], (2, 5)), ([5, 0, 1], (3, 5))),
    "max": ("max", ([2, 0, 1], (1, 0)), ([1, 4, 0], (0, 5)), ([2, 4, 1], (1, 5))),
    "nothing counted on the other side": (
        "sum",
        ([2, 0, 1], (1, 0)),
        ([0, 0, 0], (0, 0)),
        ([2, 0, 1], (1, 0)),
    ),
}


def _with_branch(counts: list[int], taken: tuple[int, int]) -> CovData:
    return dataset(code("f", counts, branches=[(*BRANCH, taken)]))


@pytest.mark.parametrize(("how", "mine", "other", "expected"), MERGES.values(), ids=MERGES.keys())
def test_merge_into(how: Any, mine: Any, other: Any, expected: Any) -> None:
    target, theirs = _with_branch(*mine), _with_branch(*other)
    theirs_before = data.to_json(theirs)
    data.merge_into(target, theirs, how)
    assert data.to_json(target) == data.to_json(_with_branch(*expected))
    assert data.to_json(theirs) == theirs_before


def test_merge_shares_what_does_not_change() -> None:
    """Counts are values: a merge makes new objects only for changed counts, and
    never changes an object that either side holds."""
    target, other = _with_branch([2, 0, 1], (1, 0)), _with_branch([0, 3, 0], (0, 0))
    before = target.files["m.py"].code_objects[0]
    data.merge_into(target, other)
    after = target.files["m.py"].code_objects[0]
    assert [i.count for i in before.instructions] == [2, 0, 1]  # untouched
    assert after.instructions[0] is before.instructions[0]
    assert after.instructions[1] is not before.instructions[1]
    assert after.branches[0] is before.branches[0]
    assert data.same_shape(after, before)


def test_merge_copies_new_files_and_keeps_the_rest_of_a_file() -> None:
    target = dataset(code("f", [1]), excluded_lines=[1, 3], partial=True)
    other = dataset(code("f", [1]), code("g", [2]), excluded_lines=[2, 3], partial=False)
    other.files["n.py"] = dataset(code("h", [1])).files["m.py"]
    other.crashed_workers.append(data.CrashedWorker("gw1", "died", False))
    data.merge_into(target, other)
    merged = target.files["m.py"]
    assert counts_of(merged.code_objects) == [[2], [2]]
    assert (merged.excluded_lines, merged.partial) == ([1, 2, 3], False)
    assert target.crashed_workers == other.crashed_workers
    target.files["n.py"].code_objects.append(code("k"))
    assert len(other.files["n.py"].code_objects) == 1  # a copy, not the same list


def _files(n: int, sha: str) -> CovData:
    """``n`` files holding one code object each, all with the digest ``sha``."""
    return CovData(files={f"m{i}.py": FileData(sha, [code()]) for i in range(n)})


#: id -> (mine, other, the whole message of the refusal, named "other").
REFUSED_MERGES: dict[str, tuple[CovData, CovData, str]] = {
    "another Python": (
        sample(),
        sample(python="3.99"),
        f"other: recorded by Python 3.99, cannot be merged with data from Python "
        f"{versions.PY_TAG} (instruction sets differ between versions)",
    ),
    "other source contents": (
        sample(sha="aaa"),
        sample(sha="bbb"),
        "other: cannot be merged with the other data: source file pkg/mod.py has "
        "different contents (sha256 bbb vs aaa)",
    ),
    "a function compiled to other opnames": (
        dataset(code("f", [1, 1], opnames=["NOP", "NOP"])),
        dataset(code("f", [1, 1], opnames=["NOP", "POP_TOP"])),
        "other: cannot be merged with the other data: m.py: function f (line 1) was "
        "compiled to other instructions",
    ),
    "a function compiled to more instructions": (
        dataset(code("f", [1, 1])),
        dataset(code("f", [1, 1, 1])),
        "other: cannot be merged with the other data: m.py: function f (line 1) was "
        "compiled to other instructions",
    ),
    "a branch aimed elsewhere": (
        dataset(code("f", [1, 1, 1], branches=[(4, "POP_JUMP_IF_FALSE", 1, (6, 10), (1, 0))])),
        dataset(code("f", [1, 1, 1], branches=[(4, "POP_JUMP_IF_FALSE", 1, (6, 12), (1, 0))])),
        "other: cannot be merged with the other data: m.py: function f (line 1) was "
        "compiled to other instructions",
    ),
    "more conflicts than are named": (
        _files(data.SHOWN_CONFLICTS + 2, "aaa"),
        _files(data.SHOWN_CONFLICTS + 2, "bbb"),
        "other: cannot be merged with the other data: "
        + "; ".join(
            f"source file m{i}.py has different contents (sha256 bbb vs aaa)"
            for i in range(data.SHOWN_CONFLICTS)
        )
        + "; and 2 more",
    ),
}


@pytest.mark.parametrize(
    ("mine", "other", "message"), REFUSED_MERGES.values(), ids=REFUSED_MERGES.keys()
)
def test_merge_refuses_and_leaves_both_as_they_were(
    mine: CovData, other: CovData, message: str
) -> None:
    before = data.to_json(mine), data.to_json(other)
    with pytest.raises(DataError) as exc:
        data.merge_into(mine, other, name="other")
    assert str(exc.value) == message
    assert (data.to_json(mine), data.to_json(other)) == before


def test_merge_file_skips_code_compiled_differently() -> None:
    """Unchecked, :func:`~pytest_bytecode.data.merge_file` adds up what has the
    same shape and hands back the code objects that do not."""
    mine = dataset(code("f", [1, 1]), code("g", [2])).files["m.py"]
    other = dataset(code("f", [1, 1, 1]), code("g", [3]), code("h", [4])).files["m.py"]
    skipped = data.merge_file(mine, other, "sum")
    assert [c.qualname for c in skipped] == ["f"]
    assert [c.qualname for c in mine.code_objects] == ["f", "g", "h"]
    assert counts_of(mine.code_objects) == [[1, 1], [5], [4]]


def test_code_objects_are_told_apart_by_qualname_line_and_order() -> None:
    one = dataset(
        code("<lambda>", [1]), code("<lambda>", [2]), code("<lambda>", [3], firstlineno=2)
    )
    keys = list(one.files["m.py"].keyed())
    assert keys == [("<lambda>", 1, 0), ("<lambda>", 1, 1), ("<lambda>", 2, 0)]
    data.merge_into(one, dataset(code("<lambda>", [10]), code("<lambda>", [20])))
    assert counts_of(one.files["m.py"].code_objects) == [[11], [22], [3]]
