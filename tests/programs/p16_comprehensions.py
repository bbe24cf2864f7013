# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Comprehensions of every kind, nested, with conditions, generator expressions."""


def main():
    data = range(10)
    lst = [x * 2 for x in data if x % 3]
    st = {x % 4 for x in data}
    dct = {x: x * x for x in data if x > 5}
    gen = sum(x for x in data if x & 1)
    nested = [[y for y in range(x)] for x in range(4)]
    flat = [y for x in range(4) for y in range(x) if y != 1]
    matrix = {i: {j: i * j for j in range(3)} for i in range(3)}
    lazy = (x for x in data)
    first = [next(lazy), next(lazy)]
    del lazy
    inner_closure = [(lambda: x)() for x in range(3)]
    try:
        _ = [1 // (x - 3) for x in data]
    except ZeroDivisionError:
        first.append("zde in comprehension")
    return lst, sorted(st), dct, gen, nested, flat, matrix, first, inner_closure
