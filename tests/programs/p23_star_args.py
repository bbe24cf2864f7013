# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Calls with *args and **kwargs, keyword-only and positional-only parameters."""


def f(a, b=2, /, c=3, *args, d, e=5, **kwargs):
    return (a, b, c, args, d, e, sorted(kwargs.items()))


def main():
    args = (1, 2, 3, 4)
    kwargs = {"d": 9, "z": 0}
    out = [
        f(1, d=4),
        f(*args, **kwargs),
        f(1, 2, 3, *[7, 8], d=1, **{"e": 6, "q": 1}),
        f(*(x for x in range(2)), d=0),
    ]
    try:
        f(1)
    except TypeError as e:
        out.append(type(e).__name__)
    try:
        f(1, d=1, **{"d": 2})
    except TypeError as e:
        out.append(type(e).__name__)
    first, *middle, last = range(6)
    out.append((first, middle, last))
    out.append([*range(2), *"ab", *{1: 2}])
    out.append({**{"a": 1}, "b": 2, **{"a": 3}})
    return out
