"""The portable level: one expected listing per case, on CPython 3.10 to 3.15.

Each case is a small function compiled from source, with the single listing
that ``opcodes()`` must return for it on every supported version.  Together
the cases exercise every row of the README's portable mapping table.  Where
the bytecode of a construct genuinely differs between versions, the
"not portable" tests below check what the portable level does promise: no
bookkeeping instructions, and the version-independent parts still match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pytest_bytecode import assert_opcodes, normalize, opcodes


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    expected: list[str]
    recursive: bool = False


def compile_f(source: str) -> Any:
    """The function ``f`` defined by ``source`` (compiled outside pytest's rewriting)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<case>", "exec"), namespace)
    return namespace["f"]


CASES = [
    Case(
        "binary_add",
        "def f(a, b):\n    return a + b\n",
        ["LOAD_FAST a", "LOAD_FAST b", "BINARY_OP +", "RETURN_VALUE"],
    ),
    Case(
        "inplace_add",
        "def f(a, b):\n    a += b\n    return a\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP +=",
            "STORE_FAST a",
            "LOAD_FAST a",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "arithmetic",
        "def f(a, b):\n    return (a - b) * a / b // a % b ** a @ b\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP -",
            "LOAD_FAST a",
            "BINARY_OP *",
            "LOAD_FAST b",
            "BINARY_OP /",
            "LOAD_FAST a",
            "BINARY_OP //",
            "LOAD_FAST b",
            "LOAD_FAST a",
            "BINARY_OP **",
            "BINARY_OP %",
            "LOAD_FAST b",
            "BINARY_OP @",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "bitwise",
        "def f(a, b):\n    return (a & b) | (a ^ b) << 1 >> 2\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP &",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP ^",
            "LOAD_CONST 1",
            "BINARY_OP <<",
            "LOAD_CONST 2",
            "BINARY_OP >>",
            "BINARY_OP |",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "inplace_ops",
        "def f(a, b):\n    a -= b\n    a *= b\n    a //= b\n    a |= b\n    return a\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP -=",
            "STORE_FAST a",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP *=",
            "STORE_FAST a",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP //=",
            "STORE_FAST a",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BINARY_OP |=",
            "STORE_FAST a",
            "LOAD_FAST a",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "unary",
        "def f(a):\n    return -a, ~a, not a, +a\n",
        [
            "LOAD_FAST a",
            "UNARY_NEGATIVE",
            "LOAD_FAST a",
            "UNARY_INVERT",
            "LOAD_FAST a",
            "UNARY_NOT",
            "LOAD_FAST a",
            "CALL_INTRINSIC_1 INTRINSIC_UNARY_POSITIVE",
            "BUILD_TUPLE 4",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "compare",
        "def f(a, b):\n    return a < b, a == b, a >= b, a != b\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "COMPARE_OP <",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "COMPARE_OP ==",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "COMPARE_OP >=",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "COMPARE_OP !=",
            "BUILD_TUPLE 4",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "is_in",
        "def f(a, b):\n    return a is None, a is not b, a in b, a not in b\n",
        [
            "LOAD_FAST a",
            "LOAD_CONST None",
            "IS_OP is",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "IS_OP is not",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "CONTAINS_OP in",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "CONTAINS_OP not in",
            "BUILD_TUPLE 4",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "call_global",
        "def f(x):\n    return len(x)\n",
        ["LOAD_GLOBAL len", "LOAD_FAST x", "CALL 1", "RETURN_VALUE"],
    ),
    Case(
        "call_nested",
        "def f(x):\n    return len(str(x))\n",
        ["LOAD_GLOBAL len", "LOAD_GLOBAL str", "LOAD_FAST x", "CALL 1", "CALL 1", "RETURN_VALUE"],
    ),
    Case(
        "call_method",
        "def f(x):\n    return x.append(1)\n",
        ["LOAD_FAST x", "LOAD_ATTR append", "LOAD_CONST 1", "CALL 1", "RETURN_VALUE"],
    ),
    Case(
        "call_local",
        "def f(g):\n    return g(1, 2)\n",
        ["LOAD_FAST g", "LOAD_CONST 1", "LOAD_CONST 2", "CALL 2", "RETURN_VALUE"],
    ),
    Case(
        "call_keyword",
        "def f(x):\n    return sorted(x, key=len)\n",
        [
            "LOAD_GLOBAL sorted",
            "LOAD_FAST x",
            "LOAD_GLOBAL len",
            "LOAD_CONST ('key',)",
            "CALL_KW 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "call_method_keyword",
        "def f(x):\n    return x.sort(key=len, reverse=True)\n",
        [
            "LOAD_FAST x",
            "LOAD_ATTR sort",
            "LOAD_GLOBAL len",
            "LOAD_CONST True",
            "LOAD_CONST ('key', 'reverse')",
            "CALL_KW 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "call_star",
        "def f(g, args):\n    return g(*args)\n",
        ["LOAD_FAST g", "LOAD_FAST args", "CALL_FUNCTION_EX", "RETURN_VALUE"],
    ),
    Case(
        "call_star_kwargs",
        "def f(g, args, kw):\n    return g(*args, **kw)\n",
        [
            "LOAD_FAST g",
            "LOAD_FAST args",
            "BUILD_MAP 0",
            "LOAD_FAST kw",
            "DICT_MERGE 1",
            "CALL_FUNCTION_EX",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "call_positional_and_star",
        "def f(g, args):\n    return g(1, *args)\n",
        [
            "LOAD_FAST g",
            "LOAD_CONST 1",
            "BUILD_LIST 1",
            "LOAD_FAST args",
            "LIST_EXTEND 1",
            "CALL_INTRINSIC_1 INTRINSIC_LIST_TO_TUPLE",
            "CALL_FUNCTION_EX",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "attributes",
        "def f(o):\n    o.x = o.y\n    return o.a.b\n",
        [
            "LOAD_FAST o",
            "LOAD_ATTR y",
            "LOAD_FAST o",
            "STORE_ATTR x",
            "LOAD_FAST o",
            "LOAD_ATTR a",
            "LOAD_ATTR b",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "globals_and_builtins",
        "G = 1\ndef f():\n    global H\n    H = G + len\n",
        [
            "LOAD_GLOBAL G",
            "LOAD_GLOBAL len",
            "BINARY_OP +",
            "STORE_GLOBAL H",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "constants",
        "def f():\n    return 1, 'a', None, 1.5, -5\n",
        ["LOAD_CONST (1, 'a', None, 1.5, -5)", "RETURN_VALUE"],
    ),
    Case("small_int", "def f():\n    return 5\n", ["LOAD_CONST 5", "RETURN_VALUE"]),
    Case("large_int", "def f():\n    return 12345678\n", ["LOAD_CONST 12345678", "RETURN_VALUE"]),
    Case(
        "none_return",
        "def f(x):\n    x.y = 1\n",
        ["LOAD_CONST 1", "LOAD_FAST x", "STORE_ATTR y", "LOAD_CONST None", "RETURN_VALUE"],
    ),
    Case("empty_function", "def f():\n    pass\n", ["LOAD_CONST None", "RETURN_VALUE"]),
    Case("return_string", "def f():\n    return 'abc'\n", ["LOAD_CONST 'abc'", "RETURN_VALUE"]),
    Case("constant_folding", "def f():\n    return 2 * 3 + 4\n", ["LOAD_CONST 10", "RETURN_VALUE"]),
    Case(
        "true_false",
        "def f(x):\n    x.a = True\n    x.b = False\n",
        [
            "LOAD_CONST True",
            "LOAD_FAST x",
            "STORE_ATTR a",
            "LOAD_CONST False",
            "LOAD_FAST x",
            "STORE_ATTR b",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "if_else",
        "def f(a):\n    if a:\n        return 1\n    else:\n        return 2\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_CONST 1",
            "RETURN_VALUE",
            "L1:",
            "LOAD_CONST 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "if_else_common_tail",
        "def f(a, b):\n    if a > b:\n        x = a\n    else:\n        x = b\n    return x\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST b",
            "COMPARE_OP >",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_FAST a",
            "STORE_FAST x",
            "LOAD_FAST x",
            "RETURN_VALUE",
            "L1:",
            "LOAD_FAST b",
            "STORE_FAST x",
            "LOAD_FAST x",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "conditional_expression",
        "def f(a, b):\n    return a if a else b\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_FAST a",
            "RETURN_VALUE",
            "L1:",
            "LOAD_FAST b",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "if_and",
        "def f(a, b):\n    if a and b:\n        return 1\n    return 0\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_FAST b",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_CONST 1",
            "RETURN_VALUE",
            "L1:",
            "LOAD_CONST 0",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "is_none_jump",
        "def f(a):\n    if a is None:\n        return 1\n    return 2\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_NOT_NONE L1",
            "LOAD_CONST 1",
            "RETURN_VALUE",
            "L1:",
            "LOAD_CONST 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "is_not_none_jump",
        "def f(a):\n    if a is not None:\n        return 1\n    return 2\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_NONE L1",
            "LOAD_CONST 1",
            "RETURN_VALUE",
            "L1:",
            "LOAD_CONST 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "for_loop",
        "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n",
        [
            "LOAD_CONST 0",
            "STORE_FAST t",
            "LOAD_FAST xs",
            "GET_ITER",
            "L1:",
            "FOR_ITER L2",
            "STORE_FAST x",
            "LOAD_FAST t",
            "LOAD_FAST x",
            "BINARY_OP +=",
            "STORE_FAST t",
            "JUMP_BACKWARD L1",
            "L2:",
            "LOAD_FAST t",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "boolean_and",
        "def f(a, b):\n    return a and b\n",
        [
            "LOAD_FAST a",
            "COPY 1",
            "POP_JUMP_IF_FALSE L1",
            "POP_TOP",
            "LOAD_FAST b",
            "L1:",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "boolean_or",
        "def f(a, b, c):\n    return a or b or c\n",
        [
            "LOAD_FAST a",
            "COPY 1",
            "POP_JUMP_IF_TRUE L1",
            "POP_TOP",
            "LOAD_FAST b",
            "COPY 1",
            "POP_JUMP_IF_TRUE L1",
            "POP_TOP",
            "LOAD_FAST c",
            "L1:",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "closure",
        "def f():\n    x = 1\n    def g():\n        return x\n    return g\n",
        [
            "LOAD_CONST 1",
            "STORE_DEREF x",
            "LOAD_CLOSURE x",
            "BUILD_TUPLE 1",
            "LOAD_CONST <code g>",
            "MAKE_FUNCTION",
            "SET_FUNCTION_ATTRIBUTE closure",
            "STORE_FAST g",
            "LOAD_FAST g",
            "RETURN_VALUE",
            "<code g>:",
            "LOAD_DEREF x",
            "RETURN_VALUE",
        ],
        recursive=True,
    ),
    Case(
        "closure_over_argument",
        "def f(x):\n    def g():\n        return x + 1\n    return g\n",
        [
            "LOAD_CLOSURE x",
            "BUILD_TUPLE 1",
            "LOAD_CONST <code g>",
            "MAKE_FUNCTION",
            "SET_FUNCTION_ATTRIBUTE closure",
            "STORE_FAST g",
            "LOAD_FAST g",
            "RETURN_VALUE",
            "<code g>:",
            "LOAD_DEREF x",
            "LOAD_CONST 1",
            "BINARY_OP +",
            "RETURN_VALUE",
        ],
        recursive=True,
    ),
    Case(
        "nested_defaults",
        "def f():\n    def g(a=1, *, b=2):\n        return a\n    return g\n",
        [
            "LOAD_CONST (1,)",
            "LOAD_CONST 'b'",
            "LOAD_CONST 2",
            "BUILD_MAP 1",
            "LOAD_CONST <code g>",
            "MAKE_FUNCTION",
            "SET_FUNCTION_ATTRIBUTE kwdefaults",
            "SET_FUNCTION_ATTRIBUTE defaults",
            "STORE_FAST g",
            "LOAD_FAST g",
            "RETURN_VALUE",
            "<code g>:",
            "LOAD_FAST a",
            "RETURN_VALUE",
        ],
        recursive=True,
    ),
    Case(
        "lambda",
        "def f():\n    return lambda x: x + 1\n",
        [
            "LOAD_CONST <code <lambda>>",
            "MAKE_FUNCTION",
            "RETURN_VALUE",
            "<code <lambda>>:",
            "LOAD_FAST x",
            "LOAD_CONST 1",
            "BINARY_OP +",
            "RETURN_VALUE",
        ],
        recursive=True,
    ),
    Case(
        "fstring",
        "def f(x, y):\n    return f'a{x}b{y!r}c{x:>10}'\n",
        [
            "LOAD_CONST 'a'",
            "LOAD_FAST x",
            "FORMAT_SIMPLE",
            "LOAD_CONST 'b'",
            "LOAD_FAST y",
            "CONVERT_VALUE repr",
            "FORMAT_SIMPLE",
            "LOAD_CONST 'c'",
            "LOAD_FAST x",
            "LOAD_CONST '>10'",
            "FORMAT_WITH_SPEC",
            "BUILD_STRING 6",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "fstring_convert_and_spec",
        "def f(x):\n    return f'{x!r:>10}'\n",
        [
            "LOAD_FAST x",
            "CONVERT_VALUE repr",
            "LOAD_CONST '>10'",
            "FORMAT_WITH_SPEC",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "subscript",
        "def f(a, i):\n    return a[i]\n",
        ["LOAD_FAST a", "LOAD_FAST i", "BINARY_OP []", "RETURN_VALUE"],
    ),
    Case(
        "subscript_store_delete",
        "def f(a, i, v):\n    a[i] = v\n    del a[i]\n",
        [
            "LOAD_FAST v",
            "LOAD_FAST a",
            "LOAD_FAST i",
            "STORE_SUBSCR",
            "LOAD_FAST a",
            "LOAD_FAST i",
            "DELETE_SUBSCR",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "subscript_inplace",
        "def f(a, i):\n    a[i] += 1\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST i",
            "COPY 2",
            "COPY 2",
            "BINARY_OP []",
            "LOAD_CONST 1",
            "BINARY_OP +=",
            "SWAP 3",
            "SWAP 2",
            "STORE_SUBSCR",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "slice",
        "def f(a, i, j):\n    return a[i:j]\n",
        ["LOAD_FAST a", "LOAD_FAST i", "LOAD_FAST j", "BINARY_SLICE", "RETURN_VALUE"],
    ),
    Case(
        "constant_slice",
        "def f(a):\n    return a[1:2]\n",
        ["LOAD_FAST a", "LOAD_CONST 1", "LOAD_CONST 2", "BINARY_SLICE", "RETURN_VALUE"],
    ),
    Case(
        "slice_store",
        "def f(a, i, j, v):\n    a[i:j] = v\n",
        [
            "LOAD_FAST v",
            "LOAD_FAST a",
            "LOAD_FAST i",
            "LOAD_FAST j",
            "STORE_SLICE",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "slice_with_step",
        "def f(a, i, j, k):\n    return a[i:j:k]\n",
        [
            "LOAD_FAST a",
            "LOAD_FAST i",
            "LOAD_FAST j",
            "LOAD_FAST k",
            "BUILD_SLICE 3",
            "BINARY_OP []",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "unpack",
        "def f(t):\n    a, b = t\n    return a\n",
        [
            "LOAD_FAST t",
            "UNPACK_SEQUENCE 2",
            "STORE_FAST a",
            "STORE_FAST b",
            "LOAD_FAST a",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "swap",
        "def f(a, b):\n    a, b = b, a\n    return a, b\n",
        [
            "LOAD_FAST b",
            "LOAD_FAST a",
            "STORE_FAST b",
            "STORE_FAST a",
            "LOAD_FAST a",
            "LOAD_FAST b",
            "BUILD_TUPLE 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "walrus",
        "def f(xs):\n    if (n := len(xs)) > 3:\n        return n\n",
        [
            "LOAD_GLOBAL len",
            "LOAD_FAST xs",
            "CALL 1",
            "COPY 1",
            "STORE_FAST n",
            "LOAD_CONST 3",
            "COMPARE_OP >",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_FAST n",
            "RETURN_VALUE",
            "L1:",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "imports",
        "def f():\n    import os\n    from os import path\n"
        "    import os.path as p\n    return os, path, p\n",
        [
            "LOAD_CONST 0",
            "LOAD_CONST None",
            "IMPORT_NAME os",
            "STORE_FAST os",
            "LOAD_CONST 0",
            "LOAD_CONST ('path',)",
            "IMPORT_NAME os",
            "IMPORT_FROM path",
            "STORE_FAST path",
            "POP_TOP",
            "LOAD_CONST 0",
            "LOAD_CONST None",
            "IMPORT_NAME os.path",
            "IMPORT_FROM path",
            "STORE_FAST p",
            "POP_TOP",
            "LOAD_FAST os",
            "LOAD_FAST path",
            "LOAD_FAST p",
            "BUILD_TUPLE 3",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "generator",
        "def f(xs):\n    for x in xs:\n        yield x\n",
        [
            "LOAD_FAST xs",
            "GET_ITER",
            "L1:",
            "FOR_ITER L2",
            "STORE_FAST x",
            "LOAD_FAST x",
            "YIELD_VALUE",
            "POP_TOP",
            "JUMP_BACKWARD L1",
            "L2:",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "generator_send",
        "def f():\n    x = yield 1\n    return x\n",
        ["LOAD_CONST 1", "YIELD_VALUE", "STORE_FAST x", "LOAD_FAST x", "RETURN_VALUE"],
    ),
    Case(
        "displays",
        "def f(a):\n    return [a, 1], (a, 1), {a, 1}, {'k': a, 'l': 2}\n",
        [
            "LOAD_FAST a",
            "LOAD_CONST 1",
            "BUILD_LIST 2",
            "LOAD_FAST a",
            "LOAD_CONST 1",
            "BUILD_TUPLE 2",
            "LOAD_FAST a",
            "LOAD_CONST 1",
            "BUILD_SET 2",
            "LOAD_CONST 'k'",
            "LOAD_FAST a",
            "LOAD_CONST 'l'",
            "LOAD_CONST 2",
            "BUILD_MAP 2",
            "BUILD_TUPLE 4",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "membership_constants",
        "def f(a):\n    return a in ('x', 'y'), a in {'x', 'y'}\n",
        [
            "LOAD_FAST a",
            "LOAD_CONST ('x', 'y')",
            "CONTAINS_OP in",
            "LOAD_FAST a",
            "LOAD_CONST frozenset({'x', 'y'})",
            "CONTAINS_OP in",
            "BUILD_TUPLE 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "assert_without_message",
        "def f(a):\n    assert a\n",
        [
            "LOAD_FAST a",
            "POP_JUMP_IF_TRUE L1",
            "LOAD_COMMON_CONSTANT AssertionError",
            "RAISE_VARARGS 1",
            "L1:",
            "LOAD_CONST None",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "raise",
        "def f(a):\n    raise ValueError(a)\n",
        ["LOAD_GLOBAL ValueError", "LOAD_FAST a", "CALL 1", "RAISE_VARARGS 1"],
    ),
    Case(
        "delete_local",
        "def f(a):\n    del a\n",
        ["DELETE_FAST a", "LOAD_CONST None", "RETURN_VALUE"],
    ),
    Case(
        "constant_slice_with_step",
        "def f(a):\n    return a[1:2:3]\n",
        [
            "LOAD_FAST a",
            "LOAD_CONST 1",
            "LOAD_CONST 2",
            "LOAD_CONST 3",
            "BUILD_SLICE 3",
            "BINARY_OP []",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "constant_slice_open",
        "def f(a):\n    return a[:2], a[1:]\n",
        [
            "LOAD_FAST a",
            "LOAD_CONST None",
            "LOAD_CONST 2",
            "BINARY_SLICE",
            "LOAD_FAST a",
            "LOAD_CONST 1",
            "LOAD_CONST None",
            "BINARY_SLICE",
            "BUILD_TUPLE 2",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "maybe_unbound",
        "def f(c):\n    if c:\n        x = 1\n    return x\n",
        [
            "LOAD_FAST c",
            "POP_JUMP_IF_FALSE L1",
            "LOAD_CONST 1",
            "STORE_FAST x",
            "L1:",
            "LOAD_FAST x",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "fstring_conversions",
        "def f(x):\n    return f'{x!s}{x!a}{x}'\n",
        [
            "LOAD_FAST x",
            "CONVERT_VALUE str",
            "FORMAT_SIMPLE",
            "LOAD_FAST x",
            "CONVERT_VALUE ascii",
            "FORMAT_SIMPLE",
            "LOAD_FAST x",
            "FORMAT_SIMPLE",
            "BUILD_STRING 3",
            "RETURN_VALUE",
        ],
    ),
    Case(
        "nested_closure_chain",
        "def f(x):\n    def g():\n        def h():\n"
        "            return x\n        return h\n    return g\n",
        [
            "LOAD_CLOSURE x",
            "BUILD_TUPLE 1",
            "LOAD_CONST <code g>",
            "MAKE_FUNCTION",
            "SET_FUNCTION_ATTRIBUTE closure",
            "STORE_FAST g",
            "LOAD_FAST g",
            "RETURN_VALUE",
            "<code g>:",
            "LOAD_CLOSURE x",
            "BUILD_TUPLE 1",
            "LOAD_CONST <code h>",
            "MAKE_FUNCTION",
            "SET_FUNCTION_ATTRIBUTE closure",
            "STORE_FAST h",
            "LOAD_FAST h",
            "RETURN_VALUE",
            "<code h>:",
            "LOAD_DEREF x",
            "RETURN_VALUE",
        ],
        recursive=True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_portable_listing_is_the_same_on_every_version(case: Case) -> None:
    f = compile_f(case.source)
    assert opcodes(f, recursive=case.recursive) == case.expected
    assert_opcodes(f, case.expected, recursive=case.recursive)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_portable_listing_uses_only_portable_opnames(case: Case) -> None:
    f = compile_f(case.source)
    for op in normalize.listing(f, "portable", recursive=case.recursive):
        assert op.is_marker or op.opname in normalize.PORTABLE_OPNAMES, op.text


@dataclass(frozen=True)
class NotPortable:
    id: str
    source: str
    fragment: list[str]
    why: str


#: Constructs whose bytecode differs between versions (README: "not portable").
#: The fragment is what does read the same everywhere, as a subsequence.
NOT_PORTABLE = [
    NotPortable(
        "while_loop",
        "def f(n):\n    while n:\n        n -= 1\n    return n\n",
        ["LOAD_FAST n", "POP_JUMP_IF_FALSE", "LOAD_FAST n", "BINARY_OP -=", "STORE_FAST n"],
        "3.10-3.13 repeat the loop test at the bottom; 3.14+ jump back to it",
    ),
    NotPortable(
        "break",
        "def f(xs):\n    for x in xs:\n        if x:\n            break\n    return 0\n",
        ["GET_ITER", "FOR_ITER", "STORE_FAST x", "LOAD_FAST x", "POP_JUMP_IF_*"],
        "block layout and jump senses differ",
    ),
    NotPortable(
        "try_except",
        "def f(g):\n    try:\n        x = g()\n    except ValueError:\n        x = None\n"
        "    return x\n",
        ["LOAD_FAST g", "CALL 0", "STORE_FAST x", "LOAD_GLOBAL ValueError", "POP_EXCEPT"],
        "3.10 has SETUP_FINALLY/POP_BLOCK; 3.11+ an exception table",
    ),
    NotPortable(
        "with",
        "def f(p):\n    with open(p) as fh:\n        return fh.read()\n",
        ["LOAD_GLOBAL open", "LOAD_FAST p", "CALL 1", "STORE_FAST fh", "LOAD_ATTR read", "CALL 0"],
        "SETUP_WITH, BEFORE_WITH, LOAD_SPECIAL",
    ),
    NotPortable(
        "list_comprehension",
        "def f(xs):\n    return [x * 2 for x in xs]\n",
        ["LOAD_FAST xs", "FOR_ITER", "LOAD_CONST 2", "BINARY_OP *", "LIST_APPEND"],
        "3.12+ inline comprehensions (PEP 709)",
    ),
    NotPortable(
        "generator_expression",
        "def f(xs):\n    return sum(x for x in xs)\n",
        ["LOAD_GLOBAL sum", "LOAD_FAST xs", "CALL", "CALL 1", "FOR_ITER", "YIELD_VALUE"],
        "3.15 moved GET_ITER into the generator",
    ),
    NotPortable(
        "chained_comparison",
        "def f(a, b, c):\n    return a < b < c\n",
        ["LOAD_FAST a", "LOAD_FAST b", "COMPARE_OP <", "LOAD_FAST c", "COMPARE_OP <"],
        "stack shuffles differ",
    ),
    NotPortable(
        "assert_with_message",
        "def f(a):\n    assert a, 'msg'\n",
        ["LOAD_COMMON_CONSTANT AssertionError", "LOAD_CONST 'msg'", "CALL", "RAISE_VARARGS 1"],
        "3.10 calls with 1 argument, 3.11+ with 0",
    ),
    NotPortable(
        "zero_argument_super",
        "class C:\n    def f(self):\n        return super().m()\nf = C.f\n",
        ["LOAD_GLOBAL super", "LOAD_*ATTR m", "CALL 0", "RETURN_VALUE"],
        "3.12+ LOAD_SUPER_ATTR",
    ),
]


@pytest.mark.parametrize("case", NOT_PORTABLE, ids=[c.id for c in NOT_PORTABLE])
def test_not_portable_constructs_still_drop_bookkeeping(case: NotPortable) -> None:
    f = compile_f(case.source)
    listing = normalize.listing(f, "portable", recursive=True)
    shown = {op.opname for op in listing if not op.is_marker}
    assert not shown & set(normalize.NOT_PORTABLE), sorted(shown & set(normalize.NOT_PORTABLE))
    assert_opcodes(f, case.fragment, match="subsequence", recursive=True)
