# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Chains of generators and generator expressions, partially consumed."""

import itertools


def numbers():
    n = 0
    while True:
        yield n
        n += 1


def evens(src):
    for x in src:
        if x % 2 == 0:
            yield x


def take(n, src):
    for i, x in enumerate(src):
        if i >= n:
            return
        yield x


def main():
    out = list(take(5, evens(numbers())))
    squares = (x * x for x in take(4, numbers()))
    out.append(sum(squares))
    out.append(list(itertools.islice(evens(numbers()), 3)))
    out.append(next(x for x in numbers() if x > 5))
    return out
