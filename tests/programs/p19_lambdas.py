# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Lambdas: immediate, stored, nested, with defaults, in sort keys."""


def main():
    sq = lambda x: x * x  # noqa: E731
    add = lambda a, b=10: a + b  # noqa: E731
    curry = lambda a: lambda b: lambda c: a + b + c  # noqa: E731
    never = lambda: 1 / 0  # noqa: E731, F841
    words = ["pear", "fig", "banana", "kiwi"]
    words.sort(key=lambda w: (len(w), w))
    cond = lambda x: "even" if x % 2 == 0 else "odd"  # noqa: E731
    return [sq(4), add(1), add(1, 2), curry(1)(2)(3), words, [cond(i) for i in range(3)]]
