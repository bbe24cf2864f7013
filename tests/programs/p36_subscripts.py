# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Slices, augmented assignment on subscripts and attributes, multiple targets."""


class A:
    x = 0


def main():
    lst = list(range(10))
    lst[2:4] = ["a", "b", "c"]
    lst[::3] = [0] * len(lst[::3])
    lst[-1] += 100
    d = {"n": 1}
    d["n"] *= 5
    d.setdefault("m", []).append(1)
    a = A()
    a.x += 3
    a.x **= 2
    p = q = r = [1]
    p += [2]
    s = "abcdef"
    (x, y), z = (s[1:3], s[::-1]), s[-2:]
    m = [[0] * 3 for _ in range(3)]
    m[1][2] |= 6
    m[2][0] ^= 1
    return lst, d, a.x, q, r, x, y, z, m
