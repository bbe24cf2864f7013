# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""An exception raised in the middle of a basic block: the rest of it never runs."""


def divide(a, b):
    x = a + 1
    y = x // b
    z = y * 2
    return z


def main():
    out = []
    for b in (1, 0, 2, 0):
        try:
            out.append(divide(10, b))
        except ZeroDivisionError as e:
            out.append(str(e))
    d = {"a": 1}
    try:
        v = d["a"] + d["missing"] + d["a"]
        out.append(v)
    except KeyError as e:
        out.append(repr(e))
    return out
