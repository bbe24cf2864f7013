# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Exceptions propagating out of functions through several frames."""


class Boom(Exception):
    pass


def level3(n):
    if n % 3 == 0:
        raise Boom(n)
    return n


def level2(n):
    r = level3(n)
    return r + 1


def level1(n):
    try:
        return level2(n) * 2
    finally:
        print("level1 finally", n)


def main():
    results = []
    for n in range(5):
        try:
            results.append(level1(n))
        except Boom as e:
            results.append(("boom", e.args))
    level1(7)
    level1(9)  # propagates out of main
