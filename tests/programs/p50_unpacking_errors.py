# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Unpacking: star targets, nested targets, errors from too many/few values."""


def unpack(seq):
    try:
        a, b = seq
        return ("two", a, b)
    except ValueError as e:
        return ("error", str(e).split(" ")[0])


def main():
    out = [unpack([1, 2]), unpack([1]), unpack([1, 2, 3]), unpack("xy")]
    (a, *b), c = [1, 2, 3], 4
    out.append((a, b, c))
    for x, (y, z) in [(1, (2, 3)), (4, (5, 6))]:
        out.append(x + y + z)
    return out
