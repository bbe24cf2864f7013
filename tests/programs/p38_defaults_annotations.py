# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Default values and annotations evaluated at definition time, function attributes."""

calls = []


def default_factory(x):
    calls.append(x)
    return x


def f(a: int = default_factory(1), *, b: "str" = default_factory("b")) -> list:
    return [a, b]


def g(x, acc=[]):  # noqa: B006
    acc.append(x)
    return list(acc)


def main():
    f.attr = "set"
    out = [f(), f(2, b="c"), g(1), g(2), calls, f.attr, sorted(f.__annotations__)]
    return out
