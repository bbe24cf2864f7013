"""Recursion: direct, mutual, deep, and unwinding through a RecursionError."""

import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def forever(n):
    return forever(n + 1)


def main():
    out = [fib(12), is_even(31), is_odd(31)]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        forever(0)
    except RecursionError:
        out.append("recursion error")
    finally:
        sys.setrecursionlimit(old)
    return out
