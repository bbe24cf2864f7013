"""Coverage data you can trust in CI: nothing lost, nothing silently wrong (issue 16).

One test (or a few) per item of the issue's "Lost or silently wrong numbers":
append all or nothing, concurrent appends, code compiled differently under one
source, stale sources in ``report``, shared output paths, write failures,
device paths and ``-``, ``--collect-only``, runs that measured nothing, and
the baseline's notion of a drop.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import bc_helpers
import pytest
from bc_helpers import make_project

from pytest_bytecode import baseline, cli, data, files, results, versions
from pytest_bytecode.data import CovData, DataError, FileData
from pytest_bytecode.engine.model import CodeCounts
from pytest_bytecode.engine.records import replace

NO_REPORT = "--bytecode-cov-report="


def code(qualname: str = "f", offsets: tuple[int, ...] = (0, 2, 4), count: int = 1) -> CodeCounts:
    return bc_helpers.code(qualname, [count] * len(offsets), offsets=offsets)


def dataset(*codes: CodeCounts, sha: str = "abc") -> CovData:
    return bc_helpers.dataset(*codes, path="pkg/mod.py", sha=sha)


# --- 1. append after a source edit: all or nothing --------------------------------


def test_append_after_source_edit_fails_and_keeps_the_file(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-data=cov.data", NO_REPORT]
    assert pytester.runpytest(*args).ret == 0
    before = (pytester.path / "cov.data").read_bytes()
    mod = pytester.path / "src/pkg/mod.py"
    mod.write_text(mod.read_text() + "\n\ndef added():\n    return 2\n")
    result = pytester.runpytest(*args, "--bytecode-cov-append")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "FAIL --bytecode-cov-append refused, the data file was left as it was: *cov.data: "
            "cannot add the new counts to it: source file src/pkg/mod.py has different*"
        ]
    )
    assert (pytester.path / "cov.data").read_bytes() == before


def test_merge_is_all_or_nothing() -> None:
    target = CovData(files={"a.py": FileData("1", [code()]), "b.py": FileData("2", [code()])})
    other = CovData(files={"a.py": FileData("1", [code()]), "b.py": FileData("X", [code()])})
    snapshot = data.to_json(target)
    with pytest.raises(DataError, match=r"b\.py has different contents"):
        data.merge_into(target, other, name="other")
    assert data.to_json(target) == snapshot  # a.py was not added to either


# --- 2. concurrent appends ---------------------------------------------------------

_APPENDER = """
import sys
from pytest_bytecode import data
from pytest_bytecode.data import CovData, FileData
from pytest_bytecode.engine.model import CodeCounts, InstructionCount
path, times = sys.argv[1], int(sys.argv[2])
f = CodeCounts("f", "f", 1, None, (InstructionCount(0, "NOP", 1, 1),), ())
one = CovData(files={"m.py": FileData("s", [f])})
for _ in range(times):
    data.append_to_file(one, data.Path(path))
"""


@pytest.mark.subprocess
def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cov.data"
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), "40"]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert bc_helpers.counts_of(data.load(path).files["m.py"].code_objects) == [[120]]
    assert not files.lock_path(path).exists()


_BARRIER_TEST = """
import os, time
from pathlib import Path
from pkg.mod import f

def test_f():
    assert f(1) == "pos"
    # Both runs are past their start (where the data file used to be read)
    # before either ends: without a lock across read-merge-write, one run's
    # counts would be lost.
    ready = Path(os.environ["BARRIER_DIR"])
    (ready / str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(ready.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
"""


@pytest.mark.subprocess
def test_concurrent_append_runs_lose_nothing(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    pytester.makepyfile(test_barrier=_BARRIER_TEST)
    args = [
        "--bytecode-cov=pkg",
        "--bytecode-cov-data=cov.data",
        NO_REPORT,
        "-p",
        "no:cacheprovider",
    ]
    pytester.runpytest_subprocess(*args, "tests")
    single = data.load(pytester.path / "cov.data")
    barrier = pytester.path / "barrier"
    barrier.mkdir()
    pythonpath = os.pathsep.join(
        filter(None, [os.environ.get("PYTHONPATH"), str(pytester.path / "src")])
    )
    env = {**os.environ, "BARRIER_DIR": str(barrier), "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "pytest", *args, "--bytecode-cov-append", "test_barrier.py"]
    procs = [
        subprocess.Popen(cmd, cwd=pytester.path, env=env, stdout=subprocess.PIPE) for _ in range(2)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, out.decode()
    merged = data.load(pytester.path / "cov.data")
    f_single = next(c for c in single.files["src/pkg/mod.py"].code_objects if c.qualname == "f")
    f_merged = next(c for c in merged.files["src/pkg/mod.py"].code_objects if c.qualname == "f")
    assert bc_helpers.counts_of([f_merged]) == [
        [3 * c for c in bc_helpers.counts_of([f_single])[0]]
    ]


# --- 3. code objects of another shape under one source ----------------------------


def test_merge_refuses_other_shapes_in_any_order() -> None:
    a = dataset(code("f"), code("g"))
    b = dataset(code("f", (0, 2, 4, 6)), code("g"))
    for first, second in ((a, b), (b, a)):
        target = CovData()
        data.merge_into(target, first)
        with pytest.raises(DataError, match=r"pkg/mod.py: function f \(line 1\) was compiled"):
            data.merge_into(target, second, name="second")
    with pytest.raises(DataError, match="function f"):
        data.combine([("a", a), ("b", b)])
    with pytest.raises(DataError, match="function f"):
        data.combine([("b", b), ("a", a)])


def test_combine_matching_data_does_not_depend_on_order() -> None:
    a = dataset(code("f", count=1), code("g", count=0))
    b = dataset(code("g", count=2), code("h", count=3))
    ab = data.to_json(data.combine([("a", a), ("b", b)]))
    ba = data.to_json(data.combine([("b", b), ("a", a)]))

    def counts(raw: dict[str, object]) -> dict[str, list[int]]:
        codes = raw["files"]["pkg/mod.py"]["code_objects"]  # type: ignore[index]
        return {c["qualname"]: c["counts"] for c in codes}

    assert counts(ab) == counts(ba) == {"f": [1] * 3, "g": [2] * 3, "h": [3] * 3}


@pytest.mark.subprocess  # in process, the outer pytest's rewriting hook is on sys.meta_path
def test_combine_runs_with_and_without_assertion_rewriting(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(pytester)
    pytester.makepyfile(
        conftest='import pytest\n\npytest.register_assert_rewrite("pkg.helpers")\n',
        test_helpers="from pkg.helpers import check\n\ndef test_check():\n    check(1)\n",
    )
    (pytester.path / "src/pkg/helpers.py").write_text("def check(x):\n    assert x == 1\n")
    args = ["--bytecode-cov=pkg", NO_REPORT, "test_helpers.py"]
    run = pytester.runpytest_subprocess
    assert run(*args, "--bytecode-cov-data=on.data").ret == 0
    assert run(*args, "--bytecode-cov-data=off.data", "--assert=plain").ret == 0
    for order in (["on.data", "off.data"], ["off.data", "on.data"]):
        paths = [str(pytester.path / p) for p in order]
        out = str(pytester.path / "all.data")
        assert cli.main(["combine", *paths, "-o", out]) == 2
        err = capsys.readouterr().err
        assert "src/pkg/helpers.py: function check (line 1) was compiled to other" in err
        assert len(err.strip().splitlines()) == 1
    assert not (pytester.path / "all.data").exists()


# --- 4. report on a data file whose sources changed --------------------------------


def test_report_names_changed_sources(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(pytester)
    assert pytester.runpytest("--bytecode-cov=pkg", NO_REPORT).ret == 0
    monkeypatch.chdir(pytester.path)
    assert cli.main(["report"]) == 0
    assert "source-changed" not in capsys.readouterr().err
    mod = pytester.path / "src/pkg/mod.py"
    mod.write_text("# a new first line\n" + mod.read_text())
    assert cli.main(["report"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "pytest-bytecode: warning: src/pkg/mod.py: changed since it was measured, the "
        "report's line numbers may not match it (source-changed)"
    ]


# --- 5. one path for the data file and a report ------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--bytecode-cov-data=out.json", "--bytecode-cov-report=json:out.json"],
        ["--bytecode-cov-data=./x/../out.json", "--bytecode-cov-report=json:out.json"],
        ["--bytecode-cov-baseline=b.json", "--bytecode-cov-report=json:b.json"],
    ],
)
def test_data_and_report_on_one_path_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    make_project(pytester)
    (pytester.path / "b.json").write_text("{}")
    result = pytester.runpytest("--bytecode-cov=pkg", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *name the same file*one would replace the other*"])


def test_cli_report_refuses_to_replace_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d"
    data.save(dataset(code()), path)
    before = path.read_bytes()
    assert cli.main(["report", "--data", str(path), "--type", f"json:{path}"]) == 2
    assert "would replace the data file" in capsys.readouterr().err
    assert path.read_bytes() == before


# --- 6. files that cannot be written fail the run ----------------------------------


def test_unwritable_data_file_fails_the_run(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "adir").mkdir()
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-data=adir")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL bytecode coverage data file not written: cannot write */adir: *"]
    )
    assert ".tmp" not in result.stdout.str()


def test_unwritable_report_fails_the_run(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "afile").write_text("")
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json:afile/r.json")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL bytecode coverage report not written: cannot write *afile/r.json: *"]
    )
    assert ".tmp" not in result.stdout.str()


# Device tests go through a link in tmp_path: code that wrongly renames over
# the path then replaces the link, never the machine's /dev entry.


@pytest.mark.skipif(
    not os.path.exists("/dev/full") or os.name == "nt", reason="needs /dev/full (Linux)"
)
def test_disk_full_fails_the_run(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "full").symlink_to("/dev/full")
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json:full")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAIL *report not written: cannot write *full: No space left*"])
    assert Path("/dev/full").is_char_device()


@pytest.mark.skipif(
    versions.IS_PYODIDE, reason="Pyodide's in-memory file system has no name-length limit"
)
def test_name_too_long_is_one_line(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", f"--bytecode-cov-data={'x' * 300}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --bytecode-cov-data=xxx*: cannot use this path (File name too long)"]
    )


def test_write_error_names_the_path_not_the_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(files.WriteError) as info:
        files.write_atomic(tmp_path / "adir", b"x")
    assert str(info.value).startswith(f"cannot write {tmp_path / 'adir'}: ")
    assert os.listdir(tmp_path) == ["adir"]  # no temporary file left behind


# --- 7. devices, FIFOs, symbolic links, and "-" -------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    files.write_atomic(fifo, b"hello")
    reader.join(timeout=30)
    assert got == [b"hello"]
    assert fifo.is_fifo()


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs symlinks")
def test_symlink_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    files.write_atomic(link, b"new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_dev_paths_are_never_replaced() -> None:
    assert files.in_place(Path("/dev/stdout")) == (os.name != "nt")
    assert files.in_place(Path("/proc/self/fd/1")) == (os.name != "nt")


@pytest.mark.subprocess
@pytest.mark.skipif(not os.path.exists("/proc/self/fd/1"), reason="needs /proc (Linux)")
def test_cli_json_to_a_link_to_stdout(tmp_path: Path) -> None:
    # The /dev/stdout idiom: a link to the process's standard output (a pipe here).
    path = tmp_path / "d"
    data.save(dataset(code()), path)
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    cmd = [sys.executable, "-m", "pytest_bytecode", "report", "--data", str(path)]
    out = subprocess.run(
        [*cmd, "--type", f"json:{stdout}"],
        capture_output=True,
        check=True,
    ).stdout
    assert json.loads(out.decode().partition("bytecode coverage report written")[0])["totals"]
    assert stdout.is_symlink()


def test_dash_is_standard_output_and_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "d"
    data.save(dataset(code(count=2)), path)
    assert cli.main(["report", "--data", str(path), "--type", "json:-"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["totals"]["covered_instructions"] == 3
    assert not (tmp_path / "-").exists() and not Path("-").exists()
    assert cli.main(["combine", str(path), str(path), "-o", "-"]) == 0
    combined = capsys.readouterr().out
    assert json.loads(combined)["files"]["pkg/mod.py"]["code_objects"][0]["counts"] == [4] * 3
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(combined.encode())))
    assert cli.main(["report", "--data", "-", "--type", "json:-"]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["instructions"] == 3


def test_pytest_json_report_to_dash(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = pytester.runpytest("--bytecode-cov=pkg", "--bytecode-cov-report=json:-")
    assert result.ret == 0
    assert not (pytester.path / "-").exists()
    result.stdout.fnmatch_lines(['  "totals": {'])


# --- 8. --collect-only ------------------------------------------------------------------


def test_collect_only_writes_and_judges_nothing(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / ".bytecode-cov").write_text("kept")
    result = pytester.runpytest(
        "--bytecode-cov=pkg",
        "--bytecode-cov-fail-under=100",
        "--bytecode-cov-baseline=missing.json",
        "--bytecode-cov-report=json",
        "--collect-only",
    )
    assert result.ret == 0
    assert (pytester.path / ".bytecode-cov").read_text() == "kept"
    assert not (pytester.path / "bytecode-cov.json").exists()
    assert "bytecode coverage" not in result.stdout.str()


# --- 9. a run that measured nothing is no 100 % ---------------------------------------


def test_nothing_measured_warns_and_fails_fail_under(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "empty").mkdir()
    result = pytester.runpytest("--bytecode-cov=empty", "--bytecode-cov-fail-under=10")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*BytecodeCovWarning: bytecode coverage: no instructions were measured*"
            "(no-data-collected)",
            "FAIL Required bytecode instruction coverage of 10.00% not reached: no "
            "instructions were measured (no-data-collected)",
        ],
        consecutive=False,
    )


def test_nothing_measured_fails_the_baseline(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov-baseline=base.json", NO_REPORT]
    assert (
        pytester.runpytest("--bytecode-cov=pkg", *args, "--bytecode-cov-baseline-update").ret == 0
    )
    (pytester.path / "empty").mkdir()
    result = pytester.runpytest("--bytecode-cov=empty", *args)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAIL bytecode coverage baseline *no instructions were measured*"])
    result = pytester.runpytest("--bytecode-cov=empty", *args, "--bytecode-cov-baseline-update")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAIL bytecode coverage baseline *not written: no instructions*"])


def test_cli_fail_under_with_nothing_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data.save(CovData(), tmp_path / "d")
    assert cli.main(["report", "--data", str(tmp_path / "d"), "--fail-under", "0"]) == 1
    captured = capsys.readouterr()
    assert "(no-data-collected)" in captured.err
    assert "no instructions were measured" in captured.out


@pytest.mark.parametrize(
    "form", [["--bytecode-cov", "tests/test_mod.py"], ["--bytecode-cov=tests/test_mod.py"]]
)
def test_test_file_as_source_is_a_usage_error(pytester: pytest.Pytester, form: list[str]) -> None:
    make_project(pytester)
    result = pytester.runpytest(*form)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --bytecode-cov=tests/test_mod.py: tests/test_mod.py is a test module "
            "(it matches python_files 'test_*.py'), and test modules are never measured. "
            "The word after --bytecode-cov is its SOURCE*"
        ]
    )


def test_help_describes_the_space_form(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    assert "The word after --bytecode-cov is taken as its SOURCE" in text
    assert "would take" not in text


# --- 10. the baseline: drops, renames, partial runs ----------------------------------


def _many(n: int, covered: bool, prefix: str = "f") -> CovData:
    codes = [
        bc_helpers.code(f"{prefix}{i}", [int(covered)] * 2, firstlineno=i + 1) for i in range(n)
    ]
    return bc_helpers.dataset(*codes)


def test_baseline_rename_is_listed_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.write_baseline(results.compute(_many(2, True)), path)
    renamed = _many(2, True)
    codes = renamed.files["m.py"].code_objects
    codes[1] = replace(codes[1], qualname="renamed")
    comparison = baseline.compare_baseline(baseline.load_baseline(path), results.compute(renamed))
    failed, lines = baseline.baseline_report(comparison, path)
    assert failed == []
    assert lines[0] == (
        f"bytecode coverage baseline {path}: no function dropped (1 functions in 1 files "
        "compared; covered instructions 4 → 4; 1 removed, 1 new)"
    )
    assert "  removed: f1 (m.py): 2 covered instructions" in lines
    assert "  new: renamed (m.py): 2 covered instructions" in lines


def test_baseline_partial_run_lists_at_most_ten(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    baseline.write_baseline(results.compute(_many(148, True)), path)
    comparison = baseline.compare_baseline(
        baseline.load_baseline(path), results.compute(_many(148, False))
    )
    failed, _ = baseline.baseline_report(comparison, path)
    assert failed[0].startswith(
        f"FAIL bytecode coverage dropped below the baseline {path}: 148 functions cover fewer"
    )
    assert len(failed) == 1 + baseline.SHOWN_CHANGES + 1
    assert failed[-1] == "  ... and 138 more dropped (-v lists all)"
    failed, _ = baseline.baseline_report(comparison, path, verbose=True)
    assert len(failed) == 149


def test_baseline_in_a_run(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    args = ["--bytecode-cov=pkg", "--bytecode-cov-baseline=base.json", NO_REPORT]
    assert pytester.runpytest(*args, "--bytecode-cov-baseline-update").ret == 0
    result = pytester.runpytest(*args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["bytecode coverage baseline *base.json: no function dropped (*compared*"]
    )
    other = pytester.path / "src/pkg/other.py"
    other.write_text(other.read_text().replace("def h", "def renamed_h"))
    result = pytester.runpytest(*args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 removed, 1 new)", "  removed: h (src/pkg/other.py)*"])
