"""Bad inputs end in one clear line, never a traceback (issue 16).

Data files and baselines that are binary, not UTF-8, hold ``Infinity`` or
out-of-range numbers, nest too deeply, or hold counts that are no counts;
snapshot files that cannot be read and snapshot names that would collide;
over-long paths; control characters in file names; the plugin named by its
module; ini values that name their key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bc_helpers import code, dataset, make_project

from pytest_bytecode import baseline, cli, data, results, snapshots, versions
from pytest_bytecode.data import DataError
from pytest_bytecode.report import term

NO_REPORT = "--bytecode-cov-report="


def good_data() -> dict[str, object]:
    return data.to_json(dataset(code("f", [1, 0])))


def with_count(value: object) -> str:
    raw = good_data()
    raw["files"]["m.py"]["code_objects"][0]["counts"][0] = value  # type: ignore[index]
    return json.dumps(raw)


BAD_FILES = {
    "binary": b"\x00\x01\x02\xff\xfe",
    "latin-1": '{"kind": "caf\u00e9"}'.encode("latin-1"),
    "infinity": with_count(0).replace('"counts": [0', '"counts": [Infinity').encode(),
    "1e400": with_count(0).replace('"counts": [0', '"counts": [1e400').encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
}

BAD_COUNTS = {"negative": -1, "fraction": 1.5, "boolean": True, "string": "3"}


@pytest.mark.parametrize("name", list(BAD_FILES) + list(BAD_COUNTS))
def test_bad_data_file_is_one_line_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "d"
    if name in BAD_FILES:
        path.write_bytes(BAD_FILES[name])
    else:
        path.write_text(with_count(BAD_COUNTS[name]))
    assert cli.main(["report", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pytest-bytecode: error: {path}: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("name", list(BAD_COUNTS))
def test_counts_that_are_no_counts_are_rejected(name: str) -> None:
    with pytest.raises(DataError, match="must be a non-negative integer"):
        data.from_json(json.loads(with_count(BAD_COUNTS[name])), "d")


@pytest.mark.parametrize("name", ["binary", "latin-1", "deep"])
def test_bad_data_file_with_append_is_a_usage_error(pytester: pytest.Pytester, name: str) -> None:
    make_project(pytester)
    (pytester.path / ".bytecode-cov").write_bytes(BAD_FILES[name])
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-append")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --bytecode-cov-append: *.bytecode-cov: corrupt data file*"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def _baseline_text(covered: object) -> str:
    return json.dumps(
        {
            "kind": baseline.BASELINE_KIND,
            "format": baseline.BASELINE_FORMAT,
            "python": versions.PY_TAG,
            "totals": {"covered": covered, "total": 3},
            "files": {},
        }
    )


@pytest.mark.parametrize(
    "content",
    [
        BAD_FILES["binary"],
        BAD_FILES["latin-1"],
        BAD_FILES["deep"],
        _baseline_text(0).replace('"covered": 0', '"covered": Infinity').encode(),
        _baseline_text(0).replace('"covered": 0', '"covered": 1e400').encode(),
        *(_baseline_text(v).encode() for v in BAD_COUNTS.values()),
    ],
    ids=["binary", "latin-1", "deep", "infinity", "1e400", *BAD_COUNTS],
)
def test_bad_baseline_is_a_usage_error(pytester: pytest.Pytester, content: bytes) -> None:
    make_project(pytester)
    (pytester.path / "base.json").write_bytes(content)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-baseline=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *base.json: *baseline*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# --- snapshots ------------------------------------------------------------------------

SNAPSHOT_TEST = """
from pytest_bytecode import assert_bytecode_snapshot

def f(x):
    return x + 1

def test_snap():
    assert_bytecode_snapshot(f)
"""


def _snapshot_file(pytester: pytest.Pytester) -> Path:
    return (
        pytester.path / snapshots.SNAPSHOT_DIR / "test_snap" / f"test_snap.py{versions.PY_TAG}.txt"
    )


@pytest.mark.parametrize("kind", ["binary", "latin-1", "directory"])
def test_unreadable_snapshot_names_the_file_and_update_repairs_it(
    pytester: pytest.Pytester, kind: str
) -> None:
    pytester.makepyfile(test_snap=SNAPSHOT_TEST)
    path = _snapshot_file(pytester)
    path.parent.mkdir(parents=True)
    if kind == "directory":
        path.mkdir()
        (path / "inside").write_text("x")
    else:
        path.write_bytes(BAD_FILES[kind])
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    problem = "is a directory" if kind == "directory" else "is not UTF-8 text"
    result.stdout.fnmatch_lines(
        [f"*snapshot file *test_snap.py{versions.PY_TAG}.txt {problem}*--bytecode-snapshot-update*"]
    )
    assert "UnicodeDecodeError" not in result.stdout.str()
    pytester.runpytest("--bytecode-snapshot-update").assert_outcomes(passed=1)
    assert path.is_file()
    pytester.runpytest().assert_outcomes(passed=1)


def test_snapshot_names_do_not_collide() -> None:
    ctx = snapshots.TestContext(path=Path("/t/test_m.py"), name="test_x", nodeid="t")
    names = {snapshots._safe(n) for n in ["a b", "a_b", "a" * 200, "a" * 199 + "b"]}
    assert len(names) == 4
    assert all(len(n) <= snapshots.MAX_NAME for n in names)
    assert snapshots._safe("test_plain[1-2]") == "test_plain[1-2]"  # unchanged when plain
    ctx.snapshot_path(None)
    ctx.snapshot_path(None)  # the second unnamed one: -2
    with pytest.raises(snapshots.SnapshotError, match=r"name='2'.*unnamed snapshot number 2"):
        ctx.snapshot_path("2")
    ctx.snapshot_path("x")
    with pytest.raises(snapshots.SnapshotError, match="would share the snapshot file"):
        ctx.snapshot_path("x")


def test_snapshot_collision_in_a_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_snap="""
        from pytest_bytecode import assert_bytecode_snapshot

        def g():
            return 1

        def test_snap():
            assert_bytecode_snapshot(g, name="2")
            assert_bytecode_snapshot(g)
            assert_bytecode_snapshot(g)
        """
    )
    result = pytester.runpytest("--bytecode-snapshot-update")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*SnapshotError: *unnamed snapshot number 2*name='2'*"])


def test_parametrized_ids_get_their_own_files(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_snap="""
        import pytest
        from pytest_bytecode import assert_bytecode_snapshot

        @pytest.mark.parametrize("obj", [len, abs], ids=["a b", "a_b"])
        def test_snap(obj):
            assert_bytecode_snapshot(lambda: obj)
        """
    )
    pytester.runpytest("--bytecode-snapshot-update").assert_outcomes(passed=2)
    assert len(list((pytester.path / snapshots.SNAPSHOT_DIR / "test_snap").iterdir())) == 2


# --- over-long paths ----------------------------------------------------------------

LONG = "x" * 300


@pytest.mark.skipif(
    versions.IS_PYODIDE, reason="Pyodide's in-memory file system has no name-length limit"
)
@pytest.mark.parametrize(
    "args",
    [
        [f"--bytecode-cov-baseline={LONG}"],
        [f"--bytecode-cov-data={LONG}", "--bytecode-cov-append"],
        [f"--bytecode-cov={LONG}/y.py"],
    ],
)
def test_over_long_path_is_one_line(pytester: pytest.Pytester, args: list[str]) -> None:
    make_project(pytester)
    result = pytester.runpytest(*(["--bytecode-cov=pkg"] if "cov=" not in args[0] else []), *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --bytecode-cov*=xxx*: cannot use this path (*)"])
    assert "Traceback" not in result.stderr.str()


# --- control characters in file names -------------------------------------------------


def test_control_characters_in_file_names_are_escaped() -> None:
    evil = "pkg/\x1b[31mred\nline.py"
    res = results.compute(dataset(code("f", [1]), path=evil))
    lines = list(term.render(res))
    text = "\n".join(lines)
    assert "\x1b" not in text
    assert any(line.startswith("pkg/\\x1b[31mred\\nline.py ") for line in lines)
    assert len(lines) == 7  # the newline did not add a row


# --- the plugin under its module's name ---------------------------------------------


@pytest.mark.subprocess
def test_dash_p_with_the_module_name(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest_subprocess("-p", "pytest_bytecode.plugin", "--bytecode-cov=pkg")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["TOTAL *"])


@pytest.mark.subprocess
def test_pytest_plugins_with_the_module_name(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makeconftest('pytest_plugins = ["pytest_bytecode.plugin"]\n')
    result = pytester.runpytest_subprocess("--bytecode-cov=pkg")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["TOTAL *"])


# --- ini values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ini", "args", "message"),
    [
        (
            "bytecode_cov_fail_under = 120",
            [],
            "ERROR: bytecode_cov_fail_under = 120: must be a number from 0 to 100",
        ),
        (
            "bytecode_cov_append = maybe",
            [],
            "ERROR: bytecode_cov_append (ini file): *'maybe'*",
        ),
        (
            "bytecode_cov_report = annotate",
            [],
            "ERROR: bytecode_cov_report = annotate: unknown report type 'annotate'*",
        ),
        (
            "",
            ["--bytecode-cov-fail-under="],
            "ERROR: --bytecode-cov-fail-under=: must be a number*",
        ),
        (
            "bytecode_cov_baseline = nope.json",
            [],
            "ERROR: bytecode_cov_baseline (ini file): *nope.json: no such file*",
        ),
    ],
)
def test_ini_errors_name_the_key(
    pytester: pytest.Pytester, ini: str, args: list[str], message: str
) -> None:
    make_project(pytester)
    pytester.makeini(f"[pytest]\npythonpath = src\n{ini}\n")
    result = pytester.runpytest("--bytecode-cov=pkg", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_snapshot_update_ini_stops_once(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecode_snapshot_update = maybe\n")
    pytester.makepyfile(test_a="def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: bytecode_snapshot_update (ini file): *'maybe'*"])
    assert "test_a" not in result.stdout.str()


def test_data_path_expands_the_home_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    home = pytester.path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-data=~/cov.data", NO_REPORT)
    assert result.ret == 0
    assert (home / "cov.data").is_file()
    assert not (pytester.path / "~").exists()


@pytest.mark.subprocess
def test_cli_errors_are_never_tracebacks(tmp_path: Path) -> None:
    path = tmp_path / "d"
    path.write_bytes(BAD_FILES["deep"])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_bytecode", "report", "--data", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"pytest-bytecode: error: {path}: corrupt data file (nested too deeply)"
    ]
