# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Recursion: direct, mutual, and a deep recursion unwound by an exception.

Running into the recursion limit itself is tested without the oracle
(``test_recursion_limit_reached_at_same_depth``): a Python-level trace or
monitoring callback needs a frame of its own at the deepest point, so the
oracle would change where the program stops.
"""

import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


class Done(Exception):
    pass


def down(n):
    if n == 0:
        raise Done("bottom")
    try:
        return down(n - 1)
    finally:
        if n % 25 == 0:
            print("unwinding", n)


def main():
    out = [fib(12), is_even(31), is_odd(31)]
    try:
        down(min(150, sys.getrecursionlimit() // 4))
    except Done as e:
        out.append(str(e))
    return out
