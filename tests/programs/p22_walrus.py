# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Assignment expressions in conditions, comprehensions and while loops."""


def main():
    data = [3, 8, 1, 9, 4]
    out = []
    if (n := len(data)) > 3:
        out.append(n)
    it = iter(data)
    while (v := next(it, None)) is not None:
        if v > 5:
            out.append(v)
    squares = [y for x in data if (y := x * x) > 10]
    out.append(squares)
    out.append(y)  # leaks from the comprehension  # noqa: F821
    total = 0
    out.append([total := total + x for x in data])
    return out
