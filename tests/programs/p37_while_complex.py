# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""while True loops with several exits, nested loops and try inside loops."""


def collatz(n):
    steps = 0
    while True:
        if n == 1:
            break
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
        if steps > 1000:
            return -1
    return steps


def retry(fails):
    attempts = 0
    while attempts < 5:
        attempts += 1
        try:
            if attempts <= fails:
                raise ConnectionError(attempts)
        except ConnectionError:
            continue
        else:
            return attempts
    return None


def main():
    return [collatz(n) for n in range(1, 12)], retry(2), retry(7)
