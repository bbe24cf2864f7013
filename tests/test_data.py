"""The data file: JSON round trip, merging, combining, and refusing bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_bytecode import cli, data, versions
from pytest_bytecode.data import BranchData, CodeData, CovData, DataError, FileData


def sample(count: int = 1, sha: str = "abc", python: str = versions.PY_TAG) -> CovData:
    code = CodeData(
        qualname="f",
        name="f",
        firstlineno=1,
        offsets=[0, 2, 4],
        opnames=["RESUME", "LOAD_FAST", "POP_JUMP_IF_FALSE"],
        lines=[1, 2, 2],
        counts=[count, count, 0],
        branches=[BranchData(4, "POP_JUMP_IF_FALSE", 2, (6, 10), [count, 0])],
    )
    return CovData(python=python, files={"pkg/mod.py": FileData(sha, [code], [7])})


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "d"
    data.save(sample(3), path)
    loaded = data.load(path)
    assert data.to_json(loaded) == data.to_json(sample(3))
    raw = json.loads(path.read_text())
    assert raw["format"] == data.FORMAT_VERSION
    assert raw["python"] == versions.PY_TAG


def test_merge_adds_counts() -> None:
    target = sample(2)
    data.merge_into(target, sample(5))
    code = target.files["pkg/mod.py"].code_objects[0]
    assert code.counts == [7, 7, 0]
    assert code.branches[0].counts == [7, 0]


def test_merge_max_takes_larger() -> None:
    target = sample(2)
    data.merge_into(target, sample(5), "max")
    assert target.files["pkg/mod.py"].code_objects[0].counts == [5, 5, 0]


def test_merge_refuses_other_source() -> None:
    with pytest.raises(DataError, match=r"pkg/mod.py has different contents"):
        data.merge_into(sample(sha="aaa"), sample(sha="bbb"), name="other")


def test_merge_refuses_other_python() -> None:
    with pytest.raises(DataError, match=r"recorded by Python 3\.99"):
        data.merge_into(sample(), sample(python="3.99"), name="other")


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
    assert data.load(out).files["pkg/mod.py"].code_objects[0].counts == [3, 3, 0]
    assert cli.main(["combine", "--append", str(tmp_path / "a"), "-o", str(out)]) == 0
    assert data.load(out).files["pkg/mod.py"].code_objects[0].counts == [4, 4, 0]


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
    assert "pkg/mod.py" in out and "TOTAL" in out and "2[POP_JUMP_IF_FALSE]" in out
    report = tmp_path / "r.json"
    assert cli.main(["report", "--data", str(path), "--type", f"json:{report}"]) == 0
    assert json.loads(report.read_text())["totals"]["covered_instructions"] == 2
    assert cli.main(["report", "--data", str(path), "--fail-under", "90"]) == 1
    assert "Total coverage: 66.67%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "xml"], "--type=xml: unknown report type 'xml'"),
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
