# needs: threads
# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""The same code run from several threads at once: no count may be lost."""

import threading


def work(n, results, idx):
    s = 0
    for i in range(n):
        if i % 3 == 0:
            s += i
        else:
            s -= 1
    results[idx] = s


def main():
    results = [None] * 4
    threads = [threading.Thread(target=work, args=(10_000, results, k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
