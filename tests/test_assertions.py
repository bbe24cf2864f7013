"""The bytecode assertion helpers: patterns, match modes, levels, errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

import pytest_bytecode
from pytest_bytecode import (
    ANY,
    BytecodePatternError,
    assert_in_bytecode,
    assert_not_in_bytecode,
    assert_opcodes,
    opcodes,
    versions,
)
from pytest_bytecode.fixtures import Bytecode


def compile_f(source: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<case>", "exec"), namespace)
    return namespace["f"]


ADD = compile_f("def f(a, b):\n    return a + b\n")
LOOP = compile_f("def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n")
NESTED = compile_f("def f():\n    def g():\n        return len\n    return g\n")
ADD_LISTING = ["LOAD_FAST a", "LOAD_FAST b", "BINARY_OP +", "RETURN_VALUE"]


def test_public_names_are_exported() -> None:
    for name in (
        "assert_opcodes",
        "assert_in_bytecode",
        "assert_not_in_bytecode",
        "assert_bytecode_snapshot",
        "opcodes",
        "ANY",
        "BytecodePatternError",
    ):
        assert name in pytest_bytecode.__all__
        assert hasattr(pytest_bytecode, name)


def test_opcodes_returns_pasteable_listing() -> None:
    assert opcodes(ADD) == ADD_LISTING


def test_exact_match() -> None:
    assert_opcodes(ADD, ADD_LISTING)
    with pytest.raises(AssertionError):
        assert_opcodes(ADD, ADD_LISTING[:-1])


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("contains", ["LOAD_FAST b", "BINARY_OP +"]),
        ("startswith", ["LOAD_FAST a", "LOAD_FAST b"]),
        ("subsequence", ["LOAD_FAST a", "RETURN_VALUE"]),
        ("exact", ["LOAD_FAST a", ..., "RETURN_VALUE"]),
        ("exact", [..., "BINARY_OP +", ..., "RETURN_VALUE", ...]),
    ],
)
def test_match_modes_pass(match: Any, expected: list[Any]) -> None:
    assert_opcodes(ADD, expected, match=match)


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("contains", ["LOAD_FAST a", "BINARY_OP +"]),  # not contiguous
        ("startswith", ["LOAD_FAST b"]),
        ("subsequence", ["RETURN_VALUE", "LOAD_FAST a"]),  # wrong order
        ("exact", ["LOAD_FAST a", "LOAD_FAST b"]),
    ],
)
def test_match_modes_fail(match: Any, expected: list[Any]) -> None:
    with pytest.raises(AssertionError):
        assert_opcodes(ADD, expected, match=match)


def test_wildcards_in_opname_and_argument() -> None:
    assert_opcodes(ADD, ["LOAD_*", "LOAD_* b", "BINARY_*", "RETURN_*"])
    assert_opcodes(NESTED, ["LOAD_CONST <code g>"], match="contains")
    mul = compile_f("def f(a, b):\n    return a * b\n")
    assert_opcodes(mul, ["BINARY_OP *"], match="contains")
    with pytest.raises(AssertionError):  # the argument is literal text, never a wildcard
        assert_opcodes(ADD, ["BINARY_OP *"], match="contains")


def test_tuple_pattern_matches_the_argument_value() -> None:
    six = compile_f("def f():\n    return 2 * 3\n")
    assert_opcodes(six, [("LOAD_CONST", 6), "RETURN_VALUE"])
    assert_opcodes(six, ["LOAD_CONST 6", "RETURN_VALUE"])
    assert_opcodes(six, [("LOAD_CONST", "6"), "RETURN_VALUE"])  # a str compares as text
    for wrong in (7, 6.0, True):
        with pytest.raises(AssertionError):
            assert_opcodes(six, [("LOAD_CONST", wrong), "RETURN_VALUE"])
    assert_opcodes(ADD, [("BINARY_OP", "+")], match="contains")


def test_argument_text_matches_argrepr_or_value() -> None:
    s = compile_f("def f():\n    return 'abc'\n")
    assert_opcodes(s, ["LOAD_CONST 'abc'", "RETURN_VALUE"])
    assert_opcodes(s, ["LOAD_CONST abc", "RETURN_VALUE"])


def test_labels_are_transparent_unless_named() -> None:
    listing = opcodes(LOOP)
    assert "L1:" in listing and "FOR_ITER L2" in listing
    without_labels = [entry for entry in listing if not entry.endswith(":")]
    assert_opcodes(LOOP, without_labels)
    assert_opcodes(LOOP, listing)
    with pytest.raises(AssertionError):
        assert_opcodes(LOOP, ["L2:", *without_labels])


def test_recursive_listing_has_code_headers() -> None:
    assert opcodes(NESTED, recursive=True)[-3:] == ["<code g>:", "LOAD_GLOBAL len", "RETURN_VALUE"]
    assert_not_in_bytecode(NESTED, "LOAD_GLOBAL")
    with pytest.raises(AssertionError):
        assert_not_in_bytecode(NESTED, "LOAD_GLOBAL", recursive=True)


def test_assert_in_returns_first_matching_instruction() -> None:
    op = assert_in_bytecode(LOOP, "LOAD_FAST")
    assert (op.opname, op.argrepr, op.argval, op.line) == ("LOAD_FAST", "xs", "xs", 3)
    op = assert_in_bytecode(LOOP, "BINARY_OP", "+=")
    assert op.text == "BINARY_OP +=" and op.line == 4
    assert assert_in_bytecode(LOOP, "LOAD_FAST t").argval == "t"
    with pytest.raises(AssertionError, match="LOAD_GLOBAL not found in bytecode of f"):
        assert_in_bytecode(LOOP, "LOAD_GLOBAL")


def test_assert_not_in() -> None:
    assert_not_in_bytecode(LOOP, "LOAD_GLOBAL")
    assert_not_in_bytecode(LOOP, "LOAD_FAST", "nope")
    assert_not_in_bytecode(LOOP, "LOAD_GLOBAL", ANY)
    with pytest.raises(AssertionError, match=r"LOAD_FAST 'x' found in bytecode of f .*line 4"):
        assert_not_in_bytecode(LOOP, "LOAD_FAST", "x")


@pytest.mark.parametrize("name", ["LOAD_FASTT", "BINARY_PLUS", "load_fast"])
def test_unknown_opname_is_an_error_naming_it(name: str) -> None:
    with pytest.raises(BytecodePatternError, match=f"unknown opname '{name}'"):
        assert_not_in_bytecode(ADD, name)
    with pytest.raises(BytecodePatternError, match=name):
        assert_opcodes(ADD, [name])


def test_wildcard_must_match_a_known_opname() -> None:
    with pytest.raises(BytecodePatternError, match="'NOPE_\\*' matches no opname"):
        assert_not_in_bytecode(ADD, "NOPE_*")


def test_version_specific_opname_at_portable_level_says_what_to_write() -> None:
    with pytest.raises(BytecodePatternError, match=r"BINARY_ADD .* BINARY_OP \+"):
        assert_not_in_bytecode(ADD, "BINARY_ADD")
    with pytest.raises(BytecodePatternError, match="RESUME"):
        assert_opcodes(ADD, ["RESUME", ...])
    # at the raw level every name some supported version knows is accepted
    assert_not_in_bytecode(
        ADD, "BINARY_ADD" if versions.PY >= (3, 11) else "BINARY_OP", level="raw"
    )


def test_raw_level_is_dis_without_caches() -> None:
    raw = opcodes(ADD, "raw")
    assert "CACHE" not in raw
    assert ("RESUME 0" in raw) == versions.HAS_RESUME
    assert raw[-1] == "RETURN_VALUE"


def test_accepts_functions_methods_code_and_code_holders() -> None:
    class C:
        def m(self) -> int:
            return self.x  # type: ignore[attr-defined,no-any-return]

        @staticmethod
        def s() -> None:
            return None

    class Holder:
        __code__ = ADD.__code__

    expected = ["LOAD_FAST self", "LOAD_ATTR x", "RETURN_VALUE"]
    assert opcodes(C.m) == expected
    assert opcodes(C().m) == expected
    assert opcodes(C.__dict__["s"]) == ["LOAD_CONST None", "RETURN_VALUE"]
    assert opcodes(ADD.__code__) == ADD_LISTING
    assert opcodes(Holder()) == ADD_LISTING
    with pytest.raises(TypeError, match="expected a function"):
        opcodes(42)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="match must be one of"):
        assert_opcodes(ADD, ADD_LISTING, match="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be one of"):
        opcodes(ADD, "semi")  # type: ignore[arg-type]
    with pytest.raises(BytecodePatternError, match="not a string"):
        assert_opcodes(ADD, "LOAD_FAST a")
    with pytest.raises(BytecodePatternError, match="not a bytecode pattern"):
        assert_opcodes(ADD, [42])  # type: ignore[list-item]


def test_fixture_exposes_the_helpers(bytecode: Bytecode) -> None:
    assert bytecode.opcodes(ADD) == ADD_LISTING
    bytecode.assert_opcodes(ADD, ["BINARY_OP +"], match="contains")
    assert bytecode.assert_in(ADD, "LOAD_FAST", "b").line == 2
    bytecode.assert_not_in(ADD, "LOAD_GLOBAL", bytecode.ANY)


def test_large_function_is_instant() -> None:
    body = "".join(f"    x{i} = a + {i} if a > {i} else len(b)\n" for i in range(200))
    f = compile_f(f"def f(a, b):\n{body}    return a\n")
    start = time.perf_counter()
    listing = opcodes(f)
    assert_opcodes(f, ["LOAD_GLOBAL len", "LOAD_FAST b"], match="contains")
    assert time.perf_counter() - start < 2.0
    assert len(listing) > 1000
    start = time.perf_counter()
    with pytest.raises(AssertionError, match="does not match"):
        assert_opcodes(f, ["LOAD_GLOBAL len", "LOAD_FAST nope"], match="contains")
    with pytest.raises(AssertionError, match="does not match"):
        assert_opcodes(f, listing[:-1])
    assert time.perf_counter() - start < 5.0
