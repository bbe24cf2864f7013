"""What a user sees when a bytecode assertion fails (run in-process with pytester)."""

from __future__ import annotations

import pytest

FAILING = """
from pytest_bytecode import assert_opcodes, assert_in_bytecode, assert_not_in_bytecode

def add(a, b):
    return a + b

def loop(xs):
    total = 0
    for x in xs:
        total += len(x)
    return total

def test_exact():
    assert_opcodes(add, ["LOAD_FAST a", "LOAD_FAST b", "BINARY_OP -", "RETURN_VALUE"])

def test_not_in():
    assert_not_in_bytecode(loop, "LOAD_GLOBAL", "len")

def test_in():
    assert_in_bytecode(add, "CALL")

def test_typo():
    assert_not_in_bytecode(add, "LOAD_GLOBALS")
"""


def test_exact_mismatch_shows_aligned_listings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", "-k", "exact")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   AssertionError: bytecode of add (test_user.py:3) does not match",
            "E     match='exact', level='portable', CPython 3.*",
            "E       expected     | line  actual",
            "E       LOAD_FAST a  |    4  LOAD_FAST a",
            "E       LOAD_FAST b  |    4  LOAD_FAST b",
            "E     > BINARY_OP -  |    4  BINARY_OP +",
            "E       RETURN_VALUE |    4  RETURN_VALUE",
            "E   (run pytest with -v to see the raw disassembly)",
        ]
    )
    # the helpers hide themselves: the traceback ends in the user's test
    assert "pytest_bytecode/assertions.py" not in result.stdout.str()
    assert "raw disassembly (dis):" not in result.stdout.str()


def test_verbose_adds_raw_disassembly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FAILING)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--tb=short", "-v", "-k", "exact"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E   raw disassembly (dis):", "E     add:", "E       *RETURN_VALUE*"]
    )


def test_not_in_marks_offending_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", "-k", "not_in")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   AssertionError: LOAD_GLOBAL 'len' found in bytecode of loop "
            "(test_user.py:6) (line 9)",
            "E       line  instruction",
            "E          7  LOAD_CONST 0",
            "E     >    9  LOAD_GLOBAL len",
        ]
    )


def test_in_failure_lists_the_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", "-k", "test_in")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   AssertionError: CALL not found in bytecode of add (test_user.py:3)",
            "E          4  RETURN_VALUE",
        ]
    )


def test_unknown_opname_is_one_clear_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=FAILING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", "-k", "typo")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   pytest_bytecode.assertions.BytecodePatternError: "
            "unknown opname 'LOAD_GLOBALS': no CPython 3.10-3.15 has it"
        ]
    )


def test_subsequence_failure_shows_what_is_missing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        from pytest_bytecode import assert_opcodes

        def add(a, b):
            return a + b

        def test_it():
            assert_opcodes(add, ["LOAD_FAST a", "LOAD_GLOBAL b"], match="subsequence")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       expected      | line  actual",
            "E       LOAD_FAST a   |    4  LOAD_FAST a",
            "E     > LOAD_GLOBAL b |",
            "E       ...           |    4  LOAD_FAST b",
            "E                     |    4  BINARY_OP +",
        ]
    )


def test_fixture_method_failure_reads_the_same(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        def add(a, b):
            return a + b

        def test_it(bytecode):
            bytecode.assert_opcodes(add, ["BINARY_OP -"], match="contains")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   AssertionError: bytecode of add (*) does not match"])
    assert "pytest_bytecode/fixtures.py" not in result.stdout.str()
