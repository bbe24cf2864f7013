# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""An exception escaping main() through several frames, raised mid-expression."""


def compute(values):
    return sum(v * 2 for v in values) + values[0] / (values[1] - values[1])


def wrapper(values):
    return [compute(values)]


def main():
    print("before")
    return wrapper([1, 2, 3])
