"""Bytecode snapshots: files beside the test, keyed by Python minor version."""

from __future__ import annotations

import contextvars
from pathlib import Path

import pytest

from pytest_bytecode import assert_bytecode_snapshot, testcontext, versions
from pytest_bytecode.files import write_atomic

TAG = versions.PY_TAG

USER = """
from pytest_bytecode import assert_bytecode_snapshot

def add(a, b):
    return a {op} b

def test_add():
    assert_bytecode_snapshot(add)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", *args)


def snapshot(pytester: pytest.Pytester, name: str = "test_add") -> Path:
    return pytester.path / "__bytecode_snapshots__" / "test_user" / f"{name}.py{TAG}.txt"


def test_missing_snapshot_fails_and_names_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER.format(op="+"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   AssertionError: bytecode snapshot of add: no snapshot file "
            f"__bytecode_snapshots__/test_user/test_add.py{TAG}.txt",
            "E     run pytest with --bytecode-snapshot-update to create it; the listing is:",
            "E       LOAD_FAST a",
        ]
    )
    assert not snapshot(pytester).exists()


def test_update_writes_then_compares(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER.format(op="+"))
    result = run(pytester, "--bytecode-snapshot-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*bytecode snapshots written: 1*", f"*test_add.py{TAG}.txt"])
    text = snapshot(pytester).read_text()
    assert text.splitlines()[2:] == ["LOAD_FAST a", "LOAD_FAST b", "BINARY_OP +", "RETURN_VALUE"]
    assert text.startswith("# pytest-bytecode snapshot of add in test_user.py::test_add\n")
    assert [p.name for p in snapshot(pytester).parent.iterdir()] == [f"test_add.py{TAG}.txt"]
    run(pytester).assert_outcomes(passed=1)


def test_changed_bytecode_fails_with_a_diff(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER.format(op="+"))
    run(pytester, "--bytecode-snapshot-update").assert_outcomes(passed=1)
    pytester.makepyfile(test_user=USER.format(op="-"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   AssertionError: bytecode snapshot of add differs from "
            f"__bytecode_snapshots__/test_user/test_add.py{TAG}.txt",
            "E     run pytest with --bytecode-snapshot-update to accept the new bytecode",
            "E     --- snapshot",
            f"E     +++ actual (CPython {TAG})",
            "E      LOAD_FAST b",
            "E     -BINARY_OP +",
            "E     +BINARY_OP -",
        ]
    )
    run(pytester, "--bytecode-snapshot-update").assert_outcomes(passed=1)
    assert "BINARY_OP -" in snapshot(pytester).read_text()
    run(pytester).assert_outcomes(passed=1)


def test_several_snapshots_per_test_and_the_fixture_form(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest

        def f(x):
            return x

        class TestGroup:
            @pytest.mark.parametrize("n", [1])
            def test_many(self, bytecode, n):
                bytecode.assert_snapshot(f)
                bytecode.assert_snapshot(f)
                bytecode.assert_snapshot(f, name="raw", level="raw")
        """
    )
    run(pytester, "--bytecode-snapshot-update").assert_outcomes(passed=1)
    folder = pytester.path / "__bytecode_snapshots__" / "test_user"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"TestGroup.test_many[1]-2.py{TAG}.txt",
        f"TestGroup.test_many[1]-raw.py{TAG}.txt",
        f"TestGroup.test_many[1].py{TAG}.txt",
    ]
    run(pytester).assert_outcomes(passed=1)


def test_ini_key_turns_update_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecode_snapshot_update = true\n")
    pytester.makepyfile(test_user=USER.format(op="+"))
    run(pytester).assert_outcomes(passed=1)
    assert snapshot(pytester).exists()


def test_outside_a_test_is_a_clear_error() -> None:
    def f() -> None:
        pass

    with pytest.raises(RuntimeError, match="needs a running pytest test"):
        contextvars.Context().run(assert_bytecode_snapshot, f)


def test_write_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    write_atomic(target, b"one\n")
    write_atomic(target, b"two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


# --- The running test: hook wrappers, no autouse fixture -------------------------------


def test_a_users_fixture_named_bytecode_does_not_break_snapshots(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def bytecode():
            return "the project's own"
        """
    )
    pytester.makepyfile(
        test_user=USER.format(op="+")
        + '\ndef test_own(bytecode):\n    assert bytecode == "the project\'s own"\n'
    )
    run(pytester, "--bytecode-snapshot-update").assert_outcomes(passed=2)
    assert snapshot(pytester).is_file()
    run(pytester).assert_outcomes(passed=2)


def test_the_bytecode_fixture_is_not_autouse(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def test_plain(request):
            assert "bytecode" not in request.fixturenames

        def test_asks(bytecode):
            assert bytecode.opcodes(lambda: None)[-1] == "RETURN_VALUE"
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_snapshot_in_fixture_setup_and_teardown_belongs_to_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_user="""
        import pytest
        from pytest_bytecode import assert_bytecode_snapshot

        def add(a, b):
            return a + b

        @pytest.fixture
        def checked():
            assert_bytecode_snapshot(add, name="setup")
            yield
            assert_bytecode_snapshot(add, name="teardown")

        def test_add(checked):
            assert_bytecode_snapshot(add)
        """
    )
    run(pytester, "--bytecode-snapshot-update").assert_outcomes(passed=1)
    folder = pytester.path / "__bytecode_snapshots__" / "test_user"
    assert sorted(p.name for p in folder.iterdir()) == [
        f"test_add-setup.py{TAG}.txt",
        f"test_add-teardown.py{TAG}.txt",
        f"test_add.py{TAG}.txt",
    ]
    run(pytester).assert_outcomes(passed=1)


def test_the_context_ends_with_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        from pytest_bytecode import testcontext

        def test_inside():
            ctx = testcontext.current()
            assert ctx is not None and ctx.name == "test_inside" and ctx.verbosity == 1

        def test_after():
            assert testcontext.current().name == "test_after"
        """
    )
    run(pytester, "-v").assert_outcomes(passed=2)
    outer = testcontext.current()  # this test's, restored after the inner run's
    assert outer is not None and outer.name == "test_the_context_ends_with_the_test"
