# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Operator overloading, rich comparisons, __getattr__, __iter__, __len__, __bool__."""


class Vec:
    def __init__(self, *xs):
        self.xs = list(xs)

    def __add__(self, other):
        return Vec(*(a + b for a, b in zip(self.xs, other.xs)))

    def __mul__(self, k):
        return Vec(*(a * k for a in self.xs))

    __rmul__ = __mul__

    def __eq__(self, other):
        return isinstance(other, Vec) and self.xs == other.xs

    def __lt__(self, other):
        return sum(self.xs) < sum(other.xs)

    def __len__(self):
        return len(self.xs)

    def __bool__(self):
        return any(self.xs)

    def __iter__(self):
        yield from self.xs

    def __getitem__(self, i):
        return self.xs[i]

    def __getattr__(self, name):
        if name == "first":
            return self.xs[0]
        raise AttributeError(name)

    def __repr__(self):
        return f"Vec{tuple(self.xs)}"


def main():
    a, b = Vec(1, 2), Vec(3, 4)
    out = [
        a + b,
        a * 2,
        3 * b,
        a == Vec(1, 2),
        a < b,
        len(a),
        bool(Vec(0, 0)),
        list(b),
        b[1],
        a.first,
        sorted([b, a]),
    ]
    try:
        a.missing  # noqa: B018
    except AttributeError as e:
        out.append(str(e))
    return out
