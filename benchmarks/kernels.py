"""CPU-bound pure-Python kernels in the style of pyperformance.

Each kernel is deterministic and returns a value so that runs can be checked
against each other.  ``bench_engine.py`` runs them plain and instrumented.
"""

from __future__ import annotations


def fib(n: int) -> int:
    """Recursion."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def sieve(limit: int) -> int:
    """Loops with branches."""
    flags = [True] * (limit + 1)
    count = 0
    for i in range(2, limit + 1):
        if flags[i]:
            count += 1
            for j in range(i * i, limit + 1, i):
                flags[j] = False
    return count


def words(n: int) -> int:
    """String and dict work."""
    counts: dict[str, int] = {}
    text = "the quick brown fox jumps over the lazy dog " * n
    for word in text.split():
        key = word.upper() if len(word) > 3 else word
        counts[key] = counts.get(key, 0) + 1
    return sum(len(k) * v for k, v in counts.items())


def pipeline(n: int) -> int:
    """Generators."""

    def numbers(limit: int):  # type: ignore[no-untyped-def]
        for i in range(limit):  # noqa: UP028 - a generator loop is the point
            yield i

    def evens(source):  # type: ignore[no-untyped-def]
        for x in source:
            if x % 2 == 0:
                yield x * 3

    return sum(evens(numbers(n)))


def exceptions(n: int) -> int:
    """Exceptions raised and caught."""
    total = 0
    data = {i: i for i in range(0, n, 3)}
    for i in range(n):
        try:
            total += data[i]
        except KeyError:
            total -= 1
    return total


def nbody_like(steps: int) -> float:
    """Float arithmetic in nested loops."""
    bodies = [[float(i), float(i * 2), float(i * 3), 0.01 * i] for i in range(5)]
    for _ in range(steps):
        for i, a in enumerate(bodies):
            for b in bodies[i + 1 :]:
                dx = a[0] - b[0]
                dy = a[1] - b[1]
                d2 = dx * dx + dy * dy + 0.01
                a[3] -= dx / d2
                b[3] += dy / d2
    return sum(b[3] for b in bodies)


def run_all(scale: int = 1) -> list[object]:
    """Run every kernel once at the given scale."""
    return [
        fib(22 + scale),
        sieve(150_000 * scale),
        words(20_000 * scale),
        pipeline(300_000 * scale),
        exceptions(150_000 * scale),
        nbody_like(8_000 * scale),
    ]
