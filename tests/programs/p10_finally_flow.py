# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""try/finally with break, continue and return inside loops."""


def f(n):
    out = []
    for i in range(n):
        try:
            if i == 1:
                continue
            if i == 4:
                break
            out.append(i)
        finally:
            out.append(-i)
    else:
        out.append("else")
    return out


def g(n):
    i = 0
    while True:
        try:
            i += 1
            if i > n:
                return i
        finally:
            if i == 2:
                print("finally at 2")


def h():
    try:
        return "try"
    finally:
        print("h finally")


def overriding():
    for _ in range(2):
        try:
            return 1
        finally:
            break  # noqa: B012
    return 2


def main():
    return f(3), f(6), g(3), h(), overriding()
