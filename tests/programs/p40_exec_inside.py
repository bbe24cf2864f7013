# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Code that runs exec/eval of strings (code outside the tree) and builtins calling back in."""


def key(x):
    return -x


def main():
    ns = {}
    exec("def h(x):\n    return x + 1\n", ns)
    out = [ns["h"](1), eval("1 + 2"), sorted([3, 1, 2], key=key)]
    out.append(list(map(lambda v: v * 2, range(3))))
    out.append(list(filter(None, [0, 1, 2])))
    return out
