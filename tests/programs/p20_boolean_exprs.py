# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Conditional expressions, chained comparisons, and/or chains, not."""


def check(a, b, c):
    r = []
    r.append(a < b < c)
    r.append(a < b > c != a)
    r.append(a and b or c)
    r.append(a or b and c)
    r.append(not a and not b)
    r.append((a if b else c) if a else (b if c else a))
    r.append(0 <= a <= 10 and (b or c) and not (a == b == c))
    if a and (b or c) and (a < c or b > c):
        r.append("if-chain")
    elif not a or not b:
        r.append("elif")
    else:
        r.append("else")
    while a and b > 0:
        b -= 1
    r.append(b)
    return r


def main():
    return [check(a, b, c) for a in (0, 1, 5) for b in (0, 2) for c in (0, 3)]
