# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Generators closed, thrown into, and resumed after a caught throw."""


def counter(n):
    try:
        for i in range(n):
            try:
                yield i
            except ValueError as e:
                print("caught", e)
                yield -i
    finally:
        print("counter cleanup")


def main():
    g = counter(5)
    a = [next(g), next(g)]
    a.append(g.throw(ValueError("x")))
    a.append(next(g))
    g.close()
    g2 = counter(3)
    a.append(next(g2))
    try:
        g2.throw(KeyError("k"))
    except KeyError as e:
        a.append(repr(e))
    g3 = counter(2)
    g3.close()  # never started
    a.append(list(counter(3)))
    return a
