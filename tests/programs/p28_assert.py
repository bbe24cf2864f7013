# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""assert statements that pass, fail, and fail with a message."""


def check(x):
    assert x >= 0
    assert x < 10, f"too big: {x}"
    return x * 2


def main():
    out = []
    for x in (1, -1, 12, 5):
        try:
            out.append(check(x))
        except AssertionError as e:
            out.append(("assert", e.args))
    return out
