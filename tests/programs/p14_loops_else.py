# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""for/while loops with else clauses and break."""


def find(seq, target):
    for i, v in enumerate(seq):
        if v == target:
            break
    else:
        return -1
    return i


def countdown(n):
    steps = 0
    while n > 0:
        n -= 1
        steps += 1
        if n == 5:
            break
    else:
        steps += 100
    return steps


def nested():
    out = []
    for i in range(4):
        for j in range(4):
            if j > i:
                break
            if (i + j) % 2:
                continue
            out.append((i, j))
        else:
            out.append("inner-else")
    return out


def main():
    return [find([1, 2, 3], 2), find([1, 2], 9), find([], 1), countdown(3), countdown(9), nested()]
